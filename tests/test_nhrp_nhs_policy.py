"""A spoke with several NHSs follows IOS 15's NHS policy: priority, clusters, max-connections, fallback.

One spoke engine runs in-process against crafted hubs: `Hubs.step` answers every
Registration Request sent to an NBMA that is "up" with a Cisco-style Registration Reply
(messages.registration_reply, as our hub builds it) and drops the others. What the tests
watch is what the spoke puts on the wire and the per-NHS state `show ip nhrp nhs` prints.
The pure selection rules are tested on nhs_policy directly at the end.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.lab.agents import nhs_settled
from dmvpnlab.nhrp import messages, nhs_policy
from dmvpnlab.nhrp.codec import CIE_SUCCESS, PacketType, decode, encode
from dmvpnlab.nhrp.config import NhsConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.records import NhsState
from nhrp_sim import AUTH, spoke_config

A = IPv4Address
HUB1, HUB1_NBMA = A("10.0.0.1"), A("203.0.113.1")
HUB2, HUB2_NBMA = A("10.0.0.254"), A("203.0.113.2")
HUB3, HUB3_NBMA = A("10.0.0.253"), A("203.0.113.3")
PROTO_OF = {HUB1_NBMA: HUB1, HUB2_NBMA: HUB2, HUB3_NBMA: HUB3}
INTERVAL = 100.0  # holdtime 300 / 3


class Hubs:
    """Crafted NHSs: answer the spoke's Registration Requests when their NBMA is up."""

    def __init__(self, engine: NhrpEngine, up: set[IPv4Address]) -> None:
        self.engine = engine
        self.up = set(up)
        self.now = 0.0
        self.requests: list[tuple[float, IPv4Address, int]] = []  # (time, NBMA, packet type)

    def step(self) -> None:
        while self.engine.outbox:
            outbox, self.engine.outbox = self.engine.outbox, []
            for nbma, data in outbox:
                packet = decode(data)
                self.requests.append((self.now, nbma, packet.type))
                if packet.type != PacketType.REGISTRATION_REQUEST or nbma not in self.up:
                    continue
                hub = messages.Identity(nbma=nbma, proto=PROTO_OF[nbma], holdtime=300, mtu=17916, auth=AUTH)
                reply = messages.registration_reply(hub, packet, CIE_SUCCESS)
                self.engine.receive(encode(reply), nbma, self.now)

    def run_to(self, until: float) -> None:
        """Tick the spoke every 0.5 s up to `until`, answering as we go."""
        while self.now < until:
            self.now = round(self.now + 0.5, 3)
            self.engine.tick(self.now)
            self.step()

    def registrations_to(self, nbma: IPv4Address, since: float = 0.0) -> int:
        return sum(1 for t, n, ptype in self.requests
                   if n == nbma and ptype == PacketType.REGISTRATION_REQUEST and t >= since)


def spoke(nhs: list[NhsConfig], max_connections: dict[int, int] | None = None,
          fallback: float | None = None, up: set[IPv4Address] = frozenset({HUB1_NBMA, HUB2_NBMA, HUB3_NBMA})
          ) -> tuple[NhrpEngine, Hubs]:
    engine = NhrpEngine(spoke_config(1, nhs=nhs, nhs_max_connections=max_connections or {}, nhs_fallback=fallback),
                        lambda a: None, 0.0)
    hubs = Hubs(engine, up)
    engine.start(0.0)
    hubs.step()
    return engine, hubs


def states(engine: NhrpEngine) -> dict[IPv4Address | None, str]:
    return {s.proto: s.state for s in engine.nhs}


TWO = [NhsConfig(HUB1, HUB1_NBMA, priority=1), NhsConfig(HUB2, HUB2_NBMA, priority=2)]


# --- without max-connections: every NHS ------------------------------------------------


def test_without_max_connections_the_spoke_registers_with_every_nhs():
    engine, hubs = spoke(TWO)
    assert states(engine) == {HUB1: "R", HUB2: "R"}
    assert hubs.registrations_to(HUB1_NBMA) == hubs.registrations_to(HUB2_NBMA) == 1


def test_max_connections_of_another_cluster_does_not_limit_this_one():
    engine, _ = spoke(TWO, max_connections={5: 1})
    assert states(engine) == {HUB1: "R", HUB2: "R"}


# --- max-connections: the best NHSs by priority ----------------------------------------


def test_max_connections_1_registers_with_the_preferred_nhs_and_the_other_waits():
    engine, hubs = spoke(TWO, max_connections={0: 1})
    assert states(engine) == {HUB1: "R", HUB2: "W"}
    hubs.run_to(3 * INTERVAL)
    assert hubs.registrations_to(HUB2_NBMA) == 0  # a waiting NHS is sent nothing
    assert hubs.registrations_to(HUB1_NBMA) == 4  # at start, then every holdtime/3


def test_lower_priority_value_wins_over_configuration_order():
    engine, hubs = spoke([NhsConfig(HUB1, HUB1_NBMA, priority=9), NhsConfig(HUB2, HUB2_NBMA, priority=1)],
                         max_connections={0: 1})
    assert states(engine) == {HUB1: "W", HUB2: "R"}
    assert hubs.registrations_to(HUB1_NBMA) == 0


def test_equal_priorities_are_chosen_in_configuration_order():
    engine, _ = spoke([NhsConfig(HUB3, HUB3_NBMA), NhsConfig(HUB1, HUB1_NBMA), NhsConfig(HUB2, HUB2_NBMA)],
                      max_connections={0: 2})
    assert states(engine) == {HUB3: "R", HUB1: "R", HUB2: "W"}


def test_max_connections_counts_per_cluster():
    engine, _ = spoke([NhsConfig(HUB1, HUB1_NBMA, cluster=1), NhsConfig(HUB2, HUB2_NBMA, cluster=1),
                       NhsConfig(HUB3, HUB3_NBMA, cluster=2)], max_connections={1: 1, 2: 1})
    assert states(engine) == {HUB1: "R", HUB2: "W", HUB3: "R"}


# --- failover and fallback -------------------------------------------------------------


def test_when_the_active_nhs_stops_answering_the_next_best_waiting_one_is_activated():
    engine, hubs = spoke([*TWO, NhsConfig(HUB3, HUB3_NBMA, priority=3)], max_connections={0: 1})
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 20)
    assert states(engine) == {HUB1: "E", HUB2: "R", HUB3: "W"}
    # Down after 3 unanswered requests (sent at 100, 101, 103; the last one's 4 s run out).
    assert [t for t, n, _ in hubs.requests if n == HUB2_NBMA] == [107.0]
    assert hubs.registrations_to(HUB3_NBMA) == 0


def test_the_down_nhs_keeps_being_probed_with_the_backoff():
    engine, hubs = spoke(TWO, max_connections={0: 1})
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 60)
    probes = [t for t, n, _ in hubs.requests if n == HUB1_NBMA and t >= INTERVAL]
    assert probes == [100.0, 101.0, 103.0, 107.0, 115.0, 131.0]  # 1, 2, 4, 8, 16 s apart


def test_preferred_nhs_answering_again_takes_back_at_once_without_fallback():
    engine, hubs = spoke(TWO, max_connections={0: 1})
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 10)
    assert states(engine) == {HUB1: "E", HUB2: "R"}
    hubs.up.add(HUB1_NBMA)
    hubs.run_to(INTERVAL + 20)  # the probe at 115 is answered
    assert states(engine) == {HUB1: "R", HUB2: "W"}
    mark = hubs.now
    hubs.run_to(mark + 2 * INTERVAL)
    assert hubs.registrations_to(HUB2_NBMA, since=mark) == 0


def test_preferred_nhs_is_taken_back_only_after_fallback_seconds_of_answering():
    engine, hubs = spoke(TWO, max_connections={0: 1}, fallback=30)
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 10)
    hubs.up.add(HUB1_NBMA)
    hubs.run_to(115.0)  # the probe at 115 is answered
    back = next(s for s in engine.nhs if s.proto == HUB1).up_since
    assert back == 115.0
    hubs.run_to(back + 29.5)
    assert states(engine)[HUB2] == "R"  # still with the lesser NHS during the fallback time
    hubs.run_to(back + 30.0)
    assert states(engine) == {HUB1: "R", HUB2: "W"}


def test_preferred_nhs_failing_again_during_fallback_is_not_taken_back():
    engine, hubs = spoke(TWO, max_connections={0: 1}, fallback=300)
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 10)
    hubs.up.add(HUB1_NBMA)
    hubs.run_to(120.0)
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(500.0)
    assert states(engine) == {HUB1: "E", HUB2: "R"}


# --- what goes "to the NHS" ------------------------------------------------------------


def _resolution_nbma(engine: NhrpEngine, hubs: Hubs, target: IPv4Address) -> IPv4Address:
    engine.outbox.clear()
    engine.next_hop_nbma(target, hubs.now)
    [(nbma, data)] = engine.outbox
    assert decode(data).type == PacketType.RESOLUTION_REQUEST
    return nbma


def test_resolution_goes_to_the_nhs_that_is_up():
    engine, hubs = spoke(TWO, max_connections={0: 1})
    hubs.up.discard(HUB1_NBMA)
    hubs.run_to(INTERVAL + 10)
    assert _resolution_nbma(engine, hubs, A("10.0.0.50")) == HUB2_NBMA


def test_resolution_prefers_the_best_priority_among_responding_nhss():
    engine, hubs = spoke([NhsConfig(HUB1, HUB1_NBMA, priority=5), NhsConfig(HUB2, HUB2_NBMA, priority=1)])
    assert states(engine) == {HUB1: "R", HUB2: "R"}
    assert _resolution_nbma(engine, hubs, A("10.0.0.50")) == HUB2_NBMA


def test_resolution_goes_to_the_first_configured_nhs_when_none_is_up():
    engine, hubs = spoke(TWO, up=set())
    assert _resolution_nbma(engine, hubs, A("10.0.0.50")) == HUB1_NBMA


# --- dynamic NHS -------------------------------------------------------------------------


def test_dynamic_nhs_learns_its_tunnel_address_from_the_registration_reply():
    engine, hubs = spoke([NhsConfig(None, HUB1_NBMA)])
    [state] = engine.nhs
    assert state.state == "R" and state.proto == HUB1 and state.config.proto is None
    entry = engine.cache.peer(HUB1)
    assert entry is not None and entry.nbma == HUB1_NBMA  # reachable by its learnt address


def test_dynamic_nhs_request_names_our_own_address_until_it_is_learnt():
    engine = NhrpEngine(spoke_config(1, nhs=[NhsConfig(None, HUB1_NBMA)]), lambda a: None, 0.0)
    engine.start(0.0)
    [(nbma, data)] = engine.outbox
    assert nbma == HUB1_NBMA and decode(data).dst_proto == A("10.0.0.2")
    assert engine.nhs[0].proto is None


# --- the pure rules ------------------------------------------------------------------------


def _state(priority: int = 0, **fields) -> NhsState:
    state = NhsState(config=NhsConfig(A("10.0.0.9"), priority=priority), request_id=1)
    for name, value in fields.items():
        setattr(state, name, value)
    return state


def test_rank_is_by_priority_then_configuration_order():
    a, b, c = _state(2), _state(0), _state(2)
    assert nhs_policy.rank([a, b, c]) == [b, a, c]


def test_an_nhs_is_down_once_its_third_unanswered_request_timed_out():
    assert not nhs_policy.is_down(_state(state="E", awaiting=True, unanswered=3, next_send=10.0), 9.0)
    assert nhs_policy.is_down(_state(state="E", awaiting=True, unanswered=3, next_send=10.0), 10.0)
    assert not nhs_policy.is_down(_state(state="R", awaiting=True, unanswered=5), 10.0)


def test_a_recovering_nhs_is_eligible_after_fallback_seconds_of_answering():
    recovering = _state(state="R", recovering=True, up_since=100.0)
    assert not nhs_policy.eligible(recovering, 129.0, 30)
    assert nhs_policy.eligible(recovering, 130.0, 30)
    assert nhs_policy.eligible(recovering, 100.0, None)


# --- configure terminal ----------------------------------------------------------------


def test_adding_max_connections_live_sends_the_lesser_nhs_to_wait_and_keeps_the_registration():
    engine, hubs = spoke(TWO)
    before = next(s for s in engine.nhs if s.proto == HUB1)
    engine.reconfigure(spoke_config(1, nhs=TWO, nhs_max_connections={0: 1}), hubs.now)
    hubs.run_to(1.0)
    assert states(engine) == {HUB1: "R", HUB2: "W"}
    assert next(s for s in engine.nhs if s.proto == HUB1) is before  # same registration, not a new one


def test_removing_max_connections_live_registers_with_the_waiting_nhs_at_once():
    engine, hubs = spoke(TWO, max_connections={0: 1})
    engine.reconfigure(spoke_config(1, nhs=TWO), hubs.now)
    hubs.run_to(0.5)
    assert states(engine) == {HUB1: "R", HUB2: "R"}
    assert hubs.registrations_to(HUB2_NBMA) == 1


# --- the lab's "converged" test ----------------------------------------------------------


def test_the_lab_counts_a_waiting_nhs_as_settled_and_an_unanswered_one_as_not():
    assert nhs_settled({"state": "R"}) and nhs_settled({"state": "W", "waiting": True})
    assert not nhs_settled({"state": "E", "waiting": False}) and not nhs_settled({"state": "W", "waiting": False})


def test_a_dynamic_nhs_answering_with_a_new_address_replaces_its_old_mapping():
    engine, hubs = spoke([NhsConfig(None, HUB1_NBMA)])
    PROTO_OF[HUB1_NBMA] = A("10.0.0.100")
    try:
        hubs.run_to(INTERVAL + 1)
    finally:
        PROTO_OF[HUB1_NBMA] = HUB1
    assert engine.nhs[0].proto == A("10.0.0.100")
    assert engine.cache.peer(HUB1) is None and engine.cache.peer(A("10.0.0.100")).nbma == HUB1_NBMA
