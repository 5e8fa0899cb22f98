"""A model with its fixed columns taken out (solver/arrays.py `restricted_arrays`) solves to
what the whole model solves to at the same bounds: hand-checked on a two-lane site, and on
every neighbourhood of tiny and of us-small."""

from __future__ import annotations

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest

from netopt.data.case import Case, load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs, neighbourhoods
from netopt.solver.arrays import (
    entry_rows_and_columns,
    highs_from_arrays,
    model_arrays,
    restricted_arrays,
)
from netopt.solver.info import highs_threads
from tests.test_model import TINY
from tests.test_neighbourhoods import SMALL, _forced, _model_and_hoods

INF = highspy.kHighsInf


def _site() -> dict:
    """A site y (binary, $10) and its patient's two lanes x1 ($1) and x2 ($2), each open only
    with the site (x <= y: upper side only); the patient is served (x1 + x2 >= 1)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(3, np.zeros(3), np.ones(3))
    h.changeColsCost(3, np.arange(3, dtype=np.int32), np.array([10.0, 1.0, 2.0]))
    h.changeColsIntegrality(1, np.array([0], np.int32), np.array([highspy.HighsVarType.kInteger]))
    for lane in (1, 2):
        h.addRow(-INF, 0.0, 2, np.array([lane, 0], np.int32), np.array([1.0, -1.0]))
    h.addRow(1.0, INF, 2, np.array([1, 2], np.int32), np.ones(2))
    return model_arrays(h)


def _solved(arrays: dict) -> tuple[highspy.HighsModelStatus, float | None, np.ndarray | None]:
    h = highs_from_arrays(arrays)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("threads", highs_threads(1))  # netopt's count (solver/info.py)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return status, None, None
    return status, h.getInfo().objective_function_value, np.array(h.getSolution().col_value)


def test_an_open_site_leaves_its_lanes_and_carries_its_cost_in_the_offset() -> None:
    arrays = _site()
    lower, upper = arrays["col_lower"].copy(), arrays["col_upper"].copy()
    lower[0] = 1.0  # the site held open
    smaller = restricted_arrays(arrays, lower, upper)
    assert smaller.kept.tolist() == [1, 2] and smaller.broken == 0
    assert smaller.arrays["offset"] == pytest.approx(10.0)
    # the linking rows keep their lane, now x <= 1; the demand row as it was
    assert smaller.arrays["num_row"] == 3
    assert smaller.arrays["row_upper"][:2].tolist() == [1.0, 1.0]
    status, cost, values = _solved(smaller.arrays)
    assert cost == pytest.approx(11.0)  # the site and the cheap lane
    assert smaller.full(values).tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_a_closed_site_forces_its_lanes_shut_and_breaks_the_demand_row() -> None:
    """y held at 0: each x <= y forces its lane to 0 (a forcing row), so no column is left
    and the demand row, now of fixed columns only, is counted broken: what HiGHS's presolve
    calls infeasible."""
    arrays = _site()
    lower, upper = arrays["col_lower"].copy(), arrays["col_upper"].copy()
    upper[0] = 0.0
    smaller = restricted_arrays(arrays, lower, upper)
    assert smaller.kept.size == 0 and smaller.arrays["num_row"] == 0
    assert smaller.broken == 1
    h = highs_from_arrays(arrays, lower, upper)
    h.setOptionValue("threads", highs_threads(1))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kInfeasible


def test_a_row_with_an_infinite_side_forces_nothing_through_it() -> None:
    """Nothing fixed: x1 - y <= 0 has no lower side, and its most activity (1) must not be
    read as meeting it (an infinite tolerance once did: every lane closed)."""
    arrays = _site()
    smaller = restricted_arrays(arrays, arrays["col_lower"], arrays["col_upper"])
    assert smaller.kept.tolist() == [0, 1, 2] and smaller.broken == 0
    assert _solved(smaller.arrays)[1] == pytest.approx(11.0)


def _two_columns(coefficients: list[float], row_lower: float) -> dict:
    """Two columns in [0, 1] (an LP: no integrality), one row `coefficients` x >= row_lower."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(2, np.zeros(2), np.ones(2))
    h.addRow(row_lower, INF, 2, np.array([0, 1], np.int32), np.array(coefficients))
    return model_arrays(h)


def test_a_row_at_its_most_activity_forces_each_column_to_its_end() -> None:
    """x1 + x2 >= 2 holds only at (1, 1); -x1 + x2 >= 1 only at (0, 1): the negative
    coefficient's column goes to its lower bound. Nothing is left, nothing broken, and the
    full solution is the forced one."""
    for coefficients, at in (([1.0, 1.0], [1.0, 1.0]), ([-1.0, 1.0], [0.0, 1.0])):
        arrays = _two_columns(coefficients, 1.0 if coefficients[0] < 0 else 2.0)
        assert len(arrays["integrality"]) == 0  # an LP: HiGHS gives no integrality
        smaller = restricted_arrays(arrays, arrays["col_lower"], arrays["col_upper"])
        assert smaller.kept.size == 0 and smaller.broken == 0
        assert smaller.full(np.zeros(0)).tolist() == at


def test_crossed_bounds_count_as_broken() -> None:
    arrays = _two_columns([1.0, 1.0], 0.0)
    lower, upper = arrays["col_lower"].copy(), arrays["col_upper"].copy()
    lower[0], upper[0] = 0.5, 0.2
    assert restricted_arrays(arrays, lower, upper).broken == 1


@pytest.mark.parametrize("which", ["tiny", "us-small"])
def test_every_neighbourhood_solves_to_the_whole_models_optimum(which: str) -> None:
    """For each site's neighbourhood of a network (tiny with S2 forced open; us-small's
    optimum), held as the search holds it: the restricted model's optimum plus its offset is
    the whole model's at those bounds, and its network, put back, costs that much."""
    case = load_case(TINY if which == "tiny" else SMALL)
    m, settings, solver, start, _ = _forced(case, "w", "S2") if which == "tiny" else \
        _small_optimum(case)
    arrays, hoods = _model_and_hoods(m, solver)
    values = highs._by_column(solver, start)
    column = entry_rows_and_columns(arrays)[1]
    lower, upper = arrays["col_lower"], arrays["col_upper"]
    compared = 0
    for centre in sorted(hoods.site_columns):
        sites = [centre, *hoods.near.get(centre, [])]
        held = np.setdiff1d(hoods.decisions, hoods.freed(sites, values))
        lo, hi = lower.copy(), upper.copy()
        lo[held] = hi[held] = np.round(values[held])
        still = hoods.held_flows(sites)
        lo[still] = hi[still] = np.clip(values[still], lower[still], upper[still])
        whole = _solved({**arrays, "col_lower": lo, "col_upper": hi})
        smaller = restricted_arrays(arrays, lo, hi, column)
        if smaller.broken:
            assert whole[0] == highspy.HighsModelStatus.kInfeasible
            continue
        part = _solved(smaller.arrays)
        assert part[0] == whole[0]
        if part[1] is None:
            continue
        assert part[1] == pytest.approx(whole[1], rel=1e-7)
        full = smaller.full(part[2])
        assert float(arrays["col_cost"] @ full) + arrays["offset"] == pytest.approx(
            whole[1], rel=1e-7)
        compared += 1
    assert compared >= (2 if which == "tiny" else 20)


def _small_optimum(case: Case) -> tuple:
    """us-small solved to its optimum: model, settings, solver, network, optimum."""
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    solver = highs._Highs()
    highs._run(solver, m, settings, False, 120.0, solver="choose").solution_loader.load_vars()
    return m, settings, solver, highs._loaded_solution(m), pyo.value(m.obj)


def test_the_search_re_solves_only_the_free_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search's HiGHS runs get the restricted models, never the whole one, and find the
    optimum of tiny from the forced network as before."""
    case = load_case(TINY)
    m, settings, solver, start, optimum = _forced(case, "w", "S2")
    arrays, hoods = _model_and_hoods(m, solver)
    sizes = []
    built = neighbourhoods.highs_from_arrays

    def counting(d: dict, *args) -> highspy.Highs:
        sizes.append(d["num_col"])
        return built(d, *args)

    monkeypatch.setattr(neighbourhoods, "highs_from_arrays", counting)
    found = neighbourhoods.search(arrays, highs._by_column(solver, start), hoods,
                                  sorted(hoods.site_columns), float("inf"),
                                  {"threads": 1, "random_seed": 0})
    assert found.cost == pytest.approx(optimum, rel=1e-9)
    assert sizes and max(sizes) < arrays["num_col"]

