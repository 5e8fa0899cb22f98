"""Policy families set in the model file: KOL coverage, facility counts, fixed-cost budget."""

from __future__ import annotations

import logging

import pyomo.environ as pyo

from ..data.geography import haversine_km
from .common import money, register_cost
from .demand import ELASTIC_PENALTY
from .prepare import Prepared

log = logging.getLogger(__name__)

FIXED_TERMS = ("site_activation", "site_fixed", "onboarding", "equipment", "hub_fixed",
               "partner_fixed")


def kol_cover_sets(prep: Prepared) -> dict[str, list[tuple[str, str, float]]]:
    """KOL -> the (site, product, km from the KOL's site) whose treating covers them, nearest
    first: the KOL's own site (require, coverage), or every site within kols.within_km
    (proximity); only products of the KOL's area the site is eligible for."""
    cfg = prep.case.config.kols
    kols = prep.case.kols.sort_values("kol_id")
    all_sites = prep.case.sites.set_index("site_id")
    sp = prep.site_products
    area_of = prep.products["therapeutic_area"].to_dict()
    eligible = sorted(zip(sp["site_id"], sp["product_id"], strict=True))
    lat, lon = prep.sites["latitude"].to_dict(), prep.sites["longitude"].to_dict()
    out: dict[str, list[tuple[str, str, float]]] = {}
    for j, site, area in zip(kols["kol_id"], kols["site_id"], kols["therapeutic_area"],
                             strict=True):
        found = []
        for s, k in eligible:
            if area_of[k] != area:
                continue
            if s == site:
                found.append((s, k, 0.0))
            elif cfg.mode == "proximity" and site in all_sites.index:
                km = float(haversine_km(all_sites.at[site, "latitude"],
                                        all_sites.at[site, "longitude"], lat[s], lon[s]))
                if km <= cfg.within_km:
                    found.append((s, k, km))
        out[j] = sorted(found, key=lambda t: (t[2], t[0], t[1]))
    return out


def kol_min_patients(prep: Prepared, site: str) -> float:
    """Patients a year a site must treat of an area's product to cover a KOL."""
    return max(float(prep.sites.at[site, "min_patients_per_year"]),
               prep.case.config.kols.min_patients)


def _kol_treating(m: pyo.ConcreteModel, prep: Prepared,
                  sets: dict[str, list[tuple[str, str, float]]]) -> None:
    """kol_treats[s, k] = 1 only if site s offers k and treats at least its KOL minimum of
    it: offering alone (active, onboarded, 0 patients) covers nobody."""
    keys = sorted({(s, k) for found in sets.values() for s, k, _ in found} & set(m.SK))
    m.KT = pyo.Set(initialize=keys, dimen=2, ordered=True)
    m.kol_treats = pyo.Var(m.KT, within=pyo.Binary)
    need = {(s, k): kol_min_patients(prep, s) for s, k in keys}
    for key in keys:
        if need[key] > m.reach[key] + 1e-9:
            m.kol_treats[key].fix(0)  # the site can never treat that many
    m.kol_treats_offer = pyo.Constraint(m.KT, rule=lambda m, s, k: m.kol_treats[s, k]
                                        <= m.w[s, k])
    m.kol_treats_volume = pyo.Constraint(m.KT, rule=lambda m, s, k: pyo.quicksum(
        m.x[i] for i in m.x_by_sk.get((s, k), [])) >= need[s, k] * m.kol_treats[s, k])


def _kol_cover(m: pyo.ConcreteModel, j: str):
    """Expression that is >= 1 when KOL j is covered (a site of their cover set treats with a
    product of their area), or None when nothing can cover them."""
    keys = [(s, k) for s, k, _ in m.kol_cover_set[j] if (s, k) in m.KT]
    if not keys:
        return None
    return pyo.quicksum(m.kol_treats[key] for key in keys)


def kol_cover_blocked(b: pyo.Block, j: str) -> bool:
    """True when every way to cover KOL j is fixed off in this block (a timeline period
    before the sites can be activated or onboarded)."""
    for s, k, _ in b.kol_cover_set[j]:
        if (s, k) not in b.KT or b.kol_treats[s, k].fixed and not b.kol_treats[s, k].value:
            continue
        if b.y[s].fixed and not b.y[s].value:
            continue
        area = b.kol_area[j]
        if (s, area) in b.SA and b.o[s, area].fixed and not b.o[s, area].value:
            continue
        return False
    return True


def add_kols(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """require / proximity: every in-scope KOL covered (their own site, or a site within
    kols.within_km, treats with a product of their area); coverage: weighted share of KOLs
    so covered >= min_coverage."""
    cfg = prep.case.config.kols
    if cfg.mode == "none" or len(prep.case.kols) == 0:
        return
    areas = set(prep.products["therapeutic_area"])
    kols = prep.case.kols
    kols = kols[kols["therapeutic_area"].isin(areas)].sort_values("kol_id")
    ids = kols["kol_id"].tolist()
    m.kol_cover_set = {j: found for j, found in kol_cover_sets(prep).items() if j in set(ids)}
    _kol_treating(m, prep, m.kol_cover_set)
    cover = {j: _kol_cover(m, j) for j in ids}
    m.KOL = pyo.Set(initialize=ids, ordered=True)
    m.kol_site = dict(zip(ids, kols["site_id"], strict=True))
    m.kol_area = dict(zip(ids, kols["therapeutic_area"], strict=True))
    if cfg.mode in ("require", "proximity"):
        m.kol_short = pyo.Var(m.KOL, within=pyo.NonNegativeReals,
                              bounds=(0, 1) if m.elastic else (0, 0))
        if m.elastic:
            m.requirement_slacks["kol"] = m.kol_short
            register_cost(m, "elastic_kol", pyo.quicksum(ELASTIC_PENALTY * m.kol_short[j]
                                                         for j in m.KOL))
        m.kol_required = pyo.Constraint(
            m.KOL, rule=lambda m, j: (cover[j] if cover[j] is not None else 0)
            + m.kol_short[j] >= 1)
        return
    weight = dict(zip(ids, kols["weight"], strict=True))
    m.kol_covered = pyo.Var(m.KOL, within=pyo.Binary)
    for j in ids:
        if cover[j] is None:
            m.kol_covered[j].fix(0)
    m.kol_link = pyo.Constraint(
        [j for j in ids if cover[j] is not None],
        rule=lambda m, j: m.kol_covered[j] <= cover[j])
    total = sum(weight.values())
    lhs = pyo.quicksum(weight[j] * m.kol_covered[j] for j in ids)
    if m.elastic:
        m.kol_coverage_short = pyo.Var(within=pyo.NonNegativeReals)
        m.requirement_slacks["kol_coverage"] = m.kol_coverage_short
        register_cost(m, "elastic_kol", ELASTIC_PENALTY * m.kol_coverage_short)
        lhs = lhs + m.kol_coverage_short
    m.kol_coverage = pyo.Constraint(expr=lhs >= cfg.min_coverage * total)


def add_limits(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Max/min active sites, hubs, partners; locked-open hubs and partners."""
    cfg = prep.case.config
    for kind, var, index in (("sites", m.y, m.S), ("hubs", m.g, m.H), ("partners", m.a, m.Pa)):
        settings = getattr(cfg, kind)
        if kind != "sites":
            for fid in settings.lock_open:
                if fid in index:
                    var[fid].fix(1)
                else:
                    log.warning("%s %s is locked open but no lane can use it", kind, fid)
        total = pyo.quicksum(var[i] for i in index)
        if settings.max_active is not None:
            setattr(m, f"max_{kind}", pyo.Constraint(expr=total <= settings.max_active))
        if settings.min_active is not None:
            n = len(index)
            rhs = min(settings.min_active, n) if m.elastic else settings.min_active
            if settings.min_active > n and not m.elastic:
                log.warning("min_active %s = %d but only %d can be active", kind,
                            settings.min_active, n)
            setattr(m, f"min_{kind}", pyo.Constraint(expr=total >= rhs))


def add_budget(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """Annual fixed costs (sites, onboarding, equipment, hubs, partners) <= budget."""
    budget = prep.case.config.budget_fixed_usd
    if budget is None:
        return
    fixed = sum(m.cost_terms[t] for t in FIXED_TERMS if t in m.cost_terms)
    if m.elastic:
        m.budget_over = pyo.Var(within=pyo.NonNegativeReals)
        m.requirement_slacks["budget"] = m.budget_over
        register_cost(m, "elastic_budget", 10 * m.budget_over)
        fixed = fixed - m.budget_over
    m.budget = pyo.Constraint(expr=fixed <= money(budget))
