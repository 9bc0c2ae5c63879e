"""NHRP messages grouped into exchanges, the unit a ladder diagram draws.

Why grouping and not one ladder of everything: an engineer asks "how did spoke1 register",
"what did the redirect cause"; a ladder of a whole run mixes periodic refreshes with the
one resolution that built the shortcut. Requests and their replies share the request id
and the source protocol address (RFC 2332 5.2.x: the reply keeps the request's fixed
fields), a forwarded request too (hop count lower), so (kind, src_proto, req_id) ties an
exchange together. A Traffic Indication (redirect) has no request id: it opens a
"redirect" exchange that also takes the resolutions started within REDIRECT_WINDOW after
it, because in Phase 3 those are what the redirect caused. Error Indications stand alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dmvpnlab.nhrp.codec import PacketType
from dmvpnlab.report.collect import NhrpMessage

REDIRECT_WINDOW = 3.0  # s after a Traffic Indication whose resolutions belong to it
KIND_OF_TYPE = {
    PacketType.REGISTRATION_REQUEST: "registration", PacketType.REGISTRATION_REPLY: "registration",
    PacketType.RESOLUTION_REQUEST: "resolution", PacketType.RESOLUTION_REPLY: "resolution",
    PacketType.PURGE_REQUEST: "purge", PacketType.PURGE_REPLY: "purge",
    PacketType.ERROR_INDICATION: "error", PacketType.TRAFFIC_INDICATION: "redirect",
}
KIND_TITLES = {"registration": "Registration", "resolution": "Resolution", "redirect": "Redirect (Traffic Indication)",
               "purge": "Purge", "error": "Error Indication", "other": "Other"}
KIND_ORDER = ("registration", "redirect", "resolution", "purge", "error", "other")


@dataclass
class Exchange:
    kind: str
    messages: list[NhrpMessage] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.messages[0].at

    @property
    def lanes(self) -> list[str]:
        """The nodes taking part, in order of first appearance."""
        seen: list[str] = []
        for m in self.messages:
            for name in (m.sender, m.receiver):
                if name not in seen:
                    seen.append(name)
        return seen

    @property
    def request_ids(self) -> list[int]:
        return sorted({m.fields["req_id"] for m in self.messages if "req_id" in m.fields})

    @property
    def complete(self) -> bool:
        """A request kind with its reply (redirects and errors are complete as they are)."""
        if self.kind not in ("registration", "resolution", "purge"):
            return True
        return any(int(m.type) in _REPLIES for m in self.messages)

    @property
    def summary(self) -> str:
        first = self.messages[0]
        f = first.fields
        if self.kind == "redirect":
            return f"{first.sender} redirects {first.receiver} for {f.get('trigger', '?')}"
        if self.kind == "error":
            return f"{first.sender} -> {first.receiver}: error code {f.get('error_code')}"
        who = first.sender
        target = f.get("dst_proto")
        what = {"registration": f"{who} registers {f.get('src_proto')} with {target}",
                "resolution": f"{who} resolves {target}", "purge": f"{who} purges {target}"}
        return what.get(self.kind, first.name)


_REPLIES = {PacketType.REGISTRATION_REPLY, PacketType.RESOLUTION_REPLY, PacketType.PURGE_REPLY}


def group(messages: list[NhrpMessage]) -> list[Exchange]:
    """Exchanges in order of their first message."""
    out: list[Exchange] = []
    by_key: dict[tuple[str, str | None, int], Exchange] = {}
    redirects: list[Exchange] = []
    for m in messages:
        kind = KIND_OF_TYPE.get(m.type, "other")
        if kind == "redirect":
            recent = next((r for r in reversed(redirects) if m.at - r.start <= REDIRECT_WINDOW), None)
            if recent is None:
                recent = Exchange("redirect")
                redirects.append(recent)
                out.append(recent)
            recent.messages.append(m)
            continue
        if kind in ("error", "other") or "req_id" not in m.fields:
            out.append(Exchange(kind, [m]))
            continue
        key = (kind, m.fields.get("src_proto"), int(m.fields["req_id"]))
        exchange = by_key.get(key)
        if exchange is None:
            redirect = next((r for r in reversed(redirects) if kind == "resolution"
                             and 0 <= m.at - r.start <= REDIRECT_WINDOW), None)
            exchange = redirect or Exchange(kind)
            if redirect is None:
                out.append(exchange)
            by_key[key] = exchange
        exchange.messages.append(m)
    return out


@dataclass
class Bounded:
    shown: list[Exchange]
    left_out: Counter[str]  # kind -> exchanges not drawn


def bound(exchanges: list[Exchange], per_kind: int) -> Bounded:
    """The first `per_kind` exchanges of each kind, in time order, and how many were left out."""
    taken: Counter[str] = Counter()
    left: Counter[str] = Counter()
    shown = []
    for e in exchanges:
        if taken[e.kind] < per_kind:
            taken[e.kind] += 1
            shown.append(e)
        else:
            left[e.kind] += 1
    return Bounded(shown, left)
