"""The agent's receive path under hostile packets: one bad packet never costs the batch.

A `RouterAgent` wired as the live one is (engine debug -> the agent's log and sinks,
engine output -> `flush_engine`), over a tunnel with a stand-in socket and TAP (as
bench/bench_agent.py runs it): a batch of malformed NHRP, malformed GRE and broken
IPv4 with good packets between them. Every good packet arrives, every bad one is a
counted drop in the JSON state, the Error Indication goes out, and the log holds at
most one debug line per drop: no traceback, nothing above DEBUG.
"""

from __future__ import annotations

import logging
import time
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

from scapy.all import IP, UDP

from dmvpnlab.agent.core import RouterAgent, nhrp_engine_config
from dmvpnlab.agent.state import agent_state
from dmvpnlab.config.parser import parse_config
from dmvpnlab.nhrp.codec import ErrorCode, PacketType, decode
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP, decode_gre, encode_gre
from dmvpnlab.tunnel.mgre import MgreTunnel
from dmvpnlab.tunnel.transport import GreTransport
from test_cli_fakes import hub_config_text
from test_tunnel_transport import ISSUE_NHRP, FakeSocket, FakeTap

SPOKE1_NBMA = IPv4Address("100.64.1.1")
GOOD = bytes(IP(src="192.168.1.10", dst="192.168.0.10") / UDP() / (b"g" * 10))


class NoKernel:
    """What the agent asks of the kernel on this path: routes (none) and route changes."""

    def lookup(self, _address: IPv4Address, _ifname: str) -> None:
        return None

    def replace_route(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def delete_route(self, *_args: Any, **_kwargs: Any) -> bool:
        return True

    def routes(self) -> list:
        return []


def _hub(tmp_path: Path) -> tuple[RouterAgent, FakeTap, FakeSocket]:
    parsed = parse_config(hub_config_text(phase=2))
    config = parsed.config
    config.interface("Tunnel0").nhrp.authentication = None  # the issue's packet carries no password
    agent = RouterAgent(node="hub", config=config, state_dir=tmp_path, kernel=NoKernel())  # type: ignore[arg-type]
    itf = config.tunnels[0]
    engine = NhrpEngine(nhrp_engine_config(itf, IPv4Address("203.0.113.1")), agent._route_lookup, time.monotonic(),
                        debug=agent._debug)
    tap, sock = FakeTap(), FakeSocket()
    agent.tunnel = MgreTunnel("Tunnel0", IPv4Interface("10.0.0.1/24"), IPv4Address("203.0.113.1"), itf.tunnel_key,
                              1400, None, engine, tap=tap, transport=GreTransport(sock=sock))
    agent.tunnel.on_engine_output = agent.flush_engine
    return agent, tap, sock


def test_a_batch_with_bad_packets_delivers_every_good_one_and_logs_no_traceback(tmp_path, caplog):
    agent, tap, sock = _hub(tmp_path)
    key = agent.tunnel.key
    batch = [
        encode_gre(GRE_PROTO_NHRP, ISSUE_NHRP, key),     # NAT extension not a CIE list
        encode_gre(GRE_PROTO_IPV4, GOOD, key),
        encode_gre(GRE_PROTO_NHRP, ISSUE_NHRP[:30], key),  # truncated NHRP
        b"\x00\x07\x08\x00",                             # GRE version 7
        encode_gre(GRE_PROTO_IPV4, GOOD[:25], key),      # truncated IPv4
        encode_gre(0x86DD, GOOD, key),                   # a protocol the tunnel does not carry
        encode_gre(GRE_PROTO_IPV4, GOOD, key),
    ]
    for gre in batch:
        sock.deliver(SPOKE1_NBMA, gre)
    with caplog.at_level(logging.DEBUG):
        agent.tunnel.drain_socket()
    assert [frame[14:] for frame in tap.written] == [GOOD, GOOD]
    assert all(record.exc_info is None and record.levelno == logging.DEBUG for record in caplog.records)
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert any("Dropping Registration Request from 100.64.1.1" in r.getMessage() for r in caplog.records)

    [(error_gre, address)] = sock.sent  # the Error Indication, sent by flush_engine
    error = decode(decode_gre(error_gre).payload)
    assert address == (str(SPOKE1_NBMA), 0)
    assert (error.type, error.error_code) == (PacketType.ERROR_INDICATION, ErrorCode.PROTOCOL_ERROR)

    state = agent_state(agent)
    assert state["nhrp"]["traffic"]["dropped"] == {"malformed extension": 1, "malformed": 1}
    assert state["nhrp"]["cache"] == []
    assert state["tunnel"]["drops"] == {"malformed gre": 1, "unknown gre protocol": 1}
    assert state["tunnel"]["dataplane"]["drops"] == {"malformed-ipv4-from-tunnel": 1}
