"""Exec `ping` / `traceroute`: IOS output from crafted iputils text (ntc-templates must
parse it into the right fields), option parsing, and the asynchronous path end to end
against 127.0.0.1 (a real iputils ping in the test's own namespace, no lab)."""

from __future__ import annotations

import asyncio
import time
from ipaddress import IPv4Address, IPv4Interface
from types import SimpleNamespace

import pytest
from ntc_templates.parse import parse_output

from dmvpnlab.cli import ping_run
from dmvpnlab.cli.deferred import DeferredError
from dmvpnlab.cli.exec import ExecSession
from dmvpnlab.cli.ping_render import (PingRequest, Probe, parse_iputils, probe_result, render_hop, render_ping,
                                      traceroute_header)

IPUTILS_MIXED = """PING 192.168.2.1 (192.168.2.1) 72(100) bytes of data.
80 bytes from 192.168.2.1: icmp_seq=1 ttl=63 time=1.21 ms
80 bytes from 192.168.2.1: icmp_seq=3 ttl=63 time=3.70 ms
From 10.0.0.1 icmp_seq=4 Destination Host Unreachable
80 bytes from 192.168.2.1: icmp_seq=5 ttl=63 time=0.61 ms
garbage line \x00 that must be ignored
--- 192.168.2.1 ping statistics ---
5 packets transmitted, 3 received, +1 errors, 40% packet loss, time 812ms
"""


def _agent() -> SimpleNamespace:
    gi = SimpleNamespace(name="GigabitEthernet0/1", address=IPv4Interface("192.168.1.1/24"))
    return SimpleNamespace(config=SimpleNamespace(
        hostname="spoke1", interface=lambda name: gi if name == gi.name else None))


def test_parse_marks_in_sequence_order():
    marks = parse_iputils(IPUTILS_MIXED, 5).marks
    assert "".join(m for m, _ in marks) == "!.!U!"
    assert marks[0] == ("!", 1.21)


def test_ping_output_parses_with_ntc_templates():
    request = PingRequest("192.168.2.1", source="192.168.1.1")
    text = render_ping(request, parse_iputils(IPUTILS_MIXED, 5), "192.168.1.1")
    assert text.splitlines() == [
        "Type escape sequence to abort.",
        "Sending 5, 100-byte ICMP Echos to 192.168.2.1, timeout is 2 seconds:",
        "Packet sent with a source address of 192.168.1.1 ",
        "!.!U!",
        "Success rate is 60 percent (3/5), round-trip min/avg/max = 1/2/4 ms",
    ]
    row, = parse_output(platform="cisco_ios", command="ping 192.168.2.1", data=text)
    assert row["sent_qty"] == "5" and row["destination"] == "192.168.2.1" and row["timeout"] == "2"
    assert row["source"] == "192.168.1.1" and row["response_stream"] == ["!.!U!"]
    assert (row["success_pct"], row["success_qty"]) == ("60", "3")
    assert (row["rtt_min"], row["rtt_avg"], row["rtt_max"]) == ("1", "2", "4")


def test_all_lost_and_long_stream_wraps():
    request = PingRequest("10.9.9.9", repeat=100, timeout=1)
    text = render_ping(request, parse_iputils("", 100), None)
    lines = text.splitlines()
    assert lines[2] == "." * 70 and lines[3] == "." * 30
    assert lines[4] == "Success rate is 0 percent (0/100)"
    row, = parse_output(platform="cisco_ios", command="ping 10.9.9.9", data=text)
    assert row["success_pct"] == "0" and row["rtt_min"] == ""


def test_df_bit_too_big_is_m():
    text = "PING x\nping: local error: message too long, mtu=1400\n"
    assert "".join(m for m, _ in parse_iputils(text, 3).marks) == "MMM"


def test_options_any_order_and_interface_source():
    request = ping_run.parse_ping_options(_agent(), IPv4Address("192.168.2.1"),
                                          "si 1400 df so Gi0/1 re 10 ti 1".split())
    assert (request.size, request.df_bit, request.source, request.repeat, request.timeout) == \
        (1400, True, "192.168.1.1", 10, 1)
    two_tokens = ping_run.parse_ping_options(_agent(), IPv4Address("192.168.2.1"),
                                             "source GigabitEthernet 0/1".split())
    assert two_tokens.source == "192.168.1.1"
    argv = ping_run.ping_argv(request)
    assert argv[-1] == "192.168.2.1" and "-M" in argv and argv[argv.index("-s") + 1] == "1372"
    for bad in ("size 20", "repeat x", "bogus", "source Tunnel9", "timeout"):
        with pytest.raises(DeferredError):
            ping_run.parse_ping_options(_agent(), IPv4Address("192.168.2.1"), bad.split())


def test_traceroute_lines_parse_with_ntc_templates():
    hop1 = [probe_result("From 10.0.0.1 icmp_seq=1 Time to live exceeded\n", 1.2) for _ in range(3)]
    hop2 = [Probe("10.0.0.3", "reply", 1.4), Probe(None, "*"), Probe("10.0.0.3", "reply", 0.6)]
    hop3 = [Probe(None, "*")] * 3
    text = traceroute_header("192.168.2.1") + render_hop(1, hop1) + render_hop(2, hop2) + render_hop(3, hop3)
    assert "  1 10.0.0.1 1 msec 1 msec 1 msec\n" in text
    assert "  2 10.0.0.3 1 msec *  1 msec\n" in text
    rows = parse_output(platform="cisco_ios", command="traceroute 192.168.2.1", data=text)
    assert [(r["hop_num"], r["ip_address"], r["rtt_response"]) for r in rows] == [
        ("1", "10.0.0.1", ["1", "1", "1"]), ("2", "10.0.0.3", ["1", "*", "1"]), ("3", "", ["*", "*", "*"])]


def test_probe_reply_and_unreachable_and_nothing():
    assert probe_result("64 bytes from 8.8.8.8: icmp_seq=1 ttl=60 time=2.5 ms", 9).kind == "reply"
    unreachable = probe_result("From 10.0.0.1 icmp_seq=1 Destination Net Unreachable", 3)
    assert unreachable.kind == "U" and render_hop(4, [unreachable]) == "  4 10.0.0.1 !H\n"
    assert probe_result("\x00\xff nonsense", 3).kind == "*"


def test_sync_handle_refuses_instead_of_blocking():
    result = ExecSession(_agent()).handle("ping 127.0.0.1")
    assert result.error and "asynchronous" in result.output


def test_ping_async_keeps_the_loop_running():
    """A real iputils ping of 127.0.0.1 through handle_async; a ticker proves the event
    loop kept running during it (the data plane would be forwarding)."""
    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)
        task = asyncio.create_task(ticker())
        result = await ExecSession(_agent()).handle_async("ping 127.0.0.1 repeat 3 timeout 1")
        task.cancel()
        return result.output, ticks
    start = time.monotonic()
    output, ticks = asyncio.run(main())
    assert "Success rate is 100 percent (3/3)" in output, output
    assert ticks >= 0.5 * (time.monotonic() - start) / 0.01 * 0.5
    row, = parse_output(platform="cisco_ios", command="ping 127.0.0.1", data=output)
    assert row["response_stream"] == ["!!!"]


def test_ping_bad_option_through_session():
    result = asyncio.run(ExecSession(_agent()).handle_async("ping 127.0.0.1 size 5"))
    assert result.error and result.output.startswith("% Invalid size")


def test_ping_pipes():
    session = ExecSession(_agent())
    refused = asyncio.run(session.handle_async("ping 127.0.0.1 repeat 2 | json"))
    assert refused.error and "JSON" in refused.output
    rate = asyncio.run(session.handle_async("ping 127.0.0.1 repeat 2 timeout 1 | include Success"))
    assert rate.output.startswith("Success rate is 100 percent (2/2)"), rate.output
