"""Spec objects: a lab's intent as written (`TopologySpec`), validated, with nothing filled in yet.

The meeting point of input formats and the resolver: a format (topology YAML in
`yamlfile`; other lab formats later) produces plain data of this shape or the spec objects
themselves, and `resolve` makes the model from them, so every format is addressed and
checked by the same code. `parse_spec` validates plain data and words any problem as
"expected ..., got ..." at its field path. Imports pydantic, `errors`, `addressing` and
`dmvpnlab.lab.management` (defaults only); never YAML.
"""

from __future__ import annotations

import difflib
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dmvpnlab.lab import management as mgmt_plan
from dmvpnlab.lab.topology import addressing
from dmvpnlab.lab.topology.errors import FieldPath, TopologyProblem, show

MAX_SPOKES = 1000


def _address(value: Any) -> Any:
    """Accept '10.0.0.2' or '10.0.0.2/24'; the prefix is applied later if missing."""
    if not isinstance(value, str):
        raise ValueError(f"expected an IPv4 address such as 10.0.0.2 or 10.0.0.2/24, got {show(value)}")
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
    raise ValueError(f"expected an IPv4 address such as 100.64.1.2 (no prefix length), got {show(value)}")


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
    raise ValueError(f"expected an IPv4 network such as 192.168.1.0/24, got {show(value)}")


AddressText = Annotated[str, BeforeValidator(_address)]
IPText = Annotated[IPv4Address, BeforeValidator(_ip)]
NetworkText = Annotated[IPv4Network, BeforeValidator(_network)]


class _Spec(BaseModel):
    """Base of the spec objects: unknown keys are errors with a did-you-mean."""

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
    """A LAN host as written: a bare name, or ``{name, address}``; either may be left to the plan."""

    name: str | None = None
    address: AddressText | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


def _hosts(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number of hosts or a list of hosts, got {show(value)}")
    if isinstance(value, int):
        if not 0 <= value <= addressing.MAX_PLAN_HOSTS:
            raise ValueError(
                f"expected a number of hosts from 0 to {addressing.MAX_PLAN_HOSTS} "
                f"(list hosts by name for more), got {value}"
            )
        return [{} for _ in range(value)]
    if isinstance(value, list):
        return value
    raise ValueError(f"expected a number of hosts or a list of hosts, got {show(value)}")


class LanSpec(_Spec):
    """A router's LAN as written; ``hosts`` is a count (named by the plan) or a list."""

    network: NetworkText | None = None
    router_address: AddressText | None = None
    ios_name: str | None = None
    hosts: Annotated[list[HostSpec], BeforeValidator(_hosts)] = Field(default_factory=lambda: [HostSpec()])


class WanSpec(_Spec):
    """A router's WAN as written; what is left out comes from the plan, the NAT box or the segment."""

    address: AddressText | None = None
    gateway: IPText | None = None
    ios_name: str | None = None


def _index_in(value: Any, highest: int, what: str) -> int:
    """An index the address plan can address (the schema's range is the plan's, see `addressing`)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
        raise ValueError(f"expected {what} from 0 to {highest} (the address plan's range), got {show(value)}")
    return value


def _router_index(value: Any) -> Any:
    return value if value is None else _index_in(value, addressing.MAX_ROUTER_INDEX, "a router index")


def _nat_index(value: Any) -> Any:
    return value if value is None else _index_in(value, addressing.MAX_NAT_INDEX, "a NAT box index")


def _no_false(value: Any) -> Any:
    return None if value is False else value


class RouterSpec(_Spec):
    """One router as written under ``hub:`` or ``routers:``; ``role``/``index`` are inferred for hub and spokeN."""

    role: Literal["hub", "spoke"] | None = None
    index: Annotated[int, BeforeValidator(_router_index)] | None = None
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    tunnel_address: AddressText | None = None
    wan: WanSpec | None = None
    nat: str | None = None
    lan: Annotated[LanSpec | None, BeforeValidator(_no_false)] = None


class SpokeDefaultsSpec(_Spec):
    """What every spoke gets unless its own entry says otherwise (``spoke_defaults:``)."""

    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    lan: Annotated[LanSpec | None, BeforeValidator(_no_false)] = None


class NatBoxSpec(_Spec):
    """A NAT box as written, index from natN; one router behind it gets a /30 inside link,
    several share a /24 inside segment (a NAT fleet, see `addressing`)."""

    index: Annotated[int, BeforeValidator(_nat_index)] | None = None
    inside: AddressText | None = None
    outside: AddressText | None = None
    isp_address: AddressText | None = None


class SegmentSpec(_Spec):
    """A shared L2 bridge as written: its network and member routers; the ISP sits at its last usable address."""

    network: NetworkText
    members: list[str]
    isp_address: AddressText | None = None


class TunnelSpec(_Spec):
    """The tunnel network (``tunnel:``); router index i sits at .(i+1)."""

    network: NetworkText = addressing.DEFAULT_TUNNEL_NETWORK


MAX_USERNAME = 64
MAX_PASSWORD = 128


def _login_text(value: Any, what: str, limit: int, spaces: bool) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {show(value)}")
    if len(value) > limit or not value.isprintable() or (not spaces and any(c.isspace() for c in value)):
        raise ValueError(f"expected a {what} of 1 to {limit} printable characters"
                         f"{'' if spaces else ' without spaces'}, got {show(value)}")
    return value


def _username(value: Any) -> Any:
    """A login name goes on the agent's command line: printable, no white space, bounded."""
    return _login_text(value, "user name", MAX_USERNAME, spaces=False)


def _password(value: Any) -> Any:
    """A password travels in the agent's environment: no NUL or other control character, bounded."""
    return _login_text(value, "password", MAX_PASSWORD, spaces=True)


class ManagementSpec(_Spec):
    """The management network (``management:``); ``management: false`` means none."""

    network: NetworkText | None = None
    username: Annotated[str, BeforeValidator(_username)] = mgmt_plan.DEFAULT_USERNAME
    password: Annotated[str, BeforeValidator(_password)] = mgmt_plan.DEFAULT_PASSWORD
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
            raise ValueError(f"expected {what} names or mappings with a `name`, got {show(item)} at item {i + 1}")
        if not isinstance(name, str):  # a list or mapping as a name is unhashable: say so, not TypeError
            raise ValueError(f"expected a {what} name (text) at item {i + 1}, got {show(name)}")
        if name in out:
            raise ValueError(f"expected unique {what} names, got {name!r} twice")
        out[name] = body
    return out


class TopologySpec(_Spec):
    """A whole lab as written; in YAML (the shape every input format produces)::

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
    """

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


def parse_spec(data: dict[Any, Any]) -> TopologySpec:
    """Plain data (a mapping, as a YAML file gives) -> spec objects; TopologyProblem at the first bad field."""
    try:
        return TopologySpec.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        problem = _pydantic_problem(errors[0])
        if len(errors) > 1:
            problem.message += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)"
        raise problem from None


def _pydantic_problem(err: dict[str, Any]) -> TopologyProblem:
    """One pydantic error -> path + 'expected ..., got ...' in our words."""
    path: FieldPath = tuple(p for p in err["loc"] if p != "[key]")
    kind = err["type"]
    found = err.get("input")
    if kind == "unknown_key":
        key = err["ctx"]["key"]
        allowed = err["ctx"]["allowed"]
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return TopologyProblem(path + (key,), f"unknown key {key!r}; {hint}expected one of: {', '.join(allowed)}")
    if kind == "value_error":
        return TopologyProblem(path, str(err["ctx"]["error"]))
    if kind == "missing":
        return TopologyProblem(path, "expected this key, it is required")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return TopologyProblem(path, f"expected a mapping (key: value lines), got {show(found)}")
    msg: str = err["msg"]
    for lead in ("Input should be ", "Value should be "):
        if msg.startswith(lead):
            return TopologyProblem(path, f"expected {msg[len(lead):]}, got {show(found)}")
    return TopologyProblem(path, f"{msg[:1].lower()}{msg[1:]}, got {show(found)}")
