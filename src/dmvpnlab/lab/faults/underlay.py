"""Underlay faults as commands run in the lab's namespaces: links, loss, the ISP, renumbering.

Why the far end of a link: taking down the ISP's (or NAT box's, or segment bridge's) end
of a router's WAN veth is what a cut cable or a dead modem is to the router: its port
loses carrier, its addresses and routes stay (the agent sets
`ignore_routes_with_linkdown`, so they are not used meanwhile), and they work again when
the carrier returns. Downing the router's own port instead would delete its default route,
a thing no real link failure does.

Loss uses nftables `numgen random` in the far end's namespace, one rule per direction of
each link (prerouting on the way in, postrouting on the way out), in the table
`dmvpnlab_faults` that this module alone writes and rewrites whole. Every command runs
through `Exec` (the lab's `exec`), so nothing here touches the machine's own namespace.
Imports only the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

NFT_TABLE = "dmvpnlab_faults"

Exec = Callable[[str, Sequence[str]], Any]  # (node, argv) -> result with .ok, .stdout, .stderr


class UnderlayError(RuntimeError):
    """An underlay fault that could not be applied; str() names the node and the command."""


@dataclass(frozen=True)
class LinkEnd:
    """A router's WAN link: the router's port and the far end's node and port."""

    router: str
    router_if: str
    peer: str
    peer_if: str


def _run(run: Exec, node: str, argv: Sequence[str]) -> str:
    result = run(node, list(argv))
    if not result.ok:
        raise UnderlayError(f"{node}: `{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()}")
    return str(result.stdout)


def links_of(run: Exec, node: str) -> list[dict[str, Any]]:
    """`ip -j link show` in `node`'s namespace."""
    return list(json.loads(_run(run, node, ["ip", "-j", "link", "show"]) or "[]"))


def find_link_end(run: Exec, router: str, router_if: str, peer: str) -> LinkEnd:
    """The far end of `router_if`: the port of `peer` whose ifindex is the veth's peer index."""
    mine = next((link for link in links_of(run, router) if link.get("ifname") == router_if), None)
    if mine is None or "link_index" not in mine:
        raise UnderlayError(f"{router}: no veth {router_if}")
    index = mine["link_index"]
    theirs = next((link for link in links_of(run, peer) if link.get("ifindex") == index), None)
    if theirs is None:
        raise UnderlayError(f"{peer}: no port with ifindex {index} (the far end of {router}'s {router_if})")
    return LinkEnd(router, router_if, peer, str(theirs["ifname"]))


def set_link(run: Exec, end: LinkEnd, up: bool) -> None:
    """The far end of the link down or up (see the module docstring for why the far end)."""
    _run(run, end.peer, ["ip", "link", "set", "dev", end.peer_if, "up" if up else "down"])


def node_ports(run: Exec, node: str) -> list[str]:
    """Every port of `node` but the loopback (the ISP's links, for `isp-down`)."""
    return [str(link["ifname"]) for link in links_of(run, node) if link.get("ifname") != "lo"]


def set_ports(run: Exec, node: str, ports: Sequence[str], up: bool) -> None:
    for port in ports:
        _run(run, node, ["ip", "link", "set", "dev", port, "up" if up else "down"])


def loss_ruleset(losses: dict[str, float]) -> str:
    """The whole `dmvpnlab_faults` table for `losses` (far-end port -> percent) in one
    namespace, replacing what was there (nft -f applies it atomically)."""
    lines = [f"table ip {NFT_TABLE} {{}}", f"delete table ip {NFT_TABLE}"]
    if not losses:
        return "\n".join(lines) + "\n"
    lines.append(f"table ip {NFT_TABLE} {{")
    for chain, hook, direction, priority in (("inbound", "prerouting", "iifname", -300),
                                             ("outbound", "postrouting", "oifname", 300)):
        lines.append(f"  chain {chain} {{")
        lines.append(f"    type filter hook {hook} priority {priority}; policy accept;")
        for port, percent in sorted(losses.items()):
            per_mille = max(0, min(1000, round(percent * 10)))
            lines.append(f'    {direction} "{port}" numgen random mod 1000 < {per_mille} counter drop')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def apply_loss(run: Callable[..., Any], node: str, losses: dict[str, float]) -> None:
    """Install the loss table of one namespace (`run(node, argv, input=...)`)."""
    result = run(node, ["nft", "-f", "-"], input=loss_ruleset(losses))
    if not result.ok:
        raise UnderlayError(f"{node}: nft refused the loss rules: {(result.stderr or result.stdout).strip()}")


def loss_counters(run: Exec, node: str) -> dict[str, int]:
    """Packets dropped so far per rule (`iifname "isp-eth1"` ...) in one namespace's loss table."""
    result = run(node, ["nft", "-j", "list", "table", "ip", NFT_TABLE])
    if not result.ok:
        return {}
    out: dict[str, int] = {}
    for item in json.loads(result.stdout or "{}").get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        port = direction = None
        packets = 0
        for expr in rule.get("expr", []):
            match = expr.get("match")
            if match and isinstance(match.get("left"), dict) and "meta" in match["left"]:
                direction, port = match["left"]["meta"].get("key"), match.get("right")
            if "counter" in expr:
                packets = int(expr["counter"].get("packets", 0))
        if port is not None:
            out[f"{direction} {port}"] = packets
    return out


def renumber(run: Exec, end: LinkEnd, old: str, new: str, gateway: str) -> None:
    """Give the router `new` (a.b.c.d/len) on its WAN instead of `old`, the far end
    `gateway` on the same port, and the default route through it: a new DHCP lease."""
    prefix = new.split("/")[1] if "/" in new else "30"
    _run(run, end.peer, ["ip", "addr", "replace", f"{gateway}/{prefix}", "dev", end.peer_if])
    _run(run, end.router, ["ip", "addr", "del", old, "dev", end.router_if])
    _run(run, end.router, ["ip", "addr", "add", new, "dev", end.router_if])
    _run(run, end.router, ["ip", "route", "replace", "default", "via", gateway])
