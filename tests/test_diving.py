"""The LP dive (solver/diving.py) on hand-checked facility LPs, and in the national start."""

from __future__ import annotations

import time
from pathlib import Path

import highspy
import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.results.pipeline import solve_case
from netopt.solver import diving, highs
from netopt.solver.diving import lp_dive

INF = highspy.kHighsInf
SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


def _triangle(budget: float | None = None) -> tuple[highspy.Highs, list[int]]:
    """Three facilities (columns 0-2, fixed cost 10, binary) around three customers; customer
    c is served by facility c or c-1 (free), x <= y. The LP opens each at 0.5 (cost 15);
    every network needs two facilities (cost 20). `budget`: sum of y at most that."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(3, np.zeros(3), np.ones(3))
    h.changeColsCost(3, np.arange(3, dtype=np.int32), np.full(3, 10.0))
    h.changeColsIntegrality(3, np.arange(3, dtype=np.int32),
                            np.array([highspy.HighsVarType.kInteger] * 3))
    for c in range(3):
        served_by = (c, (c - 1) % 3)
        first = h.getNumCol()
        h.addVars(2, np.zeros(2), np.ones(2))
        h.addRow(1.0, 1.0, 2, np.array([first, first + 1], np.int32), np.ones(2))
        for k, f in enumerate(served_by):  # x <= y
            h.addRow(-INF, 0.0, 2, np.array([first + k, f], np.int32), np.array([1.0, -1.0]))
    if budget is not None:
        h.addRow(-INF, budget, 3, np.arange(3, dtype=np.int32), np.ones(3))
    return h, [0, 1, 2]


def _lp_values(h: highspy.Highs) -> np.ndarray:
    h.setOptionValue("solve_relaxation", True)
    h.run()
    h.setOptionValue("solve_relaxation", False)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return np.asarray(h.getSolution().col_value, float)


def _bounds(h: highspy.Highs) -> tuple[np.ndarray, np.ndarray]:
    lp = h.getLp()
    return np.asarray(lp.col_lower_, float), np.asarray(lp.col_upper_, float)


def test_the_dive_opens_two_of_the_three_facilities_the_lp_splits() -> None:
    h, design = _triangle()
    values = _lp_values(h)
    assert h.getInfo().objective_function_value == pytest.approx(15.0)
    assert values[design] == pytest.approx([0.5, 0.5, 0.5])
    before = _bounds(h)
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is not None and resolves >= 1
    assert sorted(found[design]) == [0.0, 1.0, 1.0]  # an optimal network, cost 20
    assert float(np.dot(found[design], np.full(3, 10.0))) == pytest.approx(20.0)
    assert found[0] == 1.0  # ties opened by column: the same LP gives the same dive
    for after, was in zip(_bounds(h), before, strict=True):  # the bounds are given back
        np.testing.assert_array_equal(after, was)


class _RecordedHighs(highspy.Highs):
    """A Highs that notes the simplex strategy of each run."""

    def __init__(self) -> None:
        super().__init__()
        self.strategies: list[int] = []

    def run(self):  # noqa: ANN201
        self.strategies.append(self.getOptionValue("simplex_strategy")[1])
        return super().run()


def test_the_dive_re_solves_by_the_serial_dual_simplex_and_gives_the_strategy_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cut loop leaves HiGHS on its parallel dual simplex, which beside the bound worker
    took the national dive's whole share when the dive came straight after the loop, as it
    does in a start that hands its dive to the search; the dive re-solves serially whatever
    it finds set, then gives that strategy back."""
    monkeypatch.setattr(highspy, "Highs", _RecordedHighs)
    h, design = _triangle()
    values = _lp_values(h)
    h.setOptionValue("simplex_strategy", highs.SIMPLEX_DUAL_SIP)
    h.strategies.clear()
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is not None and len(h.strategies) == resolves >= 1
    assert set(h.strategies) == {diving.SERIAL_DUAL_SIMPLEX} == {highs.SIMPLEX_DEFAULT}
    assert h.getOptionValue("simplex_strategy")[1] == highs.SIMPLEX_DUAL_SIP


class _BasisHighs(highspy.Highs):
    """A Highs that notes, at each run, whether it holds a basis to start from."""

    def __init__(self) -> None:
        super().__init__()
        self.warm: list[bool] = []

    def run(self):  # noqa: ANN201
        self.warm.append(bool(self.getBasis().valid))
        return super().run()


def test_the_dive_solves_its_first_step_afresh_and_the_steps_after_it_warm(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first step closes most decisions at once: solved afresh, HiGHS's presolve drops
    them (the national default: 0.5 s against 4.2 s warm from the LP's basis). The steps
    after it change a few decisions each and start from the last basis."""
    monkeypatch.setattr(highspy, "Highs", _BasisHighs)
    h, design = _triangle()
    values = _lp_values(h)
    h.warm.clear()
    assert h.getBasis().valid  # the LP's basis, which the dive's first step does not use
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is not None and resolves >= 2
    assert h.warm == [False] + [True] * (resolves - 1)
    assert sorted(found[design]) == [0.0, 1.0, 1.0]  # the same network as warm


def test_a_dive_whose_bounds_cannot_hold_gives_no_network_and_its_bounds_back() -> None:
    """At most 1.5 facilities: the LP (0.5 each) holds, no network does. The dive's first
    opening (facility 0) makes the LP infeasible, and so does closing it instead: two
    re-solves, no network."""
    h, design = _triangle(budget=1.5)
    values = _lp_values(h)
    before = _bounds(h)
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is None and resolves == 2
    for after, was in zip(_bounds(h), before, strict=True):
        np.testing.assert_array_equal(after, was)
    h.setOptionValue("solve_relaxation", True)  # the object still solves its LP
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(15.0)


def test_a_step_the_lp_cannot_hold_is_halved_until_it_can() -> None:
    """At most two facilities, and values that would open all three at once (the LP does
    not hold it): the dive backs out, opens the one it is surest of (ties by column:
    facility 0), and ends at a network of two - where a dive without backtracking found
    none (us-depots' one-step start: infeasible after 9 re-solves; integral after 18 with
    it, bench/RESULTS.md)."""
    h, design = _triangle(budget=2.0)
    values = _lp_values(h)
    values[design] = 0.9
    before = _bounds(h)
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is not None
    assert found[0] == 1.0 and sorted(found[design]) == [0.0, 1.0, 1.0]
    assert resolves >= 2  # the step that failed, then the halved one and on
    for after, was in zip(_bounds(h), before, strict=True):
        np.testing.assert_array_equal(after, was)


def test_a_dive_backs_out_of_at_most_max_backtracks_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same dive with no backtrack allowed gives up at the first step it cannot hold."""
    monkeypatch.setattr(diving, "MAX_BACKTRACKS", 0)
    h, design = _triangle(budget=2.0)
    values = _lp_values(h)
    values[design] = 0.9
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert found is None and resolves == 1


def test_a_dive_past_its_deadline_gives_no_network() -> None:
    h, design = _triangle()
    values = _lp_values(h)
    found, resolves = lp_dive(h, design, values, time.perf_counter() - 1.0)
    assert found is None and resolves == 0


def test_a_decision_the_lp_leaves_at_zero_is_closed_in_one_re_solve() -> None:
    """Facilities 0 and 1 held open serve everyone: the LP leaves facility 2 at 0."""
    h, design = _triangle()
    h.changeColsBounds(2, np.array([0, 1], np.int32), np.ones(2), np.ones(2))
    values = _lp_values(h)
    found, resolves = lp_dive(h, design, values, time.perf_counter() + 30)
    assert resolves == 1 and found is not None
    assert found[design] == pytest.approx([1.0, 1.0, 0.0])


@pytest.mark.slow
def test_us_small_kernel_path_dives_and_its_optimum_does_not_depend_on_the_dive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small (27 sites) through the national default's start: the dive ends integral,
    its network (completed by the small MIP) is never cheaper than the network returned, and
    the proven optimum is the one the same path proves without the dive."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)

    def solve() -> dict:
        case = load_case(SMALL)
        case.config.solver.strong_linking = "lazy"
        case.config.solver.threads = 1
        case.config.solver.mip_gap = 1e-4
        return solve_case(case, time_limit=60).summary

    dived = solve()
    stages = {st["stage"]: st for st in dived["stages"]}
    assert stages["LP dive"]["stopped"] == "integral"
    assert stages["dived network"]["objective_usd"] >= dived["objective_usd"] * (1 - 1e-9)
    monkeypatch.setattr(highs, "DIVE_SHARE", 0.0)  # no time for a dive: none runs
    plain = solve()
    assert not any(st["stage"] == "LP dive" for st in plain["stages"])
    assert dived["status"] == plain["status"] == "optimal"
    assert dived["objective_usd"] == pytest.approx(plain["objective_usd"], rel=2e-4)
