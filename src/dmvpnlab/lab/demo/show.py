"""Reading what routers print: `show dmvpn` peer rows, the NHRP route lines, the output without its legend.

The demo's live steps hand CLI and kernel text to these checks, so the parsing is
unit-tested on recorded text. Imports `items` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from dmvpnlab.lab.demo.items import Check


@dataclass(frozen=True)
class DmvpnPeer:
    """One row of `show dmvpn` (continuation rows inherit the NBMA address above them)."""

    nbma: str
    tunnel: str
    state: str
    attributes: str


_IP = r"\d+\.\d+\.\d+\.\d+"
_DMVPN_ROW = re.compile(rf"^\s*\d+\s+({_IP})\s+({_IP})\s+(\S+)\s+\S+\s*(\S*)\s*$")
_DMVPN_MORE = re.compile(rf"^\s+({_IP})\s+(\S+)\s+\S+\s*(\S*)\s*$")


def parse_show_dmvpn(text: str) -> list[DmvpnPeer]:
    """The peer rows of IOS `show dmvpn` (all interfaces)."""
    peers: list[DmvpnPeer] = []
    nbma = ""
    for line in text.splitlines():
        if m := _DMVPN_ROW.match(line):
            nbma = m.group(1)
            peers.append(DmvpnPeer(nbma, m.group(2), m.group(3), m.group(4)))
        elif nbma and (m := _DMVPN_MORE.match(line)):
            peers.append(DmvpnPeer(nbma, m.group(1), m.group(2), m.group(3)))
    return peers


def dmvpn_peer_check(node: str, text: str, peer_name: str, nbma: IPv4Address, tunnel: IPv4Address) -> Check:
    """`show dmvpn` on `node` lists the peer (NBMA, tunnel address) in state UP."""
    rows = [p for p in parse_show_dmvpn(text) if p.nbma == str(nbma) and p.tunnel == str(tunnel)]
    up = [p for p in rows if p.state == "UP"]
    detail = (f"{nbma} / {tunnel} {up[0].state} {up[0].attributes}".rstrip() if up
              else f"{nbma} / {tunnel} state {rows[0].state}" if rows else f"no row for {nbma} / {tunnel}")
    return Check(f"{node} show dmvpn: {peer_name} is UP", bool(up), detail)


def without_legend(text: str, first_line: str) -> str:
    """The output from the line starting with `first_line` on (IOS legends are long and known)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(first_line):
            return "\n".join(lines[i:]).rstrip()
    return text.rstrip()


def route_check(node: str, command: str, text: str, network: IPv4Network, next_hop: IPv4Address) -> Check:
    """`show ip route nhrp` (an H line) or `ip route show proto nhrp` has network via next_hop."""
    if command.startswith("show"):
        lines = [l for l in text.splitlines() if l.startswith("H ") and f" {network} " in l and f"via {next_hop}" in l]
    else:
        lines = [l for l in text.splitlines() if l.startswith(f"{network} via {next_hop} ")]
    return Check(f"{node} {command}: {network} via {next_hop}", bool(lines),
                 " ".join(lines[0].split()) if lines else "no such route")
