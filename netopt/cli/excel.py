# ruff: noqa: B008 - typer declares options as argument defaults
"""`netopt data template | export | export-csv`: datasets to and from Excel workbooks.

A thin layer over `netopt.data.excel`. Anything wrong with the input (a missing model file, a
malformed CSV, a corrupt workbook) is reported as problems with exit code 2, never a traceback;
nothing is written then.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..data.problems import InputError, Problem, errors


def _consoles():  # noqa: ANN202 - the CLI's own consoles, so output goes where solve's goes
    from .common import console, err_console

    return console, err_console


def _fail(problems: list[Problem]) -> None:
    from .common import fail_input

    fail_input(InputError(problems))


def _check_out(out: Path, force: bool = False) -> None:
    if out.suffix.lower() != ".xlsx":
        _fail([Problem(str(out), None, None, "the workbook to write must end in .xlsx")])
    if out.is_dir():
        _fail([Problem(str(out), None, None, "is a folder: give the workbook's file name")])
    if out.exists() and not force:  # a filled workbook is the user's data
        _fail([Problem(str(out), None, None, "the workbook exists already: give another "
                       "name, or --force to replace it")])


ForceOpt = typer.Option(False, "--force", help="Replace the workbook if it exists.")


def _read_source(source: Path):  # noqa: ANN202 - dict[str, RawTable]
    from ..data.io import read_dataset
    from .common import report_problems

    tables, problems = read_dataset(source)
    if errors(problems):
        _fail(problems)
    if problems:  # e.g. a model file's edits, which the copy does not hold
        report_problems(problems, "Warnings")
    return tables


def _save(write, out: Path) -> None:  # noqa: ANN001 - a zero-argument writer
    """Run a writer, turning an unwritable path or cell into exit 2 instead of a traceback."""
    from ..data.excel import ExcelWriteError

    try:
        write()
    except ExcelWriteError as exc:
        _fail([exc.problem])
    except OSError as exc:
        _fail([Problem(str(out), None, None, f"cannot write: {exc.strerror or exc}")])


def data_template(
    out: Path = typer.Argument(..., help="Workbook to write (.xlsx)."),
    dataset: Path = typer.Option(None, "--dataset", help="Pre-fill from this dataset folder, "
                                 "workbook or model file's dataset."),
    force: bool = ForceOpt,
) -> None:
    """Write an Excel template: one sheet per input table, header comments, drop-downs."""
    from ..data.excel import write_template

    _check_out(out, force)
    tables = _read_source(dataset) if dataset is not None else None
    _save(lambda: write_template(out, tables), out)
    console, _ = _consoles()
    filled = f" pre-filled from {dataset}" if dataset is not None else ""
    console.print(f"wrote template {out}{filled}", highlight=False, soft_wrap=True)


def data_export(
    source: Path = typer.Argument(..., help="Model file (its dataset), dataset folder or "
                                  "workbook."),
    out: Path = typer.Argument(..., help="Workbook to write (.xlsx)."),
    force: bool = ForceOpt,
) -> None:
    """Write a dataset as a workbook (lossless: `data export-csv` gives the CSVs back)."""
    from ..data.excel import export_workbook

    _check_out(out, force)
    tables = _read_source(source)
    _save(lambda: export_workbook(tables, out), out)
    console, _ = _consoles()
    rows = sum(len(t.frame) for t in tables.values())
    console.print(f"wrote {out}: {len(tables)} tables, {rows:,} rows", highlight=False,
                  soft_wrap=True)


def data_export_csv(
    book: Path = typer.Argument(..., help="Workbook (.xlsx) to convert."),
    out_dir: Path = typer.Argument(..., help="Dataset folder to write <table>.csv files in "
                                   "(created if missing)."),
) -> None:
    """Write a workbook's tables as a dataset folder of CSV files."""
    from ..data.excel import is_workbook, read_workbook, stale_tables, write_csv_tables

    if not is_workbook(book):
        _fail([Problem(str(book), None, None, "expected an Excel workbook (.xlsx)")])
    tables, problems = read_workbook(book)
    if errors(problems):
        _fail(problems)
    # a table is one file or the other: a CSV beside its Parquet twin is a dataset that no
    # longer validates ("given twice"), so the folder is refused as it stands
    twins = [out_dir / f"{name}.parquet" for name in tables
             if (out_dir / f"{name}.parquet").exists()]
    if twins:
        _fail([Problem(str(path), None, None, f"holds table '{path.stem}', which this would "
                       f"also write as {path.stem}.csv (a table is one file or the other): "
                       "remove the Parquet files or write to another folder")
               for path in twins])
    paths: list[Path] = []

    def write() -> None:
        paths.extend(write_csv_tables(tables, out_dir))

    _save(write, out_dir)
    console, err = _consoles()
    console.print(f"wrote {len(paths)} tables to {out_dir}", highlight=False, soft_wrap=True)
    for path in stale_tables(out_dir, paths):
        err.print(f"warning: {path} is not in the workbook but stays in the folder (and in "
                  "the dataset); delete it if it should go", highlight=False, soft_wrap=True)


def register(data_app: typer.Typer) -> None:
    """Add the Excel commands to `netopt data`."""
    data_app.command("template")(data_template)
    data_app.command("export")(data_export)
    data_app.command("export-csv")(data_export_csv)
