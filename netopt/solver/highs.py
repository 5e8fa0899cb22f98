"""Solve with HiGHS through Pyomo; keep termination and solution status apart (SolveInfo).

A time-limited solve with an incumbent is a result with an honest gap, not an error; an
infeasible one is diagnosed by re-solving an elastic model (see `diagnose.py`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from ..data.config import SolverSettings
from ..model.cell_reach import separate_cell_reach
from ..model.facility_cuts import separate_facility_volume
from ..model.ordering import separate_segment_volume
from ..model.sites import lazy_linking, link_pairs
from . import machine
from .arrays import model_arrays, set_start
from .backends import solve_with_backend
from .bound_worker import MIN_WORKER_SECONDS, BoundWorker, CarriedProof, KernelJob
from .diving import lp_dive
from .idle_facilities import close_idle_decisions
from .idle_stock import close_idle_stock
from .info import CLOCK, SolveError, SolveInfo, highs_threads, highs_time_limit, model_size
from .interrupts import DEADLINE_SLACK, ctrl_c_after, stop_at
from .kernel import restrict_to_closing, restrict_to_integral, restrict_to_kernel
from .marginal import plant_capacity_values
from .neighbourhoods import (
    NEIGHBOURHOOD_GAP,
    NEIGHBOURHOOD_SECONDS,
    Neighbourhoods,
    centres,
    first_pass_gap,
    neighbourhoods,
    search,
    within_gap,
)
from .network_start import (
    StartNetwork,
    decision_ids,
    decision_vars,
    hold,
    hold_integers,
    network_of,
    release,
)
from .rounding import DIVE_DECISIONS, dived_network, rounded_network
from .staged import Deferred, deferred, first_step, second_step

log = logging.getLogger(__name__)

#: share of the time limit a scenario's start from its baseline's network may take
BASELINE_START_SHARE = 0.6
#: share of the MIP start's time the rounded network's restricted MIP may take (the kernel
#: MIP gets the rest)
ROUNDED_SHARE = 0.4
#: the rounded network only has to be a start for the kernel, which closes its surplus: its
#: restricted MIP stops at this gap or at its first network, whichever comes first (on the
#: national case with depots its root cuts took 11 s more for nothing the kernel kept)
ROUNDED_GAP = 0.02
ROUNDED_SOLUTIONS = 1
#: HiGHS's own "no limit" on improving solutions, restored for every other stage
NO_SOLUTION_LIMIT = 2_147_483_647
#: seconds the depot-segment repair of the rounded start may take
SEGMENT_REPAIR_SECONDS = 3.0
#: seconds the LP of the solved network may take for the plants' capacity values (about 0.3 s
#: on the national default: presolve removes the held decisions)
PLANT_VALUE_SECONDS = 30.0
#: share of the time limit the linking cut loop may take (the MIP is valid without the rows
#: it has not found yet: they only tighten the relaxation)
LINK_SHARE = 0.4
#: a stage of the solve that would get less than this is skipped
MIN_STAGE_SECONDS = 2.0
WARM_START_MIN_SITES = 60
#: a site the LP relaxation uses above this level is kept open in the MIP start
LP_OPEN_THRESHOLD = 0.02
#: the kernel MIPs, in turn: a decision the LP uses at least this much and the start uses too
#: stays open (solver/kernel.py). The first, narrow kernel frees only what the LP supports
#: weakly, the rounding's surplus, and its MIP is small enough to finish in seconds; the
#: second (RINS-like) starts from its network with every decision the LP does not use fully
#: free. National default: $141.11M with the second alone, $140.73M with both in turn
#: (bench/RESULTS.md)
KERNEL_AGREE_STEPS = (0.2, 0.99)
#: decisions the narrow kernel never holds open: a hub's or partner's LP value is weak
#: evidence (17 of the 22 hubs fractional in the national LP, 11.3 hubs in all against the
#: network's 16), and the rounded start keeps every one the LP touches, so the narrow kernel
#: held 19 hubs open; left a choice there, the 60-s network on a machine where the strict
#: kernel gets no time fell from $142.85M-$143.18M to $142.28M-$142.78M (seeds 0-4), with the
#: same networks as before where both kernels finish (bench/RESULTS.md)
NARROW_NEVER_HELD = ("g", "a")
#: the narrow kernel stops once its network is proven within this gap of its own bound: it
#: only hands the strict kernel a start (run to its own 0.5 % it took 25-34 s of the national
#: minute). It used to stop at its second improving network (a count), which on some seeds
#: came within seconds and far from any good network: 60 s on 2026-12-02, seeds 0-4, gave
#: $131.20M, $131.96M, $156.65M, $131.32M, $130.67M (seed 2: narrow kernel $159.29M after
#: 4.6 s, gap 18.4 %); stopped at 3 % it ends near $132M on every seed, and the closing MIP
#: after it, run to its gap, near $131M: $132.04M, $131.88M, $131.74M, $130.56M, $130.50M
#: (bench/RESULTS.md). Like the count, the gap does not depend on the machine's speed, but
#: the clock still can: on a slower machine the kernel's first network came after 25-43 s
#: (HiGHS's root cut rounds), past the minute (bench/RESULTS.md, "A slower machine").
NARROW_GAP = 0.03
#: the kernel MIP is a start, not the answer: it stops at this gap even when the run asks for
#: a tighter one (a reference run at 0.05 % would otherwise spend its time on the kernel)
KERNEL_GAP = 0.005
#: HiGHS options of the start's restricted MIPs (the rounded and dived networks, the kernels,
#: the closing MIPs). HiGHS ends its root with sub-MIP heuristics: root reduced cost (fix what
#: the LP's reduced costs rule out), then RENS. In these MIPs the networks came from RENS,
#: never from the reduced-cost sub-MIP, which took 2-7 s of each kernel (the national
#: default's MIPs replayed from their starts, seeds 0, 1, 7). Without it, 60 s on seeds 0-7
#: gave $140.37M-$140.46M (0.33-0.40 % above the best network known, $139.90M) where they gave
#: $140.42M-$147.03M; on a slower half hour two seeds still lost their strict kernel to the
#: clock. The dived network's completion, replayed (seeds 0-2, 4): the same networks in
#: 4.4-5.2 s instead of 7.9-16.5 s (bench/RESULTS.md). The full MIP keeps it.
RESTRICTED_MIP_OPTIONS = {"mip_heuristic_run_root_reduced_cost": False}
#: with this much time left after the kernel MIP, a wider kernel (nothing held open, only the
#: decisions LP and start leave unused closed) runs from its network, for at most this share
#: of the time left: on the national model it finds a network 0.5 % cheaper in about 2
#: minutes, which the full MIP does not find in 10
WIDE_KERNEL_SECONDS = 120.0
WIDE_KERNEL_SHARE = 0.4
#: the interior-point LP optimum is used as a bound only after this relative safety margin
LP_BOUND_TOLERANCE = 1e-6


class _NoInterruptWarning(logging.Filter):
    """Pyomo's HiGHS interface warns of a status it does not map; netopt maps the
    interruption at its own deadline (`_Highs._postsolve`, which adds this filter only
    around a run it interrupted itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


_PYOMO_HIGHS_LOG = logging.getLogger(Highs.__module__)


class _Highs(Highs):
    """Pyomo's persistent HiGHS interface plus a MIP start: Pyomo's interface has no
    warm-start hook, so the start is handed to highspy right before it runs.

    And a deadline on the wall clock, checked in HiGHS's interrupt callbacks: HiGHS compares
    `time_limit` with a clock of its own that does not always start with the run. A MIP run on
    an object that holds a solution which is not integral (the LP of the linking cut loop,
    the model unchanged since) first completes it with a MIP of its own - root cuts,
    sub-MIPs - timed from that MIP's start, and the MIP proper then times itself from its own
    start: on the fine model held at a network (evaluate, the aggregation's pricing), given
    89 s, the first took 90 s and the second 89 s more (the 600-s solve of us-fine took 741
    s). The completion itself is worth its time: it found the held network's flows at $259.3M
    where the MIP without it (the solution cleared) ended at $298.6M in the same 89 s."""

    start: dict[int, float] | None = None  # id(pyomo var) -> value
    #: wall seconds the next run may take (`_run` sets them); the run's deadline, counted
    #: from HiGHS's start (after Pyomo's own update of the model)
    seconds: float | None = None
    deadline: float | None = None
    #: the interrupt flag of the last run (`interrupts.stop_at`)
    _interrupted: Sequence[bool] = (False,)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        #: one record per stage of a solve (`_record_stage`): SolveInfo.stages
        self.stages: list[dict] = []
        #: what kept the cores busy when a cut loop started (SolveInfo.cores_not_free)
        self.cores_not_free: str | None = None
        #: the LP relaxation's values the kernel start read (by id(var)), for the
        #: neighbourhood search's order
        self.lp_values: dict[int, float] | None = None
        #: where the last neighbourhood search left off (`_neighbourhood_search`)
        self.searched: SearchedNetwork | None = None
        #: the dived network went to the search with no kernel after it (`mip_start`): the
        #: search screens on its first pass however long it is (neighbourhoods.first_pass_gap)
        self.dive_handed: bool = False

    @property
    def stopped(self) -> bool:
        """Whether the last run was interrupted at its deadline."""
        return bool(self._interrupted[0])

    def _solve(self):  # noqa: ANN202 - signature of the parent
        # a second MIP passes the deadline by its presolve, which calls no interrupt
        # callback (4 s on the fine model)
        self.deadline = (None if self.seconds is None
                         else time.perf_counter() + self.seconds + DEADLINE_SLACK)
        try:
            with stop_at(self._solver_model, self.deadline) as self._interrupted:
                return self._solve_from_start()
        finally:
            self.seconds = self.deadline = None  # a deadline is one run's

    def _postsolve(self, stream):  # noqa: ANN001, ANN202 - signature of the parent
        """Pyomo's results, with a run interrupted at the deadline reported as the time limit
        it is (Pyomo's interface reads HiGHS's interrupt status as unknown)."""
        if not self.stopped:
            return super()._postsolve(stream)
        quiet = _NoInterruptWarning()
        _PYOMO_HIGHS_LOG.addFilter(quiet)
        try:
            res = super()._postsolve(stream)
        finally:
            _PYOMO_HIGHS_LOG.removeFilter(quiet)
        if self._solver_model.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
            res.termination_condition = TerminationCondition.maxTimeLimit
        return res

    def _solve_from_start(self):  # noqa: ANN202 - what Pyomo's _solve returns
        if self.start:
            try:
                set_start(self._solver_model, _by_column(self, self.start))
            except (AttributeError, TypeError) as exc:  # interface changed: solve cold
                log.warning("MIP start not passed to HiGHS: %s", exc)
        return super()._solve()


def _options(settings: SolverSettings, **extra: object) -> dict:
    # options persist in a persistent HiGHS object: always set the ones a stage may change
    return {"random_seed": int(settings.seed), "threads": int(settings.threads),
            "mip_rel_gap": float(settings.mip_gap), "solve_relaxation": False,
            "mip_max_improving_sols": NO_SOLUTION_LIMIT, "simplex_strategy": SIMPLEX_DEFAULT,
            "mip_heuristic_run_root_reduced_cost": True, **extra}


def _run(highs: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
         time_limit: float, **extra: object):
    """One HiGHS run of at most time_limit seconds (re-solves only change bounds)."""
    seconds = max(1.0, float(time_limit))
    highs.seconds = seconds
    if getattr(highs, "_solver_model", None) is not None:
        _only_bounds_change(highs)
        if extra.get("solve_relaxation"):
            seconds = highs_time_limit(highs._solver_model, seconds)
    with ctrl_c_after(stop_work=True):  # HiGHS swallows it in its callbacks
        return highs.solve(
            m, tee=tee, load_solutions=False, raise_exception_on_nonoptimal_result=False,
            time_limit=seconds, rel_gap=float(settings.mip_gap),
            threads=highs_threads(settings.threads), solver_options=_options(settings, **extra),
        )


#: why a stage ended, by HiGHS's model status. A stage ended by the clock (its share of the
#: limit, or the limit itself) gave a network that depends on the machine's speed: a faster
#: machine gets further in it (summary.json `stopped_by_clock`)
_STOPPED = {highspy.HighsModelStatus.kOptimal: "optimal",
            highspy.HighsModelStatus.kTimeLimit: CLOCK,
            highspy.HighsModelStatus.kSolutionLimit: "solution limit",
            highspy.HighsModelStatus.kIterationLimit: "iteration limit",
            highspy.HighsModelStatus.kInfeasible: "infeasible"}


def _stopped(highs: _Highs) -> str:
    """Why the last run of `highs` ended, in the words of `_STOPPED` (an interrupt is the
    clock when it was netopt's own deadline, else Ctrl-C)."""
    status = highs._solver_model.getModelStatus()
    if status == highspy.HighsModelStatus.kInterrupt:
        return CLOCK if highs.stopped else "interrupted"
    return _STOPPED.get(status) or highs._solver_model.modelStatusToString(status).lower()


def _record_stage(highs: _Highs, stage: str, started: float, stopped: str,
                  objective: float | None = None) -> None:
    """One line of the solve's account (SolveInfo.stages): what ran, for how long, why it
    ended and the objective it left (a network's; the LP's for the cut loop)."""
    highs.stages.append({"stage": stage, "seconds": round(time.perf_counter() - started, 3),
                         "stopped": stopped, "objective": objective})


def _record_run(highs: _Highs, stage: str, started: float, res) -> None:  # noqa: ANN001
    """`_record_stage` for a stage that is one HiGHS run: its status and its incumbent."""
    _record_stage(highs, stage, started, _stopped(highs),
                  float(res.incumbent_objective) if _has_solution(res) else None)


def _skipped(highs: _Highs, stage: str) -> None:
    """A stage the limit left no time for: the clock chose the network without it."""
    _record_stage(highs, stage, time.perf_counter(), CLOCK)


def _only_bounds_change(highs: _Highs) -> None:
    """Between the stages of one solve only variable bounds change: skip Pyomo's scan of every
    constraint and expression, which costs more than the HiGHS run on national models."""
    auto = highs.config.auto_updates
    for flag in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                 "check_for_new_or_removed_params", "check_for_new_objective",
                 "update_constraints", "update_named_expressions", "update_objective",
                 "update_parameters"):
        setattr(auto, flag, False)
    auto.update_vars = True


def _loaded_solution(m: pyo.ConcreteModel) -> dict[int, float]:
    """The values loaded in `m` by id(var): the form `_Highs.start` takes."""
    return {id(v): float(v.value or 0.0) for v in m.component_data_objects(pyo.Var)}


def _load_values(m: pyo.ConcreteModel, values: dict[int, float]) -> None:
    """Put a solution in `_Highs.start`'s form (by id(var); absent means 0) into `m`."""
    for v in m.component_data_objects(pyo.Var):
        v.set_value(values.get(id(v), 0.0), skip_validation=True)


def _objective(m: pyo.ConcreteModel, values: dict[int, float]) -> float:
    """The objective of a solution in `_Highs.start`'s form (left loaded in `m`)."""
    _load_values(m, values)
    return float(pyo.value(m.obj))


def _has_solution(res) -> bool:
    return res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)


def mip_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
              budget: float, lp_loaded: float | None = None,
              spare: BoundWorker | None = None, dive: bool = False
              ) -> tuple[dict[int, float] | None, float | None]:
    """A start for the full MIP in two steps. (1) The LP relaxation's network rounded up and
    held: a small MIP over onboarding, equipment and ordering options gives a complete network
    that serves patients (solver/rounding.py). (2) Kernel search from it: every decision the
    LP or that network leaves unused is closed and the MIP over the rest is solved
    (solver/kernel.py) - it may close any site, offer or hub the rounding kept - holding open
    what the LP and the rounding agree on: first loosely (only what the LP supports weakly is
    free), then strictly from that network; with minutes to spare, once more with nothing
    held. After each kernel a closing MIP (solver/kernel.py `restrict_to_closing`) drops the
    offers and onboardings a kernel that stopped early left over.
    HiGHS's own heuristics find poor first networks on national instances, and the full MIP
    rarely improves a start within minutes: on a model the neighbourhood search does not
    take, the kernels' network is the answer a 60-s run gives.

    With `dive`, an LP dive (solver/diving.py) follows the rounding: its network, completed
    by a small MIP, is the kernels' start when it is the cheaper. It needs no MIP root, where
    each kernel's first network comes out of one: on a machine where the kernels reach the
    clock before their first network, the dive's is the answer (national default beside
    one busy core: $130.07M-$131.07M instead of $133.27M-$145.06M).

    Also returns the LP optimum, a valid lower bound for the MIP: when the full MIP gets too
    little time to finish its own root, the LP still proves how far the network can be from
    optimal.

    In a start shorter than DIVE_SEARCH_SECONDS, on a model the neighbourhood search takes
    (`_searches`), the dived network is not handed to the kernels, which find nothing after
    it there: the search that follows the start (`solve_model`) takes their time. Nor is the
    LP rounded first, since only the kernels start from that network. If the dive finds no
    network, the LP is rounded then and the kernels run as elsewhere (with the spare core
    proving, where `solve_model` expected the dive to be searched).

    `spare`: a bound worker made with `kernel_follows` (solver/bound_worker.py). It gets the
    strict kernel of the rounded network as a search of its own, on the other core, and the
    cheaper of its network and this chain's is returned (`_spare_kernel`). Meanwhile, on a
    model the neighbourhood search takes, this chain searches the dived network until the
    spare core's network is in: the search took the dived network below the spare core's
    network on seven seeds of ten."""
    started = time.perf_counter()
    lp_bound = lp_loaded
    if lp_loaded is None:  # no cut loop ran: the LP relaxation by interior point
        res = _run(solver, m, settings, tee, budget, solve_relaxation=True, solver="ipm",
                   run_crossover="off")
        _record_run(solver, "LP relaxation", started, res)
        if not _has_solution(res):
            if spare is not None:
                spare.search(None)  # no LP, no kernel: the child goes on to the bound
            return None, None
        if res.termination_condition == TerminationCondition.convergenceCriteriaSatisfied:
            value = float(res.incumbent_objective)
            lp_bound = value - abs(value) * LP_BOUND_TOLERANCE
        res.solution_loader.load_vars()
    lp_values = solver.lp_values = _loaded_solution(m)
    # a start that hands its dive to the search needs the rounded network only where the
    # dive fails: it is the kernels' start (1.2-4.2 s of the national minute)
    to_search = dive and spare is None and _dive_searched(m, settings, budget)
    start, start_cost = (None, math.inf) if to_search else _rounded_start(
        solver, m, settings, tee, ROUNDED_SHARE * budget)
    if spare is not None:
        spare_started = time.perf_counter()
        job = _spare_job(solver, m, settings, lp_values, start,
                         budget - (spare_started - started))
        spare.search(job)
        spare = spare if job is not None else None  # no search: no stage to report
    dived, dive_cost = (_dive_start(solver, m, settings, tee, lp_values, DIVE_SHARE * budget)
                        if dive else (None, math.inf))
    if to_search and not dived:  # the kernels' start after all
        _load_values(m, lp_values)
        start, start_cost = _rounded_start(solver, m, settings, tee,
                                           budget - (time.perf_counter() - started))
    if dived and dive_cost < start_cost:
        start = solver.start = dived
    if start:
        _load_values(m, start)
        if getattr(m.prep, "cell_members", None) is not None:
            start = solver.start = _repair_leaks(
                solver, m, settings, tee, start,
                LEAK_SHARE * (budget - (time.perf_counter() - started)))
    left = budget - (time.perf_counter() - started)
    beside_spare = spare is not None and not spare.reported()
    # `_searches` walks the objective (0.5 s nationally): only where its answer is used
    searched = (dived is not None and start is dived
                and (beside_spare or to_search)
                and _searches(m, settings, start, left - SPARE_MARGIN, lp_bound))
    if searched and beside_spare:
        # the spare core runs the strict kernel: this core searches the dived network
        # meanwhile, until the spare core's network arrives; its seconds counted after
        # `_searches` (a load and a walk of the objective)
        start = solver.start = _neighbourhood_search(
            solver, m, settings, start,
            budget - (time.perf_counter() - started) - SPARE_MARGIN, lp_bound,
            spare.reported, DIVED_SEARCH_STAGE)
    elif not (searched and to_search):
        start = _kernels(solver, m, settings, tee, lp_values, start, started + budget)
    else:  # too little time for the kernels to find anything: the search that follows the
        # start (`solve_model`) takes it
        solver.dive_handed = True
    if spare is not None:
        start = _spare_kernel(solver, m, spare, start, spare_started,
                              budget - (time.perf_counter() - started))
        solver.start = start
    return start, lp_bound


def _kernels(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
             lp_values: dict[int, float], start: dict[int, float] | None, deadline: float
             ) -> dict[int, float] | None:
    """The kernel MIPs from `start`, each followed by its closing MIP (`mip_start`), until
    `deadline` (time.perf_counter()); the wide kernel only with minutes to spare."""
    for agree in (*KERNEL_AGREE_STEPS, math.inf):  # held where LP and start agree, then none
        left = deadline - time.perf_counter()
        if left < MIN_STAGE_SECONDS or (agree == math.inf and left < WIDE_KERNEL_SECONDS):
            for later in KERNEL_AGREE_STEPS:  # the wide kernel is for minutes to spare
                if later >= agree:
                    _skipped(solver, _kernel_name(later))
            break  # no time for (another) kernel: the network so far it is
        # the wide kernel and its closing MIP leave the full MIP most of the time left
        share = 1.0 if agree < math.inf else WIDE_KERNEL_SHARE
        found = _kernel_mip(solver, m, settings, tee, lp_values, start, agree, share * left)
        start = found or start
        solver.start = start
        left = deadline - time.perf_counter()
        if found and share * left >= MIN_STAGE_SECONDS:  # drop what the kernel left over
            start = _closing_mip(solver, m, settings, tee, start, share * left) or start
            solver.start = start
        elif found:
            _skipped(solver, "closing MIP")
    return start


#: the strict kernel the spare core searches (`_spare_job`): as in the chain's own strict
#: kernel, what LP and start agree on at this level stays open, nothing else is held
SPARE_AGREE = KERNEL_AGREE_STEPS[-1]
#: the spare core searches for a network only when the start has less than this: a
#: safeguard for a chain whose own strict kernel may not finish in the limit. With more, the
#: chain's kernels finish (the wide kernel's threshold) and the search only took the bound's
#: time: us-fine's relaxation (360 s) searched for 274 s, found a network 1 % dearer than the
#: chain's, and left its bound at $233.81M, gap 4.36 %; proving from the start, $236.01M,
#: 3.46 %, the same network (bench/RESULTS.md). See also `_spare_searches`.
SPARE_SEARCH_SECONDS = WIDE_KERNEL_SECONDS
#: seconds the chain waits past its own budget for the spare core's report (the child stops
#: its search this much before the budget ends, and reports at once)
SPARE_MARGIN = 1.0


def _spare_job(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
               lp_values: dict[int, float], start: dict[int, float] | None,
               seconds: float) -> KernelJob | None:
    """The spare core's network search: the strict kernel of the LP and the rounded network
    `start`, as column bounds of the model HiGHS holds, from that start, to KERNEL_GAP, then
    the closing MIP of its network (bound_worker.KernelJob); None without a start or time."""
    if not start or seconds - SPARE_MARGIN < MIN_STAGE_SECONDS:
        return None
    column = solver._pyomo_var_to_solver_var_map
    restricted = restrict_to_kernel(m, lp_values, start, LP_OPEN_THRESHOLD, SPARE_AGREE)
    try:
        cols = np.array([column[id(v)] for v, _, _ in restricted], dtype=np.int64)
        lower, upper = np.array([_bounds(v) for v, _, _ in restricted]).reshape(-1, 2).T
    finally:
        release(restricted)
    values = _by_column(solver, start)
    decisions = np.array(sorted(column[id(v)] for var in decision_vars(m)
                                for v in var.values() if id(v) in column), dtype=np.int64)
    options = {**RESTRICTED_MIP_OPTIONS, "run_crossover": "on"}
    return KernelJob(cols, lower, upper, values, decisions,
                     max(KERNEL_GAP, float(settings.mip_gap)), seconds - SPARE_MARGIN,
                     options)


#: in a start shorter than this, on a model the neighbourhood search takes, the dived network goes
#: to the search without the kernels (`mip_start`). National minute (a start of 36-40 s): the
#: kernels found nothing after the dive in any run measured (seed 0: narrow 2.1 s, strict 9.3 s,
#: both ending by their gap with the dived $131.17M, the minute then $130.82M against
#: $130.32M-$130.39M with the search in their time). With `--time-limit 120` (a start of about 85 s,
#: segment volume cuts on) the strict kernel took the dived $131.6M-$132.3M to $130.27M-$130.28M in
#: 24-29 s on seeds 0-2 and the run ended at $129.94M-$130.05M; with the search in its time, seed 0
#: ended at $130.62M. Decided on the start's time, not on what the dive leaves, so that a slow dive
#: does not cost a longer start its kernels (bench/RESULTS.md)
DIVE_SEARCH_SECONDS = 60.0
#: ... but on a model a longer start stages (solver/staged.py: a stocked product or pooled
#: depots), a start shorter than this: the dive places the deferred stock a few decisions at
#: a time where rounding the LP opened every site it touched, and the search takes the
#: steps' seconds. One start was the cheaper on us-depots at 60, 120, 180, 290 and 360 s; at
#: 450 and 600 s the steps with the whole model's kernel start after them were, $141.89M and
#: $141.83M against $142.13M and $142.05M (figures in staged.py). That start follows the
#: steps once their ~100 s leave it five minutes (STAGED_WHOLE_SECONDS), hence this mark
STAGED_DIVE_SEARCH_SECONDS = 400.0
#: the spare core's search as a stage of the solve (SolveInfo.stages)
SPARE_STAGE = "strict kernel (spare core)"
#: this core's search of the dived network while the spare core's kernel runs, as a stage
DIVED_SEARCH_STAGE = "neighbourhood search (dived network)"
#: HiGHS's model status, as the child reports it, in the words of `_STOPPED`
_CHILD_STOPPED = {"optimal": "optimal", "time_limit_reached": CLOCK}
#: why the child's search ended when this chain ended it before the limit
CHAIN_DONE = "main chain done"
#: seconds the child may take to report once told to stop (HiGHS checks for an interrupt at
#: least every simplex iteration batch and MIP node; a root cut round calls no check)
SPARE_REPORT_SECONDS = 5.0


def _spare_kernel(solver: _Highs, m: pyo.ConcreteModel, spare: BoundWorker,
                  start: dict[int, float] | None, searched_from: float,
                  left: float) -> dict[int, float] | None:
    """The cheaper of `start` (this chain's network) and the spare core's; the one returned is
    loaded in `m`. With time `left`, the child's search is ended now (the full MIP gets that
    time, and the child the bound): it reports the network it has within
    SPARE_REPORT_SECONDS; else its own limit ends it at this chain's, and it has
    SPARE_MARGIN to report."""
    early = left > SPARE_MARGIN
    if early:
        spare.stop_search()
    found = spare.searched(min(left, SPARE_REPORT_SECONDS) + SPARE_MARGIN)
    words = dict(_CHILD_STOPPED, interrupt=CHAIN_DONE if early else CLOCK)
    if found is None or found.values is None:
        stopped = CLOCK if found is None else words.get(found.stopped, found.stopped)
        _record_stage(solver, SPARE_STAGE, searched_from, stopped)
        if start:
            _load_values(m, start)
        return start
    cost = _objective(m, _by_var(solver, found.values)) - close_idle_stock(m)
    theirs = _loaded_solution(m)
    solver.stages.append({"stage": SPARE_STAGE, "seconds": round(found.seconds, 3),
                          "stopped": words.get(found.stopped, found.stopped),
                          "objective": cost})
    ours = _objective(m, start) if start else math.inf
    log.info("%s: objective %.6g (this chain's %.6g)", SPARE_STAGE, cost, ours)
    if cost < ours:
        _load_values(m, theirs)
        return theirs
    return start


def _by_column(solver: _Highs, values: dict[int, float]) -> np.ndarray:
    """A solution in `_Highs.start`'s form (by id(var); absent means 0) as a value per column
    of the model HiGHS holds: the form highspy takes (and the child sends back)."""
    array = np.zeros(solver._solver_model.getNumCol())
    for var_id, col in solver._pyomo_var_to_solver_var_map.items():
        array[col] = values.get(var_id, 0.0)
    return array


def _by_var(solver: _Highs, values: np.ndarray) -> dict[int, float]:
    """`_by_column`'s inverse: a value per column in `_Highs.start`'s form."""
    return {var_id: float(values[col])
            for var_id, col in solver._pyomo_var_to_solver_var_map.items()}


def _kernel_mip(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                lp_values: dict[int, float], start: dict[int, float] | None,
                agree: float, budget: float) -> dict[int, float] | None:
    """The MIP restricted to the kernel of the LP values and the start (solver/kernel.py),
    from that start; its solution, or None when it found none."""
    what = _kernel_name(agree)
    narrow = what == "narrow kernel"
    never_held = NARROW_NEVER_HELD if narrow else ()
    gap = NARROW_GAP if narrow else KERNEL_GAP
    restricted = restrict_to_kernel(m, lp_values, start, LP_OPEN_THRESHOLD, agree, never_held)
    return _restricted_mip(solver, m, settings, tee, restricted, budget, what, gap,
                           run_crossover="on")


def _kernel_name(agree: float) -> str:
    """The kernel's stage name by its agreement level (KERNEL_AGREE_STEPS, then none)."""
    if agree == math.inf:
        return "wide kernel"
    return "narrow kernel" if agree < KERNEL_AGREE_STEPS[-1] else "strict kernel"


def _closing_mip(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                 start: dict[int, float], budget: float) -> dict[int, float] | None:
    """The MIP that may only close what `start` uses (solver/kernel.py), from that start
    (`solver.start`): its solution, or None when it found none."""
    return _restricted_mip(solver, m, settings, tee, restrict_to_closing(m, start), budget,
                           "closing MIP", KERNEL_GAP)


def _restricted_mip(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                    tee: bool, restricted: list, budget: float, what: str, gap: float,
                    **options: object) -> dict[int, float] | None:
    """One start stage: the MIP with the `restricted` bounds (released afterwards) to `gap`
    (or the run's, if wider), from `solver.start`, with RESTRICTED_MIP_OPTIONS; its solution
    (idle stock closed), or None."""
    started = time.perf_counter()
    try:
        res = _run(solver, m, settings, tee, budget, solver="choose",
                   mip_rel_gap=max(gap, settings.mip_gap),
                   **{**RESTRICTED_MIP_OPTIONS, **options})
    finally:
        release(restricted)
    if not _has_solution(res):
        _record_stage(solver, what, started, _stopped(solver))
        return None
    res.solution_loader.load_vars()
    saved = close_idle_stock(m)  # the MIP stops at its gap, maybe with idle stock
    _record_stage(solver, what, started, _stopped(solver), res.incumbent_objective - saved)
    log.info("%s (%d decisions closed or held): objective %.6g after %.1fs", what,
             len(restricted), res.incumbent_objective - saved, time.perf_counter() - started)
    return _loaded_solution(m)


def network_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                  budget: float, network: StartNetwork, name: str = "baseline"
                  ) -> dict[int, float] | None:
    """A MIP start from a given network (a batch's baseline): hold the decisions it names at
    its values, solve what is left (an LP, or a small MIP over decisions the baseline did not
    have) and return that solution; None when the restricted problem has no solution here
    (the scenario excludes a site the baseline used, demands a service level it missed...)."""
    started = time.perf_counter()
    held = hold(m, network)
    if not held:
        log.info("%s start: no decision of it exists in this model", name)
        return None
    try:
        res = _run(solver, m, settings, tee, budget, solver="choose")
    finally:
        release(held)
    _record_run(solver, f"{name} start", started, res)
    if not _has_solution(res):
        log.info("%s start: not feasible here (%s); falling back", name,
                 res.termination_condition.name)
        return None
    res.solution_loader.load_vars()
    log.info("%s start: objective %.6g after %.1fs (%d decisions held)", name,
             res.incumbent_objective, time.perf_counter() - started, len(held))
    return _loaded_solution(m)


#: a pair's linking row is violated when x exceeds patients x offer by this share of patients
LINK_TOLERANCE = 1e-6
#: rounds of the linking cut loop at most (each round is a warm dual-simplex re-solve)
LINK_ROUNDS = 30
#: the cut loop stops once a round lifts the LP by less than this share: on the national
#: model the first 5 rounds lift it from $130.4M to $134.68M and the next 20 (70 s) by 0.16 %
#: more. Stopping on progress rather than on the clock also makes the LP, and the network
#: rounded from it, the same on a loaded machine as on a quiet one.
LINK_PROGRESS = 1e-3
#: a plain warm start's cut loop with this budget or more (a limit of about 500 s) stops
#: only once a round lifts the LP by less than LONG_LINK_PROGRESS, within LONG_LINK_ROUNDS
#: rounds. Its later rounds are slow (each a warm re-solve of 2-10 s) but the cheapest lift
#: of the bound there is: on the national default the loop goes on from $128.70M (stalled at
#: 0.1 %, round 8, about 40 s) to $129.39M (round 49, 230 s), and the LP dive from that LP
#: is $129.94M, which no kernel improves; 600-s runs, seeds 0/1, then end at $129.72M at
#: 0.18/0.15 % against $129.81M/$129.82M at 0.25/0.26 % (bench/RESULTS.md, 2026-12-06). At
#: 180 s the same loop ran to its 72-s share, and its worker, started 25 s later on a larger
#: model, proved less (0.56-0.57 % against 0.45-0.56 %), and at 300 s the two tie (both
#: proven within 0.5 % after 245-259 s): shorter starts keep the 0.1 % stop. Staged and
#: aggregated starts keep it too (not measured with the long stop).
LONG_LOOP_SECONDS = 200.0
LONG_LINK_PROGRESS = 1e-5
LONG_LINK_ROUNDS = 100
#: how a cut loop ends by itself (its stage's `stopped`): nothing violated, or too little
#: progress; any other end (the clock, the round limit) was the machine's or the budget's
LOOP_CONVERGED, LOOP_STALLED = "converged", "stalled"
#: HiGHS's simplex_strategy values: its default (serial dual simplex), and its parallel dual
#: simplex SIP. The cut loop's warm re-solves are dual simplex runs on the whole LP (a useful
#: basis skips presolve) at ~0.9 ms per iteration; SIP spreads each iteration's work over
#: both cores: national default, same LP to the last digit, 12.9-13.6 s instead of
#: 15.6-18.3 s for the loop in alternating runs (bench/RESULTS.md; PAMI, value 3, was not
#: faster). Only the loop uses it (a MIP's LPs are HiGHS's own), only with two threads and
#: only where the cores were free (`loop_simplex`).
SIMPLEX_DEFAULT, SIMPLEX_DUAL_SIP = 1, 2


def loop_simplex(settings: SolverSettings) -> tuple[int, str | None]:
    """The cut loop's simplex strategy, and what keeps the cores busy if anything: SIP where
    every thread finds a free core, else the serial dual simplex. SIP degrades far more than
    in proportion when its threads share busy cores: beside one busy loop on two cores the
    national default's cut loop no longer finished within its share, which the serial one
    did in 14.1 s, and beside two its minute ended at $153.08M against $145.37M serial
    (bench/RESULTS.md)."""
    threads = int(settings.threads)
    if threads <= 1:
        return SIMPLEX_DEFAULT, None
    busy, measured = machine.recently_shared(threads)
    if busy is None:
        return SIMPLEX_DUAL_SIP, None
    if measured:  # once, not for each loop of a staged start or of N-1 re-solves
        log.warning("the cores are not free (%s): the cut loop uses the serial dual simplex; "
                    "on free cores the run gets further and its network may differ", busy)
    return SIMPLEX_DEFAULT, busy


#: the time limit from which the cut loop also adds segment volume cuts by default
#: (`solver.segment_cuts`): on the national default they take the loop from ~10 s to ~25 s,
#: which a 60-s limit cannot spare (its kernels then stop at the clock: $141.79M against
#: $140.75M), while with 10 minutes the strict kernel reaches $140.02M at 78 s and the run
#: ends at $139.95M, gap 0.36 % (without them $140.34M, 0.55 %, after 15 minutes)
SEGMENT_CUTS_MIN_SECONDS = 120.0


def segment_cuts(settings: SolverSettings, time_limit: float | None = None) -> bool:
    """Whether the cut loop adds segment volume cuts (model/ordering.py), for a run of
    `time_limit` seconds (evaluate, explain and N-1 re-solves pass their own; default the
    settings')."""
    if settings.segment_cuts is not None:
        return settings.segment_cuts
    return float(time_limit or settings.time_limit) >= SEGMENT_CUTS_MIN_SECONDS


def held_settings(settings: SolverSettings) -> SolverSettings:
    """The settings of a solve with its network held (`netopt evaluate`, the aggregation's
    pricing stage): no kernel start, which has nothing to choose, and segment volume cuts
    whatever `segment_cuts` says, which only keeps them from slowing the kernels. With the
    design held the ordering choices carry the gap: on us-fine's pricing stage (238 s given)
    they lift its cut loop's LP from $235.43M to $240.92M in 34 s, and its MIP ends at
    $244.24M proven within its 1 % in 215 s, against $244.69M at the limit without them."""
    return settings.model_copy(update={"warm_start": False, "segment_cuts": True})


def separate_linking(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                     tee: bool, budget: float, with_cuts: bool | None = None,
                     facility_cuts: bool = True, long: bool = False) -> float | None:
    """Cut loop for lazily linked models (`solver.strong_linking: lazy`, the default on large
    ones): solve the LP relaxation by dual simplex, add the per-pair rows x <= patients x
    offer that it violates, re-solve from the last basis, until none is violated (the LP then
    equals the fully linked one) or a round lifts the LP by less than LINK_PROGRESS (`long`:
    LONG_LINK_PROGRESS, within LONG_LINK_ROUNDS rounds instead of LINK_ROUNDS) - on the
    national default 5 warm re-solves instead of a 60k-row LP. With `segment_cuts` each round
    also adds the segment volume cuts the LP violates (model/ordering.py); the loop then ends
    when neither family is violated. Each round also adds the facility volume cuts the LP
    violates (model/facility_cuts.py; `facility_cuts=False` leaves them out, which only tests
    comparing the loop with the fully linked LP want): on the national default they lift the
    loop's LP from $127.72M to $128.67M in about the same 21-23 s. On an aggregated
    relaxation each round also adds the cell reach cuts the LP violates
    (model/cell_reach.py). The MIP that follows
    carries only the rows that bound somewhere. Leaves the LP solution
    loaded in `m`; returns its optimum (a valid lower bound: every LP with a subset of the
    rows relaxes the MIP), or None when the LP did not finish within the budget."""
    strategy, busy = loop_simplex(settings)  # may sample the cores 0.3 s, outside the budget
    solver.cores_not_free = solver.cores_not_free or busy
    started = time.perf_counter()
    if with_cuts is None:
        with_cuts = segment_cuts(settings)
    pairs = list(m.P)
    patients = [m.patients_of_pair[i] for i in pairs]
    x = [m.x[i] for i in pairs]
    w = [m.w[m.pair_sk[i]] for i in pairs]
    bound, stopped = None, "round limit"
    last_round = 0.0  # seconds the last round's LP took
    progress, rounds = (LONG_LINK_PROGRESS, LONG_LINK_ROUNDS) if long else (LINK_PROGRESS,
                                                                            LINK_ROUNDS)
    for round_ in range(rounds):
        left = budget - (time.perf_counter() - started)
        if left <= max(0.5, last_round):
            # a warm round rarely takes less than the one before (national default: 1.2 s,
            # then up to 7 s as rows come in): one that cannot finish only takes the next
            # stages' time (3.5 s of the national minute), its bound lost with it
            stopped = CLOCK
            break
        round_started = time.perf_counter()
        res = _run(solver, m, settings, tee, left, solve_relaxation=True, solver="simplex",
                   simplex_strategy=strategy)
        # the first round solves the LP cold, the next ones warm from its basis (us-small:
        # 0.42 s, then 0.11-0.28 s): only a warm round says how long the next one takes
        last_round = time.perf_counter() - round_started if round_ else 0.0
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            stopped = _stopped(solver)
            break
        value = float(res.incumbent_objective)
        stalled = bound is not None and value - bound <= progress * abs(value)
        bound = value - abs(value) * LP_BOUND_TOLERANCE
        res.solution_loader.load_vars()
        violated = [i for i, xi, wi, d in zip(pairs, x, w, patients, strict=True)
                    if (xi.value or 0.0) > d * (wi.value or 0.0) + LINK_TOLERANCE * d]
        # a stalled loop stops without looking for cuts (one it found would not be added)
        cuts = separate_segment_volume(m) if with_cuts and not stalled else []
        if facility_cuts and not stalled:
            cuts += separate_facility_volume(m)
        if not stalled:
            cuts += separate_cell_reach(m)
        if not (violated or cuts) or stalled:
            done = not (violated or cuts or ((with_cuts or facility_cuts) and stalled))
            _record_stage(solver, "linking cut loop", started,
                          LOOP_CONVERGED if done else LOOP_STALLED, value)
            log.info("linking cut loop: LP %.6g after %d rounds%s, %d of %d rows, %d segment "
                     "volume cuts, %.1fs", value, round_ + 1,
                     "" if done else " (stalled)", len(m.offer_pair_linked),
                     len(pairs), len(getattr(m, "ord_volume", ())),
                     time.perf_counter() - started)
            return bound
        solver.add_constraints(link_pairs(m, violated) + cuts)
    _record_stage(solver, "linking cut loop", started, stopped,
                  None if bound is None else value)
    log.info("linking cut loop stopped before convergence (%d rows)", len(m.offer_pair_linked))
    return bound


def _rounded_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                   budget: float) -> tuple[dict[int, float] | None, float]:
    """The network rounded up (solver/rounding.py) from the LP values loaded in `m`, held,
    with the small MIP that is left solved to ROUNDED_GAP: a complete start for the kernel
    MIP that follows (handed to HiGHS through `solver.start`), so its heuristics improve a
    network that serves patients instead of building one. Returns it and its objective (None
    and inf without one)."""
    if not hasattr(m, "reach"):
        return None, math.inf
    if budget <= 1.0:
        _skipped(solver, "rounded network")
        return None, math.inf
    start, value = _held_start(solver, m, settings, tee, budget,
                               rounded_network(m, LP_OPEN_THRESHOLD), "rounded network")
    solver.start = start
    return start, value


def _held_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                budget: float, network: StartNetwork, stage: str,
                gap: float = ROUNDED_GAP, solutions: int = ROUNDED_SOLUTIONS
                ) -> tuple[dict[int, float] | None, float]:
    """`network` held and the small MIP left (onboarding, equipment, ordering options,
    depot stock) solved to `gap`, stopping at that many improving `solutions`: that
    complete solution (loaded in `m`) and its objective (inf without one), recorded as
    `stage`."""
    started = time.perf_counter()
    held = hold(m, network)
    try:
        res = _run(solver, m, settings, tee, budget - (time.perf_counter() - started),
                   solver="choose", mip_rel_gap=max(gap, settings.mip_gap),
                   mip_max_improving_sols=solutions, **RESTRICTED_MIP_OPTIONS)
    finally:
        release(held)
    stopped = _stopped(solver)
    if not _has_solution(res):
        _record_stage(solver, stage, started, stopped)
        log.info("%s not feasible (%s)", stage, res.termination_condition.name)
        return None, math.inf
    res.solution_loader.load_vars()
    value = _repair_depot_segments(solver, m, settings, tee, res.incumbent_objective)
    value -= close_idle_stock(m)
    _record_stage(solver, stage, started, stopped, value)
    log.info("%s: objective %.6g", stage, value)
    return _loaded_solution(m), value


#: share of the start's time the LP dive and the MIP that completes its network may take: a cap, not
#: a reservation (what they leave goes to the kernels or the search). National default, free cores:
#: about 2 s and 8-10 s of the ~37 s left after the cut loop, under either cap. With one core busy
#: that MIP needs 15-17 s: at 0.4 it stopped at the clock with a poor network and the minute ended
#: at $133.08M-$137.56M, at 0.6 at $130.43M-$131.97M (seeds 0-2, bench/RESULTS.md)
DIVE_SHARE = 0.6
#: of which the dive's re-solves at most
DIVE_SHARE_OF_DIVE = 0.5
#: the gap to which the MIP that completes the dived network is solved: the kernels (or, in
#: the minute, the neighbourhood search) after it improve the network anyway (national
#: default, seeds 0-2: $130.07M-$130.40M at 1 %, $130.20M-$130.57M at 0.5 %; a first network
#: only, as the rounding stops: $137M-$140M; with the search after it, 2 % and 3 % neither
#: better nor worse over seeds 0-4, bench/RESULTS.md)
DIVED_GAP = 0.01


def _dive_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                lp_values: dict[int, float], budget: float
                ) -> tuple[dict[int, float] | None, float]:
    """The network of an LP dive (solver/diving.py) from the LP `lp_values`: its sites,
    offers, hubs and partners held, and the small MIP left (onboarding, equipment, ordering
    options, depot stock) solved to DIVED_GAP. Returns that solution (loaded in `m`) and its
    objective, or None and inf."""
    if not hasattr(m, "reach") or budget <= 1.0:
        return None, math.inf
    started = time.perf_counter()
    dive_until = started + DIVE_SHARE_OF_DIVE * budget
    by_id = solver._pyomo_var_to_solver_var_map
    design = [v for name in DIVE_DECISIONS for v in getattr(m, name).values()
              if id(v) in by_id]
    # HiGHS still holds the bounds the last stage held (Pyomo passes them on at a solve)
    solver.update_variables([v for var in decision_vars(m) for v in var.values()
                             if id(v) in by_id])
    values, resolves = lp_dive(solver._solver_model, [by_id[id(v)] for v in design],
                               _by_column(solver, lp_values), dive_until)
    stopped = ("integral" if values is not None
               else CLOCK if time.perf_counter() >= dive_until else "infeasible")
    _record_stage(solver, "LP dive", started, stopped)
    log.info("LP dive: %s after %d re-solves, %.1fs", stopped, resolves,
             time.perf_counter() - started)
    if values is None:
        return None, math.inf
    network = dived_network(m, {id(v): values[by_id[id(v)]] for v in design},
                            LP_OPEN_THRESHOLD)
    _load_values(m, lp_values)  # the depot stock kept is the LP's
    rounded, solver.start = solver.start, None  # not a start for this design: HiGHS rejects it
    try:
        return _held_start(solver, m, settings, tee, budget - (time.perf_counter() - started),
                           network, "dived network", DIVED_GAP, NO_SOLUTION_LIMIT)
    finally:
        solver.start = rounded


#: an aggregated relaxation's start: rounds of cell reach cuts at its network, and the share
#: of the start's time left they may take. us-fine: 8 rounds, 146 cuts in 6.1 s lift the
#: dived network from $249.29M to $249.97M; the kernels then improve on it and the answer is
#: $251.53M at 2.39 % against $252.22M at 2.67 % without (one run each; repairing the
#: kernel's network again before the search: $251.74M, not kept; bench/RESULTS.md)
LEAK_ROUNDS = 8
LEAK_SHARE = 0.3


def _repair_leaks(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                  start: dict[int, float], budget: float) -> dict[int, float]:
    """The start of an aggregated relaxation (loaded in `m`) with the cell reach cuts its
    network violates added (model/cell_reach.py), re-solved with every decision held (an
    LP), round after round: the loop's cuts hold at the LP's fractional offers, but a
    network's open sites let a cell send patients to sites only some of its members reach.
    The kernels and the search that follow then price networks near it as its places can be
    served. Returns the repaired solution (loaded), or `start` when no round finished."""
    started = time.perf_counter()
    rounds = added = 0
    value = None
    stopped = "round limit"
    for _ in range(LEAK_ROUNDS):
        left = budget - (time.perf_counter() - started)
        if left <= 1.0:
            stopped = CLOCK
            break
        new = separate_cell_reach(m)
        if not new:
            stopped = LOOP_CONVERGED
            break
        solver.add_constraints(new)
        added += len(new)
        held = hold_integers(m)
        try:
            res = _run(solver, m, settings, tee, left, solve_relaxation=True,
                       solver="simplex")
        finally:
            release(held)
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            # the ordering options held cannot take the patients moved (a volume segment's
            # lower end): the network held, the rest re-solved as a MIP
            network = {k: v for k, v in network_of(m).items() if k not in ("z", "zd")}
            _load_values(m, start)
            kept, solver.start = solver.start, None
            try:
                found, cost = _held_start(solver, m, settings, tee,
                                          budget - (time.perf_counter() - started), network,
                                          "leak repair MIP", DIVED_GAP, NO_SOLUTION_LIMIT)
            finally:
                solver.start = kept
            if found is None:
                stopped = _stopped(solver)
                break
            start, value = found, cost
            rounds += 1
            continue
        res.solution_loader.load_vars()
        start, value = _loaded_solution(m), float(res.incumbent_objective)
        rounds += 1
    _load_values(m, start)
    _record_stage(solver, "leak repair", started, stopped, value)
    log.info("leak repair: %d rounds, %d cell reach cuts, objective %s, %.1fs", rounds,
             added, value, time.perf_counter() - started)
    return start


def _repair_depot_segments(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                           tee: bool, value: float) -> float:
    """The loaded solution with its depots' volume segments chosen again, every other
    decision held: a small MIP started from it. A depot's segment caps its pooled patients,
    and HiGHS's first incumbents of the restricted MIP round pooled depots onto low segments,
    leaving the patients of the sites that chose the depot's stock unserved (national case
    with depots, models/us-depots.yaml: hundreds). The kernel MIP that follows could re-choose
    them too, but there it stops at the clock: with the repair its start (and the 60-s
    answer) was $179.75M, without $182.88M (same LP, load 2-2.5). Returns the objective of
    the solution left loaded."""
    if not hasattr(m, "zd") or not len(m.zd):
        return value
    loaded = _loaded_solution(m)
    held = hold(m, {name: values for name, values in network_of(m).items()
                    if name.rsplit(".", 1)[-1] != "zd"})
    solver.start = loaded
    started = time.perf_counter()
    try:
        res = _run(solver, m, settings, tee, SEGMENT_REPAIR_SECONDS, solver="choose")
    finally:
        release(held)
        solver.start = None
    _record_run(solver, "depot segment repair", started, res)
    if _has_solution(res) and res.incumbent_objective < value:
        res.solution_loader.load_vars()
        log.info("depot segments repaired: objective %.6g -> %.6g", value,
                 res.incumbent_objective)
        return float(res.incumbent_objective)
    _load_values(m, loaded)
    return value


#: the staged start's first step (solver/staged.py) may take this share of the start's time;
#: the second step gets the rest. On us-depots at 60 s the first step's kernels stop at the
#: clock either way; 0.6 leaves the second step ~20 s, in which its kernels end by their gap
STAGED_FIRST_SHARE = 0.6


#: the staged start's worker is restarted on the model with the second loop's rows when at
#: least this much of the limit is left then: its root needs 15-20 s on the national models,
#: so with less a new worker proves nothing the first would not (the pooled five products at
#: 60 s: the second loop ends with ~22 s left, and a new worker there lowered the bound from
#: $125.23M to $125.04M; us-depots: ~35 s left, the bound rises by $0.3M-$0.5M)
RESTART_WORKER_SECONDS = 30.0


def _staged_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                  budget: float, later: Deferred, with_cuts: bool
                  ) -> tuple[dict[int, float] | None, BoundWorker | None, float | None]:
    """The kernel start in two steps (solver/staged.py): the network without the deferred
    products and depot stock, then those placed into it, each step a cut loop and
    `mip_start` on the model restricted by bounds. Returns the start (None when the first
    step found no network), the bound worker on the whole model, and the bound of a worker
    it replaced (None if none).

    The worker starts once the first loop has added its rows. The second loop's linking
    rows and facility volume cuts for the deferred products and the depots hold for the
    whole model too, and a root with them is stronger than what the first worker proves
    meanwhile: so with RESTART_WORKER_SECONDS or more left after the second loop, that
    worker is stopped (its bound kept) and a new one starts from both loops' rows.
    us-depots at 60 s, seeds 0-2, bound $143.20M-$143.34M against $142.79M-$142.90M, the
    same networks (bench/RESULTS.md)."""
    log.info("staged start: the network first, then %s", later.describe())
    workers: list[BoundWorker] = []
    try:
        return _staged_steps(solver, m, settings, tee, budget, later, with_cuts, workers)
    except BaseException:
        for worker in workers:  # a step failed or Ctrl-C: no child outlives the solve
            worker.stop()
        raise


def _staged_steps(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                  budget: float, later: Deferred, with_cuts: bool, workers: list[BoundWorker]
                  ) -> tuple[dict[int, float] | None, BoundWorker | None, float | None]:
    """`_staged_start`'s two steps; the bound worker is also put in `workers` as soon as it
    runs, for the caller to stop should a step fail."""
    started = time.perf_counter()

    def left(share: float = 1.0) -> float:
        return max(share * budget - (time.perf_counter() - started), 0.0)

    first = len(solver.stages)
    held = hold(m, first_step(m, later))
    try:
        linked = separate_linking(solver, m, settings, tee,
                                  LINK_SHARE * STAGED_FIRST_SHARE * budget, with_cuts)
        worker = _whole_model_worker(solver, settings, held, left())
        workers.extend([worker] if worker else [])
        network, _ = mip_start(solver, m, settings, tee, left(STAGED_FIRST_SHARE), linked)
    finally:
        release(held)
    _name_stages(solver, first, "step 1")
    if network is None:
        return None, worker, None
    _load_values(m, network)
    first = len(solver.stages)
    replaced = None
    held = hold(m, second_step(m, network_of(m), later))
    try:
        linked = _relink(solver, m, settings, tee, LINK_SHARE * left(), with_cuts,
                         worker is not None)
        if worker is not None and left() >= RESTART_WORKER_SECONDS:
            renewed = _whole_model_worker(solver, settings, held, left())
            if renewed is not None:
                workers.append(renewed)
                replaced, worker = worker.stop(), renewed
        placed, _ = mip_start(solver, m, settings, tee, left(), linked)
    finally:
        release(held)
    _name_stages(solver, first, "step 2")
    return placed or network, worker, replaced


#: after a staged start, with this much of the limit left, the one-step start on the whole
#: model as well, and the cheaper of the two networks goes to the full MIP. On us-depots the
#: staged network is the better one at 60 and 180 s ($161.1M and $160.45M against $182.9M
#: and $164.4M), the one-step start's at 600 s (its strict kernel needs ~6 minutes: $158.24M
#: after the staged $160.45M, which the full MIP alone did not improve in 500 s, nor a strict
#: kernel of the whole model's LP from the staged network in 437 s)
STAGED_WHOLE_SECONDS = 300.0


def _whole_model_start(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                       tee: bool, budget: float, with_cuts: bool, alone: bool
                       ) -> tuple[dict[int, float] | None, float | None, bool]:
    """After a staged start: the one-step start on the whole model (its cut loop, whose LP
    bounds the MIP unlike the steps', the rounded network and the kernels), named `whole
    model: <stage>`. Returns the cheaper of its network and the staged one (`solver.start`,
    None when the steps found none), the LP bound, and whether the staged network is the
    one returned. `alone`: the bound worker has the other core."""
    staged, first = solver.start, len(solver.stages)
    started = time.perf_counter()
    linked = _relink(solver, m, settings, tee, LINK_SHARE * budget, with_cuts, alone)
    found, lp_bound = mip_start(solver, m, settings, tee,
                                budget - (time.perf_counter() - started), linked)
    _name_stages(solver, first, "whole model")

    staged_cost, found_cost = (_objective(m, net) if net else math.inf
                               for net in (staged, found))
    log.info("staged network %.6g, the whole model's one-step start %.6g", staged_cost,
             found_cost)
    if staged_cost <= found_cost:
        return staged, lp_bound, staged is not None
    return found, lp_bound, False


#: share of the time left that completing the cut loop's LP may take before a full MIP that
#: has no start (solver/highs.py `_completed_lp`): a cap, not a reservation. us-fine's
#: pricing stage: the completion took 107 s of its ~200 s (bench/RESULTS.md)
COMPLETION_SHARE = 0.6
#: a discrete variable within this of an integer in the LP is held there by the completion
#: (HiGHS's own completion uses its mip_feasibility_tolerance, 1e-6 by default)
INTEGRAL_TOLERANCE = 1e-6


def _completed_lp(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
                  budget: float) -> dict[int, float] | None:
    """The cut loop's LP (loaded in `m`) completed into a network: its integral decisions held
    and the MIP over the fractional ones solved, as a start for the full MIP (None without
    one). HiGHS does the same with a fractional solution it holds before a MIP, but in the
    same run and timed on the completion's own clock: the MIP proper then times itself from
    its own start, and its sub-MIPs, which call no interrupt callback, run to a limit counted
    from there. On us-fine's pricing stage that run took 319 s of its ~204 s (a completion
    of 107 s, then a sub-MIP of 145 s past the deadline) and its nested sub-MIPs took the
    process from 3.5 to 6.8 GiB. As a stage of its own, the full MIP after it starts from a
    network and gets the time that is left as its limit."""
    restricted = restrict_to_integral(m, INTEGRAL_TOLERANCE)
    # HiGHS would complete the LP it holds once more inside this run
    solver._solver_model.clearSolver()
    return _restricted_mip(solver, m, settings, tee, restricted, budget, "completed LP",
                           settings.mip_gap, mip_heuristic_run_root_reduced_cost=True)


def _relink(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool,
            budget: float, with_cuts: bool, alone: bool) -> float | None:
    """The linking cut loop on a model HiGHS has solved as a MIP (a staged start's second step,
    the whole model after the steps). Without the start and the last basis: HiGHS would
    re-solve from a basis over every column (built from the start) instead of presolving
    held columns away first (us-depots' second step: 2.7 s for the loop instead of 9 s at its
    share). `alone`: the bound worker has the other core, so serial dual simplex, not SIP."""
    solver.start = None
    solver._solver_model.clearSolver()
    if alone:
        settings = settings.model_copy(update={"threads": 1})
    return separate_linking(solver, m, settings, tee, budget, with_cuts)


def _whole_model_worker(solver: _Highs, settings: SolverSettings,
                        held: list[tuple[pyo.Var, float | None, float | None]],
                        seconds: float) -> BoundWorker | None:
    """The bound worker on the whole model while a step's bounds restrict it in HiGHS: the
    step's bounds are lifted for the copy the worker takes and put back (Pyomo hands HiGHS
    bounds only at its next run, so both changes are pushed at once)."""
    restricted = [(v, v.lb, v.ub) for v, _, _ in held]
    changed = [v for v, _, _ in held]
    release(held)
    solver.update_variables(changed)
    try:
        return _bound_worker(solver, settings, seconds)
    finally:
        release(restricted)
        solver.update_variables(changed)


def _name_stages(solver: _Highs, first: int, step: str) -> None:
    """Prefix the stages recorded since `first` with the staged start's step."""
    for stage in solver.stages[first:]:
        stage["stage"] = f"{step}: {stage['stage']}"


def _bound_worker(solver: _Highs, settings: SolverSettings, seconds: float,
                  kernel_follows: bool = False,
                  tighten: Callable[[dict], dict] | None = None) -> BoundWorker | None:
    """The full MIP on the spare core while the start runs (solver/bound_worker.py): only
    when the settings allow a second thread and the time left pays for its root.
    `kernel_follows`: the start will hand it a network search first (`mip_start`);
    `tighten`: rows only its copy carries (CarriedProof.tighten)."""
    if settings.threads < 2 or seconds < MIN_WORKER_SECONDS:
        return None
    try:
        return BoundWorker(solver._solver_model, seconds, settings.seed,
                           kernel_follows=kernel_follows, tighten=tighten)
    except (OSError, ValueError) as exc:  # no child process here: the start still runs
        log.warning("no bound worker: %s", exc)
        return None


def _spare_searches(solver: _Highs, seconds: float, loop_stopped: str | None,
                    searched: bool) -> bool:
    """Whether the spare core searches for a network before it proves, in a start of
    `seconds` after a cut loop that ended `loop_stopped` (None: no loop ran), where the chain
    will search its dived network (`searched`: a model the neighbourhood search takes, in a
    start under DIVE_SEARCH_SECONDS) or run its kernels. Only where the chain may not finish
    on its own: a start shorter than SPARE_SEARCH_SECONDS with the cores busy, or, where the
    chain runs its kernels, a machine that is slow for them (the loop stopped by its share;
    no loop to tell). A chain that dives and searches needs no MIP root; there the spare
    core's search only took the proof's time: national minute, seeds 0-14, with the core
    proving gaps of 1.19-1.79 % (bound $128.46M-$128.69M), against 1.52-2.05 % with its
    kernel (the loop's LP, $127.90M-$128.27M), and the network within 0.5 % of the best
    known on thirteen seeds of fifteen either way (bench/RESULTS.md). Before the dive and the
    search, on free cores the chain's strict kernel ended by its gap, and proving gave
    seeds 0-5 the same networks but one ($20k dearer), proven to 0.80-1.09 % instead of
    0.93-1.20 %."""
    if seconds >= SPARE_SEARCH_SECONDS:
        return False
    if solver.cores_not_free:
        return True
    return not searched and loop_stopped not in (LOOP_CONVERGED, LOOP_STALLED)


#: seconds a full MIP may take again, past the limit if need be, when HiGHS returned values
#: that are not its incumbent's (`_consistent_incumbent`); tiny and small models need well
#: under one
RESOLVE_SECONDS = 5.0


def _consistent_incumbent(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                          tee: bool, res, left) -> float:  # noqa: ANN001
    """The objective of the network loaded in `m`, which is what the tables report. HiGHS
    1.16 can return, for columns its presolve fixed, the MIP start's values instead of its
    incumbent's, with the incumbent's objective: on tiny with an idle candidate site in the
    start, 'MIP start solution is feasible in the reduced space' at $3.26M, solved, and the
    site still open in the values returned ($3.38M). The MIP is then solved again without
    the start, and the cheaper of the two loaded networks kept."""
    claimed = float(res.incumbent_objective)
    actual = _values_cost(solver)  # what pyo.value(m.obj) gives, without its 0.5-s walk
    if actual <= claimed + 1e-7 * max(1.0, abs(actual)):
        return claimed
    log.info("HiGHS returned a network costing %.8g for an incumbent of %.8g (values of its "
             "MIP start kept where presolve fixed columns): solving again without the start",
             actual, claimed)
    kept = _loaded_solution(m)
    solver.start = None
    solver._solver_model.clearSolver()
    started = time.perf_counter()
    again = _run(solver, m, settings, tee, max(left(), RESOLVE_SECONDS), solver="choose")
    _record_run(solver, "full MIP without its start", started, again)
    if _has_solution(again):
        again.solution_loader.load_vars()
        if _values_cost(solver) < actual:
            return _values_cost(solver)
    _load_values(m, kept)
    return actual


#: the neighbourhood search (solver/neighbourhoods.py) runs when the start leaves at least
#: this long (a national re-solve takes 1-2 s), and takes this share of it; the full MIP gets
#: the rest, from its network. It runs only with `warm_start` (a design solve: evaluate's and
#: the re-solves' held networks have no design to search; the aggregation's pricing searches
#: its ordering options, `_searches`), not on an elastic model (a diagnosis: its
#: penalties are the answer) and while the start is not proven within the gap
NEIGHBOURHOOD_MIN_SECONDS = 2.0
NEIGHBOURHOOD_SHARE = 0.5
#: ... but the full MIP gets its share only when that is at least this long: its presolve and root
#: LP alone take ~13 s on one core nationally, so with less it neither finds a network nor lifts the
#: bound, and the search takes all the time left (in the national minute, the 10-29 s the dive
#: leaves; bench/RESULTS.md). And while a bound worker proves on the other core, the search takes
#: all of it: after a search the full MIP found neither a cheaper network nor a higher bound than
#: the worker's in any run measured (national 120 s; 600 s twice, 256 s of full MIP each; us-depots
#: 600 s, 190 s), where the search's share was still improving the network
FULL_MIP_MIN_SECONDS = 20.0
#: ... on single models (a launch timeline's periods are blocks, with no pairs of their
#: own) of at least this many (demand point, site) pairs: below, the full MIP closes the gap
#: from the start within seconds, where a pass over every site's neighbourhood takes longer
#: (us-small, 3,943 pairs: proven within 0.5 % in 5 s; with the search first, 29 re-solves
#: took 10.3 s and saved $700 of $14.4M)
NEIGHBOURHOOD_MIN_PAIRS = 20_000
#: the search as a stage of the solve (SolveInfo.stages)
NEIGHBOURHOOD_STAGE = "neighbourhood search"


def _search_applies(m: pyo.ConcreteModel, settings: SolverSettings, held: bool = False
                    ) -> bool:
    """Whether the neighbourhood search takes this model at all (see NEIGHBOURHOOD_MIN_SECONDS
    and what follows): a design solve (or, `held`, a held network's solve that asks for the
    search of its ordering options) of a single model with enough pairs, not a diagnosis."""
    return ((settings.warm_start or held) and not getattr(m, "elastic", False)
            and len(getattr(m, "P", ())) >= NEIGHBOURHOOD_MIN_PAIRS)


def _dive_searched(m: pyo.ConcreteModel, settings: SolverSettings, seconds: float,
                   stageable: bool | None = None) -> bool:
    """Whether a start of `seconds` hands its dived network straight to the search, without
    the kernels (DIVE_SEARCH_SECONDS, or STAGED_DIVE_SEARCH_SECONDS on a model a longer start
    stages): the chain's `mip_start`, the spare core's choice (`_spare_searches`) and
    whether the start is staged at all ask the same question. `stageable`: whether
    `_staged_stock` has an answer, where the caller has it (it reads the ordering options:
    0.08 s nationally)."""
    if not _search_applies(m, settings):
        return False
    if stageable is None:
        stageable = _staged_stock(m, settings) is not None
    return seconds < (STAGED_DIVE_SEARCH_SECONDS if stageable else DIVE_SEARCH_SECONDS)


def _staged_stock(m: pyo.ConcreteModel, settings: SolverSettings) -> Deferred | None:
    """What a long enough start on `m` leaves to a second step (solver/staged.py), or None
    where it is not staged: the LP spreads nothing a second step places, or no second thread
    proves while the steps bound nothing."""
    if not (lazy_linking(m) and settings.threads >= 2):
        return None
    return deferred(m)


def _searches(m: pyo.ConcreteModel, settings: SolverSettings, start: dict[int, float],
              seconds: float, bound: float | None, held: bool = False) -> bool:
    """Whether the neighbourhood search runs on `start` with `seconds` left (see
    NEIGHBOURHOOD_MIN_SECONDS and what follows); leaves `start` loaded in `m`. `held`:
    `solve_model`'s `search_held`, whose answer's gap is another model's, so this model's
    gap does not stop it. us-fine's pricing stage, seed 0's network: its completed LP
    $251,731k in 157 s, which the full MIP did not improve in 300 s (nor in a 900-s
    pricing, its bound then $250.45M); the search took $0.42M off it in its first 13
    re-solves (74 s; 376 s: $0.44M, bench/RESULTS.md)."""
    return (_search_applies(m, settings, held) and seconds >= NEIGHBOURHOOD_MIN_SECONDS
            and (held or not within_gap(_objective(m, start), bound,
                                        float(settings.mip_gap))))


def _search_seconds(left: float, proving: bool) -> float:
    """The neighbourhood search's share of the `left` seconds: all of them while a bound
    worker is `proving` on the other core or when the full MIP's part would be too short to
    use (FULL_MIP_MIN_SECONDS), else NEIGHBOURHOOD_SHARE. A search that ends sooner (a pass
    with nothing cheaper, or its network proven within the gap) leaves the full MIP the
    rest."""
    share = NEIGHBOURHOOD_SHARE * left
    return share if not proving and left - share >= FULL_MIP_MIN_SECONDS else left


def _neighbourhood_search(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings,
                          start: dict[int, float], seconds: float,
                          bound: float | Callable[[], float | None] | None,
                          stop: Callable[[], bool] | None = None,
                          stage: str = NEIGHBOURHOOD_STAGE, held: bool = False
                          ) -> dict[int, float]:
    """`start` improved one metro at a time (solver/neighbourhoods.py) within `seconds`,
    or until `bound` (or the bound it returns so far: a worker's rises as the search goes)
    proves it within the model's gap, or `stop()` says so; the network returned is loaded in
    `m`. The model is HiGHS's (with every row the cut loop added) at Pyomo's bounds:
    HiGHS's copy may still hold a released kernel's. A search of the network an earlier
    one ended with goes on where that one stopped (`_Highs.searched`)."""
    started = time.perf_counter()
    arrays = pyomo_bound_arrays(solver)
    earlier = solver.searched
    hoods = (earlier.hoods if earlier is not None
             else neighbourhoods(m, solver._pyomo_var_to_solver_var_map, arrays["integrality"]))
    if earlier is not None and start is earlier.network:  # its passes go on as they began
        order, begin, since = earlier.order, earlier.position, earlier.since_last
        first_gap = earlier.first_gap
    else:
        order = centres(m, solver.lp_values, start, sorted(hoods.site_columns), held)
        begin, since = 0, 0
        first_gap = first_pass_gap(seconds, dived=solver.dive_handed)
    options = {"random_seed": int(settings.seed), "threads": highs_threads(settings.threads),
               **RESTRICTED_MIP_OPTIONS}
    found = search(arrays, _by_column(solver, start), hoods, order, started + seconds,
                   options, bound, float(settings.mip_gap), begin, stop, since, first_gap)
    # costs from the model's cost vector (search): no Pyomo walk of the objective
    _record_stage(solver, stage, started, found.stopped, found.cost)
    log.info("%s: %d of %d neighbourhoods improved the network (%d stopped at their %g s, "
             "%d re-solved with every flow free), %.6g -> %.6g in %.1fs", stage,
             found.improved, found.solved, found.capped, NEIGHBOURHOOD_SECONDS, found.retried,
             found.start_cost, found.cost, time.perf_counter() - started)
    network = _by_var(solver, found.values) if found.improved else start
    solver.searched = SearchedNetwork(hoods, order, network, found.position,
                                      found.since_last, first_gap)
    _load_values(m, network)
    return network


@dataclass
class SearchedNetwork:
    """Where a solve's neighbourhood search left off: its neighbourhoods and order, the
    network it ended with and the position in its passes; a later search of that same
    network goes on from there instead of re-solving what the first pass already did."""

    hoods: Neighbourhoods
    order: list[str]
    network: dict[int, float]
    position: int
    since_last: int = 0
    first_gap: float = NEIGHBOURHOOD_GAP  # the gap of its first pass over the order


def pyomo_bound_arrays(solver: _Highs) -> dict:
    """The model HiGHS holds (with every row the cut loop added) as arrays (model_arrays),
    each column at its Pyomo bounds: HiGHS's copy may still hold a released stage's."""
    arrays = model_arrays(solver._solver_model)
    for var_id, col in solver._pyomo_var_to_solver_var_map.items():
        arrays["col_lower"][col], arrays["col_upper"][col] = _bounds(solver._vars[var_id][0])
    return arrays


def _bounds(v: pyo.Var) -> tuple[float, float]:
    """A variable's bounds as HiGHS takes them: infinite where Pyomo has none, its value
    where it is fixed."""
    if v.fixed:
        return float(v.value), float(v.value)
    return (-np.inf if v.lb is None else float(v.lb), np.inf if v.ub is None else float(v.ub))


def _values_cost(solver: _Highs) -> float:
    """The objective of the values HiGHS returned (its cost vector and offset)."""
    highs = solver._solver_model
    lp = highs.getLp()
    return float(np.dot(lp.col_cost_, highs.getSolution().col_value)) + float(lp.offset_)


def _close_idle(solver: _Highs, m: pyo.ConcreteModel) -> float:
    """Close what the loaded network pays for and nobody uses: depot stock held for nobody
    (idle_stock.py), then any decision whose rows, as HiGHS holds them, let it go to 0 with
    no other value raised (idle_facilities.py). Sets the values in `m`; returns the
    objective saved (model money)."""
    saved = close_idle_stock(m)
    started = time.perf_counter()
    col_of = solver._pyomo_var_to_solver_var_map
    columns = [(solver._vars[var_id][0], col) for var_id, col in col_of.items()]
    decisions = decision_ids(m)
    more, closed = close_idle_decisions(model_arrays(solver._solver_model), columns, decisions)
    if closed:
        log.info("closed %d idle decision(s), saving %.6g in %.2fs: %s", len(closed), more,
                 time.perf_counter() - started, ", ".join(closed))
    else:
        log.debug("no idle decision (%.2fs)", time.perf_counter() - started)
    return saved + more


def _held_lp(solver: _Highs, m: pyo.ConcreteModel, settings: SolverSettings, tee: bool):
    """The LP of `m` as it stands (its decisions held by the caller), without a MIP start."""
    solver.start = None
    return _run(solver, m, settings, tee, PLANT_VALUE_SECONDS, solve_relaxation=True,
                solver="simplex")


def best_bound(*bounds: float | None) -> float | None:
    """The larger of the valid lower bounds proven so far (minimisation), None for none."""
    return max((b for b in bounds if b is not None), default=None)


def _start_applies(m: pyo.ConcreteModel) -> bool:
    """The start keeps every site the LP touches open: with a cap on active sites that
    restricted model can be infeasible, so it is skipped there."""
    limits = m.prep.case.config.sites
    return limits.max_active is None


def solve_model(m: pyo.ConcreteModel, settings: SolverSettings, tee: bool = False,
                time_limit: float | None = None,
                start_network: StartNetwork | None = None,
                start_name: str = "baseline", known_bound: float | None = None,
                carry: CarriedProof | None = None,
                capacity_values: bool = False, search_held: bool = False) -> SolveInfo:
    """Run HiGHS with fixed seed and threads (after a MIP start: from `start_network` where
    it is feasible, recorded as `start_name`, else the kernel start of `mip_start` when
    enabled and the model is large); load the incumbent if there is one. `known_bound`: a
    lower bound proven elsewhere (an aggregated relaxation's), reported when HiGHS's own is
    weaker. `carry`: the kernel start's bound worker is not stopped when the solve ends but
    handed over in it, to prove on until `carry.until` (the caller stops it); the bound
    returned is what it proved so far. `capacity_values`: price the plants' capacity in the
    network found (solver/marginal.py), for a solve whose result is reported as it stands.
    `search_held`: the design is held and the answer's gap is measured against another
    model's bound (the aggregation's pricing), so the neighbourhood search re-solves the
    ordering options after the start for all the time left, whatever this model's gap
    (`_searches`). Another solver named by `solver.name` (Gurobi, CPLEX, ...) runs through
    solver/backends.py instead."""
    if settings.name != "highs":
        if lazy_linking(m):  # the cut loop is HiGHS's: another solver gets every row
            link_pairs(m, list(m.P))
        return solve_with_backend(m, settings, tee=tee, time_limit=time_limit)
    solver = _Highs()
    if not solver.available():
        raise SolveError("HiGHS is not available: pip install highspy")
    began = time.perf_counter()
    # hand the model to HiGHS before the stages share out the limit: on a model of 1.6M
    # columns Pyomo's hand-over alone takes over a minute, which ran past the limit when the
    # first stage's HiGHS run got its whole budget on top of it
    solver.set_instance(m)
    limit = max(float(time_limit or settings.time_limit) - (time.perf_counter() - began), 1.0)
    started = time.perf_counter()
    deadline = started + limit

    def left(share: float = 1.0) -> float:
        """Seconds a stage may run: `share` of the limit, never past the deadline."""
        return max(min(share * limit, deadline - time.perf_counter()), 0.0)

    lp_bound = known_bound
    started_from = "none"
    if start_network:
        solver.start = network_start(solver, m, settings, tee, left(BASELINE_START_SHARE),
                                     start_network, start_name)
        started_from = start_name if solver.start else "none"
    warm = (not solver.start and settings.warm_start and len(m.y) >= WARM_START_MIN_SITES
            and _start_applies(m))
    # the staged start's steps bound nothing: it needs the worker's core for a bound; nor is
    # a start that hands its dive to the search staged (why: solver/staged.py)
    stock = _staged_stock(m, settings) if warm else None
    stageable = stock is not None
    later = stock if stageable and not _dive_searched(m, settings, left(), stageable) else None
    with_cuts = segment_cuts(settings, time_limit)
    linked, loop_stopped = None, None
    if lazy_linking(m) and later is None:
        # only a start that builds a network (`warm`) goes on: a held solve (`netopt
        # evaluate`, the aggregation's pricing) has nothing to dive for, and is not measured
        budget = left(LINK_SHARE)
        linked = separate_linking(solver, m, settings, tee, budget, with_cuts,
                                  long=warm and budget >= LONG_LOOP_SECONDS)
        lp_bound = best_bound(lp_bound, linked)
        loop_stopped = solver.stages[-1]["stopped"]
    worker, replaced, tighten = None, None, None
    try:
        if later is not None:
            solver.start, worker, replaced = _staged_start(solver, m, settings, tee, left(),
                                                           later, with_cuts)
            started_from = "staged" if solver.start else "none"
            # with minutes to spare, or when the steps found nothing, the one-step start too
            if left() >= (STAGED_WHOLE_SECONDS if solver.start else MIN_STAGE_SECONDS):
                solver.start, linked, staged_won = _whole_model_start(
                    solver, m, settings, tee, left(), with_cuts, worker is not None)
                lp_bound = best_bound(lp_bound, linked)
                if solver.start and not staged_won:
                    started_from = "kernel"
        elif warm:
            searches = _spare_searches(solver, left(), loop_stopped,
                                       _dive_searched(m, settings, left(), stageable))
            if carry is not None and carry.tighten is not None and not searches:
                column = solver._pyomo_var_to_solver_var_map
                tighten = functools.partial(carry.tighten,
                                            column_of_pair=lambda i: column[id(m.x[i])])
            worker = _bound_worker(solver, settings, left() if carry is None else max(
                left(), carry.until - time.perf_counter()), kernel_follows=searches,
                tighten=tighten)
            # the start may take the rest of the limit: its kernels stop at their own optimum
            # (or, in a short start, its search follows), leaving the full MIP what is left
            solver.start, lp_start = mip_start(solver, m, settings, tee, left(), linked,
                                               spare=worker if searches else None, dive=True)
            lp_bound = best_bound(lp_bound, lp_start)
            started_from = "kernel" if solver.start else "none"
        elif solver.start and settings.warm_start and linked is not None:
            # a design solve started from another solve's network (a batch's baseline): the
            # spare core proves from the loop's end while the search runs, as in a warm
            # start (national minute, strict and generous returns from the baseline's
            # design, a variant not kept: 1.17 % and 1.21 % with it, the same networks at
            # 2.59 % and 2.61 % without; bench/RESULTS.md). A held solve (`netopt
            # evaluate`, the aggregation's pricing) has no warm_start and no worker
            worker = _bound_worker(solver, settings, left())
        if not solver.start and linked is not None and left() >= MIN_STAGE_SECONDS:
            solver.start = _completed_lp(solver, m, settings, tee, left(COMPLETION_SHARE))
        if search_held and solver.start and _searches(m, settings, solver.start, left(),
                                                      None, held=True):
            # the answer's gap is measured against another model's bound: search to the end
            solver.start = _neighbourhood_search(solver, m, settings, solver.start, left(),
                                                 None, held=True)
        elif solver.start and _searches(m, settings, solver.start, left(), lp_bound):
            proving = worker is not None and worker.running
            # a tightened worker's bound is not this model's: the search would stop at a
            # gap measured across two models
            solver.start = _neighbourhood_search(
                solver, m, settings, solver.start, _search_seconds(left(), proving),
                (lambda: best_bound(lp_bound, worker.bound)) if proving and tighten is None
                else lp_bound)
        if solver.start and left() < MIN_STAGE_SECONDS:
            # the start took the limit: a run now gets HiGHS's 1-s minimum and its presolve
            # (no interrupt check) on top, 2.3 s past a national 60-s limit, for nothing
            res = None
            _load_values(m, solver.start)
            _skipped(solver, "full MIP")
        else:
            full = time.perf_counter()
            res = _run(solver, m, settings, tee, left(), solver="choose")
            _record_run(solver, "full MIP", full, res)
    except BaseException:  # a stage failed or Ctrl-C: no child outlives the solve
        if worker is not None:
            worker.stop()
        raise
    if carry is not None and worker is not None:
        carry.worker, proven = worker, worker.bound
    else:
        proven = worker.stop() if worker is not None else None
    proven = best_bound(proven, replaced)  # a staged start's first worker, if replaced
    seconds = time.perf_counter() - began
    if res is None:
        term, has = TerminationCondition.maxTimeLimit, True
    else:
        term = res.termination_condition
        has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    saved = 0.0
    incumbent = None
    if has:
        if res is not None:
            res.solution_loader.load_vars()
            incumbent = _consistent_incumbent(solver, m, settings, tee, res, left)
        else:
            incumbent = pyo.value(m.obj)
        saved = _close_idle(solver, m)  # a stopped MIP may pay for what nobody uses
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
    obj = incumbent - saved if has else None
    if res is not None and solver.stages and solver.stages[-1]["stage"] == "full MIP":
        solver.stages[-1]["objective"] = obj  # net of the idle stock closed, as `objective`
    bound = res.objective_bound if res is not None else None
    bound = None if bound is None or not math.isfinite(bound) else float(bound)
    if carry is not None:
        carry.cap = obj
    if proven is not None:
        log.info("bound worker: %.6g", proven)
        if obj is not None:
            proven = min(proven, obj)  # above the network only by the child's tolerances
        lp_bound = best_bound(lp_bound, proven)
    bound = best_bound(bound, lp_bound)
    gap = None
    if obj is not None and bound is not None:
        gap = abs(obj - bound) / max(abs(obj), 1e-9)
        if status == "feasible" and gap <= settings.mip_gap:
            status = "optimal"  # proven within the gap by a bound from outside this run
        if status == "optimal" and gap > settings.mip_gap:
            # HiGHS also stops on an absolute gap; report what was actually proven
            log.debug("optimal with relative gap %.3g", gap)
    n_var, n_bin, n_con = model_size(m)
    log.info("HiGHS: %s (%s) objective=%s bound=%s in %.1fs", status, term.name, obj, bound,
             seconds)
    # after the limit, outside solve_seconds: what it describes is the network just chosen
    values = plant_capacity_values(m, lambda: _held_lp(solver, m, settings, tee)) \
        if has and capacity_values else None
    return SolveInfo(status=status, termination=term.name, objective=obj, bound=bound, gap=gap,
                     solve_seconds=seconds, n_variables=n_var, n_binaries=n_bin,
                     n_constraints=n_con, solver="highs",
                     solver_version=".".join(map(str, solver.version())), start=started_from,
                     stages=solver.stages, cores_not_free=solver.cores_not_free,
                     plant_capacity_values=values)
