"""Per-packet cost of the tunnel's two transports: plain GRE and GRE in ESP, same run.

    .venv/bin/python bench/bench_tunnel.py [--frames 20000] [--rounds 5] [--size 1400]
        [--transform WORDS]... [--out bench/results/tunnel.json]
        [--live [--live-seconds 5] [--live-rounds 2]]      # root: iperf3, GRE vs ESP

The kernel here has no xfrm, so with `tunnel protection` the agent seals and opens every
packet itself: this is what one packet costs in Python on the agent's real paths,
`MgreTunnel.drain_tap` (TAP frame -> NHRP next hop -> GRE -> [ESP seal] -> sendto) and
`MgreTunnel.drain_socket` (recvfrom -> [SPI lookup, ESP open] -> GRE check -> TAP write),
with the system calls replaced by stand-ins (no root, no lab), so it splits the
throughput of a protected tunnel into "our Python" and "everything else". The GRE-only
row is the same code over `GreTransport`; every ESP row uses the same tunnel over
`EspTransport` with an installed SA of that transform (both fast paths: the packet is
plain UDP to a resolved next hop). ESP's ceiling against GRE-only is the ratio shown.
Each figure is the best of `--rounds` runs of `--frames` packets (the machine is
shared: the best round is the least disturbed one). Prints a table and writes JSON (not
committed; the numbers of record go into bench/README.md).

`--live` (root) adds the throughput itself: iperf3 TCP across two namespaces of our own
(bench/tunnel_pair.py: the same `MgreTunnel` on a select loop in each, GRE-only or ESP
with hand-made SAs, no IKE), GRE-only and each ESP transform interleaved
`--live-rounds` times, medians, ESP as a fraction of GRE-only. Run it under the lab
lock (`flock /tmp/dmvpnlab-scenarios.lock ...`); everything it creates is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import sys
import time
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
try:
    import dmvpnlab  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO / "src"))

from dmvpnlab.ipsec.esp import OutboundSa  # noqa: E402
from dmvpnlab.ipsec.esp_transforms import parse_transform  # noqa: E402
from dmvpnlab.ipsec.events import ChildSaUp  # noqa: E402
from dmvpnlab.ipsec.sadb import SaDatabase  # noqa: E402
from dmvpnlab.nhrp.config import NhrpEngineConfig  # noqa: E402
from dmvpnlab.nhrp.engine import NhrpEngine  # noqa: E402
from dmvpnlab.tunnel import frames as tunnel_frames  # noqa: E402
from dmvpnlab.tunnel.esp_transport import EspTransport  # noqa: E402
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, gre_header  # noqa: E402
from dmvpnlab.tunnel.mgre import MgreTunnel  # noqa: E402
from dmvpnlab.tunnel.transport import GreTransport  # noqa: E402

RESULTS = REPO / "bench" / "results" / "tunnel.json"
TRANSFORMS = ["esp-aes 256 esp-sha256-hmac", "esp-aes esp-sha-hmac", "esp-gcm 256", "esp-gcm"]
TUNNEL_KEY = 12345  # nodes/*.j2 default `tunnel key`
TUNNEL_IP_MTU = 1400
LOCAL, PEER = IPv4Interface("10.0.0.2/24"), IPv4Address("10.0.0.3")
NBMA, PEER_NBMA = IPv4Address("100.64.1.1"), IPv4Address("100.64.2.1")
SPI_OUT, SPI_IN = 0x1000, 0x2000


class FakeTap:
    """The TAP with its read/write system calls replaced: frames from a list."""

    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.written = 0

    def read(self) -> bytes | None:
        return self.queue.pop() if self.queue else None

    def write(self, _frame: bytes) -> bool:
        self.written += 1
        return True

    def close(self) -> None:
        pass


class FakeSock:
    """A raw socket whose sendto/recvfrom are stubbed; what a real one reports as source
    is built in C, so it is a constant here."""

    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.source = (str(PEER_NBMA), 0)
        self.sent = 0

    def sendto(self, data: bytes, _address: Any) -> int:
        self.sent += 1
        return len(data)

    def send(self, _nbma: Any, data: bytes) -> bool:
        self.sendto(data, None)
        return True

    def recvfrom(self, _size: int) -> tuple[bytes, Any]:
        if not self.queue:
            raise BlockingIOError
        return self.queue.pop(), self.source

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def inner_packet(size: int) -> bytes:
    inner = bytearray(size)
    inner[0], inner[2:4], inner[8], inner[9] = 0x45, struct.pack("!H", size), 64, 17  # UDP: no MSS clamp
    inner[12:16], inner[16:20] = bytes([192, 168, 1, 10]), bytes([192, 168, 2, 10])
    return bytes(inner)


def engine() -> NhrpEngine:
    return NhrpEngine(NhrpEngineConfig(interface="Tunnel0", tunnel_address=LOCAL, nbma_address=NBMA,
                                       static_maps=[(PEER, PEER_NBMA)], shortcut=True),
                      lambda _a: None, time.monotonic())


def best_us(run: Callable[[], None], frames: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / frames * 1e6


def measure(words: str | None, frames: int, rounds: int, size: int) -> dict[str, Any]:
    """One row: TAP->NBMA and NBMA->TAP microseconds per packet over GRE (words None) or
    over ESP with `words`."""
    inner = inner_packet(size)
    tap, sock = FakeTap(), FakeSock()
    frame = tunnel_frames.tunnel_mac(PEER) + tunnel_frames.tunnel_mac(LOCAL.ip) + b"\x08\x00" + inner
    gre = gre_header(GRE_PROTO_IPV4, TUNNEL_KEY) + inner
    if words is None:
        transport: Any = GreTransport(sock=sock)  # type: ignore[arg-type]
        received = bytes([0x45]) + bytes(11) + PEER_NBMA.packed + NBMA.packed + gre
    else:
        transform = parse_transform(words)
        size_k = transform.key_lengths().total
        keymat_out, keymat_in = os.urandom(size_k), os.urandom(size_k)
        transport = EspTransport(SaDatabase(), NBMA, TUNNEL_KEY, esp_sock=sock, gre_sock=FakeSock())  # type: ignore[arg-type]
        transport.install(ChildSaUp(peer=PEER_NBMA, transform=transform, mode="transport", spi_in=SPI_IN,
                                    keymat_in=keymat_in, spi_out=SPI_OUT, keymat_out=keymat_out,
                                    lifetime_seconds=3600, lifetime_kilobytes=4_608_000, nat_t=False,
                                    peer_port=500, initiator=True), 0.0)
        # What the peer sends: sealed with our inbound SA's keys, a fresh sequence number
        # per packet (the replay window refuses repeats), made before the clock starts.
        peer_sa = OutboundSa(transform, SPI_IN, keymat_in)
        ip_header = bytes([0x45]) + bytes(11) + PEER_NBMA.packed + NBMA.packed
        sealed = [ip_header + peer_sa.seal(gre, 47) for _ in range(frames * rounds)]
        received = b""
    tunnel = MgreTunnel("Tunnel0", LOCAL, NBMA, TUNNEL_KEY, TUNNEL_IP_MTU, 1360, engine(), tap=tap,  # type: ignore[arg-type]
                        transport=transport)
    tap.queue = [frame]
    tunnel.drain_tap()  # the first packet takes the general path and fills the fast table

    def out() -> None:
        tap.queue = [frame] * frames
        tunnel.drain_tap()

    batches = iter(range(rounds))

    def back() -> None:
        if words is None:
            sock.queue = [received] * frames
        else:
            n = next(batches)
            sock.queue = sealed[n * frames:(n + 1) * frames][::-1]  # pop() from the end: in order
        tunnel.drain_socket()

    sent_before, written_before = sock.sent, tap.written
    out_us, in_us = best_us(out, frames, rounds), best_us(back, frames, rounds)
    row: dict[str, Any] = {"transport": "GRE" if words is None else f"ESP {words}",
                           "tap_to_nbma_us": round(out_us, 2), "nbma_to_tap_us": round(in_us, 2)}
    if sock.sent - sent_before != frames * rounds or tap.written - written_before != frames * rounds:
        row["warning"] = (f"sent {sock.sent - sent_before}, written {tap.written - written_before} of "
                          f"{frames * rounds}: not measuring the real path")
    if words is not None and transport.counters.drops:
        row["drops"] = dict(transport.counters.drops)
    return row


def iperf_between(pair: Any, seconds: int) -> dict[str, Any]:
    """iperf3 TCP from side a to side b's tunnel address; Mbit/s received."""
    import subprocess
    server = subprocess.Popen(["ip", "netns", "exec", pair.b, "iperf3", "-s", "-1", "-B", "10.0.0.2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while ":5201" not in subprocess.run(["ip", "netns", "exec", pair.b, "ss", "-ltn"], capture_output=True,
                                            text=True).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError("iperf3 server not listening")
            time.sleep(0.05)
        client = subprocess.run(["ip", "netns", "exec", pair.a, "iperf3", "-c", "10.0.0.2", "-t", str(seconds), "-J"],
                                capture_output=True, text=True, timeout=seconds + 30)
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(timeout=5)
    data = json.loads(client.stdout)
    if "error" in data:
        raise RuntimeError(f"iperf3: {data['error']}")
    end = data["end"]
    return {"mbit_s": round(end["sum_received"]["bits_per_second"] / 1e6, 1),
            "retransmits": end["sum_sent"].get("retransmits")}


def live(transforms: list[str], seconds: int, rounds: int) -> dict[str, Any]:
    """iperf3 across two namespaces (bench/tunnel_pair.py): GRE-only and ESP per
    transform, interleaved `rounds` times, medians; ESP as a fraction of GRE-only."""
    import statistics

    sys.path.insert(0, str(REPO / "bench"))
    from tunnel_pair import tunnel_pair

    kinds: list[str | None] = [None, *transforms]
    samples: dict[str, list[float]] = {("GRE" if k is None else f"ESP {k}"): [] for k in kinds}
    for n in range(rounds):
        for words in kinds:
            name = "GRE" if words is None else f"ESP {words}"
            with tunnel_pair("dmvtun", words, key=TUNNEL_KEY, mtu=TUNNEL_IP_MTU) as pair:
                result = iperf_between(pair, seconds)
            samples[name].append(result["mbit_s"])
            print(f"[live] round {n + 1}: {name}: {result['mbit_s']} Mbit/s", flush=True)
    gre = statistics.median(samples["GRE"])
    return {name: {"median_mbit_s": statistics.median(v), "samples": v,
                   "vs_gre": round(statistics.median(v) / gre, 3) if gre else None}
            for name, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=1400, help="inner IPv4 packet bytes")
    parser.add_argument("--transform", action="append", help="only this ESP transform (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--live", action="store_true",
                        help="also iperf3 across two namespaces (root): GRE-only vs ESP, same run")
    parser.add_argument("--live-seconds", type=int, default=5)
    parser.add_argument("--live-rounds", type=int, default=2)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    gre = measure(None, args.frames, args.rounds, args.size)
    rows = [gre] + [measure(w, args.frames, args.rounds, args.size) for w in (args.transform or TRANSFORMS)]
    for row in rows:
        row["ceiling_vs_gre"] = round((gre["tap_to_nbma_us"] + gre["nbma_to_tap_us"])
                                      / (row["tap_to_nbma_us"] + row["nbma_to_tap_us"]), 3)
    print(f"Tunnel per {args.size}-byte packet, system calls stubbed, best of {args.rounds} x {args.frames} "
          f"(load {load:.2f})")
    print(f"{'transport':<36} {'TAP->NBMA us':>13} {'NBMA->TAP us':>13} {'vs GRE':>7}")
    for row in rows:
        print(f"{row['transport']:<36} {row['tap_to_nbma_us']:>13.2f} {row['nbma_to_tap_us']:>13.2f} "
              f"{row['ceiling_vs_gre']:>7.3f}{'  ' + row['warning'] if 'warning' in row else ''}")
    throughput = None
    if args.live:
        throughput = live(args.transform or ["esp-aes 256 esp-sha256-hmac", "esp-gcm 256"],
                          args.live_seconds, args.live_rounds)
        print(f"iperf3 10.0.0.1 -> 10.0.0.2 across two namespaces, median of {args.live_rounds} x "
              f"{args.live_seconds} s (interleaved)")
        for name, result in throughput.items():
            print(f"{name:<36} {result['median_mbit_s']:>9.1f} Mbit/s  {result['vs_gre']:>6.3f} of GRE-only")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "load_1min": round(load, 2),
        "frames": args.frames, "rounds": args.rounds, "size": args.size, "rows": rows,
        "live": throughput}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if any("warning" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
