"""Node and interface names: CML labels as Linux and Mininet can use them.

Node names are the CML labels, case kept (commands accept any case). A label becomes a
Mininet node's name, a word on command lines (`dmvpnlab cli Spoke1`, `mininet> Spoke1
show dmvpn`) and part of file names (`captures/<lab>/<node>-<intf>.pcapng`), so a name
here is letters, digits, `_` and `-`, starting with a letter, at most `MAX_NODE_NAME` (24)
characters: CML's default labels (`iosv-0`, `unmanaged-switch-0`, `ubuntu-0`) and the
usual ones (Hub, Spoke1, R1) are such names. (A router's management port `<name>-mgmt`
must fit 15 bytes; the wired builder shortens it for long names, so labels need not.)
A label that is not such a name is *mapped* to one (spaces and other characters to `_`,
a leading digit prefixed with `n`, cut to length, a `_2`... suffix if that is taken) and
the mapping is one line in the lab's notes: the lab still runs unchanged, and the note
says which name to type. Labels equal in any case are an error (commands could not tell
them apart).

Interface names: a router's Linux names come from `dmvpnlab.ifnames.wired_linux_name`
(GigabitEthernet0/1 -> Gi0-1); a host's or a bridge's interface keeps its label when that
is a legal Linux name (ens2, eth0, port0), else eth<slot> / p<slot>. Imports `ifnames`.
"""

from __future__ import annotations

import re

from dmvpnlab.ifnames import wired_linux_name

MAX_NODE_NAME = 24

_NODE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_LINUX_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_BAD_RUN = re.compile(r"[^A-Za-z0-9_-]+")


def usable_node_name(name: str) -> bool:
    return len(name) <= MAX_NODE_NAME and bool(_NODE_NAME.fullmatch(name))


class NodeNames:
    """Hands out node names, unique in any case, mapping labels that are not usable as they are."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, label: str) -> str:
        """The name of a node labelled `label` (the label itself when usable and free)."""
        if usable_node_name(label) and label.lower() not in self.taken:
            self.taken.add(label.lower())
            return label
        limit = MAX_NODE_NAME
        base = _BAD_RUN.sub("_", label).strip("_") or "node"
        if not base[0].isascii() or not base[0].isalpha():
            base = "n" + base
        base = base[:limit]
        name, k = base, 1
        while name.lower() in self.taken:
            k += 1
            name = base[: limit - len(str(k)) - 1] + f"_{k}"
        self.taken.add(name.lower())
        return name


def router_linux_name(ios: str) -> str:
    """Linux name of a router interface in a wired lab (GigabitEthernet0/1 -> Gi0-1); ValueError if none."""
    return wired_linux_name(ios)


def plain_linux_name(label: str | None, slot: int, fallback: str, taken: set[str]) -> str:
    """A host's or bridge's interface: its label if Linux takes it and it is free, else `<fallback><slot>`."""
    if label and _LINUX_IFNAME.fullmatch(label) and label != "lo" and label not in taken:
        name = label
    else:
        name, k = f"{fallback}{slot}", 0
        while name in taken:
            k += 1
            name = f"{fallback}{slot}x{k}"
    taken.add(name)
    return name
