"""Excel workbooks as datasets: template, export, reading back, lossless CSV round trips.

Workbooks are made with the real CLI (`netopt data template | export | export-csv`) and
edited with openpyxl the way a user would edit them in Excel; problems must name the sheet,
the spreadsheet row and the column, with exit code 2 and no traceback.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from netopt.cli.app import app
from netopt.data.case import load_case
from netopt.data.excel import cell_text, number_cell, read_workbook
from netopt.data.io import read_tables
from netopt.data.schema import TABLES, TEMPERATURE_CLASSES, schema_frame
from netopt.results.pipeline import solve_case

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "data" / "tiny"
TINY_MODEL = REPO / "tests" / "data" / "tiny.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*args: str | Path):  # noqa: ANN201 - click Result
    result = CliRunner().invoke(app, [str(a) for a in args],
                                env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}")
    return result


def errors_of(result) -> list[str]:  # noqa: ANN001
    return [ln for ln in ANSI.sub("", result.stderr).splitlines() if ln.startswith("error: ")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (pyproject.toml marks the root); the working directory, so
    paths in messages print short."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'xl'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def header(sheet) -> list[str]:  # noqa: ANN001
    return [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]


# ---------------------------------------------------------------- template


def test_template_has_every_table_headed_with_comments_and_readme(project: Path) -> None:
    assert run("data", "template", "t.xlsx").exit_code == 0
    book = openpyxl.load_workbook("t.xlsx")
    assert book.sheetnames == ["README", *TABLES]
    for name, spec in TABLES.items():
        sheet = book[name]
        assert header(sheet) == spec.names
        assert sheet.max_row == 1, f"{name}: row 2 must be the first data row, left empty"
        assert sheet.freeze_panes == "A2"
    capacity = book["sites"]["I1"]
    assert capacity.value == "capacity_patients_per_year"
    assert "Unit: patients/yr" in capacity.comment.text
    assert "Required: yes" in capacity.comment.text
    onboarding = book["sites"].cell(row=1, column=TABLES["sites"].names.index(
        "onboarding_days") + 1)
    assert "Required: no (default: 90" in onboarding.comment.text
    # coordinates a location may stand in for are not marked plainly required
    for name in ("sites", "zones", "hubs", "partners", "plants"):
        sheet = book[name]
        for column in ("latitude", "longitude"):
            head = sheet.cell(row=1, column=TABLES[name].names.index(column) + 1)
            assert "Required: yes, unless the row's location is given" in head.comment.text
            assert head.fill.fgColor.rgb == "FFEDEDED", (name, column)  # the optional shade
    equipment_cost = book["equipment"]["B1"]
    assert equipment_cost.fill.fgColor.rgb == "FFD9E1F2"  # a plainly required column
    # README: one row per schema column, below its header row
    readme = [row for row in book["README"].iter_rows(values_only=True) if any(row)]
    schema = schema_frame()
    top = readme.index(tuple(schema.columns))
    body = readme[top + 1:]
    assert len(body) == len(schema)
    assert ("sites", "capacity_patients_per_year") in {(r[0], r[1]) for r in body}


def _rules(sheet, column: str):  # noqa: ANN001, ANN202
    letter = openpyxl.utils.get_column_letter(header(sheet).index(column) + 1)
    return [dv for dv in sheet.data_validations.dataValidation
            if any(str(r).startswith(f"{letter}2:") for r in dv.sqref.ranges)]


def test_template_drop_downs_and_number_ranges(project: Path) -> None:
    run("data", "template", "t.xlsx")
    book = openpyxl.load_workbook("t.xlsx")
    (classes,) = _rules(book["products"], "temperature_class")
    assert classes.type == "list" and classes.showErrorMessage
    assert classes.formula1 == '"' + ",".join(TEMPERATURE_CLASSES) + '"'
    assert str(classes.sqref) == "E2:E5000"
    # several classes per cell are allowed there, so the drop-down must not reject 'a;b'
    (multi,) = _rules(book["sites"], "temperature_classes")
    assert multi.type == "list" and not multi.showErrorMessage
    (capacity,) = _rules(book["sites"], "capacity_patients_per_year")
    assert (capacity.type, capacity.operator, capacity.formula1, capacity.formula2) == (
        "decimal", "between", "0", "10000000")  # a plausible range, written without 1e+07
    (speed,) = _rules(book["transport"], "speed_kmh")  # > 0: no Excel operator, a formula
    assert (speed.type, speed.formula1) == ("custom", "AND(ISNUMBER(B2),B2>0,B2<=2000)")
    (latitude,) = _rules(book["sites"], "latitude")
    assert (latitude.operator, latitude.formula1, latitude.formula2) == ("between", "-90", "90")
    (kol_count,) = _rules(book["sites"], "kol_count")
    assert kol_count.type == "whole"
    (site,) = _rules(book["kols"], "site_id")  # a reference: pick from the sites sheet
    assert site.formula1 == "=sites!$A$2:$A$5000" and site.errorStyle == "warning"


def test_untouched_template_reads_as_empty_tables(project: Path) -> None:
    run("data", "template", "t.xlsx")
    tables, problems = read_workbook("t.xlsx")
    assert problems == []
    required = {n for n, t in TABLES.items() if t.required or t.allow_empty}
    assert set(tables) == required  # optional sheets left empty count as absent
    assert all(len(t.frame) == 0 for t in tables.values())
    assert tables["sites"].file == "t.xlsx[sites]"
    assert list(tables["sites"].frame.columns) == TABLES["sites"].names


def test_an_optional_sheet_cleared_whole_counts_as_absent(project: Path) -> None:
    """The template's README says optional tables may be left empty; a new user who
    cleared the kols sheet whole (header too) got "sheet is empty (no header row)", an
    error. A required sheet cleared whole is still one."""
    run("data", "template", "t.xlsx")
    book = openpyxl.load_workbook("t.xlsx")
    book["kols"].delete_rows(1, book["kols"].max_row)
    book["sites"].delete_rows(1, book["sites"].max_row)
    book.save("t.xlsx")
    tables, problems = read_workbook("t.xlsx")
    assert "kols" not in tables
    assert [(p.file, p.message) for p in problems] == [
        ("t.xlsx[sites]", "sheet is empty (no header row)")]


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(("text", "stored"), [
    ("50", 50), ("0", 0), ("-3", -3), ("40.1", 40.1), ("-74.17", -74.17), ("0.05", 0.05),
    ("0.00001", 0.00001), ("123456789012345", 123456789012345),
    ("40.0", None), ("007", None), ("1e5", None), ("-0", None), ("+5", None), ("5.", None),
    ("1234567890123456", None), ("0.12345678901234567", None), ("1,000", None),
    ("17:00", None), ("S1", None), ("", None),
])
def test_number_cell_only_when_it_reads_back_identically(text: str,
                                                         stored: float | None) -> None:
    number = number_cell(text)
    assert number == stored and type(number) is type(stored)
    if number is not None:
        assert cell_text(number) == text


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), ("  S1 ", "S1"), (3, "3"), (3.0, "3"), (0.1, "0.1"),
    (1.1000000000000001, "1.1"),  # how Excel may store a typed 1.1
    (0.30000000000000004, "0.3"), (1e-05, "0.00001"), (-0.0, "0"), (True, "true"),
    (dt.time(17, 0), "17:00"), (dt.time(6, 5, 30), "06:05:30"),
    (dt.datetime(2024, 1, 5), "2024-01-05"), (dt.datetime(2024, 1, 5, 8, 30), "2024-01-05 08:30"),
])
def test_cell_text_is_what_the_user_typed(value: object, text: str) -> None:
    assert cell_text(value) == text


# ---------------------------------------------------------------- lossless round trip


@pytest.mark.parametrize("dataset", ["tests/data/tiny", "data/us-small", "data/us"])
def test_csv_to_workbook_to_csv_is_byte_identical(dataset: str, project: Path) -> None:
    source = REPO / dataset
    started = time.perf_counter()
    assert run("data", "export", source, "book.xlsx").exit_code == 0
    assert run("data", "export-csv", "book.xlsx", "back").exit_code == 0
    elapsed = time.perf_counter() - started
    originals = sorted(p.name for p in source.glob("*.csv"))
    assert sorted(p.name for p in Path("back").iterdir()) == originals
    for name in originals:
        assert (Path("back") / name).read_bytes() == (source / name).read_bytes(), name
    assert elapsed < 30  # data/us (3,400 zones) takes ~0.6 s here


def test_export_writes_numbers_as_numbers_and_ids_as_text(project: Path) -> None:
    run("data", "export", TINY_MODEL, "book.xlsx")  # a model file: its dataset
    book = openpyxl.load_workbook("book.xlsx")
    assert book.sheetnames == ["README", *[n for n in TABLES if (TINY / f"{n}.csv").exists()]]
    sites = book["sites"]
    row2 = dict(zip(header(sites), (c.value for c in sites[2]), strict=True))
    assert row2["site_id"] == "S1" and row2["status"] == "existing"
    assert row2["capacity_patients_per_year"] == 50 and row2["latitude"] == 40.1
    row3 = dict(zip(header(sites), (c.value for c in sites[3]), strict=True))
    assert row3["latitude"] == 40.1 and row3["longitude"] == "-76.0"  # '-76.0' stays text
    assert row3["certified_areas"] is None  # blank stays blank
    hubs = book["hubs"]
    cutoff = dict(zip(header(hubs), (c.value for c in hubs[2]), strict=True))
    assert cutoff["order_cutoff_local"] == "18:00"


def test_export_is_reproducible(project: Path) -> None:
    """Same dataset, same bytes: openpyxl's save-time stamps are fixed."""
    run("data", "export", TINY, "a.xlsx")
    time.sleep(1.1)  # zip entries carry 2-second times, documents a second-resolution stamp
    run("data", "export", TINY, "b.xlsx")
    assert Path("a.xlsx").read_bytes() == Path("b.xlsx").read_bytes()


def test_export_of_a_model_with_edits_says_the_workbook_lacks_them(project: Path) -> None:
    """A scenario's edits change its dataset when it loads; the workbook holds the stored
    tables, so export says which edit it lacks instead of passing for the scenario."""
    text = TINY_MODEL.read_text(encoding="utf-8").replace("dataset: tiny", f"dataset: {TINY}")
    text += ("edits:\n  - {table: products, where: {product_id: p1}, "
             "scale: {price_usd_per_dose: 2}}\n")
    Path("scenario.yaml").write_text(text, encoding="utf-8")
    result = run("data", "export", "scenario.yaml", "book.xlsx")
    assert result.exit_code == 0
    warning = " ".join(ANSI.sub("", result.stderr).split())
    assert "scenario.yaml" in warning and "'edits.0'" in warning
    assert "scale price_usd_per_dose of products" in warning and "without it" in warning
    prices = dict(pd.read_excel("book.xlsx", "products")[["product_id",
                                                             "price_usd_per_dose"]].values)
    stored = pd.read_csv(TINY / "products.csv").set_index("product_id")["price_usd_per_dose"]
    assert prices["p1"] == stored["p1"]  # as stored, not doubled


# ---------------------------------------------------------------- workbook as a dataset


def _tiny_workbook_project(project: Path) -> Path:
    """The tiny model reading a workbook made by `data template --dataset`."""
    assert run("data", "template", "data.xlsx", "--dataset", TINY).exit_code == 0
    text = TINY_MODEL.read_text(encoding="utf-8").replace("dataset: tiny", "dataset: data.xlsx")
    assert "dataset: data.xlsx" in text
    (project / "model.yaml").write_text(text, encoding="utf-8")
    return project / "data.xlsx"


def _set(book_path: Path, sheet: str, row: int, column: str, value: object) -> None:
    book = openpyxl.load_workbook(book_path)
    ws = book[sheet]
    ws.cell(row=row, column=header(ws).index(column) + 1, value=value)
    book.save(book_path)


def test_workbook_dataset_is_valid_and_reads_like_the_folder(project: Path) -> None:
    path = _tiny_workbook_project(project)
    assert run("validate", "model.yaml").exit_code == 0
    from_book, problems = read_tables(path)
    from_folder, _ = read_tables(TINY)
    assert problems == []
    assert sorted(from_book) == sorted(from_folder)
    for name, table in from_folder.items():
        pd.testing.assert_frame_equal(from_book[name].frame, table.frame, obj=name)


def test_bad_cells_name_sheet_row_and_column(project: Path) -> None:
    path = _tiny_workbook_project(project)
    _set(path, "sites", 4, "capacity_patients_per_year", -5)  # S3
    _set(path, "products", 2, "temperature_class", "frozen")
    result = run("validate", "model.yaml")
    assert result.exit_code == 2
    errs = errors_of(result)
    assert "error: data.xlsx[sites], row 4, column 'capacity_patients_per_year': expected a "\
           "number >= 0 (found '-5')" in errs
    assert "error: data.xlsx[products], row 2, column 'temperature_class': expected one of "\
           f"{', '.join(TEMPERATURE_CLASSES)} (found 'frozen')" in errs
    assert len(errs) == 2


def test_missing_required_sheet_names_the_workbook(project: Path) -> None:
    path = _tiny_workbook_project(project)
    book = openpyxl.load_workbook(path)
    del book["plants"]
    book.save(path)
    result = run("validate", "model.yaml")
    assert result.exit_code == 2
    assert errors_of(result) == [
        "error: data.xlsx: required table 'plants' is missing (no sheet named 'plants')"]


def test_corrupt_or_missing_workbook_is_exit_2(project: Path) -> None:
    (project / "model.yaml").write_text("dataset: data.xlsx\n", encoding="utf-8")
    (project / "data.xlsx").write_text("product_id,name\np1,x\n", encoding="utf-8")
    result = run("validate", "model.yaml")
    assert result.exit_code == 2
    (line,) = errors_of(result)
    assert line.startswith("error: data.xlsx: cannot read workbook: not a zip archive")
    (project / "data.xlsx").unlink()
    result = run("validate", "model.yaml")
    assert result.exit_code == 2
    assert errors_of(result) == ["error: model.yaml, line 1, column 'dataset': dataset "
                                 "workbook not found (found 'data.xlsx')"]
    result = run("data", "export-csv", "data.xlsx", "out")
    assert result.exit_code == 2 and errors_of(result) == ["error: data.xlsx: workbook not found"]


def test_sheet_layout_a_user_might_leave(project: Path) -> None:
    """Sheet names in any case, a blank row inside the data (kept so rows stay spreadsheet
    rows, and an error of its own), trailing blank rows, a value beyond the header, a typed
    time and float noise."""
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    hubs = book.create_sheet(" Hubs ")
    hubs.append(["hub_id", "name", "order_cutoff_local", "capacity_shipments_per_year"])
    hubs.append(["H1", "One", dt.time(17, 30), 1.1000000000000001])
    hubs.append([])
    hubs.append(["H2", "Two", "18:00", 2000, None, "stray"])
    hubs.cell(row=9, column=2, value="  ")  # whitespace only: blank, trailing
    book.save("b.xlsx")
    tables, problems = read_workbook("b.xlsx")
    assert sorted(tables) == ["hubs"]
    assert tables["hubs"].file == "b.xlsx[ Hubs ]"
    frame = tables["hubs"].frame
    assert list(frame.columns) == ["hub_id", "name", "order_cutoff_local",
                                   "capacity_shipments_per_year", "Unnamed: 4", "Unnamed: 5"]
    assert frame.values.tolist() == [
        ["H1", "One", "17:30", "1.1", "", ""],
        ["", "", "", "", "", ""],
        ["H2", "Two", "18:00", "2000", "", "stray"],
    ]
    (blank,) = [p for p in problems if p.file == "b.xlsx[ Hubs ]"]
    assert (blank.row, blank.column) == (3, None) and blank.message.startswith("blank row")
    missing = {p.message.split("'")[1] for p in problems if p is not blank}
    assert missing == {n for n, t in TABLES.items() if t.required and n != "hubs"}
    assert {p.file for p in problems if p is not blank} == {"b.xlsx"}


def test_workbook_solves_to_the_same_objective(project: Path) -> None:
    _tiny_workbook_project(project)
    from_csv = solve_case(load_case(TINY_MODEL))
    from_book = solve_case(load_case(project / "model.yaml"))
    assert from_csv.info.status == from_book.info.status == "optimal"
    assert from_book.summary["objective"] == pytest.approx(from_csv.summary["objective"],
                                                           rel=1e-9)
    assert from_book.summary["objective"] > 0


# ---------------------------------------------------------------- CLI edges


def test_bad_arguments_are_exit_2(project: Path) -> None:
    result = run("data", "export", TINY, "book.csv")
    assert result.exit_code == 2 and "must end in .xlsx" in errors_of(result)[0]
    result = run("data", "export", "nowhere", "book.xlsx")
    assert result.exit_code == 2 and errors_of(result)[0].startswith("error: nowhere: not found")
    result = run("data", "template", "t.xlsx", "--dataset", "missing.yaml")
    assert result.exit_code == 2
    assert errors_of(result) == ["error: missing.yaml: model file not found"]
    assert not Path("t.xlsx").exists()


def test_export_csv_warns_about_table_files_the_workbook_lacks(project: Path) -> None:
    shutil.copytree(TINY, "ds")
    (project / "ds" / "assignment_costs.csv").write_text(
        "zone_id,site_id,product_id,cost_usd_per_patient\nZ1,S1,,5\n", encoding="utf-8")
    run("data", "export", TINY, "book.xlsx")  # without assignment_costs
    result = run("data", "export-csv", "book.xlsx", "ds")
    assert result.exit_code == 0
    assert "assignment_costs.csv is not in the workbook" in ANSI.sub("", result.stderr)


def test_export_csv_refuses_a_folder_holding_the_tables_as_parquet(project: Path) -> None:
    """Writing products.csv beside products.parquet left a dataset every table of which was
    "given twice", after exit 0 and a warning that products was not in the workbook."""
    import pandas as pd

    shutil.copytree(TINY, "ds")
    source = project / "ds" / "products.csv"
    pd.read_csv(source).to_parquet(source.with_suffix(".parquet"), index=False)
    source.unlink()
    run("data", "export", TINY, "book.xlsx")
    result = run("data", "export-csv", "book.xlsx", "ds")
    assert result.exit_code == 2
    err = ANSI.sub("", result.stderr)
    assert "ds/products.parquet" in err and "also write as products.csv" in err
    assert not (project / "ds" / "products.csv").exists()  # nothing written


def test_a_workbook_is_never_replaced_without_force(project: Path) -> None:
    """`data template` over a filled workbook replaced it with an empty one, unasked."""
    assert run("data", "export", TINY, "filled.xlsx").exit_code == 0
    before = Path("filled.xlsx").read_bytes()
    for args in (("data", "template", "filled.xlsx"), ("data", "export", TINY, "filled.xlsx")):
        result = run(*args)
        assert result.exit_code == 2 and "--force" in result.output
        assert Path("filled.xlsx").read_bytes() == before
    assert run("data", "template", "filled.xlsx", "--force").exit_code == 0
    assert Path("filled.xlsx").read_bytes() != before
    Path("book.xlsx").mkdir()
    result = run("data", "template", "book.xlsx", "--force")
    assert result.exit_code == 2 and "is a folder" in result.output


def test_a_column_named_twice_in_a_sheet_is_an_error(project: Path) -> None:
    """As in a CSV file: the second 'population' was renamed 'population.1' and ignored."""
    path = _tiny_workbook_project(project)
    book = openpyxl.load_workbook(path)
    sheet = book["zones"]
    sheet.cell(row=1, column=sheet.max_column + 1, value="population")
    book.save(path)
    result = run("validate", "model.yaml")
    assert result.exit_code == 2, result.output
    assert any("data.xlsx[zones], row 1, column 'population': column 'population' is in the "
               "header twice" in line for line in errors_of(result))


def test_a_formula_without_a_saved_value_is_an_error_not_a_default(project: Path) -> None:
    """openpyxl (like pandas or any script) writes a formula without the value Excel would
    save beside it. Read by value, the cell was blank: S2's optional onboarding_days took
    its default of 90 days, with no word, instead of the 120 the formula gives."""
    path = _tiny_workbook_project(project)
    _set(path, "sites", 3, "onboarding_days", "=60*2")  # S2
    _set(path, "sites", 2, "capacity_patients_per_year", "=25*2")  # S1, a required column
    result = run("validate", "model.yaml")
    assert result.exit_code == 2, result.output
    why = ("the cell holds a formula with no saved value (the workbook was written by a "
           "program and never recalculated): open and save it in Excel or LibreOffice, or "
           "type the value")
    assert errors_of(result) == [  # the required cell once, not also as "blank"
        f"error: data.xlsx[sites], row 2, column 'capacity_patients_per_year': {why} "
        "(found '=25*2')",
        f"error: data.xlsx[sites], row 3, column 'onboarding_days': {why} (found '=60*2')"]


def test_a_formula_saved_with_an_empty_result_is_a_blank(project: Path) -> None:
    """=IF(x,"",y) is a common way to leave a cell empty; Excel saves its result as an empty
    text value. It was refused as a formula never recalculated, with advice (save it in
    Excel) that cannot help. Now it is a blank: the optional column's default applies."""
    import zipfile

    path = _tiny_workbook_project(project)
    _set(path, "sites", 3, "onboarding_days", '=IF(TRUE,"",5)')  # S2
    book = openpyxl.load_workbook(path)
    letter = openpyxl.utils.get_column_letter(
        header(book["sites"]).index("onboarding_days") + 1)
    part = f"xl/worksheets/sheet{book.sheetnames.index('sites') + 1}.xml"
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename == part:  # as Excel saves it: a text result, empty
                text, n = re.subn(rf'<c r="{letter}3"[^>]*>(<f>[^<]*</f>)<v\s*/?>(</v>)?</c>',
                                  rf'<c r="{letter}3" t="str">\1<v></v></c>',
                                  data.decode())
                assert n == 1
                data = text.encode()
            zout.writestr(info, data)
    result = run("validate", "model.yaml")
    assert result.exit_code == 0, result.output
    sites = load_case(project / "model.yaml").sites.set_index("site_id")
    assert sites.at["S2", "onboarding_days"] == TABLES["sites"].column(
        "onboarding_days").default


def test_a_folder_of_one_workbook_is_told_to_name_the_workbook(project: Path) -> None:
    """`dataset: ds` where ds/ holds only data.xlsx gave seven "required table is missing"
    errors and no word of the workbook."""
    (project / "ds").mkdir()
    assert run("data", "template", "ds/data.xlsx", "--dataset", TINY).exit_code == 0
    (project / "m.yaml").write_text("name: m\ndataset: ds\n", encoding="utf-8")
    result = run("validate", "m.yaml")
    assert result.exit_code == 2, result.output
    assert errors_of(result) == [
        "error: ds: no table files here, but a workbook: point `dataset:` at 'ds/data.xlsx' "
        "(a dataset is a folder of CSV files or one .xlsx workbook)"]


def test_merged_cells_are_an_error_naming_the_range(project: Path) -> None:
    """120 onboarding days typed once and merged over three sites: Excel shows 120 on each
    row, the file holds it in the first cell only, and two sites took the 90-day default
    without a word (on a launch timeline they could open in period 1 instead of 4)."""
    path = _tiny_workbook_project(project)
    _set(path, "sites", 2, "onboarding_days", 120)
    book = openpyxl.load_workbook(path)
    letter = openpyxl.utils.get_column_letter(
        header(book["sites"]).index("onboarding_days") + 1)
    book["sites"].merge_cells(f"{letter}2:{letter}4")
    # a note merged beside the table is the user's own, not an error
    beside = book["sites"].max_column + 2
    book["sites"].merge_cells(start_row=2, start_column=beside, end_row=2,
                              end_column=beside + 2)
    book.save(path)
    result = run("validate", "model.yaml")
    assert result.exit_code == 2, result.output
    assert errors_of(result) == [
        f"error: data.xlsx[sites], row 2, column 'onboarding_days': cells {letter}2:{letter}4 "
        f"are merged: the file holds the value in {letter}2 only and the other cells read "
        "blank; unmerge them and fill in each cell"]


def test_a_sheet_under_a_near_name_is_named_in_a_warning(project: Path) -> None:
    """A `partner` sheet (for partners) was left out without a word, and the case solved
    without cold-storage partners; a folder's partner.csv is warned about. Now the sheet is
    named in a warning too (an error with --strict)."""
    path = _tiny_workbook_project(project)
    book = openpyxl.load_workbook(path)
    book["partners"].title = "partner"
    book.create_sheet("notes").append(["anything"])  # not near a table: the user's own
    book.save(path)
    tables, problems = read_workbook(path)
    assert "partners" not in tables
    assert [(p.file, p.severity) for p in problems] == [("data.xlsx[partner]", "warning")]
    assert "did you mean a sheet named partners?" in problems[0].message
    result = run("validate", "model.yaml", "--strict")
    assert result.exit_code == 2
    assert "data.xlsx[partner]" in ANSI.sub("", result.stderr)


def test_a_blank_row_inside_a_sheet_is_one_error_for_the_row(project: Path) -> None:
    """Row 3 of sites (S2) emptied: one error for the row, not one 'required value is
    blank' per required column (there were 12)."""
    path = _tiny_workbook_project(project)
    book = openpyxl.load_workbook(path)
    sheet = book["sites"]
    for cell in sheet[3]:
        cell.value = None
    book.save(path)
    result = run("validate", "model.yaml")
    assert result.exit_code == 2, result.output
    assert [e for e in errors_of(result) if "data.xlsx[sites]" in e] == [
        "error: data.xlsx[sites], row 3: blank row inside the table: delete the row (a "
        "sheet's rows are the table's rows)"]
