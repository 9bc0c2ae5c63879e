"""Root only: router-on-a-stick in user space. Two router agents on one veth, each with
subinterfaces GigabitEthernet0/0.10 and .20 (`encapsulation dot1Q 10|20`) and a native
VLAN subinterface .30; pings per VLAN cross, and the capture on the veth shows VLAN 10 and
20 tagged (tshark `vlan.id`) and the native VLAN untagged, with no duplicate replies (the
parent's own stack must not answer for the native subinterface).
Run under the lab lock (`flock /tmp/dmvpnlab-scenarios.lock ...`).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from l2_live import ip, netns_exec, ready, start_agent, state, stop_all, wait_for
from netns_live import start_capture, stop, tshark_count

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None or shutil.which("nft") is None,
    reason="needs root, iproute2, /dev/net/tun, nft, tcpdump and tshark",
)


def router(n: int) -> dict[str, Any]:
    return {"hostname": f"R{n}", "interfaces": [
        {"name": "GigabitEthernet0/0"},
        {"name": "GigabitEthernet0/0.10", "vlan": 10, "address": f"10.10.0.{n}/24"},
        {"name": "GigabitEthernet0/0.20", "vlan": 20, "address": f"10.20.0.{n}/24"},
        {"name": "GigabitEthernet0/0.30", "vlan": 30, "native": True, "address": f"10.30.0.{n}/24"}]}


def test_two_routers_ping_per_vlan_and_the_wire_shows_the_tags(tmp_path):
    tag = f"{os.getpid() % 100000}"
    ns = {"r1": f"dlt-l2q-r1-{tag}", "r2": f"dlt-l2q-r2-{tag}"}
    made: list[str] = []
    procs: list[Any] = []
    capture = None
    pcap = tmp_path / "trunk.pcap"
    dirs = {n: tmp_path / n for n in ns}
    pings: dict[int, Any] = {}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "r1-eth0", "netns", ns["r1"], "type", "veth", "peer", "name", "r2-eth0", "netns", ns["r2"])
        for node in ns:
            ip("-n", ns[node], "link", "set", "lo", "up")
            ip("-n", ns[node], "link", "set", f"{node}-eth0", "up")
        capture = start_capture(ns["r1"], "r1-eth0", pcap)
        for n, node in enumerate(ns, start=1):
            procs.append(start_agent(ns[node], node, dirs[node], router(n)))
        for node, proc in zip(ns, procs):
            wait_for(f"{node} ready", lambda d=dirs[node], p=proc: ready(d, p))
        links = netns_exec(ns["r1"], "ip", "-o", "link", "show").stdout
        mac = netns_exec(ns["r1"], "cat", "/sys/class/net/r1-eth0/address").stdout.strip()
        for vlan in (10, 20, 30):
            assert f"r1-eth0.{vlan}" in links, links
            assert netns_exec(ns["r1"], "cat", f"/sys/class/net/r1-eth0.{vlan}/address").stdout.strip() == mac
        for vlan in (10, 20, 30):
            pings[vlan] = netns_exec(ns["r1"], "ping", "-c", "3", "-i", "0.2", "-W", "2", f"10.{vlan}.0.2")
        r1 = state(dirs["r1"])
    finally:
        stop_all(procs, [])
        if capture is not None:
            time.sleep(0.5)
            stop(capture)
        stop_all([], made)
    logs = "".join((d / "agent.log").read_text() for d in dirs.values() if (d / "agent.log").exists())
    assert "Traceback" not in logs, logs
    for vlan, ping in pings.items():
        assert ping.returncode == 0 and "DUP" not in ping.stdout, (vlan, ping.stdout + ping.stderr)
    assert set(r1["dot1q"]["subinterfaces"]) == {"GigabitEthernet0/0.10", "GigabitEthernet0/0.20",
                                                 "GigabitEthernet0/0.30"}
    for vlan in (10, 20):
        assert tshark_count(pcap, f"vlan.id == {vlan} && icmp.type == 8 && ip.dst == 10.{vlan}.0.2") == 3
        assert tshark_count(pcap, f"vlan.id == {vlan} && icmp.type == 0 && ip.src == 10.{vlan}.0.2") == 3
        assert tshark_count(pcap, f"vlan.id == {vlan} && arp") >= 2
    assert tshark_count(pcap, "!vlan && icmp.type == 0 && ip.src == 10.30.0.2") == 3  # native: untagged
    assert tshark_count(pcap, "!vlan && (ip.addr == 10.10.0.0/16 || ip.addr == 10.20.0.0/16)") == 0
    assert tshark_count(pcap, "_ws.malformed") == 0
