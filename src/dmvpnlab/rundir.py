"""Where running labs and routers keep their files: the run root and a state directory's names.

The lab writes `<run root>/<lab>/` (its records, and one state directory per router);
each router agent writes its log, its ready file and its control socket in its state
directory; `dmvpnlab cli` and the Mininet prompt find a router by its socket there. This
small module is what the three agree on, so the CLI finds routers and the agent knows
its files without either importing the lab. Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_ROOT_ENV = "DMVPNLAB_RUN_DIR"  # set it to keep the labs' files somewhere else than /run
DEFAULT_RUN_ROOT = Path("/run/dmvpnlab")
CONTROL_SOCKET = "control.sock"  # in a router's state directory (the lab controller's: in the lab's)
READY_FILE = "ready"  # the agent writes its PID there once it serves its control socket
AGENT_LOG = "agent.log"
# In a router's state directory: a JSON line per FRR daemon the agent started (pid,
# start_time, argv). The agent appends before relying on the daemon; `dmvpnlab clean`
# reads it to stop daemons an agent that died left behind (start time checked).
FRR_PROCESSES = "frr-processes.jsonl"
FRR_RUN_DIR = "frr"  # in a router's state directory: FRR's config, sockets, pid files, logs


def run_root() -> Path:
    """The directory that holds one sub-directory per lab (overridable for tests)."""
    return Path(os.environ.get(RUN_ROOT_ENV, str(DEFAULT_RUN_ROOT)))
