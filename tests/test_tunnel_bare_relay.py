"""Root only: bench/bare_relay.py carries a ping between two namespaces over GRE.

Creates two namespaces of its own (unique names), a veth between them, runs one relay
in each, and deletes everything in `finally`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and /dev/net/tun to build two namespaces",
)

RELAY = Path(__file__).resolve().parents[1] / "bench" / "bare_relay.py"


def load_relay_module():
    spec = importlib.util.spec_from_file_location("bare_relay", RELAY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bare_relay_pings_across_a_gre_tunnel_between_two_namespaces():
    relay = load_relay_module()
    with relay.relay_pair("dlt-relay", key=7) as pair:
        ping = subprocess.run(["ip", "netns", "exec", pair.a, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                               "10.0.0.2"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    # each relay stopped cleanly on SIGTERM and reports what it moved
    counts = pair.counts
    assert len(counts) == 2
    assert all(c["to_peer"] >= 3 and c["from_peer"] >= 3 and c["arp_replies"] >= 1 for c in counts), counts
