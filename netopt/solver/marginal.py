"""What one more dose of a plant's capacity is worth to the network the solve chose.

Manufacturing slots are where autologous networks bind first, and a strategist weighing a
plant expansion asks what a slot would save. The answer here is the marginal value of each
plant's capacity row in the LP of the solved network: every discrete decision (sites,
offers, hubs, partners, equipment, ordering choices) held at its value, flows free. Holding
the network keeps the figure local and honest: it is what one more dose a year saves in
re-routed patients, transport and treated patients before any site or hub changes, and 0
where another dose would not be used (room left, or no patient for it). A degenerate LP
(capacity that exactly covers demand) may give the value of one dose less instead of one
more; the docs say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition

from .network_start import given_back_on_error, release

log = logging.getLogger(__name__)

#: a plant whose released and expiring doses come this close to its capacity (as a share of
#: it) is at capacity (for the log)
AT_CAPACITY = 1e-6


def binding_plants(m: pyo.ConcreteModel) -> list[str]:
    """Plants whose capacity row is tight at the loaded solution."""
    rows = getattr(m, "plant_capacity", None)
    if rows is None:
        return []
    tight = []
    for plant, row in rows.items():
        cap = float(pyo.value(row.upper))
        if float(pyo.value(row.body)) >= cap - AT_CAPACITY * max(cap, 1.0):
            tight.append(plant)
    return tight


#: capacity rows priced, by what their values are keyed under in SolveInfo.capacity_values:
#: (model row, the decision that opens the facility or None for plants, what a unit is)
CAPACITY_ROWS = {
    "plant": ("plant_capacity", None),  # doses a year
    "site": ("site_patients", "y"),  # patients a year
    "site_chairs": ("site_chairs", "y"),  # chair hours a year
    "hub": ("hub_capacity", "g"),  # shipments a year
    "partner": ("partner_capacity", "a"),  # doses a year
}


def capacity_values(m: pyo.ConcreteModel, solve_lp: Callable[[], object]
                    ) -> dict[str, dict[str, float]] | None:
    """Model money a year that one more unit of capacity saves, per facility and kind
    (CAPACITY_ROWS: plant doses, site patients and chair hours, hub shipments, partner
    doses), with the loaded solution's discrete decisions held: every plant (0 where it has
    room), and the sites, hubs and partners the network keeps active (a closed one's row
    prices opening it, not its capacity). A site whose patients in reach are fewer than its
    capacity has a row bounded by that reach, not by the capacity: its capacity is worth 0.
    `solve_lp()` runs the LP relaxation of `m` on a solver that holds it and returns
    Pyomo's results. None when the model has no such rows or the held LP does not solve. A
    time-limited MIP may stop with flows the held LP improves on: the values are then those
    of the network's best flows."""
    rows = {kind: (getattr(m, name), getattr(m, var) if var else None)
            for kind, (name, var) in CAPACITY_ROWS.items() if hasattr(m, name)}
    if not rows:
        return None
    priced: dict[str, list] = {}
    for kind, (family, opens) in rows.items():
        # every active facility's row, not only the rows the solution fills: after a
        # time-limited MIP the held LP may re-route flows into one the solution left room in
        priced[kind] = [key for key in family
                        if opens is None or round(opens[key].value or 0.0) == 1]
    started = time.perf_counter()
    with given_back_on_error() as held:
        for v in m.component_data_objects(pyo.Var, active=True, descend_into=True):
            if v.is_integer() and not v.fixed and v.value is not None and v.lb != v.ub:
                held.append((v, v.lb, v.ub))
                v.setlb(round(v.value))
                v.setub(round(v.value))
    try:
        res = solve_lp()
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            log.warning("capacity values left empty: the LP of the network found ended %s",
                        res.termination_condition.name)
            return None
        duals = res.solution_loader.get_duals(
            [rows[kind][0][key] for kind, keys in priced.items() for key in keys])
    finally:
        release(held)
    values: dict[str, dict[str, float]] = {}
    for kind, keys in priced.items():
        family = rows[kind][0]
        # a <= row of a minimisation: its dual is <= 0, the saving of one more unit
        values[kind] = {str(key): max(0.0, -float(duals[family[key]])) for key in keys}
    for key in _reach_bound_sites(m, priced.get("site", [])):
        values["site"][str(key)] = 0.0
    log.info("capacity values: %d plant(s) at capacity, held LP %.1fs",
             len(binding_plants(m)), time.perf_counter() - started)
    return values


def _reach_bound_sites(m: pyo.ConcreteModel, sites: list) -> list:
    """Sites whose patient row is bounded by the patients in their reach, below their
    capacity (model/sites.py `add_site_capacity`): their row's dual is not their
    capacity's."""
    capacity = m.prep.sites["capacity_patients_per_year"].astype(float)
    return [s for s in sites if sum(m.patients_of_pair[i] for i in m.x_by_site.get(s, []))
            < float(capacity[s])]


__all__ = ["CAPACITY_ROWS", "binding_plants", "capacity_values"]
