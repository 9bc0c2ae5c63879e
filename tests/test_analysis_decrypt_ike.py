"""The IKEv1 key table line opens Main Mode's encrypted messages in tshark.

A Main Mode exchange (the seed's policy: AES-256, SHA-256, pre-shared key, group 14) is
built from the project's ISAKMP codec and RFC 2409 key math, messages 5 and 6 encrypted
with the derived key; `KeyLog.ike_sa` writes the `ikev1_decryption_table` line as an
agent does on `IkeSaUp`; tshark, which computes the Phase 1 IV itself from the KE
payloads it saw, must find the ID and HASH payloads inside. A wrong key leaves them
undecoded, and the report says so.
"""

from __future__ import annotations

import os
import shutil
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from dmvpnlab.analysis.decrypt import decrypt_capture, protection_report
from dmvpnlab.ipsec import dh, ike_cipher, ikev1_keys, isakmp
from dmvpnlab.ipsec.events import IkeSaUp
from dmvpnlab.ipsec.isakmp_const import (FLAG_ENCRYPTION, KEY_IKE, AuthMethod, EncryptionAlgorithm, ExchangeType,
                                         HashAlgorithm, IkeAttr, PayloadType, ProtocolId)
from dmvpnlab.ipsec.isakmp_payloads import Attribute, IdPayload, OpaquePayload, Proposal, SaPayload, Transform
from dmvpnlab.ipsec.keylog import KeyLog

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

SPOKE, HUB = "100.64.1.1", "203.0.113.1"
MM = ExchangeType.IDENTITY_PROTECTION
SHA256 = HashAlgorithm.SHA2_256


def main_mode(psk: bytes = b"DMVPN_KEY") -> tuple[list, bytes, bytes]:
    """The six Main Mode packets spoke -> hub, the initiator cookie, the encryption key."""
    cky_i, cky_r = os.urandom(8), os.urandom(8)
    attrs = [Attribute.of(IkeAttr.ENCRYPTION, EncryptionAlgorithm.AES_CBC), Attribute.of(IkeAttr.KEY_LENGTH, 256),
             Attribute.of(IkeAttr.HASH, SHA256), Attribute.of(IkeAttr.AUTH_METHOD, AuthMethod.PRE_SHARED_KEY),
             Attribute.of(IkeAttr.GROUP_DESCRIPTION, 14), Attribute.of(IkeAttr.LIFE_TYPE, 1),
             Attribute.of(IkeAttr.LIFE_DURATION, 86400)]
    sa = SaPayload(proposals=[Proposal(1, ProtocolId.ISAKMP, b"", [Transform(1, KEY_IKE, attrs)])])
    group = dh.group(14)
    mine, theirs = group.generate(), group.generate()
    ni, nr = os.urandom(32), os.urandom(32)
    keys = ikev1_keys.derive_phase1(SHA256, psk, ni, nr, mine.shared_secret(theirs.public), cky_i, cky_r, 32)
    spec = ike_cipher.cipher_spec(EncryptionAlgorithm.AES_CBC, 256)

    def sealed(iv: bytes, address: str, make_hash) -> bytes:
        ident = IdPayload.ipv4(address, 17, 500)
        proof = make_hash(SHA256, keys.skeyid, mine.public, theirs.public, cky_i, cky_r, sa.body(), ident.body())
        plain = isakmp.encode_payloads([ident, OpaquePayload(PayloadType.HASH, proof)])
        return ike_cipher.encrypt(spec, keys.enc_key, iv, ike_cipher.pad(plain, spec.block_size))

    msg5 = sealed(ikev1_keys.phase1_iv(SHA256, mine.public, theirs.public, spec.block_size), SPOKE, ikev1_keys.hash_i)
    msg6 = sealed(ike_cipher.last_block(msg5, spec.block_size), HUB, ikev1_keys.hash_r)
    messages = [
        isakmp.IsakmpMessage(cky_i, bytes(8), MM, payloads=[sa]),
        isakmp.IsakmpMessage(cky_i, cky_r, MM, payloads=[sa]),
        isakmp.IsakmpMessage(cky_i, cky_r, MM, payloads=[OpaquePayload(PayloadType.KE, mine.public),
                                                         OpaquePayload(PayloadType.NONCE, ni)]),
        isakmp.IsakmpMessage(cky_i, cky_r, MM, payloads=[OpaquePayload(PayloadType.KE, theirs.public),
                                                         OpaquePayload(PayloadType.NONCE, nr)]),
        isakmp.IsakmpMessage(cky_i, cky_r, MM, flags=FLAG_ENCRYPTION, next_payload=PayloadType.ID, encrypted=msg5),
        isakmp.IsakmpMessage(cky_i, cky_r, MM, flags=FLAG_ENCRYPTION, next_payload=PayloadType.ID, encrypted=msg6),
    ]
    frames = [Ether() / IP(src=a, dst=b) / UDP(sport=500, dport=500) / Raw(isakmp.encode(m))
              for m, (a, b) in zip(messages, [(SPOKE, HUB), (HUB, SPOKE)] * 3)]
    return frames, cky_i, keys.enc_key


def ike_up(cookie: bytes, key: bytes) -> IkeSaUp:
    return IkeSaUp(peer=IPv4Address(HUB), cookie_i=cookie, cookie_r=bytes(8), encryption_key=key, conn_id=1001,
                   initiator=True, nat_t=False)


def test_main_mode_messages_5_and_6_decrypt_with_the_exported_key(tmp_path):
    frames, cookie, key = main_mode()
    wrpcap(str(tmp_path / "spoke1-isp.pcap"), frames)
    KeyLog(tmp_path).ike_sa(ike_up(cookie, key))
    report = protection_report(tmp_path / "spoke1-isp.pcap", tmp_path)
    assert (report["isakmp"], report["isakmp_encrypted"], report["isakmp_decrypted"]) == (6, 2, 2)
    decrypted = [f for f in decrypt_capture(tmp_path / "spoke1-isp.pcap", tmp_path).frames if f.isakmp_encrypted]
    assert [f.isakmp_payloads for f in decrypted] == [2, 2]  # ID and HASH, each


def test_a_wrong_ike_key_leaves_the_encrypted_messages_undecoded(tmp_path):
    frames, cookie, _key = main_mode()
    wrpcap(str(tmp_path / "spoke1-isp.pcap"), frames)
    KeyLog(tmp_path).ike_sa(ike_up(cookie, os.urandom(32)))
    report = protection_report(tmp_path / "spoke1-isp.pcap", tmp_path)
    assert (report["isakmp_encrypted"], report["isakmp_decrypted"]) == (2, 0)
