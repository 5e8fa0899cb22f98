"""Benchmark: a scenario sweep solved cold and from the baseline's network (MIP start).

Both sweeps run serially in this process on the same grid; the table gives each scenario's
solve seconds both ways, the start it got and whether the two objectives differ by more than
the runs' gaps (they should not: the start changes the path, not the optimum).

    python bench/bench_baseline_start.py                       # us-small, demand +-20 %
    python bench/bench_baseline_start.py --model models/us-launch.yaml --time-limit 120

Measured on the shared 2-core machine (us-small, default gap 0.5 %): the four non-baseline
scenarios took 97.9 s cold and 100.9 s from the baseline (0.97x), every pair of objectives
within the runs' gaps. us-small's solve time goes into proving the bound, not finding a
network, so a start buys nothing there; the start is for time-limited national batches,
where HiGHS's first incumbent is the weak point.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from netopt.analysis.scenarios import sweep, within_solver_gap

ROOT = Path(__file__).resolve().parents[1]
GRID = {"demand_scale": [1.0, 0.8, 0.9, 1.1, 1.2]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "us-small.yaml"))
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args()
    walls, rows = {}, {}
    for label, warm in (("cold", False), ("baseline", True)):
        started = time.perf_counter()
        rows[label] = sweep(args.model, GRID, workers=1, time_limit=args.time_limit,
                            baseline_start=warm).rows
        walls[label] = time.perf_counter() - started
    cold, warm = rows["cold"], rows["baseline"]
    print(f"{'scenario':<18} {'cold s':>8} {'warm s':>8} {'start':<14} {'cold obj':>14} "
          f"{'warm obj':>14}  same within gaps")
    for (_, c), (_, w) in zip(cold.iterrows(), warm.iterrows(), strict=True):
        same = within_solver_gap(w["objective_usd"], w["gap"], c["objective_usd"], c["gap"])
        print(f"{c['scenario']:<18} {c['solve_seconds']:8.1f} {w['solve_seconds']:8.1f} "
              f"{w['start']:<14} {c['objective_usd']:14,.0f} {w['objective_usd']:14,.0f}  {same}")
    others = slice(1, None)  # the baseline itself is solved cold both times
    c_sum, w_sum = cold["solve_seconds"][others].sum(), warm["solve_seconds"][others].sum()
    print(f"solve seconds of the non-baseline scenarios: cold {c_sum:.1f}, from baseline "
          f"{w_sum:.1f} (ratio {c_sum / max(w_sum, 1e-9):.2f}x); wall {walls['cold']:.1f} s "
          f"vs {walls['baseline']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
