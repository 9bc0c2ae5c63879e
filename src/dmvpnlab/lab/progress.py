"""Progress bars for the slow lab steps: bring-up, tear-down, `dmvpnlab down`, `dmvpnlab import`.

One reporter for all of them, so they look alike: phases, each a rich bar with a count
and the elapsed time. Quiet (tests, the detached controller) shows nothing; notes still
print when not quiet and there is no bar. Rich is imported only when a bar is shown, so
quiet callers do not pay for it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Sequence


class Reporter:
    """Phases of one long operation: a rich progress bar, nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._progress: Any = None
        self._task: Any = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=False)
            self._progress.start()

    @classmethod
    def on_terminal(cls, quiet: bool = False) -> "Reporter":
        """A reporter that shows bars only when stdout is a terminal: a tear-down or an
        import whose output goes to a log or a pipe stays plain text."""
        return cls(quiet or not sys.stdout.isatty())

    def phase(self, description: str, total: int) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._task = self._progress.add_task(description, total=max(total, 1))

    def tick(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def set_completed(self, completed: int) -> None:
        """The current phase's count, for progress seen from outside (processes gone)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed)

    def note(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        elif not self.quiet:
            print(text)

    def stop(self) -> None:
        if self._progress is not None:
            if self._task is not None:
                self._progress.update(self._task, completed=self._progress.tasks[-1].total)
            self._progress.stop()
            self._progress = None


def wait_all_gone(processes: Sequence[Any], done: Callable[[], bool], reporter: Reporter, timeout: float,
                  description: str = "tearing down", interval: float = 0.05,
                  sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait until `done()` (the lab's owner exited), advancing a bar by how many of
    `processes` (records with `.alive()`) are gone: progress of a tear-down another
    process runs, as `dmvpnlab down` sees its detached controller's. True if done in time."""
    reporter.phase(description, len(processes))
    deadline = time.monotonic() + timeout
    while True:
        reporter.set_completed(sum(1 for p in processes if not p.alive()))
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        sleep(interval)
