"""The lab drawn as SVG: hubs on top, the ISP cloud, NAT boxes, spokes, their LAN hosts.

Why layers and not a force layout: DMVPN labs are hub-and-spoke by construction, and an
engineer reads them top-down (hub, underlay, spokes, LANs) like every Cisco diagram.
Each link is coloured by what mostly crossed it (NHRP, GRE, ESP, plain) and sized by
how much (log scale); hovering shows the counts. Spoke-to-spoke tunnels that carried
data (the Phase 2/3 shortcuts) are dashed curves between the routers. At most MAX_ROW
nodes are drawn per layer; the caption says how many were left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dmvpnlab.report.collect import LinkCounts, RunData
from dmvpnlab.report.labinfo import LabInfo, Node, natural
from dmvpnlab.report.svg import COLOURS, LABELS, ROLE_FILL, esc, svg, tag, text, title

MAX_ROW = 40
STEP_X = 190
LAYER_Y = {"hubhost": 60, "hub": 160, "isp": 280, "nat": 390, "bridge": 460, "spoke": 540, "host": 650}
MARGIN = 70
MAX_CURVE_LABELS = 4
MIN_WIDTH = 900


@dataclass
class Placed:
    node: Node
    x: float
    y: float


def _layer(node: Node) -> str:
    return {"hub": "hub", "spoke": "spoke", "router": "spoke", "nat": "nat", "bridge": "bridge",
            "host": "host", "isp": "isp"}.get(node.role, "isp")


def _neighbours(lab: LabInfo) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in lab.nodes}
    for link in lab.links:
        if link.owner in out and link.peer in out:
            out[link.owner].append(link.peer)
            out[link.peer].append(link.owner)
    return out


def layout(lab: LabInfo) -> tuple[dict[str, Placed], int, float]:
    """Positions of the drawn nodes, how many were left out, and the drawing's width."""
    near = _neighbours(lab)
    rows: dict[str, list[Node]] = {key: [] for key in LAYER_Y}
    for node in sorted(lab.nodes.values(), key=lambda n: natural(n.name)):
        layer = _layer(node)
        next_to_hub = any(lab.nodes[n].role == "hub" for n in near[node.name] if n in lab.nodes)
        if layer == "host" and next_to_hub:
            layer = "hubhost"
        elif layer == "bridge" and next_to_hub:  # a wired lab's WAN switch stands where the ISP would
            layer = "isp"
        rows[layer].append(node)
    left_out = 0
    for key, row in rows.items():
        if len(row) > MAX_ROW:
            left_out += len(row) - MAX_ROW
            rows[key] = row[:MAX_ROW]
    widest = max(len(rows["spoke"]), len(rows["hub"]), len(rows["host"]), len(rows["nat"]), 3)
    width = max(widest * STEP_X + 2 * MARGIN, MIN_WIDTH)  # at least the legend's width
    placed: dict[str, Placed] = {}
    for key in ("spoke", "hub", "isp"):
        _spread(rows[key], LAYER_Y[key], width, placed)
    for key in ("nat", "bridge"):
        for node in rows[key]:
            xs = [placed[n].x for n in near[node.name] if n in placed and lab.nodes[n].is_router]
            xs += [placed[n.name].x for n in lab.nodes.values() if n.behind == node.name and n.name in placed]
            placed[node.name] = Placed(node, sum(xs) / len(xs) if xs else width / 2, LAYER_Y[key])
    _spread_nat_collisions(rows["nat"] + rows["bridge"], placed)
    for key in ("host", "hubhost"):
        by_router: dict[str, list[Node]] = {}
        for node in rows[key]:
            router = next((n for n in near[node.name] if n in placed), "")
            by_router.setdefault(router, []).append(node)
        for router, hosts in by_router.items():
            cx = placed[router].x if router in placed else width / 2
            for i, node in enumerate(hosts):
                placed[node.name] = Placed(node, cx + (i - (len(hosts) - 1) / 2) * 62, LAYER_Y[key])
    return placed, left_out, width


def _spread(row: list[Node], y: float, width: float, placed: dict[str, Placed]) -> None:
    step = (width - 2 * MARGIN) / max(len(row), 1)
    for i, node in enumerate(row):
        placed[node.name] = Placed(node, MARGIN + step * (i + 0.5), y)


def _spread_nat_collisions(nodes: list[Node], placed: dict[str, Placed]) -> None:
    taken: list[float] = []
    for node in nodes:
        p = placed[node.name]
        while any(abs(p.x - x) < 90 for x in taken):
            p.x += 90
        taken.append(p.x)


def _counts_text(stem: str, counts: LinkCounts | None) -> str:
    if counts is None:
        return f"{stem}: no capture"
    parts = [f"{LABELS[k]} {counts.kinds[k]}" for k in ("nhrp", "gre", "esp", "isakmp", "plain") if counts.kinds[k]]
    return f"{stem}.pcapng: {counts.frames} frames" + (" - " + ", ".join(parts) if parts else "")


def _link_width(frames: int) -> float:
    return min(1.5 + math.log2(1 + frames) * 0.7, 10.0)


def _node_svg(p: Placed) -> str:
    n = p.node
    fill = ROLE_FILL.get(n.role, ROLE_FILL["?"])
    detail = n.nbma or next((a for i, a in n.addresses.items() if not i.startswith("lo")), "") if n.role != "isp" else ""
    tip = f"{n.name} ({n.role})" + "".join(f"\n{i}: {a}" for i, a in n.addresses.items())
    if n.tunnel:
        tip += f"\ntunnel: {n.tunnel}"
    if n.nbma:
        tip += f"\nNBMA: {n.nbma}"
    body = title(tip)
    x, y = p.x, p.y
    if n.role in ("hub", "spoke", "router"):
        r = 30 if n.role == "hub" else 24
        body += tag("circle", cx=x, cy=y, r=r, fill=fill, stroke="#202124", stroke_width=1.5)
        body += _router_arrows(x, y, r)
        body += text(x + r + 6, y - 4, n.name, class_="nlabel")
        if n.tunnel:
            body += text(x + r + 6, y + 10, f"tun {n.tunnel.split('/')[0]}", class_="naddr")
        if detail:
            body += text(x + r + 6, y + 23, f"nbma {str(detail).split('/')[0]}", class_="naddr")
    elif n.role == "host":
        body += tag("rect", x=x - 24, y=y - 16, width=48, height=32, rx=4, fill=fill, stroke="#5f6368", stroke_width=1.5)
        body += tag("rect", x=x - 17, y=y - 10, width=34, height=16, fill="#e8f0fe", stroke="#5f6368")
        body += text(x + 30, y - 1, n.name, class_="nlabel")  # beside the box: links leave above and below
        if detail:
            body += text(x + 30, y + 12, str(detail).split("/")[0], class_="naddr")
    elif n.role == "nat":
        body += tag("rect", x=x - 34, y=y - 16, width=68, height=32, rx=6, fill=fill, stroke="#202124", stroke_width=1.5)
        body += text(x, y + 5, "NAT", class_="nat", text_anchor="middle")
        body += text(x + 40, y + 4, n.name, class_="nlabel")
    elif n.role == "isp":
        body += tag("ellipse", cx=x, cy=y, rx=90, ry=34, fill=fill, stroke="#9aa0a6", stroke_width=1.5)
        body += text(x, y + 5, f"{n.name} (underlay)", class_="nlabel", text_anchor="middle")
    else:
        body += tag("rect", x=x - 30, y=y - 10, width=60, height=20, rx=10, fill=fill, stroke="#9aa0a6")
        body += text(x, y + 4, n.name, class_="naddr", text_anchor="middle")
    return tag("g", body, class_=f"node role-{n.role}", data_node=n.name)


def _router_arrows(x: float, y: float, r: float) -> str:
    """The Cisco router glyph: four arrows in the circle (two in, two out)."""
    d = r * 0.55
    path = (f"M{x - d:.1f},{y:.1f} L{x + d:.1f},{y:.1f} M{x:.1f},{y - d:.1f} L{x:.1f},{y + d:.1f}")
    return tag("path", d=path, stroke="#ffffff", stroke_width=2.5, stroke_linecap="round")


def _legend() -> str:
    items = []
    for i, kind in enumerate(("nhrp", "gre", "esp", "isakmp", "plain")):
        x = 16 + i * 118
        items.append(tag("line", x1=x, y1=16, x2=x + 26, y2=16, stroke=COLOURS[kind], stroke_width=5))
        items.append(text(x + 32, 20, LABELS[kind], class_="legend"))
    x = 16 + 5 * 118
    items.append(tag("path", d=f"M{x},16 L{x + 26},16", stroke="#1a73e8", stroke_width=2.5, stroke_dasharray="6 4",
                     fill="none"))
    items.append(text(x + 32, 20, "spoke-to-spoke tunnel (data)", class_="legend"))
    return tag("g", "".join(items), class_="legend")


def topology_svg(run: RunData) -> tuple[str, str]:
    """(svg, caption) of the lab's drawing."""
    placed, left_out, width = layout(run.lab)
    top = min((p.y for p in placed.values()), default=LAYER_Y["hubhost"])
    for p in placed.values():  # empty layers above (no hub LAN host) leave no blank band
        p.y -= top - LAYER_Y["hubhost"]
    height = max((p.y for p in placed.values()), default=200) + 80
    lines = []
    for link in run.lab.links:
        a, b = placed.get(link.owner), placed.get(link.peer)
        if a is None or b is None:
            continue
        counts = run.links.get(link.stem)
        kind = counts.dominant if counts else "none"
        frames = counts.frames if counts else 0
        tip = _counts_text(link.stem, counts)
        body = title(tip) + tag("line", x1=a.x, y1=a.y, x2=b.x, y2=b.y, stroke=COLOURS[kind],
                                stroke_width=round(_link_width(frames), 1), stroke_linecap="round")
        mx, my = (a.x * 0.45 + b.x * 0.55), (a.y * 0.45 + b.y * 0.55)
        body += tag("rect", x=mx - 20, y=my - 9, width=40, height=16, rx=8, fill="#ffffff", stroke=COLOURS[kind])
        body += text(mx, my + 3, str(frames), class_="lcount", text_anchor="middle")
        lines.append(tag("g", body, class_=f"link kind-{kind}", data_stem=link.stem, data_frames=frames))
    pairs = [(a, b, count) for (a, b), count in sorted(run.overlay.items())
             if a in placed and b in placed and "hub" not in (placed[a].node.role, placed[b].node.role)]
    curves = [_overlay_curve(a, b, count, run, placed, labelled=len(pairs) <= MAX_CURVE_LABELS) for a, b, count in pairs]
    nodes = [_node_svg(p) for p in placed.values()]
    body = _legend() + tag("g", "".join(lines), class_="links") + tag("g", "".join(curves), class_="overlay") + \
        tag("g", "".join(nodes), class_="nodes")
    caption = (f"{len(placed)} nodes, {len(run.lab.links)} captured links"
               + (f"; {left_out} nodes left out of the drawing (at most {MAX_ROW} per row)" if left_out else "")
               + ("" if run.lab.from_file else "; no lab.json in the capture directory: nodes and links derived "
                  "from the capture file names"))
    return svg(width, height, body, class_="topology", role="img", aria_label=f"topology of lab {esc(run.lab.name)}"), caption


def _overlay_curve(a: str, b: str, count: int, run: RunData, placed: dict[str, Placed], labelled: bool) -> str:
    pa, pb = placed[a], placed[b]
    mx, my = (pa.x + pb.x) / 2, min(pa.y, pb.y) - 90 - abs(pa.x - pb.x) * 0.05
    kind = "esp" if run.encrypted else "gre"
    path = f"M{pa.x:.1f},{pa.y - 24:.1f} Q{mx:.1f},{my:.1f} {pb.x:.1f},{pb.y - 24:.1f}"
    body = title(f"{a} <-> {b}: {count} GRE data packets spoke to spoke (the shortcut)")
    body += tag("path", d=path, stroke=COLOURS[kind], stroke_width=2.5, stroke_dasharray="7 5", fill="none")
    if labelled:  # many shortcuts: the labels would overlap, hovering still tells
        body += text(mx, (pa.y - 24 + my) / 2 - 4, f"shortcut: {count} pkts", class_="lcount", text_anchor="middle")
    return tag("g", body, class_="tunnel", data_pair=f"{a}-{b}", data_packets=count)

