"""AF_PACKET sockets for the user-space L2 parts (802.1Q relay, DHCP), with BPF filters.

Why auxiliary data: Linux strips the 802.1Q tag of a received frame before packet
sockets see it (veth and most NICs "offload" it) and keeps the TCI in the packet's
metadata; only PACKET_AUXDATA gives it back. A reader that ignored it would take a
VLAN 10 frame for an untagged one. Why BPF: the parent link and a DHCP interface carry
all the router's traffic, and only a few frames are ours; a classic BPF program in the
kernel keeps the rest out of Python. Our own transmitted frames come back on the socket
as PACKET_OUTGOING and are skipped here.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from typing import NamedTuple

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
_AUXDATA = struct.Struct("IIIHHHH")  # tpacket_auxdata
BUFSIZE = 65536 + 64
_CMSG_SPACE = socket.CMSG_SPACE(_AUXDATA.size)

# classic BPF opcodes (linux/filter.h)
_LD_H_ABS, _LD_B_ABS, _LD_W_ABS, _LD_H_IND, _LDX_MSH = 0x28, 0x30, 0x20, 0x48, 0xB1
_JEQ, _JSET, _RET = 0x15, 0x45, 0x06
_SKF_AD_VLAN_TAG_PRESENT = (-0x1000 + 48) & 0xFFFFFFFF
Insn = tuple[int, int, int, int]


class Received(NamedTuple):
    frame: bytes
    vid: int | None  # the VID the kernel stripped into auxdata, None if untagged


def udp_port_filter(port: int) -> list[Insn]:
    """Untagged IPv4, unfragmented UDP to `port` (DHCP: 67 server, 68 client)."""
    return [
        (_LD_W_ABS, 0, 0, _SKF_AD_VLAN_TAG_PRESENT), (_JEQ, 10, 0, 1),  # tagged: a subinterface's
        (_LD_H_ABS, 0, 0, 12), (_JEQ, 0, 8, 0x0800),
        (_LD_B_ABS, 0, 0, 23), (_JEQ, 0, 6, 17),
        (_LD_H_ABS, 0, 0, 20), (_JSET, 4, 0, 0x1FFF),
        (_LDX_MSH, 0, 0, 14), (_LD_H_IND, 0, 0, 16), (_JEQ, 0, 1, port),
        (_RET, 0, 0, 0xFFFF), (_RET, 0, 0, 0),
    ]


def tagged_filter() -> list[Insn]:
    """Frames that carry an 802.1Q tag (stripped into metadata, or inline)."""
    return [
        (_LD_W_ABS, 0, 0, _SKF_AD_VLAN_TAG_PRESENT), (_JEQ, 2, 0, 1),
        (_LD_H_ABS, 0, 0, 12), (_JEQ, 0, 1, 0x8100),
        (_RET, 0, 0, 0xFFFF), (_RET, 0, 0, 0),
    ]


def open_packet_socket(ifname: str, program: list[Insn] | None = None) -> socket.socket:
    """A non-blocking AF_PACKET socket on `ifname` that reports stripped VLAN tags."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        if program is not None:
            attach_filter(sock, program)
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.bind((ifname, ETH_P_ALL))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def attach_filter(sock: socket.socket, program: list[Insn]) -> None:
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def receive(sock: socket.socket) -> Received | None:
    """The next frame that arrived from the wire, None when none is waiting.
    Frames we sent ourselves (PACKET_OUTGOING) are skipped."""
    while True:
        try:
            data, ancillary, _flags, address = sock.recvmsg(BUFSIZE, _CMSG_SPACE)
        except (BlockingIOError, InterruptedError):
            return None
        if len(address) > 2 and address[2] == PACKET_OUTGOING:
            continue
        vid = None
        for level, kind, value in ancillary:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= _AUXDATA.size:
                status, _len, _snap, _mac, _net, tci, _tpid = _AUXDATA.unpack_from(value)
                if status & TP_STATUS_VLAN_VALID:
                    vid = tci & 0x0FFF
        return Received(data, vid)


def send(sock: socket.socket, frame: bytes) -> bool:
    """Write one frame; False (dropped, as a full NIC queue would) if the kernel refuses."""
    try:
        sock.send(frame)
        return True
    except OSError:
        return False


_SIOCGIFHWADDR = 0x8927
_SIOCGIFMTU = 0x8921


def _ifreq(ifname: str, request: int) -> bytes:
    """An ioctl on a socket of this process's network namespace. Not sysfs: /sys shows the
    links of the namespace that mounted it, and a Mininet node (a wired lab's router or
    host) shares the machine's /sys, so /sys/class/net/<its link> does not exist there."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return fcntl.ioctl(sock.fileno(), request, struct.pack("256s", ifname.encode()[:15]))


def interface_mac(ifname: str) -> bytes:
    """The MAC of `ifname` in this namespace (OSError if it has no such link)."""
    return _ifreq(ifname, _SIOCGIFHWADDR)[18:24]


def interface_mtu(ifname: str) -> int:
    return struct.unpack("i", _ifreq(ifname, _SIOCGIFMTU)[16:20])[0]
