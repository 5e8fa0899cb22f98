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
        # the linking rows alone: the facility and segment volume cuts (test_facility_cuts,
        # test_segment_volume) lift the LP above the fully linked one
        bound = highs.separate_linking(solver, m, case.config.solver, False, 120.0,
                                       with_cuts=False, facility_cuts=False)
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


def test_network_rounded_up_from_the_lp_is_a_feasible_start(small_optimum_solution) -> None:  # noqa: ANN001
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
    best = small_optimum_solution.summary["objective"]
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


def test_a_long_loop_goes_on_past_the_stall_towards_the_fully_linked_lp() -> None:
    """With `long` the loop stops only once a round lifts the LP by less than
    LONG_LINK_PROGRESS: on us-small it goes on past the default's stop (13,628.4) to within
    that share of the fully linked LP, a bound still no higher than it."""
    full, _, _ = _lp_value(SMALL, True)
    short, m_short, _ = _lp_value(SMALL, "lazy")
    case = _case(SMALL, "lazy")
    m = build_model(prepare(case))
    solver = highs._Highs()
    long = highs.separate_linking(solver, m, case.config.solver, False, 120.0,
                                  with_cuts=False, facility_cuts=False, long=True)
    assert short < long <= full * (1 + 1e-9)
    assert long >= full * (1 - 1e-4)
    assert len(m.offer_pair_linked) > len(m_short.offer_pair_linked)


@pytest.mark.parametrize(("limit", "warm", "long"),
                         [(60, True, False), (600, True, True), (600, False, False)])
def test_only_a_long_warm_start_runs_the_long_loop(limit: int, warm: bool, long: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm start (one that builds a network: us-small, with the size from which a start
    is warm lowered) whose loop gets LONG_LOOP_SECONDS or more (a 600-s limit: 240 s) runs
    the long loop; a minute's start (24 s) stops at the default's progress, and so does a
    start that builds no network (a held network's solve turns `warm_start` off)."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    asked = []
    loop = highs.separate_linking

    def recorded(*args, **kwargs):  # noqa: ANN002, ANN003
        asked.append((args[4], kwargs.get("long", False)))
        return loop(*args, **kwargs)

    monkeypatch.setattr(highs, "separate_linking", recorded)
    case = _case(SMALL, "lazy")
    settings = case.config.solver
    settings.threads = 1  # no bound worker
    settings.warm_start = warm
    info = highs.solve_model(build_model(prepare(case)), settings, time_limit=float(limit))
    assert info.status == "optimal"
    assert len(asked) == 1 and asked[0][1] is long
    assert (asked[0][0] >= highs.LONG_LOOP_SECONDS) is (limit == 600)


@pytest.mark.cores_measured
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
        loops[threads, busy] = (bound, used, "cores are not free" in caplog.text)
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


def test_cut_loop_starts_no_round_the_budget_cannot_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock where every LP takes 10 s, a 25-s loop stops after its second round: the
    first, cold, says nothing of the warm ones, so the second runs; the third would need
    about as long as the second and 5 s are left. Its bound is the second round's LP and
    `time limit` the reason; a 35-s loop runs three. A round begun anyway would only be cut
    short by the clock, its bound lost, and take the next stages' seconds."""
    import types

    real, later, run = highs.time.perf_counter, [0.0], highs._run
    # the loop's clock only: 10 s later after each LP (a run's deadline, set on this clock,
    # moves with it; its interrupt checks the real one)
    monkeypatch.setattr(highs, "time", types.SimpleNamespace(
        perf_counter=lambda: real() + later[0]))

    def slow(*args: object, **kwargs: object) -> object:
        res = run(*args, **kwargs)
        later[0] += 10.0
        return res

    monkeypatch.setattr(highs, "_run", slow)
    rounds = {}
    for budget in (25.0, 35.0):
        case = _case(SMALL, "lazy")
        m = build_model(prepare(case))
        solver = highs._Highs()
        start = later[0]
        bound = highs.separate_linking(solver, m, case.config.solver, False, budget)
        stage = solver.stages[-1]
        rounds[budget] = (later[0] - start) / 10.0
        assert stage["stopped"] == highs.CLOCK
        assert bound == pytest.approx(stage["objective"], rel=1e-5)
    assert rounds == {25.0: 2, 35.0: 3}
