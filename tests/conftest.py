"""Shared test settings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pyomo.environ as pyo
import pytest

from netopt.solver import machine

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


@pytest.fixture(autouse=True)
def free_cores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees free cores, so that its solves take the same path whatever else runs
    beside it (CI runs two test files at a time on two cores); tests marked `cores_measured`
    set the machine's load themselves. No answer of an earlier test is reused."""
    monkeypatch.setattr(machine, "_answers", {})
    if request.node.get_closest_marker("cores_measured") is None:
        monkeypatch.setattr(machine, "recently_shared", lambda threads: (None, False))


def _solved_on_free_cores(**settings: float):  # noqa: ANN202 - Results
    """us-small solved seeing free cores, as `free_cores` gives every test (a session
    fixture is made before that function fixture applies)."""
    from netopt.data.case import load_case
    from netopt.results.pipeline import solve_case

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(machine, "_answers", {})
        patch.setattr(machine, "recently_shared", lambda threads: (None, False))
        return solve_case(load_case(SMALL), **settings)


@pytest.fixture(scope="session")
def small_solution():  # noqa: ANN202 - Results
    """us-small solved with its own settings, once per test process: six test files solved
    the same case each (about 20 s each). Shared: a module fixture deep-copies it
    before changing anything; a test takes its own copy through `small_solved`."""
    return _solved_on_free_cores()


@pytest.fixture(scope="session")
def small_optimum_solution():  # noqa: ANN202 - Results
    """us-small proven optimal (gap 1e-6), once per test process, shared as `small_solution`
    is (copy before changing)."""
    result = _solved_on_free_cores(gap=1e-6, time_limit=300)
    assert result.summary["status"] == "optimal"
    return result


@pytest.fixture
def small_solved(small_solution):  # noqa: ANN001, ANN201 - Results
    """A copy of us-small's solve (`netopt solve models/us-small.yaml`) of its own, which the
    test may change."""
    return copy.deepcopy(small_solution)


@pytest.fixture(scope="module")
def small_model() -> pyo.ConcreteModel:
    """us-small's MILP, built once per test file, for tests that set variable values by hand
    (cut separation); take it through `cleared_small`."""
    from netopt.data.case import load_case
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare

    return build_model(prepare(load_case(SMALL)))


@pytest.fixture
def cleared_small(small_model: pyo.ConcreteModel) -> pyo.ConcreteModel:
    """`small_model` with every free variable at 0: the point a test then sets up."""
    for v in small_model.component_data_objects(pyo.Var):
        if not v.fixed:
            v.set_value(0.0, skip_validation=True)
    return small_model


@pytest.fixture
def small_cut_loop(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple]:
    """Run us-small's cut loop (linked lazily) to convergence, then its MIP to a 1e-6 gap:
    `run(solver_settings, facility_cuts=...)` returns the loop's LP, the model and the
    optimum (k$), for tests comparing the loop with and without a family of cuts."""
    from netopt.data.case import load_case
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare
    from netopt.solver import highs

    monkeypatch.setattr(highs, "LINK_PROGRESS", 0.0)  # to convergence, not to the stall

    def run(settings: dict | None = None, facility_cuts: bool = True) -> tuple:
        case = load_case(SMALL)
        case.config.solver.strong_linking = "lazy"
        case.config.solver.mip_gap = 1e-6
        for name, value in (settings or {}).items():
            setattr(case.config.solver, name, value)
        m = build_model(prepare(case))
        solver = highs._Highs()
        lp = highs.separate_linking(solver, m, case.config.solver, False, 300.0,
                                    facility_cuts=facility_cuts)
        assert lp is not None, "the cut loop did not finish"
        res = highs._run(solver, m, case.config.solver, False, 300.0, solver="choose")
        assert res.termination_condition.name == "convergenceCriteriaSatisfied"
        return lp, m, float(res.incumbent_objective)

    return run
