"""The values DUAL works on: interfaces, paths, topology entries, routes, packets out.

Why apart from dual.py: the algorithm module stays readable (and under its size limit) while
these plain types are shared by it, the summary index and the views. Re-exported by dual.py.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional, Union

from dmvpnlab.routing.eigrp.codec import Opcode
from dmvpnlab.routing.eigrp.metric import INFINITY
from dmvpnlab.routing.eigrp.tlvs import DELAY_INFINITY, ExternalData, Ipv4External, Ipv4Internal, Metric

Network = ipaddress.IPv4Network
RouteTlv = Union[Ipv4Internal, Ipv4External]
AD_INTERNAL, AD_EXTERNAL, AD_SUMMARY = 90, 170, 5
MAXIMUM_PATHS = 4          # IOS `maximum-paths` default for EIGRP
ACTIVE_TIMEOUT = 180.0     # IOS `timers active-time` default (seconds)
UNREACHABLE = Metric(delay=DELAY_INFINITY, bandwidth=0)
_SERIALS = itertools.count()   # Entry creation order = topology table order (ties of summaries)

# RFC 7868 section 3.5 query origin flag (o_ij) of an active route: who started the
# diffusing computation, and whether the successor's distance rose again meanwhile.
ORIGIN_LOCAL_INCREASE = 0   # local origin, the successor's distance rose during it
ORIGIN_LOCAL = 1            # local origin (an update, a lost link or neighbour)
ORIGIN_MULTIPLE = 2         # a query from the successor arrived while active
ORIGIN_SUCCESSOR = 3        # the successor's query started it: the reply is owed to it


class State(Enum):
    PASSIVE = "P"
    ACTIVE = "A"


@dataclass(frozen=True)
class Interface:
    """An EIGRP-enabled interface with its IOS per-interface settings."""

    name: str
    prefix: Network
    bandwidth: int           # kbit/s
    delay: int               # microseconds
    mtu: int = 1500
    split_horizon: bool = True
    next_hop_self: bool = True
    summaries: tuple[Network, ...] = ()
    address: str = ""        # ours on it: a next hop naming us is not taken


@dataclass
class Path:
    """One way to a prefix: via a neighbour (or connected when `neighbor` is None)."""

    interface: str
    neighbor: Optional[str]
    next_hop: str            # where packets go: the neighbour, or the third party it named
    reported: Metric         # as the neighbour told us (connected: zero)
    metric: Metric           # through our interface
    external: Optional[ExternalData] = None

    @property
    def reachable(self) -> bool:
        return not self.metric.unreachable


@dataclass
class Entry:
    """The topology table entry of one prefix."""

    prefix: Network
    paths: dict[str, Path] = field(default_factory=dict)   # key: neighbour or "connected"
    fd: int = INFINITY
    state: State = State.PASSIVE
    successors: list[str] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)          # replies outstanding
    reply_to: set[str] = field(default_factory=set)         # queries we owe a reply (deferred while active)
    active_since: float = 0.0
    origin: int = ORIGIN_LOCAL                              # query origin flag while active
    serial: int = field(default_factory=_SERIALS.__next__)


@dataclass(frozen=True)
class Route:
    """A route to install in the RIB."""

    prefix: Network
    next_hop: str            # "0.0.0.0" with interface Null0 for a summary discard
    interface: str
    metric: int
    ad: int


@dataclass(frozen=True)
class Outgoing:
    """A packet for the transport: to one neighbour, or to all on `interface` if None."""

    interface: str
    neighbor: Optional[str]
    opcode: Opcode
    routes: tuple[RouteTlv, ...]


@dataclass(frozen=True)
class StuckInActive:
    """Replies missing for longer than the active time: the neighbour layer resets them."""

    prefix: Network
    neighbors: tuple[str, ...]
