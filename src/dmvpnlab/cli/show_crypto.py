"""`show crypto isakmp sa [detail]`, `clear crypto session|sa`, and what the crypto commands share.

The agent's IPsec node is `agent.ipsec` (None without `tunnel protection`); the CLI reads
only its public face: `ike_sas() -> list[IkeSaView]`, `child_sas() -> list[ChildSaView]`
(ipsec/views.py), `settings -> IpsecSettings`, `counters -> dict[str, int]`,
`clear_session(peer) -> int` and `clear_sa(peer) -> int`. Every renderer works from a
JSON-able dict built once from those snapshots (`| json` is the same data), as
`show dmvpn` does. The other crypto commands are in show_crypto_ipsec.py (ipsec sa, crypto
map) and show_crypto_session.py.

Layout follows IOS 15 (this lab reports version 15.9): `show crypto isakmp sa` is the
reference's table (ios-show-outputs.md); its `detail` form is IOS 15's, whose header reads
`C-id  Local  Remote  I-VRF  Status Encr Hash Auth DH Lifetime Cap.` (12.4T printed
`Conn-id ... fvrf/ivrf` there instead), each SA followed by its `Engine-id:Conn-id` line.
With no IPsec node every command prints what IOS prints with no SA.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.ipsec.views import IkeSaView

ISAKMP_HEADER = "dst             src             state          conn-id status"
DETAIL_CODES = """\
Codes: C - IKE configuration mode, D - Dead Peer Detection
       K - Keepalives, N - NAT-traversal
       T - cTCP encapsulation, X - IKE Extended Authentication
       psk - Preshared key, rsig - RSA signature
       renc - RSA encryption"""
DETAIL_HEADER = "C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap."


def ipsec_node(agent: Any) -> Any:
    """The agent's IPsec node, or None (no `tunnel protection`, or an agent without IPsec).
    With several protected tunnels (each its IKE on its own source), one view of them all."""
    nodes = getattr(agent, "ipsec_nodes", None)
    if isinstance(nodes, list) and len(nodes) > 1:
        return MergedIpsec([node for _name, node in nodes])
    return getattr(agent, "ipsec", None)


class MergedIpsec:
    """The IPsec nodes of several protected tunnels, read as one (show/clear crypto)."""

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes
        self.settings = nodes[0].settings

    def ike_sas(self) -> list[Any]:
        return [sa for node in self.nodes for sa in node.ike_sas()]

    def child_sas(self) -> list[Any]:
        return [view for node in self.nodes for view in node.child_sas()]

    @property
    def counters(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for node in self.nodes:
            for key, value in node.counters.items():
                total[key] = total.get(key, 0) + value
        return total

    def clear_session(self, peer: IPv4Address | None) -> int:
        return sum(node.clear_session(peer) for node in self.nodes)

    def clear_sa(self, peer: IPv4Address | None) -> int:
        return sum(node.clear_sa(peer) for node in self.nodes)


def hms(seconds: float) -> str:
    """hh:mm:ss, as IOS prints key lifetimes (never in days: IKE lifetimes stop at 24 h)."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def local_and_remote(sa: IkeSaView) -> tuple[IPv4Address, IPv4Address]:
    """IOS's dst/src are responder/initiator; sessions want ours and theirs."""
    return (sa.src, sa.dst) if sa.initiator else (sa.dst, sa.src)


def capabilities(sa: IkeSaView) -> str:
    """The `Cap.` letters: D (DPD), N (NAT-T)."""
    return ("D" if sa.dpd else "") + ("N" if sa.nat_t else "")


def _ike_row(sa: IkeSaView) -> dict[str, Any]:
    local, remote = local_and_remote(sa)
    return {
        "dst": str(sa.dst), "src": str(sa.src), "state": sa.state, "conn_id": sa.conn_id,
        "status": sa.status, "initiator": sa.initiator, "local": str(local), "remote": str(remote),
        "encryption": sa.encryption, "hash": sa.hash, "auth": sa.auth, "group": sa.group,
        "lifetime_left": sa.lifetime_left, "capabilities": capabilities(sa),
        "nat_t": sa.nat_t, "dpd": sa.dpd,
    }


def isakmp_data(agent: Any) -> dict[str, Any]:
    node = ipsec_node(agent)
    sas = sorted(node.ike_sas(), key=lambda sa: sa.conn_id) if node is not None else []
    return {"isakmp_sa": [_ike_row(sa) for sa in sas]}


def render_isakmp(data: dict[str, Any]) -> str:
    out = ["IPv4 Crypto ISAKMP SA", ISAKMP_HEADER]
    for sa in data["isakmp_sa"]:
        out.append(f"{sa['dst']:<15} {sa['src']:<15} {sa['state']:<13}{sa['conn_id']:>9} {sa['status']}".rstrip())
    out += ["", "IPv6 Crypto ISAKMP SA", ""]
    return "\n".join(out) + "\n"


def render_isakmp_detail(data: dict[str, Any]) -> str:
    out = [DETAIL_CODES, "IPv4 Crypto ISAKMP SA", "", DETAIL_HEADER, ""]
    for sa in data["isakmp_sa"]:
        row = (f"{sa['conn_id']:<5} {sa['local']:<15} {sa['remote']:<15} {'':<6} {sa['status']:<6} "
               f"{sa['encryption']:<4} {sa['hash']:<6} {sa['auth']:<4} {sa['group'] or '':<2} "
               f"{hms(sa['lifetime_left'])} {sa['capabilities']}")
        out += [row.rstrip(), f"       Engine-id:Conn-id =  SW:{sa['conn_id']}", ""]
    out += ["IPv6 Crypto ISAKMP SA", ""]
    return "\n".join(out) + "\n"


# -- clear ---------------------------------------------------------------------------------


def clear_session(agent: Any, peer: IPv4Address | None) -> str:
    """`clear crypto session [remote X]`: IKE and IPsec SAs go (IOS prints nothing)."""
    node = ipsec_node(agent)
    if node is not None:
        node.clear_session(peer)
    return ""


def clear_sa(agent: Any, peer: IPv4Address | None) -> str:
    """`clear crypto sa [peer X]`: the IPsec SAs go, the IKE SA stays (IOS prints nothing)."""
    node = ipsec_node(agent)
    if node is not None:
        node.clear_sa(peer)
    return ""

