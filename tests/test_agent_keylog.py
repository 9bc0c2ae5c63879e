"""The lab hands its key directory to every agent, and an agent finds it there.

The path is `captures/<lab>/` (the captures' directory: keys and captures travel
together); it travels in DMVPNLAB_KEYLOG_DIR, through the agent zygote like a real
bring-up, and the agent names it in its log. Writing the tables themselves is
test_ipsec_keylog.py's.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from dmvpnlab.agent.command import PASSWORD_ENV
from dmvpnlab.agent.hooks import SshOptions
from dmvpnlab.agent.keylog import KEYLOG_ENV, keylog_dir, keylog_from_env
from dmvpnlab.ipsec.keylog import PREFERENCES_FILE, KeyLog
from dmvpnlab.lab import agents
from dmvpnlab.lab.captures import CaptureRecorder, keys_directory, lab_directory


def test_keylog_dir_comes_from_the_environment_or_is_none(tmp_path):
    assert keylog_dir({KEYLOG_ENV: str(tmp_path)}) == tmp_path
    assert keylog_dir({}) is None
    assert keylog_dir({KEYLOG_ENV: "  "}) is None


def test_keylog_from_env_builds_a_keylog_there(tmp_path):
    log = keylog_from_env({KEYLOG_ENV: str(tmp_path / "captures" / "ipsec")})
    assert isinstance(log, KeyLog)
    assert (tmp_path / "captures" / "ipsec" / PREFERENCES_FILE).is_file()
    assert keylog_from_env({}) is None


def test_a_key_directory_that_cannot_be_made_leaves_the_agent_without_keylog(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert keylog_from_env({KEYLOG_ENV: str(blocker / "keys")}) is None


def test_agent_env_carries_the_key_directory_and_the_ssh_password():
    ssh = SshOptions(address="172.31.255.10", port=22, username="admin", password="pw")
    assert agents.agent_env(ssh, Path("/x/captures/lab")) == {PASSWORD_ENV: "pw", KEYLOG_ENV: "/x/captures/lab"}
    assert agents.agent_env(None, None) == {}


def test_the_key_directory_is_the_captures_directory_with_or_without_captures(tmp_path):
    recorder = CaptureRecorder.prepare("ipsec", tmp_path)
    assert recorder.directory == lab_directory("ipsec", tmp_path) == (tmp_path / "ipsec").resolve()
    earlier = recorder.directory / "hub-isp.pcapng"
    earlier.write_bytes(b"earlier run")
    assert keys_directory("ipsec", tmp_path) == recorder.directory  # without captures: not emptied
    assert earlier.exists()
    assert keys_directory("other", tmp_path).is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="the zygote joins a network namespace (setns): root")
def test_an_agent_forked_by_the_zygote_gets_the_key_directory(tmp_path):
    keys = tmp_path / "captures" / "lab"
    launcher = agents.Launcher(tmp_path, None, keylog_dir=keys)
    try:
        assert launcher.client is not None, "the zygote did not start"
        config = tmp_path / "startup-config"
        config.write_text("interface Tunnel0\n ip address 10.0.0.300 255.255.255.0\n")  # refused: exits 2
        node = SimpleNamespace(pid=os.getpid())  # our own namespace stands for the router's
        (tmp_path / "spoke9").mkdir()  # start_agents makes the state directory
        handle = launcher.launch(node, "spoke9", config, tmp_path / "spoke9")
        assert handle.popen.wait(timeout=20) == 2
        assert f"Wireshark key tables: {keys}" in handle.log.read_text()
    finally:
        launcher.close()
