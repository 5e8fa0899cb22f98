"""Interactive network map (`map.html`): Folium for layers and controls, compact JSON for data.

Folium writes one JavaScript statement per marker, which makes a national map (3,000+ zones,
300+ sites, hundreds of lanes) several megabytes and slow to open. Here Folium still owns the
map, the feature groups (one per entity kind and per product) and the layer control, but each
group is filled by one small script call from a JSON payload drawn by `templates/map.js`
(zones on a canvas). Leaflet is inlined from a pip package (see assets.py), so the file opens
with no network; a light tile layer sits underneath when one is reachable.
"""

from __future__ import annotations

import html
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import folium
import numpy as np
import pandas as pd
import xyzservices
from branca.element import Element, MacroElement
from folium.template import Template

from ..results.tables import Results
from .assets import inline_head
from .basemap import REGIONS, basemap_source, region_of, state_outlines
from .common import (
    DECISION_LABELS,
    HUB_COLOUR,
    KOL_COLOUR,
    PARTNER_COLOUR,
    PLANT_COLOUR,
    SITE_STYLES,
    ZONE_COLOURS,
    class_colour,
    class_label,
    depot_stock,
    fmt_int,
    fmt_num,
    fmt_usd,
    frame_bounds,
    headline_costs,
    kpi_values,
    num,
    product_names,
    script_json,
    split_list,
    table,
    text,
    truthy,
    within_km,
    yearly_cost,
    zone_class,
)

ZONE_LABELS = {"served": "served within target", "beyond": "mostly served beyond target",
               "unserved": "partly unserved"}
ZONE_MAX_RADIUS = 18.0
ZONE_MIN_RADIUS = 2.4
AIR_DASH = "8 6"
TRUNK_DASH = "2 6"
GREY = "#8c8c8c"
#: Leaflet's zIndexOffset of the plant markers: above every other marker
PLANT_Z = 1000


def _template(name: str) -> str:
    return (resources.files("netopt.report") / "templates" / name).read_text(encoding="utf-8")


class _OfflineMap(folium.Map):
    """folium.Map that links nothing: Leaflet is inlined into the page head instead."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


class _Call(MacroElement):
    """One line of script, rendered after its parent (the map or a feature group)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "NetoptCall"
        self.code = code


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


# ---------------------------------------------------------------- lookups and helpers

class _Lookup:
    """Names and coordinates by id, tolerant of missing tables and duplicate ids."""

    def __init__(self, frame: pd.DataFrame, key: str) -> None:
        self.names: dict[str, str] = {}
        self.coords: dict[str, tuple[float, float]] = {}
        if key not in frame.columns:
            return
        names = frame["name"] if "name" in frame.columns else frame[key]
        lat = frame["latitude"] if "latitude" in frame.columns else pd.Series(np.nan, frame.index)
        lon = frame["longitude"] if "longitude" in frame.columns else lat
        for k, n, la, lo in zip(frame[key], names, lat, lon, strict=True):
            k = text(k)
            self.names[k] = text(n) or k
            la, lo = num(la, math.nan), num(lo, math.nan)
            if not (math.isnan(la) or math.isnan(lo)):
                self.coords[k] = (round(la, 4), round(lo, 4))

    def name(self, key: object) -> str:
        k = text(key)
        return self.names.get(k, k)


def _capacity_value(row: dict) -> list[list[str]]:
    """A plant at capacity: what one more dose of it saves the network a year."""
    value = num(row.get("capacity_value_usd_per_dose"), math.nan)
    if math.isnan(value) or value <= 0.5:
        return []
    return [["One more dose of capacity saves", f"{fmt_usd(value)}/yr"]]


def _pct(value: float) -> str:
    return f"{100 * value:,.0f} %"


# ---------------------------------------------------------------- payloads

class _Numbering:
    """Labels numbered in order of first use: payload rows refer to sites, products and
    reasons by number. An id not seen before is appended with itself as its label."""

    def __init__(self, keys: list[str] | None = None, labels: list[str] | None = None) -> None:
        self.index: dict[str, int] = {k: i for i, k in enumerate(keys or [])}
        self.labels: list[str] = list(labels or [])

    def __call__(self, key: object) -> int:
        k = text(key)
        if k not in self.index:
            self.index[k] = len(self.labels)
            self.labels.append(k)
        return self.index[k]


def _zone_table(result: Results) -> tuple[dict[int, float], dict[str, int], list[list]]:
    """Each numbered zone's demand in the zones table (where it has one), the numbering, and
    [name, state, population, lat, lon] per zone with coordinates (the first such row of a
    duplicated id) numbered in table order."""
    zones = table(result, "zones")
    if "zone_id" not in zones.columns:
        zones = pd.DataFrame({"zone_id": [], "name": [], "state": [], "population": [],
                              "latitude": [], "longitude": []})
    zone_index: dict[str, int] = {}
    zone_rows = []
    zone_demand: dict[int, float] = {}
    for z in zones.itertuples(index=False):
        zid = text(getattr(z, "zone_id", ""))
        la = num(getattr(z, "latitude", None), math.nan)
        lo = num(getattr(z, "longitude", None), math.nan)
        if math.isnan(la) or math.isnan(lo) or zid in zone_index:
            continue
        zone_index[zid] = len(zone_rows)
        if hasattr(z, "patients_demand"):
            zone_demand[len(zone_rows)] = num(z.patients_demand)
        zone_rows.append([text(getattr(z, "name", zid)), text(getattr(z, "state", "")),
                          num(getattr(z, "population", 0)), round(la, 4), round(lo, 4)])
    return zone_demand, zone_index, zone_rows


def _assigned_by_zone(result: Results, zone_index: dict[str, int], site_no: _Numbering,
                      product_no: _Numbering, reach_km: float) -> dict[int, list[list]]:
    """Assignments per zone: [site, product, patients, km, within target]."""
    assignments = table(result, "assignments")
    by_zone: dict[int, list[list]] = {}
    if not {"zone_id", "site_id", "product_id", "patients_per_year"} <= set(assignments.columns):
        return by_zone
    km_col = assignments["travel_km"] if "travel_km" in assignments.columns \
        else pd.Series(np.nan, assignments.index)
    within = assignments["within_travel_target"] if "within_travel_target" in \
        assignments.columns else km_col.map(lambda v: num(v) <= reach_km)
    for z, s, p, pat, km, w in zip(assignments["zone_id"], assignments["site_id"],
                                   assignments["product_id"],
                                   assignments["patients_per_year"], km_col, within,
                                   strict=True):
        zi = zone_index.get(text(z))
        if zi is None:
            continue
        by_zone.setdefault(zi, []).append([site_no(s), product_no(p), round(num(pat), 3),
                                           round(num(km), 1), truthy(w)])
    return by_zone


def _unserved_by_zone(result: Results, zone_index: dict[str, int], product_no: _Numbering,
                      reason_no: _Numbering) -> dict[int, list[list]]:
    """Unserved patients per zone: [product, patients, reason]."""
    unserved = table(result, "unserved")
    lost: dict[int, list[list]] = {}
    if not {"zone_id", "product_id", "patients_unserved"} <= set(unserved.columns):
        return lost
    reason_col = unserved["reason"] if "reason" in unserved.columns \
        else pd.Series("", unserved.index)
    for z, p, pat, why in zip(unserved["zone_id"], unserved["product_id"],
                              unserved["patients_unserved"], reason_col, strict=True):
        zi = zone_index.get(text(z))
        if zi is None:
            continue
        lost.setdefault(zi, []).append([product_no(p), round(num(pat), 3), reason_no(why)])
    return lost


def _zone_layer_rows(product: int | None, zone_demand: dict[int, float], n_zones: int,
                     by_zone: dict[int, list[list]], lost: dict[int, list[list]]) -> list[list]:
    """One row per zone with demand for `product` (None: all products): demand, served,
    unserved, beyond target, mean km, class, its assignments and unserved patients; served
    zones first, then the largest demand."""
    rows = []
    for zi in range(n_zones):
        assigned = [a for a in by_zone.get(zi, []) if product is None or a[1] == product]
        missing = [u for u in lost.get(zi, []) if product is None or u[0] == product]
        served = sum(a[2] for a in assigned)
        beyond = sum(a[2] for a in assigned if not a[4])
        unserved_pat = sum(u[1] for u in missing)
        demand = served + unserved_pat
        if product is None:
            demand = max(demand, zone_demand.get(zi, demand))
        if demand <= 1e-9:
            continue
        mean_km = (sum(a[2] * a[3] for a in assigned) / served) if served > 0 else None
        cls = zone_class(demand, served, unserved_pat, beyond)
        assigned.sort(key=lambda a: -a[2])
        rows.append([zi, round(demand, 3), round(served, 3), round(unserved_pat, 3),
                     round(beyond, 3), None if mean_km is None else round(mean_km, 1),
                     cls, assigned, missing])
    order = {"served": 0, "beyond": 1, "unserved": 2}
    rows.sort(key=lambda r: (order[r[6]], -r[1]))
    return rows


def _zone_payloads(result: Results, sites: _Lookup, products: dict[str, str],
                   reach_km: float) -> tuple[dict[str, Any], list[tuple[str | None, dict]]]:
    """Shared zone/site/product lookups, and one zone payload for all products + each product."""
    zone_demand, zone_index, zone_rows = _zone_table(result)
    site_no = _Numbering(list(sites.names), [sites.names[s] for s in sites.names])
    product_ids = list(products)
    product_no = _Numbering(product_ids, [products[p] for p in product_ids])
    reason_no = _Numbering()
    by_zone = _assigned_by_zone(result, zone_index, site_no, product_no, reach_km)
    lost = _unserved_by_zone(result, zone_index, product_no, reason_no)

    def rows_for(product: int | None) -> list[list]:
        return _zone_layer_rows(product, zone_demand, len(zone_rows), by_zone, lost)

    payloads: list[tuple[str | None, dict]] = [
        (None, {"kind": "zones", "product": None, "label": "All products",
                "rows": rows_for(None)})]
    for p in product_ids:
        payloads.append((p, {"kind": "zones", "product": product_no.index[p],
                             "label": products[p], "rows": rows_for(product_no.index[p])}))
    all_demand = [r[1] for r in payloads[0][1]["rows"]]
    shared = {
        "zones": zone_rows, "sites": site_no.labels, "products": product_no.labels,
        "reasons": reason_no.labels, "withinKm": reach_km,
        "zoneMax": max(all_demand) if all_demand else 1.0,
        "zoneR": ZONE_MAX_RADIUS, "zoneMinR": ZONE_MIN_RADIUS,
        "zoneColours": ZONE_COLOURS,
        "zoneLabels": {k: f"{v} ({reach_km:,.0f} km)" if k != "unserved" else v
                       for k, v in ZONE_LABELS.items()},
    }
    return shared, payloads


def _site_payloads(result: Results, products: dict[str, str],
                   partners: _Lookup) -> tuple[list[dict], list[dict]]:
    """Active and inactive site markers with their figures."""
    sites = table(result, "sites")
    sp = table(result, "site_products")
    ship = table(result, "shipments")
    v2v: dict[tuple[str, str], tuple[float, float]] = {}
    if {"site_id", "product_id"} <= set(sp.columns):
        for s, p, d, h in zip(sp["site_id"], sp["product_id"],
                              sp.get("vein_to_vein_days", pd.Series(np.nan, sp.index)),
                              sp.get("inbound_hours", pd.Series(np.nan, sp.index)), strict=True):
            v2v[(text(s), text(p))] = (num(d, math.nan), num(h, math.nan))
    doses_in: dict[str, float] = {}
    if {"site_id", "doses_per_year"} <= set(ship.columns):
        for s, d in zip(ship["site_id"], ship["doses_per_year"], strict=True):
            doses_in[text(s)] = doses_in.get(text(s), 0.0) + num(d)
    active_rows: list[dict] = []
    inactive_rows: list[dict] = []
    if "site_id" not in sites.columns:
        return active_rows, inactive_rows
    top = max([num(v) for v in sites.get("patients_per_year", [])] + [1e-9])
    for row in sites.to_dict("records"):
        la, lo = num(row.get("latitude"), math.nan), num(row.get("longitude"), math.nan)
        if math.isnan(la) or math.isnan(lo):
            continue
        sid = text(row.get("site_id"))
        decision = text(row.get("decision"))
        active = truthy(row.get("active"))
        fill, stroke = SITE_STYLES.get(decision, ("#0b2f5b", "#ffffff") if active
                                       else (None, GREY))
        patients = num(row.get("patients_per_year"))
        name = text(row.get("name")) or sid
        state = text(row.get("state"))
        label = DECISION_LABELS.get(decision, decision or ("active" if active else "inactive"))
        held = split_list(row.get("temperature_classes_held"))
        equipped = split_list(row.get("equipped_classes"))
        onboarded = split_list(row.get("onboarded_areas"))
        certified = split_list(row.get("certified_areas"))
        tip = f"{name} ({state}) \u2014 {label}"
        if active:
            tip += f" \u00b7 {fmt_num(patients)} patients/yr"
        if held or equipped:
            tip += f" \u00b7 holds {', '.join(held + equipped)}"
        if onboarded:
            tip += f" \u00b7 onboarded: {', '.join(onboarded)}"
        cap = num(row.get("capacity_patients_per_year"))
        pop: list[list[str]] = [
            ["Decision", label], ["Status in dataset", text(row.get("status"))],
            ["Patients/yr", fmt_num(patients)],
            ["Capacity (patients/yr)", fmt_num(cap)],
            ["Utilisation", _pct(num(row.get("utilisation")))],
            ["Doses received/yr", fmt_num(doses_in.get(sid, 0.0))],
            ["Chair hours used / yr", f"{fmt_num(num(row.get('chair_hours_used')))} of "
                                      f"{fmt_num(num(row.get('chair_hours_per_year')))}"],
            ["Temperature classes held", ", ".join(held) or "none"],
            ["Equipped (new)", ", ".join(equipped) or "\u2013"],
            ["Certified areas", ", ".join(certified) or "none"],
            ["Onboarded (new)", ", ".join(onboarded) or "\u2013"],
            ["Cold-storage partners", ", ".join(partners.name(p) for p in
                                                split_list(row.get("partners_linked")))
             or "\u2013"],
            ["KOLs at site", fmt_int(num(row.get("kol_count")))],
        ]
        offered = split_list(row.get("products_offered"))
        if offered:
            pop.append(["", "Products offered (patients/yr \u00b7 vein-to-vein)"])
            for p in offered:
                days, hours = v2v.get((sid, p), (math.nan, math.nan))
                extra = f" \u00b7 {days:,.1f} d" if not math.isnan(days) else ""
                # an off-the-shelf product has no inbound leg (no patient's cells to carry)
                extra += f" \u00b7 inbound {hours:,.0f} h" if hours > 0 else ""
                pop.append([products.get(p, p),
                            f"{fmt_num(num(row.get(f'patients_{p}')))}{extra}"])
        radius = 4.0 + 7.0 * math.sqrt(max(patients, 0.0) / top) if active else 3.6
        out = {"ll": [round(la, 4), round(lo, 4)], "r": round(radius, 2), "fill": fill,
               "stroke": stroke, "sw": 1.3 if active else 1.6,
               "dash": "2 2" if decision == "excluded" else None, "tip": tip,
               "title": name, "sub": f"{state} \u00b7 {sid}", "pop": pop}
        (active_rows if active else inactive_rows).append(out)
    active_rows.sort(key=lambda r: -r["r"])
    return active_rows, inactive_rows


class _Places(NamedTuple):
    """Names and coordinates of every facility kind a lane can touch."""

    plants: _Lookup
    hubs: _Lookup
    partners: _Lookup
    sites: _Lookup


class _Shipment(NamedTuple):
    """One row of shipments.csv as the map reads it (product facts filled in)."""

    pid: str
    leg: str
    doses: float
    n_ship: float
    hours: float
    s_life: float
    buffer: float
    cls: str
    per_ship: float
    plant: str
    hub: str
    partner: str
    site: str
    mode: str


def _shelf_by_product(prod: pd.DataFrame) -> dict[str, tuple[float, float, str]]:
    """product -> (shelf life h, handling buffer h, temperature class) from products.csv."""
    shelf = {}
    if "product_id" in prod.columns:
        for p, s, b, c in zip(prod["product_id"], prod.get("shelf_life_hours", np.nan),
                              prod.get("handling_buffer_hours", np.nan),
                              prod.get("temperature_class", ""), strict=True):
            shelf[text(p)] = (num(s, math.nan), num(b, math.nan), text(c))
    return shelf


def _shipment(row: dict, shelf: dict[str, tuple[float, float, str]],
              cost_col: str) -> _Shipment:
    """A shipments row with its product's shelf life, buffer and class where it has none."""
    def get(key: str) -> str:
        return text(row.get(key))

    pid = get("product_id")
    s_life, buffer, p_cls = shelf.get(pid, (math.nan, math.nan, ""))
    return _Shipment(
        pid=pid, leg=get("leg"), doses=num(row.get("doses_per_year")),
        n_ship=num(row.get("shipments_per_year")),
        hours=num(row.get("transit_hours"), math.nan),
        s_life=num(row.get("shelf_life_hours"), s_life),
        buffer=num(row.get("handling_buffer_hours"), buffer),
        cls=get("temperature_class") or p_cls, per_ship=num(row.get(cost_col)),
        plant=get("plant_id"), hub=get("hub_id"), partner=get("partner_id"),
        site=get("site_id"), mode=get("mode"))


def _lane_ends(s: _Shipment, places: _Places
               ) -> tuple[tuple | None, tuple | None, str, str]:
    """(from, to, route text, mode) of a segment: partner -> site deliveries (ground unless
    told), supply to a partner, or hub -> site (from the plant when no hub is known)."""
    plants, hubs, partners, sites = places
    plant, hub, partner, site, mode = s.plant, s.hub, s.partner, s.site, s.mode
    if s.leg == "partner_delivery":
        a, b = partners.coords.get(partner), sites.coords.get(site)
        route = f"{partners.name(partner)} \u2192 {sites.name(site)}"
        mode = mode or "ground"
    elif s.leg == "partner_supply":
        a = hubs.coords.get(hub) or plants.coords.get(plant)
        b = partners.coords.get(partner)
        route = " \u2192 ".join(x for x in (plants.name(plant) if plant else "",
                                            hubs.name(hub) if hub else "",
                                            partners.name(partner)) if x)
    else:
        a = hubs.coords.get(hub) or plants.coords.get(plant)
        b = sites.coords.get(site)
        route = " \u2192 ".join(x for x in (plants.name(plant) if plant else "",
                                            hubs.name(hub) if hub else "",
                                            sites.name(site)) if x)
    return a, b, route, mode


def _lane_segment(s: _Shipment, a: tuple, b: tuple, route: str, mode: str,
                  pname: str) -> dict[str, Any]:
    """A segment with its tooltip and popup: transit against shelf life, slack after the
    handling buffer, cost."""
    colour = class_colour(s.cls)
    hours, s_life, buffer = s.hours, s.s_life, s.buffer
    budget = s_life - (0.0 if math.isnan(buffer) else buffer)
    shelf_txt = (f"{fmt_num(hours)} h of {fmt_num(s_life)} h shelf life"
                 if not math.isnan(hours) and not math.isnan(s_life) else "\u2013")
    slack = f"{fmt_num(budget - hours)} h" if not (math.isnan(budget)
                                                    or math.isnan(hours)) else "\u2013"
    dash = TRUNK_DASH if s.leg == "partner_supply" else AIR_DASH if mode == "air" else None
    leg_label = {"direct": "hub \u2192 site", "partner_supply": "supply to partner",
                 "partner_delivery": "partner \u2192 site"}.get(s.leg, s.leg)
    return {
        "pts": [list(a), list(b)], "c": colour, "doses": s.doses, "dash": dash,
        "tip": f"{pname}: {route} \u00b7 {fmt_num(s.doses)} doses/yr \u00b7 {shelf_txt}",
        "title": pname, "sub": route,
        "pop": [["Leg", leg_label], ["Mode", mode or "not reported"],
                ["Temperature class", s.cls],
                ["Doses/yr", fmt_num(s.doses)], ["Shipments/yr", fmt_num(s.n_ship)],
                ["Transit (plant \u2192 destination)", shelf_txt],
                ["Handling buffer", f"{fmt_num(buffer)} h" if not math.isnan(buffer)
                 else "\u2013"],
                ["Slack after buffer", slack],
                ["Cost per shipment", fmt_usd(s.per_ship)],
                ["Cost per year", fmt_usd(s.per_ship * s.n_ship)]],
    }


def _trunk_segment(pname: str, plant: str, hub: str, t: dict[str, Any],
                   places: _Places) -> dict[str, Any]:
    """A plant -> hub trunk, its doses summed over the lanes through that hub."""
    route = f"{places.plants.name(plant)} \u2192 {places.hubs.name(hub)}"
    return {
        "pts": [list(places.plants.coords[plant]), list(places.hubs.coords[hub])],
        "c": t["colour"], "doses": t["doses"], "dash": TRUNK_DASH, "o": 0.6, "trunk": True,
        "tip": f"{pname}: {route} (plant \u2192 hub trunk) \u00b7 "
               f"{fmt_num(t['doses'])} doses/yr",
        "title": pname, "sub": route,
        "pop": [["Leg", "plant \u2192 hub trunk (all lanes through this hub)"],
                ["Temperature class", t["cls"]], ["Doses/yr", fmt_num(t["doses"])],
                *([["Of which into the hub's pooled stock", fmt_num(t["stock"])]]
                  if t["stock"] > 0 else []),
                ["Shipments/yr" + (" (its stock's in bulk replenishments)"
                                   if t["stock"] > 0 else ""), fmt_num(t["ships"])]],
    }


def _replenishments(result: Results) -> dict[tuple[str, str], float]:
    """(hub, product) -> replenishment shipments a year of the hub's pooled stock: finance.csv's
    depot row counts them with its deliveries, which shipments.csv has (from_depot_stock)."""
    fin, ship = table(result, "finance"), table(result, "shipments")
    need = {"row", "depot_id", "product_id", "shipments_per_year"}
    if not need <= set(fin.columns) or "from_depot_stock" not in ship.columns:
        return {}
    drawn = ship[ship["from_depot_stock"].map(truthy)]
    out = {}
    for r in fin[fin["row"].map(text) == "depot"].itertuples(index=False):
        hub, pid = text(r.depot_id), text(r.product_id)
        delivered = drawn[(drawn["hub_id"].map(text) == hub)
                          & (drawn["product_id"].map(text) == pid)]["shipments_per_year"]
        out[(hub, pid)] = max(0.0, num(r.shipments_per_year) - float(delivered.sum()))
    return out


def _set_widths(segments: dict[str, list[dict]], max_doses: float) -> None:
    """Line widths by the square root of doses (replacing the doses and trunk flags)."""
    for rows in segments.values():
        for r in rows:
            share = math.sqrt(max(r.pop("doses"), 0.0) / max_doses)
            # trunks carry many lanes' doses: drawn thinner so last miles stay readable
            r["w"] = round(1.2 + 3.0 * share, 2) if r.pop("trunk", False) \
                else round(1.4 + 6.6 * share, 2)


def _lane_payloads(result: Results, products: dict[str, str], plants: _Lookup, hubs: _Lookup,
                   partners: _Lookup, sites: _Lookup) -> dict[str, list[dict]]:
    """Lane segments per product: plant->hub trunks (summed), last miles, partner legs."""
    ship = table(result, "shipments")
    need = {"leg", "product_id", "doses_per_year"}
    if not need <= set(ship.columns) or ship.empty:
        return {}
    shelf = _shelf_by_product(table(result, "products"))
    cost_col = "cost_usd_per_shipment" if "cost_usd_per_shipment" in ship.columns else "cost"
    places = _Places(plants, hubs, partners, sites)
    segments: dict[str, list[dict]] = {}
    trunks: dict[tuple[str, str, str], dict[str, Any]] = {}
    max_doses = 1e-9
    for row in ship.to_dict("records"):
        s = _shipment(row, shelf, cost_col)
        if s.leg == "starting_material":
            continue  # the map draws the doses' way; cells travel the same hubs back
        # trunk plant -> hub, summed over the lanes that share it
        if s.plant and s.hub and s.plant in plants.coords and s.hub in hubs.coords:
            t = trunks.setdefault((s.pid, s.plant, s.hub), {
                "doses": 0.0, "ships": 0.0, "stock": 0.0, "colour": class_colour(s.cls),
                "cls": s.cls})
            t["doses"] += s.doses
            if truthy(row.get("from_depot_stock")):  # the hub's stock, restocked in bulk
                t["stock"] += s.doses
            else:
                t["ships"] += s.n_ship
        a, b, route, mode = _lane_ends(s, places)
        if a is None or b is None:
            continue
        max_doses = max(max_doses, s.doses)
        segments.setdefault(s.pid, []).append(
            _lane_segment(s, a, b, route, mode, products.get(s.pid, s.pid)))
    restock = _replenishments(result)
    for (pid, plant, hub), t in trunks.items():
        if t["stock"] > 0:  # bulk replenishments of the hub's stock, not one per dose
            t["ships"] += restock.get((hub, pid), 0.0)
        max_doses = max(max_doses, t["doses"])
        segments.setdefault(pid, []).insert(
            0, _trunk_segment(products.get(pid, pid), plant, hub, t, places))
    _set_widths(segments, max_doses)
    return segments


def _cost_rows(parts: list[tuple[str, float]]) -> list[list[str]]:
    """Pop-up rows of a facility's yearly cost: the total, then its parts indented."""
    return [["Cost/yr", fmt_usd(sum(value for _, value in parts))],
            *[[f"\u2003{label}", fmt_usd(value)] for label, value in parts]]


def _listed(title: str, names: list[str]) -> list[list[str]]:
    """A pop-up section naming what a facility serves (nothing when it serves none)."""
    if not names:
        return []
    return [["", f"{title} ({len(names)})"], *[[name, ""] for name in names]]


def _short_name(name: str, code: object = "") -> str:
    """What a crowded map shows beside a facility whose full name finds no free place: its
    code (a hub's airport), else the last bracketed part of its name ('Los Angeles
    cold-storage partner (Long Beach)' -> 'Long Beach'), else nothing: the name is hidden."""
    short = text(code)
    if not short:
        bracketed = re.search(r"\(([^()]+)\)\s*$", name)
        short = bracketed.group(1).strip() if bracketed else ""
    return "" if short == name else short


def _hub_row(row: dict, hubs: _Lookup, sites: _Lookup, partners: _Lookup,
             held: str = "") -> dict[str, Any]:
    """A hub marker: its yearly cost (fixed, handling, lanes through it), the pooled stock it
    holds (`held`, see common.depot_stock) and the sites and partners it serves."""
    hid = text(row.get("hub_id"))
    active = truthy(row.get("active"))
    name = hubs.name(hid)
    ships = num(row.get("shipments_per_year"))
    fixed = num(row.get("fixed_cost_usd_per_year"))
    handling = num(row.get("handling_cost_usd_per_year"))
    lanes = num(row.get("transport_cost_usd_per_year"))
    stock = num(row.get("stock_shipping_usd_per_year"))
    pooled = num(row.get("depot_stock_usd_per_year"))
    served = split_list(row.get("sites_served"))
    fed = split_list(row.get("partners_supplied"))
    pop: list[list[str]] = [["Active", "yes" if active else "no"]]
    if active:
        pop += _cost_rows([("fixed contract", fixed), ("handling", handling),
                           ("transport on its lanes", lanes),
                           *([("shipping its sites' stock replaces, less replenishments",
                               stock)] if abs(stock) >= 0.5 else []),
                           *_pooled_cost(pooled)])
    pop += [["Status", text(row.get("status"))], ["Shipments/yr", fmt_num(ships)],
            ["Capacity (shipments/yr)", fmt_num(num(row.get("capacity_shipments_per_year")))],
            ["Utilisation", _pct(num(row.get("utilisation")))]]
    if held:
        pop += [["Pooled stock held", held]]
    pop += _listed("Sites served", [sites.name(s) for s in served])
    pop += _listed("Partners supplied", [partners.name(p) for p in fed])
    return {
        "ll": list(hubs.coords[hid]), "icon": "hub" if active else "hub_off",
        "tip": f"{name} \u2014 {'active' if active else 'not active'}"
               + (f" \u00b7 {fmt_usd(fixed + handling + lanes + stock + pooled)}/yr \u00b7 "
                  f"{len(served)} site(s)" if active else ""),
        "name": name if active else "", "active": active,
        "short": _short_name(name, row.get("airport_code")) if active else "",
        "title": name, "sub": f"3PL hub \u00b7 {text(row.get('airport_code'))}", "pop": pop}


def _pooled_cost(usd: float) -> list[tuple[str, float]]:
    """The cost line of the stock a hub or partner pools for its sites, where it holds any."""
    return [("pooled stock: holding, expiries, capital", usd)] if abs(usd) >= 0.5 else []


def _rank_names(yearly: list[tuple[int, float, dict]]) -> None:
    """Give each named facility row its `rank`: where names compete for room on a map, lower
    ranks are placed first. Partners come first (few, cheap, and a map's only sign of them),
    then hubs by yearly cost: the order of the one-pager's list, so both maps keep the same
    names when room runs out."""
    named = sorted((t for t in yearly if t[2].get("name")), key=lambda t: (t[0], -t[1]))
    for rank, (_, _, row) in enumerate(named):
        row["rank"] = rank


def _facility_payloads(result: Results, products: dict[str, str], sites: _Lookup,
                       hubs: _Lookup, partners: _Lookup) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"hubs": [], "partners": [], "links": [], "plants": [],
                                  "kols": []}
    yearly: list[tuple[int, float, dict]] = []  # (partners first, cost, named row)
    stock = depot_stock(result)  # the pooled stock each hub or partner holds
    for row in table(result, "hubs").to_dict("records"):
        hid = text(row.get("hub_id"))
        if hid not in hubs.coords:
            continue
        out["hubs"].append(_hub_row(row, hubs, sites, partners, stock.get(hid, "")))
        yearly.append((1, yearly_cost(row, "hubs"), out["hubs"][-1]))
    for row in table(result, "partners").to_dict("records"):
        pid = text(row.get("partner_id"))
        if pid not in partners.coords:
            continue
        active = truthy(row.get("active"))
        name = partners.name(pid)
        linked = split_list(row.get("sites_linked"))
        doses = num(row.get("doses_per_year"))
        fixed = num(row.get("fixed_cost_usd_per_year"))
        handling = num(row.get("handling_cost_usd_per_year"))
        pop = [["Active", "yes" if active else "no"]]
        if active:
            pop += _cost_rows([("fixed contract", fixed), ("storage and delivery", handling),
                               *_pooled_cost(num(row.get("depot_stock_usd_per_year")))])
        pop += [["Temperature classes", ", ".join(split_list(row.get("temperature_classes")))],
                ["Doses/yr delivered", fmt_num(doses)],
                ["Capacity (doses/yr)", fmt_num(num(row.get("capacity_doses_per_year")))]]
        if stock.get(pid):
            pop += [["Pooled stock held", stock[pid]]]
        pop += _listed("Sites served", [sites.name(s) for s in linked])
        out["partners"].append({
            "ll": list(partners.coords[pid]), "icon": "partner" if active else "partner_off",
            "tip": f"{name} \u2014 {'active' if active else 'not active'}"
                   + (f" \u00b7 {fmt_num(doses)} doses/yr to {len(linked)} site(s)"
                      if active else ""),
            "name": name if active else "", "active": active,
            "short": _short_name(name) if active else "",
            "title": name, "sub": "Cold-storage partner", "pop": pop})
        yearly.append((0, yearly_cost(row, "partners"), out["partners"][-1]))
        for s in linked:
            if s in sites.coords:
                out["links"].append({
                    "pts": [list(partners.coords[pid]), list(sites.coords[s])],
                    "c": PARTNER_COLOUR, "w": 1.6, "dash": "3 4", "o": 0.9,
                    "tip": f"{name} \u2192 {sites.name(s)} (partner link)",
                    "title": "Partner link", "sub": f"{name} \u2192 {sites.name(s)}",
                    "pop": [["Partner", name], ["Site", sites.name(s)]]})
    _rank_names(yearly)
    plants = table(result, "plants")
    for row in plants.to_dict("records"):
        la, lo = num(row.get("latitude"), math.nan), num(row.get("longitude"), math.nan)
        if math.isnan(la) or math.isnan(lo):
            continue
        name = text(row.get("name")) or text(row.get("plant_id"))
        doses = num(row.get("doses_per_year"))
        made = ", ".join(products.get(p, p) for p in split_list(row.get("products")))
        turnaround = num(row.get("turnaround_days"))
        out["plants"].append({
            # above the hub squares and site circles: New Jersey's plants lie within 30 km
            # of Newark's hub, and Leaflet stacks markers by latitude otherwise
            "ll": [round(la, 4), round(lo, 4)], "icon": "plant", "z": PLANT_Z,
            "tip": f"{name} \u2014 plant \u00b7 {fmt_num(doses)} doses/yr",
            "title": name, "sub": "Manufacturing plant",
            "pop": [["Products", made], ["Doses/yr shipped", fmt_num(doses)],
                    ["Capacity (doses/yr)", fmt_num(num(row.get("capacity_doses_per_year")))],
                    ["Utilisation", _pct(num(row.get("utilisation")))],
                    *_capacity_value(row),
                    # a plant of off-the-shelf products turns no patient's cells around
                    *([["Turnaround (days)", fmt_num(turnaround)]] if turnaround > 0 else [])]})
    for row in table(result, "kols").to_dict("records"):
        la, lo = num(row.get("latitude"), math.nan), num(row.get("longitude"), math.nan)
        if math.isnan(la) or math.isnan(lo):
            continue
        covered = truthy(row.get("covered"))
        name = text(row.get("name")) or text(row.get("kol_id"))
        area = text(row.get("therapeutic_area"))
        site = sites.name(row.get("site_id"))
        out["kols"].append({
            "ll": [round(la, 4), round(lo, 4)], "icon": "kol" if covered else "kol_off",
            "tip": f"{name} ({area}) at {site} \u2014 "
                   f"{'covered' if covered else 'not covered'}",
            "title": name, "sub": f"KOL \u00b7 {area}",
            "pop": [["Site", site], ["Therapeutic area", area],
                    ["Weight", fmt_num(num(row.get("weight")))],
                    ["Covered", "yes: site active and onboarded" if covered else "no"]]})
    return out


def _state_labels(result: Results) -> list[dict]:
    """State codes at the population-weighted centre of their zones (orientation offline)."""
    zones = table(result, "zones")
    if not {"state", "latitude", "longitude"} <= set(zones.columns):
        return []
    z = zones[["state", "latitude", "longitude"]].copy()
    z["w"] = [max(num(v), 1.0) for v in zones.get("population", pd.Series(1.0, zones.index))]
    z["latitude"] = [num(v, math.nan) for v in z["latitude"]]
    z["longitude"] = [num(v, math.nan) for v in z["longitude"]]
    z = z.dropna()
    rows = []
    for state, g in z.groupby(z["state"].map(text), sort=True):
        if not state:
            continue
        w = g["w"].to_numpy()
        rows.append({"ll": [round(float(np.average(g["latitude"], weights=w)), 3),
                            round(float(np.average(g["longitude"], weights=w)), 3)],
                     "t": state})
    return rows


# ---------------------------------------------------------------- symbols and legend

def _icons() -> dict[str, dict[str, Any]]:
    """Inline SVG symbols (no user data in them), shared by the map and its legend."""
    def sq(fill: str, stroke: str, size: int = 13) -> str:
        return (f'<svg width="{size}" height="{size}" viewBox="0 0 13 13"><rect x="1.5" '
                f'y="1.5" width="10" height="10" fill="{fill}" stroke="{stroke}" '
                'stroke-width="1.5"/></svg>')

    def diamond(fill: str, stroke: str, size: int = 15) -> str:
        return (f'<svg width="{size}" height="{size}" viewBox="0 0 15 15"><path d="M7.5 1 '
                f'L14 7.5 L7.5 14 L1 7.5 Z" fill="{fill}" stroke="{stroke}" '
                'stroke-width="1.5"/></svg>')

    def star(fill: str, stroke: str) -> str:
        return ('<svg width="13" height="13" viewBox="0 0 24 24"><path d="M12 1.5l3.1 6.6 '
                '7.1.9-5.2 4.9 1.3 7.1L12 17.6 5.7 21l1.3-7.1L1.8 9l7.1-.9z" '
                f'fill="{fill}" stroke="{stroke}" stroke-width="2"/></svg>')

    tri = (f'<svg width="18" height="17" viewBox="0 0 18 17"><path d="M9 1.5 L17 15.5 L1 15.5 Z"'
           f' fill="{PLANT_COLOUR}" stroke="#ffffff" stroke-width="1.5"/></svg>')
    return {
        # active facilities are drawn large: they are the decisions the map is about
        "hub": {"svg": sq(HUB_COLOUR, "#ffffff", 20), "w": 20, "h": 20, "anchor": [10, 10]},
        "hub_off": {"svg": sq("#ffffff", GREY, 11), "w": 11, "h": 11, "anchor": [5.5, 5.5]},
        "partner": {"svg": diamond(PARTNER_COLOUR, "#ffffff", 21), "w": 21, "h": 21,
                    "anchor": [10.5, 10.5]},
        "partner_off": {"svg": diamond("#ffffff", GREY, 12), "w": 12, "h": 12,
                        "anchor": [6, 6]},
        "plant": {"svg": tri, "w": 18, "h": 17, "anchor": [9, 10]},
        # KOL stars sit up and right of their site so both stay visible
        "kol": {"svg": star(KOL_COLOUR, "#6b5500"), "w": 13, "h": 13, "anchor": [-3, 15]},
        "kol_off": {"svg": star("#ffffff", "#b8860b"), "w": 13, "h": 13, "anchor": [-3, 15]},
    }


def _circle(fill: str | None, stroke: str, r: float = 5.0, dash: str | None = None,
            opacity: float = 1.0) -> str:
    size = int(2 * r + 4)
    c = size / 2
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg width="{size}" height="{size}"><circle cx="{c}" cy="{c}" r="{r}" '
            f'fill="{fill or "#ffffff"}" fill-opacity="{opacity}" stroke="{stroke}" '
            f'stroke-width="1.5"{d}/></svg>')


def _line(colour: str, width: float = 3.0, dash: str | None = None) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg width="30" height="10"><line x1="2" y1="5" x2="28" y2="5" stroke="{colour}"'
            f' stroke-width="{width}" stroke-linecap="round"{d}/></svg>')


def _legend_html(result: Results, reach_km: float, icons: dict[str, dict[str, Any]]) -> str:
    """Legend as HTML in two columns (it fits a 1280 x 720 screen); every dataset string in
    it is escaped here."""
    def row(symbol: str, label: str) -> str:
        return f'<div class="nx-row">{symbol}<span>{_esc(label)}</span></div>'

    def small(svg: str) -> str:
        return re.sub(r'width="\d+" height="\d+"', 'width="13" height="13"', svg, count=1)

    left = ["<h4>Facilities (active: large, named)</h4>",
            row(small(icons["hub"]["svg"]) + small(icons["hub_off"]["svg"]),
                "3PL hub (active / not)"),
            row(small(icons["partner"]["svg"]) + small(icons["partner_off"]["svg"]),
                "Cold-storage partner"),
            row(icons["plant"]["svg"], "Manufacturing plant"),
            row(small(icons["kol"]["svg"]) + small(icons["kol_off"]["svg"]),
                "KOL (covered / not)"),
            "<h4>Treatment sites (size \u221d patients)</h4>"]
    for decision in ("kept", "opened", "closed", "not chosen"):
        fill, stroke = SITE_STYLES[decision]
        left.append(row(_circle(fill, stroke if fill is None else "#555555", 5),
                        DECISION_LABELS[decision]))
    right = ["<h4>Patient zones (area \u221d patients)</h4>",
             row(_circle(ZONE_COLOURS["served"], "#ffffff", 5, opacity=0.7),
                 f"served within {reach_km:,.0f} km"),
             row(_circle(ZONE_COLOURS["beyond"], "#ffffff", 5),
                 f"\u2265 50 % served beyond {reach_km:,.0f} km"),
             row(_circle(ZONE_COLOURS["unserved"], "#ffffff", 5), "\u2265 10 % unserved"),
             "<h4>Lanes (width \u221d doses)</h4>"]
    classes: dict[str, list[str]] = {}
    names = product_names(result)
    for p in table(result, "products").to_dict("records"):
        classes.setdefault(text(p.get("temperature_class")), []).append(
            names.get(text(p.get("product_id")), text(p.get("product_id"))))
    for cls, prods in classes.items():
        right.append(f'<div class="nx-row" title="{_esc(", ".join(prods))}">'
                     f'{_line(class_colour(cls), 4)}<span>{_esc(class_label(cls))}</span></div>')
    right += [row(_line("#555555", 3, TRUNK_DASH), "plant \u2192 hub / partner"),
              row(_line("#555555", 3), "hub \u2192 site (ground)"),
              row(_line("#555555", 3, AIR_DASH), "hub \u2192 site (air)"),
              row(_line(PARTNER_COLOUR, 1.6, "3 4"), "partner \u2192 site")]
    return ('<details open><summary>Legend</summary><div class="nx-cols">'
            f'<div>{"".join(left)}</div><div>{"".join(right)}</div></div>'
            '<div class="nx-foot">More layers (inactive facilities, last-mile lanes, KOLs, '
            "per-product zones) in the layer control, top right.</div></details>")


def _count(n: float, noun: str) -> str:
    """'1 partner', '16 hubs': the title is read aloud to executives, '1 partners' jars."""
    return f"<b>{fmt_int(n)}</b> {noun}{'' if round(num(n)) == 1 else 's'}"


def _title_html(result: Results, reach_km: float) -> str:
    k = kpi_values(result)
    cost = headline_costs(result)
    model = result.summary.get("model") or (result.summary.get("settings") or {}).get("name")
    served, demand = k.get("patients_served", 0.0), k.get("patients_demand", 0.0)
    status = text(result.summary.get("status"))
    gap = result.summary.get("gap")
    gap_txt = f", gap {100 * num(gap):.2f} %" if gap is not None else ""
    penalty = cost["unserved_penalty_usd"]
    return (
        f"<h1>Network design \u2014 {_esc(model or 'model')}</h1>"
        '<div class="nx-kpis">'
        f'<span class="nx-cost"><b>{fmt_usd(cost["network_cost_usd"])}</b>/yr network cost'
        "</span>"
        f"<span><b>{fmt_int(served)}</b> of {fmt_int(demand)} patients/yr served</span>"
        f"<span><b>{num(k.get('pct_within_travel_target')):.1f} %</b> within "
        f"{reach_km:,.0f} km</span>"
        f"<span>{_count(k.get('sites_active', 0), 'site')} "
        f"({fmt_int(k.get('sites_opened', 0))} new)</span>"
        f"<span>{_count(k.get('hubs_active', 0), 'hub')}</span>"
        f"<span>{_count(k.get('partners_active', 0), 'partner')}</span></div>"
        + (f'<div class="nx-note">Plus {fmt_usd(penalty)}/yr unserved penalty: lost margin the '
           "model prices for patients not served, not cash.</div>" if penalty >= 0.5 else "")
        + _plan_note(result)
        + f'<div class="nx-note">Solve: {_esc(status)}{gap_txt}. Click any symbol for its '
        "figures.</div>")


def _plan_note(result: Results) -> str:
    """A launch plan's map is its last period's network: say so, with the plan's horizon."""
    plan = result.summary.get("timeline")
    if not isinstance(plan, dict) or num(plan.get("periods"), 1.0) <= 1:
        return ""
    last = text(plan.get("last_period"))
    return ('<div class="nx-note">The launch plan\'s network at its last period'
            + (f", {_esc(last)}" if last else "") + f", of {int(num(plan.get('periods')))} "
            "(figures at a year's rate); the roll-out period by period is in details.html."
            "</div>")


# ---------------------------------------------------------------- the map

def _unique(name: str, seen: set[str]) -> str:
    out, i = name, 2
    while out in seen:
        out, i = f"{name} ({i})", i + 1
    seen.add(out)
    return out


def outline_payload() -> list[list]:
    """State outlines for map.js: [code, [flat lat, lon, lat, lon, ...] per ring]."""
    return [[code, [[v for pt in ring for v in pt] for ring in rings]]
            for code, _, rings in state_outlines()]


def inset_regions(result: Results, bounds: list[list[float]] | None) -> list[dict]:
    """Alaska, Hawaii and Puerto Rico when something of the network lies there but outside
    the main frame: each gets an inset framing its zones and facilities."""
    pts: dict[str, list[tuple[float, float]]] = {}
    for name in ("zones", "sites", "hubs", "partners", "plants"):
        t = table(result, name)
        if not {"latitude", "longitude"} <= set(t.columns):
            continue
        for la, lo in zip(t["latitude"], t["longitude"], strict=True):
            la, lo = num(la, math.nan), num(lo, math.nan)
            if math.isnan(la) or math.isnan(lo):
                continue
            if bounds and bounds[0][0] <= la <= bounds[1][0] and \
                    bounds[0][1] <= lo <= bounds[1][1]:
                continue
            region = region_of(la, lo)
            if region is not None:
                pts.setdefault(region.code, []).append((la, lo))
    return [{"code": r.code, "name": r.name,
             "bounds": [[r.south, r.west], [r.north, r.east]]}
            for r in REGIONS if r.code in pts]


def build_map(result: Results) -> folium.Map:
    """The interactive map as a folium.Map (render with `.get_root().render()`)."""
    reach = within_km(result)
    products = product_names(result)
    sites = _Lookup(table(result, "sites"), "site_id")
    hubs = _Lookup(table(result, "hubs"), "hub_id")
    partners = _Lookup(table(result, "partners"), "partner_id")
    plants = _Lookup(table(result, "plants"), "plant_id")
    shared, zone_payloads = _zone_payloads(result, sites, products, reach)
    active_sites, other_sites = _site_payloads(result, products, partners)
    lanes = _lane_payloads(result, products, plants, hubs, partners, sites)
    facilities = _facility_payloads(result, products, sites, hubs, partners)
    icons = _icons()
    shared["icons"] = icons
    outlines = outline_payload()
    bounds = frame_bounds(result)
    shared["insets"] = inset_regions(result, bounds)

    centre = [39.5, -98.35] if bounds is None else [
        (bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = _OfflineMap(location=centre, zoom_start=4, tiles=None, control_scale=True,
                    zoom_control="topright", zoom_snap=0.25, zoom_delta=0.5)
    figure = m.get_root()
    model = result.summary.get("model") or "network"
    figure.title = _esc(f"netopt map \u2014 {model}")
    figure.header.add_child(Element(
        '<meta charset="utf-8">\n' + inline_head()
        + f"<style>\n{_template('map.css')}\n</style>\n"
        + f"<script>\n{_template('map.js')}\n</script>\n"), name="netopt_head", index=0)
    m.add_child(_Call(f"NX.init({m.get_name()}, {script_json(shared)});"))

    seen: set[str] = set()

    def layer(name: str, spec: dict, show: bool = True) -> None:
        group = folium.FeatureGroup(name=_esc(_unique(name, seen)), show=show)
        group.add_child(_Call(f"NX.draw({group.get_name()}, {m.get_name()}, "
                              f"{script_json(spec)});"))
        group.add_to(m)

    if outlines:
        layer("US state outlines (offline)", {"kind": "base", "rows": outlines})
    # light grey tiles need no API key but do need the network: off until switched on
    folium.TileLayer(xyzservices.providers.Esri.WorldGrayCanvas,
                     name="Street basemap tiles (online only)", overlay=True, control=True,
                     show=False).add_to(m)
    _add_layers(layer, result, products, zone_payloads, active_sites, other_sites, lanes,
                facilities, bool(outlines))
    m.add_child(_Call(f"NX.controls({m.get_name()}, " + script_json({
        "title": _title_html(result, reach), "legend": _legend_html(result, reach, icons),
        "source": basemap_source() if outlines else "",
    }) + ");"))
    if bounds is not None:
        m.add_child(_Call(f"NX.frame({m.get_name()}, {script_json(bounds)});"))
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.add_child(_Call(f"NX.finish({m.get_name()});"))
    return m


def _add_layers(layer: Any, result: Results, products: dict[str, str],
                zone_payloads: list[tuple[str | None, dict]], active_sites: list[dict],
                other_sites: list[dict], lanes: dict[str, list[dict]],
                facilities: dict[str, list[dict]], outlined: bool) -> None:
    """Feature groups in drawing order. Shown by default: zones, active sites, active hubs
    and partners (named), plants and the supply lanes; the rest is one click away."""
    supply = [r for rows in lanes.values() for r in rows if r.get("dash") == TRUNK_DASH]
    layer("Patient zones \u2014 all products", zone_payloads[0][1])
    layer("Supply lanes (plant \u2192 hub \u2192 partner)", {"kind": "lanes", "rows": supply})
    for pid, pname in products.items():
        rows = [r for r in lanes.get(pid, []) if r.get("dash") != TRUNK_DASH]
        layer(f"Last-mile lanes \u00b7 {pname}", {"kind": "lanes", "rows": rows}, show=False)
    layer("Cold-storage partner \u2192 site links", {"kind": "lanes",
                                                      "rows": facilities["links"]}, show=False)
    layer("Treatment sites \u2014 active", {"kind": "sites", "rows": active_sites})
    layer("Treatment sites \u2014 closed / not chosen", {"kind": "sites", "rows": other_sites},
          show=False)
    hubs, partners = facilities["hubs"], facilities["partners"]
    layer("3PL hubs \u2014 not active", {"kind": "icons",
                                          "rows": [h for h in hubs if not h["active"]]},
          show=False)
    layer("Cold-storage partners \u2014 not active",
          {"kind": "icons", "rows": [p for p in partners if not p["active"]]}, show=False)
    layer("KOLs", {"kind": "icons", "rows": facilities["kols"]}, show=False)
    layer("Plants", {"kind": "icons", "rows": facilities["plants"]})
    layer("3PL hubs \u2014 active", {"kind": "icons", "rows": [h for h in hubs if h["active"]]})
    layer("Cold-storage partners \u2014 active",
          {"kind": "icons", "rows": [p for p in partners if p["active"]]})
    for pid, spec in zone_payloads[1:]:
        layer(f"Zones \u00b7 {products.get(text(pid), text(pid))}", spec, show=False)
    layer("State labels", {"kind": "labels", "rows": _state_labels(result)}, show=not outlined)


def write_map(result: Results, path: Path) -> Path:
    """Render the map to a self-contained HTML file."""
    html_text = build_map(result).get_root().render()
    path.write_text(html_text, encoding="utf-8")
    return path
