"""Read-only snapshots of IPsec state, as the `show crypto ...` commands need them.

The IKE engine answers `ike_sas()` with `IkeSaView`s, the SA database answers
`child_sas()` with `ChildSaView`s; the agent's IPsec node (`agent.ipsec`) hands both to
the CLI, which renders IOS's formats from these fields and nothing else. Keeping the
snapshot types here lets ipsec/, agent/ and cli/ agree without importing each other.

Imports esp (for the counters type) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from dmvpnlab.ipsec.esp import EspCounters


@dataclass(frozen=True)
class IkeSaView:
    """One line of `show crypto isakmp sa` (+ what `detail` adds)."""

    dst: IPv4Address           # IOS: the responder's address
    src: IPv4Address           # IOS: the initiator's address
    state: str                 # MM_NO_STATE, MM_SA_SETUP, MM_KEY_EXCH, QM_IDLE, MM_NO_STATE (deleted)...
    conn_id: int
    status: str                # ACTIVE, or "" while negotiating / DELETED
    initiator: bool
    encryption: str = ""       # detail: "aes", "aes:256", "3des"
    hash: str = ""             # detail: "sha", "sha256", "md5"
    auth: str = "psk"          # detail: "psk"
    group: int = 0             # detail: DH group
    lifetime_left: int = 0     # detail: seconds left ("Lifetime" hh:mm:ss)
    nat_t: bool = False        # detail: "Cap." column gets N (NAT-T)
    dpd: bool = False          # detail: "Cap." column gets D (DPD)
    cookie_i: bytes = b""
    cookie_r: bytes = b""


@dataclass(frozen=True)
class ChildSaView:
    """One peer block of `show crypto ipsec sa` (inbound and outbound SA of one pair)."""

    interface: str             # Tunnel0
    profile: str               # the ipsec profile (crypto map tag "Tunnel0-head-0")
    local: IPv4Address
    peer: IPv4Address
    peer_port: int             # 500, or 4500 with NAT-T
    spi_in: int
    spi_out: int
    transform: str             # "esp-aes esp-sha-hmac" (the IOS words)
    mode: str                  # "Transport" / "Tunnel" as IOS prints them
    nat_t: bool
    conn_id_in: int
    conn_id_out: int
    pfs_group: int | None
    lifetime_left: tuple[int, int]   # inbound SA: (kilobytes, seconds) remaining
    lifetime_left_out: tuple[int, int]
    replay_detection: bool
    replay_window: int
    counters_in: EspCounters = field(default_factory=EspCounters)
    counters_out: EspCounters = field(default_factory=EspCounters)
    state: str = "ACTIVE"      # ACTIVE, or "ACTIVE(ACTIVE)" etc.; old SAs after rekey: "ACTIVE" until deleted
