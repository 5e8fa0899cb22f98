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


def plant_capacity_values(m: pyo.ConcreteModel, solve_lp: Callable[[], object]
                          ) -> dict[str, float] | None:
    """Model money a year that one more dose of capacity saves, per plant of `m` (0 where a
    plant has room), with the loaded solution's discrete decisions held. `solve_lp()` runs
    the LP relaxation of `m` on a solver that holds it and returns Pyomo's results. None when
    the model has no plant rows or the held LP does not solve. A time-limited MIP may stop
    with flows the held LP improves on: the values are then those of the network's best
    flows."""
    rows = getattr(m, "plant_capacity", None)
    if rows is None:
        return None
    values = {str(plant): 0.0 for plant in rows}
    # every row's dual, not only the rows the solution fills: after a time-limited MIP the
    # held LP may re-route flows into a plant the solution left room in (slack rows read 0)
    plants = list(rows)
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
            log.warning("plants.csv capacity_value_usd_per_dose left empty: the LP of the "
                        "network found ended %s", res.termination_condition.name)
            return None
        duals = res.solution_loader.get_duals([rows[p] for p in plants])
    finally:
        release(held)
    for plant in plants:
        # a <= row of a minimisation: its dual is <= 0, the saving of one more dose
        values[str(plant)] = max(0.0, -float(duals[rows[plant]]))
    log.info("plant capacity values: %d plant(s) at capacity, held LP %.1fs",
             len(binding_plants(m)), time.perf_counter() - started)
    return values


__all__ = ["binding_plants", "plant_capacity_values"]
