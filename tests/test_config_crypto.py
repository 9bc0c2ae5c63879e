"""The crypto lines of an IOS config: every form issue 9 names parses, keeps IOS's defaults,
renders back to itself, and a name that no section defines is an IOS error on its line."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from dmvpnlab.config.model import IsakmpKeepalive, IsakmpPolicy, KeyringKey, TransformSet
from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config


def _ok(text: str):
    result = parse_config(text, source="t")
    assert result.errors == [], [str(e) for e in result.errors]
    return result


def _round_trips(text: str) -> None:
    config = _ok(text).config
    rendered = render_running_config(config)
    again = parse_config(rendered)
    assert again.errors == [] and again.config == config, rendered
    assert render_running_config(again.config) == rendered


# -- crypto isakmp policy ---------------------------------------------------------------


def test_a_policy_with_no_lines_has_the_ios_defaults_des_sha_rsa_sig_group1_one_day() -> None:
    pol = _ok("crypto isakmp policy 10\n").config.isakmp_policy(10)
    assert (pol.encryption, pol.hash, pol.authentication, pol.group, pol.lifetime) == (
        "des", "sha", "rsa-sig", 1, 86400)
    # ... and IOS prints none of them back
    assert "crypto isakmp policy 10\n!" in render_running_config(_ok("crypto isakmp policy 10\n").config)


@pytest.mark.parametrize("line, value", [
    ("encryption aes", "aes"), ("encryption aes 128", "aes 128"), ("encryption aes 192", "aes 192"),
    ("encryption aes 256", "aes 256"), ("encr aes 256", "aes 256"), ("encryption 3des", "3des"),
    ("encr des", "des"),
])
def test_policy_encryption_in_both_spellings(line: str, value: str) -> None:
    assert _ok(f"crypto isakmp policy 10\n {line}\n").config.isakmp_policy(10).encryption == value
    _round_trips(f"crypto isakmp policy 10\n {line}\n")


@pytest.mark.parametrize("hash_", ["md5", "sha", "sha256", "sha384", "sha512"])
def test_policy_hashes(hash_: str) -> None:
    assert _ok(f"crypto isakmp policy 1\n hash {hash_}\n").config.isakmp_policy(1).hash == hash_


@pytest.mark.parametrize("group", [1, 2, 5, 14, 15, 16, 19, 20, 24])
def test_policy_dh_groups(group: int) -> None:
    text = f"crypto isakmp policy 1\n group {group}\n"
    assert _ok(text).config.isakmp_policy(1).group == group
    _round_trips(text)


def test_a_group_ios_does_not_have_is_refused_under_its_word() -> None:
    result = parse_config("crypto isakmp policy 1\n group 3\n")
    assert [(e.line_no, e.message, e.column) for e in result.errors] == [
        (2, "% Invalid input detected at '^' marker.", len(" group "))]


def test_the_older_spellings_of_the_guides_parse_and_render_as_ios_15_prints_them() -> None:
    text = ("crypto isakmp policy 20\n encr aes 256\n hash sha\n authentication pre-share\n group 2\n"
            " lifetime 3600\n")
    pol = _ok(text).config.isakmp_policy(20)
    assert pol == IsakmpPolicy(20, "aes 256", "sha", "pre-share", 2, 3600)
    block = render_running_config(_ok(text).config).split("crypto isakmp policy 20\n", 1)[1].split("!")[0]
    assert block.splitlines() == [" encr aes 256", " authentication pre-share", " group 2", " lifetime 3600"]


# -- keys and keyrings -------------------------------------------------------------------


@pytest.mark.parametrize("line, peer, enc", [
    ("crypto isakmp key K address 0.0.0.0", "0.0.0.0/0", None),
    ("crypto isakmp key K address 0.0.0.0 0.0.0.0", "0.0.0.0/0", None),
    ("crypto isakmp key 0 K address 198.51.100.7", "198.51.100.7/32", 0),
    ("crypto isakmp key 6 K address 198.51.100.0 255.255.255.0", "198.51.100.0/24", 6),
])
def test_isakmp_keys_with_wildcards_masks_and_encryption_types(line: str, peer: str, enc: int | None) -> None:
    key = _ok(line + "\n").config.isakmp_keys[0]
    assert (key.key, key.peer, key.encryption_type) == ("K", IPv4Network(peer), enc)
    _round_trips(line + "\n")


def test_no_xauth_is_kept() -> None:
    assert _ok("crypto isakmp key K address 192.0.2.1 no-xauth\n").config.isakmp_keys[0].no_xauth


def test_a_keyring_holds_keys_by_address_and_its_local_address() -> None:
    text = ("crypto keyring DMVPN\n local-address GigabitEthernet0/0\n"
            " pre-shared-key address 0.0.0.0 0.0.0.0 key WILD\n"
            " pre-shared-key address 192.0.2.0 255.255.255.0 key 6 SECRET6\n"
            " pre-shared-key address 192.0.2.9 key HOST\n")
    ring = _ok(text).config.keyring("DMVPN")
    assert ring.local_address == "GigabitEthernet0/0"
    assert ring.keys == [KeyringKey("WILD", IPv4Network("0.0.0.0/0")),
                         KeyringKey("SECRET6", IPv4Network("192.0.2.0/24"), 6),
                         KeyringKey("HOST", IPv4Network("192.0.2.9/32"))]
    _round_trips(text)


def test_keyring_local_address_may_be_an_address_and_no_forms_remove() -> None:
    s = ConfigSession()
    for line in ("crypto keyring R", "local-address 192.0.2.1", "pre-shared-key address 192.0.2.2 key A",
                 "pre-shared-key address 192.0.2.3 key B", "no pre-shared-key address 192.0.2.2"):
        assert s.apply(line) == [], line
    ring = s.config.keyring("R")
    assert ring.local_address == IPv4Address("192.0.2.1")
    assert [k.key for k in ring.keys] == ["B"]
    assert s.prompt_suffix == "(conf-keyring)"
    assert s.apply("no local-address") == [] and ring.local_address is None


def test_keyring_lines_we_do_not_model_are_kept_and_listed() -> None:
    result = _ok("crypto keyring R\n pre-shared-key hostname peer.example key K\n")
    assert result.config.keyring("R").extra_lines == ["pre-shared-key hostname peer.example key K"]
    assert len(result.ignored) == 1


# -- keepalives and inert lines ------------------------------------------------------------


@pytest.mark.parametrize("line, want", [
    ("crypto isakmp keepalive 10", IsakmpKeepalive(10)),
    ("crypto isakmp keepalive 10 3", IsakmpKeepalive(10, 3)),
    ("crypto isakmp keepalive 30 5 periodic", IsakmpKeepalive(30, 5, "periodic")),
    ("crypto isakmp keepalive 30 on-demand", IsakmpKeepalive(30, None, "on-demand")),
])
def test_dpd_keepalives(line: str, want: IsakmpKeepalive) -> None:
    assert _ok(line + "\n").config.isakmp_keepalive == want
    _round_trips(line + "\n")


def test_nat_keepalive_and_its_no_form() -> None:
    s = ConfigSession()
    assert s.apply("crypto isakmp nat keepalive 20") == [] and s.config.isakmp_nat_keepalive == 20
    _round_trips("crypto isakmp nat keepalive 20\n")
    assert s.apply("no crypto isakmp nat keepalive") == [] and s.config.isakmp_nat_keepalive is None
    assert s.apply("crypto isakmp nat keepalive 2")[0].column == len("crypto isakmp nat keepalive ")


@pytest.mark.parametrize("line", ["crypto isakmp invalid-spi-recovery", "crypto isakmp aggressive-mode disable",
                                  "crypto isakmp identity address"])
def test_known_inert_isakmp_lines_are_kept_verbatim_and_listed_as_ignored(line: str) -> None:
    result = _ok(line + "\n")
    assert [i.text for i in result.ignored] == [line]
    assert line in render_running_config(result.config).splitlines()


# -- transform sets and profiles ------------------------------------------------------------


@pytest.mark.parametrize("transforms", [
    "esp-aes esp-sha-hmac", "esp-aes 128 esp-sha-hmac", "esp-aes 192 esp-sha256-hmac", "esp-aes 256 esp-sha384-hmac",
    "esp-aes 256 esp-sha512-hmac", "esp-3des esp-md5-hmac", "esp-gcm", "esp-gcm 128", "esp-gcm 256",
    "esp-3des esp-sha-hmac",
])
def test_transform_sets_of_the_issue(transforms: str) -> None:
    text = f"crypto ipsec transform-set TS {transforms}\n"
    ts = _ok(text).config.transform_set("TS")
    assert " ".join(ts.transforms) == transforms and ts.mode == "tunnel"  # IOS's default mode
    _round_trips(text)


def test_mode_transport_and_back_to_the_default_tunnel() -> None:
    s = ConfigSession()
    assert s.apply("crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac") == []
    assert s.apply("mode transport") == [] and s.config.transform_set("TS").mode == "transport"
    assert s.apply("no mode") == [] and s.config.transform_set("TS") == TransformSet(
        "TS", ["esp-aes 256", "esp-sha-hmac"], "tunnel")


def test_profile_lines_and_bare_set_pfs_meaning_group1() -> None:
    text = ("crypto ipsec transform-set A esp-aes esp-sha-hmac\ncrypto ipsec transform-set B esp-gcm 256\n"
            "crypto ipsec profile P\n set transform-set A B\n set pfs\n"
            " set security-association lifetime seconds 1800\n"
            " set security-association lifetime kilobytes 100000\n set isakmp-profile IKEP\n")
    result = _ok(text)
    prof = result.config.ipsec_profile("P")
    assert prof.transform_sets == ["A", "B"]
    assert prof.pfs == "group1"  # IOS: `set pfs` alone is group1
    assert (prof.lifetime_seconds, prof.lifetime_kilobytes) == (1800, 100000)
    assert prof.extra_lines == ["set isakmp-profile IKEP"]  # kept, listed as ignored
    assert [i.text.strip() for i in result.ignored] == ["set isakmp-profile IKEP"]
    _round_trips(text)


def test_tunnel_protection_shared() -> None:
    text = ("crypto ipsec profile P\ninterface Tunnel0\n tunnel protection ipsec profile P shared\n")
    tp = _ok(text).config.interface("Tunnel0").tunnel_protection
    assert (tp.profile, tp.shared) == ("P", True)
    _round_trips(text)


# -- names no section defines -----------------------------------------------------------------


def test_an_undefined_transform_set_is_an_ios_error_on_the_line_that_names_it() -> None:
    result = parse_config("crypto ipsec profile P\n set transform-set NOPE\n", source="f")
    assert [(e.line_no, e.text.strip(), e.message) for e in result.errors] == [
        (2, "set transform-set NOPE", 'ERROR: transform set with tag "NOPE" does not exist.')]


def test_an_undefined_profile_is_an_ios_error_on_the_tunnel_protection_line() -> None:
    result = parse_config("interface Tunnel0\n tunnel protection ipsec profile GONE\n", source="f")
    assert [(e.line_no, e.message) for e in result.errors] == [(2, "% IPsec profile GONE not found")]
    assert "f line 2" in str(result.errors[0])


def test_a_file_may_name_a_section_before_defining_it() -> None:
    """The check is of the whole file: interfaces first, crypto after, is still a whole config."""
    _ok("interface Tunnel0\n tunnel protection ipsec profile P\n!\ncrypto ipsec profile P\n"
        " set transform-set TS\n!\ncrypto ipsec transform-set TS esp-aes esp-sha-hmac\n")


def test_a_name_that_a_later_line_replaces_is_no_error() -> None:
    _ok("crypto ipsec transform-set TS esp-aes esp-sha-hmac\ncrypto ipsec profile P\n set transform-set OLD\n"
        " set transform-set TS\n")


def test_at_the_prompt_an_undefined_name_is_refused_at_once_and_changes_nothing() -> None:
    s = ConfigSession(immediate_references=True)
    assert s.apply("crypto ipsec profile P") == []
    errors = s.apply("set transform-set TS")
    assert [e.message for e in errors] == ['ERROR: transform set with tag "TS" does not exist.']
    assert s.config.ipsec_profile("P").transform_sets == []
    assert s.apply("exit") == [] and s.apply("interface Tunnel0") == []
    assert [e.message for e in s.apply("tunnel protection ipsec profile Q")] == ["% IPsec profile Q not found"]
    assert s.config.interface("Tunnel0").tunnel_protection is None
    assert s.apply("tunnel protection ipsec profile P") == []


def test_the_cli_config_mode_refuses_an_undefined_profile() -> None:
    from test_cli_fakes import lab
    from dmvpnlab.cli.exec import ExecSession

    session = ExecSession(lab(3)["spoke1"])
    session.handle("configure terminal")
    session.handle("interface Tunnel0")
    result = session.handle("tunnel protection ipsec profile NOPE")
    assert result.error and "% IPsec profile NOPE not found" in result.output


@pytest.mark.parametrize("line, bad", [
    ("crypto ipsec transform-set TS esp-aes esp-3des", "esp-3des"),
    ("crypto ipsec transform-set TS esp-sha-hmac esp-md5-hmac", "esp-md5-hmac"),
    ("crypto ipsec transform-set TS esp-gcm 256 esp-sha-hmac", "esp-sha-hmac"),
    ("crypto ipsec transform-set TS esp-sha-hmac esp-gcm", "esp-gcm"),
    ("crypto ipsec transform-set TS esp-aes esp-foo", "esp-foo"),
])
def test_a_transform_set_takes_one_transform_of_each_kind_refused_under_the_second(line: str, bad: str) -> None:
    result = parse_config(line + "\n")
    assert [(e.message, e.column) for e in result.errors] == [
        ("% Invalid input detected at '^' marker.", line.index(" " + bad) + 1)]
    assert result.config.transform_sets == []


def test_ah_and_compression_go_beside_esp_as_ios_allows() -> None:
    ts = _ok("crypto ipsec transform-set TS ah-sha-hmac esp-aes esp-sha-hmac\n").config.transform_set("TS")
    assert ts.transforms == ["ah-sha-hmac", "esp-aes", "esp-sha-hmac"]


def test_global_ipsec_lifetimes_parse_render_and_have_no_forms() -> None:
    text = ("crypto ipsec security-association lifetime seconds 1800\n"
            "crypto ipsec security-association lifetime kilobytes 9000\n")
    config = _ok(text).config
    assert (config.ipsec_lifetime_seconds, config.ipsec_lifetime_kilobytes) == (1800, 9000)
    _round_trips(text)
    s = ConfigSession(config)
    assert s.apply("no crypto ipsec security-association lifetime seconds") == []
    assert config.ipsec_lifetime_seconds is None


def test_pasted_prompts_of_every_crypto_sub_mode_are_stripped() -> None:
    text = ("Hub(config)# crypto keyring K\nHub(conf-keyring)# pre-shared-key address 0.0.0.0 0.0.0.0 key X\n"
            "Hub(config)# crypto isakmp policy 1\nHub(config-isakmp)# authentication pre-share\n"
            "Hub(config)# crypto ipsec transform-set T esp-aes esp-sha-hmac\nHub(cfg-crypto-trans)# mode transport\n"
            "Hub(config)# crypto ipsec profile P\nHub(ipsec-profile)# set transform-set T\n")
    config = _ok(text).config
    assert config.keyring("K").keys[0].key == "X" and config.isakmp_policy(1).authentication == "pre-share"
    assert config.transform_set("T").mode == "transport" and config.ipsec_profile("P").transform_sets == ["T"]


def test_the_cli_prompt_of_a_keyring() -> None:
    from test_cli_fakes import lab
    from dmvpnlab.cli.exec import ExecSession

    session = ExecSession(lab(3)["hub"])
    session.handle("configure terminal")
    assert session.handle("crypto keyring DMVPN").prompt == "hub(conf-keyring)#"
    assert not session.handle("pre-shared-key address 0.0.0.0 0.0.0.0 key K").error
    assert session.agent.config.keyring("DMVPN").keys[0].key == "K"
