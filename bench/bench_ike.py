"""What IKE costs the agent: one Main Mode + Quick Mode per DH group, and a hub's tick
with many spokes.

    .venv/bin/python bench/bench_ike.py [--rounds 5] [--spokes 10,100,300]

The engine (`dmvpnlab.ipsec.ikev1_engine`) runs inside the router agent's event loop, so
a negotiation's CPU time is time the agent forwards nothing, and a hub's periodic tick
(retransmissions, lifetimes, DPD) is paid once a second for every spoke. Two engines
are wired back to back in memory (no sockets, no root, no lab):

- bring-up: spoke connect() until both sides announced the child SA pair (MM1..QM3,
  both engines' CPU), per phase 1 group, without and with PFS in the same group; the
  best of `--rounds`, in milliseconds;
- hub: N spokes bring their SAs up to one hub (total seconds), then the hub's tick with
  on-demand DPD configured, in milliseconds per tick (the best of 20).

Prints a table and writes bench/results/ike.json (not committed; the numbers of record
go into bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dmvpnlab.ipsec.ikev1_engine import IkeEngine
from dmvpnlab.ipsec.settings import ChildPolicy, Dpd, IkePolicy, IpsecSettings, PresharedKey

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "ike.json"
HUB = IPv4Address("198.51.100.1")
GROUPS = (2, 5, 14, 19, 20)


def settings(local: IPv4Address, group: int, pfs: bool, dpd: Dpd | None = None) -> IpsecSettings:
    return IpsecSettings(local, ChildPolicy("B", pfs_group=group if pfs else None),
                         policies=(IkePolicy(10, "aes", 256, "sha256", group),),
                         keys=(PresharedKey(b"bench", IPv4Network("0.0.0.0/0")),), dpd=dpd)


def deliver(hub: IkeEngine, spokes: dict[IPv4Address, IkeEngine], now: float) -> None:
    """Everything in flight, both ways, until quiet."""
    moved = True
    while moved:
        moved = False
        for address, spoke in spokes.items():
            out, spoke.outbox[:] = list(spoke.outbox), []
            for d in out:
                hub.receive(d.data, address, d.local_port, d.port, now)
                moved = True
        out, hub.outbox[:] = list(hub.outbox), []
        for d in out:
            spokes[d.peer].receive(d.data, HUB, d.local_port, d.port, now)
            moved = True


def spoke_address(i: int) -> IPv4Address:
    return IPv4Address(int(IPv4Address("198.51.101.1")) + i)


def bring_up_ms(group: int, pfs: bool, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        hub = IkeEngine(settings(HUB, group, pfs), 0.0)
        spoke = IkeEngine(settings(spoke_address(0), group, pfs), 0.0)
        start = time.perf_counter()
        spoke.connect(HUB, 0.0)
        deliver(hub, {spoke_address(0): spoke}, 0.0)
        best = min(best, time.perf_counter() - start)
        assert spoke.peer_state(HUB) == "IPSEC" and hub.peer_state(spoke_address(0)) == "IPSEC"
    return best * 1000


def hub_numbers(n: int) -> tuple[float, float]:
    dpd = Dpd(10, 2)
    hub = IkeEngine(settings(HUB, 14, False, dpd), 0.0)
    spokes = {spoke_address(i): IkeEngine(settings(spoke_address(i), 14, False, dpd), 0.0) for i in range(n)}
    start = time.perf_counter()
    for spoke in spokes.values():
        spoke.connect(HUB, 0.0)
    deliver(hub, spokes, 0.0)
    up = time.perf_counter() - start
    assert all(hub.peer_state(a) == "IPSEC" for a in spokes)
    ticks = []
    for second in range(1, 21):
        t = time.perf_counter()
        hub.tick(float(second))
        ticks.append(time.perf_counter() - t)
        deliver(hub, spokes, float(second))
    return up, min(ticks) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spokes", default="10,100,300")
    args = parser.parse_args()
    console = Console()
    table = Table(title="IKEv1 bring-up, MM + QM, both engines (ms, best round)")
    for column in ("group", "no PFS", "PFS same group"):
        table.add_column(column, justify="right")
    results: dict[str, object] = {"machine": platform.machine(), "python": platform.python_version(),
                                  "load": os.getloadavg()[0], "bring_up_ms": {}, "hub": {}}
    for group in GROUPS:
        plain, pfs = bring_up_ms(group, False, args.rounds), bring_up_ms(group, True, args.rounds)
        results["bring_up_ms"][str(group)] = {"no_pfs": plain, "pfs": pfs}  # type: ignore[index]
        table.add_row(str(group), f"{plain:.1f}", f"{pfs:.1f}")
    console.print(table)
    hub_table = Table(title="hub with N spokes (group 14, on-demand DPD)")
    for column in ("spokes", "bring-up s", "tick ms"):
        hub_table.add_column(column, justify="right")
    for n in (int(x) for x in args.spokes.split(",")):
        up, tick = hub_numbers(n)
        results["hub"][str(n)] = {"bring_up_s": up, "tick_ms": tick}  # type: ignore[index]
        hub_table.add_row(str(n), f"{up:.2f}", f"{tick:.2f}")
    console.print(hub_table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
