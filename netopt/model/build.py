"""Assemble the network-design MILP: one `add_<family>` per constraint family, fixed order.

Money is in thousands of USD and demand in patients per year so coefficients stay within a
few orders of magnitude (see DESIGN.md: badly scaled national models stall HiGHS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyomo.environ as pyo

from . import demand, flows, ordering, policy, resilience, sites
from .common import MONEY, register_cost  # noqa: F401 - re-exported
from .prepare import Prepared

log = logging.getLogger(__name__)

FAMILIES: list[tuple[str, Callable[[pyo.Block, Prepared], None]]] = [
    ("site decisions", sites.add_site_decisions),
    ("demand", demand.add_demand),
    ("site capacity", sites.add_site_capacity),
    ("offer linking", sites.add_offer_linking),
    ("minimum volume", sites.add_min_volume),
    ("cold chain lanes", flows.add_cold_chain),
    ("ordering policy", ordering.add_ordering),
    ("depot stock", ordering.add_depot_stock),
    ("hub capacity", flows.add_hub_capacity),
    ("partner capacity", flows.add_partner_capacity),
    ("plant capacity", flows.add_plant_capacity),
    ("service level", demand.add_service_level),
    ("KOLs", policy.add_kols),
    ("limits", policy.add_limits),
    ("budget", policy.add_budget),
    ("backup hubs", resilience.add_backup_hubs),
]


def add_families(b: pyo.Block, prep: Prepared, elastic: bool = False) -> None:
    """Add every constraint family to `b` (a model, or one period's block of a multi-period
    model): the families only touch `b.<attr>`, so a Pyomo Block takes them unchanged. The
    per-block bookkeeping they share lives on `b`: the prepared data, the elastic flag, the
    named cost terms (k$/yr) and the requirement slacks of the elastic form."""
    b.prep = prep
    b.elastic = elastic
    b.cost_terms = {}
    b.requirement_slacks = {}  # name -> (Var component, description function)
    for name, add in FAMILIES:
        log.debug("adding %s", name)
        add(b, prep)


def build_model(prep: Prepared, elastic: bool = False) -> pyo.ConcreteModel:
    """Build the MILP. With elastic=True every hard requirement gets a penalised slack, so an
    otherwise infeasible case solves and the non-zero slacks say what blocks it."""
    m = pyo.ConcreteModel(name=prep.case.name or "netopt")
    add_families(m, prep, elastic)
    m.obj = pyo.Objective(expr=sum(m.cost_terms.values()), sense=pyo.minimize)
    return m
