"""FRR daemons for one router, started, watched and stopped by the PIDs we started.

Why: issue 10 runs real routing protocols (OSPF, BGP, RIP) over the DMVPN tunnel, and
FRR 8.4 is the routing suite installed here. The agent runs inside the router's network
namespace, so a supervisor living in the agent starts the daemons there, each one a
child process of ours: no `-d`, no daemonizing. Children in the foreground mean
`Popen` holds each PID from fork to reap (a pid file could name a recycled PID; a child
cannot), death is seen by `poll()` without polling /proc, and `stop()` signals exactly
those PIDs. Each PID is also written down with its kernel start time (field 22 of
/proc/PID/stat, read by dmvpnlab.procfs as for the lab records), so anyone reading the record later can check
that the PID is still the process we started.

Everything lives in `run_dir`: the integrated `frr.conf`, the pid files (`-i`), the
zserv socket (`-z`), the vty sockets (`--vty_socket`), the daemons' logs and an empty
per-daemon config (`-f`), so no daemon reads /etc/frr or writes /var/run/frr. The
daemons start with that empty config and the integrated `frr.conf` is pushed into all
of them by `vtysh -b --config_dir run_dir`, which is how FRR's own init script loads an
integrated config. frr.service and systemctl are never involved.

A daemon that dies is restarted, at most MAX_RESTARTS times per RESTART_WINDOW seconds
(a daemon that crashes on its config would otherwise be restarted forever), and its part
of the config is pushed again. `reload()` restarts the daemons on the new config: 8.4
here has no frr-reload.py, and `vtysh -f` only adds commands (it never removes the ones
that left the config), so a restart is the simplest way that is correct. Imports no lab,
cli, agent, config or tunnel.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from dmvpnlab.procfs import proc_start_time

log = logging.getLogger(__name__)

FRR_SBIN = Path("/usr/lib/frr")
VTYSH = "vtysh"
SUPPORTED_DAEMONS = ("zebra", "ospfd", "bgpd", "ripd")
FRR_USER = "frr"
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# zebra 8.4 adopts, at start-up, every kernel route of a protocol number it counts as its
# own (NHRP 191, EIGRP 192 among them: our shortcuts and our EIGRP's routes) and installs a
# copy at metric 20 that outlives the original (it re-installs it when deleted), so a
# withdrawn shortcut or EIGRP route would stay. With a graceful-restart time (`-K`) it
# sweeps those copies that many seconds after start; the originals stay (checked in a
# namespace, tests/test_nhrp_zebra_live.py).
ZEBRA_SWEEP_SECONDS = 2
VTYSH_TIMEOUT = 10.0


class FrrError(RuntimeError):
    """FRR could not be started or driven (a daemon exited, a socket never appeared)."""


@dataclass(frozen=True)
class DaemonRecord:
    """One daemon process we started: its PID, kernel start time and argv."""

    daemon: str
    pid: int
    start_time: int | None
    argv: tuple[str, ...]


class RestartBudget:
    """At most `limit` restarts in any `window` seconds, per daemon.

    Why a sliding window: a daemon killed once an hour should always come back, one that
    dies on every start must stop being restarted (and say so) instead of spinning.
    """

    def __init__(self, limit: int = MAX_RESTARTS, window: float = RESTART_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._history: dict[str, deque[float]] = {}

    def allow(self, daemon: str) -> bool:
        """True (and the restart is counted) if `daemon` may be restarted now."""
        now = self._clock()
        history = self._history.setdefault(daemon, deque())
        while history and now - history[0] >= self.window:
            history.popleft()
        if len(history) >= self.limit:
            return False
        history.append(now)
        return True


@dataclass
class _Running:
    record: DaemonRecord
    proc: subprocess.Popen[Any]
    log_file: IO[bytes]


@dataclass
class FrrPaths:
    """Where one router's FRR files live, all under `run_dir`."""

    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "frr.conf"

    @property
    def zserv(self) -> Path:
        return self.run_dir / "zserv.api"

    def pid_file(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.pid"

    def vty_socket(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.vty"

    def daemon_config(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.conf"

    def log(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.log"


def daemon_argv(daemon: str, paths: FrrPaths, sbin: Path = FRR_SBIN) -> list[str]:
    """The command line of one daemon: foreground, every path inside run_dir."""
    if daemon not in SUPPORTED_DAEMONS:
        raise ValueError(f"unsupported FRR daemon {daemon!r}")
    argv = [str(sbin / daemon), "-i", str(paths.pid_file(daemon)), "-z", str(paths.zserv),
            "--vty_socket", str(paths.run_dir), "-f", str(paths.daemon_config(daemon))]
    return argv + (["-K", str(ZEBRA_SWEEP_SECONDS)] if daemon == "zebra" else [])


def vtysh_argv(paths: FrrPaths, *, commands: Sequence[str] = (), boot: bool = False,
               daemon: str | None = None, vtysh: str = VTYSH) -> list[str]:
    """A vtysh command line bound to run_dir (sockets and config dir, never /etc/frr)."""
    argv = [vtysh, "--vty_socket", str(paths.run_dir), "--config_dir", str(paths.run_dir)]
    if daemon is not None:
        argv += ["-d", daemon]
    if boot:
        argv.append("-b")
    for command in commands:
        argv += ["-c", command]
    return argv


def start_order(daemons: Sequence[str]) -> list[str]:
    """zebra first (the others connect to its zserv socket), then the rest as asked, once each."""
    order = ["zebra"]
    for daemon in daemons:
        if daemon not in SUPPORTED_DAEMONS:
            raise ValueError(f"unsupported FRR daemon {daemon!r}")
        if daemon not in order:
            order.append(daemon)
    return order


class FrrSupervisor:
    """zebra plus the asked daemons of one node, children of this process, in its namespace.

    Not thread-safe: the owner (the agent) calls start, poll, vtysh, reload and stop from
    one place. `sbin` and `vtysh` point at FRR's binaries; tests point them at stand-ins.
    `records()` gives each PID with its kernel start time, for a journal like the lab's.
    """

    def __init__(self, node: str, run_dir: Path, daemons: Sequence[str], config_text: str, *,
                 sbin: Path = FRR_SBIN, vtysh: str = VTYSH, budget: RestartBudget | None = None,
                 ready_timeout: float = READY_TIMEOUT, stop_timeout: float = STOP_TIMEOUT,
                 on_spawn: Callable[[DaemonRecord], None] | None = None) -> None:
        self.node = node
        # Told of every daemon the moment it exists (before it is ready): the owner
        # writes it down, so a crash between fork and ready still leaves a record.
        self.on_spawn = on_spawn
        self.paths = FrrPaths(Path(run_dir))
        self.daemons = start_order(daemons)
        self.config_text = config_text
        self.sbin = sbin
        self.vtysh_path = vtysh
        self.budget = budget or RestartBudget()
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._running: dict[str, _Running] = {}
        self.given_up: set[str] = set()
        self.restarts: dict[str, int] = {}

    # ---------------------------------------------------------------- start

    def start(self) -> None:
        """Write the files, start zebra then the daemons, push frr.conf. On any failure,
        what was started is stopped again before the error is raised."""
        try:
            self._prepare_dir()
            for daemon in self.daemons:
                self._spawn(daemon)
            self._push_config()
        except BaseException:
            self.stop()
            raise

    def _prepare_dir(self) -> None:
        run_dir = self.paths.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config.write_text(self.config_text)
        for daemon in self.daemons:
            self.paths.daemon_config(daemon).write_text("")
        # vtysh reads vtysh.conf from --config_dir; an empty one keeps it off /etc/frr.
        (run_dir / "vtysh.conf").write_text("")
        if os.geteuid() == 0:
            # The daemons drop to user frr and create their sockets and pid files here.
            for path in [run_dir, *run_dir.iterdir()]:
                shutil.chown(path, FRR_USER, FRR_USER)

    def _spawn(self, daemon: str) -> None:
        for stale in (self.paths.vty_socket(daemon), self.paths.pid_file(daemon)):
            stale.unlink(missing_ok=True)
        argv = daemon_argv(daemon, self.paths, self.sbin)
        log_file = open(self.paths.log(daemon), "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except BaseException:
            log_file.close()
            raise
        record = DaemonRecord(daemon, proc.pid, proc_start_time(proc.pid), tuple(argv))
        self._running[daemon] = _Running(record, proc, log_file)
        if self.on_spawn is not None:
            self.on_spawn(record)
        log.info("%s: started %s pid %d", self.node, daemon, proc.pid)
        self._wait_ready(daemon)

    def _wait_ready(self, daemon: str) -> None:
        """Ready means the vty socket exists: vtysh can reach the daemon from then on."""
        running = self._running[daemon]
        deadline = time.monotonic() + self.ready_timeout
        while not self.paths.vty_socket(daemon).exists():
            if running.proc.poll() is not None:
                raise FrrError(f"{self.node}: {daemon} exited with {running.proc.returncode} "
                               f"during start: {self._log_tail(daemon)}")
            if time.monotonic() > deadline:
                raise FrrError(f"{self.node}: {daemon} has no vty socket after {self.ready_timeout} s")
            time.sleep(0.05)

    def _log_tail(self, daemon: str) -> str:
        """The daemon's last log line: why it exited (a pid file it may not write, ...)."""
        try:
            lines = self.paths.log(daemon).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    def _push_config(self, daemon: str | None = None) -> None:
        """Load frr.conf into the running daemons (or one of them) with `vtysh -b`."""
        result = subprocess.run(vtysh_argv(self.paths, boot=True, daemon=daemon, vtysh=self.vtysh_path),
                                capture_output=True, text=True, timeout=VTYSH_TIMEOUT)
        if result.returncode != 0:
            raise FrrError(f"{self.node}: vtysh -b failed ({result.returncode}): "
                           f"{(result.stdout + result.stderr).strip()}")

    # ---------------------------------------------------------------- watch

    def records(self) -> list[DaemonRecord]:
        """The daemons we started and still hold, in start order."""
        return [self._running[d].record for d in self.daemons if d in self._running]

    def poll(self) -> list[str]:
        """Restart every daemon that died, within the restart budget; returns those restarted.

        A daemon out of budget stays down (logged once, listed in `given_up`)."""
        restarted = []
        for daemon in self.daemons:
            running = self._running.get(daemon)
            if running is None or running.proc.poll() is None:
                continue
            code = running.proc.returncode
            running.log_file.close()
            del self._running[daemon]
            if not self.budget.allow(daemon):
                log.error("%s: %s (pid %d) died with %s; restart budget spent (%d in %.0f s), "
                          "leaving it down", self.node, daemon, running.record.pid, code,
                          self.budget.limit, self.budget.window)
                self.given_up.add(daemon)
                continue
            log.warning("%s: %s (pid %d) died with %s; restarting", self.node, daemon,
                        running.record.pid, code)
            try:
                self._spawn(daemon)
                self._push_config(None if daemon == "zebra" else daemon)
            except (FrrError, OSError, subprocess.SubprocessError) as exc:
                log.error("%s: restarting %s failed: %s", self.node, daemon, exc)
                continue
            self.restarts[daemon] = self.restarts.get(daemon, 0) + 1
            restarted.append(daemon)
        return restarted

    # ---------------------------------------------------------------- drive

    def vtysh(self, command: str) -> str:
        """Output of one vtysh command (a show command) against this node's daemons."""
        result = subprocess.run(vtysh_argv(self.paths, commands=[command], vtysh=self.vtysh_path),
                                capture_output=True, text=True, timeout=VTYSH_TIMEOUT)
        if result.returncode != 0:
            raise FrrError(f"{self.node}: vtysh -c {command!r} failed ({result.returncode}): "
                           f"{(result.stdout + result.stderr).strip()}")
        return result.stdout

    def reload(self, config_text: str) -> None:
        """Apply a new integrated config: stop the daemons, start them on the new text.

        Why a restart: see the module docstring (no frr-reload.py in 8.4 here; `vtysh -f`
        never removes commands)."""
        self.stop()
        self.config_text = config_text
        self.given_up.clear()
        self.start()

    def restart_protocols(self, daemons: Sequence[str], config_text: str) -> None:
        """A new config and daemon set without restarting zebra: the protocol daemons stop,
        the files are rewritten, the asked ones start and frr.conf is pushed again.

        Why not `reload()`: a zebra that starts while the kernel holds routes of FRR's
        protocol numbers made by someone else (the agent's NHRP 191 and EIGRP 192 routes)
        may adopt them as its own and keep a copy after their owner deleted them
        (routing/kernel.py). Without a running zebra this is `reload()`."""
        zebra = self._running.get("zebra")
        if zebra is None or zebra.proc.poll() is not None:
            self.stop()
            self.daemons = start_order(daemons)
            self.config_text = config_text
            self.given_up.clear()
            self.start()
            return
        self._stop_entries([self._running.pop(d) for d in reversed(self.daemons) if d != "zebra" and d in self._running])
        self.daemons = start_order(daemons)
        self.config_text = config_text
        self.given_up.clear()
        try:
            self._prepare_dir()
            for daemon in self.daemons[1:]:
                self._spawn(daemon)
            self._push_config()
        except BaseException:
            self.stop()
            raise

    # ---------------------------------------------------------------- stop

    def stop(self) -> None:
        """SIGTERM exactly the PIDs we started (newest first), wait, SIGKILL after the bound."""
        self._stop_entries([self._running[d] for d in reversed(self.daemons) if d in self._running])
        self._running.clear()

    def _stop_entries(self, running: list[_Running]) -> None:
        for entry in running:
            if entry.proc.poll() is None:
                try:
                    entry.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.stop_timeout
        for entry in running:
            try:
                entry.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s: %s (pid %d) ignored SIGTERM; SIGKILL", self.node,
                            entry.record.daemon, entry.record.pid)
                entry.proc.kill()
                entry.proc.wait()
            entry.log_file.close()
