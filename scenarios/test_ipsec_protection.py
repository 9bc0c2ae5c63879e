"""IPsec tunnel protection on the seed's Phase 3 lab: the WAN carries only ISAKMP and ESP,
every ESP packet decrypts (ICV good) in tshark with the keys the agents exported, NHRP and
ICMP are inside, and after the redirect the direct path runs in a spoke-to-spoke SA.

Judged from the captures: tshark (`Lab.protection_report`, an ESP implementation
independent of ours) for "only ESP, all of it decrypts", and the path analysis (which opens
ESP with the same exported keys) for which links each echo crossed and in which SA.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from crossings import H1, H2, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, captures, ping
from dmvpnlab.ipsec.keylog import ESP_SA_FILE, IKEV1_FILE
from dmvpnlab.nhrp.codec import PacketType

pytestmark = [
    pytest.mark.dmvpn_topology("topologies/ipsec.yaml"),
    pytest.mark.skipif(importlib.util.find_spec("dmvpnlab.agent.ipsec_node") is None,
                       reason="the IPsec data plane (agent.ipsec_node) is not in this tree"),
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
]

WAN_LINKS = {"hub": "isp", "spoke1": "isp", "spoke2": "isp"}

# The lab is shared by the module: the redirect test runs first, on a lab with no shortcut yet.


def test_after_the_redirect_the_direct_path_runs_in_a_spoke_to_spoke_sa(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)  # opens ESP with the exported keys
    replies = [m for m in seen.messages(PacketType.RESOLUTION_REPLY, link=SPOKE1_WAN, since=since)
               if str(m.outer_dst) == SPOKE1_NBMA and str(m.outer_src) == SPOKE2_NBMA]
    assert replies, "spoke2 answers spoke1's resolution directly"
    assert replies[0].esp_spi is not None, "in ESP"
    later = [s for s in seen.echo(H1, H2, since=since) if s.time > replies[0].time + 0.05]
    assert later and HUB_WAN not in seen.links(later)
    assert {SPOKE1_WAN, SPOKE2_WAN} <= seen.links(later)
    on_wan = [s for s in later if s.link in (SPOKE1_WAN, SPOKE2_WAN)]  # the LAN links see them plain
    assert all(s.esp_spi is not None for s in on_wan), "every direct echo travels in ESP on the WAN"
    assert {(str(s.outer_src), str(s.outer_dst)) for s in on_wan} == {(SPOKE1_NBMA, SPOKE2_NBMA)}
    hub_spis = {s.esp_spi for s in seen.echo(H1, H2, since=since) if s.link == HUB_WAN}
    assert hub_spis and not hub_spis & {s.esp_spi for s in on_wan}, "not the SAs with the hub"


def test_wan_holds_only_isakmp_and_esp_and_every_esp_packet_decrypts(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    assert (lab.keys_dir / ESP_SA_FILE).is_file() and (lab.keys_dir / IKEV1_FILE).is_file()
    for router, peer in WAN_LINKS.items():
        report = lab.protection_report(router, peer)
        link = f"{router}-{peer}"
        assert report["damaged"] is None, link
        assert report["cleartext_gre"] == 0 and report["cleartext_nhrp"] == 0, (link, report)
        assert report["esp"] > 0 and report["esp_decrypted_ok"] == report["esp"], (link, report)
        assert report["esp_icv_bad"] == report["esp_undecrypted"] == 0, (link, report)
        assert report["inner_nhrp"] > 0 and report["inner_icmp"] > 0, (link, report)
        assert report["isakmp"] > 0 and report["isakmp_decrypted"] == report["isakmp_encrypted"], (link, report)
