"""`netopt import ...`: turn benchmark instances into ordinary datasets + model files.

A thin layer over `netopt.data.importers`; a malformed or missing file is a one-line message and
exit code 2 (invalid input), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EXIT_INVALID = 2

import_app = typer.Typer(
    help="Import benchmark instances (OR-Library) as netopt datasets and model files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_out = Console()
_err = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(help="OR-Library instance file.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder to write the dataset and "
                                      "model.yaml in (created if missing).")]


def _fail(message: str) -> None:
    _err.print(f"[bold red]Invalid input[/]: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INVALID)


@import_app.command("orlib-cap")
def orlib_cap(
    file: FileArg,
    out: OutOpt,
    capacity: Annotated[float | None, typer.Option(
        "--capacity", help="Capacity of every facility (required for capa/capb/capc, whose "
        "files hold the word 'capacity'; overrides the file's capacities otherwise).",
    )] = None,
) -> None:
    """OR-Library capacitated facility location (cap41..cap134, capa/capb/capc)."""
    from ..data.importers import import_orlib_cap

    try:
        model = import_orlib_cap(file, out, capacity=capacity)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
        return
    _out.print(f"wrote {model}  (solve: netopt solve {model})", highlight=False,
               soft_wrap=True)


@import_app.command("orlib-pmed")
def orlib_pmed(file: FileArg, out: OutOpt) -> None:
    """OR-Library p-median (pmed1..pmed40): shortest-path distances, exactly p sites."""
    from ..data.importers import import_orlib_pmed

    try:
        model = import_orlib_pmed(file, out)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
        return
    _out.print(f"wrote {model}  (solve: netopt solve {model})", highlight=False,
               soft_wrap=True)
