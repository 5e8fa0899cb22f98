"""The stages wired together: case -> prepare -> build -> solve -> (diagnose) -> results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .case import Case
from .diagnose import Infeasible, diagnose
from .model.build import build_model
from .prepare import Prepared, prepare
from .results import Results, extract
from .solve import SolveInfo, solve_model

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def solve_case(case: Case, time_limit: float | None = None, gap: float | None = None,
               threads: int | None = None, seed: int | None = None, tee: bool = False,
               progress: Progress = _noop, prepared: Prepared | None = None) -> Results:
    """Solve one case end to end. Raises Infeasible (with the reasons) when hard settings
    cannot all be met; returns Results (possibly time-limited, with its gap) otherwise."""
    solver = case.config.solver
    updates = {k: v for k, v in (("time_limit", time_limit), ("mip_gap", gap),
                                 ("threads", threads), ("seed", seed)) if v is not None}
    if updates:
        solver = solver.model_copy(update=updates)
    started = time.perf_counter()
    progress("preparing lanes and pairs")
    prep = prepared or prepare(case)
    progress(f"building model ({len(prep.pairs):,} pairs, {len(prep.site_products):,} "
             "site-products)")
    m = build_model(prep)
    build_seconds = time.perf_counter() - started
    progress(f"solving with HiGHS (limit {solver.time_limit:g}s, gap {solver.mip_gap:g})")
    info = solve_model(m, solver, tee=tee)
    info.build_seconds = build_seconds
    if not info.has_solution:
        if info.status == "infeasible":
            progress("infeasible: diagnosing with an elastic model")
            raise Infeasible(diagnose(prep, solver))
        raise Infeasible([f"HiGHS found no solution ({info.termination}) within "
                          f"{solver.time_limit:g}s; raise --time-limit"], info=info)
    progress("extracting results")
    return extract(m, info)


__all__ = ["solve_case", "Results", "SolveInfo", "Infeasible"]
