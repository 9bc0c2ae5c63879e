"""Per-packet cost of ESP seal and open for every transform, next to a plain copy.

    .venv/bin/python bench/bench_esp.py [--packets 20000] [--size 1400] [--rounds 5]

ESP runs in the router agent's per-packet path (the kernel here has no xfrm), so its
cost is the tunnel's throughput ceiling with `tunnel protection`. For each transform
this seals `--packets` payloads of `--size` bytes through one outbound SA and opens
them in order through one inbound SA, `--rounds` times, and reports the best round
(the machine is shared; the best round is the least disturbed one) in microseconds per
packet and payload MB/s, beside the cost of copying the same payload once
(`bytearray(payload)`), the least any per-packet step can cost. Needs no root and no
lab. Prints a table and writes bench/results/esp.json (not committed; the numbers of
record go into bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dmvpnlab.ipsec.esp import InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import parse_transform

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "esp.json"

TRANSFORMS = ["esp-aes esp-sha-hmac", "esp-aes 256 esp-sha-hmac", "esp-aes 256 esp-sha256-hmac",
              "esp-aes 256 esp-sha384-hmac", "esp-aes 256 esp-sha512-hmac", "esp-aes esp-md5-hmac",
              "esp-gcm", "esp-gcm 256", "esp-3des esp-sha-hmac", "esp-null esp-sha-hmac", "esp-aes"]


def best_us(fn, packets: int, rounds: int) -> float:
    """Microseconds per call of the fastest of `rounds` runs of `packets` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best / packets * 1e6


def measure(words: str, packets: int, size: int, rounds: int) -> dict[str, object]:
    transform = parse_transform(words)
    keymat = os.urandom(transform.key_lengths().total)
    payload = os.urandom(size)
    sealed: list[bytes] = []

    def seal_all() -> None:
        out = OutboundSa(transform, 0x1000, keymat)
        seal = out.seal
        sealed[:] = [seal(payload, 47) for _ in range(packets)]

    def open_all() -> None:
        opener = InboundSa(transform, 0x1000, keymat).open
        for packet in sealed:
            opener(packet)

    seal_us = best_us(seal_all, packets, rounds)
    open_us = best_us(open_all, packets, rounds)
    return {"transform": words, "packet_bytes": len(sealed[0]), "seal_us": round(seal_us, 2),
            "open_us": round(open_us, 2), "seal_mb_s": round(size / seal_us, 1), "open_mb_s": round(size / open_us, 1)}


def copy_us(packets: int, size: int, rounds: int) -> float:
    payload = os.urandom(size)

    def copy_all() -> None:
        for _ in range(packets):
            bytearray(payload)

    return best_us(copy_all, packets, rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--size", type=int, default=1400, help="payload bytes (GRE header and inner packet)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transform", action="append", help="only this transform (repeatable)")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    rows = [measure(words, args.packets, args.size, args.rounds) for words in (args.transform or TRANSFORMS)]
    copy = copy_us(args.packets, args.size, args.rounds)

    table = Table(title=f"ESP per packet, {args.size}-byte payload, best of {args.rounds} x {args.packets} "
                        f"(load {load:.2f})")
    for column in ("transform", "ESP bytes", "seal us", "open us", "seal MB/s", "open MB/s"):
        table.add_column(column, justify="left" if column == "transform" else "right")
    for row in rows:
        table.add_row(str(row["transform"]), str(row["packet_bytes"]), f"{row['seal_us']:.2f}", f"{row['open_us']:.2f}",
                      f"{row['seal_mb_s']:.0f}", f"{row['open_mb_s']:.0f}")
    table.add_row("plain copy (bytearray)", str(args.size), f"{copy:.2f}", f"{copy:.2f}",
                  f"{args.size / copy:.0f}", f"{args.size / copy:.0f}")
    Console(width=120).print(table)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "load_1min": round(load, 2),
        "packets": args.packets, "size": args.size, "rounds": args.rounds,
        "copy_us": round(copy, 3), "transforms": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
