# ruff: noqa: B008 - typer declares options as argument defaults
"""`netopt compare` and `netopt sweep`: scenario batches from the command line.

A thin layer over `netopt.analysis.scenarios`: arguments are checked first (a bad override exits 2
before anything is solved); failing scenarios are rows of the comparison, not a failed command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from .common import (
    EXIT_INFEASIBLE,
    EXIT_INVALID,
    EXIT_NO_NETWORK,
    gap_share,
    positive_seconds,
)


def _consoles():  # noqa: ANN202 - the CLI's own consoles, so output goes where solve's goes
    from .common import console, err_console

    return console, err_console


def _fail(message: str) -> typer.Exit:
    _, err = _consoles()
    err.print(f"[bold red]error[/]: {escape(message)}", soft_wrap=True)
    return typer.Exit(EXIT_INVALID)


def _out(out: Path | None, first_model: Path) -> Path:
    """The folder to write (default reports/compare-<first model> under the working
    directory), checked before anything is solved: not a file, nor a folder of input tables
    (a dataset, where the batch's files would sit among the inputs)."""
    from .common import output_folder

    return output_folder(out or Path("reports") / f"compare-{first_model.stem}", tables=True)


def _check_scenario_folders(out: Path, specs: list) -> None:
    """With --scenario-folders, each scenario's folder (OUT/scenarios/<name>) is checked
    before anything is solved, as `solve` checks its --out: a user's file there of a result
    table's name (a sites.csv of their own) was found only after the whole batch had
    solved, and the batch thrown away."""
    from ..analysis.scenarios import scenario_folder_names
    from .common import output_folder

    for rel in scenario_folder_names([spec.name for spec in specs]).values():
        output_folder(out / rel, "--scenario-folders", tables=True)
    output_folder(out, tables=True)  # the batch's own folder is the one remembered


def _check_models(models: list[Path]) -> None:
    for model in models:
        if not model.is_file():
            raise _fail(f"{model}: model file not found")


def _check_overrides(models: list[Path], specs: list) -> None:
    """Apply every scenario's overrides to its model's settings now: exit 2 on a bad one.
    Model files that do not load are left to the batch (their row says why)."""
    from ..analysis.scenarios import OverrideError, apply_overrides
    from ..data.io import load_model

    configs: dict[str, Any] = {}
    for spec in specs:
        if not spec.overrides:
            continue
        if spec.model_file not in configs:
            loaded, _ = load_model(spec.model_file)
            configs[spec.model_file] = loaded
        loaded = configs[spec.model_file]
        if loaded is None:
            continue
        try:
            apply_overrides(loaded.config, spec.overrides, loaded.path.parent)
        except OverrideError as exc:
            raise _fail(f"scenario '{spec.name}': {exc}") from None
    _check_loading(specs)


def _check_loading(specs: list) -> None:
    """Overrides that change what is loaded (products, edits, dataset, facility rules) are
    checked against the tables now, as the settings are above: a product that is not in the
    products table exits 2 before any scenario solves. Loads are cached per process, so the
    batch reuses them; a model file that fails on its own is left to the batch's rows."""
    from ..analysis.scenarios import (
        LOAD_KEYS,
        OverrideError,
        ScenarioSpec,
        failed_run,
        load_scenario,
    )
    from ..data.problems import InputError

    checked: dict[str, bool] = {}
    for spec in specs:
        if not any(k.split(".")[0] in LOAD_KEYS for k in spec.overrides):
            continue
        try:
            load_scenario(spec)
        except (InputError, OverrideError) as exc:
            if spec.model_file not in checked:
                try:
                    load_scenario(ScenarioSpec(spec.name, spec.model_file, {}))
                    checked[spec.model_file] = True
                except (InputError, OverrideError):
                    checked[spec.model_file] = False
            if checked[spec.model_file]:  # the model loads: the override is what fails
                raise _fail(f"scenario '{spec.name}': {failed_run(spec, exc).reason}") from None


def _check_solver(solver: str | None) -> str | None:
    """--solver is checked before any scenario runs (exit 2 listing the installed ones); a
    model file naming a solver that is not installed gets its row and reason instead."""
    if solver is None:
        return None
    from .common import solver_or_exit

    return solver_or_exit(solver)


@contextlib.contextmanager
def _scheduler(address: str | None, dask: bool, workers: int | None) -> Iterator[str | None]:
    if address:
        yield address
        return
    if not dask:
        yield None
        return
    from ..analysis.scenarios import local_cluster

    try:
        import distributed  # noqa: F401
    except ImportError:
        raise _fail("--dask needs dask.distributed: pip install 'netopt[cluster]'") from None
    with local_cluster(n_workers=workers or 2) as addr:
        yield addr


def _run(specs: list, *, command: str, title: str, out: Path, workers: int | None,
         scheduler: str | None, dask: bool, time_limit: float | None, gap: float | None,
         seed: int | None, no_report: bool, threads: int = 1,
         pareto: tuple[list[float], float | None] | None = None,
         model: Path | None = None, solver: str | None = None,
         baseline_start: bool = False, scenario_folders: bool = False) -> None:
    """Run the batch with a progress bar, write tables (and reports), print the table."""
    from ..analysis import scenarios as sc

    console, err = _consoles()
    if scenario_folders:
        _check_scenario_folders(out, specs)
    with _scheduler(scheduler, dask, workers) as address, Progress(
            TextColumn("[bold]scenarios"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("", total=len(specs))

        def progress(run: sc.ScenarioRun, done: int, total: int) -> None:
            bar.update(task, completed=done,
                       description=escape(f"{run.spec.name}: {run.status}"))

        kw: dict[str, Any] = dict(workers=workers, scheduler=address, time_limit=time_limit,
                                  gap=gap, seed=seed, threads=threads, solver=solver,
                                  progress=progress, keep_results=scenario_folders)
        if pareto is not None and model is not None:
            comparison = sc.pareto(model, pareto[0], pareto[1], title=title, **kw)
        else:
            runs = sc.run_batch(specs, baseline_start=baseline_start, **kw)
            comparison = sc.build_comparison(runs, title)
    from ..results.folder import results_folder

    # tables and report are one run: staged together, moved into place together
    with results_folder(out, comparison.run(command)) as staging:
        comparison.write_tables(staging.dir)
        if not no_report:
            from ..report.compare import write_comparison

            write_comparison(comparison, staging.dir)
        folders = comparison.scenario_folders()
        if folders:  # each a result folder of its own, in this run
            from ..report import write_scenario_folders

            write_scenario_folders(comparison, staging.dir, command, reports=not no_report)
    paths = staging.written
    _print_rows(comparison)
    _print_term_changes(comparison.rows)
    failed = comparison.rows[~comparison.rows["status"].isin(["optimal", "feasible"])]
    for row in failed.itertuples(index=False):
        err.print(f"[red]{escape(row.scenario)}[/]: {row.status}: {escape(row.reason)}",
                  soft_wrap=True, highlight=False)
    _print_warnings(comparison.rows)
    _print_baseline(comparison.rows)
    console.print(f"wrote {len(paths)} files to {out}" + (
        f" (each scenario's own result in {out / 'scenarios'}/)" if folders else ""))
    statuses = comparison.rows["status"].tolist()
    code = batch_exit_code(statuses)
    if code and not _any_network(statuses):
        err.print(f"no scenario has a network: exit {code} (the rows above say why)")
    elif code:
        broken = sum(s in ("invalid", "error") for s in statuses)
        err.print(f"{broken} of {len(statuses)} scenarios could not be run: exit {code} "
                  "(the rows above say why; the others' results are written)")
    if code:
        raise typer.Exit(code)


#: a batch with no network at all exits as a single solve would, by the first reason found in
#: this order: an input to fix, a case that cannot be met, a limit too short; else a failure
_BATCH_EXITS = (("invalid", EXIT_INVALID), ("infeasible", EXIT_INFEASIBLE),
                ("no_solution", EXIT_NO_NETWORK))


def _any_network(statuses: list[str]) -> bool:
    return any(s in ("optimal", "feasible") for s in statuses)


def batch_exit_code(statuses: list[str]) -> int:
    """The batch's exit code. A scenario that could not be run is never passed over: 2 when
    one's input or override is invalid, 1 for an internal error, whatever the others did.
    Otherwise 0 when any scenario has a network (an infeasible one or one out of time is a
    finding, its row says why); with none, 3 or 4 by `_BATCH_EXITS`."""
    if "invalid" in statuses:
        return EXIT_INVALID
    if "error" in statuses:
        return 1
    if not statuses or _any_network(statuses):
        return 0
    return next((code for status, code in _BATCH_EXITS if status in statuses), 1)


def _print_warnings(rows: Any) -> None:
    """Each scenario's input warnings (an edit that matches no row, a likely typo), as
    `validate` prints them for a model file: a batch must not hide them. Up to three per
    scenario; compare.csv's `warnings` column holds them all."""
    _, err = _consoles()
    if "warnings" not in rows.columns:
        return
    for scenario, text in zip(rows["scenario"], rows["warnings"], strict=True):
        found = [w for w in str(text or "").split(" | ") if w]
        for line in found[:3]:
            err.print(f"[yellow]{escape(str(scenario))}[/]: {escape(line)}", soft_wrap=True,
                      highlight=False)
        if len(found) > 3:
            err.print(f"[yellow]{escape(str(scenario))}[/]: and {len(found) - 3} more "
                      "warnings (compare.csv, column warnings)", highlight=False)


#: short headers for the printed table (compare.csv keeps the column names)
HEADERS = {"objective_usd": "cost $/yr", "vs_baseline_usd": "vs baseline $",
           "patients_served": "served", "patients_unserved": "unserved",
           "pct_within_travel_target": "% within target", "sites_active": "sites",
           "hubs_active": "hubs", "partners_active": "partners",
           "sites_stocking": "sites owning stock", "plan_patients_served": "served, plan",
           "plan_patients_unserved": "unserved, plan",
           "manufacturer_writeoff_usd": "credits + write-offs $/yr"}


def _objective_header(rows: Any) -> str:
    """'cost $/yr' when every objective is a year's cost; else what they have in common."""
    from ..analysis.scenarios import ANNUAL_COST, ANNUAL_MARGIN

    bases = {str(b) for b in rows.get("objective_basis", []) if b == b and b}
    if bases <= {ANNUAL_COST}:
        return HEADERS["objective_usd"]
    return "objective $/yr" if bases <= {ANNUAL_COST, ANNUAL_MARGIN} else "objective $"


def _print_baseline(rows: Any) -> None:
    """Which scenario the deltas are against, when it is not the first, and the scenarios
    whose objective is on another basis (no delta: a difference of units)."""
    from ..analysis.scenarios import baseline_index, not_compared

    _, err = _consoles()
    if rows.empty:
        return
    b = baseline_index(rows)
    names = [str(n) for n in rows["scenario"]]
    if b is not None and b > 0:
        status = escape(str(rows["status"].iloc[0]))
        err.print(f"[yellow]{escape(names[0])}[/] has no network ({status}): deltas and site "
                  f"changes are against '{escape(names[b])}', the first scenario with one",
                  soft_wrap=True, highlight=False)
    for i, why in not_compared(rows).items():
        err.print(f"[yellow]{escape(names[i])}[/]: not compared with the baseline "
                  f"'{escape(names[b])}': {escape(why)}", soft_wrap=True, highlight=False)
    from ..report.compare import scope_words

    for name, scope in zip(names, rows.get("scope_vs_baseline", [""] * len(names)),
                           strict=True):
        if isinstance(scope, str) and scope:
            err.print(f"[yellow]{escape(name)}[/]: {escape(scope_words(scope))}",
                      soft_wrap=True, highlight=False)


def _print_term_changes(rows: Any) -> None:
    """Where each scenario's objective moves: its three largest changes by cost term (all
    of them in term_changes.csv)."""
    from ..analysis.scenarios import term_changes

    console, _ = _consoles()
    changes = term_changes(rows)
    noise = dict(zip(rows["scenario"], rows.get("within_solver_gap", [None] * len(rows)),
                     strict=True))
    for name, found in changes.groupby("scenario", sort=False):
        parts = found[found["term"] != "total"]
        if parts.empty:
            continue
        shown = ", ".join(f"{t} {d:+,.0f}" for t, d in zip(
            parts["term"].head(3), parts["difference_usd"].head(3), strict=True))
        more = f" and {len(parts) - 3} more" if len(parts) > 3 else ""
        within = noise.get(name)
        note = " (~ within the two runs' solver gaps)" if within is True else ""
        console.print(f"{escape(str(name))} vs the baseline: {escape(shown)}{more}{note}",
                      highlight=False, soft_wrap=True)


def _print_rows(comparison: Any) -> None:
    """The batch's rows as one table, or as several side by side in scenario order when the
    console is too narrow for every figure: a figure is never folded across lines ("14,403,74"
    over "4" read as $1.44 M) nor a column cropped."""
    from ..analysis.scenarios import baseline_index

    console, _ = _consoles()
    cols = ["scenario", "status", "objective_usd", "vs_baseline_usd", "gap",
            "patients_served", "patients_unserved", "pct_within_travel_target", "sites_active",
            "hubs_active", "partners_active", "sites_stocking", "manufacturer_writeoff_usd",
            "plan_patients_served", "plan_patients_unserved"]
    cols = [c for c in cols if c in comparison.rows.columns]
    headers = {**HEADERS, "objective_usd": _objective_header(comparison.rows)}
    rows = comparison.rows
    within = rows["within_solver_gap"].tolist() if "within_solver_gap" in rows else \
        [None] * len(rows)
    base = baseline_index(rows)
    caption = None
    lines = []
    for i, row in enumerate(comparison.rows[cols].itertuples(index=False)):
        cells = []
        for col, value in zip(cols, row, strict=True):
            if col == "vs_baseline_usd" and i != base and value == value:
                # a difference the two runs' gaps cannot tell from zero is not a result
                noise = within[i] is not None and within[i] == within[i] and bool(within[i])
                cells.append(f"{'~' if noise else ''}{value:+,.0f}")
                if noise:
                    caption = "~ within the two runs' solver gaps: may be noise, not a result"
            elif isinstance(value, float):
                how = ".3%" if col == "gap" else ",.0f" if col.endswith(
                    ("_active", "_stocking", "_usd")) else ",.1f"
                cells.append("" if value != value else format(value, how))
            else:
                cells.append(str(value))
        lines.append(cells)
    # each column as wide as its widest cell or its header's longest word (headers wrap)
    width = {col: max([len(cells[j]) for cells in lines]
                      + [len(w) for w in headers.get(col, col).split()])
             for j, col in enumerate(cols)}
    width["scenario"] = min(width["scenario"], 24)  # a long name wraps, at word breaks
    parts: list[list[str]] = []
    for col in cols[1:]:
        used = sum(width[c] + 3 for c in ["scenario", *(parts[-1] if parts else [])]) + 1
        if parts and used + width[col] + 3 <= console.width:
            parts[-1].append(col)
        else:
            parts.append([col])
    for k, part in enumerate(parts):
        table = RichTable(title=comparison.title + (f" ({k + 1} of {len(parts)})"
                                                    if len(parts) > 1 else ""),
                          caption=caption if k == len(parts) - 1 else None)
        shown = ["scenario", *part]
        for col in shown:
            table.add_column(headers.get(col, col),
                             justify="left" if col in ("scenario", "status") else "right",
                             overflow="fold", min_width=width[col], max_width=width[col])
        for cells in lines:
            table.add_row(*(escape(cells[cols.index(c)]) for c in shown))
        console.print(table)


# options shared by `compare` and `sweep` (one declaration each)
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", help="Local worker processes (default: CPU count; 1 = serial).")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler",
                                                  help="Dask scheduler address.")]
DaskOpt = Annotated[bool, typer.Option("--dask", help="Run on a local Dask cluster.")]
TimeLimitOpt = Annotated[float | None, typer.Option(
    "--time-limit", callback=positive_seconds, help="Seconds for the solver per scenario.")]
GapOpt = Annotated[float | None, typer.Option("--gap", callback=gap_share,
                                              help="Relative MIP gap to stop at.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Solver random seed.")]
SolverOpt = Annotated[str | None, typer.Option(
    "--solver", help="MILP solver for every scenario: highs, gurobi, cplex, xpress, scip or cbc "
    "if installed (default: each model's solver.name).")]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="Only the CSV tables.")]
ThreadsOpt = Annotated[int, typer.Option(
    "--threads", min=1, help="Solver threads per scenario (results are identical whichever way "
    "a batch runs; with --workers 1, give national models the machine's cores).")]
ScenarioFoldersOpt = Annotated[bool, typer.Option(
    "--scenario-folders", help="Also write each solved scenario's whole result (tables, "
    "one-pager, map, workbook) to OUT/scenarios/<name>/, as `netopt solve` would.")]
BaselineStartOpt = Annotated[bool, typer.Option(
    "--baseline-start/--cold-start", help="Solve the first scenario first and start the "
    "others from its network where it is feasible (compare.csv's `start` column says which "
    "start each scenario got).")]


def compare_cmd(
    models: list[Path] = typer.Argument(..., help="Model files (YAML); the first is the "
                                        "reference for site changes."),
    out: Path = typer.Option(None, "--out", help="Folder (default reports/compare-<first>)."),
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask: DaskOpt = False,
    time_limit: TimeLimitOpt = None,
    gap: GapOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = 1,
    solver: SolverOpt = None,
    baseline_start: BaselineStartOpt = True,
    no_report: NoReportOpt = False,
    scenario_folders: ScenarioFoldersOpt = False,
) -> None:
    """Solve each model file and compare: cost by term, service, network, site changes."""
    from ..analysis.scenarios import ScenarioSpec, scenario_name

    _check_models(models)
    if workers is not None and workers < 1:
        raise _fail("--workers must be at least 1")
    solver = _check_solver(solver)
    specs = [ScenarioSpec(scenario_name(m), str(m), {}) for m in models]
    title = "Scenario comparison: " + ", ".join(s.name for s in specs)
    _run(specs, command="compare", title=title, out=_out(out, models[0]), workers=workers,
         scheduler=scheduler, dask=dask, time_limit=time_limit, gap=gap, seed=seed,
         no_report=no_report, threads=threads, solver=solver,
         baseline_start=baseline_start, scenario_folders=scenario_folders)


def sweep_cmd(
    model: Path = typer.Argument(..., help="Model file (YAML)."),
    sets: list[str] = typer.Option(None, "--set", help="key=v1,v2,... (dotted setting, "
                                   "repeatable; the grid is every combination)."),
    pareto: bool = typer.Option(False, "--pareto", help="Trace the cost-vs-access frontier "
                                "(ε-constraint on service.min_share)."),
    shares: str = typer.Option("0,0.5,0.7,0.8,0.9", "--shares", help="Pareto: required "
                               "shares of patients within the travel target."),
    within_km: float = typer.Option(None, "--within-km", help="Pareto: travel target (km; "
                                    "default: the model's)."),
    out: Path = typer.Option(None, "--out", help="Folder (default reports/compare-<model>)."),
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask: DaskOpt = False,
    time_limit: TimeLimitOpt = None,
    gap: GapOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = 1,
    solver: SolverOpt = None,
    baseline_start: BaselineStartOpt = True,
    no_report: NoReportOpt = False,
    scenario_folders: ScenarioFoldersOpt = False,
) -> None:
    """Run a grid of setting overrides on one model (or its cost-vs-access frontier, whose
    points are solved cold: a lower share's network rarely meets a higher one)."""
    from ..analysis.scenarios import (
        OverrideError,
        ScenarioSpec,
        grid_specs,
        pareto_specs,
        parse_set,
        parse_values,
        scenario_name,
    )

    _check_models([model])
    if workers is not None and workers < 1:
        raise _fail("--workers must be at least 1")
    solver = _check_solver(solver)
    try:
        pairs = [parse_set(s) for s in (sets or [])]
        grid = dict(pairs)
        if len(grid) < len(pairs):  # a second --set of a key would replace the first
            twice = sorted({k for k, _ in pairs if [p[0] for p in pairs].count(k) > 1})
            raise OverrideError(f"--set {', '.join(twice)} given more than once: give each "
                                "setting's values once, comma-separated (key=v1,v2)")
        share_list = _shares(parse_values(shares)) if pareto else []
    except (OverrideError, TypeError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if pareto:
        if sets:
            raise _fail("--pareto takes --shares and --within-km, not --set")
        if within_km is not None and within_km <= 0:
            raise _fail("--within-km must be positive")
        specs = pareto_specs(model, share_list, within_km)  # the points `pareto` solves
        _check_overrides([model], specs)
        _run(specs, command="sweep", title=f"Cost vs access: {model.stem}",
             out=_out(out, model), workers=workers, scheduler=scheduler, dask=dask,
             time_limit=time_limit, gap=gap, seed=seed, no_report=no_report,
             threads=threads, pareto=(share_list, within_km), model=model, solver=solver,
             scenario_folders=scenario_folders)
        return
    specs = grid_specs(model, grid) if grid else [ScenarioSpec(scenario_name(model),
                                                                str(model), {})]
    _check_overrides([model], specs)
    _run(specs, command="sweep", title=f"Sweep of {model.stem}", out=_out(out, model),
         workers=workers, scheduler=scheduler, dask=dask, time_limit=time_limit, gap=gap,
         seed=seed, no_report=no_report, threads=threads, solver=solver,
         baseline_start=baseline_start, scenario_folders=scenario_folders)


def _shares(values: list[Any]) -> list[float]:
    """--shares as numbers from 0 to 1. YAML reads `true`/`yes` as a boolean, which float()
    would take as 1: refused like any other word, as service.min_share refuses it."""
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"--shares: {_fmt_share(value)} is not a number (give shares "
                             "from 0 to 1, e.g. 0,0.5,0.9)")
        if not 0 <= value <= 1:
            raise ValueError(f"--shares: {value:g} does not lie between 0 and 1 (0.9 is 90 %)")
        out.append(float(value))
    return out


def _fmt_share(value: Any) -> str:
    return "a yes/no/true/false word" if isinstance(value, bool) else repr(value)


def register(app: typer.Typer) -> None:
    """Add `compare` and `sweep` as top-level commands of the netopt app."""
    app.command("compare")(compare_cmd)
    app.command("sweep")(sweep_cmd)


__all__ = ["compare_cmd", "register", "sweep_cmd"]
