"""Exec `ping` and `traceroute`: iputils `ping` as asyncio subprocesses in the agent's netns.

The agent already lives in the router's namespace, so a child process sees the router's
kernel routes and interfaces; running it with asyncio keeps the event loop (and with it
the user-space mGRE data plane) forwarding while the echoes are out. Traceroute is
driven here as TTL-limited single echoes (the `traceroute` program is not installed on
every host), three probes per hop as IOS sends them.
"""

from __future__ import annotations

import asyncio
import time
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.cli.deferred import Deferred, DeferredError
from dmvpnlab.cli.ping_render import (PingRequest, Probe, hop_done, parse_iputils, probe_result, render_hop,
                                      render_ping, traceroute_header)
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname

PING = "ping"
TRACE_PROBES = 3
TRACE_TIMEOUT = 3  # IOS waits 3 seconds per traceroute probe
TRACE_MAX_TTL = 30
_RANGES = {"repeat": (1, 2147483647), "size": (36, 18024), "timeout": (0, 3600)}


def _source_address(agent: Any, text: str) -> str:
    """`source` takes an address or an interface name; a name resolves to its address."""
    try:
        return str(IPv4Address(text))
    except ValueError:
        pass
    try:
        name = canonical_ios_ifname(text)
    except InterfaceNameError:
        raise DeferredError(f"Invalid source address or interface {text}") from None
    itf = agent.config.interface(name)
    if itf is None or itf.address is None:
        raise DeferredError(f"Invalid source interface - {name} has no IP address")
    return str(itf.address.ip)


def parse_ping_options(agent: Any, target: IPv4Address, words: list[str]) -> PingRequest:
    """`[source IF|A] [repeat N] [size N] [df-bit] [timeout N]`, any order, abbreviable."""
    request = PingRequest(str(target))
    i = 0
    while i < len(words):
        word = words[i].lower()
        if len(word) >= 1 and "df-bit".startswith(word):
            request.df_bit = True
            i += 1
            continue
        option = next((o for o in ("source", "repeat", "size", "timeout") if o.startswith(word) and len(word) >= 2),
                      None)
        if option is None or i + 1 >= len(words):
            raise DeferredError(f"Invalid input: {' '.join(words[i:])}")
        value = words[i + 1]
        i += 2
        if option == "source":
            if value.isalpha() and i < len(words) and words[i][:1].isdigit():
                value += words[i]  # `source GigabitEthernet 0/1`: a name in two tokens
                i += 1
            request.source = _source_address(agent, value)
            continue
        low, high = _RANGES[option]
        if not value.isdigit() or not low <= int(value) <= high:
            raise DeferredError(f"Invalid {option} {value} (range {low}-{high})")
        setattr(request, option, int(value))
    return request


def ping_argv(request: PingRequest) -> list[str]:
    """iputils arguments for one IOS ping: IOS `size` is the whole IP datagram."""
    argv = [PING, "-n", "-c", str(request.repeat), "-i", "0.2", "-s", str(max(0, request.size - 28)),
            "-W", str(max(1, request.timeout)), "-M", "do" if request.df_bit else "dont"]
    if request.source:
        argv += ["-I", request.source]
    return argv + [request.target]


async def _run(argv: list[str], deadline: float) -> str:
    """Run one program, its output as text; killed (our own child only) if it overstays."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT,
                                                   stdin=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=deadline)
    except asyncio.TimeoutError:
        process.kill()
        out, _ = await process.communicate()
    return out.decode("utf-8", "replace")


async def run_ping(request: PingRequest) -> str:
    deadline = request.repeat * (0.2 + max(1, request.timeout)) + 5
    text = await _run(ping_argv(request), deadline)
    return render_ping(request, parse_iputils(text, request.repeat), request.source)


async def _probe(target: str, ttl: int, source: str | None) -> Probe:
    argv = [PING, "-n", "-c", "1", "-t", str(ttl), "-W", str(TRACE_TIMEOUT)]
    if source:
        argv += ["-I", source]
    start = time.monotonic()
    text = await _run(argv + [target], TRACE_TIMEOUT + 5)
    return probe_result(text, (time.monotonic() - start) * 1000)


async def run_traceroute(target: str, source: str | None, max_ttl: int = TRACE_MAX_TTL) -> str:
    lines = [traceroute_header(target)]
    for ttl in range(1, max_ttl + 1):
        probes = [await _probe(target, ttl, source) for _ in range(TRACE_PROBES)]
        lines.append(render_hop(ttl, probes))
        if hop_done(probes):
            break
    return "".join(lines)


def ping_action(s: Any, a: dict[str, Any]) -> Deferred:
    request = parse_ping_options(s.agent, a["target"], a.get("options", "").split())
    return Deferred(lambda: run_ping(request))


def traceroute_action(s: Any, a: dict[str, Any]) -> Deferred:
    words = a.get("options", "").split()
    source = None
    i = 0
    while i < len(words):
        word = words[i].lower()
        if len(word) >= 2 and "numeric".startswith(word):
            i += 1  # we never resolve names: the output is always numeric
        elif len(word) >= 2 and "source".startswith(word) and i + 1 < len(words):
            source = _source_address(s.agent, words[i + 1])
            i += 2
        else:
            raise DeferredError(f"Invalid input: {' '.join(words[i:])}")
    target = str(a["target"])
    return Deferred(lambda: run_traceroute(target, source))
