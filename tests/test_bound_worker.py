"""The bound worker (solver/bound_worker.py): a child process proves lower bounds on the model
HiGHS holds, after a network search of its own when the start hands it one. Hand-checked on a
tiny covering MIP whose LP is weaker than its optimum; it never outlives its parent; and on
us-small's kernel path its bound is valid and the optimum a solve proves does not depend on
it."""

from __future__ import annotations

import math
import time
from pathlib import Path

import highspy
import numpy as np
import pytest

from netopt.data.case import load_case
from netopt.results.pipeline import solve_case
from netopt.solver import bound_worker, highs, machine

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"
BUSY = "other work using 1.0 of its 2 cores"


def _small_kernel_path(limit: float) -> dict:
    """us-small's summary through the national default's path: lazily linked, two threads
    (so the worker runs), gap 1e-4 (callers set WARM_START_MIN_SITES so the start runs)."""
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    case.config.solver.threads = 2
    case.config.solver.mip_gap = 1e-4
    return solve_case(case, time_limit=limit).summary


def _workers_made(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each bound worker the solves make, whether a network search was to follow."""
    made: list[bool] = []
    real = bound_worker.BoundWorker

    def recorded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        made.append(kwargs.get("kernel_follows", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(highs, "BoundWorker", recorded)
    return made


def _busy_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine as the cut loop measures it: one core taken by other work (the spare
    core's network search is a safeguard for such machines)."""
    monkeypatch.setattr(machine, "recently_shared", lambda threads: (BUSY, False))


def _highs(cost: list[float], rows: list[tuple[list[int], list[float], float, float]],
           binary: list[int], upper: list[float] | None = None) -> highspy.Highs:
    """A minimisation model passed to HiGHS (columns in [0, upper], 1 by default)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    n = len(cost)
    h.addVars(n, np.zeros(n), np.ones(n) if upper is None else np.asarray(upper, float))
    h.changeColsCost(n, np.arange(n), np.asarray(cost, float))
    for cols, vals, lo, hi in rows:
        h.addRow(lo if lo is not None else -inf, hi if hi is not None else inf, len(cols),
                 np.asarray(cols, np.int32), np.asarray(vals, float))
    h.changeColsIntegrality(len(binary), np.asarray(binary, np.int32),
                            np.full(len(binary), highspy.HighsVarType.kInteger))
    return h


def _three_sites_three_patients() -> highspy.Highs:
    """Sites 0, 1, 2 (fixed cost 3 each) each serve two of three patient zones for free
    ({0,1}, {1,2}, {0,2}); serving a zone from any other site costs 10. Columns: y0..y2, then
    x[i,j] at 3 + 3i + j. The LP opens every site at 1/2 and serves each zone half from each
    of its two sites: 4.5. Any one site leaves a zone at 10 (13); two sites cover all: 6."""
    near = {(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2)}
    cost = [3.0] * 3 + [0.0 if (i, j) in near else 10.0 for i in range(3) for j in range(3)]
    rows = [([3 + 3 * i + j for i in range(3)], [1.0] * 3, 1.0, 1.0) for j in range(3)]
    rows += [([3 + 3 * i + j, i], [1.0, -1.0], None, 0.0) for i in range(3) for j in range(3)]
    return _highs(cost, rows, binary=[0, 1, 2])


def _market_split(rows: int = 4, cols: int = 40, seed: int = 7) -> highspy.Highs:
    """A market-split MIP (Cornuejols & Dawande 1998): a few equality rows of random
    coefficients over binaries, slack priced; branch-and-bound needs hours at this size, so
    the child is still busy when the test ends it."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(rows, cols))
    split = [([*range(cols), cols + 2 * r, cols + 2 * r + 1], [*map(float, a[r]), 1.0, -1.0],
              float(a[r].sum() // 2), float(a[r].sum() // 2)) for r in range(rows)]
    return _highs([0.0] * cols + [1.0] * (2 * rows), split, binary=list(range(cols)),
                  upper=[1.0] * cols + [1e4] * (2 * rows))


def test_the_child_proves_the_hand_computed_optimum_above_the_lp() -> None:
    h = _three_sites_three_patients()
    relaxed = _three_sites_three_patients()
    relaxed.setOptionValue("solve_relaxation", True)
    relaxed.run()
    assert math.isclose(relaxed.getInfo().objective_function_value, 4.5, abs_tol=1e-9)
    worker = bound_worker.BoundWorker(h, seconds=60.0, seed=0)
    try:
        worker._child.wait(timeout=120)  # done on its own: the MIP is proven
    finally:
        bound = worker.stop()
    assert math.isclose(bound, 6.0, abs_tol=1e-9)


def test_stop_ends_a_busy_child_and_returns_its_bound_so_far() -> None:
    worker = bound_worker.BoundWorker(_market_split(), seconds=600.0, seed=0)
    try:
        waited = time.perf_counter()
        while worker.best is None and time.perf_counter() - waited < 60:
            time.sleep(0.1)
        assert worker._child.poll() is None  # still searching
    finally:
        bound = worker.stop()
    assert worker._child.poll() is not None
    assert bound is not None and 0.0 <= bound <= 1e-9 + 2 * 4 * 1e4


def test_the_child_stops_itself_when_its_parent_is_gone() -> None:
    """A parent killed without calling stop closes the child's stdin: the child must not
    keep a core busy for the rest of its time limit."""
    worker = bound_worker.BoundWorker(_market_split(), seconds=600.0, seed=0)
    try:
        time.sleep(1.0)
        assert worker._child.poll() is None
        worker._child.stdin.close()
        assert worker._child.wait(timeout=60) == 0
    finally:
        worker.stop()  # kills it if the test failed: no child left busy


def _search(h: highspy.Highs, cols: list[int], lower: list[float], upper: list[float],
            start: list[float]) -> bound_worker.ChildNetwork:
    """The child's network search on `h` (restricted at `cols`, from `start`, sites 0-2 the
    decisions), then its bound; returns what it reported."""
    worker = bound_worker.BoundWorker(h, seconds=60.0, seed=0, kernel_follows=True)
    try:
        worker.search(bound_worker.KernelJob(
            np.asarray(cols, np.int64), np.asarray(lower, float), np.asarray(upper, float),
            np.asarray(start, float), np.arange(3, dtype=np.int64), 1e-9, 30.0, {}))
        found = worker.searched(timeout=60.0)
    finally:
        worker.stop()
    assert found is not None
    return found


def test_the_child_searches_the_restricted_mip_then_closes_what_its_network_leaves_idle(
        ) -> None:
    """The three-site case. Site 0 closed: sites 1 and 2 serve every zone for free, 6. Sites 1
    and 2 closed: site 0 serves zone 2 at 10, 13 - the restriction binds, as a kernel's does.
    All three held open: the restricted MIP costs 9, and the closing MIP after it (which may
    only close what that network uses, nothing held) drops one site: 6."""
    every_site = [1.0, 1.0, 1.0] + [1.0 if j == i else 0.0 for i in range(3) for j in range(3)]
    found = _search(_three_sites_three_patients(), [0], [0.0], [0.0], every_site)
    assert found.stopped == "optimal" and math.isclose(found.objective, 6.0, abs_tol=1e-9)
    assert found.values[:3].round().tolist() == [0.0, 1.0, 1.0]
    found = _search(_three_sites_three_patients(), [1, 2], [0.0, 0.0], [0.0, 0.0],
                    every_site)
    assert math.isclose(found.objective, 13.0, abs_tol=1e-9)
    found = _search(_three_sites_three_patients(), [0, 1, 2], [1.0] * 3, [1.0] * 3,
                    every_site)
    assert math.isclose(found.objective, 6.0, abs_tol=1e-9)
    assert sum(found.values[:3].round()) == 2


def test_stop_search_ends_a_long_search_with_the_network_it_has() -> None:
    """The market split from a feasible start (every binary 0, each row's slack taking its
    right-hand side): told to stop after a second, the child reports at once, with a network
    no dearer than its start, and goes on to the bound. `reported` says whether it has."""
    h = _market_split()
    lp = h.getLp()
    start = np.zeros(lp.num_col_)
    start[40::2] = np.asarray(lp.row_lower_)  # s+ of each row
    worker = bound_worker.BoundWorker(h, seconds=600.0, seed=0, kernel_follows=True)
    try:
        worker.search(bound_worker.KernelJob(
            np.zeros(0, np.int64), np.zeros(0), np.zeros(0), start,
            np.arange(40, dtype=np.int64), 0.0, 600.0, {}))
        time.sleep(1.0)
        assert worker.searched(timeout=0.0) is None  # still searching
        assert not worker.reported()
        asked = time.perf_counter()
        worker.stop_search()
        found = worker.searched(timeout=30.0)
        assert time.perf_counter() - asked < 10.0
        assert worker.reported()
    finally:
        worker.stop()
    assert found is not None and found.stopped == "interrupt"
    assert found.objective <= float(start[40:].sum()) + 1e-9


def test_a_worker_told_there_is_no_search_goes_on_to_the_bound() -> None:
    worker = bound_worker.BoundWorker(_three_sites_three_patients(), seconds=60.0, seed=0,
                                      kernel_follows=True)
    try:
        worker.search(None)
        assert worker.searched(timeout=0.0) is None
        assert worker.reported()  # there is nothing to wait for
        worker._child.wait(timeout=120)
    finally:
        bound = worker.stop()
    assert math.isclose(bound, 6.0, abs_tol=1e-9)


@pytest.mark.slow
def test_us_small_kernel_path_bound_is_valid_and_the_optimum_does_not_depend_on_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small (27 sites) through the national default's path - cut loop, kernel start,
    full MIP - with two threads, so the worker runs: its network search (on busy cores) is
    a stage of the solve, never cheaper than the network returned; the optimum is the one
    the same run proves without the worker, and the bound it reports is below that
    network."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    _busy_cores(monkeypatch)

    def solve(worker: bool) -> dict:
        monkeypatch.setattr(highs, "MIN_WORKER_SECONDS", 20.0 if worker else math.inf)
        return _small_kernel_path(60.0)

    started = []
    real = bound_worker.BoundWorker

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(highs, "BoundWorker", counted)
    alone, helped = solve(worker=False), solve(worker=True)
    assert started == [1]
    # both proven within the gap, from different starts (with the worker, the spare core's
    # network may win): the networks may differ by that much
    assert helped["objective"] == pytest.approx(alone["objective"], rel=1e-4)
    assert helped["bound"] <= helped["objective"] * (1 + 1e-12)
    assert helped["gap"] <= 1e-4 + 1e-12 and helped["status"] == "optimal"
    spare = [st for st in helped["stages"] if st["stage"] == highs.SPARE_STAGE]
    assert len(spare) == 1 and spare[0]["objective_usd"] is not None
    assert spare[0]["objective_usd"] >= helped["objective"] * (1 - 1e-9)
    assert not any(st["stage"] == highs.SPARE_STAGE for st in alone["stages"])


@pytest.mark.slow
def test_the_worker_proves_at_once_with_time_to_spare_or_free_cores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small through the kernel path, three ways (one busy 60-s run shared, where two
    tests each made it):
    - a start with SPARE_SEARCH_SECONDS or more on busy cores: the chain's own kernels
      finish, so the worker is made to prove at once (no network search handed to it);
    - 60 s on free cores: the loop ends by itself, so the worker proves at once too;
    - 60 s on busy cores: a search is handed over and the spare-core stage is reported.
    Neither of the first two reports a spare-core stage, and all three prove the optimum."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    made = _workers_made(monkeypatch)
    free = _small_kernel_path(60.0)
    _busy_cores(monkeypatch)
    long = _small_kernel_path(highs.SPARE_SEARCH_SECONDS + 60.0)
    short = _small_kernel_path(60.0)
    assert made == [False, False, True]
    loop = next(st for st in free["stages"] if st["stage"] == "linking cut loop")
    assert loop["stopped"] in ("converged", "stalled")
    for quiet in (free, long):
        assert not any(st["stage"] == highs.SPARE_STAGE for st in quiet["stages"])
        assert quiet["status"] == "optimal"
        assert quiet["bound"] <= quiet["objective"] * (1 + 1e-12)
        assert quiet["objective"] == pytest.approx(short["objective"], rel=1e-4)
    assert any(st["stage"] == highs.SPARE_STAGE for st in short["stages"])


@pytest.mark.slow
def test_a_short_start_the_search_takes_proves_on_the_spare_core_and_searches_the_dive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small as the national minute runs it (the pair threshold within reach, the cut
    loop stopped by its share as on a slow machine): the worker is made to prove (no search
    handed to it), the chain hands the dived network to the neighbourhood search with no
    kernel of its own, and the optimum is proven."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    monkeypatch.setattr(highs, "NEIGHBOURHOOD_MIN_PAIRS", 0)
    told = []
    real = highs._spare_searches

    def slow_loop(solver, seconds, loop_stopped, searched):  # noqa: ANN001, ANN202
        told.append(searched)
        return real(solver, seconds, highs.CLOCK, searched)

    monkeypatch.setattr(highs, "_spare_searches", slow_loop)
    made = _workers_made(monkeypatch)
    summary = _small_kernel_path(highs.DIVE_SEARCH_SECONDS - 5.0)
    names = [stage["stage"] for stage in summary["stages"]]
    assert told == [True] and made == [False]
    assert not {"narrow kernel", "strict kernel", highs.SPARE_STAGE} & set(names)
    assert names.index("dived network") < names.index(highs.NEIGHBOURHOOD_STAGE)
    assert summary["status"] == "optimal"
    assert summary["bound"] <= summary["objective"] * (1 + 1e-12)


@pytest.mark.parametrize(("seconds", "busy", "loop", "searched", "searches"), [
    # a model only the kernels take: the spare core searches where they may not finish
    (60.0, None, "stalled", False, False),  # free cores, the loop ended by itself
    (60.0, None, "converged", False, False),
    (60.0, None, "time limit", False, True),  # the loop reached its share: a slow machine
    (60.0, BUSY, "stalled", False, True),  # other work on the cores
    (60.0, None, None, False, True),  # no loop ran: nothing says how fast the machine is
    (highs.SPARE_SEARCH_SECONDS, BUSY, "time limit", False, False),  # time for the kernels
    # a chain that will dive and search (a model the neighbourhood search takes, a start
    # under DIVE_SEARCH_SECONDS) needs no MIP root: only busy cores have the spare core
    # search beside it
    (60.0, None, "time limit", True, False),
    (60.0, None, None, True, False),
    (60.0, BUSY, "stalled", True, True),
    (highs.SPARE_SEARCH_SECONDS, BUSY, "time limit", True, False),
])
def test_the_spare_core_searches_only_where_the_chain_may_not_finish(
        seconds: float, busy: str | None, loop: str | None, searched: bool,
        searches: bool) -> None:
    solver = highs._Highs()
    solver.cores_not_free = busy
    assert highs._spare_searches(solver, seconds, loop, searched) is searches


@pytest.mark.slow
def test_without_a_search_the_worker_only_proves_and_no_spare_stage_is_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No search to hand over (no rounded network, or too little time): the child goes
    straight to the bound, and the solve reports no spare-core stage (not one 'stopped by
    the clock')."""
    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    _busy_cores(monkeypatch)  # a search would be handed over, but there is none
    asked = []
    monkeypatch.setattr(highs, "_spare_job", lambda *args, **kwargs: asked.append(1))
    summary = _small_kernel_path(60.0)
    assert asked == [1]
    assert not any(st["stage"] == highs.SPARE_STAGE for st in summary["stages"])
    assert highs.SPARE_STAGE not in (summary["stopped_by_clock"] or [])
    assert summary["status"] == "optimal" and summary["bound"] <= summary["objective"] + 1e-6


def test_a_carried_proof_ends_its_worker_once_and_caps_its_bound() -> None:
    """The worker a solve hands over (CarriedProof) goes on proving until the caller stops
    it; the bound it returns never passes the network's objective, and a second stop finds
    nothing to stop."""
    worker = bound_worker.BoundWorker(_market_split(), seconds=600.0, seed=0)
    carry = bound_worker.CarriedProof(until=time.perf_counter() + 600.0, worker=worker,
                                      cap=-1.0)  # below any bound of this MIP (costs >= 0)
    try:
        waited = time.perf_counter()
        while worker.bound is None and time.perf_counter() - waited < 60:
            time.sleep(0.1)
        assert worker.bound is not None and worker.bound >= 0.0
        assert worker.running  # still proving after its first bound
    finally:
        bound = carry.stop()
    assert bound == -1.0 and not worker.running
    assert carry.worker is None and carry.stop() is None


@pytest.mark.slow
def test_solve_model_hands_its_worker_over_and_stops_it_when_a_stage_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """us-small through the kernel path with `carry`: the worker is not stopped when the
    solve returns but handed over, alive until the caller stops it, with the network's
    objective as its cap; when a stage raises, the worker is stopped all the same."""
    from netopt.model.build import build_model
    from netopt.model.prepare import prepare

    monkeypatch.setattr(highs, "WARM_START_MIN_SITES", 1)
    monkeypatch.setattr(highs, "SPARE_SEARCH_SECONDS", 0.0)  # the worker only proves
    made = []
    real = bound_worker.BoundWorker

    def recorded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(highs, "BoundWorker", recorded)
    case = load_case(SMALL)
    case.config.solver.strong_linking = "lazy"
    case.config.solver.threads = 2
    case.config.solver.mip_gap = 1e-4

    def model():  # noqa: ANN202
        return build_model(prepare(case))

    carry = bound_worker.CarriedProof(until=time.perf_counter() + 120.0)
    try:
        info = highs.solve_model(model(), case.config.solver, time_limit=30.0, carry=carry)
        assert len(made) == 1 and carry.worker is made[0]
        assert carry.cap == info.objective and info.status == "optimal"
    finally:
        late = carry.stop()
    assert made[0]._child.poll() is not None
    assert late is None or late <= info.objective

    def fails(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("a stage failed")

    monkeypatch.setattr(highs, "mip_start", fails)
    carry = bound_worker.CarriedProof(until=time.perf_counter() + 120.0)
    with pytest.raises(RuntimeError, match="a stage failed"):
        highs.solve_model(model(), case.config.solver, time_limit=30.0, carry=carry)
    assert len(made) == 2 and carry.worker is None
    assert made[1]._child.poll() is not None  # stopped, not left proving
