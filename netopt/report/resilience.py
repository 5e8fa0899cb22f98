"""Resilience page (`resilience.html`): the single points of failure of a chosen network.

`netopt resilience` takes out each active hub and partner in turn and re-routes on the rest
(`analysis.resilience`). A loss has two parts that must not be added up unexplained: cash the
network spends more (longer lanes, other hubs), and the unserved penalty of the patients it
can no longer treat (a planning device, not cash). Losing a hub can even save cash, because
patients nobody treats cost nothing to ship; the penalty shows what that saving means. So each
facility's bar is split, from a zero line, into the two parts.
"""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path
from typing import Protocol

import pandas as pd

from .common import fmt_num, fmt_usd, num, text
from .sortable import assets as sortable_assets
from .sortable import named, sortable_table

HTML_FILE = "resilience.html"
CASH_COLOUR = "#0b2f5b"
PENALTY_COLOUR = "#c9a227"
KIND_WORDS = {"hub": "3PL hub", "partner": "cold-storage partner"}
TABLE_COLUMNS = [
    ("rank", "Rank", "int"), ("facility", "Facility", "named"), ("kind_words", "Kind", "text"),
    ("extra_patients_unserved", "Patients lost/yr", "num"),
    ("cost_increase_usd", "Loss/yr (total)", "usd"),
    ("network_cost_increase_usd", "of which network cost (cash)/yr", "usd"),
    ("penalty_increase_usd", "of which unserved penalty/yr", "usd"),
    ("cost_increase_pct", "Loss, % of objective", "pts"),
    ("sites_using", "Sites it supplies", "int"),
    ("doses_per_year_through", "Doses/yr through it", "num"),
    ("status", "Re-solve", "text"),
]
CSS = """
main { max-width: 1240px; }
.chart svg { max-width: 1100px; display: block; }
p.lead { font-size: 14px; margin: 8px 0; }
.legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
"""


class ResilienceLike(Protocol):
    """The fields of analysis.resilience.Resilience this page reads."""

    table: pd.DataFrame
    baseline_cost_usd: float
    baseline_unserved: float
    baseline_penalty_usd: float
    solved_cost_usd: float | None


def solved_note(res: ResilienceLike) -> str:
    """Why the baseline is below the solve's own cost, when it is: a reader compares the
    two figures and must not take the difference for an error (or for an outage's cost)."""
    solved = getattr(res, "solved_cost_usd", None)
    base = num(res.baseline_cost_usd)
    if solved is None or not math.isfinite(base) or solved - base <= max(1.0, 1e-7 * solved):
        return ""
    return (f"The baseline, ${base:,.0f} a year, is ${solved - base:,.0f} below the "
            f"solved network's ${solved:,.0f}: with the network held, its ordering options "
            "and flows are re-solved to optimality, where the solve stopped at its gap, and "
            "the design rules (service level, KOLs, budget, backup hubs, minimum counts) are "
            "off. Every outage is measured against this baseline.")


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def split_parts(row: pd.Series) -> tuple[float, float]:
    """(cash, penalty) parts of one facility's loss; an older table without the split has
    its whole increase as cash."""
    total = num(row.get("cost_increase_usd"))
    if "penalty_increase_usd" not in row.index or pd.isna(row.get("penalty_increase_usd")):
        return total, 0.0
    return num(row.get("network_cost_increase_usd")), num(row.get("penalty_increase_usd"))


def loss_chart_svg(table: pd.DataFrame, width: float = 1000.0, top_n: int = 25) -> str:
    """Diverging stacked bars, one per facility in rank order: cash and penalty parts of the
    loss from a zero line (a cash saving goes left), the total at the end of each bar."""
    rows = table.head(top_n)
    if rows.empty:
        return "<p>The chosen network has no active hub or partner to take out.</p>"
    label_w, value_w, bar_h, gap, top = 250.0, 230.0, 18.0, 8.0, 8.0
    parts = [split_parts(r) for _, r in rows.iterrows()]
    lo = min(0.0, *(min(c, 0.0) + min(p, 0.0) for c, p in parts))
    hi = max(1.0, *(max(c, 0.0) + max(p, 0.0) for c, p in parts))
    span = width - label_w - value_w

    def x(v: float) -> float:
        return label_w + span * (v - lo) / (hi - lo)

    height = top + len(rows) * (bar_h + gap) + 24
    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
           'role="img" aria-label="Loss per facility outage, cash and penalty" font-size="12">']
    y = top
    for (_, r), (cash, pen) in zip(rows.iterrows(), parts, strict=True):
        name = text(r.get("name")) or text(r.get("facility_id"))
        short = name if len(name) <= 36 else name[:35] + "\u2026"
        out.append(f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end" '
                   f'fill="#1d2733"><title>{_esc(name)}</title>{int(num(r.get("rank")))}. '
                   f"{_esc(short)}</text>")
        pos, neg = 0.0, 0.0
        for value, colour, what in ((cash, CASH_COLOUR, "network cost (cash)"),
                                    (pen, PENALTY_COLOUR, "unserved penalty")):
            if abs(value) < 0.5:
                continue
            start = pos if value > 0 else neg
            end = start + value
            x0, x1 = sorted((x(start), x(end)))
            out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" '
                       f'height="{bar_h}" fill="{colour}"><title>{_esc(name)}: {what} '
                       f"{'+' if value > 0 else ''}{_esc(fmt_usd(value))}/yr</title></rect>")
            if value > 0:
                pos = end
            else:
                neg = end
        total = cash + pen
        lost = num(r.get("extra_patients_unserved"))
        who = f"{fmt_num(lost)} patients/yr lost" if lost > 0.05 else "no patient lost"
        out.append(f'<text x="{x(pos) + 6:.1f}" y="{y + bar_h - 5}" fill="#1d2733">'
                   f'<tspan font-weight="bold">{"+" if total > 0 else ""}'
                   f"{_esc(fmt_usd(total))}/yr</tspan> \u00b7 {_esc(who)}</text>")
        y += bar_h + gap
    zero = x(0.0)
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top - 4}" y2="{y}" '
               'stroke="#1d2733" stroke-width="1"/>'
               f'<text x="{zero:.1f}" y="{y + 14}" text-anchor="middle" fill="#5b6672">'
               "no change</text>")
    out.append("</svg>")
    return "".join(out)


def _legend() -> str:
    items = [(CASH_COLOUR, "network cost: cash the network spends more each year "
              "(left of the line: it saves cash, usually because patients go untreated)"),
             (PENALTY_COLOUR, "unserved penalty of the patients it can no longer treat "
              "(a planning device, not cash)")]
    return "<div class='legend'>" + "".join(
        f"<span><i class='sw' style='background:{c}'></i>{_esc(label)}</span>"
        for c, label in items) + "</div>"


def _lead(res: ResilienceLike) -> str:
    t = res.table
    if t.empty:
        return "No active hub or partner: nothing to take out."
    spof = t[t["extra_patients_unserved"].map(num) > 0.05]
    top = t.iloc[0]
    cash, pen = split_parts(top)
    name = text(top.get("name")) or text(top.get("facility_id"))
    words = (f"{len(spof)} of the {len(t)} facilities tested are single points of failure: "
             "losing one leaves patients untreated. " if len(spof) else
             f"None of the {len(t)} facilities tested is a single point of failure: the rest "
             "of the network treats every patient. ")
    if not len(spof):  # nobody lost: the ranking is by money alone, and so is the sentence
        return words + (f"The costliest is {name}: {fmt_usd(cash)} a year more network "
                        "cost.")
    return words + (f"The worst is {name}: {fmt_num(num(top.get('extra_patients_unserved')))} "
                    f"patients a year lost, {fmt_usd(cash)} a year of network cost and "
                    f"{fmt_usd(pen)} of unserved penalty.")


def render_resilience(res: ResilienceLike, model: str) -> str:
    """resilience.html as one self-contained string."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    t = res.table.copy()
    t["facility"] = [named(n or f, f) for n, f in zip(t["name"].map(text),
                                                      t["facility_id"].map(text), strict=True)]
    t["kind_words"] = t["kind"].map(lambda k: KIND_WORDS.get(text(k), text(k)))
    base_pen = num(getattr(res, "baseline_penalty_usd", 0.0))
    base_cash = num(res.baseline_cost_usd) - base_pen
    tiles = [(fmt_usd(base_cash), "network cost per year, nothing out (cash)"),
             (fmt_usd(base_pen), "unserved penalty per year, nothing out"),
             (fmt_num(num(res.baseline_unserved)), "patients unserved per year, nothing out"),
             (str(len(t)), "facilities taken out one at a time")]
    tile_html = "".join(f"<div class='kpi'><div class='v'>{_esc(v)}</div>"
                        f"<div class='l'>{_esc(label)}</div></div>" for v, label in tiles)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt resilience — {model}')}</title>",
        f"<style>\n{css}\n{CSS}\n</style>", sortable_assets(), "</head><body><main>",
        f"<header><h1>Single points of failure \u2014 {_esc(model)}</h1>",
        "<p class='sub'>Each active hub and cold-storage partner is taken out in turn; the "
        "chosen sites stay as they are and patients are re-routed on what is left. The "
        "facility's own contract is still paid. Ranked by patients lost, then by the loss "
        "in money.</p></header>",
        f"<div class='kpis'>{tile_html}</div>",
        f"<p class='lead'>{_esc(_lead(res))}</p>",
        *([f"<p class='note'>{_esc(note)}</p>"] if (note := solved_note(res)) else []),
        "<h2>Loss per outage: network cost and unserved penalty</h2>", _legend(),
        "<div class='chart'>", loss_chart_svg(t), "</div>",
        "<h2>Ranked outages</h2>",
        sortable_table(t, TABLE_COLUMNS, "outages",
                       where="Every row is in resilience.csv."),
        "<footer>Written by <code>netopt resilience</code>; the same table is "
        "resilience.csv.</footer>", "</main></body></html>",
    ]
    return "\n".join(parts)


def write_resilience(res: ResilienceLike, model: str, out: Path) -> Path:
    """resilience.html into `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    page = out / HTML_FILE
    page.write_text(render_resilience(res, model), encoding="utf-8")
    return page


__all__ = ["loss_chart_svg", "render_resilience", "solved_note", "split_parts",
           "write_resilience"]
