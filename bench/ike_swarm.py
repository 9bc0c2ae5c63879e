"""Many IKEv1 initiators in one process, over real UDP sockets: load for a real hub agent.

Runs inside a lab namespace that holds `--count` addresses from `--first` on (the
caller adds them). Each address gets its own `IkeEngine` (the same sans-I/O engine the
agent runs) with the settings a spoke's config gives it (`--config`: an IOS config
with `tunnel protection`, read by the agent's own `ipsec_settings`), and its own UDP
socket bound to address:500. All of them connect() to `--hub` at once (or `--rate`
per second), then one epoll loop moves datagrams between the sockets and the engines
and ticks every engine (retransmissions with backoff) until every engine has its
child SA pair or `--timeout` passes. Nothing is mocked: the hub sees N peers doing
Main Mode + Quick Mode with pre-shared keys over the lab's underlay.

Once every initiator has its SA the loop keeps answering for `--linger` seconds (Quick
Mode's third message is not acknowledged: a hub that lost it retransmits QM2). Prints
one JSON object: per initiator the wall-clock times of connect, ISAKMP SA up and
child SA up, the refusals, the engines' summed counters and this process's CPU time
(the initiators' own cost, which shares the machine with the hub). The caller
(bench_ipsec.py --part swarm) reads the hub's side from its state answer.

    python bench/ike_swarm.py --hub 203.0.113.1 --first 198.18.0.10 --count 100 --config spoke.cfg
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import sys
import time
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

try:
    import dmvpnlab  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dmvpnlab.agent.crypto_settings import ipsec_settings  # noqa: E402
from dmvpnlab.config.parser import parse_config  # noqa: E402
from dmvpnlab.ipsec.events import ChildSaUp, IkeRefused, IkeSaUp  # noqa: E402
from dmvpnlab.ipsec.ikev1_engine import IkeEngine  # noqa: E402
from dmvpnlab.ipsec.settings import IKE_PORT  # noqa: E402

TICK_SECONDS = 0.2


class Initiator:
    """One emulated spoke: an engine, its socket, and when its steps happened (wall clock)."""

    def __init__(self, address: IPv4Address, engine: IkeEngine, sock: socket.socket) -> None:
        self.address = address
        self.engine = engine
        self.sock = sock
        self.times: dict[str, float] = {}
        self.refused: list[str] = []
        self.unsendable = 0  # datagrams for a port this swarm has no socket for (4500: no NAT here)

    def flush(self, hub: IPv4Address) -> None:
        engine = self.engine
        while engine.outbox or engine.events:
            outbox, engine.outbox = engine.outbox, []
            for d in outbox:
                if d.local_port != IKE_PORT:
                    self.unsendable += 1
                    continue
                try:
                    self.sock.sendto(d.data, (str(d.peer), d.port))
                except OSError:
                    engine.counters["swarm send failed"] += 1
            events, engine.events = engine.events, []
            for event in events:
                now = time.time()
                if isinstance(event, IkeSaUp):
                    self.times.setdefault("ike_sa_up", now)
                elif isinstance(event, ChildSaUp):
                    self.times.setdefault("child_sa_up", now)
                elif isinstance(event, IkeRefused):
                    self.refused.append(event.reason)

    @property
    def done(self) -> bool:
        return "child_sa_up" in self.times


def make_initiators(config_text: str, first: IPv4Address, count: int) -> list[Initiator]:
    config = parse_config(config_text).config
    out: list[Initiator] = []
    for i in range(count):
        address = first + i
        settings = ipsec_settings(config, "Tunnel0", address)
        if settings is None:
            raise SystemExit("ike_swarm: the config has no `tunnel protection` on Tunnel0")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((str(address), IKE_PORT))
        out.append(Initiator(address, IkeEngine(settings, time.monotonic()), sock))
    return out


def run(initiators: list[Initiator], hub: IPv4Address, rate: float | None, timeout: float,
        linger: float = 2.0) -> dict[str, Any]:
    """Connect every initiator, move datagrams until all have their child SA, then keep
    answering for `linger` seconds: Quick Mode's last message is not acknowledged, so a
    responder that lost it retransmits QM2 and needs an answer from a live initiator."""
    selector = selectors.DefaultSelector()
    for ini in initiators:
        selector.register(ini.sock, selectors.EVENT_READ, ini)
    cpu0 = os.times()
    started = ended = time.time()
    deadline = time.monotonic() + timeout
    pending = list(initiators)
    next_tick = time.monotonic()
    datagrams_in = 0
    linger_until: float | None = None  # all done: keep answering a while (the hub may not have QM3 yet)
    while time.monotonic() < deadline and (linger_until is None or time.monotonic() < linger_until):
        if linger_until is None and all(i.done for i in initiators):
            linger_until = time.monotonic() + linger
            ended = time.time()
        now = time.monotonic()
        if rate is None:
            launch, pending = pending, []
        else:
            due = int((time.time() - started) * rate) + 1 - (len(initiators) - len(pending))
            launch, pending = pending[:max(0, due)], pending[max(0, due):]
        for ini in launch:
            ini.times["connect"] = time.time()
            ini.engine.connect(hub, now)
            ini.flush(hub)
        for key, _ in selector.select(timeout=0.02):
            ini = key.data
            while True:
                try:
                    data, (host, port) = ini.sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    ini.engine.counters["swarm receive error"] += 1
                    continue
                datagrams_in += 1
                ini.engine.receive(data, IPv4Address(host), port, IKE_PORT, time.monotonic())
                ini.flush(hub)
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + TICK_SECONDS
            for ini in initiators:
                if "connect" in ini.times:
                    ini.engine.tick(time.monotonic())
                    ini.flush(hub)
    cpu1 = os.times()
    counters: Counter[str] = Counter()
    for ini in initiators:
        counters.update(ini.engine.counters)
    return {
        "hub": str(hub), "count": len(initiators), "rate": rate, "started": started, "all_done": ended,
        "completed": sum(1 for i in initiators if i.done), "datagrams_in": datagrams_in,
        "swarm_cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 3),
        "engine_counters": dict(counters),
        "unsendable": sum(i.unsendable for i in initiators),
        "initiators": [{"address": str(i.address), **i.times, "refused": i.refused} for i in initiators],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub", type=IPv4Address, required=True)
    parser.add_argument("--first", type=IPv4Address, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True, help="an IOS config with tunnel protection on Tunnel0")
    parser.add_argument("--rate", type=float, default=None, help="connects per second (default: all at once)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--linger", type=float, default=2.0, help="seconds to keep answering after all are done")
    args = parser.parse_args(argv)
    initiators = make_initiators(args.config.read_text(), args.first, args.count)
    try:
        result = run(initiators, args.hub, args.rate, args.timeout, args.linger)
    finally:
        for ini in initiators:
            ini.sock.close()
    print(json.dumps(result))
    return 0 if result["completed"] == result["count"] else 1


if __name__ == "__main__":
    sys.exit(main())
