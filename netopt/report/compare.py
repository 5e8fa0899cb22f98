"""Scenario comparison (`compare.html`, `compare.xlsx`): what changes between network designs.

A strategist comparing scenarios asks: what does each cost against the baseline, who is left
unserved, which sites open or close, and what does more access cost. The page answers that in
one self-contained, printable file (inline CSS and SVG, no script, no network); the workbook
carries the same numbers for re-cutting. Everything is drawn from a `netopt.analysis.scenarios`
Comparison, so this module only needs its documented fields (duck-typed); rows without the
vs_baseline_usd / within_solver_gap columns get them from `scenarios.baseline_deltas`. A
difference from the baseline within the two runs' solver gaps is greyed and marked, so no
one reads noise as a result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from openpyxl import Workbook

from ..analysis.scenarios import (
    NOT_IN_BASELINE,
    NOT_IN_SCENARIO,
    OFFER_ADDED,
    OFFER_DROPPED,
    baseline_index,
    term_changes,
)
from ..results.folder import Run, results_folder
from .basemap import state_outlines
from .common import (
    HUB_COLOUR,
    ORDERING_PARTS,
    SITE_STYLES,
    fmt_int,
    fmt_num,
    fmt_usd,
    num,
    points_bounds,
    split_list,
    text,
    truthy,
)
from .onepager import _esc, _label, _Projector
from .workbook import (
    DEC1,
    DEC2,
    INT,
    PCT,
    PCT_POINTS,
    USD,
    _put,
    _style_header,
    _table_sheet,
    _widths,
    column_spec,
    match_rules,
    sheet_names,
)

HTML_FILE = "compare.html"
#: input warnings shown per scenario on the page (compare.csv holds them all)
MAX_WARNINGS = 3
WORKBOOK_FILE = "compare.xlsx"
FAILED = ("infeasible", "invalid", "no_solution", "error")
OPENED_COLOUR = "#11a36a"
CLOSED_COLOUR = "#d7191c"
#: a change that is no decision: the facility is absent from one scenario's data
MUTED_COLOUR = "#5b6672"
ACTIVE_COLOUR = SITE_STYLES["kept"][0] or "#0b2f5b"
# distinct, colour-blind friendly series colours for cost terms (Tableau 10)
TERM_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac", "#1f3b5a", "#8cd17d")
PENALTY_COLOUR = "#c9ced4"
NOISE_NOTE = ("<p class='note'>\u2248 <i>within solver gap</i>: the difference from the "
              "baseline is no larger than the two runs' combined gaps "
              "(|obj \u2212 obj<sub>0</sub>| \u2264 gap\u00b7|obj| + "
              "gap<sub>0</sub>\u00b7|obj<sub>0</sub>|), so it may be solver noise rather than "
              "a result; solve with a smaller --gap or a longer --time-limit to tell.</p>")
CLOCK_NOTE = ("<p class='note'><i>time-limited</i>: the clock ended those stages of the "
              "scenario's solve, so the same inputs may give another network on a faster or "
              "slower machine, whatever its gap says; a longer --time-limit tells.</p>")
SHARED_NOTE = ("<p class='note'><i>shared cores</i>: other work (other scenarios of the "
               "batch, other programs) kept the machine's cores busy while the scenario "
               "solved (its tag's tooltip says how busy), so on free cores the same inputs "
               "may give a cheaper network and a smaller gap; re-run the decision on free "
               "cores.</p>")

EXTRA_CSS = """
main { max-width: 1180px; }
.status { font-weight: 600; }
.status.ok { color: #1b7a3a; }
.status.bad { color: #b2182b; }
.reason { display: block; font-weight: normal; color: #b2182b; font-size: 11.5px;
  white-space: normal; overflow-wrap: anywhere; }
.warn { display: block; color: #8a5a00; font-size: 11.5px; white-space: normal;
  overflow-wrap: anywhere; }
.tag.basis { white-space: normal; min-width: 9em; }
table.scenarios tr:has(+ tr.why) td { border-bottom: none; }
.chart .legend svg { width: 14px; height: 14px; }
td.neg { color: #1b7a3a; }
table.scenarios th.n { white-space: normal; vertical-align: bottom; }
td.noise { color: #6b7580; font-style: italic; }
.tag { display: block; font-size: 10px; font-style: normal; color: #6b7580;
  white-space: nowrap; }
td.noise .tag { color: #8a5a00; }
.tag.clock { color: #8a5a00; }
p.note { color: #5b6672; font-size: 12px; margin: 6px 0 0; }
ul.note.parts { color: #5b6672; font-size: 12px; margin: 4px 0 0; padding-left: 18px; }
td.pos { color: #b2182b; }
tr.base td { background: #f7f9fb; }
table.scenarios td:first-child { min-width: 9em; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 12px; align-items: start; }
.multiples figure { margin: 0; border: 1px solid var(--line); border-radius: 6px;
  padding: 6px; break-inside: avoid; }
.multiples figure > svg { width: 100%; height: auto; display: block; background: #f3f5f7; }
.multiples figcaption { color: var(--ink); font-size: 12px; margin: 0 0 4px; }
.multiples figcaption b { color: var(--accent); }
.multiples figcaption .what { display: block; color: var(--muted); font-size: 11.5px; }
.multiples figcaption a.open { display: block; font-size: 11.5px; }
.chart svg { max-width: 100%; }
@media print { .multiples { grid-template-columns: repeat(3, 1fr); } main { max-width: none; } }
"""


class ComparisonLike(Protocol):
    """The fields of netopt.analysis.scenarios.Comparison this module reads."""

    rows: pd.DataFrame
    site_changes: pd.DataFrame
    sites: dict[str, pd.DataFrame]
    frontier: pd.DataFrame | None
    title: str


# ---------------------------------------------------------------- helpers

def _failed(status: object) -> bool:
    return text(status) in FAILED or not text(status)


def _cell(row: pd.Series, col: str) -> float:
    """A numeric cell, NaN when absent or not a number (failed scenarios)."""
    return num(row.get(col), math.nan)


def _fmt(value: float, how: str) -> str:
    """One cell of the comparison table; an em dash where the scenario has no value."""
    if math.isnan(value):
        return "\u2014"
    if how == "usd":
        return fmt_usd(value)
    if how == "int":
        return fmt_int(value)
    if how == "pts":
        return fmt_num(value)
    if how == "pct":
        return f"{value:.1f} %"
    if how == "gap":
        return f"{100 * value:.2f} %"
    return fmt_num(value)


def cost_columns(rows: pd.DataFrame) -> list[str]:
    """cost_<term> columns other than the total, in table order."""
    return [c for c in rows.columns if str(c).startswith("cost_") and c != "cost_total"]


def _deltas(rows: pd.DataFrame) -> list[tuple[float, float, bool]]:
    """(USD, share, within solver gap) of each scenario's objective against the first
    scenario's: the rows' vs_baseline_usd / within_solver_gap columns, computed the same way
    when the rows lack them."""
    if not {"vs_baseline_usd", "within_solver_gap"} <= set(rows.columns):
        from ..analysis.scenarios import baseline_deltas

        rows = pd.concat([rows.drop(columns=["vs_baseline_usd", "within_solver_gap"],
                                    errors="ignore"), baseline_deltas(rows)], axis=1)
    obj = [num(v, math.nan) for v in rows.get("objective_usd", [math.nan] * len(rows))]
    if not obj:
        return []
    b = baseline_index(rows)
    base = obj[b] if b is not None else math.nan
    out = []
    for d, within in zip(rows["vs_baseline_usd"], rows["within_solver_gap"], strict=True):
        d = num(d, math.nan)
        share = d / abs(base) if base and not math.isnan(d) else math.nan
        out.append((d, share, truthy(within)))
    return out


def _penalty(row: pd.Series) -> float:
    """The unserved penalty of a row (rows written before the split: its cost term)."""
    v = _cell(row, "unserved_penalty_usd")
    return v if not math.isnan(v) else _cell(row, "cost_unserved_penalty")


def _network_cost(row: pd.Series) -> float:
    """Network cost (cash): objective minus the unserved penalty, as network_cost_usd."""
    v = _cell(row, "network_cost_usd")
    if not math.isnan(v):
        return v
    pen = _penalty(row)
    return _cell(row, "objective_usd") - (0.0 if math.isnan(pen) else pen)


def _delta_cells(base: bool, d: float, share: float, within: bool,
                 apart: str = "") -> tuple[str, str]:
    """The two delta cells of a row: signed USD and %, coloured when the difference is a
    result, greyed and marked ≈ when the two runs' solver gaps cover it; 'not comparable'
    (why, on hover) for an objective on another basis than the baseline's."""
    if base:
        return "<td class='n'>base</td>", "<td class='n'></td>"
    if apart:
        return (f"<td class='n noise' title=\"{_esc(apart)}\">not comparable</td>",
                "<td class='n noise'>—</td>")
    if math.isnan(d):
        return "<td class='n'>—</td>", "<td class='n'>—</td>"
    usd = ("+" if d > 0 else "") + _fmt(d, "usd")
    pct = ("+" if share > 0 else "") + _fmt(100 * share, "pct") if not math.isnan(share) \
        else "—"
    if within:
        tip = ("within the two runs' solver gaps: this difference may be noise, "
               "not a result")
        return (f"<td class='n noise' title=\"{_esc(tip)}\">≈ {_esc(usd)}"
                f"<span class='tag'>within solver gap</span></td>",
                f"<td class='n noise'>≈ {_esc(pct)}</td>")
    sign = "neg" if d < -0.5 else "pos" if d > 0.5 else ""
    return (f"<td class='n {sign}'>{_esc(usd)}</td>", f"<td class='n {sign}'>{_esc(pct)}</td>")


# ---------------------------------------------------------------- comparison table

def scope_words(scope: str) -> str:
    """compare.csv's scope_vs_baseline as the page and the command say it."""
    return (f"Other patients than the baseline's ({scope}): the \u0394 prices that change of "
            "scope as well as the network's.")


def comparison_table(rows: pd.DataFrame) -> str:
    """One row per scenario: status (with why it failed), objective, delta, service, network."""
    from ..analysis.scenarios import ANNUAL_COST, ANNUAL_MARGIN, not_compared

    bases = (rows["objective_basis"].map(text).tolist() if "objective_basis" in rows
             else [""] * len(rows))
    annual = all(b in ("", ANNUAL_COST, ANNUAL_MARGIN) for b in bases)
    apart = not_compared(rows)
    b = baseline_index(rows)
    heads = ("Scenario", "Status", "Objective (USD/yr)" if annual else "Objective (USD)",
             "\u0394 vs baseline", "\u0394 %",
             "Network cost (cash, USD/yr)", "Unserved penalty (USD/yr)",
             "Served (pts/yr)", "Unserved (pts/yr)", "Within travel target", "Sites",
             "Hubs", "Partners", "Sites owning stock", "Credits + write-offs (USD/yr)", "Gap")
    body = []
    for i, ((_, r), (d, share, within)) in enumerate(zip(rows.iterrows(), _deltas(rows),
                                                          strict=True)):
        status = text(r.get("status"))
        bad = _failed(status)
        reason = text(r.get("reason"))
        start = text(r.get("start"))
        started = f"<span class='tag'>{_esc(start)} start</span>" if start in (
            "baseline", "kernel", "staged") else ""
        clock = ", ".join(split_list(r.get("stopped_by_clock")))
        if clock:  # its network may differ on another machine: say so where it is read
            started += (f"<span class='tag clock' title='stages the clock ended: "
                        f"{_esc(clock)}'>time-limited: {_esc(clock)}</span>")
        busy = text(r.get("cores_not_free"))
        if busy:  # solved beside other work: free cores may give a cheaper network
            started += (f"<span class='tag clock' title='{_esc(busy)}'>shared cores</span>")
        stat = (f"<span class='status {'bad' if bad else 'ok'}'>{_esc(status or 'unknown')}"
                f"</span>{started}")
        # what the objective measures, where it is not a year's cost
        what = {ANNUAL_COST: "", ANNUAL_MARGIN: "cost less revenue"}.get(bases[i], bases[i])
        basis = f"<span class='tag basis'>{_esc(what)}</span>" if what else ""
        cells = [
            f"<td><b>{_esc(r.get('scenario'))}</b></td>", f"<td>{stat}</td>",
            f"<td class='n'>{_esc(_fmt(_cell(r, 'objective_usd'), 'usd'))}{basis}</td>",
            *_delta_cells(i == b, d, share, within, apart.get(i, "")),
            f"<td class='n'>{_esc(_fmt(_network_cost(r), 'usd'))}</td>",
            f"<td class='n'>{_esc(_fmt(_penalty(r), 'usd'))}</td>",
            f"<td class='n'>{_esc(_fmt(_cell(r, 'patients_served'), 'pts'))}</td>",
            f"<td class='n'>{_esc(_fmt(_cell(r, 'patients_unserved'), 'pts'))}</td>",
            f"<td class='n'>{_esc(_fmt(_cell(r, 'pct_within_travel_target'), 'pct'))}</td>",
            *(f"<td class='n'>{_esc(_fmt(_cell(r, c), 'int'))}</td>"
              for c in ("sites_active", "hubs_active", "partners_active", "sites_stocking")),
            f"<td class='n'>{_esc(_fmt(_cell(r, 'manufacturer_writeoff_usd'), 'usd'))}</td>",
            f"<td class='n'>{_esc(_fmt(_cell(r, 'gap'), 'gap'))}</td>",
        ]
        body.append(f"<tr{' class=base' if i == b else ''}>{''.join(cells)}</tr>")
        if reason:  # in full, on its own row across the table, so it wraps and reads
            body.append(f"<tr class='why'><td></td><td colspan='{len(heads) - 1}'>"
                        f"<span class='reason'>{_esc(reason)}</span></td></tr>")
        scope = text(r.get("scope_vs_baseline"))
        if scope:  # its delta prices a change of scope, not only of the network
            body.append(f"<tr class='why'><td></td><td colspan='{len(heads) - 1}'>"
                        f"<span class='warn'>{_esc(scope_words(scope))}</span></td></tr>")
        warned = [w for w in text(r.get("warnings")).split(" | ") if w]
        if warned:  # an edit that matched no row changes nothing: the reader must know
            more = (f"; and {len(warned) - MAX_WARNINGS} more (compare.csv, column warnings)"
                    if len(warned) > MAX_WARNINGS else "")
            body.append(f"<tr class='why'><td></td><td colspan='{len(heads) - 1}'>"
                        "<span class='warn'>"
                        f"{_esc('; '.join(warned[:MAX_WARNINGS]) + more)}</span></td></tr>")
    head = "".join(f"<th{'' if j < 2 else ' class=n'}>{_esc(h)}</th>"
                   for j, h in enumerate(heads))
    table = (f"<table class='scenarios'><thead><tr>{head}</tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table>")
    clocked = "stopped_by_clock" in rows and any(
        text(v) for v in rows["stopped_by_clock"])
    shared = "cores_not_free" in rows and any(text(v) for v in rows["cores_not_free"])
    return (table + NOISE_NOTE + (CLOCK_NOTE if clocked else "")
            + (SHARED_NOTE if shared else ""))


# ---------------------------------------------------------------- cost chart

BARS_NOTE = (
    "Each bar is the scenario's objective, the total in the table above: its cost terms end "
    "to end, the unserved penalty last (grey: the lost margin of patients not treated, a "
    "planning device, not cash). A saving is the hatched strip under a bar, running back from "
    "the end of the costs: the black tick where it ends is the total.")
ORDERING_COLUMN = "cost_ordering_and_inventory"
#: pooled depot stock: its parts are in the ordering_<part>_usd columns too (finance.csv's
#: depot rows), so where the parts are drawn this term is already in them
DEPOT_COLUMN = "cost_depot_stock"
SAVING_H = 9.0  # height of the savings strip under a bar
#: stripe colours of the savings, one per term that saves (green first: the shipping stock
#: saves), so two savings under one bar can be told apart, as in the legend
SAVING_COLOURS = ("#59a14f", "#7f7f7f", "#b07aa1", "#edc948")


def _saving_stripes(rows: pd.DataFrame, terms: list[str]) -> dict[str, str]:
    """Term -> the stripe colour of its savings strip, for the terms negative somewhere."""
    saving = [t for t in terms if any(num(v) < -0.5 for v in rows[t])]
    return {t: SAVING_COLOURS[i % len(SAVING_COLOURS)] for i, t in enumerate(saving)}


#: ordering and inventory's parts: one purple family, so they read as one term's parts
PART_COLOURS = {"replenishment": "#54278f", "holding": "#756bb1", "expiries": "#9e9ac8",
                "capital_charge": "#bcbddc", "returns": "#3f007d", "tabulation": "#dadaeb"}


def _term_colours(terms: list[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    k = 0
    for t in terms:
        part = _ordering_part(t)
        if "penalty" in t or "unserved" in t:
            colours[t] = PENALTY_COLOUR
        elif part:
            colours[t] = PART_COLOURS.get(part, "#807dba")
        else:
            colours[t] = TERM_COLOURS[k % len(TERM_COLOURS)]
            k += 1
    return colours


def _ordering_part(column: str) -> str | None:
    """'holding' for the column ordering_holding_usd, None for any other column."""
    hit = re.fullmatch(r"ordering_(.+)_usd", column)
    return hit.group(1) if hit and hit.group(1) in ORDERING_PARTS else None


def _shown(rows: pd.DataFrame, column: str) -> bool:
    return column in rows.columns and any(abs(num(v)) > 0.5 for v in rows[column])


def _bar_terms(rows: pd.DataFrame) -> list[str]:
    """Columns drawn: every cost term with a value, ordering and inventory replaced by its
    parts (ordering_<part>_usd) when the rows carry them, penalties last (not cash)."""
    terms = []
    columns = cost_columns(rows)
    parts = ORDERING_COLUMN in columns and any(_ordering_part(str(p)) for p in rows.columns)
    for c in columns:
        if c == ORDERING_COLUMN and parts:
            terms += [str(p) for p in rows.columns if _ordering_part(str(p)) and _shown(rows, p)]
        elif c == DEPOT_COLUMN and parts:
            continue  # drawn in the parts above (a second strip counted it twice)
        elif _shown(rows, c):
            terms.append(c)
    return sorted(terms, key=lambda t: ("penalty" in t or "unserved" in t))


def term_name(column: str) -> str:
    """A bar segment's name: 'Transport' for cost_transport, 'Inventory holding' for
    ordering_holding_usd."""
    part = _ordering_part(column)
    return ORDERING_PARTS[part][0] if part else _label(column[5:])


def cost_compare_svg(rows: pd.DataFrame, width: float = 1000.0) -> str:
    """Stacked horizontal bars: annual cost by term, one bar per scenario, ending at the
    scenario's total (the table's objective).

    Ordering and inventory is drawn in its parts (holding, expiries, capital charge,
    replenishment ..., and the per-patient shipping that stock saves). Positive terms stack
    from zero (penalty last, grey); negative ones (savings) are drawn hatched back from the
    end of the positive stack, so the bar's end - a black tick - is the sum of every term.
    Each bar carries data-total and each segment data-usd, so the sum can be checked.
    """
    terms = _bar_terms(rows)
    if rows.empty or not terms:
        return '<svg viewBox="0 0 300 30"><text x="4" y="20">No costs to compare.</text></svg>'
    label_w, value_w, bar_h, gap = 190.0, 110.0, 20.0, 8.0
    values = [[num(v) for v in vals] for vals in rows[terms].itertuples(index=False, name=None)]
    tops = [sum(v for v in vals if v > 0) for vals in values]
    # a margin objective's revenue can take the total below zero: the frame then reaches
    # back that far, with zero marked, so no bar runs into the labels
    low = min(0.0, *(sum(vals) for vals in values))
    top = max(max(tops) - low, 1e-9)
    if any(v < -0.5 for vals in values for v in vals):
        gap += SAVING_H  # room for the savings strip under each bar
    height = len(rows) * (bar_h + gap) + 6
    colours = _term_colours(terms)
    stripes = _saving_stripes(rows, terms)
    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           'role="img" aria-label="Annual cost by term per scenario" font-size="12">',
           "<defs>" + "".join(
               f'<pattern id="saving-{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
               f'<rect width="3" height="6" fill="{c}"/></pattern>'
               for i, c in enumerate(stripes.values())) + "</defs>"]
    y = 3.0
    span = width - label_w - value_w
    zero = label_w - span / top * low
    if low < 0:
        out.append(f'<line x1="{zero:.2f}" x2="{zero:.2f}" y1="0" y2="{height:.0f}" '
                   'stroke="#8a949e" stroke-dasharray="3 3"><title>zero</title></line>')
    for (_, r), vals, pos_total in zip(rows.iterrows(), values, tops, strict=True):
        name = text(r.get("scenario"))
        short = name if len(name) <= 28 else name[:27] + "\u2026"
        out.append(f'<text x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end" '
                   f'fill="#1d2733"><title>{_esc(name)}</title>{_esc(short)}</text>')
        if _failed(r.get("status")) and pos_total <= 0:
            out.append(f'<text x="{label_w + 4}" y="{y + bar_h - 6}" fill="#b2182b" '
                       f'font-style="italic">{_esc(text(r.get("status")) or "failed")}: '
                       "no costs</text>")
            y += bar_h + gap
            continue
        out += _bar(name, list(zip(terms, vals, strict=True)), colours, y,
                    (zero, span / top, bar_h), stripes)
        y += bar_h + gap
    out.append("</svg>")
    return "".join(out) + _cost_legend(rows, terms, colours)


def _bar(name: str, segments: list[tuple[str, float]], colours: dict[str, str], y: float,
         frame: tuple[float, float, float], stripes: dict[str, str]) -> list[str]:
    """One scenario's bar: costs from the left; savings in a hatched strip just under the
    bar, running back from the end of the costs; a tick where the two meet (the total, so
    every cost stays visible) and the total beside the bar."""
    x0, k, bar_h = frame
    total = sum(usd for _, usd in segments)
    out = [f'<g class="bar" data-scenario="{_esc(name)}" data-total="{total:.2f}">']
    x = x0
    for t, usd in segments:
        if usd <= 0.5:
            continue
        w = k * usd
        out.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" '
                   f'fill="{colours[t]}" data-usd="{usd:.2f}"><title>{_esc(name)}: '
                   f"{_esc(term_name(t))} {_esc(fmt_usd(usd))}</title></rect>")
        x += w
    end = x
    bottom = y + bar_h
    for t, usd in segments:
        if usd >= -0.5:
            continue
        w = k * -usd
        i = list(stripes).index(t)
        out.append(f'<rect x="{x - w:.2f}" y="{bottom + 1}" width="{w:.2f}" '
                   f'height="{SAVING_H - 2}" fill="url(#saving-{i})" stroke="{stripes[t]}" '
                   f'data-usd="{usd:.2f}"><title>{_esc(name)}: {_esc(term_name(t))} '
                   f"{_esc(fmt_usd(usd))} (a saving)</title></rect>")
        x -= w
    tick_end = y + bar_h + (SAVING_H if x < end - 0.01 else 0) + 2
    out.append(f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{y - 2}" y2="{tick_end}" '
               'stroke="#1d2733" stroke-width="2"/></g>')
    out.append(f'<text x="{end + 5:.1f}" y="{y + bar_h - 6}" fill="#1d2733" '
               f'font-weight="bold">{_esc(fmt_usd(total))}</text>')
    return out


def _cost_legend(rows: pd.DataFrame, terms: list[str], colours: dict[str, str]) -> str:
    items = []
    stripes = _saving_stripes(rows, terms)
    for t in terms:
        if t in stripes:
            c = stripes[t]
            sym = (f'<svg width="14" height="14"><rect width="14" height="14" fill="#fff" '
                   f'stroke="{c}"/><path d="M0 14L14 0M-4 6L6 -4M8 18L18 8" '
                   f'stroke="{c}" stroke-width="3"/></svg>')
            label = term_name(t) + " (a saving: the strip under the bar)"
        else:
            sym = (f'<svg width="14" height="14"><rect width="14" height="14" '
                   f'fill="{colours[t]}"/></svg>')
            label = term_name(t) + (" (penalty, not cash)" if colours[t] == PENALTY_COLOUR
                                    else "")
        items.append(f"<span>{sym}{_esc(label)}</span>")
    items.append('<span><svg width="14" height="14"><line x1="7" x2="7" y1="0" y2="14" '
                 'stroke="#1d2733" stroke-width="2"/></svg>total (the objective)</span>')
    note = BARS_NOTE
    if "objective_basis" in rows and any(text(b).startswith("launch timeline")
                                         for b in rows["objective_basis"]):
        note += (" A launch-timeline scenario's bar is its last period's annual cost (the "
                 "network at the end of the roll-out); its objective in the table is the "
                 "discounted total over the horizon.")
    return (f'<div class="legend cost-legend">{"".join(items)}</div>'
            f"<p class='note'>{_esc(note)}</p>" + ordering_note(rows, terms))


def ordering_note(rows: pd.DataFrame, terms: list[str]) -> str:
    """What ordering and inventory is, and each of its parts drawn, in words."""
    parts = [p for p in map(_ordering_part, terms) if p]
    if parts:
        items = "".join(f"<li><b>{_esc(ORDERING_PARTS[p][0])}</b>: {_esc(ORDERING_PARTS[p][1])}"
                        "</li>" for p in parts)
        return ("<p class='note'><b>Ordering and inventory</b> (stocking doses at hubs, "
                "partners or sites instead of shipping one per patient) is drawn in its parts; "
                "together they are the ordering and inventory term of each result's costs.csv:"
                f"</p><ul class='note parts'>{items}</ul>")
    if ORDERING_COLUMN in terms:
        return ("<p class='note'><b>Ordering and inventory</b> is what stocking doses at hubs, "
                "partners or sites costs (holding, expired doses at cost of goods, the capital "
                "charge, bulk replenishments) minus the per-patient shipments it avoids; when "
                "the saving is larger it is negative. The finance page of each result splits "
                "it.</p>")
    return ""


# ---------------------------------------------------------------- small-multiple maps

def _latlon(frame: pd.DataFrame) -> list[tuple[float, float]]:
    if not {"latitude", "longitude"} <= set(frame.columns):
        return []
    return [(num(a, math.nan), num(b, math.nan))
            for a, b in zip(frame["latitude"], frame["longitude"], strict=True)]


def shared_bounds(frames: Iterable[pd.DataFrame]) -> list[list[float]] | None:
    """One frame for every small multiple, so the maps line up when compared by eye.

    Same rule as the one-pager: only the lower 48 when nearly every site is there.
    """
    return points_bounds([p for f in frames for p in _latlon(f)], small_pad=0.4, pad=0.6)


def _active_ids(sites: pd.DataFrame) -> set[str]:
    if "site_id" not in sites.columns:
        return set()
    flags = sites["active"] if "active" in sites.columns else \
        sites.get("decision", pd.Series("", sites.index)).isin(["kept", "opened"])
    return {text(s) for s, a in zip(sites["site_id"], flags, strict=True) if truthy(a)}


#: outline simplification of the small maps (degrees): coarser than the one-pager's, since
#: a comparison draws one map per scenario
OUTLINE_TOLERANCE_DEG = 0.08


def basemap(proj: _Projector, bounds: list[list[float]], width: float,
            height: float) -> list[str]:
    """What the small maps are drawn on: the US state outlines (land, borders and coast, as
    on the one-pager), only the states that reach into the frame."""
    (south, west), (north, east) = bounds
    pad = 2.0
    paths = []
    for _, _, rings in state_outlines(OUTLINE_TOLERANCE_DEG):
        d = []
        for ring in rings:
            lats = [la for la, _ in ring]
            lons = [lo for _, lo in ring]
            if (max(lats) < south - pad or min(lats) > north + pad
                    or max(lons) < west - pad or min(lons) > east + pad):
                continue
            pts = [proj(la, lo) for la, lo in ring]
            d.append("M" + "L".join(f"{x:.0f} {y:.0f}" for x, y in pts) + "Z")
        if d:
            paths.append(f'<path d="{"".join(d)}"/>')
    if not paths:
        return []
    # the map's own <svg> clips what lies beyond its frame
    return ['<g fill="#fdfcf8" stroke="#a7b2bd" stroke-width="0.8" stroke-linejoin="round">'
            + "".join(paths) + "</g>"]


def _state_codes(sites: pd.DataFrame, proj: _Projector, width: float,
                 height: float) -> list[str]:
    """State codes at the centre of the sites in each state, for orientation."""
    if not {"state", "latitude", "longitude"} <= set(sites.columns):
        return []
    st = sites.assign(_s=sites["state"].map(text), _la=sites["latitude"].map(num),
                      _lo=sites["longitude"].map(num))
    out = []
    for state, g in st.groupby("_s"):
        x, y = proj(float(g["_la"].mean()), float(g["_lo"].mean()))
        if state and 0 <= x <= width and 0 <= y <= height:
            out.append(f'<text x="{x}" y="{y}" font-size="13" fill="#aab3bd" '
                       f'font-weight="bold" text-anchor="middle">{_esc(state)}</text>')
    return out


def scenario_map_svg(sites: pd.DataFrame, changes: pd.DataFrame, bounds: list[list[float]],
                     width: float = 420.0, hubs: pd.DataFrame | None = None,
                     hub_changes: pd.DataFrame | None = None) -> str:
    """One scenario's sites (and active hubs) on the one-pager's Albers projection.

    Candidates are faint grey for context, active sites navy, sites opened relative to the
    baseline green and sites closed red (hollow: they are not in this network). Active hubs
    are squares in the hub colour, green-edged where opened against the baseline; a hub it
    closed is a hollow red square.
    """
    proj = _Projector(bounds, width)
    h = proj.height
    out = [f'<svg viewBox="0 0 {width:.0f} {h:.0f}" xmlns="http://www.w3.org/2000/svg" '
           'role="img" aria-label="Sites of the scenario">',
           f'<rect width="{width:.0f}" height="{h:.0f}" fill="#e4ebf1"/>',
           *basemap(proj, bounds, width, h), *_state_codes(sites, proj, width, h),
           f'<rect x="0.5" y="0.5" width="{width - 1:.0f}" height="{h - 1:.0f}" fill="none" '
           'stroke="#9aa5b1"/>']
    change = {}
    if {"site_id", "change"} <= set(changes.columns):
        change = {text(s): text(c) for s, c in zip(changes["site_id"], changes["change"],
                                                    strict=True)}
    active = _active_ids(sites)
    ids = sites["site_id"].map(text).tolist() if "site_id" in sites.columns else []
    names = sites["name"].map(text).tolist() if "name" in sites.columns else ids
    layers: dict[str, list[str]] = {"idle": [], "active": [], "closed": [], "opened": []}
    for sid, name, (lat, lon) in zip(ids, names, _latlon(sites), strict=True):
        if math.isnan(lat) or math.isnan(lon):
            continue
        x, y = proj(lat, lon)
        c = change.get(sid, "")
        tip = f"<title>{_esc(name or sid)} ({_esc(sid)}){': ' + _esc(c) if c else ''}</title>"
        if c == "opened":
            layers["opened"].append(f'<circle cx="{x}" cy="{y}" r="6" fill="{OPENED_COLOUR}" '
                                    f'stroke="#fff" stroke-width="1.3">{tip}</circle>')
        elif c == "closed":
            layers["closed"].append(f'<circle cx="{x}" cy="{y}" r="5.5" fill="#fff" '
                                    f'stroke="{CLOSED_COLOUR}" stroke-width="2.4">{tip}</circle>')
        elif sid in active:
            layers["active"].append(f'<circle cx="{x}" cy="{y}" r="4.2" fill="{ACTIVE_COLOUR}" '
                                    f'stroke="#fff" stroke-width="1">{tip}</circle>')
        else:
            layers["idle"].append(f'<circle cx="{x}" cy="{y}" r="1.8" fill="#c4cad1">'
                                  f"{tip}</circle>")
    for key in ("idle", "active", "closed", "opened"):
        out += layers[key]
    out += _hub_marks(proj, hubs, hub_changes)
    out.append("</svg>")
    return "".join(out)


def _hub_marks(proj: _Projector, hubs: pd.DataFrame | None,
               changes: pd.DataFrame | None) -> list[str]:
    """Squares for a scenario's active hubs, and hollow ones for hubs it closed."""
    if hubs is None or hubs.empty or not {"hub_id", "latitude", "longitude"} <= set(hubs):
        return []
    change = {}
    if changes is not None and {"facility_id", "change", "kind"} <= set(changes.columns):
        mine = changes[changes["kind"].map(text) == "hub"]
        change = dict(zip(mine["facility_id"].map(text), mine["change"].map(text),
                          strict=True))
    out = []
    names = hubs["name"].map(text) if "name" in hubs.columns else hubs["hub_id"].map(text)
    for hid, name, on, (lat, lon) in zip(hubs["hub_id"].map(text), names,
                                         hubs.get("active", pd.Series(False, hubs.index)),
                                         _latlon(hubs), strict=True):
        c = change.get(hid, "")
        if math.isnan(lat) or math.isnan(lon) or not (truthy(on) or c == "closed"):
            continue
        x, y = proj(lat, lon)
        tip = f"<title>{_esc(name)} ({_esc(hid)}){': ' + _esc(c) if c else ''}</title>"
        if c == "closed":
            out.append(f'<rect x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" '
                       f'fill="#fff" stroke="{CLOSED_COLOUR}" stroke-width="2">{tip}</rect>')
        else:
            edge = OPENED_COLOUR if c == "opened" else "#fff"
            out.append(f'<rect x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" '
                       f'fill="{HUB_COLOUR}" stroke="{edge}" stroke-width="1.6">{tip}</rect>')
    return out


def _map_legend() -> str:
    def dot(fill: str, stroke: str, r: float = 5.0, sw: float = 1.2) -> str:
        return (f'<svg width="14" height="14"><circle cx="7" cy="7" r="{r}" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="{sw}"/></svg>')

    square = (f'<svg width="14" height="14"><rect x="2.5" y="2.5" width="9" height="9" '
              f'fill="{HUB_COLOUR}" stroke="#fff"/></svg>')
    items = [(dot(ACTIVE_COLOUR, "#fff"), "active site"), (square, "active 3PL hub"),
             (dot(OPENED_COLOUR, "#fff", 6), "opened vs the baseline"),
             (dot("#fff", CLOSED_COLOUR, 5, 2.2), "closed vs the baseline"),
             (dot("#c4cad1", "#c4cad1", 2), "site not used")]
    return '<div class="legend">' + "".join(
        f"<span>{sym}{_esc(lbl)}</span>" for sym, lbl in items) + "</div>"


def _facility_rows(comparison: ComparisonLike, name: str) -> pd.DataFrame:
    fc = getattr(comparison, "facility_changes", None)
    if fc is None or fc.empty:
        return pd.DataFrame(columns=["kind", "name", "change"])
    return fc[fc["scenario"].map(text) == name]


def _caption(name: str, row: pd.Series, active: int, baseline: bool, n_open: int,
             n_close: int, n_other: int, facilities: pd.DataFrame,
             offers: tuple[int, int] = (0, 0)) -> str:
    """'Scenario — 17 sites · 3 hubs · 0 partners' and, below, what changed in words."""
    counts = [f"{active} active sites"]
    for col, word in (("hubs_active", "hubs"), ("partners_active", "partners")):
        v = _cell(row, col)
        if not math.isnan(v):
            counts.append(f"{v:.0f} {word}")
    dot = " \u00b7 "
    head = f"<b>{_esc(name)}</b> \u2014 {_esc(dot.join(counts))}"
    if baseline:
        return head + "<span class='what'>the baseline: the others are compared with it</span>"
    changes = []
    if n_open or n_close or n_other:
        changes.append("sites: " + ", ".join(
            p for p in (f"{n_open} opened" if n_open else "",
                        f"{n_close} closed" if n_close else "",
                        f"{n_other} in one dataset only" if n_other else "") if p))
    else:
        changes.append("same sites as the baseline")
    if any(offers):  # a product moving between open sites changes the network too
        changes.append("offers at open sites: " + ", ".join(
            p for p in (f"{offers[0]} added" if offers[0] else "",
                        f"{offers[1]} dropped" if offers[1] else "") if p))
    for kind in ("hub", "partner"):
        f = facilities[facilities["kind"].map(text) == kind]
        for change in ("opened", "closed", NOT_IN_BASELINE, NOT_IN_SCENARIO):
            names = f.loc[f["change"].map(text) == change, "name"].map(text).tolist()
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                                 if len(names) > 3 else "")
                changes.append(f"{kind}{'s' if len(names) > 1 else ''} {change}: {shown}")
    return head + f"<span class='what'>{_esc('; '.join(changes))}</span>"


def small_multiples(comparison: ComparisonLike) -> str:
    """A map per scenario, all in the same frame, with counts of opened/closed sites."""
    rows = comparison.rows
    names = rows["scenario"].map(text).tolist() if "scenario" in rows.columns else []
    tables = {text(k): v for k, v in (comparison.sites or {}).items()}
    hub_tables = {text(k): v for k, v in (getattr(comparison, "hubs", None) or {}).items()}
    # every site, and the hubs some scenario uses (Louisville opened north of the sites)
    used = [h[h["active"].map(truthy)] for h in hub_tables.values() if "active" in h.columns]
    bounds = shared_bounds([*tables.values(), *used])
    changes = comparison.site_changes if comparison.site_changes is not None \
        else pd.DataFrame()
    scen_col = changes["scenario"].map(text) if "scenario" in changes.columns else None
    base = baseline_index(rows)
    folders = comparison.scenario_folders() if getattr(comparison, "results", None) else {}
    figs = []
    for i, (name, (_, r)) in enumerate(zip(names, rows.iterrows(), strict=True)):
        sites = tables.get(name)
        ch = changes[scen_col == name] if scen_col is not None else pd.DataFrame()
        kinds = ch.get("change", pd.Series(dtype=str)).map(text)
        n_open, n_close = int((kinds == "opened").sum()), int((kinds == "closed").sum())
        offers = (int((kinds == OFFER_ADDED).sum()), int((kinds == OFFER_DROPPED).sum()))
        n_other = len(ch) - n_open - n_close - sum(offers)
        if sites is None or bounds is None or sites.empty:
            why = "why: see the table above" if text(r.get("reason")) else "no site table"
            body = (f'<svg viewBox="0 0 420 80" xmlns="http://www.w3.org/2000/svg">'
                    f'<rect width="420" height="80" fill="#f3f5f7"/><text x="12" y="34" '
                    f'fill="#b2182b" font-size="14">{_esc(text(r.get("status")) or "failed")}'
                    f'</text><text x="12" y="56" fill="#5b6672" font-size="12">'
                    f"{_esc(why)}</text></svg>")
            cap = f"<b>{_esc(name)}</b>"
        else:
            body = scenario_map_svg(sites, ch, bounds, hubs=hub_tables.get(name),
                                    hub_changes=_facility_rows(comparison, name))
            cap = _caption(name, r, len(_active_ids(sites)), i == base, n_open,
                           n_close, n_other, _facility_rows(comparison, name), offers)
        if name in folders:  # its own result folder: the one-pager, map, tables
            cap += (f"<a class='open' href='{_esc(folders[name])}/report.html'>its report, "
                    f"map and tables ({_esc(folders[name])}/)</a>")
        figs.append(f"<figure><figcaption>{cap}</figcaption>{body}</figure>")
    return f'<div class="multiples">{"".join(figs)}</div>' + _map_legend()


# ---------------------------------------------------------------- site changes

def _change_colour(change: str) -> str:
    """Green opened, red closed; grey for a facility one scenario's data does not have."""
    return {"opened": OPENED_COLOUR, "closed": CLOSED_COLOUR, OFFER_ADDED: OPENED_COLOUR,
            OFFER_DROPPED: CLOSED_COLOUR}.get(change, MUTED_COLOUR)


def site_changes_table(comparison: ComparisonLike) -> str:
    """Sites opened or closed per scenario, relative to the baseline, and the products an
    open site offers in one network only."""
    ch = comparison.site_changes
    if ch is None or ch.empty:
        return "<p>No site opens or closes, and no open site changes its offers, relative to " \
            "the baseline.</p>"
    order = {text(s): i for i, s in enumerate(comparison.rows.get("scenario", []))}
    rank = {"opened": 0, "closed": 1, OFFER_ADDED: 2, OFFER_DROPPED: 3}
    ch = ch.assign(_o=ch["scenario"].map(lambda s: order.get(text(s), len(order))),
                   _c=ch["change"].map(lambda c: rank.get(text(c), 4)))
    if "product_id" not in ch.columns:
        ch = ch.assign(product_id="")
    ch = ch.sort_values(["_o", "_c", *(c for c in ("state", "name") if c in ch.columns)],
                        kind="stable")
    body = []
    for r in ch.to_dict("records"):
        c = text(r.get("change"))
        colour = _change_colour(c)
        body.append(f"<tr><td>{_esc(r.get('scenario'))}</td>"
                    f"<td style='color:{colour};font-weight:600'>{_esc(c)}</td>"
                    f"<td>{_esc(r.get('name'))}</td><td>{_esc(r.get('site_id'))}</td>"
                    f"<td>{_esc(r.get('state'))}</td><td>{_esc(r.get('product_id'))}</td></tr>")
    return ("<table><thead><tr><th>Scenario</th><th>Change</th><th>Site</th><th>Site id</th>"
            f"<th>State</th><th>Product</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def term_changes_table(rows: pd.DataFrame) -> str:
    """Per scenario, the cost terms that differ from the baseline's, largest first: where a
    change of the objective comes from (a $35k move on $14.4M is invisible in the bars)."""
    tc = term_changes(rows) if "scenario" in rows.columns else pd.DataFrame()
    if tc.empty:
        return "<p>No cost term differs from the baseline's by a dollar or more.</p>"
    within = dict(zip(rows["scenario"].map(text), rows.get(
        "within_solver_gap", pd.Series([None] * len(rows))), strict=True))
    body = []
    for r in tc.to_dict("records"):
        d = float(r["difference_usd"])
        total = text(r["term"]) == "total"
        style = " style='font-weight:600'" if total else ""
        name = term_name("cost_" + text(r["term"]))
        if total:  # a total the two runs' gaps cannot tell from zero is no result
            name = "Total" + (" (~ within the two runs' solver gaps)"
                              if within.get(text(r["scenario"])) is True else "")
        body.append(f"<tr{style}><td>{_esc(r['scenario'])}</td>"
                    f"<td>{_esc(name)}</td>"
                    f"<td class='n'>{_esc(_fmt(float(r['baseline_usd']), 'usd'))}</td>"
                    f"<td class='n'>{_esc(_fmt(float(r['scenario_usd']), 'usd'))}</td>"
                    f"<td class='n'>{'+' if d > 0 else ''}{_esc(_fmt(d, 'usd'))}</td></tr>")
    return ("<table><thead><tr><th>Scenario</th><th>Cost term</th><th class='n'>Baseline "
            "(USD/yr)</th><th class='n'>Scenario (USD/yr)</th><th class='n'>Difference</th>"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def facility_changes_table(comparison: ComparisonLike) -> str:
    """Hubs and partners opened or closed per scenario, relative to the baseline."""
    fc = getattr(comparison, "facility_changes", None)
    if fc is None or fc.empty:
        return "<p>No hub or partner opens or closes relative to the baseline.</p>"
    order = {text(s): i for i, s in enumerate(comparison.rows.get("scenario", []))}
    fc = fc.assign(_o=fc["scenario"].map(lambda s: order.get(text(s), len(order))))
    fc = fc.sort_values(["_o", "kind", "change", "name"], kind="stable")
    body = []
    for r in fc.to_dict("records"):
        c = text(r.get("change"))
        colour = _change_colour(c)
        kind = {"hub": "3PL hub", "partner": "cold-storage partner"}.get(text(r.get("kind")),
                                                                          text(r.get("kind")))
        body.append(f"<tr><td>{_esc(r.get('scenario'))}</td>"
                    f"<td style='color:{colour};font-weight:600'>{_esc(c)}</td>"
                    f"<td>{_esc(kind)}</td><td>{_esc(r.get('name'))}</td>"
                    f"<td>{_esc(r.get('facility_id'))}</td></tr>")
    return ("<table><thead><tr><th>Scenario</th><th>Change</th><th>Kind</th><th>Name</th>"
            f"<th>Id</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


# ---------------------------------------------------------------- frontier

def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 x 10^k apart) inside [lo, hi], so axes read 60, 70, 80."""
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


def _axis_usd(value: float, step: float) -> str:
    """$10.04 M: as many decimals as the tick step needs, so close ticks do not repeat."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            digits = min(3, max(0, math.ceil(-math.log10(step / div)))) if step > 0 else 1
            return f"{'-' if value < 0 else ''}${abs(value) / div:,.{digits}f} {unit}"
    return fmt_usd(value)


def frontier_svg(frontier: pd.DataFrame, width: float = 760.0, height: float = 380.0) -> str:
    """Annual cost against access: one polyline vertex per feasible point, infeasible as x.

    x is the share of patients within the travel target the solve achieved; a point without
    it (infeasible) sits at the share it was asked for (min_share), drawn as a red cross on
    the bottom axis since it has no cost.
    """
    pts: list[tuple[float, float | None, dict[str, Any]]] = []
    for r in frontier.to_dict("records"):
        achieved = num(r.get("pct_within_travel_target"), math.nan)
        asked = 100 * num(r.get("min_share"), math.nan)
        x = achieved if not math.isnan(achieved) else asked
        cost = num(r.get("objective_usd"), math.nan)
        ok = not _failed(r.get("status")) and not math.isnan(cost)
        pts.append((x, cost if ok else None, r))
    xs = [p[0] for p in pts if not math.isnan(p[0])]
    ys = [p[1] for p in pts if p[1] is not None]
    if not xs:
        return '<svg viewBox="0 0 300 30"><text x="4" y="20">No frontier points.</text></svg>'
    left, right, top, bottom = 86.0, 20.0, 16.0, 46.0
    x0, x1 = min(xs), max(xs)
    if x1 - x0 < 1:
        x0, x1 = x0 - 1, x1 + 1
    pad = (x1 - x0) * 0.06
    x0, x1 = x0 - pad, x1 + pad
    y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
    ypad = max((y1 - y0) * 0.1, abs(y1) * 0.02, 1.0)
    y0, y1 = y0 - ypad, y1 + ypad
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return round(left + pw * (x - x0) / (x1 - x0), 1)

    def py(y: float) -> float:
        return round(top + ph * (1 - (y - y0) / (y1 - y0)), 1)

    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="Cost versus access frontier" font-size="12" '
           f'style="max-width:{width:.0f}px">',
           f'<rect x="{left}" y="{top}" width="{pw:.1f}" height="{ph:.1f}" fill="#f7f9fb" '
           'stroke="#d9dee4"/>']
    yticks = _ticks(y0, y1, 5)
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else abs(y1 - y0)
    for t in yticks:
        y = py(t)
        out.append(f'<line x1="{left}" x2="{left + pw:.1f}" y1="{y}" y2="{y}" stroke="#e3e7ec"/>'
                   f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" fill="#5b6672">'
                   f"{_esc(_axis_usd(t, ystep))}</text>")
    for t in _ticks(x0, x1):
        x = px(t)
        out.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{top + ph:.1f}" stroke="#e3e7ec"/>'
                   f'<text x="{x}" y="{top + ph + 16:.1f}" text-anchor="middle" '
                   f'fill="#5b6672">{t:g} %</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" '
               'fill="#1d2733">% of served patients within the travel target</text>'
               f'<text x="16" y="{top + ph / 2:.1f}" text-anchor="middle" fill="#1d2733" '
               f'transform="rotate(-90 16 {top + ph / 2:.1f})">annual cost (USD/yr)</text>')
    ok = sorted(((x, y, r) for x, y, r in pts if y is not None and not math.isnan(x)),
                key=lambda p: p[0])
    if ok:
        coords = " ".join(f"{px(x)},{py(y)}" for x, y, _ in ok)
        out.append(f'<polyline points="{coords}" fill="none" stroke="#0b2f5b" '
                   'stroke-width="2.2"/>')
    for x, y, r in pts:
        if math.isnan(x):
            continue
        share = num(r.get("min_share"), math.nan)
        label = text(r.get("point")) if math.isnan(share) else f"\u2265{100 * share:.0f} %"
        tip = (f"point {text(r.get('point'))}: min share {100 * num(r.get('min_share')):.0f} %,"
               f" within {num(r.get('within_km')):,.0f} km, {text(r.get('status'))}")
        if y is None:
            cx, cy = px(x), top + ph - 8
            out.append(f'<g stroke="#d7191c" stroke-width="2.4" class="infeasible">'
                       f'<line x1="{cx - 6}" y1="{cy - 6}" x2="{cx + 6}" y2="{cy + 6}"/>'
                       f'<line x1="{cx - 6}" y1="{cy + 6}" x2="{cx + 6}" y2="{cy - 6}"/>'
                       f"<title>{_esc(tip)}</title></g>")
        else:
            out.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="5" fill="#0b2f5b" stroke="#fff" '
                       f'stroke-width="1.5"><title>{_esc(tip)}: {_esc(fmt_usd(y))}</title>'
                       f'</circle><text x="{px(x) + 8}" y="{py(y) - 8}" fill="#1d2733" '
                       f'font-size="11">{_esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _frontier_legend(frontier: pd.DataFrame) -> str:
    bad = sum(_failed(s) for s in frontier.get("status", []))
    note = (f" {bad} point(s) without a network (infeasible, or out of time), marked \u00d7 "
            "at the share they asked for.") if bad else ""
    return (f"<figcaption>Each point is one solve; the line joins the feasible ones in order "
            f"of access.{_esc(note)}</figcaption>")


# ---------------------------------------------------------------- page

def render_comparison(comparison: ComparisonLike) -> str:
    """compare.html as a self-contained string (no script, no external requests)."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    rows = comparison.rows
    title = text(getattr(comparison, "title", "")) or "Scenario comparison"
    n_failed = sum(_failed(s) for s in rows.get("status", []))
    sub = f"{len(rows)} scenarios" + (f", {n_failed} without a solution" if n_failed else "")
    b = baseline_index(rows) if "scenario" in rows.columns else None
    if b is None and len(rows):
        sub += "; no scenario has a network to compare with."
    elif b is not None:
        base = text(rows["scenario"].iloc[b])
        sub += f"; deltas, opened and closed sites are relative to the baseline, \u201c{base}\u201d"
        if b > 0:  # the first scenario had no network to compare with
            first = text(rows["scenario"].iloc[0])
            sub += (f", the first scenario with a network (\u201c{first}\u201d has none: "
                    f"{text(rows['status'].iloc[0])})")
        sub += "."
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>\n{css}\n{EXTRA_CSS}\n</style></head><body><main>",
        f"<header><h1>{_esc(title)}</h1><p class='sub'>{_esc(sub)}</p></header>",
    ]
    frontier = comparison.frontier
    if frontier is not None and len(frontier):  # a Pareto page answers with its frontier
        parts += ["<h2>Cost of access</h2><figure class='chart frontier'>",
                  frontier_svg(frontier), _frontier_legend(frontier), "</figure>"]
    parts += [
        "<h2>Scenarios side by side</h2>", comparison_table(rows),
        "<h2>Annual cost by term</h2><div class='chart'>", cost_compare_svg(rows), "</div>",
        "<h2>Where the cost changes: by term, against the baseline</h2>",
        term_changes_table(rows),
        "<h2>Sites per scenario</h2>", small_multiples(comparison),
        "<h2>Hubs and partners that change</h2>", facility_changes_table(comparison),
        "<h2>Site changes relative to the baseline</h2>", site_changes_table(comparison),
    ]
    parts += ["<footer>Written by netopt; every number is also in compare.xlsx.</footer>",
              "</main></body></html>"]
    return "\n".join(parts)


# ---------------------------------------------------------------- workbook

_COMPARE_RULES: list[tuple[str, str, str]] = [
    (r"^(objective_usd|vs_baseline_usd|cost_.+)$", "USD/yr", USD),
    (r"^gap$", "share", "0.00%"),
    (r"^min_share$", "share", PCT),
    (r"^pct_", "%", PCT_POINTS),
    (r"^patients_", "patients/yr", DEC2),
    (r"^(sites|hubs|partners)_active$", "count", INT),
    (r"_seconds$", "s", DEC1),
    (r"^within_km$", "km", DEC1),
]


def compare_spec(column: str) -> tuple[str, str | None]:
    """(unit, number format) of a comparison column, falling back to the result columns'."""
    return match_rules(_COMPARE_RULES, column) or column_spec(column)


def compare_header(column: str) -> str:
    """'objective_usd (USD/yr)'; map back with split(' (') as for network.xlsx."""
    unit, _ = compare_spec(column)
    return f"{column} ({unit})" if unit else column


def _frame_sheet(wb: Workbook, name: str, frame: pd.DataFrame) -> None:
    """A table with units in headers, number formats, frozen header and filters."""
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(name)
    headers = [compare_header(str(c)) for c in frame.columns]
    for j, h in enumerate(headers, start=1):
        _put(ws, 1, j, h)
    _style_header(ws, 1, len(headers))
    formats = [compare_spec(str(c))[1] or (DEC2 if pd.api.types.is_float_dtype(frame[c])
                                            else None) for c in frame.columns]
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, v in enumerate(values, start=1):
            _put(ws, i, j, v, formats[j - 1])
    ws.freeze_panes = "A2"
    if headers:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(len(frame) + 1, 2)}"
    _widths(ws, frame, headers)


def write_workbook(comparison: ComparisonLike, path: Path) -> Path:
    """compare.xlsx: Comparison, Site changes, Hub and partner changes, Cost changes by term,
    Frontier (if any), then each scenario's sites."""
    wb = Workbook()
    wb.remove(wb.active)
    _frame_sheet(wb, "Comparison", comparison.rows)
    changes = comparison.site_changes if comparison.site_changes is not None else \
        pd.DataFrame(columns=["scenario", "site_id", "name", "state", "latitude", "longitude",
                              "change"])
    _frame_sheet(wb, "Site changes", changes)
    facilities = getattr(comparison, "facility_changes", None)
    if facilities is None:
        facilities = pd.DataFrame(columns=["scenario", "kind", "facility_id", "name", "change"])
    _frame_sheet(wb, "Hub and partner changes", facilities)
    _frame_sheet(wb, "Cost changes by term", term_changes(comparison.rows))
    fixed = ["Comparison", "Site changes", "Hub and partner changes", "Cost changes by term"]
    if comparison.frontier is not None:
        _frame_sheet(wb, "Frontier", comparison.frontier)
        fixed.append("Frontier")
    sites = comparison.sites or {}
    for name, frame in zip(sheet_names(sites.keys(), fixed), sites.values(), strict=True):
        _table_sheet(wb, name, frame)
    wb.save(path)
    return path


def write_comparison(comparison: ComparisonLike, out: Path) -> list[Path]:
    """Write compare.html and compare.xlsx into `out` as one run, added to what the folder
    holds (see results/folder.py); return their paths."""
    run = Run("report", details={"title": comparison.title})
    with results_folder(Path(out), run, attach=True) as staging:
        page = staging.dir / HTML_FILE
        page.write_text(render_comparison(comparison), encoding="utf-8")
        paths = [page, write_workbook(comparison, staging.dir / WORKBOOK_FILE)]
    return staging.final(paths)
