"""What EIGRP costs a DMVPN hub: one hub process and N spoke processes in memory.

    .venv/bin/python bench/bench_eigrp.py [--spokes 20,200] [--step 0.05]

The core (`dmvpnlab.routing.eigrp.process.EigrpProcess`) runs inside the router agent's
event loop, so its CPU time is time the hub forwards nothing. One hub (`no ip
split-horizon eigrp` on Tunnel0, IOS tunnel defaults) and N spokes, each with its own
/24 LAN, all start at t = 0 on an in-memory NBMA tunnel (a spoke's multicast reaches the
hub only, the hub's every spoke, as NHRP replication does; unicast to its owner). A fake
clock advances by `--step`; every packet is delivered at once. No sockets, no root, no lab.

Measured per size, the smallest size being the baseline of the same run:
- convergence: until every spoke has every LAN (its own connected + N-1 learned, plus
  the hub's tunnel subnet), in simulated seconds and in wall-clock seconds (all N+1
  processes on one core);
- the hub's work: packets it received by kind, and UPDATE packets per second of the
  CPU time spent in the hub's `receive` for them;
- memory: the process RSS growth for the whole lab, and the hub object's own size
  (a deep sizeof of what the hub references);
- withdrawal: spoke1's LAN goes down; wall time until no process routes to it any more,
  and the packets the hub received meanwhile (queries go to every non-stub spoke).

Prints a table and writes bench/results/eigrp.json (not committed; the numbers of record
go into bench/README.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dmvpnlab.routing.eigrp.neighbors import MULTICAST
from dmvpnlab.routing.eigrp.process import EigrpProcess
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "eigrp.json"
HUB = IPv4Address("10.0.0.1")
TUNNEL = dict(bandwidth_kbps=100, delay_usec=50000, mtu=1400)
OPCODES = {1: "update", 3: "query", 4: "reply", 5: "hello"}


def spoke_tunnel(i: int) -> IPv4Interface:
    return IPv4Interface(f"{IPv4Address(int(HUB) + i)}/16")


def spoke_lan(i: int) -> IPv4Interface:
    return IPv4Interface(f"{IPv4Address(int(IPv4Address('172.16.0.1')) + 256 * i)}/24")


def make(n: int) -> tuple[EigrpProcess, dict[IPv4Address, EigrpProcess]]:
    hub = EigrpProcess(EigrpSettings(100, HUB, (EigrpInterfaceSettings(
        "Tunnel0", IPv4Interface(f"{HUB}/16"), split_horizon=False, **TUNNEL),)), 0.0)
    spokes = {}
    for i in range(1, n + 1):
        ifaces = (EigrpInterfaceSettings("Tunnel0", spoke_tunnel(i), **TUNNEL),
                  EigrpInterfaceSettings("Ethernet0/1", spoke_lan(i), passive=True))
        spokes[spoke_tunnel(i).ip] = EigrpProcess(EigrpSettings(100, spoke_tunnel(i).ip, ifaces), 0.0)
    return hub, spokes


class Lab:
    """The NBMA wire, with the hub's receive timed per packet kind."""

    def __init__(self, n: int) -> None:
        self.hub, self.spokes = make(n)
        self.hub_seconds: dict[str, float] = {}
        self.hub_packets: dict[str, int] = {}

    def to_hub(self, source: IPv4Address, data: bytes, now: float) -> None:
        kind = "ack" if data[1] == 5 and len(data) == 20 else OPCODES.get(data[1], str(data[1]))
        start = time.perf_counter()
        self.hub.receive("Tunnel0", source, data, now)
        self.hub_seconds[kind] = self.hub_seconds.get(kind, 0.0) + time.perf_counter() - start
        self.hub_packets[kind] = self.hub_packets.get(kind, 0) + 1

    def deliver(self, now: float) -> None:
        moved = True
        while moved:
            moved = False
            for address, spoke in self.spokes.items():
                out, spoke.outbox = spoke.outbox, []
                for o in out:      # multicast or unicast: the hub is the spoke's only peer
                    moved = True
                    self.to_hub(address, o.data, now)
            out, self.hub.outbox = self.hub.outbox, []
            for o in out:
                moved = True
                targets = self.spokes.values() if o.destination == MULTICAST else [self.spokes.get(o.destination)]
                for spoke in targets:
                    if spoke is not None:
                        spoke.receive("Tunnel0", HUB, o.data, now)

    def converged(self) -> bool:
        want = len(self.spokes) - 1    # every other spoke's LAN
        return all(len(s.routes()) >= want for s in self.spokes.values())


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def deep_size(root: object) -> int:
    """Bytes of every object reachable from `root` (each counted once)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))
    return total


def run(n: int, step: float) -> dict[str, object]:
    gc.collect()
    before = rss_kb()
    wall = time.perf_counter()
    lab = Lab(n)
    now = 0.0
    while not lab.converged():
        now = round(now + step, 6)
        if now > 120:
            raise RuntimeError(f"{n} spokes did not converge in 120 simulated seconds")
        lab.hub.tick(now)
        for spoke in lab.spokes.values():
            spoke.tick(now)
        lab.deliver(now)
    wall = time.perf_counter() - wall
    grown = rss_kb() - before
    expected = {str(spoke_lan(i).network) for i in range(1, n + 1)}
    for i, spoke in enumerate(lab.spokes.values(), start=1):
        assert {str(r.prefix) for r in spoke.routes()} == expected - {str(spoke_lan(i).network)}
    updates = lab.hub_packets.get("update", 0)
    hub_update_s = lab.hub_seconds.get("update", 0.0)
    hub_cpu, hub_pps = sum(lab.hub_seconds.values()), sum(lab.hub_packets.values()) / sum(lab.hub_seconds.values())
    received, hub_sent = dict(lab.hub_packets), lab.hub.counters()["sent"]
    withdrawal = withdraw(lab, now, step)
    return {
        "spokes": n, "converged_simulated_s": now, "converged_wall_s": wall,
        "hub_received": received, "hub_sent": hub_sent,
        "hub_receive_cpu_s": hub_cpu,
        "hub_updates_per_s": updates / hub_update_s if hub_update_s else 0.0,
        "hub_packets_per_s": hub_pps,
        "rss_growth_mb": grown / 1024, "hub_object_mb": deep_size(lab.hub) / 2**20,
        "hub_routes": len(lab.hub.routes()),
        "withdrawal": withdrawal,
    }


def withdraw(lab: Lab, now: float, step: float) -> dict[str, float]:
    """spoke1's LAN goes down: until no process routes to it, wall time and packets."""
    first = next(iter(lab.spokes.values()))
    lan = str(spoke_lan(1).network)
    before = sum(lab.hub_packets.values())
    wall = time.perf_counter()
    first.set_interface_state("Ethernet0/1", False, now)
    lab.deliver(now)
    while any(str(r.prefix) == lan for p in [lab.hub, *lab.spokes.values()] for r in p.routes()):
        now = round(now + step, 6)
        lab.hub.tick(now)
        for spoke in lab.spokes.values():
            spoke.tick(now)
        lab.deliver(now)
    return {"wall_s": time.perf_counter() - wall, "hub_received": sum(lab.hub_packets.values()) - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", default="20,200")
    parser.add_argument("--step", type=float, default=0.05)
    args = parser.parse_args()
    console = Console(width=170)
    results: dict[str, object] = {"machine": platform.machine(), "python": platform.python_version(),
                                  "load": os.getloadavg()[0], "step": args.step, "sizes": []}
    table = Table(title="EIGRP hub (no split horizon) + N spokes in memory, each spoke one /24")
    for column in ("spokes", "converged sim s", "wall s", "vs base", "hub updates rx", "hub updates/s",
                   "hub pkts/s", "hub tx update", "RSS +MB", "hub obj MB", "withdraw s", "withdraw hub rx"):
        table.add_column(column, justify="right")
    base = None
    for n in (int(x) for x in args.spokes.split(",")):
        r = run(n, args.step)
        results["sizes"].append(r)  # type: ignore[union-attr]
        base = base or r
        ratio = r["converged_wall_s"] / base["converged_wall_s"]  # type: ignore[operator]
        table.add_row(str(n), f"{r['converged_simulated_s']:.2f}", f"{r['converged_wall_s']:.2f}",
                      f"x{ratio:.1f}", str(r["hub_received"].get("update", 0)),  # type: ignore[union-attr]
                      f"{r['hub_updates_per_s']:.0f}", f"{r['hub_packets_per_s']:.0f}",
                      str(r["hub_sent"]["update"]),  # type: ignore[index]
                      f"{r['rss_growth_mb']:.1f}", f"{r['hub_object_mb']:.2f}",
                      f"{r['withdrawal']['wall_s']:.3f}", str(r["withdrawal"]["hub_received"]))  # type: ignore[index]
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
