"""Facility volume cuts: a hub, partner or site's equipment open at a fraction carries at most
that fraction of each demand point's patients.

The model links a facility to its flows by one row per site-product: the doses of a site
through hub h are at most the site's reach times g_h. Reach counts every patient the site
could ever take, so the LP opens a hub at the share of that reach the site uses (a tenth,
say) and routes the site's whole volume through it. A network cannot: each demand point's
patients go through an open hub or not at all. With x_zSh the patients of point z treated
at a set S of sites and sent through hub h, x_zSh <= x_zS and x_zSh <= d_z g_h, so

    (doses of S through h) / doses per patient <= sum_z min(x_zS, d_z g_h),

linearised at the LP point with A the points where x_zS is the smaller term:
sum_A x_zS + (sum_not-A d_z) g_h. S is one site, or the sites of a metro whose patients
the LP shares (sharing lets each site keep a small share of every point, which the one-site
cut allows). The same holds for a cold-storage partner's deliveries (a_p), for the
temperature-class equipment a site's direct lanes need (e_st) and for a depot's pooled
stock (hold). On the national default these cuts lift the cut loop's LP from $127.72M to
$128.67M, where holding the 60-s network's 16 hubs lifts it to $128.69M (bench/RESULTS.md).
Starting material through a hub (one shipment per autologous patient) was tried as a family
of its own and lifted nothing: the doses of the same patients already need the hub.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

#: the most violated cuts added per facility and product each round
CUTS_PER_GROUP = 3
#: patients a cut must be violated by (per patient its points hold), so a round adds only
#: cuts that move the LP
VOLUME_TOLERANCE = 1e-4


@dataclass
class _Group:
    """One facility decision and the flows of one product that need it, by site-product."""

    facility: pyo.Var  # the decision's VarData
    product: str
    per_patient: float  # a flow's units per patient: the product's doses per patient
    flows: dict[tuple, list]  # site-product -> its flow VarDatas through the facility


@dataclass
class _Index:
    """What the separation reads every round but the LP never changes, built once per
    model: the groups, and per pair its demand point (coded 0..n-1) and patients cap."""

    groups: list[_Group]
    point: np.ndarray  # pair -> its demand point's code
    cap: np.ndarray  # pair -> the most patients it can bring (patients_of_pair)
    demand: dict[tuple[int, str], float]  # (point code, product) -> patients
    pairs_of: dict[tuple, np.ndarray]  # site-product -> its pairs


def _index(m: pyo.ConcreteModel) -> _Index:
    """Hubs, partners, equipment and depots with the flows each carries, and the pairs'
    points and caps (`_Index`), built on the first call for a model."""
    cached = getattr(m, "_facility_cut_index", None)
    if cached is not None:
        return cached
    prep = m.prep
    dpp = prep.products["doses_per_patient"].astype(float).to_dict()
    groups: dict[tuple, _Group] = {}

    def add(key: tuple, facility: pyo.Var, sk: tuple, flow: pyo.Var, per_patient: float
            ) -> None:
        group = groups.setdefault(key, _Group(facility, sk[1], per_patient, {}))
        group.flows.setdefault(sk, []).append(flow)

    hub_of = prep.direct_lanes["hub_id"].tolist()
    for sk, lanes in m.lanes_by_sk.items():
        for i in lanes:
            add(("hub", hub_of[i], sk[1]), m.g[hub_of[i]], sk, m.f[i], dpp[sk[1]])
    for sk, links in m.links_by_sk.items():
        for i in links:
            partner = m.link_partner[i]
            add(("partner", partner, sk[1]), m.a[partner], sk, m.q[i], dpp[sk[1]])
    # pooled depot stock (model/ordering.py): a partner's deliveries from its stock and a
    # site's doses from a hub's stock need the depot to hold it
    for i, key in getattr(m, "depot_link_of", {}).items():
        sk = (prep.partner_links.at[i, "site_id"], key[2])
        add(("depot",) + key, m.hold[key], sk, m.q[i], dpp[key[2]])
    for s, k, h in getattr(m, "HUB_HELD", []):
        if ("hub", h, k) in getattr(m, "hold", {}):
            add(("depot", "hub", h, k), m.hold["hub", h, k], (s, k), m.fh[s, k, h], dpp[k])
    sp = prep.site_products
    for site, product, holds, cls in zip(sp["site_id"], sp["product_id"], sp["holds_class"],
                                         sp["temperature_class"], strict=True):
        if holds or (site, cls) not in m.ST:
            continue
        for i in m.lanes_by_sk.get((site, product), []):
            add(("equipment", site, cls, product), m.e[site, cls], (site, product), m.f[i],
                dpp[product])
    point_ids = prep.pairs["point_id"]
    codes = {z: n for n, z in enumerate(sorted(set(point_ids)))}
    m._facility_cut_index = _Index(
        groups=[groups[key] for key in sorted(groups)],
        point=np.array([codes[z] for z in point_ids], dtype=np.int64),
        cap=np.array([m.patients_of_pair[i] for i in m.P], dtype=float),
        demand={(codes[z], k): float(d) for (z, k), d in m.patients.items() if z in codes},
        pairs_of={sk: np.asarray(idx, dtype=np.int64) for sk, idx in m.x_by_sk.items()})
    return m._facility_cut_index


def _sites_sharing_points(used: list[tuple], pairs_of: dict, point: np.ndarray,
                          x: np.ndarray) -> list[list[tuple]]:
    """`used` site-products grouped where the LP treats patients of one point at several of
    them (connected through shared points); groups of one are left out."""
    parent = {sk: sk for sk in used}

    def root(sk: tuple) -> tuple:
        while parent[sk] != sk:
            parent[sk] = parent[parent[sk]]
            sk = parent[sk]
        return sk

    first_at: dict[int, tuple] = {}
    for sk in used:
        idx = pairs_of[sk]
        for z in point[idx[x[idx] > 1e-9]]:
            other = first_at.setdefault(int(z), sk)
            if other != sk:
                parent[root(sk)] = root(other)
    members: dict[tuple, list[tuple]] = defaultdict(list)
    for sk in used:
        members[root(sk)].append(sk)
    return [sks for sks in members.values() if len(sks) > 1]


def separate_facility_volume(m: pyo.ConcreteModel) -> list:
    """Add to `m.facility_volume` the cuts (module docstring) the loaded LP values violate,
    the most violated CUTS_PER_GROUP per facility and product; returns the new constraint
    data (for a persistent solver to add)."""
    if not hasattr(m, "facility_volume"):
        m.facility_volume = pyo.ConstraintList()
    if not len(m.P):
        return []
    index = _index(m)
    point, cap, demand, pairs_of = index.point, index.cap, index.demand, index.pairs_of
    x = np.array([m.x[i].value or 0.0 for i in m.P])
    new = []
    for group in index.groups:
        open_ = group.facility.value or 0.0
        if open_ >= 1.0 - 1e-9:
            continue  # open: nothing to cut
        volume = {sk: sum(v.value or 0.0 for v in flows) / group.per_patient
                  for sk, flows in group.flows.items()}
        used = [sk for sk, v in volume.items() if v > 1e-9 and sk in pairs_of]
        candidates = [[sk] for sk in used]
        if len(used) > 1:
            candidates += _sites_sharing_points(used, pairs_of, point, x)
        found = []
        for sks in candidates:
            idx = np.concatenate([pairs_of[sk] for sk in sks])
            zones, inverse = np.unique(point[idx], return_inverse=True)
            treated = np.bincount(inverse, weights=x[idx], minlength=len(zones))
            reach = np.bincount(inverse, weights=cap[idx], minlength=len(zones))
            d = np.minimum(reach, [demand[(int(z), group.product)] for z in zones])
            smaller = treated <= d * open_
            excess = sum(volume[sk] for sk in sks) - float(
                np.where(smaller, treated, d * open_).sum())
            if excess > VOLUME_TOLERANCE * max(float(d.sum()), 1.0):
                found.append((excess, sks, idx, zones[inverse], set(zones[smaller].tolist()),
                              float(d[~smaller].sum())))
        found.sort(key=lambda item: -item[0])
        for _, sks, idx, zone_of, kept, rest in found[:CUTS_PER_GROUP]:
            flows = [v for sk in sks for v in group.flows[sk]]
            new.append(m.facility_volume.add(
                pyo.quicksum(flows) / group.per_patient
                <= pyo.quicksum(m.x[int(i)] for i, z in zip(idx, zone_of, strict=True)
                                if int(z) in kept)
                + rest * group.facility))
    return new


__all__ = ["separate_facility_volume"]
