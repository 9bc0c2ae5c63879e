"""The `dmvpnlab up` prompt: Mininet's CLI, plus router CLI lines (`mininet> spoke1 show dmvpn`).

Engineers who know Mininet type `spoke1 ping h2`; engineers who know IOS type
`spoke1 show dmvpn`. Both work at the same prompt: for a router that runs an agent, a
line whose command is an IOS exec word goes to that router's CLI (its control socket,
`dmvpnlab.cli.client`), everything else stays Mininet's (a shell command in the node).

IOS words: show, debug, undebug, clear, configure, write, and their abbreviations of two
letters or more (`sh ip nhrp`, `conf t`, `wr`). `ping` and `traceroute` go to IOS when
their target is an address and no argument is a Linux option (`spoke1 ping 10.0.2.1 source
Loopback0` prints `!!!!!` as IOS does); with a node name or a `-` option they stay
Linux's (`spoke1 ping h2`, `h1 ping -c 3 10.0.0.1`). Node names are taken in any case
(`spoke1` is the CML label `Spoke1`). Two
words are also Linux commands, so they go to IOS only when followed by an IOS-looking
argument (a word starting with a letter, or `?`): `spoke1 sh -c 'ip route'` and
`spoke1 sh script.sh` run the shell, `spoke1 sh dmvpn` runs IOS; `spoke1 clear` alone
clears the terminal, `spoke1 clear ip nhrp` clears the NHRP cache. Several IOS lines
separated by `;` run in one session, in order, so configuration works in one line:
`hub conf t ; interface Tunnel0 ; ip nhrp redirect ; end`. (Live `debug` output needs a
session that stays open: `dmvpnlab cli NODE` or SSH.)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from mininet.cli import CLI
from mininet.log import output, setLogLevel

from dmvpnlab.cli.client import CliClient, CliConnectionError, NodeNotFound, resolve

IOS_WORDS = ("show", "debug", "undebug", "clear", "configure", "write")
MIN_ABBREVIATION = 2
# Also programs on a Linux box: IOS only with an IOS-looking argument after them.
SHARED_WITH_LINUX = ("sh", "clear")
# Both IOS exec commands and Linux programs: IOS's when the arguments are IOS's.
PROBES = ("ping", "traceroute")


def _ios_word(word: str) -> str | None:
    """The IOS exec word `word` abbreviates, None if it abbreviates none (or several)."""
    word = word.lower()
    if len(word) < MIN_ABBREVIATION:
        return None
    matches = [w for w in IOS_WORDS if w.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def _looks_like_ios_argument(word: str) -> bool:
    return word == "?" or (word[:1].isalpha() and "/" not in word and not word.endswith(".sh"))


def _is_ios_probe(words: list[str]) -> bool:
    """`ping A ...` / `traceroute A ...` with an address target and no Linux option."""
    if len(words) < 2 or words[0].lower() not in PROBES or any(w.startswith("-") for w in words[1:]):
        return False
    octets = words[1].split(".")
    return len(octets) == 4 and all(o.isdigit() and len(o) <= 3 for o in octets)


def ios_lines(args: str) -> list[str] | None:
    """The router CLI lines a prompt line (after the node name) stands for, None if it is Linux's."""
    parts = [part.strip() for part in args.split(";")]
    words = parts[0].split()
    if words and _is_ios_probe(words):
        return [parts[0]]
    if not words or _ios_word(words[0]) is None:
        return None
    if words[0].lower() in SHARED_WITH_LINUX and (len(words) < 2 or not _looks_like_ios_argument(words[1])):
        return None
    return [part for part in parts if part]


def run_lines(state_dir: Path, lines: list[str], out: TextIO) -> bool:
    """Run `lines` in one CLI session of the router at `state_dir`; False if one was refused.

    A refused line is echoed after the prompt, as a terminal would show it, so the caret
    under the error lines up with the command.
    """
    ok = True
    with CliClient(resolve(state_dir), on_debug=lambda line: out.write(line + "\n")) as client:
        prompt = client.send("")["prompt"]
        for line in lines:
            answer = client.send(line)
            if answer["error"]:
                ok = False
                out.write(f"{prompt}{line}\n")
            out.write(answer["output"])
            prompt = answer["prompt"]
            if answer["closed"]:
                break
        if prompt.endswith(")#"):
            client.send("end")  # a session left in config mode: leave it as IOS's `end` would
    out.flush()
    return ok


class LabPrompt(CLI):
    """Mininet's CLI with router CLI lines; Ctrl-C at the prompt leaves it (the lab then goes down)."""

    helpStr = CLI.helpStr + (
        "\nRouter CLI (IOS exec commands on a router's agent):\n"
        "  mininet> spoke1 show dmvpn\n"
        "  mininet> hub sh ip nhrp\n"
        "  mininet> hub conf t ; interface Tunnel0 ; ip nhrp redirect ; end\n"
        "Faults (recorded in the lab's faults.jsonl; `fault list` shows them):\n"
        "  mininet> fault kill hub        mininet> fault flap spoke1 period=2 duration=30\n"
        "  mininet> fault loss all percent=5    mininet> fault clear\n"
        "  (for an interactive session or live debug output: `dmvpnlab cli NODE`, or SSH)\n")

    def __init__(self, mininet: Any, routers: dict[str, Path], lab: Any = None, **kwargs: Any) -> None:
        self.routers = dict(routers)  # before CLI.__init__: it runs the loop
        self.lab = lab
        super().__init__(mininet, **kwargs)

    def do_fault(self, line: str) -> None:
        """fault KIND TARGET [NAME=VALUE ...] | fault list: inject a fault (see `dmvpnlab fault -h`)."""
        from dmvpnlab.lab.fault_command import parse_params
        from dmvpnlab.lab.faults import FaultError
        from dmvpnlab.lab.faults.underlay import UnderlayError

        words = line.split()
        if self.lab is None or not words:
            self.stdout.write("usage: fault KIND TARGET [NAME=VALUE ...] | fault list\n")
            return
        try:
            if words[0] == "list":
                events = self.lab.faults()
                self.stdout.write("".join(e.line() + "\n" for e in events) or "no faults recorded\n")
                return
            target = words[1] if len(words) > 1 and "=" not in words[1] else ""
            params = parse_params(words[2:] if target else words[1:])
            self.stdout.write(self.lab.fault(words[0], target, **params).line() + "\n")
        except (FaultError, UnderlayError) as error:
            self.stdout.write(f"% fault: {error}\n")

    def default(self, line: str) -> None:
        first, args, _ = self.parseline(line)
        node = next((n for n in self.mn if first and n.lower() == first.lower() and n != first), None)
        if node is not None:  # `spoke1 ip route` in a lab whose node is `Spoke1`
            line = f"{node} {args}"
            first = node
        router = next((r for r in self.routers if first and r.lower() == first.lower()), None)
        if router is not None and args:
            lines = ios_lines(args)
            if lines is not None:
                try:
                    run_lines(self.routers[router], lines, self.stdout)
                except (NodeNotFound, CliConnectionError) as error:
                    self.stdout.write(f"% {first}: {error}\n")
                return
        super().default(line)

    def run(self) -> None:
        while True:
            try:
                for node in self.mn.values():
                    while node.waiting:
                        node.sendInt()
                        node.waitOutput()
                self.cmdloop()
                break
            except KeyboardInterrupt:
                output("\n")
                break


def router_state_dirs(lab: Any) -> dict[str, Path]:
    """Routers that run an agent, and the state directory its control socket is in."""
    return {handle.node: handle.state_dir for handle in getattr(lab, "agents", [])}


def attach_mininet_output(stream: TextIO | None = None) -> None:
    """Point Mininet's log handler (which prints every host command's output) at `stream`.

    Mininet creates that handler when it is first imported, on whatever `sys.stderr` is
    then. The lab imports Mininet during bring-up, while the rich progress bar has
    replaced `sys.stderr` with its own proxy on a terminal; once the bar stops, what is
    written to the proxy never reaches the screen, so `h1 ping h2` printed nothing at a
    terminal (through a pipe there is no bar and no proxy)."""
    from mininet.log import lg

    target = stream if stream is not None else sys.stderr
    for handler in lg.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(target)


def run_prompt(lab: Any, stdin: TextIO = sys.stdin, **kwargs: Any) -> LabPrompt:
    """The `dmvpnlab up` prompt on `lab` (returns when the user leaves it)."""
    setLogLevel("output")
    attach_mininet_output()
    return LabPrompt(lab.net, router_state_dirs(lab), lab=lab, stdin=stdin, **kwargs)


def prompt_hint(topology: Any) -> str:
    """The one-line reminder printed before the prompt, with this lab's own node names
    (a CML lab has `Spoke1` and no `h1`)."""
    routers = list(topology.routers)
    hubs = list(topology.hubs) or routers[:1]
    spokes = list(topology.spokes) or routers[1:2] or hubs
    hosts = list(getattr(topology, "hosts", []) or [])
    if not hubs:
        return "Mininet CLI: `nodes`, `NODE CMD`; exit (or Ctrl-D / Ctrl-C) tears the lab down."
    hub, spoke = hubs[0].name, spokes[0].name
    linux = f"`{hosts[0].name} ip route`" if hosts else f"`{spoke} ip route`"
    return (f"Mininet CLI: {linux}, `nodes`; router CLI: `{spoke} show dmvpn`, `{spoke} ping A source Loopback0`, "
            f"`{hub} sh ip nhrp`, `{hub} conf t ; interface Tunnel0 ; ip nhrp redirect ; end`; "
            "exit (or Ctrl-D / Ctrl-C) tears the lab down.")
