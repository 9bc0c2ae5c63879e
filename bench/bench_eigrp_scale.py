"""An EIGRP hub with hundreds of real spokes: convergence, reconvergence, CPU, memory, packets/s.

    .venv/bin/python bench/bench_eigrp_scale.py [--spokes 50,100,250,500] [--hello 5 --hold 15]
                                                [--profile 250,500] [--phase 3]

Issue 14 item 4. Each size is a real lab (nodes/hub.j2 + spoke.j2, `routing: eigrp`, Phase 3:
the hub has `no ip split-horizon eigrp` and advertises the LAN summary, the spokes are
`eigrp stub connected`; one LAN host each, no captures), EIGRP run by the agents
themselves (routing/eigrp). Hello/hold default to the IOS tunnel values 5/15 (the templates'
lab default is 1/3): 500 spokes then send the hub 100 hellos a second.

Every time comes from the routers' own clocks (a neighbour's uptime, a route's age in the
agent state; bench/eigrp_probe.py), so the slow polls of a big lab do not blur them:
- initial: from the moment the last agent started ("lab up": every router running; lab
  bring-up itself is another worktree's business) until the hub has every neighbour up
  and every spoke LAN in its table, and every spoke has a route covering all the other
  spokes' LANs (in Phase 3 that is the hub's summary, as the design intends);
- clear: `clear ip eigrp neighbors` on the hub (the process restarts, goodbyes to all):
  the same convergence again with every agent already running. This is the one profiled
  (py-spy on the hub, `--profile` sizes, /tmp/eigrp_scale_hub_<N>.svg);
- spoke down: spoke1's WAN link down: until the hub drops the neighbour (hold time) and
  its LAN route; spoke up: link up, until the hub has it back and spoke1 has the summary;
- steady: hub CPU % and EIGRP packets/s by kind over 10 s, hub agent RSS and PSS.

Each lab holds /tmp/dmvpnlab-scenarios.lock itself (so do not wrap this in flock) and is
removed in `finally`. Prints a table, writes bench/results/eigrp_scale.json.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_lab import (REPO, RESULTS, BenchError, busy_percent, cpu_busy_jiffies, cpu_seconds,  # noqa: E402
                       proc_start_wall, proc_status_kb, rnd, state)
from eigrp_probe import (counter_rates, eigrp, hub_has_lost, hub_progress, neighbor_up_at, pss_kb,  # noqa: E402
                         route_at, spoke_covered_at)

from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402
from dmvpnlab.lab.topology.model import Topology  # noqa: E402

LOCK = "/tmp/dmvpnlab-scenarios.lock"
CONVERGE_TIMEOUT = 240.0
CLEAR_TIMEOUT = 120.0     # a 500-spoke lab must stay within its lock hold
HUB_POLL = 0.5
STEADY_SECONDS = 10.0
PY_SPY = Path(sys.executable).parent / "py-spy"   # beside the interpreter (pip install py-spy)


def scale_topology(spokes: int, phase: int, hello: int, hold: int) -> Topology:
    name = f"bench-eigrp-{spokes}"
    network = "10.0.0.0/24" if spokes < 250 else "10.0.0.0/22"
    data = {"name": name, "description": f"bench_eigrp_scale: Phase {phase}, EIGRP, {spokes} spokes",
            "vars": {"phase": phase, "routing": "eigrp", "eigrp_hello": hello, "eigrp_hold": hold},
            "tunnel": {"network": network}, "hub": {"template": "hub.j2"},
            "spokes": spokes, "spoke_defaults": {"template": "spoke.j2"}}
    return topology_from_data(data, REPO / "bench" / f"{name}.yaml", nodes_dir=REPO / "nodes")


@contextmanager
def scenario_lock() -> Iterator[None]:
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def timed_state(lab: Lab, node: str) -> tuple[dict[str, Any], float]:
    """A router's state and the wall time its answer was built (the middle of the request)."""
    asked = time.time()
    answer = state(lab, node, timeout=30.0)
    return answer, (asked + time.time()) / 2


class Run:
    """One lab of one size and what was measured on it."""

    def __init__(self, lab: Lab, topo: Topology) -> None:
        self.lab, self.topo = lab, topo
        self.lans = {s.name: s.lan.network for s in topo.spokes if s.lan}
        self.hub_pid = next(h.popen.pid for h in lab.agents if h.node == topo.hub.name)
        self.polls = 0

    def hub(self) -> tuple[dict[str, Any], float]:
        self.polls += 1
        return timed_state(self.lab, self.topo.hub.name)

    def adjacency_log(self) -> dict[str, int]:
        """The hub's %DUAL-5-NBRCHANGE lines so far, counted by what they say."""
        counts: dict[str, int] = {}
        try:
            text = (self.lab.records.directory / self.topo.hub.name / "agent.log").read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            if "NBRCHANGE" in line and ") is " in line:
                what = line.rsplit(") is ", 1)[1].strip()
                counts[what] = counts.get(what, 0) + 1
        return counts

    def converge(self, since: float, timeout: float = CONVERGE_TIMEOUT) -> dict[str, Any]:
        """Wait for full convergence; instants from the routers' clocks, relative to `since`."""
        deadline = time.monotonic() + timeout
        n = len(self.topo.spokes)
        while True:
            hub_state, at = self.hub()
            progress = hub_progress(hub_state, at, self.lans.values())
            if progress.done(n):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"hub: {progress.neighbors_up}/{n} neighbours up, {len(progress.missing_lans)} "
                                 f"LANs missing after {CONVERGE_TIMEOUT:.0f} s")
            time.sleep(HUB_POLL)
        hub_cpu = cpu_seconds(self.hub_pid)
        pending = {s.name for s in self.topo.spokes}
        spoke_at: dict[str, float] = {}
        while pending:
            for name in sorted(pending):
                spoke_state, answered = timed_state(self.lab, name)
                others = [lan for other, lan in self.lans.items() if other != name]
                covered = spoke_covered_at(spoke_state, answered, others)
                if covered is not None:
                    spoke_at[name] = covered
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} spokes without every route, e.g. {sorted(pending)[:3]}")
        last_spoke = max(spoke_at.values())
        assert progress.neighbors_all_up_at is not None and progress.lans_all_routed_at is not None
        everything = max(progress.neighbors_all_up_at, progress.lans_all_routed_at, last_spoke)
        return {"hub_neighbors_up_s": rnd(progress.neighbors_all_up_at - since),
                "hub_lans_routed_s": rnd(progress.lans_all_routed_at - since),
                "spokes_routed_s": rnd(last_spoke - since),
                "converged_s": rnd(everything - since),
                "hub_cpu_s_so_far": rnd(hub_cpu, 2)}

    def spokes_cpu(self) -> float:
        return sum(cpu_seconds(h.popen.pid) or 0.0 for h in self.lab.agents if h.popen.pid != self.hub_pid)

    def steady(self) -> dict[str, Any]:
        before, t0 = self.hub()
        cpu0, spokes0, machine0 = cpu_seconds(self.hub_pid) or 0.0, self.spokes_cpu(), cpu_busy_jiffies()
        time.sleep(STEADY_SECONDS)
        after, t1 = self.hub()
        cpu1, spokes1, machine1 = cpu_seconds(self.hub_pid) or 0.0, self.spokes_cpu(), cpu_busy_jiffies()
        n = len(self.topo.spokes)
        rates = counter_rates(eigrp(before).get("counters", {}), eigrp(after).get("counters", {}), t1 - t0)
        return {"hub_cpu_percent": rnd(100 * (cpu1 - cpu0) / (t1 - t0), 1),
                "spoke_cpu_percent_mean": rnd(100 * (spokes1 - spokes0) / (t1 - t0) / n, 2),
                "machine_busy_percent": busy_percent(machine0, machine1),
                "hub_rss_mb": rnd((proc_status_kb(self.hub_pid, "VmRSS") or 0) / 1024, 1),
                "hub_pss_mb": rnd((pss_kb(self.hub_pid) or 0) / 1024, 1),
                "hub_pps": rates, "loadavg_1min": round(os.getloadavg()[0], 2)}

    def clear(self, profile: bool, size: int) -> dict[str, Any]:
        """`clear ip eigrp neighbors` on the hub, then the whole convergence again."""
        spy = None
        svg = Path(f"/tmp/eigrp_scale_hub_{size}.svg")
        if profile and PY_SPY.exists():
            spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(self.hub_pid), "-d", "15", "-o", str(svg),
                                    "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu0 = cpu_seconds(self.hub_pid) or 0.0
        log0 = self.adjacency_log()
        t0 = time.time()
        self.lab.cli(self.topo.hub.name, "clear ip eigrp neighbors")
        time.sleep(1.0)    # the old adjacencies' uptimes must not count
        result: dict[str, Any] = {}
        try:
            result = self.converge(t0, CLEAR_TIMEOUT)
        except BenchError as error:
            result = {"error": str(error)}
        result["hub_cpu_s"] = rnd((cpu_seconds(self.hub_pid) or 0.0) - cpu0, 2)
        log1 = self.adjacency_log()
        result["hub_adjacency_changes"] = {k: v - log0.get(k, 0) for k, v in log1.items() if v != log0.get(k, 0)}
        if spy is not None:
            spy.wait(timeout=60)
            result["profile"] = str(svg)
        return result

    def spoke_down_up(self) -> dict[str, Any]:
        spoke = self.topo.spokes[0]
        address = str(spoke.tunnel_address.ip) if hasattr(spoke.tunnel_address, "ip") else str(spoke.tunnel_address)
        lan = self.lans[spoke.name]
        t0 = time.time()
        self.lab.fault("link-down", spoke.name)
        gone_at = lan_at = None
        deadline = time.monotonic() + 60
        while gone_at is None or lan_at is None:
            hub_state, at = self.hub()
            gone, lan_gone = hub_has_lost(hub_state, address, lan)
            gone_at = gone_at or (at if gone else None)
            lan_at = lan_at or (at if lan_gone else None)
            if time.monotonic() > deadline:
                raise BenchError(f"hub still has {spoke.name} 60 s after its link went down")
            time.sleep(0.2)
        t1 = time.time()
        self.lab.fault("link-up", spoke.name)
        deadline = time.monotonic() + 90
        while True:
            hub_state, at = self.hub()
            up = neighbor_up_at(hub_state, at, address)
            routed = route_at(hub_state, at, lan)
            if up is not None and routed is not None:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"hub has no {spoke.name} again 90 s after its link came back")
            time.sleep(HUB_POLL)
        while True:
            spoke_state, answered = timed_state(self.lab, spoke.name)
            others = [x for name, x in self.lans.items() if name != spoke.name]
            covered = spoke_covered_at(spoke_state, answered, others)
            if covered is not None and covered >= t1:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{spoke.name} has not every route again 90 s after its link came back")
            time.sleep(HUB_POLL)
        return {"down_neighbor_gone_s": rnd(gone_at - t0), "down_lan_withdrawn_s": rnd(lan_at - t0),
                "up_neighbor_s": rnd(up - t1), "up_lan_routed_s": rnd(routed - t1),
                "up_spoke_routed_s": rnd(covered - t1)}


def run(spokes: int, phase: int, hello: int, hold: int, profile: bool) -> dict[str, Any]:
    topo = scale_topology(spokes, phase, hello, hold)
    result: dict[str, Any] = {"spokes": spokes, "phase": phase, "hello": hello, "hold": hold}
    with scenario_lock():
        print(f"[eigrp-scale] {spokes} spokes: bringing the lab up", flush=True)
        t0 = time.time()
        lab = Lab.up(topo, captures=False, quiet=True)
        try:
            result["lab_up_s"] = rnd(time.time() - t0, 1)
            starts = [s for s in (proc_start_wall(h.popen.pid) for h in lab.agents) if s is not None]
            measure = Run(lab, topo)
            result["initial"] = measure.converge(max(starts))
            result["initial"]["after_first_agent_s"] = rnd(max(starts) - min(starts), 1)
            print(f"[eigrp-scale] {spokes}: initial {result['initial']}", flush=True)
            result["steady"] = measure.steady()
            print(f"[eigrp-scale] {spokes}: steady {result['steady']}", flush=True)
            result["clear"] = measure.clear(profile, spokes)
            print(f"[eigrp-scale] {spokes}: clear {result['clear']}", flush=True)
            if "error" in result["clear"]:    # still churning: a spoke's down/up would mean nothing
                result["spoke_down_up"] = {"error": "not measured: the clear did not converge"}
            else:
                result["spoke_down_up"] = measure.spoke_down_up()
            print(f"[eigrp-scale] {spokes}: spoke1 down/up {result['spoke_down_up']}", flush=True)
            result["polls"] = measure.polls
        finally:
            t_down = time.time()
            lab.down()
            result["lab_down_s"] = rnd(time.time() - t_down, 1)
    return result


def table(results: list[dict[str, Any]]) -> str:
    headers = ["spokes", "initial s", "clear s", "hub up/LANs s", "clear CPU s", "down s", "up s", "CPU %",
               "hello/s rx", "RSS MB", "PSS MB", "load"]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["spokes"], "error: " + r["error"]] + [""] * (len(headers) - 2))
            continue
        c, s, d = r["clear"], r["steady"], r["spoke_down_up"]
        rows.append([r["spokes"], r["initial"]["converged_s"], c.get("converged_s", "no"),
                     f"{c.get('hub_neighbors_up_s')}/{c.get('hub_lans_routed_s')}", c["hub_cpu_s"],
                     d.get("down_lan_withdrawn_s"), d.get("up_spoke_routed_s"), s["hub_cpu_percent"],
                     s["hub_pps"]["received"].get("hello"), s["hub_rss_mb"], s["hub_pss_mb"], s["loadavg_1min"]])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", default="50,100,250,500")
    parser.add_argument("--phase", type=int, default=3)
    parser.add_argument("--hello", type=int, default=5)
    parser.add_argument("--hold", type=int, default=15)
    parser.add_argument("--profile", default="250,500", help="sizes to profile the hub at with py-spy")
    parser.add_argument("--out", default=str(RESULTS / "eigrp_scale.json"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_eigrp_scale: needs root (it builds labs)", file=sys.stderr)
        return 2
    # SIGTERM (a background run ignores SIGINT) unwinds like ^C: the lab comes down in `finally`
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sizes = [int(x) for x in args.spokes.split(",") if x.strip()]
    profiled = {int(x) for x in args.profile.split(",") if x.strip()}
    results = []
    for n in sizes:
        try:
            results.append(run(n, args.phase, args.hello, args.hold, n in profiled))
        except BenchError as error:
            results.append({"spokes": n, "error": str(error)})
            print(f"[eigrp-scale] {n}: {error}", flush=True)
        except KeyboardInterrupt:      # the lab is down already (finally): keep what was measured
            results.append({"spokes": n, "error": "interrupted"})
            break
    print(table(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
