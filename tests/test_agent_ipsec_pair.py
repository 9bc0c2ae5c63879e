"""Two IPsec nodes with real IKE engines, wired back to back in memory.

Nothing is scripted: each node owns a real `IkeEngine`, SA database and ESP transport;
a datagram one node sends (UDP 500/4500) or a packet its ESP socket sends is delivered
to the other exactly as the kernel would. The first GRE packet to the peer waits, IKE
runs Main Mode and Quick Mode, both ends install the SA pair, the packet leaves in ESP
and opens at the peer. Then the SA is rekeyed under traffic and no packet is lost.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.agent.ipsec_node import IpsecNode, new_engine
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.ipsec.settings import ChildPolicy, IkePolicy, IpsecSettings, PresharedKey, Proposal
from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP
from test_tunnel_esp_transport import FakeRaw

SPOKE, HUB = IPv4Address("100.64.1.1"), IPv4Address("203.0.113.1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def settings(local: IPv4Address, key: bytes = b"cisco123", seconds: int = 3600) -> IpsecSettings:
    proposal = Proposal("TS", parse_transform("esp-aes 256 esp-sha256-hmac"), "transport")
    return IpsecSettings(local_address=local,
                         child=ChildPolicy("DMVPN-PROFILE", (proposal,), lifetime_seconds=seconds),
                         policies=(IkePolicy(10, "aes", 256, "sha256", 14),),
                         keys=(PresharedKey(key, IPv4Network("0.0.0.0/0")),))


class Side:
    def __init__(self, local: IPv4Address, clock: Clock, **kw: object) -> None:
        self.local = local
        self.esp = FakeRaw(50, local)
        self.transport = EspTransport(SaDatabase(clock), local, None, esp_sock=self.esp,  # type: ignore[arg-type]
                                      gre_sock=FakeRaw(47, local))  # type: ignore[arg-type]
        self.settings = settings(local, **kw)  # type: ignore[arg-type]
        self.debug: list[tuple[str, str]] = []
        engine = new_engine(self.settings, clock(), lambda c, line: self.debug.append((c, line)))
        self.node = IpsecNode(self.settings, self.transport, engine, clock=clock, bind=False,
                              debug=lambda c, line: self.debug.append((c, line)))
        self.received: list[tuple[str, int, bytes]] = []
        self.node.on_udp_esp = lambda: self.received.extend(self.transport.receive())


def shuttle(a: Side, b: Side, rounds: int = 50) -> None:
    """Deliver everything in flight both ways until nothing moves."""
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            datagrams, src.node.sent = src.node.sent, []
            for d in datagrams:
                moved = True
                assert d.peer == dst.local
                dst.node.receive_udp(d.data, str(src.local), d.local_port, d.port)
            dst.node.on_udp_esp()
            packets, src.esp.sent = src.esp.sent, []
            for data, (host, _port) in packets:
                moved = True
                assert host == str(dst.local)
                dst.esp.deliver(src.local, data)
            dst.received.extend(dst.transport.receive())
        if not moved:
            return


def test_the_first_packet_brings_up_ike_and_esp_and_arrives_in_esp():
    clock = Clock()
    spoke, hub = Side(SPOKE, clock), Side(HUB, clock)
    assert spoke.transport.send(GRE_PROTO_NHRP, b"registration request", HUB)
    assert spoke.transport.queued(HUB) == 1 and spoke.node.dmvpn_state(HUB) == "IKE"
    shuttle(spoke, hub)
    assert hub.received == [(str(SPOKE), GRE_PROTO_NHRP, b"registration request")]
    assert spoke.node.dmvpn_state(HUB) == "NHRP" and hub.node.dmvpn_state(SPOKE) == "NHRP"
    [at_spoke], [at_hub] = spoke.node.child_sas(), hub.node.child_sas()
    assert (at_spoke.spi_out, at_spoke.spi_in) == (at_hub.spi_in, at_hub.spi_out)
    assert at_spoke.transform == "esp-aes 256 esp-sha256-hmac" and at_spoke.mode == "Transport"
    assert [v.state for v in spoke.node.ike_sas()] == ["QM_IDLE"]
    hub.transport.send(GRE_PROTO_NHRP, b"registration reply", SPOKE)
    shuttle(spoke, hub)
    assert spoke.received == [(str(HUB), GRE_PROTO_NHRP, b"registration reply")]
    assert spoke.node.counters["child sa up"] == 1 and hub.node.counters["child sa up"] == 1
    assert any(c == "ipsec" and "sa created" in line for c, line in spoke.debug)


def test_a_wrong_pre_shared_key_never_gets_an_sa_and_says_why():
    clock = Clock()
    spoke, hub = Side(SPOKE, clock, key=b"wrong"), Side(HUB, clock)
    spoke.transport.send(GRE_PROTO_NHRP, b"registration request", HUB)
    shuttle(spoke, hub)
    for _ in range(40):  # retransmissions run out
        clock.now += 1
        spoke.node.tick(clock.now)
        hub.node.tick(clock.now)
        shuttle(spoke, hub)
    assert hub.received == [] and spoke.node.child_sas() == [] and hub.node.child_sas() == []
    refused = {k for s in (spoke, hub) for k in s.node.counters if k.startswith("refused: ")}
    assert refused & {"refused: hash mismatch", "refused: malformed", "refused: retransmit limit"}, refused


def test_rekey_under_traffic_loses_nothing():
    clock = Clock()
    spoke, hub = Side(SPOKE, clock, seconds=120), Side(HUB, clock, seconds=120)
    sent = 0
    spoke.transport.send(GRE_PROTO_IPV4, sent.to_bytes(4, "big"), HUB)
    shuttle(spoke, hub)
    first_spi = spoke.transport.sadb.outbound[HUB].spi
    for _ in range(300):  # 150 s in 0.5 s steps: past 90 % of 120 s, and the delete 5 s later
        clock.now += 0.5
        sent += 1
        spoke.transport.send(GRE_PROTO_IPV4, sent.to_bytes(4, "big"), HUB)
        spoke.node.tick(clock.now)
        hub.node.tick(clock.now)
        shuttle(spoke, hub)
    payloads = [int.from_bytes(p, "big") for _, proto, p in hub.received if proto == GRE_PROTO_IPV4]
    assert payloads == list(range(sent + 1)), "every packet arrived, in order, across the rekeys"
    assert spoke.transport.sadb.outbound[HUB].spi != first_spi
    assert spoke.node.counters["child sa up"] >= 2 and spoke.node.counters["child sa down"] >= 1
    assert not any(k.startswith("esp ") for k in hub.transport.counters.drops), hub.transport.counters.drops


def test_clear_crypto_sa_deletes_at_both_ends_and_the_next_packet_negotiates_again():
    clock = Clock()
    spoke, hub = Side(SPOKE, clock), Side(HUB, clock)
    spoke.transport.send(GRE_PROTO_IPV4, b"one", HUB)
    shuttle(spoke, hub)
    old = spoke.transport.sadb.outbound[HUB].spi
    assert spoke.node.clear_sa(HUB) == 1
    shuttle(spoke, hub)  # the Delete reaches the hub
    assert spoke.node.child_sas() == [] and hub.node.child_sas() == []
    assert [v.state for v in spoke.node.ike_sas()] == ["QM_IDLE"], "the ISAKMP SA stays"
    spoke.transport.send(GRE_PROTO_IPV4, b"two", HUB)
    shuttle(spoke, hub)
    assert [p for _, _, p in hub.received] == [b"one", b"two"]
    assert spoke.transport.sadb.outbound[HUB].spi != old


def test_clear_crypto_session_takes_ike_and_esp_down_at_both_ends():
    clock = Clock()
    spoke, hub = Side(SPOKE, clock), Side(HUB, clock)
    spoke.transport.send(GRE_PROTO_IPV4, b"one", HUB)
    shuttle(spoke, hub)
    assert spoke.node.clear_session(None) == 1
    shuttle(spoke, hub)
    assert spoke.node.child_sas() == [] and hub.node.child_sas() == []
    assert not [v for v in hub.node.ike_sas() if v.status == "ACTIVE"]
