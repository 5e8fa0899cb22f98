"""Dataset tables as text: CSV and Parquet files read cell by cell as the user wrote them.

Every cell is a stripped string so that validation sees exactly what the user wrote and can
name the row and column of anything wrong; typing happens in `validate`. The workbook reader
(`excel.py`) and the dataset dispatcher (`io.py`) build on this module.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .problems import Problem

TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass
class RawTable:
    """A table as the user wrote it: all cells as stripped strings, plus where it came from."""

    name: str
    file: str  # as shown in messages (e.g. "data/us/sites.csv")
    frame: pd.DataFrame


def display_path(path: Path) -> str:
    """Paths in messages: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text_table(file: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """One CSV or Parquet file as a frame of stripped strings ('' for blanks)."""
    shown = display_path(file)
    text = ""
    try:
        if file.suffix == ".parquet":
            frame = _read_parquet(file)
        else:
            text = file.read_text(encoding="utf-8-sig")
            wrong = _wrong_delimiter(text)
            if wrong:
                return None, [Problem(shown, None, None, wrong)]
            # header=None: a row longer than the header is a ParserError naming its line
            # (with header=0 pandas would silently take a longer first row's extra field
            # as an index and shift every column of the table)
            grid = pd.read_csv(io.StringIO(text), header=None, dtype=str,
                               keep_default_na=False, na_filter=False, skipinitialspace=True)
            # a row of separators and blank cells is a blank line, as a spreadsheet saved as
            # CSV writes one: fine after the last row, refused inside the table (below)
            grid = grid[(grid.apply(lambda col: col.str.strip()) != "").any(axis=1)]
            short = _row_problems(text, grid.shape[1], len(grid), shown)
            if short:
                return None, short
            twice = repeated_columns(grid.iloc[0].tolist(), shown)
            if twice:
                return None, twice
            frame = grid.iloc[1:].reset_index(drop=True)
            frame.columns = unique_names(grid.iloc[0].tolist())
    except pd.errors.EmptyDataError:
        return None, [Problem(shown, None, None, "file is empty (no header row)")]
    except pd.errors.ParserError as exc:
        title = _title_row(text, str(exc))
        if title:
            return None, [Problem(shown, 1, None, title)]
        return None, [Problem(shown, _parser_line(str(exc)), None,
                              _parser_words(str(exc)))]
    except UnicodeDecodeError as exc:
        return None, [Problem(shown, _bad_utf8_line(file), None,
                              f"file is not UTF-8 text: {exc.reason} (save it as UTF-8)")]
    except ImportError:
        return None, [Problem(shown, None, None, "reading Parquet needs the pyarrow package: "
                              "pip install pyarrow (or save the table as CSV)")]
    except csv.Error as exc:
        return None, [Problem(shown, None, None, f"malformed CSV: {exc}")]
    except (OSError, ValueError) as exc:
        return None, [Problem(shown, None, None, f"cannot read table: {exc}")]
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.map(lambda v: v.strip() if isinstance(v, str) else v)
    return frame, []


def _read_parquet(file: Path) -> pd.DataFrame:
    """A Parquet file as text cells; ImportError when no engine is installed."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None and \
            importlib.util.find_spec("fastparquet") is None:
        raise ImportError("no Parquet engine")
    frame = pd.read_parquet(file)
    frame = frame.astype(object).where(frame.notna(), "")
    return frame.map(lambda v: "" if v is None else str(v))


#: separators a spreadsheet may write instead of commas, and how to name them
_OTHER_DELIMITERS = {";": "';' (semicolon)", "\t": "tab", "|": "'|' (pipe)"}


def _wrong_delimiter(text: str) -> str | None:
    """A file separated by something other than commas, told once for the whole file (read
    as CSV it would be one column named after the whole header, and every column missing).
    Spreadsheets set to a decimal comma save 'CSV' with ';' between the cells."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if len(next(csv.reader([first]), [])) > 1:
        return None
    for sep, name in _OTHER_DELIMITERS.items():
        if len(next(csv.reader([first], delimiter=sep), [])) > 1:
            return (f"columns are separated by {name}, not by commas: save the table as "
                    "comma-separated CSV (Excel: 'CSV UTF-8 (Comma delimited)'; with a decimal "
                    "comma locale, set the list separator to ',' and the decimal separator to "
                    "'.'); list items inside a cell stay ';'-separated")
    return None


def _row_problems(text: str, width: int, rows: int, shown: str) -> list[Problem]:
    """Blank lines above the last row, and rows with fewer fields than the header, in one
    pass over the file, each named by its spreadsheet row (blank lines count, as in a
    spreadsheet; a quoted line break does not).

    pandas skips blank lines, so every row after one would be named a row short of where
    it stands: they are refused (blank lines after the last row move no row and are fine).
    pandas pads short rows silently, but a cell left out shifts every cell after it (a row
    of separators and blank cells only is a blank line); should pandas and this count of rows
    ever disagree, the file's line is named instead."""
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    records = [(reader.line_num, fields, any(f.strip() for f in fields)) for fields in reader]
    filled = [n for n, (_, _, full) in enumerate(records, start=1) if full]
    if not filled:
        return []
    first, last = filled[0], filled[-1]
    aligned = len(filled) == rows
    problems: list[Problem] = []
    for n, (line, fields, full) in enumerate(records, start=1):
        if not full and n < last:
            where = "above the header" if n < first else "inside the table"
            problems.append(Problem(shown, n, None, f"blank line {where}: remove it, so that "
                                    "every row keeps its number"))
        elif full and n > first and len(fields) < width:
            where = "this row" if aligned else f"line {line}"
            problems.append(Problem(
                shown, n if aligned else None, None,
                f"{where} has {len(fields)} of {width} fields (every row needs a cell for each "
                "column, blank or not: is a comma missing?)"))
    return problems


def repeated_columns(header: list[object], shown: str) -> list[Problem]:
    """A column named twice in the header: which of the two holds the values is anyone's
    guess, so neither is taken (pandas would keep the first and rename the second)."""
    first: dict[str, int] = {}
    problems = []
    for i, cell in enumerate(header, start=1):
        name = str(cell).strip()
        if not name:
            continue
        if name in first:
            problems.append(Problem(shown, 1, name, f"column '{name}' is in the header twice "
                                    f"(columns {first[name]} and {i}): keep one"))
        else:
            first[name] = i
    return problems


def unique_names(header: list[object]) -> list[str]:
    """Header cells as column names, as pandas names them: a blank header cell becomes
    'Unnamed: <position>', a repeated name gets '.1', '.2'."""
    names: list[str] = []
    for i, cell in enumerate(header):
        name = str(cell).strip() or f"Unnamed: {i}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
    return names


def _title_row(text: str, message: str) -> str | None:
    """A first row of one cell above a wider row (a title typed above the column names): the
    parser stops at row 2, which is not where the problem is."""
    wider = re.search(r"Expected 1 fields in line 2, saw (\d+)", message)
    if not wider:
        return None
    return (f"row 1 holds one cell and row 2 holds {wider.group(1)}: if row 1 is a title "
            "above the column names, delete it (row 1 must hold the column names)")


def _parser_words(message: str) -> str:
    """pandas' parser error in the words of a spreadsheet user: a row with more cells than
    the header (an unquoted comma inside a value), or a quote never closed."""
    more = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", message)
    if more:
        return (f"malformed CSV: {more.group(2)} cells on this row but {more.group(1)} in the "
                "header (a comma inside a value needs the value in double quotes)")
    if "EOF inside string" in message:
        return ("malformed CSV: a double quote opened on this row is never closed (the rest "
                "of the file would read as one value)")
    return f"malformed CSV: {message.strip()}"


def _parser_line(message: str) -> int | None:
    """Spreadsheet row of a pandas parser error ('line N' is 1-based, 'row N' 0-based)."""
    match = re.search(r"line (\d+)", message)
    if match:
        return int(match.group(1))
    match = re.search(r"starting at row (\d+)", message)
    return int(match.group(1)) + 1 if match else None


def _bad_utf8_line(file: Path) -> int | None:
    """1-based line of the first bytes that are not UTF-8."""
    try:
        data = file.read_bytes()
    except OSError:
        return None
    for n, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return n
    return None
