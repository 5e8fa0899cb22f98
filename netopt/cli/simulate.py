# ruff: noqa: B008 - typer declares options as argument defaults
"""`netopt simulate RESULT_DIR`: a year of the chosen network under disruptions.

A thin layer over `netopt.analysis.simulation`: the result folder and its model file are
checked first (every problem listed, exit 2), the replications run under a progress bar, and
the tables, simulation.html and the workbook sheet are written.
"""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

EXIT_INVALID = 2
HEADLINE = ("patients_per_year", "doses_planned_per_year", "on_schedule_pct",
            "doses_wasted_per_year", "waste_cost_usd_per_year",
            "doses_not_administered_per_year", "patient_delay_p50_days",
            "patient_delay_p90_days", "patient_delay_p99_days", "vein_to_vein_mean_days",
            "hub_utilisation_pct", "hub_peak_day_utilisation_pct", "hub_closed_days_per_year")


def simulate_cmd(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve`."),
    days: int = typer.Option(None, "--days", help="Days of arrivals (default: the model's "
                             "simulation.days, 365)."),
    replications: int = typer.Option(None, "--replications", help="Replications (default: "
                                     "simulation.replications, 20)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: simulation.seed)."),
    out: Path = typer.Option(None, "--out", help="Folder (default RESULT_DIR/simulation)."),
    model: Path = typer.Option(None, "--model", help="Model file to read inputs and "
                               "settings from (default: the one named in summary.json)."),
) -> None:
    """Simulate the solved network day by day: arrivals, transit, weather, postponements,
    shelf life and shipper hold; KPIs with 95 % confidence intervals."""
    from ..analysis.simulation import load_network, simulate
    from ..data.config import SimulationSettings
    from ..data.problems import InputError
    from ..report import relink_report
    from ..report.simulation_files import WORKBOOK_FILE, write_simulation
    from ..results.folder import Run, results_folder
    from .common import (
        analysis_folder,
        console,
        err_console,
        fail_input,
        output_folder,
        result_dir_is_folder,
    )

    result_dir_is_folder(result_dir)
    root, sub = _destination(result_dir, out)
    if sub:
        output_folder(root / sub)
    else:  # a folder of its own: never one holding another run's results (its summary.json)
        analysis_folder(root, result_dir, default=str(Path(result_dir) / "simulation"))
    try:
        net = load_network(result_dir, model)
    except InputError as exc:
        fail_input(exc)
    assert net.case is not None
    updates = {k: v for k, v in (("days", days), ("replications", replications),
                                 ("seed", seed)) if v is not None}
    try:
        settings = SimulationSettings.model_validate(
            {**net.case.config.simulation.model_dump(), **updates})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            err_console.print(f"[bold red]error[/]: --{escape(where)}: {escape(err['msg'])}",
                              soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    for warning in net.warnings:
        err_console.print(f"[yellow]warning[/]: {escape(warning)}", soft_wrap=True)

    with Progress(TextColumn("[bold]replications"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("", total=settings.replications)
        sim = simulate(net, settings,
                       progress=lambda done, _total: bar.update(task, completed=done))
    run = Run("simulate", model=net.model_name, model_file=str(net.model_file),
              source=str(result_dir.absolute()))
    with results_folder(root, run, attach=True) as staging:
        write_simulation(sim, staging.dir / sub, workbook=result_dir / WORKBOOK_FILE,
                         workbook_out=staging.dir / WORKBOOK_FILE)
        relink_report(root, staging.dir)  # the solved folder's one-pager links the page
    _print_kpis(sim.tables["kpis"], console)
    console.print(f"wrote {len(staging.written)} files to {root / sub}")


def _destination(result_dir: Path, out: Path | None) -> tuple[Path, str]:
    """(folder whose manifest records the run, subfolder of it for the tables). The default,
    RESULT_DIR/simulation, joins the solve's folder (a new solve there removes it, and the
    simulation sheet goes in its workbook); any other --out is a folder of its own, with a
    copy of the workbook. The result folder itself is refused: the simulation's tables
    (products.csv, hubs.csv, summary.json, ...) would replace the solve's."""
    if out is None or out.absolute() == (result_dir / "simulation").absolute():
        return result_dir, "simulation"
    if out.resolve() == result_dir.resolve():
        from .common import err_console

        err_console.print(f"[bold red]error[/]: --out: {escape(str(out))} is the result folder "
                          "itself: the simulation's tables would replace the solve's (give "
                          "another folder, or leave --out out for RESULT_DIR/simulation)",
                          soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_INVALID)
    return out, ""


def _print_kpis(kpis, console) -> None:  # noqa: ANN001 - a DataFrame and the CLI console
    table = RichTable(title="Simulation (mean and 95 % CI over replications)")
    for col, justify in (("kpi", "left"), ("unit", "left"), ("mean", "right"),
                         ("95 % CI", "right")):
        table.add_column(col, justify=justify)
    k = kpis.set_index("kpi")
    for name in HEADLINE:
        if name not in k.index:
            continue
        r = k.loc[name]
        ci = "" if r["ci_low"] != r["ci_low"] else f"{r['ci_low']:,.2f} - {r['ci_high']:,.2f}"
        mean = "" if r["mean"] != r["mean"] else f"{r['mean']:,.2f}"
        table.add_row(name, str(r["unit"]), mean, ci)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `simulate` as a top-level command of the netopt app."""
    app.command("simulate")(simulate_cmd)
