"""IPsec in real labs (issue 9 item 8): IKE per peer, first packet -> spoke-to-spoke ESP,
the hub's IKE rate with many initiators, ESP vs GRE-only throughput, agent RSS.

Three parts, each one short run under the lab lock (other people run labs on this
machine too):

    sudo flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python bench/bench_ipsec.py --part timing
    sudo flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python bench/bench_ipsec.py --part throughput
    sudo flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python bench/bench_ipsec.py --part swarm

- timing: the Phase 3 + IPsec lab (topologies/ipsec.yaml's configs; CBC and GCM
  transform sets), captures on. Per spoke, from the agents' state answer (each agent
  keeps when it asked for IKE, when its ISAKMP SA and its child SA came up, and each SA
  pair's install time; `wall_time` turns those into one clock): agent process start ->
  IKE asked -> ISAKMP SA (Main Mode) -> child SA (Quick Mode) -> the hub's child SA ->
  the hub's registration. Then `clear crypto session` on spoke1 plus one ping to the hub
  (the packet that needs the SA again) -> the hub's new child SA, `--clears` times.
  Then ping h1 -> h2 every 5 ms from t0: the redirect and resolution part (t0 -> the
  spokes' IKE asked for each other), the IKE part (asked -> child SA up), from the agents;
  and from the captures, decrypted with the keys the agents exported: first echo on
  h1's LAN, Traffic Indication, first ISAKMP and first ESP between the two spokes' NBMA
  addresses, first echo carried spoke-to-spoke.
- throughput: labs without captures, GRE-only, ESP AES-CBC+SHA256 and ESP AES-GCM,
  interleaved `--rounds` times in one run, each: up, shortcut + spoke-to-spoke SA, iperf3
  h1 -> h2 (`--seconds`), RSS of the hub and both spokes, down; each round also runs
  bench_tunnel's tunnel_pair (two namespaces, hand-made SAs, no IKE) for comparison.
- swarm: a real hub agent in a lab and, in one more namespace of that lab holding N
  addresses, bench/ike_swarm.py: N IkeEngine initiators over real UDP sockets, all
  connecting at once (`--waves 10,50,150,300,600`, fresh addresses per wave). The hub's rate is
  read from its own SA install times; its CPU from /proc.

Writes bench/results/ipsec-<part>.json and prints the numbers. Every lab and process it
starts is removed in `finally`; only processes it started are signalled, by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
from agent_lab import (BenchError, cpu_seconds, lab_iperf, proc_start_wall, proc_status_kb,  # noqa: E402
                       registered_entries, rnd, state, stop_process)

from dmvpnlab import jsonline  # noqa: E402
from dmvpnlab.analysis.capfile import CaptureDamaged, CaptureFormatError, CaptureReader  # noqa: E402
from dmvpnlab.analysis.esp_keys import EspKeyring  # noqa: E402
from dmvpnlab.analysis.paths import IcmpSighting, NhrpSighting, read_link  # noqa: E402
from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.render import render_router_config  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402
from dmvpnlab.lab.topology.model import Topology  # noqa: E402
from dmvpnlab.nhrp.codec import PacketType  # noqa: E402

RESULTS = REPO / "bench" / "results"
VARIANTS = {"gre": None, "esp-cbc": "esp-aes 256 esp-sha256-hmac", "esp-gcm": "esp-gcm 256"}
SWARM_WAN, SWARM_ISP, SWARM_FIRST = "198.18.0.1/21", "198.18.0.2", IPv4Address("198.18.0.10")
H1, H2 = "192.168.1.10", "192.168.2.10"


def topology(name: str, variant: str, spokes: int = 2, extra: dict[str, Any] | None = None) -> Topology:
    """The default Phase 3 lab; with a transform set, topologies/ipsec.yaml's crypto block."""
    variables: dict[str, Any] = {"phase": 3}
    if VARIANTS[variant] is not None:
        variables.update(ipsec=True, transforms=VARIANTS[variant])
    data: dict[str, Any] = {"name": name, "description": f"bench_ipsec: {variant}", "vars": variables,
                            "hub": {"template": "hub.j2"}, "spoke_defaults": {"template": "spoke.j2"},
                            **({"spokes": spokes} if spokes else {}), **(extra or {})}
    return topology_from_data(data, BENCH / f"{name}.yaml", nodes_dir=REPO / "nodes")


def wall(answer: dict[str, Any], ago: float | None) -> float | None:
    """An `*_ago` of a state answer as a wall-clock time (the answer carries its own)."""
    return None if ago is None else answer["wall_time"] - ago


def hub_child_walls(hub: dict[str, Any], peer: str) -> list[float]:
    return sorted(wall(hub, sa["installed_ago"]) for sa in hub["ipsec"]["child_sas"]  # type: ignore[misc]
                  if sa["peer"] == peer and sa["installed_ago"] is not None)


def wait_protected(lab: Lab, spokes: int, protected: bool, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the hub (every 20 ms) until every spoke is registered (and has its SA pair)."""
    deadline = time.monotonic() + timeout
    while True:
        hub = state(lab, "hub")
        sas = {sa["peer"] for sa in hub["ipsec"].get("child_sas", [])} if protected else set()
        if len(registered_entries(hub)) >= spokes and (not protected or len(sas) >= spokes):
            return hub
        if time.monotonic() > deadline:
            raise BenchError(f"{len(registered_entries(hub))}/{spokes} registered, SAs with {sorted(sas)} "
                             f"after {timeout:.0f} s")
        time.sleep(0.02)


def cli(lab: Lab, node: str, line: str) -> str:
    answer = jsonline.request(lab.records.directory / node / "control.sock", {"op": "cli", "line": line}, timeout=10)
    if not answer.get("ok"):
        raise BenchError(f"{node}: {line!r}: {answer.get('error')}")
    return str(answer.get("output", ""))


def rss(lab: Lab) -> dict[str, Any]:
    """VmRSS / VmHWM (MB) of every agent of the lab."""
    out: dict[str, Any] = {}
    for h in lab.agents:
        now, peak = proc_status_kb(h.popen.pid, "VmRSS"), proc_status_kb(h.popen.pid, "VmHWM")
        if now is not None:
            out[h.node] = {"rss_mb": rnd(now / 1024, 1), "hwm_mb": rnd((peak or 0) / 1024, 1)}
    return out


def ms_between(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((b - a) * 1000, 2)


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(statistics.median(got), 2) if got else None


# --------------------------------------------------------------------------- timing

def bring_up_per_spoke(lab: Lab, hub: dict[str, Any]) -> list[dict[str, Any]]:
    """Per spoke: process start -> IKE asked -> ISAKMP SA -> child SA -> hub's SA -> registered."""
    rows = []
    pids = {h.node: h.popen.pid for h in lab.agents}
    registered = {e["prefix"].split("/")[0]: wall(hub, e["created_ago"]) for e in registered_entries(hub)}
    for router in lab.topology.spokes:
        s = state(lab, router.name)
        hub_nbma, nbma = str(lab.topology.router("hub").nbma_address), str(router.nbma_address)
        marks = s["ipsec"]["marks_ago"].get(hub_nbma, {})
        t = {"process_start": proc_start_wall(pids[router.name]),
             "agent_started": s["wall_time"] - s["uptime"],
             "connect": wall(s, marks.get("connect")), "ike_sa_up": wall(s, marks.get("ike_sa_up")),
             "child_sa_up": wall(s, marks.get("child_sa_up")),
             "hub_ike_sa_up": wall(hub, hub["ipsec"]["marks_ago"].get(nbma, {}).get("ike_sa_up")),
             "hub_child_sa_up": (hub_child_walls(hub, nbma) or [None])[0],
             "registered_at_hub": registered.get(str(router.tunnel_address).split("/")[0])}
        rows.append({"spoke": router.name, "times": t,
                     "start_to_connect_ms": ms_between(t["process_start"], t["connect"]),
                     "main_mode_ms": ms_between(t["connect"], t["ike_sa_up"]),
                     "quick_mode_ms": ms_between(t["ike_sa_up"], t["child_sa_up"]),
                     "connect_to_hub_child_ms": ms_between(t["connect"], t["hub_child_sa_up"]),
                     "start_to_hub_child_ms": ms_between(t["process_start"], t["hub_child_sa_up"]),
                     "hub_child_to_registered_ms": ms_between(t["hub_child_sa_up"], t["registered_at_hub"])})
    return rows


def clear_and_renegotiate(lab: Lab, spoke: str, times: int) -> list[dict[str, Any]]:
    """`clear crypto session` on the spoke, one ping to the hub's tunnel address (the
    packet that needs an SA again): until the hub has installed a new pair."""
    nbma = str(lab.topology.router(spoke).nbma_address)
    hub_nbma = str(lab.topology.router("hub").nbma_address)
    out = []
    for _ in range(times):
        t0 = time.time()
        cli(lab, spoke, "clear crypto session")
        ping = lab.node(spoke).popen(["ping", "-n", "-c", "1", "-W", "5", "10.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while True:
                hub = state(lab, "hub")
                new = [t for t in hub_child_walls(hub, nbma) if t > t0]
                if new:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"no new SA at the hub for {spoke} 15 s after clear crypto session")
                time.sleep(0.01)
        finally:
            ping.wait(timeout=10)
        s = state(lab, spoke)
        marks = s["ipsec"]["marks_ago"].get(hub_nbma, {})
        out.append({"clear_to_connect_ms": ms_between(t0, wall(s, marks.get("connect"))),
                    "clear_to_spoke_child_ms": ms_between(t0, wall(s, marks.get("child_sa_up"))),
                    "clear_to_hub_child_ms": ms_between(t0, new[0]),
                    "connect_to_hub_child_ms": ms_between(wall(s, marks.get("connect")), new[0])})
        time.sleep(0.3)
    return out


def raw_first(path: Path, a: IPv4Address, b: IPv4Address, since: float) -> dict[str, float | None]:
    """First ISAKMP (UDP 500/4500 with the marker) and first ESP between a and b, either way."""
    first: dict[str, float | None] = {"isakmp": None, "esp": None}
    pair = {a.packed, b.packed}
    try:
        reader = CaptureReader(path)
    except (CaptureFormatError, OSError):
        return first
    with reader:
        try:
            for record in reader:
                f = record.data
                if record.time < since or len(f) < 34 or f[12:14] != b"\x08\x00":
                    continue
                ip = f[14:]
                if {ip[12:16], ip[16:20]} != pair:
                    continue
                ihl = (ip[0] & 0x0F) * 4
                if ip[9] == 50 and first["esp"] is None:
                    first["esp"] = record.time
                elif ip[9] == 17 and first["isakmp"] is None and ip[ihl + 2:ihl + 4] in (b"\x01\xf4", b"\x11\x94"):
                    first["isakmp"] = record.time
        except CaptureDamaged:
            pass
    return first


def spoke_to_spoke(lab: Lab) -> dict[str, Any]:
    """Ping h1 -> h2 every 5 ms from t0; the agents' and the captures' account of it."""
    s1, s2 = lab.topology.router("spoke1"), lab.topology.router("spoke2")
    t0 = time.time()
    ping = lab.exec("h1", ["ping", "-n", "-q", "-c", "200", "-i", "0.005", "-W", "1", H2], timeout=30)
    st1, st2 = state(lab, "spoke1"), state(lab, "spoke2")
    m1 = st1["ipsec"]["marks_ago"].get(str(s2.nbma_address), {})
    m2 = st2["ipsec"]["marks_ago"].get(str(s1.nbma_address), {})
    agents = {"spoke1": {k: wall(st1, v) for k, v in m1.items()}, "spoke2": {k: wall(st2, v) for k, v in m2.items()}}
    connects = [v["connect"] for v in agents.values() if v.get("connect") is not None]
    childs = [v["child_sa_up"] for v in agents.values() if v.get("child_sa_up") is not None]
    initiator = min(agents, key=lambda n: agents[n].get("connect") or float("inf"))
    result: dict[str, Any] = {
        "ping_summary": (ping.stdout.strip().splitlines() or [""])[-2:],
        "agents": agents, "ike_initiator": initiator,
        "t0_to_ike_asked_ms": ms_between(t0, min(connects) if connects else None),
        "ike_asked_to_child_up_ms": ms_between(min(connects) if connects else None, max(childs) if childs else None),
        "t0_to_both_child_up_ms": ms_between(t0, max(childs) if childs else None),
        "redirect_to_shortcut_ms": [round(x * 1000, 2) for x in
                                    st1["redirect_to_shortcut_seconds"] + st2["redirect_to_shortcut_seconds"]],
    }
    lab.flush_captures()
    assert lab.captures is not None
    directory = lab.captures.directory
    lan = next((p for p in directory.glob("*.pcapng") if "h1" in p.name), None)
    first_echo = None
    if lan is not None:
        first_echo = next((s.time for s in read_link(lan) if isinstance(s, IcmpSighting) and s.time >= t0 - 1
                           and str(s.src) == H1 and s.icmp_type == 8), None)
    wan = directory / "spoke1-isp.pcapng"
    raw = raw_first(wan, s1.nbma_address, s2.nbma_address, t0 - 1)
    keyring = EspKeyring.load(lab.keys_dir)
    ti = direct = None
    for s in read_link(wan, keyring):
        if s.time < t0 - 1:
            continue
        if (ti is None and isinstance(s, NhrpSighting) and s.outer_dst == s1.nbma_address
                and int(s.packet.type) == PacketType.TRAFFIC_INDICATION):
            ti = s.time
        if (direct is None and isinstance(s, IcmpSighting) and s.outer_src == s1.nbma_address
                and s.outer_dst == s2.nbma_address and s.esp_spi is not None):
            direct = s.time
    start = first_echo or t0
    result["captures"] = {
        "first_echo_on_h1_lan": first_echo, "traffic_indication_at_spoke1": ti, "first_isakmp_spoke_spoke": raw["isakmp"],
        "first_esp_spoke_spoke": raw["esp"], "first_echo_in_esp_spoke1_to_spoke2": direct,
        "first_echo_to_ti_ms": ms_between(start, ti),
        "first_echo_to_first_isakmp_ms": ms_between(start, raw["isakmp"]),
        "first_isakmp_to_first_esp_ms": ms_between(raw["isakmp"], raw["esp"]),
        "first_echo_to_first_esp_ms": ms_between(start, raw["esp"]),
        "first_echo_to_direct_echo_ms": ms_between(start, direct)}
    return result


def part_timing(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in ("esp-cbc", "esp-gcm"):
        print(f"[timing] {variant}: lab up (captures on)", flush=True)
        load = os.getloadavg()[0]
        lab = Lab.up(topology("bench-ipsec-t", variant), captures=True, quiet=True)
        try:
            hub = wait_protected(lab, 2, True)
            r: dict[str, Any] = {"loadavg_1min_before": round(load, 2), "bring_up": bring_up_per_spoke(lab, hub)}
            r["rss_registered"] = rss(lab)
            r["spoke_to_spoke"] = spoke_to_spoke(lab)
            r["clear_crypto_session"] = clear_and_renegotiate(lab, "spoke1", args.clears)
            r["rss_end"] = rss(lab)
        finally:
            lab.down()
        out[variant] = r
        for row in r["bring_up"]:
            print(f"  {row['spoke']}: start->asked {row['start_to_connect_ms']} ms, MM {row['main_mode_ms']} ms, "
                  f"QM {row['quick_mode_ms']} ms, asked->hub SA {row['connect_to_hub_child_ms']} ms, "
                  f"start->hub SA {row['start_to_hub_child_ms']} ms, hub SA->registered "
                  f"{row['hub_child_to_registered_ms']} ms")
        ss = r["spoke_to_spoke"]
        print(f"  h1->h2: t0->IKE asked {ss['t0_to_ike_asked_ms']} ms, IKE {ss['ike_asked_to_child_up_ms']} ms "
              f"(initiator {ss['ike_initiator']}), t0->both SAs {ss['t0_to_both_child_up_ms']} ms; "
              f"captures {ss['captures']}")
        print(f"  clear crypto session -> hub SA (ms): {[c['clear_to_hub_child_ms'] for c in r['clear_crypto_session']]}")
    return out


# --------------------------------------------------------------------------- throughput

def one_lab_throughput(variant: str, seconds: int) -> dict[str, Any]:
    protected = VARIANTS[variant] is not None
    load = os.getloadavg()[0]
    lab = Lab.up(topology("bench-ipsec-x", variant), captures=False, quiet=True)
    try:
        wait_protected(lab, 2, protected)
        rss_up = rss(lab)
        ping = lab.exec("h1", ["ping", "-n", "-q", "-c", "30", "-i", "0.01", "-W", "1", H2], timeout=20)
        if not ping.ok:
            raise BenchError(f"{variant}: h1 cannot reach h2: {ping.stdout[-200:]}")
        s2 = str(lab.topology.router("spoke2").nbma_address)
        deadline = time.monotonic() + 10
        while protected and not any(sa["peer"] == s2 for sa in state(lab, "spoke1")["ipsec"]["child_sas"]):
            if time.monotonic() > deadline:
                raise BenchError(f"{variant}: no spoke1-spoke2 SA after the ping")
            time.sleep(0.05)
        before = {n: path_facts(state(lab, n)) for n in ("spoke1", "spoke2")}
        run = lab_iperf(lab, seconds)
        s1 = state(lab, "spoke1")
        esp_out = sum(sa["out"].get("pkts_encaps", 0) for sa in s1["ipsec"].get("child_sas", []) if sa["peer"] == s2)
        extra: dict[str, Any] = {}
        if not run["direct"]:  # say why: what each spoke had before and after
            extra["not_direct"] = {"hub_gre_bytes_during_run": run.get("hub_gre_bytes_during_run"), "before": before,
                                   "after": {n: path_facts(state(lab, n)) for n in ("spoke1", "spoke2")}}
        return {**extra, "variant": variant, "transform": VARIANTS[variant], "loadavg_1min_before": round(load, 2),
                "mbit_s": run["received_mbps"], "retransmits": run["retransmits"], "direct": run["direct"],
                "agent_cpu_percent": run["agent_cpu_percent"], "machine_busy_percent": run["machine_busy_percent"],
                "esp_packets_spoke1_to_spoke2": esp_out if protected else None,
                "rss_registered": rss_up, "rss_after_iperf": rss(lab)}
    finally:
        lab.down()


def path_facts(st: dict[str, Any]) -> dict[str, Any]:
    """What decides a spoke's path: its shortcuts, NHRP cache, SA pairs and drop counters."""
    ipsec = st.get("ipsec") or {}
    return {"shortcuts": st["shortcuts"],
            "cache": [(e["prefix"], e["nbma"], e["type"], e["flags"], e["expires_in"]) for e in st["nhrp"]["cache"]],
            "child_sas": [(sa["peer"], hex(sa["spi_in"]), hex(sa["spi_out"]), sa["in"].get("pkts_decaps"),
                           sa["out"].get("pkts_encaps"), sa["installed_ago"]) for sa in ipsec.get("child_sas", [])],
            "ipsec_counters": ipsec.get("counters"), "engine": ipsec.get("engine"),
            "drops": st["tunnel"].get("drops"), "marks_ago": ipsec.get("marks_ago")}


def part_throughput(args: argparse.Namespace) -> dict[str, Any]:
    from bench_tunnel import live

    runs: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    variants = [v for v in VARIANTS if v in args.variants.split(",")]
    for n in range(args.rounds):
        for variant in variants:
            r = one_lab_throughput(variant, args.seconds)
            r["round"] = n + 1
            runs.append(r)
            print(f"[throughput] round {n + 1} {variant}: {r['mbit_s']} Mbit/s (direct {r['direct']}, "
                  f"ESP packets {r['esp_packets_spoke1_to_spoke2']}), RSS {r['rss_after_iperf']}", flush=True)
        if not args.no_pair:
            pairs.append(live([VARIANTS[v] for v in variants if VARIANTS[v]], args.seconds, 1))
    summary: dict[str, Any] = {}
    gre = statistics.median([r["mbit_s"] for r in runs if r["variant"] == "gre"] or [0]) or None
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        mbit = statistics.median(r["mbit_s"] for r in mine)
        summary[variant] = {
            "median_mbit_s": round(mbit, 1), "samples": [r["mbit_s"] for r in mine],
            "vs_gre": round(mbit / gre, 3) if gre else None, "all_direct": all(r["direct"] for r in mine),
            "rss_after_iperf_mb": {node: median([r["rss_after_iperf"].get(node, {}).get("rss_mb") for r in mine])
                                   for node in ("hub", "spoke1", "spoke2")},
            "hwm_mb": {node: median([r["rss_after_iperf"].get(node, {}).get("hwm_mb") for r in mine])
                       for node in ("hub", "spoke1", "spoke2")},
            "rss_registered_mb": {node: median([r["rss_registered"].get(node, {}).get("rss_mb") for r in mine])
                                  for node in ("hub", "spoke1", "spoke2")}}
    pair_names = sorted({k for p in pairs for k in p})
    pair_samples = {k: [p[k]["samples"][0] for p in pairs if k in p] for k in pair_names}
    pair_gre = statistics.median(pair_samples.get("GRE", [0])) or None
    summary["tunnel_pair"] = {k: {"median_mbit_s": statistics.median(v), "samples": v,
                                  "vs_gre": round(statistics.median(v) / pair_gre, 3) if pair_gre else None}
                              for k, v in pair_samples.items()}
    for variant, s in summary.items():
        print(f"  {variant}: {s}")
    return {"seconds": args.seconds, "rounds": args.rounds, "summary": summary, "runs": runs, "tunnel_pair_runs": pairs}


# --------------------------------------------------------------------------- swarm

def part_swarm(args: argparse.Namespace) -> dict[str, Any]:
    waves = [int(x) for x in args.waves.split(",") if x.strip()]
    extra = {"routers": {"swarm": {"role": "spoke", "index": 250, "lan": None,
                                   "wan": {"address": SWARM_WAN, "gateway": SWARM_ISP}}}}
    topo = topology("bench-ipsec-s", "esp-cbc", spokes=0, extra=extra)
    spoke_config = render_router_config(topology("bench-ipsec-s", "esp-cbc"),
                                        topology("bench-ipsec-s", "esp-cbc").router("spoke1"))
    config_file = RESULTS / "swarm-spoke.cfg"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(spoke_config)
    hub_nbma = str(topo.router("hub").nbma_address)
    out: dict[str, Any] = {"what": "a real hub agent; N IkeEngine initiators (bench/ike_swarm.py) over real UDP "
                                   "sockets from one namespace with N addresses, all connecting at once",
                           "waves": []}
    print(f"[swarm] lab up: hub + swarm namespace; waves {waves}", flush=True)
    lab = Lab.up(topo, captures=False, quiet=True)
    try:
        links = lab.exec("swarm", ["ip", "-o", "-4", "addr", "show"]).stdout
        ifname = next(line.split()[1] for line in links.splitlines() if SWARM_WAN.split("/")[0] + "/" in line)
        total = sum(waves)
        batch = "".join(f"addr add {SWARM_FIRST + i}/21 dev {ifname}\n" for i in range(total))
        added = lab.exec("swarm", ["ip", "-batch", "-"], input=batch)
        if not added.ok:
            raise BenchError(f"adding {total} addresses: {added.stderr[-300:]}")
        if not lab.exec("swarm", ["ping", "-n", "-c", "1", "-W", "2", "-I", str(SWARM_FIRST + total - 1),
                                  hub_nbma]).ok:
            raise BenchError("the swarm's addresses cannot reach the hub")
        hub_pid = next(h.popen.pid for h in lab.agents if h.node == "hub")
        offset = 0
        for count in waves:
            first = SWARM_FIRST + offset
            offset += count
            load = os.getloadavg()[0]
            engine0 = dict(state(lab, "hub")["ipsec"]["engine"])
            udp0 = udp_counters(lab, "hub")
            cpu0 = cpu_seconds(hub_pid) or 0.0
            proc = lab.node("swarm").popen([sys.executable, str(BENCH / "ike_swarm.py"), "--hub", hub_nbma,
                                            "--first", str(first), "--count", str(count), "--config",
                                            str(config_file), "--timeout", str(args.swarm_timeout)],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                so, se = proc.communicate(timeout=args.swarm_timeout + 30)
            except subprocess.TimeoutExpired:
                so, se = stop_process(proc, signal.SIGTERM)
            cpu1 = cpu_seconds(hub_pid) or 0.0
            hub = wait_hub_sas(lab, first, count)
            udp1 = udp_counters(lab, "hub")
            text = so.decode() if isinstance(so, bytes) else so
            try:
                swarm = json.loads(text)
            except ValueError:
                raise BenchError(f"ike_swarm printed no JSON: {text[-300:]!r} {se[-500:]!r}") from None
            out["waves"].append(wave_report(count, swarm, hub, engine0, cpu1 - cpu0, load))
            out["waves"][-1]["hub_udp_delta"] = {k: v - udp0.get(k, 0) for k, v in udp1.items() if v != udp0.get(k, 0)}
            w = out["waves"][-1]
            print(f"[swarm] {count} at once: {w['hub_installed']}/{count} SAs at the hub in {w['span_s']} s = "
                  f"{w['negotiations_per_s']}/s (peak 1 s window {w['peak_per_s']}), per peer median "
                  f"{w['latency_ms']['median']} ms, max {w['latency_ms']['max']} ms; hub CPU "
                  f"{w['hub_cpu_ms_per_negotiation']} ms/negotiation, swarm CPU {w['swarm_cpu_s']} s, "
                  f"retransmits {w['swarm_retransmits']}, hub UDP {w['hub_udp_delta']}", flush=True)
            time.sleep(1.0)
        out["hub_rss_end"] = rss(lab)
    finally:
        lab.down()
    return out


def wait_hub_sas(lab: Lab, first: IPv4Address, count: int, timeout: float = 10.0) -> dict[str, Any]:
    """The hub's state once it holds a pair for every initiator of the wave (or at the timeout)."""
    wanted = {str(first + i) for i in range(count)}
    deadline = time.monotonic() + timeout
    while True:
        hub = state(lab, "hub", timeout=20)
        if wanted <= {sa["peer"] for sa in hub["ipsec"]["child_sas"]} or time.monotonic() > deadline:
            return hub
        time.sleep(0.2)


def udp_counters(lab: Lab, node: str) -> dict[str, int]:
    """The Udp: line of /proc/net/snmp in the node's namespace (InDatagrams, RcvbufErrors...)."""
    lines = [line.split() for line in lab.exec(node, ["cat", "/proc/net/snmp"]).stdout.splitlines()
             if line.startswith("Udp:")]
    if len(lines) < 2:
        return {}
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if v.lstrip("-").isdigit()}


def wave_report(count: int, swarm: dict[str, Any], hub: dict[str, Any], engine0: dict[str, int],
                hub_cpu: float, load: float) -> dict[str, Any]:
    """The hub's side of one wave: when it installed each initiator's pair, from its state."""
    mine = {i["address"]: i for i in swarm["initiators"]}
    installed = {sa["peer"]: wall(hub, sa["installed_ago"]) for sa in hub["ipsec"]["child_sas"] if sa["peer"] in mine}
    connects = [i["connect"] for i in swarm["initiators"] if "connect" in i]
    start = min(connects) if connects else swarm["started"]
    ends = sorted(t for t in installed.values() if t is not None)
    latencies = sorted((installed[a] - mine[a]["connect"]) * 1000 for a in installed
                       if installed[a] is not None and "connect" in mine[a])
    span = (ends[-1] - start) if ends else None
    peak = max((sum(1 for t in ends if w <= t < w + 1.0) for w in ends), default=0)
    engine1 = hub["ipsec"]["engine"]
    return {"count": count, "loadavg_1min_before": round(load, 2), "swarm_completed": swarm["completed"],
            "hub_installed": len(ends), "span_s": rnd(span, 3),
            "negotiations_per_s": rnd(len(ends) / span, 1) if span else None, "peak_per_s": peak,
            "latency_ms": {"median": rnd(statistics.median(latencies), 1) if latencies else None,
                           "p90": rnd(latencies[int(0.9 * (len(latencies) - 1))], 1) if latencies else None,
                           "max": rnd(latencies[-1], 1) if latencies else None},
            "hub_cpu_s": rnd(hub_cpu, 3), "hub_cpu_ms_per_negotiation": rnd(1000 * hub_cpu / max(1, len(ends)), 2),
            "swarm_cpu_s": swarm["swarm_cpu_s"], "swarm_retransmits": swarm["engine_counters"].get("retransmits", 0),
            "swarm_refusals": sorted({r for i in swarm["initiators"] for r in i["refused"]}),
            "hub_engine_delta": {k: v - engine0.get(k, 0) for k, v in engine1.items() if v != engine0.get(k, 0)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("timing", "throughput", "swarm"), required=True)
    parser.add_argument("--clears", type=int, default=3, help="timing: clear crypto session repetitions")
    parser.add_argument("--rounds", type=int, default=2, help="throughput: interleaved rounds")
    parser.add_argument("--seconds", type=int, default=5, help="throughput: iperf3 seconds per run")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="throughput: labs, of " + ",".join(VARIANTS))
    parser.add_argument("--no-pair", action="store_true", help="throughput: skip bench_tunnel's tunnel_pair")
    parser.add_argument("--waves", default="10,50,150,300,600", help="swarm: initiators per wave (all at once)")
    parser.add_argument("--swarm-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_ipsec: must run as root (it builds labs)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    os.chdir(REPO)
    started = time.monotonic()
    results: dict[str, Any] = {"benchmark": f"ipsec-{args.part}", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "host": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                                        "python": sys.version.split()[0]},
                               "loadavg_before": os.getloadavg()}
    parts = {"timing": part_timing, "throughput": part_throughput, "swarm": part_swarm}
    code = 0
    try:
        results[args.part] = parts[args.part](args)
    except (BenchError, KeyboardInterrupt) as error:
        results["error"] = str(error) or type(error).__name__
        print(f"bench_ipsec: stopped: {results['error']}", file=sys.stderr)
        code = 1
    results["loadavg_after"] = os.getloadavg()
    results["runtime_s"] = rnd(time.monotonic() - started, 1)
    out = RESULTS / f"ipsec-{args.part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {out} (runtime {results['runtime_s']} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
