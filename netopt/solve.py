"""Solve with HiGHS through Pyomo; keep termination and solution status apart (SolveInfo).

A time-limited solve with an incumbent is a result with an honest gap, not an error; an
infeasible one is diagnosed by re-solving an elastic model (see `diagnose.py`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from .config import SolverSettings

log = logging.getLogger(__name__)


@dataclass
class SolveInfo:
    """What the solver did, as data."""

    status: str  # optimal | feasible (time/gap limit with incumbent) | infeasible | no_solution
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    solve_seconds: float
    build_seconds: float = 0.0
    n_variables: int = 0
    n_binaries: int = 0
    n_constraints: int = 0

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")

    def to_dict(self) -> dict:
        return asdict(self)


class SolveError(RuntimeError):
    """The solver failed in a way the user cannot fix by changing input."""


def model_size(m: pyo.ConcreteModel) -> tuple[int, int, int]:
    """(variables, binaries, constraints) that the solver sees (fixed variables excluded)."""
    n_var = n_bin = 0
    for v in m.component_data_objects(pyo.Var, active=True, descend_into=True):
        if v.fixed:
            continue
        n_var += 1
        n_bin += v.is_binary()
    n_con = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
    return n_var, n_bin, n_con


def solve_model(m: pyo.ConcreteModel, settings: SolverSettings, tee: bool = False,
                time_limit: float | None = None) -> SolveInfo:
    """Run HiGHS with fixed seed and threads; load the incumbent if there is one."""
    solver = Highs()
    if not solver.available():
        raise SolveError("HiGHS is not available: pip install highspy")
    options = {
        "random_seed": int(settings.seed),
        "threads": int(settings.threads),
        "mip_rel_gap": float(settings.mip_gap),
    }
    started = time.perf_counter()
    res = solver.solve(
        m, tee=tee, load_solutions=False, raise_exception_on_nonoptimal_result=False,
        time_limit=float(time_limit or settings.time_limit), rel_gap=float(settings.mip_gap),
        threads=int(settings.threads), solver_options=options,
    )
    seconds = time.perf_counter() - started
    term = res.termination_condition
    sol = res.solution_status
    has = sol in (SolutionStatus.optimal, SolutionStatus.feasible)
    if has:
        res.solution_loader.load_vars()
    if term == TerminationCondition.convergenceCriteriaSatisfied and has:
        status = "optimal"
    elif has:
        status = "feasible"
    elif term in (TerminationCondition.provenInfeasible,
                  TerminationCondition.locallyInfeasible,
                  TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    else:
        status = "no_solution"
    obj = res.incumbent_objective if has else None
    bound = res.objective_bound
    bound = None if bound is None or not math.isfinite(bound) else float(bound)
    gap = None
    if obj is not None and bound is not None:
        gap = abs(obj - bound) / max(abs(obj), 1e-9)
        if status == "optimal" and gap > settings.mip_gap:
            # HiGHS also stops on an absolute gap; report what was actually proven
            log.debug("optimal with relative gap %.3g", gap)
    n_var, n_bin, n_con = model_size(m)
    log.info("HiGHS: %s (%s) objective=%s bound=%s in %.1fs", status, term.name, obj, bound,
             seconds)
    return SolveInfo(status=status, termination=term.name, objective=obj, bound=bound, gap=gap,
                     solve_seconds=seconds, n_variables=n_var, n_binaries=n_bin,
                     n_constraints=n_con)
