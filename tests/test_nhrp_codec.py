"""NHRP codec: Cisco captures decode and re-encode byte for byte; bad bytes are typed errors."""

from __future__ import annotations

import random
import shutil
import subprocess
from ipaddress import IPv4Address

import pytest

from cisco_captures import all_nhrp_packets, capture, nhrp_packets
from dmvpnlab.nhrp.codec import (
    NAT,
    REG_UNIQUE,
    RES_A,
    RES_Q,
    RES_S,
    Cie,
    CieCode,
    ErrorCode,
    Extension,
    ExtensionType,
    NhrpDecodeError,
    NhrpPacket,
    PacketType,
    checksum,
    decode,
    encode,
    flag_names,
)

IP = IPv4Address
CISCO_EXT_ORDER = [0x8003, 0x8004, 0x8005, 0x8007, 0x0009, 0x8000]


def _ext_codes(pkt: NhrpPacket) -> list[int]:
    return [int(e.type) | (0x8000 if e.compulsory else 0) for e in pkt.extensions]


def _capture_params():
    packets = all_nhrp_packets()
    if not packets:
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason="Cisco captures not found"))]
    return [pytest.param(name, num, data, id=f"{name}#{num}") for name, num, data in packets]


def _nhrp(name: str) -> list[NhrpPacket]:
    return [decode(data) for _, data in nhrp_packets(capture(name))]


# --- the Cisco captures ------------------------------------------------------------
def test_every_capture_with_nhrp_is_found():
    names = {name for name, _, _ in all_nhrp_packets()} or pytest.skip("Cisco captures not found")
    assert {"dmvpn-nhrp-registration.pcap", "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap",
            "dmvpn-phase-3-traffic-indication.pcap"} <= names
    assert len(all_nhrp_packets()) == 9


@pytest.mark.parametrize("name,number,data", _capture_params())
def test_cisco_nhrp_packet_roundtrips_byte_for_byte(name, number, data):
    pkt = decode(data)
    assert encode(pkt) == data


def test_registration_request_from_cisco_capture_has_cisco_fields():
    req, _reply = _nhrp("dmvpn-nhrp-registration.pcap")
    assert req.type == PacketType.REGISTRATION_REQUEST
    assert req.hop_count == 255
    assert req.flags == 0x8002 == REG_UNIQUE | NAT
    assert flag_names(req.type, req.flags) == ["U", "NAT"]
    assert (req.src_nbma, req.src_proto, req.dst_proto) == (IP("192.168.123.2"), IP("172.16.123.2"), IP("172.16.123.1"))
    assert req.request_id == 1
    [cie] = req.cies
    assert (cie.code, cie.prefix_len, cie.mtu, cie.holdtime, cie.preference) == (0, 32, 17916, 7200, 255)
    assert cie.nbma is None and cie.proto is None
    assert _ext_codes(req) == CISCO_EXT_ORDER
    assert req.auth_password() == b"DMVPN"
    [nat] = req.extension(ExtensionType.CISCO_NAT).cies()
    assert (nat.nbma, nat.proto, nat.prefix_len) == (IP("192.168.123.1"), IP("172.16.123.1"), 32)


def test_registration_reply_from_cisco_capture_echoes_request_and_names_responder():
    req, reply = _nhrp("dmvpn-nhrp-registration.pcap")
    assert reply.type == PacketType.REGISTRATION_REPLY
    assert (reply.request_id, reply.flags, reply.src_nbma, reply.src_proto) == (1, 0x8002, req.src_nbma, req.src_proto)
    assert reply.cies[0].code == CieCode.SUCCESS
    [responder] = reply.extension(ExtensionType.RESPONDER_ADDRESS).cies()
    assert (responder.nbma, responder.proto) == (IP("192.168.123.1"), IP("172.16.123.1"))
    assert _ext_codes(reply) == CISCO_EXT_ORDER


def test_forwarded_resolution_request_has_decremented_hop_count_and_transit_record():
    first, forwarded, reply = _nhrp("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    assert first.type == forwarded.type == PacketType.RESOLUTION_REQUEST
    assert first.flags == 0xC802 == RES_Q | RES_A | RES_S | NAT
    assert flag_names(first.type, first.flags) == ["Q", "A", "S", "NAT"]
    assert (first.hop_count, forwarded.hop_count) == (255, 254)
    assert forwarded.request_id == first.request_id == 3
    assert first.extension(ExtensionType.FORWARD_TRANSIT_NHS).cies() == []
    [hub] = forwarded.extension(ExtensionType.FORWARD_TRANSIT_NHS).cies()
    assert (hub.nbma, hub.proto) == (IP("192.168.123.1"), IP("172.16.123.1"))
    assert reply.type == PacketType.RESOLUTION_REPLY and reply.flags == 0xF802
    assert reply.flags & RES_A
    [answer] = reply.cies
    assert (answer.nbma, answer.proto, answer.holdtime) == (IP("192.168.123.3"), IP("172.16.123.3"), 7200)


def test_traffic_indication_from_cisco_capture_carries_triggering_packet():
    ti, *_ = _nhrp("dmvpn-phase-3-traffic-indication.pcap")
    assert ti.type == PacketType.TRAFFIC_INDICATION
    assert (ti.src_nbma, ti.src_proto, ti.dst_proto) == (IP("192.168.123.1"), IP("172.16.123.1"), IP("2.2.2.2"))
    assert ti.traffic_code == 0 and ti.cies == []
    assert len(ti.payload) == 28 and ti.payload[0] == 0x45
    assert ti.payload[12:20] == IP("2.2.2.2").packed + IP("3.3.3.3").packed
    assert _ext_codes(ti) == [0x8004, 0x8005, 0x8007, 0x0009, 0x8000]
    assert ti.auth_password() == b"DMVPN"


# --- errors --------------------------------------------------------------------------
def _sample() -> bytes:
    return encode(_registration_request())


def test_checksum_error_is_detected_and_can_be_skipped():
    data = bytearray(_sample())
    data[-6] ^= 0x01
    with pytest.raises(NhrpDecodeError, match="checksum"):
        decode(bytes(data))
    assert decode(bytes(data), verify_checksum=False).type == PacketType.REGISTRATION_REQUEST


def test_every_truncation_raises_decode_error():
    data = _sample()
    for cut in range(len(data)):
        with pytest.raises(NhrpDecodeError):
            decode(data[:cut])


def test_bad_address_family_is_rejected():
    pkt = _registration_request()
    pkt.afn = 2
    with pytest.raises(NhrpDecodeError, match="address family"):
        decode(encode(pkt))


def test_fuzzed_input_raises_only_decode_error_and_whatever_decodes_reencodes():
    rng = random.Random(2332)
    seeds = [_sample(), encode(_traffic_indication()), encode(_error_indication())]
    seeds += [data for _, _, data in all_nhrp_packets()]
    decoded = 0
    for i in range(4000):
        data = bytearray(rng.choice(seeds))
        mode = i % 3
        if mode == 0:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif mode == 1:
            data = data[: rng.randrange(len(data))] + bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
        else:
            data = bytearray(rng.randbytes(rng.randrange(80)))
        try:
            pkt = decode(bytes(data), verify_checksum=False)
        except NhrpDecodeError:
            continue
        decoded += 1
        size = int.from_bytes(data[10:12], "big")  # ar$pktsz
        again = encode(pkt)
        assert again[:12] + again[14:] == bytes(data[:12] + data[14:size])
    assert decoded > 100  # the flips must also exercise the successful paths


def test_checksum_of_valid_packet_is_zero():
    assert checksum(_sample()) == 0
    assert checksum(b"\x00\x01\xf2") == 0x0DFE


# --- building packets ----------------------------------------------------------------
def _registration_request() -> NhrpPacket:
    return NhrpPacket(
        PacketType.REGISTRATION_REQUEST, IP("100.64.1.1"), IP("10.0.0.2"), IP("10.0.0.1"),
        flags=REG_UNIQUE | NAT, request_id=7,
        cies=[Cie(prefix_len=32, mtu=1400, holdtime=7200, preference=255)],
        extensions=[
            Extension(ExtensionType.RESPONDER_ADDRESS, True),
            Extension(ExtensionType.FORWARD_TRANSIT_NHS, True),
            Extension(ExtensionType.REVERSE_TRANSIT_NHS, True),
            Extension.authentication(b"DMVPN"),
            Extension.from_cies(ExtensionType.CISCO_NAT, [Cie(mtu=1400, nbma=IP("203.0.113.1"), proto=IP("10.0.0.1"))],
                                compulsory=False),
        ],
    )


def _resolution_request() -> NhrpPacket:
    return NhrpPacket(PacketType.RESOLUTION_REQUEST, IP("100.64.1.1"), IP("10.0.0.2"), IP("10.0.0.3"),
                      flags=RES_Q | RES_A | RES_S | NAT, request_id=9,
                      cies=[Cie(mtu=1400, holdtime=7200)],
                      extensions=[Extension(ExtensionType.RESPONDER_ADDRESS, True),
                                  Extension(ExtensionType.FORWARD_TRANSIT_NHS, True),
                                  Extension(ExtensionType.REVERSE_TRANSIT_NHS, True),
                                  Extension.authentication(b"DMVPN"),
                                  Extension(ExtensionType.CISCO_NAT, False)])


def _resolution_reply() -> NhrpPacket:
    me = Cie(mtu=1400, holdtime=7200, nbma=IP("100.64.2.1"), proto=IP("10.0.0.3"))
    pkt = _resolution_request()
    pkt.type = PacketType.RESOLUTION_REPLY
    pkt.flags |= 0x2000 | 0x1000
    pkt.cies = [Cie(prefix_len=24, mtu=1400, holdtime=7200, nbma=IP("100.64.2.1"), proto=IP("10.0.0.3"))]
    pkt.extensions[0] = Extension.from_cies(ExtensionType.RESPONDER_ADDRESS, [me])
    return pkt


def _traffic_indication() -> NhrpPacket:
    triggering = bytes.fromhex("4500001c0364000001113e41c0a8010ac0a8020ac011829d0008b325")
    return NhrpPacket(PacketType.TRAFFIC_INDICATION, IP("203.0.113.1"), IP("10.0.0.1"), IP("192.168.1.10"),
                      payload=triggering,
                      extensions=[Extension(ExtensionType.FORWARD_TRANSIT_NHS, True),
                                  Extension(ExtensionType.REVERSE_TRANSIT_NHS, True),
                                  Extension.authentication(b"DMVPN"),
                                  Extension(ExtensionType.CISCO_NAT, False)])


def _purge_request() -> NhrpPacket:
    return NhrpPacket(PacketType.PURGE_REQUEST, IP("203.0.113.1"), IP("10.0.0.1"), IP("10.0.0.2"), request_id=11,
                      cies=[Cie(prefix_len=32, proto=IP("10.0.0.3"))],
                      extensions=[Extension.authentication(b"DMVPN")])


def _error_indication() -> NhrpPacket:
    offending = encode(_resolution_request())
    return NhrpPacket(PacketType.ERROR_INDICATION, IP("203.0.113.1"), IP("10.0.0.1"), IP("10.0.0.2"),
                      error_code=ErrorCode.AUTHENTICATION_FAILURE, error_offset=0, payload=offending)
    # RFC 2332 5.2.7: an Error Indication carries no extensions (Wireshark flags them as malformed)


BUILDERS = [_registration_request, _resolution_request, _resolution_reply, _traffic_indication,
            _purge_request, _error_indication]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__.lstrip("_"))
def test_packets_we_build_roundtrip(build):
    pkt = build()
    data = encode(pkt)
    back = decode(data)
    assert encode(back) == data
    if pkt.extensions:
        assert back.extensions[-1].type == ExtensionType.END  # encode terminates the list
    else:
        assert back.extensions == [] and data[14:16] == b"\x00\x00"  # extoff 0: no extensions
    assert back.type == pkt.type and back.request_id == pkt.request_id and back.payload == pkt.payload


def test_authentication_extension_is_cisco_cleartext_format():
    ext = Extension.authentication(b"DMVPN")
    assert ext.payload == b"\x00\x00\x00\x01DMVPN"
    assert ext.auth_password() == b"DMVPN"
    assert Extension(ExtensionType.AUTHENTICATION, True, b"\x00\x00\x00\x02xx").auth_password() is None


def test_cie_extension_helpers_roundtrip():
    cies = [Cie(nbma=IP("1.2.3.4"), proto=IP("10.0.0.9"), holdtime=30), Cie(code=CieCode.ALREADY_REGISTERED)]
    assert Extension.from_cies(ExtensionType.RESPONDER_ADDRESS, cies).cies() == cies
    with pytest.raises(NhrpDecodeError):
        Extension(ExtensionType.RESPONDER_ADDRESS, True, b"\x00" * 5).cies()


def test_unknown_extension_types_are_kept_raw():
    pkt = _purge_request()
    pkt.extensions.insert(0, Extension(0x1234, False, b"vendor"))
    back = decode(encode(pkt))
    assert back.extensions[0] == Extension(0x1234, False, b"vendor")


def test_rfc_codes():
    assert (CieCode.NO_BINDING, CieCode.NOT_UNIQUE, CieCode.ALREADY_REGISTERED) == (12, 13, 14)
    assert (ErrorCode.AUTHENTICATION_FAILURE, ErrorCode.HOP_COUNT_EXCEEDED) == (11, 15)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_packets_we_build_decode_cleanly_in_tshark(tmp_path):
    from scapy.layers.inet import GRE, IP as ScapyIP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    frames = [Ether() / ScapyIP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(encode(b()))
              for b in BUILDERS]
    path = tmp_path / "built.pcap"
    wrpcap(str(path), frames)
    out = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True, timeout=60).stdout
    assert out.count("Next Hop Resolution Protocol") >= len(BUILDERS)
    for bad in ("Malformed", "Bad checksum", "[incorrect", "Severity level: Warning", "Severity level: Error"):
        assert bad not in out, bad
    assert out.count("[correct]") >= len(BUILDERS)
    for label in ("Registration Request", "Resolution Request", "Resolution Reply", "Traffic Indication",
                  "Purge Request", "Error Indication"):
        assert f"NHRP {label}" in out


# --- the checksum's two zeros (RFC 1071: 0x0000 and 0xFFFF are both zero) ---------------
def _with_checksum_computing_zero() -> bytes:
    """A registration request whose RFC 1071 checksum comes out as 0x0000."""
    for request_id in range(1, 200000):
        data = encode(NhrpPacket(PacketType.REGISTRATION_REQUEST, IP("100.64.1.1"), IP("10.0.0.2"),
                                 IP("10.0.0.1"), flags=0x8002, request_id=request_id, cies=[Cie(holdtime=300)]))
        if data[12:14] == b"\x00\x00":
            return data
    raise AssertionError("no request id gives a zero checksum")


def test_a_checksum_sent_as_ffff_is_valid_and_reencodes_as_received():
    zero = _with_checksum_computing_zero()
    negative_zero = zero[:12] + b"\xff\xff" + zero[14:]
    assert checksum(negative_zero) == 0  # the receiver's test passes for both zeros
    packet = decode(negative_zero)
    assert packet == decode(zero)  # the same packet: the checksum is not part of equality
    assert encode(packet) == negative_zero  # decode -> encode gives the received bytes back
    assert encode(decode(zero)) == zero


def test_the_encoder_writes_0000_and_a_changed_packet_gets_a_fresh_checksum():
    zero = _with_checksum_computing_zero()
    negative_zero = zero[:12] + b"\xff\xff" + zero[14:]
    built = decode(negative_zero)
    assert encode(NhrpPacket(built.type, built.src_nbma, built.src_proto, built.dst_proto, flags=built.flags,
                             request_id=built.request_id, cies=built.cies))[12:14] == b"\x00\x00"
    built.hop_count -= 1  # relayed: the bytes change, and so does the checksum
    relayed = encode(built)
    assert checksum(relayed) == 0 and relayed[12:14] not in (b"\x00\x00", b"\xff\xff")


def test_a_packet_too_large_for_pktsz_is_a_typed_error():
    from dmvpnlab.nhrp.codec import MAX_PACKET, NhrpTooLarge

    big = NhrpPacket(PacketType.REGISTRATION_REQUEST, IP("100.64.1.1"), IP("10.0.0.2"), IP("10.0.0.1"),
                     cies=[Cie()] * (MAX_PACKET // 12))
    with pytest.raises(NhrpTooLarge, match="too large"):
        encode(big)
    assert issubclass(NhrpTooLarge, ValueError)  # what callers caught before stays caught


def test_checksum_ffff_corpus_entry_round_trips_in_the_codec_fuzz_target():
    from pathlib import Path

    from fuzz.targets.nhrp_codec import decode_reencode

    data = (Path(__file__).resolve().parents[1] / "fuzz/corpus/nhrp-codec/checksum-ffff-registration.bin").read_bytes()
    assert data[12:14] == b"\xff\xff" and data == _with_checksum_computing_zero()[:12] + b"\xff\xff" + data[14:]
    decode_reencode(data)  # once: "re-encode differs"
