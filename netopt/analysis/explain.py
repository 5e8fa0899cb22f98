"""Why a site was, or was not, chosen: re-solve with the site's decision flipped.

A strategist asks "why not site X?" (or "why X?"). The answer is a counterfactual: solve the
same model with the site forced open (or closed, if the solution has it open), starting from
the solved network, and compare. The cost difference split by term says what the decision
trades (fixed costs against patient travel, transport, partner fees...), the assignments
that move say who would be treated elsewhere, and the limits around the site (capacity,
chair hours, minimum volume, price ceiling, lanes within shelf life, hub and partner
capacity, facility counts, budget) say which of them bind. A site that cannot be chosen at
all is answered from the reasons `prepare` recorded, without a solve.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import pandas as pd
import pyomo.environ as pyo

from ..data.case import Case
from ..data.problems import InputError, Problem
from ..model.build import build_model
from ..model.prepare import Prepared, prepare
from ..results.tables import Results, extract, site_reasons
from ..solver.highs import solve_model
from ..solver.network_start import StartNetwork

log = logging.getLogger(__name__)

TOL = 1e-6


@dataclass
class Explanation:
    """The counterfactual for one site (and product): what changes and what binds."""

    site_id: str
    product_id: str | None
    action: str  # "forced open", "forced closed", "cannot be chosen"
    baseline_cost_usd: float
    forced_cost_usd: float | None = None
    status: str = ""
    gap: float | None = None
    #: term, baseline_usd, forced_usd, difference_usd (largest change first)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: zone_id, zone_name, product_id, from_site, to_site, patients_per_year
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    limits: list[str] = field(default_factory=list)

    @property
    def difference_usd(self) -> float | None:
        if self.forced_cost_usd is None:
            return None
        return self.forced_cost_usd - self.baseline_cost_usd


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def _split(cell: object) -> list[str]:
    return [v for v in str(cell if isinstance(cell, str) else "").split(";") if v]


def start_network_of(result: Results) -> StartNetwork:
    """The saved network's design decisions (sites, offers, onboarding, equipment, hubs,
    partners) as a start for a re-solve (ordering options are left to the solver)."""
    sites, hubs, partners = result.sites, result.hubs, result.partners
    y, w, o, e = {}, {}, {}, {}
    for r in sites.itertuples(index=False):
        y[r.site_id] = int(_truthy(r.active))
        for k in _split(r.products_offered):
            w[(r.site_id, k)] = 1
        for a in _split(r.onboarded_areas):
            o[(r.site_id, a)] = 1
        for t in _split(r.equipped_classes):
            e[(r.site_id, t)] = 1
    return {"y": y, "w": w, "o": o, "e": e,
            "g": {h: int(_truthy(v)) for h, v in zip(hubs["hub_id"], hubs["active"],
                                                    strict=True)},
            "a": {p: int(_truthy(v)) for p, v in zip(partners["partner_id"],
                                                    partners["active"], strict=True)}}


def _without_site(network: StartNetwork, site: str) -> StartNetwork:
    """The start with the site's own decisions left free (the forcing sets them)."""
    out: StartNetwork = {}
    for name, values in network.items():
        out[name] = {k: v for k, v in values.items()
                     if k != site and not (isinstance(k, tuple) and k[0] == site)}
    return out


def _force(m: pyo.ConcreteModel, site: str, product: str | None, open_: bool) -> None:
    """Fix the flipped decision: the site (or its offer of the product) open or closed. A
    site forced open must offer some product (an open site treating nobody says nothing)."""
    offers = [k for s, k in m.SK if s == site and (product is None or k == product)]
    if not open_:
        if product is None:
            m.y[site].fix(0)
        for k in offers:
            m.w[site, k].fix(0)
        return
    m.y[site].fix(1)
    if product is not None:
        m.w[site, product].fix(1)
    else:
        m.explain_offers = pyo.Constraint(expr=pyo.quicksum(m.w[site, k] for k in offers) >= 1)


def _costs(base: pd.DataFrame, forced: pd.DataFrame) -> pd.DataFrame:
    b = base.set_index("term")["usd_per_year"]
    f = forced.set_index("term")["usd_per_year"]
    terms = [t for t in dict.fromkeys([*b.index, *f.index]) if t != "total"]
    out = pd.DataFrame({"term": terms,
                        "baseline_usd": [float(b.get(t, 0.0)) for t in terms],
                        "forced_usd": [float(f.get(t, 0.0)) for t in terms]})
    out["difference_usd"] = out["forced_usd"] - out["baseline_usd"]
    out = out[out["difference_usd"].abs() > 0.5]
    out = out.reindex(out["difference_usd"].abs().sort_values(ascending=False).index)
    total = pd.DataFrame([{"term": "total", "baseline_usd": float(b.get("total", 0.0)),
                           "forced_usd": float(f.get("total", 0.0)),
                           "difference_usd": float(f.get("total", 0.0) - b.get("total", 0.0))}])
    return pd.concat([out, total], ignore_index=True)


def moved_patients(base: pd.DataFrame, forced: pd.DataFrame) -> pd.DataFrame:
    """Patients per year whose site changes, per zone and product: the sites that lose them
    matched to the sites that gain them (unserved counts as the site "unserved")."""
    cols = ["zone_id", "zone_name", "product_id", "from_site", "to_site", "patients_per_year"]
    key = ["zone_id", "product_id", "site_id"]
    a = base.groupby(key)["patients_per_year"].sum() if len(base) else pd.Series(dtype=float)
    b = forced.groupby(key)["patients_per_year"].sum() if len(forced) else pd.Series(dtype=float)
    diff = b.sub(a, fill_value=0.0)
    diff = diff[diff.abs() > 1e-4]
    names = dict(zip(pd.concat([base, forced])["zone_id"], pd.concat([base, forced])["zone_name"],
                     strict=True)) if len(base) or len(forced) else {}
    rows = []
    for (zone, k), grp in diff.groupby(level=[0, 1]):
        lose = [[s, -v] for (_, _, s), v in grp.items() if v < 0]
        gain = [[s, v] for (_, _, s), v in grp.items() if v > 0]
        lost_total = sum(v for _, v in lose)
        gain_total = sum(v for _, v in gain)
        if gain_total > lost_total + 1e-4:
            lose.append(["unserved", gain_total - lost_total])
        elif lost_total > gain_total + 1e-4:
            gain.append(["unserved", lost_total - gain_total])
        i = j = 0
        while i < len(lose) and j < len(gain):
            n = min(lose[i][1], gain[j][1])
            if n > 1e-4:
                rows.append((zone, names.get(zone, ""), k, lose[i][0], gain[j][0], n))
            lose[i][1] -= n
            gain[j][1] -= n
            if lose[i][1] <= 1e-9:
                i += 1
            if gain[j][1] <= 1e-9:
                j += 1
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["patients_per_year", "zone_id"], ascending=[False, True],
                           ignore_index=True)


def _patients_at(result: Results, site: str) -> pd.Series:
    a = result.assignments
    return a[a["site_id"] == site].groupby("product_id")["patients_per_year"].sum() \
        if len(a) else pd.Series(dtype=float)


def _site_limits(prep: Prepared, site: str, product: str | None, open_result: Results | None
                 ) -> list[str]:
    """Capacity, chair hours, minimum volume and lanes of the site, with whether they bind
    in the solution where it is open."""
    out = []
    row = prep.sites.loc[site]
    if open_result is not None:
        got = _patients_at(open_result, site)
        total = float(got.sum())
        cap = float(row["capacity_patients_per_year"])
        out.append(f"capacity: {total:,.1f} of {cap:,.1f} patients/yr"
                   + (" - binds" if total >= cap - 1e-4 else ""))
        chair = prep.products["chair_hours_per_patient"]
        hours = float(sum(got.get(k, 0.0) * chair[k] for k in got.index))
        ch = float(row["chair_hours_per_year"])
        out.append(f"chair hours: {hours:,.0f} of {ch:,.0f}/yr"
                   + (" - binds" if hours >= ch - 1e-3 else ""))
        need = float(row["min_patients_per_year"])
        for k, n in got.items():
            if need > 0 and n <= need + 1e-4:
                out.append(f"minimum volume: {k} treats {n:,.1f} = the site's "
                           f"min_patients_per_year {need:g} - binds")
    sp = prep.site_products[prep.site_products["site_id"] == site]
    pairs = prep.pairs[prep.pairs["site_id"] == site]
    for r in sp.itertuples(index=False):
        if product is not None and r.product_id != product:
            continue
        budget = float(prep.products.at[r.product_id, "shelf_budget_hours"])
        lane = (f"lane {r.product_id}: fastest route {r.best_outbound_hours:.1f} h of a "
                f"{budget:g} h shelf budget ({budget - r.best_outbound_hours:.1f} h slack)")
        if not math.isnan(r.vein_to_vein_days):
            lane += f"; vein-to-vein {r.vein_to_vein_days:.1f} d"
        near = pairs[pairs["product_id"] == r.product_id]
        demand = prep.demand.set_index(["point_id", "product_id"])["patients"]
        reach = sum(float(demand.get((p, r.product_id), 0.0)) for p in near["point_id"])
        lane += (f"; {reach:,.1f} patients/yr live within its "
                 f"{prep.products.at[r.product_id, 'max_patient_travel_km']:g} km reach")
        out.append(lane)
    return out


def _network_limits(prep: Prepared, result: Results, site: str) -> list[str]:
    """Hubs and partners serving the site near capacity, facility counts and the budget."""
    out = []
    ships = result.shipments
    if len(ships):
        mine = ships[ships["site_id"] == site]
        for h in sorted(set(mine["hub_id"].dropna()) - {""}):
            r = result.hubs.set_index("hub_id").loc[h]
            use = float(r["utilisation"])
            out.append(f"hub {h}: {use:.0%} of its shipment capacity"
                       + (" - binds" if use >= 1 - 1e-4 else ""))
        for p in sorted(set(mine.get("partner_id", pd.Series(dtype=object)).dropna()) - {""}):
            r = result.partners.set_index("partner_id").loc[p]
            cap = float(r["capacity_doses_per_year"])
            use = float(r["doses_per_year"]) / cap if cap > 0 else 0.0
            out.append(f"partner {p}: {use:.0%} of its dose capacity"
                       + (" - binds" if use >= 1 - 1e-4 else ""))
    cfg = prep.case.config
    status = prep.sites.at[site, "status"] if site in prep.sites.index else ""
    if (status == "existing" and cfg.sites.existing == "locked") or site in cfg.sites.lock_open:
        out.append("locked open (sites.existing: locked, or sites.lock_open): the solve could "
                   "not close it; the forced-closed re-solve shows what closing would change")
    n_active = int(result.sites["active"].map(_truthy).sum())
    if cfg.sites.max_active is not None:
        out.append(f"sites.max_active {cfg.sites.max_active}: {n_active} active"
                   + (" - binds" if n_active >= cfg.sites.max_active else ""))
    if cfg.budget_fixed_usd is not None:
        out.append(f"budget_fixed_usd ${cfg.budget_fixed_usd:,.0f} applies to fixed costs")
    return out


def explain_site(case: Case, result: Results, site: str, product: str | None = None,
                 time_limit: float | None = None) -> Explanation:
    """Re-solve `case` with `site` (or its offer of `product`) flipped from `result`'s
    decision, starting from `result`'s network; compare costs, assignments and limits."""
    prep = prepare(case)
    all_sites = set(case.sites["site_id"])
    problems = []
    if site not in all_sites:
        problems.append(Problem("SITE_ID", None, "site_id",
                                f"unknown site {site!r}: not in the dataset's sites.csv", site))
    if product is not None and product not in prep.products.index:
        problems.append(Problem("--product", None, "product_id",
                                f"unknown product {product!r}: not a product of the model",
                                product))
    if problems:
        raise InputError(problems)
    base_cost = float(result.costs.set_index("term").at["total", "usd_per_year"])
    sites = result.sites.set_index("site_id")
    is_open = bool(_truthy(sites.at[site, "active"])) if site in sites.index else False
    if product is not None and is_open:
        is_open = product in _split(sites.at[site, "products_offered"])
    paired = {k for s, k in zip(prep.pairs["site_id"], prep.pairs["product_id"], strict=True)
              if s == site}
    usable = paired if product is None else paired & {product}
    static = site_reasons(prep).get(site, "")
    if not is_open and not usable:
        why = static or f"cannot be chosen - {product}: not eligible at the site"
        return Explanation(site, product, "cannot be chosen", base_cost, limits=[why])
    m = build_model(prep)
    _force(m, site, product, open_=not is_open)
    start = _without_site(start_network_of(result), site)
    info = solve_model(m, case.config.solver, time_limit=time_limit, start_network=start)
    action = "forced closed" if is_open else "forced open"
    if not info.has_solution:
        return Explanation(site, product, action, base_cost, status=info.status,
                           limits=[f"no solution with the site {action} ({info.status}): a "
                                   "hard requirement (KOL, service level, limits, budget) "
                                   "cannot be met that way"])
    forced = extract(m, info)
    open_result = result if is_open else forced
    limits = _site_limits(prep, site, product, open_result)
    limits += _network_limits(prep, open_result, site)
    if static:
        limits.append(f"not eligible: {static}")
    return Explanation(
        site, product, action, base_cost,
        forced_cost_usd=float(forced.costs.set_index("term").at["total", "usd_per_year"]),
        status=info.status, gap=info.gap, costs=_costs(result.costs, forced.costs),
        moves=moved_patients(result.assignments, forced.assignments), limits=limits)


__all__ = ["Explanation", "explain_site", "moved_patients", "start_network_of"]

