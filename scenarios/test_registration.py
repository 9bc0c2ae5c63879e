"""NHRP registration: on bring-up, after a hub restart, and refused for bad credentials."""

from __future__ import annotations

import time

import pytest

from crossings import H0, agent_state, captures, ping, wait_for
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/registration.yaml")

REGISTRATION_TIMEOUT = 5  # nhrp_registration_timeout in registration.yaml
GOOD = {"10.0.0.2", "10.0.0.3"}
SPOKE3_NBMA, SPOKE4_NBMA = "100.64.3.1", "100.64.4.1"


def registered(lab) -> set[str]:
    cache = agent_state(lab, "hub")["nhrp"]["cache"]
    return {e["next_hop"] for e in cache if "registered" in e["flags"]}


def test_every_good_spoke_registers_on_bring_up(lab):
    assert wait_for(lambda: registered(lab) == GOOD, timeout=5), registered(lab)
    seen = captures(lab)
    for link, nbma in (("spoke1-isp", "100.64.1.1"), ("spoke2-isp", "100.64.2.1")):
        asked = [m for m in seen.messages(PacketType.REGISTRATION_REQUEST, link=link) if str(m.outer_src) == nbma]
        answered = [m for m in seen.messages(PacketType.REGISTRATION_REPLY, link=link) if str(m.outer_dst) == nbma]
        assert asked and answered
        assert answered[0].packet.request_id == asked[0].packet.request_id
        assert answered[0].packet.cies[0].code == 0
    for spoke in ("spoke1", "spoke2"):
        assert [n["state"] for n in agent_state(lab, spoke)["nhrp"]["nhs"]] == ["R"]


def test_wrong_authentication_never_registers_and_is_counted_at_the_hub(lab):
    time.sleep(1)
    hub = agent_state(lab, "hub")
    assert hub["nhrp"]["traffic"]["dropped"].get("authentication", 0) >= 1
    assert "10.0.0.4" not in registered(lab)
    assert [n["state"] for n in agent_state(lab, "spoke3")["nhrp"]["nhs"]] == ["E"]
    seen = captures(lab)
    assert seen.messages(PacketType.REGISTRATION_REQUEST, link="spoke3-isp")
    assert not [m for m in seen.nhrp if str(m.outer_dst) == SPOKE3_NBMA]


def test_wrong_tunnel_key_never_registers_and_is_counted_at_the_hub(lab):
    hub = agent_state(lab, "hub")
    assert hub["tunnel"]["drops"].get("tunnel key mismatch", 0) >= 1
    assert "10.0.0.5" not in registered(lab)
    assert [n["state"] for n in agent_state(lab, "spoke4")["nhrp"]["nhs"]] == ["E"]
    seen = captures(lab)
    assert not [m for m in seen.nhrp if str(m.outer_dst) == SPOKE4_NBMA]


@pytest.mark.parametrize("crash", [False, True], ids=["reload", "kill-9"])
def test_spokes_register_again_within_the_retry_interval_after_a_hub_restart(lab, crash):
    assert wait_for(lambda: registered(lab) == GOOD, timeout=5)
    lab.restart_agent("hub", crash=crash)
    restarted = time.monotonic()
    assert agent_state(lab, "hub")["uptime"] < REGISTRATION_TIMEOUT, "a new hub agent, with an empty cache"
    assert wait_for(lambda: registered(lab) == GOOD, timeout=REGISTRATION_TIMEOUT + 3), registered(lab)
    assert time.monotonic() - restarted <= REGISTRATION_TIMEOUT + 3
    _, result = ping(lab, "h1", H0, count=2)
    assert result.ok, "the hub routes again: its TAP, routes and mappings are back"
