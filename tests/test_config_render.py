"""`show running-config` rendering: IOS order, byte count, and parse(render(x)) == x."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from dmvpnlab.config.model import (
    Interface,
    IpsecProfile,
    IsakmpKeepalive,
    IsakmpKey,
    IsakmpPolicy,
    NhrpMap,
    NhrpNhs,
    RawBlock,
    RouterConfig,
    RouterSection,
    StaticRoute,
    TransformSet,
    TunnelProtection,
    Username,
)
from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config
from tests.test_config_parser import RUNNING_CONFIG


def _full_config() -> RouterConfig:
    tun = Interface("Tunnel0", description="DMVPN", address=IPv4Interface("10.0.0.1/24"), bandwidth=1000,
                    ip_mtu=1400, tcp_adjust_mss=1360, tunnel_source="GigabitEthernet0/0",
                    tunnel_mode="gre multipoint", tunnel_key=12345,
                    tunnel_protection=TunnelProtection("PROF", shared=True),
                    routing_lines=["ip ospf network point-to-multipoint", "no ip split-horizon eigrp 1"],
                    extra_lines=["no ip redirects"])
    n = tun.nhrp
    n.network_id, n.holdtime, n.authentication = 1, 300, "DMVPN"
    n.maps = [NhrpMap(IPv4Address("10.0.0.9"), IPv4Address("198.51.100.9"))]
    n.multicast_maps = ["dynamic", IPv4Address("198.51.100.9")]
    n.nhs = [NhrpNhs(IPv4Address("10.0.0.9"), IPv4Address("198.51.100.9"), True, 3, 2),
             NhrpNhs(None, IPv4Address("198.51.100.10"))]
    n.redirect, n.redirect_timeout, n.shortcut = True, 10, True
    n.registration_no_unique, n.registration_timeout = True, 40
    n.nhs_max_connections, n.nhs_fallback = {2: 1, 0: 3}, 30
    return RouterConfig(
        hostname="hub", version="15.7",
        enable_secret="5 $1$abc", usernames=[Username("admin", "privilege 15 secret 0 admin")],
        isakmp_policies=[IsakmpPolicy(10, "aes 256", "sha256", "pre-share", 14, 3600)],
        isakmp_keys=[IsakmpKey("K1", IPv4Network("0.0.0.0/0")),
                     IsakmpKey("K2", IPv4Network("198.51.100.0/24"), 0, True),
                     IsakmpKey("K3", IPv4Network("198.51.100.7/32"))],
        isakmp_keepalive=IsakmpKeepalive(10, 3, "periodic"),
        transform_sets=[TransformSet("TS", ["esp-aes 256", "esp-sha256-hmac"], "transport")],
        ipsec_profiles=[IpsecProfile("PROF", ["TS"], "group14", 1800, 4608000)],
        interfaces=[Interface("GigabitEthernet0/1", address=IPv4Interface("192.168.0.1/24"),
                              secondary_addresses=[IPv4Interface("192.168.50.1/24")]),
                    Interface("GigabitEthernet0/2", shutdown=True),
                    Interface("Loopback0", address=IPv4Interface("1.1.1.1/32")),
                    tun],
        router_sections=[RouterSection("router eigrp 1", ["network 10.0.0.0 0.0.0.255", "eigrp stub"])],
        static_routes=[StaticRoute(IPv4Network("0.0.0.0/0"), IPv4Address("203.0.113.2")),
                       StaticRoute(IPv4Network("192.168.1.0/24"), IPv4Address("10.0.0.2"), "Tunnel0", 5, 9, True,
                                   "S1", 4)],
        extra_head=[RawBlock(["service timestamps log datetime msec"])],
        extra_tail=[RawBlock(["line vty 0 4", " transport input ssh"]),
                    RawBlock(["banner motd ^C", "hello", "^C"])],
        banner_motd="hello",
    )


def test_every_modelled_field_survives_render_then_parse() -> None:
    cfg = _full_config()
    text = render_running_config(cfg)
    result = parse_config(text, source="running-config")
    assert result.errors == []
    # the interfaces come back in IOS order, which is the only change
    cfg.interfaces.sort(key=lambda i: ["Loopback0", "Tunnel0", "GigabitEthernet0/1", "GigabitEthernet0/2"].index(i.name))
    assert result.config == cfg


def test_running_config_lists_sections_in_ios_order() -> None:
    text = render_running_config(_full_config())
    lines = text.splitlines()
    assert lines[:4] == ["Building configuration...", "", lines[2], "!"]
    order = ["version 15.7", "hostname hub", "service timestamps log datetime msec", "enable secret 5 $1$abc",
             "username admin privilege 15 secret 0 admin", "crypto isakmp policy 10",
             "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac", "crypto ipsec profile PROF",
             "interface Loopback0", "interface Tunnel0", "interface GigabitEthernet0/1",
             "interface GigabitEthernet0/2", "router eigrp 1", "ip route 0.0.0.0 0.0.0.0 203.0.113.2",
             "line vty 0 4", "banner motd ^C", "end"]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)
    assert lines[-1] == "end"
    assert " encr aes 256" in lines and "crypto isakmp key K1 address 0.0.0.0" in lines
    assert "crypto isakmp key 0 K2 address 198.51.100.0 255.255.255.0 no-xauth" in lines
    assert "crypto isakmp key K3 address 198.51.100.7" in lines


def test_current_configuration_byte_count_matches_the_body() -> None:
    text = render_running_config(_full_config())
    header, _, body = text.partition("\n!\n")
    count = int(header.splitlines()[-1].split(":")[1].split()[0])
    assert count == len(("!\n" + body).encode())


def test_default_valued_isakmp_lines_are_not_printed() -> None:
    text = render_running_config(RouterConfig(isakmp_policies=[IsakmpPolicy(20, authentication="pre-share")]))
    block = text.split("crypto isakmp policy 20\n", 1)[1].split("!", 1)[0]
    assert block == " authentication pre-share\n"


@pytest.mark.parametrize("source", ["dump", "flat"])
def test_real_configs_roundtrip_through_render(source: str) -> None:
    if source == "dump":
        text = RUNNING_CONFIG
    else:
        text = ("hostname S\ninterface Tunnel0\nip address 10.0.0.2 255.255.255.0\nip pim sparse-mode\n"
                "tunnel key 5\nrouter eigrp 1\nnetwork 10.0.0.0\nno auto-summary\nexit\nntp server 1.2.3.4\n"
                "line vty 0 4\ntransport input ssh\n")
    first = parse_config(text)
    assert first.errors == []
    rendered = render_running_config(first.config)
    second = parse_config(rendered)
    assert second.errors == []
    assert second.config == first.config
    assert render_running_config(second.config) == rendered


def test_session_edits_show_up_in_the_running_config() -> None:
    s = ConfigSession(parse_config(RUNNING_CONFIG).config)
    for line in ("interface Tunnel0", "no ip nhrp shortcut", "ip nhrp redirect", "end"):
        assert s.apply(line) == []
    text = render_running_config(s.config)
    assert " ip nhrp redirect" in text and " ip nhrp shortcut" not in text
    assert "snmp-server location lab rack 4" in text and "  priority percent 30" in text
