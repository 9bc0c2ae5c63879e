"""An inbound ACL on the hub's WAN interface filters the tunnel itself, as on IOS.

Why: lab configs put `ip access-group` on the WAN interface of DMVPN routers; on IOS
such an ACL also sees the router's own GRE (NHRP, the tunnelled data), so one that
forgets `permit gre` cuts the tunnel. The agent's mGRE reads GRE on a raw socket, after
the kernel's prerouting hook where the ACL sits, so the same holds here. Two real agents
(hub and spoke) on a veth: a ping over Tunnel0 works; `configure terminal` on the hub
applies an ACL permitting ICMP only, the ping dies and `show access-lists` counts the
GRE in its deny entry; `5 permit gre any any` typed into the named ACL brings it back.
Root only; run under `flock /tmp/dmvpnlab-scenarios.lock`; everything removed in `finally`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from eigrp_live import Agent, wait

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nft") is None
    or not os.path.exists("/dev/net/tun"), reason="needs root, iproute2, nft and /dev/net/tun")

HUB_NBMA, SPOKE_NBMA = "198.18.9.1", "198.18.9.2"


def _config(node: str) -> str:
    hub = node == "hub"
    nhrp = " ip nhrp map multicast dynamic\n" if hub else f" ip nhrp nhs 10.0.0.1 nbma {HUB_NBMA} multicast\n"
    return (f"hostname {node}\n!\ninterface Tunnel0\n ip address {'10.0.0.1' if hub else '10.0.0.2'} 255.255.255.0\n"
            f" ip nhrp network-id 1\n{nhrp} tunnel source GigabitEthernet0/0\n tunnel mode gre multipoint\n!\n"
            f"interface GigabitEthernet0/0\n ip address {HUB_NBMA if hub else SPOKE_NBMA} 255.255.255.252\n!\nend\n")


def _ping(netns: str, target: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1", target],
                          capture_output=True).returncode == 0


def _matches(text: str, sequence: int) -> int:
    found = re.search(rf"^    {sequence} .*?(?: \((\d+) match(?:es)?\))?$", text, re.M)
    return int(found.group(1) or 0) if found else -1


def test_an_inbound_acl_without_permit_gre_cuts_the_tunnel() -> None:
    tag = f"{os.getpid() % 100000}"
    ns = {"hub": f"dlt-aclt-h{tag}", "spoke": f"dlt-aclt-s{tag}"}
    tmp = Path(tempfile.mkdtemp(prefix="dmvpnlab-acl-tun-"))
    made: list[str] = []
    agents: dict[str, Agent] = {}
    logs: dict[str, str] = {}
    try:
        for space in ns.values():
            subprocess.run(["ip", "netns", "add", space], check=True)
            made.append(space)
        subprocess.run(["ip", "link", "add", "hub-eth0", "netns", ns["hub"], "type", "veth", "peer", "name",
                        "spoke-eth0", "netns", ns["spoke"]], check=True)
        for node in ("hub", "spoke"):
            subprocess.run(["ip", "-n", ns[node], "link", "set", "lo", "up"], check=True)
        for node in ("hub", "spoke"):
            agents[node] = Agent(ns[node], node, tmp / node, _config(node))
        hub = agents["hub"]
        wait("a ping over Tunnel0", lambda: _ping(ns["spoke"], "10.0.0.1"), 20)
        hub.configure("ip access-list extended WAN", "permit icmp any any", "deny ip any any",
                      "interface GigabitEthernet0/0", "ip access-group WAN in")
        wait("the tunnel cut by the ACL", lambda: not _ping(ns["spoke"], "10.0.0.1"), 10)
        assert not _ping(ns["spoke"], "10.0.0.1")
        acls = hub.cli("show access-lists")
        print(acls)
        assert acls.startswith("Extended IP access list WAN\n"), acls
        assert _matches(acls, 20) >= 1, acls  # the GRE met `deny ip any any`
        hub.configure("ip access-list extended WAN", "5 permit gre any any")
        wait("the tunnel back with permit gre", lambda: _ping(ns["spoke"], "10.0.0.1"), 10)
        acls = hub.cli("show access-lists")
        print(acls)
        assert _matches(acls, 5) >= 1, acls
        assert _matches(acls, 20) >= 1, acls  # counts are by sequence number: the new entry took none
    finally:
        for agent in agents.values():
            agent.close()
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
        logs = {node: (tmp / node / "agent.log").read_text(errors="replace")
                for node in ns if (tmp / node / "agent.log").exists()}
        shutil.rmtree(tmp, ignore_errors=True)
    for node, text in logs.items():
        assert "Traceback" not in text, (node, text[-4000:])
    for space in made:
        assert not Path(f"/run/netns/{space}").exists()
