"""EigrpProcess, the EIGRP router of one AS, on an in-memory wire (tests/eigrp_wire.py):
real packets through the codec, a fake clock, several processes talking to each other.

Metrics are IOS's: two routers on a FastEthernet-like LAN (100 Mbit/s, 100 us) each with
a stub LAN learn the other's LAN at 256 * (100 + 20) = 30720.
"""

from __future__ import annotations

import random
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from eigrp_wire import FAST, Wire

from dmvpnlab.routing.eigrp.codec import FLAG_EOT, MULTICAST_GROUP, Opcode, decode
from dmvpnlab.routing.eigrp.metric import classic_metric
from dmvpnlab.routing.eigrp.process import EigrpProcess
from dmvpnlab.routing.eigrp.settings import EigrpInterfaceSettings, EigrpKey


def pair(a_opts: dict | None = None, b_opts: dict | None = None, a_kw: dict | None = None,
         b_kw: dict | None = None, debug: bool = False) -> Wire:
    """R1 (LAN 192.168.1.0/24) and R2 (LAN 192.168.2.0/24) on 10.0.12.0/24."""
    wire = Wire()
    wire.segment("link")
    wire.router("R1", [("Ethernet0/0", "10.0.12.1/24", "link", {**FAST, **(a_opts or {})}),
                       ("Ethernet0/1", "192.168.1.1/24", "", FAST)], debug=debug, **(a_kw or {}))
    wire.router("R2", [("Ethernet0/0", "10.0.12.2/24", "link", {**FAST, **(b_opts or {})}),
                       ("Ethernet0/1", "192.168.2.1/24", "", FAST)], debug=debug, **(b_kw or {}))
    return wire


def opcodes(wire: Wire, router: str) -> list[int]:
    return [decode(d).opcode for n, _, _, d in wire.sent if n == router]


def test_two_routers_discover_each_other_and_learn_both_lans():
    wire = pair()
    wire.run(2)
    r1, r2 = wire.routers["R1"], wire.routers["R2"]
    [route] = [r for r in r1.routes() if str(r.prefix) == "192.168.2.0/24"]
    assert route.next_hops == ((IPv4Address("10.0.12.2"), "Ethernet0/0"),)
    assert (route.ad, route.metric, route.external) == (90, classic_metric(100_000, 200), False)
    assert route.metric == 30720
    assert wire.hops("R2", "192.168.1.0/24") == ["10.0.12.1"]
    # connected subnets are not routes to install
    assert wire.route("R1", "10.0.12.0/24") is None and wire.route("R1", "192.168.1.0/24") is None
    [nbr] = r1.neighbor_views(wire.now)
    assert (nbr.handle, nbr.address, nbr.interface, nbr.q_count) == (0, IPv4Address("10.0.12.2"), "Ethernet0/0", 0)
    assert 10 <= nbr.hold_remaining <= 15 and nbr.sequence > 0
    assert "%DUAL-5-NBRCHANGE: EIGRP-IPv4 100: Neighbor 10.0.12.2 (Ethernet0/0) is up: new adjacency" in r1.log


def test_routes_version_bumps_only_on_change_and_since_is_when_the_route_appeared():
    wire = pair()
    wire.run(2)
    r1 = wire.routers["R1"]
    version, since = r1.routes_version, wire.route("R1", "192.168.2.0/24").since
    assert version > 0 and 0 < since <= 1
    wire.run(10)   # hellos only
    assert r1.routes_version == version and wire.route("R1", "192.168.2.0/24").since == since


def test_the_full_table_ends_with_eot_and_fits_the_mtu():
    """60 connected subnets (passive LANs) do not fit one 1400-byte packet: several
    UPDATEs, the last one with EOT, none larger than the MTU less the IP header."""
    wire = Wire()
    wire.segment("link")
    lans = [(f"Loopback{n}", f"172.16.{n}.1/24", "", {"passive": True}) for n in range(60)]
    wire.router("R1", [("Ethernet0/0", "10.0.12.1/24", "link", {**FAST, "mtu": 1400})] + lans)
    wire.router("R2", [("Ethernet0/0", "10.0.12.2/24", "link", {**FAST, "mtu": 1400})])
    wire.run(2)
    updates = [decode(d) for n, _, dst, d in wire.sent if n == "R1" and decode(d).opcode == Opcode.UPDATE
               and decode(d).tlvs]
    assert len(updates) >= 2 and updates[-1].flags & FLAG_EOT and not updates[0].flags & FLAG_EOT
    assert max(len(d) for n, _, _, d in wire.sent if n == "R1") <= 1400 - 20
    assert len([r for r in wire.routers["R2"].routes() if str(r.prefix).startswith("172.16.")]) == 60
    assert all(len(t.destinations) == 1 for u in updates for t in u.tlvs)   # one per TLV, as IOS


def test_hold_time_expiry_takes_the_neighbour_and_its_routes_away():
    wire = pair()
    wire.run(2)
    wire.segments["link"].up = False     # silence, no goodbye; R2 last heard at 0.1 s
    wire.run(12)
    assert wire.route("R1", "192.168.2.0/24") is not None
    wire.run(2)
    assert wire.route("R1", "192.168.2.0/24") is None and wire.routers["R1"].neighbor_views(wire.now) == []
    assert any("Neighbor 10.0.12.2 (Ethernet0/0) is down: holding time expired" in x for x in wire.routers["R1"].log)


def test_stop_sends_goodbye_and_the_peer_drops_at_once():
    wire = pair()
    wire.run(2)
    version = wire.routers["R1"].routes_version
    wire.routers["R2"].stop(wire.now)
    wire.deliver()
    assert wire.route("R1", "192.168.2.0/24") is None
    assert any("is down: Interface Goodbye received" in x for x in wire.routers["R1"].log)
    assert wire.routers["R2"].routes() == [] and wire.routers["R1"].routes_version > version
    wire.routers["R2"].receive("Ethernet0/0", IPv4Address("10.0.12.1"), b"x", wire.now)   # stopped: dropped
    assert wire.routers["R2"].counters()["drops"]["process stopped"] == 1


def test_a_restarted_neighbour_is_learned_again():
    wire = pair()
    wire.run(2)
    wire.routers["R2"].stop(wire.now)
    wire.deliver()
    wire.routers["R2"] = EigrpProcess(wire.settings["R2"], wire.now)
    wire.run(3)
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]
    assert wire.hops("R2", "192.168.1.0/24") == ["10.0.12.1"]


def test_a_neighbour_that_restarts_without_goodbye_is_reset_and_relearned():
    wire = pair()
    wire.run(2)
    wire.routers["R2"] = EigrpProcess(wire.settings["R2"], wire.now)   # crash + start: no goodbye
    wire.run(6)     # R2 learns of R1 by its next hello; R1 sees R2's INIT: "peer restarted"
    assert any("is down: peer restarted" in x for x in wire.routers["R1"].log)
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]
    assert wire.hops("R2", "192.168.1.0/24") == ["10.0.12.1"]


KEYS = (EigrpKey(1, b"cisco123"), EigrpKey(2, b"later"))


def test_md5_with_the_same_key_chain_forms_the_adjacency_signed_with_the_lowest_key():
    wire = pair({"md5_keys": KEYS}, {"md5_keys": (KEYS[0],)})
    wire.run(2)
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]
    auth = decode(wire.sent[0][3]).tlvs[0]
    assert auth.key_id == 1 and len(auth.digest) == 16
    # hellos are signed over their first 44 bytes + the key (as FRR says Cisco does),
    # everything else over the whole packet
    from dmvpnlab.routing.eigrp.codec import verify_md5
    hello = next(d for n, _, _, d in wire.sent if n == "R1" and decode(d).opcode == Opcode.HELLO)
    update = next(d for n, _, _, d in wire.sent if n == "R1" and decode(d).opcode == Opcode.UPDATE)
    assert verify_md5(hello, b"cisco123", basic=True) and not verify_md5(hello, b"cisco123")
    assert verify_md5(update, b"cisco123") and not verify_md5(update, b"later")


def test_md5_with_a_wrong_key_forms_no_adjacency_and_counts_the_drops():
    wire = pair({"md5_keys": (EigrpKey(1, b"cisco123"),)}, {"md5_keys": (EigrpKey(1, b"wrong"),)})
    wire.run(6)
    for name in ("R1", "R2"):
        assert wire.routers[name].neighbor_views(wire.now) == [] and wire.routers[name].routes() == []
        assert wire.routers[name].counters()["drops"]["auth"] >= 2


def test_md5_on_one_side_only_forms_no_adjacency():
    wire = pair({"md5_keys": (EigrpKey(1, b"cisco123"),)}, {})
    wire.run(6)
    assert wire.routers["R1"].neighbor_views(wire.now) == [] and wire.routers["R2"].neighbor_views(wire.now) == []
    assert wire.routers["R2"].counters()["drops"]["auth"] >= 2


def test_k_value_mismatch_forms_no_adjacency():
    wire = pair(b_kw={"k_values": (1, 0, 1, 0, 1)})
    wire.run(6)
    assert wire.routers["R1"].neighbor_views(wire.now) == []
    assert wire.routers["R1"].counters()["drops"]["k-mismatch"] >= 1
    assert any("K-value mismatch" in x for x in wire.routers["R1"].log)


def test_a_passive_interface_is_advertised_but_sends_no_hellos():
    wire = pair()
    wire.settings["R2"] = replace(wire.settings["R2"], interfaces=(
        wire.settings["R2"].interfaces[0], replace(wire.settings["R2"].interfaces[1], passive=True)))
    wire.routers["R2"].reconfigure(wire.settings["R2"], wire.now)
    wire.deliver()
    wire.sent.clear()
    wire.run(12)
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]
    assert {i for n, i, _, _ in wire.sent if n == "R2"} == {"Ethernet0/0"}
    r2 = wire.routers["R2"]
    r2.receive("Ethernet0/1", IPv4Address("192.168.2.9"), wire.sent[0][3], wire.now)
    assert r2.counters()["drops"]["passive interface"] == 1
    assert [v.passive for v in r2.interface_views(wire.now)] == [False, True]


def square(variance: int = 1, maximum_paths: int = 4) -> Wire:
    """A-B-D and A-C-D, the A-C link slower (1000 us): B the successor to D's LAN, C a
    feasible successor (its distance 30720 is below A's 33280)."""
    wire = Wire()
    for seg in ("ab", "ac", "bd", "cd"):
        wire.segment(seg)
    slow = {**FAST, "delay_usec": 1000}
    wire.router("A", [("e-ab", "10.0.12.1/24", "ab", FAST), ("e-ac", "10.0.13.1/24", "ac", slow)],
                variance=variance, maximum_paths=maximum_paths)
    wire.router("B", [("e-ab", "10.0.12.2/24", "ab", FAST), ("e-bd", "10.0.24.2/24", "bd", FAST)])
    wire.router("C", [("e-ac", "10.0.13.3/24", "ac", slow), ("e-cd", "10.0.34.3/24", "cd", FAST)])
    wire.router("D", [("e-bd", "10.0.24.4/24", "bd", FAST), ("e-cd", "10.0.34.4/24", "cd", FAST),
                      ("lan", "192.168.4.1/24", "", FAST)])
    wire.run(3)
    return wire


def test_variance_installs_a_feasible_successor_as_a_second_next_hop():
    assert square(1).hops("A", "192.168.4.0/24") == ["10.0.12.2"]
    wire = square(2)
    assert wire.hops("A", "192.168.4.0/24") == ["10.0.12.2", "10.0.13.3"]
    assert wire.route("A", "192.168.4.0/24").metric == classic_metric(100_000, 300)
    [entry] = [t for t in wire.routers["A"].topology_views() if str(t.prefix) == "192.168.4.0/24"]
    assert (entry.state, entry.successors, entry.fd) == ("P", 2, classic_metric(100_000, 300))
    assert [(str(p.via), p.metric, p.reported, p.interface) for p in entry.paths] == [
        ("10.0.12.2", 33280, 30720, "e-ab"), ("10.0.13.3", 56320, 30720, "e-ac")]


def test_variance_and_maximum_paths_change_live():
    wire = square(1)
    a = wire.routers["A"]
    a.reconfigure(replace(wire.settings["A"], variance=2), wire.now)
    assert wire.hops("A", "192.168.4.0/24") == ["10.0.12.2", "10.0.13.3"]
    a.reconfigure(replace(wire.settings["A"], variance=2, maximum_paths=1), wire.now)
    assert wire.hops("A", "192.168.4.0/24") == ["10.0.12.2"]


def diamond(maximum_paths: int = 4) -> Wire:
    wire = Wire()
    for seg in ("ab", "ac", "bd", "cd"):
        wire.segment(seg)
    wire.router("A", [("e-ab", "10.0.12.1/24", "ab", FAST), ("e-ac", "10.0.13.1/24", "ac", FAST)],
                maximum_paths=maximum_paths)
    wire.router("B", [("e-ab", "10.0.12.2/24", "ab", FAST), ("e-bd", "10.0.24.2/24", "bd", FAST)])
    wire.router("C", [("e-ac", "10.0.13.3/24", "ac", FAST), ("e-cd", "10.0.34.3/24", "cd", FAST)])
    wire.router("D", [("e-bd", "10.0.24.4/24", "bd", FAST), ("e-cd", "10.0.34.4/24", "cd", FAST),
                      ("lan", "192.168.4.1/24", "", FAST)])
    wire.run(3)
    return wire


def test_equal_cost_paths_are_all_installed_up_to_maximum_paths():
    assert diamond().hops("A", "192.168.4.0/24") == ["10.0.12.2", "10.0.13.3"]
    assert diamond(maximum_paths=1).hops("A", "192.168.4.0/24") == ["10.0.12.2"]


def test_losing_the_successor_switches_to_the_feasible_successor_without_a_query():
    wire = square(1)
    wire.sent.clear()
    wire.segments["ab"].up = False
    wire.run(16)
    assert wire.hops("A", "192.168.4.0/24") == ["10.0.13.3"]
    assert Opcode.QUERY not in [decode(d).opcode for n, _, _, d in wire.sent if n == "A"
                                and "192.168.4" in repr(decode(d).tlvs)]


def test_an_interface_going_down_and_up_withdraws_and_restores():
    wire = pair()
    wire.run(2)
    wire.routers["R2"].set_interface_state("Ethernet0/1", False, wire.now)
    wire.deliver()
    assert wire.route("R1", "192.168.2.0/24") is None
    wire.routers["R2"].set_interface_state("Ethernet0/1", True, wire.now)
    wire.deliver()
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]


def test_reconfigure_adds_and_removes_interfaces():
    wire = pair()
    wire.run(2)
    s = wire.settings["R2"]
    extra = EigrpInterfaceSettings("Ethernet0/2", IPv4Interface("172.16.9.1/24"), passive=True)
    wire.routers["R2"].reconfigure(replace(s, interfaces=s.interfaces + (extra,)), wire.now)
    wire.deliver()
    assert wire.hops("R1", "172.16.9.0/24") == ["10.0.12.2"]
    wire.routers["R2"].reconfigure(replace(s, interfaces=s.interfaces[:1]), wire.now)
    wire.deliver()
    assert wire.route("R1", "172.16.9.0/24") is None and wire.route("R1", "192.168.2.0/24") is None
    assert wire.routers["R2"].neighbor_views(wire.now)   # the adjacency stayed


def test_a_new_asn_restarts_the_process_with_goodbyes():
    wire = pair()
    wire.run(2)
    wire.routers["R2"].reconfigure(replace(wire.settings["R2"], asn=200), wire.now)
    wire.run(6)
    assert wire.routers["R1"].neighbor_views(wire.now) == [] and wire.route("R1", "192.168.2.0/24") is None
    assert wire.routers["R1"].counters()["drops"]["asn"] >= 1


def test_updates_lost_on_the_wire_are_retransmitted():
    wire = pair()
    lost = {"n": 0}

    def drop_first_updates(router, iface, dst, data):
        if router == "R2" and decode(data).opcode == Opcode.UPDATE and lost["n"] < 3:
            lost["n"] += 1
            return True
        return False
    wire.drop = drop_first_updates
    wire.run(5)
    assert lost["n"] == 3 and wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]
    [nbr] = wire.routers["R1"].neighbor_views(wire.now)
    assert nbr.q_count == 0


def test_malformed_input_is_dropped_and_counted_never_raised():
    wire = pair()
    wire.run(2)
    r1 = wire.routers["R1"]
    good = next(d for n, _, _, d in wire.sent if n == "R2" and decode(d).opcode == Opcode.UPDATE)
    rng = random.Random(1)
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        r1.receive("Ethernet0/0", IPv4Address("10.0.12.2"), bytes(data[: rng.randint(0, len(data))]), wire.now)
    r1.receive("Ethernet0/0", IPv4Address("10.0.12.2"), b"", wire.now)
    r1.receive("Ethernet9", IPv4Address("10.0.12.2"), good, wire.now)
    r1.receive("Ethernet0/0", IPv4Address("10.9.9.9"), good, wire.now)
    drops = r1.counters()["drops"]
    assert drops["malformed"] > 100 and drops["unknown interface"] == 1 and drops["not on common subnet"] == 1
    assert "internal error" not in drops
    wire.run(2)
    assert wire.hops("R1", "192.168.2.0/24") == ["10.0.12.2"]


def test_counters_are_show_ip_eigrp_traffic():
    wire = pair()
    wire.run(6)
    c = wire.routers["R1"].counters()
    assert set(c) == {"sent", "received", "drops"}
    # hellos at 0.1 and 5.1 s on both interfaces (the LAN has no peer), one unicast to the new peer
    assert c["sent"]["hello"] == 5 and c["received"]["hello"] == 3
    assert c["sent"]["update"] >= 2 and c["received"]["ack"] >= 2 and c["sent"]["query"] == 0


def test_debug_eigrp_packets_lines_look_like_ios():
    wire = pair(debug=True)
    wire.run(1)
    lines = wire.debug["R1"]
    assert lines[:2] == ["EIGRP: Sending HELLO on Ethernet0/0",
                         "  AS 100, Flags 0x0:(NULL), Seq 0/0 interfaceQ 0/0 iidbQ un/rely 0/0"]
    assert "EIGRP: Received HELLO on Ethernet0/0 nbr 10.0.12.2" in lines
    i = lines.index("EIGRP: Received UPDATE on Ethernet0/0 nbr 10.0.12.2")
    assert lines[i + 1].startswith("  AS 100, Flags 0x1:(INIT), Seq ")
    assert lines[i + 1].endswith(" idbQ 0/0 iidbQ un/rely 0/0 peerQ un/rely 0/0") or "peerQ un/rely 0/" in lines[i + 1]
    assert any(x.startswith("EIGRP: Sending ACK on Ethernet0/0 nbr 10.0.12.2") for x in lines)
    eot = [lines[j + 1] for j, x in enumerate(lines) if x == "EIGRP: Sending UPDATE on Ethernet0/0 nbr 10.0.12.2"]
    assert any("Flags 0x8:(EOT)" in x for x in eot)


def test_debug_lines_are_made_only_while_someone_listens():
    class Listener:
        def __init__(self):
            self.on, self.lines = False, []

        def wanted(self):
            return self.on

        def __call__(self, line):
            self.lines.append(line)

    wire = pair()
    listener = Listener()
    wire.routers["R1"] = EigrpProcess(wire.settings["R1"], wire.now, debug=listener)
    wire.run(1)
    assert listener.lines == [], "no `debug eigrp packets` session: no line is formatted"
    listener.on = True
    wire.run(6)
    assert "EIGRP: Sending HELLO on Ethernet0/0" in listener.lines


def test_interface_views_show_peers_and_timers():
    wire = pair(a_opts={"summaries": (IPv4Network("192.168.0.0/16"),)})
    wire.run(2)
    view = wire.routers["R1"].interface_views(wire.now)[0]
    assert (view.name, view.peers, view.xmit_queue_reliable, view.hello_seconds, view.hold_seconds) == (
        "Ethernet0/0", 1, 0, 5.0, 15)
    assert view.summaries == (IPv4Network("192.168.0.0/16"),) and view.authentication == ""
    assert str(IPv4Address(MULTICAST_GROUP)) == "224.0.0.10"


def test_a_config_change_does_not_bring_a_down_interface_up():
    wire = pair()
    wire.run(2)
    r2, s = wire.routers["R2"], wire.settings["R2"]
    r2.set_interface_state("Ethernet0/1", False, wire.now)
    lan = replace(s.interfaces[1], delay_usec=200)
    r2.reconfigure(replace(s, interfaces=(s.interfaces[0], lan)), wire.now)
    r2.reconfigure(replace(s, interfaces=(s.interfaces[0], lan), variance=3), wire.now)
    r2.reconfigure(replace(s, interfaces=(s.interfaces[0], lan), variance=3, stub=frozenset()), wire.now)  # restart
    wire.run(6)
    assert wire.route("R1", "192.168.2.0/24") is None and wire.routers["R1"].neighbor_views(wire.now)
    r2.set_interface_state("Ethernet0/1", True, wire.now)
    wire.run(1)
    assert wire.route("R1", "192.168.2.0/24").metric == classic_metric(100_000, 300)
