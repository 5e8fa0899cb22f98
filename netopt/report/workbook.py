"""Excel workbook (`network.xlsx`): a summary sheet, then every result table on its own sheet.

Planners re-cut results in Excel, so each sheet is the CSV table as is (same rows, same
values, full precision) as an Excel table (filter buttons, banded rows) with headers in words
and units, a number format on every numeric column, the product's name beside its id, and
the header row and first column frozen. The summary sheet carries the cost chart.
Text cells are always written as text: a site named "=HYPERLINK(...)" stays a name, not a
formula.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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
    text,
)

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
    (r"^(usd_per_year)$", "USD/yr", USD),
    (r"usd_per_dose$", "USD/dose", USD),
    (r"usd_per_patient$", "USD/patient", USD),
    (r"(usd_per_shipment|^cost)$", "USD/shipment", USD_CENTS),
    (r"^population$", "people", INT),
    (r"^(patients|capacity_patients)", "patients/yr", DEC2),
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
    (r"^(revenue|cash_flow|discounted_cash_flow)_usd$", "USD/period", USD),
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
                       r"per_year|km|hours|days|pct|deg)$")
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


def _widths(ws: Worksheet, frame: pd.DataFrame, headers: list[str]) -> None:
    for j, (col, head) in enumerate(zip(frame.columns, headers, strict=True), start=1):
        sample = frame[col].head(200).map(lambda v: len(text(v)) if isinstance(v, str)
                                          else 12)
        width = max([len(head) + 2, *(sample.tolist() or [8])])
        ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 60)


def _unique(headers: list[str], columns: list[str]) -> list[str]:
    """Excel tables need distinct headers: a repeated one gets its column's code."""
    seen: dict[str, int] = {}
    for h in headers:
        seen[h.lower()] = seen.get(h.lower(), 0) + 1
    return [h if seen[h.lower()] == 1 else f"{h} [{c}]" for h, c in zip(headers, columns,
                                                                        strict=True)]


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


def _as_excel_table(ws: Worksheet, name: str, ncols: int, nrows: int) -> None:
    """Make the sheet's block an Excel table: filter buttons and banded rows; first column
    and header frozen."""
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ws.freeze_panes = "B2"
    if not ncols:
        return
    ref = f"A1:{get_column_letter(ncols)}{max(nrows + 1, 2)}"
    display = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    taken = {t for sheet in ws.parent.worksheets for t in sheet.tables}
    k, base = 2, display
    while display in taken:
        display, k = f"{base}_{k}", k + 1
    table_ = Table(displayName=display, ref=ref)
    table_.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True,
                                           showColumnStripes=False)
    ws.add_table(table_)


def _table_sheet(wb: Workbook, name: str, frame: pd.DataFrame) -> None:
    ws = wb.create_sheet(name[:31])
    headers = _unique([header(str(c)) for c in frame.columns], [str(c) for c in frame.columns])
    for j, h in enumerate(headers, start=1):
        _put(ws, 1, j, h)
    _style_header(ws, 1, len(headers))
    formats = _formats(frame)
    if name == "kpis" and {"value", "unit"} <= set(frame.columns):
        units = frame["unit"].map(text).tolist()
        vcol = list(frame.columns).index("value")
    else:
        units, vcol = [], -1
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, v in enumerate(values, start=1):
            fmt = formats[j - 1]
            if j - 1 == vcol:
                fmt = unit_format(units[i - 2])
            _put(ws, i, j, v, fmt)
    _as_excel_table(ws, name, len(headers), len(frame))
    _widths(ws, frame, headers)


def unit_format(unit: str) -> str:
    """Number format of a KPI by its unit: money, percent, whole counts, else decimals."""
    if unit.startswith("USD"):
        return USD
    if unit == "%":
        return PCT_POINTS
    if unit in ("sites", "hubs", "partners", "KOLs", "count"):
        return INT
    return DEC2


def _summary_sheet(wb: Workbook, result: Results) -> None:
    ws = wb.active
    ws.title = "summary"
    s = result.summary
    settings = s.get("settings") or {}
    bold = Font(bold=True)
    ws.cell(row=1, column=1, value="Network design").font = Font(bold=True, size=14)
    _put(ws, 1, 2, s.get("model") or settings.get("name") or "")
    cost = headline_costs(result)
    rows: list[tuple[str, Any, str, str | None]] = [
        ("Description", settings.get("description", ""), "", None),
        (NETWORK_COST_LABEL + " (cash)", cost["network_cost_usd"], "USD/yr", USD),
        ("Unserved penalty (not cash)", cost["unserved_penalty_usd"], "USD/yr", USD),
        ("Objective", settings.get("objective", ""), "", None),
        ("Solve status", s.get("status", ""), "", None),
        ("Objective value (network cost + penalties)", s.get("objective"), "USD/yr", USD),
        ("Best bound", s.get("bound"), "USD/yr", USD),
        ("Gap", s.get("gap"), "share", "0.00%"),
        ("Solve time", s.get("solve_seconds"), "s", DEC1),
    ]
    r = 2
    for label, value, unit, fmt in rows:
        _put(ws, r, 1, label)
        _put(ws, r, 2, value if not isinstance(value, dict | list) else str(value), fmt)
        _put(ws, r, 3, unit)
        r += 1

    r += 1
    for j, h in enumerate(("KPI", "value", "unit"), start=1):
        _put(ws, r, j, h)
    _style_header(ws, r, 3)
    kpis = table(result, "kpis")
    units = dict(zip(kpis.get("kpi", []), kpis.get("unit", []), strict=True))
    for name, value in kpi_values(result).items():
        if name not in units:
            continue
        r += 1
        u = text(units.get(name))
        _put(ws, r, 1, name)
        _put(ws, r, 2, value, unit_format(u))
        _put(ws, r, 3, u)

    r = _cost_lines(ws, result, r + 2)
    r += 2
    for j, h in enumerate(("Margin line (unserved penalty excluded)", "USD/yr"), start=1):
        _put(ws, r, j, h)
    _style_header(ws, r, 2)
    for line, usd in margin_lines(result):
        r += 1
        _put(ws, r, 1, line)
        _put(ws, r, 2, usd, USD)
    ws.cell(row=r, column=1).font = bold
    ws.cell(row=r, column=2).font = bold
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 16


def _cost_lines(ws: Worksheet, result: Results, r: int) -> int:
    """The network cost by line from row r, as the one-pager's chart: every cash term, with
    ordering and inventory in its parts (the shipping stock saves is negative), then the
    network cost (their sum), the penalties apart (not cash) and the objective; the chart
    beside it draws the lines and their sum. Returns the last row written."""
    for j, h in enumerate(("Network cost by line", "USD/yr", "share of network cost"),
                          start=1):
        _put(ws, r, j, h)
    _style_header(ws, r, 3)
    lines = network_cost_lines(result)
    cost = headline_costs(result)
    network = cost["network_cost_usd"]
    first = r + 1
    for label, usd, _ in lines:
        r += 1
        _put(ws, r, 1, label)
        _put(ws, r, 2, usd, USD)
        _put(ws, r, 3, usd / network if network else 0.0, PCT)
    r += 1
    _put(ws, r, 1, NETWORK_COST_ROW)
    _put(ws, r, 2, network, USD)
    ws.cell(row=r, column=1).font = Font(bold=True)
    ws.cell(row=r, column=2).font = Font(bold=True)
    if lines:
        _cost_chart(ws, first, r)
    for label, key in (("Unserved penalty (not cash, USD/yr)", "unserved_penalty_usd"),
                       ("Other penalties (not cash, USD/yr)", "other_penalty_usd")):
        if key == "unserved_penalty_usd" or abs(cost[key]) >= 0.5:
            r += 1
            _put(ws, r, 1, label)
            _put(ws, r, 2, cost[key], USD)
    r += 1
    _put(ws, r, 1, "Objective (network cost + penalties, USD/yr)")
    _put(ws, r, 2, network + cost["unserved_penalty_usd"] + cost["other_penalty_usd"], USD)
    return r


def _cost_chart(ws: Worksheet, first: int, last: int) -> None:
    """Horizontal bars of the network cost lines and their sum (rows first..last, names in
    A, USD/yr in B), beside the summary tables: the same bars as the one-pager's."""
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "Network cost by line (USD/yr); the last bar is their sum"
    chart.legend = None
    chart.y_axis.numFmt = USD
    chart.y_axis.majorGridlines = None
    chart.x_axis.scaling.orientation = "maxMin"  # first line on top, as on the one-pager
    chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 11, 19
    ws.add_chart(chart, "E3")


def write_workbook(result: Results, path: Path) -> Path:
    """Write network.xlsx: summary + one sheet per result table, product names beside ids."""
    wb = Workbook()
    _summary_sheet(wb, result)
    names = [n for n in (*TABLE_NAMES, *OPTIONAL_TABLES) if n in result.tables]
    names += [n for n in result.tables if n not in names]
    products = product_names(result)
    for name in names:
        frame = result.tables[name]
        _table_sheet(wb, name, frame if name == "products" else
                     with_product_names(frame, products))
    wb.save(path)
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
