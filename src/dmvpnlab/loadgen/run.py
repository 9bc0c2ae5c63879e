"""The load generator's loop: a registration burst, a steady phase, purges.

1. burst: every emulated spoke registers, at most `window` requests in flight (or at
   `rate` per second), unanswered ones resent after `timeout` as an NHC would.
2. steady (`duration` s): registration refreshes as their timers fire (holdtime/3), and
   resolution requests between random emulated spokes at `resolutions` per second; the
   hub forwards them to the target, which answers the requester directly.
3. purge: every spoke purges its own registration (when asked).
`on_phase(name)` is called at each boundary (the command samples the hub's CPU and memory
there). Time comes from `clock` so tests can drive the loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

from dmvpnlab.loadgen.fleet import Datagram, Fleet


class Wire(Protocol):
    def send(self, datagram: Datagram) -> None: ...
    def receive(self, timeout: float): ...


@dataclass
class LoadSettings:
    window: int = 512
    rate: float | None = None  # registrations per second in the burst; None: as the window allows
    duration: float = 20.0
    resolutions: float = 50.0  # per second during the steady phase
    purge: bool = True
    timeout: float = 2.0
    burst_limit: float = 120.0  # give up on the burst after this long


def _pump(fleet: Fleet, wire: Wire, wait: float, clock: Callable[[], float], reply_timeout: float) -> None:
    """Receive what arrived (waiting up to `wait`), answer it, resend what went unanswered."""
    for src, dst, gre in wire.receive(wait):
        for answer in fleet.receive(src, dst, gre, clock()):
            wire.send(answer)
    for _, datagram in fleet.retransmissions(clock(), reply_timeout):
        wire.send(datagram)


def run(fleet: Fleet, wire: Wire, settings: LoadSettings, clock: Callable[[], float] = time.monotonic,
        on_phase: Callable[[str], None] = lambda _: None) -> None:
    count = fleet.plan.count
    on_phase("start")
    start = clock()
    next_spoke = 0
    while (fleet.registered_count < count or fleet.outstanding) and clock() - start < settings.burst_limit:
        now = clock()
        allowed = count if settings.rate is None else int((now - start) * settings.rate) + 1
        while next_spoke < min(count, allowed) and len(fleet.outstanding) < settings.window:
            wire.send(fleet.registration(next_spoke, clock(), "burst"))
            next_spoke += 1
        _pump(fleet, wire, 0.002 if next_spoke < count else 0.05, clock, settings.timeout)
        if next_spoke >= count and not fleet.outstanding:
            break
    on_phase("registered")
    steady_start = clock()
    resolutions_sent = 0
    while clock() - steady_start < settings.duration:
        now = clock()
        for spoke in fleet.due_refreshes(now):
            wire.send(fleet.registration(spoke, now, "refresh"))
        due = int((now - steady_start) * settings.resolutions)
        while resolutions_sent < due and count > 1:
            a, b = fleet.random_pair()
            wire.send(fleet.resolution(a, b, now))
            resolutions_sent += 1
        _pump(fleet, wire, 0.005, clock, settings.timeout)
    drain_until = clock() + settings.timeout
    while fleet.outstanding and clock() < drain_until:
        _pump(fleet, wire, 0.02, clock, settings.timeout)
    on_phase("steady")
    if settings.purge:
        next_spoke = 0
        purge_start = clock()
        while (next_spoke < count or fleet.outstanding) and clock() - purge_start < settings.burst_limit:
            while next_spoke < count and len(fleet.outstanding) < settings.window:
                wire.send(fleet.purge(next_spoke, clock()))
                next_spoke += 1
            _pump(fleet, wire, 0.005, clock, settings.timeout)
        on_phase("purged")
