"""An in-memory wire for EigrpProcess tests and the benchmark: it carries each process's
outbox to the processes that would hear it, with a fake clock.

Two kinds of segment: a LAN (a multicast reaches every other member) and a DMVPN
tunnel (NBMA hub and spokes: a spoke's multicast reaches only the hub, the hub's reaches
every spoke; that is what `ip nhrp map multicast` replication does). Unicast goes to the
member that owns the destination address. `lossy` drops packets to test retransmission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import Callable, Optional

from dmvpnlab.routing.eigrp.neighbors import MULTICAST
from dmvpnlab.routing.eigrp.process import EigrpProcess
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings

TUNNEL = dict(bandwidth_kbps=100, delay_usec=50000, mtu=1400)
FAST = dict(bandwidth_kbps=100_000, delay_usec=100)


@dataclass
class Segment:
    name: str
    hub: Optional[str] = None                                   # set: an NBMA DMVPN tunnel
    members: dict[str, tuple[str, IPv4Address]] = field(default_factory=dict)  # router -> (iface, address)
    up: bool = True


class Wire:
    """Routers (EigrpProcess) on segments; `run` advances the clock and delivers."""

    def __init__(self) -> None:
        self.now = 0.0
        self.routers: dict[str, EigrpProcess] = {}
        self.settings: dict[str, EigrpSettings] = {}
        self.segments: dict[str, Segment] = {}
        self.where: dict[tuple[str, str], Segment] = {}        # (router, iface) -> segment
        self.delivered = 0
        self.sent: list[tuple[str, str, IPv4Address, bytes]] = []   # (router, iface, dst, data)
        self.drop: Callable[[str, str, IPv4Address, bytes], bool] = lambda *a: False
        self.debug: dict[str, list[str]] = {}

    # -- building --------------------------------------------------------------------
    def segment(self, name: str, hub: Optional[str] = None) -> Segment:
        self.segments[name] = Segment(name, hub)
        return self.segments[name]

    def router(self, name: str, interfaces: list[tuple[str, str, str, dict]], debug: bool = False,
               **settings) -> EigrpProcess:
        """interfaces: (interface, A.B.C.D/len, segment name or "" for a stub LAN, options)."""
        ifaces = []
        for ifname, address, seg, opts in interfaces:
            ifaces.append(EigrpInterfaceSettings(ifname, IPv4Interface(address), **opts))
            if seg:
                self.segments[seg].members[name] = (ifname, IPv4Interface(address).ip)
                self.where[(name, ifname)] = self.segments[seg]
        router_id = settings.pop("router_id", max(i.address.ip for i in ifaces))
        self.settings[name] = EigrpSettings(settings.pop("asn", 100), router_id, tuple(ifaces), **settings)
        sink = self.debug.setdefault(name, []).append if debug else None
        self.routers[name] = EigrpProcess(self.settings[name], self.now, debug=sink)
        return self.routers[name]

    # -- running ---------------------------------------------------------------------
    def recipients(self, router: str, iface: str, destination: IPv4Address) -> list[tuple[str, str]]:
        seg = self.where.get((router, iface))
        if seg is None or not seg.up:
            return []
        if destination == MULTICAST:
            names = [n for n in seg.members if n != router]
            if seg.hub is not None and router != seg.hub:
                names = [seg.hub] if seg.hub in seg.members else []
            return [(n, seg.members[n][0]) for n in names]
        return [(n, i) for n, (i, a) in seg.members.items() if a == destination and n != router]

    def deliver(self) -> int:
        """Carry every outbox until nothing is left to send; returns packets carried."""
        carried = 0
        while True:
            moved = False
            for name, proc in list(self.routers.items()):
                out, proc.outbox = proc.outbox, []
                for o in out:
                    moved = True
                    self.sent.append((name, o.interface, o.destination, o.data))
                    if self.drop(name, o.interface, o.destination, o.data):
                        continue
                    seg = self.where.get((name, o.interface))
                    source = seg.members[name][1] if seg else None
                    for peer, iface in self.recipients(name, o.interface, o.destination):
                        if peer in self.routers:
                            carried += 1
                            self.routers[peer].receive(iface, source, o.data, self.now)
            if not moved:
                self.delivered += carried
                return carried

    def run(self, seconds: float, step: float = 0.1) -> None:
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + step, 6)
            for proc in list(self.routers.values()):
                proc.tick(self.now)
            self.deliver()

    # -- reading ---------------------------------------------------------------------
    def route(self, router: str, prefix: str):
        return next((r for r in self.routers[router].routes() if str(r.prefix) == prefix), None)

    def hops(self, router: str, prefix: str) -> list[str]:
        r = self.route(router, prefix)
        return [str(a) if a is not None else i for a, i in r.next_hops] if r else []


def dmvpn(spokes: int = 3, hub_tunnel: Optional[dict] = None, spoke_kw: Optional[dict] = None,
          hub_kw: Optional[dict] = None, spoke_tunnel: Optional[dict] = None, debug: bool = False) -> Wire:
    """A hub (LAN 192.168.0.0/24) and spokes N (LAN 192.168.N.0/24) on Tunnel0 10.0.0.0/24."""
    wire = Wire()
    wire.segment("tunnel", hub="hub")
    wire.router("hub", [("Tunnel0", "10.0.0.1/24", "tunnel", {**TUNNEL, **(hub_tunnel or {})}),
                        ("Ethernet0/1", "192.168.0.1/24", "", FAST)], debug=debug, **(hub_kw or {}))
    for n in range(1, spokes + 1):
        wire.router(f"spoke{n}", [("Tunnel0", f"10.0.0.{n + 1}/24", "tunnel", {**TUNNEL, **(spoke_tunnel or {})}),
                                  ("Ethernet0/1", f"192.168.{n}.1/24", "", FAST)], debug=debug,
                    **(spoke_kw or {}))
    return wire
