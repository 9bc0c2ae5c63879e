"""`ip address dhcp` and `ip dhcp pool` in the router agent.

Clients: one `DhcpClient` per interface with `ip address dhcp` (not shut down); its
lease becomes the interface's address and a default route via the offered router with
IOS's distance 254 (agent/dhcp_io.py). Servers: one `DhcpServer` over every pool with a
`network`; it answers on each interface whose primary address lies in a pool's network
(IOS's rule), with that address as the server identifier. Live-apply: `configure
terminal` adds or removes clients (a removed one releases its lease) and reconfigures the
pools. Called from agent/core.py: `apply` after the interfaces have their addresses,
`tick` from the agent's tick, `close` at exit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any, Callable

from dmvpnlab.agent.dhcp_io import DhcpPort, install_lease, own_addresses
from dmvpnlab.agent.dot1q_node import interface_linux_name
from dmvpnlab.config.model import RouterConfig
from dmvpnlab.dhcp.client import DhcpClient, Lease
from dmvpnlab.dhcp.codec import CLIENT_PORT, SERVER_PORT, DhcpMessage
from dmvpnlab.dhcp.server import DEFAULT_LEASE, DhcpServer, PoolSpec
from dmvpnlab.ifnames import InterfaceNameError
from dmvpnlab.routing.kernel import Kernel

log = logging.getLogger("dmvpnlab.agent.dhcp")


@dataclass
class ClientPort:
    ios: str
    port: DhcpPort
    client: DhcpClient


@dataclass
class ServerPort:
    ios: str
    port: DhcpPort
    address: IPv4Interface


@dataclass
class DhcpNode:
    node: str
    kernel: Kernel
    clock: Callable[[], float]
    clients: dict[str, ClientPort] = field(default_factory=dict)  # IOS name -> client
    server: DhcpServer | None = None
    server_ports: dict[str, ServerPort] = field(default_factory=dict)  # IOS name -> port
    hostname: str | None = None

    def lease(self, ios: str) -> Lease | None:
        """The lease of interface `ios` (for `show ip interface brief`, `show dhcp lease`)."""
        client = self.clients.get(ios)
        return client.client.lease if client is not None else None

    # --- config -------------------------------------------------------------------------

    def apply(self, config: RouterConfig) -> None:
        self.hostname = config.hostname
        self._apply_clients(config)
        self._apply_server(config)
        self.flush()

    def _apply_clients(self, config: RouterConfig) -> None:
        wanted = {i.name for i in config.interfaces if i.dhcp and not i.shutdown and not i.is_tunnel}
        for name in [n for n in self.clients if n not in wanted]:
            self._close_client(name, release=True)
        for name in sorted(wanted - set(self.clients)):
            try:
                linux = interface_linux_name(self.node, name)
                port = DhcpPort.open(linux, CLIENT_PORT)
            except (OSError, InterfaceNameError) as error:
                log.warning("interface %s: ip address dhcp not started: %s", name, error)
                continue
            client = DhcpClient(port.mac, hostname=config.hostname)
            self.clients[name] = ClientPort(name, port, client)
            self.kernel.set_link(linux, True)
            _watch(port, lambda c=self.clients[name]: self._client_readable(c))
            client.start(self.clock())
            log.info("interface %s (%s): DHCP client started", name, linux)

    def _apply_server(self, config: RouterConfig) -> None:
        pools = [PoolSpec(p.name, p.network, tuple(p.default_routers), tuple(p.dns_servers),
                          p.lease_seconds or DEFAULT_LEASE, config.domain_name)
                 for p in config.dhcp_pools if p.network is not None]
        if not pools:
            for name in list(self.server_ports):
                self._close_server_port(name)
            self.server = None
            return
        if self.server is None:
            self.server = DhcpServer(pools, list(config.dhcp_excluded))
        else:
            self.server.reconfigure(pools, list(config.dhcp_excluded))
        wanted: dict[str, IPv4Interface] = {}
        for itf in config.interfaces:
            if itf.is_tunnel or itf.address is None or itf.shutdown or itf.name.startswith("Loopback"):
                continue
            if self.server.pool_for(itf.address.ip) is not None:
                wanted[itf.name] = itf.address
        for name, port in list(self.server_ports.items()):
            if wanted.get(name) != port.address:
                self._close_server_port(name)
        for name, address in wanted.items():
            if name in self.server_ports:
                continue
            try:
                port = DhcpPort.open(interface_linux_name(self.node, name), SERVER_PORT)
            except (OSError, InterfaceNameError) as error:
                log.warning("interface %s: DHCP server not listening: %s", name, error)
                continue
            served = ServerPort(name, port, address)
            self.server_ports[name] = served
            _watch(port, lambda s=served: s.port.receive(lambda m, mac: self._serve(s, m)))
            log.info("DHCP server answering on %s (%s)", name, address)

    # --- running ------------------------------------------------------------------------

    def _client_readable(self, c: ClientPort) -> None:
        c.port.receive(lambda message, mac: c.client.receive(message, self.clock(), mac))
        self.flush()

    def _serve(self, served: ServerPort, message: DhcpMessage) -> None:
        assert self.server is not None
        reply = self.server.handle(message, served.ios, served.address, self.clock(), own_addresses(self.kernel))
        if reply is not None:
            served.port.send(reply)

    def tick(self) -> None:
        now = self.clock()
        for c in self.clients.values():
            c.client.tick(now)
        if self.server is not None:
            self.server.tick(now)
        self.flush()

    def flush(self) -> None:
        """Send what the clients queued and apply their lease events to the kernel."""
        for c in self.clients.values():
            outbox, c.client.outbox = c.client.outbox, []
            for send in outbox:
                c.port.send(send)
            events, c.client.events = c.client.events, []
            for event in events:
                try:
                    install_lease(self.kernel, c.port.linux, event)
                except Exception as error:  # netlink refused: report, keep the lease machine running
                    log.warning("interface %s: lease not installed: %s", c.ios, error)
                log.info("interface %s: %s", c.ios, event)

    def close(self) -> None:
        """At exit: give leases back (the server frees them) and remove what we installed."""
        for name in list(self.clients):
            self._close_client(name, release=True)
        for name in list(self.server_ports):
            self._close_server_port(name)

    def _close_client(self, name: str, release: bool) -> None:
        c = self.clients[name]
        if release:
            c.client.release(self.clock())
            self.flush()
        _unwatch(c.port)
        c.port.close()
        del self.clients[name]

    def _close_server_port(self, name: str) -> None:
        served = self.server_ports.pop(name)
        _unwatch(served.port)
        served.port.close()

    def state(self) -> dict[str, Any]:
        """For the JSON state answer and `show ip dhcp binding` / `show dhcp lease`."""
        now = self.clock()
        leases = {}
        for name, c in self.clients.items():
            lease = c.client.lease
            leases[name] = {"state": c.client.state, "counters": dict(c.client.counters)} | (
                {"address": str(lease.address), "server": str(lease.server),
                 "routers": [str(r) for r in lease.routers], "lease": lease.lease_seconds,
                 "expires_in": round(lease.expires - now, 1), "renew_in": round(lease.t1 - now, 1)}
                if lease is not None else {})
        bindings = []
        if self.server is not None:
            bindings = [{"address": str(b.address), "client_id": b.client_id.hex(), "mac": b.chaddr.hex(),
                         "pool": b.pool, "interface": b.interface, "state": b.state,
                         "expires_in": round(b.expires - now, 1)} for b in self.server.bindings.values()]
        return {"clients": leases, "bindings": bindings,
                "server": dict(self.server.counters) if self.server is not None else None}


def _watch(port: DhcpPort, callback: Callable[[], Any]) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.add_reader(port.sock.fileno(), callback)
    if port.sink is not None:
        loop.add_reader(port.sink.fileno(), port.drain_sink)


def _unwatch(port: DhcpPort) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for fd in port.fds():
        loop.remove_reader(fd)

