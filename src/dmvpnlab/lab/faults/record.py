"""The fault record: every fault injected into a lab, with its time, in faults.jsonl next to the lab's
captures (captures/<lab>/, which outlive the lab), or in its run directory without captures.

Why a file of its own: a fault is only useful in a report when it can be lined up with the
packets it caused. Each event carries the wall-clock time (`time`, seconds since the epoch:
the clock tcpdump stamps pcapng packets with) and the monotonic time of the process that
injected it (`mono`, for durations measured in that process). The file is appended one JSON
line per event, so `dmvpnlab fault list`, a test and a controller in another process all
read the same history. Imports only the standard library.
"""

from __future__ import annotations

import json
import threading
import time as clock
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

FAULTS_FILE = "faults.jsonl"


@dataclass(frozen=True)
class FaultEvent:
    """One thing a fault did: `kind` (kill, link-down, loss ...), its `target` node, the
    `action` (inject, down, up, clear ...) and the parameters it ran with."""

    kind: str
    target: str
    action: str
    time: float = field(default_factory=clock.time)
    mono: float = field(default_factory=clock.monotonic)
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FaultEvent":
        return cls(kind=str(data["kind"]), target=str(data["target"]), action=str(data["action"]),
                   time=float(data["time"]), mono=float(data.get("mono", 0.0)),
                   params=dict(data.get("params") or {}))

    def line(self) -> str:
        """`HH:MM:SS.mmm kind target action k=v ...` as `dmvpnlab fault list` prints it."""
        stamp = clock.strftime("%H:%M:%S", clock.gmtime(self.time)) + f".{int(self.time * 1000) % 1000:03d}"
        extra = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{stamp} {self.kind:<10} {self.target:<10} {self.action}" + (f" {extra}" if extra else "")


class FaultLog:
    """Appends events to `path` (thread-safe: flaps record from their own threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, event: FaultEvent) -> FaultEvent:
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(event.to_json(), sort_keys=True) + "\n")
        return event

    def events(self) -> list[FaultEvent]:
        return list(read_events(self.path))


def read_events(path: Path) -> Iterator[FaultEvent]:
    """The events of a fault record in order; a torn last line (a writer killed mid-line) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for text in lines:
        try:
            yield FaultEvent.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError):
            continue
