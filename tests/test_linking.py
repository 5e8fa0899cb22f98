"""Lazy strong linking and the rounded LP start (solver/highs.py, solver/rounding.py).

The per-pair rows x <= patients x offer only tighten the LP: built lazily (only those the LP
relaxation violates, by a cut loop) the model must keep its optimum, the loop's LP must equal
the fully linked LP, and the network rounded up from that LP must be a feasible start.
"""

from __future__ import annotations

import math
from pathlib import Path

import highspy
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver import highs, machine
from netopt.solver.network_start import hold, release
from netopt.solver.rounding import rounded_network

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SMALL = ROOT / "models" / "us-small.yaml"


def _case(model: Path, linking: object):
    case = load_case(model)
    case.config.solver.strong_linking = linking
    return case


@pytest.mark.parametrize("model", [TINY, SMALL], ids=["tiny", "us-small"])
def test_lazy_linking_keeps_the_optimum(model: Path) -> None:
    eager = solve_case(_case(model, True), gap=1e-6, time_limit=300)
    lazy = solve_case(_case(model, "lazy"), gap=1e-6, time_limit=300)
    assert eager.summary["status"] == lazy.summary["status"] == "optimal"
    assert math.isclose(lazy.summary["objective"], eager.summary["objective"], rel_tol=1e-6)


def _lp_value(model: Path, linking: object) -> tuple[float, object, object]:
    case = _case(model, linking)
    m = build_model(prepare(case))
    solver = highs._Highs()
    if linking == "lazy":
        bound = highs.separate_linking(solver, m, case.config.solver, False, 120.0)
        return bound, m, solver
    res = highs._run(solver, m, case.config.solver, False, 120.0, solve_relaxation=True,
                     solver="simplex")
    res.solution_loader.load_vars()
    return float(res.incumbent_objective), m, solver


def test_cut_loop_reaches_the_fully_linked_lp_with_fewer_rows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(highs, "LINK_PROGRESS", 0.0)  # run to convergence, not to the stall
    full, m_full, _ = _lp_value(SMALL, True)
    lazy, m_lazy, _ = _lp_value(SMALL, "lazy")
    weak, _, _ = _lp_value(SMALL, False)
    assert math.isclose(lazy, full, rel_tol=1e-5)  # the loop's bound margin is 1e-6
    assert weak < full - 1.0  # the rows matter: without them the LP is much weaker
    # only violated rows were added, and they are far fewer than the pairs
    assert 0 < len(m_lazy.offer_pair_linked) < len(m_full.P) / 2
    # every row the loop left out holds at its LP solution
    for i in m_lazy.P:
        d = m_lazy.patients_of_pair[i]
        x, w = m_lazy.x[i].value or 0.0, m_lazy.w[m_lazy.pair_sk[i]].value or 0.0
        assert x <= d * w + 1e-6 * d + 1e-9


def test_network_rounded_up_from_the_lp_is_a_feasible_start() -> None:
    _, m, solver = _lp_value(SMALL, "lazy")
    case = m.prep.case
    network = rounded_network(m, highs.LP_OPEN_THRESHOLD)
    served = {sk for sk, v in network["w"].items() if v}
    assert served and all(network["y"][s] == 1 for s, _ in served)
    held = hold(m, network)
    try:
        res = highs._run(solver, m, case.config.solver, False, 120.0, solver="choose")
    finally:
        release(held)
    assert highs._has_solution(res)
    best = solve_case(load_case(SMALL), gap=1e-6, time_limit=300).summary["objective"]
    start = float(res.incumbent_objective) * 1000  # model money is k$
    assert start >= best - 1e-6 * best
    # it serves patients: within a few per cent of the optimum, not an empty network
    assert start <= 1.1 * best


def test_cut_loop_stops_on_progress_the_same_way_every_run() -> None:
    """The default loop stops once a round lifts the LP by less than LINK_PROGRESS: a valid
    bound at most that far below the fully linked LP per remaining round, and - stopping on
    progress, not on the clock - the same rows and the same LP in every run."""
    full, _, _ = _lp_value(SMALL, True)
    first, m1, _ = _lp_value(SMALL, "lazy")
    second, m2, _ = _lp_value(SMALL, "lazy")
    assert first <= full * (1 + 1e-9)
    assert first >= full * (1 - 0.01)  # on us-small: 13,628.4 against 13,636.9
    assert first == second
    assert sorted(m1.offer_pair_linked) == sorted(m2.offer_pair_linked)


def test_cut_loop_runs_the_parallel_dual_simplex_on_free_cores_only_and_no_later_run_does(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The loop's warm re-solves use HiGHS's parallel dual simplex (SIP) where two threads
    are allowed and both find a free core (faster on national models, highs.SIMPLEX_DUAL_SIP),
    the serial one with one thread or on a busy machine (SIP collapses there, saying so):
    the same LP optimum either way, and HiGHS's default is restored for the MIP runs that
    follow (a persistent HiGHS object keeps its options between runs)."""
    monkeypatch.setattr(machine, "cores", lambda: 2)
    loops, after = {}, None
    for threads, busy in ((1, 0.1), (2, 0.1), (2, 1.5)):
        monkeypatch.setattr(machine, "load", lambda busy=busy: busy)
        monkeypatch.setattr(machine, "other_work", lambda busy=busy: busy - 0.5)  # now
        monkeypatch.setattr(machine, "_answers", {})  # measured afresh for each machine
        case = _case(SMALL, "lazy")
        case.config.solver.threads = threads
        m = build_model(prepare(case))
        solver = highs._Highs()
        caplog.clear()
        bound = highs.separate_linking(solver, m, case.config.solver, False, 120.0)
        used = solver._solver_model.getOptionValue("simplex_strategy")[1]
        loops[threads, busy] = (bound, used, "machine is busy" in caplog.text)
        if (threads, busy) == (2, 0.1):
            highs._run(solver, m, case.config.solver, False, 5.0, solver="choose")
            after = solver._solver_model.getOptionValue("simplex_strategy")[1]
    default = highspy.Highs().getOptionValue("simplex_strategy")[1]
    assert default == highs.SIMPLEX_DEFAULT  # HiGHS's own default: serial dual
    assert loops[1, 0.1][1:] == (default, False)
    assert loops[2, 0.1][1:] == (highs.SIMPLEX_DUAL_SIP, False)
    assert loops[2, 1.5][1:] == (default, True)  # one core busy: serial, and a warning
    assert math.isclose(loops[1, 0.1][0], loops[2, 0.1][0], rel_tol=1e-9)
    assert math.isclose(loops[2, 1.5][0], loops[2, 0.1][0], rel_tol=1e-9)
    assert after == default


@pytest.mark.parametrize(("load", "others", "cores", "threads", "free"), [
    (0.3, None, 2, 2, True), (0.5, None, 2, 2, True), (0.6, 0.0, 2, 2, True),
    (0.6, 0.6, 2, 2, False), (1.6, 1.0, 2, 2, False), (1.6, 0.1, 2, 2, True),
    (1.2, None, 2, 1, True), (1.6, 0.4, 2, 1, True), (9.0, 2.0, 2, 2, False),
    (2.4, None, 8, 2, True), (None, None, 2, 2, True), (1.6, "n/a", 2, 2, False)])
def test_threads_find_free_cores_by_load_average_then_by_a_sample_of_other_work(
        monkeypatch: pytest.MonkeyPatch, load: float | None, others: float | str | None,
        cores: int, threads: int, free: bool) -> None:
    """Each thread needs a core free, to within half a core: a low load average says so at
    once (`others` None: no sample taken); a high one is checked against what other processes
    use now, since a run's own predecessor counts in it ("n/a": no /proc/stat, the load
    average decides). An unmeasurable load (Windows) counts as free, as before the check."""
    sampled = []

    def sample() -> float | None:
        sampled.append(True)
        return None if others == "n/a" else others

    monkeypatch.setattr(machine, "load", lambda: load)
    monkeypatch.setattr(machine, "cores", lambda: cores)
    monkeypatch.setattr(machine, "other_work", sample)
    said = machine.shared_cores(threads)
    assert (said is None) is free
    assert bool(sampled) is (others is not None)
    if not free:
        assert said == ("load 1.6 on 2 cores over the last minute" if others == "n/a"
                        else f"other processes keep {others:.1f} of its {cores} cores busy")


def test_a_busy_machine_is_measured_and_warned_about_once_per_half_minute(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The loops of one solve (a staged start's two, N-1's one per hub) reuse the answer:
    one sample of other work, one warning; after REUSE_SECONDS the machine is asked again."""
    samples, clock = [], [1000.0]
    monkeypatch.setattr(machine, "_answers", {})
    monkeypatch.setattr(machine, "load", lambda: 1.8)
    monkeypatch.setattr(machine, "cores", lambda: 2)
    monkeypatch.setattr(machine, "other_work", lambda: samples.append(1) or 1.0)
    monkeypatch.setattr(machine.time, "monotonic", lambda: clock[0])
    settings = _case(SMALL, "lazy").config.solver
    settings.threads = 2
    with caplog.at_level("WARNING"):
        first = highs.loop_simplex(settings)
        clock[0] += 10
        second = highs.loop_simplex(settings)
        clock[0] += machine.REUSE_SECONDS
        third = highs.loop_simplex(settings)
    assert first == second == third == highs.SIMPLEX_DEFAULT
    assert len(samples) == 2
    assert caplog.text.count("the machine is busy (other processes keep 1.0 of its 2 cores "
                             "busy)") == 2


def test_other_work_sees_a_busy_core_and_not_this_process(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The sample counts the cores' busy time less this process's own: a fake /proc/stat
    that gains 0.9 busy seconds while this process spends 0.4 of them reads as 0.5 cores of
    other work over a 1-s window."""
    busy = iter([10.0, 10.9])
    own = iter([2.0, 2.4])
    clock = iter([100.0, 101.0])
    monkeypatch.setattr(machine, "_busy_seconds", lambda: next(busy))
    monkeypatch.setattr(machine, "_own_seconds", lambda: next(own))
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(machine.time, "sleep", lambda s: None)
    assert machine.other_work() == pytest.approx(0.5)


def test_cores_are_the_ones_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container given one core of a larger machine: its CPU affinity, not the host's count,
    so that container's minute does not take one busy core for a free one."""
    import os
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("this system has no CPU affinity (os.sched_getaffinity)")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert machine.cores() == 1
