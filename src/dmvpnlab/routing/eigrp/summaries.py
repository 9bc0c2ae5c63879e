"""The best component of every summary address, kept up to date prefix by prefix.

Why: a summary (`ip summary-address eigrp N P M`) is advertised with the metric of its best
component, and DUAL needs that metric on every announcement and every look at the routes.
Finding it by scanning the whole topology table made each update a Phase 3 hub received
cost O(table) (`subnet_of` on 500 prefixes, twice: 4 of the 8.6 CPU seconds of a 500-spoke
convergence in memory). Here DUAL reports only the prefixes that changed; each change is
O(number of summaries), and the best is searched again among one summary's components
only when the best one itself got worse or went.

Ties are broken as the scan did: equal distances go to the component first in the
topology table's order, which the caller gives as a serial number (entries are appended
to the table in creation order). Imports nothing of dmvpnlab but the types.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional

from dmvpnlab.routing.eigrp.tlvs import Metric

Network = ipaddress.IPv4Network
#: (distance, serial) orders components; the metric is what the summary then advertises.
Component = tuple[int, int, Metric]


class SummaryIndex:
    """Per summary prefix: its components (prefixes inside it, not itself) and the best."""

    def __init__(self) -> None:
        self._components: dict[Network, dict[Network, Component]] = {}
        self._best: dict[Network, Optional[Network]] = {}
        self.rescans = 0      # searches over one summary's components (the test counts them)

    @property
    def summaries(self) -> frozenset[Network]:
        return frozenset(self._components)

    def reset(self, summaries: Iterable[Network]) -> None:
        """A new set of summaries: every component must be reported again (`update`)."""
        self._components = {s: {} for s in summaries}
        self._best = {s: None for s in self._components}

    def update(self, prefix: Network, component: Optional[Component]) -> None:
        """`prefix` now has this best path (distance, serial, metric), or none."""
        for summary, members in self._components.items():
            if prefix == summary or not inside(prefix, summary):
                continue
            if component is None:
                if members.pop(prefix, None) is not None and self._best[summary] == prefix:
                    self._rescan(summary)
                continue
            before = members.get(prefix)
            members[prefix] = component
            best = self._best[summary]
            if best == prefix:
                if before is not None and component[:2] > before[:2]:
                    self._rescan(summary)     # the best one got worse: another may be better now
            elif best is None or component[:2] < members[best][:2]:
                self._best[summary] = prefix

    def metric(self, summary: Network) -> Optional[Metric]:
        """The metric of the best component of `summary` (None: no component, inactive)."""
        best = self._best.get(summary)
        return None if best is None else self._components[summary][best][2]

    def _rescan(self, summary: Network) -> None:
        self.rescans += 1
        members = self._components[summary]
        self._best[summary] = min(members, key=lambda p: members[p][:2]) if members else None


def inside(prefix: Network, summary: Network) -> bool:
    """`prefix.subnet_of(summary)` for IPv4 without ipaddress's generic checks (hot path)."""
    return (prefix.prefixlen >= summary.prefixlen
            and int(prefix.network_address) & int(summary.netmask) == int(summary.network_address))


__all__ = ["Component", "SummaryIndex", "inside"]
