"""A whole network rounded from the LP relaxation, for a first incumbent that serves patients.

HiGHS's own heuristics find poor first networks on the national model: central rounding
closes offers the LP spreads thinly and leaves $100M+ of patients unserved, and the sub-MIP
that finds a good network comes late. Rounding *up* instead - every site, offer, hub and
partner the LP uses at all kept open (and the depot stock it holds at all left a choice),
with the onboarding, equipment and ordering option each kept offer needs left to the solver -
gives a network that serves about as many patients as the LP does and costs only some
surplus fixed cost. Held at those values, what is left is a small MIP (onboarding,
equipment, ordering options, depot stock); its solution is a complete, feasible start that
the kernel MIP (solver/kernel.py) and the full MIP then improve (dropping the surplus)
instead of searching from an empty network.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .network_start import StartNetwork


def _on(v: pyo.Var, threshold: float) -> bool:
    return (v.value or 0.0) > threshold


def rounded_network(m: pyo.ConcreteModel, threshold: float) -> StartNetwork:
    """Decisions rounded up from the LP values loaded in `m` (see the module docstring).
    Single-period models only (the families' attributes on `m` itself)."""
    sites = m.prep.sites
    # an offer is kept where the LP already treats at least the site's minimum volume there:
    # the LP's own assignment then meets every kept offer's minimum at once (rounding up an
    # offer the LP serves below its minimum could ask more patients than the region has)
    served = {sk: sum(m.x[i].value or 0.0 for i in m.x_by_sk.get(sk, [])) for sk in m.SK}
    offered = {sk for sk in m.SK if _on(m.w[sk], threshold) and served[sk] > 1e-6
               and served[sk] >= float(sites.at[sk[0], "min_patients_per_year"]) - 1e-6}
    open_sites = {s for s in m.S if _on(m.y[s], threshold)} | {s for s, _ in offered}
    partners = {p for p in m.Pa if _on(m.a[p], threshold)}
    partners |= _partners_needed(m, offered, partners)
    hubs = {h for h in m.H if _on(m.g[h], threshold)} | _hubs_needed(m, offered, partners)
    # onboarding, equipment and ordering options stay free: the restricted problem is a
    # small MIP over them, which always has a way to equip or link each kept offer
    network = {
        "y": {s: int(s in open_sites) for s in m.S},
        "w": {sk: int(sk in offered) for sk in m.SK},
        "g": {h: int(h in hubs) for h in m.H},
        "a": {p: int(p in partners) for p in m.Pa},
    }
    if hasattr(m, "hold"):
        network["hold"] = _depot_stock(m, threshold, hubs, partners)
    return network


#: the decisions an LP dive sets to 0 or 1 (solver/diving.py): sites, offers, hubs, partners
DIVE_DECISIONS = ("y", "w", "g", "a")


def dived_network(m: pyo.ConcreteModel, design: dict[int, float], threshold: float
                  ) -> StartNetwork:
    """The network an LP dive ended at (solver/diving.py): its sites, offers, hubs and
    partners (`design`, by id(var), each 0 or 1), with the depot stock that the LP values
    loaded in `m` hold at its hubs and partners left a choice, as `rounded_network` leaves
    it. Onboarding, equipment and ordering options stay free, as there."""
    network = {name: {idx: int(design.get(id(v), 0.0) > 0.5) for idx, v in
                      getattr(m, name).items()} for name in DIVE_DECISIONS}
    if hasattr(m, "hold"):
        hubs = {h for h, on in network["g"].items() if on}
        partners = {p for p, on in network["a"].items() if on}
        network["hold"] = _depot_stock(m, threshold, hubs, partners)
    return network


def _depot_stock(m: pyo.ConcreteModel, threshold: float, hubs: set[str],
                 partners: set[str]) -> dict[tuple, int]:
    """Pooled depot stock closed where the LP holds none, or at a hub or partner the network
    drops; every other stock is left a choice of the rounded MIP. Forcing a kept stock on
    would pay it whole where that MIP routes its sites elsewhere (the LP's fractional `hold`
    pays a sliver of the stock's fixed part, so a stock with little volume looks cheap to the
    LP, never to a MIP that must hold it whole), and leaving every depot free made that MIP
    harder than the network it completes."""
    kept = {"hub": hubs, "partner": partners}
    return {key: 0 for key, v in m.hold.items()
            if not (_on(v, threshold) and key[1] in kept[key[0]])}


def _partners_needed(m: pyo.ConcreteModel, offered: set, partners: set) -> set[str]:
    """For a kept offer at a site that neither holds its class nor can be equipped for it:
    the linked partner the LP leans on most (without one the offer could not be kept)."""
    sp = m.prep.site_products.set_index(["site_id", "product_id"])
    needed: set[str] = set()
    for sk in sorted(offered):
        row = sp.loc[sk]
        if row["holds_class"] or (sk[0], row["temperature_class"]) in m.ST:
            continue
        linked = sorted({m.link_partner[i] for i in m.links_by_sk.get(sk, [])})
        if linked and not any(p in partners or p in needed for p in linked):
            needed.add(max(linked, key=lambda p: ((m.a[p].value or 0.0), p)))
    return needed


def _hubs_needed(m: pyo.ConcreteModel, offered: set, partners: set) -> set[str]:
    """For every kept offer with no LP-open hub among its lanes (or its starting material's
    hubs) and no active partner: the hub the LP leans on most."""
    lane_hub = m.prep.direct_lanes["hub_id"].tolist()
    needed: set[str] = set()
    for sk in sorted(offered):
        groups = [sorted({lane_hub[i] for i in m.lanes_by_sk.get(sk, [])})]
        inbound = getattr(m, "inbound_hubs_of", {})
        if sk in inbound:
            groups.append(sorted(inbound[sk]))
        via_partner = any(m.link_partner[i] in partners for i in m.links_by_sk.get(sk, []))
        for i, hubs in enumerate(groups):
            if not hubs or (i == 0 and via_partner):
                continue
            if not any((m.g[h].value or 0.0) > 0.5 or h in needed for h in hubs):
                needed.add(max(hubs, key=lambda h: (m.g[h].value or 0.0, h)))
    return needed


__all__ = ["DIVE_DECISIONS", "dived_network", "rounded_network"]
