"""Interop fixture: the IOS Main Mode + Quick Mode capture decodes and re-encodes byte for
byte, the payload ladder IOS sent is pinned (our initiator is compared with it later),
and tshark's ISAKMP dissector sees the same payloads, attributes and vendor ids."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dmvpnlab.ipsec import isakmp
from dmvpnlab.ipsec.ikev1_keys import natd_hash
from dmvpnlab.ipsec.isakmp import IsakmpMessage, SaPayload
from dmvpnlab.ipsec.isakmp_const import (
    DOI_IPSEC, KEY_IKE, NON_ESP_MARKER, PAYLOAD_SHORT_NAMES, SIT_IDENTITY_ONLY, AuthMethod, EncryptionAlgorithm, ExchangeType,
    GroupDescription, HashAlgorithm, IkeAttr, LifeType, PayloadType, ProtocolId, vendor_name,
)
from tests.cisco_captures import capture

CAPTURE = "wireshark-capture-ipsec-ikev1-isakmp-main-mode.pcap"
INITIATOR, RESPONDER = IPv4Address("192.168.12.1"), IPv4Address("192.168.12.2")


def isakmp_datagrams(path: Path) -> list[tuple[int, IPv4Address, IPv4Address, int, bytes]]:
    """(frame, src, dst, port, ISAKMP bytes) for every UDP 500 / 4500 ISAKMP datagram
    (on 4500 the non-ESP marker is stripped; ESP-in-UDP and keepalives are skipped)."""
    from scapy.layers.inet import IP, UDP
    from scapy.utils import rdpcap

    out = []
    for number, frame in enumerate(rdpcap(str(path)), start=1):
        if UDP not in frame:
            continue
        udp = frame[UDP]
        data = bytes(udp.payload)
        if 500 in (udp.sport, udp.dport):
            port = 500
        elif 4500 in (udp.sport, udp.dport) and data[:4] == NON_ESP_MARKER:
            data, port = data[4:], 4500
        else:
            continue
        out.append((number, IPv4Address(frame[IP].src), IPv4Address(frame[IP].dst), port, data))
    return out


@pytest.fixture(scope="module")
def datagrams():
    return isakmp_datagrams(capture(CAPTURE))


@pytest.fixture(scope="module")
def messages(datagrams) -> list[IsakmpMessage]:
    return [isakmp.decode(data) for _, _, _, _, data in datagrams]


def test_every_message_re_encodes_byte_for_byte(datagrams):
    assert len(datagrams) == 9
    for number, _, _, _, data in datagrams:
        assert isakmp.encode(isakmp.decode(data)) == data, f"frame {number}"


#: What IOS sent, message by message: (name, sender, exchange, flags, payload kinds). An
#: encrypted message shows "E:<first payload>" and its ciphertext length; the decrypted
#: kinds need the lab's keys (MM5 is ID, HASH, N(INITIAL-CONTACT) by RFC 2409 + IOS habit).
IOS_LADDER = [
    ("MM1", INITIATOR, ExchangeType.MAIN_MODE, 0, ["SA", "V", "V", "V", "V"]),
    ("MM2", RESPONDER, ExchangeType.MAIN_MODE, 0, ["SA", "V"]),
    ("MM3", INITIATOR, ExchangeType.MAIN_MODE, 0, ["KE", "No", "V", "V", "V", "NAT-D", "NAT-D"]),
    ("MM4", RESPONDER, ExchangeType.MAIN_MODE, 0, ["KE", "No", "V", "V", "V", "V", "NAT-D", "NAT-D"]),
    ("MM5", INITIATOR, ExchangeType.MAIN_MODE, 1, ["E:ID", 80]),
    ("MM6", RESPONDER, ExchangeType.MAIN_MODE, 1, ["E:ID", 48]),
    ("QM1", INITIATOR, ExchangeType.QUICK_MODE, 1, ["E:HASH", 192]),
    ("QM2", RESPONDER, ExchangeType.QUICK_MODE, 1, ["E:HASH", 192]),
    ("QM3", INITIATOR, ExchangeType.QUICK_MODE, 1, ["E:HASH", 32]),
]

#: The vendor ids of MM1..MM4, by name in IOS's order (None: IOS's unlisted per-SA id).
IOS_VENDOR_IDS = [
    ["RFC 3947", "draft-ietf-ipsec-nat-t-ike-07", "draft-ietf-ipsec-nat-t-ike-03",
     "draft-ietf-ipsec-nat-t-ike-02\\n"],
    ["RFC 3947"],
    ["Dead Peer Detection", None, "XAUTH"],
    ["Cisco Unity", "Dead Peer Detection", None, "XAUTH"],
]


def kinds(msg: IsakmpMessage) -> list:
    if msg.is_encrypted:
        return [f"E:{PAYLOAD_SHORT_NAMES[msg.next_payload]}", len(msg.encrypted)]
    return isakmp.payload_names(msg.payloads)


def test_the_ios_payload_ladder(datagrams, messages):
    got = [(name, src, msg.exchange, msg.flags, kinds(msg))
           for (name, *_), (_, src, _, _, _), msg in zip(IOS_LADDER, datagrams, messages)]
    assert got == IOS_LADDER
    cookies = {(m.icookie, m.rcookie) for m in messages[1:]}
    assert len(cookies) == 1 and messages[0].rcookie == bytes(8)
    assert {m.message_id for m in messages[:6]} == {0}
    assert len({m.message_id for m in messages[6:]}) == 1 and messages[6].message_id != 0
    assert all(len(m.encrypted) % 16 == 0 for m in messages[4:])     # AES blocks


def test_vendor_ids_ios_sends(messages):
    vids = [[vendor_name(p.data) for p in m.all(PayloadType.VENDOR_ID)] for m in messages[:4]]
    assert vids == IOS_VENDOR_IDS
    # The unlisted per-SA id: its bytes 4..7 follow the sender's cookie (see VendorId's doc).
    for msg, cookie in ((messages[2], messages[2].icookie), (messages[3], messages[3].rcookie)):
        unknown = [p.data for p in msg.all(PayloadType.VENDOR_ID) if vendor_name(p.data) is None][0]
        assert len(unknown) == 16
        assert unknown[4] == cookie[4] and unknown[6:8] == cookie[6:8] and unknown[5] ^ cookie[5] == 1


def test_the_phase1_proposal_ios_offers_and_accepts(messages):
    for msg in messages[:2]:
        sa = msg.payloads[0]
        assert isinstance(sa, SaPayload) and (sa.doi, sa.situation) == (DOI_IPSEC, SIT_IDENTITY_ONLY)
        [proposal] = sa.proposals
        assert (proposal.number, proposal.protocol, proposal.spi) == (1, ProtocolId.ISAKMP, b"")
        [transform] = proposal.transforms
        assert (transform.number, transform.transform_id) == (1, KEY_IKE)
        assert [(a.type, a.value) for a in transform.attributes] == [
            (IkeAttr.ENCRYPTION, EncryptionAlgorithm.AES_CBC), (IkeAttr.KEY_LENGTH, 128),
            (IkeAttr.HASH, HashAlgorithm.SHA), (IkeAttr.GROUP_DESCRIPTION, GroupDescription.MODP_1024),
            (IkeAttr.AUTH_METHOD, AuthMethod.PRE_SHARED_KEY), (IkeAttr.LIFE_TYPE, LifeType.SECONDS),
            (IkeAttr.LIFE_DURATION, b"\x00\x01\x51\x80"),     # 86400 s, sent as a 4-byte TLV
        ]


def test_key_exchange_and_nat_detection(messages, datagrams):
    for msg, (_, src, dst, port, _) in zip(messages[2:4], datagrams[2:4]):
        ke = msg.payload(PayloadType.KE)
        nonce = msg.payload(PayloadType.NONCE)
        assert len(ke.data) == 128 and len(nonce.data) == 20       # group 2, IOS's 20-byte nonce
        natd = [p.data for p in msg.all(PayloadType.NAT_D)]
        # RFC 3947: first the datagram's destination, then the sender's own address.
        assert natd == [natd_hash(HashAlgorithm.SHA, msg.icookie, msg.rcookie, dst.packed, port),
                        natd_hash(HashAlgorithm.SHA, msg.icookie, msg.rcookie, src.packed, port)]


# --- tshark agrees ----------------------------------------------------------------------
TSHARK_FIELDS = ["frame.number", "isakmp.exchangetype", "isakmp.flags", "isakmp.typepayload",
                 "isakmp.ike.attr.type", "isakmp.ike.attr.value", "isakmp.vid_bytes"]


def tshark_rows(path: Path) -> list[dict[str, list[str]]]:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    args = ["tshark", "-r", str(path), "-Y", "isakmp", "-T", "fields", "-E", "separator=|", "-E", "aggregator=,"]
    for name in TSHARK_FIELDS:
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = []
    for line in out.splitlines():
        cells = line.split("|")
        rows.append({name: [c for c in cell.split(",") if c] for name, cell in zip(TSHARK_FIELDS, cells)})
    return rows


def flat_types(msg: IsakmpMessage) -> list[int]:
    """Payload types in wire order with the proposals and transforms inside each SA, as
    Wireshark lists them."""
    out = []
    for p in msg.payloads:
        out.append(int(p.type))
        if isinstance(p, SaPayload):
            for proposal in p.proposals:
                out.append(PayloadType.PROPOSAL)
                out.extend(PayloadType.TRANSFORM for _ in proposal.transforms)
    return out


def attribute_cells(msg: IsakmpMessage) -> tuple[list[str], list[str]]:
    types, values = [], []
    for sa in msg.all(PayloadType.SA):
        for proposal in sa.proposals:
            for transform in proposal.transforms:
                for attr in transform.attributes:
                    types.append(str(attr.type))
                    raw = attr.value.to_bytes(2, "big") if isinstance(attr.value, int) else attr.value
                    values.append(raw.hex())
    return types, values


def test_tshark_dissects_what_we_decode(messages):
    rows = tshark_rows(capture(CAPTURE))
    assert len(rows) == len(messages)
    for row, msg in zip(rows, messages):
        assert row["isakmp.exchangetype"] == [str(msg.exchange)]
        assert int(row["isakmp.flags"][0], 16) == msg.flags
        if msg.is_encrypted:
            continue
        assert [int(t) for t in row["isakmp.typepayload"]] == flat_types(msg)
        assert (row["isakmp.ike.attr.type"], row["isakmp.ike.attr.value"]) == attribute_cells(msg)
        assert row["isakmp.vid_bytes"] == [p.data.hex() for p in msg.all(PayloadType.VENDOR_ID)]
