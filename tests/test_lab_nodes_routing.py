"""nodes/hub.j2 + spoke.j2 with `routing: eigrp|ospf|bgp|rip`: every protocol, phase and variant.

Each rendered config must parse with no error and no ignored line (except the few, named
below, whose meaning the lab cannot carry), and the OSPF/BGP/RIP ones must be taken by
FRR 8.4 itself after translation (vtysh and each daemon's dry run, as in
test_routing_frr_config). Then what each phase needs from the routing is checked line by
line (the seed's section 5.2 and 8 tables, real IOS behaviour where they differ), and the
run-time variable overrides (`--var`, the scenario marker's `vars`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dmvpnlab.config.parser import parse_config
from dmvpnlab.lab.render import render_router_config
from dmvpnlab.routing.eigrp_config import eigrp_settings
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.overrides import parse_assignment, parse_assignments, with_vars
from dmvpnlab.lab.topology.yamlfile import load_topology
from test_routing_frr_config import frr_judges, translate

REPO = Path(__file__).resolve().parents[1]
PROTOCOLS = ("eigrp", "ospf", "bgp", "rip")
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "eigrp": [{}, {"next_hop_self": True}, {"summary": False}, {"summary": True}, {"eigrp_stub": False},
              {"eigrp_stub": "connected summary"}, {"eigrp_key": "S3cret"}, {"ipsec": True}, {"split_horizon": True}],
    "ospf": [{}, {"ospf_network": "point-to-multipoint"}, {"ospf_network": "broadcast"}, {"ipsec": True}],
    "bgp": [{}, {"summary": False}, {"summary": True}, {"next_hop_self": True}, {"ipsec": True}],
    "rip": [{}, {"split_horizon": True}, {"ipsec": True}],
}
# IOS lines the FRR translation lists as ignored although they are right on IOS: FRR has
# no hold-down timer (ripd's `timers basic` takes the other three), and never auto-summarises.
FRR_IGNORED_OK = {"rip": ("timers basic", "no auto-summary")}

CASES = [(proto, phase, variant) for proto in PROTOCOLS for phase in (1, 2, 3) for variant in VARIANTS[proto]]


def configs(proto: str, phase: int, **variant: Any) -> dict[str, str]:
    topo = load_topology(REPO / "topologies" / f"{proto}.yaml", variables={"phase": phase, **variant})
    return {r.name: render_router_config(topo, r) for r in topo.routers if r.template}


def lines(text: str) -> list[str]:
    return text.splitlines()


def case_id(case: tuple[str, int, dict[str, Any]]) -> str:
    proto, phase, variant = case
    return f"{proto}-p{phase}" + "".join(f"-{k}={v}" for k, v in variant.items())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_protocol_phase_and_variant_parses_with_nothing_ignored(case):
    proto, phase, variant = case
    for name, text in configs(proto, phase, **variant).items():
        result = parse_config(text)
        assert result.errors == [], f"{name}: {[str(e) for e in result.errors]}"
        ignored = [i.text.strip() for i in result.ignored]
        assert ignored == [], f"{name}: ignored lines {ignored}"
        frr = translate(text)
        unexpected = [line for line in frr.ignored
                      if not any(f": {ok}" in line for ok in FRR_IGNORED_OK.get(proto, ()))]
        assert unexpected == [], f"{name}: lines FRR cannot take: {unexpected}"
        if proto == "eigrp":
            assert frr.daemons == set(), "EIGRP is the agent's own, never FRR's"
            eigrp = eigrp_settings(result.config)
            assert eigrp.ignored == [] and eigrp.settings is not None, f"{name}: {eigrp.ignored}"
        else:
            assert frr.daemons == {"zebra", {"ospf": "ospfd", "bgp": "bgpd", "rip": "ripd"}[proto]}


@pytest.mark.parametrize("proto", ("ospf", "bgp", "rip"))
@pytest.mark.parametrize("phase", (1, 2, 3))
def test_frr_takes_the_translated_configs(proto, phase):
    for variant in VARIANTS[proto]:
        if variant.get("ipsec"):
            continue  # crypto lines are not FRR's: nothing more to judge
        for text in configs(proto, phase, **variant).values():
            frr_judges(translate(text))


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("phase", (1, 2, 3))
def test_a_routing_protocol_replaces_the_lan_static_routes_but_not_the_default(proto, phase):
    for name, text in configs(proto, phase).items():
        routes = [line for line in lines(text) if line.startswith("ip route ")]
        assert len(routes) == 1 and routes[0].startswith("ip route 0.0.0.0 0.0.0.0 "), f"{name}: {routes}"
        assert f"router {proto}" in text


@pytest.mark.parametrize("phase", (1, 2, 3))
def test_static_is_the_default_and_renders_byte_for_byte_as_before(phase):
    plain = load_topology(REPO / "topologies" / f"phase{phase}.yaml")
    explicit = load_topology(REPO / "topologies" / f"phase{phase}.yaml", variables={"routing": "static"})
    for a, b in zip(plain.routers, explicit.routers):
        if a.template:
            assert render_router_config(plain, a) == render_router_config(explicit, b)


def test_an_unknown_routing_protocol_is_a_render_error():
    from dmvpnlab.lab.render import RenderError

    topo = load_topology(REPO / "topologies" / "default.yaml", variables={"routing": "isis"})
    with pytest.raises(RenderError, match="routing must be static, eigrp, ospf, bgp or rip"):
        render_router_config(topo, topo.hub)


# ------------------------------------------------------------------ EIGRP


def test_eigrp_phase2_hub_keeps_the_spoke_next_hop_and_does_not_summarise():
    hub = lines(configs("eigrp", 2)["hub"])
    assert " no ip next-hop-self eigrp 100" in hub
    assert " no ip split-horizon eigrp 100" in hub
    assert not any("summary-address" in line for line in hub)
    assert " no ip next-hop-self eigrp 100" not in lines(configs("eigrp", 2, next_hop_self=True)["hub"])


def test_eigrp_phase3_hub_summarises_and_spokes_are_stubs():
    conf = configs("eigrp", 3)
    hub = lines(conf["hub"])
    assert " ip summary-address eigrp 100 192.168.0.0 255.255.0.0" in hub
    assert " no ip next-hop-self eigrp 100" not in hub
    spoke = lines(conf["spoke1"])
    assert spoke[spoke.index("router eigrp 100"):][:5] == [
        "router eigrp 100", " network 10.0.0.0 0.0.0.255", " network 192.168.1.0 0.0.0.255",
        " passive-interface GigabitEthernet0/1", " eigrp stub connected"]
    assert not any("summary-address" in line or "split-horizon" in line for line in spoke)
    assert " eigrp stub connected" not in lines(configs("eigrp", 3, eigrp_stub=False)["spoke1"])


def test_eigrp_tunnel_timers_bandwidth_delay_and_md5():
    spoke = lines(configs("eigrp", 3, eigrp_key="S3cret")["spoke2"])
    for line in (" bandwidth 1000", " delay 1000", " ip hello-interval eigrp 100 1", " ip hold-time eigrp 100 3",
                 " ip authentication mode eigrp 100 md5", " ip authentication key-chain eigrp 100 DMVPN_EIGRP"):
        assert line in spoke
    chain = spoke.index("key chain DMVPN_EIGRP")
    assert spoke[chain:chain + 3] == ["key chain DMVPN_EIGRP", " key 1", "  key-string S3cret"]
    assert spoke.index("key chain DMVPN_EIGRP") < spoke.index("interface Tunnel0")
    assert "key chain" not in configs("eigrp", 3)["spoke2"]


def eigrp_of(text: str):
    return eigrp_settings(parse_config(text).config).settings


@pytest.mark.parametrize("phase", (1, 2, 3))
def test_eigrp_settings_the_agent_runs_per_phase(phase):
    conf = configs("eigrp", phase, eigrp_key="S3cret")
    hub, spoke = eigrp_of(conf["hub"]), eigrp_of(conf["spoke1"])
    assert hub.asn == spoke.asn == 100
    assert hub.stub is None and spoke.stub == frozenset({"connected"})
    tunnel = hub.interface("Tunnel0")
    assert not tunnel.split_horizon
    assert tunnel.next_hop_self is (phase != 2)
    assert [str(n) for n in tunnel.summaries] == (["192.168.0.0/16"] if phase == 3 else [])
    assert (tunnel.hello_seconds, tunnel.hold_seconds, tunnel.bandwidth_kbps, tunnel.delay_usec) == (1, 3, 1000, 10000)
    assert [k.secret for k in tunnel.md5_keys] == [b"S3cret"] == [k.secret for k in spoke.interface("Tunnel0").md5_keys]
    assert spoke.interface("Tunnel0").split_horizon and spoke.interface("Tunnel0").next_hop_self
    assert hub.interface("GigabitEthernet0/1").passive and spoke.interface("GigabitEthernet0/1").passive
    assert {str(i.address.network) for i in spoke.interfaces} == {"10.0.0.0/24", "192.168.1.0/24"}


# ------------------------------------------------------------------ OSPF


@pytest.mark.parametrize(("phase", "network"), [(1, "point-to-multipoint"), (2, "broadcast"),
                                                (3, "point-to-multipoint")])
def test_ospf_network_type_per_phase_on_both_ends(phase, network):
    for name, text in configs("ospf", phase).items():
        assert f" ip ospf network {network}" in lines(text), name
        assert " ip ospf hello-interval 1" in lines(text) and " ip ospf dead-interval 4" in lines(text)


def test_ospf_phase2_broadcast_makes_the_hub_the_dr_and_spokes_never():
    conf = configs("ospf", 2)
    assert " ip ospf priority 255" in lines(conf["hub"])
    assert " ip ospf priority 0" in lines(conf["spoke1"]) and " ip ospf priority 0" in lines(conf["spoke2"])
    p2mp = configs("ospf", 2, ospf_network="point-to-multipoint")
    assert not any("priority" in text for text in p2mp.values())


def test_ospf_router_section_covers_tunnel_and_lan_in_area_0():
    spoke = lines(configs("ospf", 3)["spoke1"])
    start = spoke.index("router ospf 1")
    assert spoke[start:start + 5] == ["router ospf 1", " router-id 10.0.0.2", " passive-interface GigabitEthernet0/1",
                                      " network 10.0.0.0 0.0.0.255 area 0", " network 192.168.1.0 0.0.0.255 area 0"]


# ------------------------------------------------------------------ BGP


def test_bgp_hub_is_a_route_reflector_listening_for_the_tunnel_subnet():
    hub = lines(configs("bgp", 2)["hub"])
    for line in ("router bgp 65000", " neighbor SPOKES peer-group", " neighbor SPOKES remote-as 65000",
                 " neighbor SPOKES route-reflector-client", " bgp listen range 10.0.0.0/24 peer-group SPOKES",
                 " network 192.168.0.0 mask 255.255.255.0", " timers bgp 1 3"):
        assert line in hub
    assert not any("next-hop-self" in line or "aggregate" in line for line in hub), "Phase 2 keeps the next hop"
    frr = translate("\n".join(hub))
    assert "  neighbor SPOKES route-reflector-client" in lines(frr.text)


def test_bgp_phase1_hub_sets_itself_as_next_hop_and_phase3_aggregates():
    assert " neighbor SPOKES next-hop-self all" in lines(configs("bgp", 1)["hub"])
    hub3 = lines(configs("bgp", 3)["hub"])
    assert " aggregate-address 192.168.0.0 255.255.0.0 summary-only" in hub3
    assert not any("next-hop-self" in line for line in hub3)
    assert "  aggregate-address 192.168.0.0/16 summary-only" in lines(translate("\n".join(hub3)).text)


def test_bgp_spoke_peers_with_the_hub_and_announces_its_lan():
    spoke = lines(configs("bgp", 3)["spoke2"])
    assert " neighbor 10.0.0.1 remote-as 65000" in spoke
    assert " network 192.168.2.0 mask 255.255.255.0" in spoke
    assert not any("listen" in line or "reflector" in line for line in spoke)


# ------------------------------------------------------------------ RIP


def test_rip_hub_turns_split_horizon_off_and_nobody_summarises():
    for phase in (1, 2, 3):
        conf = configs("rip", phase)
        assert " no ip split-horizon" in lines(conf["hub"])
        assert "no ip rip split-horizon" in translate(conf["hub"]).text
        assert not any("summary-address" in text for text in conf.values())
        assert " no ip split-horizon" not in lines(conf["spoke1"])
    spoke = lines(configs("rip", 3)["spoke1"])
    start = spoke.index("router rip")
    assert spoke[start:start + 7] == ["router rip", " version 2", " timers basic 5 15 15 20",
                                      " passive-interface GigabitEthernet0/1", " network 10.0.0.0",
                                      " network 192.168.1.0", " no auto-summary"]
    assert " timers basic 5 15 5" in lines(translate("\n".join(spoke)).text)


# ------------------------------------------------------------------ run-time variables


@pytest.mark.parametrize(("text", "expected"), [
    ("phase=2", ("phase", 2)), ("ipsec=true", ("ipsec", True)), ("routing=ospf", ("routing", "ospf")),
    ("eigrp_key=a=b", ("eigrp_key", "a=b")), ("ospf_network=point-to-multipoint", ("ospf_network", "point-to-multipoint")),
    ("lan_summary=192.168.0.0/16", ("lan_summary", "192.168.0.0/16")), ("x=", ("x", None)), ("x=[1, 2", ("x", "[1, 2")),
])
def test_parse_assignment_reads_yaml_scalars(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["phase", "=2", "bad name=1", "9x=1"])
def test_parse_assignment_refuses_what_is_not_name_equals_value(text):
    with pytest.raises(ValueError):
        parse_assignment(text)


def test_overrides_win_over_the_files_vars_on_every_templated_router(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("vars: {phase: 3}\nhub: {template: hub.j2, vars: {phase: 1}}\nspokes: 2\n"
                    "spoke_defaults: {template: spoke.j2, vars: {nhrp_holdtime: 60}}\n")
    topo = load_topology(path, REPO / "nodes", variables=parse_assignments(["phase=2", "routing=rip"]))
    assert {r.name: r.vars.get("phase") for r in topo.routers} == {"hub": 2, "spoke1": 2, "spoke2": 2}
    assert topo.router("spoke1").vars == {"phase": 2, "nhrp_holdtime": 60, "routing": "rip"}
    plain = load_topology(path, REPO / "nodes")
    assert plain.hub.vars == {"phase": 1}, "the file's topology is not changed"
    assert with_vars(plain, {}) is plain


def test_cli_var_reaches_the_loaded_topology_and_a_bad_one_is_a_topology_error():
    from dmvpnlab.lab import commands

    topo = commands._load(str(REPO / "topologies" / "ospf.yaml"), ["phase=1"])
    assert "ip ospf network point-to-multipoint" in render_router_config(topo, topo.router("spoke1"))
    assert " tunnel mode gre ip" in render_router_config(topo, topo.router("spoke1"))
    with pytest.raises(TopologyError, match="NAME=VALUE"):
        commands._load(str(REPO / "topologies" / "ospf.yaml"), ["phase"])


def test_the_detached_controller_gets_the_same_vars(monkeypatch, tmp_path):
    from dmvpnlab.lab import controller

    seen: dict[str, Any] = {}

    class FakePopen:
        def __init__(self, argv, **kwargs):
            seen["argv"] = argv

    monkeypatch.setattr(controller.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(controller, "log_path", lambda lab: tmp_path / f"{lab}.log")
    controller.spawn(Path("topologies/ospf.yaml"), "ospf", ["phase=2", "ospf_network=point-to-multipoint"])
    assert seen["argv"][-3:] == ["topologies/ospf.yaml", "--var=phase=2", "--var=ospf_network=point-to-multipoint"]
