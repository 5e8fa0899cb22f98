"""The model a HiGHS object holds, as plain arrays, and back: how a model crosses to another
process (the bound worker's child, the N-1 re-solves' workers) without Pyomo on the other
side. Picklable, about 10 MB and 0.1 s for the national default."""

from __future__ import annotations

import os
import sys
import threading

import highspy
import numpy as np

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


def set_start(h: highspy.Highs, values: np.ndarray | list[float]) -> None:
    """Hand `h` a MIP start: a value for every column (HiGHS completes or rejects it)."""
    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    h.setSolution(sol)


__all__ = ["highs_from_arrays", "model_arrays", "set_start"]
