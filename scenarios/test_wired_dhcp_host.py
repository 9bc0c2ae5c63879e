"""A wired lab's Linux host that asks DHCP gets its lease from a lab router's `ip dhcp pool`.

The hub of tests/wired_samples.py serves 192.168.11.0/24 on GigabitEthernet0/1; PC1 (as
a CML ubuntu host without addresses in its cloud-init) runs `dmvpnlab dhcp-client` in its
namespace, recorded and stopped by PID with the lab (the leak guard checks it is gone).
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

import pytest

from dmvpnlab.lab.wired.agents import agent_knows_interface_map
from tests.wired_samples import HUB_CONFIG, three_routers

POOL = """\
ip dhcp excluded-address 192.168.11.1 192.168.11.99
ip dhcp pool PCS
 network 192.168.11.0 255.255.255.0
 default-router 192.168.11.1
!
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    from dmvpnlab.lab.lab import Lab

    topo = three_routers(wired=agent_knows_interface_map(), host=True, management=False, name="wiredd")
    topo.routers[0].config = HUB_CONFIG.replace("end\n", POOL + "end\n")
    pc = topo.hosts[0]
    pc.addresses, pc.gateway, pc.routes, pc.dhcp = {}, None, [], ["ens2"]
    instance = Lab.up(topo, quiet=True, captures=False)
    try:
        yield instance
    finally:
        instance.down()


def _leased(lab: Any, timeout: float = 15.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = lab.exec("PC1", ["ip", "-4", "-o", "addr", "show", "dev", "ens2"]).stdout
        m = re.search(r"inet (192\.168\.11\.\d+)/24", out)
        if m:
            return m.group(1)
        time.sleep(0.2)
    return None


def test_the_host_leases_an_address_from_the_hub_pool_and_reaches_a_spoke_lan(lab):
    address = _leased(lab)
    assert address is not None and int(address.rsplit(".", 1)[1]) >= 100, address
    assert "default via 192.168.11.1" in lab.exec("PC1", ["ip", "route"]).stdout
    assert lab.exec("PC1", ["ping", "-n", "-c", "2", "-W", "2", "192.168.1.1"], timeout=20).ok
    binding = lab.cli("hub", "show ip dhcp binding")
    assert address in binding, binding
    assert lab.helpers and all(p.poll() is None for p in lab.helpers)
