"""Two real agents, a hub and a spoke, run EIGRP over the user-space mGRE `Tunnel0`.

Why: EIGRP's hellos are multicast to 224.0.0.10. On the spoke the kernel sends them into
the TAP, the mGRE dataplane replicates them to the `ip nhrp nhs ... multicast` map (the
hub); on the hub to every registered spoke (`ip nhrp map multicast dynamic`); received
GRE multicast is written into the TAP, where the agent's EIGRP socket (joined to the
group on Tunnel0) must get it. Updates, queries and acks go unicast to the neighbour's
tunnel address, through the same mGRE path. The test shows from the outside that this
carries EIGRP both ways: the adjacency forms over Tunnel0, each side's Loopback0 /32
lands in the other's kernel as `proto eigrp` via the tunnel address, the veth capture
holds GRE-encapsulated EIGRP to 224.0.0.10 from both NBMA addresses, and the hub
(`no ip split-horizon eigrp`) is what a DMVPN hub needs, the spoke an `eigrp stub` (the
hub's `show ip eigrp neighbors detail` says so); `configure terminal` on the
hub (`passive-interface Tunnel0`, then `no ...`) takes the adjacency down and brings it
back live, and `ip summary-address eigrp` typed on the hub gives it a Null0 discard
route (blackhole, metric 5) and the spoke the summary instead of the /32. The same again
with the seed's `tunnel protection`: everything in ESP, nothing in the clear. Root only;
everything removed in `finally`; run under `flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from crypto_configs import PROTECTION, SEED_CRYPTO
from eigrp_live import Agent, eigrp_routes, wait
from netns_live import start_capture, stop

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None,
    reason="needs root, iproute2, /dev/net/tun, tcpdump and tshark")

HUB_NBMA, SPOKE_NBMA = "198.18.8.1", "198.18.8.2"
HUB_LAN, SPOKE_LAN = "192.168.1.1", "192.168.2.1"


def _config(node: str, protected: bool = False) -> str:
    hub = node == "hub"
    tunnel = "10.0.0.1" if hub else "10.0.0.2"
    nhrp = (" ip nhrp map multicast dynamic\n no ip split-horizon eigrp 100\n" if hub
            else f" ip nhrp nhs 10.0.0.1 nbma {HUB_NBMA} multicast\n")
    crypto = SEED_CRYPTO if protected else ""
    protection = PROTECTION if protected else ""
    stub = "" if hub else " eigrp stub connected\n"
    return (f"{crypto}hostname {node}\n!\ninterface Loopback0\n ip address {HUB_LAN if hub else SPOKE_LAN} 255.255.255.255\n!\n"
            f"interface Tunnel0\n ip address {tunnel} 255.255.255.0\n ip nhrp network-id 1\n{nhrp}"
            f" ip hello-interval eigrp 100 1\n ip hold-time eigrp 100 4\n"
            f" tunnel source GigabitEthernet0/0\n tunnel mode gre multipoint\n{protection}!\n"
            f"interface GigabitEthernet0/0\n ip address {HUB_NBMA if hub else SPOKE_NBMA} 255.255.255.252\n!\n"
            f"router eigrp 100\n network 10.0.0.0 0.0.0.255\n network 192.168.0.0 0.0.255.255\n"
            f"{stub}!\nend\n")


def _sources(pcap: Path, display_filter: str) -> set[str]:
    """The outer sources of the packets matching a Wireshark display filter."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter,
                          "-T", "fields", "-e", "ip.src"], capture_output=True, text=True, check=True).stdout
    return {line.split(",")[0] for line in out.split()}


def _gre_eigrp_multicast_from(pcap: Path) -> set[str]:
    """The outer sources of GRE packets that carry EIGRP to 224.0.0.10."""
    return _sources(pcap, "gre && eigrp && ip.dst == 224.0.0.10")


@pytest.mark.parametrize("protected", [False, True], ids=["gre", "ipsec"])
def test_hub_and_spoke_agents_run_eigrp_over_the_mgre_tunnel(protected: bool) -> None:
    tag = f"{os.getpid() % 100000}{'p' if protected else 'g'}"
    tmp = Path(tempfile.mkdtemp(prefix="dmvpnlab-eigrp-tun-"))
    ns = {"hub": f"dlt-eigrpt-h{tag}", "spoke": f"dlt-eigrpt-s{tag}"}
    made: list[str] = []
    agents: dict[str, Agent] = {}
    capture: subprocess.Popen[Any] | None = None
    pcap = tmp / "wan.pcap"
    try:
        for space in ns.values():
            subprocess.run(["ip", "netns", "add", space], check=True)
            made.append(space)
        subprocess.run(["ip", "link", "add", "hub-eth0", "netns", ns["hub"], "type", "veth", "peer", "name",
                        "spoke-eth0", "netns", ns["spoke"]], check=True)
        for node in ("hub", "spoke"):
            subprocess.run(["ip", "-n", ns[node], "link", "set", "lo", "up"], check=True)
            subprocess.run(["ip", "-n", ns[node], "link", "set", f"{node}-eth0", "up"], check=True)
        capture = start_capture(ns["hub"], "hub-eth0", pcap)
        for node in ("hub", "spoke"):
            agents[node] = Agent(ns[node], node, tmp / node, _config(node, protected))
        hub, spoke = agents["hub"], agents["spoke"]
        wait("adjacency over Tunnel0 (hub)", lambda: any(
            n["address"] == "10.0.0.2" and n["interface"] == "Tunnel0" and n["up"] for n in hub.eigrp()["neighbors"]),
            40 if protected else 30)
        wait("adjacency over Tunnel0 (spoke)", lambda: any(
            n["address"] == "10.0.0.1" and n["up"] for n in spoke.eigrp()["neighbors"]), 30)
        wait("hub LAN in the spoke's kernel", lambda: any(
            r.startswith(f"{HUB_LAN} via 10.0.0.1 dev Tunnel0") and "metric 90" in r
            for r in eigrp_routes(ns["spoke"])), 30)
        wait("spoke LAN in the hub's kernel", lambda: any(
            r.startswith(f"{SPOKE_LAN} via 10.0.0.2 dev Tunnel0") for r in eigrp_routes(ns["hub"])), 30)
        ping = subprocess.run(["ip", "netns", "exec", ns["spoke"], "ping", "-c", "2", "-i", "0.3", "-W", "2",
                               "-I", SPOKE_LAN, HUB_LAN], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        print(spoke.cli("show ip eigrp neighbors"), spoke.cli("show ip eigrp topology"))
        detail = hub.cli("show ip eigrp neighbors detail")
        assert "   Stub Peer Advertising (CONNECTED ) Routes\n   Suppressing queries\n" in detail, detail
        route = spoke.cli("show ip route eigrp")
        print(route)
        assert f"D        {HUB_LAN} [90/" in route and "via 10.0.0.1," in route
        protocols = spoke.cli("show ip protocols")
        assert 'Routing Protocol is "eigrp 100"' in protocols and "    Router-ID: 192.168.2.1" in protocols
        # configure terminal takes effect live: the hub's tunnel goes passive (no hellos:
        # the spoke's adjacency and its route go), then active again (both come back)
        hub.configure("router eigrp 100", "passive-interface Tunnel0")
        wait("the hub's LAN leaves the spoke's kernel", lambda: not eigrp_routes(ns["spoke"]), 15)
        assert hub.eigrp()["neighbors"] == []
        hub.configure("router eigrp 100", "no passive-interface Tunnel0")
        wait("the hub's LAN back in the spoke's kernel", lambda: any(
            r.startswith(f"{HUB_LAN} via 10.0.0.1") for r in eigrp_routes(ns["spoke"])), 20)
        cleared = time.monotonic()
        assert spoke.cli("clear ip eigrp neighbors") == ""
        wait("a fresh adjacency after clear ip eigrp neighbors", lambda: any(
            n["up"] and n["uptime"] <= time.monotonic() - cleared for n in hub.eigrp()["neighbors"]), 20)
        wait("and the route again", lambda: any(
            r.startswith(f"{HUB_LAN} via 10.0.0.1") for r in eigrp_routes(ns["spoke"])), 20)
        # the Phase 3 hub summary, typed live: a Null0 discard (blackhole, metric 5) on the
        # hub, the summary instead of the /32 on the spoke
        hub.configure("interface Tunnel0", "ip summary-address eigrp 100 192.168.0.0 255.255.0.0")
        wait("the hub's Null0 summary route", lambda: any(
            r.startswith("blackhole 192.168.0.0/16") and "metric 5" in r for r in eigrp_routes(ns["hub"])), 20)
        wait("the summary replaces the /32 on the spoke", lambda: [r.split()[0] for r in eigrp_routes(ns["spoke"])]
             == ["192.168.0.0/16"], 20)
        assert "P 192.168.0.0/16, 1 successors" in spoke.cli("show ip eigrp topology")
        if protected:  # all of it in ESP: not one GRE packet, nor EIGRP, in the clear
            wait("ESP from both NBMAs", lambda: _sources(pcap, "esp") == {HUB_NBMA, SPOKE_NBMA}, 10)
            assert _sources(pcap, "gre || eigrp") == set()
        else:  # hellos every second: the hub's first ones left before the spoke registered
            wait("GRE-carried EIGRP multicast from both NBMAs",
                 lambda: _gre_eigrp_multicast_from(pcap) == {HUB_NBMA, SPOKE_NBMA}, 10)
    finally:
        for agent in agents.values():
            agent.close()
        if capture is not None:
            stop(capture)
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
        logs = {node: (tmp / node / "agent.log").read_text(errors="replace")
                for node in ns if (tmp / node / "agent.log").exists()}
        shutil.rmtree(tmp, ignore_errors=True)
    for node, text in logs.items():
        assert "Traceback" not in text, (node, text[-4000:])
    assert "%DUAL-5-NBRCHANGE: EIGRP-IPv4 100: Neighbor 10.0.0.2 (Tunnel0) is up: new adjacency" in logs["hub"]
    for space in made:
        assert not Path(f"/run/netns/{space}").exists()
