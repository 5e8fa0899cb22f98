"""Ordering options per treatment site and product, tabulated for the network model.

A site gets a patient's dose in one of the ways the product's commercial terms (the
`policies` table) allow: just-in-time per patient from the plant, from its own stock (bought or
on consignment), or just-in-time from stock held at a 3PL hub or a cold-storage partner.
Which one is a decision of the network model, so this module works out, per site and product:

- which options can work at all: a just-in-time delivery must arrive within the product's
  schedule notice (order lead time + transit, including the hub cut-off wait); stock needs
  shelf life left on arrival; a site only agrees to stock when the loss it bears stays under
  its `max_stocking_loss_usd_per_year`;
- each option's yearly cost as a function of the site's patients, tabulated at fixed volume
  breakpoints (`finance.volume_breakpoints`) with `netopt.inventory` and handed to the model as
  one line per volume segment (a piecewise-linear cost, exact at the breakpoints).

Cost view: the manufacturer's cost (docs/concepts.md, "Cost"), relative to the just-in-time
baseline the lanes already price (each lane's shipments per dose: `doses_per_shipment` as far
as the dose cadence keeps it within shelf life, `netopt.data.cadence`). A replenishment is one
shipment per review period, or several when its doses exceed the product's bulk payload
(`replenishment_doses_per_shipment`), and it replaces the per-dose shipments stock makes
unnecessary. Stock the manufacturer or a distributor owns adds its holding, its expired doses
at cost of goods and the capital charge on it; stock a site bought leaves those to the site,
and the manufacturer bears only the doses the site returns (at cost of goods). Return credits,
restocking fees and payment terms are transfers: they decide whether a site agrees to stock
(its loss against `max_stocking_loss_usd_per_year`) and are reported by `netopt finance`.
Just-in-time options therefore cost 0 here: the lanes carry their whole cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from ..data.case import Case

ORDERING_COLUMNS = [
    "site_id", "product_id", "policy", "route", "segment", "lo_patients", "hi_patients",
    "cost_lo_usd", "cost_hi_usd", "life_days", "lead_days", "replenish_cost_usd",
    "avoided_cost_usd", "shipments_per_dose", "expired_lo_doses", "expired_hi_doses",
]
#: options that keep stock for patients who are not known yet
STOCK = ("stocked_at_site", "consignment_at_site", "held_at_hub",
         "held_at_partner_with_jit_delivery")
#: stock held at a depot that delivers per patient: policy -> depot kind. Such stock is pooled:
#: one base stock per depot and product for the summed demand of every site it serves, so a
#: site-level option costs nothing beyond its lanes and the depot carries the stock cost
DEPOT = {"held_at_hub": "hub", "held_at_partner_with_jit_delivery": "partner"}
DEPOT_COLUMNS = [
    "kind", "depot_id", "product_id", "policy", "segment", "lo_patients", "hi_patients",
    "cost_lo_usd", "cost_hi_usd", "life_days", "lead_days", "replenish_cost_usd",
    "avoided_cost_usd", "shipments_per_dose", "expired_lo_doses", "expired_hi_doses",
]
#: smallest volume ever evaluated (a Poisson demand of ~0 has no meaningful fill rate)
TINY_PATIENTS = 0.05


#: one product's row of products.csv: a pandas Series, or its dict where a loop reads it
#: thousands of times (a Series lookup costs ~10 us)
ProductRow = pd.Series | Mapping[str, Any]


@dataclass
class OrderingTable:
    """Options that survive, and what prepare must drop because of them."""

    options: pd.DataFrame
    blocked: list[tuple[str, str, str]] = field(default_factory=list)
    drop_sk: set[tuple[str, str]] = field(default_factory=set)  # no option at all
    drop_direct: set[tuple[str, str]] = field(default_factory=set)  # no plant-lane option
    drop_partner: set[tuple[str, str]] = field(default_factory=set)  # no partner option
    #: pooled stock per depot (hub or partner) and product: volume segments and cost lines
    depots: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DEPOT_COLUMNS))


@dataclass(frozen=True)
class Route:
    """Timing and cost facts of one site-product the options are judged on."""

    direct_hours: float  # fastest plant -> hub -> site lane (incl. hub cut-off wait)
    direct_cost: float  # cheapest such lane, USD per shipment (transport)
    last_leg_hours: float  # fastest hub -> site leg incl. the hub's cut-off wait
    last_leg_cost: float
    link_hours: float  # fastest plant -> hub -> partner -> site
    link_leg_hours: float  # partner -> site
    supply_cost: float  # cheapest plant -> hub -> partner, USD per shipment incl. hub handling
    #: shipments per dose the cheapest direct lane and supply lane price (dose cadence)
    direct_spd: float = 1.0
    supply_spd: float = 1.0
    #: cheapest plant -> hub -> site shipment with the hub's handling: what a shipment the
    #: site's own stock replaces (or a bulk replenishment) costs the network
    direct_handled: float = math.inf


def volume_grid(breakpoints: list[float], top: float) -> list[float]:
    """0, the breakpoints, then x3 steps until the largest site capacity is covered."""
    grid = [0.0, *[float(b) for b in breakpoints]]
    while grid[-1] < top:
        grid.append(grid[-1] * 3)
    return grid


def ordering_options(case: Case, products: pd.DataFrame, sites: pd.DataFrame,
                     site_products: pd.DataFrame, direct: pd.DataFrame, links: pd.DataFrame,
                     partner_supply: pd.DataFrame) -> OrderingTable:
    """Every feasible (site, product, option, volume segment) with its cost line."""
    terms = case.policies
    if terms is None or len(terms) == 0:
        return OrderingTable(pd.DataFrame(columns=ORDERING_COLUMNS))
    cfg = case.config.finance
    allowed = set(cfg.policies) if cfg.policies is not None else None
    terms = terms[terms["policy"].isin(allowed)] if allowed is not None else terms
    by_product = {pid: frame for pid, frame in terms.groupby("product_id", sort=True)}
    routes = _routes(direct, links, partner_supply, hub_handling(case))
    grid = volume_grid(cfg.volume_breakpoints, float(sites["capacity_patients_per_year"].max()))

    # rows read once as tuples and dicts: the loop below visits each product's terms at
    # every site, and pandas row access was most of prepare's time on the national case
    terms_of = {pid: list(frame.itertuples(index=False)) for pid, frame in by_product.items()}
    product_of = products.to_dict("index")
    caps = sites["capacity_patients_per_year"].astype(float).to_dict()
    limits = sites["max_stocking_loss_usd_per_year"].astype(float).to_dict()
    rows: list[tuple] = []
    out = OrderingTable(pd.DataFrame(columns=ORDERING_COLUMNS))
    for sid, pid in zip(site_products["site_id"], site_products["product_id"], strict=True):
        prod = product_of[pid]
        route = routes.get((sid, pid))
        cap = caps[sid]
        limit = limits[sid]
        why: list[str] = []
        found: list[tuple] = []
        for t in terms_of.get(pid, ()):
            segs, reason = _option_segments(t, prod, route, cap, limit, grid, cfg)
            if reason:
                why.append(f"{t.policy}: {reason}")
            found += [(sid, pid, t.policy, *seg) for seg in segs]
        found = _undominated(found, cfg.pooled_depots)
        if not found:
            out.drop_sk.add((sid, pid))
            out.blocked.append((sid, pid, "no ordering option works: " + "; ".join(why)
                                if why else "no ordering option in the policies table"))
            continue
        routes_used = {r[3] for r in found}
        if "direct" not in routes_used:
            out.drop_direct.add((sid, pid))
        if "partner" not in routes_used:
            out.drop_partner.add((sid, pid))
        rows += found
    out.options = pd.DataFrame(rows, columns=ORDERING_COLUMNS).sort_values(
        ["site_id", "product_id", "policy", "segment"], ignore_index=True)
    out.depots = depot_options(case, products, sites, out.options, direct, links,
                               partner_supply, by_product)
    return out


def hub_handling(case: Case) -> pd.Series:
    """USD per shipment each hub charges for handling it (hub_id -> USD)."""
    return case.hubs.set_index("hub_id")["cost_usd_per_shipment"].astype(float)


def _handled(lanes: pd.DataFrame, handling: pd.Series) -> pd.Series:
    """Each lane's cost per shipment with its hub's handling (none for a lane without a
    hub): the model charges handling per shipment apart from transport, so a shipment that
    stock replaces saves both, and a bulk replenishment through the hub pays both."""
    cost = lanes["cost_usd_per_shipment"].astype(float)
    if "hub_id" not in lanes.columns:
        return cost
    return cost + lanes["hub_id"].map(handling).astype(float).fillna(0.0)


def _routes(direct: pd.DataFrame, links: pd.DataFrame, supply: pd.DataFrame,
            handling: pd.Series) -> dict[tuple[str, str], Route]:
    inf = math.inf
    facts: dict[tuple[str, str], dict] = {}
    if len(direct):
        # a dose held at the hub still waits for the departure wave
        g = direct.assign(from_hub_hours=direct["hub_wait_hours"] + direct["last_leg_hours"],
                          handled=_handled(direct, handling)
                          ).groupby(["site_id", "product_id"])
        agg = pd.DataFrame({"direct_hours": g["hours"].min(),
                            "direct_cost": g["cost_usd_per_shipment"].min(),
                            "direct_handled": g["handled"].min(),
                            "last_leg_hours": g["from_hub_hours"].min(),
                            "last_leg_cost": g["last_leg_cost_usd"].min()})
        agg["direct_spd"] = direct.loc[g["cost_usd_per_shipment"].idxmin(),
                                       "shipments_per_dose"].to_numpy(float)
        for key, r in agg.iterrows():
            facts.setdefault(key, {}).update(r.to_dict())
    if len(links):
        by_pool = supply.assign(handled=_handled(supply, handling)).groupby(
            ["partner_id", "product_id"])["handled"]
        supply_cost = by_pool.min()
        supply_spd = supply.loc[by_pool.idxmin(), "shipments_per_dose"].set_axis(
            supply_cost.index) if len(supply) else supply_cost
        frame = links
        g = frame.groupby(["site_id", "product_id"])
        agg = pd.DataFrame({"link_hours": g["hours"].min(), "link_leg_hours": g["leg_hours"].min()})
        for key, r in agg.iterrows():
            facts.setdefault(key, {}).update(r.to_dict())
        for (sid, pid), part in frame.groupby(["site_id", "product_id"]):
            costs = [(supply_cost.get((p, pid), inf), p) for p in part["partner_id"]]
            cost, cheapest = min(costs)
            facts[(sid, pid)]["supply_cost"] = float(cost)
            facts[(sid, pid)]["supply_spd"] = float(supply_spd.get((cheapest, pid), 1.0))
            facts[(sid, pid)]["link_leg_cost"] = float(part["cost_usd_per_shipment"].min())
    out = {}
    for key, f in facts.items():
        out[key] = Route(
            direct_hours=f.get("direct_hours", inf), direct_cost=f.get("direct_cost", inf),
            last_leg_hours=f.get("last_leg_hours", inf),
            last_leg_cost=f.get("last_leg_cost", inf),
            link_hours=f.get("link_hours", inf), link_leg_hours=f.get("link_leg_hours", inf),
            supply_cost=f.get("supply_cost", inf), direct_spd=f.get("direct_spd", 1.0),
            supply_spd=f.get("supply_spd", 1.0),
            direct_handled=f.get("direct_handled", inf))
    return out


def _option_segments(t, prod: ProductRow, route: Route | None, cap: float, limit: float,
                     grid: list[float], cfg) -> tuple[list[tuple], str]:  # noqa: ANN001
    """Volume segments (route, segment, lo, hi, cost_lo, cost_hi, life, lead, replenish,
    avoided, shipments per dose avoided) of one option at one site, or the reason it cannot
    work there."""
    if route is None:
        return [], "no lane"
    policy = t.policy
    partner = policy == "held_at_partner_with_jit_delivery"
    route_name = "partner" if partner else "direct"
    if partner and not math.isfinite(route.link_hours):
        return [], "no cold-storage partner in reach"
    if not partner and not math.isfinite(route.direct_hours):
        return [], "no plant lane (the site cannot hold the class itself)"
    notice = float(prod["schedule_notice_hours"])
    lead = float(t.order_lead_time_hours)
    patient_hours = {"jit_per_patient": route.direct_hours,
                     "held_at_hub": route.last_leg_hours,
                     "held_at_partner_with_jit_delivery": route.link_leg_hours}.get(policy, 0.0)
    on_site = policy in ("stocked_at_site", "consignment_at_site")  # the dose is on hand
    if not prod["autologous"] and not on_site and lead + patient_hours > notice + 1e-9:
        return [], (f"order lead {lead:g} h + delivery {patient_hours:.1f} h exceed the "
                    f"{notice:g} h schedule notice")
    spd = route.supply_spd if partner else route.direct_spd
    whole = [(route_name, 0, 0.0, cap, 0.0, 0.0, math.nan, math.nan, 0.0, 0.0, spd, 0.0, 0.0)]
    if policy == "jit_per_patient" or prod["autologous"]:
        return whole, ""  # no stock: the lanes price everything
    budget = float(prod["shelf_budget_hours"])
    if partner:
        supply_hours = route.link_hours - route.link_leg_hours
        life = (budget - route.link_hours) / 24
        lead_days = supply_hours / 24
        replenish, avoided = route.supply_cost, route.supply_cost
    elif policy == "held_at_hub":
        life = (budget - route.direct_hours) / 24
        lead_days = (route.direct_hours - route.last_leg_hours) / 24
        # the bulk shipment into the hub is handled there; each dose still leaves the hub
        # as its own handled shipment, so only the plant -> hub transport is saved
        replenish = route.direct_handled - route.last_leg_cost
        avoided = route.direct_cost - route.last_leg_cost
    else:
        life = (budget - route.direct_hours) / 24
        lead_days = route.direct_hours / 24
        replenish = avoided = route.direct_handled
    if life < 1:
        return [], f"{max(life * 24, 0):.0f} h of shelf life left at the stock point (< 1 day)"
    # stock exists only m of every R days when the life m is shorter than the review period R
    usable = math.floor(life)
    review = math.ceil(float(t.review_period_days))
    if usable / review < float(t.target_fill_rate):
        return [], (f"{usable} day(s) of usable life with {review}-day replenishment cannot "
                    f"reach the {float(t.target_fill_rate):.0%} fill rate")
    if policy in DEPOT and cfg.pooled_depots:
        # pooled at the depot: the depot's own line (depot_options) carries the stock cost
        return [(route_name, 0, 0.0, cap, 0.0, 0.0, life, lead_days, replenish, avoided,
                 spd, 0.0, 0.0)], ""
    costs: list[float | None] = []
    loss: list[float] = []
    expired: list[float] = []
    for g in grid:
        # with (almost) no patients stock still has to be kept: price the 0 end of the first
        # segment as the smallest breakpoint's volume (a Poisson demand of ~0 has no fill rate)
        cost, econ = option_cost(t, prod, g or grid[1], life, lead_days, replenish, avoided,
                                 spd, cfg.cost_of_capital, cfg.seed)
        ok = econ.stock.target_met
        costs.append(cost if ok else None)
        loss.append(float(econ.site_loss_usd_per_year) if ok else math.inf)
        expired.append(float(econ.stock.outdated_doses_per_year))
    segs = []
    for j, lo, hi, share in _priced_spans(grid, cap, costs):
        c_lo, c_hi = costs[j], costs[j] + (costs[j + 1] - costs[j]) * share
        e_lo, e_hi = expired[j], expired[j] + (expired[j + 1] - expired[j]) * share
        if policy == "stocked_at_site":
            l_hi = loss[j] + (loss[j + 1] - loss[j]) * share
            kept = _within_limit(lo, hi, loss[j], l_hi, limit)
            if kept is None:
                continue
            _, _, e_lo, e_hi = _sub_segment(lo, hi, e_lo, e_hi, *kept)
            lo, hi, c_lo, c_hi = _sub_segment(lo, hi, c_lo, c_hi, *kept)
        segs.append((route_name, j, lo, hi, c_lo, c_hi, life, lead_days, replenish, avoided,
                     spd, e_lo, e_hi))
    if not segs:
        if all(c is None for c in costs[1:]):
            return [], (f"no stock level reaches the {float(t.target_fill_rate):.0%} fill rate "
                        f"with {life:.1f} days of life")
        if policy == "stocked_at_site":
            return [], (f"the site would risk more than its ${limit:,.0f}/yr stocking limit "
                        "at every volume it could reach the fill rate")
        return [], "the fill rate is out of reach at every volume"
    return segs, ""


def _within_limit(lo: float, hi: float, loss_lo: float, loss_hi: float,
                  limit: float) -> tuple[float, float] | None:
    """The volumes of a segment [lo, hi] at which the site's stocking loss (linear between
    the segment's ends, as its cost is) stays within its limit: the whole segment, the part
    on one side of where the loss crosses the limit, or None. The loss is not monotone in
    volume (expiries fall, holding rises), so a segment whose one end is over the limit may
    hold the site's actual volume within it."""
    over_lo, over_hi = loss_lo > limit, loss_hi > limit
    if over_lo and over_hi:
        return None
    if not (over_lo or over_hi):
        return lo, hi
    cross = lo + (limit - loss_lo) / (loss_hi - loss_lo) * (hi - lo)
    return (cross, hi) if over_lo else (lo, cross)


def _sub_segment(lo: float, hi: float, c_lo: float, c_hi: float, a: float,
                 b: float) -> tuple[float, float, float, float]:
    """[a, b] within [lo, hi], with the segment's cost line read at its new ends."""
    slope = (c_hi - c_lo) / (hi - lo) if hi > lo else 0.0
    return a, b, c_lo + slope * (a - lo), c_lo + slope * (b - lo)


def depot_options(case: Case, products: pd.DataFrame, sites: pd.DataFrame,
                  options: pd.DataFrame, direct: pd.DataFrame, links: pd.DataFrame,
                  supply: pd.DataFrame, by_product: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Pooled stock per depot and product: one base stock for the summed demand of the sites
    whose depot option (held at the hub / at the partner) it can serve, sized with the same
    inventory machinery and fill-rate target as a site's own stock, tabulated over pooled
    volume as cost lines per segment. Its shelf life is what the slowest of its deliveries
    leaves: budget - fastest supply to the depot - longest depot -> site leg."""
    cfg = case.config.finance
    if not cfg.pooled_depots:
        return pd.DataFrame(columns=DEPOT_COLUMNS)
    pooled = options[options["policy"].isin(list(DEPOT)) & options["life_days"].notna()] \
        if len(options) else options
    rows: list[tuple] = []
    cap = sites["capacity_patients_per_year"].astype(float).to_dict()
    handling = hub_handling(case)
    for (pid, policy), frame in pooled.groupby(["product_id", "policy"], sort=True):
        terms = by_product.get(pid)
        hit = terms[terms["policy"] == policy] if terms is not None else None
        if hit is None or hit.empty:
            continue
        t = next(hit.itertuples(index=False))
        prod = products.loc[pid].to_dict()
        served = set(frame["site_id"])
        for depot, f in _depot_facts(DEPOT[policy], pid, served, direct, links, handling,
                                     supply).items():
            budget = float(prod["shelf_budget_hours"])
            life = (budget - f.supply_hours - f.leg_hours) / 24
            if life < 1 or math.floor(life) / math.ceil(float(t.review_period_days)) < float(
                    t.target_fill_rate):
                continue
            top = sum(cap[s_] for s_ in f.sites)
            grid = volume_grid(cfg.volume_breakpoints, top)
            lead = f.supply_hours / 24
            for seg in _cost_segments(t, prod, (life, lead, f.replenish, f.avoided, f.spd),
                                      grid, top, cfg):
                rows.append((DEPOT[policy], depot, pid, policy, *seg[:5], life, lead,
                             f.replenish, f.avoided, f.spd, *seg[5:]))
    return pd.DataFrame(rows, columns=DEPOT_COLUMNS).sort_values(
        ["kind", "depot_id", "product_id", "segment"], ignore_index=True)


@dataclass(frozen=True)
class DepotFacts:
    """What a depot's pooled stock of one product is timed and priced on."""

    supply_hours: float  # fastest supply lane plant -> depot
    replenish: float  # cheapest supply lane, USD per (bulk) shipment
    leg_hours: float  # slowest delivery depot -> site
    sites: list[str]  # sites it can serve
    #: the per-patient shipping a stocked dose no longer needs on the way to the depot: the
    #: lane with the smallest such saving (its cost per shipment and shipments per dose, as
    #: the lanes price them after the dose cadence), so the depot never credits more
    #: shipping than the lanes of any site it serves charge
    avoided: float
    spd: float


def _least_saving(cost: pd.Series, spd: pd.Series) -> tuple[float, float]:
    """(cost per shipment, shipments per dose) of the lane whose per-dose shipping is least."""
    i = (cost * spd).idxmin()
    return float(cost[i]), float(spd[i])


def _depot_facts(kind: str, pid: str, served: set[str], direct: pd.DataFrame,
                 links: pd.DataFrame, handling: pd.Series, supply: pd.DataFrame
                 ) -> dict[str, DepotFacts]:
    """Depot -> its timing and pricing facts for one product, over the sites with its depot
    option. The supply of a partner is its own supply lanes, each shipment with its hub's
    handling (stock replaces per-patient supply shipments by bulk ones, both handled); the
    supply of a hub is the part of each plant -> hub -> site lane before the hub (each dose
    still leaves the hub as its own handled shipment)."""
    out = {}
    if kind == "partner":
        mine = links[(links["product_id"] == pid) & links["site_id"].isin(served)]
        sup = supply[supply["product_id"] == pid]
        for par, part in mine.groupby("partner_id", sort=True):
            lanes = sup[sup["partner_id"] == par]
            if lanes.empty:
                continue
            cost = _handled(lanes, handling)
            out[par] = DepotFacts(float(lanes["hours"].min()), float(cost.min()),
                                  float(part["leg_hours"].max()), sorted(set(part["site_id"])),
                                  *_least_saving(cost, lanes["shipments_per_dose"]))
        return out
    mine = direct[(direct["product_id"] == pid) & direct["site_id"].isin(served)]
    for hub, part in mine.groupby("hub_id", sort=True):
        inbound = part["hours"] - part["last_leg_hours"]
        cost = (part["cost_usd_per_shipment"] - part["last_leg_cost_usd"]).astype(float)
        out[hub] = DepotFacts(float(inbound.min()), float(cost.min()),
                              float(part["last_leg_hours"].max()), sorted(set(part["site_id"])),
                              *_least_saving(cost, part["shipments_per_dose"]))
    return out


def _cost_segments(t, prod: ProductRow, stock: tuple[float, float, float, float, float],  # noqa: ANN001
                   grid: list[float], cap: float, cfg) -> list[tuple]:  # noqa: ANN001
    """(segment, lo, hi, cost_lo, cost_hi, expired_lo, expired_hi) of a stock point's cost
    and expired doses a year over the volume grid, where the fill-rate target is met at both
    ends; `stock` is (life days, lead days, replenishment USD per shipment, avoided USD per
    shipment, shipments per dose avoided)."""
    costs, expired = [], []
    for g in grid:
        cost, econ = option_cost(t, prod, g or grid[1], *stock, cfg.cost_of_capital, cfg.seed)
        costs.append(cost if econ.stock.target_met else None)
        expired.append(float(econ.stock.outdated_doses_per_year))
    return [(j, lo, hi, costs[j], costs[j] + (costs[j + 1] - costs[j]) * share,
             expired[j], expired[j] + (expired[j + 1] - expired[j]) * share)
            for j, lo, hi, share in _priced_spans(grid, cap, costs)]


def _priced_spans(grid: list[float], cap: float, costs: list[float | None]
                  ) -> Iterator[tuple[int, float, float, float]]:
    """(segment, lo, hi, share of the grid step) of each volume segment below `cap` whose
    both ends reach the fill rate (a priced cost); the last one stops at `cap`."""
    for j, lo in enumerate(grid[:-1]):
        if lo >= cap:
            break
        if costs[j] is None or costs[j + 1] is None:
            continue
        hi = min(grid[j + 1], cap)
        yield j, lo, hi, (hi - lo) / (grid[j + 1] - lo)


def _undominated(options: list[tuple], pooled: bool = True) -> list[tuple]:
    """Drop an option's segment when another option of the same route costs no more at both
    ends of it (the model would never prefer it; fewer binaries). A pooled depot option is
    never compared: its 0 on the site row is not its cost."""
    by_sk_route: dict[tuple, list[tuple]] = {}
    for o in options:
        by_sk_route.setdefault((o[0], o[1], o[3]), []).append(o)
    keep = []
    for group in by_sk_route.values():
        for o in group:
            lo, hi, c_lo, c_hi = o[5], o[6], o[7], o[8]
            beaten = False
            for other in group:
                if other is o or other[2] == o[2] or (pooled and (_pooled(o) or _pooled(other))):
                    continue
                if other[5] <= lo + 1e-9 and other[6] >= hi - 1e-9 \
                        and _expires_no_more(other, o):
                    a_lo = _line(other, lo)
                    a_hi = _line(other, hi)
                    if a_lo <= c_lo + 1e-6 and a_hi <= c_hi + 1e-6 and (
                            a_lo < c_lo - 1e-6 or a_hi < c_hi - 1e-6 or other[2] < o[2]):
                        beaten = True
                        break
            if not beaten:
                keep.append(o)
    return keep


def _expires_no_more(other: tuple, o: tuple) -> bool:
    """`other` makes no more doses that expire than `o` over `o`'s volumes: a cheaper option
    that wastes more may still be the one a full plant needs (its expired doses count
    against the plant's capacity)."""
    def at(opt: tuple, v: float) -> float:
        lo, hi, e_lo, e_hi = opt[5], opt[6], opt[14], opt[15]
        return e_lo + (e_hi - e_lo) * (v - lo) / (hi - lo) if hi > lo else e_lo
    return all(at(other, v) <= at(o, v) + 1e-9 for v in (o[5], o[6]))


def _pooled(o: tuple) -> bool:
    """A depot option of stock (its cost is the depot's, not the 0 on its site row)."""
    return o[2] in DEPOT and math.isfinite(o[9])


def _line(o: tuple, n: float) -> float:
    lo, hi, c_lo, c_hi = o[5], o[6], o[7], o[8]
    if hi <= lo:
        return c_lo
    return c_lo + (c_hi - c_lo) * (n - lo) / (hi - lo)


#: the parts of an option's yearly cost against just-in-time, in the order finance shows them
COST_PARTS = ("replenishment", "shipping_saved", "returns", "holding", "expiries",
              "capital_charge")


def option_cost(t, prod: ProductRow, patients: float, life_days: float, lead_days: float,  # noqa: ANN001
                replenish: float, avoided: float, shipments_per_dose: float,
                cost_of_capital: float, seed: int, method: str = "auto"):
    """Manufacturer's yearly cost (USD) of a stock option at `patients` a year, relative to
    just-in-time, and the option's economics (the sum of `option_cost_parts`)."""
    parts, econ = option_cost_parts(t, prod, patients, life_days, lead_days, replenish,
                                    avoided, shipments_per_dose, cost_of_capital, seed, method)
    return sum(parts.values()), econ


def option_cost_parts(t, prod: ProductRow, patients: float, life_days: float,  # noqa: ANN001
                      lead_days: float, replenish: float, avoided: float,
                      shipments_per_dose: float, cost_of_capital: float, seed: int,
                      method: str = "auto"):
    """The yearly cost of a stock option against just-in-time, part by part (COST_PARTS).

    Shipments: bulk replenishments replace the per-dose deliveries the lanes price (emergency
    doses, when stock runs out, still go per patient): `replenishment` is paid, the per-dose
    shipping not needed (`shipments_per_dose` of the lane, as the dose cadence allows) is
    `shipping_saved` (negative). Stock the manufacturer or a
    distributor owns: holding, its expired doses and the capital charge on it. Stock a site
    bought: the site pays for holding and its own expiries; the manufacturer loses the doses
    returned to it (`returns`: destroyed, at cost of goods: the credit reverses a sale the
    model never counted).
    """
    n = max(patients, TINY_PATIENTS)
    econ = evaluate(t, prod, n, life_days, lead_days, cost_of_capital, seed, method)
    cogs = float(prod["cogs_usd_per_dose"])
    stock = econ.stock
    doses = n * float(prod["doses_per_patient"])
    planned = max(doses - float(stock.emergency_doses_per_year), 0.0)
    owner_pays = econ.title_holder != "site"
    parts = {
        "replenishment": replenishment_shipments(stock, prod) * replenish,
        "shipping_saved": -planned * shipments_per_dose * avoided,
        "returns": cogs * float(econ.returned_doses_per_year),
        "holding": float(econ.holding_cost_usd_per_year) if owner_pays else 0.0,
        "expiries": cogs * float(econ.expired_doses_manufacturer_per_year
                                 + econ.expired_doses_distributor_per_year)
        if owner_pays else 0.0,
        "capital_charge": cost_of_capital * float(stock.on_hand_doses) * cogs
        if owner_pays else 0.0,
    }
    return parts, econ


def replenishment_shipments(stock, prod: ProductRow) -> float:  # noqa: ANN001
    """Shipments a year that replenish a stock point: one per review period, or as many as the
    doses it carries need when the product limits a bulk shipment's payload
    (`replenishment_doses_per_shipment`). Without the limit a depot pooling thousands of
    patients would restock a fortnight's doses in one shipment priced like one patient's."""
    per_year = float(stock.replenishments_per_year)
    payload = prod.get("replenishment_doses_per_shipment")
    if per_year <= 0 or payload is None or pd.isna(payload):  # blank: no limit
        return per_year
    doses = float(stock.received_doses_per_year) / per_year
    return per_year * max(1.0, math.ceil(doses / float(payload) - 1e-9))


def evaluate(t, prod: ProductRow, patients: float, life_days: float, lead_days: float,  # noqa: ANN001
             cost_of_capital: float, seed: int, method: str = "auto"):
    """`inventory.evaluate_policy` for one terms row (cached: the model tabulates the same
    product, option, shelf life and lead time at many sites)."""
    key = (t.policy, t.title_holder, float(t.payment_terms_days), float(t.returnable_fraction),
           float(t.return_window_days), float(t.restocking_fee_pct),
           float(t.order_lead_time_hours), float(t.review_period_days),
           float(t.target_fill_rate), float(t.holding_cost_usd_per_dose_day))
    return _evaluate(key, round(patients * float(prod["doses_per_patient"]), 6),
                     float(math.floor(life_days)), math.ceil(lead_days * 4) / 4,
                     float(prod["price_usd_per_dose"]), float(prod["cogs_usd_per_dose"]),
                     float(cost_of_capital), float(prod["doses_per_patient"]),
                     float(prod["dose_interval_days"]), int(seed), method)


@lru_cache(maxsize=200_000)
def _evaluate(key: tuple, doses: float, life_days: float, lead_days: float, price: float,
              cogs: float, cost_of_capital: float, doses_per_patient: float,
              interval: float, seed: int, method: str):  # noqa: ANN202
    from .perishable import PolicyTerms, evaluate_policy

    (policy, holder, pay, ret, window, fee, lead_h, review, fill, holding) = key
    if policy == "jit_per_patient":
        life_days = 0.0
    terms = PolicyTerms(policy=policy, title_holder=holder, payment_terms_days=pay,
                        returnable_fraction=ret, return_window_days=window,
                        restocking_fee_pct=fee, order_lead_time_hours=lead_h,
                        review_period_days=review, target_fill_rate=fill)
    return evaluate_policy(terms, doses_per_year=doses, life_days=life_days,
                           lead_days=lead_days, price=price, cogs=cogs,
                           cost_of_capital=cost_of_capital,
                           holding_cost_usd_per_dose_day=holding,
                           doses_per_patient=doses_per_patient, dose_interval_days=interval,
                           seed=seed, method=method)


def stock_facts(prep) -> dict[tuple[str, str], tuple[float, float]]:  # noqa: ANN001
    """(life left on arrival, transport lead) in days of stock at each site, by site-product
    with a plant lane: what `stocked_at_site` would face there."""
    out = {}
    handling = prep.hubs["cost_usd_per_shipment"].astype(float)
    for (sid, pid), route in _routes(prep.direct_lanes, prep.partner_links.iloc[0:0],
                                     prep.partner_supply, handling).items():
        if math.isfinite(route.direct_hours):
            budget = float(prep.products.at[pid, "shelf_budget_hours"])
            out[(sid, pid)] = ((budget - route.direct_hours) / 24, route.direct_hours / 24)
    return out


__all__ = ["COST_PARTS", "DEPOT", "DEPOT_COLUMNS", "ORDERING_COLUMNS", "OrderingTable",
           "depot_options", "evaluate", "option_cost", "option_cost_parts", "ordering_options",
           "replenishment_shipments", "stock_facts", "volume_grid"]
