"""Which NHSs a spoke registers with when a cluster limits its connections (IOS 15 NHS policy).

Why apart: the choice is a pure function of the NHS records, the configured limits and
the clock, so it is read and tested here without packets. `nhc.NhsClient` applies it:
the chosen NHSs are registered with, NHSs that went down are still probed (with the
registration backoff) until they answer again, the rest wait ("W") and are sent nothing.

The rules, per cluster with `ip nhrp nhs cluster N max-connections M`:
- rank the cluster's NHSs by priority (lower is preferred), then configuration order;
- choose the first M that are eligible: not down, and, for an NHS that went down while
  chosen, answering again for at least `fallback` seconds (`ip nhrp nhs fallback S`;
  none configured: at once);
- a cluster without max-connections registers with all of its NHSs (as without policy).

Imports only `nhrp`.
"""

from __future__ import annotations

from typing import Iterable

from dmvpnlab.nhrp.records import NhsState

# Requests an NHS leaves unanswered (the last one's retry timer run out too) before it
# counts as down and a waiting NHS takes its place. With the 1, 2, 4 s backoff an NHS
# that stops answering is replaced about 7 s after its first unanswered request.
DOWN_AFTER_UNANSWERED = 3


def rank(states: Iterable[NhsState]) -> list[NhsState]:
    """Best first: lower priority value, then the order the NHSs were configured in."""
    return [s for _, s in sorted(enumerate(states), key=lambda pair: (pair[1].config.priority, pair[0]))]


def is_down(state: NhsState, now: float) -> bool:
    """Down: not responding, and DOWN_AFTER_UNANSWERED requests went unanswered."""
    if state.state == "R" or not state.awaiting:
        return False
    if state.unanswered > DOWN_AFTER_UNANSWERED:
        return True
    return state.unanswered == DOWN_AFTER_UNANSWERED and now >= state.next_send


def eligible(state: NhsState, now: float, fallback: float | None) -> bool:
    """May take a connection slot now (see the module docstring)."""
    if is_down(state, now):
        return False
    if state.recovering:
        return state.state == "R" and state.up_since is not None and now - state.up_since >= (fallback or 0.0)
    return True


def choose(states: list[NhsState], max_connections: dict[int, int], fallback: float | None,
           now: float) -> list[NhsState]:
    """The NHSs to register with, in configuration order."""
    chosen: set[int] = set()
    for cluster in dict.fromkeys(s.config.cluster for s in states):
        members = [s for s in states if s.config.cluster == cluster]
        limit = max_connections.get(cluster)
        if limit is None:
            chosen.update(id(s) for s in members)
            continue
        picked = [s for s in rank(members) if eligible(s, now, fallback)][:limit]
        chosen.update(id(s) for s in picked)
    return [s for s in states if id(s) in chosen]


def up_first(states: list[NhsState]) -> list[NhsState]:
    """Where to send what goes "to the NHS": responding NHSs best first, then the rest in
    configuration order (the first configured one when none is up)."""
    up = [s for s in rank(states) if s.state == "R"]
    return up + [s for s in states if s.state != "R"]
