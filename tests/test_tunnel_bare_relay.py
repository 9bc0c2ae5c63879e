"""Root only: bench/bare_relay.py carries a ping between two namespaces over GRE.

Creates two namespaces of its own (unique names), a veth between them, runs one relay
in each, and deletes everything in `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and /dev/net/tun to build two namespaces",
)

RELAY = Path(__file__).resolve().parents[1] / "bench" / "bare_relay.py"


def sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=True)


def test_bare_relay_pings_across_a_gre_tunnel_between_two_namespaces():
    a, b = f"dlt-relay-a-{os.getpid()}", f"dlt-relay-b-{os.getpid()}"
    procs: list[subprocess.Popen] = []
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", "rlA", "netns", a, "type", "veth", "peer", "name", "rlB", "netns", b)
        for ns, dev, addr in ((a, "rlA", "198.18.0.1/30"), (b, "rlB", "198.18.0.2/30")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for ns, local, peer, tip in ((a, "198.18.0.1", "198.18.0.2", "10.0.0.1/24"),
                                     (b, "198.18.0.2", "198.18.0.1", "10.0.0.2/24")):
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, str(RELAY), "--tap", "Tunnel0",
                 "--peer", peer, "--local", local, "--tunnel-ip", tip, "--key", "7"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        deadline = time.time() + 10
        while time.time() < deadline:
            up = [subprocess.run(["ip", "-n", ns, "addr", "show", "Tunnel0"], capture_output=True,
                                 text=True).stdout for ns in (a, b)]
            if all("10.0.0." in u and "UP" in u for u in up):
                break
            time.sleep(0.1)
        ping = subprocess.run(["ip", "netns", "exec", a, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                               "10.0.0.2"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    finally:
        outputs = []
        for p in procs:
            p.terminate()
            try:
                outputs.append(p.communicate(timeout=5))
            except subprocess.TimeoutExpired:
                p.kill()
                outputs.append(p.communicate())
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    # each relay stopped cleanly on SIGTERM and reports what it moved
    counts = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    assert all(c["to_peer"] >= 3 and c["from_peer"] >= 3 and c["arp_replies"] >= 1 for c in counts), counts
