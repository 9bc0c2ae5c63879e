"""IPsec with a spoke behind NAT: NAT-T (RFC 3947/3948) end to end.

spoke2 sits behind nat1 (private 172.16.1.1, public 100.64.2.1). What a user expects from
IOS, and what each test reads from the captures (decrypted by tshark with the keys the
agents exported) or from the routers' own `show` commands:
- Main Mode starts on UDP 500; after NAT-D says a NAT is in the way, the rest of IKE
  (everything encrypted: MM5/MM6 and Quick Mode) floats to UDP 4500;
- spoke2's ESP is UDP-encapsulated on both sides of the NAT: no IP protocol 50 from it,
  while spoke1 (no NAT) talks plain ESP to the hub;
- the hub registers spoke2 at its NAT'ed address (`show dmvpn` N flag) and `show crypto
  ipsec sa` says port 4500 / UDP-Encaps for it;
- after the Phase 3 redirect, h1 <-> h2 goes direct between spoke1 and spoke2's public
  address, in UDP-encapsulated ESP that decrypts;
- only the side behind the NAT sends NAT keepalives (`crypto isakmp nat keepalive 5`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossings import HUB_NBMA, SPOKE1_NBMA, agent_state, direct_after_redirect, dmvpn_rows, wait_for
from dmvpnlab.analysis.decrypt import Frame, decrypt_capture

pytestmark = pytest.mark.dmvpn_topology("topologies/ipsec-nat-keepalive.yaml")

REPO = Path(__file__).resolve().parents[1]
SPOKE2_PRIVATE, SPOKE2_PUBLIC = "172.16.1.1", "100.64.2.1"  # nat1 owns spoke2's public address
NAT_INSIDE, NAT_OUTSIDE = ("spoke2", "nat1"), ("nat1", "isp")
KEEPALIVE = 5  # `crypto isakmp nat keepalive` in the topology


def cli(lab, node: str, line: str) -> str:
    """One exec command on the router's CLI (`dmvpnlab cli NODE -c LINE`)."""
    argv = [sys.executable, "-m", "dmvpnlab.command", "cli", str(lab.records.directory / node), "-c", line]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{node}: {line}\n{done.stdout}{done.stderr}"
    return done.stdout


def frames(lab, link: tuple[str, str]) -> list[Frame]:
    """One link's capture as tshark decrypts it with the lab's exported keys."""
    lab.flush_captures()
    return decrypt_capture(lab.capture_path(*link), lab.keys_dir).frames


def between(found: list[Frame], a: str, b: str) -> list[Frame]:
    return [f for f in found if {f.src, f.dst} == {a, b}]


def keepalive(frame: Frame) -> bool:
    """A NAT keepalive (RFC 3948 2.3): UDP 4500 with the one 0xFF byte, neither ESP nor IKE."""
    return "udpencap" in frame.outer and not frame.is_esp and not frame.is_isakmp


def child(lab, node: str, peer: str) -> dict | None:
    return next((c for c in agent_state(lab, node)["ipsec"]["child_sas"] if c["peer"] == peer), None)


def test_the_hub_registers_the_natted_spoke_at_its_public_address(lab):
    assert wait_for(lambda: child(lab, "hub", SPOKE2_PUBLIC) is not None, timeout=10)
    def peers_up() -> bool:
        rows.clear()
        rows.update(dmvpn_rows(cli(lab, "hub", "show dmvpn")))
        return len(rows) == 2 and all(r[1] == "UP" for r in rows.values())

    rows: dict[str, list[str]] = {}
    assert wait_for(peers_up, timeout=10), rows
    assert rows["10.0.0.3"][0] == SPOKE2_PUBLIC and "N" in rows["10.0.0.3"][2]
    assert rows["10.0.0.2"][0] == SPOKE1_NBMA and "N" not in rows["10.0.0.2"][2]


def test_ipsec_sa_with_the_natted_spoke_is_on_port_4500_and_udp_encapsulated(lab):
    natted = cli(lab, "hub", f"show crypto ipsec sa peer {SPOKE2_PUBLIC}")
    assert f"current_peer {SPOKE2_PUBLIC} port 4500" in natted
    assert "in use settings ={Transport UDP-Encaps, }" in natted
    plain = cli(lab, "hub", f"show crypto ipsec sa peer {SPOKE1_NBMA}")
    assert f"current_peer {SPOKE1_NBMA} port 500" in plain and "UDP-Encaps" not in plain
    sa = child(lab, "hub", SPOKE2_PUBLIC)
    assert sa["nat_t"] and sa["peer_port"] == 4500
    ike = {(s["src"], s["dst"]): s for s in agent_state(lab, "spoke2")["ipsec"]["ike_sas"]}
    assert ike[(SPOKE2_PRIVATE, HUB_NBMA)]["nat_t"]
    assert not next(s for s in agent_state(lab, "hub")["ipsec"]["ike_sas"] if s["src"] == SPOKE1_NBMA)["nat_t"]


@pytest.mark.parametrize("link, spoke2", [(NAT_INSIDE, SPOKE2_PRIVATE), (NAT_OUTSIDE, SPOKE2_PUBLIC)])
def test_ike_floats_to_4500_after_nat_detection(lab, link, spoke2):
    ike = [f for f in between(frames(lab, link), spoke2, HUB_NBMA) if f.is_isakmp]
    clear = [f for f in ike if not f.isakmp_encrypted]
    encrypted = [f for f in ike if f.isakmp_encrypted]
    # MM1-MM4 (SA, KE, nonces, NAT-D) in the clear on 500; MM5, MM6 and Quick Mode on 4500.
    assert len(clear) == 4 and all(set(f.ports) == {500} for f in clear), [f.summary() for f in clear]
    assert len(encrypted) >= 5 and all(set(f.ports) == {4500} for f in encrypted), [f.summary() for f in encrypted]
    assert ike.index(encrypted[0]) == 4  # nothing on 4500 before NAT-D was exchanged
    assert all(f.isakmp_decrypted for f in encrypted)


@pytest.mark.parametrize("link", [NAT_INSIDE, NAT_OUTSIDE])
def test_no_ip_protocol_50_on_either_side_of_the_nat(lab, link):
    found = frames(lab, link)
    esp = [f for f in found if f.is_esp]
    assert esp, "spoke2's registration travels in ESP"
    assert all("udp" in f.outer and set(f.ports) == {4500} for f in esp), \
        [f.summary() for f in esp if "udp" not in f.outer][:5]
    assert all(f.icv == "good" and f.decrypted for f in esp)
    assert not [f for f in found if "gre" in f.outer], "no cleartext GRE"


def test_the_spoke_without_nat_talks_plain_esp_to_the_hub(lab):
    esp = [f for f in between(frames(lab, ("hub", "isp")), SPOKE1_NBMA, HUB_NBMA) if f.is_esp]
    assert esp and all("udp" not in f.outer for f in esp)
    assert all(f.icv == "good" and "gre" in f.inner for f in esp)


def test_phase3_shortcut_to_the_natted_spoke_carries_udp_encapsulated_esp(lab):
    # The direct path, from the inner packets (opened with the exported keys): after the
    # redirect the echoes leave the hub's link and go spoke1 <-> spoke2's public address.
    _since, seen, late = direct_after_redirect(lab)
    direct = {(str(s.outer_src), str(s.outer_dst)) for s in late if s.link == "spoke1-isp"}
    assert direct == {(SPOKE1_NBMA, SPOKE2_PUBLIC)}
    wan = [s for s in late if s.encapsulated]  # the LAN links see the bare ICMP
    assert wan and all(s.esp_spi is not None for s in wan)
    # ...and what Wireshark sees there: ESP in UDP 4500, ICV good, ICMP inside.
    for link, spoke1, spoke2 in ((("spoke1", "isp"), SPOKE1_NBMA, SPOKE2_PUBLIC),
                                 (NAT_INSIDE, SPOKE1_NBMA, SPOKE2_PRIVATE)):
        esp = [f for f in between(frames(lab, link), spoke1, spoke2) if f.is_esp]
        assert esp and all("udp" in f.outer and 4500 in f.ports and f.icv == "good" for f in esp), link
        echoes = [f for f in esp if "icmp" in f.inner]
        late_seqs = {s.seq for s in late}
        assert len(echoes) >= 2 * len(late_seqs), (link, len(echoes), late_seqs)  # requests and replies
    sa = child(lab, "spoke1", SPOKE2_PUBLIC)
    assert sa is not None and sa["nat_t"] and sa["peer_port"] == 4500
    assert f"current_peer {SPOKE2_PUBLIC} port 4500" in cli(lab, "spoke1", f"show crypto ipsec sa peer {SPOKE2_PUBLIC}")


def test_only_the_spoke_behind_the_nat_sends_nat_keepalives(lab):
    sent = lambda node: agent_state(lab, node)["ipsec"]["engine"].get("nat keepalives sent", 0)  # noqa: E731
    assert wait_for(lambda: sent("spoke2") >= 2, timeout=2 * KEEPALIVE + 2)
    assert sent("hub") == 0 and sent("spoke1") == 0
    inside = [f for f in frames(lab, NAT_INSIDE) if keepalive(f)]
    outside = [f for f in frames(lab, NAT_OUTSIDE) if keepalive(f)]
    assert inside and {f.src for f in inside} == {SPOKE2_PRIVATE}
    assert {f.dst for f in inside} >= {HUB_NBMA}
    assert outside and {f.src for f in outside} == {SPOKE2_PUBLIC}
    to_hub = [f.time for f in inside if f.dst == HUB_NBMA]
    gaps = [b - a for a, b in zip(to_hub, to_hub[1:])]
    assert gaps and all(KEEPALIVE - 1 <= g <= KEEPALIVE + 1.5 for g in gaps), gaps
