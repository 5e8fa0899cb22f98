"""Depot stock held for nobody, closed in a loaded solution.

A time-limited MIP can stop with a pooled depot stock held and no patient drawing on it
(national 60 s, before the kernel start: two rdc_rx hub stocks at 0 patients, $0.5-0.6M a
year each). Closing such stock is always feasible (no delivery needs it) and always cheaper,
so the solve does it to every incumbent it keeps.
"""

from __future__ import annotations

import logging

import pyomo.environ as pyo

from ..model.common import group, money

log = logging.getLogger(__name__)


def close_idle_stock(m: pyo.ConcreteModel) -> float:
    """Close the depot stock a loaded solution holds for nobody (held, no patient drawing on
    it, a positive cost at no volume): a time-limited MIP can stop with such stock held, and
    closing it is always feasible (no delivery needs it) and always cheaper. Sets the values
    in `m`; returns the objective saved (model money)."""
    lines = getattr(m, "depot_lines", None)
    if not lines:
        return 0.0
    saved = 0.0
    for key, segs in group(sorted(lines), lambda i: m.depot_seg_key[i]).items():
        stock = m.hold[key]
        if stock.fixed or (stock.value or 0.0) < 0.5 or any(
                (m.nd[i].value or 0.0) > 1e-9 for i in segs):
            continue
        cost = sum(money(lines[i][0]) * (m.zd[i].value or 0.0) for i in segs)
        if cost <= 0:
            continue
        stock.set_value(0)
        for i in segs:
            m.zd[i].set_value(0)
            m.nd[i].set_value(0)
        # its expired doses, split among its plants (flows.py), are gone with it
        split = getattr(m, "expired_at", {})
        for at in [at for at in split if tuple(at[:3]) == tuple(key)]:
            split[at].set_value(0)
        saved += cost
        log.debug("idle depot stock %s closed (%.6g)", key, cost)
    return saved


__all__ = ["close_idle_stock"]
