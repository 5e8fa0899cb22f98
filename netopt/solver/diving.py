"""An LP dive: a network from the cut loop's LP in seconds, before any MIP root.

Every network the kernels find comes out of a HiGHS root: cut rounds, then a sub-MIP. On the
national default that root takes 20-40 s, and on a slower or busier machine the minute ends
inside it, with the rounded network ($136M-$170M against $130M) as the answer. A dive needs
no root: it closes the design decisions the LP uses least, opens those it uses most, and
re-solves the LP after each step - the first afresh, the next ones warm from the last basis, a
dual simplex of 0.02-0.2 s, only bounds changed - until sites, offers, hubs and partners are
all 0 or 1 (a relaxation-induced dive; Berthold, *Primal heuristics for mixed integer
programs*, 2006). A step the LP cannot hold is backed out and halved, keeping the decisions
the LP was surest of, down to a single one turned the other way (a limited backtrack): on
us-depots' one-step start an opened offer needed a partner the same step closed, and the
dive used to give up. Thirty re-solves take about 2 s on the national default. What is left
to choose (onboarding, equipment, ordering options, depot stock) is the small MIP the
rounded network also leaves (solver/highs.py `_dive_start`).

The ordering options are left to that MIP, not dived: an offer's options and volume
segments are one choice, and closing them one by one left offers no segment their patients
fit (every option under 0.05 closed at once: the LP infeasible; under 0.01: feasible).

The dive works on the HiGHS object's column bounds directly, not through Pyomo, whose
update scans every variable of the model at each re-solve (0.3 s a step instead of 0.06 s).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import highspy
import numpy as np

from .info import highs_time_limit
from .interrupts import DEADLINE_SLACK, ctrl_c_after, stop_at

#: a decision the current LP uses at most this much is closed ...
DIVE_CLOSE = 0.05
#: ... and one it uses at least this much opened
DIVE_OPEN = 0.6
#: when no decision reaches DIVE_OPEN, this share of the fractional ones (those the LP uses
#: most; at least one) is opened in the step
DIVE_STEP_SHARE = 0.1
#: a value this close to 0 or 1 counts as integral
INTEGRAL = 1e-6
#: HiGHS's statuses for a model that cannot hold: a step of the dive (any other but optimal
#: ends it), a neighbourhood of the search, an N-1 variant
INFEASIBLE = (highspy.HighsModelStatus.kInfeasible,
              highspy.HighsModelStatus.kUnboundedOrInfeasible)
#: HiGHS's simplex_strategy for the dive's re-solves: its serial dual simplex
SERIAL_DUAL_SIMPLEX = 1
#: steps the LP could not hold (each halved, a single decision turned the other way)
#: before the dive gives up
MAX_BACKTRACKS = 12


def lp_dive(h: highspy.Highs, columns: Sequence[int], values: Sequence[float],
            deadline: float) -> tuple[np.ndarray | None, int]:
    """Dive over the binary `columns` of the LP `h` holds, from the LP solution `values` (a
    value per column of `h`), the first re-solve afresh, each after it warm from the last
    basis. Returns every column's value in the last LP (those of `columns` 0 or 1) and the
    number of LP re-solves, or None for the values when a step failed even halved to one
    decision, either way (infeasible: bounds the dive set cannot hold together), after
    MAX_BACKTRACKS failed steps, or once the `deadline` on time.perf_counter() passed. The
    bounds in `h` are given back either way; the LP solution left in `h` is the dive's last."""
    cols = np.asarray(columns, dtype=np.int32)
    lp = h.getLp()
    lower0 = np.asarray(lp.col_lower_, float)[cols]
    upper0 = np.asarray(lp.col_upper_, float)[cols]
    lower, upper = lower0.copy(), upper0.copy()
    _, output = h.getOptionValue("output_flag")
    _, strategy = h.getOptionValue("simplex_strategy")
    h.setOptionValue("solve_relaxation", True)
    h.setOptionValue("output_flag", False)  # thirty re-solves: their logs say nothing
    # the serial dual simplex, whatever the last run left set: the cut loop's parallel one
    # (highs.SIMPLEX_DUAL_SIP) wants both cores, and beside the bound worker on the other
    # its re-solves took the dive's whole share (a national minute in which the dive came
    # straight after the loop: 11 s, then no network). In a start that hands its dive to
    # the search the dive follows the loop directly, so this setting is what it runs with
    h.setOptionValue("simplex_strategy", SERIAL_DUAL_SIMPLEX)
    # the first step closes most decisions at once (1,464 of the national default's): warm
    # from the LP's basis the simplex walks the whole model (4.2 s, 4,414 iterations), solved
    # afresh HiGHS's presolve drops what the step closed first (0.5 s). The steps after it
    # change a few decisions each and re-solve warm (0.04-0.15 s)
    h.clearSolver()
    solution = np.asarray(values, float)
    resolves = backtracks = 0
    try:
        while (step := _step(solution[cols], lower, upper, cols)) is not None:
            close, open_ = step
            flipped = False  # the step is one decision, turned the other way
            while True:
                tried_lower, tried_upper = lower.copy(), upper.copy()
                tried_upper[close] = 0.0
                tried_lower[open_] = 1.0
                changed = close | open_
                if time.perf_counter() >= deadline:
                    return None, resolves
                status = _resolve(h, cols, tried_lower, tried_upper, changed, deadline)
                resolves += 1
                if status == highspy.HighsModelStatus.kOptimal:
                    lower, upper = tried_lower, tried_upper
                    break
                if status not in INFEASIBLE:  # the clock, or HiGHS in trouble: no network
                    return None, resolves
                # the LP cannot hold the step: back to the last LP's bounds, and half the
                # step (the decisions the LP was surest of); a single decision the other way
                backtracks += 1
                h.changeColsBounds(int(changed.sum()), cols[changed], lower[changed],
                                   upper[changed])
                if flipped or backtracks > MAX_BACKTRACKS:
                    return None, resolves
                flipped = int((close | open_).sum()) == 1
                close, open_ = _half(solution[cols], close, open_, cols)
            solution = np.asarray(h.getSolution().col_value, float)
        return solution, resolves
    finally:
        h.changeColsBounds(len(cols), cols, lower0, upper0)
        h.setOptionValue("solve_relaxation", False)
        h.setOptionValue("output_flag", output)
        h.setOptionValue("simplex_strategy", strategy)


def _resolve(h: highspy.Highs, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray,
             changed: np.ndarray, deadline: float) -> highspy.HighsModelStatus:
    """Set the `changed` columns' bounds and re-solve the LP warm from its last basis, by the
    `deadline`; HiGHS's status."""
    where = np.flatnonzero(changed)
    h.changeColsBounds(len(where), cols[where], lower[where], upper[where])
    h.setOptionValue("time_limit", highs_time_limit(h, max(deadline - time.perf_counter(),
                                                             1e-3)))
    # HiGHS's own limit ends a run in time; the deadline catches a clock of its that did
    # not start with the run (solver/info.py)
    with ctrl_c_after(stop_work=True), stop_at(h, deadline + DEADLINE_SLACK):
        h.run()
    return h.getModelStatus()


def _half(values: np.ndarray, close: np.ndarray, open_: np.ndarray, cols: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """A step the LP could not hold, halved: of its decisions, the half the LP is surest
    of (the least used among those it closes, the most used among those it opens). A single
    decision is turned the other way: the LP cannot hold it where the step put it."""
    changed = np.flatnonzero(close | open_)
    if len(changed) == 1:
        return open_.copy(), close.copy()
    # how sure: a closed decision by how little the LP uses it, an opened one by how much
    sure = np.where(close[changed], 1.0 - values[changed], values[changed])
    keep = changed[np.lexsort((cols[changed], -sure))][:len(changed) // 2]
    mask = np.zeros_like(close)
    mask[keep] = True
    return close & mask, open_ & mask


def _step(values: np.ndarray, lower: np.ndarray, upper: np.ndarray, cols: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """One step of the dive: the masks of the columns to close and to open, or None when
    every free one is already 0 or 1."""
    free = lower < upper
    close = free & (values <= DIVE_CLOSE)
    open_ = free & (values >= DIVE_OPEN)
    fractional = free & ~close & ~open_ & (values > INTEGRAL) & (values < 1 - INTEGRAL)
    if not open_.any() and fractional.any():
        order = np.flatnonzero(fractional)
        # the largest first; ties by column, so the same LP gives the same dive
        order = order[np.lexsort((cols[order], -values[order]))]
        open_[order[:max(1, int(DIVE_STEP_SHARE * len(order)))]] = True
    if close.any() or open_.any():
        return close, open_
    return None


__all__ = ["lp_dive"]
