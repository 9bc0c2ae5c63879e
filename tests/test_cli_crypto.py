"""`show crypto ...`, `clear crypto ...`, `debug crypto ...` over a hub's IPsec state.

The state is real ESP SAs behind a stand-in IPsec node (crypto_fakes). Layouts are checked
three ways: against the captured IOS row of ios-show-outputs.md (byte for byte), against
ntc-templates' TextFSM templates for IOS (an independent parser: our text must read back
into the right fields), and line by line where neither exists.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from ntc_templates.parse import parse_output

from crypto_fakes import HUB, SPOKE1, SPOKE2, child_view, esp_pair, hub_agent, ike_view
from dmvpnlab.cli.exec import ExecSession


GOLDEN = Path(__file__).parent / "golden" / "cli"
GOLDEN_COMMANDS = ["show crypto isakmp sa", "show crypto isakmp sa detail", "show crypto ipsec sa",
                   "show crypto ipsec sa detail", "show crypto session", "show crypto session detail",
                   "show crypto map"]


def run(agent, command: str) -> str:
    result = ExecSession(agent).handle(command)
    assert not result.error, result.output
    return result.output


@pytest.fixture
def hub():
    return hub_agent()


# -- show crypto isakmp sa -----------------------------------------------------------------


def test_isakmp_sa_rows_sit_in_the_columns_of_the_captured_ios_row(hub) -> None:
    reference = "100.0.10.2      100.13.220.2    QM_IDLE          29609 ACTIVE"
    hub.ipsec.ike = [replace(ike_view(SPOKE1, 29609), dst=IPv4Address("100.0.10.2"),
                             src=IPv4Address("100.13.220.2"))]
    lines = run(hub, "show crypto isakmp sa").splitlines()
    assert lines[:3] == ["IPv4 Crypto ISAKMP SA", "dst             src             state          conn-id status",
                         reference]
    assert lines[3:] == ["", "IPv6 Crypto ISAKMP SA", ""]


def test_isakmp_sa_lists_every_peer_by_conn_id_and_a_negotiating_one_without_status(hub) -> None:
    hub.ipsec.ike.append(replace(ike_view(IPv4Address("100.64.3.1"), 1003), state="MM_KEY_EXCH", status=""))
    rows = run(hub, "sh cry isa sa").splitlines()[2:5]
    assert [r.split() for r in rows] == [
        ["203.0.113.1", "100.64.1.1", "QM_IDLE", "1001", "ACTIVE"],
        ["203.0.113.1", "100.64.2.1", "QM_IDLE", "1002", "ACTIVE"],
        ["203.0.113.1", "100.64.3.1", "MM_KEY_EXCH", "1003"]]


def test_isakmp_sa_detail_has_ios_15_columns_and_the_negotiated_suite(hub) -> None:
    hub.ipsec.ike[1] = replace(hub.ipsec.ike[1], nat_t=True, encryption="3des", hash="md5", group=2,
                               lifetime_left=3600 * 5 + 61)
    lines = run(hub, "show crypto isakmp sa detail").splitlines()
    header = "C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap."
    assert header in lines and lines[0].startswith("Codes: C - IKE configuration mode, D - Dead Peer Detection")
    rows = lines[lines.index(header) + 2:]
    assert rows[0] == "1001  203.0.113.1     100.64.1.1             ACTIVE aes  sha256 psk  14 23:53:20 D"
    assert rows[1] == "       Engine-id:Conn-id =  SW:1001"
    assert rows[3] == "1002  203.0.113.1     100.64.2.1             ACTIVE 3des md5    psk  2  05:01:01 DN"
    for row in (rows[0], rows[3]):  # every field starts under its header word
        for word in ("Local", "Remote", "Status", "Encr", "Hash", "Auth", "DH", "Lifetime", "Cap."):
            assert row[header.index(word) - 1] == " " and row[header.index(word)] != " ", (word, row)
    assert lines[-2:] == ["IPv6 Crypto ISAKMP SA", ""]


# -- show crypto ipsec sa --------------------------------------------------------------------


def test_ipsec_sa_shows_the_gre_flow_the_spis_and_the_counters_esp_counted(hub) -> None:
    text = run(hub, "show crypto ipsec sa")
    for line in (
        "interface: Tunnel0",
        "    Crypto map tag: Tunnel0-head-0, local addr 203.0.113.1",
        "   local  ident (addr/mask/prot/port): (203.0.113.1/255.255.255.255/47/0)",
        "   remote ident (addr/mask/prot/port): (100.64.1.1/255.255.255.255/47/0)",
        "   current_peer 100.64.1.1 port 500",
        "    #pkts encaps: 10, #pkts encrypt: 10, #pkts digest: 10",
        "    #pkts decaps: 8, #pkts decrypt: 8, #pkts verify: 8",
        "    #send errors 0, #recv errors 2",  # the replayed packet and the broken ICV
        "     local crypto endpt.: 203.0.113.1, remote crypto endpt.: 100.64.1.1",
        "     current outbound spi: 0x1A2B3C4D(439041101)",
        "      spi: 0x5E6F7081(1584361601)",
        "        transform: esp-256-aes esp-sha256-hmac ,",
        "        in use settings ={Transport, }",
        "        conn id: 2001, flow_id: SW:2001, sibling_flags 80000040, crypto map: Tunnel0-head-0",
        "        replay detection support: Y",
        "        Status: ACTIVE(ACTIVE)",
    ):
        assert line in text.splitlines(), line
    assert "100.64.2.1" not in text  # spoke2 has an IKE SA but no IPsec SA


def test_ipsec_sa_detail_reads_back_through_ntc_templates_into_the_right_fields(hub) -> None:
    text = run(hub, "show crypto ipsec sa detail")
    records = parse_output(platform="cisco_ios", command="show crypto ipsec sa detail", data=text)
    assert [(r["sa_orientation"], r["sa_type"], r["sa_spi_dec"]) for r in records] == [
        ("inbound", "esp", "1584361601"), ("outbound", "esp", "439041101")]
    for r in records:
        assert (r["interface"], r["crypto_map_tag"], r["local_addr"]) == ("Tunnel0", "Tunnel0-head-0", "203.0.113.1")
        assert (r["local_ident_addr"], r["local_ident_prot"], r["remote_ident_addr"], r["remote_ident_prot"]) == (
            "203.0.113.1", "47", "100.64.1.1", "47")
        assert (r["current_peer"], r["port"]) == ("100.64.1.1", "500")
        assert (r["pkts_encaps"], r["pkts_encrypt"], r["pkts_digest"]) == ("10", "10", "10")
        assert (r["pkts_decaps"], r["pkts_decrypt"], r["pkts_verify"]) == ("8", "8", "8")
        assert (r["pkts_replay_failed"], r["pkts_verify_failed"]) == ("1", "1")  # what ESP counted
        assert (r["pfs"], r["dh_group"], r["path_mtu"], r["ip_mtu_idb"]) == ("N", "none", "1500", "GigabitEthernet0/0")
        assert r["current_outbound_spi_hex"] == "0x1A2B3C4D"
        assert (r["sa_transform"], r["sa_in_use_settings"]) == ("esp-256-aes esp-sha256-hmac", "Transport")
        assert (r["sa_replay_detection_support"], r["sa_replay_window_size"], r["sa_status"]) == (
            "Y", "64", "ACTIVE(ACTIVE)")
        assert r["sa_iv_size"] == "16" and int(r["sa_lifetime_sec"]) <= 3600
    assert [r["sa_conn_id"] for r in records] == ["2001", "2002"]


def test_ipsec_sa_peer_filter_and_nat_t(hub) -> None:
    out, inbound = esp_pair(0x3000, 0x4000, sent=3, received=3)
    hub.ipsec.children.append(child_view(SPOKE2, out, inbound, 2003, nat_t=True, peer_port=4500, pfs_group=14))
    text = run(hub, "show crypto ipsec sa peer 100.64.2.1")
    assert "100.64.1.1" not in text
    assert "   current_peer 100.64.2.1 port 4500" in text.splitlines()
    assert "        in use settings ={Transport UDP-Encaps, }" in text.splitlines()
    assert "     PFS (Y/N): Y, DH group: group14" in text.splitlines()
    records = parse_output(platform="cisco_ios", command="show crypto ipsec sa detail",
                           data=run(hub, "show crypto ipsec sa peer 100.64.2.1 detail"))
    assert {(r["current_peer"], r["port"], r["sa_in_use_settings"]) for r in records} == {
        ("100.64.2.1", "4500", "Transport UDP-Encaps")}
    # both peers: one interface header, two peer blocks
    both = run(hub, "show crypto ipsec sa")
    assert both.count("interface: Tunnel0") == 1 and both.count("current_peer") == 2


def test_after_a_rekey_a_peer_shows_both_pairs_and_the_newest_is_current(hub) -> None:
    out, inbound = esp_pair(0x7777, 0x8888, sent=1, received=0)
    hub.ipsec.children.append(child_view(SPOKE1, out, inbound, 2005))
    text = run(hub, "show crypto ipsec sa")
    assert "     current outbound spi: 0x7777(30583)" in text.splitlines()
    assert text.count("      spi: ") == 4
    assert "    #pkts encaps: 11, #pkts encrypt: 11, #pkts digest: 11" in text.splitlines()  # summed
    # a replaced pair listed last is still not the current one
    hub.ipsec.children.reverse()
    hub.ipsec.children[-1] = replace(hub.ipsec.children[-1], state="ACTIVE(REPLACED)")
    text = run(hub, "show crypto ipsec sa")
    assert "     current outbound spi: 0x7777(30583)" in text.splitlines()
    assert "        Status: ACTIVE(REPLACED)" in text.splitlines()


def test_no_ipsec_node_prints_what_ios_prints_without_sas(hub) -> None:
    hub.ipsec = None
    assert run(hub, "show crypto ipsec sa") == "\nNo SAs found\n"
    assert run(hub, "show crypto isakmp sa").splitlines()[2:] == ["", "IPv6 Crypto ISAKMP SA", ""]
    assert run(hub, "show crypto session") == "Crypto session current status\n\n"


# -- show crypto session ---------------------------------------------------------------------


def test_session_per_peer_with_ios_states(hub) -> None:
    lines = run(hub, "show crypto session").splitlines()
    first = lines[lines.index("Peer: 100.64.1.1 port 500") - 2:]
    assert first[:8] == [
        "Interface: Tunnel0", "Session status: UP-ACTIVE", "Peer: 100.64.1.1 port 500", "  Session ID: 0",
        "  IKEv1 SA: local 203.0.113.1/500 remote 100.64.1.1/500 Active",
        "  IPSEC FLOW: permit 47 host 203.0.113.1 host 100.64.1.1",
        "        Active SAs: 2, origin: crypto map", ""]
    assert "Session status: UP-IDLE" in lines  # spoke2: IKE only


def test_session_without_ike_sa_is_up_no_ike_and_a_negotiating_one_down(hub) -> None:
    hub.ipsec.ike = [replace(ike_view(SPOKE2, 1002), state="MM_SA_SETUP", status="")]
    lines = run(hub, "show crypto session").splitlines()
    assert lines.count("Session status: UP-NO-IKE") == 1 and lines.count("Session status: DOWN-NEGOTIATING") == 1
    assert "  IKEv1 SA: local 203.0.113.1/500 remote 100.64.2.1/500 Inactive" in lines


def test_session_detail_reads_back_through_ntc_templates(hub) -> None:
    text = run(hub, "show crypto session detail")
    records = parse_output(platform="cisco_ios", command="show crypto session detail", data=text)
    by_peer = {r["peer"]: r for r in records}
    assert set(by_peer) == {str(SPOKE1), str(SPOKE2)}
    one = by_peer[str(SPOKE1)]
    assert (one["interface"], one["session_status"], one["port"], one["fvrf"], one["ivrf"]) == (
        "Tunnel0", "UP-ACTIVE", "500", "(none)", "(none)")
    assert (one["local_ip"], one["local_port"], one["remote_ip"], one["remote_port"], one["ikev1_status"]) == (
        str(HUB), "500", str(SPOKE1), "500", "Active")
    assert (one["capabilities"], one["conn_id"], one["lifetime"]) == ("D", "1001", "23:53:20")
    assert (one["permit"], one["src_host"], one["dst_host"], one["active_sa"], one["origin"]) == (
        "47", str(HUB), str(SPOKE1), "2", "crypto map")
    assert by_peer[str(SPOKE2)]["session_status"] == "UP-IDLE" and by_peer[str(SPOKE2)]["active_sa"] == ""
    assert "        Inbound:  #pkts dec'ed 8 drop 2 life (KB/Sec) 4607999/3600" in text.splitlines()


# -- show crypto map -------------------------------------------------------------------------


def test_crypto_map_is_the_profiles_dynamic_map_with_one_instance_per_peer(hub) -> None:
    text = run(hub, "show crypto map")
    lines = text.splitlines()
    assert 'Crypto Map "Tunnel0-head-0" 65536 ipsec-isakmp' in lines
    assert "\tProfile name: DMVPN_PROFILE" in lines
    assert "\tSecurity association lifetime: 4608000 kilobytes/3600 seconds" in lines
    assert "\tResponder-Only (Y/N): N" in lines and "\tPFS (Y/N): N" in lines
    assert "\t\tDMVPN_TS:  { esp-256-aes esp-sha256-hmac  } , " in lines
    assert 'Crypto Map "Tunnel0-head-0" 65537 ipsec-isakmp' in lines and "\tPeer = 100.64.1.1" in lines
    assert "\t    access-list  permit gre host 203.0.113.1 host 100.64.1.1" in lines
    assert lines[-3:] == ["\tInterfaces using crypto map Tunnel0-head-0:", "\t\tTunnel0", ""]


def test_crypto_map_pfs_lifetimes_shared_and_default_transform_sets(hub) -> None:
    prof = hub.config.ipsec_profile("DMVPN_PROFILE")
    prof.pfs, prof.lifetime_seconds, prof.transform_sets = "group14", 1200, []
    hub.config.interface("Tunnel0").tunnel_protection.shared = True
    lines = run(hub, "show crypto map").splitlines()
    assert 'Crypto Map "DMVPN_PROFILE-head-0" 65536 ipsec-isakmp' in lines
    assert "\tPFS (Y/N): Y" in lines and "\tDH group:  group14" in lines
    assert "\tSecurity association lifetime: 4608000 kilobytes/1200 seconds" in lines
    assert "\t\t#$!default_transform_set_1:  { esp-aes esp-sha-hmac  } , " in lines


# -- clear and debug -------------------------------------------------------------------------


def test_clear_crypto_session_and_sa_with_and_without_a_peer(hub) -> None:
    node = hub.ipsec
    assert run(hub, "clear crypto sa peer 100.64.1.1") == ""
    assert node.children == [] and len(node.ike) == 2  # IPsec SAs only
    assert run(hub, "clear crypto session remote 100.64.2.1") == ""
    assert [s.src for s in node.ike] == [SPOKE1]
    assert run(hub, "clear crypto session") == "" and run(hub, "clear crypto sa") == ""
    assert node.cleared == [("sa", SPOKE1), ("session", SPOKE2), ("session", None), ("sa", None)]
    hub.ipsec = None
    assert run(hub, "clear crypto session") == ""  # nothing to clear: IOS says nothing either


def test_clear_with_a_bad_address_is_an_ios_caret_error(hub) -> None:
    result = ExecSession(hub).handle("clear crypto sa peer 100.64.1.300")
    assert result.error and "% Invalid input detected at '^' marker." in result.output


def test_debug_crypto_categories_on_off_and_in_show_debugging(hub) -> None:
    session = ExecSession(hub, emit_debug=lambda line: None)
    assert session.handle("debug crypto isakmp").output == "Crypto ISAKMP debugging is on\n"
    assert session.handle("debug crypto ipsec").output == "Crypto IPSEC debugging is on\n"
    assert session.debug.categories == {"isakmp", "ipsec"} and session.debug in hub.debug_sinks
    assert session.handle("debug nhrp packet").output == "NHRP activity debugging is on\n"
    assert session.handle("show debugging").output.splitlines() == [
        "NHRP:", "  NHRP activity debugging is on",
        "Cryptographic Subsystem:", "  Crypto IPSEC debugging is on", "  Crypto ISAKMP debugging is on"]
    assert session.handle("undebug crypto ipsec").output == "Crypto IPSEC debugging is off\n"
    assert session.handle("no debug crypto isakmp").output == "Crypto ISAKMP debugging is off\n"
    assert session.debug.categories == {"packet"}


def test_every_crypto_show_has_its_json_twin(hub) -> None:
    for command in ("show crypto isakmp sa", "show crypto isakmp sa detail", "show crypto ipsec sa",
                    "show crypto ipsec sa peer 100.64.1.1 detail", "show crypto session detail", "show crypto map"):
        data = json.loads(run(hub, command + " | json"))
        assert data, command
    assert json.loads(run(hub, "show crypto session | json"))["sessions"][0]["status"] == "UP-ACTIVE"


@pytest.mark.parametrize("command", GOLDEN_COMMANDS)
def test_crypto_output_matches_golden(hub, command: str) -> None:
    """A layout change shows up as a diff (`DMVPNLAB_UPDATE_GOLDEN=1` rewrites after a deliberate one)."""
    path = GOLDEN / f"ipsec-hub-{re.sub(r'[^a-z0-9]+', '_', command).strip('_')}.txt"
    output = run(hub, command)
    if os.environ.get("DMVPNLAB_UPDATE_GOLDEN"):
        path.write_text(output)
    assert path.exists(), f"missing golden {path}: run with DMVPNLAB_UPDATE_GOLDEN=1"
    assert output == path.read_text()


# -- what the config proposes --------------------------------------------------------------


def test_isakmp_policy_spells_the_configured_suite_out_as_ios_does(hub) -> None:
    lines = run(hub, "show crypto isakmp policy").splitlines()
    assert lines == ["", "Global IKE policy", "Protection suite of priority 10",
                     "\tencryption algorithm:\tAES - Advanced Encryption Standard (256 bit key.)",
                     "\thash algorithm:\t\tSecure Hash Standard 2 (256 bit)",
                     "\tauthentication method:\tPre-Shared Key",
                     "\tDiffie-Hellman group:\t#14 (2048 bit)",
                     "\tlifetime:\t\t86400 seconds, no volume limit"]


def test_a_policy_left_at_the_rsa_sig_default_shows_why_keys_cannot_complete_it(hub) -> None:
    run_session = ExecSession(hub)
    for line in ("configure terminal", "crypto isakmp policy 5", "end"):
        assert not run_session.handle(line).error
    text = run(hub, "show crypto isakmp policy")
    suite = text.split("Protection suite of priority 5\n", 1)[1].split("Protection suite", 1)[0]
    assert "\tauthentication method:\tRivest-Shamir-Adleman Signature" in suite.splitlines()
    assert "DES - Data Encryption Standard (56 bit keys)." in suite and "#1 (768 bit)" in suite


def test_without_policies_the_default_suites_we_propose_are_listed(hub) -> None:
    hub.config.isakmp_policies.clear()
    lines = run(hub, "show crypto isakmp policy").splitlines()
    assert lines[1] == "Default IKE policy"
    assert [l for l in lines if l.startswith("Default protection suite")] == [
        f"Default protection suite of priority {n}" for n in (65508, 65510, 65512, 65514)]


def test_transform_sets_and_profiles_as_configured_with_the_ios_defaults(hub) -> None:
    lines = run(hub, "show crypto ipsec transform-set").splitlines()
    assert "Transform set DMVPN_TS: { esp-256-aes esp-sha256-hmac  } " in lines
    assert lines[lines.index("Transform set DMVPN_TS: { esp-256-aes esp-sha256-hmac  } ") + 1] == \
        "   will negotiate = { Transport,  }, "
    assert "Transform set #$!default_transform_set_1: { esp-aes esp-sha-hmac  } " in lines
    profile = run(hub, "show crypto ipsec profile").splitlines()
    assert profile[:3] == ["IPSEC profile DMVPN_PROFILE",
                           "\tSecurity association lifetime: 4608000 kilobytes/3600 seconds",
                           "\tResponder-Only (Y/N): N"]
    assert "\t\tDMVPN_TS:  { esp-256-aes esp-sha256-hmac  } , " in profile


def test_a_session_behind_nat_is_on_udp_4500_both_ways(hub) -> None:
    hub.ipsec.ike[0] = replace(hub.ipsec.ike[0], nat_t=True)
    hub.ipsec.children[0] = replace(hub.ipsec.children[0], nat_t=True, peer_port=4500)
    lines = run(hub, "show crypto session detail").splitlines()
    assert "Peer: 100.64.1.1 port 4500 fvrf: (none) ivrf: (none)" in lines
    assert "  IKEv1 SA: local 203.0.113.1/4500 remote 100.64.1.1/4500 Active" in lines
    assert "          Capabilities:DN connid:1001 lifetime:23:53:20" in lines
