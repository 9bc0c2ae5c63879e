"""DMVPN Phase 3 with IPsec tunnel protection, on one lab (topologies/ipsec-scenarios.yaml).

hub, spoke1 and spoke2 run the seed's crypto lines (IKEv1 pre-shared key DMVPN_KEY, ESP
AES-256 + SHA-256 in transport mode); spoke3 has the same config with a wrong key. What a
user would check on real routers, checked here from the same places: the WAN captures
(decrypted by tshark with the keys the agents exported, `Lab.protection_report`), the
routers' `show` commands and `debug crypto isakmp` over the control socket, and the
agents' JSON state. The tests run in file order on the same lab; each makes the traffic
it asserts about and bounds its capture queries by its own start time where it matters.
The last one fixes spoke3's key at its prompt, so it runs last. The module takes about
26 s here, bring-up (about 5 s) included.
"""

from __future__ import annotations

import re
import struct
import time
from ipaddress import IPv4Address
from typing import Any

import pytest

from crossings import (H1, H2, H0, HUB_NBMA, HUB_WAN, SPOKE1_NBMA, SPOKE1_WAN, SPOKE2_NBMA, SPOKE2_WAN, agent_state,
                       captures, ping, wait_for)
from dmvpnlab.analysis.capfile import CaptureDamaged, CaptureFormatError, CaptureReader
from dmvpnlab.cli.client import CliClient, run_cli
from dmvpnlab.lab.demo.ipsec_story import IpsecPeer, IsakmpRow, parse_ipsec_sa, parse_isakmp_sa
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/ipsec-scenarios.yaml")

H3 = "192.168.3.10"
SPOKE3_NBMA, SPOKE3_TUNNEL, SPOKE3_WAN = "100.64.3.1", "10.0.0.4", "spoke3-isp"
PROTECTED_WAN = (HUB_WAN, SPOKE1_WAN, SPOKE2_WAN)
MAX_LOST_AFTER_CLEAR = 2  # packets a ping may lose while IKE renegotiates after `clear crypto session`

_DMVPN_ROW = re.compile(r"^\s*(\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def cli(lab: Any, node: str, line: str) -> str:
    """One exec command on a router, over its control socket (what `dmvpnlab cli NODE -c` sends)."""
    return run_cli(lab.records.directory / node, line)


def dmvpn_peers(lab: Any, node: str) -> dict[str, tuple[str, str]]:
    """`show dmvpn` as {peer NBMA: (peer tunnel address, state)} (first row of each peer)."""
    rows = (_DMVPN_ROW.match(line) for line in cli(lab, node, "show dmvpn").splitlines())
    return {m[2]: (m[3], m[4]) for m in rows if m}


def isakmp_rows(lab: Any, node: str, peer: str) -> list[IsakmpRow]:
    return [r for r in parse_isakmp_sa(cli(lab, node, "show crypto isakmp sa")) if peer in (r.src, r.dst)]


def ipsec_peer(lab: Any, node: str, peer: str) -> IpsecPeer | None:
    """The `show crypto ipsec sa peer X` block of `peer` (None if the router has no SA with it)."""
    return next((p for p in parse_ipsec_sa(cli(lab, node, f"show crypto ipsec sa peer {peer}")) if p.peer == peer),
                None)


def received(result: Any) -> int:
    """How many echo replies a ping got (its summary line)."""
    m = re.search(r"(\d+) received", result.stdout)
    return int(m[1]) if m else 0


def isakmp_times(lab: Any, link: str, a: str, b: str) -> list[float]:
    """Capture times of the ISAKMP datagrams (UDP 500/4500) between NBMA addresses a and b on `link`."""
    lab.flush_captures()
    owner, peer = link.split("-", 1)
    times, pair = [], {IPv4Address(a), IPv4Address(b)}
    try:
        with CaptureReader(lab.capture_path(owner, peer)) as reader:
            for record in reader:
                ip = record.data[14:]
                if len(record.data) < 42 or record.data[12:14] != b"\x08\x00" or ip[9] != 17:
                    continue
                if {IPv4Address(ip[12:16]), IPv4Address(ip[16:20])} != pair:
                    continue
                sport, dport = struct.unpack_from("!HH", ip, (ip[0] & 0x0F) * 4)
                if {sport, dport} & {500, 4500}:
                    times.append(record.time)
    except (CaptureDamaged, CaptureFormatError):
        pass  # a half-written last block: what came before it counts
    return times


# ---------------------------------------------------------------------------- 1. protection


def test_the_wan_carries_only_isakmp_and_esp_and_tshark_decrypts_every_esp_packet(lab):
    for host in ("h1", "h2"):
        _, result = ping(lab, host, H0, count=5)
        assert result.ok, result.stdout + result.stderr

    for link in PROTECTED_WAN:
        report = lab.protection_report(*link.split("-", 1))
        # Nothing of the tunnel in the clear, from the very first packet on
        assert report["cleartext_gre"] == 0 and report["cleartext_nhrp"] == 0, (link, report)
        assert report["other_ip"] == 0 and report["udp4500"] == 0, (link, report)  # only ISAKMP and ESP
        assert report["isakmp"] > 0, (link, report)
        # Every ESP packet opens in tshark with the exported keys, integrity checked
        assert report["esp"] > 0 and report["esp_decrypted_ok"] == report["esp"], (link, report)
        assert report["esp_icv_bad"] == report["esp_undecrypted"] == report["esp_decrypted_no_icv"] == 0, (link, report)
        assert report["damaged"] is None
        # ...and inside are the registrations and the pings
        assert report["inner_nhrp"] >= 2, (link, report)
        assert report["inner_icmp"] >= (20 if link == HUB_WAN else 10), (link, report)

    wrong_key = lab.protection_report(*SPOKE3_WAN.split("-", 1))
    assert wrong_key["isakmp"] > 0 and wrong_key["esp"] == 0, wrong_key
    assert wrong_key["cleartext_gre"] == 0 and wrong_key["other_ip"] == 0, wrong_key  # it waits, never leaks


# ---------------------------------------------------------------------------- 2. show dmvpn


def test_show_dmvpn_shows_the_hub_up_on_a_protected_spoke_and_ike_on_the_spoke_with_the_wrong_key(lab):
    assert dmvpn_peers(lab, "spoke1")[HUB_NBMA] == ("10.0.0.1", "UP")
    assert dmvpn_peers(lab, "spoke2")[HUB_NBMA] == ("10.0.0.1", "UP")
    # spoke3's Main Mode never completes: its NHS is stuck at the first step, as IOS shows it
    assert dmvpn_peers(lab, "spoke3")[HUB_NBMA] == ("10.0.0.1", "IKE")
    hub = dmvpn_peers(lab, "hub")
    assert hub[SPOKE1_NBMA] == ("10.0.0.2", "UP") and hub[SPOKE2_NBMA] == ("10.0.0.3", "UP")
    assert SPOKE3_NBMA not in hub


# ---------------------------------------------------------------------------- 3. Phase 3 + IPsec


def test_phase3_the_spoke_to_spoke_sa_forms_after_the_redirect_and_carries_the_direct_path(lab):
    since, result = ping(lab, "h1", H2, count=10)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)

    indications = seen.messages(PacketType.TRAFFIC_INDICATION, link=SPOKE1_WAN, since=since)
    assert indications, "the hub redirects spoke1 (Traffic Indication, inside ESP)"
    redirect = indications[0]
    assert (str(redirect.outer_src), str(redirect.outer_dst)) == (HUB_NBMA, SPOKE1_NBMA)
    assert redirect.esp_spi is not None, "the redirect itself travelled in ESP"

    ike = isakmp_times(lab, SPOKE1_WAN, SPOKE1_NBMA, SPOKE2_NBMA)
    assert ike, "spoke1 and spoke2 ran IKE with each other"
    assert min(ike) > redirect.time, "the spoke-to-spoke SA is negotiated after the redirect, not before"

    assert any(r.state == "QM_IDLE" for r in isakmp_rows(lab, "spoke1", SPOKE2_NBMA))
    direct = ipsec_peer(lab, "spoke1", SPOKE2_NBMA)
    assert direct is not None and direct.encaps > 0 and direct.decaps > 0, direct
    assert direct.mode == "Transport"

    requests = seen.echo(H1, H2, since=since)
    assert HUB_WAN in seen.links_per_seq(requests)[1], "the first packet went through the hub"
    later = [s for s in requests if s.time > max(ike) + 0.05]
    assert later, "pings after the spoke-to-spoke SA came up"
    assert HUB_WAN not in seen.links(later), "after the shortcut the hub sees none of them"
    wan = [s for s in later if s.link in (SPOKE1_WAN, SPOKE2_WAN)]
    assert {s.link for s in wan} == {SPOKE1_WAN, SPOKE2_WAN}
    for sighting in wan:
        assert sighting.esp_spi is not None, sighting  # in ESP ...
        assert (str(sighting.outer_src), str(sighting.outer_dst)) == (SPOKE1_NBMA, SPOKE2_NBMA), sighting
    replies = [s for s in seen.echo(H1, H2, reply=True, since=since)
               if s.time > max(ike) + 0.05 and s.link in (SPOKE1_WAN, SPOKE2_WAN)]
    assert replies and all((str(s.outer_src), str(s.outer_dst)) == (SPOKE2_NBMA, SPOKE1_NBMA) for s in replies)

    # tshark (not our ESP code) agrees: the direct path decrypts, ICV good, ICMP inside
    for link in (SPOKE1_WAN, SPOKE2_WAN):
        report = lab.protection_report(*link.split("-", 1))
        assert report["esp_decrypted_ok"] == report["esp"] and report["cleartext_gre"] == 0, (link, report)


# ---------------------------------------------------------------------------- 4. wrong key


def test_the_spoke_with_the_wrong_key_never_gets_an_sa_nor_registers_and_debug_says_why(lab):
    hub_ike = agent_state(lab, "hub")["ipsec"]["engine"]
    mismatches_before = hub_ike["hash mismatch"]
    lines: list[str] = []
    with CliClient(lab.records.directory / "hub" / "control.sock", on_debug=lines.append) as session:
        assert "Crypto ISAKMP debugging is on" in session.send("debug crypto isakmp")["output"]
        # spoke3 starts over (its pending SA cleared) and a packet from its LAN needs the SA
        cli(lab, "spoke3", "clear crypto session")
        _, result = ping(lab, "h3", H0, count=2)
        assert received(result) == 0, "no path without an SA"
        assert wait_for(lambda: session.send("show debugging") and any(
            "IKMP_BAD_MESSAGE" in line and SPOKE3_NBMA in line for line in lines), timeout=10), lines
        session.send("undebug all")
    refused = [line for line in lines if "refused" in line and SPOKE3_NBMA in line]
    assert refused and "hash mismatch" in refused[0], lines
    assert agent_state(lab, "hub")["ipsec"]["engine"]["hash mismatch"] > mismatches_before

    assert not any(r.state == "QM_IDLE" for r in isakmp_rows(lab, "hub", SPOKE3_NBMA))
    assert ipsec_peer(lab, "hub", SPOKE3_NBMA) is None
    assert agent_state(lab, "spoke3")["ipsec"]["child_sas"] == []
    assert SPOKE3_TUNNEL not in cli(lab, "hub", "show ip nhrp"), "no registration from spoke3"
    assert SPOKE3_NBMA not in dmvpn_peers(lab, "hub")
    spoke3 = agent_state(lab, "spoke3")
    assert [n["state"] for n in spoke3["nhrp"]["nhs"]] == ["E"]
    # spoke3's side never hears back after its (undecryptable) MM5: it retransmits, as IOS does
    assert spoke3["ipsec"]["engine"]["retransmits"] > 0, spoke3["ipsec"]["engine"]

    # the others do not notice
    for host in ("h1", "h2"):
        _, result = ping(lab, host, H0, count=3)
        assert result.ok, result.stdout
    hub = dmvpn_peers(lab, "hub")
    assert hub[SPOKE1_NBMA][1] == hub[SPOKE2_NBMA][1] == "UP"


# ---------------------------------------------------------------------------- 5. counters, clear


def test_ipsec_sa_counters_move_with_traffic_both_ways(lab):
    spoke_before, hub_before = ipsec_peer(lab, "spoke1", HUB_NBMA), ipsec_peer(lab, "hub", SPOKE1_NBMA)
    _, result = ping(lab, "h1", H0, count=5)
    assert result.ok
    spoke_after, hub_after = ipsec_peer(lab, "spoke1", HUB_NBMA), ipsec_peer(lab, "hub", SPOKE1_NBMA)
    assert spoke_after.encaps - spoke_before.encaps >= 5 and spoke_after.decaps - spoke_before.decaps >= 5
    assert hub_after.encaps - hub_before.encaps >= 5 and hub_after.decaps - hub_before.decaps >= 5


def test_clear_crypto_session_tears_down_and_the_next_ping_brings_new_sas(lab):
    old = ipsec_peer(lab, "spoke1", HUB_NBMA)
    assert old is not None and old.spis
    lines: list[str] = []
    with CliClient(lab.records.directory / "spoke1" / "control.sock", on_debug=lines.append) as session:
        session.send("debug crypto isakmp")
        session.send("debug crypto ipsec")
        cli(lab, "spoke1", "clear crypto session")
        assert ipsec_peer(lab, "spoke1", HUB_NBMA) is None, "the SAs are gone"
        assert not isakmp_rows(lab, "spoke1", HUB_NBMA)

        _, result = ping(lab, "h1", H0, count=10)
        lost = 10 - received(result)
        assert lost <= MAX_LOST_AFTER_CLEAR, result.stdout
        wait_for(lambda: session.send("show debugging") and any("IPSEC(create_sa)" in x for x in lines), timeout=5)
        session.send("undebug all")

    new = ipsec_peer(lab, "spoke1", HUB_NBMA)
    assert new is not None and new.encaps >= 10 - lost and new.decaps >= 10 - lost
    assert not new.spis & old.spis, "new SPIs"
    assert any(r.state == "QM_IDLE" for r in isakmp_rows(lab, "spoke1", HUB_NBMA))
    assert dmvpn_peers(lab, "spoke1")[HUB_NBMA][1] == "UP"
    # The debug log tells the order the session came back in: spoke1 starts Main Mode with
    # the hub (IKE), authenticates it, then Quick Mode gives the ESP SAs (IPSEC).
    steps = [next((i for i, x in enumerate(lines) if all(w in x for w in words)), None)
             for words in ((f"sending packet to {HUB_NBMA}", "(I) MM_NO_STATE"),
                           (f"SA has been authenticated with {HUB_NBMA}",),
                           ("beginning Quick Mode exchange",),
                           ("IPSEC(create_sa)", f"sa_dest= {HUB_NBMA}"))]
    assert None not in steps and steps == sorted(steps), lines
    first = re.search(r"icmp_seq=(\d+) .*time=([\d.]+) ms", result.stdout)
    print(f"clear crypto session: {lost} of 10 pings lost; first reply seq {first[1]} in {first[2]} ms (IKE included)")

    # and the new keys were exported: every ESP packet on spoke1's link still decrypts
    report = lab.protection_report(*SPOKE1_WAN.split("-", 1))
    assert report["esp_decrypted_ok"] == report["esp"] and report["cleartext_gre"] == 0, report


# ---------------------------------------------------------------------------- 6. the key fixed


def test_with_the_right_key_spoke3_comes_up_through_ike_ipsec_nhrp_to_up(lab):
    """The wrong key fixed at spoke3's prompt (no restart): its hub row leaves IKE and ends UP.
    The steps in between (IPSEC: ISAKMP SA up; NHRP: ESP SA up, registration pending) last
    milliseconds here, too short to catch by polling `show dmvpn` reliably, so their order is
    read from spoke3's debug log (Main Mode authenticated, then the ESP SA, then the
    Registration Reply); the states the polling did catch are printed and must be in order."""
    assert dmvpn_peers(lab, "spoke3")[HUB_NBMA][1] == "IKE"
    lines: list[str] = []
    with CliClient(lab.records.directory / "spoke3" / "control.sock", on_debug=lines.append) as session:
        for line in ("debug crypto isakmp", "debug crypto ipsec", "debug nhrp packet", "configure terminal",
                     "crypto isakmp key DMVPN_KEY address 0.0.0.0 0.0.0.0", "end", "clear crypto session"):
            assert "%" not in session.send(line)["output"], line
        started = time.monotonic()
        lab.exec("h3", ["ping", "-n", "-c", "1", "-W", "1", H0])  # a packet that needs the SA
        seen, deadline = ["IKE"], time.monotonic() + 40
        while seen[-1] != "UP" and time.monotonic() < deadline:
            state = dmvpn_peers(lab, "spoke3").get(HUB_NBMA, ("", "gone"))[1]
            if state != seen[-1]:
                seen.append(state)
            time.sleep(0.01)
        took = time.monotonic() - started
        session.send("undebug all")  # its answer comes after every debug line before it
    print(f"spoke3 show dmvpn states: {' -> '.join(seen)} ({took:.2f} s after the first packet)")
    order = ["IKE", "IPSEC", "NHRP", "UP"]
    assert seen[-1] == "UP" and all(s in order for s in seen), seen
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), seen
    steps = [next((i for i, x in enumerate(lines) if all(w in x for w in words)), None)
             for words in ((f"SA has been authenticated with {HUB_NBMA}",),
                           ("IPSEC(create_sa)", f"sa_dest= {HUB_NBMA}"),
                           ("Receive", "Registration Reply"))]
    assert None not in steps and steps == sorted(steps), (steps, lines)
    assert dmvpn_peers(lab, "hub")[SPOKE3_NBMA] == (SPOKE3_TUNNEL, "UP")
    _, result = ping(lab, "h3", H1, count=3)
    assert result.ok, result.stdout
