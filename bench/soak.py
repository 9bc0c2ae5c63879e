"""Soak: a 20-spoke Phase 3 lab, traffic between random spoke pairs, random faults, 30 minutes.

    sudo .venv/bin/python bench/soak.py [--minutes 30] [--spokes 20] [--seed 1] [--fault-every 3 8]

Not in `make test`. The lab (hub + N spokes, holdtime 60 s so registrations and shortcuts
refresh or expire many times, registration every 5 s, no captures: 30 minutes of pcaps
are not the point) runs three things side by side, all inside its namespaces:
- traffic: one random host pair at a time, `ping -c 5 -i 0.2` (bounded: about one pair a second);
- faults: every 3..8 s one of flap / link cut / 10 % loss / 30 ms delay / reload / crash /
  kill-and-restart on a random spoke, rarely the ISP down 2 s or a hub reload, each through
  `Lab.fault` and so in the lab's fault record;
- samples every 20 s: each agent's RSS and NHRP cache (`expires_in` of every entry).
Then faults stop and are cleared, the lab settles (60 s at most), every spoke's NHS must
respond and 10 random pairs must reach each other; the lab goes down and nothing of it may
be left. bench/soak_verdict.py judges; the verdict and its numbers are printed and written
to bench/results/soak.json (bench/results/ is not committed; bench/README.md keeps the
numbers of record).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "soak.json"
sys.path.insert(0, str(REPO / "bench"))

from agent_lab import proc_status_kb  # noqa: E402
from soak_verdict import verdict  # noqa: E402

SAMPLE_EVERY_S = 20.0
WARMUP_S = 180.0  # an agent's RSS climbs for its first 2-3 minutes (imports, caches), then levels


def soak_topology(spokes: int) -> Any:
    from dmvpnlab.lab.topology.build import topology_from_data

    data = {"name": "soak", "vars": {"phase": 3, "nhrp_holdtime": 60, "nhrp_registration_timeout": 5},
            "hub": {"template": "hub.j2"}, "spokes": spokes, "spoke_defaults": {"template": "spoke.j2"}}
    return topology_from_data(data, REPO / "bench" / "soak.yaml")


def host(n: int) -> str:
    return f"192.168.{n}.10"


class Soak:
    def __init__(self, lab: Any, spokes: int, rng: random.Random, deadline: float) -> None:
        self.lab = lab
        self.spokes = spokes
        self.rng = rng
        self.deadline = deadline
        self.started = time.monotonic()
        self.samples: list[dict[str, Any]] = []
        self.traffic: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()

    # -- traffic and samples, in threads

    def run_traffic(self) -> None:
        while not self.stop.is_set():
            a, b = self.rng.sample(range(1, self.spokes + 1), 2)
            out = self.lab.exec(f"h{a}", ["ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", host(b)], timeout=15)
            self.traffic["pings"] += 5
            self.traffic["replies"] += _received(out.stdout)

    def run_samples(self) -> None:
        from dmvpnlab import jsonline

        while not self.stop.wait(SAMPLE_EVERY_S):
            rss, caches = {}, {}
            for handle in list(self.lab.agents):
                pid = handle.popen.pid
                rss_kib = proc_status_kb(pid, "VmRSS")
                if rss_kib is None:
                    continue  # an agent being restarted by a fault right now
                rss[f"{handle.node}:{pid}"] = rss_kib
                try:
                    state = jsonline.request(handle.state_dir / "control.sock", {"op": "state"}, timeout=5)["state"]
                    caches[handle.node] = [{"prefix": e["prefix"], "expires_in": e["expires_in"]}
                                           for e in state["nhrp"]["cache"]]
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # an agent being restarted by a fault right now
            self.samples.append({"t": round(time.monotonic() - self.started, 1), "rss_kib": rss, "caches": caches})

    # -- faults, in the main thread

    def spoke(self) -> str:
        return f"spoke{self.rng.randint(1, self.spokes)}"

    def one_fault(self) -> None:
        lab, target = self.lab, self.spoke()
        choices: list[tuple[str, float, Callable[[], None]]] = [
            ("flap", 3, lambda: (lab.fault("flap", target, period=2, duration=6), lab.wait_faults(20))),
            ("link-down", 3, lambda: (lab.fault("link-down", target, duration=3), lab.wait_faults(10))),
            ("loss", 2, lambda: (lab.fault("loss", target, percent=10), time.sleep(8),
                                 lab.fault("loss", target, percent=0))),
            ("delay", 2, lambda: (lab.fault("delay", target, ms=30, jitter=10), time.sleep(8),
                                  lab.fault("delay", target, ms=0))),
            ("reload", 2, lambda: lab.fault("reload", target)),
            ("crash", 2, lambda: lab.fault("crash", target)),
            ("kill", 2, lambda: (lab.fault("kill", target), time.sleep(4), lab.fault("restart", target))),
            ("isp-down", 0.5, lambda: (lab.fault("isp-down", "isp", duration=2), lab.wait_faults(10))),
            ("hub-reload", 0.3, lambda: lab.fault("reload", "hub")),
        ]
        name, _, run = self.rng.choices(choices, weights=[w for _, w, _ in choices])[0]
        try:
            run()
            self.faults[name] += 1
        except Exception as error:  # noqa: BLE001 - a fault that failed is a finding, not a crash of the soak
            self.errors.append(f"{name} {target}: {error}")

    def run_faults(self, every: tuple[float, float]) -> None:
        while time.monotonic() < self.deadline:
            self.one_fault()
            time.sleep(self.rng.uniform(*every))


def _received(stdout: str) -> int:
    for line in stdout.splitlines():
        if "packets transmitted" in line:
            return int(line.split(",")[1].split()[0])
    return 0


def settle(lab: Any, spokes: int, rng: random.Random) -> dict[str, Any]:
    """After the faults: every NHS responding within 60 s, and 10 random pairs reaching each other."""
    from dmvpnlab import jsonline

    def not_responding() -> list[str]:
        bad = []
        for handle in lab.agents:
            try:
                nhs = jsonline.request(handle.state_dir / "control.sock", {"op": "state"}, timeout=5)["state"]["nhrp"]["nhs"]
            except (OSError, ValueError, KeyError):
                bad.append(handle.node)
                continue
            if any(n["state"] not in ("R", "W") for n in nhs):
                bad.append(handle.node)
        return bad

    deadline = time.monotonic() + 60
    while (waiting := not_responding()) and time.monotonic() < deadline:
        time.sleep(1)
    unreachable = []
    for a, b in [rng.sample(range(1, spokes + 1), 2) for _ in range(10)]:
        if not any(_received(lab.exec(f"h{a}", ["ping", "-n", "-q", "-c", "3", "-W", "1", host(b)]).stdout)
                   for _ in range(3)):
            unreachable.append(f"h{a}->h{b}")
    return {"nhs_not_responding": waiting, "unreachable_pairs": unreachable,
            "settle_s": round(60 - max(0.0, deadline - time.monotonic()), 1)}


def left_behind(run_dir: str, namespaces: set[int], processes: set[tuple[int, Any]]) -> list[str]:
    """What of this lab is still there after tear-down: a process it recorded or that runs from
    its run directory, or any process inside one of its namespaces. Other labs on the
    machine (a concurrent test run) are not ours to count."""
    from dmvpnlab.lab.records import list_pids, proc_cmdline, proc_netns, proc_start_time

    out = []
    for pid in list_pids():
        if pid == os.getpid():
            continue  # this soak: the lab's recorded owner
        cmd = " ".join(proc_cmdline(pid))
        if (pid, proc_start_time(pid)) in processes or run_dir in cmd or proc_netns(pid) in namespaces:
            out.append(f"PID {pid}: {cmd[:120]}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--spokes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-every", type=float, nargs=2, default=(3.0, 8.0), metavar=("MIN", "MAX"))
    args = parser.parse_args()

    from dmvpnlab.lab.lab import Lab

    rng = random.Random(args.seed)
    started = time.time()
    lab = Lab.up(soak_topology(args.spokes), quiet=True, captures=False)
    print(f"soak: {args.spokes} spokes up in {lab.timings['up']:.1f} s; {args.minutes:g} min of traffic and faults",
          flush=True)
    soak = Soak(lab, args.spokes, rng, time.monotonic() + args.minutes * 60)
    threads = [threading.Thread(target=soak.run_traffic, daemon=True),
               threading.Thread(target=soak.run_samples, daemon=True)]
    final: dict[str, Any] = {}
    try:
        for t in threads:
            t.start()
        soak.run_faults(tuple(args.fault_every))
        soak.stop.set()
        for t in threads:
            t.join(30)
        lab.clear_faults()
        final = settle(lab, args.spokes, rng)
        fault_events = len(lab.faults())
    finally:
        soak.stop.set()
        ours = (str(lab.records.directory), {ns.inode for ns in lab.records.namespaces()},
                {(p.pid, p.start_time) for p in lab.records.processes()})
        lab.down()
    time.sleep(1)
    leaked = left_behind(*ours)
    final["leaked"] = leaked
    result = verdict(soak.samples, final, warmup_s=WARMUP_S, min_window_s=args.minutes * 60 / 3)
    loss = 1 - soak.traffic["replies"] / max(1, soak.traffic["pings"])
    numbers = {**result.numbers, "minutes": args.minutes, "spokes": args.spokes, "seed": args.seed,
               "faults": dict(soak.faults), "fault events recorded": fault_events,
               "fault errors": soak.errors[:10], "pings": soak.traffic["pings"],
               "ping loss % (under faults)": round(loss * 100, 2), **{k: v for k, v in final.items() if k != "leaked"},
               "leaked": leaked, "wall_s": round(time.time() - started, 1)}
    result.numbers = numbers
    if soak.errors:
        result.ok = False
        result.reasons.append(f"{len(soak.errors)} faults failed to apply: {soak.errors[:3]}")
    print("\n".join(result.lines()), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"ok": result.ok, "reasons": result.reasons, "numbers": numbers,
                                   "samples": soak.samples}, indent=1))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
