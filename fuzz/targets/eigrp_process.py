"""EIGRP process: whatever a spoke sends to a hub with a running adjacency never raises.

Each execution replays a recorded real exchange (spoke1's packets to the hub: hellos,
INIT, the full table with EOT, acks, then its LAN going down and up again: query,
replies, updates) into a fresh hub `EigrpProcess` (split horizon off, next-hop-self off,
a summary, two spokes' worth of routes), so DUAL has state to lose; then the mutant
comes from spoke1, its checksum made right unless its first byte is 0xff, and the
timers run 30 s on. The process must count bad input as a drop and keep answering its
views; `raise_errors` makes a bug of ours raise here instead of being counted.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.routing.eigrp.codec import ones_complement_checksum
from dmvpnlab.routing.eigrp.neighbors import MULTICAST
from dmvpnlab.routing.eigrp.process import EigrpProcess
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings
from fuzz.harness import Target

HUB, SPOKE = IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")
TUNNEL = dict(bandwidth_kbps=100, delay_usec=50000, mtu=1400)


def _hub(now: float) -> EigrpProcess:
    tunnel = EigrpInterfaceSettings("Tunnel0", IPv4Interface("10.0.0.1/24"), split_horizon=False,
                                    next_hop_self=False, summaries=(IPv4Network("172.16.0.0/12"),), **TUNNEL)
    lans = tuple(EigrpInterfaceSettings(f"Loopback{n}", IPv4Interface(f"172.16.{n}.1/24"), passive=True)
                 for n in range(3))
    hub = EigrpProcess(EigrpSettings(100, HUB, (tunnel,) + lans, variance=2), now)
    hub.raise_errors = True
    return hub


def _spoke(now: float) -> EigrpProcess:
    ifaces = (EigrpInterfaceSettings("Tunnel0", IPv4Interface("10.0.0.2/24"), **TUNNEL),
              EigrpInterfaceSettings("Ethernet0/1", IPv4Interface("192.168.1.1/24")),
              EigrpInterfaceSettings("Ethernet0/2", IPv4Interface("192.168.11.1/24"), passive=True))
    return EigrpProcess(EigrpSettings(100, SPOKE, ifaces), now)


def _exchange(hub: EigrpProcess, spoke: EigrpProcess, now: float, log: list[tuple[float, bytes]]) -> None:
    for _ in range(50):
        out_h, hub.outbox = hub.outbox, []
        out_s, spoke.outbox = spoke.outbox, []
        for o in out_h:
            if o.destination in (MULTICAST, SPOKE):
                spoke.receive("Tunnel0", HUB, o.data, now)
        for o in out_s:
            if o.interface == "Tunnel0" and o.destination in (MULTICAST, HUB):
                log.append((now, o.data))
                hub.receive("Tunnel0", SPOKE, o.data, now)
        if not out_h and not out_s:
            return


@lru_cache(maxsize=1)
def recorded() -> tuple[tuple[float, bytes], ...]:
    """spoke1's packets to the hub, with their times."""
    hub, spoke = _hub(0.0), _spoke(0.0)
    log: list[tuple[float, bytes]] = []
    for step in range(1, 16):
        now = step * 0.1
        if step == 10:
            spoke.set_interface_state("Ethernet0/1", False, now)
        if step == 13:
            spoke.set_interface_state("Ethernet0/1", True, now)
        hub.tick(now)
        spoke.tick(now)
        _exchange(hub, spoke, now, log)
    assert hub.neighbor_views(1.5) and any(str(r.prefix) == "192.168.1.0/24" for r in hub.routes())
    return tuple(log)


def feed(data: bytes) -> None:
    hub = _hub(0.0)
    now = 0.0
    for now, packet in recorded():
        hub.tick(now)
        hub.receive("Tunnel0", SPOKE, packet, now)
    mutant = bytearray(data)
    if len(mutant) >= 20 and mutant[:1] != b"\xff":
        mutant[2:4] = b"\0\0"
        mutant[2:4] = ones_complement_checksum(bytes(mutant)).to_bytes(2, "big")
    hub.receive("Tunnel0", SPOKE, bytes(mutant), now + 0.05)
    hub.tick(now + 0.1)
    for view in (hub.routes(), hub.topology_views(), hub.neighbor_views(now + 0.1),
                 hub.interface_views(now + 0.1), hub.counters()):
        assert view is not None
    hub.tick(now + 30)
    assert "internal error" not in hub.counters()["drops"]
    # a mutated hello may announce a longer hold time: a neighbour still listed must have it
    left = hub.neighbor_views(now + 30)
    assert all(v.hold_remaining > 0 for v in left), "hold expired, still listed"
    if not left:
        assert {str(r.prefix) for r in hub.routes()} <= {"172.16.0.0/12"}, "routes of a gone neighbour"


TARGETS = [Target("eigrp-process", lambda: [p for _, p in recorded()], feed)]
