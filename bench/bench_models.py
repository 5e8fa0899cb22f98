"""Benchmark: every shipped model file loads, validates and solves, one line each.

The test suite validates every file under models/ (tests/test_model_files.py) but solves
only the small ones; the national files take a minute or more each. This script solves each
through netopt's own path (load -> prepare -> build -> solve -> results, as `netopt solve`
without writing files), at its own time limit or at `--time-limit` where that is shorter,
and prints status, network cost, bound, gap, seconds and the facilities it activates
(`stocking`: the cold-storage partners holding pooled depot stock).

    python bench/bench_models.py --time-limit 60          # every model, at most 60 s each
    python bench/bench_models.py --only us-launch baseline jit-only

us-fine (1.6M columns: its Pyomo hand-over alone takes over a minute) is skipped unless
named with --only; bench/bench_fine.py measures it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from netopt.data.case import load_case
from netopt.data.problems import InputError
from netopt.results.pipeline import Infeasible, NoNetworkInTime, NothingToTreat, solve_case

REPO = Path(__file__).resolve().parents[1]
MODELS = sorted((REPO / "models").rglob("*.yaml"))
#: solved only when named: a solve of minutes that bench_fine.py measures
SKIPPED = {"us-fine"}


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def solve_one(path: Path, cap: float | None) -> tuple[str, bool]:
    """One model file solved: its line of the table, and whether it has a network."""
    started = time.perf_counter()
    name = path.stem
    try:
        case = load_case(path, strict=True)
    except InputError as err:  # a shipped model must validate: say which problem
        return f"{name:22s} invalid: {err.problems[0]}", False
    limit = case.config.solver.time_limit
    if cap is not None and cap < limit:
        limit = cap
        case.config.solver = case.config.solver.model_copy(update={"time_limit": cap})
    try:
        res = solve_case(case)
    except NoNetworkInTime as err:  # before Infeasible, which it extends
        return f"{name:22s} no network in {limit:g} s: {err}", False
    except (Infeasible, NothingToTreat) as err:
        return f"{name:22s} infeasible: {err}", False
    s = res.summary
    gap = "-" if s.get("gap") is None else f"{s['gap']:.2%}"
    partners = res.tables.get("partners")
    stocking = ("-" if partners is None or "depot_stock_usd_per_year" not in partners
                else str(int((partners["depot_stock_usd_per_year"].fillna(0) > 0).sum())))
    return (f"{name:22s} {s['status']:11s} {_money(s.get('objective')):>16s} "
            f"{_money(s.get('bound')):>16s} {gap:>7s} {limit:6.0f} "
            f"{s.get('solve_seconds', 0.0):7.1f} {time.perf_counter() - started:7.1f} "
            f"{s.get('sites_active', '-')!s:>5s} {s.get('hubs_active', '-')!s:>4s} "
            f"{s.get('partners_active', '-')!s:>8s} {stocking:>8s}  {s.get('method', 'milp')}",
            True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None,
                    help="model names (file stems), e.g. us-launch baseline")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="at most this many seconds per model (default: each model's own)")
    args = ap.parse_args(argv)
    chosen = ([p for p in MODELS if p.stem in set(args.only)] if args.only
              else [p for p in MODELS if p.stem not in SKIPPED])
    unknown = set(args.only or ()) - {p.stem for p in MODELS}
    if unknown:
        print(f"no such model under models/: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    print(f"{'model':22s} {'status':11s} {'network':>16s} {'bound':>16s} {'gap':>7s} "
          f"{'limit':>6s} {'solve s':>7s} {'wall s':>7s} {'sites':>5s} {'hubs':>4s} "
          f"{'partners':>8s} {'stocking':>8s}  method", flush=True)
    solved = 0
    for path in chosen:
        text, has_network = solve_one(path, args.time_limit)
        solved += has_network
        print(text, flush=True)
    print(f"{solved}/{len(chosen)} models solved with a network"
          + (f" (skipped: {', '.join(sorted(SKIPPED))})" if not args.only else ""))
    return 0 if solved == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
