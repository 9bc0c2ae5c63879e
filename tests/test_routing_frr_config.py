"""IOS `router ospf|bgp|rip` sections and interface lines -> FRR 8.4 frr.conf.

Every generated configuration is handed to FRR itself, the independent judge: `vtysh -C`
parses the integrated frr.conf (exit status 2 on an unknown command), and each daemon's
own `-C` dry run loads its share and must log no failed config line (a daemon's dry run
exits 0 even then, so its log is read; it also catches what only the daemon checks, such
as `network ... area` next to an interface's `ip ospf area`). No daemon is started and
no namespace is made. Where FRR is not installed the judge's half of a test skips.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dmvpnlab.config.parser import load_config
from dmvpnlab.ifnames import linux_ifname
from dmvpnlab.routing.frr_common import classful_network, mask_prefixlen, wildcard_prefixlen
from dmvpnlab.routing.frr_config import FrrConfig, frr_config

SEED = Path("/work/shared/seed/000_8371c0296f2a881a.txt")
_PROMPT = re.compile(r"^\w+\([a-z-]+\)#\s*")
FRR_BIN = Path("/usr/lib/frr")
VTYSH = shutil.which("vtysh")
FRR_MISSING = not (VTYSH and (FRR_BIN / "ospfd").exists())
# A daemon's log line for a config line it could not take (unknown, incomplete, refused).
_FAILED_LINE = re.compile(r"on config line \d+")


def translate(text: str) -> FrrConfig:
    cfg = load_config(text)
    return frr_config(cfg, lambda ios: linux_ifname(cfg.hostname, ios))


def frr_judges(result: FrrConfig) -> None:
    """FRR 8.4 takes `result`: vtysh parses the whole text, each daemon its own share."""
    if FRR_MISSING:
        pytest.skip("FRR (vtysh, /usr/lib/frr/ospfd) is not installed: no dry run")
    work = Path(tempfile.mkdtemp(prefix="frrconf-"))
    try:
        if os.geteuid() == 0:
            frr = pwd.getpwnam("frr")
            os.chown(work, frr.pw_uid, frr.pw_gid)  # the daemons drop to user frr
        (work / "vtysh.conf").write_text("")
        (work / "frr.conf").write_text(result.text)
        run = subprocess.run([VTYSH, "-C", "-f", str(work / "frr.conf"), "--config_dir", str(work),
                              "--vty_socket", str(work)], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stdout + run.stderr
        for daemon, text in result.per_daemon.items():
            conf = work / f"{daemon}.conf"
            conf.write_text(text)
            run = subprocess.run([str(FRR_BIN / daemon), "-C", "-f", str(conf), "--vty_socket", str(work),
                                  "-i", str(work / f"{daemon}.pid"), "-z", str(work / "zserv.api")],
                                 capture_output=True, text=True, timeout=30)
            failed = [line for line in run.stderr.splitlines() if _FAILED_LINE.search(line)]
            assert run.returncode == 0 and not failed, f"{daemon}: {run.stderr}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def without_costs(lines: list[str]) -> list[str]:
    """A block without the `ip ospf cost` lines frr_ospf derives from IOS bandwidths."""
    return [line for line in lines if not line.startswith(" ip ospf cost")]


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def block(text: str, header: str) -> list[str]:
    """The lines of the frr.conf block that starts with `header`, up to its `exit`."""
    lines = lines_of(text)
    start = lines.index(header)
    return lines[start + 1 : lines.index("exit", start)]


def _seed_section(start: str, stop: str) -> str:
    lines = SEED.read_text().splitlines()
    body = lines[lines.index(start) + 1 : lines.index(stop)]
    return "\n".join(re.sub(r"\s+!.*$", "", _PROMPT.sub("", line)) for line in body)


@pytest.fixture
def seed_hub() -> str:
    if not SEED.exists():
        pytest.skip("seed document not available")
    return "hostname hub\n" + _seed_section("9.1 Hub Router Configuration", "9.2 Spoke Router Configuration")


@pytest.fixture
def seed_spoke(seed_hub: str) -> str:
    """The spoke as the guide means it: "Steps 1-2: Same ISAKMP and IPsec profile as hub"."""
    crypto = seed_hub.replace("hostname hub", "hostname spoke1").split("! Step 3", 1)[0]
    return crypto + "\n" + _seed_section("9.2 Spoke Router Configuration", "10. DMVPN Scalability Benefits")


# -- the address arithmetic ------------------------------------------------------------


def test_ios_wildcards_become_prefix_lengths_and_odd_wildcards_have_none() -> None:
    assert wildcard_prefixlen("0.0.0.255") == 24
    assert wildcard_prefixlen("0.0.0.0") == 32
    assert wildcard_prefixlen("255.255.255.255") == 0
    assert wildcard_prefixlen("0.255.0.255") is None
    assert wildcard_prefixlen("0.0.0.254") is None
    assert wildcard_prefixlen("not.an.address") is None


def test_netmasks_become_prefix_lengths_and_holes_have_none() -> None:
    assert mask_prefixlen("255.255.255.0") == 24
    assert mask_prefixlen("255.255.0.255") is None


def test_rip_networks_are_classful_as_ios_reads_them() -> None:
    assert str(classful_network("10.1.2.0")) == "10.0.0.0/8"
    assert str(classful_network("172.16.5.0")) == "172.16.0.0/16"
    assert str(classful_network("192.168.1.7")) == "192.168.1.0/24"
    assert classful_network("224.0.0.9") is None


# -- no routing: nothing to start --------------------------------------------------------


def test_the_seed_as_printed_runs_no_frr_daemon(seed_hub: str, seed_spoke: str) -> None:
    """The guide's configs carry `ip ospf network point-to-multipoint` but no `router ospf`:
    on IOS that runs no OSPF, so there is nothing for FRR to do."""
    for text in (seed_hub, seed_spoke):
        result = translate(text)
        assert result.daemons == set() and result.text == "" and result.ignored == []


def test_eigrp_is_left_to_the_agent_neither_translated_nor_ignored() -> None:
    result = translate("hostname hub\ninterface Tunnel0\n no ip split-horizon eigrp 1\n"
                       " no ip next-hop-self eigrp 1\nrouter eigrp 1\n network 10.0.0.0\n")
    assert result.daemons == set() and result.ignored == []


# -- OSPF -------------------------------------------------------------------------------


OSPF_P2MP = """
router ospf 1
 router-id {rid}
 network 10.0.0.0 0.0.0.255 area 0
 network {lan} 0.0.0.255 area 0
 passive-interface GigabitEthernet0/1
"""


def test_seed_hub_with_ospf_runs_point_to_multipoint_on_the_tunnel(seed_hub: str) -> None:
    result = translate(seed_hub + "\ninterface GigabitEthernet0/1\n ip address 10.1.0.1 255.255.255.0\n"
                       + OSPF_P2MP.format(rid="1.1.1.1", lan="10.1.0.0")
                       + " area 0 range 10.0.0.0 255.0.0.0\n default-information originate\n")
    assert result.daemons == {"zebra", "ospfd"}
    assert without_costs(block(result.text, "interface Tunnel0")) == [" ip ospf network point-to-multipoint"]
    assert without_costs(block(result.text, "interface hub-eth1")) == [" ip ospf passive"]
    assert block(result.text, "router ospf") == [
        " ospf router-id 1.1.1.1", " area 0 range 10.0.0.0/8", " default-information originate",
        " network 10.0.0.0/24 area 0", " network 10.1.0.0/24 area 0"]  # networks last: see _place_networks
    assert result.ignored == []
    frr_judges(result)


def test_seed_spoke_with_ospf(seed_spoke: str) -> None:
    result = translate(seed_spoke + OSPF_P2MP.format(rid="2.2.2.2", lan="10.2.0.0"))
    assert "interface spoke1-eth1" in result.text and " ospf router-id 2.2.2.2" in result.text
    frr_judges(result)


def test_phase2_broadcast_hub_is_dr_and_spokes_never_are() -> None:
    hub = translate("hostname hub\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                    " ip ospf network broadcast\n ip ospf priority 255\n ip ospf hello-interval 10\n"
                    " ip ospf dead-interval 40\n ip ospf cost 10\nrouter ospf 1\n"
                    " network 10.0.0.0 0.0.0.255 area 0\n")
    spoke = translate("hostname spoke1\ninterface Tunnel0\n ip address 10.0.0.2 255.255.255.0\n"
                      " ip ospf network broadcast\n ip ospf priority 0\nrouter ospf 1\n"
                      " network 10.0.0.0 0.0.0.255 area 0\n")
    assert block(hub.text, "interface Tunnel0") == [
        " ip ospf network broadcast", " ip ospf priority 255", " ip ospf hello-interval 10",
        " ip ospf dead-interval 40", " ip ospf cost 10"]
    assert " ip ospf priority 0" in block(spoke.text, "interface Tunnel0")
    frr_judges(hub)
    frr_judges(spoke)


def test_non_broadcast_hub_names_its_neighbours() -> None:
    result = translate("hostname hub\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                       " ip ospf network non-broadcast\nrouter ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n"
                       " neighbor 10.0.0.2\n neighbor 10.0.0.3 priority 0 poll-interval 60\n"
                       " neighbor 10.0.0.4 cost 5\n")
    body = block(result.text, "router ospf")
    assert " neighbor 10.0.0.2" in body and " neighbor 10.0.0.3 priority 0 poll-interval 60" in body
    assert " neighbor 10.0.0.4" in body
    assert any(i.startswith("router ospf 1: neighbor 10.0.0.4 cost 5:") for i in result.ignored)
    frr_judges(result)


def test_p2mp_non_broadcast_runs_p2mp_and_says_so() -> None:
    result = translate("hostname hub\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                       " ip ospf network point-to-multipoint non-broadcast\nrouter ospf 1\n"
                       " network 10.0.0.0 0.0.0.255 area 0\n")
    assert without_costs(block(result.text, "interface Tunnel0")) == [" ip ospf network point-to-multipoint"]
    assert result.ignored == ["interface Tunnel0: ip ospf network point-to-multipoint non-broadcast: "
                              "FRR 8.4 has no point-to-multipoint non-broadcast: runs point-to-multipoint"]
    frr_judges(result)


def test_non_contiguous_wildcard_is_ignored_with_its_reason() -> None:
    result = translate("hostname hub\nrouter ospf 1\n network 10.0.0.0 0.255.0.255 area 0\n"
                       " network 10.9.0.0 0.0.255.255 area 1\n")
    assert block(result.text, "router ospf") == [" network 10.9.0.0/16 area 1"]
    assert result.ignored == ["router ospf 1: network 10.0.0.0 0.255.0.255 area 0: wildcard is not a "
                              "prefix (non-contiguous): FRR network takes A/len only"]
    frr_judges(result)


def test_interface_area_lines_turn_network_statements_into_interface_areas() -> None:
    """FRR refuses `network ... area` once an interface has `ip ospf area`; IOS mixes them."""
    result = translate("hostname spoke1\ninterface Loopback0\n ip address 10.2.0.1 255.255.255.0\n"
                       "interface Tunnel0\n ip address 10.0.0.2 255.255.255.0\n ip ospf 1 area 0\n"
                       "interface GigabitEthernet0/1\n ip address 10.2.1.1 255.255.255.0\n"
                       "router ospf 1\n network 10.2.0.0 0.0.255.255 area 2\n network 10.2.1.0 0.0.0.255 area 3\n")
    assert without_costs(block(result.text, "interface Tunnel0")) == [" ip ospf area 0"]
    assert without_costs(block(result.text, "interface lo")) == [" ip ospf area 2"]
    assert without_costs(block(result.text, "interface spoke1-eth1")) == [" ip ospf area 3"]  # the longest match
    assert not any(line.startswith(" network") for line in block(result.text, "router ospf"))
    frr_judges(result)


def test_passive_interface_default_leaves_only_the_named_interfaces_active() -> None:
    result = translate("hostname hub\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                       "interface GigabitEthernet0/1\n ip address 10.1.0.1 255.255.255.0\n"
                       "router ospf 1\n passive-interface default\n no passive-interface Tunnel0\n"
                       " passive-interface Serial0/0/0\n network 10.0.0.0 0.255.255.255 area 0\n")
    assert without_costs(block(result.text, "interface Tunnel0")) == [" no ip ospf passive"]
    assert without_costs(block(result.text, "interface hub-eth1")) == [" ip ospf passive"]
    assert any("Serial0/0/0: interface has no Linux counterpart" in i for i in result.ignored)
    frr_judges(result)


# -- BGP --------------------------------------------------------------------------------


BGP_HUB = """hostname hub
router bgp 65000
 bgp router-id 1.1.1.1
 bgp log-neighbor-changes
 neighbor SPOKES peer-group
 neighbor SPOKES remote-as 65000
 neighbor SPOKES route-reflector-client
 bgp listen range 10.0.0.0/24 peer-group SPOKES
 network 10.1.0.0 mask 255.255.255.0
"""


def test_bgp_hub_is_a_route_reflector_for_dynamic_spokes() -> None:
    result = translate(BGP_HUB)
    assert result.daemons == {"zebra", "bgpd"}
    assert block(result.text, "router bgp 65000") == [
        " bgp router-id 1.1.1.1", " bgp log-neighbor-changes", " neighbor SPOKES peer-group",
        " neighbor SPOKES remote-as 65000", " bgp listen range 10.0.0.0/24 peer-group SPOKES",
        " no bgp default ipv4-unicast", " no bgp ebgp-requires-policy",
        " address-family ipv4 unicast", "  neighbor SPOKES activate", "  neighbor SPOKES route-reflector-client",
        "  network 10.1.0.0/24", " exit-address-family"]
    frr_judges(result)


def test_phase3_bgp_hub_summarises_or_sends_a_default() -> None:
    result = translate(BGP_HUB + " aggregate-address 10.0.0.0 255.0.0.0 summary-only\n"
                       " neighbor SPOKES default-originate\n neighbor SPOKES next-hop-self\n no auto-summary\n")
    body = block(result.text, "router bgp 65000")
    assert "  aggregate-address 10.0.0.0/8 summary-only" in body
    assert "  neighbor SPOKES default-originate" in body and "  neighbor SPOKES next-hop-self" in body
    assert result.ignored == ["router bgp 65000: no auto-summary: FRR never auto-summarises: nothing to do"]
    frr_judges(result)


def test_bgp_spoke_activates_its_neighbours_like_ios() -> None:
    """IOS activates IPv4 unicast for every neighbour; FRR is told so explicitly."""
    result = translate("hostname spoke1\ninterface Loopback0\n ip address 2.2.2.2 255.255.255.255\n"
                       "router bgp 65001\n neighbor 10.0.0.1 remote-as 65000\n"
                       " neighbor 10.0.0.1 next-hop-unchanged\n neighbor 10.0.0.1 timers 10 30\n"
                       " neighbor 10.0.0.1 update-source Loopback0\n timers bgp 5 15\n network 10.2.0.0\n")
    body = block(result.text, "router bgp 65001")
    assert " neighbor 10.0.0.1 timers 10 30" in body and " timers bgp 5 15" in body
    assert " neighbor 10.0.0.1 update-source lo" in body
    assert "  neighbor 10.0.0.1 activate" in body
    assert "  neighbor 10.0.0.1 attribute-unchanged next-hop" in body
    assert "  network 10.0.0.0/8" in body  # no mask: the classful network, as IOS reads it
    frr_judges(result)


def test_address_family_block_and_no_default_ipv4_activate_only_what_is_named() -> None:
    result = translate("hostname hub\nrouter bgp 65000\n no bgp default ipv4-unicast\n"
                       " neighbor 10.0.0.2 remote-as 65000\n neighbor 10.0.0.3 remote-as 65000\n"
                       " address-family ipv4\n  neighbor 10.0.0.2 activate\n"
                       "  neighbor 10.0.0.2 route-reflector-client\n exit-address-family\n"
                       " address-family vpnv4\n  neighbor 10.0.0.3 activate\n exit-address-family\n")
    body = block(result.text, "router bgp 65000")
    assert "  neighbor 10.0.0.2 activate" in body and "  neighbor 10.0.0.3 activate" not in body
    assert any("address-family vpnv4" in i for i in result.ignored)
    frr_judges(result)


def test_no_neighbor_activate_takes_a_neighbour_out_of_ipv4_unicast() -> None:
    result = translate("hostname hub\nrouter bgp 65000\n neighbor 10.0.0.2 remote-as 65000\n"
                       " neighbor 10.0.0.3 remote-as 65000\n no neighbor 10.0.0.3 activate\n"
                       " bgp listen range 10.0.0.0/24 peer-group NOWHERE\n")
    body = block(result.text, "router bgp 65000")
    assert "  neighbor 10.0.0.2 activate" in body and "  neighbor 10.0.0.3 activate" not in body
    assert "router bgp 65000: bgp listen range 10.0.0.0/24 peer-group NOWHERE: peer-group not defined " \
           "before this line" in result.ignored
    frr_judges(result)


def test_peer_group_members_follow_their_group() -> None:
    result = translate("hostname hub\nrouter bgp 65000\n neighbor RR peer-group\n neighbor RR remote-as 65000\n"
                       " neighbor 10.0.0.2 peer-group RR\n neighbor 10.0.0.9 remote-as 65009\n"
                       " neighbor 10.0.0.9 ebgp-multihop 2\n neighbor 10.0.0.9 weird-option\n")
    body = block(result.text, "router bgp 65000")
    assert " neighbor 10.0.0.2 peer-group RR" in body
    assert [line for line in body if line.endswith("activate")] == [
        "  neighbor RR activate", "  neighbor 10.0.0.9 activate"]
    assert any("weird-option" in i for i in result.ignored)
    frr_judges(result)


# -- RIP --------------------------------------------------------------------------------


RIP_HUB = """hostname hub
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 no ip split-horizon
interface GigabitEthernet0/1
 ip address 172.16.1.1 255.255.255.0
router rip
 version 2
 network 10.0.0.0
 network 172.16.1.0
 no auto-summary
 passive-interface GigabitEthernet0/1
"""


def test_rip_hub_turns_split_horizon_off_on_the_tunnel() -> None:
    result = translate(RIP_HUB)
    assert result.daemons == {"zebra", "ripd"}
    assert block(result.text, "interface Tunnel0") == [" no ip rip split-horizon"]
    assert block(result.text, "router rip") == [
        " version 2", " network 10.0.0.0/8", " network 172.16.0.0/16", " passive-interface hub-eth1"]
    assert result.ignored == ["router rip: no auto-summary: FRR ripd never auto-summarises: nothing to do"]
    frr_judges(result)


def test_rip_phase3_summary_has_no_frr_equivalent_and_says_so() -> None:
    text = RIP_HUB.replace(" no ip split-horizon\n", " no ip split-horizon\n ip summary-address rip 10.0.0.0 255.0.0.0\n")
    result = translate(text + " timers basic 10 60 60 90\n default-information originate\n")
    assert "interface Tunnel0: ip summary-address rip 10.0.0.0 255.0.0.0: FRR 8.4 ripd has no interface " \
           "summary address" in result.ignored
    assert " timers basic 10 60 30" in block(result.text, "router rip")  # garbage = flush - invalid
    frr_judges(result)


# -- all three on one router ----------------------------------------------------------


def test_three_protocols_share_one_interface_block_and_each_daemon_its_own_share() -> None:
    text = (RIP_HUB + "interface Tunnel0\n ip ospf network point-to-multipoint\n"
            "router ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n" + BGP_HUB.replace("hostname hub\n", ""))
    result = translate(text)
    assert result.daemons == {"zebra", "ospfd", "bgpd", "ripd"}
    assert without_costs(block(result.text, "interface Tunnel0")) == [" ip ospf network point-to-multipoint",
                                                       " no ip rip split-horizon"]
    assert "ip rip" not in result.per_daemon["ospfd"] and "router bgp" not in result.per_daemon["ripd"]
    frr_judges(result)


def test_hostile_lines_are_ignored_never_raised() -> None:
    result = translate("hostname hub\nrouter ospf 1\n network 999.1.1.1 0.0.0.255 area 0\n area 0 range 1.1.1.1\n"
                       " router-id nope\nrouter bgp 1\n neighbor\n network 1.2.3.4 mask 255.0.255.0\n"
                       " aggregate-address 10.0.0.0 0.0.0.255\nrouter rip\n network 239.1.1.1\n timers basic 1 2 3 4\n")
    assert len(result.ignored) >= 8
    frr_judges(result)


# -- the judge itself -------------------------------------------------------------------


def test_the_frr_judge_rejects_what_frr_rejects() -> None:
    """Without this the dry runs above could pass anything: an unknown command fails vtysh,
    a line only the daemon refuses (network next to `ip ospf area`) fails its dry run."""
    header = "frr version 8.4\nfrr defaults traditional\nhostname x\n!\n"
    unknown = header + "router ospf\n network 10.0.0.0/33 area 0\nexit\n"
    with pytest.raises(AssertionError, match="Unknown command"):
        frr_judges(FrrConfig({"zebra", "ospfd"}, unknown, [], {"ospfd": unknown}))
    mixed = header + "interface lo\n ip ospf area 0\nexit\n!\nrouter ospf\n network 10.0.0.0/24 area 0\nexit\n"
    with pytest.raises(AssertionError, match="ospfd"):
        frr_judges(FrrConfig({"zebra", "ospfd"}, mixed, [], {"ospfd": mixed}))


# -- whatever comes in, FRR takes what goes out ------------------------------------------

_WORDS = ("network 10.0.0.0 0.0.0.255 255.255.255.0 area 0 1 range neighbor SPOKES remote-as 65000 peer-group "
          "passive-interface Tunnel0 GigabitEthernet0/1 default default-information originate always metric "
          "metric-type redistribute connected static subnets route-reflector-client next-hop-self "
          "next-hop-unchanged aggregate-address summary-only timers basic bgp listen 10.0.0.0/24 router-id "
          "1.1.1.1 version 2 no auto-summary mask default-originate priority poll-interval cost activate "
          "update-source password description x -1 99999999999 ²").split()
_IF_LINES = ("ip ospf", "ip ospf 1 area", "ip ospf network", "ip rip", "no ip split-horizon", "ip summary-address rip")


@pytest.mark.parametrize("seed", range(12))
def test_random_ios_lines_never_raise_and_frr_takes_every_translation(seed: int) -> None:
    """Lines made of the words the translators look at, in any order and count: the output
    is either a line FRR accepts or an ignored line, never an exception or a refused line."""
    import random
    from dmvpnlab.config.errors import ConfigSyntaxError

    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, n)))

    text = "hostname r\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
    text += "".join(f" {rng.choice(_IF_LINES)} {words(3)}\n" for _ in range(4))
    for header in ("router ospf 1", "router bgp 65000", "router rip"):
        text += header + "\n" + "".join(f" {words(6)}\n" for _ in range(10))
    try:
        result = translate(text)
    except ConfigSyntaxError:
        pytest.skip("the IOS parser refused this draw before translation")  # not the translator's input
    assert result.ignored  # random words always leave something untranslated
    frr_judges(result)


def test_redistribute_static_is_frr_redistribute_kernel():
    """The agent's `ip route` lines are kernel routes (proto static) to zebra, not staticd's."""
    result = translate("hostname r\nrouter ospf 1\n redistribute static subnets metric-type 1\n"
                       "router rip\n version 2\n redistribute static\nend\n")
    assert " redistribute kernel metric-type 1" in block(result.text, "router ospf")
    assert " redistribute kernel" in block(result.text, "router rip")
    frr_judges(result)


def test_ospf_costs_are_derived_from_ios_bandwidths():
    """A tunnel is 100 kbit/s to IOS (cost 1000), a GigabitEthernet 1 Gbit/s (cost 1); a
    `bandwidth` line or an explicit `ip ospf cost` wins, and the reference bandwidth counts."""
    result = translate("hostname r1\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                       "interface GigabitEthernet0/1\n ip address 192.168.1.1 255.255.255.0\n"
                       "interface GigabitEthernet0/2\n ip address 192.168.2.1 255.255.255.0\n bandwidth 10000\n"
                       "interface GigabitEthernet0/3\n ip address 192.168.3.1 255.255.255.0\n ip ospf cost 7\n"
                       "router ospf 1\n network 0.0.0.0 255.255.255.255 area 0\n")
    assert " ip ospf cost 1000" in block(result.text, "interface Tunnel0")
    assert " ip ospf cost 1" in block(result.text, "interface r1-eth1")
    assert " ip ospf cost 10" in block(result.text, "interface r1-eth2")
    assert block(result.text, "interface r1-eth3") == [" ip ospf cost 7"]
    frr_judges(result)
    bigger = translate("hostname r1\ninterface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n"
                       "router ospf 1\n auto-cost reference-bandwidth 1000\n network 10.0.0.0 0.0.0.255 area 0\n")
    assert " ip ospf cost 10000" in block(bigger.text, "interface Tunnel0")
