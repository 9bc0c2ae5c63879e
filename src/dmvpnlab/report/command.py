"""`dmvpnlab report CAPTURE_DIR [-o FILE]`: write the HTML report of a lab run and say where.

A progress bar (rich) while the captures are read, only on a terminal: logs and CI get
the one line naming the file written. Bad input (no such directory, no captures, a
damaged or foreign file among them, an unwritable output) is one line on stderr naming
it and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write one self-contained HTML report of a lab run from its captures",
        description="Draw a lab run from its capture directory (captures/<lab>/): topology with what crossed each "
                    "link, NHRP ladders per exchange, ICMP flow paths, faults and state changes on a timeline.",
        epilog="exit status: 0 written; 1 the directory or a capture in it cannot be read, or the file cannot be "
               "written")
    parser.add_argument("capture_dir", type=Path, help="a lab's capture directory, e.g. captures/default")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="where to write the page (default: CAPTURE_DIR/report.html)")
    parser.add_argument("--title", help="the page's title (default: the lab's name)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dmvpnlab.report import ReportError, write_report

    with _progress() as progress:
        try:
            path = write_report(args.capture_dir, args.output, title=args.title, progress=progress)
        except ReportError as exc:
            progress.close()
            print(f"dmvpnlab report: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(path)
    return 0


class _progress:
    """A rich progress bar over the captures on a terminal; a no-op callable otherwise."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "_progress":
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("reading captures"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=None)
        return self

    def __call__(self, done: int, total: int, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, description=name)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __exit__(self, *exc: object) -> None:
        self.close()

