"""`FaultInjector`: the faults a running lab can be given, each recorded with its time.

    lab.fault("kill", "hub")                      # SIGKILL the agent: the router is dead
    lab.fault("restart", "hub")                   # start it again from its startup config
    lab.fault("reload", "spoke1")                 # a clean reload (SIGTERM, then start)
    lab.fault("crash", "spoke1")                  # SIGKILL and start again at once
    lab.fault("link-down", "spoke1", duration=5)  # its WAN cut for 5 s (without: until link-up)
    lab.fault("flap", "spoke1", period=2, duration=30)
    lab.fault("loss", "all", percent=5)           # every underlay link (or one router's WAN)
    lab.fault("delay", "spoke1", ms=50, jitter=10)  # in the agent's tunnel (see below)
    lab.fault("renumber", "spoke1", address="100.64.1.5/30", gateway="100.64.1.6")
    lab.fault("isp-down", "isp", duration=4)
    lab.clear_faults()                            # everything above undone, dead agents restarted

Delay and jitter: this kernel has no netem, and every tunnel packet already passes through
the agent in user space, so the agent holds each outgoing GRE/ESP packet of the router for
`ms` ± `jitter` before its socket sends it (control op `impair`). Where the kernel has
netem, `tc qdisc ... netem` on the WAN port is used instead and the record says which.

Timed faults (link-down with a duration, flap, isp-down) run in threads of this process;
`wait()` joins them, `clear()` stops them. Every step (down, up, inject, clear) is one
`FaultEvent` in the fault record (`fault_record_path`), so a scenario times what it sees in the captures
from the record. Imports the lab's agents and records modules, never the CLI.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from dmvpnlab import jsonline
from dmvpnlab.lab.faults import underlay
from dmvpnlab.lab.faults.record import FAULTS_FILE, FaultEvent, FaultLog
from dmvpnlab.rundir import CONTROL_SOCKET

KINDS = ("kill", "restart", "reload", "crash", "link-down", "link-up", "flap", "loss", "delay",
         "renumber", "isp-down", "isp-up", "clear")


def fault_record_path(lab: Any) -> Path:
    """Next to the lab's captures when it has them (they outlive the lab, and `dmvpnlab pcap`
    interleaves the record with a capture's ladder), else in the lab's run directory."""
    directory = lab.captures.directory if lab.captures is not None else lab.records.directory
    return directory / FAULTS_FILE


class FaultError(ValueError):
    """A fault that cannot be given as asked; str() says what was expected."""


def _number(params: dict[str, Any], key: str, default: float | None = None, low: float = 0.0,
            high: float = 1e9) -> float:
    value = params.get(key, default)
    if value is None:
        raise FaultError(f"expected {key}=N, got nothing")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"expected a number for {key}, got {value!r}") from None
    if not low <= number <= high:
        raise FaultError(f"expected {key} from {low:g} to {high:g}, got {number:g}")
    return number


class FaultInjector:
    """The faults of one lab (see the module docstring)."""

    def __init__(self, lab: Any) -> None:
        """`lab` is the running `dmvpnlab.lab.lab.Lab` (not imported: the lab imports this module)."""
        self.lab = lab
        self.log = FaultLog(fault_record_path(lab))
        self.killed: set[str] = set()
        self.down_links: dict[str, underlay.LinkEnd] = {}
        self.losses: dict[str, dict[str, float]] = {}  # namespace -> far-end port -> percent
        self.delayed: set[str] = set()
        self.isp_ports: list[str] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ entry point

    def fault(self, kind: str, target: str, **params: Any) -> FaultEvent:
        """Give `target` the fault `kind` (see KINDS); the event recorded as it began."""
        handler: Callable[[str, dict[str, Any]], FaultEvent] | None = getattr(
            self, "_" + kind.replace("-", "_"), None) if kind in KINDS else None
        if handler is None:
            raise FaultError(f"expected a fault kind ({', '.join(KINDS)}), got {kind!r}")
        target = self.lab.canonical_name(target) if target else target  # `all`, `isp`: themselves
        return handler(target, dict(params))

    def events(self) -> list[FaultEvent]:
        return self.log.events()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the timed faults (flaps, timed downs); False if one still runs after `timeout`."""
        for thread in list(self._threads):
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def _record(self, kind: str, target: str, action: str, **params: Any) -> FaultEvent:
        return self.log.record(FaultEvent(kind, target, action, params=params))

    def _background(self, name: str, body: Callable[[], None]) -> None:
        thread = threading.Thread(target=body, name=f"fault-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    # ------------------------------------------------------------------ agents

    def _handle(self, node: str) -> Any:
        handle = next((h for h in self.lab.agents if h.node == node), None)
        if handle is None:
            raise FaultError(f"expected a router that runs an agent, got {node!r}")
        return handle

    def _kill(self, target: str, params: dict[str, Any]) -> FaultEvent:
        handle = self._handle(target)
        event = self._record("kill", target, "inject", pid=handle.popen.pid)
        handle.popen.kill()
        handle.popen.wait(10)
        self.killed.add(target)
        return event

    def _restart(self, target: str, params: dict[str, Any]) -> FaultEvent:
        handle = self._handle(target)
        crashed = handle.popen.poll() is not None
        event = self._record("restart", target, "inject", was="dead" if crashed else "running")
        self.lab.restart_agent(target, crash=crashed)
        self.killed.discard(target)
        self._record("restart", target, "ready", pid=self._handle(target).popen.pid)
        return event

    def _reload(self, target: str, params: dict[str, Any]) -> FaultEvent:
        return self._start_again("reload", target, crash=False)

    def _crash(self, target: str, params: dict[str, Any]) -> FaultEvent:
        return self._start_again("crash", target, crash=True)

    def _start_again(self, kind: str, target: str, crash: bool) -> FaultEvent:
        """A reload (SIGTERM: the agent cleans up) or a crash (SIGKILL), then a fresh start."""
        self._handle(target)
        event = self._record(kind, target, "inject")
        self.lab.restart_agent(target, crash=crash)
        self.killed.discard(target)
        self._record(kind, target, "ready", pid=self._handle(target).popen.pid)
        return event

    # ------------------------------------------------------------------ links

    def link_end(self, router: str) -> underlay.LinkEnd:
        from dmvpnlab.ifnames import linux_ifname

        try:
            r = self.lab.topology.router(router)
        except KeyError:
            raise FaultError(f"expected a router of the lab, got {router!r}") from None
        wan = getattr(r, "wan", None)
        if wan is None:
            raise FaultError(f"{router}: link faults need a native lab's router (a WAN link to the ISP, a NAT box or a segment)")
        return underlay.find_link_end(self.lab.exec, router, linux_ifname(router, wan.ios_name), wan.peer)

    def _set_link(self, target: str, up: bool, kind: str, **params: Any) -> FaultEvent:
        with self._lock:
            end = self.down_links.get(target) or self.link_end(target)
            event = self._record(kind, target, "up" if up else "down", port=f"{end.peer}:{end.peer_if}", **params)
            underlay.set_link(self.lab.exec, end, up)
            if up:
                self.down_links.pop(target, None)
            else:
                self.down_links[target] = end
        return event

    def _link_down(self, target: str, params: dict[str, Any]) -> FaultEvent:
        duration = params.get("duration")
        event = self._set_link(target, False, "link-down", **({"duration": duration} if duration else {}))
        if duration:
            seconds = _number(params, "duration", low=0.1, high=3600)
            self._background(f"link-{target}", lambda: self._stop.wait(seconds) or self._set_link(target, True, "link-down"))
        return event

    def _link_up(self, target: str, params: dict[str, Any]) -> FaultEvent:
        return self._set_link(target, True, "link-up")

    def _flap(self, target: str, params: dict[str, Any]) -> FaultEvent:
        period = _number(params, "period", 2.0, 0.2, 600)
        duration = _number(params, "duration", 30.0, period, 3600)
        down = _number(params, "down", period / 2, 0.05, period)
        self.link_end(target)  # a bad target fails here, not in the thread
        event = self._record("flap", target, "inject", period=period, duration=duration, down=down)

        def run() -> None:
            flaps = 0
            for _ in range(int(duration // period)):
                if self._stop.is_set():
                    break
                self._set_link(target, False, "flap")
                if self._stop.wait(down):
                    self._set_link(target, True, "flap")
                    break
                self._set_link(target, True, "flap")
                flaps += 1
                if self._stop.wait(period - down):
                    break
            self._record("flap", target, "end", flaps=flaps)

        self._background(f"flap-{target}", run)
        return event

    def _isp_down(self, target: str, params: dict[str, Any]) -> FaultEvent:
        from dmvpnlab.lab.topology.model import ISP_NAME

        with self._lock:
            self.isp_ports = underlay.node_ports(self.lab.exec, ISP_NAME)
            event = self._record("isp-down", ISP_NAME, "down", ports=len(self.isp_ports),
                                 **({"duration": params["duration"]} if params.get("duration") else {}))
            underlay.set_ports(self.lab.exec, ISP_NAME, self.isp_ports, up=False)
        if params.get("duration"):
            seconds = _number(params, "duration", low=0.1, high=3600)
            self._background("isp", lambda: self._stop.wait(seconds) or self._isp_up(ISP_NAME, {}))
        return event

    def _isp_up(self, target: str, params: dict[str, Any]) -> FaultEvent:
        from dmvpnlab.lab.topology.model import ISP_NAME

        with self._lock:
            ports = self.isp_ports or underlay.node_ports(self.lab.exec, ISP_NAME)
            event = self._record("isp-down", ISP_NAME, "up", ports=len(ports))
            underlay.set_ports(self.lab.exec, ISP_NAME, ports, up=True)
            self.isp_ports = []
        return event

    def _loss(self, target: str, params: dict[str, Any]) -> FaultEvent:
        percent = _number(params, "percent", None, 0, 100)
        routers = ([r.name for r in self.lab.topology.routers] if target == "all" else [target])
        ends = [self.link_end(name) for name in routers]
        with self._lock:
            for end in ends:
                ports = self.losses.setdefault(end.peer, {})
                if percent:
                    ports[end.peer_if] = percent
                else:
                    ports.pop(end.peer_if, None)
            event = self._record("loss", target, "inject" if percent else "clear", percent=percent,
                                 links=len(ends))
            for namespace in sorted({end.peer for end in ends}):
                underlay.apply_loss(self.lab.exec, namespace, self.losses[namespace])
        return event

    def loss_counters(self) -> dict[str, dict[str, int]]:
        """Packets the loss rules dropped so far, per namespace and rule."""
        return {ns: underlay.loss_counters(self.lab.exec, ns) for ns in self.losses}

    def _renumber(self, target: str, params: dict[str, Any]) -> FaultEvent:
        r = self.lab.topology.router(target)
        old = getattr(r.wan, "address", None)
        if old is None or "address" not in params or "gateway" not in params:
            raise FaultError("expected address=A.B.C.D/LEN gateway=A.B.C.D for renumber")
        current = self.lab.exec(target, ["ip", "-4", "-o", "addr", "show", "dev", self.link_end(target).router_if])
        have = [w.split()[3] for w in current.stdout.splitlines() if " inet " in w]
        end = self.link_end(target)
        event = self._record("renumber", target, "inject", old=have[0] if have else str(old),
                             new=str(params["address"]), gateway=str(params["gateway"]))
        underlay.renumber(self.lab.exec, end, have[0] if have else str(old), str(params["address"]),
                          str(params["gateway"]))
        return event

    # ------------------------------------------------------------------ delay (in the agent)

    def _delay(self, target: str, params: dict[str, Any]) -> FaultEvent:
        ms = _number(params, "ms", None, 0, 10000)
        jitter = _number(params, "jitter", 0.0, 0, 10000)
        handle = self._handle(target)
        event = self._record("delay", target, "inject" if ms or jitter else "clear", ms=ms, jitter=jitter,
                             where="agent tunnel (no netem in this kernel)")
        answer = jsonline.request(handle.state_dir / CONTROL_SOCKET,
                                  {"op": "impair", "delay_ms": ms, "jitter_ms": jitter}, timeout=5.0)
        if not answer.get("ok"):
            raise FaultError(f"{target}: the agent refused the delay: {answer.get('error')}")
        if ms or jitter:
            self.delayed.add(target)
        else:
            self.delayed.discard(target)
        return event

    # ------------------------------------------------------------------ clear

    def _clear(self, target: str, params: dict[str, Any]) -> FaultEvent:
        """Undo every fault (stop timed ones, links and ISP up, loss and delay off, dead agents
        started again): the lab as it was brought up, but for what the routers learnt meanwhile."""
        self._stop.set()
        self.wait(timeout=10)
        self._threads.clear()
        self._stop = threading.Event()
        event = self._record("clear", target or "all", "inject")
        if self.isp_ports:
            self._isp_up("isp", {})
        for name in list(self.down_links):
            self._set_link(name, True, "clear")
        for namespace in list(self.losses):
            self.losses[namespace] = {}
            underlay.apply_loss(self.lab.exec, namespace, {})
        self.losses.clear()
        for name in sorted(self.delayed):
            self._delay(name, {"ms": 0, "jitter": 0})
        for name in sorted(self.killed):
            self._restart(name, {})
        return event

    def stop(self) -> None:
        """Stop timed faults without undoing anything (the lab is going down)."""
        self._stop.set()
        self.wait(timeout=5)


__all__ = ["FaultError", "FaultInjector", "KINDS"]
