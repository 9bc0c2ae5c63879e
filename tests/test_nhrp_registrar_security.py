"""The hub's registration table is only changed by the spoke that holds the entry (issue 12).

Two holes closed in nhrp/registrar.py (rules in nhrp/holders.py):
- a Purge Request with the right authentication string removed any spoke's registration,
  whoever sent it; now a registration is purged only by its registrant (or by its holder
  taking back its stale binding after its NBMA changed), and a refused purge is counted,
  logged and not answered;
- a unique address was compared with the outer source only, so a NATed holder whose
  mapping changed lost it, and another spoke arriving from the holder's old public
  address got it; now the holder is known by its claimed NBMA behind NAT.
And the multicast list (`map multicast dynamic`) loses no NBMA on a refused request, nor
one that another registration still uses (several spokes behind one NAT).

The hub is an engine driven in-process with crafted packets (messages.py builds them,
codec.py reads the answers off the wire bytes); the unchanged purge paths run on the
in-memory network of nhrp_sim.py.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from dmvpnlab.nhrp import messages
from dmvpnlab.nhrp.codec import CIE_ALREADY_REGISTERED, CIE_SUCCESS, Cie, NhrpPacket, PacketType, decode, encode
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.registrar import PURGE_REFUSED
from nhrp_engine_kit import SPOKE1, SPOKE1_NBMA, SPOKE2, SPOKE2_NBMA
from nhrp_sim import AUTH, HUB_NBMA, HUB_TUNNEL, TUNNEL, dmvpn, hub_config, lan, lan_host

A = IPv4Address
N = IPv4Network

PUBLIC, NEW_PUBLIC, OTHER_PUBLIC = A("198.51.100.7"), A("198.51.100.8"), A("198.51.100.9")  # NAT outside addresses
PRIVATE1, PRIVATE2 = A("172.16.1.1"), A("172.16.2.1")  # what spokes behind NAT claim
IMPOSTOR_NBMA = A("100.64.9.1")


class Hub:
    """A hub engine fed crafted packets, with its debug log and its answers decoded."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.now = 0.0
        self.engine = NhrpEngine(hub_config(), lambda address: None, self.now,
                                 debug=lambda category, line: self.log.append(line))

    def receive(self, packet: NhrpPacket, outer_src: IPv4Address) -> list[tuple[IPv4Address, NhrpPacket]]:
        """Deliver `packet` as if from NBMA `outer_src`; what the hub sent back, decoded."""
        self.engine.outbox.clear()
        self.engine.receive(encode(packet), outer_src, self.now)
        return [(nbma, decode(data)) for nbma, data in self.engine.outbox]

    def register(self, proto: IPv4Address, claimed: IPv4Address, outer_src: IPv4Address | None = None,
                 unique: bool = True) -> int:
        """A Registration Request from `proto` claiming NBMA `claimed`; the reply's CIE code."""
        [(to, reply)] = self.receive(_registration(proto, claimed, unique), outer_src or claimed)
        assert reply.type == PacketType.REGISTRATION_REPLY and to == (outer_src or claimed)
        [cie] = reply.cies
        return cie.code

    def holder(self, proto: IPv4Address) -> tuple[IPv4Address | None, IPv4Address | None] | None:
        entry = self.engine.cache.peer(proto)
        return None if entry is None else (entry.nbma, entry.claimed_nbma)


def _identity(proto: IPv4Address, nbma: IPv4Address) -> messages.Identity:
    return messages.Identity(nbma, proto, 300, auth=AUTH)


def _registration(proto: IPv4Address, claimed: IPv4Address, unique: bool = True) -> NhrpPacket:
    return messages.registration_request(_identity(proto, claimed), HUB_TUNNEL, HUB_NBMA, 7, unique)


def _purge(sender: IPv4Address, sender_nbma: IPv4Address, target: IPv4Address, prefix_len: int = 32,
           stale_nbma: IPv4Address | None = None, want_reply: bool = True) -> NhrpPacket:
    cie = Cie(prefix_len=prefix_len, holdtime=0, preference=255, nbma=stale_nbma, proto=target)
    return messages.purge_request(_identity(sender, sender_nbma), HUB_TUNNEL, [cie], 77, want_reply)


@pytest.fixture
def hub() -> Hub:
    """spoke1 and spoke2 registered, uniquely, each at its own NBMA (no NAT)."""
    hub = Hub()
    assert hub.register(SPOKE1, SPOKE1_NBMA) == CIE_SUCCESS
    assert hub.register(SPOKE2, SPOKE2_NBMA) == CIE_SUCCESS
    return hub


@pytest.fixture
def natted_hub() -> Hub:
    """spoke1 behind NAT: it claims PRIVATE1, the hub sees PUBLIC."""
    hub = Hub()
    assert hub.register(SPOKE1, PRIVATE1, outer_src=PUBLIC) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (PUBLIC, PRIVATE1)
    return hub


# =====================================================================================
# Purges of registrations
# =====================================================================================


def test_a_purge_from_the_registrant_removes_its_registration_and_is_answered(hub):
    sent = hub.receive(_purge(SPOKE1, SPOKE1_NBMA, SPOKE1), SPOKE1_NBMA)
    assert hub.holder(SPOKE1) is None
    assert [(to, p.type, p.request_id) for to, p in sent] == [(SPOKE1_NBMA, PacketType.PURGE_REPLY, 77)]
    assert SPOKE1_NBMA not in hub.engine.multicast_targets()
    assert hub.engine.dropped[PURGE_REFUSED] == 0


@pytest.mark.parametrize("claims_to_be", [SPOKE2, SPOKE1], ids=["as itself", "posing as the victim"])
def test_a_purge_of_another_spokes_registration_is_refused_counted_logged_and_not_answered(hub, claims_to_be):
    sent = hub.receive(_purge(claims_to_be, SPOKE2_NBMA, SPOKE1, stale_nbma=SPOKE1_NBMA), SPOKE2_NBMA)
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)
    assert sent == []  # a Purge Reply would say the binding was flushed
    assert hub.engine.dropped[PURGE_REFUSED] == 1
    assert any("Refusing purge of 10.0.0.2/32" in line and str(SPOKE2_NBMA) in line for line in hub.log)
    assert sorted(hub.engine.multicast_targets()) == [SPOKE1_NBMA, SPOKE2_NBMA]


def test_a_refused_purge_with_the_n_flag_is_counted_too(hub):
    assert hub.receive(_purge(SPOKE2, SPOKE2_NBMA, SPOKE1, want_reply=False), SPOKE2_NBMA) == []
    assert hub.holder(SPOKE1) is not None and hub.engine.dropped[PURGE_REFUSED] == 1


def test_a_purge_of_the_whole_tunnel_network_removes_only_the_senders_own_registration(hub):
    hub.receive(_purge(SPOKE2, SPOKE2_NBMA, TUNNEL.network_address, prefix_len=24), SPOKE2_NBMA)
    assert hub.holder(SPOKE2) is None
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)
    assert hub.engine.dropped[PURGE_REFUSED] == 1


def test_a_purge_from_an_unknown_nbma_naming_the_wrong_old_binding_is_refused(hub):
    hub.receive(_purge(SPOKE1, IMPOSTOR_NBMA, SPOKE1, stale_nbma=A("100.64.77.1")), IMPOSTOR_NBMA)
    hub.receive(_purge(SPOKE1, IMPOSTOR_NBMA, SPOKE1), IMPOSTOR_NBMA)  # naming no old binding at all
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)
    assert hub.engine.dropped[PURGE_REFUSED] == 2


def test_the_holder_whose_nbma_changed_takes_back_its_stale_binding_and_registers_anew(hub):
    # What NhrpEngine.nbma_changed sends (a new DHCP lease): a purge of its own address at
    # the old NBMA, from the new one, then the registration.
    new = A("100.64.99.1")
    hub.receive(_purge(SPOKE1, new, SPOKE1, stale_nbma=SPOKE1_NBMA, want_reply=False), new)
    assert hub.holder(SPOKE1) is None
    assert hub.register(SPOKE1, new) == CIE_SUCCESS
    assert sorted(hub.engine.multicast_targets()) == sorted([new, SPOKE2_NBMA])


def test_a_holder_moving_back_to_an_nbma_it_left_takes_back_its_binding_again(hub):
    # A DHCP lease handed back: 100.64.1.1 -> new -> 100.64.1.1 within the holding time.
    new = A("100.64.99.1")
    hub.receive(_purge(SPOKE1, new, SPOKE1, stale_nbma=SPOKE1_NBMA, want_reply=False), new)
    assert hub.register(SPOKE1, new) == CIE_SUCCESS
    hub.receive(_purge(SPOKE1, SPOKE1_NBMA, SPOKE1, stale_nbma=new, want_reply=False), SPOKE1_NBMA)
    assert hub.holder(SPOKE1) is None
    assert hub.register(SPOKE1, SPOKE1_NBMA) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)


def test_a_registered_spoke_cannot_pass_for_a_moved_holder_even_after_purging_itself(hub):
    forged = _purge(SPOKE1, SPOKE2_NBMA, SPOKE1, stale_nbma=SPOKE1_NBMA)
    hub.receive(forged, SPOKE2_NBMA)
    hub.receive(_purge(SPOKE2, SPOKE2_NBMA, SPOKE2), SPOKE2_NBMA)  # its own: honoured
    assert hub.holder(SPOKE2) is None
    hub.receive(forged, SPOKE2_NBMA)  # still a registrant here for its holding time
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)
    assert hub.engine.dropped[PURGE_REFUSED] == 2


def test_behind_a_shared_nat_a_spoke_purges_its_own_registration_but_not_its_neighbours(natted_hub):
    hub = natted_hub
    assert hub.register(SPOKE2, PRIVATE2, outer_src=PUBLIC) == CIE_SUCCESS
    hub.receive(_purge(SPOKE2, PRIVATE2, SPOKE1, stale_nbma=PRIVATE1), PUBLIC)
    assert hub.holder(SPOKE1) == (PUBLIC, PRIVATE1)
    assert hub.engine.dropped[PURGE_REFUSED] == 1
    hub.receive(_purge(SPOKE1, PRIVATE1, SPOKE1), PUBLIC)
    assert hub.holder(SPOKE1) is None
    assert hub.engine.multicast_targets() == [PUBLIC]  # spoke2 still lives there


def test_the_owners_withdrawal_purge_at_the_hub_is_answered_and_leaves_the_registrations():
    net = dmvpn(2, phase=3)
    assert net.ping("spoke1", lan_host(1), lan_host(2)) == ["spoke1", "hub", "spoke2"]
    mark = net.mark()
    table = net.nodes["spoke2"].table
    table[:] = [row for row in table if row[0] != lan(2)]  # spoke2's LAN goes
    net.run(2.0, step=0.25)
    assert sorted(w.dst for w in net.since(mark, PacketType.PURGE_REQUEST, src="spoke2")) == ["hub", "spoke1"]
    assert sorted(w.src for w in net.since(mark, PacketType.PURGE_REPLY, dst="spoke2")) == ["hub", "spoke1"]
    assert net.nodes["spoke1"].shortcuts == {}
    hub = net.nodes["hub"].engine
    assert hub.cache.peer(SPOKE1).nbma == SPOKE1_NBMA and hub.cache.peer(SPOKE2).nbma == SPOKE2_NBMA
    assert hub.dropped[PURGE_REFUSED] == 0


def test_a_spoke_still_honours_the_hubs_purge_of_its_resolved_entries():
    net = dmvpn(2, phase=3)
    net.ping("spoke1", lan_host(1), lan_host(2))
    spoke1 = net.nodes["spoke1"].engine
    assert spoke1.cache.peer(SPOKE2) is not None and spoke1.cache.get(lan(2)) is not None
    spoke1.receive(encode(_purge(HUB_TUNNEL, HUB_NBMA, SPOKE2)), HUB_NBMA, net.now)
    assert spoke1.cache.peer(SPOKE2) is None and spoke1.cache.get(lan(2)) is None
    assert [decode(data).type for _, data in spoke1.outbox] == [PacketType.PURGE_REPLY]


# =====================================================================================
# Unique registrations
# =====================================================================================


def test_a_unique_address_held_at_another_nbma_is_refused_with_code_14_on_the_wire(hub):
    [(to, reply)] = hub.receive(_registration(SPOKE1, IMPOSTOR_NBMA), IMPOSTOR_NBMA)
    assert to == IMPOSTOR_NBMA
    assert reply.type == PacketType.REGISTRATION_REPLY
    assert [c.code for c in reply.cies] == [CIE_ALREADY_REGISTERED] == [14]
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)
    assert any("Unique address 10.0.0.2 already registered by 100.64.1.1" in line for line in hub.log)


def test_a_refused_registration_leaves_the_multicast_list_as_it_was(hub):
    before = sorted(hub.engine.multicast_targets())
    hub.register(SPOKE1, IMPOSTOR_NBMA)
    hub.register(SPOKE1, PRIVATE2, outer_src=SPOKE1_NBMA)  # a NATed stranger at the holder's address
    assert sorted(hub.engine.multicast_targets()) == before


def test_the_holder_re_registers_at_the_same_nbma(hub):
    assert hub.register(SPOKE1, SPOKE1_NBMA) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (SPOKE1_NBMA, None)


def test_a_natted_holder_whose_mapping_changed_keeps_its_address(natted_hub):
    hub = natted_hub
    assert hub.register(SPOKE1, PRIVATE1, outer_src=NEW_PUBLIC) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (NEW_PUBLIC, PRIVATE1)
    assert hub.engine.multicast_targets() == [NEW_PUBLIC]  # the old mapping is dead


@pytest.mark.parametrize("arrives_from", [PUBLIC, OTHER_PUBLIC], ids=["the holder's public address", "a new address"])
@pytest.mark.parametrize("mapping_changed", [False, True], ids=["before", "after the holder's mapping changed"])
def test_another_nbma_is_refused_the_natted_holders_address(natted_hub, arrives_from, mapping_changed):
    hub = natted_hub
    if mapping_changed:
        assert hub.register(SPOKE1, PRIVATE1, outer_src=NEW_PUBLIC) == CIE_SUCCESS
    held = hub.holder(SPOKE1)
    assert hub.register(SPOKE1, PRIVATE2, outer_src=arrives_from) == CIE_ALREADY_REGISTERED
    assert hub.register(SPOKE1, arrives_from) == CIE_ALREADY_REGISTERED  # not NATed, same story
    assert hub.holder(SPOKE1) == held


def test_registrations_without_the_unique_flag_may_move():
    hub = Hub()
    assert hub.register(SPOKE1, SPOKE1_NBMA, unique=False) == CIE_SUCCESS
    assert hub.register(SPOKE1, IMPOSTOR_NBMA, unique=False) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (IMPOSTOR_NBMA, None)
    assert hub.engine.multicast_targets() == [IMPOSTOR_NBMA]


def test_an_expired_unique_registration_is_free_again(hub):
    hub.now = 301.0  # holding time 300
    assert hub.register(SPOKE1, IMPOSTOR_NBMA) == CIE_SUCCESS
    assert hub.holder(SPOKE1) == (IMPOSTOR_NBMA, None)


# =====================================================================================
# The multicast list behind a shared NAT
# =====================================================================================


def test_a_registration_expiring_behind_a_shared_nat_leaves_its_neighbours_multicast_target(natted_hub):
    hub = natted_hub
    hub.now = 200.0
    assert hub.register(SPOKE2, PRIVATE2, outer_src=PUBLIC) == CIE_SUCCESS
    hub.now = 301.0
    hub.engine.tick(hub.now)
    assert hub.holder(SPOKE1) is None
    assert hub.engine.multicast_targets() == [PUBLIC]


def test_clearing_one_spoke_behind_a_shared_nat_leaves_its_neighbours_multicast_target(natted_hub):
    hub = natted_hub
    assert hub.register(SPOKE2, PRIVATE2, outer_src=PUBLIC) == CIE_SUCCESS
    assert hub.engine.clear(SPOKE1, hub.now) == 1
    assert hub.engine.multicast_targets() == [PUBLIC]
    assert hub.engine.clear(SPOKE2, hub.now) == 1
    assert hub.engine.multicast_targets() == []
