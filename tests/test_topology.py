"""Topology files -> the resolved lab model: the default address plan, and one-paragraph errors."""

from __future__ import annotations

import textwrap
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from dmvpnlab.lab.topology.build import topology_from_spec
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.model import Topology
from dmvpnlab.lab.topology.spec import NatBoxSpec, RouterSpec, SpokeDefaultsSpec, TopologySpec
from dmvpnlab.lab.topology.yamlfile import load_topology

REPO = Path(__file__).resolve().parent.parent
TOPOLOGIES = sorted((REPO / "topologies").glob("*.yaml"))


@pytest.fixture
def nodes(tmp_path: Path) -> Path:
    """A nodes/ dir with the templates the repo's topologies name (they may not exist yet)."""
    d = tmp_path / "nodes"
    d.mkdir()
    for name in ("hub.j2", "spoke.j2"):
        (d / name).write_text("! template stub\n")
    return d


def write(tmp_path: Path, text: str, name: str = "lab.yaml") -> Path:
    d = tmp_path / "topologies"
    d.mkdir(exist_ok=True)
    path = d / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, nodes: Path, text: str, name: str = "lab.yaml") -> Topology:
    return load_topology(write(tmp_path, text, name), nodes)


def error_of(tmp_path: Path, nodes: Path, text: str, name: str = "bad.yaml") -> str:
    with pytest.raises(TopologyError) as info:
        load(tmp_path, nodes, text, name)
    message = str(info.value)
    assert "\n" not in message, "an error is one paragraph"
    assert "Traceback" not in message and "pydantic" not in message.lower()
    assert name in message, "the error names the file"
    return message


# ------------------------------------------------------------------- good files


@pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])
def test_every_shipped_topology_loads_and_is_named_after_its_file(path: Path, nodes: Path) -> None:
    topo = load_topology(path, nodes)
    assert topo.name == path.stem
    assert topo.hub.name == "hub" and topo.hub.role == "hub"
    assert topo.spokes


def test_shipped_topologies_find_their_templates_in_the_repo_nodes_dir() -> None:
    if not all((REPO / "nodes" / t).is_file() for t in ("hub.j2", "spoke.j2")):
        pytest.skip("nodes/hub.j2 and nodes/spoke.j2 are not written yet")
    for path in TOPOLOGIES:
        load_topology(path)


def test_default_topology_follows_the_default_address_plan(nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / "default.yaml", nodes)
    assert [r.name for r in topo.routers] == ["hub", "spoke1", "spoke2"]
    assert topo.tunnel_network == IPv4Network("10.0.0.0/24")
    hub, s1, s2 = topo.hub, topo.router("spoke1"), topo.router("spoke2")
    assert (hub.index, s1.index, s2.index) == (0, 1, 2)
    assert hub.tunnel_address == IPv4Interface("10.0.0.1/24")
    assert s1.tunnel_address == IPv4Interface("10.0.0.2/24")
    assert s2.tunnel_address == IPv4Interface("10.0.0.3/24")
    assert hub.wan.address == IPv4Interface("203.0.113.1/30")
    assert hub.wan.gateway == IPv4Address("203.0.113.2")
    assert hub.nbma_address == IPv4Address("203.0.113.1")
    assert s1.wan.address == IPv4Interface("100.64.1.1/30") and s1.wan.gateway == IPv4Address("100.64.1.2")
    assert s2.wan.address == IPv4Interface("100.64.2.1/30") and s2.wan.gateway == IPv4Address("100.64.2.2")
    assert {r.wan.peer for r in topo.routers} == {"isp"}
    assert (hub.wan.ios_name, hub.lan.ios_name) == ("GigabitEthernet0/0", "GigabitEthernet0/1")
    for i, r in enumerate(topo.routers):
        assert r.lan.network == IPv4Network(f"192.168.{i}.0/24")
        assert r.lan.router_address == IPv4Interface(f"192.168.{i}.1/24")
        [host] = r.lan.hosts
        assert host.name == f"h{i}"
        assert host.address == IPv4Interface(f"192.168.{i}.10/24")
        assert host.gateway == IPv4Address(f"192.168.{i}.1")
    assert (hub.template, s1.template) == ("hub.j2", "spoke.j2")
    assert hub.vars["phase"] == 3 and s2.vars["phase"] == 3
    assert topo.nat_boxes == [] and topo.segments == []


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_phase_topologies_pass_their_phase_to_every_template(phase: int, nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / f"phase{phase}.yaml", nodes)
    assert [r.vars["phase"] for r in topo.routers] == [phase] * 3


def test_summary_rows_feed_the_node_table(nodes: Path) -> None:
    rows = load_topology(REPO / "topologies" / "default.yaml", nodes).to_summary()
    assert rows[1] == {
        "name": "spoke1",
        "role": "spoke",
        "nbma": "100.64.1.1",
        "tunnel": "10.0.0.2/24",
        "lan": "192.168.1.0/24",
        "hosts": "h1",
    }


def test_spoke_behind_a_nat_box_gets_the_private_wan_and_the_box_takes_its_public_slash30(nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / "nat.yaml", nodes)
    s2 = topo.router("spoke2")
    assert s2.nat == "nat1"
    assert s2.wan.address == IPv4Interface("172.16.1.1/30")
    assert s2.wan.gateway == IPv4Address("172.16.1.2")
    assert s2.wan.peer == "nat1"
    assert s2.nbma_address == IPv4Address("172.16.1.1"), "NBMA is the pre-NAT address"
    [box] = topo.nat_boxes
    assert box.name == "nat1" and box.router == "spoke2"
    assert box.inside == IPv4Interface("172.16.1.2/30")
    assert box.outside == IPv4Interface("100.64.2.1/30")
    assert box.isp_address == IPv4Interface("100.64.2.2/30")
    assert ("nat1", IPv4Interface("100.64.2.2/30")) in topo.isp_interfaces()
    assert all(peer != "spoke2" for peer, _ in topo.isp_interfaces())
    assert "nat1" in topo.to_summary()[2]["nbma"]


def test_several_spokes_behind_one_nat_box_share_its_inside_slash24_and_its_one_public_address(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, """
        hub: {}
        spokes: 4
        routers:
          spoke3: {nat: nat1}
          spoke1: {nat: nat1}
          spoke4: {nat: nat2}
        nat_boxes: [nat1, nat2]
    """)
    fleet = topo.nat_box("nat1")
    assert fleet.routers == ["spoke1", "spoke3"], "lowest index first, whatever the file's order"
    assert fleet.inside_bridge == "nat1in"
    assert fleet.inside == IPv4Interface("172.16.1.254/24")
    assert fleet.outside == IPv4Interface("100.64.1.1/30"), "the public /30 of its lowest-indexed router"
    assert topo.router("spoke1").wan.address == IPv4Interface("172.16.1.2/24")
    assert topo.router("spoke3").wan.address == IPv4Interface("172.16.1.4/24")
    assert {topo.router(n).wan.gateway for n in ("spoke1", "spoke3")} == {IPv4Address("172.16.1.254")}
    assert topo.router("spoke3").wan.peer == "nat1"
    assert [peer for peer, _ in topo.isp_interfaces()] == ["hub", "spoke2", "nat1", "nat2"]
    single = topo.nat_box("nat2")
    assert single.routers == ["spoke4"] and single.inside_bridge is None, "one router: the /30 as before"
    assert single.inside == IPv4Interface("172.16.2.2/30")
    assert topo.router("spoke4").wan.address == IPv4Interface("172.16.2.1/30")


def test_underlay_topology_has_no_templates_and_spoke3_behind_nat3(nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / "underlay.yaml", nodes)
    assert [r.template for r in topo.routers] == [None] * 4
    assert topo.router("spoke3").wan.address == IPv4Interface("172.16.3.1/30")
    assert topo.nat_box("nat3").outside == IPv4Interface("100.64.3.1/30")


@pytest.mark.parametrize("count", [50, 200])
def test_generator_form_makes_n_spokes_on_the_plan(count: int, tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, f"hub: {{}}\nspokes: {count}\n")
    assert len(topo.spokes) == count
    last = topo.router(f"spoke{count}")
    assert last.tunnel_address == IPv4Interface(f"10.0.0.{count + 1}/24")
    assert last.wan.address == IPv4Interface(f"100.64.{count}.1/30")
    assert last.lan.hosts[0].name == f"h{count}"
    assert len({h.name for h in topo.hosts}) == count + 1


def test_beyond_255_routers_wans_and_lans_move_to_the_next_ranges(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, "tunnel: {network: 10.0.0.0/22}\nhub: {}\nspokes: 1000\n")
    s = topo.router("spoke1000")
    assert s.wan.address == IPv4Interface("100.67.232.1/30")
    assert s.lan.network == IPv4Network("10.131.232.0/24")
    assert s.tunnel_address == IPv4Interface("10.0.3.233/22")
    assert topo.router("spoke256").lan.network == IPv4Network("10.129.0.0/24")


def test_scale_topology_is_a_full_phase3_lab_of_500_spokes(nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / "scale.yaml", nodes)
    assert len(topo.spokes) == 500
    assert all(r.template for r in topo.routers)  # every router runs an agent
    assert topo.router("spoke500").vars["phase"] == 3
    assert topo.router("spoke500").lan.hosts == []  # spokes ping from their LAN address
    assert topo.management is not None  # the management network, as in every default lab


def test_spokes_override_resizes_the_lab_for_one_run(nodes: Path) -> None:
    topo = load_topology(REPO / "topologies" / "scale.yaml", nodes, spokes=10)
    assert [r.name for r in topo.spokes][-1] == "spoke10" and len(topo.spokes) == 10


def test_spokes_override_is_checked_like_the_files_value(nodes: Path) -> None:
    with pytest.raises(TopologyError, match="spokes"):
        load_topology(REPO / "topologies" / "scale.yaml", nodes, spokes=1001)


def test_per_router_overrides_merge_over_spoke_defaults(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, """\
        vars: {phase: 2, key: 1}
        hub: {template: hub.j2}
        spokes: 3
        spoke_defaults: {template: spoke.j2, vars: {phase: 3}}
        routers:
          spoke2:
            vars: {holdtime: 60}
            lan: {hosts: 3}
          spoke3:
            template: null
            lan: null
            tunnel_address: 10.0.0.99
            wan: {address: 100.99.0.5/29}
    """)
    s1, s2, s3 = topo.spokes
    assert s1.vars == {"phase": 3, "key": 1}
    assert s2.vars == {"phase": 3, "key": 1, "holdtime": 60}
    assert [(h.name, str(h.address)) for h in s2.lan.hosts] == [
        ("h2", "192.168.2.10/24"), ("h2b", "192.168.2.11/24"), ("h2c", "192.168.2.12/24")]
    assert s3.template is None and s3.lan is None
    assert s3.tunnel_address == IPv4Interface("10.0.0.99/24"), "a bare address takes the network's prefix"
    assert s3.wan.address == IPv4Interface("100.99.0.5/29") and s3.wan.gateway == IPv4Address("100.99.0.1")


def test_added_router_with_explicit_role_index_and_named_hosts(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, """\
        hub: {}
        routers:
          branch7:
            role: spoke
            index: 7
            lan: {network: 10.7.0.0/24, hosts: [srv7, {name: cam7, address: 10.7.0.50}]}
    """)
    b = topo.router("branch7")
    assert b.role == "spoke" and b.tunnel_address == IPv4Interface("10.0.0.8/24")
    assert b.lan.router_address == IPv4Interface("10.7.0.1/24")
    assert [(h.name, str(h.address)) for h in b.lan.hosts] == [("srv7", "10.7.0.10/24"), ("cam7", "10.7.0.50/24")]


def test_shared_segment_puts_members_on_one_subnet_with_the_isp_at_254(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, """\
        hub: {}
        spokes: 3
        segments:
          - name: wan
            network: 198.51.100.0/24
            members: [hub, spoke1, spoke2]
    """)
    [seg] = topo.segments
    assert seg.name == "wan" and seg.members == ["hub", "spoke1", "spoke2"]
    assert seg.isp_address == IPv4Interface("198.51.100.254/24")
    assert topo.hub.wan.address == IPv4Interface("198.51.100.1/24")
    assert topo.router("spoke2").wan.address == IPv4Interface("198.51.100.3/24")
    assert {r.wan.gateway for r in topo.routers[:3]} == {IPv4Address("198.51.100.254")}
    assert {r.wan.peer for r in topo.routers[:3]} == {"wan"}
    assert topo.router("spoke3").wan.peer == "isp"


def test_name_defaults_to_file_stem_and_can_be_set(tmp_path: Path, nodes: Path) -> None:
    assert load(tmp_path, nodes, "hub: {}\nspokes: 1\n", "mylab.yaml").name == "mylab"
    assert load(tmp_path, nodes, "name: other\nhub: {}\nspokes: 1\n", "x.yaml").name == "other"


def test_hub_with_nothing_under_it_is_a_hub_with_defaults(tmp_path: Path, nodes: Path) -> None:
    assert load(tmp_path, nodes, "hub:\nspokes: 1\n").hub.wan.address == IPv4Interface("203.0.113.1/30")


def test_spec_objects_from_another_format_resolve_to_the_same_model_as_the_yaml_file(nodes: Path) -> None:
    """The seam for other input formats: they produce spec objects, the one resolver does the rest."""
    path = REPO / "topologies" / "nat.yaml"
    spec = TopologySpec(
        description="DMVPN Phase 3 - spoke2 behind NAT box nat1",
        vars={"phase": 3},
        hub=RouterSpec(template="hub.j2"),
        spokes=2,
        spoke_defaults=SpokeDefaultsSpec(template="spoke.j2"),
        routers={"spoke2": RouterSpec(nat="nat1")},
        nat_boxes={"nat1": NatBoxSpec()},
    )
    assert topology_from_spec(spec, path, nodes) == load_topology(path, nodes)


def test_a_problem_in_spec_objects_reads_like_a_file_error(nodes: Path) -> None:
    spec = TopologySpec(hub=RouterSpec(), spokes=1, routers={"spoke1": RouterSpec(nat="nat9")})
    with pytest.raises(TopologyError) as info:
        topology_from_spec(spec, "lab.cml", nodes)
    assert str(info.value) == ("lab.cml: routers.spoke1.nat: expected a NAT box from nat_boxes "
                               "(none are defined under `nat_boxes:`), got 'nat9'")


# -------------------------------------------------------------------- bad files


# A bad file, and what its one-paragraph error must say (every fragment).
BAD_FILES = [
    pytest.param("hub: {}\nspoek: 2\n",
                 ["bad.yaml: spoek: unknown key 'spoek'; did you mean 'spokes'?", "(line 2)"],
                 id="typo_in_a_top_level_key_suggests_the_right_one"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  spoke1:\n    tempalte: spoke.j2\n",
                 ["routers.spoke1.tempalte: unknown key 'tempalte'; did you mean 'template'?", "(line 5)"],
                 id="typo_in_a_router_key_names_the_dotted_path"),
    pytest.param("hub: {}\nspokes: 1\nrouters:\n  spoke1:\n    wan: {address: 300.1.1.1/30}\n",
                 ["routers.spoke1.wan.address: expected an IPv4 address", "'300.1.1.1/30'"],
                 id="malformed_address_is_rejected_at_its_field"),
    pytest.param("tunnel: {network: 10.0.0.1/24}\nhub: {}\n",
                 ["tunnel.network: expected a network address", "'10.0.0.1/24'"],
                 id="network_with_host_bits_is_rejected"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  spoke2: {lan: {network: 192.168.1.0/24}}\n",
                 ["routers.spoke2.lan.network:", "overlapping 192.168.1.0/24 (spoke1's LAN)"],
                 id="overlapping_networks_are_rejected"),
    pytest.param("hub: {}\nrouters:\n  spoke1: {}\n  spoke1: {}\n",
                 ["routers.spoke1: expected each key once", "line 3", "(line 4)"],
                 id="duplicate_router_key_is_an_error_not_a_silent_overwrite"),
    pytest.param("hub: {}\nspokes: 1\nrouters:\n  h1: {role: spoke, index: 9}\n",
                 ["routers.h1: expected a unique name, got router 'h1', already a LAN host of spoke1"],
                 id="duplicate_node_name_across_routers_and_hosts_is_rejected"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  branch: {role: spoke, index: 2}\n",
                 ["routers.branch.index: expected a router index not used by another router, got 2"],
                 id="duplicate_router_index_is_rejected"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  spoke2: {nat: nat2}\nnat_boxes: [nat1]\n",
                 ["routers.spoke2.nat: expected a NAT box from nat_boxes (nat1), got 'nat2'; did you mean 'nat1'?"],
                 id="unknown_nat_box_is_rejected_with_a_suggestion"),
    pytest.param("hub: {}\nspokes: 2\n  extra: 3\n",
                 ["bad.yaml: line 3, column 8: YAML syntax error: mapping values are not allowed here"],
                 id="yaml_syntax_error_gives_line_and_column"),
    pytest.param("hub: {}\nrouters:\n  branchoffice1: {role: spoke, index: 3}\n",
                 ["routers.branchoffice1: expected a router name", "at most 10 characters"],
                 id="router_name_too_long_for_linux_interface_names"),
    pytest.param("hub: {template: hbu.j2}\n",
                 ["hub.template: expected a template file in one of ", "/nodes, ", "dmvpnlab/templates, got 'hbu.j2' (no such file in any of them)"],
                 id="missing_template_is_reported_with_where_it_was_looked_for"),
    pytest.param("spokes: 2\n",
                 ["hub: expected a hub"],
                 id="lab_without_a_hub_is_rejected"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  spoke1: {nat: nat1, wan: {address: 172.16.1.9/24}}\n"
                 "  spoke2: {nat: nat1, wan: {address: 172.16.1.9/24}}\nnat_boxes: [nat1]\n",
                 ["routers.spoke2.wan.address: expected an address not used by spoke1 on segment nat1, got 172.16.1.9"],
                 id="two_routers_of_a_nat_fleet_on_one_address_are_rejected"),
    pytest.param("hub: {}\nspokes: 2\nrouters:\n  spoke1: {nat: nat1}\n  spoke2: {nat: nat1}\n"
                 "nat_boxes: {nat1: {inside: 172.16.1.3/24}}\n",
                 ["routers.spoke2.wan.address: expected nat1's inside network to have room for spoke2 (index 2, planned at .3)"],
                 id="nat_fleet_member_planned_on_the_boxs_own_inside_address_is_rejected"),
    pytest.param("hub: {}\nspokes: 2\nsegments:\n  wan: {network: 198.51.100.0/24, members: [hub, spoke3]}\n",
                 ["segments.wan.members[1]: expected a router name, got 'spoke3'"],
                 id="segment_member_must_be_a_router"),
]


@pytest.mark.parametrize("text, fragments", BAD_FILES)
def test_bad_file_error_names_the_field_and_what_was_expected(text: str, fragments: list[str], tmp_path: Path,
                                                              nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, text)
    for fragment in fragments:
        assert fragment in msg


def test_bad_role_says_what_was_expected_and_what_was_found(tmp_path: Path, nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, "hub: {}\nspokes: 2\nrouters:\n  spoke1:\n    role: spok\n")
    assert msg.endswith("topologies/bad.yaml: routers.spoke1.role: expected 'hub' or 'spoke', got 'spok' (line 5)")


def test_address_outside_its_network_is_rejected(tmp_path: Path, nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, "hub: {}\nspokes: 1\nrouters:\n  spoke1:\n    tunnel_address: 10.9.0.2/24\n")
    assert "routers.spoke1.tunnel_address: expected an address inside the tunnel network 10.0.0.0/24" in msg
    msg = error_of(tmp_path, nodes, "hub: {}\nspokes: 1\nrouters:\n  spoke1:\n    lan: {network: 10.1.0.0/24, hosts: [{name: a, address: 10.2.0.1}]}\n")
    assert "routers.spoke1.lan.hosts[0].address: expected an address inside 10.1.0.0/24" in msg


def test_spoke_count_out_of_range_and_tunnel_too_small(tmp_path: Path, nodes: Path) -> None:
    assert "spokes: expected a number of spokes from 1 to 1000, got 1001" in error_of(tmp_path, nodes, "hub: {}\nspokes: 1001\n")
    msg = error_of(tmp_path, nodes, "hub: {}\nspokes: 300\n")
    assert "tunnel.network: expected a tunnel network with room for spoke254" in msg


def test_wrong_type_reads_as_expected_and_found(tmp_path: Path, nodes: Path) -> None:
    assert "spokes: expected a valid integer, got 'many'" in error_of(tmp_path, nodes, "hub: {}\nspokes: many\n")
    assert "hub.vars: expected a mapping" in error_of(tmp_path, nodes, "hub: {vars: 3}\n")


def test_empty_file_and_missing_file(tmp_path: Path, nodes: Path) -> None:
    assert "expected a mapping" in error_of(tmp_path, nodes, "")
    with pytest.raises(TopologyError, match="nope.yaml: no such topology file"):
        load_topology(tmp_path / "nope.yaml", nodes)
