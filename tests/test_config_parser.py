"""IOS config text -> RouterConfig: a DMVPN guide's hub and spoke configs, whole running-config dumps, errors."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from dmvpnlab.config.errors import ConfigSyntaxError
from dmvpnlab.config.model import NhrpMap, NhrpNhs, StaticRoute
from dmvpnlab.config.parser import load_config, parse_config

# The DMVPN guide the project was specified from (kept outside the repository); its hub and
# spoke configs are real-world input, so the tests that read them skip where it is absent.
SEED = Path("/work/shared/seed/000_8371c0296f2a881a.txt")
_PROMPT = re.compile(r"^\w+\([a-z-]+\)#\s*")


def _seed_section(start: str, stop: str) -> str:
    """The guide's config lines between two headings, prompts and `! comments` stripped."""
    lines = SEED.read_text().splitlines()
    body = lines[lines.index(start) + 1 : lines.index(stop)]
    out = []
    for line in body:
        line = _PROMPT.sub("", line)
        line = re.sub(r"\s+!.*$", "", line)
        out.append(line)
    return "\n".join(out)


@pytest.fixture
def seed_hub() -> str:
    if not SEED.exists():
        pytest.skip("seed document not available")
    return _seed_section("9.1 Hub Router Configuration", "9.2 Spoke Router Configuration")


@pytest.fixture
def seed_spoke_tunnel() -> str:
    """The guide's spoke section as printed: its Step 3 only (the tunnel)."""
    if not SEED.exists():
        pytest.skip("seed document not available")
    return _seed_section("9.2 Spoke Router Configuration", "10. DMVPN Scalability Benefits")


@pytest.fixture
def seed_spoke(seed_hub: str, seed_spoke_tunnel: str) -> str:
    """The spoke as the guide means it: "Steps 1-2: Same ISAKMP and IPsec profile as hub",
    then its own Step 3."""
    crypto = seed_hub.split("! Step 3", 1)[0]
    return crypto + "\n" + seed_spoke_tunnel


def test_seed_hub_config_parses_into_the_phase3_hub_model(seed_hub: str) -> None:
    result = parse_config(seed_hub)
    assert result.errors == [] and result.ignored == []
    cfg = result.config
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.address == IPv4Interface("10.0.0.1/24")
    assert tun.tunnel_source == "GigabitEthernet0/0"
    assert tun.tunnel_mode == "gre multipoint"
    assert tun.tunnel_key == 12345
    assert tun.tunnel_protection is not None and tun.tunnel_protection.profile == "DMVPN_PROFILE"
    assert tun.nhrp.network_id == 1
    assert tun.nhrp.multicast_maps == ["dynamic"]
    assert tun.nhrp.redirect and not tun.nhrp.shortcut
    assert tun.routing_lines == ["ip ospf network point-to-multipoint"]
    pol = cfg.isakmp_policy(10)
    assert pol is not None
    assert (pol.encryption, pol.hash, pol.authentication, pol.group) == ("aes 256", "sha256", "pre-share", 14)
    assert cfg.isakmp_keys[0].key == "DMVPN_KEY"
    assert cfg.isakmp_keys[0].peer == IPv4Network("0.0.0.0/0")
    ts = cfg.transform_set("DMVPN_TS")
    assert ts is not None and ts.transforms == ["esp-aes 256", "esp-sha256-hmac"] and ts.mode == "transport"
    prof = cfg.ipsec_profile("DMVPN_PROFILE")
    assert prof is not None and prof.transform_sets == ["DMVPN_TS"]


def test_seed_spoke_config_parses_with_nhs_and_static_hub_mapping(seed_spoke: str) -> None:
    result = parse_config(seed_spoke)
    assert result.errors == [] and result.ignored == []
    assert result.config.interface("Tunnel0").tunnel_protection.profile == "DMVPN_PROFILE"
    assert result.config.ipsec_profile("DMVPN_PROFILE") is not None
    tun = result.config.interface("Tunnel0")
    assert tun is not None
    assert tun.address == IPv4Interface("10.0.0.2/24")
    assert tun.nhrp.nhs == [NhrpNhs(IPv4Address("10.0.0.1"))]
    assert tun.nhrp.maps == [NhrpMap(IPv4Address("10.0.0.1"), IPv4Address("203.0.113.1"))]
    assert tun.nhrp.multicast_maps == [IPv4Address("203.0.113.1")]
    assert tun.nhrp.shortcut and not tun.nhrp.redirect


def test_pasted_prompts_and_trailing_comments_are_tolerated() -> None:
    text = (
        "Spoke(config)# interface Tunnel0\n"
        "Spoke(config-if)# ip address 10.0.0.2 255.255.255.0 ! Spoke tunnel IP\n"
        "Spoke(config-if)# tunnel key 7   ! key\n"
    )
    cfg = load_config(text)
    tun = cfg.interface("Tunnel0")
    assert tun is not None and tun.address == IPv4Interface("10.0.0.2/24") and tun.tunnel_key == 7


RUNNING_CONFIG = """\
Building configuration...

Current configuration : 3301 bytes
!
! Last configuration change at 10:12:01 UTC Mon Mar 4 2024 by admin
!
version 15.6
service timestamps debug datetime msec
service timestamps log datetime msec
no service password-encryption
!
hostname Spoke1
!
boot-start-marker
boot-end-marker
!
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
!
no aaa new-model
ethernet lmi ce
!
no ip domain lookup
ip domain name lab.example
ip cef
no ipv6 cef
!
multilink bundle-name authenticated
!
username admin privilege 15 secret 5 $1$QmC4$5Hw3c9yEJr7Pj1d0nF3sV/
!
redundancy
!
class-map match-any VOICE
 match dscp ef
!
policy-map WAN-OUT
 class VOICE
  priority percent 30
 class class-default
  fair-queue
!
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group 14
 lifetime 3600
crypto isakmp key DMVPN_KEY address 0.0.0.0
crypto isakmp keepalive 10 3 periodic
!
crypto ipsec transform-set DMVPN_TS esp-aes 256 esp-sha256-hmac
 mode transport
!
crypto ipsec profile DMVPN_PROFILE
 set security-association lifetime seconds 1800
 set transform-set DMVPN_TS
 set pfs group14
!
interface Loopback0
 ip address 1.1.1.1 255.255.255.255
!
interface Tunnel0
 description DMVPN cloud
 bandwidth 1000
 ip address 10.0.0.2 255.255.255.0
 no ip redirects
 ip mtu 1400
 ip nhrp authentication DMVPN
 ip nhrp map 10.0.0.1 203.0.113.1
 ip nhrp map multicast 203.0.113.1
 ip nhrp network-id 1
 ip nhrp holdtime 300
 ip nhrp nhs 10.0.0.1 priority 1
 ip nhrp registration no-unique
 ip nhrp registration timeout 60
 ip nhrp shortcut
 ip tcp adjust-mss 1360
 ip ospf network point-to-multipoint
 ip ospf hello-interval 10
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
 tunnel key 12345
 tunnel protection ipsec profile DMVPN_PROFILE
!
interface GigabitEthernet0/0
 description WAN to ISP
 ip address 100.64.1.1 255.255.255.252
 duplex auto
 speed auto
 media-type rj45
 service-policy output WAN-OUT
!
interface GigabitEthernet0/1
 ip address 192.168.1.1 255.255.255.0
 ip ospf 1 area 0
 duplex auto
 speed auto
!
interface GigabitEthernet0/2
 no ip address
 shutdown
 duplex auto
 speed auto
!
interface Vlan1
 no ip address
 shutdown
!
router ospf 1
 router-id 1.1.1.1
 passive-interface GigabitEthernet0/1
 network 10.0.0.0 0.0.0.255 area 0
!
router bgp 65001
 bgp log-neighbor-changes
 neighbor 10.0.0.1 remote-as 65001
 !
 address-family ipv4
  network 192.168.1.0
  neighbor 10.0.0.1 activate
 exit-address-family
!
ip forward-protocol nd
!
no ip http server
no ip http secure-server
ip route 0.0.0.0 0.0.0.0 100.64.1.2
ip route 192.168.0.0 255.255.0.0 10.0.0.1 name HUB-SUMMARY
ip route 10.99.0.0 255.255.0.0 Null0 250
ip ssh version 2
!
access-list 10 permit 192.168.0.0 0.0.255.255
!
snmp-server community public RO
snmp-server location lab rack 4
ntp server 192.0.2.123
!
control-plane
!
banner exec ^C
**************************************************************
* IOSv - Cisco Systems Confidential                          *
**************************************************************^C
banner motd ^C
  Authorised access only!
  Spoke1 - DMVPN lab
^C
!
line con 0
 exec-timeout 0 0
 logging synchronous
line aux 0
line vty 0 4
 login local
 transport input ssh
!
no scheduler allocate
!
end
"""


def test_whole_running_config_dump_loads_with_unmodelled_lines_listed_as_ignored() -> None:
    result = parse_config(RUNNING_CONFIG)
    assert result.errors == []
    ignored = [i.text.strip() for i in result.ignored]
    for expected in ("service timestamps debug datetime msec", "policy-map WAN-OUT",
                     "priority percent 30", "line vty 0 4", "transport input ssh",
                     "snmp-server community public RO", "ntp server 192.0.2.123",
                     "no ip redirects", "duplex auto", "service-policy output WAN-OUT"):
        assert expected in ignored, expected
    # modelled lines are not reported as ignored
    for modelled in ("ip nhrp shortcut", "tunnel key 12345", "hostname Spoke1", "router ospf 1", "interface Vlan1",
                     "banner motd ^C", "Authorised access only!",
                     "network 10.0.0.0 0.0.0.255 area 0", "ip ospf network point-to-multipoint"):
        assert modelled not in ignored, modelled
    cfg = result.config
    assert cfg.hostname == "Spoke1" and cfg.version == "15.6"
    assert cfg.enable_secret == "5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0"
    assert [u.name for u in cfg.usernames] == ["admin"]
    assert [i.name for i in cfg.interfaces] == [
        "Loopback0", "Tunnel0", "GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/2", "Vlan1"]
    assert cfg.interface("Vlan1").shutdown and cfg.interface("Vlan1").address is None
    assert cfg.banner_motd == "  Authorised access only!\n  Spoke1 - DMVPN lab"
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.nhrp.nhs == [NhrpNhs(IPv4Address("10.0.0.1"), priority=1)]
    assert tun.nhrp.registration_no_unique and tun.nhrp.registration_timeout == 60
    assert tun.nhrp.holdtime == 300 and tun.nhrp.authentication == "DMVPN"
    assert tun.ip_mtu == 1400 and tun.tcp_adjust_mss == 1360 and tun.bandwidth == 1000
    assert tun.extra_lines == ["no ip redirects"]
    assert tun.routing_lines == ["ip ospf network point-to-multipoint", "ip ospf hello-interval 10"]
    gi2 = cfg.interface("GigabitEthernet0/2")
    assert gi2 is not None and gi2.shutdown and gi2.address is None
    lan = cfg.interface("GigabitEthernet0/1")
    assert lan is not None and lan.routing_lines == ["ip ospf 1 area 0"]
    assert [s.header for s in cfg.router_sections] == ["router ospf 1", "router bgp 65001"]
    bgp = cfg.router_sections[1]
    assert " network 192.168.1.0" in bgp.lines and "exit-address-family" in bgp.lines
    assert cfg.static_routes == [
        StaticRoute(IPv4Network("0.0.0.0/0"), next_hop=IPv4Address("100.64.1.2")),
        StaticRoute(IPv4Network("192.168.0.0/16"), next_hop=IPv4Address("10.0.0.1"), name="HUB-SUMMARY"),
        StaticRoute(IPv4Network("10.99.0.0/16"), interface="Null0", distance=250),
    ]
    prof = cfg.ipsec_profile("DMVPN_PROFILE")
    assert prof is not None and prof.pfs == "group14" and prof.lifetime_seconds == 1800
    assert cfg.isakmp_keepalive is not None and cfg.isakmp_keepalive.retry == 3
    # a banner is kept whole, delimiters and all
    motd = next(b for b in cfg.extra_tail if b.lines[0].startswith("banner motd"))
    assert motd.lines == ["banner motd ^C", "  Authorised access only!", "  Spoke1 - DMVPN lab", "^C"]
    # unknown lines keep their place relative to the modelled sections
    assert cfg.extra_head[0].lines == ["service timestamps debug datetime msec"]
    assert ["line vty 0 4", " login local", " transport input ssh"] in [b.lines for b in cfg.extra_tail]


def test_ignored_warning_names_the_line_number() -> None:
    result = parse_config("hostname R1\nntp server 192.0.2.1\n")
    assert [(i.line_no, i.text) for i in result.ignored] == [(2, "ntp server 192.0.2.1")]
    assert "line 2" in str(result.ignored[0])


@pytest.mark.parametrize(
    ("line", "caret_under", "message"),
    [
        (" ip address 10.0.0.300 255.255.255.0", "10.0.0.300", "% Invalid input detected at '^' marker."),
        (" ip address 10.0.0.1 255.0.255.0", "255.0.255.0", "% Invalid input detected at '^' marker."),
        (" tunnel key abc", "abc", "% Invalid input detected at '^' marker."),
        (" tunnel source Serial7", "Serial7", "% Invalid input detected at '^' marker."),
        (" ip nhrp holdtime 0", "0", "% Invalid input detected at '^' marker."),
        (" ip nhrp nhs 10.0.0.1 nbma 203.0.113.x", "203.0.113.x", "% Invalid input detected at '^' marker."),
        (" ip nhrp map 10.0.0.1 bogus", "bogus", "% Invalid input detected at '^' marker."),
        (" ip mtu 20", "20", "% Invalid input detected at '^' marker."),
        (" ip nhrp shortcut now", "now", "% Invalid input detected at '^' marker."),
    ],
)
def test_malformed_interface_line_is_an_ios_error_with_caret(line: str, caret_under: str, message: str) -> None:
    result = parse_config(f"hostname R1\ninterface Tunnel0\n{line}\n")
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err.line_no == 3 and err.text == line and err.message == message
    assert err.column == line.index(caret_under)
    rendered = str(err).splitlines()
    assert rendered[0].endswith(line)
    assert rendered[1].index("^") == rendered[0].index(line) + line.index(caret_under)
    assert rendered[2] == message


@pytest.mark.parametrize(
    "line",
    ["ip route 1.2.3.0 255.255.0.0", " ip nhrp holdtime", " tunnel key", " ip nhrp network-id"],
)
def test_truncated_modelled_line_is_incomplete_command(line: str) -> None:
    result = parse_config(f"interface Tunnel0\n{line}\n")
    assert [e.message for e in result.errors] == ["% Incomplete command."]
    assert result.errors[0].line_no == 2


def test_route_with_host_bits_is_inconsistent_address_and_mask() -> None:
    result = parse_config("ip route 192.168.1.1 255.255.255.0 10.0.0.1\n")
    assert [e.message for e in result.errors] == ["%Inconsistent address and mask"]


def test_load_config_refuses_with_every_malformed_line_listed() -> None:
    text = "interface Tunnel0\n ip address 10.0.0.300 255.255.255.0\n tunnel key abc\nntp server 1.2.3.4\n"
    with pytest.raises(ConfigSyntaxError) as info:
        load_config(text, source="spoke1/startup-config")
    exc = info.value
    assert [e.line_no for e in exc.errors] == [2, 3]
    message = str(exc)
    assert "spoke1/startup-config: 2 malformed lines" in message
    assert "line 2:  ip address 10.0.0.300 255.255.255.0" in message
    assert "line 3:  tunnel key abc" in message
    assert "% Invalid input detected at '^' marker." in message


def test_unknown_nhrp_and_tunnel_options_are_ignored_not_errors() -> None:
    text = "interface Tunnel0\n ip nhrp nhs 2001:DB8::1\n tunnel mode ipsec ipv4\n ip nhrp map group X service-policy output Y\n"
    result = parse_config(text)
    assert result.errors == []
    assert len(result.ignored) == 3
    tun = result.config.interface("Tunnel0")
    assert tun is not None and tun.tunnel_mode is None and len(tun.extra_lines) == 3


def test_flat_input_keeps_unknown_interface_lines_in_the_interface_but_global_ones_leave() -> None:
    text = "interface Tunnel0\nip pim sparse-mode\nip nhrp shortcut\nntp server 1.2.3.4\nip nhrp redirect\n"
    result = parse_config(text)
    tun = result.config.interface("Tunnel0")
    assert tun is not None
    assert tun.extra_lines == ["ip pim sparse-mode"] and tun.nhrp.shortcut
    # `ntp` is global-only: it left the interface, so `ip nhrp redirect` is a global line we do not model
    assert not tun.nhrp.redirect
    assert [b.lines for b in result.config.extra_tail] == [["ntp server 1.2.3.4"], ["ip nhrp redirect"]]


def test_abbreviations_and_interface_name_forms_are_canonicalised() -> None:
    cfg = load_config("int gi0/1\n ip add 192.168.1.1 255.255.255.0\n no shut\ninterface Tunnel 0\n tunnel source Gi0/0\n")
    # the model keeps interfaces in IOS running-config order (Tunnels before Ethernets)
    assert [i.name for i in cfg.interfaces] == ["Tunnel0", "GigabitEthernet0/1"]
    tun = cfg.interface("Tunnel0")
    assert tun is not None and tun.tunnel_source == "GigabitEthernet0/0"


def test_nhs_forms_with_nbma_cluster_and_dynamic() -> None:
    cfg = load_config(
        "interface Tunnel0\n"
        " ip nhrp nhs 10.0.0.1 nbma 203.0.113.1 multicast priority 2 cluster 1\n"
        " ip nhrp nhs dynamic nbma 198.51.100.1 multicast\n"
    )
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.nhrp.nhs == [
        NhrpNhs(IPv4Address("10.0.0.1"), IPv4Address("203.0.113.1"), True, 2, 1),
        NhrpNhs(None, IPv4Address("198.51.100.1"), True),
    ]


def test_phase1_point_to_point_spoke_tunnel() -> None:
    cfg = load_config("interface Tunnel0\n tunnel mode gre ip\n tunnel destination 203.0.113.1\n tunnel source 100.64.1.1\n")
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.tunnel_mode == "gre ip" and tun.tunnel_destination == IPv4Address("203.0.113.1")
    assert tun.tunnel_source == IPv4Address("100.64.1.1")


def test_eigrp_interface_lines_are_kept_for_frr() -> None:
    cfg = load_config("interface Tunnel0\n no ip next-hop-self eigrp 1\n no ip split-horizon eigrp 1\n")
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.routing_lines == ["no ip next-hop-self eigrp 1", "no ip split-horizon eigrp 1"]


def test_static_route_options() -> None:
    cfg = load_config("ip route 192.168.2.0 255.255.255.0 Tunnel0 10.0.0.3 200 tag 7 permanent name S2 track 3\n")
    assert cfg.static_routes == [StaticRoute(IPv4Network("192.168.2.0/24"), IPv4Address("10.0.0.3"),
                                             "Tunnel0", 200, 7, True, "S2", 3)]


def test_removing_a_physical_interface_is_refused() -> None:
    result = parse_config("no interface GigabitEthernet0/0\n")
    assert [e.message for e in result.errors] == ["% Removal of physical interfaces is not permitted"]


def test_banner_without_closing_delimiter_is_an_error_naming_its_first_line() -> None:
    result = parse_config("hostname R1\nbanner motd #\nWelcome\ninterface Tunnel0\n tunnel key 5\n")
    assert [(e.line_no, e.text) for e in result.errors] == [(2, "banner motd #")]
    assert "no closing delimiter '#'" in result.errors[0].message


def test_one_line_banner_and_a_control_c_delimiter() -> None:
    cfg = load_config("banner login #Authorised only#\nbanner motd \x03\nhi\n\x03\nhostname R2\n")
    assert cfg.hostname == "R2"
    assert [b.lines for b in cfg.extra_head] == [["banner login #Authorised only#"], ["banner motd \x03", "hi", "\x03"]]


def test_seed_spoke_tunnel_alone_names_a_profile_it_never_defines(seed_spoke_tunnel: str) -> None:
    """Without the hub's Steps 1-2 the spoke's `tunnel protection` names nothing: IOS refuses it."""
    result = parse_config(seed_spoke_tunnel)
    assert [(e.text.strip(), e.message) for e in result.errors] == [
        ("tunnel protection ipsec profile DMVPN_PROFILE", "% IPsec profile DMVPN_PROFILE not found")]
