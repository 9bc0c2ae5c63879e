"""What a Phase 3 EIGRP hub with N stub spokes costs in memory: the hub's CPU seconds only.

    .venv/bin/python bench/eigrp_hub_cost.py [--spokes 500] [--seconds 30] [--profile]

Why beside bench_eigrp.py: that one has no summary and no stubs (every LAN to every spoke,
N^2 work by design); a Phase 3 hub (`no ip split-horizon`, summaries on Tunnel0, spokes
`eigrp stub connected`, IOS 5/15 timers) is what the lab runs, and the numbers of record in
bench/README.md (bench_eigrp_scale.py section) compare its cost before and after the
incremental DUAL/RTP work. The clock is fake (0.25 s steps, as the agent ticks); only the
hub's `receive`/`tick`/`routes_version` are timed (or profiled with --profile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.routing.eigrp.neighbors import MULTICAST
from dmvpnlab.routing.eigrp.process import EigrpProcess
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpSettings

HUB = IPv4Address("10.0.0.1")
TUNNEL = dict(bandwidth_kbps=1000, delay_usec=10000, mtu=1400, hello_seconds=5, hold_seconds=15)
SUMMARIES = (IPv4Network("192.168.0.0/16"), IPv4Network("10.128.0.0/9"))


def lan(i: int) -> IPv4Interface:
    base = IPv4Address("192.168.0.1") if i < 255 else IPv4Address("10.128.0.1")
    return IPv4Interface(f"{IPv4Address(int(base) + 256 * i)}/24")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    hub = EigrpProcess(EigrpSettings(100, HUB, (
        EigrpInterfaceSettings("Tunnel0", IPv4Interface(f"{HUB}/22"), split_horizon=False, summaries=SUMMARIES, **TUNNEL),
        EigrpInterfaceSettings("Ethernet0/1", IPv4Interface("192.168.0.1/24"), passive=True))), 0.0)
    spokes = {}
    for i in range(1, args.spokes + 1):
        tunnel = IPv4Interface(f"{IPv4Address(int(HUB) + i)}/22")
        spokes[tunnel.ip] = EigrpProcess(EigrpSettings(100, tunnel.ip, (
            EigrpInterfaceSettings("Tunnel0", tunnel, **TUNNEL),
            EigrpInterfaceSettings("Ethernet0/1", lan(i), passive=True)), stub=frozenset({"connected"})), 0.0)
    profiler = cProfile.Profile() if args.profile else None
    spent = 0.0

    def at_hub(call) -> None:
        nonlocal spent
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        call()
        hub.routes_version   # what the agent asks after every batch
        if profiler:
            profiler.disable()
        spent += time.perf_counter() - start

    now = 0.0
    while now < args.seconds:
        now = round(now + 0.25, 3)
        at_hub(lambda: hub.tick(now))
        for spoke in spokes.values():
            spoke.tick(now)
        moved = True
        while moved:
            moved = False
            for address, spoke in spokes.items():
                out, spoke.outbox = spoke.outbox, []
                for o in out:
                    moved = True
                    at_hub(lambda: hub.receive("Tunnel0", address, o.data, now))
            out, hub.outbox = hub.outbox, []
            for o in out:
                moved = True
                for target in (spokes.values() if o.destination == MULTICAST else [spokes.get(o.destination)]):
                    if target is not None:
                        target.receive("Tunnel0", HUB, o.data, now)
    print(f"{args.spokes} spokes, {args.seconds:.0f} s: hub CPU {spent:.3f} s; hub routes {len(hub.routes())}, "
          f"neighbours {len(hub.neighbor_views(now))}; a spoke's routes: "
          f"{[str(r.prefix) for r in next(iter(spokes.values())).routes()]}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
