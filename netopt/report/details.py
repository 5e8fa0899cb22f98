"""Appendix to the one-pager (`details.html`): the cost of every term with ordering and
inventory in its parts, the margin, hubs and partners with their costs, the plants' load and
what their capacity is worth, activated sites by
state, every unserved group with its reason, products and the assumptions behind the result.

report.html stays one printed page; everything a reviewer checks line by line lives here,
self-contained like the other pages (inline CSS, no script).
"""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..results.tables import STOCK_TERMS, Results
from ..solver.backends import LABELS
from ..solver.diagnose import reason_cause
from .common import (
    NETWORK_COST_LABEL,
    NETWORK_COST_NOTE,
    PENALTY_LABEL,
    PENALTY_NOTE,
    TERM_NOTES,
    cost_terms,
    fmt_num,
    fmt_usd,
    headline_costs,
    margin_lines,
    num,
    ordering_parts,
    product_names,
    split_list,
    table,
    term_label,
    text,
    truthy,
    yearly_cost,
)
from .timeline import timeline_section


def _esc(value: object) -> str:
    return html.escape(text(value), quote=True)


def cost_table(result: Results) -> str:
    """Every cost term (USD/yr), ordering and inventory with its parts explained, the network
    cost they add up to, then the unserved penalty apart (not cash) and the objective."""
    cost = headline_costs(result)
    terms = cost_terms(result)
    rows = []
    stock = [t for t, k in zip(terms["term"], terms["kind"], strict=True)
             if k == "cost" and t in STOCK_TERMS]
    for term, kind, usd in zip(terms["term"], terms["kind"], terms["usd_per_year"],
                               strict=True):
        if kind != "cost":
            continue
        rows.append(f"<tr><td>{_esc(term_label(term))}</td>"
                    f"<td class='n'>{_esc(fmt_usd(usd))}</td>"
                    f"<td>{_esc(TERM_NOTES.get(term, ''))}</td></tr>")
        if stock and term == stock[-1]:  # finance.csv's parts cover every stock term
            if len(stock) > 1:
                rows.append("<tr class='part'><td>\u2003the two lines above in parts:</td>"
                            "<td></td><td>site and depot rows of finance.csv together</td></tr>")
            rows += [f"<tr class='part'><td>\u2003{_esc(label)}</td>"
                     f"<td class='n'>{_esc(fmt_usd(usd_p))}</td><td>{_esc(why)}</td></tr>"
                     for _, label, usd_p, why in ordering_parts(result)]
    rows.append(f"<tr class='total'><td>{NETWORK_COST_LABEL}</td><td class='n'>"
                f"{_esc(fmt_usd(cost['network_cost_usd']))}</td>"
                f"<td>{_esc(NETWORK_COST_NOTE)}</td></tr>")
    rows.append(f"<tr class='note'><td>{PENALTY_LABEL}</td><td class='n'>"
                f"{_esc(fmt_usd(cost['unserved_penalty_usd']))}</td>"
                f"<td>{_esc(PENALTY_NOTE)}</td></tr>")
    if abs(cost["other_penalty_usd"]) >= 0.5:
        rows.append("<tr class='note'><td>Other penalties</td><td class='n'>"
                    f"{_esc(fmt_usd(cost['other_penalty_usd']))}</td><td>elastic slack that "
                    "keeps a too-tight model solvable: a requirement is not met</td></tr>")
    if _is_plan(result):  # the objective is the plan's discounted total, not this year
        rows.append("<tr class='note'><td>Total of the year shown</td><td class='n'>"
                    f"{_esc(fmt_usd(cost['annual_cost_usd']))}</td><td>network cost + "
                    "penalties of the launch plan's last period, a year's rate; the model's "
                    "objective is the plan's discounted total (see the launch timeline)"
                    "</td></tr>")
    else:
        rows.append("<tr class='note'><td>Objective (model total)</td><td class='n'>"
                    f"{_esc(fmt_usd(cost['annual_cost_usd']))}</td><td>network cost + "
                    "penalties (+ revenue and cost of goods under the margin objective)"
                    "</td></tr>")
    return ("<table class='costs'><thead><tr><th>Cost term</th><th class='n'>USD/yr</th>"
            f"<th>What it is</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _is_plan(result: Results) -> bool:
    """A launch timeline's result: its objective is the plan's discounted total."""
    timeline = result.summary.get("timeline") or {}
    return isinstance(timeline, dict) and num(timeline.get("periods"), 1.0) > 1


def facilities_table(result: Results) -> str:
    """Active hubs and partners with their yearly cost and the sites they serve (names)."""
    sites = table(result, "sites")
    site_names = dict(zip(sites.get("site_id", []), sites.get("name", []), strict=True))
    rows = []
    for kind, name in (("hubs", "3PL hub"), ("partners", "Cold-storage partner")):
        t = table(result, kind)
        if "active" not in t.columns:
            continue
        records = t[[truthy(v) for v in t["active"]]].to_dict("records")
        # the costliest first, as on the one-pager
        for r in sorted(records, key=lambda r: (-yearly_cost(r, kind), text(r.get("name")))):
            served = split_list(r.get("sites_served") or r.get("sites_linked"))
            usd = yearly_cost(r, kind)
            rows.append(f"<tr><td>{_esc(r.get('name'))}</td><td>{name}</td>"
                        f"<td class='n'>{_esc(fmt_usd(usd))}</td>"
                        f"<td class='n'>{len(served)}</td><td class='names'>"
                        f"{_esc(', '.join(text(site_names.get(s, s)) for s in served))}</td></tr>")
    if not rows:
        return "<p>No hub or partner is active.</p>"
    return ("<table><thead><tr><th>Facility</th><th>Role</th><th class='n'>Cost/yr</th>"
            "<th class='n'>Sites</th><th>Sites served</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _margin_table(result: Results) -> str:
    lines = margin_lines(result)
    terms = cost_terms(result)
    rows = []
    for term, usd in lines[:-1]:
        label = {"revenue": "Revenue (served patients \u00d7 doses \u00d7 price)",
                 "cogs": "Cost of goods"}.get(term, term_label(term))
        rows.append(f"<tr><td>{_esc(label)}</td><td class='n'>{_esc(fmt_usd(usd))}</td></tr>")
    rows.append(f"<tr class='total'><td>Margin</td><td class='n'>"
                f"{_esc(fmt_usd(lines[-1][1]))}</td></tr>")
    for term, usd in zip(terms["term"], terms["usd_per_year"], strict=True):
        if term in ("unserved_penalty", "elastic_unserved"):
            rows.append(f"<tr class='note'><td>{_esc(term_label(term))}: lost margin priced in the "
                        f"objective, not cash</td><td class='n'>{_esc(fmt_usd(usd))}</td></tr>")
    total = table(result, "costs")
    if {"term", "usd_per_year"} <= set(total.columns):
        t = total.loc[total["term"].map(text) == "total", "usd_per_year"]
        if len(t):
            label = "Total of the year shown (the plan's last period)" if _is_plan(result) \
                else "Objective (model total)"
            rows.append(f"<tr class='note'><td>{label}</td><td class='n'>"
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


def _plants_table(result: Results) -> str:
    """Each plant that makes a product in scope: doses made (shipped and expiring in
    stock) against capacity, and what one more dose of capacity would save the network as
    chosen: the figure a plant expansion is weighed against."""
    p = table(result, "plants")
    if p.empty or "capacity_doses_per_year" not in p.columns:
        return "<p>No plant in the result.</p>"
    names = product_names(result)
    rows, notes = [], []
    for r in p.to_dict("records"):
        made_here = [k for k in split_list(r.get("products")) if not names or k in names]
        if not made_here:  # a plant of products out of scope
            continue
        elsewhere = num(r.get("doses_expiring_elsewhere_per_year"))
        if elsewhere >= 0.5:
            notes.append(f"{_esc(r.get('name') or r.get('plant_id'))} makes "
                         f"{_esc(fmt_num(elsewhere))} of its doses a year for stock that "
                         "expires at sites other plants supply with patients' doses: its "
                         "lanes reach them, and it ships their safety stock.")
        made = num(r.get("doses_per_year")) + num(r.get("doses_expiring_in_stock_per_year"))
        value = num(r.get("capacity_value_usd_per_dose"), math.nan)
        full = num(r.get("utilisation")) >= 1 - 1e-6
        saves = ("\u2013" if math.isnan(value) else f"{fmt_usd(value)} a year" if value > 0.5
                 else "nothing: full, but no patient for another dose" if full
                 else "nothing: room left")
        products = ", ".join(names.get(k, k) for k in made_here)
        rows.append(f"<tr><td>{_esc(r.get('name') or r.get('plant_id'))}</td>"
                    f"<td>{_esc(products)}</td><td class='n'>{_esc(fmt_num(made))}</td>"
                    f"<td class='n'>{_esc(fmt_num(num(r.get('capacity_doses_per_year'))))}</td>"
                    f"<td class='n'>{num(r.get('utilisation')):.0%}</td>"
                    f"<td class='n'>{_esc(saves)}</td></tr>")
    if not rows:
        return "<p>No plant makes a product in scope.</p>"
    return ("<table><thead><tr><th>Plant</th><th>Products</th><th class='n'>Doses made/yr"
            "</th><th class='n'>Capacity</th><th class='n'>Used</th><th class='n'>One more "
            "dose of capacity saves</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            "<p class='note'>Doses made include those that expire in stock. The saving holds "
            "the network as chosen (sites, hubs, partners, ordering options) and re-routes "
            "patients: more cells and doses at this plant, fewer elsewhere or untreated."
            + "".join(f" {n}" for n in notes) + "</p>")


def _unserved_table(result: Results) -> str:
    u = table(result, "unserved")
    if u.empty or not {"product_id", "patients_unserved"} <= set(u.columns):
        return "<p>Every patient in scope is served.</p>"
    names = product_names(result)
    u = u.assign(product=u["product_id"].map(lambda p: names.get(text(p), text(p))),
                 reason=u.get("reason", pd.Series("", u.index)).map(text),
                 pat=u["patients_unserved"].map(num))
    # one row per product and cause: reasons that differ only in a count or a distance
    # ("27 site(s)...", "24 site(s)...") are one cause, shown by its largest wording
    u["cause"] = u["reason"].map(reason_cause)
    u = u.sort_values("pat", ascending=False, kind="stable")
    g = u.groupby(["product", "cause"], sort=False).agg(
        pat=("pat", "sum"), zones=("pat", "size"), reason=("reason", "first"),
        wordings=("reason", "nunique")).reset_index()
    g["reason"] = [r + (" (figures differ by zone)" if n > 1 else "")
                   for r, n in zip(g["reason"], g["wordings"], strict=True)]
    g = g.sort_values("pat", ascending=False)
    shown = g.head(60)
    body = "".join(f"<tr><td>{_esc(r.product)}</td><td>{_esc(r.reason)}</td>"
                   f"<td class='n'>{_esc(fmt_num(r.pat))}</td><td class='n'>{r.zones}</td></tr>"
                   for r in shown.itertuples())
    if len(g) > len(shown):
        body += (f"<tr class='note'><td colspan='2'>{len(g) - len(shown)} smaller groups</td>"
                 f"<td class='n'>{_esc(fmt_num(g['pat'].iloc[60:].sum()))}</td><td></td></tr>")
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
        ("Objective", ("minimise the launch plan's net present cost" if _is_plan(result)
                       else "minimise annual cost") if st.get("objective") == "cost"
         else ("maximise the launch plan's net present value" if _is_plan(result)
               else "maximise annual margin") if st.get("objective") == "margin"
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
        ("Zone aggregation", f"{_cells(agg)} ({v(result.summary.get('demand_points'))} demand "
                             f"points, error "
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


def _cells(agg: dict) -> str:
    """The zone-merging cells in words: a fixed size, a share of each product's reach (the
    larger of the two where both are set), or none."""
    km, share = num(agg.get("cluster_km")), num(agg.get("cluster_share_of_reach"))
    if km <= 0 and share <= 0:
        return "none (one demand point per zone)"
    if share <= 0:
        return f"{km:g} km cells"
    cells = f"cells of {100 * share:g} % of each product's max patient travel"
    return cells + (f", at least {km:g} km" if km > 0 else "")


def _solver_name(summary: dict) -> str:
    """The solver that ran and its version, e.g. Gurobi 13.0.3 (older result folders: HiGHS)."""
    name = str(summary.get("solver") or "highs")
    return f"{LABELS.get(name, name)} {summary.get('solver_version') or ''}".strip()


def _cadence(row: dict) -> tuple[str, str]:
    """('2 of 4', '12'): doses per shipment the lanes kept, of those requested, and the
    shipments a patient's year takes ('' for results without the cadence columns)."""
    kept, asked = num(row.get("doses_per_shipment_kept"), math.nan), \
        num(row.get("doses_per_shipment_requested"), math.nan)
    per_patient = num(row.get("shipments_per_patient_year"), math.nan)
    if math.isnan(kept) or math.isnan(per_patient):
        return "", ""
    of = f" of {asked:g}" if not math.isnan(asked) and asked != kept else ""
    return f"{round(kept, 1):g}{of}", f"{round(per_patient, 1):g}"


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
            + "".join(f"<td class='n'>{_esc(c)}</td>" for c in _cadence(r)) +
            f"<td class='n'>{_esc(fmt_num(num(r.get('shelf_life_hours'))))} h</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('handling_buffer_hours'))))} h</td>"
            f"<td class='n'>{_esc(fmt_num(num(r.get('max_patient_travel_km'))))} km</td>"
            f"<td class='n'>{_esc(fmt_usd(num(r.get('penalty_usd_per_patient'))))}</td>"
            f"<td class='n'>{_esc(fmt_num(s))} / {_esc(fmt_num(s + x))}</td></tr>")
    return ("<table><thead><tr><th>Product</th><th>Modality</th><th>Temperature</th>"
            "<th class='n'>Price/dose</th><th class='n'>COGS/dose</th>"
            "<th class='n wrap'>Doses per patient</th>"
            "<th class='n wrap' title='doses one shipment carries in time at the dose "
            "interval, of those requested'>Doses per shipment</th>"
            "<th class='n wrap' title='whole shipments for one patient&#39;s doses of a year'>"
            "Shipments per patient</th><th class='n'>Shelf life</th>"
            "<th class='n'>Buffer</th><th class='n'>Max travel</th>"
            "<th class='n'>Penalty/patient</th><th class='n wrap'>Served / demand (pts/yr)</th>"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def render_details(result: Results, report_href: str | None = "report.html",
                   map_href: str | None = "map.html") -> str:
    """The appendix page as a self-contained HTML string."""
    css = (resources.files("netopt.report") / "templates" / "report.css").read_text("utf-8")
    st = result.summary.get("settings") or {}
    model = text(result.summary.get("model") or st.get("name") or "model")
    links = " \u00b7 ".join(f'<a href="{_esc(h)}">{label}</a>' for h, label in
                             ((report_href, "One-page summary"), (map_href, "Interactive map"))
                             if h)
    timeline = timeline_section(result)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(f'netopt details — {model}')}</title>",
        f"<style>\n{css}\n</style></head><body class='details'><main>",
        f"<header><h1>Details \u2014 {_esc(model)}</h1>",
        f'<p class="sub">Appendix to the one-page summary. {links}</p></header>',
        "<h2>Annual cost by term</h2>", cost_table(result),
        "<h2>Annual margin</h2>", _margin_table(result),
        "<h2>Active hubs and partners</h2>", facilities_table(result),
        "<h2>Manufacturing plants</h2>", _plants_table(result),
        *([timeline] if timeline else []),
        "<h2>Activated sites by state</h2>", _sites_by_state(result),
        "<h2>Unserved patients</h2>", _unserved_table(result),
        "<h2>Assumptions that drove the result</h2>", _settings_block(result),
        _products_table(result),
        "<footer>Written by netopt from the result tables (CSV) in this folder; every table "
        "is also in network.xlsx.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_details(result: Results, path: Path, report_href: str | None = "report.html",
                  map_href: str | None = "map.html") -> Path:
    """Write details.html (self-contained)."""
    path.write_text(render_details(result, report_href, map_href), encoding="utf-8")
    return path


__all__ = ["cost_table", "facilities_table", "render_details", "write_details"]
