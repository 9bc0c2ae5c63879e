"""What the load generator measured: sends, replies, latencies per phase, drops.

Latencies are kept per phase ("burst" = the first registrations, "refresh", "resolve",
"purge") because a hub that answers a burst quickly but stalls while refreshing is the
case the benchmark is for. Percentiles by nearest rank on the sorted samples.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field


def percentile(samples: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `samples`, None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class PhaseStats:
    sent: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    first_sent: float | None = None
    last_answer: float | None = None

    def summary(self) -> dict[str, float | int | None]:
        span = (self.last_answer - self.first_sent) if self.first_sent is not None and self.last_answer else None
        ms = [x * 1000 for x in self.latencies]
        return {
            "sent": self.sent, "answered": self.answered, "unanswered": self.sent - self.answered,
            "seconds": span, "per_second": (self.answered / span) if span else None,
            "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None,
        }


@dataclass
class LoadStats:
    phases: dict[str, PhaseStats] = field(default_factory=lambda: defaultdict(PhaseStats))
    received: Counter[str] = field(default_factory=Counter)  # by what it was
    dropped: Counter[str] = field(default_factory=Counter)   # what the generator could not use

    def sent(self, phase: str, now: float) -> None:
        p = self.phases[phase]
        p.sent += 1
        if p.first_sent is None:
            p.first_sent = now

    def answered(self, phase: str, sent_at: float, now: float) -> None:
        p = self.phases[phase]
        p.answered += 1
        p.latencies.append(now - sent_at)
        p.last_answer = now

    def summary(self) -> dict[str, object]:
        return {"phases": {name: p.summary() for name, p in self.phases.items()},
                "received": dict(self.received), "dropped": dict(self.dropped)}
