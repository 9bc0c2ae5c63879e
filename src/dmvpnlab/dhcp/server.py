"""The DHCP server of `ip dhcp pool` (RFC 2131 4.3), as IOS runs it.

A pool serves the interfaces whose address lies in its `network` (or a relay's giaddr
there); `ip dhcp excluded-address` ranges, the network and broadcast addresses and the
router's own addresses are never handed out. Lease defaults to one day as on IOS. Offers
are held briefly for the client (IOS shows them "Selecting"); bindings live until their
lease ends or a RELEASE. Sans-I/O: `handle` takes a decoded request and returns the reply
with its destination; the agent writes frames, the CLI renders `show ip dhcp binding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.dhcp.client import BROADCAST, UNSPECIFIED, Send
from dmvpnlab.dhcp.codec import (
    ACK, BOOTREPLY, BOOTREQUEST, DECLINE, DISCOVER, INFORM, NAK, OFFER, OPT_CLIENT_ID, OPT_DNS, OPT_DOMAIN_NAME,
    OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_REBINDING_T2, OPT_RENEWAL_T1, OPT_REQUESTED_IP, OPT_ROUTER,
    OPT_SERVER_ID, OPT_SUBNET_MASK, RELEASE, REQUEST, DhcpMessage, addresses, u32,
)

DEFAULT_LEASE = 86400  # IOS: `lease 1`
OFFER_HOLD = 30.0  # how long an offered address waits for the client's REQUEST


@dataclass(frozen=True)
class PoolSpec:
    """One `ip dhcp pool` as the server needs it (the agent builds it from the config)."""

    name: str
    network: IPv4Network
    routers: tuple[IPv4Address, ...] = ()
    dns_servers: tuple[IPv4Address, ...] = ()
    lease_seconds: int = DEFAULT_LEASE
    domain_name: str | None = None


@dataclass
class Binding:
    """An address given (or offered) to a client; `expires` on the server's clock."""

    address: IPv4Address
    client_id: bytes
    chaddr: bytes
    pool: str
    interface: str
    expires: float
    state: str = "Active"  # "Selecting" while only offered


@dataclass
class DhcpServer:
    pools: list[PoolSpec]
    excluded: list[tuple[IPv4Address, IPv4Address]] = field(default_factory=list)
    bindings: dict[bytes, Binding] = field(default_factory=dict)  # client id -> binding
    declined: set[IPv4Address] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)

    def reconfigure(self, pools: list[PoolSpec], excluded: list[tuple[IPv4Address, IPv4Address]]) -> None:
        """New pool lines: bindings outside every pool, or now excluded, go (the client is
        NAKed at its next renewal and starts over)."""
        self.pools, self.excluded = pools, excluded
        names = {p.name: p for p in pools}
        for key, binding in list(self.bindings.items()):
            pool = names.get(binding.pool)
            if pool is None or binding.address not in pool.network or any(
                    low <= binding.address <= high for low, high in excluded):
                del self.bindings[key]

    def pool_for(self, address: IPv4Address) -> PoolSpec | None:
        """The pool serving a link whose router address (or relay giaddr) is `address`."""
        matching = [p for p in self.pools if address in p.network]
        return max(matching, key=lambda p: p.network.prefixlen) if matching else None

    def tick(self, now: float) -> None:
        for key, binding in list(self.bindings.items()):
            if now >= binding.expires:
                del self.bindings[key]

    def handle(self, request: DhcpMessage, interface: str, local: IPv4Interface, now: float,
               own: frozenset[IPv4Address] = frozenset()) -> Send | None:
        """The reply to `request` received on `interface` whose address is `local`, or None.

        `own` are every address of this router (never handed out).
        """
        self.tick(now)
        if request.op != BOOTREQUEST:
            return self._drop("not_request")
        kind = request.message_type
        link = request.giaddr if request.giaddr != UNSPECIFIED else local.ip
        pool = self.pool_for(link)
        if pool is None:
            return self._drop("no_pool")
        client = request.options.get(OPT_CLIENT_ID) or b"\x01" + request.chaddr
        self._count(f"rx_{kind}")
        if kind == DISCOVER:
            address = self._allocate(pool, client, request, own | {local.ip})
            if address is None:
                return self._drop("pool_exhausted")
            self.bindings[client] = Binding(address, client, request.chaddr, pool.name, interface,
                                            now + OFFER_HOLD, "Selecting")
            return self._reply(request, OFFER, pool, address, local.ip)
        if kind == REQUEST:
            return self._request(request, client, pool, interface, local, now, own)
        if kind in (RELEASE, DECLINE):
            binding = self.bindings.get(client)
            if binding is not None:
                del self.bindings[client]
                if kind == DECLINE:
                    self.declined.add(binding.address)
            return None
        if kind == INFORM and request.ciaddr != UNSPECIFIED:
            reply = self._reply(request, ACK, pool, UNSPECIFIED, local.ip, lease=False)
            return Send(reply.message, reply.src, request.ciaddr, request.chaddr)
        return self._drop("unexpected")

    # --- REQUEST in its three RFC 2131 4.3.2 shapes -------------------------------------

    def _request(self, request: DhcpMessage, client: bytes, pool: PoolSpec, interface: str, local: IPv4Interface,
                 now: float, own: frozenset[IPv4Address]) -> Send | None:
        server_id = request.address_option(OPT_SERVER_ID)
        wanted = request.address_option(OPT_REQUESTED_IP) or (
            request.ciaddr if request.ciaddr != UNSPECIFIED else None)
        binding = self.bindings.get(client)
        if server_id is not None and server_id != local.ip:  # SELECTING: the client chose another server
            if binding is not None and binding.state == "Selecting":
                del self.bindings[client]
            return None
        if wanted is None:
            return self._nak(request, local.ip)
        ours = binding is not None and binding.address == wanted
        free = self._free(pool, wanted, client, own | {local.ip})
        if not (ours or (server_id is None and free)):
            # wrong network, excluded, or another client's: the client must start over.
            # (A free address without a record is granted again: the router may have
            # restarted and lost its bindings, as IOS without a database agent does.)
            return self._nak(request, local.ip)
        self.bindings[client] = Binding(wanted, client, request.chaddr, pool.name, interface,
                                        now + pool.lease_seconds, "Active")
        return self._reply(request, ACK, pool, wanted, local.ip)

    # --- allocation ---------------------------------------------------------------------

    def _allocate(self, pool: PoolSpec, client: bytes, request: DhcpMessage,
                  own: frozenset[IPv4Address]) -> IPv4Address | None:
        binding = self.bindings.get(client)
        if binding is not None and binding.address in pool.network:
            return binding.address
        wanted = request.address_option(OPT_REQUESTED_IP)
        if wanted is not None and self._free(pool, wanted, client, own):
            return wanted
        for address in pool.network.hosts():
            if self._free(pool, address, client, own):
                return address
        return None

    def _free(self, pool: PoolSpec, address: IPv4Address, client: bytes, own: frozenset[IPv4Address]) -> bool:
        if address not in pool.network or address in (pool.network.network_address, pool.network.broadcast_address):
            return False
        if address in own or address in self.declined or any(low <= address <= high for low, high in self.excluded):
            return False
        return all(b.address != address or key == client for key, b in self.bindings.items())

    # --- replies ------------------------------------------------------------------------

    def _reply(self, request: DhcpMessage, kind: int, pool: PoolSpec, address: IPv4Address, server: IPv4Address,
               lease: bool = True) -> Send:
        options: dict[int, bytes] = {OPT_MESSAGE_TYPE: bytes((kind,)), OPT_SERVER_ID: server.packed}
        if lease:
            options[OPT_LEASE_TIME] = u32(pool.lease_seconds)
            options[OPT_RENEWAL_T1] = u32(pool.lease_seconds // 2)
            options[OPT_REBINDING_T2] = u32(pool.lease_seconds * 7 // 8)
        options[OPT_SUBNET_MASK] = pool.network.netmask.packed
        if pool.routers:
            options[OPT_ROUTER] = addresses(*pool.routers)
        if pool.dns_servers:
            options[OPT_DNS] = addresses(*pool.dns_servers)
        if pool.domain_name:
            options[OPT_DOMAIN_NAME] = pool.domain_name.encode("ascii", "replace")
        reply = DhcpMessage(op=BOOTREPLY, xid=request.xid, chaddr=request.chaddr, options=options,
                            flags=request.flags, ciaddr=request.ciaddr, yiaddr=address, giaddr=request.giaddr)
        self._count(f"tx_{kind}")
        return self._destination(request, reply, server)

    def _nak(self, request: DhcpMessage, server: IPv4Address) -> Send:
        reply = DhcpMessage(op=BOOTREPLY, xid=request.xid, chaddr=request.chaddr, flags=request.flags,
                            giaddr=request.giaddr,
                            options={OPT_MESSAGE_TYPE: bytes((NAK,)), OPT_SERVER_ID: server.packed})
        self._count(f"tx_{NAK}")
        if request.giaddr != UNSPECIFIED:
            return Send(reply, server, request.giaddr)
        return Send(reply, server, BROADCAST)

    @staticmethod
    def _destination(request: DhcpMessage, reply: DhcpMessage, server: IPv4Address) -> Send:
        """RFC 2131 4.1: to the relay; to ciaddr when the client has one; broadcast when the
        client asked for it; else to yiaddr at the client's MAC (no ARP: it has no address)."""
        if request.giaddr != UNSPECIFIED:
            return Send(reply, server, request.giaddr)
        if request.ciaddr != UNSPECIFIED:
            return Send(reply, server, request.ciaddr, request.chaddr)
        if request.broadcast:
            return Send(reply, server, BROADCAST)
        return Send(reply, server, reply.yiaddr, request.chaddr)

    def _drop(self, why: str) -> None:
        self._count(why)
        return None

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1
