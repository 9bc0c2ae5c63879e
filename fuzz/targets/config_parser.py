"""The IOS config parser and renderer on mutated configs: never a traceback, always a fixed point.

Two ways config text reaches the parser, one target each:
- `config-parser`: a startup-config file. The bytes are decoded by config.text's rule
  (`decode_config`), read whole with `parse_config`, rendered, read again.
- `config-session`: lines typed at `configure terminal` or sent over the control socket:
  Python strings that may hold lone surrogates (the bytes decoded with surrogateescape),
  applied one by one to a `ConfigSession` as the CLI makes it (`strict_families`).

Invariants: parsing raises nothing (a bad line is a `ConfigError` in the result, the
documented way); rendering raises nothing and gives text that encodes as strict UTF-8;
the rendered config reads back into an equal model, with no error but the
whole-config ones the model carries (a name no section defines, config.references), and
renders to the same text (render -> parse -> render is a fixed point); and, line by line, a refused
line leaves the model as it was (IOS refuses a line as a whole).

Seeds: every router config the lab renders from nodes/*.j2 for topologies/*.yaml, the
`show running-config` golden files under tests/golden, and fuzz/corpus/config-parser/
(a whole running-config dump, flat pasted input, and every input that once broke
something), which the session target replays line by line too.
"""

from __future__ import annotations

from functools import lru_cache

from dmvpnlab.config import references
from dmvpnlab.config.model import RouterConfig
from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config
from dmvpnlab.config.text import decode_config
from fuzz.harness import Target, corpus_files
from fuzz.targets.seeds import REPO_ROOT

SESSION_LINES = 200  # a session input is cut here: each line costs a snapshot of the model


@lru_cache(maxsize=1)
def config_seeds() -> tuple[bytes, ...]:
    """Rendered node configs of every topology, and the golden running-configs (deduplicated)."""
    from dmvpnlab.lab.render import RenderError, render_router_config
    from dmvpnlab.lab.topology.errors import TopologyError
    from dmvpnlab.lab.topology.yamlfile import iter_topology_files, load_topology

    texts: dict[str, None] = {}
    for path in iter_topology_files(REPO_ROOT / "topologies"):
        try:
            topology = load_topology(path)
        except TopologyError:
            continue
        for router in topology.routers:
            if router.template:
                try:
                    texts[render_router_config(topology, router)] = None
                except RenderError:
                    continue
    for path in sorted((REPO_ROOT / "tests" / "golden").rglob("*show_running_config*.txt")):
        texts[path.read_text()] = None
    return tuple(text.encode() for text in texts)


def check_round_trip(config: RouterConfig) -> None:
    """What the model renders reads back to an equal model rendering the same text, with no
    errors but the whole-config ones the model carries itself (names it leaves undefined,
    config.references): those are the model's, and reading it back must say them again."""
    first = render_running_config(config)
    first.encode("utf-8")  # strict: stored text is always UTF-8 (a lone surrogate would raise)
    again = parse_config(first, source="rendered")
    carried = [references.message(kind, name) for kind, name in references.undefined(config)]
    assert [e.message for e in again.errors] == carried, \
        f"the rendered config has errors: {[str(e) for e in again.errors]}\n{first}"
    assert again.config == config, f"re-parsed model differs:\n{again.config}\n!=\n{config}\n{first}"
    second = render_running_config(again.config)
    assert second == first, f"render is no fixed point:\n{first}\n---\n{second}"


def parse_file(data: bytes) -> None:
    """A startup-config file: decode by the rule, parse whole, round-trip."""
    result = parse_config(decode_config(data, source="fuzz").text, source="fuzz")
    check_round_trip(result.config)


def apply_lines(data: bytes) -> None:
    """Lines as the CLI applies them (lone surrogates included); a refused line changes nothing."""
    session = ConfigSession(source="console", strict_families=True)
    for line in data.decode("utf-8", "surrogateescape").splitlines()[:SESSION_LINES]:
        before = repr(session.config)
        if session.apply(line):
            after = repr(session.config)
            assert after == before, f"refused line {line!r} changed the model:\n{before}\n->\n{after}"
    session.finish()
    check_round_trip(session.config)


def session_seeds() -> list[bytes]:
    """The parser's seeds and its corpus: the same hostile lines, typed one by one."""
    return [*config_seeds(), *(path.read_bytes() for path in corpus_files("config-parser"))]


TARGETS = [
    Target("config-parser", lambda: list(config_seeds()), parse_file, text=True),
    Target("config-session", session_seeds, apply_lines, text=True),
]
