"""What a router's IOS config says about it, for the import: its role, what it ignores, its switchports.

Role (see `WiredRouter`): "spoke" when a tunnel has an NHS (`ip nhrp nhs`, Phase 1's
point-to-point GRE spokes too), "hub" when a tunnel has `ip nhrp map multicast dynamic`
and no tunnel has an NHS, else "router" (an ISP, a core router, a switch). The config is
read with the router's own parser (`dmvpnlab.config.parser`), so the import sees what the
agent will: a malformed supported line is refused here, before anything is built, rather
than by the agent at bring-up; lines the parser keeps but ignores are counted in a note.

Switchports (iosvl2, ioll2-xe): an interface without `no switchport` is a switch port
(IOS's default on these images); an SVI `interface VlanN` with an address is the router's.
Read from the config text: which lines a switch port has does not matter here, only
whether `no switchport` is among them. Imports `dmvpnlab.config` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dmvpnlab.config.parser import parse_config

MAX_SHOWN_IGNORED = 3
IGNORED_NOTE = re.compile(r"router \S+: \d+ config lines? kept but not applied here")  # what `ignored_note` writes
_INTERFACE = re.compile(r"^interface\s+(\S+)", re.I)
_VLAN = re.compile(r"^(?:Vlan|Vl|Vla)\s*(\d{1,4})$", re.I)
_ABBREVIATED = re.compile(r"^(Gi|Gig|GigE|Fa|Et|Eth)\s*(?=\d)", re.I)
_FULL = {"gi": "gigabitethernet", "gig": "gigabitethernet", "gige": "gigabitethernet", "fa": "fastethernet",
         "et": "ethernet", "eth": "ethernet"}


def port_key(name: str) -> str:
    """An Ethernet interface name as a comparison key: full type name, lower case (Gi0/1 = GigabitEthernet0/1)."""
    name = name.strip()
    return _ABBREVIATED.sub(lambda m: _FULL[m.group(1).lower()], name).replace(" ", "").lower()


@dataclass
class RouterFacts:
    role: str = "router"
    ignored: list[str] = field(default_factory=list)  # the ignored lines' text
    errors: list[str] = field(default_factory=list)  # IOS-style errors, each naming its line


def router_facts(config: str) -> RouterFacts:
    """Role, ignored lines and refused lines of an IOS config."""
    result = parse_config(config, source="configuration")
    facts = RouterFacts(ignored=[line.text.strip() for line in result.ignored],
                        errors=[str(e) for e in result.errors])
    tunnels = [i for i in result.config.interfaces if i.is_tunnel]
    if any(t.nhrp.nhs for t in tunnels):
        facts.role = "spoke"
    elif any("dynamic" in t.nhrp.multicast_maps for t in tunnels):
        facts.role = "hub"
    return facts


def ignored_note(who: str, facts: RouterFacts) -> str | None:
    """One note line: how many config lines are not applied here, and the first few of them."""
    if not facts.ignored:
        return None
    shown = "; ".join(repr(t) for t in facts.ignored[:MAX_SHOWN_IGNORED])
    more = f" and {len(facts.ignored) - MAX_SHOWN_IGNORED} more" if len(facts.ignored) > MAX_SHOWN_IGNORED else ""
    count = len(facts.ignored)
    return (f"router {who}: {count} config line{'s' * (count != 1)} kept but not applied here "
            f"(`show running-config` lists them): {shown}{more}")


@dataclass
class SwitchLayout:
    """An L2 image's ports: which interfaces are routed (`no switchport`) and which SVIs exist."""

    routed: set[str] = field(default_factory=set)  # `port_key`s of the interfaces with `no switchport`
    svis: list[int] = field(default_factory=list)  # VLAN numbers of `interface VlanN` with an address


def switch_layout(config: str) -> SwitchLayout:
    layout = SwitchLayout()
    current: str | None = None
    has_address = False

    def close() -> None:
        if current is not None and has_address and (m := _VLAN.match(current)):
            layout.svis.append(int(m.group(1)))

    for raw in config.splitlines():
        line = raw.strip()
        if not raw[:1].isspace():
            close()
            m = _INTERFACE.match(line)
            current, has_address = (m.group(1), False) if m else (None, False)
            continue
        if current is None:
            continue
        words = line.lower().split()
        if words[:2] == ["no", "switchport"]:
            layout.routed.add(port_key(current))
        elif words[:2] == ["ip", "address"] and len(words) > 2:
            has_address = True
    close()
    return layout
