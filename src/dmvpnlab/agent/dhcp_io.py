"""DHCP on the wire and in the kernel: AF_PACKET ports and installing a lease.

Shared by the router agent (agent/dhcp_node.py) and the standalone client for Linux
hosts (agent/dhcp_host.py). A port is one interface's AF_PACKET socket with a BPF filter
for UDP to our port, plus a plain UDP socket bound to the same port that only swallows
what the kernel also delivers (without it the kernel answers a unicast renewal with ICMP
port unreachable). Frames are built whole (dhcp.frames): see there why.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable

from dmvpnlab.agent import packet_socket
from dmvpnlab.dhcp.client import LeaseBound, LeaseLost, Send
from dmvpnlab.dhcp.codec import CLIENT_PORT, SERVER_PORT, DhcpDecodeError, DhcpMessage, decode, encode
from dmvpnlab.dhcp.frames import BROADCAST_MAC, FrameDecodeError, build_udp_frame, parse_udp_frame
from dmvpnlab.routing.kernel import BOOT_PROTO, Kernel

log = logging.getLogger("dmvpnlab.agent.dhcp")
DEFAULT = IPv4Network("0.0.0.0/0")
DHCP_ROUTE_METRIC = 254  # IOS installs the DHCP default route with administrative distance 254
SO_BINDTODEVICE = 25
BURST = 32


@dataclass
class DhcpPort:
    """One interface's DHCP socket pair; `port` is ours (68 client, 67 server)."""

    linux: str
    port: int
    sock: socket.socket
    mac: bytes
    sink: socket.socket | None = None
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, linux: str, port: int, sink_device: bool = True) -> DhcpPort:
        sock = packet_socket.open_packet_socket(linux, packet_socket.udp_port_filter(port))
        try:
            mac = packet_socket.interface_mac(linux)
        except OSError:
            sock.close()
            raise
        return cls(linux, port, sock, mac, _sink(port, linux if sink_device else None))

    def fds(self) -> list[int]:
        return [self.sock.fileno()] + ([self.sink.fileno()] if self.sink is not None else [])

    def send(self, send: Send) -> None:
        peer = SERVER_PORT if self.port == CLIENT_PORT or send.dst == send.message.giaddr else CLIENT_PORT
        frame = build_udp_frame(self.mac, send.dst_mac or BROADCAST_MAC, send.src, send.dst, self.port, peer,
                                encode(send.message))
        if not packet_socket.send(self.sock, frame):
            self._count("send_drops")

    def receive(self, handle: Callable[[DhcpMessage, bytes], None]) -> None:
        """Decode what waits on the socket and pass each message (and its source MAC) on."""
        self.drain_sink()
        for _ in range(BURST):
            try:
                received = packet_socket.receive(self.sock)
            except OSError:
                self._count("read_errors")
                return
            if received is None:
                return
            if received.vid is not None:
                continue  # a tagged frame is a subinterface's
            try:
                udp = parse_udp_frame(received.frame)
                message = decode(udp.payload)
            except (FrameDecodeError, DhcpDecodeError):
                self._count("malformed")
                continue
            handle(message, udp.src_mac)

    def drain_sink(self) -> None:
        while self.sink is not None:
            try:
                self.sink.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        if self.sink is not None:
            self.sink.close()

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1


def _sink(port: int, device: str | None) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if device is not None:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
        sock.bind(("0.0.0.0", port))
        sock.setblocking(False)
    except OSError as error:
        log.warning("UDP %d%s: not bound (%s): the kernel may answer unicast DHCP with ICMP",
                    port, f" on {device}" if device else "", error)
        sock.close()
        return None
    return sock


def install_lease(kernel: Kernel, linux: str, event: object, metric: int = DHCP_ROUTE_METRIC) -> None:
    """Make the kernel follow a lease event: the address, and a default route via the
    first router option (protocol `boot`, so the static-route sweep leaves it alone)."""
    if isinstance(event, LeaseBound):
        previous, lease = event.previous, event.lease
        if previous is not None and previous.address != lease.address:
            remove_address(kernel, linux, previous.address)
        if previous is not None and previous.routers[:1] != lease.routers[:1] and previous.routers:
            kernel.delete_route(DEFAULT, previous.routers[0], BOOT_PROTO, metric)
        kernel.ensure_address(linux, lease.address)
        if lease.routers:
            kernel.replace_route(DEFAULT, lease.routers[0], linux, BOOT_PROTO, metric=metric)
    elif isinstance(event, LeaseLost):
        if event.previous.routers:
            kernel.delete_route(DEFAULT, event.previous.routers[0], BOOT_PROTO, metric)
        remove_address(kernel, linux, event.previous.address)


def remove_address(kernel: Kernel, linux: str, address: IPv4Interface) -> None:
    index = kernel.ifindex(linux)
    if index is None or address not in kernel.addresses(linux):
        return
    try:
        kernel.ipr.addr("del", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except Exception as error:  # already gone
        log.warning("%s: address %s not removed: %s", linux, address, error)


def own_addresses(kernel: Kernel) -> frozenset[IPv4Address]:
    """Every IPv4 address of this namespace (a server never hands one out)."""
    return frozenset(IPv4Address(a.get_attr("IFA_ADDRESS")) for a in kernel.ipr.get_addr(family=2))
