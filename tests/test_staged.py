"""The staged start (solver/staged.py): what it designs first, what it places afterwards, and
that the answer is still the whole model's optimum.

The case is the depot case of test_depots.py (two existing cryogenic centres S1 and S2, the
off-the-shelf product `a1` whose just-in-time order takes 40 h plus transit against a 48 h
notice, so it must be stocked, partner P1 with one pooled stock for both) plus the tiny
dataset's autologous CAR-T `p1`, shipped per patient from the same plant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs
from netopt.solver.arrays import model_arrays
from netopt.solver.network_start import hold, release
from netopt.solver.staged import Deferred, deferred, first_step, second_step
from tests.test_depots import POLICIES, PRODUCT, TINY, make_case


def two_product_case(tmp_path: Path, extra: str = "") -> Path:
    """The depot case with the tiny dataset's `p1` beside `a1` (a cheap partner, so that
    pooling at P1 is the optimum for `a1`)."""
    p1_terms = ["p1", "jit_per_patient", "manufacturer", 30, 0, 0, 0, 0, 7, 0.95, 0]
    model = make_case(tmp_path, 1_000, 0, [*POLICIES, p1_terms])
    data = model.parent / "depot-1000-data"
    p1 = pd.read_csv(TINY / "products.csv").iloc[0].to_dict()
    pd.DataFrame([PRODUCT, p1]).to_csv(data / "products.csv", index=False)
    plants = pd.read_csv(data / "plants.csv")
    plants["products"] = "a1;p1"
    plants.to_csv(data / "plants.csv", index=False)
    model.write_text(model.read_text() + "finance:\n  pooled_depots: true\n" + extra)
    return model


def staged_settings(case, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """The case's solver settings with the start on for a three-site model, lazily linked
    (the staged start belongs to the cut loop's models), two threads (its bound comes from
    the worker on the second core), gap 0."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    case.config.solver.strong_linking = "lazy"
    return case.config.solver.model_copy(update={"threads": 2, "mip_gap": 0.0})


@pytest.fixture(scope="module")
def plain_optimum(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The case's optimum by HiGHS alone (no start, gap 0): what every start must reach."""
    case = load_case(two_product_case(tmp_path_factory.mktemp("plain")))
    case.config.solver.strong_linking = "lazy"
    settings = case.config.solver.model_copy(
        update={"threads": 2, "mip_gap": 0.0, "warm_start": False})
    reference = highs.solve_model(build_model(prepare(case)), settings, time_limit=60.0)
    assert reference.start == "none"
    return reference.objective


def test_the_stocked_product_and_depot_stock_are_placed_second(tmp_path: Path) -> None:
    """`a1` can only be stocked at S1 and S2 (each option holds stock): it is deferred; `p1`
    is shipped per patient: it is not. The first step closes a1's offers and P1's stock and
    nothing else; the second holds p1's offers and the open hubs and sites of a network (a
    closed hub may open to pool stock)."""
    m = build_model(prepare(load_case(two_product_case(tmp_path))))
    later = deferred(m)
    assert later == Deferred(products=("a1",), depots=True)
    assert later.describe() == "a1 and depot stock"
    closed = first_step(m, later)
    assert set(closed) == {"w", "hold"}
    assert set(closed["w"]) == {sk for sk in m.SK if sk[1] == "a1"} and closed["w"]
    assert set(closed["w"].values()) == {0} and set(closed["hold"].values()) == {0}
    assert set(closed["hold"]) == set(m.hold)
    network = {"y": {"S1": 1, "S2": 0}, "w": {("S1", "p1"): 1, ("S2", "p1"): 0,
                                             ("S1", "a1"): 0}, "g": {"H1": 1, "H2": 0},
               "o": {("S1", "oncology"): 1}, "hold": {("partner", "P1", "a1"): 0}}
    assert second_step(m, network, later) == {
        "y": {"S1": 1}, "w": {("S1", "p1"): 1, ("S2", "p1"): 0}, "g": {"H1": 1}}


def test_nothing_is_deferred_where_the_first_step_could_not_leave_patients_out(
        tmp_path: Path) -> None:
    """The first step leaves a1's patients unserved: without `allow_unserved`, with a
    service share or with a KOL rule it could be infeasible, so the usual start runs."""
    for extra in ("service:\n  allow_unserved: false\n",
                  "service:\n  min_share: 0.5\n  within_km: 300\n",
                  "kols:\n  mode: require\n"):
        root = tmp_path / str(abs(hash(extra)))
        root.mkdir()
        m = build_model(prepare(load_case(two_product_case(root, extra))))
        assert deferred(m) is None, extra


def test_a_model_of_stocked_products_only_has_no_first_network(tmp_path: Path) -> None:
    """With `a1` alone and no pooling there is nothing to design first."""
    model = make_case(tmp_path, 1_000, 0)
    m = build_model(prepare(load_case(model)))
    assert deferred(m) is None


def test_the_staged_start_reaches_the_whole_models_optimum(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_optimum: float) -> None:
    """Solved with the staged start and without any start (HiGHS alone, gap 0), the network
    costs the same; the account names both steps, and a1 is pooled at P1 (the cheap
    partner) with both sites drawing on it."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    m = build_model(prepare(case))
    info = highs.solve_model(m, settings, time_limit=60.0)
    assert info.start == "staged" and info.status == "optimal"
    names = [s["stage"] for s in info.stages]
    assert names[0] == "step 1: linking cut loop" and "step 2: linking cut loop" in names
    assert names[-1] == "full MIP"
    assert pyo.value(m.hold["partner", "P1", "a1"]) == pytest.approx(1.0)
    assert info.objective == pytest.approx(plain_optimum, rel=1e-9)


def test_each_step_leaves_the_model_as_it_found_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bound a step set is given back: after the solve, each decision has the bounds
    it was built with (a caller's model, a notebook's or a batch's, is not left restricted)."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    m = build_model(prepare(case))
    built = {id(v): (v.lb, v.ub) for v in m.component_data_objects(pyo.Var)}
    highs.solve_model(m, settings, time_limit=60.0)
    assert {id(v): (v.lb, v.ub) for v in m.component_data_objects(pyo.Var)} == built


def test_the_first_step_leaves_the_stocked_products_patients_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 1 serves p1 and leaves a1's 30 patients (10 in Z1, 20 in Z2) unserved at their
    lost margin, $200k - $30k COGS each, with no depot holding stock."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    m = build_model(prepare(case))
    held = hold(m, first_step(m, deferred(m)))
    try:
        res = highs._run(highs._Highs(), m, settings, False, 60.0, solver="choose")
    finally:
        release(held)
    res.solution_loader.load_vars()
    assert sum(v.value for v in m.u.values()) == pytest.approx(30.0)
    assert pyo.value(m.cost_terms["unserved_penalty"]) * 1000 == pytest.approx(30 * 170_000)
    assert all(v.value == pytest.approx(0.0) for v in m.hold.values())


def test_with_minutes_left_the_whole_model_gets_the_one_step_start_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_optimum: float) -> None:
    """With STAGED_WHOLE_SECONDS left after the steps, the one-step start runs on the whole
    model as well (its cut loop's LP, unlike the steps', bounds the MIP) and the cheaper
    network goes on; the optimum is the same."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    m = build_model(prepare(case))
    info = highs.solve_model(m, settings, time_limit=highs.STAGED_WHOLE_SECONDS + 60.0)
    names = [s["stage"] for s in info.stages]
    assert "whole model: linking cut loop" in names
    assert "whole model: rounded network" in names and "whole model: strict kernel" in names
    assert names.index("whole model: linking cut loop") > max(
        i for i, n in enumerate(names) if n.startswith("step 2: "))
    loop = next(s for s in info.stages if s["stage"] == "whole model: linking cut loop")
    assert loop["objective"] <= info.objective + 1e-6
    assert info.bound <= info.objective + 1e-6 and info.status == "optimal"
    assert info.objective == pytest.approx(plain_optimum, rel=1e-9)


def test_a_model_a_long_start_stages_hands_its_dive_to_the_search_for_longer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between DIVE_SEARCH_SECONDS and STAGED_DIVE_SEARCH_SECONDS a start hands its dive to
    the search only on a model a longer start would stage: with one thread (no staged
    start) the same model's start runs its kernels from the same mark as the default's."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    m = build_model(prepare(case))
    between = (highs.DIVE_SEARCH_SECONDS + highs.STAGED_DIVE_SEARCH_SECONDS) / 2
    assert highs.DIVE_SEARCH_SECONDS < between < highs.STAGED_DIVE_SEARCH_SECONDS
    assert highs._dive_searched(m, settings, between)
    assert not highs._dive_searched(m, settings, highs.STAGED_DIVE_SEARCH_SECONDS)
    alone = settings.model_copy(update={"threads": 1})
    assert highs._dive_searched(m, alone, highs.DIVE_SEARCH_SECONDS - 1.0)
    assert not highs._dive_searched(m, alone, between)


@pytest.mark.parametrize("limit", [highs.STAGED_DIVE_SEARCH_SECONDS - 10.0,
                                   highs.STAGED_DIVE_SEARCH_SECONDS + 10.0])
def test_a_start_that_hands_its_dive_to_the_search_is_not_staged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_optimum: float,
        limit: float) -> None:
    """On a model the neighbourhood search takes (here any size), a limit too short for the
    kernels after the dive (under STAGED_DIVE_SEARCH_SECONDS) gets one start on the whole
    model: its cut loop, the LP dive, no step. A longer one is staged as before. The optimum
    is the same either way."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    # the whole model's start after the steps is another test's (above)
    monkeypatch.setattr(highs, "STAGED_WHOLE_SECONDS", math.inf)
    m = build_model(prepare(case))
    info = highs.solve_model(m, settings, time_limit=limit)
    names = [s["stage"] for s in info.stages]
    staged = limit >= highs.STAGED_DIVE_SEARCH_SECONDS
    assert any(n.startswith("step 1: ") for n in names) == staged
    assert (names[0] == "linking cut loop" and "LP dive" in names) == (not staged)
    assert info.start == ("staged" if staged else "kernel")
    assert info.objective == pytest.approx(plain_optimum, rel=1e-9)


def _bounds_and_rows(h) -> dict:  # noqa: ANN001
    """The column bounds and the row count of the model HiGHS object `h` holds."""
    lp = model_arrays(h)
    return {"lower": lp["col_lower"].copy(), "upper": lp["col_upper"].copy(),
            "rows": lp["num_row"]}


def _deferred_columns(m: pyo.ConcreteModel, solver: highs._Highs) -> list[int]:
    """HiGHS's columns of what step 1 closes: a1's offers and every depot's stock."""
    column = solver._pyomo_var_to_solver_var_map
    return [column[id(v)] for v in (*(m.w[sk] for sk in m.SK if sk[1] == "a1"),
                                    *m.hold.values())]


class _CopyOnly:
    """What BoundWorker reads from HiGHS, without a child process: the column bounds and
    the rows of each copy, in `made`; `stop` returns a bound of its own (its order)."""

    made: list = []

    def __init__(self, h, seconds: float, seed: int,  # noqa: ANN001, ARG002
                 kernel_follows: bool = False, tighten=None) -> None:  # noqa: ANN001, ARG002
        self.copy = _bounds_and_rows(h)
        self.stopped = False
        type(self).made.append(self)

    def stop(self) -> float:
        self.stopped = True
        return float(type(self).made.index(self))


def _staged_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: float,
                start: Callable | None = None
                ) -> tuple[pyo.ConcreteModel, highs._Highs, list[dict], tuple]:
    """The depot case's staged start alone, with copy-only workers (and `start` in place of
    `mip_start` if given); returns the model, the solver, what each step's MIPs saw (column
    bounds, rows) and the start's result."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    m = build_model(prepare(case))
    steps: list[dict] = []
    real_start = start or highs.mip_start

    def steps_see(solver, model, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        steps.append({**_bounds_and_rows(solver._solver_model),
                      "workers": len(_CopyOnly.made)})
        return real_start(solver, model, *args, **kwargs)

    monkeypatch.setattr(_CopyOnly, "made", [])
    monkeypatch.setattr(highs, "BoundWorker", _CopyOnly)
    monkeypatch.setattr(highs, "mip_start", steps_see)
    solver = highs._Highs()
    solver.set_instance(m)
    result = highs._staged_start(solver, m, settings, False, limit, deferred(m), False)
    return m, solver, steps, result


def test_the_worker_starts_on_the_whole_model_and_restarts_with_step_2s_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's first copy of the model is taken once step 1's loop has added its rows,
    the second once step 2's has (the deferred product's and the depot's rows hold for the
    whole model): each holds every row HiGHS holds then, and every decision its step held is
    free in it, so its bound is the whole model's; the steps' own MIPs still run restricted
    (the bounds are put back in HiGHS, not only in Pyomo). The first worker is stopped and
    its bound handed back."""
    m, solver, steps, (start, worker, replaced) = _staged_run(tmp_path, monkeypatch, 60.0)
    first, second = _CopyOnly.made
    assert start is not None and worker is second and first.stopped
    assert replaced == 0.0  # the first worker's bound
    assert [step["workers"] for step in steps[:1]] == [1]  # step 1's MIPs beside the first
    step_1 = steps[0]
    step_2 = next(step for step in steps if step["workers"] == 2)
    deferred_cols = _deferred_columns(m, solver)
    column = solver._pyomo_var_to_solver_var_map
    held_in_2 = [column[id(m.w[sk])] for sk in m.SK if sk[1] == "p1"]
    assert (step_1["upper"][deferred_cols] == 0).all()  # step 1 closes a1 and the depots
    assert (first.copy["upper"][deferred_cols] == 1).all()
    assert (step_2["lower"][held_in_2] == step_2["upper"][held_in_2]).all()  # p1 held
    assert (second.copy["lower"][held_in_2] == 0).all()
    assert (second.copy["upper"][held_in_2] == 1).all()
    assert (second.copy["upper"][deferred_cols] == 1).all()
    assert first.copy["rows"] == step_1["rows"] <= second.copy["rows"] == step_2["rows"]


def test_with_little_time_left_after_step_2s_loop_the_first_worker_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new worker needs its root first: with less than RESTART_WORKER_SECONDS left after
    step 2's loop, the first one goes on proving and nothing is replaced."""
    monkeypatch.setattr(highs, "RESTART_WORKER_SECONDS", 1e9)
    _, _, _, (start, worker, replaced) = _staged_run(tmp_path, monkeypatch, 60.0)
    assert start is not None and _CopyOnly.made == [worker] and not worker.stopped
    assert replaced is None


def test_when_step_1_finds_no_network_the_worker_proves_from_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network from step 1, so no step 2: the worker made after step 1's loop, on the
    whole model (the deferred decisions free), is handed back for the one-step start that
    follows."""
    m, solver, _, (start, worker, replaced) = _staged_run(
        tmp_path, monkeypatch, 60.0, start=lambda *args, **kwargs: (None, None))
    assert start is None and replaced is None and _CopyOnly.made == [worker]
    freed = _deferred_columns(m, solver)
    assert (worker.copy["upper"][freed] == 1).all() and not worker.stopped
    assert [st["stage"] for st in solver.stages] == ["step 1: linking cut loop"]


def test_with_one_thread_the_usual_start_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither step bounds the whole model: without a second core for the worker, the
    staged start would end with no bound, so the one-step start (its cut loop's LP a bound)
    runs instead."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch).model_copy(update={"threads": 1})
    info = highs.solve_model(build_model(prepare(case)), settings, time_limit=60.0)
    assert info.start == "kernel" and info.stages[0]["stage"] == "linking cut loop"
    assert info.bound is not None


def test_when_the_steps_find_no_network_the_one_step_start_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_optimum: float) -> None:
    """Should step 1 find nothing, the time left goes to the one-step start on the whole
    model, recorded as the kernel start, and the optimum is the same."""
    case = load_case(two_product_case(tmp_path))
    settings = staged_settings(case, monkeypatch)
    monkeypatch.setattr(highs, "_staged_steps", lambda *a, **k: (None, None, None))
    m = build_model(prepare(case))
    info = highs.solve_model(m, settings, time_limit=60.0)
    assert info.start == "kernel"
    assert [s["stage"] for s in info.stages][0] == "whole model: linking cut loop"
    assert info.objective == pytest.approx(plain_optimum, rel=1e-9)


def test_hold_leaves_a_decision_a_caller_holds_alone(tmp_path: Path) -> None:
    """A staged start's second step holds S1's p1 offer open; a network rounded within it
    that closes the offer must not override that (HiGHS then rejects the next start), while
    a free decision is held and given back."""
    m = build_model(prepare(load_case(two_product_case(tmp_path))))
    offer, other = m.w["S1", "p1"], m.w["S2", "p1"]
    outer = hold(m, {"w": {("S1", "p1"): 1}})
    inner = hold(m, {"w": {("S1", "p1"): 0, ("S2", "p1"): 0}})
    assert (offer.lb, offer.ub) == (1, 1) and (other.lb, other.ub) == (0, 0)
    release(inner)
    assert (offer.lb, offer.ub) == (1, 1) and (other.lb, other.ub) == (0, 1)
    release(outer)
    assert (offer.lb, offer.ub) == (0, 1)
