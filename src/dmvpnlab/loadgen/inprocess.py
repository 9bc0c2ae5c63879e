"""The fleet against a hub `NhrpEngine` in this process: no namespaces, no sockets.

Why: the unit tests check the fleet against the real hub engine (not a stand-in), and
`bench/bench_hub_engine.py` measures the hub's per-packet and per-tick cost at 10,000
spokes without the kernel's share in the numbers. The wire delivers each datagram at
once: the fleet's to the engine (by destination = the hub's NBMA), the engine's outbox
back to the fleet; a datagram between two emulated spokes goes straight across.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable, Iterator

from dmvpnlab.loadgen.fleet import Datagram
from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.routes import Route
from dmvpnlab.tunnel.gre import GRE_PROTO_NHRP, decode_gre, encode_gre


def hub_engine(tunnel: IPv4Interface, nbma: IPv4Address, *, auth: bytes | None, holdtime: int,
               now: float, redirect: bool = True) -> NhrpEngine:
    """A Phase 3 hub's engine, configured as nodes/hub.j2 configures the agent's."""
    network = tunnel.network

    def routes(address: IPv4Address) -> Route | None:
        if address == tunnel.ip:
            return Route(prefix=IPv4Network(f"{address}/32"), next_hop=None, via_tunnel=False, local=True)
        if address in network:
            return Route(prefix=network, next_hop=None, via_tunnel=True)
        return None

    config = NhrpEngineConfig(interface="Tunnel0", tunnel_address=tunnel, nbma_address=nbma, holdtime=holdtime,
                              authentication=auth, network_id=1, multicast_dynamic=True, redirect=redirect)
    return NhrpEngine(config, routes, now)


class EngineWire:
    """A `run.Wire` joining the fleet and one hub engine, with the clock the engine sees."""

    def __init__(self, engine: NhrpEngine, gre_key: int | None, clock: Callable[[], float],
                 on_packet: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.gre_key = gre_key
        self.clock = clock
        self.on_packet = on_packet
        self.to_fleet: list[tuple[IPv4Address, IPv4Address, bytes]] = []
        self.hub_packets = 0

    def send(self, datagram: Datagram) -> None:
        if datagram.dst != self.engine.config.nbma_address:
            self.to_fleet.append((datagram.src, datagram.dst, datagram.gre))
            return
        frame = decode_gre(datagram.gre)
        self.hub_packets += 1
        self.engine.receive(frame.payload, datagram.src, self.clock())
        self.on_packet()
        me = self.engine.config.nbma_address
        for nbma, data in self.engine.outbox:
            self.to_fleet.append((me, nbma, encode_gre(GRE_PROTO_NHRP, data, self.gre_key)))
        self.engine.outbox.clear()
        self.engine.events.clear()

    def receive(self, timeout: float) -> Iterator[tuple[IPv4Address, IPv4Address, bytes]]:
        while self.to_fleet:
            batch, self.to_fleet = self.to_fleet, []
            yield from batch
