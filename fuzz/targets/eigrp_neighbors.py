"""EIGRP neighbours/RTP: whatever a peer sends to an established adjacency never raises.

Each execution replays a recorded real exchange (b's packets to a: hellos, INIT update,
acks, an update) into a fresh `EigrpNeighbors`, so the adjacency is up, then feeds the
mutant as if b sent it, with its checksum made right half the time so the state machine
(not only the checksum check) is reached, then runs the timers. Bad input must be a
counted drop or a protocol event, never an exception.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address

from dmvpnlab.routing.eigrp.codec import Opcode, ones_complement_checksum
from dmvpnlab.routing.eigrp.neighbors import MULTICAST, EigrpNeighbors, NeighborDown
from dmvpnlab.routing.eigrp.tlvs import Destination, Ipv4Internal, Metric
from fuzz.harness import Target

A, B, IFACE = IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"), "Tunnel0"
KNOWN_REASONS = {"holding time expired", "Interface Goodbye received", "K-value mismatch",
                 "peer restarted", "retry limit exceeded"}


def _router(address: IPv4Address) -> EigrpNeighbors:
    r = EigrpNeighbors(100, address)
    r.add_interface(IFACE, address)
    return r


@lru_cache(maxsize=1)
def recorded() -> tuple[tuple[float, bytes], ...]:
    """b's packets to a during adjacency forming and one update, with their times."""
    a, b = _router(A), _router(B)
    log: list[tuple[float, bytes]] = []
    now = 0.0
    for step in range(12):
        now = step * 0.1
        if step == 8:
            b.send_reliable((Ipv4Internal("0.0.0.0", Metric(12800, 25600), (Destination.of("10.7.0.0/24"),)),),
                            Opcode.UPDATE, now=now)
        a.tick(now)
        b.tick(now)
        for _ in range(20):
            out_a, a.outbox = a.outbox, []
            out_b, b.outbox = b.outbox, []
            for o in out_a:
                if o.destination in (MULTICAST, B):
                    b.receive(IFACE, A, o.data, now)
            for o in out_b:
                if o.destination in (MULTICAST, A):
                    log.append((now, o.data))
                    a.receive(IFACE, B, o.data, now)
            if not out_a and not out_b:
                break
    assert a.is_up(B), "the recorded exchange must bring the adjacency up"
    return tuple(log)


def feed(data: bytes) -> None:
    a = _router(A)
    now = 0.0
    for now, packet in recorded():
        a.tick(now)
        a.receive(IFACE, B, packet, now)
    mutant = bytearray(data)
    if len(mutant) >= 20 and mutant[:1] != b"\xff":   # fix the checksum unless told not to
        mutant[2:4] = b"\0\0"
        mutant[2:4] = ones_complement_checksum(bytes(mutant)).to_bytes(2, "big")
    a.receive(IFACE, B, bytes(mutant), now + 0.05)
    a.neighbors(now + 0.05)
    a.tick(now + 30)
    reasons = {e.reason for e in a.events if isinstance(e, NeighborDown)}
    assert reasons <= KNOWN_REASONS, reasons
    # a mutated hello may announce a longer hold time; a neighbour that stays must have it
    assert all(row.hold_remaining > 0 for row in a.neighbors(now + 30)), "hold expired, still listed"


TARGETS = [Target("eigrp-neighbors", lambda: [p for _, p in recorded()], feed)]
