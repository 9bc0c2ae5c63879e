"""A next-hop override beside a real zebra + ospfd route: zebra leaves both alone; zebra's sweep.

Why: the agent installs a Phase 3 shortcut for exactly a prefix OSPF already routes via
the hub as a second kernel route, protocol 191 (NHRP) at metric 1, beside zebra's route
at metric 20 (agent/shortcuts.py). That only works if zebra 8.4 neither uninstalls its
route because of ours nor re-installs it over ours, and if removing ours gives the
kernel back zebra's next hop. This runs the real thing: two namespaces with zebra +
ospfd (tests/test_routing_frr_live.py's driver) so the first learns the second's /32 as
`proto ospf`, then our ShortcutRoutes over a real netlink Kernel inside the first
namespace (a child under `ip netns exec`) installs the override, and the test asks the
kernel (`ip route get`) and zebra (`show ip route`) what they think, for a few seconds,
then removes it. Root and FRR only; run under `flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_routing_frr_live import Driver, _config, _ospf_route, _wait, ospf_link, pytestmark  # noqa: F401 - same skip rule

from dmvpnlab.procfs import proc_start_time
from dmvpnlab.routing.frr import ZEBRA_SWEEP_SECONDS

SRC = Path(__file__).resolve().parent.parent / "src"
# Runs in the namespace: install the override with the agent's own code, wait for a line, remove it.
HELPER = """
import json, sys
from ipaddress import IPv4Address, IPv4Network
from dmvpnlab.agent.shortcuts import ShortcutRoutes
from dmvpnlab.routing.kernel import Kernel
kernel = Kernel()
routes = ShortcutRoutes(kernel)
shortcut = routes.install(IPv4Network(sys.argv[1]), IPv4Address(sys.argv[2]), sys.argv[3], 0.0)
print(json.dumps(shortcut.as_dict(0.0)), flush=True)
sys.stdin.readline()
routes.remove(shortcut.prefix, shortcut.next_hop)
print("removed", flush=True)
kernel.close()
"""


def _get(netns: str, address: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "ip", "-4", "route", "get", address],
                          capture_output=True, text=True, check=True).stdout


def test_override_beside_zebras_ospf_route_carries_traffic_and_gives_it_back() -> None:
    tag = os.getpid()
    tmp_path = Path(tempfile.mkdtemp(prefix="dmvpnlab-nho-"))
    tmp_path.chmod(0o755)
    ns_a, ns_b = f"dmvpnlab-nhoa{tag}", f"dmvpnlab-nhob{tag}"
    drivers: list[Driver] = []
    helper: subprocess.Popen[str] | None = None
    try:
        ospf_link(ns_a, ns_b)
        # a second subnet on the link: the override's next hop (the "far spoke") lives there
        subprocess.run(["ip", "netns", "exec", ns_a, "ip", "addr", "add", "10.78.0.1/24", "dev", "ospfa"], check=True)
        a = Driver(ns_a, "ra", tmp_path / "ra", _config("ra", "ospfa", "10.77.255.1"))
        drivers.append(a)
        b = Driver(ns_b, "rb", tmp_path / "rb", _config("rb", "ospfb", "10.77.255.2"))
        drivers.append(b)
        a.pids(), b.pids()  # remembered with their start times, for the last-resort cleanup
        _wait("OSPF route", lambda: _ospf_route(ns_a, "10.77.255.2"), 25)
        assert "via 10.77.0.2" in _get(ns_a, "10.77.255.2")

        env = dict(os.environ, PYTHONPATH=str(SRC))
        helper = subprocess.Popen(["ip", "netns", "exec", ns_a, sys.executable, "-c", HELPER, "10.77.255.2/32",
                                   "10.78.0.9", "ospfa"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        assert helper.stdout is not None and helper.stdin is not None
        installed = json.loads(helper.stdout.readline())
        assert installed["kind"] == "override" and installed["metric"] == 1 and installed["overridden_proto"] == 188
        for _ in range(4):  # zebra has had time to react, and did not
            assert "via 10.78.0.9" in _get(ns_a, "10.77.255.2"), "the override carries the traffic"
            assert _ospf_route(ns_a, "10.77.255.2"), "zebra's own route stays in the kernel"
            zebra = a.ask("vtysh show ip route 10.77.255.2/32")
            assert 'Known via "ospf"' in zebra and "* 10.77.0.2" in zebra, zebra
            time.sleep(1.0)
        print(subprocess.run(["ip", "netns", "exec", ns_a, "ip", "route", "show", "10.77.255.2/32"],
                             capture_output=True, text=True).stdout)
        helper.stdin.write("go\n")
        helper.stdin.flush()
        assert helper.stdout.readline().strip() == "removed"
        assert "via 10.77.0.2" in _get(ns_a, "10.77.255.2"), "the protocol's own next hop is back"
        assert _ospf_route(ns_a, "10.77.255.2")
        assert helper.wait(10) == 0
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
            helper.wait()
        for driver in drivers:
            driver.close()
        for driver in drivers:
            for pid, start in driver.seen:  # last resort, only our own PIDs
                if start is not None and proc_start_time(pid) == start:
                    os.kill(pid, signal.SIGKILL)
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _nhrp_and_eigrp_routes(netns: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "exec", netns, "ip", "-4", "route", "show"], capture_output=True,
                         text=True, check=True).stdout
    return sorted(" ".join(line.split()) for line in out.splitlines() if "proto nhrp" in line or "proto eigrp" in line)


def test_zebra_started_over_our_routes_sweeps_its_copies_and_leaves_ours() -> None:
    """zebra (re)started while shortcuts and EIGRP routes are in the kernel (an FRR reload,
    a crash) adopts them and installs copies at metric 20 that would outlive ours; with
    the supervisor's `-K` (ZEBRA_SWEEP_SECONDS) the copies go and ours stay, so removing
    ours removes the route."""
    tag = os.getpid()
    tmp_path = Path(tempfile.mkdtemp(prefix="dmvpnlab-nhoz-"))
    tmp_path.chmod(0o755)
    ns = f"dmvpnlab-nhoz{tag}"
    drivers: list[Driver] = []
    ours = ["192.168.9.0/24 via 10.78.0.9 dev ospfa proto nhrp metric 250",
            "192.168.7.0/24 via 10.78.0.9 dev ospfa proto nhrp metric 1",
            "192.168.8.0/24 via 10.78.0.9 dev ospfa proto eigrp metric 90"]
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "add", "ospfa", "type", "veth", "peer", "name", "ospfb"],
                    ["ip", "addr", "add", "10.78.0.1/24", "dev", "ospfa"], ["ip", "link", "set", "ospfa", "up"],
                    ["ip", "link", "set", "ospfb", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        for route in ours:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "add", *route.split()], check=True)
        a = Driver(ns, "ra", tmp_path / "ra", _config("ra", "ospfa", "10.77.255.1"))
        drivers.append(a)
        a.pids()
        _wait("zebra's copies swept", lambda: _nhrp_and_eigrp_routes(ns) == sorted(ours), ZEBRA_SWEEP_SECONDS + 8)
        time.sleep(1.0)
        assert _nhrp_and_eigrp_routes(ns) == sorted(ours), "and they stay gone"
        for route in ours:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "del", *route.split()], check=True)
        time.sleep(1.0)
        assert _nhrp_and_eigrp_routes(ns) == [], "nothing of ours outlives its removal"
    finally:
        for driver in drivers:
            driver.close()
        for driver in drivers:
            for pid, start in driver.seen:
                if start is not None and proc_start_time(pid) == start:
                    os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp_path, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
