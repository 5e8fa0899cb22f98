"""Facility volume cuts (model/facility_cuts.py `separate_facility_volume`).

A hub open at a fraction g carries at most g of each demand point's patients: for a set S of
sites, (doses of S through the hub) / doses per patient <= sum over points of
min(patients of the point treated in S, patients of the point x g). The LP breaks it by
opening a hub at a tenth and routing a site's whole volume through it, or by letting the
sites of a metro each keep half of a point; a network never does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from netopt.data.case import load_case
from netopt.model import facility_cuts
from netopt.model.build import build_model
from netopt.model.prepare import prepare
from netopt.solver import highs

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "models" / "us-small.yaml"




def _hub_lanes(m: pyo.ConcreteModel) -> dict[tuple, list[int]]:
    """(hub, site, product) -> its direct lanes."""
    hub_of = m.prep.direct_lanes["hub_id"].tolist()
    lanes: dict[tuple, list[int]] = {}
    for (s, k), idx in m.lanes_by_sk.items():
        for i in idx:
            lanes.setdefault((hub_of[i], s, k), []).append(i)
    return lanes


def _excess(c: pyo.ConstraintData) -> float:
    return pyo.value(c.body) - pyo.value(c.upper)


def _on(cuts: list, var: pyo.Var) -> list:
    return [c for c in cuts if any(v is var for v in identify_variables(c.body))]


def _shared_point(m: pyo.ConcreteModel) -> tuple[str, int, int, list[int], list[int]]:
    """A hub and two site-products of one product whose pairs share a demand point, both
    with a lane through the hub: hub, the two pairs, the two sites' lanes."""
    lanes = _hub_lanes(m)
    point = m.prep.pairs["point_id"]
    for (h, s1, k), l1 in sorted(lanes.items()):
        for p1 in m.x_by_sk.get((s1, k), []):
            for p2 in m.x_by_demand[(point.iat[p1], k)]:
                s2 = m.pair_sk[p2][0]
                if s2 != s1 and (h, s2, k) in lanes and math.isclose(
                        m.patients_of_pair[p1], m.patients_of_pair[p2]):
                    return h, p1, p2, l1, lanes[(h, s2, k)]
    raise AssertionError("us-small has no demand point two sites share through one hub")


def test_a_site_routed_through_a_tenth_of_a_hub_is_cut(cleared_small: pyo.ConcreteModel) -> None:
    """One pair brings the site all d of its point's patients, all of them through a hub open
    at 0.1. At most a tenth of the point's patients can pass a tenth of a hub: by hand the
    cut reads d <= 0.1 d, violated by 0.9 d."""
    m = cleared_small
    (h, s, k), idx = next(iter(sorted(_hub_lanes(m).items())))
    pair = m.x_by_sk[(s, k)][0]
    d = m.patients_of_pair[pair]
    dpp = float(m.prep.products.at[k, "doses_per_patient"])
    m.w[s, k].set_value(1.0)
    m.x[pair].set_value(d)
    m.f[idx[0]].set_value(dpp * d)
    m.g[h].set_value(0.1)
    cuts = _on(facility_cuts.separate_facility_volume(m), m.g[h])
    assert len(cuts) == 1
    assert math.isclose(_excess(cuts[0]), 0.9 * d, rel_tol=1e-9)
    # the networks on either side: the hub open (the site's patients through it), or closed
    # with nothing through it
    m.g[h].set_value(1.0)
    assert _excess(cuts[0]) <= 1e-9
    m.g[h].set_value(0.0)
    m.f[idx[0]].set_value(0.0)
    assert _excess(cuts[0]) <= 1e-9


def test_two_sites_sharing_a_point_through_half_a_hub_are_cut_together(
        cleared_small: pyo.ConcreteModel) -> None:
    """Two sites each treat half of one point's d patients and send them through a hub open
    at 0.5. Each site alone is within its cut (d/2 <= min(d/2, d/2)); together they pass d
    patients of a point through half a hub: d <= d/2, violated by d/2."""
    m = cleared_small
    h, p1, p2, lanes1, lanes2 = _shared_point(m)
    d = m.patients_of_pair[p1]
    k = m.pair_product[p1]
    dpp = float(m.prep.products.at[k, "doses_per_patient"])
    for pair, lanes in ((p1, lanes1), (p2, lanes2)):
        m.w[m.pair_sk[pair]].set_value(1.0)
        m.x[pair].set_value(d / 2)
        m.f[lanes[0]].set_value(dpp * d / 2)
    m.g[h].set_value(0.5)
    cuts = _on(facility_cuts.separate_facility_volume(m), m.g[h])
    assert len(cuts) == 1, "only the two sites together violate a cut"
    both = {id(m.f[lanes1[0]]), id(m.f[lanes2[0]])}
    assert both <= {id(v) for v in identify_variables(cuts[0].body)}
    assert math.isclose(_excess(cuts[0]), d / 2, rel_tol=1e-9)
    m.g[h].set_value(1.0)  # the network with the hub open keeps both sites' volume
    assert _excess(cuts[0]) <= 1e-9


def test_the_optimal_network_violates_no_cut() -> None:
    """us-small solved to optimality, its network loaded: no facility cut to add."""
    case = load_case(SMALL)
    case.config.solver.mip_gap = 1e-6
    m = build_model(prepare(case))
    res = highs._run(highs._Highs(), m, case.config.solver, False, 300.0, solver="choose")
    assert res.termination_condition.name == "convergenceCriteriaSatisfied"
    res.solution_loader.load_vars()
    assert sum(v.value for v in m.g.values()) >= 1  # hubs carry the network's doses
    assert facility_cuts.separate_facility_volume(m) == []


def test_the_cut_loop_with_the_cuts_lifts_the_lp_and_keeps_the_optimum(
        small_cut_loop: Callable[..., tuple]) -> None:
    """us-small linked lazily, the cut loop run to convergence with and without the cuts:
    with them the LP is higher, and the MIP that follows has the same optimum."""
    lp_plain, m_plain, plain = small_cut_loop(facility_cuts=False)
    lp_cut, m_cut, cut = small_cut_loop(facility_cuts=True)
    assert not hasattr(m_plain, "facility_volume") and len(m_cut.facility_volume) > 0
    assert lp_cut > lp_plain + 1.0  # k$: the cuts lift the LP
    assert math.isclose(cut, plain, rel_tol=3e-6)  # both within their 1e-6 gap
