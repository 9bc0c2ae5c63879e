"""The exec-mode interpreter: one CLI session on one router, sans-I/O.

A transport (control socket, SSH, tests) feeds it one line at a time and prints what it
returns: the output, the next prompt, whether the line was an error. Parsing (IOS
abbreviations, `?`, carets) comes from tree.py; pipes (`| include` ...) are applied
here to the text a command produced. Configuration mode runs config.parser's
ConfigSession on a copy of the agent's config and makes every accepted line live with
`agent.apply()`. No exception escapes `handle`: a bad line is an IOS message, and a
renderer that fails is reported as `% Internal error`, so garbage never ends a session.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from dmvpnlab.cli.debug import SessionDebug
from dmvpnlab.cli.exec_tree import CliError, Output, build_pipe_tree, build_tree
from dmvpnlab.cli.tree import help_lines, parse
from dmvpnlab.config.modes import Mode
from dmvpnlab.config.parser import ConfigSession
from dmvpnlab.config.tokens import Ambiguous, Incomplete, Invalid, tokenize

log = logging.getLogger(__name__)

INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."
CONFIG_BANNER = "Enter configuration commands, one per line.  End with CNTL/Z."
CTRL_Z = "\x1a"
CONFIG_HELP = [
    ("crypto", "Encryption module"),
    ("do", "To run exec commands in config mode"),
    ("end", "Exit from configure mode"),
    ("exit", "Exit from configure mode"),
    ("hostname", "Set system's network name"),
    ("interface", "Select an interface to configure"),
    ("ip", "Global IP configuration subcommands"),
    ("no", "Negate a command or set its defaults"),
    ("router", "Enable a routing process"),
]
INTERFACE_HELP = [
    ("description", "Interface specific description"),
    ("ip", "Interface Internet Protocol config commands"),
    ("shutdown", "Shutdown the selected interface"),
    ("tunnel", "protocol-over-protocol tunneling"),
    ("bandwidth", "Set bandwidth informational parameter"),
]

_TREE = build_tree()
_PIPE_TREE = build_pipe_tree()
_PIPE = re.compile(r"\s\|")


@dataclass
class LineResult:
    """What one CLI line gave: text to print, the next prompt, and how it ended (not a
    process result: that is the lab's ExecResult, of a program run in a namespace)."""

    output: str
    prompt: str
    error: bool = False
    closed: bool = False
    retype: str | None = None  # after `?`: the text to offer again at the prompt


class ExecSession:
    """One user's CLI session: mode, terminal settings, config session, debug subscription."""

    def __init__(self, agent: Any, emit_debug: Callable[[str], None] | None = None) -> None:
        self.agent = agent
        self.length = 24
        self.width = 80
        self.privileged = True
        self.closed = False
        self.config: ConfigSession | None = None
        self.debug = SessionDebug(agent, emit_debug)

    # --- state ----------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        name = self.agent.config.hostname
        if self.config is not None:
            return f"{name}{self.config.prompt_suffix}#"
        return f"{name}{'#' if self.privileged else '>'}"

    def enter_config(self) -> str:
        self.config = ConfigSession(copy.deepcopy(self.agent.config), source="console", strict_families=True)
        return CONFIG_BANNER + "\n"

    def set_privileged(self, value: bool) -> str:
        self.privileged = value
        return ""

    def close_session(self) -> str:
        self.closed = True
        return ""

    def close(self) -> None:
        """The transport went away: stop this session's debug output."""
        self.debug.close()
        self.closed = True

    # --- one line -------------------------------------------------------------------

    def handle(self, line: str) -> LineResult:
        prompt = self.prompt
        try:
            output, error, retype = self._handle(line.rstrip("\r\n"), prompt)
        except Exception:  # a renderer bug must not end the session
            log.exception("CLI line failed: %r", line)
            output, error, retype = "% Internal error while running the command (see the agent log)\n", True, None
        return LineResult(output, self.prompt, error, self.closed, retype)

    def _handle(self, line: str, prompt: str) -> tuple[str, bool, str | None]:
        if CTRL_Z in line:
            before = line.split(CTRL_Z, 1)[0]
            result = self._handle(before, prompt) if before.strip() else ("", False, None)
            self.config = None
            return result
        if line.rstrip().endswith("?"):
            return self._help(line.rstrip()[:-1], prompt)
        if self.config is not None:
            return self._config_line(line, prompt)
        return self._exec_line(line, len(prompt))

    # --- exec -----------------------------------------------------------------------

    def _exec_line(self, line: str, offset: int) -> tuple[str, bool, str | None]:
        if not line.strip():
            return "", False, None
        pipe = _PIPE.search(line)
        command = line[:pipe.start()] if pipe else line
        try:
            if not command.strip():
                raise Invalid(pipe.start() + 1 if pipe else 0)
            match = parse(_TREE, command)
            pipe_match = None
            if pipe:
                pipe_text = " " * (pipe.end()) + line[pipe.end():]
                pipe_match = parse(_PIPE_TREE, pipe_text)
        except Invalid as bad:
            return f"{' ' * (offset + bad.column)}^\n{INVALID}\n\n", True, None
        except Incomplete:
            return f"{INCOMPLETE}\n\n", True, None
        except Ambiguous:
            return f'% Ambiguous command:  "{line.strip()}"\n', True, None
        try:
            result = match.node.action(self, match.args)
        except CliError as error:
            return f"% {error}\n", True, None
        text, data = (result.text, result.data) if isinstance(result, Output) else (result or "", None)
        if pipe_match is not None:
            option = pipe_match.words[0]
            if option == "json":
                if data is None:
                    return "% JSON output is not available for this command\n", True, None
                return json.dumps(data, indent=2, default=str) + "\n", False, None
            text = apply_pipe(text, option, pipe_match.args.get("regex", ""))
        return text, False, None

    # --- help -----------------------------------------------------------------------

    def _help(self, text: str, prompt: str) -> tuple[str, bool, str | None]:
        if self.config is not None:
            stripped = text.strip()
            if stripped.split()[:1] == ["do"]:
                return self._exec_help(stripped[2:].lstrip(), text)
            words = INTERFACE_HELP if self.config.mode is Mode.INTERFACE else CONFIG_HELP
            if stripped and " " not in stripped:
                words = [(w, h) for w, h in words if w.startswith(stripped)]
            width = max(len(w) for w, _ in words) if words else 0
            return "\n".join(f"  {w:<{width}}  {h}" for w, h in words) + "\n\n", False, text
        return self._exec_help(text, text, len(prompt))

    def _exec_help(self, text: str, retype: str, offset: int = 0) -> tuple[str, bool, str | None]:
        pipe = _PIPE.search(text)
        try:
            if pipe:
                lines = help_lines(_PIPE_TREE, " " * pipe.end() + text[pipe.end():])
            else:
                lines = help_lines(_TREE, text)
        except Invalid as bad:
            return f"{' ' * (offset + bad.column)}^\n{INVALID}\n\n", True, None
        except Ambiguous as amb:
            return f'% Ambiguous command:  "{text[:amb.upto].strip()}"\n', True, None
        return "\n".join(lines) + "\n\n", False, retype

    # --- configuration mode ---------------------------------------------------------

    def _config_line(self, line: str, prompt: str) -> tuple[str, bool, str | None]:
        cs = self.config
        assert cs is not None
        tokens = tokenize(line)
        if not tokens:
            return "", False, None
        first = tokens[0].text.lower()
        if first == "do":
            if len(tokens) == 1:
                return f"{INCOMPLETE}\n\n", True, None
            rest_col = tokens[1].column
            return self._exec_line(" " * rest_col + line[rest_col:], len(prompt))
        if cs.mode is Mode.GLOBAL and len(tokens) == 1 and "exit".startswith(first) and len(first) >= 2:
            self.config = None
            return "", False, None
        ignored_before = len(cs.ignored)
        errors = cs.apply(line)
        if errors:
            return "\n".join(errors[0].ios_lines(indent=len(prompt))) + "\n\n", True, None
        notes = []
        if len(cs.ignored) > ignored_before:
            notes.append("% Accepted and kept in the running-config, but without effect in dmvpnlab")
        if cs.config != self.agent.config:
            self.agent.config = copy.deepcopy(cs.config)
            try:
                self.agent.apply()
            except Exception as error:  # incomplete config while typing (no tunnel source yet...)
                notes.append(f"% Not in effect yet: {error}")
        if cs.ended:
            self.config = None
        return "".join(n + "\n" for n in notes), False, None


def apply_pipe(text: str, option: str, regex: str) -> str:
    """`| include/exclude/begin/section/count REGEX` on a command's output (IOS regex ~ Python re)."""
    try:
        pattern = re.compile(regex)
        search = pattern.search
    except re.error:
        search = lambda line: regex in line  # noqa: E731  (IOS would refuse; a literal match is kinder)
    lines = text.splitlines()
    if option == "include":
        kept = [l for l in lines if search(l)]
    elif option == "exclude":
        kept = [l for l in lines if not search(l)]
    elif option == "begin":
        start = next((i for i, l in enumerate(lines) if search(l)), len(lines))
        kept = lines[start:]
    elif option == "section":
        kept = _section(lines, search)
    elif option == "count":
        count = sum(1 for l in lines if search(l)) if regex else len(lines)
        return f"Number of lines which match regexp = {count}\n"
    else:
        kept = lines
    return "".join(l + "\n" for l in kept)


def _section(lines: list[str], search: Callable[[str], Any]) -> list[str]:
    """A matching unindented line brings its indented body; a matching body line comes alone."""
    out: list[str] = []
    taking = False
    for line in lines:
        indented = line[:1].isspace()
        if not indented:
            taking = bool(search(line))
            if taking:
                out.append(line)
        elif taking or search(line):
            out.append(line)
    return out
