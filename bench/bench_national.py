"""National benchmark: netopt end to end vs raw HiGHS on the same MILP, and build scaling.

Run from the repository root:  python bench/bench_national.py [--time-limit 60]

Prints, in one run:
1. prepare/build seconds and model size at several sizes (how the build grows);
2. netopt end to end on models/us-launch.yaml (load, prepare, build, solve incl. its MIP
   start, extract): objective, bound, gap, seconds;
3. the same MILP exported once to MPS and solved cold by highspy with the same limit, seed
   and threads: what netopt's modelling (relax-and-fix start) adds over raw HiGHS, and the
   ratio of total times.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import highspy

from netopt.data.case import load_case
from netopt.model.build import MONEY, build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver.highs import model_size

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "models" / "us-launch.yaml"
SMALL = ROOT / "models" / "us-small.yaml"


def build_scaling() -> None:
    print("== build time by size ==")
    print(f"{'case':34s} {'points':>7s} {'pairs':>7s} {'vars':>7s} {'rows':>7s} "
          f"{'prepare s':>9s} {'build s':>8s}")
    sizes = [
        ("us-small", SMALL, {}),
        ("national, 80 km / 25 % cells", NATIONAL, {"cluster_km": 80.0,
                                                    "cluster_share_of_reach": 0.25}),
        ("national default (model file)", NATIONAL, {}),
        ("national, no aggregation", NATIONAL, {"cluster_km": 0.0,
                                                "cluster_share_of_reach": 0.0}),
    ]
    for label, model, agg in sizes:
        case = load_case(model)
        for key, value in agg.items():
            setattr(case.config.aggregation, key, value)
        t0 = time.perf_counter()
        prep = prepare(case)
        t1 = time.perf_counter()
        m = build_model(prep)
        t2 = time.perf_counter()
        n_var, _, n_con = model_size(m)
        print(f"{label:34s} {len(prep.points):7d} {len(prep.pairs):7d} {n_var:7d} {n_con:7d} "
              f"{t1 - t0:9.1f} {t2 - t1:8.1f}")


def netopt_end_to_end(limit: float) -> tuple[float, dict]:
    t0 = time.perf_counter()
    case = load_case(NATIONAL)
    result = solve_case(case, time_limit=limit)
    total = time.perf_counter() - t0
    s = result.summary
    print("== netopt end to end (us-launch) ==")
    print(f"objective ${s['objective']:,.0f}  bound ${s['bound']:,.0f}  gap {s['gap']:.2%}  "
          f"status {s['status']}")
    print(f"build {s['build_seconds']:.1f}s  solve {s['solve_seconds']:.1f}s  total {total:.1f}s "
          f"(load + prepare + build + solve + extract)")
    return total, s


def direct_highs(limit: float, threads: int, seed: int) -> tuple[float, float | None,
                                                                float | None]:
    """The identical MILP, exported once (not timed), solved cold by highspy."""
    case = load_case(NATIONAL)
    m = build_model(prepare(case))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "national.mps"
        m.write(str(path), io_options={"symbolic_solver_labels": False})
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        for key, value in (("time_limit", limit), ("threads", threads), ("random_seed", seed),
                           ("mip_rel_gap", case.config.solver.mip_gap)):
            h.setOptionValue(key, value)
        t0 = time.perf_counter()
        h.readModel(str(path))
        h.run()
        total = time.perf_counter() - t0
    info = h.getInfo()
    obj = info.objective_function_value if info.primal_solution_status == 2 else None
    bound = info.mip_dual_bound
    print("== raw HiGHS on the same MILP (cold, MPS) ==")
    gap = abs(obj - bound) / abs(obj) if obj else None
    shown = f"${obj * MONEY:,.0f}" if obj else "none"
    print(f"objective {shown}  bound ${bound * MONEY:,.0f}  "
          f"gap {gap:.2%}" if gap is not None else f"objective {shown}  no incumbent")
    print(f"read + solve {total:.1f}s")
    return total, obj, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    if not args.skip_scaling:
        build_scaling()
    case = load_case(NATIONAL)
    ours, summary = netopt_end_to_end(args.time_limit)
    theirs, _, _ = direct_highs(args.time_limit, case.config.solver.threads,
                                case.config.solver.seed)
    print(f"== ratio netopt total / raw HiGHS total: {ours / theirs:.2f} ==")


if __name__ == "__main__":
    main()
