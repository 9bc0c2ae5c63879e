"""IPv4 helpers: checksum, fragmentation (RFC 791), ICMP frag-needed (RFC 1191), MSS clamp."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.all import ICMP, IP, TCP, UDP, IPOption_RR, IPOption_Router_Alert, Raw, defragment

from dmvpnlab.tunnel.ipv4 import (
    Ipv4Error,
    build_ipv4,
    clamp_tcp_mss,
    fragment,
    header_checksum_ok,
    icmp_frag_needed,
    internet_checksum,
    may_send_icmp_error_about,
    parse_header,
    summary,
    tcp_checksum_ok,
)


def test_internet_checksum_matches_rfc1071_example_and_odd_lengths():
    # RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 -> checksum 220d
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert internet_checksum(b"\x01") == (~0x0100) & 0xFFFF
    hdr = bytes(IP(src="1.2.3.4", dst="5.6.7.8"))
    assert internet_checksum(hdr) == 0 and header_checksum_ok(hdr)


def test_parse_header_fields():
    raw = bytes(IP(src="1.2.3.4", dst="5.6.7.8", id=77, flags="DF", ttl=9, proto=17) / Raw(b"x" * 10))
    h = parse_header(raw)
    assert (h.ihl, h.total_length, h.ident, h.df, h.mf, h.frag_offset, h.ttl, h.proto) == \
        (20, 30, 77, True, False, 0, 9, 17)
    assert (h.src, h.dst) == (IPv4Address("1.2.3.4"), IPv4Address("5.6.7.8"))


@pytest.mark.parametrize("raw, why", [
    (b"\x45" * 19, "truncated"), (bytes(IP(version=6)), "version"),
    (b"\x44" + bytes(IP())[1:], "header length"), (bytes(IP(len=200)), "total length"),
])
def test_parse_header_rejects_malformed(raw, why):
    with pytest.raises(Ipv4Error, match=why):
        parse_header(raw)


def test_fragment_sizes_offsets_and_reassembly():
    pkt = bytes(IP(src="192.168.1.10", dst="192.168.2.10", id=5) / UDP(sport=1, dport=2) / Raw(bytes(range(256)) * 8))
    assert len(pkt) == 2076
    frags = fragment(pkt, 1400)
    assert [len(f) for f in frags] == [1396, 700]  # 1376 data bytes (multiple of 8) + 20
    parsed = [parse_header(f) for f in frags]
    assert [(p.frag_offset, p.mf) for p in parsed] == [(0, True), (1376, False)]
    assert all(header_checksum_ok(f) and p.ident == 5 for f, p in zip(frags, parsed))
    whole = defragment([IP(f) for f in frags])[0]
    assert bytes(whole[UDP]) == bytes(IP(pkt)[UDP])


def test_fragment_leaves_small_packets_alone_and_refuses_tiny_mtu():
    pkt = bytes(IP() / Raw(b"x" * 100))
    assert fragment(pkt, 1400) == [pkt]
    with pytest.raises(Ipv4Error):
        fragment(bytes(IP() / Raw(b"x" * 100)), 60)


def test_fragmenting_a_fragment_keeps_offsets_and_last_mf():
    pkt = bytes(IP(id=9, flags="MF", frag=100) / Raw(b"y" * 1000))
    frags = [parse_header(f) for f in fragment(pkt, 500)]
    assert [(f.frag_offset, f.mf) for f in frags] == [(800, True), (1280, True), (1760, True)]


def test_fragment_copies_only_copy_flagged_options():
    pkt = bytes(IP(options=[IPOption_Router_Alert(), IPOption_RR(routers=["0.0.0.0"])]) / Raw(b"z" * 600))
    first, *rest = fragment(pkt, 300)
    assert parse_header(first).ihl == 32  # router alert (copied) + RR (4+3+4 -> padded)
    assert all(parse_header(f).ihl == 24 for f in rest)  # only the 4-byte router alert
    assert all(f[20:24] == b"\x94\x04\x00\x00" for f in rest)
    assert sum(len(f) - parse_header(f).ihl for f in [first, *rest]) == 600


def test_icmp_frag_needed_quotes_header_plus_8_with_valid_checksums():
    orig = bytes(IP(src="192.168.1.10", dst="192.168.2.10", flags="DF") / ICMP(id=1, seq=2) / Raw(b"q" * 1472))
    reply = icmp_frag_needed(orig, 1400, IPv4Address("10.0.0.2"))
    s = IP(reply)
    assert (s.src, s.dst, s.proto, s.ttl) == ("10.0.0.2", "192.168.1.10", 1, 255)
    assert (s[ICMP].type, s[ICMP].code, s[ICMP].nexthopmtu) == (3, 4, 1400)
    assert bytes(s[ICMP])[8:] == orig[:28]
    assert header_checksum_ok(reply) and internet_checksum(reply[20:]) == 0


def test_no_icmp_errors_about_errors_fragments_or_multicast():
    assert may_send_icmp_error_about(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=8)))
    assert not may_send_icmp_error_about(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=3)))
    assert not may_send_icmp_error_about(bytes(IP(src="1.1.1.1", dst="224.0.0.5") / Raw(b"x")))
    assert not may_send_icmp_error_about(bytes(IP(src="1.1.1.1", dst="2.2.2.2", frag=10) / Raw(b"x")))
    assert not may_send_icmp_error_about(b"junk")


def syn(mss: int | None, flags: str = "S") -> bytes:
    opts = [("NOP", None), ("WScale", 7)] + ([("MSS", mss)] if mss else []) + [("SAckOK", b"")]
    return bytes(IP(src="192.168.1.10", dst="192.168.2.10") / TCP(sport=40000, dport=5201, flags=flags, options=opts))


def test_mss_clamp_rewrites_syn_and_keeps_tcp_checksum_valid():
    out = clamp_tcp_mss(syn(1460), 1360)
    assert dict(IP(out)[TCP].options)["MSS"] == 1360
    assert tcp_checksum_ok(out)
    assert IP(out)[TCP].chksum == IP(bytes(IP(out)))[TCP].chksum  # equals a full recompute
    assert len(out) == len(syn(1460))


def test_mss_clamp_on_synack_too_and_leaves_others_untouched():
    assert dict(IP(clamp_tcp_mss(syn(1460, "SA"), 1000))[TCP].options)["MSS"] == 1000
    for pkt in (syn(1200), syn(None), syn(1460, "A"), bytes(IP() / UDP() / Raw(b"x" * 40)), b"\x45"):
        assert clamp_tcp_mss(pkt, 1360) is pkt


def test_summary_lines_for_logs():
    assert summary(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(id=5, seq=3))) == \
        "ICMP 1.1.1.1 > 2.2.2.2 echo-request id=5 seq=3 len=28"
    assert summary(syn(1460)).startswith("TCP 192.168.1.10:40000 > 192.168.2.10:5201 [S]")
    assert summary(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=5, dport=6))) == \
        "UDP 1.1.1.1:5 > 2.2.2.2:6 len=28"
    assert summary(b"\x00").startswith("malformed IPv4")


def test_build_ipv4_header_is_valid():
    pkt = build_ipv4(IPv4Address("1.1.1.1"), IPv4Address("2.2.2.2"), 17, b"abc", df=True)
    assert header_checksum_ok(pkt) and parse_header(pkt).df and len(pkt) == 23
