"""A whole IOS router config: interfaces of every kind, NAT, DHCP, the global lines, and a
realistic IOSv hub that reads with nothing refused and round-trips through show running-config."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from types import SimpleNamespace

import pytest

from dmvpnlab.cli.show_interfaces import render_brief
from dmvpnlab.config.model import DhcpPool, Interface, NatRule, RouterConfig, Username, brief_sort_key, interface_sort_key
from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config

HUB = Path(__file__).parent / "ios_configs" / "iosv-hub-whole.txt"
INVALID = "% Invalid input detected at '^' marker."


def read(text: str) -> RouterConfig:
    result = parse_config(text)
    assert result.errors == [], [str(e) for e in result.errors]
    return result.config


def roundtrip(cfg: RouterConfig) -> str:
    text = render_running_config(cfg)
    again = parse_config(text)
    assert again.errors == [] and again.config == cfg
    assert render_running_config(again.config) == text
    return text


def typed(*lines: str) -> tuple[ConfigSession, list[str]]:
    """A console session after `lines`; the messages of the last line."""
    session = ConfigSession(strict_families=True)
    for line in lines[:-1]:
        assert session.apply(line) == [], line
    return session, [e.message for e in session.apply(lines[-1])]


# -- interfaces of every kind --------------------------------------------------------------


@pytest.mark.parametrize("header, name", [
    ("interface FastEthernet0/0", "FastEthernet0/0"), ("interface Fa0/1", "FastEthernet0/1"),
    ("interface Ethernet0/0", "Ethernet0/0"), ("interface Et1/3", "Ethernet1/3"),
    ("interface GigabitEthernet1", "GigabitEthernet1"), ("interface GigabitEthernet0/0/1", "GigabitEthernet0/0/1"),
    ("interface Gi0/1.10", "GigabitEthernet0/1.10"), ("interface GigabitEthernet 0/2", "GigabitEthernet0/2"),
    ("interface Loopback1", "Loopback1"), ("interface Vlan1", "Vlan1"), ("interface Tunnel7", "Tunnel7"),
])
def test_every_interface_kind_is_a_section(header: str, name: str) -> None:
    cfg = read(f"{header}\n description x\n ip address 10.1.1.1 255.255.255.0\n shutdown\n bandwidth 100\n"
               f" delay 10\n ip mtu 1400\n")
    itf = cfg.interface(name)
    assert itf is not None and (itf.description, itf.shutdown, itf.bandwidth, itf.delay, itf.ip_mtu) == (
        "x", True, 100, 10, 1400)
    assert itf.address == IPv4Interface("10.1.1.1/24")
    roundtrip(cfg)


def test_null0_and_unknown_kinds_stay_verbatim() -> None:
    result = parse_config("interface Null0\n no ip unreachables\ninterface Serial0/0/0\n no ip address\n")
    assert result.errors == [] and result.config.interfaces == []


def test_a_subinterface_can_be_removed_a_physical_interface_cannot() -> None:
    session, messages = typed("interface Gi0/1.10", "exit", "no interface GigabitEthernet0/1.10")
    assert messages == [] and session.config.interfaces == []
    _, messages = typed("interface Fa0/0", "exit", "no interface FastEthernet0/0")
    assert messages == ["% Removal of physical interfaces is not permitted"]


def test_encapsulation_dot1q_on_a_subinterface_and_native() -> None:
    cfg = read("interface GigabitEthernet0/1.10\n encapsulation dot1Q 10\ninterface GigabitEthernet0/1.99\n"
               " encapsulation dot1q 99 native\n")
    assert (cfg.interface("GigabitEthernet0/1.10").dot1q_vlan, cfg.interface("GigabitEthernet0/1.10").dot1q_native) \
        == (10, False)
    assert (cfg.interface("GigabitEthernet0/1.99").dot1q_vlan, cfg.interface("GigabitEthernet0/1.99").dot1q_native) \
        == (99, True)
    text = roundtrip(cfg)
    assert "interface GigabitEthernet0/1.10\n encapsulation dot1Q 10\n" in text
    assert " encapsulation dot1Q 99 native\n" in text
    session, _ = typed("interface Gi0/1.10", "encapsulation dot1Q 10")
    session.apply("no encapsulation dot1Q")
    assert session.config.interface("GigabitEthernet0/1.10").dot1q_vlan is None


@pytest.mark.parametrize("lines, message", [
    (("interface GigabitEthernet0/1", "encapsulation dot1Q 10"), INVALID),
    (("interface Gi0/1.5", "encapsulation dot1Q 4095"), INVALID),
    (("interface Gi0/1.5", "encapsulation dot1Q"), "% Incomplete command."),
    (("interface Gi0/1.5", "encapsulation dot1Q 5 bogus"), INVALID),
])
def test_bad_encapsulation_lines_are_refused(lines, message) -> None:
    assert typed(*lines)[1] == [message]


def test_encapsulation_on_a_main_interface_puts_the_caret_under_the_command() -> None:
    session = ConfigSession()
    session.apply("interface GigabitEthernet0/1")
    [error] = session.apply(" encapsulation dot1Q 10")
    assert error.column == 1


def test_mtu_dhcp_nat_and_access_groups() -> None:
    cfg = read("interface GigabitEthernet0/0\n mtu 1400\n ip address dhcp\n ip nat outside\n"
               " ip access-group WAN-IN in\n ip access-group 101 out\n")
    itf = cfg.interface("GigabitEthernet0/0")
    assert (itf.mtu, itf.dhcp, itf.address, itf.nat, itf.access_group_in, itf.access_group_out) == (
        1400, True, None, "outside", "WAN-IN", "101")
    text = roundtrip(cfg)
    assert ("interface GigabitEthernet0/0\n mtu 1400\n ip address dhcp\n ip access-group WAN-IN in\n"
            " ip access-group 101 out\n ip nat outside\n") in text


def test_no_forms_of_the_interface_lines() -> None:
    session = ConfigSession()
    session.apply_text("interface GigabitEthernet0/0\n mtu 1400\n ip address dhcp\n ip nat inside\n"
                       " ip access-group A in\n ip access-group B out\n no mtu\n no ip nat inside\n"
                       " no ip access-group A in\n no ip access-group out\n no ip address\n")
    itf = session.config.interface("GigabitEthernet0/0")
    assert (itf.mtu, itf.dhcp, itf.nat, itf.access_group_in, itf.access_group_out) == (None, False, None, None, None)


def test_a_static_address_replaces_dhcp_and_dhcp_replaces_it() -> None:
    session = ConfigSession()
    session.apply_text("interface Gi0/0\nip address dhcp\nip address 10.0.0.1 255.255.255.0\n")
    itf = session.config.interface("GigabitEthernet0/0")
    assert (itf.dhcp, itf.address) == (False, IPv4Interface("10.0.0.1/24"))
    session.apply("ip address dhcp")
    assert (itf.dhcp, itf.address) == (True, None)


def test_ip_address_dhcp_options_are_kept_verbatim() -> None:
    result = parse_config("interface Gi0/0\n ip address dhcp client-id GigabitEthernet0/0\n")
    itf = result.config.interface("GigabitEthernet0/0")
    assert not itf.dhcp and itf.extra_lines == ["ip address dhcp client-id GigabitEthernet0/0"]


@pytest.mark.parametrize("lines, message", [
    (("interface Gi0/0", "mtu 63"), INVALID), (("interface Gi0/0", "mtu 9217"), INVALID),
    (("interface Gi0/0", "ip nat"), "% Incomplete command."),
    (("interface Gi0/0", "ip access-group A sideways"), INVALID),
    (("interface Gi0/0", "ip access-group"), "% Incomplete command."),
])
def test_bad_interface_lines_are_refused(lines, message) -> None:
    assert typed(*lines)[1] == [message]


def test_a_global_nat_line_typed_under_an_interface_leaves_it() -> None:
    cfg = read("interface Gi0/1\nip nat inside\nip nat inside source list 1 interface Gi0/0 overload\n")
    assert cfg.interface("GigabitEthernet0/1").nat == "inside"
    assert cfg.nat_rules == [NatRule("list", access_list="1", interface="GigabitEthernet0/0", overload=True)]


def test_running_config_order_of_interface_kinds() -> None:
    names = ["Vlan1", "GigabitEthernet0/2", "GigabitEthernet0/1.10", "Tunnel1", "GigabitEthernet0/1",
             "FastEthernet0/0", "Ethernet0/0", "Loopback1", "Loopback0", "Tunnel0"]
    assert sorted(names, key=interface_sort_key) == [
        "Loopback0", "Loopback1", "Tunnel0", "Tunnel1", "Ethernet0/0", "FastEthernet0/0", "GigabitEthernet0/1",
        "GigabitEthernet0/1.10", "GigabitEthernet0/2", "Vlan1"]
    assert sorted(names, key=brief_sort_key) == [
        "Ethernet0/0", "FastEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/1.10", "GigabitEthernet0/2",
        "Vlan1", "Loopback0", "Loopback1", "Tunnel0", "Tunnel1"]


def test_show_ip_interface_brief_lists_every_kind_in_ios_order() -> None:
    from ntc_templates.parse import parse_output

    cfg = read("interface Loopback0\n ip address 10.255.0.1 255.255.255.255\ninterface Tunnel0\n"
               " ip address 172.16.0.1 255.255.255.0\ninterface Vlan1\n no ip address\n shutdown\n"
               "interface GigabitEthernet0/1.10\n encapsulation dot1Q 10\n ip address 10.10.0.1 255.255.255.0\n"
               "interface GigabitEthernet0/1\n no ip address\ninterface GigabitEthernet0/0\n ip address dhcp\n")
    agent = SimpleNamespace(config=cfg, node="Hub", tunnel=None,
                            kernel=SimpleNamespace(link_stats=lambda name: {"up": 1}))
    rows = parse_output(platform="cisco_ios", command="show ip interface brief", data=render_brief(agent))
    assert [(r["interface"], r["ip_address"]) for r in rows] == [
        ("GigabitEthernet0/0", "unassigned"), ("GigabitEthernet0/1", "unassigned"),
        ("GigabitEthernet0/1.10", "10.10.0.1"), ("Vlan1", "unassigned"), ("Loopback0", "10.255.0.1"),
        ("Tunnel0", "172.16.0.1")]
    assert rows[3]["status"] == "administratively down"
    assert render_brief(agent).splitlines()[1].split()[3] == "DHCP"  # the Method column


# -- global lines --------------------------------------------------------------------------


def test_ip_routing_default_gateway_and_domain_name() -> None:
    cfg = read("no ip routing\nip default-gateway 192.0.2.1\nip domain-name lab.example\n")
    assert (cfg.ip_routing, cfg.default_gateway, cfg.domain_name) == (False, IPv4Address("192.0.2.1"), "lab.example")
    text = roundtrip(cfg)
    assert "no ip routing\n" in text and "ip domain name lab.example\n" in text
    assert "ip default-gateway 192.0.2.1\n" in text
    assert read("ip domain name x.example\n").domain_name == "x.example"
    assert "ip routing" not in render_running_config(read("ip routing\n"))
    session = ConfigSession(cfg)
    session.apply_text("ip routing\nno ip default-gateway\nno ip domain name\n")
    assert (cfg.ip_routing, cfg.default_gateway, cfg.domain_name) == (True, None, None)


def test_no_ip_domain_lookup_stays_a_kept_line() -> None:
    result = parse_config("no ip domain lookup\nno ip domain-lookup\n")
    assert result.errors == [] and result.config.domain_name is None and len(result.ignored) == 2


def test_enable_secret_and_password() -> None:
    cfg = read("enable secret 5 $1$abc$def\nenable password 7 0822455D0A16\n")
    assert (cfg.enable_secret, cfg.enable_password) == ("5 $1$abc$def", "7 0822455D0A16")
    assert "enable secret 5 $1$abc$def\nenable password 7 0822455D0A16\n!" in roundtrip(cfg)
    assert typed("enable secret")[1] == ["% Incomplete command."]


@pytest.mark.parametrize("line, privilege, kind, encryption, secret", [
    ("username admin privilege 15 secret 9 $9$abc", 15, "secret", 9, "$9$abc"),
    ("username admin privilege 15 secret cisco", 15, "secret", None, "cisco"),
    ("username bob password 0 Bob pw", None, "password", 0, "Bob pw"),
    ("username ro privilege 1 password 7 0822455D0A16", 1, "password", 7, "0822455D0A16"),
    ("username nopw privilege 5 nopassword", 5, None, None, None),
])
def test_username_lines_give_what_the_ssh_login_needs(line, privilege, kind, encryption, secret) -> None:
    [user] = read(line + "\n").usernames
    assert (user.privilege, user.secret_kind, user.encryption, user.secret) == (privilege, kind, encryption, secret)
    roundtrip(read(line + "\n"))


def test_a_username_with_a_bad_privilege_is_refused() -> None:
    assert typed("username x privilege 16 secret y")[1] == [INVALID]


def test_banner_motd_text_and_its_block_as_written() -> None:
    cfg = read("banner motd #\nWelcome\n  to the lab\n#\n")
    assert cfg.banner_motd == "Welcome\n  to the lab"
    assert "banner motd #\nWelcome\n  to the lab\n#\n" in roundtrip(cfg)
    assert read("banner motd ^CKeep out^C\n").banner_motd == "Keep out"


def test_a_second_banner_motd_replaces_the_first_and_no_removes_it() -> None:
    session = ConfigSession()
    session.apply_text("banner motd ^C one ^C\nbanner motd ^C two ^C\n")
    assert session.config.banner_motd == " two "
    assert sum("banner motd" in line for line in render_running_config(session.config).splitlines()) == 1
    session.apply("no banner motd")
    assert session.config.banner_motd is None and "banner motd" not in render_running_config(session.config)


def test_a_motd_set_in_code_renders_and_other_banners_stay_ignored() -> None:
    text = render_running_config(RouterConfig(banner_motd="Hi"))
    assert "banner motd ^C\nHi\n^C\n" in text and parse_config(text).config.banner_motd == "Hi"
    result = parse_config("banner login ^C\nlogin banner\n^C\n")
    assert result.config.banner_motd is None and len(result.ignored) == 3


# -- NAT and DHCP ----------------------------------------------------------------------------


def test_nat_rules_and_their_place_before_the_routes() -> None:
    cfg = read("ip route 0.0.0.0 0.0.0.0 203.0.113.2\nip nat inside source list NAT interface Gi0/0 overload\n"
               "ip nat inside source static 192.168.1.5 203.0.113.9\n")
    assert cfg.nat_rules == [NatRule("list", access_list="NAT", interface="GigabitEthernet0/0", overload=True),
                             NatRule("static", local=IPv4Address("192.168.1.5"), global_address=IPv4Address("203.0.113.9"))]
    text = roundtrip(cfg)
    assert ("ip nat inside source list NAT interface GigabitEthernet0/0 overload\n"
            "ip nat inside source static 192.168.1.5 203.0.113.9\nip route 0.0.0.0 0.0.0.0 203.0.113.2\n") in text
    session = ConfigSession(cfg)
    session.apply("no ip nat inside source static 192.168.1.5 203.0.113.9")
    assert len(cfg.nat_rules) == 1


def test_other_nat_forms_are_kept_verbatim() -> None:
    result = parse_config("ip nat pool P 203.0.113.10 203.0.113.20 netmask 255.255.255.0\n"
                          "ip nat inside source list 1 pool P overload\n"
                          "ip nat inside source static tcp 192.168.1.5 80 203.0.113.9 80\n")
    assert result.errors == [] and result.config.nat_rules == [] and len(result.ignored) == 3


def test_dhcp_pool_and_excluded_addresses() -> None:
    cfg = read("ip dhcp excluded-address 192.168.1.1 192.168.1.9\nip dhcp excluded-address 192.168.1.254\n"
               "ip dhcp pool LAN\n network 192.168.1.0 /24\n default-router 192.168.1.1\n"
               " dns-server 9.9.9.9 1.1.1.1\n lease 7\n option 150 ip 192.168.1.2\n")
    assert cfg.dhcp_excluded == [(IPv4Address("192.168.1.1"), IPv4Address("192.168.1.9")),
                                 (IPv4Address("192.168.1.254"), IPv4Address("192.168.1.254"))]
    assert cfg.dhcp_pools == [DhcpPool("LAN", IPv4Network("192.168.1.0/24"), [IPv4Address("192.168.1.1")],
                                       [IPv4Address("9.9.9.9"), IPv4Address("1.1.1.1")], 7 * 86400,
                                       ["option 150 ip 192.168.1.2"])]
    text = roundtrip(cfg)
    assert ("ip dhcp excluded-address 192.168.1.1 192.168.1.9\nip dhcp excluded-address 192.168.1.254\n!\n"
            "ip dhcp pool LAN\n network 192.168.1.0 255.255.255.0\n default-router 192.168.1.1 \n"
            " dns-server 9.9.9.9 1.1.1.1 \n lease 7\n option 150 ip 192.168.1.2\n!\n") in text


@pytest.mark.parametrize("typed_lease, seconds, printed", [
    ("lease 0 8", 8 * 3600, " lease 0 8"), ("lease 0 0 30", 1800, " lease 0 0 30"),
    ("lease 2 3 4", ((2 * 24 + 3) * 60 + 4) * 60, " lease 2 3 4"), ("lease 1", None, None),
])
def test_dhcp_leases(typed_lease: str, seconds, printed) -> None:
    cfg = read(f"ip dhcp pool P\n {typed_lease}\n")
    assert cfg.dhcp_pools[0].lease_seconds == seconds
    text = roundtrip(cfg)
    assert (printed in text.splitlines()) if printed else " lease" not in text


@pytest.mark.parametrize("lines, message", [
    (("ip dhcp excluded-address 10.0.0.9 10.0.0.1",), INVALID),
    (("ip dhcp pool P", "network 10.0.0.0"), "% Incomplete command."),
    (("ip dhcp pool P", "default-router 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 "
                        "10.0.0.8 10.0.0.9"), INVALID),
    (("ip dhcp pool P", "lease 0"), INVALID),
])
def test_bad_dhcp_lines_are_refused(lines, message) -> None:
    assert typed(*lines)[1] == [message]


def test_dhcp_pool_prompt() -> None:
    session, _ = typed("ip dhcp pool P")
    assert session.prompt_suffix == "(dhcp-config)"


# -- ip route, full syntax ------------------------------------------------------------------


def test_static_routes_of_every_form() -> None:
    cfg = read("ip route 10.0.0.0 255.0.0.0 Null0 250 tag 100 name SUM\n"
               "ip route 198.51.100.0 255.255.255.0 FastEthernet0/0 203.0.113.2 permanent\n"
               "ip route 0.0.0.0 0.0.0.0 203.0.113.2 name ISP\nip route 10.9.0.0 255.255.0.0 Gi0/1.10\n")
    routes = cfg.static_routes
    assert (routes[0].interface, routes[0].distance, routes[0].tag, routes[0].name) == ("Null0", 250, 100, "SUM")
    assert (routes[1].interface, routes[1].next_hop, routes[1].permanent) == (
        "FastEthernet0/0", IPv4Address("203.0.113.2"), True)
    assert routes[2].name == "ISP" and routes[3].interface == "GigabitEthernet0/1.10"
    roundtrip(cfg)


# -- a whole IOSv hub ------------------------------------------------------------------------


def test_a_whole_iosv_hub_reads_with_nothing_refused_and_round_trips() -> None:
    result = parse_config(HUB.read_text(), source="iosv-hub")
    assert result.errors == []
    cfg = result.config
    roundtrip(cfg)
    ignored = {i.text.strip() for i in result.ignored}
    for modelled in ("ip nat outside", "ip nat inside", "encapsulation dot1Q 20", "ip access-group WAN-IN in",
                     "ip dhcp pool LAN10", "network 192.168.10.0 255.255.255.0", "ip domain name lab.example",
                     "access-list 1 permit 10.255.0.0 0.0.255.255", "ip access-list extended WAN-IN",
                     "permit esp any host 203.0.113.1", "banner motd ^C", "mtu 1500",
                     "ip nat inside source list NAT-LAN interface GigabitEthernet0/0 overload"):
        assert modelled not in ignored, modelled
    for kept in ("duplex auto", "banner exec ^C", "line vty 0 4", "ip cef", "domain-name lab.example"):
        assert kept in ignored, kept
    assert [i.name for i in cfg.interfaces] == [
        "Loopback0", "Loopback1", "Tunnel0", "Tunnel1", "GigabitEthernet0/0", "GigabitEthernet0/1",
        "GigabitEthernet0/2", "GigabitEthernet0/2.20", "GigabitEthernet0/2.99", "GigabitEthernet0/3"]
    assert [t.nhrp.network_id for t in cfg.tunnels] == [1, 2] and [t.tunnel_key for t in cfg.tunnels] == [1001, 1002]
    assert cfg.interface("Loopback1").secondary_addresses == [IPv4Interface("10.254.2.1/24")]
    assert cfg.interface("GigabitEthernet0/2.99").dot1q_native
    assert [a.name for a in cfg.access_lists] == ["NAT-LAN", "WAN-IN", "1", "110"]
    wan_in = cfg.access_list("WAN-IN")
    assert [e.destination_ports for e in wan_in.entries[:2]] == [(500, 500), (4500, 4500)]
    assert cfg.access_list("110").entries[2].not_applied == "non-contiguous wildcard 0.255.0.255: not applied"
    assert [r.kind for r in cfg.nat_rules] == ["list", "static"]
    assert cfg.dhcp_pools[0].lease_seconds == 12 * 3600 and cfg.dhcp_excluded[1][0] == IPv4Address("192.168.10.254")
    assert cfg.banner_motd == "*** Authorised access only: DMVPN lab hub ***"
    assert [u.privilege for u in cfg.usernames] == [15, 5] and cfg.usernames[1].secret == "Netops!23"
    assert [s.header for s in cfg.router_sections] == ["router eigrp 100"]
    assert cfg.domain_name == "lab.example" and cfg.ip_routing


def test_the_hub_running_config_keeps_ios_places() -> None:
    lines = render_running_config(parse_config(HUB.read_text()).config).splitlines()
    order = ["hostname HUB", "enable secret 9 $9$4sTLyf2bGAlCYE$Jm7VbmWwqIH3gWkZcA.kNEQUNIvOy8OVxQ7SN2yZ8HE",
             "ip dhcp excluded-address 192.168.10.1 192.168.10.20", "ip dhcp pool LAN10",
             "ip domain name lab.example", "username admin privilege 15 secret 9 "
             "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
             "crypto isakmp policy 10", "interface Loopback0", "interface Tunnel0", "interface GigabitEthernet0/0",
             "interface GigabitEthernet0/2.20", "router eigrp 100",
             "ip nat inside source list NAT-LAN interface GigabitEthernet0/0 overload",
             "ip route 0.0.0.0 0.0.0.0 203.0.113.2 name ISP", "ip access-list standard NAT-LAN",
             "ip access-list extended WAN-IN", "access-list 1 permit 10.255.0.0 0.0.255.255",
             "access-list 110 deny   tcp any 192.168.20.0 0.0.0.255 eq telnet", "banner motd ^C", "line vty 0 4", "end"]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)


def test_a_username_built_in_code_reads_its_fields_from_the_args() -> None:
    user = Username("admin", "privilege 15 secret 0 admin")
    assert (user.privilege, user.secret_kind, user.encryption, user.secret) == (15, "secret", 0, "admin")


def test_an_interface_built_in_code_with_every_new_field_round_trips() -> None:
    cfg = RouterConfig(interfaces=[
        Interface("GigabitEthernet0/1.10", description="v10", dot1q_vlan=10, mtu=1500,
                  address=IPv4Interface("10.0.10.1/24"), nat="inside", access_group_in="IN",
                  access_group_out="OUT"),
        Interface("GigabitEthernet0/0", dhcp=True, nat="outside"),
    ])
    text = roundtrip(RouterConfig(interfaces=sorted(cfg.interfaces, key=lambda i: interface_sort_key(i.name))))
    assert " ip address dhcp\n" in text


def test_a_subinterface_has_the_ios_subinterface_prompt() -> None:
    session, _ = typed("interface GigabitEthernet0/1.10")
    assert session.prompt_suffix == "(config-subif)"
    session.apply("interface GigabitEthernet0/1")
    assert session.prompt_suffix == "(config-if)"


def test_interfaces_say_their_kind_and_a_subinterface_its_parent() -> None:
    sub, main, lo = Interface("GigabitEthernet0/1.10"), Interface("GigabitEthernet0/1"), Interface("Loopback1")
    assert (sub.is_subinterface, sub.parent) == (True, "GigabitEthernet0/1")
    assert (main.is_subinterface, main.parent) == (False, "GigabitEthernet0/1")
    assert lo.is_loopback and not lo.is_tunnel and not main.is_loopback
