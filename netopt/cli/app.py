"""`netopt` command line: a thin layer over the Python stages.

The typer app and its entry point; every command group is a module of this package that
registers its commands here (`common.py` holds what they share). Exit codes: 0 ok, 2 invalid
input, 3 infeasible model, 4 no network within the time limit, 1 a solver failure or an
unexpected internal error, 130 interrupted.
"""

from __future__ import annotations

import sys

INTERRUPTED_WHILE_LOADING = "interrupted; no results written"

try:  # Ctrl-C while Python loads the command line: one line, no traceback
    import logging

    import typer
    from rich.markup import escape

    from ..results.folder import FolderError
    from .common import (
        EXIT_INTERRUPTED,
        EXIT_INVALID,
        err_console,
        forget_output_folder,
        interrupted_message,
    )
except KeyboardInterrupt:
    sys.stderr.write(INTERRUPTED_WHILE_LOADING + "\n")
    sys.exit(130)

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


def _restore_ctrl_c() -> None:
    """Loaded: Python's own Ctrl-C handler again (netopt/cli/__init__.py set a quiet one for
    the loading), so commands see KeyboardInterrupt as usual."""
    import signal
    import threading

    from . import _interrupted_while_loading

    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is _interrupted_while_loading):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _register_commands() -> None:
    """Each command group lives in its own module and adds itself here."""
    from . import data, docs, doctor, excel, finance, importers, resilience, scenarios, simulate
    from . import evaluate as evaluate_commands
    from . import explain as explain_commands
    from . import solve as solve_commands

    data.register(app, data_app)
    solve_commands.register(app)
    scenarios.register(app)
    finance.register(app)
    simulate.register(app)
    resilience.register(app)
    explain_commands.register(app)
    evaluate_commands.register(app)
    excel.register(data_app)
    app.add_typer(importers.import_app, name="import")
    docs.register(app)
    doctor.register(app)
    _one_line_summaries(app)


def _one_line_summaries(group: typer.Typer) -> None:
    """The command lists of `--help` print a command's first docstring paragraph with its
    source line breaks, so a summary wrapped at 100 columns broke mid-sentence; give each
    command that paragraph on one line, for the help panel to wrap to the terminal."""
    import inspect

    for info in group.registered_commands:
        doc = inspect.getdoc(info.callback) if info.callback else None
        if info.short_help is None and info.help is None and doc:
            info.short_help = " ".join(doc.split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


try:
    _register_commands()
except KeyboardInterrupt:
    sys.stderr.write(INTERRUPTED_WHILE_LOADING + "\n")
    sys.exit(EXIT_INTERRUPTED)
finally:
    _restore_ctrl_c()


class _PlainWarnings(logging.Formatter):
    """A warning as input warnings read ('warning: ...'), without the module that logged it;
    `-v` keeps the module for whoever reads the log."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbose: bool) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    handler = logging.StreamHandler()
    handler.setFormatter(_PlainWarnings())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _interrupted() -> None:
    """Ctrl-C: exit 130 with one line saying what became of the result folder (typer turns a
    KeyboardInterrupt inside a command into exit 130 on its own, silently)."""
    sys.stderr.write(interrupted_message() + "\n")
    sys.stderr.flush()


def main() -> None:
    """Console entry point: input errors exit 2, infeasible models 3 and no network within the
    time limit 4 (inside the commands), Ctrl-C 130; anything unexpected is reported in one
    line (traceback with --verbose)."""
    try:
        app()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:
            _interrupted()
        raise
    except KeyboardInterrupt:
        _interrupted()
        sys.exit(EXIT_INTERRUPTED)
    except FolderError as exc:  # found only when the files are ready: the folder, not a bug
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}", soft_wrap=True,
                          highlight=False)
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a traceback
        log = logging.getLogger("netopt")
        if log.isEnabledFor(logging.INFO):  # --verbose: the traceback the message promises
            log.error("internal error", exc_info=True)
        err_console.print(f"[bold red]internal error[/]: {escape(type(exc).__name__)}: "
                          f"{escape(str(exc))}\n(rerun with --verbose for the traceback and "
                          "please report it)", soft_wrap=True)
        sys.exit(1)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress.")) -> None:
    _setup_logging(verbose)
    forget_output_folder()
