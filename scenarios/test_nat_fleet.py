"""NAT fleets: three spokes behind nat1, two behind nat2, one without NAT (Phase 3 + IPsec).

topologies/nat-fleet.yaml: spoke1-3 reach the hub from nat1's one public address
100.64.1.1, spoke4-5 from nat2's 100.64.4.1, spoke6 from its own 100.64.6.1. Linux
masquerade keeps the first spoke's UDP ports and gives the others other ports, so the hub
tells spokes behind one NAT apart by (address, port) only (dmvpnlab.ipsec.endpoint). What
a user expects (IOS behaviour where it is known; where the lab has to choose, it says why):

- every spoke registers and the hub lists each one separately (`show dmvpn`: its own row,
  the NAT's public address, the N flag for those behind a NAT; `show ip nhrp`: its own
  entry with its own claimed NBMA);
- every LAN is reachable from the hub's LAN;
- two spokes behind the SAME NAT (spoke1 and spoke2) form a shortcut straight across the
  NAT's inside segment, at their private (claimed) NBMAs, in plain ESP: the owner's reply
  comes back through the hub, which adds the owner's post-NAT address; the requester sees
  that this is its own NAT's address (its registration reply told it) and keeps the
  claimed NBMA, which is on its own segment. Going to the public address instead would
  need the box to hairpin, which Linux masquerade (like most CPEs) does not;
- a spoke behind nat1 and one behind nat2 whose NATs kept their IKE ports (spoke1 and
  spoke4, each its box's first) form a shortcut between the two NATs' public addresses:
  each answers the other's resolution through the hub, which adds the owner's post-NAT
  address, and the IKE each then sends to the other's port 500/4500 opens its own NAT's
  mapping for the other's (UDP hole punching; Linux masquerade reuses a source's mapping
  for every destination, and the NAT boxes drop unsolicited UDP instead of tracking it,
  see lab.nodes.NatNode);
- a pair behind two NATs where one moved the spoke's ports (spoke2 and spoke4) stays on
  the hub path: the NAT extension carries an address, not a port, so neither could reach
  the other's mapping, and the hub does not pass on a reply that would make a shortcut
  into a black hole (IOS documents spoke-to-spoke between PAT'ed spokes the same way);
- every pair of LANs reaches each other.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from crossings import HUB_NBMA as HUB, HUB_WAN, agent_state, captures, dmvpn_rows, ping, shortcuts, wait_for

pytestmark = pytest.mark.dmvpn_topology("topologies/nat-fleet.yaml")

REPO = Path(__file__).resolve().parents[1]
NAT1, NAT2, SPOKE6 = "100.64.1.1", "100.64.4.1", "100.64.6.1"
PUBLIC = {2: NAT1, 3: NAT1, 4: NAT1, 5: NAT2, 6: NAT2, 7: SPOKE6}  # tunnel .N -> NBMA the hub sees
PRIVATE = {2: "172.16.1.2", 3: "172.16.1.3", 4: "172.16.1.4", 5: "172.16.2.5", 6: "172.16.2.6"}
SPOKES = range(1, 7)


def host(index: int) -> str:
    return f"192.168.{index}.10"


def tunnel(index: int) -> str:
    return f"10.0.0.{index + 1}"


def cli(lab, node: str, line: str) -> str:
    """One exec command on the router's CLI (`dmvpnlab cli NODE -c LINE`)."""
    argv = [sys.executable, "-m", "dmvpnlab.command", "cli", str(lab.records.directory / node), "-c", line]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{node}: {line}\n{done.stdout}{done.stderr}"
    return done.stdout


def public_ports(lab, nat: str) -> dict[int, dict[int, int]]:
    """Spoke index -> {500: port, 4500: port}: the public ports its NAT gave its IKE and
    NAT-T flows to the hub, while conntrack still has them (original src, dst, sport,
    dport, then the reply's src, dst, sport, dport)."""
    ports: dict[int, dict[int, int]] = {}
    for line in lab.exec(nat, ["cat", "/proc/net/nf_conntrack"]).stdout.splitlines():
        kv = [t.split("=", 1)[1] for t in line.split() if "=" in t][:8]
        if len(kv) == 8 and kv[1] == HUB and kv[2] == kv[3] and kv[2] in ("500", "4500"):
            index = next((k - 1 for k, private in PRIVATE.items() if private == kv[0]), None)
            if index is not None:
                ports.setdefault(index, {})[int(kv[2])] = int(kv[7])
    return ports


def kept_and_moved(lab, nat: str) -> tuple[int | None, list[int]]:
    """Behind `nat`: the spoke whose NAT kept its ports (4500, and 500 while its IKE
    mapping lives: a far spoke starts IKE on 500) and those whose 4500 it moved."""
    ports = public_ports(lab, nat)
    kept = [i for i, p in ports.items() if p.get(4500) == 4500 and p.get(500, 500) == 500]
    moved = sorted(i for i, p in ports.items() if p.get(4500, 4500) != 4500)
    return (kept[0] if kept else None), moved


def kept_pair(lab) -> tuple[int, int]:
    """A spoke behind nat1 and one behind nat2 whose NATs kept their ports. Which spoke
    won the ports depends on who reached its NAT first; a spoke that won 4500 but not 500
    qualifies once its IKE mapping on 500 times out (conntrack, 30 s)."""
    found: list[tuple[int, int]] = []

    def both() -> bool:
        a, b = kept_and_moved(lab, "nat1")[0], kept_and_moved(lab, "nat2")[0]
        if a is not None and b is not None:
            found.append((a, b))
        return bool(found)

    assert wait_for(both, timeout=60, step=2.0), (public_ports(lab, "nat1"), public_ports(lab, "nat2"))
    return found[0]


def last_echoes(seen, src: str, dst: str, since: float, n: int = 3) -> list:
    """Every sighting (on every link) of the last `n` echo requests src -> dst since `since`."""
    found = seen.echo(src, dst, since=since)
    seqs = sorted({s.seq for s in found})[-n:]
    return [s for s in found if s.seq in seqs]


@pytest.fixture(scope="module")
def registered(lab):
    """Every spoke UP in the hub's `show dmvpn` (the fixture waits once for the module)."""
    rows: dict[str, list[str]] = {}

    def all_up() -> bool:
        rows.clear()
        rows.update(dmvpn_rows(cli(lab, "hub", "show dmvpn")))
        return len(rows) == 6 and all(r[1] == "UP" for r in rows.values())

    assert wait_for(all_up, timeout=60, step=1.0), rows
    return rows


def test_every_spoke_registers_and_the_hub_lists_each_one_separately(lab, registered):
    for index, nbma in PUBLIC.items():
        row = registered[f"10.0.0.{index}"]
        assert row[0] == nbma, (index, row)
        assert ("N" in row[2]) == (index in PRIVATE), (index, row)
    cache = {e["next_hop"]: e for e in agent_state(lab, "hub")["nhrp"]["cache"] if e["type"] == "dynamic"}
    for index, private in PRIVATE.items():
        entry = cache[f"10.0.0.{index}"]
        assert entry["nbma"] == PUBLIC[index] and entry["claimed_nbma"] == private
    nhrp = cli(lab, "hub", "show ip nhrp")
    for index in PUBLIC:
        assert f"10.0.0.{index}/32" in nhrp
    assert nhrp.count(f"NBMA address: {NAT1}") == 3 and nhrp.count(f"NBMA address: {NAT2}") == 2


def test_each_spoke_behind_a_nat_has_its_own_ipsec_sa_at_the_hub(lab, registered):
    children = agent_state(lab, "hub")["ipsec"]["child_sas"]
    at_nat1 = {c["peer_port"] for c in children if c["peer"] == NAT1 and c["nat_t"]}
    at_nat2 = {c["peer_port"] for c in children if c["peer"] == NAT2 and c["nat_t"]}
    assert len(at_nat1) == 3 and 4500 in at_nat1, at_nat1
    assert len(at_nat2) == 2 and 4500 in at_nat2, at_nat2


@pytest.mark.parametrize("index", SPOKES)
def test_every_lan_is_reachable_from_the_hubs_lan(lab, registered, index):
    result = lab.exec("h0", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", host(index)])
    assert result.ok, result.stdout + result.stderr


def test_two_spokes_behind_the_same_nat_go_direct_across_its_inside_segment(lab, registered):
    since, result = ping(lab, "h1", host(2), count=10)
    assert result.ok, result.stdout + result.stderr
    assert wait_for(lambda: f"192.168.2.0/24 via {tunnel(2)}" in shortcuts(lab, "spoke1")
                    and f"192.168.1.0/24 via {tunnel(1)}" in shortcuts(lab, "spoke2"), timeout=15, step=1.0), \
        (shortcuts(lab, "spoke1"), shortcuts(lab, "spoke2"))
    entry = next(e for e in agent_state(lab, "spoke1")["nhrp"]["cache"] if e["next_hop"] == tunnel(2))
    assert entry["nbma"] == PRIVATE[3], entry
    since, result = ping(lab, "h1", host(2), count=6)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    late = last_echoes(seen, host(1), host(2), since)
    assert late and HUB_WAN not in seen.links(late) and "nat1-isp" not in seen.links(late), seen.links(late)
    inside = {(str(s.outer_src), str(s.outer_dst)) for s in late if s.link == "spoke1-nat1"}
    assert inside == {(PRIVATE[2], PRIVATE[3])}, inside


def test_spokes_behind_different_nats_form_a_shortcut(lab, registered):
    # The spoke behind nat1 and the one behind nat2 whose NATs kept their ports (whichever
    # reached its NAT first when the lab came up).
    a, b = kept_pair(lab)
    since, result = ping(lab, f"h{a}", host(b), count=10)
    assert result.ok, result.stdout + result.stderr
    assert wait_for(lambda: f"192.168.{b}.0/24 via {tunnel(b)}" in shortcuts(lab, f"spoke{a}")
                    and f"192.168.{a}.0/24 via {tunnel(a)}" in shortcuts(lab, f"spoke{b}"), timeout=15, step=1.0), \
        (shortcuts(lab, f"spoke{a}"), shortcuts(lab, f"spoke{b}"))
    since, result = ping(lab, f"h{a}", host(b), count=6)
    assert result.ok, result.stdout + result.stderr
    seen = captures(lab)
    late = last_echoes(seen, host(a), host(b), since)
    assert late and HUB_WAN not in seen.links(late), seen.links(late)
    direct = {(str(s.outer_src), str(s.outer_dst)) for s in late if s.link == f"spoke{a}-nat1"}
    assert direct == {(PRIVATE[a + 1], NAT2)}, (direct, seen.links(late))


def test_spokes_behind_different_nats_with_a_moved_port_stay_on_the_hub_path(lab, registered):
    a, b = kept_and_moved(lab, "nat1")[1][0], kept_pair(lab)[1]
    since, result = ping(lab, f"h{a}", host(b), count=10)
    assert result.ok, result.stdout + result.stderr
    assert not wait_for(lambda: f"192.168.{b}.0/24 via {tunnel(b)}" in shortcuts(lab, f"spoke{a}"), timeout=3)
    seen = captures(lab)
    late = last_echoes(seen, host(a), host(b), since)
    assert late and not [s for s in late if s.outer_src is not None and str(s.outer_dst) == NAT2
                         and str(s.outer_src) == NAT1], "nothing went nat1 -> nat2 directly"
    dropped = agent_state(lab, "hub")["nhrp"]["traffic"]["dropped"]
    assert dropped.get("resolution: no direct path between NATs", 0) >= 1, dropped


def test_every_pair_of_lans_reaches_each_other(lab, registered):
    failed = []
    for a, b in itertools.combinations(SPOKES, 2):
        result = lab.exec(f"h{a}", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", host(b)])
        if not result.ok:
            failed.append((a, b, result.stdout[-200:]))
    assert not failed, failed
