"""`lab.trace(src, dst)` and `dmvpnlab trace`: one probe, explained hop by hop.

Why a probe and not a traceroute: in DMVPN the interesting question is not which TTL
expires where but which routing entry and which NHRP mapping sent the packet over which
NBMA address, and whether the hub was in the way. So one ICMP echo with a unique id is
sent from SRC's namespace (`ping -e ID`), the captures say where it went
(`analysis.flowpath`), and each router on that path is asked, through its own CLI, the
route for DST (`show ip route | json`: code S/O/D/B/H, `%` when NHRP overrides the next
hop) and its NHRP cache (`show ip nhrp | json`). Those tables are read just before the
probe (what decided the packet's path) and again after it (what the packet changed: in
Phase 3 the hub's redirect makes the source resolve a shortcut).

Works from the lab's records (`flows.LabView`) plus two callables, exec and cli, so an
in-process `Lab` and a detached lab reached through /run/dmvpnlab share all of it.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Callable

from dmvpnlab.analysis.flowpath import FlowPath, Proof
from dmvpnlab.analysis.paths import CaptureSet
from dmvpnlab.lab.flows import LabView, all_paths, lab_view
from dmvpnlab.nhrp.codec import PacketType

Exec = Callable[[str, list[str]], Any]  # (node, argv) -> result with .rc and .stdout
Cli = Callable[[str, str], str]  # (router, line) -> output


@dataclass
class TraceTarget:
    """A lab as the trace needs it: records-derived view, exec in a node, CLI of a router."""

    view: LabView
    exec: Exec
    cli: Cli

    @classmethod
    def of_lab(cls, lab: Any) -> "TraceTarget":
        return cls(lab_view(lab), lambda node, argv: lab.exec(node, argv, timeout=10),
                   lambda router, line: lab.cli(router, line, timeout=15))


@dataclass
class Hop:
    """One router's part in the probe's path."""

    router: str
    route: dict[str, Any] | None  # the best row of `show ip route | json` for DST, as before the probe
    code: str  # IOS's code column: `D`, `H`, `D%`, `C` ...
    nhrp: dict[str, Any] | None  # the `show ip nhrp` entry of the route's next hop, if any
    nbma: str | None  # where the router sent the packet (outer destination), from the capture
    link: str | None  # the capture (link) the router sent it on
    encrypted: bool
    esp_spi: int | None
    proof: list[Proof] = field(default_factory=list)

    def explain(self) -> str:
        if self.route is None:
            how = "no route for the destination"
        else:
            how = f"route {self.code} {self.route['prefix']}"
            if self.route.get("next_hop"):
                how += f" via {self.route['next_hop']}"
            if self.route.get("interface"):
                how += f", {self.route['interface']}"
        parts = [how]
        if self.nhrp is not None:
            parts.append(f"NHRP {self.nhrp['prefix']} -> NBMA {self.nhrp.get('nbma')} ({self.nhrp.get('type')}"
                         + (f" {','.join(self.nhrp.get('flags') or [])}" if self.nhrp.get("flags") else "") + ")")
        if self.nbma is not None:
            crypto = f"ESP SPI 0x{self.esp_spi:08x}" if self.encrypted and self.esp_spi is not None else "GRE in the clear"
            parts.append(f"sent to NBMA {self.nbma} on {self.link} ({crypto})")
        return "; ".join(parts)


@dataclass
class TraceResult:
    src: str
    dst: str
    dst_address: str
    ident: int
    sent_at: float
    arrived: bool
    path: FlowPath
    hops: list[Hop]
    verdict: str
    captures: str

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "dst_address": self.dst_address, "ident": self.ident,
                "sent_at": self.sent_at, "arrived": self.arrived, "routers": self.path.routers,
                "links": self.path.links, "reason": self.path.reason, "captures": self.captures,
                "hops": [{**{k: v for k, v in asdict(h).items() if k != "proof"},
                          "proof": [{"link": p.link, "file": str(p.file), "frame": p.frame, "time": p.time,
                                     "outer": p.outer, "esp_spi": p.esp_spi} for p in h.proof]} for h in self.hops],
                "verdict": self.verdict}

    def render(self) -> str:
        lines = [f"trace {self.src} -> {self.dst} ({self.dst_address}), ICMP echo id {self.ident}"]
        for number, hop in enumerate(self.hops, 1):
            lines.append(f"{number:2}  {hop.router}: {hop.explain()}")
            lines += [f"      frame {proof}" for proof in hop.proof]
        if not self.hops:
            lines.append(f"    nothing seen: {self.path.reason}")
        lines.append(("arrived: " if self.arrived else "did not arrive: ") + self.verdict)
        return "\n".join(lines) + "\n"


def _json(text: str) -> Any:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    return json.loads(text[start:]) if start >= 0 else {}


def snapshot(target: TraceTarget, router: str) -> dict[str, Any]:
    """The router's routes and NHRP cache now, as its CLI gives them in JSON."""
    try:
        routes = _json(target.cli(router, "show ip route | json")).get("routes", [])
        nhrp = _json(target.cli(router, "show ip nhrp | json")).get("entries", [])
    except (OSError, ValueError, AttributeError):
        return {"routes": [], "nhrp": []}
    return {"routes": routes, "nhrp": nhrp}


def best_route(routes: list[dict[str, Any]], address: str) -> dict[str, Any] | None:
    """The longest-prefix row for `address` (rows come best first per prefix)."""
    dst = IPv4Address(address)
    best: tuple[int, dict[str, Any]] | None = None
    for row in routes:
        try:
            net = IPv4Network(row["prefix"], strict=False)
        except (KeyError, ValueError):
            continue
        if dst in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, row)
    return best[1] if best else None


def code_of(row: dict[str, Any] | None) -> str:
    """IOS's code column for a JSON row: the letter, `%` for an NHRP next-hop override, the type."""
    if row is None:
        return "-"
    code = str(row.get("code", "?"))
    return code[0] + ("%" if row.get("override") else "") + code[1:].replace(" ", "")


def nhrp_entry(entries: list[dict[str, Any]], route: dict[str, Any] | None, address: str) -> dict[str, Any] | None:
    """The NHRP entry that maps the route's next hop (or covers the destination) to an NBMA."""
    next_hop = route.get("next_hop") if route else None
    for e in entries:
        if next_hop and e.get("next_hop") == next_hop and e.get("nbma"):
            return e
    for e in entries:
        try:
            if IPv4Address(address) in IPv4Network(e["prefix"], strict=False) and e.get("nbma"):
                return e
        except (KeyError, ValueError):
            continue
    return None


def send_probe(target: TraceTarget, src: str, address: str) -> tuple[int, float, bool]:
    """One echo from SRC's namespace with a fresh id: (id, time sent, answered)."""
    ident = random.randint(1, 0xFFFF)
    sent = time.time()
    result = target.exec(src, ["ping", "-n", "-c", "1", "-W", "2", "-e", str(ident), address])
    return ident, sent, getattr(result, "rc", 1) == 0


def _hops(path: FlowPath, before: dict[str, dict[str, Any]], nbma: dict[IPv4Address, str], address: str) -> list[Hop]:
    mine = {router: [str(a) for a, r in nbma.items() if r == router] for router in path.routers}
    hops = []
    for router in path.routers:
        state = before.get(router, {"routes": [], "nhrp": []})
        route = best_route(state["routes"], address)
        sent = [p for p in path.frames if p.outer and p.outer.split(" -> ")[0] in mine[router]]
        out = next((p for p in sent if p.link.split("-", 1)[0] == router), sent[0] if sent else None)  # its own link first
        proof = [p for p in path.frames if p.link.split("-", 1)[0] == router]
        hops.append(Hop(router, route, code_of(route), nhrp_entry(state["nhrp"], route, address) if out else None,
                        out.outer.split(" -> ")[1] if out else None, out.link if out else None,
                        bool(out and out.esp_spi is not None), out.esp_spi if out else None, proof))
    return hops


def verdict(path: FlowPath, hops: list[Hop], after: dict[str, Any] | None, captures: CaptureSet,
            since: float, address: str, arrived: bool) -> str:
    """The one sentence: direct or via whom, and why."""
    if not path:
        return f"the probe was not seen in the captures: {path.reason}"
    first = hops[0]
    prefix = first.route["prefix"] if first.route else address
    if len(path.routers) <= 2:
        how = "an NHRP shortcut" if first.code.startswith("H") or "%" in first.code else f"its {first.code} route"
        sentence = f"direct: {first.router} sent it to {path.routers[-1]} (NBMA {first.nbma}) by {how} to {prefix}"
    else:
        middle = ", ".join(path.routers[1:-1])
        sentence = (f"via {middle}: {first.router} has no shortcut to {prefix} yet "
                    f"(route {first.code} {prefix} via {first.route.get('next_hop') if first.route else '?'})")
        redirects = [m for m in captures.nhrp if int(m.packet.type) == PacketType.TRAFFIC_INDICATION and m.time >= since]
        if redirects:
            sentence += (f"; {path.routers[1]}'s redirect (NHRP traffic indication at {redirects[0].time:.3f}) "
                         "asks it to resolve one")
        if after is not None:
            now = best_route(after["routes"], address)
            if now is not None and (now.get("code", "").startswith("H") or now.get("override")):
                sentence += f"; {first.router} now has {code_of(now)} {now['prefix']}, the next packet goes direct"
    if not arrived:
        sentence += f"; last seen on {path.links[-1]}" if path.links else ""
    return sentence


def run_trace(target: TraceTarget, src: str, dst: str) -> TraceResult:
    """Snapshot the routers, send the probe, read the captures, explain each hop."""
    view = target.view
    address = view.address(dst)
    routers = view.routers()
    before = {r: snapshot(target, r) for r in routers[:32]}  # what decides the packet's path
    ident, sent, answered = send_probe(target, src, address)
    found, captures = all_paths(view, src, dst, since=sent - 0.5, ident=ident)
    path = found[-1] if found else FlowPath([], [], reason=f"no echo id {ident} to {address} in {view.captures}")
    for router in path.routers:  # a big lab's routers past the first 32: their tables as of now
        if router not in before:
            before[router] = snapshot(target, router)
    hops = _hops(path, before, view.nbma(), address)
    after = snapshot(target, path.routers[0]) if path else None
    text = verdict(path, hops, after, captures, sent - 0.5, address, answered)
    return TraceResult(src, dst, address, ident, sent, answered, path, hops, text, str(view.captures))
