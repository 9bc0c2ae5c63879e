"""Root only: a real TAP in a throw-away network namespace, driven by the dataplane.

The namespace is made with `unshare --net` for the child process alone, so it vanishes
with it; nothing touches the root namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("unshare") is None,
    reason="needs root, /dev/net/tun and unshare(1) to create a TAP in a private namespace",
)

CHILD = textwrap.dedent(r"""
    import json, select, subprocess, threading, time
    from ipaddress import IPv4Address, IPv4Interface
    from scapy.all import IP, ICMP
    from dmvpnlab.tunnel.tap import TapDevice
    from dmvpnlab.tunnel.socket import RawGreSocket
    from dmvpnlab.tunnel.frames import tunnel_mac
    from dmvpnlab.tunnel.dataplane import TunnelDataplane, WriteTap, Unicast
    from dmvpnlab.tunnel.gre import encode_gre, decode_gre

    out = {}
    addr = IPv4Interface("10.99.0.1/24")
    mac = tunnel_mac(addr.ip)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tap = TapDevice("Tunnel0")
    tap.configure(mac, addr, 1500)
    dp = TunnelDataplane(addr, mac, mtu=1000)
    stop = False
    seen = []

    def loop():
        while not stop:
            r, _, _ = select.select([tap], [], [], 0.1)
            if not r:
                continue
            while (frame := tap.read()) is not None:
                for a in dp.from_tap(frame):
                    if isinstance(a, WriteTap):
                        tap.write(a.frame)
                    elif isinstance(a, Unicast):
                        seen.append(str(a.next_hop))
                        p = IP(a.packet)
                        if ICMP in p and p[ICMP].type == 8:
                            reply = IP(src=p.dst, dst=p.src) / ICMP(type=0, id=p[ICMP].id, seq=p[ICMP].seq) / p[ICMP].payload
                            tap.write(dp.to_tap(bytes(reply), a.next_hop))

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    ping = subprocess.run(["ping", "-c", "2", "-W", "2", "10.99.0.5"], capture_output=True, text=True)
    out["ping_rc"] = ping.returncode
    out["neigh"] = subprocess.run(["ip", "neigh", "show", "dev", "Tunnel0"], capture_output=True, text=True).stdout
    big = subprocess.run(["ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1200", "10.99.0.5"], capture_output=True, text=True)
    out["route_after_big"] = subprocess.run(["ip", "route", "get", "10.99.0.5"], capture_output=True, text=True).stdout
    stop = True
    t.join()
    out["next_hops"] = sorted(set(seen))
    out["counters"] = dp.counters.as_dict()
    out["sysctl_send_redirects"] = open("/proc/sys/net/ipv4/conf/Tunnel0/send_redirects").read().strip()
    out["sysctl_rp_filter"] = open("/proc/sys/net/ipv4/conf/Tunnel0/rp_filter").read().strip()
    # raw GRE socket over loopback: what we send comes back with the outer header stripped
    with RawGreSocket("127.0.0.1") as s:
        assert s.send("127.0.0.1", encode_gre(0x0800, b"hello", key=9))
        got = None
        for _ in range(50):
            got = s.recv()
            if got:
                break
            time.sleep(0.01)
        if got:
            g = decode_gre(got[2])
            out["gre_loop"] = [str(got[0]), str(got[1]), g.key, g.payload.decode()]
    tap.close()
    print(json.dumps(out, default=str))
""")


def test_tap_in_private_namespace_answers_arp_and_carries_ping():
    proc = subprocess.run(["unshare", "--net", sys.executable, "-c", CHILD],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the kernel ARPed for the next hop and accepted our next-hop-encoding MAC
    assert "10.99.0.5 lladdr 02:00:0a:63:00:05" in out["neigh"]
    assert out["ping_rc"] == 0, out
    assert out["next_hops"] == ["10.99.0.5"]
    assert out["counters"]["arp_replies"] >= 1
    # DF-set 1228-byte ping over a 1000-byte ip mtu: our ICMP frag-needed (from the
    # tunnel's own address) was accepted and the kernel learned the path MTU
    assert out["counters"]["frag_needed_sent"] == 1
    assert "mtu 1000" in out["route_after_big"], out["route_after_big"]
    assert (out["sysctl_send_redirects"], out["sysctl_rp_filter"]) == ("0", "0")
    assert out.get("gre_loop") == ["127.0.0.1", "127.0.0.1", 9, "hello"]
