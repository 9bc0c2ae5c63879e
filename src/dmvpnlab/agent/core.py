"""The live router: config -> kernel, the tunnel interfaces, the control socket, one loop.

The agent runs inside the router's network namespace (the lab starts it there with the
router's startup config). It applies the IOS config to the kernel (dot1q_node:
subinterface TAPs; interfaces_node: addresses, secondaries, shutdown, MTU, loopbacks on
lo; dhcp_node: `ip address dhcp` and `ip dhcp pool`; static_routes: ip route with
distances, ip default-gateway; nat_node: ACL filters and NAT in nftables), runs every `interface TunnelN` as a TAP with its own NHRP engine over a
raw GRE socket (`tunnels_node`: NHRP events, shortcut routes through `shortcuts`, with
`tunnel protection` GRE in ESP and IKE through `ipsec_node`), and answers the control socket (JSON state API, clear,
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
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.agent.control import ControlServer
from dmvpnlab.agent.dhcp_node import DhcpNode
from dmvpnlab.agent.dot1q_node import Dot1qNode
from dmvpnlab.agent.eigrp_node import EigrpNode, apply_eigrp
from dmvpnlab.agent.frr_node import FrrNode, purge_agent_routes
from dmvpnlab.agent.hooks import DebugSink, Extensions, SshOptions, SshServer
from dmvpnlab.agent.interfaces_node import InterfacesNode
from dmvpnlab.agent.ipsec_node import IpsecNode
from dmvpnlab.agent.nat_node import NatNode
from dmvpnlab.agent.static_routes import StaticRoutesNode
from dmvpnlab.agent.shortcuts import ShortcutRoutes
from dmvpnlab.agent.tunnels_node import (DEFAULT_TUNNEL_IP_MTU, TunnelConfigError, TunnelsNode,
                                         nhrp_engine_config, tunnel_source_address)
from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.routing.kernel import Kernel
from dmvpnlab.rundir import CONTROL_SOCKET, READY_FILE
from dmvpnlab.tunnel.mgre import MgreTunnel

TICK_SECONDS = 0.25
__all__ = ["AgentConfigError", "DEFAULT_TUNNEL_IP_MTU", "RouterAgent", "nhrp_engine_config", "write_ready"]

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
    keylog_dir: Path | None = None  # where Wireshark's key files go (else $DMVPNLAB_KEYLOG_DIR)
    frr: FrrNode | None = None  # OSPF/BGP/RIP in FRR daemons (frr_node), made by the first apply
    eigrp: EigrpNode | None = None  # `router eigrp N`: our EIGRP process and its sockets (eigrp_node)
    shortcut_routes: ShortcutRoutes = field(init=False)  # H routes and next-hop overrides (agent/shortcuts.py)
    tunnels_node: TunnelsNode = field(init=False)  # every TunnelN: mGRE + NHRP (+ IPsec) each
    impairment: Any = None  # the delay line of a lab delay fault (control op `impair`), None when none
    dot1q: Dot1qNode | None = None  # subinterface TAPs and their 802.1Q relays (dot1q_node)
    dhcp: DhcpNode | None = None  # `ip address dhcp` clients and `ip dhcp pool` server (dhcp_node)
    interfaces: InterfacesNode = field(init=False)  # addresses, shutdown, MTU, loopbacks (interfaces_node)
    static_routes: StaticRoutesNode = field(init=False)  # ip route, ip default-gateway (static_routes)
    nat: NatNode = field(init=False)  # ACL filters + NAT in nftables (nat_node, filter_rules)

    def __post_init__(self) -> None:
        self.shortcut_routes = ShortcutRoutes(self.kernel)
        self.tunnels_node = TunnelsNode(self)
        self.interfaces = InterfacesNode(self.node, self.kernel)
        self.static_routes = StaticRoutesNode(self.node, self.kernel)
        self.nat = NatNode(self.node, self.kernel)

    # --- the tunnel interfaces (tunnels_node) ---------------------------------------------

    @property
    def tunnels(self) -> list[MgreTunnel]:
        """Every live tunnel interface, in configuration order."""
        return self.tunnels_node.tunnels()

    @property
    def tunnel(self) -> MgreTunnel | None:
        """The first live tunnel: for readers that know one tunnel only (compatibility)."""
        tunnels = self.tunnels_node.tunnels()
        return tunnels[0] if tunnels else None

    @tunnel.setter
    def tunnel(self, tunnel: MgreTunnel | None) -> None:
        self.tunnels_node.adopt(tunnel)

    def tunnel_named(self, name: str) -> MgreTunnel | None:
        return self.tunnels_node.get(name)

    @property
    def ipsec(self) -> IpsecNode | None:
        """The first protected tunnel's IPsec node (`show crypto` reads every one: ipsec_nodes)."""
        nodes = self.tunnels_node.ipsec_nodes()
        return nodes[0][1] if nodes else None

    def ipsec_for(self, name: str) -> IpsecNode | None:
        """The IPsec node of tunnel `name` (None without `tunnel protection`)."""
        return self.tunnels_node.ipsec_for(name)

    @property
    def ipsec_nodes(self) -> list[tuple[str, IpsecNode]]:
        return self.tunnels_node.ipsec_nodes()

    @property
    def hostname(self) -> str:
        return self.config.hostname

    def clock(self) -> float:
        return time.monotonic()

    # --- config -> kernel -------------------------------------------------------------

    def apply(self) -> None:
        """Make the kernel and the tunnel match `self.config` (start-up and configure terminal)."""
        self.dot1q = self.dot1q or Dot1qNode(self.node)
        self.dot1q.apply(self.config)  # subinterface TAPs first: the interfaces part addresses them
        self.interfaces.apply(self.config)
        self.dhcp = self.dhcp or DhcpNode(self.node, self.kernel, self.clock)
        self.dhcp.apply(self.config)
        problems = self.tunnels_node.apply()
        self.static_routes.apply(self.config, self.clock())
        self.nat.apply(self.config)
        first = self.frr is None
        if first:  # before zebra can see them: leftovers of a killed agent (frr_node)
            purge_agent_routes(self.kernel)
        self.frr = self.frr or FrrNode(self.node, self.state_dir)
        self.frr.configure(self.config, self.clock(), immediate=first)
        self.eigrp = apply_eigrp(self)
        if problems:  # the rest is applied; the caller reports these (configure terminal, start-up)
            raise AgentConfigError("; ".join(problems.values()))

    def tunnel_source_address(self, itf: Interface) -> IPv4Address:
        try:
            return tunnel_source_address(self, itf)
        except TunnelConfigError as error:
            raise AgentConfigError(str(error)) from None

    def _route_lookup(self, address: IPv4Address):
        name = self.tunnel.name if self.tunnel is not None else "Tunnel0"
        return self.kernel.lookup(address, name)

    # --- NHRP output --------------------------------------------------------------------

    def flush_engine(self) -> None:
        """Send what every tunnel's NHRP queued and act on its events (shortcut routes)."""
        for slot in list(self.tunnels_node.slots.values()):
            self.tunnels_node.flush(slot)

    def debugging(self) -> bool:
        """Does any debug line have a reader now (a `debug` terminal, or a DEBUG-level log)?"""
        return bool(self.debug_sinks) or log.isEnabledFor(logging.DEBUG)

    def _debug(self, category: str, line: str) -> None:
        log.debug("%s", line)
        for sink in list(self.debug_sinks):
            if "all" in sink.categories or category in sink.categories:
                try:
                    sink.write(line)
                except Exception:
                    self.debug_sinks.remove(sink)

    # --- operator actions ------------------------------------------------------------

    def clear_nhrp(self, address: IPv4Address | None = None, interface: str | None = None) -> int:
        """`clear ip nhrp [A] [interface TunnelN]`: every tunnel's cache (or one tunnel's)."""
        return self.tunnels_node.clear(address, interface)

    def tick(self) -> None:
        self.static_routes.tick(self.clock())
        if self.dhcp is not None:
            self.dhcp.tick()
        if self.frr is not None:
            self.frr.tick(self.clock())
        if self.eigrp is not None:
            self.eigrp.tick()
        self.tunnels_node.tick()

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
            try:
                self.apply()
            except AgentConfigError as error:  # tunnels that cannot come up yet: the rest is up
                # IOS boots with such a tunnel "up, line protocol down"; the reason stays in the
                # state's tunnel_problems and the tunnels part retries it (a source address later).
                log.warning("start-up: not applied: %s", error)
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
            self.close_l2()
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
            self.tunnels_node.close_all()
            self.close_l2()
            self.kernel.close()

    def close_l2(self) -> None:
        """Release DHCP leases, close the subinterface TAPs (also after a failed start)."""
        if self.dhcp is not None:
            self.dhcp.close()
        if self.dot1q is not None:
            self.dot1q.close()

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


def write_ready(state_dir: Path) -> None:
    ready = state_dir / READY_FILE
    ready.write_text(f"{os.getpid()}\n")
