"""IOS `router rip` and interface RIP lines -> FRR 8.4 ripd configuration.

IOS reads RIP's `network A` as A's classful network (10.1.2.0 means 10.0.0.0/8); FRR wants
the prefix, so the class is spelled out. FRR's ripd never auto-summarises and has no
per-interface summary, so `no auto-summary` needs nothing and `ip summary-address rip`
(the Phase 3 hub summary) is listed as ignored: the summary must come from elsewhere (a
static route redistributed, for instance). The interface `no ip split-horizon` (IOS's
switch for RIP, no protocol word) becomes FRR's `no ip rip split-horizon`.
"""

from __future__ import annotations

from dmvpnlab.config.model import Interface, RouterSection
from dmvpnlab.routing.frr_common import (
    IfName,
    Translation,
    classful_network,
    linux_name,
    number_in,
    parse_address,
    redistribute,
)

DAEMON = "ripd"


def translate(sections: list[RouterSection], interfaces: list[Interface], ifname: IfName) -> Translation:
    """The ripd share of frr.conf, or an empty one when the router has no `router rip`."""
    out = Translation(DAEMON)
    rip = [s for s in sections if s.protocol == "rip"]
    if not rip:
        return out
    out.router = ["router rip"]
    out.context = rip[0].header
    for line in rip[0].lines:
        _router_line(line, ifname, out)
    out.context = ""
    for itf in interfaces:
        _interface(itf, ifname, out)
    return out


def _router_line(line: str, ifname: IfName, out: Translation) -> None:
    words = line.split()
    low = [w.lower() for w in words]
    if not words:
        return
    joined = " ".join(low)
    if low[0] == "version" and low[1:] in (["1"], ["2"]):
        out.router.append(f" version {low[1]}")
    elif low[0] == "network" and len(words) == 2:
        net = classful_network(words[1])
        if net is None:
            out.ignore(line, "not a class A, B or C address")
        else:
            out.router.append(f" network {net}")
    elif joined == "no auto-summary":
        out.ignore(line, "FRR ripd never auto-summarises: nothing to do")
    elif joined == "auto-summary":
        out.ignore(line, "FRR ripd has no auto-summary")
    elif joined == "passive-interface default":
        out.router.append(" passive-interface default")
    elif low[0] in ("passive-interface", "no") and len(words) >= 2:
        negated = low[0] == "no"
        if negated and low[1] != "passive-interface":
            out.ignore(line, "not translated to FRR ripd")
            return
        linux = linux_name(ifname, " ".join(words[2 if negated else 1:]))
        if linux is None:
            out.ignore(line, "interface has no Linux counterpart")
        else:
            out.router.append(f" {'no ' if negated else ''}passive-interface {linux}")
    elif low[:2] == ["default-information", "originate"] and len(words) == 2:
        out.router.append(" default-information originate")
    elif low[0] == "redistribute" and (frr := redistribute(words, "rip")):
        out.router.append(" " + frr)
    elif low[0] == "neighbor" and len(words) == 2 and parse_address(words[1]):
        out.router.append(" " + " ".join(words))
    elif low[:2] == ["timers", "basic"] and len(words) == 6 and all(number_in(w, 0, 2147483647) for w in words[2:]):
        _timers(line, words, out)
    else:
        out.ignore(line, "not translated to FRR ripd")


def _timers(line: str, words: list[str], out: Translation) -> None:
    """IOS `timers basic UPDATE INVALID HOLDDOWN FLUSH` -> FRR `timers basic UPDATE TIMEOUT GARBAGE`.

    IOS flushes FLUSH seconds after the last update; FRR collects garbage GARBAGE seconds
    after the route timed out, so GARBAGE = FLUSH - INVALID. FRR has no hold-down.
    """
    update, invalid, _holddown, flush = (int(w) for w in words[2:6])
    garbage = flush - invalid
    if not (5 <= update and 5 <= invalid and 5 <= garbage):
        out.ignore(line, "timers out of FRR's range (each at least 5 s, flush after invalid)")
        return
    out.router.append(f" timers basic {update} {invalid} {garbage}")
    out.ignore(line, "FRR ripd has no hold-down timer: the holddown value is dropped")


def _interface(itf: Interface, ifname: IfName, out: Translation) -> None:
    lines = [line for line in itf.extra_lines + itf.routing_lines if _is_rip_line(line)]
    if not lines:
        return
    linux = linux_name(ifname, itf.name)
    for line in lines:
        where = f"interface {itf.name}: {line}"
        low = line.lower().split()
        if linux is None:
            out.ignore(where, "interface has no Linux counterpart")
        elif low == ["no", "ip", "split-horizon"]:
            out.interface_line(linux, "no ip rip split-horizon")
        elif low[:3] == ["ip", "summary-address", "rip"]:
            out.ignore(where, "FRR 8.4 ripd has no interface summary address")
        else:
            out.ignore(where, "not translated to FRR ripd")


def _is_rip_line(line: str) -> bool:
    low = line.lower().split()
    return low == ["no", "ip", "split-horizon"] or low[:2] == ["ip", "rip"] or low[:3] == ["ip", "summary-address", "rip"]
