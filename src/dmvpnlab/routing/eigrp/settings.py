"""What one EIGRP process is configured to do, as values (not IOS text).

Why a module of its own: the IOS lines (`router eigrp N`, interface `bandwidth`, `delay`,
`no ip split-horizon eigrp N`, `ip authentication mode eigrp N md5`, `key chain`...) are
read by the agent side (dmvpnlab.routing.eigrp_config), the protocol core
(`process.EigrpProcess`) runs on these values. So the core is configured the same way in
unit tests, benchmarks (hundreds of emulated neighbours) and the live agent, and the core
never sees IOS syntax. Imports nothing of dmvpnlab.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

# IOS defaults (`show interfaces`): a GigabitEthernet is 1000000 kbit/s with delay 10 usec;
# a tunnel is 100 kbit/s with delay 50000 usec (IOS 15.x).
TUNNEL_BANDWIDTH_KBPS = 100
TUNNEL_DELAY_USEC = 50000
ETHERNET_BANDWIDTH_KBPS = 1000000
ETHERNET_DELAY_USEC = 10
HELLO_SECONDS = 5.0     # every interface type we run (LAN, mGRE on a fast WAN)
HOLD_SECONDS = 15


@dataclass(frozen=True)
class EigrpKey:
    """One `key N` of a key chain: MD5 signs with the lowest usable key id."""

    key_id: int
    secret: bytes


@dataclass(frozen=True)
class EigrpInterfaceSettings:
    """One interface that `network` statements put into the process.

    `address` carries the prefix length: the connected subnet the process advertises.
    `passive`: advertised, but no hellos sent or accepted (`passive-interface`).
    `summaries`: `ip summary-address eigrp N P M` (advertised instead of what they cover,
    with a Null0 discard route at AD 5 locally). `md5_keys` empty: no authentication.
    """

    name: str
    address: IPv4Interface
    bandwidth_kbps: int = ETHERNET_BANDWIDTH_KBPS
    delay_usec: int = ETHERNET_DELAY_USEC
    mtu: int = 1500
    passive: bool = False
    split_horizon: bool = True
    next_hop_self: bool = True
    summaries: tuple[IPv4Network, ...] = ()
    hello_seconds: float = HELLO_SECONDS
    hold_seconds: int = HOLD_SECONDS
    md5_keys: tuple[EigrpKey, ...] = ()


@dataclass(frozen=True)
class EigrpSettings:
    """`router eigrp ASN` and the interfaces it runs on.

    `stub`: None (not a stub), or the set of words of `eigrp stub [connected] [summary]
    [static] [redistributed] [receive-only]` (`eigrp stub` alone means connected+summary).
    `router_id`: `eigrp router-id`, else the agent picks the highest interface address.
    `networks` are kept for `show ip protocols` ("Routing for Networks:").
    """

    asn: int
    router_id: IPv4Address
    interfaces: tuple[EigrpInterfaceSettings, ...] = ()
    networks: tuple[IPv4Network, ...] = ()
    variance: int = 1
    stub: frozenset[str] | None = None
    k_values: tuple[int, int, int, int, int] = (1, 0, 1, 0, 0)
    maximum_paths: int = 4
    distance_internal: int = 90
    distance_external: int = 170
    passive_default: bool = False

    def interface(self, name: str) -> EigrpInterfaceSettings | None:
        return next((i for i in self.interfaces if i.name == name), None)
