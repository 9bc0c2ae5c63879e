"""GRE codec: RFC 2784/2890 on the wire, checked against real Cisco captures."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.all import GRE, ICMP, IP, rdpcap

from cisco_captures import capture
from dmvpnlab.tunnel.gre import (
    GRE_PROTO_IPV4,
    GRE_PROTO_NHRP,
    GreDecodeError,
    decode_gre,
    encode_gre,
    gre_header,
)
from dmvpnlab.tunnel.ipv4 import parse_header


def _gre_bytes_of(pcap: Path) -> list[bytes]:
    """The GRE header + payload of every GRE packet in a capture (outer IP stripped)."""
    if not pcap.exists():
        pytest.skip(f"capture {pcap} not present on this machine")
    out = []
    for pkt in rdpcap(str(pcap)):
        if IP in pkt and pkt[IP].proto == 47:
            ip = bytes(pkt[IP])
            out.append(ip[(ip[0] & 0x0F) * 4:])
    return out


def test_plain_gre_header_is_four_bytes_with_protocol_type():
    assert encode_gre(GRE_PROTO_IPV4, b"x") == b"\x00\x00\x08\x00x"
    assert encode_gre(GRE_PROTO_NHRP, b"") == b"\x00\x00\x20\x01"


def test_keyed_gre_sets_k_bit_and_carries_key_after_base_header():
    assert encode_gre(GRE_PROTO_IPV4, b"P", key=0xDEADBEEF) == bytes.fromhex("20000800deadbeef") + b"P"


@pytest.mark.parametrize("key", [None, 0, 1, 100000, 0xFFFFFFFF])
@pytest.mark.parametrize("proto", [GRE_PROTO_IPV4, GRE_PROTO_NHRP])
def test_encode_decode_roundtrip(proto, key):
    pkt = decode_gre(encode_gre(proto, b"payload", key=key))
    assert (pkt.proto, pkt.key, pkt.payload, pkt.sequence) == (proto, key, b"payload", None)


def test_checksum_and_sequence_roundtrip_and_agree_with_scapy():
    data = encode_gre(GRE_PROTO_IPV4, b"abcde", key=7, checksum=True, sequence=42)
    pkt = decode_gre(data)
    assert (pkt.key, pkt.sequence, pkt.checksum_present, pkt.payload) == (7, 42, True, b"abcde")
    ref = GRE(chksum_present=1, key_present=1, seqnum_present=1, key=7, sequence_number=42,
              proto=0x0800) / b"abcde"
    assert bytes(ref) == data


def test_bad_checksum_is_a_decode_error_unless_not_verified():
    data = bytearray(encode_gre(GRE_PROTO_IPV4, b"abcde", checksum=True))
    data[-1] ^= 0xFF
    with pytest.raises(GreDecodeError, match="checksum"):
        decode_gre(bytes(data))
    assert decode_gre(bytes(data), verify_checksum=False).payload.endswith(b"\x9a")


@pytest.mark.parametrize("data, why", [
    (b"", "truncated"), (b"\x00\x00\x08", "truncated"),
    (b"\x20\x00\x08\x00\x00\x00", "key"), (b"\x80\x00\x08\x00", "checksum"),
    (b"\x10\x00\x08\x00\x00", "sequence"),
    (b"\x00\x01\x88\x0b", "version"), (b"\x40\x00\x08\x00", "routing"),
])
def test_malformed_gre_raises_typed_error(data, why):
    with pytest.raises(GreDecodeError, match=why):
        decode_gre(data)


def test_gre_header_is_cached_and_validated():
    assert gre_header(GRE_PROTO_IPV4, 5) is gre_header(GRE_PROTO_IPV4, 5)
    with pytest.raises(ValueError):
        gre_header(GRE_PROTO_IPV4, 1 << 32)


def test_cisco_keyed_gre_capture_decodes_key_and_inner_icmp():
    packets = _gre_bytes_of(capture("gre-tunnel-with-key.pcapng"))
    assert len(packets) == 2
    decoded = [decode_gre(p) for p in packets]
    assert all(d.proto == GRE_PROTO_IPV4 and d.key == 1 for d in decoded)
    inner = [IP(d.payload) for d in decoded]
    assert [(i.src, i.dst, i[ICMP].type) for i in inner] == [
        ("192.168.1.101", "192.168.2.102", 8), ("192.168.2.102", "192.168.1.101", 0)]
    # our own IPv4 parser agrees, and re-encoding gives Cisco's bytes back
    hdr = parse_header(decoded[0].payload)
    assert (str(hdr.src), hdr.proto, hdr.total_length) == ("192.168.1.101", 1, 100)
    assert [encode_gre(d.proto, d.payload, d.key) for d in decoded] == packets


def test_cisco_dmvpn_gre_icmp_capture_decodes_without_key():
    packets = _gre_bytes_of(capture("dmvpn-gre-encapsulated-icmp.pcap"))
    assert len(packets) == 10
    for raw in packets:
        d = decode_gre(raw)
        assert (d.proto, d.key) == (GRE_PROTO_IPV4, None)
        inner = IP(d.payload)
        assert {inner.src, inner.dst} == {"1.1.1.1", "2.2.2.2"}
        assert inner[ICMP].type in (0, 8)
        assert encode_gre(d.proto, d.payload) == raw


def test_cisco_nhrp_captures_decode_as_gre_protocol_0x2001():
    packets = _gre_bytes_of(capture("dmvpn-nhrp-registration.pcap"))
    nhrp = [d for d in map(decode_gre, packets) if d.proto == GRE_PROTO_NHRP]
    assert nhrp, "registration capture carries NHRP in GRE"
    assert all(d.payload[0:2] == b"\x00\x01" for d in nhrp)  # NHRP afn = IPv4
