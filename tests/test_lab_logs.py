"""`dmvpnlab logs NODE`: the node is found in the labs that are up, an unknown name lists
the nodes there are, -n takes the last lines, -f follows until the lab goes down."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dmvpnlab.command import build_parser
from dmvpnlab.lab.logs_command import find_log, follow, lab_is_up, last_lines
from dmvpnlab.lab.records import LabRecords, ProcessRecord, record_process
from dmvpnlab.rundir import AGENT_LOG


def lab(root: Path, name: str, nodes: dict[str, str | None]) -> LabRecords:
    """A lab's records with `nodes` (name -> its agent log text, None: no agent)."""
    records = LabRecords.create(name, "t.yaml", root=root)
    records.update(nodes=[{"name": n, "role": "router", "pid": 1} for n in nodes])
    for node, text in nodes.items():
        if text is not None:
            (records.directory / node).mkdir()
            (records.directory / node / AGENT_LOG).write_text(text)
    return records


def test_the_node_is_found_in_the_lab_that_has_it_in_any_case(tmp_path):
    labs = [lab(tmp_path, "default", {"hub": "h\n", "spoke1": "s\n"}), lab(tmp_path, "ospf", {"R1": "r\n"})]
    found = find_log("r1", None, labs)
    assert (found.lab, found.node, found.path.read_text()) == ("ospf", "R1", "r\n")


def test_an_unknown_node_is_an_error_that_lists_the_nodes(tmp_path):
    labs = [lab(tmp_path, "default", {"hub": "", "spoke1": ""})]
    with pytest.raises(LookupError, match=r"no node 'hbu' in any lab that is up; nodes: hub \(default\), spoke1 \(default\)"):
        find_log("hbu", None, labs)


def test_with_no_lab_up_the_error_says_so(tmp_path):
    with pytest.raises(LookupError, match="no lab is up"):
        find_log("hub", None, [])
    with pytest.raises(LookupError, match=r"no lab 'ospf' is up \(labs up: default\)"):
        find_log("hub", "ospf", [lab(tmp_path, "default", {"hub": ""})])


def test_a_node_in_two_labs_needs_lab_and_lab_picks_it(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    labs = [lab(tmp_path / "a", "one", {"hub": "1\n"}), lab(tmp_path / "b", "two", {"hub": "2\n"})]
    with pytest.raises(LookupError, match="several labs"):
        find_log("hub", None, labs)
    assert find_log("hub", "two", labs).path.read_text() == "2\n"


def test_a_node_without_an_agent_log_says_why(tmp_path):
    with pytest.raises(LookupError, match="has no agent log"):
        find_log("h1", None, [lab(tmp_path, "default", {"h1": None})])


def test_last_lines_takes_the_tail_across_read_blocks(tmp_path):
    path = tmp_path / "agent.log"
    path.write_bytes(b"".join(b"line %d %s\n" % (i, b"x" * 100) for i in range(1000)))
    text, end = last_lines(path, 3)
    assert text.splitlines() == [b"line %d %s" % (i, b"x" * 100) for i in (997, 998, 999)]
    assert end == path.stat().st_size
    assert last_lines(path, 0)[0] == path.read_bytes()
    path.write_bytes(b"only\nno newline at the end")
    assert last_lines(path, 5)[0] == b"only\nno newline at the end"


def test_follow_prints_what_is_appended_and_stops_when_the_lab_goes_down(tmp_path):
    path = tmp_path / "agent.log"
    path.write_bytes(b"old\n")
    out = io.BytesIO()
    ticks = []

    def sleep(_interval: float) -> None:  # the agent writes between polls
        ticks.append(1)
        with open(path, "ab") as f:
            f.write(b"tick %d\n" % len(ticks))

    follow(path, 4, out, lab_up=lambda: len(ticks) < 7, sleep=sleep)
    lines = out.getvalue().splitlines()
    assert lines[0] == b"tick 1" and b"old" not in lines
    assert lines == [b"tick %d" % i for i in range(1, len(lines) + 1)]  # nothing lost, nothing twice
    assert len(lines) == len(ticks)  # what was written before the lab went down was printed


def test_follow_rereads_a_log_that_was_recreated(tmp_path):
    path = tmp_path / "agent.log"
    path.write_bytes(b"a long first life\n")
    out = io.BytesIO()
    calls = []

    def sleep(_interval: float) -> None:
        calls.append(1)
        if len(calls) == 1:
            path.write_bytes(b"new\n")

    follow(path, path.stat().st_size, out, lab_up=lambda: False, sleep=sleep)
    assert out.getvalue() == b"new\n"


def test_a_lab_is_up_while_its_owner_lives_and_its_records_exist(tmp_path):
    records = lab(tmp_path, "default", {})
    assert not lab_is_up(records)  # no owner recorded
    records.hand_over(record_process(os.getpid(), "controller"))
    assert lab_is_up(records)
    records.hand_over(ProcessRecord(pid=os.getpid(), start_time=-1, cmdline=[], kind="controller"))
    assert not lab_is_up(records)
    records.path.unlink()
    assert not lab_is_up(records)


def test_the_logs_subcommand_parses():
    args = build_parser().parse_args(["logs", "hub", "-f", "-n", "5", "--lab", "default"])
    assert (args.node, args.follow, args.lines, args.lab) == ("hub", True, 5, "default")
