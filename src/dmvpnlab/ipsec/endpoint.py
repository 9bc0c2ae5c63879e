"""NAT-T peer endpoints: one public address, several routers behind it, told apart by port.

Why: a NAT fleet (several spokes behind one PAT box) reaches the hub from ONE public
address; only the UDP source port the NAT chose tells the spokes apart. Everything on the
hub that is keyed by the peer's address (IKE SAs and wants, the SA database, the ESP
transport's routes and handles, the NHRP cache's NBMA and the multicast list) would put
the second spoke on top of the first.

The fix keeps the peer an `IPv4Address` everywhere (NHRP, `show` output, JSON all go on
printing the address, as IOS prints the same NBMA for both spokes), but a source whose NAT
picked a port other than the IKE ports (500, 4500) becomes a `NatEndpoint`: an
IPv4Address that also carries the port, equal and hashed by (address, port). So each
spoke behind the NAT is its own dictionary key with no change to the code that keys by
peer; a peer whose port was kept (the first spoke behind a NAT, every peer without NAT)
stays a plain IPv4Address and nothing about it changes.

`peer_of(host, port)` is the one place a UDP source becomes a peer; `as_peer` converts
without losing the port (``IPv4Address(endpoint)`` would: it re-parses the string);
`same_host` compares addresses only (an IKE exchange floating from 500 to 4500 may come
from another NAT port: same peer, new endpoint). Imports only the standard library.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

IKE_PORTS = frozenset({500, 4500})


class NatEndpoint(IPv4Address):
    """A peer's public address and the UDP port its NAT translated it to."""

    __slots__ = ("port",)

    def __init__(self, address: Any, port: int) -> None:
        super().__init__(str(address) if isinstance(address, IPv4Address) else address)
        self.port = port

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NatEndpoint) and self._ip == other._ip and self.port == other.port

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self._ip, self.port))

    def __repr__(self) -> str:
        return f"NatEndpoint('{self}', {self.port})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (NatEndpoint, (str(self), self.port))

    def __copy__(self) -> "NatEndpoint":
        return self

    def __deepcopy__(self, _memo: dict[int, Any]) -> "NatEndpoint":
        return self


def peer_of(host: str | IPv4Address, port: int) -> IPv4Address:
    """The peer a UDP datagram from `host`:`port` came from: the plain address when the
    port is an IKE port (no NAT, or a NAT that kept it), else a `NatEndpoint`."""
    if port in IKE_PORTS:
        return host if type(host) is IPv4Address else IPv4Address(str(host))
    return NatEndpoint(host, port)


def as_peer(peer: Any) -> IPv4Address:
    """`peer` as an IPv4Address, a NatEndpoint kept as it is (with its port)."""
    return peer if isinstance(peer, IPv4Address) else IPv4Address(peer)


def same_host(a: IPv4Address, b: IPv4Address) -> bool:
    """The same address, whatever ports the NAT gave either."""
    return int(a) == int(b)
