"""The stages wired together: case -> prepare -> build -> solve -> (diagnose) -> results.

A case with a launch timeline (`timeline.periods` > 1) takes the same path with the
multi-period builder, diagnosis and extraction of `model/calendar.py` / `model/timeline.py`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..data.case import Case
from ..model.build import build_model
from ..model.calendar import horizon_text, plan_timeline
from ..model.prepare import Prepared, prepare
from ..model.timeline import build_timeline_model
from ..solver.backends import LABELS, check_name, require
from ..solver.diagnose import Infeasible, diagnose, diagnose_timeline
from ..solver.facility import solve_facility
from ..solver.highs import SolveInfo, solve_model
from ..solver.network_start import StartNetwork, network_of
from .tables import Results, extract, extract_timeline

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


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
    if updates:
        solver = solver.model_copy(update=updates)
    if solver.name != "highs":
        require(solver.name)
    label = LABELS[solver.name]
    started = time.perf_counter()
    progress("preparing lanes and pairs")
    prep = prepared or prepare(case)
    # a launch timeline (more than one period) builds one block of the network per period
    plan = plan_timeline(prep) if case.config.timeline.periods > 1 else None
    horizon = f", {horizon_text(plan)}" if plan else ""
    progress(f"building model ({len(prep.pairs):,} pairs, {len(prep.site_products):,} "
             f"site-products{horizon})")
    solved, spent = None, 0.0
    if (plan is None and solver.method != "milp" and solver.name == "highs"
            and start_network is None):
        progress(f"solving by facility decomposition (limit {solver.time_limit:g}s)")
        attempt = time.perf_counter()
        solved = solve_facility(prep, solver, tee=tee)
        spent = time.perf_counter() - attempt
    if solved is not None:
        m, info = solved
        info.build_seconds = time.perf_counter() - started - info.solve_seconds
    else:
        m, info = _solve_milp(prep, plan, solver, tee, progress, spent, label, start_network)
    if not info.has_solution:
        if info.status == "infeasible":
            progress("infeasible: diagnosing with an elastic model")
            raise Infeasible(diagnose_timeline(plan, solver) if plan else diagnose(prep, solver))
        raise Infeasible([f"{label} found no solution ({info.termination}) within "
                          f"{solver.time_limit:g}s; raise --time-limit"], info=info)
    progress("extracting results")
    result = extract_timeline(m, info) if plan else extract(m, info)
    # the solver settings that ran, command-line overrides (--solver, --time-limit) included
    result.summary["settings"]["solver"] = solver.model_dump(mode="json")
    result.network = network_of(m)
    return result


def _solve_milp(prep: Prepared, plan, solver, tee: bool, progress: Progress,  # noqa: ANN001
                spent: float, label: str, start_network: StartNetwork | None):
    """The plain MILP: the whole model to the solver (the reference path). Solve time already
    spent on a decomposition that could not prove its network counts against the limit;
    preparing and building do not (the limit is solve time, as documented)."""
    started = time.perf_counter()
    m = build_timeline_model(plan) if plan else build_model(prep)
    build_seconds = time.perf_counter() - started
    left = solver.time_limit - spent
    progress(f"solving with {label} (limit {left:.0f}s, gap {solver.mip_gap:g})")
    info = solve_model(m, solver, tee=tee, time_limit=max(left, 1.0),
                       start_network=start_network)
    info.build_seconds = build_seconds
    info.solve_seconds += spent
    return m, info


__all__ = ["solve_case", "Results", "SolveInfo", "Infeasible"]
