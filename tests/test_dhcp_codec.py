"""DHCP codec and frames: round trips, tshark decodes our frames with no warning, fuzz."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from dmvpnlab.dhcp.client import DhcpClient
from dmvpnlab.dhcp.codec import (
    DISCOVER, OFFER, OPT_CLIENT_ID, OPT_LEASE_TIME, OPT_ROUTER, OPT_SERVER_ID, DhcpDecodeError, DhcpMessage,
    decode, encode,
)
from dmvpnlab.dhcp.frames import BROADCAST_MAC, FrameDecodeError, build_udp_frame, parse_udp_frame
from dmvpnlab.dhcp.server import DhcpServer, PoolSpec

CLIENT_MAC = bytes.fromhex("5254000000aa")
SERVER_MAC = bytes.fromhex("5254000000bb")
POOL = PoolSpec("WAN", IPv4Network("198.51.100.0/24"), (IPv4Address("198.51.100.1"),),
                (IPv4Address("198.51.100.53"),), 3600, "lab.example")
SERVER_IF = IPv4Interface("198.51.100.1/24")


def discover_and_offer() -> tuple[bytes, bytes]:
    client = DhcpClient(CLIENT_MAC, hostname="Spoke1", rng=lambda: 0x1234ABCD)
    client.start(0.0)
    send = client.outbox.pop()
    server = DhcpServer([POOL], [(IPv4Address("198.51.100.1"), IPv4Address("198.51.100.9"))])
    reply = server.handle(decode(encode(send.message)), "Gi0-0", SERVER_IF, 0.0)
    assert reply is not None
    discover = build_udp_frame(CLIENT_MAC, BROADCAST_MAC, send.src, send.dst, 68, 67, encode(send.message))
    offer = build_udp_frame(SERVER_MAC, reply.dst_mac or BROADCAST_MAC, reply.src, reply.dst, 67, 68,
                            encode(reply.message))
    return discover, offer


def test_round_trip_keeps_every_field_and_option():
    message = DhcpMessage(op=2, xid=7, chaddr=CLIENT_MAC, flags=0x8000, yiaddr=IPv4Address("10.1.1.5"),
                          options={53: bytes((OFFER,)), 54: bytes(4), 51: struct.pack("!I", 60), 12: b"x" * 300})
    again = decode(encode(message))
    assert again == message
    assert len(encode(message)) >= 300


def test_offer_carries_the_pool_and_the_first_free_address():
    _, offer = discover_and_offer()
    udp = parse_udp_frame(offer)
    message = decode(udp.payload)
    assert message.message_type == OFFER
    assert message.yiaddr == IPv4Address("198.51.100.10")  # .1-.9 excluded
    assert message.address_list(OPT_ROUTER) == [IPv4Address("198.51.100.1")]
    assert message.seconds_option(OPT_LEASE_TIME) == 3600
    assert message.address_option(OPT_SERVER_ID) == SERVER_IF.ip
    assert (str(udp.src), str(udp.dst), udp.sport, udp.dport) == ("198.51.100.1", "255.255.255.255", 67, 68)  # broadcast flag set


def test_discover_is_from_nothing_to_everyone_with_a_client_id():
    discover, _ = discover_and_offer()
    udp = parse_udp_frame(discover)
    message = decode(udp.payload)
    assert message.message_type == DISCOVER
    assert (str(udp.src), str(udp.dst), udp.dst_mac) == ("0.0.0.0", "255.255.255.255", BROADCAST_MAC)
    assert message.options[OPT_CLIENT_ID] == b"\x01" + CLIENT_MAC


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_tshark_decodes_discover_and_offer_without_a_warning(tmp_path: Path):
    discover, offer = discover_and_offer()
    pcap = tmp_path / "dhcp.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    records = b"".join(struct.pack("<IIII", 1, i, len(f), len(f)) + f for i, f in enumerate((discover, offer)))
    pcap.write_bytes(header + records)
    out = subprocess.run(["tshark", "-r", str(pcap), "-V", "-o", "udp.check_checksum:TRUE",
                          "-o", "ip.check_checksum:TRUE"], capture_output=True, text=True, check=True).stdout
    assert "Option: (53) DHCP Message Type (Discover)" in out
    assert "Option: (53) DHCP Message Type (Offer)" in out
    assert "Your (client) IP address: 198.51.100.10" in out
    assert out.count("[Header checksum status: Good]") == 2 and out.count("[Checksum Status: Good]") == 2
    assert "Expert Info" not in out and "Malformed" not in out and "incorrect" not in out.lower()


def test_malformed_messages_raise_only_the_typed_error():
    good = encode(DhcpMessage(op=1, xid=1, chaddr=CLIENT_MAC, options={53: b"\x01"}))
    for bad in (b"", good[:100], good[:236] + b"abcd", good[:-70].rstrip(b"\0")[:-1] + b"\x35\x09\x01"):
        with pytest.raises(DhcpDecodeError):
            decode(bad)


def test_fuzz_decoders_never_raise_anything_else():
    rng = random.Random(11)
    discover, offer = discover_and_offer()
    seeds = [discover, offer, discover[42:], offer[42:]]
    for _ in range(4000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            action = rng.random()
            if action < 0.5 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif action < 0.8:
                del data[rng.randrange(len(data) + 1):]
            else:
                data[rng.randrange(len(data) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        for decoder in (decode, lambda d: decode(parse_udp_frame(d).payload)):
            try:
                decoder(bytes(data))
            except (DhcpDecodeError, FrameDecodeError):
                pass


def test_bad_udp_checksum_is_refused():
    discover, _ = discover_and_offer()
    broken = bytearray(discover)
    broken[-1] ^= 0xFF
    with pytest.raises(FrameDecodeError):
        parse_udp_frame(bytes(broken))
