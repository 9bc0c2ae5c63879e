"""How a demo is shown: plain text (logs, pipes, CI, tests) or rich (a terminal).

Printers only lay out items (`items`); they judge nothing, so the same run reads the same
in a CI log and a terminal. Imports `items`; rich only when a RichPrinter is made (it
is slow to import and unused in plain runs).
"""

from __future__ import annotations

from typing import Callable, Sequence

from dmvpnlab.lab.demo.items import Check, Ladder, Output


class PlainPrinter:
    """Plain text: logs, pipes, CI (and tests)."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    def step(self, number: int, title: str) -> None:
        self.out(f"\n[{number}] {title}")

    def check(self, check: Check) -> None:
        mark = "ok  " if check.ok else "FAIL"
        self.out(f"    {mark} {check.what}" + (f"  ({check.detail})" if check.detail else ""))

    def output(self, item: Output) -> None:
        self.out(f"    {item.title}")
        for line in item.text.splitlines():
            self.out(f"      {line}".rstrip())

    def ladder(self, item: Ladder) -> None:
        self.out(f"    {item.title}")
        for line in format_table(item.columns, item.rows):
            self.out(f"      {line}")


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return [line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows]


class RichPrinter:
    """A terminal: colours, real tables (rich); CLI outputs stay verbatim."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)

    def step(self, number: int, title: str) -> None:
        from rich.text import Text

        self.console.print()
        self.console.print(Text(f"[{number}] {title}", style="bold cyan"))

    def check(self, check: Check) -> None:
        from rich.text import Text

        line = Text("    ")
        line.append("ok  " if check.ok else "FAIL", style="bold green" if check.ok else "bold red")
        line.append(f" {check.what}")
        if check.detail:
            line.append(f"  ({check.detail})", style="dim")
        self.console.print(line)

    def output(self, item: Output) -> None:
        from rich.padding import Padding
        from rich.text import Text

        self.console.print(Text(f"    {item.title}", style="bold"))
        self.console.print(Padding(Text(item.text), (0, 0, 0, 6)))

    def ladder(self, item: Ladder) -> None:
        from rich import box
        from rich.padding import Padding
        from rich.table import Table
        from rich.text import Text

        self.console.print(Text(f"    {item.title}", style="bold"))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in item.columns:
            table.add_column(column, justify="right" if column == "+ms" else "left")
        for row in item.rows:
            table.add_row(*(Text(cell) for cell in row))
        self.console.print(Padding(table, (0, 0, 0, 6)))
