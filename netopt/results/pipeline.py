"""The stages wired together: case -> prepare -> build -> solve -> (diagnose) -> results.

A case with a launch timeline (`timeline.periods` > 1) takes the same path with the
multi-period builder, diagnosis and extraction of `model/calendar.py` / `model/timeline.py`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from ..data.case import Case
from ..data.config import SolverSettings
from ..data.io import plain_message
from ..data.problems import InputError, Problem
from ..model.build import build_model
from ..model.calendar import horizon_text, plan_timeline
from ..model.prepare import Prepared, prepare
from ..model.timeline import build_timeline_model
from ..solver.aggregation import solve_by_aggregation
from ..solver.backends import LABELS, check_name, require
from ..solver.diagnose import (
    Infeasible,
    NoNetworkInTime,
    NothingToTreat,
    diagnose,
    diagnose_timeline,
    untreatable_products,
)
from ..solver.facility import solve_facility
from ..solver.highs import SolveInfo, segment_cuts, solve_model
from ..solver.info import SolveError
from ..solver.network_start import StartNetwork, network_of
from .tables import Results, extract, extract_timeline

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: a model without zone aggregation and with more demand point-site-product pairs than this is
#: solved through its aggregated relaxation (solver/aggregation.py: a network and a bound)
COARSE_START_PAIRS = 200_000
#: a fine model whose aggregation path (solver/aggregation.py) did not prove its network and
#: left at least this share of the limit gets the whole MILP from that network and bound
WHOLE_MILP_SHARE = 0.5


def _noop(_: str) -> None:
    return None


def _checked(solver: SolverSettings, updates: dict) -> SolverSettings:
    """`solver` with `updates`, validated like the model file's settings (InputError naming
    the setting otherwise; model_copy alone validates nothing)."""
    try:
        return SolverSettings.model_validate({**solver.model_dump(), **updates})
    except ValidationError as exc:
        # named as the caller wrote them: the keyword arguments of the solve
        raise InputError([Problem("solve arguments", None, _ARGUMENT.get(
            str(err["loc"][0]), str(err["loc"][0])) + "=",
            plain_message(err),
            str(err.get("input"))) for err in exc.errors()]) from None


#: solver setting -> the keyword of solve_case (and netopt.solve) that overrides it
_ARGUMENT = {"time_limit": "time_limit", "mip_gap": "gap", "threads": "threads",
             "seed": "seed", "name": "solver"}


def solve_case(case: Case, time_limit: float | None = None, gap: float | None = None,
               threads: int | None = None, seed: int | None = None, tee: bool = False,
               progress: Progress = _noop, prepared: Prepared | None = None,
               solver_name: str | None = None,
               start_network: StartNetwork | None = None) -> Results:
    """Solve one case end to end. Raises Infeasible (with the reasons) when hard settings
    cannot all be met; returns Results (possibly time-limited, with its gap) otherwise.
    Raises SolverUnavailable before any work when the solver named is not installed.

    start_network: another solve's `Results.network` (a batch's baseline) to start from
    where it is feasible; the returned Results carry their own network for the same use."""
    solver = case.config.solver
    updates = {k: v for k, v in (("time_limit", time_limit), ("mip_gap", gap),
                                 ("threads", threads), ("seed", seed)) if v is not None}
    if solver_name is not None:
        updates["name"] = check_name(solver_name)
    if updates:  # checked as the model file's settings are: a limit of 0 s, a gap of -1...
        solver = _checked(solver, updates)
    if solver.name != "highs":
        require(solver.name)
    label = LABELS[solver.name]
    started = time.perf_counter()
    progress("preparing lanes and pairs")
    prep = prepared or prepare(case)
    # a launch timeline (more than one period) builds one block of the network per period
    plan = plan_timeline(prep) if case.config.timeline.periods > 1 else None
    untreatable = untreatable_products(prep)
    if untreatable and not case.config.service.allow_unserved:
        # known infeasible before any solve (the facility decomposition took 47 s on tiny
        # to give up): the diagnosis names these patients with the rest
        progress("infeasible: diagnosing with an elastic model")
        raise Infeasible(diagnose_timeline(plan, solver) if plan else diagnose(prep, solver))
    if untreatable and len(prep.pairs) == 0:
        raise NothingToTreat(untreatable)
    for line in untreatable:
        log.warning("%s; the network leaves them unserved", line)
    horizon = f", {horizon_text(plan)}" if plan else ""
    progress(f"building model ({len(prep.pairs):,} pairs, {len(prep.site_products):,} "
             f"site-products{horizon})")
    solved, spent, start_name, known_bound = None, 0.0, "baseline", None
    earlier: list[dict] = []  # stages of a relaxation that chose the start network
    if start_network is None and _wants_coarse_start(prep, plan, solver):
        attempt = time.perf_counter()
        found = solve_by_aggregation(prep, solver, tee=tee, progress=progress,
                                     search_after=1 - WHOLE_MILP_SHARE)
        spent, start_name = time.perf_counter() - attempt, "coarse"
        start_network, known_bound, earlier = found.network, found.bound, found.stages
        if found.solved is not None and solver.method != "milp" and (
                found.solved[1].status == "optimal"
                or spent > (1 - WHOLE_MILP_SHARE) * solver.time_limit):
            solved = found.solved
    if (plan is None and solver.method != "milp" and solver.name == "highs"
            and start_network is None):
        attempt = time.perf_counter()
        found_networks: list[tuple[StartNetwork, float]] = []
        solved = solve_facility(prep, solver, tee=tee, progress=progress,
                                starts=found_networks)
        spent += time.perf_counter() - attempt
        if solved is None and found_networks:  # not proven: the MILP starts from it
            (start_network, known_bound), start_name = found_networks[0], "facility"
    if solved is not None:
        m, info = solved
        info.build_seconds = time.perf_counter() - started - info.solve_seconds
    else:
        m, info = _solve_milp(prep, plan, solver, tee, progress, spent, label, start_network,
                              start_name, known_bound)
        info.stages = earlier + info.stages
    if not info.has_solution:
        if info.status == "infeasible":
            progress("infeasible: diagnosing with an elastic model")
            raise Infeasible(diagnose_timeline(plan, solver) if plan else diagnose(prep, solver))
        if info.out_of_time:
            raise NoNetworkInTime.now([f"{label} found no network ({info.termination}) within "
                                       f"{solver.time_limit:g}s; raise --time-limit"], info)
        raise SolveError(f"{label} stopped without a network ({info.termination})")
    progress("extracting results")
    result = extract_timeline(m, info) if plan else extract(m, info)
    # the solver settings that ran, command-line overrides (--solver, --time-limit) included
    result.summary["settings"]["solver"] = solver.model_dump(mode="json")
    result.network = network_of(m)
    return result


def _wants_coarse_start(prep: Prepared, plan, solver) -> bool:  # noqa: ANN001
    """A fine model (no zone merging, many pairs) solved by HiGHS with its warm start on:
    its own LP does not finish within the limit at national scale, where its aggregated
    relaxation gives a network and a bound (solver/aggregation.py). With `solver.method:
    milp` the relaxation's network and bound only start the whole MILP."""
    agg = prep.case.config.aggregation
    return (plan is None and solver.name == "highs" and solver.warm_start
            and not prep.explicit_costs and agg.cluster_km <= 0
            and agg.cluster_share_of_reach <= 0 and len(prep.pairs) > COARSE_START_PAIRS)


def _solve_milp(prep: Prepared, plan, solver, tee: bool, progress: Progress,  # noqa: ANN001
                spent: float, label: str, start_network: StartNetwork | None,
                start_name: str = "baseline", known_bound: float | None = None):
    """The plain MILP: the whole model to the solver (the reference path). Solve time already
    spent on a decomposition that could not prove its network (or on the aggregated
    relaxation that starts it) counts against the limit; preparing and building do not (the
    limit is solve time, as documented)."""
    started = time.perf_counter()
    m = build_timeline_model(plan) if plan else build_model(prep)
    build_seconds = time.perf_counter() - started
    left = solver.time_limit - spent
    if solver.segment_cuts is None:
        # the cuts follow the run's limit, not what a decomposition's attempt left of it:
        # `--time-limit 120` ran without them after the facility check's few milliseconds
        solver = solver.model_copy(update={"segment_cuts": segment_cuts(solver)})
    progress(f"solving with {label} (limit {left:.0f}s, gap {solver.mip_gap:g})")
    info = solve_model(m, solver, tee=tee, time_limit=max(left, 1.0), capacity_values=True,
                       start_network=start_network, start_name=start_name,
                       known_bound=known_bound)
    info.build_seconds = build_seconds
    info.solve_seconds += spent
    return m, info


__all__ = ["solve_case", "Results", "SolveInfo", "Infeasible", "NoNetworkInTime"]
