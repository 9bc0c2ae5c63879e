"""`show crypto ipsec sa [peer X] [detail]` and `show crypto map`, in IOS 15's layout.

One block per interface (`interface: Tunnel0`, its crypto map tag `Tunnel0-head-0`), one
per peer inside it: the GRE flow (protocol 47, host to host, the two NBMA addresses), the
counters summed over the peer's SA pairs, then every inbound and outbound ESP SA with its
SPI, transform (IOS's show spelling, `esp-256-aes`), mode, conn id, remaining lifetime and
status. After a rekey a peer has several pairs: the newest one not marked REPLACED is the
current outbound SA. `detail` replaces `#send errors, #recv errors` with IOS's failure
counters (replay, verify, invalid SA...) and adds the replay window size: exactly the
lines ntc-templates' `cisco_ios_show_crypto_ipsec_sa_detail` reads.

`show crypto map` prints the dynamic map a `tunnel protection` profile makes: the profile
entry (65536) and one PROFILE INSTANCE per peer (65537...), with the transform sets from
the config. With `shared`, the map is named after the profile, as IOS does.
Reads the snapshots through show_crypto.ipsec_node, and the config model.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dmvpnlab.cli.show_crypto import ipsec_node
from dmvpnlab.cli.show_crypto_config import profile_sets
from dmvpnlab.ipsec.esp import EspCounters
from dmvpnlab.ipsec.esp_transforms import EspTransform, TransformError, parse_transform
from dmvpnlab.ipsec.settings import IPSEC_DEFAULT_LIFETIME_KILOBYTES, IPSEC_DEFAULT_LIFETIME_SECONDS
from dmvpnlab.ipsec.views import ChildSaView

DEFAULT_PATH_MTU = 1500


def map_tag(agent: Any, interface: str) -> str:
    """`Tunnel0-head-0`, or `PROFILE-head-0` for `tunnel protection ... shared`."""
    itf = agent.config.interface(interface)
    tp = itf.tunnel_protection if itf is not None else None
    return f"{tp.profile}-head-0" if tp is not None and tp.shared else f"{interface}-head-0"


def _transform(words: str) -> EspTransform | None:
    try:
        return parse_transform(words)
    except TransformError:
        return None  # a name the view already spells for show


def _underlay(agent: Any, interface: str) -> tuple[str, int]:
    """(name, IP MTU) of the tunnel's source interface: `ip mtu idb` and `path mtu`."""
    itf = agent.config.interface(interface)
    source = itf.tunnel_source if itf is not None else None
    if isinstance(source, str):
        src = agent.config.interface(source)
        return source, (src.ip_mtu if src is not None and src.ip_mtu else DEFAULT_PATH_MTU)
    return (str(source) if source is not None else "unknown"), DEFAULT_PATH_MTU


def _sum(counters: list[EspCounters]) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counters:
        for name, value in c.as_dict().items():
            total[name] = total.get(name, 0) + value
    total["recv_errors"] = sum(c.recv_errors for c in counters)
    return total


def _sa(view: ChildSaView, inbound: bool) -> dict[str, Any]:
    transform = _transform(view.transform)
    kb, sec = view.lifetime_left if inbound else view.lifetime_left_out
    return {
        "spi": view.spi_in if inbound else view.spi_out,
        "transform": transform.show_name if transform is not None else view.transform,
        "iv_size": transform.encryption.iv_size if transform is not None else 0,
        "settings": view.mode.capitalize() + (" UDP-Encaps" if view.nat_t else ""),
        "conn_id": view.conn_id_in if inbound else view.conn_id_out,
        "lifetime_kilobytes": kb, "lifetime_seconds": sec,
        "replay_detection": view.replay_detection, "replay_window": view.replay_window,
        "status": view.state,
    }


def current_pair(views: list[ChildSaView]) -> ChildSaView:
    """The pair a peer's traffic goes out on: the newest one a rekey has not replaced."""
    return next((v for v in reversed(views) if "REPLACED" not in v.state), views[-1])


def _peer_block(agent: Any, views: list[ChildSaView]) -> dict[str, Any]:
    current = current_pair(views)
    transform = _transform(current.transform)
    idb, path_mtu = _underlay(agent, current.interface)
    overhead = transform.max_overhead() + (20 if current.mode.lower() == "tunnel" else 0) if transform else 0
    return {
        "local": str(current.local), "peer": str(current.peer), "port": current.peer_port,
        "pkts_in": _sum([v.counters_in for v in views]), "pkts_out": _sum([v.counters_out for v in views]),
        "path_mtu": path_mtu, "plaintext_mtu": path_mtu - overhead, "ip_mtu_idb": idb,
        "current_outbound_spi": current.spi_out,
        "pfs_group": current.pfs_group,
        "inbound": [_sa(v, True) for v in views], "outbound": [_sa(v, False) for v in views],
    }


def ipsec_data(agent: Any, peer: IPv4Address | None = None) -> dict[str, Any]:
    node = ipsec_node(agent)
    views = [v for v in (node.child_sas() if node is not None else []) if peer is None or v.peer == peer]
    by_interface: dict[str, dict[IPv4Address, list[ChildSaView]]] = {}
    for view in views:
        by_interface.setdefault(view.interface, {}).setdefault(view.peer, []).append(view)
    interfaces = []
    for name, peers in by_interface.items():
        first = next(iter(peers.values()))[0]
        interfaces.append({
            "interface": name, "map_tag": map_tag(agent, name), "local": str(first.local),
            "peers": [_peer_block(agent, peers[p]) for p in sorted(peers)],
        })
    return {"interfaces": interfaces}


def _counter_lines(p: dict[str, Any], detail: bool) -> list[str]:
    i, o = p["pkts_in"], p["pkts_out"]
    out = [
        f"    #pkts encaps: {o['pkts_encaps']}, #pkts encrypt: {o['pkts_encrypt']}, #pkts digest: {o['pkts_digest']}",
        f"    #pkts decaps: {i['pkts_decaps']}, #pkts decrypt: {i['pkts_decrypt']}, #pkts verify: {i['pkts_verify']}",
        "    #pkts compressed: 0, #pkts decompressed: 0",
        "    #pkts not compressed: 0, #pkts compr. failed: 0",
        "    #pkts not decompressed: 0, #pkts decompress failed: 0",
    ]
    if not detail:
        return out + [f"    #send errors {o['replay_rollover'] + o['expired']}, #recv errors {i['recv_errors']}"]
    return out + [
        f"    #pkts no sa (send) 0, #pkts invalid sa (rcv) {i['invalid_sa']}",
        f"    #pkts encaps failed (send) {o['expired']}, #pkts decaps failed (rcv) {i['bad_padding'] + i['expired']}",
        f"    #pkts invalid prot (recv) 0, #pkts verify failed: {i['verify_failed']}",
        f"    #pkts invalid identity (recv) 0, #pkts invalid len (rcv) {i['invalid_len']}",
        f"    #pkts replay rollover (send): {o['replay_rollover']}, #pkts replay rollover (rcv) 0",
        f"    ##pkts replay failed (rcv): {i['replay_failed']}",  # sic: IOS prints two #
        "    #pkts tagged (send): 0, #pkts untagged (rcv): 0",
        "    #pkts not tagged (send): 0, #pkts not untagged (rcv): 0",
        "    #pkts internal err (send): 0, #pkts internal err (recv) 0",
    ]


def _sa_lines(sa: dict[str, Any], tag: str, detail: bool) -> list[str]:
    replay = "Y" if sa["replay_detection"] else "N"
    if detail:
        replay += f"  replay window size: {sa['replay_window']}"
    return [
        f"      spi: 0x{sa['spi']:X}({sa['spi']})",
        f"        transform: {sa['transform']} ,",
        f"        in use settings ={{{sa['settings']}, }}",
        f"        conn id: {sa['conn_id']}, flow_id: SW:{sa['conn_id']}, sibling_flags 80000040, crypto map: {tag}",
        f"        sa timing: remaining key lifetime (k/sec): ({sa['lifetime_kilobytes']}/{sa['lifetime_seconds']})",
        *([f"        IV size: {sa['iv_size']} bytes"] if sa["iv_size"] else []),
        f"        replay detection support: {replay}",
        f"        Status: {sa['status']}",
        "",
    ]


def render_ipsec(data: dict[str, Any], detail: bool = False) -> str:
    if not data["interfaces"]:
        return "\nNo SAs found\n"
    out: list[str] = []
    for itf in data["interfaces"]:
        tag = itf["map_tag"]
        out += ["", f"interface: {itf['interface']}", f"    Crypto map tag: {tag}, local addr {itf['local']}"]
        for p in itf["peers"]:
            pfs = f"Y, DH group: group{p['pfs_group']}" if p["pfs_group"] else "N, DH group: none"
            out += [
                "", "   protected vrf: (none)",
                f"   local  ident (addr/mask/prot/port): ({p['local']}/255.255.255.255/47/0)",
                f"   remote ident (addr/mask/prot/port): ({p['peer']}/255.255.255.255/47/0)",
                f"   current_peer {p['peer']} port {p['port']}",
                "     PERMIT, flags={origin_is_acl,}",
                *_counter_lines(p, detail), "",
                f"     local crypto endpt.: {p['local']}, remote crypto endpt.: {p['peer']}",
                f"     plaintext mtu {p['plaintext_mtu']}, path mtu {p['path_mtu']}, ip mtu {p['path_mtu']}, "
                f"ip mtu idb {p['ip_mtu_idb']}",
                f"     current outbound spi: 0x{p['current_outbound_spi']:X}({p['current_outbound_spi']})",
                f"     PFS (Y/N): {pfs}", "",
                "     inbound esp sas:",
            ]
            for sa in p["inbound"]:
                out += _sa_lines(sa, tag, detail)
            out += ["     inbound ah sas:", "", "     inbound pcp sas:", "", "     outbound esp sas:"]
            for sa in p["outbound"]:
                out += _sa_lines(sa, tag, detail)
            out += ["     outbound ah sas:", "", "     outbound pcp sas:"]
    return "\n".join(out) + "\n"


# -- show crypto map -------------------------------------------------------------------------


def map_data(agent: Any) -> dict[str, Any]:
    """The profile map of every protected tunnel, and its per-peer instances."""
    node = ipsec_node(agent)
    views = node.child_sas() if node is not None else []
    maps = []
    for itf in agent.config.tunnels:
        tp = itf.tunnel_protection
        profile = agent.config.ipsec_profile(tp.profile) if tp is not None else None
        if profile is None:
            continue
        sets = profile_sets(agent.config, profile)
        peers = sorted({(v.peer, v.local) for v in views if v.interface == itf.name})
        maps.append({
            "tag": map_tag(agent, itf.name), "interface": itf.name, "profile": profile.name,
            "lifetime_kilobytes": (profile.lifetime_kilobytes or agent.config.ipsec_lifetime_kilobytes
                                   or IPSEC_DEFAULT_LIFETIME_KILOBYTES),
            "lifetime_seconds": (profile.lifetime_seconds or agent.config.ipsec_lifetime_seconds
                                 or IPSEC_DEFAULT_LIFETIME_SECONDS),
            "pfs": profile.pfs, "transform_sets": sets,
            "instances": [{"peer": str(peer), "local": str(local)} for peer, local in peers],
        })
    return {"maps": maps}


def _map_body(m: dict[str, Any]) -> list[str]:
    pfs = ["\tPFS (Y/N): N"] if not m["pfs"] else ["\tPFS (Y/N): Y", f"\tDH group:  {m['pfs']}"]
    return [
        f"\tSecurity association lifetime: {m['lifetime_kilobytes']} kilobytes/{m['lifetime_seconds']} seconds",
        "\tResponder-Only (Y/N): N",
        *pfs,
        "\tTransform sets={ ",
        *(f"\t\t{ts['name']}:  {{ {ts['transforms']}  }} , " for ts in m["transform_sets"]),
        "\t}",
    ]


def render_map(data: dict[str, Any]) -> str:
    out: list[str] = []
    for m in data["maps"]:
        out += ["", f'Crypto Map "{m["tag"]}" 65536 ipsec-isakmp', f"\tProfile name: {m['profile']}",
                *_map_body(m)]
        for n, inst in enumerate(m["instances"], start=65537):
            out += ["", f'Crypto Map "{m["tag"]}" {n} ipsec-isakmp', "\tMap is a PROFILE INSTANCE.",
                    f"\tPeer = {inst['peer']}", "\tExtended IP access list ",
                    f"\t    access-list  permit gre host {inst['local']} host {inst['peer']}",
                    f"\tCurrent peer: {inst['peer']}", *_map_body(m)]
        out += [f"\tInterfaces using crypto map {m['tag']}:", f"\t\t{m['interface']}", ""]
    return "\n".join(out) + "\n" if out else "\n"
