"""`netopt evaluate RESULT_DIR MODEL`: a solved network's cost in another model (a finer
patient geography, other demand...), its design held and everything else re-solved."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .common import positive_seconds


def evaluate(
    result_dir: Path = typer.Argument(..., help="Folder written by `netopt solve --out`."),
    model: Path = typer.Argument(..., help="Model file to evaluate the network in (YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Result folder (default reports/<model>-held)."),
    time_limit: float | None = typer.Option(None, "--time-limit", callback=positive_seconds,
                                            help="Seconds for the solver (default: the "
                                            "model's)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip map and reports."),
) -> None:
    """Hold the network of RESULT_DIR (sites, onboarding, equipment, hubs, partners; an offer
    may only be dropped) in MODEL and re-solve assignments, flows and ordering options: what
    a network designed on merged demand points costs where patients live
    (`zones.gazetteer_extract`), for instance. Writes a result folder like `netopt solve`."""
    from ..analysis.evaluate import evaluate_network
    from ..data.problems import InputError
    from ..report import write_reports
    from ..results.folder import Run, results_folder
    from ..results.tables import cost_split
    from ..solver.diagnose import NoNetworkInTime
    from .common import (
        EXIT_INVALID,
        console,
        err_console,
        fail_input,
        fail_no_network,
        load_or_exit,
        output_folder,
        solved_folder,
    )
    from .solve import print_summary

    network = solved_folder(result_dir, ("sites", "hubs", "partners"))
    case = load_or_exit(model)
    folder = out or Path("reports") / f"{case.name}-held"
    if folder.resolve() == result_dir.resolve():  # given, or the default of an earlier run
        err_console.print(f"[bold red]error[/]: --out: {escape(str(folder))} is the result "
                          "folder itself: the evaluation's tables would replace the network it "
                          "holds (give another folder with --out)", soft_wrap=True,
                          highlight=False)
        raise typer.Exit(EXIT_INVALID)
    target = output_folder(folder, tables=True)
    with console.status(f"holding the network of {result_dir} in {case.name}"):
        try:
            held = evaluate_network(case, network, time_limit=time_limit)
        except InputError as exc:
            fail_input(exc)
        except NoNetworkInTime as exc:
            fail_no_network(exc.reasons)
    result = held.result
    for warning in held.warnings:
        err_console.print(f"[yellow]warning[/]: {escape(warning)} (in {escape(case.name)})",
                          soft_wrap=True, highlight=False)
    run = Run("evaluate", model=case.name, model_file=str(model.absolute()),
              source=str(result_dir.absolute()))
    with results_folder(target, run) as staging:
        result.write(staging.dir)
        if not no_report:
            write_reports(result, staging.dir)
    print_summary(result.summary)
    own, here = network.summary.get("objective"), result.summary.get("objective")  # USD/yr
    if network.summary.get("timeline") and here is not None:
        # a roll-out's own objective is its discounted horizon total, not a year's cost
        periods = network.summary["timeline"].get("periods")
        console.print(f"network of {escape(str(result_dir))} (the end of its {periods}-period "
                      f"launch timeline): ${here:,.0f}/yr in {escape(case.name)}")
    elif own is not None and here is not None:
        noise = _noise(own, network.summary.get("gap"), here, result.summary.get("gap"))
        console.print(f"network of {escape(str(result_dir))}: ${own:,.0f}/yr in its own model, "
                      f"${here:,.0f}/yr in {escape(case.name)} ({here - own:+,.0f}{noise})")
        # cash and the untreated patients' penalty apart, as compare and resilience split
        # them; the rest (revenue under a margin objective, elastic penalties) in one part
        was, now = cost_split(network.costs), cost_split(result.costs)
        cash = now["network_cost_usd"] - was["network_cost_usd"]
        lost = now["unserved_penalty_usd"] - was["unserved_penalty_usd"]
        rest = (here - own) - cash - lost
        parts = [f"network cost {cash:+,.0f}", f"unserved penalty {lost:+,.0f}"]
        if abs(rest) >= 0.5:
            parts.append(f"revenue and other penalties {rest:+,.0f}")
        unserved = [s.get("patients_unserved") for s in (result.summary, network.summary)]
        if None not in unserved:
            parts.append(f"patients unserved/yr {unserved[0] - unserved[1]:+,.1f}")
        console.print("  of which " + ", ".join(parts), highlight=False)
    console.print(f"wrote {len(staging.written)} files to {target}")


def _noise(own: float, own_gap: float | None, here: float, gap: float | None) -> str:
    """', within the two solves' gaps' where the difference is no larger than what each
    solve left unproven (compare's `within_solver_gap`): the held solve re-chooses flows and
    ordering options, so in the network's own model it may end a little above or below the
    original, and that is not a cost the network has there."""
    from ..analysis.scenarios import solver_gap_slack, within_solver_gap

    if abs(here - own) < 0.5 or not within_solver_gap(here, gap, own, own_gap):
        return ""
    return (f", within the two solves' gaps of ${solver_gap_slack(here, gap, own, own_gap):,.0f}"
            ": not a difference")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
