"""The EIGRP codec: what IOS sends encodes, decodes and re-encodes byte for byte; bad
input raises only EigrpDecodeError; MD5 digests are IOS's; tshark (an independent
dissector) reads every field we wrote, with a good checksum and no expert warning.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from dmvpnlab.routing.eigrp import codec
from dmvpnlab.routing.eigrp.codec import FLAG_CR, FLAG_EOT, FLAG_INIT, Opcode, Packet
from dmvpnlab.routing.eigrp.tlvs import (
    STUB_CONNECTED, STUB_SUMMARY, Authentication, Destination, EigrpDecodeError, ExternalData, Ipv4External,
    Ipv4Internal, Metric, NextMulticastSequence, OpaqueTlv, Parameters, PeerTermination, Sequence,
    SoftwareVersion, Stub,
)

TUNNEL_METRIC = Metric(delay=256 * 5001, bandwidth=256 * 100_000, mtu=1400, hop_count=1)


def hello(*extra) -> Packet:
    return Packet(Opcode.HELLO, 100, (Parameters(hold_time=15), SoftwareVersion()) + extra)


def update() -> Packet:
    return Packet(Opcode.UPDATE, 100, (
        Ipv4Internal("0.0.0.0", TUNNEL_METRIC, (Destination.of("192.168.2.0/24"),)),
        Ipv4External("10.0.0.1", ExternalData("1.1.1.1", 0, 7, 0, 0, 3, 0), TUNNEL_METRIC,
                     (Destination.of("172.16.0.0/12"),)),
    ), flags=FLAG_INIT | FLAG_CR, sequence=5, ack=4)


def samples() -> list[Packet]:
    return [
        hello(Stub(STUB_CONNECTED | STUB_SUMMARY)),
        update(),
        Packet(Opcode.HELLO, 100, (Sequence.ipv4("10.0.0.2", "10.0.0.3"), NextMulticastSequence(9))),
        Packet(Opcode.HELLO, 100, ack=17),
        Packet(Opcode.QUERY, 1, (Ipv4Internal("0.0.0.0", Metric(delay=0xFFFFFFFF), (Destination.of("0.0.0.0/0"),)),),
               sequence=3),
        Packet(Opcode.REPLY, 1, (OpaqueTlv(0x0602, b"\x01\x02\x03"),), flags=FLAG_EOT, sequence=4, ack=3),
        Packet(Opcode.SIA_QUERY, 7, (Parameters(255, 255, 255, 255, 255, 255, 15), PeerTermination(b"\x04\x0a\x00\x00\x02"))),
        Packet(Opcode.SIA_REPLY, 7),
    ]


@pytest.mark.parametrize("packet", samples(), ids=lambda p: f"op{int(p.opcode)}")
def test_every_packet_decodes_to_itself_and_reencodes_byte_for_byte(packet):
    wire = codec.encode(packet)
    assert codec.checksum_ok(wire)
    back = codec.decode(wire, verify_checksum=True)
    assert back.tlvs == packet.tlvs
    assert (back.opcode, back.asn, back.flags, back.sequence, back.ack) == (
        packet.opcode, packet.asn, packet.flags, packet.sequence, packet.ack)
    assert codec.encode(back) == wire


def test_header_layout_is_rfc7868():
    wire = codec.encode(Packet(Opcode.UPDATE, 0x1234, flags=FLAG_INIT, sequence=7, ack=6, virtual_router_id=0))
    version, opcode, _, flags, seq, ack, vrid, asn = struct.unpack("!BBHIIIHH", wire)
    assert (version, opcode, flags, seq, ack, vrid, asn) == (2, 1, 1, 7, 6, 0, 0x1234)
    assert len(wire) == codec.HEADER_LEN


def test_parameters_tlv_is_twelve_bytes_and_goodbye_is_all_255():
    wire = codec.encode(hello())
    assert wire[20:32] == bytes.fromhex("0001000c") + bytes([1, 0, 1, 0, 0, 0]) + b"\x00\x0f"
    assert Parameters(255, 255, 255, 255, 255, 255).is_goodbye and not Parameters().is_goodbye


def test_route_tlv_carries_three_byte_mtu_and_compressed_destinations():
    tlv = update().tlvs[0]
    wire = codec.encode(Packet(Opcode.UPDATE, 1, (tlv,)))
    body = wire[24:]
    assert struct.unpack("!HH", wire[20:24]) == (0x0102, 4 + 4 + 16 + 1 + 3)
    assert body[12:15] == (1400).to_bytes(3, "big")
    assert body[20:] == bytes([24, 192, 168, 2])
    assert str(codec.decode(wire).tlvs[0].destinations[0].network) == "192.168.2.0/24"


def test_several_destinations_share_one_tlv_and_the_default_route_takes_one_byte():
    dests = tuple(Destination.of(p) for p in ("0.0.0.0/0", "10.1.2.0/23", "10.9.9.9/32", "172.16.0.0/12"))
    wire = codec.encode(Packet(Opcode.UPDATE, 1, (Ipv4Internal("10.0.0.1", TUNNEL_METRIC, dests),)))
    assert wire[44:] == bytes([0, 0, 23, 10, 1, 2, 32, 10, 9, 9, 9, 12, 172, 16])
    got = codec.decode(wire).tlvs[0].destinations
    assert [str(d.network) for d in got] == ["0.0.0.0/0", "10.1.2.0/23", "10.9.9.9/32", "172.16.0.0/12"]


def test_host_bits_past_the_prefix_are_kept_so_reencode_is_exact():
    wire = codec.encode(Packet(Opcode.UPDATE, 1, (Ipv4Internal("0.0.0.0", TUNNEL_METRIC, (Destination(23, b"\x0a\x01\x03"),)),)))
    back = codec.decode(wire)
    assert str(back.tlvs[0].destinations[0].network) == "10.1.2.0/23"
    assert codec.encode(back) == wire


def test_unknown_tlv_and_unknown_opcode_are_kept_opaque():
    wire = codec.encode(Packet(42, 1, (OpaqueTlv(0x0602, b"wide metric"), OpaqueTlv(0x00F5))))
    back = codec.decode(wire)
    assert back.opcode == 42 and back.tlvs == (OpaqueTlv(0x0602, b"wide metric"), OpaqueTlv(0x00F5))
    assert codec.encode(back) == wire


def test_ack_is_an_empty_hello_with_ack_set():
    assert codec.decode(codec.encode(Packet(Opcode.HELLO, 1, ack=9))).is_ack
    assert not codec.decode(codec.encode(hello())).is_ack


def test_a_bad_checksum_is_refused_only_when_asked_and_kept_when_not():
    wire = bytearray(codec.encode(hello()))
    wire[2] ^= 0xFF
    assert not codec.checksum_ok(bytes(wire))
    with pytest.raises(EigrpDecodeError):
        codec.decode(bytes(wire), verify_checksum=True)
    assert codec.encode(codec.decode(bytes(wire))) == bytes(wire)


@pytest.mark.parametrize("data", [
    b"", b"\x02" * 19, bytes([3]) + bytes(19),                       # short header, version 3
    codec.encode(hello())[:-1],                                       # TLV cut short
    codec.encode(hello()) + b"\x00\x01\x00",                          # 3 trailing bytes
    codec.encode(Packet(1, 1)) + bytes.fromhex("00010003"),           # TLV length < 4
    codec.encode(Packet(1, 1)) + bytes.fromhex("0001000b") + bytes(7),  # PARAMETERS of 7 bytes
    codec.encode(Packet(1, 1)) + bytes.fromhex("01020018") + bytes(20),  # route TLV without destination
    codec.encode(Packet(1, 1)) + bytes.fromhex("01020019") + bytes(20) + b"\x21",  # prefix length 33
    codec.encode(Packet(1, 1)) + bytes.fromhex("0102001a") + bytes(20) + b"\x18\x0a",  # /24 with 1 byte
    codec.encode(Packet(1, 1)) + bytes.fromhex("00030006") + b"\x05\x0a",  # sequence address cut
    codec.encode(Packet(1, 1)) + bytes.fromhex("00020014") + bytes.fromhex("0002ffff") + bytes(12),  # digest overruns
])
def test_malformed_input_raises_only_eigrp_decode_error(data):
    with pytest.raises(EigrpDecodeError):
        codec.decode(data)


def md5_hello(key_id: int = 1) -> Packet:
    return Packet(Opcode.HELLO, 100, (Authentication(key_id, key_sequence=0), Parameters()))


def test_md5_digest_is_over_header_and_auth_tlv_then_the_padded_key_then_the_rest():
    wire = codec.sign_md5(md5_hello(), b"cisco")
    blank = bytearray(wire)
    blank[2:4] = b"\x00\x00"
    expected = hashlib.md5(bytes(blank[:44]) + b"cisco".ljust(16, b"\x00") + bytes(blank[60:])).digest()
    assert wire[44:60] == expected
    assert codec.checksum_ok(wire)
    assert codec.decode(wire).tlvs[0] == Authentication(1, expected, 0)


def test_md5_verifies_with_the_right_key_only_and_any_change_breaks_it():
    wire = codec.sign_md5(md5_hello(), b"cisco")
    assert codec.verify_md5(wire, b"cisco")
    assert not codec.verify_md5(wire, b"cisco2")
    tampered = bytearray(wire)
    tampered[-1] ^= 1  # the hold time
    assert not codec.verify_md5(bytes(tampered), b"cisco")
    assert not codec.verify_md5(codec.encode(hello()), b"cisco")  # no auth TLV: not authentic
    assert not codec.verify_md5(b"\x02", b"cisco")


def test_md5_ignores_the_checksum_field_as_ios_computes_it_after_the_digest():
    wire = bytearray(codec.sign_md5(md5_hello(), b"k"))
    wire[2:4] = b"\x12\x34"
    assert codec.verify_md5(bytes(wire), b"k")


# --- tshark as the independent judge -------------------------------------------------------

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")


def tshark_decode(tmp_path: Path, packets: list[bytes]) -> list[dict]:
    from scapy.all import IP, Ether, Raw, wrpcap  # tests only (scapy is GPL)

    pcap = tmp_path / "eigrp.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.0.0.1", dst=codec.MULTICAST_GROUP, proto=codec.IP_PROTOCOL, ttl=1) / Raw(p)
                       for p in packets])
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "json"], capture_output=True, text=True, timeout=60,
                         check=True)
    return [frame["_source"]["layers"] for frame in json.loads(out.stdout)]


def flatten(tree, out: dict | None = None) -> dict:
    """Every `field: value` of a tshark JSON tree, values of repeated fields in a list."""
    out = {} if out is None else out
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, (dict, list)) and not (isinstance(value, list) and value and isinstance(value[0], str)):
                flatten(value, out)
            if isinstance(value, str) or (isinstance(value, list) and value and isinstance(value[0], str)):
                out.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    elif isinstance(tree, list):
        for item in tree:
            flatten(item, out)
    return out


@needs_tshark
def test_tshark_reads_every_field_we_wrote_with_a_good_checksum_and_no_warning(tmp_path):
    packets = [hello(Stub(STUB_CONNECTED | STUB_SUMMARY)), update(),
               Packet(Opcode.HELLO, 100, (Sequence.ipv4("10.0.0.2"), NextMulticastSequence(9)), ack=3),
               Packet(Opcode.QUERY, 100, (update().tlvs[0],), sequence=6)]
    wires = [codec.encode(p) for p in packets] + [codec.sign_md5(md5_hello(3), b"cisco")]
    frames = tshark_decode(tmp_path, wires)
    assert len(frames) == len(wires)
    for layers in frames:
        assert "_ws.malformed" not in layers and "_ws.expert" not in json.dumps(layers)
    f = [flatten(layers["eigrp"]) for layers in frames]
    for fields, packet in zip(f, packets + [md5_hello(3)]):
        assert fields["eigrp.opcode"] == [str(int(packet.opcode))]
        assert fields["eigrp.as"] == [str(packet.asn)]
        assert fields["eigrp.seq"][0] == str(packet.sequence) and fields["eigrp.ack"] == [str(packet.ack)]
        assert fields["eigrp.checksum.status"] == ["1"]  # Good
    assert f[0]["eigrp.par.k1"] == ["1"] and f[0]["eigrp.par.k3"] == ["1"] and f[0]["eigrp.par.k2"] == ["0"]
    assert f[0]["eigrp.par.holdtime"] == ["15"]
    assert f[0]["eigrp.stub_options"] == ["0x0005"]
    assert f[0]["eigrp.release_version"] and f[0]["eigrp.tlv_version"]
    assert f[1]["eigrp.flags.init"] == ["1"] and f[1]["eigrp.flags.condrecv"] == ["1"]
    assert f[1]["eigrp.ipv4.destination"] == ["192.168.2.0", "172.16.0.0"]
    assert f[1]["eigrp.ipv4.prefixlen"] == ["24", "12"]
    assert f[1]["eigrp.ipv4.nexthop"] == ["0.0.0.0", "10.0.0.1"]
    assert f[1]["eigrp.old_metric.delay"] == [str(256 * 5001)] * 2
    assert f[1]["eigrp.old_metric.bw"] == [str(256 * 100_000)] * 2
    assert f[1]["eigrp.old_metric.mtu"] == ["1400"] * 2
    assert f[1]["eigrp.old_metric.hopcount"] == ["1"] * 2
    assert f[1]["eigrp.old_metric.rel"] == ["255"] * 2 and f[1]["eigrp.old_metric.load"] == ["1"] * 2
    assert f[1]["eigrp.extdata.origrid"] == ["1.1.1.1"] and f[1]["eigrp.extdata.tag"] == ["7"]
    assert f[1]["eigrp.extdata.proto"] == ["3"]
    assert f[2]["eigrp.seq.ipv4addr"] == ["10.0.0.2"] and f[2]["eigrp.next_mcast_seq"] == ["9"]
    assert f[4]["eigrp.auth.type"] == ["2"] and f[4]["eigrp.auth.keyid"] == ["3"]
    assert f[4]["eigrp.auth.digest"][0].replace(":", "") == wires[4][44:60].hex()


def test_md5_basic_hello_mode_hashes_only_the_first_44_bytes_and_the_key():
    """FRR's claim about Cisco hellos: the TLVs after the auth TLV are not hashed."""
    wire = codec.sign_md5(md5_hello(), b"cisco", basic=True)
    blank = bytearray(wire)
    blank[2:4] = b"\x00\x00"
    blank[44:60] = bytes(16)
    assert wire[44:60] == hashlib.md5(bytes(blank[:44]) + b"cisco".ljust(16, b"\x00")).digest()
    assert codec.verify_md5(wire, b"cisco", basic=True) and not codec.verify_md5(wire, b"cisco")


@needs_tshark
def test_tshark_names_reply_and_sia_opcodes_and_reads_eot_and_external_flags(tmp_path):
    ext = Ipv4External("10.0.0.1", ExternalData("2.2.2.2", 65000, 0, 0, 0, 9, 0x01), TUNNEL_METRIC,
                       (Destination.of("0.0.0.0/0"),))
    packets = [Packet(Opcode.REPLY, 9, (ext,), flags=FLAG_EOT, sequence=11, ack=10),
               Packet(Opcode.SIA_QUERY, 9, sequence=12), Packet(Opcode.SIA_REPLY, 9, sequence=13, ack=12)]
    frames = tshark_decode(tmp_path, [codec.encode(p) for p in packets])
    f = [flatten(layers["eigrp"]) for layers in frames]
    assert [x["eigrp.opcode"] for x in f] == [["4"], ["10"], ["11"]]
    assert all(x["eigrp.checksum.status"] == ["1"] for x in f)
    assert not any("_ws.malformed" in layers or "_ws.expert" in json.dumps(layers) for layers in frames)
    assert f[0]["eigrp.flags.eot"] == ["1"] and f[0]["eigrp.extdata.as"] == ["65000"]
    assert f[0]["eigrp.extdata.proto"] == ["9"] and f[0]["eigrp.opaque.flag.ext"] == ["1"]
    assert f[0]["eigrp.ipv4.prefixlen"] == ["0"] and f[0]["eigrp.ipv4.destination"] == ["0.0.0.0"]
