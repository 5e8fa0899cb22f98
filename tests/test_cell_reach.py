"""Cell reach cuts (netopt/model/cell_reach.py): a cell of an aggregated relaxation sends a
set of sites no more patients than its members that reach them have, each within its own
reach of the offered sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from scipy.optimize import linprog

from netopt.data.case import load_case
from netopt.model.build import build_model
from netopt.model.cell_reach import _Cell, _violated, separate_cell_reach
from netopt.model.prepare import prepare
from netopt.model.relaxation import aggregated_relaxation

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _cell(patients: list[float], reach: list[list[int]], n_sites: int) -> _Cell:
    member = np.array([i for i, sites in enumerate(reach) for _ in sites])
    site = np.array([j for sites in reach for j in sites])
    return _Cell(np.arange(n_sites), [None] * n_sites, np.array(patients, float), member,
                 site)


def _realizable(cell: _Cell, x: np.ndarray, w: np.ndarray) -> bool:
    """Whether member-level flows exist: y_a <= d_i w_j per arc, sum per member <= d_i,
    sum per site = x_j (an LP feasibility check independent of the maximum flow)."""
    n_arcs, n_sites = len(cell.member), len(cell.pairs)
    a_eq = np.zeros((n_sites, n_arcs))
    a_eq[cell.site, np.arange(n_arcs)] = 1.0
    a_ub = np.zeros((len(cell.patients), n_arcs))
    a_ub[cell.member, np.arange(n_arcs)] = 1.0
    bounds = [(0.0, cell.patients[i] * w[j]) for i, j in zip(cell.member, cell.site,
                                                               strict=True)]
    res = linprog(np.zeros(n_arcs), A_ub=a_ub, b_ub=cell.patients, A_eq=a_eq, b_eq=x,
                  bounds=bounds, method="highs")
    return res.status == 0


def test_hall_condition_with_the_sites_open() -> None:
    # A (1 patient) reaches sites 0 and 1, B (1) only 0, C (1) only 2, which is closed.
    # Each pair's cap holds (site 0: A + B = 2, site 1: A = 1) but A cannot go to both:
    # sites 0 and 1 get at most A + B = 2 patients, not 3
    cell = _cell([1.0, 1.0, 1.0], [[0, 1], [0], [2]], 3)
    x, w = np.array([2.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0])
    sites, arcs, rhs = _violated(cell, x, w)
    assert sorted(sites.tolist()) == [0, 1]
    assert rhs == pytest.approx(2.0) and len(arcs) == 0
    assert not _realizable(cell, x, w)
    # A split that exists is never cut
    assert _violated(cell, np.array([1.5, 0.5, 0.0]), w) is None


def test_a_member_counts_once_across_half_open_sites() -> None:
    # A (2 patients) reaches sites 0 and 1, both offered at 0.6: each pair meets its linking
    # row (1.2 <= 2 x 0.6), yet A has 2 patients, not 2.4
    cell = _cell([2.0], [[0, 1]], 2)
    x, w = np.array([1.2, 1.2]), np.array([0.6, 0.6])
    sites, arcs, rhs = _violated(cell, x, w)
    assert sorted(sites.tolist()) == [0, 1] and rhs == pytest.approx(2.0) and len(arcs) == 0
    # with A's offers at 0.4 the sum of its linking rows (1.6) is the tighter side: no cut
    # unless x exceeds it, and then the cut counts the offers
    x, w = np.array([0.9, 0.9]), np.array([0.4, 0.4])
    sites, arcs, rhs = _violated(cell, x, w)
    lifted = sum(cell.patients[cell.member[a]] * w[cell.site[a]] for a in arcs)
    assert rhs + lifted == pytest.approx(1.6)
    assert x[sites].sum() > rhs + lifted


def test_cuts_exactly_the_points_no_member_split_gives() -> None:
    rng = np.random.default_rng(7)
    cut = kept = 0
    for _ in range(300):
        n_members, n_sites = int(rng.integers(2, 6)), int(rng.integers(2, 5))
        reach = [sorted(rng.choice(n_sites, int(rng.integers(1, n_sites + 1)),
                                   replace=False).tolist()) for _ in range(n_members)]
        cell = _cell(rng.uniform(0.5, 3.0, n_members).round(3).tolist(), reach, n_sites)
        w = np.where(rng.random(n_sites) < 0.5, 1.0, rng.uniform(0.0, 1.0, n_sites)).round(3)
        # x within each pair's linking row, as the relaxation's model keeps it
        cap = np.bincount(cell.site, weights=cell.patients[cell.member], minlength=n_sites)
        x = (cap * w * rng.uniform(0.0, 1.0, n_sites)).round(4)
        found = _violated(cell, x, w)
        if found is None:
            assert _realizable(cell, x, w)
            kept += 1
            continue
        sites, arcs, rhs = found
        lifted = float((cell.patients[cell.member[arcs]] * w[cell.site[arcs]]).sum())
        assert x[sites].sum() > rhs + lifted
        assert not _realizable(cell, x, w)
        cut += 1
    assert cut > 20 and kept > 20  # both kinds of point were drawn


def test_separation_on_a_relaxation_model(tmp_path: Path) -> None:
    """On tiny at fine resolution merged into cells: a point that sends each of two sites
    its whole cap, where some member reaches only one, is cut; the point of members sent to
    their own nearest site satisfies every cut."""
    model = tmp_path / "tiny-fine.yaml"
    model.write_text(f"extends: {TINY}\nname: tiny-fine\nzones:\n  gazetteer_extract: 15000\n",
                     encoding="utf-8")
    prep = prepare(load_case(model))
    rel = aggregated_relaxation(prep, 0.4)
    assert rel.cell_members is not None
    m = build_model(rel)
    members = rel.cell_members
    pairs = rel.pairs.reset_index(drop=True)
    found = None
    for (cell, product), arcs in members.groupby(["point_id", "product_id"]):
        sites = sorted(set(arcs["site_id"]))
        for a in sites:
            for b in sites:
                reach = set(arcs.loc[arcs["site_id"].isin([a, b]), "member"])
                d = arcs.drop_duplicates("member").set_index("member")["member_patients"]
                cap = [arcs.loc[arcs["site_id"] == s, "member_patients"].sum() for s in (a, b)]
                if a < b and sum(cap) > d[list(reach)].sum() + 1e-6:
                    found = (cell, product, a, b, cap, float(d[list(reach)].sum()))
                    break
            if found:
                break
        if found:
            break
    assert found is not None, "tiny-fine has a cell whose members reach different sites"
    cell, product, a, b, cap, reach = found
    for v in m.x.values():
        v.set_value(0.0)
    for v in m.w.values():
        v.set_value(1.0)
    index = {}
    for i, (c, s, k) in enumerate(zip(pairs["point_id"], pairs["site_id"],
                                      pairs["product_id"], strict=True)):
        index[(c, s, k)] = i
    m.x[index[(cell, a, product)]].set_value(cap[0])
    m.x[index[(cell, b, product)]].set_value(cap[1])
    new = separate_cell_reach(m)
    assert len(new) == 1
    assert pyo.value(new[0].body) > pyo.value(new[0].upper) + 1e-6
    assert pyo.value(new[0].upper) == pytest.approx(reach)
    # every member at its nearest site: a split that exists, which no cut removes
    for v in m.x.values():
        v.set_value(0.0)
    nearest = prep.pairs.sort_values("km").drop_duplicates(["point_id", "product_id"])
    cell_of = members.drop_duplicates(["member", "product_id"]).set_index(
        ["member", "product_id"])["point_id"]
    demand = prep.demand.set_index(["point_id", "product_id"])["patients"]
    for z, s, k in zip(nearest["point_id"], nearest["site_id"], nearest["product_id"],
                       strict=True):
        i = index[(cell_of[(z, k)], s, k)]
        m.x[i].set_value(m.x[i].value + demand[(z, k)])
    assert separate_cell_reach(m) == []
    for c in new:
        assert pyo.value(c.body) <= pyo.value(c.upper) + 1e-9


def _three_members(tmp_path: Path):  # noqa: ANN202
    """tiny with a third zone, merged into one cell: Z1 (10 patients) reaches S1 and S2, Z2
    (20) only S1, Z3 (30) no site. The cell's caps (S1: 30, S2: 10) add up to 40 patients
    served, where only Z1 and Z2's 30 can be."""
    import shutil
    from dataclasses import replace

    data = tmp_path / "tiny"
    shutil.copytree(ROOT / "tests" / "data" / "tiny", data)
    with (data / "zones.csv").open("a", encoding="utf-8") as f:
        f.write("Z3,Gamma,NJ,40.0,-75.0,300000\n")
    model = tmp_path / "tiny3.yaml"
    model.write_text("name: tiny3\ndataset: tiny\n", encoding="utf-8")
    prep = prepare(load_case(model))
    pairs = prep.pairs
    keep = [(z, s) in {("Z1", "S1"), ("Z1", "S2"), ("Z2", "S1")}
            for z, s in zip(pairs["point_id"], pairs["site_id"], strict=True)]
    prep = replace(prep, pairs=pairs[keep].reset_index(drop=True))
    assert prep.demand.set_index("point_id")["patients"].to_dict() == {
        "Z1": 10.0, "Z2": 20.0, "Z3": 30.0}
    return prep, aggregated_relaxation(prep, 4.0)


def test_a_leaking_network_is_repaired_to_what_its_members_can_reach(tmp_path: Path) -> None:
    from netopt.solver import highs
    from netopt.solver.network_start import hold, network_of, release

    fine, rel = _three_members(tmp_path)
    assert len(rel.points) == 1
    settings = rel.case.config.solver.model_copy(update={"mip_gap": 0.0})
    m = build_model(rel)
    solver = highs._Highs()
    res = highs._run(solver, m, settings, False, 60.0, solver="choose")
    res.solution_loader.load_vars()
    leaky = float(res.incumbent_objective)
    before = {term: pyo.value(e) for term, e in m.cost_terms.items()}
    served = {s: sum(m.x[i].value for i in m.P if m.pair_sk[i][0] == s) for s in ("S1", "S2")}
    # the relaxation's optimum opens S2 for the patients of a member that cannot reach it
    assert served == pytest.approx({"S1": 30.0, "S2": 10.0})
    start = highs._loaded_solution(m)
    repaired = highs._repair_leaks(solver, m, settings, False, start, 60.0)
    served = sum(m.x[i].value for i in m.P)
    assert served == pytest.approx(30.0)
    assert separate_cell_reach(m) == []
    value = pyo.value(m.obj)
    after = {term: pyo.value(e) for term, e in m.cost_terms.items()}
    penalty = fine.products.at["p1", "penalty_usd_per_patient"]
    # ten more patients unserved: the penalty's $3M, less what serving them cost
    assert (after["unserved_penalty"] - before["unserved_penalty"]) * 1000 == pytest.approx(
        10 * penalty)
    assert value > leaky + 0.9 * 10 * penalty / 1000
    assert repaired == highs._loaded_solution(m)
    # still a relaxation: the case itself costs at least as much with the same network held
    network = network_of(m)
    f = build_model(fine)
    held = hold(f, {k: v for k, v in network.items() if k not in ("z", "zd")})
    res = highs._run(highs._Highs(), f, settings, False, 60.0, solver="choose")
    release(held)
    assert value <= float(res.incumbent_objective) * (1 + 1e-9)
