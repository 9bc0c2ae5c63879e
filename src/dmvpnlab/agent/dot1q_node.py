"""802.1Q subinterfaces in user space: a TAP per `encapsulation dot1Q N`, relayed to its parent.

This kernel has no 8021q module, so `GigabitEthernet0/1.10` cannot be a VLAN device.
Instead the agent creates a TAP with the subinterface's Linux name and relays: frames on
the parent link (an AF_PACKET socket; the kernel hands the VID over in auxdata) are
sorted by `l2.dot1q.Dot1qDemux` and written untagged into the matching TAP; frames the
kernel sends into a TAP are tagged and sent on the parent. The TAP takes the parent's
MAC, as an IOS subinterface shares its parent's. Addresses are not set here (the
interfaces part of the agent does that once the TAP exists).

Native VLAN (`encapsulation dot1Q N native`): untagged frames belong to that
subinterface, so the parent's own IP stack must not take them as well (it would answer
ARP and accept packets for the subinterface's address: duplicates). An nftables
`netdev` ingress chain on the parent drops every frame after the packet socket has seen
it (packet taps run before the ingress hook), in a table of ours, `dmvpnlab_l2`.

Names: the TAP is `ifnames.linux_ifname(node, subif)`: the interface map's name in a
wired lab, else `wired_linux_name` (`GigabitEthernet0/1.10` -> `Gi0-1.10`), in native
labs too (at most 15 bytes whatever the node is called, unique inside the namespace).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from socket import socket
from typing import Any

from dmvpnlab import ifnames
from dmvpnlab.agent import packet_socket
from dmvpnlab.config.model import Interface, RouterConfig
from dmvpnlab.l2.dot1q import Dot1qDemux
from dmvpnlab.tunnel.frames import format_mac
from dmvpnlab.tunnel.tap import TapDevice, TapError

log = logging.getLogger("dmvpnlab.agent.dot1q")
NFT_TABLE = "dmvpnlab_l2"
BURST = 64  # frames relayed per wake-up before the loop serves others


def split_subinterface(name: str) -> tuple[str, int] | None:
    """("GigabitEthernet0/1", 10) for "GigabitEthernet0/1.10", None for anything else."""
    try:
        parts = ifnames.split_ios_ifname(name)
    except ifnames.InterfaceNameError:
        return None
    return (parts.parent, parts.subinterface) if parts.subinterface is not None else None


def subinterface_linux_name(node: str, ios: str) -> str:
    """The TAP's name for subinterface `ios` (see the module docstring for the rule)."""
    return ifnames.linux_ifname(node, ios)


def parent_linux_name(node: str, ios_parent: str) -> str:
    return ifnames.linux_ifname(node, ios_parent)


def interface_linux_name(node: str, ios: str) -> str:
    """Linux name of any non-tunnel interface, subinterfaces (our TAPs) included."""
    return ifnames.linux_ifname(node, ios)


@dataclass
class Subinterface:
    ios: str
    linux: str
    parent: str  # the parent's Linux name
    vid: int
    native: bool
    tap: TapDevice


@dataclass
class ParentLink:
    linux: str
    sock: socket
    demux: Dot1qDemux
    native_filter: bool = False


@dataclass
class Dot1qNode:
    """The router's subinterface TAPs and the relays to their parent links."""

    node: str
    subinterfaces: dict[str, Subinterface] = field(default_factory=dict)  # IOS name -> subinterface
    parents: dict[str, ParentLink] = field(default_factory=dict)  # parent Linux name -> link
    counters: Counter[str] = field(default_factory=Counter)
    _started: bool = False  # the first apply removes the table a killed agent left

    def apply(self, config: RouterConfig) -> None:
        """Create the TAPs of new subinterfaces, close those gone or changed (configure terminal too)."""
        if not self._started:
            self._started = True
            # A native-VLAN drop chain of a killed agent would keep eating the parent's
            # untagged frames even if this config has no native VLAN any more.
            _drop_table()
        wanted = {i.name: i for i in config.interfaces if i.dot1q_vlan is not None and split_subinterface(i.name)}
        for name, sub in list(self.subinterfaces.items()):
            itf = wanted.get(name)
            if itf is None or itf.dot1q_vlan != sub.vid or itf.dot1q_native != sub.native:
                self._close_subinterface(name)
        for name, itf in wanted.items():
            if name not in self.subinterfaces:
                try:
                    self._open_subinterface(itf)
                except (OSError, ValueError) as error:  # no parent, name too long, TAP refused
                    log.warning("interface %s (dot1Q %s): not created: %s", name, itf.dot1q_vlan, error)
        for linux in sorted(set(self.parents) | {s.parent for s in self.subinterfaces.values()}):
            try:
                self._refresh_parent(linux)
            except OSError as error:  # the parent vanished, nftables refused...
                log.warning("dot1Q relay on %s: not running: %s", linux, error)

    def close(self) -> None:
        for name in list(self.subinterfaces):
            self._close_subinterface(name)
        for linux in list(self.parents):
            self._refresh_parent(linux)
        _drop_table()

    def state(self) -> dict[str, Any]:
        return {"subinterfaces": {s.ios: {"linux": s.linux, "parent": s.parent, "vlan": s.vid, "native": s.native}
                                  for s in self.subinterfaces.values()},
                "counters": dict(self.counters) | {f"{p.linux}:{k}": v for p in self.parents.values()
                                                   for k, v in p.demux.counters.items()}}

    # --- set-up -------------------------------------------------------------------------

    def _open_subinterface(self, itf: Interface) -> None:
        parts = split_subinterface(itf.name)
        assert parts is not None and itf.dot1q_vlan is not None
        parent = parent_linux_name(self.node, parts[0])
        mac = packet_socket.interface_mac(parent)  # OSError if the parent does not exist
        if itf.dot1q_native and any(s.native and s.parent == parent for s in self.subinterfaces.values()):
            raise ValueError(f"{parent} already has a native VLAN subinterface")
        linux = subinterface_linux_name(self.node, itf.name)
        tap = TapDevice(linux)
        try:
            _ip("link", "set", "dev", linux, "address", format_mac(mac), "mtu",
                str(packet_socket.interface_mtu(parent)))
            _ip("link", "set", "dev", linux, "up")
            _ip("link", "set", "dev", parent, "up")
        except BaseException:
            tap.close()
            raise
        sub = Subinterface(itf.name, linux, parent, itf.dot1q_vlan, itf.dot1q_native, tap)
        self.subinterfaces[itf.name] = sub
        _watch(tap.fileno(), lambda: self._drain_tap(sub))
        log.info("subinterface %s: TAP %s on %s, VLAN %d%s", itf.name, linux, parent, sub.vid,
                 " native" if sub.native else "")

    def _close_subinterface(self, name: str) -> None:
        sub = self.subinterfaces.pop(name)
        _unwatch(sub.tap.fileno())
        sub.tap.close()  # the kernel deletes the TAP with its last fd
        log.info("subinterface %s: TAP %s closed", name, sub.linux)

    def _refresh_parent(self, linux: str) -> None:
        """One socket per parent link; its demux and native filter follow the subinterfaces."""
        subs = [s for s in self.subinterfaces.values() if s.parent == linux]
        link = self.parents.get(linux)
        native = next((s.ios for s in subs if s.native), None)
        if not subs:
            if link is not None:
                self._close_parent(link)
            return
        if link is None or (native is not None) != link.native_filter:
            counters = link.demux.counters if link is not None else Counter()
            if link is not None:
                self._close_parent(link)
            program = None if native is not None else packet_socket.tagged_filter()
            link = ParentLink(linux, packet_socket.open_packet_socket(linux, program), Dot1qDemux(counters=counters))
            self.parents[linux] = link
            _watch(link.sock.fileno(), lambda: self._drain_parent(link))
            if native is not None:
                link.native_filter = _native_filter(linux, True)
        link.demux.vlans = {s.vid: s.ios for s in subs if not s.native}
        link.demux.native = native

    def _close_parent(self, link: ParentLink) -> None:
        _unwatch(link.sock.fileno())
        link.sock.close()
        if link.native_filter:
            _native_filter(link.linux, False)
        self.parents.pop(link.linux, None)

    # --- relays -------------------------------------------------------------------------

    def _drain_parent(self, link: ParentLink) -> None:
        for _ in range(BURST):
            try:
                received = packet_socket.receive(link.sock)
            except OSError:
                self.counters["parent_read_errors"] += 1
                return
            if received is None:
                return
            result = link.demux.classify(received.frame, received.vid)
            if result is None:
                continue
            sub = self.subinterfaces.get(result[0])
            if sub is None or not sub.tap.write(result[1]):
                self.counters["tap_write_drops"] += 1

    def _drain_tap(self, sub: Subinterface) -> None:
        link = self.parents.get(sub.parent)
        for _ in range(BURST):
            try:
                frame = sub.tap.read()
            except OSError:
                self.counters["tap_read_errors"] += 1
                return
            if frame is None:
                return
            if link is None:
                self.counters["no_parent_drops"] += 1
                continue
            out = link.demux.outbound(sub.ios, frame)
            if out is not None and not packet_socket.send(link.sock, out):
                self.counters["parent_send_drops"] += 1


def _native_filter(parent: str, on: bool) -> bool:
    """Drop (on) or stop dropping (off) everything the parent's own stack would receive."""
    chain = f"native_{re.sub(r'[^A-Za-z0-9_]', '_', parent)}"
    if on:
        script = (f"table netdev {NFT_TABLE} {{\n chain {chain} {{\n"
                  f'  type filter hook ingress device "{parent}" priority 0; policy accept;\n  counter drop\n }}\n}}\n')
    else:
        script = f"delete chain netdev {NFT_TABLE} {chain}\n"
    proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log.warning("native VLAN on %s: nftables %s: %s", parent, "filter" if on else "removal",
                    proc.stderr.strip() or proc.returncode)
        return False
    return on


def _drop_table() -> None:
    """Delete our `netdev dmvpnlab_l2` table if it exists (read first: a namespace without
    one is not touched, and without an nft binary there is nothing of ours to remove)."""
    if shutil.which("nft") is None:
        return
    listed = subprocess.run(["nft", "list", "table", "netdev", NFT_TABLE], capture_output=True, text=True,
                            check=False)
    if listed.returncode != 0:
        return
    done = subprocess.run(["nft", "delete", "table", "netdev", NFT_TABLE], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        log.warning("nftables table netdev %s not deleted: %s", NFT_TABLE, done.stderr.strip() or done.returncode)
    else:
        log.info("nftables table netdev %s removed", NFT_TABLE)


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TapError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


def _watch(fd: int, callback: Any) -> None:
    try:
        asyncio.get_running_loop().add_reader(fd, callback)
    except RuntimeError:  # unit tests without a loop
        pass


def _unwatch(fd: int) -> None:
    try:
        asyncio.get_running_loop().remove_reader(fd)
    except RuntimeError:
        pass
