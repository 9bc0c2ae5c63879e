"""Runs one FrrSupervisor inside a namespace for tests/test_routing_frr_live.py.

Why a child process: the supervisor must run inside the router's namespace (as it will
in the agent), and moving the pytest process itself between namespaces would be fragile.
Started as `ip netns exec NS python frr_driver.py NODE RUN_DIR CONFIG_FILE DAEMON...`,
it starts the supervisor, then answers one JSON line per request line on stdin:
`pids`, `poll`, `vtysh <command>`, `reload <config file>`, `stop`. On EOF or any error it stops the daemons it
started, so a test that dies still leaves no FRR process behind.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from dmvpnlab.routing.frr import FrrSupervisor


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    node, run_dir, config_file, *daemons = argv
    sup = FrrSupervisor(node, Path(run_dir), daemons, Path(config_file).read_text())
    try:
        sup.start()
        print(json.dumps({"started": True}), flush=True)
        for line in sys.stdin:
            request = line.strip()
            if request == "pids":
                answer: object = [[r.daemon, r.pid, r.start_time] for r in sup.records()]
            elif request == "poll":
                answer = {"restarted": sup.poll(), "given_up": sorted(sup.given_up)}
            elif request.startswith("vtysh "):
                answer = sup.vtysh(request[len("vtysh "):])
            elif request.startswith("reload "):
                sup.reload(Path(request[len("reload "):]).read_text())
                answer = "reloaded"
            elif request == "stop":
                sup.stop()
                answer = "stopped"
            else:
                answer = f"unknown request {request!r}"
            print(json.dumps({"answer": answer}), flush=True)
    finally:
        sup.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
