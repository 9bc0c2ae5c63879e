"""Spec objects -> the model: `resolve` fills every address from the plan and checks the lab as a whole.

The one resolver every input format goes through: it reads only spec objects (never a
file or its format), decides the routers (`routers`), ties NAT boxes and shared segments
to the routers they serve, then runs the whole-lab checks (`checks`). Problems are raised
as `TopologyProblem` at a spec field path. Imports the `topology` modules and
`dmvpnlab.lab.management` (the management network's plan).
"""

from __future__ import annotations

import difflib
import re
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from dmvpnlab.lab import management as mgmt_plan
from dmvpnlab.lab.topology import addressing
from dmvpnlab.lab.topology.checks import check_overlaps, check_unique_names
from dmvpnlab.lab.topology.errors import FieldPath, TopologyProblem, show
from dmvpnlab.lab.topology.model import Management, NatBox, Router, Segment, Topology
from dmvpnlab.lab.topology.routers import RouterEntry, RouterParts, router_entries
from dmvpnlab.lab.topology.rules import check_host_address, check_name, index_from_name, interface
from dmvpnlab.lab.topology.spec import NatBoxSpec, TopologySpec

_LAB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # fullmatch: `$` would take a final newline
# <run root>/<lab>/<router>/control.sock must fit a Unix socket path (108 bytes) under
# /run/dmvpnlab: 14 + 64 + 1 + 10 + 13 = 102.
MAX_LAB_NAME = 64


def resolve(spec: TopologySpec, default_name: str, source: Path, template_dirs: tuple[Path, ...]) -> Topology:
    """The addressed, checked lab; `default_name` names it unless the spec does, `source` is
    where it came from (kept in the model), templates are looked up in `template_dirs`, in order."""
    name = lab_name(spec, default_name)
    entries = router_entries(spec)
    nat_users = _nat_users(spec, entries)
    nat_index = _nat_indices(spec, nat_users)
    nat_inside = _nat_inside_addresses(spec, nat_index, nat_users)
    segments = _segments(spec, {e.name for e in entries}, nat_users)
    routers = _routers(RouterParts(spec, template_dirs), entries, nat_users, nat_inside, segments)
    _check_segment_addresses(routers, entries, segments, {n for n, users in nat_users.items() if len(users) > 1})
    boxes = _nat_boxes(spec, nat_users, nat_index, nat_inside)
    topo = Topology(name=name, description=spec.description, source=source, nodes_dir=template_dirs[0],
                    template_dirs=template_dirs,
                    tunnel_network=spec.tunnel.network, routers=routers, nat_boxes=boxes, segments=segments,
                    management=_management(spec, routers))
    check_unique_names(topo, entries, {("routers", n) for n in spec.routers} | {("hub",)})
    check_overlaps(topo, entries)
    return topo


def lab_name(spec: TopologySpec, default: str) -> str:
    """The spec's name, or `default`; it names captures/<name>/, so it must be a safe file name."""
    name = spec.name if spec.name is not None else default
    if len(name) > MAX_LAB_NAME or not _LAB_NAME_RE.fullmatch(name):
        raise TopologyProblem(("name",), f"expected a lab name of letters, digits, '.', '_' and '-', at most "
                                         f"{MAX_LAB_NAME} characters (it names captures/<name>/ and the lab's "
                                         f"run directory), got {show(name)}")
    return name


def _nat_users(spec: TopologySpec, entries: list[RouterEntry]) -> dict[str, list[RouterEntry]]:
    """NAT box name -> the routers behind it, lowest index first (several make a NAT fleet)."""
    nat_users: dict[str, list[RouterEntry]] = {}
    for e in entries:
        nat, path, _ = e.pick("nat")
        if nat is None:
            continue
        if nat not in spec.nat_boxes:
            close = difflib.get_close_matches(str(nat), list(spec.nat_boxes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(spec.nat_boxes) or "none are defined under `nat_boxes:`"
            raise TopologyProblem(path, f"expected a NAT box from nat_boxes ({known}), got {nat!r}{hint}")
        nat_users.setdefault(nat, []).append(e)
    for users in nat_users.values():
        users.sort(key=lambda e: e.index)
    return nat_users


def _nat_indices(spec: TopologySpec, nat_users: dict[str, list[RouterEntry]]) -> dict[str, int]:
    """NAT box name -> its plan index (written, or natN -> N), each used once and each box used."""
    used_indices: dict[int, str] = {}
    nat_index: dict[str, int] = {}
    for name, nspec in spec.nat_boxes.items():
        path: FieldPath = ("nat_boxes", name)
        check_name(name, path, "NAT box")
        nspec = nspec or NatBoxSpec()
        idx = nspec.index if nspec.index is not None else index_from_name(name)
        if idx is None:
            raise TopologyProblem(path + ("index",), f"expected an `index:` for NAT box {name} (inferred only from a trailing number, as in nat1), got nothing")
        if idx > addressing.MAX_NAT_INDEX:
            raise TopologyProblem(path, f"expected a NAT box index from 0 to {addressing.MAX_NAT_INDEX} (the address "
                                        f"plan's range), got {idx} from the name {name}; set `index:`")
        if idx in used_indices:
            raise TopologyProblem(path + ("index",), f"expected a NAT box index not used by {used_indices[idx]}, got {idx}")
        used_indices[idx] = name
        nat_index[name] = idx
        if name not in nat_users:
            raise TopologyProblem(path, f"expected a router to use NAT box {name} (`nat: {name}` under routers), got none")
    return nat_index


def _nat_inside_addresses(spec: TopologySpec, nat_index: dict[str, int],
                          nat_users: dict[str, list[RouterEntry]]) -> dict[str, IPv4Interface]:
    """NAT box name -> its inside address (written, or the plan's: .2 of its /30 for one
    router, .254 of its /24 for a fleet)."""
    nat_inside: dict[str, IPv4Interface] = {}
    for name, nspec in spec.nat_boxes.items():
        nspec = nspec or NatBoxSpec()
        fleet = len(nat_users[name]) > 1
        if nspec.inside is not None:
            iface = interface(nspec.inside, 24 if fleet else 30, ("nat_boxes", name, "inside"))
            check_host_address(iface, ("nat_boxes", name, "inside"))
        elif fleet:
            iface = addressing.segment_isp_address(addressing.nat_fleet_network(nat_index[name]))
        else:
            net = addressing.nat_inside_network(nat_index[name])
            iface = IPv4Interface(f"{net.network_address + 2}/30")
        nat_inside[name] = iface
    return nat_inside


def _segments(spec: TopologySpec, names: set[str], nat_users: dict[str, list[RouterEntry]]) -> list[Segment]:
    """The shared segments; each member a router on no other segment and behind no NAT box."""
    segments: list[Segment] = []
    seg_of: dict[str, Segment] = {}
    for sname, sspec in spec.segments.items():
        spath: FieldPath = ("segments", sname)
        check_name(sname, spath, "segment")
        if sname in names or sname in spec.nat_boxes:
            raise TopologyProblem(spath, f"expected a segment name not used by a router or NAT box, got {sname!r}")
        if sspec.network.prefixlen > 29:
            raise TopologyProblem(spath + ("network",), f"expected a segment network of /29 or larger, got {sspec.network}")
        if sspec.isp_address is not None:
            isp = interface(sspec.isp_address, sspec.network.prefixlen, spath + ("isp_address",))
            check_host_address(isp, spath + ("isp_address",), sspec.network)
        else:
            isp = addressing.segment_isp_address(sspec.network)
        for i, member in enumerate(sspec.members):
            mpath = spath + ("members", i)
            if member not in names:
                close = difflib.get_close_matches(member, sorted(names), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TopologyProblem(mpath, f"expected a router name, got {member!r}{hint}")
            if member in seg_of:
                raise TopologyProblem(mpath, f"expected each router on one segment, got {member} on {seg_of[member].name} and {sname}")
            if member in {e.name for users in nat_users.values() for e in users}:
                raise TopologyProblem(mpath, f"expected a router that is not behind a NAT box, got {member}")
        seg = Segment(name=sname, network=sspec.network, members=list(sspec.members), isp_address=isp)
        segments.append(seg)
        for member in sspec.members:
            seg_of[member] = seg
    return segments


def _routers(parts: RouterParts, entries: list[RouterEntry], nat_users: dict[str, list[RouterEntry]],
             nat_inside: dict[str, IPv4Interface], segments: list[Segment]) -> list[Router]:
    """Every router with its parts; its LAN and WAN on different interfaces."""
    seg_of = {member: seg for seg in segments for member in seg.members}
    nat_of_router = {e.name: nat for nat, users in nat_users.items() for e in users}
    routers: list[Router] = []
    for e in entries:
        nat = nat_of_router.get(e.name)
        lan = parts.lan(e)
        routers.append(
            Router(
                name=e.name,
                role=e.role,  # type: ignore[arg-type]
                index=e.index,
                tunnel_address=parts.tunnel_address(e),
                wan=parts.wan(e, nat, nat_inside.get(nat) if nat else None, seg_of.get(e.name),
                              nat_fleet=bool(nat) and len(nat_users[nat or ""]) > 1),
                lan=lan,
                nat=nat,
                template=parts.template(e),
                vars=parts.vars(e),
            )
        )
        ios = (routers[-1].wan.ios_name, lan.ios_name if lan else None)
        if ios[0] == ios[1]:
            raise TopologyProblem(e.path + ("lan", "ios_name"), f"expected a LAN interface other than the WAN's, got {ios[1]}")
    return routers


def _check_segment_addresses(routers: list[Router], entries: list[RouterEntry], segments: list[Segment],
                             fleets: set[str]) -> None:
    """Explicit addresses may collide on a shared segment or a NAT fleet's inside (the plan's never do)."""
    seg_names = {seg.name for seg in segments} | fleets
    on_segment: dict[IPv4Address, str] = {}
    paths = {e.name: e.path for e in entries}
    for r in routers:
        if r.wan.peer in seg_names:
            if r.wan.address.ip in on_segment:
                raise TopologyProblem(paths[r.name] + ("wan", "address"), f"expected an address not used by {on_segment[r.wan.address.ip]} on segment {r.wan.peer}, got {r.wan.address.ip}")
            on_segment[r.wan.address.ip] = r.name


def _nat_boxes(spec: TopologySpec, nat_users: dict[str, list[RouterEntry]], nat_index: dict[str, int],
               nat_inside: dict[str, IPv4Interface]) -> list[NatBox]:
    """The NAT boxes; each one's outside is, by default, the public /30 its (first) router would have had."""
    boxes: list[NatBox] = []
    for name, nspec in spec.nat_boxes.items():
        nspec = nspec or NatBoxSpec()
        users = nat_users[name]
        user = users[0]
        path: FieldPath = ("nat_boxes", name)
        if nspec.outside is not None:
            outside = interface(nspec.outside, 30, path + ("outside",))
            check_host_address(outside, path + ("outside",))
        else:
            outside = addressing.first_address(addressing.public_wan_network(user.index))
        if nspec.isp_address is not None:
            isp = interface(nspec.isp_address, outside.network.prefixlen, path + ("isp_address",))
            check_host_address(isp, path + ("isp_address",), outside.network)
            if isp.ip == outside.ip:
                raise TopologyProblem(path + ("isp_address",), f"expected an address other than the NAT box's outside {outside.ip}, got {isp.ip}")
        else:
            isp = IPv4Interface(f"{addressing.other_end(outside.network, outside.ip)}/{outside.network.prefixlen}")
        boxes.append(NatBox(name=name, index=nat_index[name], inside=nat_inside[name], outside=outside, isp_address=isp, routers=[u.name for u in users]))
    return boxes


def _management(spec: TopologySpec, routers: list[Router]) -> Management | None:
    """The management network: the spec's, or the default sized for the highest router index."""
    mspec = spec.management
    if mspec is None:
        return None
    highest = max((r.index for r in routers if r.template), default=0)
    network = mspec.network if mspec.network is not None else mgmt_plan.default_network(highest)
    if not mgmt_plan.fits(network, highest):
        raise TopologyProblem(("management", "network"),
                              f"expected a management network with room for router index {highest} at "
                              f".{mgmt_plan.ROUTER_OFFSET + highest} (e.g. a /{mgmt_plan.smallest_prefix(highest)} "
                              f"or larger), got {network}")
    return Management(network=network, username=mspec.username, password=mspec.password,
                      port=mspec.port, explicit=mspec.network is not None)
