"""The TAP device that stands in for the kernel's missing ip_gre: `TunnelN`.

The kernel routes into it like any interface; the agent reads Ethernet frames from its
fd and writes decapsulated ones back. Opened IFF_TAP|IFF_NO_PI (frames only, no packet
info header) and non-blocking (the agent's single event loop must never block on it).

Must run inside the router's namespace: the device, its address and the sysctls are
per network namespace. Needs CAP_NET_ADMIN. Imports only `tunnel.frames`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import subprocess
from ipaddress import IPv4Interface
from pathlib import Path

from dmvpnlab.tunnel.frames import format_mac

TUN_DEVICE = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFNAMSIZ = 16

# Per-interface sysctls a user-space tunnel needs, and why.
TUNNEL_SYSCTLS: dict[str, str] = {
    # NHRP redirect (Phase 3) is ours; the kernel's ICMP redirects would fight it when
    # a packet leaves the tunnel it came in on (exactly the hub's spoke-to-spoke case).
    "net/ipv4/conf/{if}/send_redirects": "0",
    "net/ipv4/conf/{if}/accept_redirects": "0",
    # Spoke-to-spoke traffic arrives from sources the kernel routes elsewhere (via hub).
    "net/ipv4/conf/{if}/rp_filter": "0",
    # ICMP "fragmentation needed" we write into the TAP comes from the tunnel address,
    # which is local: without accept_local the kernel drops it as a martian.
    "net/ipv4/conf/{if}/accept_local": "1",
    # The tunnel carries IPv4 only; no router solicitations/ND noise on the TAP.
    "net/ipv6/conf/{if}/disable_ipv6": "1",
}


class TapError(OSError):
    """The TAP could not be created or configured (message says which step)."""


def open_tap(name: str) -> int:
    """Create (or attach to) TAP `name`; return its non-blocking, close-on-exec fd."""
    if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or " " in name:
        raise TapError(f"invalid interface name {name!r}")
    try:
        fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise TapError(f"cannot open {TUN_DEVICE}: {exc.strerror}") from exc
    ifr = struct.pack(f"{IFNAMSIZ}sH", name.encode(), IFF_TAP | IFF_NO_PI).ljust(40, b"\0")
    try:
        fcntl.ioctl(fd, TUNSETIFF, ifr)
    except OSError as exc:
        os.close(fd)
        raise TapError(f"TUNSETIFF {name}: {exc.strerror}") from exc
    return fd


def set_sysctl(key: str, value: str) -> None:
    """Write /proc/sys/`key` ("net/ipv4/conf/Tunnel0/rp_filter") of this namespace, or raise TapError.

    Raises because a TAP without its sysctls misroutes traffic (see TUNNEL_SYSCTLS);
    best-effort router-wide settings go through `routing.kernel.try_set_sysctl`.
    """
    path = Path("/proc/sys") / key
    try:
        path.write_text(value)
    except OSError as exc:
        raise TapError(f"sysctl {key}={value}: {exc.strerror}") from exc


def configure_tap(name: str, mac: bytes, address: IPv4Interface, mtu: int) -> None:
    """Set MAC, MTU, the tunnel address and the tunnel sysctls, then bring `name` up.

    Uses `ip` (iproute2): a subprocess at set-up only, no per-packet cost, and no
    pyroute2 socket left open in the agent. Idempotent: an address already present is
    not an error.
    """
    for key, value in TUNNEL_SYSCTLS.items():
        try:
            set_sysctl(key.format(**{"if": name}), value)
        except TapError:
            if not key.startswith("net/ipv6/"):  # a kernel without IPv6 has no ipv6 tree
                raise
    _ip("link", "set", "dev", name, "address", format_mac(mac), "mtu", str(mtu))
    _ip("addr", "replace", str(address), "dev", name)
    _ip("link", "set", "dev", name, "up")


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TapError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


class TapDevice:
    """An open TAP: owns the fd; read/write whole Ethernet frames without blocking."""

    __slots__ = ("name", "fd", "_read", "_write", "_bufsize")

    def __init__(self, name: str, fd: int | None = None, bufsize: int = 65536) -> None:
        self.name = name
        self.fd = open_tap(name) if fd is None else fd
        self._read = os.read
        self._write = os.write
        self._bufsize = bufsize

    def configure(self, mac: bytes, address: IPv4Interface, mtu: int) -> None:
        configure_tap(self.name, mac, address, mtu)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        """One frame, or None when none is waiting."""
        try:
            return self._read(self.fd, self._bufsize)
        except BlockingIOError:
            return None

    def write(self, frame: bytes) -> bool:
        """Write one frame; False if the TAP queue is full (frame dropped) or the device
        is down (EIO), as a NIC would drop it."""
        try:
            self._write(self.fd, frame)
            return True
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno == errno.EIO:
                return False
            raise

    def close(self) -> None:
        """Close the fd; the kernel deletes a non-persistent TAP with it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> TapDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
