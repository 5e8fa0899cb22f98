"""MILP solvers other than HiGHS, through Pyomo: Gurobi, CPLEX, Xpress, SCIP and CBC.

HiGHS is installed with netopt and solved in `highs.py` (with its kernel start); a team
that owns another solver names it in `solver.name` (or `--solver`) and it is used when it is
installed. Gurobi and SCIP run through Pyomo's newer interfaces (`pyomo.contrib.solver`:
`gurobi_direct`, `scip_direct`), CPLEX, Xpress and CBC through the legacy `SolverFactory`
(`cplex_direct`, `xpress_direct`, the `cbc` executable). Every one gets the same time limit,
relative gap, threads and seed under its own option names, and answers with the same SolveInfo:
termination condition (in the newer interface's words) kept apart from the status.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.opt import SolutionStatus as LegacySolution
from pyomo.opt import SolverStatus
from pyomo.opt import TerminationCondition as LegacyTermination

from ..data.config import SOLVER_NAMES, SolverSettings
from .info import SolveError, SolveInfo, model_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    """How netopt reaches one solver through Pyomo, and its names for the common options."""

    name: str  # solver.name
    label: str  # how people write it
    interface: str  # "contrib" (pyomo.contrib.solver) or "legacy" (pyomo.opt.SolverFactory)
    pyomo_name: str  # the interface's registered name
    install: str  # what a user installs to get it
    #: netopt option (time_limit, mip_gap, threads, seed) -> the solver's option name; the
    #: contrib interfaces take time limit, gap and threads as config, only the seed by name
    options: dict[str, str] = field(default_factory=dict)
    #: module whose __version__ names the product better than the interface's version()
    version_module: str | None = None
    #: Python packages the Pyomo interface itself needs (not installed with netopt)
    requires: tuple[str, ...] = ()


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    # gurobi_direct hands Gurobi the model as sparse matrices: Pyomo builds them with scipy
    Backend("gurobi", "Gurobi", "contrib", "gurobi_direct", "pip install gurobipy scipy",
            {"seed": "Seed"}, requires=("scipy",)),
    Backend("cplex", "CPLEX", "legacy", "cplex_direct", "pip install cplex",
            {"time_limit": "timelimit", "mip_gap": "mip_tolerances_mipgap",
             "threads": "threads", "seed": "randomseed"}),
    Backend("xpress", "Xpress", "legacy", "xpress_direct", "pip install xpress",
            {"time_limit": "timelimit", "mip_gap": "miprelstop", "threads": "threads",
             "seed": "randomseed"}, version_module="xpress"),
    Backend("scip", "SCIP", "contrib", "scip_direct", "pip install pyscipopt",
            {"seed": "randomization/randomseedshift"}),
    Backend("cbc", "CBC", "legacy", "cbc", "apt-get install coinor-cbc (the cbc executable "
            "on PATH)", {"time_limit": "sec", "mip_gap": "ratioGap", "threads": "threads",
                         "seed": "randomCbcSeed"}),
)}
#: how people write each solver.name (HiGHS included)
LABELS = {"highs": "HiGHS", **{name: b.label for name, b in BACKENDS.items()}}

#: the legacy interface's termination conditions in the newer interface's words, so
#: summary.json reads the same whichever solver ran
_LEGACY_TERMINATION = {
    LegacyTermination.optimal: TerminationCondition.convergenceCriteriaSatisfied,
    LegacyTermination.globallyOptimal: TerminationCondition.convergenceCriteriaSatisfied,
    LegacyTermination.locallyOptimal: TerminationCondition.convergenceCriteriaSatisfied,
    LegacyTermination.maxTimeLimit: TerminationCondition.maxTimeLimit,
    LegacyTermination.maxIterations: TerminationCondition.iterationLimit,
    LegacyTermination.maxEvaluations: TerminationCondition.iterationLimit,
    LegacyTermination.minFunctionValue: TerminationCondition.objectiveLimit,
    LegacyTermination.minStepLength: TerminationCondition.minStepLength,
    LegacyTermination.unbounded: TerminationCondition.unbounded,
    LegacyTermination.infeasible: TerminationCondition.provenInfeasible,
    LegacyTermination.infeasibleOrUnbounded: TerminationCondition.infeasibleOrUnbounded,
    LegacyTermination.userInterrupt: TerminationCondition.interrupted,
    LegacyTermination.resourceInterrupt: TerminationCondition.interrupted,
    LegacyTermination.licensingProblems: TerminationCondition.licensingProblems,
    LegacyTermination.error: TerminationCondition.error,
    LegacyTermination.solverFailure: TerminationCondition.error,
    LegacyTermination.internalSolverError: TerminationCondition.error,
}
#: legacy solution statuses that carry a usable network (stoppedByLimit: time limit with one)
_LEGACY_WITH_SOLUTION = {LegacySolution.optimal, LegacySolution.globallyOptimal,
                         LegacySolution.locallyOptimal, LegacySolution.feasible,
                         LegacySolution.bestSoFar, LegacySolution.stoppedByLimit}
_INFEASIBLE = {TerminationCondition.provenInfeasible, TerminationCondition.locallyInfeasible,
               TerminationCondition.infeasibleOrUnbounded}


class SolverUnavailable(SolveError):
    """The solver named in the settings is not installed (or has no licence) here."""


# ---------------------------------------------------------------- which solvers are here


@dataclass(frozen=True)
class SolverProbe:
    """Whether one solver can run here, its version, and a word on its licence or install."""

    name: str
    label: str
    available: bool
    version: str
    detail: str


def _interface(backend: Backend):  # noqa: ANN202 - a Pyomo solver object of either kind
    if backend.interface == "contrib":
        if backend.name == "gurobi":
            from pyomo.contrib.solver.solvers.gurobi.gurobi_direct import GurobiDirect

            return GurobiDirect()
        from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

        return ScipDirect()
    return pyo.SolverFactory(backend.pyomo_name)


def _quietly(call: Callable[[], object]) -> object:
    """Run a solver call with its import-time warnings (licence notices) sent to the log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    for w in caught:
        log.info("%s", w.message)
    return out


def _version_text(backend: Backend, solver: object) -> str:
    if backend.version_module:
        module = importlib.import_module(backend.version_module)
        return str(getattr(module, "__version__", ""))
    if backend.name == "scip":  # the interface reports PySCIPOpt's version, not SCIP's
        from pyscipopt import Model

        scip = Model()
        return f"{scip.getMajorVersion()}.{scip.getMinorVersion()}.{scip.getTechVersion()}"
    version = tuple(solver.version() or ())
    if len(version) > 3 and version[3] == 0:  # legacy interfaces pad to four numbers
        version = version[:3]
    return ".".join(map(str, version))


def probe(name: str) -> SolverProbe:
    """Can `name` run here? Imports the solver's package (or finds its executable) and, for
    Gurobi, checks the licence; never raises."""
    if name == "highs":
        return _probe_highs()
    backend = BACKENDS[name]
    missing = [module for module in backend.requires if importlib.util.find_spec(module) is None]
    if missing:
        return SolverProbe(name, backend.label, False, "",
                           f"Pyomo's {backend.pyomo_name} needs {', '.join(missing)}: "
                           f"{backend.install}")
    try:
        solver = _interface(backend)
        if backend.interface == "contrib":
            status = _quietly(solver.available)
            ok, detail = bool(status), _licence_text(status, backend)
        else:
            ok = bool(_quietly(lambda: solver.available(exception_flag=False)))
            detail = f"through Pyomo {backend.pyomo_name}" if ok else f"not installed: " \
                                                                      f"{backend.install}"
        version = _quietly(lambda: _version_text(backend, solver)) if ok else ""
    except Exception as exc:  # noqa: BLE001 - a broken install is reported, not raised
        return SolverProbe(name, backend.label, False, "", f"{type(exc).__name__}: {exc}")
    return SolverProbe(name, backend.label, ok, str(version), detail)


def _licence_text(status: object, backend: Backend) -> str:
    words = {"FullLicense": f"through Pyomo {backend.pyomo_name}",
             "LimitedLicense": "size-limited licence (small models only)",
             "NotFound": f"not installed: {backend.install}",
             "BadLicense": "installed, but no valid licence",
             "BadVersion": "installed, version too old for Pyomo"}
    return words.get(str(status), str(status))


def _probe_highs() -> SolverProbe:
    from pyomo.contrib.solver.solvers.highs import Highs

    solver = Highs()
    ok = bool(solver.available())
    version = ".".join(map(str, solver.version())) if ok else ""
    return SolverProbe("highs", "HiGHS", ok, version,
                       "installed with netopt (default)" if ok else "pip install highspy")


def probe_all() -> list[SolverProbe]:
    """Every solver netopt drives, HiGHS first."""
    return [probe(name) for name in SOLVER_NAMES]


def available_solvers() -> list[str]:
    return [p.name for p in probe_all() if p.available]


def check_name(name: str) -> str:
    """A solver name as given on the command line or in Python, normalised; an unknown one
    is a SolverUnavailable listing the names netopt drives and those installed here."""
    known = name.strip().lower()
    if known not in SOLVER_NAMES:
        raise SolverUnavailable(
            f"unknown solver '{name}': netopt drives {', '.join(SOLVER_NAMES)}. "
            f"Available here: {', '.join(available_solvers())}")
    return known


def require(name: str) -> SolverProbe:
    """Check before any work that `name` can run; SolverUnavailable lists those that can."""
    found = probe(name)
    if not found.available:
        raise SolverUnavailable(
            f"solver '{name}' ({found.label}) is not available here: {found.detail}. "
            f"Available: {', '.join(available_solvers())}")
    return found


# ---------------------------------------------------------------- solving


def solve_with_backend(m: pyo.ConcreteModel, settings: SolverSettings, tee: bool = False,
                       time_limit: float | None = None) -> SolveInfo:
    """Solve with the solver named in settings (not HiGHS) and load its network if it has one.
    A licence or size limit the solver hits is a SolveError naming the solver."""
    backend = BACKENDS[settings.name]
    found = require(backend.name)
    limit = float(time_limit or settings.time_limit)
    solver = _interface(backend)
    started = time.perf_counter()
    try:
        run = _run_contrib if backend.interface == "contrib" else _run_legacy
        term, has, obj, bound = _quietly(lambda: run(backend, solver, m, settings, tee, limit))
    except SolveError:
        raise
    except Exception as exc:  # noqa: BLE001 - licence limits, solver crashes: say which solver
        raise SolveError(f"{backend.label} failed: {exc}") from exc
    seconds = time.perf_counter() - started
    status = solve_status(term, has)
    gap = None
    if obj is not None and bound is not None:
        gap = abs(obj - bound) / max(abs(obj), 1e-9)
    n_var, n_bin, n_con = model_size(m)
    log.info("%s: %s (%s) objective=%s bound=%s in %.1fs", backend.label, status, term.name,
             obj, bound, seconds)
    return SolveInfo(status=status, termination=term.name, objective=obj, bound=bound, gap=gap,
                     solve_seconds=seconds, n_variables=n_var, n_binaries=n_bin,
                     n_constraints=n_con, solver=backend.name, solver_version=found.version)


def solve_status(term: TerminationCondition, has_solution: bool) -> str:
    """optimal | feasible | infeasible | no_solution from the termination condition and
    whether a network came back (a time-limited run with one is `feasible`)."""
    if has_solution:
        return "optimal" if term == TerminationCondition.convergenceCriteriaSatisfied \
            else "feasible"
    return "infeasible" if term in _INFEASIBLE else "no_solution"


def option_values(backend: Backend, settings: SolverSettings, limit: float) -> dict[str, object]:
    """The common options under the solver's own names (those it takes by name)."""
    values = {"time_limit": float(limit), "mip_gap": float(settings.mip_gap),
              "threads": int(settings.threads), "seed": int(settings.seed)}
    return {backend.options[k]: v for k, v in values.items() if k in backend.options}


def _finite(value: object) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _run_contrib(backend: Backend, solver, m: pyo.ConcreteModel, settings: SolverSettings,
                 tee: bool, limit: float) -> tuple:
    """pyomo.contrib.solver: results keep termination and solution status apart already."""
    res = solver.solve(m, tee=tee, load_solutions=False,
                       raise_exception_on_nonoptimal_result=False, time_limit=limit,
                       rel_gap=float(settings.mip_gap), threads=int(settings.threads),
                       solver_options=option_values(backend, settings, limit))
    has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if has:
        res.solution_loader.load_vars()
    obj = _finite(res.incumbent_objective) if has else None
    return res.termination_condition, has, obj, _finite(res.objective_bound)


def _run_legacy(backend: Backend, solver, m: pyo.ConcreteModel, settings: SolverSettings,
                tee: bool, limit: float) -> tuple:
    """pyomo.opt SolverFactory: the termination condition is translated, the network is
    loaded from the results, the objective read from the model and the bound from the
    problem's lower bound (every netopt model minimises)."""
    res = solver.solve(m, tee=tee, load_solutions=False,
                       options=option_values(backend, settings, limit))
    term = _LEGACY_TERMINATION.get(res.solver.termination_condition,
                                   TerminationCondition.unknown)
    has = len(res.solution) > 0 and res.solution(0).status in _LEGACY_WITH_SOLUTION
    obj = None
    if has:
        # a time-limited run comes back 'aborted' with its network: the termination above
        # already says why it stopped, so the network loads without Pyomo's warning
        res.solver.status = SolverStatus.ok
        m.solutions.load_from(res)
        objective = next(m.component_data_objects(pyo.Objective, active=True))
        obj = _finite(pyo.value(objective))
    bound = _finite(res.problem.lower_bound) if res.problem.lower_bound is not None else None
    return term, has, obj, bound
