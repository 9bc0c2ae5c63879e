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
        [sys.executable, "-m", "dmvpnlab.command", "agent", "--node", "spoke9", "--config", str(path),
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
        [sys.executable, "-m", "dmvpnlab.command", "agent", "--node", "x", "--config", str(tmp_path / "missing"),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("% Cannot read") and "Traceback" not in result.stderr
