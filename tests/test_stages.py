"""The solve's account of its stages (SolveInfo.stages, summary.json `stages` and
`stopped_by_clock`): what ran, why each stage ended, and whether the clock chose the network."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import highspy
import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.results.pipeline import solve_case
from netopt.solver import highs
from netopt.solver.info import CLOCK, SolveInfo, highs_threads

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "models" / "us-small.yaml"
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _knapsack(**options: object) -> highspy.Highs:
    """A 30-item 0-1 knapsack run with `options`: small enough to end on any status asked."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # through netopt's scheduler bookkeeping: a later solve in this process asks its own count
    h.setOptionValue("threads", highs_threads(1))
    rng = np.random.default_rng(1)
    weight = rng.integers(10, 60, 30).astype(float)
    for i, value in enumerate(weight + rng.integers(0, 10, 30)):
        h.addVar(0, 1)
        h.changeColCost(i, -float(value))
        h.changeColIntegrality(i, highspy.HighsVarType.kInteger)
    h.addRow(-highspy.kHighsInf, float(weight.sum() // 2), 30,
             np.arange(30, dtype=np.int32), weight)
    for name, value in options.items():
        h.setOptionValue(name, value)
    h.run()
    return h


def test_a_stage_ends_in_the_words_of_highs_model_status() -> None:
    def words(h: object, stopped: bool = False) -> str:
        return highs._stopped(SimpleNamespace(_solver_model=h, stopped=stopped))

    assert words(_knapsack()) == "optimal"
    assert words(_knapsack(time_limit=0.0)) == CLOCK
    assert words(_knapsack(mip_max_improving_sols=1, presolve="off")) == "solution limit"

    class Interrupted:  # HiGHS's status after an interrupt callback said stop
        def getModelStatus(self) -> highspy.HighsModelStatus:  # noqa: N802 - HiGHS's name
            return highspy.HighsModelStatus.kInterrupt

    assert words(Interrupted(), stopped=True) == CLOCK  # netopt's own deadline
    assert words(Interrupted(), stopped=False) == "interrupted"  # Ctrl-C


def test_a_cut_loop_out_of_time_is_a_stage_ended_by_the_clock() -> None:
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    m = build_model(prepare(case))
    solver = highs._Highs()
    assert highs.separate_linking(solver, m, case.config.solver, False, 0.3) is None
    assert [(s["stage"], s["stopped"], s["objective"]) for s in solver.stages] == [
        ("linking cut loop", CLOCK, None)]
    info = SolveInfo(status="feasible", termination="maxTimeLimit", objective=1.0, bound=None,
                     gap=None, solve_seconds=0.3, stages=solver.stages)
    assert info.stopped_by_clock == ["linking cut loop"]


def test_us_small_kernel_start_ends_every_stage_on_its_own_criterion(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With minutes to spare every stage of the kernel start ends on its own criterion, so
    nothing is left to the machine's speed; each network stage's objective is a network the
    full MIP started from, so none is below the answer, and the cut loop's LP is below it."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    settings = case.config.solver
    settings.threads = 1  # no bound worker: its time does not matter here
    info = highs.solve_model(build_model(prepare(case)), settings, time_limit=300.0)
    names = [s["stage"] for s in info.stages]
    assert names[:5] == ["linking cut loop", "rounded network", "LP dive", "dived network",
                         "narrow kernel"]
    assert "strict kernel" in names and names[-1] == "full MIP"
    assert {s["stopped"] for s in info.stages} <= {
        "converged", "stalled", "optimal", "solution limit", "integral"}
    assert info.stopped_by_clock == []
    loop, *stages = info.stages
    networks = [s for s in stages if s["stage"] != "LP dive"]  # the dive's is an LP
    assert loop["objective"] <= info.objective * (1 + 1e-9)
    assert all(s["objective"] >= info.objective * (1 - 1e-9) for s in networks)
    assert info.stages[-1]["stopped"] == "optimal" and info.status == "optimal"
    assert sum(s["seconds"] for s in info.stages) <= info.solve_seconds


def test_summary_records_the_stages_in_usd() -> None:
    """tiny on the MILP path (under 60 sites: no kernel start): one stage, the full MIP, to
    its optimum."""
    case = load_case(TINY)
    case.config.solver.method = "milp"
    result = solve_case(case)
    s = result.summary
    assert [(st["stage"], st["stopped"]) for st in s["stages"]] == [("full MIP", "optimal")]
    assert s["stages"][0]["objective_usd"] == pytest.approx(s["objective_usd"], rel=1e-9)
    assert s["stopped_by_clock"] == []


def test_a_result_folder_read_back_keeps_the_stages(tmp_path: Path) -> None:
    from netopt.results.tables import Results

    case = load_case(TINY)
    case.config.solver.method = "milp"
    result = solve_case(case)
    result.write(tmp_path)
    back = Results.read(tmp_path).info
    assert [(s["stage"], s["stopped"]) for s in back.stages] == [("full MIP", "optimal")]
    assert back.stages[-1]["objective"] == pytest.approx(result.info.objective, rel=1e-9)
    assert back.stopped_by_clock == []


def test_aggregation_reports_the_relaxation_stages_that_chose_its_network() -> None:
    """The aggregated relaxation chooses the network the fine model is priced at: its stages
    come first, named as such, then the pricing solve's."""
    from netopt.solver.aggregation import solve_by_aggregation

    case = load_case(TINY)
    case.config.solver.method = "milp"
    found = solve_by_aggregation(prepare(case), case.config.solver)
    assert found.stages and all(s["stage"].startswith("relaxation: ") for s in found.stages)
    _, info = found.solved
    assert info.method == "aggregation"
    assert info.stages[:len(found.stages)] == found.stages
    assert info.stages[-1]["stage"] == "full MIP"


def test_the_pricing_searches_only_where_no_whole_milp_would_follow(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The pricing searches its ordering options to the end of the limit only when it starts
    past `search_after` of the limit; one that starts sooner ends at its gap, leaving the
    pipeline the time for the whole MILP from the network (tiny's relaxation ends at once)."""
    from netopt.solver import aggregation

    priced = aggregation._priced_network
    searched = []

    def recorded(*args: object) -> object:
        searched.append(args[-1])
        return priced(*args)

    monkeypatch.setattr(aggregation, "_priced_network", recorded)
    case = load_case(TINY)
    for after in (0.0, 1.0):
        aggregation.solve_by_aggregation(prepare(case), case.config.solver, search_after=after)
    assert searched == [True, False]


def test_a_held_networks_solve_searches_its_ordering_options_when_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small's optimal design held (as the aggregation's pricing holds its network; the
    search's pair threshold lowered to take it): with `search_held` the completed LP's
    network is searched, then the full MIP confirms it; without, no search (a held solve
    has no design to search)."""
    from netopt.solver.network_start import hold, network_of

    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    case = load_case(SMALL)
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    optimum = highs.solve_model(m := build_model(prepare(case)), settings)
    design = {name: values for name, values in network_of(m).items() if name != "z"}
    for search in (True, False):
        held = build_model(prepare(case))
        hold(held, design)
        info = highs.solve_model(held, highs.held_settings(settings), search_held=search)
        stages = [s["stage"] for s in info.stages]
        assert (highs.NEIGHBOURHOOD_STAGE in stages) == search
        assert stages[:2] == ["linking cut loop", "completed LP"]
        assert info.objective == pytest.approx(optimum.objective, rel=1e-6)


def test_other_solvers_leave_the_clock_question_open() -> None:
    """No stage account (other solvers): stopped_by_clock is null, not an empty 'none'."""
    from netopt.results.tables import summary_dict

    info = SolveInfo(status="optimal", termination="convergenceCriteriaSatisfied",
                     objective=1.0, bound=1.0, gap=0.0, solve_seconds=1.0, solver="gurobi")
    case = load_case(TINY)
    result = solve_case(case)  # any solved tables: the summary only reads the info's account
    summary = summary_dict(result.tables, prepare(case), info)
    assert summary["stages"] == [] and summary["stopped_by_clock"] is None


def test_a_full_mip_without_a_start_first_completes_the_cut_loops_lp() -> None:
    """No kernel start (warm_start off, as evaluate and the aggregation's pricing run): the
    cut loop's fractional LP is completed by a MIP over its fractional decisions as a stage
    of its own, and the full MIP starts from that network, so it can only improve it; the
    optimum is the fully linked model's."""
    case = load_case(SMALL)
    settings = case.config.solver
    settings.strong_linking, settings.warm_start, settings.mip_gap = "lazy", False, 1e-6
    info = highs.solve_model(build_model(prepare(case)), settings, time_limit=300.0)
    assert [s["stage"] for s in info.stages] == ["linking cut loop", "completed LP",
                                                 "full MIP"]
    loop, completed, full = info.stages
    assert completed["stopped"] == "optimal" and full["stopped"] == "optimal"
    assert loop["objective"] <= info.objective * (1 + 1e-9) <= completed["objective"] * (
        1 + 1e-9)
    settings.strong_linking = True  # every pair linked: no cut loop
    reference = highs.solve_model(build_model(prepare(case)), settings, time_limit=300.0)
    assert info.objective == pytest.approx(reference.objective, rel=1e-6)


def test_the_completion_holds_the_lps_integral_decisions_and_frees_the_rest() -> None:
    import pyomo.environ as pyo

    from netopt.solver.kernel import restrict_to_integral
    from netopt.solver.network_start import release

    m = pyo.ConcreteModel()
    m.b = pyo.Var(range(4), domain=pyo.Binary)
    m.n = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 9))
    m.c = pyo.Var(bounds=(0, 5))
    for i, value in enumerate((0.0, 1.0 - 1e-9, 0.4, 1.0)):
        m.b[i].set_value(value, skip_validation=True)
    m.b[3].fix()
    m.n.set_value(3.0)
    m.c.set_value(2.0)
    held = restrict_to_integral(m, 1e-6)
    assert [(v.name, v.lb, v.ub) for v, _, _ in held] == [("b[0]", 0, 0), ("b[1]", 1, 1),
                                                          ("n", 3, 3)]
    assert (m.b[2].lb, m.b[2].ub, m.c.lb, m.c.ub) == (0, 1, 0, 5)  # fractional, continuous
    release(held)
    assert [(m.b[i].lb, m.b[i].ub) for i in (0, 1)] == [(0, 1), (0, 1)] and m.n.ub == 9
