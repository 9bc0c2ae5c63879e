"""The node table (bring-up, status) and the demo's step runner, without a lab."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from dmvpnlab.lab.demo.items import Check, Step
from dmvpnlab.lab.demo.steps import STEPS, register_step, run_steps
from dmvpnlab.lab.table import STATUS_COLUMNS, node_rows, render_text, with_pids
from dmvpnlab.lab.topology.build import topology_from_data

NAT_LAB = {"hub": {}, "spokes": 2, "routers": {"spoke2": {"nat": "nat1"}}, "nat_boxes": ["nat1"]}


def topo():
    return topology_from_data(NAT_LAB, Path("topologies/natlab.yaml"))


def test_table_rows_are_routers_then_nat_boxes_then_the_isp():
    rows = node_rows(topo())
    assert [r["name"] for r in rows] == ["hub", "spoke1", "spoke2", "nat1", "isp"]
    hub = rows[0]
    assert (hub["role"], hub["nbma"], hub["tunnel"], hub["lan"], hub["hosts"]) == (
        "hub", "203.0.113.1", "10.0.0.1/24", "192.168.0.0/24", "h0")


def test_a_spoke_behind_nat_shows_its_pre_nat_nbma_and_the_outside_address():
    rows = {r["name"]: r for r in node_rows(topo())}
    assert rows["spoke2"]["nbma"] == "172.16.1.1 (via nat1 100.64.2.1)"
    assert rows["nat1"]["nbma"] == "100.64.2.1 (outside)"
    assert rows["isp"]["hosts"] == "3 links"


def test_rendered_table_has_the_headings_and_one_line_per_node():
    text = render_text(node_rows(topo()), "lab natlab")
    assert "lab natlab" in text
    for heading in ("Node", "Role", "NBMA address", "Tunnel", "LAN", "Hosts"):
        assert heading in text
    assert sum(1 for line in text.splitlines() if "spoke" in line) == 2 + 1  # spoke1, spoke2, (spoke2) of nat1


def test_status_table_adds_the_pid_of_each_node_shell():
    rows = with_pids(node_rows(topo()), {"hub": 4242})
    text = render_text(rows, None, STATUS_COLUMNS)
    assert "PID" in text and "4242" in text
    assert rows[1]["pid"] == "-"


def test_demo_holds_only_if_every_check_of_every_step_held():
    lines: list[str] = []
    good = Step("good", lambda lab: [Check("a", True), Check("b", True, "fine")])
    bad = Step("bad", lambda lab: [Check("c", False, "lost")])
    assert run_steps(SimpleNamespace(), lines.append, [good]) is True
    assert run_steps(SimpleNamespace(), lines.append, [good, bad]) is False
    assert "    FAIL c  (lost)" in lines


def test_a_crashing_demo_step_is_a_failed_step_not_a_crash():
    lines: list[str] = []

    def boom(lab):
        raise RuntimeError("no agent")

    assert run_steps(SimpleNamespace(), lines.append, [Step("boom", boom)]) is False
    assert any("RuntimeError: no agent" in line for line in lines)


def test_steps_can_be_registered_before_an_existing_step():
    step = Step("DMVPN: spokes register", lambda lab: [])
    saved = list(STEPS)
    try:
        register_step(step, before=STEPS[-1].title)
        assert STEPS[-2] is step
    finally:
        STEPS[:] = saved
