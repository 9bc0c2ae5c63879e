"""The agent's IPsec: the IKE engine, the SA database and the UDP 500/4500 sockets, wired.

The IKE engine (`ipsec.ikev1_engine.IkeEngine`) and the SA database are sans-I/O; this is
where they meet the network and each other, the way `RouterAgent.flush_engine` wires
NHRP. After every call into the engine, `flush()` sends its outbox and acts on its
events:

- `ChildSaUp`: install the pair in the tunnel's ESP transport (which flushes the packets
  that waited for it) and write the keys for Wireshark; `ChildSaDown`: remove it;
  `PeerDead`: remove every SA of that peer and drop what waits for it; `IkeSaUp`: write
  the ISAKMP key; `IkeRefused`: count the reason and log it (`debug crypto isakmp`).
- The ESP transport calls `connect(peer)` when a packet waits for an SA (at most once a
  second per peer: the engine is idempotent, a packet flood need not reach it).
- `tick(now)` (from the agent's tick): engine timers, then the SA database's soft
  limits (`rekey_child`) and hard expiries, then `peer_alive` for every peer whose ESP
  opened since the last tick (on-demand DPD).

Sockets: UDP 500 and 4500 bound to 0.0.0.0 in the router's namespace. The kernel has no
xfrm, so no UDP_ENCAP either: the 4500 socket demultiplexes itself (RFC 3948 2.2):
four zero bytes first is IKE (the non-ESP marker, handed to the engine as received), a
single 0xFF byte a NAT keepalive, anything else ESP, handed to the transport
(`receive_udp_esp`) and opened on the next `on_udp_esp()` (the tunnel's drain).

`marks` keeps, per peer, when (agent clock) the latest negotiation was asked for
(`connect`: the first ask since that peer's last child SA or clear), its ISAKMP SA came
up and its child SA came up: the state answer shows them so benchmarks and scenarios
can time IKE in a running lab without parsing debug output.

The CLI reads `ike_sas()`, `child_sas()`, `settings`, `counters` and calls
`clear_session` / `clear_sa`. Key files go through `ipsec.keylog.KeyLog` when a
directory is given (the agent's --keylog-dir, else the lab's `DMVPNLAB_KEYLOG_DIR`, see
agent.keylog); without one nothing is written. Imports ipsec, agent.keylog, wireshark.profile and
tunnel.esp_transport.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable, Protocol

from dmvpnlab.agent.keylog import keylog_from_env
from dmvpnlab.ipsec.endpoint import as_peer, peer_of
from dmvpnlab.ipsec.ikev1_engine import IkeEngine
from dmvpnlab.ipsec.events import ChildSaDown, ChildSaLarval, ChildSaUp, Datagram, IkeRefused, IkeSaDown, IkeSaUp, PeerDead
from dmvpnlab.ipsec.keylog import KeyLog
from dmvpnlab.wireshark.profile import capture_preferences
from dmvpnlab.ipsec.settings import IKE_PORT, NAT_T_PORT, IpsecSettings
from dmvpnlab.ipsec.views import ChildSaView, IkeSaView
from dmvpnlab.tunnel.esp_transport import EspTransport

log = logging.getLogger("dmvpnlab.agent.ipsec")

CONNECT_INTERVAL = 1.0  # seconds between two connect() calls for one peer
NON_ESP_MARKER = b"\x00\x00\x00\x00"
NAT_KEEPALIVE = b"\xff"
_BUFSIZE = 65535


class IkeEngineApi(Protocol):
    """What the node uses of `ipsec.ikev1_engine.IkeEngine` (its documented API)."""

    outbox: list[Datagram]
    events: list[Any]
    counters: Counter[str]

    def connect(self, peer: IPv4Address, now: float) -> None: ...
    def receive(self, data: bytes, peer: IPv4Address, peer_port: int, local_port: int, now: float) -> None: ...
    def tick(self, now: float) -> None: ...
    def rekey_child(self, spi_in: int, now: float) -> None: ...
    def peer_alive(self, peer: IPv4Address, now: float) -> None: ...
    def clear(self, peer: IPv4Address | None, now: float) -> int: ...
    def clear_sa(self, peer: IPv4Address | None, now: float) -> int: ...
    def reconfigure(self, settings: IpsecSettings, now: float) -> None: ...
    def ike_sas(self) -> list[IkeSaView]: ...
    def peer_state(self, peer: IPv4Address) -> str: ...


def new_engine(settings: IpsecSettings, now: float, debug: Callable[[str, str], None]) -> IkeEngineApi:
    """The real IKE engine for `settings`, its debug lines going to `debug`."""
    return IkeEngine(settings, now, debug=debug)


def open_key_log(directory: Path | str | None) -> KeyLog | None:
    """`ipsec.keylog.KeyLog` on `directory` (the agent's --keylog-dir), else on the lab's
    $DMVPNLAB_KEYLOG_DIR (agent.keylog); None without either, or when it cannot be made."""
    if directory is None:
        return keylog_from_env()
    try:
        return KeyLog(directory, preferences=capture_preferences())
    except OSError as error:
        log.warning("no Wireshark key log: %s: %s", directory, error.strerror or error)
        return None


class IpsecNode:
    """IKE + SA database + UDP sockets of one protected tunnel."""

    def __init__(self, settings: IpsecSettings, transport: EspTransport, engine: IkeEngineApi, *,
                 clock: Callable[[], float], debug: Callable[[str, str], None] = lambda _c, _l: None,
                 key_log: Any | None = None, bind: bool = True, bind_address: str = "0.0.0.0") -> None:
        """`bind=False` leaves the sockets closed (unit tests drive `receive_udp` and read
        `sent` instead); the agent binds them in the router's namespace, to 0.0.0.0, or
        to the tunnel source (`bind_address`) when several protected tunnels each run
        their own IKE on their own source address."""
        self.settings = settings
        self.transport = transport
        self.engine = engine
        self.clock = clock
        self._debug = debug
        self.key_log = key_log  # a KeyLog, or anything with its ike_sa / child_sa
        self.counters: Counter[str] = Counter()
        self.on_udp_esp: Callable[[], None] = lambda: None  # the tunnel's drain_socket
        self._asked: dict[IPv4Address, float] = {}
        self.marks: dict[IPv4Address, dict[str, float]] = {}  # peer -> connect / ike_sa_up / child_sa_up
        self.sockets: dict[int, socket.socket] = {}
        self.sent: list[Datagram] = []  # only without sockets (bind=False): what would have gone out
        if bind:
            for port in (IKE_PORT, NAT_T_PORT):
                self.sockets[port] = _udp_socket(port, bind_address)
            self.transport.udp_sendto = self.sockets[NAT_T_PORT].sendto
        else:
            self.transport.udp_sendto = lambda data, address: self.sent.append(
                Datagram(IPv4Address(address[0]), address[1], NAT_T_PORT, data))
        transport.on_need_sa = self.connect
        transport.sadb.on_soft_limit = self._soft_limit

    # --- the engine's output --------------------------------------------------------------

    def flush(self) -> None:
        """Send what the engine queued and act on its events, until both are empty."""
        engine = self.engine
        while engine.outbox or engine.events:
            outbox, engine.outbox = engine.outbox, []
            for datagram in outbox:
                self._send(datagram)
            events, engine.events = engine.events, []
            for event in events:
                self._on_event(event)

    def _send(self, datagram: Datagram) -> None:
        sock = self.sockets.get(datagram.local_port)
        if sock is None:
            self.sent.append(datagram)
            return
        try:
            sock.sendto(datagram.data, (str(datagram.peer), datagram.port))
            self.counters["udp sent"] += 1
        except OSError as error:
            self.counters["udp send failed"] += 1
            log.debug("UDP %d -> %s:%d lost: %s", datagram.local_port, datagram.peer, datagram.port, error)

    def _on_event(self, event: object) -> None:
        now = self.clock()
        if isinstance(event, ChildSaUp):
            # The engine logs IOS's create_sa / delete_sa lines itself (debug crypto ipsec).
            self.transport.install(event, now)
            self.counters["child sa up"] += 1
            self.marks.setdefault(event.peer, {})["child_sa_up"] = now
            self._asked.pop(event.peer, None)
            self._write_keys("child_sa", event, self.settings.local_address)
        elif isinstance(event, ChildSaLarval):
            self.transport.install_inbound(event.child)
            self.counters["child sa larval"] += 1
        elif isinstance(event, ChildSaDown):
            self.transport.remove(event.spi_in)
            self.counters["child sa down"] += 1
        elif isinstance(event, IkeSaUp):
            self.counters["ike sa up"] += 1
            self.marks.setdefault(event.peer, {})["ike_sa_up"] = now
            self._write_keys("ike_sa", event)
        elif isinstance(event, IkeSaDown):
            self.counters["ike sa down"] += 1
        elif isinstance(event, PeerDead):
            self.counters["peer dead"] += 1
            self.transport.remove_peer(event.peer)
            self.transport.discard(event.peer)
            self._debug("isakmp", f"ISAKMP: DPD: peer {event.peer} is dead, removing its SAs")
        elif isinstance(event, IkeRefused):
            self.counters[f"refused: {event.reason}"] += 1
            self.transport.discard(event.peer)
            log.info("IKE with %s refused: %s %s", event.peer, event.reason, event.detail)

    def _write_keys(self, method: str, *args: object) -> None:
        if self.key_log is None:
            return
        try:
            getattr(self.key_log, method)(*args)
        except Exception as error:  # a key file we cannot write must not stop the tunnel
            self.counters["key log failed"] += 1
            log.warning("key log: %s", error)

    # --- input ----------------------------------------------------------------------------

    def connect(self, peer: IPv4Address) -> None:
        """A packet waits for an SA with `peer`: start (or keep) IKE, at most once a second."""
        now = self.clock()
        last = self._asked.get(peer)
        if last is not None and now - last < CONNECT_INTERVAL:
            return
        if last is None:  # a new negotiation, not the once-a-second reminder of one
            self.marks.setdefault(peer, {})["connect"] = now
        self._asked[peer] = now
        self.counters["connect"] += 1
        self.engine.connect(peer, now)
        self.flush()

    def read(self, port: int) -> None:
        """Read one UDP socket dry (the loop's reader for it)."""
        sock = self.sockets[port]
        while True:
            try:
                data, (host, peer_port) = sock.recvfrom(_BUFSIZE)
            except BlockingIOError:
                break
            except OSError as error:  # ICMP port unreachable reported on the socket, etc.
                self.counters["udp receive error"] += 1
                log.debug("UDP %d receive: %s", port, error)
                continue
            self.receive_udp(data, host, peer_port, port)
        self.on_udp_esp()

    def receive_udp(self, data: bytes, host: str, peer_port: int, local_port: int) -> None:
        """One UDP payload on 500 or 4500: IKE to the engine, ESP to the transport."""
        if local_port == NAT_T_PORT and not data.startswith(NON_ESP_MARKER):
            if data == NAT_KEEPALIVE:
                self.counters["nat keepalives received"] += 1
            elif len(data) < 8:
                self.counters["runt udp 4500"] += 1
            else:
                self.transport.receive_udp_esp(data, (host, peer_port))
            return
        try:
            peer = peer_of(host, peer_port)  # behind a port-changing NAT: a NatEndpoint
        except ValueError:
            self.counters["bad source address"] += 1
            return
        self.counters[f"ike received on {local_port}"] += 1
        self.engine.receive(data, peer, peer_port, local_port, self.clock())
        self.flush()

    # --- timers -----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        engine = self.engine
        engine.tick(now)
        self._lifetimes(now)
        heard, self.transport.heard = self.transport.heard, set()
        for host in heard:
            engine.peer_alive(as_peer(host), now)
        self.flush()

    def _soft_limit(self) -> None:
        """An SA crossed its kilobyte soft limit while sealing or opening: rekey now, not
        at the next tick (at line rate the hard limit is milliseconds away). Deferred to
        the event loop when one runs, so IKE never runs inside the packet's own seal."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            loop.call_soon(self._rekey_soon)
        else:
            self._rekey_soon()

    def _rekey_soon(self) -> None:
        self._lifetimes(self.clock())
        self.flush()

    def _lifetimes(self, now: float) -> None:
        """The SA database's soft and hard limits: rekeys asked, expired pairs logged."""
        engine = self.engine
        rekey, expired = self.transport.sadb.expiring(now)
        for pair in expired:
            self.transport.refresh(pair.peer)
            self.counters["child sa expired"] += 1
            self._debug("ipsec", f"IPSEC: SA spi 0x{pair.spi_in:X} with {pair.peer} expired (hard lifetime)")
        for pair in rekey:
            self.counters["rekey asked"] += 1
            self._debug("ipsec", f"IPSEC: SA spi 0x{pair.spi_in:X} with {pair.peer} at its soft lifetime: rekey")
            engine.rekey_child(pair.spi_in, now)

    def reconfigure(self, settings: IpsecSettings, now: float) -> None:
        self.settings = settings
        self.engine.reconfigure(settings, now)
        self.flush()

    # --- for the CLI and the state answer ---------------------------------------------

    def ike_sas(self) -> list[IkeSaView]:
        return self.engine.ike_sas()

    def child_sas(self, peer: IPv4Address | None = None) -> list[ChildSaView]:
        return self.transport.sadb.views(self.settings.interface, self.settings.child.profile,
                                         self.settings.local_address, peer)

    def peer_state(self, peer: IPv4Address) -> str:
        """"" | "IKE" | "IPSEC": what `show dmvpn` shows for a peer NHRP has not brought up."""
        state = self.engine.peer_state(peer)
        if not state and self.transport.has_sa(peer):
            return "IPSEC"
        return state

    def dmvpn_state(self, peer: IPv4Address) -> str:
        """`show dmvpn`'s State for a peer NHRP has not brought up, as IOS names the
        steps: IKE (no ISAKMP SA yet), IPSEC (ISAKMP SA up, no IPsec SA yet), NHRP
        (the IPsec SA is up: NHRP is what is still missing)."""
        if self.transport.has_sa(peer):
            return "NHRP"
        if any(v.state == "QM_IDLE" and peer in (v.src, v.dst) for v in self.engine.ike_sas()):
            return "IPSEC"
        return "IKE"

    def clear_session(self, peer: IPv4Address | None = None) -> int:
        """`clear crypto session [remote X]`: IKE deletes its SAs (and tells the peers);
        the data SAs go with them."""
        count = self.engine.clear(peer, self.clock())
        self.flush()
        removed = self.transport.remove_peer(peer)
        self._forget(peer)
        return max(count, len(removed))

    def clear_sa(self, peer: IPv4Address | None = None) -> int:
        """`clear crypto sa [peer X]`: the ESP SAs go, with a Delete to the peer (as IOS
        sends one, through `IkeEngine.clear_sa`), and the next packet negotiates new ones
        over the ISAKMP SA that is still up. The number of pairs removed."""
        count = self.engine.clear_sa(peer, self.clock())
        self.flush()  # the Deletes go out; ChildSaDown removes each pair here
        count = max(count, len(self.transport.remove_peer(peer)))  # anything not announced
        self._forget(peer)
        return count

    def _forget(self, peer: IPv4Address | None) -> None:
        if peer is None:
            self._asked.clear()
        else:
            self._asked.pop(peer, None)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


#: Receive buffer of the IKE sockets. A hub whose spokes all start at once gets a burst
#: of Main Mode messages (bench_ipsec's swarm: past ~150 initiators the default buffer
#: overflowed, RcvbufErrors, and the spokes waited for retransmissions); 4 MiB holds
#: thousands of them. As root the agent may exceed net.core.rmem_max (SO_RCVBUFFORCE).
IKE_RCVBUF = 4 * 1024 * 1024


def _udp_socket(port: int, address: str = "0.0.0.0") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _grow_receive_buffer(sock, IKE_RCVBUF)
        sock.setblocking(False)
        sock.bind((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _grow_receive_buffer(sock: socket.socket, size: int) -> None:
    """Ask for `size` bytes of receive buffer: forced as root, else up to rmem_max."""
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:  # not root (or not Linux): what the limit allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
