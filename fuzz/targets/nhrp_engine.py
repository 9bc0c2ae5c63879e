"""The NHRP engine under hostile packets, as hub and as spoke (sans-I/O, fake clock).

Each input is one NHRP packet. The fields the codec refuses outright (address family,
version, address lengths), its size field and checksum are repaired first (the codec
targets fuzz those), so the mutations reach the engine's handlers. It is
delivered to an engine built fresh for every input, in the state a small lab leaves it
in (tests/nhrp_sim.py: a hub, two spokes and one behind NAT, Phase 3, no
authentication so mutants are not all refused at the door):

- `nhrp-engine-hub`: the hub with the three registrations, the input arriving once from
  the NBMA address it claims and once from a NAT'd address it does not;
- `nhrp-engine-spoke`: spoke1 registered, a resolution of a LAN host in flight (the
  hub's redirect started it), the input arriving from the hub and from spoke2.

The second delivery runs with a transport limit of SMALL bytes instead of 65,507, so
that mutants a few CIEs longer reach the "answer would not fit" refusals, which the
near-maximum packets behind them need megabytes of mutation to reach.

Invariants, per delivery: `receive` never raises; everything queued is at most
`max_packet` (< 65,535) bytes, decodes and re-encodes to itself; a packet refused (a
drop counted) leaves the cache, the multicast map and the events as they were; and the
state it leaves works: the data path's next-hop question for every entry, a tick now
and one past every holding time raise nothing and queue only such packets.

Seeds: the Cisco captures and every packet the simulated lab put on the wire
(registration, Phase 2 and 3 resolution, redirect, NAT, purge after an NBMA change).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from ipaddress import IPv4Address

from dmvpnlab.nhrp import codec
from dmvpnlab.nhrp.codec import PacketType
from dmvpnlab.nhrp.engine import NhrpEngine
from fuzz.harness import Target
from fuzz.targets.nhrp_codec import with_valid_size_and_checksum
from fuzz.targets.seeds import cisco_nhrp_packets, test_support

NAT_INSIDE, NAT_OUTSIDE = IPv4Address("172.16.3.1"), IPv4Address("100.64.3.1")  # spoke3's NAT
STRANGER = IPv4Address("198.51.100.9")  # a NAT'd source no claimed address matches
NOW = 50.0
HOLDTIME = 300
SMALL = 256  # a transport limit normal answers fit and grown mutants do not: the size refusals


@lru_cache(maxsize=1)
def _lab() -> tuple:
    """The simulated lab's wire, run once: what it sent, and to whom."""
    sim = test_support("nhrp_sim")
    plain = dict(authentication=None)
    net = sim.Net()
    net.add("hub", sim.hub_config(redirect=True, **plain), sim.hub_table(3), {sim.lan(0)[1]})
    for i in (1, 2):
        net.add(f"spoke{i}", sim.spoke_config(i, shortcut=True, **plain), sim.spoke_table(i, 3, 3), {sim.lan(i)[1]})
    spoke3 = net.add("spoke3", sim.spoke_config(3, shortcut=True, nbma_address=NAT_INSIDE, **plain),
                     sim.spoke_table(3, 3, 3), {sim.lan(3)[1]}, start=False)
    spoke3.seen_nbma = NAT_OUTSIDE
    spoke3.engine.start(net.now)
    net.flush()
    net.ping("spoke1", sim.lan_host(1), sim.lan_host(2))
    net.ping("spoke3", sim.lan_host(3), sim.lan_host(1))
    net.run(3)
    spoke2 = net.nodes["spoke2"]
    spoke2.nbma = IPv4Address("100.64.99.1")
    spoke2.engine.nbma_changed(spoke2.nbma, net.now)
    net.flush()
    return sim, tuple(net.wire)


@lru_cache(maxsize=1)
def _seeds() -> tuple[bytes, ...]:
    _, wire = _lab()
    return tuple(dict.fromkeys([w.data for w in wire] + list(cisco_nhrp_packets())))


def seeds() -> list[bytes]:
    return list(_seeds())


@lru_cache(maxsize=2)
def _setup(node: str) -> tuple[tuple[bytes, IPv4Address], ...]:
    """What brings `node` to its starting state: for the hub each spoke's first
    Registration Request; for spoke1 its first Registration Reply and Traffic Indication."""
    _, wire = _lab()
    kinds = ((PacketType.REGISTRATION_REQUEST,) if node == "hub"
             else (PacketType.REGISTRATION_REPLY, PacketType.TRAFFIC_INDICATION))
    first: dict[tuple[str, int], tuple[bytes, IPv4Address]] = {}
    for w in wire:
        if w.dst == node and w.packet.type in kinds:
            first.setdefault((w.src, w.packet.type), (w.data, w.src_nbma))
    return tuple(first.values())


def _hub() -> NhrpEngine:
    """The lab's hub after the three registrations (replayed from the wire)."""
    sim, _ = _lab()
    engine = NhrpEngine(sim.hub_config(redirect=True, authentication=None),
                        sim.oracle(sim.hub_table(3), {sim.lan(0)[1], sim.HUB_TUNNEL}), 0.0)
    for data, source in _setup("hub"):
        engine.receive(data, source, 0.0)
    return _settled(engine)


def _spoke() -> NhrpEngine:
    """spoke1 registered, with the resolution its hub's redirect asked for still open."""
    sim, _ = _lab()
    engine = NhrpEngine(sim.spoke_config(1, shortcut=True, authentication=None),
                        sim.oracle(sim.spoke_table(1, 3, 3), {sim.lan(1)[1], sim.tunnel_address(1)}), 0.0)
    engine.start(0.0)
    for data, source in _setup("spoke1"):
        engine.receive(data, source, 0.0)
    return _settled(engine)


def _settled(engine: NhrpEngine) -> NhrpEngine:
    engine.outbox.clear()
    engine.events.clear()
    return engine


def _snapshot(engine: NhrpEngine) -> list[tuple]:
    """Every field of every cache entry, as values (entries are mutable)."""
    return [tuple(frozenset(v) if isinstance(v, set) else v for v in vars(e).values()) for e in engine.cache]


def _check_outbox(engine: NhrpEngine) -> None:
    for nbma, data in engine.outbox:
        assert len(data) <= engine.max_packet < codec.MAX_PACKET, f"{len(data)} bytes queued for {nbma}"
        assert codec.encode(codec.decode(data)) == data, f"queued packet does not round-trip: {data.hex()}"
    engine.outbox.clear()


def _deliver(engine: NhrpEngine, data: bytes, outer_src: IPv4Address, limit: int | None = None) -> None:
    if limit is not None:
        engine.max_packet = limit
    before = (_snapshot(engine), set(engine.multicast_dynamic), list(engine.events))
    drops = sum(engine.dropped.values())
    engine.receive(data, outer_src, NOW)
    _check_outbox(engine)
    if sum(engine.dropped.values()) > drops:
        after = (_snapshot(engine), set(engine.multicast_dynamic), list(engine.events))
        assert after == before, f"refused ({dict(engine.dropped)}) but the state changed"
    for entry in list(engine.cache):
        engine.next_hop_nbma(entry.next_hop, NOW)
    engine.multicast_targets()
    for later in (NOW, NOW + 1, NOW + HOLDTIME + 200, NOW + 2 * 7200 + 400):
        engine.tick(later)
        _check_outbox(engine)


def _claimed(data: bytes) -> IPv4Address | None:
    try:
        return codec.decode(data).src_nbma
    except codec.NhrpDecodeError:
        return None


def repaired(raw: bytes) -> bytes:
    """The input with the fields the codec refuses outright set right (address family,
    protocol type, version, address lengths 0 or 4), then size and checksum: the codec
    targets fuzz those refusals; here mutants should reach the engine."""
    buf = bytearray(raw)
    if len(buf) >= 22:
        buf[0:4] = b"\x00\x01\x08\x00"
        buf[16] = 1  # ar$op.version
        buf[18] = buf[18] & 4
        buf[19] = 0
        buf[20] = buf[20] & 4
        buf[21] = buf[21] & 4
    return with_valid_size_and_checksum(bytes(buf))


_ADDRESSES = [None] + [IPv4Address(a) for a in (
    "0.0.0.0", "255.255.255.255", "224.0.0.5", "127.0.0.1", "240.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3",
    "10.0.0.4", "203.0.113.1", "100.64.1.1", "100.64.2.1", "172.16.3.1", "192.168.2.10", "192.168.1.0")]
_EXTENSION_TYPES = [0, 3, 4, 5, 7, 8, 9, 10, 0x3FFF]


def packet_for(raw: bytes) -> bytes:
    """The packet an input stands for: the input itself (repaired) when that decodes;
    else a seed edited field by field as the input's bytes say. Byte mutation alone
    rarely keeps a CIE or extension list well formed; these edits always do, and reach
    every handler with odd values: addresses (multicast, broadcast, ours), request ids
    that match what is in flight, CIE fields, thousands of CIEs (up to the 65,535 the
    codec can say), extensions of any type, compulsory or not, with any payload."""
    data = repaired(raw)
    try:
        codec.decode(data)
        return data
    except codec.NhrpDecodeError:
        pass
    pool = _seeds()
    packet = codec.decode(pool[raw[0] % len(pool)] if raw else pool[0], verify_checksum=False)
    stream = iter(raw[1:])

    def byte() -> int:
        return next(stream, 0)

    for _ in range(12):
        op = next(stream, None)
        if op is None:
            break
        value = byte()
        cie = packet.cies[value % len(packet.cies)] if packet.cies else None
        if op % 10 == 0:
            packet.request_id = value % 8
        elif op % 10 == 1:
            packet.flags = value << 8 | byte()
        elif op % 10 == 2:
            packet.hop_count = value
        elif op % 10 == 3:
            address = _ADDRESSES[byte() % len(_ADDRESSES)]
            field = ("src_nbma", "src_proto", "dst_proto", "nbma", "proto")[value % 5]
            setattr(cie if field in ("nbma", "proto") else packet, field, address) if cie or field not in (
                "nbma", "proto") else None
        elif op % 10 == 4 and cie is not None:
            field, number = ("code", "prefix_len", "mtu", "holdtime", "preference")[byte() % 5], byte() << 8 | byte()
            setattr(cie, field, number % (41 if field == "prefix_len" else 256 if field in ("code", "preference")
                                          else 65536))
        elif op % 10 == 5 and packet.cies:
            packet.cies = (packet.cies * (1 + value % 8 if value < 240 else 1 + value * 24))[:5500]  # > 65 kB
        elif op % 10 == 6 and packet.extensions:
            ext = packet.extensions[value % len(packet.extensions)]
            ext.payload = bytes(byte() for _ in range(byte() % 40))
        elif op % 10 == 7:
            payload = bytes(byte() for _ in range(byte() % 40))
            packet.extensions.insert(value % (len(packet.extensions) + 1), codec.Extension(
                _EXTENSION_TYPES[byte() % len(_EXTENSION_TYPES)], bool(value & 1), payload))
        elif op % 10 == 8 and packet.extensions:
            del packet.extensions[value % len(packet.extensions)]
        elif op % 10 == 9:
            packet.type = value % 9
    try:
        return codec.encode(packet)
    except codec.NhrpTooLarge:  # keep as many CIEs as fit: a packet of (nearly) 65,535 bytes
        room = codec.MAX_PACKET - len(codec.encode(replace(packet, cies=[])))
        kept = 0
        for cie in packet.cies:
            room -= len(cie.to_bytes())
            if room < 0:
                break
            kept += 1
        return codec.encode(replace(packet, cies=packet.cies[:kept]))


def run_hub(raw: bytes) -> None:
    data = packet_for(raw)
    claimed = _claimed(data)
    outer = NAT_OUTSIDE if claimed == NAT_INSIDE else claimed
    if outer is None or outer.is_multicast or outer.is_unspecified or outer.is_reserved or outer.is_loopback:
        outer = IPv4Address("100.64.1.1")
    _deliver(_hub(), data, outer)
    _deliver(_hub(), data, STRANGER, SMALL)


def run_spoke(raw: bytes) -> None:
    data = packet_for(raw)
    _deliver(_spoke(), data, IPv4Address("203.0.113.1"))
    _deliver(_spoke(), data, IPv4Address("100.64.2.1"), SMALL)


TARGETS = [
    Target("nhrp-engine-hub", seeds, run_hub),
    Target("nhrp-engine-spoke", seeds, run_spoke),
]
