"""A fake router agent with real NHRP state, for the CLI tests (no root, no namespaces).

Why: the CLI reads the agent's public attributes only, so a stand-in that has the same
attributes — but a real `NhrpEngine` whose cache was filled by real NHRP packets
exchanged in the in-memory network of nhrp_sim — tests the renderers against the state
a live lab produces (registrations, Phase 2 resolutions, Phase 3 shortcuts), while the
kernel is a list of routes. The configs are the project's hub/spoke shapes per phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nhrp_sim
from dmvpnlab.agent.core import RouterAgent
from dmvpnlab.agent.core import nhrp_engine_config
from dmvpnlab.config.parser import parse_config
from dmvpnlab.routing.kernel import NHRP_ROUTE_PROTO, STATIC_ROUTE_PROTO, KernelRoute
from dmvpnlab.tunnel.dataplane import DataplaneCounters
from dmvpnlab.tunnel.transport import TunnelCounters

KERNEL = 2


def hub_config_text(phase: int, spokes: int = 2) -> str:
    redirect = " ip nhrp redirect\n" if phase == 3 else ""
    routes = "".join(f"ip route 192.168.{i}.0 255.255.255.0 10.0.0.{i + 1}\n" for i in range(1, spokes + 1))
    return f"""hostname hub
!
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp authentication DMVPN
 ip nhrp map multicast dynamic
 ip nhrp network-id 1
 ip nhrp holdtime 300
{redirect} tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
 tunnel key 12345
!
interface GigabitEthernet0/0
 ip address 203.0.113.1 255.255.255.252
!
interface GigabitEthernet0/1
 ip address 192.168.0.1 255.255.255.0
!
ip route 0.0.0.0 0.0.0.0 203.0.113.2
{routes}!
line vty 0 4
 login local
!
end
"""


def spoke_config_text(index: int, phase: int, spokes: int = 2) -> str:
    mode = " tunnel mode gre ip\n tunnel destination 203.0.113.1\n" if phase == 1 else " tunnel mode gre multipoint\n"
    shortcut = " ip nhrp shortcut\n" if phase == 3 else ""
    if phase == 3:
        routes = "ip route 192.168.0.0 255.255.0.0 10.0.0.1\n"
    else:
        routes = "".join(f"ip route 192.168.{i}.0 255.255.255.0 10.0.0.{i + 1}\n"
                         for i in range(0, spokes + 1) if i != index)
    return f"""hostname spoke{index}
!
interface Tunnel0
 ip address 10.0.0.{index + 1} 255.255.255.0
 ip nhrp authentication DMVPN
 ip nhrp network-id 1
 ip nhrp holdtime 300
 ip nhrp nhs 10.0.0.1 nbma 203.0.113.1 multicast
{shortcut} tunnel source GigabitEthernet0/0
{mode} tunnel key 12345
!
interface GigabitEthernet0/0
 ip address 100.64.{index}.1 255.255.255.252
!
interface GigabitEthernet0/1
 ip address 192.168.{index}.1 255.255.255.0
!
ip route 0.0.0.0 0.0.0.0 100.64.{index}.2
{routes}!
end
"""


@dataclass
class FakeKernel:
    route_list: list[KernelRoute] = field(default_factory=list)
    links: dict[str, dict[str, int]] = field(default_factory=dict)

    def routes(self) -> list[KernelRoute]:
        return self.route_list

    def link_stats(self, ifname: str) -> dict[str, int]:
        return self.links.get(ifname, {})

    def addresses(self, ifname: str) -> list[IPv4Interface]:
        return []


class FakeAgent:
    """The attributes of RouterAgent the CLI reads, over a real NHRP engine."""

    def __init__(self, node: str, config_text: str, sim_node: Any, net: Any, state_dir: Path | None = None) -> None:
        result = parse_config(config_text)
        assert result.ok, result.errors
        self.node = node
        self.config = result.config
        self.ignored_lines = [str(i) for i in result.ignored]
        self.state_dir = state_dir or Path("/nonexistent")
        self.config_path: Path | None = None
        self.net = net
        self.sim = sim_node
        self.started = 0.0
        self.debug_sinks: list[Any] = []
        self.installed_shortcuts = {str(k): str(v) for k, v in sim_node.shortcuts.items()}
        self.applied = 0
        itf = self.config.tunnels[0]
        destination = itf.tunnel_destination if itf.effective_tunnel_mode == "gre ip" else None
        counters = DataplaneCounters(from_tap_frames=120, from_tap_bytes=10080, to_tap_frames=118, to_tap_bytes=9912)
        self.tunnel = SimpleNamespace(
            name=itf.name, address=itf.address, nbma=sim_node.nbma, key=itf.tunnel_key, destination=destination,
            counters=TunnelCounters(gre_in=130, gre_out=131), engine=sim_node.engine,
            dataplane=SimpleNamespace(mtu=1400, counters=counters))
        self.peer_up_since = {e.next_hop: e.created for e in sim_node.engine.cache
                              if e.is_host and e.type.value == "dynamic"}
        self.kernel = FakeKernel(self._routes(), {
            f"{node}-eth0": {"up": 1, "rx_packets": 1000, "rx_bytes": 123456, "tx_packets": 990, "tx_bytes": 120000},
            f"{node}-eth1": {"up": 1, "rx_packets": 50, "rx_bytes": 5000, "tx_packets": 60, "tx_bytes": 6000},
        })

    @property
    def hostname(self) -> str:
        return self.config.hostname

    def clock(self) -> float:
        return self.net.now

    def _routes(self) -> list[KernelRoute]:
        node = self.node
        routes = []
        for itf in self.config.interfaces:
            if itf.address is not None and not itf.is_tunnel:
                routes.append(KernelRoute(itf.address.network, None, f"{node}-eth{itf.name[-1]}", KERNEL, 0, 253, 1))
        for prefix, next_hop, via_tunnel in self.sim.table:
            if next_hop is None:
                if via_tunnel:
                    routes.append(KernelRoute(prefix, None, "Tunnel0", KERNEL, 0, 253, 1))
                continue
            proto = NHRP_ROUTE_PROTO if prefix in self.sim.shortcuts else STATIC_ROUTE_PROTO
            routes.append(KernelRoute(prefix, next_hop, "Tunnel0", proto, 0, 0, 1))
        default = next(r for r in self.config.static_routes if r.prefix.prefixlen == 0)
        routes.append(KernelRoute(default.prefix, default.next_hop, f"{node}-eth0", STATIC_ROUTE_PROTO, 0, 0, 1))
        return routes

    def apply(self) -> None:
        self.applied += 1
        itf = self.config.tunnels[0]
        self.tunnel.engine.reconfigure(nhrp_engine_config(itf, self.tunnel.nbma), self.clock())

    def clear_nhrp(self, address: IPv4Address | None = None) -> int:
        return self.tunnel.engine.clear(address, self.clock())


def lab(phase: int) -> dict[str, FakeAgent]:
    """hub, spoke1, spoke2 after 5 minutes; Phase 2/3: spoke1's LAN talked to spoke2's."""
    net = nhrp_sim.dmvpn(spokes=2, phase=2 if phase == 1 else phase)
    net.run(300.0, step=5.0)
    if phase in (2, 3):
        for _ in range(3):
            net.ping("spoke1", nhrp_sim.lan_host(1), nhrp_sim.lan_host(2))
            net.run(2.0)
            net.ping("spoke2", nhrp_sim.lan_host(2), nhrp_sim.lan_host(1))
            net.run(2.0)
        net.run(30.0, step=5.0)
    texts = {"hub": hub_config_text(phase), "spoke1": spoke_config_text(1, phase), "spoke2": spoke_config_text(2, phase)}
    return {name: FakeAgent(name, texts[name], net.nodes[name], net) for name in texts}


__all__ = ["FakeAgent", "FakeKernel", "lab", "IPv4Network"]
