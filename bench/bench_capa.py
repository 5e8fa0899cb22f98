"""Benchmark: netopt end to end vs. a direct highspy model of the same OR-Library instance.

Both sides run in one process, one after the other, with the same time limit, threads, seed
and gaps, so the printed ratio netopt_total / direct_total is what the modelling layer costs
(import, validation, prepare, Pyomo build and hand-over, extraction) plus any difference
in how HiGHS fares on the two formulations.

    python bench/bench_capa.py                          # capa, every capacity 8000
    python bench/bench_capa.py --instance cap41 --time-limit 60

Measured here (2 cores, other jobs running): on capa HiGHS's search depends on the seed.
netopt reaches the published optimum 19,240,822.449 with --seed 1 within 300 s, while
seed 0 stays at 19,261,874.6 (+0.11 %) for 1,500 s; the direct model finds it with seed 0
within 600 s. Both sides have the same root LP bound.

Formulation of the direct model (the published one): y_i binary, x_ij in [0, 1] the share
of customer j served by i; min sum f_i y_i + sum c_ij x_ij; sum_i x_ij = 1;
sum_j d_j x_ij <= s_i y_i; x_ij <= y_i. netopt's model of the imported instance is the same
in patients (x = d_j x_ij) plus its offer binaries w <= y, which change nothing here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import highspy
import numpy as np

from netopt.data.case import load_case
from netopt.data.importers import CAPA_CAPACITY, PUBLISHED_CAP, import_orlib_cap, parse_orlib_cap
from netopt.model.build import build_model
from netopt.model.common import MONEY
from netopt.model.prepare import prepare
from netopt.results.tables import extract
from netopt.solver.highs import solve_model

REPO = Path(__file__).resolve().parents[1]
#: netopt counts money in k$; HiGHS's default absolute gap (1e-6) there is 1e-3 USD
ABS_GAP_USD = 1e-6 * MONEY


@dataclass
class Side:
    """What one side of the comparison produced."""

    name: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def benchmarks_dir() -> Path:
    """NETOPT_BENCHMARKS, else ../shared/benchmarks next to the repository."""
    env = os.environ.get("NETOPT_BENCHMARKS")
    return Path(env) if env else REPO.parent / "shared" / "benchmarks"


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None:
        return None
    return abs(obj - bound) / max(abs(obj), 1e-9)


def run_netopt(file: Path, capacity: float | None, args: argparse.Namespace) -> Side:
    """Import -> load/validate -> prepare -> build -> solve -> extract, each stage timed."""
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="netopt-bench-") as tmp:
        t = time.perf_counter()
        model_file = import_orlib_cap(file, Path(tmp), capacity=capacity)
        seconds["import"] = time.perf_counter() - t
        t = time.perf_counter()
        case = load_case(model_file)
        seconds["load"] = time.perf_counter() - t
    solver = case.config.solver.model_copy(update={
        "time_limit": args.time_limit, "threads": args.threads, "seed": args.seed,
        "mip_gap": args.gap, "strong_linking": {"true": True, "false": False,
                                                "auto": None}[args.strong_linking]})
    case.config.solver = solver
    t = time.perf_counter()
    prep = prepare(case)
    seconds["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    m = build_model(prep)
    seconds["build"] = time.perf_counter() - t
    t = time.perf_counter()
    info = solve_model(m, solver, tee=args.log)
    seconds["solve"] = time.perf_counter() - t
    obj = bound = None
    if info.has_solution:
        t = time.perf_counter()
        res = extract(m, info)
        seconds["extract"] = time.perf_counter() - t
        obj = res.summary["objective"]
    if info.bound is not None:
        bound = info.bound * MONEY
    print(f"netopt model: {info.n_variables:,} variables ({info.n_binaries:,} binary), "
          f"{info.n_constraints:,} constraints", flush=True)
    return Side("netopt", info.status, obj, bound, _gap(obj, bound), seconds)


def direct_lp(caps: np.ndarray, fixed: np.ndarray, demand: np.ndarray,
              cost: np.ndarray) -> highspy.HighsLp:
    """The published formulation as a row-wise HighsLp. Columns: y_i (i < m), then x_ij at
    m + i*n + j. Rows: n assignment rows, m capacity rows, m*n linking rows."""
    m, n = cost.shape
    x0 = m
    xi = x0 + np.arange(m * n).reshape(m, n)  # column of x_ij
    # assignment row j: x_0j .. x_(m-1)j
    a_idx = xi.T.ravel()
    a_val = np.ones(m * n)
    a_start = np.arange(n) * m
    # capacity row i: -s_i y_i + sum_j d_j x_ij
    c_idx = np.column_stack([np.arange(m), xi]).ravel()
    c_val = np.column_stack([-caps, np.tile(demand, (m, 1))]).ravel()
    c_start = a_idx.size + np.arange(m) * (n + 1)
    # linking row (i, j): x_ij - y_i
    l_idx = np.column_stack([xi.ravel(), np.repeat(np.arange(m), n)]).ravel()
    l_val = np.tile([1.0, -1.0], m * n)
    l_start = a_idx.size + c_idx.size + np.arange(m * n) * 2

    lp = highspy.HighsLp()
    lp.num_col_ = m + m * n
    lp.num_row_ = n + m + m * n
    lp.col_cost_ = np.concatenate([fixed, cost.ravel()])
    lp.col_lower_ = np.zeros(lp.num_col_)
    lp.col_upper_ = np.ones(lp.num_col_)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(m + m * n, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(m + m * n)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    lp.a_matrix_.start_ = np.concatenate([a_start, c_start, l_start,
                                          [a_idx.size + c_idx.size + l_idx.size]]).astype(
        np.int32)
    lp.a_matrix_.index_ = np.concatenate([a_idx, c_idx, l_idx]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([a_val, c_val, l_val])
    lp.integrality_ = ([highspy.HighsVarType.kInteger] * m
                       + [highspy.HighsVarType.kContinuous] * (m * n))
    return lp


def run_direct(file: Path, capacity: float | None, args: argparse.Namespace) -> Side:
    """Parse -> numpy matrices -> HighsLp -> HiGHS, each stage timed."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    caps, fixed, demand, cost = parse_orlib_cap(file, capacity)
    seconds["parse"] = time.perf_counter() - t
    t = time.perf_counter()
    lp = direct_lp(caps, fixed, demand, cost)
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(args.log))
    h.setOptionValue("time_limit", float(args.time_limit))
    h.setOptionValue("threads", int(args.threads))
    h.setOptionValue("random_seed", int(args.seed))
    h.setOptionValue("mip_rel_gap", float(args.gap))
    h.setOptionValue("mip_abs_gap", ABS_GAP_USD)
    h.passModel(lp)
    seconds["build"] = time.perf_counter() - t
    t = time.perf_counter()
    h.run()
    seconds["solve"] = time.perf_counter() - t
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    has = info.primal_solution_status == highspy.kSolutionStatusFeasible
    obj = float(info.objective_function_value) if has else None
    bound = float(info.mip_dual_bound)
    bound = bound if np.isfinite(bound) else None
    return Side("direct", status, obj, bound, _gap(obj, bound), seconds)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def report(sides: list[Side], published: float | None) -> None:
    print()
    print(f"{'side':8s} {'status':28s} {'objective':>16s} {'bound':>16s} {'gap':>9s} "
          f"{'seconds':>9s}  stages")
    for s in sides:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in s.seconds.items())
        print(f"{s.name:8s} {s.status:28s} {_fmt(s.objective, '16.3f')} "
              f"{_fmt(s.bound, '16.3f')} {_fmt(s.gap, '9.2e')} {s.total:9.2f}  {stages}")
    if published is not None:
        for s in sides:
            if s.objective is not None:
                err = abs(s.objective - published) / published
                print(f"{s.name}: objective vs published {published:,.3f}: rel. error {err:.2e}")
    if len(sides) == 2:
        a, b = sides
        print(f"ratio netopt_total / direct_total = {a.total / b.total:.3f}")
        print(f"ratio netopt_solve / direct_solve = "
              f"{a.seconds['solve'] / b.seconds['solve']:.3f}")
        overhead = a.total - a.seconds["solve"]
        print(f"netopt time outside solve_model: {overhead:.2f} s; direct outside run(): "
              f"{b.total - b.seconds['solve']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instance", default="capa", help="OR-Library cap file stem (capa, cap41, "
                    "...)")
    ap.add_argument("--capacity", type=float, default=None,
                    help=f"every facility's capacity (default {CAPA_CAPACITY:g} for "
                    "capa/capb/capc, the file's capacities otherwise)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per side")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=1e-9, help="relative MIP gap")
    ap.add_argument("--strong-linking", choices=("true", "false", "auto"), default="true",
                    help="netopt's x <= patients x w rows (the direct model always has x <= y)")
    ap.add_argument("--only", choices=("both", "netopt", "direct"), default="both")
    ap.add_argument("--log", action="store_true", help="show the HiGHS logs")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    file = benchmarks_dir() / "orlib-cap" / f"{args.instance}.txt"
    if not file.exists():
        print(f"benchmark file not found: {file} (set NETOPT_BENCHMARKS)", file=sys.stderr)
        return 2
    capacity = args.capacity
    if capacity is None and args.instance in ("capa", "capb", "capc"):
        capacity = CAPA_CAPACITY
    published = PUBLISHED_CAP.get(args.instance)
    if args.instance == "capa" and capacity != CAPA_CAPACITY:
        published = None
    if args.capacity is not None and args.instance != "capa":
        published = None
    print(f"instance {args.instance} ({file}), capacity "
          f"{'from file' if capacity is None else format(capacity, 'g')}, time limit "
          f"{args.time_limit:g}s per side, threads {args.threads}, seed {args.seed}, "
          f"gap {args.gap:g}, highspy {highspy.Highs().version()}", flush=True)
    sides = []
    if args.only in ("both", "netopt"):
        sides.append(run_netopt(file, capacity, args))
        print(f"netopt done in {sides[-1].total:.1f}s", flush=True)
    if args.only in ("both", "direct"):
        sides.append(run_direct(file, capacity, args))
        print(f"direct done in {sides[-1].total:.1f}s", flush=True)
    report(sides, published)
    if args.json:
        args.json.write_text(json.dumps({
            "instance": args.instance, "capacity": capacity, "time_limit": args.time_limit,
            "threads": args.threads, "seed": args.seed, "published": published,
            "sides": [{**asdict(s), "total": s.total} for s in sides]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
