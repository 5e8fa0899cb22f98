"""Policy families set in the model file: KOL coverage, facility counts, fixed-cost budget."""

from __future__ import annotations

import logging

import pyomo.environ as pyo

from .common import money, register_cost
from .demand import ELASTIC_PENALTY
from .prepare import Prepared

log = logging.getLogger(__name__)

FIXED_TERMS = ("site_activation", "site_fixed", "onboarding", "equipment", "hub_fixed",
               "partner_fixed")


def _kol_cover(m: pyo.ConcreteModel, prep: Prepared, site: str, area: str):
    """Expression that is 1 when the KOL's site is active and onboarded for the area, or
    None when the model has no way to do that (site excluded, no eligible product...)."""
    if site not in m.S:
        return None
    if (site, area) in m.SA:
        return m.o[site, area]
    if area in prep.sites.at[site, "certified_areas"]:
        return m.y[site]
    return None


def add_kols(m: pyo.ConcreteModel, prep: Prepared) -> None:
    """require: every in-scope KOL's site active and onboarded for the KOL's area;
    coverage: weighted share of KOLs so covered >= min_coverage."""
    cfg = prep.case.config.kols
    if cfg.mode == "none" or len(prep.case.kols) == 0:
        return
    areas = set(prep.products["therapeutic_area"])
    kols = prep.case.kols
    kols = kols[kols["therapeutic_area"].isin(areas)].sort_values("kol_id")
    ids = kols["kol_id"].tolist()
    cover = {j: _kol_cover(m, prep, s, a) for j, s, a in
             zip(ids, kols["site_id"], kols["therapeutic_area"], strict=True)}
    m.KOL = pyo.Set(initialize=ids, ordered=True)
    m.kol_site = dict(zip(ids, kols["site_id"], strict=True))
    m.kol_area = dict(zip(ids, kols["therapeutic_area"], strict=True))
    if cfg.mode == "require":
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
