"""The fault record: one JSON line per event, wall-clock timed, readable by another process."""

from __future__ import annotations

import json
import time

from dmvpnlab.lab.faults import FaultEvent, FaultLog, read_events


def test_events_are_appended_in_order_with_wall_clock_time(tmp_path):
    log = FaultLog(tmp_path / "faults.jsonl")
    before = time.time()
    log.record(FaultEvent("kill", "hub", "inject", params={"pid": 42}))
    log.record(FaultEvent("restart", "hub", "ready"))
    events = read_events(tmp_path / "faults.jsonl")
    kill, restart = list(events)
    assert (kill.kind, kill.target, kill.action, kill.params) == ("kill", "hub", "inject", {"pid": 42})
    assert before <= kill.time <= restart.time <= time.time()
    assert restart.mono >= kill.mono


def test_a_torn_last_line_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "faults.jsonl"
    FaultLog(path).record(FaultEvent("loss", "all", "inject", params={"percent": 5.0}))
    with open(path, "a") as out:
        out.write('{"kind": "flap", "tar')
    assert [e.kind for e in read_events(path)] == ["loss"]


def test_a_missing_record_has_no_events(tmp_path):
    assert list(read_events(tmp_path / "none.jsonl")) == []


def test_the_list_line_names_time_kind_target_action_and_parameters():
    event = FaultEvent("flap", "spoke1", "inject", time=0.25, params={"period": 2.0})
    assert event.line() == "00:00:00.250 flap       spoke1     inject period=2.0"
    assert json.loads(json.dumps(event.to_json()))["params"] == {"period": 2.0}
