"""A router whose LAN has no hosts still gets its LAN port (the scale lab's spokes)."""

from __future__ import annotations

from dmvpnlab.lab.builder import hostless_lan_commands


def test_hostless_lan_is_a_veth_pair_inside_the_router() -> None:
    assert hostless_lan_commands("spoke500-eth1") == [
        "ip link add spoke500-eth1 type veth peer name spoke500-eth1p",
        "ip link set spoke500-eth1p up",
    ]


def test_peer_name_stays_within_the_kernels_15_bytes() -> None:
    add, up = hostless_lan_commands("branch1000-eth1")  # 15 bytes already
    peer = up.split()[3]
    assert len(peer) <= 15 and peer != "branch1000-eth1"
