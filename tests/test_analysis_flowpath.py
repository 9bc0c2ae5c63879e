"""Flow paths from crafted captures: which routers an echo crossed, in order, with the frames.

Each test writes the per-link captures a DMVPN lab would have (`<owner>-<peer>.pcapng`),
echoes built by scapy, GRE by the project's codec, and asks `flow_paths` for the path.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from dmvpnlab.analysis.flowpath import FlowPath, describe_runs, flow_paths, infer_nbma, nothing_seen, runs
from dmvpnlab.analysis.paths import CaptureSet
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, encode_gre

HUB, S1, S2 = "203.0.113.1", "100.64.1.1", "100.64.2.1"
H1, H2 = "192.168.1.10", "192.168.2.10"
NBMA = {IPv4Address(HUB): "hub", IPv4Address(S1): "spoke1", IPv4Address(S2): "spoke2"}
T0 = 1_700_000_000.0


def echo(seq: int, ident: int = 77) -> bytes:
    return bytes(IP(src=H1, dst=H2) / ICMP(type=8, id=ident, seq=seq))


def plain(seq: int, when: float, ident: int = 77):
    frame = Ether() / IP(echo(seq, ident))
    frame.time = when
    return frame


def gre(outer_src: str, outer_dst: str, seq: int, when: float, ident: int = 77):
    frame = Ether() / IP(src=outer_src, dst=outer_dst, proto=47) / Raw(encode_gre(GRE_PROTO_IPV4, echo(seq, ident)))
    frame.time = when
    return frame


def write(directory: Path, link: str, frames: list) -> None:
    frames = sorted(frames, key=lambda f: f.time)
    if frames:
        wrpcap(str(directory / f"{link}.pcapng"), frames)


def via_hub(directory: Path, seq: int, t: float, ident: int = 77) -> dict[str, list]:
    return {"spoke1-h1": [plain(seq, t, ident)], "spoke1-isp": [gre(S1, HUB, seq, t + 0.001, ident)],
            "hub-isp": [gre(S1, HUB, seq, t + 0.002, ident), gre(HUB, S2, seq, t + 0.003, ident)],
            "spoke2-isp": [gre(HUB, S2, seq, t + 0.004, ident)], "spoke2-h2": [plain(seq, t + 0.005, ident)]}


def direct(directory: Path, seq: int, t: float, ident: int = 77) -> dict[str, list]:
    return {"spoke1-h1": [plain(seq, t, ident)], "spoke1-isp": [gre(S1, S2, seq, t + 0.001, ident)],
            "spoke2-isp": [gre(S1, S2, seq, t + 0.002, ident)], "spoke2-h2": [plain(seq, t + 0.003, ident)]}


def lab_captures(directory: Path, *packets: dict[str, list]) -> CaptureSet:
    links: dict[str, list] = {}
    for packet in packets:
        for link, frames in packet.items():
            links.setdefault(link, []).extend(frames)
    for link, frames in links.items():
        write(directory, link, frames)
    return CaptureSet(directory)


def test_an_echo_through_the_hub_crosses_spoke1_hub_spoke2_with_a_frame_per_link(tmp_path):
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0))
    (path,) = flow_paths(seen, H1, H2, nbma=NBMA)
    assert path == ["spoke1", "hub", "spoke2"]
    assert path.links == ["spoke1-h1", "spoke1-isp", "hub-isp", "spoke2-isp", "spoke2-h2"]
    assert [(p.file.name, p.frame) for p in path.frames] == [
        ("spoke1-h1.pcapng", 1), ("spoke1-isp.pcapng", 1), ("hub-isp.pcapng", 1),
        ("hub-isp.pcapng", 2), ("spoke2-isp.pcapng", 1), ("spoke2-h2.pcapng", 1)]
    assert [p.outer for p in path.frames[2:4]] == [f"{S1} -> {HUB}", f"{HUB} -> {S2}"]  # in and out
    assert (path.first, path.last) == (T0, T0 + 0.005) and path.via == "via hub"


def test_after_the_shortcut_the_echo_goes_spoke_to_spoke_and_the_runs_say_so(tmp_path):
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0), *(direct(tmp_path, s, T0 + s) for s in range(2, 11)))
    paths = flow_paths(seen, H1, H2, nbma=NBMA)
    assert [p.seq for p in paths] == list(range(1, 11))
    assert paths[-1] == ["spoke1", "spoke2"] and paths[-1].via == "direct"
    folded = runs(paths)
    assert [(r.path.routers, r.count) for r in folded] == [(["spoke1", "hub", "spoke2"], 1), (["spoke1", "spoke2"], 9)]
    assert describe_runs(folded).startswith("first 1 via hub (spoke1 -> hub -> spoke2), then 9 direct")
    assert [p.frames[1].frame for p in paths] == list(range(1, 11))  # spoke1-isp: one frame per echo


def test_since_drops_earlier_packets_and_ident_picks_one_probe(tmp_path):
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0), direct(tmp_path, 2, T0 + 5))
    assert [p.routers for p in flow_paths(seen, H1, H2, nbma=NBMA, since=T0 + 1)] == [["spoke1", "spoke2"]]
    assert flow_paths(seen, H1, H2, nbma=NBMA, ident=9) == []


def test_nbma_addresses_are_inferred_from_the_capture_names_when_not_given(tmp_path):
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0))
    assert infer_nbma(seen) == NBMA
    (path,) = flow_paths(seen, H1, H2)
    assert path == ["spoke1", "hub", "spoke2"]


def test_the_isp_is_underlay_not_a_hop_even_when_its_own_links_are_captured(tmp_path):
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0), {"isp-hub": [gre(S1, HUB, 1, T0 + 0.0015)]})
    (path,) = flow_paths(seen, H1, H2, nbma=NBMA, routers={"hub", "spoke1", "spoke2"})
    assert path == ["spoke1", "hub", "spoke2"] and "isp-hub" in path.links


def test_nothing_seen_is_an_empty_path_with_a_reason(tmp_path):
    assert "no capture in" in nothing_seen(CaptureSet(tmp_path), H1, H2, 0.0).reason
    seen = lab_captures(tmp_path, via_hub(tmp_path, 1, T0))
    empty = nothing_seen(seen, H2, H1, T0)
    assert not empty and empty == [] and f"no ICMP echo request {H2} -> {H1}" in str(empty)
    assert FlowPath(["a"], []) != ["b"]


def test_an_echo_inside_esp_has_its_path_and_the_spi_in_its_proof(tmp_path):
    from test_analysis_esp_paths import spoke_to_spoke, write_keys

    write_keys(tmp_path)
    spoke_to_spoke(tmp_path)
    (path,) = flow_paths(CaptureSet(tmp_path), H1, H2, nbma=NBMA)
    assert path == ["spoke1", "spoke2"] and path.frames[0].esp_spi == 0x1111
    assert str(path.frames[0]).endswith(f"(GRE {S1} -> {S2}, ESP SPI 0x00001111)")
