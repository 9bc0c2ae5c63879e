"""IOS paging (`terminal length N`): ` --More-- ` after each screen of output.

Why a module of its own, pure at its core: a hub's `show dmvpn` with 10,000 peers is
10,000 lines, which IOS shows a screen at a time; the rules (how many lines a screen
holds, what space, return and q do) are a function of the lines and the keys pressed,
tested without a terminal (`paginate`). `more` drives it on a real tty; the caller
decides when paging applies: an interactive session on a terminal, a command without a
pipe (`| include` output is not paged), `terminal length` not 0.

As on IOS: a screen shows length - 1 lines then the prompt ` --More-- `; space shows
the next screen, return (or enter) the next line, any other key ends the output. The
prompt is erased (backspaces over it) before what follows is written.
"""

from __future__ import annotations

import os
import termios
import tty
from typing import Callable, Iterable, Iterator

MORE = " --More-- "
ERASE = "\b" * len(MORE) + " " * len(MORE) + "\b" * len(MORE)
NEXT_PAGE, NEXT_LINE = " ", ("\r", "\n")


def paged(line: str, length: int) -> int:
    """The screen length for a command: 0 (no paging) when its output goes through a pipe."""
    return 0 if "|" in line else length


def paginate(lines: list[str], length: int, keys: Iterable[str]) -> Iterator[str]:
    """What the terminal shows: the lines (each with its newline), MORE and ERASE as the
    keys are read. Stops asking for keys once everything is shown."""
    if length <= 1 or len(lines) < length:  # IOS: 0 never pauses; output that fits does not
        for line in lines:
            yield line + "\n"
        return
    keys = iter(keys)
    shown = 0
    budget = length - 1
    while shown < len(lines):
        for line in lines[shown:shown + budget]:
            yield line + "\n"
        shown += min(budget, len(lines) - shown)
        if shown >= len(lines):
            return
        yield MORE
        key = next(keys, "q")
        yield ERASE
        if key == NEXT_PAGE:
            budget = length - 1
        elif key in NEXT_LINE:
            budget = 1
        else:
            return


def more(text: str, length: int, read_key: Callable[[], str], write: Callable[[str], None]) -> None:
    """Write `text` through the pager, reading keys with `read_key` (one character each)."""
    lines = text.split("\n")
    tail = lines.pop() if lines else ""  # text after the last newline (usually "")

    def keys() -> Iterator[str]:
        while True:
            yield read_key()

    for chunk in paginate(lines, length, keys()):
        write(chunk)
    if tail:
        write(tail)


def tty_key_reader(stream: object) -> Callable[[], str]:
    """One key from a terminal, without echo or waiting for return (termios cbreak)."""
    fd = stream.fileno()  # type: ignore[attr-defined]

    def read_key() -> str:
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            data = os.read(fd, 1)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        return data.decode(errors="replace") or "q"

    return read_key
