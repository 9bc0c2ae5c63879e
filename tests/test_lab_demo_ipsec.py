"""The demo's IPsec chapter, judged from recorded CLI text, protection reports and sightings.

The text is IOS's format for `show crypto isakmp sa` / `show crypto ipsec sa` as the
default address plan would show it (hub 203.0.113.1, spoke1 100.64.1.1, spoke2
100.64.2.1). Each test breaks one thing and expects the story to say so. The chapter
only exists on a lab whose routers were started with `tunnel protection`.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from dmvpnlab.analysis.decrypt import summarize
from dmvpnlab.analysis.paths import IcmpSighting
from dmvpnlab.lab.demo import ipsec_steps, nhrp_steps
from dmvpnlab.lab.demo.ipsec_story import (exported_spis, first_sa_story, has_protection, ike_story, parse_ipsec_sa,
                                           parse_isakmp_sa, spoke_sa_story, wan_links, wan_story)
from dmvpnlab.lab.demo.items import Check
from dmvpnlab.lab.demo.steps import STEPS, run_steps
from dmvpnlab.lab.render import render_router_config
from dmvpnlab.lab.topology.yamlfile import load_topology
from test_lab_demo import QuietLab

ROOT = Path(__file__).resolve().parents[1]
TOPO = load_topology(ROOT / "topologies" / "ipsec.yaml")
HUB, S1, S2 = "203.0.113.1", "100.64.1.1", "100.64.2.1"

HUB_ISAKMP = f"""IPv4 Crypto ISAKMP SA
dst             src             state          conn-id status
{HUB}     {S1}      QM_IDLE           1001 ACTIVE
{HUB}     {S2}      QM_IDLE           1002 ACTIVE
"""


def ipsec_block(local: str, peer: str, spi_in: int, spi_out: int, encaps: int = 12, decaps: int = 11,
                mode: str = "Transport") -> str:
    return f"""
interface: Tunnel0
    Crypto map tag: Tunnel0-head-0, local addr {local}

   protected vrf: (none)
   local  ident (addr/mask/prot/port): ({local}/255.255.255.255/47/0)
   remote ident (addr/mask/prot/port): ({peer}/255.255.255.255/47/0)
   current_peer {peer} port 500
     PERMIT, flags={{origin_is_acl,}}
    #pkts encaps: {encaps}, #pkts encrypt: {encaps}, #pkts digest: {encaps}
    #pkts decaps: {decaps}, #pkts decrypt: {decaps}, #pkts verify: {decaps}
    #pkts compressed: 0, #pkts decompressed: 0
    #send errors 0, #recv errors 0

     local crypto endpt.: {local}, remote crypto endpt.: {peer}
     plaintext mtu 1438, path mtu 1500, ip mtu 1500, ip mtu idb GigabitEthernet0/0
     current outbound spi: 0x{spi_out:X}({spi_out})
     PFS (Y/N): N, DH group: none

     inbound esp sas:
      spi: 0x{spi_in:X}({spi_in})
        transform: esp-256-aes esp-sha256-hmac ,
        in use settings ={{{mode}, }}
        conn id: 2001, flow_id: SW:1, sibling_flags 80000040, crypto map: Tunnel0-head-0
        sa timing: remaining key lifetime (k/sec): (4607998/3550)
        IV size: 16 bytes
        replay detection support: Y
        Status: ACTIVE(ACTIVE)

     inbound ah sas:

     inbound pcp sas:

     outbound esp sas:
      spi: 0x{spi_out:X}({spi_out})
        transform: esp-256-aes esp-sha256-hmac ,
        in use settings ={{{mode}, }}
        Status: ACTIVE(ACTIVE)

     outbound ah sas:

     outbound pcp sas:
"""


HUB_IPSEC = ipsec_block(HUB, S1, 0x11110001, 0x22220001) + ipsec_block(HUB, S2, 0x11110002, 0x22220002)
EXPORTED = {0x11110001, 0x22220001, 0x11110002, 0x22220002}


def report(**counts: int) -> dict:
    base = dict(summarize([]))
    base.update(esp=20, esp_decrypted_ok=20, inner_nhrp=4, inner_icmp=6, inner_gre=20, isakmp=9)
    base.update(counts)
    base["damaged"] = None
    return base


def good_reports() -> dict[str, dict]:
    return {link: report() for link in wan_links(TOPO)}


def failed(items) -> list[str]:
    return [i.what for i in items if isinstance(i, Check) and not i.ok]


def test_protection_is_read_from_the_router_configs():
    configs = [render_router_config(TOPO, r) for r in TOPO.routers if r.template]
    assert has_protection(configs)
    plain = load_topology(ROOT / "topologies" / "default.yaml")
    assert not has_protection(render_router_config(plain, r) for r in plain.routers if r.template)
    assert not has_protection(["! tunnel protection ipsec profile X in a comment\n"])


def test_isakmp_and_ipsec_outputs_parse_as_ios_prints_them():
    rows = parse_isakmp_sa(HUB_ISAKMP)
    assert [(r.dst, r.src, r.state, r.conn_id, r.status) for r in rows] == [
        (HUB, S1, "QM_IDLE", 1001, "ACTIVE"), (HUB, S2, "QM_IDLE", 1002, "ACTIVE")]
    first, second = parse_ipsec_sa(HUB_IPSEC)
    assert (first.peer, first.port, first.encaps, first.decaps) == (S1, 500, 12, 11)
    assert (first.outbound_spi, first.inbound_spis, first.outbound_spis) == (0x22220001, [0x11110001], [0x22220001])
    assert (first.transform, first.mode) == ("esp-256-aes esp-sha256-hmac", "Transport")
    assert second.spis == {0x11110002, 0x22220002}


def test_ike_story_holds_with_every_spoke_in_qm_idle_and_isakmp_on_its_link():
    assert failed(ike_story(TOPO, "hub", HUB_ISAKMP, good_reports())) == []


def test_ike_story_names_the_spoke_without_an_sa_or_without_isakmp_on_its_wan():
    only_one = "\n".join(HUB_ISAKMP.splitlines()[:3])
    reports = good_reports()
    reports["spoke1-isp"] = report(isakmp=0)
    assert failed(ike_story(TOPO, "hub", only_one, reports)) == [
        "IKE (Main Mode + Quick Mode) seen on spoke1-isp", f"hub show crypto isakmp sa: spoke2 ({S2}) QM_IDLE, ACTIVE"]
    stuck = HUB_ISAKMP.replace("QM_IDLE  ", "MM_KEY_EXCH").replace(" ACTIVE", "")
    assert len(failed(ike_story(TOPO, "hub", stuck, good_reports()))) == 2


def test_first_sa_story_wants_traffic_both_ways_transport_mode_and_exported_keys():
    assert failed(first_sa_story(TOPO, "hub", HUB_IPSEC, EXPORTED)) == []
    assert failed(first_sa_story(TOPO, "hub", HUB_IPSEC, EXPORTED - {0x22220002})) == [
        "the keys of spoke2's SAs are in esp_sa (Wireshark can decrypt them)"]
    idle = ipsec_block(HUB, S1, 0x11110001, 0x22220001, decaps=0, mode="Tunnel")
    assert failed(first_sa_story(TOPO, "hub", idle, EXPORTED)) == [
        f"hub show crypto ipsec sa: spoke1 ({S1}) has an SA pair carrying packets",
        "spoke1's SA is transport mode (GRE between the NBMA addresses)",
        f"hub show crypto ipsec sa: spoke2 ({S2}) has an SA pair carrying packets"]


def test_exported_spis_come_from_esp_sa_lines():
    lines = ['"IPv4","203.0.113.1","100.64.1.1","0x22220001","AES-CBC [RFC3602]","0x00","NULL",""', "junk", ""]
    assert exported_spis(lines) == {0x22220001}


def test_wan_story_holds_when_every_link_is_esp_only_and_decrypts():
    items = wan_story(TOPO, good_reports())
    assert failed(items) == []
    assert "hub-isp" in items[0].text and "cleartext GRE" in items[0].text


def test_wan_story_catches_cleartext_gre_an_undecrypted_packet_and_a_missing_capture():
    reports = good_reports()
    reports["spoke2-isp"] = report(cleartext_gre=3, cleartext_nhrp=1)
    reports["hub-isp"] = report(esp_decrypted_ok=19, esp_undecrypted=1)
    del reports["spoke1-isp"]
    assert failed(wan_story(TOPO, reports)) == ["hub-isp: every ESP packet decrypts, ICV good", "spoke1-isp: captured",
                                                "spoke2-isp: no cleartext GRE or NHRP"]
    nothing_inside = {link: report(inner_nhrp=0, inner_icmp=0) for link in wan_links(TOPO)}
    assert failed(wan_story(TOPO, nothing_inside)) == ["NHRP and ICMP found inside ESP"]


SPOKE1_ISAKMP = f"""IPv4 Crypto ISAKMP SA
dst             src             state          conn-id status
{HUB}     {S1}      QM_IDLE           1001 ACTIVE
{S2}      {S1}      QM_IDLE           1003 ACTIVE
"""
SPOKE1_IPSEC = ipsec_block(S1, HUB, 0x33330001, 0x44440001) + ipsec_block(S1, S2, 0x55550001, 0x66660001)


def direct_echoes(spi: int | None, t0: float = 100.0) -> list[IcmpSighting]:
    h1, h2 = IPv4Address("192.168.1.10"), IPv4Address("192.168.2.10")
    s1, s2 = IPv4Address(S1), IPv4Address(S2)
    return [IcmpSighting("spoke1-isp", t0 + 1, h1, h2, 8, 1, 5, s1, s2, spi),
            IcmpSighting("spoke2-isp", t0 + 1.001, h1, h2, 8, 1, 5, s1, s2, spi)]


def test_spoke_to_spoke_sa_story_holds_when_the_direct_echoes_ride_that_sa():
    spoke1, spoke2 = TOPO.spokes
    items = spoke_sa_story(TOPO, spoke1, spoke2, SPOKE1_ISAKMP, SPOKE1_IPSEC, direct_echoes(0x66660001), 100.0)
    assert failed(items) == []


def test_spoke_to_spoke_sa_story_catches_a_missing_sa_and_echoes_outside_it():
    spoke1, spoke2 = TOPO.spokes
    only_hub = "\n".join(SPOKE1_ISAKMP.splitlines()[:3])
    no_sa = spoke_sa_story(TOPO, spoke1, spoke2, only_hub, ipsec_block(S1, HUB, 1000, 2000),
                           direct_echoes(0x66660001), 100.0)
    assert len(failed(no_sa)) == 3
    clear = spoke_sa_story(TOPO, spoke1, spoke2, SPOKE1_ISAKMP, SPOKE1_IPSEC, direct_echoes(None), 100.0)
    assert failed(clear) == ["echoes after the shortcut: ESP between spoke1 and spoke2 on that SA pair"]
    on_hub_sa = spoke_sa_story(TOPO, spoke1, spoke2, SPOKE1_ISAKMP, SPOKE1_IPSEC, direct_echoes(0x44440001), 100.0)
    assert len(failed(on_hub_sa)) == 1
    no_shortcut = spoke_sa_story(TOPO, spoke1, spoke2, SPOKE1_ISAKMP, SPOKE1_IPSEC, direct_echoes(0x66660001), None)
    assert failed(no_shortcut) == ["echoes after the shortcut travel in the spoke-to-spoke SA"]


class QuietIpsecLab(QuietLab):
    """The Lab API on no lab (as the default demo's QuietLab), with the ipsec topology's
    configs as its routers' startup configs and a key directory."""

    def __init__(self, directory: Path, topology=TOPO) -> None:
        super().__init__(directory, topology)
        self.keys_dir = directory
        for router in topology.routers:
            if router.template:
                (directory / router.name).mkdir(exist_ok=True)
                (directory / router.name / "startup-config").write_text(render_router_config(topology, router))


def test_on_a_protected_lab_the_ipsec_steps_run_in_the_story_and_none_crashes(tmp_path, monkeypatch):
    monkeypatch.setattr(nhrp_steps, "run_cli", lambda directory, command: "")
    monkeypatch.setattr(nhrp_steps, "ROUTE_WAIT", 0.0)
    lines: list[str] = []
    lab = QuietIpsecLab(tmp_path)
    assert ipsec_steps.has_protection_lab(lab)
    assert not run_steps(lab, out=lines.append)
    titles = [line for line in lines if line.startswith("\n[")]
    assert titles == [f"\n[{n}] {step.title}" for n, step in enumerate(STEPS, 1)]
    assert titles[2].endswith("IPsec: IKE (Main Mode, Quick Mode) between the hub and every spoke")
    assert not [line for line in lines if "FAIL step ran" in line]
    assert any(f"FAIL hub show crypto isakmp sa: spoke1 ({S1}) QM_IDLE, ACTIVE" in line for line in lines)
    assert any("FAIL spoke1-isp: captured" in line for line in lines)


def test_the_decrypt_commands_name_the_key_directory():
    text = ipsec_steps.decrypt_commands(Path("captures/ipsec"), Path("captures/ipsec/hub-isp.pcapng"))
    assert "dmvpnlab pcap captures/ipsec/hub-isp.pcapng --decrypt" in text
    assert "WIRESHARK_CONFIG_DIR=captures/ipsec wireshark captures/ipsec/hub-isp.pcapng" in text
