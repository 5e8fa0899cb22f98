"""Four HiGHS 1.x behaviours netopt works around: an LP run is timed against its object's
cumulative run clock, so a stage that re-runs one object must set its limit past that clock
(solver/info.py); a MIP run on an object that holds an LP solution runs two MIPs, each timed
from its own start, so netopt interrupts a run on the wall clock (solver/highs.py); an
interrupted simplex run leaves its interrupt flag set for the object's later runs
(solver/interrupts.py); and one task scheduler per process, sized at the first run, refuses
runs with another thread count."""

from __future__ import annotations

import time
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from netopt.data.case import load_case
from netopt.data.config import SolverSettings
from netopt.results.pipeline import solve_case
from netopt.solver import highs
from netopt.solver.info import highs_time_limit

TINY = Path(__file__).resolve().parents[1] / "tests" / "data" / "tiny.yaml"


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


def _market_split(rows: int = 4, cols: int = 40, seed: int = 7) -> pyo.ConcreteModel:
    """The market-split MIP of test_bound_worker.py as a Pyomo model: equality rows of random
    coefficients over binaries, slack priced; branch-and-bound needs hours at this size, so
    every MIP run ends at its limit."""
    a = np.random.default_rng(seed).integers(0, 100, size=(rows, cols))
    m = pyo.ConcreteModel()
    m.J, m.R = pyo.RangeSet(0, cols - 1), pyo.RangeSet(0, rows - 1)
    m.x = pyo.Var(m.J, domain=pyo.Binary)
    m.over = pyo.Var(m.R, bounds=(0, 1e4))
    m.under = pyo.Var(m.R, bounds=(0, 1e4))
    m.split = pyo.Constraint(m.R, rule=lambda m, r: sum(
        int(a[r, j]) * m.x[j] for j in m.J) + m.under[r] - m.over[r] == int(a[r].sum() // 2))
    m.cost = pyo.Objective(expr=pyo.quicksum(m.over[r] + m.under[r] for r in m.R))
    return m


def _timed_mip(after_lp: bool, limit: float) -> tuple[float, highs._Highs, object]:
    """Wall seconds of one MIP run of `limit` seconds through netopt's HiGHS runs, on a fresh
    object or on one that holds the LP relaxation's solution (interior point, no crossover:
    every binary fractional, as many are after the fine model's cut loop)."""
    # the tests above ran HiGHS at its default thread count, which sized its scheduler
    highspy.Highs.resetGlobalScheduler(True)
    m, settings = _market_split(), SolverSettings()
    solver = highs._Highs()
    solver.set_instance(m)
    if after_lp:
        lp = highs._run(solver, m, settings, False, 30.0, solve_relaxation=True, solver="ipm",
                        run_crossover="off")
        assert lp.termination_condition == TerminationCondition.convergenceCriteriaSatisfied
    started = time.perf_counter()
    # HiGHS caps the MIP that completes a held solution at mip_max_start_nodes nodes: on the
    # fine model its root alone took 90 s, here 500 nodes take a third of a second, so the
    # cap is lifted to give it the fine model's cost
    res = highs._run(solver, m, settings, False, limit, solver="choose",
                     mip_max_start_nodes=highs.NO_SOLUTION_LIMIT)
    return time.perf_counter() - started, solver, res


def test_a_mip_run_on_an_object_holding_an_lp_solution_ends_at_its_limit() -> None:
    """HiGHS completes the held LP solution with a MIP timed from its own start, then runs
    the MIP timed from its own start again: 2x the limit without the deadline (the fine model
    held at a network: 90 s, then 89 s more, for a limit of 89 s)."""
    limit = 5.0
    wall, solver, res = _timed_mip(after_lp=True, limit=limit)
    assert wall <= 1.6 * limit, f"{wall:.1f}s for a limit of {limit:.0f}s"
    assert solver.stopped  # at netopt's deadline, not HiGHS's own limit
    assert res.termination_condition == TerminationCondition.maxTimeLimit
    # the network the hidden MIP found is kept
    assert res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)


def test_a_run_whose_clock_starts_with_it_is_left_to_stop_itself() -> None:
    """The deadline lies past HiGHS's own limit: a run that honours that ends as it did."""
    limit = 2.0
    wall, solver, res = _timed_mip(after_lp=False, limit=limit)
    assert not solver.stopped
    assert res.termination_condition == TerminationCondition.maxTimeLimit
    assert wall <= limit + highs.DEADLINE_SLACK
    assert solver.deadline is None and solver.seconds is None  # a deadline is one run's


def test_solves_with_other_thread_counts_follow_each_other_in_one_process() -> None:
    """A Python session that solves with 2 threads and then with 1 (the national default,
    then us-small): the second run used to end with no solution, reported as infeasible.
    HiGHS refuses any run asking another thread count, so the tiny case shows it (without the
    fix in solver/info.py it fails at its second solve)."""
    objectives = []
    for threads in (2, 1, 2):
        case = load_case(TINY)
        case.config.solver.threads = threads
        summary = solve_case(case).summary
        assert summary["status"] == "optimal", threads
        objectives.append(summary["objective"])
    assert max(objectives) - min(objectives) <= 1e-6 * objectives[0]


def test_ctrl_c_stops_a_variant_at_the_key_press() -> None:
    """A re-solve of solver/variants.py runs on a fresh HiGHS object with no netopt deadline;
    its interrupt callback is where Ctrl-C reaches Python, so the key press stops it at once
    instead of at its 60-s limit (the market split never finishes)."""
    import os
    import signal
    import threading

    from netopt.solver.variants import solve_variants

    highspy.Highs.resetGlobalScheduler(True)
    m, settings = _market_split(), SolverSettings(threads=1)
    threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        list(solve_variants(m, settings, {"as is": []}, time_limit=60.0))
    assert time.perf_counter() - started < 10.0


def test_a_raw_highs_run_holding_an_lp_solution_stops_at_the_wall_clock() -> None:
    """The same trap on a raw highspy object (the decomposition's master holds its LP
    solution before its first incumbent): `stop_at` interrupts at the wall-clock deadline."""
    from test_bound_worker import _market_split as raw_market_split

    from netopt.solver.interrupts import DEADLINE_SLACK, stop_at

    highspy.Highs.resetGlobalScheduler(True)
    h = raw_market_split()
    for name, value in (("solve_relaxation", True), ("solver", "ipm"), ("run_crossover", "off"),
                        ("threads", 1)):
        h.setOptionValue(name, value)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    limit = 5.0
    for name, value in (("solve_relaxation", False), ("solver", "choose"),
                        ("time_limit", limit), ("mip_max_start_nodes", 2_147_483_647)):
        h.setOptionValue(name, value)
    started = time.perf_counter()
    with stop_at(h, started + limit + DEADLINE_SLACK) as stopped:
        h.run()
    wall = time.perf_counter() - started
    assert wall <= 1.6 * limit, f"{wall:.1f}s for a limit of {limit:.0f}s"
    assert stopped[0]
    assert h.getModelStatus() == highspy.HighsModelStatus.kInterrupt


def test_an_interrupted_lp_does_not_interrupt_the_next_run() -> None:
    """An LP interrupted at once (a deadline already past): HiGHS 1.16 keeps the flag, and a
    later run of the object with a callback subscribed that is never due ended at its first
    check (an LP dive stopped by its deadline left every later stage of the solve without a
    network). `interrupt_when` clears it."""
    from netopt.solver.interrupts import interrupt_when, stop_at

    h = _lp()
    h.setOptionValue("solve_relaxation", True)
    with stop_at(h, time.perf_counter() - 1.0) as stopped:
        h.run()
    assert stopped[0] and h.getModelStatus() == highspy.HighsModelStatus.kInterrupt
    with interrupt_when(h, lambda: False):
        h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
