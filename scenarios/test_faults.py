"""Faults as a lab API: each one recorded with its time, each effect read from the captures.

One Phase 3 lab (hub, spoke1, spoke2; spokes register every 2 s). The `lab_faults`
fixture undoes every fault after each test, so the tests do not depend on their order.
"""

from __future__ import annotations

import re
import time

import pytest

from crossings import H1, H2, HUB_NBMA, SPOKE1_WAN, agent_state, captures, ping, shortcuts, wait_for
from fault_checks import agent_pid, nhs_counters, nhs_states, registrations_after, rss_kib

pytestmark = pytest.mark.dmvpn_topology("topologies/faults.yaml")
HUB_TUNNEL = "10.0.0.1"


def rtt_ms(lab, src: str, dst: str, count: int = 5) -> float:
    result = lab.exec(src, ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", dst])
    assert result.ok, result.stdout
    return float(re.search(r"= [\d.]+/([\d.]+)/", result.stdout).group(1))


def test_delay_is_added_in_the_agents_tunnel_and_cleared(lab, lab_faults):
    base = rtt_ms(lab, "spoke1", HUB_TUNNEL)
    event = lab_faults.fault("delay", "spoke1", ms=50, jitter=5)
    assert event.params["where"].startswith("agent tunnel")
    delayed = rtt_ms(lab, "spoke1", HUB_TUNNEL)
    print(f"RTT spoke1 -> hub over the tunnel: {base:.2f} ms, with 50 +- 5 ms delay: {delayed:.2f} ms")
    assert 44 <= delayed - base <= 70
    assert agent_state(lab, "spoke1")["impairment"]["delayed"] >= 5
    lab_faults.fault("delay", "spoke1", ms=0)
    assert rtt_ms(lab, "spoke1", HUB_TUNNEL) < base + 20
    assert agent_state(lab, "spoke1")["impairment"] is None


def test_a_cut_wan_stops_registrations_and_they_resume_when_it_returns(lab, lab_faults):
    down = lab_faults.fault("link-down", "spoke1", duration=4)
    assert wait_for(lambda: nhs_states(lab, "spoke1")[HUB_TUNNEL] == "E", timeout=6)
    assert lab_faults.wait(timeout=10)
    up = next(e for e in lab.faults() if e.kind == "link-down" and e.action == "up" and e.time > down.time)
    assert wait_for(lambda: nhs_states(lab, "spoke1")[HUB_TUNNEL] == "R", timeout=6)
    requests = registrations_after(lab, SPOKE1_WAN, down.time)
    replies = registrations_after(lab, SPOKE1_WAN, down.time, replies=True)
    # Nothing leaves a port without carrier; the first reply after the cut comes after it ends.
    assert not [r for r in requests if down.time + 0.2 < r.time < up.time - 0.2]
    assert replies and min(r.time for r in replies) > up.time
    print(f"cut {up.time - down.time:.2f} s; registered again {min(r.time for r in replies) - up.time:.2f} s after")


def test_a_killed_hub_stays_dead_until_restarted_and_spokes_register_again(lab, lab_faults):
    kill = lab_faults.fault("kill", "hub")
    assert wait_for(lambda: nhs_states(lab, "spoke1")[HUB_TUNNEL] == "E", timeout=8)
    seen_e = time.time()
    restart = lab_faults.fault("restart", "hub")
    assert restart.params["was"] == "dead"
    assert wait_for(lambda: set(nhs_states(lab, "spoke1").values()) == {"R"}
                    and set(nhs_states(lab, "spoke2").values()) == {"R"}, timeout=10)
    print(f"hub killed: spoke1 saw its NHS E after {seen_e - kill.time:.2f} s; "
          f"both registered again {time.time() - restart.time:.2f} s after the restart began")
    replies = registrations_after(lab, "hub-isp", restart.time, replies=True)
    assert {str(r.outer_dst) for r in replies} >= {"100.64.1.1", "100.64.2.1"}


def test_five_percent_loss_everywhere_registrations_and_shortcuts_still_form(lab, lab_faults):
    loss = lab_faults.fault("loss", "all", percent=5)
    assert loss.params["links"] == 3
    lab_faults.fault("reload", "spoke1")
    lab_faults.fault("reload", "spoke2")
    assert wait_for(lambda: all(nhs_states(lab, n)[HUB_TUNNEL] == "R" for n in ("spoke1", "spoke2")), timeout=15)
    # Traffic keeps flowing while the shortcut forms: a lost redirect or resolution is retried.
    assert wait_for(lambda: _ping_ok(lab) and "192.168.2.0/24 via 10.0.0.3" in shortcuts(lab, "spoke1")
                    and "192.168.1.0/24 via 10.0.0.2" in shortcuts(lab, "spoke2"), timeout=30)
    # registrations keep running under loss (six every 12 s per spoke), and so does traffic
    lab.exec("h1", ["ping", "-n", "-q", "-c", "100", "-i", "0.1", "-W", "1", H2], timeout=30)
    dropped = sum(n for rules in lab_faults.loss_counters().values() for n in rules.values())
    counters = {n: nhs_counters(lab, n)[HUB_TUNNEL] for n in ("spoke1", "spoke2")}
    resent = {n: agent_state(lab, n)["nhrp"]["traffic"]["retransmitted"] for n in ("spoke1", "spoke2")}
    print(f"5 % loss: {dropped} packets dropped by the loss rules; registrations (sent, replied): {counters}; "
          f"resolution retransmissions {resent}")
    assert dropped > 0
    assert all(sent >= replies > 0 for sent, replies in counters.values())
    # `show ip nhrp nhs detail` shows the same counters: requests sent vs replies received.
    for node in ("spoke1", "spoke2"):
        detail = lab.cli(node, "show ip nhrp nhs detail")
        sent, replies = (int(x) for x in re.search(r"req-sent (\d+)\s+req-failed \d+\s+repl-recv (\d+)", detail).groups())
        now_sent, now_replies = nhs_counters(lab, node)[HUB_TUNNEL]
        assert now_sent - 1 <= sent <= now_sent and now_replies - 1 <= replies <= now_replies, detail


def _ping_ok(lab) -> bool:
    return lab.exec("h1", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", H2]).stdout.count("bytes from") > 0


def test_the_isp_down_cuts_everyone_and_all_come_back(lab, lab_faults):
    down = lab_faults.fault("isp-down", "isp", duration=3)
    assert lab.exec("spoke1", ["ping", "-n", "-c", "1", "-W", "1", HUB_NBMA]).returncode != 0
    assert lab_faults.wait(timeout=10)
    up = next(e for e in lab.faults() if e.kind == "isp-down" and e.action == "up" and e.time > down.time)
    assert 2.9 <= up.time - down.time <= 4
    assert wait_for(lambda: all(nhs_states(lab, n)[HUB_TUNNEL] == "R" for n in ("spoke1", "spoke2")), timeout=8)
    _, result = ping(lab, "h1", H2, count=3)
    assert result.ok


def test_a_renumbered_spoke_is_registered_at_its_new_nbma(lab, lab_faults):
    event = lab_faults.fault("renumber", "spoke2", address="100.64.2.5/30", gateway="100.64.2.6")
    assert event.params["old"] == "100.64.2.1/30"

    def hub_nbma_of_spoke2():
        return next((e["nbma"] for e in agent_state(lab, "hub")["nhrp"]["cache"] if e["next_hop"] == "10.0.0.3"), None)

    assert wait_for(lambda: hub_nbma_of_spoke2() == "100.64.2.5", timeout=8), hub_nbma_of_spoke2()
    print(f"renumbered: the hub maps spoke2 to its new NBMA {time.time() - event.time:.2f} s after")
    _, result = ping(lab, "h1", H2, count=3)
    assert result.ok
    lab.fault("renumber", "spoke2", address="100.64.2.1/30", gateway="100.64.2.2")
    assert wait_for(lambda: hub_nbma_of_spoke2() == "100.64.2.1", timeout=8)


def test_a_wan_flapping_every_2_s_for_30_s_reregisters_each_time_no_stale_shortcut_no_growth(lab, lab_faults):
    _, result = ping(lab, "h1", H2, count=10)
    assert result.ok and wait_for(lambda: "192.168.1.0/24" in shortcuts(lab, "spoke2"), timeout=5)
    pids = {n: agent_pid(lab, n) for n in ("hub", "spoke1", "spoke2")}
    rss_before = {n: rss_kib(p) for n, p in pids.items()}
    flap = lab_faults.fault("flap", "spoke1", period=2, duration=30)
    assert lab_faults.wait(timeout=45)
    ups = [e for e in lab.faults() if e.kind == "flap" and e.action == "up" and e.time > flap.time]
    assert len(ups) == 15
    assert wait_for(lambda: nhs_states(lab, "spoke1")[HUB_TUNNEL] == "R", timeout=6)
    replies = registrations_after(lab, SPOKE1_WAN, flap.time, replies=True)
    after_each_up = [any(u.time < r.time < u.time + 2.0 for r in replies) for u in ups]
    print(f"flap: {len(ups)} ups, a registration reply within 2 s after {sum(after_each_up)} of them")
    assert sum(after_each_up) >= len(ups) - 1
    assert {n: agent_pid(lab, n) for n in pids} == pids, "no agent crashed or restarted"
    stale = [e for e in agent_state(lab, "spoke2")["nhrp"]["cache"] if e["next_hop"] == "10.0.0.2"
             and e["nbma"] != "100.64.1.1"]
    assert stale == []
    _, result = ping(lab, "h2", H1, count=5)
    assert result.ok
    rss_after = {n: rss_kib(p) for n, p in pids.items()}
    print(f"RSS KiB before/after the flaps: {rss_before} / {rss_after}")
    assert all(rss_after[n] <= rss_before[n] * 1.10 + 512 for n in pids)
