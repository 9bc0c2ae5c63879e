"""Link conditioning of a wired lab, measured: loss and bandwidth as tc/nftables in the
nodes' namespaces, delay reported as not applied (this kernel has no netem), and a Linux
host addressed from the file reaching its router."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from dmvpnlab.lab.wired.agents import agent_knows_interface_map
from dmvpnlab.lab.wired.model import Conditioning
from tests.wired_samples import three_routers

NOTES: list[str] = []


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    from dmvpnlab.lab.lab import Lab

    cond = Conditioning(bandwidth_kbps=4000, loss_percent=40, delay_ms=15)
    topo = three_routers(wired=agent_knows_interface_map(), host=True, host_conditioning=cond,
                         management=False, name="wiredc")
    instance = Lab.up(topo, quiet=True, captures=False, note=NOTES.append)
    try:
        yield instance
    finally:
        instance.down()


def test_delay_is_reported_not_applied_once_for_the_link(lab):
    lines = [n for n in NOTES if n.startswith("link l4")]
    assert len(lines) == 1 and "delay 15 ms not applied, this kernel has no netem" in lines[0], NOTES


def test_both_ends_shape_and_drop(lab):
    hub_if = lab.topology.router("Hub").interfaces[1].linux_name
    for node, ifname in (("Hub", hub_if), ("PC1", "ens2")):
        qdisc = lab.exec(node, ["tc", "qdisc", "show", "dev", ifname]).stdout
        assert "tbf" in qdisc and "rate 4Mbit" in qdisc, qdisc
        rules = lab.exec(node, ["nft", "list", "table", "netdev", "dmvpnlab_link"]).stdout
        assert "numgen random mod 100 < 40" in rules and ifname in rules, rules


def test_the_host_reaches_its_router_through_the_lossy_link(lab):
    # ARP crosses the lossy link too (a neighbour that fails to resolve turns every echo into
    # an error): pin both neighbours, so that only echoes are counted.
    hub_if = lab.topology.router("Hub").interfaces[1].linux_name
    for node, ifname, peer, peer_if, address in (("PC1", "ens2", "Hub", hub_if, "192.168.11.1"),
                                                  ("Hub", hub_if, "PC1", "ens2", "192.168.11.10")):
        mac = lab.exec(peer, ["cat", f"/sys/class/net/{peer_if}/address"]).stdout.strip()
        assert lab.exec(node, ["ip", "neigh", "replace", address, "lladdr", mac, "dev", ifname, "nud", "permanent"]).ok
    done = lab.exec("PC1", ["ping", "-n", "-q", "-c", "100", "-i", "0.01", "-W", "1", "192.168.11.1"], timeout=30)
    loss = float(re.search(r"([\d.]+)% packet loss", done.stdout).group(1))
    # Each echo and its reply cross the link once each way: 1 - 0.6 * 0.6 = 64 % expected
    # (100 echoes: 30-90 % is more than 5 standard deviations either side).
    assert 30 <= loss <= 90, done.stdout


