"""Reading a lab file: bounded text, bounded YAML, and which format it is.

CML labs carry every router's whole config, so they are larger than native topologies
(a 21-router lab is some 60 kB, one config can pass 10 kB with certificates): the bounds
here are wider than `lab.topology.boundedyaml`'s defaults but still bound the time a
hostile file can take (PyYAML composes 100-200 kB/s in pure Python). YAML problems become
`LabFileError` at their field and line. Imports `lab.topology` (boundedyaml through
yamlfile) and `errors`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from dmvpnlab.lab.cml.errors import LabFileError
from dmvpnlab.lab.topology.errors import FieldPath, TopologyError

MAX_LAB_CHARS = 1024 * 1024  # ~ 200 routers with 4 kB configs; parses in a few seconds at worst
MAX_TEXT_CHARS = 256 * 1024  # one scalar: a router config, a cloud-init user-data
MAX_CONFIG_FILE_CHARS = MAX_TEXT_CHARS  # a wired-format `<Node>.cfg`

Lines = dict[FieldPath, int]
Format = Literal["cml", "virl", "wired", "native"]

_NATIVE_KEYS = frozenset({"hub", "spokes", "spoke_defaults", "routers", "tunnel", "vars", "nat_boxes", "segments"})
_VIRL = re.compile(r"\A\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(\w+:)?topology\b", re.S)
_CML_HINT = re.compile(r"^(\s*-?\s*node_definition\s*:|lab\s*:)", re.M)
_WIRED_HINT = re.compile(r"^format\s*:\s*['\"]?dmvpnlab-wired", re.M)


def read_text(path: Path, file: str, limit: int = MAX_LAB_CHARS, what: str = "lab file") -> str:
    """The file's UTF-8 text, read with a bound (a pipe works, /dev/zero does not hang)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit * 4 + 1)
    except FileNotFoundError:
        raise LabFileError(file, None, f"no such {what}") from None
    except IsADirectoryError:
        raise LabFileError(file, None, f"expected a {what}, got a directory") from None
    except OSError as e:
        raise LabFileError(file, None, f"cannot read the {what}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LabFileError(file, None, f"cannot read the {what}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    if len(text) > limit:
        raise LabFileError(file, None, f"expected a {what} of at most {limit:,} characters, got more")
    return text.removeprefix("\ufeff")  # files saved by Windows editors start with a BOM


def parse_yaml(text: str, file: str, max_scalar: int = MAX_TEXT_CHARS) -> tuple[Any, Lines]:
    """Plain data and the line of every field (see `lab.topology.yamlfile.parse_yaml`); LabFileError."""
    from dmvpnlab.lab.topology import yamlfile

    try:
        return yamlfile.parse_yaml(text, file, max_chars=MAX_LAB_CHARS, max_scalar=max_scalar)
    except LabFileError:
        raise
    except TopologyError as e:
        raise LabFileError(e.file, e.field, e.message, line=e.line, column=e.column) from None


def sniff(text: str, data: Any) -> Format:
    """Which loader a file is for: VIRL XML, the wired format, CML YAML, or a native topology.

    CML: a `nodes:` list whose entries have `node_definition` (with or without the `lab:`
    section, which 0.0.x files may lack). `data` is the parsed YAML, or None when it did
    not parse (then the text's shape decides, so a CML file with a YAML error gets the
    CML loader's error rather than the native loader's)."""
    if _VIRL.match(text) or text.lstrip().startswith("<"):  # XML; no topology YAML starts with '<'
        return "virl"
    if isinstance(data, dict):
        fmt = data.get("format")
        if isinstance(fmt, str) and fmt.startswith("dmvpnlab-wired"):
            return "wired"
        nodes = data.get("nodes")
        if isinstance(nodes, list) and any(isinstance(n, dict) and "node_definition" in n for n in nodes):
            return "cml"
        # A native topology has neither `lab:` nor `nodes:` (its nodes are hub/spokes/routers).
        if "lab" in data or ("nodes" in data and not _NATIVE_KEYS & data.keys()):
            return "cml"
        return "native"
    if _WIRED_HINT.search(text):
        return "wired"
    if _CML_HINT.search(text):
        return "cml"
    return "native"
