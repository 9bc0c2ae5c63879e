"""A router's IOS EIGRP lines -> the `EigrpSettings` the protocol core runs on.

Why here and pure: the IOS text (`router eigrp N` kept verbatim as a RouterSection, the
interface `ip ... eigrp N` lines kept verbatim in `Interface.routing_lines`, `bandwidth`,
`delay`, `key chain`) is read in one place, without files, sockets or the clock, so every
rule is a unit test, and the core never sees IOS syntax (routing/eigrp/settings.py).
Like the FRR translators (routing/frr_*.py), a line with no effect here is returned as
`"<line>: <reason>"` in `ignored`, never an error: configs come from users.

What IOS does that this follows:
- `network A.B.C.D [WILDCARD]`: an interface runs EIGRP when its primary address matches
  (address & ~wildcard == A & ~wildcard); without a wildcard, A's classful network.
- `passive-interface X` / `passive-interface default` + `no passive-interface X`.
- An interface that is `shutdown` is down: it is not in the process (its neighbours go,
  its subnet is no longer advertised), exactly as IOS takes it out on a link down.
- Router id: `eigrp router-id`, else the highest loopback address, else the highest
  address of any interface that is up.
- Defaults of bandwidth/delay per interface type (settings.py constants; loopback is
  IOS's 8000000 kbit/s, 5000 usec); `delay N` is in tens of microseconds.
- `ip authentication mode eigrp N md5` + `ip authentication key-chain eigrp N NAME`: the
  chain's keys with a key string, lowest id first (IOS signs with the lowest valid key);
  a type 7 key string (`7 0822455D0A16`) is decoded, as IOS decodes it.
Only the first `router eigrp` section is run (one process per router); others are ignored.
Imports config.model, ifnames and routing.eigrp.settings only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.config.model import Interface, RouterConfig, RouterSection
from dmvpnlab.ifnames import InterfaceNameError, canonical_ios_ifname
from dmvpnlab.routing.eigrp.settings import (
    ETHERNET_BANDWIDTH_KBPS,
    ETHERNET_DELAY_USEC,
    HELLO_SECONDS,
    HOLD_SECONDS,
    TUNNEL_BANDWIDTH_KBPS,
    TUNNEL_DELAY_USEC,
    EigrpInterfaceSettings,
    EigrpKey,
    EigrpSettings,
)

LOOPBACK_BANDWIDTH_KBPS = 8000000
LOOPBACK_DELAY_USEC = 5000
TUNNEL_MTU = 1476  # IOS's tunnel IP MTU over a 1500-byte underlay (24 bytes of GRE/IP)
LOOPBACK_MTU = 1514
_STUB_WORDS = ("connected", "summary", "static", "redistributed", "receive-only")
# IOS's type 7 "encryption": an XOR with this fixed, published string.
_TYPE7_XLAT = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


@dataclass
class EigrpTranslation:
    """What the IOS config says EIGRP must run: `settings` (None: no EIGRP) and what was ignored."""

    settings: EigrpSettings | None = None
    ignored: list[str] = field(default_factory=list)
    key_chains: dict[str, str] = field(default_factory=dict)  # interface -> chain its MD5 keys come from


def decode_type7(text: str) -> str | None:
    """The clear text of an IOS type 7 string (2 decimal digits of offset, then hex), or None."""
    if len(text) < 4 or len(text) % 2 or not (text[:2].isascii() and text[:2].isdigit()):
        return None
    try:
        data = bytes.fromhex(text[2:])
    except ValueError:
        return None
    offset = int(text[:2])
    return "".join(chr(b ^ _TYPE7_XLAT[(offset + i) % len(_TYPE7_XLAT)]) for i, b in enumerate(data))


def key_secret(key_string: str) -> str | None:
    """`key-string S`, `key-string 0 S` or `key-string 7 HEX` -> the key itself (None: unreadable)."""
    words = key_string.split(None, 1)
    if len(words) == 2 and words[0] == "7":
        return decode_type7(words[1].strip())
    if len(words) == 2 and words[0] == "0":
        return words[1]
    return key_string


def _in_range(text: str, low: int, high: int) -> bool:
    """A plain ASCII decimal of at most 10 digits in [low, high] (configs come from users)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and low <= int(text) <= high


def _wildcard_match(address: IPv4Address, network: IPv4Address, wildcard: int) -> bool:
    care = ~wildcard & 0xFFFFFFFF
    return int(address) & care == int(network) & care


def _classful_length(address: IPv4Address) -> int | None:
    first = int(address) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24 if first < 224 else None


@dataclass
class _NetworkStatement:
    address: IPv4Address
    wildcard: int
    prefix: IPv4Network | None  # for `show ip protocols`; None for a non-contiguous wildcard


def _network_statement(words: list[str]) -> _NetworkStatement | str:
    """`network A [W]` -> a statement, or the reason it is ignored."""
    try:
        address = IPv4Address(words[1])
        wildcard_address = IPv4Address(words[2]) if len(words) == 3 else None
    except ValueError:
        return "not an IPv4 address"
    if len(words) > 3:
        return "unexpected words after the wildcard"
    if wildcard_address is None:
        length = _classful_length(address)
        if length is None:
            return "not a class A, B or C address"
        prefix = IPv4Network((int(address), length), strict=False)
        return _NetworkStatement(prefix.network_address, int(prefix.hostmask), prefix)
    wildcard = int(wildcard_address)
    contiguous = not wildcard & (wildcard + 1)
    prefix = IPv4Network((int(address), 32 - wildcard.bit_length()), strict=False) if contiguous else None
    return _NetworkStatement(address, wildcard, prefix)


@dataclass
class _InterfaceLines:
    """The `ip ... eigrp ASN ...` lines of one interface for one ASN, read."""

    split_horizon: bool = True
    next_hop_self: bool = True
    summaries: list[IPv4Network] = field(default_factory=list)
    hello: float | None = None
    hold: int | None = None
    md5: bool = False
    key_chain: str | None = None


def _interface_lines(itf: Interface, asn: int, ignored: list[str]) -> _InterfaceLines:
    out = _InterfaceLines()
    for line in itf.routing_lines:
        words = line.split()
        low = [w.lower() for w in words]
        neg = low[:1] == ["no"]
        if neg:
            words, low = words[1:], low[1:]
        if "eigrp" not in low or low[:1] != ["ip"]:
            continue
        at = low.index("eigrp")
        if at + 1 >= len(low) or low[at + 1] != str(asn):
            continue  # another process's line (or a malformed one: IOS refused it)
        what, rest = low[1:at], words[at + 2:]
        where = f"interface {itf.name}: {line}"
        if what == ["split-horizon"] and not rest:
            out.split_horizon = not neg
        elif what == ["next-hop-self"] and not rest:
            out.next_hop_self = not neg
        elif what == ["summary-address"] and not neg and len(rest) in (2, 3):
            try:  # IOS takes the address with host bits and clears them
                out.summaries.append(IPv4Network(f"{rest[0]}/{rest[1]}", strict=False))
            except ValueError:
                ignored.append(f"{where}: not a prefix and mask")
            if len(rest) == 3:
                ignored.append(f"{where}: the summary's administrative distance is not modelled (5 is used)")
        elif what == ["hello-interval"] and not neg and len(rest) == 1 and _in_range(rest[0], 1, 65535):
            out.hello = float(int(rest[0]))
        elif what == ["hold-time"] and not neg and len(rest) == 1 and _in_range(rest[0], 1, 65535):
            out.hold = int(rest[0])
        elif what in (["hello-interval"], ["hold-time"]) and neg:
            setattr(out, "hello" if what == ["hello-interval"] else "hold", None)
        elif what == ["authentication", "mode"] and rest and rest[0].lower() == "md5":
            out.md5 = not neg
        elif what == ["authentication", "key-chain"] and len(rest) == 1:
            out.key_chain = None if neg else rest[0]
        else:
            ignored.append(f"{where}: not supported by this EIGRP")
    return out


def _defaults(itf: Interface) -> tuple[int, int, int]:
    """IOS's bandwidth (kbit/s), delay (usec) and IP MTU of an interface of this type."""
    if itf.is_tunnel:
        return TUNNEL_BANDWIDTH_KBPS, TUNNEL_DELAY_USEC, TUNNEL_MTU
    if itf.name.startswith("Loopback"):
        return LOOPBACK_BANDWIDTH_KBPS, LOOPBACK_DELAY_USEC, LOOPBACK_MTU
    return ETHERNET_BANDWIDTH_KBPS, ETHERNET_DELAY_USEC, 1500


def _md5_keys(config: RouterConfig, itf: Interface, lines: _InterfaceLines, ignored: list[str]) -> tuple[EigrpKey, ...]:
    if not lines.md5:
        if lines.key_chain is not None:
            ignored.append(f"interface {itf.name}: ip authentication key-chain eigrp {lines.key_chain}: "
                           "no 'ip authentication mode eigrp ... md5': not used")
        return ()
    chain = config.key_chain(lines.key_chain) if lines.key_chain else None
    if chain is None:
        ignored.append(f"interface {itf.name}: ip authentication mode eigrp md5: "
                       f"key chain {lines.key_chain or '(none)'} not defined: packets go unsigned")
        return ()
    keys = []
    for key in sorted(chain.keys, key=lambda k: k.key_id):
        secret = key_secret(key.key_string) if key.key_string is not None else None
        if secret is None:
            if key.key_string is not None:
                ignored.append(f"key chain {chain.name} key {key.key_id}: key-string not readable")
            continue
        keys.append(EigrpKey(key.key_id, secret.encode()))
    return tuple(keys)


def _router_id(config: RouterConfig) -> IPv4Address:
    up = [i for i in config.interfaces if i.address is not None and not i.shutdown]
    loopbacks = [i.address.ip for i in up if i.name.startswith("Loopback") and i.address]
    addresses = loopbacks or [i.address.ip for i in up if i.address]
    return max(addresses, default=IPv4Address("0.0.0.0"))


@dataclass
class _RouterLines:
    networks: list[_NetworkStatement] = field(default_factory=list)
    passive: set[str] = field(default_factory=set)
    not_passive: set[str] = field(default_factory=set)
    passive_default: bool = False
    values: dict[str, object] = field(default_factory=dict)


def _interface_name(text: str) -> str | None:
    try:
        return canonical_ios_ifname(text)
    except InterfaceNameError:
        return None


def _router_line(line: str, out: _RouterLines, ignored: list[str], where: str) -> None:
    words = line.split()
    low = [w.lower() for w in words]
    if not words:
        return
    neg = low[0] == "no"
    body = low[1:] if neg else low
    if body[:1] == ["network"] and len(body) >= 2:
        statement = _network_statement(words[1:] if neg else words)
        if isinstance(statement, str):
            ignored.append(f"{where}: {line}: {statement}")
        elif neg:
            out.networks = [n for n in out.networks if (n.address, n.wildcard) != (statement.address, statement.wildcard)]
        else:
            out.networks.append(statement)
    elif body[:1] == ["passive-interface"]:
        name = "".join(words[2 if neg else 1:])
        if name.lower() == "default":
            out.passive_default = not neg
        elif (canonical := _interface_name(name)) is None:
            ignored.append(f"{where}: {line}: unknown interface")
        elif neg:
            out.passive.discard(canonical)
            out.not_passive.add(canonical)
        else:
            out.not_passive.discard(canonical)
            out.passive.add(canonical)
    elif neg and body in (["variance"], ["maximum-paths"], ["eigrp", "router-id"], ["metric", "weights"]):
        key = {"variance": "variance", "maximum-paths": "maximum_paths", "eigrp": "router_id", "metric": "k_values"}
        out.values.pop(key[body[0]], None)
    elif body in (["auto-summary"],) and neg:
        pass  # IOS 15's default: nothing to do
    elif body == ["auto-summary"]:
        ignored.append(f"{where}: {line}: auto-summary is not supported (no auto-summary is used)")
    elif body[:1] == ["variance"] and len(body) == 2 and _in_range(body[1], 1, 128):
        out.values["variance"] = 1 if neg else int(body[1])
    elif body[:1] == ["maximum-paths"] and len(body) == 2 and _in_range(body[1], 1, 32):
        out.values["maximum_paths"] = 4 if neg else int(body[1])
    elif body[:2] == ["eigrp", "router-id"] and len(body) == 3:
        try:
            out.values["router_id"] = None if neg else IPv4Address(body[2])
        except ValueError:
            ignored.append(f"{where}: {line}: not an IPv4 address")
    elif body[:2] == ["eigrp", "stub"] and all(w in _STUB_WORDS for w in body[2:]):
        out.values["stub"] = None if neg else frozenset(body[2:] or ("connected", "summary"))
    elif body[:2] == ["eigrp", "log-neighbor-changes"]:
        pass  # IOS's default, and what the agent logs anyway
    elif body[:2] == ["metric", "weights"] and len(body) == 8 and all(_in_range(w, 0, 255) for w in body[2:]):
        ks = tuple(int(w) for w in body[3:])
        out.values["k_values"] = (1, 0, 1, 0, 0) if neg else ks
        if body[2] != "0":
            ignored.append(f"{where}: {line}: TOS must be 0 (taken as 0)")
    elif body[:1] == ["distance"] and len(body) == 4 and body[1] == "eigrp" and all(_in_range(w, 1, 255) for w in body[2:]):
        out.values["distance_internal"], out.values["distance_external"] = (
            (90, 170) if neg else (int(body[2]), int(body[3])))
    else:
        ignored.append(f"{where}: {line}: not supported by this EIGRP")


def eigrp_settings(config: RouterConfig) -> EigrpTranslation:
    """The EIGRP process `config` describes (the first `router eigrp N`), and what was ignored."""
    out = EigrpTranslation()
    sections = [s for s in config.router_sections if s.protocol == "eigrp"]
    chosen: RouterSection | None = None
    for section in sections:
        words = section.header.split()
        if len(words) != 3 or not _in_range(words[2], 1, 65535):
            out.ignored.append(f"{section.header}: named EIGRP mode is not supported (use router eigrp ASN)")
        elif chosen is not None:
            out.ignored.append(f"{section.header}: only one EIGRP process is run ({chosen.header} is)")
        else:
            chosen = section
    if chosen is None:
        return out
    asn = int(chosen.header.split()[2])
    lines = _RouterLines()
    for line in chosen.lines:
        _router_line(line, lines, out.ignored, chosen.header)
    interfaces = []
    for itf in config.interfaces:
        if itf.address is None or itf.shutdown:
            continue
        if not any(_wildcard_match(itf.address.ip, n.address, n.wildcard) for n in lines.networks):
            continue
        interfaces.append(_interface_settings(config, itf, asn, lines, out.ignored))
        chain = _interface_lines(itf, asn, []).key_chain
        if interfaces[-1].md5_keys and chain is not None:
            out.key_chains[itf.name] = chain
    values = dict(lines.values)
    router_id = values.pop("router_id", None) or _router_id(config)
    out.settings = EigrpSettings(
        asn=asn,
        router_id=router_id,  # type: ignore[arg-type]
        interfaces=tuple(interfaces),
        networks=tuple(n.prefix for n in lines.networks if n.prefix is not None),
        passive_default=lines.passive_default,
        **values,  # type: ignore[arg-type]
    )
    return out


def _interface_settings(config: RouterConfig, itf: Interface, asn: int, router: _RouterLines,
                        ignored: list[str]) -> EigrpInterfaceSettings:
    bandwidth, delay, mtu = _defaults(itf)
    lines = _interface_lines(itf, asn, ignored)
    passive = itf.name in router.passive or (router.passive_default and itf.name not in router.not_passive)
    settings = EigrpInterfaceSettings(
        name=itf.name,
        address=IPv4Interface(itf.address),
        bandwidth_kbps=itf.bandwidth or bandwidth,
        delay_usec=itf.delay * 10 if itf.delay is not None else delay,
        mtu=itf.ip_mtu or mtu,
        passive=passive,
        split_horizon=lines.split_horizon,
        next_hop_self=lines.next_hop_self,
        summaries=tuple(lines.summaries),
        md5_keys=_md5_keys(config, itf, lines, ignored),
    )
    if lines.hello is not None:
        settings = replace(settings, hello_seconds=lines.hello)
    if lines.hold is not None:
        settings = replace(settings, hold_seconds=lines.hold)
    return settings


__all__ = ["EigrpTranslation", "HELLO_SECONDS", "HOLD_SECONDS", "decode_type7", "eigrp_settings", "key_secret"]
