"""The mGRE interface's data path, sans-I/O: frames from the TAP in, actions out.

`mgre.MgreTunnel` owns the TAP, the transport and NHRP (the agent owns the event loop);
this class owns the decisions a router's tunnel interface makes about one packet, so
they can be unit tested with plain bytes:

- ARP from the kernel -> answer with the next-hop-encoding MAC (`frames.tunnel_mac`).
- IPv4 to a unicast MAC -> `Unicast(next_hop, packet)`: the tunnel maps the tunnel next
  hop to an NBMA address (NHRP) and sends it in GRE.
- IPv4 to a group MAC (01:00:5e:*, ff:ff:ff:ff:ff:ff) -> `Multicast(packet)`: the tunnel
  replicates it to every NBMA address in the multicast map (routing protocols need it).
- `ip mtu`: too big with DF -> ICMP "fragmentation needed" written back into the TAP
  (the kernel delivers/forwards it to the sender like any ICMP); too big without DF ->
  fragments. `ip tcp adjust-mss`: SYNs' MSS lowered, both directions.
- Anything else (IPv6, other ethertypes, malformed) -> `Drop(reason)`, counted.
- From the tunnel: `from_tunnel` checks that what a peer decapsulated to is an IPv4
  packet (version, header length, total length) before `to_tap` frames it for the
  kernel; anything else is a counted drop, never written into the TAP.

`from_tap`, `from_tunnel` and `to_tap` never raise on bad input. Counters are updated here, so the
caller must not count these events again; `counters.as_dict()` feeds show interfaces.
Frames into the TAP are built with `frames` helpers only. Imports `tunnel.frames` and
`tunnel.ipv4`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface

from dmvpnlab.tunnel import frames, ipv4
from dmvpnlab.tunnel.frames import BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6

# Drop reasons (stable strings: they appear in show output and the JSON state API).
DROP_RUNT = "runt-frame"
DROP_IPV6 = "ipv6"
DROP_NON_IP = "non-ip-ethertype"
DROP_MALFORMED_IPV4 = "malformed-ipv4"
DROP_ARP_UNANSWERED = "arp-not-answered"
DROP_UNKNOWN_NEXT_HOP = "unknown-next-hop-mac"
DROP_NEXT_HOP_SELF = "next-hop-is-self"
DROP_DF_TOO_BIG = "too-big-df-set"
DROP_CANNOT_FRAGMENT = "cannot-fragment"
DROP_MALFORMED_DECAP = "malformed-ipv4-from-tunnel"  # what a peer sent in GRE is not IPv4


@dataclass(frozen=True, slots=True)
class WriteTap:
    """Write this Ethernet frame into the TAP (an ARP reply, an ICMP error)."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Unicast:
    """Send this IPv4 packet in GRE to the NBMA address of tunnel next hop `next_hop`."""

    next_hop: IPv4Address
    packet: bytes


@dataclass(frozen=True, slots=True)
class Multicast:
    """Replicate this IPv4 packet in GRE to every NBMA address in the multicast map."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class Drop:
    """The frame was dropped (already counted under `reason`)."""

    reason: str


Action = WriteTap | Unicast | Multicast | Drop


@dataclass(slots=True)
class DataplaneCounters:
    """Interface counters. from_tap = what the kernel sent into the tunnel (IOS
    'output'), to_tap = what came out of the tunnel to the kernel (IOS 'input')."""

    from_tap_frames: int = 0
    from_tap_bytes: int = 0
    to_tap_frames: int = 0
    to_tap_bytes: int = 0
    unicast_packets: int = 0
    multicast_packets: int = 0
    arp_replies: int = 0
    fragments_created: int = 0
    frag_needed_sent: int = 0
    mss_clamped: int = 0
    drops: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> Drop:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return Drop(reason)

    @property
    def total_drops(self) -> int:
        return sum(self.drops.values())

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly snapshot for the control socket / show interfaces."""
        out: dict[str, object] = {name: getattr(self, name) for name in self.__slots__
                                  if name != "drops"}
        out["drops"] = dict(self.drops)
        out["total_drops"] = self.total_drops
        return out


class TunnelDataplane:
    """Per-packet decisions of one mGRE tunnel interface (see module docstring)."""

    def __init__(self, tunnel_address: IPv4Interface, tap_mac: bytes, mtu: int = 1476,
                 tcp_mss: int | None = None, *, arp_any_target: bool = False) -> None:
        """`mtu` is the IOS `ip mtu` (IP bytes, no Ethernet header); `tcp_mss` the
        `ip tcp adjust-mss` value or None. `arp_any_target` answers ARP for off-subnet
        targets too (routes that point at Tunnel0 without a next hop)."""
        if len(tap_mac) != 6:
            raise ValueError("tap_mac must be 6 bytes")
        if mtu < ipv4.MIN_MTU:
            raise ValueError(f"ip mtu {mtu} below {ipv4.MIN_MTU}")
        self.tunnel_address = tunnel_address
        self.tap_mac = tap_mac
        self.mtu = mtu
        self.tcp_mss = tcp_mss
        self.arp_any_target = arp_any_target
        self.counters = DataplaneCounters()
        self._own_mac = frames.tunnel_mac(tunnel_address.ip)
        self._own_ip = tunnel_address.ip
        self._subnet_broadcast = tunnel_address.network.broadcast_address.packed
        #: The Ethernet header of unicast IPv4 frames into the TAP (the fast path's too).
        self.kernel_header = frames.ipv4_frame_header(tap_mac)
        self._next_hops: dict[bytes, IPv4Address] = {}  # dst MAC -> next hop, memoized

    # ---- kernel -> tunnel -------------------------------------------------------
    def from_tap(self, frame: bytes) -> list[Action]:
        """Decide what to do with one frame the kernel wrote into the TAP."""
        c = self.counters
        c.from_tap_frames += 1
        c.from_tap_bytes += len(frame)
        if len(frame) < ETH_HEADER_LEN:
            return [c.drop(DROP_RUNT)]
        ethertype = (frame[12] << 8) | frame[13]
        if ethertype == ETHERTYPE_IPV4:
            return self._ipv4_from_tap(frame)
        if ethertype == ETHERTYPE_ARP:
            reply = frames.arp_reply_for(frame, self.tap_mac, self.tunnel_address,
                                         self.arp_any_target)
            if reply is None:
                return [c.drop(DROP_ARP_UNANSWERED)]
            c.arp_replies += 1
            return [self._write_tap(reply)]
        if ethertype == ETHERTYPE_IPV6:
            return [c.drop(DROP_IPV6)]
        return [c.drop(DROP_NON_IP)]

    def _ipv4_from_tap(self, frame: bytes) -> list[Action]:
        # Hand-inlined header checks (no Ipv4Header/IPv4Address objects): this is the
        # per-packet path; ipv4.parse_header applies the same rules.
        c = self.counters
        packet = frame[ETH_HEADER_LEN:]
        plen = len(packet)
        if plen < ipv4.IPV4_MIN_HEADER:
            return [c.drop(DROP_MALFORMED_IPV4)]
        vihl = packet[0]
        ihl = (vihl & 0x0F) << 2
        total = (packet[2] << 8) | packet[3]
        if vihl >> 4 != 4 or ihl < ipv4.IPV4_MIN_HEADER or total < ihl or total > plen:
            return [c.drop(DROP_MALFORMED_IPV4)]
        if total != plen:
            packet = packet[:total]  # strip Ethernet padding
        dst_mac = frame[0:6]
        multicast = bool(dst_mac[0] & 0x01)
        next_hop: IPv4Address | None = None
        if not multicast:
            next_hop = self._next_hops.get(dst_mac)
            if next_hop is None:
                next_hop = frames.ip_from_tunnel_mac(dst_mac)
                if next_hop is None:
                    return [c.drop(DROP_UNKNOWN_NEXT_HOP)]
                if dst_mac == self._own_mac:
                    return [c.drop(DROP_NEXT_HOP_SELF)]
                if len(self._next_hops) < 4096:
                    self._next_hops[dst_mac] = next_hop
        if self.tcp_mss is not None and packet[9] == ipv4.PROTO_TCP:
            clamped = ipv4.clamp_tcp_mss(packet, self.tcp_mss)
            if clamped is not packet:
                c.mss_clamped += 1
                packet = clamped
        if total <= self.mtu:
            pieces = [packet]
        elif packet[6] & 0x40:  # DF
            return self._too_big(packet)
        else:
            try:
                pieces = ipv4.fragment(packet, self.mtu)
            except ipv4.Ipv4Error:
                return [c.drop(DROP_CANNOT_FRAGMENT)]
            c.fragments_created += len(pieces)
        if multicast:
            c.multicast_packets += len(pieces)
            return [Multicast(p) for p in pieces]
        c.unicast_packets += len(pieces)
        return [Unicast(next_hop, p) for p in pieces]  # type: ignore[arg-type]

    def _too_big(self, packet: bytes) -> list[Action]:
        """DF set and bigger than ip mtu: drop, and tell the sender (RFC 1191)."""
        c = self.counters
        actions: list[Action] = [c.drop(DROP_DF_TOO_BIG)]
        if ipv4.may_send_icmp_error_about(packet):
            icmp = ipv4.icmp_frag_needed(packet, self.mtu, self._own_ip)
            c.frag_needed_sent += 1
            actions.insert(0, self._write_tap(self.kernel_header + icmp))
        return actions

    def _write_tap(self, frame: bytes) -> WriteTap:
        self.counters.to_tap_frames += 1
        self.counters.to_tap_bytes += len(frame)
        return WriteTap(frame)

    # ---- tunnel -> kernel -------------------------------------------------------
    def from_tunnel(self, packet: bytes, src_tunnel_ip: IPv4Address | None = None) -> bytes | None:
        """The frame for the kernel of what a peer sent in GRE (IPv4), or None: dropped,
        counted, when it is not an IPv4 packet (truncated, wrong version or lengths).
        Trailing bytes past the IPv4 total length are cut, as a NIC strips padding."""
        plen = len(packet)
        if plen < ipv4.IPV4_MIN_HEADER:
            self.counters.drop(DROP_MALFORMED_DECAP)
            return None
        vihl = packet[0]
        ihl = (vihl & 0x0F) << 2
        total = (packet[2] << 8) | packet[3]
        if vihl >> 4 != 4 or ihl < ipv4.IPV4_MIN_HEADER or total < ihl or total > plen:
            self.counters.drop(DROP_MALFORMED_DECAP)
            return None
        return self.to_tap(packet if total == plen else packet[:total], src_tunnel_ip)

    def to_tap(self, packet: bytes, src_tunnel_ip: IPv4Address | None = None) -> bytes:
        """The Ethernet frame that hands a decapsulated IPv4 packet to the kernel.

        dst MAC: the group MAC for multicast, broadcast for broadcast destinations, else
        the TAP's MAC; src MAC: tunnel_mac(src_tunnel_ip) (the GRE peer's tunnel
        address, when known) or a fixed anonymous MAC. Never raises.
        """
        if self.tcp_mss is not None and len(packet) > 9 and packet[9] == ipv4.PROTO_TCP:
            clamped = ipv4.clamp_tcp_mss(packet, self.tcp_mss)
            if clamped is not packet:
                self.counters.mss_clamped += 1
                packet = clamped
        dst_mac = self.tap_mac
        if len(packet) >= 20:
            dst = packet[16:20]
            if 224 <= dst[0] <= 239:
                dst_mac = frames.multicast_mac_for(dst)
            elif dst in (b"\xff\xff\xff\xff", self._subnet_broadcast):
                dst_mac = BROADCAST_MAC
        if src_tunnel_ip is None:
            header = self.kernel_header if dst_mac is self.tap_mac else frames.ipv4_frame_header(dst_mac)
        else:
            header = frames.ipv4_frame_header(dst_mac, frames.tunnel_mac(src_tunnel_ip))
        frame = header + packet
        self.counters.to_tap_frames += 1
        self.counters.to_tap_bytes += len(frame)
        return frame
