"""What the neighbour table and RTP (neighbors.py) say to their users: events, packets to
send, `show ip eigrp neighbors` rows, MD5 keys.

Why apart: neighbors.py keeps the protocol rules and stays under its size limit; these
plain values are read by the process, the agent and the views. Re-exported by neighbors.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Optional, Union

from dmvpnlab.routing.eigrp.codec import Packet


@dataclass(frozen=True)
class Md5Auth:
    """`ip authentication mode eigrp N md5` + key chain: key id and key string."""
    key_id: int
    key: bytes


@dataclass(frozen=True)
class NeighborUp:
    """An adjacency is up; `stub` is the peer's STUB TLV flags (None: not a stub)."""
    address: IPv4Address
    interface: str
    stub: Optional[int] = None


@dataclass(frozen=True)
class NeighborDown:
    address: IPv4Address
    reason: str


@dataclass(frozen=True)
class Delivered:
    """A reliably delivered UPDATE/QUERY/REPLY, in the peer's order, for DUAL."""
    address: IPv4Address
    packet: Packet


Event = Union[NeighborUp, NeighborDown, Delivered]


@dataclass(frozen=True)
class Outbound:
    destination: IPv4Address
    interface: str
    data: bytes


@dataclass(frozen=True)
class NeighborView:
    """One line of `show ip eigrp neighbors` (the rest: its `detail` lines). `stub` is what
    the peer's STUB TLV says, as IOS words ("connected", "summary", "static",
    "redistributed", "receive-only"; None: not a stub); `prefixes` is filled in by the
    process (DUAL)."""
    handle: int
    address: IPv4Address
    interface: str
    hold_remaining: int
    uptime: float
    srtt_ms: int
    rto_ms: int
    q_count: int
    sequence: int
    up: bool = True
    retrans: int = 0
    retries: int = 0
    stub: Optional[tuple[str, ...]] = None
    version: str = ""
    prefixes: int = 0
