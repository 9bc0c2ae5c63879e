"""The agent's NAT and ACL part in a real namespace with real traffic, from a RouterConfig.

Why apart from test_agent_interfaces_live: this one does not need the IOS lines parsed
(it builds the RouterConfig as the parser would), so nftables, conntrack and the IOS
show commands are tested whatever the parser does. The router namespace runs the
agent's own parts (InterfacesNode, NatNode: tests/agentif_nat_driver.py) between an inside
host and an outside one: the inside host's ping leaves masqueraded (the outside host sees
the router's address), the inbound ACL counts the ICMP and drops the rest (an outside UDP
packet: `deny` counted, nothing delivered), a static NAT makes an inside host reachable at
its global address, `show ip nat translations` and `show access-lists` say so in IOS's
words, and the table leaves with the part. Root only; run under `flock
/tmp/dmvpnlab-scenarios.lock`; everything removed in `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from netns_live import start_capture, stop

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nft") is None,
    reason="needs root, iproute2 and nft")

DRIVER = Path(__file__).with_name("agentif_nat_driver.py")


def _ip(netns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", netns, *args], capture_output=True, text=True, check=True).stdout


def _in(netns: str, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True, text=True, check=check)


class Driver:
    def __init__(self, netns: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, str(DRIVER)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.ask("ready") == "ok"

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except (OSError, ValueError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_nat_overload_static_nat_and_acl_counters_with_real_traffic() -> None:
    tag = f"{os.getpid() % 100000}"
    ns = {"r": f"dlt-agnat-r{tag}", "in": f"dlt-agnat-i{tag}", "out": f"dlt-agnat-o{tag}"}
    made: list[str] = []
    driver: Driver | None = None
    tmp = Path(tempfile.mkdtemp(prefix="dmvpnlab-agnat-"))
    pcap = tmp / "outside.pcap"
    try:
        for space in ns.values():
            subprocess.run(["ip", "netns", "add", space], check=True)
            made.append(space)
            _ip(space, "link", "set", "lo", "up")
        for dev, peer in (("Gi0-0", "out"), ("Gi0-1", "in")):
            subprocess.run(["ip", "link", "add", dev, "netns", ns["r"], "type", "veth", "peer", "name", "eth0",
                            "netns", ns[peer]], check=True)
            _ip(ns[peer], "link", "set", "eth0", "up")
        _ip(ns["out"], "addr", "add", "198.51.100.1/24", "dev", "eth0")  # no route back to 192.168.1.0/24
        _ip(ns["in"], "addr", "add", "192.168.1.10/24", "dev", "eth0")
        _ip(ns["in"], "route", "add", "default", "via", "192.168.1.1")
        driver = Driver(ns["r"])
        table = _in(ns["r"], "nft", "list", "table", "ip", "dmvpnlab").stdout
        assert "masquerade" in table and "dnat to 192.168.1.10" in table, table
        assert "198.51.100.10/32" in _ip(ns["r"], "-4", "addr", "show", "dev", "Gi0-0")  # the static NAT alias

        capture = start_capture(ns["out"], "eth0", pcap)
        try:
            ping = _in(ns["in"], "ping", "-c", "2", "-i", "0.3", "-W", "2", "198.51.100.1", check=False)
        finally:
            stop(capture)
        seen = subprocess.run(["tcpdump", "-n", "-r", str(pcap), "icmp"], capture_output=True, text=True).stdout
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # the inside host's address never reaches the outside: the static NAT's global is its source
        assert "198.51.100.10 > 198.51.100.1: ICMP echo request" in seen and "192.168.1.10" not in seen, seen
        reach = _in(ns["out"], "ping", "-c", "1", "-W", "2", "198.51.100.10", check=False)
        assert reach.returncode == 0, reach.stdout + reach.stderr  # outside -> static global -> inside host
        # an inside host without a static translation is masqueraded to the interface address
        _ip(ns["in"], "addr", "add", "192.168.1.20/24", "dev", "eth0")
        pat = _in(ns["in"], "ping", "-c", "1", "-W", "2", "-I", "192.168.1.20", "198.51.100.1", check=False)
        assert pat.returncode == 0, pat.stdout + pat.stderr
        nat = driver.ask("show ip nat translations")
        print(nat)
        assert nat.startswith("Pro Inside global      Inside local       Outside local      Outside global\n"
                              "--- 198.51.100.10      192.168.1.10       ---                ---\n"), nat
        assert "icmp 198.51.100.2:" in nat and " 192.168.1.20:" in nat, nat
        _in(ns["out"], sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "[s.sendto(b'x', ('198.51.100.2', 9)) for _ in range(3)]")
        acls = driver.ask("show access-lists")
        print(acls)
        lines = acls.splitlines()
        assert lines[0] == "Standard IP access list 1"
        assert lines[1].startswith("    10 permit 192.168.1.0, wildcard bits 0.0.0.255 ("), acls
        assert lines[2] == "Extended IP access list 101"
        assert lines[3].startswith("    10 permit icmp any any (") and lines[4] == "    20 deny ip any any (3 matches)", acls
        assert driver.ask("close") == "ok"
        assert _in(ns["r"], "nft", "list", "tables").stdout.strip() == ""
        assert "198.51.100.10/32" not in _ip(ns["r"], "-4", "addr", "show", "dev", "Gi0-0")
    finally:
        if driver is not None:
            driver.close()
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    for space in made:
        assert not Path(f"/run/netns/{space}").exists()
