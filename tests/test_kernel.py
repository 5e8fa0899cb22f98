"""Kernel search for the MIP start (solver/kernel.py, highs.mip_start): what the kernel
closes and holds, hand-checked, and the start path on us-small against its proven optimum."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pyomo.environ as pyo
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs
from netopt.solver.kernel import restrict_to_closing, restrict_to_kernel
from netopt.solver.network_start import hold, release
from tests.test_depots import two_hub_stock_case

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


def test_narrow_kernel_leaves_hubs_a_choice_but_still_closes_unused_ones() -> None:
    """The narrow kernel (agreement 0.2) holds a site the LP and the start agree on, but
    never a hub: a hub at 0.5 in the LP that the start opened stays a choice, one neither
    uses is still closed."""
    m = _sites_and_hubs()
    lp = {id(m.y["S1"]): 0.5, id(m.g["H1"]): 0.5, id(m.g["H2"]): 0.0}
    start = {id(m.y["S1"]): 1.0, id(m.g["H1"]): 1.0, id(m.g["H2"]): 0.0}
    restricted = restrict_to_kernel(m, lp, start, threshold=0.02, agree=0.2,
                                    never_held=highs.NARROW_NEVER_HELD)
    assert (m.y["S1"].lb, m.y["S1"].ub) == (1, 1)
    assert (m.g["H1"].lb, m.g["H1"].ub) == (0, 1)
    assert (m.g["H2"].lb, m.g["H2"].ub) == (0, 0)
    release(restricted)
    held = restrict_to_kernel(m, lp, start, threshold=0.02, agree=0.2)  # as before
    assert (m.g["H1"].lb, m.g["H1"].ub) == (1, 1)
    release(held)


def test_closing_restriction_closes_only_what_the_start_does_not_use() -> None:
    """The closing MIP's neighbourhood is the start's subsets: every design decision the start
    leaves at 0 is closed, every one it uses stays a choice (it may close), fixed ones and
    flows are left alone."""
    m = _sites_and_hubs()
    m.x = pyo.Var(["S1", "S2"], bounds=(0, None))  # a flow, not a design decision
    start = {id(m.y["S1"]): 1.0, id(m.y["S2"]): 0.0, id(m.y["S3"]): 1.0, id(m.y["S4"]): 0.0,
             id(m.g["H1"]): 1.0, id(m.g["H2"]): 0.0, id(m.x["S2"]): 5.0}
    restricted = restrict_to_closing(m, start)
    bounds = {v.name: (v.lb, v.ub) for v in [*m.y.values(), *m.g.values()]}
    assert bounds == {"y[S1]": (0, 1), "y[S2]": (0, 0), "y[S3]": (0, 1), "y[S4]": (0, 0),
                      "y[S5]": (0, 1), "g[H1]": (0, 1), "g[H2]": (0, 0)}
    assert all((v.lb, v.ub) == (0, None) for v in m.x.values())
    assert len(restricted) == 3
    release(restricted)
    assert all((v.lb, v.ub) == (0, 1) for v in [*m.y.values(), *m.g.values()])


@pytest.mark.parametrize("restrict", ["kernel", "closing", "hold"])
def test_bounds_given_back_stay_numbers_however_often_a_model_is_restricted(
        restrict: str) -> None:
    """A solve restricts and releases the same decisions once per stage, and explain, N-1
    and scenario batches solve one model many times. What is given back is the bound's value:
    Pyomo's `lower` of a binary is an expression (its domain's bound and the one set), and
    giving that back nested it one level deeper each time (3,000 releases: minutes, then a
    recursion error reading the bound). After one cycle and after many, the same bound."""
    m = _sites_and_hubs()
    lp = {id(m.y["S1"]): 1.0}
    start = {id(m.y["S1"]): 1.0, id(m.g["H1"]): 1.0}
    restrictions = {"kernel": lambda: restrict_to_kernel(m, lp, start, 0.02, 0.99),
                    "closing": lambda: restrict_to_closing(m, start),
                    "hold": lambda: hold(m, {"y": {"S1": 1, "S2": 0}, "g": {"H1": 1}})}
    decisions = [*m.y.values(), *m.g.values()]
    after_one = None
    for cycle in range(50):
        held = restrictions[restrict]()
        assert held
        release(held)
        if cycle == 0:
            after_one = {v.name: (str(v.lower), str(v.upper)) for v in decisions}
    for v in decisions:
        assert (v.lb, v.ub) == (0, 1)
        assert (str(v.lower), str(v.upper)) == after_one[v.name]  # no deeper than once


class _StopsAfter(dict):
    """A start (or network) whose lookups raise KeyboardInterrupt after `calls` of them: a
    Ctrl-C arriving while a restriction is half set."""

    def __init__(self, values: dict, calls: int) -> None:
        super().__init__(values)
        self.calls = calls

    def _tick(self) -> None:
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt

    def get(self, key, default=None):  # noqa: ANN001, ANN204
        self._tick()
        return super().get(key, default)

    def __contains__(self, key) -> bool:  # noqa: ANN001
        self._tick()
        return super().__contains__(key)


@pytest.mark.parametrize("restrict", ["kernel", "closing", "hold"])
def test_a_restriction_stopped_midway_gives_every_bound_back(restrict: str) -> None:
    """Interrupted after it has replaced some bounds (two or more by the time it stops), the
    restriction gives their bounds back before the exception leaves it: the model is as it
    was, whatever a caller that keeps it does next."""
    m = _sites_and_hubs()
    start = {id(m.y["S1"]): 1.0, id(m.g["H1"]): 1.0}
    if restrict == "kernel":
        def run() -> list:
            return restrict_to_kernel(m, {}, _StopsAfter(start, 3), threshold=0.02, agree=0.99)
    elif restrict == "closing":
        def run() -> list:
            return restrict_to_closing(m, _StopsAfter(start, 4))
    else:
        network = {"y": _StopsAfter({"S1": 1, "S2": 0, "S3": 0, "S4": 0}, 2)}

        def run() -> list:
            return hold(m, network)
    with pytest.raises(KeyboardInterrupt):
        run()
    assert {v.name: (v.lb, v.ub) for v in [*m.y.values(), *m.g.values()]} == {
        f"{n}": (0, 1) for n in ("y[S1]", "y[S2]", "y[S3]", "y[S4]", "y[S5]", "g[H1]", "g[H2]")}
    # the same calls with room to finish do restrict (the test would pass vacuously else)
    start_ok = _StopsAfter(start, 10**6)
    done = {"kernel": lambda: restrict_to_kernel(m, {}, start_ok, 0.02, 0.99),
            "closing": lambda: restrict_to_closing(m, start_ok),
            "hold": lambda: hold(m, {"y": {"S1": 1, "S2": 0, "S3": 0, "S4": 0}})}[restrict]()
    assert len(done) >= 3
    release(done)


@pytest.fixture(scope="module")
def small_optimal(small_optimum_solution):  # noqa: ANN001, ANN201 - Results (conftest.py)
    return copy.deepcopy(small_optimum_solution)


@pytest.fixture(scope="module")
def small_optimum(small_optimal) -> float:  # noqa: ANN001
    return float(small_optimal.summary["objective"])


def test_closing_mip_drops_the_surplus_added_to_the_optimum(
        small_optimal, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """us-small's optimal network plus a surplus (every hub it does not use, and one more
    site) is a start whose subsets include the optimum: the closing MIP, solved to its proof,
    closes the surplus and returns the optimum's cost."""
    monkeypatch.setattr(highs, "KERNEL_GAP", 1e-6)
    case = load_case(SMALL)
    settings = case.config.solver
    settings.mip_gap = 1e-6
    m = build_model(prepare(case))
    network = {name: dict(values) for name, values in small_optimal.network.items()}
    extra_hubs = [h for h, v in network["g"].items() if not v and not m.g[h].fixed]
    extra_site = next(s for s, v in sorted(network["y"].items()) if not v and not m.y[s].fixed)
    assert extra_hubs
    network["g"].update(dict.fromkeys(extra_hubs, 1))
    network["y"][extra_site] = 1
    solver = highs._Highs()
    solver.start = highs.network_start(solver, m, settings, False, 60.0, network)
    assert solver.start is not None
    padded = pyo.value(m.obj)
    optimum = float(small_optimal.summary["objective"]) / 1000  # model money is k$
    assert padded > optimum * (1 + 1e-4)
    assert highs._closing_mip(solver, m, settings, False, solver.start, 120.0) is not None
    assert math.isclose(pyo.value(m.obj), optimum, rel_tol=1e-6)
    assert all(m.g[h].value < 0.5 for h in extra_hubs) and m.y[extra_site].value < 0.5
    assert all(m.y[s].ub == 1 for s in m.y if not m.y[s].fixed)  # bounds given back


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
    optimum = small_optimum / 1000
    assert bound <= optimum * (1 + 1e-9)
    assert optimum <= kernel_cost * (1 + 1e-9)
    solver.start = start
    res = highs._run(solver, m, settings, False, 300.0, solver="choose")
    assert res.termination_condition.name == "convergenceCriteriaSatisfied"
    assert math.isclose(res.incumbent_objective * 1000, small_optimum, rel_tol=1e-6)


def test_kernel_closes_the_depot_stock_that_pays_least(tmp_path: Path) -> None:
    """Two locked hubs, H1 beside S1 (10 patients) and H2 beside S2 (20), every dose from a
    hub's stock. The LP relaxation holds a third of H1's stock and two thirds of H2's: each
    pays that share of its fixed part and looks cheap, so the rounded start holds both. The
    kernel keeps both a choice and its MIP closes one: pooled at one hub, the 30 patients
    cost less than two stocks at 10 and 20. By hand, from the depots' cost lines (c_H(n) at
    n pooled patients; 20 lies halfway on H2's 10-30 segment) and the lanes (one shipment a
    dose, $300 handling at either hub), closing H2's stock saves
    c_H1(10) + c_H2(20) - c_H1(30) - 20 x (S2's lane via H1 - via H2) a year against holding
    both, more than closing H1's (the drop search's first try, the stock the LP held least):
    c_H1(10) + c_H2(20) - c_H2(30) - 10 x (S1's lane via H2 - via H1)."""
    case = load_case(two_hub_stock_case(tmp_path))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    m = build_model(prepare(case))
    solver = highs._Highs()
    res = highs._run(solver, m, settings, False, 60.0, solve_relaxation=True, solver="simplex")
    res.solution_loader.load_vars()
    h1, h2 = ("hub", "H1", "a1"), ("hub", "H2", "a1")
    assert m.hold[h1].value == pytest.approx(1 / 3) and m.hold[h2].value == pytest.approx(2 / 3)
    lp_values = {id(v): v.value for v in m.component_data_objects(pyo.Var)}
    rounded = {id(m.hold[h1]): 1.0, id(m.hold[h2]): 1.0}

    narrow, strict = highs.KERNEL_AGREE_STEPS
    held = restrict_to_kernel(m, lp_values, rounded, highs.LP_OPEN_THRESHOLD, narrow)
    # the narrow kernel frees only what the LP supports weakly: both stocks are above it
    assert (m.hold[h1].lb, m.hold[h2].lb) == (1, 1)
    release(held)

    def solved() -> float:
        restricted = restrict_to_kernel(m, lp_values, rounded, highs.LP_OPEN_THRESHOLD,
                                        strict)
        try:
            out = highs._run(solver, m, settings, False, 60.0, solver="choose")
        finally:
            release(restricted)
        out.solution_loader.load_vars()
        return float(out.incumbent_objective)

    kernel = solved()  # the strict kernel: neither stock is fully used, both are choices
    assert (round(m.hold[h1].value), round(m.hold[h2].value)) == (1, 0)
    assert (m.hold[h2].lb, m.hold[h2].ub) == (0, 1)  # released after the kernel MIP
    for key in (h1, h2):  # the rounded start's stocks, both held
        m.hold[key].fix(1)
    both = solved()
    for key in (h1, h2):
        m.hold[key].unfix()
    depots = m.prep.depots.set_index(["depot_id", "lo_patients"])
    c_h1_10, c_h1_30 = (depots.at[("H1", n), "cost_lo_usd"] for n in (10.0, 30.0))
    c_h2_20 = (depots.at[("H2", 10.0), "cost_lo_usd"] + depots.at[("H2", 10.0), "cost_hi_usd"]) / 2
    c_h2_30 = depots.at[("H2", 30.0), "cost_lo_usd"]
    lanes = m.prep.direct_lanes.set_index(["site_id", "hub_id"])["cost_usd_per_shipment"]
    close_h2 = c_h1_10 + c_h2_20 - c_h1_30 - 20 * (lanes[("S2", "H1")] - lanes[("S2", "H2")])
    close_h1 = c_h1_10 + c_h2_20 - c_h2_30 - 10 * (lanes[("S1", "H2")] - lanes[("S1", "H1")])
    assert close_h2 > close_h1 > 0
    assert (both - kernel) * 1000 == pytest.approx(close_h2, rel=1e-6)


def test_kernel_closes_depot_stock_neither_the_lp_nor_the_start_holds() -> None:
    """Depot stock is a kernel decision like a hub: closed where neither the LP nor the start
    holds it, held where both do, a choice otherwise."""
    m = pyo.ConcreteModel()
    keys = [("hub", "H1", "a1"), ("hub", "H2", "a1"), ("partner", "P1", "a1")]
    m.hold = pyo.Var(keys, within=pyo.Binary)
    lp = {id(m.hold[keys[0]]): 1.0, id(m.hold[keys[1]]): 0.3, id(m.hold[keys[2]]): 0.0}
    start = {id(m.hold[keys[0]]): 1.0, id(m.hold[keys[1]]): 0.0, id(m.hold[keys[2]]): 0.0}
    restricted = restrict_to_kernel(m, lp, start, threshold=0.02, agree=0.99)
    assert [(m.hold[k].lb, m.hold[k].ub) for k in keys] == [(1, 1), (0, 1), (0, 0)]
    release(restricted)
    assert all((m.hold[k].lb, m.hold[k].ub) == (0, 1) for k in keys)


def test_rounded_start_stops_at_its_first_network_and_no_later_stage_does() -> None:
    """The rounded network is only the kernel's start, so its MIP stops at its first network.
    HiGHS keeps options between the runs of one solve: a limit left behind would stop the
    kernel and the full MIP at their first improving network too."""
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    settings = case.config.solver
    m = build_model(prepare(case))
    solver = highs._Highs()
    highs.separate_linking(solver, m, settings, False, 120.0)  # leaves the LP values loaded
    assert highs._rounded_start(solver, m, settings, False, 60.0) is not None
    _, limit = solver._solver_model.getOptionValue("mip_max_improving_sols")
    assert limit == highs.ROUNDED_SOLUTIONS == 1
    highs._run(solver, m, settings, False, 60.0, solver="choose")
    _, limit = solver._solver_model.getOptionValue("mip_max_improving_sols")
    assert limit == highs.NO_SOLUTION_LIMIT


def test_a_start_that_took_the_limit_is_the_answer_without_another_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kernel start leaves less than a stage's minimum, the full MIP is not run (it
    would take HiGHS's 1-s minimum and its presolve past the limit): the start's network is
    loaded as the answer, with the cut loop's LP as its bound."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    settings = case.config.solver
    settings.threads = 1  # no bound worker: the LP is the only bound
    m = build_model(prepare(case))
    real_start, kernel_cost, full_runs = highs.mip_start, [], []

    def start_to_the_limit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        found = real_start(*args, **kwargs)
        kernel_cost.append(pyo.value(m.obj))
        monkeypatch.setattr(highs, "MIN_STAGE_SECONDS", math.inf)  # as if no time were left
        monkeypatch.setattr(highs, "_run", lambda *a, **k: full_runs.append(k))
        return found

    monkeypatch.setattr(highs, "mip_start", start_to_the_limit)
    info = highs.solve_model(m, settings, time_limit=120.0)
    assert full_runs == []
    assert info.start == "kernel" and info.termination == "maxTimeLimit"
    assert info.stages[-1] == {"stage": "full MIP", "seconds": 0.0, "stopped": "time limit",
                               "objective": None}  # skipped: the clock chose the network
    assert "full MIP" in info.stopped_by_clock
    assert info.objective == pytest.approx(kernel_cost[0], rel=1e-9)
    assert pyo.value(m.obj) == pytest.approx(info.objective, rel=1e-9)  # the network loaded
    assert info.bound <= info.objective and info.gap == pytest.approx(
        (info.objective - info.bound) / info.objective)
    assert info.status == ("optimal" if info.gap <= settings.mip_gap else "feasible")


def test_the_narrow_kernel_stops_at_its_wider_gap_and_every_other_stage_at_the_kernel_gap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrow kernel only hands the strict kernel a start: HiGHS stops it at NARROW_GAP
    (a proven gap, the same in every run; a count of improving networks stopped it far from
    any good network on some seeds). The closing MIPs and the strict kernel run to
    KERNEL_GAP. None of them has a limit on improving networks, and every one runs without
    HiGHS's root reduced-cost heuristic; the next run (the full MIP) has it back."""
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    case.config.solver.mip_gap = 0.001  # tighter than the stages' own gaps
    settings = case.config.solver
    m = build_model(prepare(case))
    solver = highs._Highs()
    lp = highs.separate_linking(solver, m, settings, False, 120.0)
    real_kernel, real_closing, real_run = highs._kernel_mip, highs._closing_mip, highs._run
    limits, stage_now, agree_now = {}, [], []

    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        res = real_run(*args, **kwargs)
        if stage_now:
            highs_model = solver._solver_model
            limits[stage_now[-1], agree_now[-1]] = (
                highs_model.getOptionValue("mip_rel_gap")[1],
                highs_model.getOptionValue("mip_max_improving_sols")[1],
                highs_model.getOptionValue("mip_heuristic_run_root_reduced_cost")[1])
        return res

    def within(stage: str, real):  # noqa: ANN001, ANN202 - a stage's function, wrapped
        def wrapped(*args):  # noqa: ANN002, ANN202
            if stage == "kernel":
                agree_now.append(args[6])  # the kernel's agreement level
            stage_now.append(stage)
            try:
                return real(*args)
            finally:
                stage_now.pop()
        return wrapped

    monkeypatch.setattr(highs, "_run", run)
    monkeypatch.setattr(highs, "_kernel_mip", within("kernel", real_kernel))
    monkeypatch.setattr(highs, "_closing_mip", within("closing", real_closing))
    start, _ = highs.mip_start(solver, m, settings, False, 100.0, lp)
    assert start is not None
    narrow, strict = highs.KERNEL_AGREE_STEPS
    assert settings.mip_gap < highs.KERNEL_GAP < highs.NARROW_GAP  # so each gap is its own
    unlimited = highs.NO_SOLUTION_LIMIT
    assert limits == {("kernel", narrow): (highs.NARROW_GAP, unlimited, False),
                      ("closing", narrow): (highs.KERNEL_GAP, unlimited, False),
                      ("kernel", strict): (highs.KERNEL_GAP, unlimited, False),
                      ("closing", strict): (highs.KERNEL_GAP, unlimited, False)}
    real_run(solver, m, settings, False, 5.0, solver="choose")  # as the full MIP runs
    assert solver._solver_model.getOptionValue("mip_heuristic_run_root_reduced_cost")[1]
