"""Progress bars: shown only on a terminal, advanced by what is really done (agents stopped,
files written, processes gone), and silent for quiet callers and pipes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from dmvpnlab.lab import agents as agents_mod
from dmvpnlab.lab.cml import commands as cml_commands
from dmvpnlab.lab.progress import Reporter, wait_all_gone


class Counting(Reporter):
    """A reporter that counts instead of drawing."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.phases: list[tuple[str, int]] = []
        self.ticks = 0
        self.completed: list[int] = []

    def phase(self, description: str, total: int) -> None:
        self.phases.append((description, total))

    def tick(self) -> None:
        self.ticks += 1

    def set_completed(self, completed: int) -> None:
        self.completed.append(completed)


def test_no_bar_when_stdout_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert Reporter.on_terminal()._progress is None
    assert Reporter.on_terminal(quiet=True)._progress is None


def test_a_bar_on_a_terminal_unless_quiet(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    reporter = Reporter.on_terminal()
    try:
        assert reporter._progress is not None
    finally:
        reporter.stop()
    assert Reporter.on_terminal(quiet=True)._progress is None


@dataclass
class FakeProcess:
    gone_after: int
    polls: int = 0

    def alive(self) -> bool:
        self.polls += 1
        return self.polls <= self.gone_after


def test_waiting_for_a_teardown_counts_the_processes_gone():
    processes = [FakeProcess(1), FakeProcess(2), FakeProcess(3)]
    reporter = Counting()
    rounds = []
    done = wait_all_gone(processes, lambda: len(rounds) >= 4, reporter, timeout=5, sleep=rounds.append)
    assert done
    assert reporter.phases == [("tearing down", 3)]
    assert reporter.completed == [0, 1, 2, 3, 3]


def test_waiting_gives_up_at_the_timeout():
    assert not wait_all_gone([], lambda: False, Counting(), timeout=0, sleep=lambda _s: None)


class FakePopen:
    def __init__(self) -> None:
        self.signals: list[int] = []

    def poll(self) -> None:
        return None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)

    def wait(self, _timeout: float | None = None) -> int:
        return 0


def test_stopping_agents_ticks_once_per_agent(tmp_path):
    handles = [agents_mod.AgentHandle(node=f"r{i}", state_dir=tmp_path, config=tmp_path / "c",
                                      popen=FakePopen()) for i in range(3)]  # type: ignore[arg-type]
    ticks = []
    agents_mod.stop_agents(handles, tick=lambda: ticks.append(1))
    assert len(ticks) == 3


def test_import_advances_one_step_per_file_written(tmp_path, capsys):
    from cml_samples import lab, write  # a small CML lab of our own (hub, spokes)

    source = write(tmp_path, lab())
    reporter = Counting()
    args = argparse.Namespace(labfile=str(source), output=str(tmp_path / "out.yaml"), force=False)
    assert cml_commands._import(args, reporter) == 0
    (reading, _), (writing, total) = reporter.phases
    assert reading.startswith("reading ") and writing.startswith("writing out.yaml")
    written = 1 + len(list((tmp_path / "out").glob("*.cfg")))
    assert total == written and reporter.ticks == 1 + written
