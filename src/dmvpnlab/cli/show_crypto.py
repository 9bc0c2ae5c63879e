"""`show crypto isakmp sa`, `show crypto ipsec sa`, `show crypto session`, `clear crypto session`.

IPsec is not implemented yet. These commands exist now with IOS's headers and read an
optional `agent.ipsec` object when it appears; the contract it must meet:
  `isakmp_sas() -> list[dict(dst, src, state, conn_id, status)]`,
  `ipsec_sas() -> list[dict(interface, local, peer, spi_in, spi_out, pkts_encaps, pkts_decaps)]`,
  `clear() -> None`.
Until then they print exactly what IOS prints with no SAs.
"""

from __future__ import annotations

from typing import Any

ISAKMP_HEADER = "dst             src             state          conn-id status"


def _ipsec(agent: Any) -> Any:
    return getattr(agent, "ipsec", None)


def crypto_data(agent: Any) -> dict[str, Any]:
    ipsec = _ipsec(agent)
    return {
        "isakmp_sa": list(ipsec.isakmp_sas()) if ipsec is not None else [],
        "ipsec_sa": list(ipsec.ipsec_sas()) if ipsec is not None else [],
    }


def render_isakmp(data: dict[str, Any]) -> str:
    out = ["IPv4 Crypto ISAKMP SA", ISAKMP_HEADER]
    for sa in data["isakmp_sa"]:
        out.append(f"{sa['dst']:<15} {sa['src']:<15} {sa['state']:<13}{sa['conn_id']:>9} {sa['status']}")
    out += ["", "IPv6 Crypto ISAKMP SA", ""]
    return "\n".join(out) + "\n"


def render_ipsec(data: dict[str, Any]) -> str:
    if not data["ipsec_sa"]:
        return "\nNo SAs found\n"
    out: list[str] = []
    for sa in data["ipsec_sa"]:
        out += [
            "", f"interface: {sa['interface']}",
            f"    Crypto map tag: {sa['interface']}-head-0, local addr {sa['local']}", "",
            "   protected vrf: (none)",
            f"   local  ident (addr/mask/prot/port): ({sa['local']}/255.255.255.255/47/0)",
            f"   remote ident (addr/mask/prot/port): ({sa['peer']}/255.255.255.255/47/0)",
            f"   current_peer {sa['peer']} port 500",
            "     PERMIT, flags={origin_is_acl,}",
            f"    #pkts encaps: {sa.get('pkts_encaps', 0)}, #pkts encrypt: {sa.get('pkts_encaps', 0)}, "
            f"#pkts digest: {sa.get('pkts_encaps', 0)}",
            f"    #pkts decaps: {sa.get('pkts_decaps', 0)}, #pkts decrypt: {sa.get('pkts_decaps', 0)}, "
            f"#pkts verify: {sa.get('pkts_decaps', 0)}", "",
            f"     local crypto endpt.: {sa['local']}, remote crypto endpt.: {sa['peer']}",
            f"     current outbound spi: 0x{int(sa['spi_out']):X}({int(sa['spi_out'])})",
        ]
    return "\n".join(out) + "\n"


def render_session(data: dict[str, Any], agent: Any) -> str:
    out = ["Crypto session current status", ""]
    tunnel = agent.tunnel
    for sa in data["isakmp_sa"]:
        out += [f"Interface: {tunnel.name if tunnel else 'Tunnel0'}",
                f"Session status: {'UP-ACTIVE' if sa['status'] == 'ACTIVE' else 'DOWN-NEGOTIATING'}     ",
                f"Peer: {sa['dst']} port 500 ",
                f"  IKEv1 SA: local {sa['src']}/500 remote {sa['dst']}/500 Active ",
                f"  IPSEC FLOW: permit 47 host {sa['src']} host {sa['dst']} ",
                "        Active SAs: 2, origin: crypto map", ""]
    return "\n".join(out) + "\n"


def clear_sessions(agent: Any) -> str:
    ipsec = _ipsec(agent)
    if ipsec is not None and hasattr(ipsec, "clear"):
        ipsec.clear()
    return ""
