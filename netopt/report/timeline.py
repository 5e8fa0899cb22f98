"""Launch-timeline section of the one-pager: when sites open, how fast patients are reached and
when the launch pays back.

A multi-period run (issue #9) answers "when", which a single network picture cannot: a site may
wait for its P&T committee and onboarding, or be ready early and still be opened later because
demand has not ramped yet. The three charts separate those stories: a Gantt of site activations
(waiting vs. chosen later), a stacked area of patients served by product against demand, and
cash flow per period with the running NPV. Everything is inline SVG in the palette, fonts and
`.chart` layout of onepager.py and compare.py, so the page stays a single printable file with no
script and no network.

The functions read only the documented timeline tables (`timeline_sites`, `timeline_periods`,
`timeline_products`) and tolerate missing columns, NaN cells and hostile text: a saved result
folder edited by hand must still render.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..results.tables import Results
from .common import (
    SITE_STYLES,
    ZONE_COLOURS,
    fmt_int,
    fmt_num,
    fmt_usd,
    num,
    penalty_npv_usd,
    penalty_words,
    product_names,
    split_list,
    table,
    text,
)

INK = "#1d2733"
MUTED = "#5b6672"
GRID = "#e3e7ec"
YEAR_GRID = "#c3cbd4"
PLOT_BG = "#f7f9fb"
FRAME = "#d9dee4"
ACCENT = "#0b2f5b"
EXISTING_COLOUR = SITE_STYLES["kept"][0] or ACCENT
NEW_COLOUR = SITE_STYLES["opened"][0] or "#11a36a"
DEFERRED_COLOUR = "#b9e3cf"  # pale NEW_COLOUR: could open, opened later by choice
WAIT_COLOUR = "#8c96a1"  # dashed: not possible yet (P&T committee + onboarding)
UNSERVED_COLOUR = ZONE_COLOURS["unserved"]
POSITIVE_COLOUR = "#1b7a3a"
NEGATIVE_COLOUR = "#b2182b"
# Tableau 10, as the scenario comparison's cost terms: distinct and colour-blind friendly
PRODUCT_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                   "#ff9da7", "#9c755f", "#bab0ac")

GANTT_WIDTH = 1000.0
GANTT_LABEL_W = 250.0  # site names left of the bars
GANTT_RIGHT = 16.0
GANTT_MAX_ROWS = 60  # more activated sites: existing ones collapse, the latest are counted
CHART_WIDTH = 520.0  # half-page charts (the .two grid of the one-pager)
CHART_HEIGHT = 300.0
CHART_LEFT = 62.0
CHART_RIGHT = 14.0
CHART_TOP = 24.0

_YEAR_LABEL = re.compile(r"^\s*(\d{4})\s+(\S.*?)\s*$")


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def _empty(message: str) -> str:
    return (f'<svg viewBox="0 0 400 30" xmlns="http://www.w3.org/2000/svg" role="img">'
            f'<text x="4" y="20" fill="{MUTED}">{_esc(message)}</text></svg>')


def _short(value: str, chars: int) -> str:
    return value if len(value) <= chars else value[:max(chars - 1, 1)] + "\u2026"


# ---------------------------------------------------------------- periods and axes

def period_labels(timeline_periods: pd.DataFrame, n_periods: int = 0) -> list[str]:
    """Label of every period 0..n-1 ("2027 Q1"), "P1".. where the table has none.

    The charts index columns by the 0-based `period`, so a table with gaps or unsorted rows
    still lands each value in its own column.
    """
    known: dict[int, str] = {}
    if "period" in timeline_periods.columns:
        labels = timeline_periods["label"] if "label" in timeline_periods.columns \
            else pd.Series("", timeline_periods.index)
        for p, lab in zip(timeline_periods["period"], labels, strict=True):
            v = num(p, math.nan)
            if not math.isnan(v) and v >= 0:
                known[int(v)] = text(lab)
    n = max(n_periods, max(known) + 1 if known else 0)
    return [known.get(i) or f"P{i + 1}" for i in range(n)]


def _by_period(frame: pd.DataFrame, column: str, n: int) -> list[float]:
    """One value per period (summed when a period has several rows; 0 where missing)."""
    out = [0.0] * n
    if not {"period", column} <= set(frame.columns):
        return out
    for p, v in zip(frame["period"], frame[column], strict=True):
        i = num(p, math.nan)
        if not math.isnan(i) and 0 <= int(i) < n:
            out[int(i)] += num(v)
    return out


def _year_breaks(labels: Sequence[str]) -> set[int]:
    """Periods that start a new calendar year ("2028 Q1" after "2027 Q4"): drawn darker."""
    years = [m.group(1) if (m := _YEAR_LABEL.match(lab)) else None for lab in labels]
    return {i for i in range(1, len(years)) if years[i] and years[i - 1]
            and years[i] != years[i - 1]}


def _label_step(longest: int, col_w: float, font: float) -> int:
    """Label every k-th period so neighbouring labels never overlap."""
    need = longest * font * 0.6 + 6
    return max(1, math.ceil(need / max(col_w, 1e-9)))


def _period_axis(labels: Sequence[str], centre: Sequence[float], col_w: float, y: float,
                 font: float = 10.5) -> tuple[list[str], float]:
    """Period labels under/over a plot; returns (svg parts, height used).

    Labels like "2027 Q1" read as two tiers (quarter per column, year once over its columns):
    twelve "2027 Q1"-style labels do not fit half a page, "Q1 Q2 Q3 Q4" under "2027" does.
    """
    out: list[str] = []
    matches = [_YEAR_LABEL.match(lab) for lab in labels]
    if labels and all(matches):
        subs = [m.group(2) for m in matches if m]
        years = [m.group(1) for m in matches if m]
        step = _label_step(max(len(s) for s in subs), col_w, font)
        for i, (x, sub) in enumerate(zip(centre, subs, strict=True)):
            if i % step == 0:
                out.append(f'<text x="{x:.1f}" y="{y + font:.1f}" text-anchor="middle" '
                           f'fill="{MUTED}">{_esc(sub)}</text>')
        start = 0
        for i in range(1, len(years) + 1):
            if i == len(years) or years[i] != years[start]:
                xs = centre[start:i]
                mid = (xs[0] + xs[-1]) / 2
                if (i - start) * col_w >= 4 * font * 0.6 or start == 0:
                    out.append(f'<text x="{mid:.1f}" y="{y + 2 * font + 3:.1f}" '
                               f'text-anchor="middle" fill="{INK}" font-weight="bold">'
                               f"{_esc(years[start])}</text>")
                start = i
        return out, 2 * font + 6
    step = _label_step(max((len(s) for s in labels), default=1), col_w, font)
    for i, (x, lab) in enumerate(zip(centre, labels, strict=True)):
        if i % step == 0:
            out.append(f'<text x="{x:.1f}" y="{y + font:.1f}" text-anchor="middle" '
                       f'fill="{MUTED}">{_esc(lab)}</text>')
    return out, font + 5


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 x 10^k apart) covering [lo, hi], zero included."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int(round((last - first) / step)) + 1)]


def _axis_usd(value: float, step: float) -> str:
    """$1.5 M: as many decimals as the tick step needs, so close ticks do not repeat."""
    if value == 0:
        return "$0"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            digits = min(2, max(0, math.ceil(-math.log10(step / div)))) if step > 0 else 1
            return f"{'-' if value < 0 else ''}${abs(value) / div:,.{digits}f} {unit}"
    return fmt_usd(value)


# ---------------------------------------------------------------- Gantt of site activations

def gantt_x(period: float, n_periods: int, width: float = GANTT_WIDTH) -> float:
    """x of the start of `period` in the Gantt (period n_periods = the right edge)."""
    span = width - GANTT_LABEL_W - GANTT_RIGHT
    return round(GANTT_LABEL_W + span * period / max(n_periods, 1), 1)


@dataclass(frozen=True)
class _SiteRow:
    """One activated site as the Gantt draws it (periods clamped to the horizon)."""

    site_id: str
    name: str
    state: str
    existing: bool
    first: int
    earliest: int
    products: tuple[str, ...]

    @property
    def from_start(self) -> bool:
        """Existing and active from the first period: the network the launch starts with."""
        return self.existing and self.first == 0

    @property
    def title(self) -> str:
        return f"{self.name} ({self.state})" if self.state else self.name


def _activated(timeline_sites: pd.DataFrame, n: int) -> list[_SiteRow]:
    """Sites that become active, in order of first active period, then state and name."""
    rows: list[_SiteRow] = []
    for r in timeline_sites.to_dict("records"):
        first = num(r.get("first_active_period"), math.nan)
        if math.isnan(first) or first < 0:
            continue
        first_i = min(int(first), max(n - 1, 0)) if n else int(first)
        earliest = min(max(int(num(r.get("earliest_period"), 0.0)), 0), first_i)
        rows.append(_SiteRow(
            site_id=text(r.get("site_id")), name=text(r.get("name")) or text(r.get("site_id")),
            state=text(r.get("state")),
            existing=text(r.get("status")).strip().lower() == "existing",
            first=first_i, earliest=earliest,
            products=tuple(split_list(r.get("products_offered_end")))))
    rows.sort(key=lambda s: (s.first, s.state, s.name, s.site_id))
    return rows


@dataclass(frozen=True)
class _GanttGrid:
    """Columns and row sizes of one Gantt: rows shrink as more sites are drawn."""

    labels: list[str]
    width: float
    n_rows: int
    rh: float  # row height
    font: float
    bar_h: float
    col_w: float
    centre: list[float]  # x of each period's centre
    chars: int  # characters of a site name that fit left of the bars

    @property
    def n(self) -> int:
        return len(self.labels)

    def x(self, period: float) -> float:
        return gantt_x(period, self.n, self.width)


def _gantt_grid(labels: list[str], n_rows: int, width: float) -> _GanttGrid:
    """Row height and font for `n_rows` rows, column width and centres for the periods."""
    n = len(labels)
    rh = 18.0 if n_rows <= 25 else 14.0 if n_rows <= 45 else 11.0
    font = 11.0 if rh >= 14 else 9.5
    col_w = (width - GANTT_LABEL_W - GANTT_RIGHT) / n
    return _GanttGrid(labels=labels, width=width, n_rows=n_rows, rh=rh, font=font,
                      bar_h=round(rh * 0.64, 1), col_w=col_w,
                      centre=[gantt_x(i, n, width) + col_w / 2 for i in range(n)],
                      chars=int((GANTT_LABEL_W - 12) / (font * 0.56)))


def _gantt_header(label: str, y: float) -> str:
    """A group heading over the rows (18 high)."""
    return (f'<text x="6" y="{y + 13:.1f}" fill="{ACCENT}" font-weight="bold" '
            f'font-size="11">{_esc(label)}</text>')


def _gantt_site_row(g: _GanttGrid, s: _SiteRow, y: float) -> str:
    """One site: its name, the dashed wait, the pale 'opened later by choice' bar and the
    active bar to the end of the horizon, with a tooltip."""
    first, earliest, name = s.first, s.earliest, s.title
    colour = EXISTING_COLOUR if s.existing else NEW_COLOUR
    yb = y + (g.rh - g.bar_h) / 2
    mid = y + g.rh / 2
    tip = (f"{name}, {'existing' if s.existing else 'new'} site: earliest possible "
           f"{g.labels[earliest]}, first active {g.labels[first]}")
    if s.products:
        tip += f"; offers {', '.join(s.products)} at the end"
    out = [f'<g class="site" data-site="{_esc(s.site_id)}"><title>{_esc(tip)}</title>',
           f'<text x="{GANTT_LABEL_W - 8:.1f}" y="{mid + g.font * 0.36:.1f}" '
           f'text-anchor="end" fill="{INK}" font-size="{g.font}">'
           f"{_esc(_short(name, g.chars))}</text>"]
    if earliest > 0:
        xe = g.x(earliest)
        out.append(f'<line class="wait" x1="{g.x(0)}" y1="{mid:.1f}" '
                   f'x2="{xe}" y2="{mid:.1f}" stroke="{WAIT_COLOUR}" stroke-width="1.2" '
                   f'stroke-dasharray="3 3"/><line x1="{xe}" y1="{yb:.1f}" x2="{xe}" '
                   f'y2="{yb + g.bar_h:.1f}" stroke="{WAIT_COLOUR}" stroke-width="1.6"/>')
    if first > earliest:
        xe, xf = g.x(earliest), g.x(first)
        out.append(f'<rect class="deferred" x="{xe}" y="{yb:.1f}" width="{xf - xe:.1f}" '
                   f'height="{g.bar_h}" fill="{DEFERRED_COLOUR}"/>')
    xf = g.x(first)
    out.append(f'<rect class="active" data-period="{first}" x="{xf}" y="{yb:.1f}" '
               f'width="{g.x(g.n) - xf:.1f}" height="{g.bar_h}" '
               f'fill="{colour}" rx="1.5"/></g>')
    return "".join(out)


def _gantt_group_row(g: _GanttGrid, start: list[_SiteRow], y: float) -> str:
    """The existing sites active from the first period, collapsed into one row."""
    yb = y + (g.rh - g.bar_h) / 2
    x0 = g.x(0)
    return (f'<g class="site-group" data-count="{len(start)}"><title>'
            f"{_esc(', '.join(s.title for s in start))}</title>"
            f'<text x="{GANTT_LABEL_W - 8:.1f}" y="{y + g.rh / 2 + g.font * 0.36:.1f}" '
            f'text-anchor="end" fill="{INK}" font-size="{g.font}">{len(start)} '
            "existing sites (one row)</text>"
            f'<rect class="active-group" data-period="0" x="{x0}" y="{yb:.1f}" '
            f'width="{g.x(g.n) - x0:.1f}" height="{g.bar_h}" '
            f'fill="{EXISTING_COLOUR}" rx="1.5"/></g>')


def _gantt_more(g: _GanttGrid, hidden: list[_SiteRow], y: float) -> str:
    """'+ M more sites activated ...': the latest activations a long roll-out leaves out."""
    first_h, last_h = g.labels[hidden[0].first], g.labels[hidden[-1].first]
    when = first_h if first_h == last_h else f"{first_h} to {last_h}"
    return (f'<text class="more" x="{GANTT_LABEL_W - 8:.1f}" y="{y + 13:.1f}" '
            f'text-anchor="end" fill="{MUTED}" font-style="italic">+ {len(hidden)} '
            f"more sites activated {_esc(when)}</text>"
            f'<text x="{GANTT_LABEL_W + 4:.1f}" y="{y + 13:.1f}" fill="{MUTED}" '
            'font-style="italic">(every site is in timeline_sites.csv and the '
            "workbook)</text>")


def _gantt_rows(g: _GanttGrid, start: list[_SiteRow], later: list[_SiteRow],
                shown: list[_SiteRow], hidden: list[_SiteRow],
                collapse: bool) -> tuple[str, float]:
    """The rows under their group headings, top to bottom, and the height they take."""
    body: list[str] = []
    y = 0.0
    if start:
        body.append(_gantt_header(f"Existing sites active from {g.labels[0]} ({len(start)})", y))
        y += 18.0
        if collapse:
            body.append(_gantt_group_row(g, start, y))
            y += g.rh
        else:
            for s in start:
                body.append(_gantt_site_row(g, s, y))
                y += g.rh
    if later:
        body.append(_gantt_header(
            f"Sites activated during the roll-out, in order ({len(later)})", y))
        y += 18.0
        for s in shown:
            body.append(_gantt_site_row(g, s, y))
            y += g.rh
    if hidden:
        body.append(_gantt_more(g, hidden, y))
        y += 18.0
    return "".join(body), y


def _gantt_plot_area(g: _GanttGrid, top: float, rows_h: float) -> list[str]:
    """Background of the rows and a vertical line per period (darker at a new year)."""
    breaks = _year_breaks(g.labels)
    x0, x1 = g.x(0), g.x(g.n)
    out = [f'<rect x="{x0}" y="{top - 2:.1f}" width="{x1 - x0:.1f}" height="{rows_h + 4:.1f}"'
           f' fill="{PLOT_BG}" stroke="{FRAME}"/>']
    for i in range(1, g.n):
        x = g.x(i)
        stroke = YEAR_GRID if i in breaks else GRID
        out.append(f'<line x1="{x}" x2="{x}" y1="{top - 2:.1f}" y2="{top + rows_h + 2:.1f}" '
                   f'stroke="{stroke}"/>')
    return out


def _gantt_counts(g: _GanttGrid, timeline_periods: pd.DataFrame, sites: list[_SiteRow],
                  later: list[_SiteRow], y: float) -> list[str]:
    """Counts under the bars: how many sites are active, and how many are new, per period."""
    active = _by_period(timeline_periods, "sites_active", g.n)
    if not any(active):  # older or partial tables: count from the sites themselves
        active = [float(sum(1 for s in sites if s.first <= i)) for i in range(g.n)]
    new = [sum(1 for s in later if s.first == i) for i in range(g.n)]
    count_font = 10.0 if g.col_w >= 26 else 8.0
    out = []
    for label, values, fmt in (("Sites active", active, fmt_int),
                               ("Newly active", [float(v) for v in new], None)):
        out.append(f'<text x="{GANTT_LABEL_W - 8:.1f}" y="{y + 11:.1f}" text-anchor="end" '
                   f'fill="{MUTED}">{label}</text>')
        for x, v in zip(g.centre, values, strict=True):
            shown_v = fmt(v) if fmt else (f"+{v:.0f}" if v else "\u2013")
            out.append(f'<text x="{x:.1f}" y="{y + 11:.1f}" text-anchor="middle" '
                       f'fill="{INK if fmt or v else MUTED}" font-size="{count_font}">'
                       f"{_esc(shown_v)}</text>")
        y += 15
    return out


def _gantt_legend(y: float) -> list[str]:
    """The four bar styles explained, in one line."""
    legend = [
        (f'<rect width="18" height="9" fill="{EXISTING_COLOUR}" rx="1.5"/>',
         "existing site, active"),
        (f'<rect width="18" height="9" fill="{NEW_COLOUR}" rx="1.5"/>', "new site, active"),
        (f'<rect width="18" height="9" fill="{DEFERRED_COLOUR}"/>',
         "could open, opened later by choice"),
        (f'<line x1="0" y1="4.5" x2="16" y2="4.5" stroke="{WAIT_COLOUR}" stroke-width="1.2" '
         f'stroke-dasharray="3 3"/><line x1="17" y1="0" x2="17" y2="9" stroke="{WAIT_COLOUR}" '
         'stroke-width="1.6"/>', "not possible yet: P&T committee + onboarding"),
    ]
    out = []
    lx = 6.0
    for sym, lab in legend:
        out.append(f'<g transform="translate({lx:.1f} {y:.1f})">{sym}<text x="24" y="9"'
                   f' fill="{INK}">{_esc(lab)}</text></g>')
        lx += 24 + len(lab) * 5.9 + 22
    return out


def gantt_svg(timeline_sites: pd.DataFrame, timeline_periods: pd.DataFrame,
              width: float = GANTT_WIDTH, max_rows: int = GANTT_MAX_ROWS) -> str:
    """Gantt of site activations: one row per site that becomes active.

    Per row, a dashed line from the launch to the site's earliest possible period (waiting for
    its P&T committee and onboarding), a pale bar from there to its first active period (it
    could open but the plan opens it later) and a solid bar to the end (navy: existing, green:
    new). Existing sites active from the first period are grouped on top; with more than
    `max_rows` sites they collapse into one row and the latest activations are counted in a
    "+ M more" note, so a national roll-out (~150 sites) stays one readable figure.
    """
    labels = period_labels(timeline_periods)
    sites = _activated(timeline_sites, len(labels))
    if sites:
        labels = period_labels(timeline_periods, max(s.first for s in sites) + 1)
    if not sites or len(labels) == 0:
        return _empty("No site becomes active in the timeline.")
    start = [s for s in sites if s.from_start]
    later = [s for s in sites if not s.from_start]
    collapse = len(sites) > max_rows and len(start) > 1
    budget = max(max_rows - (1 if collapse else len(start)), 1)
    shown, hidden = later[:budget], later[budget:]
    g = _gantt_grid(labels, (1 if collapse else len(start)) + len(shown), width)
    body, rows_h = _gantt_rows(g, start, later, shown, hidden, collapse)

    top_axis, axis_h = _period_axis(labels, g.centre, g.col_w, 0.0)
    top = axis_h + 6
    out_h = top + rows_h + 8 + 2 * 15 + 8
    bottom_axis: list[str] = []
    if g.n_rows > 30:  # long charts: labels at the bottom too, next to the counts
        bottom_axis, bottom_h = _period_axis(labels, g.centre, g.col_w, out_h - 4)
        out_h += bottom_h
    legend_y = out_h + 4
    out_h = legend_y + 18
    return "".join([
        f'<svg viewBox="0 0 {width:.0f} {out_h:.0f}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="Site activation timeline" font-size="11" class="gantt" '
        f'data-periods="{g.n}">',
        *_gantt_plot_area(g, top, rows_h), *top_axis,
        f'<g transform="translate(0 {top:.1f})">{body}</g>',
        *_gantt_counts(g, timeline_periods, sites, later, top + rows_h + 8),
        *bottom_axis, *_gantt_legend(legend_y), "</svg>"])


# ---------------------------------------------------------------- patients by product

def _plot_frame(width: float, height: float, bottom: float) -> tuple[float, float, float, float]:
    """(left, top, plot width, plot height) of a half-page chart."""
    return CHART_LEFT, CHART_TOP, width - CHART_LEFT - CHART_RIGHT, height - CHART_TOP - bottom


def _legend_rows(items: Sequence[tuple[str, str]], x: float, y: float, width: float,
                 font: float = 10.5) -> tuple[list[str], float]:
    """Swatch + label items wrapped into as many columns as the longest label allows."""
    longest = max((len(lab) for _, lab in items), default=1)
    col_w = min(width, longest * font * 0.56 + 26)
    cols = max(1, int(width // col_w))
    col_w = width / cols
    out = []
    for j, (sym, lab) in enumerate(items):
        lx, ly = x + (j % cols) * col_w, y + (j // cols) * (font + 6)
        chars = int((col_w - 26) / (font * 0.56))
        out.append(f'<g transform="translate({lx:.1f} {ly:.1f})">{sym}<text x="20" '
                   f'y="{font * 0.85:.1f}" fill="{INK}"><title>{_esc(lab)}</title>'
                   f"{_esc(_short(lab, chars))}</text></g>")
    return out, math.ceil(len(items) / cols) * (font + 6)


def _close_chart(out: list[str], labels: list[str], xs: list[float], col_w: float,
                 plot_bottom: float, legend: list[str]) -> str:
    """Period axis under the plot, the legend under the axis, and the closing tag."""
    axis, axis_h = _period_axis(labels, xs, col_w, plot_bottom + 2)
    return "".join([*out, *axis, f'<g transform="translate(0 {plot_bottom + axis_h + 8:.1f})">'
                    f'{"".join(legend)}</g>', "</svg>"])


def _plot_grid(box: tuple[float, float, float, float], unit: str,
               ticks: list[tuple[float, str]], labels: list[str], col_w: float) -> list[str]:
    """Plot background, unit label, horizontal grid lines with their tick labels and a
    vertical line at each new year: what the area and cash-flow charts share."""
    left, top, pw, ph = box
    out = [f'<rect x="{left}" y="{top}" width="{pw:.1f}" height="{ph:.1f}" fill="{PLOT_BG}" '
           f'stroke="{FRAME}"/>',
           f'<text x="{left}" y="{top - 9}" fill="{MUTED}">{unit}</text>']
    for y, text_ in ticks:
        out.append(f'<line x1="{left}" x2="{left + pw:.1f}" y1="{y}" y2="{y}" '
                   f'stroke="{GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end" fill="{MUTED}">{_esc(text_)}</text>')
    for i in _year_breaks(labels):
        x = left + col_w * i
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph:.1f}" '
                   f'stroke="{YEAR_GRID}"/>')
    return out


def stacked_area_svg(timeline_products: pd.DataFrame, product_names: dict[str, str],
                     width: float = CHART_WIDTH, height: float = CHART_HEIGHT) -> str:
    """Patients served per period, stacked by product, under a dashed line of demand.

    The shaded band between the stack and the demand line is the unserved demand, so ramp-up
    gaps (sites not yet onboarded, J-code pending) are visible at a glance; the stack's top is
    the total served in each period (plotted at the period's centre).
    """
    tp = timeline_products
    if tp.empty or not {"period", "product_id", "patients_served"} <= set(tp.columns):
        return _empty("No patients by product in the timeline.")
    labels = period_labels(tp.drop_duplicates("period") if "label" in tp.columns
                           else pd.DataFrame({"period": tp["period"]}))
    n = len(labels)
    if n == 0:
        return _empty("No periods in the timeline.")
    present = list(dict.fromkeys(text(p) for p in tp["product_id"]))
    order = [p for p in product_names if p in present] + sorted(
        p for p in present if p not in product_names)
    served: dict[str, list[float]] = {}
    for pid in order:
        part = tp[tp["product_id"].map(text) == pid]
        served[pid] = [max(v, 0.0) for v in _by_period(part, "patients_served", n)]
    demand = _by_period(tp, "patients_demand", n)
    if not any(demand):
        demand = [sum(served[p][i] for p in order) + u for i, u in
                  enumerate(_by_period(tp, "patients_unserved", n))]
    total = [sum(served[p][i] for p in order) for i in range(n)]
    legend_items = [(f'<rect width="14" height="10" fill="{PRODUCT_COLOURS[k % 10]}"/>',
                     product_names.get(p) or p) for k, p in enumerate(order)]
    legend_items += [
        (f'<rect width="14" height="10" fill="{UNSERVED_COLOUR}" fill-opacity="0.22" '
         f'stroke="{UNSERVED_COLOUR}" stroke-opacity="0.5"/>', "unserved (demand \u2212 served)"),
        (f'<line x1="0" y1="5" x2="14" y2="5" stroke="{INK}" stroke-width="1.8" '
         'stroke-dasharray="5 3"/>', "demand"),
    ]
    legend, legend_h = _legend_rows(legend_items, 8.0, 0.0, width - 16)
    bottom = 38.0 + legend_h + 6
    height = max(height, CHART_TOP + 150 + bottom)
    left, top, pw, ph = _plot_frame(width, height, bottom)
    ticks = _nice_ticks(0.0, max(max(demand), max(total), 1e-9) * 1.04)
    ymax = ticks[-1]
    whole = len(ticks) < 2 or ticks[1] - ticks[0] >= 1

    def tick_text(t: float) -> str:
        return f"{t:,.0f}" if whole else f"{t:g}"
    col_w = pw / n
    xs = [left + col_w * (i + 0.5) for i in range(n)]

    def py(v: float) -> float:
        return round(top + ph * (1 - v / ymax), 2)

    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="Patients served per period by product" font-size="11" '
           f'class="stacked" data-plot="{left} {top} {pw:.2f} {ph:.2f}" data-ymax="{ymax:g}">',
           *_plot_grid((left, top, pw, ph), "patients per period",
                       [(py(t), tick_text(t)) for t in ticks], labels, col_w)]
    # one period: a flat band over the whole column instead of a zero-width area
    px = [left, left + pw] if n == 1 else xs
    idx = [0, 0] if n == 1 else list(range(n))
    base = [0.0] * n
    for k, pid in enumerate(order):
        upper = [base[i] + served[pid][i] for i in range(n)]
        pts = [f"{x:.1f},{py(upper[i])}" for x, i in zip(px, idx, strict=True)]
        pts += [f"{x:.1f},{py(base[i])}" for x, i in reversed(list(zip(px, idx, strict=True)))]
        name = product_names.get(pid) or pid
        out.append(f'<polygon class="area" data-product="{_esc(pid)}" points="{" ".join(pts)}" '
                   f'fill="{PRODUCT_COLOURS[k % 10]}" fill-opacity="0.88" stroke="#ffffff" '
                   f'stroke-width="0.6"><title>{_esc(name)}: '
                   f"{_esc(', '.join(f'{labels[i]} {fmt_num(served[pid][i])}' for i in range(n)))}"
                   "</title></polygon>")
        base = upper
    gap_top = [f"{x:.1f},{py(max(demand[i], total[i]))}" for x, i in zip(px, idx, strict=True)]
    gap_bottom = [f"{x:.1f},{py(total[i])}" for x, i in reversed(list(zip(px, idx, strict=True)))]
    if any(d - s > 1e-6 for d, s in zip(demand, total, strict=True)):
        out.append(f'<polygon class="unserved" points="{" ".join(gap_top + gap_bottom)}" '
                   f'fill="{UNSERVED_COLOUR}" fill-opacity="0.22"/>')
    out.append(f'<polyline class="demand" points="{" ".join(gap_top)}" fill="none" '
               f'stroke="{INK}" stroke-width="1.8" stroke-dasharray="5 3"/>')
    for x, i in zip(xs, range(n), strict=True):
        out.append(f'<circle cx="{x:.1f}" cy="{py(total[i])}" r="7" fill="transparent">'
                   f"<title>{_esc(labels[i])}: {_esc(fmt_num(total[i]))} served of "
                   f"{_esc(fmt_num(demand[i]))} ({_pct(total[i], demand[i])})</title></circle>")
    out.append(f'<text x="{left + pw:.1f}" y="{top - 9}" text-anchor="end" fill="{ACCENT}" '
               f'font-weight="bold">{_esc(_pct(total[-1], demand[-1]))} of demand served in '
               f"{_esc(labels[-1])}</text>")
    return _close_chart(out, labels, xs, col_w, top + ph, legend)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole > 0 else "\u2013"


# ---------------------------------------------------------------- cash flow

def cash_flow_svg(timeline_periods: pd.DataFrame, width: float = CHART_WIDTH,
                  height: float = CHART_HEIGHT) -> str:
    """Cash flow per period (bars: green in, red out) and the cumulative discounted cash flow
    (line: the NPV so far), with the period it turns positive marked as payback.

    Bars are undiscounted so a planner can match them to the period table; the line is
    discounted because that is what the NPV headline adds up.
    """
    labels = period_labels(timeline_periods)
    n = len(labels)
    if n == 0 or "cash_flow_usd" not in timeline_periods.columns:
        return _empty("No cash flow in the timeline.")
    cash = _by_period(timeline_periods, "cash_flow_usd", n)
    if "discounted_cash_flow_usd" in timeline_periods.columns:
        disc = _by_period(timeline_periods, "discounted_cash_flow_usd", n)
    else:
        factor = _by_period(timeline_periods, "discount_factor", n)
        disc = [c * (f if f else 1.0) for c, f in zip(cash, factor, strict=True)]
    cum: list[float] = []
    for d in disc:
        cum.append((cum[-1] if cum else 0.0) + d)
    legend_items = [
        (f'<rect width="7" height="10" fill="{POSITIVE_COLOUR}"/><rect x="7" width="7" '
         f'height="10" fill="{NEGATIVE_COLOUR}"/>', "cash flow in the period (in / out)"),
        (f'<line x1="0" y1="5" x2="14" y2="5" stroke="{ACCENT}" stroke-width="2.2"/>',
         "cumulative discounted cash flow (NPV so far)"),
    ]
    legend, legend_h = _legend_rows(legend_items, 8.0, 0.0, width - 16)
    bottom = 38.0 + legend_h + 6
    left, top, pw, ph = _plot_frame(width, height, bottom)
    lo, hi = min(0.0, *cash, *cum), max(0.0, *cash, *cum)
    ticks = _nice_ticks(lo, hi if hi > lo else lo + 1.0)
    y0, y1 = ticks[0], ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(y1 - y0)
    col_w = pw / n
    xs = [left + col_w * (i + 0.5) for i in range(n)]

    def py(v: float) -> float:
        return round(top + ph * (1 - (v - y0) / (y1 - y0)), 2)

    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="Cash flow per period and cumulative NPV" font-size="11" '
           f'class="cashflow" data-plot="{left} {top} {pw:.2f} {ph:.2f}" '
           f'data-y0="{y0:g}" data-y1="{y1:g}">',
           *_plot_grid((left, top, pw, ph), "USD per period",
                       [(py(t), _axis_usd(t, step)) for t in ticks], labels, col_w)]
    bw = min(col_w * 0.62, 40.0)
    for i, (x, c) in enumerate(zip(xs, cash, strict=True)):
        ya, yb = sorted((py(c), py(0.0)))
        colour = POSITIVE_COLOUR if c >= 0 else NEGATIVE_COLOUR
        out.append(f'<rect class="cash" data-period="{i}" x="{x - bw / 2:.1f}" y="{ya}" '
                   f'width="{bw:.1f}" height="{max(yb - ya, 0.0):.2f}" fill="{colour}" '
                   f'fill-opacity="0.8"><title>{_esc(labels[i])}: cash flow '
                   f"{_esc(fmt_usd(c))}, discounted {_esc(fmt_usd(disc[i]))}, NPV so far "
                   f"{_esc(fmt_usd(cum[i]))}</title></rect>")
    out.append(f'<line x1="{left}" x2="{left + pw:.1f}" y1="{py(0.0)}" y2="{py(0.0)}" '
               f'stroke="{INK}" stroke-width="1"/>')
    pay = next((i for i in range(1, n) if cum[i] >= 0 > cum[i - 1]), None)
    if pay is not None:
        x = left + col_w * pay
        out.append(f'<line class="payback" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
                   f'y2="{top + ph:.1f}" stroke="{ACCENT}" stroke-dasharray="2 3"/>'
                   f'<text x="{x + 4:.1f}" y="{top + 12}" fill="{ACCENT}">pays back in '
                   f"{_esc(labels[pay])}</text>")
    pts = " ".join(f"{x:.1f},{py(v)}" for x, v in zip(xs, cum, strict=True))
    out.append(f'<polyline class="npv" points="{pts}" fill="none" stroke="{ACCENT}" '
               'stroke-width="2.2"/>')
    for x, v in zip(xs, cum, strict=True):
        out.append(f'<circle cx="{x:.1f}" cy="{py(v)}" r="2.6" fill="{ACCENT}" '
                   'stroke="#ffffff" stroke-width="0.8"/>')
    out.append(f'<circle cx="{xs[-1]:.1f}" cy="{py(cum[-1])}" r="4.2" fill="{ACCENT}" '
               f'stroke="#ffffff" stroke-width="1.2"/><text x="{left + pw:.1f}" '
               f'y="{top - 9}" text-anchor="end" fill="{ACCENT}" font-weight="bold">NPV '
               f"{_esc(fmt_usd(cum[-1]))} by the end of {_esc(labels[-1])}</text>")
    return _close_chart(out, labels, xs, col_w, top + ph, legend)


# ---------------------------------------------------------------- section of the one-pager

def npv_usd(result: Results) -> float:
    """NPV as the solve reported it (summary), else the sum of discounted cash flows."""
    tl = result.summary.get("timeline") or {}
    value = num(tl.get("npv_usd") if isinstance(tl, dict) else None, math.nan)
    if math.isnan(value):
        periods = table(result, "timeline_periods")
        col = periods.get("discounted_cash_flow_usd", pd.Series(dtype=float))
        value = float(sum(num(v) for v in col))
    return value


def _tiles(result: Results, labels: list[str]) -> str:
    periods = table(result, "timeline_periods")
    n = len(labels)
    demand = _by_period(periods, "patients_demand", n)
    served = _by_period(periods, "patients_served", n)
    tl = result.summary.get("timeline") or {}
    rate = num(tl.get("discount_rate") if isinstance(tl, dict) else None, math.nan)
    npv = npv_usd(result)
    cash_npv = sum(_by_period(periods, "discounted_cash_flow_usd", n))
    # the solver's NPV and the sum of the period cash flows should agree; say so when not
    # (e.g. a non-cash penalty in the objective) rather than show two different headlines
    differs = abs(npv - cash_npv) > max(0.005 * abs(npv), 1.0) and \
        "discounted_cash_flow_usd" in periods.columns
    sites = _activated(table(result, "timeline_sites"), n)
    new = [s for s in sites if not s.from_start]
    horizon = f"{labels[0]} \u2013 {labels[-1]}" if n > 1 else labels[0]
    first90 = _from_then_on(demand, served, labels)
    rate_txt = f" at {100 * rate:g} %/yr discount" if not math.isnan(rate) else ""
    # as the one-pager says it: a cost plan's net present cost, a margin plan's value
    margin = text(result.summary.get("objective_sense")) == "margin"
    sign = 1.0 if margin else -1.0
    word = "value" if margin else "cost"
    penalty = penalty_npv_usd(result)
    tiles = [
        (fmt_usd(sign * npv), f"net present {word}, {n} periods {horizon}{rate_txt}"
         + (f" (objective; discounted cash flows sum to {fmt_usd(sign * cash_npv)})"
            if differs else "") + penalty_words(penalty, sum(demand) - sum(served)),
         margin and npv < 0),
        (fmt_int(sum(served)), f"patients served over the roll-out "
                               f"({_pct(sum(served), sum(demand))} of demand)", False),
        (_pct(served[-1], demand[-1]) if n else "\u2013",
         f"of demand served in {labels[-1]}" + (f"; \u2265 90 % from {first90} on" if first90
                                               else "; below 90 % at the end"), False),
        (fmt_int(len(new)), "sites activated during the roll-out"
         + (f", last in {labels[new[-1].first]}" if new else ""), False),
    ]
    return '<section class="kpis">' + "".join(
        f'<div class="kpi{" warn" if warn else ""}"><div class="v">{_esc(v)}</div>'
        f'<div class="l">{_esc(lbl)}</div></div>' for v, lbl, warn in tiles) + "</section>"


def _from_then_on(demand: list[float], served: list[float], labels: list[str]) -> str | None:
    """The first period from which every period with demand serves 90 % or more of it (the
    first such period alone read '>= 90 % from 2027 Q1' in a plan that fell to 33 %)."""
    start = None
    for i in range(len(labels) - 1, -1, -1):
        if demand[i] > 0 and served[i] < 0.9 * demand[i]:
            break
        if demand[i] > 0:
            start = labels[i]
    return start


def periods_table(timeline_periods: pd.DataFrame) -> str:
    """The period figures behind the charts (revenue column only when there is revenue)."""
    labels = period_labels(timeline_periods)
    n = len(labels)
    col = {c: _by_period(timeline_periods, c, n) for c in (
        "patients_demand", "patients_served", "patients_unserved", "sites_active",
        "hubs_active", "revenue_usd", "cost_usd", "cash_flow_usd", "discounted_cash_flow_usd",
        "penalty_usd", "partners_active")}
    revenue = any(abs(v) > 0.5 for v in col["revenue_usd"])
    penalty = any(abs(v) > 0.5 for v in col["penalty_usd"])
    partners = any(v > 0 for v in col["partners_active"])
    head = ["Period", "Demand", "Served", "Served %", "Unserved", "Sites", "Hubs",
            *(["Partners"] if partners else []),
            *(["Revenue"] if revenue else []), "Cost", "Cash flow", "Discounted",
            "NPV so far", *(["Unserved penalty (not cash)"] if penalty else [])]
    body, cum = [], 0.0
    for i, lab in enumerate(labels):
        cum += col["discounted_cash_flow_usd"][i]
        cells = [fmt_num(col["patients_demand"][i]), fmt_num(col["patients_served"][i]),
                 _pct(col["patients_served"][i], col["patients_demand"][i]),
                 fmt_num(col["patients_unserved"][i]), fmt_int(col["sites_active"][i]),
                 fmt_int(col["hubs_active"][i]),
                 *([fmt_int(col["partners_active"][i])] if partners else []),
                 *([fmt_usd(col["revenue_usd"][i])] if revenue else []),
                 fmt_usd(col["cost_usd"][i]), fmt_usd(col["cash_flow_usd"][i]),
                 fmt_usd(col["discounted_cash_flow_usd"][i]), fmt_usd(cum),
                 *([fmt_usd(col["penalty_usd"][i])] if penalty else [])]
        body.append(f"<tr><td>{_esc(lab)}</td>" + "".join(
            f"<td class='n'>{_esc(c)}</td>" for c in cells) + "</tr>")
    heads = "".join(f"<th>{_esc(h)}</th>" if h == "Period" else f"<th class='n'>{_esc(h)}</th>"
                    for h in head)
    return (f"<table class='timeline'><thead><tr>{heads}"
        + f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def timeline_section(result: Results) -> str:
    """The "Launch timeline" section, or "" when the result has no timeline (the page is then
    exactly the single-period one-pager)."""
    periods = table(result, "timeline_periods")
    if periods.empty or "period" not in periods.columns:
        return ""
    labels = period_labels(periods)
    if not labels:
        return ""
    return "\n".join([
        '<section class="timeline"><h2>Launch timeline</h2>',
        f'<p class="sub">The map, tiles and tables elsewhere on this page show the network at the'
        f" end of the roll-out ({_esc(labels[-1])}); this section shows how it gets there, "
        "period by period.</p>",
        _tiles(result, labels),
        '<figure class="chart gantt"><h3>When each site opens</h3>',
        gantt_svg(table(result, "timeline_sites"), periods),
        "<figcaption>One row per site that becomes active. A dashed line means the site cannot "
        "open yet (its P&amp;T committee has not met or onboarding is not done); a pale bar "
        "means it could open but the plan opens it later, when demand justifies it.</figcaption>"
        "</figure>",
        '<div class="two"><div class="chart"><h3>Patients served by product</h3>',
        stacked_area_svg(table(result, "timeline_products"), product_names(result)),
        '</div><div class="chart"><h3>Cash flow and NPV</h3>',
        cash_flow_svg(periods), "</div></div>",
        periods_table(periods),
        waiting_table(table(result, "timeline_products"), product_names(result)),
        "</section>",
    ])


#: how results.tables.rollout_reasons names the sites patients wait for, and counts patients
WAIT = "wait for sites that offer it later:"
COUNT = r"[0-9][0-9,]*\.[0-9] patients "


def _reason_kind(reason: str) -> tuple[str, ...]:
    """A reason without its counts and its list of sites to come: ('wait', 'as at the plan's
    end: no site within 400 km')."""
    # parts start with their count (or 'as at'): a '; ' inside a reason does not split it
    parts = re.split(rf"; (?={COUNT}|as at the plan's end)", reason)
    parts = [re.sub(f"^{COUNT}", "", part) for part in parts]
    return tuple("wait" if part.startswith(WAIT) else part for part in parts)


def waiting_table(products: pd.DataFrame, names: dict[str, str]) -> str:
    """'Why patients wait': each product's unserved patients over the roll-out with their
    reason (timeline_products.csv's unserved_reason), consecutive periods with the same
    reason in one row; "" when every patient is served or the folder predates the reason."""
    if products.empty or not {"unserved_reason", "patients_unserved", "product_id",
                               "period"} <= set(products.columns):
        return ""
    labels = dict(zip(products["period"], products["label"].map(text), strict=True)) \
        if "label" in products.columns else {}
    rows: list[list] = []  # [product, first, last, patients, reason]
    for k, group in products.sort_values(["product_id", "period"]).groupby(
            products["product_id"].map(text), sort=False):
        for p, u, reason in zip(group["period"], group["patients_unserved"],
                                group["unserved_reason"].map(text), strict=True):
            if num(u) <= 1e-6 or not reason:
                continue
            # the same kind of reason whatever the counts and the sites still to come: the
            # counts follow the ramp and the sites named change as each comes on line
            key = _reason_kind(reason)
            if rows and rows[-1][0] == k and rows[-1][5] == key and rows[-1][2] == p - 1:
                rows[-1][2] = p
                rows[-1][3] += num(u)
            else:
                rows.append([k, p, p, num(u), reason, key])
    if not rows:
        return ""
    body = []
    for k, first, last, patients, reason, _ in rows:
        span = labels.get(first, str(first)) + (
            f" \u2013 {labels.get(last, str(last))}" if last != first else "")
        # over a span the per-period counts go (the total is its own column) and the sites
        # named are those still to come in its first period
        why = reason if first == last else re.sub(COUNT, "", reason).replace(
            WAIT, WAIT.removesuffix(":") + f" (as of {labels.get(first, str(first))}):")
        body.append(f"<tr><td>{_esc(span)}</td><td>{_esc(names.get(k, k))}</td>"
                    f"<td class='n'>{_esc(fmt_num(patients))}</td><td>{_esc(why)}</td></tr>")
    return ("<h3>Why patients wait during the roll-out</h3><table class='timeline waiting'>"
            "<thead><tr><th>Periods</th><th>Product</th><th class='n'>Unserved patients"
            "</th><th>Why</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>")
