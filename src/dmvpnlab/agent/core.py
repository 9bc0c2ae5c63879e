"""The live router: config -> kernel, the mGRE tunnel, NHRP events, the control socket, one loop.

The agent runs inside the router's network namespace (the lab starts it there with the
router's startup config). It applies the IOS config to the kernel (addresses, shutdown,
static routes), creates `TunnelN` as a TAP, runs the NHRP engine over a raw GRE socket,
installs NHRP shortcut routes (H routes or next-hop overrides: `shortcuts`), with `tunnel protection` carries GRE in ESP and runs IKE
(`ipsec_node`), and answers the control socket (JSON state API, clear,
and whatever operations its `Extensions` add, such as the exec-mode CLI). Everything
happens on one asyncio loop: the TAP fd and the GRE socket are readers, NHRP timers are
a periodic tick. Imports config, nhrp, tunnel, ipsec and routing, never the CLI: what the CLI
provides arrives as `Extensions` (hooks.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Callable

from dmvpnlab.agent.control import ControlServer
from dmvpnlab.agent.crypto_settings import ipsec_settings
from dmvpnlab.agent.eigrp_node import EigrpNode, apply_eigrp
from dmvpnlab.agent.frr_node import FrrNode, purge_agent_routes
from dmvpnlab.agent.hooks import DebugSink, Extensions, SshOptions, SshServer
from dmvpnlab.agent.interfaces_node import InterfacesNode
from dmvpnlab.agent.ipsec_node import IpsecNode, new_engine, open_key_log
from dmvpnlab.agent.nat_node import NatNode
from dmvpnlab.agent.static_routes import StaticRoutesNode
from dmvpnlab.agent.shortcuts import ShortcutRoutes
from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.ipsec.settings import IpsecSettings
from dmvpnlab.nhrp.config import DEFAULT_REDIRECT_TIMEOUT, NhrpEngineConfig, NhsConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.events import PeerChanged, ShortcutAdded, ShortcutRemoved
from dmvpnlab.routing.kernel import NHRP_ROUTE_PROTO, Kernel
from dmvpnlab.rundir import CONTROL_SOCKET, READY_FILE
from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.mgre import MgreTunnel

TICK_SECONDS = 0.25
SOURCE_CHECK_SECONDS = 2.0  # how often a DHCP-like change of the tunnel source is noticed
DEFAULT_TUNNEL_IP_MTU = 1476

log = logging.getLogger("dmvpnlab.agent")


class AgentConfigError(RuntimeError):
    """The config cannot be applied (missing interface, no tunnel source address...)."""


@dataclass
class RouterAgent:
    """The live router. The CLI and the control socket read these attributes."""

    node: str
    config: RouterConfig
    state_dir: Path
    config_path: Path | None = None
    kernel: Kernel = field(default_factory=Kernel)
    tunnel: MgreTunnel | None = None
    started_wall: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    debug_sinks: list[DebugSink] = field(default_factory=list)
    installed_shortcuts: dict[str, str] = field(default_factory=dict)
    ignored_lines: list[str] = field(default_factory=list)
    peer_up_since: dict[IPv4Address, float] = field(default_factory=dict)
    shortcut_latencies: list[float] = field(default_factory=list)
    management: SshOptions | None = None
    extensions: Extensions = field(default_factory=Extensions)
    ssh_server: SshServer | None = None
    ipsec: IpsecNode | None = None  # `tunnel protection`: IKE, SAs, UDP 500/4500 (ipsec_node)
    keylog_dir: Path | None = None  # where Wireshark's key files go (else $DMVPNLAB_KEYLOG_DIR)
    frr: FrrNode | None = None  # OSPF/BGP/RIP in FRR daemons (frr_node), made by the first apply
    eigrp: EigrpNode | None = None  # `router eigrp N`: our EIGRP process and its sockets (eigrp_node)
    _source_checked: float = 0.0
    shortcut_routes: ShortcutRoutes = field(init=False)  # H routes and next-hop overrides (agent/shortcuts.py)
    interfaces: InterfacesNode = field(init=False)  # addresses, shutdown, MTU, loopbacks (interfaces_node)
    static_routes: StaticRoutesNode = field(init=False)  # ip route, ip default-gateway (static_routes)
    nat: NatNode = field(init=False)  # ACL filters + NAT in nftables (nat_node, filter_rules)

    def __post_init__(self) -> None:
        self.shortcut_routes = ShortcutRoutes(self.kernel)
        self.interfaces = InterfacesNode(self.node, self.kernel)
        self.static_routes = StaticRoutesNode(self.node, self.kernel)
        self.nat = NatNode(self.node, self.kernel)

    @property
    def hostname(self) -> str:
        return self.config.hostname

    def clock(self) -> float:
        return time.monotonic()

    # --- config -> kernel -------------------------------------------------------------

    def apply(self) -> None:
        """Make the kernel and the tunnel match `self.config` (start-up and configure terminal)."""
        self.interfaces.apply(self.config)
        before = self.tunnel
        tunnels = self.config.tunnels
        if tunnels:
            self._apply_tunnel(tunnels[0])
        elif self.tunnel is not None:
            self._close_tunnel()
        if self.tunnel is not before and self.tunnel is not None:
            self._watch(self.tunnel)
        self.static_routes.apply(self.config, self.clock())
        self.nat.apply(self.config)
        first = self.frr is None
        if first:  # before zebra can see them: leftovers of a killed agent (frr_node)
            purge_agent_routes(self.kernel)
        self.frr = self.frr or FrrNode(self.node, self.state_dir)
        self.frr.configure(self.config, self.clock(), immediate=first)
        self.eigrp = apply_eigrp(self)

    def tunnel_source_address(self, itf: Interface) -> IPv4Address:
        source = itf.tunnel_source
        if source is None:
            raise AgentConfigError(f"{itf.name}: no 'tunnel source' configured")
        if isinstance(source, IPv4Address):
            return source
        addresses = self.interfaces.addresses(self.config, source)  # a Loopback's own, not lo's 127.0.0.1
        if not addresses:
            raise AgentConfigError(f"{itf.name}: tunnel source {source} has no IPv4 address")
        return addresses[0].ip

    def _apply_tunnel(self, itf: Interface) -> None:
        if itf.address is None:
            raise AgentConfigError(f"{itf.name}: no 'ip address' configured")
        nbma = self.tunnel_source_address(itf)
        try:
            crypto = ipsec_settings(self.config, itf.name, nbma)
        except ValueError as error:  # an undefined profile or transform set
            raise AgentConfigError(str(error)) from None
        nhrp_config = nhrp_engine_config(itf, nbma)
        destination = itf.tunnel_destination if itf.effective_tunnel_mode == "gre ip" else None
        mtu = itf.ip_mtu or DEFAULT_TUNNEL_IP_MTU
        now = self.clock()
        current = self.tunnel
        if current is not None and (current.name != itf.name or current.address != itf.address
                                    or current.dataplane.mtu != mtu or (crypto is None) != (self.ipsec is None)):
            self._close_tunnel()
            current = None
        if current is None:
            engine = NhrpEngine(nhrp_config, self._route_lookup, now, debug=self._debug, covering=self._covering_lookup)
            transport = self._protected_transport(crypto, nbma, now) if crypto is not None else None
            self.tunnel = MgreTunnel(itf.name, itf.address, nbma, itf.tunnel_key, mtu, itf.tcp_adjust_mss,
                                     engine, destination, clock=self.clock, transport=transport)
            self.tunnel.on_engine_output = self.flush_engine
            if self.ipsec is not None:
                self.ipsec.on_udp_esp = self.tunnel.drain_socket
            self.kernel.set_link(itf.name, not itf.shutdown)
            engine.start(now)
        else:
            current.destination = destination
            current.set_key(itf.tunnel_key)
            current.dataplane.tcp_mss = itf.tcp_adjust_mss
            current.engine.reconfigure(nhrp_config, now)
            current.nbma = nbma
            if self.ipsec is not None and crypto is not None and crypto != self.ipsec.settings:
                self.ipsec.transport.local = nbma
                self.ipsec.reconfigure(crypto, now)
            self.kernel.set_link(itf.name, not itf.shutdown)
        self.flush_engine()

    def _protected_transport(self, settings: IpsecSettings, nbma: IPv4Address, now: float) -> EspTransport:
        """`tunnel protection`: GRE goes in ESP, and an IPsec node negotiates the SAs."""
        engine = new_engine(settings, now, self._debug)
        transport = EspTransport(SaDatabase(self.clock), nbma)
        try:
            self.ipsec = IpsecNode(settings, transport, engine, clock=self.clock, debug=self._debug,
                                   key_log=open_key_log(self.keylog_dir))
        except BaseException:
            transport.close()
            raise
        return transport

    def _close_tunnel(self) -> None:
        if self.tunnel is not None:
            self._unwatch(self.tunnel)
            self.tunnel.close()
            self.tunnel = None
        if self.ipsec is not None:
            self.ipsec.close()
            self.ipsec = None

    def _route_lookup(self, address: IPv4Address):
        name = self.tunnel.name if self.tunnel is not None else "Tunnel0"
        return self.kernel.lookup(address, name)

    def _covering_lookup(self, prefix: IPv4Network):
        name = self.tunnel.name if self.tunnel is not None else "Tunnel0"
        return self.kernel.covering(prefix, name, exclude_proto=NHRP_ROUTE_PROTO)

    # --- NHRP output --------------------------------------------------------------------

    def flush_engine(self) -> None:
        """Send what NHRP queued and act on its events (shortcut routes)."""
        tunnel = self.tunnel
        if tunnel is None:
            return
        engine = tunnel.engine
        while engine.outbox or engine.events:
            outbox, engine.outbox = engine.outbox, []
            for nbma, data in outbox:
                tunnel.send_nhrp(nbma, data)
            events, engine.events = engine.events, []
            for event in events:
                self._on_event(event)

    def _on_event(self, event: object) -> None:
        tunnel = self.tunnel
        assert tunnel is not None
        if isinstance(event, ShortcutAdded):
            try:
                shortcut = self.shortcut_routes.install(event.prefix, event.next_hop, tunnel.name, self.clock())
                tunnel.engine.mark_override(event.prefix, shortcut.override)
                self.installed_shortcuts[str(event.prefix)] = str(event.next_hop)
                self._note_redirect_latency(event.prefix)
                kind = "next-hop override" if shortcut.override else "route"
                self._debug("cache", f"NHRP: Installed shortcut {kind} {event.prefix} via {event.next_hop}")
            except Exception as error:
                log.warning("shortcut %s via %s not installed: %s", event.prefix, event.next_hop, error)
        elif isinstance(event, ShortcutRemoved):
            self.shortcut_routes.remove(event.prefix, event.next_hop)
            self.installed_shortcuts.pop(str(event.prefix), None)
        elif isinstance(event, PeerChanged):
            entry = tunnel.engine.cache.peer(event.proto)
            if entry is None:
                self.peer_up_since.pop(event.proto, None)
            else:
                self.peer_up_since.setdefault(event.proto, self.clock())

    def _note_redirect_latency(self, prefix: IPv4Network) -> None:
        """Redirect received -> shortcut route in the kernel, for `bench/`."""
        assert self.tunnel is not None
        received = self.tunnel.engine.redirect_received
        for destination in [d for d in received if d in prefix]:
            self.shortcut_latencies.append(self.clock() - received.pop(destination))
        del self.shortcut_latencies[:-100]

    def _debug(self, category: str, line: str) -> None:
        log.debug("%s", line)
        for sink in list(self.debug_sinks):
            if "all" in sink.categories or category in sink.categories:
                try:
                    sink.write(line)
                except Exception:
                    self.debug_sinks.remove(sink)

    # --- operator actions ------------------------------------------------------------

    def clear_nhrp(self, address: IPv4Address | None = None) -> int:
        if self.tunnel is None:
            return 0
        count = self.tunnel.engine.clear(address, self.clock())
        self.flush_engine()
        return count

    def tick(self) -> None:
        self.static_routes.tick(self.clock())
        if self.frr is not None:
            self.frr.tick(self.clock())
        if self.eigrp is not None:
            self.eigrp.tick()
        tunnel = self.tunnel
        if tunnel is None:
            return
        itf = self.config.interface(tunnel.name)
        now = self.clock()
        if now - self._source_checked >= SOURCE_CHECK_SECONDS and itf is not None and itf.tunnel_source is not None and not isinstance(itf.tunnel_source, IPv4Address):
            self._source_checked = now
            try:
                nbma = self.tunnel_source_address(itf)
            except AgentConfigError:
                nbma = tunnel.nbma
            if nbma != tunnel.nbma:
                log.info("tunnel source address changed %s -> %s: re-registering", tunnel.nbma, nbma)
                tunnel.nbma = nbma
                tunnel.engine.nbma_changed(nbma, self.clock())
        tunnel.hand_over_used(self.clock())
        tunnel.engine.tick(self.clock())
        self.flush_engine()
        for moved in self.shortcut_routes.recheck(tunnel.name, self.clock()):
            tunnel.engine.mark_override(moved.prefix, moved.override)
        if self.ipsec is not None:
            self.ipsec.tick(self.clock())

    def remove_own_routes(self) -> None:
        self.shortcut_routes.remove_all()
        self.installed_shortcuts.clear()

    # --- loop -----------------------------------------------------------------------------

    async def run(self, ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            self.apply()
            if self.management is not None:
                self.start_management(self.management)
            server = ControlServer(self, self.state_dir / CONTROL_SOCKET, self.extensions.operations)
            await server.start()
        except BaseException:
            if self.frr is not None:  # started by apply: FRR must not outlive a failed start
                self.frr.stop()
            if self.eigrp is not None:  # nor EIGRP's routes
                self.eigrp.stop()
            self.nat.close()  # nor the nftables table
            raise
        ready()
        ticker = asyncio.create_task(self._ticker())
        try:
            await stop.wait()
        finally:
            ticker.cancel()
            if self.ssh_server is not None:
                self.ssh_server.stop()
            await server.stop()
            if self.frr is not None:
                self.frr.stop()
            if self.eigrp is not None:
                self.eigrp.stop()  # goodbyes while the tunnel still carries them
            self.remove_own_routes()
            self.nat.close()
            self._close_tunnel()
            self.kernel.close()

    def start_management(self, options: SshOptions) -> None:
        """Answer SSH with the plugged-in server; called on the running loop, so CLI lines
        run on it. A port that cannot be bound, or an agent assembled without an SSH
        server, is a start-up error (the lab shows it with the log)."""
        start = self.extensions.ssh_server
        if start is None:
            raise AgentConfigError(f"SSH on {options.address}:{options.port}: this agent has no SSH server")
        try:
            self.ssh_server = start(self, options, self.state_dir)
        except OSError as error:
            raise AgentConfigError(f"SSH on {options.address}:{options.port}: {error.strerror or error}") from None
        log.info("SSH on %s:%d (user %s)", options.address, options.port, options.username)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.tick()
            except Exception:
                log.exception("tick failed")

    def _watch(self, tunnel: MgreTunnel) -> None:
        """Read the tunnel's TAP, its transport's sockets and IKE's on the running loop
        (none at unit-test time)."""
        loop = _running_loop()
        if loop is not None:
            loop.add_reader(tunnel.tap.fileno(), tunnel.drain_tap)
            for fd in tunnel.transport.filenos():
                loop.add_reader(fd, tunnel.drain_socket)
            if self.ipsec is not None:
                for port, sock in self.ipsec.sockets.items():
                    loop.add_reader(sock.fileno(), self.ipsec.read, port)

    def _unwatch(self, tunnel: MgreTunnel) -> None:
        loop = _running_loop()
        if loop is not None:
            loop.remove_reader(tunnel.tap.fileno())
            for fd in tunnel.transport.filenos():
                loop.remove_reader(fd)
            if self.ipsec is not None:
                for sock in self.ipsec.sockets.values():
                    loop.remove_reader(sock.fileno())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def nhrp_engine_config(itf: Interface, nbma: IPv4Address) -> NhrpEngineConfig:
    """The NHRP engine's settings from the `ip nhrp` lines of tunnel interface `itf`.

    The config model keeps what the user wrote (None where a line is absent, the
    password as text, `map multicast dynamic` as a word); the engine wants values it can
    run with. `nbma` is the tunnel source's current address (it can change at run time).
    What IOS leaves unsaid comes from the nhrp defaults (e.g. the CIE MTU 17916, whatever
    `ip mtu` says).
    """
    nhrp = itf.nhrp
    return NhrpEngineConfig(
        interface=itf.name,
        tunnel_address=itf.address,
        nbma_address=nbma,
        holdtime=nhrp.effective_holdtime,
        authentication=nhrp.authentication.encode() if nhrp.authentication else None,
        network_id=nhrp.network_id,
        nhs=[NhsConfig(n.address, n.nbma, n.multicast) for n in nhrp.nhs if n.address is not None],
        static_maps=[(m.address, m.nbma) for m in nhrp.maps],
        multicast_static=[m for m in nhrp.multicast_maps if isinstance(m, IPv4Address)],
        multicast_dynamic="dynamic" in nhrp.multicast_maps,
        redirect=nhrp.redirect,
        redirect_timeout=float(nhrp.redirect_timeout or DEFAULT_REDIRECT_TIMEOUT),
        shortcut=nhrp.shortcut,
        unique=not nhrp.registration_no_unique,
        registration_timeout=nhrp.registration_timeout,
    )


def write_ready(state_dir: Path) -> None:
    ready = state_dir / READY_FILE
    ready.write_text(f"{os.getpid()}\n")
