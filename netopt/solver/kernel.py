"""The kernel of a network model: the design decisions the LP relaxation or a start uses.

Kernel search (Angelelli, Mansini & Speranza 2010; Guastaroba & Speranza 2012 for facility
location) solves the MIP restricted to the variables the LP relaxation makes promising and
closes the rest. On netopt's national model the LP touches about half of the candidate
sites, offers and hubs; the MIP over those alone is a fraction of the full one, HiGHS's root
cuts and sub-MIP heuristics work on it in seconds, and its optimum is a network the full MIP
needs many minutes to find (measured in bench/RESULTS.md). Unlike rounding, the kernel keeps
every LP-used decision a *choice*: it can close a site the LP spreads thinly over, which a
network held open cannot.

The kernel is a restriction, so its optimum is an upper bound (a start for the full MIP),
never a proof: decisions outside it stay closed only for that one run.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from .network_start import decision_vars, given_back_on_error

#: the decisions the kernel restricts: site active, product offered, area onboarded,
#: equipment held, hub active, partner active, pooled depot stock held (ordering options
#: follow their offers; a depot's volume segments follow its stock)
KERNEL_DECISIONS = ("y", "w", "o", "e", "g", "a", "hold")


def restrict_to_kernel(m: pyo.ConcreteModel, lp_values: dict[int, float | None],
                       start: dict[int, float] | None, threshold: float, agree: float,
                       never_held: tuple[str, ...] = ()) -> list[tuple[Any, Any, Any]]:
    """Close (upper bound 0) every free decision that the LP relaxation uses at most at
    `threshold` and the start does not use, and hold open (lower bound 1) every one that the
    start uses and the LP at least at `agree` (where relaxation and start agree, as RINS
    fixes them: the national kernel MIP then proves its own optimum within the 60-s run
    instead of stopping at the clock). The decisions named in `never_held` are never held
    open, only closed. Returns (var, lower, upper) for network_start.release; `lp_values`
    and `start` map id(var) to a value."""
    start = start or {}
    with given_back_on_error() as restricted:
        for name in KERNEL_DECISIONS:
            var = getattr(m, name, None)
            for v in var.values() if var is not None else ():
                if v.fixed or (v.ub is not None and v.ub <= 0):
                    continue
                lp = lp_values.get(id(v)) or 0.0
                if lp >= agree and start.get(id(v), 0.0) > 0.5 and name not in never_held:
                    restricted.append((v, v.lb, v.ub))
                    v.setlb(1)
                    continue
                if lp > threshold or start.get(id(v), 0.0) > 0.5:
                    continue
                restricted.append((v, v.lb, v.ub))
                v.setub(0)
    return restricted


def restrict_to_closing(m: pyo.ConcreteModel, start: dict[int, float]
                        ) -> list[tuple[Any, Any, Any]]:
    """Close every free design decision (solver/network_start.DECISIONS: sites, offers,
    onboarding, equipment, hubs, partners, ordering options, depot stock and its segments)
    that the start does not use; what it uses stays a choice. The MIP left may only close:
    its networks are the start's subsets. An offer that stays open keeps its ordering option
    and volume segment (a depot its segment), so its volume stays within that segment: on the
    national default that small MIP gave $140.75M in 10.3 s, where freeing the options of the
    offers it keeps gave $140.79M in 12.2 s. A kernel MIP that stops early (the narrow
    kernel at its 3 % gap) leaves offers and onboardings that serve too few patients
    to pay for themselves; this MIP drops them in about 10 s, where the next kernel, which
    may also open, needs half a minute for the same (bench/RESULTS.md). Returns (var, lower,
    upper) for network_start.release; `start` maps id(var) to a value."""
    with given_back_on_error() as restricted:
        for var in decision_vars(m):
            for v in var.values():
                if v.fixed or (v.ub is not None and v.ub <= 0) or start.get(id(v), 0.0) > 0.5:
                    continue
                restricted.append((v, v.lb, v.ub))
                v.setub(0)
    return restricted


def restrict_to_integral(m: pyo.ConcreteModel, tolerance: float
                         ) -> list[tuple[Any, Any, Any]]:
    """Hold every free integer variable whose loaded value (an LP's) is within `tolerance` of
    an integer at that integer: the MIP left completes the LP where it is fractional, as
    HiGHS completes a solution it holds (solver/highs.py `_completed_lp`). Returns (var,
    lower, upper) for network_start.release."""
    with given_back_on_error() as restricted:
        for v in m.component_data_objects(pyo.Var, descend_into=True):
            if v.fixed or not v.is_integer() or v.value is None:
                continue
            value = round(v.value)
            if abs(v.value - value) > tolerance or (v.lb is not None and v.lb == v.ub):
                continue
            restricted.append((v, v.lb, v.ub))
            v.setlb(value)
            v.setub(value)
    return restricted


__all__ = ["KERNEL_DECISIONS", "restrict_to_closing", "restrict_to_integral",
           "restrict_to_kernel"]
