"""`dmvpnlab loadgen`: emulated spokes against the hub of a running lab.

The generator runs in a lab router that has no agent (the load namespace: `spoke1` of
topologies/hub-load.yaml); the block of emulated NBMA addresses is made local there and
routed to it by the lab's ISP, for the run only (removed afterwards, also on error).
Everything stays inside the lab's namespaces. The hub's CPU and memory are read from
/proc by PID (its agent's record) at each phase boundary, its registration count from
its control socket.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
from dataclasses import asdict
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("loadgen", help="drive thousands of emulated NHRP spokes against a lab's hub")
    p.add_argument("--lab", help="lab name (default: the only lab up)")
    p.add_argument("--hub", default="hub", help="the hub router (default: hub)")
    p.add_argument("--from", dest="load_node", default="spoke1",
                   help="router without an agent to run in (default: spoke1)")
    p.add_argument("--spokes", type=int, default=1000, help="emulated spokes (default: 1000)")
    p.add_argument("--nbma-block", default="100.100.0.0/16", help="their NBMA addresses (default: 100.100.0.0/16)")
    p.add_argument("--holdtime", type=int, default=300, help="registration holdtime, refresh every holdtime/3 (300)")
    p.add_argument("--auth", default="DMVPN", help="ip nhrp authentication of the hub ('' for none)")
    p.add_argument("--window", type=int, default=512, help="requests in flight during the burst (512)")
    p.add_argument("--rate", type=float, help="registrations per second in the burst (default: window-bound)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of steady refreshes + resolutions (20)")
    p.add_argument("--resolutions", type=float, default=50.0, help="resolution requests per second (50)")
    p.add_argument("--no-purge", action="store_true", help="leave the registrations at the hub")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_loadgen)


def _setns(path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


class HubProbe:
    """The hub agent seen from outside: CPU, memory, registrations, drop counters."""

    def __init__(self, pid: int, control: Path) -> None:
        self.pid, self.control = pid, control
        self.samples: dict[str, dict[str, Any]] = {}

    def sample(self, phase: str, now: float) -> None:
        from dmvpnlab import jsonline
        from dmvpnlab.procfs import cpu_seconds, memory_kib

        sample: dict[str, Any] = {"t": now, "cpu_s": cpu_seconds(self.pid), **memory_kib(self.pid)}
        try:
            answer = jsonline.request(self.control, {"op": "nhrp_summary"}, timeout=30.0)
            if answer.get("ok"):
                sample["nhrp"] = answer.get("summary")
        except OSError as error:
            sample["nhrp_error"] = str(error)
        self.samples[phase] = sample


def _node(records: Any, name: str) -> dict[str, Any]:
    for node in records.data.get("nodes", []):
        if node["name"] == name:
            return node
    raise LookupError(f"no node {name!r} in lab {records.lab}")


def _wan_address(node: dict[str, Any], isp: dict[str, Any]) -> IPv4Address:
    """The load node's address on its link to the ISP (the /30 they share)."""
    isp_nets = [IPv4Interface(a).network for a in isp.get("addresses", {}).values()]
    for address in node.get("addresses", {}).values():
        interface = IPv4Interface(address)
        if interface.network in isp_nets:
            return interface.ip
    raise LookupError(f"{node['name']} has no link to the ISP")


def cmd_loadgen(args: argparse.Namespace) -> int:
    try:
        report = run_loadgen(args)
    except (LookupError, ValueError, OSError) as error:
        print(f"dmvpnlab loadgen: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        from dmvpnlab.loadgen.report import render

        sys.stdout.write(render(report))
    return 0 if report["registered"] == args.spokes else 1


def run_loadgen(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from dmvpnlab import jsonline
    from dmvpnlab.lab.lab import exec_in
    from dmvpnlab.lab.records import one_lab
    from dmvpnlab.loadgen.fleet import Fleet, HubAddress
    from dmvpnlab.loadgen.plan import AddressPlan
    from dmvpnlab.loadgen.run import LoadSettings, run
    from dmvpnlab.loadgen.stats import LoadStats
    from dmvpnlab.loadgen.wire import GreSocket

    records = one_lab(args.lab)
    hub_agent = next((p for p in records.processes() if p.kind == "agent" and p.node == args.hub), None)
    if hub_agent is None:
        raise LookupError(f"{args.hub} runs no agent in lab {records.lab}")
    if any(p.kind == "agent" and p.node == args.load_node for p in records.processes()):
        raise LookupError(f"{args.load_node} runs an agent: pick a router without one (--from)")
    control = records.directory / args.hub / "control.sock"
    state = jsonline.request(control, {"op": "state"}, timeout=10.0).get("state") or {}
    tunnel = state.get("nhrp") or {}
    if not tunnel:
        raise LookupError(f"{args.hub} has no NHRP tunnel")
    hub = HubAddress(IPv4Interface(tunnel["tunnel_address"]).ip, IPv4Address(tunnel["nbma_address"]))
    block = IPv4Network(args.nbma_block)
    plan = AddressPlan(IPv4Interface(tunnel["tunnel_address"]).network, args.spokes, block)
    load, isp = _node(records, args.load_node), _node(records, "isp")
    via = _wan_address(load, isp)
    namespace = next(n for n in records.namespaces() if n.node == args.load_node)
    setup = [(isp["pid"], ["ip", "route", "replace", str(block), "via", str(via)]),
             (load["pid"], ["ip", "route", "replace", "local", str(block), "dev", "lo"])]
    undo = [(isp["pid"], ["ip", "route", "del", str(block), "via", str(via)]),
            (load["pid"], ["ip", "route", "del", "local", str(block), "dev", "lo"])]
    probe = HubProbe(hub_agent.pid, control)
    stats = LoadStats()
    fleet = Fleet(plan, hub, holdtime=args.holdtime, auth=args.auth.encode() or None, gre_key=tunnel.get("key"),
                  stats=stats)
    settings = LoadSettings(window=args.window, rate=args.rate, duration=args.duration,
                            resolutions=args.resolutions, purge=not args.no_purge)
    root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        for pid, argv in setup:
            done = exec_in(pid, argv, timeout=10)
            if done.returncode != 0:
                raise OSError(f"{' '.join(argv)}: {done.stderr.strip()}")
        _setns(Path(namespace.path))
        wire = GreSocket()
        try:
            run(fleet, wire, settings, on_phase=lambda phase: probe.sample(phase, time.monotonic()))
        finally:
            wire.close()
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(root_ns, CLONE_NEWNET)
        os.close(root_ns)
        for pid, argv in undo:
            exec_in(pid, argv, timeout=10)
    return {
        "lab": records.lab, "hub": args.hub, "spokes": args.spokes, "settings": asdict(settings),
        "holdtime": args.holdtime, "registered": stats.phases["burst"].answered if "burst" in stats.phases else 0,
        "send_errors": wire.send_errors, "hub_samples": probe.samples, **stats.summary(),
    }
