"""Bad packets from the NBMA network are dropped and counted; the routers keep working."""

from __future__ import annotations

import sys

import pytest

from crossings import H2, agent_state, ping, wait_for

pytestmark = pytest.mark.dmvpn_topology("topologies/default.yaml")

HUB_NBMA = "203.0.113.1"

# Sent from the ISP router's namespace straight at the hub's NBMA address.
GARBAGE = r"""
import random, socket, struct, sys
hub = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
rng = random.Random(7)
key = struct.pack("!HHI", 0x2000, 0x2001, 12345)
packets = [
    b"\x00",                                        # shorter than a GRE header
    struct.pack("!HH", 0x2000, 0x0800),             # key bit set, key missing
    struct.pack("!HHI", 0x2000, 0x0800, 999) + bytes(40),   # wrong tunnel key
    key + bytes(8),                                 # NHRP cut short
    key + bytes.fromhex("0001080000000000000000000000000000000000"),  # NHRP bad checksum/lengths
]
packets += [key + rng.randbytes(rng.randrange(0, 120)) for _ in range(200)]
packets += [rng.randbytes(rng.randrange(0, 60)) for _ in range(200)]
for p in packets:
    s.sendto(p, (hub, 0))
print(len(packets))
"""


def test_garbage_gre_and_nhrp_are_dropped_and_counted_and_the_hub_keeps_routing(lab):
    before = agent_state(lab, "hub")
    sent = lab.exec("isp", [sys.executable, "-c", GARBAGE, HUB_NBMA])
    assert sent.ok, sent.stderr
    assert int(sent.stdout) == 405

    def counted() -> bool:
        after = agent_state(lab, "hub")
        drops = after["tunnel"]["drops"]
        return (drops.get("malformed gre", 0) > before["tunnel"]["drops"].get("malformed gre", 0)
                and drops.get("tunnel key mismatch", 0) > before["tunnel"]["drops"].get("tunnel key mismatch", 0)
                and after["nhrp"]["traffic"]["dropped"].get("malformed", 0) > 0)

    assert wait_for(counted, timeout=3), agent_state(lab, "hub")["tunnel"]["drops"]
    hub = agent_state(lab, "hub")
    assert hub["uptime"] > before["uptime"], "the same agent, not a restarted one"
    assert {e["next_hop"] for e in hub["nhrp"]["cache"] if "registered" in e["flags"]} == {"10.0.0.2", "10.0.0.3"}
    _, result = ping(lab, "h1", H2, count=3)
    assert result.ok, result.stdout
