"""The agent's tunnels node: every `interface TunnelN` live, each with its own NHRP.

TAPs and raw sockets are replaced by stand-ins (no privileges needed); the kernel is a
fake that knows the addresses of the tunnel sources. The live twin is
tests/test_dual_cloud_live.py.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

import pytest
from agentif_fakes import FakeKernel as InterfacesKernel

from dmvpnlab.agent.core import RouterAgent
from dmvpnlab.agent.state import agent_state
from dmvpnlab.cli.show_dmvpn import dmvpn_data, render_dmvpn
from dmvpnlab.cli.show_nhrp import nhrp_data, nhs_data, render_nhs, render_traffic, traffic_data
from dmvpnlab.config.parser import parse_config
from dmvpnlab.tunnel import mgre, transport


class FakeTapDevice:
    def __init__(self, name: str) -> None:
        self.name, self.closed = name, False

    def configure(self, *_args: Any) -> None:
        pass

    def read(self) -> bytes | None:
        return None

    def write(self, _frame: bytes) -> bool:
        return True

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        self.closed = True


class FakeRawSocket:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, address: Any) -> int:
        self.sent.append((data, address))
        return len(data)

    def send(self, nbma: Any, data: bytes) -> bool:
        return self.sendto(data, (str(nbma), 0)) > 0

    def recvfrom(self, _size: int) -> Any:
        raise BlockingIOError

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class FakeKernel(InterfacesKernel):
    """The interfaces part's kernel double with the spoke's two WAN links, plus the route
    queries NHRP asks (nothing routed)."""

    def __init__(self) -> None:
        super().__init__()
        for name, address in (("spoke-eth0", "198.18.9.2/30"), ("spoke-eth1", "198.18.9.6/30")):
            self.add_link(name)
            self.addrs[name] = [IPv4Interface(address)]

    def set_link(self, ifname: str, up: bool) -> None:
        if ifname not in self.links:  # a tunnel's TAP (the fake TAP makes no link here)
            self.add_link(ifname)
        super().set_link(ifname, up)

    def lookup(self, *_args: Any) -> None:
        return None

    def covering(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def close(self) -> None:  # the agent closes its netlink socket when it stops
        pass


def tunnel(n: int, key: int | None, source: str, nhs: str) -> str:
    key_line = f" tunnel key {key}\n" if key is not None else ""
    return (f"interface Tunnel{n}\n ip address 10.0.{n}.2 255.255.255.0\n ip nhrp network-id {n + 1}\n"
            f" ip nhrp nhs 10.0.{n}.1 nbma {nhs} multicast\n tunnel source {source}\n"
            f" tunnel mode gre multipoint\n{key_line}!\n")


PHYSICAL = ("interface GigabitEthernet0/0\n ip address 198.18.9.2 255.255.255.252\n!\n"
            "interface GigabitEthernet0/1\n ip address 198.18.9.6 255.255.255.252\n!\n")


@pytest.fixture
def make_agent(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(mgre, "TapDevice", FakeTapDevice)
    monkeypatch.setattr(transport, "RawGreSocket", FakeRawSocket)

    def make(text: str) -> RouterAgent:
        parsed = parse_config("hostname spoke\n" + text + PHYSICAL + "end\n")
        assert parsed.ok, parsed.errors
        return RouterAgent(node="spoke", config=parsed.config, state_dir=tmp_path, kernel=FakeKernel())  # type: ignore[arg-type]
    return make


def dual() -> str:
    return tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1") + tunnel(1, 200, "GigabitEthernet0/1", "198.18.9.5")


def test_every_tunnel_interface_is_live_with_its_own_engine_network_id_and_key(make_agent):
    agent = make_agent(dual())
    assert agent.tunnels_node.apply() == {}
    assert [t.name for t in agent.tunnels] == ["Tunnel0", "Tunnel1"]
    t0, t1 = agent.tunnels
    assert agent.tunnel is t0 and agent.tunnel_named("Tunnel1") is t1
    assert (t0.engine.config.network_id, t1.engine.config.network_id) == (1, 2)
    assert (t0.key, t1.key) == (100, 200)
    assert (t0.nbma, t1.nbma) == (IPv4Address("198.18.9.2"), IPv4Address("198.18.9.6"))
    assert t0.engine is not t1.engine and t0.transport is not t1.transport
    assert agent.tunnels_node.demux.active
    # each engine registered with its own NHS, through its own transport
    assert [a for _d, a in t0.transport.sock.sent] == [("198.18.9.1", 0)]
    assert [a for _d, a in t1.transport.sock.sent] == [("198.18.9.5", 0)]


def test_the_state_keeps_the_first_tunnels_shape_and_lists_every_tunnel(make_agent):
    agent = make_agent(dual())
    agent.tunnels_node.apply()
    state = agent_state(agent)
    assert state["nhrp"]["interface"] == "Tunnel0" and state["nhrp"]["nhs"][0]["address"] == "10.0.0.1"
    assert [b["interface"] for b in state["nhrp"]["tunnels"]] == ["Tunnel0", "Tunnel1"]
    assert [b["nhs"][0]["address"] for b in state["nhrp"]["tunnels"]] == ["10.0.0.1", "10.0.1.1"]
    assert [t["name"] for t in state["tunnels"]] == ["Tunnel0", "Tunnel1"]
    assert state["tunnel"]["name"] == "Tunnel0" and state["gre_unmatched"] == 0


def test_the_cli_shows_a_block_per_tunnel(make_agent):
    agent = make_agent(dual())
    agent.tunnels_node.apply()
    data = dmvpn_data(agent)
    assert [b["interface"] for b in data["interfaces"]] == ["Tunnel0", "Tunnel1"]
    text = render_dmvpn(data)
    assert text.index("Interface: Tunnel0, IPv4 NHRP Details") < text.index("Interface: Tunnel1, IPv4 NHRP Details")
    assert [b["interface"] for b in dmvpn_data(agent, "Tunnel1")["interfaces"]] == ["Tunnel1"]
    nhs = render_nhs(nhs_data(agent))
    assert "Tunnel0:\n10.0.0.1  E NBMA Address: 198.18.9.1" in nhs and "Tunnel1:\n10.0.1.1  E NBMA Address: 198.18.9.5" in nhs
    assert {e["interface"] for e in nhrp_data(agent)["entries"]} == {"Tunnel0", "Tunnel1"}
    assert [e["interface"] for e in nhrp_data(agent, interface="Tunnel1")["entries"]] == ["Tunnel1"]
    traffic = render_traffic(traffic_data(agent))
    assert "Tunnel0: Max-send limit" in traffic and "Tunnel1: Max-send limit" in traffic


def test_removing_one_tunnel_closes_it_alone_and_adding_it_back_creates_it(make_agent):
    agent = make_agent(dual())
    agent.tunnels_node.apply()
    t0, t1 = agent.tunnels
    full = agent.config
    agent.config = parse_config("hostname spoke\n" + tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1")
                                + PHYSICAL + "end\n").config
    agent.tunnels_node.apply()
    assert agent.tunnels == [t0] and t1.tap.closed and not t0.tap.closed
    assert not agent.tunnels_node.demux.active
    agent.config = full
    agent.tunnels_node.apply()
    assert agent.tunnels[0] is t0 and agent.tunnels[1] is not t1 and agent.tunnels[1].name == "Tunnel1"


def test_same_source_and_key_as_another_tunnel_is_refused_with_a_reason(make_agent):
    agent = make_agent(tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1")
                       + tunnel(1, 100, "GigabitEthernet0/0", "198.18.9.5"))
    problems = agent.tunnels_node.apply()
    assert [t.name for t in agent.tunnels] == ["Tunnel0"]
    assert problems == {"Tunnel1": "Tunnel1: same tunnel source 198.18.9.2 and key 100 as Tunnel0: not applied"}
    assert agent_state(agent)["tunnel_problems"] == problems


def test_same_source_with_different_keys_is_fine(make_agent):
    agent = make_agent(tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1")
                       + tunnel(1, None, "GigabitEthernet0/0", "198.18.9.5"))
    assert agent.tunnels_node.apply() == {}
    assert [t.key for t in agent.tunnels] == [100, None]


def test_a_tunnel_without_source_address_stops_only_itself(make_agent):
    agent = make_agent(tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1")
                       + tunnel(1, 200, "GigabitEthernet0/2", "198.18.9.5"))
    problems = agent.tunnels_node.apply()
    assert [t.name for t in agent.tunnels] == ["Tunnel0"]
    assert "Tunnel1" in problems and "no tunnel source" not in problems["Tunnel1"]


def test_clear_ip_nhrp_clears_every_tunnel_or_one(make_agent):
    agent = make_agent(dual())
    agent.tunnels_node.apply()
    assert agent.clear_nhrp(None, "Tunnel1") >= 0
    assert agent.clear_nhrp() >= 0
    assert [t.name for t in agent.tunnels] == ["Tunnel0", "Tunnel1"]


def test_point_to_point_tunnels_may_share_a_source_without_key_when_their_destinations_differ(make_agent):
    def p2p(n: int, destination: str) -> str:
        return (f"interface Tunnel{n}\n ip address 10.9.{n}.1 255.255.255.252\n tunnel source GigabitEthernet0/0\n"
                f" tunnel mode gre ip\n tunnel destination {destination}\n!\n")
    agent = make_agent(p2p(0, "203.0.113.1") + p2p(1, "203.0.113.5") + p2p(2, "203.0.113.5"))
    problems = agent.tunnels_node.apply()
    assert [(t.name, str(t.destination)) for t in agent.tunnels] == [("Tunnel0", "203.0.113.1"),
                                                                       ("Tunnel1", "203.0.113.5")]
    assert problems == {"Tunnel2": "Tunnel2: same tunnel source 198.18.9.2 and no tunnel key as Tunnel1: not applied"}


def _protected(monkeypatch, make_agent, shared0: bool, shared1: bool, profile1: str = "DMVPN_PROFILE"):
    import functools

    from crypto_configs import SEED_CRYPTO

    from dmvpnlab.agent import tunnels_node
    from dmvpnlab.agent.ipsec_node import IpsecNode
    from dmvpnlab.tunnel import esp_transport
    monkeypatch.setattr(esp_transport, "RawGreSocket", FakeRawSocket)
    monkeypatch.setattr(tunnels_node, "IpsecNode", functools.partial(IpsecNode, bind=False))  # no UDP here
    text = SEED_CRYPTO
    for n, shared, profile in ((0, shared0, "DMVPN_PROFILE"), (1, shared1, profile1)):
        protection = f" tunnel protection ipsec profile {profile}{' shared' if shared else ''}\n"
        text += tunnel(n, 100 + n, "GigabitEthernet0/0", f"198.18.9.{1 + 4 * n}").replace("!\n", protection + "!\n")
    return make_agent(text)


def test_shared_protection_on_one_source_gives_the_second_tunnel_the_firsts_sas_and_ike(monkeypatch, make_agent):
    from dmvpnlab.tunnel.esp_shared import SharedEspView
    agent = _protected(monkeypatch, make_agent, True, True)
    assert agent.tunnels_node.apply() == {}
    t0, t1 = agent.tunnels
    assert isinstance(t1.transport, SharedEspView) and t1.transport.owner is t0.transport
    assert t0.transport.siblings == {101: t1.transport}
    assert [name for name, _node in agent.ipsec_nodes] == ["Tunnel0"]
    assert agent.ipsec_for("Tunnel1") is agent.ipsec_for("Tunnel0") is not None
    # removing the owner re-makes Tunnel1 as the owner of its own ESP
    agent.config.interfaces = [i for i in agent.config.interfaces if i.name != "Tunnel0"]
    assert agent.tunnels_node.apply() == {}
    [alone] = agent.tunnels
    assert alone.name == "Tunnel1" and not isinstance(alone.transport, SharedEspView)
    assert agent.ipsec_for("Tunnel1") is not None


def test_protection_on_one_source_without_shared_or_with_two_profiles_is_refused(monkeypatch, make_agent):
    agent = _protected(monkeypatch, make_agent, True, False)
    problems = agent.tunnels_node.apply()
    assert [t.name for t in agent.tunnels] == ["Tunnel0"]
    assert "both need 'tunnel protection ipsec profile DMVPN_PROFILE shared'" in problems["Tunnel1"]


def test_a_tunnel_whose_source_gets_an_address_later_comes_up_on_a_later_tick(make_agent):
    # As IOS: Tunnel1 stays "line protocol down" while GigabitEthernet0/1 has no address, and
    # comes up by itself once it has one (DHCP, or the address typed later), in config order.
    agent = make_agent(dual())
    clock = [100.0]
    agent.clock = lambda: clock[0]  # type: ignore[method-assign]
    agent.kernel.addrs["spoke-eth1"] = []
    problems = agent.tunnels_node.apply()
    assert list(problems) == ["Tunnel1"] and [t.name for t in agent.tunnels] == ["Tunnel0"]
    agent.tunnels_node.tick()
    assert list(agent.tunnels_node.problems) == ["Tunnel1"], "still no address: still down"
    agent.kernel.addrs["spoke-eth1"] = [IPv4Interface("198.18.9.6/30")]
    clock[0] += 1.0
    agent.tunnels_node.tick()
    assert list(agent.tunnels_node.problems) == ["Tunnel1"], "not tried again before SOURCE_CHECK_SECONDS"
    clock[0] += 5.0
    agent.tunnels_node.tick()
    assert agent.tunnels_node.problems == {} and agent_state(agent)["tunnel_problems"] == {}
    assert [(t.name, t.key, str(t.nbma)) for t in agent.tunnels] == [("Tunnel0", 100, "198.18.9.2"),
                                                                     ("Tunnel1", 200, "198.18.9.6")]
    assert agent.tunnels_node.demux.active


def test_start_up_with_a_tunnel_that_cannot_come_up_runs_the_rest_and_reports_it(make_agent, monkeypatch):
    # IOS boots a router whose tunnel source has no address: the tunnel is down, the rest
    # runs. The agent likewise gets ready (no exit 2) and says why in the state and log.
    import asyncio
    import logging
    import os
    import signal

    agent = make_agent(tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1")
                       + tunnel(1, 200, "GigabitEthernet0/2", "198.18.9.5"))  # Gi0/2: no such link
    monkeypatch.setattr(agent.tunnels_node, "_watch", lambda _slot: None)  # the fake TAP has no fd to select on
    monkeypatch.setattr(agent.tunnels_node, "_unwatch", lambda _slot: None)
    readied: list[bool] = []

    def ready() -> None:
        readied.append(True)
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)  # then stop it

    warnings: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("dmvpnlab.agent").addHandler(handler)
    try:
        asyncio.run(agent.run(ready))
    finally:
        logging.getLogger("dmvpnlab.agent").removeHandler(handler)
    assert readied == [True]
    assert list(agent.tunnels_node.problems) == ["Tunnel1"] and agent.tunnels == [], "stopped: all closed"
    assert any(w.startswith("start-up: not applied: Tunnel1: ") for w in warnings), warnings


def test_with_max_connections_the_agent_registers_with_the_best_nhs_and_reports_the_other_waiting(make_agent):
    agent = make_agent("interface Tunnel0\n ip address 10.0.0.2 255.255.255.0\n"
                       " ip nhrp nhs 10.0.0.1 nbma 198.18.9.1 priority 5\n"
                       " ip nhrp nhs 10.0.0.254 nbma 198.18.9.9 priority 1\n"
                       " ip nhrp nhs cluster 0 max-connections 1\n"
                       " tunnel source GigabitEthernet0/0\n tunnel mode gre multipoint\n!\n")
    assert agent.tunnels_node.apply() == {}
    [t0] = agent.tunnels
    assert [a for _d, a in t0.transport.sock.sent] == [("198.18.9.9", 0)]
    nhs = agent_state(agent)["nhrp"]["nhs"]
    assert [(n["address"], n["state"], n["priority"], n["waiting"]) for n in nhs] == [
        ("10.0.0.1", "W", 5, True), ("10.0.0.254", "E", 1, False)]


def test_one_loop_wake_up_serves_both_sides_until_a_round_moves_nothing(make_agent):
    """TCP through the tunnel has data one way and ACKs the other: a wake-up for the TAP
    also drains the transport (and the other way), again while packets keep coming, at
    most PUMP_ROUNDS rounds, so the loop's other work is never starved."""
    from dmvpnlab.agent.tunnels_node import PUMP_ROUNDS

    agent = make_agent(tunnel(0, 100, "GigabitEthernet0/0", "198.18.9.1"))
    assert agent.tunnels_node.apply() == {}
    t0 = agent.tunnel
    calls: list[str] = []
    taps, socks = iter([3, 2, 0]), iter([1, 0])
    t0.drain_tap = lambda: calls.append("tap") or next(taps, 0)  # type: ignore[method-assign]
    t0.drain_socket = lambda: calls.append("sock") or next(socks, 0)  # type: ignore[method-assign]
    agent.tunnels_node._pump("Tunnel0", True)
    assert calls == ["tap", "sock", "tap", "sock", "tap"], "the round with nothing moved ends it"
    calls.clear()
    t0.drain_tap = lambda: calls.append("tap") or 1  # type: ignore[method-assign]
    agent.tunnels_node._pump("Tunnel0", False)
    assert calls == ["sock", "tap"] * PUMP_ROUNDS, "a busy tunnel still hands the loop back"
