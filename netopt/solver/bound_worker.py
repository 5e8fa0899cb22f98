"""A lower bound proven on the spare core while the start searches for a network.

The kernel start (highs.mip_start) is a sequence of HiGHS runs that use about one core of
two: on the national default a 60-s solve takes 77 s of CPU in 71 s of wall time. The bound
it reports is the LP's, lifted only by what the full MIP's root does in the seconds the start
leaves it (none on a loaded machine: 4.3 % instead of 2.5 %). This worker gives the idle
core the full MIP from the moment the cut loop ends: a copy of the model HiGHS holds (every
linking row the loop added: the same integer points, so the same optimum) is solved in a
child process with one thread, and every rise of its dual bound is sent back. The parent
reads the last one when its own solve ends and stops the child. The network never depends on
the worker - only the proof does - so the same inputs and seed still give the same network.

A child process, not a thread: it shares no solver state with the parent's HiGHS, and it can
be stopped at any moment (HiGHS overruns its time limit inside a cut round by seconds to
minutes on large models; the parent never waits for that).

Protocol: the parent writes one pickled dict of arrays (the HiGHS LP as it holds it) and the
options to the child's stdin and keeps stdin open; the child prints `bound <value>` lines on
stdout and exits when its stdin closes (the parent stopped or died) or its time is up.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading

import highspy
import numpy as np

from .arrays import highs_from_arrays, model_arrays

#: seconds a child may outlive the parent's deadline before it stops itself (the parent
#: normally stops it first)
CHILD_SLACK = 5.0
#: a stage shorter than this is not worth a child: its presolve and root LP alone take ~13 s
#: on one core for the national default
MIN_WORKER_SECONDS = 20.0


class BoundWorker:
    """The full MIP of `highs`'s current model solved in a child process for `seconds`; `stop`
    returns the best dual bound it proved (None when it proved none: still in its root LP)."""

    def __init__(self, highs: highspy.Highs, seconds: float, seed: int) -> None:
        self.best: float | None = None
        self._lock = threading.Lock()
        arrays = model_arrays(highs)
        if not arrays["minimize"]:
            raise ValueError("the bound worker handles minimisation only")
        job = {"model": arrays, "seconds": float(seconds), "seed": int(seed)}
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)  # Ctrl-C is the parent's
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # the model (~10 MB nationally) goes through a pipe the child empties only once it
        # has started Python: a thread writes it, so the parent's solve does not wait
        threading.Thread(target=self._send, args=(job,), daemon=True).start()

    def _send(self, job: dict) -> None:
        with contextlib.suppress(OSError, ValueError):  # the child is gone: no bound from it
            pickle.dump(job, self._child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._child.stdin.flush()

    def _read(self) -> None:
        for line in self._child.stdout:
            if line.startswith(b"bound "):
                with contextlib.suppress(ValueError):
                    value = float(line.split()[1])
                    with self._lock:
                        if self.best is None or value > self.best:
                            self.best = value

    def stop(self) -> float | None:
        """Stop the child (at once: its bound so far is all that is wanted) and return the
        best bound it sent."""
        child = self._child
        if child.poll() is None:
            child.kill()
        with contextlib.suppress(OSError):
            child.stdin.close()
        child.wait()
        self._reader.join(timeout=5.0)
        with contextlib.suppress(OSError):
            child.stdout.close()
        with self._lock:
            return self.best


def _solve(job: dict, out) -> None:  # noqa: ANN001 - a binary stream
    """The child's work: the MIP to its time limit, printing each rise of the dual bound."""
    h = highs_from_arrays(job["model"])
    for name, value in (("time_limit", job["seconds"] + CHILD_SLACK), ("threads", 1),
                        ("random_seed", job["seed"]), ("mip_rel_gap", 0.0)):
        h.setOptionValue(name, value)
    best = [-np.inf]

    def send(value: float) -> None:
        if np.isfinite(value) and value > best[0]:
            best[0] = value
            out.write(f"bound {value!r}\n".encode())
            out.flush()

    def on_interrupt(kind, message, data_out, data_in, user) -> None:  # noqa: ANN001, ARG001
        send(float(data_out.mip_dual_bound))

    h.setCallback(on_interrupt, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    send(float(h.getInfo().mip_dual_bound))


def _main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # HiGHS's banner
    job = pickle.load(sys.stdin.buffer)

    def orphaned() -> None:  # stdin closes when the parent stops us or dies
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    with contextlib.suppress(BrokenPipeError):  # the parent stopped reading
        _solve(job, out)
    os._exit(0)


if __name__ == "__main__":
    _main()
