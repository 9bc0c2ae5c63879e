"""Where emulated spoke i lives: its NBMA address and its tunnel address.

The NBMA addresses come from one block routed to the load generator's namespace and
made local there with a single `local` route (the AnyIP trick: `ip route add local
BLOCK dev lo`), so one raw socket sends from and receives for all of them without ten
thousand `ip addr add`. Tunnel addresses start past the lab's own routers (hub .1,
spokeN .N+1) so emulated spokes never claim a real router's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

DEFAULT_NBMA_BLOCK = IPv4Network("100.100.0.0/16")
TUNNEL_OFFSET = 1024  # first emulated tunnel address = tunnel network + this


class PlanError(ValueError):
    """The address plan cannot hold the asked number of spokes."""


@dataclass(frozen=True)
class AddressPlan:
    """Addresses of `count` emulated spokes: NBMA from `nbma_block`, tunnel from `tunnel_network`."""

    tunnel_network: IPv4Network
    count: int
    nbma_block: IPv4Network = DEFAULT_NBMA_BLOCK

    def __post_init__(self) -> None:
        if self.count < 1:
            raise PlanError("at least one emulated spoke")
        if self.count > self.nbma_block.num_addresses - 2:
            raise PlanError(f"{self.count} spokes do not fit NBMA block {self.nbma_block}")
        if TUNNEL_OFFSET + self.count >= self.tunnel_network.num_addresses - 1:
            raise PlanError(f"{self.count} spokes do not fit tunnel network {self.tunnel_network} "
                            f"(emulated spokes start at +{TUNNEL_OFFSET}: use a /16)")

    def nbma(self, index: int) -> IPv4Address:
        return self.nbma_block.network_address + 1 + index

    def tunnel(self, index: int) -> IPv4Address:
        return self.tunnel_network.network_address + TUNNEL_OFFSET + index

    def index_of_nbma(self, address: IPv4Address) -> int | None:
        index = int(address) - int(self.nbma_block.network_address) - 1
        return index if 0 <= index < self.count else None

    def index_of_tunnel(self, address: IPv4Address) -> int | None:
        index = int(address) - int(self.tunnel_network.network_address) - TUNNEL_OFFSET
        return index if 0 <= index < self.count else None
