"""strongSwan's charon as an independent IKEv1 peer, in throw-away network namespaces.

Why charon: it is an IKE implementation we did not write, so when our engine and charon
agree on Main Mode, Quick Mode, SPIs and keys, the agreement is evidence rather than
two copies of the same misreading of RFC 2409.

What works on this kernel, and why the configuration looks the way it does:
- The kernel has XFRM netlink (SPI allocation works) but no ESP (`ip xfrm state add ...
  proto esp` fails with "Requested type not found"). With only kernel-netlink, charon
  completes Main Mode and derives the Quick Mode keys, then fails installing the SA
  ("unable to install inbound and outbound IPsec SA (SAD) in kernel", after "received
  netlink error: Protocol not supported (93)"): as QM initiator it answers QM2 with a
  NO_PROPOSAL_CHOSEN notify instead of QM3, as QM responder it deletes the SA after QM3.
  No "CHILD_SA established".
- Debian does not build the load-tester plugin (whose fake kernel would accept any SA).
- kernel-libipsec (libcharon-extra-plugins) is charon's user-space ESP on a TUN device.
  It accepts tunnel-mode SAs only ("IPsec SA: unsupported mode" for transport), and in
  5.9.8 (no raw_esp option yet) only UDP-encapsulated ESP: charon then fakes its NAT-D
  hash ("remote host is behind NAT" on the peer) so that IKE moves to UDP 4500 and the
  child is UDP-encapsulated. So with libipsec a `mode = tunnel` child establishes for
  real, over NAT-T; a transport-mode child, or any child with backend="netlink", gets
  as far as the derived keys (logged at chd level 4) and then fails as above.
  `Charon(backend=...)` chooses; the default is libipsec.
- libipsec routes the child's traffic selector (the peer's /32) into its TUN through
  charon's routing table 220; that route would also swallow charon's own IKE packets to
  the same peer, so charon marks its IKE socket (0x42) and the table's rule skips marks.
- charon's pid file is compiled in (/var/run/charon.pid), so each charon runs in its own
  mount namespace (the one `ip netns exec` makes) with a private directory bound on /run:
  two charons, or one here and one on the host, never see each other's pid file.
- Everything charon touches is in that directory, as /run/charon.* in charon's view:
  its strongswan.conf (given by STRONGSWAN_CONF; it includes nothing from /etc), the vici
  socket, the log. Those are the paths Debian's AppArmor profile for charon allows
  (`/run/charon.* rw`), so the same layout works where that profile is enforced (Ubuntu
  CI runners). swanctl, which has no profile, reaches them by their host paths.

Namespaces are named dmvpnlab-sw<role>-<pid>; the veth ends live only inside them, so the
root namespace is never touched. Run under `flock /tmp/dmvpnlab-scenarios.lock`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = shutil.which("swanctl") or "/usr/sbin/swanctl"
PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")

#: Plugins charon needs for IKEv1 PSK with AES-CBC/GCM, SHA-1/2 and MODP groups; the kernel
#: backend is appended by `Charon.start`.
BASE_PLUGINS = ("random", "nonce", "openssl", "aes", "sha1", "sha2", "hmac", "gmp", "kdf",
                "socket-default", "vici", "kernel-netlink")


def missing_requirements(backend: str = "libipsec") -> str | None:
    """Why the interop tests cannot run here, or None when they can (pytest skip reason)."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if not os.path.exists(CHARON) or not os.path.exists(SWANCTL):
        return ("strongSwan is not installed (apt-get install strongswan-charon strongswan-swanctl "
                "libstrongswan-standard-plugins libcharon-extra-plugins; `make setup` does it)")
    if backend == "libipsec":
        if not (PLUGIN_DIR / "libstrongswan-kernel-libipsec.so").exists():
            return "charon's kernel-libipsec plugin is missing (Debian: libcharon-extra-plugins)"
        if not os.path.exists("/dev/net/tun"):
            return "kernel-libipsec needs /dev/net/tun"
    return None


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@dataclass
class NamespacePair:
    """Two namespaces joined by a veth pair: `left` at `left_ip`, `right` at `right_ip`."""

    left: str
    right: str
    left_ip: IPv4Address
    right_ip: IPv4Address

    def exec(self, ns: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a command inside `ns` (captured, text)."""
        return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, **kwargs)


@contextmanager
def namespace_pair(left_ip: str = "192.0.2.1", right_ip: str = "192.0.2.2") -> Iterator[NamespacePair]:
    """Create the pair, yield it, and delete both namespaces whatever happens.

    Deleting a namespace takes its veth end with it (and the peer end with that), so the
    cleanup cannot leave an interface behind."""
    pid = os.getpid()
    pair = NamespacePair(f"dmvpnlab-swl-{pid}", f"dmvpnlab-swr-{pid}", IPv4Address(left_ip), IPv4Address(right_ip))
    created: list[str] = []
    try:
        for ns in (pair.left, pair.right):
            _run("ip", "netns", "add", ns)
            created.append(ns)
        _run("ip", "link", "add", "name", "wan0", "netns", pair.left, "type", "veth",
             "peer", "name", "wan0", "netns", pair.right)
        for ns, ip in ((pair.left, pair.left_ip), (pair.right, pair.right_ip)):
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "wan0")
            _run("ip", "-n", ns, "link", "set", "wan0", "up")
        yield pair
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def drop_first_datagram(ns: str, udp_sport: int, count: int = 1) -> None:
    """Make namespace `ns` drop the first `count` UDP datagrams it receives from source
    port `udp_sport`, and nothing after: loss, deterministically (no netem here).

    nft's `numgen inc` counts only the datagrams that reached it (the port matched
    first), so exactly those numbered below `count` are dropped."""
    ruleset = f"""table inet dmvpnlab_loss {{
    chain input {{
        type filter hook input priority 0; policy accept;
        udp sport {udp_sport} numgen inc mod 1000000 < {count} counter drop
    }}
}}
"""
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, text=True, check=True,
                   capture_output=True)


def dropped_datagrams(ns: str) -> int:
    """How many datagrams `drop_first_datagram`'s rule dropped in `ns`."""
    listed = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "dmvpnlab_loss"],
                            capture_output=True, text=True).stdout
    m = re.search(r"counter packets (\d+)", listed)
    return int(m.group(1)) if m else 0


@dataclass(frozen=True)
class SwanConn:
    """One swanctl connection with one child: what charon proposes and accepts.

    `proposals`/`esp_proposals` are swanctl proposal strings (aes128-sha1-modp1536,
    aes128gcm16-modp2048, ...); a DH group in `esp_proposals` means PFS."""

    local: IPv4Address
    remote: IPv4Address
    psk: str
    proposals: str = "aes128-sha1-modp1536"
    esp_proposals: str = "aes128-sha1"
    mode: str = "tunnel"
    name: str = "dmvpn"
    child: str = "gre"
    child_life: str = "3600s"      # IOS's IPsec default; charon proposes it in Quick Mode
    child_rekey: str = "3240s"     # charon starts a Quick Mode rekey this long after install
    dpd_delay: str = "0s"          # > 0: charon sends R-U-THERE after that long without traffic
    reauth: str = "86400s"         # phase 1 lifetime; charon re-authenticates (new Main Mode) then
    aggressive: bool = False       # Aggressive Mode instead of Main Mode (IOS refuses it with PSK by address)

    def swanctl_conf(self) -> str:
        """The swanctl.conf text: IKEv1, PSK, IP-address identities (as IOS sends them),
        GRE-only traffic selectors between the two addresses (as IOS proposes for DMVPN)."""
        return f"""connections {{
    {self.name} {{
        version = 1
        aggressive = {"yes" if self.aggressive else "no"}
        local_addrs = {self.local}
        remote_addrs = {self.remote}
        proposals = {self.proposals}
        # IOS's defaults: phase 1 lives 86400 s, phase 2 3600 s; charon proposes these as
        # the life durations (0 would be proposed as 0 s, which IOS-like peers refuse).
        reauth_time = {self.reauth}
        rekey_time = 0s
        over_time = 0s
        dpd_delay = {self.dpd_delay}
        local {{
            auth = psk
            id = {self.local}
        }}
        remote {{
            auth = psk
            id = {self.remote}
        }}
        children {{
            {self.child} {{
                mode = {self.mode}
                esp_proposals = {self.esp_proposals}
                local_ts = dynamic[gre]
                remote_ts = dynamic[gre]
                life_time = {self.child_life}
                rekey_time = {self.child_rekey}
                rand_time = 0s
                start_action = none
            }}
        }}
    }}
}}
secrets {{
    ike-{self.name} {{
        id-local = {self.local}
        id-remote = {self.remote}
        secret = "{self.psk}"
    }}
}}
"""


@dataclass
class Charon:
    """One charon in namespace `ns`; its files live in `workdir`.

    Start with `start()`, stop with `stop()` (SIGTERM to the PID we started, SIGKILL if it
    lingers); use as a context manager to get the stop also on failure."""

    ns: str
    conn: SwanConn
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dmvpnlab-swan-")))
    backend: str = "libipsec"
    proc: subprocess.Popen | None = None
    final_log: str = ""  # the log as it was when charon stopped (the workdir goes away)

    @property
    def run_dir(self) -> Path:
        """The host path of what charon sees as /run."""
        return self.workdir / "run"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "charon.log"

    @property
    def uri(self) -> str:
        """The vici socket for swanctl (host path; charon binds it as /run/charon.vici)."""
        return f"unix://{self.run_dir / 'charon.vici'}"

    def strongswan_conf(self) -> str:
        """charon's whole configuration: no include of /etc/strongswan.d, only our plugins,
        a file log at levels that print SKEYID_*, the QM keys and every SPI."""
        plugins = list(BASE_PLUGINS)
        if self.backend == "libipsec":
            plugins.insert(plugins.index("kernel-netlink"), "kernel-libipsec")
        return f"""charon {{
    load = {' '.join(plugins)}
    install_routes = no
    install_virtual_ip = no
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    plugins {{
        vici {{
            socket = unix:///run/charon.vici
        }}
        kernel-libipsec {{
            # a host-to-host child whose peer is the IKE peer needs a route to that peer
            allow_peer_ts = yes
        }}
        kernel-netlink {{
            # charon's routes (table 220) apply to everything but charon's own IKE packets,
            # which socket-default marks: else the child's /32 route via the TUN would
            # swallow the IKE traffic to the same peer.
            fwmark = !0x42
        }}
        socket-default {{
            fwmark = 0x42
        }}
    }}
    filelog {{
        dmvpnlab {{
            path = /run/charon.log
            time_format = %H:%M:%S
            default = 1
            ike = 4
            chd = 4
            cfg = 2
            knl = 2
            net = 2
            esp = 2
            enc = 1
            flush_line = yes
        }}
    }}
    syslog {{
        daemon {{
            default = -1
        }}
    }}
}}
swanctl {{
    load = random openssl
}}
"""

    @property
    def env(self) -> dict[str, str]:
        """swanctl's environment: the same strongswan.conf, by its host path."""
        return {**os.environ, "STRONGSWAN_CONF": str(self.run_dir / "charon.conf")}

    def start(self, timeout: float = 10.0) -> Charon:
        """Write the configs, start charon, wait for its vici socket, load the connection.

        If any step fails, the charon already started is stopped before the error goes up
        (a context manager's __exit__ does not run when __enter__ raises)."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            self.cleanup()
            raise

    def _start(self, timeout: float) -> Charon:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "charon.conf").write_text(self.strongswan_conf())
        (self.workdir / "swanctl.conf").write_text(self.conn.swanctl_conf())
        # `ip netns exec` gives the command its own mount namespace (mounts stay there);
        # sh binds the private run dir on /run and execs charon, so proc.pid is charon's.
        script = f'mount --bind "{self.run_dir}" /run && exec {CHARON}'
        env = {**os.environ, "STRONGSWAN_CONF": "/run/charon.conf"}
        with open(self.workdir / "charon.stderr", "w") as stderr:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "sh", "-c", script], env=env,
                                         stdout=subprocess.DEVNULL, stderr=stderr)
        sock = self.run_dir / "charon.vici"
        deadline = time.monotonic() + timeout
        while not sock.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"charon exited ({self.proc.returncode}): {self.log()[-2000:]}"
                                   f"{(self.workdir / 'charon.stderr').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"charon's vici socket never appeared: {self.log()[-2000:]}")
            time.sleep(0.05)
        loaded = self.swanctl("--load-all", "--file", str(self.workdir / "swanctl.conf"))
        if loaded.returncode != 0:
            raise RuntimeError(f"swanctl --load-all failed: {loaded.stdout}{loaded.stderr}")
        return self

    def swanctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run swanctl against this charon's vici socket (swanctl needs no namespace)."""
        return subprocess.run([SWANCTL, *args, "--uri", self.uri], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def initiate(self, timeout: int = 10) -> subprocess.CompletedProcess:
        """`swanctl --initiate --child CHILD`: Main Mode, then Quick Mode for the child."""
        return self.swanctl("--initiate", "--child", self.conn.child, "--timeout", str(timeout),
                            timeout=timeout + 5)

    def log(self) -> str:
        """charon's file log so far (after `stop`: as it was when charon stopped)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else self.final_log

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the log matches `pattern` (a regex); raise with the log's tail if not."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if m := rx.search(self.log()):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"charon never logged /{pattern}/; log tail:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM the charon we started (by its PID), SIGKILL after 5 s; keep the workdir
        while the test runs so a failure can show the log, then remove it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.final_log = self.log()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Charon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()


# -- what charon's log says, as values -------------------------------------------------------

def logged_chunk(log: str, label: str, nth: int = -1) -> bytes:
    """The bytes charon printed after `label` with %B (a "=> N bytes @ ..." header and hex
    dump lines, e.g. "SKEYID_e => 20 bytes @ 0x..." followed by "   0: 12 34 ...").

    `nth` picks the occurrence (default: the last)."""
    found = list(_chunks(log, label))
    if not found:
        raise AssertionError(f"charon's log has no '{label}'")
    return found[nth]


def _chunks(log: str, label: str) -> Iterator[bytes]:
    lines = log.splitlines()
    header = re.compile(re.escape(label) + r" => (\d+) bytes @ (?:0x)?[0-9a-fA-F]+\s*$")
    dump = re.compile(r"^\S*.*?\s+(\d+): ((?:[0-9A-F]{2} ){1,16})")
    for i, line in enumerate(lines):
        m = header.search(line)
        if not m:
            continue
        size = int(m.group(1))
        data = bytearray()
        for follow in lines[i + 1:]:
            d = dump.match(follow)
            if not d or len(data) >= size:
                break
            data += bytes.fromhex(d.group(2).replace(" ", ""))
        yield bytes(data[:size])


ESTABLISHED_CHILD = re.compile(r"CHILD_SA (\S+)\{(\d+)\} established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o")
ESTABLISHED_IKE = re.compile(r"IKE_SA (\S+)\[(\d+)\] established between (\S+)\[(\S+)\]\.\.\.(\S+)\[(\S+)\]")


def established_child_spis(log: str) -> list[tuple[int, int]]:
    """(inbound SPI, outbound SPI) of every CHILD_SA charon reported established."""
    return [(int(m.group(3), 16), int(m.group(4), 16)) for m in ESTABLISHED_CHILD.finditer(log)]
