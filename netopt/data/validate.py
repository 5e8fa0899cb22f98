"""Turn text tables into typed frames, collecting every problem (file, row, column, value).

Validation collects, then fails once: a user fixes ten problems in one pass, not one per run.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .problems import Problem
from .schema import LIST_SEPARATOR, TABLES, Column, Table
from .tables import RawTable

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def split_list(text: str) -> tuple[str, ...]:
    """'a; b;;c' -> ('a', 'b', 'c'): list cells are ';'-separated."""
    return tuple(item.strip() for item in str(text).split(LIST_SEPARATOR) if item.strip())


def _row(i: int) -> int:
    """Spreadsheet row of the i-th data row (header is row 1)."""
    return i + 2


def _parse_cell(col: Column, text: str) -> tuple[object, str | None]:
    """Parse one non-blank cell; return (value, error message or None)."""
    if col.kind == "str":
        if col.allowed and text not in col.allowed:
            return None, f"expected one of {', '.join(col.allowed)}"
        return text, None
    if col.kind == "list":
        items = split_list(text)
        if col.allowed:
            bad = [v for v in items if v not in col.allowed]
            if bad:
                return None, f"unknown value {bad[0]!r}; expected items of {', '.join(col.allowed)}"
        return items, None
    if col.kind == "time":
        if not _TIME.match(text):
            return None, "expected a time as HH:MM (24-hour clock)"
        return text, None
    if col.kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE, None
        return None, "expected true or false"
    try:
        number = float(text.replace(",", "")) if col.kind == "float" else float(text)
    except ValueError:
        return None, "expected a number" if col.kind == "float" else "expected a whole number"
    if not math.isfinite(number):
        return None, "expected a finite number"
    if col.kind == "int":
        if number != int(number):
            return None, "expected a whole number"
        number = int(number)
    if col.min is not None and number < col.min:
        return None, f"expected a number >= {col.min:g}"
    if col.max is not None and number > col.max:
        return None, f"expected a number <= {col.max:g}"
    return number, None


def _empty_series(col: Column) -> pd.Series:
    dtype = {"float": "float64", "int": "int64", "bool": "bool"}.get(col.kind, "object")
    return pd.Series([], dtype=dtype)


def parse_table(spec: Table, raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Type one table by its spec. Rows with errors are reported (never silently dropped)."""
    problems: list[Problem] = []
    frame = raw.frame
    file = raw.file
    unknown = [c for c in frame.columns if c not in spec.names]
    for name in unknown:
        label = "an unnamed column" if name.startswith("Unnamed") or not name else "column"
        problems.append(Problem(file, 1, name, f"{label} not in the '{spec.name}' schema; "
                                "it is ignored", severity="warning"))
    if len(frame) == 0 and not spec.allow_empty:
        problems.append(Problem(file, None, None, f"table '{spec.name}' has no rows"))
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            if col.required:
                problems.append(Problem(file, 1, col.name, "required column is missing"))
                continue
            out[col.name] = _default_series(col, len(frame))
            continue
        values: list[object] = []
        for i, text in enumerate(frame[col.name].tolist()):
            text = "" if text is None else str(text)
            if text == "" or text.lower() in ("nan", "na", "n/a", "null", "none"):
                if col.required:
                    problems.append(Problem(file, _row(i), col.name,
                                            "required value is blank", text))
                values.append(_default_value(col))
                continue
            value, err = _parse_cell(col, text)
            if err:
                problems.append(Problem(file, _row(i), col.name, err, text))
                value = _default_value(col)
            values.append(value)
        out[col.name] = _series(col, values)
    typed = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    problems += _duplicate_keys(spec, typed, file, frame)
    return typed, problems


def _default_value(col: Column) -> object:
    if col.kind == "list":
        return split_list(col.default or "")
    if col.kind in ("float", "int"):
        return np.nan if col.default is None else col.default
    return "" if col.default is None else col.default


def _default_series(col: Column, n: int) -> pd.Series:
    return _series(col, [_default_value(col)] * n)


def _series(col: Column, values: list[object]) -> pd.Series:
    if not values:
        return _empty_series(col)
    if col.kind == "float":
        return pd.Series(values, dtype="float64")
    if col.kind == "int":
        return pd.Series(values, dtype="float64").fillna(0).astype("int64")
    if col.kind == "bool":
        return pd.Series(values, dtype="bool")
    return pd.Series(values, dtype="object")


def _duplicate_keys(spec: Table, typed: pd.DataFrame, file: str,
                    raw: pd.DataFrame) -> list[Problem]:
    keys = [spec.key] if spec.key else list(spec.composite_key)
    if not keys or any(k not in raw.columns for k in keys):
        return []
    dup = typed.duplicated(subset=keys, keep="first")
    problems = []
    for i in np.flatnonzero(dup.to_numpy()):
        value = " / ".join(str(typed.at[i, k]) for k in keys)
        first = int(np.flatnonzero((typed[keys] == typed.loc[i, keys]).all(axis=1))[0])
        problems.append(Problem(file, _row(int(i)), keys[0],
                                f"duplicate id (first used on row {_row(first)})", value))
    return problems


def check_references(tables: dict[str, pd.DataFrame],
                     files: dict[str, str]) -> list[Problem]:
    """Every id that points at another table must exist there (KOL -> site, plant -> product)."""
    problems: list[Problem] = []
    for name, frame in tables.items():
        spec = TABLES[name]
        for col in spec.columns:
            if col.ref is None or col.name not in frame.columns:
                continue
            target, target_col = col.ref
            if target not in tables or target_col not in tables[target].columns:
                continue  # the missing table or column is reported already
            known = set(tables[target][target_col].tolist())
            for i, value in enumerate(frame[col.name].tolist()):
                items = value if isinstance(value, tuple) else (value,)
                for item in items:
                    if item == "":
                        continue  # optional, or already reported as a blank required value
                    if item not in known:
                        problems.append(Problem(
                            files[name], _row(i), col.name,
                            f"unknown {target_col} (not in {target})", str(item)))
    return problems
