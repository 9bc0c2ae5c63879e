"""`show crypto session [detail]`: one session per peer, its IKE SA and its GRE flow.

A session joins what `show crypto isakmp sa` and `show crypto ipsec sa` show of one peer.
Its status is IOS's: UP-ACTIVE (IKE SA and IPsec SAs up), UP-IDLE (IKE SA only),
UP-NO-IKE (IPsec SAs without an IKE SA, e.g. after the IKE SA expired), DOWN-NEGOTIATING
(an IKE SA not yet in QM_IDLE). `Active SAs` counts each direction of each pair, so one
pair is 2. `detail` adds the peer's VRFs, Phase1_id, the IKE capabilities, conn id and
lifetime, and per direction the packets and drops with the remaining lifetime: exactly
the lines ntc-templates' `cisco_ios_show_crypto_session_detail` reads.
Reads the snapshots through show_crypto (and show_crypto_ipsec's choice of current pair).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.cli.show_crypto import capabilities, hms, ipsec_node, local_and_remote
from dmvpnlab.cli.show_crypto_ipsec import current_pair
from dmvpnlab.ipsec.views import ChildSaView, IkeSaView

DETAIL_CODES = """\
Code: C - IKE Configuration mode, D - Dead Peer Detection
K - Keepalives, N - NAT-traversal, T - cTCP encapsulation
X - IKE Extended Authentication, F - IKE Fragmentation
R - IKE Auto Reconnect, U - IKE Dynamic Route Update
S - SIP VPN"""


def _status(ike: IkeSaView | None, children: list[ChildSaView]) -> str:
    up = ike is not None and ike.status == "ACTIVE"
    if up and children:
        return "UP-ACTIVE"
    if up:
        return "UP-IDLE"
    if children:
        return "UP-NO-IKE"
    return "DOWN-NEGOTIATING" if ike is not None else "DOWN"


def session_data(agent: Any) -> dict[str, Any]:
    node = ipsec_node(agent)
    if node is None:
        return {"sessions": []}
    interface = node.settings.interface
    ikes: dict[IPv4Address, IkeSaView] = {}
    for sa in sorted(node.ike_sas(), key=lambda s: s.conn_id):
        _local, remote = local_and_remote(sa)
        if remote not in ikes or sa.status == "ACTIVE":  # the live SA of a peer wins over a dying one
            ikes[remote] = sa
    children: dict[IPv4Address, list[ChildSaView]] = {}
    for view in node.child_sas():
        children.setdefault(view.peer, []).append(view)
    sessions = []
    for peer in sorted(set(ikes) | set(children)):
        ike, pairs = ikes.get(peer), children.get(peer, [])
        local = local_and_remote(ike)[0] if ike is not None else pairs[0].local
        nat_t = (ike.nat_t if ike is not None else False) or any(v.nat_t for v in pairs)
        current = current_pair(pairs) if pairs else None
        sessions.append({
            "interface": pairs[0].interface if pairs else interface,
            "status": _status(ike, pairs),
            "peer": str(peer), "local": str(local), "port": 4500 if nat_t else 500,
            "ike": None if ike is None else {
                "active": ike.status == "ACTIVE", "conn_id": ike.conn_id,
                "capabilities": capabilities(ike) or "(none)", "lifetime_left": ike.lifetime_left,
            },
            "active_sas": 2 * len(pairs),
            "decrypted": sum(v.counters_in.pkts_decrypt for v in pairs),
            "dropped_in": sum(v.counters_in.recv_errors for v in pairs),
            "encrypted": sum(v.counters_out.pkts_encrypt for v in pairs),
            "dropped_out": sum(v.counters_out.replay_rollover + v.counters_out.expired for v in pairs),
            "life_in": list(current.lifetime_left) if current else [0, 0],
            "life_out": list(current.lifetime_left_out) if current else [0, 0],
        })
    return {"sessions": sessions}


def render_session(data: dict[str, Any], detail: bool = False) -> str:
    out = ["Crypto session current status", ""]
    if detail:
        out += [DETAIL_CODES, ""]
    for s in data["sessions"]:
        port = s["port"]
        out += [f"Interface: {s['interface']}", f"Session status: {s['status']}"]
        if detail:
            out += [f"Peer: {s['peer']} port {port} fvrf: (none) ivrf: (none)",
                    f"      Phase1_id: {s['peer']}", "      Desc: (none)"]
        else:
            out.append(f"Peer: {s['peer']} port {port}")
        out.append("  Session ID: 0")
        ike = s["ike"]
        if ike is not None:
            out.append(f"  IKEv1 SA: local {s['local']}/{port} remote {s['peer']}/{port} "
                       f"{'Active' if ike['active'] else 'Inactive'}")
            if detail:
                out.append(f"          Capabilities:{ike['capabilities']} connid:{ike['conn_id']} "
                           f"lifetime:{hms(ike['lifetime_left'])}")
        if s["active_sas"]:
            out += [f"  IPSEC FLOW: permit 47 host {s['local']} host {s['peer']}",
                    f"        Active SAs: {s['active_sas']}, origin: crypto map"]
            if detail:
                kb_in, sec_in = s["life_in"]
                kb_out, sec_out = s["life_out"]
                out += [f"        Inbound:  #pkts dec'ed {s['decrypted']} drop {s['dropped_in']} "
                        f"life (KB/Sec) {kb_in}/{sec_in}",
                        f"        Outbound: #pkts enc'ed {s['encrypted']} drop {s['dropped_out']} "
                        f"life (KB/Sec) {kb_out}/{sec_out}"]
        out.append("")
    return "\n".join(out) + "\n"
