"""`show ip nat translations [verbose]`: the router's NAT table in IOS's layout.

IOS lists one line per translation: protocol, inside global, inside local, outside local,
outside global (address:port; for ICMP the port is the echo id), and a `---` line for
each static translation whatever traffic it carries. The dynamic lines come from the
kernel's connection tracking (agent/conntrack.py: the entries nftables translated);
where the kernel does not show it, the command says so instead of printing an empty
table. ntc-templates' cisco_ios_show_ip_nat_translations parses this output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dmvpnlab.cli.tree import Node

if TYPE_CHECKING:
    from dmvpnlab.cli.exec import ExecSession

HEADER = "Pro Inside global      Inside local       Outside local      Outside global"
SHOWN_PROTOCOLS = ("tcp", "udp", "icmp")


def _at(address: str, port: int | None, protocol: str) -> str:
    return f"{address}:{port}" if port is not None and protocol in SHOWN_PROTOCOLS else address


def nat_data(agent: Any) -> dict[str, Any]:
    """{"available": bool, "translations": [...]}: static rules first, then the tracked flows."""
    rows: list[dict[str, Any]] = []
    for rule in agent.config.nat_rules:
        if rule.kind == "static" and rule.local is not None and rule.global_address is not None:
            rows.append({"protocol": "---", "inside_global": str(rule.global_address),
                         "inside_local": str(rule.local), "outside_local": "---", "outside_global": "---"})
    nat = getattr(agent, "nat", None)
    connections = nat.translations() if nat is not None else []
    if connections is None:
        return {"available": False, "translations": rows}
    for c in connections:
        proto = c.protocol if c.protocol in SHOWN_PROTOCOLS else "---"
        o, r = c.original, c.reply
        if c.snat:  # inside -> outside: the reply comes back to the inside global address
            inside_global, inside_local = _at(r.dst, r.dport, proto), _at(o.src, o.sport, proto)
            outside_local, outside_global = _at(o.dst, o.dport, proto), _at(r.src, r.sport, proto)
        else:  # outside -> a static global address, translated to the inside local one
            inside_global, inside_local = _at(o.dst, o.dport, proto), _at(r.src, r.sport, proto)
            outside_local = outside_global = _at(o.src, o.sport, proto)
        rows.append({"protocol": proto, "inside_global": inside_global, "inside_local": inside_local,
                     "outside_local": outside_local, "outside_global": outside_global})
    return {"available": True, "translations": rows}


def render_nat(data: dict[str, Any]) -> str:
    out = [HEADER]
    for t in data["translations"]:
        out.append(f"{t['protocol']:<3} {t['inside_global']:<18} {t['inside_local']:<18} "
                   f"{t['outside_local']:<18} {t['outside_global']}")
    if not data["available"]:
        out.append("% dynamic translations not shown: this kernel has no /proc/net/nf_conntrack")
    return "\n".join(out) + "\n"


def _show(s: "ExecSession", a: dict[str, Any]) -> Any:
    from dmvpnlab.cli.exec_tree import Output
    data = nat_data(s.agent)
    return Output(render_nat(data), data)


def add_show(ip: Node) -> None:
    """`show ip nat translations [verbose]`."""
    translations = ip.kw("nat", "IP NAT information").kw("translations", "Translation entries", _show)
    translations.kw("verbose", "Show extra information", _show)
