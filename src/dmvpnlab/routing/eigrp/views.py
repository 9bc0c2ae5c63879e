"""What `show ip eigrp ...` and `debug eigrp packets` need of a running process, as values.

Why a module of its own: the process (process.py) joins the neighbour table and DUAL and
should stay about that; the views are read-only snapshots (frozen dataclasses of plain
values) the agent turns into JSON and the CLI prints IOS-style, so the formatting of one
never reaches into the internals of the other. Imports only the eigrp package.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Optional

from dmvpnlab.routing.eigrp.codec import FLAG_CR, FLAG_EOT, FLAG_INIT, FLAG_RS, Opcode, Packet
from dmvpnlab.routing.eigrp.dual import Dual, Entry, State
from dmvpnlab.routing.eigrp.metric import INFINITY, composite


@dataclass(frozen=True)
class EigrpRoute:
    """One prefix to install: every next hop (equal cost, or within variance), AD, metric.
    A summary's discard route has next hop (None, "Null0") and AD 5. `since` is the
    monotonic time the route became what it is (for the age in `show ip route`)."""

    prefix: IPv4Network
    next_hops: tuple[tuple[Optional[IPv4Address], str], ...]
    ad: int
    metric: int
    external: bool
    since: float


@dataclass(frozen=True)
class TopologyPath:
    """One line under a prefix of `show ip eigrp topology [all-links]`:
    `via 10.0.0.2 (28160/2816), Tunnel0`, `via Connected, Ethernet0/1`, `via Summary (...), Null0`.
    `via` None with `kind` "Connected" or "Summary"; `metric`/`reported` are composites."""

    via: Optional[IPv4Address]
    kind: str                 # "neighbor" | "Connected" | "Summary"
    metric: int
    reported: int
    interface: str
    successor: bool
    feasible: bool
    external: bool = False
    hop_count: int = 0


@dataclass(frozen=True)
class TopologyView:
    """One prefix of the topology table: `P 10.1.1.0/24, 1 successors, FD is 28160`.
    `replies_waiting`: neighbours an active route still waits for (`r` in IOS)."""

    prefix: IPv4Network
    state: str                # "P" | "A"
    successors: int
    fd: int
    paths: tuple[TopologyPath, ...]
    replies_waiting: tuple[IPv4Address, ...] = ()


@dataclass(frozen=True)
class InterfaceView:
    """One line of `show ip eigrp interfaces [detail]`."""

    name: str
    peers: int
    xmit_queue_unreliable: int
    xmit_queue_reliable: int
    mean_srtt_ms: int
    pacing_unreliable_ms: int
    pacing_reliable_ms: int
    multicast_flow_timer_ms: int
    pending_routes: int
    hello_seconds: float
    hold_seconds: int
    passive: bool
    split_horizon: bool
    next_hop_self: bool
    authentication: str       # "md5" or ""
    key_ids: tuple[int, ...]
    summaries: tuple[IPv4Network, ...]


def topology(dual: Dual) -> list[TopologyView]:
    """Every prefix of the topology table plus active summaries, ordered by prefix."""
    rows = [_entry_view(dual, e) for e in dual.table.values()]
    for summary, metric in dual._summaries().items():
        value = composite(metric, dual.k)
        path = TopologyPath(None, "Summary", value, 0, "Null0", True, True)
        rows = [r for r in rows if r.prefix != summary]
        rows.append(TopologyView(summary, "P", 1, value, (path,)))
    return sorted(rows, key=lambda r: (r.prefix.network_address, r.prefix.prefixlen))


def _entry_view(dual: Dual, entry: Entry) -> TopologyView:
    paths = []
    feasible = set(dual.feasible_successors(str(entry.prefix)))
    for key, p in entry.paths.items():
        metric = INFINITY if p.metric.unreachable else composite(p.metric, dual.k)
        reported = 0 if p.neighbor is None else composite(p.reported, dual.k)
        successor = key in entry.successors and entry.state is State.PASSIVE and p.reachable
        paths.append(TopologyPath(
            None if p.neighbor is None else IPv4Address(p.next_hop), "Connected" if p.neighbor is None else "neighbor",
            metric, reported, p.interface, successor, successor or key in feasible, p.external is not None,
            p.metric.hop_count))
    paths.sort(key=lambda x: (not x.successor, x.metric, str(x.via)))
    return TopologyView(entry.prefix, entry.state.value, sum(1 for p in paths if p.successor), entry.fd,
                        tuple(paths), tuple(sorted(IPv4Address(a) for a in entry.waiting)))


_FLAG_NAMES = ((FLAG_INIT, "INIT"), (FLAG_CR, "CR"), (FLAG_RS, "RS"), (FLAG_EOT, "EOT"))
_OPCODE_NAMES = {Opcode.UPDATE: "UPDATE", Opcode.REQUEST: "REQUEST", Opcode.QUERY: "QUERY",
                 Opcode.REPLY: "REPLY", Opcode.HELLO: "HELLO", Opcode.SIA_QUERY: "SIAQUERY",
                 Opcode.SIA_REPLY: "SIAREPLY"}


def flags_text(flags: int) -> str:
    """IOS `Flags 0x8:(EOT)`, `0x0:(NULL)`, `0x9:(INIT, EOT)`."""
    names = [n for bit, n in _FLAG_NAMES if flags & bit]
    return f"0x{flags:x}:({', '.join(names) if names else 'NULL'})"


def packet_debug(direction: str, interface: str, neighbor: Optional[IPv4Address], packet: Packet,
                 asn: int, interface_q: tuple[int, int] = (0, 0), peer_q: tuple[int, int] = (0, 0)) -> list[str]:
    """The two lines IOS `debug eigrp packets` prints for one packet sent or received."""
    name = "ACK" if packet.is_ack else _OPCODE_NAMES.get(packet.opcode, f"OPCODE {int(packet.opcode)}")
    verb = "Sending" if direction == "send" else "Received"
    head = f"EIGRP: {verb} {name} on {interface}" + (f" nbr {neighbor}" if neighbor is not None else "")
    seq = f"Seq {packet.sequence}/{packet.ack}"
    common = f"  AS {asn}, Flags {flags_text(packet.flags)}, {seq}"
    if neighbor is None:
        return [head, f"{common} interfaceQ {interface_q[0]}/{interface_q[1]} iidbQ un/rely 0/0"]
    return [head, f"{common} idbQ {interface_q[0]}/{interface_q[1]} iidbQ un/rely 0/0 "
                  f"peerQ un/rely {peer_q[0]}/{peer_q[1]}"]


__all__ = ["EigrpRoute", "InterfaceView", "TopologyPath", "TopologyView", "flags_text", "packet_debug",
           "topology"]
