"""The agent refuses a config with malformed lines, naming them IOS-style, before touching anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
