"""The spare core while the start runs: a network search of its own, then a lower bound.

The kernel start (highs.mip_start) is a sequence of HiGHS runs that use about one core of
two: on the national default a 60-s solve takes 77 s of CPU in 71 s of wall time. The bound
it reports is the LP's, lifted only by what the full MIP's root does in the seconds the start
leaves it (none on a loaded machine: 4.3 % instead of 2.5 %). This worker gives the idle
core the full MIP from the moment the cut loop ends: a copy of the model HiGHS holds (every
linking row the loop added: the same integer points, so the same optimum) is solved in a
child process with one thread, and every rise of its dual bound is sent back. The parent
reads the last one when its own solve ends and stops the child. Alone, the worker never
changes the network, only the proof.

Where the parent's chain may not finish (a short start beside busy cores, or a machine slow
for the kernels of a chain that runs them: highs._spare_searches; a chain that dives and
searches needs no MIP root), the same child first searches for a network of its own (a portfolio
on two cores): the parent hands it a restriction of the model - the strict kernel of the LP
and the rounded network (solver/kernel.py) - with that network as its start, and it solves
that MIP, then the one that may only close what its network uses, and sends the network
back before it turns to the bound. The two chains fail in different places (bench/RESULTS.md,
"Two kernel chains on two cores"). On free cores the parent's chain finishes and the search
only took the bound's time, so there the child proves from the start. The parent keeps the
cheaper of the two, so the network depends on how far the child got when the parent stopped
waiting: like every stage the clock ends, a slower machine may get another network.

A child process, not a thread: it shares no solver state with the parent's HiGHS, and it can
be stopped at any moment (HiGHS overruns its time limit inside a cut round by seconds to
minutes on large models; the parent never waits for that).

Protocol: the parent writes one pickled dict of arrays (the HiGHS LP as it holds it) and the
options to the child's stdin and keeps stdin open. With `kernel_follows`, a second pickle
follows: the network search (`KernelJob` as a dict) or None; then a single byte `STOP_SEARCH`
ends the search early (the parent's own chain is done). The child prints one `network
<stopped> <seconds> <objective> <values>` line for that search (values: the columns' values,
float64, zlib-compressed, base64; `none` for none) and then `bound <value>` lines, and exits
when its stdin closes (the parent stopped or died) or its time is up.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np

from .arrays import highs_from_arrays, model_arrays, set_start
from .interrupts import interrupt_when

#: seconds a child may outlive the parent's deadline before it stops itself (the parent
#: normally stops it first)
CHILD_SLACK = 5.0
#: a stage shorter than this is not worth a child: its presolve and root LP alone take ~13 s
#: on one core for the national default
MIN_WORKER_SECONDS = 20.0
#: the byte that ends the child's network search early
STOP_SEARCH = b"s"
#: set in the child when the parent sent STOP_SEARCH
_search_stopped = threading.Event()


@dataclass
class KernelJob:
    """A network search for the child: the MIP with the columns `cols` bounded to
    `lower`/`upper`, from `start` (a value per column), to `gap`, then the MIP that may only
    close what its network uses among `decisions` (columns), each with `options` (HiGHS), all
    within `seconds`."""

    cols: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    start: np.ndarray
    decisions: np.ndarray
    gap: float
    seconds: float
    options: dict


@dataclass
class ChildNetwork:
    """What the child's network search ended with: why it stopped (HiGHS's model status in
    words), its seconds, the objective (the model's units) and every column's value; no
    values when it found no network."""

    stopped: str
    seconds: float
    objective: float | None
    values: np.ndarray | None


class BoundWorker:
    """The full MIP of `highs`'s current model solved in a child process for `seconds`; `stop`
    returns the best dual bound it proved (None when it proved none: still in its root LP).
    With `kernel_follows`, the child waits for `search` (a network search first, or none)."""

    def __init__(self, highs: highspy.Highs, seconds: float, seed: int,
                 kernel_follows: bool = False,
                 tighten: Callable[[dict], dict] | None = None) -> None:
        self.best: float | None = None
        self.network: ChildNetwork | None = None
        self._searched = threading.Event()
        self._lock = threading.Lock()
        arrays = model_arrays(highs)
        if tighten is not None:  # rows only the proof carries (CarriedProof.tighten)
            arrays = tighten(arrays)
        if not arrays["minimize"]:
            raise ValueError("the bound worker handles minimisation only")
        job = {"model": arrays, "seconds": float(seconds), "seed": int(seed),
               "kernel_follows": bool(kernel_follows)}
        if not kernel_follows:
            self._searched.set()
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)  # Ctrl-C is the parent's
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # the model (~10 MB nationally) goes through a pipe the child empties only once it
        # has started Python: a thread writes it, so the parent's solve does not wait
        self._job_sent = threading.Thread(target=self._send, args=(job,), daemon=True)
        self._job_sent.start()

    def _send(self, job: dict | None, after: threading.Thread | None = None) -> None:
        if after is not None:  # one message at a time: the model first, then the search
            after.join()
        with contextlib.suppress(OSError, ValueError):  # the child is gone: no bound from it
            pickle.dump(job, self._child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._child.stdin.flush()

    def search(self, job: KernelJob | None) -> None:
        """Hand the child its network search (None: there is none, go on to the bound). Once
        only, and only for a worker made with `kernel_follows`."""
        message = None if job is None else vars(job)
        self._job_sent = threading.Thread(target=self._send, args=(message, self._job_sent),
                                          daemon=True)
        self._job_sent.start()
        if job is None:
            self._searched.set()

    def stop_search(self) -> None:
        """End the child's network search now: it reports the network it has."""
        if self._searched.is_set():
            return
        self._job_sent.join()  # the byte must follow the job, not cut into it
        with contextlib.suppress(OSError, ValueError):
            self._child.stdin.write(STOP_SEARCH)
            self._child.stdin.flush()

    def reported(self) -> bool:
        """Whether the child's network search has ended (or there is none): `searched`
        would return at once."""
        return self._searched.is_set()

    def searched(self, timeout: float) -> ChildNetwork | None:
        """The child's network search, waiting at most `timeout` seconds for it to end (it
        stops itself within the seconds it was given); None if it has not reported."""
        self._searched.wait(max(timeout, 0.0))
        with self._lock:
            return self.network

    def _read(self) -> None:
        for line in self._child.stdout:
            if line.startswith(b"bound "):
                with contextlib.suppress(ValueError):
                    value = float(line.split()[1])
                    with self._lock:
                        if self.best is None or value > self.best:
                            self.best = value
            elif line.startswith(b"network "):
                with contextlib.suppress(ValueError, zlib.error), self._lock:
                    self.network = _parse_network(line)
                self._searched.set()
        self._searched.set()  # the child ended: nothing more will come

    @property
    def running(self) -> bool:
        """Whether the child is still at work (it ends by itself once its MIP is proven or
        its time is up)."""
        return self._child.poll() is None

    @property
    def bound(self) -> float | None:
        """The best bound the child has sent so far; it goes on proving."""
        with self._lock:
            return self.best

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


@dataclass
class CarriedProof:
    """The bound worker of one solve, left proving its model after that solve returned, until
    `until` (time.perf_counter seconds) at most. The aggregation path prices its relaxation's
    network at fine resolution for the last half of the limit, and that HiGHS run is one MIP
    on one core: the relaxation's bound, a bound on the fine model, keeps rising on the other
    (us-fine: $236.07M when the relaxation ended at 360 s, $236.54M at 600 s). The solve puts
    its worker in `worker` and its network's objective in `cap`; `stop` ends the worker and
    returns the best bound it proved, never above `cap` (the child's tolerances aside, a bound
    cannot pass a network of the same model)."""

    until: float
    worker: BoundWorker | None = None
    cap: float | None = None
    #: rows and columns the worker's copy of the model gets and the solve's own HiGHS model
    #: does not: (the model's arrays, the HiGHS column of pair i's x) -> the arrays with
    #: them (aggregation.py: the relaxation's travel steps). A worker that searches for a
    #: network first (kernel_follows) takes the model as it is. The tightened bound bounds
    #: what the rows are valid for (the fine model), not the solve's own model: the solve's
    #: gap then compares across the two, and only the aggregation path, which reads the
    #: bound alone, passes it
    tighten: Callable[[dict, Callable[[int], int]], dict] | None = None

    def stop(self) -> float | None:
        """End the worker (if any, once) and return its bound (None: it proved none)."""
        worker, self.worker = self.worker, None
        best = worker.stop() if worker is not None else None
        return best if best is None or self.cap is None else min(best, self.cap)


def _parse_network(line: bytes) -> ChildNetwork:
    _, stopped, seconds, objective, values = line.split()
    if values == b"none":
        return ChildNetwork(stopped.decode(), float(seconds), None, None)
    array = np.frombuffer(zlib.decompress(base64.b64decode(values)), dtype=np.float64)
    return ChildNetwork(stopped.decode(), float(seconds), float(objective), array.copy())


def _network_line(stopped: str, seconds: float, objective: float | None,
                  values: np.ndarray | None) -> bytes:
    packed = b"none" if values is None else base64.b64encode(
        zlib.compress(np.asarray(values, np.float64).tobytes()))
    return (f"network {stopped} {seconds!r} {objective!r} ".encode() + packed + b"\n")


def _restricted_run(h: highspy.Highs, lower: np.ndarray, upper: np.ndarray,
                    start: np.ndarray | None, seconds: float, gap: float, options: dict,
                    seed: int) -> tuple[str, float | None, np.ndarray | None]:
    """One restricted MIP of the search: `h` with these column bounds, from `start`; its
    status in words, objective and values (None, None when it has no network)."""
    if _search_stopped.is_set():
        return "interrupt", None, None
    n = len(lower)
    h.changeColsBounds(n, np.arange(n, dtype=np.int32), lower, upper)
    for name, value in (("time_limit", max(seconds, 0.5)), ("threads", 1),
                        ("random_seed", seed), ("mip_rel_gap", gap), *options.items()):
        h.setOptionValue(name, value)
    if start is not None:
        set_start(h, start)
    with interrupt_when(h, _search_stopped.is_set):
        h.run()
    status = h.getModelStatus()
    stopped = ("interrupt" if status == highspy.HighsModelStatus.kInterrupt
               else h.modelStatusToString(status).lower().replace(" ", "_"))
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return stopped, None, None
    return (stopped, float(h.getInfo().objective_function_value),
            np.asarray(h.getSolution().col_value, float))


def _search(model: dict, job: dict, seed: int) -> bytes:
    """The child's network search (`KernelJob`): the restricted MIP, then the closing one."""
    started = time.perf_counter()
    lower, upper = model["col_lower"].copy(), model["col_upper"].copy()
    lower[job["cols"]], upper[job["cols"]] = job["lower"], job["upper"]
    stopped, objective, values = _restricted_run(
        highs_from_arrays(model), lower, upper, job["start"], job["seconds"], job["gap"],
        job["options"], seed)
    left = job["seconds"] - (time.perf_counter() - started)
    if values is not None and left >= 1.0:  # close what the network does not use
        closing_lower, closing_upper = model["col_lower"], model["col_upper"].copy()
        unused = job["decisions"][values[job["decisions"]] <= 0.5]
        closing_upper[unused] = np.minimum(closing_upper[unused], 0.0)
        # a HiGHS object of its own: HiGHS's clock does not always restart with a run
        _, closed, closed_values = _restricted_run(
            highs_from_arrays(model), closing_lower, closing_upper, values, left,
            job["gap"], job["options"], seed)
        if closed_values is not None and closed < objective:
            objective, values = closed, closed_values
    return _network_line(stopped, time.perf_counter() - started, objective, values)


def _solve(job: dict, out, search: dict | None = None) -> None:  # noqa: ANN001 - binary
    """The child's work: the network search if any (one `network` line), then the MIP to its
    time limit, printing each rise of the dual bound."""
    started = time.perf_counter()
    if search is not None:
        out.write(_search(job["model"], search, job["seed"]))
        out.flush()
    h = highs_from_arrays(job["model"])
    left = job["seconds"] - (time.perf_counter() - started)
    for name, value in (("time_limit", max(left, 0.5) + CHILD_SLACK), ("threads", 1),
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
    search = None
    if job.get("kernel_follows"):
        with contextlib.suppress(EOFError):
            search = pickle.load(sys.stdin.buffer)

    def orphaned() -> None:  # stdin closes when the parent stops us or dies
        while byte := sys.stdin.buffer.read(1):
            if byte == STOP_SEARCH:
                _search_stopped.set()
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    with contextlib.suppress(BrokenPipeError):  # the parent stopped reading
        _solve(job, out, search)
    os._exit(0)


if __name__ == "__main__":
    _main()
