"""IOS time formats, in one place because every show command prints them.

IOS prints durations as hh:mm:ss below a day, then `1d02h` below a week, then `2w3d`
(`show dmvpn` UpDn Tm, `show ip nhrp` created/expire, `show ip route` ages), and the
uptime of `show version` in words. Scripts (TextFSM templates) match exactly these shapes.
"""

from __future__ import annotations

from datetime import datetime


def duration(seconds: float | None, never: str = "never") -> str:
    if seconds is None:
        return never
    s = max(0, int(seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days == 0:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days < 7:
        return f"{days}d{hours:02d}h"
    return f"{days // 7}w{days % 7}d"


def uptime_words(seconds: float) -> str:
    """`5 minutes`, `1 hour, 5 minutes`, `2 weeks, 1 day, 3 hours, 0 minutes` (show version)."""
    s = max(0, int(seconds))
    parts = []
    for name, size in (("year", 365 * 86400), ("week", 7 * 86400), ("day", 86400), ("hour", 3600)):
        count, s = divmod(s, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    minutes = s // 60
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)


def debug_stamp(now: datetime | None = None) -> str:
    """The `service timestamps debug datetime msec` prefix: `*Nov  1 12:00:00.123: `."""
    now = now or datetime.now()
    return f"*{now.strftime('%b')} {now.day:>2} {now.strftime('%H:%M:%S')}.{now.microsecond // 1000:03d}: "
