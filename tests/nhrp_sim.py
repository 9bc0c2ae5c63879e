"""A tiny in-memory DMVPN for NHRP engine tests: engines, fake routing tables, a fake clock.

Why: the engine is sans-I/O, so a whole hub-and-spokes network fits in a list. The
`Net` carries every (NBMA source, NBMA destination, bytes) the engines emit to the
engine that owns the destination NBMA, records it on `wire` (decoded, for assertions),
and plays the agent's part for events: ShortcutAdded/ShortcutRemoved become routes in the
node's table, exactly as the agent installs kernel routes (a shortcut for a prefix the
table already has overrides that row, which comes back when the shortcut goes), and
answers the engine's `covering` question without the shortcuts, as the kernel side does. `Net.ping` walks a data packet
hop by hop through the routing tables and the engines' `next_hop_nbma` decisions, and
calls the hub's `hairpin` when a packet leaves the tunnel it came in on (as mgre.py does),
so tests can assert which routers a packet crossed.

Addresses follow the lab's default plan (lab/addressing.py): tunnel 10.0.0.0/24, hub .1,
spokeN .(N+1); hub NBMA 203.0.113.1, spokeN NBMA 100.64.N.1; LAN 192.168.i.0/24, host .10.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable

from dmvpnlab.nhrp.codec import NhrpPacket, decode
from dmvpnlab.nhrp.config import NhrpEngineConfig, NhsConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.events import ShortcutAdded, ShortcutRemoved
from dmvpnlab.nhrp.routes import Route

A = IPv4Address
N = IPv4Network

TUNNEL = N("10.0.0.0/24")
HUB_TUNNEL = A("10.0.0.1")
HUB_NBMA = A("203.0.113.1")
AUTH = b"DMVPN"


def tunnel_address(index: int) -> A:
    return A(f"10.0.0.{index + 1}")


def nbma_address(index: int) -> A:
    return HUB_NBMA if index == 0 else A(f"100.{64 + index // 256}.{index % 256}.1")


def lan(index: int) -> N:
    return N(f"192.168.{index}.0/24")


def lan_host(index: int) -> A:
    return A(f"192.168.{index}.10")


RouteRow = tuple[IPv4Network, "IPv4Address | None", bool]  # prefix, next hop (None: connected), via tunnel


def oracle(table: list[RouteRow], local: set[IPv4Address]) -> Callable[[IPv4Address], Route | None]:
    """Longest-prefix match over `table`; `local` addresses answer as the router's own."""

    def lookup(address: IPv4Address) -> Route | None:
        if address in local:
            return Route(N(f"{address}/32"), None, False, True)
        best: Route | None = None
        for prefix, next_hop, via_tunnel in table:
            if address in prefix and (best is None or prefix.prefixlen > best.prefix.prefixlen):
                best = Route(prefix, next_hop, via_tunnel)
        return best

    return lookup


def covering_oracle(node: "Node") -> Callable[[IPv4Network], Route | None]:
    """The agent's `covering` question over a node's table: the longest route containing
    a prefix, the node's own shortcut rows left out and the rows they shadow put back."""

    def covering(prefix: IPv4Network) -> Route | None:
        rows = [r for r in node.table if node.shortcuts.get(r[0]) != r[1]] + list(node.shadowed.values())
        best: Route | None = None
        for row_prefix, next_hop, via_tunnel in rows:
            if prefix.subnet_of(row_prefix) and (best is None or row_prefix.prefixlen > best.prefix.prefixlen):
                best = Route(row_prefix, next_hop, via_tunnel)
        return best

    return covering


def ip_packet(src: IPv4Address, dst: IPv4Address, payload: bytes = b"\x08\x00\xf7\xff\x00\x00\x00\x00extra") -> bytes:
    """A minimal IPv4 packet (ICMP echo-ish) for the dataplane walk and Traffic Indications."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0, 64, 1, 0, src.packed, dst.packed)
    return header + payload


@dataclass
class Node:
    name: str
    engine: NhrpEngine
    nbma: IPv4Address
    table: list[RouteRow]
    local: set[IPv4Address]
    shortcuts: dict[IPv4Network, IPv4Address] = field(default_factory=dict)
    shadowed: dict[IPv4Network, RouteRow] = field(default_factory=dict)  # same-prefix rows a shortcut overrides
    events: list[object] = field(default_factory=list)
    seen_nbma: IPv4Address | None = None  # the source address others see (NAT); None: nbma

    @property
    def public(self) -> IPv4Address:
        return self.seen_nbma or self.nbma

    @property
    def config(self) -> NhrpEngineConfig:
        return self.engine.config


@dataclass
class WirePacket:
    time: float
    src: str  # node name
    dst: str  # node name, or "?" for an NBMA no node owns
    src_nbma: IPv4Address
    dst_nbma: IPv4Address
    data: bytes
    delivered: bool

    @property
    def packet(self) -> NhrpPacket:
        return decode(self.data)


class Net:
    """The NBMA network: delivers NHRP between engines, ticks them, walks data packets."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.nodes: dict[str, Node] = {}
        self.wire: list[WirePacket] = []
        self.down: set[str] = set()  # nodes that receive nothing (unplugged / agent stopped)

    # --- building --------------------------------------------------------------------

    def add(self, name: str, config: NhrpEngineConfig, table: list[RouteRow], local: set[IPv4Address] | None = None,
            start: bool = True) -> Node:
        local = set(local or ()) | {config.tunnel_address.ip}
        node = Node(name, NhrpEngine(config, oracle(table, local), self.now), config.nbma_address, table, local)
        node.engine.covering = covering_oracle(node)
        self.nodes[name] = node
        if start:
            node.engine.start(self.now)
            self.flush()
        return node

    def restart(self, name: str, config: NhrpEngineConfig | None = None) -> Node:
        """A fresh engine for `name` (the agent restarted): all learned state is gone."""
        old = self.nodes[name]
        config = config or old.config
        old.engine = NhrpEngine(config, oracle(old.table, old.local), self.now)
        old.engine.covering = covering_oracle(old)
        for prefix in list(old.shortcuts):
            del old.shortcuts[prefix]
            old.table[:] = [row for row in old.table if row[0] != prefix]
            if prefix in old.shadowed:
                old.table.append(old.shadowed.pop(prefix))
        old.engine.start(self.now)
        self.flush()
        return old

    def by_nbma(self, nbma: IPv4Address) -> Node | None:
        """The node reachable at `nbma`: a NAT'd node only at its public address."""
        for node in self.nodes.values():
            if node.public == nbma:
                return node
        return None

    # --- the network ------------------------------------------------------------------

    def flush(self) -> None:
        """Deliver everything queued until the network is quiet; apply engine events."""
        for _ in range(1000):
            busy = False
            for node in list(self.nodes.values()):
                self._apply_events(node)
                outbox, node.engine.outbox = node.engine.outbox, []
                for dst_nbma, data in outbox:
                    busy = True
                    target = self.by_nbma(dst_nbma)
                    delivered = target is not None and target.name not in self.down
                    self.wire.append(WirePacket(self.now, node.name, target.name if target else "?",
                                                node.public, dst_nbma, data, delivered))
                    if delivered:
                        assert target is not None
                        target.engine.receive(data, node.public, self.now)
                        self._apply_events(target)
            if not busy:
                return
        raise AssertionError("NHRP storm: the network never went quiet")

    def _apply_events(self, node: Node) -> None:
        events, node.engine.events = node.engine.events, []
        for event in events:
            node.events.append(event)
            if isinstance(event, ShortcutAdded):
                for row in node.table:
                    if row[0] == event.prefix and node.shortcuts.get(row[0]) != row[1]:
                        node.shadowed[row[0]] = row  # a protocol's route: the shortcut overrides it
                node.table[:] = [row for row in node.table if row[0] != event.prefix]
                node.table.append((event.prefix, event.next_hop, True))
                node.shortcuts[event.prefix] = event.next_hop
            elif isinstance(event, ShortcutRemoved):
                if node.shortcuts.get(event.prefix) == event.next_hop:
                    del node.shortcuts[event.prefix]
                    node.table[:] = [row for row in node.table if row[0] != event.prefix]
                    if event.prefix in node.shadowed:  # the protocol's own next hop is back
                        node.table.append(node.shadowed.pop(event.prefix))

    def tick(self) -> None:
        for node in self.nodes.values():
            node.engine.tick(self.now)
        self.flush()

    def run(self, seconds: float, step: float = 1.0, every: Callable[[], None] | None = None) -> None:
        """Advance the fake clock, ticking every engine each `step` (and calling `every`)."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            if every is not None:
                every()
            self.tick()

    def mark(self) -> int:
        return len(self.wire)

    def since(self, mark: int, type: int | None = None, src: str | None = None, dst: str | None = None) -> list[WirePacket]:
        return [w for w in self.wire[mark:]
                if (type is None or w.packet.type == type) and (src is None or w.src == src)
                and (dst is None or w.dst == dst)]

    # --- the dataplane ----------------------------------------------------------------

    def ping(self, src_node: str, src: IPv4Address, dst: IPv4Address) -> list[str]:
        """Walk one IP packet from `src_node`; the names of the routers it crossed."""
        packet = ip_packet(src, dst)
        node = self.nodes[src_node]
        path = [node.name]
        came_from: IPv4Address | None = None
        for _ in range(16):
            route = node.engine.routes(dst)
            if route is None or route.local or not route.via_tunnel:
                self.flush()
                return path
            next_hop = route.next_hop or dst
            decision = node.engine.next_hop_nbma(next_hop, self.now)
            if came_from is not None:  # in and out of the tunnel: the hub's hairpin
                node.engine.hairpin(packet, came_from, self.now)
            self.flush()
            target = self.by_nbma(decision.nbma) if decision.nbma is not None else None
            if target is None or target.name in self.down:
                path.append("?")
                return path
            came_from = node.public
            node = target
            path.append(node.name)
        raise AssertionError(f"routing loop: {path}")


# --- the standard lab ---------------------------------------------------------------


def hub_config(**overrides) -> NhrpEngineConfig:
    values = dict(interface="Tunnel0", tunnel_address=IPv4Interface("10.0.0.1/24"), nbma_address=HUB_NBMA,
                  holdtime=300, authentication=AUTH, network_id=1, multicast_dynamic=True)
    values.update(overrides)
    return NhrpEngineConfig(**values)


def spoke_config(index: int, **overrides) -> NhrpEngineConfig:
    values = dict(interface="Tunnel0", tunnel_address=IPv4Interface(f"{tunnel_address(index)}/24"),
                  nbma_address=nbma_address(index), holdtime=300, authentication=AUTH, network_id=1,
                  nhs=[NhsConfig(HUB_TUNNEL, HUB_NBMA, multicast=True)])
    values.update(overrides)
    return NhrpEngineConfig(**values)


def hub_table(spokes: int) -> list[RouteRow]:
    rows: list[RouteRow] = [(TUNNEL, None, True), (lan(0), None, False)]
    rows += [(lan(i), tunnel_address(i), True) for i in range(1, spokes + 1)]
    return rows


def spoke_table(index: int, spokes: int, phase: int) -> list[RouteRow]:
    """Phase 2: every LAN via its own spoke (next hop preserved); Phase 3: a summary via the hub."""
    rows: list[RouteRow] = [(TUNNEL, None, True), (lan(index), None, False)]
    if phase == 3:
        rows.append((N("192.168.0.0/16"), HUB_TUNNEL, True))
    else:
        rows += [(lan(i), tunnel_address(i), True) for i in range(0, spokes + 1) if i != index]
    return rows


def dmvpn(spokes: int = 2, phase: int = 2, hub: dict | None = None, spoke: dict | None = None,
          start: bool = True) -> Net:
    """Hub + N spokes, Phase 2 (or 3: redirect on the hub, shortcut on the spokes), all registered."""
    net = Net()
    hub_extra = dict(redirect=phase == 3) | (hub or {})
    net.add("hub", hub_config(**hub_extra), hub_table(spokes), {lan(0)[1]})
    spoke_extra = dict(shortcut=phase == 3) | (spoke or {})
    for i in range(1, spokes + 1):
        net.add(f"spoke{i}", spoke_config(i, **spoke_extra), spoke_table(i, spokes, phase), {lan(i)[1]}, start=start)
    return net
