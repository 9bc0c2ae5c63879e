"""Where the agent's time goes, for bench/bench_agent.py: Python cost per packet with the
system calls stubbed (agent path against the bare relay's), and py-spy samples of the spoke
agents during an iperf3 run, summarised as self and inclusive shares per function.

Apart from the lab measurements because it answers a different question: not "how fast"
but "why not faster", and the per-packet part needs no root and no lab.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable, Iterable

from agent_lab import RESULTS, REPO, TUNNEL_IP_MTU, TUNNEL_KEY, lab_iperf, rnd, stop_process
from dmvpnlab.lab.lab import Lab


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
