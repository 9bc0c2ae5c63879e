"""ISAKMP message encryption: two peers built from the same Phase 1 keys seal and open each
other's messages, the CBC chain follows RFC 2409 appendix B through Main Mode 5/6 and a
three-message Quick Mode, retransmissions open again, and bad input is a typed error that
leaves the chain alone. One message is checked against an independent computation
(hashlib + cryptography's AES, no project code) and scapy's ISAKMP parser."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dmvpnlab.ipsec import ike_cipher, isakmp
from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.ikev1_crypt import MAX_EXCHANGES, IkeCrypto
from dmvpnlab.ipsec.isakmp import IdPayload, IsakmpDecodeError, IsakmpMessage, NotifyPayload, OpaquePayload, \
    Proposal, SaPayload, Transform
from dmvpnlab.ipsec.isakmp_const import FLAG_ENCRYPTION, EncryptionAlgorithm, ExchangeType, HashAlgorithm, \
    NotifyType, PayloadType, ProtocolId

CKY_I, CKY_R = bytes.fromhex("e47a591fd057587f"), bytes.fromhex("a00b8ef0902bb8ec")
GXI, GXR = bytes(range(128)), bytes(range(128, 256))
MID = 0x5A3C9E01


def peers(encr: int = EncryptionAlgorithm.AES_CBC, bits: int | None = 128,
          hash_alg: int = HashAlgorithm.SHA) -> tuple[IkeCrypto, IkeCrypto]:
    """Initiator and responder objects from the same derived keys (as after MM3/MM4)."""
    spec = ike_cipher.cipher_spec(encr, bits)
    k = keys.derive_phase1(hash_alg, b"cisco123", bytes(20), bytes(range(20)), bytes(range(1, 129)), CKY_I, CKY_R,
                           spec.key_size)
    return (IkeCrypto.for_main_mode(hash_alg, spec, k, CKY_I, CKY_R, GXI, GXR),
            IkeCrypto.for_main_mode(hash_alg, spec, k, CKY_I, CKY_R, GXI, GXR))


def message(payloads: list, mid: int = 0, exchange: int = ExchangeType.MAIN_MODE) -> IsakmpMessage:
    return IsakmpMessage(CKY_I, CKY_R, exchange, message_id=mid, payloads=payloads)


def mm5() -> list:
    return [IdPayload.ipv4("192.168.12.1", 17, 500), OpaquePayload(PayloadType.HASH, bytes(range(20))),
            NotifyPayload(NotifyType.INITIAL_CONTACT, spi=CKY_I + CKY_R)]


def mm6() -> list:
    return [IdPayload.ipv4("192.168.12.2", 17, 500), OpaquePayload(PayloadType.HASH, bytes(range(50, 70)))]


def qm(n: int) -> list:
    sa = SaPayload(proposals=[Proposal(1, ProtocolId.IPSEC_ESP, bytes.fromhex("a1b2c3d4"), [Transform(1, 12)])])
    return {1: [OpaquePayload(PayloadType.HASH, bytes(20)), sa, OpaquePayload(PayloadType.NONCE, bytes(range(20)))],
            2: [OpaquePayload(PayloadType.HASH, bytes([1]) * 20), sa, OpaquePayload(PayloadType.NONCE, bytes(20))],
            3: [OpaquePayload(PayloadType.HASH, bytes([3]) * 20)]}[n]


def send(sender: IkeCrypto, receiver: IkeCrypto, payloads: list, mid: int = 0,
         exchange: int = ExchangeType.MAIN_MODE) -> tuple[bytes, list]:
    wire = sender.seal(message(payloads, mid, exchange))
    got, plain = receiver.open(isakmp.decode(wire))
    assert plain == isakmp.encode_payloads(payloads)      # the bytes a HASH covers, no padding
    return wire, got


def body(wire: bytes) -> bytes:
    return isakmp.decode(wire).encrypted


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


@pytest.mark.parametrize("encr,bits,hash_alg", [
    (EncryptionAlgorithm.AES_CBC, 128, HashAlgorithm.SHA), (EncryptionAlgorithm.AES_CBC, 256, HashAlgorithm.SHA2_256),
    (EncryptionAlgorithm.TRIPLE_DES_CBC, None, HashAlgorithm.MD5), (EncryptionAlgorithm.DES_CBC, None, HashAlgorithm.SHA),
])
def test_round_trip_both_directions_through_main_mode_and_quick_mode(encr, bits, hash_alg):
    ini, res = peers(encr, bits, hash_alg)
    _, got = send(ini, res, mm5())
    assert got == mm5()
    _, got = send(res, ini, mm6())
    assert got == mm6()
    ini.finish_phase1()
    res.finish_phase1()
    assert ini.phase1_last_block == res.phase1_last_block
    for n, (a, b) in ((1, (ini, res)), (2, (res, ini)), (3, (ini, res))):
        payloads = qm(n)
        _, got = send(a, b, payloads, MID, ExchangeType.QUICK_MODE)
        assert got == payloads


def test_wire_form_e_flag_header_and_rfc2409_padding():
    ini, res = peers()
    wire = ini.seal(message(mm5()))
    msg = isakmp.decode(wire)
    assert msg.flags & FLAG_ENCRYPTION and msg.next_payload == PayloadType.ID
    plain_len = len(isakmp.encode_payloads(mm5()))                     # 64 bytes, as IOS's MM5
    assert plain_len == 64 and len(msg.encrypted) == 80                # IOS pads it to 80 too
    assert struct.unpack_from("!I", wire, 24)[0] == len(wire) == 28 + 80
    plain = aes_cbc_decrypt(ini.keys.enc_key, ini.iv, msg.encrypted)
    assert plain[plain_len:] == bytes(15) + b"\x0f"


def test_main_mode_chain_mm5_then_mm6_then_the_frozen_phase1_block():
    ini, res = peers()
    assert ini.iv == hashlib.sha1(GXI + GXR).digest()[:16]
    w5, _ = send(ini, res, mm5())
    w6, _ = send(res, ini, mm6())
    # MM6 was encrypted with MM5's last ciphertext block as IV.
    plain6 = aes_cbc_decrypt(ini.keys.enc_key, body(w5)[-16:], body(w6))
    assert plain6.startswith(isakmp.encode_payloads(mm6()))
    ini.finish_phase1()
    res.finish_phase1()
    assert ini.phase1_last_block == res.phase1_last_block == body(w6)[-16:]


def test_quick_mode_three_messages_chain_independently_computed():
    """QM1's IV is SHA-1(MM6's last block | M-ID) cut to a block; QM2's is QM1's last
    ciphertext block; QM3's is QM2's -- computed here with hashlib and raw AES only."""
    ini, res = peers()
    send(ini, res, mm5())
    w6, _ = send(res, ini, mm6())
    ini.finish_phase1()
    res.finish_phase1()
    w1, _ = send(ini, res, qm(1), MID, ExchangeType.QUICK_MODE)
    w2, _ = send(res, ini, qm(2), MID, ExchangeType.QUICK_MODE)
    w3, _ = send(ini, res, qm(3), MID, ExchangeType.QUICK_MODE)
    key = ini.keys.enc_key
    iv1 = hashlib.sha1(body(w6)[-16:] + struct.pack("!I", MID)).digest()[:16]
    for wire, iv, payloads in ((w1, iv1, qm(1)), (w2, body(w1)[-16:], qm(2)), (w3, body(w2)[-16:], qm(3))):
        plain = aes_cbc_decrypt(key, iv, body(wire))
        chain = isakmp.encode_payloads(payloads)
        assert plain[:len(chain)] == chain
        pad = plain[len(chain):]
        assert 1 <= len(pad) <= 16 and pad[:-1] == bytes(len(pad) - 1) and pad[-1] == len(pad) - 1


def test_one_message_against_scapy_isakmp_parser():
    """scapy (GPL, tests only) parses the independently decrypted QM1 as HASH, SA, Nonce."""
    scapy_isakmp = pytest.importorskip("scapy.layers.isakmp")
    ini, res = peers()
    send(ini, res, mm5())
    w6, _ = send(res, ini, mm6())
    ini.finish_phase1()
    wire = ini.seal(message(qm(1), MID, ExchangeType.QUICK_MODE))
    iv = hashlib.sha1(body(w6)[-16:] + struct.pack("!I", MID)).digest()[:16]
    plain = aes_cbc_decrypt(ini.keys.enc_key, iv, body(wire))
    clear = bytearray(wire[:28] + plain)
    clear[19] &= ~FLAG_ENCRYPTION                                   # flags byte: now plaintext
    pkt = scapy_isakmp.ISAKMP(bytes(clear))
    assert pkt.haslayer(scapy_isakmp.ISAKMP_payload_Hash)
    assert pkt.haslayer(scapy_isakmp.ISAKMP_payload_SA)
    assert pkt[scapy_isakmp.ISAKMP_payload_Nonce].nonce == bytes(range(20))
    assert pkt[scapy_isakmp.ISAKMP_payload_Hash].hash == bytes(20)


def test_retransmitted_message_opens_again_and_leaves_the_chain():
    ini, res = peers()
    w5, _ = send(ini, res, mm5())
    assert res.open(isakmp.decode(w5))[0] == mm5()                 # MM5 again: MM6 was lost
    send(res, ini, mm6())
    ini.finish_phase1()
    res.finish_phase1()
    assert res.open(isakmp.decode(w5))[0] == mm5()                 # even after Phase 1 froze
    w1, _ = send(ini, res, qm(1), MID, ExchangeType.QUICK_MODE)
    send(res, ini, qm(2), MID, ExchangeType.QUICK_MODE)
    got, _ = res.open(isakmp.decode(w1))                           # QM1 retransmitted after QM2
    assert [p.type for p in got] == [PayloadType.HASH, PayloadType.SA, PayloadType.NONCE]
    _, got = send(ini, res, qm(3), MID, ExchangeType.QUICK_MODE)   # and QM3 still chains from QM2
    assert got == qm(3)


def test_exchanges_in_flight_do_not_disturb_each_other():
    ini, res = peers()
    send(ini, res, mm5())
    send(res, ini, mm6())
    ini.finish_phase1()
    res.finish_phase1()
    send(ini, res, qm(1), 1, ExchangeType.QUICK_MODE)
    send(res, ini, qm(1), 2, ExchangeType.QUICK_MODE)              # the responder starts its own
    info = [OpaquePayload(PayloadType.HASH, bytes(20)), NotifyPayload(NotifyType.R_U_THERE, spi=CKY_I + CKY_R)]
    send(ini, res, info, 3, ExchangeType.INFORMATIONAL)
    send(res, ini, qm(2), 1, ExchangeType.QUICK_MODE)
    send(ini, res, qm(2), 2, ExchangeType.QUICK_MODE)
    send(ini, res, qm(3), 1, ExchangeType.QUICK_MODE)
    send(res, ini, qm(3), 2, ExchangeType.QUICK_MODE)


def test_garbage_is_a_typed_error_and_the_chain_does_not_move():
    ini, res = peers()
    wire = ini.seal(message(mm5()))
    good = isakmp.decode(wire)
    for encrypted in (os.urandom(80), os.urandom(79), b"", good.encrypted[:-1]):
        bad = message([])
        bad.flags, bad.encrypted, bad.next_payload = FLAG_ENCRYPTION, encrypted, PayloadType.ID
        with pytest.raises(IsakmpDecodeError):
            res.open(bad)
    assert res.open(good)[0] == mm5()


def test_refusals_not_encrypted_other_cookies_bad_padding():
    ini, res = peers()
    with pytest.raises(IsakmpDecodeError, match="not encrypted"):
        res.open(isakmp.decode(isakmp.encode(message(mm5()))))
    other = isakmp.decode(peers()[0].seal(message(mm5())))
    other.rcookie = bytes(8)
    with pytest.raises(IsakmpDecodeError, match="cookies"):
        res.open(other)
    # A plaintext with two blocks after the chain: no RFC 2409 sender pads like that.
    chain = isakmp.encode_payloads(mm6())                      # 36 bytes
    plain = chain + bytes(60 - 36 + 16) + b"\x00" * 3 + b"\x2a"
    assert len(plain) % 16 == 0
    enc = Cipher(algorithms.AES(ini.keys.enc_key), modes.CBC(ini.iv)).encryptor()
    padded = isakmp.IsakmpMessage(CKY_I, CKY_R, ExchangeType.MAIN_MODE, FLAG_ENCRYPTION,
                                  next_payload=PayloadType.ID, encrypted=enc.update(plain) + enc.finalize())
    with pytest.raises(IsakmpDecodeError, match="padding"):
        res.open(isakmp.decode(isakmp.encode(padded)))
    assert res.open(isakmp.decode(ini.seal(message(mm5()))))[0] == mm5()   # chain untouched by the refusal


def test_padding_content_is_not_interpreted():
    """A sender that pads with random bytes (up to a block) still opens: only the
    length of the padding is checked, its content is covered by nothing."""
    ini, res = peers()
    chain = isakmp.encode_payloads(mm6())
    plain = chain + os.urandom(12)
    enc = Cipher(algorithms.AES(ini.keys.enc_key), modes.CBC(ini.iv)).encryptor()
    msg = isakmp.IsakmpMessage(CKY_I, CKY_R, ExchangeType.MAIN_MODE, FLAG_ENCRYPTION,
                               next_payload=PayloadType.ID, encrypted=enc.update(plain) + enc.finalize())
    assert res.open(isakmp.decode(isakmp.encode(msg)))[0] == mm6()


def test_our_own_mistakes_are_value_errors():
    ini, _ = peers()
    with pytest.raises(ValueError):
        ini.seal(message([]))
    foreign = message(mm5())
    foreign.icookie = bytes(8)
    with pytest.raises(ValueError):
        ini.seal(foreign)
    ini.finish_phase1()
    with pytest.raises(ValueError):
        ini.seal(message(mm5()))
    with pytest.raises(IsakmpDecodeError, match="Phase 1 finished"):
        _, res = peers()
        res.finish_phase1()
        res.open(isakmp.decode(peers()[0].seal(message(mm5()))))


def test_old_exchanges_are_forgotten_but_main_mode_stays():
    ini, res = peers()
    send(ini, res, mm5())
    send(res, ini, mm6())
    ini.finish_phase1()
    res.finish_phase1()
    info = [OpaquePayload(PayloadType.HASH, bytes(20)), NotifyPayload(NotifyType.R_U_THERE, spi=CKY_I + CKY_R)]
    for mid in range(1, 3 * MAX_EXCHANGES):
        send(ini, res, info, mid, ExchangeType.INFORMATIONAL)
    assert len(res._exchanges) <= MAX_EXCHANGES and 0 in res._exchanges
    res.forget(3 * MAX_EXCHANGES - 1)
    assert 3 * MAX_EXCHANGES - 1 not in res._exchanges
