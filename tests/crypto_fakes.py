"""A hub's IPsec state for the crypto CLI tests: real ESP SAs, real views, a stand-in node.

Why a stand-in: the CLI reads only the IPsec node's public face (`ike_sas`, `child_sas`,
`settings`, `counters`, `clear_session`, `clear_sa`), so a small object holding real
snapshots tests the renderers. The snapshots are not invented numbers: each ChildSaView's
counters and lifetimes come from a real OutboundSa/InboundSa pair (ipsec.esp) that sealed
and opened packets, one of them replayed and one of them tampered with, so the failure
counters are the ones ESP itself counted. Settings come from the config through
agent.crypto_settings, as the agent builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from types import SimpleNamespace
from typing import Any

from dmvpnlab.agent.crypto_settings import ipsec_settings
from dmvpnlab.config.parser import load_config
from dmvpnlab.ipsec.esp import EspError, InboundSa, OutboundSa
from dmvpnlab.ipsec.esp_transforms import key_lengths
from dmvpnlab.ipsec.settings import IpsecSettings
from dmvpnlab.ipsec.views import ChildSaView, IkeSaView
from crypto_configs import SEED_CRYPTO, protected_hub

HUB = IPv4Address("203.0.113.1")
SPOKE1 = IPv4Address("100.64.1.1")
SPOKE2 = IPv4Address("100.64.2.1")
TRANSFORM = "esp-aes 256 esp-sha256-hmac"

HUB_CONFIG = protected_hub(str(HUB), crypto=SEED_CRYPTO + "crypto isakmp keepalive 10 3 periodic\n")


def esp_pair(spi_out: int, spi_in: int, sent: int, received: int, *, clock: Any = None,
             bad: bool = False) -> tuple[OutboundSa, InboundSa]:
    """Our outbound SA after `sent` packets, our inbound SA after `received` good ones
    (plus, with `bad`, one replayed and one with a broken ICV, both refused and counted)."""
    keymat = bytes(range(key_lengths(TRANSFORM).total))
    kwargs = {"clock": clock} if clock is not None else {}
    out = OutboundSa(TRANSFORM, spi_out, keymat, **kwargs)
    for _ in range(sent):
        out.seal(b"\x45" + bytes(63))
    peer_out = OutboundSa(TRANSFORM, spi_in, keymat, **kwargs)  # the peer's half, sending to us
    inbound = InboundSa(TRANSFORM, spi_in, keymat, **kwargs)
    packets = [peer_out.seal(b"\x45" + bytes(63)) for _ in range(received)]
    for packet in packets:
        inbound.open(packet)
    if bad:
        fresh = peer_out.seal(b"\x45" + bytes(63))
        for packet in (packets[0], fresh[:-1] + bytes([fresh[-1] ^ 1])):  # a replay, a broken ICV
            try:
                inbound.open(packet)
            except EspError:
                pass
    return out, inbound


def child_view(peer: IPv4Address, out: OutboundSa, inbound: InboundSa, conn: int, **changes: Any) -> ChildSaView:
    view = ChildSaView(
        interface="Tunnel0", profile="DMVPN_PROFILE", local=HUB, peer=peer, peer_port=500,
        spi_in=inbound.spi, spi_out=out.spi, transform=TRANSFORM, mode="Transport", nat_t=False,
        conn_id_in=conn, conn_id_out=conn + 1, pfs_group=None,
        lifetime_left=inbound.remaining(), lifetime_left_out=out.remaining(),
        replay_detection=inbound.replay_detection, replay_window=64,
        counters_in=inbound.counters, counters_out=out.counters, state="ACTIVE(ACTIVE)")
    return replace(view, **changes)


def ike_view(peer: IPv4Address, conn: int, **changes: Any) -> IkeSaView:
    """The hub answered: IOS puts the responder (us) in dst, the initiator (the spoke) in src."""
    view = IkeSaView(dst=HUB, src=peer, state="QM_IDLE", conn_id=conn, status="ACTIVE", initiator=False,
                     encryption="aes", hash="sha256", auth="psk", group=14, lifetime_left=86000, dpd=True)
    return replace(view, **changes)


@dataclass
class FakeIpsecNode:
    """The IPsec node's public face over fixed snapshots; `clear_*` remove what they clear."""

    settings: IpsecSettings
    ike: list[IkeSaView] = field(default_factory=list)
    children: list[ChildSaView] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    cleared: list[tuple[str, IPv4Address | None]] = field(default_factory=list)

    def ike_sas(self) -> list[IkeSaView]:
        return list(self.ike)

    def child_sas(self) -> list[ChildSaView]:
        return list(self.children)

    def clear_session(self, peer: IPv4Address | None) -> int:
        self.cleared.append(("session", peer))
        before = len(self.ike) + len(self.children)
        self.ike = [s for s in self.ike if peer is not None and peer not in (s.src, s.dst)]
        self.children = [c for c in self.children if peer is not None and c.peer != peer]
        return before - len(self.ike) - len(self.children)

    def clear_sa(self, peer: IPv4Address | None) -> int:
        self.cleared.append(("sa", peer))
        before = len(self.children)
        self.children = [c for c in self.children if peer is not None and c.peer != peer]
        return before - len(self.children)


def hub_agent() -> Any:
    """A hub with two spokes: spoke1 UP-ACTIVE with traffic (and two bad packets), spoke2 UP-IDLE."""
    config = load_config(HUB_CONFIG)
    settings = ipsec_settings(config, "Tunnel0", HUB)
    assert settings is not None
    out, inbound = esp_pair(0x1A2B3C4D, 0x5E6F7081, sent=10, received=8, bad=True, clock=lambda: 1000.0)
    node = FakeIpsecNode(settings, ike=[ike_view(SPOKE1, 1001), ike_view(SPOKE2, 1002)],
                         children=[child_view(SPOKE1, out, inbound, 2001)])
    return SimpleNamespace(config=config, ipsec=node, tunnel=None, debug_sinks=[], node="hub")
