"""Reading /proc: what identifies a process we started, beyond its recyclable PID.

The lab's records (lab/records.py) and the FRR supervisor (routing/frr.py) both record
each process they start as PID + start time, so a PID the kernel has since given to
another process is never signalled. One reader for both, at the package top because
routing may not import lab. Standard library only.
"""

from __future__ import annotations

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
