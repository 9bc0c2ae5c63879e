"""What the NHRP engine tells the agent it changed (the `events` list it leaves behind).

The engine is sans-I/O, so it does not install routes or watch peers itself: it appends
these to `NhrpEngine.events` and the agent acts on them (kernel routes for shortcuts,
peer up-times for `show dmvpn`). Imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network


@dataclass(frozen=True)
class ShortcutAdded:
    """A Phase 3 shortcut formed: route `prefix` via tunnel next hop `next_hop` (an H route)."""

    prefix: IPv4Network
    next_hop: IPv4Address


@dataclass(frozen=True)
class ShortcutRemoved:
    """A shortcut expired or was cleared: its route goes."""

    prefix: IPv4Network
    next_hop: IPv4Address


@dataclass(frozen=True)
class PeerChanged:
    """A peer mapping appeared, changed or went: the dataplane's view may be stale."""

    proto: IPv4Address


Event = ShortcutAdded | ShortcutRemoved | PeerChanged
