"""The NHS policy lines: `ip nhrp nhs cluster N max-connections M` and `ip nhrp nhs fallback S`.

They parse into the NHRP model, render back in running-config, take their `no` forms in
`configure terminal`, refuse malformed input as IOS does (caret under the bad token,
"% Incomplete command." when cut short), and reach the engine's config through the agent.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest

from dmvpnlab.agent.tunnels_node import nhrp_engine_config as engine_config
from dmvpnlab.config.model import Interface, NhrpNhs
from dmvpnlab.config.parser import ConfigSession, load_config, parse_config
from dmvpnlab.config.render import render_running_config
from dmvpnlab.nhrp.config import NhsConfig

SPOKE = """\
interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
 ip nhrp nhs 10.0.0.1 nbma 203.0.113.1 priority 1 cluster 1
 ip nhrp nhs 10.0.0.254 nbma 203.0.113.2 priority 2 cluster 1
 ip nhrp nhs dynamic nbma 203.0.113.3
 ip nhrp nhs cluster 1 max-connections 1
 ip nhrp nhs fallback 30
 tunnel mode gre multipoint
"""


def _tunnel(text: str) -> Interface:
    tun = load_config(text).interface("Tunnel0")
    assert tun is not None
    return tun


def test_cluster_max_connections_and_fallback_parse_into_the_nhrp_model() -> None:
    nhrp = _tunnel(SPOKE).nhrp
    assert nhrp.nhs_max_connections == {1: 1}
    assert nhrp.nhs_fallback == 30
    assert len(nhrp.nhs) == 3  # the policy lines are not NHSs


def test_abbreviated_keywords_are_accepted() -> None:
    nhrp = _tunnel("interface Tunnel0\n ip nhrp nhs clus 2 max-conn 3\n ip nhrp nhs fall 5\n").nhrp
    assert (nhrp.nhs_max_connections, nhrp.nhs_fallback) == ({2: 3}, 5)


def test_a_second_line_for_a_cluster_replaces_its_limit() -> None:
    nhrp = _tunnel("interface Tunnel0\n ip nhrp nhs cluster 0 max-connections 2\n"
                   " ip nhrp nhs cluster 0 max-connections 1\n").nhrp
    assert nhrp.nhs_max_connections == {0: 1}


def test_policy_lines_render_after_the_nhs_lines_and_parse_back() -> None:
    text = render_running_config(load_config(SPOKE))
    lines = [line for line in text.splitlines() if line.startswith(" ip nhrp nhs")]
    assert lines == [
        " ip nhrp nhs 10.0.0.1 nbma 203.0.113.1 priority 1 cluster 1",
        " ip nhrp nhs 10.0.0.254 nbma 203.0.113.2 priority 2 cluster 1",
        " ip nhrp nhs dynamic nbma 203.0.113.3",
        " ip nhrp nhs cluster 1 max-connections 1",
        " ip nhrp nhs fallback 30",
    ]
    assert _tunnel(text).nhrp == _tunnel(SPOKE).nhrp


def test_no_forms_remove_the_limit_and_the_fallback() -> None:
    s = ConfigSession(load_config(SPOKE))
    for line in ("interface Tunnel0", "no ip nhrp nhs cluster 1 max-connections", "no ip nhrp nhs fallback 30"):
        assert s.apply(line) == [], line
    tun = s.config.interface("Tunnel0")
    assert tun is not None and tun.nhrp.nhs_max_connections == {} and tun.nhrp.nhs_fallback is None
    assert len(tun.nhrp.nhs) == 3


@pytest.mark.parametrize(
    ("line", "caret_under"),
    [
        (" ip nhrp nhs cluster 1 max-connections 0", "0"),
        (" ip nhrp nhs cluster 1 max-connections 256", "256"),
        (" ip nhrp nhs cluster 11 max-connections 1", "11"),
        (" ip nhrp nhs cluster x max-connections 1", "x"),
        (" ip nhrp nhs cluster 1 limit 2", "limit"),
        (" ip nhrp nhs cluster 1 max-connections 2 now", "now"),
        (" ip nhrp nhs fallback 3601", "3601"),
        (" ip nhrp nhs fallback soon", "soon"),
        (" ip nhrp nhs fallback 30 40", "40"),
    ],
)
def test_malformed_policy_line_is_an_ios_error_with_caret(line: str, caret_under: str) -> None:
    result = parse_config(f"interface Tunnel0\n{line}\n")
    assert [e.message for e in result.errors] == ["% Invalid input detected at '^' marker."]
    assert result.errors[0].column == line.rindex(" " + caret_under) + 1


@pytest.mark.parametrize("line", [" ip nhrp nhs cluster", " ip nhrp nhs cluster 1",
                                  " ip nhrp nhs cluster 1 max-connections", " ip nhrp nhs fallback"])
def test_truncated_policy_line_is_incomplete_command(line: str) -> None:
    result = parse_config(f"interface Tunnel0\n{line}\n")
    assert [e.message for e in result.errors] == ["% Incomplete command."]


def test_the_agent_passes_priority_cluster_dynamic_nhs_and_the_policy_to_the_engine() -> None:
    tun = _tunnel(SPOKE)
    config = engine_config(tun, IPv4Address("100.64.1.1"))
    assert config.tunnel_address == IPv4Interface("10.0.0.2/24")
    assert config.nhs == [
        NhsConfig(IPv4Address("10.0.0.1"), IPv4Address("203.0.113.1"), False, 1, 1),
        NhsConfig(IPv4Address("10.0.0.254"), IPv4Address("203.0.113.2"), False, 2, 1),
        NhsConfig(None, IPv4Address("203.0.113.3")),
    ]
    assert config.nhs_max_connections == {1: 1} and config.nhs_fallback == 30.0


def test_without_policy_lines_the_engine_registers_with_every_nhs_at_once() -> None:
    tun = Interface("Tunnel0", address=IPv4Interface("10.0.0.2/24"))
    tun.nhrp.nhs = [NhrpNhs(IPv4Address("10.0.0.1"))]
    config = engine_config(tun, IPv4Address("100.64.1.1"))
    assert config.nhs_max_connections == {} and config.nhs_fallback is None
    assert config.nhs == [NhsConfig(IPv4Address("10.0.0.1"))]
