"""Root only: bench/bare_relay.py carries a ping between two namespaces over GRE.

Creates two namespaces of its own (unique names), a veth between them, runs one relay
in each, and deletes everything in `finally`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from netns_live import load_bench_module

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and /dev/net/tun to build two namespaces",
)


def test_bare_relay_pings_across_a_gre_tunnel_between_two_namespaces():
    relay = load_bench_module("bare_relay")
    with relay.relay_pair("dlt-relay", key=7) as pair:
        ping = subprocess.run(["ip", "netns", "exec", pair.a, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                               "10.0.0.2"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    # each relay stopped cleanly on SIGTERM and reports what it moved
    counts = pair.counts
    assert len(counts) == 2
    assert all(c["to_peer"] >= 3 and c["from_peer"] >= 3 and c["arp_replies"] >= 1 for c in counts), counts
