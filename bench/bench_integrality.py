"""Where the national per-site model's integrality gap lives (models/us-launch-per-site.yaml):
the linked LP bound with one group of decisions held at a solved network's values, the rest
of the model free and continuous.

Run from the repository root:

    python bench/bench_integrality.py --seconds 900 --gap 0.0005   # a 15-minute network
    python bench/bench_integrality.py --seconds 60 --partial z --partial-seconds 90

A group whose values lift the LP most is the one whose fractional values the LP exploits: a
tighter formulation or better cuts pay there first, and a bound proven in a minute needs it.
`--partial GROUPS` also solves the MILP with only those groups integral (every other decision
in [0, 1]): a relaxation, so its bound is valid for the model; its growth over time shows
whether branching on those decisions alone would close the gap within the limit.

Groups (model/sites.py, ordering.py): y site active, w product offered, o area onboarded,
e temperature class equipped, g hub active, a partner active, z ordering option and volume
segment.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import highspy
import pyomo.environ as pyo

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.arrays import highs_from_arrays, model_arrays
from netopt.solver.highs import _Highs, separate_linking
from netopt.solver.network_start import hold, release

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "models" / "us-launch-per-site.yaml"
GROUPS = ("z", "w", "o", "g", "y", "a", "e", "y+w+o+e", "g+a")


def held_lp(solver: _Highs, m: pyo.ConcreteModel, settings, network: dict,  # noqa: ANN001
            group: str) -> float | None:
    """The linked LP with `group`'s decisions ('+'-joined names) held at the network's."""
    names = set(group.split("+"))
    held = hold(m, {k: v for k, v in network.items() if k in names})
    try:
        return separate_linking(solver, m, settings, False, 600)
    finally:
        release(held)
        # HiGHS takes bounds from Pyomo at its next run: push them now, or a model read
        # from HiGHS before that run (partial_bound) would still hold this group
        solver.update_variables([v for v, _, _ in held])


def partial_bound(solver: _Highs, m: pyo.ConcreteModel, integral: set[str],
                  seconds: float, seed: int) -> tuple[float, str]:
    """HiGHS on one thread on the model it holds, only `integral`'s binaries kept integer."""
    arrays = model_arrays(solver._solver_model)
    columns = solver._pyomo_var_to_solver_var_map
    kinds = arrays["integrality"].copy()
    for var in m.component_objects(pyo.Var, active=True):
        for v in var.values():
            j = columns.get(id(v))
            if j is None:
                continue
            lower = v.lb if v.lb is not None else -highspy.kHighsInf
            upper = v.ub if v.ub is not None else highspy.kHighsInf
            if v.fixed:
                lower = upper = v.value
            if (arrays["col_lower"][j], arrays["col_upper"][j]) != (lower, upper):
                raise RuntimeError(f"{v.name}: HiGHS holds other bounds than the model's")
            if var.local_name not in integral:
                kinds[j] = 0
    arrays["integrality"] = kinds
    highspy.Highs.resetGlobalScheduler(True)  # one thread here, two in the solve before
    h = highs_from_arrays(arrays)
    for option, value in (("threads", 1), ("time_limit", seconds), ("random_seed", seed),
                          ("mip_rel_gap", 1e-4)):
        h.setOptionValue(option, value)
    h.run()
    return h.getInfo().mip_dual_bound, h.modelStatusToString(h.getModelStatus())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=NATIONAL)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="time limit of the solve whose network is held")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gap", type=float, default=None, help="the solve's gap (the model's)")
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--partial", default="", help="groups kept integral, e.g. z")
    parser.add_argument("--partial-seconds", type=float, default=90.0)
    args = parser.parse_args()

    case = load_case(args.model)
    started = time.perf_counter()
    solved = solve_case(case, time_limit=args.seconds, seed=args.seed, gap=args.gap)
    info = solved.info
    print(f"network: {args.model.name}, {args.seconds:g} s, seed {args.seed}: "
          f"${info.objective * 1e3:,.0f}, bound ${info.bound * 1e3:,.0f} "
          f"({time.perf_counter() - started:.0f} s)")

    m = build_model(prepare(case))
    solver = _Highs()
    solver.set_instance(m)
    settings = case.config.solver
    lp = separate_linking(solver, m, settings, False, 600)
    print(f"{'held':10s} {'binaries':>8s} {'linked LP':>14s} {'lift':>12s} {'share of gap':>12s}")
    print(f"{'none':10s} {0:8d} {lp * 1e3:14,.0f}")
    gap = info.objective - lp
    for group in args.groups.split(","):
        names = set(group.split("+"))
        count = sum(len(solved.network.get(k, {})) for k in names)
        value = held_lp(solver, m, settings, solved.network, group)
        if value is None:
            print(f"{group:10s} {count:8d} {'(LP stopped)':>14s}")
            continue
        print(f"{group:10s} {count:8d} {value * 1e3:14,.0f} {(value - lp) * 1e3:12,.0f} "
              f"{(value - lp) / gap:12.0%}")
    if args.partial:
        integral = set(args.partial.split(","))
        began = time.perf_counter()
        bound, status = partial_bound(solver, m, integral, args.partial_seconds, args.seed)
        print(f"only {'+'.join(sorted(integral))} integral: bound ${bound * 1e3:,.0f} "
              f"({status}, {time.perf_counter() - began:.0f} s, one thread)")


if __name__ == "__main__":
    main()
