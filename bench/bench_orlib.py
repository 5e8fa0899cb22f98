"""Benchmark: OR-Library capacitated facility location and p-median through netopt's own path.

Each instance is imported (`netopt import orlib-cap|orlib-pmed`), loaded, prepared, built and
solved by `netopt.results.pipeline.solve_case`, exactly as `netopt solve` does, with one time
limit per instance. One line per instance: status, objective, bound, gap, seconds (import to
results), the method that ran and the published optimum where ../shared/benchmarks has one.
Optima not published there must be proven by the solver (status optimal, gap <= --gap).

    python bench/bench_orlib.py                       # issue #14 target 3: capa/b/c + pmed1-40
    python bench/bench_orlib.py --only capa:8000 pmed40 --log
    python bench/bench_orlib.py --method milp --only capa:8000 --time-limit 60
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

from netopt.data.case import load_case
from netopt.data.importers import (
    CAPA_CAPACITY,
    PUBLISHED_CAP,
    PUBLISHED_PMED,
    import_orlib_cap,
    import_orlib_pmed,
)
from netopt.results.pipeline import Infeasible, solve_case

REPO = Path(__file__).resolve().parents[1]

#: issue #14 target 3: the capacities each large instance is solved at
CAPACITIES = {
    "capa": (8000, 10000, 12000, 14000),
    "capb": (5000, 6000, 7000, 8000),
    "capc": (5000, 5750, 6500, 7250),
}


@dataclass
class Row:
    instance: str
    capacity: float | None
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    method: str
    published: float | None


def benchmarks_dir() -> Path:
    """NETOPT_BENCHMARKS, else ../shared/benchmarks next to the repository."""
    env = os.environ.get("NETOPT_BENCHMARKS")
    return Path(env) if env else REPO.parent / "shared" / "benchmarks"


def default_instances() -> list[str]:
    cap = [f"{name}:{c}" for name, caps in CAPACITIES.items() for c in caps]
    return cap + [f"pmed{k}" for k in range(1, 41)]


def published(name: str, capacity: float | None) -> float | None:
    if name.startswith("pmed"):
        return PUBLISHED_PMED.get(name)
    if name == "capa" and capacity != CAPA_CAPACITY:
        return None
    return PUBLISHED_CAP.get(name)


def run(spec: str, args: argparse.Namespace) -> Row:
    """Import -> load -> solve_case (prepare, build, solve, extract), timed as a whole."""
    name, _, cap_text = spec.partition(":")
    capacity = float(cap_text) if cap_text else None
    folder = "orlib-pmed" if name.startswith("pmed") else "orlib-cap"
    file = benchmarks_dir() / folder / f"{name}.txt"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="netopt-orlib-") as tmp:
        if name.startswith("pmed"):
            model_file = import_orlib_pmed(file, Path(tmp))
        else:
            model_file = import_orlib_cap(file, Path(tmp), capacity=capacity)
        case = load_case(model_file)
    case.config.solver = case.config.solver.model_copy(update={
        "time_limit": args.time_limit, "threads": args.threads, "seed": args.seed,
        "mip_gap": args.gap, "method": args.method})
    try:
        res = solve_case(case, tee=args.log)
    except Infeasible:
        return Row(name, capacity, "no_solution", None, None, None,
                   time.perf_counter() - started, args.method, published(name, capacity))
    s = res.summary
    return Row(name, capacity, s["status"], s["objective"], s["bound"], s["gap"],
               time.perf_counter() - started, s.get("method", "milp"),
               published(name, capacity))


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def line(r: Row) -> str:
    cap = "-" if r.capacity is None else f"{r.capacity:g}"
    return (f"{r.instance:7s} {cap:>6s} {r.status:10s} {_fmt(r.objective, '16.3f')} "
            f"{_fmt(r.bound, '16.3f')} {_fmt(r.gap, '9.1e')} {r.seconds:7.1f} "
            f"{r.method:10s} {_fmt(r.published, '14.3f')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None,
                    help="instances as name[:capacity] (default: all of target 3)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=1e-6, help="relative gap to prove")
    ap.add_argument("--method", choices=("auto", "milp", "facility"), default="auto",
                    help="solver.method (auto picks the facility decomposition when it "
                    "applies)")
    ap.add_argument("--log", action="store_true", help="show the solver logs")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.log else logging.WARNING)
    if not benchmarks_dir().exists():
        print(f"benchmarks not found: {benchmarks_dir()} (set NETOPT_BENCHMARKS)",
              file=sys.stderr)
        return 2
    print(f"{'instance':7s} {'cap':>6s} {'status':10s} {'objective':>16s} {'bound':>16s} "
          f"{'gap':>9s} {'seconds':>7s} {'method':10s} {'published':>14s}", flush=True)
    rows = []
    for spec in args.only or default_instances():
        rows.append(run(spec, args))
        print(line(rows[-1]), flush=True)
    met = sum(r.status == "optimal" and (r.gap or 0) <= args.gap
              and r.seconds <= args.time_limit for r in rows)
    print(f"{met}/{len(rows)} optimal at gap <= {args.gap:g} within {args.time_limit:g} s")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
