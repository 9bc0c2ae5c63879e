"""The shipped Wireshark profile, read back by tshark: columns, colours, keys.

tshark is the judge: with the written folder as WIRESHARK_CONFIG_DIR its packet list
(PSML, the list's columns with their titles) must carry the NHRP columns on the real
Cisco captures; every colouring rule's filter must be accepted by `tshark -Y` and the
rules must colour the Cisco NHRP, ESP and ISAKMP packets by their type; with a lab's
key directory the profile must open ESP and show the NHRP inside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scapy.utils import wrpcap

from cisco_captures import capture
from dmvpnlab.command import main
from dmvpnlab.ipsec.esp import OutboundSa
from dmvpnlab.ipsec.keylog import KeyLog
from dmvpnlab.wireshark.profile import color_rules, packaged, prepare_capture_config, write_profile
from test_analysis_decrypt import SPOKE, TRANSFORMS, esp_frames, keymat, sa_event

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

REPO = Path(__file__).resolve().parents[1]
PHASE3 = "dmvpn-phase-3-traffic-indication.pcap"


def tshark(config: Path | None, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("WIRESHARK_CONFIG_DIR", None)
    if config is not None:
        env["WIRESHARK_CONFIG_DIR"] = str(config)
    return subprocess.run(["tshark", *args], capture_output=True, text=True, env=env, timeout=60)


def packet_list(config: Path | None, pcap: Path) -> list[dict[str, str]]:
    """tshark's packet list as {column title: text} per frame (PSML)."""
    result = tshark(config, "-r", str(pcap), "-T", "psml")
    assert result.returncode == 0, result.stderr
    root = ET.fromstring(result.stdout)
    titles = [s.text or "" for s in root.find("structure")]
    return [dict(zip(titles, (s.text or "" for s in packet))) for packet in root.findall("packet")]


def test_the_packet_list_shows_nhrp_type_request_id_nbma_and_cie_columns(tmp_path):
    write_profile(tmp_path)
    rows = packet_list(tmp_path, capture(PHASE3))
    assert [(r["NHRP type"], r["Req ID"]) for r in rows] == [
        ("NHRP Traffic Indication", ""), ("NHRP Resolution Request", "0x00000005"),
        ("NHRP Resolution Request", "0x00000005"), ("NHRP Resolution Reply", "0x00000005")]
    reply = rows[3]
    assert (reply["Outer src"], reply["Outer dst"]) == ("192.168.123.3", "192.168.123.2")
    assert reply["Src NBMA"] == "192.168.123.2"  # the requester, echoed back in the reply
    assert reply["CIE NBMA"] == "192.168.123.3" and reply["CIE client"]


def test_without_the_profile_tshark_has_none_of_those_columns(tmp_path):
    rows = packet_list(tmp_path / "empty", capture(PHASE3))
    assert "NHRP type" not in rows[0] and "Req ID" not in rows[0]


def test_every_colouring_rule_is_a_filter_tshark_accepts():
    rules = color_rules()
    nhrp_types = {f for _name, f in rules if f.startswith("nhrp.hdr.op.type == ")}
    assert nhrp_types == {f"nhrp.hdr.op.type == {t}" for t in range(1, 9)}
    assert {"esp", "isakmp"} <= {f for _name, f in rules}
    pcap = str(capture(PHASE3))
    for name, display_filter in rules:
        result = tshark(None, "-r", pcap, "-Y", display_filter)
        assert result.returncode == 0, f"{name}: {display_filter!r}: {result.stderr}"


@pytest.mark.parametrize("pcap, first_rules", [
    ("dmvpn-nhrp-registration.pcap", ["NHRP Registration Request", "NHRP Registration Reply"]),
    (PHASE3, ["NHRP Traffic Indication", "NHRP Resolution Request", "NHRP Resolution Request",
              "NHRP Resolution Reply"]),
    ("dmvpn-ipsec-esp-encrypted-traffic.pcap", ["ESP"]),
    ("wireshark-capture-ipsec-ikev1-isakmp-main-mode.pcap", ["ISAKMP"]),
])
def test_the_colours_follow_the_nhrp_type_and_ipsec(tmp_path, pcap, first_rules):
    write_profile(tmp_path)
    result = tshark(tmp_path, "--color", "-r", str(capture(pcap)), "-T", "fields", "-e", "frame.coloring_rule.name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:len(first_rules)] == first_rules


def lab_keys_and_capture(directory: Path) -> Path:
    """A lab's capture directory as the agents leave it: key tables and an ESP capture."""
    transform = TRANSFORMS[1]
    KeyLog(directory).child_sa(sa_event(transform, spi_out=0x1000ABCD, spi_in=0x2000ABCD), SPOKE)
    pcap = directory / "spoke1-isp.pcap"
    wrpcap(str(pcap), esp_frames(OutboundSa(transform, 0x1000ABCD, keymat(transform, 1))))
    return pcap


def test_with_a_lab_capture_directory_the_profile_decrypts_esp_and_shows_the_nhrp_inside(tmp_path):
    pcap = lab_keys_and_capture(tmp_path / "captures")
    assert packet_list(tmp_path / "plain", pcap)[0]["Protocol"] == "ESP"
    written = write_profile(tmp_path / "profile", captures=tmp_path / "captures")
    assert written.esp_decryption and "esp_sa" in written.keys_copied
    first = packet_list(tmp_path / "profile", pcap)[0]
    assert (first["NHRP type"], first["Req ID"]) == ("NHRP Registration Request", "0x00000001")


def test_the_command_writes_the_profile_and_refuses_a_missing_capture_directory(tmp_path, capsys):
    lab_keys_and_capture(tmp_path / "captures")
    assert main(["wireshark-profile", str(tmp_path / "p"), "--captures", str(tmp_path / "captures")]) == 0
    assert "ESP decryption on" in capsys.readouterr().out
    assert "esp.enable_encryption_decode: TRUE" in (tmp_path / "p" / "preferences").read_text()
    assert main(["wireshark-profile", str(tmp_path / "q"), "--captures", str(tmp_path / "nope")]) == 2
    assert "no such capture directory" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_a_lab_capture_directory_gets_the_columns_and_colours_and_keeps_a_users_preferences(tmp_path):
    prepare_capture_config(tmp_path / "lab")
    prefs = (tmp_path / "lab" / "preferences").read_text()
    assert "esp.enable_encryption_decode: TRUE" in prefs and "nhrp.reqid" in prefs
    assert packet_list(tmp_path / "lab", capture(PHASE3))[1]["Req ID"] == "0x00000005"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "preferences").write_text("gui.column.format: \"No.\", \"%m\"\n")
    prepare_capture_config(tmp_path / "mine")
    assert (tmp_path / "mine" / "preferences").read_text() == "gui.column.format: \"No.\", \"%m\"\n"
    assert (tmp_path / "mine" / "colorfilters").read_text() == packaged("colorfilters")


def test_the_wheel_carries_every_profile_file():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shipped = set(project["tool"]["setuptools"]["package-data"]["dmvpnlab.wireshark"])
    on_disk = {f"data/{p.name}" for p in (REPO / "src/dmvpnlab/wireshark/data").iterdir()}
    assert on_disk == shipped
