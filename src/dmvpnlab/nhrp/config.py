"""The NHRP engine's settings for one tunnel, and the IOS defaults they start from.

`NhrpEngineConfig` is what the engine runs with: addresses resolved, the password in
bytes, every default filled in. It is not the parsed `ip nhrp` lines: those are
`dmvpnlab.config.model.NhrpConfig`, which the agent translates into this. The defaults
live here once; the config model imports them (config may import nhrp, never the
reverse). Imports only `nhrp.messages` (for the CIE MTU Cisco advertises).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface

from dmvpnlab.nhrp.messages import DEFAULT_CIE_MTU

DEFAULT_HOLDTIME = 7200  # IOS default of `ip nhrp holdtime`, seconds
DEFAULT_REDIRECT_TIMEOUT = 2.0  # IOS default of `ip nhrp redirect timeout`, seconds


@dataclass
class NhsConfig:
    """One NHS the engine registers with: its tunnel address, and its NBMA when configured.

    `proto` is None for `ip nhrp nhs dynamic nbma B`: the NHS's tunnel address is learnt
    from its Registration Reply. `priority` (lower is preferred, as in IOS) and `cluster`
    only matter when the cluster has a max-connections limit (`NhrpEngineConfig`).
    """

    proto: IPv4Address | None
    nbma: IPv4Address | None = None
    multicast: bool = False
    priority: int = 0
    cluster: int = 0


@dataclass
class NhrpEngineConfig:
    """Everything `NhrpEngine` reads from the configuration of its tunnel interface."""

    interface: str
    tunnel_address: IPv4Interface
    nbma_address: IPv4Address
    holdtime: int = DEFAULT_HOLDTIME
    authentication: bytes | None = None
    network_id: int | None = None
    nhs: list[NhsConfig] = field(default_factory=list)
    static_maps: list[tuple[IPv4Address, IPv4Address]] = field(default_factory=list)
    multicast_static: list[IPv4Address] = field(default_factory=list)
    multicast_dynamic: bool = False
    redirect: bool = False
    redirect_timeout: float = DEFAULT_REDIRECT_TIMEOUT
    shortcut: bool = False
    unique: bool = True
    registration_timeout: int | None = None
    mtu: int = DEFAULT_CIE_MTU  # what CIEs advertise (IOS: 17916, whatever `ip mtu` says)
    # `ip nhrp nhs cluster N max-connections M`: register with at most M NHSs of cluster N
    # (a cluster absent here registers with all of its NHSs, as IOS does).
    nhs_max_connections: dict[int, int] = field(default_factory=dict)
    # `ip nhrp nhs fallback S`: how long a recovered, preferred NHS must keep answering
    # before the spoke returns to it; None (IOS default) returns at once.
    nhs_fallback: float | None = None
