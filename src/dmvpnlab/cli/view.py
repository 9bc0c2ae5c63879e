"""Small read-only questions about the agent that several show commands ask.

The renderers read the agent's public attributes only (RouterAgent, agent/core.py);
what they derive in common (is the tunnel up, which interface is its source, is this a
hub) lives here so that `show dmvpn`, `show interfaces` and `show ip route` never disagree.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.config.model import Interface
from dmvpnlab.ifnames import InterfaceNameError, ios_ifname, linux_ifname


def live_tunnels(agent: Any) -> list[Any]:
    """Every live tunnel interface, in configuration order (RouterAgent.tunnels; a
    stand-in agent with one `tunnel` attribute gives that one)."""
    tunnels = getattr(agent, "tunnels", None)
    if tunnels is None:
        tunnel = getattr(agent, "tunnel", None)
        return [tunnel] if tunnel is not None else []
    return list(tunnels)


def live_tunnel(agent: Any, name: str) -> Any | None:
    """The live tunnel called `name`, or None (not configured, or not applied)."""
    return next((t for t in live_tunnels(agent) if t.name == name), None)


def tunnel_ipsec(agent: Any, name: str) -> Any | None:
    """The IPsec node protecting tunnel `name` (None without `tunnel protection`)."""
    find = getattr(agent, "ipsec_for", None)
    return find(name) if find is not None else getattr(agent, "ipsec", None)


def tunnel_interface(agent: Any) -> Interface | None:
    """The configured interface of the running tunnel (or the first TunnelN configured)."""
    tunnel = agent.tunnel
    if tunnel is not None:
        itf = agent.config.interface(tunnel.name)
        if itf is not None:
            return itf
    tunnels = agent.config.tunnels
    return tunnels[0] if tunnels else None


def link_state(agent: Any, itf: Interface) -> tuple[str, str]:
    """(status, protocol) in IOS words: up/up, down/down, administratively down/down."""
    if itf.shutdown:
        return "administratively down", "down"
    if itf.is_tunnel:
        ok = live_tunnel(agent, itf.name) is not None
        return ("up", "up") if ok else ("up", "down")
    if itf.name.startswith("Loopback"):
        return "up", "up"
    try:
        stats = agent.kernel.link_stats(linux_ifname(agent.node, itf.name))
    except InterfaceNameError:
        stats = {}
    if not stats:
        return "down", "down"
    return ("up", "up") if stats.get("up") else ("down", "down")


def is_hub(agent: Any, tunnel: Any | None = None) -> bool:
    """IOS calls a tunnel without NHS a hub (`Type:Hub`); `tunnel` None: the first one."""
    tunnel = tunnel if tunnel is not None else agent.tunnel
    if tunnel is not None:
        return not tunnel.engine.config.nhs
    itf = tunnel_interface(agent)
    return itf is None or not itf.nhrp.nhs


def source_name(itf: Interface) -> str | None:
    """The IOS interface named by `tunnel source`, if it names one."""
    source = itf.tunnel_source
    return source if isinstance(source, str) else None


def ios_name(agent: Any, linux: str | None) -> str:
    if not linux:
        return ""
    try:
        return ios_ifname(agent.node, linux)
    except InterfaceNameError:
        return linux


def nhs_addresses(agent: Any) -> set[IPv4Address]:
    """The NHS of every tunnel."""
    return {s.proto for tunnel in live_tunnels(agent) for s in tunnel.engine.nhs if s.proto is not None}
