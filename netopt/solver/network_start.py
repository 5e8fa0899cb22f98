"""A solved network as plain data, to start another solve of a similar model from it.

A scenario batch solves its baseline first and starts every other scenario from the
baseline's network: the design decisions (sites, offers, onboarding, equipment, hubs,
partners, ordering options) by variable name and index. The values are plain dicts of
tuples and ints, so they pickle to worker processes and Dask workers. Fixing them in a new
model leaves a restricted problem (an LP, or a tiny MIP where the new model has decisions the
baseline did not) whose solution, when feasible, is a MIP start for the full model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import pyomo.environ as pyo

#: the design decisions a network start fixes: site active, product offered, area
#: onboarded, equipment class held, hub active, partner active, ordering option chosen,
#: depot stock held and its volume segment
DECISIONS = frozenset({"y", "w", "o", "e", "g", "a", "z", "hold", "zd"})

#: variable name (`y`, or `period[0].y` in a launch timeline) -> {index: 0 or 1}
StartNetwork = dict[str, dict[Hashable, int]]


def decision_vars(m: pyo.ConcreteModel):  # noqa: ANN202 - an iterator of IndexedVar
    """The decision components of the model and its blocks (references skipped: a launch
    timeline's `m.y` points at the blocks' own variables, which are listed themselves)."""
    for var in m.component_objects(pyo.Var, active=True, descend_into=True):
        if var.local_name in DECISIONS and not var.is_reference():
            yield var


def decision_ids(m: pyo.ConcreteModel) -> set[int]:
    """id() of every decision variable of the model and its blocks."""
    return {id(v) for var in decision_vars(m) for v in var.values()}


def network_of(m: pyo.ConcreteModel) -> StartNetwork:
    """The loaded solution's decisions, rounded to 0/1 (call after loading a solution)."""
    network: StartNetwork = {}
    for var in decision_vars(m):
        values = {idx: int(round(v.value)) for idx, v in var.items() if v.value is not None}
        if values:
            network[var.name] = values
    return network


def hold(m: pyo.ConcreteModel, network: StartNetwork) -> list[tuple[Any, Any, Any]]:
    """Bound every free decision the network names (same variable name and index) to the
    network's value; return (var, lower, upper) to `release` afterwards. Bounds rather than
    `fix`, so a persistent solver only updates column bounds. Variables the new model fixes
    itself (excluded sites, lead times) keep their own value, and so do those a caller holds
    already (bounds equal): a staged start's second step holds its first network's offers,
    and the network rounded within it must not reopen or close them."""
    with given_back_on_error() as held:
        for var in decision_vars(m):
            values = network.get(var.name)
            if not values:
                continue
            for idx, v in var.items():
                if v.fixed or idx not in values or (v.lb is not None and v.lb == v.ub):
                    continue
                held.append((v, v.lb, v.ub))
                v.setlb(values[idx])
                v.setub(values[idx])
    return held


def hold_integers(m: pyo.ConcreteModel) -> list[tuple[Any, Any, Any]]:
    """Every free integer variable of `m` bounded to its loaded value, rounded; return
    (var, lower, upper) to `release`. The model left is the LP of the loaded solution's
    decisions, every one of them and not only the network's (KOL coverage too)."""
    with given_back_on_error() as held:
        for v in m.component_data_objects(pyo.Var, active=True):
            if v.is_integer() and not v.fixed and v.value is not None and v.lb != v.ub:
                held.append((v, v.lb, v.ub))
                v.setlb(round(v.value))
                v.setub(round(v.value))
    return held


@contextmanager
def given_back_on_error() -> Iterator[list[tuple[Any, Any, Any]]]:
    """A list to record (var, lower, upper) in while bounds are being replaced: if the scan
    stops with an exception (Ctrl-C in a 4k-decision walk), the bounds replaced so far are
    given back, so a model the caller keeps (a notebook, a batch) is not left restricted."""
    changed: list[tuple[Any, Any, Any]] = []
    try:
        yield changed
    except BaseException:
        release(changed)
        raise


def release(held: list[tuple[Any, Any, Any]]) -> None:
    """Give back the bounds `hold` replaced. They are recorded as values (`lb`, `ub`), not
    as Pyomo's `lower`: a binary's `lower` is an expression of its domain's bound and the one
    set, and giving that back nests it a level deeper at every stage of every solve of one
    model (3,000 restrictions of one model: minutes, then a recursion error reading a
    bound)."""
    for v, lower, upper in held:
        v.setlb(lower)
        v.setub(upper)


__all__ = ["DECISIONS", "StartNetwork", "decision_ids", "decision_vars",
           "given_back_on_error", "hold", "hold_integers", "network_of", "release"]
