"""Whether the cores are free (netopt/solver/machine.py): the cut loop's parallel dual simplex
only pays on free ones, and a run without a network says whether the machine was busy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netopt.data.case import load_case
from netopt.solver import highs, machine

pytestmark = pytest.mark.cores_measured  # these tests set the machine's load themselves

SMALL = Path(__file__).resolve().parents[1] / "models" / "us-small.yaml"


@pytest.mark.parametrize(("load", "others", "cores", "threads", "said"), [
    (0.3, None, 2, 2, None), (0.5, None, 2, 2, None), (0.6, 0.0, 2, 2, None),
    (0.6, 0.6, 2, 2, "other work using 0.6 of its 2 cores"),
    (1.6, 1.0, 2, 2, "other work using 1.0 of its 2 cores"), (1.6, 0.1, 2, 2, None),
    (1.2, None, 2, 1, None), (1.6, 0.4, 2, 1, None),
    (9.0, 2.0, 2, 2, "other work using 2.0 of its 2 cores"), (2.4, None, 8, 2, None),
    (None, None, 2, 2, None), (1.6, "n/a", 2, 2, "load 1.6 on 2 cores over the last minute"),
    (0.0, None, 1, 2, "2 threads for 1 core"), (0.0, None, 2, 4, "4 threads for 2 cores")])
def test_threads_find_free_cores_by_load_average_then_by_a_sample_of_the_cores(
        monkeypatch: pytest.MonkeyPatch, load: float | None, others: float | str | None,
        cores: int, threads: int, said: str | None) -> None:
    """Each thread needs a core free, to within half a core: a low load average says so at
    once (`others` None: no sample taken); a high one is checked against what the cores do
    now, since a run's own predecessor counts in it ("n/a": no /proc/stat, the load average
    decides). An unmeasurable load (Windows) counts as free, as before the check; more
    threads than cores never find them free."""
    sampled = []

    def sample() -> float | None:
        sampled.append(True)
        return None if others == "n/a" else others

    monkeypatch.setattr(machine, "load", lambda: load)
    monkeypatch.setattr(machine, "cores", lambda: cores)
    monkeypatch.setattr(machine, "other_work", sample)
    assert machine.shared_cores(threads) == said
    assert bool(sampled) is (others is not None)


def test_a_busy_machine_is_measured_and_warned_about_once_per_half_minute(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The loops of one solve (a staged start's two, N-1's one per hub) reuse the answer:
    one sample of the cores, one warning; after REUSE_SECONDS the machine is asked again."""
    samples, clock = [], [1000.0]
    monkeypatch.setattr(machine, "load", lambda: 1.8)
    monkeypatch.setattr(machine, "cores", lambda: 2)
    monkeypatch.setattr(machine, "other_work", lambda: samples.append(1) or 1.0)
    monkeypatch.setattr(machine, "monotonic", lambda: clock[0])
    settings = load_case(SMALL).config.solver
    settings.threads = 2
    with caplog.at_level("WARNING"):
        first = highs.loop_simplex(settings)
        clock[0] += 10
        second = highs.loop_simplex(settings)
        clock[0] += machine.REUSE_SECONDS
        third = highs.loop_simplex(settings)
    busy = "other work using 1.0 of its 2 cores"
    assert first == second == third == (highs.SIMPLEX_DEFAULT, busy)
    assert len(samples) == 2
    assert caplog.text.count("the cores are not free (other work using 1.0 of its 2 cores)") \
        == 2


def test_the_sample_is_the_cores_busy_time_over_its_wall_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """0.9 busy core-seconds gained over a 1.5-s sample: 0.6 cores kept busy."""
    busy = iter([10.0, 10.9])
    clock = iter([100.0, 101.5])
    monkeypatch.setattr(machine, "_busy_seconds", lambda: next(busy))
    monkeypatch.setattr(machine, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(machine, "sleep", lambda s: None)
    assert machine.other_work() == pytest.approx(0.6)


def test_a_sample_whole_ticks_overstate_reads_all_the_cores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two busy cores over a 0.05-s sample: 12 ticks of 1/100 s counted where 10 elapsed (a
    tick read at each end). That is both cores, not 2.4 of them."""
    busy = iter([10.0, 10.12])
    clock = iter([100.0, 100.05])
    monkeypatch.setattr(machine, "_busy_seconds", lambda: next(busy))
    monkeypatch.setattr(machine, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(machine, "sleep", lambda s: None)
    monkeypatch.setattr(machine, "cores", lambda: 2)
    assert machine.other_work(0.05) == 2.0


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_busy_time_counts_this_process_cores_and_what_a_hypervisor_stole(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """/proc/stat by hand: on cores 0 and 2 (the affinity), user + nice + system + irq +
    softirq + steal, not idle or iowait, nor guest (already in user), nor the machine-wide
    line or core 1; ticks of 1/100 s. A file whose cores are not the affinity's (LXCFS
    numbers a container's from 0) measures nothing."""
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  9999 9 9 9 9 9 9 9 9 9\n"
        "cpu0 100 10 20 5000 300 1 2 7 50 0\n"
        "cpu1 800 80 80 80 80 80 80 80 0 0\n"
        "cpu2 200 0 30 4000 0 0 3 0 0 0\n"
        "intr 123 4 5\nctxt 999\n")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2})
    monkeypatch.setattr(os, "sysconf", lambda name: 100)
    busy = (100 + 10 + 20 + 1 + 2 + 7) + (200 + 30 + 3)
    assert machine._busy_seconds(str(stat)) == pytest.approx(busy / 100)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {6, 7})
    assert machine._busy_seconds(str(stat)) is None


@pytest.mark.skipif(not Path(machine.PROC_STAT).is_file(), reason="no /proc/stat here")
def test_the_sample_reads_this_machine() -> None:
    """On this machine: a share of its cores between none and all of them."""
    others = machine.other_work(0.05)
    assert others is not None and 0.0 <= others <= machine.cores()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_cores_are_the_ones_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container pinned to one core of a larger machine: its CPU affinity, not the host's
    count, so that container's minute does not take one busy core for a free one."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert machine.cores() == 1
    assert machine.all_cores() == 16


def test_a_run_without_a_network_names_its_own_finding_else_a_machine_wide_load(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What `NoNetworkInTime` says of the machine: the run's own check at its cut loop when
    it found the cores shared (not an older run's), else a load above every core."""
    monkeypatch.setattr(machine, "all_cores", lambda: 4)
    monkeypatch.setattr(machine, "load", lambda: 3.0)
    monkeypatch.setattr(machine, "_answers", {2: (500.0, "other work using 1.0 of its 2 cores"),
                                              1: (520.0, None)})
    assert machine.busy_line(since=450.0) == \
        "other work using 1.0 of its 2 cores when its cut loop started"
    assert machine.busy_line(since=510.0) is None  # that finding is an earlier run's
    monkeypatch.setattr(machine, "load", lambda: 5.5)
    assert machine.busy_line(since=510.0) == "load 5.5 on 4 cores over the last minute"


def test_a_run_on_busy_cores_says_so_in_its_summary(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """us-small linked lazily (so its cut loop runs) on two threads: beside a busy core the
    summary, and the folder read back, say what kept the cores busy; on free cores null. The
    network costs the same either way (the loop's LP is the same, and us-small solves to its
    gap)."""
    from netopt.results.pipeline import solve_case
    from netopt.results.tables import Results

    monkeypatch.setattr(machine, "load", lambda: 1.8)
    monkeypatch.setattr(machine, "cores", lambda: 2)
    objectives = []
    for others, said in ((1.0, "other work using 1.0 of its 2 cores"), (0.0, None)):
        monkeypatch.setattr(machine, "other_work", lambda others=others: others)
        monkeypatch.setattr(machine, "_answers", {})
        case = load_case(SMALL)
        case.config.solver.strong_linking = "lazy"
        result = solve_case(case, threads=2)
        assert result.summary["cores_not_free"] == said
        result.write(tmp_path / str(others))
        again = Results.read(tmp_path / str(others))
        assert again.summary["cores_not_free"] == said and again.info.cores_not_free == said
        assert result.info.status == "optimal"
        objectives.append(result.summary["objective"])
    assert objectives[0] == pytest.approx(objectives[1], rel=2 * load_case(SMALL).config
                                          .solver.mip_gap)
