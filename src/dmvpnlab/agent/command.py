"""`dmvpnlab agent --node NODE --config FILE --state-dir DIR [--ssh ADDR[:PORT] ...]`: its arguments.

Started by the lab inside the router's namespace. A config with errors is refused with
the IOS-style messages (exit 2) so the lab can show the user which line is wrong;
ignored lines are listed in the log and kept for `show running-config`.

With `--ssh ADDRESS[:PORT]` the router also answers SSH there (port 22 by default; the
lab gives it its management address). The password comes from `--ssh-password` or,
as the lab passes it (so it is in neither `ps` nor the lab records), from the
DMVPNLAB_SSH_PASSWORD environment variable.

With `--interface-map PATH` (a wired lab: a CML file's router) the agent reads the JSON
object IOS name -> Linux name there and installs it (ifnames.install_interface_map)
before the config is parsed; a bad file is one clear line and exit 2.

This module only says what the arguments are and mean, both ways (the lab builds the
same command line with `ssh_arguments`); main.py runs them. The composition root
(dmvpnlab.router) registers the subcommand with its runner, so that building the parser
stays cheap for every other `dmvpnlab` command. Imports the agent's hooks and ifnames only.
"""

from __future__ import annotations

import argparse
import json
import os
from ipaddress import IPv4Address
from pathlib import Path
from typing import Callable

from dmvpnlab.agent.hooks import SshOptions
from dmvpnlab.ifnames import InterfaceNameError, install_interface_map

PASSWORD_ENV = "DMVPNLAB_SSH_PASSWORD"  # how the lab hands the SSH password to an agent (not argv)
DEFAULT_PASSWORD = "admin"
DEFAULT_USERNAME = "admin"
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


def ssh_arguments(options: SshOptions) -> list[str]:
    """The `--ssh ... --ssh-user ...` arguments for `options`; the password is not one of them."""
    return ["--ssh", f"{options.address}:{options.port}", "--ssh-user", options.username]


def ssh_options(args: argparse.Namespace) -> SshOptions | None:
    """The SSH endpoint and login the arguments ask for (None without `--ssh`); ValueError if bad."""
    if not getattr(args, "ssh", None):
        return None
    address, port = parse_ssh_endpoint(args.ssh)
    password = args.ssh_password or os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD
    return SshOptions(address, port, args.ssh_user, password)


def read_interface_map(path: Path) -> dict[str, str]:
    """The JSON object IOS name -> Linux name in `path`; ValueError with one line if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON (line {error.lineno} column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a JSON object of IOS interface name -> Linux name strings")
    return data


def install_interface_map_file(path: Path | None) -> None:
    """Install the map `--interface-map` names (nothing without one); ValueError with one line."""
    if path is None:
        return
    mapping = read_interface_map(path)
    try:
        install_interface_map(mapping)
    except InterfaceNameError as error:
        raise ValueError(f"{path}: {error}") from None


def register(subparsers: argparse._SubParsersAction, run: Callable[[argparse.Namespace], int]) -> None:
    """Add the `agent` subcommand; `run(args)` runs the router (see main.py)."""
    parser = subparsers.add_parser("agent", help="run one DMVPN router agent (inside its namespace)")
    parser.add_argument("--node", required=True, help="node name (maps IOS interface names to Linux ones)")
    parser.add_argument("--config", required=True, type=Path, help="IOS startup config")
    parser.add_argument("--state-dir", required=True, type=Path, help="log, control socket, ready file")
    parser.add_argument("--debug", action="store_true", help="log every NHRP debug line")
    parser.add_argument("--ssh", metavar="ADDRESS[:PORT]", help="serve the CLI over SSH there (port 22 by default)")
    parser.add_argument("--ssh-user", default=DEFAULT_USERNAME, help="SSH username (default admin)")
    parser.add_argument("--ssh-password", default=None,
                        help="SSH password (default: $DMVPNLAB_SSH_PASSWORD, else admin)")
    parser.add_argument("--keylog-dir", type=Path, default=None,
                        help="write Wireshark's esp_sa / ikev1_decryption_table there "
                             "(default: $DMVPNLAB_KEYLOG_DIR; none: no key files)")
    parser.add_argument("--interface-map", type=Path, default=None, metavar="PATH",
                        help="JSON object IOS interface name -> Linux name (wired labs; "
                             "default: native <node>-ethN names)")
    parser.set_defaults(func=run)
