"""Ordering policy family: which ordering option each active site uses for each product.

`prepare` tabulated every option's network cost (holding, expiries, capital, shipments against
the just-in-time baseline) at volume breakpoints; each (option, volume segment) is one line
a + b x patients. A site-product whose options all cost nothing beyond their lanes needs no
variable here (its route is still limited to the options it has). Otherwise exactly one
(option, segment) is chosen per offered site-product: a multiple-choice formulation, exact for
any piecewise-linear cost (the curves are neither convex nor concave: stock costs fall with
volume where expiries dominate and rise where holding does).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from .common import group, money, register_cost
from .prepare import Prepared


def add_ordering(m: pyo.ConcreteModel, prep: Prepared) -> None:
    options = prep.ordering
    if options is None or options.empty:
        m.ORD = pyo.Set(initialize=[], ordered=True)
        return
    trivial = options.groupby(["site_id", "product_id"]).apply(
        lambda f: bool(((f["cost_lo_usd"].abs() < 1e-9) & (f["cost_hi_usd"].abs() < 1e-9)
                        & (f["lo_patients"] <= 0)).all()), include_groups=False)
    chosen = {sk for sk, is_trivial in trivial.items() if not is_trivial}
    rows = options[[sk in chosen for sk in zip(options["site_id"], options["product_id"],
                                                 strict=True)]]
    if rows.empty:
        m.ORD = pyo.Set(initialize=[], ordered=True)
        return
    sk = list(zip(rows["site_id"], rows["product_id"], strict=True))
    lo = rows["lo_patients"].to_numpy(float)
    hi = rows["hi_patients"].to_numpy(float)
    c_lo = rows["cost_lo_usd"].to_numpy(float)
    c_hi = rows["cost_hi_usd"].to_numpy(float)
    partner = (rows["route"] == "partner").to_numpy()
    # The most patients a site-product can ever take (m.reach): a segment starting above it
    # can never be chosen, and no segment needs to reach beyond it. Without this cap the LP
    # credits every site the per-patient saving of the top breakpoint (national LP bound
    # $87.6M -> $95.7M with it). The cost line keeps the segment's own ends.
    keep = np.array([lo[j] <= m.reach[sk[j]] for j in range(len(sk))], dtype=bool)
    for key in sorted(set(sk) - {key for key, k in zip(sk, keep, strict=True) if k}):
        m.w[key].fix(0)  # every option needs more patients than the site can get
    rows = rows[keep]
    sk = [key for key, k in zip(sk, keep, strict=True) if k]
    lo, hi, c_lo, c_hi, partner = lo[keep], hi[keep], c_lo[keep], c_hi[keep], partner[keep]
    hi_cap = np.minimum(hi, [m.reach[key] for key in sk])
    idx = list(rows.index)
    m.ORD = pyo.Set(initialize=idx, ordered=True)
    m.ord_sk = dict(zip(idx, sk, strict=True))
    pos = {i: j for j, i in enumerate(idx)}
    m.z = pyo.Var(m.ORD, within=pyo.Binary)  # option and volume segment chosen
    m.n = pyo.Var(m.ORD, within=pyo.NonNegativeReals)  # patients under it
    by_sk = group(idx, lambda i: m.ord_sk[i])
    m.ORD_SK = pyo.Set(initialize=sorted(by_sk), dimen=2, ordered=True)
    dpp = prep.products["doses_per_patient"].to_dict()

    m.ord_choice = pyo.Constraint(m.ORD_SK, rule=lambda m, s, k: pyo.quicksum(
        m.z[i] for i in by_sk[(s, k)]) == m.w[s, k])
    m.ord_lo = pyo.Constraint(m.ORD, rule=lambda m, i: m.n[i] >= lo[pos[i]] * m.z[i]
                              if lo[pos[i]] > 0 else pyo.Constraint.Skip)
    m.ord_hi = pyo.Constraint(m.ORD, rule=lambda m, i: m.n[i] <= hi_cap[pos[i]] * m.z[i])
    m.ord_patients = pyo.Constraint(m.ORD_SK, rule=lambda m, s, k: pyo.quicksum(
        m.n[i] for i in by_sk[(s, k)]) == pyo.quicksum(m.x[p] for p in m.x_by_sk.get((s, k), [])))

    def route(m, s, k):
        links = m.links_by_sk.get((s, k), [])
        via_partner = [i for i in by_sk[(s, k)] if partner[pos[i]]]
        if not links or len(via_partner) == len(by_sk[(s, k)]):
            return pyo.Constraint.Skip  # one route only: the lanes already say which
        return (pyo.quicksum(m.q[q] for q in links)
                == dpp[k] * pyo.quicksum(m.n[i] for i in via_partner))

    m.ord_route = pyo.Constraint(m.ORD_SK, rule=route)

    def line(i: int) -> tuple[float, float]:
        j = pos[i]
        slope = (c_hi[j] - c_lo[j]) / (hi[j] - lo[j]) if hi[j] > lo[j] else 0.0
        return c_lo[j] - slope * lo[j], slope

    lines = {i: line(i) for i in idx}
    register_cost(m, "ordering_and_inventory", pyo.quicksum(
        money(a) * m.z[i] + money(b) * m.n[i] for i, (a, b) in lines.items()))
