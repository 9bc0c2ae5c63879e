"""Every `interface TunnelN` of the config, live: one mGRE tunnel with its own NHRP each.

Why a node of its own: dual-cloud DMVPN (two hubs, two clouds, Tunnel0 and Tunnel1 on
every spoke, each with its `ip nhrp network-id`, often a `tunnel key`) needs every
tunnel interface of the config running at once, each with its own TAP, transport, NHRP
engine (network-id, NHS list, cache, redirect and shortcut state) and, with `tunnel
protection`, its own ESP transport and IKE. The agent (core.py) keeps one `TunnelsNode`
and asks it to apply, tick, clear and close; the CLI and the state API read its slots.

- apply: a tunnel in the config and not live is created, a live one not in the config
  is closed, the others are reconfigured in place (re-created only when what the TAP or
  the transport was made with changed: address, ip mtu, protection). Each tunnel's
  problem (no address, no source address, an undefined profile, the same source and
  key as another tunnel, which IOS refuses too) is reported and stops only that tunnel.
- Demux (tunnel.demux): every tunnel's raw socket sees every GRE/ESP packet; a tunnel
  takes those to its source with its key, the others belong to another tunnel or are
  counted once.
- IPsec: one protected tunnel binds IKE's UDP 500/4500 to 0.0.0.0 as before; a
  protected tunnel made while there are several binds them to its own tunnel source
  (SO_REUSEADDR; the kernel hands a datagram to the most specific bound socket, so a
  wildcard one of an older tunnel and the specific ones coexist, and adding or removing
  a tunnel never re-creates another). Different sources are required: `tunnel
  protection ... shared` over one source is refused, see below.
- Shortcut routes go out of the tunnel whose NHRP made them (agent/shortcuts.py keeps
  the tunnel per route).

`tunnel protection ipsec profile X shared` on several tunnels with the same source (and
different keys): the first one owns the ESP transport and the IKE node; the others get
a `tunnel.esp_shared.SharedEspView` over its SAs (one IKE and one SA pair per peer for
all of them, as IOS shares them) and are drained after it. Imports config, nhrp, tunnel, ipsec and the agent's ipsec_node,
crypto_settings and shortcuts; the agent core hands itself in (no import of core).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.agent.crypto_settings import ipsec_settings
from dmvpnlab.agent.ipsec_node import IpsecNode, new_engine, open_key_log
from dmvpnlab.config.model import Interface
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.ipsec.settings import IpsecSettings
from dmvpnlab.nhrp.config import DEFAULT_REDIRECT_TIMEOUT, NhrpEngineConfig, NhsConfig
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.nhrp.events import PeerChanged, ShortcutAdded, ShortcutRemoved
from dmvpnlab.routing.kernel import NHRP_ROUTE_PROTO
from dmvpnlab.tunnel.demux import GreDemux
from dmvpnlab.tunnel.esp_shared import SharedEspView
from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.mgre import MgreTunnel

SOURCE_CHECK_SECONDS = 2.0  # how often a DHCP-like change of a tunnel source is noticed
DEFAULT_TUNNEL_IP_MTU = 1476
PUMP_ROUNDS = 4  # drains of both sides per loop wake-up at most (TunnelsNode._pump): other work waits no longer

log = logging.getLogger("dmvpnlab.agent")


class TunnelConfigError(RuntimeError):
    """One tunnel cannot be applied (no address, no source address, a clash...)."""


@dataclass
class TunnelSlot:
    """One live tunnel interface: the tunnel, its IPsec node (with protection)."""

    tunnel: MgreTunnel
    ipsec: IpsecNode | None = None
    ike_bind: str = "0.0.0.0"  # where its IKE sockets are bound
    source_checked: float = 0.0
    shared_with: str | None = None  # `protection ... shared`: the tunnel whose ESP and IKE it uses

    @property
    def protected(self) -> bool:
        return self.ipsec is not None or self.shared_with is not None


def tunnel_source_address(agent: Any, itf: Interface) -> IPv4Address:
    """The address `tunnel source` names now (an address, or an interface's first one).

    A Loopback's own address comes from the interfaces part (every Loopback shares Linux
    `lo`, whose first address is 127.0.0.1). A source with `ip address dhcp` and no lease
    yet gives 0.0.0.0: the source check re-registers once the lease is there."""
    source = itf.tunnel_source
    if source is None:
        raise TunnelConfigError(f"{itf.name}: no 'tunnel source' configured")
    if isinstance(source, IPv4Address):
        return source
    addresses = agent.interfaces.addresses(agent.config, source)
    source_itf = agent.config.interface(source)
    if not addresses and source_itf is not None and source_itf.dhcp:
        log.info("%s: tunnel source %s waits for its DHCP lease", itf.name, source)
        return IPv4Address(0)
    if not addresses:
        raise TunnelConfigError(f"{itf.name}: tunnel source {source} has no IPv4 address")
    return addresses[0].ip


class TunnelsNode:
    """The live tunnel interfaces of one router, in configuration order."""

    def __init__(self, agent: Any) -> None:
        """`agent` is the RouterAgent: its kernel, clock, config, debug, shortcut routes."""
        self.agent = agent
        self.slots: dict[str, TunnelSlot] = {}
        self.demux = GreDemux()
        self.problems: dict[str, str] = {}  # tunnel -> why it is not (fully) applied
        self.retried = 0.0  # when the tunnels in `problems` were last tried again

    # --- queries ---------------------------------------------------------------------------

    def tunnels(self) -> list[MgreTunnel]:
        return [slot.tunnel for slot in self.slots.values()]

    def get(self, name: str) -> MgreTunnel | None:
        slot = self.slots.get(name)
        return slot.tunnel if slot is not None else None

    def ipsec_for(self, name: str) -> IpsecNode | None:
        slot = self.slots.get(name)
        if slot is not None and slot.shared_with is not None:
            slot = self.slots.get(slot.shared_with)
        return slot.ipsec if slot is not None else None

    def ipsec_nodes(self) -> list[tuple[str, IpsecNode]]:
        return [(name, slot.ipsec) for name, slot in self.slots.items() if slot.ipsec is not None]

    def adopt(self, tunnel: MgreTunnel | None, ipsec: IpsecNode | None = None) -> None:
        """Make `tunnel` the only live tunnel (tests and benchmarks build their own)."""
        for name in list(self.slots):
            del self.slots[name]
            self.demux.unregister(name)
        if tunnel is not None:
            slot = TunnelSlot(tunnel, ipsec)
            self.slots[tunnel.name] = slot
            tunnel.on_engine_output = lambda: self.flush(slot)

    # --- config -> tunnels -----------------------------------------------------------------

    def apply(self) -> dict[str, str]:
        """Make the live tunnels match the config; returns {tunnel: problem} of those not applied."""
        config = self.agent.config
        wanted = config.tunnels
        names = [itf.name for itf in wanted]
        for name in list(self.slots):
            if name not in names:
                self.close(name)
        protected = sum(1 for itf in wanted if itf.tunnel_protection is not None)
        self.problems = {}
        for itf in wanted:
            try:
                self._apply_one(itf, several_protected=protected > 1)
            except (TunnelConfigError, ValueError, OSError) as error:
                self.problems[itf.name] = str(error)
                log.warning("%s: not applied: %s", itf.name, error)
        self.slots = {name: self.slots[name] for name in names if name in self.slots}
        for slot in list(self.slots.values()):
            self.flush(slot)
        return dict(self.problems)

    def _apply_one(self, itf: Interface, several_protected: bool) -> None:
        agent = self.agent
        if itf.address is None:
            raise TunnelConfigError(f"{itf.name}: no 'ip address' configured")
        nbma = tunnel_source_address(agent, itf)
        destination = itf.tunnel_destination if itf.effective_tunnel_mode == "gre ip" else None
        owner = self._refuse_clash(itf, nbma, destination)
        try:
            crypto = ipsec_settings(agent.config, itf.name, nbma)
        except ValueError as error:  # an undefined profile or transform set
            raise TunnelConfigError(str(error)) from None
        nhrp_config = nhrp_engine_config(itf, nbma)
        mtu = itf.ip_mtu or DEFAULT_TUNNEL_IP_MTU
        bind = str(nbma) if several_protected and crypto is not None else "0.0.0.0"
        now = agent.clock()
        slot = self.slots.get(itf.name)
        if slot is not None and (slot.tunnel.address != itf.address or slot.tunnel.dataplane.mtu != mtu
                                 or (crypto is not None) != slot.protected or slot.shared_with != owner
                                 or (slot.shared_with is not None and slot.shared_with not in self.slots)):
            self.close(itf.name)
            slot = None
        if slot is None:
            slot = self._create(itf, nbma, nhrp_config, destination, mtu, crypto, bind, now, owner)
        else:
            tunnel = slot.tunnel
            tunnel.destination = destination
            tunnel.set_key(itf.tunnel_key)
            tunnel.dataplane.tcp_mss = itf.tcp_adjust_mss
            tunnel.engine.reconfigure(nhrp_config, now)
            tunnel.nbma = nbma
            if slot.ipsec is not None and crypto is not None and crypto != slot.ipsec.settings:
                slot.ipsec.transport.local = nbma
                slot.ipsec.reconfigure(crypto, now)
            agent.kernel.set_link(itf.name, not itf.shutdown)
        self.demux.register(itf.name, nbma, itf.tunnel_key, crypto is not None, destination)

    def _refuse_clash(self, itf: Interface, nbma: IPv4Address, destination: IPv4Address | None) -> str | None:
        """IOS refuses a second tunnel with the same source and key (and destination, for
        point-to-point): GRE could not tell their packets apart. Two protected tunnels on
        one source must both say `shared` (and the same profile): one IKE and one set of
        SAs serve them; returns the tunnel that owns them then (None: this one owns its own)."""
        other = self.demux.conflict(itf.name, nbma, itf.tunnel_key, destination)
        key = f"key {itf.tunnel_key}" if itf.tunnel_key is not None else "no tunnel key"
        if other is not None:
            raise TunnelConfigError(f"{itf.name}: same tunnel source {nbma} and {key} as {other}: not applied")
        mine = itf.tunnel_protection
        if mine is None:
            return None
        config = self.agent.config
        for name, slot in self.slots.items():
            claim = self.demux.claims.get(name)
            if name == itf.name or not slot.protected or claim is None or claim.local != nbma.packed:
                continue
            theirs = config.interface(name)
            theirs_tp = theirs.tunnel_protection if theirs is not None else None
            if not (mine.shared and theirs_tp is not None and theirs_tp.shared):
                raise TunnelConfigError(f"{itf.name}: tunnel source {nbma} is protected by {name} too: both need "
                                        f"'tunnel protection ipsec profile {mine.profile} shared': not applied")
            if theirs_tp.profile != mine.profile:
                raise TunnelConfigError(f"{itf.name}: shared tunnel protection over {nbma} with {name} needs the "
                                        f"same profile ({theirs_tp.profile}, not {mine.profile}): not applied")
            return slot.shared_with or name
        return None

    def _create(self, itf: Interface, nbma: IPv4Address, nhrp_config: NhrpEngineConfig,
                destination: IPv4Address | None, mtu: int, crypto: IpsecSettings | None,
                bind: str, now: float, owner: str | None = None) -> TunnelSlot:
        agent, name = self.agent, itf.name
        kernel = agent.kernel
        engine = NhrpEngine(nhrp_config, lambda address: kernel.lookup(address, name), now, debug=agent._debug,
                            covering=lambda prefix: kernel.covering(prefix, name, exclude_proto=NHRP_ROUTE_PROTO))
        engine.debugging = agent.debugging
        ipsec = None
        transport: Any = None
        if crypto is not None and owner is not None:  # shared: the owner's SAs, our key
            transport = SharedEspView(self.slots[owner].tunnel.transport, itf.tunnel_key)
        elif crypto is not None:
            transport = EspTransport(SaDatabase(agent.clock), nbma)
            try:
                ipsec = IpsecNode(crypto, transport, new_engine(crypto, now, agent._debug), clock=agent.clock,
                                  debug=agent._debug, key_log=open_key_log(agent.keylog_dir), bind_address=bind)
            except BaseException:
                transport.close()
                raise
        try:
            tunnel = MgreTunnel(name, itf.address, nbma, itf.tunnel_key, mtu, itf.tcp_adjust_mss, engine,
                                destination, clock=agent.clock, transport=transport)
        except BaseException:
            if ipsec is not None:
                ipsec.close()
            if transport is not None:
                transport.close()
            raise
        tunnel.transport.demux = self.demux
        tunnel.transport.name = name
        slot = TunnelSlot(tunnel, ipsec, bind, shared_with=owner)
        tunnel.on_engine_output = lambda: self.flush(slot)
        if ipsec is not None:
            ipsec.on_udp_esp = lambda: self._drain(name)
        self.slots[name] = slot
        kernel.set_link(name, not itf.shutdown)
        engine.start(now)
        self._watch(slot)
        return slot

    def close(self, name: str) -> None:
        slot = self.slots.pop(name, None)
        self.demux.unregister(name)
        if slot is None:
            return
        for sibling in [n for n, s in self.slots.items() if s.shared_with == name]:
            self.close(sibling)  # its transport was ours: re-made by the next apply
        self._unwatch(slot)
        slot.tunnel.close()
        if slot.ipsec is not None:
            slot.ipsec.close()
        for shortcut in [s for s in self.agent.shortcut_routes.installed.values() if s.tunnel == name]:
            self.agent.shortcut_routes.remove(shortcut.prefix, shortcut.next_hop)
            self.agent.installed_shortcuts.pop(str(shortcut.prefix), None)

    def close_all(self) -> None:
        for name in list(self.slots):
            self.close(name)

    # --- NHRP output -------------------------------------------------------------------------

    def flush(self, slot: TunnelSlot) -> None:
        """Send what this tunnel's NHRP queued and act on its events (shortcut routes)."""
        tunnel = slot.tunnel
        engine = tunnel.engine
        while engine.outbox or engine.events:
            outbox, engine.outbox = engine.outbox, []
            for nbma, data in outbox:
                tunnel.send_nhrp(nbma, data)
            events, engine.events = engine.events, []
            for event in events:
                self._on_event(tunnel, event)

    def _on_event(self, tunnel: MgreTunnel, event: object) -> None:
        agent = self.agent
        if isinstance(event, ShortcutAdded):
            try:
                shortcut = agent.shortcut_routes.install(event.prefix, event.next_hop, tunnel.name, agent.clock())
                tunnel.engine.mark_override(event.prefix, shortcut.override)
                agent.installed_shortcuts[str(event.prefix)] = str(event.next_hop)
                self._note_redirect_latency(tunnel, event.prefix)
                kind = "next-hop override" if shortcut.override else "route"
                agent._debug("cache", f"NHRP: Installed shortcut {kind} {event.prefix} via {event.next_hop}")
            except Exception as error:
                log.warning("shortcut %s via %s not installed: %s", event.prefix, event.next_hop, error)
        elif isinstance(event, ShortcutRemoved):
            agent.shortcut_routes.remove(event.prefix, event.next_hop)
            agent.installed_shortcuts.pop(str(event.prefix), None)
        elif isinstance(event, PeerChanged):
            entry = tunnel.engine.cache.peer(event.proto)
            if entry is None:
                agent.peer_up_since.pop(event.proto, None)
            else:
                agent.peer_up_since.setdefault(event.proto, agent.clock())

    def _note_redirect_latency(self, tunnel: MgreTunnel, prefix: Any) -> None:
        """Redirect received -> shortcut route in the kernel, for `bench/`."""
        received = tunnel.engine.redirect_received
        latencies = self.agent.shortcut_latencies
        for destination in [d for d in received if d in prefix]:
            latencies.append(self.agent.clock() - received.pop(destination))
        del latencies[:-100]

    # --- time and operator actions -----------------------------------------------------------

    def retry(self) -> list[str]:
        """Try the tunnels that could not be applied again (their source may have an address
        now, as IOS brings such a tunnel's line protocol up); the ones that came up."""
        config = self.agent.config
        protected = sum(1 for itf in config.tunnels if itf.tunnel_protection is not None)
        up = []
        for name in list(self.problems):
            itf = config.interface(name)
            if itf is None or not itf.is_tunnel:
                self.problems.pop(name)
                continue
            try:
                self._apply_one(itf, several_protected=protected > 1)
            except (TunnelConfigError, ValueError, OSError) as error:
                self.problems[name] = str(error)
                continue
            self.problems.pop(name)
            log.info("%s: applied now", name)
            up.append(name)
        if up:
            order = [itf.name for itf in config.tunnels]
            self.slots = {name: self.slots[name] for name in order if name in self.slots}
            for name in up:
                self.flush(self.slots[name])
        return up

    def tick(self) -> None:
        agent = self.agent
        if self.problems and agent.clock() - self.retried >= SOURCE_CHECK_SECONDS:
            self.retried = agent.clock()
            self.retry()
        for slot in list(self.slots.values()):
            tunnel = slot.tunnel
            self._check_source(slot)
            now = agent.clock()
            tunnel.hand_over_used(now)
            tunnel.engine.tick(now)
            self.flush(slot)
            if slot.ipsec is not None:
                slot.ipsec.tick(agent.clock())
        for moved in agent.shortcut_routes.recheck(None, agent.clock()):
            tunnel = self.get(moved.tunnel)
            if tunnel is not None:
                tunnel.engine.mark_override(moved.prefix, moved.override)

    def _check_source(self, slot: TunnelSlot) -> None:
        """`tunnel source INTERFACE` whose address changed (DHCP): re-register from the new one."""
        agent, tunnel = self.agent, slot.tunnel
        itf = agent.config.interface(tunnel.name)
        now = agent.clock()
        if (now - slot.source_checked < SOURCE_CHECK_SECONDS or itf is None or itf.tunnel_source is None
                or isinstance(itf.tunnel_source, IPv4Address)):
            return
        slot.source_checked = now
        try:
            nbma = tunnel_source_address(agent, itf)
        except TunnelConfigError:
            return
        if nbma != tunnel.nbma:
            log.info("%s: tunnel source address changed %s -> %s: re-registering", tunnel.name, tunnel.nbma, nbma)
            tunnel.nbma = nbma
            self.demux.register(tunnel.name, nbma, tunnel.key, slot.protected, tunnel.destination)
            tunnel.engine.nbma_changed(nbma, now)

    def clear(self, address: IPv4Address | None, interface: str | None = None) -> int:
        """`clear ip nhrp [A] [interface TunnelN]`: every tunnel's cache, or one tunnel's."""
        count = 0
        for name, slot in list(self.slots.items()):
            if interface is None or name == interface:
                count += slot.tunnel.engine.clear(address, self.agent.clock())
                self.flush(slot)
        return count

    # --- the event loop -------------------------------------------------------------------

    def _drain(self, name: str) -> int:
        """Tunnel `name`'s transport has packets: drain it, then the tunnels sharing its
        ESP; how many packets that was."""
        slot = self.slots.get(name)
        if slot is None:
            return 0
        moved = slot.tunnel.drain_socket()
        for sibling in [s for s in self.slots.values() if s.shared_with == name]:
            moved += sibling.tunnel.drain_socket()
        return moved

    def _pump(self, name: str, tap_first: bool) -> None:
        """One wake-up of the loop for tunnel `name`: drain the side that woke it, then
        the other side, and again while a round moved packets (PUMP_ROUNDS at most).

        Why: a TCP flow through the tunnel has data one way and ACKs the other, so both
        descriptors turn readable together. An asyncio wake-up costs ~10 us of Python
        (select, events, handles) against ~1 us for a read that finds nothing, so serving
        both sides per wake-up is what the bare relay's poll() loop gets for free."""
        slot = self.slots.get(name)
        if slot is None:
            return
        tunnel = slot.tunnel
        if tap_first:
            tunnel.drain_tap()
        for _ in range(PUMP_ROUNDS):
            if not self._drain(name) + tunnel.drain_tap():
                break

    def _watch(self, slot: TunnelSlot) -> None:
        """Read the tunnel's TAP, its transport's sockets and IKE's on the running loop
        (none at unit-test time)."""
        loop = _running_loop()
        if loop is None:
            return
        tunnel = slot.tunnel
        name = tunnel.name
        loop.add_reader(tunnel.tap.fileno(), self._pump, name, True)
        for fd in tunnel.transport.filenos():
            loop.add_reader(fd, self._pump, name, False)
        if slot.ipsec is not None:
            for port, sock in slot.ipsec.sockets.items():
                loop.add_reader(sock.fileno(), slot.ipsec.read, port)

    def _unwatch(self, slot: TunnelSlot) -> None:
        loop = _running_loop()
        if loop is None:
            return
        tunnel = slot.tunnel
        loop.remove_reader(tunnel.tap.fileno())
        for fd in tunnel.transport.filenos():
            loop.remove_reader(fd)
        if slot.ipsec is not None:
            for sock in slot.ipsec.sockets.values():
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
        nhs=[NhsConfig(n.address, n.nbma, n.multicast, n.priority or 0, n.cluster or 0) for n in nhrp.nhs],
        static_maps=[(m.address, m.nbma) for m in nhrp.maps],
        multicast_static=[m for m in nhrp.multicast_maps if isinstance(m, IPv4Address)],
        multicast_dynamic="dynamic" in nhrp.multicast_maps,
        redirect=nhrp.redirect,
        redirect_timeout=float(nhrp.redirect_timeout or DEFAULT_REDIRECT_TIMEOUT),
        shortcut=nhrp.shortcut,
        unique=not nhrp.registration_no_unique,
        registration_timeout=nhrp.registration_timeout,
        nhs_max_connections=dict(nhrp.nhs_max_connections),
        nhs_fallback=float(nhrp.nhs_fallback) if nhrp.nhs_fallback is not None else None,
    )
