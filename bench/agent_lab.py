"""Lab-driving helpers of bench/bench_agent.py (and bench/bench_ipsec.py): asking agents for
their state, reading /proc for RSS and CPU, waiting for registrations, running iperf3
between lab nodes or across two bare relays, and stopping what we started.

They live apart from the measurements and the report so that another benchmark can drive a
lab the same way (bench_ipsec.py does) without importing the agent benchmark itself. Only
processes started here are signalled, by PID.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
try:
    import dmvpnlab  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO / "src"))

from dmvpnlab.jsonline import request  # noqa: E402
from dmvpnlab.lab.lab import Lab  # noqa: E402
from dmvpnlab.lab.topology.build import topology_from_data  # noqa: E402
from dmvpnlab.lab.topology.model import Topology  # noqa: E402

RESULTS = REPO / "bench" / "results"
RELAY = REPO / "bench" / "bare_relay.py"
POLL_SECONDS = 0.020
REGISTER_TIMEOUT = 90.0
TUNNEL_IP_MTU = 1400  # nodes/*.j2: `ip mtu 1400`; the bare relay gets the same
TUNNEL_KEY = 12345  # nodes/*.j2 default `tunnel key`
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


# --------------------------------------------------------------------------- registrations, RSS, CPU

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


# --------------------------------------------------------------------------- iperf3 runs

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


