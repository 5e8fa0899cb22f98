"""How busy the machine's cores are, for choices that only pay on free ones.

HiGHS's parallel dual simplex (SIP) spreads each iteration over two threads: on free cores the
national default's cut loop takes 11.8-11.9 s with it against 12.6-14.4 s serial, but beside
one busy core it no longer finishes within its share of the minute, and beside two or more
the minute ends far worse than the serial simplex's (bench/RESULTS.md, "The cut loop beside
busy cores").

Two measures, the cheap one first: the one-minute load average, which every Unix keeps; and,
where it says busy, the cores' busy time over a short sample from /proc/stat (Linux only;
elsewhere the load average decides alone). The load average counts this process's own
earlier work too: a run right after another would take the cores its predecessor just left
for busy ones.
"""

from __future__ import annotations

import os
from time import monotonic, perf_counter, sleep

#: seconds of sampling when the load average says the cores are busy: long enough to see a
#: busy core (its share is then ~1.0), short against the minute it decides for
SAMPLE_SECONDS = 0.3
#: seconds an answer of `recently_shared` is reused: the cut loops of one solve (a staged
#: start runs two, N-1 re-solves one per hub) ask again within seconds, and the sample and
#: the warning it brings would repeat for each
REUSE_SECONDS = 30.0
PROC_STAT = "/proc/stat"

#: threads -> (when it was measured, on the monotonic clock; `shared_cores`' answer)
_answers: dict[int, tuple[float, str | None]] = {}


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one, as in a
    container pinned to part of a machine; a CPU quota is not seen), else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def all_cores() -> int:
    """Every core of the machine, which the load average counts."""
    return os.cpu_count() or 1


def load() -> float | None:
    """Runnable processes over the last minute, machine-wide and this one included, or None
    where the system does not measure it (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _busy_seconds(path: str = PROC_STAT) -> float | None:
    """CPU seconds spent busy on this process's cores since boot, by every process together
    (None where not measurable, or where the file's cores are not the affinity's, as under
    LXCFS, which numbers a container's cores from 0). Time stolen by a hypervisor counts as
    busy: the core was not free for this process either; guest time is already in user."""
    try:
        allowed = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        with open(path, encoding="ascii") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
        hz = os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError):
        return None
    busy, seen = 0, 0
    for name, *ticks in lines:
        if name in allowed:  # user nice system idle iowait irq softirq steal
            values = [int(t) for t in ticks[:8]]
            busy += sum(values) - values[3] - values[4]
            seen += 1
    return busy / hz if seen else None


def other_work(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores kept busy over the next `seconds` while this thread waits: by other processes,
    or by this process's other threads, which would compete just the same. None where it
    cannot be measured. At most the cores this process may use: /proc/stat counts whole
    clock ticks, so a short sample of busy cores can read a tick or two over their wall time
    (2.27 of 2 cores over 0.05 s, seen on a 2-core machine)."""
    before = _busy_seconds()
    if before is None:
        return None
    start = perf_counter()
    sleep(seconds)
    after = _busy_seconds()
    if after is None:
        return None
    return min(max(after - before, 0.0) / (perf_counter() - start), float(cores()))


def shared_cores(threads: int) -> str | None:
    """None where `threads` threads would each find a core free, to within half a core; else
    why not, in words. The load average answers when it is low enough; otherwise a short
    sample of the cores' work decides (a run right after a run sees its predecessor in the
    load average). Where neither can be measured the cores count as free, the choice an idle
    machine gets."""
    have = cores()
    if threads > have:
        return f"{threads} threads for {have} core{'s' if have > 1 else ''}"
    now = load()
    if now is None or have - now >= threads - 0.5:
        return None
    others = other_work()
    if others is None:
        return _load_words(now, have)
    if have - others >= threads - 0.5:
        return None
    return f"other work using {others:.1f} of its {have} cores"


def recently_shared(threads: int) -> tuple[str | None, bool]:
    """`shared_cores(threads)`, reused for REUSE_SECONDS; and whether it was measured now
    (False: an answer already given, so a warning about it was given too)."""
    now = monotonic()
    earlier = _answers.get(threads)
    if earlier is not None and now - earlier[0] < REUSE_SECONDS:
        return earlier[1], False
    answer = shared_cores(threads)
    _answers[threads] = (now, answer)
    return answer, True


def busy_line(since: float) -> str | None:
    """What kept the cores busy during a run that started at `since` (monotonic clock): the
    run's own check at its cut loop where it found them shared, else a load over the last
    minute above every core of the machine."""
    found = [(at, answer) for at, answer in _answers.values()
             if answer is not None and at >= since]
    if found:
        return f"{max(found)[1]} when its cut loop started"
    now, every = load(), all_cores()
    if now is None or now <= every:
        return None
    return _load_words(now, every)


def _load_words(load_average: float, of: int) -> str:
    return f"load {load_average:.1f} on {of} cores over the last minute"
