"""Dual-cloud DMVPN in real namespaces: one spoke with Tunnel0 and Tunnel1, two hubs.

Why: dual-cloud labs (two hubs, two clouds) need every tunnel interface of a router live
at once, each with its own TAP, NHRP network-id, NHS and `tunnel key`. Here the spoke's
Tunnel0 (network-id 1, key 100, source GigabitEthernet0/0) registers with hub1 and its
Tunnel1 (network-id 2, key 200, source GigabitEthernet0/1) with hub2; both answer pings
over their tunnel; `show dmvpn` prints one block per interface; `show ip nhrp nhs` both
NHSes; each tunnel's raw socket sees the other's GRE too, and the demux keeps it from
being counted as a drop. `configure terminal` removes Tunnel1 alone (Tunnel0 stays
registered) and adds it back. Again with the seed's `tunnel protection` on every tunnel:
the spoke runs one IKE per tunnel source (UDP 500/4500 bound to each source), two
ISAKMP SAs, each tunnel's GRE in its own ESP SAs. Root only; everything removed in `finally`; run under
`flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from crypto_configs import PROTECTION, SEED_CRYPTO
from eigrp_live import Agent, wait
from ntc_templates.parse import parse_output

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and /dev/net/tun")

HUB1_NBMA, SPOKE_NBMA0 = "198.18.9.1", "198.18.9.2"
HUB2_NBMA, SPOKE_NBMA1 = "198.18.9.5", "198.18.9.6"


def _tunnel(n: int, address: str, key: int, nhrp: str, source: str, protected: bool) -> str:
    return (f"interface Tunnel{n}\n ip address {address} 255.255.255.0\n ip nhrp network-id {n + 1}\n{nhrp}"
            f" ip nhrp holdtime 60\n tunnel source {source}\n tunnel mode gre multipoint\n tunnel key {key}\n"
            f"{PROTECTION if protected else ''}!\n")


def _hub(n: int, nbma: str, protected: bool) -> str:
    return ((SEED_CRYPTO if protected else "") + f"hostname hub{n + 1}\n!\n"
            + _tunnel(n, f"10.0.{n}.1", 100 * (n + 1), " ip nhrp map multicast dynamic\n", "GigabitEthernet0/0",
                      protected)
            + f"interface GigabitEthernet0/0\n ip address {nbma} 255.255.255.252\n!\nend\n")


def _spoke_tunnel1(protected: bool) -> str:
    return _tunnel(1, "10.0.1.2", 200, f" ip nhrp nhs 10.0.1.1 nbma {HUB2_NBMA} multicast\n", "GigabitEthernet0/1",
                   protected)


def _spoke(protected: bool) -> str:
    return ((SEED_CRYPTO if protected else "") + "hostname spoke\n!\n"
            + _tunnel(0, "10.0.0.2", 100, f" ip nhrp nhs 10.0.0.1 nbma {HUB1_NBMA} multicast\n", "GigabitEthernet0/0",
                      protected)
            + _spoke_tunnel1(protected)
            + f"interface GigabitEthernet0/0\n ip address {SPOKE_NBMA0} 255.255.255.252\n!\n"
            + f"interface GigabitEthernet0/1\n ip address {SPOKE_NBMA1} 255.255.255.252\n!\nend\n")


def _nhs_states(agent: Agent) -> dict[str, str]:
    nhrp = agent.request({"op": "state"})["state"]["nhrp"]
    return {n["address"]: n["state"] for block in nhrp["tunnels"] for n in block["nhs"]}


def _ping(netns: str, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "3", "-i", "0.3", "-W", "2", address],
                          capture_output=True, text=True)


@pytest.mark.parametrize("protected", [False, True], ids=["gre", "ipsec"])
def test_a_spoke_registers_with_two_hubs_over_two_tunnels_with_their_own_keys_and_network_ids(protected: bool) -> None:
    tag = f"{os.getpid() % 100000}{'p' if protected else 'g'}"
    tmp = Path(tempfile.mkdtemp(prefix="dmvpnlab-dual-"))
    ns = {"hub1": f"dlt-dual-a{tag}", "hub2": f"dlt-dual-b{tag}", "spoke": f"dlt-dual-s{tag}"}
    made: list[str] = []
    agents: dict[str, Agent] = {}
    try:
        for space in ns.values():
            subprocess.run(["ip", "netns", "add", space], check=True)
            made.append(space)
        for hub, spoke_if in (("hub1", "spoke-eth0"), ("hub2", "spoke-eth1")):
            subprocess.run(["ip", "link", "add", f"{hub}-eth0", "netns", ns[hub], "type", "veth", "peer", "name",
                            spoke_if, "netns", ns["spoke"]], check=True)
            subprocess.run(["ip", "-n", ns[hub], "link", "set", f"{hub}-eth0", "up"], check=True)
            subprocess.run(["ip", "-n", ns["spoke"], "link", "set", spoke_if, "up"], check=True)
        for space in ns.values():
            subprocess.run(["ip", "-n", space, "link", "set", "lo", "up"], check=True)
        agents["hub1"] = Agent(ns["hub1"], "hub1", tmp / "hub1", _hub(0, HUB1_NBMA, protected))
        agents["hub2"] = Agent(ns["hub2"], "hub2", tmp / "hub2", _hub(1, HUB2_NBMA, protected))
        spoke = agents["spoke"] = Agent(ns["spoke"], "spoke", tmp / "spoke", _spoke(protected))
        wait("both NHSes registered", lambda: _nhs_states(spoke) == {"10.0.0.1": "R", "10.0.1.1": "R"}, 45)
        for address in ("10.0.0.1", "10.0.1.1"):
            ping = _ping(ns["spoke"], address)
            assert ping.returncode == 0, ping.stdout + ping.stderr
        dmvpn = spoke.cli("show dmvpn")
        print(dmvpn)
        assert "Interface: Tunnel0, IPv4 NHRP Details" in dmvpn and "Interface: Tunnel1, IPv4 NHRP Details" in dmvpn
        assert dmvpn.index("Interface: Tunnel0,") < dmvpn.index(HUB1_NBMA) < dmvpn.index("Interface: Tunnel1,") \
            < dmvpn.index(HUB2_NBMA)
        rows = parse_output(platform="cisco_ios", command="show dmvpn", data=dmvpn)
        assert {(r["peer_nbma"], r["peer_tunnel"], r["state"]) for r in rows} >= {
            (HUB1_NBMA, "10.0.0.1", "UP"), (HUB2_NBMA, "10.0.1.1", "UP")}, rows
        only1 = spoke.cli("show dmvpn interface Tunnel1")
        assert "Interface: Tunnel1," in only1 and "Tunnel0" not in only1 and HUB2_NBMA in only1
        nhs = spoke.cli("show ip nhrp nhs")
        assert "Tunnel0:\n10.0.0.1  RE" in nhs and "Tunnel1:\n10.0.1.1  RE" in nhs, nhs
        nhrp = spoke.cli("show ip nhrp")
        assert "10.0.0.1/32 via 10.0.0.1\n   Tunnel0 created" in nhrp and "10.0.1.1/32 via 10.0.1.1\n   Tunnel1 created" in nhrp
        hub1_view = agents["hub1"].cli("show dmvpn")
        assert "Interface: Tunnel0," in hub1_view and SPOKE_NBMA0 in hub1_view and SPOKE_NBMA1 not in hub1_view
        state = spoke.request({"op": "state"})["state"]
        assert [t["name"] for t in state["tunnels"]] == ["Tunnel0", "Tunnel1"]
        assert [t["network_id"] for t in state["nhrp"]["tunnels"]] == [1, 2]
        assert [t["key"] for t in state["nhrp"]["tunnels"]] == [100, 200]
        for tunnel in state["tunnels"]:  # the other tunnel's GRE reached this socket too: not a drop here
            assert tunnel["gre_in"] > 0 and tunnel["drops"] == {}, tunnel
        assert state["gre_unmatched"] == 0 and state["tunnel_problems"] == {}
        if protected:
            ipsec = state["ipsec"]
            assert [t["interface"] for t in ipsec["tunnels"]] == ["Tunnel0", "Tunnel1"]
            assert [t["local"] for t in ipsec["tunnels"]] == [SPOKE_NBMA0, SPOKE_NBMA1]
            assert all(any(c["in"]["pkts_decrypt"] > 0 for c in t["child_sas"]) for t in ipsec["tunnels"]), ipsec
            isakmp = spoke.cli("show crypto isakmp sa")
            assert f"{HUB1_NBMA}      {SPOKE_NBMA0}" in isakmp and f"{HUB2_NBMA}      {SPOKE_NBMA1}" in isakmp, isakmp
        show_tu1 = spoke.cli("show interfaces Tunnel1")
        assert "Tunnel1 is up, line protocol is up" in show_tu1 and "Key 0xC8," in show_tu1
        # configure terminal: Tunnel1 goes alone, Tunnel0 stays registered; then it is back
        up_for = state["nhrp"]["nhs"][0]["up_for"]
        spoke.configure("no interface Tunnel1")
        wait("Tunnel1 gone", lambda: [t["name"] for t in spoke.request({"op": "state"})["state"]["tunnels"]]
             == ["Tunnel0"], 10)
        assert _nhs_states(spoke) == {"10.0.0.1": "R"}
        after = spoke.request({"op": "state"})["state"]["nhrp"]
        assert after["nhs"][0]["up_for"] >= up_for, (up_for, after["nhs"])  # Tunnel0 untouched, not re-made
        assert _ping(ns["spoke"], "10.0.0.1").returncode == 0
        spoke.configure(*[line.strip() for line in _spoke_tunnel1(protected).splitlines() if line.strip() != "!"])
        wait("Tunnel1 registered again", lambda: _nhs_states(spoke) == {"10.0.0.1": "R", "10.0.1.1": "R"}, 30)
        assert _ping(ns["spoke"], "10.0.1.1").returncode == 0
    finally:
        for agent in agents.values():
            agent.close()
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
        logs: dict[str, Any] = {node: (tmp / node / "agent.log").read_text(errors="replace")
                                for node in ns if (tmp / node / "agent.log").exists()}
        shutil.rmtree(tmp, ignore_errors=True)
    for node, text in logs.items():
        assert "Traceback" not in text, (node, text[-4000:])
    for space in made:
        assert not Path(f"/run/netns/{space}").exists()


SHARED = " tunnel protection ipsec profile DMVPN_PROFILE shared\n"
LAN_HUB1, LAN_SPOKE, LAN_HUB2 = "198.18.10.1", "198.18.10.2", "198.18.10.3"


def _shared_tunnel(n: int, address: str, nhrp: str) -> str:
    return (f"interface Tunnel{n}\n ip address {address} 255.255.255.0\n ip nhrp network-id {n + 1}\n{nhrp}"
            f" tunnel source GigabitEthernet0/0\n tunnel mode gre multipoint\n tunnel key {100 * (n + 1)}\n{SHARED}!\n")


def test_two_tunnels_on_one_source_with_shared_protection_use_one_ike_and_one_sa_per_hub() -> None:
    """Both tunnels source from the spoke's one WAN interface (a bridge joins it to both
    hubs): `tunnel protection ... shared` gives one IKE on the spoke, one ISAKMP SA and
    one SA pair per hub, and each tunnel's GRE (its own key) inside those SAs."""
    tag = f"{os.getpid() % 100000}"
    tmp = Path(tempfile.mkdtemp(prefix="dmvpnlab-shared-"))
    ns = {"hub1": f"dlt-shr-a{tag}", "hub2": f"dlt-shr-b{tag}", "spoke": f"dlt-shr-s{tag}", "sw": f"dlt-shr-w{tag}"}
    made: list[str] = []
    agents: dict[str, Agent] = {}
    try:
        for space in ns.values():
            subprocess.run(["ip", "netns", "add", space], check=True)
            made.append(space)
        subprocess.run(["ip", "-n", ns["sw"], "link", "add", "br0", "type", "bridge"], check=True)
        for node in ("hub1", "hub2", "spoke"):
            subprocess.run(["ip", "link", "add", f"{node}-eth0", "netns", ns[node], "type", "veth", "peer", "name",
                            f"sw-{node}", "netns", ns["sw"]], check=True)
            subprocess.run(["ip", "-n", ns["sw"], "link", "set", f"sw-{node}", "master", "br0", "up"], check=True)
            subprocess.run(["ip", "-n", ns[node], "link", "set", f"{node}-eth0", "up"], check=True)
        subprocess.run(["ip", "-n", ns["sw"], "link", "set", "br0", "up"], check=True)
        for space in ns.values():
            subprocess.run(["ip", "-n", space, "link", "set", "lo", "up"], check=True)
        for n, (hub, nbma) in enumerate((("hub1", LAN_HUB1), ("hub2", LAN_HUB2))):
            conf = (SEED_CRYPTO + f"hostname {hub}\n!\n"
                    + _shared_tunnel(n, f"10.0.{n}.1", " ip nhrp map multicast dynamic\n").replace(SHARED, PROTECTION)
                    + f"interface GigabitEthernet0/0\n ip address {nbma} 255.255.255.0\n!\nend\n")
            agents[hub] = Agent(ns[hub], hub, tmp / hub, conf)
        spoke_conf = (SEED_CRYPTO + "hostname spoke\n!\n"
                      + _shared_tunnel(0, "10.0.0.2", f" ip nhrp nhs 10.0.0.1 nbma {LAN_HUB1} multicast\n")
                      + _shared_tunnel(1, "10.0.1.2", f" ip nhrp nhs 10.0.1.1 nbma {LAN_HUB2} multicast\n")
                      + f"interface GigabitEthernet0/0\n ip address {LAN_SPOKE} 255.255.255.0\n!\nend\n")
        spoke = agents["spoke"] = Agent(ns["spoke"], "spoke", tmp / "spoke", spoke_conf)
        wait("both NHSes registered", lambda: _nhs_states(spoke) == {"10.0.0.1": "R", "10.0.1.1": "R"}, 45)
        for address in ("10.0.0.1", "10.0.1.1"):
            ping = _ping(ns["spoke"], address)
            assert ping.returncode == 0, ping.stdout + ping.stderr
        state = spoke.request({"op": "state"})["state"]
        assert state["tunnel_problems"] == {} and "tunnels" not in state["ipsec"]  # one IKE node
        assert sorted(c["peer"] for c in state["ipsec"]["child_sas"]) == [LAN_HUB1, LAN_HUB2]
        assert sorted(s["dst"] if s["src"] == LAN_SPOKE else s["src"] for s in state["ipsec"]["ike_sas"]) \
            == [LAN_HUB1, LAN_HUB2]
        for tunnel in state["tunnels"]:
            assert tunnel["gre_in"] > 0 and tunnel["drops"] == {}, tunnel
        dmvpn = spoke.cli("show dmvpn")
        assert "Interface: Tunnel0," in dmvpn and "Interface: Tunnel1," in dmvpn
        assert dmvpn.count("    UP ") == 2, dmvpn
    finally:
        for agent in agents.values():
            agent.close()
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
        logs: dict[str, Any] = {node: (tmp / node / "agent.log").read_text(errors="replace")
                                for node in ns if (tmp / node / "agent.log").exists()}
        shutil.rmtree(tmp, ignore_errors=True)
    for node, text in logs.items():
        assert "Traceback" not in text, (node, text[-4000:])
    for space in made:
        assert not Path(f"/run/netns/{space}").exists()
