"""Routing over DMVPN: convergence after bring-up and memory per router, per protocol.

Issue 10 asks how long each routing protocol takes, from the moment the routers start, until
every router has every route, at 10 and 50 spokes, and what a router costs in memory once
FRR daemons run beside the agent. This benchmark brings up the Phase 3 lab of
nodes/hub.j2 + spoke.j2 with `routing: static|ospf|bgp|rip|eigrp` (template variable) and
polls the kernel routing tables of all routers (`ip -j route` inside each namespace):

- converged: the hub has a route to every spoke's LAN through Tunnel0, and every spoke has a
  route through Tunnel0 that covers every other spoke's LAN (the hub's summary counts: in
  Phase 3 that is what spokes are meant to have).
- the time is measured from the first agent's start (as bench_agent does), so a protocol's
  number includes registration; `static` is the baseline measured in the same run (its
  routes are configured, so its number is the NHRP registration time alone).
- memory: VmRSS of the agent plus every process whose parent is the agent (zebra, ospfd,
  bgpd, ripd), for the hub and for spoke1.

    .venv/bin/python bench/bench_routing.py [--spokes 10,50] [--protocols static,ospf,bgp,rip,eigrp]

Prints a table and writes bench/results/routing.json. Lab traffic stays in the lab's
namespaces; only the lab we bring up is torn down.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_lab import (REPO, RESULTS, BenchError, proc_start_wall, proc_status_kb, rnd,  # noqa: E402
                       wait_registered)

from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402
from dmvpnlab.lab.topology.model import Topology  # noqa: E402

CONVERGE_TIMEOUT = 180.0
POLL_SECONDS = 0.2
TUNNEL = "Tunnel0"


def routing_topology(protocol: str, spokes: int) -> Topology:
    name = f"bench-routing-{protocol}-{spokes}"
    data = {"name": name, "description": f"bench_routing: Phase 3, {protocol}, {spokes} spokes",
            "vars": {"phase": 3, "routing": protocol},
            "hub": {"template": "hub.j2"}, "spokes": spokes, "spoke_defaults": {"template": "spoke.j2"}}
    return topology_from_data(data, REPO / "bench" / f"{name}.yaml", nodes_dir=REPO / "nodes")


def tunnel_routes(lab: Lab, node: str) -> list[IPv4Network]:
    """The prefixes `node`'s kernel routes through Tunnel0 (main table)."""
    result = lab.exec(node, ["ip", "-j", "route", "show", "dev", TUNNEL], timeout=10)
    try:
        rows = json.loads(result.stdout or "[]")
    except ValueError:
        return []
    nets = []
    for row in rows:
        dst = row.get("dst", "")
        if dst == "default":
            dst = "0.0.0.0/0"
        try:
            nets.append(IPv4Network(dst if "/" in dst else dst + "/32"))
        except ValueError:
            continue
    return nets


def missing_routes(lab: Lab, topo: Topology) -> list[str]:
    """What is still missing for convergence, as 'node: prefix' (empty: converged)."""
    lans = {s.name: s.lan.network for s in topo.spokes if s.lan}
    missing = []
    hub_routes = set(tunnel_routes(lab, topo.hub.name))
    missing += [f"{topo.hub.name}: {lan}" for lan in lans.values() if lan not in hub_routes]
    for spoke in topo.spokes:
        routes = [r for r in tunnel_routes(lab, spoke.name) if r.prefixlen > 0]
        for other, lan in lans.items():
            if other != spoke.name and not any(lan.subnet_of(r) for r in routes):
                missing.append(f"{spoke.name}: {lan}")
    return missing


def wait_converged(lab: Lab, topo: Topology) -> tuple[float, int]:
    """Poll until converged; (wall time seen, polls)."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    polls = 0
    while True:
        polls += 1
        missing = missing_routes(lab, topo)
        if not missing:
            return time.time(), polls
        if time.monotonic() > deadline:
            raise BenchError(f"not converged after {CONVERGE_TIMEOUT:.0f} s: {len(missing)} routes missing, "
                             f"e.g. {missing[:3]}")
        time.sleep(POLL_SECONDS)


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def router_memory(lab: Lab, node: str) -> dict[str, Any]:
    handle = next(h for h in lab.agents if h.node == node)
    agent_kb = proc_status_kb(handle.popen.pid, "VmRSS") or 0
    daemons = {}
    for pid in children_of(handle.popen.pid):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        daemons[comm] = rnd((proc_status_kb(pid, "VmRSS") or 0) / 1024, 1)
    total = agent_kb / 1024 + sum(v or 0 for v in daemons.values())
    return {"agent_mb": rnd(agent_kb / 1024, 1), "daemons_mb": daemons, "total_mb": rnd(total, 1)}


def run(protocol: str, spokes: int) -> dict[str, Any]:
    topo = routing_topology(protocol, spokes)
    print(f"[routing] {protocol}, {spokes} spokes: bringing the lab up", flush=True)
    t0 = time.time()
    lab = Lab.up(topo, captures=False, quiet=True)
    result: dict[str, Any] = {"protocol": protocol, "spokes": spokes}
    try:
        t_up = time.time()
        first_start = min(s for s in (proc_start_wall(h.popen.pid) for h in lab.agents) if s is not None)
        registered, _ = wait_registered(lab, spokes)
        converged, polls = wait_converged(lab, topo)
        result.update({
            "lab_up_s": rnd(t_up - t0),
            "registered_after_start_s": rnd(registered - first_start),
            "converged_after_start_s": rnd(converged - first_start),
            "converged_after_registered_s": rnd(max(0.0, converged - registered)),
            "polls": polls,
            "hub_memory": router_memory(lab, topo.hub.name),
            "spoke1_memory": router_memory(lab, topo.spokes[0].name),
            "loadavg_1min": round(os.getloadavg()[0], 2),
        })
    finally:
        lab.down()
    print(f"[routing] {protocol}, {spokes} spokes: converged {result.get('converged_after_start_s')} s after start",
          flush=True)
    return result


def table(results: list[dict[str, Any]]) -> str:
    headers = ["protocol", "spokes", "registered s", "converged s", "after reg s", "hub MB", "spoke1 MB", "spoke1 daemons"]
    rows = [[r["protocol"], r["spokes"], r.get("registered_after_start_s"), r.get("converged_after_start_s"),
             r.get("converged_after_registered_s"), r.get("hub_memory", {}).get("total_mb"),
             r.get("spoke1_memory", {}).get("total_mb"),
             " ".join(f"{k} {v}" for k, v in r.get("spoke1_memory", {}).get("daemons_mb", {}).items()) or "-"]
            if "error" not in r else [r["protocol"], r["spokes"], "error: " + r["error"], "", "", "", "", ""]
            for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", default="10,50")
    parser.add_argument("--protocols", default="static,ospf,bgp,rip,eigrp")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_routing: needs root (it builds a lab)", file=sys.stderr)
        return 2
    sizes = [int(x) for x in args.spokes.split(",") if x.strip()]
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    results = []
    for spokes in sizes:
        for protocol in protocols:
            try:
                results.append(run(protocol, spokes))
            except BenchError as error:
                results.append({"protocol": protocol, "spokes": spokes, "error": str(error)})
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "routing.json"
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results},
                              indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
