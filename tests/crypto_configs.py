"""The seed's crypto configuration, written once for every test that configures IPsec.

Why one module: the agent, CLI and live tests all configure the same DMVPN protection (the
seed's `crypto isakmp policy 10` aes 256 / sha256 / pre-share / group 14, the wildcard key
DMVPN_KEY, transform set DMVPN_TS esp-aes 256 esp-sha256-hmac in transport mode, profile
DMVPN_PROFILE). Written four times, the copies drift apart and a test stops saying which
config it proves. A test that needs a variant derives it from these texts (`.replace`, `+`)
so the difference is what the test reads.
"""

from __future__ import annotations

SEED_CRYPTO = """\
crypto isakmp policy 10
 encryption aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp key DMVPN_KEY address 0.0.0.0 0.0.0.0
!
crypto ipsec transform-set DMVPN_TS esp-aes 256 esp-sha256-hmac
 mode transport
!
crypto ipsec profile DMVPN_PROFILE
 set transform-set DMVPN_TS
!
"""

PROTECTION = " tunnel protection ipsec profile DMVPN_PROFILE\n"


def protected_hub(nbma: str, *, crypto: str = SEED_CRYPTO, mask: str = "255.255.255.252") -> str:
    """A hub whose mGRE Tunnel0 (10.0.0.1/24, network-id 1, key 12345) is protected by the
    profile, sourced from GigabitEthernet0/0 at `nbma`."""
    return crypto + f"""hostname hub
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp network-id 1
 ip nhrp map multicast dynamic
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
 tunnel key 12345
{PROTECTION}!
interface GigabitEthernet0/0
 ip address {nbma} {mask}
!
end
"""
