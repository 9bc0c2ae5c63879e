"""Diffie-Hellman groups: the constants are the published groups, both sides agree,
values keep the group's full length, hostile peer values are refused, and the RFC 5903
ECP vectors hold."""

from __future__ import annotations

import random

import pytest

from dmvpnlab.ipsec import dh
from dmvpnlab.ipsec.isakmp_const import GroupDescription

IOS_GROUPS = [1, 2, 5, 14, 15, 16, 19, 20, 24]
SIZES = {1: 96, 2: 128, 5: 192, 14: 256, 15: 384, 16: 512, 24: 256, 19: 64, 20: 96}


def pi_scaled(bits: int) -> int:
    """floor(pi * 2^bits) by Machin's formula in integers (no float anywhere)."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> guard


def is_probable_prime(n: int, rounds: int = 12) -> bool:
    if n < 4:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    rng = random.Random(n)
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


# RFC 2409 6.1/6.2 and RFC 3526: p = 2^N - 2^(N-64) - 1 + 2^64 * (floor(2^(N-130) pi) + k).
MODP_FORMULA = {1: (768, 149686), 2: (1024, 129093), 5: (1536, 741804), 14: (2048, 124476),
                15: (3072, 1690314), 16: (4096, 240904)}


@pytest.mark.parametrize("number", sorted(MODP_FORMULA))
def test_modp_primes_are_the_published_safe_primes(number):
    bits, k = MODP_FORMULA[number]
    p = 2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * (pi_scaled(bits - 130) + k)
    group = dh.group(number)
    assert group.p == p and group.g == 2 and group.q is None
    # One Miller-Rabin round each: a mistyped constant fails it all but surely, and the
    # 4096-bit group costs a second per round in pure Python.
    assert is_probable_prime(p, 1) and is_probable_prime((p - 1) // 2, 1)


def test_modp_primes_as_the_rfcs_print_them():
    """Spot checks against the printed hex: all of RFC 2409 6.2's group 2, RFC 3526's tails."""
    assert format(dh.group(2).p, "X") == (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF")
    assert format(dh.group(14).p, "X").endswith("15728E5A8AACAA68FFFFFFFFFFFFFFFF")
    assert format(dh.group(1).p, "X").endswith("A63A3620FFFFFFFFFFFFFFFF")


def test_group_24_is_the_rfc_5114_subgroup():
    group = dh.group(GroupDescription.MODP_2048_S256)
    assert group.p.bit_length() == 2048 and group.q.bit_length() == 256
    assert hex(group.p).startswith("0x87a8e61db4b6663cffbbd19c65195999") and hex(group.p).endswith("1e1a1597")
    assert is_probable_prime(group.p, 1) and is_probable_prime(group.q)
    assert (group.p - 1) % group.q == 0 and pow(group.g, group.q, group.p) == 1 and group.g != 1


@pytest.mark.parametrize("number", IOS_GROUPS)
def test_both_sides_agree_at_full_length(number):
    group = dh.group(number)
    a, b = group.generate(), group.generate()
    assert len(a.public) == len(b.public) == SIZES[number] == group.size
    secret = a.shared_secret(b.public)
    assert secret == b.shared_secret(a.public)
    assert len(secret) == group.secret_size == (SIZES[number] // 2 if group.is_ecp else SIZES[number])


def test_leading_zeros_are_kept():
    group = dh.group(2)
    # Find a private value whose public value has a leading zero byte (about 1 in 256).
    x = next(x for x in range(2, 100000) if pow(2, x, group.p) < 1 << (8 * 127))
    pair = group.from_private(x)
    assert len(pair.public) == 128 and pair.public[0] == 0
    assert int.from_bytes(pair.public, "big") == pow(2, x, group.p)
    peer = group.generate()
    assert pair.shared_secret(peer.public) == peer.shared_secret(pair.public)
    assert int.from_bytes(pair.shared_secret(peer.public), "big") == pow(int.from_bytes(peer.public, "big"), x, group.p)


@pytest.mark.parametrize("number", [2, 14, 24])
def test_modp_without_cryptography_dh_gives_the_same_numbers(monkeypatch, number):
    """The pure-Python fallback (for a cryptography release without FFDH) and OpenSSL agree."""
    group = dh.group(number)
    openssl_pair = group.from_private(123456789)
    peer = group.generate()
    openssl_secret = openssl_pair.shared_secret(peer.public)
    monkeypatch.setattr(dh, "_ffdh", None)
    python_pair = group.from_private(123456789)
    assert python_pair.public == openssl_pair.public
    assert python_pair.shared_secret(peer.public) == openssl_secret
    fresh = group.generate()
    assert isinstance(fresh._private, int)
    assert fresh.shared_secret(python_pair.public) == python_pair.shared_secret(fresh.public)


@pytest.mark.parametrize("number", IOS_GROUPS)
def test_hostile_peer_values_are_value_errors(number):
    group = dh.group(number)
    pair = group.generate()
    bad = [b"", pair.public[:-1], pair.public + b"\x00", bytes(group.size)]
    if not group.is_ecp:
        bad += [(1).to_bytes(group.size, "big"), (group.p - 1).to_bytes(group.size, "big"),
                group.p.to_bytes(group.size, "big"), b"\xff" * group.size]
    else:
        bad += [pair.public[:-1] + bytes([pair.public[-1] ^ 1])]      # off the curve
    for value in bad:
        with pytest.raises(ValueError):
            pair.shared_secret(value)


def test_group_24_refuses_values_outside_the_subgroup():
    group = dh.group(24)
    # 2 generates far more than the order-q subgroup of this p.
    outside = (2).to_bytes(256, "big")
    assert pow(2, group.q, group.p) != 1
    with pytest.raises(ValueError):
        group.generate().shared_secret(outside)


def test_unsupported_groups():
    for number in (3, 4, 17, 21, 22, 99):
        with pytest.raises(ValueError):
            dh.group(number)
    with pytest.raises(ValueError):
        dh.group(2).from_private(1)


# RFC 5903 section 8.1 (256-bit random ECP group) and 8.2 (384-bit): i, g^i, r, g^r, g^ir
# (the shared secret is the x coordinate; public values are x | y, no 0x04 prefix).
RFC5903 = {
    19: dict(
        i="C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
        gi="DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
           "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
        r="C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
        gr="D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
           "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
        gir="D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"),
    20: dict(
        i="099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
        gi="667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA"
           "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
        r="41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
        gr="E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571"
           "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
        gir="11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"),
}


@pytest.mark.parametrize("number", sorted(RFC5903))
def test_rfc_5903_vectors(number):
    v = {k: bytes.fromhex(s) for k, s in RFC5903[number].items()}
    group = dh.group(number)
    initiator = group.from_private(int.from_bytes(v["i"], "big"))
    responder = group.from_private(int.from_bytes(v["r"], "big"))
    assert initiator.public == v["gi"] and responder.public == v["gr"]
    assert initiator.shared_secret(v["gr"]) == responder.shared_secret(v["gi"]) == v["gir"]
