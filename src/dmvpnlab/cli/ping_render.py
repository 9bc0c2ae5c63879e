"""IOS `ping` and `traceroute` output, from what iputils `ping` printed (sans-I/O).

The router's exec `ping` runs iputils `ping` in the agent's own namespace (ping_run.py);
this module turns that program's text into what IOS prints: the `!!!!!` line with one
character per echo in sequence order (`!` reply, `.` timeout, `U` unreachable, `M`
could not fragment), the success rate and the integer min/avg/max. Traceroute is one
TTL-limited echo per probe; `probe_result` reads each one. Kept apart from the process
handling so the formats can be tested from crafted text, and ntc-templates'
cisco_ios_ping / cisco_ios_traceroute parse what it prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_WIDTH = 70  # IOS wraps the `!!!!!` line at 70 characters
ABORT = "Type escape sequence to abort.\n"

_REPLY = re.compile(r"^\d+ bytes from (\S+?):? icmp_seq=(\d+) .*?time=([\d.]+) ms")
_FROM = re.compile(r"^From (\S+?):? icmp_seq=(\d+) (.*)$")
_LOCAL_ERROR = re.compile(r"local error: message too long", re.I)


@dataclass
class PingRequest:
    """One exec `ping` line: IOS defaults (5 echoes, 100-byte datagrams, 2 s timeout)."""

    target: str
    source: str | None = None  # an address (an interface name is resolved before)
    repeat: int = 5
    size: int = 100
    df_bit: bool = False
    timeout: int = 2


@dataclass
class PingResult:
    """Per echo, in sequence order: ('!', rtt ms) or a failure character and None."""

    marks: list[tuple[str, float | None]] = field(default_factory=list)


def _mark_for(text: str) -> str:
    lowered = text.lower()
    if "unreachable" in lowered:
        return "U"
    if "frag needed" in lowered or "message too long" in lowered:
        return "M"
    if "time to live exceeded" in lowered:
        return "T"  # only traceroute asks for this; ping treats it as unanswered below
    return "?"


def parse_iputils(text: str, repeat: int) -> PingResult:
    """What iputils `ping -n -c N` printed, as one mark per sequence number 1..N.

    A sequence number with no line is a timeout (`.`); unknown lines are ignored, so
    whatever the program prints, this never fails.
    """
    seen: dict[int, tuple[str, float | None]] = {}
    local_error = bool(_LOCAL_ERROR.search(text))
    for line in text.splitlines():
        line = line.strip()
        reply = _REPLY.match(line)
        if reply:
            seq = int(reply.group(2))
            seen.setdefault(seq, ("!", float(reply.group(3))))
            continue
        other = _FROM.match(line)
        if other:
            mark = _mark_for(other.group(3))
            seen.setdefault(int(other.group(2)), ("." if mark in "T?" else mark, None))
    default = ("M", None) if local_error else (".", None)
    return PingResult([seen.get(seq, default) for seq in range(1, repeat + 1)])


def render_ping(request: PingRequest, result: PingResult, source_shown: str | None) -> str:
    """The whole IOS answer to one `ping` line."""
    lines = [ABORT.rstrip("\n"),
             f"Sending {request.repeat}, {request.size}-byte ICMP Echos to {request.target}, "
             f"timeout is {request.timeout} seconds:"]
    if source_shown is not None:
        lines.append(f"Packet sent with a source address of {source_shown} ")
    if request.df_bit:
        lines.append("Packet sent with the DF bit set")
    stream = "".join(mark for mark, _ in result.marks)
    lines.extend(stream[i:i + LINE_WIDTH] for i in range(0, len(stream), LINE_WIDTH))
    rtts = [rtt for mark, rtt in result.marks if mark == "!" and rtt is not None]
    total = len(result.marks)
    percent = (100 * len(rtts)) // total if total else 0
    rate = f"Success rate is {percent} percent ({len(rtts)}/{total})"
    if rtts:
        low, avg, high = round(min(rtts)), round(sum(rtts) / len(rtts)), round(max(rtts))
        rate += f", round-trip min/avg/max = {low}/{avg}/{high} ms"
    lines.append(rate)
    return "\n".join(lines) + "\n"


# --- traceroute ------------------------------------------------------------------------


@dataclass
class Probe:
    """One traceroute probe: who answered (None for a timeout), how, and how fast."""

    address: str | None
    kind: str  # "ttl" (a hop on the way), "reply" (the target), "U" (unreachable), "*"
    rtt_ms: float | None = None


def probe_result(text: str, elapsed_ms: float) -> Probe:
    """One `ping -n -c 1 -t TTL` run: a hop's time-exceeded, the target's echo reply, an
    unreachable, or nothing. iputils prints no time for ICMP errors, so the probe's time
    is the measured wall time of the exchange (`elapsed_ms`)."""
    for line in text.splitlines():
        line = line.strip()
        reply = _REPLY.match(line)
        if reply:
            return Probe(reply.group(1), "reply", float(reply.group(3)))
        other = _FROM.match(line)
        if other:
            mark = _mark_for(other.group(3))
            kind = {"T": "ttl", "U": "U"}.get(mark, "*")
            return Probe(other.group(1) if kind != "*" else None, kind, elapsed_ms if kind != "*" else None)
    return Probe(None, "*")


def render_hop(ttl: int, probes: list[Probe]) -> str:
    """One hop line as IOS prints it: `  1 10.0.0.1 1 msec 0 msec 1 msec`, a timeout as
    `*`, an unreachable as `!H`; the address is printed once, before its first answer."""
    parts = [f"{ttl:>3}"]
    shown: str | None = None
    for probe in probes:
        if probe.address is not None and probe.address != shown:
            parts.append(probe.address)
            shown = probe.address
        if probe.kind == "*":
            parts.append("* ")
        elif probe.kind == "U":
            parts.append("!H")
        else:
            parts.append(f"{round(probe.rtt_ms or 0)} msec")
    return " ".join(parts) + "\n"


def traceroute_header(target: str) -> str:
    return f"{ABORT}Tracing the route to {target}\nVRF info: (vrf in name/id, vrf out name/id)\n"


def hop_done(probes: list[Probe]) -> bool:
    """The trace ends at the hop where the target answered or said unreachable."""
    return any(p.kind in ("reply", "U") for p in probes)
