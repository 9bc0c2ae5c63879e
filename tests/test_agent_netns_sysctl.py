"""Agent parts set router-wide sysctls only inside a router's namespace, never the machine's."""

from __future__ import annotations

from dmvpnlab.agent import netns_guard


def test_in_the_machines_own_namespace_a_router_sysctl_is_not_written(monkeypatch):
    written = []
    monkeypatch.setattr(netns_guard, "in_root_namespace", lambda: True)
    monkeypatch.setattr(netns_guard, "try_set_sysctl", lambda k, v: written.append((k, v)) or True)
    assert netns_guard.set_router_sysctl("net/ipv4/ip_forward", "1") is False
    assert written == []


def test_in_a_router_namespace_it_is_written(monkeypatch):
    written = []
    monkeypatch.setattr(netns_guard, "in_root_namespace", lambda: False)
    monkeypatch.setattr(netns_guard, "try_set_sysctl", lambda k, v: written.append((k, v)) or True)
    assert netns_guard.set_router_sysctl("net/ipv4/ip_forward", "1") is True
    assert written == [("net/ipv4/ip_forward", "1")]
