"""The load generator's one raw GRE socket: send from any emulated NBMA, receive for all.

IP_HDRINCL lets us write the source address of each datagram (the kernel still fills
the length, the identification and the header checksum); the block of emulated NBMA
addresses is local in the load namespace (see `plan`), so GRE sent to any of them by the
hub reaches this socket. Receive is batched: drain until EAGAIN per wakeup, as the
agent's tunnel does, so a burst of replies costs one select.
"""

from __future__ import annotations

import select
import socket
import struct
from ipaddress import IPv4Address
from typing import Iterator

from dmvpnlab.loadgen.fleet import Datagram

IPPROTO_GRE = 47
_IP_HEADER = struct.Struct("!BBHHHBBH4s4s")
SOCKET_BUFFER = 16 * 1024 * 1024
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # linux/socket.h (not in Python's socket module)


def ip_header(src: IPv4Address, dst: IPv4Address, payload_len: int, ttl: int = 64) -> bytes:
    """An IPv4 header for GRE; total length set (the kernel overwrites it anyway), checksum 0."""
    return _IP_HEADER.pack(0x45, 0, 20 + payload_len, 0, 0, ttl, IPPROTO_GRE, 0, src.packed, dst.packed)


def parse_ip(datagram: bytes) -> tuple[IPv4Address, IPv4Address, bytes] | None:
    """(source, destination, GRE bytes) of a received IPv4 datagram; None if it is not one."""
    if len(datagram) < 20 or datagram[0] >> 4 != 4:
        return None
    header_len = (datagram[0] & 0x0F) * 4
    if header_len < 20 or len(datagram) < header_len or datagram[9] != IPPROTO_GRE:
        return None
    return IPv4Address(datagram[12:16]), IPv4Address(datagram[16:20]), datagram[header_len:]


class GreSocket:
    """A raw IPPROTO_GRE socket in the current network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_GRE)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        for forced, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
            try:  # root may exceed net.core.[rw]mem_max: a 10,000-spoke burst needs the room
                self.sock.setsockopt(socket.SOL_SOCKET, forced, SOCKET_BUFFER)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER)
        self.sock.setblocking(False)
        self.send_errors = 0

    def send(self, datagram: Datagram) -> None:
        """Send one datagram; when the buffer is full, wait briefly once, then count it lost."""
        raw = ip_header(datagram.src, datagram.dst, len(datagram.gre)) + datagram.gre
        for attempt in range(2):
            try:
                self.sock.sendto(raw, (str(datagram.dst), 0))
                return
            except BlockingIOError:
                if attempt == 0:
                    select.select([], [self.sock], [], 0.05)
            except OSError:
                break
        self.send_errors += 1

    def receive(self, timeout: float) -> Iterator[tuple[IPv4Address, IPv4Address, bytes]]:
        """Every datagram waiting now (after waiting up to `timeout` for the first)."""
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return
        while True:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return
            parsed = parse_ip(data)
            if parsed is not None:
                yield parsed

    def close(self) -> None:
        self.sock.close()
