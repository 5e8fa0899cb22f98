"""One model re-solved many times, each time with a few decisions held at other bounds: the
N-1 outages of a fixed network (`netopt resilience`), a site flipped in a held network
(`netopt explain`).

Why not `solve_model` once per variant: on the national default each re-solve took about
34 s, of which HiGHS's MIP proper was under 20 s. The rest was handing the model to HiGHS
again (Pyomo, 2-5 s), the linking cut loop again (1 s), and a completion MIP HiGHS runs
first on the LP solution the loop leaves behind (11 s, `_Highs` in highs.py). Fixing a
variable on a kept Pyomo interface is no cheaper: Pyomo then removes and re-adds every row
that holds it (8 s). So the model goes to HiGHS once, the cut loop runs once (its rows only
tighten the relaxation and stay valid for every variant), and each variant is the same
arrays with the variant's columns at its own bounds, solved by a fresh HiGHS object that holds no
solution. Variants are independent, so they run side by side in worker processes, one per
thread the model's `solver.threads` allows, each HiGHS with one thread (HiGHS's MIP keeps
about one core busy anyway). A fresh object per variant, the same options and one thread
make each answer independent of the worker that solves it and of the order.

Measured on the national default's N-1 (16 hubs, 1 partner): bench/RESULTS.md.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap, ComponentSet
from pyomo.core.base.var import VarData

from ..data.config import SolverSettings
from ..model.sites import lazy_linking
from . import machine
from .arrays import highs_from_arrays, model_arrays
from .diving import INFEASIBLE
from .highs import LINK_SHARE, _Highs, segment_cuts, separate_linking, solve_model
from .idle_facilities import close_idle_decisions, rows_of
from .idle_stock import close_idle_stock
from .info import SolveInfo, highs_threads, model_size
from .interrupts import ctrl_c_after, stop_at
from .network_start import decision_ids

log = logging.getLogger(__name__)

#: the model's arrays in a worker process (set once per worker by `_keep_model`)
_MODEL: dict | None = None


def process_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """forkserver: workers fork from a clean server that has imported `preload` once (fast
    start, no HiGHS threads inherited from a parent that already solved); spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return multiprocessing.get_context("spawn")


#: the gap of re-solves that compare two networks: the differences they report are often
#: a thousandth of the cost, so both sides are solved to optimality
EXACT_GAP = 1e-6


def exact(settings: SolverSettings) -> SolverSettings:
    """The model's solver settings for re-solves to optimality on a held network: no start of
    its own (the network is held), the gap at most EXACT_GAP."""
    return settings.model_copy(update={"warm_start": False,
                                       "mip_gap": min(settings.mip_gap, EXACT_GAP)})


#: one variant: (variable, lower bound, upper bound) for each variable it moves
Bounds = Sequence[tuple[VarData, float, float]]


def solve_variants(m: pyo.ConcreteModel, settings: SolverSettings,
                   variants: dict[Hashable, Bounds],
                   time_limit: float | None = None) -> Iterator[tuple[Hashable, SolveInfo]]:
    """Solve `m` once per variant with that variant's variables at its bounds (an empty list
    is the model as it is). Yields (key, SolveInfo) as each finishes, with its solution loaded
    in `m`: read what you need before taking the next. Variables the caller fixed keep their
    fixed value in every variant that does not move them, and are fixed again at the end."""
    limit = float(time_limit or settings.time_limit)
    if settings.name != "highs":
        yield from _one_by_one(m, settings, variants, limit)
        return
    released = _as_bounds(ComponentSet(v for vs in variants.values() for v, _, _ in vs))
    try:
        solver = _Highs()
        solver.set_instance(m)
        if lazy_linking(m):
            separate_linking(solver, m, settings, False, LINK_SHARE * limit,
                             segment_cuts(settings, limit))
        arrays = model_arrays(solver._solver_model)
        col_of = dict(solver._pyomo_var_to_solver_var_map)
        version = ".".join(map(str, solver.version()))
        del solver  # the arrays are the model now: free HiGHS's copy for the re-solves
        columns = [(v, col_of[id(v)]) for v in m.component_data_objects(pyo.Var)
                   if id(v) in col_of]
        missing = sorted(v.name for vs in variants.values() for v, _, _ in vs
                         if id(v) not in col_of)
        if missing:
            raise ValueError(f"not in the model HiGHS holds (no row uses them): {missing}")
        jobs = {key: [(col_of[id(v)], lo, hi) for v, lo, hi in vs]
                for key, vs in variants.items()}
        options = {"threads": 1, "random_seed": int(settings.seed),
                   "mip_rel_gap": float(settings.mip_gap), "time_limit": limit}
        size = model_size(m)
        workers = min(int(settings.threads), len(jobs), machine.cores())
        decisions = decision_ids(m)
        rows = rows_of(arrays)
        for key, out in _outcomes(arrays, jobs, options, workers):
            lower = arrays["col_lower"].copy()
            for col, lo, _ in jobs[key]:
                lower[col] = lo
            yield key, _loaded(m, columns, out, size, version,
                               lambda lower=lower: close_idle_decisions(
                                   arrays, columns, decisions, lower, rows)[0])
    finally:
        for v, (value, lower, upper) in released.items():
            v.setlb(lower)
            v.setub(upper)
            v.fix(value)


def _as_bounds(variables: ComponentSet) -> ComponentMap:
    """Fixed variables become columns held by their bounds: a fixed variable is a constant
    to Pyomo's HiGHS interface, and a variant must be able to move it. Returns what to put
    back: variable -> (value, lower bound, upper bound)."""
    released = ComponentMap()
    for v in sorted(variables, key=lambda v: v.name):
        if v.fixed:
            released[v] = (v.value, v.lb, v.ub)
            v.unfix()
            v.setlb(released[v][0])
            v.setub(released[v][0])
    return released


def _outcomes(arrays: dict, jobs: dict[Hashable, list[tuple[int, float, float]]], options: dict,
              workers: int) -> Iterator[tuple[Hashable, dict]]:
    """Each job's outcome, in this process or in `workers` worker processes. A job whose
    worker failed (killed by the OS, or a pool that could not start) is solved here instead.
    When the caller stops reading (Ctrl-C, an error) the workers are stopped at once: a
    HiGHS MIP checks for interrupts only between its stretches of work (a root cut round
    of the national model runs for seconds to minutes without one)."""
    def here(cols: list[tuple[int, float, float]]) -> dict:
        # HiGHS sizes its thread pool once per process: this one may have run with more
        return _solve_variant(cols, {**options, "threads": highs_threads(1)}, arrays)

    if workers <= 1:
        for key, cols in jobs.items():
            yield key, here(cols)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=process_context([__name__]),
                               initializer=_keep_model, initargs=(arrays,))
    try:
        futures = {pool.submit(_solve_variant, cols, options): key
                   for key, cols in jobs.items()}
        for future in as_completed(futures):
            key = futures[future]
            try:
                out = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                log.warning("re-solve %s: worker failed (%s: %s); solving it here", key,
                            type(exc).__name__, exc)
                out = here(jobs[key])
            yield key, out
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (Ctrl-C, an error, a caller that stops reading): a HiGHS
    MIP checks for interrupts only between stretches of work, and the executor has no
    public way to stop a running job."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _keep_model(arrays: dict) -> None:
    """A worker's start: keep the model (and `quiet_worker`)."""
    global _MODEL
    _MODEL = arrays
    quiet_worker()


def quiet_worker() -> None:
    """A re-solve worker's start: send its stdout (HiGHS's banner, once per process)
    nowhere, and leave Ctrl-C to the parent (which stops its workers)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers itself


def _solve_variant(cols: list[tuple[int, float, float]], options: dict,
                   arrays: dict | None = None) -> dict:
    """One variant: the model with each (column, lower, upper) of `cols`, solved by a fresh
    HiGHS object."""
    d = arrays if arrays is not None else _MODEL
    lower, upper = d["col_lower"].copy(), d["col_upper"].copy()
    for col, lo, hi in cols:
        lower[col], upper[col] = lo, hi
    h = highs_from_arrays(d, lower, upper)
    for name, value in options.items():
        h.setOptionValue(name, value)
    started = time.perf_counter()
    # no deadline of netopt's (a fresh object keeps HiGHS's own limit): the callbacks are
    # where a Ctrl-C reaches Python, so an in-process run stops at the key press
    with stop_at(h, None), ctrl_c_after(stop_work=True):
        h.run()
    seconds = time.perf_counter() - started
    status = h.getModelStatus()
    info = h.getInfo()
    has = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if status == highspy.HighsModelStatus.kOptimal and has:
        name = "optimal"
    elif has:
        name = "feasible"
    elif status in INFEASIBLE:
        name = "infeasible"
    else:
        name = "no_solution"
    bound = float(info.mip_dual_bound)
    if not d["integrality"].any():  # an LP: HiGHS reports no MIP bound (0.0)
        bound = float(info.objective_function_value) if name == "optimal" else np.nan
    return {"status": name, "termination": h.modelStatusToString(status),
            "objective": float(info.objective_function_value) if has else None,
            "bound": bound if np.isfinite(bound) else None, "seconds": seconds,
            "values": np.asarray(h.getSolution().col_value, float) if has else None}


def _loaded(m: pyo.ConcreteModel, columns: list[tuple[VarData, int]], out: dict,
            size: tuple[int, int, int], version: str,
            close_idle: Callable[[], float] | None = None) -> SolveInfo:
    """Load a variant's solution in `m` (closing depot stock held for nobody and, with
    `close_idle`, any other decision nobody uses, as a solve does) and describe it."""
    objective = out["objective"]
    if out["values"] is not None:
        values = out["values"]
        for v, col in columns:
            v.set_value(float(values[col]), skip_validation=True)
        objective -= close_idle_stock(m)
        if close_idle is not None:
            objective -= close_idle()
    bound = out["bound"]
    gap = (None if objective is None or bound is None
           else abs(objective - bound) / max(abs(objective), 1e-9))
    return SolveInfo(status=out["status"], termination=out["termination"], objective=objective,
                     bound=bound, gap=gap, solve_seconds=out["seconds"], n_variables=size[0],
                     n_binaries=size[1], n_constraints=size[2], solver="highs",
                     solver_version=version)


def _one_by_one(m: pyo.ConcreteModel, settings: SolverSettings,
                variants: dict[Hashable, Bounds],
                limit: float) -> Iterator[tuple[Hashable, SolveInfo]]:
    """Another solver (solver/backends.py): each variant's bounds set and solved in turn."""
    for key, vs in variants.items():
        kept = [(v, v.fixed, v.value, v.lb, v.ub) for v, _, _ in vs]
        for v, lo, hi in vs:
            if lo == hi:
                v.fix(lo)
            else:
                v.unfix()
                v.setlb(lo)
                v.setub(hi)
        try:
            yield key, solve_model(m, settings, time_limit=limit)
        finally:  # after the caller has read the solution
            for v, fixed, value, lower, upper in kept:
                v.setlb(lower)
                v.setub(upper)
                v.set_value(value, skip_validation=True)
                if fixed:
                    v.fix()
                else:
                    v.unfix()


__all__ = ["EXACT_GAP", "exact", "process_context", "quiet_worker", "solve_variants",
           "stop_pool"]
