"""EIGRP MD5 over DMVPN: the same key forms adjacencies, a wrong key forms none.

The lab starts with `eigrp_key` set for every router (key chain DMVPN_EIGRP, key 1, and
`ip authentication mode eigrp 100 md5` on Tunnel0): the hub has both spokes as
neighbours. Then spoke1's key string is changed from its CLI: the hub drops spoke1 when
its hold time ends and never takes it back (its hellos fail the digest), spoke1 loses
its EIGRP routes, spoke2 is untouched. The right key brings the adjacency back.
"""

from __future__ import annotations

import pytest

from routing_checks import LAN1, LAN2, SPOKE1_TUNNEL, SPOKE2_TUNNEL, cli, wait_for, wait_gone, wait_route

KEY = "DMVPN-MD5"
pytestmark = pytest.mark.dmvpn_topology("topologies/eigrp.yaml", vars={"phase": 2, "eigrp_key": KEY})


def neighbours(lab, node: str) -> str:
    return cli(lab, node, "show ip eigrp neighbors")


def test_the_same_key_forms_both_adjacencies(lab):
    assert wait_for(lambda: SPOKE1_TUNNEL in neighbours(lab, "hub") and SPOKE2_TUNNEL in neighbours(lab, "hub"),
                    timeout=30), neighbours(lab, "hub")
    wait_route(lab, "spoke1", LAN2, "D", None, timeout=30)


def test_a_wrong_key_forms_no_adjacency(lab):
    cli(lab, "spoke1", "configure terminal", "key chain DMVPN_EIGRP", "key 1", "key-string WRONG-KEY", "end")
    assert wait_for(lambda: SPOKE1_TUNNEL not in neighbours(lab, "hub"), timeout=10), neighbours(lab, "hub")
    wait_gone(lab, "spoke1", LAN2, {"D"}, timeout=10)
    wait_gone(lab, "hub", LAN1, {"D"}, timeout=10)
    assert not wait_for(lambda: SPOKE1_TUNNEL in neighbours(lab, "hub"), timeout=6), "no adjacency with a wrong key"
    assert SPOKE2_TUNNEL in neighbours(lab, "hub"), "spoke2, with the right key, stays"
    text = cli(lab, "spoke1", "show ip eigrp neighbors")
    assert "10.0.0.1" not in text, text


def test_the_right_key_brings_it_back(lab):
    cli(lab, "spoke1", "configure terminal", "key chain DMVPN_EIGRP", "key 1", f"key-string {KEY}", "end")
    assert wait_for(lambda: SPOKE1_TUNNEL in neighbours(lab, "hub"), timeout=20), neighbours(lab, "hub")
    wait_route(lab, "spoke1", LAN2, "D", None, timeout=20)
