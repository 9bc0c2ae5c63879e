"""Phase 2 becomes Phase 3 live, through the router CLI (`configure terminal`), no restart.

The lab starts as Phase 2 (topologies/phase2.yaml): spokes resolve each other, the hub
never redirects. Then, the way an engineer would on real routers, `dmvpnlab cli NODE -c`
adds `ip nhrp redirect` on the hub's Tunnel0 and `ip nhrp shortcut` on the spokes'. The
Phase 2 routes stay; what changes is on the wire: the next packet the hub forwards back
out of the tunnel draws a Traffic Indication (NHRP type 8) from the hub, and the spokes
build shortcuts. Asserted from the captures, and from the routers' own `show` output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossings import H1, H2, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, captures, ping, wait_for
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/phase2.yaml")

REPO = Path(__file__).resolve().parents[1]


def cli(lab, node: str, *lines: str) -> str:
    """`dmvpnlab cli NODE -c LINE ...`: one session, in order; fails the test if a line is refused."""
    argv = [sys.executable, "-m", "dmvpnlab.command", "cli", str(lab.records.directory / node)]
    for line in lines:
        argv += ["-c", line]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{node}: {lines}\n{done.stdout}{done.stderr}"
    return done.stdout


def tunnel_section(lab, node: str) -> str:
    return cli(lab, node, "show running-config | section interface Tunnel0")


def test_phase2_lab_resolves_but_the_hub_never_redirects(lab):
    assert "ip nhrp redirect" not in tunnel_section(lab, "hub")
    since, result = ping(lab, "h1", H2, count=5)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    assert seen.messages(PacketType.RESOLUTION_REQUEST, link=SPOKE1_WAN, since=since), "Phase 2 resolves"
    assert seen.messages(PacketType.TRAFFIC_INDICATION, since=since) == []


def test_configure_terminal_changes_the_running_config_live(lab):
    cli(lab, "hub", "configure terminal", "interface Tunnel0", "ip nhrp redirect", "end")
    for spoke in ("spoke1", "spoke2"):
        cli(lab, spoke, "conf t", "int tu0", "ip nhrp shortcut", "end")
    assert " ip nhrp redirect" in tunnel_section(lab, "hub").splitlines()
    assert " ip nhrp shortcut" in tunnel_section(lab, "spoke1").splitlines()
    # No restart: the agents that answered are the ones the lab started.
    assert all(handle.popen.poll() is None for handle in lab.agents)


def test_after_the_change_the_hub_redirects_and_the_spokes_build_shortcuts(lab):
    # Forget what Phase 2 resolved, so the next packet goes through the hub again.
    for spoke in ("spoke1", "spoke2"):
        cli(lab, spoke, "clear ip nhrp")
    assert wait_for(lambda: " S" in cli(lab, "spoke1", "show dmvpn | include UP"), timeout=10)

    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    indications = seen.messages(PacketType.TRAFFIC_INDICATION, link=SPOKE1_WAN, since=since)
    assert indications, "the hub now sends a Traffic Indication"
    first = indications[0]
    assert (str(first.outer_src), str(first.outer_dst)) == (HUB_NBMA, SPOKE1_NBMA)
    assert str(first.packet.dst_proto) == H1  # to the source of the redirected packet
    assert seen.messages(PacketType.TRAFFIC_INDICATION, link=HUB_WAN, since=since), "sent by the hub"

    requests = seen.echo(H1, H2, since=since)
    later = [s for s in requests if s.time > first.time + 0.2]
    assert later and HUB_WAN not in seen.links(later), "then the traffic goes spoke to spoke"
    # The shortcut is in the NHRP cache; the Phase 2 static route for the same prefix keeps
    # precedence (distance 1 against NHRP's 250) and is not replaced, as on IOS.
    assert wait_for(lambda: "192.168.2.0/24 via 10.0.0.3" in cli(lab, "spoke1", "show ip nhrp"), timeout=5), \
        cli(lab, "spoke1", "show ip nhrp")
    assert "S     192.168.2.0/24 [1/0] via 10.0.0.3" in cli(lab, "spoke1", "show ip route")
    kernel = lab.exec("spoke1", ["ip", "route", "show", "192.168.2.0/24"]).stdout
    assert "proto static" in kernel and "proto nhrp" in kernel and "metric 250" in kernel


def test_exec_ping_and_traceroute_from_the_router_through_the_tunnel(lab):
    """IOS `ping` / `traceroute` typed at spoke1, run from its own namespace: echoes to
    spoke2's LAN cross Tunnel0 while the agent (the data plane) keeps forwarding them."""
    from ntc_templates.parse import parse_output
    brief = cli(lab, "spoke1", "show ip interface brief")
    lan = next(line.split()[0] for line in brief.splitlines() if " 192.168.1.1 " in line)
    text = cli(lab, "spoke1", f"ping 192.168.2.1 source {lan} repeat 5")
    row, = parse_output(platform="cisco_ios", command="ping", data=text)
    assert row["source"] == "192.168.1.1" and row["sent_qty"] == "5", text
    assert int(row["success_qty"]) >= 4, text  # the first echo may wait for a resolution
    trace = cli(lab, "spoke1", "traceroute 192.168.2.10 numeric")
    hops = parse_output(platform="cisco_ios", command="traceroute", data=trace)
    assert hops and hops[-1]["ip_address"] == "192.168.2.10", trace
