"""Python-level checks of the validation stage: parse_table, references, reading, edits."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from netopt.data.case import load_case
from netopt.data.io import load_model
from netopt.data.problems import InputError, Problem, errors
from netopt.data.schema import TABLES, format_bound
from netopt.data.tables import RawTable, read_text_table
from netopt.data.validate import (
    check_areas,
    check_margins,
    check_references,
    parse_number,
    parse_table,
)

TINY = Path(__file__).resolve().parent / "data" / "tiny"


def raw(table: str, rows: list[dict[str, str]], columns: list[str] | None = None) -> RawTable:
    """A hand-made text table, as io.read_text_table would hand it over."""
    frame = pd.DataFrame(rows, columns=columns or list(rows[0]), dtype=object)
    return RawTable(table, f"{table}.csv", frame)


def zone(zone_id: str, **cells: str) -> dict[str, str]:
    row = {"zone_id": zone_id, "name": "Z", "state": "NY", "latitude": "40",
           "longitude": "-74", "population": "1000"}
    return row | cells


def where(problems: list[Problem]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in problems]


# ---------------------------------------------------------------- parse_table


def test_first_data_row_is_spreadsheet_row_2() -> None:
    table = raw("zones", [zone("Z1", latitude="91"), zone("Z2"), zone("Z3", population="x")])
    typed, problems = parse_table(TABLES["zones"], table)
    assert where(problems) == [(2, "latitude"), (4, "population")]
    assert problems[0].file == "zones.csv" and problems[0].value == "91"
    assert len(typed) == 3  # rows with errors are kept (and reported), never dropped
    assert typed["population"].dtype == "float64"


def test_duplicate_id_names_first_row() -> None:
    table = raw("zones", [zone("A"), zone("B"), zone("A"), zone("A")])
    _, problems = parse_table(TABLES["zones"], table)
    assert where(problems) == [(4, "zone_id"), (5, "zone_id")]
    assert all("first used on row 2" in p.message and p.value == "A" for p in problems)


def test_ids_that_differ_only_by_case_are_warned() -> None:
    """`s1` beside `S1` are two zones (ids are case-sensitive); most often one was meant, so
    a warning names the other spelling's row. An exact duplicate stays an error, once."""
    table = raw("zones", [zone("S1"), zone("B"), zone("s1"), zone("S1"), zone("b")])
    _, problems = parse_table(TABLES["zones"], table)
    assert [(p.row, p.severity, p.value) for p in problems] == [
        (5, "error", "S1"), (4, "warning", "s1"), (6, "warning", "b")]
    assert "differs from row 2's 'S1' only by upper and lower case" in problems[1].message
    assert "row 3's 'B'" in problems[2].message


def test_composite_key_duplicates() -> None:
    row = {"zone_id": "Z1", "site_id": "S1", "product_id": "", "cost_usd_per_patient": "5"}
    _, problems = parse_table(TABLES["assignment_costs"], raw("assignment_costs", [row, row]))
    assert where(problems) == [(3, "zone_id")]
    assert problems[0].value == "Z1 / S1 / "


def test_composite_key_duplicates_without_the_optional_key_column() -> None:
    """assignment_costs without its optional product_id column: the second Z1/S1 row used to
    be dropped without a word (the solve took one of the two costs)."""
    rows = [{"zone_id": "Z1", "site_id": "S1", "cost_usd_per_patient": "100"},
            {"zone_id": "Z1", "site_id": "S1", "cost_usd_per_patient": "7"}]
    _, problems = parse_table(TABLES["assignment_costs"], raw("assignment_costs", rows))
    assert where(problems) == [(3, "zone_id")]
    assert "first used on row 2" in problems[0].message


@pytest.mark.parametrize("blank", ["", "nan", "NaN", "N/A", "null", "None"])
def test_blank_or_nan_in_required_column(blank: str) -> None:
    _, problems = parse_table(TABLES["zones"], raw("zones", [zone("Z1", population=blank)]))
    assert where(problems) == [(2, "population")]
    assert problems[0].message == "required value is blank" + (
        f" ({blank!r} reads as blank)" if blank else "")


def test_blank_optional_column_takes_default() -> None:
    row = {"kol_id": "K1", "name": "Dr", "therapeutic_area": "onc", "site_id": "S1",
           "weight": ""}
    typed, problems = parse_table(TABLES["kols"], raw("kols", [row]))
    assert problems == []
    assert typed.loc[0, "weight"] == 1.0


def test_missing_markers_in_an_optional_column_take_its_default_with_one_warning() -> None:
    """'NA' and 'nan' in an optional column are blanks (tools write them for a missing
    value), so the default applies, and the user is told once for the column, at its first
    such row, with how many more."""
    rows = [{"kol_id": f"K{i}", "name": "Dr", "therapeutic_area": "onc", "site_id": "S1",
             "weight": w} for i, w in enumerate(["2", "NA", "", "nan"])]
    typed, problems = parse_table(TABLES["kols"], raw("kols", rows))
    assert typed["weight"].tolist() == [2.0, 1.0, 1.0, 1.0]
    assert where(problems) == [(3, "weight")] and problems[0].severity == "warning"
    assert problems[0].message.startswith("'NA' reads as a blank cell and 1 more row(s): the "
                                          "column's default (1.0) applies")


@pytest.mark.parametrize(("text", "message"), [
    ("inf", "expected a finite number"),
    ("-inf", "expected a finite number"),
    ("1e999", "expected a finite number"),
    ("-1", "expected a number >= 0"),
    ("12 people", "expected a number"),
])
def test_bad_numbers(text: str, message: str) -> None:
    _, problems = parse_table(TABLES["zones"], raw("zones", [zone("Z1", population=text)]))
    assert [p.message for p in problems] == [message]


def test_number_with_thousands_separator_is_accepted() -> None:
    typed, problems = parse_table(TABLES["zones"], raw("zones", [zone("Z1", population="1,500")]))
    assert problems == [] and typed.loc[0, "population"] == 1500.0


@pytest.mark.parametrize(("text", "value"), [
    ("12,500,000", 12_500_000), ("1,000", 1000), ("-1,234", -1234), ("+2,000", 2000),
    ("1,000.5", 1000.5), ("999", 999), ("1.25", 1.25), ("1e5", 100_000),
])
def test_numbers_and_thousands_separators(text: str, value: float) -> None:
    assert parse_number(text) == (value, None)


@pytest.mark.parametrize("text", ["1,25", "4500,50", "1,2345", ",500", "1,,000", "1.000,5",
                                  "12,50,000", "1,000,", "0,5"])
def test_ambiguous_commas_are_refused_with_a_decimal_point_hint(text: str) -> None:
    # '1,25' must never become 125: circuity 1.25 read as 125 drops every ground lane
    value, err = parse_number(text)
    assert err is not None and "decimal point (1.25, not 1,25)" in err
    assert "thousands separator (1,000 or 12,500,000)" in err


def test_whole_numbers_take_thousands_separators_too() -> None:
    assert parse_number("1,000", whole=True) == (1000, None)
    assert parse_number("1.5", whole=True)[1] == "expected a whole number"
    assert "whole number with a decimal point" in parse_number("1,5", whole=True)[1]


def test_every_numeric_column_has_a_plausible_range() -> None:
    for table in TABLES.values():
        for col in table.columns:
            if col.kind in ("float", "int"):
                assert col.min is not None and col.max is not None, (table.name, col.name)
                assert col.min < col.max


@pytest.mark.parametrize(("table", "column"), [
    ("transport", "speed_kmh"), ("products", "shelf_life_hours"),
    ("products", "doses_per_shipment"), ("transport", "circuity"),
    ("policies", "review_period_days")])
def test_divisors_exclude_zero(table: str, column: str) -> None:
    col = TABLES[table].column(column)
    assert col.min > 0 or (col.min == 0 and col.min_exclusive)


def test_range_bounds_read_as_people_write_them() -> None:
    assert [format_bound(x) for x in (90, -180, 0.9999, 1.5, 1e7, 2e9)] == [
        "90", "-180", "0.9999", "1.5", "10,000,000", "2,000,000,000"]
    assert TABLES["transport"].column("speed_kmh").bounds == ["> 0", "<= 2,000"]


@pytest.mark.parametrize(("text", "message"), [
    ("0", "expected a number > 0 (the model divides by it: zero means nothing here)"),
    ("-70", "expected a number > 0"),
    ("2001", "expected a number <= 2,000"),
    ("70", None),
])
def test_speed_must_be_positive_and_plausible(text: str, message: str | None) -> None:
    row = {"mode": "ground", "speed_kmh": text, "fixed_hours": "4",
           "cost_usd_per_shipment_km": "2", "max_km": "800", "circuity": "1.25"}
    _, problems = parse_table(TABLES["transport"], raw("transport", [row]))
    assert [p.message for p in problems] == ([message] if message else [])


@pytest.mark.parametrize(("cell", "fixed"), [
    ("refrigerated, cryogenic", "refrigerated;cryogenic"),
    ("cryogenic;ultra_low, refrigerated", "cryogenic;ultra_low;refrigerated"),
])
def test_list_with_commas_gets_the_separator_hint(cell: str, fixed: str) -> None:
    row = {"partner_id": "P1", "name": "P", "latitude": "40", "longitude": "-74",
           "temperature_classes": cell, "capacity_doses_per_year": "1",
           "annual_fixed_cost_usd": "1", "cost_usd_per_dose": "1", "service_radius_km": "1"}
    _, problems = parse_table(TABLES["partners"], raw("partners", [row]))
    assert [p.message for p in problems] == [
        f"list items are separated by ';', not ',' (write {fixed!r})"]


# ---------------------------------------------------------------- therapeutic areas


def _areas(products: list[str], sites: list[tuple[str, ...]], kols: list[str],
           require: bool = False) -> list[tuple[str, int, str, str]]:
    tables = {"products": pd.DataFrame({"therapeutic_area": products}),
              "sites": pd.DataFrame({"certified_areas": sites}),
              "kols": pd.DataFrame({"therapeutic_area": kols})}
    files = {name: f"{name}.csv" for name in tables}
    return [(p.file, p.row, p.severity, p.message)
            for p in check_areas(tables, files, require)]


def test_matching_areas_and_new_areas_are_quiet() -> None:
    # a product area no site holds yet (and unlike any known name) is a normal launch
    assert _areas(["oncology", "endocrinology"], [("oncology",), ()], ["oncology"]) == []


def test_site_area_typo_names_the_closest_area() -> None:
    found = _areas(["oncology", "hematology"], [("oncology",), ("hematolgy", "oncology")],
                   [])
    # told once, at the site (a tie: one row each), naming where the other spelling is
    assert found == [("sites.csv", 3, "warning", "therapeutic area 'hematolgy' is not used "
                      "by any product or KOL; did you mean 'hematology' (as in products.csv, "
                      "row 3)?")]


def test_unrelated_site_area_is_a_warning_without_a_guess() -> None:
    (found,) = _areas(["oncology"], [("cardiology",), (), ("cardiology",)], [], require=True)
    assert found[1:] == (2, "warning", "therapeutic area 'cardiology' is not used by any "
                         "product or KOL (also on row 4)")


def test_area_typos_are_errors_under_kol_require() -> None:
    found = _areas(["oncology"], [("oncolgy",)], ["oncology", "Oncology"], require=True)
    assert [(f, r, s) for f, r, s, _ in found] == [("sites.csv", 2, "error"),
                                                   ("kols.csv", 3, "error")]
    assert "did you mean 'oncology' (as in products.csv, row 2)?" in found[1][3]


def test_area_typo_is_named_at_the_rarer_spelling() -> None:
    found = _areas(["oncolgy", "hematology"], [("oncology",), ("oncology", "hematology")],
                   ["oncology"])
    assert found == [("products.csv", 2, "warning", "no site is certified for therapeutic "
                      "area 'oncolgy'; did you mean 'oncology' (as in sites.csv, row 2)?")]


@pytest.mark.parametrize(("text", "ok"), [
    ("7:30", True), ("17:00", True), ("23:59", True),
    ("24:00", False), ("17:60", False), ("5pm", False), ("17.00", False),
])
def test_time_cells(text: str, ok: bool) -> None:
    row = {"hub_id": "H1", "name": "H", "latitude": "40", "longitude": "-74",
           "temperature_classes": "cryogenic", "capacity_shipments_per_year": "1",
           "annual_fixed_cost_usd": "1", "cost_usd_per_shipment": "1",
           "order_cutoff_local": text}
    _, problems = parse_table(TABLES["hubs"], raw("hubs", [row]))
    assert where(problems) == ([] if ok else [(2, "order_cutoff_local")])


def test_list_cell_items_are_trimmed_and_checked() -> None:
    row = {"partner_id": "P1", "name": "P", "latitude": "40", "longitude": "-74",
           "temperature_classes": " cryogenic ;ultra_low;; ", "capacity_doses_per_year": "1",
           "annual_fixed_cost_usd": "1", "cost_usd_per_dose": "1", "service_radius_km": "1"}
    typed, problems = parse_table(TABLES["partners"], raw("partners", [row]))
    assert problems == []
    assert typed.loc[0, "temperature_classes"] == ("cryogenic", "ultra_low")
    row["temperature_classes"] = "cryogenic;Cryogenic"
    _, problems = parse_table(TABLES["partners"], raw("partners", [row]))
    assert where(problems) == [(2, "temperature_classes")]
    assert "unknown value 'Cryogenic'" in problems[0].message


def test_missing_and_unknown_columns() -> None:
    rows = [{"zone_id": "Z1", "name": "A", "state": "NY", "latitude": "40",
             "longitude": "-74", "pop": "5"}]
    _, problems = parse_table(TABLES["zones"], raw("zones", rows))
    assert sorted((p.row, p.column, p.severity) for p in problems) == [
        (1, "pop", "warning"), (1, "population", "error")]


def test_header_only_table() -> None:
    empty = raw("zones", [], columns=TABLES["zones"].names)
    typed, problems = parse_table(TABLES["zones"], empty)
    assert [(p.row, p.message) for p in problems] == [(None, "table 'zones' has no rows")]
    assert typed.empty and typed["population"].dtype == "float64"
    kols = raw("kols", [], columns=TABLES["kols"].names)  # kols may be empty
    assert parse_table(TABLES["kols"], kols)[1] == []


def test_many_problems_in_one_table_are_all_reported() -> None:
    rows = [zone("Z1", latitude="x", longitude="200"), zone("Z2", population=""),
            zone("Z1", state="")]
    _, problems = parse_table(TABLES["zones"], raw("zones", rows))
    assert sorted(where(problems)) == [(2, "latitude"), (2, "longitude"), (3, "population"),
                                       (4, "state"), (4, "zone_id")]


# ---------------------------------------------------------------- references


def test_references_skip_blanks_and_missing_target_columns() -> None:
    sites = pd.DataFrame({"site_id": ["S1"]})
    kols = pd.DataFrame({"site_id": ["S1", "S2", ""]})
    files = {"sites": "sites.csv", "kols": "kols.csv"}
    problems = check_references({"sites": sites, "kols": kols}, files)
    assert [(p.file, p.row, p.column, p.value) for p in problems] == [
        ("kols.csv", 3, "site_id", "S2")]  # the blank (row 4) is the blank check's business
    # sites.csv lacking its key column (reported elsewhere) must not crash the check
    assert check_references({"sites": pd.DataFrame({"name": ["x"]}), "kols": kols}, files) == []


def test_list_references() -> None:
    products = pd.DataFrame({"product_id": ["p1"]})
    plants = pd.DataFrame({"products": [("p1", "p2"), ("p3",)]})
    files = {"products": "products.csv", "plants": "plants.csv"}
    problems = check_references({"products": products, "plants": plants}, files)
    assert [(p.row, p.value) for p in problems] == [(2, "p2"), (3, "p3")]


# ---------------------------------------------------------------- reading files


def test_longer_first_data_row_is_an_error_not_an_index(tmp_path: Path) -> None:
    # pandas' default would take the extra field as an index and shift every column left
    path = tmp_path / "zones.csv"
    path.write_text("zone_id,name\nZ1,A,extra\nZ2,B\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert [p.row for p in problems] == [2]


def test_unbalanced_quote_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text('zone_id,name\nZ1,A\nZ2,"B\nZ3,C\n', encoding="utf-8")
    _, problems = read_text_table(path)
    assert [p.row for p in problems] == [3]


def test_not_utf8_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_bytes("zone_id,name\nZ1,A\nZ2,Zürich\n".encode("latin-1"))
    _, problems = read_text_table(path)
    assert [p.row for p in problems] == [3]
    assert "not UTF-8" in problems[0].message


@pytest.mark.parametrize(("text", "row", "fields"), [
    ("zone_id,name,state\nZ1,A,NY\nZ2,B\n", 3, 2),
    ('zone_id,name,state\nZ1,"A\nstill A",NY\nZ2,B\n', 3, 2),  # a quoted line break
])
def test_short_rows_are_errors_not_defaults(tmp_path: Path, text: str, row: int,
                                            fields: int) -> None:
    path = tmp_path / "zones.csv"
    path.write_text(text, encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert [(p.row, p.message.split(" (")[0]) for p in problems] == [
        (row, f"this row has {fields} of 3 fields")]


def test_blank_lines_inside_a_table_are_named_by_their_line(tmp_path: Path) -> None:
    """pandas skips blank lines, so every row after one was named a row short of its place
    in the file and in a spreadsheet (a bad cell on row 4 reported on row 3). Blank lines
    at the end are fine."""
    path = tmp_path / "zones.csv"
    path.write_text("zone_id,name,state\n\nZ1,A,NY\n   \nZ2\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    blank = "blank line inside the table: remove it, so that every row keeps its number"
    assert [(p.row, p.message.split(" (")[0]) for p in problems] == [
        (2, blank), (4, blank), (5, "this row has 1 of 3 fields")]  # Z2 on spreadsheet row 5
    path.write_text("zone_id,name,state\nZ1,A,NY\n\n\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == [] and frame.values.tolist() == [["Z1", "A", "NY"]]
    path.write_text("\nzone_id,name,state\nZ1,A,NY\n", encoding="utf-8")
    _, problems = read_text_table(path)
    assert [(p.row, p.message.split(":")[0]) for p in problems] == [
        (1, "blank line above the header")]


def test_blank_cells_with_every_separator_are_fine(tmp_path: Path) -> None:
    """A row with some cells is a row; a row of separators only is a blank line, as a
    spreadsheet saved as CSV writes its empty rows: dropped after the last row (it read as a
    row of blank required values, one error per column)."""
    path = tmp_path / "zones.csv"
    path.write_text("zone_id,name,state\nZ1,,\n,,\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == [] and frame.values.tolist() == [["Z1", "", ""]]


@pytest.mark.parametrize(("sep", "name"), [(";", "';' (semicolon)"), ("\t", "tab"),
                                           ("|", "'|' (pipe)")])
def test_other_delimiters_get_one_message(tmp_path: Path, sep: str, name: str) -> None:
    path = tmp_path / "transport.csv"
    path.write_text(f"mode{sep}speed_kmh{sep}circuity\nground{sep}70{sep}1,25\n"
                    f"air{sep}700{sep}1,1\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert len(problems) == 1
    assert problems[0].message.startswith(f"columns are separated by {name}, not by commas")


def test_one_column_file_is_not_taken_for_another_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text("zone_id\nZ1;Z2\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == [] and frame["zone_id"].tolist() == ["Z1;Z2"]


def test_parquet_cells_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "zones.parquet"
    pd.DataFrame({"zone_id": ["Z1", "Z2"], "population": [1500.5, None],
                  "kol_count": [3, 4]}).to_parquet(path, index=False)
    frame, problems = read_text_table(path)
    assert problems == []
    assert frame.values.tolist() == [["Z1", "1500.5", "3"], ["Z2", "", "4"]]


def test_parquet_without_an_engine_says_how_to_install_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    path = tmp_path / "zones.parquet"
    pd.DataFrame({"zone_id": ["Z1"]}).to_parquet(path, index=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyarrow", "fastparquet")
                        else real(name, *a))
    frame, problems = read_text_table(path)
    assert frame is None
    assert [p.message for p in problems] == [
        "reading Parquet needs the pyarrow package: pip install pyarrow (or save the table "
        "as CSV)"]


def test_text_table_cells_are_stripped_strings(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text("\ufeffzone_id , name,,state\n Z1 ,  A ,x,B\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == []
    assert list(frame.columns) == ["zone_id", "name", "Unnamed: 2", "state"]
    assert frame.iloc[0].tolist() == ["Z1", "A", "x", "B"]


# ---------------------------------------------------------------- model files and edits


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    proj = tmp_path / "proj"
    shutil.copytree(TINY, proj / "tiny")
    (proj / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(proj)
    return proj


def test_edit_problems_point_at_the_file_and_line_that_wrote_them(project: Path) -> None:
    (project / "base.yaml").write_text(
        "dataset: tiny\n"
        "edits:\n"
        "  - {table: sites, set: {status: excluded}}\n"
        "  - {table: sites, set: {colour: red}}\n", encoding="utf-8")
    (project / "model.yaml").write_text(
        "extends: base.yaml\n"
        "edits:\n"
        "  - {table: sitez, set: {status: existing}}\n", encoding="utf-8")
    loaded, problems = load_model("model.yaml")
    assert problems == [] and loaded is not None
    assert loaded.where("edits", 1, "set", "colour") == ("base.yaml", 4)
    assert loaded.where("edits", 2, "table") == ("model.yaml", 3)
    with pytest.raises(InputError) as info:
        load_case("model.yaml")
    found = sorted((p.file, p.row, p.column) for p in errors(info.value.problems))
    assert found == [("base.yaml", 4, "edits.1.set.colour"), ("model.yaml", 3, "edits.2.table")]


def test_scale_edit_matches_numeric_where_and_keeps_whole_numbers(project: Path) -> None:
    (project / "model.yaml").write_text(
        "dataset: tiny\n"
        "edits:\n"
        "  - table: sites\n"
        "    where: {capacity_patients_per_year: 50, status: candidate}\n"
        "    scale: {annual_fixed_cost_usd: 0.5, kol_count: 2.5}\n"
        "  - {table: sites, where: {site_id: S1}, scale: {kol_count: 1.5}}\n",
        encoding="utf-8")
    case = load_case("model.yaml")
    sites = case.sites.set_index("site_id")
    assert sites["annual_fixed_cost_usd"].to_dict() == {"S1": 100000, "S2": 40000,
                                                        "S3": 30000}
    assert sites["kol_count"].dtype == "int64"
    assert sites.loc["S1", "kol_count"] == 2  # 1 x 1.5 rounds to a whole number of KOLs


def test_edits_not_a_list_is_a_problem_not_a_crash(project: Path) -> None:
    (project / "model.yaml").write_text("dataset: tiny\nedits: {table: sites}\n",
                                        encoding="utf-8")
    loaded, problems = load_model("model.yaml")
    assert loaded is None
    assert [(p.file, p.row, p.column) for p in problems] == [("model.yaml", 2, "edits")]


def test_valid_tiny_case_loads(project: Path) -> None:
    (project / "model.yaml").write_text("dataset: tiny\n", encoding="utf-8")
    case = load_case("model.yaml")
    assert case.warnings == []
    assert math.isclose(float(case.patients_by_product()["p1"]), 30.0)


def test_duplicate_yaml_keys_name_both_lines(project: Path) -> None:
    (project / "model.yaml").write_text(
        "dataset: tiny\nobjective: cost\nedits:\n  - table: sites\n    set: {status: x}\n"
        "    set: {status: candidate}\nobjective: margin\n", encoding="utf-8")
    loaded, problems = load_model("model.yaml")
    assert loaded is None
    assert [(p.row, p.column, p.message) for p in problems] == [
        (6, "edits.0.set", "key 'set' is given twice, on lines 5 and 6: keep one (YAML would "
         "silently use the last)"),
        (7, "objective", "key 'objective' is given twice, on lines 2 and 7: keep one (YAML "
         "would silently use the last)")]


def test_yaml_merge_keys_may_override(project: Path) -> None:
    (project / "model.yaml").write_text(
        "dataset: tiny\nbase: &b {time_limit: 5, threads: 1}\nsolver:\n  <<: *b\n"
        "  time_limit: 9\n", encoding="utf-8")
    _, problems = load_model("model.yaml")
    assert [p.column for p in problems] == ["base"]  # unknown setting; no duplicate key


@pytest.mark.parametrize(("factor", "text"), [
    (0, "scaling by 0 puts speed_kmh out of its range (> 0 and <= 2,000) on row(s) 2, 3"),
    (10, "scaling by 10 puts speed_kmh out of its range (> 0 and <= 2,000) on row(s) 3, "
          "e.g. 7000"),
])
def test_scale_edits_keep_columns_in_range(project: Path, factor: float, text: str) -> None:
    (project / "model.yaml").write_text(
        f"dataset: tiny\nedits:\n  - table: transport\n    scale: {{speed_kmh: {factor}}}\n",
        encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_case("model.yaml")
    (problem,) = errors(info.value.problems)
    assert (problem.file, problem.row, problem.column) == ("model.yaml", 4,
                                                           "edits.0.scale.speed_kmh")
    assert text in problem.message


def test_thousands_separators_give_the_same_case(project: Path) -> None:
    path = project / "tiny" / "zones.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",200000\n", ',"200,000"\n'),
                    encoding="utf-8")
    case = load_case("model.yaml" if (project / "model.yaml").exists() else _model(project))
    assert case.zones["population"].tolist() == [100000.0, 200000.0]


def _model(project: Path) -> str:
    (project / "model.yaml").write_text("dataset: tiny\n", encoding="utf-8")
    return "model.yaml"



def test_an_input_the_case_lacks_is_an_empty_table_of_its_own(project: Path) -> None:
    """tiny has no policies.csv: the case gives an empty table of the schema's columns, a new
    one each time (built once and copied), so a caller's change stays its own."""
    (project / "model.yaml").write_text("dataset: tiny\n", encoding="utf-8")
    case = load_case("model.yaml")
    first = case.policies
    assert first.empty and list(first.columns) == [c.name for c in TABLES["policies"].columns]
    first["added"] = []
    first.index.name = "changed"
    again = case.policies
    assert again is not first and "added" not in again.columns and again.index.name is None


def test_a_table_under_a_near_name_is_named_in_a_warning(tmp_path: Path) -> None:
    """incidences.csv (for incidence.csv) was left out without a word: the case solved
    without its state rates. Now a warning names the file and the table it may mean."""
    data = tmp_path / "tiny"
    shutil.copytree(TINY, data)
    (data / "incidences.csv").write_text("state,product_id,incidence_per_100k\nNY,p1,300\n",
                                         encoding="utf-8")
    model = tmp_path / "m.yaml"
    model.write_text("name: m\ndataset: tiny\n", encoding="utf-8")
    (data / "notes.csv").write_text("what,why\nx,y\n", encoding="utf-8")  # not near a table
    (warning,) = load_case(model).warnings
    assert warning.severity == "warning" and warning.file.endswith("incidences.csv")
    assert "did you mean incidence.csv?" in warning.message
    with pytest.raises(InputError):  # --strict: warnings are errors
        load_case(model, strict=True)


def test_a_column_named_twice_in_the_header_is_an_error(tmp_path: Path) -> None:
    """pandas kept the first 'population' and renamed the second 'population.1', which the
    warning then named as an unknown column the file does not have."""
    path = tmp_path / "zones.csv"
    path.write_text("zone_id,name,state,latitude,longitude,population,population\n"
                    "Z1,A,NY,40,-74,1000,5\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert [(p.row, p.column) for p in problems] == [(1, "population")]
    assert "in the header twice (columns 6 and 7)" in problems[0].message


@pytest.mark.parametrize(("price", "cogs", "penalty", "allow_unserved", "warned"), [
    (100.0, 150.0, math.nan, True, True),     # sold at a loss, nothing forces service
    (150.0, 150.0, math.nan, True, True),     # no margin either: still nobody is worth it
    (150.1, 150.0, math.nan, True, False),    # any positive margin is a reason to serve
    (100.0, 150.0, 5e5, True, False),         # the user priced an untreated patient
    (100.0, 150.0, math.nan, False, False),   # every patient must be served anyway
])
def test_a_product_not_worth_serving_is_warned_only_when_nothing_makes_it_served(
        price: float, cogs: float, penalty: float, allow_unserved: bool, warned: bool) -> None:
    products = pd.DataFrame({"price_usd_per_dose": [500.0, price],
                             "cogs_usd_per_dose": [100.0, cogs],
                             "unserved_penalty_usd_per_patient": [math.nan, penalty]})
    products["product_id"] = ["p1", "p2"]
    problems = check_margins(products, "products.csv", allow_unserved)
    assert [(p.row, p.column, p.severity) for p in problems] == (
        [(3, "price_usd_per_dose", "warning")] if warned else [])
    # a product the model file leaves out of scope is never solved: nothing to warn about
    assert check_margins(products, "products.csv", allow_unserved, scope=["p1"]) == []


@pytest.mark.parametrize(("kind", "bounds", "text", "said"), [
    # a currency-formatted cell saved to CSV: the sign is the problem, not a decimal comma
    ("float", (0, None), "$420,000", "without a currency sign (420000 or 420,000, not "
     "$420,000)"),
    # a share typed as a percentage, with or without the sign
    ("float", (0, 1), "15%", "expected a share between 0 and 1: write 0.15 for 15 %"),
    ("float", (0, 1), "15", "expected a share between 0 and 1: write 0.15 for 15 %"),
    # the user's own figure, not the example's (90 read as "write 0.15 for 15 %")
    ("float", (0, 1), "90", "expected a share between 0 and 1: write 0.9 for 90 %"),
    ("float", (0, 1), "12.5%", "expected a share between 0 and 1: write 0.125 for 12.5 %"),
    ("float", (0, 1), "150", "expected a number <= 1"),
    ("float", (0, None), "5%", "expected a number without '%'"),
])
def test_cell_messages_say_what_to_write(kind: str, bounds: tuple, text: str,
                                         said: str) -> None:
    """Messages a new user met (review): '$420,000' was blamed on a decimal comma, and a
    restocking fee of 15 (or 15%) only said "expected a number <= 1"."""
    from netopt.data.schema import Column
    from netopt.data.validate import _parse_cell

    col = Column("c", kind, "a column", min=bounds[0], max=bounds[1])
    value, err = _parse_cell(col, text)
    assert value is None and said in err


def test_a_value_in_another_case_is_named_as_written() -> None:
    from netopt.data.schema import Column
    from netopt.data.validate import _parse_cell

    col = Column("status", "str", "a status", allowed=("existing", "candidate", "excluded"))
    assert _parse_cell(col, "Existing") == (
        None, "expected one of existing, candidate, excluded: write 'existing' (the values "
        "are case-sensitive)")
    assert _parse_cell(col, "open")[1] == "expected one of existing, candidate, excluded"


@pytest.mark.parametrize(("key", "meant"), [
    (("solver", "gap"), "solver.mip_gap"),  # as the CLI's --gap says it
    (("service", "min_shar"), "service.min_share"),
    (("service", "within"), "service.within_km"),
    (("service", "zzz"), None),
    (("nosuch", "gap"), None),
])
def test_an_unknown_setting_names_the_one_meant(key: tuple, meant: str | None) -> None:
    from netopt.data.io import near_setting

    assert near_setting(key) == meant


def test_a_model_file_s_unknown_setting_says_which_was_meant(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).parent / "data" / "tiny", tmp_path / "tiny")
    (tmp_path / "m.yaml").write_text("name: m\ndataset: tiny\nsolver:\n  gap: 0.01\n")
    _, problems = load_model(tmp_path / "m.yaml")
    (problem,) = problems
    assert (problem.row, problem.column) == (4, "solver.gap")
    assert problem.message.startswith("unknown setting: did you mean 'solver.mip_gap'?")


def test_a_launch_month_written_as_a_date_is_told_the_month(tmp_path: Path) -> None:
    """YAML reads `start: 2027-01-01` as a date; pydantic's "Input should be a valid string"
    did not say what to write."""
    shutil.copytree(Path(__file__).parent / "data" / "tiny", tmp_path / "tiny")
    (tmp_path / "m.yaml").write_text("name: m\ndataset: tiny\ntimeline:\n  periods: 2\n"
                                     "  start: 2027-03-01\n")
    _, problems = load_model(tmp_path / "m.yaml")
    (problem,) = problems
    assert (problem.row, problem.column, problem.value) == (5, "timeline.start", "2027-03-01")
    assert problem.message == ("expected a month as YYYY-MM, not a date: write '2027-03' (the "
                               "first period starts on the month's first day)")


def test_a_title_row_above_the_header_is_one_message() -> None:
    """A hubs sheet whose column names sit in row 2 under a title (read as row 1, so the
    names come back as the first data row) gave a "required column is missing" per column
    and an "Unnamed" warning per cell: one message now, naming the row that holds them."""
    from netopt.data.validate import parse_table

    names = TABLES["hubs"].names
    frame = pd.DataFrame([names, ["H1", *[""] * (len(names) - 1)]],
                         columns=["Our 3PL hubs", *[f"Unnamed: {i}" for i in
                                                     range(1, len(names))]])
    typed, problems = parse_table(TABLES["hubs"], RawTable("hubs", "b.xlsx[hubs]", frame))
    assert [(p.file, p.row, p.message) for p in problems] == [
        ("b.xlsx[hubs]", 1, "row 1 must hold the column names; they appear to be in row 2: "
         "delete the rows above them")]
    assert typed.empty


@pytest.mark.parametrize(("item", "hint"), [
    ("aav-gt", "; did you mean 'aav_gt'?"),  # a hyphen for the underscore
    ("CART_ONC", "; did you mean 'cart_onc'?"),
    ("cart_onx", "; did you mean 'cart_onc'?"),
    ("aav", ""),  # too far from any id to guess
    ("S6", ""),
])
def test_an_unknown_id_names_the_one_meant(item: str, hint: str) -> None:
    from netopt.data.validate import did_you_mean

    assert did_you_mean(item, {"cart_onc", "aav_gt", "S5"}) == hint
