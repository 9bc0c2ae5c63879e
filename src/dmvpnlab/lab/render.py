"""Render a router's IOS startup config from its Jinja2 template in `nodes/`.

Templates see what team.md promises (`router`, `topology`, `hub`, `hubs`, `spokes`, and the
router's vars at top level) plus two helpers that keep address arithmetic out of Jinja:
`lan_summaries` (the summary routes a Phase 1/3 spoke points at the hub) and
`public_nbma(router)` (a router's NBMA address as its peers reach it, i.e. after NAT).
Templates are strict: an undefined name is an error, reported as a `RenderError` naming
the template and the router rather than a Jinja traceback.
"""

from __future__ import annotations

import functools
import ipaddress
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Iterable, NoReturn, Sequence

import jinja2

from dmvpnlab.lab.topology.templates import PACKAGE_TEMPLATES, looked_in

# The templates dmvpnlab ships (package data; the repository's nodes/ links to them).
DEFAULT_NODES_DIR = PACKAGE_TEMPLATES


class RenderError(ValueError):
    """A template that cannot be rendered for a router (missing file, bad variable...)."""


def summarize_lans(networks: Iterable[IPv4Network]) -> list[IPv4Network]:
    """Summary routes covering `networks`, each widened to an octet boundary.

    Rounding out to octets (192.168.1.0/24 -> 192.168.0.0/16) is what a designer writes on
    spokes: the summary then still covers the LAN of the next spoke added, so spoke
    configs do not change when the network grows (the point of DMVPN).
    """
    wide = []
    for net in networks:
        plen = max(8, (net.prefixlen - 1) // 8 * 8) if net.prefixlen > 8 else net.prefixlen
        wide.append(net.supernet(new_prefix=plen) if plen < net.prefixlen else net)
    return list(ipaddress.collapse_addresses(wide))


def _lan_summaries(topology: Any, router: Any, variables: dict[str, Any]) -> list[IPv4Network]:
    given = variables.get("lan_summary")
    if given is not None:
        items = given if isinstance(given, (list, tuple)) else [given]
        try:
            return [IPv4Network(str(item)) for item in items]
        except ValueError as exc:
            raise RenderError(f"{router.name}: lan_summary: {exc}") from None
    cached = _SUMMARIES.get(id(topology))
    if cached is None or cached[0] is not topology:
        cached = (topology, summarize_lans(r.lan.network for r in topology.routers if r.lan is not None))
        if len(_SUMMARIES) >= 8:
            _SUMMARIES.clear()
        _SUMMARIES[id(topology)] = cached
    return list(cached[1])


# Summaries per topology object (by identity, holding the object so the id is not reused):
# every router of a lab asks the same question, and collapsing 500 LANs again for each of
# 500 routers was a quadratic part of bring-up. A topology is not changed after loading.
_SUMMARIES: dict[int, tuple[Any, list[IPv4Network]]] = {}


def _public_nbma(topology: Any, router: Any) -> IPv4Address:
    """The address peers send to: the NAT box's outside address if the router is behind one."""
    if getattr(router, "nat", None):
        return topology.nat_box(router.nat).outside.ip
    return router.nbma_address


def _fail(message: str) -> NoReturn:
    raise RenderError(message)


def _environment(dirs: Sequence[Path]) -> jinja2.Environment:
    return _cached_environment(tuple(str(d) for d in dirs))


@functools.lru_cache(maxsize=16)
def _cached_environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    """One Jinja2 environment per lookup order, reused for every router.

    Why: a fresh environment per router compiled hub.j2/spoke.j2 (and what they import)
    again for each one, most of a 500-spoke bring-up's controller time. The loader still
    checks each template's mtime on use (auto_reload), so an edited template is re-read.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),  # in order: includes too
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["fail"] = _fail
    return env


def nodes_dir_for(topology: Any) -> Path:
    """The topology's own nodes directory if it names one, else the package's templates."""
    given = getattr(topology, "nodes_dir", None)
    return Path(given) if given else DEFAULT_NODES_DIR


def template_dirs_for(topology: Any) -> tuple[Path, ...]:
    """Where `topology`'s templates are looked up, in order (topology/templates.py); a
    model without a lookup order (built by hand) gets its nodes_dir, then the package's."""
    given = tuple(getattr(topology, "template_dirs", None) or ())
    if given:
        return given
    first = nodes_dir_for(topology)
    return (first,) if first == DEFAULT_NODES_DIR else (first, DEFAULT_NODES_DIR)


def render_router_config(topology: Any, router: Any, nodes_dir: Path | None = None) -> str:
    """The IOS startup config of `router`, from `nodes/<router.template>`.

    A router without a template has none (underlay only): RenderError.
    """
    if not router.template:
        raise RenderError(f"{router.name}: no config template (router.template is empty)")
    dirs = (nodes_dir,) if nodes_dir is not None else template_dirs_for(topology)
    env = _environment(dirs)
    variables = dict(router.vars or {})
    context: dict[str, Any] = {
        **variables,
        "router": router,
        "topology": topology,
        "hub": topology.hub,
        "hubs": topology.hubs,  # every hub in file order: dual-hub and hierarchical templates
        "spokes": topology.spokes,
        "lan_summaries": _lan_summaries(topology, router, variables),
        "public_nbma": lambda r: _public_nbma(topology, r),
    }
    try:
        template = env.get_template(router.template)
        return template.render(context)
    except jinja2.TemplateNotFound:
        raise RenderError(f"{router.name}: template {router.template!r} not found in {looked_in(dirs)}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{router.name}: {exc.filename or router.template} line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{router.name}: template {router.template}: {exc.message}") from None
    except RenderError as exc:
        raise RenderError(f"{router.name}: template {router.template}: {exc}") from None
