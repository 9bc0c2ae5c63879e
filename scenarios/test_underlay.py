"""The underlay: every router reaches the hub's NBMA address through the ISP, every LAN host
reaches its router, and the packets cross exactly the links they should (from the pcaps).

Topology (topologies/underlay.yaml, no agents): hub, spoke1, spoke2 on the ISP; spoke3
behind NAT box nat3. Each ping carries its own payload pattern (`ping -p`), so a packet is
recognised on every link, before and after NAT, without relying on addresses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.utils import rdpcap

from dmvpnlab.lab.records import list_pids, proc_cmdline

pytestmark = pytest.mark.dmvpn_topology("topologies/underlay.yaml")

REPO = Path(__file__).resolve().parents[1]
HUB_NBMA = "203.0.113.1"
SPOKE3_WAN = "172.16.3.1"  # spoke3's address behind nat3 (pre-NAT)
NAT3_OUTSIDE = "100.64.3.1"
UNDERLAY_LINKS = {"hub-isp", "spoke1-isp", "spoke2-isp", "spoke3-nat3", "nat3-isp",
                  "hub-h0", "spoke1-h1", "spoke2-h2", "spoke3-h3"}

# (source node, destination, links the echo request and reply must cross, and no others)
FLOWS = {
    "hub": ("hub", HUB_NBMA, set()),  # its own address: never leaves the router
    "spoke1": ("spoke1", HUB_NBMA, {"spoke1-isp", "hub-isp"}),
    "spoke2": ("spoke2", HUB_NBMA, {"spoke2-isp", "hub-isp"}),
    "spoke3": ("spoke3", HUB_NBMA, {"spoke3-nat3", "nat3-isp", "hub-isp"}),
    "h0": ("h0", "192.168.0.1", {"hub-h0"}),
    "h1": ("h1", "192.168.1.1", {"spoke1-h1"}),
    "h2": ("h2", "192.168.2.1", {"spoke2-h2"}),
    "h3": ("h3", "192.168.3.1", {"spoke3-h3"}),
}


def pattern(flow: str) -> bytes:
    """A 4-byte payload pattern unique to one flow (ping -p repeats it in the payload)."""
    return bytes([0xD7, 0x1A, 0xB0, list(FLOWS).index(flow) + 1])


@dataclass(frozen=True)
class Sighting:
    link: str
    kind: str  # "request" | "reply"
    src: str
    dst: str


@pytest.fixture(scope="module")
def traffic(lab):
    """Run every flow once (2 echoes each), then read all captures: {flow: [Sighting]}."""
    results = {}
    for flow, (src, dst, _) in FLOWS.items():
        results[flow] = lab.exec(src, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "2",
                                       "-p", pattern(flow).hex(), dst])
    lab.flush_captures()
    seen: dict[str, list[Sighting]] = {flow: [] for flow in FLOWS}
    for path in lab.capture_files():
        link = path.name.removesuffix(".pcapng")
        for pkt in rdpcap(str(path)):
            if IP not in pkt or ICMP not in pkt or pkt[ICMP].type not in (0, 8):
                continue
            payload = bytes(pkt[ICMP].payload)
            for flow in FLOWS:
                if pattern(flow) * 2 in payload:
                    kind = "request" if pkt[ICMP].type == 8 else "reply"
                    seen[flow].append(Sighting(link, kind, pkt[IP].src, pkt[IP].dst))
    return results, seen


def test_every_underlay_link_has_a_capture_file(lab):
    names = {p.name.removesuffix(".pcapng") for p in lab.capture_files()}
    assert names == UNDERLAY_LINKS
    assert all(p.parent == REPO / "captures" / "underlay" or p.parent.name == "underlay" for p in lab.capture_files())


@pytest.mark.parametrize("flow", ["hub", "spoke1", "spoke2", "spoke3"])
def test_every_router_reaches_the_hub_nbma_through_the_isp(traffic, flow):
    results, _ = traffic
    assert results[flow].ok, results[flow].stdout + results[flow].stderr


@pytest.mark.parametrize("flow", ["h0", "h1", "h2", "h3"])
def test_every_lan_host_reaches_its_router(traffic, flow):
    results, _ = traffic
    assert results[flow].ok, results[flow].stdout + results[flow].stderr


@pytest.mark.parametrize("flow", list(FLOWS))
def test_echo_and_reply_cross_exactly_the_expected_links(traffic, flow):
    _, seen = traffic
    expected = FLOWS[flow][2]
    for kind in ("request", "reply"):
        links = {s.link for s in seen[flow] if s.kind == kind}
        assert links == expected, f"{flow} {kind}: seen on {sorted(links)}, expected {sorted(expected)}"
    # Two echoes: each link carries each of them once per direction.
    for link in expected:
        assert sum(1 for s in seen[flow] if s.link == link and s.kind == "request") == 2, link


def test_nat_box_rewrites_spoke3_source_to_its_outside_address(traffic):
    _, seen = traffic
    requests = {s.link: (s.src, s.dst) for s in seen["spoke3"] if s.kind == "request"}
    replies = {s.link: (s.src, s.dst) for s in seen["spoke3"] if s.kind == "reply"}
    assert requests["spoke3-nat3"] == (SPOKE3_WAN, HUB_NBMA)
    assert requests["nat3-isp"] == (NAT3_OUTSIDE, HUB_NBMA)
    assert requests["hub-isp"] == (NAT3_OUTSIDE, HUB_NBMA)
    assert replies["hub-isp"] == (HUB_NBMA, NAT3_OUTSIDE)
    assert replies["spoke3-nat3"] == (HUB_NBMA, SPOKE3_WAN)


def test_isp_has_no_default_route_so_nothing_leaves_the_lab(lab):
    routes = lab.exec("isp", ["ip", "-4", "route", "show"]).stdout
    assert "default" not in routes
    assert lab.ping("spoke1", "192.0.2.99", timeout=1).returncode != 0


def test_captures_are_readable_mid_run_by_tshark(lab, traffic):
    path = lab.capture_path("hub", "isp")
    done = subprocess.run(["tshark", "-r", str(path), "-Y", "icmp"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert HUB_NBMA in done.stdout


def test_a_new_packet_is_in_its_capture_after_flush(lab):
    path = lab.capture_path("spoke2", "isp")
    before = len(rdpcap(str(path)))
    assert lab.ping("spoke2", HUB_NBMA).ok
    lab.flush_captures()
    assert len(rdpcap(str(path))) >= before + 2


# --------------------------------------------------------------------- lifecycle


def _lab_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The lab subcommands, run the way a user runs `dmvpnlab ...` (own process)."""
    return subprocess.run([sys.executable, "-m", "dmvpnlab.lab.commands", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _recorded(lab: str) -> list:
    from dmvpnlab.lab.records import RECORDS_NAME, LabRecords, lab_dir

    return LabRecords.load(lab_dir(lab) / RECORDS_NAME).processes()


def _pins(lab: str) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if f"/run/dmvpnlab/{lab}/" in line]


def test_detached_up_status_down_leaves_nothing_behind(tmp_path):
    topo = tmp_path / "detached.yaml"
    topo.write_text("hub: {}\nspokes: 2\n")
    up = _lab_cli("up", str(topo), "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        recorded = _recorded("detached")
        assert {p.kind for p in recorded} == {"controller", "node", "capture"}
        assert len(_pins("detached")) == 7  # isp, hub, spoke1, spoke2, h0, h1, h2
        status = _lab_cli("status")
        assert "lab detached: up" in status.stdout and "spoke2" in status.stdout
        ping = _lab_cli("exec", "--lab", "detached", "spoke2", "--", "ping", "-c", "1", "-W", "2", HUB_NBMA)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert _lab_cli("exec", "--lab", "detached", "spoke2", "--", "sh", "-c", "exit 7").returncode == 7
    finally:
        down = _lab_cli("down", "detached")
    assert down.returncode == 0, down.stdout + down.stderr
    time.sleep(0.2)
    # Named namespaces (`ip netns list`) are compared by the module's leak guard.
    assert [p.pid for p in recorded if p.alive()] == []
    assert _pins("detached") == []


def test_down_after_the_controller_is_killed_cleans_exactly_the_recorded_lab(tmp_path):
    from dmvpnlab.lab.records import RECORDS_NAME, lab_dir, proc_start_time

    topo = tmp_path / "crashed.yaml"
    topo.write_text("hub: {}\nspokes: 1\n")
    up = _lab_cli("up", str(topo), "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    recorded = _recorded("crashed")
    controller = next(p for p in recorded if p.kind == "controller")
    # Something left inside a namespace, as a user's background job would be.
    survivor = _lab_cli("exec", "--lab", "crashed", "spoke1", "--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!")
    assert survivor.returncode == 0, survivor.stderr
    survivor_pid = int(survivor.stdout.strip())
    os.kill(controller.pid, 9)
    deadline = time.monotonic() + 5
    while controller.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    status = _lab_cli("status")
    assert "lab crashed: dead" in status.stdout
    down = _lab_cli("down", "crashed")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "cleaned from records" in down.stdout
    time.sleep(0.2)
    assert [p.pid for p in recorded if p.alive()] == []
    assert proc_start_time(survivor_pid) is None, "the job left in spoke1's namespace was not killed"
    assert _pins("crashed") == []
    assert not (lab_dir("crashed") / RECORDS_NAME).exists()


def test_a_topology_with_a_typo_is_one_paragraph_and_exit_2(tmp_path):
    topo = tmp_path / "typo.yaml"
    topo.write_text("hub: {}\nspokes: 2\nroutrs: {}\n")
    done = _lab_cli("up", str(topo))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "routrs" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_foreground_up_gives_a_mininet_prompt_and_eof_tears_the_lab_down(tmp_path):
    topo = tmp_path / "fg.yaml"
    topo.write_text("hub: {}\nspokes: 1\n")
    done = subprocess.run([sys.executable, "-m", "dmvpnlab.lab.commands", "up", str(topo)], cwd=REPO,
                          input="spoke1 ping -c 1 -W 2 203.0.113.1\nh1 ping -c 1 -W 2 spoke1\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Mininet's CLI prints command output through its logger, on stderr.
    assert (done.stdout + done.stderr).count("1 received") == 2, done.stdout + done.stderr
    assert "lab fg down" in done.stdout
    assert _pins("fg") == []
    leftovers = [pid for pid in list_pids() if "/captures/fg/" in " ".join(proc_cmdline(pid))]
    assert leftovers == []
