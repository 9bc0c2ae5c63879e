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
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parents[1]
try:
    import dmvpnlab  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO / "src"))

from dmvpnlab.analysis.paths import IcmpSighting, NhrpSighting, read_link  # noqa: E402
from dmvpnlab.jsonline import request  # noqa: E402
from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402
from dmvpnlab.lab.topology.model import Topology  # noqa: E402
from dmvpnlab.nhrp.codec import PacketType  # noqa: E402

RESULTS = REPO / "bench" / "results"
RELAY = REPO / "bench" / "bare_relay.py"
POLL_SECONDS = 0.020
REGISTER_TIMEOUT = 90.0
TUNNEL_IP_MTU = 1400  # nodes/*.j2: `ip mtu 1400`; the bare relay gets the same
TUNNEL_KEY = 12345  # nodes/*.j2 default `tunnel key`
AIMS = {"register_100_s": 20.0, "rss_mb": 40.0, "shortcut_ms": 10.0, "throughput_ratio": 0.80}
HZ = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark step that could not be measured; str() says which and why."""


# --------------------------------------------------------------------------- helpers

def phase3_topology(spokes: int, name: str) -> Topology:
    """The default Phase 3 lab (hub.j2 / spoke.j2, phase 3) with `spokes` generated spokes."""
    data = {"name": name, "description": f"bench_agent: Phase 3, {spokes} spokes", "vars": {"phase": 3},
            "hub": {"template": "hub.j2"}, "spokes": spokes, "spoke_defaults": {"template": "spoke.j2"}}
    return topology_from_data(data, REPO / "bench" / f"{name}.yaml", nodes_dir=REPO / "nodes")


def state(lab: Lab, node: str, timeout: float = 5.0) -> dict[str, Any]:
    answer = request(lab.records.directory / node / "control.sock", {"op": "state"}, timeout=timeout)
    if not answer.get("ok"):
        raise BenchError(f"{node}: state request failed: {answer.get('error')}")
    return answer["state"]


def proc_status_kb(pid: int, field_name: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def proc_start_wall(pid: int) -> float | None:
    """Wall-clock start time of a process (10 ms grain, from /proc/PID/stat starttime)."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    started_since_boot = int(fields[19]) / HZ  # field 22
    return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - started_since_boot)


def cpu_seconds(pid: int) -> float | None:
    fields = proc_stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def cpu_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat: how saturated the machine was."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Busy share of the whole machine (100 = every core busy) between two readings."""
    total = after[1] - before[1]
    return None if total <= 0 else round(100 * (after[0] - before[0]) / total, 1)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def rnd(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summary_ms(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "median_ms": None, "max_ms": None, "min_ms": None}
    return {"n": len(samples), "median_ms": ms(statistics.median(samples)), "max_ms": ms(max(samples)),
            "min_ms": ms(min(samples))}


def stop_process(popen: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 5.0) -> tuple[str, str]:
    """Signal one process we started (by its PID) and collect its output."""
    if popen.poll() is None:
        try:
            popen.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        out, err = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        out, err = popen.communicate()
    as_text = (lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or ""))
    return as_text(out), as_text(err)


# --------------------------------------------------------------------------- 1 + 2: scale

def registered_entries(hub_state: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in hub_state["nhrp"]["cache"] if "registered" in e["flags"]]


def wait_registered(lab: Lab, spokes: int, timeout: float = REGISTER_TIMEOUT) -> tuple[float, list[float]]:
    """Poll the hub every 20 ms until `spokes` registrations; (seen at, registration times), wall clock."""
    deadline = time.monotonic() + timeout
    while True:
        asked = time.time()
        hub = state(lab, "hub")
        answered = time.time()
        entries = registered_entries(hub)
        if len(entries) >= spokes:
            # created_ago is relative to the moment the agent built the answer (between asked and answered)
            return answered, sorted(answered - e["created_ago"] for e in entries)
        if time.monotonic() > deadline:
            raise BenchError(f"only {len(entries)} of {spokes} spokes registered after {timeout:.0f} s")
        time.sleep(max(0.0, POLL_SECONDS - (answered - asked)))


def rss_of(lab: Lab) -> dict[str, Any]:
    """VmRSS / VmHWM (MB) of the hub agent, spoke1's, and the largest spoke's."""
    out: dict[str, Any] = {}
    spokes_rss: list[tuple[int, str]] = []
    for handle in lab.agents:
        rss = proc_status_kb(handle.popen.pid, "VmRSS")
        hwm = proc_status_kb(handle.popen.pid, "VmHWM")
        if rss is None:
            continue
        if handle.node == "hub":
            out["hub_rss_mb"], out["hub_hwm_mb"] = rnd(rss / 1024, 1), rnd((hwm or 0) / 1024, 1)
        else:
            spokes_rss.append((rss, handle.node))
            if handle.node == "spoke1":
                out["spoke1_rss_mb"], out["spoke1_hwm_mb"] = rnd(rss / 1024, 1), rnd((hwm or 0) / 1024, 1)
    if spokes_rss:
        rss, node = max(spokes_rss)
        out["max_spoke_rss_mb"], out["max_spoke"] = rnd(rss / 1024, 1), node
    return out


def cpu_summary(lab: Lab) -> dict[str, Any]:
    """CPU seconds each agent has used so far: start-up cost (imports, config, netlink)."""
    spent = [c for c in (cpu_seconds(h.popen.pid) for h in lab.agents) if c is not None]
    return {"mean": rnd(statistics.mean(spent), 3), "max": rnd(max(spent), 3), "sum": rnd(sum(spent), 2)} if spent else {}


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


# --------------------------------------------------------------------------- 5: throughput

def iperf_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise BenchError(f"iperf3 printed no JSON: {text[-300:]!r}") from None
    if "error" in data:
        raise BenchError(f"iperf3: {data['error']}")
    end = data["end"]
    return {"sent_mbps": rnd(end["sum_sent"]["bits_per_second"] / 1e6, 1),
            "received_mbps": rnd(end["sum_received"]["bits_per_second"] / 1e6, 1),
            "retransmits": end["sum_sent"].get("retransmits"),
            "bytes": end["sum_received"]["bytes"]}


def wait_listening(check: Callable[[], str], port: int = 5201, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while f":{port}" not in check():
        if time.monotonic() > deadline:
            raise BenchError(f"iperf3 server not listening on port {port} after {timeout:.0f} s")
        time.sleep(0.05)


def bare_relay_throughput(seconds: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """iperf3 across two bare relays in two namespaces of our own joined by a veth."""
    from bare_relay import relay_pair

    log(f"[relay] bare relays in two namespaces of their own, iperf3 {seconds} s")
    server: subprocess.Popen[Any] | None = None
    with relay_pair("dmvbench", key=TUNNEL_KEY, mtu=TUNNEL_IP_MTU) as pair:
        try:
            server = subprocess.Popen(["ip", "netns", "exec", pair.b, "iperf3", "-s", "-1", "-B", "10.0.0.2"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_listening(lambda: subprocess.run(["ip", "netns", "exec", pair.b, "ss", "-ltn"],
                                                  capture_output=True, text=True).stdout)
            cpu0, busy0 = [cpu_seconds(p.pid) or 0.0 for p in pair.procs], cpu_busy_jiffies()
            client = subprocess.run(["ip", "netns", "exec", pair.a, "iperf3", "-c", "10.0.0.2", "-t", str(seconds),
                                     "-J"], capture_output=True, text=True, timeout=seconds + 30)
            cpu1, busy1 = [cpu_seconds(p.pid) or 0.0 for p in pair.procs], cpu_busy_jiffies()
        finally:
            if server is not None:
                stop_process(server)
    result = iperf_json(client.stdout)
    result["machine_busy_percent"] = busy_percent(busy0, busy1)
    result["relay_cpu_percent"] = [rnd(100 * (c1 - c0) / seconds, 0) for c0, c1 in zip(cpu0, cpu1)]
    result["relay_counts"] = pair.counts
    return result


def relay_in_lab_throughput(lab: Lab, seconds: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """iperf3 spoke1 -> spoke2 across two bare relays in the lab's own spoke namespaces,
    over the same underlay (ISP hop included) the agents use. The agents are paused
    (SIGSTOP) meanwhile so the two relays have the CPU the agents would have."""
    a, b = lab.topology.router("spoke1"), lab.topology.router("spoke2")
    agents = [h.popen.pid for h in lab.agents]
    procs: list[subprocess.Popen[Any]] = []
    server: subprocess.Popen[Any] | None = None
    log(f"[relay] bare relays in the lab's spoke1/spoke2 namespaces, iperf3 {seconds} s")
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        for router, peer, tip in ((a, b, "10.99.0.1/24"), (b, a, "10.99.0.2/24")):
            procs.append(lab.node(router.name).popen(
                [sys.executable, str(RELAY), "--tap", "Relay0", "--peer", str(peer.nbma_address),
                 "--local", str(router.nbma_address), "--tunnel-ip", tip, "--key", str(TUNNEL_KEY + 1),
                 "--mtu", str(TUNNEL_IP_MTU)], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        deadline = time.monotonic() + 10
        while not all(",UP" in lab.exec(n, ["ip", "-4", "addr", "show", "Relay0"]).stdout for n in ("spoke1", "spoke2")):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise BenchError(f"bare relays did not come up: {[stop_process(p)[1][-300:] for p in procs]}")
            time.sleep(0.05)
        server = lab.node("spoke2").popen(["iperf3", "-s", "-1", "-B", "10.99.0.2"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(lambda: lab.exec("spoke2", ["ss", "-ltn"]).stdout)
        busy0 = cpu_busy_jiffies()
        client = lab.exec("spoke1", ["iperf3", "-c", "10.99.0.2", "-t", str(seconds), "-J"], timeout=seconds + 30)
        result = iperf_json(client.stdout)
        result["machine_busy_percent"] = busy_percent(busy0, cpu_busy_jiffies())
        return result
    finally:
        if server is not None:
            stop_process(server)
        for p in procs:
            stop_process(p)
        for pid in agents:
            os.kill(pid, signal.SIGCONT)


def tunnel_spoke_to_spoke(lab: Lab, seconds: int) -> dict[str, Any]:
    """iperf3 spoke1 -> spoke2 tunnel addresses: the same endpoints and path as the relays."""
    server = lab.node("spoke2").popen(["iperf3", "-s", "-1", "-B", "10.0.0.3"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(lambda: lab.exec("spoke2", ["ss", "-ltn"]).stdout)
        hub0 = state(lab, "hub")["tunnel"]
        busy0 = cpu_busy_jiffies()
        client = lab.exec("spoke1", ["iperf3", "-c", "10.0.0.3", "-t", str(seconds), "-J"], timeout=seconds + 30)
        result = iperf_json(client.stdout)
        hub1 = state(lab, "hub")["tunnel"]
        result["machine_busy_percent"] = busy_percent(busy0, cpu_busy_jiffies())
        result["direct"] = (hub1["bytes_in"] - hub0["bytes_in"]) < 0.01 * max(1, result["bytes"])
        return result
    finally:
        stop_process(server)


def lab_iperf(lab: Lab, seconds: int) -> dict[str, Any]:
    """iperf3 h1 -> h2 (192.168.2.10); hub tunnel counters tell whether it went direct."""
    server = lab.node("h2").popen(["iperf3", "-s", "-1", "-B", "192.168.2.10"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(lambda: lab.exec("h2", ["ss", "-ltn"]).stdout)
        hub0 = state(lab, "hub")["tunnel"]
        pids = {h.node: h.popen.pid for h in lab.agents}
        cpu0, busy0 = {n: cpu_seconds(p) or 0.0 for n, p in pids.items()}, cpu_busy_jiffies()
        client = lab.exec("h1", ["iperf3", "-c", "192.168.2.10", "-t", str(seconds), "-J"], timeout=seconds + 30)
        cpu1, busy1 = {n: cpu_seconds(p) or 0.0 for n, p in pids.items()}, cpu_busy_jiffies()
        hub1 = state(lab, "hub")["tunnel"]
        result = iperf_json(client.stdout)
        result["machine_busy_percent"] = busy_percent(busy0, busy1)
        result["agent_cpu_percent"] = {n: rnd(100 * (cpu1[n] - cpu0[n]) / seconds, 0) for n in pids}
        result["hub_gre_bytes_during_run"] = (hub1["bytes_in"] - hub0["bytes_in"]) + (hub1["bytes_out"] - hub0["bytes_out"])
        result["direct"] = result["hub_gre_bytes_during_run"] < 0.01 * max(1, result["bytes"])
        return result
    finally:
        stop_process(server)


def underlay_iperf(lab: Lab, seconds: int) -> dict[str, Any]:
    """iperf3 spoke1 NBMA -> spoke2 NBMA through the ISP: what the kernel path alone carries."""
    target = str(lab.topology.router("spoke2").nbma_address)
    server = lab.node("spoke2").popen(["iperf3", "-s", "-1", "-B", target],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(lambda: lab.exec("spoke2", ["ss", "-ltn"]).stdout)
        busy0 = cpu_busy_jiffies()
        client = lab.exec("spoke1", ["iperf3", "-c", target, "-t", str(seconds), "-J"], timeout=seconds + 30)
        result = iperf_json(client.stdout)
        result["machine_busy_percent"] = busy_percent(busy0, cpu_busy_jiffies())
        return result
    finally:
        stop_process(server)


def per_packet_python_cost(frames: int = 20000) -> dict[str, Any]:
    """Microseconds of Python per 1400-byte packet, system calls stubbed out, no root.

    The agent's real `MgreTunnel.drain_tap` / `drain_socket` (dataplane, NHRP cache
    lookup, GRE) against the bare relay's per-packet work, so the throughput gap can be
    split into "Python work per packet" and "everything else" (kernel, scheduling).
    """
    import struct
    from ipaddress import IPv4Interface

    from dmvpnlab.nhrp.config import NhrpEngineConfig
    from dmvpnlab.nhrp.engine import NhrpEngine
    from dmvpnlab.tunnel import frames as tunnel_frames
    from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, gre_header
    from dmvpnlab.tunnel.mgre import MgreTunnel
    from dmvpnlab.tunnel.transport import GreTransport

    local, peer = IPv4Interface("10.0.0.2/24"), IPv4Address("10.0.0.3")
    nbma, peer_nbma = IPv4Address("100.64.1.1"), IPv4Address("100.64.2.1")
    inner = bytearray(1400)
    inner[0], inner[2:4], inner[8], inner[9] = 0x45, struct.pack("!H", 1400), 64, 17  # UDP: no MSS clamp
    inner[12:16], inner[16:20] = bytes([192, 168, 1, 10]), bytes([192, 168, 2, 10])
    tap_mac = tunnel_frames.tunnel_mac(local.ip)
    frame = tunnel_frames.tunnel_mac(peer) + tap_mac + b"\x08\x00" + bytes(inner)
    gre_in = gre_header(GRE_PROTO_IPV4, TUNNEL_KEY) + bytes(inner)
    ip_in = bytes([0x45]) + bytes(11) + peer_nbma.packed + nbma.packed + gre_in

    class FakeTap:
        def __init__(self) -> None:
            self.queue: list[bytes] = []
        def read(self) -> bytes | None:
            return self.queue.pop() if self.queue else None
        def write(self, _frame: bytes) -> bool:
            return True

    class FakeSock:  # a RawGreSocket whose system calls are stubbed: sendto/recvfrom/send
        def __init__(self) -> None:
            self.queue: list[bytes] = []
            self.source = (str(peer_nbma), 0)  # what recvfrom reports (built in C by a real socket)
        def sendto(self, data: bytes, _addr: Any) -> int:
            return len(data)
        def recvfrom(self, _size: int) -> tuple[bytes, Any]:
            if not self.queue:
                raise BlockingIOError
            return self.queue.pop(), self.source
        def send(self, nbma_dst: Any, data: bytes) -> bool:
            self.sendto(data, (str(nbma_dst), 0))
            return True

    engine = NhrpEngine(NhrpEngineConfig(interface="Tunnel0", tunnel_address=local, nbma_address=nbma,
                                         static_maps=[(peer, peer_nbma)], shortcut=True),
                        lambda _a: None, time.monotonic())
    tap, sock = FakeTap(), FakeSock()
    tunnel = MgreTunnel("Tunnel0", local, nbma, TUNNEL_KEY, TUNNEL_IP_MTU, 1360, engine, tap=tap,
                        transport=GreTransport(sock=sock))

    def timed(run: Callable[[], None]) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        return best / frames * 1e6

    def agent_out() -> None:
        tap.queue = [frame] * frames
        tunnel.drain_tap()

    def agent_in() -> None:
        sock.queue = [ip_in] * frames
        tunnel.drain_socket()

    gre, eth_in, dst = gre_header(GRE_PROTO_IPV4, TUNNEL_KEY), tap_mac + tunnel_frames.tunnel_mac(peer) + b"\x08\x00", ("100.64.2.1", 0)

    def relay_out() -> None:  # bare_relay.relay's TAP branch, sendto stubbed
        queue, sent = [frame] * frames, []
        send = sent.append
        while queue:
            f = queue.pop()
            if f[12:14] == b"\x08\x00":
                send((gre + f[14:], dst))

    def relay_in() -> None:  # bare_relay.relay's socket branch, write stubbed
        queue, written = [ip_in] * frames, []
        write = written.append
        glen = len(gre)
        while queue:
            d = queue.pop()
            ihl = (d[0] & 0x0F) << 2
            if d[ihl:ihl + glen] == gre:
                write(eth_in + d[ihl + glen:])

    out = {"agent_tap_to_gre_us": timed(agent_out), "agent_gre_to_tap_us": timed(agent_in),
           "relay_tap_to_gre_us": timed(relay_out), "relay_gre_to_tap_us": timed(relay_in)}
    if tunnel.counters.gre_out == 0 and tunnel.dataplane.counters.unicast_packets == 0:
        out["warning"] = "the agent path sent nothing: the microbenchmark is not measuring the real path"
    return {k: (rnd(v, 2) if isinstance(v, float) else v) for k, v in out.items()}


def profile_agents(lab: Lab, seconds: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """py-spy samples spoke1 and spoke2 during a second iperf3 run; hottest functions."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(pyspy).exists():
        return {"error": "py-spy not installed (pip install py-spy into the venv)"}
    out_dir = RESULTS / "agent-profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    spies: dict[str, tuple[subprocess.Popen[Any], Path]] = {}
    log(f"[profile] py-spy on spoke1 and spoke2 during iperf3 ({seconds} s)")
    try:
        for h in lab.agents:
            if h.node in ("spoke1", "spoke2"):
                raw = out_dir / f"{h.node}.collapsed.txt"
                spies[h.node] = (subprocess.Popen(
                    [pyspy, "record", "--pid", str(h.popen.pid), "--duration", str(seconds + 1), "--rate", "250",
                     "--nonblocking", "--format", "raw", "--output", str(raw)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE), raw)
        time.sleep(0.5)
        run = lab_iperf(lab, seconds)
        for node, (spy, _raw) in spies.items():
            try:
                spy.wait(timeout=seconds + 15)
            except subprocess.TimeoutExpired:
                stop_process(spy, signal.SIGINT)
    finally:
        for spy, _raw in spies.values():
            if spy.poll() is None:
                stop_process(spy, signal.SIGINT)
    report: dict[str, Any] = {"iperf_while_profiling": run, "files": {}}
    for node, (_spy, raw) in spies.items():
        if raw.exists():
            report["files"][node] = str(raw.relative_to(REPO))
            report[node] = summarize_collapsed(raw.read_text().splitlines())
    return report


def summarize_collapsed(lines: Iterable[str], top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + _short_location(f) + ")" for f in stack.split(";") if f]
        frames = frames[1:] if frames and frames[0].startswith("process ") else frames
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for f in set(frames):
            if "dmvpnlab/" in f and "command.py" not in f:  # the agent's own functions, not the loop's
                incl_counts[f] += count

    def shares(c: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in c.most_common(top)] if total else []

    return {"samples": total, "self_percent": shares(self_counts), "inclusive_percent": shares(incl_counts)}


def _short_location(frame: str) -> str:
    location = frame.split(" (", 1)[1].rstrip(")") if " (" in frame else "?"
    path, _, line = location.rpartition(":")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}" if path else location


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
