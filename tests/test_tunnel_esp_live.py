"""Root only: GRE in ESP between two namespaces, real TAPs, real raw ESP / UDP sockets.

bench/tunnel_pair.py builds two namespaces of our own joined by a veth (198.18.0.1/30
<-> .2) and runs, in each, the agent's `MgreTunnel` (TAP Tunnel0, static NHRP map to
the other side) over an `EspTransport` whose SAs come from a hand-made `ChildSaUp` pair
(random keys, as Quick Mode would hand them over): no IKE is involved. A ping between
the tunnel addresses must go TAP -> GRE -> ESP -> veth -> ESP -> GRE -> TAP and back,
and the capture of the veth must hold ESP only: no GRE in the clear. Once as IP protocol
50, once as ESP in UDP 4500 (RFC 3948, NAT-T). Side A installs its SA only when its
first packet asks for one, as if IKE ran then. Everything is removed in `finally`. Run
it under the lab lock:
`flock /tmp/dmvpnlab-scenarios.lock .venv/bin/python -m pytest -q tests/test_tunnel_esp_live.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from netns_live import load_bench_module, start_capture, stop, tshark_count

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun")
    or shutil.which("tcpdump") is None or shutil.which("tshark") is None,
    reason="needs root, iproute2, /dev/net/tun, tcpdump and tshark",
)


@pytest.mark.parametrize("nat_t", [False, True], ids=["esp", "udp-4500"])
def test_ping_crosses_the_tunnel_in_esp_only(nat_t, tmp_path):
    tp = load_bench_module("tunnel_pair")
    pcap = tmp_path / "veth.pcap"
    with tp.tunnel_pair("dlt-esp" + ("u" if nat_t else "e"), "esp-aes 256 esp-sha256-hmac", nat_t=nat_t,
                        key=42, install_late=True) as pair:
        capture = start_capture(pair.a, f"{pair.veth}a", pcap)
        try:
            ping = subprocess.run(["ip", "netns", "exec", pair.a, "ping", "-c", "4", "-i", "0.2", "-W", "2",
                                   "10.0.0.2"], capture_output=True, text=True)
            time.sleep(0.5)  # the last replies reach the capture file
        finally:
            stop(capture)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    a, b = pair.results
    # A's first packet waited for the SA (as if IKE ran) and went out when it was installed
    assert a["esp"].get("queued", 0) >= 1 and a["esp"].get("flushed", 0) >= 1
    assert a["encaps"][0] >= 4 and b["decaps"][0] >= 4 and b["encaps"][0] >= 4 and a["decaps"][0] >= 4
    assert a["gre_in"] >= 4 and b["gre_in"] >= 4
    assert a["heard"] == [str(tp.B)] and b["heard"] == [str(tp.A)]
    drops = {**a["drops"], **b["drops"]}
    assert not any(k.startswith("esp ") or k == "cleartext GRE with tunnel protection" for k in drops), (a, b)
    # on the wire: ESP (in UDP 4500 with NAT-T), never GRE in the clear
    assert tshark_count(pcap, "gre") == 0
    assert tshark_count(pcap, "esp") >= 8, ping.stdout  # 4 echo requests + 4 replies
    if nat_t:
        assert tshark_count(pcap, "udp.port == 4500 && esp") == tshark_count(pcap, "esp")
    else:
        assert tshark_count(pcap, "ip.proto == 50") == tshark_count(pcap, "esp")


def test_a_gre_only_pair_carries_the_same_ping_in_cleartext_gre(tmp_path):
    """The control: the same pair without protection puts GRE on the wire (so the ESP
    test's 'no GRE' means something)."""
    tp = load_bench_module("tunnel_pair")
    with tp.tunnel_pair("dlt-gre", None, key=42) as pair:
        ping = subprocess.run(["ip", "netns", "exec", pair.a, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"],
                              capture_output=True, text=True)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    a, b = pair.results
    assert a["gre_out"] >= 2 and b["gre_in"] >= 2 and "esp" not in a
