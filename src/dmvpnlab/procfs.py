"""Reading /proc: what identifies a process we started, beyond its recyclable PID.

The lab's records (lab/records.py) and the FRR supervisor (routing/frr.py) both record
each process they start as PID + start time, so a PID the kernel has since given to
another process is never signalled. One reader for both, at the package top because
routing may not import lab. Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path


def proc_start_time(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Start time of `pid` in clock ticks since boot (stat field 22), None if gone or a zombie.

    The comm field (2) may contain spaces and ')' so we split after the *last* ')'.
    """
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except OSError:  # gone, not a directory, not ours to read
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    # rest[0] is field 3 (state); field 22 is rest[19].
    if len(rest) < 20 or rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float | None:
    """User + system CPU time of `pid` so far (stat fields 14 and 15), None if gone."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    if len(rest) < 13:
        return None
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, proc: Path = Path("/proc")) -> dict[str, int]:
    """Rss, Pss and the private/shared split of `pid` from smaps_rollup, in KiB.

    Pss is the honest size of a forked agent: pages it shares with the zygote and its
    siblings count 1/n each, where Rss counts them in full for every agent.
    """
    wanted = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
    out: dict[str, int] = {}
    try:
        lines = (proc / str(pid) / "smaps_rollup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if key in wanted:
            out[key] = int(value.split()[0])
    return out
