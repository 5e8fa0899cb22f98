"""`netopt resilience RESULT_DIR`: N-1 analysis of a solved network."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from .common import positive_seconds


def resilience(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve --out`."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Where to write resilience.csv (default: RESULT_DIR)."),
    partners: bool = typer.Option(True, "--partners/--no-partners",
                                  help="Also take out each active cold-storage partner."),
    time_limit: float | None = typer.Option(None, "--time-limit", callback=positive_seconds,
                                            help="Seconds per re-solve (default: the model's)."),
) -> None:
    """Take out each active hub (and partner) in turn, re-route on the rest of the chosen
    network, and rank the single points of failure by patients lost and cost increase."""
    from rich.progress import Progress

    from ..analysis.resilience import n_minus_1
    from ..data.problems import InputError
    from ..report import write_resilience_files
    from ..report.resilience import solved_note
    from ..results.folder import Run, results_folder
    from ..solver.diagnose import NoNetworkInTime
    from .common import (
        analysis_folder,
        console,
        err_console,
        fail_input,
        fail_no_network,
        solved_folder_and_case,
    )

    target = analysis_folder(out, result_dir)
    result, summary, case = solved_folder_and_case(
        result_dir, ("sites", "hubs", "partners", "shipments"),
        "the N-1 analysis re-solves the model")
    model_file = summary.get("model_file")
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("outages", total=None)

        def progress(msg: str, done: int, total: int) -> None:
            bar.update(task, description=msg, completed=done, total=total)

        try:
            res = n_minus_1(case, result, partners=partners, time_limit=time_limit,
                            progress=progress)
        except InputError as exc:
            fail_input(exc)
        except NoNetworkInTime as exc:
            fail_no_network(exc.reasons)
    table = res.table
    run = Run("resilience", model=summary.get("model"), model_file=model_file,
              source=str(result_dir.absolute()))
    source_book = result_dir / "network.xlsx"
    # the sheet goes on a copy of the solve's workbook, saved in the folder written
    with results_folder(target, run, attach=True) as staging:
        staged = write_resilience_files(res, str(summary.get("model") or result_dir.name),
                                        target, staging.dir, source_book)
        wrote_sheet = staging.dir / "network.xlsx" in staged
    path, book = target / "resilience.csv", target / "network.xlsx"
    page = target / "resilience.html"

    rich = RichTable(title=f"Single points of failure - baseline ${res.baseline_cost_usd:,.0f}"
                     f"/yr, {res.baseline_unserved:,.1f} patients unserved")
    for col in ("rank", "kind", "facility_id", "name", "extra_patients_unserved",
                "cost_increase_usd", "network_cost_increase_usd", "penalty_increase_usd",
                "cost_increase_pct", "sites_using", "status"):
        rich.add_column(col, justify="left" if col in ("kind", "facility_id", "name", "status")
                        else "right")
    for r in table.itertuples(index=False):
        rich.add_row(str(r.rank), r.kind, r.facility_id, escape(str(r.name)),
                     f"{r.extra_patients_unserved:,.1f}", f"${r.cost_increase_usd:,.0f}",
                     f"${r.network_cost_increase_usd:,.0f}", f"${r.penalty_increase_usd:,.0f}",
                     f"{r.cost_increase_pct:.2f} %", str(r.sites_using), r.status)
    console.print(rich)
    if note := solved_note(res):
        console.print(escape(note))
    console.print(f"wrote {path}, {page}" + (f" and the resilience sheet of {book}"
                                             if wrote_sheet else ""))


def register(app: typer.Typer) -> None:
    app.command("resilience")(resilience)
