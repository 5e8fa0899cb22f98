"""What a staged start designs first and what it places afterwards.

Two things make the LP relaxation of a national model spread thin: a product that must be
held in stock near its patients (an off-the-shelf therapy whose just-in-time order cannot
meet its schedule notice at most sites) and stock pooled at hubs and partner depots. The LP
gives every site of a metro a share of a stocked segment or a depot, the rounded network
opens all of them, and on `models/us-depots.yaml` (six products, pooled depot stock: the
national default `models/us-launch.yaml` since 2026-12-06; "us-depots" in the comments of
the solver's modules) the kernel search cannot close that surplus within a minute (its 60-s
network was 15 % above its bound, $182.9M against the $158.8M ten minutes find;
bench/RESULTS.md).

A staged start therefore designs the network in two steps, each with the kernel start of
solver/highs.py:
1. the network for every other product, with those products left unserved and no depot
   stock (each site keeps its own), where the relaxation is tight;
2. that network held for the other products (their offers; the hubs and sites it opens stay
   open), the stocked products and the depot stock placed into it.
The result is a complete network of the whole model: the MIP start of the full MIP. Both
steps are restrictions of the model, so neither step's LP is a lower bound; the solve's bound
comes from the whole model (solver/bound_worker.py).

The first step leaves patients unserved, so it needs a model where that is allowed: with a
service-level share or a KOL rule the usual start runs instead. Nor does a start short enough
to hand its LP dive to the neighbourhood search take two steps (solver/highs.py
`solve_model`; on these models a start of under STAGED_DIVE_SEARCH_SECONDS, 400 s): the
dive fixes what the LP spreads an LP at a time instead of rounding it all up, and the
search gets the steps' seconds, screening its first pass. One start against two steps
(bench/RESULTS.md):

- 60 s, seeds 0-4: us-depots $142.77M-$143.42M against $143.71M-$146.98M, the five
  products with pooled depots $127.28M-$128.40M against $128.02M-$129.77M (cheaper on nine
  seeds of ten, the tenth within $2k); the steps with a dive and search of their own did
  no better;
- 120 s, seeds 0-4: us-depots $142.69M-$142.79M at 1.88-2.05 % against $143.07M-$143.70M
  at 2.18-2.99 %; pooled $127.14M-$127.27M at 1.23-1.35 % against $127.26M-$127.79M at
  1.72-1.99 % (cheaper on four seeds of five, the fifth $10k dearer);
- 180 s, seeds 0-2 and 0-1: us-depots $142.51M-$142.73M at 1.45-1.70 % against
  $142.97M-$143.20M at 1.82-2.06 %; pooled $127.10M at 0.97-1.07 % against
  $127.31M-$127.58M at 1.46-1.60 %;
- 290 and 360 s, us-depots seed 0: $142.29M at 1.09 % against $142.38M at 1.28 %, and
  $142.20M at 0.99 % against $142.32M at 1.21 %;
- but 450 and 600 s, us-depots seed 0: the steps, then the whole model's kernel start
  (solver/highs.py STAGED_WHOLE_SECONDS) and the search, $141.89M and $141.83M, against
  one start's dive searched for 397 and 544 s, $142.13M and $142.05M.

The bound is the worker's on the whole model either way, and higher with one start
(us-depots at 120 s: $139.86M-$140.03M against $139.41M-$139.96M): from two minutes on the
whole model's cut loop runs to its end (stalled after 6 rounds, 27-34 s) before the worker
starts from it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import pyomo.environ as pyo

from .network_start import StartNetwork

#: a product is placed in the second step when, at more than this share of the sites that
#: may offer it, every ordering option holds stock (none is just in time): us-depots'
#: allo_vst at 74 % of its sites, every other shipped product at 0 %
STOCKED_SHARE = 0.5


@dataclass(frozen=True)
class Deferred:
    """What the second step places: stocked products and whether depot stock is pooled."""

    products: tuple[str, ...]
    depots: bool

    def describe(self) -> str:
        """In words, for the log and the solve's account."""
        parts = [", ".join(self.products)] if self.products else []
        if self.depots:
            parts.append("depot stock")
        return " and ".join(parts)


def deferred(m: pyo.ConcreteModel) -> Deferred | None:
    """What a staged start would place second in `m`, or None when the usual start applies:
    nothing spreads the LP, every product would be deferred, or the first step could not
    leave patients unserved."""
    prep = getattr(m, "prep", None)
    if prep is None or not hasattr(m, "reach"):
        return None
    config = prep.case.config
    if (not config.service.allow_unserved or config.service.min_share > 0
            or config.kols.mode != "none"):
        return None
    products = tuple(sorted(_stocked_products(m)))
    offered = {k for _, k in m.SK}
    depots = hasattr(m, "hold") and len(m.hold) > 0
    if not (products or depots) or offered <= set(products):
        return None
    return Deferred(products, depots)


def _stocked_products(m: pyo.ConcreteModel) -> set[str]:
    """Products that need stock at more than STOCKED_SHARE of their candidate sites."""
    options = m.prep.ordering
    if options is None or options.empty:
        return set()
    stocked = options.groupby(["site_id", "product_id"])["life_days"].apply(
        lambda life: bool(life.notna().all()))
    open_to = {}
    for s, k in m.SK:
        if not (m.w[s, k].fixed and m.w[s, k].value == 0):
            open_to.setdefault(k, []).append(bool(stocked.get((s, k), False)))
    return {k for k, flags in open_to.items() if sum(flags) > STOCKED_SHARE * len(flags)}


def first_step(m: pyo.ConcreteModel, later: Deferred) -> StartNetwork:
    """The decisions the first step closes: the deferred products' offers and every depot's
    stock (for `network_start.hold`)."""
    closed: StartNetwork = {}
    products = set(later.products)
    offers = {sk: 0 for sk in m.SK if sk[1] in products}
    if offers:
        closed[m.w.name] = offers
    if later.depots:
        closed[m.hold.name] = dict.fromkeys(m.hold, 0)
    return closed


def second_step(m: pyo.ConcreteModel, network: StartNetwork, later: Deferred
                ) -> StartNetwork:
    """The first step's decisions the second step holds: the other products' offers at their
    values, the hubs and sites it opened open (a deferred product or a depot's stock may open
    more: holding the closed hubs closed too cost $0.8M-$1.5M at 60 s on us-depots, seeds 0
    and 1, where a hub opens to pool stock)."""
    products = set(later.products)
    held: StartNetwork = {}
    offers: dict[Hashable, int] = {sk: v for sk, v in network.get(m.w.name, {}).items()
                                   if sk[1] not in products}
    if offers:
        held[m.w.name] = offers
    for var in (m.g, m.y):
        opened = {i: 1 for i, v in network.get(var.name, {}).items() if v == 1}
        if opened:
            held[var.name] = opened
    return held


__all__ = ["STOCKED_SHARE", "Deferred", "deferred", "first_step", "second_step"]
