"""Where an agent writes the Wireshark key tables of the SAs it negotiates.

The lab knows its capture directory (`captures/<lab>/`) and hands it to every agent in
the environment variable DMVPNLAB_KEYLOG_DIR (the environment, like the SSH password,
so it reaches agents forked by the zygote and started by `node.popen` the same way,
and adds nothing to the command line the lab records). An agent started by hand
without it writes no keys. The IPsec node builds its `KeyLog` with `keylog_from_env()`
once, and calls `ike_sa` / `child_sa` on the IKE engine's `IkeSaUp` / `ChildSaUp`.

Writing keys must never stop a router: a directory that cannot be created is logged
and the agent runs without a key log. Imports ipsec.keylog and wireshark.profile (the
`preferences` a directory it creates gets: ESP decryption and the NHRP columns).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

from dmvpnlab.ipsec.keylog import KeyLog
from dmvpnlab.wireshark.profile import capture_preferences

KEYLOG_ENV = "DMVPNLAB_KEYLOG_DIR"

log = logging.getLogger("dmvpnlab.agent.keylog")


def keylog_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The key directory the lab gave this agent (`os.environ` by default), or None."""
    value = (os.environ if env is None else env).get(KEYLOG_ENV, "").strip()
    return Path(value) if value else None


def keylog_from_env(env: Mapping[str, str] | None = None) -> KeyLog | None:
    """A `KeyLog` on that directory; None when there is none or it cannot be created."""
    directory = keylog_dir(env)
    if directory is None:
        return None
    try:
        return KeyLog(directory, preferences=capture_preferences())
    except OSError as error:
        log.warning("no Wireshark key log: %s: %s", directory, error.strerror or error)
        return None
