"""The user-space L2 decoders: 802.1Q frames and DHCP, and the DHCP state machines behind them.

- `dot1q-frame`: a frame from a parent link (inline tag, or with a VID as if from
  auxdata: the first byte picks which) through `Dot1qDemux.classify`: never raises; what
  it relays is an untagged frame for a configured subinterface; `outbound` on it tags
  it back to the same VID (or leaves it untagged on the native VLAN).
- `dhcp-frame`: an Ethernet/IPv4/UDP frame through `parse_udp_frame` and `decode`
  (only FrameDecodeError / DhcpDecodeError), then the decoded message to a server
  (`handle`) and to a client in SELECTING, REQUESTING and RENEWING: they never raise and
  what they answer encodes and decodes again.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.dhcp.client import DhcpClient
from dmvpnlab.dhcp.codec import DhcpDecodeError, decode, encode
from dmvpnlab.dhcp.frames import BROADCAST_MAC, FrameDecodeError, build_udp_frame, parse_udp_frame
from dmvpnlab.dhcp.server import DhcpServer, PoolSpec
from dmvpnlab.l2.dot1q import Dot1qDemux, tag, untag
from fuzz.harness import Target

MAC = bytes.fromhex("5254000000aa")
LOCAL = IPv4Interface("198.51.100.1/24")
POOL = PoolSpec("WAN", IPv4Network("198.51.100.0/24"), (LOCAL.ip,), (IPv4Address("198.51.100.53"),), 60)
FRAME = bytes.fromhex("ffffffffffff525400000001") + b"\x08\x00" + bytes(46)
VLANS = {10: "Gi0-0.10", 20: "Gi0-0.20"}


def _dot1q_seeds() -> list[bytes]:
    return [b"\x00" + tag(FRAME, 10), b"\x00" + tag(FRAME, 20), b"\x01" + FRAME, b"\x02" + FRAME,
            b"\x00" + FRAME[:12] + b"\x88\xa8\x00\x0a" + FRAME[12:]]


def run_dot1q(data: bytes) -> None:
    if not data:
        return
    aux = {0: None, 1: 10, 2: 0}.get(data[0] % 4, 4095)
    demux = Dot1qDemux(dict(VLANS), native="Gi0-0.1")
    result = demux.classify(data[1:], aux)
    if result is None:
        return
    name, frame = result
    assert name in set(VLANS.values()) | {"Gi0-0.1"}
    back = demux.outbound(name, frame)
    assert back is not None
    if name != "Gi0-0.1":
        assert untag(back) == (next(v for v, n in VLANS.items() if n == name), frame)


def _dhcp_seeds() -> list[bytes]:
    client = DhcpClient(MAC, hostname="Spoke1", rng=lambda: 7)
    client.start(0.0)
    discover = client.outbox.pop()
    server = DhcpServer([POOL])
    offer = server.handle(discover.message, "eth0", LOCAL, 0.0)
    assert offer is not None
    client.receive(offer.message, 0.0)
    request = client.outbox.pop()
    ack = server.handle(request.message, "eth0", LOCAL, 0.0)
    assert ack is not None
    return [build_udp_frame(MAC, BROADCAST_MAC, s.src, s.dst, 68, 67, encode(s.message)) for s in (discover, request)] + \
        [build_udp_frame(MAC, BROADCAST_MAC, s.src, s.dst, 67, 68, encode(s.message)) for s in (offer, ack)]


def run_dhcp(data: bytes) -> None:
    try:
        message = decode(parse_udp_frame(data).payload)
    except (FrameDecodeError, DhcpDecodeError):
        return
    server = DhcpServer([POOL], [(IPv4Address("198.51.100.1"), IPv4Address("198.51.100.3"))])
    reply = server.handle(message, "eth0", LOCAL, 1.0)
    if reply is not None:
        assert decode(encode(reply.message)).xid == reply.message.xid
    for client in _clients(message.xid):
        client.receive(message, 1.0, MAC)
        client.tick(5000.0)
        for send in client.outbox:
            decode(encode(send.message))


def _clients(xid: int) -> list[DhcpClient]:
    """A client in SELECTING, one in REQUESTING and one in RENEWING, reached by real
    exchanges with a server, all in transaction `xid` (so the fuzzed reply is theirs)."""
    out = []
    for stop in ("SELECTING", "REQUESTING", "RENEWING"):
        client, server = DhcpClient(MAC, rng=lambda: xid), DhcpServer([POOL])
        client.start(0.0)
        while client.state != stop and client.outbox:
            reply = server.handle(client.outbox.pop(0).message, "eth0", LOCAL, 0.0)
            if reply is not None:
                client.receive(reply.message, 0.0)
            if client.state == "BOUND":
                client.tick(30.0)  # T1: RENEWING
        client.outbox.clear()
        out.append(client)
    return out


TARGETS = [Target("dot1q-frame", _dot1q_seeds, run_dot1q), Target("dhcp-frame", _dhcp_seeds, run_dhcp)]
