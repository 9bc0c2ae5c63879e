"""Bring-up and tear-down time of the underlay lab (no agents) for 2, 50 and 200 spokes.

    sudo .venv/bin/python bench/bench_underlay.py [--spokes 2 50 200] [--repeat 1] [--no-captures]

Each size is a generated topology (`hub` + `spokes: N`, one host per router, no
templates), brought up with `Lab.up` exactly as `dmvpnlab up` does (namespaces, veths,
addresses, routes, one dumpcap per underlay link) and torn down with `Lab.down`. Before
tear-down the last spoke pings the hub's NBMA address, so a number is only reported for a
lab that works. Prints a table and writes bench/results/underlay.json (bench/results/ is
not committed; the numbers of record go into bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "underlay.json"


def measure(spokes: int, captures: bool) -> dict[str, float | int]:
    from dmvpnlab.lab.lab import Lab
    from dmvpnlab.lab.topology.build import topology_from_data

    topo = topology_from_data({"hub": {}, "spokes": spokes}, REPO / "bench" / f"bench-underlay-{spokes}.yaml")
    started = time.monotonic()
    lab = Lab.up(topo, quiet=True, captures=captures, captures_root=REPO / "captures")
    up = time.monotonic() - started
    try:
        last = topo.spokes[-1].name
        ok = lab.ping(last, str(topo.hub.nbma_address)).ok
        nodes = len(lab.nodes)
        links = len(lab.net.links)
        capture_count = len(lab.capture_files())
    finally:
        started = time.monotonic()
        lab.down()
        down = time.monotonic() - started
    if not ok:
        raise SystemExit(f"{spokes} spokes: {last} could not reach the hub; not reporting a number")
    return {"spokes": spokes, "nodes": nodes, "links": links, "captures": capture_count,
            "up_s": round(up, 3), "down_s": round(down, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", type=int, nargs="+", default=[2, 50, 200])
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (the median is reported)")
    parser.add_argument("--no-captures", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_underlay: needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    rows = []
    load_before = os.getloadavg()[0]
    for n in args.spokes:
        runs = [measure(n, not args.no_captures) for _ in range(args.repeat)]
        row = dict(runs[0])
        row["up_s"] = round(statistics.median(r["up_s"] for r in runs), 3)
        row["down_s"] = round(statistics.median(r["down_s"] for r in runs), 3)
        row["runs"] = len(runs)
        rows.append(row)
        print(f"{n} spokes: up {row['up_s']:.2f} s, down {row['down_s']:.2f} s", flush=True)
    table = Table(title="underlay bring-up / tear-down (median)")
    for col in ("spokes", "nodes", "links", "captures", "up_s", "down_s"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("spokes", "nodes", "links", "captures", "up_s", "down_s")))
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "bench": "underlay", "captures": not args.no_captures,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                    # the 1-min load average around the run: other work on the machine slows bring-up
                    "loadavg_before": round(load_before, 1), "loadavg_after": round(os.getloadavg()[0], 1)},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": rows,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
