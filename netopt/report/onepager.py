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
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..results.tables import Results
from .basemap import region_of, state_outlines
from .common import (
    DECISION_LABELS,
    HUB_COLOUR,
    NETWORK_COST_LABEL,
    NO_TERMS,
    PARTNER_COLOUR,
    PENALTY_LABEL,
    PLANT_COLOUR,
    SITE_STYLES,
    ZONE_COLOURS,
    class_colour,
    class_label,
    cost_terms,
    depot_stock,
    fmt_int,
    fmt_num,
    fmt_usd,
    frame_bounds,
    headline_costs,
    kpi_values,
    network_cost_lines,
    num,
    ordering_parts,
    penalty_npv_usd,
    penalty_words,
    product_names,
    split_list,
    table,
    terms_unknown,
    text,
    truthy,
    within_km,
    yearly_cost,
)
from .maps import (
    TRUNK_DASH,
    ZONE_LABELS,
    _facility_payloads,
    _lane_payloads,
    _Lookup,
    _site_payloads,
    _zone_payloads,
    inset_regions,
)

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
        self.ox = self.oy = 0.0  # where an inset sits on the page

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = _albers(np.array([lat]), np.array([lon]), self.lon0)
        return (round(float(x[0] - self.x0) * self.k + self.dx + self.ox, 1),
                round(float(y[0] - self.y0) * self.k + self.margin + self.oy, 1))


class _Frames:
    """The main map and its insets (Alaska, Hawaii, Puerto Rico at the bottom left): a point
    is drawn by the inset of its region when there is one, else by the main map."""

    SHARE = {"AK": 0.2, "HI": 0.14, "PR": 0.1}

    def __init__(self, result: Results, bounds: list[list[float]], width: float) -> None:
        self.main = _Projector(bounds, width)
        self.height = self.main.height
        self.insets: dict[str, _Projector] = {}
        x = 4.0
        for reg in inset_regions(result, bounds):
            w = width * self.SHARE.get(reg["code"], 0.12)
            inset = _Projector(reg["bounds"], w)
            inset.height = min(inset.height, 0.62 * w)
            inset.ox, inset.oy = x, self.height - inset.height - 4
            self.insets[reg["code"]] = inset
            x += w + 6

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        region = region_of(lat, lon)
        proj = self.insets.get(region.code) if region else None
        if proj is not None and region is not None and region.code == "AK" and lon > 0:
            lon -= 360.0
        return (proj or self.main)(lat, lon)

    def outlines(self) -> str:
        """State outlines as SVG paths: land, borders and coast (clipped to each frame)."""
        out = ['<g fill="#fdfcf8" stroke="#a7b2bd" stroke-width="0.7" stroke-linejoin="round">']
        for code, _, rings in state_outlines(0.05):
            proj = self.insets.get(code, self.main)
            d = []
            for ring in rings:
                pts = [proj(la, lo) for la, lo in ring]
                d.append("M" + "L".join(f"{x:.0f} {y:.0f}" for x, y in pts) + "Z")
            clip = f' clip-path="url(#inset-{code})"' if code in self.insets else ""
            out.append(f'<path d="{"".join(d)}"{clip}/>')
        out.append("</g>")
        return "".join(out)

    def inset_boxes(self) -> tuple[str, str]:
        """(clip paths for <defs>, framed backgrounds drawn under each inset)."""
        defs, boxes = [], []
        for code, p in self.insets.items():
            rect = (f'x="{p.ox:.0f}" y="{p.oy:.0f}" width="{p.width:.0f}" '
                    f'height="{p.height:.0f}"')
            defs.append(f'<clipPath id="inset-{code}"><rect {rect}/></clipPath>')
            boxes.append(f'<rect {rect} fill="#dfe7ee" stroke="#7d8a97" stroke-width="1"/>')
        return "".join(defs), "".join(boxes)


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


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _grow(box: Box, by: float) -> Box:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _around(x: float, y: float, half: float) -> Box:
    return _grow((x, y, x, y), half)


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def static_map_svg(result: Results, width: float = MAP_WIDTH) -> str:
    """The network as inline SVG: state outlines, zones, supply lanes, sites, active hubs and
    partners (labelled), plants; Alaska, Hawaii and Puerto Rico in insets when used."""
    bounds = frame_bounds(result)
    if bounds is None:
        return '<svg viewBox="0 0 400 60"><text x="10" y="35">No locations to draw.</text></svg>'
    proj = _Frames(result, bounds, width)
    products = product_names(result)
    sites = _Lookup(table(result, "sites"), "site_id")
    hubs = _Lookup(table(result, "hubs"), "hub_id")
    partners = _Lookup(table(result, "partners"), "partner_id")
    plants = _Lookup(table(result, "plants"), "plant_id")
    reach = within_km(result)
    shared, zone_payloads = _zone_payloads(result, sites, products, reach)
    active, _ = _site_payloads(result, products, partners)
    lanes = _lane_payloads(result, products, plants, hubs, partners, sites)
    fac = _facility_payloads(result, products, sites, hubs, partners)

    # regional maps get bigger symbols: the same zone covers more of the page
    (s_lat, w_lon), (n_lat, e_lon) = bounds
    span_km = max(abs(e_lon - w_lon) * 111.0 * math.cos(math.radians((s_lat + n_lat) / 2)),
                  abs(n_lat - s_lat) * 111.0, 1.0)
    zoom = min(3.0, max(1.0, math.sqrt(4500.0 / span_km)))
    scale = width / MAP_WIDTH
    defs, boxes = proj.inset_boxes()
    out = [f'<svg viewBox="0 0 {width:.0f} {proj.height:.0f}" xmlns="http://www.w3.org/2000/svg"'
           ' role="img" aria-label="Network map">',
           f'<defs><clipPath id="frame"><rect width="{width:.0f}" height="{proj.height:.0f}"/>'
           f'</clipPath>{defs}</defs><g clip-path="url(#frame)">', boxes, proj.outlines()]
    zmax = max(num(shared.get("zoneMax")), 1e-9)
    out.append('<g stroke="#ffffff" stroke-width="0.4">')
    for row in zone_payloads[0][1]["rows"]:
        z = shared["zones"][row[0]]
        x, y = proj(z[3], z[4])
        r = max(1.3, 13.0 * math.sqrt(max(row[1], 0.0) / zmax)) * scale * zoom
        op = 0.6 if row[6] == "served" else 0.85
        out.append(f'<circle cx="{x}" cy="{y}" r="{r:.1f}" fill="{ZONE_COLOURS[row[6]]}" '
                   f'fill-opacity="{op}"/>')
    out.append('</g><g fill="none" stroke-linecap="round">')
    for rows in lanes.values():
        for lane in rows:
            if lane.get("dash") != TRUNK_DASH:
                continue  # supply lanes only: last miles would hide the sites
            (x1, y1), (x2, y2) = proj(*lane["pts"][0]), proj(*lane["pts"][1])
            out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{lane["c"]}" '
                       f'stroke-width="{0.6 * lane["w"]:.2f}" stroke-opacity="0.7" '
                       f'stroke-dasharray="{lane["dash"]}"><title>{_esc(lane["tip"])}</title>'
                       "</line>")
    out.append("</g>")
    symbols: list[Box] = []  # every symbol drawn: names keep clear of them
    out.append('<g class="symbols">')
    for site in active:
        x, y = proj(*site["ll"])
        r = site["r"] * 0.8 * scale
        out.append(f'<circle cx="{x}" cy="{y}" r="{r:.1f}" fill="{site["fill"] or "#ffffff"}" '
                   f'stroke="{site["stroke"]}" stroke-width="1.1"><title>{_esc(site["tip"])}'
                   "</title></circle>")
        symbols.append(_around(x, y, r + 0.55))  # the stroke is centred on the circle
    plants = []
    for p in fac["plants"]:
        x, y = proj(*p["ll"])
        plants.append(_shape("triangle", x, y, PLANT_COLOUR, "#ffffff", 5.0 * scale))
        symbols.append(_around(x, y, 5.0 * scale + 3.3))  # its apex and its mitred stroke
    shapes, names = _facility_marks(proj, fac, scale, symbols)
    # plants last: New Jersey's lie within 30 km of Newark's hub, whose square hid them
    out += [*shapes, *plants, "</g>", names, "</g></svg>"]
    return "".join(out)


def short_name(name: str) -> str:
    """A facility name for a map label: the part before a bracket, at most 32 characters."""
    base = name.split(" (")[0].strip() or name
    return base if len(base) <= 32 else base[:31] + "\u2026"


def _facility_marks(proj: _Frames, fac: dict[str, list[dict]], scale: float,
                    symbols: list[Box]) -> tuple[list[str], str]:
    """Active hubs (squares) and partners (diamonds), larger than sites, and the group of
    their name labels, which keep clear of every symbol in `symbols` and of these. Where
    names compete for room, they are placed by the payload's rank (maps._rank_names:
    partners, then hubs by yearly cost), as on the interactive map."""
    out: list[str] = []
    marks: list[tuple[float, float, float, str, str]] = []  # rank, x, y, name, short form
    size = 6.5 * scale
    for kind, rows, colour in (("square", fac["hubs"], HUB_COLOUR),
                               ("diamond", fac["partners"], PARTNER_COLOUR)):
        for row in rows:
            if not row.get("active"):
                continue
            x, y = proj(*row["ll"])
            out.append(_shape(kind, x, y, colour, "#ffffff", size))
            symbols.append(_around(x, y, size + 1.9))  # a diamond's tips and mitred stroke
            marks.append((row.get("rank", math.inf), x, y, short_name(row["name"]),
                          row.get("short") or ""))
    marks.sort(key=lambda mark: mark[0])
    # the inset frames as drawn (inset_boxes: whole units, a 1-unit stroke)
    panels = [(round(p.ox) - 0.5, round(p.oy) - 0.5, round(p.ox) + round(p.width) + 0.5,
               round(p.oy) + round(p.height) + 0.5) for p in proj.insets.values()]
    labels = place_labels([mark[1:] for mark in marks], proj.main.width, proj.height,
                          scale, symbols, panels, half=size + 1.9)
    if not labels:
        return out, ""
    return out, (f'<g class="names" font-size="{12 * scale:.1f}" font-weight="bold" '
                 'fill="#1d2733" paint-order="stroke" stroke="#ffffff" stroke-width="3" '
                 f'stroke-linejoin="round">{"".join(labels)}</g>')


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: Box, b: Box) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


#: sides a name may take beside its symbol, in order of preference (as on the Leaflet map)
LABEL_SIDES = ("right", "left", "above", "below", "above right", "below right", "above left",
               "below left")


#: advance widths of Helvetica / Arial bold (the page's font; Liberation Sans on Linux has
#: the same metrics) for printable ASCII from the space on, in thousandths of the font size
_BOLD_WIDTHS = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722,
    722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611,
    611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556,
    500, 389, 280, 389, 584)


def _text_width(name: str, scale: float) -> float:
    """Width of a bold 12-px label in the page's font (an em for anything outside ASCII, as
    wide as the widest letters)."""
    return 12.0 * scale * sum(
        _BOLD_WIDTHS[ord(c) - 32] if 32 <= ord(c) < 32 + len(_BOLD_WIDTHS) else 1000
        for c in name) / 1000


def _beside(side: str, own: Box, w: float, h: float, gap: float) -> Box:
    """The box of a w x h label on `side` of the symbol box `own`."""
    mid_x, mid_y = (own[0] + own[2] - w) / 2, (own[1] + own[3] - h) / 2
    right, left = own[2] + gap, own[0] - gap - w
    x0, y0 = {"right": (right, mid_y), "left": (left, mid_y),
              "above": (mid_x, own[1] - gap - h), "below": (mid_x, own[3] + gap),
              "above right": (right, own[1] - h), "below right": (right, own[3]),
              "above left": (left, own[1] - h), "below left": (left, own[3])}[side]
    return (x0, y0, x0 + w, y0 + h)


def place_labels(marks: list[tuple[float, float, str, str]], width: float, height: float,
                 scale: float, symbols: Sequence[Box] = (), panels: Sequence[Box] = (),
                 half: float = 8.0) -> list[str]:
    """Name labels beside their marks (symbols reaching `half` units around (x, y)) that never
    cover a symbol, another label or the edge of the map, nor cross an inset's frame (a label
    stays in the panel its mark is in): each tries the sides of LABEL_SIDES in turn. A name
    with no free place tries its short form (a hub's airport code) once every full name is
    placed; failing that it is left out - the tooltip and the table beside the map still name
    the facility. `marks` are (x, y, name, short name or "")."""
    # a line of the font as the browser boxes it (ascent 0.905, descent 0.212 of 12 px)
    line_h, descent, gap = 13.5 * scale, 2.6 * scale, 2.0 * scale
    halo = 1.0  # the white outline around each name (stroke-width 3) less its faint edge
    taken = list(symbols)

    def place(x: float, y: float, name: str) -> str | None:
        here = (x, y, x, y)
        home = next((p for p in panels if _inside(here, p)), None)
        # a symbol drawn at the mark (a site at a hub's airport) counts as part of its own:
        # the name goes beside both
        under = [b for b in taken if _inside(here, b)]
        clear = [b for b in taken if not _inside(here, b)]
        own = _union([_around(x, y, half), *under])
        for side in LABEL_SIDES:
            box = _beside(side, own, _text_width(name, scale), line_h, gap)
            if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
                continue
            if home is not None and not _inside(box, home):
                continue
            padded = _grow(box, halo)
            if any(_overlaps(padded, b) for b in clear) or any(
                    _overlaps(padded, p) for p in panels if p is not home):
                continue
            taken.append(box)
            # anchored on the side facing the symbol: a name wider than estimated grows away
            anchor, tx = (("end", box[2]) if side.endswith("left") else
                          ("start", box[0]) if side.endswith("right") else
                          ("middle", (box[0] + box[2]) / 2))
            return (f'<text x="{tx:.1f}" y="{box[3] - descent:.1f}" '
                    f'text-anchor="{anchor}">{_esc(name)}</text>')
        return None

    full = [place(x, y, name) for x, y, name, _ in marks]
    short = [label or (place(x, y, brief) if brief else None)
             for label, (x, y, _, brief) in zip(full, marks, strict=True)]
    return [label for label in short if label]


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
    for decision in ("kept", "opened"):
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
    items += [(line(class_colour(c), "2 4"), f"{class_label(c, with_range=False)} lane")
              for c in classes]
    return '<div class="legend">' + "".join(
        f"<span>{sym}{_esc(lbl)}</span>" for sym, lbl in items) + "</div>"


# ---------------------------------------------------------------- charts and tables

def cost_chart_svg(result: Results, width: float = 520.0) -> str:
    """Bars of the network cost by term, ordering and inventory in its parts (savings in
    green, drawn leftwards), a total bar that is their sum, and the unserved penalty apart in
    grey (not cash, not in the total)."""
    lines = network_cost_lines(result)
    cost = headline_costs(result)
    if not lines:
        return '<svg viewBox="0 0 300 30"><text x="4" y="20">No costs.</text></svg>'
    rows = [(label, usd, kind) for label, usd, kind in lines]
    rows.append((NETWORK_COST_LABEL + " (sum of the above)", cost["network_cost_usd"], "total"))
    if cost["unserved_penalty_usd"] >= 0.5:
        rows.append((PENALTY_LABEL + " (not cash)", cost["unserved_penalty_usd"], "penalty"))
    label_w, value_w, bar_h, gap = 200.0, 64.0, 12.0, 3.0
    neg = max([-u for _, u, k in rows if u < 0] + [0.0])
    top = max(max(abs(u) for _, u, _ in rows), 1e-9)
    span = width - label_w - value_w
    zero = label_w + span * neg / (top + neg)
    k = span / (top + neg)
    height = len(rows) * (bar_h + gap) + 8
    colours = {"cost": "#0b2f5b", "saving": "#1a9850", "total": "#c75b12", "penalty": "#a9b1ba"}
    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           'role="img" aria-label="Annual network cost by term" font-size="10.5">']
    y = 3.0
    for label, usd, kind in rows:
        if kind in ("total", "penalty"):
            out.append(f'<line x1="0" x2="{width:.0f}" y1="{y - 1.5:.1f}" y2="{y - 1.5:.1f}" '
                       'stroke="#d9dee4"/>')
        w = abs(usd) * k
        x = zero if usd >= 0 else zero - w
        weight = ' font-weight="bold"' if kind == "total" else ""
        out.append(f'<text x="{label_w - 6}" y="{y + bar_h - 2.5}" text-anchor="end" '
                   f'fill="#1d2733"{weight}>{_esc(label)}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar_h}" '
                   f'fill="{colours[kind]}" rx="1.5"><title>{_esc(label)}: '
                   f'{_esc(fmt_usd(usd))}/yr</title></rect>')
        tx = (zero + w + 4) if usd >= 0 else (zero + 4)
        out.append(f'<text x="{tx:.1f}" y="{y + bar_h - 2.5}" fill="#1d2733"{weight}>'
                   f"{_esc(fmt_usd(usd))}</text>")
        y += bar_h + gap
    out.append("</svg>")
    return "".join(out)


def quality_note(result: Results) -> str:
    """How far the network can be from the best one, in money and per cent, in one sentence.
    An executive reads the headline cost as the answer; whether it is proven, and how much a
    scenario must differ before the difference means anything, belongs beside it."""
    s = result.summary
    objective, bound, gap = s.get("objective_usd", s.get("objective")), \
        s.get("bound_usd", s.get("bound")), s.get("gap")
    if objective is None or bound is None or gap is None or not math.isfinite(num(gap, math.nan)):
        return ('<p class="quality warn"><b>Not proven:</b> the solver gave no bound, so how '
                "far this network is from the best one is unknown.</p>")
    margin = text(s.get("objective_sense")) == "margin"
    best = "highest-margin network" if margin else "least-cost network"
    timeline = (s.get("settings") or {}).get("timeline") or {}
    if num(timeline.get("periods"), 1.0) > 1:  # the objective is the plan's present value
        best = ("highest-margin plan (net present value over the horizon)" if margin
                else "least-cost plan (net present cost over the horizon)")
    slack = fmt_usd(abs(num(objective) - num(bound)))
    share = f"{100 * num(gap):.1f} %" if num(gap) >= 0.0005 else f"{100 * num(gap):.2f} %"
    distance = f"at most {slack} ({share}) {'below' if margin else 'above'} the {best}"
    if text(s.get("status")) == "optimal":
        return (f'<p class="quality"><b>Optimal</b> within the solver\'s tolerance: '
                f"{distance}.</p>")
    seconds = num(s.get("solve_seconds"), math.nan)
    found = f"in {seconds:,.0f} s " if math.isfinite(seconds) else ""
    clock = [text(v) for v in s.get("stopped_by_clock") or [] if text(v)]  # a JSON list
    why = (f" The time limit stopped the search ({', '.join(clock)}): a longer one may find a "
           f"{'better' if margin else 'cheaper'} network." if clock else "")
    busy = text(s.get("cores_not_free"))  # the solve shared the machine with other work
    if busy:
        why += (f" The machine was busy during the solve ({_esc(busy)}): on free cores the "
                f"same run may find a {'better' if margin else 'cheaper'} network.")
    return (f'<p class="quality warn"><b>Not proven optimal:</b> the best network found '
            f"{found}is {distance}. Scenarios that differ by less than that cannot be told "
            f"apart.{why}</p>")


def _kpi_tiles(result: Results, finance_href: str | None = None) -> str:
    """The headline tiles; the expiry and working-capital tiles link the finance page when
    the folder has one."""
    k = kpi_values(result)
    cost = headline_costs(result)
    reach = within_km(result)
    sites = table(result, "sites")
    decisions = sites["decision"].map(text).value_counts() if "decision" in sites.columns \
        else pd.Series(dtype=int)
    demand = k.get("patients_demand", 0.0)
    served = k.get("patients_served", 0.0)
    within = served * k.get("pct_within_travel_target", 0.0) / 100
    penalty = cost["unserved_penalty_usd"]
    expired = k.get("expired_doses_per_year", 0.0)
    writeoff = k.get("manufacturer_writeoff_usd", 0.0)
    wc = sum(k.get(f"working_capital_{h}_usd", 0.0) for h in ("manufacturer", "distributor",
                                                                "site"))
    fin = table(result, "finance")
    expired_usd = float(sum(num(v) for v in fin["expired_usd"])) if "expired_usd" in \
        fin.columns else 0.0
    wc_words = _working_capital_words(fin, k)
    tiles = [
        (fmt_usd(cost["network_cost_usd"]), "network cost per year (cash)"
         + (f"; plus {fmt_usd(penalty)} unserved penalty, not cash" if penalty >= 0.5 else ""),
         False, "headline"),
        (f"{fmt_int(served)} of {fmt_int(demand)}",
         f"patients/yr served ({k.get('pct_served', 0.0):.1f} %); {fmt_int(within)} within "
         f"{reach:,.0f} km", k.get("patients_unserved", 0.0) > 0.5, ""),
        (fmt_int(k.get("sites_active", 0.0)),
         f"treatment sites: {int(decisions.get('kept', 0))} kept, "
         f"{int(decisions.get('opened', 0))} new, {int(decisions.get('closed', 0))} closed"
         + _idle_words(sites), False, ""),
        (f"{fmt_int(k.get('hubs_active', 0.0))} \u00b7 {fmt_int(k.get('partners_active', 0.0))}",
         "3PL hubs \u00b7 cold-storage partners active", False, ""),
        (f"{fmt_num(expired)} doses", f"expire per year ({fmt_usd(expired_usd)} at cost of "
         f"goods); credits + write-offs {fmt_usd(writeoff)}/yr", False,
         "finance"),
        ("\u2014", f"working capital: {NO_TERMS}", False, "finance") if terms_unknown(fin)
        else (fmt_usd(wc), wc_words, False, "finance"),
    ]
    more = (f' <a href="{_esc(finance_href)}">Finance \u203a</a>' if finance_href else "")
    return '<section class="kpis">' + "".join(
        f'<div class="kpi{" warn" if warn else ""} {cls}"><div class="v">{_esc(v)}</div>'
        f'<div class="l">{_esc(lbl)}{more if cls == "finance" else ""}</div></div>'
        for v, lbl, warn, cls in tiles) + "</section>"


def _idle_words(sites: pd.DataFrame) -> str:
    """'; 7 treat no one': active sites without patients (existing sites kept open by
    `sites.existing: locked`, or opened for a KOL or a limit), which an executive would
    otherwise read as treating."""
    if not {"active", "patients_per_year"} <= set(sites.columns):
        return ""
    idle = sum(1 for a, p in zip(sites["active"], sites["patients_per_year"], strict=True)
               if truthy(a) and num(p) <= 1e-6)
    return f"; {idle} treat no one" if idle else ""


def _working_capital_words(fin: pd.DataFrame, k: dict[str, float]) -> str:
    """What the working-capital tile holds, in its parts: the manufacturer's receivables
    under the payment terms are most of it (a just-in-time dose is billed too), its own stock
    is usually a small part, and sites count only stock beyond what they owe."""
    stock = 0.0
    if {"title_holder", "avg_inventory_value_usd"} <= set(fin.columns):
        own = fin["title_holder"].map(text) == "manufacturer"
        stock = float(sum(num(v) for v in fin.loc[own, "avg_inventory_value_usd"]))
    receivables = max(k.get("working_capital_manufacturer_usd", 0.0) - stock, 0.0)
    at_sites = k.get("working_capital_site_usd", 0.0)
    at_distributors = k.get("working_capital_distributor_usd", 0.0)
    words = f"working capital: {fmt_usd(receivables)} receivables, {fmt_usd(stock)} stock"
    if at_distributors >= 0.5:  # the stock a distributor owns at hubs and partners
        words += f", {fmt_usd(at_distributors)} at distributors"
    return words + (f", {fmt_usd(at_sites)} at sites" if at_sites >= 0.5 else "")


def top_unserved(result: Results, n: int = 4) -> str:
    """The states with the most unserved patients, with the main reason in each."""
    u = table(result, "unserved")
    if u.empty or not {"state", "patients_unserved"} <= set(u.columns):
        return "<p>Every patient in scope is served.</p>"
    u = u.assign(state=u["state"].map(text), pat=u["patients_unserved"].map(num),
                 reason=u.get("reason", pd.Series("", u.index)).map(text))
    by_state = u.groupby("state")["pat"].sum().sort_values(ascending=False)
    names = product_names(result)
    rows = []
    for state, pat in by_state.head(n).items():
        g = u[u["state"] == state]
        main = g.groupby("reason")["pat"].sum().sort_values(ascending=False)
        prods = g.groupby("product_id")["pat"].sum().sort_values(ascending=False)
        prod = names.get(text(prods.index[0]), text(prods.index[0])) + (
            f" and {len(prods) - 1} more" if len(prods) > 1 else "")
        reason = text(main.index[0]) if len(main) else ""
        rows.append(f"<tr><td>{_esc(state)}</td><td class='n'>{_esc(fmt_num(pat))}</td>"
                    f"<td class='why'><div><b>{_esc(prod)}</b>: {_esc(_first_clause(reason))}"
                    "</div></td>"
                    "</tr>")
    rest = float(by_state.iloc[n:].sum())
    if rest > 0:
        more = len(by_state) - n
        rows.append(f"<tr class='note'><td>{more} more state{'s' if more > 1 else ''}</td>"
                    f"<td class='n'>{_esc(fmt_num(rest))}</td><td>see details</td></tr>")
    return ("<table class='compact'><thead><tr><th>State</th><th class='n'>Patients/yr</th>"
            f"<th>Product and main reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _first_clause(reason: str) -> str:
    """The part of a reason before its colon: short enough for the one-pager."""
    head = reason.split(": ")[0]
    if len(head) <= 140:
        return head
    cut = head[:139].rsplit(" ", 1)[0].rstrip(" ,;(")  # at a word, not inside one
    return cut + " \u2026"


#: hubs and partners the one-pager lists by name (the costliest); the rest in one line
FACILITY_ROWS = 6
#: of those rows, at most this many are kept for partners when not all fit
PARTNER_ROWS = 2
#: a partner's role on the page, before what it holds
PARTNER_ROLE = "Partner"
#: characters of names the line of the other hubs and partners holds (about four lines on
#: paper): at 440 a short run's page (19 hubs, a partner's two-line name, three-line unserved
#: rows, the banner's longest form) spilled its footer onto a second sheet
MORE_CHARS = 330


def _more_names(rest: list[tuple[float, str, str, int]], limit: int = MORE_CHARS) -> str:
    """'13 more: A, B, C' - the names that fit in `limit` characters, then 'and K others'."""
    shown: list[str] = []
    for _, name, _, _ in rest:
        if len(", ".join([*shown, name])) > limit:
            break
        shown.append(name)
    left = len(rest) - len(shown)
    return (f"{len(rest)} more: " + ", ".join(shown)
            + (f" and {left} others (all in details)" if left else ""))


def _active_facilities(result: Results) -> list[tuple[float, str, str, frozenset[str]]]:
    """(USD a year, name, role, sites served) of every active hub and partner."""
    rows = []
    stock = depot_stock(result)
    for kind, role, key in (("hubs", "3PL hub", "hub_id"), ("partners", PARTNER_ROLE,
                                                           "partner_id")):
        t = table(result, kind)
        if "active" not in t.columns:
            continue
        for r in t[[truthy(v) for v in t["active"]]].to_dict("records"):
            served = split_list(r.get("sites_served") or r.get("sites_linked"))
            held = stock.get(text(r.get(key)))
            rows.append((yearly_cost(r, kind), text(r.get("name")),
                         role + (f": {held}" if held else ""), frozenset(served)))
    return rows


def facility_list(result: Results, n: int = FACILITY_ROWS) -> str:
    """Active hubs and partners by name under their heading, with yearly cost and number of
    sites served: the `n` costliest in rows, the rest named in one line, so the page stays
    one page (details has every figure). Partners cost less than hubs and a network has few:
    up to PARTNER_ROWS of the rows are kept for them, so a crowded page still shows them."""
    rows = _active_facilities(result)
    if not rows:
        return ("<h2>Active hubs and partners</h2>"
                "<p>No hub or partner is active: sites are supplied from the plants.</p>")
    rows.sort(key=lambda r: -r[0])
    # a partner's role may name the stock it holds ("Partner: allo_vst stock for 2 sites")
    partners = [i for i, r in enumerate(rows) if r[2].split(":")[0] == PARTNER_ROLE]
    kept = set(partners[:min(PARTNER_ROWS, n)] if len(rows) > n else [])
    picked = kept | set([i for i in range(len(rows)) if i not in kept][:n - len(kept)])
    shown = [r for i, r in enumerate(rows) if i in picked]
    rest = [r for i, r in enumerate(rows) if i not in picked]
    head = "<h2>Active hubs and partners</h2>"
    if rest and kept <= set(range(n)):  # the partners are among the costliest anyway
        head = f"<h2>Active hubs and partners: the {n} costliest of {len(rows)}</h2>"
    elif rest:  # a partner in the rows below costlier hubs: not "the costliest" any more
        head = f"<h2>Active hubs and partners: {len(rows)}, {len(shown)} of them in rows</h2>"
    body = [f"<tr><td>{_esc(name)}</td><td>{role}</td><td class='n'>{_esc(fmt_usd(cost))}</td>"
            f"<td class='n'>{len(sites)}</td></tr>" for cost, name, role, sites in shown]
    if rest:
        body.append(f"<tr class='note'><td colspan='2'>{_esc(_more_names(rest))}</td>"
                    f"<td class='n'>{_esc(fmt_usd(sum(r[0] for r in rest)))}</td>"
                    # a site two of them serve is one site
                    f"<td class='n'>{len(frozenset().union(*(r[3] for r in rest)))}</td></tr>")
    return (f"{head}<table class='compact'><thead><tr><th>Active hub or partner</th>"
            "<th>Role</th><th class='n'>Cost/yr</th><th class='n'>Sites</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


#: pages analyses add to a result folder (path in it, link text): the one-pager links each
#: one the folder holds
ANALYSIS_PAGES = (("finance.html", "Finance"), ("resilience.html", "Single points of failure"),
                  ("simulation/simulation.html", "Simulation"))


def analysis_pages(*folders: Path) -> list[str]:
    """The analysis pages (ANALYSIS_PAGES paths) present in any of `folders`."""
    return [rel for rel, _ in ANALYSIS_PAGES
            if any((Path(f) / rel).is_file() for f in folders)]


def render_report(result: Results, map_href: str | None = "map.html",
                  details_href: str | None = "details.html",
                  pages: Sequence[str] = ()) -> str:
    """The one-pager as a self-contained HTML string (prints on one US Letter page); `pages`
    are the analysis pages beside it (see ANALYSIS_PAGES), linked in its header."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    st = result.summary.get("settings") or {}
    model = text(result.summary.get("model") or st.get("name") or "model")
    description = text(st.get("description"))
    reach = within_km(result)
    finance_href = "finance.html" if "finance.html" in pages else None
    links = " \u00b7 ".join(f'<a href="{_esc(h)}">{label}</a>' for h, label in (
        (map_href, "Interactive map"), (details_href, "Details (all tables)"),
        *((rel, label) for rel, label in ANALYSIS_PAGES if rel in pages)) if h)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt report — {model}')}</title>",
        f"<style>\n{css}\n</style></head><body class='onepager'><main>",
        f"<header><h1>Network design \u2014 {_esc(model)}</h1>",
        f'<p class="sub">{_esc(description)}{" " if description else ""}{links}</p>',
        quality_note(result), plan_note(result), served_nowhere(result), "</header>",
        _kpi_tiles(result, finance_href),
        '<figure class="netmap">', static_map_svg(result), _legend(result, reach),
        "</figure>",
        '<div class="two"><div class="chart"><h2>Annual network cost</h2>',
        cost_chart_svg(result), _ordering_note(result),
        "</div><div><h2>Where patients are not served</h2>", top_unserved(result),
        facility_list(result), "</div></div>",
        f"<footer>Zone circle area \u221d patients per year; site size \u221d patients treated."
        f" Travel target {reach:,.0f} km. Written by netopt from the CSV tables in this folder "
        "(also in network.xlsx).</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def plan_note(result: Results) -> str:
    """What the objective is when it is not the year's cost the tiles show: a launch plan's
    net present value (or cost) over its horizon, with the patients served over the
    roll-out, or a year's margin. Without it a timeline's one-pager read as its last period
    alone, and a margin run showed no margin."""
    s = result.summary
    margin = text(s.get("objective_sense")) == "margin"
    objective = num(s.get("objective_usd", s.get("objective")), math.nan)
    timeline = s.get("timeline") or {}
    if num(timeline.get("periods"), 1.0) > 1:
        # npv_usd is the plan's discounted cash flow: minus its net present cost when the
        # objective is cost, its net present value when it is margin; the objective adds the
        # discounted unserved penalty (penalty_npv_usd) to it
        npv = num(timeline.get("npv_usd"), -objective)
        penalty = penalty_words(penalty_npv_usd(result), num(timeline.get("patients_unserved")))
        served, unserved = num(timeline.get("patients_served")), \
            num(timeline.get("patients_unserved"))
        rate = num(timeline.get("discount_rate"))
        value = (f"net present value {fmt_usd(npv)}" if margin
                 else f"net present cost {fmt_usd(-npv)}")
        months, start = num(timeline.get("period_months")), text(timeline.get("start"))
        span = (f" \u00d7 {fmt_int(months)} months" if months > 0 else " periods") + (
            f" from {_esc(start)}" if start else "")
        return (f'<p class="quality plan"><b>Launch plan</b>, '
                f"{fmt_int(num(timeline.get('periods')))}{span}: {value}, discounted at "
                f"{100 * rate:g} %/yr{_esc(penalty)}; "
                f"{fmt_int(served)} of {fmt_int(served + unserved)} patients served over the "
                "roll-out. The tiles and the map show the network at its end ("
                f"{_esc(timeline.get('last_period') or 'the last period')}); details has the "
                "plan period by period.</p>")
    if margin and math.isfinite(objective):
        return (f'<p class="quality plan"><b>Margin</b> (revenue less network cost and unserved '
                f"penalty): {fmt_usd(-objective)} a year. The tiles show the network's cost."
                "</p>")
    return ""


def served_nowhere(result: Results) -> str:
    """A line naming each product with patients in scope that no site treats, with its main
    cause: the state table below lists states, not products, so a whole therapy left out
    (every site's price ceiling under its price, say) was hidden behind 'and 1 more'."""
    u, a = table(result, "unserved"), table(result, "assignments")
    if u.empty or not {"product_id", "patients_unserved"} <= set(u.columns):
        return ""
    served = a.groupby(a["product_id"].map(text))["patients_per_year"].sum() \
        if {"product_id", "patients_per_year"} <= set(a.columns) else pd.Series(dtype=float)
    u = u.assign(product_id=u["product_id"].map(text), pat=u["patients_unserved"].map(num),
                 cause=u.get("reason", pd.Series("", u.index)).map(_cause))
    names = product_names(result)
    lines = []
    for pid, group in u.groupby("product_id", sort=True):
        lost = float(group["pat"].sum())
        if lost <= 0.05 or num(served.get(pid, 0.0)) > 1e-6:
            continue
        cause = group.groupby("cause")["pat"].sum().sort_values(ascending=False)
        lines.append(f"{names.get(pid, pid)}, {fmt_num(lost)} patients/yr"
                     + (f": {cause.index[0]}" if cause.index[0] else ""))
    if not lines:
        return ""
    return ('<p class="quality warn"><b>Served nowhere:</b> '
            + _esc("; ".join(lines)) + ".</p>")


def _cause(reason: object) -> str:
    """The cause in an unserved reason, without the counts that make one cause many texts:
    '27 site(s) within 800 km, none eligible: price above the site's price ceiling (27
    sites)' -> 'price above the site's price ceiling'."""
    words = text(reason)
    if "none eligible: " in words:
        words = words.split("none eligible: ", 1)[1]
    return re.sub(r"\s*\(\d+ sites?\)$", "", words).strip()


def _ordering_note(result: Results) -> str:
    """One sentence on what ordering and inventory costs and saves (details has each part)."""
    parts = ordering_parts(result)
    if not parts:
        return ""
    costs = [f"{label.lower()} {fmt_usd(usd)}" for part, label, usd, _ in parts
             if part not in ("shipping_saved", "tabulation")]
    saved = next((usd for part, _, usd, _ in parts if part == "shipping_saved"), 0.0)
    depots = "depot_stock" in set(cost_terms(result)["term"])
    text_ = ("Stock at sites and depots: " if depots else "Ordering and inventory: ") \
        + ", ".join(costs)
    if saved:
        text_ += (f"; stock saves {fmt_usd(-saved)} of per-patient shipping (green). Details "
                  "explains each part.")
    return f'<p class="note">{_esc(text_)}</p>'


def write_report(result: Results, path: Path, map_href: str | None = "map.html",
                 details_href: str | None = "details.html",
                 pages: Sequence[str] | None = None) -> Path:
    """Write report.html (self-contained). It links the analysis pages `pages` (default:
    those beside `path`; a report staged elsewhere before it moves in beside them is told)."""
    found = analysis_pages(path.parent) if pages is None else list(pages)
    path.write_text(render_report(result, map_href, details_href, found), encoding="utf-8")
    return path
