"""The raw IP socket that carries GRE (IP protocol 47) to and from NBMA peers.

The kernel builds the outer IPv4 header on send (we give it the GRE bytes and the NBMA
destination). Path MTU discovery is off for this socket (IP_PMTUDISC_DONT), so DF is
clear and the kernel fragments the outer packet when the underlay needs it, as IOS does
by default for GRE. On receive, raw IPv4 sockets hand us the outer IP header too; we
strip it (by its IHL) and return the addresses, since the source is the NBMA address
NHRP needs. Having this socket open also stops the kernel's "protocol unreachable"
replies to GRE. Imports nothing of the project; `tunnel.transport` is its one user.
"""

from __future__ import annotations

import errno as _errno
import socket
from ipaddress import IPv4Address

IPPROTO_GRE = 47

# Send errors that mean "this packet is lost", not "the program is wrong": full queues,
# routes or ARP not there yet, a firewall (impairment) dropping on output, the underlay
# link down, a destination the kernel will not send to (a broadcast address: EACCES;
# NHRP refuses such NBMA addresses from peers, this is the last line).
_TRANSIENT_SEND_ERRORS = frozenset({
    _errno.ENETUNREACH, _errno.EHOSTUNREACH, _errno.ENOBUFS, _errno.EMSGSIZE,
    _errno.EAGAIN, _errno.ECONNREFUSED, _errno.EPERM, _errno.EACCES, _errno.ENETDOWN,
})
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DONT = getattr(socket, "IP_PMTUDISC_DONT", 0)


class RawGreSocket:
    """Non-blocking raw GRE socket, optionally bound to the `tunnel source` address."""

    __slots__ = ("sock", "local", "recvfrom", "sendto", "_bufsize")

    def __init__(self, local: IPv4Address | str | None = None, *, bufsize: int = 65535,
                 rcvbuf: int = 4 * 1024 * 1024, protocol: int = IPPROTO_GRE) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
        try:
            self.sock.setblocking(False)
            self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, opt, rcvbuf)
                except OSError:
                    pass  # capped by net.core.rmem_max: not fatal
            self.local = IPv4Address(local) if local is not None else None
            if self.local is not None:
                # Receive only GRE addressed to the tunnel source, send from it.
                self.sock.bind((str(self.local), 0))
        except BaseException:
            self.sock.close()
            raise
        # The per-packet primitives, bound once: the transport's fast path calls them
        # directly (they raise what the socket raises: OSError, BlockingIOError).
        self.recvfrom = self.sock.recvfrom
        self.sendto = self.sock.sendto
        self._bufsize = bufsize

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, nbma_dst: IPv4Address | str, gre_bytes: bytes) -> bool:
        """Send GRE bytes to an NBMA address; False if the send queue is full or the
        destination is unreachable right now (dropped, as a router's output queue
        would), True once handed to the kernel."""
        try:
            self.sendto(gre_bytes, (str(nbma_dst), 0))
            return True
        except OSError as exc:
            if exc.errno in _TRANSIENT_SEND_ERRORS:
                return False
            raise

    def recv(self) -> tuple[IPv4Address, IPv4Address, bytes] | None:
        """(outer src, outer dst, GRE bytes) of one packet, or None when none waits.

        Packets too short for their IP header are skipped (returns the next one).
        """
        while True:
            try:
                data, _addr = self.recvfrom(self._bufsize)
            except BlockingIOError:
                return None
            if len(data) < 20:
                continue
            ihl = (data[0] & 0x0F) * 4
            if ihl < 20 or len(data) < ihl:
                continue
            return IPv4Address(data[12:16]), IPv4Address(data[16:20]), data[ihl:]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawGreSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()