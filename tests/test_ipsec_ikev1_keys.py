"""IKEv1 key math (RFC 2409 5, 5.5, appendix B) against published vectors and against
the formulas recomputed here with the standard library's hmac/hashlib (an implementation
independent of the `cryptography` calls the module makes)."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from dmvpnlab.ipsec import ikev1_keys as keys
from dmvpnlab.ipsec.isakmp_const import HashAlgorithm, ProtocolId

H = bytes.fromhex
STDLIB = {HashAlgorithm.MD5: "md5", HashAlgorithm.SHA: "sha1", HashAlgorithm.SHA2_256: "sha256",
          HashAlgorithm.SHA2_384: "sha384", HashAlgorithm.SHA2_512: "sha512"}


def ref_prf(alg: int, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, STDLIB[alg]).digest()


# --- NIST CAVP SP 800-135 IKEv1 KDF sample vectors ---------------------------------------
# Public domain (NIST). Transcribed from the "NIST samples" block of NSS's
# gtests/common/testvectors/ike-sha{1,256,384,512}-vectors.h (cases 1-5 of each file).
# Case 5 is the pre-shared-key SKEYID; cases 2-4 chain SKEYID_d -> _a -> _e from the
# SKEYID and g^xy of case 1 (a signature-auth case: SKEYID = prf(Ni | Nr, g^xy)), with
# their own cookies.
PSK_SKEYID = [  # (hash, psk, Ni, Nr, SKEYID)
    (HashAlgorithm.SHA, "c0", "03a6f25a83c8c2a3", "9d958a6618f77e7f", "ab3be41bc62f2ef0c41a3076d58768be77fadd2e"),
    (HashAlgorithm.SHA2_256, "a0", "ead9ced494868f41", "f1aff4f425a94f18",
     "558a99b299773d267cf7c8ef073bf3b7af362c206c75a538403c5ef884d4cace"),
    (HashAlgorithm.SHA2_384, "9e", "d6596b7e5b398534", "136fbdfa8d0ceb8e",
     "b54fa27cb4251051e44a659d73591845691d11f1874bf4e4088e5df6462d28e57a3a2af3ab4f9b746a8f5766f8785f2b"),
]

SIG_SKEYID = [  # (hash, g^xy, Ni, Nr, SKEYID): case 1
    (HashAlgorithm.SHA, "8ba4cbc73c0187301dc19a975823854dbd641c597f637f8d053a83b9514673eb",
     "69a62284195f1680", "80c94ba25c8abda5", "707197817fb2d90cf54d1842606bdea59b9f4823"),
    (HashAlgorithm.SHA2_384, "1724dbd893523764bfef8c6fa927856fccfb77ae254358cce29c2769a32915c1",
     "cec89d845add83ef", "cebd43ab71d17db9",
     "6e4514610bf82d0ab7bf0260096f6146a153c712071abb633ced813c572156c783e36874a65a64690ca701d40d56ea18"),
    (HashAlgorithm.SHA2_512, "b15a9cfce8c8d7eab879d6243029d40188d3b740875a6ac62f56cac4377e2edd",
     "acadc6314a69cfcd", "4e4ad17718fea7ce",
     "f05aa036dfce45a558d40418dea98096e519bc7841e3db3dd93658d118c3e83b502f398ecb1361ec77d38a8855efff40"
     "7f6f772e5d65b58eb1134096e8478d2b"),
]

DAE = [  # (hash, SKEYID, g^xy, CKY-I, CKY-R, SKEYID_d, SKEYID_a, SKEYID_e): cases 2-4
    (HashAlgorithm.SHA, "707197817fb2d90cf54d1842606bdea59b9f4823",
     "8ba4cbc73c0187301dc19a975823854dbd641c597f637f8d053a83b9514673eb", "8c3bcd3a69831d7f", "d2d9a7ff4fbe95a7",
     "384be709a8a5e63c3ed160cfe3921c4b37d5b32d", "48b327575abe3adba0f279849e289022a13e2b47",
     "a4a415c8e0c38c0da847c356cc61c24df8025560"),
    (HashAlgorithm.SHA2_256, "750c5c94b9c2ec20b68033e024dadf0fa87e8b48c6561b21c72478451a06583d",
     "a1ff3dc6cf9b4c04709943cb4ca1f1789bcf360b03f1d027de3ae8ee039e9155", "6c6beb72631ddc3d", "b84e24b22cffbd14",
     "a4f7ca7de913814813e3312099e7c943bd293483f387532330237f1b20957310",
     "1d4b705746c43b0a6fcbb8db33983c0f24ff6f8b6543e3779fed227c6067f004",
     "03e6f16cd9ce9f64b5cdc5b34cca7163483ba5389a30afebef3d14640b0a815e"),
    (HashAlgorithm.SHA2_384,
     "6e4514610bf82d0ab7bf0260096f6146a153c712071abb633ced813c572156c783e36874a65a64690ca701d40d56ea18",
     "1724dbd893523764bfef8c6fa927856fccfb77ae254358cce29c2769a32915c1", "1c8aba986a00af0f", "b049d9672f73c920",
     "b083234e9ed7745911f93eb31faa66fcf88906266830eb17ef166d295cb1f86a3543b8b8efa5df918533df537e9c809c",
     "938295a374aceb4147a8024c9a007dd313403fd8fd7070dbd0cfbe1ccd308dbfbb7b9e9c64049e4df44ff551016cb7b5",
     "8595b249dc1fa8599729f87eb6b9dd13bfbfdfd4f9ebd78929bab6ecc402539ad32cb6e7ef4ba6a0f53da14e4df07ed4"),
]

SHA512_SKEYID_D = (  # case 2 of the SHA-512 file (SKEYID from case 1 above)
    "f05aa036dfce45a558d40418dea98096e519bc7841e3db3dd93658d118c3e83b502f398ecb1361ec77d38a8855efff40"
    "7f6f772e5d65b58eb1134096e8478d2b",
    "b15a9cfce8c8d7eab879d6243029d40188d3b740875a6ac62f56cac4377e2edd", "1ff4d76565b3151a", "1f11b8eb20d57a16",
    "3c4be16a631aa49018fa6740745a61ab1f1a2455a96e91f159a134ccfe30303d68721696195e95bfd530510ef2f95324"
    "91878710944db7854f00ad13c68fca01")


@pytest.mark.parametrize("alg,psk,ni,nr,want", PSK_SKEYID)
def test_nist_psk_skeyid(alg, psk, ni, nr, want):
    assert keys.skeyid_psk(alg, H(psk), H(ni), H(nr)) == H(want)


@pytest.mark.parametrize("alg,gxy,ni,nr,want", SIG_SKEYID)
def test_nist_signature_skeyid_checks_the_prf(alg, gxy, ni, nr, want):
    assert keys.prf(alg, H(ni) + H(nr), H(gxy)) == H(want)


@pytest.mark.parametrize("alg,skeyid,gxy,cky_i,cky_r,d,a,e", DAE)
def test_nist_skeyid_d_a_e(alg, skeyid, gxy, cky_i, cky_r, d, a, e):
    assert keys.skeyid_dae(alg, H(skeyid), H(gxy), H(cky_i), H(cky_r)) == (H(d), H(a), H(e))


def test_nist_sha512_skeyid_d():
    skeyid, gxy, cky_i, cky_r, want = SHA512_SKEYID_D
    assert keys.skeyid_dae(HashAlgorithm.SHA2_512, H(skeyid), H(gxy), H(cky_i), H(cky_r))[0] == H(want)


# --- appendix B expansion and KEYMAT, cross-checked with NSS ------------------------------
# NSS's own vectors ("self-generated", same files, cases 11-16): a second implementation
# of RFC 2409 appendix B (key = SKEYID_e) and of the Quick Mode style expansion
# (Kn+1 = prf(K, Kn | seed), here with the one-byte seed 0x00).
SHA1_KEY = "63e81194946ebd05df7df5ebf5d8750056bf1f1d"
SHA256_KEY = "5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe"
SHA256_APPENDIX_B_132 = (
    "b10fff32cbeaa1e7afe6ab0b191e0bd63cd524849a4b56019146d232a24cf9af6b89494d2a360b06825db8bb0324c15cecf47fc0bc99"
    "e39bf1171a7f4bf1733dc49ef64c642e73b054b2e82456e34fa3c822da475e27e403b3da3929da50e6aa9e7f9252c68fa069b4b0edd3"
    "74e80d35378c4f5e8ec285a1b169c92bbb5353d05ba94165")
SHA256_QUICK_132 = (
    "b10fff32cbeaa1e7afe6ab0b191e0bd63cd524849a4b56019146d232a24cf9af59f18ed9aabbb2dbbafecf48d72a34a8f72fab2ff4f3"
    "7e5c917288a78ce00933612e9531a7469995c7f7cc33c7627cac3efbc819330c4fe3bfa3788799630f37bcb74800d82bbebd17b190"
    "6e304a786f4f810c266c15be1a30576039c293272748d65966")


def test_appendix_b_expansion_matches_nss():
    assert keys.expand_key(HashAlgorithm.SHA, H(SHA1_KEY), 40) == H(
        "933347a07de5782247dd36d1562ffe0eecade1eb4134165257e3af1000af8ae3f165063828cbb60d")
    assert keys.expand_key(HashAlgorithm.SHA2_256, H(SHA256_KEY), 132) == H(SHA256_APPENDIX_B_132)
    # Long enough already: the leftmost bytes, no expansion (NSS cases 12/13).
    assert keys.expand_key(HashAlgorithm.SHA2_256, H(SHA256_KEY), 32) == H(SHA256_KEY)
    assert keys.expand_key(HashAlgorithm.SHA, H(SHA1_KEY), 15) == H(SHA1_KEY)[:15]


def test_keymat_expansion_matches_nss():
    # protocol byte 0, empty SPI and nonces: the seed is the single byte 0x00 of NSS's cases.
    assert keys.keymat(HashAlgorithm.SHA, H(SHA1_KEY), 0, b"", b"", b"", 40) == H(
        "933347a07de5782247dd36d1562ffe0eecade1ebaeaa476a5f578c34a9b2b7101a621202f61db924")
    assert keys.keymat(HashAlgorithm.SHA2_256, H(SHA256_KEY), 0, b"", b"", b"", 132) == H(SHA256_QUICK_132)


# --- the formulas, recomputed here ------------------------------------------------------
NI, NR = bytes(range(1, 21)), bytes(range(100, 132))
CKY_I, CKY_R = H("e47a591fd057587f"), H("a00b8ef0902bb8ec")
GXI, GXR, GXY = b"\x01" * 128, b"\x00\x02" * 64, b"\x00" + b"\x03" * 127    # leading zero kept
SAI_B = H("00000001000000010000002c01010001")
IDII_B, IDIR_B = H("011101f4c0a80c01"), H("011101f4c0a80c02")


@pytest.mark.parametrize("alg", list(STDLIB))
def test_phase1_derivation(alg):
    psk = b"cisco123"
    got = keys.derive_phase1(alg, psk, NI, NR, GXY, CKY_I, CKY_R, 32)
    skeyid = ref_prf(alg, psk, NI + NR)
    d = ref_prf(alg, skeyid, GXY + CKY_I + CKY_R + b"\x00")
    a = ref_prf(alg, skeyid, d + GXY + CKY_I + CKY_R + b"\x01")
    e = ref_prf(alg, skeyid, a + GXY + CKY_I + CKY_R + b"\x02")
    assert (got.skeyid, got.skeyid_d, got.skeyid_a, got.skeyid_e) == (skeyid, d, a, e)
    if len(e) >= 32:
        assert got.enc_key == e[:32]
    else:                       # AES-256 under MD5 or SHA-1: appendix B
        k1 = ref_prf(alg, e, b"\x00")
        k2 = ref_prf(alg, e, k1)
        assert got.enc_key == (k1 + k2)[:32]
    assert keys.hash_size(alg) == len(skeyid)


@pytest.mark.parametrize("alg", [HashAlgorithm.SHA, HashAlgorithm.SHA2_256])
def test_main_mode_hashes_and_ivs(alg):
    skeyid = ref_prf(alg, b"psk", NI + NR)
    assert keys.hash_i(alg, skeyid, GXI, GXR, CKY_I, CKY_R, SAI_B, IDII_B) == \
        ref_prf(alg, skeyid, GXI + GXR + CKY_I + CKY_R + SAI_B + IDII_B)
    assert keys.hash_r(alg, skeyid, GXI, GXR, CKY_I, CKY_R, SAI_B, IDIR_B) == \
        ref_prf(alg, skeyid, GXR + GXI + CKY_R + CKY_I + SAI_B + IDIR_B)
    assert keys.phase1_iv(alg, GXI, GXR, 16) == hashlib.new(STDLIB[alg], GXI + GXR).digest()[:16]
    last = bytes(range(16))
    assert keys.phase2_iv(alg, last, 0x635A2E6A, 16) == \
        hashlib.new(STDLIB[alg], last + H("635a2e6a")).digest()[:16]
    assert keys.phase2_iv(alg, last[:8], 1, 8) == hashlib.new(STDLIB[alg], last[:8] + H("00000001")).digest()[:8]


def test_quick_mode_hashes():
    alg, skeyid_a, mid = HashAlgorithm.SHA, b"\x0a" * 20, 0x635A2E6A
    rest = b"SA|Ni|IDci|IDcr payloads with their headers"
    assert keys.hash1(alg, skeyid_a, mid, rest) == ref_prf(alg, skeyid_a, H("635a2e6a") + rest)
    assert keys.hash2(alg, skeyid_a, mid, NI, rest) == ref_prf(alg, skeyid_a, H("635a2e6a") + NI + rest)
    assert keys.hash3(alg, skeyid_a, mid, NI, NR) == ref_prf(alg, skeyid_a, b"\x00" + H("635a2e6a") + NI + NR)


@pytest.mark.parametrize("pfs", [b"", b"\x00\x07" * 64])
@pytest.mark.parametrize("length", [16, 20, 36, 64, 100])
def test_keymat(pfs, length):
    alg, skeyid_d, spi = HashAlgorithm.SHA, b"\x0d" * 20, H("1150fd74")
    seed = pfs + bytes([ProtocolId.IPSEC_ESP]) + spi + NI + NR
    blocks = [ref_prf(alg, skeyid_d, seed)]
    while sum(map(len, blocks)) < length:
        blocks.append(ref_prf(alg, skeyid_d, blocks[-1] + seed))
    want = b"".join(blocks)[:length]
    assert keys.keymat(alg, skeyid_d, ProtocolId.IPSEC_ESP, spi, NI, NR, length, gqm_xy=pfs) == want


def test_natd_hash():
    want = hashlib.sha1(CKY_I + CKY_R + bytes([192, 168, 12, 2]) + struct.pack("!H", 500)).digest()
    assert keys.natd_hash(HashAlgorithm.SHA, CKY_I, CKY_R, bytes([192, 168, 12, 2]), 500) == want


def test_unsupported_hash_is_a_value_error():
    with pytest.raises(ValueError):
        keys.prf(HashAlgorithm.TIGER, b"k", b"d")
    with pytest.raises(ValueError):
        keys.hash_size(99)
