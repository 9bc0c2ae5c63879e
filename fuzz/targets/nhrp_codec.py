"""The NHRP codec: decode raises only NhrpDecodeError; what decodes re-encodes byte for byte.

Two targets: the raw one sees what a peer can send (most mutants die at the checksum);
the `fixed` one repairs the packet-size field and the checksum after mutating, so the
mutations reach the CIE and extension parsers behind them.
"""

from __future__ import annotations

from dmvpnlab.nhrp import codec
from fuzz.harness import Target
from fuzz.targets.seeds import cisco_nhrp_packets

SIZE_AT, CHECKSUM_AT = 10, 12  # fixed header offsets of ar$pktsz and ar$chksum


def decode_reencode(data: bytes) -> None:
    """What decodes must re-encode to the same bytes (up to the declared packet size)."""
    try:
        packet = codec.decode(data)
    except codec.NhrpDecodeError:
        return
    declared = int.from_bytes(data[SIZE_AT:SIZE_AT + 2], "big")
    again = codec.encode(packet)
    assert again == data[:declared], f"re-encode differs: {data[:declared].hex()} -> {again.hex()}"


def with_valid_size_and_checksum(data: bytes) -> bytes:
    """The same packet with ar$pktsz = its length and a correct checksum."""
    if len(data) < CHECKSUM_AT + 2 or len(data) > 0xFFFF:
        return data
    buf = bytearray(data)
    buf[SIZE_AT:SIZE_AT + 2] = len(buf).to_bytes(2, "big")
    buf[CHECKSUM_AT:CHECKSUM_AT + 2] = b"\x00\x00"
    buf[CHECKSUM_AT:CHECKSUM_AT + 2] = codec.checksum(bytes(buf)).to_bytes(2, "big")
    return bytes(buf)


TARGETS = [
    Target("nhrp-codec", lambda: list(cisco_nhrp_packets()), decode_reencode),
    Target("nhrp-codec-fixed", lambda: list(cisco_nhrp_packets()),
           lambda data: decode_reencode(with_valid_size_and_checksum(data))),
]
