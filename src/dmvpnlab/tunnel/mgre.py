"""One mGRE tunnel interface at run time: TAP + transport + dataplane + NHRP.

This is where the pieces meet per packet. Frames out of the TAP are mapped to an NBMA
address by NHRP (or by `tunnel destination` in point-to-point mode) and handed to the
transport (plain GRE today, GRE in ESP with `tunnel protection`); what the transport
receives, decapsulated and key-checked, is written into the TAP, or handed to NHRP when
it is GRE protocol 0x2001.

Hairpin detection for Phase 3: a hub with `ip nhrp redirect` remembers the last few
packets it decapsulated (source, destination, IP id, protocol -> the NBMA they came
from). When the kernel routes one of them back out of the TAP, the packet is leaving by
the interface it came in on, which is exactly when IOS sends a Traffic Indication.

Fast paths: most packets are plain unicast to a next hop NHRP already resolved. For
those the tunnel keeps `dst MAC -> (transport peer, next hop)` and sends with the
transport's constant header and one `send_gre` call; on receive, unicast IPv4 is written
behind the dataplane's constant Ethernet header. Anything else (ARP, multicast, TCP
SYNs to clamp, unknown next hops, NHRP) takes the general path through the dataplane
and the engine. The fast table is dropped whenever the NHRP cache changes (its
generation moves), and "used" marks are handed to NHRP on every tick.

Imports the rest of `tunnel` and the NHRP engine (the one place tunnel meets nhrp).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from ipaddress import IPv4Address, IPv4Interface
from typing import Any, Callable

from dmvpnlab.ipsec.endpoint import as_peer  # a NAT-T source keeps its port (ipsec.endpoint)
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel import frames
from dmvpnlab.tunnel.dataplane import Drop, Multicast, TunnelDataplane, Unicast, WriteTap
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP
from dmvpnlab.tunnel.tap import TapDevice
from dmvpnlab.tunnel.transport import GreTransport, Transport, TunnelCounters

HAIRPIN_MEMORY = 512


class MgreTunnel:
    """The run-time state of `interface TunnelN` (one per agent today)."""

    def __init__(self, name: str, address: IPv4Interface, nbma: IPv4Address, key: int | None,
                 mtu: int, tcp_mss: int | None, engine: NhrpEngine,
                 destination: IPv4Address | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 tap: TapDevice | None = None, transport: Transport | None = None) -> None:
        """`tap` and `transport` default to a new TAP called `name` and plain GRE over a
        raw socket; benchmarks pass stand-ins to time the per-packet Python alone. The
        transport is keyed with `key` either way."""
        self.name = name
        self.address = address
        self.nbma = nbma
        self.destination = destination
        self.engine = engine
        self.clock = clock
        self.dataplane = TunnelDataplane(address, frames.tunnel_mac(address.ip), mtu, tcp_mss)
        if tap is None:
            tap = TapDevice(name)
            tap.configure(self.dataplane.tap_mac, address, mtu)
        self.tap = tap
        self.transport: Transport = transport if transport is not None else GreTransport()
        self.transport.set_key(key)
        self._recent: OrderedDict[bytes, str] = OrderedDict()
        self.on_engine_output: Callable[[], None] = lambda: None
        self._fast: dict[bytes, tuple[Any, IPv4Address]] = {}
        self._fast_generation = -1
        #: Destination MACs the fast path sent to since the last tick. Bytes, not the
        #: next hop: a 6-byte hash is computed in C, an IPv4Address hash is Python code
        #: (hex() of the int) on every packet. The MAC encodes the next hop.
        self._fast_used: set[bytes] = set()

    @property
    def key(self) -> int | None:
        return self.transport.key

    @property
    def counters(self) -> TunnelCounters:
        return self.transport.counters

    def close(self) -> None:
        self.tap.close()
        self.transport.close()

    def set_key(self, key: int | None) -> None:
        self.transport.set_key(key)
        self._fast.clear()

    def hand_over_used(self, now: float) -> None:
        """Tell NHRP which next hops carried traffic on the fast path (refresh before expiry)."""
        used, self._fast_used = self._fast_used, set()
        for mac in used:
            next_hop = frames.ip_from_tunnel_mac(mac)
            if next_hop is not None:
                self.engine.note_used(next_hop, now)

    # --- kernel -> NBMA -------------------------------------------------------------

    def drain_tap(self) -> int:
        """Read every waiting frame from the TAP and act on it; how many frames were read
        (the agent's loop uses it to decide whether to look at the other side again)."""
        if self._fast_generation != self.engine.cache.generation:
            self._fast.clear()
            self._fast_generation = self.engine.cache.generation
        fast = self._fast
        transport = self.transport
        header = transport.header(GRE_PROTO_IPV4)
        send_gre = transport.send_gre
        used = self._fast_used
        counters = transport.counters
        redirect = self.engine.config.redirect and self._recent
        read = self.tap.read
        extra = len(header) - 14  # GRE header in, Ethernet header out
        packets = octets = 0  # fast-path sends, added to the counters once at the end
        seen = 0
        try:
            while (frame := read()) is not None:
                seen += 1
                mac = frame[:6]
                route = fast.get(mac)
                # Fast: plain IPv4 (no options), exactly one packet long; anything else,
                # malformed frames included, goes to the dataplane, which checks and counts.
                if (route is not None and not redirect and len(frame) >= 34 and frame[12:14] == b"\x08\x00"
                        and frame[14] == 0x45 and ((frame[16] << 8) | frame[17]) + 14 == len(frame)):
                    if frame[23] == 6:  # TCP: a SYN goes the long way, for `ip tcp adjust-mss`
                        flags_at = 27 + ((frame[14] & 0x0F) << 2)
                        if flags_at >= len(frame) or frame[flags_at] & 0x02:
                            route = None
                    if route is not None:
                        try:
                            send_gre(header + frame[14:], route[0])
                        except OSError:
                            counters.drops["send failed"] += 1
                            continue
                        used.add(mac)
                        packets += 1
                        octets += len(frame) + extra
                        continue
                for action in self.dataplane.from_tap(frame):
                    if type(action) is Unicast:
                        self._unicast(action.next_hop, action.packet)
                    elif type(action) is WriteTap:
                        self.tap.write(action.frame)
                    elif type(action) is Multicast:
                        for nbma in self._multicast_targets():
                            transport.send(GRE_PROTO_IPV4, action.packet, nbma)
                    elif type(action) is Drop:
                        pass  # counted by the dataplane
        finally:
            counters.gre_out += packets
            counters.bytes_out += octets
        self.on_engine_output()
        return seen

    def _multicast_targets(self) -> list[IPv4Address]:
        if self.destination is not None:
            return [self.destination]
        return self.engine.multicast_targets()

    def _unicast(self, next_hop: IPv4Address, packet: bytes) -> None:
        if self.destination is not None:
            self.transport.send(GRE_PROTO_IPV4, packet, self.destination)
            return
        now = self.clock()
        decision = self.engine.next_hop_nbma(next_hop, now)
        if decision.nbma is None:
            self.counters.drops["no nhrp mapping"] += 1
            return
        if decision.direct and self._fast_generation == self.engine.cache.generation:
            self._fast[frames.tunnel_mac(next_hop)] = (self.transport.peer(decision.nbma), next_hop)
        if self._recent and self.engine.config.redirect:
            came_from = self._recent.pop(_flow_key(packet), None)
            if came_from is not None:
                self.engine.hairpin(packet, as_peer(came_from), now)
        self.transport.send(GRE_PROTO_IPV4, packet, decision.nbma)

    def send_nhrp(self, nbma: IPv4Address, nhrp: bytes) -> None:
        self.counters.nhrp_out += 1
        self.transport.send(GRE_PROTO_NHRP, nhrp, nbma)

    # --- NBMA -> kernel -------------------------------------------------------------

    def drain_socket(self) -> int:
        """Act on every packet the transport has received (decapsulated, key checked);
        how many there were."""
        redirect = self.engine.config.redirect
        write = self.tap.write
        eth = self.dataplane.kernel_header
        counters = self.counters
        ipv4 = GRE_PROTO_IPV4  # a local: this loop runs per packet
        seen = 0
        for src, proto, payload in self.transport.receive():
            seen += 1
            if proto == ipv4:
                # Fast: plain IPv4 (no options), exactly the GRE payload long, unicast;
                # anything else is checked (and a malformed packet counted) by the dataplane.
                if (not redirect and len(payload) >= 20 and payload[0] == 0x45 and payload[16] < 224
                        and ((payload[2] << 8) | payload[3]) == len(payload)):
                    if payload[9] != 6:
                        write(eth + payload)
                        continue
                    # TCP: a SYN goes the long way, for `ip tcp adjust-mss`
                    flags_at = ((payload[0] & 0x0F) << 2) + 13
                    if flags_at >= len(payload) or not payload[flags_at] & 0x02:
                        write(eth + payload)
                        continue
                frame = self.dataplane.from_tunnel(payload)
                if frame is None:
                    continue
                if redirect:
                    self._remember(payload, src)
                write(frame)
            elif proto == GRE_PROTO_NHRP:
                counters.nhrp_in += 1
                self.engine.receive(payload, as_peer(src), self.clock())
            else:
                counters.drops["unknown gre protocol"] += 1
        self.on_engine_output()
        return seen

    def _remember(self, packet: bytes, src: str) -> None:
        recent = self._recent
        recent[_flow_key(packet)] = src
        if len(recent) > HAIRPIN_MEMORY:
            recent.popitem(last=False)


def _flow_key(packet: bytes) -> bytes:
    """Source, destination, IP id and protocol: unchanged by the kernel's forwarding."""
    return packet[12:20] + packet[4:6] + packet[9:10]
