"""Typed model of an IOS router configuration.

The parser (`parser.py` and its per-mode handler modules) fills these dataclasses from IOS text, the renderer
(`render.py`) turns them back into a `show running-config`, and the agent reads them to
decide what to do. Only lines that take effect are modelled as fields; everything else a
user's config holds (banners, `line vty`, policy-maps, ...) is kept verbatim so that
`show running-config` gives it back as the user wrote it.

Dataclass equality is the contract of the round trip: `parse(render(cfg)) == cfg`.
Nothing here knows about Linux, the lab or Mininet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Literal

from dmvpnlab.ifnames import is_subinterface
from dmvpnlab.nhrp.config import DEFAULT_HOLDTIME

DEFAULT_VERSION = "15.9"
DEFAULT_HOSTNAME = "Router"

TunnelMode = Literal["gre multipoint", "gre ip"]

# IOS lists interfaces by type in this order, then by number.
_IF_TYPE_ORDER = ("Loopback", "Tunnel", "Ethernet", "FastEthernet", "GigabitEthernet", "Vlan")


_IF_TYPE = re.compile(r"[A-Za-z-]+")
_IF_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII, bounded: never a slow int()


def _sort_key(name: str, order: tuple[str, ...]) -> tuple[int, list[int], str]:
    kind = _IF_TYPE.match(name)
    prefix = kind.group(0) if kind else name
    rank = order.index(prefix) if prefix in order else len(order)
    numbers = [int(n) for n in _IF_NUMBER.findall(name)]
    return rank, numbers, name


def interface_sort_key(name: str) -> tuple[int, list[int], str]:
    """`show running-config` order: Loopbacks, Tunnels, the Ethernet kinds, then Vlans;
    numerically within a type, a subinterface right after its main interface
    (GigabitEthernet0/1, GigabitEthernet0/1.10, GigabitEthernet0/2)."""
    return _sort_key(name, _IF_TYPE_ORDER)


# `show ip interface brief` lists interfaces as IOS created them: the hardware first
# (Ethernet kinds, each followed by its subinterfaces), the switch's Vlans, then the
# Loopbacks and Tunnels the configuration made.
_BRIEF_TYPE_ORDER = ("Ethernet", "FastEthernet", "GigabitEthernet", "Vlan", "Loopback", "Tunnel")


def brief_sort_key(name: str) -> tuple[int, list[int], str]:
    """`show ip interface brief` (and `show interfaces`) order, see `_BRIEF_TYPE_ORDER`."""
    return _sort_key(name, _BRIEF_TYPE_ORDER)


@dataclass
class NhrpNhs:
    """`ip nhrp nhs A [nbma B] [multicast] [priority N] [cluster N]` or `ip nhrp nhs dynamic nbma B`.

    `address` is None for `dynamic` (the NHS's tunnel address is learnt from its reply).
    """

    address: IPv4Address | None
    nbma: IPv4Address | None = None
    multicast: bool = False
    priority: int | None = None
    cluster: int | None = None


@dataclass
class NhrpMap:
    """`ip nhrp map TUNNEL-ADDR NBMA-ADDR`: a static NHRP cache entry."""

    address: IPv4Address
    nbma: IPv4Address


@dataclass
class NhrpConfig:
    """The `ip nhrp ...` lines of one tunnel interface."""

    network_id: int | None = None
    maps: list[NhrpMap] = field(default_factory=list)
    # `ip nhrp map multicast dynamic` is the string "dynamic", otherwise an NBMA address.
    multicast_maps: list[IPv4Address | Literal["dynamic"]] = field(default_factory=list)
    nhs: list[NhrpNhs] = field(default_factory=list)
    holdtime: int | None = None
    authentication: str | None = None
    redirect: bool = False
    redirect_timeout: int | None = None
    shortcut: bool = False
    registration_no_unique: bool = False
    registration_timeout: int | None = None
    # `ip nhrp nhs cluster N max-connections M`, cluster -> M; `ip nhrp nhs fallback S`.
    nhs_max_connections: dict[int, int] = field(default_factory=dict)
    nhs_fallback: int | None = None

    @property
    def effective_holdtime(self) -> int:
        """The holdtime IOS uses when none is configured (7200 s)."""
        return self.holdtime if self.holdtime is not None else DEFAULT_HOLDTIME


@dataclass
class TunnelProtection:
    """`tunnel protection ipsec profile NAME [shared]`."""

    profile: str
    shared: bool = False


@dataclass
class Interface:
    """One `interface X` section; tunnel and NHRP fields only matter on TunnelN."""

    name: str
    description: str | None = None
    address: IPv4Interface | None = None
    secondary_addresses: list[IPv4Interface] = field(default_factory=list)
    shutdown: bool = False
    bandwidth: int | None = None
    delay: int | None = None  # `delay N`: tens of microseconds, as IOS takes it
    ip_mtu: int | None = None
    tcp_adjust_mss: int | None = None
    mtu: int | None = None  # `mtu N`: the L2 MTU of an Ethernet interface (kernel link MTU)
    dhcp: bool = False  # `ip address dhcp`: the address comes from a DHCP server in the lab
    # `encapsulation dot1Q VID [native]` on a subinterface (GigabitEthernet0/1.10)
    dot1q_vlan: int | None = None
    dot1q_native: bool = False
    nat: Literal["inside", "outside"] | None = None  # `ip nat inside|outside`
    # `ip access-group NAME|NUMBER in|out`, at most one per direction as on IOS
    access_group_in: str | None = None
    access_group_out: str | None = None
    # Tunnel: source is a canonical interface name or an address.
    tunnel_source: str | IPv4Address | None = None
    tunnel_mode: TunnelMode | None = None
    tunnel_destination: IPv4Address | None = None
    tunnel_key: int | None = None
    tunnel_protection: TunnelProtection | None = None
    nhrp: NhrpConfig = field(default_factory=NhrpConfig)
    # Interface-level routing protocol lines (`ip ospf network ...`, `no ip next-hop-self
    # eigrp 1`...) kept verbatim for the FRR translator.
    routing_lines: list[str] = field(default_factory=list)
    # Lines we do not model, verbatim (without the section indent), in input order.
    extra_lines: list[str] = field(default_factory=list)

    @property
    def is_tunnel(self) -> bool:
        return self.name.startswith("Tunnel")

    @property
    def is_loopback(self) -> bool:
        return self.name.startswith("Loopback")

    @property
    def is_subinterface(self) -> bool:
        """GigabitEthernet0/1.10 and the like (its VLAN is `dot1q_vlan`)."""
        return is_subinterface(self.name)

    @property
    def parent(self) -> str:
        """The main interface of a subinterface (GigabitEthernet0/1 for GigabitEthernet0/1.10),
        else the interface's own name."""
        return self.name.rsplit(".", 1)[0] if self.is_subinterface else self.name

    @property
    def effective_tunnel_mode(self) -> TunnelMode:
        """IOS's default tunnel mode is point-to-point GRE."""
        return self.tunnel_mode or "gre ip"


@dataclass
class StaticRoute:
    """`ip route PREFIX MASK {NEXT-HOP | INTERFACE [NEXT-HOP]} [DISTANCE] [tag N] [permanent] [name X] [track N]`."""

    prefix: IPv4Network
    next_hop: IPv4Address | None = None
    interface: str | None = None
    distance: int | None = None
    tag: int | None = None
    permanent: bool = False
    name: str | None = None
    track: int | None = None


@dataclass
class AccessListEntry:
    """One permit/deny line of an ACL, parsed into what a filter needs.

    Standard ACLs set only `source`; extended ones set `protocol` ("ip", "icmp", "tcp",
    "udp", "gre", "esp", "ahp", "ospf", "eigrp", or a number as text), `source`,
    `destination` and optional ports (`eq N` / `range A B` as (low, high)). A network is
    the ACL's address + wildcard turned into a prefix when the wildcard is contiguous;
    `any` is 0.0.0.0/0, `host A` a /32. `sequence` is the IOS sequence number (10, 20 ...).
    `text` is the line after the sequence as IOS prints it (keywords in full, `host A`,
    `any`, port names such as `www`, and the options we do not model, e.g. ICMP types
    `echo-reply`, kept in place), for `show access-lists` and the running-config.
    `not_applied` says why a filter cannot use the entry (a non-contiguous wildcard, an
    option we do not model); the line is kept all the same. `remarks` are the `remark`
    lines written just before the entry.
    """

    action: Literal["permit", "deny"]
    source: IPv4Network
    protocol: str | None = None
    destination: IPv4Network | None = None
    source_ports: tuple[int, int] | None = None
    destination_ports: tuple[int, int] | None = None
    established: bool = False
    log: bool = False
    sequence: int | None = None
    text: str = ""
    not_applied: str | None = None
    remarks: list[str] = field(default_factory=list)


@dataclass
class AccessList:
    """`access-list N ...` lines (1-99/1300-1999 standard, 100-199/2000-2699 extended) or
    `ip access-list standard|extended NAME` and its entries, in order."""

    name: str  # the number as text for numbered ACLs
    kind: Literal["standard", "extended"]
    entries: list[AccessListEntry] = field(default_factory=list)
    numbered: bool = True
    extra_lines: list[str] = field(default_factory=list)  # `remark ...` and what we do not model


@dataclass
class NatRule:
    """`ip nat inside source list ACL interface IF overload` (PAT to an interface's address)
    or `ip nat inside source static LOCAL GLOBAL` (one-to-one)."""

    kind: Literal["list", "static"]
    access_list: str | None = None
    interface: str | None = None  # canonical IOS name
    overload: bool = False
    local: IPv4Address | None = None
    global_address: IPv4Address | None = None


@dataclass
class DhcpPool:
    """`ip dhcp pool NAME`: `network A M`, `default-router A`, `dns-server A`, `lease D [H [M]]`;
    plus `ip dhcp excluded-address LOW [HIGH]` kept on the RouterConfig."""

    name: str
    network: IPv4Network | None = None
    default_routers: list[IPv4Address] = field(default_factory=list)
    dns_servers: list[IPv4Address] = field(default_factory=list)
    lease_seconds: int | None = None
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class IsakmpPolicy:
    """`crypto isakmp policy N`; defaults are IOS's (shown only when changed)."""

    priority: int
    encryption: str = "des"
    hash: str = "sha"
    authentication: str = "rsa-sig"
    group: int = 1
    lifetime: int = 86400
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class IsakmpKey:
    """`crypto isakmp key [0|6] KEY address A [M] [no-xauth]`."""

    key: str
    peer: IPv4Network
    encryption_type: int | None = None
    no_xauth: bool = False


@dataclass
class IsakmpKeepalive:
    """`crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]`."""

    seconds: int
    retry: int | None = None
    mode: Literal["periodic", "on-demand"] | None = None


@dataclass
class KeyringKey:
    """A keyring's `pre-shared-key address A [M] key [0|6] K`: the same facts as an `IsakmpKey`."""

    key: str
    peer: IPv4Network
    encryption_type: int | None = None


@dataclass
class Keyring:
    """`crypto keyring NAME`: named pre-shared keys, optionally bound to a local address.

    `local_address` is `local-address A|INTERFACE` (an address or a canonical interface
    name): IOS uses the keyring only for negotiations from that local address.
    """

    name: str
    keys: list[KeyringKey] = field(default_factory=list)
    local_address: str | IPv4Address | None = None
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class TransformSet:
    """`crypto ipsec transform-set NAME T1 [T2 [T3]]` + `mode transport|tunnel`."""

    name: str
    transforms: list[str]
    mode: Literal["transport", "tunnel"] = "tunnel"
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class IpsecProfile:
    """`crypto ipsec profile NAME` + `set transform-set`, `set pfs`, `set security-association lifetime`."""

    name: str
    transform_sets: list[str] = field(default_factory=list)
    pfs: str | None = None
    lifetime_seconds: int | None = None
    lifetime_kilobytes: int | None = None
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class RouterSection:
    """`router ospf|eigrp|bgp|rip ...` kept as text for the FRR translator.

    `lines` are the body lines with the section's one-space indent removed (deeper
    indents, e.g. BGP address families, are kept relative to it).
    """

    header: str
    lines: list[str] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        return self.header.split()[1]


@dataclass
class KeyChainKey:
    """` key N` of a key chain and its `  key-string S` (kept as written: `7 0822...` too)."""

    key_id: int
    key_string: str | None = None
    extra_lines: list[str] = field(default_factory=list)  # accept-lifetime, send-lifetime ...


@dataclass
class KeyChain:
    """`key chain NAME`: the keys EIGRP's `ip authentication key-chain eigrp N NAME` signs with."""

    name: str
    keys: list[KeyChainKey] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)

    def key(self, key_id: int) -> KeyChainKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


@dataclass
class Username:
    """`username NAME [privilege N] [secret|password [0|5|7|8|9] X]`: the rest of the line is
    kept as given (`args`, rendered back as it is); the properties read from it what the
    SSH login needs.

    `secret_kind` is "secret" or "password"; `encryption` the type digit (None when none
    was given: clear text, like type 0); `secret` the text after it.
    """

    name: str
    args: str

    def _words(self) -> list[str]:
        return self.args.split()

    @property
    def privilege(self) -> int | None:
        words = self._words()
        for at, word in enumerate(words[:-1]):
            if word.lower() == "privilege" and words[at + 1].isascii() and words[at + 1].isdigit():
                return int(words[at + 1]) if len(words[at + 1]) <= 2 else None
        return None

    def _secret_parts(self) -> tuple[Literal["secret", "password"] | None, int | None, str | None]:
        words = self._words()
        for at, word in enumerate(words):
            if word.lower() in ("secret", "password") and at + 1 < len(words):
                kind: Literal["secret", "password"] = "secret" if word.lower() == "secret" else "password"
                rest = words[at + 1:]
                if len(rest) > 1 and rest[0] in ("0", "4", "5", "6", "7", "8", "9"):
                    return kind, int(rest[0]), " ".join(rest[1:])
                return kind, None, " ".join(rest)
        return None, None, None

    @property
    def secret_kind(self) -> Literal["secret", "password"] | None:
        return self._secret_parts()[0]

    @property
    def encryption(self) -> int | None:
        return self._secret_parts()[1]

    @property
    def secret(self) -> str | None:
        return self._secret_parts()[2]


@dataclass
class RawBlock:
    """Global lines we do not model (a line and its indented sub-lines, or a banner)."""

    lines: list[str]


@dataclass
class RouterConfig:
    """A whole router configuration."""

    hostname: str = DEFAULT_HOSTNAME
    version: str = DEFAULT_VERSION
    enable_secret: str | None = None  # the rest of `enable secret ...` as given (`5 $1$...` too)
    enable_password: str | None = None  # the rest of `enable password ...` as given
    usernames: list[Username] = field(default_factory=list)
    isakmp_policies: list[IsakmpPolicy] = field(default_factory=list)
    isakmp_keys: list[IsakmpKey] = field(default_factory=list)
    isakmp_keepalive: IsakmpKeepalive | None = None
    isakmp_nat_keepalive: int | None = None  # `crypto isakmp nat keepalive SECONDS`
    keyrings: list[Keyring] = field(default_factory=list)
    key_chains: list[KeyChain] = field(default_factory=list)
    # `crypto ipsec security-association lifetime seconds|kilobytes N`: the global
    # phase-2 lifetimes a profile without its own `set security-association lifetime` uses.
    ipsec_lifetime_seconds: int | None = None
    ipsec_lifetime_kilobytes: int | None = None
    transform_sets: list[TransformSet] = field(default_factory=list)
    ipsec_profiles: list[IpsecProfile] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    router_sections: list[RouterSection] = field(default_factory=list)
    static_routes: list[StaticRoute] = field(default_factory=list)
    ip_routing: bool = True  # `no ip routing` makes the router a host (then `ip default-gateway` applies)
    default_gateway: IPv4Address | None = None  # `ip default-gateway A`
    domain_name: str | None = None  # `ip domain-name X` (also `ip domain name X`)
    banner_motd: str | None = None  # the text of `banner motd ^C...^C`, shown at SSH/CLI login
    access_lists: list[AccessList] = field(default_factory=list)
    nat_rules: list[NatRule] = field(default_factory=list)
    dhcp_pools: list[DhcpPool] = field(default_factory=list)
    dhcp_excluded: list[tuple[IPv4Address, IPv4Address]] = field(default_factory=list)
    # Unknown global blocks seen before the first interface/crypto/router/route line,
    # and after it: rendered at those two places of `show running-config`.
    extra_head: list[RawBlock] = field(default_factory=list)
    extra_tail: list[RawBlock] = field(default_factory=list)

    def interface(self, name: str) -> Interface | None:
        """The interface called `name` (canonical IOS name), or None."""
        for itf in self.interfaces:
            if itf.name == name:
                return itf
        return None

    @property
    def tunnels(self) -> list[Interface]:
        return [i for i in self.interfaces if i.is_tunnel]

    def access_list(self, name: str) -> AccessList | None:
        return next((a for a in self.access_lists if a.name == name), None)

    def isakmp_policy(self, priority: int) -> IsakmpPolicy | None:
        return next((p for p in self.isakmp_policies if p.priority == priority), None)

    def key_chain(self, name: str) -> KeyChain | None:
        return next((k for k in self.key_chains if k.name == name), None)

    def keyring(self, name: str) -> Keyring | None:
        return next((k for k in self.keyrings if k.name == name), None)

    def transform_set(self, name: str) -> TransformSet | None:
        return next((t for t in self.transform_sets if t.name == name), None)

    def ipsec_profile(self, name: str) -> IpsecProfile | None:
        return next((p for p in self.ipsec_profiles if p.name == name), None)
