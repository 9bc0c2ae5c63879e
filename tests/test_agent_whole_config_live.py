"""Root only: an agent reads a whole IOSv hub config with an interface map and starts on it.

Why: a CML router is the whole config its file holds (tests/ios_configs/iosv-hub-whole.txt:
two tunnels, subinterfaces, Loopbacks, NAT, ACLs, DHCP, banner, users, EIGRP) and its
interfaces have wired-lab Linux names (`Gi0-0`, `--interface-map`). One namespace with
four veths named so (their peer ends in the same namespace, up); the agent must start
(ready file), put the config's addresses on the mapped devices and on `lo`, answer `show
ip interface brief` with every interface in IOS order and `show running-config` with the
lines it read, and log no traceback. Namespace and agent go in `finally`.
Run under `flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from netns_live import stop

HUB = Path(__file__).parent / "ios_configs" / "iosv-hub-whole.txt"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"),
    reason="needs root, iproute2 and /dev/net/tun")


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def cli(directory: Path, line: str) -> str:
    import socket
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(str(directory / "control.sock"))
        sock.sendall(json.dumps({"op": "cli", "line": line}).encode() + b"\n")
        answer = json.loads(sock.makefile("rb").readline())
    assert answer.get("ok") and not answer.get("error"), (line, answer)
    return str(answer["output"])


def test_an_agent_runs_a_whole_iosv_hub_config_with_an_interface_map():
    space = f"dlt-whole-{os.getpid() % 100000}"
    base = Path(tempfile.mkdtemp(prefix="dmvpnlab-whole-"))
    base.chmod(0o755)
    mapping = {f"GigabitEthernet0/{n}": f"Gi0-{n}" for n in range(4)}
    (base / "interface-map.json").write_text(json.dumps(mapping))
    (base / "startup-config").write_text(HUB.read_text())
    proc = None
    made = False
    try:
        ip("netns", "add", space)
        made = True
        ip("-n", space, "link", "set", "lo", "up")
        for n in range(4):
            ip("-n", space, "link", "add", f"Gi0-{n}", "type", "veth", "peer", "name", f"p{n}")
            ip("-n", space, "link", "set", f"p{n}", "up")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", space, sys.executable, "-m", "dmvpnlab", "agent", "--node", "HUB",
             "--config", str(base / "startup-config"), "--state-dir", str(base),
             "--interface-map", str(base / "interface-map.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (base / "ready").exists():
            assert proc.poll() is None, f"agent exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, "agent not ready in 30 s"
            time.sleep(0.2)
        assert "203.0.113.1/30" in ip("-n", space, "-4", "addr", "show", "dev", "Gi0-0")
        assert "192.168.10.1/24" in ip("-n", space, "-4", "addr", "show", "dev", "Gi0-1")
        assert "10.255.0.1/32" in ip("-n", space, "-4", "addr", "show", "dev", "lo")
        brief = [line.split()[0] for line in cli(base, "show ip interface brief").splitlines()[1:]]
        assert brief == ["GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/2", "GigabitEthernet0/2.20",
                         "GigabitEthernet0/2.99", "GigabitEthernet0/3", "Loopback0", "Loopback1", "Tunnel0",
                         "Tunnel1"]
        running = cli(base, "show running-config")
        for line in ("ip nat inside source list NAT-LAN interface GigabitEthernet0/0 overload",
                     "ip access-list extended WAN-IN", " encapsulation dot1Q 20", "ip dhcp pool LAN10",
                     "access-list 110 deny   tcp any 192.168.20.0 0.0.0.255 eq telnet"):
            assert line in running.splitlines(), line
    finally:
        if proc is not None:
            stop(proc)
        if made:
            subprocess.run(["ip", "netns", "del", space], capture_output=True)
    log = (base / "agent.log").read_text()
    assert "Traceback" not in log, log
    shutil.rmtree(base, ignore_errors=True)
