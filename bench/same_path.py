"""Only the aim's measurement: spoke1 -> spoke2 through Tunnel0 vs two bare relays.

bench_agent.py runs this as one step among many (about 1.5 min); this script brings
the 2-spoke Phase 3 lab up, runs `--rounds` interleaved (bare relay, tunnel) iperf3
pairs on the same path and prints the medians and their ratio, so a change to the data
path can be judged in well under the lab lock's few minutes. `--strace` counts the
spoke1 agent's system calls during one extra tunnel run (syscalls per packet).

    flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python bench/same_path.py --rounds 3 --seconds 3

Run the old code for a baseline with PYTHONPATH=/tmp/copy-of-src (the agents inherit it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from typing import Any

from agent_lab import (phase3_topology, relay_in_lab_throughput, state, tunnel_spoke_to_spoke,
                       wait_registered)
from agent_profile import profile_agents
from dmvpnlab.lab.lab import Lab


def strace_during(lab: Lab, seconds: int) -> dict[str, Any]:
    """`strace -c -f` on spoke1's agent during one tunnel iperf3 run: calls by name, and
    packets the tunnel sent (GRE out) so calls per packet can be read off."""
    pid = next(h.popen.pid for h in lab.agents if h.node == "spoke1")
    before = state(lab, "spoke1")["tunnel"]
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", "/tmp/same_path_strace.txt"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = tunnel_spoke_to_spoke(lab, seconds)
    finally:
        tracer.terminate()
        tracer.wait(timeout=10)
    after = state(lab, "spoke1")["tunnel"]
    with open("/tmp/same_path_strace.txt", encoding="utf-8") as f:
        text = f.read()
    return {"mbps": result["received_mbps"], "gre_out": after["gre_out"] - before["gre_out"],
            "gre_in": after["gre_in"] - before["gre_in"], "strace": text}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy spoke1/spoke2 during one more run")
    args = parser.parse_args()
    lab = Lab.up(phase3_topology(2, "bench-same-path"), captures=False, quiet=True)
    try:
        wait_registered(lab, 2)
        lab.exec("spoke1", ["ping", "-n", "-q", "-c", "5", "-i", "0.05", "10.0.0.3"])
        runs = []
        for n in range(args.rounds):
            load = os.getloadavg()[0]
            relay = relay_in_lab_throughput(lab, args.seconds, lambda _m: None)["received_mbps"]
            tunnel = tunnel_spoke_to_spoke(lab, args.seconds)["received_mbps"]
            runs.append({"relay": relay, "tunnel": tunnel, "load": round(load, 2)})
            print(f"round {n + 1}: relay {relay} tunnel {tunnel} ratio {tunnel / relay:.3f} load {load:.2f}",
                  flush=True)
        r = statistics.median(x["relay"] for x in runs)
        t = statistics.median(x["tunnel"] for x in runs)
        out: dict[str, Any] = {"relay_mbps": r, "tunnel_mbps": t, "ratio": round(t / r, 3), "runs": runs}
        if args.strace:
            out["strace"] = strace_during(lab, args.seconds)
        if args.profile:
            out["profile"] = profile_agents(lab, args.seconds, print)
        print(json.dumps({k: v for k, v in out.items() if k != "strace"}, indent=1))
        if args.strace:
            s = out["strace"]
            print(f"strace run: {s['mbps']} Mbit/s, gre_out {s['gre_out']}, gre_in {s['gre_in']}")
            print(s["strace"])
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
