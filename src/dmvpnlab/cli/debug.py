"""`debug nhrp [packet|cache|extension]`, `debug crypto isakmp|ipsec`, `debug dmvpn all`, `undebug all`, `show debugging`.

Debug output goes to the session that asked for it, not to a log: each CLI session's
`SessionDebug` is itself a debug sink (the agent's `DebugSink` shape, agent/hooks.py):
it is in `agent.debug_sinks` while it wants any category, its categories grow with each
`debug` command, and it leaves on `undebug all` or when the session ends. The agent
calls `write(line)`; we add IOS's timestamp and hand the line to the transport, printable
(a debug line may quote what a peer sent; see printable.py). Imports the CLI's time
formats and printable only.
"""

from __future__ import annotations

from typing import Any, Callable

from dmvpnlab.cli.printable import printable
from dmvpnlab.cli.timefmt import debug_stamp

# category -> (the words IOS prints when it is switched on)
MESSAGES = {
    "packet": "NHRP activity debugging is on",
    "cache": "NHRP cache debugging is on",
    "extension": "NHRP extension processing debugging is on",
    "general": "NHRP protocol debugging is on",
    "all": "DMVPN all level debugging is on",
    "isakmp": "Crypto ISAKMP debugging is on",
    "ipsec": "Crypto IPSEC debugging is on",
    "eigrp-packets": "EIGRP Packets debugging is on\n"
                     "    (UPDATE, REQUEST, QUERY, REPLY, HELLO, IPXSAP, PROBE, ACK, STUB, SIAQUERY, SIAREPLY)",
}

# `show debugging` groups the categories under their subsystem, as IOS does.
SUBSYSTEMS = (("NHRP:", ("packet", "cache", "extension", "general", "all")),
              ("Cryptographic Subsystem:", ("isakmp", "ipsec")),
              ("EIGRP:", ("eigrp-packets",)))


class SessionDebug:
    """One session's debug subscription and the sink the agent writes to (sans-I/O:
    `emit` is the transport's writer)."""

    def __init__(self, agent: Any, emit: Callable[[str], None] | None) -> None:
        self.agent = agent
        self.emit = emit
        self.categories: set[str] = set()

    def write(self, line: str) -> None:
        """A debug line from the agent; raising tells the agent to drop this sink."""
        if self.emit is None:
            raise ConnectionError("session has no debug output")
        self.emit(debug_stamp() + printable(line, keep="\t"))

    def enable(self, categories: set[str]) -> str:
        if self not in self.agent.debug_sinks:
            self.agent.debug_sinks.append(self)
        self.categories |= categories
        if "general" in categories:
            self.categories |= {"packet", "cache"}
        return "\n".join(MESSAGES[c] for c in sorted(categories)) + "\n"

    def disable(self, categories: set[str] | None = None) -> str:
        """`undebug all` (None) or `no debug nhrp X`."""
        if categories is None:
            self.categories.clear()
        else:
            self.categories -= categories
        if not self.categories and self in self.agent.debug_sinks:
            self.agent.debug_sinks.remove(self)
        if categories is None:
            return "All possible debugging has been turned off\n"
        return "\n".join(MESSAGES[c].split("\n")[0].replace(" is on", " is off") for c in sorted(categories)) + "\n"

    def close(self) -> None:
        self.disable(None)

    def show(self) -> str:
        lines: list[str] = []
        for title, members in SUBSYSTEMS:
            on = sorted(c for c in self.categories if c in members)
            if on:
                lines += [title] + [f"  {MESSAGES[c].splitlines()[0]}" for c in on]
        return "\n".join(lines) + "\n" if lines else ""
