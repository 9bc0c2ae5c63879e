"""Two IKE engines wired back to back in memory, with an optional NAT between them.

Not a mock: each engine's outbox is delivered to the other's `receive` exactly as a UDP
socket would (source address and port as seen after the NAT), and a test may drop,
duplicate or hold any datagram. The clock is the test's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.ipsec.events import ChildSaDown, ChildSaUp, Datagram, IkeRefused, IkeSaDown, IkeSaUp, PeerDead
from dmvpnlab.ipsec.ikev1_engine import IkeEngine
from dmvpnlab.ipsec.settings import ChildPolicy, IkePolicy, IpsecSettings, PresharedKey

HUB = IPv4Address("198.51.100.1")
SPOKE = IPv4Address("198.51.100.2")
INSIDE = IPv4Address("10.0.0.2")          # a spoke behind the NAT
NAT_PUBLIC = IPv4Address("100.64.0.1")
KEY = b"cisco123"


def settings(local: IPv4Address, key: bytes = KEY, **kw) -> IpsecSettings:
    keys = (PresharedKey(key, IPv4Network("0.0.0.0/0")),) if key else ()
    base = dict(local_address=local, child=ChildPolicy("DMVPN"), keys=keys,
                policies=(IkePolicy(10, "aes", 256, "sha256", 14),))
    base.update(kw)
    return IpsecSettings(**base)


@dataclass
class Node:
    name: str
    engine: IkeEngine
    address: IPv4Address                         # as the other side sees it
    log: list[tuple[str, str]] = field(default_factory=list)
    events: list = field(default_factory=list)
    sent: list[Datagram] = field(default_factory=list)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def ups(self) -> list[ChildSaUp]:
        return self.of(ChildSaUp)

    @property
    def downs(self) -> list[ChildSaDown]:
        return self.of(ChildSaDown)

    @property
    def refusals(self) -> list[str]:
        return [e.reason for e in self.of(IkeRefused)]


class Pair:
    """Engine a (the initiator in most tests) and engine b, optionally a behind a NAT."""

    def __init__(self, a_settings: IpsecSettings | None = None, b_settings: IpsecSettings | None = None,
                 nat: bool = False, now: float = 0.0) -> None:
        self.now = now
        self.nat = nat
        a_local = INSIDE if nat else SPOKE
        a_settings = a_settings or settings(a_local)
        b_settings = b_settings or settings(HUB)
        self.a = self._node("a", a_settings, NAT_PUBLIC if nat else a_settings.local_address)
        self.b = self._node("b", b_settings, b_settings.local_address)
        self.nat_ports = {500: 1500, 4500: 14500}    # inside port -> public port
        self.drop: Callable[[str, Datagram], bool] = lambda who, d: False
        self.wire: list[tuple[str, Datagram]] = []

    def _node(self, name: str, s: IpsecSettings, seen_as: IPv4Address) -> Node:
        node = Node(name, None, seen_as)  # type: ignore[arg-type]
        node.engine = IkeEngine(s, self.now, debug=lambda cat, line: node.log.append((cat, line)))
        return node

    def other(self, node: Node) -> Node:
        return self.b if node is self.a else self.a

    def collect(self) -> list[tuple[Node, Datagram]]:
        out = []
        for node in (self.a, self.b):
            slips = [line for _, line in node.log if "internal error" in line]
            assert node.engine.counters["internal error"] == 0, slips     # a bug of ours, swallowed
            node.events += node.engine.events
            node.engine.events.clear()
            for d in node.engine.outbox:
                node.sent.append(d)
                out.append((node, d))
            node.engine.outbox.clear()
        return out

    def deliver(self, node: Node, d: Datagram) -> None:
        """One datagram from ``node`` to the other side, through the NAT if any."""
        self.wire.append((node.name, d))
        if self.drop(node.name, d):
            return
        dst = self.other(node)
        if node is self.a:
            src_port = self.nat_ports[d.local_port] if self.nat else d.local_port
            dst.engine.receive(d.data, self.a.address, src_port, d.port, self.now)
        else:
            if self.nat:
                back = {v: k for k, v in self.nat_ports.items()}
                if d.peer != NAT_PUBLIC or d.port not in back:
                    return                          # the NAT has no mapping: lost
                dst.engine.receive(d.data, self.b.address, d.local_port, back[d.port], self.now)
            else:
                dst.engine.receive(d.data, self.b.address, d.local_port, d.port, self.now)

    def pump(self, rounds: int = 40) -> int:
        """Deliver until nothing is in flight; returns datagrams delivered."""
        count = 0
        for _ in range(rounds):
            batch = self.collect()
            if not batch:
                return count
            for node, d in batch:
                self.deliver(node, d)
                count += 1
        raise AssertionError("the engines never went quiet")

    def advance(self, seconds: float, step: float = 0.5) -> None:
        """Move the clock, ticking both engines and delivering as we go."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            for node in (self.a, self.b):
                node.engine.tick(self.now)
            self.pump()

    def connect(self) -> None:
        self.a.engine.connect(self.b.address, self.now)
        self.pump()


def up_pairs_agree(x: ChildSaUp, y: ChildSaUp) -> bool:
    return (x.spi_in, x.keymat_in, x.spi_out, x.keymat_out) == (y.spi_out, y.keymat_out, y.spi_in, y.keymat_in) \
        and x.transform == y.transform and x.mode == y.mode


__all__ = ["Pair", "Node", "settings", "up_pairs_agree", "HUB", "SPOKE", "INSIDE", "NAT_PUBLIC", "KEY",
           "IkeSaUp", "IkeSaDown", "PeerDead", "replace"]
