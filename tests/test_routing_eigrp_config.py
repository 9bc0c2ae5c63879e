"""IOS EIGRP lines -> EigrpSettings (routing.eigrp_config): networks, passive, stub, keys, defaults."""

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from dmvpnlab.config.parser import load_config
from dmvpnlab.routing.eigrp.settings import EigrpKey
from dmvpnlab.routing.eigrp_config import eigrp_settings

HUB = """hostname Hub
key chain K
 key 2
  key-string 7 070C285F4D06
 key 1
  key-string first
interface Loopback0
 ip address 192.0.2.1 255.255.255.255
interface Tunnel0
 bandwidth 1000
 ip address 10.0.0.1 255.255.255.0
 ip mtu 1400
 ip authentication mode eigrp 100 md5
 ip authentication key-chain eigrp 100 K
 ip hello-interval eigrp 100 10
 ip hold-time eigrp 100 30
 no ip split-horizon eigrp 100
 no ip next-hop-self eigrp 100
 ip summary-address eigrp 100 192.168.0.0 255.255.0.0
 ip bandwidth-percent eigrp 100 60
 delay 1000
 tunnel source GigabitEthernet0/0
 tunnel mode gre multipoint
interface GigabitEthernet0/0
 ip address 203.0.113.1 255.255.255.0
interface GigabitEthernet0/1
 ip address 192.168.1.1 255.255.255.0
interface GigabitEthernet0/2
 ip address 172.16.5.1 255.255.255.0
 shutdown
router eigrp 100
 network 10.0.0.0 0.0.0.255
 network 192.168.1.0
 network 192.0.2.1 0.0.0.0
 network 172.16.0.0
 passive-interface default
 no passive-interface Tunnel0
 variance 2
 maximum-paths 8
 no auto-summary
 eigrp log-neighbor-changes
 redistribute static
 metric weights 0 1 0 1 0 0
router eigrp 200
 network 203.0.113.0
"""


def test_hub_settings() -> None:
    result = eigrp_settings(load_config(HUB))
    s = result.settings
    assert s is not None and s.asn == 100
    assert s.router_id == IPv4Address("192.0.2.1")  # highest loopback
    assert [i.name for i in s.interfaces] == ["Loopback0", "Tunnel0", "GigabitEthernet0/1"]
    tun = s.interface("Tunnel0")
    assert tun is not None
    assert tun.address == IPv4Interface("10.0.0.1/24")
    assert (tun.bandwidth_kbps, tun.delay_usec, tun.mtu) == (1000, 10000, 1400)
    assert not tun.passive and not tun.split_horizon and not tun.next_hop_self
    assert tun.summaries == (IPv4Network("192.168.0.0/16"),)
    assert (tun.hello_seconds, tun.hold_seconds) == (10.0, 30)
    assert tun.md5_keys == (EigrpKey(1, b"first"), EigrpKey(2, b"cisco"))
    assert result.key_chains == {"Tunnel0": "K"}
    lan = s.interface("GigabitEthernet0/1")
    assert lan is not None and lan.passive and lan.split_horizon and lan.md5_keys == ()
    assert (lan.bandwidth_kbps, lan.delay_usec) == (1000000, 10)
    lo = s.interface("Loopback0")
    assert lo is not None and (lo.bandwidth_kbps, lo.delay_usec) == (8000000, 5000)
    assert s.variance == 2 and s.maximum_paths == 8 and s.passive_default
    assert s.networks == (IPv4Network("10.0.0.0/24"), IPv4Network("192.168.1.0/24"),
                          IPv4Network("192.0.2.1/32"), IPv4Network("172.16.0.0/16"))
    ignored = "\n".join(result.ignored)
    assert "redistribute static: not supported" in ignored
    assert "bandwidth-percent" in ignored
    assert "router eigrp 200: only one EIGRP process" in ignored
    assert "log-neighbor-changes" not in ignored and "auto-summary" not in ignored
    assert s.k_values == (1, 0, 1, 0, 0)


def test_spoke_defaults_stub_router_id_and_no_lines() -> None:
    config = load_config("""interface Tunnel0
 ip address 10.0.0.2 255.255.255.0
interface GigabitEthernet0/1
 ip address 192.168.2.1 255.255.255.0
router eigrp 1
 network 10.0.0.0
 network 192.168.2.0 0.0.0.255
 eigrp stub connected summary
 eigrp router-id 2.2.2.2
 variance 3
 no variance
 network 192.168.9.0 0.0.0.255
 no network 192.168.9.0 0.0.0.255
""")
    s = eigrp_settings(config).settings
    assert s is not None
    assert s.router_id == IPv4Address("2.2.2.2") and s.variance == 1
    assert s.stub == frozenset({"connected", "summary"})
    assert s.networks == (IPv4Network("10.0.0.0/8"), IPv4Network("192.168.2.0/24"))
    tun = s.interface("Tunnel0")
    assert tun is not None and (tun.bandwidth_kbps, tun.delay_usec, tun.mtu) == (100, 50000, 1476)
    assert tun.split_horizon and tun.next_hop_self and (tun.hello_seconds, tun.hold_seconds) == (5.0, 15)


def test_router_id_falls_back_to_highest_address_and_bare_stub() -> None:
    s = eigrp_settings(load_config("interface GigabitEthernet0/1\n ip address 192.168.2.1 255.255.255.0\n"
                                   "interface Tunnel0\n ip address 10.0.0.2 255.255.255.0\n"
                                   "router eigrp 1\n network 0.0.0.0 255.255.255.255\n eigrp stub\n")).settings
    assert s is not None and s.router_id == IPv4Address("192.168.2.1")
    assert s.stub == frozenset({"connected", "summary"}) and len(s.interfaces) == 2


def test_no_eigrp_named_mode_and_bad_lines() -> None:
    assert eigrp_settings(load_config("hostname R\n")).settings is None
    result = eigrp_settings(load_config("router eigrp CORE\n network 10.0.0.0\n"))
    assert result.settings is None and "named EIGRP mode" in result.ignored[0]
    result = eigrp_settings(load_config("router eigrp 5\n network 300.1.1.1\n network 224.0.0.0\n"
                                        " passive-interface Serial0/0/0\n auto-summary\n"))
    assert result.settings is not None and result.settings.interfaces == ()
    assert len(result.ignored) == 4


def test_md5_without_chain_or_mode() -> None:
    config = load_config("interface Tunnel0\n ip address 10.0.0.2 255.255.255.0\n"
                         " ip authentication key-chain eigrp 1 K\n"
                         "interface GigabitEthernet0/1\n ip address 192.168.2.1 255.255.255.0\n"
                         " ip authentication mode eigrp 1 md5\n"
                         "router eigrp 1\n network 10.0.0.0\n network 192.168.2.0\n")
    result = eigrp_settings(config)
    assert result.settings is not None
    assert all(i.md5_keys == () for i in result.settings.interfaces)
    assert any("not used" in line for line in result.ignored)
    assert any("not defined" in line for line in result.ignored)


def test_hostile_lines_are_ignored_never_raised() -> None:
    import random

    words = ["network", "no", "passive-interface", "default", "variance", "maximum-paths", "eigrp", "stub",
             "router-id", "metric", "weights", "distance", "auto-summary", "0", "1", "255", "65536", "-1",
             "99999999999999999999", "10.0.0.0", "0.0.0.255", "255.255.0.255", "300.1.1.1", "Tunnel0", "Gi0/1",
             "٣", "receive-only", "summary", "x" * 50, "\\x00"]
    if_words = ["ip", "no", "eigrp", "100", "hello-interval", "hold-time", "summary-address", "split-horizon",
                "next-hop-self", "authentication", "mode", "md5", "key-chain", "K", "0", "70000", "10.1.2.3",
                "255.255.0.0", "99999999999999999999", "٣"]
    rng = random.Random(7)
    for _ in range(300):
        router = "\n".join(" " + " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(6))
        itf = "\n".join(" ip " + " ".join(rng.choice(if_words) for _ in range(rng.randint(1, 6)))
                        for _ in range(4))
        text = (f"key chain K\n key 1\n  key-string 7 {rng.choice(['0822455D0A16', 'ZZ', '99', '٣٣AB'])}\n"
                f"interface Tunnel0\n ip address 10.0.0.1 255.255.255.0\n{itf}\n"
                f"router eigrp 100\n{router}\n")
        from dmvpnlab.config.parser import parse_config
        result = eigrp_settings(parse_config(text).config)
        assert result.settings is not None
        for i in result.settings.interfaces:
            assert 1 <= i.hello_seconds <= 65535 and 1 <= i.hold_seconds <= 65535
        assert 1 <= result.settings.variance <= 128
