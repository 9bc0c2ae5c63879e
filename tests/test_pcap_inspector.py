"""`dmvpnlab pcap`: ladder, JSON lines and round-trip check over real and synthetic captures."""

from __future__ import annotations

import argparse
import json
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import GRE, IP, ICMP
from scapy.layers.l2 import CookedLinux, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from cisco_captures import capture
from dmvpnlab.analysis import commands
from dmvpnlab.nhrp import codec


def run_pcap(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="dmvpnlab")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pcap", *map(str, argv)])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def _nhrp_bytes(request_id: int = 1) -> bytes:
    return codec.encode(codec.NhrpPacket(
        codec.PacketType.REGISTRATION_REQUEST, IPv4Address("100.64.1.1"), IPv4Address("10.0.0.2"),
        IPv4Address("10.0.0.1"), flags=codec.REG_UNIQUE, request_id=request_id,
        cies=[codec.Cie(holdtime=7200, mtu=1400)], extensions=[codec.Extension.authentication(b"secret")]))


def test_ladder_of_cisco_registration_shows_request_and_reply(capsys):
    code, out, _ = run_pcap(capsys, capture("dmvpn-nhrp-registration.pcap"))
    assert code == 0
    header, req, reply = out.splitlines()
    assert "192.168.123.2 -> 192.168.123.1" in req and "Registration Request" in req
    assert "id=1" in req and "flags=U,NAT" in req and "hop=255" in req and "hold=7200" in req
    assert "192.168.123.1 -> 192.168.123.2" in reply and "Registration Reply" in reply
    assert "responder=172.16.123.1@192.168.123.1" in reply
    assert req.split()[1] == "0.000000" and reply.split()[1] == "0.027586"


def test_json_lines_of_phase3_capture_follow_the_redirect_story(capsys):
    code, out, _ = run_pcap(capsys, capture("dmvpn-phase-3-traffic-indication.pcap"), "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["message"] for e in events] == ["Traffic Indication", "Resolution Request", "Resolution Request",
                                              "Resolution Reply"]
    ti = events[0]
    assert (ti["src"], ti["dst"], ti["trigger"], ti["auth"]) == ("192.168.123.1", "192.168.123.2", "2.2.2.2 > 3.3.3.3", "DMVPN")
    assert [e["hop"] for e in events[1:]] == [255, 254, 255]
    assert events[3]["cies"][0] == {"code": 0, "prefix": 32, "holdtime": 7200, "mtu": 17916,
                                    "nbma": "192.168.123.3", "proto": "172.16.123.3"}
    assert events[3]["src"] == "192.168.123.3" and events[3]["dst"] == "192.168.123.2"  # spoke to spoke


def test_gre_data_esp_and_gre_key_are_summarised(capsys):
    _, icmp, _ = run_pcap(capsys, capture("dmvpn-gre-encapsulated-icmp.pcap"))
    assert len(icmp.splitlines()) == 11 and "GRE data ICMP echo 1" in icmp.splitlines()[1]
    _, keyed, _ = run_pcap(capsys, capture("gre-tunnel-with-key.pcapng"), "--json")  # pcapng
    first = json.loads(keyed.splitlines()[0])
    assert first["message"].startswith("GRE data ICMP echo 192.168.1.101 > 192.168.2.102") and "gre_key" in first
    _, esp, _ = run_pcap(capsys, capture("dmvpn-ipsec-esp-encrypted-traffic.pcap"))
    assert "ESP spi=0x1150fd74" in esp and "ESP spi=0x87c9b200" in esp


@pytest.mark.parametrize("name", ["dmvpn-nhrp-registration.pcap", "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap",
                                  "dmvpn-phase-3-traffic-indication.pcap"])
def test_roundtrip_of_cisco_captures_succeeds_with_count(capsys, name):
    code, out, _ = run_pcap(capsys, capture(name), "--roundtrip")
    assert code == 0
    expected = {"dmvpn-nhrp-registration.pcap": 2}.get(name, 3 if "phase-2" in name else 4)
    assert out.startswith(f"{expected} NHRP packets")


def test_roundtrip_names_first_frame_that_fails(tmp_path, capsys):
    bad = bytearray(_nhrp_bytes(2))
    bad[-3] ^= 0x40
    frames = [Ether() / IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(_nhrp_bytes(1)),
              Ether() / IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(bytes(bad)),
              Ether() / IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(b"\x00")]
    path = tmp_path / "bad.pcap"
    wrpcap(str(path), frames)
    code, out, _ = run_pcap(capsys, path, "--roundtrip")
    assert code == 1
    assert out.startswith("frame 2:") and "checksum" in out


def test_raw_ip_and_linux_cooked_captures_are_read(tmp_path, capsys):
    inner = IP(src="192.168.1.10", dst="192.168.2.10") / ICMP()
    raw_path, sll_path = tmp_path / "raw.pcap", tmp_path / "sll.pcap"
    wrpcap(str(raw_path), [IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(_nhrp_bytes()),
                           IP(src="100.64.1.1", dst="100.64.2.1") / GRE(proto=0x0800) / inner])
    wrpcap(str(sll_path), [CookedLinux(proto=0x0800) / IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001)
                           / Raw(_nhrp_bytes())])
    _, out, _ = run_pcap(capsys, raw_path)
    lines = out.splitlines()
    assert "Registration Request" in lines[1] and "GRE data ICMP echo 192.168.1.10 > 192.168.2.10" in lines[2]
    _, out, _ = run_pcap(capsys, sll_path, "--json")
    assert json.loads(out)["auth"] == "secret"


def test_unreadable_file_is_a_one_line_error_with_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    code, out, err = run_pcap(capsys, junk)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "junk.pcap" in err
    code, _, err = run_pcap(capsys, tmp_path / "missing.pcap")
    assert code == 2 and "no such file" in err
