"""Root only: GRE in ESP between two namespaces, real TAPs, real raw ESP / UDP sockets.

Two namespaces of our own (unique names) joined by a veth (198.18.0.1/30 <-> .2). In
each, an `MgreTunnel` (TAP Tunnel0, static NHRP map to the other side) runs over an
`EspTransport` whose SAs come from a hand-made `ChildSaUp` pair (random keys, as Quick
Mode would hand them over): no IKE is involved. A ping between the tunnel addresses
must go TAP -> GRE -> ESP -> veth -> ESP -> GRE -> TAP and back, and the capture of the
veth must hold ESP only: no GRE in the clear. Once as IP protocol 50, once as ESP in
UDP 4500 (RFC 3948, NAT-T). Everything is removed in `finally`; only the processes
started here are signalled, by PID. Run it under the lab lock:
`flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python -m pytest -q tests/test_tunnel_esp_live.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from esp_pairs import child_sa_pair

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None,
    reason="needs root, iproute2, /dev/net/tun, tcpdump and tshark",
)

A, B = IPv4Address("198.18.0.1"), IPv4Address("198.18.0.2")
TUNNEL = {A: "10.0.0.1/24", B: "10.0.0.2/24"}
KEY = 42

#: One side: an mGRE tunnel over ESP on a select loop, until SIGTERM; then its counters.
CHILD = textwrap.dedent(r"""
    import json, select, signal, socket, sys, time
    from ipaddress import IPv4Address, IPv4Interface
    from dmvpnlab.ipsec.esp_transforms import parse_transform
    from dmvpnlab.ipsec.events import ChildSaUp
    from dmvpnlab.ipsec.sadb import SaDatabase
    from dmvpnlab.nhrp.config import NhrpEngineConfig
    from dmvpnlab.nhrp.engine import NhrpEngine
    from dmvpnlab.tunnel.esp_transport import EspTransport
    from dmvpnlab.tunnel.mgre import MgreTunnel

    arg = json.loads(sys.argv[1])
    local, peer = IPv4Address(arg["local"]), IPv4Address(arg["peer"])
    tip, peer_tip = IPv4Interface(arg["tunnel"]), IPv4Address(arg["peer_tunnel"])
    up = ChildSaUp(peer=peer, transform=parse_transform(arg["words"]), mode="transport",
                   spi_in=arg["spi_in"], keymat_in=bytes.fromhex(arg["keymat_in"]),
                   spi_out=arg["spi_out"], keymat_out=bytes.fromhex(arg["keymat_out"]),
                   lifetime_seconds=3600, lifetime_kilobytes=4608000, nat_t=arg["nat_t"],
                   peer_port=4500 if arg["nat_t"] else 500, initiator=arg["initiator"])
    now = time.monotonic()
    engine = NhrpEngine(NhrpEngineConfig(interface="Tunnel0", tunnel_address=tip, nbma_address=local,
                                         static_maps=[(peer_tip, peer)]), lambda _a: None, now)
    transport = EspTransport(SaDatabase(), local, arg["key"])
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    udp.bind(("0.0.0.0", 4500))
    transport.udp_sendto = udp.sendto
    tunnel = MgreTunnel("Tunnel0", tip, local, arg["key"], 1400, None, engine, transport=transport)
    engine.start(now)
    # The first packet waits for the SA like a packet that triggers IKE; installing flushes it.
    if arg["install_late"]:
        transport.on_need_sa = lambda nbma: (transport.install(up, time.monotonic()) if not transport.has_sa(nbma) else None)
    else:
        transport.install(up, now)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    fds = {tunnel.tap.fileno(): "tap", udp.fileno(): "udp", **{fd: "raw" for fd in transport.filenos()}}
    print("ready", flush=True)
    while not stop:
        try:
            ready, _, _ = select.select(list(fds), [], [], 0.1)
        except InterruptedError:
            continue
        for fd in ready:
            kind = fds[fd]
            if kind == "tap":
                tunnel.drain_tap()
            elif kind == "udp":
                while True:
                    try:
                        data, source = udp.recvfrom(65535)
                    except BlockingIOError:
                        break
                    transport.receive_udp_esp(data, source)
                tunnel.drain_socket()
            else:
                tunnel.drain_socket()
    c = transport.counters
    print(json.dumps({"gre_in": c.gre_in, "gre_out": c.gre_out, "drops": dict(c.drops), "esp": dict(transport.esp),
                      "heard": sorted(transport.heard),
                      "sa": [v.counters_out.pkts_encaps for v in transport.sadb.views("Tunnel0", "P", local)],
                      "decaps": [v.counters_in.pkts_decaps for v in transport.sadb.views("Tunnel0", "P", local)]}))
""")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, check=True)


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def tshark_count(pcap: Path, display_filter: str) -> int:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())


@pytest.mark.parametrize("nat_t", [False, True], ids=["esp", "udp-4500"])
def test_ping_crosses_the_tunnel_in_esp_only(nat_t, tmp_path):
    tag = f"{os.getpid() % 10000}{'u' if nat_t else 'e'}"
    ns = {A: f"dlt-esp-a-{tag}", B: f"dlt-esp-b-{tag}"}
    veth = f"dle{tag}"
    at_a, at_b = child_sa_pair(A, B, "esp-aes 256 esp-sha256-hmac", nat_t=nat_t,
                               port_a=4500 if nat_t else 500, port_b=4500 if nat_t else 500)
    made: list[str] = []
    procs: list[subprocess.Popen[str]] = []
    capture: subprocess.Popen[str] | None = None
    pcap = tmp_path / "veth.pcap"
    try:
        for space in ns.values():
            ip("netns", "add", space)
            made.append(space)
        ip("link", "add", f"{veth}a", "netns", ns[A], "type", "veth", "peer", "name", f"{veth}b", "netns", ns[B])
        for address, dev in ((A, f"{veth}a"), (B, f"{veth}b")):
            ip("-n", ns[address], "addr", "add", f"{address}/30", "dev", dev)
            ip("-n", ns[address], "link", "set", dev, "up")
            ip("-n", ns[address], "link", "set", "lo", "up")
        capture = subprocess.Popen(["ip", "netns", "exec", ns[A], "tcpdump", "-i", f"{veth}a", "-U", "--immediate-mode", "-n", "-w",
                                    str(pcap)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for me, peer, up in ((A, B, at_a), (B, A, at_b)):
            arg = {"local": str(me), "peer": str(peer), "tunnel": TUNNEL[me], "peer_tunnel": TUNNEL[peer].split("/")[0],
                   "words": up.transform.ios_words, "spi_in": up.spi_in, "keymat_in": up.keymat_in.hex(),
                   "spi_out": up.spi_out, "keymat_out": up.keymat_out.hex(), "nat_t": nat_t, "key": KEY,
                   "initiator": up.initiator, "install_late": me == A}
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns[me], sys.executable, "-c", CHILD, json.dumps(arg)],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        assert capture.stderr is not None
        while "listening on" not in (line := capture.stderr.readline()):  # tcpdump attached
            assert line, "tcpdump exited"
        ping = subprocess.run(["ip", "netns", "exec", ns[A], "ping", "-c", "4", "-i", "0.2", "-W", "2", "10.0.0.2"],
                              capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        ping_out = ping.stdout
    finally:
        results = [stop(p) for p in procs]
        if capture is not None:
            time.sleep(0.5)  # the last replies reach the capture file
            stop(capture)
        for space in made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
    a, b = (json.loads(out.strip().splitlines()[-1]) for out in results)
    # A's first packet waited for the SA (as if IKE ran) and went out when it was installed
    assert a["esp"].get("queued", 0) >= 1 and a["esp"].get("flushed", 0) >= 1
    assert a["sa"][0] >= 4 and b["decaps"][0] >= 4 and b["sa"][0] >= 4 and a["decaps"][0] >= 4
    assert a["gre_in"] >= 4 and b["gre_in"] >= 4
    assert a["heard"] == [str(B)] and b["heard"] == [str(A)]
    assert not any(k.startswith("esp ") or k == "cleartext GRE with tunnel protection" for k in {**a["drops"], **b["drops"]}), (a, b)
    # on the wire: ESP (in UDP 4500 with NAT-T), never GRE in the clear
    assert tshark_count(pcap, "gre") == 0
    assert tshark_count(pcap, "esp") >= 8, ping_out  # 4 echo requests + 4 replies
    if nat_t:
        assert tshark_count(pcap, "udp.port == 4500 && esp") == tshark_count(pcap, "esp")
    else:
        assert tshark_count(pcap, "ip.proto == 50") == tshark_count(pcap, "esp")
