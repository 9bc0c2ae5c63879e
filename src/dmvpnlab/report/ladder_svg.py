"""One NHRP exchange as a ladder (sequence) diagram: a lane per router, an arrow per message.

Why ladders: that is how NHRP is explained (RFC 2332 figures, Cisco's Phase 3 slides):
who asked whom, who forwarded, who answered, in what order. Each arrow carries the
message name, request id and hop count; its time is in the left column (seconds since
the first captured frame) and the gap since the previous message after it. Arrows are
`<g class="msg" data-msg=ID>`: the page's script shows the decoded message `ID` (header,
CIEs, extensions) in the side panel when one is clicked. Hubs are drawn in the middle
lanes, spokes either side, so a resolution through the hub reads left, middle, right.
"""

from __future__ import annotations

from dmvpnlab.nhrp.codec import PacketType
from dmvpnlab.report.exchanges import Exchange
from dmvpnlab.report.labinfo import LabInfo, natural
from dmvpnlab.report.svg import esc, svg, tag, text, title

LANE = 230
ROW = 46
TOP = 62
LEFT = 96
MAX_MESSAGES = 40  # arrows per ladder: a busy redirect window in a big lab would be pages long
TYPE_COLOURS = {
    PacketType.REGISTRATION_REQUEST: "#1e8e3e", PacketType.REGISTRATION_REPLY: "#1e8e3e",
    PacketType.RESOLUTION_REQUEST: "#1a73e8", PacketType.RESOLUTION_REPLY: "#1a73e8",
    PacketType.TRAFFIC_INDICATION: "#e8710a", PacketType.PURGE_REQUEST: "#c5221f",
    PacketType.PURGE_REPLY: "#c5221f", PacketType.ERROR_INDICATION: "#a50e0e",
}
REPLIES = {PacketType.REGISTRATION_REPLY, PacketType.RESOLUTION_REPLY, PacketType.PURGE_REPLY}


def lane_order(names: list[str], lab: LabInfo) -> list[str]:
    """Spokes split either side of the hubs (unknown names at the ends)."""
    def is_hub(name: str) -> bool:
        return name in lab.nodes and lab.nodes[name].role == "hub"

    hubs = sorted((n for n in names if is_hub(n)), key=natural)
    others = sorted((n for n in names if not is_hub(n)), key=natural)
    half = (len(others) + 1) // 2
    return others[:half] + hubs + others[half:]


def arrow_label(m_name: str, fields: dict[str, object]) -> str:
    parts = [m_name]
    if "req_id" in fields:
        parts.append(f"id={fields['req_id']}")
    parts.append(f"hop={fields.get('hop')}")
    if fields.get("type") == PacketType.TRAFFIC_INDICATION and fields.get("trigger"):
        parts.append(f"for {fields['trigger']}")
    return "  ".join(parts)


def ladder_svg(exchange: Exchange, index: int, lab: LabInfo, t0: float) -> str:
    """The exchange's first MAX_MESSAGES messages (the page says how many more there were)."""
    messages = exchange.messages[:MAX_MESSAGES]
    lanes = lane_order(exchange.lanes, lab)
    x_of = {name: LEFT + LANE * (i + 0.5) for i, name in enumerate(lanes)}
    width = LEFT + LANE * max(len(lanes), 2) + 20
    height = TOP + ROW * len(messages) + 24
    colours = sorted({TYPE_COLOURS.get(m.type, "#5f6368") for m in messages})
    defs = "".join(
        tag("marker", tag("path", d="M0,0 L10,5 L0,10 z", fill=c), id=f"ah{index}-{c[1:]}", viewBox="0 0 10 10",
            refX=9, refY=5, markerWidth=8, markerHeight=8, orient="auto-start-reverse")
        for c in colours)
    body = [tag("defs", defs), text(8, 20, "time", class_="lhead")]
    for name in lanes:
        x = x_of[name]
        role = lab.nodes[name].role if name in lab.nodes else "?"
        body.append(tag("rect", x=x - 62, y=8, width=124, height=28, rx=6, class_=f"lane role-{role}"))
        body.append(text(x, 27, name, class_="lname", text_anchor="middle"))
        body.append(tag("line", x1=x, y1=36, x2=x, y2=height - 8, class_="lifeline"))
    previous = None
    for row, m in enumerate(messages):
        y = TOP + ROW * row + 16
        colour = TYPE_COLOURS.get(m.type, "#5f6368")
        body.append(text(8, y + 4, f"{m.at - t0:.3f} s", class_="ltime"))
        if previous is not None:
            body.append(text(8, y + 17, f"+{(m.at - previous) * 1000:.1f} ms", class_="lgap"))
        previous = m.at
        x1, x2 = x_of.get(m.sender, LEFT + 10), x_of.get(m.receiver, width - 10)
        if x1 == x2:
            line = tag("path", d=f"M{x1},{y} h40 v14 h-36", fill="none", stroke=colour, stroke_width=2,
                       marker_end=f"url(#ah{index}-{colour[1:]})")
        else:
            line = tag("line", x1=x1, y1=y, x2=x2 - (6 if x2 > x1 else -6), y2=y, stroke=colour, stroke_width=2.2,
                       stroke_dasharray="6 4" if m.type in REPLIES else None,
                       marker_end=f"url(#ah{index}-{colour[1:]})")
        label = arrow_label(m.name, m.fields)
        lx = (x1 + x2) / 2
        hit = tag("rect", x=min(x1, x2) - 4, y=y - 22, width=abs(x2 - x1) + 48, height=34, class_="hit")
        tip = title(f"{label}\n{m.sender} -> {m.receiver} at {m.at - t0:.6f} s\nseen on {', '.join(m.links)}"
                    "\nclick for the decoded message")
        body.append(tag("g", tip + hit + line + text(lx, y - 7, label, class_="mlabel", text_anchor="middle"),
                        class_="msg", data_msg=m.id, tabindex=0, role="button"))
    return svg(width, height, "".join(body), class_="ladder", data_exchange=index,
               aria_label=esc(f"{exchange.kind} exchange {index}"))
