"""How many threads the numerical libraries get when infoscope owns the process (the command
line): the cores that are idle when a command starts.

OpenMP threads that share a core with a busy neighbour make every parallel region wait for
the slowest one: on 2 cores beside one single-threaded busy loop, ``infoscope run
digits-mlp`` with 2 threads took 2.0× its idle time, with the idle cores' 1 thread 1.16×
(``python -m benchmarks --only contention``). Letting the threads sleep while they wait
(``OMP_WAIT_POLICY=PASSIVE``) cost 2.5× on an idle machine, so it is not used. The library itself never changes the thread count: a user's own process decides.
"""

from __future__ import annotations

import os
import time

__all__ = ["usable_cores", "busy_cores", "threads_for", "chosen_threads"]


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from ``/proc/stat`` (None where it cannot be read)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores were busy over the next ``interval`` seconds (None where unknown)."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(interval)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1]) * (os.cpu_count() or 1)


def threads_for(cores: int, busy: float | None) -> int:
    """Threads for ``cores`` usable cores of which ``busy`` are taken by others: the idle ones,
    at least 1 (all of them where ``busy`` is unknown).

    Examples
    --------
    >>> threads_for(2, 0.05), threads_for(2, 1.0), threads_for(8, 7.9), threads_for(4, None)
    (2, 1, 1, 4)
    """
    if busy is None:
        return cores
    return max(1, min(cores, round(cores - busy)))


def chosen_threads(interval: float = 0.1) -> int:
    """:func:`threads_for` this machine now."""
    return threads_for(usable_cores(), busy_cores(interval))
