"""The EIGRP codec: decode raises only EigrpDecodeError; what decodes re-encodes byte for
byte; verify_md5 never raises.

Two targets: the raw one sees what a peer can send as IP protocol 88 (mutants mostly
keep their checksum as read, which decode keeps too, so the TLV parsers are reached); the
`md5` one also runs verify_md5 on every mutant, which must answer True/False only. Seeds
are built by our encoder: hellos (parameters, software version, stub, sequence, next
multicast sequence, peer termination, goodbye), an ACK, updates/queries/replies with
internal and external route TLVs (several destinations, default route, host route),
an MD5-signed hello and an unknown TLV.
"""

from __future__ import annotations

from functools import lru_cache

from dmvpnlab.routing.eigrp import codec
from dmvpnlab.routing.eigrp.codec import FLAG_CR, FLAG_EOT, FLAG_INIT, Opcode, Packet
from dmvpnlab.routing.eigrp.tlvs import (
    STUB_CONNECTED, STUB_SUMMARY, Authentication, Destination, ExternalData, Ipv4External, Ipv4Internal, Metric,
    NextMulticastSequence, OpaqueTlv, Parameters, PeerTermination, Sequence, SoftwareVersion, Stub,
)
from fuzz.harness import Target

METRIC = Metric(delay=256 * 5010, bandwidth=256 * 100_000, mtu=1400, hop_count=1)
DESTS = tuple(Destination.of(p) for p in ("192.168.2.0/24", "0.0.0.0/0", "10.1.2.0/23", "10.9.9.9/32"))


@lru_cache(maxsize=1)
def seeds() -> tuple[bytes, ...]:
    packets = [
        Packet(Opcode.HELLO, 100, (Parameters(), SoftwareVersion(), Stub(STUB_CONNECTED | STUB_SUMMARY))),
        Packet(Opcode.HELLO, 100, (Sequence.ipv4("10.0.0.2", "10.0.0.3"), NextMulticastSequence(9))),
        Packet(Opcode.HELLO, 100, (Parameters(255, 255, 255, 255, 255, 255), PeerTermination(b"\x04\x0a\x00\x00\x02"))),
        Packet(Opcode.HELLO, 100, ack=7),
        Packet(Opcode.UPDATE, 100, (Ipv4Internal("0.0.0.0", METRIC, DESTS),
                                    Ipv4External("10.0.0.1", ExternalData("1.1.1.1", 1, 7, 20, 0, 3, 1), METRIC,
                                                 DESTS[:2])), flags=FLAG_INIT | FLAG_CR, sequence=5, ack=4),
        Packet(Opcode.QUERY, 100, (Ipv4Internal("0.0.0.0", Metric(delay=0xFFFFFFFF), DESTS[:1]),), sequence=6),
        Packet(Opcode.REPLY, 100, (Ipv4Internal("10.0.0.3", METRIC, DESTS[2:]), OpaqueTlv(0x0602, b"wide")),
               flags=FLAG_EOT, sequence=7, ack=6),
        Packet(Opcode.SIA_QUERY, 1), Packet(Opcode.SIA_REPLY, 1),
    ]
    wires = [codec.encode(p) for p in packets]
    signed = codec.sign_md5(Packet(Opcode.HELLO, 100, (Authentication(1), Parameters())), b"cisco")
    signed_update = codec.sign_md5(Packet(Opcode.UPDATE, 100, (Authentication(2, key_sequence=3),) + packets[4].tlvs,
                                          sequence=9), b"key")
    return tuple(wires) + (signed, signed_update)


def decode_reencode(data: bytes) -> None:
    try:
        packet = codec.decode(data)
    except codec.EigrpDecodeError:
        return
    again = codec.encode(packet)
    assert again == data, f"re-encode differs: {data.hex()} -> {again.hex()}"


def decode_and_verify(data: bytes) -> None:
    decode_reencode(data)
    assert codec.verify_md5(data, b"cisco") in (True, False)


TARGETS = [
    Target("eigrp-codec", lambda: list(seeds()), decode_reencode),
    Target("eigrp-md5", lambda: list(seeds()), decode_and_verify),
]
