"""The ISAKMP codec: decode raises only IsakmpDecodeError; what decodes re-encodes byte
for byte (up to the header's length field).

Three targets: the raw one sees what a peer can send on UDP 500; the `fixed` one patches
the header's length field to the mutant's length after mutating, so edits reach the SA,
proposal, transform and attribute parsers instead of dying at the length check; the
`chain` one feeds a decrypted body (first byte = the header's next payload, the rest the
plaintext with its RFC 2409 padding) to decode_payloads, whose padding must come back
unchanged. Seeds: every ISAKMP message of the Cisco captures plus crafted messages that
carry the payload kinds the capture has not (ID, Notify, Delete, Cert, NAT-OA, Phase 2 SA).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.isakmp import (
    Attribute, CertPayload, DeletePayload, IdPayload, IsakmpMessage, NatOaPayload, NotifyPayload,
    OpaquePayload, Proposal, SaPayload, Transform,
)
from dmvpnlab.ipsec.isakmp_const import (
    FLAG_ENCRYPTION, NON_ESP_MARKER, EncapsulationMode, EspTransform, ExchangeType, GroupDescription, IdType,
    IpsecAttr, IpsecAuthAlgorithm, NotifyType, PayloadType, ProtocolId,
)
from fuzz.harness import Target
from fuzz.targets.seeds import cisco_ip_packets

LENGTH_AT = 24          # the header's 32-bit length field
COOKIES = bytes(range(1, 17))


@lru_cache(maxsize=1)
def capture_messages() -> tuple[bytes, ...]:
    """The ISAKMP message of every UDP 500/4500 datagram in the Cisco captures."""
    out = []
    for packet in cisco_ip_packets():
        if len(packet) < 28 or packet[9] != 17:
            continue
        ihl = (packet[0] & 0x0F) * 4
        sport, dport = struct.unpack_from("!HH", packet, ihl)
        data = packet[ihl + 8:]
        if 500 in (sport, dport):
            out.append(data)
        elif 4500 in (sport, dport) and data[:4] == NON_ESP_MARKER:
            out.append(data[4:])
    return tuple(out)


def crafted_payloads() -> list:
    esp = Transform(1, EspTransform.AES_CBC, [
        Attribute(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT_DRAFT),
        Attribute(IpsecAttr.SA_LIFE_TYPE, 1), Attribute.of(IpsecAttr.SA_LIFE_DURATION, 4608000),
        Attribute(IpsecAttr.AUTH_ALGORITHM, IpsecAuthAlgorithm.HMAC_SHA2_256),
        Attribute(IpsecAttr.GROUP_DESCRIPTION, GroupDescription.MODP_2048), Attribute(IpsecAttr.KEY_LENGTH, 256)])
    return [
        OpaquePayload(PayloadType.HASH, bytes(20)),
        SaPayload(proposals=[Proposal(1, ProtocolId.IPSEC_ESP, b"\x11\x50\xfd\x74", [esp, Transform(2, 3)]),
                             Proposal(2, ProtocolId.IPSEC_AH, b"\x87\xc9\xb2\x00", [Transform(1, 3)])]),
        OpaquePayload(PayloadType.NONCE, bytes(range(20))),
        IdPayload.ipv4_subnet("172.16.123.0/24", 47), IdPayload.fqdn("spoke1.lab"),
        NotifyPayload(NotifyType.R_U_THERE, spi=COOKIES, data=b"\x00\x00\x00\x01"),
        DeletePayload(ProtocolId.IPSEC_ESP, [b"\x11\x50\xfd\x74"]),
        CertPayload(4, b"\x30\x00"), CertPayload(4, type=PayloadType.CR),
        NatOaPayload(IdType.IPV4_ADDR, bytes([192, 168, 123, 2]), type=PayloadType.NAT_OA_DRAFT),
        OpaquePayload(PayloadType.NAT_D_DRAFT, bytes(20)), OpaquePayload(200, b"?"),
    ]


@lru_cache(maxsize=1)
def message_seeds() -> tuple[bytes, ...]:
    crafted = isakmp.encode(IsakmpMessage(COOKIES[:8], COOKIES[8:], ExchangeType.QUICK_MODE, message_id=7,
                                          payloads=crafted_payloads()))
    encrypted = isakmp.encode(IsakmpMessage(COOKIES[:8], COOKIES[8:], ExchangeType.INFORMATIONAL, FLAG_ENCRYPTION,
                                            next_payload=PayloadType.HASH, encrypted=bytes(32)))
    return capture_messages() + (crafted, encrypted)


@lru_cache(maxsize=1)
def chain_seeds() -> tuple[bytes, ...]:
    """first type | chain | padding: the plaintext bodies, and a padded decrypted MM5."""
    out = []
    for raw in message_seeds():
        msg = isakmp.decode(raw)
        if not msg.is_encrypted:
            out.append(bytes([msg.first_payload_type]) + raw[isakmp.HEADER_LEN:])
    mm5 = [IdPayload.ipv4("192.168.12.1", 17, 500), OpaquePayload(PayloadType.HASH, bytes(20)),
           NotifyPayload(NotifyType.INITIAL_CONTACT, spi=COOKIES)]
    out.append(bytes([PayloadType.ID]) + isakmp.encode_payloads(mm5) + bytes(15) + b"\x0f")
    return tuple(out)


def decode_reencode(data: bytes) -> None:
    """What decodes must re-encode to the same bytes, up to the declared length."""
    try:
        msg = isakmp.decode(data)
    except isakmp.IsakmpDecodeError:
        return
    declared = struct.unpack_from("!I", data, LENGTH_AT)[0]
    again = isakmp.encode(msg)
    assert again == data[:declared], f"re-encode differs: {data[:declared].hex()} -> {again.hex()}"


def with_valid_length(data: bytes) -> bytes:
    """The same message with the header's length field = its length."""
    if len(data) < isakmp.HEADER_LEN:
        return data
    return data[:LENGTH_AT] + struct.pack("!I", len(data)) + data[LENGTH_AT + 4:]


def decode_chain(data: bytes) -> None:
    """A decrypted body: payloads plus padding must give back every byte."""
    if not data:
        return
    try:
        payloads, padding = isakmp.decode_payloads(data[0], data[1:])
    except isakmp.IsakmpDecodeError:
        return
    again = isakmp.encode_payloads(payloads) + padding
    assert again == data[1:], f"chain re-encode differs: {data[1:].hex()} -> {again.hex()}"


TARGETS = [
    Target("isakmp-codec", lambda: list(message_seeds()), decode_reencode),
    Target("isakmp-codec-fixed", lambda: list(message_seeds()), lambda data: decode_reencode(with_valid_length(data))),
    Target("isakmp-chain", lambda: list(chain_seeds()), decode_chain),
]
