"""Excel workbooks as datasets: a fill-in template, export of a dataset, and reading back.

Analysts keep their data in spreadsheets, so a workbook with one sheet per input table is a
dataset like a folder of CSVs. The layout keeps spreadsheet rows equal to CSV rows (header =
row 1, first data row = row 2), so a message such as `data.xlsx[sites], row 5, column
'capacity_patients_per_year'` points at the cell to fix. Everything a user needs to know about a
column (unit, required, default, description) lives in a comment on its header cell and in the
README sheet, never in extra rows.

Cells are read as text exactly like CSV cells, and the export stores a value as an Excel number
only when reading it back gives the same text, so CSV -> workbook -> CSV is byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .problems import Problem
from .schema import TABLES, Column, near_table, schema_frame, stands_in_for_location
from .tables import RawTable, display_path, repeated_columns, unique_names

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
README_SHEET = "README"
VALIDATION_ROWS = 5000  # data validation covers at least rows 2..5000 (more for big tables)
MAX_EXACT_DIGITS = 15  # Excel keeps 15 significant digits; longer numbers stay text

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]*[1-9]")
_UNNAMED = re.compile(r"Unnamed: (\d+)")
_TEXT_KINDS = ("str", "list", "time", "bool")


def is_workbook(path: str | Path) -> bool:
    """A dataset path naming an Excel workbook (by suffix: it need not exist yet)."""
    return Path(path).suffix.lower() in WORKBOOK_SUFFIXES


def sheet_label(book: str | Path, sheet: str) -> str:
    """How a sheet is named in messages: `data.xlsx[sites]`, like a file in a folder."""
    return f"{display_path(Path(book))}[{sheet}]"


# ---------------------------------------------------------------- cells <-> text


def cell_text(value: object) -> str:
    """A cell as the text a user typed: numbers as Excel shows them (15 significant digits, no
    trailing '.0'), times as HH:MM, booleans as true/false, blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return f"{value.date().isoformat()} {_clock(value.time())}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _clock(value)
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
    return str(value).strip()


def _clock(value: dt.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _float_text(value: float) -> str:
    """Shortest positional text of a float rounded to Excel's 15 digits: Excel may store a
    typed 1.1 as 1.1000000000000001, which must read back as '1.1'."""
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{MAX_EXACT_DIGITS}g}")
    if rounded == 0:
        return "0"
    return np.format_float_positional(rounded, trim="-")


def number_cell(text: str) -> int | float | None:
    """The number to store for a cell's text, or None to store the text itself: only when
    `cell_text` of the stored number gives the text back (so '40.0', '007', '1e5' stay text)
    and Excel keeps every digit."""
    if _INTEGER.fullmatch(text):
        if len(text.lstrip("-")) > MAX_EXACT_DIGITS or text == "-0":
            return None
        return int(text)
    if _DECIMAL.fullmatch(text) and _float_text(float(text)) == text:
        return float(text)
    return None


# ---------------------------------------------------------------- reading


def read_workbook(path: str | Path) -> tuple[dict[str, RawTable], list[Problem]]:
    """Every known table of a workbook as text, like `io.read_tables` reads a folder.

    Sheets are matched to tables by name (case and surrounding spaces ignored); other sheets
    (README, notes) are ignored. A sheet of an optional table that has no data rows is taken
    as absent: it is an untouched template sheet, not a table the user meant to leave empty.
    """
    from openpyxl import load_workbook

    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        return {}, [Problem(shown, None, None, "workbook not found")]
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open is the user's file, not a bug
        return {}, [Problem(shown, None, None,
                            f"cannot read workbook: {_reason(exc)} (expected an Excel .xlsx "
                            "file)")]
    tables: dict[str, RawTable] = {}
    problems: list[Problem] = []
    try:
        by_key = {name.strip().lower(): name for name in book.sheetnames}
        sheet_of: dict[str, str] = {}  # table -> the sheet that holds it
        for name, spec in TABLES.items():
            sheet = name if name in book.sheetnames else by_key.get(name)
            if sheet is not None:
                sheet_of[name] = sheet
            if sheet is None:
                if spec.required:
                    problems.append(Problem(shown, None, None,
                                            f"required table '{name}' is missing (no sheet "
                                            f"named '{name}')"))
                continue
            label = sheet_label(path, sheet)
            frame, probs = _read_sheet(book[sheet], label)
            if frame is None and not spec.required and [p.message for p in probs] == [EMPTY]:
                continue  # an optional sheet cleared whole is no table, as the README says
            problems += probs
            if frame is None or (len(frame) == 0 and not spec.required
                                 and not spec.allow_empty):
                continue
            tables[name] = RawTable(name, label, frame)
        problems += _unknown_sheets(path, [n for n in book.sheetnames
                                           if n not in sheet_of.values()])
    finally:
        book.close()
    return tables, (problems + _merged_cells(path, tables, sheet_of)
                    + _uncached_formulas(path, tables, sheet_of))


def _merged_cells(path: Path, tables: dict[str, RawTable],
                  sheet_of: dict[str, str]) -> list[Problem]:
    """An error per merged range in a table's sheet. Excel shows a merged value across its
    rows, but the file holds it in the first cell only: the others read blank, and an
    optional column would silently take its default there (onboarding 120 days merged over
    three sites gave two of them the 90-day default). Merges are rare, so the sheets are
    opened in full (the read-only reader does not see them) only when the file has any."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        with zipfile.ZipFile(path) as archive:
            if not any(b"<mergeCell " in archive.read(n) for n in archive.namelist()
                       if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                return []
        book = load_workbook(path, data_only=True)
    except Exception:  # noqa: BLE001 - the first read has already said what is wrong
        return []
    problems = []
    for name, table in tables.items():
        columns = list(table.frame.columns)
        rows = len(table.frame) + 1
        for merged in sorted(book[sheet_of[name]].merged_cells.ranges, key=str):
            if merged.min_col > len(columns) or merged.min_row > rows:
                continue  # a note beside or below the table: the user's own
            first = f"{get_column_letter(merged.min_col)}{merged.min_row}"
            column = columns[merged.min_col - 1]
            problems.append(Problem(
                table.file, merged.min_row, column,
                f"cells {merged.coord} are merged: the file holds the value in {first} only "
                "and the other cells read blank; unmerge them and fill in each cell"))
    book.close()
    return problems


def _uncached_formulas(path: Path, tables: dict[str, RawTable],
                       sheet_of: dict[str, str]) -> list[Problem]:
    """A formula cell is read by its value as Excel last saved it. A workbook written by a
    program (pandas, openpyxl, a script) and never opened in Excel has no saved value, so
    the cell reads blank and an optional column would silently take its default: each such
    cell is an error. Only blank cells are looked at again, in a second read that keeps the
    formulas."""
    from openpyxl import load_workbook

    blanks = {name: [(i, j) for j, col in enumerate(t.frame.columns)
                     for i in (t.frame.index[t.frame[col] == ""]).tolist()]
              for name, t in tables.items()}
    if not any(blanks.values()):
        return []
    book = load_workbook(path, read_only=True, data_only=False)
    saved = load_workbook(path, read_only=True, data_only=True)
    problems = []
    try:
        for name, cells in blanks.items():
            if not cells:
                continue
            sheet, values = book[sheet_of[name]], saved[sheet_of[name]]
            for one in (sheet, values):
                if hasattr(one, "reset_dimensions"):
                    one.reset_dimensions()
            wanted = set(cells)
            columns = list(tables[name].frame.columns)
            for i, (row, cached) in enumerate(zip(sheet.iter_rows(min_row=2, values_only=True),
                                                  values.iter_rows(min_row=2), strict=False)):
                for j, value in enumerate(row[:len(columns)]):
                    # a formula whose saved result is the empty string (=IF(x,"",y), saved
                    # by Excel as a text result) is a blank the user meant, not a missing value
                    if j < len(cached) and getattr(cached[j], "data_type", "") in ("s", "str"):
                        continue
                    if (i, j) in wanted and isinstance(value, str) and value.startswith("="):
                        problems.append(Problem(
                            tables[name].file, i + 2, columns[j],
                            "the cell holds a formula with no saved value (the workbook was "
                            "written by a program and never recalculated): open and save it "
                            "in Excel or LibreOffice, or type the value", value))
    finally:
        book.close()
        saved.close()
    return problems


def _unknown_sheets(path: Path, unread: list[str]) -> list[Problem]:
    """A warning for each sheet not read whose name is near a table's, as for a file of a
    dataset folder (`io._unknown_tables`): a `partner` or `kol` sheet would otherwise be
    left out without a word and the case solved without that table. Sheets of other names
    (README, notes) are the user's business."""
    problems = []
    for sheet in unread:
        near = near_table(sheet)
        if near:
            problems.append(Problem(sheet_label(path, sheet), None, None,
                                    f"not a table netopt reads: ignored (did you mean a sheet "
                                    f"named {near}?)", severity="warning"))
    return problems


def _reason(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "not a zip archive (is it an old .xls or a renamed file?)"
    return str(exc) or type(exc).__name__


#: a sheet with nothing in it: an error for a required table only
EMPTY = "sheet is empty (no header row)"


def _read_sheet(sheet: object, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """One worksheet as a frame of stripped strings. Interior blank rows are kept so row
    numbers stay spreadsheet rows; trailing blank rows and columns are dropped."""
    if not hasattr(sheet, "iter_rows"):
        return None, [Problem(label, None, None, "sheet is a chart, not a table")]
    try:
        if hasattr(sheet, "reset_dimensions"):
            # a workbook's stored dimensions may be stale; read every row that is there
            sheet.reset_dimensions()
        rows = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    except Exception as exc:  # noqa: BLE001 - damaged sheet XML is bad input
        return None, [Problem(label, None, None, f"cannot read sheet: {_reason(exc)}")]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return None, [Problem(label, None, None, EMPTY)]
    if not any(rows[0]):
        return None, [Problem(label, 1, None, "row 1 must hold the column names; it is blank")]
    width = max(max((i + 1 for i, v in enumerate(row) if v), default=0) for row in rows)
    grid = [row[:width] + [""] * (width - len(row)) for row in rows]
    twice = repeated_columns(grid[0], label)
    if twice:
        return None, twice
    # the same string dtype the CSV reader gives, so both kinds of dataset type alike
    frame = pd.DataFrame(grid[1:], columns=unique_names(grid[0]), dtype=object).astype(str)
    blank = [Problem(label, i + 1, None, "blank row inside the table: delete the row (a sheet's "
                     "rows are the table's rows)")
             for i, row in enumerate(grid) if i > 0 and not any(row)]
    return frame.reset_index(drop=True), blank


# ---------------------------------------------------------------- writing workbooks


def write_template(out: str | Path, tables: dict[str, RawTable] | None = None) -> Path:
    """A fill-in workbook: README plus one headed sheet per input table (all of them, in
    schema order), pre-filled with `tables` where given."""
    return _write_book(Path(out), tables or {}, every_table=True)


def export_workbook(tables: dict[str, RawTable], out: str | Path) -> Path:
    """A dataset as a workbook: README plus one sheet per table the dataset has, so that
    `workbook_to_csv` gives back the same files."""
    return _write_book(Path(out), tables, every_table=False)


def _write_book(out: Path, tables: dict[str, RawTable], every_table: bool) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    readme = book.active
    readme.title = README_SHEET
    book.properties.creator = "netopt"
    _write_readme(readme)
    columns_of: dict[str, list[str]] = {}
    for name, spec in TABLES.items():
        table = tables.get(name)
        if table is None and not every_table:
            continue
        frame = table.frame if table is not None else pd.DataFrame(columns=spec.names)
        sheet = book.create_sheet(name)
        columns_of[name] = _write_table(sheet, name, frame, table.file if table else name)
    for name, columns in columns_of.items():
        _add_validations(book[name], name, columns, columns_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_reproducibly(book, out)
    return out


_FIXED_STAMP = "2000-01-01T00:00:00Z"
_STAMP_XML = re.compile(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _save_reproducibly(book: object, out: Path) -> None:
    """Save with fixed zip and document timestamps, so the same dataset always gives the same
    bytes (openpyxl stamps both with the current time)."""
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = _STAMP_XML.sub(rf"\g<1>{_FIXED_STAMP}\g<2>", data.decode()).encode()
            dst.writestr(zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0)),
                         data, compress_type=zipfile.ZIP_DEFLATED)


def _header_name(name: str, position: int) -> str:
    """A column name as its header cell: 'Unnamed: 3' at position 3 was a blank header."""
    match = _UNNAMED.fullmatch(name)
    return "" if match and int(match.group(1)) == position else name


def _write_table(sheet: object, table: str, frame: pd.DataFrame, file: str) -> list[str]:
    """Header (styled, with comments) and data cells; returns the column names in order."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError

    spec = TABLES[table]
    columns = [str(c) for c in frame.columns]
    kinds = [spec.column(c).kind if c in spec.names else None for c in columns]
    required_fill = PatternFill("solid", fgColor="FFD9E1F2")
    optional_fill = PatternFill("solid", fgColor="FFEDEDED")
    for j, name in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=j, value=_header_name(name, j - 1))
        cell.data_type = "s"
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="top")
        if name in spec.names:
            col = spec.column(name)
            needed = col.required and not stands_in_for_location(table, name)
            cell.fill = required_fill if needed else optional_fill
            text = _column_note(col, table)
        else:
            text = f"Not a column of '{table}': netopt ignores it."
        lines = sum(1 + len(line) // 45 for line in text.splitlines())
        cell.comment = Comment(text, "netopt", height=max(60, 16 * lines + 10), width=300)
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, (text, kind) in enumerate(zip(values, kinds, strict=True), start=1):
            text = "" if text is None else str(text)
            if text == "":
                continue
            number = None if kind in _TEXT_KINDS else number_cell(text)
            try:
                cell = sheet.cell(row=i, column=j, value=text if number is None else number)
            except IllegalCharacterError:
                raise ExcelWriteError(Problem(
                    file, i, columns[j - 1],
                    "character not allowed in an Excel cell (control character)", text),
                ) from None
            if number is None:
                cell.data_type = "s"  # text such as '=x' must not become a formula
    sample = frame.head(300)
    for j, name in enumerate(columns, start=1):
        longest = max((len(str(v)) for v in sample.iloc[:, j - 1]), default=0)
        width = min(max(len(name) + 3, longest + 2, 8), 45)
        dimension = sheet.column_dimensions[get_column_letter(j)]
        dimension.width = width
        if kinds[j - 1] in _TEXT_KINDS:
            # typed ids keep leading zeros and '17:00' stays text instead of becoming a time
            dimension.number_format = "@"
    sheet.freeze_panes = "A2"
    return columns


def _column_note(col: Column, table: str) -> str:
    """Header comment: what a user needs to fill the column in."""
    lines = [col.doc, f"Type: {col.dtype_label}"]
    if col.unit:
        lines.append(f"Unit: {col.unit}")
    if stands_in_for_location(table, col.name):
        lines.append("Required: yes, unless the row's location is given (then leave it "
                     "blank: it is taken from the place)")
    elif col.required:
        lines.append("Required: yes")
    else:
        default = "blank" if col.default in (None, "") else str(col.default)
        lines.append(f"Required: no (default: {default})")
    if col.allowed:
        many = " (several allowed, ';'-separated)" if col.kind == "list" else ""
        lines.append(f"Allowed: {', '.join(col.allowed)}{many}")
    if col.bounds:
        lines.append(f"Range: {', '.join(col.bounds)}")
    if col.ref is not None:
        lines.append(f"Must be an id of {col.ref[0]}.{col.ref[1]}")
    return "\n".join(lines)


def _add_validations(sheet: object, table: str, columns: list[str],
                     columns_of: dict[str, list[str]]) -> None:
    """Drop-downs for allowed values and references, range checks for numbers. Lists of
    several values (temperature_classes) get a drop-down that still accepts 'a;b'."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    spec = TABLES[table]
    last = max(VALIDATION_ROWS, sheet.max_row + 1000)
    for j, name in enumerate(columns, start=1):
        if name not in spec.names:
            continue
        col = spec.column(name)
        letter = get_column_letter(j)
        rule = None
        choices = col.allowed or (("true", "false") if col.kind == "bool" else None)
        if choices:
            rule = DataValidation(type="list", formula1=f'"{",".join(choices)}"',
                                  allow_blank=True, showErrorMessage=col.kind != "list",
                                  error=f"Expected one of: {', '.join(choices)}",
                                  errorTitle=name)
        elif col.ref is not None and col.kind == "str" and col.ref[0] in columns_of \
                and col.ref[1] in columns_of[col.ref[0]]:
            ref_letter = get_column_letter(columns_of[col.ref[0]].index(col.ref[1]) + 1)
            ref_last = max(VALIDATION_ROWS, sheet.parent[col.ref[0]].max_row + 1000)
            rule = DataValidation(type="list",
                                  formula1=f"={col.ref[0]}!${ref_letter}$2:${ref_letter}$"
                                           f"{ref_last}",
                                  allow_blank=True, showErrorMessage=True,
                                  errorStyle="warning",
                                  error=f"Not an id of {col.ref[0]}.{col.ref[1]}",
                                  errorTitle=name)
        elif col.kind in ("float", "int") and (col.min is not None or col.max is not None):
            rule = _range_rule(col, letter)
        if rule is not None:
            rule.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(rule)


def _range_rule(col: Column, letter: str) -> object:
    """A number-range check on a column. A strict lower bound with an upper one (speed: > 0
    and <= 2,000) has no Excel operator, so it is a formula on the column's first cell."""
    from openpyxl.worksheet.datavalidation import DataValidation

    kind = "whole" if col.kind == "int" else "decimal"
    low = _formula_number(col.min) if col.min is not None else None
    high = _formula_number(col.max) if col.max is not None else None
    if col.min_exclusive and high is not None:
        cell = f"{letter}2"
        kind, operator = "custom", None
        low, high = f"AND(ISNUMBER({cell}),{cell}>{low},{cell}<={high})", None
    elif col.min_exclusive:
        operator = "greaterThan"
    elif low is not None and high is not None:
        operator = "between"
    elif low is not None:
        operator = "greaterThanOrEqual"
    else:
        operator, low = "lessThanOrEqual", high
        high = None
    number = "whole number" if col.kind == "int" else "number"
    return DataValidation(type=kind, operator=operator, formula1=low, formula2=high,
                          allow_blank=True, showErrorMessage=True, errorTitle=col.name,
                          error=f"Expected a {number} {' and '.join(col.bounds)}")


def _formula_number(value: float) -> str:
    """A bound as Excel reads it in a formula: 10000000, not 1e+07."""
    return np.format_float_positional(value, trim="-")


def _write_readme(sheet: object) -> None:
    """The schema as a sheet: generated from `schema_frame`, so it cannot drift."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    intro = [
        "netopt dataset workbook: one sheet per input table (sheet name = table name).",
        "Row 1 holds the column names; data starts in row 2, so row numbers in netopt "
        "messages are the rows you see here.",
        "Hover a column name for its unit, default and meaning. Sheets other than the tables "
        "(like this one) are ignored. Optional tables may be left empty.",
    ]
    for i, line in enumerate(intro, start=1):
        sheet.cell(row=i, column=1, value=line).font = Font(italic=i > 1, bold=i == 1)
    frame = schema_frame()
    top = len(intro) + 2
    for j, name in enumerate(frame.columns, start=1):
        sheet.cell(row=top, column=j, value=name).font = Font(bold=True)
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=top + 1):
        for j, value in enumerate(values, start=1):
            cell = sheet.cell(row=i, column=j, value=str(value))
            cell.data_type = "s"
            cell.alignment = Alignment(vertical="top", wrap_text=j == len(values))
    widths = {"table": 18, "column": 32, "dtype": 22, "unit": 18, "required": 9,
              "default": 12, "allowed": 48, "description": 80}
    for j, name in enumerate(frame.columns, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = widths.get(name, 20)
    sheet.freeze_panes = f"A{top + 1}"
    sheet.auto_filter.ref = f"A{top}:{get_column_letter(len(frame.columns))}{top + len(frame)}"


class ExcelWriteError(Exception):
    """A value that cannot go into a workbook; carries the Problem naming its cell."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


# ---------------------------------------------------------------- workbook -> CSV


def write_csv_tables(tables: dict[str, RawTable], out_dir: str | Path) -> list[Path]:
    """Tables as `<name>.csv` (UTF-8, '\\n' line ends, minimal quoting: how netopt writes
    datasets), in schema order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in TABLES:
        if name not in tables:
            continue
        frame = tables[name].frame
        path = out_dir / f"{name}.csv"
        header = [_header_name(str(c), j) for j, c in enumerate(frame.columns)]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(_text_rows(frame.itertuples(index=False, name=None)))
        paths.append(path)
    return paths


def _text_rows(rows: Iterable[tuple]) -> Iterable[list[str]]:
    for row in rows:
        yield ["" if v is None else str(v) for v in row]


def stale_tables(out_dir: str | Path, written: list[Path]) -> list[Path]:
    """Table files in `out_dir` that a conversion did not write: they would still be read as
    part of the dataset, so the user should know."""
    out_dir = Path(out_dir)
    keep = {p.resolve() for p in written}
    found = []
    for name in TABLES:
        for suffix in (".csv", ".parquet"):
            path = out_dir / f"{name}{suffix}"
            if path.exists() and path.resolve() not in keep:
                found.append(path)
    return found


__all__ = [
    "ExcelWriteError", "cell_text", "export_workbook", "is_workbook", "number_cell",
    "read_workbook", "sheet_label", "stale_tables", "write_csv_tables",
    "write_template",
]
