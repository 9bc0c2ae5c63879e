"""ESP against published known answers, against Wireshark, and against the Cisco capture.

scapy (test_ipsec_esp.py) could share a misreading of a spec with us; these cannot:
- RFC 3602 section 4, cases 5 (transport) and 7 (tunnel): whole ESP packets with
  AES-128-CBC and no integrity. With the published IV injected, `seal` must produce the
  published bytes exactly (padding 1, 2, 3..., the CBC chaining of our long-lived
  context), and `open` the published payload.
- draft-mcgrew-gcm-test-01 (test cases for RFC 4106): AES-GCM ESP packets, 128 and
  256-bit, with the salt at the end of KEYMAT as RFC 4106 8.1 says; one with sequence
  number 2^32-1. Its plaintexts include the ESP trailer.
- tshark decrypts and ICV-checks our packets for every cipher and HMAC, given the keys
  in its `esp_sa` table under the Wireshark names the transforms carry.
- The Cisco capture's two ESP packets (keys unknown) are refused the documented way.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dmvpnlab.ipsec.esp import EspError, InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform
from cisco_captures import capture


def hx(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


RFC3602_CASE5 = dict(
    key=hx("90d382b4 10eeba7a d938c46c ec1a82bf"), spi=0x4321, seq=1, next_header=1,
    payload=hx("""08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
                  18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637"""),
    esp=hx("""00004321 00000001 e96e8c08 ab465763 fd098d45 dd3ff893
              f663c25d 325c18c6 a9453e19 4e120849 a4870b66 cc6b9965 330013b4 898dc856
              a4699e52 3a55db08 0b59ec3a 8e4b7e52 775b07d1 db34ed9c 538ab50c 551b874a
              a269add0 47ad2d59 13ac19b7 cfbad4a6"""))
RFC3602_CASE7 = dict(
    key=hx("01234567 89abcdef 01234567 89abcdef"), spi=0x8765, seq=2, next_header=4,
    payload=hx("""45000054 09040000 4001f988 c0a87b03 c0a87bc8 08009f76 a90a0100 b49c083d
                  02a20400 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f 20212223
                  24252627 28292a2b 2c2d2e2f 30313233 34353637"""),
    esp=hx("""00008765 00000002 f4e76524 4f6407ad f13dc138 0f673f37
              773b5241 a4c44922 5e4f3ce5 ed611b0c 237ca96c f74a9301 3c1b0ea1 a0cf70f8
              e4ecaec7 8ac53aad 7a0f022b 859243c6 47752e94 a859352b 8a4d4d2d ecd136e5
              c177f132 ad3fbfb2 201ac990 4c74ee0a 109e0ca1 e4dfe9d5 a100b842 f1c22f0d"""))

#: (transform, KEYMAT = key | salt, SPI, seq, plaintext with trailer, ESP packet)
GCM_CASES = {
    "128": ("esp-gcm 128", hx("feffe992 8665731c 6d6a8f94 67308308 cafebabe"), 0xA5F8, 0xA,
            hx("""4500003e 698f0000 80114dcc c0a80102 c0a80101 0a980035 002a2343 b2d00100
                  00010000 00000000 03736970 09637962 65726369 74790264 6b000001 00010001"""),
            hx("""0000a5f8 0000000a facedbad decaf888 deb22cd9 b07c72c1 6e3a65be eb8df304
                  a5a5897d 33ae530f 1ba76d5d 114d2a5c 3de81827 c10e9a4f 51330d0e ec416642
                  cfbb85a5 b47e48a4 ec3b9ba9 5d918bd1 83b70d3a a8bc6ee4 c309e9d8 5a41ad4a""")),
    "256": ("esp-gcm 256", hx("""abbccdde f0011223 34455667 78899aab abbccdde f0011223 34455667 78899aab
                                 11223344"""), 0x4A2CBFE3, 2,
            hx("""45000030 69a64000 80062690 c0a80102 9389155e 0a9e008b 2dc57ee0 00000000
                  70024000 20bf0000 020405b4 01010402 01020201"""),
            hx("""4a2cbfe3 00000002 01020304 05060708 ff425c9b 724599df 7a3bcd51 0194e00d
                  6a78107f 1b0b1cbf 06efae9d 65a5d763 748a6379 85771d34 7f054565 9f14e99d
                  ef842d8e b335f4ee cfdbf831 824b4c49 15956c96""")),
    "seq 2^32-1": ("esp-gcm", hx("7d773d00 c144c525 ac619d18 c84a3f47 d9664267"), 0x335467AE, 0xFFFFFFFF,
                   hx("01020201"),
                   hx("335467ae ffffffff 43457e91 82443bc6 437f866b cb3f699f e9b0822b ac961c45 04bef270")),
}


@pytest.mark.parametrize("case", [RFC3602_CASE5, RFC3602_CASE7], ids=["case5-transport", "case7-tunnel"])
def test_rfc3602_aes_cbc_packets(case):
    mode = "tunnel" if case["next_header"] == 4 else "transport"
    opened = InboundSa("esp-aes", case["spi"], case["key"], mode=mode).open(case["esp"])
    assert opened == (case["payload"], case["next_header"], case["seq"])

    iv = case["esp"][8:24]
    out = OutboundSa("esp-aes", case["spi"], case["key"], mode=mode, iv_source=lambda: iv)
    out.seq = case["seq"] - 1
    assert out.seal(case["payload"], case["next_header"]) == case["esp"]


def test_injected_ivs_survive_the_chained_cbc_context():
    """Sealing several packets through one context, each with the published IV, gives
    the published packet every time (the context's chaining block is accounted for)."""
    case = RFC3602_CASE5
    iv = case["esp"][8:24]
    out = OutboundSa("esp-aes", case["spi"], case["key"], iv_source=lambda: iv)
    for _ in range(3):
        out.seq = 0
        assert out.seal(case["payload"], 1) == case["esp"]


@pytest.mark.parametrize("name", list(GCM_CASES))
def test_draft_mcgrew_gcm_packets(name):
    words, keymat, spi, seq, plaintext, esp = GCM_CASES[name]
    pad = plaintext[-2]
    payload, next_header = plaintext[:len(plaintext) - 2 - pad], plaintext[-1]
    assert InboundSa(words, spi, keymat).open(esp) == (payload, next_header, seq)

    out = OutboundSa(words, spi, keymat, iv_source=lambda: esp[8:16])
    out.seq = seq - 1
    assert out.seal(payload, next_header) == esp


def test_gcm_salt_is_the_end_of_keymat():
    """Move the salt to the front and nothing decrypts: the layout is RFC 4106's."""
    words, keymat, spi, _, _, esp = GCM_CASES["128"]
    swapped = keymat[16:] + keymat[:16]
    with pytest.raises(EspError) as info:
        InboundSa(words, spi, swapped).open(esp)
    assert info.value.reason == "verify_failed"


# -- the Cisco capture ----------------------------------------------------------------

def cisco_esp_packets() -> list[bytes]:
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    out = []
    for frame in rdpcap(str(capture("dmvpn-ipsec-esp-encrypted-traffic.pcap"))):
        if IP in frame and frame[IP].proto == 50:
            raw = bytes(frame[IP])
            out.append(raw[frame[IP].ihl * 4:frame[IP].len])
    return out


def test_cisco_capture_packets_have_esp_aes_sha_hmac_shape_and_are_refused_without_keys():
    packets = cisco_esp_packets()
    assert len(packets) == 2
    transform = parse_transform("esp-aes esp-sha-hmac")
    for packet in packets:
        spi = int.from_bytes(packet[:4], "big")
        assert (len(packet) - 8 - 12) % 16 == 0  # IV + ciphertext in whole AES blocks, 96-bit ICV
        guess = InboundSa(transform, spi, os.urandom(36))
        with pytest.raises(EspError) as info:
            guess.open(packet)
        assert info.value.reason == "verify_failed" and guess.window.state() == (0, 0)
        other = InboundSa(transform, spi ^ 1, os.urandom(36))
        with pytest.raises(EspError) as info:
            other.open(packet)
        assert info.value.reason == "invalid_sa"


# -- Wireshark ------------------------------------------------------------------------

WIRESHARK_TRANSFORMS = ["esp-aes esp-sha-hmac", "esp-aes 192 esp-sha384-hmac", "esp-aes 256 esp-sha256-hmac",
                        "esp-3des esp-md5-hmac", "esp-aes esp-sha512-hmac", "esp-gcm", "esp-gcm 256",
                        "esp-null esp-sha-hmac"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (make setup installs it)")
def test_tshark_decrypts_and_verifies_our_packets(tmp_path):
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import GRE, Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    frames, options = [], []
    for n, words in enumerate(WIRESHARK_TRANSFORMS):
        transform = parse_transform(words)
        keymat = os.urandom(transform.key_lengths().total)
        spi = 0x1000 + n
        gre = bytes(GRE(proto=0x0800) / IP(src="172.16.123.1", dst="172.16.123.2") / ICMP() / Raw(words.encode()))
        esp = OutboundSa(transform, spi, keymat).seal(gre)
        frames.append(Ether() / IP(src="192.168.123.1", dst="192.168.123.2", proto=50) / Raw(esp))
        enc_key, auth_key = transform.split_keymat(keymat)
        auth = transform.integrity.wireshark if transform.integrity else "NULL"
        options += ["-o", f'uat:esp_sa:"IPv4","*","*","0x{spi:08x}","{transform.encryption.wireshark}",'
                          f'"0x{enc_key.hex()}","{auth}","0x{auth_key.hex()}"']
    pcap = tmp_path / "esp.pcap"
    wrpcap(str(pcap), frames)
    result = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", *options,
         "-T", "fields", "-E", "separator=|", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "esp.protocol",
         "-e", "gre.proto", "-e", "ip.dst"],
        capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("|") for line in result.stdout.splitlines()]
    assert len(rows) == len(WIRESHARK_TRANSFORMS)
    for words, (spi, good, next_header, gre_proto, dst) in zip(WIRESHARK_TRANSFORMS, rows):
        assert good in ("1", "True"), (words, rows)
        assert int(next_header, 0) == 47 and int(gre_proto, 0) == 0x0800, words
        assert dst.endswith("172.16.123.2"), words
