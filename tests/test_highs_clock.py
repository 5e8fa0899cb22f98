"""Two HiGHS 1.x behaviours solver/info.py works around: an LP run is timed against its
object's cumulative run clock, so a stage that re-runs one object must set its limit past that
clock; and one task scheduler per process, sized at the first run, refuses runs with another
thread count."""

from __future__ import annotations

from pathlib import Path

import highspy
import numpy as np

from netopt.data.case import load_case
from netopt.results.pipeline import solve_case
from netopt.solver.info import highs_time_limit

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


def _lp() -> highspy.Highs:
    """max sum(c x), x in [0, 1], a few knapsack rows: solved in milliseconds."""
    rng = np.random.default_rng(7)
    n, m = 400, 150
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # a presolve that solves it all never looks at the clock
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), -rng.random(n))
    for _ in range(m):
        cols = rng.choice(n, size=40, replace=False).astype(np.int32)
        h.addRow(-highspy.kHighsInf, 3.0, len(cols), cols, rng.random(len(cols)) + 0.5)
    return h


def _rerun(h: highspy.Highs, col: int, time_limit: float) -> highspy.HighsModelStatus:
    h.setOptionValue("time_limit", time_limit)
    h.changeColCost(col, -5.0)  # something to re-solve
    h.run()
    return h.getModelStatus()


def test_a_plain_limit_below_the_clock_stops_the_next_lp_at_once() -> None:
    h = _lp()
    h.run()
    spent = h.getRunTime()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal and spent > 0
    # the documented trap: a limit shorter than what the object has run already
    assert _rerun(h, 0, spent / 2) == highspy.HighsModelStatus.kTimeLimit


def test_the_limit_past_the_clock_gives_the_run_its_seconds() -> None:
    h = _lp()
    h.run()
    for col in range(5):
        limit = highs_time_limit(h, h.getRunTime() / 2)
        assert limit > h.getRunTime()
        assert _rerun(h, col, limit) == highspy.HighsModelStatus.kOptimal


def test_solves_with_other_thread_counts_follow_each_other_in_one_process() -> None:
    """A Python session that solves with 2 threads and then with 1 (the national default,
    then us-small): the second run used to end with no solution, reported as infeasible."""
    objectives = []
    for threads in (2, 1, 2):
        case = load_case(SMALL)
        case.config.solver.threads = threads
        summary = solve_case(case).summary
        assert summary["status"] == "optimal", threads
        objectives.append(summary["objective"])
    assert max(objectives) - min(objectives) <= 0.005 * objectives[0]
