"""Excel workbook (`network.xlsx`): a summary sheet, then every result table on its own sheet.

Planners re-cut results in Excel, so each sheet is the CSV table as is (same rows, same
values, full precision) as an Excel table (filter buttons, banded rows) with headers in words
and units, a number format on every numeric column, the product's name beside its id, and
the header row and first column frozen. The summary sheet carries the cost chart.
Text cells are always written as text: a site named "=HYPERLINK(...)" stays a name, not a
formula.

A new workbook is written with XlsxWriter, about 2.5 times faster than openpyxl on the
national result's 260,000 cells (bench/RESULTS.md); openpyxl edits an existing one (a sheet
added after the solve) and writes the comparison workbook. Both share one layout per sheet
(`_layout`), so a sheet reads the same whoever wrote it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..analysis.scenarios import objective_basis
from ..results.tables import (
    OPTIONAL_TABLES,
    TABLE_NAMES,
    Results,
)
from .common import (
    NETWORK_COST_LABEL,
    headline_costs,
    kpi_values,
    margin_lines,
    network_cost_lines,
    product_names,
    table,
    term_label,
    text,
)

log = logging.getLogger(__name__)

USD = '"$"#,##0'
USD_CENTS = '"$"#,##0.00'
PCT = "0.0%"
PCT_POINTS = '0.00" %"'
INT = "#,##0"
DEC1 = "#,##0.0"
DEC2 = "#,##0.00"
COORD = "0.00000"

NETWORK_COST_ROW = f"{NETWORK_COST_LABEL} (cash, USD/yr)"
HEADER_FILL = PatternFill("solid", fgColor="0B2F5B")
HEADER_FONT = Font(bold=True, color="FFFFFF")

# column -> (unit, number format); the first matching rule wins
_RULES: list[tuple[str, str, str]] = [
    (r"^(latitude|longitude)$", "deg", COORD),
    (r"^utilisation$", "share", PCT),
    (r"usd_per_year$", "USD/yr", USD),
    (r"usd_per_dose$", "USD/dose", USD),
    (r"usd_per_patient$", "USD/patient", USD),
    (r"(usd_per_shipment|^cost|_leg_cost_usd)$", "USD/shipment", USD_CENTS),
    (r"^population$", "people", INT),
    (r"^(patients|capacity_patients)|patients_per_year$", "patients/yr", DEC2),
    (r"^(stock_level|avg_inventory)_doses$", "doses", DEC1),
    (r"_(writeoff|expired)_doses$", "doses/yr", DEC1),
    (r"doses_per_patient$", "doses/patient", DEC1),
    (r"^doses_per_shipment", "doses/shipment", DEC1),
    (r"^shipments_per_patient_year$", "shipments/patient/yr", DEC1),
    (r"doses_per_year$", "doses/yr", DEC1),
    (r"shipments_per_year$", "shipments/yr", DEC1),
    (r"^chair_hours", "chair-h/yr", INT),
    (r"(_km|^km)$", "km", DEC1),
    (r"_hours$", "h", DEC1),
    (r"_days$", "days", DEC1),
    (r"^kol_count$", "KOLs", INT),
    (r"^fill_rate$", "share", PCT),
    (r"^(working_capital|avg_inventory_value)_.*usd$", "USD", USD),
    (r"^(revenue|cash_flow|discounted_cash_flow|penalty)_usd$", "USD/period", USD),
    (r"^cost_usd$", "USD", USD),
    (r"_usd$", "USD/yr", USD),
]


def match_rules(rules: list[tuple[str, str, str]], column: str) -> tuple[str, str] | None:
    """(unit, number format) of the first rule whose pattern matches the column name."""
    for pattern, unit, fmt in rules:
        if re.search(pattern, column):
            return unit, fmt
    return None


def column_spec(column: str) -> tuple[str, str | None]:
    """(unit, number format) for a result column; ('', None) when it has no unit."""
    return match_rules(_RULES, column) or ("", None)


#: unit-bearing suffixes dropped from the words of a header (the unit follows in brackets)
_SUFFIXES = re.compile(r"_(usd_per_year|usd_per_dose|usd_per_patient|usd_per_shipment|usd|"
                       r"per_year|doses|km|hours|days|pct|deg)$")
_WORDS = {"id": "id", "kpi": "KPI", "kol": "KOL", "kols": "KOLs", "usd": "USD", "pct": "%",
          "avg": "average", "wc": "working capital", "cogs": "cost of goods"}
#: count columns (whole numbers whatever their dtype)
_COUNTS = re.compile(r"^(rank|sites_.*|hubs_.*|partners_.*|.*_count|n_.*|sites_using)$")


def header(column: str) -> str:
    """Sheet header of a column in words, its unit in brackets: 'Travel (km)' for travel_km,
    'Annual fixed cost (USD/yr)' for annual_fixed_cost_usd."""
    unit, _ = column_spec(column)
    if column == "usd_per_year":
        return f"Cost ({unit})"
    words = [_WORDS.get(w, w) for w in _SUFFIXES.sub("", column).split("_") if w]
    text_ = " ".join(words) or column
    text_ = text_[:1].upper() + text_[1:]
    return f"{text_} ({unit})" if unit else text_


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, bool | int | float):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _put(ws: Worksheet, row: int, col: int, value: Any, fmt: str | None = None) -> None:
    cell = ws.cell(row=row, column=col, value=_cell_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if fmt and isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
        cell.number_format = fmt


def _style_header(ws: Worksheet, row: int, ncols: int) -> None:
    for j in range(1, ncols + 1):
        c = ws.cell(row=row, column=j)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(vertical="center")


def _column_widths(frame: pd.DataFrame, headers: list[str]) -> list[float]:
    """Each column's width in characters: its header or its longest text in the first 200
    rows, within 8-60."""
    out = []
    for col, head in zip(frame.columns, headers, strict=True):
        sample = frame[col].head(200).map(lambda v: len(text(v)) if isinstance(v, str)
                                          else 12)
        width = max([len(head) + 2, *(sample.tolist() or [8])])
        out.append(min(max(width, 8), 60))
    return out


def _widths(ws: Worksheet, frame: pd.DataFrame, headers: list[str]) -> None:
    _set_widths(ws, _column_widths(frame, headers))


def _set_widths(ws: Worksheet, widths: list[float]) -> None:
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def _unused(base: str, seen: set[str], variant: Callable[[int], str]) -> str:
    """`base`, or else the first of variant(2), variant(3)... not in `seen` (lower case:
    Excel compares sheet, table and header names ignoring case); the name is added to it."""
    name, k = base, 2
    while name.lower() in seen:
        name, k = variant(k), k + 1
    seen.add(name.lower())
    return name


def _unique(headers: list[str], columns: list[str]) -> list[str]:
    """Excel tables need headers distinct ignoring case: a repeated one gets its column's
    code, and a number where that is not enough ('a' and 'A' both become 'a [a]')."""
    count: dict[str, int] = {}
    for h in headers:
        count[h.lower()] = count.get(h.lower(), 0) + 1
    seen: set[str] = set()
    out = []
    for h, c in zip(headers, columns, strict=True):
        base = h if count[h.lower()] == 1 else f"{h} [{c}]"
        out.append(_unused(base, seen, lambda k, base=base: f"{base} ({k})"))
    return out


SHEET_BAD = re.compile(r"[\[\]:*?/\\']")


def sheet_names(names: Iterable[str], taken: Iterable[str] = (),
                blank: str = "scenario") -> list[str]:
    """Excel-safe, unique (case-insensitively) sheet names of at most 31 characters; `blank`
    for a name with nothing left."""
    seen = {t.lower() for t in taken}
    out = []
    for raw in names:
        base = (SHEET_BAD.sub("_", text(raw)).strip() or blank)[:31]
        out.append(_unused(base, seen, lambda k, base=base: base[:31 - len(f" ({k})")]
                           + f" ({k})"))
    return out


def _formats(frame: pd.DataFrame) -> list[str | None]:
    """A number format for every numeric column: its unit's, integers for counts, else two
    decimals."""
    out: list[str | None] = []
    for c in frame.columns:
        fmt = column_spec(str(c))[1]
        if _COUNTS.match(str(c)) or pd.api.types.is_integer_dtype(frame[c]):
            fmt = INT if fmt in (None, DEC1, DEC2) else fmt
        elif fmt is None and pd.api.types.is_float_dtype(frame[c]):
            fmt = DEC2
        out.append(fmt)
    return out


def with_product_names(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The product's name beside its id (`product_name`), where the sheet has only the id."""
    if "product_id" not in frame.columns or "product_name" in frame.columns or not names:
        return frame
    out = frame.copy()
    at = list(out.columns).index("product_id") + 1
    out.insert(at, "product_name", [names.get(text(p), "") for p in out["product_id"]])
    return out


@dataclass(frozen=True)
class _Layout:
    """What a table sheet shows, whichever library writes it: headers in words, the cells
    with their number formats, the column widths and the Excel table's name."""

    frame: pd.DataFrame
    headers: list[str]
    formats: list[str | None]
    #: the kpis sheet formats its value column row by row, by the row's unit
    value_column: int
    units: list[str]
    widths: list[float]
    table_name: str

    def cells(self) -> Iterator[tuple[int, int, Any, str | None]]:
        """(row, column, value, number format) of every body cell, 1-based as in Excel."""
        for i, values in enumerate(self.frame.itertuples(index=False, name=None), start=2):
            for j, v in enumerate(values, start=1):
                fmt = unit_format(self.units[i - 2]) if j - 1 == self.value_column \
                    else self.formats[j - 1]
                yield i, j, _cell_value(v), fmt

    @property
    def last_row(self) -> int:
        """The table's last row (1-based): an empty table keeps one blank row."""
        return max(len(self.frame) + 1, 2)


#: a launch timeline's tables count patients and money within each period, not a year
_PER_PERIOD = {"(patients/yr)": "(patients/period)", "Cost (USD)": "Cost (USD/period)"}


def _layout(name: str, frame: pd.DataFrame) -> _Layout:
    # headers as text a table accepts: no control characters, distinct ignoring case
    words = [ILLEGAL_CHARACTERS_RE.sub("", header(str(c))) for c in frame.columns]
    if name.startswith("timeline_"):
        for yearly, per_period in _PER_PERIOD.items():
            words = [w.replace(yearly, per_period) for w in words]
    headers = _unique(words, [str(c) for c in frame.columns])
    if name == "kpis" and {"value", "unit"} <= set(frame.columns):
        units = frame["unit"].map(text).tolist()
        vcol = list(frame.columns).index("value")
    else:
        units, vcol = [], -1
    return _Layout(frame, headers, _formats(frame), vcol, units,
                   _column_widths(frame, headers), "t_" + re.sub(r"[^A-Za-z0-9_]", "_", name))


def _free_name(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... when a table of the workbook already has it;
    `taken` holds the names in lower case and receives this one."""
    return _unused(base, taken, lambda k: f"{base}_{k}")


def _table_sheet(wb: Workbook, name: str, frame: pd.DataFrame) -> None:
    """One result table as an Excel table on a sheet of its own (openpyxl)."""
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ws = wb.create_sheet(name[:31])
    layout = _layout(name, frame)
    for j, h in enumerate(layout.headers, start=1):
        _put(ws, 1, j, h)
    _style_header(ws, 1, len(layout.headers))
    for i, j, v, fmt in layout.cells():
        _put(ws, i, j, v, fmt)
    ws.freeze_panes = "B2"
    if layout.headers:
        taken = {t.lower() for sheet in wb.worksheets for t in sheet.tables}
        table_ = Table(displayName=_free_name(layout.table_name, taken),
                       ref=f"A1:{get_column_letter(len(layout.headers))}{layout.last_row}")
        table_.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True,
                                               showColumnStripes=False)
        ws.add_table(table_)
    _set_widths(ws, layout.widths)


def unit_format(unit: str) -> str:
    """Number format of a KPI by its unit: money, percent, whole counts, else decimals."""
    if unit.startswith("USD"):
        return USD
    if unit == "%":
        return PCT_POINTS
    if unit in ("sites", "hubs", "partners", "KOLs", "count"):
        return INT
    return DEC2


class _Book:
    """A new workbook written by XlsxWriter, with its cell formats made once each. Rows and
    columns are 1-based here, as in Excel and openpyxl."""

    def __init__(self, path: Path) -> None:
        # text stays text: no formulas, numbers or links read into a string
        self.wb = xlsxwriter.Workbook(str(path), {
            "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self._formats: dict[tuple, Any] = {}
        self.tables: set[str] = set()  # table names so far, lower case

    def format(self, number: str | None = None, style: str | None = None) -> Any:
        """The format of a number format and a style: None, 'bold', 'title' or 'header'."""
        key = (number, style)
        if key not in self._formats:
            spec: dict[str, Any] = {"num_format": number} if number else {}
            if style == "bold":
                spec["bold"] = True
            elif style == "title":
                spec.update(bold=True, font_size=14)
            elif style == "header":
                spec.update(bold=True, font_color="#FFFFFF", bg_color="#0B2F5B",
                            valign="vcenter")
            self._formats[key] = self.wb.add_format(spec) if spec else None
        return self._formats[key]

    def put(self, ws: Any, row: int, col: int, value: Any, fmt: str | None = None,
            style: str | None = None) -> None:
        """One cell as `_put` writes it with openpyxl: text as text, a number format on
        numbers only, nothing for a missing value."""
        self.write(ws, row, col, _cell_value(value), fmt, style)

    def write(self, ws: Any, row: int, col: int, value: Any, fmt: str | None = None,
              style: str | None = None) -> None:
        """`put` for a value `_cell_value` has already made a cell's (an empty text is an
        empty cell, as openpyxl leaves it)."""
        if value is None or value == "":
            if style:
                ws.write_blank(row - 1, col - 1, None, self.format(None, style))
        elif isinstance(value, str):
            ws.write_string(row - 1, col - 1, value, self.format(None, style))
        elif isinstance(value, bool):
            ws.write_boolean(row - 1, col - 1, value, self.format(None, style))
        else:
            ws.write_number(row - 1, col - 1, value, self.format(fmt, style))

    def header(self, ws: Any, row: int, labels: tuple[str, ...]) -> None:
        for j, label in enumerate(labels, start=1):
            self.put(ws, row, j, label, style="header")

    def table_sheet(self, name: str, frame: pd.DataFrame, sheet: str | None = None) -> None:
        """One result table as an Excel table on a sheet of its own (`sheet`, default the
        table's name): filter buttons and banded rows, header row and first column frozen."""
        ws = self.wb.add_worksheet(sheet or name[:31])
        layout = _layout(name, frame)
        for i, j, v, fmt in layout.cells():
            self.write(ws, i, j, v, fmt)
        ws.freeze_panes("B2")
        if layout.headers:
            table_name = _free_name(layout.table_name, self.tables)
            header_format = self.format(None, "header")
            failed = ws.add_table(0, 0, layout.last_row - 1, len(layout.headers) - 1, {
                "name": table_name, "style": "Table Style Medium 2",
                "columns": [{"header": h, "header_format": header_format}
                            for h in layout.headers]})
            if failed:  # XlsxWriter only warns, and the sheet would have no header row
                raise ValueError(f"network.xlsx: sheet {name!r} cannot be an Excel table "
                                 f"({len(frame):,} rows, {len(layout.headers)} columns)")
        for j, width in enumerate(layout.widths):
            ws.set_column(j, j, width)


def _summary_sheet(book: _Book, result: Results) -> None:
    ws = book.wb.add_worksheet("summary")
    s = result.summary
    settings = s.get("settings") or {}
    book.put(ws, 1, 1, "Network design", style="title")
    book.put(ws, 1, 2, s.get("model") or settings.get("name") or "")
    cost = headline_costs(result)
    basis = objective_basis(s)
    per = "USD" if s.get("timeline") else "USD/yr"
    plan = s.get("timeline") if isinstance(s.get("timeline"), dict) else {}
    rows: list[tuple[str, Any, str, str | None]] = [
        ("Description", settings.get("description", ""), "", None),
        # a launch plan's tables and KPIs are its last period's, at a year's rate
        *([("Figures shown", "the launch plan's last period"
            + (f", {plan['last_period']}" if plan.get("last_period") else "")
            + ": network, costs and KPIs at a year's rate; the objective is the plan's "
            "discounted total", "", None)] if plan else []),
        (NETWORK_COST_LABEL + " (cash)", cost["network_cost_usd"], "USD/yr", USD),
        ("Unserved penalty (not cash)", cost["unserved_penalty_usd"], "USD/yr", USD),
        ("Objective", settings.get("objective", ""), "", None),
        ("Solve status", s.get("status", ""), "", None),
        # labelled by what it measures: a margin is cost less revenue, and a launch plan's
        # is its discounted horizon total, not a year's
        (f"Objective value ({basis})", s.get("objective"), per, USD),
        ("Best bound", s.get("bound"), per, USD),
        ("Gap", s.get("gap"), "% (of the objective)", "0.00%"),
        ("Solve time", s.get("solve_seconds"), "s", DEC1),
    ]
    r = 2
    for label, value, unit, fmt in rows:
        book.put(ws, r, 1, label)
        book.put(ws, r, 2, value if not isinstance(value, dict | list) else str(value), fmt)
        book.put(ws, r, 3, unit)
        r += 1

    r += 1
    book.header(ws, r, ("KPI", "value", "unit"))
    kpis = table(result, "kpis")
    units = dict(zip(kpis.get("kpi", []), kpis.get("unit", []), strict=True))
    for name, value in kpi_values(result).items():
        if name not in units:
            continue
        r += 1
        u = text(units.get(name))
        book.put(ws, r, 1, name)
        book.put(ws, r, 2, value, unit_format(u))
        book.put(ws, r, 3, u)

    r = _cost_lines(book, ws, result, r + 2)
    r += 2
    book.header(ws, r, ("Margin line (unserved penalty excluded)", "USD/yr"))
    lines = margin_lines(result)
    for k, (line, usd) in enumerate(lines, start=1):
        style = "bold" if k == len(lines) else None  # the margin itself
        book.put(ws, r + k, 1, term_label(line), style=style)  # as details.html names it
        book.put(ws, r + k, 2, usd, USD, style=style)
    ws.freeze_panes("A2")
    for col, width in enumerate((42, 22, 16)):
        ws.set_column(col, col, width)


def _cost_lines(book: _Book, ws: Any, result: Results, r: int) -> int:
    """The network cost by line from row r, as the one-pager's chart: every cash term, with
    ordering and inventory in its parts (the shipping stock saves is negative), then the
    network cost (their sum), the penalties apart (not cash) and the objective; the chart
    beside it draws the lines and their sum. Returns the last row written."""
    book.header(ws, r, ("Network cost by line", "USD/yr", "share of network cost"))
    lines = network_cost_lines(result)
    cost = headline_costs(result)
    network = cost["network_cost_usd"]
    first = r + 1
    for label, usd, _ in lines:
        r += 1
        book.put(ws, r, 1, label)
        book.put(ws, r, 2, usd, USD)
        book.put(ws, r, 3, usd / network if network else 0.0, PCT)
    r += 1
    book.put(ws, r, 1, NETWORK_COST_ROW, style="bold")
    book.put(ws, r, 2, network, USD, style="bold")
    if lines:
        _cost_chart(book, ws, first, r)
    for label, key in (("Unserved penalty (not cash, USD/yr)", "unserved_penalty_usd"),
                       ("Other penalties (not cash, USD/yr)", "other_penalty_usd")):
        if key == "unserved_penalty_usd" or abs(cost[key]) >= 0.5:
            r += 1
            book.put(ws, r, 1, label)
            book.put(ws, r, 2, cost[key], USD)
    r += 1
    book.put(ws, r, 1, "Network cost + penalties (USD/yr)")
    book.put(ws, r, 2, network + cost["unserved_penalty_usd"] + cost["other_penalty_usd"],
             USD)
    return r


def _cost_chart(book: _Book, ws: Any, first: int, last: int) -> None:
    """Horizontal bars of the network cost lines and their sum (rows first..last, names in
    A, USD/yr in B), beside the summary tables: the same bars as the one-pager's."""
    chart = book.wb.add_chart({"type": "bar"})
    chart.set_style(10)
    chart.set_title({"name": "Network cost by line (USD/yr); the last bar is their sum"})
    chart.set_legend({"none": True})
    chart.add_series({"values": [ws.name, first - 1, 1, last - 1, 1],
                      "categories": [ws.name, first - 1, 0, last - 1, 0]})
    chart.set_x_axis({"num_format": USD, "major_gridlines": {"visible": False}})
    chart.set_y_axis({"reverse": True})  # first line on top, as on the one-pager
    chart.set_size({"width": 720, "height": 416})  # 19 x 11 cm
    ws.insert_chart("E3", chart)


def write_workbook(result: Results, path: Path) -> Path:
    """Write network.xlsx: summary + one sheet per result table, product names beside ids."""
    book = _Book(path)
    _summary_sheet(book, result)
    names = [n for n in (*TABLE_NAMES, *OPTIONAL_TABLES) if n in result.tables]
    names += [n for n in result.tables if n not in names]
    products = product_names(result)
    # a table added through the API may clash with another sheet's name: Excel's rules
    for name, sheet in zip(names, sheet_names(names, ["summary"], "table"), strict=True):
        frame = result.tables[name]
        book.table_sheet(name, frame if name == "products" else
                         with_product_names(frame, products), sheet)
    book.wb.close()
    return path


def open_without_sheet(workbook: Path, name: str) -> Workbook | None:
    """An existing workbook with sheet `name` removed (to be written anew), keeping the others;
    None when it cannot be read. For analyses run after the solve (simulate, resilience)."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(workbook)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
        return None
    if name in wb.sheetnames:
        del wb[name]
    return wb


def append_table_sheet(workbook: Path, name: str, frame: pd.DataFrame,
                       save_as: Path | None = None) -> bool:
    """Add (or replace) one table sheet in an existing workbook and save it as `save_as`
    (default: in place); False, and nothing written, if the workbook is unreadable."""
    wb = open_without_sheet(workbook, name)
    if wb is None:
        return False
    _table_sheet(wb, name, frame)
    wb.save(save_as or workbook)
    return True


def carry_sheets(old: Path, new: Path, names: Iterable[str]) -> list[str]:
    """Copy sheets `names` of workbook `old` (those it has) into workbook `new`, with their
    values, styles, widths, frozen panes and Excel tables, and save `new`; return the names
    copied. `netopt report` rebuilds network.xlsx from the result tables, which do not hold
    the sheets analyses added after the solve (resilience, simulation): without this they
    would be dropped while their pages stay linked. Nothing is written when either workbook
    cannot be read or there is nothing to copy."""
    from copy import copy

    from openpyxl import load_workbook
    from openpyxl.worksheet.table import Table

    names = list(names)
    if not names or not Path(old).exists():  # nothing to carry: no warning about it
        return []
    try:
        source = load_workbook(old)
    except Exception as exc:  # noqa: BLE001 - whatever a hand-edited workbook raises
        log.warning("%s: not read (%s); its analysis sheets are not carried over", old, exc)
        return []
    wanted = [n for n in names if n in source.sheetnames]
    if not wanted:
        return []
    target = load_workbook(new)
    for name in wanted:
        src = source[name]
        if name in target.sheetnames:
            del target[name]
        ws = target.create_sheet(name)
        for row in src.iter_rows():
            for cell in row:
                if cell.value is None and not cell.has_style:
                    continue
                out = ws.cell(row=cell.row, column=cell.column, value=cell.value)
                if cell.has_style:
                    out.font, out.fill = copy(cell.font), copy(cell.fill)
                    out.border, out.alignment = copy(cell.border), copy(cell.alignment)
                    out.number_format = cell.number_format
        for key, dim in src.column_dimensions.items():  # a range (min..max) as Excel saves it
            col = ws.column_dimensions[key]
            col.width, col.hidden = dim.width, dim.hidden
            col.min, col.max = dim.min, dim.max
        for key, dim in src.row_dimensions.items():
            ws.row_dimensions[key].height = dim.height
        for merged in src.merged_cells.ranges:
            ws.merge_cells(str(merged))
        ws.freeze_panes = src.freeze_panes
        taken = {t.lower() for sheet in target.worksheets for t in sheet.tables}
        for table_ in src.tables.values():
            copied = Table(displayName=_free_name(table_.displayName, taken), ref=table_.ref)
            copied.tableStyleInfo = copy(table_.tableStyleInfo)
            ws.add_table(copied)
    target.save(new)
    return wanted
