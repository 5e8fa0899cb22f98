"""Solve a fine-geography model through its aggregated relaxation (model/relaxation.py).

At national fine resolution (every US place of >= 500 people: 1.47M point-site-product pairs,
1.6M columns) no LP of the whole model finishes within a 10-minute limit on two cores: Pyomo's
hand-over alone takes over a minute, HiGHS's presolve another, and the root LP never ends, so
the MILP path returns a network with no bound. This path spends the limit where it pays:
1. the relaxation (cells of a share of each product's reach, each priced from its cheapest
   members: ~45k pairs nationally) is solved as a MILP for most of the limit. Its bound is a
   lower bound on the fine model, and its network is a good fine network;
2. the fine model restricted to that network's offers (pairs at other site-products dropped,
   the network's sites, offers, onboarding, equipment, hubs and partners held) prices the
   network where patients live: every assignment, flow and ordering option is re-solved at
   fine resolution (its ordering options then searched one metro at a time to the end of the
   limit). That is a restriction, so its cost is an upper bound on the fine optimum.
The answer is that network with the gap between the two. When the restricted solve leaves
most of the limit (small models), the caller runs the whole MILP from the network with the
relaxation's bound, so a network the relaxation cannot prove is improved or proven there.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo

from ..data.config import SolverSettings
from ..model.build import build_model
from ..model.demand import travel_step_rows
from ..model.prepare import Prepared, over_offers
from ..model.relaxation import aggregated_relaxation
from .arrays import with_rows
from .bound_worker import CarriedProof
from .highs import best_bound, held_settings, solve_model
from .info import SolveInfo
from .network_start import StartNetwork, hold, network_of, release

log = logging.getLogger(__name__)

#: the relaxation's cells: this share of each product's max patient travel. Coarser cells
#: loosen the relaxation's LP but leave a MILP the start and HiGHS's root finish: on the
#: national fine model (one run each, 360 s) cells of 15 % of reach gave 97k pairs and a
#: bound of $244.9M, 25 % 45k pairs and $248.0M, 35 % 27k pairs and $245.1M
CELL_SHARE_OF_REACH = 0.25
#: share of the time limit the relaxation's MILP may take; the rest prices its network at
#: fine resolution. us-fine: the relaxation's kernels end by about 200 s, then its full MIP
#: never found a better network in 100-180 s (six runs); its bound comes from the worker,
#: which proves on through the pricing (CarriedProof). The pricing's completed LP needs
#: 119-142 s: at 0.6 it reached its cap in one run of three ($245.71M instead of $244.24M),
#: at 0.5 it ended at its gap in 131 s (bench/RESULTS.md)
RELAXATION_SHARE = 0.5


@dataclasses.dataclass
class AggregationResult:
    """What the aggregation path found: the fine model priced at the relaxation's network
    (None when that network is not feasible at fine resolution), the network itself (a
    start for the whole MILP) and the relaxation's lower bound (None when it proved none)."""

    solved: tuple[pyo.ConcreteModel, SolveInfo] | None
    network: StartNetwork | None
    bound: float | None
    #: the relaxation's stages (SolveInfo.stages), named "relaxation: <stage>": they chose
    #: the network, so a whole MILP started from it reports them too
    stages: list[dict] = dataclasses.field(default_factory=list)


def solve_by_aggregation(prep: Prepared, settings: SolverSettings, tee: bool = False,
                         progress: Callable[[str], None] | None = None,
                         search_after: float = 0.0) -> AggregationResult:
    """The relaxation's network and bound, and the fine model priced at that network (see
    the module docstring). `search_after`: the share of the limit past which the caller
    keeps the priced network whatever time is left (results/pipeline.py runs the whole MILP
    from it only when the path ended sooner): a pricing that starts past it searches its
    ordering options to the end of the limit, one that starts sooner ends at its gap."""
    started = time.perf_counter()
    limit = float(settings.time_limit)
    relaxed = aggregated_relaxation(prep, CELL_SHARE_OF_REACH)
    # its travel steps go to the bound worker only (_travel_steps_for_the_proof)
    stepped, relaxed = relaxed, dataclasses.replace(relaxed, travel_steps=None)
    twin_settings = settings.model_copy(update={"time_limit": RELAXATION_SHARE * limit})
    if progress is not None:
        progress(f"solving the aggregated relaxation ({len(relaxed.pairs):,} pairs of "
                 f"{len(prep.pairs):,}) for a network and a bound (limit "
                 f"{twin_settings.time_limit:.0f}s)")
    twin = build_model(relaxed)
    # the relaxation's bound worker proves on while the network is priced (CarriedProof)
    carry = CarriedProof(until=started + limit, tighten=_travel_steps_for_the_proof(stepped))
    try:
        info = solve_model(twin, twin_settings, tee=tee, carry=carry)
        log.info("aggregated relaxation: %s, objective %s, bound %s after %.1fs",
                 info.status, info.objective, info.bound, time.perf_counter() - started)
        stages = [{**st, "stage": f"relaxation: {st['stage']}"} for st in info.stages]
        if not info.has_solution:
            return AggregationResult(None, None, info.bound, stages)
        network = {name: values for name, values in network_of(twin).items() if name != "z"}
        del twin
        if progress is not None:
            progress("pricing its network at full resolution")
        pricing = settings
        if carry.worker is not None and carry.worker.running:
            # the other core is the relaxation's worker's: one thread, as a staged start's
            # second step runs beside its worker, and no warning about busy cores of our own
            pricing = settings.model_copy(update={"threads": 1})
        searched = time.perf_counter() - started >= search_after * limit
        solved = _priced_network(prep, network, pricing, tee, limit + started, searched)
    finally:
        late = carry.stop()
    bound = best_bound(info.bound, late)
    if late is not None:
        log.info("aggregated relaxation: bound %.6g after the pricing (%s when it ended)",
                 late, info.bound)
    if solved is None:
        return AggregationResult(None, network, bound, stages)
    m, fine = solved
    gap = None if bound is None else abs(fine.objective - bound) / max(abs(fine.objective),
                                                                      1e-9)
    proven = gap is not None and gap <= settings.mip_gap and fine.status == "optimal"
    fine = dataclasses.replace(
        fine, status="optimal" if proven else "feasible", bound=bound, gap=gap,
        solve_seconds=time.perf_counter() - started, method="aggregation", start="coarse",
        stages=stages + fine.stages)
    log.info("aggregation: network %.6g at fine resolution, bound %s, gap %s",
             fine.objective, bound, gap)
    return AggregationResult((m, fine), network, bound, stages)


def _travel_steps_for_the_proof(relaxed: Prepared
                                ) -> Callable[[dict, Callable[[int], int]], dict] | None:
    """The relaxation's travel steps (model/relaxation.py) as rows for its bound worker's copy
    (CarriedProof.tighten), not for the model the start searches. us-fine, 600 s, seeds 0-2,
    with the steps in the searched model too: bounds $246.17M-$246.21M against
    $245.33M-$245.51M, but networks $0.24M-$1.22M dearer where patients live (their LP
    spreads a cell's far members over more sites, so the strict kernel keeps more decisions
    and takes 142-161 s instead of 105-108 s, leaving the search 0-58 s instead of 105-112 s):
    the gaps the same on average (2.42 % against 2.43 %). None when there are no steps."""
    if relaxed.travel_steps is None or relaxed.travel_steps.empty:
        return None
    ladders = travel_step_rows(relaxed)

    def tighten(arrays: dict, column_of_pair: Callable[[int], int]) -> dict:
        row, col, value, lower = [], [], [], []
        for extra_col, (pair, ladder) in enumerate(sorted(ladders.items())):
            for slope, intercept in ladder:  # travel_extra - slope x >= -intercept
                row += [len(lower)] * 2
                col += [arrays["num_col"] + extra_col, column_of_pair(pair)]
                value += [1.0, -slope]
                lower.append(-intercept)
        return with_rows(arrays, np.ones(len(ladders)), np.array(lower),
                         np.full(len(lower), np.inf), np.array(row), np.array(col),
                         np.array(value))

    return tighten


def _priced_network(prep: Prepared, network: StartNetwork, settings: SolverSettings,
                    tee: bool, deadline: float, searched: bool = True
                    ) -> tuple[pyo.ConcreteModel, SolveInfo] | None:
    """The fine model over the network's offers only, its design held, solved by the
    deadline (perf_counter seconds: building it counts too), its ordering options
    `searched` to the deadline (solve_model's `search_held`): None when that is infeasible
    here (a site's minimum volume or a service level the cells met only on paper)."""
    m = build_model(over_offers(prep, {key for key, v in network.get("w", {}).items() if v}))
    held = hold(m, network)
    try:
        info = solve_model(m, held_settings(settings), tee=tee,
                           time_limit=max(deadline - time.perf_counter(), 1.0),
                           search_held=searched)
    finally:
        release(held)
    if not info.has_solution:
        log.info("the relaxation's network is not feasible at full resolution (%s)",
                 info.status)
        return None
    return m, info


__all__ = ["AggregationResult", "solve_by_aggregation"]
