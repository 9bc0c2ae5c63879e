"""The CML 2 lab file (versions 0.0.x to 0.3.x), as pydantic models, and its problems in our words.

What a CML export has (only the fields a lab here uses; the rest, `x`, `y`, `tags`, `ram`,
`image_definition`, annotations, smart annotations..., are allowed and ignored):

    lab:    {title, description, notes, version}   (0.0.x files may put lab_title... at the top)
    nodes:  [{id, label, node_definition, configuration, interfaces: [{id, label, slot, type}]}]
    links:  [{id, n1, n2, i1, i2, label, conditioning: {enabled, bandwidth, latency, jitter, loss}}]

`configuration` is one text (0.0.x, 0.1.0 and many later files) or, from 0.2.x, a list of
`{name, content}` files (`ios_config.txt`; `user-data` and `network-config` for cloud-init
hosts). Conditioning units are CML's: bandwidth in kbps (0-10,000,000), latency and jitter
in ms (0-10,000), loss in percent (0-100); a value of 0 means "not conditioned".

Validation is strict (a slot `"1"` is text, not a number) except that ids and labels may
be written as numbers (`id: 0`, `label: 100`), which hand-written files do. Imports pydantic
and `errors`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from dmvpnlab.lab.cml.errors import LabProblem, node_name, show

_VERSION = re.compile(r"0\.[0-3]\.\d{1,3}")
SUPPORTED_VERSIONS = "0.0.x, 0.1.x, 0.2.x or 0.3.x"
MAX_ID_CHARS = 128


def _name_text(value: Any) -> Any:
    """Ids and labels: text, or an integer written without quotes (kept as its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _nonempty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected a non-empty name, got ''")
    return value


Name = Annotated[str, BeforeValidator(_nonempty), BeforeValidator(_name_text), Field(max_length=MAX_ID_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class ConfigFile(_Strict):
    """One file of a node's `configuration` list (0.2.x+)."""

    name: str
    content: str = ""


def _configuration(value: Any) -> Any:
    """`configuration`: text (one file without a name), a list of {name, content}, or null."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"name": "", "content": value}]
    if isinstance(value, list):  # `content: null` is an empty file, as CML writes it
        return [{**item, "content": ""} if isinstance(item, dict) and item.get("content") is None else item
                for item in value]
    raise ValueError(f"expected the node's config as text or as a list of {{name, content}} files, got {show(value)}")


class CmlInterface(_Strict):
    id: Name
    label: Name | None = None
    slot: int | None = Field(default=None, ge=0, le=4095)
    type: Literal["physical", "loopback"] = "physical"
    # Not a CML field: VIRL files name the interface itself; it wins over the slot's name.
    ios_name: str | None = None


class CmlNode(_Strict):
    id: Name
    label: Name
    node_definition: Name
    # The configuration as files: a lone text is one file with no name.
    configuration: Annotated[list[ConfigFile], BeforeValidator(_configuration)] = Field(default_factory=list)
    interfaces: list[CmlInterface] = Field(default_factory=list)


class CmlConditioning(BaseModel):
    """Link conditioning; unknown keys (delay_corr, duplicate...) are kept to be named in notes."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    enabled: bool = True
    bandwidth: int | None = Field(default=None, ge=0, le=10_000_000)
    latency: float | None = Field(default=None, ge=0, le=10_000)
    jitter: float | None = Field(default=None, ge=0, le=10_000)
    loss: float | None = Field(default=None, ge=0, le=100)


class CmlLink(_Strict):
    id: Name
    n1: Name
    n2: Name
    i1: Name
    i2: Name
    label: str | None = None
    conditioning: CmlConditioning | None = None


class CmlLabInfo(_Strict):
    title: str | None = None
    description: str | None = None
    notes: str | None = None
    version: str = "0.0.5"


class CmlFile(_Strict):
    lab: CmlLabInfo | None = None
    nodes: list[CmlNode]
    links: list[CmlLink] = Field(default_factory=list)
    # 0.0.x files without a `lab:` section
    lab_title: str | None = None
    lab_description: str | None = None

    @property
    def version(self) -> str:
        return self.lab.version if self.lab else "0.0.x"

    @property
    def title(self) -> str | None:
        return (self.lab.title if self.lab else None) or self.lab_title

    @property
    def description(self) -> str:
        return (self.lab.description if self.lab else None) or self.lab_description or ""


def validate(data: Any) -> CmlFile:
    """The file's data as a `CmlFile`, or the first problem as a `LabProblem` (node, field, expected, found)."""
    if not isinstance(data, dict):
        raise LabProblem((), f"expected a CML lab (a mapping with `lab:`, `nodes:` and `links:`), got {show(data)}")
    lab = data.get("lab")
    if isinstance(lab, dict) and "version" in lab:
        version = lab["version"]
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            raise LabProblem(("lab", "version"), f"expected a CML lab version {SUPPORTED_VERSIONS} "
                             f"(written as text, e.g. '0.3.0'), got {show(version)}")
    try:
        return CmlFile.model_validate(data)
    except ValidationError as e:
        raise problem_of(e, data) from None


def problem_of(error: ValidationError, data: Any) -> LabProblem:
    """pydantic's first error as one of ours: the node it is in, the path, expected and found."""
    first = error.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    return LabProblem(loc, describe(first), who(data, loc))


def who(data: Any, loc: tuple[Any, ...]) -> str:
    """`node 'Spoke1' (id n2)` for a path inside nodes[2]; for a link, the link and its first node."""
    if len(loc) >= 2 and loc[0] in ("nodes", "links") and isinstance(loc[1], int) and isinstance(data, dict):
        items = data.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        if isinstance(item, dict):
            ident = _name_text(item.get("id"))
            if loc[0] == "nodes":
                return node_name(_name_text(item.get("label")), ident)
            return f"link {show(ident)}" if isinstance(ident, str) else ""
    return ""


_EXPECTED = {
    "string_type": "text", "int_type": "an integer", "int_from_float": "an integer", "float_type": "a number",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "int_parsing": "an integer", "float_parsing": "a number",
}


def describe(err: dict[str, Any]) -> str:
    """One pydantic error as `expected ..., got ...`."""
    kind, ctx = err["type"], err.get("ctx") or {}
    found = err.get("input")
    if kind == "missing":
        return f"expected the field {show(err['loc'][-1])}, got nothing (it is required)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {show(found)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {show(found)}"
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"expected a number {words} {ctx.get(key)}, got {show(found)}"
    if kind in ("string_too_long", "too_long"):
        return f"expected at most {ctx.get('max_length')} characters or items, got more"
    return f"expected {err['msg'][0].lower() + err['msg'][1:]}, got {show(found)}".replace("expected input should be", "expected")
