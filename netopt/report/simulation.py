"""`simulation.html` and the `simulation` sheet of network.xlsx: the disruption simulation of a
chosen network, as KPIs with 95 % confidence intervals, per-product and per-hub tables and
hand-drawn SVG charts.

Self-contained like report.html (inline CSS and SVG, no script, no CDN asset), so it opens
offline, prints, and can be mailed on its own.
"""

from __future__ import annotations

import html
import math
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .common import fmt_num, fmt_usd, num, text

if TYPE_CHECKING:
    from ..analysis.simulation import SimulationResult

SHEET = "simulation"
BAR = "#0b2f5b"
PEAK = "#c75b12"
MODEL = "#d7191c"
GRID = "#d9dee4"
CHAR_PX = 5.6  # width of a character of the 10 px chart font, for laying out labels
MUTED = "#5b6672"

#: headline tiles: KPI, label, formatter
TILES: tuple[tuple[str, str, str], ...] = (
    ("on_schedule_pct", "doses administered on schedule", "pct"),
    ("doses_wasted_per_year", "doses wasted per year", "num"),
    ("waste_cost_usd_per_year", "cost of wasted doses (COGS) per year", "usd"),
    ("patient_delay_p90_days", "patient delay P90 (days)", "num"),
    ("patient_delay_p99_days", "patient delay P99 (days)", "num"),
    ("vein_to_vein_mean_days", "vein-to-vein, autologous (days)", "num"),
    ("hub_utilisation_pct", "hub utilisation (shipments / capacity)", "pct"),
    ("hub_closed_days_per_year", "weather-closed days per active hub", "num"),
)

#: per-product columns: KPI, header, formatter
PRODUCT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("patients_per_year", "Patients/yr", "num"),
    ("doses_planned_per_year", "Doses/yr", "num"),
    ("on_schedule_pct", "On schedule", "pct"),
    ("doses_wasted_per_year", "Wasted/yr", "num"),
    ("waste_cost_usd_per_year", "Waste cost/yr", "usd"),
    ("doses_not_administered_per_year", "Not given/yr", "num"),
    ("patient_delay_p90_days", "Delay P90 (d)", "num"),
    ("patient_delay_p99_days", "Delay P99 (d)", "num"),
    ("vein_to_vein_mean_days", "V2V mean (d)", "num"),
    ("vein_to_vein_model_days", "V2V model (d)", "num"),
)


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def _fmt(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if kind == "pct":
        return f"{value:.1f} %"
    if kind == "usd":
        return fmt_usd(value)
    return fmt_num(value)


def _ci(row: pd.Series, kind: str) -> str:
    lo, hi = num(row.get("ci_low"), math.nan), num(row.get("ci_high"), math.nan)
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return f"95 % CI {_fmt(lo, kind)} \u2013 {_fmt(hi, kind)}"


# ---------------------------------------------------------------- charts (inline SVG)

def bar_chart_svg(labels: list[str], values: list[float], *, title: str, unit: str,
                  width: float = 480, height: float = 220,
                  second: list[float] | None = None, second_label: str = "") -> str:
    """Vertical bars (and optional second bars beside them) with a labelled y axis."""
    if not labels:
        return '<p class="sub">No data.</p>'
    left, right, top, bottom = 46.0, 8.0, 22.0, 34.0
    slot = (width - left - right) / len(labels)
    longest = max(len(label) for label in labels) * CHAR_PX
    tilt = longest > slot * 0.95  # names longer than their slot are set at an angle
    if tilt:
        bottom += min(longest * 0.6, height * 0.45)
        height += min(longest * 0.6, height * 0.45)
    all_values = [v for v in [*values, *(second or [])] if not math.isnan(v)]
    vmax = max(all_values, default=0.0) or 1.0
    step = _nice_step(vmax)
    ymax = step * math.ceil(vmax / step)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot_w = plot_w / len(labels)
    per = 2 if second is not None else 1
    bar_w = max(1.0, slot_w * 0.8 / per)
    out = [f'<svg viewBox="0 0 {width:g} {height:g}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="{_esc(title)}" font-size="10" font-family="Arial">',
           f'<text x="{left:g}" y="13" font-weight="bold" fill="{MUTED}">{_esc(title)}</text>']
    for i in range(int(round(ymax / step)) + 1):
        v = i * step
        y = top + plot_h - plot_h * v / ymax
        out.append(f'<line x1="{left:g}" x2="{width - right:g}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}"/><text x="{left - 4:g}" y="{y + 3:.1f}" '
                   f'text-anchor="end" fill="{MUTED}">{_esc(fmt_num(v))}</text>')
    label_every = max(1, math.ceil(len(labels) / 24))
    for i, label in enumerate(labels):
        x0 = left + i * slot_w + slot_w * 0.1
        for j, series in enumerate([values, *([second] if second is not None else [])]):
            v = series[i]
            if math.isnan(v) or v <= 0:
                continue
            h = plot_h * v / ymax
            colour = BAR if j == 0 else PEAK
            out.append(f'<rect x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                       f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                       f'<title>{_esc(label)}: {_esc(fmt_num(v))} {_esc(unit)}</title></rect>')
        if i % label_every == 0 and tilt:
            cx, cy = left + (i + 0.5) * slot_w, height - bottom + 12
            out.append(f'<text x="{cx:.1f}" y="{cy:g}" text-anchor="end" fill="{MUTED}" '
                       f'transform="rotate(-35 {cx:.1f} {cy:g})">{_esc(label)}</text>')
        elif i % label_every == 0:
            out.append(f'<text x="{left + (i + 0.5) * slot_w:.1f}" y="{height - bottom + 13:g}"'
                       f' text-anchor="middle" fill="{MUTED}">{_esc(label)}</text>')
    out.append(f'<text class="chart-legend" x="{left:g}" y="{height - 4:g}" fill="{MUTED}">'
               f'{_esc(unit)}'
               + (f' \u2014 <tspan fill="{BAR}">\u25a0</tspan> mean, <tspan fill="{PEAK}">'
                  f'\u25a0</tspan> {_esc(second_label)}' if second is not None else "")
               + "</text></svg>")
    return "".join(out)


def _nice_step(vmax: float) -> float:
    raw = vmax / 4
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def box_plot_svg(rows: list[tuple[str, dict[str, float], float]], *, title: str,
                 width: float = 480) -> str:
    """Horizontal box plots (P5-P25-P50-P75-P95) with the model's planned value as a red
    tick. rows: (label, quantiles, model value)."""
    if not rows:
        return '<p class="sub">No autologous product in this network.</p>'
    longest = max(len(label) for label, _, _ in rows) * CHAR_PX
    left, right, top, row_h = min(max(150.0, longest + 14), width * 0.45), 16.0, 26.0, 30.0
    height = top + row_h * len(rows) + 26
    lo = min(min(q["p5"], m if not math.isnan(m) else q["p5"]) for _, q, m in rows)
    hi = max(max(q["p95"], m if not math.isnan(m) else q["p95"]) for _, q, m in rows)
    lo, hi = math.floor(lo) - 1, math.ceil(hi) + 1
    span = max(hi - lo, 1)
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + plot_w * (v - lo) / span

    out = [f'<svg viewBox="0 0 {width:g} {height:g}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="{_esc(title)}" font-size="10" font-family="Arial">',
           f'<text x="4" y="13" font-weight="bold" fill="{MUTED}">{_esc(title)}</text>']
    # whole days, at most eight ticks: 16, 18, 20 ... rather than 16.2, 17.5, 18.8
    step = next((d for d in (1, 2, 5, 10, 20, 50, 100, 200) if span / d <= 8), 500)
    tick = math.ceil(lo / step) * step
    while tick <= hi:
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4:g}" '
                   f'y2="{height - 22:g}" stroke="{GRID}"/><text x="{x(tick):.1f}" '
                   f'y="{height - 10:g}" text-anchor="middle" fill="{MUTED}">'
                   f'{tick:,.0f}</text>')
        tick += step
    for i, (label, q, model) in enumerate(rows):
        yc = top + row_h * i + row_h / 2
        out.append(f'<text x="{left - 6:g}" y="{yc + 3:.1f}" text-anchor="end">'
                   f'{_esc(label)}</text>')
        out.append(f'<line x1="{x(q["p5"]):.1f}" x2="{x(q["p95"]):.1f}" y1="{yc:.1f}" '
                   f'y2="{yc:.1f}" stroke="{BAR}"/>')
        out.append(f'<rect x="{x(q["p25"]):.1f}" y="{yc - 8:.1f}" '
                   f'width="{max(x(q["p75"]) - x(q["p25"]), 1.5):.1f}" height="16" '
                   f'fill="#cfdcec" stroke="{BAR}"><title>P5 {q["p5"]:g}, P25 {q["p25"]:g}, '
                   f'P50 {q["p50"]:g}, P75 {q["p75"]:g}, P95 {q["p95"]:g} days</title></rect>')
        out.append(f'<line x1="{x(q["p50"]):.1f}" x2="{x(q["p50"]):.1f}" y1="{yc - 8:.1f}" '
                   f'y2="{yc + 8:.1f}" stroke="{BAR}" stroke-width="2"/>')
        if not math.isnan(model):
            out.append(f'<line x1="{x(model):.1f}" x2="{x(model):.1f}" y1="{yc - 11:.1f}" '
                       f'y2="{yc + 11:.1f}" stroke="{MODEL}" stroke-width="2">'
                       f'<title>model: {model:.1f} days</title></line>')
    out.append("</svg>")
    return "".join(out)


def quantiles_from_counts(days: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """P5..P95 of a whole-day histogram (the value where the cumulative share passes q)."""
    order = np.argsort(days)
    days, counts = days[order], counts[order]
    cum = np.cumsum(counts) / counts.sum()
    return {f"p{q}": float(days[min(np.searchsorted(cum, q / 100 - 1e-12), len(days) - 1)])
            for q in (5, 25, 50, 75, 95)}


# ---------------------------------------------------------------- page sections

def _tiles(kpis: pd.DataFrame) -> str:
    k = kpis.set_index("kpi")
    out = ['<div class="kpis">']
    for name, label, kind in TILES:
        if name not in k.index:
            continue
        row = k.loc[name]
        out.append(f'<div class="kpi"><div class="v">{_esc(_fmt(num(row["mean"], math.nan), kind))}'
                   f'</div><div class="l">{_esc(label)}</div>'
                   f'<div class="l">{_esc(_ci(row, kind))}</div></div>')
    out.append("</div>")
    return "".join(out)


def _kind(unit: str) -> str:
    return "pct" if unit == "%" else "usd" if unit.startswith("USD") else "num"


def kpi_words(kpi: str) -> str:
    """A KPI id in words for the table ('dose_delay_p90_days' -> 'Dose delay P90'; the unit
    column carries the unit)."""
    words = re.sub(r"_(pct|days)$", "", kpi).replace("_usd", "").replace("_", " ")
    words = re.sub(r"\bp(\d\d)\b", lambda m: "P" + m.group(1), words)
    words = words.replace("vein to vein", "vein-to-vein").replace(" model", " (model plan)")
    return words[:1].upper() + words[1:]


def _kpi_table(kpis: pd.DataFrame) -> str:
    body = []
    for r in kpis.to_dict("records"):
        kind = _kind(text(r["unit"]))
        body.append(f"<tr><td title=\"{_esc(r['kpi'])} in kpis.csv\">"
                    f"{_esc(kpi_words(text(r['kpi'])))}</td><td>{_esc(r['unit'])}</td>"
                    f"<td class='n'>{_esc(_fmt(num(r['mean'], math.nan), kind))}</td>"
                    f"<td class='n'>{_esc(_fmt(num(r['ci_low'], math.nan), kind))}</td>"
                    f"<td class='n'>{_esc(_fmt(num(r['ci_high'], math.nan), kind))}</td></tr>")
    return ("<table><thead><tr><th>KPI</th><th>Unit</th><th class='n'>Mean</th>"
            "<th class='n'>95 % CI low</th><th class='n'>95 % CI high</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def product_wide(products: pd.DataFrame) -> pd.DataFrame:
    """Long per-product table -> one row per product, one column per KPI mean."""
    if products.empty:
        return pd.DataFrame()
    return products.pivot(index="product_id", columns="kpi", values="mean")


def _product_table(sim: SimulationResult) -> str:
    wide = product_wide(sim.tables["products"])
    names = sim.network.products["name"]
    head = "".join(f"<th class='n'>{_esc(h)}</th>" for _, h, _ in PRODUCT_COLUMNS)
    body = []
    for pid in wide.index:
        cells = "".join(
            f"<td class='n'>{_esc(_fmt(num(wide.at[pid, k], math.nan), kind))}</td>"
            if k in wide.columns else "<td class='n'>\u2013</td>"
            for k, _, kind in PRODUCT_COLUMNS)
        body.append(f"<tr><td>{_esc(names.get(pid, pid))}</td>{cells}</tr>")
    return (f"<table><thead><tr><th>Product</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _hub_rows(sim: SimulationResult) -> pd.DataFrame:
    hubs = sim.tables["hubs"]
    if hubs.empty:
        return pd.DataFrame()
    wide = hubs.pivot(index="hub_id", columns="kpi", values="mean")
    info = sim.network.hubs
    wide = wide.join(info[["name", "region", "active", "capacity_shipments_per_year",
                           "model_shipments_per_year"]])
    used = wide["active"].astype(bool) | (wide.get("shipments_per_year", 0) > 0)
    return wide[used]


def _hub_table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return '<p class="sub">No hub carries product in this network.</p>'
    body = []
    for hid, r in rows.iterrows():
        body.append(
            f"<tr><td>{_esc(hid)}</td><td>{_esc(r['name'])}</td><td>{_esc(r['region'])}</td>"
            f"<td class='n'>{_esc(fmt_num(num(r['capacity_shipments_per_year'])))}</td>"
            f"<td class='n'>{_esc(fmt_num(num(r['model_shipments_per_year'])))}</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('shipments_per_year'))))}</td>"
            f"<td class='n'>{_esc(_fmt(num(r.get('utilisation_pct'), math.nan), 'pct'))}</td>"
            f"<td class='n'>{_esc(_fmt(num(r.get('peak_day_utilisation_pct'), math.nan), 'pct'))}"
            f"</td><td class='n'>{_esc(fmt_num(num(r.get('closed_days_per_year'))))}</td></tr>")
    return ("<table><thead><tr><th>Hub</th><th>Name</th><th>Region</th>"
            "<th class='n'>Capacity (shipments/yr)</th><th class='n'>Model shipments/yr</th>"
            "<th class='n'>Simulated shipments/yr</th><th class='n'>Utilisation</th>"
            "<th class='n'>Busiest day vs daily capacity</th>"
            "<th class='n'>Closed days/yr</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _delay_chart(delays: pd.DataFrame) -> str:
    d = delays[(delays["measure"] == "patient_delay") & (delays["product_id"] == "all")]
    if d.empty:
        return '<p class="sub">No patient was treated.</p>'
    on_time = float(d.loc[d["days"] == 0, "share"].sum())
    late = d[d["days"] > 0]
    cap = 30
    shares = np.zeros(cap + 1)
    for day, share in zip(late["days"], late["share"], strict=True):
        shares[min(int(day), cap)] += share
    labels = [str(i) for i in range(1, cap)] + [f"{cap}+"]
    svg = bar_chart_svg(labels, list(100 * shares[1:]), title="Patients by worst delay (days)",
                        unit="% of treated patients", width=960, height=230)
    return (f"{svg}<figcaption>{100 * on_time:.1f} % of treated patients had every dose on "
            "its planned day (not drawn); bars show the rest by their worst dose delay."
            "</figcaption>")


def _v2v_chart(sim: SimulationResult) -> str:
    d = sim.tables["delays"]
    d = d[(d["measure"] == "vein_to_vein") & (d["product_id"] != "all")]
    wide = product_wide(sim.tables["products"])
    rows = []
    for pid, g in d.groupby("product_id", sort=True):
        model = num(wide.at[pid, "vein_to_vein_model_days"], math.nan) \
            if "vein_to_vein_model_days" in wide.columns and pid in wide.index else math.nan
        q = quantiles_from_counts(g["days"].to_numpy(float), g["count_per_year"].to_numpy(float))
        rows.append((text(sim.network.products["name"].get(pid, pid)), q, model))
    return box_plot_svg(rows, title="Vein-to-vein time (days, apheresis to infusion)",
                        width=960)


def _hub_chart(rows: pd.DataFrame) -> str:
    if rows.empty:
        return ""
    labels = [text(n) or text(h) for h, n in zip(rows.index, rows["name"], strict=True)]
    return bar_chart_svg(labels, [num(v, math.nan) for v in rows["utilisation_pct"]],
                         second=[num(v, math.nan) for v in rows["peak_day_utilisation_pct"]],
                         second_label="busiest day vs daily capacity",
                         title="Hub utilisation", unit="% of capacity", width=960)


def _settings_block(sim: SimulationResult) -> str:
    s = sim.settings.model_dump(mode="json")
    items = "".join(f"<div><b>{_esc(k)}</b>: {_esc(v)}</div>" for k, v in s.items())
    return f'<div class="settings">{items}</div>'


def render_simulation(sim: SimulationResult) -> str:
    """The simulation page as one self-contained HTML string."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    s = sim.settings
    model = sim.network.model_name
    hub_rows = _hub_rows(sim)
    warn = "".join(f'<p class="sub">Note: {_esc(w)}</p>' for w in sim.warnings)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt simulation — {model}')}</title>",
        f"<style>\n{css}\n</style></head><body><main>",
        f"<header><h1>Disruption simulation \u2014 {_esc(model)}</h1>",
        f'<p class="sub">{s.replications} replications of {s.days} days, seed {s.seed}: '
        "patients arrive at the optimizer's rates, doses travel the chosen lanes through hubs "
        "that weather can close; shelf life and shipper hold time are enforced and wasted "
        "doses replaced. Figures are means with 95 % confidence intervals across "
        "replications.</p>",
        '<p class="sub">Stock is simulated as per-patient shipments: the waste below is doses '
        "lost on the way or at the site's door, not the expiries of stock held at sites, hubs "
        "or partners (those are finance.csv's <code>expired_doses_per_year</code>).</p>",
        warn, "</header>",
        _tiles(sim.tables["kpis"]),
        "<h2>Patient delay</h2><figure class='chart'>", _delay_chart(sim.tables["delays"]),
        "</figure>",
        "<h2>Vein-to-vein time of autologous products</h2><figure class='chart'>",
        _v2v_chart(sim),
        "<figcaption>Boxes P25\u2013P75, whiskers P5\u2013P95, thick line the median; red "
        "tick: the optimizer's planned vein-to-vein time (before slot rounding and planning "
        "slack).</figcaption></figure>",
        "<h2>By product</h2>", _product_table(sim),
        "<h2>Hubs</h2><figure class='chart'>", _hub_chart(hub_rows), "</figure>",
        _hub_table(hub_rows),
        "<h2>All KPIs</h2>", _kpi_table(sim.tables["kpis"]),
        "<h2>Settings</h2>", _settings_block(sim),
        "<footer>Written by netopt simulate; every figure is in the CSV tables beside this "
        "page (kpis, products, hubs, site_products, delays, replications).</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_simulation_report(sim: SimulationResult, path: Path) -> Path:
    """Write simulation.html (self-contained)."""
    path.write_text(render_simulation(sim), encoding="utf-8")
    return path


# ---------------------------------------------------------------- workbook sheet

def append_simulation_sheet(sim: SimulationResult, workbook: Path,
                            save_as: Path | None = None) -> bool:
    """Add (or replace) a `simulation` sheet in an existing network.xlsx, keeping its other
    sheets, and save it as `save_as` (default: in place). Returns False (and writes
    nothing) when the workbook cannot be read."""
    from openpyxl.styles import Font, PatternFill

    from .workbook import open_without_sheet

    wb = open_without_sheet(workbook, SHEET)
    if wb is None:
        return False
    ws = wb.create_sheet(SHEET)
    fill, font = PatternFill("solid", fgColor="0B2F5B"), Font(bold=True, color="FFFFFF")
    ws.cell(row=1, column=1, value=f"Disruption simulation: {sim.settings.replications} "
            f"replications x {sim.settings.days} days, seed {sim.settings.seed}").font = \
        Font(bold=True, size=13)
    kpis = sim.tables["kpis"]
    # in words, as the page reads; the ids of kpis.csv and products.csv stay beside them
    r = _sheet_table(ws, 3, pd.DataFrame({
        "KPI": [kpi_words(str(k)) for k in kpis["kpi"]], "Unit": kpis["unit"],
        "Mean": kpis["mean"], "95 % CI low": kpis["ci_low"], "95 % CI high": kpis["ci_high"],
        "Replications": kpis["replications"], "kpi (kpis.csv)": kpis["kpi"]}), fill, font)
    products = sim.tables["products"]
    wide = product_wide(products)
    if len(wide):
        order = [k for k in kpis["kpi"] if k in wide.columns]  # as the KPI table above
        wide = wide[order + [k for k in wide.columns if k not in order]]
        units = dict(zip(products["kpi"], products["unit"], strict=True))
        names = sim.network.products["name"]
        wide.columns = [f"{kpi_words(str(k))} ({units[k]})" for k in wide.columns]
        wide.insert(0, "Product", [str(names.get(pid, pid)) for pid in wide.index])
        wide["product_id (products.csv)"] = list(wide.index)
        ws.cell(row=r + 1, column=1, value="Per product (mean over replications)").font = \
            Font(bold=True)
        _sheet_table(ws, r + 2, wide.reset_index(drop=True), fill, font)
    ws.column_dimensions["A"].width = 34
    for column in "BCDEFGHIJKLMNOPQRSTU":
        ws.column_dimensions[column].width = 14
    ws.freeze_panes = "B4"  # the KPI names and the table's header stay in view
    wb.save(save_as or workbook)
    return True


def _sheet_table(ws, row: int, frame: pd.DataFrame, fill, font) -> int:  # noqa: ANN001
    from openpyxl.styles import Alignment

    for j, col in enumerate(frame.columns, start=1):
        cell = ws.cell(row=row, column=j, value=str(col))
        cell.fill, cell.font = fill, font
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for values in frame.itertuples(index=False, name=None):
        row += 1
        for j, v in enumerate(values, start=1):
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = None
            cell = ws.cell(row=row, column=j, value=v if not isinstance(v, str) else None)
            if isinstance(v, str):
                cell.value = v
                cell.data_type = "s"  # text stays text, never a formula
            elif isinstance(v, float):
                cell.number_format = "#,##0.00"
    return row + 1
