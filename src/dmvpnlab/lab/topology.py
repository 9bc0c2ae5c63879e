"""Topology files (`topologies/*.yaml`) -> a validated, fully addressed lab model.

A network engineer writes the *intent* (which routers, which role, who sits behind a NAT
box, which template); this module fills in every address from the default plan
(`dmvpnlab.lab.addressing`, team.md "Address plan"), so the Mininet builder, the config
renderer and the status table all read the same resolved `Topology` and never compute an
address themselves. Explicit addresses in the file override the plan.

File format
-----------
::

    name: default                 # optional; default = the file name without .yaml
    description: Phase 3, hub and two spokes
    tunnel: {network: 10.0.0.0/24}   # optional; hub .1, spokeN .(N+1)
    vars: {phase: 3}              # optional; template variables for every router

    hub:                          # the router named `hub` (role hub, index 0)
      template: hub.j2            # file in nodes/; leave out (or null) = underlay only
      vars: {tunnel_key: 100}

    spokes: 2                     # generator: spoke1..spokeN (1..1000)
    spoke_defaults:               # applied to every spoke
      template: spoke.j2
      vars: {phase: 3}
      lan: {hosts: 1}

    routers:                      # per-router overrides of generated routers, or additions
      spoke2:
        nat: nat1                 # WAN goes to NAT box nat1 instead of the ISP
        lan: {hosts: 2}           # hosts h2 and h2b
        vars: {nhrp_holdtime: 60}
      branch7:                    # a name that is not hub/spokeN needs role and index
        role: spoke
        index: 7
        wan: {address: 100.64.7.1/30, gateway: 100.64.7.2}
        lan: {network: 10.7.0.0/24, hosts: [{name: srv7, address: 10.7.0.20}]}
        tunnel_address: 10.0.0.8/24

    nat_boxes: [nat1]             # or {nat1: {inside: 172.16.1.2/30, outside: ..., isp_address: ...}}

    segments:                     # optional shared L2 bridges instead of point-to-point /30s
      wan: {network: 198.51.100.0/24, members: [hub, spoke1]}   # ISP at .254

    management:                   # optional; SSH to every templated router from this machine
      network: 172.31.255.0/24    # this machine .1, router index i .(10+i); `management: false` = none
      username: admin
      password: admin
      port: 22

Per-router keys: ``role`` (hub|spoke; inferred for ``hub`` and ``spokeN``), ``index``
(hub 0, spokeN N; drives the plan), ``template``, ``vars`` (merged: top-level ``vars``,
then ``spoke_defaults.vars``, then the router's), ``tunnel_address``, ``wan``
(``address``, ``gateway``, ``ios_name``), ``nat``, ``lan`` (``network``,
``router_address``, ``ios_name``, ``hosts``: a count or a list of names / ``{name,
address}``; ``lan: null`` = no LAN). Addresses may be written without a prefix length;
they then take the prefix of the network they belong to (/30 for a WAN).

Naming rules
------------
Node names (routers, hosts, NAT boxes, segments) start with a letter, contain only
letters, digits and ``_`` and have at most 10 characters, so ``<name>-eth9`` fits Linux's
15-byte interface names and ``<router>-<peer>`` capture file names split unambiguously.
``isp`` is the implicit ISP router. Router i's first LAN host is ``h{i}`` at .10, extra
hosts are ``h{i}b``, ``h{i}c`` ... at .11, .12 ... (so at most 26 unnamed hosts).

Address plan (see `addressing`): tunnel 10.0.0.0/24; hub WAN 203.0.113.1/30 (ISP .2);
spokeN WAN 100.(64+N//256).(N%256).1/30 (ISP .2); LAN 192.168.i.0/24 for i < 256, above
that 10.(128+i//256).(i%256).0/24; a router behind natN has WAN 172.(16+N//256).(N%256).1/30
(NAT inside .2) and the NAT box takes the router's normal public /30 (NAT .1, ISP .2); a
segment member with index i sits at .(i+1) of the segment, the ISP at its last usable
address. A NAT box serves one router (its inside link is a /30).

Errors
------
`load_topology` raises `TopologyError`; its str is one paragraph naming the file, the
dotted field path, what was expected and what was found, e.g.
``topologies/x.yaml: routers.spoke1.role: expected 'hub' or 'spoke', got 'spok' (line 7)``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dmvpnlab import ifnames
from dmvpnlab.lab import addressing, management as mgmt_plan

ISP_NAME = "isp"
WAN_IOS_NAME = "GigabitEthernet0/0"
LAN_IOS_NAME = "GigabitEthernet0/1"
MAX_NODE_NAME = ifnames.LINUX_IFNAME_MAX - len("-eth9")  # 10
MAX_SPOKES = 1000
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_LAB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class TopologyError(ValueError):
    """A topology file that cannot become a lab; str() is one paragraph for the user."""

    def __init__(
        self,
        file: str,
        field: str | None,
        message: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.message = " ".join(message.split())
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.field is None:
            where = f"line {self.line}, column {self.column}: " if self.line and self.column else ""
            return f"{self.file}: {where}{self.message}"
        line = f" (line {self.line})" if self.line else ""
        return f"{self.file}: {self.field}: {self.message}{line}"


class _Problem(Exception):
    """Raised inside resolution with a field path; load_topology adds file and line."""

    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _show(value: Any) -> str:
    """How a found value reads in an error: YAML words, not Python reprs of containers."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


# ------------------------------------------------------------------ resolved model


class Host(BaseModel):
    """A LAN host: a namespace with one interface and a default route to its router."""

    name: str
    address: IPv4Interface
    gateway: IPv4Address


class Lan(BaseModel):
    """A router's LAN interface and the hosts behind it."""

    ios_name: str = LAN_IOS_NAME
    network: IPv4Network
    router_address: IPv4Interface
    hosts: list[Host] = Field(default_factory=list)


class Wan(BaseModel):
    """A router's underlay link: to the ISP, to a NAT box, or onto a shared segment."""

    ios_name: str = WAN_IOS_NAME
    address: IPv4Interface
    gateway: IPv4Address
    peer: str  # 'isp', a NAT box name or a segment name


class NatBox(BaseModel):
    """A masquerading box between one router (inside) and the ISP (outside)."""

    name: str
    index: int
    inside: IPv4Interface
    outside: IPv4Interface
    isp_address: IPv4Interface  # the ISP's end of the outside link
    router: str  # the router behind it


class Segment(BaseModel):
    """A shared L2 bridge: members' WANs on one subnet, the ISP attached too."""

    name: str
    network: IPv4Network
    members: list[str]
    isp_address: IPv4Interface


class Router(BaseModel):
    """A DMVPN router (hub or spoke) with every address resolved."""

    name: str
    role: Literal["hub", "spoke"]
    index: int
    tunnel_address: IPv4Interface
    wan: Wan
    lan: Lan | None = None
    nat: str | None = None
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)

    @property
    def nbma_address(self) -> IPv4Address:
        """The WAN address as configured on the router (before any NAT)."""
        return self.wan.address.ip

    @property
    def is_hub(self) -> bool:
        return self.role == "hub"


class Management(BaseModel):
    """The management network (see `dmvpnlab.lab.management`): SSH to routers from this machine."""

    network: IPv4Network
    username: str = mgmt_plan.DEFAULT_USERNAME
    password: str = Field(default=mgmt_plan.DEFAULT_PASSWORD, repr=False)
    port: int = mgmt_plan.DEFAULT_PORT
    explicit: bool = False  # given in the file: used as is, never moved at bring-up

    @property
    def root_address(self) -> IPv4Interface:
        return mgmt_plan.root_address(self.network)

    def address(self, router: "Router") -> IPv4Interface:
        return mgmt_plan.router_address(self.network, router.index)


class Topology(BaseModel):
    """A whole lab: routers, NAT boxes, segments and the implicit ISP router `isp`."""

    name: str
    description: str = ""
    source: Path
    nodes_dir: Path
    tunnel_network: IPv4Network
    routers: list[Router]
    nat_boxes: list[NatBox] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    management: Management | None = None

    _by_name: dict[str, Router] = PrivateAttr(default_factory=dict)

    def router(self, name: str) -> Router:
        """The router called `name`; KeyError if there is none."""
        if not self._by_name:
            self._by_name = {r.name: r for r in self.routers}
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no router {name!r} in topology {self.name!r}") from None

    def nat_box(self, name: str) -> NatBox:
        for box in self.nat_boxes:
            if box.name == name:
                return box
        raise KeyError(f"no NAT box {name!r} in topology {self.name!r}")

    def segment(self, name: str) -> Segment:
        for seg in self.segments:
            if seg.name == name:
                return seg
        raise KeyError(f"no segment {name!r} in topology {self.name!r}")

    @property
    def hubs(self) -> list[Router]:
        return [r for r in self.routers if r.role == "hub"]

    @property
    def hub(self) -> Router:
        """The first hub (hierarchical labs may have more)."""
        return self.hubs[0]

    @property
    def spokes(self) -> list[Router]:
        return [r for r in self.routers if r.role == "spoke"]

    @property
    def managed_routers(self) -> list[Router]:
        """Routers on the management network: those that run an agent (have a template)."""
        return [r for r in self.routers if r.template] if self.management is not None else []

    def management_address(self, name: str) -> IPv4Interface | None:
        """A router's management address, None if it has none (no template, or no network)."""
        router = self.router(name)
        if self.management is None or not router.template:
            return None
        return self.management.address(router)

    @property
    def hosts(self) -> list[Host]:
        return [h for r in self.routers if r.lan for h in r.lan.hosts]

    def isp_interfaces(self) -> list[tuple[str, IPv4Interface]]:
        """(peer, ISP-side address) for every link the ISP router has.

        Peer is a router name (direct /30), a NAT box name (its outside /30) or a segment
        name (the ISP's port on the bridge). The builder and the captures use this so the
        ISP's addresses are defined here and nowhere else.
        """
        out: list[tuple[str, IPv4Interface]] = []
        for r in self.routers:
            if r.wan.peer == ISP_NAME:
                out.append((r.name, IPv4Interface(f"{r.wan.gateway}/{r.wan.address.network.prefixlen}")))
        out.extend((box.name, box.isp_address) for box in self.nat_boxes)
        out.extend((seg.name, seg.isp_address) for seg in self.segments)
        return out

    def to_summary(self) -> list[dict[str, str]]:
        """One row per router for the node table: name, role, nbma, tunnel, lan, hosts."""
        rows = []
        for r in self.routers:
            nbma = str(r.nbma_address)
            if r.nat:
                nbma += f" (via {r.nat} {self.nat_box(r.nat).outside.ip})"
            rows.append(
                {
                    "name": r.name,
                    "role": r.role,
                    "nbma": nbma,
                    "tunnel": str(r.tunnel_address),
                    "lan": str(r.lan.network) if r.lan else "-",
                    "hosts": ", ".join(h.name for h in r.lan.hosts) if r.lan else "",
                }
            )
        return rows


# ----------------------------------------------------------------- file (spec) model


def _address(value: Any) -> Any:
    """Accept '10.0.0.2' or '10.0.0.2/24'; the prefix is applied later if missing."""
    if not isinstance(value, str):
        raise ValueError(f"expected an IPv4 address such as 10.0.0.2 or 10.0.0.2/24, got {_show(value)}")
    try:
        IPv4Interface(value.strip())
    except ValueError:
        raise ValueError(
            f"expected an IPv4 address such as 10.0.0.2 or 10.0.0.2/24, got {value!r}"
        ) from None
    return value.strip()


def _ip(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return IPv4Address(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an IPv4 address such as 100.64.1.2 (no prefix length), got {_show(value)}")


def _network(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return IPv4Network(value.strip())
        except ValueError:
            try:
                IPv4Network(value.strip(), strict=False)
            except ValueError:
                pass
            else:
                raise ValueError(
                    f"expected a network address such as 192.168.1.0/24 (host bits clear), got {value!r}"
                ) from None
    raise ValueError(f"expected an IPv4 network such as 192.168.1.0/24, got {_show(value)}")


AddressText = Annotated[str, BeforeValidator(_address)]
IPText = Annotated[IPv4Address, BeforeValidator(_ip)]
NetworkText = Annotated[IPv4Network, BeforeValidator(_network)]


class _Spec(BaseModel):
    """Base of the file model: unknown keys are errors with a did-you-mean."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise PydanticCustomError(
                        "unknown_key", "unknown key {key}", {"key": str(key), "allowed": allowed}
                    )
        elif data is None:
            return {}  # `hub:` with nothing under it means "all defaults"
        return data


class HostSpec(_Spec):
    name: str | None = None
    address: AddressText | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


def _hosts(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number of hosts or a list of hosts, got {_show(value)}")
    if isinstance(value, int):
        if not 0 <= value <= addressing.MAX_PLAN_HOSTS:
            raise ValueError(
                f"expected a number of hosts from 0 to {addressing.MAX_PLAN_HOSTS} "
                f"(list hosts by name for more), got {value}"
            )
        return [{} for _ in range(value)]
    if isinstance(value, list):
        return value
    raise ValueError(f"expected a number of hosts or a list of hosts, got {_show(value)}")


class LanSpec(_Spec):
    network: NetworkText | None = None
    router_address: AddressText | None = None
    ios_name: str | None = None
    hosts: Annotated[list[HostSpec], BeforeValidator(_hosts)] = Field(default_factory=lambda: [HostSpec()])


class WanSpec(_Spec):
    address: AddressText | None = None
    gateway: IPText | None = None
    ios_name: str | None = None


def _no_false(value: Any) -> Any:
    return None if value is False else value


class RouterSpec(_Spec):
    role: Literal["hub", "spoke"] | None = None
    index: Annotated[int, Field(ge=0, le=65535, strict=True)] | None = None
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    tunnel_address: AddressText | None = None
    wan: WanSpec | None = None
    nat: str | None = None
    lan: Annotated[LanSpec | None, BeforeValidator(_no_false)] = None


class SpokeDefaultsSpec(_Spec):
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    lan: Annotated[LanSpec | None, BeforeValidator(_no_false)] = None


class NatBoxSpec(_Spec):
    index: Annotated[int, Field(ge=0, le=4095, strict=True)] | None = None
    inside: AddressText | None = None
    outside: AddressText | None = None
    isp_address: AddressText | None = None


class SegmentSpec(_Spec):
    network: NetworkText
    members: list[str]
    isp_address: AddressText | None = None


class TunnelSpec(_Spec):
    network: NetworkText = addressing.DEFAULT_TUNNEL_NETWORK


def _non_empty(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {_show(value)}")
    return value


class ManagementSpec(_Spec):
    network: NetworkText | None = None
    username: Annotated[str, BeforeValidator(_non_empty)] = mgmt_plan.DEFAULT_USERNAME
    password: Annotated[str, BeforeValidator(_non_empty)] = mgmt_plan.DEFAULT_PASSWORD
    port: Annotated[int, Field(ge=1, le=65535, strict=True)] = mgmt_plan.DEFAULT_PORT


def _named_list_to_mapping(value: Any, what: str) -> Any:
    """`[nat1, nat2]` or `[{name: wan, ...}]` -> the mapping form keyed by name."""
    if value is None:
        return {}
    if not isinstance(value, list):
        return value
    out: dict[Any, Any] = {}
    for i, item in enumerate(value):
        if isinstance(item, str):
            name, body = item, {}
        elif isinstance(item, dict) and "name" in item:
            body = dict(item)
            name = body.pop("name")
        else:
            raise ValueError(f"expected {what} names or mappings with a `name`, got {_show(item)} at item {i + 1}")
        if name in out:
            raise ValueError(f"expected unique {what} names, got {name!r} twice")
        out[name] = body
    return out


class TopologySpec(_Spec):
    name: str | None = None
    description: str = ""
    tunnel: TunnelSpec = Field(default_factory=TunnelSpec)
    vars: dict[str, Any] = Field(default_factory=dict)
    hub: RouterSpec | None = None
    spokes: Annotated[int, Field(strict=True)] = 0
    spoke_defaults: SpokeDefaultsSpec = Field(default_factory=SpokeDefaultsSpec)
    routers: dict[str, RouterSpec | None] = Field(default_factory=dict)
    nat_boxes: dict[str, NatBoxSpec | None] = Field(default_factory=dict)
    segments: dict[str, SegmentSpec] = Field(default_factory=dict)
    management: Annotated[ManagementSpec | None, BeforeValidator(_no_false)] = Field(default_factory=ManagementSpec)

    @field_validator("spokes")
    @classmethod
    def _spoke_count(cls, v: int) -> int:
        if not 1 <= v <= MAX_SPOKES:
            raise ValueError(f"expected a number of spokes from 1 to {MAX_SPOKES}, got {v}")
        return v

    @field_validator("nat_boxes", mode="before")
    @classmethod
    def _nat_list(cls, v: Any) -> Any:
        return _named_list_to_mapping(v, "NAT box")

    @field_validator("segments", mode="before")
    @classmethod
    def _segment_list(cls, v: Any) -> Any:
        return _named_list_to_mapping(v, "segment")

    @field_validator("hub", mode="before")
    @classmethod
    def _hub_empty(cls, v: Any) -> Any:
        return {} if v is None else v  # `hub:` alone = a hub with all defaults

    @field_validator("routers", mode="before")
    @classmethod
    def _routers_none(cls, v: Any) -> Any:
        return {} if v is None else v


# ------------------------------------------------------------------------ YAML


class _Loader(yaml.SafeLoader):
    pass


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """YAML -> plain data plus the line of every key, so errors can point at a line.

    Built from the composed node tree (not yaml.safe_load) so duplicate keys, which
    PyYAML silently overwrites, are reported instead of losing a router.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        raise TopologyError(
            file, None, f"YAML syntax error: {problem}",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as e:
        raise TopologyError(file, None, f"YAML syntax error: {e}") from None
    lines: dict[Path_, int] = {}
    constructor = _Loader("")

    def build(node: yaml.Node, path: Path_, depth: int) -> Any:
        if depth > 50:
            raise TopologyError(file, _format_path(path), "expected plain YAML, got nesting too deep (recursive alias?)")
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = constructor.construct_object(key_node, deep=True)
                if key in seen:
                    raise TopologyError(
                        file, _format_path(path + (key,)) if path else str(key),
                        f"expected each key once, got {key!r} again (first at line {seen[key].start_mark.line + 1})",
                        line=key_node.start_mark.line + 1,
                    )
                seen[key] = key_node
            constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    try:
        data = None if root is None else build(root, (), 0)
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        raise TopologyError(
            file, None, f"YAML error: {e.problem}",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        ) from None
    except TypeError:  # unhashable key, e.g. a list used as a key
        raise TopologyError(file, None, "YAML error: a mapping key must be a plain value") from None
    return data, lines


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of `path`, or of its nearest ancestor that is in the file."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _pydantic_problem(err: dict[str, Any]) -> _Problem:
    """One pydantic error -> path + 'expected ..., got ...' in our words."""
    path: Path_ = tuple(p for p in err["loc"] if p != "[key]")
    kind = err["type"]
    found = err.get("input")
    if kind == "unknown_key":
        key = err["ctx"]["key"]
        allowed = err["ctx"]["allowed"]
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return _Problem(path + (key,), f"unknown key {key!r}; {hint}expected one of: {', '.join(allowed)}")
    if kind == "value_error":
        return _Problem(path, str(err["ctx"]["error"]))
    if kind == "missing":
        return _Problem(path, "expected this key, it is required")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _Problem(path, f"expected a mapping (key: value lines), got {_show(found)}")
    msg: str = err["msg"]
    for lead in ("Input should be ", "Value should be "):
        if msg.startswith(lead):
            return _Problem(path, f"expected {msg[len(lead):]}, got {_show(found)}")
    return _Problem(path, f"{msg[:1].lower()}{msg[1:]}, got {_show(found)}")


# ------------------------------------------------------------------- resolution


class _Entry:
    """A router being resolved: its spec, where it came from, and its defaults."""

    def __init__(self, name: str, path: Path_, spec: RouterSpec, defaults: SpokeDefaultsSpec | None) -> None:
        self.name = name
        self.path = path
        self.spec = spec
        self.defaults = defaults
        self.role: str = "spoke"
        self.index: int = 0

    def pick(self, field: str) -> tuple[Any, Path_, bool]:
        """(value, path it came from, explicitly given?) with router > spoke_defaults > plan."""
        if field in self.spec.model_fields_set:
            return getattr(self.spec, field), self.path + (field,), True
        if self.defaults is not None and field in self.defaults.model_fields_set:
            return getattr(self.defaults, field), ("spoke_defaults", field), True
        return None, self.path + (field,), False


def _check_name(name: Any, path: Path_, what: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > MAX_NODE_NAME:
        raise _Problem(
            path,
            f"expected a {what} name of letters, digits and '_' starting with a letter, at most "
            f"{MAX_NODE_NAME} characters (so '<name>-eth9' fits a Linux interface name), got {_show(name)}",
        )
    if name == ISP_NAME:
        raise _Problem(path, f"expected a {what} name other than {ISP_NAME!r} (the implicit ISP router), got {name!r}")


def _interface(text: str, default_prefix: int, path: Path_) -> IPv4Interface:
    """Parse an address; a bare address takes the prefix of the network it belongs to."""
    return IPv4Interface(text if "/" in text else f"{text}/{default_prefix}")


def _check_host_address(iface: IPv4Interface, path: Path_, network: IPv4Network | None = None) -> None:
    network = network or iface.network
    if iface.network != network:
        raise _Problem(path, f"expected an address inside {network}, got {iface}")
    if network.prefixlen < 31 and iface.ip in (network.network_address, network.broadcast_address):
        raise _Problem(path, f"expected a host address of {network}, got its network or broadcast address {iface}")


def _ios_name(value: Any, default: str, node: str, path: Path_) -> str:
    if value is None:
        return default
    try:
        full = ifnames.canonical_ios_ifname(str(value))
    except ifnames.InterfaceNameError:
        full = ""
    if not full.startswith("GigabitEthernet"):
        raise _Problem(path, f"expected an Ethernet interface such as GigabitEthernet0/1, got {_show(value)}")
    try:
        ifnames.linux_ifname(node, full)
    except ifnames.InterfaceNameError as e:
        raise _Problem(path, f"expected an interface whose Linux name fits 15 bytes: {e}") from None
    return full


def _index_from_name(name: str) -> int | None:
    m = _TRAILING_NUMBER.search(name)
    return int(m.group(1)) if m else None


class _Resolver:
    def __init__(self, spec: TopologySpec, name: str, source: Path, nodes_dir: Path) -> None:
        self.spec = spec
        self.name = name
        self.source = source
        self.nodes_dir = nodes_dir
        self.tunnel = spec.tunnel.network
        self._templates_ok: set[str] = set()
        self.explicit_paths = {("routers", n) for n in spec.routers} | {("hub",)}

    # -- routers: which exist, role, index
    def entries(self) -> list[_Entry]:
        spec = self.spec
        entries: dict[str, _Entry] = {}
        if spec.hub is not None:
            if "hub" in spec.routers:
                raise _Problem(("routers", "hub"), "expected the hub once, got it under both `hub:` and `routers:`")
            entries["hub"] = _Entry("hub", ("hub",), spec.hub, None)
        for n in range(1, spec.spokes + 1):
            # Generated: the logical path is routers.spokeN; errors point at the `spokes:` line.
            entries[f"spoke{n}"] = _Entry(f"spoke{n}", ("routers", f"spoke{n}"), RouterSpec(), spec.spoke_defaults)
        for name, rspec in spec.routers.items():
            path: Path_ = ("routers", name)
            _check_name(name, path, "router")
            rspec = rspec or RouterSpec()
            if name in entries and entries[name].defaults is not None:
                entries[name].spec = rspec
            else:
                entries[name] = _Entry(name, path, rspec, None)
        out = list(entries.values())
        for e in out:
            self._role_and_index(e)
        if not any(e.role == "hub" for e in out):
            raise _Problem(("hub",), "expected a hub: add a `hub:` section or a router with `role: hub`, got none")
        by_index: dict[int, _Entry] = {}
        for e in out:
            if e.index in by_index:
                raise _Problem(
                    e.path + ("index",),
                    f"expected a router index not used by another router, got {e.index} "
                    f"(also {by_index[e.index].name}'s); set `index:`",
                )
            by_index[e.index] = e
        return out

    def _role_and_index(self, e: _Entry) -> None:
        s = e.spec
        spoke_match = re.fullmatch(r"spoke(\d+)", e.name)
        if e.path == ("hub",):
            if s.role == "spoke":
                raise _Problem(("hub", "role"), "expected 'hub' (this is the `hub:` section), got 'spoke'")
            e.role = "hub"
        elif s.role is not None:
            e.role = s.role
        elif e.name == "hub":
            e.role = "hub"
        elif spoke_match or e.defaults is not None:
            e.role = "spoke"
        else:
            raise _Problem(e.path + ("role",), f"expected 'hub' or 'spoke' for router {e.name} (only hub and spokeN are inferred), got nothing")
        if s.index is not None:
            e.index = s.index
        elif e.name == "hub":
            e.index = 0
        elif spoke_match:
            e.index = int(spoke_match.group(1))
        else:
            raise _Problem(e.path + ("index",), f"expected an `index:` for router {e.name} (only hub and spokeN are inferred), got nothing")
        if e.role == "spoke" and e.index == 0:
            raise _Problem(e.path + ("index",), "expected a spoke index of 1 or more (0 is the hub's), got 0")

    # -- the pieces
    def tunnel_address(self, e: _Entry) -> IPv4Interface:
        text, path, given = e.pick("tunnel_address")
        if given and text is not None:
            iface = _interface(text, self.tunnel.prefixlen, path)
            if iface.network != self.tunnel:
                raise _Problem(path, f"expected an address inside the tunnel network {self.tunnel}, got {iface}")
            _check_host_address(iface, path)
            return iface
        iface = addressing.tunnel_address(self.tunnel, e.index)
        if iface.ip not in self.tunnel or iface.ip == self.tunnel.broadcast_address:
            need = 32 - math.ceil(math.log2(e.index + 3))
            raise _Problem(
                ("tunnel", "network"),
                f"expected a tunnel network with room for {e.name} (index {e.index}, address .{e.index + 1}), "
                f"e.g. a /{need} or larger, got {self.tunnel}",
            )
        return iface

    def template(self, e: _Entry) -> str | None:
        value, path, _ = e.pick("template")
        if value is None:
            return None
        if value in self._templates_ok:
            return value
        rel = Path(value)
        if rel.is_absolute() or ".." in rel.parts or not value.strip():
            raise _Problem(path, f"expected a template file name inside nodes/, got {value!r}")
        if not (self.nodes_dir / rel).is_file():
            raise _Problem(path, f"expected a template file in {self.nodes_dir}, got {value!r} (no such file)")
        self._templates_ok.add(value)
        return value

    def vars(self, e: _Entry) -> dict[str, Any]:
        merged = dict(self.spec.vars)
        if e.defaults is not None:
            merged.update(e.defaults.vars)
        merged.update(e.spec.vars)
        return merged

    def lan(self, e: _Entry) -> Lan | None:
        own_set = "lan" in e.spec.model_fields_set
        own = e.spec.lan
        dflt = e.defaults.lan if e.defaults is not None and "lan" in e.defaults.model_fields_set else None
        if own_set and own is None:
            return None
        if e.defaults is not None and "lan" in e.defaults.model_fields_set and dflt is None and not own_set:
            return None

        def pick(field: str) -> tuple[Any, Path_]:
            if own is not None and field in own.model_fields_set:
                return getattr(own, field), e.path + ("lan", field)
            if dflt is not None and field in dflt.model_fields_set:
                return getattr(dflt, field), ("spoke_defaults", "lan", field)
            return None, e.path + ("lan", field)

        ios, ios_path = pick("ios_name")
        ios_name = _ios_name(ios, LAN_IOS_NAME, e.name, ios_path)
        network, net_path = pick("network")
        raddr, raddr_path = pick("router_address")
        if raddr is not None:
            router_address = _interface(raddr, network.prefixlen if network else 24, raddr_path)
            network = network or router_address.network
            _check_host_address(router_address, raddr_path, network)
        else:
            network = network or addressing.lan_network(e.index)
            router_address = addressing.first_address(network)
        hosts_spec, hosts_path = pick("hosts")
        if hosts_spec is None:
            hosts_spec = [HostSpec()]
        hosts: list[Host] = []
        used = {router_address.ip: "the router"}
        for pos, hs in enumerate(hosts_spec):
            hpath = hosts_path + (pos,)
            if hs.name is not None:
                name = hs.name
                _check_name(name, hpath + ("name",), "host")
            elif pos < addressing.MAX_PLAN_HOSTS:
                name = addressing.host_name(e.index, pos)
            else:
                raise _Problem(hpath, f"expected a `name:` for host number {pos + 1} (only {addressing.MAX_PLAN_HOSTS} are named by the plan)")
            if hs.address is not None:
                addr = _interface(hs.address, network.prefixlen, hpath + ("address",))
                _check_host_address(addr, hpath + ("address",), network)
            else:
                addr = addressing.host_address(network, pos)
                if addr.ip not in network or addr.ip == network.broadcast_address:
                    raise _Problem(hpath, f"expected a LAN big enough for host {name} at {addr.ip}, got {network}")
            if addr.ip in used:
                raise _Problem(hpath + ("address",), f"expected an address not used by {used[addr.ip]}, got {addr.ip}")
            used[addr.ip] = f"host {name}"
            hosts.append(Host(name=name, address=addr, gateway=router_address.ip))
        return Lan(ios_name=ios_name, network=network, router_address=router_address, hosts=hosts)

    def wan(
        self, e: _Entry, nat: str | None, nat_inside: IPv4Interface | None, segment: Segment | None
    ) -> Wan:
        wspec: WanSpec = e.spec.wan or WanSpec()
        base: Path_ = e.path + ("wan",)
        ios_name = _ios_name(wspec.ios_name, WAN_IOS_NAME, e.name, base + ("ios_name",))
        if segment is not None:
            default_prefix, peer = segment.network.prefixlen, segment.name
        elif nat_inside is not None:
            default_prefix, peer = nat_inside.network.prefixlen, nat or ""
        else:
            default_prefix, peer = 30, ISP_NAME
        if wspec.address is not None:
            address = _interface(wspec.address, default_prefix, base + ("address",))
        elif segment is not None:
            address = addressing.segment_member_address(segment.network, e.index)
        elif nat_inside is not None:
            address = IPv4Interface(f"{addressing.other_end(nat_inside.network, nat_inside.ip)}/{default_prefix}")
        else:
            address = addressing.first_address(addressing.public_wan_network(e.index))
        apath = base + ("address",)
        if address.network.prefixlen > 30:
            raise _Problem(apath, f"expected a WAN prefix of /30 or shorter, got {address}")
        if segment is not None:
            _check_host_address(address, apath, segment.network)
            if address.ip == segment.isp_address.ip:
                raise _Problem(apath, f"expected an address other than the ISP's {segment.isp_address.ip} on segment {segment.name}, got {address.ip}")
        elif nat_inside is not None:
            _check_host_address(address, apath, nat_inside.network)
            if address.ip == nat_inside.ip:
                raise _Problem(apath, f"expected an address other than {nat}'s inside address, got {address.ip}")
        else:
            _check_host_address(address, apath)
        if wspec.gateway is not None:
            gateway = wspec.gateway
            gpath = base + ("gateway",)
            if gateway not in address.network or gateway in (address.ip, address.network.network_address, address.network.broadcast_address):
                raise _Problem(gpath, f"expected another host address of {address.network}, got {gateway}")
        elif segment is not None:
            gateway = segment.isp_address.ip
        elif nat_inside is not None:
            gateway = nat_inside.ip
        else:
            gateway = addressing.other_end(address.network, address.ip)
        return Wan(ios_name=ios_name, address=address, gateway=gateway, peer=peer)

    # -- whole topology
    def resolve(self) -> Topology:
        spec = self.spec
        entries = self.entries()
        names = {e.name for e in entries}

        # NAT boxes: which router each serves, and their inside address.
        nat_users: dict[str, _Entry] = {}
        for e in entries:
            nat, path, _ = e.pick("nat")
            if nat is None:
                continue
            if nat not in spec.nat_boxes:
                close = difflib.get_close_matches(str(nat), list(spec.nat_boxes), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                known = ", ".join(spec.nat_boxes) or "none are defined under `nat_boxes:`"
                raise _Problem(path, f"expected a NAT box from nat_boxes ({known}), got {nat!r}{hint}")
            if nat in nat_users:
                raise _Problem(path, f"expected a NAT box not used by another router, got {nat!r} (already in front of {nat_users[nat].name}; a NAT box has one inside /30)")
            nat_users[nat] = e
        used_indices: dict[int, str] = {}
        nat_index: dict[str, int] = {}
        for name, nspec in spec.nat_boxes.items():
            path: Path_ = ("nat_boxes", name)
            _check_name(name, path, "NAT box")
            nspec = nspec or NatBoxSpec()
            idx = nspec.index if nspec.index is not None else _index_from_name(name)
            if idx is None:
                raise _Problem(path + ("index",), f"expected an `index:` for NAT box {name} (inferred only from a trailing number, as in nat1), got nothing")
            if idx in used_indices:
                raise _Problem(path + ("index",), f"expected a NAT box index not used by {used_indices[idx]}, got {idx}")
            used_indices[idx] = name
            nat_index[name] = idx
            if name not in nat_users:
                raise _Problem(path, f"expected a router to use NAT box {name} (`nat: {name}` under routers), got none")

        nat_inside: dict[str, IPv4Interface] = {}
        for name, nspec in spec.nat_boxes.items():
            nspec = nspec or NatBoxSpec()
            if nspec.inside is not None:
                iface = _interface(nspec.inside, 30, ("nat_boxes", name, "inside"))
                _check_host_address(iface, ("nat_boxes", name, "inside"))
            else:
                net = addressing.nat_inside_network(nat_index[name])
                iface = IPv4Interface(f"{net.network_address + 2}/{net.prefixlen}")
            nat_inside[name] = iface

        # Segments.
        segments: list[Segment] = []
        seg_of: dict[str, Segment] = {}
        for sname, sspec in spec.segments.items():
            spath: Path_ = ("segments", sname)
            _check_name(sname, spath, "segment")
            if sname in names or sname in spec.nat_boxes:
                raise _Problem(spath, f"expected a segment name not used by a router or NAT box, got {sname!r}")
            if sspec.network.prefixlen > 29:
                raise _Problem(spath + ("network",), f"expected a segment network of /29 or larger, got {sspec.network}")
            if sspec.isp_address is not None:
                isp = _interface(sspec.isp_address, sspec.network.prefixlen, spath + ("isp_address",))
                _check_host_address(isp, spath + ("isp_address",), sspec.network)
            else:
                isp = addressing.segment_isp_address(sspec.network)
            for i, member in enumerate(sspec.members):
                mpath = spath + ("members", i)
                if member not in names:
                    close = difflib.get_close_matches(member, sorted(names), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise _Problem(mpath, f"expected a router name, got {member!r}{hint}")
                if member in seg_of:
                    raise _Problem(mpath, f"expected each router on one segment, got {member} on {seg_of[member].name} and {sname}")
                if member in {e.name for e in nat_users.values()}:
                    raise _Problem(mpath, f"expected a router that is not behind a NAT box, got {member}")
            seg = Segment(name=sname, network=sspec.network, members=list(sspec.members), isp_address=isp)
            segments.append(seg)
            for member in sspec.members:
                seg_of[member] = seg

        # Routers.
        seg_names = {seg.name for seg in segments}
        routers: list[Router] = []
        nat_of_router = {e.name: nat for nat, e in nat_users.items()}
        for e in entries:
            nat = nat_of_router.get(e.name)
            lan = self.lan(e)
            routers.append(
                Router(
                    name=e.name,
                    role=e.role,  # type: ignore[arg-type]
                    index=e.index,
                    tunnel_address=self.tunnel_address(e),
                    wan=self.wan(e, nat, nat_inside.get(nat) if nat else None, seg_of.get(e.name)),
                    lan=lan,
                    nat=nat,
                    template=self.template(e),
                    vars=self.vars(e),
                )
            )
            ios = (routers[-1].wan.ios_name, lan.ios_name if lan else None)
            if ios[0] == ios[1]:
                raise _Problem(e.path + ("lan", "ios_name"), f"expected a LAN interface other than the WAN's, got {ios[1]}")

        # Explicit addresses may collide on a shared segment.
        on_segment: dict[IPv4Address, str] = {}
        paths = {e.name: e.path for e in entries}
        for r in routers:
            if r.wan.peer in seg_names:
                if r.wan.address.ip in on_segment:
                    raise _Problem(paths[r.name] + ("wan", "address"), f"expected an address not used by {on_segment[r.wan.address.ip]} on segment {r.wan.peer}, got {r.wan.address.ip}")
                on_segment[r.wan.address.ip] = r.name

        # NAT boxes' outside, from the router behind each.
        boxes: list[NatBox] = []
        for name, nspec in spec.nat_boxes.items():
            nspec = nspec or NatBoxSpec()
            user = nat_users[name]
            path = ("nat_boxes", name)
            if nspec.outside is not None:
                outside = _interface(nspec.outside, 30, path + ("outside",))
                _check_host_address(outside, path + ("outside",))
            else:
                outside = addressing.first_address(addressing.public_wan_network(user.index))
            if nspec.isp_address is not None:
                isp = _interface(nspec.isp_address, outside.network.prefixlen, path + ("isp_address",))
                _check_host_address(isp, path + ("isp_address",), outside.network)
                if isp.ip == outside.ip:
                    raise _Problem(path + ("isp_address",), f"expected an address other than the NAT box's outside {outside.ip}, got {isp.ip}")
            else:
                isp = IPv4Interface(f"{addressing.other_end(outside.network, outside.ip)}/{outside.network.prefixlen}")
            boxes.append(NatBox(name=name, index=nat_index[name], inside=nat_inside[name], outside=outside, isp_address=isp, router=user.name))

        topo = Topology(
            name=self.name,
            description=spec.description,
            source=self.source,
            nodes_dir=self.nodes_dir,
            tunnel_network=self.tunnel,
            routers=routers,
            nat_boxes=boxes,
            segments=segments,
            management=self.management(routers),
        )
        self.check_unique_names(topo, entries)
        self.check_overlaps(topo, entries)
        return topo

    def management(self, routers: list[Router]) -> Management | None:
        """The management network: the file's, or the default sized for the highest router index."""
        spec = self.spec.management
        if spec is None:
            return None
        highest = max((r.index for r in routers if r.template), default=0)
        network = spec.network if spec.network is not None else mgmt_plan.default_network(highest)
        if not mgmt_plan.fits(network, highest):
            raise _Problem(("management", "network"),
                           f"expected a management network with room for router index {highest} at "
                           f".{mgmt_plan.ROUTER_OFFSET + highest} (e.g. a /{mgmt_plan.smallest_prefix(highest)} "
                           f"or larger), got {network}")
        return Management(network=network, username=spec.username, password=spec.password,
                          port=spec.port, explicit=spec.network is not None)

    def check_unique_names(self, topo: Topology, entries: list[_Entry]) -> None:
        """Routers, NAT boxes and hosts share one namespace (Mininet node names)."""
        owner: dict[str, str] = {ISP_NAME: "the ISP router"}
        paths = {e.name: e.path for e in entries}
        for r in topo.routers:
            owner[r.name] = f"router {r.name}"
        host_owner = {h.name: r for r in topo.routers if r.lan for h in r.lan.hosts}
        for name, r in host_owner.items():
            if name in paths and paths[name] in self.explicit_paths:
                raise _Problem(paths[name], f"expected a unique name, got router {name!r}, already a LAN host of {r.name}")
        for box in topo.nat_boxes:
            if box.name in owner:
                raise _Problem(("nat_boxes", box.name), f"expected a unique name, got {box.name!r}, already {owner[box.name]}")
            owner[box.name] = f"NAT box {box.name}"
        for r in topo.routers:
            if not r.lan:
                continue
            for i, h in enumerate(r.lan.hosts):
                if h.name in owner:
                    raise _Problem(
                        paths[r.name] + ("lan", "hosts", i),
                        f"expected a unique name, got host {h.name!r}, already {owner[h.name]}",
                    )
                owner[h.name] = f"a host of {r.name}"
        bridge = mgmt_plan.BRIDGE_NAME
        taken = owner.get(bridge) or (f"segment {bridge}" if any(g.name == bridge for g in topo.segments) else None)
        if topo.managed_routers and taken:
            raise _Problem(("management",), f"expected no node named {bridge!r} (the management bridge's name), "
                           f"got {taken}; rename it or set `management: false`")

    def check_overlaps(self, topo: Topology, entries: list[_Entry]) -> None:
        paths = {e.name: e.path for e in entries}
        nets: list[tuple[IPv4Network, Path_, str]] = [(topo.tunnel_network, ("tunnel", "network"), "the tunnel network")]
        for r in topo.routers:
            if r.wan.peer == ISP_NAME:
                nets.append((r.wan.address.network, paths[r.name] + ("wan", "address"), f"{r.name}'s WAN"))
            if r.lan:
                nets.append((r.lan.network, paths[r.name] + ("lan", "network"), f"{r.name}'s LAN"))
        for box in topo.nat_boxes:
            nets.append((box.inside.network, ("nat_boxes", box.name, "inside"), f"{box.name}'s inside link"))
            nets.append((box.outside.network, ("nat_boxes", box.name, "outside"), f"{box.name}'s outside link"))
        for seg in topo.segments:
            nets.append((seg.network, ("segments", seg.name, "network"), f"segment {seg.name}"))
        if topo.managed_routers:
            assert topo.management is not None
            nets.append((topo.management.network, ("management", "network"), "the management network"))
        nets.sort(key=lambda t: (int(t[0].network_address), t[0].prefixlen))
        widest: tuple[IPv4Network, Path_, str] | None = None
        for item in nets:
            if widest is not None and item[0].overlaps(widest[0]):
                raise _Problem(
                    item[1],
                    f"expected a network of its own, got {item[0]} ({item[2]}) overlapping {widest[0]} ({widest[2]})",
                )
            if widest is None or int(item[0].broadcast_address) > int(widest[0].broadcast_address):
                widest = item


# ---------------------------------------------------------------------- loading


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def default_nodes_dir(path: Path) -> Path:
    """nodes/ of the repository the topology file lives in: topologies/x.yaml -> nodes/."""
    return path.resolve().parent.parent / "nodes"


def load_topology(path: str | Path, nodes_dir: str | Path | None = None) -> Topology:
    """Read, validate and address a topology file. Raises TopologyError, nothing else.

    `nodes_dir` is where templates are looked up (default: `default_nodes_dir(path)`).
    """
    path = Path(path)
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopologyError(file, None, "no such topology file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TopologyError(file, None, f"cannot read the file: {e}") from None
    data, lines = _parse_yaml(text, file)
    return topology_from_data(data, path, nodes_dir, lines)


def topology_from_data(
    data: Any, source: str | Path, nodes_dir: str | Path | None = None, lines: dict[Path_, int] | None = None
) -> Topology:
    """Validate already-parsed YAML data (a dict); `source` names the file in errors."""
    source = Path(source)
    file = _display(source)
    lines = lines or {}
    nodes = Path(nodes_dir) if nodes_dir is not None else default_nodes_dir(source)

    def fail(problem: _Problem) -> TopologyError:
        line = _line_for(lines, problem.path)
        if problem.path[:1] == ("routers",) and problem.path[:2] not in lines:
            line = lines.get(("spokes",))  # a generated spoke: point at `spokes: N`
        return TopologyError(file, _format_path(problem.path), problem.message, line=line)

    if not isinstance(data, dict):
        raise TopologyError(file, None, f"expected a mapping with keys such as `hub:` and `spokes:`, got {_show(data) if data is not None else 'an empty file'}")
    try:
        spec = TopologySpec.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        problem = _pydantic_problem(errors[0])
        if len(errors) > 1:
            problem.message += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)"
        raise fail(problem) from None
    name = spec.name if spec.name is not None else source.name.removesuffix(".yaml").removesuffix(".yml")
    if not _LAB_NAME_RE.match(name):
        raise fail(_Problem(("name",), f"expected a lab name of letters, digits, '.', '_' and '-' (it names captures/<name>/), got {name!r}"))
    try:
        return _Resolver(spec, name, source, nodes).resolve()
    except _Problem as p:
        raise fail(p) from None


def iter_topology_files(directory: str | Path) -> Iterator[Path]:
    """The topology files of a directory, sorted."""
    d = Path(directory)
    yield from sorted([*d.glob("*.yaml"), *d.glob("*.yml")])


__all__ = [
    "ISP_NAME",
    "Host",
    "Lan",
    "Management",
    "NatBox",
    "Router",
    "Segment",
    "Topology",
    "TopologyError",
    "Wan",
    "default_nodes_dir",
    "load_topology",
    "topology_from_data",
]
