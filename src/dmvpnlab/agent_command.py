"""`dmvpnlab agent --node NODE --config FILE --state-dir DIR [--ssh ADDR[:PORT] ...]`: run one router.

Started by the lab inside the router's namespace. A config with errors is refused with
the IOS-style messages (exit 2) so the lab can show the user which line is wrong;
ignored lines are listed in the log and kept for `show running-config`.

With `--ssh ADDRESS[:PORT]` the router also answers SSH there (port 22 by default; the
lab gives it its management address). The password comes from `--ssh-password` or,
as the lab passes it (so it is in neither `ps` nor the lab records), from the
DMVPNLAB_SSH_PASSWORD environment variable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from ipaddress import IPv4Address
from pathlib import Path

PASSWORD_ENV = "DMVPNLAB_SSH_PASSWORD"  # how the lab hands the SSH password to an agent (not argv)
DEFAULT_PASSWORD = "admin"
DEFAULT_SSH_PORT = 22


def parse_ssh_endpoint(text: str) -> tuple[str, int]:
    """`ADDRESS[:PORT]` (the `--ssh` value) -> (address, port); ValueError with a sentence."""
    address, _, port = text.partition(":")
    try:
        IPv4Address(address)
    except ValueError:
        raise ValueError(f"expected ADDRESS[:PORT] with an IPv4 address, got {text!r}") from None
    if not port:
        return address, DEFAULT_SSH_PORT
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected a port from 0 to 65535 after ':', got {text!r}")
    return address, int(port)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("agent", help="run one DMVPN router agent (inside its namespace)")
    parser.add_argument("--node", required=True, help="node name (maps IOS interface names to Linux ones)")
    parser.add_argument("--config", required=True, type=Path, help="IOS startup config")
    parser.add_argument("--state-dir", required=True, type=Path, help="log, control socket, ready file")
    parser.add_argument("--debug", action="store_true", help="log every NHRP debug line")
    parser.add_argument("--ssh", metavar="ADDRESS[:PORT]", help="serve the CLI over SSH there (port 22 by default)")
    parser.add_argument("--ssh-user", default="admin", help="SSH username (default admin)")
    parser.add_argument("--ssh-password", default=None,
                        help="SSH password (default: $DMVPNLAB_SSH_PASSWORD, else admin)")
    parser.set_defaults(func=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    from dmvpnlab.agent import AgentConfigError, RouterAgent, SshOptions, write_ready
    from dmvpnlab.config.errors import ConfigSyntaxError
    from dmvpnlab.config.parser import parse_config

    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "ready").unlink(missing_ok=True)
    logging.basicConfig(
        filename=state_dir / "agent.log", level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    log = logging.getLogger("dmvpnlab.agent")
    try:
        text = args.config.read_text()
    except OSError as error:
        print(f"% Cannot read {args.config}: {error.strerror}", file=sys.stderr)
        return 2
    result = parse_config(text, source=str(args.config))
    if result.errors:
        message = str(ConfigSyntaxError(result.errors))
        log.error("config refused:\n%s", message)
        print(message, file=sys.stderr)
        return 2
    ignored = [str(line) for line in result.ignored]
    for line in ignored:
        log.warning("ignored: %s", line)
    agent = RouterAgent(node=args.node, config=result.config, state_dir=state_dir, config_path=args.config)
    agent.ignored_lines = ignored
    if getattr(args, "ssh", None):
        try:
            address, port = parse_ssh_endpoint(args.ssh)
        except ValueError as error:
            print(f"% --ssh: {error}", file=sys.stderr)
            return 2
        password = args.ssh_password or os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD
        agent.management = SshOptions(address, port, args.ssh_user, password)
    try:
        asyncio.run(agent.run(lambda: write_ready(state_dir)))
    except AgentConfigError as error:
        log.error("%s", error)
        print(f"% {error}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("agent crashed")
        raise
    return 0
