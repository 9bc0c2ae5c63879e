"""Template lookup: a topology anywhere finds the templates dmvpnlab ships; its own nodes/
(one level up, or next to it) comes first; a missing template's error lists every place."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmvpnlab.lab.render import render_router_config
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.templates import PACKAGE_TEMPLATES, template_dirs
from dmvpnlab.lab.topology.yamlfile import load_topology

REPO = Path(__file__).resolve().parents[1]
LAB = "vars: {phase: 3}\nhub: {template: hub.j2}\nspokes: 1\nspoke_defaults: {template: spoke.j2}\n"


def write_lab(directory: Path, text: str = LAB) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "lab.yaml"
    path.write_text(text)
    return path


def test_a_topology_outside_the_repository_uses_the_shipped_templates(tmp_path):
    path = write_lab(tmp_path / "some" / "dir")
    topo = load_topology(path)
    assert topo.hub.template == "hub.j2"
    config = render_router_config(topo, topo.hub)
    assert "interface Tunnel0" in config and "ip nhrp" in config


def test_the_shipped_templates_are_package_data_and_the_repo_nodes_dir_is_that_copy():
    assert (PACKAGE_TEMPLATES / "hub.j2").is_file() and (PACKAGE_TEMPLATES / "spoke.j2").is_file()
    assert PACKAGE_TEMPLATES.parent.name == "dmvpnlab"
    assert (REPO / "nodes").resolve() == PACKAGE_TEMPLATES  # one copy, not two
    assert "templates/*.j2" in (REPO / "pyproject.toml").read_text()


@pytest.mark.parametrize("own", ["../nodes", "nodes"])
def test_the_topologys_own_nodes_dir_comes_first(tmp_path, own):
    path = write_lab(tmp_path / "labs")
    mine = (path.parent / own).resolve()
    mine.mkdir()
    (mine / "hub.j2").write_text("hostname {{ router.name }}-mine\n")
    topo = load_topology(path)
    assert render_router_config(topo, topo.hub) == "hostname hub-mine\n"
    assert "ip nhrp" in render_router_config(topo, topo.spokes[0])  # spoke.j2: the package's


def test_the_lookup_order_is_own_dirs_then_the_package(tmp_path):
    path = write_lab(tmp_path / "labs")
    assert template_dirs(path) == (tmp_path / "nodes", tmp_path / "labs" / "nodes", PACKAGE_TEMPLATES)
    assert template_dirs(path, tmp_path / "x") == (tmp_path / "x", PACKAGE_TEMPLATES)
    assert template_dirs(path, PACKAGE_TEMPLATES) == (PACKAGE_TEMPLATES,)


def test_a_missing_template_lists_every_place_looked_in(tmp_path):
    path = write_lab(tmp_path / "labs", "hub: {template: hbu.j2}\n")
    with pytest.raises(TopologyError) as error:
        load_topology(path)
    message = str(error.value)
    for place in (tmp_path / "nodes", tmp_path / "labs" / "nodes", PACKAGE_TEMPLATES):
        assert str(place) in message
    assert "'hbu.j2' (no such file in any of them)" in message
