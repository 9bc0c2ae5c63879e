"""Failover time of the dual-hub lab: hub 1 killed -> each spoke's new traffic via hub 2.

    sudo .venv/bin/python bench/bench_failover.py [--repeat 3]

topologies/dual-hub.yaml (hub + hub2 on one cloud, EIGRP hello 1 s / hold 3 s, spokes
registering every 2 s). Per run: four new spoke-to-spoke flows (ping -i 0.1) start as
hub 1's agent is SIGKILLed; the failover time of a spoke is the first of its echo requests
seen on hub2's WAN capture minus the kill's time in the fault record. Also per run: when
spoke1 saw its NHS hub 1 stop answering (E), and after hub 1's restart, when every spoke
was registered with it again and routed via it again. Baseline, measured in the same run
and the same way: four new flows with both hubs up, first echo on hub's WAN minus the
flows' start (the measurement's own floor: process start, ARP, the first redirect).
Prints a table and writes bench/results/failover.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "failover.json"
HUB1, HUB2 = "10.0.0.1", "10.0.0.101"
FLOWS = [(1, 3), (2, 4), (3, 2), (4, 1)]


def host(n: int) -> str:
    return f"192.168.{n}.10"


def nhs_states(lab: Any, node: str) -> dict[str, str]:
    from dmvpnlab import jsonline

    state = jsonline.request(lab.records.directory / node / "control.sock", {"op": "state"}, timeout=5)["state"]
    return {n["address"]: n["state"] for n in state["nhrp"]["nhs"]}


def summary_via(lab: Any, node: str) -> str | None:
    out = lab.exec(node, ["ip", "route", "show", "192.168.0.0/16"]).stdout.split()
    return out[out.index("via") + 1] if "via" in out else None


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def start_flows(lab: Any, flows: list[tuple[int, int]], count: int = 60) -> list[subprocess.Popen[str]]:
    from dmvpnlab.lab.lab import MNEXEC

    return [subprocess.Popen([MNEXEC, "-a", str(lab.node(f"h{a}").pid), "ping", "-n", "-q", "-c", str(count),
                              "-i", "0.1", "-W", "1", host(b)], stdout=subprocess.DEVNULL) for a, b in flows]


def first_on(lab: Any, link: str, flows: list[tuple[int, int]], since: float) -> dict[str, float]:
    from dmvpnlab.analysis.paths import CaptureSet

    lab.flush_captures()
    seen = CaptureSet(lab.captures.directory)
    out = {}
    for a, b in flows:
        times = [s.time for s in seen.echo(host(a), host(b), since=since) if s.link == link]
        if times:
            out[f"spoke{a}"] = round(min(times) - since, 3)
    return out


def one_run(lab: Any, flows: list[tuple[int, int]]) -> dict[str, Any]:
    for p in start_flows(lab, flows, count=1):
        p.wait(10)
    for n in range(1, 5):  # forget the shortcuts of earlier runs: new flows must reach a hub
        lab.cli(f"spoke{n}", "clear ip nhrp")
    time.sleep(1)
    started = time.time()
    base_flows = start_flows(lab, [(b, a) for a, b in flows], count=10)
    for p in base_flows:
        p.wait(20)
    baseline = first_on(lab, "hub-isp", [(b, a) for a, b in flows], started)
    for n in range(1, 5):
        lab.cli(f"spoke{n}", "clear ip nhrp")
    time.sleep(1)
    kill = lab.fault("kill", "hub")
    procs = start_flows(lab, flows)
    detect = time.time() if wait(lambda: nhs_states(lab, "spoke1").get(HUB1) == "E", 15) else None
    for p in procs:
        p.wait(30)
    failover = first_on(lab, "hub2-isp", flows, kill.time)
    restart = lab.fault("restart", "hub")
    registered = wait(lambda: all(nhs_states(lab, f"spoke{n}").get(HUB1) == "R" for n in range(1, 5)), 30)
    reg_s = time.time() - restart.time
    routed = wait(lambda: all(summary_via(lab, f"spoke{n}") == HUB1 for n in range(1, 5)), 30)
    return {"baseline_first_packet_s": baseline, "failover_s": failover,
            "nhs_down_seen_s": round(detect - kill.time, 3) if detect else None,
            "hub_back_registered_s": round(reg_s, 3) if registered else None,
            "hub_back_routed_s": round(time.time() - restart.time, 3) if routed else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from dmvpnlab.lab.lab import Lab

    runs = []
    with Lab.up(REPO / "topologies" / "dual-hub.yaml", quiet=True) as lab:
        if not wait(lambda: all(summary_via(lab, f"spoke{n}") == HUB1 for n in range(1, 5)), 30):
            raise SystemExit("the spokes never routed via hub: not reporting a number")
        for i in range(args.repeat):
            run = one_run(lab, FLOWS)
            runs.append(run)
            print(f"run {i + 1}: {run}", flush=True)
    failovers = [t for r in runs for t in r["failover_s"].values()]
    baselines = [t for r in runs for t in r["baseline_first_packet_s"].values()]
    if len(failovers) < len(FLOWS) * args.repeat:
        print("some flows never reached hub2", file=sys.stderr)
    summary = {
        "failover_s": {"median": statistics.median(failovers), "min": min(failovers), "max": max(failovers)},
        "baseline_first_packet_s": {"median": statistics.median(baselines), "max": max(baselines)},
        "nhs_down_seen_s": statistics.median([r["nhs_down_seen_s"] for r in runs if r["nhs_down_seen_s"]]),
        "hub_back_registered_s": statistics.median([r["hub_back_registered_s"] for r in runs if r["hub_back_registered_s"]]),
        "hub_back_routed_s": statistics.median([r["hub_back_routed_s"] for r in runs if r["hub_back_routed_s"]]),
        "eigrp_hold_s": 3, "registration_timeout_s": 2, "flows_per_run": len(FLOWS), "runs": args.repeat,
    }
    print(json.dumps(summary, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    return 0 if len(failovers) == len(FLOWS) * args.repeat else 1


if __name__ == "__main__":
    sys.exit(main())
