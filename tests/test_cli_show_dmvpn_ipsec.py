"""`show dmvpn` with `tunnel protection`: a hub the spoke has not registered with yet
shows where its crypto stands, IKE -> IPSEC -> NHRP, before NHRP brings it UP.

The spoke is the CLI's fake agent over a real NHRP engine that has sent its first
registration and heard nothing; its `ipsec` is a real IpsecNode (real IKE engine, SA
database, ESP transport with stand-in sockets).
"""

from __future__ import annotations

import time
from ipaddress import IPv4Address
from types import SimpleNamespace

from dmvpnlab.agent.core import nhrp_engine_config
from dmvpnlab.agent.crypto_settings import ipsec_settings
from dmvpnlab.agent.ipsec_node import IpsecNode, new_engine
from dmvpnlab.config.parser import parse_config
from dmvpnlab.cli.show_dmvpn import dmvpn_data, render_dmvpn
from dmvpnlab.ipsec.sadb import SaDatabase
from dmvpnlab.nhrp.engine import NhrpEngine
from dmvpnlab.tunnel.esp_transport import EspTransport
from crypto_configs import PROTECTION, SEED_CRYPTO
from esp_pairs import child_sa_pair
from test_cli_fakes import FakeAgent, spoke_config_text
from test_tunnel_esp_transport import FakeRaw

SPOKE_NBMA, HUB_NBMA = IPv4Address("100.64.1.1"), IPv4Address("203.0.113.1")


def protected_spoke() -> FakeAgent:
    text = SEED_CRYPTO + spoke_config_text(1, 3).replace(" tunnel key 12345\n", " tunnel key 12345\n" + PROTECTION)
    config = parse_config(text).config
    now = time.monotonic()
    engine = NhrpEngine(nhrp_engine_config(config.tunnels[0], SPOKE_NBMA), lambda _a: None, now)
    engine.start(now)
    agent = FakeAgent("spoke1", text, SimpleNamespace(engine=engine, nbma=SPOKE_NBMA, shortcuts={}, table=[]), net=SimpleNamespace(now=now))
    settings = ipsec_settings(agent.config, "Tunnel0", SPOKE_NBMA)
    assert settings is not None
    transport = EspTransport(SaDatabase(), SPOKE_NBMA, 12345, esp_sock=FakeRaw(50, SPOKE_NBMA),  # type: ignore[arg-type]
                             gre_sock=FakeRaw(47, SPOKE_NBMA))  # type: ignore[arg-type]
    agent.ipsec = IpsecNode(settings, transport, new_engine(settings, now, lambda _c, _l: None),  # type: ignore[attr-defined]
                            clock=time.monotonic, bind=False)
    return agent


def hub_row(agent: FakeAgent) -> dict:
    [itf] = dmvpn_data(agent)["interfaces"]
    [peer] = [p for p in itf["peers"] if p["nbma"] == str(HUB_NBMA)]
    return peer["rows"][0]


def test_the_hub_shows_ike_then_nhrp_once_the_sa_is_up_while_registration_is_unanswered():
    agent = protected_spoke()
    assert hub_row(agent)["state"] == "IKE"
    assert "203.0.113.1" in render_dmvpn(dmvpn_data(agent)) and "   IKE " in render_dmvpn(dmvpn_data(agent))
    at_spoke, _ = child_sa_pair(SPOKE_NBMA, HUB_NBMA)
    agent.ipsec.transport.install(at_spoke, 0.0)  # type: ignore[attr-defined]
    assert hub_row(agent)["state"] == "NHRP"


def test_without_tunnel_protection_an_unregistered_hub_is_plain_nhrp():
    agent = protected_spoke()
    agent.ipsec = None  # type: ignore[attr-defined]
    assert hub_row(agent)["state"] == "NHRP"
