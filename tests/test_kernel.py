"""Kernel search for the MIP start (solver/kernel.py, highs.mip_start): what the kernel
closes and holds, hand-checked, and the start path on us-small against its proven optimum."""

from __future__ import annotations

import math
from pathlib import Path

import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver import highs
from netopt.solver.kernel import restrict_to_kernel
from netopt.solver.network_start import release

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


def _sites_and_hubs() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.y = pyo.Var(["S1", "S2", "S3", "S4", "S5"], within=pyo.Binary)
    m.g = pyo.Var(["H1", "H2"], within=pyo.Binary)
    m.y["S5"].fix(0)  # excluded by the case: the kernel leaves it alone
    return m


def test_kernel_closes_what_neither_lp_nor_start_uses_and_holds_where_they_agree() -> None:
    m = _sites_and_hubs()
    lp = {id(m.y["S1"]): 1.0, id(m.y["S2"]): 0.4, id(m.y["S3"]): 0.01, id(m.y["S4"]): 0.0,
          id(m.g["H1"]): 0.995, id(m.g["H2"]): 0.0}
    start = {id(m.y["S1"]): 1.0, id(m.y["S2"]): 0.0, id(m.y["S3"]): 1.0, id(m.y["S4"]): 0.0,
             id(m.g["H1"]): 0.0, id(m.g["H2"]): 0.0}
    restricted = restrict_to_kernel(m, lp, start, threshold=0.02, agree=0.99)
    bounds = {v.name: (v.lb, v.ub) for v in [*m.y.values(), *m.g.values()]}
    assert bounds == {
        "y[S1]": (1, 1),  # LP 1.0 and the start: held open
        "y[S2]": (0, 1),  # the LP uses it: a choice
        "y[S3]": (0, 1),  # the start uses it: a choice
        "y[S4]": (0, 0),  # neither: closed
        "y[S5]": (0, 1),  # fixed by the case, bounds untouched
        "g[H1]": (0, 1),  # LP near 1 but the start closed it: still a choice
        "g[H2]": (0, 0),
    }
    assert len(restricted) == 3
    release(restricted)
    assert all((v.lb, v.ub) == (0, 1) for v in [*m.y.values(), *m.g.values()])


@pytest.fixture(scope="module")
def small_optimum() -> float:
    case = load_case(SMALL)
    result = solve_case(case, gap=1e-6, time_limit=300)
    assert result.summary["status"] == "optimal"
    return float(result.summary["objective"])


def test_kernel_start_on_us_small_is_feasible_and_the_full_mip_proves_the_optimum(
        small_optimum: float) -> None:
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"  # the national default's path
    settings = case.config.solver
    settings.mip_gap = 1e-6
    m = build_model(prepare(case))
    solver = highs._Highs()
    lp = highs.separate_linking(solver, m, settings, False, 120.0)
    start, bound = highs.mip_start(solver, m, settings, False, 120.0, lp)
    assert start is not None and bound == lp
    kernel_cost = pyo.value(m.obj)  # the kernel MIP's network, loaded in m (k$)
    # LP bound <= optimum <= the kernel's network: a restriction, never below the optimum
    assert bound <= small_optimum / 1000 * (1 + 1e-9) <= kernel_cost * (1 + 1e-9)
    solver.start = start
    res = highs._run(solver, m, settings, False, 300.0, solver="choose")
    assert res.termination_condition.name == "convergenceCriteriaSatisfied"
    assert math.isclose(res.incumbent_objective * 1000, small_optimum, rel_tol=1e-6)
