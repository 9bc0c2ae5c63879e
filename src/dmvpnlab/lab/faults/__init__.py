"""Faults for a running lab: what to break, how, and the timed record of it.

`FaultInjector` (injector.py) is what `Lab.fault(...)`, the `lab_faults` pytest fixture,
`dmvpnlab fault ...` and the controller's `fault` operation share; `underlay.py` holds the
namespace commands (links, nftables loss, the ISP, renumbering); `record.py` the
`faults.jsonl` record every fault writes with its wall-clock time.
"""

from dmvpnlab.lab.faults.injector import KINDS, FaultError, FaultInjector
from dmvpnlab.lab.faults.record import FAULTS_FILE, FaultEvent, FaultLog, read_events

__all__ = ["FAULTS_FILE", "KINDS", "FaultError", "FaultEvent", "FaultInjector", "FaultLog", "read_events"]
