"""Hostile topology files: every one is a one-paragraph TopologyError at its field, quickly, never a traceback.

Regressions for the "hostile input" issue (item 3): each input it names, and the ones its
fix led to (aliases through merges, addresses past the top of the address space, names
and logins a lab cannot use). The CLI side: `dmvpnlab up BAD.yaml` exits 2 with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_topology import error_of, load, nodes, write  # noqa: F401  (nodes is a fixture)

from dmvpnlab.lab import commands as lab_commands
from dmvpnlab.lab.topology import addressing, boundedyaml, build
from dmvpnlab.lab.topology.build import topology_from_data
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.topology.yamlfile import load_topology

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "fuzz" / "corpus" / "topology-loader"


def alias_bomb(lines: int) -> str:
    """Line 1 has ten scalars, every further line ten aliases of the line before: 10**lines nodes."""
    out = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, lines):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        out.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------- the issue's inputs


@pytest.mark.parametrize("text, fragments", [
    pytest.param("hub:\nrouters:\n  branch:\n    role: spoke\n    index: 32768\n",
                 ["routers.branch.index: expected a router index from 0 to 32767 (the address plan's range), "
                  "got 32768 (line 5)"], id="index_32768_allowed_by_the_old_schema"),
    pytest.param("2020-13-45:\n", ["2020-13-45: unknown key '2020-13-45'"], id="impossible_date_as_a_key"),
    pytest.param("hub: !!int\n", ["hub: expected an integer after !!int, got '' (line 1)"], id="bare_int_tag"),
    pytest.param("hub: !!timestamp\n", ["hub: expected plain YAML, got the tag !!timestamp"], id="bare_timestamp_tag"),
    pytest.param("spokes: " + "9" * 4301 + "\n",
                 ["spokes: expected an integer of at most 32 characters, got one of 4,301"], id="int_of_4301_digits"),
    pytest.param("hub: " + "[" * 2000 + "\n", ["hub[0][0]", "expected at most 32 levels of nesting"],
                 id="2000_nested_brackets"),
    pytest.param("hub:\n  template: " + "a" * 300 + "\n",
                 ["hub.template: expected a template file name inside nodes/", "(300 characters)"],
                 id="template_name_of_300_characters"),
    pytest.param("hub:\nnat_boxes: [{name: [1]}]\n",
                 ["nat_boxes: expected a NAT box name (text) at item 1, got a list"], id="nat_box_name_is_a_list"),
    pytest.param('hub:\nrouters:\n  "spoke1\\n": {}\n',
                 ["routers['spoke1\\n']: expected a router name"], id="router_name_ending_in_a_newline"),
    pytest.param('name: "lab\\n"\nhub:\n', ["name: expected a lab name", "got 'lab\\n'"],
                 id="lab_name_ending_in_a_newline"),
])
def test_issue_inputs_are_refused_at_their_field(text: str, fragments: list[str], tmp_path: Path, nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, text)
    for fragment in fragments:
        assert fragment in msg
    assert "unexpected" not in msg, "refused at its own depth, not by the last guard"


def test_the_alias_bomb_is_refused_in_milliseconds(tmp_path: Path, nodes: Path) -> None:
    text = alias_bomb(9)  # a billion nodes once expanded
    assert len(text) < 400
    started = time.monotonic()
    msg = error_of(tmp_path, nodes, text)
    assert time.monotonic() - started < 0.5
    assert f"expected a document of at most {boundedyaml.MAX_NODES:,} nodes" in msg and "(line 5)" in msg


def test_aliases_that_expand_within_the_bound_still_work(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, "hub: {vars: &v {big: [1, 2, 3, 4, 5, 6, 7, 8]}}\nspokes: 2\n"
                                 "spoke_defaults: {vars: {copy: *v}}\n")
    assert topo.router("spoke2").vars["copy"] == {"big": [1, 2, 3, 4, 5, 6, 7, 8]}


def test_a_recursive_alias_is_refused(tmp_path: Path, nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, "hub: &h {vars: {again: *h}}\n")
    assert "hub.vars.again: expected an alias to a finished node, got *h inside the node it names" in msg


def test_nesting_through_aliases_counts(tmp_path: Path, nodes: Path) -> None:
    deep = "[" * 20 + "]" * 20
    msg = error_of(tmp_path, nodes, f"hub: {{vars: {{a: &d {deep}, b: [[[[[[[[[[[[[[[*d]]]]]]]]]]]]]]]}}}}\n")
    assert "expected at most 32 levels of nesting, got more through the alias *d" in msg


# ------------------------------------------------------------- YAML a topology does not need


def test_dates_stay_the_text_they_look_like(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, "description: 2020-01-01\nhub: {vars: {since: 2001-12-14t21:59:43.10-05:00}}\n")
    assert topo.description == "2020-01-01"
    assert topo.hub.vars["since"] == "2001-12-14t21:59:43.10-05:00"


@pytest.mark.parametrize("text, fragment", [
    ("hub: {vars: {x: !!binary aGVsbG8=}}\n", "hub.vars.x: expected plain YAML, got the tag !!binary"),
    ("hub: {vars: {x: !!set {a, b}}}\n", "hub.vars.x: expected plain YAML, got the tag !!set"),
    ("hub: {vars: {x: !local 5}}\n", "hub.vars.x: expected plain YAML, got the tag !local"),
    ("hub: {vars: {x: !!float abc}}\n", "hub.vars.x: expected a number after !!float, got 'abc'"),
    ("hub: {vars: {x: !!bool maybe}}\n", "hub.vars.x: expected true or false after !!bool, got 'maybe'"),
    ("hub: {vars: {x: !!int 0b_}}\n", "hub.vars.x: expected an integer, got '0b_'"),
    ("hub: {vars: {x: !!int '5\n'}}\n", "hub.vars.x: expected an integer after !!int"),
    ("routers: {1: {}}\nhub:\n", "routers: expected a key of text (a name), got 1 (quote it if it is a name: '1')"),
    ("hub: {vars: {? [a, b] : 1}}\n", "hub.vars: expected a key of text (a name), got a list"),
    ("hub: {vars: {<<: 3}}\n", "hub.vars: expected a mapping or a list of mappings after `<<:`"),
    ("hub: {description: " + "x" * 10_001 + "}\n", "hub.description: expected a value of at most 10,000 characters"),
    ("hub: {vars: {x: 'a\x00b'}}\n", "line 1, column 19: YAML error: expected text YAML allows, got the character '\\x00'"),
])
def test_yaml_beyond_plain_values_is_refused_at_its_field(text: str, fragment: str, tmp_path: Path,
                                                          nodes: Path) -> None:
    assert fragment in error_of(tmp_path, nodes, text)


def test_explicit_standard_tags_that_hold_what_they_claim_are_fine(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, "hub: {vars: {k: !!int '7', f: !!float '1.5', b: !!bool yes, n: !!null '', "
                                 "s: !!str 5}}\n")
    assert topo.hub.vars == {"k": 7, "f": 1.5, "b": True, "n": None, "s": "5"}


def test_merge_keys_apply_and_a_merged_anchor_reached_twice_is_no_duplicate(tmp_path: Path, nodes: Path) -> None:
    topo = load(tmp_path, nodes, """\
        spoke_defaults: &d {template: spoke.j2, vars: &v {phase: 3, key: 1}}
        hub: {template: hub.j2, vars: {<<: *v, key: 9}}
        routers:
          branch7: {<<: *d, role: spoke, index: 7}
          branch8: {<<: [{vars: {phase: 2}}, *d], role: spoke, index: 8}
        """)
    assert topo.hub.vars == {"phase": 3, "key": 9}
    assert topo.router("branch7").template == "spoke.j2"
    assert topo.router("branch8").vars["phase"] == 2, "of `<<: [a, b]`, a wins"


def test_a_document_past_the_size_bound_is_refused_before_parsing(tmp_path: Path, nodes: Path) -> None:
    text = "hub:\n" + "# padding\n" * (boundedyaml.MAX_DOCUMENT_CHARS // 10 + 1)
    assert "expected a topology of at most 65,536 characters, got more" in error_of(tmp_path, nodes, text)


def test_a_file_that_is_not_utf8_or_not_a_file(tmp_path: Path, nodes: Path) -> None:
    path = write(tmp_path, "hub:\n", "latin.yaml")
    path.write_bytes(b"hub: {description: caf\xe9}\n")
    with pytest.raises(TopologyError, match=r"latin.yaml: cannot read the file: not UTF-8 text \(byte 22"):
        load_topology(path, nodes)
    with pytest.raises(TopologyError, match="cannot read the file: Is a directory"):
        load_topology(tmp_path, nodes)


def test_an_endless_file_is_read_with_a_bound(tmp_path: Path, nodes: Path) -> None:
    started = time.monotonic()
    with pytest.raises(TopologyError, match="/dev/zero: (line 1, column 1: YAML error: expected text|expected a topology)"):
        load_topology("/dev/zero", nodes)
    assert time.monotonic() - started < 2


# ------------------------------------------------------------- schema and plan agree


def test_the_highest_index_the_schema_allows_is_one_the_plan_addresses(tmp_path: Path, nodes: Path) -> None:
    top = addressing.MAX_ROUTER_INDEX
    topo = load(tmp_path, nodes, f"tunnel: {{network: 10.0.0.0/16}}\nhub:\nrouters:\n  far: {{role: spoke, index: {top}}}\n")
    far = topo.router("far")
    assert str(far.lan.network) == "10.255.255.0/24" and str(far.wan.address) == "100.191.255.1/30"
    assert str(far.tunnel_address) == "10.0.128.0/16"


@pytest.mark.parametrize("text, fragment", [
    ("hub:\nrouters:\n  spoke40000: {}\n",
     "routers.spoke40000: expected a router index from 0 to 32767 (the address plan's range), got 40000 from the name"),
    ("hub:\nspokes: 1\nrouters:\n  spoke1: {nat: nat5000}\nnat_boxes: [nat5000]\n",
     "nat_boxes.nat5000: expected a NAT box index from 0 to 4095 (the address plan's range), got 5000 from the name"),
    ("hub:\nnat_boxes: {n: {index: 4096}}\n", "nat_boxes.n.index: expected a NAT box index from 0 to 4095"),
    ("hub:\nrouters:\n  b: {role: spoke, index: true}\n", "routers.b.index: expected a router index from 0 to 32767"),
    ("tunnel: {network: 255.255.255.0/24}\nhub:\nrouters:\n  b: {role: spoke, index: 300}\n",
     "tunnel.network: expected a tunnel network with room for b (index 300, address .301)"),
    ("hub: {lan: {network: 255.255.255.255/32}}\n",
     "hub.lan.network: expected a LAN network with room for the router at .1"),
    ("hub: {lan: {network: 255.255.255.248/29}}\n",
     "hub.lan.hosts[0]: expected a LAN big enough for host h0 at .10, got 255.255.255.248/29"),
    ("hub:\nspokes: 20\nsegments:\n  wan: {network: 198.51.100.0/29, members: [spoke20]}\n",
     "routers.spoke20.wan.address: expected a segment network with room for spoke20 (index 20, planned at .21)"),
])
def test_an_address_the_plan_cannot_give_is_refused_at_its_field(text: str, fragment: str, tmp_path: Path,
                                                                 nodes: Path) -> None:
    assert fragment in error_of(tmp_path, nodes, text)


def test_the_plan_itself_refuses_what_it_cannot_address() -> None:
    with pytest.raises(addressing.PlanRangeError):
        addressing.lan_network(addressing.MAX_ROUTER_INDEX + 1)
    with pytest.raises(addressing.PlanRangeError):
        addressing.nat_inside_network(addressing.MAX_NAT_INDEX + 1)
    assert str(addressing.nat_inside_network(addressing.MAX_NAT_INDEX)) == "172.31.255.0/30"


# ------------------------------------------------------------- names and logins a lab can use


@pytest.mark.parametrize("text, fragment", [
    ('hub: {lan: {hosts: ["h0\\n"]}}\n', "hub.lan.hosts[0].name: expected a host name"),
    ('hub:\nspokes: 1\nrouters: {spoke1: {nat: "nat1\\n"}}\nnat_boxes: ["nat1\\n"]\n',
     "nat_boxes['nat1\\n']: expected a NAT box name"),
    ('hub:\nsegments: {"wan\\n": {network: 198.51.100.0/24, members: [hub]}}\n',
     "segments['wan\\n']: expected a segment name"),
    ("name: " + "x" * 65 + "\nhub:\n", "name: expected a lab name of letters, digits, '.', '_' and '-', at most 64"),
    ("hub: {template: ../hub.j2}\n", "hub.template: expected a template file name inside nodes/"),
    ("hub: {template: hub.j2/}\n", "hub.template: expected a template file name inside nodes/"),
    ('hub: {template: "hub.j2\\u0000"}\n', "hub.template: expected a template file name inside nodes/"),
    ("management: {username: a b}\nhub: {template: hub.j2}\n",
     "management.username: expected a user name of 1 to 64 printable characters without spaces, got 'a b'"),
    ('management: {password: "pw\\nroot"}\nhub: {template: hub.j2}\n',
     "management.password: expected a password of 1 to 128 printable characters, got 'pw\\nroot'"),
])
def test_names_and_logins_a_lab_cannot_use_are_refused(text: str, fragment: str, tmp_path: Path, nodes: Path) -> None:
    assert fragment in error_of(tmp_path, nodes, text)


def test_a_long_found_value_is_shortened_in_the_message(tmp_path: Path, nodes: Path) -> None:
    msg = error_of(tmp_path, nodes, "hub:\n  template: " + "b" * 5000 + "\n")
    assert "(5000 characters)" in msg and len(msg) < 500


def test_a_template_lookup_the_file_system_refuses_is_a_topology_error(tmp_path: Path, nodes: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "is_file", refuse)
    msg = error_of(tmp_path, nodes, "hub: {template: hub.j2}\n")
    assert "hub.template: expected a template file in" in msg and "(cannot look it up: Permission denied)" in msg


# ------------------------------------------------------------- the last guard


def test_the_last_guard_names_the_file_and_keeps_the_cause(tmp_path: Path, nodes: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a check nobody wrote")

    monkeypatch.setattr(build, "resolve", broken)
    with pytest.raises(TopologyError) as info:
        load(tmp_path, nodes, "hub:\n", "guarded.yaml")
    assert str(info.value).endswith("topologies/guarded.yaml: cannot load this topology: unexpected RuntimeError: "
                                    "a check nobody wrote (a dmvpnlab bug; please report it with the file)")
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(TopologyError, match="other.yaml: cannot load this topology: unexpected RuntimeError"):
        topology_from_data({"hub": None}, tmp_path / "other.yaml", nodes)


# ------------------------------------------------------------- the command line


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.stem)
def test_up_on_each_fuzz_corpus_file_is_one_line_and_exit_2(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What `dmvpnlab up` and `dmvpnlab demo` call first: the file is refused before anything is created."""
    assert lab_commands._load_as_root(str(path)) == lab_commands.EXIT_TOPOLOGY
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("dmvpnlab: ")
    assert path.name in err and "Traceback" not in err


def test_dmvpnlab_up_on_a_bad_file_exits_2_with_one_line_and_creates_nothing(tmp_path: Path) -> None:
    """The real command: the topology is loaded before root is checked or anything is created."""
    command = Path(sys.executable).with_name("dmvpnlab")
    if not command.exists():
        pytest.skip(f"{command} is not installed (pip install -e .)")
    bad = tmp_path / "bomb.yaml"
    bad.write_text(alias_bomb(9))
    run_dir = tmp_path / "run"
    env = {**os.environ, "DMVPNLAB_RUN_DIR": str(run_dir)}
    result = subprocess.run([str(command), "up", str(bad)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("dmvpnlab: bomb.yaml: e: expected a document of at most 100,000 nodes")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not run_dir.exists() and not (tmp_path / "captures").exists()
