"""Treatment-site families: activation, onboarding, equipment, capacity, offer, min volume."""

from __future__ import annotations

import pyomo.environ as pyo

from .common import by_site_product, register_cost
from .common import money as _money
from .prepare import Prepared


def add_site_decisions(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Binary decisions: site active (y), offers product (w), onboarded for an area (o),
    equipped for a temperature class (e). Only combinations that can matter are created."""
    cfg = prep.case.config
    sp = prep.site_products
    used_sites = sorted(set(sp["site_id"]))
    m.S = pyo.Set(initialize=used_sites, ordered=True)
    m.SK = pyo.Set(initialize=sorted(zip(sp["site_id"], sp["product_id"], strict=True)),
                   dimen=2, ordered=True)
    need_onboard = sp[~sp["certified"]]
    m.SA = pyo.Set(initialize=sorted(set(zip(need_onboard["site_id"],
                                             need_onboard["therapeutic_area"], strict=True))),
                   dimen=2, ordered=True)
    # equipment: a class the site does not hold, needed for a direct lane or cryopreservation
    equip = set()
    for r in sp.itertuples(index=False):
        if r.can_equip and not r.holds_class:
            equip.add((r.site_id, r.temperature_class))
    # cryopreserving starting material: for the offer, or for an inbound lane to a far plant
    cryo = prep.inbound_lanes[prep.inbound_lanes["needs_cryo"].to_numpy(bool)]
    for sid in sorted(set(cryo["site_id"])):
        if "cryogenic" not in prep.sites.at[sid, "temperature_classes"]:
            equip.add((sid, "cryogenic"))
    m.ST = pyo.Set(initialize=sorted(equip), dimen=2, ordered=True)

    m.y = pyo.Var(m.S, within=pyo.Binary)
    m.w = pyo.Var(m.SK, within=pyo.Binary)
    m.o = pyo.Var(m.SA, within=pyo.Binary)
    m.e = pyo.Var(m.ST, within=pyo.Binary)

    sites = prep.sites
    years = cfg.sites.amortisation_years
    locked = set(cfg.sites.lock_open)
    for s in m.S:
        if (sites.at[s, "status"] == "existing" and cfg.sites.existing == "locked") or s in locked:
            m.y[s].fix(1)

    register_cost(m, "site_activation", pyo.quicksum(
        _money(sites.at[s, "activation_cost_usd"]) / years * m.y[s] for s in m.S
        if sites.at[s, "status"] != "existing"))
    register_cost(m, "site_fixed", pyo.quicksum(
        _money(sites.at[s, "annual_fixed_cost_usd"]) * m.y[s] for s in m.S))
    register_cost(m, "onboarding", pyo.quicksum(
        _money(sites.at[s, "onboarding_cost_usd"]) / years * m.o[s, a] for s, a in m.SA))
    register_cost(m, "equipment", pyo.quicksum(
        _money(prep.equip_classes[t]) * m.e[s, t] for s, t in m.ST))

    m.onboard_needs_site = pyo.Constraint(m.SA, rule=lambda m, s, a: m.o[s, a] <= m.y[s])
    m.equip_needs_site = pyo.Constraint(m.ST, rule=lambda m, s, t: m.e[s, t] <= m.y[s])


def add_site_capacity(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Patients <= capacity x active; chair hours of administrations <= chair hours x active."""
    sites = prep.sites
    chair = prep.products["chair_hours_per_patient"].to_dict()

    def patients(m, s):
        terms = m.x_by_site.get(s, [])
        if not terms:
            return pyo.Constraint.Skip
        # no more than the patients in reach: a big-M no larger than needed
        cap = min(float(sites.at[s, "capacity_patients_per_year"]),
                  sum(m.patients_of_pair[i] for i in terms))
        return pyo.quicksum(m.x[i] for i in terms) <= cap * m.y[s]

    def chairs(m, s):
        terms = m.x_by_site.get(s, [])
        hours = float(sites.at[s, "chair_hours_per_year"])
        if not terms:
            return pyo.Constraint.Skip
        # skip when the chair hours cannot bind (keeps the model small)
        most = sum(chair[m.pair_product[i]] * m.patients_of_pair[i] for i in terms)
        cap = float(sites.at[s, "capacity_patients_per_year"]) * max(
            chair[m.pair_product[i]] for i in terms)
        if min(most, cap) <= hours and hours > 0:
            return pyo.Constraint.Skip
        return pyo.quicksum(chair[m.pair_product[i]] * m.x[i] for i in terms) <= hours * m.y[s]

    m.site_patients = pyo.Constraint(m.S, rule=patients)
    m.site_chairs = pyo.Constraint(m.S, rule=chairs)


def add_offer_linking(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """A site treats product k only if it offers it (w): active, onboarded for k's area,
    able to cryopreserve starting material where that is needed. Aggregated capacity
    linking always; the strong per-pair form (x <= patients x w) tightens the LP bound."""
    sp = prep.site_products
    certified, area = by_site_product(sp, "certified"), by_site_product(sp, "therapeutic_area")
    needs_cryo = by_site_product(sp, "needs_cryo_at_site")
    site_classes = prep.sites["temperature_classes"].to_dict()
    capacity = prep.sites["capacity_patients_per_year"].astype(float).to_dict()
    m.offer_needs_site = pyo.Constraint(m.SK, rule=lambda m, s, k: m.w[s, k] <= m.y[s])

    def onboarded(m, s, k):
        if certified[s, k]:
            return pyo.Constraint.Skip
        return m.w[s, k] <= m.o[s, area[s, k]]

    def cryo(m, s, k):
        if not needs_cryo[s, k]:
            return pyo.Constraint.Skip
        if "cryogenic" in site_classes[s]:
            return pyo.Constraint.Skip
        return m.w[s, k] <= m.e[s, "cryogenic"]

    # the most patients a site-product can ever take: its capacity, or all patients in reach
    # (every later big-M on the site-product's flows is this, never more)
    m.reach = {(s, k): min(capacity[s],
                           sum(m.patients_of_pair[i] for i in m.x_by_sk.get((s, k), [])))
               for s, k in m.SK}

    def capacity(m, s, k):
        terms = m.x_by_sk.get((s, k), [])
        if not terms:
            return m.w[s, k] == 0
        return pyo.quicksum(m.x[i] for i in terms) <= m.reach[s, k] * m.w[s, k]

    m.offer_onboarded = pyo.Constraint(m.SK, rule=onboarded)
    m.offer_cryo = pyo.Constraint(m.SK, rule=cryo)
    m.offer_capacity = pyo.Constraint(m.SK, rule=capacity)
    mode = _strong_linking(m, prep)
    if mode == "eager":
        m.offer_pair = pyo.Constraint(
            m.P, rule=lambda m, i: m.x[i] <= m.patients_of_pair[i] * m.w[m.pair_sk[i]])
    elif mode == "lazy":
        # rows added by the solver's cut loop (solver/highs.py separate_linking), only where
        # the LP relaxation violates them; the pairs already linked are kept here
        m.offer_pair = pyo.ConstraintList()
        m.offer_pair_linked = set()


#: pairs up to which every strong-linking row is built up front (beyond: lazy / none)
EAGER_PAIRS = 20_000
#: launch timelines (blocks of the single model) keep their rule: every row up to this many
TIMELINE_PAIRS = 60_000


def _strong_linking(m: pyo.ConcreteModel, prep: Prepared) -> str:
    """eager, lazy or off (see `solver.strong_linking`). Lazy rows need the HiGHS cut loop
    on a single model: timeline blocks and elastic (diagnostic) models never get them."""
    setting = prep.case.config.solver.strong_linking
    single = m.model() is m and not m.elastic
    if setting is True:
        return "eager"
    if setting is False:
        return "off"
    if setting == "lazy":
        return "lazy" if single else "eager"
    if not single:
        return "eager" if len(m.P) <= TIMELINE_PAIRS else "off"
    return "eager" if len(m.P) <= EAGER_PAIRS else "lazy"


def link_pairs(m: pyo.ConcreteModel, pairs: list[int]) -> list:
    """Add the strong-linking rows of `pairs` to a lazily linked model; returns the new
    constraint data (for a persistent solver to add)."""
    new = []
    for i in pairs:
        if i in m.offer_pair_linked:
            continue
        m.offer_pair_linked.add(i)
        new.append(m.offer_pair.add(m.x[i] <= m.patients_of_pair[i] * m.w[m.pair_sk[i]]))
    return new


def lazy_linking(m: pyo.ConcreteModel) -> bool:
    return hasattr(m, "offer_pair_linked")


def add_min_volume(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """A site that offers k takes at least its min_patients_per_year of k."""
    sites = prep.sites

    def rule(m, s, k):
        need = float(sites.at[s, "min_patients_per_year"])
        terms = m.x_by_sk.get((s, k), [])
        if need <= 0 or not terms:
            return pyo.Constraint.Skip
        return pyo.quicksum(m.x[i] for i in terms) >= need * m.w[s, k]

    m.min_volume = pyo.Constraint(m.SK, rule=rule)
