"""The path of an ICMP flow as SVG: one row per phase (before the shortcut, after it).

Why rows of hops: "did the shortcut form" is answered by comparing two walks, h1 spoke1
isp hub isp spoke2 h2, then h1 spoke1 isp spoke2 h2; drawn one above the other the hub
visibly drops out. Each arrow is one captured link, coloured by how the echo crossed it
(plain, inside GRE, inside ESP) and labelled with when the phase's first echo got there,
in ms after it left its source.
"""

from __future__ import annotations

from dmvpnlab.report.flows import Flow, PathPhase
from dmvpnlab.report.labinfo import LabInfo
from dmvpnlab.report.svg import COLOURS, LABELS, svg, tag, text, title

BOX_W = 84
GAP = 56
ROW_H = 78
LEFT = 210


def phase_label(phase: PathPhase, lab: LabInfo) -> str:
    """What the phase is, in DMVPN terms."""
    roles = [lab.nodes[h].role if h in lab.nodes else "?" for h in phase.hops]
    if "hub" in roles[1:-1]:
        return "via the hub"
    if phase.tunnelled:
        return "direct, spoke to spoke"
    return "underlay / LAN"


def flow_svg(flow: Flow, lab: LabInfo, t0: float, index: int = 0, max_phases: int = 6) -> str:
    phases = flow.phases[:max_phases]
    longest = max((len(p.hops) for p in phases), default=1)
    width = LEFT + longest * (BOX_W + GAP) + 20
    height = 14 + ROW_H * len(phases)
    body = []
    for row, phase in enumerate(phases):
        y = 14 + ROW_H * row
        seqs = f"echo seq {phase.first_seq}" + (f"-{phase.last_seq}" if phase.last_seq != phase.first_seq else "")
        body.append(text(8, y + 16, phase_label(phase, lab), class_="plabel"))
        lost = f", {phase.lost} lost" if phase.lost else ""
        body.append(text(8, y + 32, f"{seqs} ({phase.echoes} echo{'es' if phase.echoes != 1 else ''}{lost})",
                         class_="pinfo"))
        body.append(text(8, y + 46, f"{phase.start - t0:.3f} - {phase.end - t0:.3f} s", class_="pinfo"))
        for i, hop in enumerate(phase.hops):
            x = LEFT + i * (BOX_W + GAP)
            role = lab.nodes[hop].role if hop in lab.nodes else "?"
            body.append(tag("g", title(f"{hop} ({role})") +
                            tag("rect", x=x, y=y + 8, width=BOX_W, height=30, rx=6, class_=f"hop role-{role}") +
                            text(x + BOX_W / 2, y + 28, hop, class_="hopname", text_anchor="middle"),
                            class_="hopbox", data_hop=hop))
            if i + 1 < len(phase.hops):
                kind = phase.hop_kinds[i] if i < len(phase.hop_kinds) else "plain"
                at = phase.hop_times[i] - phase.hop_times[0] if i < len(phase.hop_times) else None
                x1, x2 = x + BOX_W, x + BOX_W + GAP
                arrow = tag("line", x1=x1 + 2, y1=y + 23, x2=x2 - 6, y2=y + 23, stroke=COLOURS[kind], stroke_width=3,
                            marker_end=f"url(#fa{index}-{kind})")
                label = text((x1 + x2) / 2, y + 54, f"{at * 1000:.1f} ms" if at is not None else "", class_="hoptime",
                             text_anchor="middle")
                body.append(tag("g", title(f"{hop} -> {phase.hops[i + 1]}: {LABELS[kind]}") + arrow + label,
                                class_=f"hoparrow kind-{kind}"))
    defs = "".join(tag("marker", tag("path", d="M0,0 L10,5 L0,10 z", fill=COLOURS[k]), id=f"fa{index}-{k}",
                       viewBox="0 0 10 10", refX=9, refY=5, markerWidth=6, markerHeight=6, orient="auto")
                   for k in ("plain", "gre", "esp"))
    return svg(width, height, tag("defs", defs) + "".join(body), class_="flowpath",
               data_flow=f"{flow.src}>{flow.dst}")
