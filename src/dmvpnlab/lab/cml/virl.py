"""VIRL 1 `.virl` XML topologies -> the CML model (`schema.CmlFile`), then mapped as CML labs are.

A VIRL file (schema 0.9x) is::

    <topology xmlns="http://www.cisco.com/VIRL" schemaVersion="0.95">
      <node name="hub" type="SIMPLE" subtype="IOSv">
        <extensions><entry key="config" type="String">hostname hub ...</entry></extensions>
        <interface id="0" name="GigabitEthernet0/1" ipv4="172.16.0.1" netPrefixLenV4="24"/>
      </node>
      <connection src="/virl:topology/virl:node[1]/virl:interface[1]"
                  dst="/virl:topology/virl:node[2]/virl:interface[1]"/>
    </topology>

Nodes and interfaces are referred to by position (1-based XPath indexes). Interfaces carry
their IOS name, which wins over a slot-derived one (VIRL keeps GigabitEthernet0/0 for
management and numbers data interfaces from 0 = Gi0/1). Subtypes map to CML definitions
(IOSv -> iosv, CSR1000v -> csr1000v, IOSvL2 -> iosvl2, server/lxc -> ubuntu, FLAT/SNAT ->
external connector, refused). A host whose config gives no address gets the interface's
`ipv4`/`netPrefixLenV4` (AutoNetkit's plan) when the file has them.

XML safety: no DTD at all (`<!DOCTYPE`/`<!ENTITY` refused before parsing, so no entity can
expand; ElementTree never fetches external ones), and the text is already size-bounded.
Problems name the node (its name) and the XPath-like field. Imports the schema and errors.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from ipaddress import IPv4Interface
from typing import Any

from pydantic import ValidationError

from dmvpnlab.lab.cml.errors import LabProblem, node_name, show
from dmvpnlab.lab.cml.schema import CmlFile, problem_of

SUBTYPES = {
    "iosv": "iosv", "csr1000v": "csr1000v", "iosvl2": "iosvl2", "iol": "iol-xe", "iol-xe": "iol-xe",
    "server": "ubuntu", "lxc": "ubuntu", "ubuntu": "ubuntu", "alpine": "alpine",
    "unmanaged switch": "unmanaged_switch", "unmanaged_switch": "unmanaged_switch",
    "flat": "external_connector", "snat": "external_connector", "external router": "external_connector",
}
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.I)
_REF = re.compile(r"^/(?:\w+:)?topology/(?:\w+:)?node\[(\d{1,6})\](?:/(?:\w+:)?interface\[(\d{1,6})\])?$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def virl_to_cml(text: str) -> CmlFile:
    """The CML model of a VIRL file; LabProblem naming the node and field for what is wrong."""
    if _DTD.search(text):
        raise LabProblem((), "expected VIRL XML without a DTD, got `<!DOCTYPE` or `<!ENTITY` "
                         "(refused: entities could expand without bound)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise LabProblem((), f"expected well-formed XML, got {e}") from None
    except (ValueError, RecursionError) as e:  # expat refuses some inputs this way
        raise LabProblem((), f"expected well-formed XML, got {type(e).__name__}") from None
    if _local(root.tag) != "topology":
        raise LabProblem((), f"expected a VIRL <topology> document, got <{_local(root.tag)}>")
    elements = _children(root, "node")
    nodes: list[dict[str, Any]] = [_node(k, element) for k, element in enumerate(elements)]
    links = [_link(k, c, nodes) for k, c in enumerate(_children(root, "connection"))]
    data = {"lab": {"version": "0.0.5", "title": root.get("name"), "description": ""}, "nodes": nodes, "links": links}
    try:
        return CmlFile.model_validate(data)
    except ValidationError as e:
        raise problem_of(e, data) from None


def _node(k: int, element: ET.Element) -> dict[str, Any]:
    name = element.get("name")
    who = node_name(name, None) or f"node[{k + 1}]"
    if not name:
        raise LabProblem((f"node[{k + 1}]", "@name"), "expected the node's name, got nothing", who)
    subtype = element.get("subtype") or ""
    definition = SUBTYPES.get(subtype.lower(), subtype or "(no subtype)")
    config = ""
    for extensions in _children(element, "extensions"):
        for entry in _children(extensions, "entry"):
            if entry.get("key") == "config":
                config = entry.text or ""
    interfaces = []
    extra_lines = []
    for slot, itf in enumerate(_children(element, "interface")):
        itf_name = itf.get("name") or f"interface{slot}"
        number = itf.get("id")
        interfaces.append({"id": f"i{slot}", "label": itf_name, "slot": int(number) if number and number.isdigit()
                           and len(number) < 5 else slot,
                           "ios_name": itf_name if definition not in ("ubuntu", "alpine", "unmanaged_switch") else None})
        address, prefix = itf.get("ipv4"), itf.get("netPrefixLenV4")
        if address and prefix:
            try:
                extra_lines.append(f"ip addr add {IPv4Interface(f'{address}/{prefix}')} dev {itf_name}")
            except ValueError:
                pass
    configuration = [{"name": "config", "content": config}]
    if definition in ("ubuntu", "alpine") and extra_lines and not re.search(r"\baddresses\b|ip\s+a", config):
        configuration.append({"name": "virl-interfaces", "content": "\n".join(extra_lines)})
    return {"id": f"n{k}", "label": name, "node_definition": definition, "configuration": configuration,
            "interfaces": interfaces}


def _link(k: int, element: ET.Element, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    ends: list[tuple[str, str]] = []
    for attribute in ("src", "dst"):
        ref = element.get(attribute) or ""
        m = _REF.match(ref)
        where = (f"connection[{k + 1}]", f"@{attribute}")
        if not m or m.group(2) is None:
            raise LabProblem(where, "expected a reference to a node's interface, such as "
                             f"'/virl:topology/virl:node[1]/virl:interface[1]', got {show(ref)}",
                             f"connection[{k + 1}]")
        n, i = int(m.group(1)), int(m.group(2))
        if not 1 <= n <= len(nodes):
            raise LabProblem(where, f"expected one of the {len(nodes)} nodes (node[1]..node[{len(nodes)}]), "
                             f"got node[{n}]", f"connection[{k + 1}]")
        node = nodes[n - 1]
        if not 1 <= i <= len(node["interfaces"]):
            raise LabProblem(where, f"expected one of the node's {len(node['interfaces'])} interfaces, got "
                             f"interface[{i}]", node_name(node["label"], None))
        ends.append((node["id"], node["interfaces"][i - 1]["id"]))
    (n1, i1), (n2, i2) = ends
    return {"id": f"l{k}", "n1": n1, "i1": i1, "n2": n2, "i2": i2}


_FIELDS = {"node_definition": "@subtype", "label": "@name", "configuration": "config", "slot": "@id",
           "n1": "@src", "i1": "@src", "n2": "@dst", "i2": "@dst"}


def xml_field(path: tuple[Any, ...]) -> str | None:
    """A CmlFile path (nodes[0].interfaces[1].slot) in the VIRL file's terms (node[1]/interface[2]/@id)."""
    return "/".join(str(p) for p in xml_path(path)) or None


def xml_path(path: tuple[Any, ...]) -> tuple[Any, ...]:
    words = {"nodes": "node", "interfaces": "interface", "links": "connection"}
    out: list[Any] = []
    parts = list(path)
    while parts:
        part = parts.pop(0)
        if part in words and parts and isinstance(parts[0], int):
            out.append(f"{words[part]}[{parts.pop(0) + 1}]")
        else:
            out.append(_FIELDS.get(part, part) if isinstance(part, str) else part)
    return tuple(out)
