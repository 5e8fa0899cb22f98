"""Facilities paid for and used by nobody, closed in a time-limited incumbent.

A MIP stopped by the clock can keep decisions its search has not yet undone: us-depots at
60 s kept two cold-storage partners active with no dose through them ($229k a year) and a
candidate site open treating nobody ($99.6k). Each such decision is closed when the
network stays feasible with it at 0, no other value raised, and the objective falls. The
test is on the model's rows as the solver holds them, so a row that needs the decision (a
KOL to cover, an offer that needs an equipped class or an active hub) keeps it, and a
fixed one (an existing site kept open) is never touched: a rule per family, as for idle
depot stock (idle_stock.py), would have to know each family's rows by name.

A decision closes with what it carries: setting an offer to 0 breaks the row that makes it
choose one ordering option, so the option at 1 goes too, and the doses that option would
see expire, which sit in plant rows. The search grows such a group from the rows it
breaks, setting only values that are above 0 to 0, and keeps it only when every row holds
again and the group's cost is positive: a network that is feasible and cheaper by that cost.
A facility that carries patients is never in such a group, since their demand row would
need its unserved rest raised, which the search never does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyomo.core.base.var import VarData

from .arrays import entry_rows_and_columns

log = logging.getLogger(__name__)

#: a group that needs more columns than this is not an idle facility: given up
MAX_GROUP = 200
#: a row holds when it is within this of its bound (relative to 1 + |bound|), or no further
#: out than the incumbent already was (HiGHS's feasibility tolerance is 1e-7 absolute)
ROW_TOLERANCE = 1e-6


@dataclass
class Rows:
    """A MILP's rows, with their bounds, as nonzeros (row, column, coefficient) readable by
    column and by row: the search reads each."""

    row_of: np.ndarray
    column_of: np.ndarray
    value: np.ndarray
    lower: np.ndarray  # row bounds (+-inf where open)
    upper: np.ndarray
    n_columns: int

    def __post_init__(self) -> None:
        self._by_column = np.argsort(self.column_of, kind="stable")
        self._column_start = np.searchsorted(self.column_of[self._by_column],
                                             np.arange(self.n_columns + 1))
        self._by_row = np.argsort(self.row_of, kind="stable")
        self._row_start = np.searchsorted(self.row_of[self._by_row],
                                          np.arange(len(self.lower) + 1))

    def activity(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.row_of, weights=self.value * x[self.column_of],
                           minlength=len(self.lower))

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        nz = self._by_column[self._column_start[j]:self._column_start[j + 1]]
        return self.row_of[nz], self.value[nz]

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        nz = self._by_row[self._row_start[i]:self._row_start[i + 1]]
        return self.column_of[nz], self.value[nz]


def rows_of(arrays: dict) -> Rows:
    """The rows of a model in solver/arrays.py's `model_arrays` form."""
    row_of, column_of = entry_rows_and_columns(arrays)
    return Rows(row_of=row_of, column_of=column_of, value=arrays["value"],
                lower=arrays["row_lower"], upper=arrays["row_upper"],
                n_columns=arrays["num_col"])


def close_idle_decisions(arrays: dict, columns: Sequence[tuple[VarData, int]],
                         decisions: set[int], col_lower: np.ndarray | None = None,
                         rows: Rows | None = None) -> tuple[float, list[str]]:
    """Close the idle decisions (module docstring) of the solution loaded in the Pyomo
    variables of `columns` (each with its column in `arrays`, solver/arrays.py's form), the
    model's rows being those of `arrays`. `decisions`: id() of the decision variables, the
    only ones that start a group; `col_lower`: the column lower bounds of the run (a
    variant's), else the variables' own. A column whose variable is fixed or bounded above 0
    keeps its value. Not `arrays`' own bounds: a persistent solver passes Pyomo's bounds on
    at its next run, so after a stage that held decisions open and released them they still
    read as held. `rows`: `rows_of(arrays)` made once for many calls (a batch of variants).
    Sets the values; returns the objective saved and the first variable of each group
    closed."""
    n = arrays["num_col"]
    if n == 0 or arrays["num_row"] == 0:
        return 0.0, []
    x = np.zeros(n)
    zeroable = np.ones(n, dtype=bool) if col_lower is None else col_lower <= 0
    seeds = np.zeros(n, dtype=bool)
    var_at: dict[int, VarData] = {}
    for v, col in columns:
        var_at[col] = v
        x[col] = v.value or 0.0
        zeroable[col] &= not v.fixed and (v.lb is None or v.lb <= 0)
        seeds[col] = id(v) in decisions
    values, saved, groups = close_idle(rows or rows_of(arrays), arrays["col_cost"], x,
                                       seeds & zeroable, zeroable)
    for group in groups:
        for col in group:
            var_at[col].set_value(0.0, skip_validation=True)
    return saved, [var_at[g[0]].name for g in groups]


def close_idle(rows: Rows, cost: np.ndarray, x: np.ndarray, seeds: np.ndarray,
               zeroable: np.ndarray) -> tuple[np.ndarray, float, list[list[int]]]:
    """Set to 0 every group of columns, grown from a seed column at 1 (a decision), whose
    zeroing keeps every row within its bounds and saves cost. `seeds`: the decision columns
    that may start a group; `zeroable`: columns that may be set to 0 (lower bound 0).
    Returns the new values, the cost saved and the groups closed (column indices)."""
    x = np.asarray(x, dtype=float).copy()
    r = rows.activity(x)
    def slack(bound: np.ndarray) -> np.ndarray:
        return ROW_TOLERANCE * (1.0 + np.abs(np.where(np.isfinite(bound), bound, 0.0)))

    # rows the incumbent already leaves out by HiGHS's tolerance may stay that far out
    low = rows.lower - np.maximum(slack(rows.lower), rows.lower - r)
    high = rows.upper + np.maximum(slack(rows.upper), r - rows.upper)
    order = [int(j) for j in np.flatnonzero(seeds & (x > 0.5) & (cost > 0))]
    order.sort(key=lambda j: (-cost[j], j))  # the dearest first, in a fixed order
    saved, closed = 0.0, []
    for j in order:
        if x[j] < 0.5:
            continue  # closed with an earlier group
        group = _grow(rows, x, r, low, high, zeroable, j)
        if group is None:
            continue
        saving = float(cost[group] @ x[group])
        if saving <= 0:
            continue
        for c in group:
            idx, val = rows.column(c)
            r[idx] -= val * x[c]
        x[group] = 0.0
        saved += saving
        closed.append(group)
    return x, saved, closed


def _grow(rows: Rows, x: np.ndarray, r: np.ndarray, low: np.ndarray, high: np.ndarray,
          zeroable: np.ndarray, seed: int) -> list[int] | None:
    """The columns to set to 0 with `seed` so that every row holds, or None: each row the
    group breaks adds the columns above 0 whose zeroing moves it back."""
    group, members = [seed], {seed}
    delta: dict[int, float] = {}
    frontier = [seed]
    while frontier:
        touched = set()
        for c in frontier:
            idx, val = rows.column(c)
            for i, a in zip(idx.tolist(), val.tolist(), strict=True):
                delta[i] = delta.get(i, 0.0) - a * x[c]
                touched.add(i)
        frontier = []
        for i in sorted(touched):
            now = r[i] + delta[i]
            if low[i] <= now <= high[i]:
                continue
            cols, val = rows.row(i)
            sign = 1.0 if now > high[i] else -1.0  # zero the columns that lower / raise it
            fix = [int(c) for c, a in zip(cols.tolist(), val.tolist(), strict=True)
                   if sign * a > 0 and x[c] > 0 and zeroable[c] and c not in members]
            if not fix:
                return None
            for c in fix:
                members.add(c)
                group.append(c)
                frontier.append(c)
            if len(group) > MAX_GROUP:
                return None
    # the rows once more, with the whole group out: a later column may undo an earlier fix
    for i, d in delta.items():
        if not low[i] <= r[i] + d <= high[i]:
            return None
    return group


__all__ = ["MAX_GROUP", "Rows", "close_idle", "close_idle_decisions", "rows_of"]
