"""The exec-mode interpreter: one CLI session on one router, sans-I/O.

A transport (control socket, SSH, tests) feeds it one line at a time and prints what it
returns: the output, the next prompt, whether the line was an error. Parsing (IOS
abbreviations, `?`, carets) comes from tree.py; pipes (`| include` ...) are applied to
the text a command produced by pipes.py, within a time budget (the session runs on the
agent's event loop). Configuration mode runs config.parser's
ConfigSession on a copy of the agent's config and makes every accepted line live with
`agent.apply()`. No exception escapes `handle`: a bad line is an IOS message, and a
renderer that fails is reported as `% Internal error`, so garbage never ends a session,
and a failing line leaves nothing behind: what goes live is checked first (`unshowable`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from dmvpnlab.cli.debug import SessionDebug
from dmvpnlab.cli.deferred import Deferred, DeferredError
from dmvpnlab.cli.exec_tree import CliError, Confirm, Output, build_pipe_tree, build_tree
from dmvpnlab.cli.pipes import PipeError, apply_pipe, compile_filter
from dmvpnlab.cli.printable import printable
from dmvpnlab.cli.tree import help_lines, parse
from dmvpnlab.config.model import RouterConfig
from dmvpnlab.config.modes import Mode
from dmvpnlab.config.parser import ConfigSession
from dmvpnlab.config.render import render_running_config
from dmvpnlab.config.secrets import enable_secret, verify
from dmvpnlab.config.tokens import Ambiguous, Incomplete, Invalid, tokenize

log = logging.getLogger(__name__)

INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."
CONFIG_BANNER = "Enter configuration commands, one per line.  End with CNTL/Z."
CTRL_Z = "\x1a"
KEPT_CONTROLS = "\t" + CTRL_Z  # the control characters a CLI line may keep (white space, end)
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


@dataclass
class PasswordPrompt:
    """`enable` with an `enable secret`: the next line is the password (not echoed over SSH).
    IOS asks three times, then says `% Bad secrets`."""

    question: str = "Password: "
    attempts: int = 0


class ExecSession:
    """One user's CLI session: mode, terminal settings, config session, debug subscription."""

    def __init__(self, agent: Any, emit_debug: Callable[[str], None] | None = None) -> None:
        self.agent = agent
        self.length = 24
        self.width = 80
        self.privileged = True
        self.vty = False  # an SSH line: `enable` without an enable secret is refused there, as on IOS
        self.closed = False
        self.config: ConfigSession | None = None
        self.debug = SessionDebug(agent, emit_debug)
        self.pending: Confirm | PasswordPrompt | None = None  # a question waiting for its answer (clear ip ospf process)
        self.deferred: tuple[Deferred, str | None, str] | None = None  # a ping to await (handle_async)

    # --- state ----------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        if self.pending is not None:
            return self.pending.question
        name = self.agent.config.hostname
        if self.config is not None:
            return f"{name}{self.config.prompt_suffix}#"
        return f"{name}{'#' if self.privileged else '>'}"

    def enter_config(self) -> str:
        if not self.privileged:  # user EXEC has no configure
            raise CliError("Invalid input: 'configure' needs privileged mode (enable)")
        self.config = ConfigSession(copy.deepcopy(self.agent.config), source="console", strict_families=True,
                                    immediate_references=True)
        return CONFIG_BANNER + "\n"

    def set_privileged(self, value: bool) -> str:
        if not value or self.privileged:
            self.privileged = value
            return ""
        if enable_secret(self.agent.config) is not None:
            self.pending = PasswordPrompt()
            return ""
        if self.vty:
            return "% No password set\n"
        self.privileged = True
        return ""

    def _password(self, prompt: PasswordPrompt, line: str) -> str:
        secret = enable_secret(self.agent.config)
        if secret is not None and verify(secret, line):
            self.privileged = True
            return ""
        if prompt.attempts + 1 < 3:
            self.pending = PasswordPrompt(attempts=prompt.attempts + 1)
            return ""
        return "% Bad secrets\n\n"

    def close_session(self) -> str:
        self.closed = True
        return ""

    def close(self) -> None:
        """The transport went away: stop this session's debug output."""
        self.debug.close()
        self.closed = True

    # --- one line -------------------------------------------------------------------

    def handle(self, line: str, _deferring: bool = False) -> LineResult:
        """Run one line exactly as a transport received it.

        This is the boundary every transport goes through: what arrives may hold lone
        surrogates, control characters or line breaks, and leaves as printable text with
        visible escapes (printable.py), so nothing that reaches the config parser or comes
        back to a client fails to encode. Tab and Ctrl-Z keep their CLI meaning.
        """
        prompt = self.prompt
        line = printable(line.rstrip("\r\n"), keep=KEPT_CONTROLS)
        try:
            output, error, retype = self._handle(line, prompt)
        except Exception:  # a renderer bug must not end the session
            log.exception("CLI line failed: %r", line)
            output, error, retype = "% Internal error while running the command (see the agent log)\n", True, None
        if self.deferred is not None and not _deferring:  # a synchronous transport cannot wait
            self.deferred = None
            output, error = "% This command needs the asynchronous CLI (control socket or SSH)\n", True
        return LineResult(printable(output, keep="\n\t"), printable(self.prompt), error, self.closed,
                          None if retype is None else printable(retype, keep="\t"))

    async def handle_async(self, line: str) -> LineResult:
        """`handle`, and if the line was a command that takes time (`ping`), its answer,
        awaited on the event loop so the data plane keeps forwarding meanwhile."""
        result = self.handle(line, _deferring=True)
        deferred, self.deferred = self.deferred, None
        if deferred is None:
            return result
        command, option, regex = deferred
        try:
            text = await command.run()
            if option is not None:
                text = apply_pipe(text, option, regex)
        except DeferredError as error:
            text, result.error = f"% {error}\n", True
        except Exception:
            log.exception("CLI line failed: %r", line)
            text, result.error = "% Internal error while running the command (see the agent log)\n", True
        result.output = printable(text, keep="\n\t")
        return result

    def _handle(self, line: str, prompt: str) -> tuple[str, bool, str | None]:
        if isinstance(self.pending, PasswordPrompt):
            prompt, self.pending = self.pending, None
            return self._password(prompt, line), False, None
        if self.pending is not None:  # the answer to a question: only yes (or y) goes ahead
            pending, self.pending = self.pending, None
            yes = line.strip().lower() in ("y", "ye", "yes")
            return (pending.on_yes() if yes else ""), False, None
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
        option = pipe_match.words[0] if pipe_match is not None else None
        regex = pipe_match.args.get("regex", "") if pipe_match is not None else ""
        try:
            if regex:  # a bad filter is refused before the command runs (`clear ... | i (`)
                compile_filter(regex)
            result = match.node.action(self, match.args)
            if isinstance(result, Deferred):
                if option == "json":  # refused before the echoes go out, not after
                    return "% JSON output is not available for this command\n", True, None
                self.deferred = (result, option, regex)
                return "", False, None
            if isinstance(result, Confirm):
                self.pending = result
                return "", False, None
            text, data = (result.text, result.data) if isinstance(result, Output) else (result or "", None)
            if option == "json":
                if data is None:
                    return "% JSON output is not available for this command\n", True, None
                return json.dumps(data, indent=2, default=str) + "\n", False, None
            if option is not None:
                text = apply_pipe(text, option, regex)
        except (CliError, PipeError, DeferredError) as error:
            return f"% {error}\n", True, None
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
        # A line is all or nothing, as in IOS: refused, failing, or leaving a config that
        # could not be shown, it leaves the session (mode, section, model) as it was.
        before = copy.deepcopy(cs)
        try:
            errors = cs.apply(line)
        except Exception:
            self.config = before
            raise
        if errors:
            self.config = before
            return "\n".join(errors[0].ios_lines(indent=len(prompt))) + "\n\n", True, None
        notes = []
        if len(cs.ignored) > ignored_before:
            notes.append("% Accepted and kept in the running-config, but without effect in dmvpnlab")
        if cs.mode is Mode.BANNER:  # banner text goes live with its closing delimiter, not before
            return "".join(n + "\n" for n in notes), False, None
        if cs.config != self.agent.config:
            problem = unshowable(cs.config)
            if problem is not None:
                self.config = before
                return f"% {problem}\n", True, None
            self.agent.config = copy.deepcopy(cs.config)
            try:
                self.agent.apply()
            except Exception as error:  # incomplete config while typing (no tunnel source yet...)
                notes.append(f"% Not in effect yet: {error}")
        if cs.ended:
            self.config = None
        return "".join(n + "\n" for n in notes), False, None


def unshowable(config: RouterConfig) -> str | None:
    """Why `config` could not be shown or saved, or None. Checked before a line goes live:
    the running config is shared by every session, so a line that left it unrenderable
    (a renderer bug, text no UTF-8 writer takes) would break `show running-config` and
    `write memory` for all of them from then on."""
    try:
        render_running_config(config).encode("utf-8")
    except Exception:  # whatever the renderer does wrong, the line must not go live
        log.exception("refused a config line: the running-config would not render")
        return "Internal error: the running-config would not render with this line; not applied"
    return None
