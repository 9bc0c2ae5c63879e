"""What the IKE engine runs with: the `crypto isakmp` / `crypto ipsec` config as values.

The config model keeps what the user wrote (words, None where a line is absent); the
engine wants values it can negotiate with, the way `nhrp.config.NhrpEngineConfig` is to
NHRP. The agent builds an `IpsecSettings` from the router config and the tunnel's
`tunnel protection ipsec profile`; the engine never reads the config model.

IOS's defaults live here once:
- IKE (phase 1) lifetime 86400 s; IPsec (phase 2) 3600 s and 4,608,000 KB.
- With no `crypto isakmp policy` configured, IOS 15.x proposes its default policies
  (`show crypto isakmp default policy`): `DEFAULT_POLICIES` below, in that order.
- A profile with no transform set uses IOS's `default` transform sets
  (esp-aes esp-sha-hmac, then esp-3des esp-sha-hmac), transport mode.

Imports esp_transforms only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from dmvpnlab.ipsec.esp_transforms import EspTransform, parse_transform

IKE_DEFAULT_LIFETIME = 86400
IPSEC_DEFAULT_LIFETIME_SECONDS = 3600
IPSEC_DEFAULT_LIFETIME_KILOBYTES = 4_608_000
IKE_PORT = 500
NAT_T_PORT = 4500

Encryption = Literal["aes", "3des", "des"]
Hash = Literal["md5", "sha", "sha256", "sha384", "sha512"]


@dataclass(frozen=True)
class IkePolicy:
    """One `crypto isakmp policy N`: what phase 1 proposes (one transform per policy)."""

    priority: int
    encryption: Encryption = "aes"
    key_bits: int | None = None  # aes: 128 (IOS's "aes" alone), 192, 256; None otherwise
    hash: Hash = "sha"
    group: int = 1
    lifetime: int = IKE_DEFAULT_LIFETIME
    authentication: Literal["pre-share", "rsa-sig", "rsa-encr"] = "pre-share"


#: `show crypto isakmp default policy` of IOS 15.x: the suites proposed when no policy is
#: configured. IOS lists eight (65507-65514), alternating rsa-sig and pre-share; only
#: the pre-share ones can complete with keys, so only they are proposed here.
DEFAULT_POLICIES: tuple[IkePolicy, ...] = (
    IkePolicy(65508, "aes", 128, "sha", 5),
    IkePolicy(65510, "aes", 128, "md5", 5),
    IkePolicy(65512, "3des", None, "sha", 2),
    IkePolicy(65514, "3des", None, "md5", 2),
)


@dataclass(frozen=True)
class PresharedKey:
    """`crypto isakmp key K address A [M]` or a keyring's `pre-shared-key address A [M] key K`.

    `peer` is a network: a host (/32) when no mask was given, 0.0.0.0/0 for the wildcard.
    The most specific match wins (IOS looks up the host key first, then the wildcards)."""

    key: bytes
    peer: IPv4Network


@dataclass(frozen=True)
class Dpd:
    """`crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]` (RFC 3706).

    on-demand (IOS's default): R-U-THERE only when traffic was sent but nothing came
    back for SECONDS; periodic: every SECONDS. RETRY defaults to 2 s; the peer is
    declared dead after 5 unanswered retries, as IOS does."""

    interval: int
    retry: int = 2
    periodic: bool = False


@dataclass(frozen=True)
class Proposal:
    """One transform set as Quick Mode proposes it."""

    name: str
    transform: EspTransform
    mode: Literal["transport", "tunnel"] = "tunnel"


DEFAULT_PROPOSALS: tuple[Proposal, ...] = (
    Proposal("#$!default_transform_set_1", parse_transform("esp-aes esp-sha-hmac"), "transport"),
    Proposal("#$!default_transform_set_0", parse_transform("esp-3des esp-sha-hmac"), "transport"),
)


@dataclass(frozen=True)
class ChildPolicy:
    """The `crypto ipsec profile` of `tunnel protection ipsec profile NAME`: phase 2."""

    profile: str
    proposals: tuple[Proposal, ...] = DEFAULT_PROPOSALS
    pfs_group: int | None = None  # `set pfs groupN`; None: no PFS
    lifetime_seconds: int = IPSEC_DEFAULT_LIFETIME_SECONDS
    lifetime_kilobytes: int = IPSEC_DEFAULT_LIFETIME_KILOBYTES
    shared: bool = False  # `tunnel protection ... shared`


@dataclass(frozen=True)
class IpsecSettings:
    """Everything one protected tunnel negotiates with."""

    local_address: IPv4Address
    child: ChildPolicy
    policies: tuple[IkePolicy, ...] = ()  # empty: DEFAULT_POLICIES
    keys: tuple[PresharedKey, ...] = ()
    dpd: Dpd | None = None
    nat_keepalive: int | None = None  # `crypto isakmp nat keepalive SECONDS`
    interface: str = "Tunnel0"
    extra: dict[str, object] = field(default_factory=dict, compare=False)
    # IOS proposes its default policies only when no `crypto isakmp policy` is configured;
    # configured policies that are all unusable here (rsa-sig) leave none: False then.
    use_default_policies: bool = True

    @property
    def effective_policies(self) -> tuple[IkePolicy, ...]:
        """Configured policies by priority (lowest number first), or IOS's defaults."""
        if self.policies:
            return tuple(sorted(self.policies, key=lambda p: p.priority))
        return DEFAULT_POLICIES if self.use_default_policies else ()

    def key_for(self, peer: IPv4Address) -> bytes | None:
        """The pre-shared key for `peer`: the longest matching `address` wins."""
        best: PresharedKey | None = None
        for candidate in self.keys:
            if peer in candidate.peer and (best is None or candidate.peer.prefixlen > best.peer.prefixlen):
                best = candidate
        return best.key if best is not None else None
