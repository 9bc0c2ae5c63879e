"""`configure terminal`: ConfigSession applies lines in IOS modes, with no-forms and prompts."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.config.model import RouterConfig
from dmvpnlab.config.modes import Mode
from dmvpnlab.config.parser import ConfigSession, load_config

PHASE2_SPOKE = """\
hostname spoke1
interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
 ip nhrp network-id 1
 ip nhrp nhs 10.0.0.1
 ip nhrp map 10.0.0.1 203.0.113.1
 ip nhrp map multicast 203.0.113.1
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
 tunnel key 12345
ip route 0.0.0.0 0.0.0.0 100.64.1.2
ip route 192.168.2.0 255.255.255.0 10.0.0.3
"""


def _session() -> ConfigSession:
    return ConfigSession(load_config(PHASE2_SPOKE))


def test_prompt_suffix_follows_the_mode() -> None:
    s = ConfigSession(RouterConfig())
    seen = [s.prompt_suffix]
    for line in ("interface Tunnel0", "exit", "crypto isakmp policy 10", "crypto ipsec transform-set TS esp-aes esp-sha-hmac",
                 "crypto ipsec profile P", "router eigrp 1", "end"):
        assert s.apply(line) == []
        seen.append(s.prompt_suffix)
    assert seen == ["(config)", "(config-if)", "(config)", "(config-isakmp)", "(cfg-crypto-trans)",
                    "(ipsec-profile)", "(config-router)", "(config)"]
    assert s.ended


def test_adding_shortcut_turns_a_phase2_spoke_into_phase3_live() -> None:
    s = _session()
    for line in ("interface Tunnel0", "ip nhrp shortcut", "end"):
        assert s.apply(line) == []
    tun = s.config.interface("Tunnel0")
    assert tun is not None and tun.nhrp.shortcut


def test_no_forms_of_modelled_interface_lines() -> None:
    s = _session()
    s.apply("interface Tunnel0")
    s.apply("ip nhrp shortcut")
    for line in ("no ip nhrp shortcut", "no tunnel key", "no ip nhrp nhs 10.0.0.1",
                 "no ip nhrp map 10.0.0.1 203.0.113.1", "no ip nhrp map multicast 203.0.113.1",
                 "no tunnel mode", "no ip address", "shutdown"):
        assert s.apply(line) == [], line
    tun = s.config.interface("Tunnel0")
    assert tun is not None
    assert not tun.nhrp.shortcut and tun.tunnel_key is None and tun.nhrp.nhs == []
    assert tun.nhrp.maps == [] and tun.nhrp.multicast_maps == []
    assert tun.tunnel_mode is None and tun.effective_tunnel_mode == "gre ip"
    assert tun.address is None and tun.shutdown
    s.apply("no shutdown")
    assert not tun.shutdown


def test_no_ip_route_removes_only_the_matching_route() -> None:
    s = _session()
    s.apply("ip route 192.168.3.0 255.255.255.0 10.0.0.4")
    assert s.apply("no ip route 192.168.2.0 255.255.255.0 10.0.0.3") == []
    assert [r.prefix for r in s.config.static_routes] == [IPv4Network("0.0.0.0/0"), IPv4Network("192.168.3.0/24")]
    assert s.apply("no ip route 192.168.3.0 255.255.255.0") == []
    assert [r.prefix for r in s.config.static_routes] == [IPv4Network("0.0.0.0/0")]


def test_global_command_in_interface_mode_leaves_the_sub_mode_like_ios() -> None:
    s = _session()
    s.apply("interface Tunnel0")
    assert s.apply("ip route 192.168.9.0 255.255.255.0 10.0.0.9") == []
    assert s.mode is Mode.GLOBAL
    assert s.config.static_routes[-1].next_hop == IPv4Address("10.0.0.9")


def test_per_line_errors_carry_the_caret_column_for_the_cli() -> None:
    s = _session()
    s.apply("interface Tunnel0")
    errors = s.apply("tunnel key abc")
    assert len(errors) == 1
    assert errors[0].column == len("tunnel key ")
    prompt = "spoke1(config-if)#"
    assert errors[0].ios_lines(indent=len(prompt)) == [" " * (len(prompt) + 11) + "^",
                                                        "% Invalid input detected at '^' marker."]
    # the session keeps going, still in interface mode, the old key untouched
    assert s.mode is Mode.INTERFACE
    tun = s.config.interface("Tunnel0")
    assert tun is not None and tun.tunnel_key == 12345


def test_no_hostname_and_no_interface_tunnel() -> None:
    s = _session()
    assert s.apply("no hostname") == [] and s.config.hostname == "Router"
    assert s.apply("no interface Tunnel0") == [] and s.config.interface("Tunnel0") is None


def test_eigrp_split_horizon_no_form_and_its_undo() -> None:
    s = ConfigSession()
    s.apply("interface Tunnel0")
    s.apply("no ip split-horizon eigrp 1")
    s.apply("ip ospf network point-to-multipoint")
    tun = s.config.interface("Tunnel0")
    assert tun is not None
    assert tun.routing_lines == ["no ip split-horizon eigrp 1", "ip ospf network point-to-multipoint"]
    s.apply("ip split-horizon eigrp 1")
    s.apply("no ip ospf network")
    assert tun.routing_lines == []


def test_crypto_sub_modes_and_their_no_forms() -> None:
    s = ConfigSession()
    for line in ("crypto isakmp policy 10", "encryption aes 256", "hash sha256", "authentication pre-share",
                 "group 14", "no group", "exit",
                 "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac", "mode transport", "exit",
                 "crypto ipsec profile P", "set transform-set TS", "set pfs group14", "no set pfs", "exit"):
        assert s.apply(line) == [], line
    pol = s.config.isakmp_policy(10)
    assert pol is not None and pol.encryption == "aes 256" and pol.group == 1
    ts = s.config.transform_set("TS")
    assert ts is not None and ts.mode == "transport"
    prof = s.config.ipsec_profile("P")
    assert prof is not None and prof.transform_sets == ["TS"] and prof.pfs is None
    assert s.apply("crypto isakmp policy 10") == [] and s.apply("group 7")[0].column == len("group ")


def test_unknown_lines_are_warnings_by_default_and_errors_when_strict() -> None:
    lenient = ConfigSession()
    assert lenient.apply("snmp-server community public RO") == []
    assert [i.text for i in lenient.ignored] == ["snmp-server community public RO"]
    strict = ConfigSession(strict_unknown=True)
    errors = strict.apply("snmp-server community public RO")
    assert [e.message for e in errors] == ["% Invalid input detected at '^' marker."]


def test_multi_line_banner_in_a_session() -> None:
    s = ConfigSession()
    s.apply("banner motd #")
    s.apply("Lab router")
    s.apply("#")
    s.apply("hostname R9")
    assert s.config.hostname == "R9"
    assert s.config.extra_head[0].lines == ["banner motd #", "Lab router", "#"]


def test_a_hundred_garbage_lines_leave_the_session_answering() -> None:
    import random

    rng = random.Random(7)
    words = ["ip", "nhrp", "no", "tunnel", "key", "interface", "Tunnel0", "route", "abc", "300", "^C",
             "crypto", "isakmp", "policy", "exit", "router", "ospf", "shutdown", "#", "1.2.3.999"]
    s = _session()
    for _ in range(100):
        s.apply(" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))))
    s.apply("end")
    s.apply("hostname alive")
    assert s.errors  # the garbage was answered with IOS errors ...
    assert s.config.hostname == "alive"  # ... and the session still configures


def test_at_a_prompt_a_typo_in_an_ip_nhrp_or_tunnel_line_is_refused_with_a_caret():
    session = ConfigSession(strict_families=True)
    assert session.apply("interface Tunnel0") == []
    [error] = session.apply(" ip nhrp redirectx")
    assert error.ios_lines()[-1] == "% Invalid input detected at '^' marker."
    assert error.column == len(" ip nhrp ")
    [error] = session.apply(" tunnel modex gre multipoint")
    assert error.column == len(" tunnel ")
    assert session.apply(" ip ospf network point-to-multipoint") == []  # kept for FRR, not a typo
    assert session.apply(" ip nhrp redirect") == []
    assert session.config.interface("Tunnel0").nhrp.redirect


def test_a_pasted_config_keeps_unknown_interface_lines_as_ignored():
    session = ConfigSession()
    session.apply("interface Tunnel0")
    assert session.apply(" ip nhrp redirectx") == []
    assert [i.text for i in session.ignored] == [" ip nhrp redirectx"]
