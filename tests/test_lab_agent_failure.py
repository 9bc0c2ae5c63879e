"""The bring-up error of an agent that refused its config shows the refusal once.

The lab starts each agent with stdout and stderr appended to its agent.log and builds the
error from that log's tail; an agent that both logged and printed its refusal put it in
the log twice. Here the real agent runs as the lab starts it (its output into agent.log)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dmvpnlab.agent.main import stderr_is
from dmvpnlab.lab.agents import failure_message, log_size
from dmvpnlab.rundir import AGENT_LOG

BAD = "hostname hub\ninterface Tunnel0\n ip address 10.0.0.999 255.255.255.0\n"
CARET_LINE = "% Invalid input detected at '^' marker."


def start_like_the_lab(tmp_path: Path, config: str) -> tuple[int, Path]:
    state = tmp_path / "hub"
    state.mkdir(exist_ok=True)
    (state / "startup-config").write_text(config)
    log = state / AGENT_LOG
    with open(log, "ab") as out:  # what Launcher.launch does
        code = subprocess.run([sys.executable, "-m", "dmvpnlab", "agent", "--node", "hub", "--config",
                               str(state / "startup-config"), "--state-dir", str(state)],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60).returncode
    return code, log


def test_a_refused_config_appears_once_in_the_bring_up_error(tmp_path):
    code, log = start_like_the_lab(tmp_path, BAD)
    assert code == 2
    message = failure_message("hub", f"exited with code {code}", log)
    assert message.startswith(f"agent on hub exited with code 2; last lines of {log}:\n")
    assert message.count(CARET_LINE) == 1, message
    assert message.count("ip address 10.0.0.999 255.255.255.0") == 1, message
    assert message.count("1 malformed line") == 1 and "config refused" in message


def test_a_previous_runs_lines_are_not_this_runs_error(tmp_path):
    start_like_the_lab(tmp_path, BAD)  # the same lab brought up before: its log is appended to
    log = tmp_path / "hub" / AGENT_LOG
    start = log_size(log)
    code, log = start_like_the_lab(tmp_path, BAD.replace("10.0.0.999", "10.0.0.777"))
    message = failure_message("hub", f"exited with code {code}", log, start=start)
    assert "10.0.0.777" in message and "10.0.0.999" not in message
    assert message.count(CARET_LINE) == 1, message


def test_started_by_hand_the_refusal_is_on_stderr_and_in_the_log(tmp_path):
    state = tmp_path / "state"
    (tmp_path / "startup-config").write_text(BAD)
    done = subprocess.run([sys.executable, "-m", "dmvpnlab", "agent", "--node", "hub", "--config",
                           str(tmp_path / "startup-config"), "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count(CARET_LINE) == 1
    assert (state / AGENT_LOG).read_text().count(CARET_LINE) == 1


def test_stderr_is_the_log_only_when_it_is_the_same_file(tmp_path, monkeypatch):
    log = tmp_path / AGENT_LOG
    other = tmp_path / "other.log"
    other.write_text("")
    with open(log, "w") as f:
        monkeypatch.setattr(sys, "stderr", f)
        assert stderr_is(log)
        assert not stderr_is(other)
        assert not stderr_is(tmp_path / "missing.log")
