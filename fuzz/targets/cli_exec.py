"""The router CLI: exec and configure-mode lines, pipes with regexes, `?` help, abbreviations.

Both targets drive the real interpreter against spoke1 of the CLI tests' fake Phase 3 lab
(tests/test_cli_fakes.py: a real NHRP engine filled by real NHRP exchanges, no lab), a
fresh copy per input so that every finding replays alone.

`cli-exec`: the input is up to MAX_LINES CLI lines, typed in one session. Each line must
answer (an exception or `% Internal error` is a finding) with printable text only, an
error must carry an IOS `%` message, a refused configuration line must leave the
running config as it was, and debug output (if the input switched it on) must reach the
session printable. After the input a new session's `show running-config`, `write
terminal` and `write memory` must work, and the saved file must load back: one bad line
never breaks the router for everyone from then on. A regex pipe answers within its time
budget, far inside the harness's 2 s stall alarm.

`cli-control`: the input is control-socket request lines (JSON), read by the agent's own
reader (a small line limit, so over-long lines are exercised) and answered by the
control server with the CLI's operations: every line gets a JSON answer that encodes,
and a new connection's `show running-config` still works afterwards.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import json
import logging
import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from fuzz.harness import Target
from fuzz.targets.seeds import REPO_ROOT

MAX_LINES = 8  # lines run per input; 8 regex timeouts still answer well inside the stall alarm
CONTROL_LINE_LIMIT = 512  # bytes: a small reader limit, so mutants cross it often
INTERNAL = "% Internal error"

EXEC_SEEDS = [
    "show dmvpn\nsh ip nh | i via\nshow ip nhrp | count via\nshow ip route | begin Gateway",
    "sh run | section interface Tunnel0\nsh run | exclude ^ ip\nshow ip nhrp detail | json",
    "conf t\ninterface Tunnel0\ndescription " + "a" * 24 + "!\nend\nshow running-config | include (a+)+$",
    "conf t\ninterface Tunnel0\ndescription " + "a" * 40 + "!\ndo show run | i (a|aa)+$\nend",
    "conf t\ninterface Tunnel0\ndescription x\udcffy\\z\nend\nwrite terminal\nwrite memory",
    "show ?\nsh ip ?\nsh d?\nshow running-config | ?\nconf t\ninterface Tunnel0\nip nhrp ?\ndo sh ip ?",
    "conf t\ninterface Tunnel0\nip nhrp holdtime 600\nip nhrp shortcut\nno ip nhrp redirect\nexit\nhostname br7\nend",
    "sh int tu0\nsh ip int br\nterminal length 0\nterminal width 511\nshow version | include _Tunnel0_",
    "debug nhrp packet\nshow debugging\nundebug all\nclear ip nhrp 10.0.0.3\nshow ip nhrp | i [0-9]+\\.[0-9]+",
    "conf t\nbanner motd ^C\nhello\n^C\nip route 10.9.0.0 255.255.0.0 10.0.0.1\nend\nsh run | b banner",
    "show dmvpn | include (\nsh run | i a{4294967294}\nsh run | i \\\nsh run | i [z-a]\nsh run | i ((((x))))",
]
CONTROL_SEEDS = [
    '{"op": "cli", "line": "show dmvpn"}\n{"op": "cli", "line": "sh run | i nhrp"}\n{"op": "ping"}',
    '{"op": "cli", "line": "conf t"}\n{"op": "cli", "line": "interface Tunnel0"}\n'
    '{"op": "cli", "line": "description x\\ud800y\\u001b[2J"}\n{"op": "cli", "line": "end"}',
    '{"op": "cli", "line": "conf t"}\n{"op": "cli", "line": "interface Tunnel0"}\n'
    '{"op": "cli", "line": "description x\\n tunnel key 99"}\n{"op": "cli", "line": "\\u001a"}',
    '{"op": "clear_nhrp", "address": "10.0.0.3"}\n{"op": "cli_close"}\n{"op": "state"}\n{"op": 5}\n[[[[1]]]]',
    '{"op": "cli", "line": "show running-config | include (a|aa)+$"}\n{"op": "cli", "line": 7}',
]


@lru_cache(maxsize=1)
def _spoke() -> Any:
    """spoke1 of the CLI tests' Phase 3 fake lab (built once; each input gets a copy)."""
    tests = str(REPO_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from test_cli_fakes import lab

    return lab(3)["spoke1"]


@lru_cache(maxsize=1)
def _startup_dir() -> Path:
    """Where `write memory` saves; removed when the process ends, as the other targets' dirs."""
    root = Path(tempfile.mkdtemp(prefix=f"dmvpnlab-fuzz-cli-{os.getpid()}-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def _agent() -> Any:
    agent = copy.deepcopy(_spoke())
    agent.config_path = _startup_dir() / "startup-config"
    return agent


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The agent logs refused requests with tracebacks (operations that fail on the fake
    agent, such as `state`); the invariants judge the answers, the log is noise here."""
    logger = logging.getLogger("dmvpnlab")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _text(data: bytes) -> str:
    """The input as a transport would hand it over: lone surrogates kept (JSON can carry
    them), other undecodable bytes as surrogate escapes (as SSH and argv do)."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape")


def _printable(text: str | None, what: str, keep: str = "\n\t") -> None:
    if text is None:
        return
    bad = [ch for ch in text if not (ch.isprintable() or ch in keep)]
    assert not bad, f"{what} holds non-printable characters {bad[:5]!r}: {text[:200]!r}"
    text.encode("utf-8")


def _check_router_still_works(agent: Any) -> None:
    """What one session did must not break a new one: show, write terminal, write memory."""
    from dmvpnlab.cli.exec import ExecSession
    from dmvpnlab.config.parser import parse_config

    fresh = ExecSession(agent)
    for command in ("show running-config", "write terminal"):
        result = fresh.handle(command)
        assert not result.error and "Current configuration :" in result.output, (command, result.output[:300])
        _printable(result.output, command)
    saved = fresh.handle("write memory")
    assert saved.output == "Building configuration...\n[OK]\n", saved.output
    reparsed = parse_config(agent.config_path.read_bytes().decode("utf-8"))
    assert reparsed.ok, [str(e) for e in reparsed.errors]


def run_exec(data: bytes) -> None:
    with _quiet():
        _run_exec(data)


def _run_exec(data: bytes) -> None:
    from dmvpnlab.cli.exec import ExecSession

    agent = _agent()
    debug: list[str] = []
    session = ExecSession(agent, debug.append)
    for line in _text(data).split("\n")[:MAX_LINES]:
        before = copy.deepcopy(agent.config)
        in_config = session.config is not None
        result = session.handle(line)
        assert INTERNAL not in result.output, (line, result.output)
        _printable(result.output, "output")
        _printable(result.prompt, "prompt", keep="")
        _printable(result.retype, "retype", keep="\t")
        if result.error:
            assert "%" in result.output, (line, result.output)
            if in_config:
                assert agent.config == before, f"refused line changed the running config: {line!r}"
        for sink in list(agent.debug_sinks):
            sink.write(f"NHRP: {line}")  # a debug line quoting hostile text
        for emitted in debug:
            _printable(emitted, "debug line", keep="\t")
        debug.clear()
        if result.closed:
            session = ExecSession(agent, debug.append)
    session.handle("\x1a")
    session.close()
    _check_router_still_works(agent)


class _Writer:
    """The StreamWriter surface the control operations use (a session is keyed by it)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    def is_closing(self) -> bool:
        return False

    async def drain(self) -> None:
        return None


@lru_cache(maxsize=1)
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def _check_answer(answer: Any) -> None:
    from dmvpnlab.agent.control import encode_answer

    if answer is None:
        return
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
    assert INTERNAL not in str(answer.get("output", "")), answer
    encoded = encode_answer(answer)
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1 and encoded.isascii(), encoded[:200]
    _printable(json.loads(encoded).get("output"), "cli output")


async def _control(data: bytes, agent: Any) -> None:
    from dmvpnlab.agent.control import ControlServer, RequestTooLong, read_request
    from dmvpnlab.cli.control_ops import OPERATIONS

    server = ControlServer(agent, Path("/nonexistent/control.sock"), OPERATIONS)
    reader = asyncio.StreamReader(limit=CONTROL_LINE_LIMIT)
    reader.feed_data(data)
    reader.feed_eof()
    writer = _Writer()
    for _ in range(MAX_LINES):
        try:
            line = await read_request(reader)
        except RequestTooLong:
            continue
        if line is None:
            break
        _check_answer(await server._answer(line, writer))  # noqa: SLF001 - the per-line entry
    for sink in list(agent.debug_sinks):
        sink.write("NHRP: \udcff\x1b[2J")
    for sent in writer.lines:
        assert sent.isascii() and json.loads(sent), sent[:200]
    fresh = _Writer()
    answer = await server._answer(b'{"op": "cli", "line": "show running-config"}\n', fresh)  # noqa: SLF001
    _check_answer(answer)
    assert answer and answer["ok"] and not answer["error"], answer


def run_control(data: bytes) -> None:
    agent = _agent()
    with _quiet():
        _loop().run_until_complete(_control(data, agent))
        _check_router_still_works(agent)


TARGETS = [
    Target("cli-exec", lambda: [s.encode("utf-8", "surrogateescape") for s in EXEC_SEEDS], run_exec, text=True),
    Target("cli-control", lambda: [s.encode() for s in CONTROL_SEEDS], run_control, text=True),
]
