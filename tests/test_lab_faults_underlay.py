"""Underlay fault commands: the nftables loss table (checked by nft itself) and link lookup."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from dmvpnlab.lab.faults import underlay


@dataclass
class Result:
    ok: bool
    stdout: str = ""
    stderr: str = ""


def nft_accepts(ruleset: str) -> subprocess.CompletedProcess:
    """`nft -c` (check only) in a throwaway network namespace: nothing is applied anywhere."""
    return subprocess.run(["unshare", "-n", "nft", "-c", "-f", "-"], input=ruleset, text=True,
                          capture_output=True, timeout=10)


needs_nft = pytest.mark.skipif(shutil.which("nft") is None or shutil.which("unshare") is None,
                               reason="needs nft and unshare")


@needs_nft
@pytest.mark.skipif(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0",
                    reason="unshare -n needs root")
def test_the_loss_table_is_valid_nftables_with_both_directions_per_port():
    ruleset = underlay.loss_ruleset({"isp-eth1": 5.0, "isp-eth2": 0.5})
    assert nft_accepts(ruleset).returncode == 0, nft_accepts(ruleset).stderr
    assert 'iifname "isp-eth1" numgen random mod 1000 < 50 counter drop' in ruleset
    assert 'oifname "isp-eth1" numgen random mod 1000 < 50 counter drop' in ruleset
    assert "< 5 counter" in ruleset  # 0.5 % is 5 in 1000
    assert ruleset.index("delete table") < ruleset.index("chain inbound")  # replaced whole, atomically


@needs_nft
@pytest.mark.skipif(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0",
                    reason="unshare -n needs root")
def test_no_loss_left_is_an_empty_table_deleted():
    ruleset = underlay.loss_ruleset({})
    assert nft_accepts(ruleset).returncode == 0
    assert "chain" not in ruleset


def test_the_far_end_is_the_peer_port_with_the_veth_link_index():
    links = {
        "spoke1": [{"ifindex": 1, "ifname": "lo"}, {"ifindex": 5, "ifname": "spoke1-eth0", "link_index": 9}],
        "isp": [{"ifindex": 1, "ifname": "lo"}, {"ifindex": 8, "ifname": "isp-eth0"}, {"ifindex": 9, "ifname": "isp-eth1"}],
    }
    run = lambda node, argv: Result(True, json.dumps(links[node]))  # noqa: E731
    end = underlay.find_link_end(run, "spoke1", "spoke1-eth0", "isp")
    assert (end.peer, end.peer_if) == ("isp", "isp-eth1")
    assert underlay.node_ports(run, "isp") == ["isp-eth0", "isp-eth1"]


def test_a_router_port_that_is_not_a_veth_is_a_clear_error():
    run = lambda node, argv: Result(True, json.dumps([{"ifindex": 5, "ifname": "spoke1-eth0"}]))  # noqa: E731
    with pytest.raises(underlay.UnderlayError, match="no veth spoke1-eth0"):
        underlay.find_link_end(run, "spoke1", "spoke1-eth0", "isp")


def test_a_failed_command_names_node_and_command():
    end = underlay.LinkEnd("spoke1", "spoke1-eth0", "isp", "isp-eth1")
    run = lambda node, argv: Result(False, "", "Cannot find device")  # noqa: E731
    with pytest.raises(underlay.UnderlayError, match="isp: `ip link set dev isp-eth1 down` failed: Cannot find device"):
        underlay.set_link(run, end, up=False)
