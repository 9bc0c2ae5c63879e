"""`dmvpnlab dhcp-client IFNAME`: the DHCP client of a Linux host in a wired lab.

CML labs wire `ubuntu`/`alpine` hosts whose cloud-init says "dhcp" and a router that
hands out addresses (`ip dhcp pool`); the host namespaces here have no dhclient, so this
runs the same client state machine as a router's `ip address dhcp` (dhcp.client) over
the same AF_PACKET port (agent/dhcp_io.py): it leases an address, installs it and the
default route (metric 0 unless --metric: a host's only way out), prints each change on
one line, renews at T1 and keeps going until SIGTERM/SIGINT, when it releases the lease
and removes what it installed. Exit 1 if --timeout passes without a first lease.
"""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import sys
import time

from dmvpnlab.dhcp.client import DhcpClient, LeaseBound, LeaseLost
from dmvpnlab.dhcp.codec import CLIENT_PORT

TICK = 0.25


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dhcp-client", help="lease an address by DHCP for a Linux host (runs until SIGTERM)")
    parser.add_argument("ifname", help="the interface (in this namespace) to lease an address for")
    parser.add_argument("--hostname", default=None, help="option 12 sent to the server (default: this host's name)")
    parser.add_argument("--metric", type=int, default=0, help="metric of the default route (default 0)")
    parser.add_argument("--timeout", type=float, default=None, help="give up (exit 1) without a lease after N s")
    parser.set_defaults(func=run)


def describe(ifname: str, event: object) -> str:
    if isinstance(event, LeaseBound):
        lease = event.lease
        router = f", router {lease.routers[0]}" if lease.routers else ""
        return f"{ifname}: DHCP lease {lease.address} from {lease.server}{router}, {lease.lease_seconds} s"
    if isinstance(event, LeaseLost):
        return f"{ifname}: DHCP lease {event.previous.address} lost: {event.reason}"
    return f"{ifname}: {event}"


def run(args: argparse.Namespace) -> int:
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    # here, not at the top: every `dmvpnlab` command builds a parser with this subcommand,
    # and pyroute2 costs its import time only to the command that uses it
    from dmvpnlab.agent.dhcp_io import DhcpPort, install_lease
    from dmvpnlab.agent.netns_guard import ROOT_NAMESPACE_REFUSAL, in_root_namespace
    from dmvpnlab.routing.kernel import Kernel

    if in_root_namespace():  # it would lease on the machine's uplink and replace its default route
        print(f"% dhcp-client: {ROOT_NAMESPACE_REFUSAL}", file=sys.stderr)
        return 2
    kernel = Kernel()
    try:
        if kernel.ifindex(args.ifname) is None:
            print(f"% {args.ifname}: no such interface", file=sys.stderr)
            return 2
        kernel.set_link(args.ifname, True)
        port = DhcpPort.open(args.ifname, CLIENT_PORT)
        client = DhcpClient(port.mac, hostname=args.hostname or socket.gethostname())
        selector = selectors.DefaultSelector()
        for fd in port.fds():
            selector.register(fd, selectors.EVENT_READ)
        started = time.monotonic()
        client.start(started)

        def flush() -> None:
            outbox, client.outbox = client.outbox, []
            for send in outbox:
                port.send(send)
            events, client.events = client.events, []
            for event in events:
                install_lease(kernel, args.ifname, event, metric=args.metric)
                print(describe(args.ifname, event), flush=True)

        try:
            while not stop:
                flush()
                if args.timeout is not None and client.lease is None and time.monotonic() - started > args.timeout:
                    print(f"% {args.ifname}: no DHCP lease after {args.timeout:g} s", file=sys.stderr)
                    return 1
                if selector.select(TICK):
                    port.receive(lambda message, mac: client.receive(message, time.monotonic(), mac))
                client.tick(time.monotonic())
            client.release(time.monotonic())
            flush()
            return 0
        finally:
            selector.close()
            port.close()
    finally:
        kernel.close()
