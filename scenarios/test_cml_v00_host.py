"""Two more CML labs run unchanged: the 0.0.x file format, and an ubuntu host from its cloud-init.

- topologies/cml/phase3-v0.0.yaml: Phase 3 written as CML 2.0 exported labs (version
  0.0.4, `configuration` a plain string): it comes up, the spokes register, and
  `ping 10.0.2.1 source Loopback0` at Spoke1 gives `!!!!!`.
- topologies/cml/ubuntu-host.yaml: Phase 3 plus Host1, an `ubuntu` node on Spoke1's
  GigabitEthernet0/1, addressed by the netplan in its cloud-init (10.0.101.10/24, default
  route via Spoke1): Host1 has that address and pings Spoke2's loopback across the DMVPN,
  first via the hub, then (Phase 3 redirect) spoke to spoke, as the captures show.

One lab at a time (class-scoped fixtures): the machine is small and shared.
"""

from __future__ import annotations

import time

import pytest

from cml_checks import (CML, assert_all_echoes, bring_up, direct, lab_captures, routed, router_ping, seqs,
                        spokes_registered, via_hub)
from crossings import shortcuts, wait_for

HOST, HOST_ADDRESS = "Host1", "10.0.101.10/24"


@pytest.fixture(scope="class")
def old_format_lab():
    yield from bring_up(CML / "phase3-v0.0.yaml")


@pytest.fixture(scope="class")
def host_lab():
    yield from bring_up(CML / "ubuntu-host.yaml")


class TestOldFormat:
    @pytest.fixture
    def lab(self, old_format_lab):
        return old_format_lab

    def test_comes_up_registers_and_pings_loopback_to_loopback(self, lab):
        spokes_registered(lab)
        routed(lab, "Spoke1", "10.0.0.0/16")
        routed(lab, "Spoke2", "10.0.0.0/16")
        _since, text = router_ping(lab, "Spoke1", "10.0.2.1")
        assert_all_echoes(text, source="10.0.1.1")


class TestUbuntuHost:
    @pytest.fixture
    def lab(self, host_lab):
        return host_lab

    def test_the_host_has_its_cloud_init_address(self, lab):
        shown = lab.exec(HOST, ["ip", "-4", "-o", "addr", "show"]).stdout
        assert HOST_ADDRESS in shown, shown
        assert "default via 10.0.101.1" in lab.exec(HOST, ["ip", "route", "show"]).stdout

    def test_the_host_pings_spoke2s_loopback_across_the_dmvpn(self, lab):
        spokes_registered(lab)
        routed(lab, "Spoke2", "10.0.0.0/16")
        routed(lab, "Hub", "10.0.101.0/24")
        assert wait_for(lambda: lab.exec(HOST, ["ping", "-n", "-c", "1", "-W", "1", "10.0.2.1"]).ok, timeout=15)
        done = lab.exec(HOST, ["ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", "10.0.2.1"])
        assert done.ok and " 0% packet loss" in done.stdout, done.stdout + done.stderr

    def test_after_the_redirect_the_hosts_echoes_go_spoke_to_spoke(self, lab):
        assert wait_for(lambda: "via 192.168.0.3 dev Tunnel0" in shortcuts(lab, "Spoke1"), timeout=10), \
            shortcuts(lab, "Spoke1")
        since = time.time()
        done = lab.exec(HOST, ["ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", "10.0.2.1"])
        assert done.ok, done.stdout + done.stderr
        seen = lab_captures(lab)
        requests = seen.echo(HOST_ADDRESS.split("/")[0], "10.0.2.1", since=since)
        assert seqs(direct(requests)) == {1, 2, 3, 4, 5}, requests
        assert via_hub(requests) == [], "the hub sees none of them"
