"""The classic EIGRP composite metric gives the numbers IOS prints.

Known IOS values: FastEthernet (100 Mbit/s, DLY 100 usec) connected route 28160; a T1
serial (1544 kbit/s, DLY 20000 usec) 2169856; a DMVPN tunnel with IOS tunnel defaults
(BW 100 kbit/s, DLY 50000 usec) 26880000 for the tunnel subnet, 26882560 for a spoke's
FastEthernet LAN learnt over it (the `[90/26882560]` of every DMVPN lab), 28162560 for
another spoke's LAN relayed by the hub over two tunnel hops (delay 50000+50000+100).
The last two and the loopback values 27008000 / 28288000 appear in published DMVPN lab
outputs (`show ip route eigrp` on spokes, hub as next hop).
"""

from __future__ import annotations

from dmvpnlab.routing.eigrp.metric import (
    INFINITY, KValues, classic_metric, composite, scaled_bandwidth, scaled_delay, through_interface,
)
from dmvpnlab.routing.eigrp.tlvs import Metric


def test_fast_ethernet_connected_is_28160():
    assert classic_metric(100_000, 100) == 28160


def test_t1_truncates_the_bandwidth_term_before_scaling_like_ios():
    assert classic_metric(1544, 20000) == 2169856


def test_tunnel_defaults_give_26880000():
    assert classic_metric(100, 50000) == 26880000


def test_spoke_lan_over_the_tunnel_is_26882560_and_via_the_hub_28162560():
    lan = Metric(scaled_delay(100), scaled_bandwidth(100_000), mtu=1500)
    at_hub = through_interface(lan, 100, 50000, 1400)
    assert composite(at_hub) == 26882560 and at_hub.mtu == 1400 and at_hub.hop_count == 1
    at_other_spoke = through_interface(at_hub, 100, 50000, 1400)
    assert composite(at_other_spoke) == 28162560 and at_other_spoke.hop_count == 2


def test_wire_fields_are_the_scaled_values():
    assert scaled_bandwidth(100_000) == 25600 and scaled_delay(100) == 2560
    assert scaled_bandwidth(100) == 25_600_000 and scaled_delay(50000) == 1_280_000


def test_unreachable_delay_is_infinite_and_stays_so_through_an_interface():
    dead = Metric(delay=0xFFFFFFFF, bandwidth=25600)
    assert composite(dead) == INFINITY
    assert through_interface(dead, 100, 50000, 1400) == dead


def test_k2_and_k5_bring_load_and_reliability_in():
    m = Metric(scaled_delay(100), scaled_bandwidth(100_000), reliability=255, load=1)
    assert composite(m, KValues(1, 1, 1, 0, 0)) == 25600 + 25600 // 255 + 2560
    assert composite(m, KValues(1, 0, 1, 0, 1)) == 28160 * 1 // 255
    assert composite(Metric(2560, 25600, reliability=0), KValues(1, 0, 1, 0, 1)) == INFINITY


def test_metric_saturates_at_32_bits():
    assert classic_metric(1, 10**9) == INFINITY


def test_a_spoke_loopback_is_27008000_at_the_hub_and_28288000_at_the_other_spoke():
    """The /32 lines of published DMVPN `show ip route eigrp` outputs: loopback BW
    8000000 kbit/s, DLY 5000 usec, then one and two tunnel hops."""
    loopback = Metric(scaled_delay(5000), scaled_bandwidth(8_000_000), mtu=1514)
    at_hub = through_interface(loopback, 100, 50000, 1400)
    assert composite(at_hub) == 27008000
    assert composite(through_interface(at_hub, 100, 50000, 1400)) == 28288000
