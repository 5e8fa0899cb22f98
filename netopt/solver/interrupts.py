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
import time
from collections.abc import Callable, Iterator

#: seconds past its time limit at which a HiGHS run is interrupted: HiGHS stops itself at the
#: limit when its own clock started with the run, so runs that end in time end as they did
#: without the deadline
DEADLINE_SLACK = 1.0


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


@contextlib.contextmanager
def stop_at(highs: object, deadline: float | None) -> Iterator[list[bool]]:
    """For the runs of a raw highspy object inside the block: interrupt at `deadline` (a
    time.perf_counter() value; None: never), and give a Ctrl-C a place to reach Python.
    HiGHS times a run on its own clock, which need not start with the run: a MIP on an
    object that holds a fractional solution first completes it with a MIP of its own, timed
    from that MIP's start, then times itself from its own start again. Yields a one-item
    list, True once it interrupted a run."""
    stopped = [False]

    def due() -> bool:
        stopped[0] = stopped[0] or (deadline is not None and time.perf_counter() >= deadline)
        return stopped[0]

    with interrupt_when(highs, due):
        yield stopped


@contextlib.contextmanager
def interrupt_when(highs: object, due: Callable[[], bool]) -> Iterator[None]:
    """For the runs of a raw highspy object inside the block: interrupt as soon as `due()`
    is true, at each of HiGHS's interrupt callbacks (`interrupt_events`). A callback that is
    not due clears the flag: HiGHS 1.16 keeps the flag an interrupted simplex run set, and
    every later run of that object with a callback subscribed ended at its first check."""

    def check(event: object) -> None:
        # a highspy callback event; `interrupt(False)` clears the flag
        event.interrupt(due())  # type: ignore[attr-defined]

    events = interrupt_events(highs)
    try:
        for event in events:
            event.subscribe(check)
        yield
    finally:
        for event in events:
            event.unsubscribe(check)


__all__ = ["DEADLINE_SLACK", "ctrl_c_after", "interrupt_events", "interrupt_when", "stop_at"]
