"""Derived data for the model: demand points, feasible pairs, lanes within shelf life.

Everything the MILP is indexed by is computed here with numpy/pandas, sparse by construction
and sorted, so the Pyomo build never loops over infeasible combinations and two builds of
the same case are identical. Each pair or lane that is *not* feasible keeps the reason, so an
unserved patient or an infeasible model can be explained in domain words.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..data.cadence import doses_within_life, shipments_per_dose, shipments_per_patient
from ..data.case import Case
from ..data.geography import distance_matrix_km, haversine_km, pairs_within_km, transit_options
from ..inventory.ordering import (
    DEPOT_COLUMNS,
    ORDERING_COLUMNS,
    OrderingTable,
    ProductRow,
    ordering_options,
)
from ..inventory.perishable import max_issue_age_days

log = logging.getLogger(__name__)

CRYO = "cryogenic"
#: starting-material lanes: hours include cryopreservation where needed; legs as in lanes
#: the two legs of a route through a hub: mode, hours and USD per shipment of each, and the
#: wait for the hub's departure wave between them
LEG_COLUMNS = ["first_leg_mode", "first_leg_hours", "first_leg_cost_usd", "hub_wait_hours",
               "last_leg_mode", "last_leg_hours", "last_leg_cost_usd"]
#: each outbound lane's dose cadence: doses one shipment carries in time after the lane's
#: transit, and the shipments per dose that follow (`netopt.data.cadence`)
CADENCE_COLUMNS = ["doses_per_shipment", "shipments_per_dose"]
#: the same for a dose drawn from a depot's pooled stock on the depot -> site leg (hub ->
#: site of a direct lane, partner -> site of a link), after its worst-case age at the depot;
#: NaN where the depot holds no pooled stock of the product
STOCK_CADENCE_COLUMNS = ["stock_doses_per_shipment", "stock_shipments_per_dose"]
INBOUND_COLUMNS = ["site_id", "product_id", "plant_id", "hub_id", "hours",
                   "cost_usd_per_patient", "needs_cryo", *LEG_COLUMNS]
#: hours the cryopreservation of starting material at the site adds to vein-to-vein time
CRYOPRESERVATION_HOURS = 24.0
#: transport.fixed_hours assumes shipments make an 18:00 hub cut-off; earlier cut-offs add
#: the difference (the shipment waits for the next departure wave)
REFERENCE_CUTOFF_HOUR = 18.0


@dataclass
class Prepared:
    """Sparse, sorted index sets and coefficients for `model.build`."""

    case: Case
    products: pd.DataFrame  # index product_id; derived columns added
    points: pd.DataFrame  # index point_id: latitude, longitude, population, n_zones
    zone_point: pd.DataFrame  # zone_id, point_id, population
    demand: pd.DataFrame  # point_id, product_id, patients (> 0 only)
    sites: pd.DataFrame  # index site_id (excluded sites removed)
    hubs: pd.DataFrame  # index hub_id
    partners: pd.DataFrame  # index partner_id
    plants: pd.DataFrame  # index plant_id
    site_products: pd.DataFrame  # eligible (site_id, product_id) with derived facts
    pairs: pd.DataFrame  # point_id, site_id, product_id, km, cost_usd_per_patient, within
    direct_lanes: pd.DataFrame  # site_id, product_id, plant_id, hub_id, hours, cost, mode
    partner_supply: pd.DataFrame  # partner_id, product_id, plant_id, hub_id, hours, cost
    partner_links: pd.DataFrame  # site_id, partner_id, product_id, km, hours, cost
    #: starting material of autologous products, site -> hub -> plant (INBOUND_COLUMNS)
    inbound_lanes: pd.DataFrame
    blocked: pd.DataFrame  # site_id, product_id, reason (pairs excluded before the model)
    no_option: pd.DataFrame  # point_id, product_id, patients, reason (no feasible site)
    equip_classes: dict[str, float] = field(default_factory=dict)  # class -> annual cost
    #: ordering options per site-product: policy, route, volume segment and its cost line
    ordering: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ORDERING_COLUMNS))
    #: pooled stock per depot (hub or partner) and product: volume segment and cost line
    depots: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DEPOT_COLUMNS))
    aggregation_error_km: float = 0.0
    explicit_costs: bool = False
    #: (site_id, product_id) with patients in reach, kept when `pairs` is cut down to one
    #: network (the facility decomposition's whole-model solve), so a site left closed is not
    #: reported as out of reach; None: read from `pairs`
    paired: frozenset[tuple[str, str]] | None = None
    #: an aggregated relaxation's members (model/relaxation.py): point_id (the cell),
    #: product_id, site_id, member, member_patients, one row per member and site it reaches;
    #: the cell reach cuts read them (model/cell_reach.py). None for any other case
    cell_members: pd.DataFrame | None = None
    #: an aggregated relaxation's dearer members (model/relaxation.py): point_id (the cell),
    #: site_id, product_id, above_patients, extra_usd_per_patient: every patient a cell sends
    #: a site beyond `above_patients` costs at least that much more than its cheapest
    #: member's, the cheaper members being used up. None for any other case
    travel_steps: pd.DataFrame | None = None

    @property
    def product_ids(self) -> list[str]:
        return list(self.products.index)


# ---------------------------------------------------------------- products


def derive_products(case: Case) -> pd.DataFrame:
    """Per-patient figures every later stage needs (doses, shipments, chair hours, penalty)."""
    p = case.products.set_index("product_id").sort_index().copy()
    p["shelf_budget_hours"] = p["shelf_life_hours"] - p["handling_buffer_hours"]
    # the most doses one shipment can carry in time (a lane of no transit); each lane's own
    # figure, after its transit hours, is set by `_lane_cadence`
    p["doses_per_shipment_max"] = doses_within_life(
        p["doses_per_shipment"].to_numpy(float), p["dose_interval_days"].to_numpy(float),
        p["shelf_budget_hours"].to_numpy(float))
    p["shipments_per_patient"] = shipments_per_patient(
        p["doses_per_patient"].to_numpy(float), p["doses_per_shipment_max"].to_numpy(float))
    p["chair_hours_per_patient"] = p["doses_per_patient"] * p["chair_hours_per_dose"]
    p["visits_per_patient"] = p["doses_per_patient"] + (p["modality"] == "autologous")
    lost_margin = (p["doses_per_patient"] * (p["price_usd_per_dose"] - p["cogs_usd_per_dose"]))
    given = p["unserved_penalty_usd_per_patient"]
    if case.config.objective == "margin":
        # revenue forgone is already in the objective; only an explicit penalty is added
        p["penalty_usd_per_patient"] = given.fillna(0.0)
    else:
        p["penalty_usd_per_patient"] = given.fillna(lost_margin.clip(lower=0.0))
    p["autologous"] = p["modality"] == "autologous"
    return p


# ---------------------------------------------------------------- demand points


def aggregate_zones(zones: pd.DataFrame, cluster_km: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge zones falling in the same cell of about cluster_km into one demand point at
    their population-weighted centroid (0 = one point per zone)."""
    z = zones[["zone_id", "latitude", "longitude", "population"]].copy()
    if cluster_km <= 0:
        points = z.rename(columns={"zone_id": "point_id"}).set_index("point_id")
        points["n_zones"] = 1
        points["radius_km"] = 0.0
        return points.sort_index(), pd.DataFrame(
            {"zone_id": z["zone_id"], "point_id": z["zone_id"], "population": z["population"]})
    dlat = cluster_km / 111.2
    row = np.floor(z["latitude"].to_numpy() / dlat).astype(int)
    band_lat = np.radians((row + 0.5) * dlat)
    dlon = dlat / np.maximum(np.cos(band_lat), 0.05)
    col = np.floor(z["longitude"].to_numpy() / dlon).astype(int)
    z["cell"] = [f"C{cluster_km:g}{r:+05d}{c:+05d}" for r, c in zip(row, col, strict=True)]
    w = z["population"].clip(lower=1e-9)
    z["wlat"] = z["latitude"] * w
    z["wlon"] = z["longitude"] * w
    z["w"] = w
    g = z.groupby("cell", sort=True)
    points = pd.DataFrame({
        "latitude": g["wlat"].sum() / g["w"].sum(),
        "longitude": g["wlon"].sum() / g["w"].sum(),
        "population": g["population"].sum(),
        "n_zones": g.size(),
    })
    points.index.name = "point_id"
    # how far the farthest member zone lies from its point: pair cut-offs are shrunk by it so
    # that no member zone ends up beyond a travel limit
    centre = points.loc[z["cell"]]
    z["off_km"] = haversine_km(z["latitude"].to_numpy(), z["longitude"].to_numpy(),
                               centre["latitude"].to_numpy(), centre["longitude"].to_numpy())
    points["radius_km"] = z.groupby("cell", sort=True)["off_km"].max()
    zone_point = z[["zone_id", "cell", "population"]].rename(columns={"cell": "point_id"})
    return points, zone_point.reset_index(drop=True)


def product_cells(products: pd.DataFrame, cluster_km: float, share: float) -> dict[str, float]:
    """Cell size per product: a product whose patients travel far loses little accuracy on a
    coarser grid (error relative to its reach), and rare far-travelling products would
    otherwise dominate the pair count."""
    if cluster_km <= 0 and share <= 0:
        return {pid: 0.0 for pid in products.index}
    return {pid: float(round(max(cluster_km, share * reach), 1))
            for pid, reach in products["max_patient_travel_km"].items()}


def demand_points(zones: pd.DataFrame, cells: dict[str, float]
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.Index]]:
    """Points of every grid in use, the zone -> point map, and each product's points."""
    frames, maps, by_product = [], [], {}
    for size in sorted(set(cells.values())):
        pts, zp = aggregate_zones(zones, size)
        frames.append(pts)
        maps.append(zp)
        for pid, s in cells.items():
            if s == size:
                by_product[pid] = pts.index
    points = pd.concat(frames)
    points = points[~points.index.duplicated()].sort_index()
    zone_point = pd.concat(maps, ignore_index=True).drop_duplicates(["zone_id", "point_id"])
    return points, zone_point.reset_index(drop=True), by_product


# ---------------------------------------------------------------- lanes


def _wait_hours(cutoff: str) -> float:
    hh, mm = (int(x) for x in str(cutoff).split(":"))
    return max(0.0, REFERENCE_CUTOFF_HOUR - (hh + mm / 60.0))


class Leg(NamedTuple):
    """One transport leg: great-circle km, mode, hours and cost per shipment."""

    km: float
    mode: str
    hours: float
    cost: float


#: the modes that reach one leg, cheapest first (empty when none reaches)
Legs = tuple[Leg, ...]


class Route(NamedTuple):
    """Two legs through a hub (into it, out of it) with the wait for its departure wave."""

    first: Leg
    wait: float
    second: Leg

    @property
    def hours(self) -> float:
        return self.first.hours + self.wait + self.second.hours

    @property
    def cost(self) -> float:
        return self.first.cost + self.second.cost


def _routes(first: Legs, wait: float, second: Legs) -> list[Route]:
    """Every mode pair of a two-leg route, cheapest (then fastest) first."""
    return sorted((Route(a, wait, b) for a in first for b in second),
                  key=lambda r: (r.cost, r.hours, r.first.mode, r.second.mode))


def cheapest_route(first: Legs, wait: float, second: Legs,
                   limit: float = math.inf) -> Route | None:
    """The cheapest mode per leg whose hours together fit `limit` (None if no pair does):
    a lane exists if any allowed mode fits its shelf life."""
    return next((r for r in _routes(first, wait, second) if r.hours <= limit), None)


def _pareto_routes(first: Legs, wait: float, second: Legs) -> list[Route]:
    """Mode pairs no other pair beats on both cost and hours (partner supply: which one fits
    is known only once the partner's pool of sites is)."""
    out: list[Route] = []
    for r in _routes(first, wait, second):
        if not out or r.hours < out[-1].hours:
            out.append(r)
    return out


def _legs(a: pd.DataFrame, b: pd.DataFrame, transport: pd.DataFrame) -> dict[tuple, Legs]:
    """Transit by every mode that reaches, for every a x b combination, as a dict: the lane
    loops look legs up tens of thousands of times, where a MultiIndex .loc would dominate
    the prepare time."""
    km = distance_matrix_km(a["latitude"], a["longitude"], b["latitude"], b["longitude"])
    kms = km.ravel().tolist()
    modes = [(o.mode, o.hours.tolist(), o.cost_usd.tolist())
             for o in transit_options(km.ravel(), transport)]
    ia, ib = np.divmod(np.arange(km.size), len(b))
    keys = zip(a.index.to_numpy()[ia], b.index.to_numpy()[ib], strict=True)
    out = {}
    for i, key in enumerate(keys):
        legs = [Leg(kms[i], mode, hours[i], cost[i]) for mode, hours, cost in modes
                if math.isfinite(hours[i])]
        out[key] = tuple(sorted(legs, key=lambda leg: (leg.cost, leg.hours, leg.mode)))
    return out


def _nearest(frame: pd.DataFrame, lat: float, lon: float, k: int,
             usable: pd.Index) -> pd.Index:
    """The k nearest rows of frame, then only those usable. Ranking among all rows (excluded
    ones too) keeps the candidate set monotone: taking a hub out never brings another one
    in, so an outage can never look cheaper than the network it removes a hub from."""
    d = haversine_km(lat, lon, frame["latitude"].to_numpy(), frame["longitude"].to_numpy())
    order = np.lexsort((frame.index.to_numpy(), d))
    nearest = frame.index[order[:k]]
    return nearest[nearest.isin(usable)]


# ---------------------------------------------------------------- facilities and legs


@dataclass(frozen=True)
class _Network:
    """Facilities and the transport legs between them, as dicts: the lane steps look legs up
    tens of thousands of times."""

    sites: pd.DataFrame  # index site_id (excluded sites removed)
    hubs: pd.DataFrame  # index hub_id (excluded hubs removed)
    all_hubs: pd.DataFrame  # every hub, excluded ones too: see _nearest
    partners: pd.DataFrame  # index partner_id (excluded partners removed)
    plants: pd.DataFrame  # index plant_id
    equip: dict[str, float]  # temperature class a site can be equipped for -> annual cost
    makers: dict[str, list[str]]  # product -> plants that make it
    hub_wait: dict[str, float]  # hours a shipment waits for the hub's departure wave
    plant_hub: dict[tuple, Legs]  # (plant, hub); also hub -> plant for starting material
    hub_site: dict[tuple, Legs]  # (hub, site); also site -> hub for starting material
    hub_partner: dict[tuple, Legs]  # (hub, partner)
    site_partners: dict[str, list[tuple[str, Legs]]]  # site -> partners whose radius reaches it
    n_hubs: int  # aggregation.nearest_hubs
    hub_classes: dict[str, str]  # hub -> the temperature classes it handles
    partner_classes: dict[str, str]  # partner -> the temperature classes it stores

    def near_hubs(self, latitude: float, longitude: float) -> pd.Index:
        """The usable hubs among the n_hubs nearest to a place."""
        return _nearest(self.all_hubs, latitude, longitude, self.n_hubs, self.hubs.index)


def _network(case: Case, products: pd.DataFrame) -> _Network:
    """Usable facilities (excluded rows removed) and every leg between them."""
    sites = case.sites[case.sites["status"] != "excluded"].set_index("site_id").sort_index()
    hubs = case.hubs[case.hubs["status"] != "excluded"].set_index("hub_id").sort_index()
    partners = case.partners[case.partners["status"] != "excluded"].set_index(
        "partner_id").sort_index()
    plants = case.plants.set_index("plant_id").sort_index()
    transport = case.transport
    return _Network(
        sites=sites, hubs=hubs, all_hubs=case.hubs.set_index("hub_id").sort_index(),
        partners=partners, plants=plants,
        equip=dict(zip(case.equipment["temperature_class"],
                       case.equipment["annual_cost_usd"].astype(float), strict=True)),
        makers={pid: [pl for pl, r in plants.iterrows() if pid in r["products"]]
                for pid in products.index},
        hub_wait={h: _wait_hours(c) for h, c in hubs["order_cutoff_local"].items()},
        plant_hub=_legs(plants, hubs, transport), hub_site=_legs(hubs, sites, transport),
        hub_partner=_legs(hubs, partners, transport),
        site_partners=_site_partner_pairs(sites, partners, transport),
        n_hubs=case.config.aggregation.nearest_hubs,
        hub_classes=hubs["temperature_classes"].to_dict(),
        partner_classes=partners["temperature_classes"].to_dict())


# ---------------------------------------------------------------- partner supply


def _partner_supply(net: _Network, products: pd.DataFrame) -> pd.DataFrame:
    """Plant -> hub -> partner lanes for every product a partner can hold (before pooling:
    `_pool_partner_supply` keeps the ones every link of the pool can use)."""
    rows = []
    partner_near_hubs = {p: net.near_hubs(r.latitude, r.longitude)
                         for p, r in net.partners.iterrows()}
    for pid, prod in products.iterrows():
        cls = prod["temperature_class"]
        for par, prow in net.partners.iterrows():
            if cls not in prow["temperature_classes"]:
                continue
            for pl in net.makers[pid]:
                for h in partner_near_hubs[par]:
                    if cls not in net.hub_classes[h]:
                        continue
                    for r in _pareto_routes(net.plant_hub[(pl, h)], net.hub_wait[h],
                                            net.hub_partner[(h, par)]):
                        rows.append((par, pid, pl, h, r.hours, r.cost, *_leg_fields(r)))
    return pd.DataFrame(rows, columns=[
        "partner_id", "product_id", "plant_id", "hub_id", "hours", "cost_usd_per_shipment",
        *LEG_COLUMNS])


def _leg_fields(r: Route) -> tuple:
    """LEG_COLUMNS of a route."""
    return (r.first.mode, r.first.hours, r.first.cost, r.wait, r.second.mode, r.second.hours,
            r.second.cost)


def _supply_hours(partner_supply: pd.DataFrame) -> dict[tuple[str, str], list[tuple]]:
    """(partner, product) -> [(plant, hours)] of its supply lanes."""
    out: dict[tuple, list] = {}
    for par, pid, pl, hours in zip(partner_supply["partner_id"], partner_supply["product_id"],
                                   partner_supply["plant_id"], partner_supply["hours"],
                                   strict=True):
        out.setdefault((par, pid), []).append((pl, hours))
    return out


# ---------------------------------------------------------------- site-product lanes


#: one site's row of sites.csv as a dict (read thousands of times: see _site_product_lanes)
SiteRow = Mapping[str, Any]


class _InLane(NamedTuple):
    """One starting-material lane of an autologous product: site -> hub -> plant."""

    plant: str
    hub: str
    hours: float  # transit (+ cryopreservation when it cannot arrive fresh)
    cost: float  # USD per patient (one shipment of starting material each)
    needs_cryo: bool
    route: Route  # site -> hub -> plant


def _inbound_lanes(net: _Network, sid: str, srow: SiteRow, pid: str, prod: ProductRow,
                   near_hubs: pd.Index) -> dict[str, list[_InLane]] | str:
    """Plant -> the lanes that can bring a patient's cells there from the site, per hub:
    fresh where the hub keeps them within starting_material_hours, else (when the site holds
    or can be equipped for the cryogenic class) cryopreserved. Per hub, not per plant: a
    plant that one hub reaches fresh is still reached cryopreserved through the others, or
    the network would have to open that one hub for the site. Or why no plant can receive
    them."""
    can_cryo = CRYO in srow["temperature_classes"] or CRYO in net.equip
    out: dict[str, list[_InLane]] = {}
    reachable = False
    for pl in net.makers[pid]:
        lanes = []
        for h in near_hubs:
            # starting material travels site -> hub -> plant: the outbound legs, mirrored;
            # the cheapest modes that keep it fresh, else the cheapest modes at all
            legs = (net.hub_site[(h, sid)], net.hub_wait[h], net.plant_hub[(pl, h)])
            ok = cheapest_route(*legs, limit=prod["starting_material_hours"])
            if ok is not None:
                lanes.append(_InLane(pl, h, ok.hours, ok.cost, False, ok))
                reachable = True
            elif (cheap := cheapest_route(*legs)) is not None:
                reachable = True
                if can_cryo:
                    lanes.append(_InLane(pl, h, cheap.hours + CRYOPRESERVATION_HOURS,
                                         cheap.cost, True, cheap))
        if lanes:
            out[pl] = lanes
    if out:
        return out
    if not reachable:
        return "no inbound lane for starting material" + (
            ": no transport mode reaches (every site -> hub or hub -> plant leg is longer "
            "than each mode's max_km, transport.csv)" if len(near_hubs) else ": no hub")
    return "starting material cannot reach the plant fresh and the site cannot cryopreserve"


def _outbound_limit(prod: ProductRow, inbound_hours: float, turnaround: float,
                    v2v_limit_days: float | None) -> float:
    """Hours a dose may spend plant -> site: its shelf budget, and for an autologous product
    what the vein-to-vein limit leaves after the inbound leg and manufacturing."""
    out_limit = prod["shelf_budget_hours"]
    if prod["autologous"] and v2v_limit_days is not None:
        out_limit = min(out_limit, v2v_limit_days * 24 - inbound_hours - turnaround * 24)
    return out_limit


def _per_dose(prod: ProductRow, hours: float, per_shipment: float) -> float:
    """USD per dose of a lane costing `per_shipment` (route and handling) a shipment after
    `hours` of transit: a slower mode may leave too little shelf life for the doses a
    shipment was to carry, and then ships more often."""
    return per_shipment * shipments_per_dose(
        prod["doses_per_patient"], prod["doses_per_shipment"], prod["dose_interval_days"],
        prod["shelf_budget_hours"] - hours)


def _cadence_matters(prod: ProductRow) -> bool:
    """Whether a lane's hours can change the doses its shipments carry."""
    return prod["doses_per_shipment"] > 1 and prod["dose_interval_days"] > 0


def _direct_lanes(net: _Network, sid: str, pid: str, prod: ProductRow, plants: list[str],
                  near_hubs: pd.Index, out_limit: float) -> list[tuple]:
    """Plant -> hub -> site lanes within the outbound limit, each by its mode pair of least
    cost a dose (route and hub handling at the cadence its hours keep; the cheapest pair
    when the cadence cannot change)."""
    lanes = []
    cls = prod["temperature_class"]
    handling = net.hubs["cost_usd_per_shipment"]
    for pl in plants:
        for h in near_hubs:
            if cls not in net.hub_classes[h]:
                continue
            legs = (net.plant_hub[(pl, h)], net.hub_wait[h], net.hub_site[(h, sid)])
            if _cadence_matters(prod):
                fits = [r for r in _routes(*legs) if r.hours <= out_limit]
                fee = float(handling[h])
                r = min(fits, key=lambda r: _per_dose(prod, r.hours, r.cost + fee),
                        default=None)
            else:
                r = cheapest_route(*legs, out_limit)
            if r is not None:
                lanes.append((sid, pid, pl, h, r.hours, r.cost, r.second.mode, *_leg_fields(r)))
    return lanes


def _partner_links(net: _Network, sid: str, pid: str, prod: ProductRow, plants: list[str],
                   supply_hours: dict[tuple[str, str], list[tuple]],
                   out_limit: float) -> list[tuple]:
    """Partner -> site deliveries whose fastest supply plus delivery fits the outbound limit."""
    links = []
    for par, legs in net.site_partners.get(sid, []):
        if prod["temperature_class"] not in net.partner_classes[par]:
            continue
        fastest = min((hours for pl, hours in supply_hours.get((par, pid), [])
                       if pl in plants), default=math.inf)
        # the cheapest delivery mode that fits after the fastest supply
        leg = next((leg for leg in legs if fastest + leg.hours <= out_limit), None)
        if leg is not None:
            # autologous: one plant, the one that received the patient's cells
            plant_key = plants[0] if prod["autologous"] else ""
            # the delivery is in the partner's cost_usd_per_dose ("storage and delivery"):
            # the link carries no transport cost of its own, so it is counted once
            links.append((sid, par, pid, leg.km, fastest + leg.hours, 0.0,
                          leg.mode, plant_key, leg.hours, out_limit))
    return links


@dataclass
class _LaneRows:
    """Rows the site-product step collects, in site then product order."""

    site_products: list[dict] = field(default_factory=list)
    direct: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    inbound: list[tuple] = field(default_factory=list)
    blocked: list[tuple[str, str, str]] = field(default_factory=list)


class _Outbound(NamedTuple):
    """What one group of plants can deliver to a site-product (for an autologous product:
    one plant, with the starting-material lanes that take the patient's cells there)."""

    plants: list[str]
    lanes: list[tuple]
    links: list[tuple]
    inbound: list[_InLane]
    v2v_hours: float  # fastest inbound + turnaround + fastest outbound (autologous)


def _plant_outbound(net: _Network, sid: str, pid: str, prod: ProductRow, can_equip: bool,
                    near_hubs: pd.Index, supply_hours: dict[tuple[str, str], list[tuple]],
                    v2v_limit_days: float | None, pl: str,
                    inbound: list[_InLane]) -> _Outbound | None:
    """Lanes back from plant pl after its inbound lanes. Under a vein-to-vein limit every
    inbound lane must fit with every outbound lane kept, so the limit is taken after the
    slowest inbound lane kept: all of them, unless the fresh ones alone keep more outbound
    lanes, or as many at less cost; else only the fastest."""
    turnaround = float(net.plants.at[pl, "turnaround_days"])

    def outbound(kept: list[_InLane]) -> _Outbound | None:
        out_limit = _outbound_limit(prod, max(ln.hours for ln in kept), turnaround,
                                    v2v_limit_days)
        lanes = _direct_lanes(net, sid, pid, prod, [pl], near_hubs,
                              out_limit) if can_equip else []
        links = _partner_links(net, sid, pid, prod, [pl], supply_hours, out_limit)
        if not lanes and not links:
            return None
        best_out = min([ln[4] for ln in lanes] + [lk[4] for lk in links])
        return _Outbound([pl], lanes, links, kept, kept[0].hours + turnaround * 24 + best_out)

    inbound = sorted(inbound, key=lambda ln: (ln.hours, ln.hub))
    found = outbound(inbound)
    if v2v_limit_days is None:
        return found
    fresh = [ln for ln in inbound if not ln.needs_cryo]
    if fresh and len(fresh) < len(inbound):
        alone = outbound(fresh)
        if alone is not None and (found is None or _reach(alone) > _reach(found)):
            found = alone
    return found if found is not None else outbound(inbound[:1])


def _reach(out: _Outbound) -> tuple[int, float]:
    """How much an outbound set offers: more lanes and links first, then cheaper lanes (a
    slower inbound lane shortens the outbound limit, which may leave only dearer modes)."""
    return len(out.lanes) + len(out.links), -sum(lane[5] for lane in out.lanes)


def _site_outbound(net: _Network, sid: str, srow: SiteRow, pid: str, prod: ProductRow,
                   near_hubs: pd.Index, supply_hours: dict[tuple[str, str], list[tuple]],
                   v2v_limit_days: float | None) -> list[_Outbound] | str:
    """Every way doses can reach one site-product: per plant that can take the patient's
    cells for an autologous product, else from all plants that make it. Or why none can."""
    cls = prod["temperature_class"]
    can_equip = cls in srow["temperature_classes"] or cls in net.equip
    if not prod["autologous"]:
        limit = _outbound_limit(prod, 0.0, 0.0, v2v_limit_days)
        makers = net.makers[pid]
        lanes = _direct_lanes(net, sid, pid, prod, makers, near_hubs, limit) if can_equip else []
        links = _partner_links(net, sid, pid, prod, makers, supply_hours, limit)
        found = [_Outbound(makers, lanes, links, [], math.nan)] if lanes or links else []
    else:
        inbound = _inbound_lanes(net, sid, srow, pid, prod, near_hubs)
        if isinstance(inbound, str):
            return inbound
        found = [o for pl, lanes in inbound.items()
                 if (o := _plant_outbound(net, sid, pid, prod, can_equip, near_hubs,
                                          supply_hours, v2v_limit_days, pl, lanes))]
    if not found:
        # a partner in range counts only when it holds the product's class
        partner = any(cls in net.partner_classes[par] for par, _ in net.site_partners.get(sid, []))
        if not (can_equip or partner):
            return f"site cannot hold {cls} (no equipment row, no partner of that class in range)"
        plants = net.makers[pid] if not prod["autologous"] else list(inbound)
        return _why_no_lane(net, sid, cls, plants, near_hubs) if not partner \
            else "no lane within shelf life"
    return found


#: why a site-product has no lane when the shelf life is not to blame
NO_HUB_OF_CLASS = "no hub near the site handles {cls} (hubs.csv temperature_classes)"
NO_MODE_REACHES = ("no transport mode reaches: every plant -> hub or hub -> site leg is "
                   "longer than each mode's max_km (transport.csv)")


def _why_no_lane(net: _Network, sid: str, cls: str, plants: list[str],
                 near_hubs: pd.Index) -> str:
    """What keeps every plant -> hub -> site lane from existing, in the order a user would
    check: a hub of the product's class among the site's nearest, a mode that reaches each
    leg, then the shelf life. Blaming the shelf life for the first two sent users to the
    wrong input (a route of 11-18 h "longer than 96 h of shelf life")."""
    hubs = [h for h in near_hubs if cls in net.hub_classes[h]]
    if not hubs:
        return NO_HUB_OF_CLASS.format(cls=cls)
    if not any(net.plant_hub.get((pl, h)) and net.hub_site.get((h, sid))
               for pl in plants for h in hubs):
        return NO_MODE_REACHES
    return "no lane within shelf life"


def _site_product(net: _Network, rows: _LaneRows, sid: str, srow: SiteRow, pid: str,
                  prod: ProductRow, near_hubs: pd.Index,
                  supply_hours: dict[tuple[str, str], list[tuple]],
                  v2v_limit_days: float | None) -> None:
    """Lanes, partner links and starting-material lanes of one site-product, its derived
    facts, or why it is blocked."""
    cls = prod["temperature_class"]
    if prod["price_usd_per_dose"] > srow["price_ceiling_usd_per_dose"]:
        rows.blocked.append((sid, pid, "price above the site's price ceiling"))
        return
    found = _site_outbound(net, sid, srow, pid, prod, near_hubs, supply_hours, v2v_limit_days)
    if isinstance(found, str):
        rows.blocked.append((sid, pid, found))
        return
    lanes = [ln for o in found for ln in o.lanes]
    links = [lk for o in found for lk in o.links]
    inbound = [ln for o in found for ln in o.inbound]
    rows.direct += lanes
    rows.links += links
    rows.inbound += [(sid, pid, ln.plant, ln.hub, ln.hours, ln.cost, ln.needs_cryo,
                      *_leg_fields(ln.route)) for ln in inbound]
    plants = sorted({pl for o in found for pl in o.plants})
    rows.site_products.append({
        "site_id": sid, "product_id": pid, "temperature_class": cls,
        "therapeutic_area": prod["therapeutic_area"],
        "certified": prod["therapeutic_area"] in srow["certified_areas"],
        "holds_class": cls in srow["temperature_classes"], "can_equip": bool(lanes),
        # cryopreservation is a condition of the offer only when no plant can take fresh cells
        "needs_cryo_at_site": bool(inbound) and all(ln.needs_cryo for ln in inbound),
        "plants": ";".join(plants),
        "inbound_hours": min((ln.hours for ln in inbound), default=0.0),
        "inbound_cost_usd_per_patient": min((ln.cost for ln in inbound), default=0.0),
        "inbound_hubs": ";".join(sorted({ln.hub for ln in inbound})),
        "best_outbound_hours": min([ln[4] for ln in lanes] + [lk[4] for lk in links]),
        "vein_to_vein_days": min(o.v2v_hours for o in found) / 24,
        "max_patients": float(srow["capacity_patients_per_year"]),
    })


def _site_product_lanes(net: _Network, products: pd.DataFrame,
                        supply_hours: dict[tuple[str, str], list[tuple]],
                        v2v_limit_days: float | None) -> _LaneRows:
    """Every site x product: its lanes and partner links, or the reason it is blocked."""
    rows = _LaneRows()
    # rows as dicts, read once: Series lookups were most of this step's time (national case)
    product_rows = products.to_dict("index")
    for sid, srow in net.sites.to_dict("index").items():
        near_hubs = net.near_hubs(srow["latitude"], srow["longitude"])
        for pid, prod in product_rows.items():
            _site_product(net, rows, sid, srow, pid, prod, near_hubs, supply_hours,
                          v2v_limit_days)
    return rows


@dataclass(frozen=True)
class _Lanes:
    """Eligible site-products and the lanes that serve them, as frames."""

    site_products: pd.DataFrame
    direct: pd.DataFrame
    links: pd.DataFrame  # partner -> site deliveries
    supply: pd.DataFrame  # plant -> hub -> partner
    inbound: pd.DataFrame  # starting material site -> hub -> plant (autologous)


def _lane_frames(rows: _LaneRows, partner_supply: pd.DataFrame) -> _Lanes:
    """The collected rows as typed frames (columns fixed even when a frame is empty)."""
    site_products = pd.DataFrame(rows.site_products, columns=[
        "site_id", "product_id", "temperature_class", "therapeutic_area", "certified",
        "holds_class", "can_equip", "needs_cryo_at_site", "plants", "inbound_hours",
        "inbound_cost_usd_per_patient", "inbound_hubs", "best_outbound_hours", "vein_to_vein_days",
        "max_patients"]).astype({"certified": bool, "holds_class": bool, "can_equip": bool,
               "needs_cryo_at_site": bool, "inbound_hours": float,
               "inbound_cost_usd_per_patient": float, "best_outbound_hours": float,
               "vein_to_vein_days": float, "max_patients": float})
    direct = pd.DataFrame(rows.direct, columns=[
        "site_id", "product_id", "plant_id", "hub_id", "hours", "cost_usd_per_shipment",
        "mode", *LEG_COLUMNS])
    links = pd.DataFrame(rows.links, columns=[
        "site_id", "partner_id", "product_id", "km", "hours", "cost_usd_per_shipment", "mode",
        "plant_key", "leg_hours", "limit_hours"])
    inbound = pd.DataFrame(rows.inbound, columns=INBOUND_COLUMNS).astype({"needs_cryo": bool})
    return _Lanes(site_products, direct, links, partner_supply, inbound)


def _pool_partner_supply(lanes: _Lanes, products: pd.DataFrame,
                         handling: pd.Series) -> _Lanes:
    """Supply lanes every link of their pool can use.

    Supply is shared by a partner's sites, pooled per (partner, product, plant key): for an
    autologous product the plant that received the patient's cells (they come back from it),
    "" for the others. Keep the supply lanes that fit every link of the pool:
    hours <= the smallest slack (limit - delivery leg). The fastest lane always qualifies,
    since each link was kept because it fits that link.
    """
    supply = lanes.supply.assign(plant_key=pd.Series([
        pl if products.at[k, "autologous"] else "" for k, pl in
        zip(lanes.supply["product_id"], lanes.supply["plant_id"], strict=True)],
        index=lanes.supply.index, dtype=object))
    links = lanes.links.assign(plant_key=lanes.links["plant_key"].astype(object))
    slack = links.assign(slack=links["limit_hours"] - links["leg_hours"]).groupby(
        ["partner_id", "product_id", "plant_key"])["slack"].min().reset_index()
    supply = supply.merge(slack, on=["partner_id", "product_id", "plant_key"])
    supply = supply[supply["hours"] <= supply["slack"] + 1e-9].drop(columns="slack")
    # of a lane's mode pairs that fit, the least cost a dose: route and the hub's handling
    # at the cadence the pair keeps (its hours plus the pool's slowest delivery leg)
    delivery = _slowest_delivery(links, supply)
    per_shipment = supply["cost_usd_per_shipment"] + supply["hub_id"].map(handling).astype(float)
    spd = cadence_columns(supply, products, supply["hours"] + delivery)["shipments_per_dose"]
    supply = supply.assign(per_dose=per_shipment * spd).sort_values(
        ["per_dose", "cost_usd_per_shipment", "hours"], kind="stable").drop_duplicates(
        ["partner_id", "product_id", "plant_key", "plant_id", "hub_id"]).sort_index().drop(
        columns="per_dose")
    return replace(lanes, supply=supply, links=links.drop(columns=["limit_hours"]))


def cadence_columns(frame: pd.DataFrame, products: pd.DataFrame,
                     hours: pd.Series) -> pd.DataFrame:
    """`doses_per_shipment` (what one shipment carries in time after `hours` of transit) and
    `shipments_per_dose` (the coefficient from doses to shipments) of each lane row."""
    def fact(column: str) -> np.ndarray:
        return frame["product_id"].map(products[column]).to_numpy(float)

    usable = fact("shelf_budget_hours") - hours.to_numpy(float)
    requested, interval = fact("doses_per_shipment"), fact("dose_interval_days")
    return frame.assign(
        doses_per_shipment=doses_within_life(requested, interval, usable),
        shipments_per_dose=shipments_per_dose(fact("doses_per_patient"), requested, interval,
                                              usable))


def _slowest_delivery(links: pd.DataFrame, supply: pd.DataFrame) -> np.ndarray:
    """Per supply lane, the slowest delivery leg of its partner's pool (partner, product,
    plant key): the supply's doses must keep their cadence to the farthest site it serves."""
    slowest = links.groupby(["partner_id", "product_id", "plant_key"])["leg_hours"].max()
    return np.array([slowest.get(key, 0.0) for key in zip(
        supply["partner_id"], supply["product_id"], supply["plant_key"], strict=True)], float)


def _lane_cadence(lanes: _Lanes, products: pd.DataFrame) -> _Lanes:
    """Doses per shipment each lane can keep under its product's cadence: the shelf life
    left after the lane's transit (plant to site; for partner supply, plant to partner plus
    the slowest delivery of the partner's pool) must span the shipment's dose intervals."""
    links, supply = lanes.links, lanes.supply
    delivery = _slowest_delivery(links, supply)
    return replace(
        lanes, direct=cadence_columns(lanes.direct, products, lanes.direct["hours"]),
        links=cadence_columns(links, products, links["hours"]),
        supply=cadence_columns(supply, products, supply["hours"] + delivery))


def _stock_cadence(lanes: _Lanes, depots: pd.DataFrame, products: pd.DataFrame) -> _Lanes:
    """The dose cadence of deliveries drawn from a depot's pooled stock (STOCK_CADENCE_COLUMNS
    on direct lanes and partner links). The stock reached the depot by its fastest supply
    (`lead_days`) and may be issued at the oldest age the inventory machinery allows
    (`max_issue_age_days` of the depot's `life_days`), so a delivery has the shelf budget
    minus both and minus its own leg left for its doses' intervals. The depot's life already
    keeps its slowest leg within the budget, so at least one dose always fits."""
    facts = depots.drop_duplicates(["kind", "depot_id", "product_id"]).set_index(
        ["kind", "depot_id", "product_id"])[["life_days", "lead_days"]]

    def columns(frame: pd.DataFrame, kind: str, depot: str, leg: str) -> pd.DataFrame:
        key = pd.MultiIndex.from_arrays([[kind] * len(frame), frame[depot], frame["product_id"]])
        at = facts.reindex(key)
        life = at["life_days"].to_numpy(float)
        held = ~np.isnan(life)
        hours = np.where(held, 24 * (at["lead_days"].to_numpy(float) + max_issue_age_days(life))
                         + frame[leg].to_numpy(float), 0.0)
        aged = cadence_columns(frame[["product_id"]], products,
                                pd.Series(hours, index=frame.index))
        return frame.assign(**{
            stock: np.where(held, aged[column].to_numpy(float), np.nan)
            for stock, column in zip(STOCK_CADENCE_COLUMNS, CADENCE_COLUMNS, strict=True)})

    return replace(lanes, direct=columns(lanes.direct, "hub", "hub_id", "last_leg_hours"),
                   links=columns(lanes.links, "partner", "partner_id", "leg_hours"))


def _used_inbound(lanes: _Lanes) -> pd.DataFrame:
    """Starting-material lanes to a plant that still has a lane or link back to the site."""
    inbound = lanes.inbound
    back = set(zip(lanes.direct["site_id"], lanes.direct["product_id"], lanes.direct["plant_id"],
                   strict=True)) | set(zip(lanes.links["site_id"], lanes.links["product_id"],
                                           lanes.links["plant_key"], strict=True))
    keep = [key in back for key in zip(inbound["site_id"], inbound["product_id"],
                                       inbound["plant_id"], strict=True)]
    return inbound[pd.Series(keep, index=inbound.index, dtype=bool)].reset_index(drop=True)


def _apply_ordering(case: Case, products: pd.DataFrame, sites: pd.DataFrame,
                    lanes: _Lanes) -> tuple[OrderingTable, _Lanes]:
    """Ordering options per site-product; drop the site-products, lanes and links no option
    can use, then the supply lanes of pools left without a link."""
    ordering = ordering_options(case, products, sites, lanes.site_products, lanes.direct,
                                lanes.links, lanes.supply)
    site_products = lanes.site_products
    if ordering.drop_sk:
        site_products = _without(site_products, ordering.drop_sk)
    direct = _without(lanes.direct, ordering.drop_sk | ordering.drop_direct)
    links = _without(lanes.links, ordering.drop_sk | ordering.drop_partner)
    supply = lanes.supply
    pools = set(zip(links["partner_id"], links["product_id"], links["plant_key"], strict=True))
    in_pool = pd.Series([key in pools for key in zip(
        supply["partner_id"], supply["product_id"], supply["plant_key"], strict=True)],
        index=supply.index, dtype=bool)
    kept = _Lanes(site_products, direct, links, supply.loc[in_pool],
                  _without(lanes.inbound, ordering.drop_sk))
    return ordering, replace(kept, inbound=_used_inbound(kept))


# ---------------------------------------------------------------- prepare


def _demand_points(case: Case, products: pd.DataFrame, explicit: bool
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.Index]]:
    """Demand points on each product's grid (one per zone when explicit costs are given:
    they are priced per zone)."""
    cfg = case.config
    cluster = cfg.aggregation.cluster_km
    if explicit and cluster > 0:
        log.warning("assignment_costs given: zone aggregation disabled")
        cluster = 0.0
    share = 0.0 if explicit else cfg.aggregation.cluster_share_of_reach
    return demand_points(case.zones, product_cells(products, cluster, share))


def prepare(case: Case) -> Prepared:
    """Compute every index set and coefficient of the model from a validated case."""
    cfg = case.config
    products = derive_products(case)
    explicit = len(case.assignment_costs) > 0
    points, zone_point, product_points = _demand_points(case, products, explicit)
    demand = _demand(points, product_points, products, cfg.demand_scale,
                     _state_rates(case, zone_point))
    net = _network(case, products)
    partner_supply = _partner_supply(net, products)
    rows = _site_product_lanes(net, products, _supply_hours(partner_supply),
                               cfg.service.max_vein_to_vein_days)
    lanes = _lane_cadence(_pool_partner_supply(_lane_frames(rows, partner_supply), products,
                                               net.hubs["cost_usd_per_shipment"]), products)
    ordering, lanes = _apply_ordering(case, products, net.sites, lanes)
    lanes = _stock_cadence(lanes, ordering.depots, products)
    blocked_rows = rows.blocked + ordering.blocked
    pairs, no_option = _pairs(case, points, product_points, demand, net.sites, products,
                              lanes.site_products, explicit, blocked_rows)
    prepared = Prepared(
        case=case, products=products, points=points, zone_point=zone_point, demand=demand,
        sites=net.sites, hubs=net.hubs, partners=net.partners, plants=net.plants,
        site_products=lanes.site_products.sort_values(["site_id", "product_id"],
                                                      ignore_index=True),
        pairs=pairs, direct_lanes=lanes.direct.sort_values(
            ["site_id", "product_id", "plant_id", "hub_id"], ignore_index=True),
        partner_supply=lanes.supply.sort_values(
            ["partner_id", "product_id", "plant_id", "hub_id"], ignore_index=True),
        partner_links=lanes.links.sort_values(["site_id", "partner_id", "product_id",
                                               "plant_key"], ignore_index=True),
        inbound_lanes=lanes.inbound.sort_values(["site_id", "product_id", "plant_id", "hub_id"],
                                                ignore_index=True),
        blocked=pd.DataFrame(blocked_rows, columns=["site_id", "product_id", "reason"]),
        no_option=no_option, equip_classes=net.equip, explicit_costs=explicit,
        ordering=ordering.options, depots=ordering.depots,
    )
    prepared.aggregation_error_km = aggregation_error_km(prepared)
    log.info("prepared %d demand points, %d site-products, %d pairs, %d lanes",
             len(points), len(lanes.site_products), len(pairs), len(lanes.direct))
    _warn_locked_without_products(prepared, set(prepared.site_products["site_id"]))
    return prepared


def _warn_locked_without_products(prep: Prepared, usable: set[str]) -> None:
    """A site held open (existing under `sites.existing: locked`, or in `sites.lock_open`)
    that can offer no product is not in the model at all: it is left closed, which a user
    reading "existing sites stay active" does not expect without a word (its reason is in
    sites.csv too)."""
    cfg = prep.case.config
    table = prep.case.sites
    held = set(cfg.sites.lock_open)
    if cfg.sites.existing == "locked":
        held |= set(table.loc[table["status"] == "existing", "site_id"])
    excluded = set(table.loc[table["status"] == "excluded", "site_id"])
    blocked = prep.blocked
    for s in sorted(held - usable - excluded):
        why = blocked.loc[blocked["site_id"] == s, "reason"]
        log.warning("site %s is held open (%s) but can offer no product (%s): it is left "
                    "closed", s, "sites.lock_open" if s in cfg.sites.lock_open
                    else "existing, sites.existing: locked",
                    why.iloc[0] if len(why) else "no patients within reach")


def with_pairs(prep: Prepared, keep: np.ndarray) -> Prepared:
    """`prep` with only the pairs where `keep` (a boolean per pair) holds: the model of one
    network at a fraction of the size. `paired` keeps every site-product in reach, so a site
    left out is not reported as out of reach."""
    paired = prep.paired if prep.paired is not None else frozenset(
        zip(prep.pairs["site_id"], prep.pairs["product_id"], strict=True))
    return replace(prep, pairs=prep.pairs[keep].reset_index(drop=True), paired=paired)


def over_offers(prep: Prepared, offered: Iterable[tuple[str, str]]) -> Prepared:
    """`prep` with only the pairs of the offered (site, product)s: the model of a network
    whose other offers are closed (national fine geography: 0.27M of 1.47M pairs). Pairs of
    an offer that is closed carry nothing, so for such a network it is the same model."""
    offered = set(offered)
    keep = np.fromiter((key in offered for key in zip(
        prep.pairs["site_id"], prep.pairs["product_id"], strict=True)), bool, len(prep.pairs))
    return with_pairs(prep, keep)


def _without(frame: pd.DataFrame, drop: set[tuple[str, str]]) -> pd.DataFrame:
    """Rows whose (site_id, product_id) is not in drop."""
    if not drop or frame.empty:
        return frame
    keys = pd.Series(list(zip(frame["site_id"], frame["product_id"], strict=True)),
                     index=frame.index)
    return frame[~keys.isin(drop)].reset_index(drop=True)


def _state_rates(case: Case, zone_point: pd.DataFrame) -> pd.DataFrame | None:
    """Population x incidence per (zone, grid point) row of zone_point and product, when an
    incidence table sets rates by state; None keeps the uniform incidence_per_100k."""
    if len(case.incidence) == 0:
        return None
    rates = case.incidence_by_zone().set_axis(case.zones["zone_id"].to_numpy())
    weighted = rates.loc[zone_point["zone_id"]].to_numpy() * \
        zone_point["population"].to_numpy()[:, None]
    return pd.DataFrame(weighted, columns=rates.columns).assign(
        point_id=zone_point["point_id"].to_numpy())


def _demand(points: pd.DataFrame, product_points: dict[str, pd.Index], products: pd.DataFrame,
            scale: float, state_rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Patients per year per (demand point, product) on the product's own grid: a point's
    population x incidence, or, with rates by state, the sum over its member zones."""
    frames = []
    for pid, inc in products["incidence_per_100k"].items():
        pts = product_points[pid]
        if state_rates is None:
            weighted = points.loc[pts, "population"].to_numpy() * inc
        else:
            by_point = state_rates.groupby("point_id")[pid].sum()
            weighted = by_point.reindex(pts, fill_value=0.0).to_numpy()
        frames.append(pd.DataFrame({
            "point_id": pts.to_numpy(), "product_id": pid,
            "patients": weighted / 1e5 * scale,
        }))
    frame = pd.concat(frames, ignore_index=True)
    return frame[frame["patients"] > 0].sort_values(
        ["point_id", "product_id"], ignore_index=True)


def _site_partner_pairs(sites: pd.DataFrame, partners: pd.DataFrame,
                        transport: pd.DataFrame) -> dict[str, list[tuple[str, Legs]]]:
    """Site -> [(partner, delivery legs by mode)] for partners whose service radius
    reaches it."""
    if len(partners) == 0 or len(sites) == 0:
        return {}
    legs = _legs(sites, partners, transport)
    radius = partners["service_radius_km"].to_dict()
    out: dict[str, list] = {}
    for (sid, par), options in legs.items():
        if options and options[0].km <= radius[par]:
            out.setdefault(sid, []).append((par, options))
    return out


def _pairs(case: Case, all_points: pd.DataFrame, product_points: dict[str, pd.Index],
           demand: pd.DataFrame, sites: pd.DataFrame, products: pd.DataFrame,
           site_products: pd.DataFrame, explicit: bool,
           blocked_rows: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand point x site x product pairs within travel reach of an eligible site."""
    cfg = case.config
    frames = []
    site_index = {s: i for i, s in enumerate(sites.index)}
    points = all_points
    point_index = {p: i for i, p in enumerate(points.index)}
    if explicit:
        ac = case.assignment_costs
        rows = []
        for pid in products.index:
            sub = ac[(ac["product_id"] == pid) | (ac["product_id"] == "")]
            sub = sub[sub["site_id"].isin(site_index) & sub["zone_id"].isin(point_index)]
            rows.append(pd.DataFrame({"point_id": sub["zone_id"].to_numpy(),
                                      "site_id": sub["site_id"].to_numpy(), "product_id": pid,
                                      "cost_usd_per_patient":
                                          sub["cost_usd_per_patient"].to_numpy(),
                                      "specific": (sub["product_id"] == pid).to_numpy()}))
        # a product-specific row overrides a blank-product (all products) row
        allp = pd.concat(rows, ignore_index=True).sort_values("specific", kind="stable")
        allp = allp.drop_duplicates(["point_id", "site_id", "product_id"], keep="last")
        allp = allp.drop(columns="specific")
        pi = allp["point_id"].map(point_index).to_numpy()
        si = allp["site_id"].map(site_index).to_numpy()
        allp["km"] = haversine_km(points["latitude"].to_numpy()[pi],
                                  points["longitude"].to_numpy()[pi],
                                  sites["latitude"].to_numpy()[si],
                                  sites["longitude"].to_numpy()[si])
        reach = allp["product_id"].map(products["max_patient_travel_km"])
        frames.append(allp[allp["km"] <= reach])
    else:
        for pid, prod in products.iterrows():
            sp = site_products[site_products["product_id"] == pid]
            if sp.empty:
                continue
            cand = sites.loc[sp["site_id"]]
            points = all_points.loc[product_points[pid]]
            reach = prod["max_patient_travel_km"] - points["radius_km"].to_numpy()
            found = pairs_within_km(points["latitude"], points["longitude"], cand["latitude"],
                                    cand["longitude"], reach,
                                    k_nearest=cfg.aggregation.nearest_sites)
            circuity = _ground_circuity(case)
            cost = (cfg.service.patient_travel_usd_per_km * found["km"].to_numpy() * circuity
                    * 2 * prod["visits_per_patient"])
            frames.append(pd.DataFrame({
                "point_id": points.index.to_numpy()[found["i"].to_numpy()],
                "site_id": cand.index.to_numpy()[found["j"].to_numpy()],
                "product_id": pid, "km": found["km"].to_numpy(),
                "cost_usd_per_patient": cost,
            }))
    cols = ["point_id", "site_id", "product_id", "km", "cost_usd_per_patient"]
    pairs = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    eligible = site_products[["site_id", "product_id"]]
    pairs = pairs.merge(eligible, on=["site_id", "product_id"])
    pairs = pairs.merge(demand[["point_id", "product_id"]], on=["point_id", "product_id"])
    # conservative: every member zone of the point is within the target
    radius = pairs["point_id"].map(all_points["radius_km"]).to_numpy()
    pairs["within_target"] = pairs["km"] + radius <= cfg.service.within_km
    pairs = pairs.sort_values(["point_id", "product_id", "site_id"], ignore_index=True)
    served = pairs[["point_id", "product_id"]].drop_duplicates()
    lonely = demand.merge(served, how="left", indicator=True)
    lonely = lonely[lonely["_merge"] == "left_only"].drop(columns="_merge")
    lonely["reason"] = [_why_no_site(case, all_points, sites, products, site_products, blocked_rows,
                                     pt, pid) for pt, pid in
                        zip(lonely["point_id"], lonely["product_id"], strict=True)]
    return pairs, lonely.reset_index(drop=True)


def _ground_circuity(case: Case) -> float:
    t = case.transport
    ground = t[t["mode"] == "ground"]
    return float(ground["circuity"].iloc[0]) if len(ground) else 1.0


def _why_no_site(case: Case, points: pd.DataFrame, sites: pd.DataFrame, products: pd.DataFrame,
                 site_products: pd.DataFrame, blocked_rows: list, point: str, pid: str) -> str:
    """Domain words for why a demand point has no feasible treatment site for a product."""
    reach = products.at[pid, "max_patient_travel_km"]
    lat, lon = points.at[point, "latitude"], points.at[point, "longitude"]
    d = haversine_km(lat, lon, sites["latitude"].to_numpy(), sites["longitude"].to_numpy())
    near = set(sites.index[d <= reach])
    radius = float(points.at[point, "radius_km"])
    if not near and radius > 0 and (d <= reach + radius).any():
        # measured from the group's centre: a community of it may lie within reach of a site
        return (f"no treatment site within {reach:g} km (the product's max patient travel) of "
                f"the centre of this group of nearby communities, which spans {radius:.0f} "
                f"km: the nearest site is {d.min():.0f} km from the centre, so a community "
                "of the group may lie within reach; grouping demand more finely would tell")
    if not near:
        out = case.sites[case.sites["status"] == "excluded"]
        if (haversine_km(lat, lon, out["latitude"].to_numpy(),
                         out["longitude"].to_numpy()) <= reach).any():
            return (f"every treatment site within {reach:g} km (the product's max patient "
                    "travel) is excluded (sites.csv status)")
        return f"no treatment site within {reach:g} km (the product's max patient travel)"
    reasons = {}
    for sid, bp, why in blocked_rows:
        if bp == pid and sid in near:
            reasons.setdefault(why, 0)
            reasons[why] += 1
    if reasons:
        # the shelf-life reason in full: which figures of the data leave no time to deliver
        prod = products.loc[pid]
        v2v = case.config.service.max_vein_to_vein_days if prod["autologous"] else None
        limit = "" if v2v is None else " or the vein-to-vein limit"
        budget = (f"{prod['shelf_budget_hours']:g} h from release to administration "
                  f"(shelf life {prod['shelf_life_hours']:g} h minus a "
                  f"{prod['handling_buffer_hours']:g} h handling buffer)")
        if v2v is not None:
            budget += (f", or what collection, manufacturing and inbound transport leave of "
                       f"the vein-to-vein limit of {v2v:g} d,")
        words = {"no lane within shelf life": f"no lane fits the shelf life{limit}: {budget} "
                 "is less than any plant -> hub -> site route takes"}
        parts = [f"{words.get(why, why)} ({n} site{'s' if n > 1 else ''})"
                 for why, n in sorted(reasons.items())]
        return f"{len(near)} site(s) within {reach:g} km, none eligible: " + "; ".join(parts)
    if radius > 0:
        return (f"a treatment site lies within {reach:g} km of the centre of this group of "
                f"nearby communities but not of every community in it (the group spans "
                f"{radius:.0f} km): grouping demand more finely would serve them")
    return "no treatment site is listed for this area in the assignment costs supplied"


def aggregation_error_km(prep: Prepared) -> float:
    """Population-weighted mean |zone-to-nearest-site km - point-to-nearest-site km|: what
    merging zones into demand points costs in distance accuracy."""
    if (prep.points["n_zones"] <= 1).all() or len(prep.sites) == 0:
        return 0.0
    zones = prep.case.zones.set_index("zone_id").loc[prep.zone_point["zone_id"]]
    pts = prep.points.loc[prep.zone_point["point_id"]]
    s_lat, s_lon = prep.sites["latitude"].to_numpy(), prep.sites["longitude"].to_numpy()
    dz = distance_matrix_km(zones["latitude"], zones["longitude"], s_lat, s_lon).min(axis=1)
    dp = distance_matrix_km(pts["latitude"], pts["longitude"], s_lat, s_lon).min(axis=1)
    w = prep.zone_point["population"].to_numpy()
    return float(np.average(np.abs(dz - dp), weights=w)) if w.sum() > 0 else 0.0
