"""Node configuration batching (no namespaces are created: the queue is tested directly)."""

from __future__ import annotations

from ipaddress import IPv4Interface

from dmvpnlab.lab.nodes import MAX_LINE, LabNode, NatNode, RouterNode


def bare(cls):
    """A node object without a shell: only the command queue is exercised."""
    node = cls.__new__(cls)
    node._pending = []
    node.nameToIntf = {}
    return node


def test_queued_commands_are_joined_into_lines_the_pty_will_not_truncate():
    node = bare(LabNode)
    for i in range(300):
        node.queue(f"ip addr add 100.64.{i % 256}.2/30 dev isp-eth{i}")
    lines = node.chunks()
    assert len(lines) > 1
    assert all(len(line) < MAX_LINE + 100 < 4095 for line in lines)
    assert " ; ".join(lines).count("ip addr add") == 300
    assert node.chunks() == []  # the queue is consumed


def test_a_router_forwards_and_disables_rp_filter_a_host_does_neither():
    router, host = bare(RouterNode), bare(LabNode)
    router.base_config()
    host.base_config()
    assert "net.ipv4.ip_forward=1" in " ".join(router._pending)
    assert "rp_filter=0" in " ".join(router._pending)
    assert "net.ipv4.ip_forward=0" in " ".join(host._pending)
    assert "rp_filter" not in " ".join(host._pending)
    assert all("disable_ipv6=1" in " ".join(n._pending) for n in (router, host))


def test_a_nat_box_masquerades_only_on_its_outside_interface():
    nat = bare(NatNode)
    nat.masquerade("nat1-eth1")
    script = " ; ".join(nat._pending)
    assert "oifname nat1-eth1 masquerade" in script
    assert "hook postrouting" in script


def test_addresses_bring_the_interface_up_with_the_right_prefix():
    node = bare(RouterNode)
    node.add_address("spoke1-eth0", IPv4Interface("100.64.1.1/30"))
    assert node._pending[:2] == ["ip addr add 100.64.1.1/30 dev spoke1-eth0", "ip link set spoke1-eth0 up"]


def test_a_long_list_of_bridge_port_commands_is_split_into_lines_the_pty_keeps_whole():
    """200 spokes: the management bridge's per-port commands were one 7 KB line, cut at 4095 bytes."""
    from dmvpnlab.lab import management
    from dmvpnlab.lab.nodes import shell_lines

    commands = management.bridge_commands([f"p{i}" for i in range(1, 1001)])
    lines = shell_lines(commands)
    assert len(lines) > 1
    assert all(len(line) < 4095 for line in lines)
    assert [c for line in lines for c in line.split(" ; ")] == commands  # every command, in order


def test_a_command_longer_than_a_line_still_runs_alone_and_is_not_split():
    from dmvpnlab.lab.nodes import shell_lines

    long = "echo " + "x" * 5000
    assert shell_lines(["a", long, "b"], max_line=100) == ["a", long, "b"]
    assert shell_lines([]) == []


def test_the_runner_sends_each_line_to_the_node_and_joins_the_outputs():
    from dmvpnlab.lab.nodes import run_in_lines

    class Shell:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def cmd(self, line: str) -> str:
            self.lines.append(line)
            return "err\n" if "bad" in line else ""

    shell = Shell()
    assert run_in_lines(shell, [f"cmd{i:04d}" for i in range(600)] + ["bad"]) == "err"
    assert len(shell.lines) >= 2
