"""The neighbourhood search improves a network one metro at a time, holding the rest, and
stops once its network is proven within the gap (solver/neighbourhoods.py)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from netopt.data.case import Case, load_case
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs, neighbourhoods
from netopt.solver.arrays import model_arrays
from netopt.solver.bound_worker import ChildNetwork
from netopt.solver.network_start import hold, network_of, release
from tests.test_model import TINY

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


def _forced(case: Case, forced: str, site: str = "S2") -> tuple:
    """`case` solved to its optimum, then again with the decision `forced` names (a
    variable of `site`'s offer of p1) at 1: its lower bound 1 in the HiGHS run, released in
    Pyomo after it, as a stage that held it would. Returns the model, its settings and
    solver, the network a search starts from, and the optimum."""
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    solver = highs._Highs()
    highs._run(solver, m, settings, False, 60.0, solver="choose").solution_loader.load_vars()
    optimum = pyo.value(m.obj)
    decision = getattr(m, forced)[site, "p1"]
    assert round(decision.value) == 0
    decision.setlb(1)
    highs._run(solver, m, settings, False, 60.0, solver="choose").solution_loader.load_vars()
    decision.setlb(0)
    return m, settings, solver, highs._loaded_solution(m), optimum


def _tiny_with_s2_forced() -> tuple:
    """tiny with candidate S2 made to offer p1 (`_forced`)."""
    case = load_case(TINY)
    return (case, *_forced(case, "w"))


def test_the_search_reopens_what_a_stopped_solve_got_wrong() -> None:
    """From the forced network the search finds tiny's optimum: S2 closed again, saving its
    fixed cost ($80k a year), its activation and onboarding over 5 years ($200k and $80k)
    and the cold-storage partner P1 ($20k a year) that keeps its cryogenic doses: P1
    delivers to S2 only, so it is freed with S2. The model as HiGHS holds it still has S2's
    offer at 1 (released in Pyomo only): the search reads Pyomo's bounds."""
    case, m, settings, solver, start, optimum = _tiny_with_s2_forced()
    forced = highs._objective(m, start)
    assert round(m.a["P1"].value) == 1
    assert (forced - optimum) * 1000 == pytest.approx(80_000 + 200_000 / 5 + 80_000 / 5
                                                      + 20_000)
    found = highs._neighbourhood_search(solver, m, settings, start, 30.0, None)
    assert highs._objective(m, found) == pytest.approx(optimum, rel=1e-9)
    assert [round(v.value) for v in (m.w["S2", "p1"], m.y["S2"], m.a["P1"])] == [0, 0, 0]
    stage = solver.stages[-1]
    assert stage["stage"] == highs.NEIGHBOURHOOD_STAGE
    assert stage["stopped"] == neighbourhoods.NO_BETTER
    assert stage["objective"] == pytest.approx(optimum, rel=1e-9)


def _model_and_hoods(m: pyo.ConcreteModel, solver: highs._Highs, near: dict | None = None
                     ) -> tuple[dict, neighbourhoods.Neighbourhoods]:
    """The model HiGHS holds at Pyomo's bounds and its neighbourhoods, every site's
    neighbours replaced by `near` if given."""
    arrays = highs.pyomo_bound_arrays(solver)
    hoods = neighbourhoods.neighbourhoods(m, solver._pyomo_var_to_solver_var_map,
                                          arrays["integrality"])
    if near is not None:
        hoods.near = near
    return arrays, hoods


def _recorded_runs(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every HiGHS the search makes for a re-solve, in order (read their options after)."""
    runs = []
    made = neighbourhoods.highs_from_arrays

    def recorded(*args: object) -> object:
        runs.append(made(*args))
        return runs[-1]

    monkeypatch.setattr(neighbourhoods, "highs_from_arrays", recorded)
    return runs


def _search(m: pyo.ConcreteModel, solver: highs._Highs, start: dict,
            near: dict | None = None, order: list[str] | None = None,
            bound: object = None, gap: float = 0.0
            ) -> tuple[neighbourhoods.Searched, neighbourhoods.Neighbourhoods]:
    """The search from `start` on the model HiGHS holds at Pyomo's bounds (a forced decision
    is released there), every site's neighbours replaced by `near` if given, the sites in
    `order` (else all, sorted); with its neighbourhoods."""
    arrays, hoods = _model_and_hoods(m, solver, near)
    return (neighbourhoods.search(arrays, highs._by_column(solver, start), hoods,
                                  order or sorted(hoods.site_columns), float("inf"),
                                  {"threads": 1}, bound, gap), hoods)


def test_what_lies_outside_the_neighbourhood_stays_held() -> None:
    """Only S1 freed (no neighbours): S2's offer is held at 1, so S1's re-solve finds
    nothing cheaper, on the first pass (to FIRST_PASS_GAP) and on the fine pass that
    follows it, which ends the search; with S2 freed, it closes."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    forced = highs._objective(m, start)
    alone, _ = _search(m, solver, start, {"S1": [], "S2": []}, ["S1"])
    assert (alone.solved, alone.improved, alone.stopped) == (2, 0, neighbourhoods.NO_BETTER)
    assert alone.cost == pytest.approx(forced, rel=1e-9)
    freed, _ = _search(m, solver, start, {"S1": [], "S2": []}, ["S1", "S2"])
    # S1 finds nothing, S2 closes, then a whole fine pass (S1, S2) finds nothing more
    assert (freed.solved, freed.improved, freed.position) == (4, 1, 4)
    assert freed.cost == pytest.approx(optimum, rel=1e-9)


def test_a_network_proven_within_the_gap_is_left_as_it_is() -> None:
    """With a bound that proves the start within the gap the search re-solves nothing."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    forced = highs._objective(m, start)
    within, _ = _search(m, solver, start, None, ["S1", "S2"], bound=optimum,
                     gap=(forced - optimum) / forced + 1e-9)
    assert (within.solved, within.stopped) == (0, neighbourhoods.WITHIN_GAP)
    assert not neighbourhoods.within_gap(forced, optimum, (forced - optimum) / forced - 1e-6)


def test_neighbours_share_patients_nearest_first() -> None:
    """tiny's candidate sites that can treat p1 share its demand points; each names the
    other (S3 cannot offer p1 at its price ceiling, so it has no pairs)."""
    m = build_model(prepare(load_case(TINY)))
    assert neighbourhoods.nearest_sites(m) == {"S1": ["S2"], "S2": ["S1"]}
    assert neighbourhoods.nearest_sites(m, count=0) == {"S1": [], "S2": []}


def test_the_search_runs_on_large_design_solves_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiny's forced network with time to spare is searched once the pair threshold allows
    its 2 pairs; not with less than NEIGHBOURHOOD_MIN_SECONDS left, not in a held re-solve
    (warm_start off), not once the bound proves it within the gap, and never on a launch
    timeline's model, whose periods are blocks with no pairs at its top (it has 8 quarters
    of tiny's sites here; before the check, the national timeline's search reached for
    pairs the model does not have)."""
    from netopt.model.calendar import plan_timeline
    from netopt.model.timeline import build_timeline_model
    from tests.test_timeline import tiny

    case, m, settings, _, start, optimum = _tiny_with_s2_forced()
    assert not highs._searches(m, settings, start, 60.0, None)  # 2 pairs of 20,000
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", len(m.P))
    assert highs._searches(m, settings, start, 60.0, None)
    assert not highs._searches(m, settings, start, highs.NEIGHBOURHOOD_MIN_SECONDS - 0.1,
                               None)
    held = settings.model_copy(update={"warm_start": False})
    assert not highs._searches(m, held, start, 60.0, None)
    # the forced network is 39.9 % above the optimum: proven within a 50 % gap, not 30 %
    forced = highs._objective(m, start)
    assert (forced - optimum) / forced == pytest.approx(0.399, abs=5e-4)
    for gap, searched in ((0.5, False), (0.3, True)):
        loose = settings.model_copy(update={"mip_gap": gap})
        assert highs._searches(m, loose, start, 60.0, optimum) is searched
    timeline = build_timeline_model(plan_timeline(prepare(tiny())))
    assert len(timeline.y) > 0 and not hasattr(timeline, "P")
    assert not highs._searches(timeline, settings, {}, 60.0, None)


def test_a_kol_covered_in_the_start_does_not_keep_its_site_open() -> None:
    """tiny with a KOL at S2 and `kols.mode: coverage` at 50 %: the optimum leaves S2
    closed and takes the coverage shortfall. A start that had S2 treat the KOL's product
    (its `kol_treats` held at 1 in the run, released after) is searched back to that
    optimum: the site's KOL decision and the KOL's coverage are freed with S2, else the
    held coverage would keep S2 offering."""
    from tests.test_kols import with_kol
    from tests.test_model import tiny

    case = with_kol(tiny(kols__mode="coverage", kols__min_coverage=0.5), "S2")
    m, settings, solver, start, optimum = _forced(case, "kol_treats")
    assert highs._objective(m, start) > optimum + 100  # $100k a year and more
    found = highs._neighbourhood_search(solver, m, settings, start, 30.0, None)
    assert highs._objective(m, found) == pytest.approx(optimum, rel=1e-9)
    assert [round(v.value) for v in (m.kol_treats["S2", "p1"], m.w["S2", "p1"])] == [0, 0]


def test_a_re_solve_stopped_by_its_cap_says_the_clock_ended_the_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a cap too short for any re-solve to finish, the search finds nothing and says
    `time limit`, not that no neighbourhood improves: the network then depends on the
    machine's speed (summary.json `stopped_by_clock` lists the stage)."""
    _, m, settings, solver, start, _ = _tiny_with_s2_forced()
    monkeypatch.setattr(neighbourhoods, "NEIGHBOURHOOD_SECONDS", 1e-7)
    found = highs._neighbourhood_search(solver, m, settings, start, 30.0, None)
    assert highs._objective(m, found) == pytest.approx(highs._objective(m, start), rel=1e-12)
    assert solver.stages[-1]["stopped"] == neighbourhoods.CLOCK


def _hoods(**partners: tuple) -> neighbourhoods.Neighbourhoods:
    """Three sites A, B, C (A and B share patients; C shares none) with flow columns 0-1,
    2, 3-4, decisions 10-12, and partners given as name=(serves, active column, {site:
    delivery columns}), each owning one decision column from 20 on."""
    made = [neighbourhoods.Partner(frozenset(serves), np.array([20 + j]), active,
                                   {s: np.array(c) for s, c in deliveries.items()})
            for j, (serves, active, deliveries) in enumerate(partners.values())]
    return neighbourhoods.Neighbourhoods(
        {"A": np.array([10]), "B": np.array([11]), "C": np.array([12])},
        np.arange(10, 20 + len(made)), {"A": ["B"], "B": ["A"], "C": []}, made,
        {"A": np.array([0, 1]), "B": np.array([2]), "C": np.array([3, 4])},
        {"A": {"B"}, "B": {"A"}, "C": set()}, np.arange(5))


def test_a_partner_whose_deliveries_stay_in_the_neighbourhood_is_freed_with_it() -> None:
    """A partner that could deliver to A, B and C is freed with a neighbourhood of A and B
    when the network's deliveries (columns 5-7) go to A and B only: it may then close, or
    change its stock, as they change. Not when it also delivers to C, nor when it is
    inactive (it would open for sites it cannot be sure of), nor without a network."""
    network = np.zeros(30)
    network[[20, 5]] = 1.0, 4.0  # active, delivering 4 doses to A
    hoods = _hoods(P=({"A", "B", "C"}, 20, {"A": [5], "B": [6], "C": [7]}))
    assert hoods.freed(["A", "B"], network).tolist() == [10, 11, 20]
    assert hoods.freed(["A", "B"]).tolist() == [10, 11]
    assert hoods.freed(["B"], network).tolist() == [11]  # it delivers to A, outside
    to_c = network.copy()
    to_c[7] = 2.0
    assert hoods.freed(["A", "B"], to_c).tolist() == [10, 11]
    idle = network.copy()
    idle[[20, 5]] = 0.0
    assert hoods.freed(["A", "B"], idle).tolist() == [10, 11]
    # a partner that can deliver to none but the neighbourhood's sites is always freed
    only = _hoods(Q=({"A"}, 20, {"A": [5]}))
    assert only.freed(["A", "B"]).tolist() == [10, 11, 20]


def test_the_flows_of_sites_sharing_no_patients_are_held() -> None:
    """A neighbourhood of A moves A's and B's patients (they share demand points), so it
    holds C's flow columns only; one of C holds A's and B's."""
    hoods = _hoods()
    assert hoods.held_flows(["A"]).tolist() == [3, 4]
    assert hoods.held_flows(["C"]).tolist() == [0, 1, 2]
    assert hoods.held_flows(["A", "C"]).tolist() == []


def test_each_site_owns_its_flows_and_its_points_unserved() -> None:
    """On tiny every patient, lane, delivery, inbound and ordering-volume column and every
    unserved count of a point in reach belongs to a site, and the sites sharing a point
    name each other. S1's columns are its own pairs' (and the unserved patients of their
    points), S2's its own."""
    case = load_case(TINY)
    m = build_model(prepare(case))
    solver = highs._Highs()
    solver.set_instance(m)
    column = solver._pyomo_var_to_solver_var_map
    arrays = model_arrays(solver._solver_model)
    hoods = neighbourhoods.neighbourhoods(m, column, arrays["integrality"])
    assert hoods.sharing == {"S1": {"S2"}, "S2": {"S1"}}
    mapped = set(hoods.all_flows.tolist())
    for name in ("x", "f", "q", "v", "n", "fh"):
        for v in getattr(m, name, {}).values():
            assert column[id(v)] in mapped, name
    reached = {(m.prep.pairs["point_id"].iat[i], m.pair_product[i]) for i in m.P}
    assert {column[id(m.u[key])] for key in reached} <= mapped
    for site, other in (("S1", "S2"), ("S2", "S1")):
        own = {column[id(m.x[i])] for i in m.x_by_site[site]}
        assert own <= set(hoods.flows[site].tolist())
        assert not own & set(hoods.flows[other].tolist())


def test_the_search_takes_all_the_time_the_full_mip_could_not_use() -> None:
    """Half of what the start leaves, unless the full MIP's half would be under
    FULL_MIP_MIN_SECONDS (the national minute leaves 0-7 s) or a bound worker proves on the
    other core: then all of it."""
    assert highs.FULL_MIP_MIN_SECONDS == 20.0
    assert highs._search_seconds(100.0, proving=False) == 50.0
    assert highs._search_seconds(40.0, proving=False) == 20.0
    assert highs._search_seconds(39.0, proving=False) == 39.0
    assert highs._search_seconds(4.0, proving=False) == 4.0
    assert highs._search_seconds(500.0, proving=True) == 500.0


def _with_far_metro(tmp_path: Path) -> Case:
    """tiny and a far metro that shares no patients with it: zone Z3 (150,000 people) with
    S4, an existing centre, and S5, a candidate."""
    shutil.copytree(TINY.parent / "tiny", tmp_path / "tiny")
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    with open(tmp_path / "tiny" / "sites.csv", "a") as sites:
        sites.write("S4,Site Four,CA,34.1,-118.1,existing,oncology,cryogenic,50,5000,0,100000,"
                    "80000,90,1000000,5,0\n"
                    "S5,Site Five,CA,34.2,-118.3,candidate,oncology,cryogenic,50,5000,200000,"
                    "80000,80000,120,1000000,0,0\n")
    with open(tmp_path / "tiny" / "zones.csv", "a") as zones:
        zones.write("Z3,Gamma,CA,34.0,-118.0,150000\n")
    return load_case(tmp_path / "tiny.yaml")


def test_a_far_metros_flows_are_held_and_its_own_search_reopens_it(tmp_path: Path) -> None:
    """From a network with the far candidate S5 forced to offer p1 the search finds the
    optimum (S5 closed again: $80k a year fixed, $200k activation over 5 years and S4's
    patients back): a neighbourhood of S1 and S2 holds S4's and S5's flows, and S5's own
    neighbourhood frees them."""
    case = _with_far_metro(tmp_path)
    m, settings, solver, start, optimum = _forced(case, "w", "S5")
    assert highs._objective(m, start) - optimum == pytest.approx(120.0, abs=1e-6)
    searched, hoods = _search(m, solver, start)
    far = set(hoods.flows["S4"].tolist()) | set(hoods.flows["S5"].tolist())
    assert hoods.sharing["S1"] == {"S2"} and hoods.sharing["S5"] == {"S4"}
    assert set(hoods.held_flows(["S1", "S2"]).tolist()) == far
    assert searched.cost == pytest.approx(optimum, rel=1e-9)
    assert searched.retried == 0


def test_a_network_its_rounded_decisions_disagree_with_is_searched_with_flows_free(
        tmp_path: Path) -> None:
    """HiGHS hands back decisions within 1e-6 of 0 or 1. A network with S2's activation and
    offer at 2e-7, and 2e-6 of a patient sent there, is one it could return: held at those
    flows with S2 rounded closed, the re-solves of the far metro are infeasible. Each is run
    again with every flow free, and the search still finds the optimum."""
    case = _with_far_metro(tmp_path)
    m, settings, solver, start, optimum = _forced(case, "w", "S5")
    pair = next(i for i in m.P if m.pair_sk[i] == ("S2", "p1"))
    point = m.prep.pairs["point_id"].iat[pair]
    to_s1 = next(i for i in m.x_by_demand[(point, "p1")] if m.pair_sk[i][0] == "S1")
    off = dict(start)
    for v, value in ((m.w["S2", "p1"], 2e-7), (m.y["S2"], 2e-7), (m.x[pair], 2e-6),
                     (m.x[to_s1], start[id(m.x[to_s1])] - 2e-6)):
        off[id(v)] = value
    searched, _ = _search(m, solver, off, order=["S5", "S4"])
    assert searched.retried >= 1
    assert searched.cost == pytest.approx(optimum, rel=1e-9)


def test_the_search_stops_once_a_rising_bound_proves_its_network() -> None:
    """A bound given as a function is read before every re-solve: a worker's rises while
    the search runs. Here it proves the forced network within the gap after the first
    re-solve (S1's, which finds nothing), so S2's is never tried."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    forced = highs._objective(m, start)
    reads = []

    def rising() -> float | None:
        reads.append(1)
        return None if len(reads) == 1 else optimum

    found, _ = _search(m, solver, start, {"S1": [], "S2": []}, ["S1", "S2"], bound=rising,
                    gap=(forced - optimum) / forced + 1e-9)
    assert (found.solved, found.improved, found.stopped) == (1, 0, neighbourhoods.WITHIN_GAP)


def test_a_design_solve_searches_its_start_before_the_full_mip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """solve_model's own path: tiny started from a network with S2 offering p1 (a
    scenario's baseline start, recorded as `forced start`), the pair threshold within
    reach. The search runs after the start and before the full MIP, takes it to the optimum
    ($156,000 cheaper, S2 closed: see the first test) and stops on a pass with nothing
    cheaper; the full MIP, one thread and so no bound worker, gets the rest and proves it."""

    from netopt.solver.highs import solve_model

    case = load_case(TINY)
    optimum = solve_model(build_model(prepare(case)),
                          case.config.solver.model_copy(update={"mip_gap": 0.0})).objective
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0, "threads": 1})
    info = solve_model(m, settings, start_network={"y": {"S1": 1, "S2": 1},
                                                   "w": {("S2", "p1"): 1}},
                       start_name="forced")
    stages = [stage["stage"] for stage in info.stages]
    assert stages[0] == "forced start" and stages[-2:] == [highs.NEIGHBOURHOOD_STAGE,
                                                           "full MIP"]
    assert info.stages[0]["objective"] - optimum == pytest.approx(156.0)  # $k a year
    searched = info.stages[-2]
    assert searched["stopped"] == neighbourhoods.NO_BETTER
    assert searched["objective"] == pytest.approx(optimum, rel=1e-9)
    assert info.status == "optimal" and info.objective == pytest.approx(optimum, rel=1e-9)


def test_the_first_pass_screens_at_a_coarser_gap_then_the_fine_passes_prove(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each re-solve of the first pass over the order is solved to FIRST_PASS_GAP, every
    later one to NEIGHBOURHOOD_GAP; S2's re-solve on the first pass finds the optimum."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    runs = _recorded_runs(monkeypatch)
    found, _ = _search(m, solver, start, {"S1": [], "S2": []}, ["S1", "S2"])
    gaps = [h.getOptionValue("mip_rel_gap")[1] for h in runs]
    assert gaps == [neighbourhoods.FIRST_PASS_GAP] * 2 + [neighbourhoods.NEIGHBOURHOOD_GAP] * 2
    assert neighbourhoods.FIRST_PASS_GAP > neighbourhoods.NEIGHBOURHOOD_GAP
    assert (found.improved, found.cost) == (1, pytest.approx(optimum, rel=1e-9))


def test_a_search_begins_where_it_is_told_and_stops_when_asked() -> None:
    """`begin` 1 on the order (S1, S2): S2's re-solve comes first and closes it, then a fine
    pass (S1, S2) finds nothing more. `stop` is asked before each re-solve: true at once,
    nothing is re-solved and the search says it handed over."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    arrays, hoods = _model_and_hoods(m, solver, {"S1": [], "S2": []})
    values = highs._by_column(solver, start)
    later = neighbourhoods.search(arrays, values, hoods, ["S1", "S2"], float("inf"),
                                  {"threads": 1}, begin=1)
    assert (later.solved, later.improved, later.position) == (3, 1, 4)
    assert later.cost == pytest.approx(optimum, rel=1e-9)
    asked = neighbourhoods.search(arrays, values, hoods, ["S1", "S2"], float("inf"),
                                  {"threads": 1}, stop=lambda: True)
    assert (asked.solved, asked.stopped, asked.position) == (0, neighbourhoods.HANDED_OVER, 0)


def test_a_second_search_of_the_same_network_goes_on_where_the_first_ended(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The main chain's search (short, so its first pass is coarse), handed over after one
    re-solve (its `stop` is true from the second ask), records where it ended; a later
    search of the network it returned goes on from that position with the same order and
    the same first-pass gap, however long it may take, and one of another network starts
    afresh (long: every pass fine)."""
    _, m, settings, solver, start, optimum = _tiny_with_s2_forced()
    begins = []
    searching = highs.search

    def recorded(*args: object) -> neighbourhoods.Searched:
        begins.append((args[3], args[8], args[11]))  # the order, position and first gap
        return searching(*args)

    monkeypatch.setattr(highs, "search", recorded)
    asks = []
    short = neighbourhoods.COARSE_PASS_SECONDS / 2
    first = highs._neighbourhood_search(solver, m, settings, start, short, None,
                                        lambda: bool(asks.append(1)) or len(asks) > 1, "first")
    assert solver.stages[-1]["stopped"] == neighbourhoods.HANDED_OVER
    assert solver.searched.network is first and solver.searched.position == 1
    order, _, coarse = begins[0]
    assert coarse == neighbourhoods.FIRST_PASS_GAP
    long = neighbourhoods.COARSE_PASS_SECONDS  # no longer under it: every pass fine
    highs._neighbourhood_search(solver, m, settings, first, long, None)
    assert begins[1] == (order, 1, coarse)
    assert highs._objective(m, solver.searched.network) == pytest.approx(optimum, rel=1e-9)
    highs._neighbourhood_search(solver, m, settings, dict(start), long, None)
    assert begins[2][1:] == (0, neighbourhoods.NEIGHBOURHOOD_GAP)


class _SpareCore:
    """A stand-in for the bound worker's network search (solver/bound_worker.py): it
    reports, with no network, once asked `after` times whether it has."""

    def __init__(self, after: int) -> None:
        self.after, self.asked, self.job = after, 0, None

    def search(self, job: object) -> None:
        self.job = job

    def reported(self) -> bool:
        self.asked += 1
        return self.asked > self.after

    def stop_search(self) -> None:
        pass

    def searched(self, timeout: float) -> ChildNetwork:
        return ChildNetwork("optimal", 1.0, None, None)


def _small_start(spare: _SpareCore | None, budget: float = 120.0) -> tuple:
    """mip_start on us-small on the national default's stages (cut loop, dive; the rounding
    where kernels follow) with `spare` as the spare core, for `budget` seconds: the solver,
    model, spare core, start, bound and the LP."""
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    settings = case.config.solver.model_copy(update={"mip_gap": 1e-6})
    m = build_model(prepare(case))
    solver = highs._Highs()
    lp = highs.separate_linking(solver, m, settings, False, 120.0)
    start, bound = highs.mip_start(solver, m, settings, False, budget, lp, spare=spare,
                                   dive=True)
    return solver, m, spare, start, bound, lp


def test_a_short_start_leaves_the_dived_network_to_the_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No spare core searching (it proves): in a start shorter than DIVE_SEARCH_SECONDS, on
    a model the search takes, the dived network is the start, with no kernel run on it (the
    search after the start takes their time); in a longer one the kernels run as before,
    even just past the mark, and neither network is dearer than the dived one."""
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    kernels = {"narrow kernel", "strict kernel", "closing MIP"}
    solver, m, _, start, bound, lp = _small_start(None, highs.DIVE_SEARCH_SECONDS - 20.0)
    names = [stage["stage"] for stage in solver.stages]
    dived = next(stage for stage in solver.stages if stage["stage"] == "dived network")
    assert names[-1] == "dived network" and not kernels & set(names)
    assert "rounded network" not in names  # only the kernels would start from it
    assert bound == lp and solver.searched is None and solver.dive_handed
    assert highs._objective(m, start) == pytest.approx(dived["objective"], rel=1e-9)
    solver, m, _, start, *_ = _small_start(None, highs.DIVE_SEARCH_SECONDS + 1.0)
    names = [stage["stage"] for stage in solver.stages]
    dived = next(stage for stage in solver.stages if stage["stage"] == "dived network")
    assert {"rounded network", "narrow kernel", "strict kernel"} <= set(names)
    assert not solver.dive_handed
    assert highs._objective(m, start) <= dived["objective"] * (1 + 1e-9)


def test_a_short_start_whose_dive_fails_runs_the_kernels_from_the_rounded_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The dive finds no network: the LP is rounded after all, and the kernels improve
    that network, as without the search."""
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    monkeypatch.setattr(highs, "_dive_start", lambda *args: (None, math.inf))
    solver, m, _, start, *_ = _small_start(None, highs.DIVE_SEARCH_SECONDS - 20.0)
    stages = {stage["stage"]: stage for stage in solver.stages}
    assert {"rounded network", "narrow kernel", "strict kernel"} <= set(stages)
    assert highs._objective(m, start) <= stages["rounded network"]["objective"] * (1 + 1e-9)
    assert not solver.dive_handed  # the kernels' network: a long search of it is fine


def test_while_the_spare_core_runs_its_kernel_this_core_searches_the_dived_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """mip_start with a spare core (the national minute's path beside busy cores) on
    us-small, the pair threshold within reach: after the LP dive this core searches the
    dived network instead of running its own kernels, and hands over when the spare core's
    report is in (here after two re-solves); no kernel of this chain runs. The network can
    only get cheaper, and a later search of it goes on from where this one ended."""
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    # asked once before the search, then before each re-solve: two re-solves, then in
    solver, m, spare, start, bound, lp = _small_start(_SpareCore(after=3))
    assert spare.job is not None and bound == lp
    stages = {stage["stage"]: stage for stage in solver.stages}
    assert not {"narrow kernel", "strict kernel", "closing MIP"} & set(stages)
    searched = stages[highs.DIVED_SEARCH_STAGE]
    assert searched["stopped"] == neighbourhoods.HANDED_OVER
    assert searched["objective"] <= stages["dived network"]["objective"] * (1 + 1e-9)
    assert list(stages)[-2:] == [highs.DIVED_SEARCH_STAGE, highs.SPARE_STAGE]
    assert solver.searched.network is start and solver.searched.position == 2
    assert highs._objective(m, start) == pytest.approx(searched["objective"], rel=1e-9)


def test_a_search_resumed_past_the_first_pass_solves_finely_and_keeps_its_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`begin` at or past len(order): every re-solve is solved to NEIGHBOURHOOD_GAP (the
    coarse pass is over); a search resumed where one ended with nothing cheaper in a whole
    fine pass re-solves nothing again."""
    _, m, _, solver, start, optimum = _tiny_with_s2_forced()
    arrays, hoods = _model_and_hoods(m, solver, {"S1": [], "S2": []})
    order = ["S1", "S2"]
    runs = _recorded_runs(monkeypatch)
    values = highs._by_column(solver, start)
    later = neighbourhoods.search(arrays, values, hoods, order, float("inf"), {"threads": 1},
                                  begin=len(order) + 1)
    assert {h.getOptionValue("mip_rel_gap")[1] for h in runs} == {
        neighbourhoods.NEIGHBOURHOOD_GAP}
    assert (later.improved, later.cost) == (1, pytest.approx(optimum, rel=1e-9))
    assert later.stopped == neighbourhoods.NO_BETTER
    runs.clear()
    again = neighbourhoods.search(arrays, later.values, hoods, order, float("inf"),
                                  {"threads": 1}, begin=later.position,
                                  since=later.since_last)
    assert (again.solved, again.stopped, runs) == (0, neighbourhoods.NO_BETTER, [])


def test_a_search_handed_over_counts_as_stopped_by_the_clock() -> None:
    """How far a search got before another core's stage ended it depends on the machine."""
    from netopt.solver.info import SolveInfo
    stages = [{"stage": highs.DIVED_SEARCH_STAGE, "seconds": 1.0,
               "stopped": neighbourhoods.HANDED_OVER, "objective": 1.0},
              {"stage": highs.NEIGHBOURHOOD_STAGE, "seconds": 1.0,
               "stopped": neighbourhoods.NO_BETTER, "objective": 1.0}]
    info = SolveInfo(status="feasible", termination="maxTimeLimit", objective=1.0,
                     bound=None, gap=None, solve_seconds=2.0, stages=stages)
    assert info.stopped_by_clock == [highs.DIVED_SEARCH_STAGE]


def test_a_search_handed_over_says_so_even_after_a_capped_re_solve(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-solve stopped at its cap, then `stop`: HANDED_OVER, not CLOCK (both count in
    stopped_by_clock; the stage says which)."""
    _, m, _, solver, start, _ = _tiny_with_s2_forced()
    monkeypatch.setattr(neighbourhoods, "NEIGHBOURHOOD_SECONDS", 1e-9)
    arrays, hoods = _model_and_hoods(m, solver)
    asks = []
    found = neighbourhoods.search(arrays, highs._by_column(solver, start), hoods,
                                  sorted(hoods.site_columns), float("inf"), {"threads": 1},
                                  stop=lambda: bool(asks.append(1)) or len(asks) > 1)
    assert (found.solved, found.capped, found.stopped) == (1, 1, neighbourhoods.HANDED_OVER)


def test_a_spare_core_that_reported_before_the_dive_leaves_this_chain_its_kernels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The spare core's network is in before the dived network is complete: nothing to
    search beside it, so this chain runs its own kernels, as without a search."""
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    solver, *_ = _small_start(_SpareCore(after=0))
    names = [stage["stage"] for stage in solver.stages]
    assert highs.DIVED_SEARCH_STAGE not in names and solver.searched is None
    assert "narrow kernel" in names and names[-1] == highs.SPARE_STAGE


def test_a_short_search_or_one_of_the_dived_network_screens_on_its_first_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under COARSE_PASS_SECONDS the first pass is solved to FIRST_PASS_GAP (the minute's
    searches); a longer search solves every re-solve to NEIGHBOURHOOD_GAP, unless its start
    is the dive's network handed straight to it (`dive_handed`), which screens at any
    length. Each reaches the optimum from the forced network."""
    _, m, settings, solver, start, optimum = _tiny_with_s2_forced()
    runs = _recorded_runs(monkeypatch)
    for seconds, dived, first in ((neighbourhoods.COARSE_PASS_SECONDS - 1.0, False,
                                   neighbourhoods.FIRST_PASS_GAP),
                                  (neighbourhoods.COARSE_PASS_SECONDS, False,
                                   neighbourhoods.NEIGHBOURHOOD_GAP),
                                  (neighbourhoods.COARSE_PASS_SECONDS, True,
                                   neighbourhoods.FIRST_PASS_GAP)):
        runs.clear()
        solver.searched, solver.dive_handed = None, dived
        found = highs._neighbourhood_search(solver, m, settings, start, seconds, None)
        gaps = [h.getOptionValue("mip_rel_gap")[1] for h in runs]
        assert gaps[0] == first and gaps[-1] == neighbourhoods.NEIGHBOURHOOD_GAP
        assert highs._objective(m, found) == pytest.approx(optimum, rel=1e-9)


def test_a_held_network_s_search_re_solves_its_ordering_options() -> None:
    """us-small's optimum with its design held (the aggregation's pricing holds a network so)
    and one stocked site-product made to order otherwise: the search of the held model
    (`held`) frees the ordering options of a site and its neighbours, and finds the held
    optimum again without touching the design."""
    case = load_case(SMALL)
    m = build_model(prepare(case))
    settings = case.config.solver.model_copy(update={"mip_gap": 0.0})
    solver = highs._Highs()
    highs._run(solver, m, settings, False, 60.0, solver="choose").solution_loader.load_vars()
    optimum = pyo.value(m.obj)
    design = {name: values for name, values in network_of(m).items() if name != "z"}
    held = hold(m, design)
    chosen = next(v for i, v in sorted(m.z.items()) if v.value > 0.5)
    chosen.setub(0)
    highs._run(solver, m, settings, False, 60.0, solver="choose").solution_loader.load_vars()
    chosen.setub(1)
    start = highs._loaded_solution(m)
    assert highs._objective(m, start) > optimum + 1.0  # k$
    found = highs._neighbourhood_search(solver, m, settings, start, 60.0, None, held=True)
    release(held)
    assert highs._objective(m, found) == pytest.approx(optimum, rel=1e-9)
    assert {name: values for name, values in network_of(m).items() if name != "z"} == design
