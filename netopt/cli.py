"""`netopt` command line: a thin layer over the Python stages.

Exit codes: 0 ok, 2 invalid input, 3 infeasible model, 1 unexpected internal error.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from .problems import InputError, Problem

EXIT_INVALID = 2
EXIT_INFEASIBLE = 3

app = typer.Typer(
    help="Network design for cell and gene therapies: which treatment sites, 3PL hubs and "
    "cold-storage partners to activate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Datasets: build the US default, describe, schema.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


def _register_subcommands() -> None:
    from .cli_import import import_app
    from .cli_scenarios import register

    app.add_typer(import_app, name="import")
    register(app)
    from .cli_simulate import register as register_simulate

    register_simulate(app)
    from .cli_excel import register as register_excel

    register_excel(data_app)
    from .cli_finance import register as register_finance

    register_finance(app)
    from .cli_resilience import register as register_resilience

    register_resilience(app)
    from .docs_gen import register as register_docs

    register_docs(app)


_register_subcommands()

# piped output (CI logs, files) gets a readable width instead of rich's 80-column default
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def report_problems(problems: list[Problem], title: str) -> None:
    """Print problems as a plain list (one per line) so they are readable when piped."""
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    err_console.print(f"[bold red]{title}[/]: {n_err} error(s), {n_warn} warning(s)")
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        err_console.print(f"[{colour}]{escape(str(p))}[/]", markup=True, highlight=False,
                          soft_wrap=True)


def fail_input(exc: InputError) -> None:
    report_problems(exc.problems, "Invalid input")
    raise typer.Exit(EXIT_INVALID)


def load_or_exit(model: Path, strict: bool = False):  # noqa: ANN201 - returns a Case
    """Load and validate a model file; print its warnings; exit 2 on invalid input."""
    from .case import load_case

    try:
        case = load_case(model, strict=strict)
    except InputError as exc:
        fail_input(exc)
    if case.warnings:
        report_problems(case.warnings, "Warnings")
    return case


@app.command()
def validate(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
) -> None:
    """Check a model file and its dataset; report every problem at once."""
    from .describe import summary_tables

    case = load_or_exit(model, strict)
    counts, demand = summary_tables(case)
    console.print(f"[bold green]Valid[/]: model '{case.name}' "
                  f"(dataset {case.dataset_path})")
    classes = sorted(set(demand["temperature_class"]))
    console.print(f"{len(demand)} products across {len(classes)} temperature classes "
                  f"({', '.join(classes)}); {demand['patients_per_year'].sum():,.0f} patients "
                  "per year in scope")
    _print_frame(counts, "Rows per table")
    _print_frame(demand, "Patients per year by product")


@data_app.command("describe")
def data_describe(model: Path = typer.Argument(..., help="Model file (YAML).")) -> None:
    """Counts per table, patients per year by product and by state."""
    from .describe import demand_by_state, summary_tables

    case = load_or_exit(model)
    counts, demand = summary_tables(case)
    _print_frame(counts, "Rows per table")
    _print_frame(demand, "Patients per year by product")
    _print_frame(demand_by_state(case), "Patients per year by state")


@data_app.command("schema")
def data_schema(
    table: str = typer.Argument(None, help="Only this table."),
    markdown: bool = typer.Option(False, "--markdown", help="Print Markdown instead."),
) -> None:
    """Print every input table's columns: type, unit, required, default, allowed values."""
    from .schema import TABLES, schema_frame, schema_markdown

    if table is not None and table not in TABLES:
        err_console.print(f"unknown table '{table}'; known: {', '.join(TABLES)}")
        raise typer.Exit(EXIT_INVALID)
    if markdown:
        console.print(schema_markdown(), markup=False, highlight=False)
        return
    frame = schema_frame()
    if table is not None:
        frame = frame[frame["table"] == table]
    _print_frame(frame, "Input schema")


@data_app.command("build-us")
def data_build_us(
    out: Path = typer.Option(Path("data"), "--out", help="Folder to write us/ and us-small/ in."),
) -> None:
    """Regenerate the default US datasets (byte-identical on re-run)."""
    from .datasets import build_schema_readme, build_us, build_us_small

    files = build_us(out / "us") + build_us_small(out / "us-small") + [build_schema_readme(out)]
    console.print(f"wrote {len(files)} files under {out}")


@app.command()
def solve(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    out: Path = typer.Option(None, "--out", help="Result folder (default reports/<model>)."),
    time_limit: float = typer.Option(None, "--time-limit", help="Seconds for HiGHS."),
    gap: float = typer.Option(None, "--gap", help="Relative MIP gap to stop at."),
    threads: int = typer.Option(None, "--threads", help="HiGHS threads."),
    seed: int = typer.Option(None, "--seed", help="HiGHS random seed."),
    strict: bool = typer.Option(False, "--strict", help="Treat input warnings as errors."),
    log_solver: bool = typer.Option(False, "--solver-log", help="Show the HiGHS log."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip map and reports."),
) -> None:
    """Build and solve the network model; write result tables and summary.json."""
    from .diagnose import Infeasible
    from .pipeline import solve_case

    case = load_or_exit(model, strict)
    out = out or _default_out(case.name, case.model_path)
    with console.status("starting") as status:
        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)

        try:
            result = solve_case(case, time_limit=time_limit, gap=gap, threads=threads,
                                seed=seed, tee=log_solver, progress=progress)
        except Infeasible as exc:
            status.stop()
            err_console.print("[bold red]Infeasible[/]: the model's hard settings cannot all "
                              "be met:")
            for reason in exc.reasons:
                err_console.print(f"- {reason}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        paths = result.write(out)
        if not no_report:
            paths += _write_reports(result, out, progress)
    _print_summary(result.summary)
    console.print(f"wrote {len(paths)} files to {out}")


def _default_out(name: str, model_path: Path | None) -> Path:
    from .io import find_project_root

    root = find_project_root(model_path) if model_path else Path.cwd()
    return root / "reports" / name


def _write_reports(result, out: Path, progress) -> list[Path]:
    from .report import write_reports

    progress("writing map and reports")
    return write_reports(result, out)


def _print_summary(summary: dict) -> None:
    table = RichTable(title="Result")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("status", "objective", "gap", "patients_demand", "patients_served",
                "patients_unserved", "pct_within_travel_target", "sites_active", "hubs_active",
                "partners_active", "build_seconds", "solve_seconds"):
        value = summary.get(key)
        if isinstance(value, float):
            text = f"{value:.4%}" if key == "gap" else f"{value:,.2f}"
        else:
            text = str(value)
        table.add_row(key, text)
    console.print(table)


@app.command()
def report(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve`."),
    out: Path = typer.Option(None, "--out", help="Where to write (default: result_dir)."),
) -> None:
    """Regenerate map.html, report.html and network.xlsx from saved result tables."""
    from .report import write_reports
    from .results import Results

    if not (result_dir / "summary.json").exists():
        err_console.print(f"error: {result_dir}: no summary.json (not a `netopt solve` folder)")
        raise typer.Exit(EXIT_INVALID)
    result = Results.read(result_dir)
    paths = write_reports(result, out or result_dir)
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def doctor() -> None:
    """Check the installation: versions, HiGHS, offline assets."""
    from .doctor import run_checks

    ok = True
    table = RichTable(title="netopt doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for name, passed, detail in run_checks():
        ok &= passed
        table.add_row(name, "[green]ok[/]" if passed else "[red]FAIL[/]", detail)
    console.print(table)
    if not ok:
        raise typer.Exit(1)


def _print_frame(frame, title: str) -> None:
    table = RichTable(title=title)
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def main() -> None:
    """Console entry point: input errors exit 2 and infeasible models 3 (inside the
    commands); anything unexpected is reported in one line (traceback with --verbose)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a traceback
        logging.getLogger("netopt").debug("internal error", exc_info=True)
        err_console.print(f"[bold red]internal error[/]: {escape(type(exc).__name__)}: "
                          f"{escape(str(exc))}\n(rerun with --verbose for the traceback and "
                          "please report it)", soft_wrap=True)
        sys.exit(1)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress.")) -> None:
    _setup_logging(verbose)
