"""Phase 1 CBC ciphers, and the pieces working together: two peers run the Main Mode
key math, one encrypts an MM5 the way IOS does, the other decrypts and decodes it."""

from __future__ import annotations

import pytest

from dmvpnlab.ipsec import dh, ike_cipher, isakmp
from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.isakmp import IdPayload, IsakmpMessage, NotifyPayload, OpaquePayload
from dmvpnlab.ipsec.isakmp_const import (
    FLAG_ENCRYPTION, EncryptionAlgorithm, ExchangeType, HashAlgorithm, NotifyType, PayloadType,
)

H = bytes.fromhex


def test_aes_known_answer():
    """NIST SP 800-38A F.2.1, CBC-AES128.Encrypt, first block."""
    spec = ike_cipher.cipher_spec(EncryptionAlgorithm.AES_CBC, 128)
    key, iv = H("2b7e151628aed2a6abf7158809cf4f3c"), H("000102030405060708090a0b0c0d0e0f")
    out = ike_cipher.encrypt(spec, key, iv, H("6bc1bee22e409f96e93d7e117393172a"))
    assert out == H("7649abac8119b246cee98e9b12e9197d")
    assert ike_cipher.decrypt(spec, key, iv, out) == H("6bc1bee22e409f96e93d7e117393172a")


def test_des_known_answer():
    """The classic DES example (key 133457799BBCDFF1): one block, zero IV = ECB."""
    spec = ike_cipher.cipher_spec(EncryptionAlgorithm.DES_CBC)
    out = ike_cipher.encrypt(spec, H("133457799bbcdff1"), bytes(8), H("0123456789abcdef"))
    assert out == H("85e813540f0ab405")


@pytest.mark.parametrize("encr,bits,key_size,block", [
    (EncryptionAlgorithm.AES_CBC, 128, 16, 16), (EncryptionAlgorithm.AES_CBC, 192, 24, 16),
    (EncryptionAlgorithm.AES_CBC, 256, 32, 16), (EncryptionAlgorithm.TRIPLE_DES_CBC, None, 24, 8),
    (EncryptionAlgorithm.DES_CBC, None, 8, 8),
])
def test_round_trip_and_sizes(encr, bits, key_size, block):
    spec = ike_cipher.cipher_spec(encr, bits)
    assert (spec.key_size, spec.block_size) == (key_size, block)
    key, iv = bytes(range(key_size)), bytes(range(100, 100 + block))
    plain = ike_cipher.pad(b"payloads" * 5, block)
    data = ike_cipher.encrypt(spec, key, iv, plain)
    assert len(data) == len(plain) and ike_cipher.decrypt(spec, key, iv, data) == plain
    assert ike_cipher.last_block(data, block) == data[-block:]


def test_padding_rule():
    assert ike_cipher.pad(bytes(36), 16) == bytes(36) + bytes(11) + b"\x0b"
    assert ike_cipher.pad(bytes(64), 16) == bytes(64) + bytes(15) + b"\x0f"     # always some padding
    assert ike_cipher.pad(bytes(15), 16) == bytes(15) + b"\x00"


def test_refusals_are_value_errors():
    for encr, bits in ((EncryptionAlgorithm.AES_CBC, None), (EncryptionAlgorithm.AES_CBC, 100),
                       (EncryptionAlgorithm.TRIPLE_DES_CBC, 192), (EncryptionAlgorithm.BLOWFISH_CBC, None)):
        with pytest.raises(ValueError):
            ike_cipher.cipher_spec(encr, bits)
    spec = ike_cipher.cipher_spec(EncryptionAlgorithm.AES_CBC, 128)
    for data in (b"", bytes(15), bytes(17)):
        with pytest.raises(ValueError):
            ike_cipher.decrypt(spec, bytes(16), bytes(16), data)
    with pytest.raises(ValueError):
        ike_cipher.encrypt(spec, bytes(16), bytes(16), bytes(5))
    with pytest.raises(ValueError):
        ike_cipher.encrypt(spec, bytes(15), bytes(16), bytes(16))
    with pytest.raises(ValueError):
        ike_cipher.last_block(bytes(3), 16)


@pytest.mark.parametrize("group_number,hash_alg,bits", [
    (2, HashAlgorithm.SHA, 128), (14, HashAlgorithm.SHA2_256, 256), (19, HashAlgorithm.SHA, 256),
])
def test_two_peers_protect_main_mode_message_5(group_number, hash_alg, bits):
    group = dh.group(group_number)
    cky_i, cky_r = H("e47a591fd057587f"), H("a00b8ef0902bb8ec")
    ni, nr = bytes(range(20)), bytes(range(20, 40))
    ini, res = group.generate(), group.generate()
    spec = ike_cipher.cipher_spec(EncryptionAlgorithm.AES_CBC, bits)
    psk = b"dmvpn-lab"
    k_i = keys.derive_phase1(hash_alg, psk, ni, nr, ini.shared_secret(res.public), cky_i, cky_r, spec.key_size)
    k_r = keys.derive_phase1(hash_alg, psk, ni, nr, res.shared_secret(ini.public), cky_i, cky_r, spec.key_size)
    assert k_i == k_r

    sai_b = bytes.fromhex("0000000100000001")
    ident = IdPayload.ipv4("192.168.12.1", 17, 500)
    proof = keys.hash_i(hash_alg, k_i.skeyid, ini.public, res.public, cky_i, cky_r, sai_b, ident.body())
    inner = [ident, OpaquePayload(PayloadType.HASH, proof),
             NotifyPayload(NotifyType.INITIAL_CONTACT, spi=cky_i + cky_r)]
    iv = keys.phase1_iv(hash_alg, ini.public, res.public, spec.block_size)
    body = ike_cipher.encrypt(spec, k_i.enc_key, iv,
                              ike_cipher.pad(isakmp.encode_payloads(inner), spec.block_size))
    wire = isakmp.encode(IsakmpMessage(cky_i, cky_r, ExchangeType.MAIN_MODE, FLAG_ENCRYPTION,
                                       next_payload=PayloadType.ID, encrypted=body))

    got = isakmp.decode(wire)
    iv_r = keys.phase1_iv(hash_alg, ini.public, res.public, spec.block_size)
    payloads, padding = isakmp.decode_payloads(got.next_payload,
                                               ike_cipher.decrypt(spec, k_r.enc_key, iv_r, got.encrypted))
    assert payloads == inner and len(padding) in range(1, spec.block_size + 1)
    assert payloads[1].data == keys.hash_i(hash_alg, k_r.skeyid, ini.public, res.public, cky_i, cky_r, sai_b,
                                           payloads[0].body())
    # The next message's IV chains from this one's last block; Quick Mode's from the last MM one.
    assert ike_cipher.last_block(got.encrypted, spec.block_size) == body[-spec.block_size:]
