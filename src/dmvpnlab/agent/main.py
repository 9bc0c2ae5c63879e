"""One router process from its parsed command line to its exit code.

Sets up the log in the state directory, reads and parses the startup config (refusing
one with errors, exit 2, before touching the kernel), builds the `RouterAgent` with the
extensions the composition root plugged in (dmvpnlab.router: the CLI's control
operations and SSH server) and runs its loop until SIGTERM. Imports the agent's own
modules and the config parser; what the CLI provides arrives as `Extensions`.

The config file is read as bytes and decoded by config.text's rule: bytes that are not
UTF-8 become `\\xNN` escapes (and a warning in the log), never a traceback; the log is
UTF-8 whatever the locale, so an ignored line with a non-ASCII character logs as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from dmvpnlab.agent.command import install_interface_map_file, ssh_options
from dmvpnlab.agent.core import AgentConfigError, RouterAgent, write_ready
from dmvpnlab.agent.hooks import Extensions
from dmvpnlab.agent.keylog import keylog_dir
from dmvpnlab.agent.netns_guard import ROOT_NAMESPACE_REFUSAL, in_root_namespace
from dmvpnlab.config.errors import ConfigSyntaxError
from dmvpnlab.config.parser import parse_config
from dmvpnlab.config.text import decode_config
from dmvpnlab.rundir import AGENT_LOG, READY_FILE


def stderr_is(path: Path) -> bool:
    """True if our stderr is the file `path` (the lab starts agents with stdout and stderr
    appended to their agent.log): an error then must be written once, by the log, or the
    lab's bring-up error, made from the log's tail, shows it twice."""
    try:
        ours, log = os.fstat(sys.stderr.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):  # no stderr, closed, or no log yet
        return False
    return (ours.st_dev, ours.st_ino) == (log.st_dev, log.st_ino)


def report(log: logging.Logger, log_file: Path, logged: str, shown: str) -> None:
    """An error that stops the agent: in the log (`logged`) and, for whoever started the
    agent by hand, on stderr (`shown`), unless stderr is that same log."""
    log.error("%s", logged)
    if not stderr_is(log_file):
        print(shown, file=sys.stderr)


def run_agent(args: argparse.Namespace, extensions: Extensions) -> int:
    """Run the router that `dmvpnlab agent ...` describes; 2 for a config or start-up error."""
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / READY_FILE).unlink(missing_ok=True)
    log_file = state_dir / AGENT_LOG
    logging.basicConfig(
        filename=log_file, encoding="utf-8", errors="backslashreplace",
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    log = logging.getLogger("dmvpnlab.agent")
    keys = keylog_dir()
    if keys is not None:  # where `dmvpnlab pcap --decrypt` and Wireshark find this router's keys
        log.info("Wireshark key tables: %s", keys)
    try:  # before the config is read: names in it map through it
        install_interface_map_file(getattr(args, "interface_map", None))
    except ValueError as error:
        report(log, log_file, f"--interface-map: {error}", f"% --interface-map: {error}")
        return 2
    try:
        data = args.config.read_bytes()
    except OSError as error:
        print(f"% Cannot read {args.config}: {error.strerror}", file=sys.stderr)
        return 2
    decoded = decode_config(data, source=str(args.config))
    if decoded.warning:
        log.warning("%s", decoded.warning)
    result = parse_config(decoded.text, source=str(args.config))
    if result.errors:
        message = str(ConfigSyntaxError(result.errors))
        report(log, log_file, f"config refused:\n{message}", message)
        return 2
    if in_root_namespace():
        message = "the agent changes the kernel of the namespace it runs in (addresses, routes, sysctls, " \
                  "nftables): " + ROOT_NAMESPACE_REFUSAL
        report(log, log_file, message, f"% {message}")
        return 2
    ignored = [str(line) for line in result.ignored]
    for line in ignored:
        log.warning("ignored: %s", line)
    agent = RouterAgent(node=args.node, config=result.config, state_dir=state_dir, config_path=args.config,
                        extensions=extensions)
    agent.ignored_lines = ignored
    agent.keylog_dir = getattr(args, "keylog_dir", None)
    try:
        agent.management = ssh_options(args)
    except ValueError as error:
        print(f"% --ssh: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(agent.run(lambda: write_ready(state_dir)))
    except AgentConfigError as error:
        report(log, log_file, str(error), f"% {error}")
        return 2
    except Exception:
        log.exception("agent crashed")
        raise
    return 0

