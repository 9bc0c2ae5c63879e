"""Phase 3 with routing: withdrawal purges shortcuts, overrides for protocol routes, Phase 2 from them.

Real namespaces, agents, kernels and captures (topologies/phase3.yaml, holdtime 300 s so
nothing expires on its own here):

- spoke2's LAN interface is shut (`shutdown` through its CLI): spoke2, which answered
  spoke1's resolution for 192.168.2.0/24, sends spoke1 (and the hub) an NHRP Purge
  Request for it, and spoke1's shortcut route is gone within a couple of seconds, as on
  IOS, instead of black-holing traffic until its holding time runs out.
- A routing protocol's route for exactly 192.168.2.0/24 via the hub (as OSPF
  point-to-multipoint or EIGRP without a summary install it: a kernel route of OSPF's
  protocol number 188 at zebra's metric 20, put there with `ip route` so this runs
  without FRR; how zebra itself treats the override is tests/test_nhrp_zebra_live.py):
  the shortcut becomes a next-hop override (`O%` in `show ip route`, `nho` in `show ip
  nhrp`), traffic goes direct, and `clear ip nhrp` gives the protocol its next hop back.
- A protocol route whose next hop is the other spoke (OSPF broadcast keeps it) starts a
  Phase 2 resolution for that next hop, as a static route does: it is just a kernel route.
"""

from __future__ import annotations

import time

import pytest

from crossings import (H1, H2, HUB_WAN, SPOKE1_NBMA, SPOKE2_NBMA, SPOKE2_WAN, agent_state, captures, ping,
                       shortcuts, wait_for)
from test_cli_configure import cli
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/phase3.yaml")

LAN2 = "192.168.2.0/24"
PROTOCOL_ROUTE = ["192.168.2.0/24", "via", "10.0.0.1", "dev", "Tunnel0", "proto", "188", "metric", "20"]


def _lan_interface(lab, node: str) -> str:
    lines = cli(lab, node, "show running-config").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("interface ") and i + 1 < len(lines) and lines[i + 1].strip() == "description LAN":
            return line.split()[1]
    raise AssertionError(f"{node} has no LAN interface")


def _shortcut_formed(lab) -> None:
    _, result = ping(lab, "h1", H2, count=6)
    assert result.ok, result.stdout + result.stderr
    assert wait_for(lambda: f"{LAN2} via 10.0.0.3" in shortcuts(lab, "spoke1"), timeout=3)


def _fresh(lab) -> None:
    for node in ("spoke1", "spoke2"):
        cli(lab, node, "clear ip nhrp")
    assert wait_for(lambda: LAN2 not in shortcuts(lab, "spoke1"), timeout=3)


def test_far_spoke_lan_shut_purges_the_shortcut_within_seconds(lab):
    _shortcut_formed(lab)
    lan = _lan_interface(lab, "spoke2")
    shut = time.time()
    cli(lab, "spoke2", "configure terminal", f"interface {lan}", "shutdown", "end")
    try:
        assert wait_for(lambda: LAN2 not in shortcuts(lab, "spoke1"), timeout=3), "the shortcut is purged"
        took = time.time() - shut
        print(f"LAN shut -> shortcut gone at spoke1: {took:.2f} s")
        assert took < 3.0
        seen = captures(lab)
        purges = [m for m in seen.messages(PacketType.PURGE_REQUEST, link=SPOKE2_WAN, since=shut)
                  if str(m.outer_src) == SPOKE2_NBMA]
        to_spoke1 = [m for m in purges if str(m.outer_dst) == SPOKE1_NBMA]
        assert to_spoke1, "spoke2 purges what it answered"
        cie = to_spoke1[0].packet.cies[0]
        assert (str(cie.proto), cie.prefix_len) == ("192.168.2.0", 24)
        assert any(str(m.outer_dst) != SPOKE1_NBMA for m in purges), "and tells the NHS"
        assert seen.messages(PacketType.PURGE_REPLY, link=SPOKE2_WAN, since=shut), "spoke1 answers"
        assert "192.168.2.0/24" not in str(agent_state(lab, "spoke1")["nhrp"]["cache"])
    finally:
        cli(lab, "spoke2", "configure terminal", f"interface {lan}", "no shutdown", "end")
    assert wait_for(lambda: lab.exec("h1", ["ping", "-n", "-c", "1", "-W", "1", H2]).ok, timeout=10)
    _fresh(lab)


def test_shortcut_for_a_prefix_a_protocol_routes_via_the_hub_is_a_next_hop_override(lab):
    _fresh(lab)
    assert lab.exec("spoke1", ["ip", "route", "add", *PROTOCOL_ROUTE]).ok
    try:
        since, result = ping(lab, "h1", H2, count=10)
        assert result.ok, result.stdout + result.stderr
        assert wait_for(lambda: f"{LAN2} via 10.0.0.3 dev Tunnel0 metric 1" in shortcuts(lab, "spoke1"), timeout=3)
        routes = agent_state(lab, "spoke1")["shortcut_routes"]
        assert [(r["prefix"], r["kind"], r["overridden_proto"], r["overridden_next_hop"]) for r in routes] == [
            (LAN2, "override", 188, "10.0.0.1")]
        table = cli(lab, "spoke1", "show ip route")
        assert "O%    192.168.2.0/24 [110/20] via 10.0.0.1, Tunnel0" in table, table
        nhrp = cli(lab, "spoke1", "show ip nhrp")
        assert "192.168.2.0/24 via 10.0.0.3\n" in nhrp and "Flags: router rib nho\n" in nhrp, nhrp
        assert "proto ospf metric 20" in lab.exec("spoke1", ["ip", "route", "show", LAN2]).stdout
        after, result = ping(lab, "h1", H2, count=5)
        assert result.ok, result.stdout + result.stderr
        seen = captures(lab)
        first = seen.echo(H1, H2, since=since)
        assert HUB_WAN in seen.links_per_seq(first)[1], "first via the hub, as OSPF says"
        later = seen.echo(H1, H2, since=after)
        assert later and HUB_WAN not in seen.links(later), "then the override goes direct"
        assert lab.exec("spoke1", ["ip", "route", "get", H2]).stdout.startswith(f"{H2} via 10.0.0.3 dev Tunnel0")

        cli(lab, "spoke1", "clear ip nhrp")
        assert wait_for(lambda: LAN2 not in shortcuts(lab, "spoke1"), timeout=3)
        got = lab.exec("spoke1", ["ip", "route", "get", H2]).stdout
        assert "via 10.0.0.1 dev Tunnel0" in got, "the protocol's own next hop is back"
    finally:
        lab.exec("spoke1", ["ip", "route", "del", *PROTOCOL_ROUTE])
    _fresh(lab)


def test_phase2_resolution_starts_from_a_protocol_route_with_a_spoke_next_hop(lab):
    _fresh(lab)
    route = ["192.168.2.0/24", "via", "10.0.0.3", "dev", "Tunnel0", "proto", "188", "metric", "20"]
    assert lab.exec("spoke1", ["ip", "route", "add", *route]).ok
    try:
        since, result = ping(lab, "h1", H2, count=6)
        assert result.ok, result.stdout + result.stderr
        assert wait_for(lambda: any(e["prefix"] == "10.0.0.3/32" and e["nbma"] == SPOKE2_NBMA
                                    for e in agent_state(lab, "spoke1")["nhrp"]["cache"]), timeout=3)
        after, result = ping(lab, "h1", H2, count=3)
        assert result.ok
        seen = captures(lab)
        asked = [m for m in seen.messages(PacketType.RESOLUTION_REQUEST, since=since)
                 if str(m.outer_src) == SPOKE1_NBMA and str(m.packet.dst_proto) == "10.0.0.3"]
        assert asked, "spoke1 resolves the protocol's next hop, Phase 2 style"
        later = seen.echo(H1, H2, since=after)
        assert later and HUB_WAN not in seen.links(later), "then goes spoke to spoke"
    finally:
        lab.exec("spoke1", ["ip", "route", "del", *route])
