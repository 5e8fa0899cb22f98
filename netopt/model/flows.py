"""Cold-chain families: doses on lanes within shelf life, hubs, partners, plants.

Doses reach a site either directly (plant -> hub -> site; the site must hold the product's
temperature class itself) or through a cold-storage partner (plant -> hub -> partner ->
site). Only lanes that fit the shelf life exist (computed in `prepare`). The starting
material of an autologous patient travels site -> hub -> plant on a lane of its own, to any
plant that makes the product, and the patient's doses come back from that plant.
"""

from __future__ import annotations

import pandas as pd
import pyomo.environ as pyo

from .common import by_site_product, group, money, register_cost
from .prepare import Prepared


def add_cold_chain(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Lanes, partner links and partner supply with the hub and partner decisions they need,
    the doses each offered site-product receives, and their transport and handling costs."""
    _facility_decisions(m, prep)
    _flow_variables(m, prep)
    _site_doses(m, prep)
    _class_and_partner_links(m, prep)
    _offer_covers(m, prep)
    _partner_pools(m, prep)
    _starting_material(m, prep)
    _cold_chain_costs(m, prep)


def _facility_decisions(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Hub (g) and partner (a) binaries for every hub a lane, a supply route or a starting
    material leg can use, and every partner a site can be linked to."""
    lanes, links, supply = prep.direct_lanes, prep.partner_links, prep.partner_supply
    hub_ids = sorted(set(lanes["hub_id"]) | set(supply["hub_id"])
                     | set(prep.inbound_lanes["hub_id"]))
    partner_ids = sorted(set(links["partner_id"]))
    m.H = pyo.Set(initialize=hub_ids, ordered=True)
    m.Pa = pyo.Set(initialize=partner_ids, ordered=True)
    m.g = pyo.Var(m.H, within=pyo.Binary)
    m.a = pyo.Var(m.Pa, within=pyo.Binary)


def _flow_variables(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Doses per year on direct lanes (f), partner deliveries (q) and partner supply (r),
    patients per year whose starting material takes an inbound lane (v), with the lookups
    by site-product the rows below share."""
    lanes, links, supply = prep.direct_lanes, prep.partner_links, prep.partner_supply
    inbound = prep.inbound_lanes
    m.L = pyo.RangeSet(0, len(lanes) - 1) if len(lanes) else pyo.Set(initialize=[])
    m.Q = pyo.RangeSet(0, len(links) - 1) if len(links) else pyo.Set(initialize=[])
    m.R = pyo.RangeSet(0, len(supply) - 1) if len(supply) else pyo.Set(initialize=[])
    m.V = pyo.RangeSet(0, len(inbound) - 1) if len(inbound) else pyo.Set(initialize=[])
    m.f = pyo.Var(m.L, within=pyo.NonNegativeReals)  # doses per year on a direct lane
    m.q = pyo.Var(m.Q, within=pyo.NonNegativeReals)  # doses per year partner -> site
    m.r = pyo.Var(m.R, within=pyo.NonNegativeReals)  # doses per year plant -> hub -> partner
    m.v = pyo.Var(m.V, within=pyo.NonNegativeReals)  # patients per year site -> hub -> plant
    l_sk = list(zip(lanes["site_id"], lanes["product_id"], strict=True))
    q_sk = list(zip(links["site_id"], links["product_id"], strict=True))
    m.lanes_by_sk = group(range(len(lanes)), lambda i: l_sk[i])
    m.links_by_sk = group(range(len(links)), lambda i: q_sk[i])
    m.link_partner = links["partner_id"].tolist()


def _site_doses(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Doses delivered to an offered site-product = its patients x doses per patient."""
    doses_pp = prep.products["doses_per_patient"].to_dict()

    def site_doses(m, s, k):
        supplied = (pyo.quicksum(m.f[i] for i in m.lanes_by_sk.get((s, k), []))
                    + pyo.quicksum(m.q[i] for i in m.links_by_sk.get((s, k), [])))
        patients = pyo.quicksum(m.x[i] for i in m.x_by_sk.get((s, k), []))
        return supplied == doses_pp[k] * patients

    m.site_doses = pyo.Constraint(m.SK, rule=site_doses)


def _class_and_partner_links(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Direct lanes need the site to hold (or be equipped for) the temperature class; a
    partner delivery needs the partner active."""
    doses_pp = prep.products["doses_per_patient"].to_dict()
    holds = by_site_product(prep.site_products, "holds_class")
    cls = by_site_product(prep.site_products, "temperature_class")
    links = prep.partner_links
    q_site, q_prod = links["site_id"].tolist(), links["product_id"].tolist()
    partner_cap = prep.partners["capacity_doses_per_year"].astype(float).to_dict()

    def own_class(m, s, k):
        lanes_sk = m.lanes_by_sk.get((s, k), [])
        if not lanes_sk or holds[s, k]:
            return pyo.Constraint.Skip
        cap = m.reach[s, k] * doses_pp[k]
        t = cls[s, k]
        return pyo.quicksum(m.f[i] for i in lanes_sk) <= cap * m.e[s, t]

    m.direct_needs_class = pyo.Constraint(m.SK, rule=own_class)

    def link_open(m, i):
        cap = min(m.reach[q_site[i], q_prod[i]] * doses_pp[q_prod[i]],
                  partner_cap[m.link_partner[i]])
        return m.q[i] <= cap * m.a[m.link_partner[i]]

    m.link_needs_partner = pyo.Constraint(m.Q, rule=link_open)


def _offer_covers(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Valid inequalities that tighten the LP: a site offering k needs the class (own or an
    active partner's) and an active hub on one of its lanes (or a partner). Without them the
    LP pays a sliver of equipment and hub cost through the big-M rows above."""
    holds = by_site_product(prep.site_products, "holds_class")
    cls = by_site_product(prep.site_products, "temperature_class")
    hub_of = prep.direct_lanes["hub_id"].tolist()
    partners_of = {sk: sorted({m.link_partner[i] for i in idx})
                   for sk, idx in m.links_by_sk.items()}
    lane_hubs = {sk: sorted({hub_of[i] for i in idx}) for sk, idx in m.lanes_by_sk.items()}

    def class_cover(m, s, k):
        if holds[s, k]:
            return pyo.Constraint.Skip
        t = cls[s, k]
        own = m.e[s, t] if (s, t) in m.ST and m.lanes_by_sk.get((s, k)) else 0
        return m.w[s, k] <= own + pyo.quicksum(m.a[p] for p in partners_of.get((s, k), []))

    def hub_cover(m, s, k):
        return m.w[s, k] <= (pyo.quicksum(m.g[h] for h in lane_hubs.get((s, k), []))
                             + pyo.quicksum(m.a[p] for p in partners_of.get((s, k), [])))

    m.offer_needs_class = pyo.Constraint(m.SK, rule=class_cover)
    m.offer_needs_hub = pyo.Constraint(m.SK, rule=hub_cover)


def _partner_pools(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Partner stock is pooled per (partner, product, plant key): autologous doses come back
    from the plant that received the patient's cells, so their pools are kept apart."""
    links, supply = prep.partner_links, prep.partner_supply
    r_key = list(zip(supply["partner_id"], supply["product_id"], supply["plant_key"],
                     strict=True))
    q_key = list(zip(m.link_partner, links["product_id"], links["plant_key"], strict=True))
    m.supply_by_pool = group(range(len(supply)), lambda i: r_key[i])
    m.links_by_pool = group(range(len(links)), lambda i: q_key[i])
    m.POOL = pyo.Set(initialize=sorted(m.links_by_pool), dimen=3, ordered=True)

    def partner_balance(m, p, k, pl):
        return (pyo.quicksum(m.r[i] for i in m.supply_by_pool.get((p, k, pl), []))
                == pyo.quicksum(m.q[i] for i in m.links_by_pool[(p, k, pl)]))

    m.partner_balance = pyo.Constraint(m.POOL, rule=partner_balance)


def _starting_material(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Autologous patients' cells travel site -> hub -> plant on an inbound lane (v, patients
    per year), and their doses come back from the same plant: per site, product and plant,
    doses out = doses per patient x patients in. The inbound lane's hub must be active, and
    a cryopreserved lane needs the site's cryogenic class."""
    inbound, lanes, links = prep.inbound_lanes, prep.direct_lanes, prep.partner_links
    dpp = prep.products["doses_per_patient"].to_dict()
    v_key = list(zip(inbound["site_id"], inbound["product_id"], inbound["plant_id"],
                     strict=True))
    f_key = list(zip(lanes["site_id"], lanes["product_id"], lanes["plant_id"], strict=True))
    q_key = list(zip(links["site_id"], links["product_id"], links["plant_key"], strict=True))
    by_skp = group(range(len(inbound)), lambda i: v_key[i])
    f_by_skp = group(range(len(lanes)), lambda i: f_key[i])
    q_by_skp = group(range(len(links)), lambda i: q_key[i])
    autologous = prep.products["autologous"].to_dict()
    skp = {key for key in (*by_skp, *f_by_skp, *q_by_skp) if autologous[key[1]]}
    m.SKP = pyo.Set(initialize=sorted(skp), dimen=3, ordered=True)

    def cells_return(m, s, k, pl):
        doses = (pyo.quicksum(m.f[i] for i in f_by_skp.get((s, k, pl), []))
                 + pyo.quicksum(m.q[i] for i in q_by_skp.get((s, k, pl), [])))
        return dpp[k] * pyo.quicksum(m.v[i] for i in by_skp.get((s, k, pl), [])) == doses

    m.cells_return = pyo.Constraint(m.SKP, rule=cells_return)
    h_key = list(zip(inbound["hub_id"], inbound["site_id"], inbound["product_id"], strict=True))
    by_hsk = group(range(len(inbound)), lambda i: h_key[i])
    m.HSK_in = pyo.Set(initialize=sorted(by_hsk), dimen=3, ordered=True)
    m.inbound_hub_open = pyo.Constraint(m.HSK_in, rule=lambda m, h, s, k: pyo.quicksum(
        m.v[i] for i in by_hsk[(h, s, k)]) <= m.reach[s, k] * m.g[h])
    # valid inequality (tightens the LP): a site offering k keeps one inbound hub active
    hubs_of = {sk: sorted({h for h, *_ in keys}) for sk, keys in
               group(sorted(by_hsk), lambda hsk: hsk[1:]).items()}
    m.inbound_hubs_of = hubs_of  # the hubs a site-product's starting material can use
    m.SK_in = pyo.Set(initialize=sorted(hubs_of), dimen=2, ordered=True)
    m.inbound_needs_hub = pyo.Constraint(m.SK_in, rule=lambda m, s, k: m.w[s, k] <= pyo.quicksum(
        m.g[h] for h in hubs_of[(s, k)]))
    # sites that hold the cryogenic class need no row (m.ST has only classes to equip)
    needs_cryo = inbound["needs_cryo"].tolist()
    cryo_by_sk = {sk: idx for sk, idx in group(
        [i for i in range(len(inbound)) if needs_cryo[i]], lambda i: v_key[i][:2]).items()
        if (sk[0], "cryogenic") in m.ST}
    m.SK_cryo = pyo.Set(initialize=sorted(cryo_by_sk), dimen=2, ordered=True)
    m.inbound_cryo = pyo.Constraint(m.SK_cryo, rule=lambda m, s, k: pyo.quicksum(
        m.v[i] for i in cryo_by_sk[(s, k)]) <= m.reach[s, k] * m.e[s, "cryogenic"])


def _cold_chain_costs(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Costs (k$): transport per shipment, hub handling per shipment, partner per dose, and
    the fixed costs of active hubs and partners. Doses become shipments at each lane's
    `shipments_per_dose`: the dose cadence within the shelf life left after its transit."""
    lanes, supply = prep.direct_lanes, prep.partner_supply
    hubs, partners = prep.hubs, prep.partners
    l_spd, r_spd = lanes["shipments_per_dose"].tolist(), supply["shipments_per_dose"].tolist()
    lane_ship = [money(c) * n for c, n in zip(lanes["cost_usd_per_shipment"], l_spd,
                                              strict=True)]
    sup_ship = [money(c) * n for c, n in zip(supply["cost_usd_per_shipment"], r_spd,
                                             strict=True)]
    in_cost = [money(c) for c in prep.inbound_lanes["cost_usd_per_patient"]]
    # the partner -> site delivery is in the partner's cost_usd_per_dose (storage and
    # delivery): counted once, under partner_handling
    register_cost(m, "transport", pyo.quicksum(lane_ship[i] * m.f[i] for i in m.L)
                  + pyo.quicksum(sup_ship[i] * m.r[i] for i in m.R)
                  + pyo.quicksum(in_cost[i] * m.v[i] for i in m.V))
    hub_cost = {h: money(hubs.at[h, "cost_usd_per_shipment"]) for h in m.H}
    l_hub, r_hub = lanes["hub_id"].tolist(), supply["hub_id"].tolist()
    v_hub = prep.inbound_lanes["hub_id"].tolist()
    # starting material: one shipment per patient through the hub of its inbound lane
    register_cost(m, "hub_handling",
                  pyo.quicksum(hub_cost[l_hub[i]] * l_spd[i] * m.f[i] for i in m.L)
                  + pyo.quicksum(hub_cost[r_hub[i]] * r_spd[i] * m.r[i] for i in m.R)
                  + pyo.quicksum(hub_cost[v_hub[i]] * m.v[i] for i in m.V))
    register_cost(m, "hub_fixed", pyo.quicksum(
        money(hubs.at[h, "annual_fixed_cost_usd"]) * m.g[h] for h in m.H))
    register_cost(m, "partner_fixed", pyo.quicksum(
        money(partners.at[p, "annual_fixed_cost_usd"]) * m.a[p] for p in m.Pa))
    per_dose = {p: money(c) for p, c in partners["cost_usd_per_dose"].items()}
    register_cost(m, "partner_handling", pyo.quicksum(
        per_dose[m.link_partner[i]] * m.q[i] for i in m.Q))


def add_hub_capacity(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Shipments through a hub (doses out, at their lanes' cadence or, from its pooled stock,
    the aged one; autologous starting material in: one shipment per patient) <= its
    capacity x active."""
    lanes, supply = prep.direct_lanes, prep.partner_supply
    l_hub, l_spd = lanes["hub_id"].tolist(), lanes["shipments_per_dose"].tolist()
    r_hub, r_spd = supply["hub_id"].tolist(), supply["shipments_per_dose"].tolist()
    v_hub = prep.inbound_lanes["hub_id"].tolist()
    by_hub_l = group(range(len(lanes)), lambda i: l_hub[i])
    by_hub_r = group(range(len(supply)), lambda i: r_hub[i])
    by_hub_v = group(range(len(v_hub)), lambda i: v_hub[i])

    # doses from a hub's pooled stock leave it at their aged cadence: the shipments they need
    # beyond their lanes' (model/ordering.py `_aged_deliveries`)
    aged = getattr(m, "aged_hub_shipments", {})

    def rule(m, h):
        cap = float(prep.hubs.at[h, "capacity_shipments_per_year"])
        shipments = (pyo.quicksum(m.f[i] * l_spd[i] for i in by_hub_l.get(h, []))
                     + pyo.quicksum(m.r[i] * r_spd[i] for i in by_hub_r.get(h, []))
                     + pyo.quicksum(m.v[i] for i in by_hub_v.get(h, []))
                     + pyo.quicksum(m.fh[key] * n for key, n in aged.get(h, [])))
        return shipments <= cap * m.g[h]

    m.hub_capacity = pyo.Constraint(m.H, rule=rule)
    _hub_linking(m, prep)


def _hub_linking(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Disaggregated linking, which tightens the LP (whose hubs otherwise open only by flow /
    capacity, at 0.3 on average nationally): the doses of one site-product through a hub are
    at most what that site-product can take, times the hub's decision; partner supply
    through a hub at most what the partner's linked site-products can take."""
    dpp = prep.products["doses_per_patient"].to_dict()
    lanes, supply, links = prep.direct_lanes, prep.partner_supply, prep.partner_links
    l_spd, r_spd = lanes["shipments_per_dose"].tolist(), supply["shipments_per_dose"].tolist()
    hub_cap = prep.hubs["capacity_shipments_per_year"].astype(float).to_dict()
    partner_cap = prep.partners["capacity_doses_per_year"].astype(float).to_dict()
    l_key = list(zip(lanes["hub_id"], lanes["site_id"], lanes["product_id"], strict=True))
    by_hub_sk = group(range(len(lanes)), lambda i: l_key[i])
    m.HSK = pyo.Set(initialize=sorted(by_hub_sk), dimen=3, ordered=True)

    # the hub's shipments bound the doses of a group of lanes at its fewest shipments per dose
    def lane_open(m, h, s, k):
        spd = min(l_spd[i] for i in by_hub_sk[(h, s, k)])
        cap = min(dpp[k] * m.reach[s, k], hub_cap[h] / spd)
        return pyo.quicksum(m.f[i] for i in by_hub_sk[(h, s, k)]) <= cap * m.g[h]

    m.hub_lane_open = pyo.Constraint(m.HSK, rule=lane_open)
    reach_of_partner: dict[tuple[str, str], float] = {}
    for p, sk in sorted({(p, (s, k)) for p, s, k in zip(
            links["partner_id"], links["site_id"], links["product_id"], strict=True)}):
        reach_of_partner[(p, sk[1])] = reach_of_partner.get((p, sk[1]), 0.0) + m.reach[sk]
    r_key = list(zip(supply["hub_id"], supply["partner_id"], supply["product_id"], strict=True))
    by_hub_pk = group(range(len(supply)), lambda i: r_key[i])
    m.HPK = pyo.Set(initialize=sorted(by_hub_pk), dimen=3, ordered=True)

    def supply_open(m, h, p, k):
        spd = min(r_spd[i] for i in by_hub_pk[(h, p, k)])
        cap = min(dpp[k] * reach_of_partner.get((p, k), 0.0), partner_cap[p], hub_cap[h] / spd)
        return pyo.quicksum(m.r[i] for i in by_hub_pk[(h, p, k)]) <= cap * m.g[h]

    m.hub_supply_open = pyo.Constraint(m.HPK, rule=supply_open)


def add_partner_capacity(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Doses through a partner <= its capacity x active."""
    links = prep.partner_links
    q_partner = links["partner_id"].tolist()
    by_partner = group(range(len(links)), lambda i: q_partner[i])

    def rule(m, p):
        cap = float(prep.partners.at[p, "capacity_doses_per_year"])
        return pyo.quicksum(m.q[i] for i in by_partner[p]) <= cap * m.a[p]

    m.partner_capacity = pyo.Constraint(m.Pa, rule=rule)


def add_plant_capacity(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Doses released by a plant (direct lanes + partner supply), plus the doses it makes
    that expire in stock, <= its capacity. A stock point's expired doses (a line per volume
    segment, as its cost) are made by a plant that supplies it: the one plant, or a split
    among several that the model chooses."""
    lanes, supply = prep.direct_lanes, prep.partner_supply
    l_plant, r_plant = lanes["plant_id"].tolist(), supply["plant_id"].tolist()
    by_l = group(range(len(lanes)), lambda i: l_plant[i])
    by_r = group(range(len(supply)), lambda i: r_plant[i])
    plants = sorted(set(by_l) | set(by_r))
    m.Pl = pyo.Set(initialize=plants, ordered=True)
    expiring = _expiring_by_plant(m, prep)

    def rule(m, pl):
        cap = float(prep.plants.at[pl, "capacity_doses_per_year"])
        return (pyo.quicksum(m.f[i] for i in by_l.get(pl, []))
                + pyo.quicksum(m.r[i] for i in by_r.get(pl, []))
                + pyo.quicksum(expiring.get(pl, []))) <= cap

    m.plant_capacity = pyo.Constraint(m.Pl, rule=rule)


def _expiring_by_plant(m: pyo.ConcreteModel, prep: Prepared) -> dict[str, list]:
    """Plant -> expressions of the doses it makes that expire in stock. Each stock point
    (a site-product's own stock, or a depot's pooled stock of a product) has its expired
    doses as a line of its segment choice; the plants that can supply it are those of its
    lanes (direct lanes of the site, partner supply of its partners; for a hub depot the
    lanes through the hub, for a partner depot its supply lanes). With one such plant the
    line goes to that plant's row; with several, `m.expired_at` splits it among them."""
    lanes, supply, links = prep.direct_lanes, prep.partner_supply, prep.partner_links

    def makers_by(frame: pd.DataFrame, key: str) -> dict[tuple, set[str]]:
        """(frame[key], product) -> the plants of those lanes."""
        out_: dict[tuple, set[str]] = {}
        for a, k, pl in zip(frame[key], frame["product_id"], frame["plant_id"], strict=True):
            out_.setdefault((a, k), set()).add(pl)
        return out_

    to_site, to_hub = makers_by(lanes, "site_id"), makers_by(lanes, "hub_id")
    to_partner = makers_by(supply, "partner_id")
    partners_of: dict[tuple, set[str]] = {}
    for s, par, k in zip(links["site_id"], links["partner_id"], links["product_id"],
                         strict=True):
        partners_of.setdefault((s, k), set()).add(par)
    points: list[tuple[tuple, list, set[str]]] = []
    for (s, k, route), terms in sorted(getattr(m, "ord_expired", {}).items()):
        if route == "direct":
            makers = to_site.get((s, k), set())
        else:
            makers = set().union(*(to_partner.get((par, k), set())
                                   for par in partners_of.get((s, k), ())))
        points.append((("site" if route == "direct" else "site_partner", s, k), terms, makers))
    for (kind, depot, k), terms in sorted(getattr(m, "depot_expired", {}).items()):
        makers = (to_hub if kind == "hub" else to_partner).get((depot, k), set())
        points.append(((kind, depot, k), terms, makers))
    out: dict[str, list] = {}
    split = [(key, pl) for key, _, makers in points if len(makers) > 1 for pl in sorted(makers)]
    m.EXPIRED_AT = pyo.Set(initialize=split, dimen=4, ordered=True)
    m.expired_at = pyo.Var(m.EXPIRED_AT, within=pyo.NonNegativeReals)
    m.expired_split = pyo.ConstraintList()
    m.expired_points = {}  # stock point -> its expired doses, and its one plant if one
    for key, terms, makers in points:
        line = pyo.quicksum(a * z + b * n for z, n, a, b in terms)
        m.expired_points[key] = (line, next(iter(makers)) if len(makers) == 1 else None)
        if len(makers) == 1:
            out.setdefault(next(iter(makers)), []).append(line)
        elif makers:  # in a fixed order: a set's varies from process to process
            m.expired_split.add(pyo.quicksum(m.expired_at[key, pl] for pl in sorted(makers))
                                == line)
            for pl in sorted(makers):
                out.setdefault(pl, []).append(m.expired_at[key, pl])
    return out
