"""The soak's verdict from its samples: pure functions, so the rules are read and tested alone.

A soak passes when, over the whole run:
- nothing is stuck: no NHRP entry is ever seen past its expiry (`expires_in` < -STUCK_GRACE_S:
  an entry must expire or be refreshed, never linger), and once faults stop and the lab has
  settled every spoke's NHSs respond (R) and every sampled pair reaches each other;
- no agent grows: the RSS of every agent process that lived through the measured window
  grows by at most RSS_GROWTH_LIMIT (10 %) from its first sample after its own warm-up
  (counted from when the process was first seen: restarted agents warm up too) to its last;
- nothing leaks: after tear-down no namespace and no process of the lab is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RSS_GROWTH_LIMIT = 0.10
STUCK_GRACE_S = 2.0  # sampling and expiry run on different clocks: a small overshoot is not "stuck"


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        head = "SOAK PASSED" if self.ok else "SOAK FAILED"
        return [head, *(f"  - {r}" for r in self.reasons)] + [f"  {k}: {v}" for k, v in self.numbers.items()]


def stuck_entries(samples: list[dict[str, Any]]) -> list[str]:
    """`node prefix (expired N s ago)` for every cache entry seen past its expiry in any sample."""
    out = []
    for sample in samples:
        for node, entries in sample.get("caches", {}).items():
            for entry in entries:
                left = entry.get("expires_in")
                if left is not None and left < -STUCK_GRACE_S:
                    out.append(f"{node} {entry.get('prefix')} (expired {-left:.0f} s ago, t={sample['t']:.0f} s)")
    return out


def rss_windows(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, tuple[float, int, float, int]]:
    """Per agent process (node:pid): (t, RSS) of its first sample taken `warmup_s` after the
    process was first seen (a fresh agent grows while it imports and fills its caches: a
    restarted one too), and (t, RSS) of its last sample."""
    born: dict[str, float] = {}
    first: dict[str, tuple[float, int]] = {}
    last: dict[str, tuple[float, int]] = {}
    for sample in samples:
        for key, rss in sample.get("rss_kib", {}).items():
            born.setdefault(key, sample["t"])
            if sample["t"] - born[key] < warmup_s:
                continue
            first.setdefault(key, (sample["t"], rss))
            last[key] = (sample["t"], rss)
    return {key: (*first[key], *last[key]) for key in first}


def rss_growth(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, float]:
    """Per agent process alive after its warm-up: last RSS / first RSS - 1."""
    return {key: b / a - 1.0 for key, (_, a, _, b) in rss_windows(samples, warmup_s).items() if a > 0}


def verdict(samples: list[dict[str, Any]], final: dict[str, Any], warmup_s: float, min_window_s: float) -> Verdict:
    """Judge a soak: `samples` during the run, `final` the settled checks and the leak check."""
    reasons: list[str] = []
    stuck = stuck_entries(samples)
    if stuck:
        reasons.append(f"{len(stuck)} NHRP entries seen past their expiry, e.g. {stuck[:3]}")
    windows = rss_windows(samples, warmup_s)
    # only processes measured over a long enough window count (a restarted agent starts anew)
    judged = {k: b / a - 1.0 for k, (t0, a, t1, b) in windows.items() if a > 0 and t1 - t0 >= min_window_s}
    grown = {k: round(g * 100, 1) for k, g in judged.items() if g > RSS_GROWTH_LIMIT}
    if grown:
        reasons.append(f"RSS grew more than {RSS_GROWTH_LIMIT:.0%}: {grown} (%)")
    if not judged:
        reasons.append("no agent lived through a whole measured window: RSS growth not judged")
    not_responding = final.get("nhs_not_responding") or []
    if not_responding:
        reasons.append(f"after settling, NHSs not responding on {not_responding}")
    unreachable = final.get("unreachable_pairs") or []
    if unreachable:
        reasons.append(f"after settling, pairs that do not reach each other: {unreachable}")
    leaked = final.get("leaked") or []
    if leaked:
        reasons.append(f"left behind after tear-down: {leaked}")
    numbers = {
        "samples": len(samples),
        "agents judged for RSS": len(judged),
        "max RSS growth %": round(max(judged.values()) * 100, 2) if judged else None,
        "median RSS growth %": round(sorted(judged.values())[len(judged) // 2] * 100, 2) if judged else None,
        "stuck entries": len(stuck),
    }
    return Verdict(ok=not reasons, reasons=reasons, numbers=numbers)
