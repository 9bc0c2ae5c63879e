"""What the report reads from a run's captures: links, NHRP exchanges, flow paths, timeline.

The run is crafted (tests/report_captures.py) so every expectation is known: two
registrations, one redirect with its resolution (forwarded by the hub with hop 254),
and an h1 -> h2 flow whose path changes from through-the-hub to spoke-to-spoke.
"""

from __future__ import annotations

import pytest

from dmvpnlab.report.collect import ReportError, collect
from dmvpnlab.report.exchanges import bound, group
from dmvpnlab.report.flows import flows
from dmvpnlab.report.timeline import events
from tests.report_captures import lab_json, phase3_run


@pytest.fixture
def run_dir(tmp_path):
    return phase3_run(tmp_path / "crafted")


def test_each_nhrp_packet_is_one_message_however_many_links_it_crossed(run_dir):
    run = collect(run_dir)
    assert len(run.nhrp) == 8  # 2 x (request, reply), TI, request, forwarded request, reply
    first = run.nhrp[0]
    assert first.name == "Registration Request"
    assert first.links == ["spoke1-isp", "hub-isp"]
    assert (first.sender, first.receiver) == ("spoke1", "hub")  # learnt from the routers' own links


def test_exchanges_pair_requests_with_replies_and_a_redirect_takes_its_resolution(run_dir):
    exchanges = group(collect(run_dir).nhrp)
    assert [e.kind for e in exchanges] == ["registration", "registration", "redirect"]
    redirect = exchanges[2]
    assert [m.name for m in redirect.messages] == ["Traffic Indication", "Resolution Request", "Resolution Request",
                                                   "Resolution Reply"]
    assert [m.fields["hop"] for m in redirect.messages[1:3]] == [255, 254]
    assert redirect.request_ids == [7]
    assert all(e.complete for e in exchanges)


def test_bounding_keeps_the_first_exchanges_of_each_kind_and_counts_the_rest(run_dir):
    exchanges = group(collect(phase3_run(run_dir.parent / "refreshing", refreshes=3)).nhrp)
    kept = bound(exchanges, per_kind=2)
    assert [e.kind for e in kept.shown].count("registration") == 2
    assert kept.left_out["registration"] == 6
    assert kept.left_out["redirect"] == 0


def test_the_flow_path_changes_from_through_the_hub_to_spoke_to_spoke(run_dir):
    run = collect(run_dir)
    lab_flows = flows(run.icmp, run.lab)
    assert len(lab_flows) == 1
    before, after = lab_flows[0].phases
    assert before.hops == ["h1", "spoke1", "isp", "hub", "isp", "spoke2", "h2"]
    assert after.hops == ["h1", "spoke1", "isp", "spoke2", "h2"]
    assert (after.first_seq, after.last_seq, after.echoes) == (2, 4, 3)
    assert after.hop_kinds == ["plain", "gre", "gre", "plain"]


def test_link_counts_say_what_crossed_each_link(run_dir):
    run = collect(run_dir)
    hub = run.links["hub-isp"]
    assert hub.kinds["nhrp"] == 7 and hub.kinds["gre"] == 2 and hub.dominant == "nhrp"
    assert run.links["spoke1-h1"].dominant == "plain"
    assert run.overlay[("spoke1", "spoke2")] == 3  # the shortcut's data packets


def test_the_timeline_has_the_fault_the_registrations_the_redirect_and_the_shortcut(run_dir):
    run = collect(run_dir)
    items = events(run, flows(run.icmp, run.lab))
    kinds = [e.category for e in items]
    assert kinds.count("registration") == 2 and "redirect" in kinds and "fault" in kinds and "path" in kinds
    shortcut = next(e for e in items if e.category == "shortcut")
    assert shortcut.text == "spoke1 learns 192.168.2.10/24 at NBMA 100.64.2.1 (from spoke2)"


def test_lab_json_names_the_nodes_and_marks_the_lab_as_described(run_dir):
    lab_json(run_dir)
    run = collect(run_dir)
    assert run.lab.from_file and run.lab.name == "crafted"
    assert run.lab.owner_of("192.168.1.10") == "h1"
    assert flows(run.icmp, run.lab)[0].src_name == "h1"


def test_without_lab_json_roles_come_from_the_file_names(run_dir):
    lab = collect(run_dir).lab
    assert not lab.from_file
    assert {n: lab.nodes[n].role for n in ("hub", "spoke1", "isp", "h1")} == {
        "hub": "hub", "spoke1": "spoke", "isp": "isp", "h1": "host"}


def test_a_damaged_capture_is_an_error_naming_it(run_dir):
    path = run_dir / "spoke1-isp.pcap"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ReportError, match="spoke1-isp.pcap: capture damaged at frame"):
        collect(run_dir)


def test_a_missing_directory_or_one_without_captures_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no such directory"):
        collect(tmp_path / "nope")
    with pytest.raises(ReportError, match="no captures"):
        collect(tmp_path)


def test_an_echo_lost_on_the_way_is_counted_not_taken_for_a_new_path(run_dir):
    run = collect(run_dir)
    kept = [s for s in run.icmp if not (s.link == "spoke2-h2" and s.seq == 4)]  # echo 4 never reached h2
    before, after = flows(kept, run.lab)[0].phases
    assert after.hops[-1] == "h2" and after.lost == 1 and after.echoes == 2


def test_a_ladder_draws_at_most_max_messages_arrows(run_dir):
    from dmvpnlab.report.ladder_svg import MAX_MESSAGES, ladder_svg

    run = collect(run_dir)
    exchange = group(run.nhrp)[2]
    exchange.messages = exchange.messages * (MAX_MESSAGES // 4 + 3)
    assert ladder_svg(exchange, 0, run.lab, run.t0).count('class="msg"') == MAX_MESSAGES
