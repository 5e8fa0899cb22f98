"""Assemble the network-design MILP: one `add_<family>` per constraint family, fixed order.

Money is in thousands of USD and demand in patients per year so coefficients stay within a
few orders of magnitude (see DESIGN.md: badly scaled national models stall HiGHS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyomo.environ as pyo

from ..prepare import Prepared
from . import demand, flows, policy, sites
from .common import MONEY, register_cost  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

FAMILIES: list[tuple[str, Callable[[pyo.ConcreteModel, Prepared], None]]] = [
    ("site decisions", sites.add_site_decisions),
    ("demand", demand.add_demand),
    ("site capacity", sites.add_site_capacity),
    ("offer linking", sites.add_offer_linking),
    ("minimum volume", sites.add_min_volume),
    ("cold chain lanes", flows.add_cold_chain),
    ("hub capacity", flows.add_hub_capacity),
    ("partner capacity", flows.add_partner_capacity),
    ("plant capacity", flows.add_plant_capacity),
    ("service level", demand.add_service_level),
    ("KOLs", policy.add_kols),
    ("limits", policy.add_limits),
    ("budget", policy.add_budget),
]


def build_model(prep: Prepared, elastic: bool = False) -> pyo.ConcreteModel:
    """Build the MILP. With elastic=True every hard requirement gets a penalised slack, so an
    otherwise infeasible case solves and the non-zero slacks say what blocks it."""
    m = pyo.ConcreteModel(name=prep.case.name or "netopt")
    m.prep = prep
    m.elastic = elastic
    m.cost_terms = {}
    m.requirement_slacks = {}  # name -> (Var component, description function)
    for name, add in FAMILIES:
        log.debug("adding %s", name)
        add(m, prep)
    terms = m.cost_terms
    m.obj = pyo.Objective(expr=sum(terms.values()), sense=pyo.minimize)
    return m
