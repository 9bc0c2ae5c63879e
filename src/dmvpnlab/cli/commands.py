"""`dmvpnlab cli NODE [-c CMD ...]`: the router's CLI from the machine that runs the lab.

Interactive by default (readline line editing and history, the router's own prompt,
debug lines printed as they arrive); with `-c` it runs the commands in one session, in
order, prints their output and exits non-zero if any of them was refused, so shell
scripts and CI can use it like `ssh router 'show dmvpn'`.

What the router sends is shown through `show` (`terminal_text`): the router's output is
printable already, but this end does not rely on it (an older agent, another server on
the socket), so a lone surrogate or an ESC sequence prints as its escape and never raises
or reaches the terminal raw. Typed bytes that are not UTF-8 go to the router as surrogate
escapes (it shows them as `\\xNN`) instead of ending `input()` with a decoding error.
"""

from __future__ import annotations

import argparse
import io
import queue
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from dmvpnlab.cli.client import CliClient, CliConnectionError, NodeNotFound, resolve
from dmvpnlab.cli.pager import more, tty_key_reader
from dmvpnlab.cli.printable import printable

HISTORY = Path.home() / ".dmvpnlab_cli_history"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cli", help="the IOS-style CLI of a router (show dmvpn, debug nhrp, ...)")
    parser.add_argument("node", help="router name (or LAB/NODE, a state directory, a control socket)")
    parser.add_argument("-c", "--command", action="append", default=[], metavar="CMD",
                        help="run CMD and exit (repeatable; exit code 1 if any command is refused)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = resolve(args.node)
        if args.command:
            return one_shot(path, args.command)
        return interactive(path)
    except (NodeNotFound, CliConnectionError) as error:
        print(f"% {error}", file=sys.stderr)
        return 2


def terminal_text(text: str, stream: TextIO) -> str:
    """`text` as `stream` can take it: controls other than newline and tab escaped, and
    what its encoding has no code for (an ASCII locale) as backslash escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return printable(text, keep="\n\t").encode(encoding, "backslashreplace").decode(encoding)


def show(text: str, stream: TextIO | None = None) -> None:
    """Write text that came from the router (or from argv) to the terminal; never raises
    an encoding error."""
    out = stream or sys.stdout
    out.write(terminal_text(text, out))
    out.flush()


def show_paged(text: str, length: int) -> None:
    """Interactive output on a terminal pages as IOS does (`terminal length`, ` --More-- `);
    anything else (a pipe, a redirected stdout, `terminal length 0`) is shown whole."""
    if length and sys.stdin.isatty() and sys.stdout.isatty():
        more(terminal_text(text, sys.stdout), length, tty_key_reader(sys.stdin), show_raw)
    else:
        show(text)


def show_raw(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def one_shot(path: Path, commands: list[str]) -> int:
    failed = False
    with CliClient(path, on_debug=lambda line: show(line + "\n")) as client:
        prompt = client.send("")["prompt"]
        for command in commands:
            answer = client.send(command)
            if answer["error"]:
                failed = True
                show(f"{prompt}{command}\n")
            show(answer["output"])
            prompt = answer["prompt"]
            if answer["closed"]:
                break
    return 1 if failed else 0


class _Reader(threading.Thread):
    """Reads the socket while the user types: answers to a queue, debug lines to the screen."""

    def __init__(self, client: CliClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.answers: "queue.Queue[dict[str, Any] | None]" = queue.Queue()

    def run(self) -> None:
        try:
            while True:
                message = self.client.read_message()
                if "debug" in message and "ok" not in message:
                    _print_async(message["debug"])
                else:
                    self.answers.put(message)
        except (OSError, ValueError, CliConnectionError):
            self.answers.put(None)


def _print_async(line: str) -> None:
    try:
        import readline
        buffer = readline.get_line_buffer()
    except ImportError:
        readline, buffer = None, ""
    sys.stdout.write("\r\x1b[K")  # our own: back to the start of the line, clear it
    show(f"{line}\n")
    if readline is not None:
        show(_current_prompt[0] + buffer)


_current_prompt = [""]


def interactive(path: Path) -> int:
    try:
        import readline
        try:
            readline.read_history_file(HISTORY)
        except OSError:
            pass
    except ImportError:
        readline = None  # type: ignore[assignment]
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")
    client = CliClient(path, timeout=None)
    reader = _Reader(client)
    reader.start()

    def send(line: str) -> dict[str, Any]:
        client.submit(line)
        answer = reader.answers.get()
        if answer is None:
            raise CliConnectionError("the router closed the connection")
        return answer

    try:
        first = send("")
        if first.get("banner"):  # `banner motd`, as IOS shows it when a line starts
            show("\n" + first["banner"] + "\n")
        prompt = first["prompt"]
        prefill = ""
        while True:
            _current_prompt[0] = prompt
            if readline is not None and prefill:
                readline.set_startup_hook(lambda: readline.insert_text(prefill))
            try:
                line = input(terminal_text(prompt, sys.stdout))
            except EOFError:
                print()
                line = "\x1a" if prompt.endswith(")#") else "exit"
            except KeyboardInterrupt:
                print()
                prefill = ""
                continue
            finally:
                if readline is not None:
                    readline.set_startup_hook(None)
            answer = send(line)
            show_paged(answer["output"], answer.get("length", 0))
            prompt = answer["prompt"]
            prefill = terminal_text(answer.get("retype") or "", sys.stdout)
            if answer["closed"]:
                return 0
    except CliConnectionError as error:
        print(f"% {error}", file=sys.stderr)
        return 2
    finally:
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass
        client.close()
