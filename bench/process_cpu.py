"""CPU seconds (user + system) of the processes a bench runs on, read from ``/proc``.

On a small machine the client, the servers (PostgreSQL, the S3 server) and the nodes under test
share the cores, so a wall-clock ratio alone cannot tell which of them caps it. ``CpuMeter``
samples each named process group before and after a measured step and reports the CPU seconds
each spent in between: a process's own time plus that of its children it has waited for (a
PostgreSQL backend that exits is counted through the postmaster's ``cutime``). PostgreSQL is
shared with anything else on the machine; its figure counts all of its backends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds of ``pid`` and of its waited-for children (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    # fields after the name: state is [0]; utime, stime, cutime, cstime are [11:15]
    return sum(int(value) for value in fields[11:15]) / _TICKS_PER_SECOND


def postgresql_pids() -> list[int]:
    """Return the pids of every running ``postgres`` process (the postmaster and backends)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name == "postgres" or name.startswith("postgres:"):
            pids.append(int(entry.name))
    return pids


@dataclass
class CpuMeter:
    """Groups of processes by name, each a function returning its pids now."""

    groups: dict[str, Callable[[], Iterable[int]]] = field(default_factory=dict)
    _started: dict[str, dict[int, float]] = field(default_factory=dict)

    def add(self, name: str, pids: Callable[[], Iterable[int]]) -> None:
        """Measure the processes ``pids()`` returns under ``name``."""
        self.groups[name] = pids

    def start(self) -> None:
        """Take the first sample of every group."""
        self._started = {name: self._sample(pids) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, float]:
        """Return the CPU seconds each group spent since :meth:`start` (processes that started
        in between count from zero; one that exited must have been waited for by a process of
        its group, as PostgreSQL's backends are by the postmaster)."""
        spent = {}
        for name, pids in self.groups.items():
            before = self._started.get(name, {})
            # a process that exited in between is in ``before`` only: its time moved to the
            # parent's ``cutime`` (in the group too), so the group's totals are subtracted
            spent[name] = sum(self._sample(pids).values()) - sum(before.values())
        return spent

    @staticmethod
    def _sample(pids: Callable[[], Iterable[int]]) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in pids()}


def format_cpu(spent: dict[str, float], seconds: float) -> str:
    """Return one line: each group's CPU seconds and its share of one core over ``seconds``."""
    parts = [f"{name} {value:6.2f} s ({value / seconds:4.0%})" for name, value in spent.items()]
    return "  CPU: " + ", ".join(parts) + f"; total {sum(spent.values()):.2f} s"
