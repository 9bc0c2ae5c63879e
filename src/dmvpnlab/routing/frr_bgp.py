"""IOS `router bgp ASN` -> FRR 8.4 bgpd configuration.

Two IOS habits FRR does not share decide the shape of the output:
- IOS activates every neighbour for IPv4 unicast unless `no bgp default ipv4-unicast` is
  given. Rather than depend on FRR's default (which its `frr defaults` profile decides),
  the output always says `no bgp default ipv4-unicast` and activates explicitly, in
  `address-family ipv4 unicast`, every neighbour and peer-group IOS would have activated.
- IOS accepts per-AF neighbour lines (`route-reflector-client`, `next-hop-self`, ...),
  `network` and `aggregate-address` at the top of the section (they mean IPv4 unicast);
  FRR wants them in the address family, so they are moved there.
FRR's eBGP default-deny (`bgp ebgp-requires-policy`) is turned off: IOS has none.
"""

from __future__ import annotations

from dmvpnlab.config.model import RouterSection
from dmvpnlab.routing.frr_common import IfName, Translation, linux_name, mask_prefixlen, network, parse_address, classful_network

DAEMON = "bgpd"
# Neighbour options that live in FRR's address family, and how FRR spells them.
_AF_OPTIONS = {"route-reflector-client": "route-reflector-client", "next-hop-self": "next-hop-self",
               "next-hop-unchanged": "attribute-unchanged next-hop", "default-originate": "default-originate",
               "send-community": "send-community", "soft-reconfiguration": "soft-reconfiguration inbound",
               "activate": "activate", "route-map": None, "prefix-list": None, "maximum-prefix": None}
# Neighbour options of the session itself (top of `router bgp` in FRR too).
_SESSION_OPTIONS = ("remote-as", "peer-group", "description", "timers", "ebgp-multihop", "password",
                    "shutdown", "update-source", "advertisement-interval")
_NO_EQUIVALENT = {"no auto-summary": "FRR never auto-summarises: nothing to do",
                  "auto-summary": "FRR has no auto-summary",
                  "no synchronization": "FRR has no IGP synchronization: nothing to do",
                  "synchronization": "FRR has no IGP synchronization"}


class _State:
    """What the walk over the section has gathered so far."""

    def __init__(self) -> None:
        self.top: list[str] = []
        self.af: list[str] = []
        self.with_remote_as: list[str] = []  # neighbours and groups, in first-seen order
        self.groups: list[str] = []            # peer-groups, in definition order
        self.members: set[str] = set()        # neighbours that are in a peer-group
        self.activated: list[str] = []
        self.default_ipv4 = True


def translate(sections: list[RouterSection], ifname: IfName) -> Translation:
    """The bgpd share of frr.conf for the router's BGP section (IOS allows only one)."""
    out = Translation(DAEMON)
    bgp = [s for s in sections if s.protocol == "bgp"]
    for extra in bgp[1:]:
        out.ignore(extra.header, "IOS runs one BGP process; only the first is translated")
    if not bgp:
        return out
    section = bgp[0]
    state = _State()
    out.context = section.header
    in_af: bool | None = False
    for line in section.lines:
        stripped = line.strip()
        low = stripped.lower()
        if low.startswith("address-family "):
            words = low.split()
            in_af = words[1:] in (["ipv4"], ["ipv4", "unicast"])
            if not in_af:
                out.ignore(line, "only address-family ipv4 unicast is translated")
                in_af = None  # skip the block
            continue
        if low == "exit-address-family":
            in_af = False
            continue
        if in_af is None:
            out.ignore(line, "inside an address family that is not translated")
            continue
        _line(stripped, bool(in_af), state, ifname, out)
    out.context = ""
    out.router = [section.header, *state.top, " no bgp default ipv4-unicast", " no bgp ebgp-requires-policy"]
    activate = []
    if state.default_ipv4:
        # A member follows its group: the group is activated, never the member alone.
        candidates = state.groups + [n for n in state.with_remote_as if n not in state.groups]
        activate = [n for n in candidates if n not in state.members]
    activate += [n for n in state.activated if n not in activate]
    af = [f"  neighbor {n} activate" for n in activate] + state.af
    if af:
        out.router += [" address-family ipv4 unicast", *af, " exit-address-family"]
    return out


def _line(stripped: str, in_af: bool, state: _State, ifname: IfName, out: Translation) -> None:
    words = stripped.split()
    low = [w.lower() for w in words]
    if not words:
        return
    joined = " ".join(low)
    if joined in _NO_EQUIVALENT:
        out.ignore(stripped, _NO_EQUIVALENT[joined])
    elif low[:2] == ["bgp", "router-id"] and len(words) == 3 and parse_address(words[2]):
        state.top.append(f" bgp router-id {words[2]}")
    elif joined == "no bgp default ipv4-unicast":
        state.default_ipv4 = False
    elif joined == "bgp log-neighbor-changes":
        state.top.append(" bgp log-neighbor-changes")
    elif low[:2] == ["bgp", "listen"] and len(words) >= 3:
        state.top.append(" " + " ".join(words))
    elif low[0] == "timers" and len(words) == 4 and low[1] == "bgp":
        state.top.append(" " + " ".join(words))
    elif low[0] == "neighbor" and len(words) >= 3:
        _neighbor(stripped, words, state, ifname, out)
    elif low[0] == "network" and len(words) >= 2:
        _network(stripped, words, state, out)
    elif low[0] == "aggregate-address" and len(words) >= 3:
        _aggregate(stripped, words, state, out)
    elif low[0] == "redistribute" and len(words) >= 2:
        state.af.append("  " + " ".join(words))
    else:
        out.ignore(stripped, "not translated to FRR bgpd")


def _neighbor(line: str, words: list[str], state: _State, ifname: IfName, out: Translation) -> None:
    peer, option = words[1], words[2].lower()
    if option == "peer-group" and len(words) == 3:
        state.top.append(f" neighbor {peer} peer-group")
        if peer not in state.groups:
            state.groups.append(peer)
        return
    if option == "peer-group":
        state.members.add(peer)
        state.top.append(f" neighbor {peer} peer-group {words[3]}")
        return
    if option == "remote-as":
        if peer not in state.with_remote_as:
            state.with_remote_as.append(peer)
        state.top.append(" " + " ".join(words))
        return
    if option == "update-source" and len(words) == 4:
        linux = linux_name(ifname, words[3]) if not parse_address(words[3]) else words[3]
        if linux is None:
            out.ignore(line, "interface has no Linux counterpart")
        else:
            state.top.append(f" neighbor {peer} update-source {linux}")
        return
    if option in _SESSION_OPTIONS:
        state.top.append(" " + " ".join(words))
        return
    if option == "activate":
        if peer not in state.activated:
            state.activated.append(peer)
        return
    if option in _AF_OPTIONS and _AF_OPTIONS[option] is not None:
        extra = words[3:]
        if option == "next-hop-self":
            extra = [w for w in extra if w.lower() != "all"]  # FRR's next-hop-self covers reflected routes
            if len(words) > 3 and words[3].lower() == "all":
                extra = ["force"]
        if option == "soft-reconfiguration":
            extra = []
        state.af.append(f"  neighbor {peer} {_AF_OPTIONS[option]} {' '.join(extra)}".rstrip())
        return
    out.ignore(line, "neighbour option not translated to FRR bgpd")


def _network(line: str, words: list[str], state: _State, out: Translation) -> None:
    """`network A [mask M]`: without a mask IOS means A's classful network."""
    if len(words) == 2:
        net = classful_network(words[1])
    elif len(words) >= 4 and words[2].lower() == "mask":
        length = mask_prefixlen(words[3])
        net = network(words[1], length) if length is not None else None
        if len(words) > 4:
            out.ignore(line, "network options (route-map, backdoor) not translated")
    else:
        net = None
    if net is None:
        out.ignore(line, "not an IPv4 network")
        return
    state.af.append(f"  network {net}")


def _aggregate(line: str, words: list[str], state: _State, out: Translation) -> None:
    length = mask_prefixlen(words[2])
    net = network(words[1], length) if length is not None else None
    if net is None:
        out.ignore(line, "aggregate mask is not a netmask")
        return
    options = [w.lower() for w in words[3:]]
    kept = [w for w in options if w in ("summary-only", "as-set")]
    if len(kept) != len(options):
        out.ignore(line, "aggregate options other than summary-only and as-set not translated")
    state.af.append("  " + " ".join(["aggregate-address", str(net), *kept]))
