"""Root only: a router agent with `ip dhcp pool` leases an address to a router agent with
`ip address dhcp` over a real veth; the client installs it with the default route (metric
254, IOS's distance), pings the server, renews at T1; the capture decodes cleanly.
Run under the lab lock (`flock /tmp/dmvpnlab-scenarios.lock ...`).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from l2_live import cli, ip, netns_exec, ready, start_agent, state, stop_all, wait_for
from netns_live import start_capture, stop, tshark_count

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None,
    reason="needs root, iproute2, /dev/net/tun, tcpdump and tshark",
)

SERVER = {"hostname": "Server", "interfaces": [{"name": "GigabitEthernet0/0", "address": "198.51.100.1/24"}],
          "pools": [{"name": "WAN", "network": "198.51.100.0/24", "routers": ["198.51.100.1"],
                     "dns": ["198.51.100.53"], "lease": 6}],
          "excluded": [["198.51.100.1", "198.51.100.9"]]}
CLIENT = {"hostname": "Spoke1", "interfaces": [{"name": "GigabitEthernet0/0", "dhcp": True}]}


def test_client_leases_installs_pings_and_renews(tmp_path):
    tag = f"{os.getpid() % 100000}"
    ns = {"srv": f"dlt-l2d-srv-{tag}", "cli": f"dlt-l2d-cli-{tag}"}
    made: list[str] = []
    procs: list[Any] = []
    capture = None
    pcap = tmp_path / "wan.pcap"
    dirs = {n: tmp_path / n for n in ns}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "srv-eth0", "netns", ns["srv"], "type", "veth", "peer", "name", "cli-eth0", "netns", ns["cli"])
        for node in ns:
            ip("-n", ns[node], "link", "set", "lo", "up")
            ip("-n", ns[node], "link", "set", f"{node}-eth0", "up")
        capture = start_capture(ns["srv"], "srv-eth0", pcap)
        procs.append(start_agent(ns["srv"], "srv", dirs["srv"], SERVER))
        wait_for("server ready", lambda: ready(dirs["srv"], procs[0]))
        procs.append(start_agent(ns["cli"], "cli", dirs["cli"], CLIENT))
        wait_for("client ready", lambda: ready(dirs["cli"], procs[1]))
        lease = wait_for("a lease", lambda: state(dirs["cli"])["dhcp"]["clients"]["GigabitEthernet0/0"].get("address"))
        assert lease == "198.51.100.10/24"
        addresses = netns_exec(ns["cli"], "ip", "-4", "-o", "addr", "show", "dev", "cli-eth0").stdout
        assert "198.51.100.10/24" in addresses
        routes = netns_exec(ns["cli"], "ip", "route", "show", "default").stdout
        assert "default via 198.51.100.1 dev cli-eth0 metric 254" in routes, routes  # proto boot: iproute2 omits it
        ping = netns_exec(ns["cli"], "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.1")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        time.sleep(4.0)  # T1 = 3 s: at least one unicast renewal
        client_state = state(dirs["cli"])["dhcp"]["clients"]["GigabitEthernet0/0"]
        server_state = state(dirs["srv"])["dhcp"]
        shows = {line: cli(d, line) for d, line in ((dirs["srv"], "show ip dhcp binding"),
                                                     (dirs["cli"], "show ip interface brief"),
                                                     (dirs["cli"], "show dhcp lease"))}
    finally:
        stop_all(procs[::-1], [])  # the client first: its RELEASE reaches a listening server
        if capture is not None:
            time.sleep(0.5)
            stop(capture)
        stop_all([], made)
    logs = "".join((d / "agent.log").read_text() for d in dirs.values() if (d / "agent.log").exists())
    assert "Traceback" not in logs, logs
    assert client_state["state"] == "BOUND" and client_state["address"] == "198.51.100.10/24"
    assert client_state["counters"]["bound"] >= 2, client_state  # the first ACK and a renewal
    [binding] = server_state["bindings"]
    assert binding["address"] == "198.51.100.10" and binding["state"] == "Active"
    assert "198.51.100.10" in shows["show ip dhcp binding"] and "Automatic" in shows["show ip dhcp binding"]
    brief = [line for line in shows["show ip interface brief"].splitlines() if line.startswith("GigabitEthernet0/0")]
    assert brief and "198.51.100.10" in brief[0] and " DHCP " in brief[0], shows["show ip interface brief"]
    assert "Temp IP addr: 198.51.100.10" in shows["show dhcp lease"], shows["show dhcp lease"]
    # on the wire: DORA with the broadcast flag, renewals unicast; everything decodes
    assert tshark_count(pcap, "dhcp.option.dhcp == 1 && ip.src == 0.0.0.0 && ip.dst == 255.255.255.255") >= 1
    assert tshark_count(pcap, "dhcp.option.dhcp == 2 && dhcp.flags.bc == 1") >= 1
    assert tshark_count(pcap, "dhcp.option.dhcp == 5") >= 2
    assert tshark_count(pcap, "dhcp.option.dhcp == 3 && ip.dst == 198.51.100.1") >= 1  # a renewal
    assert tshark_count(pcap, "icmp.type == 0") >= 3
    assert tshark_count(pcap, "_ws.malformed || _ws.expert.severity >= warning || icmp.type == 3") == 0


def test_linux_host_client_leases_pings_and_releases(tmp_path):
    """`dmvpnlab dhcp-client IFNAME` in a host namespace: lease, default route, ping, and
    on SIGTERM a RELEASE that frees the server's binding and removes the address."""
    import subprocess
    import sys

    tag = f"{os.getpid() % 100000}"
    ns = {"srv": f"dlt-l2h-srv-{tag}", "host": f"dlt-l2h-host-{tag}"}
    made: list[str] = []
    procs: list[Any] = []
    dirs = {"srv": tmp_path / "srv"}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "srv-eth0", "netns", ns["srv"], "type", "veth", "peer", "name", "eth0", "netns", ns["host"])
        for space, dev in ((ns["srv"], "srv-eth0"), (ns["host"], "eth0")):
            ip("-n", space, "link", "set", "lo", "up")
            ip("-n", space, "link", "set", dev, "up")
        procs.append(start_agent(ns["srv"], "srv", dirs["srv"], SERVER))
        wait_for("server ready", lambda: ready(dirs["srv"], procs[0]))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        host = subprocess.Popen(["ip", "netns", "exec", ns["host"], sys.executable, "-m", "dmvpnlab", "dhcp-client",
                                 "eth0", "--hostname", "pc1", "--timeout", "15"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(host)
        assert host.stdout is not None
        first = host.stdout.readline()
        assert first.startswith("eth0: DHCP lease 198.51.100.10/24 from 198.51.100.1, router 198.51.100.1"), \
            first + (host.stderr.read() if host.poll() is not None and host.stderr else "")
        route = netns_exec(ns["host"], "ip", "route", "show", "default").stdout
        assert "default via 198.51.100.1 dev eth0" in route, route
        ping = netns_exec(ns["host"], "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.1")
        assert ping.returncode == 0, ping.stdout
        bound = state(dirs["srv"])["dhcp"]["bindings"]
        stop(host)
        after = netns_exec(ns["host"], "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        released = wait_for("the binding freed", lambda: state(dirs["srv"])["dhcp"]["bindings"] == [] or None, 5)
    finally:
        stop_all(procs[::-1], made)
    assert host.returncode == 0
    assert [b["address"] for b in bound] == ["198.51.100.10"]
    assert "198.51.100.10" not in after and released


HUB = """hostname Hub
ip dhcp excluded-address 198.51.100.1 198.51.100.9
ip dhcp pool WAN
 network 198.51.100.0 255.255.255.0
 default-router 198.51.100.1
!
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp network-id 1
 ip nhrp map multicast dynamic
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
interface GigabitEthernet0/0
 ip address 198.51.100.1 255.255.255.0
!
end
"""
SPOKE = """hostname Spoke1
interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
 ip nhrp network-id 1
 ip nhrp nhs 10.0.0.1 nbma 198.51.100.1 multicast
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
!
interface GigabitEthernet0/0
 ip address dhcp
!
end
"""


def test_spoke_with_a_dhcp_wan_registers_once_leased(tmp_path):
    """IOS configs, `dmvpnlab agent`: the hub hands the spoke its WAN address; the spoke's
    tunnel source waits for the lease, then the spoke registers with the leased NBMA."""
    from l2_live import start_agent_text

    tag = f"{os.getpid() % 100000}"
    ns = {"hub": f"dlt-l2t-hub-{tag}", "spoke": f"dlt-l2t-sp-{tag}"}
    made: list[str] = []
    procs: list[Any] = []
    dirs = {n: tmp_path / n for n in ns}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", "hub-eth0", "netns", ns["hub"], "type", "veth", "peer", "name", "spoke-eth0",
           "netns", ns["spoke"])
        for node in ns:
            ip("-n", ns[node], "link", "set", "lo", "up")
            ip("-n", ns[node], "link", "set", f"{node}-eth0", "up")
        for node, config in (("hub", HUB), ("spoke", SPOKE)):
            procs.append(start_agent_text(ns[node], node, dirs[node], config))
        for node, proc in zip(ns, procs):
            wait_for(f"{node} ready", lambda d=dirs[node], p=proc: ready(d, p))
        wait_for("the spoke registered with its leased NBMA", lambda: any(
            e.get("nbma") == "198.51.100.10" and "registered" in e["flags"] for e in state(dirs["hub"])["nhrp"]["cache"]),
            timeout=30)
        ping = netns_exec(ns["spoke"], "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.1")
        brief = cli(dirs["spoke"], "show ip interface brief")
    finally:
        stop_all(procs[::-1], made)
    assert ping.returncode == 0, ping.stdout
    assert any(line.startswith("GigabitEthernet0/0") and "198.51.100.10" in line and " DHCP " in line
               for line in brief.splitlines()), brief
