"""`ip mtu 1400` on Tunnel0: bigger packets are fragmented, or refused with ICMP when DF is set."""

from __future__ import annotations

import json
import time

import pytest

from crossings import H2

pytestmark = pytest.mark.dmvpn_topology("topologies/default.yaml")


def test_a_packet_bigger_than_the_tunnel_mtu_with_df_gets_fragmentation_needed(lab):
    result = lab.exec("h1", ["ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1450", H2])
    assert not result.ok
    assert "mtu = 1400" in (result.stdout + result.stderr).lower().replace("mtu=", "mtu = ")


def test_a_packet_bigger_than_the_tunnel_mtu_without_df_is_fragmented_and_delivered(lab):
    result = lab.exec("h1", ["ping", "-n", "-c", "2", "-W", "1", "-M", "dont", "-s", "3000", H2])
    assert result.ok, result.stdout + result.stderr
    assert "2 received" in result.stdout


def test_tcp_mss_is_clamped_to_adjust_mss(lab):
    """Both hosts offer 1460; `ip tcp adjust-mss 1360` on the spokes lowers it in the SYNs."""
    server = lab.node("h2").popen(["iperf3", "-s", "-1"])
    try:
        time.sleep(0.3)
        result = lab.exec("h1", ["iperf3", "-c", H2, "-t", "1", "-J"])
        assert result.ok, result.stdout[-500:]
        mss = json.loads(result.stdout)["start"]["tcp_mss_default"]
        assert mss <= 1360
    finally:
        server.wait(10)
