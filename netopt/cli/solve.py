"""`netopt solve` and `netopt report`: a case into a result folder, and its pages rebuilt."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from .common import (
    EXIT_INFEASIBLE,
    analysis_folder,
    console,
    err_console,
    fail_no_network,
    gap_share,
    load_or_exit,
    output_folder,
    positive_seconds,
    solved_folder,
    solver_or_exit,
)


def register(app: typer.Typer) -> None:
    app.command()(solve)
    app.command()(report)


def solve(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    out: Path = typer.Option(None, "--out", help="Result folder (default reports/<model>)."),
    time_limit: float = typer.Option(None, "--time-limit", callback=positive_seconds,
                                     help="Seconds for the solver."),
    gap: float = typer.Option(None, "--gap", callback=gap_share,
                              help="Relative MIP gap to stop at."),
    threads: int = typer.Option(None, "--threads", min=1, help="Solver threads."),
    seed: int = typer.Option(None, "--seed", min=0, help="Solver random seed."),
    solver: str = typer.Option(None, "--solver", help="MILP solver: highs (default), gurobi, "
                               "cplex, xpress, scip or cbc if installed (`netopt doctor`)."),
    strict: bool = typer.Option(False, "--strict", help="Treat input warnings as errors."),
    log_solver: bool = typer.Option(False, "--solver-log", help="Show the solver's log."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip map and reports."),
) -> None:
    """Build and solve the network model; write result tables and summary.json."""
    from ..results.folder import results_folder
    from ..results.pipeline import solve_case
    from ..solver.diagnose import Infeasible, NoNetworkInTime, NothingToTreat
    from ..solver.info import SolveError

    if out is not None:
        output_folder(out, tables=True)
    if solver is not None:
        solver = solver_or_exit(solver)
    case = load_or_exit(model, strict)
    if solver is None:
        solver_or_exit(case.config.solver.name)
    out = output_folder(out or _default_out(case.name), tables=True)
    with console.status("starting") as status:
        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)

        try:
            result = solve_case(case, time_limit=time_limit, gap=gap, threads=threads,
                                seed=seed, tee=log_solver, progress=progress,
                                solver_name=solver)
        except SolveError as exc:  # a licence or size limit of the solver, or its crash
            status.stop()
            err_console.print(f"[bold red]Solver error[/]: {escape(str(exc))}", soft_wrap=True,
                              highlight=False)
            raise typer.Exit(1) from None
        except NoNetworkInTime as exc:
            status.stop()
            fail_no_network(exc.reasons)
        except Infeasible as exc:
            status.stop()
            err_console.print("[bold red]Infeasible[/]: " + (
                "no patient in scope can be treated:" if isinstance(exc, NothingToTreat)
                else "the model's hard settings cannot all be met:"))
            for reason in exc.reasons:
                err_console.print(f"- {reason}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        # tables and reports are one run: staged together, moved into place together
        with results_folder(out, result.run("solve")) as staging:
            result.write(staging.dir)
            if not no_report:
                _write_reports(result, staging.dir, progress)
    print_summary(result.summary)
    console.print(f"wrote {len(staging.written)} files to {out}")


def _default_out(name: str) -> Path:
    """reports/<model>/ under the working directory (as the README says)."""
    return Path("reports") / name


def _write_reports(result, out: Path, progress) -> list[Path]:
    from ..report import write_reports

    progress("writing map and reports")
    return write_reports(result, out)


def print_summary(summary: dict) -> None:
    table = RichTable(title="Result")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("solver", f"{summary.get('solver', '')} {summary.get('solver_version', '')}")
    for key in ("status", "objective", "gap", "patients_demand", "patients_served",
                "patients_unserved", "pct_within_travel_target", "sites_active", "hubs_active",
                "partners_active", "build_seconds", "solve_seconds"):
        value = summary.get(key)
        if isinstance(value, float):
            text = f"{value:.4%}" if key == "gap" else f"{value:,.2f}"
        else:
            text = str(value)
        table.add_row(key, text)
    if summary.get("stages"):  # HiGHS's staged solve: say whether the clock chose the network
        clock = summary.get("stopped_by_clock") or []
        table.add_row("stopped_by_clock", ", ".join(clock) if clock else "none")
    if summary.get("cores_not_free"):  # the machine was busy: another run may do better
        table.add_row("cores_not_free", summary["cores_not_free"])
    console.print(table)


def report(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve`."),
    out: Path = typer.Option(None, "--out", help="Where to write (default: result_dir)."),
) -> None:
    """Regenerate map.html, report.html, details.html and network.xlsx from saved result tables."""
    from ..report import write_reports

    target = analysis_folder(out, result_dir)
    result = solved_folder(result_dir, ("sites", "hubs", "partners"))
    paths = write_reports(result, target, source=result_dir)
    for path in paths:
        console.print(f"wrote {path}")
