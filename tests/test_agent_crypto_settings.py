"""From the router config to what the IKE engine negotiates with (agent.crypto_settings)."""

from __future__ import annotations

import logging
from ipaddress import IPv4Address, IPv4Network

import pytest

from dmvpnlab.agent.crypto_settings import CryptoConfigError, ipsec_settings
from dmvpnlab.config.parser import load_config
from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.settings import DEFAULT_POLICIES, DEFAULT_PROPOSALS, Dpd, IkePolicy, PresharedKey, Proposal
from crypto_configs import PROTECTION, SEED_CRYPTO

LOCAL = IPv4Address("203.0.113.1")

# No `end`: tests append lines (keyrings, keepalives) to it.
SEED_HUB = SEED_CRYPTO + """\
interface GigabitEthernet0/0
 ip address 203.0.113.1 255.255.255.0
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
""" + PROTECTION


def _settings(text: str, interface: str = "Tunnel0", local: IPv4Address = LOCAL):
    return ipsec_settings(load_config(text), interface, local)


def test_the_seed_hub_negotiates_its_policy_key_and_transform_set() -> None:
    s = _settings(SEED_HUB)
    assert s is not None and s.interface == "Tunnel0" and s.local_address == LOCAL
    assert s.effective_policies == (IkePolicy(10, "aes", 256, "sha256", 14, 86400, "pre-share"),)
    assert s.key_for(IPv4Address("198.51.100.9")) == b"DMVPN_KEY"  # the wildcard
    assert s.child.profile == "DMVPN_PROFILE"
    assert s.child.proposals == (Proposal("DMVPN_TS", parse_transform("esp-aes 256 esp-sha256-hmac"), "transport"),)
    # IOS's phase-2 defaults, no PFS, no DPD
    assert (s.child.lifetime_seconds, s.child.lifetime_kilobytes, s.child.pfs_group) == (3600, 4_608_000, None)
    assert s.dpd is None and s.nat_keepalive is None and not s.child.shared


def test_a_tunnel_without_protection_has_no_settings() -> None:
    assert _settings("interface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n") is None
    assert _settings(SEED_HUB, interface="Tunnel9") is None


def test_no_policy_configured_means_the_ios_default_policies() -> None:
    text = SEED_HUB.replace(" encryption aes 256\n hash sha256\n authentication pre-share\n group 14\n", "")
    text = text.replace("crypto isakmp policy 10\n", "")
    assert _settings(text).effective_policies == DEFAULT_POLICIES


def test_a_policy_without_pre_share_is_ios_rsa_sig_and_is_dropped_with_a_log_line(caplog) -> None:
    text = SEED_HUB.replace("crypto isakmp policy 10\n", "crypto isakmp policy 5\n hash md5\ncrypto isakmp policy 10\n")
    with caplog.at_level(logging.WARNING):
        s = _settings(text)
    assert [p.priority for p in s.effective_policies] == [10]
    assert "crypto isakmp policy 5: authentication rsa-sig" in caplog.text


def test_policies_that_are_all_rsa_sig_leave_none_not_the_defaults() -> None:
    text = SEED_HUB.replace(" authentication pre-share\n", "")
    assert _settings(text).effective_policies == ()


def test_policies_are_proposed_in_priority_order_with_their_words_as_values() -> None:
    text = SEED_HUB.replace("crypto isakmp policy 10\n", "crypto isakmp policy 20\n encr 3des\n hash md5\n"
                            " authentication pre-share\n group 2\n lifetime 3600\ncrypto isakmp policy 1\n"
                            " encr aes\n authentication pre-share\n group 5\ncrypto isakmp policy 10\n")
    s = _settings(text)
    assert s.effective_policies == (
        IkePolicy(1, "aes", 128, "sha", 5, 86400, "pre-share"),  # `aes` alone is AES-128
        IkePolicy(10, "aes", 256, "sha256", 14, 86400, "pre-share"),
        IkePolicy(20, "3des", None, "md5", 2, 3600, "pre-share"),
    )


def test_keyring_keys_and_isakmp_keys_are_one_set_most_specific_wins() -> None:
    text = SEED_HUB + ("crypto keyring R\n pre-shared-key address 198.51.100.0 255.255.255.0 key NET\n"
                       " pre-shared-key address 198.51.100.7 key HOST\n")
    s = _settings(text)
    assert s.key_for(IPv4Address("198.51.100.7")) == b"HOST"
    assert s.key_for(IPv4Address("198.51.100.8")) == b"NET"
    assert s.key_for(IPv4Address("192.0.2.1")) == b"DMVPN_KEY"
    assert PresharedKey(b"DMVPN_KEY", IPv4Network("0.0.0.0/0")) in s.keys


def test_a_keyring_bound_to_another_local_address_serves_nothing_here() -> None:
    text = SEED_HUB.replace("crypto isakmp key DMVPN_KEY address 0.0.0.0 0.0.0.0\n", "") + (
        "crypto keyring MINE\n local-address GigabitEthernet0/0\n pre-shared-key address 0.0.0.0 0.0.0.0 key A\n"
        "crypto keyring OTHER\n local-address 192.0.2.99\n pre-shared-key address 198.51.100.7 key B\n")
    s = _settings(text)
    assert s.key_for(IPv4Address("198.51.100.7")) == b"A"
    assert _settings(text, local=IPv4Address("192.0.2.99")).key_for(IPv4Address("198.51.100.7")) == b"B"


def test_a_type_6_key_is_refused_clearly() -> None:
    text = SEED_HUB.replace("crypto isakmp key DMVPN_KEY", "crypto isakmp key 6 FLgBaJHXdYY_AcHZZMgQ_RhTDJXHUBAAB")
    with pytest.raises(CryptoConfigError, match="type 6"):
        _settings(text)
    ring = SEED_HUB + "crypto keyring R\n pre-shared-key address 192.0.2.1 key 6 XYZ\n"
    with pytest.raises(CryptoConfigError, match="crypto keyring R"):
        _settings(ring)


def test_type_0_keys_are_the_secret_as_written() -> None:
    text = SEED_HUB.replace("crypto isakmp key DMVPN_KEY", "crypto isakmp key 0 Clear")
    assert _settings(text).key_for(IPv4Address("192.0.2.1")) == b"Clear"


def test_profile_pfs_lifetimes_and_shared() -> None:
    text = SEED_HUB.replace(" set transform-set DMVPN_TS\n", " set transform-set DMVPN_TS\n set pfs group14\n"
                            " set security-association lifetime seconds 1200\n"
                            " set security-association lifetime kilobytes 50000\n")
    text = text.replace(
        " tunnel protection ipsec profile DMVPN_PROFILE\n", " tunnel protection ipsec profile DMVPN_PROFILE shared\n")
    s = _settings(text)
    assert (s.child.pfs_group, s.child.lifetime_seconds, s.child.lifetime_kilobytes, s.child.shared) == (
        14, 1200, 50000, True)


def test_bare_set_pfs_is_group1() -> None:
    text = SEED_HUB.replace(" set transform-set DMVPN_TS\n", " set transform-set DMVPN_TS\n set pfs\n")
    assert _settings(text).child.pfs_group == 1


def test_a_profile_without_transform_sets_proposes_the_ios_defaults() -> None:
    text = SEED_HUB.replace(" set transform-set DMVPN_TS\n", "")
    assert _settings(text).child.proposals == DEFAULT_PROPOSALS


def test_several_transform_sets_in_the_order_given() -> None:
    text = SEED_HUB.replace("crypto ipsec profile", "crypto ipsec transform-set GCM esp-gcm 256\ncrypto ipsec profile")
    text = text.replace(" set transform-set DMVPN_TS\n", " set transform-set GCM DMVPN_TS\n")
    s = _settings(text)
    assert [(p.name, p.transform.show_name, p.mode) for p in s.child.proposals] == [
        ("GCM", "esp-gcm 256", "tunnel"), ("DMVPN_TS", "esp-256-aes esp-sha256-hmac", "transport")]


def test_a_transform_this_esp_cannot_run_is_refused_naming_the_set() -> None:
    text = SEED_HUB.replace("esp-aes 256 esp-sha256-hmac", "esp-des esp-sha-hmac")
    with pytest.raises(CryptoConfigError, match="transform-set DMVPN_TS"):
        _settings(text)


def test_dpd_and_nat_keepalive() -> None:
    s = _settings(SEED_HUB + "crypto isakmp keepalive 10 3 periodic\ncrypto isakmp nat keepalive 20\n")
    assert s.dpd == Dpd(10, 3, True) and s.nat_keepalive == 20
    assert _settings(SEED_HUB + "crypto isakmp keepalive 30\n").dpd == Dpd(30, 2, False)  # on-demand, retry 2 s


def test_the_global_ipsec_lifetime_serves_a_profile_without_its_own() -> None:
    text = SEED_HUB + "crypto ipsec security-association lifetime seconds 1800\n"
    assert _settings(text).child.lifetime_seconds == 1800
    own = text.replace(" set transform-set DMVPN_TS\n",
                       " set transform-set DMVPN_TS\n set security-association lifetime seconds 600\n")
    assert _settings(own).child.lifetime_seconds == 600
