"""The IOS -> FRR translator on mutated configs: never a traceback, always one line per line.

Input: a startup-config file (bytes decoded by config.text's rule, read with
`parse_config`, which keeps what it could read), translated by `routing.frr_config`.
Invariants: translating raises nothing (a line FRR has no form for is an ignored entry,
the documented way); the frr.conf text and each daemon's share end with a newline and
hold no line break inside a line (every IOS word stays on its own line: no hostile
word can inject an FRR command); each running daemon has its share; zebra runs
whenever any daemon does. Whether FRR accepts the output is the unit tests' job
(tests/test_routing_frr_config.py runs FRR's own dry runs), not this target's.

Seeds: OSPF, BGP and RIP hub and spoke configs as issue 10 lists their lines.
"""

from __future__ import annotations

from dmvpnlab.config.parser import parse_config
from dmvpnlab.config.text import decode_config
from dmvpnlab.ifnames import linux_ifname
from dmvpnlab.routing.frr_config import ZEBRA, frr_config
from fuzz.harness import Target

_SEEDS = (
    """hostname hub
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip ospf network point-to-multipoint
 ip ospf priority 255
 ip ospf hello-interval 10
 no ip split-horizon
 ip summary-address rip 10.0.0.0 255.0.0.0
interface GigabitEthernet0/1
 ip address 10.1.0.1 255.255.255.0
 ip ospf 1 area 0
router ospf 1
 router-id 1.1.1.1
 network 10.0.0.0 0.0.0.255 area 0
 passive-interface GigabitEthernet0/1
 area 0 range 10.0.0.0 255.0.0.0
 default-information originate always metric 5
 neighbor 10.0.0.2 priority 0
router rip
 version 2
 network 10.0.0.0
 no auto-summary
 passive-interface default
 timers basic 30 180 180 240
""",
    """hostname hub
router bgp 65000
 bgp router-id 1.1.1.1
 neighbor SPOKES peer-group
 neighbor SPOKES remote-as 65000
 neighbor SPOKES route-reflector-client
 neighbor SPOKES next-hop-self all
 bgp listen range 10.0.0.0/24 peer-group SPOKES
 neighbor 192.0.2.1 remote-as 65001
 neighbor 192.0.2.1 next-hop-unchanged
 neighbor 192.0.2.1 timers 10 30
 aggregate-address 10.0.0.0 255.0.0.0 summary-only
 address-family ipv4
  neighbor SPOKES default-originate
  network 10.1.0.0 mask 255.255.255.0
 exit-address-family
""",
)


def translate_file(data: bytes) -> None:
    config = parse_config(decode_config(data, source="fuzz").text, source="fuzz").config
    result = frr_config(config, lambda ios: linux_ifname(config.hostname, ios))
    texts = [result.text, *result.per_daemon.values()] if result.daemons else []
    for text in texts:
        if not text.endswith("\n") or text.splitlines() != text[:-1].split("\n"):
            raise AssertionError(f"a line break inside an FRR line: {text!r}")
    if result.daemons:
        if ZEBRA not in result.daemons or set(result.per_daemon) != result.daemons:
            raise AssertionError(f"daemons {result.daemons} but shares for {set(result.per_daemon)}")
    elif result.text or result.per_daemon:
        raise AssertionError("FRR text with no daemon to read it")
    for line in result.ignored:
        if not isinstance(line, str) or ": " not in line:
            raise AssertionError(f"an ignored entry without its reason: {line!r}")


TARGETS = [Target("frr-config", lambda: [s.encode() for s in _SEEDS], translate_file, text=True)]
