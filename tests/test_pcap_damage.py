"""Damaged captures: `dmvpnlab pcap` prints what it could read, names the cut frame and exits 3.

Regressions for the "hostile input" issue (item 5: a truncated last record exited 0 with
only scapy's warning), and the record reader behind it (`analysis.capfile`): pcap and
pcapng variants read as scapy reads them, damage found wherever it is.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import GRE, IP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapReader, wrpcap
from test_pcap_inspector import _nhrp_bytes, run_pcap

from cisco_captures import capture
from dmvpnlab.analysis import capfile, ladder, paths
from dmvpnlab.analysis.commands import EXIT_DAMAGED
from fuzz.targets.pcap_inspector import pcap_file, pcapng_file, pcapng_interface, pcapng_packet, pcapng_section

CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus" / "pcap-inspector"


def nhrp_frames(count: int) -> list[bytes]:
    return [bytes(IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(_nhrp_bytes(i + 1)))
            for i in range(count)]


def cut_copy(source: Path, tmp_path: Path, drop: int) -> Path:
    data = source.read_bytes()
    path = tmp_path / f"cut-{source.name}"
    path.write_bytes(data[:len(data) - drop])
    return path


# ------------------------------------------------------------- the command


def test_truncated_last_record_prints_what_was_read_then_names_the_frame_and_exits_3(tmp_path, capsys):
    full = capture("dmvpn-nhrp-registration.pcap")
    _, good, _ = run_pcap(capsys, full)
    code, out, err = run_pcap(capsys, cut_copy(full, tmp_path, 10))
    assert code == EXIT_DAMAGED == 3
    assert out.splitlines() == good.splitlines()[:2], "the header and the request, exactly as before"
    assert err.strip() == (f"dmvpnlab pcap: {tmp_path}/cut-dmvpn-nhrp-registration.pcap: capture damaged at frame 2 "
                           "(byte offset 183): record cut: 163 bytes announced, 153 in the file; 1 frame was read "
                           "before it")


def test_json_mode_stays_json_and_the_damage_goes_to_stderr(tmp_path, capsys):
    code, out, err = run_pcap(capsys, cut_copy(capture("gre-tunnel-with-key.pcapng"), tmp_path, 7), "--json")
    assert code == 3
    assert [json.loads(line)["frame"] for line in out.splitlines()] == [1]
    assert "capture damaged at frame 2 (byte offset 372): block cut: 176 bytes announced, 169 in the file" in err


def test_roundtrip_summary_names_the_damage_and_exits_3(tmp_path, capsys):
    path = tmp_path / "three.pcap"
    path.write_bytes(pcap_file(nhrp_frames(3))[:-1])
    code, out, _ = run_pcap(capsys, path, "--roundtrip")
    assert code == 3
    assert out.startswith("2 NHRP packets decode and re-encode byte for byte before the damage; ")
    assert "capture damaged at frame 3 (byte offset " in out


def test_a_roundtrip_mismatch_before_the_damage_is_still_exit_1(tmp_path, capsys):
    frames = nhrp_frames(3)
    frames[0] = frames[0][:-3] + bytes([frames[0][-3] ^ 0x40]) + frames[0][-2:]
    path = tmp_path / "bad-then-cut.pcap"
    path.write_bytes(pcap_file(frames)[:-1])
    code, out, _ = run_pcap(capsys, path, "--roundtrip")
    assert code == 1 and out.startswith("frame 1:")


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_each_damaged_corpus_file_exits_3_with_one_line(path: Path, capsys):
    code, _, err = run_pcap(capsys, path)
    assert code == 3 and len(err.strip().splitlines()) == 1 and "capture damaged at frame" in err


def test_good_capture_still_exits_0_and_a_file_that_is_no_capture_still_exits_2(tmp_path, capsys):
    assert run_pcap(capsys, capture("dmvpn-phase-3-traffic-indication.pcap"))[0] == 0
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    code, _, err = run_pcap(capsys, empty)
    assert code == 2 and "not a pcap or pcapng capture (empty file)" in err
    half = tmp_path / "half-header.pcap"
    half.write_bytes(pcap_file([])[:10])
    code, _, err = run_pcap(capsys, half)
    assert code == 2 and "file header cut: 10 of 24 bytes" in err


def test_the_exit_codes_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        run_pcap(capsys, "--help")
    assert "3 the capture is damaged" in capsys.readouterr().out


# ------------------------------------------------------------- the record reader


def read_all(path: Path) -> tuple[list[capfile.Record], capfile.CaptureDamaged | None]:
    records: list[capfile.Record] = []
    with capfile.CaptureReader(path) as reader:
        try:
            records.extend(reader)
        except capfile.CaptureDamaged as damage:
            return records, damage
    return records, None


@pytest.mark.parametrize("build", [
    pytest.param(lambda frames: pcap_file(frames, nano=True), id="pcap-nanoseconds"),
    pytest.param(lambda frames: pcap_file(frames, order=">"), id="pcap-big-endian"),
    pytest.param(lambda frames: pcapng_file(frames), id="pcapng-two-sections-epb-spb-pb"),
    pytest.param(lambda frames: pcapng_file(frames, order=">"), id="pcapng-big-endian"),
])
def test_records_and_times_are_scapys(build, tmp_path):
    frames = nhrp_frames(4)
    path = tmp_path / "x.cap"
    path.write_bytes(build(frames))
    records, damage = read_all(path)
    assert damage is None
    theirs = list(PcapReader(str(path)))
    assert [r.data for r in records] == [bytes(p) for p in theirs]
    assert [r.time for r in records[:4]] == [float(p.time) for p in theirs[:4]]
    if len(records) > 4:  # pcapng_file's second section: a simple and an obsolete packet block
        # A simple packet block has no time: we keep the previous packet's (scapy: the time of reading).
        assert records[4].time == records[3].time
        # Interface ids count per section (scapy's count over the file, so it takes section 1's
        # nanoseconds): 2**20 ticks of 2**-20 s.
        assert records[5].time == 1.0 and records[5].resolution == 2**20


def test_a_gzipped_capture_reads_the_same_and_a_cut_one_is_damaged(tmp_path):
    plain = capture("dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap")
    zipped = tmp_path / "x.pcap.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert [r.data for r in read_all(zipped)[0]] == [r.data for r in read_all(plain)[0]]
    zipped.write_bytes(gzip.compress(plain.read_bytes())[:-30])
    _, damage = read_all(zipped)
    assert damage is not None and "unreadable from here" in damage.reason


@pytest.mark.parametrize("mangle, reason", [
    (lambda ng: ng[:-5], "block cut"),
    (lambda ng: ng[:-4] + struct.pack("<I", 12345), "corrupt block: trailing length 12,345 differs from leading"),
    (lambda ng: ng + struct.pack("<II", 6, 13), "corrupt block header: block length 13"),
    (lambda ng: ng + b"\x06\x00", "block header cut: 2 of 8 bytes"),
    (lambda ng: ng + pcapng_packet(b"x", 0, interface=7), "interface 7, but the section describes 1"),
    (lambda ng: ng + pcapng_section()[:8] + b"\x00" * 4, "corrupt section header: byte-order magic 00000000"),
])
def test_pcapng_damage_is_found_wherever_it_is(mangle, reason, tmp_path):
    good = pcapng_section() + pcapng_interface() + b"".join(pcapng_packet(f, i) for i, f in enumerate(nhrp_frames(2)))
    path = tmp_path / "x.pcapng"
    path.write_bytes(mangle(good))
    records, damage = read_all(path)
    assert damage is not None and reason in damage.reason
    assert len(records) == damage.frame - 1 <= 2


def test_cutting_at_the_reported_offset_gives_a_clean_capture(tmp_path):
    data = pcap_file(nhrp_frames(3))
    path = tmp_path / "x.pcap"
    path.write_bytes(data[:-20])
    records, damage = read_all(path)
    assert damage is not None and damage.frame == 3
    path.write_bytes(data[:damage.offset])
    assert read_all(path) == (records, None)


def test_the_scenarios_reader_still_takes_a_capture_whose_last_block_is_being_written(tmp_path):
    """paths.read_link reads live captures: a cut last block ends the link, it is no error."""
    path = tmp_path / "spoke1-isp.pcap"
    wrpcap(str(path), [Ether() / IP(src="100.64.1.1", dst="203.0.113.1") / GRE(proto=0x2001) / Raw(_nhrp_bytes(i))
                       for i in (1, 2)])
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    assert len(list(paths.read_link(path))) == 1
    result = ladder.roundtrip(path)
    assert result.ok and result.checked == 1 and result.damage is not None and result.damage.frame == 2
