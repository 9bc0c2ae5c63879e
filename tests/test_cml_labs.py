"""Our own CML test labs (topologies/cml/*.yaml) are sound lab files whose router configs we read whole.

Every router of every lab: its IOS config parses with nothing refused, and the lines a
DMVPN lab depends on (interfaces, addresses, tunnel and NHRP lines, static routes, the
routing section) are modelled, not merely kept as ignored text. When the CML importer
(`dmvpnlab.lab.cml`) is there, the configs are taken through it, as `dmvpnlab up` does;
the file's own YAML is read too, so the wiring (links naming real nodes and interfaces,
iosv labels matching their slots) is checked whatever the importer accepts.
No privileges needed: nothing is built.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dmvpnlab.config.parser import parse_config

LABS = sorted((Path(__file__).resolve().parents[1] / "topologies" / "cml").glob("*.yaml"))
ROUTER_DEFINITIONS = {"iosv", "csr1000v", "iol-xe", "iosvl2"}
REFUSED = {"external.yaml"}  # an external_connector: the importer must refuse the whole lab
# Lines (by their start, section indent kept) that must land in the model, never in `ignored`.
MODELLED = ("hostname", "interface ", " ip address", " description", " shutdown", " bandwidth", " delay",
            " ip mtu", " ip nhrp", " tunnel ", " ip tcp adjust-mss", "ip route", "router ", " network ",
            " eigrp stub", " passive-interface", " no ip split-horizon eigrp", " no ip next-hop-self eigrp",
            " ip summary-address eigrp", "username", "enable secret")


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _config_text(node: dict[str, Any]) -> str:
    """A node's startup config as CML gives it: a string (0.0.x-0.2.x) or `[{name, content}]` (0.3.0)."""
    conf = node.get("configuration") or ""
    if isinstance(conf, list):
        return "\n".join(item["content"] for item in conf if item.get("name", "").endswith(".txt")
                         or item.get("name") in ("ios_config.txt", "config.txt"))
    return conf


def _raw_routers(path: Path) -> dict[str, str]:
    return {n["label"]: _config_text(n) for n in _raw(path)["nodes"] if n["node_definition"] in ROUTER_DEFINITIONS}


def _routers(path: Path) -> dict[str, str]:
    """Router label -> config: through the importer when it is there (and accepts the lab)."""
    if path.name not in REFUSED:
        if importlib.util.find_spec("dmvpnlab.lab.cml") is not None:  # the importer is in this tree
            from dmvpnlab.lab.cml import load_lab_file  # type: ignore[attr-defined]

            lab = load_lab_file(path)
            return {r.name: r.config for r in lab.routers}
    return _raw_routers(path)


def _modelled_now(line: str) -> bool:
    """Whether this parser models `line` (helper config adds banner/domain-name later)."""
    return not parse_config(line + "\n").ignored


MODELLED_LATER = tuple(p for p, probe in (("banner motd", "banner motd ^C\nhi\n^C"),
                                          ("ip domain name", "ip domain name lab.example"))
                       if _modelled_now(probe))


def test_there_are_the_labs_the_issue_asks_for():
    names = {p.name for p in LABS}
    assert {"phase1.yaml", "phase2.yaml", "phase3.yaml", "phase3-v0.0.yaml", "ubuntu-host.yaml",
            "external.yaml"} <= names, names


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_every_router_config_parses_with_nothing_refused(path: Path):
    routers = _routers(path)
    assert routers, f"{path.name} has no router"
    for name, text in routers.items():
        result = parse_config(text, source=f"{path.name}:{name}")
        assert result.ok, f"{path.name} {name}: " + "; ".join(map(str, result.errors))
        assert result.config.hostname == name, "each config names its router as the lab labels it"
        ignored = [i.text if hasattr(i, "text") else str(i) for i in result.ignored]
        wanted = MODELLED + MODELLED_LATER
        kept = [line for line in ignored if line.startswith(wanted)]
        assert not kept, f"{path.name} {name}: lines the lab depends on were only kept, not applied: {kept}"
        tunnels = [i for i in result.config.interfaces if i.is_tunnel]
        assert tunnels and all(t.nhrp.network_id for t in tunnels), f"{name}: a DMVPN tunnel with NHRP"


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_links_join_interfaces_that_exist_and_iosv_labels_match_slots(path: Path):
    lab = _raw(path)
    assert str(lab["lab"]["version"]).startswith(("0.0.", "0.1.", "0.2.", "0.3.")), lab["lab"]
    nodes = {n["id"]: n for n in lab["nodes"]}
    for node in nodes.values():
        for itf in node["interfaces"]:
            if node["node_definition"] == "iosv" and itf["type"] == "physical":
                assert itf["label"] == f"GigabitEthernet0/{itf['slot']}", (node["label"], itf)
    used: set[tuple[str, str]] = set()
    for link in lab["links"]:
        for n, i in (("n1", "i1"), ("n2", "i2")):
            node = nodes[link[n]]
            assert link[i] in {itf["id"] for itf in node["interfaces"]}, (path.name, link)
            assert (link[n], link[i]) not in used, f"{path.name}: interface used by two links: {link}"
            used.add((link[n], link[i]))


@pytest.mark.parametrize("path", [p for p in LABS if p.name not in REFUSED], ids=lambda p: p.name)
def test_tunnel_sources_and_nhs_addresses_are_on_the_lab_underlay(path: Path):
    """Each spoke's NHS NBMA (or tunnel destination) is an address some router's config owns."""
    configs = {name: parse_config(text).config for name, text in _raw_routers(path).items()}
    owned = {str(i.address.ip) for c in configs.values() for i in c.interfaces if i.address}
    for name, cfg in configs.items():
        for t in (i for i in cfg.interfaces if i.is_tunnel):
            targets = [str(m.nbma) for m in t.nhrp.maps] + [str(n.nbma) for n in t.nhrp.nhs if n.nbma]
            if t.tunnel_destination:
                targets.append(str(t.tunnel_destination))
            assert all(a in owned for a in targets), (name, t.name, targets)


def test_the_external_connector_lab_has_one():
    defs = [n["node_definition"] for n in _raw(LABS[0].parent / "external.yaml")["nodes"]]
    assert "external_connector" in defs


def test_the_old_format_lab_gives_configuration_as_a_string():
    lab = _raw(LABS[0].parent / "phase3-v0.0.yaml")
    assert re.fullmatch(r"0\.0\.\d+", str(lab["lab"]["version"]))
    assert all(isinstance(n["configuration"], str) for n in lab["nodes"])


def test_the_benchmarks_generated_lab_is_sound(tmp_path: Path):
    """bench/bench_cml.py's generated 1 hub + N spokes lab: same checks as the labs in the tree."""
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location("bench_cml", bench / "bench_cml.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(bench))
    path = module.write_cml_lab(tmp_path, 20)
    test_links_join_interfaces_that_exist_and_iosv_labels_match_slots(path)
    test_tunnel_sources_and_nhs_addresses_are_on_the_lab_underlay(path)
    routers = _routers(path)
    assert len(routers) == 21
    for name, text in routers.items():
        result = parse_config(text)
        assert result.ok and result.config.hostname == name, result.errors
        kept = [i.text for i in result.ignored if i.text.startswith(MODELLED + MODELLED_LATER)]
        assert not kept, (name, kept)


@pytest.mark.parametrize("path", [p for p in LABS if p.name not in REFUSED], ids=lambda p: p.name)
def test_dmvpnlab_import_converts_each_lab_and_the_result_loads_the_same(path: Path, tmp_path: Path):
    """`dmvpnlab import FILE -o OUT.yaml` (the real command): exit 0, and OUT.yaml loads as the
    same routers with the same configs and interfaces as the CML file itself."""
    import subprocess
    import sys

    if importlib.util.find_spec("dmvpnlab.lab.cml") is None:
        pytest.skip("no CML importer in this tree")
    from dmvpnlab.lab.labfile import load_lab

    out = tmp_path / "converted.yaml"
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "dmvpnlab", "import", str(path), "-o", str(out)], cwd=repo,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    original, converted = load_lab(path), load_lab(out)
    assert [(r.name, r.role, r.config.strip(), r.interface_map) for r in original.routers] == \
        [(r.name, r.role, r.config.strip(), r.interface_map) for r in converted.routers]
    assert sorted(h.name for h in original.hosts) == sorted(h.name for h in converted.hosts)
    assert len(original.links) == len(converted.links)


def test_external_connector_is_refused_by_the_importer():
    if importlib.util.find_spec("dmvpnlab.lab.cml") is None:
        pytest.skip("no CML importer in this tree")
    from dmvpnlab.lab.cml import LabFileError, load_lab_file  # type: ignore[attr-defined]

    with pytest.raises(LabFileError) as refused:
        load_lab_file(LABS[0].parent / "external.yaml")
    assert "Internet" in str(refused.value) and "external_connector" in str(refused.value)
