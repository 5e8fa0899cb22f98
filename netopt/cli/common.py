"""What every command shares: the consoles, exit codes, problem printing, loading a case and
checking the result folder a command writes.

Exit codes: 0 ok, 2 invalid input, 3 infeasible model, 4 no network within the time limit,
1 a solver failure or an unexpected internal error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from ..data.problems import InputError, Problem
from ..results.folder import (
    commits,
    committed,
    input_tables,
    out_problem,
    read_manifest,
)

EXIT_INVALID = 2
EXIT_INFEASIBLE = 3
EXIT_NO_NETWORK = 4  # the time limit ended before any network was found
EXIT_INTERRUPTED = 130

_target: list[tuple[Path, int]] = []  # the folder the running command writes, commits before

# piped output (CI logs, files) gets a readable width instead of rich's 80-column default
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def positive_seconds(value: float | None) -> float | None:
    """--time-limit: above 0 seconds, as solver.time_limit in a model file (typer exits 2
    with the option's name)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value:g}: give seconds above 0")
    if value is not None and math.isinf(value):  # every stage's share of it would be too
        raise typer.BadParameter(f"{value:g}: give a finite number of seconds (a long run: "
                                 "3600)")
    return value


def gap_share(value: float | None) -> float | None:
    """--gap: a share from 0 to 1 (0.005 is 0.5 %)."""
    if value is not None and not 0 <= value <= 1:
        raise typer.BadParameter(f"{value:g}: give a share from 0 to 1 (0.005 is 0.5 %)")
    return value


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
    if any(p.column == "solver.name" for p in exc.problems):
        from ..solver.backends import available_solvers

        err_console.print(f"solvers available here: {', '.join(available_solvers())}",
                          highlight=False)
    raise typer.Exit(EXIT_INVALID)


def fail_no_network(reasons: list[str]) -> None:
    """The time limit ended before any network (exit 4): said so, not called infeasible."""
    err_console.print("[bold red]No network[/] within the time limit (the case may well be "
                      "feasible):", soft_wrap=True)
    for reason in reasons:
        err_console.print(f"- {reason}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_NO_NETWORK)


def solver_or_exit(name: str) -> str:
    """The solver a command will use, checked before any work: an unknown name, or one that
    is not installed here, exits 2 with the solvers that are."""
    from ..solver.backends import SolverUnavailable, check_name, require

    try:
        known = check_name(name)
        if known != "highs":
            require(known)
    except SolverUnavailable as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}", soft_wrap=True,
                          highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    return known


def load_or_exit(model: Path, strict: bool = False):  # noqa: ANN201 - returns a Case
    """Load and validate a model file; print its warnings; exit 2 on invalid input."""
    from ..data.case import load_case

    try:
        case = load_case(model, strict=strict)
    except InputError as exc:
        fail_input(exc)
    if case.warnings:
        report_problems(case.warnings, "Warnings")
    return case


def output_folder(out: Path, option: str = "--out", tables: bool = False) -> Path:
    """Check the folder a command will write before any work: exit 2 at once when it is a
    file or lies under one, or (`tables`: a command writing result tables, which share
    their names with input tables) holds a dataset's tables. Remembered for the message of
    an interrupted run."""
    problem = out_problem(out)
    if problem is None and tables:  # a dataset's tables carry the names of result tables
        inputs = input_tables(out)
        problem = (f"{out} holds input tables netopt did not write ({', '.join(inputs)}), "
                   "which result tables of the same names would overwrite: choose another "
                   "folder") if inputs else None
    if problem:
        err_console.print(f"[bold red]error[/]: {option}: {escape(problem)}", soft_wrap=True,
                          highlight=False)
        raise typer.Exit(EXIT_INVALID)
    _target[:] = [(Path(out), commits())]
    return Path(out)


def result_dir_is_folder(result_dir: Path) -> None:
    """A file given as RESULT_DIR (summary.json, say) is named as such, before any check of
    the folders an analysis would write under it blames an --out the user never gave."""
    if Path(result_dir).is_file():
        err_console.print(f"[bold red]error[/]: RESULT_DIR: {escape(str(result_dir))} is a "
                          "file: give the result folder netopt solve wrote (the folder "
                          "holding summary.json)", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_INVALID)


def analysis_folder(out: Path | None, result_dir: Path, option: str = "--out",
                    default: str = "the result folder itself") -> Path:
    """The folder an analysis of RESULT_DIR (report, finance, resilience) writes: RESULT_DIR
    itself, or `--out`, which must not hold another run's results: the analysis would sit
    beside results it did not read (a report titled for one model over another's summary),
    nor a dataset's tables (result tables share their names)."""
    result_dir_is_folder(result_dir)
    mine = out is None or Path(out).resolve() == Path(result_dir).resolve()
    target = output_folder(out or result_dir, "RESULT_DIR" if out is None else option,
                           tables=not mine)
    if mine:
        return target
    source = Path(result_dir).resolve()
    runs = read_manifest(target)
    others = [r for r in runs if not (r.get("source") and Path(r["source"]).resolve() == source)]
    if others or (not runs and (target / "summary.json").is_file()):
        what = (f"a {others[0]['command']} run" + (f" of {others[0]['model']}"
                                                   if others[0].get("model") else "")
                if others else "another run")
        err_console.print(f"[bold red]error[/]: {option}: {escape(str(target))} holds the "
                          f"results of {escape(what)}, not of {escape(str(result_dir))}: give "
                          f"a new or empty folder, or leave it out to write into "
                          f"{escape(default)}", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_INVALID)
    return target


def forget_output_folder() -> None:
    """A new command starts (several can run in one process: tests, notebooks)."""
    _target.clear()


def interrupted_message() -> str:
    """The one line Ctrl-C prints: what became of the command's result folder."""
    if not _target:
        return "interrupted; no results written"
    out, mark = _target[0]
    if committed(out, since=mark):
        return f"interrupted; the new results in {out} are complete"
    return f"interrupted; previous results in {out} untouched"


def print_frame(frame, title: str) -> None:
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


def solved_folder_and_case(result_dir: Path, tables: tuple[str, ...], why: str):  # noqa: ANN201
    """A folder written by `netopt solve` (with the tables an analysis reads) and its model
    file loaded again, for the analyses that re-solve it (resilience, explain); exit 2 with
    one clear line when either is missing or incomplete. Returns (Results, summary, Case)."""
    result = solved_folder(result_dir, tables)
    summary = result.summary
    model_file = summary.get("model_file")
    if not model_file or not Path(model_file).is_file():
        err_console.print(f"[bold red]error[/]: model file {escape(str(model_file))} not "
                          f"found: {why}")
        raise typer.Exit(EXIT_INVALID)
    case = result_case_or_exit(Path(model_file), summary)
    warn_if_inputs_changed(summary, case)
    solver_or_exit(case.config.solver.name)  # the re-solves use the model file's solver
    return result, summary, case


def result_case_or_exit(model_file: Path, summary: dict):  # noqa: ANN201 - returns a Case
    """The case a result was solved from (`case_of_result`: its model file, and the changes a
    Python session made to it, summary.json's `changes` from `Case.with_changes`, applied
    again; without them an analysis would re-solve the model file as it stands, not what was
    solved), its warnings printed; exit 2 as `load_or_exit` does when it is invalid."""
    from ..analysis.scenarios import OverrideError, case_of_result

    try:
        case = case_of_result(model_file, summary)
    except InputError as exc:
        fail_input(exc)
    except OverrideError as exc:
        err_console.print(f"[bold red]error[/]: summary.json changes: {escape(str(exc))}",
                          soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    if case.warnings:
        report_problems(case.warnings, "Warnings")
    return case


def warn_if_inputs_changed(summary: dict, case) -> None:  # noqa: ANN001 - Case
    """A warning when the model file or its dataset differ from what the solve read: the
    analysis then re-solves today's inputs against a network chosen for others."""
    from ..data.case import inputs_changed

    if inputs_changed(summary, case):
        err_console.print(
            f"[yellow]warning: {escape(str(case.model_path))} or its dataset changed since "
            "this result was solved: the analysis uses the inputs as they are now, not as "
            "solved (solve again for a result of these inputs)[/]", soft_wrap=True,
            highlight=False)


def solved_folder(result_dir: Path, tables: tuple[str, ...]):  # noqa: ANN201 - Results
    """A folder written by `netopt solve` with the tables an analysis reads (its summary.json
    as `summary`); exit 2 with one clear line when it is missing or incomplete."""
    from ..results.tables import Results

    result_dir_is_folder(result_dir)
    summary_path = result_dir / "summary.json"
    if not summary_path.is_file():
        err_console.print(f"[bold red]error[/]: {escape(str(summary_path))}: not found - give "
                          "a folder written by `netopt solve`")
        raise typer.Exit(EXIT_INVALID)
    try:
        result = Results.read(result_dir)
        for name in tables:
            frame = getattr(result, name)
            lacking = [c for c in _COLUMNS_READ.get(name, ()) if c not in frame.columns]
            if lacking:
                raise ValueError(f"{name}.csv has no column {', '.join(lacking)}")
            _check_flags(name, frame)
    except (ValueError, OSError, KeyError, AttributeError, TypeError) as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(result_dir))}: not a complete "
                          f"result folder ({escape(str(exc))})")
        raise typer.Exit(EXIT_INVALID) from None
    return result


#: the columns of a result table the analyses read to know the network
_COLUMNS_READ = {"sites": ("site_id", "active"), "hubs": ("hub_id", "active"),
                 "partners": ("partner_id", "active")}
#: how a true/false cell of a result table may be written (the solve writes True / False)
_FLAGS = frozenset({"true", "false", "1", "0"})


def _check_flags(name: str, frame) -> None:  # noqa: ANN001 - a DataFrame
    """An `active` cell edited to anything but true or false (`maybe`, `yes?`) was read as
    false: the facility silently left out of the network an analysis holds."""
    if "active" not in frame.columns:
        return
    for i, value in enumerate(frame["active"]):
        if str(value).strip().lower() not in _FLAGS:
            raise ValueError(f"{name}.csv, row {i + 2}, column active: expected True or "
                             f"False (found {str(value)!r})")
