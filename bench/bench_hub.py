#!/usr/bin/env python3
"""bench_hub.py: one real hub agent under 1,000 / 5,000 / 10,000 emulated NHRP spokes.

Per size: a fresh lab of topologies/hub-load.yaml (the hub agent on a /16 tunnel and
spoke1 with no agent, where the generator runs), no captures, under the scenario lock;
`dmvpnlab loadgen --json` (authenticated registrations with `--window` in flight, then
`--duration` s of refreshes at holdtime/3 and resolutions between random spokes, then
purges, unless `--show` keeps them to time `show dmvpn` / `show ip nhrp` on the hub
first); tear-down in `finally`. Prints a table, writes bench/results/hub.json
({"runs": [...]}, read by bench/plot_scale.py). The generator and the hub share this
machine's cores: the registration rate is the pair's, and the hub's CPU share says
which side was the limit.

    sudo .venv/bin/python bench/bench_hub.py [--spokes 1000,5000,10000] [--duration 20]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "hub.json"
LOCK = "/tmp/dmvpnlab-scenarios.lock"
TOPOLOGY = REPO / "topologies" / "hub-load.yaml"
DMVPNLAB = [sys.executable, "-m", "dmvpnlab"]


def dmvpnlab(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DMVPNLAB, *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def timed_show(line: str) -> tuple[float, int]:
    """Seconds for `line` on the hub through its control socket (the CLI's path), and lines."""
    from dmvpnlab.cli.client import CliClient, resolve
    from dmvpnlab.lab.records import lab_dir

    with CliClient(resolve(lab_dir("hub-load") / "hub"), 60.0) as client:
        client.send("terminal length 0")
        started = time.monotonic()
        output = str(client.send(line)["output"])
        return time.monotonic() - started, output.count("\n")


def one_size(spokes: int, args: argparse.Namespace) -> dict[str, Any]:
    up = dmvpnlab("up", str(TOPOLOGY), "--detach", "--no-captures")
    if up.returncode != 0:
        raise RuntimeError(f"bring-up failed: {up.stderr or up.stdout}")
    try:
        load = dmvpnlab("loadgen", "--lab", "hub-load", "--spokes", str(spokes), "--duration", str(args.duration),
                        "--window", str(args.window), "--json", *(["--no-purge"] if args.show else []))
        report = json.loads(load.stdout) if load.stdout.strip() else {"error": load.stderr}
        if args.show and "error" not in report:
            report["show_dmvpn_s"], report["show_dmvpn_lines"] = timed_show("show dmvpn")
            report["show_ip_nhrp_s"], report["show_ip_nhrp_lines"] = timed_show("show ip nhrp")
        return report
    finally:
        dmvpnlab("down", "hub-load")


def row(spokes: int, report: dict[str, Any]) -> dict[str, Any]:
    from dmvpnlab.loadgen.report import hub_usage

    phases = report.get("phases", {})
    burst, refresh = phases.get("burst", {}), phases.get("refresh", {})
    usage = hub_usage(report.get("hub_samples", {}), "start", "registered")
    steady = hub_usage(report.get("hub_samples", {}), "registered", "steady")
    return {
        "spokes": spokes, "registered": report.get("registered"),
        "registrations_per_s": burst.get("per_second"),
        "burst_p50_ms": burst.get("p50_ms"), "burst_p99_ms": burst.get("p99_ms"),
        "refresh_answered": refresh.get("answered"), "refresh_p50_ms": refresh.get("p50_ms"),
        "refresh_p99_ms": refresh.get("p99_ms"),
        "resolve_p99_ms": phases.get("resolve", {}).get("p99_ms"),
        "purge_per_s": phases.get("purge", {}).get("per_second"),
        "hub_cpu_burst_pct": usage["cpu_percent"], "hub_cpu_steady_pct": steady["cpu_percent"],
        "hub_rss_mb": steady["rss_mb"], "hub_pss_mb": steady["pss_mb"],
        "dropped": report.get("dropped"), "show_dmvpn_s": report.get("show_dmvpn_s"),
        "show_ip_nhrp_s": report.get("show_ip_nhrp_s"), "load_average": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spokes", default="1000,5000,10000")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--show", action="store_true", help="time show dmvpn / show ip nhrp (no purge phase)")
    args = parser.parse_args()
    runs = []
    for spokes in (int(n) for n in args.spokes.split(",")):
        with open(LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            report = one_size(spokes, args)
        runs.append({**row(spokes, report), "report": report})
        r = runs[-1]
        print(f"{spokes:>6} spokes: {r['registered']} registered at {r['registrations_per_s'] or 0:,.0f}/s "
              f"(p99 {r['burst_p99_ms'] or 0:.1f} ms), refresh p99 {r['refresh_p99_ms'] or 0:.1f} ms, "
              f"hub CPU {r['hub_cpu_burst_pct'] or 0:.0f} % / {r['hub_cpu_steady_pct'] or 0:.0f} %, "
              f"RSS {r['hub_rss_mb'] or 0:.1f} MB PSS {r['hub_pss_mb'] or 0:.1f} MB, "
              f"purge {r['purge_per_s'] or 0:,.0f}/s, show dmvpn {r['show_dmvpn_s'] or 0:.2f} s, "
              f"load {r['load_average']:.1f}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2, default=str))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
