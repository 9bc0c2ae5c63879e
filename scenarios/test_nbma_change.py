"""A spoke whose WAN address changes (a new DHCP lease): purge, re-register, keep working."""

from __future__ import annotations

import pytest

from crossings import H1, H2, agent_state, ping, shortcuts, wait_for

pytestmark = pytest.mark.dmvpn_topology("topologies/phase3.yaml")

OLD, NEW, NEW_GATEWAY = "100.64.1.1", "100.64.1.5", "100.64.1.6"


def hub_entry(lab, tunnel_address: str):
    return next((e for e in agent_state(lab, "hub")["nhrp"]["cache"] if e["next_hop"] == tunnel_address), None)


def test_a_new_wan_address_is_registered_and_stale_mappings_are_purged(lab):
    _, result = ping(lab, "h1", H2, count=5)
    assert result.ok
    assert wait_for(lambda: "192.168.1.0/24" in shortcuts(lab, "spoke2"), timeout=3)
    assert next(e for e in agent_state(lab, "spoke2")["nhrp"]["cache"] if e["next_hop"] == "10.0.0.2")["nbma"] == OLD

    # The ISP hands spoke1 a new address on a new /30, as after a new DHCP lease.
    assert lab.exec("isp", ["ip", "addr", "add", f"{NEW_GATEWAY}/30", "dev", "isp-eth1"]).ok
    assert lab.exec("spoke1", ["ip", "addr", "del", f"{OLD}/30", "dev", "spoke1-eth0"]).ok
    assert lab.exec("spoke1", ["ip", "addr", "add", f"{NEW}/30", "dev", "spoke1-eth0"]).ok
    assert lab.exec("spoke1", ["ip", "route", "replace", "default", "via", NEW_GATEWAY]).ok

    assert wait_for(lambda: (hub_entry(lab, "10.0.0.2") or {}).get("nbma") == NEW, timeout=8), hub_entry(lab, "10.0.0.2")
    stale = lambda: [e for e in agent_state(lab, "spoke2")["nhrp"]["cache"] if e["nbma"] == OLD]  # noqa: E731
    assert wait_for(lambda: stale() == [], timeout=3), stale()

    _, result = ping(lab, "h2", H1, count=5)
    assert result.ok, result.stdout
