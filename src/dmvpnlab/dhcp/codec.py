"""BOOTP/DHCP messages (RFC 2131 section 2, options RFC 2132) to and from bytes.

Decoding never raises anything but DhcpDecodeError: a message from the wire is either a
`DhcpMessage` or a counted drop. Options are kept as raw bytes by code, in order; typed
accessors read the ones the client and server use (1, 3, 6, 12, 15, 50, 51, 53, 54, 55, 61).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

BOOTREQUEST, BOOTREPLY = 1, 2
HTYPE_ETHERNET = 1
MAGIC_COOKIE = b"\x63\x82\x53\x63"
FLAG_BROADCAST = 0x8000
SERVER_PORT, CLIENT_PORT = 67, 68

# Option codes (RFC 2132)
OPT_PAD = 0
OPT_SUBNET_MASK = 1
OPT_ROUTER = 3
OPT_DNS = 6
OPT_HOSTNAME = 12
OPT_DOMAIN_NAME = 15
OPT_REQUESTED_IP = 50
OPT_LEASE_TIME = 51
OPT_MESSAGE_TYPE = 53
OPT_SERVER_ID = 54
OPT_PARAMETER_LIST = 55
OPT_RENEWAL_T1 = 58
OPT_REBINDING_T2 = 59
OPT_CLIENT_ID = 61
OPT_END = 255

# Message types (option 53)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_NAMES = {DISCOVER: "DISCOVER", OFFER: "OFFER", REQUEST: "REQUEST", DECLINE: "DECLINE",
                 ACK: "ACK", NAK: "NAK", RELEASE: "RELEASE", INFORM: "INFORM"}

_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")  # 236 bytes before the cookie
FIXED_LEN = _FIXED.size
MIN_BOOTP_LEN = 300  # RFC 1542 3.1.1: relays may drop shorter messages; pad up to it


class DhcpDecodeError(ValueError):
    """Bytes that are not a DHCP message (too short, no cookie, option overruns, ...)."""


@dataclass
class DhcpMessage:
    """One DHCP message. `options` maps code -> raw value, in the order they are written."""

    op: int
    xid: int
    chaddr: bytes  # the 6-byte hardware address (chaddr is 16 bytes on the wire)
    options: dict[int, bytes] = field(default_factory=dict)
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = IPv4Address(0)
    yiaddr: IPv4Address = IPv4Address(0)
    siaddr: IPv4Address = IPv4Address(0)
    giaddr: IPv4Address = IPv4Address(0)
    hops: int = 0

    # --- typed option access ------------------------------------------------------------

    @property
    def message_type(self) -> int | None:
        value = self.options.get(OPT_MESSAGE_TYPE)
        return value[0] if value and len(value) == 1 else None

    def address_option(self, code: int) -> IPv4Address | None:
        value = self.options.get(code)
        return IPv4Address(value[:4]) if value is not None and len(value) >= 4 else None

    def address_list(self, code: int) -> list[IPv4Address]:
        value = self.options.get(code) or b""
        return [IPv4Address(value[i:i + 4]) for i in range(0, len(value) - len(value) % 4, 4)]

    def seconds_option(self, code: int) -> int | None:
        value = self.options.get(code)
        return int.from_bytes(value, "big") if value is not None and len(value) == 4 else None

    def text_option(self, code: int) -> str | None:
        value = self.options.get(code)
        return value.decode("ascii", "backslashreplace").rstrip("\0") if value is not None else None

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & FLAG_BROADCAST)


def encode(message: DhcpMessage) -> bytes:
    """The message as it goes in a UDP datagram (padded to the 300-byte BOOTP minimum)."""
    if len(message.chaddr) > 16:
        raise ValueError("chaddr longer than 16 bytes")
    fixed = _FIXED.pack(message.op, HTYPE_ETHERNET, len(message.chaddr), message.hops, message.xid & 0xFFFFFFFF,
                        message.secs, message.flags, message.ciaddr.packed, message.yiaddr.packed,
                        message.siaddr.packed, message.giaddr.packed, message.chaddr, b"", b"")
    out = bytearray(fixed + MAGIC_COOKIE)
    for code, value in message.options.items():
        if code in (OPT_PAD, OPT_END):
            continue
        for start in range(0, max(len(value), 1), 255):  # RFC 3396: long options are split
            chunk = value[start:start + 255]
            out += bytes((code, len(chunk))) + chunk
    out.append(OPT_END)
    if len(out) < MIN_BOOTP_LEN:
        out += bytes(MIN_BOOTP_LEN - len(out))
    return bytes(out)


def decode(data: bytes) -> DhcpMessage:
    """A DHCP message from a UDP payload, or DhcpDecodeError."""
    if len(data) < FIXED_LEN + len(MAGIC_COOKIE):
        raise DhcpDecodeError(f"{len(data)} bytes: shorter than a DHCP message")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr,
     _sname, _file) = _FIXED.unpack_from(data)
    if op not in (BOOTREQUEST, BOOTREPLY):
        raise DhcpDecodeError(f"op {op} is neither BOOTREQUEST nor BOOTREPLY")
    if htype != HTYPE_ETHERNET or hlen != 6:
        raise DhcpDecodeError(f"hardware type {htype}/length {hlen}: only Ethernet is served")
    if data[FIXED_LEN:FIXED_LEN + 4] != MAGIC_COOKIE:
        raise DhcpDecodeError("no DHCP magic cookie (plain BOOTP)")
    options = _decode_options(data, FIXED_LEN + 4)
    return DhcpMessage(op=op, xid=xid, chaddr=chaddr[:6], options=options, secs=secs, flags=flags,
                       ciaddr=IPv4Address(ciaddr), yiaddr=IPv4Address(yiaddr), siaddr=IPv4Address(siaddr),
                       giaddr=IPv4Address(giaddr), hops=hops)


def _decode_options(data: bytes, offset: int) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    end = len(data)
    while offset < end:
        code = data[offset]
        if code == OPT_PAD:
            offset += 1
            continue
        if code == OPT_END:
            return options
        if offset + 2 > end:
            raise DhcpDecodeError(f"option {code} has no length byte")
        length = data[offset + 1]
        if offset + 2 + length > end:
            raise DhcpDecodeError(f"option {code} of {length} bytes runs past the message")
        value = data[offset + 2:offset + 2 + length]
        options[code] = options.get(code, b"") + value  # RFC 3396 concatenation
        offset += 2 + length
    raise DhcpDecodeError("options end without the End option (255)")


def u32(value: int) -> bytes:
    return struct.pack("!I", value & 0xFFFFFFFF)


def addresses(*values: IPv4Address) -> bytes:
    return b"".join(v.packed for v in values)
