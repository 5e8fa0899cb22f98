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
from netopt.data.schema import TABLES
from netopt.data.tables import RawTable, read_text_table
from netopt.data.validate import check_references, parse_table

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


def test_composite_key_duplicates() -> None:
    row = {"zone_id": "Z1", "site_id": "S1", "product_id": "", "cost_usd_per_patient": "5"}
    _, problems = parse_table(TABLES["assignment_costs"], raw("assignment_costs", [row, row]))
    assert where(problems) == [(3, "zone_id")]
    assert problems[0].value == "Z1 / S1 / "


@pytest.mark.parametrize("blank", ["", "nan", "NaN", "N/A", "null", "None"])
def test_blank_or_nan_in_required_column(blank: str) -> None:
    _, problems = parse_table(TABLES["zones"], raw("zones", [zone("Z1", population=blank)]))
    assert where(problems) == [(2, "population")]
    assert problems[0].message == "required value is blank"


def test_blank_optional_column_takes_default() -> None:
    row = {"kol_id": "K1", "name": "Dr", "therapeutic_area": "onc", "site_id": "S1",
           "weight": ""}
    typed, problems = parse_table(TABLES["kols"], raw("kols", [row]))
    assert problems == []
    assert typed.loc[0, "weight"] == 1.0


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


def test_text_table_cells_are_stripped_strings(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text("\ufeffzone_id , name,,name\n Z1 ,  A ,x,B\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == []
    assert list(frame.columns) == ["zone_id", "name", "Unnamed: 2", "name.1"]
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
