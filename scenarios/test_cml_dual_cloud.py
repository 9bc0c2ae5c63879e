"""CML lab topologies/cml/dual-cloud.yaml, run unchanged: Cisco's dual hub dual cloud DMVPN.

Hub1 is cloud 1 (Tunnel0, NHRP network-id 1, `tunnel key 100`), Hub2 cloud 2 (Tunnel1,
network-id 2, key 200); the hubs share a headend LAN; each spoke has Tunnel0 and Tunnel1 on
the same source (GigabitEthernet0/0, one NBMA address: the GRE key tells the clouds apart).
EIGRP 100 runs over both clouds and Tunnel1 has the higher `delay`, so the lab prefers cloud
1 and keeps cloud 2 as the backup. Checked the way a user checks it: `show dmvpn` on each hub
and spoke (read by ntc-templates), `show ip route`, `ping ... source Loopback0`, and the GRE
keys on the spoke's switch port read by tshark (`gre.key`).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from cml_checks import CML, assert_all_echoes, bring_up, route_line, router_ping
from crossings import wait_for
from test_cli_configure import cli

NBMA = {"Hub1": "172.16.0.1", "Spoke1": "172.16.0.2", "Spoke2": "172.16.0.3", "Hub2": "172.16.0.4"}
HUB_TUNNEL = {"Hub1": "192.168.0.1", "Hub2": "192.168.1.1"}
KEY = {"Hub1": 100, "Hub2": 200}  # the cloud's `tunnel key`
SPOKES = ("Spoke1", "Spoke2")


@pytest.fixture(scope="module")
def lab():
    yield from bring_up(CML / "dual-cloud.yaml")


def _rows(lab: Any, node: str) -> list[dict[str, str]]:
    from ntc_templates.parse import parse_output

    return parse_output(platform="cisco_ios", command="show dmvpn", data=cli(lab, node, "show dmvpn"))


def _registered(lab: Any, timeout: float = 20.0) -> None:
    """Both hubs list both spokes UP (ntc-templates' reading of `show dmvpn`)."""
    def up(hub: str) -> bool:
        states = {row["peer_nbma"]: row["state"] for row in _rows(lab, hub)}
        return all(states.get(NBMA[s]) == "UP" for s in SPOKES)
    assert wait_for(lambda: up("Hub1") and up("Hub2"), timeout=timeout, step=0.5), \
        cli(lab, "Hub1", "show dmvpn") + cli(lab, "Hub2", "show dmvpn")


def _summary_via(lab: Any, node: str, hub: str, timeout: float = 30.0) -> str:
    """Wait until `node` routes the hubs' 10.0.0.0/16 summary via `hub`'s tunnel address; the table."""
    table = ""

    def ok() -> bool:
        nonlocal table
        table = cli(lab, node, "show ip route")
        return route_line(table, "D", "10.0.0.0/16", 90, HUB_TUNNEL[hub])
    assert wait_for(ok, timeout=timeout, step=0.5), table
    return table


def _gre(lab: Any, link: str, since: float) -> list[tuple[str, str, int, int, str]]:
    """GRE on a link's capture since `since`: (outer src, outer dst, key, protocol, inner dst) by tshark."""
    lab.flush_captures()
    path = Path(lab.captures.directory) / f"{link}.pcapng"
    assert path.exists(), f"no capture of {link}"
    done = subprocess.run(["tshark", "-r", str(path), "-Y", f"gre && frame.time_epoch >= {since:.6f}",
                           "-T", "fields", "-E", "separator=|", "-e", "ip.src", "-e", "ip.dst", "-e", "gre.key",
                           "-e", "gre.proto"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines():
        src, dst, key, proto = line.split("|")
        dsts = dst.split(",")
        rows.append((src.split(",")[0], dsts[0], int(key, 0) if key else -1, int(proto, 0),
                     dsts[1] if len(dsts) > 1 else ""))
    return rows


def test_every_spoke_registers_with_both_hubs(lab):
    _registered(lab)
    for hub in ("Hub1", "Hub2"):
        rows = _rows(lab, hub)
        assert {(r["peer_nbma"], r["state"]) for r in rows} == {(NBMA[s], "UP") for s in SPOKES}, rows
    for spoke in SPOKES:
        text = cli(lab, spoke, "show dmvpn")
        assert re.findall(r"^Interface: (Tunnel\d+), IPv4 NHRP Details", text, re.MULTILINE) == \
            ["Tunnel0", "Tunnel1"], text
        assert wait_for(lambda: [(r["peer_nbma"], r["peer_tunnel"], r["state"]) for r in _rows(lab, spoke)] == [
            (NBMA["Hub1"], HUB_TUNNEL["Hub1"], "UP"), (NBMA["Hub2"], HUB_TUNNEL["Hub2"], "UP")], timeout=10), \
            cli(lab, spoke, "show dmvpn")


def test_eigrp_prefers_cloud_1_and_learns_cloud_2_as_well(lab):
    """Tunnel0's `delay 1000` beats Tunnel1's `delay 1500`: the summary goes via Hub1; Spoke1
    has EIGRP neighbours on both tunnels; Hub2's loopback is reached over the headend LAN via Hub1,
    and Hub2 itself reaches the spokes that way (as on IOS: the LAN + Tunnel0 beats Tunnel1's delay)."""
    _registered(lab)
    table = _summary_via(lab, "Spoke1", "Hub1")
    assert not route_line(table, "D", "10.0.0.0/16", 90, HUB_TUNNEL["Hub2"]), "no equal-cost path via cloud 2"
    assert wait_for(lambda: route_line(cli(lab, "Spoke1", "show ip route"), "D", "10.10.0.0/24", 90,
                                       HUB_TUNNEL["Hub1"]), timeout=30), cli(lab, "Spoke1", "show ip route")
    neighbors = cli(lab, "Spoke1", "show ip eigrp neighbors")
    assert re.search(rf"{re.escape(HUB_TUNNEL['Hub1'])}\s+Tu0\s", neighbors), neighbors
    assert re.search(rf"{re.escape(HUB_TUNNEL['Hub2'])}\s+Tu1\s", neighbors), neighbors
    # Hub2 too sends to the spokes through cloud 1: over the headend LAN to Hub1, not over its Tunnel1.
    hub2 = cli(lab, "Hub2", "show ip route")
    assert route_line(hub2, "D", "10.0.1.0/24", 90, "10.0.100.1"), hub2
    assert re.search(r"^D\s+10\.0\.0\.0/16 is a summary, .*Null0$", hub2, re.MULTILINE), hub2


def test_spoke_to_spoke_ping_rides_cloud_1_with_key_100(lab):
    _registered(lab)
    _summary_via(lab, "Spoke1", "Hub1")
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    time.sleep(0.5)
    gre = _gre(lab, "Spoke1-Gi0-0", since - 0.1)
    echoes = [g for g in gre if g[3] == 0x0800 and g[4] == "10.0.2.1"]
    assert echoes and {g[2] for g in echoes} == {KEY["Hub1"]}, gre
    for hub in ("Hub1", "Hub2"):  # whatever else crossed (hellos, registrations) has its cloud's key
        keys = {g[2] for g in gre if NBMA[hub] in (g[0], g[1])}
        assert keys <= {KEY[hub]}, (hub, keys)


def test_hub2_loopback_over_cloud_2_carries_key_200(lab):
    """Hub2's own tunnel address is reached over Tunnel1 only: GRE key 200 between Spoke1 and Hub2."""
    _registered(lab)
    since = time.time()
    text = cli(lab, "Spoke1", f"ping {HUB_TUNNEL['Hub2']} source Tunnel1")
    assert "Success rate is 100 percent (5/5)" in text, text
    time.sleep(0.5)
    gre = _gre(lab, "Spoke1-Gi0-0", since - 0.1)
    echoes = [g for g in gre if g[3] == 0x0800 and g[4] == HUB_TUNNEL["Hub2"]]
    assert len(echoes) >= 5 and {(g[0], g[1], g[2]) for g in echoes} == {
        (NBMA["Spoke1"], NBMA["Hub2"], KEY["Hub2"])}, echoes


def test_cloud_2_takes_over_when_spoke1s_tunnel0_shuts(lab):
    """`shutdown` on Spoke1's Tunnel0: the summary moves to Hub2 over Tunnel1, and once Hub1 has
    lost Spoke1 the ping succeeds again (key 200 on Spoke1's port now); `no shutdown` brings
    cloud 1 back as the preferred path."""
    _registered(lab)
    _summary_via(lab, "Spoke1", "Hub1")
    cli(lab, "Spoke1", "configure terminal", "interface Tunnel0", "shutdown", "end")
    try:
        _summary_via(lab, "Spoke1", "Hub2")
        # Hub1 still holds Spoke1 as its EIGRP neighbour on Tunnel0 until the hold time (15 s)
        # runs out, as on IOS (a shut interface sends no goodbye); then it reaches Spoke1's
        # loopback over the headend LAN and Hub2's Tunnel1, and the replies find their way back.
        for hub, via in (("Hub1", "10.0.100.2"), ("Hub2", "192.168.1.2")):
            assert wait_for(lambda: route_line(cli(lab, hub, "show ip route"), "D", "10.0.1.0/24", 90, via),
                            timeout=30, step=1), cli(lab, hub, "show ip route")
        # Spoke2's Phase 3 shortcut to Spoke1's Tunnel0 (from the pings before) would keep
        # sending to the shut interface until it expires, as on IOS: clear it, as an operator would.
        cli(lab, "Spoke2", "clear ip nhrp")
        assert wait_for(lambda: "!!!!!" in router_ping(lab, "Spoke1", "10.0.2.1")[1], timeout=15, step=0.5)
        since, text = router_ping(lab, "Spoke1", "10.0.2.1")
        assert_all_echoes(text, source="10.0.1.1")
        time.sleep(0.5)
        echoes = [g for g in _gre(lab, "Spoke1-Gi0-0", since - 0.1) if g[3] == 0x0800 and g[4] == "10.0.2.1"]
        assert echoes and {g[2] for g in echoes} == {KEY["Hub2"]}, echoes
    finally:
        cli(lab, "Spoke1", "configure terminal", "interface Tunnel0", "no shutdown", "end")
    _summary_via(lab, "Spoke1", "Hub1", timeout=40)


def test_hub1_killed_moves_every_spoke_to_cloud_2_and_back_when_it_returns(lab, lab_faults):
    """Hub1's router dies (its agent SIGKILLed, recorded in the fault record): once the EIGRP
    hold time (IOS default 15 s: no goodbye from a dead router) runs out, both spokes route
    the summary via Hub2 over Tunnel1, and spoke-to-spoke traffic rides key 200. Hub1 back:
    the spokes register with it again and prefer cloud 1 again. The spokes are given
    `ip nhrp registration timeout 5` first, as an operator wanting a quick return would: without
    it, registrations to a dead NHS back off to 64 s as on IOS."""
    for spoke in SPOKES:
        cli(lab, spoke, "configure terminal", "interface Tunnel0", "ip nhrp registration timeout 5", "end")
    _registered(lab)
    for spoke in SPOKES:
        _summary_via(lab, spoke, "Hub1")
    kill = lab_faults.fault("kill", "Hub1")
    moved = {}
    for spoke in SPOKES:
        _summary_via(lab, spoke, "Hub2", timeout=40)
        moved[spoke] = round(time.time() - kill.time, 2)
    print(f"Hub1 killed: the summary via Hub2 (cloud 2) after {moved} s (EIGRP hold 15 s)")
    assert wait_for(lambda: "!!!!!" in router_ping(lab, "Spoke1", "10.0.2.1")[1], timeout=20, step=0.5)
    since, text = router_ping(lab, "Spoke1", "10.0.2.1")
    assert_all_echoes(text, source="10.0.1.1")
    time.sleep(0.5)
    keys = {g[2] for g in _gre(lab, "Spoke1-Gi0-0", since - 0.1) if g[3] == 0x0800 and g[4] == "10.0.2.1"}
    assert keys == {KEY["Hub2"]}, keys
    restart = lab_faults.fault("restart", "Hub1")
    _registered(lab, timeout=30)
    for spoke in SPOKES:
        _summary_via(lab, spoke, "Hub1", timeout=40)
    print(f"Hub1 back: both spokes via cloud 1 again {time.time() - restart.time:.1f} s after the restart")
