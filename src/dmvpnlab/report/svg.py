"""Tiny SVG/HTML writing helpers and the report's colours, shared by every drawing.

Why hand-written SVG: the report is one offline file; a plotting library would add a
dependency and scripts or fonts to inline. The drawings are boxes, lines and text.
"""

from __future__ import annotations

from html import escape
from typing import Any

#: What crossed a link or an arrow, and the colour it is drawn in (legend order).
COLOURS = {"nhrp": "#e8710a", "gre": "#1a73e8", "esp": "#8430ce", "isakmp": "#12a4af", "plain": "#9aa0a6",
           "none": "#dadce0"}
LABELS = {"nhrp": "NHRP", "gre": "GRE data", "esp": "ESP (IPsec)", "isakmp": "ISAKMP/IKE", "plain": "plain IP",
          "none": "nothing captured"}
ROLE_FILL = {"hub": "#174ea6", "spoke": "#1e8e3e", "router": "#5f6368", "host": "#ffffff", "nat": "#f9ab00",
             "isp": "#e8eaed", "bridge": "#e8eaed", "?": "#f1f3f4"}


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def attrs(**items: Any) -> str:
    """` name="value"` pairs; a trailing underscore is dropped (class_), other underscores become dashes."""
    parts = []
    for key, value in items.items():
        if value is None:
            continue
        name = key[:-1] if key.endswith("_") else key.replace("_", "-")
        parts.append(f' {name}="{esc(value)}"')
    return "".join(parts)


def tag(name: str, body: str = "", **items: Any) -> str:
    if body:
        return f"<{name}{attrs(**items)}>{body}</{name}>"
    return f"<{name}{attrs(**items)}/>"


def text(x: float, y: float, content: str, **items: Any) -> str:
    return f"<text{attrs(x=round(x, 1), y=round(y, 1), **items)}>{esc(content)}</text>"


def title(content: str) -> str:
    """A hover tooltip (SVG <title>) for the element it is placed in."""
    return f"<title>{esc(content)}</title>"


def svg(width: float, height: float, body: str, **items: Any) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg"{attrs(width=round(width), height=round(height), **items)}'
            f' viewBox="0 0 {round(width)} {round(height)}">{body}</svg>')


def seconds(value: float) -> str:
    """A relative time as the report prints it: 12.345 s."""
    return f"{value:.3f} s"
