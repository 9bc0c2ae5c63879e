"""Dual hub, single cloud: every spoke registered with both NHSs; hub 1 dies, hub 2 carries.

Lab: hub (NHS priority 1) and hub2 (priority 2, larger tunnel delay) on one Tunnel0 network,
spoke1..spoke4, EIGRP over the tunnel, Phase 3. Before the kill, spoke1-spoke2 and
spoke3-spoke4 have shortcuts. Killing hub (SIGKILL, it stays dead): the shortcuts carry on
untouched, and new spoke-to-spoke flows (1->3, 2->4, 3->2, 4->1) reach hub2 once EIGRP's
hold time drops hub; hub2 redirects and they go direct. The failover time is read from the
captures: first echo request of each new flow on hub2's WAN minus the kill's recorded time.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from crossings import agent_state, captures, ping, shortcuts, wait_for
from dmvpnlab.lab.lab import MNEXEC
from fault_checks import nhs_states

pytestmark = pytest.mark.dmvpn_topology("topologies/dual-hub.yaml")
HUB1, HUB2 = "10.0.0.1", "10.0.0.101"
HOST = {n: f"192.168.{n}.10" for n in range(1, 5)}
TUNNEL = {n: f"10.0.0.{n + 1}" for n in range(1, 5)}
NEW_FLOWS = [(1, 3), (2, 4), (3, 2), (4, 1)]


def summary_next_hop(lab, spoke: str) -> str | None:
    """The next hop of the EIGRP summary 192.168.0.0/16 in the spoke's kernel table."""
    out = lab.exec(spoke, ["ip", "route", "show", "192.168.0.0/16"]).stdout.split()
    return out[out.index("via") + 1] if "via" in out else None


def test_every_spoke_registers_with_both_hubs_and_routes_via_the_preferred(lab):
    for n in range(1, 5):
        assert wait_for(lambda: nhs_states(lab, f"spoke{n}") == {HUB1: "R", HUB2: "R"}, timeout=10), n
        assert wait_for(lambda: summary_next_hop(lab, f"spoke{n}") == HUB1, timeout=15), n
    text = lab.cli("spoke1", "show ip nhrp nhs", "show dmvpn")
    assert HUB1 in text and HUB2 in text
    for hub in ("hub", "hub2"):
        registered = {e["next_hop"] for e in agent_state(lab, hub)["nhrp"]["cache"] if "registered" in e["flags"]}
        assert registered == set(TUNNEL.values()), hub


def test_hub1_killed_traffic_moves_to_hub2_and_shortcuts_survive(lab, lab_faults):
    for a, b in ((1, 2), (3, 4)):
        _, result = ping(lab, f"h{a}", HOST[b], count=6)
        assert result.ok
        assert wait_for(lambda: f"192.168.{b}.0/24 via {TUNNEL[b]}" in shortcuts(lab, f"spoke{a}"), timeout=5)
    # Continuous pings on the shortcuts (1<->2) through the kill; new flows start at the kill.
    steady = subprocess.Popen([MNEXEC, "-a", str(lab.node("h1").pid), "ping", "-n", "-c", "100", "-i", "0.1",
                               "-W", "1", HOST[2]], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    kill = lab_faults.fault("kill", "hub")
    flows = [subprocess.Popen([MNEXEC, "-a", str(lab.node(f"h{a}").pid), "ping", "-n", "-c", "100", "-i", "0.1",
                               "-W", "1", HOST[b]], stdout=subprocess.PIPE, text=True) for a, b in NEW_FLOWS]
    try:
        for p in flows:
            p.communicate(timeout=30)
        steady_out = steady.communicate(timeout=30)[0]
    finally:
        for p in [steady, *flows]:
            if p.poll() is None:
                p.kill()
    seen = captures(lab)
    failover = {}
    for a, b in NEW_FLOWS:
        via_hub2 = [s for s in seen.echo(HOST[a], HOST[b], since=kill.time) if s.link == "hub2-isp"]
        assert via_hub2, f"h{a} -> h{b}: nothing via hub2"
        failover[f"spoke{a}"] = round(via_hub2[0].time - kill.time, 3)
    print(f"hub killed: first packet via hub2 after {failover} s (EIGRP hold 3 s)")
    assert all(t <= 5.0 for t in failover.values()), failover
    for a, b in NEW_FLOWS:  # hub2 redirected them: each new pair has its shortcut
        assert wait_for(lambda: f"192.168.{b}.0/24 via {TUNNEL[b]}" in shortcuts(lab, f"spoke{a}"), timeout=5), (a, b)
    # The shortcut that was up lost nothing: every echo of the steady flow was answered.
    assert " 0% packet loss" in steady_out, steady_out[-200:]
    assert not [s for s in seen.echo(HOST[1], HOST[2], since=kill.time) if s.link in ("hub-isp", "hub2-isp")]
    assert all(nhs_states(lab, f"spoke{n}")[HUB1] == "E" for n in range(1, 5))
    assert all(summary_next_hop(lab, f"spoke{n}") == HUB2 for n in range(1, 5))
    lab.records.directory.joinpath("failover.json").write_text(str(failover))

    # Hub 1 back: every spoke registers again and routes via it (the preferred path) again.
    restart = lab_faults.fault("restart", "hub")
    assert wait_for(lambda: all(nhs_states(lab, f"spoke{n}")[HUB1] == "R" for n in range(1, 5)), timeout=15)
    registered = time.time() - restart.time
    assert wait_for(lambda: all(summary_next_hop(lab, f"spoke{n}") == HUB1 for n in range(1, 5)), timeout=15)
    print(f"hub back: all spokes registered {registered:.2f} s and route via it {time.time() - restart.time:.2f} s "
          f"after the restart began")


def test_with_max_connections_1_a_spoke_waits_on_hub2_uses_it_while_hub1_is_dead_and_falls_back(lab, lab_faults):
    """`ip nhrp nhs cluster 0 max-connections 1` + `ip nhrp nhs fallback 4` on spoke4: it
    registers with hub (priority 1) only, hub2 (priority 2) waits (W). Hub killed: hub goes E
    and hub2 is activated (R). Hub back: once it answers again for 4 s, spoke4 returns to it
    and hub2 waits again. Registrations to hub2 appear on the wire only in between."""
    lab.cli("spoke4", "configure terminal", "interface Tunnel0", "ip nhrp nhs cluster 0 max-connections 1",
            "ip nhrp nhs fallback 4", "end")
    assert wait_for(lambda: nhs_states(lab, "spoke4") == {HUB1: "R", HUB2: "W"}, timeout=15), nhs_states(lab, "spoke4")
    time.sleep(3)
    quiet_since = time.time()
    kill = lab_faults.fault("kill", "hub")
    assert wait_for(lambda: nhs_states(lab, "spoke4") == {HUB1: "E", HUB2: "R"}, timeout=20), nhs_states(lab, "spoke4")
    activated = time.time() - kill.time
    detail = lab.cli("spoke4", "show ip nhrp nhs detail")
    assert re.search(rf"{HUB1}\s+E\b", detail) and re.search(rf"{HUB2}\s+RE?\b", detail), detail
    restart = lab_faults.fault("restart", "hub")
    assert wait_for(lambda: nhs_states(lab, "spoke4") == {HUB1: "R", HUB2: "W"}, timeout=30), nhs_states(lab, "spoke4")
    fell_back = time.time() - restart.time
    print(f"max-connections 1: hub2 activated {activated:.1f} s after hub was killed; "
          f"back on hub {fell_back:.1f} s after its restart began (fallback 4 s)")
    assert fell_back >= 4.0
    seen = captures(lab)
    to_hub2 = [m.time for m in seen.messages(3, link="spoke4-isp", since=quiet_since) if str(m.outer_dst) == "100.64.100.1"]
    assert to_hub2 and min(to_hub2) > kill.time, "no registration to the waiting hub2 before hub died"
    settled = time.time()
    time.sleep(5)
    later = [m for m in captures(lab).messages(3, link="spoke4-isp", since=settled) if str(m.outer_dst) == "100.64.100.1"]
    assert later == [], "spoke4 still registers with hub2 after falling back"
