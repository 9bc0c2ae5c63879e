"""The agent's IPsec node: what it does with the IKE engine's output and with UDP input.

The engine here is a scripted stand-in with the documented `IkeEngine` API: it records
the calls the node makes and hands back the datagrams and events a test puts in its
outbox. Everything on the data side is real: SA database, ESP transport (stand-in
sockets that record what would be sent), SAs with random keys.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.agent.ipsec_node import IpsecNode, open_key_log
from dmvpnlab.ipsec.events import ChildSaDown, Datagram, IkeRefused, IkeSaUp, PeerDead
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.ipsec.settings import ChildPolicy, IpsecSettings
from dmvpnlab.ipsec.views import IkeSaView
from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.gre import GRE_PROTO_NHRP
from esp_pairs import child_sa_pair
from test_tunnel_esp_transport import FakeRaw

LOCAL, HUB = IPv4Address("100.64.1.1"), IPv4Address("203.0.113.1")


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class ScriptedEngine:
    """The IkeEngine API; `script` is what the next call puts in outbox/events."""

    def __init__(self) -> None:
        self.outbox: list[Datagram] = []
        self.events: list[Any] = []
        self.counters: Counter[str] = Counter()
        self.calls: list[tuple] = []
        self.script: list[Any] = []
        self.sas: list[IkeSaView] = []

    def _run(self, *call: Any) -> None:
        self.calls.append(call)
        for item in self.script:
            (self.outbox if isinstance(item, Datagram) else self.events).append(item)
        self.script = []

    def connect(self, peer, now): self._run("connect", peer)
    def receive(self, data, peer, peer_port, local_port, now): self._run("receive", data, peer, peer_port, local_port)
    def tick(self, now): self._run("tick")
    def rekey_child(self, spi_in, now): self._run("rekey_child", spi_in)
    def peer_alive(self, peer, now): self._run("peer_alive", peer)
    def clear(self, peer, now): self._run("clear", peer); return 1
    def clear_sa(self, peer, now): self._run("clear_sa", peer); return 0
    def reconfigure(self, settings, now): self._run("reconfigure")
    def ike_sas(self): return list(self.sas)
    def peer_state(self, peer): return ""


class KeyLog:
    def __init__(self) -> None:
        self.lines: list[tuple] = []

    def child_sa(self, event, local): self.lines.append(("child", event.spi_in, local))
    def ike_sa(self, event): self.lines.append(("ike", event.peer))


def node(**kw: Any) -> tuple[IpsecNode, ScriptedEngine, EspTransport, FakeRaw, Clock]:
    clock = Clock()
    engine = ScriptedEngine()
    esp = FakeRaw(50, LOCAL)
    transport = EspTransport(SaDatabase(clock), LOCAL, None, esp_sock=esp, gre_sock=FakeRaw(47, LOCAL))  # type: ignore[arg-type]
    settings = IpsecSettings(local_address=LOCAL, child=ChildPolicy("DMVPN-PROFILE"))
    ipsec = IpsecNode(settings, transport, engine, clock=clock, bind=False, **kw)  # type: ignore[arg-type]
    return ipsec, engine, transport, esp, clock


def test_a_packet_without_an_sa_starts_ike_and_the_child_sa_sends_it():
    ipsec, engine, transport, esp, _ = node(key_log=(keys := KeyLog()))
    mm1 = Datagram(HUB, 500, 500, b"MM1")
    engine.script = [mm1]
    transport.send(GRE_PROTO_NHRP, b"registration request", HUB)
    assert engine.calls == [("connect", HUB)] and ipsec.sent == [mm1]
    assert esp.sent == [] and transport.queued(HUB) == 1
    assert ipsec.dmvpn_state(HUB) == "IKE"
    engine.sas = [IkeSaView(HUB, LOCAL, "QM_IDLE", 1001, "ACTIVE", True)]
    assert ipsec.dmvpn_state(HUB) == "IPSEC"
    at_local, _ = child_sa_pair(LOCAL, HUB)
    engine.script = [at_local]
    ipsec.receive_udp(b"\x00" * 28, str(HUB), 500, 500)  # the QM message that completes the SA
    assert engine.calls[-1] == ("receive", b"\x00" * 28, HUB, 500, 500)
    assert len(esp.sent) == 1 and esp.sent[0][1] == (str(HUB), 0), "the registration left in ESP"
    assert ipsec.dmvpn_state(HUB) == "NHRP"
    assert keys.lines == [("child", at_local.spi_in, LOCAL)]
    [view] = ipsec.child_sas()
    assert (view.peer, view.profile, view.interface) == (HUB, "DMVPN-PROFILE", "Tunnel0")


def test_a_packet_flood_asks_ike_once_a_second():
    ipsec, engine, transport, _, clock = node()
    for _ in range(100):
        transport.send(GRE_PROTO_NHRP, b"x", HUB)
    clock.now += 0.5
    transport.send(GRE_PROTO_NHRP, b"x", HUB)
    assert engine.calls == [("connect", HUB)]
    clock.now += 0.6
    transport.send(GRE_PROTO_NHRP, b"x", HUB)
    assert engine.calls == [("connect", HUB)] * 2


def test_udp_4500_demultiplexes_ike_keepalives_and_esp():
    ipsec, engine, transport, _, _ = node()
    at_local, at_hub = child_sa_pair(LOCAL, HUB, nat_t=True, port_b=4500)
    transport.install(at_local, 0)
    hub_side = SaDatabase()
    hub_side.install(at_hub, 0)
    delivered: list[int] = []
    ipsec.on_udp_esp = lambda: delivered.append(len(list(transport.receive())))
    ipsec.receive_udp(b"\x00\x00\x00\x00" + b"ISAKMP", str(HUB), 4500, 4500)
    ipsec.receive_udp(b"\xff", str(HUB), 4500, 4500)
    esp = hub_side.outbound[LOCAL].seal(b"\x00\x00\x20\x01nhrp", 47)
    ipsec.receive_udp(esp, str(HUB), 4500, 4500)
    ipsec.on_udp_esp()
    assert engine.calls == [("receive", b"\x00\x00\x00\x00ISAKMP", HUB, 4500, 4500)], "the marker stays on"
    assert ipsec.counters["nat keepalives received"] == 1
    assert delivered == [1] and transport.counters.gre_in == 1
    # and our ESP to a NAT-T peer goes out of the 4500 socket, to the peer's port
    transport.send(GRE_PROTO_NHRP, b"reply", HUB)
    assert ipsec.sent[-1].port == 4500 and ipsec.sent[-1].local_port == 4500


def test_tick_asks_for_rekey_at_the_soft_kilobyte_limit_and_reports_esp_heard_for_dpd():
    ipsec, engine, transport, _, clock = node()
    at_local, at_hub = child_sa_pair(LOCAL, HUB, seconds=100, kilobytes=10)
    transport.install(at_local, clock.now)
    transport.heard.add(str(HUB))
    ipsec.tick(clock.now)
    assert engine.calls == [("tick",), ("peer_alive", HUB)]
    for _ in range(9):
        transport.send(GRE_PROTO_NHRP, bytes(1024), HUB)  # past 90 % of 10 KB
    ipsec.tick(clock.now)
    assert ("rekey_child", at_local.spi_in) in engine.calls
    clock.now += 91  # time is the engine's: no second rekey request from the node
    ipsec.tick(clock.now)
    assert engine.calls.count(("rekey_child", at_local.spi_in)) == 1
    clock.now += 10  # the hard lifetime in seconds removes the pair
    ipsec.tick(clock.now)
    assert ipsec.counters["child sa expired"] == 1 and not transport.has_sa(HUB)


def test_child_sa_down_peer_dead_and_refusals():
    ipsec, engine, transport, _, _ = node()
    at_local, _ = child_sa_pair(LOCAL, HUB)
    transport.install(at_local, 0)
    engine.script = [ChildSaDown(HUB, at_local.spi_in, at_local.spi_out, "deleted by peer")]
    ipsec.tick(0)
    assert not transport.has_sa(HUB)
    transport.send(GRE_PROTO_NHRP, b"waits", HUB)
    engine.script = [IkeRefused(HUB, "hash mismatch", "bad pre-shared key?")]
    ipsec.tick(1)
    assert ipsec.counters["refused: hash mismatch"] == 1 and transport.queued(HUB) == 0
    transport.install(child_sa_pair(LOCAL, HUB, spi_ab=0x7000, spi_ba=0x8000)[0], 2)
    engine.script = [PeerDead(HUB)]
    ipsec.tick(3)
    assert not transport.has_sa(HUB) and ipsec.counters["peer dead"] == 1


def test_clear_crypto_session_and_sa():
    ipsec, engine, transport, _, _ = node()
    transport.install(child_sa_pair(LOCAL, HUB)[0], 0)
    assert ipsec.clear_sa(HUB) == 1 and not transport.has_sa(HUB) and engine.calls[-1] == ("clear_sa", HUB)
    transport.install(child_sa_pair(LOCAL, HUB, spi_ab=0x7000, spi_ba=0x8000)[0], 0)
    assert ipsec.clear_session(None) == 1 and engine.calls[-1] == ("clear", None) and not transport.has_sa(HUB)


def test_no_key_log_directory_means_no_key_files(monkeypatch):
    monkeypatch.delenv("DMVPNLAB_KEYLOG_DIR", raising=False)
    assert open_key_log(None) is None


def test_marks_time_each_negotiation_from_its_first_ask_to_its_child_sa():
    ipsec, engine, transport, _, clock = node()
    transport.send(GRE_PROTO_NHRP, b"registration request", HUB)
    clock.now += 1.5
    transport.send(GRE_PROTO_NHRP, b"registration request", HUB)  # the once-a-second reminder
    assert engine.calls == [("connect", HUB)] * 2
    assert ipsec.marks[HUB] == {"connect": 50.0}, "the negotiation began at the first ask, not the reminder"
    at_local, _ = child_sa_pair(LOCAL, HUB)
    clock.now = 52.0
    engine.script = [IkeSaUp(HUB, b"i" * 8, b"r" * 8, b"k" * 32, 1001, True, False)]
    ipsec.receive_udp(b"\x00" * 28, str(HUB), 500, 500)
    clock.now = 52.25
    engine.script = [at_local]
    ipsec.receive_udp(b"\x00" * 28, str(HUB), 500, 500)
    assert ipsec.marks[HUB] == {"connect": 50.0, "ike_sa_up": 52.0, "child_sa_up": 52.25}
    ipsec.clear_session(HUB)
    clock.now = 60.0
    transport.send(GRE_PROTO_NHRP, b"registration request", HUB)
    assert ipsec.marks[HUB]["connect"] == 60.0, "after a clear the next ask starts a new negotiation"


def test_the_kilobyte_soft_limit_asks_for_a_rekey_before_the_next_tick():
    ipsec, engine, transport, _, clock = node()
    at_local, _ = child_sa_pair(LOCAL, HUB, kilobytes=10)
    transport.install(at_local, clock.now)
    for _ in range(9):  # 9 KiB of GRE: past 90 % of 10 KiB, no tick in between
        transport.send(0x0800, bytes(1024), HUB)
    assert ("rekey_child", at_local.spi_in) in engine.calls and ("tick",) not in engine.calls
    assert ipsec.counters["rekey asked"] == 1
    ipsec.tick(clock.now)
    assert ipsec.counters["rekey asked"] == 1  # asked once, not again on the tick


def test_the_ike_sockets_take_a_burst_of_main_mode_messages():
    """A hub with many spokes starting at once: the receive buffer is the 4 MiB asked
    for (the kernel reports twice the size it books), not the ~200 KiB default."""
    import socket

    from dmvpnlab.agent.ipsec_node import IKE_RCVBUF, _udp_socket

    sock = _udp_socket(0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= IKE_RCVBUF
    finally:
        sock.close()
