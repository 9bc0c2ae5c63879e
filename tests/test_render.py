"""nodes/hub.j2 and nodes/spoke.j2 rendered per phase: DMVPN hub and spoke configs that parse as-is."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dmvpnlab.config.parser import parse_config
from dmvpnlab.lab.render import DEFAULT_NODES_DIR, RenderError, render_router_config, summarize_lans

REPO = Path(__file__).resolve().parents[1]


def _router(name: str, role: str, index: int, wan: str, gw: str, vars: dict[str, Any]) -> SimpleNamespace:
    """A stand-in with the attributes of lab.topology.Router that the templates read, independent of it."""
    lan_net = IPv4Network(f"192.168.{index}.0/24")
    return SimpleNamespace(
        name=name, role=role, index=index, nat=None,
        tunnel_address=IPv4Interface(f"10.0.0.{index + 1}/24"),
        wan=SimpleNamespace(ios_name="GigabitEthernet0/0", address=IPv4Interface(wan),
                            gateway=IPv4Address(gw), peer="isp"),
        lan=SimpleNamespace(ios_name="GigabitEthernet0/1", network=lan_net,
                            router_address=IPv4Interface(f"192.168.{index}.1/24"), hosts=[]),
        template=f"{role}.j2", vars=vars, nbma_address=IPv4Interface(wan).ip,
    )


def _topology(phase: int, spokes: int = 2, **extra: Any) -> SimpleNamespace:
    vars = {"phase": phase, **extra}
    hub = _router("hub", "hub", 0, "203.0.113.1/30", "203.0.113.2", dict(vars))
    spoke_list = [_router(f"spoke{n}", "spoke", n, f"100.64.{n}.1/30", f"100.64.{n}.2", dict(vars))
                  for n in range(1, spokes + 1)]
    return SimpleNamespace(name=f"phase{phase}", routers=[hub, *spoke_list], hub=hub, hubs=[hub], spokes=spoke_list,
                           nat_boxes=[], nodes_dir=DEFAULT_NODES_DIR)


def _parse(text: str):  # noqa: ANN202 - a ParseResult
    result = parse_config(text, source="rendered")
    assert result.errors == [], [str(e) for e in result.errors]
    assert result.ignored == [], [str(i) for i in result.ignored]
    return result.config


@pytest.mark.parametrize("phase", [1, 2, 3])
@pytest.mark.parametrize("role", ["hub", "spoke1", "spoke2"])
def test_rendered_config_parses_with_no_errors_and_no_ignored_lines(phase: int, role: str) -> None:
    topo = _topology(phase)
    router = next(r for r in topo.routers if r.name == role)
    cfg = _parse(render_router_config(topo, router))
    assert cfg.hostname == role
    tun = cfg.interface("Tunnel0")
    assert tun is not None
    assert tun.address == router.tunnel_address
    assert (tun.ip_mtu, tun.tcp_adjust_mss, tun.tunnel_key) == (1400, 1360, 12345)
    assert tun.tunnel_source == "GigabitEthernet0/0"
    assert tun.nhrp.network_id == 1 and tun.nhrp.authentication == "DMVPN" and tun.nhrp.holdtime == 300
    wan = cfg.interface("GigabitEthernet0/0")
    lan = cfg.interface("GigabitEthernet0/1")
    assert wan is not None and wan.address == router.wan.address
    assert lan is not None and lan.address == router.lan.router_address
    default = cfg.static_routes[0]
    assert default.prefix == IPv4Network("0.0.0.0/0") and default.next_hop == router.wan.gateway


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_hub_is_mgre_with_dynamic_multicast_and_redirect_only_in_phase3(phase: int) -> None:
    topo = _topology(phase)
    tun = _parse(render_router_config(topo, topo.hub)).interface("Tunnel0")
    assert tun is not None
    assert tun.tunnel_mode == "gre multipoint"
    assert tun.nhrp.multicast_maps == ["dynamic"]
    assert tun.nhrp.nhs == [] and tun.nhrp.maps == []
    assert tun.nhrp.redirect is (phase == 3)
    assert not tun.nhrp.shortcut


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_hub_routes_each_spoke_lan_via_that_spokes_tunnel_address(phase: int) -> None:
    topo = _topology(phase, spokes=3)
    cfg = _parse(render_router_config(topo, topo.hub))
    assert [(r.prefix, r.next_hop) for r in cfg.static_routes[1:]] == [
        (IPv4Network(f"192.168.{n}.0/24"), IPv4Address(f"10.0.0.{n + 1}")) for n in (1, 2, 3)]


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_spoke_registers_with_the_hub_as_nhs(phase: int) -> None:
    topo = _topology(phase)
    tun = _parse(render_router_config(topo, topo.spokes[0])).interface("Tunnel0")
    assert tun is not None
    assert [n.address for n in tun.nhrp.nhs] == [IPv4Address("10.0.0.1")]
    assert [(m.address, m.nbma) for m in tun.nhrp.maps] == [(IPv4Address("10.0.0.1"), IPv4Address("203.0.113.1"))]
    assert tun.nhrp.multicast_maps == [IPv4Address("203.0.113.1")]
    assert tun.nhrp.shortcut is (phase == 3)
    assert not tun.nhrp.redirect


def test_phase1_spoke_is_point_to_point_gre_to_the_hub() -> None:
    topo = _topology(1)
    tun = _parse(render_router_config(topo, topo.spokes[0])).interface("Tunnel0")
    assert tun is not None
    assert tun.tunnel_mode == "gre ip" and tun.tunnel_destination == IPv4Address("203.0.113.1")


@pytest.mark.parametrize("phase", [2, 3])
def test_phase2_and_3_spokes_are_multipoint(phase: int) -> None:
    topo = _topology(phase)
    tun = _parse(render_router_config(topo, topo.spokes[1])).interface("Tunnel0")
    assert tun is not None and tun.tunnel_mode == "gre multipoint" and tun.tunnel_destination is None


@pytest.mark.parametrize("phase", [1, 3])
def test_phase1_and_3_spokes_point_a_lan_summary_at_the_hub(phase: int) -> None:
    topo = _topology(phase)
    cfg = _parse(render_router_config(topo, topo.spokes[0]))
    assert [(r.prefix, r.next_hop) for r in cfg.static_routes[1:]] == [
        (IPv4Network("192.168.0.0/16"), IPv4Address("10.0.0.1"))]


def test_phase2_spokes_keep_the_far_spoke_as_next_hop() -> None:
    topo = _topology(2, spokes=3)
    cfg = _parse(render_router_config(topo, topo.spokes[1]))  # spoke2
    assert [(r.prefix, r.next_hop) for r in cfg.static_routes[1:]] == [
        (IPv4Network("192.168.0.0/24"), IPv4Address("10.0.0.1")),
        (IPv4Network("192.168.1.0/24"), IPv4Address("10.0.0.2")),
        (IPv4Network("192.168.3.0/24"), IPv4Address("10.0.0.4")),
    ]


def test_router_vars_override_the_template_defaults() -> None:
    topo = _topology(3, tunnel_key=777, nhrp_auth="s3cret", nhrp_holdtime=60,
                     lan_summary="172.16.0.0/12", extra_lines=["ntp server 192.0.2.1"])
    text = render_router_config(topo, topo.spokes[0])
    result = parse_config(text)
    assert result.errors == []
    assert [i.text for i in result.ignored] == ["ntp server 192.0.2.1"]
    tun = result.config.interface("Tunnel0")
    assert tun is not None
    assert (tun.tunnel_key, tun.nhrp.authentication, tun.nhrp.holdtime) == (777, "s3cret", 60)
    assert result.config.static_routes[1].prefix == IPv4Network("172.16.0.0/12")


def test_a_phase_that_does_not_exist_is_a_render_error() -> None:
    topo = _topology(4)
    with pytest.raises(RenderError, match="phase must be 1, 2 or 3"):
        render_router_config(topo, topo.hub)


def test_missing_template_and_missing_variable_are_render_errors(tmp_path: Path) -> None:
    topo = _topology(3)
    topo.hub.template = "nope.j2"
    with pytest.raises(RenderError, match="nope.j2.*not found"):
        render_router_config(topo, topo.hub)
    (tmp_path / "x.j2").write_text("hostname {{ no_such_var }}\n")
    topo.hub.template = "x.j2"
    with pytest.raises(RenderError, match="no_such_var"):
        render_router_config(topo, topo.hub, nodes_dir=tmp_path)


def test_lan_summary_rounds_out_to_octets_so_new_spokes_need_no_spoke_change() -> None:
    nets = [IPv4Network(f"192.168.{i}.0/24") for i in range(3)]
    assert summarize_lans(nets) == [IPv4Network("192.168.0.0/16")]
    assert summarize_lans([*nets, IPv4Network("10.129.4.0/24")]) == [
        IPv4Network("10.129.0.0/16"), IPv4Network("192.168.0.0/16")]


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_repository_phase_topologies_render_parseable_configs(phase: int) -> None:
    topology_mod = pytest.importorskip("dmvpnlab.lab.topology.yamlfile")
    path = REPO / "topologies" / f"phase{phase}.yaml"
    if not path.exists():
        pytest.skip(f"{path} not present")
    topo = topology_mod.load_topology(path)
    for router in topo.routers:
        if not router.template:
            continue
        cfg = _parse(render_router_config(topo, router))
        tun = cfg.interface("Tunnel0")
        assert tun is not None
        if router.role == "hub":
            assert tun.nhrp.redirect is (phase == 3)
        else:
            assert tun.nhrp.shortcut is (phase == 3)
            assert (tun.tunnel_mode == "gre ip") is (phase == 1)


def test_rendering_many_routers_reuses_one_environment_yet_sees_an_edited_template(tmp_path) -> None:
    """The environment is cached for bring-up speed; a template edited on disk still wins."""
    import os
    import time as _time

    from dmvpnlab.lab.render import render_router_config
    from dmvpnlab.lab.topology.yamlfile import load_topology

    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "t.j2").write_text("hostname {{ router.name }}\n")
    (tmp_path / "lab.yaml").write_text("hub: {template: t.j2}\nspokes: 3\nspoke_defaults: {template: t.j2}\n")
    topo = load_topology(tmp_path / "lab.yaml", nodes)
    assert [render_router_config(topo, r) for r in topo.routers][-1] == "hostname spoke3\n"
    (nodes / "t.j2").write_text("hostname X{{ router.name }}\n")
    later = _time.time() + 5
    os.utime(nodes / "t.j2", (later, later))
    assert render_router_config(topo, topo.router("spoke1")) == "hostname Xspoke1\n"
