"""What the IOS -> FRR translators share: the per-protocol result and the address arithmetic.

IOS writes networks as address + mask (`network 10.0.0.0 mask 255.255.255.0`), address +
wildcard (OSPF's `network 10.0.0.0 0.0.0.255 area 0`) or a bare classful address (RIP's
`network 10.0.0.0`); FRR wants `A/len` everywhere. These helpers answer None for what has
no prefix form (a non-contiguous wildcard, a malformed address), so a translator can list
the line as ignored instead of raising: configs come from users. Pure: standard library and ifnames only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Callable

from dmvpnlab.ifnames import canonical_ios_ifname

#: Maps a canonical IOS interface name to the Linux name FRR must use (ifnames.linux_ifname
#: bound to the node); raises ValueError (InterfaceNameError) for a name it cannot map.
IfName = Callable[[str], str]


@dataclass
class Translation:
    """One daemon's share of frr.conf, as a translator produced it.

    `router` is the `router ...` block (first line the header, body lines indented), empty
    when the protocol is not configured; `interfaces` maps a Linux interface name to the
    lines that go in its `interface X` block (one-space indent added by the assembler);
    `ignored` holds `"<IOS line>: <reason>"` for every line with no FRR equivalent.
    """

    daemon: str
    router: list[str] = field(default_factory=list)
    interfaces: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    # The section being walked (`router rip`): prefixed to its ignored lines, so a reader
    # knows which `no auto-summary` was meant.
    context: str = ""

    def interface_line(self, linux: str, line: str) -> None:
        """Add `line` to interface `linux`'s block, once."""
        lines = self.interfaces.setdefault(linux, [])
        if line not in lines:
            lines.append(line)

    def ignore(self, line: str, reason: str) -> None:
        where = f"{self.context}: " if self.context else ""
        self.ignored.append(f"{where}{line.strip()}: {reason}")


def parse_address(text: str) -> IPv4Address | None:
    """A dotted-quad IPv4 address, or None (IOS would have refused the line)."""
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def mask_prefixlen(mask: str) -> int | None:
    """The prefix length of a contiguous netmask (255.255.255.0 -> 24), else None."""
    value = parse_address(mask)
    if value is None:
        return None
    bits = int(value)
    inverted = (~bits) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None  # ones not contiguous from the top
    return 32 - inverted.bit_length()


def wildcard_prefixlen(wildcard: str) -> int | None:
    """The prefix length of an IOS wildcard (0.0.0.255 -> 24); None when non-contiguous.

    IOS accepts any wildcard (0.255.0.255 matches interfaces by odd bits); FRR's `network`
    takes only a prefix, so such a wildcard has no translation.
    """
    value = parse_address(wildcard)
    if value is None:
        return None
    bits = int(value)
    if bits & (bits + 1):
        return None
    return 32 - bits.bit_length()


def network(address: str, prefixlen: int) -> IPv4Network | None:
    """The network `address/prefixlen` with host bits cleared, as IOS stores it."""
    addr = parse_address(address)
    if addr is None:
        return None
    return IPv4Network((int(addr), prefixlen), strict=False)


def classful_network(address: str) -> IPv4Network | None:
    """The classful network of `address` (A: /8, B: /16, C: /24), as IOS RIP reads `network A`.

    Class D/E addresses have no class network: None.
    """
    addr = parse_address(address)
    if addr is None:
        return None
    first = int(addr) >> 24
    if first < 128:
        length = 8
    elif first < 192:
        length = 16
    elif first < 224:
        length = 24
    else:
        return None
    return IPv4Network((int(addr), length), strict=False)


def linux_name(ifname: IfName, ios: str) -> str | None:
    """The Linux name of IOS interface `ios` (abbreviations and `Gi 0/1` spacing accepted,
    as IOS accepts them), or None for a name with no Linux side (the line is then ignored)."""
    try:
        return ifname(canonical_ios_ifname(ios.replace(" ", "")))
    except ValueError:  # InterfaceNameError is one
        return None


_REDISTRIBUTE_SOURCES = ("connected", "static", "kernel", "ospf", "bgp", "rip")


def number_in(text: str, low: int, high: int) -> bool:
    """`text` is a plain decimal in [low, high] (ASCII digits only, at most 10 of them)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and low <= int(text) <= high


def redistribute(words: list[str], own: str) -> str | None:
    """FRR's `redistribute SOURCE [metric N] [metric-type 1|2]` for an IOS line, else None.

    IOS names the source's process (`redistribute ospf 1`, `redistribute bgp 65000`);
    FRR does not (one instance each), so the number is dropped. OSPF's `subnets` is FRR's
    only behaviour and is dropped too. `own` is the translating protocol, which cannot
    redistribute itself; `metric-type` exists only where `own` is ospf. IOS's static
    routes are the agent's kernel routes here (proto static, not FRR's staticd), which
    zebra knows as kernel routes: `redistribute static` is FRR's `redistribute kernel`.
    """
    low = [w.lower() for w in words]
    if len(low) < 2 or low[1] not in _REDISTRIBUTE_SOURCES or low[1] == own:
        return None
    out = ["redistribute", "kernel" if low[1] == "static" else low[1]]
    rest = low[2:]
    if low[1] in ("ospf", "bgp", "rip") and rest[:1] and rest[0].isdigit():
        rest = rest[1:]
    while rest:
        if rest[0] == "subnets":
            rest = rest[1:]
        elif rest[0] == "metric" and len(rest) >= 2 and number_in(rest[1], 0, 16777214):
            out += rest[:2]
            rest = rest[2:]
        elif own == "ospf" and rest[0] == "metric-type" and len(rest) >= 2 and rest[1] in ("1", "2"):
            out += rest[:2]
            rest = rest[2:]
        else:
            return None
    return " ".join(out)


def is_area(text: str) -> bool:
    """An OSPF area id as IOS and FRR both write it: a 32-bit decimal or a dotted quad."""
    return number_in(text, 0, 4294967295) or parse_address(text) is not None
