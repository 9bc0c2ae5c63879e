"""IOS `router ospf N` and interface `ip ospf ...` lines -> FRR 8.4 ospfd configuration.

FRR runs one OSPF instance per ospfd (the IOS process number has no FRR meaning, so the
first `router ospf N` becomes `router ospf` and any further one is ignored). Where FRR 8.4
deprecates the IOS form (`passive-interface X` under the router, "not VRF-aware") the
interface form `ip ospf passive` is written instead, so the daemon logs no warning.
FRR 8.4 has no `point-to-multipoint non-broadcast` network type (it came in 9.x): such an
interface runs plain point-to-multipoint (multicast hellos, which the tunnel replicates to
its NHRP multicast map), and the line is listed as ignored so the difference is visible.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from dmvpnlab.config.model import Interface, RouterSection
from dmvpnlab.routing.frr_common import (
    IfName,
    Translation,
    linux_name,
    mask_prefixlen,
    network,
    is_area,
    number_in,
    parse_address,
    redistribute,
    wildcard_prefixlen,
)

DAEMON = "ospfd"
DEFAULT_REFERENCE_MBPS = 100  # IOS's and FRR's `auto-cost reference-bandwidth`
# IOS's default interface bandwidths (kbit/s), for the OSPF cost it derives from them.
IOS_BANDWIDTH_KBPS = (("Tunnel", 100), ("GigabitEthernet", 1000000), ("Loopback", 8000000))
_NETWORK_TYPES = ("broadcast", "non-broadcast", "point-to-point", "point-to-multipoint")
# Interface lines whose IOS and FRR spellings agree: `ip ospf <word> N`.
_SAME_IF_WORDS = {"priority": (0, 255), "hello-interval": (1, 65535), "dead-interval": (1, 65535),
                  "cost": (1, 65535), "retransmit-interval": (1, 65535), "transmit-delay": (1, 65535)}


def translate(sections: list[RouterSection], interfaces: list[Interface], ifname: IfName) -> Translation:
    """The ospfd share of frr.conf for the OSPF sections and interface lines of one router."""
    out = Translation(DAEMON)
    ospf = [s for s in sections if s.protocol == "ospf"]
    for extra in ospf[1:]:
        out.ignore(extra.header, "FRR runs one OSPF process per ospfd; only the first is translated")
    for itf in interfaces:
        _interface(itf, ifname, out)
    if not ospf:
        # IOS's `ip ospf N area X` starts process N by itself; other interface lines alone
        # run no OSPF, so without an area line there is nothing for ospfd to do.
        if any(ln.startswith("ip ospf area") for lines in out.interfaces.values() for ln in lines):
            out.router = ["router ospf"]
            _ios_costs(interfaces, ifname, DEFAULT_REFERENCE_MBPS, out)
            return out
        return Translation(DAEMON, ignored=out.ignored)
    out.router = ["router ospf"]
    out.context = ospf[0].header
    _router(ospf[0], interfaces, ifname, out)
    out.context = ""
    _ios_costs(interfaces, ifname, _reference_mbps(ospf[0]), out)
    return out


def _reference_mbps(section: RouterSection) -> int:
    for line in section.lines:
        low = line.lower().split()
        if low[:2] == ["auto-cost", "reference-bandwidth"] and len(low) == 3 and number_in(low[2], 1, 4294967):
            return int(low[2])
    return DEFAULT_REFERENCE_MBPS


def _ios_costs(interfaces: list[Interface], ifname: IfName, reference_mbps: int, out: Translation) -> None:
    """`ip ospf cost N` as IOS computes it, on every addressed interface without one.

    Why: the cost comes from the interface bandwidth, and the kernel's idea of it (a
    TAP, a veth: 10 Mbit/s to ospfd) is not IOS's (a tunnel 100 kbit/s, cost 1000; a
    GigabitEthernet cost 1), so OSPF metrics would not read like the router's. IOS's
    `bandwidth` line, where there is one, is the bandwidth."""
    for itf in interfaces:
        linux = linux_name(ifname, itf.name)
        if linux is None or itf.address is None:
            continue
        if any(line.lower().split()[:3] == ["ip", "ospf", "cost"] for line in itf.routing_lines):
            continue
        kbps = itf.bandwidth or next((bw for prefix, bw in IOS_BANDWIDTH_KBPS if itf.name.startswith(prefix)), None)
        if kbps:
            out.interface_line(linux, f"ip ospf cost {min(65535, max(1, reference_mbps * 1000 // kbps))}")


def _router(section: RouterSection, interfaces: list[Interface], ifname: IfName, out: Translation) -> None:
    body = out.router
    networks: list[tuple[IPv4Network, str]] = []
    passive_default = False
    not_passive: set[str] = set()
    for line in section.lines:
        words = line.split()
        low = [w.lower() for w in words]
        if not words:
            continue
        if low[0] == "router-id" and len(words) == 2 and parse_address(words[1]):
            body.append(f" ospf router-id {words[1]}")
        elif low[0] == "network" and len(words) == 5 and low[3] == "area":
            _network(line, words, networks, out)
        elif low[:2] == ["passive-interface", "default"]:
            passive_default = True
        elif low[0] == "passive-interface" and len(words) >= 2:
            _passive(line, " ".join(words[1:]), ifname, out, "ip ospf passive")
        elif low[:2] == ["no", "passive-interface"] and len(words) >= 3:
            linux = linux_name(ifname, " ".join(words[2:]))
            if linux is None:
                out.ignore(line, "interface has no Linux counterpart")
            else:
                not_passive.add(linux)
        elif low[0] == "area" and len(words) >= 5 and low[2] == "range":
            _area_range(line, words, body, out)
        elif low[:2] == ["default-information", "originate"]:
            _default_information(line, low, body, out)
        elif low[0] == "neighbor" and len(words) >= 2 and parse_address(words[1]):
            _neighbor(line, words, body, out)
        elif low[0] == "redistribute" and (frr := redistribute(words, "ospf")):
            body.append(" " + frr)
        elif low in (["log-adjacency-changes"], ["log-adjacency-changes", "detail"]):
            body.append(" " + " ".join(low))
        elif low[:2] == ["auto-cost", "reference-bandwidth"] and len(low) == 3 and number_in(low[2], 1, 4294967):
            body.append(" " + " ".join(low))
        else:
            out.ignore(line, "not translated to FRR ospfd")
    _place_networks(networks, interfaces, ifname, out)
    if passive_default:
        for itf in interfaces:
            linux = linux_name(ifname, itf.name)
            if linux is not None:
                out.interface_line(linux, "no ip ospf passive" if linux in not_passive else "ip ospf passive")


def _default_information(line: str, low: list[str], body: list[str], out: Translation) -> None:
    """`default-information originate [always] [metric N] [metric-type 1|2]`: same in FRR."""
    kept, rest = ["default-information", "originate"], low[2:]
    if rest[:1] == ["always"]:
        kept, rest = kept + ["always"], rest[1:]
    while len(rest) >= 2 and ((rest[0] == "metric" and number_in(rest[1], 0, 16777214))
                              or (rest[0] == "metric-type" and rest[1] in ("1", "2"))):
        kept, rest = kept + rest[:2], rest[2:]
    if rest:
        out.ignore(line, "options other than always, metric and metric-type not translated")
        return
    body.append(" " + " ".join(kept))


def _network(line: str, words: list[str], networks: list[tuple[IPv4Network, str]], out: Translation) -> None:
    length = wildcard_prefixlen(words[2])
    net = network(words[1], length) if length is not None else None
    if net is None:
        out.ignore(line, "wildcard is not a prefix (non-contiguous): FRR network takes A/len only")
        return
    if not is_area(words[4]):
        out.ignore(line, "not an OSPF area id")
        return
    networks.append((net, words[4]))


def _place_networks(networks: list[tuple[IPv4Network, str]], interfaces: list[Interface], ifname: IfName,
                    out: Translation) -> None:
    """`network A/len area X` lines, or their per-interface form when FRR needs that.

    FRR refuses `network ... area` in an instance where any interface has `ip ospf area`
    (IOS allows the mix; the interface line wins there). So when the config has one, every
    network statement becomes `ip ospf area X` on the interfaces whose primary address it
    covers (the longest matching prefix, as FRR itself picks among network statements),
    except those that already name their area.
    """
    explicit = {name for name, lines in out.interfaces.items() if any(ln.startswith("ip ospf area") for ln in lines)}
    if not explicit:
        out.router += [f" network {net} area {area}" for net, area in networks]
        return
    for itf in interfaces:
        linux = linux_name(ifname, itf.name)
        if linux is None or linux in explicit or itf.address is None:
            continue
        matches = [(net, area) for net, area in networks if itf.address.ip in net]
        if matches:
            _net, area = max(matches, key=lambda m: m[0].prefixlen)
            out.interface_line(linux, f"ip ospf area {area}")


def _area_range(line: str, words: list[str], body: list[str], out: Translation) -> None:
    length = mask_prefixlen(words[4])
    net = network(words[3], length) if length is not None else None
    if net is None or not is_area(words[1]):
        out.ignore(line, "range mask is not a netmask, or not an area id")
        return
    rest = [w.lower() for w in words[5:]]
    if rest not in ([], ["advertise"], ["not-advertise"]) and not (
            len(rest) == 2 and rest[0] == "cost" and number_in(rest[1], 0, 16777215)):
        out.ignore(line, "range options not translated")
        rest = []
    body.append(" " + " ".join(["area", words[1], "range", str(net), *rest]))


def _neighbor(line: str, words: list[str], body: list[str], out: Translation) -> None:
    """`neighbor A [priority N] [poll-interval N] [cost N]`: FRR has no per-neighbour cost."""
    kept = ["neighbor", words[1]]
    rest = words[2:]
    dropped = False
    while len(rest) >= 2:
        key, value = rest[0].lower(), rest[1]
        if (key == "priority" and number_in(value, 0, 255)) or (key == "poll-interval" and number_in(value, 1, 65535)):
            kept += [key, value]
        else:
            dropped = True
        rest = rest[2:]
    if dropped or rest:
        out.ignore(line, "FRR's neighbor takes priority and poll-interval only; the rest is dropped")
    body.append(" " + " ".join(kept))


def _passive(line: str, ios: str, ifname: IfName, out: Translation, frr_line: str) -> None:
    linux = linux_name(ifname, ios)
    if linux is None:
        out.ignore(line, "interface has no Linux counterpart")
        return
    out.interface_line(linux, frr_line)


def _interface(itf: Interface, ifname: IfName, out: Translation) -> None:
    ospf_lines = [line for line in itf.routing_lines if line.split()[:2] == ["ip", "ospf"]]
    if not ospf_lines:
        return
    linux = linux_name(ifname, itf.name)
    if linux is None:
        for line in ospf_lines:
            out.ignore(f"interface {itf.name}: {line}", "interface has no Linux counterpart")
        return
    for line in ospf_lines:
        frr = _interface_line(line.split())
        if frr is None:
            out.ignore(f"interface {itf.name}: {line}", "not translated to FRR ospfd")
            continue
        out.interface_line(linux, frr)
        if line.lower().endswith("point-to-multipoint non-broadcast"):
            out.ignore(f"interface {itf.name}: {line}",
                       "FRR 8.4 has no point-to-multipoint non-broadcast: runs point-to-multipoint")


def _interface_line(words: list[str]) -> str | None:
    """The FRR form of one `ip ospf ...` interface line, or None."""
    low = [w.lower() for w in words]
    rest = low[2:]
    if not rest:
        return None
    if rest[0] == "network" and len(rest) >= 2 and rest[1] in _NETWORK_TYPES:
        if len(rest) == 2 or rest[1:] == ["point-to-multipoint", "non-broadcast"]:
            return f"ip ospf network {rest[1]}"
        return None
    if rest[0] in _SAME_IF_WORDS and len(rest) == 2:
        low_bound, high = _SAME_IF_WORDS[rest[0]]
        return f"ip ospf {rest[0]} {rest[1]}" if number_in(rest[1], low_bound, high) else None
    if len(rest) == 3 and number_in(rest[0], 1, 65535) and rest[1] == "area" and is_area(words[4]):
        return f"ip ospf area {words[4]}"  # IOS `ip ospf PROCESS area X`
    return None
