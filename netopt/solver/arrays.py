"""The model a HiGHS object holds, as plain arrays, and back: how a model crosses to another
process (the bound worker's child, the N-1 re-solves' workers) without Pyomo on the other
side. Picklable, about 10 MB and 0.1 s for the national default. Also the same model with
the columns its bounds fix taken out (`restricted_arrays`), for the neighbourhood search's
many small re-solves."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

#: the banner comes once per process: only the first HiGHS object is built with stdout
#: redirected, and under a lock, since fd 1 is shared by every thread
_BANNER_LOCK = threading.Lock()
_banner_shown = False


def quiet_highs() -> highspy.Highs:
    """A HiGHS object that prints nothing. The first one a process makes writes HiGHS's
    banner to stdout from C++ as it is built, before any option can be set, so that one is
    built with fd 1 sent to /dev/null (the solver's log is for --solver-log alone). Where
    the process has no usable stdout, nothing is redirected."""
    global _banner_shown
    with _BANNER_LOCK:
        if _banner_shown:
            h = highspy.Highs()
        else:
            h = _built_silently()
            _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def _built_silently() -> highspy.Highs:
    if sys.stdout is not None:
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 at all: nothing can be printed anyway
        return highspy.Highs()
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            return highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(null)
    finally:
        os.close(saved)


def model_arrays(highs: highspy.Highs) -> dict:
    """The model `highs` holds as plain arrays."""
    lp = highs.getLp()
    a = lp.a_matrix_
    return {
        "rowwise": a.format_ == highspy.MatrixFormat.kRowwise,
        "num_col": lp.num_col_, "num_row": lp.num_row_, "offset": float(lp.offset_),
        "minimize": lp.sense_ == highspy.ObjSense.kMinimize,
        "col_cost": np.asarray(lp.col_cost_, float), "col_lower": np.asarray(lp.col_lower_, float),
        "col_upper": np.asarray(lp.col_upper_, float),
        "row_lower": np.asarray(lp.row_lower_, float),
        "row_upper": np.asarray(lp.row_upper_, float),
        "start": np.asarray(a.start_, np.int64), "index": np.asarray(a.index_, np.int64),
        "value": np.asarray(a.value_, float),
        "integrality": np.asarray([int(v) for v in lp.integrality_], np.int8),
    }


def highs_from_arrays(d: dict, col_lower: np.ndarray | None = None,
                      col_upper: np.ndarray | None = None) -> highspy.Highs:
    """A quiet HiGHS object holding the model of `model_arrays` (minimisation), with other
    column bounds where given."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_, lp.offset_ = d["num_col"], d["num_row"], d["offset"]
    lp.col_cost_ = d["col_cost"]
    lp.col_lower_ = d["col_lower"] if col_lower is None else col_lower
    lp.col_upper_ = d["col_upper"] if col_upper is None else col_upper
    lp.row_lower_, lp.row_upper_ = d["row_lower"], d["row_upper"]
    lp.a_matrix_.format_ = (highspy.MatrixFormat.kRowwise if d["rowwise"]
                            else highspy.MatrixFormat.kColwise)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = d["num_col"], d["num_row"]
    lp.a_matrix_.start_, lp.a_matrix_.index_ = d["start"], d["index"]
    lp.a_matrix_.value_ = d["value"]
    lp.integrality_ = [highspy.HighsVarType(int(v)) for v in d["integrality"]]
    h = quiet_highs()
    h.passModel(lp)
    return h


def with_rows(d: dict, col_cost: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
              row: np.ndarray, col: np.ndarray, value: np.ndarray) -> dict:
    """`d` (model_arrays) with continuous columns >= 0 of `col_cost` and rows appended: entry
    k of the new rows is (row[k], col[k], value[k]), rows counted from the first new one and
    columns over old and new. Stored by column."""
    n, r, k, q = d["num_col"], d["num_row"], len(col_cost), len(row_lower)
    make = sparse.csr_matrix if d["rowwise"] else sparse.csc_matrix
    old = make((d["value"], d["index"], d["start"]), shape=(r, n))
    new = sparse.coo_matrix((value, (row, col)), shape=(q, n + k))
    a = sparse.vstack([sparse.hstack([old, sparse.csc_matrix((r, k))]), new]).tocsc()
    a.sort_indices()
    return {**d, "rowwise": False, "num_col": n + k, "num_row": r + q,
            "col_cost": np.concatenate([d["col_cost"], col_cost]),
            "col_lower": np.concatenate([d["col_lower"], np.zeros(k)]),
            "col_upper": np.concatenate([d["col_upper"], np.full(k, highspy.kHighsInf)]),
            "row_lower": np.concatenate([d["row_lower"], row_lower]),
            "row_upper": np.concatenate([d["row_upper"], row_upper]),
            "start": a.indptr.astype(np.int64), "index": a.indices.astype(np.int64),
            "value": a.data.astype(float),
            "integrality": np.concatenate([d["integrality"], np.zeros(k, np.int8)])}


def entry_rows_and_columns(d: dict) -> tuple[np.ndarray, np.ndarray]:
    """The row and the column of each matrix entry of a `model_arrays` model, stored by row
    or by column."""
    outer = np.repeat(np.arange(len(d["start"]) - 1), np.diff(d["start"]))
    return (outer, d["index"]) if d["rowwise"] else (d["index"], outer)


def columnwise(d: dict) -> dict:
    """`model_arrays` with its matrix stored by column (as given when it already is)."""
    if not d["rowwise"]:
        return d
    row, column = entry_rows_and_columns(d)
    order = np.lexsort((row, column))  # by column, then row
    counts = np.bincount(column, minlength=d["num_col"])
    return {**d, "rowwise": False,
            "start": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "index": row[order].astype(np.int64), "value": d["value"][order]}


#: a row whose columns are all fixed is dropped from a restricted model; it is broken (the
#: model infeasible, as HiGHS's presolve of a MIP would find) when violated by more than
#: this: HiGHS's mip_feasibility_tolerance, which netopt leaves at its default
FIXED_ROW_TOLERANCE = 1e-6


@dataclass
class Restricted:
    """A model with the columns its bounds fix taken out (`restricted_arrays`)."""

    arrays: dict  # the smaller model, model_arrays' form
    kept: np.ndarray  # the original index of each of its columns
    fixed: np.ndarray  # every original column's value where fixed (0 where kept)
    broken: int  # dropped rows (all their columns fixed) the fixed values violate

    def full(self, values: np.ndarray) -> np.ndarray:
        """A solution of the smaller model as a value per original column."""
        out = self.fixed.copy()
        out[self.kept] = values
        return out


def restricted_arrays(d: dict, col_lower: np.ndarray, col_upper: np.ndarray,
                      column: np.ndarray | None = None) -> Restricted:
    """The model of `model_arrays` with the columns the bounds fix taken out: their activity
    moves into the row bounds, and rows left with no column are dropped (counted when the
    fixed values break them); so are the columns of forcing rows (`_forced`). Why: a
    neighbourhood of the search (solver/neighbourhoods.py) frees 2-10k of the national
    model's 65k columns, and HiGHS's presolve took 0.25-0.4 s of each 0.3-1.3-s re-solve to
    find as much. `column`: each entry's column (`entry_rows_and_columns(d)`), when a caller
    restricts the same model many times (and `columnwise(d)` as `d`)."""
    d = columnwise(d)
    start, index, value = d["start"], d["index"], d["value"]
    column = entry_rows_and_columns(d)[1] if column is None else column
    col_lower, col_upper = _forced(d, col_lower.copy(), col_upper.copy(), column)
    free = col_lower < col_upper
    at = np.where(free, 0.0, col_lower)  # a fixed column's value
    activity = np.bincount(index, weights=value * at[column], minlength=d["num_row"])
    entry = free[column]
    rows = np.zeros(d["num_row"], dtype=bool)
    rows[index[entry]] = True
    dropped = ~rows
    broken = int(((d["row_lower"][dropped] - activity[dropped] > FIXED_ROW_TOLERANCE)
                  | (activity[dropped] - d["row_upper"][dropped] > FIXED_ROW_TOLERANCE)).sum())
    # a column whose bounds cross holds no value at all
    broken += int((col_lower > col_upper + FIXED_ROW_TOLERANCE).sum())
    new_row = np.cumsum(rows) - 1
    kept = np.flatnonzero(free)
    counts = np.diff(start)[kept]
    with np.errstate(invalid="ignore"):  # inf - finite stays inf
        row_lower = d["row_lower"][rows] - activity[rows]
        row_upper = d["row_upper"][rows] - activity[rows]
    smaller = {
        "rowwise": False, "num_col": len(kept), "num_row": int(rows.sum()),
        "offset": float(d["offset"]) + float(d["col_cost"] @ at),
        "minimize": d["minimize"], "col_cost": d["col_cost"][kept],
        "col_lower": col_lower[kept], "col_upper": col_upper[kept],
        "row_lower": row_lower, "row_upper": row_upper,
        "start": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "index": new_row[index[entry]].astype(np.int64), "value": value[entry],
        # an LP's integrality is empty (HiGHS's form): it stays so
        "integrality": d["integrality"][kept] if len(d["integrality"]) else d["integrality"],
    }
    return Restricted(smaller, kept, at, broken)


#: rounds of forcing rows taken out before a restricted model is built
FORCING_ROUNDS = 2
#: a row's least activity this close to its upper bound (or most to its lower) forces it
FORCING_TOLERANCE = 1e-9


def _forced(d: dict, lower: np.ndarray, upper: np.ndarray, column: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds with the columns of forcing rows fixed: a row whose least possible
    activity (each column at the bound that makes its term smallest) already meets its upper
    bound holds only with every column at that bound, and likewise for the most activity and
    a lower bound (an offer held closed: its patients, lanes and volumes all 0). The first
    thing HiGHS's presolve would do; "meets" within FORCING_TOLERANCE of the bound, so at
    most that slack is given up (it only restricts: a network found stays feasible). A row
    that cannot hold at all is left to HiGHS to say so."""
    index, value = d["index"], d["value"]
    n_row = d["num_row"]
    row_lower, row_upper = d["row_lower"], d["row_upper"]
    # an infinite side forces nothing (its tolerance is then nan: every comparison false)
    with np.errstate(invalid="ignore"):
        upper_tolerance = np.where(np.isfinite(row_upper),
                                   FORCING_TOLERANCE * (1.0 + np.abs(row_upper)), np.nan)
        lower_tolerance = np.where(np.isfinite(row_lower),
                                   FORCING_TOLERANCE * (1.0 + np.abs(row_lower)), np.nan)
    for _ in range(FORCING_ROUNDS):
        low_end = np.where(value > 0, lower[column], upper[column])
        high_end = np.where(value > 0, upper[column], lower[column])
        with np.errstate(invalid="ignore"):  # inf - inf in a row: nan, never forcing
            least = np.bincount(index, weights=value * low_end, minlength=n_row)
            most = np.bincount(index, weights=value * high_end, minlength=n_row)
            at_upper = np.isfinite(least) & (np.abs(least - row_upper) <= upper_tolerance)
            at_lower = np.isfinite(most) & (np.abs(most - row_lower) <= lower_tolerance)
        free = lower[column] < upper[column]  # per entry
        low_entry = at_upper[index] & np.isfinite(low_end) & free
        high_entry = at_lower[index] & np.isfinite(high_end) & free
        if not (low_entry.any() or high_entry.any()):
            break
        for entries, ends in ((low_entry, low_end), (high_entry, high_end)):
            cols = column[entries]
            lower[cols] = upper[cols] = ends[entries]
    return lower, upper


def set_start(h: highspy.Highs, values: np.ndarray | list[float]) -> None:
    """Hand `h` a MIP start: a value for every column (HiGHS completes or rejects it)."""
    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    h.setSolution(sol)


__all__ = ["Restricted", "columnwise", "entry_rows_and_columns", "highs_from_arrays",
           "model_arrays", "restricted_arrays", "set_start"]
