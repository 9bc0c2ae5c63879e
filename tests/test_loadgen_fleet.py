"""The load generator's emulated spokes against the real hub engine, in process."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from dmvpnlab.loadgen.fleet import Fleet, HubAddress
from dmvpnlab.loadgen.inprocess import EngineWire, hub_engine
from dmvpnlab.loadgen.plan import AddressPlan, PlanError
from dmvpnlab.loadgen.run import LoadSettings, run
from dmvpnlab.loadgen.stats import LoadStats, percentile
from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.codec import PacketType
from dmvpnlab.tunnel.gre import decode_gre

TUNNEL = IPv4Interface("10.0.0.1/16")
HUB_NBMA = IPv4Address("203.0.113.1")
KEY = 12345


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        self.t += 0.001  # every look at the clock moves it: the loop always advances
        return self.t


def lab(count: int, auth: bytes | None = b"DMVPN", hub_auth: bytes | None = b"DMVPN", holdtime: int = 300):
    clock = Clock()
    engine = hub_engine(TUNNEL, HUB_NBMA, auth=hub_auth, holdtime=300, now=clock.t)
    stats = LoadStats()
    fleet = Fleet(AddressPlan(TUNNEL.network, count), HubAddress(TUNNEL.ip, HUB_NBMA), holdtime=holdtime,
                  auth=auth, gre_key=KEY, stats=stats)
    return clock, engine, fleet, EngineWire(engine, KEY, clock), stats


def test_each_emulated_spoke_has_its_own_nbma_and_tunnel_address_past_the_labs_routers():
    plan = AddressPlan(IPv4Network("10.0.0.0/16"), 10_000)
    assert plan.nbma(0) == IPv4Address("100.100.0.1") and plan.tunnel(0) == IPv4Address("10.0.4.0")
    assert len({plan.nbma(i) for i in range(10_000)}) == 10_000
    assert plan.index_of_nbma(plan.nbma(9_999)) == 9_999 and plan.index_of_nbma(IPv4Address("100.101.0.1")) is None
    assert plan.index_of_tunnel(plan.tunnel(17)) == 17
    with pytest.raises(PlanError, match="use a /16"):
        AddressPlan(IPv4Network("10.0.0.0/24"), 100)


def test_a_registration_is_what_a_spoke_agent_sends_flags_auth_and_the_nhs_in_the_nat_extension():
    _, _, fleet, _, _ = lab(3)
    datagram = fleet.registration(2, 1.0, "burst")
    assert datagram.src == IPv4Address("100.100.0.3") and datagram.dst == HUB_NBMA
    frame = decode_gre(datagram.gre)
    assert frame.key == KEY
    packet = codec.decode(frame.payload)
    assert packet.type == PacketType.REGISTRATION_REQUEST and packet.flags == 0x8002
    assert packet.src_proto == IPv4Address("10.0.4.2") and packet.dst_proto == TUNNEL.ip
    assert packet.cies[0].preference == 255 and packet.cies[0].holdtime == 300
    assert packet.extension(codec.ExtensionType.AUTHENTICATION) is not None


def test_a_fleet_registers_with_the_real_hub_engine_refreshes_resolves_and_purges():
    clock, engine, fleet, wire, stats = lab(200, holdtime=30)  # refresh every 10 s
    run(fleet, wire, LoadSettings(window=64, duration=12.0, resolutions=20.0), clock=clock)
    summary = stats.summary()["phases"]
    assert summary["burst"]["answered"] == summary["burst"]["sent"] == 200
    assert summary["refresh"]["answered"] >= 150  # every spoke refreshed once within 12 s (first spread over 10 s)
    assert summary["resolve"]["answered"] == summary["resolve"]["sent"] > 100
    assert stats.received["resolution_request"] == summary["resolve"]["sent"]  # the hub forwarded each to its target
    assert summary["purge"]["answered"] == 200
    assert len(engine.cache.snapshot()) == 0  # every registration purged at the hub
    assert not stats.dropped


def test_a_wrong_password_is_counted_as_unanswered_not_a_crash():
    clock, engine, fleet, wire, stats = lab(5, auth=b"WRONG")
    run(fleet, wire, LoadSettings(duration=0.0, purge=False, timeout=0.5, burst_limit=3.0), clock=clock)
    assert fleet.registered_count == 0 and len(engine.cache.snapshot()) == 0
    assert any("no reply" in reason for reason in stats.dropped)


def test_garbage_for_an_emulated_spoke_is_dropped_and_counted():
    _, _, fleet, _, stats = lab(2)
    assert fleet.receive(HUB_NBMA, fleet.plan.nbma(0), b"\x20\x00\x20\x01\x00\x00\x30\x39\xff", 0.0) == []
    assert fleet.receive(HUB_NBMA, IPv4Address("192.0.2.1"), b"", 0.0) == []
    assert sum(stats.dropped.values()) == 2


def test_percentiles_by_nearest_rank():
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50.0 and percentile(samples, 99) == 99.0 and percentile([], 50) is None


def test_an_unanswered_registration_is_resent_as_the_same_request_with_its_first_clock():
    _, _, fleet, _, stats = lab(1)
    fleet.registration(0, 10.0, "burst")
    resent = list(fleet.retransmissions(12.5, timeout=2.0))
    assert len(resent) == 1 and stats.phases["burst"].sent == 1  # a retry, not a new request
    (retry,) = fleet.outstanding.values()
    assert retry.attempts == 2 and retry.first_sent_at == 10.0 and retry.sent_at == 12.5
    assert any("no reply" in reason for reason in stats.dropped)
