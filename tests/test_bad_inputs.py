"""Bad-input corpus: every kind of broken model file or dataset `netopt validate` must report.

Each case starts from a fresh copy of the small valid project (tests/data/tiny as `tiny/`, a
`model.yaml` reading `dataset: tiny`, and a pyproject.toml marking the project root) in a temp
folder, applies the mutations it declares, runs the real CLI there and checks

- the exit code (2 invalid, 0 clean; `strict=True` adds --strict),
- that every expected problem is printed as one line
  `error: FILE, row N, column 'C': ...` (YAML: `line N`) containing the expected text,
- that no other error is printed (the count), and that nothing crashed (no traceback).

Rows are spreadsheet rows: the header is row 1, the first data row is row 2. To add a case,
add one `Case(...)` to CASES: name, mutations, expected problems.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.cli.app import app

TINY = Path(__file__).resolve().parent / "data" / "tiny"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

Mutation = Callable[[Path], None]  # takes the project folder, changes files in it


# ---------------------------------------------------------------- mutations


def _table(proj: Path, table: str) -> Path:
    return proj / "tiny" / f"{table}.csv"


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def cell(table: str, row: int, column: str, value: str) -> Mutation:
    """Set one cell; `row` is the spreadsheet row (2 = first data row)."""

    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        rows[row - 1][rows[0].index(column)] = value
        _write(_table(proj, table), rows)

    return apply


def drop_column(table: str, column: str) -> Mutation:
    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        k = rows[0].index(column)
        _write(_table(proj, table), [r[:k] + r[k + 1:] for r in rows])

    return apply


def add_column(table: str, column: str, value: str) -> Mutation:
    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        _write(_table(proj, table), [rows[0] + [column]] + [r + [value] for r in rows[1:]])

    return apply


def locate(table: str, row: int, location: str,
           blank: tuple[str, ...] = ("latitude", "longitude")) -> Mutation:
    """Give row `row` a location (adding the column if needed) and blank the cells it is to
    stand in for."""

    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        if "location" not in rows[0]:
            rows = [rows[0] + ["location"]] + [r + [""] for r in rows[1:]]
        rows[row - 1][rows[0].index("location")] = location
        for column in blank:
            rows[row - 1][rows[0].index(column)] = ""
        _write(_table(proj, table), rows)

    return apply


def copy_row(table: str, row: int) -> Mutation:
    """Append a copy of spreadsheet row `row` as the table's last row."""

    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        _write(_table(proj, table), [*rows, list(rows[row - 1])])

    return apply


def header_only(table: str) -> Mutation:
    def apply(proj: Path) -> None:
        _write(_table(proj, table), _read(_table(proj, table))[:1])

    return apply


def remove(table: str) -> Mutation:
    return lambda proj: _table(proj, table).unlink()


def replace_text(table: str, old: str, new: str) -> Mutation:
    """Edit the raw text of a table (for damage the csv module would not write)."""

    def apply(proj: Path) -> None:
        path = _table(proj, table)
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return apply


def append_text(table: str, text: str) -> Mutation:
    """Add raw text at the end of a table."""

    def apply(proj: Path) -> None:
        path = _table(proj, table)
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return apply


#: policies.csv's header, for the cases that write the table whole
POLICIES_HEADER = (b"product_id,policy,title_holder,payment_terms_days,returnable_fraction,"
                   b"return_window_days,restocking_fee_pct,order_lead_time_hours,"
                   b"review_period_days,target_fill_rate,holding_cost_usd_per_dose_day\n")


def write_table(table: str, content: bytes) -> Mutation:
    return lambda proj: _table(proj, table).write_bytes(content)


def reencode(table: str, encoding: str) -> Mutation:
    def apply(proj: Path) -> None:
        path = _table(proj, table)
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))

    return apply


def to_parquet(table: str) -> Mutation:
    """Replace `<table>.csv` by `<table>.parquet` with the types pandas infers."""

    def apply(proj: Path) -> None:
        import pandas as pd

        path = _table(proj, table)
        pd.read_csv(path).to_parquet(path.with_suffix(".parquet"), index=False)
        path.unlink()

    return apply


def also_parquet(table: str) -> Mutation:
    """Add `<table>.parquet` beside `<table>.csv` (the same table given twice)."""

    def apply(proj: Path) -> None:
        import pandas as pd

        path = _table(proj, table)
        pd.read_csv(path).to_parquet(path.with_suffix(".parquet"), index=False)

    return apply


def redelimit(table: str, delimiter: str, decimal_comma: bool = False) -> Mutation:
    """Rewrite a table as a spreadsheet set to another locale saves 'CSV': `delimiter`
    between cells and, with `decimal_comma`, '1,25' for 1.25."""

    def apply(proj: Path) -> None:
        rows = _read(_table(proj, table))
        if decimal_comma:
            rows = [[re.sub(r"^(-?[0-9]+)\.([0-9]+)$", r"\1,\2", c) for c in r] for r in rows]
        with _table(proj, table).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)

    return apply


def model(text: str, name: str = "model.yaml") -> Mutation:
    """Write a model file (`model.yaml` is the one validated) from indented text."""
    return lambda proj: (proj / name).write_text(textwrap.dedent(text).lstrip("\n"),
                                                 encoding="utf-8")


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Expect:
    """One problem line: file as displayed, row/line (None: whole file), column, and the
    pieces of text the line must contain."""

    file: str
    row: int | None
    column: str | None
    text: tuple[str, ...]
    severity: str = "error"

    def prefix(self) -> str:
        where = self.file
        if self.row is not None:
            word = "line" if self.file.endswith((".yaml", ".yml")) else "row"
            where += f", {word} {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{self.severity}: {where}: "


@dataclass(frozen=True)
class Case:
    name: str
    mutations: tuple[Mutation, ...]
    expect: tuple[Expect, ...]
    exit_code: int = 2
    strict: bool = False
    model_file: str = "model.yaml"
    marks: tuple = field(default=())


def E(file: str, row: int | None, column: str | None, *text: str) -> Expect:
    """An expected error."""
    return Expect(file, row, column, text)


def W(file: str, row: int | None, column: str | None, *text: str) -> Expect:
    """An expected warning."""
    return Expect(file, row, column, text, "warning")


SITES, ZONES, PRODUCTS = "tiny/sites.csv", "tiny/zones.csv", "tiny/products.csv"
HUBS, KOLS, PLANTS = "tiny/hubs.csv", "tiny/kols.csv", "tiny/plants.csv"
TRANSPORT, MODEL = "tiny/transport.csv", "model.yaml"
INCIDENCE = "tiny/incidence.csv"

CASES: list[Case] = [
    # -- missing things
    Case("model_file_missing", (), (E("nope.yaml", None, None, "model file not found"),),
         model_file="nope.yaml"),
    Case("dataset_folder_missing", (model("dataset: tinny\n"),),
         (E(MODEL, 1, "dataset", "dataset folder not found"),)),
    Case("dataset_is_a_file", (model("dataset: tiny/sites.csv\n"),),
         (E(MODEL, 1, "dataset", "dataset must be a folder"),)),
    Case("table_missing", (remove("products"),),
         (E(PRODUCTS, None, None, "required table 'products' is missing"),)),
    Case("column_missing", (drop_column("sites", "capacity_patients_per_year"),),
         (E(SITES, 1, "capacity_patients_per_year", "required column is missing"),)),
    Case("table_empty_file", (write_table("zones", b""),),
         (E(ZONES, None, None, "file is empty"),)),
    Case("table_header_only", (header_only("zones"),),
         (E(ZONES, None, None, "table 'zones' has no rows"),)),
    Case("optional_table_header_only", (
        write_table("policies", POLICIES_HEADER),),
         (E("tiny/policies.csv", None, None, "table 'policies' has no rows",
            "delete policies.csv to go without it"),)),
    # -- damaged files
    Case("csv_unbalanced_quote", (replace_text("sites", "S2,Site Two", 'S2,"Site Two'),),
         (E(SITES, 3, None, "a double quote opened on this row is never closed"),)),
    Case("csv_extra_field_first_row",
         (replace_text("zones", "100000\n", "100000,extra\n"),),
         (E(ZONES, 2, None, "7 cells on this row but 6 in the header",
            "needs the value in double quotes"),)),
    Case("csv_extra_field_later_row",
         (replace_text("zones", "200000\n", "200000,extra\n"),),
         (E(ZONES, 3, None, "7 cells on this row but 6 in the header"),)),
    Case("csv_not_utf8", (cell("sites", 4, "name", "Hôpital Trois"), reencode("sites", "latin-1")),
         (E(SITES, 4, None, "file is not UTF-8 text"),)),
    Case("parquet_bad_value", (cell("zones", 3, "population", "-5"), to_parquet("zones")),
         (E("tiny/zones.parquet", 3, "population", "expected a number >= 0 (found '-5')"),)),
    Case("table_given_twice", (also_parquet("products"),),
         (E(PRODUCTS, None, None,
            "table 'products' is given twice (products.csv and products.parquet)"),)),
    Case("csv_short_row", (replace_text("zones", ",200000\n", "\n"),),
         (E(ZONES, 3, None, "this row has 5 of 6 fields"),)),
    Case("csv_short_row_after_blank_line",
         (replace_text("sites", "\nS2,", "\n\nS2,"),
          replace_text("sites", ",120,300000,0,0\n", ",120,300000,0\n")),
         (E(SITES, 3, None, "blank line inside the table"),
          E(SITES, 5, None, "this row has 16 of 17 fields"))),
    Case("csv_title_row_above_the_header",
         (replace_text("zones", "zone_id,", "My zones\nzone_id,"),),
         (E(ZONES, 1, None, "row 1 holds one cell and row 2 holds 6",
            "if row 1 is a title above the column names, delete it"),)),
    # a misspelt required column: one message, and no talk of a default it does not have
    Case("csv_required_column_misspelt",
         (replace_text("sites", "capacity_patients_per_year", "capacity_patient_per_year"),),
         (E(SITES, 1, "capacity_patient_per_year",
            "did you mean 'capacity_patients_per_year'? (a required column)"),)),
    # a spreadsheet saved as CSV writes its empty rows as separators only: a blank line
    Case("csv_trailing_row_of_separators", (append_text("sites", "," * 16 + "\n"),), (),
         exit_code=0),
    Case("csv_row_of_separators_inside_the_table",
         (replace_text("sites", "\nS2,", "\n" + "," * 16 + "\nS2,"),),
         (E(SITES, 3, None, "blank line inside the table"),)),
    Case("csv_semicolon_delimiter", (redelimit("transport", ";", decimal_comma=True),),
         (E(TRANSPORT, None, None, "columns are separated by ';' (semicolon), not by commas",
            "CSV UTF-8 (Comma delimited)"),)),
    Case("csv_tab_delimiter", (redelimit("zones", "\t"),),
         (E(ZONES, None, None, "columns are separated by tab"),)),
    # -- wrong values
    Case("wrong_type_number", (cell("zones", 3, "population", "lots"),),
         (E(ZONES, 3, "population", "expected a number (found 'lots')"),)),
    Case("wrong_type_whole_number", (cell("sites", 2, "kol_count", "1.5"),),
         (E(SITES, 2, "kol_count", "expected a whole number (found '1.5')"),)),
    Case("required_blank", (cell("products", 2, "name", ""),),
         (E(PRODUCTS, 2, "name", "required value is blank"),)),
    Case("required_nan", (cell("zones", 2, "latitude", "NaN"),),
         (E(ZONES, 2, "latitude", "required value is blank ('NaN' reads as blank); or give "
            "the place in `location` ('City, ST' or a ZIP code) and leave both blank "
            "(found 'NaN')"),)),
    # 'NA' in an optional cell is a blank, said once per column: a hub's status 'NA' would
    # otherwise turn the existing hub into a candidate without a word
    Case("optional_na_reads_as_blank", (cell("hubs", 2, "status", "NA"),),
         (W(HUBS, 2, "status", "'NA' reads as a blank cell", "default ('candidate') applies",
            "(found 'NA')"),), exit_code=0),
    # a misspelt optional column is not ignored: its real column would take its default
    Case("optional_column_typo",
         (replace_text("products", "handling_buffer_hours", "handling_bufer_hours"),),
         (E(PRODUCTS, 1, "handling_bufer_hours", "did you mean 'handling_buffer_hours'?",
            "its default would apply to every row"),)),
    # a header with its unit added, as the result workbooks write them: no spelling match
    # within the cutoff found it, so the column was dropped with a warning and defaulted
    Case("optional_column_with_a_unit",
         (replace_text("products", "handling_buffer_hours", "Handling buffer hours (h)"),),
         (E(PRODUCTS, 1, "Handling buffer hours (h)", "did you mean 'handling_buffer_hours'?",
            "its default would apply to every row"),)),
    Case("latitude_out_of_range", (cell("sites", 3, "latitude", "95"),),
         (E(SITES, 3, "latitude", "expected a number <= 90 (found '95')"),)),
    Case("longitude_out_of_range", (cell("hubs", 2, "longitude", "-190"),),
         (E(HUBS, 2, "longitude", "expected a number >= -180 (found '-190')"),)),
    Case("negative_number", (cell("transport", 2, "fixed_hours", "-4"),),
         (E(TRANSPORT, 2, "fixed_hours", "expected a number >= 0 (found '-4')"),)),
    Case("non_finite_number", (cell("products", 2, "price_usd_per_dose", "inf"),),
         (E(PRODUCTS, 2, "price_usd_per_dose", "expected a finite number (found 'inf')"),)),
    # -- numbers: decimal commas, plausible ranges, zero divisors
    Case("decimal_comma", (cell("transport", 2, "circuity", "1,25"),),
         (E(TRANSPORT, 2, "circuity", "expected a number with a decimal point (1.25, not 1,25)",
            "thousands separator", "(found '1,25')"),)),
    Case("decimal_comma_with_cents", (cell("products", 2, "cogs_usd_per_dose", "4500,50"),),
         (E(PRODUCTS, 2, "cogs_usd_per_dose", "decimal point", "(found '4500,50')"),)),
    Case("decimal_comma_whole_number", (cell("sites", 2, "kol_count", "1,5"),),
         (E(SITES, 2, "kol_count", "expected a whole number with a decimal point"),)),
    Case("european_thousands", (cell("zones", 2, "population", "100.000,5"),),
         (E(ZONES, 2, "population", "decimal point", "(found '100.000,5')"),)),
    Case("implausible_hub_capacity", (cell("hubs", 2, "capacity_shipments_per_year", "1e300"),),
         (E(HUBS, 2, "capacity_shipments_per_year",
            "expected a number <= 10,000,000 (found '1e300')"),)),
    Case("implausible_price", (cell("products", 2, "price_usd_per_dose", "1e300"),),
         (E(PRODUCTS, 2, "price_usd_per_dose", "expected a number <= 100,000,000"),)),
    Case("implausible_population", (cell("zones", 3, "population", "1e300"),),
         (E(ZONES, 3, "population", "expected a number <= 2,000,000,000"),)),
    Case("implausible_circuity", (cell("transport", 3, "circuity", "125"),),
         (E(TRANSPORT, 3, "circuity", "expected a number <= 5 (found '125')"),)),
    Case("zero_speed", (cell("transport", 2, "speed_kmh", "0"),),
         (E(TRANSPORT, 2, "speed_kmh", "expected a number > 0 (the model divides by it"),)),
    Case("zero_shelf_life", (cell("products", 2, "shelf_life_hours", "0"),),
         (E(PRODUCTS, 2, "shelf_life_hours", "expected a number > 0", "(found '0')"),)),
    Case("buffer_takes_the_shelf_life", (cell("products", 2, "shelf_life_hours", "20"),),
         (E(PRODUCTS, 2, "handling_buffer_hours", "takes all of the 20 h shelf life",
            "(found '24')"),)),
    Case("zero_doses_per_shipment", (add_column("products", "doses_per_shipment", "0"),),
         (E(PRODUCTS, 2, "doses_per_shipment", "expected a number >= 1 (found '0')"),)),
    # -- lists are ';'-separated
    Case("list_with_commas", (cell("hubs", 2, "temperature_classes", "refrigerated, cryogenic"),),
         (E(HUBS, 2, "temperature_classes", "list items are separated by ';', not ','",
            "(write 'refrigerated;cryogenic')"),)),
    Case("free_list_with_commas", (cell("sites", 2, "certified_areas", "oncology, hematology"),),
         (E(SITES, 2, "certified_areas", "separated by ';'", "'oncology;hematology'"),)),
    Case("bad_time", (cell("hubs", 2, "order_cutoff_local", "25:00"),),
         (E(HUBS, 2, "order_cutoff_local", "expected a time as HH:MM"),)),
    Case("duplicate_id", (copy_row("sites", 2),),
         (E(SITES, 5, "site_id", "duplicate id (first used on row 2) (found 'S1')"),)),
    # -- unknown enum values
    Case("unknown_temperature_class", (cell("products", 2, "temperature_class", "frozen"),),
         (E(PRODUCTS, 2, "temperature_class", "expected one of cryogenic, ultra_low"),)),
    Case("unknown_status", (cell("sites", 3, "status", "open"),),
         (E(SITES, 3, "status", "expected one of existing, candidate, excluded"),)),
    Case("unknown_mode", (cell("transport", 3, "mode", "sea"),),
         (E(TRANSPORT, 3, "mode", "expected one of ground, air (found 'sea')"),)),
    Case("list_unknown_temperature_class",
         (cell("hubs", 2, "temperature_classes", "cryogenic; frozen"),),
         (E(HUBS, 2, "temperature_classes", "unknown value 'frozen'"),)),
    # -- dangling references
    Case("kol_unknown_site", (cell("kols", 2, "site_id", "S9"),),
         (E(KOLS, 2, "site_id", "unknown site_id (not in sites) (found 'S9')"),)),
    Case("plant_unknown_product", (cell("plants", 2, "products", "p1;p9"),),
         (E(PLANTS, 2, "products", "unknown product_id (not in products) (found 'p9')"),)),
    # -- several problems reported in one run
    Case("many_errors_one_file",
         (cell("sites", 2, "latitude", "north"), cell("sites", 3, "status", "open"),
          cell("sites", 4, "kol_count", "-1"), cell("sites", 4, "longitude", "")),
         (E(SITES, 2, "latitude", "expected a number"),
          E(SITES, 3, "status", "expected one of"),
          E(SITES, 4, "kol_count", "expected a number >= 0"),
          E(SITES, 4, "longitude", "required value is blank"))),
    Case("errors_across_files_with_dangling_ref",
         (cell("zones", 3, "population", "many"), cell("kols", 2, "site_id", "S9"),
          cell("products", 2, "modality", "magic")),
         (E(ZONES, 3, "population", "expected a number"),
          E(KOLS, 2, "site_id", "unknown site_id"),
          E(PRODUCTS, 2, "modality", "expected one of autologous"))),
    # -- warnings: exit 0 unless --strict
    Case("warning_unknown_column", (add_column("zones", "notes", "x"),),
         (W(ZONES, 1, "notes", "column not in the 'zones' schema"),), exit_code=0),
    Case("warning_unknown_column_strict", (add_column("zones", "notes", "x"),),
         (E(ZONES, 1, "notes", "column not in the 'zones' schema"),), strict=True),
    # -- model file (YAML)
    Case("yaml_syntax_error", (model("""
        dataset: tiny
        solver:
          time_limit: 5
         threads: 2
        """),), (E(MODEL, 4, None, "YAML syntax error"),)),
    Case("yaml_not_a_mapping", (model("- dataset: tiny\n"),),
         (E(MODEL, 1, None, "a model file must be a mapping of settings"),)),
    Case("yaml_unknown_key", (model("""
        dataset: tiny
        solvr:
          time_limit: 5
        """),), (E(MODEL, 2, "solvr", "unknown setting"),)),
    Case("yaml_wrong_setting_type", (model("""
        dataset: tiny
        solver:
          time_limit: fast
        """),), (E(MODEL, 3, "solver.time_limit", "expected a number"),)),
    Case("yaml_several_problems", (model("""
        dataset: tiny
        objective: profit
        demand_scale: -1
        kols:
          mode: strict
          min_coverage: 2
        """),), (E(MODEL, 2, "objective", "expected one of cost, margin"),
                 E(MODEL, 3, "demand_scale", "expected a number >= 0"),
                 E(MODEL, 5, "kols.mode",
                   "expected one of none, require, coverage, proximity"),
                 E(MODEL, 6, "kols.min_coverage", "expected a share between 0 and 1"))),
    Case("yaml_edits_not_a_list", (model("dataset: tiny\nedits: 5\n"),),
         (E(MODEL, 2, "edits", "expected a list"),)),
    Case("yaml_edit_unknown_table", (model("""
        dataset: tiny
        edits:
          - table: sitez
            set: {status: excluded}
        """),), (E(MODEL, 3, "edits.0.table", "unknown table (expected one of products"),)),
    Case("yaml_edit_unknown_column", (model("""
        dataset: tiny
        edits:
          - table: sites
            where: {site_id: S2}
            set:
              colour: red
        """),), (E(MODEL, 6, "edits.0.set.colour", "unknown column of sites in set"),)),
    Case("yaml_edit_sets_bad_value", (model("""
        dataset: tiny
        edits:
          - table: sites
            where: {site_id: S2}
            set: {latitude: 100}
        """),), (E(SITES, 3, "latitude", "expected a number <= 90",
                   "the value is set by edits.0 (model.yaml, line 5)", "(found '100')"),)),
    Case("yaml_edit_in_base_file", (
        model("""
            dataset: tiny
            edits:
              - table: sites
                set: {status: excluded}
              - table: sites
                where: {site_id: S2}
            """, name="base.yaml"),
        model("""
            extends: base.yaml
            edits:
              - table: sites
                set: {status: candidate}
            """)), (E("base.yaml", 5, "edits.1", "an edit needs 'set' or 'scale'"),)),
    Case("yaml_unknown_product_in_scope", (model("""
        dataset: tiny
        products:
          - p1
          - p9
        """),), (E(MODEL, 4, "products", "product not in the products table (found 'p9')"),)),
    # counts no network can meet: said by validate, not left to an infeasible solve
    Case("yaml_max_active_below_the_locked_sites", (model("""
        dataset: tiny
        sites:
          max_active: 0
        """),), (E(MODEL, 3, "sites.max_active", "1 of the sites must stay active",
                   "existing sites are locked open", "(found '0')"),)),
    Case("yaml_min_active_above_the_hubs", (model("""
        dataset: tiny
        hubs:
          min_active: 2
        """),), (E(MODEL, 3, "hubs.min_active", "only 1 of the hubs may be active",
                   "(found '2')"),)),
    Case("yaml_time_limit_infinite", (model("dataset: tiny\nsolver:\n  time_limit: .inf\n"),),
         (E(MODEL, 3, "solver.time_limit", "finite number"),)),
    # an infinite demand scale crashed the solve; an infinite per-km cost gave a NaN cost
    Case("yaml_demand_scale_infinite", (model("dataset: tiny\ndemand_scale: .inf\n"),),
         (E(MODEL, 2, "demand_scale", "finite number"),)),
    Case("yaml_travel_cost_not_a_number", (model("""
        dataset: tiny
        service:
          patient_travel_usd_per_km: .nan
        """),), (E(MODEL, 3, "service.patient_travel_usd_per_km", "finite number"),)),
    # a misspelt class replaced every default shipper hold, silently
    Case("yaml_shipper_hold_unknown_class", (model("""
        dataset: tiny
        simulation:
          shipper_hold_hours: {cryogenc: 100}
        """),), (E(MODEL, 3, "simulation.shipper_hold_hours.cryogenc", "unknown key",
                   "expected one of cryogenic, ultra_low"),)),
    # a section-wide check named the section; each value is now checked where it stands
    Case("yaml_closure_probability_as_per_cent", (model("""
        dataset: tiny
        simulation:
          closure_probability_per_day: {winter: 5}
        """),), (E(MODEL, 3, "simulation.closure_probability_per_day.winter",
                   "write 0.05 for 5 %"),)),
    Case("yaml_volume_breakpoints_unsorted", (model("""
        dataset: tiny
        finance:
          volume_breakpoints: [10, 1]
        """),), (E(MODEL, 3, "finance.volume_breakpoints", "strictly increasing"),)),
    Case("every_site_excluded", (cell("sites", 2, "status", "excluded"),
                                 cell("sites", 3, "status", "excluded"),
                                 cell("sites", 4, "status", "excluded")),
         (E("tiny/sites.csv", None, "status", "every site is excluded",
            "no patient could be treated"),)),
    Case("yaml_products_empty", (model("dataset: tiny\nproducts: []\n"),),
         (E(MODEL, 2, "products", "names no product", "leave 'products' out"),)),
    Case("yaml_product_twice", (model("""
        dataset: tiny
        products:
          - p1
          - p1
        """),), (E(MODEL, 4, "products", "product listed twice (found 'p1')"),)),
    Case("yaml_excluded_site_locked_open", (cell("sites", 3, "status", "excluded"), model("""
        dataset: tiny
        sites:
          lock_open: [S2]
        """)), (E(MODEL, 3, "sites.lock_open", "is excluded (sites.csv status)",
                  "(found 'S2')"),)),
    # a share whose bound stops short of 1 gets the per-cent hint too
    Case("csv_fill_rate_as_per_cent", (
        write_table("policies", POLICIES_HEADER
                    + b"p1,jit_per_patient,manufacturer,30,0,0,0,40,7,95,5\n"),),
         (E("tiny/policies.csv", 2, "target_fill_rate",
            "expected a share of at most 0.9999: write 0.95 for 95 %"),)),
    Case("csv_fill_rate_of_one", (
        write_table("policies", POLICIES_HEADER
                    + b"p1,jit_per_patient,manufacturer,30,0,0,0,40,7,1,5\n"),),
         (E("tiny/policies.csv", 2, "target_fill_rate", "expected a number <= 0.9999"),)),
    Case("yaml_share_below_one_as_per_cent",
         (model("dataset: tiny\naggregation:\n  cluster_share_of_reach: 15\n"),),
         (E(MODEL, 3, "aggregation.cluster_share_of_reach",
            "expected a share of at most 0.5: write 0.15 for 15 %"),)),
    Case("yaml_finance_policies_leave_a_product_without_option", (
        write_table("policies", POLICIES_HEADER
                    + b"p1,jit_per_patient,manufacturer,30,0,0,0,40,7,0.95,5\n"),
        model("""
            dataset: tiny
            finance:
              policies: [held_at_hub]
            """)),
         (E(MODEL, 3, "finance.policies", "leaves product p1 without an ordering option",
            "offers it jit_per_patient"),)),
    # a returnable share that can return nothing: no window, or stock the manufacturer owns
    Case("warning_returns_without_effect", (
        cell("products", 2, "modality", "allogeneic"),
        write_table("policies", POLICIES_HEADER
                    + b"p1,jit_per_patient,manufacturer,30,0.5,30,0,40,7,0.95,5\n"
                    b"p1,stocked_at_site,site,30,0.5,,0,40,7,0.95,5\n"
                    b"p1,consignment_at_site,manufacturer,30,0.3,10,0,40,7,0.95,5\n"
                    b"p1,held_at_hub,distributor,30,0.5,30,0,40,7,0.95,5\n")),
         (W("tiny/policies.csv", 3, "return_window_days", "returnable_fraction 0.5 returns "
            "nothing: a window of 0 days (or blank) means no returns"),
          W("tiny/policies.csv", 4, "returnable_fraction", "returnable_fraction 0.3 returns "
            "nothing: the manufacturer holds title")), exit_code=0),
    # a per cent where a share is expected: the message says how to write it
    Case("yaml_share_given_as_per_cent", (model("""
        dataset: tiny
        finance:
          cost_of_capital: 8
        """),), (E(MODEL, 3, "finance.cost_of_capital", "expected a share between 0 and 1: "
                   "write 0.08 for 8 % (found '8')"),)),
    Case("yaml_share_with_a_per_cent_sign", (model("""
        dataset: tiny
        finance:
          cost_of_capital: 8%
        """),), (E(MODEL, 3, "finance.cost_of_capital", "expected a share between 0 and 1: "
                   "write 0.08 for 8 % (found '8%')"),)),
    Case("yaml_unknown_site_locked_open", (model("""
        dataset: tiny
        sites:
          lock_open: [S1, S7]
        """),), (E(MODEL, 3, "sites.lock_open", "unknown site_id (found 'S7')"),)),
    Case("extends_missing_file", (model("extends: base.yaml\n"),),
         (E(MODEL, 1, "extends", "extends names a model file that does not exist"),)),
    Case("csv_required_list_of_separators_only", (cell("plants", 2, "products", ";;"),),
         (E("tiny/plants.csv", 2, "products", "required list has no item"),)),
    Case("yaml_demand_scale_as_per_cent", (model("dataset: tiny\ndemand_scale: 120\n"),),
         (W(MODEL, 2, "demand_scale", "multiplies every zone's patients by 120",
            "for 120 % write 1.2"),), exit_code=0),
    Case("extends_a_folder", (model("extends: tiny\n"),),
         (E(MODEL, 1, "extends", "extends names a folder: give the model file (YAML)"),)),
    Case("yaml_no_dataset", (model("name: x\n"),),
         (E(MODEL, None, "dataset", "missing: a model file names its dataset"),)),
    Case("yaml_section_given_a_number", (model("dataset: tiny\nservice: 5\n"),),
         (E(MODEL, 2, "service", "expected a section of settings"),)),
    Case("extends_cycle", (model("extends: base.yaml\n"),
                           model("dataset: tiny\nextends: model.yaml\n", name="base.yaml")),
         (E("base.yaml", 2, "extends", "extends cycle: model.yaml -> base.yaml -> model.yaml"),)),
    # -- therapeutic areas are matched as text: a near miss is a likely typo
    Case("area_typo_in_site", (cell("sites", 2, "certified_areas", "oncolgy"),),
         (W(SITES, 2, "certified_areas", "therapeutic area 'oncolgy' is not used by any "
            "product or KOL; did you mean 'oncology' (as in tiny/products.csv, row 2)?"),),
         exit_code=0),
    Case("area_unused_in_sites_named_once", (cell("sites", 2, "certified_areas", "cardiology"),
                                             cell("sites", 4, "certified_areas", "cardiology")),
         (W(SITES, 2, "certified_areas", "'cardiology' is not used", "(also on row 4)"),),
         exit_code=0),
    Case("area_typo_in_product", (cell("products", 2, "therapeutic_area", "oncolgy"),),
         (W(PRODUCTS, 2, "therapeutic_area", "no site is certified for therapeutic area "
            "'oncolgy'; did you mean 'oncology' (as in tiny/sites.csv, row 2)?"),),
         exit_code=0),
    Case("area_typo_in_kol", (cell("kols", 2, "therapeutic_area", "Oncology"),),
         (W(KOLS, 2, "therapeutic_area", "the KOL counts in no KOL rule",
            "did you mean 'oncology'"),), exit_code=0),
    Case("area_typo_under_kol_require", (model("dataset: tiny\nkols:\n  mode: require\n"),
                                         cell("sites", 2, "certified_areas", "oncolgy")),
         (E(SITES, 2, "certified_areas", "did you mean 'oncology'"),)),
    Case("area_typo_strict", (cell("kols", 2, "therapeutic_area", "oncolgy"),),
         (E(KOLS, 2, "therapeutic_area", "did you mean 'oncology'"),), strict=True),
    # -- a key given twice in a model file
    Case("yaml_duplicate_key", (model("""
        dataset: tiny
        objective: cost
        service:
          min_share: 0.5
        objective: margin
        """),), (E(MODEL, 5, "objective", "key 'objective' is given twice, on lines 2 and 5"),)),
    Case("yaml_duplicate_nested_key", (model("""
        dataset: tiny
        solver:
          time_limit: 5
          threads: 1
          time_limit: 50
        """),), (E(MODEL, 5, "solver.time_limit", "given twice, on lines 3 and 5"),)),
    # -- places given by a location cell (City, ST; ZIP; airport code for hubs)
    Case("location_unknown_place_one_error",
         (locate("zones", 3, "Harrisbrg, PA", ("latitude", "longitude", "state")),),
         (E(ZONES, 3, "location", "unknown place 'Harrisbrg, PA'", "Harrisburg, PA"),)),
    Case("location_unknown_zip_one_error", (locate("plants", 2, "99999"),),
         (E(PLANTS, 2, "location", "unknown place '99999'", "99950 (Ketchikan, AK)"),)),
    Case("hub_unknown_airport_code", (locate("hubs", 2, "EWQ"),),
         (E(HUBS, 2, "location", "unknown airport code 'EWQ'", "EWR (Newark)"),)),
    Case("airport_code_outside_hubs", (locate("partners", 2, "EWR"),),
         (E("tiny/partners.csv", 2, "location", "'EWR' looks like an airport code",
            "airport codes place hubs only; write 'City, ST' or a ZIP code"),)),
    Case("location_and_coordinates_disagree",
         (locate("sites", 3, "Seattle, WA", blank=()),),
         (W(SITES, 3, "location", "lie 3,", "km from Seattle, WA; the coordinates are used"),
          W(SITES, 3, "state", "location 'Seattle, WA' is in WA; the state given is used",
            "(found 'PA')")), exit_code=0),
    Case("kol_without_site_or_location", (cell("kols", 2, "site_id", ""),),
         (E(KOLS, 2, "site_id", "KOL K1 has no site_id and no location: give one"),)),
    Case("kol_location_far_from_every_site",
         (locate("kols", 2, "Seattle, WA", blank=("site_id",)),),
         (E(KOLS, 2, "location", "no site within 50 km of Seattle, WA", "give site_id"),)),
    Case("kol_location_far_from_its_site", (locate("kols", 2, "Pittsburgh, PA", blank=()),),
         (W(KOLS, 2, "location", "site S1 lies", "km from Pittsburgh, PA; the site_id is used"),),
         exit_code=0),
    # -- incidence by state (optional table)
    Case("incidence_unknown_product", (write_table("incidence", b"product_id,state,per_100k\n"
                                                   b"p1,PA,12\np9,NY,3\n"),),
         (E(INCIDENCE, 3, "product_id", "unknown product_id (not in products) (found 'p9')"),)),
    Case("incidence_negative_rate", (write_table("incidence", b"product_id,state,per_100k\n"
                                                 b"p1,PA,-2\n"),),
         (E(INCIDENCE, 2, "per_100k", "expected a number >= 0 (found '-2')"),)),
    Case("incidence_decimal_comma", (write_table("incidence", b"product_id,state,per_100k\n"
                                                 b"p1,PA,\"2,5\"\n"),),
         (E(INCIDENCE, 2, "per_100k", "decimal point", "(found '2,5')"),)),
    Case("incidence_state_twice", (write_table("incidence", b"product_id,state,per_100k\n"
                                               b"p1,PA,12\np1,NY,3\np1,PA,14\n"),),
         (E(INCIDENCE, 4, "product_id", "duplicate id (first used on row 2) (found 'p1 / PA')"),)),
    Case("incidence_missing_column", (write_table("incidence", b"product_id,per_100k\n"
                                                  b"p1,12\n"),),
         (E(INCIDENCE, 1, "state", "required column is missing"),)),
    Case("incidence_state_without_zones", (write_table("incidence", b"product_id,state,per_100k\n"
                                                       b"p1,Pa,12\np1,TX,3\n"),),
         (W(INCIDENCE, 2, "state", "no zone is in this state (zones.state), so the rate is not "
            "used; did you mean 'PA'? (found 'Pa')"),
          W(INCIDENCE, 3, "state", "no zone is in this state", "(found 'TX')")), exit_code=0),
    # the state's name where zones carry its code (a new user's first try)
    Case("incidence_state_by_name", (write_table("incidence", b"product_id,state,per_100k\n"
                                                 b"p1,Pennsylvania,12\n"),),
         (W(INCIDENCE, 2, "state", "so the rate is not used; did you mean 'PA'? (found "
            "'Pennsylvania')"),), exit_code=0),
    Case("warning_price_not_above_cogs", (cell("products", 2, "price_usd_per_dose", "100000"),
                                          cell("products", 2, "cogs_usd_per_dose", "150,000")),
         (W(PRODUCTS, 2, "price_usd_per_dose", "not above COGS (150,000 USD/dose)",
            "treats none of this product's patients but those a rule requires",
            "(found '100,000')"),), exit_code=0),
    Case("warning_kol_rule_without_kols", (header_only("kols"),
                                           model("dataset: tiny\nkols:\n  mode: require\n")),
         (W(MODEL, 3, "kols.mode", "the dataset has no KOLs",
            "the KOL rule changes nothing", "(found 'require')"),), exit_code=0),
    Case("warning_kol_coverage_of_weightless_kols", (
        cell("kols", 2, "weight", "0"), model("dataset: tiny\nkols:\n  mode: coverage\n")),
         (W(MODEL, 3, "kols.mode", "the weights of the 1 KOL(s) in scope sum to 0",
            "(found 'coverage')"),), exit_code=0),
    Case("warning_product_without_patients", (cell("products", 2, "incidence_per_100k", "0"),),
         (W(PRODUCTS, 2, "incidence_per_100k", "no patients a year in scope",
            "shapes nothing in the network", "(found '0')"),), exit_code=0),
    Case("warning_demand_scale_zero", (model("dataset: tiny\ndemand_scale: 0\n"),),
         (W(MODEL, 2, "demand_scale", "no product has any patients at a demand scale of 0"),),
         exit_code=0),
    # -- a warning about a value an edit wrote points at the edit
    Case("yaml_edit_sets_area_typo", (model("""
        dataset: tiny
        edits:
          - table: sites
            where: {site_id: S1}
            set: {certified_areas: oncolgy}
        """),), (W(MODEL, 5, "edits.0.set.certified_areas",
                   "tiny/sites.csv, row 2, as set by this edit: therapeutic area 'oncolgy' is "
                   "not used", "did you mean 'oncology'"),), exit_code=0),
    Case("yaml_edit_scales_doses_off_cadence", (
        cell("products", 2, "dose_interval_days", "3.5"),
        cell("products", 2, "treatment_weeks", "12"),
        cell("products", 2, "doses_per_patient", "24"),
        model("""
            dataset: tiny
            edits:
              - table: products
                scale:
                  doses_per_patient: 0.25
            """)),
         (W(MODEL, 5, "edits.0.scale.doses_per_patient",
            "tiny/products.csv, row 2, as scaled by this edit: inconsistent with cadence",
            "about 24 doses"),), exit_code=0),
    # -- values that look like rich markup must be printed as written, never crash
    Case("value_looks_like_markup", (cell("sites", 3, "status", "[/x]"),),
         (E(SITES, 3, "status", "expected one of existing, candidate, excluded (found '[/x]')"),)),
]


# ---------------------------------------------------------------- runner


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid copy of the tiny project; the working directory, so paths print short."""
    proj = tmp_path / "proj"
    shutil.copytree(TINY, proj / "tiny")
    (proj / "pyproject.toml").write_text("[project]\nname = 'corpus'\n", encoding="utf-8")
    (proj / "model.yaml").write_text("dataset: tiny\n", encoding="utf-8")
    monkeypatch.chdir(proj)
    return proj


def run_validate(model_file: str, strict: bool = False):
    args = ["validate", model_file, *(["--strict"] if strict else [])]
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "200"})
    return result, ANSI.sub("", result.stderr)


def test_corpus_size() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"


def test_tiny_project_is_valid(project: Path) -> None:
    result, stderr = run_validate("model.yaml")
    assert result.exit_code == 0, stderr
    assert "error:" not in stderr and "warning:" not in stderr


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, project: Path) -> None:
    for mutate in case.mutations:
        mutate(project)
    result, stderr = run_validate(case.model_file, case.strict)

    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}")
    assert result.exit_code == case.exit_code, stderr

    lines = stderr.splitlines()
    for exp in case.expect:
        found = [ln for ln in lines
                 if ln.startswith(exp.prefix()) and all(t in ln for t in exp.text)]
        assert found, f"no line starting {exp.prefix()!r} containing {exp.text} in:\n{stderr}"
    severity = case.expect[0].severity if case.expect else "error"  # a clean case: none
    reported = [ln for ln in lines if ln.startswith(f"{severity}: ")]
    assert len(reported) == len(case.expect), f"expected {len(case.expect)} {severity}s:\n{stderr}"
    if case.exit_code == 2:
        assert f"{len(case.expect)} error(s)" in stderr
    else:
        assert not [ln for ln in lines if ln.startswith("error: ")]


def test_console_script_reports_on_real_stderr(project: Path) -> None:
    """The installed entry point, not just CliRunner: problems on stderr, no traceback."""
    cell("sites", 3, "latitude", "95")(project)
    cell("kols", 2, "site_id", "S9")(project)
    script = Path(sys.executable).with_name("netopt")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c",
                                                 "from netopt.cli import app; app()"]
    proc = subprocess.run([*cmd, "validate", "model.yaml"], capture_output=True, text=True,
                          env={"NO_COLOR": "1", "PATH": ""}, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "error: tiny/sites.csv, row 3, column 'latitude':" in proc.stderr
    assert "error: tiny/kols.csv, row 2, column 'site_id':" in proc.stderr
    assert "error:" not in proc.stdout


@pytest.mark.parametrize("requirement", ["service:\n  min_share: 0.9\n",
                                         "service:\n  allow_unserved: false\n"])
def test_infeasible_shelf_life_is_named_as_the_cause(project: Path, requirement: str) -> None:
    """Exit 3 in domain words that name the real cause: a 26 h shelf life less the 24 h
    handling buffer leaves 2 h, less than any plant -> hub -> site route (not 'no site within
    reach': every site is within the patients' reach)."""
    cell("products", 2, "shelf_life_hours", "26")(project)
    model("dataset: tiny\n" + requirement)(project)
    result = CliRunner().invoke(app, ["solve", "model.yaml", "--out", "out", "--no-report"],
                                env={"NO_COLOR": "1", "COLUMNS": "400"})
    text = ANSI.sub("", result.output + result.stderr)
    assert "Traceback" not in text
    assert result.exit_code == 3, text
    assert ("none eligible: no lane fits the shelf life: 2 h from release to administration "
            "(shelf life 26 h minus a 24 h handling buffer)") in " ".join(text.split())
    assert "within reach" not in text



def test_a_case_that_can_treat_nobody_exits_3_saying_why(project: Path) -> None:
    """Every lane longer than any mode's reach: with untreated patients allowed the solve used
    to end 'optimal' with nobody served. It is an input problem: exit 3, in domain words."""
    replace_text("transport", ",800,", ",0,")(project)
    replace_text("transport", ",10000,", ",0,")(project)
    result = CliRunner().invoke(app, ["solve", "model.yaml", "--out", "out", "--no-report"],
                                env={"NO_COLOR": "1", "COLUMNS": "400"})
    text = " ".join(ANSI.sub("", result.output + result.stderr).split())
    assert "Traceback" not in text
    assert result.exit_code == 3, text
    assert "no patient in scope can be treated" in text
    assert "product p1: none of its 30.0 patients a year can reach a site able to treat" in text
    assert "no transport mode reaches" in text
    assert not (project / "out").exists()


def test_excluded_sites_are_named_as_the_cause(project: Path) -> None:
    """The only sites within the patients' reach are excluded: the reason says so, not 'no
    treatment site within 500 km'."""
    for row in (3, 4):
        cell("sites", row, "status", "excluded")(project)
    model("dataset: tiny\nproducts: [p1]\nservice:\n  allow_unserved: false\n"
          "edits:\n  - table: sites\n    where: {site_id: S1}\n"
          "    set: {latitude: 21.3, longitude: -157.8}\n")(project)
    result = CliRunner().invoke(app, ["solve", "model.yaml", "--out", "out", "--no-report"],
                                env={"NO_COLOR": "1", "COLUMNS": "400"})
    text = " ".join(ANSI.sub("", result.output + result.stderr).split())
    assert result.exit_code == 3, text
    assert "every treatment site within 500 km (the product's max patient travel) is " \
           "excluded (sites.csv status)" in text


def test_a_product_nobody_can_reach_is_warned_and_the_rest_solved(
        project: Path, caplog: pytest.LogCaptureFixture) -> None:
    """p2 (a copy of p1 whose 25-h shelf life leaves 1 h after the 24-h buffer) has no lane:
    the case still solves for p1, with a warning naming p2 and why; with untreated patients
    not allowed the diagnosis names it instead (and no warning promises they are left)."""
    copy_row("products", 2)(project)
    cell("products", 3, "product_id", "p2")(project)
    cell("products", 3, "shelf_life_hours", "25")(project)
    cell("plants", 2, "products", "p1;p2")(project)
    env = {"NO_COLOR": "1", "COLUMNS": "400"}
    with caplog.at_level("WARNING"):
        result = CliRunner().invoke(app, ["solve", "model.yaml", "--out", "out",
                                          "--no-report"], env=env)
    assert result.exit_code == 0, result.output + result.stderr
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("product p2: none of its 30.0 patients a year can reach a site")
               and "no lane fits the shelf life" in w
               and w.endswith("the network leaves them unserved") for w in warned), warned
    served = pd.read_csv(project / "out" / "assignments.csv").groupby(
        "product_id")["patients_per_year"].sum()
    assert served.get("p2", 0.0) == 0.0
    assert served["p1"] > 0
    caplog.clear()
    model("dataset: tiny\nservice:\n  allow_unserved: false\n")(project)
    with caplog.at_level("WARNING"):
        result = CliRunner().invoke(app, ["solve", "model.yaml", "--out", "out2",
                                          "--no-report"], env=env)
    assert result.exit_code == 3
    assert not [r for r in caplog.records if "leaves them unserved" in r.getMessage()]
