"""Root only: two real router agents, real IKE on real sockets, GRE in ESP between them.

Namespaces of our own (unique names): a hub and a spoke joined by a veth (the spoke's
GigabitEthernet0/0 is `spoke-eth0`, the hub's `hub-eth0`, 198.18.7.0/30), or with a NAT
box between them (nftables masquerade; then IKE floats to UDP 4500 and ESP travels in
UDP 4500, RFC 3947/3948, through the agents' own 4500 sockets). Each
runs `dmvpnlab agent` with the seed's crypto lines (`crypto isakmp policy 10` aes 256 /
sha256 / group 14, wildcard key, transform set esp-aes 256 esp-sha256-hmac mode
transport, `tunnel protection ipsec profile`). The spoke's first Registration Request
waits for the SA, IKE runs on UDP 500, the registration goes in ESP, and a ping between
the tunnel addresses crosses in ESP. From the veth capture: ISAKMP and ESP only, no GRE
in the clear; from the agents' JSON state: the SA pair, both ends agreeing on the SPIs,
the hub's cache holding the registered spoke; the key files written for Wireshark.
Everything is removed in `finally`; only processes started here are signalled, by PID.
Run under the lab lock (`flock /tmp/dmvpnlab-scenarios.lock ...`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dmvpnlab.jsonline import request
from crypto_configs import PROTECTION, SEED_CRYPTO, protected_hub
from netns_live import start_capture, stop, tshark_count

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None,
    reason="needs root, iproute2, /dev/net/tun, tcpdump and tshark",
)

HUB_NBMA, SPOKE_NBMA = "198.18.7.1", "198.18.7.2"  # without NAT
NAT_OUTSIDE, NAT_INSIDE, SPOKE_INSIDE = "198.18.7.2", "172.16.9.2", "172.16.9.1"  # the hub sees .2 either way

HUB = protected_hub(HUB_NBMA)


def spoke_config(nbma: str, gateway: str | None) -> str:
    route = f"ip route 0.0.0.0 0.0.0.0 {gateway}\n" if gateway else ""
    return SEED_CRYPTO + f"""hostname spoke
interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
 ip nhrp network-id 1
 ip nhrp nhs 10.0.0.1 nbma {HUB_NBMA} multicast
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
 tunnel key 12345
{PROTECTION}!
interface GigabitEthernet0/0
 ip address {nbma} 255.255.255.252
!
{route}end
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, check=True)


def state(directory: Path) -> dict[str, Any]:
    answer = request(directory / "control.sock", {"op": "state"}, timeout=5)
    assert answer.get("ok"), answer
    return answer["state"]


def cli(directory: Path, line: str) -> str:
    """One exec command on the agent's control socket, as `dmvpnlab cli` sends it."""
    answer = request(directory / "control.sock", {"op": "cli", "line": line}, timeout=5)
    assert answer.get("ok") and not answer.get("error"), answer
    return answer["output"]


def wait_for(what: str, check, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, KeyError, IndexError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def started(directory: Path, proc: subprocess.Popen[Any]) -> bool:
    """The agent wrote its ready file; an agent that exited instead fails with its log."""
    if proc.poll() is not None:
        log = directory / "agent.log"
        raise AssertionError(f"agent exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
                             f"{log.read_text() if log.exists() else ''}")
    return (directory / "ready").exists()


@pytest.mark.parametrize("nat", [False, True], ids=["direct", "behind-nat"])
def test_two_agents_negotiate_ike_and_carry_registration_and_ping_in_esp(nat, tmp_path):
    tag = f"{os.getpid() % 100000}{'n' if nat else 'd'}"
    ns = {"hub": f"dlt-ipsec-hub-{tag}", "spoke": f"dlt-ipsec-spoke-{tag}"}
    if nat:
        ns["nat"] = f"dlt-ipsec-nat-{tag}"
    made: list[str] = []
    procs: list[subprocess.Popen[Any]] = []
    capture: subprocess.Popen[Any] | None = None
    pcap, keys = tmp_path / "wan.pcap", tmp_path / "keys"
    dirs = {node: tmp_path / node for node in ("hub", "spoke")}
    configs = {"hub": HUB, "spoke": spoke_config(SPOKE_INSIDE, NAT_INSIDE) if nat else spoke_config(SPOKE_NBMA, None)}
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        if nat:  # spoke-eth0 -- nat-eth0 | nat | nat-eth1 (masquerade) -- hub-eth0
            ip("link", "add", "hub-eth0", "netns", ns["hub"], "type", "veth", "peer", "name", "nat-eth1", "netns", ns["nat"])
            ip("link", "add", "spoke-eth0", "netns", ns["spoke"], "type", "veth", "peer", "name", "nat-eth0",
               "netns", ns["nat"])
            for dev, address in (("nat-eth0", NAT_INSIDE), ("nat-eth1", NAT_OUTSIDE)):
                ip("-n", ns["nat"], "addr", "add", f"{address}/30", "dev", dev)
                ip("-n", ns["nat"], "link", "set", dev, "up")
            nat_exec = ["ip", "netns", "exec", ns["nat"]]
            subprocess.run([*nat_exec, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
            for rule in ("add table ip dlt_nat",
                         "add chain ip dlt_nat post { type nat hook postrouting priority srcnat ; policy accept ; }",
                         "add rule ip dlt_nat post oifname nat-eth1 masquerade"):
                subprocess.run([*nat_exec, "nft", rule], check=True, capture_output=True, text=True)
        else:
            ip("link", "add", "hub-eth0", "netns", ns["hub"], "type", "veth", "peer", "name", "spoke-eth0",
               "netns", ns["spoke"])
        for node in ("hub", "spoke"):
            ip("-n", ns[node], "link", "set", "lo", "up")
            ip("-n", ns[node], "link", "set", f"{node}-eth0", "up")  # tcpdump needs it up; the agent addresses it
        capture = start_capture(ns["hub"], "hub-eth0", pcap)
        for node in ("hub", "spoke"):
            dirs[node].mkdir()
            (dirs[node] / "startup-config").write_text(configs[node])
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns[node], sys.executable, "-m", "dmvpnlab", "agent", "--node", node,
                 "--config", str(dirs[node] / "startup-config"), "--state-dir", str(dirs[node]),
                 "--keylog-dir", str(keys), "--debug"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for node, proc in zip(("hub", "spoke"), procs):
            wait_for(f"{node} ready", lambda n=node, p=proc: started(dirs[n], p))
        # the spoke's registration waited for IKE, went in ESP, and the hub registered it
        wait_for("the spoke registered at the hub",
                 lambda: any("registered" in e["flags"] for e in state(dirs["hub"])["nhrp"]["cache"]))
        ping = subprocess.run(["ip", "netns", "exec", ns["spoke"], "ping", "-c", "3", "-i", "0.2", "-W", "2",
                               "10.0.0.1"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        hub, spoke = state(dirs["hub"]), state(dirs["spoke"])
        shows = {line: cli(dirs["spoke"], line) for line in
                 ("show crypto isakmp sa", "show crypto ipsec sa", "show dmvpn")}
    finally:
        for proc in procs:
            stop(proc)
        if capture is not None:
            time.sleep(0.5)  # the last replies reach the capture file
            stop(capture)
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
    logs = {node: (dirs[node] / "agent.log").read_text() for node in dirs if (dirs[node] / "agent.log").exists()}
    assert "Traceback" not in "".join(logs.values()), logs
    [sa_hub], [sa_spoke] = hub["ipsec"]["child_sas"], spoke["ipsec"]["child_sas"]
    assert (sa_hub["spi_in"], sa_hub["spi_out"]) == (sa_spoke["spi_out"], sa_spoke["spi_in"])
    assert sa_spoke["peer"] == HUB_NBMA and sa_hub["peer"] == SPOKE_NBMA  # behind the NAT: its outside address
    assert (sa_spoke["nat_t"], sa_hub["nat_t"]) == (nat, nat)
    assert sa_spoke["peer_port"] == (4500 if nat else 500)
    assert sa_spoke["transform"] == "esp-aes 256 esp-sha256-hmac" and sa_spoke["mode"] == "Transport"
    assert sa_spoke["out"]["pkts_encaps"] >= 4 and sa_hub["in"]["pkts_decaps"] >= 4  # registration + 3 pings
    assert [s["state"] for s in spoke["ipsec"]["ike_sas"]] == ["QM_IDLE"]
    assert spoke["ipsec"]["transport"].get("queued", 0) >= 1, "the first registration waited for the SA"
    assert [s["state"] for s in spoke["nhrp"]["nhs"]] == ["R"]
    # the timings benchmarks read: the spoke asked, then phase 1, then phase 2 (ages shrink)
    marks = spoke["ipsec"]["marks_ago"][HUB_NBMA]
    assert marks["connect"] >= marks["ike_sa_up"] >= marks["child_sa_up"] >= 0, marks
    assert sa_hub["installed_ago"] is not None and sa_spoke["installed_ago"] is not None
    assert abs(spoke["wall_time"] - time.time()) < 60
    # the operator's view of the same SAs
    assert "QM_IDLE" in shows["show crypto isakmp sa"] and HUB_NBMA in shows["show crypto isakmp sa"]
    ipsec_sa = shows["show crypto ipsec sa"]
    assert f"current outbound spi: 0x{sa_spoke['spi_out']:X}" in ipsec_sa, ipsec_sa
    assert f"#pkts encaps: {sa_spoke['out']['pkts_encaps']}" in ipsec_sa, ipsec_sa
    assert any(HUB_NBMA in row and " UP " in row for row in shows["show dmvpn"].splitlines()), shows["show dmvpn"]
    # on the wire (the hub's link): IKE and ESP; no GRE in the clear, ever
    assert tshark_count(pcap, "gre") == 0
    assert tshark_count(pcap, "isakmp") >= 9  # Main Mode (6) + Quick Mode (3)
    assert tshark_count(pcap, "esp") >= 8
    if nat:  # RFC 3948: ESP in UDP 4500 only, IKE floated to 4500 after MM4
        assert tshark_count(pcap, "ip.proto == 50") == 0
        assert tshark_count(pcap, "udp.port == 4500 && esp") == tshark_count(pcap, "esp")
        assert tshark_count(pcap, "udp.port == 4500 && isakmp") >= 5
    else:
        assert tshark_count(pcap, "ip.proto == 50") == tshark_count(pcap, "esp")
    # Wireshark's key files: both SAs of the pair
    esp_sa = (keys / "esp_sa").read_text()
    assert f"0x{sa_spoke['spi_out']:08x}" in esp_sa and f"0x{sa_spoke['spi_in']:08x}" in esp_sa
