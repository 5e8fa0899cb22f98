"""The bound worker (solver/bound_worker.py): a child process proves lower bounds on the model
HiGHS holds. Hand-checked on a tiny covering MIP whose LP is weaker than its optimum; it
never outlives its parent; and on us-small's kernel path its bound is valid and the network
a solve returns does not depend on it."""

from __future__ import annotations

import math
import time
from pathlib import Path

import highspy
import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.results.pipeline import solve_case
from netopt.solver import bound_worker, highs

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


def _highs(cost: list[float], rows: list[tuple[list[int], list[float], float, float]],
           binary: list[int], upper: list[float] | None = None) -> highspy.Highs:
    """A minimisation model passed to HiGHS (columns in [0, upper], 1 by default)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    n = len(cost)
    h.addVars(n, np.zeros(n), np.ones(n) if upper is None else np.asarray(upper, float))
    h.changeColsCost(n, np.arange(n), np.asarray(cost, float))
    for cols, vals, lo, hi in rows:
        h.addRow(lo if lo is not None else -inf, hi if hi is not None else inf, len(cols),
                 np.asarray(cols, np.int32), np.asarray(vals, float))
    h.changeColsIntegrality(len(binary), np.asarray(binary, np.int32),
                            np.full(len(binary), highspy.HighsVarType.kInteger))
    return h


def _three_sites_three_patients() -> highspy.Highs:
    """Sites 0, 1, 2 (fixed cost 3 each) each serve two of three patient zones for free
    ({0,1}, {1,2}, {0,2}); serving a zone from any other site costs 10. Columns: y0..y2, then
    x[i,j] at 3 + 3i + j. The LP opens every site at 1/2 and serves each zone half from each
    of its two sites: 4.5. Any one site leaves a zone at 10 (13); two sites cover all: 6."""
    near = {(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2)}
    cost = [3.0] * 3 + [0.0 if (i, j) in near else 10.0 for i in range(3) for j in range(3)]
    rows = [([3 + 3 * i + j for i in range(3)], [1.0] * 3, 1.0, 1.0) for j in range(3)]
    rows += [([3 + 3 * i + j, i], [1.0, -1.0], None, 0.0) for i in range(3) for j in range(3)]
    return _highs(cost, rows, binary=[0, 1, 2])


def _market_split(rows: int = 4, cols: int = 40, seed: int = 7) -> highspy.Highs:
    """A market-split MIP (Cornuejols & Dawande 1998): a few equality rows of random
    coefficients over binaries, slack priced; branch-and-bound needs hours at this size, so
    the child is still busy when the test ends it."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(rows, cols))
    split = [([*range(cols), cols + 2 * r, cols + 2 * r + 1], [*map(float, a[r]), 1.0, -1.0],
              float(a[r].sum() // 2), float(a[r].sum() // 2)) for r in range(rows)]
    return _highs([0.0] * cols + [1.0] * (2 * rows), split, binary=list(range(cols)),
                  upper=[1.0] * cols + [1e4] * (2 * rows))


def test_the_child_proves_the_hand_computed_optimum_above_the_lp() -> None:
    h = _three_sites_three_patients()
    relaxed = _three_sites_three_patients()
    relaxed.setOptionValue("solve_relaxation", True)
    relaxed.run()
    assert math.isclose(relaxed.getInfo().objective_function_value, 4.5, abs_tol=1e-9)
    worker = bound_worker.BoundWorker(h, seconds=60.0, seed=0)
    try:
        worker._child.wait(timeout=120)  # done on its own: the MIP is proven
    finally:
        bound = worker.stop()
    assert math.isclose(bound, 6.0, abs_tol=1e-9)


def test_stop_ends_a_busy_child_and_returns_its_bound_so_far() -> None:
    worker = bound_worker.BoundWorker(_market_split(), seconds=600.0, seed=0)
    try:
        waited = time.perf_counter()
        while worker.best is None and time.perf_counter() - waited < 60:
            time.sleep(0.1)
        assert worker._child.poll() is None  # still searching
    finally:
        bound = worker.stop()
    assert worker._child.poll() is not None
    assert bound is not None and 0.0 <= bound <= 1e-9 + 2 * 4 * 1e4


def test_the_child_stops_itself_when_its_parent_is_gone() -> None:
    """A parent killed without calling stop closes the child's stdin: the child must not
    keep a core busy for the rest of its time limit."""
    worker = bound_worker.BoundWorker(_market_split(), seconds=600.0, seed=0)
    try:
        time.sleep(1.0)
        assert worker._child.poll() is None
        worker._child.stdin.close()
        assert worker._child.wait(timeout=60) == 0
    finally:
        worker.stop()  # kills it if the test failed: no child left busy


@pytest.mark.slow
def test_us_small_kernel_path_bound_is_valid_and_the_network_does_not_depend_on_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small (27 sites) through the national default's path - cut loop, kernel start,
    full MIP - with two threads, so the worker runs: the network is the one the same run
    finds without the worker, and the bound it reports is below that network."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)

    def solve(worker: bool) -> dict:
        monkeypatch.setattr(highs, "MIN_WORKER_SECONDS", 20.0 if worker else math.inf)
        case = load_case(SMALL)
        case.config.solver.strong_linking = "lazy"
        case.config.solver.threads = 2
        case.config.solver.mip_gap = 1e-4
        return solve_case(case, time_limit=60).summary

    started = []
    real = bound_worker.BoundWorker

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(highs, "BoundWorker", counted)
    alone, helped = solve(worker=False), solve(worker=True)
    assert started == [1]
    assert helped["objective"] == pytest.approx(alone["objective"], rel=1e-9)
    assert helped["bound"] <= helped["objective"] * (1 + 1e-12)
    assert helped["gap"] <= 1e-4 + 1e-12 and helped["status"] == "optimal"
