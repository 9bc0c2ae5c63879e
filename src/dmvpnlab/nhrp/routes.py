"""What the NHRP engine needs to know about routing: one lookup, in one small shape.

Resolution asks two questions of the routing table: does this router own an address
(a local address, or a route that does not point back into the tunnel), and if not,
which tunnel next hop leads towards it. The engine asks through a `RouteOracle` (a
callable), so it never touches the kernel: the agent answers from netlink
(`routing.kernel.Kernel.lookup`), the tests from a list. Imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Protocol


@dataclass(frozen=True)
class Route:
    """What the routing table says about an address (the agent asks the kernel)."""

    prefix: IPv4Network
    next_hop: IPv4Address | None  # None: directly connected
    via_tunnel: bool
    local: bool = False  # the address is one of this router's own


class RouteOracle(Protocol):
    """Longest-match lookup of an address; None when nothing routes it."""

    def __call__(self, address: IPv4Address) -> Route | None: ...


class CoveringOracle(Protocol):
    """The best route whose prefix contains `prefix`, NHRP's own routes left out; None when
    nothing else routes it. The requester asks it whether a shortcut is still routed
    into the tunnel by something other than the shortcut itself."""

    def __call__(self, prefix: IPv4Network) -> Route | None: ...
