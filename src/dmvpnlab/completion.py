"""`dmvpnlab completion bash`: a bash completion script generated from the command's own parser.

Why generated: subcommands and options change with every area that adds one; a script
written by hand would drift. This walks the argparse tree at the moment the user asks
(`source <(dmvpnlab completion bash)`), so it completes exactly what this install
accepts. What a positional argument completes to is read from the argument itself:

- choices -> those words;
- a node (`node`, `src`, `dst`, `target`; metavar NODE/SRC/DST) -> names from the running
  labs, asked at TAB time of the hidden `dmvpnlab _complete-nodes` (lab.node_names);
  a help text that starts with "router" ("a router") asks for routers only; words quoted in
  backticks in the help (fault's `all`, `isp`) are offered beside them;
- `lab` -> the names of the labs that are up;
- a directory (metavar DIR, dest `dir`/`directory`) -> directories;
- a file (type Path, metavar FILE or *.yaml, dest file/topology/labfile) -> files.

Options that take a value are skipped when positionals are counted, and their values
complete by the same rules. Nothing is completed where nothing is known (NAME=VALUE).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

NODE_DESTS = {"node", "src", "dst", "source", "destination", "target"}
NODE_METAVARS = {"NODE", "SRC", "DST"}
DIR_DESTS = {"dir", "directory", "outdir"}
FILE_DESTS = {"file", "topology", "labfile", "config", "path", "pcap"}
HELPER = "_complete-nodes"  # lab.node_names.HELPER (not imported: lab is not ours to import)


@dataclass(frozen=True)
class Completer:
    """How one argument completes: a shell snippet that fills COMPREPLY from "$cur"."""

    kind: str  # nodes, routers, labs, dirs, files, words, none
    words: tuple[str, ...] = ()

    def shell(self) -> str:
        words = " ".join(self.words)
        if self.kind in ("nodes", "routers"):
            flag = " --routers" if self.kind == "routers" else ""
            return f'_dmvpnlab_words "$(_dmvpnlab_names{flag} ${{lab:+--lab "$lab"}}) {words}"'
        if self.kind == "labs":
            return '_dmvpnlab_words "$(_dmvpnlab_names --labs)"'
        if self.kind == "dirs":
            return '_dmvpnlab_paths -d'
        if self.kind == "files":
            return '_dmvpnlab_paths -f'
        if self.kind == "words":
            return f'_dmvpnlab_words "{words}"'
        return "COMPREPLY=()"


def completer_for(action: argparse.Action) -> Completer:
    """What the argument `action` completes to (see the module docstring)."""
    dest = action.dest.lower()
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    help_text = action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
    if action.choices:
        return Completer("words", tuple(str(c) for c in action.choices))
    if dest in NODE_DESTS or metavar.upper() in NODE_METAVARS:
        extra = tuple(re.findall(r"`([\w-]+)`", help_text))
        routers = re.match(r"(an? |the )?router", help_text.lower()) is not None
        return Completer("routers" if routers else "nodes", extra)
    if dest == "lab":
        return Completer("labs")
    if dest in DIR_DESTS or metavar.upper().endswith("DIR"):
        return Completer("dirs")
    if (action.type is Path or dest in FILE_DESTS or metavar.upper() == "FILE"
            or metavar.lower().endswith((".yaml", ".yml", ".pcap", ".pcapng"))):
        return Completer("files")
    return Completer("none")


@dataclass
class Command:
    """One subcommand as the script needs it."""

    name: str
    options: list[str]
    valued: dict[str, Completer]  # option string -> completer of its value
    positionals: list[tuple[argparse.Action, Completer]]


def subcommands(parser: argparse.ArgumentParser) -> list[Command]:
    """The visible subcommands of `parser` (the hidden helper is never registered here)."""
    out = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            options, valued, positionals = [], {}, []
            for arg in sub._actions:
                if arg.option_strings:
                    options += arg.option_strings
                    if arg.nargs != 0:
                        valued.update({opt: completer_for(arg) for opt in arg.option_strings})
                else:
                    positionals.append((arg, completer_for(arg)))
            out.append(Command(name, options, valued, positionals))
    return out


def _positional_cases(command: Command) -> list[str]:
    """`case "$cmd $pos"` arms: one per slot, a `*`-slot for nargs * / + / REMAINDER."""
    arms, slot = [], 0
    for action, completer in command.positionals:
        if action.nargs == argparse.REMAINDER:
            arms.append(f'        "{command.name} "*) _dmvpnlab_paths -f ;;')
            break
        if action.nargs in ("*", "+"):
            arms.append(f'        "{command.name} "*) {completer.shell()} ;;')
            break
        count = action.nargs if isinstance(action.nargs, int) else 1
        for _ in range(count):
            arms.append(f'        "{command.name} {slot}") {completer.shell()} ;;')
            slot += 1
    return arms


TEMPLATE = r'''# bash completion for dmvpnlab, generated from its parser by `dmvpnlab completion bash`.
# Install: source <(dmvpnlab completion bash)   (e.g. in ~/.bashrc)
_dmvpnlab_names() { "${COMP_WORDS[0]}" %(helper)s "$@" 2>/dev/null; }
_dmvpnlab_words() { COMPREPLY=( $(compgen -W "$1" -- "$cur") ); }
_dmvpnlab_paths() { compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen "$1" -- "$cur") ); }
_dmvpnlab() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" lab="" w i pos=0 skip=0
    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"
    COMPREPLY=()
    for (( i=1; i<COMP_CWORD; i++ )); do
        w="${COMP_WORDS[i]}"
        if (( skip )); then
            skip=0
            [[ ${COMP_WORDS[i-1]} == --lab ]] && lab="$w"
            continue
        fi
        if [[ -z $cmd ]]; then
            [[ $w != -* ]] && cmd="$w"
            continue
        fi
        [[ $w == --lab=* ]] && lab="${w#--lab=}"
        case "$cmd $w" in
%(valued_skip)s
            *) [[ $w != -* ]] && (( pos++ )) ;;
        esac
    done
    if [[ -z $cmd ]]; then
        _dmvpnlab_words "%(top)s"
        return 0
    fi
    case "$cmd $prev" in
%(valued_values)s
    esac
    if [[ $cur == -* ]]; then
        case "$cmd" in
%(options)s
        esac
        return 0
    fi
    case "$cmd $pos" in
%(positionals)s
    esac
    return 0
}
complete -F _dmvpnlab dmvpnlab
'''


def bash_script(parser: argparse.ArgumentParser) -> str:
    """The completion script for `parser` (the whole `dmvpnlab` parser in use)."""
    commands = subcommands(parser)
    top = [opt for a in parser._actions if a.option_strings for opt in a.option_strings] + [c.name for c in commands]
    skip, values, options, positionals = [], [], [], []
    for command in commands:
        if command.valued:
            keys = "|".join(f'"{command.name} {opt}"' for opt in command.valued)
            skip.append(f"            {keys}) skip=1 ;;")
        for opt, completer in command.valued.items():
            values.append(f'        "{command.name} {opt}") {completer.shell()}; return 0 ;;')
        options.append(f'            {command.name}) _dmvpnlab_words "{" ".join(command.options)}" ;;')
        positionals += _positional_cases(command)
    return TEMPLATE % {"helper": HELPER, "top": " ".join(top), "valued_skip": "\n".join(skip),
                       "valued_values": "\n".join(values), "options": "\n".join(options),
                       "positionals": "\n".join(positionals)}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "completion", help="print a shell completion script: source <(dmvpnlab completion bash)",
        description="Print a completion script for SHELL: subcommands, options, and node names from the "
                    "running labs. Install: source <(dmvpnlab completion bash)")
    parser.add_argument("shell", choices=["bash"], help="the shell (bash)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dmvpnlab.command import build_parser  # the whole parser, as the user's install has it
    sys.stdout.write(bash_script(build_parser()))
    return 0
