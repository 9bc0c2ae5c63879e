"""EIGRP in the live agent: the sans-I/O `EigrpProcess` joined to sockets, the clock and the kernel.

Why a module of its own: the core (routing/eigrp) takes bytes, the time and settings and
gives bytes and routes; something must own the I/O. This is it, so that agent/core.py only
calls `apply_eigrp`, `tick` and `stop`.

- One raw IP socket (protocol 88) per EIGRP interface that can have neighbours (not
  passive, not a loopback): bound to the Linux interface (SO_BINDTODEVICE), member of
  224.0.0.10 there, multicast out of it, no loopback of our own multicasts, TTL 2 and
  DSCP CS6 (what IOS puts on EIGRP packets). Over `Tunnel0` the kernel sends the
  multicast into the TAP; the mGRE dataplane replicates it to the NHRP multicast map, and
  GRE multicast received is written into the TAP, where the group membership lets the
  kernel deliver it to the socket.
- Readers on the agent's asyncio loop (none in unit tests: `read` is called directly).
- `routes()` go into the kernel with protocol 192 (`ip route` shows `proto eigrp`: the
  name iproute2's rt_protos gives 192), kernel metric = administrative
  distance (90 internal, 170 external, 5 for a summary's Null0 discard, a blackhole),
  several next hops as one ECMP route. Only what changed is replaced; on stop exactly our
  routes go, and stale protocol-192 routes of an earlier agent are swept on start.
- An interface `shutdown` is simply not in the settings (routing.eigrp_config), so
  `reconfigure` takes it out of the process like a link down; a link that loses its
  carrier (checked every second from the tick) is set down in the process, and up again.
Bad input is the core's to count; a socket error is logged and counted, never raised.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any, Callable, Protocol

from dmvpnlab.ifnames import linux_ifname
from dmvpnlab.routing.eigrp.settings import EigrpSettings
from dmvpnlab.routing.eigrp_config import eigrp_settings
from dmvpnlab.routing.kernel import EIGRP_ROUTE_PROTO, Kernel

if TYPE_CHECKING:
    from dmvpnlab.agent.core import RouterAgent

log = logging.getLogger("dmvpnlab.agent.eigrp")

IPPROTO_EIGRP = 88
ALL_EIGRP_ROUTERS = "224.0.0.10"
EIGRP_TTL = 2
DSCP_CS6_TOS = 0xC0
DEBUG_CATEGORY = "eigrp-packets"
RECV_BUFFER = 65535
LINK_CHECK_SECONDS = 1.0  # how often carrier is read (a netlink query per EIGRP interface)
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


class Process(Protocol):
    """What the node needs of routing.eigrp.process.EigrpProcess (the shared contract)."""

    outbox: list[Any]
    routes_version: int

    def receive(self, interface: str, source: IPv4Address, data: bytes, now: float) -> None: ...
    def tick(self, now: float) -> None: ...
    def reconfigure(self, settings: EigrpSettings, now: float) -> None: ...
    def stop(self, now: float) -> None: ...
    def routes(self) -> list[Any]: ...


ProcessFactory = Callable[..., Process]


def _default_factory(settings: EigrpSettings, now: float, debug: Callable[[str], None] | None = None) -> Process:
    from dmvpnlab.routing.eigrp.process import EigrpProcess  # the core; imported when EIGRP runs
    return EigrpProcess(settings, now, debug=debug)


def open_eigrp_socket(linux_name: str, address: IPv4Address, ifindex: int) -> socket.socket:
    """A raw protocol-88 socket that sends and receives EIGRP on one Linux interface only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_EIGRP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, linux_name.encode())
        mreqn = struct.pack("=4s4si", socket.inet_aton(ALL_EIGRP_ROUTERS), address.packed, ifindex)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("=4s4si", b"\0" * 4,
                                                                             address.packed, ifindex))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, EIGRP_TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, EIGRP_TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, DSCP_CS6_TOS)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class _Installed:
    """A route as we put it in the kernel: what to compare, and how to delete it."""

    gateways: tuple[tuple[str | None, str], ...]
    metric: int


@dataclass
class EigrpNode:
    """One EIGRP process of the live router and the I/O around it."""

    settings: EigrpSettings
    process: Process
    kernel: Kernel | None
    ifname: Callable[[str], str]
    clock: Callable[[], float]
    open_socket: Callable[[str, IPv4Address, int], socket.socket] | None = open_eigrp_socket
    debug: Callable[[str], None] | None = None
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    ifindexes: dict[str, int] = field(default_factory=dict)  # the device each socket is bound to
    installed: dict[IPv4Network, _Installed] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    key_chains: dict[str, str] = field(default_factory=dict)  # interface -> key chain name, for show
    factory: ProcessFactory | None = None  # for `clear ip eigrp neighbors` on a core without clear
    links_up: dict[str, bool] = field(default_factory=dict)  # carrier as last seen (tick)
    _routes_version: int = -1
    _links_checked: float = float("-inf")

    # --- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._sweep_stale_routes()
        self._sync_sockets()
        self.pump()

    def reconfigure(self, settings: EigrpSettings) -> None:
        if settings == self.settings:
            self._sync_sockets()  # the same config, but a device may be new (a re-created TAP)
            return
        self.settings = settings
        self.process.reconfigure(settings, self.clock())
        self._sync_sockets()
        self.pump()

    def tick(self) -> None:
        now = self.clock()
        if now - self._links_checked >= LINK_CHECK_SECONDS:
            self._links_checked = now
            self._check_links(now)
        self.process.tick(now)
        self.pump()

    def _check_links(self, now: float) -> None:
        """Carrier: a link whose peer went away (a veth down, a fault) is down for EIGRP, as
        IOS takes an interface with its line protocol down out of the process."""
        stats = getattr(self.kernel, "link_stats", None)
        batch = getattr(self.kernel, "links_up", None)
        set_state = getattr(self.process, "set_interface_state", None)
        if (stats is None and batch is None) or set_state is None:
            return
        names = {itf.name: self.ifname(itf.name) for itf in self.settings.interfaces
                 if not itf.name.startswith("Loopback")}
        states: dict[str, bool] = {}
        if batch is not None:   # one netlink dump for all of them
            try:
                states = batch(list(names.values()))
            except (OSError, ValueError):
                states = {}
        for name, linux in names.items():
            if batch is not None:
                up = bool(states.get(linux, False))
            else:
                try:
                    up = bool(stats(linux).get("up", 0))
                except (OSError, ValueError):
                    up = False
            if self.links_up.get(name, True) != up:
                log.info("EIGRP %s: line protocol %s", name, "up" if up else "down")
                set_state(name, up, now)
            self.links_up[name] = up

    def stop(self) -> None:
        """Goodbyes out, our routes out of the kernel, sockets closed."""
        try:
            self.process.stop(self.clock())
            self._send_outbox()
        finally:
            for prefix in list(self.installed):
                self._delete(prefix)
            for name in list(self.sockets):
                self._close_socket(name)

    def clear_neighbors(self, address: IPv4Address | None = None) -> None:
        """`clear ip eigrp neighbors [A]`: the adjacencies go down and form again."""
        now = self.clock()
        clear = getattr(self.process, "clear_neighbors", None)
        if callable(clear):
            clear(address, now)
        elif self.factory is not None:  # the whole process restarts (IOS resets them all too)
            self.process.stop(now)
            self._send_outbox()
            self.process = self.factory(self.settings, now, debug=self.debug)
            self._routes_version = -1
        self.pump()

    # --- packets ------------------------------------------------------------------------
    def read(self, interface: str) -> None:
        """Drain one interface's socket into the process (the loop calls this when readable)."""
        sock = self.sockets.get(interface)
        if sock is None:
            return
        for _ in range(64):
            try:
                packet = sock.recv(RECV_BUFFER)
            except BlockingIOError:
                break
            except OSError as error:
                self._count("rx_errors")
                log.warning("EIGRP %s: receive failed: %s", interface, error)
                break
            self.receive(interface, packet)
        self.pump()

    def receive(self, interface: str, packet: bytes) -> None:
        """One IP packet as the raw socket gives it (IP header first)."""
        if len(packet) < 20 or packet[0] >> 4 != 4 or len(packet) < (packet[0] & 0x0F) * 4:
            self._count("rx_malformed")
            return
        header = (packet[0] & 0x0F) * 4
        source = IPv4Address(packet[12:16])
        self._count("rx_packets")
        self.process.receive(interface, source, packet[header:], self.clock())

    def pump(self) -> None:
        """Send what the process queued; log its neighbour changes; install its routes if
        they changed."""
        self._send_outbox()
        changes = getattr(self.process, "log", None)
        if isinstance(changes, list) and changes:
            for line in changes:  # %DUAL-5-NBRCHANGE, as IOS logs them
                log.info("%s", line)
            changes.clear()
        if self.process.routes_version != self._routes_version:
            self._routes_version = self.process.routes_version
            self._sync_routes()

    def _send_outbox(self) -> None:
        outbox, self.process.outbox = self.process.outbox, []
        for item in outbox:
            sock = self.sockets.get(item.interface)
            if sock is None:
                self._count("tx_no_socket")  # passive or loopback: nobody to talk to
                continue
            try:
                sock.sendto(item.data, (str(item.destination), 0))
                self._count("tx_packets")
            except OSError as error:
                self._count("tx_errors")
                if error.errno not in (errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.ENOBUFS):
                    log.warning("EIGRP %s: send to %s failed: %s", item.interface, item.destination, error)

    # --- sockets ------------------------------------------------------------------------
    def _wanted_sockets(self) -> dict[str, IPv4Address]:
        return {i.name: i.address.ip for i in self.settings.interfaces
                if not i.passive and not i.name.startswith("Loopback")}

    def _sync_sockets(self) -> None:
        wanted = self._wanted_sockets()
        for name in [n for n in self.sockets if n not in wanted or self._device_changed(n)]:
            self._close_socket(name)
        for name, address in wanted.items():
            if name in self.sockets or self.open_socket is None:
                continue
            try:
                linux = self.ifname(name)
                index = self.kernel.ifindex(linux) if self.kernel is not None else 0
                if index is None:
                    raise OSError(errno.ENODEV, f"{linux} does not exist")
                self.ifindexes[name] = index
                sock = self.open_socket(linux, address, index)
            except (OSError, ValueError) as error:
                self._count("socket_errors")
                log.warning("EIGRP %s: no socket: %s", name, error)
                continue
            self.sockets[name] = sock
            loop = _running_loop()
            if loop is not None:
                loop.add_reader(sock.fileno(), self.read, name)

    def _device_changed(self, name: str) -> bool:
        """Was the device re-created (a new TAP after a tunnel change)? Its socket is dead then."""
        if self.kernel is None:
            return False
        try:
            return self.kernel.ifindex(self.ifname(name)) != self.ifindexes.get(name)
        except (OSError, ValueError):
            return True

    def _close_socket(self, name: str) -> None:
        sock = self.sockets.pop(name)
        self.ifindexes.pop(name, None)
        loop = _running_loop()
        if loop is not None:
            loop.remove_reader(sock.fileno())
        sock.close()

    # --- kernel routes ------------------------------------------------------------------
    def _sweep_stale_routes(self) -> None:
        if self.kernel is None:
            return
        for route in self.kernel.routes():
            if route.proto == EIGRP_ROUTE_PROTO:
                self.kernel.delete_route(route.prefix, None, EIGRP_ROUTE_PROTO, route.metric)

    def _sync_routes(self) -> None:
        wanted: dict[IPv4Network, _Installed] = {}
        for route in self.process.routes():
            hops = tuple((str(a) if a is not None else None, i) for a, i in route.next_hops)
            wanted[IPv4Network(route.prefix)] = _Installed(hops, int(route.ad))
        for prefix in [p for p, r in self.installed.items() if wanted.get(p) is None or wanted[p].metric != r.metric]:
            self._delete(prefix)
        for prefix, route in wanted.items():
            if self.installed.get(prefix) != route:
                self._install(prefix, route)

    def _install(self, prefix: IPv4Network, route: _Installed) -> None:
        if self.kernel is None:
            self.installed[prefix] = route
            return
        try:
            if any(i == "Null0" for _, i in route.gateways):
                self.kernel.replace_route(prefix, None, None, EIGRP_ROUTE_PROTO, metric=route.metric, blackhole=True)
            else:
                hops = [(IPv4Address(a) if a else None, self.ifname(i)) for a, i in route.gateways]
                self.kernel.replace_multipath_route(prefix, hops, EIGRP_ROUTE_PROTO, metric=route.metric)
            self.installed[prefix] = route
            self._count("routes_installed")
        except Exception as error:  # netlink refused (next hop not on link yet...): next change retries
            self.installed.pop(prefix, None)
            self._count("route_errors")
            log.warning("EIGRP route %s via %s not installed: %s", prefix, route.gateways, error)

    def _delete(self, prefix: IPv4Network) -> None:
        route = self.installed.pop(prefix)
        if self.kernel is not None:
            self.kernel.delete_route(prefix, None, EIGRP_ROUTE_PROTO, route.metric)

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class DebugWriter:
    """`debug eigrp packets` lines to the sessions that asked for them (only those: not to
    `debug dmvpn all`, whose "all" means NHRP's categories) and to the agent's debug log.
    `wanted()` tells the core whether anyone listens, so it formats no line for nobody."""

    def __init__(self, agent: "RouterAgent") -> None:
        self.agent = agent

    def wanted(self) -> bool:
        return log.isEnabledFor(logging.DEBUG) or any(DEBUG_CATEGORY in s.categories for s in self.agent.debug_sinks)

    def __call__(self, line: str) -> None:
        log.debug("%s", line)
        for sink in list(self.agent.debug_sinks):
            if DEBUG_CATEGORY in sink.categories:
                try:
                    sink.write(line)
                except Exception:
                    self.agent.debug_sinks.remove(sink)


def apply_eigrp(agent: "RouterAgent", factory: ProcessFactory = _default_factory) -> "EigrpNode | None":
    """Make `agent.eigrp` match `agent.config`: start, reconfigure or stop the process.

    Returns the node to keep (None: the config runs no EIGRP). The ignored lines are kept on
    the node for `state["routing"]["eigrp"]["ignored"]`.
    """
    translation = eigrp_settings(agent.config)
    node: EigrpNode | None = getattr(agent, "eigrp", None)
    settings = translation.settings
    if node is not None and (settings is None or settings.asn != node.settings.asn):
        node.stop()
        node = None
    if settings is None:
        return None
    if node is None:
        debug = DebugWriter(agent)
        try:
            process = factory(settings, agent.clock(), debug=debug)
        except ImportError as error:  # a build without the EIGRP core: the rest of the router runs
            log.error("router eigrp %d: not run: %s", settings.asn, error)
            return None
        node = EigrpNode(settings, process, agent.kernel,
                         lambda ios: linux_ifname(agent.node, ios), agent.clock, debug=debug, factory=factory)
        node.ignored, node.key_chains = translation.ignored, translation.key_chains
        node.start()
    else:
        node.ignored, node.key_chains = translation.ignored, translation.key_chains
        node.reconfigure(settings)
    return node
