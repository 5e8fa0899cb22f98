"""The `netopt` command line: `app.py` is the entry point, one module per command group.

Ctrl-C while Python is still loading the command line (typer, rich, pandas: a second or two)
ends the program with one line and exit 130 rather than a traceback: the handler set here
lasts until `app.py` has imported what it needs and puts Python's own handler back.
"""

from __future__ import annotations

import signal
import sys
import threading


def _interrupted_while_loading(signum: int, frame: object) -> None:
    sys.stderr.write("interrupted; no results written\n")
    raise SystemExit(130)


if (threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _interrupted_while_loading)
