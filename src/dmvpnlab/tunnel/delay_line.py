"""Delay and jitter on a tunnel's outgoing packets, in user space, for kernels without netem.

Why here: this machine's kernel has no `sch_netem`, and every GRE or ESP packet a router
sends already leaves through the agent's raw socket. A `DelayLine` stands in for that
socket's `sendto`: each packet is handed to the socket `delay` ± `jitter` later by the
agent's own asyncio loop (`call_later`), so nothing else of the agent waits, and packets
may overtake each other under jitter as they do under netem. Delay 0 and jitter 0 put
the socket's own `sendto` back: the undisturbed path costs nothing.

`impair(transport, line)` fits a line to a transport (plain GRE or ESP; their sockets and,
for ESP, every peer's send route). Imports only the standard library.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any, Callable

SendTo = Callable[[bytes, Any], object]


class DelayLine:
    """Holds packets `delay_ms` ± `jitter_ms` before the wrapped `sendto` (see the module docstring)."""

    def __init__(self, delay_ms: float, jitter_ms: float = 0.0, loop: asyncio.AbstractEventLoop | None = None,
                 rng: random.Random | None = None) -> None:
        self.delay_ms = max(0.0, delay_ms)
        self.jitter_ms = max(0.0, jitter_ms)
        self.loop = loop  # the agent's running loop; looked up when a packet is first held
        self.rng = rng or random.Random()
        self.counters: Counter[str] = Counter()  # delayed, sent, send failed

    @property
    def active(self) -> bool:
        return bool(self.delay_ms or self.jitter_ms)

    def seconds(self) -> float:
        """One packet's delay: uniform in [delay - jitter, delay + jitter], never below zero."""
        spread = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.delay_ms + spread) / 1000.0

    def wrap(self, sendto: SendTo) -> SendTo:
        """A `sendto` that delays; the original itself when the line is idle."""
        if not self.active:
            return sendto

        def send_later(data: bytes, address: Any) -> None:
            self.counters["delayed"] += 1
            if self.loop is None:
                self.loop = asyncio.get_running_loop()
            self.loop.call_later(self.seconds(), self._send, sendto, data, address)

        send_later.original = sendto  # type: ignore[attr-defined]
        return send_later

    def _send(self, sendto: SendTo, data: bytes, address: Any) -> None:
        try:
            sendto(data, address)
            self.counters["sent"] += 1
        except OSError:
            self.counters["send failed"] += 1  # unreachable by then: the packet is lost, as on a wire


def unwrapped(sendto: SendTo | None) -> SendTo | None:
    """The socket's own `sendto` under any delay line."""
    while sendto is not None and hasattr(sendto, "original"):
        sendto = sendto.original  # type: ignore[attr-defined]
    return sendto


def impair(transport: Any, line: DelayLine) -> None:
    """Send `transport`'s packets through `line` (idle line: undo). Plain GRE: its socket's
    `sendto` and the fast path's `send_gre`. ESP: its ESP and GRE sockets, the NAT-T
    `udp_sendto`, and every peer's route, rebuilt from the current SAs."""
    sockets = [getattr(transport, name) for name in ("sock", "esp_sock", "gre_sock") if hasattr(transport, name)]
    for sock in sockets:
        sock.sendto = line.wrap(unwrapped(sock.sendto))  # type: ignore[arg-type]
    if hasattr(transport, "udp_sendto") and transport.udp_sendto is not None:
        transport.udp_sendto = line.wrap(unwrapped(transport.udp_sendto))  # type: ignore[arg-type]
    if hasattr(transport, "sadb") and hasattr(transport, "refresh"):
        for peer in list(getattr(transport, "_routes", {})):
            transport.refresh(peer)
    elif hasattr(transport, "sock"):
        transport.send_gre = transport.sock.sendto
