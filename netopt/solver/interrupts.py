"""Ctrl-C delivered after work that must not be cut short, as a plain KeyboardInterrupt; the
HiGHS callbacks that let a run be interrupted.

Two places need this: a HiGHS run, inside whose callbacks a KeyboardInterrupt is swallowed and
the run ends as a solve error, and the renames that move a result folder into place, which an
interrupt would leave half old, half new. Both note the key press and raise it once the work is
done. Only the main thread can install a handler; a handler other than Python's default (the
user's own, a test runner's) is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_after(stop_work: bool) -> Iterator[None]:
    """Raise a Ctrl-C pressed inside the block once the block is done. `stop_work` also raises
    it at the key press, so work that checks for interrupts (HiGHS's callbacks) stops early;
    without it the key press is only noted (the work runs to its end)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    pressed: list[int] = []

    def on_ctrl_c(signum: int, frame: object) -> None:
        pressed.append(signum)
        if stop_work:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


def interrupt_events(highs: object) -> list:
    """A highspy.Highs object's interrupt callbacks: simplex and interior-point iterations, MIP
    limit checks. A subscribed callback is also where a Ctrl-C reaches Python during a run.
    A MIP's presolve, the LPs inside it, its sub-MIPs and a root cut-separation round call
    none. A highspy without these events (before 1.8) gives none."""
    names = ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt")
    return [getattr(highs, name) for name in names if hasattr(highs, name)]


__all__ = ["ctrl_c_after", "interrupt_events"]
