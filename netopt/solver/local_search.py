"""Drop search: close the hubs and partners a rounded network keeps but does not need.

Rounding the LP relaxation up keeps every hub and partner the LP touches at all: on the
national default 19 of 22 hubs, where good networks use about 15, at some $330k a year each.
The classic drop heuristic for facility location (close one facility at a time while that
lowers the cost) removes that surplus before the restricted MIP solves what is left. Each
trial is priced by the restricted LP: the network's decisions held, flows, stock and the
remaining choices relaxed. That is a warm dual-simplex re-solve of a few tenths of a second,
so a whole pass over the hubs costs less than one restricted MIP. The LP price errs the same
way for every trial (onboarding, equipment and ordering options relaxed), and a drop that
closes a facility a kept offer needs shows up as unserved patients and is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable

from .network_start import StartNetwork

log = logging.getLogger(__name__)

#: a drop is taken when it lowers the restricted LP by more than this share of its value
MIN_IMPROVEMENT = 1e-6


#: one closure: the (variable name, index) decisions set to 0 together (a site and its offers)
Closure = tuple[tuple[str, Hashable], ...]


def drop_facilities(network: StartNetwork, evaluate: Callable[[StartNetwork], float | None],
                    candidates: Iterable[Closure], deadline: float
                    ) -> tuple[StartNetwork, float | None, int]:
    """First-improvement drop search over `candidates` (closures of open facilities, most
    promising first): close each in turn and keep the closure when `evaluate` (the cost of a
    network, None when it has no solution) falls. Passes repeat until one closes nothing or
    the deadline passes. Returns the network, its cost and the number of closures kept; the
    input network is not changed."""
    current = {name: dict(values) for name, values in network.items()}
    best = evaluate(current)
    if best is None:
        return current, None, 0
    order = [c for c in candidates if c and current.get(c[0][0], {}).get(c[0][1]) == 1]
    closed = 0
    while order and time.perf_counter() < deadline:
        kept = []
        for closure in order:
            if time.perf_counter() >= deadline:
                kept.append(closure)
                continue
            before = [(name, index, current[name][index]) for name, index in closure]
            for name, index in closure:
                current[name][index] = 0
            value = evaluate(current)
            if value is not None and value < best - MIN_IMPROVEMENT * abs(best):
                log.debug("drop search: %s closed, %.6g -> %.6g", closure[0], best, value)
                best, closed = value, closed + 1
            else:
                for name, index, was in before:
                    current[name][index] = was
                kept.append(closure)
        if len(kept) == len(order):
            break
        order = kept
    return current, best, closed


__all__ = ["Closure", "drop_facilities"]
