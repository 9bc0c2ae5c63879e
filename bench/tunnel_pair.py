"""Two namespaces, an mGRE tunnel in each over plain GRE or over ESP: the agent's data plane alone.

Each side runs the agent's `MgreTunnel` (TAP Tunnel0, NHRP engine with a static map to
the other side) on a select loop, over `GreTransport` or over `EspTransport` with an SA
pair made by the caller (hand-made `ChildSaUp`s with random keys, as Quick Mode would
hand them over; no IKE). With `nat_t`, ESP travels in UDP 4500 (RFC 3948) through a
plain UDP socket of the child's own, as the agent's IPsec node does. So a throughput
measured across a pair is the tunnel's, GRE-only and protected, on the same path in
the same run. The live test (tests/test_tunnel_esp_live.py) and bench_tunnel.py --live
use it.

Inside a namespace (root):
    python bench/tunnel_pair.py '{"local": ..., "peer": ..., "tunnel": "10.0.0.1/24", ...}'
prints "ready" once the TAP is up, runs until SIGTERM, then prints its counters as JSON.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any, Iterator

try:
    import dmvpnlab  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dmvpnlab.ipsec.esp_transforms import parse_transform  # noqa: E402
from dmvpnlab.ipsec.events import ChildSaUp  # noqa: E402
from dmvpnlab.ipsec.sadb import SaDatabase  # noqa: E402
from dmvpnlab.nhrp.config import NhrpEngineConfig  # noqa: E402
from dmvpnlab.nhrp.engine import NhrpEngine  # noqa: E402
from dmvpnlab.tunnel.esp_transport import EspTransport  # noqa: E402
from dmvpnlab.tunnel.mgre import MgreTunnel  # noqa: E402
from dmvpnlab.tunnel.transport import GreTransport  # noqa: E402

A, B = IPv4Address("198.18.0.1"), IPv4Address("198.18.0.2")
TUNNEL = {A: IPv4Interface("10.0.0.1/24"), B: IPv4Interface("10.0.0.2/24")}


def child_sa_pair(words: str, nat_t: bool = False, spi_ab: int = 0x1000A0B0,
                  spi_ba: int = 0x2000B0A0) -> dict[IPv4Address, dict[str, Any]]:
    """The SA pair of A and B as JSON-able arguments: what each side installs."""
    transform = parse_transform(words)
    size = transform.key_lengths().total
    key_ab, key_ba = os.urandom(size), os.urandom(size)
    return {
        A: {"spi_in": spi_ba, "keymat_in": key_ba.hex(), "spi_out": spi_ab, "keymat_out": key_ab.hex(),
            "initiator": True},
        B: {"spi_in": spi_ab, "keymat_in": key_ab.hex(), "spi_out": spi_ba, "keymat_out": key_ba.hex(),
            "initiator": False},
    }


def _up(arg: dict[str, Any], peer: IPv4Address) -> ChildSaUp:
    sa = arg["sa"]
    return ChildSaUp(peer=peer, transform=parse_transform(arg["words"]), mode="transport",
                     spi_in=sa["spi_in"], keymat_in=bytes.fromhex(sa["keymat_in"]),
                     spi_out=sa["spi_out"], keymat_out=bytes.fromhex(sa["keymat_out"]),
                     lifetime_seconds=3600, lifetime_kilobytes=4_608_000, nat_t=arg["nat_t"],
                     peer_port=4500 if arg["nat_t"] else 500, initiator=sa["initiator"])


def run(arg: dict[str, Any]) -> dict[str, Any]:
    """One side, until SIGTERM; its counters."""
    local, peer = IPv4Address(arg["local"]), IPv4Address(arg["peer"])
    tip, peer_tip = IPv4Interface(arg["tunnel"]), IPv4Address(arg["peer_tunnel"])
    now = time.monotonic()
    engine = NhrpEngine(NhrpEngineConfig(interface="Tunnel0", tunnel_address=tip, nbma_address=local,
                                         static_maps=[(peer_tip, peer)]), lambda _a: None, now)
    udp: socket.socket | None = None
    transport: Any
    if arg.get("words"):
        transport = EspTransport(SaDatabase(), local, arg["key"])
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setblocking(False)
        udp.bind(("0.0.0.0", 4500))
        transport.udp_sendto = udp.sendto
        up = _up(arg, peer)
        if arg.get("install_late"):  # the first packet waits for the SA, as it waits for IKE
            transport.on_need_sa = lambda nbma: None if transport.has_sa(nbma) else transport.install(up, time.monotonic())
        else:
            transport.install(up, now)
    else:
        transport = GreTransport()
    tunnel = MgreTunnel("Tunnel0", tip, local, arg["key"], arg.get("mtu", 1400), arg.get("mss"), engine,
                        transport=transport)
    engine.start(now)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    fds = {tunnel.tap.fileno(): "tap", **{fd: "raw" for fd in transport.filenos()}}
    if udp is not None:
        fds[udp.fileno()] = "udp"
    print("ready", flush=True)
    while not stop:
        try:
            ready, _, _ = select.select(list(fds), [], [], 0.1)
        except InterruptedError:
            continue
        for fd in ready:
            kind = fds[fd]
            if kind == "tap":
                tunnel.drain_tap()
            elif kind == "udp":
                assert udp is not None
                while True:
                    try:
                        data, source = udp.recvfrom(65535)
                    except BlockingIOError:
                        break
                    transport.receive_udp_esp(data, source)
                tunnel.drain_socket()
            else:
                tunnel.drain_socket()
    c = transport.counters
    out: dict[str, Any] = {"gre_in": c.gre_in, "gre_out": c.gre_out, "drops": dict(c.drops)}
    if isinstance(transport, EspTransport):
        views = transport.sadb.views("Tunnel0", "P", local)
        out.update(esp=dict(transport.esp), heard=sorted(transport.heard),
                   encaps=[v.counters_out.pkts_encaps for v in views], decaps=[v.counters_in.pkts_decaps for v in views])
    tunnel.close()
    if udp is not None:
        udp.close()
    return out


@dataclass
class TunnelPair:
    """Two namespaces joined by a veth (198.18.0.1/30 <-> .2), a tunnel in each: Tunnel0
    10.0.0.1/24 in `a`, 10.0.0.2/24 in `b`. `results` is filled when the pair stops."""

    a: str
    b: str
    veth: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def tunnel_pair(prefix: str, words: str | None = None, nat_t: bool = False, key: int | None = 12345,
                mtu: int = 1400, install_late: bool = False) -> Iterator[TunnelPair]:
    """Build the pair (GRE-only when `words` is None, else ESP with that transform), wait
    until both sides are ready, and remove everything on exit (processes by PID)."""
    tag = f"{os.getpid() % 10000}{prefix[-3:]}"
    pair = TunnelPair(f"{prefix}-a-{tag}", f"{prefix}-b-{tag}", f"tp{tag}"[:12])
    made: list[str] = []

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], capture_output=True, text=True, check=True)

    sas = child_sa_pair(words, nat_t) if words else {}
    try:
        for ns in (pair.a, pair.b):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", f"{pair.veth}a", "netns", pair.a, "type", "veth", "peer", "name", f"{pair.veth}b",
           "netns", pair.b)
        for ns, dev, address in ((pair.a, f"{pair.veth}a", A), (pair.b, f"{pair.veth}b", B)):
            ip("-n", ns, "addr", "add", f"{address}/30", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        for ns, me, peer in ((pair.a, A, B), (pair.b, B, A)):
            arg = {"local": str(me), "peer": str(peer), "tunnel": str(TUNNEL[me]), "peer_tunnel": str(TUNNEL[peer].ip),
                   "key": key, "mtu": mtu, "words": words, "nat_t": nat_t, "sa": sas.get(me),
                   "install_late": install_late and me == A}
            pair.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, json.dumps(arg)],
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for proc in pair.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"tunnel side did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield pair
    finally:
        for proc in pair.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                out, _err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _err = proc.communicate()
            if out and out.strip():
                pair.results.append(json.loads(out.strip().splitlines()[-1]))
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(run(json.loads(args[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
