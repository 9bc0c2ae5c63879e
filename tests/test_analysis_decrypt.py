"""Captures decrypt in tshark with the key tables the agents write: what a user sees in Wireshark.

The ESP is sealed by our `OutboundSa` (transport mode, GRE inside carrying an IPv4 ICMP
echo and an NHRP Registration Request, exactly what DMVPN puts on the WAN), the keys
are written by `KeyLog` as an agent writes them, the frames are written into a pcap by
scapy, and tshark, an independent ESP implementation, decrypts them. So these tests
fail if our ESP, our key table lines or tshark's reading of them disagree.
"""

from __future__ import annotations

import json
import shutil
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from dmvpnlab.analysis.decrypt import DecryptError, decrypt_capture, protection_report, protection_reports
from dmvpnlab.ipsec.esp import OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.keylog import KeyLog
from dmvpnlab.nhrp import codec
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre
from test_pcap_inspector import run_pcap

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

SPOKE, HUB = IPv4Address("198.51.100.2"), IPv4Address("203.0.113.1")
NAT_PUBLIC = IPv4Address("198.51.100.77")
ECHO = bytes(IP(src="192.168.1.10", dst="192.168.2.10") / ICMP(type=8, id=7, seq=1) / Raw(b"x" * 32))
REGISTRATION = codec.encode(codec.NhrpPacket(
    codec.PacketType.REGISTRATION_REQUEST, SPOKE, IPv4Address("10.0.0.2"), IPv4Address("10.0.0.1"),
    flags=codec.REG_UNIQUE, request_id=1, cies=[codec.Cie(holdtime=7200, mtu=1400)]))
TRANSFORMS = ["esp-aes esp-sha-hmac", "esp-aes 256 esp-sha256-hmac", "esp-gcm 128", "esp-gcm 256",
              "esp-3des esp-md5-hmac"]


def keymat(transform: str, seed: int) -> bytes:
    n = parse_transform(transform).key_lengths().total
    return bytes((seed * 31 + i * 7) % 256 for i in range(n))


def sa_event(transform: str, spi_out: int, spi_in: int, *, seed: int = 1, peer: IPv4Address = HUB,
             nat_t: bool = False) -> ChildSaUp:
    return ChildSaUp(peer=peer, transform=parse_transform(transform), mode="transport", spi_in=spi_in,
                     keymat_in=keymat(transform, seed + 1), spi_out=spi_out, keymat_out=keymat(transform, seed),
                     lifetime_seconds=3600, lifetime_kilobytes=4608000, nat_t=nat_t,
                     peer_port=4500 if nat_t else 500, initiator=True)


def esp_frames(sa: OutboundSa, src: IPv4Address = SPOKE, dst: IPv4Address = HUB, udp: bool = False) -> list:
    """The spoke's first two protected packets: its registration, then a ping from h1."""
    frames = []
    for proto, payload in ((GRE_PROTO_NHRP, REGISTRATION), (GRE_PROTO_IPV4, ECHO)):
        esp = sa.seal(encode_gre(proto, payload))
        ip = IP(src=str(src), dst=str(dst), proto=50) / Raw(esp) if not udp else \
            IP(src=str(src), dst=str(dst)) / UDP(sport=4500, dport=4500) / Raw(esp)
        frames.append(Ether() / ip)
    return frames


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_every_esp_packet_decrypts_with_icv_good_and_shows_nhrp_and_icmp_inside(tmp_path, transform):
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x1000ABCD, spi_in=0x2000ABCD), SPOKE)
    wrpcap(str(tmp_path / "spoke1-isp.pcap"), esp_frames(OutboundSa(transform, 0x1000ABCD, keymat(transform, 1))))
    report = protection_report(tmp_path / "spoke1-isp.pcap", tmp_path)
    assert report["esp"] == report["esp_decrypted_ok"] == 2
    assert (report["inner_nhrp"], report["inner_icmp"], report["inner_gre"]) == (1, 1, 2)
    assert report["esp_icv_bad"] == report["esp_undecrypted"] == report["cleartext_gre"] == 0
    assert report["damaged"] is None


@pytest.mark.parametrize("transform", ["esp-aes 256 esp-sha256-hmac", "esp-gcm 256"])
def test_a_wrong_key_counts_icv_bad_and_nothing_decrypted(tmp_path, transform):
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x1000ABCD, spi_in=0x2000ABCD, seed=1), SPOKE)
    sealed_with_other_key = OutboundSa(transform, 0x1000ABCD, keymat(transform, 9))
    wrpcap(str(tmp_path / "link.pcap"), esp_frames(sealed_with_other_key))
    report = protection_report(tmp_path / "link.pcap", tmp_path)
    assert report["esp"] == report["esp_icv_bad"] == 2
    assert report["esp_decrypted_ok"] == report["inner_icmp"] == report["inner_nhrp"] == 0


def test_without_a_key_esp_stays_undecrypted(tmp_path):
    wrpcap(str(tmp_path / "link.pcap"), esp_frames(OutboundSa(TRANSFORMS[1], 0x4242, keymat(TRANSFORMS[1], 1))))
    report = protection_report(tmp_path / "link.pcap", tmp_path / "no-keys-here")
    assert (report["esp"], report["esp_undecrypted"], report["esp_decrypted_ok"]) == (2, 2, 0)


def test_nat_t_esp_in_udp_decrypts_on_the_far_side_of_the_nat(tmp_path):
    """The hub wrote the keys with the NAT's public address; the spoke's own link shows its
    private address. Both links' captures decrypt (the wildcard lines)."""
    transform = TRANSFORMS[1]
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x3001, spi_in=0x3000, peer=NAT_PUBLIC, nat_t=True), HUB)
    sa_seen_by_hub = OutboundSa(transform, 0x3000, keymat(transform, 2))  # the spoke sends on the hub's spi_in
    private = IPv4Address("192.168.100.2")
    wrpcap(str(tmp_path / "spoke3-nat.pcap"), esp_frames(sa_seen_by_hub, src=private, udp=True))
    wrpcap(str(tmp_path / "hub-isp.pcap"), esp_frames(OutboundSa(transform, 0x3000, keymat(transform, 2)),
                                                     src=NAT_PUBLIC, udp=True))
    reports = protection_reports(tmp_path)
    assert set(reports) == {"spoke3-nat", "hub-isp"}
    for report in reports.values():
        assert report["esp"] == report["esp_decrypted_ok"] == report["udp4500"] == 2
        assert report["inner_icmp"] == report["inner_nhrp"] == 1


def test_cleartext_gre_and_isakmp_are_counted_apart_from_esp(tmp_path):
    transform = TRANSFORMS[0]
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x5000, spi_in=0x5001), SPOKE)
    isakmp_header = bytes(8) + bytes(8) + bytes([1, 0x10, 2, 0]) + bytes(4) + (28).to_bytes(4, "big")
    frames = [Ether() / IP(src=str(SPOKE), dst=str(HUB)) / UDP(sport=500, dport=500) / Raw(isakmp_header),
              Ether() / IP(src=str(SPOKE), dst=str(HUB), proto=47) / Raw(encode_gre(GRE_PROTO_NHRP, REGISTRATION)),
              *esp_frames(OutboundSa(transform, 0x5000, keymat(transform, 1))),
              Ether() / IP(src=str(SPOKE), dst=str(HUB), proto=47) / Raw(encode_gre(GRE_PROTO_IPV4, ECHO))]
    wrpcap(str(tmp_path / "link.pcap"), frames)
    report = protection_report(tmp_path / "link.pcap", tmp_path)
    assert report["isakmp"] == 1
    assert (report["cleartext_gre"], report["cleartext_nhrp"], report["cleartext_icmp_in_gre"]) == (2, 1, 1)
    assert report["cleartext_after_first_esp"] == 1  # the one the scenario assertion would catch
    assert report["esp"] == report["esp_decrypted_ok"] == 2


def test_a_sequence_gap_is_reported_by_tsharks_sequence_analysis(tmp_path):
    transform = TRANSFORMS[1]
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x6000, spi_in=0x6001), SPOKE)
    sa = OutboundSa(transform, 0x6000, keymat(transform, 1))
    first, lost = esp_frames(sa)
    third = esp_frames(sa)[0]
    wrpcap(str(tmp_path / "link.pcap"), [first, third])  # seq 1, then seq 3
    assert protection_report(tmp_path / "link.pcap", tmp_path)["esp_sequence_errors"] == 1


def test_pcap_decrypt_prints_each_frame_decrypted_and_the_counts(tmp_path, capsys):
    transform = TRANSFORMS[1]
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0x7000, spi_in=0x7001), SPOKE)
    wrpcap(str(tmp_path / "spoke1-isp.pcap"), esp_frames(OutboundSa(transform, 0x7000, keymat(transform, 1))))
    code, out, _ = run_pcap(capsys, tmp_path / "spoke1-isp.pcap", "--decrypt")  # keys: the capture's directory
    lines = out.splitlines()
    assert code == 0
    assert "ESP spi=0x00007000 seq=1 ICV good | GRE > NHRP" in lines[0]
    assert "ESP spi=0x00007000 seq=2 ICV good | GRE > IP > ICMP" in lines[1] and "Echo (ping) request" in lines[1]
    assert "ESP packets: 2 (decrypted, ICV good: 2; ICV bad: 0" in out
    assert "inside ESP: GRE 2, NHRP 1, ICMP 1" in out
    code, out, _ = run_pcap(capsys, tmp_path / "spoke1-isp.pcap", "--decrypt", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r.get("inner") for r in records[:2]] == ["gre:nhrp", "gre:ip:icmp:data"]  # the echo payload
    assert records[-1]["summary"]["esp_decrypted_ok"] == 2


def test_pcap_decrypt_with_keys_elsewhere_and_damaged_capture_exits_3(tmp_path, capsys):
    transform = TRANSFORMS[2]
    keys = tmp_path / "keys"
    KeyLog(keys).child_sa(sa_event(transform, spi_out=0x8000, spi_in=0x8001), SPOKE)
    whole = tmp_path / "whole.pcap"
    wrpcap(str(whole), esp_frames(OutboundSa(transform, 0x8000, keymat(transform, 1))))
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:-10])  # the second record cut short
    code, out, err = run_pcap(capsys, cut, "--decrypt", "--keys", keys)
    assert code == 3
    assert "ICV good | GRE > NHRP" in out.splitlines()[0]
    assert "frame 2" in err


def test_not_a_capture_is_exit_2_and_decrypt_error(tmp_path, capsys):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    code, _, err = run_pcap(capsys, junk, "--decrypt")
    assert code == 2 and "not a pcap" in err
    with pytest.raises(DecryptError):
        decrypt_capture(tmp_path / "missing.pcap", tmp_path)


def test_a_key_table_tshark_refuses_is_an_error_not_silence(tmp_path):
    (tmp_path / "esp_sa").write_text('"IPv4","*","*","0x100","no such cipher","0x00","NULL",""\n')
    wrpcap(str(tmp_path / "link.pcap"), esp_frames(OutboundSa(TRANSFORMS[0], 0x100, keymat(TRANSFORMS[0], 1))))
    with pytest.raises(DecryptError, match="refused a key table"):
        decrypt_capture(Path(tmp_path / "link.pcap"), tmp_path)


def test_the_lab_reports_one_links_protection_with_its_own_key_directory(tmp_path):
    """`Lab.protection_report(owner, peer)`: the link's capture, the lab's keys (no lab needed
    to check the plumbing: a recorder directory with a capture and the agents' key table)."""
    from dmvpnlab.lab.captures import CaptureRecorder
    from dmvpnlab.lab.lab import Lab

    recorder = CaptureRecorder.prepare("ipsec", tmp_path)
    transform = TRANSFORMS[3]
    KeyLog(recorder.directory).child_sa(sa_event(transform, spi_out=0x9000, spi_in=0x9001), SPOKE)
    wrpcap(str(recorder.path("spoke1", "isp")), esp_frames(OutboundSa(transform, 0x9000, keymat(transform, 1))))
    lab = Lab(topology=None, records=None, captures=recorder, keys_dir=recorder.directory)  # type: ignore[arg-type]
    report = lab.protection_report("spoke1", "isp")
    assert report["esp"] == report["esp_decrypted_ok"] == 2 and report["cleartext_gre"] == 0


def test_cisco_captures_without_their_keys_are_counted_not_decrypted(tmp_path):
    """Real IOS traffic (no keys were published): ESP and encrypted IKE are counted as such."""
    from cisco_captures import capture

    esp = protection_report(capture("dmvpn-ipsec-esp-encrypted-traffic.pcap"), tmp_path)
    assert (esp["esp"], esp["esp_undecrypted"], esp["esp_decrypted_ok"], esp["cleartext_gre"]) == (2, 2, 0, 0)
    ike = protection_report(capture("wireshark-capture-ipsec-ikev1-isakmp-main-mode.pcap"), tmp_path)
    assert (ike["isakmp"], ike["isakmp_encrypted"], ike["isakmp_decrypted"], ike["esp"]) == (9, 5, 0, 0)


def test_the_ladder_and_roundtrip_look_inside_esp_the_lab_keys_open(tmp_path, capsys):
    transform = TRANSFORMS[1]
    KeyLog(tmp_path).child_sa(sa_event(transform, spi_out=0xA000, spi_in=0xA001), SPOKE)
    wrpcap(str(tmp_path / "spoke1-isp.pcap"), esp_frames(OutboundSa(transform, 0xA000, keymat(transform, 1))))
    code, out, _ = run_pcap(capsys, tmp_path / "spoke1-isp.pcap")  # keys: the capture's directory
    _header, registration, echo = out.splitlines()
    assert code == 0
    assert "Registration Request" in registration and "in ESP spi=0x0000a000 seq=1" in registration
    assert "GRE data ICMP echo 192.168.1.10 > 192.168.2.10" in echo and "seq=2" in echo
    code, out, _ = run_pcap(capsys, tmp_path / "spoke1-isp.pcap", "--roundtrip")
    assert code == 0 and out.startswith("1 NHRP packets decode and re-encode")
    code, out, _ = run_pcap(capsys, tmp_path / "spoke1-isp.pcap", "--keys", tmp_path / "elsewhere")
    assert code == 0 and out.count("ESP spi=0x0000a000") == 2  # no keys there: ESP stays ESP
