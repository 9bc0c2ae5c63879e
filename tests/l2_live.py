"""What the l2 live tests share: namespaces joined by a veth, agents from JSON, waiting."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from dmvpnlab.jsonline import request
from netns_live import stop

DRIVER = Path(__file__).with_name("l2_agent_driver.py")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, check=True)


def netns_exec(ns: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=timeout)


def start_agent(ns: str, node: str, directory: Path, spec: dict[str, Any]) -> subprocess.Popen[Any]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(DRIVER), node, str(directory),
                             str(directory / "config.json")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def start_agent_text(ns: str, node: str, directory: Path, config: str) -> subprocess.Popen[Any]:
    """`dmvpnlab agent` with an IOS startup config, as a lab starts it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "startup-config").write_text(config)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "dmvpnlab", "agent", "--node", node,
                             "--config", str(directory / "startup-config"), "--state-dir", str(directory), "--debug"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def configure(directory: Path, *lines: str) -> list[str]:
    """`configure terminal`, `lines`, `end` in one CLI session (one connection)."""
    outputs = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(directory / "control.sock"))
        reader = sock.makefile("rb")
        for line in ("configure terminal", *lines, "end"):
            sock.sendall((json.dumps({"op": "cli", "line": line}) + "\n").encode())
            while True:
                answer = json.loads(reader.readline())
                if "debug" not in answer:
                    break
            assert answer.get("ok") and not answer.get("error"), (line, answer)
            outputs.append(str(answer.get("output", "")))
    return outputs


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, KeyError, IndexError, TypeError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def ready(directory: Path, proc: subprocess.Popen[Any]) -> bool:
    if proc.poll() is not None:
        log = directory / "agent.log"
        raise AssertionError(f"agent exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
                             f"{log.read_text() if log.exists() else ''}")
    return (directory / "ready").exists()


def state(directory: Path) -> dict[str, Any]:
    answer = request(directory / "control.sock", {"op": "state"}, timeout=5)
    assert answer.get("ok"), answer
    return answer["state"]


def cli(directory: Path, line: str) -> str:
    answer = request(directory / "control.sock", {"op": "cli", "line": line}, timeout=5)
    assert answer.get("ok") and not answer.get("error"), answer
    return answer["output"]


def stop_all(procs: list[subprocess.Popen[Any]], spaces: list[str]) -> None:
    for proc in procs:
        stop(proc)
    for space in spaces:
        subprocess.run(["ip", "netns", "del", space], capture_output=True)
