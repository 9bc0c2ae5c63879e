"""The DHCP client of one interface (RFC 2131 4.4): `ip address dhcp`, or a Linux host.

Sans-I/O: `start`, `receive` and `tick` take the time and fill `outbox` (messages with
where they go and from which source address) and `events` (a lease bound, changed or
lost). The agent turns those into frames on an AF_PACKET socket, addresses and a default
route. States as RFC 2131 figure 5: INIT -> SELECTING -> REQUESTING -> BOUND -> RENEWING
(T1, unicast to the server) -> REBINDING (T2, broadcast) -> lease expiry -> INIT.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable

from dmvpnlab.dhcp.codec import (
    ACK, BOOTREPLY, BOOTREQUEST, DISCOVER, NAK, OFFER, OPT_CLIENT_ID, OPT_DNS, OPT_DOMAIN_NAME, OPT_HOSTNAME,
    OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_PARAMETER_LIST, OPT_REBINDING_T2, OPT_RENEWAL_T1, OPT_REQUESTED_IP,
    OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK, RELEASE, REQUEST, DhcpMessage, FLAG_BROADCAST,
)

UNSPECIFIED = IPv4Address(0)
BROADCAST = IPv4Address("255.255.255.255")
RETRANSMIT = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # RFC 2131 4.1 doubles from 4 s; a lab wants the first retry sooner
MIN_RENEW_RETRY = 4.0  # RFC says 60 s; lab leases can be a minute long
NAK_BACKOFF = 2.0
PARAMETERS = bytes((OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN_NAME, OPT_LEASE_TIME, OPT_RENEWAL_T1,
                    OPT_REBINDING_T2))


@dataclass(frozen=True)
class Lease:
    """What an ACK granted. Times are on the client's clock (monotonic seconds)."""

    address: IPv4Interface
    server: IPv4Address
    routers: tuple[IPv4Address, ...]
    dns_servers: tuple[IPv4Address, ...]
    domain_name: str | None
    lease_seconds: int
    obtained: float
    t1: float
    t2: float

    @property
    def expires(self) -> float:
        return self.obtained + self.lease_seconds


@dataclass(frozen=True)
class Send:
    """A message to put on the wire: from `src` (0.0.0.0 before a lease) to `dst`;
    `dst_mac` None means the Ethernet broadcast."""

    message: DhcpMessage
    src: IPv4Address
    dst: IPv4Address
    dst_mac: bytes | None = None


@dataclass(frozen=True)
class LeaseBound:
    """A lease starts or changes (renewed with other values). `previous` was in force before."""

    lease: Lease
    previous: Lease | None


@dataclass(frozen=True)
class LeaseLost:
    """The lease ended (NAK, expiry, release): its address and routes must go."""

    previous: Lease
    reason: str


@dataclass
class DhcpClient:
    """One interface's client. `mac` is the interface's MAC (chaddr, client id 01+MAC).

    `broadcast_flag`: ask servers to broadcast OFFER and ACK (IOS's client does): the
    router's kernel, which forwards, must not see a unicast to an address it lacks yet.
    """

    mac: bytes
    hostname: str | None = None
    broadcast_flag: bool = True
    rng: Callable[[], int] = field(default=lambda: random.getrandbits(32))
    state: str = "INIT"
    lease: Lease | None = None
    outbox: list[Send] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    xid: int = 0
    _offer: DhcpMessage | None = None
    _server_mac: bytes | None = None
    _next_send: float | None = None
    _attempt: int = 0
    _started: float = 0.0

    # --- inputs -------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin (or begin again) from INIT: broadcast a DISCOVER."""
        self._new_transaction(now)
        self.state = "SELECTING"
        self._send_discover(now)

    def receive(self, message: DhcpMessage, now: float, src_mac: bytes | None = None) -> None:
        """A reply from a server (already decoded; not ours -> ignored and counted)."""
        if message.op != BOOTREPLY or message.xid != self.xid or message.chaddr != self.mac:
            self._count("not_ours")
            return
        kind = message.message_type
        if self.state == "SELECTING" and kind == OFFER:
            if message.address_option(OPT_SERVER_ID) is None or message.yiaddr == UNSPECIFIED:
                self._count("bad_offer")
                return
            self._offer = message
            self.state = "REQUESTING"
            self._attempt = 0
            self._send_request(now)
        elif self.state in ("REQUESTING", "RENEWING", "REBINDING") and kind == ACK:
            self._bind(message, now, src_mac)
        elif self.state in ("REQUESTING", "RENEWING", "REBINDING") and kind == NAK:
            self._count("nak")
            self._lose("NAK from server")
            self.state = "INIT"
            self._next_send = now + NAK_BACKOFF
        else:
            self._count("unexpected")

    def tick(self, now: float) -> None:
        """Retransmissions and the lease timers T1, T2 and expiry."""
        lease = self.lease
        if lease is not None and now >= lease.expires:
            self._lose("lease expired")
            self.start(now)
            return
        if self.state == "BOUND" and lease is not None and now >= lease.t1:
            self.state = "RENEWING"
            self._new_transaction(now)
            self._send_renew(now)
            return
        if self.state == "RENEWING" and lease is not None and now >= lease.t2:
            self.state = "REBINDING"
            self._new_transaction(now)
            self._send_renew(now)
            return
        if self._next_send is None or now < self._next_send:
            return
        if self.state == "INIT":
            self.start(now)
        elif self.state == "SELECTING":
            self._send_discover(now)
        elif self.state == "REQUESTING":
            if self._attempt >= 4 or self._offer is None:  # RFC 2131 3.1.5: give up on this offer, start over
                self.start(now)
            else:
                self._send_request(now)
        elif self.state in ("RENEWING", "REBINDING"):
            self._send_renew(now)

    def release(self, now: float) -> None:
        """`no ip address dhcp` / SIGTERM: give the lease back (RELEASE, unicast to the server)."""
        lease = self.lease
        if lease is not None:
            message = self._message(RELEASE, ciaddr=lease.address.ip)
            message.options[OPT_SERVER_ID] = lease.server.packed
            self.outbox.append(Send(message, lease.address.ip, lease.server, self._server_mac))
            self._lose("released")
        self.state = "INIT"
        self._next_send = None

    # --- what goes out ------------------------------------------------------------------

    def _message(self, kind: int, ciaddr: IPv4Address = UNSPECIFIED) -> DhcpMessage:
        options = {OPT_MESSAGE_TYPE: bytes((kind,)), OPT_CLIENT_ID: b"\x01" + self.mac}
        if self.hostname:
            options[OPT_HOSTNAME] = self.hostname.encode("ascii", "replace")[:255]
        if kind in (DISCOVER, REQUEST):
            options[OPT_PARAMETER_LIST] = PARAMETERS
        return DhcpMessage(op=BOOTREQUEST, xid=self.xid, chaddr=self.mac, options=options, ciaddr=ciaddr,
                           secs=0)

    def _send_discover(self, now: float) -> None:
        message = self._message(DISCOVER)
        message.flags = FLAG_BROADCAST if self.broadcast_flag else 0
        if self.lease is not None:
            message.options[OPT_REQUESTED_IP] = self.lease.address.ip.packed
        self._queue(Send(message, UNSPECIFIED, BROADCAST), now)

    def _send_request(self, now: float) -> None:
        offer = self._offer
        assert offer is not None
        message = self._message(REQUEST)
        message.flags = FLAG_BROADCAST if self.broadcast_flag else 0
        message.options[OPT_REQUESTED_IP] = offer.yiaddr.packed
        message.options[OPT_SERVER_ID] = offer.options[OPT_SERVER_ID][:4]
        self._queue(Send(message, UNSPECIFIED, BROADCAST), now)

    def _send_renew(self, now: float) -> None:
        lease = self.lease
        assert lease is not None
        message = self._message(REQUEST, ciaddr=lease.address.ip)
        if self.state == "RENEWING":
            send = Send(message, lease.address.ip, lease.server, self._server_mac)
            deadline = lease.t2
        else:
            send = Send(message, lease.address.ip, BROADCAST)
            deadline = lease.expires
        self.outbox.append(send)
        self._count("sent")
        self._next_send = now + max((deadline - now) / 2, MIN_RENEW_RETRY)

    def _queue(self, send: Send, now: float) -> None:
        self.outbox.append(send)
        self._count("sent")
        delay = RETRANSMIT[min(self._attempt, len(RETRANSMIT) - 1)]
        self._attempt += 1
        self._next_send = now + delay

    # --- lease bookkeeping --------------------------------------------------------------

    def _bind(self, ack: DhcpMessage, now: float, src_mac: bytes | None) -> None:
        seconds = ack.seconds_option(OPT_LEASE_TIME)
        mask = ack.address_option(OPT_SUBNET_MASK)
        server = ack.address_option(OPT_SERVER_ID) or (self.lease.server if self.lease else None)
        if seconds is None or server is None or ack.yiaddr == UNSPECIFIED:
            self._count("bad_ack")
            return
        network = IPv4Network(f"{ack.yiaddr}/{mask or _classful_mask(ack.yiaddr)}", strict=False)
        t1 = ack.seconds_option(OPT_RENEWAL_T1)
        t2 = ack.seconds_option(OPT_REBINDING_T2)
        t1 = t1 if t1 is not None and t1 < seconds else seconds * 0.5
        t2 = t2 if t2 is not None and t1 <= t2 < seconds else seconds * 0.875
        lease = Lease(IPv4Interface(f"{ack.yiaddr}/{network.prefixlen}"), server,
                      tuple(ack.address_list(OPT_ROUTER)), tuple(ack.address_list(OPT_DNS)),
                      ack.text_option(OPT_DOMAIN_NAME), seconds, now, now + t1, now + t2)
        previous = self.lease
        self.lease = lease
        self._server_mac = src_mac or self._server_mac
        self.state = "BOUND"
        self._next_send = None
        self._offer = None
        self._count("bound")
        if previous is None or _values(previous) != _values(lease):
            self.events.append(LeaseBound(lease, previous))

    def _lose(self, reason: str) -> None:
        if self.lease is not None:
            self.events.append(LeaseLost(self.lease, reason))
            self.lease = None

    def _new_transaction(self, now: float) -> None:
        self.xid = self.rng() & 0xFFFFFFFF
        self._attempt = 0
        self._started = now

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1


def _values(lease: Lease) -> tuple[object, ...]:
    return lease.address, lease.routers, lease.dns_servers, lease.domain_name


def _classful_mask(address: IPv4Address) -> int:
    first = address.packed[0]
    return 8 if first < 128 else 16 if first < 192 else 24
