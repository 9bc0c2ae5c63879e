"""Starting the router agents: the one place where the lab hands a router to its agent.

After the underlay is up, every router that has a config template gets:

1. its config rendered by `dmvpnlab.lab.render.render_router_config(topology, router)`,
   written to `<run dir>/<router>/startup-config`;
2. an agent process inside the router's namespace, forked there by the agent zygote
   or, without one, started by Mininet's `node.popen`:
   `<venv python> -m dmvpnlab agent --node R --config FILE --state-dir <run dir>/<router>`,
   recorded (PID + start time) in the lab records;
3. a wait for `<state dir>/ready`; if the agent exits or the file does not appear in time,
   the error carries the tail of `<state dir>/agent.log`.

A router on the management network also gets `--ssh <management address>:<port>
--ssh-user U`; the password goes in the environment (DMVPNLAB_SSH_PASSWORD), so it is
neither in `ps` nor in the lab records (which keep every agent's command line).
The lab's key directory (`captures/<lab>/`, where the agents write Wireshark's
`esp_sa` and `ikev1_decryption_table`) goes in the environment too, as
DMVPNLAB_KEYLOG_DIR (`Launcher(keylog_dir=...)`), so a restarted agent keeps it.

`python -m dmvpnlab` is the `dmvpnlab` console command (the package's __main__), and
its `agent` subcommand lives in AGENT_MODULE. If that module or the renderer is missing
(a trimmed install), agents are skipped with a one-line note, so the underlay lab still
works. Everything the agent contract needs is in this module, so it can change in one
place; the agent's side of it (arguments, SSH options, file names) comes from the agent
package and dmvpnlab.rundir.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.agent.command import PASSWORD_ENV, ssh_arguments
from dmvpnlab.agent.hooks import SshOptions
from dmvpnlab.agent.keylog import KEYLOG_ENV
from dmvpnlab.agent.zygote import ForkedProcess, ZygoteClient
from dmvpnlab.lab.records import LabRecords, record_process
from dmvpnlab.rundir import AGENT_LOG, CONTROL_SOCKET, READY_FILE

ENTRY_MODULE = "dmvpnlab"  # `python -m dmvpnlab` = the console command, by its __main__
AGENT_MODULE = "dmvpnlab.router"  # registers and runs `agent` and `agent-zygote` (command.FAST_PATHS)
RENDER_MODULE = "dmvpnlab.lab.render"
CONFIG_FILE = "startup-config"
ZYGOTE_SOCKET = "agent-zygote.sock"
ZYGOTE_LOG = "agent-zygote.log"
READY_TIMEOUT = 20.0
REGISTERED_TIMEOUT = 3.0


class AgentError(RuntimeError):
    """An agent that did not come up; the message ends with its log tail."""


def ssh_login(topology: Any, router: Any) -> SshOptions | None:
    """The SSH endpoint of `router` from the topology's management network (None if it has none)."""
    address = topology.management_address(router.name) if topology.management is not None else None
    if address is None:
        return None
    m = topology.management
    return SshOptions(str(address.ip), m.port, m.username, m.password)


@dataclass
class AgentHandle:
    node: str
    state_dir: Path
    config: Path
    popen: Any  # subprocess.Popen, or agent.zygote.ForkedProcess (same methods)
    ssh: SshOptions | None = None
    extra: tuple[str, ...] = ()  # more agent arguments (a wired router's --interface-map)
    log_start: int = 0  # where this run's lines begin in the log (earlier runs appended before)

    @property
    def ready_file(self) -> Path:
        return self.state_dir / READY_FILE

    @property
    def log(self) -> Path:
        return self.state_dir / AGENT_LOG


def missing_parts() -> str | None:
    """Why agents cannot be started yet (None if they can)."""
    for module in (AGENT_MODULE, RENDER_MODULE):
        if importlib.util.find_spec(module) is None:
            return f"{module} does not exist yet"
    return None


def agent_command(node: str, config: Path, state_dir: Path, ssh: SshOptions | None = None,
                  extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of one agent (the interpreter is the venv's, like ours)."""
    return [sys.executable, "-m", ENTRY_MODULE, "agent", "--node", node,
            "--config", str(config), "--state-dir", str(state_dir), *(ssh_arguments(ssh) if ssh else []), *extra]


def agent_env(ssh: SshOptions | None, keylog_dir: Path | None) -> dict[str, str]:
    """What an agent gets in its environment besides the lab's own: the SSH password and
    the key directory (neither belongs on a command line the records keep)."""
    env: dict[str, str] = {}
    if ssh is not None:
        env[PASSWORD_ENV] = ssh.password
    if keylog_dir is not None:
        env[KEYLOG_ENV] = str(keylog_dir)
    return env


class Launcher:
    """Starts agents: forked by a pre-loaded agent zygote when there is one (a hundred
    agents then share one import instead of paying 0.15 s of CPU each), else each as
    its own `python -m dmvpnlab agent` in the node's namespace."""

    def __init__(self, run_dir: Path, records: LabRecords | None, keylog_dir: Path | None = None) -> None:
        self.records = records
        self.keylog_dir = keylog_dir
        self.zygote: subprocess.Popen[Any] | None = None
        self.client: ZygoteClient | None = None
        socket_path = run_dir / ZYGOTE_SOCKET
        try:
            with open(run_dir / ZYGOTE_LOG, "ab") as log:
                self.zygote = subprocess.Popen(
                    [sys.executable, "-m", ENTRY_MODULE, "agent-zygote", "--socket", str(socket_path)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=os.getcwd())
            if records is not None:
                records.add_process(record_process(self.zygote.pid, "agent-zygote"))
            assert self.zygote.stdout is not None
            if not self.zygote.stdout.readline().startswith(b"ready"):
                raise RuntimeError(f"agent zygote did not start (see {run_dir / ZYGOTE_LOG})")
            self.client = ZygoteClient(socket_path)
        except Exception:
            self.close()  # fall back to one interpreter per agent

    def launch(self, node: Any, name: str, config: Path, state_dir: Path, ssh: SshOptions | None = None,
               extra: tuple[str, ...] = ()) -> AgentHandle:
        """Start one agent in `node`'s namespace with an existing startup config."""
        (state_dir / READY_FILE).unlink(missing_ok=True)
        log_start = log_size(state_dir / AGENT_LOG)
        env = agent_env(ssh, self.keylog_dir)
        argv = agent_command(name, config, state_dir, ssh, extra)
        popen: Any
        if self.client is not None:
            answer = self.client.request({"op": "spawn", "argv": argv[3:], "netns": f"/proc/{node.pid}/ns/net",
                                          "log": str(state_dir / AGENT_LOG), "cwd": os.getcwd(), "env": env})
            popen = ForkedProcess(self.client, answer["pid"])
        else:
            with open(state_dir / AGENT_LOG, "ab") as log:
                popen = node.popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=os.getcwd(),
                                   env={**os.environ, **env})
        handle = AgentHandle(node=name, state_dir=state_dir, config=config, popen=popen, ssh=ssh, extra=tuple(extra),
                             log_start=log_start)
        if self.records is not None:
            try:
                self.records.add_process(record_process(popen.pid, "agent", node=name))
            except ProcessLookupError:
                pass  # exited at once: wait_ready reports its log
        return handle

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.request({"op": "exit"})
            except (OSError, RuntimeError, ValueError):
                pass  # it is gone already; terminate below covers the rest
            self.client.close()
            self.client = None
        if self.zygote is not None:
            if self.zygote.poll() is None:
                self.zygote.terminate()
                try:
                    self.zygote.wait(5)
                except subprocess.TimeoutExpired:
                    self.zygote.kill()
                    self.zygote.wait()
            if self.zygote.stdout is not None:
                self.zygote.stdout.close()
            self.zygote = None


def start_agents(topology: Any, nodes: dict[str, Any], run_dir: Path, records: LabRecords | None,
                 launcher: Launcher, note: Callable[[str], None] = print) -> list[AgentHandle]:
    """Render configs and start one agent per templated router; returns the handles (not yet ready)."""
    routers = [r for r in topology.routers if r.template]
    if not routers:
        return []
    why = missing_parts()
    if why:
        note(f"agents: not started ({why}); the lab runs the underlay only")
        return []
    render = importlib.import_module(RENDER_MODULE).render_router_config
    handles: list[AgentHandle] = []
    # Hubs first: a spoke's first Registration Request must find the hub's GRE socket
    # open, or the kernel answers "protocol unreachable" and the spoke waits to retry.
    for wave in ([r for r in routers if r.role == "hub"], [r for r in routers if r.role != "hub"]):
        started = []
        for router in wave:
            state_dir = run_dir / router.name
            config = state_dir / CONFIG_FILE
            state_dir.mkdir(parents=True, exist_ok=True)
            config.write_text(render(topology, router))
            started.append(launcher.launch(nodes[router.name], router.name, config, state_dir,
                                           ssh_login(topology, router)))
        handles += started
        if wave and wave[0].role == "hub":
            wait_ready(started)
    return handles


def restart(handle: AgentHandle, node: Any, launcher: Launcher, crash: bool = False) -> AgentHandle:
    """Stop an agent and start it again from its startup config: a reload (SIGTERM, it
    cleans up) or, with `crash`, a crash (SIGKILL: it leaves whatever it had set up)."""
    if crash:
        handle.popen.kill()
        handle.popen.wait(READY_TIMEOUT)
    else:
        stop_agents([handle])
    fresh = launcher.launch(node, handle.node, handle.config, handle.state_dir, handle.ssh, handle.extra)
    wait_ready([fresh])
    return fresh


def wait_ready(handles: list[AgentHandle], timeout: float = READY_TIMEOUT) -> None:
    """Wait until every agent wrote its ready file; AgentError with the log tail otherwise."""
    deadline = time.monotonic() + timeout
    pending = list(handles)
    while pending:
        for h in list(pending):
            if h.ready_file.exists():
                pending.remove(h)
            elif h.popen.poll() is not None:
                raise AgentError(failure_message(h.node, f"exited with code {h.popen.returncode}", h.log,
                                                 start=h.log_start))
        if pending and time.monotonic() > deadline:
            h = pending[0]
            raise AgentError(failure_message(h.node, f"not ready after {timeout:.0f} s (no {h.ready_file})", h.log,
                                             start=h.log_start))
        if pending:
            time.sleep(0.05)


def registration_targets(nhrp: dict) -> list[dict]:
    """Every NHS of every tunnel of a state answer's `nhrp` block (dual-cloud spokes have
    one set per tunnel; an agent without the per-tunnel list, only the first's)."""
    tunnels = nhrp.get("tunnels")
    if tunnels is None:
        return list(nhrp.get("nhs", []))
    return [n for block in tunnels for n in block.get("nhs", [])]


def nhs_settled(nhs: dict) -> bool:
    """An NHS the spoke is done with: responding, or left waiting by the NHS policy
    (`ip nhrp nhs cluster N max-connections M`: the spoke registers with M of them)."""
    return nhs.get("state") == "R" or bool(nhs.get("waiting"))


def wait_registered(handles: list[AgentHandle], timeout: float = REGISTERED_TIMEOUT) -> list[str]:
    """Wait until every NHC has all its NHSes responding (state R) or waiting by policy, on
    every tunnel; return those that have not.

    Not an error: a lab may hold spokes that must never register (wrong key or password).
    Scenarios then start from a converged lab instead of racing the first registration.
    """
    deadline = time.monotonic() + timeout
    pending = list(handles)
    while pending and time.monotonic() < deadline:
        for h in list(pending):
            try:
                answer = jsonline.request(h.state_dir / CONTROL_SOCKET, {"op": "state"}, timeout=1.0)
                nhs = registration_targets(answer["state"]["nhrp"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if all(nhs_settled(n) for n in nhs):
                pending.remove(h)
        if pending:
            time.sleep(0.05)
    return [h.node for h in pending]


def stop_agents(handles: list[AgentHandle], timeout: float = 5.0, tick: Callable[[], None] = lambda: None) -> None:
    """SIGTERM every agent, wait, then SIGKILL what is left; `tick()` once per agent gone."""
    for h in handles:
        if h.popen.poll() is None:
            try:
                h.popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for h in handles:
        try:
            h.popen.wait(max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            h.popen.kill()
            h.popen.wait()
        tick()


def failure_message(node: str, what: str, log: Path, lines: int = 15, start: int = 0) -> str:
    """The bring-up error of an agent that did not come up: what happened, then the tail of
    what *this run* wrote to its log (from byte `start`: the log is appended to across runs
    and restarts, and an earlier run's refusal is not this one's). The agent writes an error
    once (agent/main.py `report`), so the tail holds its words once."""
    return f"agent on {node} {what}; last lines of {log}:\n{log_tail(log, lines, start)}"


def log_size(log: Path) -> int:
    """The log's length now: where the next run's lines will begin."""
    try:
        return log.stat().st_size
    except OSError:
        return 0


def log_tail(log: Path, lines: int = 15, start: int = 0) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text[-lines:]) or "(empty log)"
