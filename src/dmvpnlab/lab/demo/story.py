"""The Phase 3 story judged from captures: registration, the first packets via the hub, the redirect
and resolution, the direct path.

Pure: each function takes the topology and recorded sightings and returns items (claims
and the ladders that show them), so unit tests feed it recorded exchanges and the live
steps (`nhrp_steps`) only make the traffic. Imports `items`, `ladders`,
`dmvpnlab.analysis.paths`, `dmvpnlab.lab.topology.model` and the codec's packet types.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Sequence

from dmvpnlab.analysis.paths import IcmpSighting, NhrpSighting, echoes, nhrp_messages
from dmvpnlab.lab.demo.items import Check, Item
from dmvpnlab.lab.demo.ladders import address_names, clock, icmp_ladder, nhrp_ladder, public_nbma, traffic_indication_trigger, wan_link
from dmvpnlab.lab.topology.model import Host, Router, Topology
from dmvpnlab.nhrp.codec import PacketType

DIRECT_MARGIN = 0.05  # a packet sent this long after the last Resolution Reply must go direct


def story_cast(topology: Topology) -> tuple[Router, Host, Router, Host] | str:
    """(requester, its host, owner, its host) for the Phase 3 story, or why this lab has none."""
    phases = {r.vars.get("phase") for r in topology.routers if r.template}
    if phases != {3}:
        return f"not a Phase 3 lab (phase {', '.join(sorted(map(str, phases))) or 'none'})"
    spokes = [r for r in topology.spokes if r.lan and r.lan.hosts]
    if len(spokes) < 2:
        return "the story needs two spokes with LAN hosts"
    return spokes[0], spokes[0].lan.hosts[0], spokes[1], spokes[1].lan.hosts[0]  # type: ignore[union-attr]


def registration_story(topology: Topology, nhrp: Sequence[NhrpSighting]) -> list[Item]:
    """Every spoke's Registration Request to the hub and the hub's Reply, on the spoke's WAN link."""
    hub = topology.hub
    names = address_names(topology)
    shown: list[NhrpSighting] = []
    checks: list[Item] = []
    for spoke in topology.spokes:
        link, me = wan_link(spoke), spoke.tunnel_address.ip
        what = f"{spoke.name} registered with {hub.name} ({me} at NBMA {spoke.nbma_address})"
        requests = [s for s in nhrp_messages(nhrp, PacketType.REGISTRATION_REQUEST, link=link)
                    if s.packet.src_proto == me and s.packet.dst_proto == hub.tunnel_address.ip]
        if not requests:
            checks.append(Check(what, False, f"no Registration Request on {link}"))
            continue
        answered = [(q, r) for q in requests for r in nhrp_messages(nhrp, PacketType.REGISTRATION_REPLY, link=link, since=q.time)
                    if r.packet.request_id == q.packet.request_id and r.packet.src_proto == me]
        if not answered:
            checks.append(Check(what, False, f"{len(requests)} Registration Request(s) on {link}, no Reply"))
            continue
        request, reply = answered[0]
        code = reply.packet.cies[0].code if reply.packet.cies else 0
        ok = (code == 0 and request.outer_src == spoke.nbma_address and reply.outer_dst == spoke.nbma_address)
        checks.append(Check(what, ok, f"request id {request.packet.request_id} at {clock(request.time)} on {link}, "
                                      f"{'accepted' if code == 0 else f'refused, code {code}'} "
                                      f"{(reply.time - request.time) * 1000:.1f} ms later"))
        shown += [request, reply]
    if shown:
        checks.insert(0, nhrp_ladder("Registration Request/Reply on each spoke's WAN link", shown, names))
    return checks


def hub_path_story(topology: Topology, icmp: Sequence[IcmpSighting], since: float,
                   requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """The first echo and its reply cross the hub's WAN link, in and out (no shortcut yet)."""
    hub, hub_link = topology.hub, wan_link(topology.hub)
    hub_public = public_nbma(topology, hub)
    items: list[Item] = []
    for reply, a, b in ((False, requester, owner), (True, owner, requester)):
        seen = echoes(icmp, src.address.ip, dst.address.ip, reply=reply, since=since)
        kind = "echo reply" if reply else "echo request"
        what = (f"first {kind} {dst.name if reply else src.name} -> {src.name if reply else dst.name} "
                f"goes {a.name} -> {hub.name} -> {b.name}")
        if not seen:
            items.append(Check(what, False, "not seen on any link"))
            continue
        seq = min(s.seq for s in seen)
        hops = sorted((s for s in seen if s.seq == seq), key=lambda s: s.time)
        at_hub = [(s.outer_src, s.outer_dst) for s in hops if s.link == hub_link]
        ok = ((public_nbma(topology, a), hub_public) in at_hub and (hub.nbma_address, public_nbma(topology, b)) in at_hub)
        path = " -> ".join(s.link + (" (in)" if s.link == hub_link and s.outer_dst == hub.nbma_address else
                                     " (out)" if s.link == hub_link else "") for s in hops)
        items.append(Check(what, ok, f"seq {seq}: {path}"))
    return items


def redirect_story(topology: Topology, nhrp: Sequence[NhrpSighting], since: float,
                   requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """Traffic Indication to `requester`, its Resolution Request for `dst` forwarded by the hub
    (hop count down by one), and `owner`'s Resolution Reply straight to `requester`."""
    hub = topology.hub
    hub_link, req_link, own_link = wan_link(hub), wan_link(requester), wan_link(owner)
    hub_public, req_public, own_public = (public_nbma(topology, r) for r in (hub, requester, owner))
    me = requester.tunnel_address.ip
    target = dst.address.ip

    title = f"{hub.name} -> {requester.name}: Traffic Indication for {src.name} -> {dst.name}"
    indications = [s for s in nhrp_messages(nhrp, PacketType.TRAFFIC_INDICATION, link=req_link, since=since)
                   if traffic_indication_trigger(s.packet) == (src.address.ip, target)]
    if not indications:
        return [Check(title, False, f"none on {req_link}")]
    ti = indications[0]
    checks: list[Item] = [Check(title, ti.outer_src == hub_public and ti.packet.dst_proto == src.address.ip,
                                f"{clock(ti.time)} on {req_link}, {ti.outer_src} -> {ti.outer_dst}, "
                                f"addressed to {ti.packet.dst_proto}")]

    title = f"{requester.name} asks {hub.name}: Resolution Request for {target}"
    asked = [s for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REQUEST, link=req_link, since=ti.time)
             if s.packet.src_proto == me and s.packet.dst_proto == target and s.outer_src == requester.nbma_address]
    if not asked:
        return checks + [Check(title, False, f"none on {req_link} after the Traffic Indication")]
    ask = asked[0]
    rid, hops = ask.packet.request_id, ask.packet.hop_count
    checks.append(Check(title, ask.outer_dst == hub_public,
                        f"id {rid}, hop count {hops}, {(ask.time - ti.time) * 1000:.1f} ms after the redirect"))

    def same(s: NhrpSighting) -> bool:
        return s.packet.request_id == rid and s.packet.src_proto == me

    forwarded = [s for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REQUEST, link=hub_link, since=ask.time)
                 if same(s) and s.outer_src == hub.nbma_address and s.outer_dst == own_public]
    title = f"{hub.name} forwards it to {owner.name}, hop count {hops - 1}"
    checks.append(Check(title, bool(forwarded) and forwarded[0].packet.hop_count == hops - 1,
                        f"on {hub_link}, {hub.nbma_address} -> {own_public}, hop count {hops} -> "
                        f"{forwarded[0].packet.hop_count}" if forwarded else f"not seen on {hub_link}"))

    title = f"{owner.name} answers {requester.name} directly: Resolution Reply, not via {hub_link}"
    at_owner = [s for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REPLY, link=own_link, since=ask.time) if same(s) and s.outer_src == owner.nbma_address]
    at_requester = [s for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REPLY, link=req_link, since=ask.time)
                    if same(s) and s.outer_dst == requester.nbma_address]
    at_hub = [s for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REPLY, link=hub_link, since=ask.time) if same(s)]
    if not at_requester:
        return checks + [Check(title, False, f"no Resolution Reply id {rid} reached {req_link}")]
    reply = at_requester[0]
    direct = bool(at_owner) and reply.outer_src == own_public and not at_hub
    checks.append(Check(title, direct, f"id {rid}, {reply.outer_src} -> {reply.outer_dst} on {own_link} and {req_link}, "
                                       + (f"but also on {hub_link}" if at_hub else f"never on {hub_link}")
                        if at_owner else f"seen on {req_link} but not on {own_link}"))

    cie = reply.packet.cies[0] if reply.packet.cies else None
    if cie is None:
        return checks + [Check("the Resolution Reply carries the owner's prefix", False, "no CIE")]
    network = IPv4Network(f"{target}/{cie.prefix_len}", strict=False)
    expected = owner.lan.network if owner.lan else IPv4Network(f"{target}/32")
    checks.append(Check(f"the answer: {network} via {cie.proto} at NBMA {cie.nbma}",
                        network == expected and cie.proto == owner.tunnel_address.ip
                        and cie.nbma in (owner.nbma_address, own_public),
                        f"{owner.name}'s whole LAN, holdtime {cie.holdtime} s" if network == expected
                        else f"expected {expected} via {owner.tunnel_address.ip}"))
    return checks


def last_resolution_reply(nhrp: Sequence[NhrpSighting], since: float) -> float | None:
    """When the last Resolution Reply of the story was seen: after it, packets go direct."""
    times = [s.time for s in nhrp_messages(nhrp, PacketType.RESOLUTION_REPLY, since=since)]
    return max(times) if times else None


def direct_path_story(topology: Topology, icmp: Sequence[IcmpSighting], since: float, direct_after: float | None,
                      requester: Router, src: Host, owner: Router, dst: Host) -> list[Item]:
    """After the shortcut: echoes and replies only on the two spokes' WAN links, never the hub's;
    with a ladder of one sequence before and one after."""
    hub_link, req_link, own_link = wan_link(topology.hub), wan_link(requester), wan_link(owner)
    names = address_names(topology)
    there, back = src.address.ip, dst.address.ip
    seen = echoes(icmp, there, back, reply=False, since=since) + echoes(icmp, there, back, reply=True, since=since)
    by_seq: dict[int, list[IcmpSighting]] = {}
    for s in sorted(seen, key=lambda s: s.time):
        by_seq.setdefault(s.seq, []).append(s)
    if not by_seq:
        return [Check(f"echoes {src.name} -> {dst.name} seen", False, "none in the captures")]
    if direct_after is None:
        return [Check("a shortcut formed (a Resolution Reply was seen)", False, "no Resolution Reply in the captures")]
    later = [seq for seq, hops in by_seq.items() if hops[0].time > direct_after + DIRECT_MARGIN]
    items: list[Item] = []
    first = min(by_seq)
    items.append(icmp_ladder(f"Before: seq {first}, request and reply (via the hub)", by_seq[first], names))
    if not later:
        return items + [Check("echoes sent after the shortcut formed", False, "none: every echo was before it")]
    last = max(later)
    items.append(icmp_ladder(f"After: seq {last}, request and reply (direct)", by_seq[last], names))
    crossed = [seq for seq in later if any(s.link == hub_link for s in by_seq[seq])]
    items.append(Check(f"seq {min(later)}-{last}: never on {hub_link}", not crossed,
                       f"{len(later)} echo requests and their replies" if not crossed
                       else f"seq {', '.join(map(str, crossed))} crossed the hub"))
    ours = {requester.nbma_address, public_nbma(topology, requester)}
    theirs = {owner.nbma_address, public_nbma(topology, owner)}
    endpoints = {(a, b) for a in ours for b in theirs} | {(b, a) for a in ours for b in theirs}
    missing = [seq for seq in later
               if not {req_link, own_link} <= {s.link for s in by_seq[seq]}
               or any(s.encapsulated and (s.outer_src, s.outer_dst) not in endpoints for s in by_seq[seq])]
    items.append(Check(f"seq {min(later)}-{last}: spoke to spoke, {req_link} and {own_link} only", not missing,
                       f"GRE {requester.nbma_address} <-> {owner.nbma_address}" if not missing
                       else f"seq {', '.join(map(str, missing))} took another path"))
    return items
