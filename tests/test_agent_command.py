"""The agent refuses a config with malformed lines, naming them IOS-style, before touching anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dmvpnlab.agent.command import install_interface_map_file, read_interface_map
from dmvpnlab.ifnames import install_interface_map, installed_interface_map, linux_ifname

BAD_CONFIG = """\
hostname spoke9
interface Tunnel0
 ip address 10.0.0.300 255.255.255.0
 tunnel key abc
 ip nhrp holdtime
banner motd ^C
 Authorised access only
^C
line vty 0 4
 transport input ssh
"""


def run_agent(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "startup-config"
    path.write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "dmvpnlab", "agent", "--node", "spoke9", "--config", str(path),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30,
    )


def test_malformed_modelled_lines_are_refused_with_ios_errors_naming_each_line(tmp_path):
    result = run_agent(tmp_path, BAD_CONFIG)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "% Invalid input detected at '^' marker." in result.stderr
    for line in ("ip address 10.0.0.300 255.255.255.0", "tunnel key abc", "ip nhrp holdtime"):
        assert line in result.stderr
    assert "% Incomplete command." in result.stderr
    assert not (tmp_path / "state" / "ready").exists()
    assert "config refused" in (tmp_path / "state" / "agent.log").read_text()


def test_an_unreadable_config_file_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dmvpnlab", "agent", "--node", "x", "--config", str(tmp_path / "missing"),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("% Cannot read") and "Traceback" not in result.stderr


def test_a_config_file_that_is_not_utf8_is_read_with_escapes_never_a_traceback(tmp_path):
    # Latin-1 bytes and a malformed line: the agent refuses the line (so it starts nothing
    # here), showing the text as the parser stored it; the log says why it looks so.
    name = tmp_path / "startup-config-\udcff"  # the file name is not UTF-8 either
    Path(name).write_bytes(b"hostname spoke9\ninterface Tunnel0\n description caf\xe9\n tunnel key \xb2\n")
    result = subprocess.run(
        [sys.executable, "-m", "dmvpnlab", "agent", "--node", "spoke9", "--config", str(name),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert " tunnel key \\xb2" in result.stderr and "% Invalid input detected at '^' marker." in result.stderr
    assert "startup-config-\\udcff line 4:" in result.stderr
    log = (tmp_path / "state" / "agent.log").read_text()
    assert "line 3: bytes that are not UTF-8 are kept as \\xNN escapes" in log


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    probe = code + "\nimport sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def test_an_agent_with_the_cli_plugged_in_loads_neither_the_lab_nor_mininet_nor_rich():
    loaded = _modules_after("from dmvpnlab.command import FAST_PATHS, build_parser\n"
                            "build_parser((FAST_PATHS['agent'],))\n"
                            "from dmvpnlab.router import load\n"
                            "load()\n")
    assert "dmvpnlab.agent.core" in loaded and "dmvpnlab.cli.control_ops" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("mininet", "rich") or m.startswith("dmvpnlab.lab"))
    assert heavy == []


def test_the_agent_package_runs_without_the_cli():
    loaded = _modules_after("import pkgutil, importlib, dmvpnlab.agent as agent\n"
                            "for info in pkgutil.iter_modules(agent.__path__):\n"
                            "    importlib.import_module(f'dmvpnlab.agent.{info.name}')\n")
    assert "dmvpnlab.agent.zygote" in loaded and "dmvpnlab.agent.main" in loaded
    assert sorted(m for m in loaded if m.startswith("dmvpnlab.cli")) == []


def test_the_lab_starts_agents_with_the_console_command_whose_agent_module_is_the_fast_path():
    from dmvpnlab.command import FAST_PATHS
    from dmvpnlab.lab import agents

    argv = agents.agent_command("spoke9", Path("/x/startup-config"), Path("/x"))
    assert argv[1:4] == ["-m", "dmvpnlab", "agent"]
    assert FAST_PATHS["agent"] == FAST_PATHS["agent-zygote"] == agents.AGENT_MODULE
    assert agents.missing_parts() is None


# -- --interface-map PATH (wired labs) ------------------------------------------------------


def _agent_with_map(tmp_path: Path, map_text: str | bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "startup-config").write_text(BAD_CONFIG)
    map_path = tmp_path / "interface-map.json"
    map_path.write_bytes(map_text if isinstance(map_text, bytes) else map_text.encode())
    return subprocess.run(
        [sys.executable, "-m", "dmvpnlab", "agent", "--node", "Hub", "--config", str(tmp_path / "startup-config"),
         "--state-dir", str(tmp_path / "state"), "--interface-map", str(map_path)],
        capture_output=True, text=True, timeout=30,
    )


def test_a_good_interface_map_is_read_before_the_config(tmp_path):
    # The map is accepted, so the agent goes on to refuse the malformed config lines.
    result = _agent_with_map(tmp_path, '{"GigabitEthernet0/0": "Gi0-0", "Gi0/1": "Gi0-1"}')
    assert result.returncode == 2 and "tunnel key abc" in result.stderr
    assert "--interface-map" not in result.stderr


@pytest.mark.parametrize("text, says", [
    ("{not json", "is not JSON (line 1 column 2"),
    ('["Gi0/0", "Gi0-0"]', "expected a JSON object of IOS interface name -> Linux name strings"),
    ('{"Gi0/0": 7}', "expected a JSON object"),
    ('{"Serial0/0/0": "s0"}', "unknown interface name 'Serial0/0/0'"),
    ('{"Gi0/0": "Gi0/0"}', "is not a legal Linux interface name"),
    (b"\xff\xfe", "is not UTF-8 text"),
])
def test_a_bad_interface_map_is_one_clear_line_and_exit_2(tmp_path, text, says):
    result = _agent_with_map(tmp_path, text)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("% --interface-map: ") and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_interface_map_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        read_interface_map(tmp_path / "nope.json")


def test_the_interface_map_file_installs_the_map(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"Gi0/2": "Gi0-2"}')
    try:
        install_interface_map_file(path)
        assert installed_interface_map() == {"GigabitEthernet0/2": "Gi0-2"}
        assert linux_ifname("Hub", "GigabitEthernet0/2") == "Gi0-2"
    finally:
        install_interface_map(None)
    install_interface_map_file(None)  # no flag: native names stay
    assert installed_interface_map() is None


# -- never in the machine's root namespace ---------------------------------------------------


def test_a_good_config_is_refused_in_the_root_namespace_before_the_kernel_is_touched(tmp_path):
    from dmvpnlab.agent.netns_guard import in_root_namespace

    if not in_root_namespace():
        pytest.skip("this test process is not in PID 1's network namespace")
    result = run_agent(tmp_path, "hostname R1\ninterface Loopback0\n ip address 192.0.2.99 255.255.255.255\n")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "refusing to run in this machine's root network namespace" in result.stderr
    assert not (tmp_path / "state" / "ready").exists()
    assert "192.0.2.99" not in subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                                              text=True).stdout


def test_the_host_dhcp_client_is_refused_in_the_root_namespace():
    from dmvpnlab.agent.netns_guard import in_root_namespace

    if not in_root_namespace():
        pytest.skip("this test process is not in the machine's network namespace")
    result = subprocess.run([sys.executable, "-m", "dmvpnlab", "dhcp-client", "lo", "--timeout", "1"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("% dhcp-client: refusing to run in this machine's root network namespace")


def _fake_proc(root: Path, pids: dict[int, tuple[int, str | None]]) -> None:
    """pid -> (parent pid, namespace file name or None for an unreadable link)."""
    for pid, (parent, ns) in pids.items():
        (root / str(pid) / "ns").mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} (python3 x) S {parent} 1 1 0\n")
        if ns is not None:
            (root / ns).touch()
            (root / str(pid) / "ns" / "net").symlink_to(root / ns)
        else:
            (root / str(pid) / "ns" / "net").symlink_to(root / "unreadable-dangling")


def test_root_namespace_detection_compares_the_namespace_links(tmp_path):
    from dmvpnlab.agent.netns_guard import in_root_namespace

    _fake_proc(tmp_path / "a", {1: (0, "root"), 50: (1, "root"), 99: (50, "root")})
    assert in_root_namespace(str(tmp_path / "a"), 99)
    _fake_proc(tmp_path / "b", {1: (0, "root"), 50: (1, "root"), 99: (50, "lab")})
    assert not in_root_namespace(str(tmp_path / "b"), 99)
    # PID 1 unreadable (a sandbox): the earliest readable ancestor stands for the machine
    _fake_proc(tmp_path / "c", {1: (0, None), 10: (1, "root"), 50: (10, "lab"), 99: (50, "lab")})
    assert not in_root_namespace(str(tmp_path / "c"), 99)  # a shell inside a node
    _fake_proc(tmp_path / "d", {1: (0, None), 10: (1, "root"), 50: (10, "root"), 99: (50, "root")})
    assert in_root_namespace(str(tmp_path / "d"), 99)
    _fake_proc(tmp_path / "e", {1: (0, None), 99: (1, "lab")})  # reparented: nothing to compare
    assert not in_root_namespace(str(tmp_path / "e"), 99)
    assert not in_root_namespace(str(tmp_path / "missing"), 99)
