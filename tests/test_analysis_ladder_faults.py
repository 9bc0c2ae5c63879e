"""The ladder interleaves a lab's fault record with the capture's packets, by wall-clock time."""

from __future__ import annotations

import json

from dmvpnlab.analysis.ladder import Event, format_ladder, read_fault_record


def event(frame: int, at: float, start: float = 1000.0) -> Event:
    return Event(frame=frame, time=at - start, src="100.64.1.1", dst="203.0.113.1", kind="nhrp",
                 message="Registration Request", at=at)


def test_faults_appear_between_the_packets_they_fall_between_with_capture_relative_time():
    lines = list(format_ladder([event(1, 1000.0), event(2, 1002.0)], [(1001.5, "kill hub inject")]))
    assert lines[1].lstrip().startswith("1 ")
    assert lines[2].split() == ["-", "1.500000", "--", "fault:", "kill", "hub", "inject"]
    assert lines[3].lstrip().startswith("2 ")


def test_faults_after_the_last_packet_come_at_the_end():
    lines = list(format_ladder([event(1, 1000.0)], [(1010.0, "clear all inject")]))
    assert lines[-1].split()[:3] == ["-", "10.000000", "--"]


def test_the_record_is_read_from_its_json_lines_and_bad_lines_are_skipped(tmp_path):
    path = tmp_path / "faults.jsonl"
    path.write_text(json.dumps({"kind": "loss", "target": "all", "action": "inject", "time": 5.0,
                                "params": {"percent": 5}}) + "\n{torn\n")
    assert read_fault_record(path) == [(5.0, "loss all inject percent=5")]
    assert read_fault_record(tmp_path / "missing.jsonl") == []
