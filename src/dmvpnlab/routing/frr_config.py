"""A router's IOS routing lines -> one FRR 8.4 integrated configuration (frr.conf).

The agent will run zebra plus one daemon per protocol the IOS config names (issue 10), and
configure them from the router's own IOS lines only: this module is that translation,
pure (no files, no processes), so it can be tested against FRR's own parser. OSPF, BGP
and RIP each have a translator module (frr_ospf, frr_bgp, frr_rip) that returns its
daemon's router block, interface lines and ignored lines; this module assembles them.
EIGRP is not FRR's here (eigrpd cannot be a DMVPN hub: the agent runs its own EIGRP), so
EIGRP sections and interface lines are left out, neither translated nor ignored.
Imports config.model (what is translated) and routing.frr_* only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmvpnlab.config.model import RouterConfig
from dmvpnlab.routing import frr_bgp, frr_ospf, frr_rip
from dmvpnlab.routing.frr_common import IfName, Translation

FRR_HEADER = ("frr version 8.4", "frr defaults traditional")
ZEBRA = "zebra"


@dataclass
class FrrConfig:
    """What FRR must run and read for one router.

    `daemons` is empty when the router has no OSPF, BGP or RIP (nothing to start), else
    zebra plus the protocol daemons. `text` is the integrated frr.conf (vtysh -b reads
    it). `ignored` lists `"<IOS line>: <reason>"` for each IOS line with no FRR
    equivalent. `per_daemon` is the same configuration split by daemon (each daemon's
    interface lines and router block only), for a daemon started with `-f` of its own.
    """

    daemons: set[str] = field(default_factory=set)
    text: str = ""
    ignored: list[str] = field(default_factory=list)
    per_daemon: dict[str, str] = field(default_factory=dict)


def frr_config(config: RouterConfig, ifname: IfName) -> FrrConfig:
    """Translate `config`'s OSPF, BGP and RIP lines; `ifname` maps IOS to Linux interface names."""
    sections = config.router_sections
    parts = [
        frr_ospf.translate(sections, config.interfaces, ifname),
        frr_bgp.translate(sections, ifname),
        frr_rip.translate(sections, config.interfaces, ifname),
    ]
    active = [p for p in parts if p.router or p.interfaces]
    ignored = [line for p in parts for line in p.ignored]
    if not active:
        return FrrConfig(ignored=ignored)
    hostname = config.hostname
    text = _render(hostname, active)
    per_daemon = {p.daemon: _render(hostname, [p]) for p in active}
    per_daemon[ZEBRA] = _render(hostname, [])
    return FrrConfig({ZEBRA, *(p.daemon for p in active)}, text, ignored, per_daemon)


def _render(hostname: str, parts: list[Translation]) -> str:
    """frr.conf text: header, one `interface` block per interface, then the router blocks."""
    lines = [*FRR_HEADER, f"hostname {hostname}", "!"]
    interfaces: dict[str, list[str]] = {}
    for part in parts:
        for name, body in part.interfaces.items():
            interfaces.setdefault(name, []).extend(body)
    for name, body in interfaces.items():
        lines += [f"interface {name}", *(f" {line}" for line in body), "exit", "!"]
    for part in parts:
        if part.router:
            lines += [*part.router, "exit", "!"]
    return "\n".join(lines) + "\n"
