"""Fuzz: random mutations of valid lab files never raise anything but the lab-file error (one paragraph).

Three mutators, seeded so a failure replays: the data of a CML lab (a value replaced by
another type, a key deleted, a list item duplicated), its YAML text (bytes flipped, cut,
YAML punctuation inserted), and the text of the wired format and of a VIRL file. A
mutated file either loads (a WiredTopology) or raises LabFileError / TopologyError
(the native loader's, when the mutation made it look like a native topology), whose str()
is one line. Anything else (KeyError, TypeError, RecursionError...) is a bug.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from cml_samples import lab, link, write
from dmvpnlab.lab.cml import LabFileError, dump_wired, load_lab_file
from dmvpnlab.lab.topology.errors import TopologyError
from dmvpnlab.lab.wired.model import WiredTopology
from test_lab_cml_virl import virl

ROUNDS = 100
VALUES: list[Any] = [None, 0, -1, 7, 2**40, 1.5, float("nan"), True, "", "x", "n0", "i1", "GigabitEthernet0/0",
                     "external_connector", "iosvl2", "0.3.0", "a" * 300, [], [1], {}, {"a": 1}, ["x", {"y": None}],
                     "interface Tunnel0\n ip nhrp nhs 1.2.3.4\n", "interface Gi0/0\n ip address 1.1.1.1\n"]
PUNCTUATION = ["{", "}", "[", "]", ":", "- ", "&a ", "*a", "!!binary ", "\t", "'", '"', "\n", "#", "%", "<<: ", "\x00"]


def _rich() -> dict[str, Any]:
    data = lab()
    data["nodes"].append({"id": "n7", "label": "PC1", "node_definition": "ubuntu",
                          "configuration": [{"name": "user-data", "content": "#cloud-config\nruncmd:\n"
                                             "  - ip addr add 10.0.1.10/24 dev ens2\n"},
                                            {"name": "network-config", "content": "version: 2\nethernets: {}\n"}],
                          "interfaces": [{"id": "i0", "label": "ens2", "slot": 0}]})
    data["nodes"].append({"id": "n8", "label": "L2", "node_definition": "iosvl2", "configuration":
                          "hostname L2\ninterface Vlan1\n ip address 10.9.0.1 255.255.255.0\n",
                          "interfaces": [{"id": "i0", "label": "GigabitEthernet0/0", "slot": 0}]})
    data["links"] += [link("l7", "n7", "i0", "n1", "i2"),
                      link("l8", "n8", "i0", "n3", "i3", conditioning={"bandwidth": 100, "latency": 5})]
    return data


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, prefix + (i,))
    return out


def _mutate_data(rng: random.Random, data: Any) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        op = rng.random()
        if op < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        elif op < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return data


def _mutate_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(chars) + 1)
        op = rng.random()
        if op < 0.4:
            chars[at:at] = list(rng.choice(PUNCTUATION))
        elif op < 0.7 and chars:
            del chars[at:at + rng.randint(1, 20)]
        elif op < 0.85:
            chars = chars[:at]
        elif chars:
            chars[min(at, len(chars) - 1)] = chr(rng.randrange(32, 0x2FF))
    return "".join(chars)


def _check(path: Path, structural: bool) -> None:
    try:
        topo = load_lab_file(path)
    except LabFileError as e:
        assert "\n" not in str(e), str(e)
        return
    except TopologyError as e:
        assert not structural, f"a CML lab with a `lab:` section was read as native: {e}"
        assert "\n" not in str(e), str(e)
        return
    if structural:
        assert isinstance(topo, WiredTopology)


@pytest.mark.parametrize("seed", range(3))
def test_mutated_cml_data_gives_a_lab_or_a_lab_file_error(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    base = _rich()
    for _ in range(ROUNDS):
        data = _mutate_data(rng, base)
        structural = isinstance(data, dict) and isinstance(data.get("lab"), dict)
        try:
            path = write(tmp_path, data)
        except (ValueError, OverflowError):  # nan and such may not dump: not the importer's business
            continue
        _check(path, structural)


@pytest.mark.parametrize("seed", range(3))
def test_mutated_cml_text_gives_a_lab_or_a_lab_file_error(tmp_path: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    text = yaml.safe_dump(_rich(), sort_keys=False)
    for _ in range(ROUNDS):
        _check(write(tmp_path, _mutate_text(rng, text)), structural=False)


def test_mutated_wired_and_virl_text_gives_a_lab_or_a_lab_file_error(tmp_path: Path) -> None:
    rng = random.Random(7)
    dump_wired(load_lab_file(write(tmp_path, _rich(), "cml.yaml")), tmp_path / "w.yaml")
    wired = (tmp_path / "w.yaml").read_text()
    sample = virl()
    for k in range(ROUNDS):
        name, text = ("w.yaml", wired) if k % 2 else ("lab.virl", sample)
        (tmp_path / name).write_text(_mutate_text(rng, text))
        _check(tmp_path / name, structural=False)
