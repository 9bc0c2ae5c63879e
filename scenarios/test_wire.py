"""On the wire like Cisco: what the agents send decodes cleanly in tshark and round-trips."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from crossings import H2, captures, shortcuts, wait_for
from dmvpnlab.analysis.ladder import roundtrip
from dmvpnlab.nhrp.codec import PacketType

pytestmark = pytest.mark.dmvpn_topology("topologies/default.yaml")


@pytest.fixture(scope="module")
def phase3_traffic(lab):
    """Registrations, a redirect, resolutions and direct traffic in every capture."""
    result = lab.exec("h1", ["ping", "-n", "-c", "6", "-i", "0.2", "-s", "1300", H2])
    assert result.ok, result.stdout
    assert wait_for(lambda: "192.168.2.0/24" in shortcuts(lab, "spoke1"), timeout=3)
    seen = captures(lab)
    assert {m.packet.type for m in seen.nhrp} >= {PacketType.RESOLUTION_REQUEST, PacketType.RESOLUTION_REPLY,
                                              PacketType.REGISTRATION_REQUEST, PacketType.REGISTRATION_REPLY,
                                              PacketType.TRAFFIC_INDICATION}
    return sorted(lab.captures.directory.glob("*.pcapng"))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reports_no_malformed_packet_bad_checksum_or_warning(phase3_traffic):
    for path in phase3_traffic:
        run = subprocess.run(["tshark", "-r", str(path), "-q", "-z", "expert,warn"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        problems = [line for line in run.stdout.splitlines() if line.strip() and not line.startswith("=")]
        assert problems == [], f"{path.name}: {problems}"
        detail = subprocess.run(["tshark", "-r", str(path), "-V", "-Y", "nhrp"],
                                capture_output=True, text=True, timeout=60).stdout
        assert "Malformed" not in detail and "Bad checksum" not in detail and "[incorrect" not in detail


def test_every_nhrp_packet_in_the_captures_reencodes_byte_for_byte(phase3_traffic):
    checked = 0
    for path in phase3_traffic:
        result = roundtrip(path)
        assert result.ok, f"{path.name}: frame {result.failed_frame}: {result.reason}"
        checked += result.checked
    assert checked >= 10
