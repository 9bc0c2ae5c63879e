"""The report page: the drawings and tables of one run assembled into one HTML file.

Why one self-contained file: it is attached to CI runs and bug reports and opened
offline, so the stylesheet, the script and the message data are inlined, the SVGs are
inline markup, and nothing is fetched. The order is the order a network engineer asks
in: did it pass (verdicts), what is the lab (topology), what happened when (timeline),
how NHRP did it (ladders), where the traffic went (flow paths).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from dmvpnlab.report.assets import CSS, JS
from dmvpnlab.report.collect import RunData
from dmvpnlab.report.exchanges import KIND_ORDER, KIND_TITLES, Bounded
from dmvpnlab.report.flow_svg import flow_svg, phase_label
from dmvpnlab.report.flows import Flow
from dmvpnlab.report.ladder_svg import MAX_MESSAGES, ladder_svg
from dmvpnlab.report.msgdetail import details
from dmvpnlab.report.svg import COLOURS, LABELS, esc
from dmvpnlab.report.timeline import CATEGORY_COLOURS, MAX_EVENTS, TimelineEvent, timeline_svg
from dmvpnlab.report.topology_svg import topology_svg


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _chip(value: Any, label: str) -> str:
    return f'<span class="chip"><b>{esc(value)}</b> {esc(label)}</span>'


def _header(run: RunData, title: str, exchanges: int, flows: list[Flow], verdicts: list[dict] | None) -> str:
    lab = run.lab
    frames = sum(c.frames for c in run.links.values())
    meta = [f"lab <b>{esc(lab.name)}</b>"]
    if lab.source:
        meta.append(f"topology {esc(lab.source)}")
    if lab.up_at:
        meta.append(f"up at {esc(_clock(lab.up_at))}")
    if run.t0:
        meta.append(f"captured {esc(_clock(run.t0))} for {run.t_end - run.t0:.1f} s")
    meta.append(f"captures {esc(run.directory)}")
    chips = [_chip(frames, "frames"), _chip(len(run.links), "captures"), _chip(len(run.nhrp), "NHRP messages"),
             _chip(exchanges, "exchanges"), _chip(len(flows), "ICMP flows"), _chip(len(run.faults), "fault events")]
    if verdicts:
        outcomes = Counter(str(v.get("outcome", "?")) for v in verdicts)
        chips.append(_chip(", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())), "tests"))
    if run.encrypted:
        chips.append(_chip("IPsec", "ESP on the WAN"))
    return (f'<header class="top"><h1>{esc(title)}</h1><div class="meta">{" &middot; ".join(meta)}</div>'
            f'<div class="chips">{"".join(chips)}</div></header>')


def _verdicts(verdicts: list[dict] | None) -> str:
    if not verdicts:
        return ""
    rows = "".join(
        f'<tr><td>{esc(v.get("name", "?"))}</td><td class="outcome-{esc(v.get("outcome", "?"))}">'
        f'{esc(v.get("outcome", "?"))}</td><td class="message">{esc(v.get("message", ""))}</td></tr>' for v in verdicts)
    return (f'<section class="card verdicts" id="verdicts"><h2>Verdicts</h2><table><tr><th>test</th><th>outcome</th>'
            f'<th>message</th></tr>{rows}</table></section>')


def _topology(run: RunData) -> str:
    drawing, caption = topology_svg(run)
    rows = "".join(
        f'<tr><td>{esc(stem)}.pcapng</td><td class="num">{c.frames}</td>'
        + "".join(f'<td class="num">{c.kinds[k]}</td>' for k in ("nhrp", "gre", "esp", "isakmp", "plain")) + "</tr>"
        for stem, c in sorted(run.links.items()))
    head = "".join(f"<th>{esc(LABELS[k])}</th>" for k in ("nhrp", "gre", "esp", "isakmp", "plain"))
    return (f'<section class="card" id="topology"><h2>Topology and what crossed each link</h2>{drawing}'
            f'<p class="caption">{esc(caption)}. Link colour: what mostly crossed it; width: how much (log scale); '
            f'the number is its frames; hover a link or a node for details.</p>'
            f'<details><summary>frames per capture</summary><table><tr><th>capture</th><th>frames</th>{head}</tr>'
            f'{rows}</table></details></section>')


def _timeline(run: RunData, items: list[TimelineEvent]) -> str:
    if not items:
        return ('<section class="card" id="timeline"><h2>Timeline</h2><p class="note">No faults and no NHRP state '
                'changes in these captures.</p></section>')
    shown = items[:MAX_EVENTS]
    rows = "".join(
        f'<tr class="ev cat-{e.category}"{f" data-msg={chr(34)}{e.msg}{chr(34)}" if e.msg is not None else ""}>'
        f'<td class="num">{e.at - run.t0:.3f} s</td><td><span class="cat" style="background:'
        f'{CATEGORY_COLOURS[e.category]}"></span>{esc(e.category)}</td><td>{esc(e.text)}</td></tr>' for e in shown)
    more = (f'<p class="note left-out">{len(items) - MAX_EVENTS} later events left out of the table.</p>'
            if len(items) > MAX_EVENTS else "")
    return (f'<section class="card" id="timeline"><h2>Timeline: faults and state changes</h2>'
            f'{timeline_svg(items, run.t0, run.t_end)}<table class="events"><tr><th>time</th><th>what</th><th></th>'
            f'</tr>{rows}</table>{more}</section>')


def _ladders(run: RunData, bounded: Bounded, per_kind: int) -> str:
    parts = ['<section class="card" id="nhrp"><h2>NHRP exchanges</h2>'
             '<p class="caption">One ladder per exchange; solid arrows are requests and indications, dashed ones '
             'replies. Click a message for its decoded fields.</p>']
    if not bounded.shown:
        parts.append('<p class="note">No NHRP messages in these captures.</p>')
    for kind in KIND_ORDER:
        shown = [(i, e) for i, e in enumerate(bounded.shown) if e.kind == kind]
        if not shown and not bounded.left_out[kind]:
            continue
        parts.append(f'<h3>{esc(KIND_TITLES[kind])}: {len(shown) + bounded.left_out[kind]} exchange'
                     f'{"s" if len(shown) + bounded.left_out[kind] != 1 else ""}</h3>')
        for index, exchange in shown:
            ids = exchange.request_ids
            broken = "" if exchange.complete else ' <span class="incomplete">no reply captured</span>'
            parts.append(f'<div class="exchange" data-kind="{kind}"><div class="sum">{esc(exchange.summary)} &middot; '
                         f'{exchange.start - run.t0:.3f} s'
                         + (f' &middot; request id {", ".join(map(str, ids))}' if ids else "")
                         + f' &middot; {len(exchange.messages)} messages{broken}</div>'
                         + ladder_svg(exchange, index, run.lab, run.t0)
                         + (f'<p class="note left-out">{len(exchange.messages) - MAX_MESSAGES} later messages of this '
                            f'exchange not drawn.</p>' if len(exchange.messages) > MAX_MESSAGES else "") + "</div>")
        if bounded.left_out[kind]:
            parts.append(f'<p class="note left-out">{bounded.left_out[kind]} more {kind} exchange'
                         f'{"s" if bounded.left_out[kind] != 1 else ""} not drawn (the first {per_kind} are).</p>')
    parts.append("</section>")
    return "".join(parts)


def _flows(run: RunData, flows: list[Flow], limit: int) -> str:
    parts = ['<section class="card" id="flows"><h2>Flow paths</h2><p class="caption">ICMP echo requests, hop by hop '
             'from the captures; a new row when the path changed. Arrow colour: how the echo crossed that link '
             f'(<span style="color:{COLOURS["plain"]}">plain</span>, <span style="color:{COLOURS["gre"]}">inside '
             f'GRE</span>, <span style="color:{COLOURS["esp"]}">inside ESP</span>); times in ms after the echo '
             'left.</p>']
    if not flows:
        parts.append('<p class="note">No ICMP echoes in these captures.</p>')
    # Drawn: flows through the tunnels or whose path changed; plain underlay/LAN pings are a table.
    drawn = [f for f in flows if f.via_routers or len(f.phases) > 1]
    plain = [f for f in flows if f not in drawn]
    for index, flow in enumerate(drawn[:limit]):
        change = ""
        if len(flow.phases) > 1:
            labels = " then ".join(phase_label(p, run.lab) for p in flow.phases[:3])
            change = f" &middot; <b>path changed</b>: {esc(labels)}"
        parts.append(f'<h3>{esc(flow.src_name)} ({esc(flow.src)}) &rarr; {esc(flow.dst_name)} ({esc(flow.dst)})</h3>'
                     f'<div class="sum">{flow.echoes} echo requests{change}</div>'
                     + flow_svg(flow, run.lab, run.t0, index))
    if len(drawn) > limit:
        parts.append(f'<p class="note left-out">{len(drawn) - limit} more tunnelled flows not drawn.</p>')
    if plain:
        rows = "".join(f'<tr><td>{esc(f.src_name)} &rarr; {esc(f.dst_name)}</td><td class="num">{f.echoes}</td>'
                       f'<td>{esc(" ".join(f.phases[0].hops))}</td><td class="num">{f.phases[0].start - run.t0:.3f} s'
                       f'</td></tr>' for f in plain[:limit * 4])
        parts.append(f'<h3>Underlay and LAN pings (not tunnelled)</h3><table class="plainflows"><tr><th>flow</th>'
                     f'<th>echoes</th><th>path</th><th>first</th></tr>{rows}</table>')
    parts.append("</section>")
    return "".join(parts)


def render(run: RunData, *, title: str, bounded: Bounded, flows: list[Flow], timeline: list[TimelineEvent],
           verdicts: list[dict] | None, per_kind: int, flow_limit: int) -> str:
    """The whole page as a string."""
    drawn = {m.id for e in bounded.shown for m in e.messages} | {e.msg for e in timeline if e.msg is not None}
    data = {str(m.id): details(m, run.t0) for m in run.nhrp if m.id in drawn}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    total = len(bounded.shown) + sum(bounded.left_out.values())
    generated = _clock(time.time())
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><div class=\"content\">"
        + _header(run, title, total, flows, verdicts) + "<main>" + _verdicts(verdicts) + _topology(run)
        + _timeline(run, timeline) + _ladders(run, bounded, per_kind) + _flows(run, flows, flow_limit)
        + f'<p class="caption">Written by dmvpnlab report at {esc(generated)} from {esc(run.directory)}.</p></main></div>'
        + '<aside id="panel" aria-live="polite"><h2>NHRP message</h2><p class="empty">Click a message in a ladder '
          '(or an NHRP event of the timeline) to see its decoded header, CIEs and extensions here.</p></aside>'
        + f'<script type="application/json" id="nhrp-data">{payload}</script><script>{JS}</script></body></html>')
