"""Multi-period launch model: one block of the single-period families per group of periods,
linked so that the network only grows, weighted into a net present value.

Each block `m.period[j]` holds the whole single-period model (`add_families`) for the periods
of group j, built from that group's `Prepared` (scaled demand and prices). On top:

- lead times: a candidate site is inactive, and no site is onboarded for a new area, before
  its earliest period (next P&T committee meeting + onboarding_days);
- links: site activation, onboarding and equipment never go back from one block to the next
  (no closing during a launch; existing sites locked open stay open from the first period);
  hubs, partners, offers and flows are free per period (contracts per period);
- requirements (service level, KOL rules, min_active) apply from
  `timeline.requirements_from_period`, and a required KOL only once its site can be onboarded;
- objective: sum over blocks of (discount factor x years, summed over the block's periods) x
  the block's annual objective (k$/yr). One-off costs stay annualised as in the single-period
  model (activation / amortisation_years per active year): over a finite horizon that charges
  a late activation only for the years it serves, so the horizon's end does not discourage
  it; with one period of one year the objective is exactly the single-period one.

`m.y`, `m.w`, `m.o`, `m.e` are references to every block's decisions, so the solver's
kernel start and its size count work on this model as on the single-period one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pyomo.environ as pyo

from .build import add_families
from .policy import kol_cover_blocked

if TYPE_CHECKING:
    from .calendar import TimelinePlan

log = logging.getLogger(__name__)

#: constraints of a block that `timeline.requirements_from_period` switches off before it
REQUIREMENTS = ("service_level", "kol_required", "kol_coverage", "min_sites", "min_hubs",
                "min_partners")


def build_timeline_model(plan: TimelinePlan, elastic: bool = False) -> pyo.ConcreteModel:
    """The multi-period MILP of a planned timeline (see the module docstring)."""
    prep = plan.prep
    m = pyo.ConcreteModel(name=prep.case.name or "netopt")
    m.plan = plan
    m.prep = prep
    m.elastic = elastic
    m.B = pyo.Set(initialize=range(len(plan.groups)), ordered=True)
    m.period = pyo.Block(m.B, rule=lambda b, j: add_families(b, plan.preps[j], elastic))
    _lead_times(m, plan)
    _requirements(m, plan)
    _links(m)
    for name in ("y", "w", "o", "e"):
        setattr(m, name, pyo.Reference(getattr(m.period[:], name)[...]))
    m.obj = pyo.Objective(expr=pyo.quicksum(
        plan.block_weight(j) * sum(m.period[j].cost_terms.values()) for j in m.B),
        sense=pyo.minimize)
    return m


def _lead_times(m: pyo.ConcreteModel, plan: TimelinePlan) -> None:
    """Fix activation (candidates) and onboarding (all sites) off before the earliest period."""
    sites = plan.prep.sites
    locked = set(plan.prep.case.config.sites.lock_open)
    for j in m.B:
        b, t0 = m.period[j], plan.groups[j][0]
        for s in b.S:
            if plan.earliest.get(s, 0) > t0 and sites.at[s, "status"] != "existing":
                if s in locked and t0 == 0:
                    log.info("site %s is locked open but cannot be active before period %d",
                             s, plan.earliest[s])
                b.y[s].fix(0)
        for s, a in b.SA:
            if plan.earliest.get(s, 0) > t0:
                b.o[s, a].fix(0)


def _requirements(m: pyo.ConcreteModel, plan: TimelinePlan) -> None:
    """Switch the requirement rows off in roll-out periods, and a required KOL's row while its
    site cannot yet be activated or onboarded for the KOL's area."""
    start = plan.settings.requirements_from_period
    for j in m.B:
        b = m.period[j]
        if plan.groups[j][-1] < start:
            for name in REQUIREMENTS:
                component = getattr(b, name, None)
                if component is not None:
                    component.deactivate()
            continue
        rows = getattr(b, "kol_required", None)
        if rows is None:
            continue
        for k in b.KOL:
            if b.kol_cover_set[k] and kol_cover_blocked(b, k):
                rows[k].deactivate()


def _links(m: pyo.ConcreteModel) -> None:
    """Activation, onboarding and equipment of a block are at least those of the block
    before (rows between two fixed variables are left out)."""
    for name in ("y", "o", "e"):
        keys = [(j, *k) if isinstance(k, tuple) else (j, k)
                for j in list(m.B)[1:] for k in getattr(m.period[j], name)
                if not (getattr(m.period[j], name)[k].fixed
                        and getattr(m.period[j - 1], name)[k].fixed)]

        def rule(m: pyo.ConcreteModel, j: int, *k: object, name: str = name) -> object:
            key = k[0] if len(k) == 1 else k
            return getattr(m.period[j], name)[key] >= getattr(m.period[j - 1], name)[key]

        setattr(m, f"keep_{name}", pyo.Constraint(keys, rule=rule))
