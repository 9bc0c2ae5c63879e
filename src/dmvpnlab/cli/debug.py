"""`debug nhrp [packet|cache|extension]`, `debug dmvpn all`, `undebug all`, `show debugging`.

Debug output goes to the session that asked for it, not to a log: each CLI session owns
at most one `DebugSink` in `agent.debug_sinks` whose categories grow with each `debug`
command and which is removed on `undebug all` or when the session ends. The agent calls
`sink.write(line)`; we add IOS's timestamp and hand the line to the transport.
"""

from __future__ import annotations

from typing import Any, Callable

from dmvpnlab.cli.timefmt import debug_stamp

# category -> (the words IOS prints when it is switched on)
MESSAGES = {
    "packet": "NHRP activity debugging is on",
    "cache": "NHRP cache debugging is on",
    "extension": "NHRP extension processing debugging is on",
    "general": "NHRP protocol debugging is on",
    "all": "DMVPN all level debugging is on",
}


class SessionDebug:
    """One session's debug subscription (sans-I/O: `emit` is the transport's writer)."""

    def __init__(self, agent: Any, emit: Callable[[str], None] | None) -> None:
        self.agent = agent
        self.emit = emit
        self.sink: Any = None

    @property
    def categories(self) -> set[str]:
        return set(self.sink.categories) if self.sink is not None else set()

    def _write(self, line: str) -> None:
        if self.emit is None:
            raise ConnectionError("session has no debug output")
        self.emit(debug_stamp() + line)

    def enable(self, categories: set[str]) -> str:
        from dmvpnlab.agent import DebugSink  # the agent's type, so the agent recognises it

        if self.sink is None:
            self.sink = DebugSink(set(), self._write)
        if self.sink not in self.agent.debug_sinks:
            self.agent.debug_sinks.append(self.sink)
        self.sink.categories |= categories
        if "general" in categories:
            self.sink.categories |= {"packet", "cache"}
        return "\n".join(MESSAGES[c] for c in sorted(categories)) + "\n"

    def disable(self, categories: set[str] | None = None) -> str:
        """`undebug all` (None) or `no debug nhrp X`."""
        if self.sink is not None:
            if categories is None:
                self.sink.categories.clear()
            else:
                self.sink.categories -= categories
            if not self.sink.categories and self.sink in self.agent.debug_sinks:
                self.agent.debug_sinks.remove(self.sink)
        if categories is None:
            return "All possible debugging has been turned off\n"
        return "\n".join(MESSAGES[c].replace(" is on", " is off") for c in sorted(categories)) + "\n"

    def close(self) -> None:
        self.disable(None)

    def show(self) -> str:
        cats = self.categories
        if not cats:
            return ""
        lines = ["NHRP:"] + [f"  {MESSAGES[c]}" for c in sorted(cats) if c in MESSAGES]
        return "\n".join(lines) + "\n"
