"""One mGRE tunnel interface at run time: TAP + raw GRE socket + dataplane + NHRP.

This is where the pieces meet per packet. Frames out of the TAP are mapped to an NBMA
address by NHRP (or by `tunnel destination` in point-to-point mode) and sent in GRE;
GRE from the NBMA network is checked (key), decapsulated and written into the TAP, or
handed to NHRP when it carries protocol 0x2001.

Hairpin detection for Phase 3: a hub with `ip nhrp redirect` remembers the last few
packets it decapsulated (source, destination, IP id, protocol -> the NBMA they came
from). When the kernel routes one of them back out of the TAP, the packet is leaving by
the interface it came in on, which is exactly when IOS sends a Traffic Indication.

Fast paths: most packets are plain unicast to a next hop NHRP already resolved. For
those the tunnel keeps `dst MAC -> (NBMA, next hop)` and sends with one `sendto`, and
on receive it compares the GRE header with the expected one (key included) and writes
the payload behind a fixed Ethernet header. Anything else (ARP, multicast, TCP SYNs
to clamp, unknown next hops, NHRP, other keys) takes the general path through the
dataplane and the engine. The fast table is dropped whenever the NHRP cache changes
(its generation moves), and "used" marks are handed to NHRP on every tick.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import Callable

from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel import frames
from dmvpnlab.tunnel.dataplane import Drop, Multicast, TunnelDataplane, Unicast, WriteTap
from dmvpnlab.tunnel.gre import GreDecodeError, decode_gre, gre_header
from dmvpnlab.tunnel.socket import RawGreSocket
from dmvpnlab.tunnel.tap import TapDevice

GRE_PROTO_IPV4 = 0x0800
GRE_PROTO_NHRP = 0x2001
HAIRPIN_MEMORY = 512

log = logging.getLogger(__name__)


@dataclass
class TunnelCounters:
    """Per-tunnel NBMA-side counters (show interfaces, show dmvpn, the JSON state API)."""

    gre_in: int = 0
    gre_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    nhrp_in: int = 0
    nhrp_out: int = 0
    drops: Counter[str] = field(default_factory=Counter)


class MgreTunnel:
    """The run-time state of `interface TunnelN` (one per agent today)."""

    def __init__(self, name: str, address: IPv4Interface, nbma: IPv4Address, key: int | None,
                 mtu: int, tcp_mss: int | None, engine: NhrpEngine,
                 destination: IPv4Address | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 tap: TapDevice | None = None, sock: RawGreSocket | None = None) -> None:
        """`tap` and `sock` default to a new TAP called `name` and a raw GRE socket;
        benchmarks pass stand-ins to time the per-packet Python alone."""
        self.name = name
        self.address = address
        self.nbma = nbma
        self.key = key
        self.destination = destination
        self.engine = engine
        self.clock = clock
        self.counters = TunnelCounters()
        self.tap_mac = frames.tunnel_mac(address.ip)
        self.dataplane = TunnelDataplane(address, self.tap_mac, mtu, tcp_mss)
        if tap is None:
            tap = TapDevice(name)
            tap.configure(self.tap_mac, address, mtu)
        self.tap = tap
        self.sock = sock if sock is not None else RawGreSocket()
        self._ip_header = gre_header(GRE_PROTO_IPV4, key)
        self._nhrp_header = gre_header(GRE_PROTO_NHRP, key)
        self._recent: OrderedDict[bytes, IPv4Address] = OrderedDict()
        self.on_engine_output: Callable[[], None] = lambda: None
        self._fast: dict[bytes, tuple[tuple[str, int], IPv4Address]] = {}
        self._fast_generation = -1
        self._fast_used: set[IPv4Address] = set()
        self._eth_to_kernel = self.tap_mac + frames.ANONYMOUS_MAC + b"\x08\x00"

    def close(self) -> None:
        self.tap.close()
        self.sock.close()

    def set_key(self, key: int | None) -> None:
        self.key = key
        self._ip_header = gre_header(GRE_PROTO_IPV4, key)
        self._nhrp_header = gre_header(GRE_PROTO_NHRP, key)
        self._fast.clear()

    def hand_over_used(self, now: float) -> None:
        """Tell NHRP which next hops carried traffic on the fast path (refresh before expiry)."""
        used, self._fast_used = self._fast_used, set()
        for next_hop in used:
            self.engine.note_used(next_hop, now)

    # --- kernel -> NBMA -------------------------------------------------------------

    def drain_tap(self) -> None:
        """Read every waiting frame from the TAP and act on it."""
        if self._fast_generation != self.engine.cache.generation:
            self._fast.clear()
            self._fast_generation = self.engine.cache.generation
        fast = self._fast
        header = self._ip_header
        sendto = self.sock.sock.sendto
        used = self._fast_used
        counters = self.counters
        redirect = self.engine.config.redirect and self._recent
        read = self.tap.read
        while (frame := read()) is not None:
            route = fast.get(frame[:6])
            if route is not None and not redirect and frame[12:14] == b"\x08\x00":
                if frame[23] == 6:  # TCP: a SYN goes the long way, for `ip tcp adjust-mss`
                    flags_at = 27 + ((frame[14] & 0x0F) << 2)
                    if flags_at >= len(frame) or frame[flags_at] & 0x02:
                        route = None
                if route is not None:
                    try:
                        sendto(header + frame[14:], route[0])
                    except OSError:
                        counters.drops["send failed"] += 1
                        continue
                    used.add(route[1])
                    counters.gre_out += 1
                    counters.bytes_out += len(frame) - 14 + len(header)
                    continue
            for action in self.dataplane.from_tap(frame):
                if type(action) is Unicast:
                    self._unicast(action.next_hop, action.packet)
                elif type(action) is WriteTap:
                    self.tap.write(action.frame)
                elif type(action) is Multicast:
                    for nbma in self._multicast_targets():
                        self._send(nbma, self._ip_header + action.packet)
                elif type(action) is Drop:
                    pass  # counted by the dataplane
        self.on_engine_output()

    def _multicast_targets(self) -> list[IPv4Address]:
        if self.destination is not None:
            return [self.destination]
        return self.engine.multicast_targets()

    def _unicast(self, next_hop: IPv4Address, packet: bytes) -> None:
        if self.destination is not None:
            self._send(self.destination, self._ip_header + packet)
            return
        now = self.clock()
        decision = self.engine.next_hop_nbma(next_hop, now)
        if decision.nbma is None:
            self.counters.drops["no nhrp mapping"] += 1
            return
        if decision.direct and self._fast_generation == self.engine.cache.generation:
            self._fast[frames.tunnel_mac(next_hop)] = ((str(decision.nbma), 0), next_hop)
        if self._recent and self.engine.config.redirect:
            came_from = self._recent.pop(_flow_key(packet), None)
            if came_from is not None:
                self.engine.hairpin(packet, came_from, now)
        self._send(decision.nbma, self._ip_header + packet)

    def _send(self, nbma: IPv4Address, gre: bytes) -> None:
        if self.sock.send(nbma, gre):
            self.counters.gre_out += 1
            self.counters.bytes_out += len(gre)
        else:
            self.counters.drops["send failed"] += 1

    def send_nhrp(self, nbma: IPv4Address, nhrp: bytes) -> None:
        self.counters.nhrp_out += 1
        self._send(nbma, self._nhrp_header + nhrp)

    # --- NBMA -> kernel -------------------------------------------------------------

    def drain_socket(self) -> None:
        """Read every waiting GRE packet from the raw socket and act on it."""
        recvfrom = self.sock.sock.recvfrom
        redirect = self.engine.config.redirect
        header = self._ip_header
        header_len = len(header)
        write = self.tap.write
        eth = self._eth_to_kernel
        counters = self.counters
        while True:
            try:
                data, _addr = recvfrom(65535)
            except BlockingIOError:
                break
            ihl = (data[0] & 0x0F) * 4 if data else 0
            if ihl < 20 or len(data) < ihl + 4:
                counters.drops["malformed gre"] += 1
                continue
            start = ihl + header_len
            if (not redirect and data[ihl:start] == header and len(data) >= start + 20
                    and data[start + 16] < 224 and not _is_tcp_syn(data, start)):
                counters.gre_in += 1
                counters.bytes_in += len(data) - ihl
                write(eth + data[start:])
                continue
            src = IPv4Address(data[12:16])
            data = data[ihl:]
            try:
                gre = decode_gre(data)
            except GreDecodeError:
                self.counters.drops["malformed gre"] += 1
                continue
            if gre.key != self.key:
                self.counters.drops["tunnel key mismatch"] += 1
                continue
            self.counters.gre_in += 1
            self.counters.bytes_in += len(data)
            if gre.proto == GRE_PROTO_IPV4:
                payload = gre.payload
                if redirect and len(payload) >= 20:
                    self._remember(payload, src)
                self.tap.write(self.dataplane.to_tap(payload))
            elif gre.proto == GRE_PROTO_NHRP:
                self.counters.nhrp_in += 1
                self.engine.receive(gre.payload, src, self.clock())
            else:
                self.counters.drops["unknown gre protocol"] += 1
        self.on_engine_output()

    def _remember(self, packet: bytes, src: IPv4Address) -> None:
        recent = self._recent
        recent[_flow_key(packet)] = src
        if len(recent) > HAIRPIN_MEMORY:
            recent.popitem(last=False)


def _is_tcp_syn(packet: bytes, start: int) -> bool:
    """A TCP SYN at `start` (an IPv4 header): `ip tcp adjust-mss` must see it."""
    if packet[start + 9] != 6:
        return False
    flags_at = start + (packet[start] & 0x0F) * 4 + 13
    return flags_at < len(packet) and bool(packet[flags_at] & 0x02)


def _flow_key(packet: bytes) -> bytes:
    """Source, destination, IP id and protocol: unchanged by the kernel's forwarding."""
    return packet[12:20] + packet[4:6] + packet[9:10]
