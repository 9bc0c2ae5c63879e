"""Two spokes behind one PAT box and the hub: real IKE engines, SA databases and ESP
transports wired in memory through a NAT that behaves like Linux masquerade.

The NAT keeps a spoke's source port when it is free towards that remote and picks
another otherwise, so the first spoke reaches the hub from 100.64.1.1:500/4500 and the
second from 100.64.1.1:<other ports>. What the hub must do (ipsec.endpoint): keep the
two apart. Each registration arrives from its own peer, each gets its own child SA, and
a packet the hub sends to one spoke is sealed for that spoke and reaches only it.
"""

from __future__ import annotations

import copy
import pickle
from ipaddress import IPv4Address

from dmvpnlab.ipsec.endpoint import NatEndpoint, as_peer, peer_of, same_host
from dmvpnlab.ipsec.events import Datagram
from dmvpnlab.tunnel.gre import GRE_PROTO_NHRP
from test_agent_ipsec_pair import Clock, Side

HUB = IPv4Address("203.0.113.1")
NAT_PUBLIC = IPv4Address("100.64.1.1")
SPOKE1, SPOKE3 = IPv4Address("172.16.1.2"), IPv4Address("172.16.1.4")


class Masquerade:
    """UDP port translation as conntrack does it: one mapping per (inside, remote) flow."""

    def __init__(self) -> None:
        self.out: dict[tuple[IPv4Address, int, IPv4Address, int], int] = {}
        self.back: dict[tuple[int, IPv4Address, int], tuple[IPv4Address, int]] = {}

    def outbound(self, inside: IPv4Address, port: int, remote: IPv4Address, remote_port: int) -> int:
        flow = (inside, port, remote, remote_port)
        if flow not in self.out:
            public = port
            while (public, remote, remote_port) in self.back:
                public = 1024 if public < 1024 else public + 1
            self.out[flow] = public
            self.back[(public, remote, remote_port)] = (inside, port)
        return self.out[flow]

    def inbound(self, public: int, remote: IPv4Address, remote_port: int) -> tuple[IPv4Address, int] | None:
        return self.back.get((public, remote, remote_port))


def _udp(side: Side) -> list[Datagram]:
    """What a side sent over UDP (IKE and ESP-in-UDP), taken."""
    out, side.node.sent = side.node.sent, []
    return out


def shuttle(hub: Side, spokes: list[Side], nat: Masquerade, rounds: int = 60) -> None:
    """Deliver every datagram through the NAT both ways until nothing moves."""
    by_inside = {s.local: s for s in spokes}
    for _ in range(rounds):
        moved = False
        for spoke in spokes:
            for d in _udp(spoke):
                moved = True
                assert d.peer == HUB
                public = nat.outbound(spoke.local, d.local_port, HUB, d.port)
                hub.node.receive_udp(d.data, str(NAT_PUBLIC), public, d.port)
            assert not spoke.esp.sent, "NAT-T: no raw ESP behind the NAT"
        hub.node.on_udp_esp()
        for d in _udp(hub):
            moved = True
            assert same_host(d.peer, NAT_PUBLIC)
            found = nat.inbound(d.port, HUB, d.local_port)
            assert found is not None, f"no NAT mapping for {d.peer}:{d.port}"
            inside, port = found
            by_inside[inside].node.receive_udp(d.data, str(HUB), d.local_port, port)
        for spoke in spokes:
            spoke.node.on_udp_esp()
        if not moved:
            return


def fleet() -> tuple[Side, Side, Side, Masquerade]:
    clock = Clock()
    hub, s1, s3 = Side(HUB, clock), Side(SPOKE1, clock), Side(SPOKE3, clock)
    nat = Masquerade()
    for spoke, text in ((s1, b"registration from spoke1"), (s3, b"registration from spoke3")):
        assert spoke.transport.send(GRE_PROTO_NHRP, text, HUB)
        shuttle(hub, [s1, s3], nat)
    return hub, s1, s3, nat


def test_a_nat_endpoint_is_its_address_for_printing_but_its_own_key():
    plain, e1, e2 = IPv4Address("100.64.1.1"), NatEndpoint("100.64.1.1", 1024), NatEndpoint("100.64.1.1", 1025)
    assert str(e1) == "100.64.1.1" and e1.packed == plain.packed and isinstance(e1, IPv4Address)
    assert e1 != plain and plain != e1 and e1 != e2 and e1 == NatEndpoint(plain, 1024)
    assert len({plain, e1, e2, NatEndpoint("100.64.1.1", 1024)}) == 3
    assert same_host(e1, plain) and same_host(e1, e2)
    assert pickle.loads(pickle.dumps(e1)) == e1 and copy.deepcopy(e1) is e1
    assert as_peer(e1) is e1 and as_peer("100.64.1.1") == plain


def test_only_a_port_the_nat_changed_makes_an_endpoint():
    assert type(peer_of("100.64.1.1", 500)) is IPv4Address
    assert type(peer_of("100.64.1.1", 4500)) is IPv4Address
    assert peer_of("100.64.1.1", 1024) == NatEndpoint("100.64.1.1", 1024)


def test_two_spokes_behind_one_nat_each_register_from_their_own_peer():
    hub, s1, s3, _nat = fleet()
    sources = {payload: as_peer(src) for src, proto, payload in hub.received if proto == GRE_PROTO_NHRP}
    first, second = sources[b"registration from spoke1"], sources[b"registration from spoke3"]
    assert str(first) == str(second) == str(NAT_PUBLIC), "both from the NAT's one public address"
    assert first != second, "yet two peers, not one overwriting the other"
    assert type(first) is IPv4Address and isinstance(second, NatEndpoint), "the first kept its ports"
    assert {c.peer for c in hub.node.child_sas()} == {first, second}
    assert len(hub.node.child_sas()) == 2 and len(s1.node.child_sas()) == 1 == len(s3.node.child_sas())
    assert [v.state for v in hub.node.ike_sas()] == ["QM_IDLE", "QM_IDLE"]


def test_what_the_hub_sends_each_spoke_reaches_that_spoke_only():
    hub, s1, s3, nat = fleet()
    sources = {payload: as_peer(src) for src, _proto, payload in hub.received}
    to1, to3 = sources[b"registration from spoke1"], sources[b"registration from spoke3"]
    assert hub.transport.send(GRE_PROTO_NHRP, b"reply to spoke1", to1)
    assert hub.transport.send(GRE_PROTO_NHRP, b"reply to spoke3", to3)
    shuttle(hub, [s1, s3], nat)
    assert [p for _, _, p in s1.received] == [b"reply to spoke1"]
    assert [p for _, _, p in s3.received] == [b"reply to spoke3"]
    assert not any(k.startswith("esp ") for s in (s1, s3) for k in s.transport.counters.drops)
