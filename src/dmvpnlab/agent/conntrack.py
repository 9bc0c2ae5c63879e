"""The kernel's connection tracking table, read as `show ip nat translations` needs it.

Why /proc: the `conntrack` tool is not installed here, and /proc/net/nf_conntrack (per
network namespace, so the router's own) holds the same entries as text. An entry's
original tuple is what the inside host sent, its reply tuple what comes back; where they
disagree the kernel translated: source NAT (the reply goes to the inside global address)
or destination NAT (a static translation seen from outside). Malformed lines are skipped
and counted, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONNTRACK_FILE = Path("/proc/net/nf_conntrack")


@dataclass(frozen=True)
class Tuple:
    src: str
    dst: str
    sport: int | None
    dport: int | None


@dataclass(frozen=True)
class Connection:
    protocol: str
    original: Tuple
    reply: Tuple

    @property
    def snat(self) -> bool:
        return self.reply.dst != self.original.src or self.reply.dport != self.original.sport

    @property
    def dnat(self) -> bool:
        return self.reply.src != self.original.dst or self.reply.sport != self.original.dport


def _tuple(fields: dict[str, str], protocol: str) -> Tuple:
    if protocol == "icmp":
        ident = int(fields["id"]) if "id" in fields else None
        return Tuple(fields["src"], fields["dst"], ident, ident)
    sport, dport = fields.get("sport"), fields.get("dport")
    return Tuple(fields["src"], fields["dst"], int(sport) if sport else None, int(dport) if dport else None)


def parse_line(line: str) -> Connection | None:
    """One /proc/net/nf_conntrack line (IPv4 only), or None."""
    words = line.split()
    if len(words) < 4 or words[0] != "ipv4":
        return None
    protocol = words[2]
    halves: list[dict[str, str]] = [{}, {}]
    half = -1
    for word in words[3:]:
        key, sep, value = word.partition("=")
        if not sep:
            continue
        if key == "src":
            half += 1
        if 0 <= half <= 1 and key not in halves[half]:
            halves[half][key] = value
    if half < 1:
        return None
    try:
        return Connection(protocol, _tuple(halves[0], protocol), _tuple(halves[1], protocol))
    except (KeyError, ValueError):
        return None


def read_connections(path: Path = CONNTRACK_FILE) -> list[Connection] | None:
    """The namespace's tracked connections, or None if the kernel does not show them."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    return [c for c in (parse_line(line) for line in text.splitlines()) if c is not None]
