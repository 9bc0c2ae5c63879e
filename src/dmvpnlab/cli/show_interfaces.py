"""`show interfaces [NAME]` and `show ip interface brief`, IOS 15 layout.

The tunnel's numbers come from the user-space mGRE (frames the kernel sent into the TAP
are IOS "output", frames we wrote into it are "input"); physical interfaces read the
kernel's link statistics. Lines IOS prints that have no meaning here (reliability,
queueing) keep IOS's neutral values so that parsers of real routers still match.
"""

from __future__ import annotations

from typing import Any

from dmvpnlab.cli.view import link_state, live_tunnel, source_name
from dmvpnlab.config.model import Interface, brief_sort_key
from dmvpnlab.ifnames import InterfaceNameError, linux_ifname

BRIEF_HEADER = "Interface                  IP-Address      OK? Method Status                Protocol"
TUNNEL_OVERHEAD = 24  # outer IPv4 + GRE (+ key); the transport MTU IOS prints is 1500 minus this


def _brief_order(itf: Interface) -> tuple[int, Any]:
    """IOS lists the hardware first (Ethernets, their subinterfaces), Vlans, then Loopbacks and Tunnels."""
    return 0, brief_sort_key(itf.name)


def render_brief(agent: Any) -> str:
    out = [BRIEF_HEADER]
    for itf in sorted(agent.config.interfaces, key=_brief_order):
        status, protocol = link_state(agent, itf)
        address = str(itf.address.ip) if itf.address else "unassigned"
        method = "NVRAM" if itf.address else "unset"
        if itf.dhcp:  # `ip address dhcp`: the lease's address, Method DHCP (as IOS shows it)
            dhcp = getattr(agent, "dhcp", None)
            lease = dhcp.lease(itf.name) if dhcp is not None else None
            address, method = (str(lease.address.ip) if lease is not None else "unassigned"), "DHCP"
        out.append(f"{itf.name:<26} {address:<15} YES {method:<6} {status:<21} {protocol:<8}")
    return "\n".join(out) + "\n"


def _counters(agent: Any, itf: Interface) -> dict[str, int]:
    tunnel = live_tunnel(agent, itf.name) if itf.is_tunnel else None
    if tunnel is not None:
        dp = tunnel.dataplane.counters.as_dict()
        return {"in_packets": int(dp.get("to_tap_frames", 0)), "in_bytes": int(dp.get("to_tap_bytes", 0)),
                "out_packets": int(dp.get("from_tap_frames", 0)), "out_bytes": int(dp.get("from_tap_bytes", 0)),
                "drops": sum(int(v) for v in dict(dp.get("drops", {})).values())
                + sum(tunnel.counters.drops.values())}
    try:
        stats = agent.kernel.link_stats(linux_ifname(agent.node, itf.name))
    except InterfaceNameError:
        stats = {}
    return {"in_packets": stats.get("rx_packets", 0), "in_bytes": stats.get("rx_bytes", 0),
            "out_packets": stats.get("tx_packets", 0), "out_bytes": stats.get("tx_bytes", 0),
            "drops": stats.get("tx_dropped", 0)}


def _tunnel_lines(agent: Any, itf: Interface) -> list[str]:
    tunnel = live_tunnel(agent, itf.name)
    source_if = source_name(itf)
    members = sum(1 for t in agent.config.tunnels if t.tunnel_source == itf.tunnel_source)
    nbma = tunnel.nbma if tunnel is not None else itf.tunnel_source
    source = f"{nbma} ({source_if})" if source_if and tunnel is not None else str(nbma or "UNKNOWN")
    point_to_point = itf.effective_tunnel_mode == "gre ip"
    lines = ["  Tunnel linestate evaluation up"]
    if point_to_point:
        lines.append(f"  Tunnel source {source}, destination {itf.tunnel_destination or 'UNKNOWN'}")
    else:
        lines.append(f"  Tunnel source {source}")
    if source_if:
        lines += ["   Tunnel Subblocks:", "      src-track:",
                  f"         {itf.name} source tracking subblock associated with {source_if}",
                  f"          Set of tunnels with source {source_if}, {members} member{'s' if members != 1 else ''} "
                  "(includes iterators), on interface <OK>"]
    lines.append(f"  Tunnel protocol/transport {'GRE/IP' if point_to_point else 'multi-GRE/IP'}")
    key = f"Key 0x{itf.tunnel_key:X}, " if itf.tunnel_key is not None else ""
    lines += [f"    {key}sequencing disabled", "    Checksumming of packets disabled",
              "  Tunnel TTL 255, Fast tunneling enabled",
              f"  Tunnel transport MTU {1500 - TUNNEL_OVERHEAD - (4 if itf.tunnel_key is not None else 0)} bytes",
              "  Tunnel transmit bandwidth 8000 (kbps)", "  Tunnel receive bandwidth 8000 (kbps)"]
    if itf.tunnel_protection is not None:
        lines.append(f"  Tunnel protection via IPSec (profile \"{itf.tunnel_protection.profile}\")")
    return lines


def render_interface(agent: Any, itf: Interface) -> str:
    status, protocol = link_state(agent, itf)
    c = _counters(agent, itf)
    out = [f"{itf.name} is {status}, line protocol is {protocol} "]
    if itf.is_tunnel:
        out.append("  Hardware is Tunnel")
    elif itf.name.startswith("Loopback"):
        out.append("  Hardware is Loopback")
    else:
        out.append("  Hardware is iGbE, address is 5254.0000.0000 (bia 5254.0000.0000)")
    if itf.description:
        out.append(f"  Description: {itf.description}")
    if itf.address is not None:
        out.append(f"  Internet address is {itf.address.with_prefixlen}")
    if itf.is_tunnel:
        mtu, bw, dly = 17916, itf.bandwidth or 100, 50000
    elif itf.name.startswith("Loopback"):
        mtu, bw, dly = 1514, itf.bandwidth or 8000000, 5000
    else:
        mtu, bw, dly = 1500, itf.bandwidth or 1000000, 10
    out += [f"  MTU {mtu} bytes, BW {bw} Kbit/sec, DLY {dly} usec, ",
            "     reliability 255/255, txload 1/255, rxload 1/255"]
    if itf.is_tunnel:
        out += ["  Encapsulation TUNNEL, loopback not set", "  Keepalive not set", *_tunnel_lines(agent, itf)]
    else:
        out += ["  Encapsulation ARPA, loopback not set", "  Keepalive set (10 sec)"]
    out += [
        "  Last input never, output never, output hang never",
        '  Last clearing of "show interface" counters never',
        f"  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: {c['drops']}",
        "  Queueing strategy: fifo",
        "  Output queue: 0/0 (size/max)",
        "  5 minute input rate 0 bits/sec, 0 packets/sec",
        "  5 minute output rate 0 bits/sec, 0 packets/sec",
        f"     {c['in_packets']} packets input, {c['in_bytes']} bytes, 0 no buffer",
        "     Received 0 broadcasts (0 IP multicasts)",
        "     0 runts, 0 giants, 0 throttles ",
        "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
        f"     {c['out_packets']} packets output, {c['out_bytes']} bytes, 0 underruns",
        "     0 output errors, 0 collisions, 0 interface resets",
        "     0 unknown protocol drops",
        "     0 output buffer failures, 0 output buffers swapped out",
    ]
    return "\n".join(out) + "\n"


def render_interfaces(agent: Any, name: str | None = None) -> str:
    interfaces = sorted(agent.config.interfaces, key=_brief_order)
    if name is not None:
        interfaces = [i for i in interfaces if i.name == name]
    return "".join(render_interface(agent, itf) for itf in interfaces)
