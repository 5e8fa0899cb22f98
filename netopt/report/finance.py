"""Finance page (`finance.html`): ordering policy per site, expiries, working capital by holder,
and the return-policy trade-off chart (inline SVG, works offline)."""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path

import pandas as pd

from ..results.folder import Run, results_folder
from .common import fmt_int, fmt_num, fmt_usd, text

HOLDERS = (("manufacturer", "working_capital_manufacturer_usd"),
           ("distributor", "working_capital_distributor_usd"),
           ("site", "working_capital_site_usd"))
POLICY_LABELS = {
    "jit_per_patient": "JIT per patient", "stocked_at_site": "stocked at site",
    "consignment_at_site": "consignment at site",
    "held_at_partner_with_jit_delivery": "held at partner, JIT delivery",
    "held_at_hub": "held at hub",
}


def _esc(value: object) -> str:
    return html.escape(text(value))


def finance_totals(finance: pd.DataFrame) -> dict[str, float]:
    """Headline figures: expiries, write-offs, inventory and working capital by holder."""
    f = finance
    out = {
        "expired_doses_per_year": float(f["expired_doses_per_year"].sum()),
        "expired_usd": float(f["expired_usd"].sum()),
        "manufacturer_writeoff_usd": float(f["manufacturer_writeoff_usd"].sum()),
        "site_loss_usd": float(f["site_loss_usd"].sum()),
        "inventory_value_usd": float(f["avg_inventory_value_usd"].sum()),
        "holding_cost_usd": float(f["holding_cost_usd"].sum()),
    }
    for holder, col in HOLDERS:
        out[f"working_capital_{holder}_usd"] = float(f[col].sum())
    return out


def policy_mix(finance: pd.DataFrame) -> pd.DataFrame:
    """Site-products, patients and doses by ordering policy."""
    return finance.groupby("policy", sort=True).agg(
        site_products=("site_id", "size"), sites=("site_id", "nunique"),
        patients_per_year=("patients_per_year", "sum"),
        doses_per_year=("doses_per_year", "sum"),
        expired_doses_per_year=("expired_doses_per_year", "sum"),
        manufacturer_writeoff_usd=("manufacturer_writeoff_usd", "sum")).reset_index()


def tradeoff_svg(tradeoff: pd.DataFrame, width: float = 720.0, height: float = 300.0) -> str:
    """Returnable fraction (x) vs sites willing to stock (bars, left axis) and manufacturer
    write-offs (line, right axis)."""
    if tradeoff.empty:
        return "<p class='sub'>No product in scope may be stocked at sites.</p>"
    left, right, top, bottom = 60.0, 80.0, 20.0, 44.0
    w, h = width - left - right, height - top - bottom
    xs = tradeoff["returnable_fraction"].tolist()
    sites = tradeoff["sites_willing"].astype(float).tolist()
    money = tradeoff["manufacturer_writeoff_usd"].astype(float).tolist()
    s_max = float(max(4, math.ceil(max(sites) / 4) * 4))  # whole-site ticks
    m_max = max(max(money), 1.0)
    step = w / len(xs)
    parts = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             'aria-label="Return policy trade-off" xmlns="http://www.w3.org/2000/svg" '
             'font-family="sans-serif" font-size="11">']
    parts.append(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" '
                 'stroke="#555"/>')
    for k in range(5):
        v = s_max * k / 4
        y = top + h - h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{v:,.0f}</text>')
        parts.append(f'<text x="{left + w + 6}" y="{y + 4:.1f}">'
                     f'{html.escape(fmt_usd(m_max * k / 4))}</text>')
    points = []
    for i, (x, s, mny) in enumerate(zip(xs, sites, money, strict=True)):
        cx = left + step * (i + 0.5)
        bh = h * s / s_max
        parts.append(f'<rect x="{cx - step * 0.3:.1f}" y="{top + h - bh:.1f}" '
                     f'width="{step * 0.6:.1f}" height="{bh:.1f}" fill="#4a90c2">'
                     f'<title>{s:,.0f} sites willing at {x:.0%} returnable</title></rect>')
        parts.append(f'<text x="{cx:.1f}" y="{top + h + 16}" text-anchor="middle">'
                     f'{x:.0%}</text>')
        points.append((cx, top + h - h * mny / m_max, mny))
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#b2182b" stroke-width="2"/>')
    for px, py, mny in points:
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="#b2182b">'
                     f'<title>{html.escape(fmt_usd(mny))} manufacturer write-offs</title>'
                     '</circle>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 6}" text-anchor="middle">'
                 'share of unused stock a site may return</text>')
    parts.append(f'<text x="14" y="{top + h / 2}" transform="rotate(-90 14 {top + h / 2})" '
                 'text-anchor="middle" fill="#4a90c2">sites willing to stock</text>')
    parts.append(f'<text x="{width - 10}" y="{top + h / 2}" '
                 f'transform="rotate(90 {width - 10} {top + h / 2})" text-anchor="middle" '
                 'fill="#b2182b">manufacturer write-offs (USD/yr)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, cols: list[tuple[str, str, str]]) -> str:
    head = "".join(f"<th{'' if how == 'text' else ' class=n'}>{_esc(label)}</th>"
                   for _, label, how in cols)
    body = []
    for _, r in frame.iterrows():
        cells = []
        for col, _, how in cols:
            v = r[col]
            if how == "text":
                cells.append(f"<td>{_esc(POLICY_LABELS.get(v, v))}</td>")
            elif how == "usd":
                cells.append(f"<td class='n'>{_esc(fmt_usd(float(v)))}</td>")
            elif how == "pct":
                cells.append(f"<td class='n'>{float(v):.1%}</td>")
            elif how == "int":
                cells.append(f"<td class='n'>{_esc(fmt_int(float(v)))}</td>")
            else:
                cells.append(f"<td class='n'>{_esc(fmt_num(float(v)))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


SITE_COLUMNS = [
    ("site_name", "Site", "text"), ("state", "State", "text"), ("product_id", "Product", "text"),
    ("policy", "Policy", "text"), ("title_holder", "Title", "text"),
    ("patients_per_year", "Patients/yr", "num"), ("stock_level_doses", "Base stock", "int"),
    ("fill_rate", "Fill rate", "pct"), ("expired_doses_per_year", "Expired doses/yr", "num"),
    ("manufacturer_writeoff_usd", "Mfr write-off/yr", "usd"),
    ("site_loss_usd", "Site loss/yr", "usd"),
    ("working_capital_manufacturer_usd", "WC mfr", "usd"),
    ("working_capital_site_usd", "WC site", "usd"),
]


def render_finance(finance: pd.DataFrame, tradeoff: pd.DataFrame, model: str) -> str:
    """finance.html as one self-contained string."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    t = finance_totals(finance)
    tiles = [
        (fmt_num(t["expired_doses_per_year"]), "doses expired per year"),
        (fmt_usd(t["expired_usd"]), "expired, at cost of goods"),
        (fmt_usd(t["manufacturer_writeoff_usd"]), "manufacturer write-offs per year"),
        (fmt_usd(t["inventory_value_usd"]), "average inventory value"),
    ] + [(fmt_usd(t[f"working_capital_{h}_usd"]), f"working capital, {h}")
         for h, _ in HOLDERS] + [(fmt_usd(t["holding_cost_usd"]), "holding cost per year")]
    tile_html = "".join(f"<div class='kpi'><div class='v'>{_esc(v)}</div>"
                        f"<div class='l'>{_esc(label)}</div></div>" for v, label in tiles)
    mix = policy_mix(finance)
    sites = finance.sort_values(["policy", "site_id", "product_id"])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(f'netopt finance — {model}')}</title>",
        f"<style>\n{css}\n</style></head><body><main>",
        f"<header><h1>Inventory and working capital \u2014 {_esc(model)}</h1>",
        "<p class='sub'>Ordering policy of every active site and product, as chosen by the "
        "network model, evaluated at the site's volume. Working capital = inventory on the "
        "holder's books + (manufacturer) receivables under the payment terms, (site) inventory "
        "minus payables.</p></header>",
        f"<div class='kpis'>{tile_html}</div>",
        "<h2>Policy mix</h2>",
        _table(mix, [("policy", "Policy", "text"), ("sites", "Sites", "int"),
                     ("site_products", "Site-products", "int"),
                     ("patients_per_year", "Patients/yr", "num"),
                     ("doses_per_year", "Doses/yr", "num"),
                     ("expired_doses_per_year", "Expired doses/yr", "num"),
                     ("manufacturer_writeoff_usd", "Mfr write-offs/yr", "usd")]),
        "<h2>Return policy: generosity vs sites willing to stock vs write-offs</h2>",
        "<div class='chart'>", tradeoff_svg(tradeoff), "</div>",
        "<p class='sub'>Each served site-product whose product may be stocked at the site is "
        "offered its stock terms with the returnable share swept; a site is willing when its "
        "expected loss (expiries it keeps, restocking fees, capital) stays within its limit. "
        "Write-offs: what the manufacturer would write off if every willing site stocked.</p>",
        "<h2>By site and product</h2>", _table(sites, SITE_COLUMNS),
        "<footer>Written by <code>netopt finance</code> from finance.csv of this result; "
        "the same table is the <i>finance</i> sheet of network.xlsx.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_finance(finance: pd.DataFrame, tradeoff: pd.DataFrame, model: str,
                  out: Path) -> list[Path]:
    """finance.html and return_tradeoff.csv into `out`, as one run added to what the folder
    holds (see results/folder.py)."""
    with results_folder(Path(out), Run("finance", model=model), attach=True) as staging:
        page = staging.dir / "finance.html"
        page.write_text(render_finance(finance, tradeoff, model), encoding="utf-8")
        csv = staging.dir / "return_tradeoff.csv"
        tradeoff.to_csv(csv, index=False, lineterminator="\n")
    return staging.final([page, csv])
