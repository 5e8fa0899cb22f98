"""Decisions paid for and used by nobody are closed in a loaded incumbent, and only those
(solver/idle_facilities.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs
from netopt.solver.idle_facilities import Rows, close_idle
from tests.test_model import TINY

#: a hand-made network: two hubs, an offer with its two ordering options and the doses its
#: option sees expire, a second offer with its option and expiries, one flow of patients
#: and their unserved rest
COLUMNS = ["g1", "g2", "w", "z1", "z2", "f", "e", "w2", "z3", "e3", "u"]
COST = {"g1": 100.0, "g2": 80.0, "w": 10.0, "z1": 5.0, "z2": -3.0, "f": 1.0, "w2": 10.0,
        "z3": 7.0, "u": 1000.0}
INF = np.inf


def _rows(extra: list[tuple[dict[str, float], float, float]] = ()) -> Rows:
    """Rows as (coefficients, lower, upper)."""
    spec = [
        ({"f": 1, "g2": -10}, -INF, 0),      # the flow needs hub g2
        ({"f": 1, "w": -10}, -INF, 0),       # and the offer
        ({"w": 1, "g1": -1, "g2": -1}, -INF, 0),  # an offer needs an active hub
        ({"w2": 1, "g1": -1, "g2": -1}, -INF, 0),
        ({"z1": 1, "z2": 1, "w": -1}, 0, 0),  # one ordering option per offer
        ({"z3": 1, "w2": -1}, 0, 0),
        ({"e": 1, "z1": -2}, 0, 0),          # doses expiring under the option
        ({"e3": 1, "z3": -2}, 0, 0),
        ({"e": 1, "e3": 1, "f": 1}, -INF, 100),  # a plant's capacity
        ({"f": 1, "u": 1}, 4, 4),            # the patients, treated or not
        *extra]
    row_of, column_of, value = [], [], []
    for i, (coefs, _, _) in enumerate(spec):
        for name, a in coefs.items():
            row_of.append(i)
            column_of.append(COLUMNS.index(name))
            value.append(float(a))
    return Rows(row_of=np.array(row_of), column_of=np.array(column_of),
                value=np.array(value), lower=np.array([lo for _, lo, _ in spec], float),
                upper=np.array([up for _, _, up in spec], float), n_columns=len(COLUMNS))


def _solve(rows: Rows, costs: dict[str, float] = COST
           ) -> tuple[dict[str, float], float, list[set[str]]]:
    at = {"g1": 1, "g2": 1, "w": 1, "z1": 1, "z2": 0, "f": 4, "e": 2, "w2": 1, "z3": 1,
          "e3": 2, "u": 0}
    x = np.array([at[c] for c in COLUMNS], float)
    cost = np.array([costs.get(c, 0.0) for c in COLUMNS])
    binary = np.array([c[0] in "gwz" for c in COLUMNS])
    values, saved, groups = close_idle(rows, cost, x, binary, np.ones(len(COLUMNS), bool))
    return (dict(zip(COLUMNS, values, strict=True)), saved,
            [{COLUMNS[j] for j in g} for g in groups])


def test_an_idle_hub_and_an_idle_offer_close_with_what_they_carry() -> None:
    """Hub g1 carries nothing (g2 keeps both offers' hub row): closed, $100. Offer w2 treats
    nobody: closed with its option z3 and the doses z3 would see expire, $10 + $7. Hub g2
    and offer w carry the flow f and stay, and so do their option and its expiries: closing
    g2 would zero f, which the patients' row forbids (their unserved rest cannot grow)."""
    values, saved, groups = _solve(_rows())
    assert groups == [{"g1"}, {"w2", "z3", "e3"}]
    assert saved == pytest.approx(117.0)
    assert [values[c] for c in ("g2", "w", "z1", "f", "e")] == [1, 1, 1, 4, 2]


def test_a_row_that_needs_a_decision_keeps_it() -> None:
    """A second offer that must stay (a KOL to cover: w2 >= 1) keeps its option, its
    expiries and a hub; the idle hub still closes, since g2 is enough."""
    values, saved, groups = _solve(_rows([({"w2": 1}, 1, INF)]))
    assert groups == [{"g1"}]
    assert saved == pytest.approx(100.0)
    assert [values[c] for c in ("w2", "z3", "e3", "g2")] == [1, 1, 2, 1]


def test_a_decision_whose_zeroing_pays_nothing_stays() -> None:
    """Closing offer w2 alone would save 10 - 12 (its option earns 12): it stays."""
    values, saved, groups = _solve(_rows(), {**COST, "z3": -12.0})
    assert groups == [{"g1"}]
    assert values["w2"] == 1 and values["z3"] == 1


def test_tiny_with_an_idle_partner_and_site_open(tmp_path: Path) -> None:
    """tiny solved to its optimum, then a candidate site and the cold-storage partner opened
    with nothing through them, as a stopped MIP could leave them: both close, and the saving
    is their fixed costs (S2 $80k a year and its $200k activation amortised over 5 years, P1
    $20k); the objective of what is left loaded is the optimum again."""
    case = load_case(TINY)
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    solver = highs._Highs()
    res = highs._run(solver, m, settings, False, 60.0, solver="choose")
    res.solution_loader.load_vars()
    optimum = pyo.value(m.obj)
    assert round(m.y["S2"].value) == 0 and round(m.a["P1"].value) == 0
    m.y["S2"].set_value(1)
    m.a["P1"].set_value(1)
    opened = pyo.value(m.obj)
    saved = highs._close_idle(solver, m)
    assert saved * 1000 == pytest.approx(80_000 + 200_000 / 5 + 20_000)
    assert (opened - optimum) * 1000 == pytest.approx(140_000)
    assert m.y["S2"].value == 0 and m.a["P1"].value == 0
    assert pyo.value(m.obj) == pytest.approx(optimum, rel=1e-12)
    assert highs._close_idle(solver, m) == 0.0


def test_a_decision_held_open_by_an_earlier_run_closes_once_released() -> None:
    """A stage that held S2 open (its lower bound 1) and released it leaves HiGHS's copy at 1
    until the next run: the closing reads the variables' own bounds, so S2, idle, closes
    when the clock stopped the solve before any further run."""
    case = load_case(TINY)
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    solver = highs._Highs()
    m.y["S2"].setlb(1)
    highs._run(solver, m, settings, False, 60.0, solver="choose").solution_loader.load_vars()
    m.y["S2"].setlb(0)  # released in Pyomo; HiGHS learns it at its next run
    assert round(m.y["S2"].value) == 1
    assert solver._solver_model.getLp().col_lower_[
        solver._pyomo_var_to_solver_var_map[id(m.y["S2"])]] == 1
    assert highs._close_idle(solver, m) * 1000 == pytest.approx(80_000 + 200_000 / 5)
    assert m.y["S2"].value == 0
