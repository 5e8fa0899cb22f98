"""Benchmark: a scenario sweep of us-small serially, in local worker processes and on Dask.

All three runs happen in one process one after the other, on the same grid, so the printed
ratios (serial wall time / parallel wall time) are what the batch machinery buys on this
machine. Every solve uses one HiGHS thread, so the three runs must give identical rows (the
script checks it and says so).

    python bench/bench_scenarios.py                    # 24 scenarios, 2 workers, then Dask
    python bench/bench_scenarios.py --workers 4 --no-dask
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from netopt.analysis.scenarios import TIMING_COLUMNS, Comparison, local_cluster, sweep

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "us-small.yaml"
GRID = {
    "service.min_share": [0.0, 0.3, 0.5, 0.6],
    "service.within_km": [200.0, 250.0, 300.0],
    "demand_scale": [1.0, 1.2],
}


def _timed(label: str, **kw: object) -> tuple[Comparison, float]:
    started = time.perf_counter()
    comp = sweep(MODEL, GRID, **kw)
    wall = time.perf_counter() - started
    counts = comp.rows["status"].value_counts().to_dict()
    print(f"{label:<28} {wall:8.1f} s   {len(comp.rows)} scenarios {counts}", flush=True)
    return comp, wall


def _identical(a: Comparison, b: Comparison) -> bool:
    cols = [c for c in a.rows.columns if c not in TIMING_COLUMNS]
    try:
        pd.testing.assert_frame_equal(a.rows[cols], b.rows[cols])
    except AssertionError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true", help="Skip the LocalCluster run.")
    args = parser.parse_args()
    n = 1
    for values in GRID.values():
        n *= len(values)
    print(f"{n} scenarios of {MODEL.name}; {os.cpu_count()} CPUs; {args.workers} workers")
    serial, t_serial = _timed("serial (1 process)", workers=1)
    parallel, t_par = _timed(f"{args.workers} worker processes", workers=args.workers)
    print(f"speed-up serial/parallel: {t_serial / t_par:.2f}x "
          f"(identical rows: {_identical(serial, parallel)})")
    solve = serial.rows["solve_seconds"].sum() + serial.rows["build_seconds"].sum()
    print(f"sum of per-scenario build+solve seconds (serial): {solve:.1f} s")
    if not args.no_dask:
        started = time.perf_counter()
        with local_cluster(n_workers=args.workers) as address:
            startup = time.perf_counter() - started
            on_dask, t_dask = _timed(f"Dask LocalCluster ({args.workers} procs)",
                                     scheduler=address)
        print(f"cluster start-up {startup:.1f} s; speed-up serial/dask: "
              f"{t_serial / t_dask:.2f}x (identical rows: {_identical(serial, on_dask)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
