"""The run's timeline: faults injected and the state changes the captures show.

Why both on one axis: a fault is only understood next to what it caused (a spoke's
registrations stop, a purge, a new resolution). Faults come from `faults.jsonl` (epoch
times, the clock dumpcap stamps frames with); state changes are read from the NHRP
messages and the flows: the first registration of each router with each NHS,
redirects, shortcuts (resolution replies: who learnt which prefix at which NBMA),
purges, errors, and the moment a flow's path changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmvpnlab.nhrp.codec import PacketType
from dmvpnlab.report.collect import RunData
from dmvpnlab.report.flows import Flow
from dmvpnlab.report.svg import esc, svg, tag, text, title

CATEGORY_COLOURS = {"fault": "#c5221f", "registration": "#1e8e3e", "redirect": "#e8710a", "shortcut": "#1a73e8",
                    "purge": "#a142f4", "error": "#a50e0e", "path": "#202124"}
MAX_EVENTS = 400


@dataclass
class TimelineEvent:
    at: float  # epoch seconds
    category: str
    text: str
    msg: int | None = None  # the NHRP message it comes from (its decoded fields open on click)


def events(run: RunData, flows: list[Flow]) -> list[TimelineEvent]:
    out = [TimelineEvent(at, "fault", f"fault: {what}") for at, what in run.faults]
    registered: set[tuple[str, str]] = set()
    refreshes: dict[tuple[str, str], int] = {}
    for m in run.nhrp:
        f = m.fields
        if m.type == PacketType.REGISTRATION_REPLY:
            key = (m.receiver, m.sender)
            if key in registered:
                refreshes[key] = refreshes.get(key, 0) + 1
                continue
            registered.add(key)
            code = (f.get("cies") or [{}])[0].get("code", 0)
            verdict = "registered with" if code == 0 else f"refused (code {code}) by"
            out.append(TimelineEvent(m.at, "registration", f"{m.receiver} {verdict} {m.sender} "
                                     f"({f.get('src_proto')} at {f.get('src_nbma')})", m.id))
        elif m.type == PacketType.TRAFFIC_INDICATION:
            out.append(TimelineEvent(m.at, "redirect", f"{m.sender} redirects {m.receiver} for {f.get('trigger', '?')}",
                                     m.id))
        elif m.type == PacketType.RESOLUTION_REPLY:
            for cie in f.get("cies") or []:
                if cie.get("code", 0) == 0 and "nbma" in cie:
                    out.append(TimelineEvent(m.at, "shortcut", f"{m.receiver} learns {f.get('dst_proto')}/"
                                             f"{cie.get('prefix')} at NBMA {cie['nbma']} (from {m.sender})", m.id))
        elif m.type == PacketType.PURGE_REQUEST:
            out.append(TimelineEvent(m.at, "purge", f"{m.sender} purges {f.get('dst_proto')} at {m.receiver}", m.id))
        elif m.type == PacketType.ERROR_INDICATION:
            out.append(TimelineEvent(m.at, "error", f"{m.sender} -> {m.receiver}: NHRP error {f.get('error_code')}",
                                     m.id))
    for (router, nhs), count in sorted(refreshes.items()):
        first = next(e for e in out if e.category == "registration" and e.text.startswith(f"{router} ")
                     and f" {nhs} (" in e.text)
        first.text += f"; then {count} refresh{'es' if count != 1 else ''}"
    for flow in flows:
        for before, after in zip(flow.phases, flow.phases[1:]):
            out.append(TimelineEvent(after.start, "path", f"{flow.src_name} -> {flow.dst_name}: path "
                                     f"{' '.join(before.hops)}  becomes  {' '.join(after.hops)}"))
    out.sort(key=lambda e: e.at)
    return out


def timeline_svg(items: list[TimelineEvent], t0: float, t_end: float, width: int = 1100) -> str:
    """A strip of markers over the run's duration, one row per category."""
    categories = [c for c in CATEGORY_COLOURS if any(e.category == c for e in items)]
    span = max(t_end - t0, 1e-3)
    left, right = 110, 20
    height = 30 + 24 * len(categories) + 26
    body = []
    for row, category in enumerate(categories):
        y = 30 + 24 * row
        body.append(text(8, y + 4, category, class_="tcat"))
        body.append(tag("line", x1=left, y1=y, x2=width - right, y2=y, class_="trow"))
        for e in items:
            if e.category != category:
                continue
            x = left + (width - left - right) * min(max((e.at - t0) / span, 0.0), 1.0)
            body.append(tag("circle", title(f"{e.at - t0:.3f} s  {e.text}"), cx=round(x, 1), cy=y, r=6,
                            fill=CATEGORY_COLOURS[category], stroke="#ffffff", stroke_width=1.5, class_="tmark",
                            data_msg=e.msg))
    axis_y = 30 + 24 * len(categories)
    body.append(tag("line", x1=left, y1=axis_y, x2=width - right, y2=axis_y, class_="taxis"))
    for i in range(6):
        x = left + (width - left - right) * i / 5
        body.append(text(x, axis_y + 16, f"{span * i / 5:.1f} s", class_="ttick", text_anchor="middle"))
    return svg(width, height, "".join(body), class_="timeline", aria_label=esc("timeline of the run"))
