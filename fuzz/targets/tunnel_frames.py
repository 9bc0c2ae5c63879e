"""The tunnel's decoders and both of its receive paths under hostile bytes.

Four targets, from the innermost decoder out:

- `gre-decode`: `decode_gre` raises only GreDecodeError; what decodes is rebuilt by
  `encode_gre` into bytes that decode to the same packet.
- `ipv4-packet`: `parse_header` raises only Ipv4Error; what parses is consistent (header
  within total length within the bytes), `summary` and the ICMP-error test never
  raise, `fragment` raises only Ipv4Error and its fragments fit the MTU and carry the
  payload, `clamp_tcp_mss` never raises nor changes a length.
- `tap-frame`: what the kernel writes into the TAP, through `TunnelDataplane.from_tap`:
  never raises, one counted event per frame, a packet sent on is a valid IPv4 packet
  within `ip mtu`, every frame written back parses as Ethernet.
- `tunnel-receive`: one datagram as the raw GRE socket returns it (outer IPv4 header
  included), then a good one, through `MgreTunnel.drain_socket` with a stand-in socket
  and TAP (as bench/bench_agent.py does): never raises, the good packet behind it is
  still delivered (one bad packet never aborts the batch), everything written into the
  TAP is an Ethernet frame holding one whole IPv4 packet, and what was not delivered
  is counted. The same bytes as a TAP frame, then a good frame, through `drain_tap`:
  the good frame still goes out.

Seeds: the packets of the Cisco captures (outer datagrams, GRE, inner IPv4) and frames
built from them as the kernel would write them into the TAP.
"""

from __future__ import annotations

import time
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from dmvpnlab.nhrp.config import NhrpEngineConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel import frames, ipv4
from dmvpnlab.tunnel.dataplane import Drop, Multicast, TunnelDataplane, Unicast, WriteTap
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GreDecodeError, decode_gre, encode_gre
from dmvpnlab.tunnel.mgre import MgreTunnel
from dmvpnlab.tunnel.transport import GreTransport
from fuzz.harness import Target
from fuzz.targets.seeds import cisco_gre_carried, cisco_gre_payloads, cisco_ip_packets, test_support

LOCAL = IPv4Interface("10.0.0.2/24")
NBMA, PEER, PEER_NBMA = IPv4Address("100.64.1.1"), IPv4Address("10.0.0.3"), IPv4Address("100.64.2.1")
MTU = 1400
GOOD_INNER = ipv4.build_ipv4(IPv4Address("192.168.2.10"), IPv4Address("192.168.1.10"), ipv4.PROTO_UDP, bytes(16))


def _inner_packets() -> list[bytes]:
    return list(cisco_gre_carried(GRE_PROTO_IPV4)) + [GOOD_INNER]


def _frames() -> list[bytes]:
    to_peer = frames.tunnel_mac(PEER) + frames.tunnel_mac(LOCAL.ip)
    arp = frames.build_arp(frames.ARP_REQUEST, frames.tunnel_mac(LOCAL.ip), LOCAL.ip, bytes(6), PEER)
    return ([to_peer + b"\x08\x00" + p for p in _inner_packets()]
            + [frames.BROADCAST_MAC + frames.tunnel_mac(LOCAL.ip) + b"\x08\x06" + arp])


# --- decoders ---------------------------------------------------------------------------

def run_gre(data: bytes) -> None:
    try:
        packet = decode_gre(data)
    except GreDecodeError:
        return
    assert data.endswith(packet.payload)
    again = encode_gre(packet.proto, packet.payload, packet.key, checksum=packet.checksum_present,
                       sequence=packet.sequence)
    assert decode_gre(again) == packet, f"{data.hex()} re-encodes as {again.hex()}"


def run_ipv4(data: bytes) -> None:
    ipv4.summary(data)
    ipv4.may_send_icmp_error_about(data)
    try:
        header = ipv4.parse_header(data)
    except ipv4.Ipv4Error:
        return
    assert 20 <= header.ihl <= header.total_length <= len(data)
    packet = data[:header.total_length]
    assert len(ipv4.clamp_tcp_mss(packet, 536)) == len(packet)
    ipv4.icmp_frag_needed(packet, MTU, LOCAL.ip)
    for mtu in (68, 576, MTU):
        try:
            pieces = ipv4.fragment(packet, mtu)
        except ipv4.Ipv4Error:
            continue
        assert all(len(p) <= mtu for p in pieces), f"a fragment over {mtu} bytes"
        carried = b"".join(p[ipv4.parse_header(p).ihl:] for p in pieces)
        assert carried == packet[header.ihl:], "fragments do not carry the payload"


def run_tap_frame(data: bytes) -> None:
    dataplane = TunnelDataplane(LOCAL, frames.tunnel_mac(LOCAL.ip), MTU, 1360)
    actions = dataplane.from_tap(data)
    counters = dataplane.counters
    assert counters.from_tap_frames == 1
    for action in actions:
        if isinstance(action, (Unicast, Multicast)):
            header = ipv4.parse_header(action.packet)
            assert header.total_length == len(action.packet) <= MTU
        elif isinstance(action, WriteTap):
            frames.parse_ethernet(action.frame)
        else:
            assert isinstance(action, Drop) and counters.drops.get(action.reason)


# --- the tunnel's receive paths ---------------------------------------------------------

def _tunnel(redirect: bool) -> tuple[MgreTunnel, Any, Any]:
    """A spoke's tunnel over the test suite's stand-in socket and TAP (no root)."""
    stand_ins = test_support("test_tunnel_transport")
    config = NhrpEngineConfig(interface="Tunnel0", tunnel_address=LOCAL, nbma_address=NBMA,
                              static_maps=[(PEER, PEER_NBMA)], redirect=redirect)
    engine = NhrpEngine(config, lambda _address: None, time.monotonic())
    tap, sock = stand_ins.FakeTap(), stand_ins.FakeSocket()
    tunnel = MgreTunnel("Tunnel0", LOCAL, NBMA, None, MTU, 1360, engine, tap=tap, transport=GreTransport(sock=sock))
    return tunnel, tap, sock


def _datagram(gre: bytes) -> bytes:
    return ipv4.build_ipv4(PEER_NBMA, NBMA, 47, gre)


def _received(data: bytes) -> tuple[bytes, tuple[str, int]]:
    """`data` as the raw socket's recvfrom returns it: with the outer source it names."""
    return data, (str(IPv4Address(data[12:16])) if len(data) >= 16 else str(PEER_NBMA), 0)


def _check_written(tap: Any) -> None:
    for frame in tap.written:
        header = ipv4.parse_header(frame[frames.ETH_HEADER_LEN:])
        assert header.total_length == len(frame) - frames.ETH_HEADER_LEN, f"partial packet into the TAP: {frame.hex()}"


def run_tunnel_receive(data: bytes) -> None:
    good = _datagram(encode_gre(GRE_PROTO_IPV4, GOOD_INNER))
    for redirect in (False, True):
        tunnel, tap, sock = _tunnel(redirect)
        sock.incoming = [_received(data), _received(good)]
        tunnel.drain_socket()
        assert tap.written and tap.written[-1].endswith(GOOD_INNER), "the good packet behind it was lost"
        _check_written(tap)
        delivered = len(tap.written) - 1
        counted = (sum(tunnel.counters.drops.values()) + sum(tunnel.dataplane.counters.drops.values())
                   + tunnel.counters.nhrp_in)
        assert delivered + counted == 1, f"delivered {delivered}, counted {counted}: each datagram is one or the other"
    # The same bytes as a frame from the kernel, a good frame behind it.
    tunnel, tap, sock = _tunnel(False)
    good_frame = frames.tunnel_mac(PEER) + frames.tunnel_mac(LOCAL.ip) + b"\x08\x00" + GOOD_INNER
    tap.frames = [good_frame, data, good_frame]  # the first warms the fast path
    tunnel.drain_tap()
    assert len(sock.sent) >= 2 and sock.sent[-1][0].endswith(GOOD_INNER), "the good frame behind it was lost"


TARGETS = [
    Target("gre-decode", lambda: list(cisco_gre_payloads()), run_gre),
    Target("ipv4-packet", _inner_packets, run_ipv4),
    Target("tap-frame", _frames, run_tap_frame),
    Target("tunnel-receive", lambda: list(cisco_ip_packets()) + _frames(), run_tunnel_receive),
]
