"""Shared pieces of the map, one-pager and workbook: palette, zone classes, money, safe JSON.

One palette and one zone classification keep the interactive map, the printed map and the
legend telling the same story.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..results.tables import (
    STOCK_TERMS,
    Results,
    cost_split,
    is_penalty_term,
    ordering_breakdown,
)

# temperature class -> lane colour (colour-blind friendly, distinct from zone colours)
CLASS_COLOURS = {
    "cryogenic": "#5e3c99",
    "ultra_low": "#0571b0",
    "refrigerated": "#1b9e77",
    "controlled_ambient": "#d95f02",
}
OTHER_COLOUR = "#555555"

# zone status -> fill colour
ZONE_COLOURS = {"served": "#5b8ec4", "beyond": "#f0a23a", "unserved": "#d7191c"}
UNSERVED_SHARE = 0.10  # a zone is drawn "unserved" from this share of its demand up
BEYOND_SHARE = 0.50  # ... "beyond target" when at least this share of its served patients is

# site decision -> (fill, stroke); None fill = hollow
SITE_STYLES: dict[str, tuple[str | None, str]] = {
    "kept": ("#0b2f5b", "#ffffff"),
    "opened": ("#11a36a", "#ffffff"),
    "closed": (None, "#7b3294"),
    "not chosen": (None, "#8c8c8c"),
    "excluded": ("#cfcfcf", "#b0b0b0"),
}
DECISION_LABELS = {
    "kept": "Existing site kept",
    "opened": "Newly activated site",
    "closed": "Existing site closed",
    "not chosen": "Candidate not chosen",
    "excluded": "Excluded site",
}
HUB_COLOUR = "#c75b12"
PARTNER_COLOUR = "#138d90"
PLANT_COLOUR = "#222222"
KOL_COLOUR = "#e6b800"

# lane legs that are not hub-to-site last miles
TRUNK = "trunk"


def class_colour(temperature_class: object) -> str:
    return CLASS_COLOURS.get(str(temperature_class), OTHER_COLOUR)


#: temperature classes in words, with their range, for legends
CLASS_LABELS = {"cryogenic": "cryogenic (\u2264 \u2212150 \u00b0C)",
                "ultra_low": "ultra-low (\u221280 to \u221260 \u00b0C)",
                "refrigerated": "refrigerated (2\u20138 \u00b0C)",
                "controlled_ambient": "controlled ambient (15\u201325 \u00b0C)"}


def class_label(temperature_class: object, with_range: bool = True) -> str:
    """'ultra-low (-80 to -60 °C)' for ultra_low ('ultra-low' without the range); other
    classes with spaces for underscores."""
    cls = text(temperature_class)
    label = CLASS_LABELS.get(cls, cls.replace("_", " "))
    return label if with_range else label.split(" (")[0]


def num(value: object, default: float = 0.0) -> float:
    """A float from a cell that may be NaN, None, '' or text (hostile inputs never crash)."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) or math.isinf(out) else out


def text(value: object) -> str:
    """A cell as text ('' for NaN/None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def split_list(value: object) -> list[str]:
    """Cells hold lists as ';'-separated strings."""
    return [s for s in text(value).split(";") if s]


#: the columns whose sum is an active hub's or partner's yearly cost (hubs.csv, partners.csv):
#: the one figure the report's list, the details table and both maps rank and show them by
FACILITY_COST_COLUMNS = {
    # a hub's lanes price every dose per patient; stock at its sites replaces most of that
    # shipping with bulk replenishments (absent from folders written before it)
    # and the stock a hub or partner pools for its sites costs where it lies (holding,
    # expiries, capital charge, returns: `depot_stock_usd_per_year`)
    "hubs": ("fixed_cost_usd_per_year", "handling_cost_usd_per_year",
             "transport_cost_usd_per_year", "stock_shipping_usd_per_year",
             "depot_stock_usd_per_year"),
    "partners": ("fixed_cost_usd_per_year", "handling_cost_usd_per_year",
                 "depot_stock_usd_per_year"),
}


#: what a working-capital figure reads when the dataset has no commercial terms
NO_TERMS = "no policies table: payment terms unknown"


def terms_unknown(finance: pd.DataFrame) -> bool:
    """Whether finance.csv was written without a policies table (every row's `method`
    'none'): its working capital is then 0 for want of payment terms, not because the
    manufacturer is paid on delivery."""
    if finance.empty or "method" not in finance.columns:
        return False
    return bool((finance["method"].map(text) == "none").all())


def yearly_cost(row: dict, kind: str) -> float:
    """USD a year of one hubs.csv (`kind` "hubs") or partners.csv ("partners") row."""
    return sum(num(row.get(c)) for c in FACILITY_COST_COLUMNS[kind])


def table(result: Results, name: str) -> pd.DataFrame:
    """A result table, or an empty frame when a saved folder lacks it."""
    return result.tables.get(name, pd.DataFrame())


def zone_class(demand: float, served: float, unserved: float, beyond: float) -> str:
    """served / beyond / unserved, by the thresholds the legend states."""
    if demand > 0 and unserved >= UNSERVED_SHARE * demand and unserved > 1e-9:
        return "unserved"
    if served > 0 and beyond >= BEYOND_SHARE * served:
        return "beyond"
    return "served"


def within_km(result: Results) -> float:
    """Travel target of the solved model (km)."""
    settings = result.summary.get("settings") or {}
    return num((settings.get("service") or {}).get("within_km"), 250.0)


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def fmt_num(value: float, digits: int = 1) -> str:
    """1,234 / 12.3; a positive amount too small to show at `digits` reads "<0.1", not "0.0":
    a group of unserved patients listed as 0.0 looks like a row that should not be there."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    step = 10.0 ** -digits
    if 0 < value < step / 2:
        return f"<{step:.{digits}f}"
    return f"{value:,.{digits}f}"


def fmt_usd(value: float) -> str:
    """$12.3 M style, for headlines. Under $10k the hundreds stay ($4.5 k, not $4 k): a
    dose's price or cost of goods is often a few thousand dollars, and rounding it to whole
    thousands would misstate it by up to a quarter."""
    a = abs(value)
    sign = "-" if value <= -0.5 else ""  # a solver's -1e-10 is $0, not "-$0"
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.2f} B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.1f} M"
    if a >= 9.95e3:
        return f"{sign}${a / 1e3:,.0f} k"
    if a >= 1e3:  # "$4.5 k", and "$1 k" for a round thousand
        return f"{sign}${a / 1e3:,.1f}".removesuffix(".0") + " k"
    return f"{sign}${a:,.0f}"


def kpi_values(result: Results) -> dict[str, float]:
    """KPI name -> value from the kpis table (summary as fallback)."""
    out: dict[str, float] = {}
    kpis = table(result, "kpis")
    if {"kpi", "value"} <= set(kpis.columns):
        for k, v in zip(kpis["kpi"], kpis["value"], strict=True):
            out[text(k)] = num(v)
    for k, v in result.summary.items():
        if k not in out and isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = float(v)
    return out


NON_CASH_TERMS = ("unserved_penalty", "elastic_unserved")
REVENUE_TERMS = ("revenue", "cogs")


def cost_terms(result: Results) -> pd.DataFrame:
    """Cost by term (without the total row), with a flag for terms that are not cash."""
    costs = table(result, "costs")
    if not {"term", "usd_per_year"} <= set(costs.columns):
        return pd.DataFrame({"term": [], "usd_per_year": [], "kind": []})
    rows = costs[costs["term"].astype(str) != "total"].copy()
    rows["usd_per_year"] = [num(v) for v in rows["usd_per_year"]]
    rows["term"] = rows["term"].map(text)
    rows["kind"] = ["penalty" if t in NON_CASH_TERMS or is_penalty_term(t)
                    else "revenue" if t in REVENUE_TERMS else "cost" for t in rows["term"]]
    return rows.reset_index(drop=True)


def margin_lines(result: Results) -> list[tuple[str, float]]:
    """Revenue, COGS, network cost by term and margin (USD/yr) of the served patients.

    The unserved penalty is a modelling device (lost margin), not cash, so it is left out of
    the margin and shown apart. Revenue and COGS come from the cost terms when the margin
    objective put them there, otherwise from served patients x doses x price.
    """
    terms = cost_terms(result)
    by_term = dict(zip(terms["term"], terms["usd_per_year"], strict=True))
    if "revenue" in by_term:
        revenue = -by_term["revenue"]
        cogs = by_term.get("cogs", 0.0)
    else:
        revenue, cogs = _revenue_cogs(result)
    lines: list[tuple[str, float]] = [("revenue", revenue), ("cogs", -cogs)]
    for term, kind, usd in zip(terms["term"], terms["kind"], terms["usd_per_year"],
                               strict=True):
        if kind == "cost":
            lines.append((term, -usd))
    lines.append(("margin", sum(v for _, v in lines)))
    return lines


def _revenue_cogs(result: Results) -> tuple[float, float]:
    a = table(result, "assignments")
    p = table(result, "products")
    need = {"product_id", "doses_per_patient", "price_usd_per_dose", "cogs_usd_per_dose"}
    if a.empty or not need <= set(p.columns):
        return 0.0, 0.0
    patients = a.groupby("product_id")["patients_per_year"].sum()
    p = p.drop_duplicates("product_id", keep="last").set_index("product_id")
    doses = patients * p["doses_per_patient"].reindex(patients.index).map(num)
    revenue = float((doses * p["price_usd_per_dose"].reindex(patients.index).map(num)).sum())
    cogs = float((doses * p["cogs_usd_per_dose"].reindex(patients.index).map(num)).sum())
    return revenue, cogs


def product_names(result: Results) -> dict[str, str]:
    p = table(result, "products")
    if "product_id" not in p.columns:
        return {}
    names = p["name"] if "name" in p.columns else p["product_id"]
    return {text(k): text(n) or text(k) for k, n in zip(p["product_id"], names, strict=True)}


def clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/inf to None, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


_JS_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' can end the element."""
    raw = json.dumps(clean(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return raw.translate(_JS_ESCAPES)


def truthy(value: object) -> bool:
    """A boolean cell, whether it was read back as bool, number or text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(num(value))


LOWER48 = (24.0, 50.0, -125.5, -66.0)  # lat min/max, lon min/max


#: margin around a map's frame, as a share of its larger span (regions 3 degrees tall or
#: more): a zone's circle or a hub's label at the edge is not cut in half
FRAME_PAD_SHARE = 0.03


def frame_bounds(result: Results) -> list[list[float]] | None:
    """[[south, west], [north, east]] of what the map draws: the zones, the active sites,
    hubs and partners, and the plants that ship. A regional case's plant (Chicago for a
    Minnesota network) lay outside a frame of zones and sites, its lane a stub off the edge;
    an idle plant across the country (El Segundo for a Southeast network) must not shrink
    the network to a quarter of the map.

    Only the lower 48 when nearly everything is there, so a few Alaska or Hawaii zones do not
    shrink the mainland to a strip.
    """
    pts = []
    for name in ("zones", "sites", "hubs", "partners", "plants"):
        t = table(result, name)
        if {"latitude", "longitude"} <= set(t.columns):
            if "active" in t.columns:
                t = t.loc[t["active"].map(truthy).astype(bool)]
            elif name == "plants" and "doses_per_year" in t.columns:
                t = t.loc[t["doses_per_year"].map(num) > 1e-6]
            pts += [(num(a, math.nan), num(b, math.nan))
                    for a, b in zip(t["latitude"], t["longitude"], strict=True)]
    bounds = points_bounds(pts, small_pad=0.3, pad=0.0)
    if bounds is None:
        return None
    (south, west), (north, east) = bounds
    if north - south >= 3:
        margin = FRAME_PAD_SHARE * max(north - south, east - west)
        bounds = [[south - margin, west - margin], [north + margin, east + margin]]
    return bounds


def points_bounds(pts: Iterable[tuple[float, float]], small_pad: float,
                  pad: float) -> list[list[float]] | None:
    """[[south, west], [north, east]] around (lat, lon) points, NaNs ignored; only the lower
    48 when at least 90 % of the points are there. Regions under 3 degrees tall get
    small_pad, larger ones pad."""
    arr = np.array([p for p in pts if not (math.isnan(p[0]) or math.isnan(p[1]))])
    if not len(arr):
        return None
    lo48 = arr[(arr[:, 0] >= LOWER48[0]) & (arr[:, 0] <= LOWER48[1])
               & (arr[:, 1] >= LOWER48[2]) & (arr[:, 1] <= LOWER48[3])]
    if len(lo48) >= 0.9 * len(arr):
        arr = lo48
    south, west = arr.min(axis=0)
    north, east = arr.max(axis=0)
    margin = small_pad if north - south < 3 else pad
    return [[float(south) - margin, float(west) - margin],
            [float(north) + margin, float(east) + margin]]


# ---------------------------------------------------------------- one cost figure everywhere

#: words for the headline split, shared by every page and sheet
NETWORK_COST_LABEL = "Network cost"
NETWORK_COST_NOTE = ("cash per year: sites, hubs, partners, transport, patient travel, ordering "
                     "and inventory")
PENALTY_LABEL = "Unserved penalty"
PENALTY_NOTE = ("lost margin the model prices for patients it does not serve: a planning "
                "device, not cash")

#: cost term -> label people read (terms not listed: 'site_fixed' -> 'Site fixed')
TERM_LABELS = {
    "site_activation": "Site activation (one-off, spread)",
    "site_fixed": "Site fixed costs",
    "onboarding": "Site onboarding",
    "equipment": "Storage equipment",
    "transport": "Transport",
    "hub_handling": "Hub handling",
    "hub_fixed": "Hub fixed costs",
    "partner_fixed": "Partner fixed costs",
    "partner_handling": "Partner handling",
    "patient_travel": "Patient travel support",
    "ordering_and_inventory": "Ordering and inventory",
    "unserved_penalty": "Unserved penalty",
    "elastic_unserved": "Unserved (elastic)",
    "revenue": "Revenue",
    "cogs": "Cost of goods",
}

#: cost term -> what it is, for details.html's table of every term.
#: Transport and hub handling count every delivery at the lanes' per-patient cadence; the
#: deliveries stock replaces come back as a saving under ordering and inventory, so those two
#: lines alone can exceed the network cost
TERM_NOTES = {
    "site_activation": "one-off cost of activating a new site, spread over "
                       "sites.amortisation_years",
    "site_fixed": "yearly cost of keeping each active site in the network",
    "onboarding": "one-off cost of onboarding a site for a therapeutic area, spread over "
                  "sites.amortisation_years",
    "equipment": "yearly cost of storage equipment for a temperature class at sites",
    "patient_travel": "travel support paid per km for each patient's visits to the site",
    "transport": "every leg's shipments at the per-patient cadence, starting material too; "
                 "stock gives part back below",
    "hub_handling": "per shipment through a hub, at the per-patient cadence; stock gives part "
                    "back below",
    "hub_fixed": "yearly cost of each active 3PL hub",
    "partner_fixed": "yearly fee of each active cold-storage partner",
    "partner_handling": "per dose a partner stores and delivers to a site",
    "depot_stock": "stock pooled at hubs and partners for the sites they supply",
    "ordering_and_inventory": "stock at sites, hubs and partners against just-in-time "
                              "delivery: its parts below",
}

#: ordering-and-inventory part -> (label, what it is)
ORDERING_PARTS = {
    "holding": ("Inventory holding", "storing doses the manufacturer or a distributor owns"),
    "expiries": ("Expired doses", "doses that expire in stock the manufacturer or a "
                 "distributor owns, at cost of goods"),
    "capital_charge": ("Capital charge on stock",
                       "cost of capital on the value of the stock the manufacturer or a "
                       "distributor owns (finance.csv's capital_charge_usd also charges it on "
                       "receivables)"),
    "replenishment": ("Replenishment shipments", "bulk shipments that refill stock points"),
    "returns": ("Returned doses", "doses sites return for credit, destroyed at cost of goods"),
    "shipping_saved": ("Saving: per-patient shipping avoided",
                       "the per-patient deliveries that stock replaces (a saving, so negative)"),
    "tabulation": ("Stock pricing approximation",
                   "the model prices each ordering option on a piecewise-linear table; this "
                   "is its difference from the exact figures above"),
}


def term_label(term: str) -> str:
    """A cost term for people: TERM_LABELS, else 'site_fixed' -> 'Site fixed'."""
    if term in TERM_LABELS:
        return TERM_LABELS[term]
    t = term.replace("_", " ").strip()
    return t[:1].upper() + t[1:] if t else term


def headline_costs(result: Results) -> dict[str, float]:
    """network_cost_usd, unserved_penalty_usd, other_penalty_usd, annual_cost_usd: from the
    KPIs when the result has them, else computed from costs.csv the same way (older folders).
    Every page shows these, so they agree with summary.json and kpis.csv to the cent."""
    split = cost_split(table(result, "costs")) if {"term", "usd_per_year"} <= set(
        table(result, "costs").columns) else {}
    k = kpi_values(result)
    return {key: num(k.get(key, split.get(key, 0.0)))
            for key in ("network_cost_usd", "unserved_penalty_usd", "other_penalty_usd",
                        "annual_cost_usd")}


def ordering_parts(result: Results) -> list[tuple[str, str, float, str]]:
    """(part, label, USD/yr, explanation) of the ordering-and-inventory term, parts that are
    not zero only; they add up to the term (see results.tables.ordering_breakdown)."""
    parts = ordering_breakdown(result.tables)
    return [(part, *ORDERING_PARTS[part][:1], parts[part], ORDERING_PARTS[part][1])
            for part in ORDERING_PARTS if abs(parts.get(part, 0.0)) >= 0.5]


def network_cost_lines(result: Results) -> list[tuple[str, float, str]]:
    """(label, USD/yr, kind) lines that add up to the network cost: every cash cost term,
    with ordering and inventory replaced by its parts (kind 'cost', or 'saving' for the
    per-patient shipping it avoids). Sorted largest first, savings last."""
    terms = cost_terms(result)
    lines: list[tuple[str, float, str]] = []
    parts = ordering_parts(result)  # one set of parts for both stock terms (depot rows too)
    shown = False
    for term, kind, usd in zip(terms["term"], terms["kind"], terms["usd_per_year"],
                               strict=True):
        if kind != "cost":
            continue
        if term in STOCK_TERMS and parts:
            if not shown:
                lines += [(label, usd_p, "saving" if usd_p < 0 else "cost")
                          for _, label, usd_p, _ in parts]
                shown = True
            continue
        if abs(usd) < 0.5:
            continue
        lines.append((term_label(term), usd, "saving" if usd < 0 else "cost"))
    lines.sort(key=lambda r: (r[2] == "saving", -abs(r[1])))
    return lines


def penalty_npv_usd(result: Results) -> float:
    """The discounted unserved penalty the plan's objective adds to its cash (0 for folders
    written before it had its own column, whose cash flows still carry it)."""
    tl = result.summary.get("timeline") or {}
    value = num(tl.get("penalty_npv_usd") if isinstance(tl, dict) else None, math.nan)
    if math.isnan(value):
        periods = table(result, "timeline_periods")
        if {"penalty_usd", "discount_factor"} <= set(periods.columns):
            value = float(sum(num(p) * num(f, 1.0) for p, f in zip(
                periods["penalty_usd"], periods["discount_factor"], strict=True)))
        else:
            value = 0.0
    return value


def penalty_words(penalty_npv: float, unserved: float) -> str:
    """'; the objective adds $X of penalty for N patients left unserved' where it does."""
    if penalty_npv < 0.5:
        return ""
    return (f"; the objective adds {fmt_usd(penalty_npv)} of penalty (not cash) for the "
            f"{fmt_num(unserved)} patients left unserved")


def depot_stock(result: Results) -> dict[str, str]:
    """Hub or partner id -> 'rdc_rx stock for 4 sites': the pooled depot stock it holds
    (finance.csv's depot rows), which a strategist asks of a network first. Product ids,
    not names: the one-pager's table has room for a line or two."""
    fin = table(result, "finance")
    if fin.empty or not {"row", "depot_id", "product_id"} <= set(fin.columns):
        return {}
    sites = fin[fin["row"].map(text) == "site"]
    out: dict[str, list[str]] = {}
    for r in fin[fin["row"].map(text) == "depot"].itertuples(index=False):
        depot, k = text(r.depot_id), text(r.product_id)
        n = int(((sites["product_id"].map(text) == k)
                 & sites["depot_id"].map(lambda v, d=depot: d in split_list(v))).sum())
        out.setdefault(depot, []).append(f"{k} stock for {n} site" + ("s" if n != 1 else ""))
    return {d: ", ".join(v) for d, v in out.items()}
