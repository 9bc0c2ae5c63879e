"""ISAKMP codec: every IKEv1 payload round-trips byte for byte, malformed input raises
only IsakmpDecodeError, encrypted bodies stay opaque until decoded with their padding."""

from __future__ import annotations

import hashlib
import struct
from ipaddress import IPv4Address, IPv4Network

import pytest

from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.isakmp import (
    Attribute, CertPayload, DeletePayload, IdPayload, IsakmpDecodeError, IsakmpMessage,
    NatOaPayload, NotifyPayload, OpaquePayload, Proposal, SaPayload, Transform,
)
from dmvpnlab.ipsec.isakmp_const import (
    FLAG_ENCRYPTION, KEY_IKE, AuthMethod, EncapsulationMode, EncryptionAlgorithm, EspTransform, ExchangeType,
    GroupDescription, HashAlgorithm, IdType, IkeAttr, IpsecAttr, IpsecAuthAlgorithm, LifeType, NotifyType,
    PayloadType, ProtocolId, VendorId, name_of, vendor_name,
)

ICOOKIE = bytes.fromhex("e47a591fd057587f")
RCOOKIE = bytes.fromhex("a00b8ef0902bb8ec")


def ike_transform() -> Transform:
    return Transform(1, KEY_IKE, [
        Attribute(IkeAttr.ENCRYPTION, EncryptionAlgorithm.AES_CBC), Attribute(IkeAttr.KEY_LENGTH, 256),
        Attribute(IkeAttr.HASH, HashAlgorithm.SHA2_256), Attribute(IkeAttr.GROUP_DESCRIPTION, GroupDescription.MODP_2048),
        Attribute(IkeAttr.AUTH_METHOD, AuthMethod.PRE_SHARED_KEY), Attribute(IkeAttr.LIFE_TYPE, LifeType.SECONDS),
        Attribute.of(IkeAttr.LIFE_DURATION, 86400)])


def esp_proposal(spi: bytes = b"\x11\x22\x33\x44") -> Proposal:
    return Proposal(1, ProtocolId.IPSEC_ESP, spi, [
        Transform(1, EspTransform.AES_CBC, [
            Attribute(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.TRANSPORT),
            Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS), Attribute.of(IpsecAttr.SA_LIFE_DURATION, 3600),
            Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES), Attribute.of(IpsecAttr.SA_LIFE_DURATION, 4608000),
            Attribute(IpsecAttr.AUTH_ALGORITHM, IpsecAuthAlgorithm.HMAC_SHA), Attribute(IpsecAttr.KEY_LENGTH, 128)]),
        Transform(2, EspTransform.TRIPLE_DES, [
            Attribute(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT_DRAFT),
            Attribute(IpsecAttr.AUTH_ALGORITHM, IpsecAuthAlgorithm.HMAC_MD5),
            Attribute(IpsecAttr.GROUP_DESCRIPTION, GroupDescription.ECP_256)]),
    ])


def every_payload() -> list:
    """One of each payload kind IKEv1 uses, plus an unknown type."""
    return [
        SaPayload(proposals=[Proposal(1, ProtocolId.ISAKMP, b"", [ike_transform()])]),
        SaPayload(proposals=[esp_proposal(), esp_proposal(b"\xaa\xbb\xcc\xdd")]),
        OpaquePayload(PayloadType.KE, bytes(range(256)) * 1),
        IdPayload.ipv4("192.168.12.1", protocol=17, port=500),
        IdPayload.ipv4_subnet("10.1.0.0/16"),
        IdPayload.fqdn("hub.example"),
        IdPayload(IdType.IPV4_ADDR_RANGE, IPv4Address("10.0.0.1").packed + IPv4Address("10.0.0.9").packed, 47),
        CertPayload(4, b"\x30\x82cert"),
        CertPayload(4, b"", PayloadType.CR),
        OpaquePayload(PayloadType.HASH, bytes(20)),
        OpaquePayload(PayloadType.SIG, b"signature"),
        OpaquePayload(PayloadType.NONCE, bytes(range(20))),
        NotifyPayload(NotifyType.INITIAL_CONTACT, spi=ICOOKIE + RCOOKIE),
        NotifyPayload(NotifyType.R_U_THERE, spi=ICOOKIE + RCOOKIE, data=struct.pack("!I", 7)),
        NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN, protocol=ProtocolId.IPSEC_ESP, spi=b"\x01\x02\x03\x04"),
        DeletePayload(ProtocolId.ISAKMP, [ICOOKIE + RCOOKIE]),
        DeletePayload(ProtocolId.IPSEC_ESP, [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]),
        DeletePayload(ProtocolId.IPSEC_ESP, [], spi_size=4),
        OpaquePayload(PayloadType.VENDOR_ID, VendorId.DPD),
        OpaquePayload(PayloadType.ATTRIBUTE, b"\x01\x00\x12\x34\x80\x01\x00\x02"),
        OpaquePayload(PayloadType.NAT_D, bytes(20)),
        OpaquePayload(PayloadType.NAT_D_DRAFT, bytes(range(20))),
        NatOaPayload(IdType.IPV4_ADDR, IPv4Address("192.168.1.10").packed),
        NatOaPayload(IdType.IPV4_ADDR, IPv4Address("10.9.9.9").packed, type=PayloadType.NAT_OA_DRAFT),
        OpaquePayload(99, b"from the future", reserved=1),
    ]


def test_every_payload_kind_round_trips():
    msg = IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.INFORMATIONAL, payloads=every_payload(), message_id=0x635a2e6a)
    raw = isakmp.encode(msg)
    again = isakmp.decode(raw)
    assert again == msg
    assert isakmp.encode(again) == raw
    assert again.first_payload_type == PayloadType.SA and again.next_payload == 0
    assert struct.unpack_from("!I", raw, 24)[0] == len(raw)


def test_header_fields():
    msg = IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.QUICK_MODE, flags=0x07, message_id=0xDEADBEEF,
                        payloads=[OpaquePayload(PayloadType.HASH, bytes(20))])
    raw = isakmp.encode(msg)
    assert raw[:16] == ICOOKIE + RCOOKIE
    assert raw[16:20] == bytes([PayloadType.HASH, 0x10, 32, 0x07])
    assert raw[20:24] == bytes.fromhex("deadbeef")


def test_attribute_forms_and_numbers():
    tv = Attribute.of(IkeAttr.LIFE_DURATION, 3600)
    tlv = Attribute.of(IkeAttr.LIFE_DURATION, 86400)
    assert tv.to_bytes() == bytes.fromhex("800c0e10")
    assert tlv.to_bytes() == bytes.fromhex("000c000400015180")
    assert (tv.number, tlv.number) == (3600, 86400)
    # A TLV with leading zeros keeps its length (round trip is byte for byte).
    odd = Attribute(IkeAttr.LIFE_DURATION, b"\x00\x00\x00\x00\x0e\x10")
    assert odd.number == 3600
    t = Transform(1, KEY_IKE, [odd, Attribute(IkeAttr.HASH, 2)])
    assert t.get(IkeAttr.LIFE_DURATION) == 3600 and t.get(IkeAttr.HASH) == 2 and t.get(IkeAttr.PRF) is None
    msg = IsakmpMessage(ICOOKIE, bytes(8), ExchangeType.MAIN_MODE,
                        payloads=[SaPayload(proposals=[Proposal(1, ProtocolId.ISAKMP, b"", [t])])])
    raw = isakmp.encode(msg)
    assert isakmp.encode(isakmp.decode(raw)) == raw


def test_id_payload_readers():
    assert IdPayload.ipv4("192.168.12.1").address() == IPv4Address("192.168.12.1")
    assert IdPayload.ipv4("192.168.12.1").network() == IPv4Network("192.168.12.1/32")
    assert IdPayload.ipv4_subnet("10.1.0.0/16").network() == IPv4Network("10.1.0.0/16")
    assert IdPayload(IdType.IPV4_ADDR_SUBNET, bytes(4) + bytes.fromhex("ff00ff00")).network() is None
    assert IdPayload.fqdn("hub.example").text() == "hub.example"
    assert IdPayload.fqdn("hub.example").address() is None
    assert IdPayload.ipv4("1.2.3.4", 17, 500).body() == bytes.fromhex("011101f401020304")


def test_nat_oa_reader():
    assert NatOaPayload(IdType.IPV4_ADDR, IPv4Address("10.0.0.1").packed).ipv4() == IPv4Address("10.0.0.1")
    assert NatOaPayload(IdType.IPV6_ADDR, bytes(16)).ipv4() is None


def test_foreign_doi_and_labeled_situation_stay_opaque():
    for sa in (SaPayload(doi=0, situation=0, opaque=b"\x00\x00\x00\x00whatever"),
               SaPayload(situation=0x03, opaque=b"labels")):
        msg = IsakmpMessage(ICOOKIE, bytes(8), ExchangeType.MAIN_MODE, payloads=[sa])
        raw = isakmp.encode(msg)
        assert isakmp.decode(raw) == msg


def test_bytes_beyond_the_length_field_are_ignored():
    msg = IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.MAIN_MODE, payloads=[OpaquePayload(PayloadType.NONCE, b"n" * 16)])
    raw = isakmp.encode(msg)
    assert isakmp.decode(raw + b"\x00junk") == msg


def test_encrypted_message_keeps_the_body_and_decodes_after_decryption():
    inner = [IdPayload.ipv4("192.168.12.1", 17, 500), OpaquePayload(PayloadType.HASH, bytes(range(20))),
             NotifyPayload(NotifyType.INITIAL_CONTACT, spi=ICOOKIE + RCOOKIE)]
    plain = isakmp.encode_payloads(inner)
    padding = bytes(15) + b"\x0f"
    msg = IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.MAIN_MODE, FLAG_ENCRYPTION, next_payload=PayloadType.ID,
                        encrypted=b"\x99" * 80)
    raw = isakmp.encode(msg)
    got = isakmp.decode(raw)
    assert got.is_encrypted and got.payloads == [] and got.encrypted == b"\x99" * 80
    assert got.next_payload == got.first_payload_type == PayloadType.ID and isakmp.encode(got) == raw
    payloads, pad = isakmp.decode_payloads(got.next_payload, plain + padding)
    assert payloads == inner and pad == padding
    assert isakmp.encode_payloads(payloads) + pad == plain + padding
    with pytest.raises(IsakmpDecodeError):
        isakmp.decode_payloads(PayloadType.ID, plain + padding, allow_padding=False)
    assert isakmp.decode_payloads(PayloadType.ID, plain, allow_padding=False) == (inner, b"")


def test_names_and_vendor_ids():
    msg = IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.MAIN_MODE, payloads=every_payload()[:4])
    assert isakmp.payload_names(msg.payloads) == ["SA", "SA", "KE", "ID"]
    assert isakmp.payload_names([OpaquePayload(77)]) == ["77"]
    assert msg.payload(PayloadType.KE) is msg.payloads[2] and msg.payload(PayloadType.HASH) is None
    assert len(msg.all(PayloadType.SA)) == 2
    assert name_of(NotifyType, 36136) == "R_U_THERE" and name_of(NotifyType, 4242) == "4242"
    assert ExchangeType(2).name == "IDENTITY_PROTECTION" and ExchangeType.MAIN_MODE == 2
    assert vendor_name(VendorId.RFC_3947) == "RFC 3947"
    assert vendor_name(VendorId.IKE_FRAGMENTATION + b"\x80\x00\x00\x00") == "IKE Fragmentation"
    assert vendor_name(b"\x01" * 16) is None


def test_vendor_ids_are_the_published_hashes():
    """Independent of the table: the NAT-T ids are MD5 of their names (RFC 3947 7)."""
    md5 = lambda s: hashlib.md5(s).digest()  # noqa: E731
    assert VendorId.RFC_3947 == md5(b"RFC 3947")
    assert VendorId.NATT_DRAFT_02N == md5(b"draft-ietf-ipsec-nat-t-ike-02\n")
    assert VendorId.NATT_DRAFT_02 == md5(b"draft-ietf-ipsec-nat-t-ike-02")
    assert VendorId.NATT_DRAFT_03 == md5(b"draft-ietf-ipsec-nat-t-ike-03")
    assert VendorId.NATT_DRAFT_07 == md5(b"draft-ietf-ipsec-nat-t-ike-07")
    assert VendorId.CISCO_UNITY == md5(b"CISCO-UNITY")[:14] + b"\x01\x00"
    assert VendorId.XAUTH == md5(b"draft-ietf-ipsra-isakmp-xauth-06.txt")[:8]
    assert VendorId.IKE_FRAGMENTATION == md5(b"FRAGMENTATION")
    assert VendorId.DPD == bytes.fromhex("AFCAD71368A1F1C96B8696FC77570100")  # printed in RFC 3706


def test_encode_refuses_what_the_wire_cannot_carry():
    with pytest.raises(ValueError):
        isakmp.encode(IsakmpMessage(b"short", RCOOKIE, 2))
    with pytest.raises(ValueError):
        isakmp.encode_payloads([OpaquePayload(PayloadType.NONCE, bytes(70000))])
    with pytest.raises(ValueError):
        DeletePayload(ProtocolId.IPSEC_ESP, [b"\x01\x02\x03\x04", b"\x01\x02"]).body()


def _mm1() -> bytes:
    return isakmp.encode(IsakmpMessage(ICOOKIE, bytes(8), ExchangeType.MAIN_MODE, payloads=[
        SaPayload(proposals=[Proposal(1, ProtocolId.ISAKMP, b"", [ike_transform()])]),
        OpaquePayload(PayloadType.VENDOR_ID, VendorId.RFC_3947)]))


def _patch(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value):]


def _with_length(raw: bytes) -> bytes:
    return _patch(raw, 24, struct.pack("!I", len(raw)))


SA_AT = 28                      # the SA payload's generic header
PROPOSAL_AT = SA_AT + 4 + 8     # after the generic header, DOI and situation
TRANSFORM_AT = PROPOSAL_AT + 8


@pytest.mark.parametrize("name,data", [
    ("empty", b""),
    ("short header", bytes(27)),
    ("IKEv2 version", lambda raw: _patch(raw, 17, b"\x20")),
    ("length below header", lambda raw: _patch(raw, 24, struct.pack("!I", 12))),
    ("length beyond data", lambda raw: _patch(raw, 24, struct.pack("!I", len(raw) + 1))),
    ("trailing bytes in plaintext", lambda raw: _with_length(raw + b"\x00")),
    ("chain announces more", lambda raw: _with_length(raw[:-20])),
    ("payload length 3", lambda raw: _patch(raw, SA_AT + 2, b"\x00\x03")),
    ("payload overruns", lambda raw: _patch(raw, SA_AT + 2, b"\xff\xff")),
    ("proposal at top level", lambda raw: _patch(raw, 16, bytes([PayloadType.PROPOSAL]))),
    ("transform at top level", lambda raw: _patch(raw, 16, bytes([PayloadType.TRANSFORM]))),
    ("proposal next is not 2/0", lambda raw: _patch(raw, PROPOSAL_AT, b"\x05")),
    ("proposal claims more", lambda raw: _patch(raw, PROPOSAL_AT, b"\x02")),
    ("transform count too high", lambda raw: _patch(raw, PROPOSAL_AT + 7, b"\x02")),
    ("transform count zero", lambda raw: _patch(raw, PROPOSAL_AT + 7, b"\x00")),
    ("SPI size overruns", lambda raw: _patch(raw, PROPOSAL_AT + 6, b"\xff")),
    ("transform next is not 3/0", lambda raw: _patch(raw, TRANSFORM_AT, b"\x02")),
    ("TLV attribute overruns", lambda raw: _patch(raw, len(raw) - 20 - 8 + 2, b"\x00\x09")),
])
def test_malformed_messages_raise_only_the_typed_error(name, data):
    raw = _mm1()
    if callable(data):
        data = data(raw)
    with pytest.raises(IsakmpDecodeError):
        isakmp.decode(data)


@pytest.mark.parametrize("ptype,body", [
    (PayloadType.ID, b"\x01\x11\x01"),
    (PayloadType.NOTIFY, b"\x00\x00\x00\x01\x01\x10\x60"),
    (PayloadType.NOTIFY, b"\x00\x00\x00\x01\x01\x10\x60\x02" + bytes(8)),
    (PayloadType.DELETE, b"\x00\x00\x00\x01\x03\x04\x00\x02" + bytes(7)),
    (PayloadType.CERT, b""),
    (PayloadType.CR, b""),
    (PayloadType.NAT_OA, b"\x01\x00\x00"),
    (PayloadType.SA, b"\x00\x00\x00\x01\x00\x00\x00"),
    (PayloadType.SA, b"\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00"),
])
def test_short_payload_bodies_raise_the_typed_error(ptype, body):
    chain = struct.pack("!BBH", 0, 0, 4 + len(body)) + body
    with pytest.raises(IsakmpDecodeError):
        isakmp.decode_payloads(ptype, chain)


def test_every_truncation_of_a_message_is_refused_the_documented_way():
    raw = isakmp.encode(IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.INFORMATIONAL, payloads=every_payload()))
    for cut in range(len(raw)):
        with pytest.raises(IsakmpDecodeError):
            isakmp.decode(_with_length(raw[:cut]) if cut >= 28 else raw[:cut])


def test_empty_sa_and_empty_message_round_trip():
    for msg in (IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.MAIN_MODE, payloads=[SaPayload()]),
                IsakmpMessage(ICOOKIE, RCOOKIE, ExchangeType.INFORMATIONAL)):
        raw = isakmp.encode(msg)
        assert isakmp.decode(raw) == msg
