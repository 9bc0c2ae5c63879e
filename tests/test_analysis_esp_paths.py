"""Path analysis sees through ESP with the lab's key table: the same sightings as cleartext GRE.

The keys are written by `KeyLog` as the agents write them, the ESP sealed by our
`OutboundSa`; `CaptureSet` on the directory finds the key table next to the captures
and reports the NHRP and the echoes inside, with the SPI they came in. Without the key
(or with a wrong one) ESP stays opaque: nothing is reported, nothing raises.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from dmvpnlab.analysis.esp_keys import EspKeyring, parse_esp_sa_line, transform_from_wireshark
from dmvpnlab.analysis.paths import CaptureSet
from dmvpnlab.ipsec.esp import OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp
from dmvpnlab.ipsec.keylog import KeyLog, esp_sa_line
from dmvpnlab.nhrp import codec
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, encode_gre

S1, S2 = IPv4Address("100.64.1.1"), IPv4Address("100.64.2.1")
H1, H2 = "192.168.1.10", "192.168.2.10"
TS = "esp-aes 256 esp-sha256-hmac"
RESOLUTION = codec.encode(codec.NhrpPacket(
    codec.PacketType.RESOLUTION_REPLY, S2, IPv4Address("10.0.0.3"), IPv4Address("10.0.0.2"), request_id=5,
    cies=[codec.Cie(prefix_len=24, nbma=S2, proto=IPv4Address("10.0.0.3"))]))


def keymat(transform: str, seed: int) -> bytes:
    return bytes((seed + i) % 256 for i in range(parse_transform(transform).key_lengths().total))


def write_keys(directory, transform: str = TS, nat_t: bool = False) -> None:
    KeyLog(directory).child_sa(ChildSaUp(
        peer=S2, transform=parse_transform(transform), mode="transport", spi_in=0x2222, keymat_in=keymat(transform, 2),
        spi_out=0x1111, keymat_out=keymat(transform, 1), lifetime_seconds=3600, lifetime_kilobytes=4608000,
        nat_t=nat_t, peer_port=4500 if nat_t else 500, initiator=True), S1)


def protected(sa: OutboundSa, src: IPv4Address, dst: IPv4Address, proto: int, payload: bytes, udp: bool = False):
    esp = sa.seal(encode_gre(proto, payload))
    outer = IP(src=str(src), dst=str(dst))
    return Ether() / (outer / UDP(sport=4500, dport=4500) / Raw(esp) if udp else
                      IP(src=str(src), dst=str(dst), proto=50) / Raw(esp))


def spoke_to_spoke(directory, transform: str = TS, seal_seed: int = 1, udp: bool = False,
                   src: IPv4Address = S1) -> None:
    out = OutboundSa(transform, 0x1111, keymat(transform, seal_seed))
    echo = bytes(IP(src=H1, dst=H2) / ICMP(type=8, id=1, seq=7))
    back = OutboundSa(transform, 0x2222, keymat(transform, 2))
    reply_echo = bytes(IP(src=H2, dst=H1) / ICMP(type=0, id=1, seq=7))
    wrpcap(str(directory / "spoke1-isp.pcapng"), [
        protected(back, S2, src, GRE_PROTO_NHRP, RESOLUTION, udp),
        protected(out, src, S2, GRE_PROTO_IPV4, echo, udp),
        protected(back, S2, src, GRE_PROTO_IPV4, reply_echo, udp)])


def test_nhrp_and_echoes_inside_esp_are_seen_with_their_spi(tmp_path):
    write_keys(tmp_path)
    spoke_to_spoke(tmp_path)
    seen = CaptureSet(tmp_path)
    (nhrp,) = seen.nhrp
    assert (nhrp.link, nhrp.outer_src, nhrp.outer_dst, nhrp.esp_spi) == ("spoke1-isp", S2, S1, 0x2222)
    assert nhrp.packet.type == codec.PacketType.RESOLUTION_REPLY and nhrp.packet.request_id == 5
    (echo,) = seen.echo(H1, H2)
    assert (echo.seq, echo.outer_src, echo.outer_dst, echo.esp_spi) == (7, S1, S2, 0x1111)
    (reply,) = seen.echo(H1, H2, reply=True)
    assert reply.esp_spi == 0x2222 and reply.encapsulated


def test_without_keys_or_with_a_wrong_key_esp_stays_opaque(tmp_path):
    spoke_to_spoke(tmp_path, seal_seed=1)
    assert CaptureSet(tmp_path).icmp == [] and CaptureSet(tmp_path).nhrp == []
    write_keys(tmp_path)
    spoke_to_spoke(tmp_path, seal_seed=99)  # the outbound echo sealed with another key
    seen = CaptureSet(tmp_path)
    assert seen.echo(H1, H2) == []
    assert len(seen.echo(H1, H2, reply=True)) == 1  # the other direction's key is right


def test_keys_may_live_in_another_directory(tmp_path):
    captures, keys = tmp_path / "captures", tmp_path / "keys"
    captures.mkdir()
    write_keys(keys)
    spoke_to_spoke(captures)
    assert len(CaptureSet(captures, keys_dir=keys).icmp) == 2


def test_nat_t_esp_in_udp_4500_is_opened_on_the_private_side_too(tmp_path):
    write_keys(tmp_path, nat_t=True)
    spoke_to_spoke(tmp_path, udp=True, src=IPv4Address("172.16.1.1"))  # spoke behind a NAT: its private address
    seen = CaptureSet(tmp_path)
    assert len(seen.icmp) == 2 and len(seen.nhrp) == 1


@pytest.mark.parametrize("words", ["esp-aes esp-sha-hmac", "esp-aes 192 esp-sha384-hmac", TS, "esp-gcm 128",
                                   "esp-gcm 256", "esp-3des esp-md5-hmac", "esp-aes 128 esp-sha512-hmac",
                                   "esp-null esp-sha-hmac"])
def test_every_line_keylog_writes_reads_back_to_the_same_transform_and_keys(words):
    t = parse_transform(words)
    km = bytes(range(t.key_lengths().total))
    key = parse_esp_sa_line(esp_sa_line(S1, "*", 0x12345678, t, km))
    assert key is not None
    assert (key.src, key.dst, key.spi, key.transform, key.keymat) == (str(S1), "*", 0x12345678, t, km)


@pytest.mark.parametrize("line", ["", "garbage", '"IPv6","*","*","0x100","NULL","","NULL",""',
                                  '"IPv4","*","*","0x100","AES-CBC [RFC3602]","0x00","HMAC-SHA-1-96 [RFC2404]","0x00"',
                                  '"IPv4","*","*","zz","NULL","","NULL",""',
                                  '"IPv4","*","*","0x100","Blowfish","0x00","NULL",""',
                                  '"IPv4","*","*","0x100","AES-CBC [RFC3602]","0xzz","NULL",""', '"unterminated'])
def test_lines_it_cannot_use_are_skipped(line):
    assert parse_esp_sa_line(line) is None


def test_a_keyring_ignores_reserved_spis_and_short_packets(tmp_path):
    (tmp_path / "esp_sa").write_text('"IPv4","*","*","0x00000005","NULL","","HMAC-SHA-1-96 [RFC2404]","0x'
                                     + "00" * 20 + '"\n')
    ring = EspKeyring.load(tmp_path)
    assert ring and ring.open("1.1.1.1", "2.2.2.2", bytes.fromhex("00000005") + bytes(40)) is None
    assert ring.open("1.1.1.1", "2.2.2.2", b"\x00") is None
    assert transform_from_wireshark("AES-CBC [RFC3602]", 17, "NULL") is None
