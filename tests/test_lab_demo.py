"""The demo's Phase 3 story, judged from recorded sightings (no lab, no root).

The sightings below are the exchange a live `make demo` records on the default lab
(hub 203.0.113.1, spoke1 100.64.1.1, spoke2 100.64.2.1; h1 192.168.1.10, h2 192.168.2.10):
each packet appears once on every capture link it crossed, the hub's WAN link twice
for what the hub relays. Each test breaks one thing and expects the story to say so.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import SimpleNamespace

import pytest

from dmvpnlab.analysis.paths import IcmpSighting, NhrpSighting
from dmvpnlab.lab.demo.items import Check, Ladder, Output, Step
from dmvpnlab.lab.demo.ladders import address_names, nhrp_ladder
from dmvpnlab.lab.demo.show import dmvpn_peer_check, parse_show_dmvpn, route_check, without_legend
from dmvpnlab.lab.demo import nhrp_steps
from dmvpnlab.lab.demo.steps import STEPS, run_steps
from dmvpnlab.lab.demo.story import (
    direct_path_story,
    hub_path_story,
    last_resolution_reply,
    redirect_story,
    registration_story,
    story_cast,
)
from dmvpnlab.lab.demo.underlay_steps import open_commands
from dmvpnlab.lab.topology.yamlfile import load_topology
from dmvpnlab.nhrp.codec import CIE_ALREADY_REGISTERED, Cie, NhrpPacket, PacketType

ROOT = Path(__file__).resolve().parents[1]
TOPO = load_topology(ROOT / "topologies" / "default.yaml")
HUB, S1, S2 = (IPv4Address(a) for a in ("203.0.113.1", "100.64.1.1", "100.64.2.1"))
T_HUB, T1, T2 = (IPv4Address(a) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
H1, H2 = IPv4Address("192.168.1.10"), IPv4Address("192.168.2.10")
LINK = {HUB: "hub-isp", S1: "spoke1-isp", S2: "spoke2-isp"}
T0 = 1_700_000_000.0  # the story's first echo


def cast():
    requester, src, owner, dst = story_cast(TOPO)
    return requester, src, owner, dst


# ------------------------------------------------------------------ recorded packets


def crossing(t: float, src: IPv4Address, dst: IPv4Address, packet: NhrpPacket) -> list[NhrpSighting]:
    """One NHRP packet between two NBMA addresses: seen on the sender's and the receiver's link."""
    return [NhrpSighting(LINK[src], t, src, dst, packet), NhrpSighting(LINK[dst], t, src, dst, packet)]


def registration(spoke: IPv4Address, tunnel: IPv4Address, t: float, code: int = 0) -> list[NhrpSighting]:
    request = NhrpPacket(type=PacketType.REGISTRATION_REQUEST, src_nbma=spoke, src_proto=tunnel, dst_proto=T_HUB, request_id=1, cies=[Cie()])
    reply = NhrpPacket(type=PacketType.REGISTRATION_REPLY, src_nbma=spoke, src_proto=tunnel, dst_proto=T_HUB, request_id=1, cies=[Cie(code=code)])
    return crossing(t, spoke, HUB, request) + crossing(t + 0.0005, HUB, spoke, reply)


def traffic_indication(to: IPv4Address, trigger_src: IPv4Address, trigger_dst: IPv4Address, t: float) -> list[NhrpSighting]:
    header = bytes(12) + trigger_src.packed + trigger_dst.packed + bytes(8)
    packet = NhrpPacket(type=PacketType.TRAFFIC_INDICATION, src_nbma=HUB, src_proto=T_HUB, dst_proto=trigger_src, payload=header)
    return crossing(t, HUB, to, packet)


def resolution(requester: IPv4Address, me: IPv4Address, owner: IPv4Address, owner_tunnel: IPv4Address,
               target: IPv4Address, t: float, *, forwarded_hop: int = 254, reply_via_hub: bool = False,
               prefix_len: int = 24) -> list[NhrpSighting]:
    """Request to the hub (hop 255), the hub's forwarded copy, the owner's reply."""
    def request(hop: int) -> NhrpPacket:
        return NhrpPacket(type=PacketType.RESOLUTION_REQUEST, src_nbma=requester, src_proto=me, dst_proto=target, request_id=2,
                          hop_count=hop, cies=[Cie()])
    reply = NhrpPacket(type=PacketType.RESOLUTION_REPLY, src_nbma=requester, src_proto=me, dst_proto=target, request_id=2,
                       cies=[Cie(prefix_len=prefix_len, holdtime=300, nbma=owner, proto=owner_tunnel)])
    sightings = crossing(t, requester, HUB, request(255)) + crossing(t + 0.002, HUB, owner, request(forwarded_hop))
    if reply_via_hub:
        return sightings + crossing(t + 0.003, owner, HUB, reply) + crossing(t + 0.004, HUB, requester, reply)
    return sightings + crossing(t + 0.003, owner, requester, reply)


def phase3_nhrp(**spoke1_resolution: object) -> list[NhrpSighting]:
    """Both registrations, then the redirect and resolution in both directions."""
    return sorted(registration(S1, T1, T0 - 2) + registration(S2, T2, T0 - 1.9)
                  + traffic_indication(S1, H1, H2, T0 + 0.001) + traffic_indication(S2, H2, H1, T0 + 0.0015)
                  + resolution(S1, T1, S2, T2, H2, T0 + 0.004, **spoke1_resolution)  # type: ignore[arg-type]
                  + resolution(S2, T2, S1, T1, H1, T0 + 0.0045), key=lambda s: s.time)


def echo(seq: int, t: float, via_hub: bool) -> list[IcmpSighting]:
    """Echo request h1 -> h2 and its reply, on every link they crossed."""
    out: list[IcmpSighting] = []
    for kind, (a, b), (na, nb), lans in ((8, (H1, H2), (S1, S2), ("spoke1-h1", "spoke2-h2")),
                                         (0, (H2, H1), (S2, S1), ("spoke2-h2", "spoke1-h1"))):
        hops: list[tuple[str, IPv4Address | None, IPv4Address | None]] = [(lans[0], None, None)]
        if via_hub:
            hops += [(LINK[na], na, HUB), ("hub-isp", na, HUB), ("hub-isp", HUB, nb), (LINK[nb], HUB, nb)]
        else:
            hops += [(LINK[na], na, nb), (LINK[nb], na, nb)]
        hops.append((lans[1], None, None))
        for i, (link, outer_src, outer_dst) in enumerate(hops):
            out.append(IcmpSighting(link, t + (0.0003 * i if kind == 8 else 0.001 + 0.0003 * i), a, b, kind,
                                    0x1234, seq, outer_src, outer_dst))
    return out


def phase3_icmp(later_via_hub: tuple[int, ...] = ()) -> list[IcmpSighting]:
    """Ten echoes 0.2 s apart: the first via the hub, then direct (unless told otherwise)."""
    return sorted([s for seq in range(1, 11)
                   for s in echo(seq, T0 + 0.2 * (seq - 1), via_hub=seq == 1 or seq in later_via_hub)],
                  key=lambda s: s.time)


def failed(items: list) -> list[Check]:
    return [i for i in items if isinstance(i, Check) and not i.ok]


def checks(items: list) -> list[Check]:
    return [i for i in items if isinstance(i, Check)]


# ------------------------------------------------------------------ who plays the story


def test_default_lab_casts_spoke1_h1_as_requester_and_spoke2_h2_as_owner():
    requester, src, owner, dst = cast()
    assert (requester.name, src.name, owner.name, dst.name) == ("spoke1", "h1", "spoke2", "h2")


def test_a_phase1_lab_has_no_phase3_story_and_says_why():
    reason = story_cast(load_topology(ROOT / "topologies" / "phase1.yaml"))
    assert isinstance(reason, str) and "not a Phase 3 lab" in reason


# ------------------------------------------------------------------ registrations


def test_registration_story_shows_each_spokes_request_and_reply_on_its_wan_link():
    items = registration_story(TOPO, phase3_nhrp())
    ladder = items[0]
    assert isinstance(ladder, Ladder)
    assert [row[2] for row in ladder.rows] == ["spoke1-isp"] * 2 + ["spoke2-isp"] * 2
    assert "Registration Request id 1: 10.0.0.2 is at NBMA 100.64.1.1" in ladder.rows[0][4]
    assert "Registration Reply id 1: accepted" in ladder.rows[1][4]
    assert [c.what for c in checks(items)] == ["spoke1 registered with hub (10.0.0.2 at NBMA 100.64.1.1)",
                                               "spoke2 registered with hub (10.0.0.3 at NBMA 100.64.2.1)"]
    assert not failed(items)
    assert "request id 1" in checks(items)[0].detail and "0.5 ms later" in checks(items)[0].detail


def test_a_spoke_whose_registration_was_never_answered_fails_naming_its_link():
    nhrp = [s for s in phase3_nhrp() if not (s.packet.type == PacketType.REGISTRATION_REPLY and s.packet.src_proto == T2)]
    bad = failed(registration_story(TOPO, nhrp))
    assert [c.what.split()[0] for c in bad] == ["spoke2"]
    assert "on spoke2-isp, no Reply" in bad[0].detail


def test_a_refused_registration_fails():
    nhrp = sorted(registration(S1, T1, T0) + registration(S2, T2, T0 + 1, code=CIE_ALREADY_REGISTERED),
                  key=lambda s: s.time)
    bad = failed(registration_story(TOPO, nhrp))
    assert len(bad) == 1 and "refused, code 14" in bad[0].detail


def test_a_spoke_that_sent_nothing_fails():
    nhrp = [s for s in phase3_nhrp() if s.packet.src_proto != T1]
    bad = failed(registration_story(TOPO, nhrp))
    assert bad and bad[0].detail == "no Registration Request on spoke1-isp"


# ------------------------------------------------------------------ show dmvpn

SPOKE1_SHOW_DMVPN = """\
Interface: Tunnel0, IPv4 NHRP Details 
Type:Spoke, NHRP Peers:2, 

 # Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb
 ----- --------------- --------------- ----- -------- -----
     1 203.0.113.1            10.0.0.1    UP 00:00:02     S
     2 100.64.2.1             10.0.0.3    UP 00:00:02   DT2
                              10.0.0.3    UP 00:00:02   DT1
"""


def test_show_dmvpn_rows_and_continuation_rows_are_read_with_their_nbma():
    peers = parse_show_dmvpn("Legend: Attrb --> S - Static\n" + SPOKE1_SHOW_DMVPN)
    assert [(p.nbma, p.tunnel, p.state, p.attributes) for p in peers] == [
        ("203.0.113.1", "10.0.0.1", "UP", "S"),
        ("100.64.2.1", "10.0.0.3", "UP", "DT2"),
        ("100.64.2.1", "10.0.0.3", "UP", "DT1"),
    ]


def test_dmvpn_peer_check_wants_the_peer_up():
    assert dmvpn_peer_check("spoke1", SPOKE1_SHOW_DMVPN, "spoke2", S2, T2).ok
    down = SPOKE1_SHOW_DMVPN.replace("10.0.0.3    UP", "10.0.0.3  NHRP")
    check = dmvpn_peer_check("spoke1", down, "spoke2", S2, T2)
    assert not check.ok and "state NHRP" in check.detail
    assert not dmvpn_peer_check("spoke1", SPOKE1_SHOW_DMVPN, "spoke3", IPv4Address("100.64.3.1"),
                                IPv4Address("10.0.0.4")).ok


def test_without_legend_starts_at_the_marker_and_keeps_everything_when_it_is_missing():
    text = "Legend: x\n  more legend\nInterface: Tunnel0\n rows"
    assert without_legend(text, "Interface:") == "Interface: Tunnel0\n rows"
    assert without_legend(text, "Gateway") == text


# ------------------------------------------------------------------ first packets via the hub


def test_the_first_echo_and_its_reply_cross_the_hub_in_and_out():
    items = hub_path_story(TOPO, phase3_icmp(), T0, *cast())
    assert not failed(items) and len(items) == 2
    assert items[0].detail == ("seq 1: spoke1-h1 -> spoke1-isp -> hub-isp (in) -> hub-isp (out) "
                               "-> spoke2-isp -> spoke2-h2")


def test_a_first_echo_that_went_direct_fails_the_via_hub_check():
    icmp = [s for s in phase3_icmp() if s.seq != 1]  # as if a shortcut existed before the story
    bad = failed(hub_path_story(TOPO, icmp, T0, *cast()))
    assert len(bad) == 2 and "hub-isp" not in bad[0].detail


# ------------------------------------------------------------------ redirect and resolution


def test_redirect_then_forwarded_resolution_then_direct_reply_holds_in_both_directions():
    requester, src, owner, dst = cast()
    forward = redirect_story(TOPO, phase3_nhrp(), T0, requester, src, owner, dst)
    back = redirect_story(TOPO, phase3_nhrp(), T0, owner, dst, requester, src)
    assert not failed(forward) and not failed(back)
    assert [c.what for c in forward] == [
        "hub -> spoke1: Traffic Indication for h1 -> h2",
        "spoke1 asks hub: Resolution Request for 192.168.2.10",
        "hub forwards it to spoke2, hop count 254",
        "spoke2 answers spoke1 directly: Resolution Reply, not via hub-isp",
        "the answer: 192.168.2.0/24 via 10.0.0.3 at NBMA 100.64.2.1",
    ]
    assert "hop count 255 -> 254" in forward[2].detail
    assert "never on hub-isp" in forward[3].detail


def test_a_resolution_reply_relayed_by_the_hub_is_not_a_direct_reply():
    bad = failed(redirect_story(TOPO, phase3_nhrp(reply_via_hub=True), T0, *cast()))
    assert [c.what for c in bad] == ["spoke2 answers spoke1 directly: Resolution Reply, not via hub-isp"]


def test_the_hub_must_decrement_the_hop_count_when_it_forwards():
    bad = failed(redirect_story(TOPO, phase3_nhrp(forwarded_hop=255), T0, *cast()))
    assert [c.what for c in bad] == ["hub forwards it to spoke2, hop count 254"]
    assert "255 -> 255" in bad[0].detail


def test_a_host_route_answer_is_not_the_owners_lan():
    bad = failed(redirect_story(TOPO, phase3_nhrp(prefix_len=32), T0, *cast()))
    assert len(bad) == 1 and "expected 192.168.2.0/24 via 10.0.0.3" in bad[0].detail


def test_without_a_traffic_indication_for_the_flow_the_story_stops_at_the_redirect():
    nhrp = [s for s in phase3_nhrp() if not (s.packet.type == PacketType.TRAFFIC_INDICATION and s.outer_dst == S1)]
    nhrp += traffic_indication(S1, H1, IPv4Address("192.168.0.10"), T0)  # a redirect for another flow
    items = redirect_story(TOPO, sorted(nhrp, key=lambda s: s.time), T0, *cast())
    assert len(items) == 1 and not items[0].ok and items[0].detail == "none on spoke1-isp"


def test_messages_from_before_the_story_are_not_counted():
    items = redirect_story(TOPO, phase3_nhrp(), T0 + 1, *cast())
    assert len(items) == 1 and not items[0].ok


def test_nhrp_ladder_names_the_routers_and_hosts_and_says_what_each_message_means():
    story = [s for s in phase3_nhrp() if s.time >= T0]
    ladder = nhrp_ladder("t", story, address_names(TOPO))
    first = ladder.rows[0]
    assert first[1] == "0.0" and first[3] == "203.0.113.1 (hub) -> 100.64.1.1 (spoke1)"
    assert first[4] == "Traffic Indication: h1 -> h2 has a better path"
    messages = [row[4] for row in ladder.rows]
    assert "Resolution Request id 2 hop 254: 10.0.0.2 asks for 192.168.2.10" in messages
    assert "Resolution Reply id 2: 192.168.2.0/24 via 10.0.0.3 at NBMA 100.64.2.1, hold 300s" in messages


def test_the_last_resolution_reply_marks_when_packets_must_go_direct():
    assert last_resolution_reply(phase3_nhrp(), T0) == pytest.approx(T0 + 0.0045 + 0.003)
    assert last_resolution_reply(phase3_nhrp(), T0 + 1) is None


# ------------------------------------------------------------------ shortcut routes


def test_route_checks_read_the_ios_h_line_and_the_kernel_route():
    ios = ("Gateway of last resort is 100.64.1.2 to network 0.0.0.0\n\n"
           "H     192.168.2.0/24 [250/1] via 10.0.0.3, 00:00:02, Tunnel0\n")
    net = IPv4Network("192.168.2.0/24")
    assert route_check("spoke1", "show ip route nhrp", ios, net, T2).ok
    assert not route_check("spoke1", "show ip route nhrp", ios.replace("H  ", "S  "), net, T2).ok
    kernel = "192.168.2.0/24 via 10.0.0.3 dev Tunnel0 \n"
    assert route_check("spoke1", "ip route show proto nhrp", kernel, net, T2).ok
    assert not route_check("spoke1", "ip route show proto nhrp", kernel, net, T_HUB).ok
    assert route_check("spoke1", "ip route show proto nhrp", "", net, T2).detail == "no such route"


# ------------------------------------------------------------------ the direct path


def test_after_the_shortcut_every_echo_stays_off_the_hub_with_ladders_before_and_after():
    items = direct_path_story(TOPO, phase3_icmp(), T0, last_resolution_reply(phase3_nhrp(), T0), *cast())
    before, after = items[0], items[1]
    assert isinstance(before, Ladder) and isinstance(after, Ladder)
    assert before.title.startswith("Before: seq 1") and after.title.startswith("After: seq 10")
    assert "hub-isp" in [row[2] for row in before.rows]
    assert [row[2] for row in after.rows] == ["spoke1-h1", "spoke1-isp", "spoke2-isp", "spoke2-h2",
                                              "spoke2-h2", "spoke2-isp", "spoke1-isp", "spoke1-h1"]
    assert after.rows[1][3] == "100.64.1.1 (spoke1) -> 100.64.2.1 (spoke2)"
    assert after.rows[1][4] == "echo request h1 -> h2 seq 10 in GRE"
    assert after.rows[0][3] == "(LAN, not encapsulated)"
    assert not failed(items)
    assert checks(items)[0].what == "seq 2-10: never on hub-isp"


def test_a_later_echo_through_the_hub_fails_the_direct_path():
    icmp = phase3_icmp(later_via_hub=(7,))
    bad = failed(direct_path_story(TOPO, icmp, T0, last_resolution_reply(phase3_nhrp(), T0), *cast()))
    assert [c.detail for c in bad] == ["seq 7 crossed the hub", "seq 7 took another path"]


def test_no_resolution_reply_means_no_direct_path_to_show():
    items = direct_path_story(TOPO, phase3_icmp(), T0, None, *cast())
    assert len(items) == 1 and not items[0].ok


def test_when_every_echo_was_sent_before_the_shortcut_the_story_fails():
    icmp = [s for s in phase3_icmp() if s.seq == 1]
    items = direct_path_story(TOPO, icmp, T0, last_resolution_reply(phase3_nhrp(), T0), *cast())
    assert isinstance(items[0], Ladder) and failed(items)


# ------------------------------------------------------------------ printing and running


def test_open_commands_give_paths_relative_to_where_the_user_is():
    text = open_commands(Path("/work/main/captures/default"), Path("/work/main/captures/default/hub-isp.pcapng"),
                         cwd=Path("/work/main"))
    assert "wireshark captures/default/hub-isp.pcapng" in text
    assert "dmvpnlab pcap captures/default/hub-isp.pcapng" in text
    elsewhere = open_commands(Path("/srv/c"), Path("/srv/c/hub-isp.pcapng"), cwd=Path("/work/main"))
    assert "wireshark /srv/c/hub-isp.pcapng" in elsewhere


def test_plain_output_prints_checks_outputs_and_aligned_ladders_and_fails_on_any_failed_check():
    def story(lab: object) -> list:
        return [Ladder("ladder", ["time", "link", "what"], [["1.0", "spoke1-isp", "a"], ["2.0", "hub-isp", "b"]]),
                Output("hub# show dmvpn", "row 1\nrow 2"),
                Check("held", True, "detail"), Check("did not hold", False)]

    lines: list[str] = []
    ok = run_steps(None, out=lines.append, steps=[Step("story", story)])
    assert not ok
    assert lines == ["\n[1] story", "    ladder",
                     "      time  link        what", "      ----  ----------  ----",
                     "      1.0   spoke1-isp  a", "      2.0   hub-isp     b",
                     "    hub# show dmvpn", "      row 1", "      row 2",
                     "    ok   held  (detail)", "    FAIL did not hold"]


def test_a_step_that_crashes_fails_the_demo_and_the_next_steps_still_run():
    def crash(lab: object) -> list:
        raise ConnectionRefusedError("control socket gone")

    lines: list[str] = []
    ok = run_steps(None, out=lines.append, steps=[Step("crash", crash), Step("fine", lambda lab: [Check("x", True)])])
    assert not ok
    assert "    FAIL step ran  (ConnectionRefusedError: control socket gone)" in lines
    assert lines[-1] == "    ok   x"


def test_a_step_that_only_shows_something_holds():
    lines: list[str] = []
    assert run_steps(None, out=lines.append, steps=[Step("skip", lambda lab: [Output("Skipped", "why")])])


def test_rich_output_renders_the_same_story(capsys):
    run_steps(None, steps=[Step("story", lambda lab: [Ladder("l", ["time", "+ms"], [["1", "2"]]),
                                                     Check("held [1]", True)])], rich=True)
    out = capsys.readouterr().out
    assert "[1] story" in out and "held [1]" in out and "+ms" in out


class QuietLab:
    """The Lab API the demo's steps use, on no lab: every ping answers, captures and CLI are empty."""

    def __init__(self, directory: Path, topology=TOPO) -> None:
        self.topology = topology
        self.agents = ["hub", "spoke1", "spoke2"]
        self.captures = SimpleNamespace(directory=directory)
        self.records = SimpleNamespace(directory=directory)

    def ping(self, node: str, address: str, count: int = 1) -> SimpleNamespace:
        return SimpleNamespace(ok=True, rc=0, stdout=f"{count} packets transmitted, {count} received", stderr="")

    def exec(self, node: str, argv: list[str], timeout: float | None = None) -> SimpleNamespace:
        return SimpleNamespace(ok=True, rc=0, stdout="", stderr="")

    def flush_captures(self) -> None:
        pass

    def capture_files(self) -> list[Path]:
        return []

    def capture_path(self, owner: str, peer: str) -> Path:
        return self.captures.directory / f"{owner}-{peer}.pcapng"


def test_every_demo_step_runs_to_its_checks_on_a_lab_that_shows_nothing(tmp_path, monkeypatch):
    """The live steps (what `make demo` runs) only fail their checks when nothing was seen; none crashes."""
    monkeypatch.setattr(nhrp_steps, "run_cli", lambda directory, command: "")
    monkeypatch.setattr(nhrp_steps, "ROUTE_WAIT", 0.0)
    lines: list[str] = []
    assert not run_steps(QuietLab(tmp_path), out=lines.append)
    default = [step for step in STEPS if step.when is None]  # no tunnel protection: no IPsec chapter
    assert [line for line in lines if line.startswith("\n[")] == [f"\n[{n}] {step.title}" for n, step in enumerate(default, 1)]
    assert not [line for line in lines if "IPsec" in line]
    assert not [line for line in lines if "FAIL step ran" in line]
    assert "    ok   spoke1 -> hub NBMA 203.0.113.1  (2 packets transmitted, 2 received)" in lines
    assert "    FAIL spoke1 registered with hub (10.0.0.2 at NBMA 100.64.1.1)  (no Registration Request on spoke1-isp)" in lines
