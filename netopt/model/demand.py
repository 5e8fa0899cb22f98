"""Demand families: patients assigned to sites, unserved patients, service level."""

from __future__ import annotations

import pyomo.environ as pyo

from .common import MONEY, group, register_cost
from .prepare import Prepared

#: k$ per patient of service-level or demand shortfall in the elastic (diagnostic) model
ELASTIC_PENALTY = 1e5


def add_demand(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """served + unserved = patients per (demand point, product)."""
    pairs = prep.pairs
    products = prep.products
    cfg = prep.case.config
    n = len(pairs)
    m.P = pyo.RangeSet(0, n - 1) if n else pyo.Set(initialize=[])
    m.x = pyo.Var(m.P, within=pyo.NonNegativeReals)
    pt = pairs["point_id"].tolist()
    st = pairs["site_id"].tolist()
    pk = pairs["product_id"].tolist()
    m.pair_product = dict(enumerate(pk))
    m.pair_sk = dict(enumerate(zip(st, pk, strict=True)))
    m.x_by_site = group(range(n), lambda i: st[i])
    m.x_by_sk = group(range(n), lambda i: (st[i], pk[i]))
    m.x_by_demand = group(range(n), lambda i: (pt[i], pk[i]))

    d = prep.demand
    patients = dict(zip(zip(d["point_id"], d["product_id"], strict=True), d["patients"],
                        strict=True))
    m.patients = patients
    m.patients_of_pair = {i: patients[(pt[i], pk[i])] for i in range(n)}
    if "patients" in pairs.columns:
        # an aggregated relaxation (model/relaxation.py): a cell sends a site at most the
        # patients of its members that reach it
        for i, cap in enumerate(pairs["patients"].tolist()):
            if cap < m.patients_of_pair[i]:
                m.patients_of_pair[i] = cap
                m.x[i].setub(cap)
    m.D = pyo.Set(initialize=sorted(patients), dimen=2, ordered=True)
    elastic_unserved = m.elastic and not cfg.service.allow_unserved
    if cfg.service.allow_unserved or elastic_unserved:
        m.u = pyo.Var(m.D, within=pyo.NonNegativeReals)
    else:
        m.u = pyo.Var(m.D, within=pyo.NonNegativeReals, bounds=(0, 0))

    def balance(m, z, k):
        served = pyo.quicksum(m.x[i] for i in m.x_by_demand.get((z, k), []))
        return served + m.u[z, k] == patients[(z, k)]

    m.demand_balance = pyo.Constraint(m.D, rule=balance)
    if elastic_unserved:
        m.requirement_slacks["unserved"] = m.u
        register_cost(m, "elastic_unserved", pyo.quicksum(ELASTIC_PENALTY * m.u[z, k]
                                                          for z, k in m.D))
    else:
        penalty = (products["penalty_usd_per_patient"] / MONEY).to_dict()
        register_cost(m, "unserved_penalty", pyo.quicksum(penalty[k] * m.u[z, k]
                                                          for z, k in m.D if penalty[k]))

    cost = (pairs["cost_usd_per_patient"] / MONEY).tolist()
    register_cost(m, "patient_travel", pyo.quicksum(cost[i] * m.x[i] for i in range(n)
                                                    if cost[i] > 1e-9))
    if prep.travel_steps is not None:
        _add_travel_steps(m, prep)
    if cfg.objective == "margin":
        doses = products["doses_per_patient"]
        revenue = (doses * products["price_usd_per_dose"] / MONEY).to_dict()
        cogs = (doses * products["cogs_usd_per_dose"] / MONEY).to_dict()
        register_cost(m, "revenue", -pyo.quicksum(revenue[pk[i]] * m.x[i] for i in range(n)))
        register_cost(m, "cogs", pyo.quicksum(cogs[pk[i]] * m.x[i] for i in range(n)))


def travel_step_rows(prep: Prepared) -> dict[int, list[tuple[float, float]]]:
    """An aggregated relaxation's dearer members (Prepared.travel_steps) as rows, by pair
    (its index in `prep.pairs`): travel_extra >= slope x - intercept (k$), one row per step.
    The pair's travel beyond its cheapest member's price is at least the sum of extra x
    (x - above) over the steps up to any one: a convex piecewise-linear cost, so the LP fills
    the cheaper members first."""
    pairs = prep.pairs
    index = {key: i for i, key in enumerate(zip(pairs["point_id"], pairs["site_id"],
                                                pairs["product_id"], strict=True))}
    steps = prep.travel_steps.sort_values(["point_id", "site_id", "product_id",
                                           "above_patients"], kind="stable")
    rows: dict[int, list[tuple[float, float]]] = {}
    for z, j, k, above, extra in steps.itertuples(index=False):
        ladder = rows.setdefault(index[(z, j, k)], [])
        slope, intercept = ladder[-1] if ladder else (0.0, 0.0)
        ladder.append((slope + extra / MONEY, intercept + extra / MONEY * float(above)))
    return rows


def _add_travel_steps(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """The rows of travel_step_rows, with one travel_extra column per pair."""
    ladders = travel_step_rows(prep)
    m.T_steps = pyo.Set(initialize=sorted(ladders), ordered=True)
    m.travel_extra = pyo.Var(m.T_steps, within=pyo.NonNegativeReals)
    rows = [(i, r) for i in m.T_steps for r in range(len(ladders[i]))]

    def rule(m, i, r):
        slope, intercept = ladders[i][r]
        return m.travel_extra[i] >= slope * m.x[i] - intercept

    m.travel_step = pyo.Constraint(rows, rule=rule)
    register_cost(m, "patient_travel", pyo.quicksum(m.travel_extra[i] for i in m.T_steps))


def add_service_level(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """At least min_share of each product's patients treated within the travel target."""
    svc = prep.case.config.service
    if svc.min_share <= 0:
        return
    pairs = prep.pairs
    within = pairs["within_target"].tolist()
    pk = pairs["product_id"].tolist()
    by_product = group([i for i in range(len(pairs)) if within[i]], lambda i: pk[i])
    total = prep.demand.groupby("product_id")["patients"].sum().to_dict()
    m.K_service = pyo.Set(initialize=sorted(total), ordered=True)
    if m.elastic:
        m.service_short = pyo.Var(m.K_service, within=pyo.NonNegativeReals)
        m.requirement_slacks["service_level"] = m.service_short
        register_cost(m, "elastic_service", pyo.quicksum(ELASTIC_PENALTY * m.service_short[k]
                                                         for k in m.K_service))

    m.service_nothing = pyo.Var(bounds=(0, 0))  # keeps a row with no pairs a real row

    def rule(m, k):
        lhs = pyo.quicksum(m.x[i] for i in by_product.get(k, [])) + m.service_nothing
        if m.elastic:
            lhs = lhs + m.service_short[k]
        return lhs >= svc.min_share * total[k]

    m.service_level = pyo.Constraint(m.K_service, rule=rule)
