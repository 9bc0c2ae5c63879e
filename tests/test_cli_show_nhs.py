"""`show ip nhrp nhs [detail]` and `show dmvpn [detail]` of a spoke with several NHSs (IOS 15).

The spoke is configured by IOS text (two NHSs in cluster 1 limited to one connection,
plus a dynamic NHS in cluster 0), its engine registers with three in-memory hubs
(nhrp_sim), and the CLI renders what that engine holds, through test_cli_fakes.FakeAgent.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

import nhrp_sim
from dmvpnlab.agent.core import nhrp_engine_config
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.config.parser import load_config
from test_cli_fakes import FakeAgent

A, N = IPv4Address, IPv4Network
HUBS = {"hub1": ("10.0.0.1", "203.0.113.1"), "hub2": ("10.0.0.254", "203.0.113.2"),
        "hub3": ("10.0.0.253", "203.0.113.3")}

SPOKE = """\
hostname spoke1
!
interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
 ip nhrp authentication DMVPN
 ip nhrp network-id 1
 ip nhrp holdtime 300
 ip nhrp nhs 10.0.0.1 nbma 203.0.113.1 priority 1 cluster 1
 ip nhrp nhs 10.0.0.254 nbma 203.0.113.2 priority 2 cluster 1
 ip nhrp nhs dynamic nbma 203.0.113.3
 ip nhrp nhs cluster 1 max-connections 1
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
interface GigabitEthernet0/0
 ip address 100.64.1.1 255.255.255.252
!
ip route 0.0.0.0 0.0.0.0 100.64.1.2
end
"""


def _spoke() -> tuple[FakeAgent, nhrp_sim.Net]:
    net = nhrp_sim.Net()
    for name, (proto, nbma) in HUBS.items():
        net.add(name, nhrp_sim.hub_config(tunnel_address=IPv4Interface(f"{proto}/24"), nbma_address=A(nbma)),
                [(nhrp_sim.TUNNEL, None, True)])
    itf = load_config(SPOKE).interface("Tunnel0")
    assert itf is not None
    node = net.add("spoke1", nhrp_engine_config(itf, A("100.64.1.1")), [(nhrp_sim.TUNNEL, None, True)])
    net.run(10.0)
    return FakeAgent("spoke1", SPOKE, node, net), net


@pytest.fixture
def spoke() -> tuple[FakeAgent, nhrp_sim.Net]:
    return _spoke()


def show(agent: FakeAgent, command: str) -> str:
    result = ExecSession(agent).handle(command)
    assert not result.error, result.output
    return result.output


def test_show_ip_nhrp_nhs_lists_each_nhs_with_its_state_priority_and_cluster(spoke) -> None:
    agent, _ = spoke
    assert show(agent, "show ip nhrp nhs") == (
        "Legend: E=Expecting replies, R=Responding, W=Waiting, D=Dynamic\n"
        "Tunnel0:\n"
        "10.0.0.1  RE NBMA Address: 203.0.113.1 priority = 1 cluster = 1\n"
        "10.0.0.254  W NBMA Address: 203.0.113.2 priority = 2 cluster = 1\n"
        "10.0.0.253  RED NBMA Address: 203.0.113.3 priority = 0 cluster = 0\n"
    )


def test_after_the_preferred_nhs_fails_the_waiting_one_is_responding(spoke) -> None:
    agent, net = spoke
    net.down.add("hub1")
    net.run(120.0)  # the periodic registration at 100 s goes unanswered, then 101, 103; down at 107
    lines = show(agent, "show ip nhrp nhs").splitlines()
    assert lines[2] == "10.0.0.1  E NBMA Address: 203.0.113.1 priority = 1 cluster = 1"
    assert lines[3] == "10.0.0.254  RE NBMA Address: 203.0.113.2 priority = 2 cluster = 1"


def test_detail_adds_the_ios_counters_and_the_pending_requests(spoke) -> None:
    agent, net = spoke
    net.down.add("hub1")
    net.run(120.0)
    text = show(agent, "show ip nhrp nhs detail")
    lines = text.splitlines()
    assert lines[2].startswith("10.0.0.1  E NBMA Address: 203.0.113.1 priority = 1 cluster = 1  req-sent 6  "
                               "req-failed 5  repl-recv 1 (")
    assert lines[3].startswith("10.0.0.254  RE NBMA Address: 203.0.113.2 priority = 2 cluster = 1  req-sent 1  "
                               "req-failed 0  repl-recv 1 (00:00:")
    assert "Pending Registration Requests:" in lines
    pending = [line for line in lines if line.startswith("Registration Request:")]
    assert len(pending) == 1 and pending[0].endswith("NHS 10.0.0.1")


def test_a_waiting_nhs_has_never_been_sent_a_request(spoke) -> None:
    agent, _ = spoke
    line = show(agent, "show ip nhrp nhs detail").splitlines()[3]
    assert line == ("10.0.0.254  W NBMA Address: 203.0.113.2 priority = 2 cluster = 1  "
                    "req-sent 0  req-failed 0  repl-recv 0 (never)")


def test_a_dynamic_nhs_shows_0_0_0_0_until_its_reply_names_it() -> None:
    net = nhrp_sim.Net()
    net.down.add("hub3")
    net.add("hub3", nhrp_sim.hub_config(tunnel_address=IPv4Interface("10.0.0.253/24"), nbma_address=A("203.0.113.3")),
            [(nhrp_sim.TUNNEL, None, True)])
    itf = load_config(SPOKE).interface("Tunnel0")
    assert itf is not None
    node = net.add("spoke1", nhrp_engine_config(itf, A("100.64.1.1")), [(nhrp_sim.TUNNEL, None, True)])
    agent = FakeAgent("spoke1", SPOKE, node, net)
    assert "0.0.0.0  ED NBMA Address: 203.0.113.3 priority = 0 cluster = 0" in show(agent, "show ip nhrp nhs")


def test_show_dmvpn_detail_lists_every_nhs_and_show_dmvpn_its_peers(spoke) -> None:
    agent, _ = spoke
    detail = show(agent, "show dmvpn detail")
    assert ("IPv4 NHS:\n"
            "10.0.0.1  RE priority = 1 cluster = 1\n"
            "10.0.0.254  W priority = 2 cluster = 1\n"
            "10.0.0.253  RED priority = 0 cluster = 0\n") in detail
    table = show(agent, "show dmvpn")
    rows = {line.split()[2]: line.split()[3] for line in table.splitlines() if line.strip().startswith("1 ")}
    assert rows == {"10.0.0.1": "UP", "10.0.0.254": "NHRP", "10.0.0.253": "UP"}
