"""Benchmarks of the DMVPN router agent: JSON + a printed table.

What it measures, in one run (about 2-4 minutes on 2 cores):

1. Registration at scale: Phase 3 labs with 2, 10, 50, 100 spokes (captures only for 2).
   Per size: `Lab.up` (underlay + agents ready), the split underlay / agents ready, the
   time from the first agent start to the last spoke registered at the hub, and the
   tear-down. "Registered" is read from the hub's JSON state (cache entries flagged
   `registered`), polled every 20 ms; the moment of each registration comes from the
   entry's `created_ago`, so it does not depend on the polling grain.
2. Agent RSS (VmRSS, and VmHWM = peak) of the hub and of the spokes, per size.
3. Registration RTT from the 2-spoke captures: Registration Request -> Reply matched by
   request id on each spoke's WAN link (and the hub's own turnaround on hub-isp).
4. Redirect -> shortcut: the agents' own `redirect_to_shortcut_seconds` (Traffic
   Indication received -> kernel route installed) after a ping h1 -> h2 in the default
   Phase 3 lab, and the same story seen from outside in the captures.
5. Spoke-to-spoke TCP throughput (iperf3 h1 -> h2 over the shortcut, a lab without
   captures) next to the bare Python TAP <-> raw GRE relay (bench/bare_relay.py) in two
   namespaces of our own, same `ip mtu` and key, same run; the two are interleaved
   (--rounds) and the medians compared, because the machine is shared. Also: the
   underlay alone (spoke1 -> spoke2 NBMA) and the Python cost per packet with system
   calls stubbed (agent path vs relay path, no root needed). Below the aim (80 %), or with
   --profile, the spoke agents are sampled with py-spy during a second iperf3 run and the
   hottest functions are reported.

Run as root from the repository root:
    .venv/bin/python bench/bench_agent.py [--spokes 2,10,50,100] [--iperf-seconds 5]
        [--rounds 3] [--profile] [--no-throughput] [--out bench/results/agent.json]

Everything it creates (labs, namespaces, relays, iperf3, py-spy) is removed in `finally`
blocks; only processes this script started are signalled, by PID.

This file holds the measurements and the report; driving the lab (agent state, /proc,
iperf3, relays) is bench/agent_lab.py, the per-packet cost and py-spy bench/agent_profile.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable

from agent_lab import (REPO, RESULTS, TUNNEL_IP_MTU, BenchError, bare_relay_throughput, cpu_summary, lab_iperf,
                       ms, phase3_topology, proc_start_wall, relay_in_lab_throughput, rnd, rss_of, state,
                       summary_ms, tunnel_spoke_to_spoke, underlay_iperf, wait_registered)
from agent_profile import per_packet_python_cost, profile_agents
from dmvpnlab.analysis.paths import IcmpSighting, NhrpSighting, read_link
from dmvpnlab.lab.lab import Lab
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.nhrp.codec import PacketType

AIMS = {"register_100_s": 20.0, "rss_mb": 40.0, "shortcut_ms": 10.0, "throughput_ratio": 0.80}


# --------------------------------------------------------------------------- 1 + 2: scale

def run_scale(spokes: int, captures: bool, during: Callable[[Lab], dict[str, Any]] | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Bring a Phase 3 lab up, time registration, measure RSS, run `during`, tear down."""
    name = f"bench-agent-{spokes}"
    topo = phase3_topology(spokes, name)
    result: dict[str, Any] = {"spokes": spokes, "captures": captures}
    log(f"[scale] {spokes} spokes: bringing the lab up (captures {'on' if captures else 'off'})")
    load = os.getloadavg()[0]
    t0 = time.time()
    lab = Lab.up(topo, captures=captures, quiet=True)
    try:
        t_up = time.time()
        starts = [s for s in (proc_start_wall(h.popen.pid) for h in lab.agents) if s is not None]
        readies = [h.ready_file.stat().st_mtime for h in lab.agents if h.ready_file.exists()]
        seen, registrations = wait_registered(lab, spokes)
        first_start, last_ready = min(starts), max(readies)
        last_reg = registrations[-1]
        result.update({
            "lab_up_s": rnd(t_up - t0),
            "underlay_s": rnd(first_start - t0),  # incl. captures when on
            "agents_ready_s": rnd(last_ready - first_start),
            "register_after_agents_start_s": rnd(last_reg - first_start),
            "register_after_agents_ready_s": rnd(last_reg - last_ready),
            "register_after_up_returned_s": rnd(max(0.0, seen - t_up)),
            "first_registration_after_agents_start_s": rnd(registrations[0] - first_start),
            "total_to_registered_s": rnd(max(seen, t_up) - t0),
            "rss": rss_of(lab),
            "agent_cpu_s_at_registered": cpu_summary(lab),
            "loadavg_1min_before": round(load, 2),
        })
        if during is not None:
            result.update(during(lab))
    finally:
        t_down = time.time()
        lab.down()
        result["down_s"] = rnd(time.time() - t_down)
    if captures and lab.captures is not None:
        result["captures_dir"] = str(lab.captures.directory)
    log(f"[scale] {spokes} spokes: up {result['lab_up_s']} s, all registered {result['total_to_registered_s']} s "
        f"after start, down {result['down_s']} s")
    return result


# --------------------------------------------------------------------------- 3 + 4: captures

def sightings(path: Path) -> list[IcmpSighting | NhrpSighting]:
    return list(read_link(path)) if path.exists() else []


def registration_rtts(captures: Path, topo: Topology) -> dict[str, Any]:
    """Request -> Reply by request id on each spoke's WAN link; the hub's turnaround on hub-isp."""
    rtts: list[float] = []
    per_spoke: dict[str, Any] = {}
    retries = 0
    for spoke in topo.spokes:
        nbma = spoke.nbma_address
        requests: dict[int, list[float]] = {}
        matched: list[float] = []
        for s in sightings(captures / f"{spoke.name}-isp.pcapng"):
            if not isinstance(s, NhrpSighting):
                continue
            ptype = int(s.packet.type)
            if ptype == PacketType.REGISTRATION_REQUEST and s.outer_src == nbma:
                requests.setdefault(s.packet.request_id, []).append(s.time)
            elif ptype == PacketType.REGISTRATION_REPLY and s.outer_dst == nbma:
                sent = [t for t in requests.pop(s.packet.request_id, []) if t <= s.time]
                if sent:
                    matched.append(s.time - sent[-1])  # the (re)transmission this reply answers
                    retries += len(sent) - 1
        per_spoke[spoke.name] = [ms(x) for x in matched]
        rtts.extend(matched)
    hub_turnaround: list[float] = []
    pending: dict[tuple[IPv4Address, int], float] = {}
    for s in sightings(captures / "hub-isp.pcapng"):
        if isinstance(s, NhrpSighting):
            ptype = int(s.packet.type)
            if ptype == PacketType.REGISTRATION_REQUEST:
                pending[(s.outer_src, s.packet.request_id)] = s.time
            elif ptype == PacketType.REGISTRATION_REPLY:
                t = pending.pop((s.outer_dst, s.packet.request_id), None)
                if t is not None:
                    hub_turnaround.append(s.time - t)
    return {"rtt": summary_ms(rtts), "per_spoke_ms": per_spoke, "retransmissions_before_reply": retries,
            "hub_turnaround": summary_ms(hub_turnaround)}


def redirect_from_captures(captures: Path, a: Any, b: Any) -> dict[str, Any]:
    """On a's WAN link: Traffic Indication -> Resolution Reply -> first ICMP sent straight to b."""
    nbma_a, nbma_b = a.nbma_address, b.nbma_address
    seen = sightings(captures / f"{a.name}-isp.pcapng")
    tis = [s.time for s in seen if isinstance(s, NhrpSighting) and s.outer_dst == nbma_a
           and int(s.packet.type) == PacketType.TRAFFIC_INDICATION]
    if not tis:
        return {"traffic_indications": 0}
    ti = tis[0]
    reply = next((s.time for s in seen if isinstance(s, NhrpSighting) and s.time >= ti and s.outer_dst == nbma_a
                  and int(s.packet.type) == PacketType.RESOLUTION_REPLY), None)
    direct = next((s.time for s in seen if isinstance(s, IcmpSighting) and s.time >= ti
                   and s.outer_src == nbma_a and s.outer_dst == nbma_b), None)
    return {"traffic_indications": len(tis),
            "ti_to_resolution_reply_ms": ms(reply - ti) if reply is not None else None,
            "ti_to_first_direct_packet_ms": ms(direct - ti) if direct is not None else None}


def redirect_test(lab: Lab, interval: float = 0.005, count: int = 200) -> dict[str, Any]:
    """Ping h1 -> h2 (every 5 ms) in the registered lab; the agents' own redirect latencies."""
    ping = lab.exec("h1", ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", "192.168.2.10"],
                    timeout=count * interval + 15)
    out: dict[str, Any] = {"ping_interval_ms": interval * 1000, "ping_count": count,
                           "ping_summary": (ping.stdout.strip().splitlines() or [""])[-2:]}
    inside: list[float] = []
    for node in ("spoke1", "spoke2"):
        s = state(lab, node)
        out[f"{node}_redirect_to_shortcut_ms"] = [ms(x) for x in s["redirect_to_shortcut_seconds"]]
        out[f"{node}_shortcuts"] = s["shortcuts"]
        inside.extend(s["redirect_to_shortcut_seconds"])
    out["agent_measured"] = summary_ms(inside)
    lab.flush_captures()
    return out


def two_spoke_during(lab: Lab) -> dict[str, Any]:
    return {"redirect": redirect_test(lab)}


def throughput(seconds: int, profile: bool, rounds: int = 3, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Bare relay and tunnel iperf3 runs, interleaved `rounds` times (the machine is shared:
    interleaving spreads background load over both), then the underlay alone, then py-spy."""
    topo = phase3_topology(2, "bench-agent-iperf")
    log(f"[tunnel] default Phase 3 lab without captures; {rounds} x (bare relay, tunnel) iperf3 {seconds} s")
    lab = Lab.up(topo, captures=False, quiet=True)
    try:
        wait_registered(lab, 2)
        ping = lab.exec("h1", ["ping", "-n", "-q", "-c", "20", "-i", "0.01", "-W", "1", "192.168.2.10"])
        if not ping.ok:
            raise BenchError(f"h1 cannot reach h2 over the tunnel: {ping.stdout[-200:]}")
        shortcuts = {n: state(lab, n)["shortcuts"] for n in ("spoke1", "spoke2")}
        routes = [r for r in state(lab, "spoke1")["routes"] if r["prefix"] == "192.168.2.0/24"]
        relays: list[dict[str, Any]] = []
        tunnels: list[dict[str, Any]] = []
        for n in range(rounds):
            load = os.getloadavg()[0]
            relay = bare_relay_throughput(seconds, log)
            relay["loadavg_1min_before"] = round(load, 2)
            relays.append(relay)
            log(f"[relay] round {n + 1}: {relay['received_mbps']} Mbit/s")
            load = os.getloadavg()[0]
            tunnel = lab_iperf(lab, seconds)
            tunnel["loadavg_1min_before"] = round(load, 2)
            tunnels.append(tunnel)
            log(f"[tunnel] round {n + 1}: {tunnel['received_mbps']} Mbit/s (direct: {tunnel['direct']})")
        same_path: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for n in range(rounds):
            relay = relay_in_lab_throughput(lab, seconds, log)
            tunnel = tunnel_spoke_to_spoke(lab, seconds)
            same_path.append((relay, tunnel))
            log(f"[same path] round {n + 1}: relay {relay['received_mbps']} Mbit/s, "
                f"tunnel {tunnel['received_mbps']} Mbit/s (direct: {tunnel['direct']})")
        same_relay = statistics.median(r["received_mbps"] for r, _ in same_path)
        same_tunnel = statistics.median(t["received_mbps"] for _, t in same_path)
        underlay = underlay_iperf(lab, seconds)
        log(f"[underlay] spoke1 -> spoke2 NBMA, no tunnel: {underlay['received_mbps']} Mbit/s")
        relay_mbps = statistics.median(r["received_mbps"] for r in relays)
        tunnel_mbps = statistics.median(t["received_mbps"] for t in tunnels)
        ratio = tunnel_mbps / relay_mbps if relay_mbps else None
        result: dict[str, Any] = {
            "seconds": seconds, "ip_mtu": TUNNEL_IP_MTU, "rounds": rounds,
            "same_path": {"relay_mbps": same_relay, "tunnel_mbps": same_tunnel,
                          "ratio": rnd(same_tunnel / same_relay) if same_relay else None,
                          "runs": [{"relay": r, "tunnel": t} for r, t in same_path],
                          "what": "spoke1 -> spoke2 namespaces over the lab underlay (ISP hop): agents' "
                                  "Tunnel0 (10.0.0.2 -> 10.0.0.3) vs two bare relays (agents paused)"},
            "bare_relay_mbps": relay_mbps, "tunnel_mbps": tunnel_mbps, "ratio": rnd(ratio),
            "ratio_per_round": [rnd(t["received_mbps"] / r["received_mbps"]) if r["received_mbps"] else None
                                for r, t in zip(relays, tunnels)],
            "all_direct": all(t["direct"] for t in tunnels),
            "shortcuts_before_runs": shortcuts, "spoke1_routes_to_h2_lan": routes,
            "bare_relay_runs": relays, "tunnel_runs": tunnels, "rss_after_runs": rss_of(lab),
            "underlay_no_tunnel": underlay, "per_packet_python": per_packet_python_cost()}
        same_ratio = same_tunnel / same_relay if same_relay else None
        if profile or (same_ratio is not None and same_ratio < AIMS["throughput_ratio"]):
            result["profile"] = profile_agents(lab, seconds, log)
        return result
    finally:
        lab.down()


# --------------------------------------------------------------------------- report

def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[("-" if c is None else str(c)) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(value: float | None, aim: float, below: bool = True) -> str:
    if value is None:
        return "n/a"
    return "ok" if (value < aim if below else value >= aim) else "MISSED"


def print_report(results: dict[str, Any]) -> None:
    scale = results.get("scale", [])
    print()
    print("Registration at scale (Phase 3, seconds; 'after start' = from the first agent process start)")
    print(table([[r["spokes"], "on" if r["captures"] else "off", r["lab_up_s"], r["underlay_s"], r["agents_ready_s"],
                  r["register_after_agents_start_s"], r["register_after_up_returned_s"], r["total_to_registered_s"],
                  r["down_s"], r["rss"].get("hub_rss_mb"), r["rss"].get("max_spoke_rss_mb"),
                  r["agent_cpu_s_at_registered"].get("mean"), r["loadavg_1min_before"]] for r in scale],
                ["spokes", "capt", "Lab.up", "underlay", "agents ready", "reg after start", "reg after up",
                 "total", "down", "hub MB", "spoke MB", "CPU s/agent", "load"]))
    aims = results["aims"]
    print()
    rows = []
    for key, label, unit in (("register_100_s", "100 spokes registered (total)", "s"),
                             ("rss_mb", "agent RSS (max hub/spoke)", "MB"),
                             ("shortcut_ms", "redirect -> shortcut (agent, max)", "ms"),
                             ("throughput_ratio", "tunnel / bare relay (same path)", "")):
        got = results["headline"].get(key)
        rows.append([label, got, f"{'>=' if key == 'throughput_ratio' else '<'} {aims[key]} {unit}".strip(),
                     verdict(got, aims[key], below=key != "throughput_ratio")])
    print(table(rows, ["headline", "measured", "aim", ""]))
    reg = results.get("registration_rtt")
    if reg:
        print(f"\nRegistration RTT (spoke WAN captures): median {reg['rtt']['median_ms']} ms, max {reg['rtt']['max_ms']} ms "
              f"(n={reg['rtt']['n']}); hub turnaround median {reg['hub_turnaround']['median_ms']} ms")
    red = results.get("redirect")
    if red:
        print(f"Redirect -> shortcut (agent): median {red['agent_measured']['median_ms']} ms, max "
              f"{red['agent_measured']['max_ms']} ms; captures spoke1: TI -> Resolution Reply "
              f"{red['captures_spoke1'].get('ti_to_resolution_reply_ms')} ms, TI -> first direct packet "
              f"{red['captures_spoke1'].get('ti_to_first_direct_packet_ms')} ms (ping every {red['ping_interval_ms']} ms)")
    tp = results.get("throughput")
    if tp:
        print(f"Throughput (iperf3 {tp['seconds']} s x {tp['rounds']}, ip mtu {tp['ip_mtu']}, medians): tunnel "
              f"{tp['tunnel_mbps']} Mbit/s (direct: {tp['all_direct']}), bare relay {tp['bare_relay_mbps']} Mbit/s, "
              f"ratio {tp['ratio']} (per round {tp['ratio_per_round']}); underlay alone "
              f"{tp['underlay_no_tunnel']['received_mbps']} Mbit/s")
        same = tp["same_path"]
        print(f"Same path (spoke1 -> spoke2 namespaces over the ISP): tunnel {same['tunnel_mbps']} Mbit/s, "
              f"bare relays {same['relay_mbps']} Mbit/s, ratio {same['ratio']}")
        print(table([["tunnel", t["received_mbps"], t["retransmits"], t["agent_cpu_percent"].get("spoke1"),
                      t["agent_cpu_percent"].get("spoke2"), t["machine_busy_percent"], t["loadavg_1min_before"]]
                     for t in tp["tunnel_runs"]]
                    + [["bare relay", r["received_mbps"], r["retransmits"], r["relay_cpu_percent"][0],
                        r["relay_cpu_percent"][1], r["machine_busy_percent"], r["loadavg_1min_before"]]
                       for r in tp["bare_relay_runs"]],
                    ["run", "Mbit/s", "retrans", "CPU% A", "CPU% B", "machine busy %", "load"]))
        pp = tp["per_packet_python"]
        print(f"Python per 1400-byte packet (syscalls stubbed): agent TAP->GRE {pp['agent_tap_to_gre_us']} us, "
              f"GRE->TAP {pp['agent_gre_to_tap_us']} us; bare relay {pp['relay_tap_to_gre_us']} / "
              f"{pp['relay_gre_to_tap_us']} us")
        prof = tp.get("profile")
        if prof and "spoke1" in prof:
            print("Profile of spoke1 during iperf3 (py-spy, self % of samples):")
            print(table(prof["spoke1"]["self_percent"][:10], ["function (file:line)", "self %"]))
            print(table(prof["spoke1"]["inclusive_percent"][:12], ["function (file:line)", "incl %"]))


def headline(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_n = {r["spokes"]: r for r in results.get("scale", [])}
    if 100 in by_n:
        out["register_100_s"] = by_n[100]["total_to_registered_s"]
    rss = [v for r in by_n.values() for k, v in r["rss"].items() if k.endswith("_rss_mb")]
    if rss:
        out["rss_mb"] = max(rss)
    red = results.get("redirect")
    if red and red["agent_measured"]["max_ms"] is not None:
        out["shortcut_ms"] = red["agent_measured"]["max_ms"]
    if results.get("throughput"):
        # The aim compares like with like: the same namespaces and underlay path.
        out["throughput_ratio"] = results["throughput"]["same_path"]["ratio"]
        out["throughput_ratio_h1_h2_vs_separate_relay"] = results["throughput"]["ratio"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spokes", default="2,10,50,100", help="lab sizes, comma-separated (default 2,10,50,100)")
    parser.add_argument("--iperf-seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved relay/tunnel iperf3 rounds (default 3)")
    parser.add_argument("--no-throughput", action="store_true", help="skip iperf3 / bare relay")
    parser.add_argument("--profile", action="store_true", help="py-spy the spoke agents even if throughput meets the aim")
    parser.add_argument("--out", type=Path, default=RESULTS / "agent.json")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_agent: must run as root (it builds network namespaces)", file=sys.stderr)
        return 2
    try:
        sizes = sorted({int(x) for x in args.spokes.split(",") if x.strip()})
    except ValueError:
        print(f"bench_agent: --spokes wants numbers like 2,10,50 (got {args.spokes!r})", file=sys.stderr)
        return 2
    # SIGTERM runs the same `finally` blocks as Ctrl-C: nothing is left behind.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    os.chdir(REPO)  # captures/<lab>/ live under the repository, like every lab's
    started = time.monotonic()
    results: dict[str, Any] = {"benchmark": "agent", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "host": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                                        "python": sys.version.split()[0]},
                               "aims": AIMS, "scale": []}
    try:
        for n in sizes:
            if n == 2:
                r = run_scale(2, captures=True, during=two_spoke_during)
                captures = Path(r["captures_dir"])
                topo = phase3_topology(2, "bench-agent-2")
                results["registration_rtt"] = registration_rtts(captures, topo)
                red = r.pop("redirect")
                red["captures_spoke1"] = redirect_from_captures(captures, topo.router("spoke1"), topo.router("spoke2"))
                red["captures_spoke2"] = redirect_from_captures(captures, topo.router("spoke2"), topo.router("spoke1"))
                results["redirect"] = red
            else:
                r = run_scale(n, captures=False)
            results["scale"].append(r)
        if not args.no_throughput:
            results["throughput"] = throughput(args.iperf_seconds, args.profile, max(1, args.rounds))
    except (BenchError, KeyboardInterrupt) as error:
        results["error"] = str(error) or type(error).__name__
        print(f"bench_agent: stopped: {results['error']}", file=sys.stderr)
    results["headline"] = headline(results)
    results["runtime_s"] = rnd(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_report(results)
    print(f"\nresults: {args.out} (runtime {results['runtime_s']} s)")
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
