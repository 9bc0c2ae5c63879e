"""ESP against an independent implementation: scapy's IPsec module, both ways, every transform.

Our `seal` -> scapy decrypts to the same payload; scapy encrypts -> our `open` gives the
payload. Transport mode is what DMVPN runs (GRE in ESP between the NBMA addresses), so
the packets are real GRE packets with an IPv4 header around the ESP, built here (our SA
builds no IP header; scapy needs one). Tunnel mode carries a whole inner IPv4 packet.
scapy is GPL: it is used by tests only, never imported from src/.

Other ESP behaviour (replay, tampering, padding, lifetimes) is in test_ipsec_esp_sa.py;
known-answer vectors in test_ipsec_esp_vectors.py.
"""

from __future__ import annotations

import os

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import GRE
from scapy.packet import Raw

from dmvpnlab.ipsec.esp import PROTO_GRE, PROTO_IPV4, InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import EspTransform, parse_transform

NBMA_A, NBMA_B = "192.168.123.1", "192.168.123.2"
SPI = 0x1150FD74

SCAPY_CIPHER = {"esp-aes": "AES-CBC", "esp-3des": "3DES", "esp-gcm": "AES-GCM", "esp-null": "NULL"}
SCAPY_AUTH = {"esp-sha-hmac": "HMAC-SHA1-96", "esp-sha256-hmac": "SHA2-256-128",
              "esp-sha384-hmac": "SHA2-384-192", "esp-sha512-hmac": "SHA2-512-256",
              "esp-md5-hmac": "HMAC-MD5-96"}

CBC = ["esp-aes", "esp-aes 192", "esp-aes 256", "esp-3des"]
HMACS = list(SCAPY_AUTH)
#: Every cipher with every HMAC and alone, GCM at each key size, NULL with every HMAC.
TRANSFORMS = ([f"{c} {h}" for c in CBC for h in HMACS] + CBC
              + ["esp-gcm", "esp-gcm 128", "esp-gcm 192", "esp-gcm 256"]
              + [f"esp-null {h}" for h in HMACS] + ["esp-sha-hmac"])


def keymat_for(transform: EspTransform, seed: int = 1) -> bytes:
    """Deterministic KEYMAT of the right length, different per seed."""
    total = transform.key_lengths().total
    return bytes((seed * 37 + i * 11) & 0xFF for i in range(total))


def scapy_sa(transform: EspTransform, keymat: bytes, *, seq: int = 1, tunnel: bool = False) -> SecurityAssociation:
    """scapy's SA for the same transform and keys. GCM's salt stays at the end of the
    encryption key: scapy cuts it there too (RFC 4106 8.1)."""
    enc_key, auth_key = transform.split_keymat(keymat)
    integrity = transform.integrity
    return SecurityAssociation(
        ESP, spi=SPI, seq_num=seq,
        crypt_algo=SCAPY_CIPHER[transform.encryption.ios_name], crypt_key=enc_key or None,
        auth_algo=SCAPY_AUTH[integrity.ios_name] if integrity else None, auth_key=auth_key or None,
        tunnel_header=IP(src=NBMA_A, dst=NBMA_B) if tunnel else None)


def gre_packet(size: int) -> bytes:
    """What DMVPN puts in ESP: a GRE header and an IPv4 packet of about `size` bytes."""
    inner = IP(src="172.16.123.1", dst="172.16.123.2") / ICMP() / Raw(os.urandom(max(0, size)))
    return bytes(GRE(proto=0x0800) / inner)


def outer(esp: bytes) -> IP:
    """The NBMA IPv4 header the caller (a raw socket) puts around our ESP packet."""
    return IP(bytes(IP(src=NBMA_A, dst=NBMA_B, proto=50) / Raw(esp)))


def esp_of(packet: IP) -> bytes:
    """The ESP bytes after the IPv4 header, as a raw socket for protocol 50 delivers them."""
    raw = bytes(packet)
    return raw[packet.ihl * 4:packet.len]


@pytest.mark.parametrize("words", TRANSFORMS)
def test_our_transport_packets_decrypt_in_scapy(words):
    transform = parse_transform(words)
    keymat = keymat_for(transform)
    ours = OutboundSa(transform, SPI, keymat)
    oracle = scapy_sa(transform, keymat)
    for size in (0, 1, 13, 100, 1372):
        payload = gre_packet(size)
        plain = oracle.decrypt(outer(ours.seal(payload, PROTO_GRE)))
        assert plain[IP].proto == PROTO_GRE
        assert (plain[IP].src, plain[IP].dst) == (NBMA_A, NBMA_B)
        assert bytes(plain[GRE]) == payload
    assert ours.counters.pkts_encaps == 5


@pytest.mark.parametrize("words", TRANSFORMS)
def test_scapy_transport_packets_open_in_ours(words):
    transform = parse_transform(words)
    keymat = keymat_for(transform, seed=2)
    ours = InboundSa(transform, SPI, keymat)
    oracle = scapy_sa(transform, keymat)
    for size in (0, 1, 13, 100, 1372):
        payload = gre_packet(size)
        sealed = oracle.encrypt(IP(src=NBMA_B, dst=NBMA_A) / GRE(payload))
        sealed = IP(bytes(sealed))
        assert sealed.proto == 50
        opened = ours.open(esp_of(sealed))
        assert opened.next_header == PROTO_GRE
        assert opened.payload == payload
    assert ours.counters.pkts_decaps == 5 and ours.counters.recv_errors == 0


@pytest.mark.parametrize("words", ["esp-aes 256 esp-sha256-hmac", "esp-3des esp-sha-hmac", "esp-gcm 256",
                                   "esp-null esp-md5-hmac"])
def test_tunnel_mode_both_ways(words):
    """Tunnel mode: the payload is a whole inner IPv4 packet (next header 4); the caller
    builds the outer header."""
    transform = parse_transform(words)
    keymat = keymat_for(transform, seed=3)
    inner = bytes(IP(src="10.1.1.1", dst="10.2.2.2") / ICMP() / Raw(b"x" * 200))

    ours_out = OutboundSa(transform, SPI, keymat, mode="tunnel")
    decrypted = scapy_sa(transform, keymat, tunnel=True).decrypt(outer(ours_out.seal(inner, PROTO_IPV4)))
    assert bytes(decrypted) == inner

    sealed = IP(bytes(scapy_sa(transform, keymat, tunnel=True).encrypt(IP(inner))))
    assert (sealed.src, sealed.dst, sealed.proto) == (NBMA_A, NBMA_B, 50)
    opened = InboundSa(transform, SPI, keymat, mode="tunnel").open(esp_of(sealed))
    assert opened.next_header == PROTO_IPV4 and opened.payload == inner


@pytest.mark.parametrize("words", ["esp-aes esp-sha-hmac", "esp-gcm", "esp-3des esp-sha512-hmac"])
def test_many_packets_through_one_sa_pair(words):
    """The long-lived CBC contexts carry state from packet to packet: hundreds of packets
    of every alignment through one SA pair still decrypt in scapy and in ours."""
    transform = parse_transform(words)
    keymat = keymat_for(transform, seed=4)
    out, inbound, oracle = OutboundSa(transform, SPI, keymat), InboundSa(transform, SPI, keymat), scapy_sa(transform, keymat)
    for size in range(0, 300):
        payload = gre_packet(size)
        esp = out.seal(payload)
        assert inbound.open(esp).payload == payload
        if size % 37 == 0:
            assert bytes(oracle.decrypt(outer(esp))[GRE]) == payload
    assert out.seq == 300 and inbound.window.top == 300


def test_esp_header_fields_are_what_scapy_reads():
    transform = parse_transform("esp-aes 256 esp-sha256-hmac")
    out = OutboundSa(transform, SPI, keymat_for(transform))
    out.seal(gre_packet(10))
    parsed = outer(out.seal(gre_packet(10)))[ESP]
    assert (parsed.spi, parsed.seq) == (SPI, 2)
