"""What the IKE engine tells the agent: datagrams to send and events to act on.

The engine (`ikev1_engine.IkeEngine`) is sans-I/O like `nhrp.engine.NhrpEngine`: every
call appends to `engine.outbox` (`Datagram`s) and `engine.events` (the classes below),
and the agent drains both after each call. The agent installs ESP SAs on `ChildSaUp`,
removes them on `ChildSaDown`, writes Wireshark's key files from `IkeSaUp` and
`ChildSaUp`, and logs/counts `IkeRefused`.

Imports esp_transforms only.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

from dmvpnlab.ipsec.esp_transforms import EspTransform


@dataclass(frozen=True)
class Datagram:
    """One UDP payload to send from `local_port` (500 or 4500) to `peer`:`port`.

    `data` is exactly the UDP payload: on port 4500 it already starts with the 4-byte
    non-ESP marker (RFC 3948 2.2), and a NAT keepalive is the single byte 0xFF."""

    peer: IPv4Address
    port: int
    local_port: int
    data: bytes


@dataclass(frozen=True)
class IkeSaUp:
    """Phase 1 (Main Mode) completed: an ISAKMP SA in QM_IDLE with `peer`.

    The keys are what Wireshark's `ikev1_decryption_table` needs (initiator cookie,
    encryption key = the first bytes of the expanded SKEYID_e)."""

    peer: IPv4Address
    cookie_i: bytes
    cookie_r: bytes
    encryption_key: bytes
    conn_id: int
    initiator: bool
    nat_t: bool  # a NAT was detected (NAT-D): IKE and ESP moved to UDP 4500


@dataclass(frozen=True)
class IkeSaDown:
    """The ISAKMP SA with `peer` is gone (expired, deleted by either side, DPD, clear)."""

    peer: IPv4Address
    conn_id: int
    reason: str


@dataclass(frozen=True)
class ChildSaUp:
    """Quick Mode completed: one pair of ESP SAs with `peer`.

    `spi_in`/`keymat_in` are for packets from the peer (the SPI we chose), `spi_out`/
    `keymat_out` for packets to it. ESP goes to `peer`:`peer_port` in UDP (RFC 3948)
    when `nat_t`, else as IP protocol 50. `replaces` is the `spi_in` of the SA pair this
    one rekeys (the agent keeps the old inbound SA until it expires or is deleted, and
    sends on the new one at once)."""

    peer: IPv4Address
    transform: EspTransform
    mode: Literal["transport", "tunnel"]
    spi_in: int
    keymat_in: bytes
    spi_out: int
    keymat_out: bytes
    lifetime_seconds: int
    lifetime_kilobytes: int
    nat_t: bool
    peer_port: int
    initiator: bool
    pfs_group: int | None = None
    replaces: int | None = None


@dataclass(frozen=True)
class ChildSaLarval:
    """Quick Mode responder: QM2 went out, the initiator's QM3 has not arrived yet.

    The keys of both directions are known at QM2, and the initiator starts sealing on
    the new SA as soon as it has sent QM3, so its first ESP can arrive before QM3 is
    read (they come on different sockets; QM3 may also be lost and retransmitted). IOS
    installs the inbound SA when it sends QM2 for this reason. The agent installs only
    the inbound SA of `child` (it opens, it never seals); the `ChildSaUp` with the same
    `spi_in` follows at QM3 and completes the pair, or a `ChildSaDown` (reason "quick
    mode unfinished") removes it when QM3 never comes."""

    child: ChildSaUp


@dataclass(frozen=True)
class ChildSaDown:
    """An ESP SA pair is gone: deleted by the peer, expired, or cleared."""

    peer: IPv4Address
    spi_in: int
    spi_out: int
    reason: str


@dataclass(frozen=True)
class IkeRefused:
    """A negotiation step refused, with the reason IOS's debug and counters name.

    `reason` is one of REFUSAL_REASONS; `detail` is the log line's free text."""

    peer: IPv4Address
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class PeerDead:
    """DPD: the peer did not answer R-U-THERE; its SAs are being removed."""

    peer: IPv4Address


REFUSAL_REASONS = (
    "no proposal chosen",      # phase 1 or phase 2 offers nothing we accept
    "no pre-shared key",       # no key configured for that address
    "hash mismatch",           # bad PSK: HASH_I/HASH_R or QM hash does not verify
    "malformed",               # ISAKMP decode error, or a payload missing or out of place
    "invalid cookie",          # not an SA we know, not a new Main Mode
    "retransmit limit",        # no answer after the last retransmission
    "unsupported",             # aggressive mode, certificates, XAUTH/mode-config required
)

IkeEvent = IkeSaUp | IkeSaDown | ChildSaUp | ChildSaLarval | ChildSaDown | IkeRefused | PeerDead
