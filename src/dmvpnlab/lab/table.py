"""The node table printed after bring-up and by `dmvpnlab status`.

Why its own module: the same rows are printed by `up`, `up --detach`, `status` and the
demo, and are stored in the lab records (so `status` needs neither the topology file nor
the controller). Rows are plain dicts of strings, so they survive JSON unchanged.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from dmvpnlab.lab.management import BRIDGE_NAME
from dmvpnlab.lab.topology.model import ISP_NAME, Topology

COLUMNS = (("name", "Node"), ("role", "Role"), ("nbma", "NBMA address"), ("tunnel", "Tunnel"),
           ("lan", "LAN"), ("hosts", "Hosts"), ("mgmt", "Management"))
STATUS_COLUMNS = COLUMNS + (("pid", "PID"),)


def node_rows(topology: Topology) -> list[dict[str, str]]:
    """Routers (from the model's summary), then NAT boxes, the ISP and the management bridge.

    `mgmt` is where SSH reaches a router (its management address); the bridge's row names
    the management network and this machine's address on it.
    """
    rows = [dict(row) for row in topology.to_summary()]
    for row in rows:
        address = topology.management_address(row["name"])
        row["mgmt"] = str(address.ip) if address is not None else "-"
    for box in topology.nat_boxes:
        rows.append({"name": box.name, "role": "nat", "nbma": f"{box.outside.ip} (outside)",
                     "tunnel": "-", "lan": str(box.inside.network), "hosts": f"({', '.join(box.routers)})"})
    isp_links = len(topology.isp_interfaces())
    rows.append({"name": ISP_NAME, "role": "isp", "nbma": "-", "tunnel": "-",
                 "lan": "-", "hosts": f"{isp_links} links"})
    if topology.managed_routers:
        assert topology.management is not None
        rows.append({"name": BRIDGE_NAME, "role": "management", "nbma": "-", "tunnel": "-",
                     "lan": str(topology.management.network), "hosts": "this machine",
                     "mgmt": str(topology.management.root_address.ip)})
    return rows


def with_pids(rows: Iterable[dict[str, str]], pids: dict[str, int]) -> list[dict[str, str]]:
    return [{**row, "pid": str(pids.get(row["name"], "-"))} for row in rows]


def build_table(rows: list[dict[str, Any]], title: str | None = None, columns=COLUMNS) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for key, heading in columns:
        table.add_column(heading, no_wrap=key in ("name", "nbma", "tunnel", "lan", "mgmt"))
    for row in rows:
        table.add_row(*(str(row.get(key, "")) for key, _ in columns))
    return table


def render_text(rows: list[dict[str, Any]], title: str | None = None, columns=COLUMNS, width: int = 120) -> str:
    """The table as plain text (no colour), for logs, tests and non-terminal output."""
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=_Null())
    console.print(build_table(rows, title, columns))
    return console.export_text()


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
