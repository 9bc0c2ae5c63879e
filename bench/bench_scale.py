"""Full router agents at scale: `topologies/scale.yaml` at 10, 50, 100, 250, 500 spokes.

Per size, as a user runs it (`dmvpnlab up topologies/scale.yaml --spokes N`: templates,
management network, captures only with --captures):
1. bring-up, split into the phases `Lab.up` reports, and the time until the hub holds
   every spoke's registration (the hub's state, polled);
2. memory per agent from /proc/PID/smaps_rollup: PSS (pages shared with the agent zygote
   and the other agents counted once, divided among them), RSS and Private_*; hub, median
   and largest spoke, the sum; and the drop of MemAvailable across the bring-up;
3. a redirect storm: `pairs` random spoke pairs ping LAN address to LAN address at once;
   wait until both ends of every pair hold a shortcut route to the other's LAN; the hub's
   Traffic Indications sent against what its rate limit allows (one per (source,
   destination) per `ip nhrp redirect timeout`, 2 s by default; nhrp/engine.py `hairpin`);
4. tear-down time, and that every recorded PID is gone afterwards.

    sudo .venv/bin/python bench/bench_scale.py [--spokes 10,50,100,250,500] [--pairs 100] [--captures]

Writes bench/results/scale.json after every size (a late failure keeps the earlier ones).
Only processes this script started (pings) and the lab's own are signalled.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_lab import REPO, RESULTS, BenchError, state  # noqa: E402

from dmvpnlab.lab import lab as lab_module  # noqa: E402
from dmvpnlab.lab.lab import MNEXEC, Lab  # noqa: E402
from dmvpnlab.lab.progress import Reporter  # noqa: E402
from dmvpnlab.lab.topology.yamlfile import load_topology  # noqa: E402

TOPOLOGY = REPO / "topologies" / "scale.yaml"
REDIRECT_TIMEOUT = 2.0  # nhrp/config.py DEFAULT_REDIRECT_TIMEOUT: the hub's per-flow rate limit
SHORTCUT_TIMEOUT = 120.0


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class PhaseClock(Reporter):
    """A quiet Reporter that also notes when `Lab.up` enters each phase (bench only)."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.marks: list[tuple[str, float]] = []

    def phase(self, description: str, total: int) -> None:
        self.marks.append((description, time.monotonic()))
        super().phase(description, total)

    def durations(self, start: float, end: float) -> dict[str, float]:
        """Seconds spent in each phase (a phase entered twice is summed); 'before first phase' too."""
        out: dict[str, float] = {}
        edges = [("setup", start), *self.marks, ("end", end)]
        for (name, t0), (_, t1) in zip(edges, edges[1:]):
            out[name] = round(out.get(name, 0.0) + t1 - t0, 3)
        return out


def mem_available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise BenchError("no MemAvailable in /proc/meminfo")


def smaps_rollup_kb(pid: int) -> dict[str, int]:
    """Pss, Rss, Private_Clean, Private_Dirty, Shared_* of one process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            out[key.strip()] = int(parts[0])
    return out


def memory(lab: Lab) -> dict[str, Any]:
    """Per-agent PSS/RSS (MB): hub, median spoke, largest spoke, totals."""
    per: dict[str, dict[str, int]] = {}
    for h in lab.agents:
        try:
            per[h.node] = smaps_rollup_kb(h.popen.pid)
        except OSError:
            continue
    spokes = {n: v for n, v in per.items() if n != "hub"}
    mb = lambda kb: round(kb / 1024, 2)  # noqa: E731
    pss = sorted(v["Pss"] for v in spokes.values())
    rss = sorted(v["Rss"] for v in spokes.values())
    priv = sorted(v.get("Private_Dirty", 0) + v.get("Private_Clean", 0) for v in spokes.values())
    return {
        "hub_pss_mb": mb(per["hub"]["Pss"]), "hub_rss_mb": mb(per["hub"]["Rss"]),
        "spoke_pss_median_mb": mb(statistics.median(pss)), "spoke_pss_max_mb": mb(pss[-1]),
        "spoke_rss_median_mb": mb(statistics.median(rss)), "spoke_rss_max_mb": mb(rss[-1]),
        "spoke_private_median_mb": mb(statistics.median(priv)),
        "total_pss_mb": mb(sum(v["Pss"] for v in per.values())),
        "total_rss_mb": mb(sum(v["Rss"] for v in per.values())),
        "agents_measured": len(per),
    }


def wait_all_registered(lab: Lab, spokes: int, timeout: float) -> float:
    """Monotonic time at which the hub's cache first holds `spokes` registered entries."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [e for e in state(lab, "hub", timeout=10)["nhrp"]["cache"] if "registered" in e["flags"]]
        if len(entries) >= spokes:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise BenchError(f"only {len(entries)} of {spokes} spokes registered after {timeout:.0f} s")
        time.sleep(0.1)


def indications_sent(hub_state: dict[str, Any]) -> int:
    sent = hub_state["nhrp"]["traffic"]["sent"]
    return sum(v for k, v in sent.items() if "indication" in str(k).lower() or str(k) == "8")


def has_shortcut_to(node_state: dict[str, Any], network: str) -> bool:
    return any(r.get("prefix") == network for r in node_state.get("shortcut_routes") or [])


def redirect_storm(lab: Lab, pairs: int, seed: int) -> dict[str, Any]:
    """`pairs` random spoke pairs ping LAN to LAN at once; time until every pair has shortcuts both ways.

    Each ping runs until its pair resolved (a flow, as a user's traffic would be): a pair
    whose first Traffic Indication or resolution was lost gets redirected again after the
    hub's rate-limit window, as on IOS, instead of going quiet after a fixed count.
    """
    topo = lab.topology
    spokes = [r for r in topo.routers if r.role == "spoke"]
    rng = random.Random(seed)
    chosen: set[tuple[str, str]] = set()
    while len(chosen) < pairs:
        a, b = rng.sample(spokes, 2)
        if (a.name, b.name) not in chosen and (b.name, a.name) not in chosen:
            chosen.add((a.name, b.name))
    by_name = {r.name: r for r in spokes}
    ti_before = indications_sent(state(lab, "hub", timeout=10))
    started = time.monotonic()
    pings = []
    order = sorted(chosen)
    for a, b in order:
        ra, rb = by_name[a], by_name[b]
        argv = [MNEXEC, "-a", str(lab.node(a).pid), "ping", "-q", "-c", str(int(SHORTCUT_TIMEOUT / 0.5)), "-i", "0.5", "-W", "1",
                "-I", str(ra.lan.router_address.ip), str(rb.lan.router_address.ip)]
        pings.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    pending = {(a, b) for a, b in chosen}
    resolved_at: list[float] = []
    deadline = started + SHORTCUT_TIMEOUT
    try:
        while pending and time.monotonic() < deadline:
            for a, b in list(pending):
                try:
                    sa, sb = state(lab, a, timeout=10), state(lab, b, timeout=10)
                except (OSError, BenchError):
                    continue
                if has_shortcut_to(sa, str(by_name[b].lan.network)) and has_shortcut_to(sb, str(by_name[a].lan.network)):
                    pending.discard((a, b))
                    resolved_at.append(time.monotonic() - started)
                    ping = pings[order.index((a, b))]
                    if ping.poll() is None:
                        ping.terminate()
            if pending:
                time.sleep(0.2)
        elapsed = time.monotonic() - started
        ti_after = indications_sent(state(lab, "hub", timeout=10))
    finally:
        for p in pings:
            if p.poll() is None:
                p.terminate()
        for p in pings:
            p.wait(10)
    # Rate limit: one Traffic Indication per (source, destination) per REDIRECT_TIMEOUT, each
    # direction of a pair is its own flow (requests and replies both hairpin at the hub).
    allowed = 2 * pairs * (math.floor(elapsed / REDIRECT_TIMEOUT) + 1)
    sent = ti_after - ti_before
    return {
        "pairs": pairs, "resolved": pairs - len(pending), "unresolved": sorted(f"{a}-{b}" for a, b in pending),
        "all_resolved_s": round(max(resolved_at), 3) if resolved_at and not pending else None,
        "median_resolved_s": round(statistics.median(resolved_at), 3) if resolved_at else None,
        "traffic_indications_sent": sent, "rate_limit_allows": allowed, "rate_limit_held": sent <= allowed,
        "window_s": round(elapsed, 3),
    }


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def run_size(spokes: int, pairs: int, captures: bool, seed: int) -> dict[str, Any]:
    topo = load_topology(TOPOLOGY, spokes=spokes)
    load_before = os.getloadavg()[0]
    mem_before = mem_available_kb()
    clock = PhaseClock()
    original = lab_module.Reporter.on_terminal
    lab_module.Reporter.on_terminal = classmethod(lambda cls, quiet=False: clock)  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        lab = Lab.up(topo, captures=captures, quiet=True)
    finally:
        lab_module.Reporter.on_terminal = original  # type: ignore[method-assign]
    up_done = time.monotonic()
    result: dict[str, Any] = {"spokes": spokes, "captures": captures, "loadavg_1min_before": round(load_before, 2)}
    pids: list[int] = []
    try:
        registered = wait_all_registered(lab, spokes, timeout=120)
        result["lab_up_s"] = round(up_done - started, 3)
        result["all_registered_s"] = round(registered - started, 3)
        result["phases_s"] = clock.durations(started, up_done)
        time.sleep(1.0)  # let the agents settle before reading memory
        result["memory"] = memory(lab)
        result["memory"]["mem_available_drop_mb"] = round((mem_before - mem_available_kb()) / 1024, 1)
        log(f"{spokes} spokes: up {result['lab_up_s']} s, registered {result['all_registered_s']} s, "
            f"spoke PSS {result['memory']['spoke_pss_median_mb']} MB (RSS {result['memory']['spoke_rss_median_mb']})")
        result["storm"] = redirect_storm(lab, pairs, seed)
        log(f"{spokes} spokes: storm {result['storm']}")
        pids = [h.popen.pid for h in lab.agents] + [n.pid for n in lab.nodes.values() if getattr(n, "pid", None)]
        result["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    finally:
        down_started = time.monotonic()
        lab.down()
        result["down_s"] = round(time.monotonic() - down_started, 3)
    time.sleep(0.5)
    left = [p for p in pids if pid_alive(p)]
    result["left_after_down"] = {"pids_checked": len(pids), "pids_alive": left}
    log(f"{spokes} spokes: down {result['down_s']} s, {len(left)} of {len(pids)} recorded PIDs left")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spokes", default="10,50,100,250,500", help="comma-separated sizes")
    parser.add_argument("--pairs", type=int, default=100, help="shortcut pairs (at most spokes/2 at small sizes)")
    parser.add_argument("--captures", action="store_true", help="capture every link, as `dmvpnlab up` does without --no-captures")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--output", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sizes already in --output (one lab per run, e.g. under a lock)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_scale.py needs root (it builds labs)", file=sys.stderr)
        return 1
    sizes = [int(s) for s in args.spokes.split(",") if s.strip()]
    runs: list[dict[str, Any]] = []
    if args.merge and args.output.exists():
        runs = [r for r in json.loads(args.output.read_text())["runs"] if r["spokes"] not in sizes]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        try:
            runs.append(run_size(n, min(args.pairs, max(1, n // 2)), args.captures, args.seed))
        except (BenchError, OSError, RuntimeError) as e:
            log(f"{n} spokes: not measured: {e}")
            runs.append({"spokes": n, "error": str(e)})
        runs.sort(key=lambda r: r["spokes"])
        args.output.write_text(json.dumps({"machine": {"cpus": os.cpu_count()}, "runs": runs}, indent=2) + "\n")
    print(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
