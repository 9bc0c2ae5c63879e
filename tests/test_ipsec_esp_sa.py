"""ESP SA behaviour: anti-replay, tampering, padding, truncation, sequence wrap, lifetimes,
counters, transforms and KEYMAT lengths.

Refusals are checked three ways each time: the `EspError` reason, the counter of that
name, and the replay window left exactly as it was (a refused packet must not move it).
"""

from __future__ import annotations

import hmac
import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dmvpnlab.ipsec.esp import (
    MAX_SEQ,
    NO_NEXT_HEADER,
    EspError,
    InboundSa,
    Lifetime,
    OutboundSa,
    SaExpired,
    SequenceOverflow,
)
from dmvpnlab.ipsec.esp_transforms import TransformError, key_lengths, parse_transform

SPI = 0x00C0FFEE
CBC_SHA = "esp-aes esp-sha-hmac"
SOME = [CBC_SHA, "esp-aes 256 esp-sha512-hmac", "esp-3des esp-md5-hmac", "esp-gcm", "esp-gcm 256",
        "esp-null esp-sha256-hmac", "esp-aes"]
#: With an ICV: tampering and truncation are always caught (esp-aes alone only by luck).
AUTHENTICATED = [w for w in SOME if w != "esp-aes"]


def pair(words: str = CBC_SHA, **inbound: object) -> tuple[OutboundSa, InboundSa]:
    transform = parse_transform(words)
    keymat = bytes(range(transform.key_lengths().total))
    return OutboundSa(transform, SPI, keymat), InboundSa(transform, SPI, keymat, **inbound)  # type: ignore[arg-type]


def refused(sa: InboundSa, packet: bytes) -> str:
    """Open `packet`, expecting a refusal that leaves the window alone; its reason."""
    window = sa.window.state() if sa.window else None
    before = sa.counters
    with pytest.raises(EspError) as info:
        sa.open(packet)
    reason = info.value.reason
    assert (sa.window.state() if sa.window else None) == window
    after = sa.counters
    assert getattr(after, reason) == getattr(before, reason) + 1
    assert after.pkts_decaps == before.pkts_decaps
    return reason


# -- anti-replay ----------------------------------------------------------------------

@pytest.mark.parametrize("words", AUTHENTICATED)
def test_duplicate_refused_and_counted(words):
    out, inbound = pair(words)
    packet = out.seal(b"gre")
    assert inbound.open(packet).payload == b"gre"
    assert refused(inbound, packet) == "replay_failed"
    assert inbound.counters.replay_failed == 1


def test_out_of_order_within_the_window_accepted_once():
    out, inbound = pair()
    packets = [out.seal(bytes([i])) for i in range(1, 65)]
    order = list(range(64))
    random.Random(7).shuffle(order)
    for i in order:
        assert inbound.open(packets[i]).seq == i + 1
    for i in order[:5]:
        assert refused(inbound, packets[i]) == "replay_failed"
    assert inbound.counters.pkts_decaps == 64


def test_too_old_refused_at_the_left_edge():
    out, inbound = pair()
    packets = [out.seal(b"x") for _ in range(70)]  # seq 1..70
    inbound.open(packets[69])  # top 70: window 7..70
    assert inbound.window.lowest == 7
    assert inbound.open(packets[6]).seq == 7
    with pytest.raises(EspError, match="too old"):
        inbound.open(packets[5])
    assert inbound.counters.replay_failed == 1


def test_a_forged_high_sequence_number_does_not_move_the_window():
    """RFC 4303 3.4.3: the window moves only after the ICV verified."""
    out, inbound = pair()
    early = out.seal(b"early")
    out.seq = 10_000
    late = bytearray(out.seal(b"late"))
    late[-1] ^= 1
    assert refused(inbound, bytes(late)) == "verify_failed"
    assert inbound.open(early).seq == 1


def test_sequence_number_zero_refused():
    out, inbound = pair("esp-null esp-sha-hmac")
    out.seq = -1  # the next one sealed carries 0, which no sender may send
    assert refused(inbound, out.seal(b"zero")) == "replay_failed"


def test_replay_window_disabled_accepts_duplicates():
    out, inbound = pair(replay_window=None)
    packet = out.seal(b"again")
    assert inbound.open(packet).payload == inbound.open(packet).payload == b"again"


def test_a_larger_window_reaches_further_back():
    out, inbound = pair(replay_window=1024)
    packets = [out.seal(b"") for _ in range(1000)]
    inbound.open(packets[-1])
    assert inbound.open(packets[0]).seq == 1


# -- tampering, padding, truncation ---------------------------------------------------

@pytest.mark.parametrize("words", AUTHENTICATED)
def test_every_flipped_bit_is_refused(words):
    """One bit flipped anywhere: the SPI is someone else's, anything else fails the ICV
    (or, in the sequence number, may look like a replay). Nothing gets through."""
    out, inbound = pair(words)
    packet = out.seal(b"\x00\x00\x08\x00" + bytes(range(60)))
    rng = random.Random(3)
    for pos in range(len(packet)):
        bad = bytearray(packet)
        bad[pos] ^= 1 << rng.randrange(8)
        reason = refused(inbound, bytes(bad))
        expected = {"invalid_sa"} if pos < 4 else {"verify_failed", "replay_failed"} if pos < 8 else {"verify_failed"}
        assert reason in expected, (pos, reason)
    assert inbound.open(packet).payload.endswith(bytes(range(60)))
    assert inbound.counters.verify_failed >= len(packet) - 8


def _cbc_sha1_packet(keymat: bytes, seq: int, plaintext: bytes) -> bytes:
    """An authentic esp-aes esp-sha-hmac packet around any plaintext (padding included),
    built straight from the primitives, to hand the SA packets with wrong padding."""
    enc_key, auth_key = keymat[:16], keymat[16:36]
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    body = SPI.to_bytes(4, "big") + seq.to_bytes(4, "big") + iv + encryptor.update(plaintext) + encryptor.finalize()
    return body + hmac.digest(auth_key, body, "sha1")[:12]


@pytest.mark.parametrize("trailer", [
    b"\x01\x03\x02\x2f",  # pad bytes not 1, 2
    b"\x00\x00\x02\x2f",  # zero padding
    b"\x01\x02\x10\x2f",  # pad length 16 > the 14 bytes before it
    b"\x01\x02\xff\x2f",  # pad length 255
])
def test_authentic_packet_with_bad_padding_refused(trailer):
    out, inbound = pair()
    keymat = bytes(range(36))
    packet = _cbc_sha1_packet(keymat, 1, b"\x00" * 12 + trailer)
    assert refused(inbound, packet) == "bad_padding"
    good = _cbc_sha1_packet(keymat, 1, b"\x00" * 12 + b"\x01\x02\x02\x2f")
    assert inbound.open(good) == (b"\x00" * 12, 0x2F, 1)


def test_gcm_packet_with_bad_padding_refused():
    out, inbound = pair("esp-gcm")
    keymat = bytes(range(20))
    aead, salt = AESGCM(keymat[:16]), keymat[16:]
    head = SPI.to_bytes(4, "big") + (1).to_bytes(4, "big")
    iv = bytes(8)
    packet = head + iv + aead.encrypt(salt + iv, b"abcd\x01\x01\x02\x2f", head)
    assert refused(inbound, packet) == "bad_padding"


def test_padding_aligns_to_the_block_and_four_bytes():
    for words, align in (("esp-aes esp-sha-hmac", 16), ("esp-3des esp-sha-hmac", 8), ("esp-gcm", 4),
                         ("esp-null esp-sha-hmac", 4)):
        out, _ = pair(words)
        transform = out.transform
        for size in range(40):
            packet = out.seal(bytes(size))
            body = len(packet) - 8 - transform.encryption.iv_size - transform.icv_size
            assert body % align == 0 and size + 2 <= body < size + 2 + align


@pytest.mark.parametrize("words", AUTHENTICATED)
def test_every_truncation_refused(words):
    out, inbound = pair(words)
    packet = out.seal(b"\x00" * 40)
    for cut in range(len(packet)):
        assert refused(inbound, packet[:cut]) in ("invalid_len", "verify_failed", "invalid_sa", "bad_padding")
    assert inbound.open(packet).payload == b"\x00" * 40


def test_without_integrity_a_tampered_packet_is_caught_only_by_padding():
    """esp-aes alone (IOS allows it) has no ICV: flipping the last block garbles the
    trailer, which the padding check refuses; the data blocks are not protected."""
    out, inbound = pair("esp-aes")
    packet = bytearray(out.seal(b"\x00" * 30))  # 30 + pad 0 + 2 = 32: trailer in block 2
    packet[8 + 16 + 5] ^= 0xFF  # first ciphertext block: garbles data, not the trailer
    assert inbound.open(bytes(packet)).payload != b"\x00" * 30
    # A fixed IV makes the garbled trailer fixed: with a random one, 1 packet in 256
    # garbles the pad length into 0, which no padding check can refuse.
    fixed = OutboundSa(parse_transform("esp-aes"), SPI, bytes(range(16)), iv_source=lambda: bytes(16))
    packet = bytearray(fixed.seal(b"\x00" * 30))
    packet[-1] ^= 0x80
    assert refused(inbound, bytes(packet)) == "bad_padding"


def test_random_garbage_raises_only_esp_error():
    rng = random.Random(11)
    for words in SOME:
        out, inbound = pair(words)
        for _ in range(300):
            data = SPI.to_bytes(4, "big") + rng.randbytes(rng.randrange(0, 120))
            with pytest.raises(EspError):
                inbound.open(data)
        assert inbound.window is None or inbound.window.state() == (0, 0)


def test_without_integrity_there_is_no_replay_window():
    """Regression (fuzz target esp-roundtrip): under esp-aes alone a bit flipped in the
    sequence number was accepted (nothing authenticates it), slid the window 2^28 ahead,
    and every genuine packet after it was refused as too old: one corrupted packet
    killed the SA. RFC 4303 3.4.3 ties anti-replay to integrity; IOS shows such an SA
    with "replay detection support: N"."""
    out, inbound = pair("esp-aes", replay_window=64)
    assert inbound.window is None and not inbound.replay_detection
    first = out.seal(b"\x00" * 30)
    corrupted = bytearray(out.seal(b"\x00" * 30))
    corrupted[4] ^= 0x10  # sequence number 2 -> 268435458
    assert inbound.open(bytes(corrupted)).seq == 0x10000002
    assert inbound.open(first).seq == 1
    assert inbound.open(out.seal(b"\x00" * 30)).seq == 3
    assert pair(CBC_SHA)[1].replay_detection


def test_dummy_packets_are_returned_for_the_caller_to_drop():
    out, inbound = pair()
    opened = inbound.open(out.seal(b"", NO_NEXT_HEADER))
    assert opened.next_header == NO_NEXT_HEADER and inbound.window.top == 1


# -- sequence numbers and lifetimes ---------------------------------------------------

def test_sequence_number_never_wraps():
    out, inbound = pair()
    out.seq = MAX_SEQ - 1
    assert out.needs_rekey
    last = out.seal(b"last")
    assert inbound.open(last).seq == MAX_SEQ
    with pytest.raises(SequenceOverflow) as info:
        out.seal(b"one more")
    assert info.value.reason == "replay_rollover"
    assert out.seq == MAX_SEQ and out.counters.replay_rollover == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lifetime_in_seconds_soft_then_hard():
    clock = FakeClock()
    transform = parse_transform(CBC_SHA)
    keymat = bytes(36)
    out = OutboundSa(transform, SPI, keymat, clock=clock)
    inbound = InboundSa(transform, SPI, keymat, clock=clock)
    assert out.state == "active" and out.remaining() == (4_608_000, 3600)
    clock.now += 3239
    assert not out.needs_rekey
    clock.now += 2  # past 90% of 3600 s
    assert out.needs_rekey and out.state == "rekey" and not out.expired
    packet = out.seal(b"still carried")
    clock.now += 360
    assert out.expired and out.state == inbound.state == "expired" and out.remaining()[1] == 0
    with pytest.raises(SaExpired) as info:
        out.seal(b"too late")
    assert info.value.reason == "expired"
    assert refused(inbound, packet) == "expired"


def test_lifetime_in_kilobytes_soft_then_hard():
    out, _ = pair()
    transform = out.transform
    out = OutboundSa(transform, SPI, bytes(36), lifetime=Lifetime(seconds=3600, kilobytes=10))
    for _ in range(9):
        out.seal(bytes(1000))
    assert out.state == "active" and out.remaining()[0] == 1  # 10240 - 9000 bytes
    out.seal(bytes(300))
    assert out.state == "rekey"
    out.seal(bytes(1000))
    assert out.expired
    with pytest.raises(SaExpired):
        out.seal(b"")


def test_counters_as_show_crypto_ipsec_sa_counts_them():
    out, inbound = pair()
    for _ in range(3):
        inbound.open(out.seal(b"abc"))
    c_out, c_in = out.counters, inbound.counters
    assert (c_out.pkts_encaps, c_out.pkts_encrypt, c_out.pkts_digest) == (3, 3, 3)
    assert (c_in.pkts_decaps, c_in.pkts_decrypt, c_in.pkts_verify) == (3, 3, 3)
    assert c_in.bytes == c_out.bytes == 9
    auth_only, _ = pair("esp-sha-hmac")
    auth_only.seal(b"")
    assert (auth_only.counters.pkts_encrypt, auth_only.counters.pkts_digest) == (0, 1)
    no_icv, _ = pair("esp-aes")
    no_icv.seal(b"")
    assert (no_icv.counters.pkts_encrypt, no_icv.counters.pkts_digest) == (1, 0)
    assert set(inbound.counters.as_dict()) >= {"replay_failed", "verify_failed", "invalid_len", "invalid_sa"}


def test_repr_shows_no_key():
    transform = parse_transform(CBC_SHA)
    keymat = bytes(range(100, 136))
    text = repr(OutboundSa(transform, SPI, keymat))
    assert keymat.hex() not in text and "0x00c0ffee" in text


# -- transforms and KEYMAT ------------------------------------------------------------

@pytest.mark.parametrize("words,lengths,icv", [
    ("esp-aes esp-sha-hmac", (16, 20), 12),
    ("esp-aes 192 esp-sha256-hmac", (24, 32), 16),
    ("esp-aes 256 esp-sha384-hmac", (32, 48), 24),
    ("esp-3des esp-sha512-hmac", (24, 64), 32),
    ("esp-3des esp-md5-hmac", (24, 16), 12),
    ("esp-gcm", (20, 0), 16),  # IOS default 128 + 4 bytes of salt
    ("esp-gcm 256", (36, 0), 16),
    ("esp-sha-hmac", (0, 20), 12),
    ("esp-null esp-sha256-hmac", (0, 32), 16),
    ("esp-aes", (16, 0), 0),
])
def test_key_lengths_encryption_first(words, lengths, icv):
    assert key_lengths(words) == lengths
    transform = parse_transform(words)
    assert transform.icv_size == icv
    keymat = bytes(range(sum(lengths)))
    assert transform.split_keymat(keymat) == (keymat[:lengths[0]], keymat[lengths[0]:])


def test_transforms_as_the_config_model_stores_them():
    transform = parse_transform(["esp-aes 256", "esp-sha256-hmac"])
    assert transform.ios_words == "esp-aes 256 esp-sha256-hmac"
    assert transform.show_name == "esp-256-aes esp-sha256-hmac"
    assert parse_transform("ESP-SHA-HMAC esp-aes").ios_words == "esp-aes 128 esp-sha-hmac"
    assert parse_transform("esp-aes").show_name == "esp-aes"
    assert parse_transform("esp-gcm 256").encryption.key_bits == 256


@pytest.mark.parametrize("words", ["esp-gcm esp-sha-hmac", "esp-aes esp-3des", "esp-sha-hmac esp-md5-hmac",
                                   "esp-aes 512", "esp-gmac", "esp-des", "ah-sha-hmac", "esp-foo", "", "esp-aes ²"])
def test_transform_sets_refused(words):
    with pytest.raises(TransformError):
        parse_transform(words)


def test_keys_of_the_wrong_length_refused():
    transform = parse_transform(CBC_SHA)
    with pytest.raises(TransformError):
        transform.split_keymat(bytes(35))
    with pytest.raises(ValueError):
        OutboundSa(transform, 255, bytes(36))  # SPIs 0-255 are reserved
    with pytest.raises(ValueError):
        InboundSa(transform, SPI, bytes(36), mode="beet")  # type: ignore[arg-type]


def test_max_overhead_bounds_every_packet():
    for words in SOME:
        out, _ = pair(words)
        worst = max(len(out.seal(bytes(n))) - n for n in range(64))
        assert worst <= out.transform.max_overhead()


def test_ikev1_numbers_of_the_integrity_transforms_are_scapys():
    """The Authentication Algorithm attribute values (RFC 2407 4.5, RFC 4868 2.4), against
    scapy's ISAKMP tables; ESP transform IDs are IANA's (3DES 3, NULL 11, AES 12, GCM-16 20)."""
    from scapy.layers.isakmp import IPSECAttributeTypes

    names = IPSECAttributeTypes["AuthenticationAlgorithm"][1]
    expected = {"esp-md5-hmac": "HMAC-MD5", "esp-sha-hmac": "HMAC-SHA", "esp-sha256-hmac": "HMAC-SHA2-256",
                "esp-sha384-hmac": "HMAC-SHA2-384", "esp-sha512-hmac": "HMAC-SHA2-512"}
    for ios, scapy_name in expected.items():
        assert parse_transform(ios).integrity.ikev1_id == names[scapy_name]
    assert [parse_transform(w).encryption.ikev1_id for w in ("esp-3des", "esp-null", "esp-aes 256", "esp-gcm")] \
        == [3, 11, 12, 20]
