"""Finance page (`finance.html`): ordering policy per site, expiries, working capital by holder,
and the return-policy trade-off chart (inline SVG, works offline)."""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path

import pandas as pd

from ..results.folder import Run, results_folder
from .common import NO_TERMS, fmt_num, fmt_usd, num, terms_unknown, text
from .sortable import assets as sortable_assets
from .sortable import cell, named, sortable_table

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
    """Site-products, patients and doses by ordering policy (site rows: a depot's pooled row
    repeats its sites' patients, and its expiries are added to the policy's)."""
    depot = finance[finance["row"] == "depot"] if "row" in finance else finance.iloc[0:0]
    sites = finance[finance["row"] != "depot"] if "row" in finance else finance
    mix = sites.groupby("policy", sort=True).agg(
        site_products=("site_id", "size"), sites=("site_id", "nunique"),
        patients_per_year=("patients_per_year", "sum"),
        doses_per_year=("doses_per_year", "sum"),
        expired_doses_per_year=("expired_doses_per_year", "sum"),
        manufacturer_writeoff_usd=("manufacturer_writeoff_usd", "sum"))
    extra = depot.groupby("policy")[["expired_doses_per_year", "manufacturer_writeoff_usd"]].sum()
    mix[["expired_doses_per_year", "manufacturer_writeoff_usd"]] = mix[[
        "expired_doses_per_year", "manufacturer_writeoff_usd"]].add(extra, fill_value=0.0)
    return mix.reset_index()


STOCK_POINTS = {"held_at_hub": "hub", "held_at_partner_with_jit_delivery": "partner",
                "stocked_at_site": "site", "consignment_at_site": "site",
                "jit_per_patient": "none"}


def _col(f: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, zeros when an older finance.csv lacks it."""
    if name not in f.columns:
        return pd.Series(0.0, index=f.index)
    return pd.to_numeric(f[name], errors="coerce").fillna(0.0)


def expiry_bearers(finance: pd.DataFrame) -> pd.DataFrame:
    """Who bears the doses that expire, by holder and stock point.

    A dose that expires in stock is lost by whoever holds title to it: the manufacturer (its
    own stock, and the returns it credits), a distributor owning hub or partner stock, or a
    site that bought its stock. `cogs_usd` values the doses at cost of goods (the network's
    real loss); `loss_usd` is the holder's own loss (its books: distributor and manufacturer
    at cost of goods, a site at price, with restocking fees and the capital charge). A
    returned dose is the manufacturer's at cost of goods: the credit it pays gives back what
    the site was billed for the dose (`credit_usd`), a sale reversed rather than a loss."""
    f = finance
    point = f["policy"].map(lambda p: STOCK_POINTS.get(text(p), "site"))
    expired = _col(f, "expired_doses_per_year")
    cogs = (_col(f, "expired_usd") / expired.where(expired > 0)).fillna(0.0)
    dist_doses = _col(f, "distributor_expired_doses")
    dist_loss = _col(f, "distributor_loss_usd") if "distributor_loss_usd" in f.columns \
        else dist_doses * cogs
    m_doses = _col(f, "manufacturer_writeoff_doses")
    parts = {
        "manufacturer": (m_doses, m_doses * cogs),
        "distributor": (dist_doses, dist_loss),
        "site": (_col(f, "site_expired_doses"), _col(f, "site_loss_usd")),
    }
    credits, returned = _col(f, "return_credit_usd"), _col(f, "returned_doses_per_year")
    rows = []
    for holder, (doses, loss) in parts.items():
        for where in ("hub", "partner", "site", "none"):
            on = point == where
            d = float(doses[on].sum())
            if d > 1e-9 or float(loss[on].sum()) > 0.5:
                rows.append({"holder": holder, "stock_point": where, "expired_doses_per_year": d,
                             "cogs_usd": float((doses[on] * cogs[on]).sum()),
                             "loss_usd": float(loss[on].sum()),
                             "returned_doses": float(returned[on].sum())
                             if holder == "manufacturer" else 0.0,
                             "credit_usd": float(credits[on].sum())
                             if holder == "manufacturer" else 0.0})
    return pd.DataFrame(rows, columns=["holder", "stock_point", "expired_doses_per_year",
                                       "cogs_usd", "loss_usd", "returned_doses", "credit_usd"])


HOLDER_WORDS = {
    "manufacturer": "Manufacturer", "distributor": "Distributor (owns the stock)",
    "site": "Treatment site",
}
POINT_WORDS = {"hub": "at 3PL hubs", "partner": "at cold-storage partners",
               "site": "at sites", "none": "in transit"}
LOSS_WORDS = {
    "manufacturer": "its own expired doses and those sites return to it, at cost of goods",
    "distributor": "its expired doses at cost of goods, restocking fees and the capital "
                   "charge on its stock",
    "site": "its expired doses at price, restocking fees and the capital charge on its stock",
}


def bearers_section(finance: pd.DataFrame) -> str:
    """The 'who bears the expiries' table and one sentence that answers it."""
    b = expiry_bearers(finance)
    total = float(_col(finance, "expired_doses_per_year").sum())
    if b.empty or total <= 1e-9:
        return ("<p>No dose expires in stock: every site-product is served just in time, "
                "one shipment per dose.</p>")
    rows = "".join(
        f"<tr><td>{_esc(HOLDER_WORDS[r.holder])}</td><td>{_esc(POINT_WORDS[r.stock_point])}"
        f"</td><td class='n'>{_esc(fmt_num(r.expired_doses_per_year))}</td>"
        f"<td class='n'>{_esc(fmt_usd(r.cogs_usd))}</td>"
        f"<td class='n'>{_esc(fmt_usd(r.loss_usd))}</td>"
        f"<td class='why'>{_esc(LOSS_WORDS[r.holder])}</td></tr>"
        for r in b.itertuples(index=False))
    cogs = float(_col(finance, "expired_usd").sum())
    kept = b[b["holder"] == "site"]
    outside = float(kept["cogs_usd"].sum())
    counted = ("the model's cost counts every one" if outside <= 0.5 else
               "the model's cost counts the manufacturer's and distributors' share; the "
               f"{fmt_num(float(kept['expired_doses_per_year'].sum()))} doses sites keep "
               f"({fmt_usd(outside)} at cost of goods) are the sites' loss, outside it and "
               "bounded by each site's loss limit")
    rows += (f"<tr class='total'><td>All holders</td><td></td><td class='n'>"
             f"{_esc(fmt_num(total))}</td><td class='n'>{_esc(fmt_usd(cogs))}</td>"
             "<td></td><td class='why'>the network's real loss is the cost of goods of every "
             f"wasted dose, whoever holds it; {_esc(counted)}</td></tr>")
    top = b.sort_values("expired_doses_per_year", ascending=False).iloc[0]
    share = top.expired_doses_per_year / total
    whose = f"on the {top.holder}'s books"
    if top.returned_doses > 1e-9:
        whose = (f"and fall to the manufacturer ({fmt_num(top.returned_doses)} of them returned "
                 "by the sites that bought them)")
    lead = (f"{fmt_num(top.expired_doses_per_year)} of the {fmt_num(total)} doses that expire "
            f"each year ({share:.0%}) expire {POINT_WORDS[top.stock_point]} {whose}: a loss "
            f"of {fmt_usd(top.loss_usd)} a year to the {top.holder}"
            + (" at cost of goods." if top.holder != "site" else "."))
    if top.credit_usd > 0.5:
        lead += (f" The {fmt_usd(top.credit_usd)} of return credits it pays for them give back "
                 "what the sites were billed: revenue reversed, not a further loss.")
    if top.holder == "distributor":
        lead += (" The manufacturer writes none of them off; it pays for them only through "
                 "the distributor's terms.")
    return (f"<p class='lead'>{_esc(lead)}</p><table class='bearers'><thead><tr>"
            "<th>Who bears it</th><th>Where the doses expire</th><th class=n>Doses/yr</th>"
            "<th class=n>At cost of goods/yr</th><th class=n>Holder's loss/yr</th>"
            f"<th>The holder's loss is</th></tr></thead><tbody>{rows}</tbody></table>")


TRADEOFF_LEGEND = (
    "<div class='legend'>"
    "<span><svg width='12' height='12'><rect width='12' height='12' fill='#4a90c2'/></svg>"
    "sites willing to stock (bars, left axis)</span>"
    "<span><svg width='22' height='12'><line x1='1' x2='21' y1='6' y2='6' stroke='#b2182b' "
    "stroke-width='2'/><circle cx='11' cy='6' r='3.5' fill='#b2182b'/></svg>"
    "manufacturer return credits and write-offs if the willing sites stocked (line, right "
    "axis; the tiles above count the chosen network's, consignment and depots included)</span>"
    "<span><svg width='12' height='12'><rect width='12' height='12' fill='#fdf0d5' "
    "stroke='#e3c98f'/></svg>the returnable share the products' terms give today</span>"
    "</div>")


def _axis_money(m_max: float, k: int) -> str:
    if m_max <= 0:
        return "$0" if k == 0 else ""
    return fmt_usd(m_max * k / 4)


def tradeoff_svg(tradeoff: pd.DataFrame, width: float = 720.0, height: float = 300.0,
                 names: dict[str, str] | None = None) -> str:
    """Returnable fraction (x) vs sites willing to stock (bars, left axis) and manufacturer
    write-offs (line, right axis); today's policy is a shaded column with its products."""
    if tradeoff.empty:
        return "<p class='sub'>No product in scope may be stocked at sites.</p>"
    left, right, top, bottom = 60.0, 80.0, 34.0, 44.0
    w, h = width - left - right, height - top - bottom
    xs = tradeoff["returnable_fraction"].tolist()
    sites = tradeoff["sites_willing"].astype(float).tolist()
    money = tradeoff["manufacturer_writeoff_usd"].astype(float).tolist()
    current = [text(v) for v in tradeoff.get("current_policy_products",
                                             pd.Series([""] * len(xs)))]
    s_max = float(max(4, math.ceil(max(sites) / 4) * 4))  # whole-site ticks
    m_max = max(money) if max(money) > 0.5 else 0.0
    step = w / len(xs)
    parts = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             'aria-label="Return policy trade-off" xmlns="http://www.w3.org/2000/svg" '
             'font-family="sans-serif" font-size="11">']
    for i, now in enumerate(current):
        if now:
            cx = left + step * (i + 0.5)
            label = "today: " + ", ".join((names or {}).get(p, p) for p in now.split(";"))
            label = label[:60]
            # kept inside the frame: a label over the last column ends at its right edge
            half = len(label) * 3.3  # half its width at 11 px, bold
            x, anchor = cx, "middle"
            if cx + half > left + w:
                x, anchor = cx + step / 2, "end"
            elif cx - half < 0:
                x, anchor = cx - step / 2, "start"
            parts.append(f'<rect class="current" x="{cx - step / 2:.1f}" y="{top - 4}" '
                         f'width="{step:.1f}" height="{h + 4:.1f}" fill="#fdf0d5"/>'
                         f'<text x="{x:.1f}" y="{top - 10}" text-anchor="{anchor}" '
                         f'fill="#8a5a00" font-weight="bold">{html.escape(label)}</text>')
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
                     f'{html.escape(_axis_money(m_max, k))}</text>')
    points = []
    for i, (x, s, mny) in enumerate(zip(xs, sites, money, strict=True)):
        cx = left + step * (i + 0.5)
        bh = h * s / s_max
        parts.append(f'<rect x="{cx - step * 0.3:.1f}" y="{top + h - bh:.1f}" '
                     f'width="{step * 0.6:.1f}" height="{bh:.1f}" fill="#4a90c2">'
                     f'<title>{s:,.0f} sites willing at {x:.0%} returnable</title></rect>')
        parts.append(f'<text x="{cx:.1f}" y="{top + h + 16}" text-anchor="middle">'
                     f'{x:.0%}</text>')
        points.append((cx, top + h - (h * mny / m_max if m_max else 0.0), mny))
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#b2182b" stroke-width="2"/>')
    for px, py, mny in points:
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="#b2182b">'
                     f'<title>{html.escape(fmt_usd(mny))} manufacturer write-offs</title>'
                     '</circle>')
    if max(sites) <= 0:
        considered = int(num(tradeoff["site_products_considered"].max())) \
            if "site_products_considered" in tradeoff.columns else 0
        cx, cy = left + w / 2, top + h * 0.3
        parts.append(f'<rect x="{cx - 230:.1f}" y="{cy - 17:.1f}" width="460" height="40" '
                     'rx="4" fill="#ffffff" fill-opacity="0.92" stroke="#d9dee4"/>'
                     f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" font-size="12" '
                     'fill="#1d2733">No site would stock at any returnable share</text>'
                     f'<text x="{cx:.1f}" y="{cy + 16:.1f}" text-anchor="middle" '
                     f'font-size="11" fill="#5b6672">{considered} site-products offered: each '
                     "one's expected loss exceeds its limit</text>")
    parts.append(f'<text x="{left + w / 2}" y="{height - 6}" text-anchor="middle">'
                 'share of unused stock a site may return</text>')
    parts.append(f'<text x="14" y="{top + h / 2}" transform="rotate(-90 14 {top + h / 2})" '
                 'text-anchor="middle" fill="#4a90c2">sites willing to stock</text>')
    parts.append(f'<text x="{width - 10}" y="{top + h / 2}" '
                 f'transform="rotate(90 {width - 10} {top + h / 2})" text-anchor="middle" '
                 'fill="#b2182b">credits + write-offs of stocking sites (USD/yr)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, cols: list[tuple[str, str, str]]) -> str:
    head = "".join(f"<th{'' if how == 'text' else ' class=n'}>{_esc(label)}</th>"
                   for _, label, how in cols)
    body = "".join("<tr>" + "".join(cell(r.get(col), how, POLICY_LABELS)
                                    for col, _, how in cols) + "</tr>"
                   for _, r in frame.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


SITE_COLUMNS = [
    ("site_name", "Site", "text"), ("state", "State", "text"), ("product", "Product", "named"),
    ("policy", "Policy", "text"), ("title_holder", "Title", "text"),
    ("stock_point", "Stock at", "text"), ("depot_id", "Depot", "text"),
    ("patients_per_year", "Patients/yr", "num"), ("stock_level_doses", "Base stock (doses)",
                                                  "int"),
    ("fill_rate", "Fill rate", "pct"), ("expired_doses_per_year", "Expired doses/yr", "num"),
    ("manufacturer_writeoff_usd", "Mfr credits + write-offs/yr", "usd"),
    ("distributor_loss_usd", "Distributor loss/yr", "usd"),
    ("site_loss_usd", "Site loss/yr", "usd"),
    ("working_capital_manufacturer_usd", "Working capital, mfr", "usd"),
]
FINANCE_CSS = """
main { max-width: 1400px; }
p.lead { font-size: 14px; margin: 6px 0 8px; }
table.bearers td.why { color: var(--muted); font-size: 11.5px; }
.kpis { grid-template-columns: repeat(4, 1fr); }
.chart svg { max-width: 860px; display: block; }
"""


def _tiles(finance: pd.DataFrame) -> str:
    t = finance_totals(finance)
    dist_loss = float(expiry_bearers(finance).query("holder == 'distributor'")["loss_usd"].sum())
    unknown = terms_unknown(finance)  # $0 of capital would read as "paid on delivery"

    def capital(usd: float, label: str) -> tuple[str, str]:
        return ("\u2014", f"{label}: {NO_TERMS}") if unknown else (fmt_usd(usd), label)

    tiles = [
        (fmt_num(t["expired_doses_per_year"]), "doses expired per year"),
        (fmt_usd(t["expired_usd"]), "expired, at cost of goods"),
        (fmt_usd(t["manufacturer_writeoff_usd"]),
         "manufacturer return credits and write-offs per year"),
        (fmt_usd(dist_loss), "distributor loss per year"),
        (fmt_usd(t["site_loss_usd"]), "site loss per year"),
        (fmt_usd(t["holding_cost_usd"]), "holding cost per year"),
        (fmt_usd(t["inventory_value_usd"]), "average inventory value"),
        # on receivables as well as stock: the network cost charges the stock's alone
        capital(float(_col(finance, "capital_charge_usd").sum()),
                "capital charge per year, on receivables and stock (the network cost counts "
                "that of stock the manufacturer or a distributor owns)"),
    ] + [capital(t[f"working_capital_{h}_usd"], f"working capital, {h}") for h, _ in HOLDERS]
    tiles.append(capital(sum(t[f"working_capital_{h}_usd"] for h, _ in HOLDERS),
                         "working capital, all holders"))
    return "<div class='kpis'>" + "".join(
        f"<div class='kpi'><div class='v'>{_esc(v)}</div><div class='l'>{_esc(label)}</div>"
        "</div>" for v, label in tiles) + "</div>"


THRESHOLD_COLUMNS = [
    ("site_name", "Site", "text"), ("state", "State", "text"), ("product", "Product", "named"),
    ("patients_per_year", "Patients/yr", "num"),
    ("current_returnable_fraction", "Returnable today", "share"),
    ("returnable_fraction_to_stock", "Returnable share it needs", "share"),
    ("manufacturer_writeoff_usd", "Mfr credits + write-offs/yr there", "usd"),
    ("site_loss_usd", "Site loss/yr there", "usd"), ("loss_limit_usd", "Its loss limit", "usd"),
]


def _share(value: float) -> str:
    return f"{value:.0%}"


def thresholds_section(thresholds: pd.DataFrame, finance: pd.DataFrame,
                       products: dict[str, str] | None = None) -> str:
    """Which sites a more generous return policy would win, at what share each, and what
    each costs the manufacturer: the grid above shows the count at 75 % and 100 %, a
    negotiation needs the sites in between (return_thresholds.csv holds every row)."""
    if thresholds is None or thresholds.empty:
        return ""
    t = thresholds
    need = t["returnable_fraction_to_stock"].astype(float)
    now = t["current_returnable_fraction"].astype(float)
    already = int((need <= now + 1e-9).sum())
    later = t[need > now + 1e-9]
    never = int(need.isna().sum())
    words = [f"{already} of {len(t)} site-products whose product may be stocked at the site "
             "would stock at today's terms"]
    if len(later):
        steps = later.groupby(later["returnable_fraction_to_stock"].astype(float)).size()
        usd = later["manufacturer_writeoff_usd"].astype(float)
        words.append(f"{len(later)} more would at a higher returnable share ("
                     + ", ".join(f"{n} from {_share(f)}" for f, n in steps.items())
                     + f"), each adding {fmt_usd(usd.min())}"
                     + (f"-{fmt_usd(usd.max())}" if usd.max() - usd.min() >= 0.5 else "")
                     + " a year of credits and write-offs there")
    if never:
        words.append(f"{never} would not stock even with every unused dose returnable "
                     "(their loss stays above their limit, or the fill rate is out of reach; "
                     "the reason of each is in return_thresholds.csv)")
    lead = "<p class='lead'>" + _esc("; ".join(words)) + ".</p>"
    if later.empty:
        return lead
    names = finance.drop_duplicates("site_id").set_index("site_id")
    rows = later.assign(
        site_name=[text(names["site_name"].get(s, s)) for s in later["site_id"]],
        state=[text(names["state"].get(s, "")) if "state" in names else ""
               for s in later["site_id"]],
        product=[named((products or {}).get(text(k), k), k) for k in later["product_id"]])
    return lead + sortable_table(rows, THRESHOLD_COLUMNS, "thresholds",
                                 where="Every site-product is in return_thresholds.csv.")


def render_finance(finance: pd.DataFrame, tradeoff: pd.DataFrame | str, model: str,
                   products: dict[str, str] | None = None,
                   thresholds: pd.DataFrame | None = None) -> str:
    """finance.html as one self-contained string; `products` maps ids to names. `tradeoff`
    is the return-policy table, or why it was not computed (its section says so instead of
    reading as an empty trade-off); `thresholds` the returnable share each site needs
    (analysis/finance.stocking_thresholds)."""
    skipped = tradeoff if isinstance(tradeoff, str) else ""
    if skipped:
        tradeoff = pd.DataFrame()
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    mix = policy_mix(finance)
    sites = finance.assign(product=[named((products or {}).get(text(p), p), p)
                                    for p in finance["product_id"]])
    sites = sites.sort_values(["expired_doses_per_year", "site_name", "product_id"],
                              ascending=[False, True, True], kind="stable")
    cols = [c for c in SITE_COLUMNS if c[0] in sites.columns]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt finance — {model}')}</title>",
        f"<style>\n{css}\n{FINANCE_CSS}\n</style>", sortable_assets(),
        "</head><body><main>",
        f"<header><h1>Inventory and working capital \u2014 {_esc(model)}</h1>",
        "<p class='sub'>Ordering policy of every active site and product, as chosen by the "
        "network model, evaluated at the site's volume. Working capital = inventory on the "
        "holder's books + (manufacturer) receivables under the payment terms, (site) inventory "
        "minus payables.</p></header>",
        _tiles(finance),
        "<h2>Who bears the doses that expire</h2>", bearers_section(finance),
        "<h2>Policy mix</h2>",
        _table(mix, [("policy", "Policy", "text"), ("sites", "Sites", "int"),
                     ("site_products", "Site-products", "int"),
                     ("patients_per_year", "Patients/yr", "num"),
                     ("doses_per_year", "Doses/yr", "num"),
                     ("expired_doses_per_year", "Expired doses/yr", "num"),
                     ("manufacturer_writeoff_usd", "Mfr credits + write-offs/yr", "usd")]),
        "<h2>Return policy: generosity vs sites willing to stock vs write-offs</h2>",
        f"<p class='sub'>Not computed: {_esc(skipped)}.</p>" if skipped else
        "<div class='chart'>" + tradeoff_svg(tradeoff, names=products) + "</div>",
        TRADEOFF_LEGEND if not tradeoff.empty else "",
        "<p class='sub'>Each served site-product whose product may be stocked at the site is "
        "offered its stock terms with the returnable share swept; a site is willing when its "
        "expected loss (expiries it keeps, restocking fees, capital) stays within its limit. "
        "Credits + write-offs: what the manufacturer would pay back and write off if every "
        "willing site stocked, its return credits at the price the sites were billed (a sale "
        "reversed, gross to net) and its own expired doses at cost of goods; the network cost "
        "counts a returned dose at cost of goods. "
        "The shaded column is the share the products' terms give today.</p>",
        *(["<h2>Which sites a more generous policy wins, and at what share</h2>",
           thresholds_section(thresholds, finance, products)]
          if thresholds is not None and not thresholds.empty else []),
        "<h2>By site and product</h2>",
        sortable_table(sites, cols, "by-site", labels=POLICY_LABELS,
                       where="Every row is in finance.csv and the finance sheet of "
                             "network.xlsx."),
        "<footer>Written by <code>netopt finance</code> from finance.csv of this result; "
        "the same table is the <i>finance</i> sheet of network.xlsx.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_finance(finance: pd.DataFrame, tradeoff: pd.DataFrame | str, model: str,
                  out: Path, products: dict[str, str] | None = None,
                  thresholds: pd.DataFrame | None = None) -> list[Path]:
    """finance.html, return_tradeoff.csv and return_thresholds.csv into `out`, as one run
    added to what the folder holds (see results/folder.py); no trade-off tables when the
    trade-off was not computed (`tradeoff` then says why)."""
    with results_folder(Path(out), Run("finance", model=model), attach=True) as staging:
        page = staging.dir / "finance.html"
        page.write_text(render_finance(finance, tradeoff, model, products, thresholds),
                        encoding="utf-8")
        paths = [page]
        if not isinstance(tradeoff, str):
            paths.append(staging.dir / "return_tradeoff.csv")
            tradeoff.to_csv(paths[-1], index=False, lineterminator="\n")
            if thresholds is not None:
                paths.append(staging.dir / "return_thresholds.csv")
                thresholds.to_csv(paths[-1], index=False, lineterminator="\n")
    return staging.final(paths)
