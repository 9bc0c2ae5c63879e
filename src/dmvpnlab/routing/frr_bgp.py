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

import re

from dmvpnlab.config.model import RouterSection
from dmvpnlab.routing.frr_common import (
    IfName,
    Translation,
    classful_network,
    linux_name,
    mask_prefixlen,
    network,
    number_in,
    parse_address,
    redistribute,
)

DAEMON = "bgpd"
# Neighbour options that live in FRR's address family, and how FRR spells them.
_AF_OPTIONS = {"route-reflector-client": "route-reflector-client", "next-hop-self": "next-hop-self",
               "next-hop-unchanged": "attribute-unchanged next-hop", "default-originate": "default-originate",
               "send-community": "send-community", "soft-reconfiguration": "soft-reconfiguration inbound",
               "activate": "activate", "route-map": None, "prefix-list": None, "maximum-prefix": None}
# Neighbour options of the session itself (top of `router bgp` in FRR too).
_SESSION_OPTIONS = ("description", "timers", "ebgp-multihop", "password", "shutdown", "advertisement-interval")
# A peer-group name: a word that is not an address (FRR takes any word; keep it printable).
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
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
        self.deactivated: list[str] = []
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
        _line(stripped, state, ifname, out)  # IOS means IPv4 unicast in and out of the block
    out.context = ""
    out.router = [section.header, *state.top, " no bgp default ipv4-unicast", " no bgp ebgp-requires-policy"]
    activate = []
    if state.default_ipv4:
        # A member follows its group: the group is activated, never the member alone.
        candidates = state.groups + [n for n in state.with_remote_as if n not in state.groups]
        activate = [n for n in candidates if n not in state.members]
    activate += [n for n in state.activated if n not in activate]
    activate = [n for n in activate if n not in state.deactivated]
    af = [f"  neighbor {n} activate" for n in activate] + state.af
    if af:
        out.router += [" address-family ipv4 unicast", *af, " exit-address-family"]
    return out


def _line(stripped: str, state: _State, ifname: IfName, out: Translation) -> None:
    words = stripped.split()
    low = [w.lower() for w in words]
    if not words:
        return
    joined = " ".join(low)
    if joined in _NO_EQUIVALENT:
        out.ignore(stripped, _NO_EQUIVALENT[joined])
    elif low[:2] == ["bgp", "router-id"] and len(words) == 3 and parse_address(words[2]):
        state.top.append(f" bgp router-id {words[2]}")
    elif len(low) == 4 and low[:2] == ["no", "neighbor"] and low[3] == "activate":
        state.deactivated.append(words[2])  # IOS's way out of the default activation
    elif joined == "no bgp default ipv4-unicast":
        state.default_ipv4 = False
    elif joined == "bgp log-neighbor-changes":
        state.top.append(" bgp log-neighbor-changes")
    elif low[:3] == ["bgp", "listen", "range"] and len(words) == 6 and low[4] == "peer-group" and _prefix(words[3]):
        if words[5] not in state.groups:
            out.ignore(stripped, "peer-group not defined before this line")
            return
        state.top.append(f" bgp listen range {_prefix(words[3])} peer-group {words[5]}")
    elif low[:3] == ["bgp", "listen", "limit"] and len(words) == 4 and number_in(words[3], 1, 65535):
        state.top.append(" " + " ".join(low))
    elif low[:2] == ["timers", "bgp"] and len(words) == 4 and _timers(words[2], words[3]):
        state.top.append(" " + " ".join(low))
    elif low[0] == "neighbor" and len(words) >= 3:
        _neighbor(stripped, words, state, ifname, out)
    elif low[0] == "network" and len(words) >= 2:
        _network(stripped, words, state, out)
    elif low[0] == "aggregate-address" and len(words) >= 3:
        _aggregate(stripped, words, state, out)
    elif low[0] == "redistribute" and (frr := redistribute(words, "bgp")):
        state.af.append("  " + frr)
    else:
        out.ignore(stripped, "not translated to FRR bgpd")


def _neighbor(line: str, words: list[str], state: _State, ifname: IfName, out: Translation) -> None:
    peer, option = words[1], words[2].lower()
    if option == "peer-group" and len(words) == 3:
        state.top.append(f" neighbor {peer} peer-group")
        if peer not in state.groups:
            state.groups.append(peer)
        return
    if not (parse_address(peer) or _NAME.match(peer)):
        out.ignore(line, "not a neighbour address or peer-group name")
        return
    if option == "peer-group" and (len(words) != 4 or not parse_address(peer) or words[3] not in state.groups):
        out.ignore(line, "not `neighbor A peer-group NAME` with NAME defined before")
        return
    if option == "peer-group":
        state.members.add(peer)
        state.top.append(f" neighbor {peer} peer-group {words[3]}")
        return
    if option == "remote-as" and not (len(words) == 4 and (number_in(words[3], 1, 4294967295)
                                                            or words[3].lower() in ("internal", "external"))):
        out.ignore(line, "not `neighbor X remote-as ASN`")
        return
    if option == "remote-as":
        if peer not in state.with_remote_as:
            state.with_remote_as.append(peer)
        state.top.append(" " + " ".join(words))
        return
    if peer not in state.groups and peer not in state.members and peer not in state.with_remote_as:
        # IOS too: "% Specify remote-as or peer-group commands first".
        out.ignore(line, "neighbour has no remote-as or peer-group before this line")
        return
    if option == "update-source" and len(words) == 4:
        linux = linux_name(ifname, words[3]) if not parse_address(words[3]) else words[3]
        if linux is None:
            out.ignore(line, "interface has no Linux counterpart")
        else:
            state.top.append(f" neighbor {peer} update-source {linux}")
        return
    if option == "password" and len(words) == 5 and words[3] == "0":
        words = words[:3] + words[4:]  # IOS's `0`: the key follows in clear text
    if option in _SESSION_OPTIONS:
        if not _session_option_ok(option, words[3:]):
            out.ignore(line, "neighbour option arguments not understood")
            return
        state.top.append(" " + " ".join(words))
        return
    if option == "activate":
        if peer not in state.activated:
            state.activated.append(peer)
        return
    if option in _AF_OPTIONS and _AF_OPTIONS[option] is not None:
        extra = words[3:]
        if extra and not (option == "next-hop-self" and [w.lower() for w in extra] == ["all"]) and not (
                option == "soft-reconfiguration" and [w.lower() for w in extra] == ["inbound"]) and not (
                option == "send-community" and [w.lower() for w in extra] in (["both"], ["standard"], ["extended"])):
            out.ignore(line, "neighbour option arguments not translated")
            return
        if option == "next-hop-self":
            extra = [w for w in extra if w.lower() != "all"]  # FRR's next-hop-self covers reflected routes
            if len(words) > 3 and words[3].lower() == "all":
                extra = ["force"]
        if option == "soft-reconfiguration":
            extra = []
        state.af.append(f"  neighbor {peer} {_AF_OPTIONS[option]} {' '.join(extra)}".rstrip())
        return
    out.ignore(line, "neighbour option not translated to FRR bgpd")


def _prefix(text: str) -> str | None:
    """`A/len` as FRR writes it (host bits cleared), or None."""
    address, _, length = text.partition("/")
    net = network(address, int(length)) if number_in(length, 0, 32) else None
    return str(net) if net is not None else None


def _timers(keepalive: str, hold: str) -> bool:
    """BGP keepalive and hold time as both IOS and FRR take them (hold 0 or at least 3)."""
    return number_in(keepalive, 0, 65535) and number_in(hold, 0, 65535) and (hold == "0" or int(hold) >= 3)


def _session_option_ok(option: str, args: list[str]) -> bool:
    """The arguments of a session option have the form FRR takes."""
    if option == "description":
        return bool(args)
    if option == "shutdown":
        return not args
    if option == "timers":
        return len(args) == 2 and _timers(*args)
    if option == "ebgp-multihop":
        return not args or (len(args) == 1 and number_in(args[0], 1, 255))
    if option == "advertisement-interval":
        return len(args) == 1 and number_in(args[0], 0, 600)
    if option == "password":
        return len(args) == 1  # `password 0 KEY` is rewritten before; type 7 is not taken
    return False


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
