"""Root only: router-on-a-stick in user space. Two `dmvpnlab agent` routers on one veth,
each with subinterfaces GigabitEthernet0/0.10 and .20 (`encapsulation dot1Q 10|20`) and a
native VLAN subinterface .30, from IOS startup configs; pings per VLAN cross, and the
capture on the veth shows VLAN 10 and 20 tagged (tshark `vlan.id`) and the native VLAN
untagged, with no duplicate replies (the parent's own stack must not answer for the
native subinterface). Then `configure terminal` removes .20 and adds .40: the TAPs follow.
Run under the lab lock (`flock /tmp/dmvpnlab-scenarios.lock ...`).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from l2_live import configure, ip, netns_exec, ready, start_agent_text, state, stop_all, wait_for
from netns_live import start_capture, stop, tshark_count

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None or shutil.which("nft") is None,
    reason="needs root, iproute2, /dev/net/tun, nft, tcpdump and tshark",
)


def router(n: int) -> str:
    return f"""hostname R{n}
interface GigabitEthernet0/0
 no ip address
!
interface GigabitEthernet0/0.10
 encapsulation dot1Q 10
 ip address 10.10.0.{n} 255.255.255.0
!
interface GigabitEthernet0/0.20
 encapsulation dot1Q 20
 ip address 10.20.0.{n} 255.255.255.0
!
interface GigabitEthernet0/0.30
 encapsulation dot1Q 30 native
 ip address 10.30.0.{n} 255.255.255.0
!
end
"""


def ping(ns: str, address: str) -> Any:
    return netns_exec(ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", address)


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
            procs.append(start_agent_text(ns[node], node, dirs[node], router(n)))
        for node, proc in zip(ns, procs):
            wait_for(f"{node} ready", lambda d=dirs[node], p=proc: ready(d, p))
        links = netns_exec(ns["r1"], "ip", "-o", "link", "show").stdout
        mac = netns_exec(ns["r1"], "cat", "/sys/class/net/r1-eth0/address").stdout.strip()
        for vlan in (10, 20, 30):  # wired_linux_name: Gi0-0.N, the parent's MAC
            assert f"Gi0-0.{vlan}" in links, links
            assert netns_exec(ns["r1"], "cat", f"/sys/class/net/Gi0-0.{vlan}/address").stdout.strip() == mac
        for vlan in (10, 20, 30):
            pings[vlan] = ping(ns["r1"], f"10.{vlan}.0.2")
        r1 = state(dirs["r1"])
        for d, n in ((dirs["r1"], 1), (dirs["r2"], 2)):
            configure(d, "no interface GigabitEthernet0/0.20", "interface GigabitEthernet0/0.40",
                      "encapsulation dot1Q 40", f"ip address 10.40.0.{n} 255.255.255.0")
        after = netns_exec(ns["r1"], "ip", "-o", "link", "show").stdout
        pings[40] = ping(ns["r1"], "10.40.0.2")
        gone = ping(ns["r1"], "10.20.0.2")
    finally:
        stop_all(procs, [])
        if capture is not None:
            time.sleep(0.5)
            stop(capture)
        stop_all([], made)
    logs = "".join((d / "agent.log").read_text() for d in dirs.values() if (d / "agent.log").exists())
    assert "Traceback" not in logs, logs
    for vlan, result in pings.items():
        assert result.returncode == 0 and "DUP" not in result.stdout, (vlan, result.stdout + result.stderr)
    assert gone.returncode != 0
    assert "Gi0-0.40" in after and "Gi0-0.20" not in after, after
    assert set(r1["dot1q"]["subinterfaces"]) == {"GigabitEthernet0/0.10", "GigabitEthernet0/0.20",
                                                 "GigabitEthernet0/0.30"}
    for vlan in (10, 20, 40):
        assert tshark_count(pcap, f"vlan.id == {vlan} && icmp.type == 8 && ip.dst == 10.{vlan}.0.2") == 3
        assert tshark_count(pcap, f"vlan.id == {vlan} && icmp.type == 0 && ip.src == 10.{vlan}.0.2") == 3
        assert tshark_count(pcap, f"vlan.id == {vlan} && arp") >= 2
    assert tshark_count(pcap, "!vlan && icmp.type == 0 && ip.src == 10.30.0.2") == 3  # native: untagged
    assert tshark_count(pcap, "!vlan && (ip.addr == 10.10.0.0/16 || ip.addr == 10.20.0.0/16)") == 0
    assert tshark_count(pcap, "_ws.malformed") == 0


ROUTER_ON_A_STICK = """hostname Gateway
ip dhcp excluded-address 10.10.0.1
ip dhcp excluded-address 10.20.0.1
ip dhcp pool V10
 network 10.10.0.0 255.255.255.0
 default-router 10.10.0.1
ip dhcp pool V20
 network 10.20.0.0 255.255.255.0
 default-router 10.20.0.1
!
interface GigabitEthernet0/0
 no ip address
!
interface GigabitEthernet0/0.10
 encapsulation dot1Q 10
 ip address 10.10.0.1 255.255.255.0
!
interface GigabitEthernet0/0.20
 encapsulation dot1Q 20
 ip address 10.20.0.1 255.255.255.0
!
end
"""
DHCP_ON_VLANS = """hostname Branch
interface GigabitEthernet0/0
 no ip address
!
interface GigabitEthernet0/0.10
 encapsulation dot1Q 10
 ip address dhcp
!
interface GigabitEthernet0/0.20
 encapsulation dot1Q 20
 ip address dhcp
!
end
"""


def test_dhcp_pools_per_vlan_lease_to_dhcp_subinterfaces(tmp_path):
    """A pool per VLAN answers on its subinterface; the other router's subinterfaces lease
    one address in each VLAN (DHCP tagged on the wire) and reach their gateways."""
    tag = f"{os.getpid() % 100000}"
    ns = {"gw": f"dlt-l2v-gw-{tag}", "br": f"dlt-l2v-br-{tag}"}
    made: list[str] = []
    procs: list[Any] = []
    capture = None
    pcap = tmp_path / "trunk.pcap"
    dirs = {n: tmp_path / n for n in ns}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "gw-eth0", "netns", ns["gw"], "type", "veth", "peer", "name", "br-eth0", "netns", ns["br"])
        for node in ns:
            ip("-n", ns[node], "link", "set", "lo", "up")
            ip("-n", ns[node], "link", "set", f"{node}-eth0", "up")
        capture = start_capture(ns["gw"], "gw-eth0", pcap)
        for node, config in (("gw", ROUTER_ON_A_STICK), ("br", DHCP_ON_VLANS)):
            procs.append(start_agent_text(ns[node], node, dirs[node], config))
        for node, proc in zip(ns, procs):
            wait_for(f"{node} ready", lambda d=dirs[node], p=proc: ready(d, p))
        leases = wait_for("both leases", lambda: (lambda c: c if all(v.get("address") for v in c.values()) else None)(
            state(dirs["br"])["dhcp"]["clients"]))
        pings = [ping(ns["br"], f"10.{vlan}.0.1") for vlan in (10, 20)]
    finally:
        stop_all(procs[::-1], [])
        if capture is not None:
            time.sleep(0.5)
            stop(capture)
        stop_all([], made)
    assert {k: v["address"] for k, v in leases.items()} == {"GigabitEthernet0/0.10": "10.10.0.2/24",
                                                            "GigabitEthernet0/0.20": "10.20.0.2/24"}
    assert all(p.returncode == 0 for p in pings), [p.stdout for p in pings]
    for vlan in (10, 20):
        assert tshark_count(pcap, f"vlan.id == {vlan} && dhcp.option.dhcp == 5 && dhcp.ip.your == 10.{vlan}.0.2") == 1
    assert tshark_count(pcap, "!vlan && dhcp") == 0
