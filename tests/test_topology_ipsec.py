"""topologies/ipsec.yaml: the seed's Phase 3 hub and spoke configs with their crypto lines.

What holds: the file loads like every shipped topology (one hub, two spokes, hosts
h0..h2, no NAT box, as the default lab); each router's rendered config parses with no
error and nothing ignored, and carries the seed's section 9 crypto block (policy 10 aes
256 / sha256 / pre-share / group 14, wildcard key, transform set esp-aes 256
esp-sha256-hmac in transport mode, the profile) with `tunnel protection` on Tunnel0;
hub and spokes agree on all of it; the templates without `ipsec` render no crypto line,
so every other lab is unchanged.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from dmvpnlab.config.parser import parse_config
from dmvpnlab.lab.render import render_router_config
from dmvpnlab.lab.topology.yamlfile import load_topology

REPO = Path(__file__).resolve().parents[1]
IPSEC = REPO / "topologies" / "ipsec.yaml"
IPSEC_NAT = REPO / "topologies" / "ipsec-nat.yaml"


def rendered(path: Path) -> dict[str, str]:
    topology = load_topology(path, nodes_dir=REPO / "nodes")
    return {r.name: render_router_config(topology, r) for r in topology.routers if r.template}


def test_ipsec_topology_is_the_default_labs_shape():
    topology = load_topology(IPSEC)
    assert topology.name == "ipsec"
    assert sorted(r.name for r in topology.routers if r.template) == ["hub", "spoke1", "spoke2"]
    assert not topology.nat_boxes
    hosts = sorted(h.name for r in topology.routers if r.lan for h in r.lan.hosts)
    assert hosts == ["h0", "h1", "h2"]


@pytest.mark.parametrize("router", ["hub", "spoke1", "spoke2"])
def test_every_router_config_parses_clean_with_the_seeds_crypto(router):
    result = parse_config(rendered(IPSEC)[router])
    assert result.errors == [] and result.ignored == []
    config = result.config
    (policy,) = config.isakmp_policies
    assert (policy.priority, policy.encryption, policy.hash, policy.authentication, policy.group) == \
        (10, "aes 256", "sha256", "pre-share", 14)
    (key,) = config.isakmp_keys
    assert (key.key, key.peer) == ("DMVPN_KEY", IPv4Network("0.0.0.0/0"))
    (ts,) = config.transform_sets
    assert (ts.name, " ".join(ts.transforms), ts.mode) == ("DMVPN_TS", "esp-aes 256 esp-sha256-hmac", "transport")
    (profile,) = config.ipsec_profiles
    assert (profile.name, profile.transform_sets) == ("DMVPN_PROFILE", ["DMVPN_TS"])
    (tunnel,) = config.tunnels
    assert tunnel.tunnel_protection is not None and tunnel.tunnel_protection.profile == "DMVPN_PROFILE"


def test_hub_and_spokes_render_the_same_crypto_block():
    def crypto(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(("crypto", " encryption", " hash",
                                                                        " group", " mode", " set ", " tunnel protection"))]
    configs = rendered(IPSEC)
    assert crypto(configs["hub"]) == crypto(configs["spoke1"]) == crypto(configs["spoke2"])
    assert len(crypto(configs["hub"])) == 10


@pytest.mark.parametrize("name", ["default.yaml", "phase3.yaml", "nat.yaml", "phase1.yaml"])
def test_labs_without_ipsec_render_no_crypto_line(name):
    for text in rendered(REPO / "topologies" / name).values():
        assert "crypto" not in text and "tunnel protection" not in text


def test_the_crypto_variables_change_what_both_ends_render(tmp_path):
    custom = tmp_path / "custom.yaml"
    custom.write_text("vars: {phase: 3, ipsec: true, transforms: esp-gcm 256, isakmp_key: s3cret, "
                      "ipsec_profile: P1}\nhub: {template: hub.j2}\nspokes: 1\nspoke_defaults: {template: spoke.j2}\n")
    for text in rendered(custom).values():
        assert "crypto ipsec transform-set DMVPN_TS esp-gcm 256" in text
        assert "crypto isakmp key s3cret address 0.0.0.0 0.0.0.0" in text
        assert " tunnel protection ipsec profile P1" in text and "crypto ipsec profile P1" in text
        assert parse_config(text).errors == []


def test_ipsec_nat_topology_puts_spoke2_behind_nat1_with_the_same_crypto():
    topology = load_topology(IPSEC_NAT, nodes_dir=REPO / "nodes")
    assert [box.name for box in topology.nat_boxes] == ["nat1"]
    assert next(r for r in topology.routers if r.name == "spoke2").nat == "nat1"
    configs = rendered(IPSEC_NAT)
    for text in configs.values():
        result = parse_config(text)
        assert result.errors == [] and result.ignored == []
        assert result.config.tunnels[0].tunnel_protection is not None
    assert configs["spoke2"].count("crypto") == rendered(IPSEC)["spoke2"].count("crypto")
