"""One-page report (`report.html`): headline KPIs, a printed network map, cost and margin by
term, activated sites by state, unserved patients and the assumptions behind the result.

Everything is inline (CSS, SVG map and charts) so the file can be mailed, archived or printed
to PDF on its own; the interactive map sits beside it as map.html. The map here is a static SVG
in an Albers projection: it prints crisply, needs no script, and shows the same symbols as the
interactive map because it is drawn from the same payloads.
"""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results.tables import Results
from ..solver.backends import LABELS
from .common import (
    DECISION_LABELS,
    HUB_COLOUR,
    PARTNER_COLOUR,
    PLANT_COLOUR,
    SITE_STYLES,
    ZONE_COLOURS,
    class_colour,
    cost_terms,
    fmt_int,
    fmt_num,
    fmt_usd,
    frame_bounds,
    kpi_values,
    margin_lines,
    num,
    product_names,
    table,
    text,
    truthy,
    within_km,
)
from .maps import (
    ZONE_LABELS,
    _facility_payloads,
    _lane_payloads,
    _Lookup,
    _site_payloads,
    _state_labels,
    _zone_payloads,
)
from .timeline import timeline_section

MAP_WIDTH = 1000.0


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def _label(term: str) -> str:
    """site_fixed -> Site fixed (terms are identifiers; the label is for people)."""
    t = term.replace("_", " ").strip()
    return t[:1].upper() + t[1:] if t else term


# ---------------------------------------------------------------- static map

def _albers(lat: np.ndarray, lon: np.ndarray, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Albers equal-area conic with the USGS parallels for the conterminous US."""
    p1, p2, p0 = np.radians(29.5), np.radians(45.5), np.radians(23.0)
    n = (np.sin(p1) + np.sin(p2)) / 2
    c = np.cos(p1) ** 2 + 2 * n * np.sin(p1)
    rho0 = np.sqrt(c - 2 * n * np.sin(p0)) / n
    phi, lam = np.radians(lat), np.radians(lon - lon0)
    rho = np.sqrt(np.maximum(c - 2 * n * np.sin(phi), 0.0)) / n
    theta = n * lam
    return rho * np.sin(theta), -(rho0 - rho * np.cos(theta))  # y grows downward in SVG


class _Projector:
    """Lat/lon -> SVG pixels, framing the bounds into a fixed width."""

    def __init__(self, bounds: list[list[float]], width: float) -> None:
        (s, w), (n, e) = bounds
        self.lon0 = (w + e) / 2
        t = np.linspace(0, 1, 25)
        lats = np.concatenate([np.full(25, s), np.full(25, n), s + (n - s) * t, s + (n - s) * t])
        lons = np.concatenate([w + (e - w) * t, w + (e - w) * t, np.full(25, w), np.full(25, e)])
        x, y = _albers(lats, lons, self.lon0)
        self.x0, self.y0 = float(x.min()), float(y.min())
        span_x = max(float(x.max() - x.min()), 1e-6)
        span_y = max(float(y.max() - y.min()), 1e-6)
        self.margin = 14.0
        self.k = (width - 2 * self.margin) / span_x
        self.height = min(span_y * self.k + 2 * self.margin, 0.8 * width)
        if span_y * self.k + 2 * self.margin > self.height:  # very tall regions: fit height
            self.k = (self.height - 2 * self.margin) / span_y
        self.width = width
        self.dx = (width - span_x * self.k) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = _albers(np.array([lat]), np.array([lon]), self.lon0)
        return (round(float(x[0] - self.x0) * self.k + self.dx, 1),
                round(float(y[0] - self.y0) * self.k + self.margin, 1))


def _shape(kind: str, x: float, y: float, fill: str, stroke: str, size: float = 5.0) -> str:
    if kind == "square":
        return (f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" '
                f'height="{2 * size:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>')
    if kind == "diamond":
        return (f'<path d="M{x:.1f} {y - size - 1:.1f}L{x + size + 1:.1f} {y:.1f}L{x:.1f} '
                f'{y + size + 1:.1f}L{x - size - 1:.1f} {y:.1f}Z" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="1.2"/>')
    return (f'<path d="M{x:.1f} {y - size - 2:.1f}L{x + size + 1.5:.1f} {y + size:.1f}L'
            f'{x - size - 1.5:.1f} {y + size:.1f}Z" fill="{fill}" stroke="{stroke}" '
            'stroke-width="1.2"/>')


def static_map_svg(result: Results, width: float = MAP_WIDTH) -> str:
    """The network as inline SVG: zones, lanes, sites, hubs, partners, plants, state codes."""
    bounds = frame_bounds(result)
    if bounds is None:
        return '<svg viewBox="0 0 400 60"><text x="10" y="35">No locations to draw.</text></svg>'
    proj = _Projector(bounds, width)
    products = product_names(result)
    sites = _Lookup(table(result, "sites"), "site_id")
    hubs = _Lookup(table(result, "hubs"), "hub_id")
    partners = _Lookup(table(result, "partners"), "partner_id")
    plants = _Lookup(table(result, "plants"), "plant_id")
    reach = within_km(result)
    shared, zone_payloads = _zone_payloads(result, sites, products, reach)
    active, inactive = _site_payloads(result, products, partners)
    lanes = _lane_payloads(result, products, plants, hubs, partners, sites)
    fac = _facility_payloads(result, products, sites, hubs, partners)

    # regional maps get bigger symbols: the same zone covers more of the page
    (s_lat, w_lon), (n_lat, e_lon) = bounds
    span_km = max(abs(e_lon - w_lon) * 111.0 * math.cos(math.radians((s_lat + n_lat) / 2)),
                  abs(n_lat - s_lat) * 111.0, 1.0)
    zoom = min(3.0, max(1.0, math.sqrt(4500.0 / span_km)))
    scale = width / MAP_WIDTH
    out = [f'<svg viewBox="0 0 {width:.0f} {proj.height:.0f}" xmlns="http://www.w3.org/2000/svg"'
           ' role="img" aria-label="Network map">',
           f'<defs><clipPath id="frame"><rect width="{width:.0f}" height="{proj.height:.0f}"/>'
           '</clipPath></defs><g clip-path="url(#frame)">']
    zmax = max(num(shared.get("zoneMax")), 1e-9)
    out.append('<g stroke="#ffffff" stroke-width="0.4">')
    for row in zone_payloads[0][1]["rows"]:
        z = shared["zones"][row[0]]
        x, y = proj(z[3], z[4])
        r = max(1.3, 13.0 * math.sqrt(max(row[1], 0.0) / zmax)) * scale * zoom
        op = 0.6 if row[6] == "served" else 0.85
        out.append(f'<circle cx="{x}" cy="{y}" r="{r:.1f}" fill="{ZONE_COLOURS[row[6]]}" '
                   f'fill-opacity="{op}"/>')
    out.append("</g>")
    for s in _state_labels(result):
        x, y = proj(*s["ll"])
        out.append(f'<text x="{x}" y="{y}" font-size="{11 * scale:.1f}" fill="#7a8691" '
                   'font-weight="bold" text-anchor="middle" paint-order="stroke" '
                   f'stroke="#ffffff" stroke-width="2">{_esc(s["t"])}</text>')
    out.append('<g fill="none" stroke-linecap="round">')
    for rows in [fac["links"], *lanes.values()]:
        for lane in rows:
            (x1, y1), (x2, y2) = proj(*lane["pts"][0]), proj(*lane["pts"][1])
            dash = f' stroke-dasharray="{lane["dash"]}"' if lane.get("dash") else ""
            out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{lane["c"]}" '
                       f'stroke-width="{0.6 * lane["w"]:.2f}" stroke-opacity="'
                       f'{lane.get("o", 0.8)}"{dash}><title>{_esc(lane["tip"])}</title></line>')
    out.append("</g>")
    for site in [*[s for s in inactive if s["fill"] is None], *active]:
        x, y = proj(*site["ll"])
        fill = site["fill"] or "#ffffff"
        r = site["r"] * 0.8 * scale
        out.append(f'<circle cx="{x}" cy="{y}" r="{r:.1f}" fill="{fill}" stroke="'
                   f'{site["stroke"]}" stroke-width="1.1"><title>{_esc(site["tip"])}</title>'
                   "</circle>")
    for h in fac["hubs"]:
        if h["icon"] == "hub":
            x, y = proj(*h["ll"])
            out.append(_shape("square", x, y, HUB_COLOUR, "#ffffff", 4.2 * scale))
    for p in fac["partners"]:
        if p["icon"] == "partner":
            x, y = proj(*p["ll"])
            out.append(_shape("diamond", x, y, PARTNER_COLOUR, "#ffffff", 4.2 * scale))
    for p in fac["plants"]:
        x, y = proj(*p["ll"])
        out.append(_shape("triangle", x, y, PLANT_COLOUR, "#ffffff", 5.0 * scale))
    out.append("</g></svg>")
    return "".join(out)


def _legend(result: Results, reach: float) -> str:
    def dot(colour: str, stroke: str = "#ffffff") -> str:
        return (f'<svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="{colour}" '
                f'stroke="{stroke}" stroke-width="1.2"/></svg>')

    def line(colour: str, dash: str | None = None) -> str:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        return (f'<svg width="26" height="8"><line x1="1" y1="4" x2="25" y2="4" '
                f'stroke="{colour}" stroke-width="3"{d}/></svg>')

    items = [
        (dot(ZONE_COLOURS["served"]), f"zone {ZONE_LABELS['served']} ({reach:,.0f} km)"),
        (dot(ZONE_COLOURS["beyond"]), "zone mostly served beyond target"),
        (dot(ZONE_COLOURS["unserved"]), "zone \u2265 10 % unserved"),
    ]
    for decision in ("kept", "opened", "closed", "not chosen"):
        fill, stroke = SITE_STYLES[decision]
        items.append((dot(fill or "#ffffff", stroke if fill is None else "#555555"),
                      DECISION_LABELS[decision].lower()))
    items += [
        (f'<svg width="12" height="12"><rect x="1" y="1" width="10" height="10" '
         f'fill="{HUB_COLOUR}"/></svg>', "3PL hub"),
        (f'<svg width="12" height="12"><path d="M6 0L12 6L6 12L0 6Z" fill="{PARTNER_COLOUR}"/>'
         "</svg>", "cold-storage partner"),
        (f'<svg width="12" height="12"><path d="M6 0L12 11L0 11Z" fill="{PLANT_COLOUR}"/>'
         "</svg>", "plant"),
    ]
    classes = []
    for p in table(result, "products").to_dict("records"):
        cls = text(p.get("temperature_class"))
        if cls not in classes:
            classes.append(cls)
    items += [(line(class_colour(c)), f"{c} lane") for c in classes]
    items += [(line("#555555", "6 4"), "air"), (line("#555555", "2 4"), "plant \u2192 hub")]
    return '<div class="legend">' + "".join(
        f"<span>{sym}{_esc(lbl)}</span>" for sym, lbl in items) + "</div>"


# ---------------------------------------------------------------- charts and tables

def cost_chart_svg(result: Results, width: float = 520.0) -> str:
    """Horizontal bars of annual cost by term (penalty terms grey: not cash)."""
    terms = cost_terms(result)
    terms = terms[(terms["kind"] != "revenue") & (terms["usd_per_year"].abs() > 0.5)]
    terms = terms.sort_values("usd_per_year", ascending=False)
    if terms.empty:
        return '<svg viewBox="0 0 300 30"><text x="4" y="20">No costs.</text></svg>'
    label_w, value_w, bar_h, gap = 150.0, 74.0, 16.0, 5.0
    top = max(float(terms["usd_per_year"].max()), 1e-9)
    height = len(terms) * (bar_h + gap) + 6
    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           'role="img" aria-label="Annual cost by term" font-size="11">']
    y = 3.0
    for term, kind, usd in zip(terms["term"], terms["kind"], terms["usd_per_year"],
                               strict=True):
        w = max(0.0, (width - label_w - value_w) * usd / top)
        colour = "#a9b1ba" if kind == "penalty" else "#0b2f5b"
        label = _label(term) + (" (penalty)" if kind == "penalty" else "")
        out.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end" '
                   f'fill="#1d2733">{_esc(label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                   f'fill="{colour}" rx="2"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" fill="#1d2733">'
                   f"{_esc(fmt_usd(usd))}</text>")
        y += bar_h + gap
    out.append("</svg>")
    return "".join(out)


def _kpi_tiles(result: Results) -> str:
    k = kpi_values(result)
    reach = within_km(result)
    terms = cost_terms(result)
    cash = float(terms.loc[terms["kind"] == "cost", "usd_per_year"].sum()) if len(terms) else 0.0
    margin = margin_lines(result)[-1][1]
    sites = table(result, "sites")
    decisions = sites["decision"].map(text).value_counts() if "decision" in sites.columns \
        else pd.Series(dtype=int)
    demand = k.get("patients_demand", 0.0)
    unserved = k.get("patients_unserved", 0.0)
    tiles = [
        (fmt_int(k.get("patients_served", 0.0)),
         f"patients/yr served of {fmt_int(demand)} ({k.get('pct_served', 0.0):.1f} %)", False),
        (fmt_num(unserved), "patients/yr unserved", unserved > 0.5),
        (f"{k.get('pct_within_travel_target', 0.0):.1f} %",
         f"of served within {reach:,.0f} km (mean {fmt_num(k.get('mean_travel_km', 0.0))} km)",
         False),
        (fmt_int(k.get("sites_active", 0.0)),
         f"treatment sites active: {int(decisions.get('kept', 0))} kept, "
         f"{int(decisions.get('opened', 0))} new, {int(decisions.get('closed', 0))} closed",
         False),
        (fmt_int(k.get("hubs_active", 0.0)), "3PL hubs active", False),
        (fmt_int(k.get("partners_active", 0.0)),
         f"cold-storage partners active ({fmt_int(k.get('partner_links', 0.0))} site links)",
         False),
        (fmt_usd(cash), f"annual network cost (objective {fmt_usd(k.get('annual_cost_usd', 0))}"
                        " incl. unserved penalty)", False),
        (fmt_usd(margin), "annual margin on served patients", margin < 0),
    ]
    return '<section class="kpis">' + "".join(
        f'<div class="kpi{" warn" if warn else ""}"><div class="v">{_esc(v)}</div>'
        f'<div class="l">{_esc(lbl)}</div></div>' for v, lbl, warn in tiles) + "</section>"


def _margin_table(result: Results) -> str:
    lines = margin_lines(result)
    terms = cost_terms(result)
    rows = []
    for term, usd in lines[:-1]:
        label = {"revenue": "Revenue (served patients \u00d7 doses \u00d7 price)",
                 "cogs": "Cost of goods"}.get(term, _label(term))
        rows.append(f"<tr><td>{_esc(label)}</td><td class='n'>{_esc(fmt_usd(usd))}</td></tr>")
    rows.append(f"<tr class='total'><td>Margin</td><td class='n'>"
                f"{_esc(fmt_usd(lines[-1][1]))}</td></tr>")
    for term, usd in zip(terms["term"], terms["usd_per_year"], strict=True):
        if term in ("unserved_penalty", "elastic_unserved"):
            rows.append(f"<tr class='note'><td>{_esc(_label(term))}: lost margin priced in the "
                        f"objective, not cash</td><td class='n'>{_esc(fmt_usd(usd))}</td></tr>")
    total = table(result, "costs")
    if {"term", "usd_per_year"} <= set(total.columns):
        t = total.loc[total["term"].map(text) == "total", "usd_per_year"]
        if len(t):
            rows.append(f"<tr class='note'><td>Objective (model total)</td><td class='n'>"
                        f"{_esc(fmt_usd(num(t.iloc[0])))}</td></tr>")
    return ("<table><thead><tr><th>Margin by term</th><th class='n'>USD/yr</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _sites_by_state(result: Results) -> str:
    sites = table(result, "sites")
    if not {"state", "decision"} <= set(sites.columns):
        return "<p>No site table.</p>"
    s = sites.copy()
    s["state"] = s["state"].map(text)
    s["decision"] = s["decision"].map(text)
    s["is_active"] = [truthy(v) for v in s.get("active", s["decision"].isin(["kept", "opened"]))]
    s["pat"] = [num(v) for v in s.get("patients_per_year", pd.Series(0.0, s.index))]
    s["cap"] = [num(v) for v in s.get("capacity_patients_per_year", pd.Series(0.0, s.index))]
    rows = []
    for state, g in s.groupby("state", sort=True):
        act = g[g["is_active"]]
        closed = int((g["decision"] == "closed").sum())
        if act.empty and not closed:
            continue
        new = act[act["decision"] == "opened"]
        util = act["pat"].sum() / act["cap"].sum() if act["cap"].sum() > 0 else 0.0
        names = ", ".join(sorted(text(n) for n in new.get("name", new["state"])))
        rows.append((len(act), state, int((act["decision"] == "kept").sum()), len(new), closed,
                     act["pat"].sum(), util, names))
    rows.sort(key=lambda r: (-r[0], r[1]))
    body = "".join(
        f"<tr><td>{_esc(st)}</td><td class='n'>{n}</td><td class='n'>{kept}</td>"
        f"<td class='n'>{new}</td><td class='n'>{closed}</td>"
        f"<td class='n'>{_esc(fmt_num(pat))}</td><td class='n'>{100 * util:.0f} %</td>"
        f"<td class='names'>{_esc(names)}</td></tr>"
        for n, st, kept, new, closed, pat, util, names in rows)
    tot = [sum(r[i] for r in rows) for i in (0, 2, 3, 4, 5)]
    body += (f"<tr class='total'><td>Total</td><td class='n'>{tot[0]}</td><td class='n'>{tot[1]}"
             f"</td><td class='n'>{tot[2]}</td><td class='n'>{tot[3]}</td><td class='n'>"
             f"{_esc(fmt_num(tot[4]))}</td><td></td><td></td></tr>")
    return ("<table><thead><tr><th>State</th><th class='n'>Active</th><th class='n'>Kept</th>"
            "<th class='n'>New</th><th class='n'>Closed</th><th class='n'>Patients/yr</th>"
            "<th class='n'>Utilisation</th><th>Newly activated sites</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _unserved_table(result: Results) -> str:
    u = table(result, "unserved")
    if u.empty or not {"product_id", "patients_unserved"} <= set(u.columns):
        return "<p>Every patient in scope is served.</p>"
    names = product_names(result)
    u = u.assign(product=u["product_id"].map(lambda p: names.get(text(p), text(p))),
                 reason=u.get("reason", pd.Series("", u.index)).map(text),
                 pat=u["patients_unserved"].map(num))
    g = u.groupby(["product", "reason"], sort=False).agg(pat=("pat", "sum"),
                                                         zones=("pat", "size")).reset_index()
    g = g.sort_values("pat", ascending=False)
    shown = g.head(12)
    body = "".join(f"<tr><td>{_esc(r.product)}</td><td>{_esc(r.reason)}</td>"
                   f"<td class='n'>{_esc(fmt_num(r.pat))}</td><td class='n'>{r.zones}</td></tr>"
                   for r in shown.itertuples())
    if len(g) > len(shown):
        body += (f"<tr class='note'><td colspan='2'>{len(g) - len(shown)} smaller groups</td>"
                 f"<td class='n'>{_esc(fmt_num(g['pat'].iloc[12:].sum()))}</td><td></td></tr>")
    return ("<table><thead><tr><th>Product</th><th>Reason</th><th class='n'>Patients/yr</th>"
            f"<th class='n'>Zones</th></tr></thead><tbody>{body}</tbody></table>")


def _settings_block(result: Results) -> str:
    st: dict[str, Any] = result.summary.get("settings") or {}
    svc = st.get("service") or {}
    sites = st.get("sites") or {}
    hubs = st.get("hubs") or {}
    partners = st.get("partners") or {}
    kols = st.get("kols") or {}
    agg = st.get("aggregation") or {}
    solver = st.get("solver") or {}

    def v(value: object, unit: str = "") -> str:
        if value is None or value == [] or value == "":
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return f"{len(value)} listed"
        return f"{value}{unit}"

    gap = result.summary.get("gap")
    items = [
        ("Objective", "minimise annual cost" if st.get("objective") == "cost"
         else "maximise annual margin" if st.get("objective") == "margin"
         else v(st.get("objective"))),
        ("Travel target", f"{num(svc.get('within_km'), 250):,.0f} km patient to site"),
        ("Min. share within target", f"{100 * num(svc.get('min_share')):.0f} %"),
        ("Unserved patients allowed", v(svc.get("allow_unserved"))
         + " (at the product's penalty)"),
        ("Patient travel support", f"${num(svc.get('patient_travel_usd_per_km')):.2f}/km"),
        ("Max vein-to-vein", v(svc.get("max_vein_to_vein_days"), " days")),
        ("Existing sites", v(sites.get("existing"))),
        ("Sites max / min active", f"{v(sites.get('max_active'))} / {v(sites.get('min_active'))}"),
        ("Sites forced open", v(sites.get("lock_open"))),
        ("One-off costs spread over", v(sites.get("amortisation_years"), " years")),
        ("Hubs max / min active", f"{v(hubs.get('max_active'))} / {v(hubs.get('min_active'))}"),
        ("Partners max / min active",
         f"{v(partners.get('max_active'))} / {v(partners.get('min_active'))}"),
        ("KOL policy", v(kols.get("mode")) + (f" (min coverage {num(kols.get('min_coverage')):.0%})"
                                              if kols.get("mode") == "coverage" else "")),
        ("Demand scale", v(st.get("demand_scale"))),
        ("Fixed-cost budget", fmt_usd(num(st.get("budget_fixed_usd")))
         if st.get("budget_fixed_usd") is not None else "none"),
        ("Products in scope", v(st.get("products")) if st.get("products") else "all"),
        ("Zone aggregation", f"{num(agg.get('cluster_km')):g} km cells "
                             f"({v(result.summary.get('demand_points'))} demand points, error "
                             f"{num(result.summary.get('aggregation_error_km')):.1f} km)"),
        ("Nearest sites kept", v(agg.get("nearest_sites"))),
        ("Solver", f"{_solver_name(result.summary)}, limit {num(solver.get('time_limit')):g} s, "
                   f"target gap {100 * num(solver.get('mip_gap')):.2g} %"),
        ("Solve status", f"{text(result.summary.get('status'))}"
                         + (f", gap {100 * num(gap):.2f} %" if gap is not None else "")
                         + f", {num(result.summary.get('solve_seconds')):.0f} s"),
    ]
    return '<div class="settings">' + "".join(
        f"<div><b>{_esc(k)}:</b> {_esc(val)}</div>" for k, val in items) + "</div>"


def _solver_name(summary: dict) -> str:
    """The solver that ran and its version, e.g. Gurobi 13.0.3 (older result folders: HiGHS)."""
    name = str(summary.get("solver") or "highs")
    return f"{LABELS.get(name, name)} {summary.get('solver_version') or ''}".strip()


def _products_table(result: Results) -> str:
    p = table(result, "products")
    if "product_id" not in p.columns:
        return ""
    a = table(result, "assignments")
    u = table(result, "unserved")
    served = a.groupby(a["product_id"].map(text))["patients_per_year"].sum() \
        if {"product_id", "patients_per_year"} <= set(a.columns) else pd.Series(dtype=float)
    lost = u.groupby(u["product_id"].map(text))["patients_unserved"].sum() \
        if {"product_id", "patients_unserved"} <= set(u.columns) else pd.Series(dtype=float)
    body = []
    for r in p.to_dict("records"):
        pid = text(r.get("product_id"))
        s, x = num(served.get(pid, 0.0)), num(lost.get(pid, 0.0))
        body.append(
            f"<tr><td>{_esc(r.get('name') or pid)}</td><td>{_esc(r.get('modality'))}</td>"
            f"<td>{_esc(r.get('temperature_class'))}</td>"
            f"<td class='n'>{_esc(fmt_usd(num(r.get('price_usd_per_dose'))))}</td>"
            f"<td class='n'>{_esc(fmt_usd(num(r.get('cogs_usd_per_dose'))))}</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('doses_per_patient'))))}</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('shelf_life_hours'))))} h</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('handling_buffer_hours'))))} h</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('max_patient_travel_km'))))} km</td>"
            f"<td class='n'>{_esc(fmt_usd(num(r.get('penalty_usd_per_patient'))))}</td>"
            f"<td class='n'>{_esc(fmt_num(s))} / {_esc(fmt_num(s + x))}</td></tr>")
    return ("<table><thead><tr><th>Product</th><th>Modality</th><th>Temperature</th>"
            "<th class='n'>Price/dose</th><th class='n'>COGS/dose</th>"
            "<th class='n'>Doses/patient</th><th class='n'>Shelf life</th>"
            "<th class='n'>Buffer</th><th class='n'>Max travel</th>"
            "<th class='n'>Penalty/patient</th><th class='n'>Served / demand (pts/yr)</th>"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def render_report(result: Results, map_href: str | None = "map.html") -> str:
    """The one-pager as a self-contained HTML string."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    st = result.summary.get("settings") or {}
    model = text(result.summary.get("model") or st.get("name") or "model")
    description = text(st.get("description"))
    reach = within_km(result)
    link = (f' <a href="{_esc(map_href)}">Open the interactive map</a> for every figure by '
            "zone, site and lane." if map_href else "")
    timeline = timeline_section(result)  # "" unless the result has a launch timeline
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt report — {model}')}</title>",
        f"<style>\n{css}\n</style></head><body><main>",
        f"<header><h1>Network design \u2014 {_esc(model)}</h1>",
        f'<p class="sub">{_esc(description)}</p>' if description else "",
        "</header>",
        _kpi_tiles(result),
        '<h2>Network</h2><figure class="netmap">', static_map_svg(result),
        f"<figcaption>Zone circle area \u221d patients per year; site size \u221d patients "
        f"treated; lane width \u221d doses per year.{link}</figcaption>",
        _legend(result, reach), "</figure>",
        *([timeline] if timeline else []),
        '<div class="two"><div class="chart"><h2>Annual cost by term</h2>',
        cost_chart_svg(result),
        "</div><div><h2>Annual margin</h2>", _margin_table(result), "</div></div>",
        "<h2>Activated sites by state</h2>", _sites_by_state(result),
        "<h2>Unserved patients</h2>", _unserved_table(result),
        "<h2>Assumptions that drove the result</h2>", _settings_block(result),
        _products_table(result),
        "<footer>Written by netopt from the result tables (CSV) in this folder; every table "
        "is also in network.xlsx.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_report(result: Results, path: Path, map_href: str | None = "map.html") -> Path:
    """Write report.html (self-contained)."""
    path.write_text(render_report(result, map_href), encoding="utf-8")
    return path
