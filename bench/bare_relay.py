"""A bare TAP <-> raw GRE relay: the throughput baseline for the real agent.

It does the least work a user-space GRE tunnel can do per packet in Python: read a frame
from the TAP, drop the Ethernet header, prepend a fixed GRE header, sendto() the one
peer; receive, strip outer IP + the fixed GRE header, prepend a fixed Ethernet header,
write to the TAP. ARP from the kernel is answered with a fixed peer MAC. No NHRP, no
checks beyond "is this IPv4 / is this our GRE header". The agent's tunnel throughput is
reported as a fraction of this relay's, measured in the same run.

Run inside the router's namespace (root):
    python bench/bare_relay.py --tap Tunnel0 --peer 203.0.113.1 --local 100.64.1.1 \
        --tunnel-ip 10.0.0.2/24 [--key N] [--mtu 1476]
Stops cleanly on SIGINT/SIGTERM and prints its packet counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Iterator

try:
    from dmvpnlab.tunnel.tap import TapError, configure_tap, open_tap
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from dmvpnlab.tunnel.tap import TapError, configure_tap, open_tap

PEER_MAC = bytes.fromhex("020000000001")  # every ARP is answered with this
IPPROTO_GRE = 47


def relay(tap_fd: int, sock: socket.socket, peer: str, tap_mac: bytes,
          key: int | None = None, stop: list[bool] | None = None) -> dict[str, int]:
    """Move frames between `tap_fd` and `sock` (raw GRE) until `stop[0]` is set.

    Returns packet counters. Both fds must be non-blocking; each wake-up drains them.
    """
    gre = struct.pack("!HH", 0x2000 if key is not None else 0, 0x0800)
    if key is not None:
        gre += struct.pack("!I", key)
    gre_len = len(gre)
    eth_in = tap_mac + PEER_MAC + b"\x08\x00"
    dst = (peer, 0)
    stop = stop if stop is not None else [False]
    read, write, sendto, recv = os.read, os.write, sock.sendto, sock.recv
    n_out = n_in = n_arp = n_drop = 0
    poller = select.poll()
    poller.register(tap_fd, select.POLLIN)
    poller.register(sock.fileno(), select.POLLIN)
    sock_fd = sock.fileno()
    while not stop[0]:
        try:
            events = poller.poll(200)
        except InterruptedError:
            continue
        for fd, _ev in events:
            if fd == tap_fd:
                while True:
                    try:
                        frame = read(tap_fd, 65536)
                    except BlockingIOError:
                        break
                    if frame[12:14] == b"\x08\x00":
                        try:
                            sendto(gre + frame[14:], dst)
                            n_out += 1
                        except OSError:
                            n_drop += 1
                    elif frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01" \
                            and frame[28:32] != frame[38:42]:
                        # ARP request (not gratuitous): reply "target is at PEER_MAC"
                        reply = (frame[6:12] + PEER_MAC + b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02"
                                 + PEER_MAC + frame[38:42] + frame[22:28] + frame[28:32])
                        write(tap_fd, reply)
                        n_arp += 1
                    else:
                        n_drop += 1
            elif fd == sock_fd:
                while True:
                    try:
                        data = recv(65535)
                    except BlockingIOError:
                        break
                    ihl = (data[0] & 0x0F) << 2
                    if data[ihl:ihl + gre_len] != gre:
                        n_drop += 1
                        continue
                    try:
                        write(tap_fd, eth_in + data[ihl + gre_len:])
                        n_in += 1
                    except OSError:
                        n_drop += 1
    return {"to_peer": n_out, "from_peer": n_in, "arp_replies": n_arp, "dropped": n_drop}


def open_gre_socket(local: str | None) -> socket.socket:
    """Non-blocking raw GRE socket, PMTU discovery off (kernel fragments the outer packet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_GRE)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_MTU_DISCOVER", 10),
                    getattr(socket, "IP_PMTUDISC_DONT", 0))
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
    if local:
        sock.bind((local, 0))
    return sock


@dataclass
class RelayPair:
    """Two namespaces joined by a veth (198.18.0.1/30 <-> .2), a relay in each: Tunnel0
    10.0.0.1/24 in `a`, 10.0.0.2/24 in `b`. `counts` is filled when the pair is stopped."""

    a: str
    b: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    counts: list[dict[str, int]] = field(default_factory=list)


@contextmanager
def relay_pair(prefix: str, key: int | None = None, mtu: int | None = None,
               ready_timeout: float = 10.0) -> Iterator[RelayPair]:
    """Build the pair, wait until both TAPs are up, and remove everything on exit."""
    pair = RelayPair(f"{prefix}-a-{os.getpid()}", f"{prefix}-b-{os.getpid()}")
    made: list[str] = []
    veth = f"{prefix[:6]}{os.getpid() % 10000}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], capture_output=True, text=True, check=True)

    try:
        for ns in (pair.a, pair.b):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", f"{veth}a", "netns", pair.a, "type", "veth", "peer", "name", f"{veth}b", "netns", pair.b)
        for ns, dev, addr in ((pair.a, f"{veth}a", "198.18.0.1/30"), (pair.b, f"{veth}b", "198.18.0.2/30")):
            ip("-n", ns, "addr", "add", addr, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        extra = [*(["--key", str(key)] if key is not None else []), *(["--mtu", str(mtu)] if mtu else [])]
        for ns, local, peer, tip in ((pair.a, "198.18.0.1", "198.18.0.2", "10.0.0.1/24"),
                                     (pair.b, "198.18.0.2", "198.18.0.1", "10.0.0.2/24")):
            pair.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, __file__, "--tap", "Tunnel0", "--peer", peer,
                 "--local", local, "--tunnel-ip", tip, *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + ready_timeout
        while not all(",UP" in subprocess.run(["ip", "-n", ns, "-4", "addr", "show", "Tunnel0"], capture_output=True,
                                              text=True).stdout for ns in (pair.a, pair.b)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in pair.procs):
                raise RuntimeError("bare relays did not come up")
            time.sleep(0.05)
        yield pair
    finally:
        for proc in pair.procs:
            proc.terminate()
            try:
                out, _err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _err = proc.communicate()
            if out.strip():
                pair.counts.append(json.loads(out.strip().splitlines()[-1]))
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tap", required=True, help="TAP interface name to create")
    parser.add_argument("--peer", required=True, type=IPv4Address, help="the peer's NBMA address")
    parser.add_argument("--local", type=IPv4Address, help="our NBMA (tunnel source) address")
    parser.add_argument("--tunnel-ip", required=True, type=IPv4Interface, help="e.g. 10.0.0.2/24")
    parser.add_argument("--key", type=int, help="GRE key")
    parser.add_argument("--mtu", type=int, default=1476, help="TAP MTU (default 1476, as GRE)")
    args = parser.parse_args(argv)

    tap_mac = b"\x02\x00" + args.tunnel_ip.ip.packed
    try:
        tap_fd = open_tap(args.tap)
        configure_tap(args.tap, tap_mac, args.tunnel_ip, args.mtu)
        sock = open_gre_socket(str(args.local) if args.local else None)
    except (TapError, OSError) as exc:
        print(f"bare_relay: {exc}", file=sys.stderr)
        return 1
    stop = [False]

    def _stop(_sig: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"bare_relay: {args.tap} {args.tunnel_ip} <-> GRE {args.local or '*'} -> {args.peer}",
          file=sys.stderr, flush=True)
    counts = relay(tap_fd, sock, str(args.peer), tap_mac, args.key, stop)
    sock.close()
    os.close(tap_fd)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
