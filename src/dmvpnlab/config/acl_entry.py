"""One permit/deny line of an IOS access list -> `AccessListEntry`, and its text as IOS prints it.

Standard: `{permit|deny} {any | host A | A [WILDCARD]} [log]`.
Extended: `{permit|deny} PROTOCOL SRC [PORTS] DST [PORTS] [established] [OPTIONS...] [log|log-input]`
with SRC/DST `any`, `host A` or `A WILDCARD`, PORTS `eq P`, `range P Q`, `gt P`, `lt P` (or
`neq P`) for tcp/udp, P a number or one of IOS's names (`www`, `telnet`, `isakmp`,
`non500-isakmp` ...), PROTOCOL a name (`ip`, `icmp`, `tcp`, `udp`, `gre`, `esp`, `ahp`,
`ospf`, `eigrp` ...) or a number (printed by its name when it has one, as IOS does).

The text kept on the entry is IOS's own spelling of the line (keywords in full, `host A`,
`any`, ports by name, the address with its wildcard bits cleared), so the running-config
and `show access-lists` print what IOS would, and reading it back gives the same entry.
What a filter cannot use is kept, never guessed: a non-contiguous wildcard, `neq`, several
ports in one `eq`, TCP flags other than `established`, `dscp`/`precedence`/`time-range`...
set `not_applied` with the reason. ICMP types (`echo`, `echo-reply`, `8` ...) stay in the
text for the filter to read. A structurally bad line (a bad address or port, ports on a
protocol without them, a missing destination) is an IOS `Invalid`/`Incomplete`.
Imports config.model and config.tokens only.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from dmvpnlab.config.model import AccessListEntry
from dmvpnlab.config.tokens import Cursor, Invalid, mask_to_prefixlen, parse_integer, parse_ipv4

ANY = IPv4Network("0.0.0.0/0")

PROTOCOL_NUMBERS = {"icmp": 1, "igmp": 2, "ipinip": 4, "tcp": 6, "udp": 17, "gre": 47, "esp": 50,
                    "ahp": 51, "eigrp": 88, "ospf": 89, "nos": 94, "pim": 103, "pcp": 108}
_PROTOCOL_NAMES = {n: name for name, n in PROTOCOL_NUMBERS.items()}

TCP_PORTS = {"bgp": 179, "chargen": 19, "cmd": 514, "daytime": 13, "discard": 9, "domain": 53,
             "echo": 7, "exec": 512, "finger": 79, "ftp": 21, "ftp-data": 20, "gopher": 70,
             "hostname": 101, "ident": 113, "irc": 194, "klogin": 543, "kshell": 544, "login": 513,
             "lpd": 515, "msrpc": 135, "nntp": 119, "pim-auto-rp": 496, "pop2": 109, "pop3": 110,
             "smtp": 25, "sunrpc": 111, "tacacs": 49, "talk": 517, "telnet": 23, "time": 37,
             "uucp": 540, "whois": 43, "www": 80}
UDP_PORTS = {"biff": 512, "bootpc": 68, "bootps": 67, "discard": 9, "dnsix": 195, "domain": 53,
             "echo": 7, "isakmp": 500, "mobile-ip": 434, "nameserver": 42, "netbios-dgm": 138,
             "netbios-ns": 137, "netbios-ss": 139, "non500-isakmp": 4500, "ntp": 123,
             "pim-auto-rp": 496, "rip": 520, "ripng": 521, "snmp": 161, "snmptrap": 162,
             "sunrpc": 111, "syslog": 514, "tacacs": 49, "talk": 517, "tftp": 69, "time": 37,
             "who": 513, "xdmcp": 177}
_PORTS = {"tcp": TCP_PORTS, "udp": UDP_PORTS}
_PORT_NAMES = {proto: {n: name for name, n in table.items()} for proto, table in _PORTS.items()}

# Options IOS takes after the destination that a filter here does not model: the entry
# is kept, not applied. Those with a value take one more word.
_OPTIONS_WITH_VALUE = ("dscp", "precedence", "tos", "time-range", "ttl", "option", "reflect")
_TCP_FLAGS = ("ack", "fin", "psh", "rst", "syn", "urg", "match-all", "match-any")


def _protocol(cur: Cursor) -> str:
    tok = cur.next()
    word = tok.text.lower()
    if word == "ip" or word in PROTOCOL_NUMBERS:
        return word
    number = parse_integer(tok.text, 0, 255)
    if number is None:
        raise Invalid(tok.column)
    return _PROTOCOL_NAMES.get(number, str(number))


class _Reasons:
    """Why the entry cannot be applied (the first reason found is kept)."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def add(self, reason: str) -> None:
        self.reason = self.reason or reason


def _address(cur: Cursor, reasons: _Reasons, *, standard: bool) -> tuple[IPv4Network, str]:
    """`any`, `host A` or `A WILDCARD` (a standard ACL also takes `A` alone: one host)."""
    tok = cur.next()
    word = tok.text.lower()
    if word == "any":
        return ANY, "any"
    if word == "host":
        addr = cur.ipv4()
        return IPv4Network(addr), (str(addr) if standard else f"host {addr}")
    addr = parse_ipv4(tok.text)
    if addr is None:
        raise Invalid(tok.column)
    wildcard = IPv4Address(0)
    if cur.more() and parse_ipv4(cur.peek() or "") is not None:
        wildcard = cur.ipv4()
    elif not standard:
        cur.next()  # Incomplete at the end; a word that is no wildcard is invalid input
        raise Invalid(cur.tokens[cur.pos - 1].column)
    bits = int(wildcard)
    base = IPv4Address(int(addr) & ~bits & 0xFFFFFFFF)
    if bits == 0xFFFFFFFF:
        return ANY, "any"
    if bits == 0:
        return IPv4Network(base), (str(base) if standard else f"host {base}")
    text = f"{base} {wildcard}"
    plen = mask_to_prefixlen(IPv4Address(~bits & 0xFFFFFFFF))
    if plen is None:
        reasons.add(f"non-contiguous wildcard {wildcard}: not applied")
        return IPv4Network(base), text
    return IPv4Network((int(base), plen)), text


def _port(cur: Cursor, protocol: str) -> tuple[int, str]:
    """A port number or name; returned with the word IOS prints for it."""
    tok = cur.next()
    word = tok.text.lower()
    table = _PORTS[protocol]
    if word in table:
        number = table[word]
    else:
        value = parse_integer(tok.text, 0, 65535)
        if value is None:
            raise Invalid(tok.column)
        number = value
    return number, _PORT_NAMES[protocol].get(number, str(number))


def _ports(cur: Cursor, protocol: str, reasons: _Reasons) -> tuple[tuple[int, int] | None, list[str]]:
    """An optional port operator after an address: the range it matches and its IOS words."""
    op = (cur.peek() or "").lower()
    if op not in ("eq", "neq", "gt", "lt", "range"):
        return None, []
    if protocol not in _PORTS:
        raise Invalid(cur.tokens[cur.pos].column)
    cur.next()
    if op == "range":
        (low, low_word), (high, high_word) = _port(cur, protocol), _port(cur, protocol)
        return (low, high), ["range", low_word, high_word]
    number, word = _port(cur, protocol)
    words = [op, word]
    if op == "eq":
        while cur.more() and _is_port(cur.peek() or "", protocol):
            words.append(_port(cur, protocol)[1])  # `eq www 443`: several ports
        if len(words) > 2:
            reasons.add(f"several ports in one eq ({' '.join(words[1:])}): not applied")
        return (number, number), words
    if op == "neq":
        reasons.add(f"neq {word}: not applied")
        return None, words
    if op == "gt":
        if number >= 65535:
            reasons.add(f"gt {word} matches no port: not applied")
        return (min(number + 1, 65535), 65535), words
    if number == 0:
        reasons.add("lt 0 matches no port: not applied")
    return (0, max(number - 1, 0)), words


def _is_port(word: str, protocol: str) -> bool:
    return word.lower() in _PORTS[protocol] or parse_integer(word, 0, 65535) is not None


def parse_entry(cur: Cursor, kind: Literal["standard", "extended"], action: str,
                sequence: int | None) -> AccessListEntry:
    """The rest of a `permit`/`deny` line (the cursor stands after the action)."""
    reasons = _Reasons()
    act: Literal["permit", "deny"] = "permit" if action == "permit" else "deny"
    if kind == "standard":
        source, src_text = _address(cur, reasons, standard=True)
        words = [act, src_text]
        log = False
        if cur.accept("log"):
            log = True
            words.append("log")
        cur.end()
        return AccessListEntry(act, source, sequence=sequence, log=log, text=" ".join(words),
                               not_applied=reasons.reason)
    protocol = _protocol(cur)
    source, src_text = _address(cur, reasons, standard=False)
    source_ports, src_port_words = _ports(cur, protocol, reasons)
    destination, dst_text = _address(cur, reasons, standard=False)
    destination_ports, dst_port_words = _ports(cur, protocol, reasons)
    words = [act, protocol, src_text, *src_port_words, dst_text, *dst_port_words]
    entry = AccessListEntry(act, source, protocol=protocol, destination=destination,
                            source_ports=source_ports, destination_ports=destination_ports, sequence=sequence)
    _options(cur, protocol, entry, words, reasons)
    entry.text = " ".join(words)
    entry.not_applied = reasons.reason
    return entry


def _options(cur: Cursor, protocol: str, entry: AccessListEntry, words: list[str], reasons: _Reasons) -> None:
    """What follows the destination: `established`, ICMP types, options, `log`."""
    first = True
    while cur.more():
        tok = cur.next()
        word = tok.text.lower()
        if word in ("log", "log-input"):
            entry.log = True
            words.append(word)
            if cur.more() and word == "log":  # `log WORD`: a cookie
                words.append(cur.next().text)
            cur.end()
            return
        if word == "established" and protocol == "tcp":
            entry.established = True
            words.append(word)
        elif protocol == "icmp" and first:
            words.append(word)  # the ICMP type (name or number), maybe with a code
            if parse_integer(word, 0, 255) is not None and cur.more() and parse_integer(cur.peek() or "", 0, 255) is not None:
                words.append(cur.next().text)
        elif word in _OPTIONS_WITH_VALUE:
            value = cur.next().text
            words += [word, value]
            reasons.add(f"{word} {value}: not applied")
        elif word in _TCP_FLAGS and protocol == "tcp":
            words.append(word)
            reasons.add(f"TCP flag {word}: not applied")
        elif word == "fragments":
            words.append(word)
            reasons.add("fragments: not applied")
        else:
            words.append(tok.text)
            reasons.add(f"option {tok.text!r} is not supported: not applied")
        first = False
