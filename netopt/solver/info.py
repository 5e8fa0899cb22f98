"""What a solve produced, whichever MILP solver ran it: SolveInfo keeps the termination
condition and the solution status apart, names the solver and its version."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pyomo.environ as pyo


def highs_time_limit(highs: object, seconds: float) -> float:
    """The `time_limit` option that gives a HiGHS LP run `seconds` more. HiGHS 1.x checks an
    LP against the run clock of its Highs object, which adds up every earlier run of that
    object (ERGO-Code/HiGHS#1331, #1477; a MIP times itself from its own start, and one run
    may hold two MIPs: solver/highs.py, `_Highs`): the later rounds of a cut loop on one
    object would otherwise stop as soon as they start."""
    return float(highs.getRunTime()) + max(float(seconds), 0.0)


#: the thread count HiGHS's task scheduler was last sized for in this process
_scheduler_threads: int | None = None


def highs_threads(threads: int) -> int:
    """The `threads` option for a HiGHS run, after resizing HiGHS's task scheduler if needed.
    HiGHS sizes one scheduler per process at its first run and refuses every later run that
    asks another count (it ends with no solution, which read as "infeasible"): solving
    us-small (1 thread) after the national default (2) in one Python session failed that
    way. Solves run one at a time per process (analysis/scenarios.py), so a reset between
    them is safe. netopt's first run in a process resets it too: a HiGHS run outside netopt
    (the caller's own highspy, at its default count) may have sized it, and us-small then
    ended "stopped without a network" after a test that solved a small LP with highspy.
    A foreign run at another count later in the process is not seen."""
    global _scheduler_threads
    threads = int(threads)
    if threads != _scheduler_threads:
        import highspy  # HiGHS is imported only where it runs (info.py serves every solver)

        highspy.Highs.resetGlobalScheduler(True)
    _scheduler_threads = threads
    return threads


#: a stage's `stopped` when the clock ended it (its share of the limit, or the limit)
CLOCK = "time limit"
#: ... and when another core's stage ending did (solver/neighbourhoods.py `search`'s
#: `stop`): as with the clock, how far it got depends on the machine
HANDED_OVER = "handed over"


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
    solver: str = "highs"  # solver.name that ran
    solver_version: str = ""
    #: milp (the solver on the whole model) or facility (Benders on the sites, facility.py)
    method: str = "milp"
    #: MIP start handed to HiGHS: baseline | coarse | facility | kernel | ordering | staged | none
    start: str = "none"
    #: HiGHS's stages in the order they ran (solver/highs.py `_record_stage`): stage,
    #: seconds, why it stopped, objective in model units (k$); empty for other solvers
    stages: list[dict] = field(default_factory=list)
    #: what kept the cores busy when the cut loop started, in words (it then ran the serial
    #: simplex, and the stages got less of the machine than on free cores); None: free
    cores_not_free: str | None = None
    #: per plant, model money a year one more dose of capacity saves with the network held
    #: (solver/marginal.py); None where the solve path does not give it
    plant_capacity_values: dict[str, float] | None = None

    @property
    def stopped_by_clock(self) -> list[str]:
        """The stages the clock ended: where there are any, a faster or slower machine may
        give another network from the same inputs and seed."""
        return [s["stage"] for s in self.stages if s["stopped"] in (CLOCK, HANDED_OVER)]

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def out_of_time(self) -> bool:
        """The time limit ended the solve before any network: not a sign of infeasibility."""
        return self.status == "no_solution" and self.termination in TIME_LIMIT_TERMINATIONS

    def to_dict(self) -> dict:
        return asdict(self)


#: how a solve stopped by its time limit is named: Pyomo's termination condition (solve_model)
#: and HiGHS's own model status string (solver/variants.py reads HiGHS directly)
TIME_LIMIT_TERMINATIONS = frozenset({"maxTimeLimit", "Time limit reached"})


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
