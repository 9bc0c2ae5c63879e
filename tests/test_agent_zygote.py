"""The agent zygote forks agents that behave like separately started ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmvpnlab.agent.zygote import ForkedProcess, ZygoteClient

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="joining a network namespace (setns) needs root")


@pytest.fixture
def zygote(tmp_path: Path):
    sock = tmp_path / "zygote.sock"
    proc = subprocess.Popen([sys.executable, "-m", "dmvpnlab", "agent-zygote", "--socket", str(sock)],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith(b"ready")
        client = ZygoteClient(sock)
        yield client
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_a_forked_agent_runs_the_agent_command_with_its_own_log_and_exit_code(zygote, tmp_path):
    config = tmp_path / "startup-config"
    config.write_text("interface Tunnel0\n ip address 10.0.0.300 255.255.255.0\n")
    log = tmp_path / "agent.log"
    answer = zygote.request({"op": "spawn", "argv": ["agent", "--node", "spoke9", "--config", str(config),
                                                     "--state-dir", str(tmp_path / "state")],
                             "netns": "/proc/self/ns/net", "log": str(log), "cwd": str(tmp_path), "env": {}})
    agent = ForkedProcess(zygote, answer["pid"])
    assert agent.pid != os.getpid()
    assert agent.wait(timeout=10) == 2
    assert "% Invalid input detected at '^' marker." in log.read_text()


def test_a_bad_request_is_answered_and_the_zygote_keeps_serving(zygote):
    with pytest.raises(RuntimeError, match="unknown op"):
        zygote.request({"op": "explode"})
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        zygote.request({"op": "spawn", "argv": ["agent"], "netns": "/nonexistent", "log": "/tmp/x"})
    assert zygote.request({"op": "poll", "pid": 1})["returncode"] is None


def test_freeze_heap_keeps_preloaded_objects_out_of_every_childs_collections() -> None:
    import gc

    from dmvpnlab.agent.zygote import freeze_heap

    try:
        preloaded = [object() for _ in range(1000)]  # stands for the imported modules
        assert freeze_heap() >= len(preloaded)
        assert gc.get_freeze_count() > 0  # a forked child inherits the permanent generation
    finally:
        gc.unfreeze()
