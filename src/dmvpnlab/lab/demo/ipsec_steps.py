"""The demo's IPsec steps on a live lab: they run only when the routers' configs put
`tunnel protection` on the tunnel (`has_protection_lab`), so the default demo is unchanged.

Before the registrations: IKE with every spoke (`show crypto isakmp sa` on the hub, the
ISAKMP exchange on each WAN link) and the first SAs (`show crypto ipsec sa`, their keys
exported). After the Phase 3 story: the spoke-to-spoke SA that carries the direct path,
and the WAN holding only ISAKMP and ESP, every ESP packet decrypting in tshark with the
exported keys. The judging is `ipsec_story`'s; the story's traffic is `nhrp_steps`'
(made once per lab). Imports `items`, `ipsec_story`, `nhrp_steps`, `show`,
`dmvpnlab.analysis.decrypt` and `dmvpnlab.ipsec.keylog` (file names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dmvpnlab.analysis.decrypt import protection_reports
from dmvpnlab.ipsec.keylog import ESP_SA_FILE
from dmvpnlab.lab.demo import ipsec_story, nhrp_steps, story
from dmvpnlab.lab.demo.items import Item, Output

STARTUP_CONFIG = "startup-config"  # lab.agents.CONFIG_FILE: what each agent was started with

_PROTECTED: dict[int, tuple[Any, bool]] = {}


def has_protection_lab(lab: Any) -> bool:
    """Whether any router of the lab was started with `tunnel protection` (read once per lab)."""
    cached = _PROTECTED.get(id(lab))
    if cached is not None and cached[0] is lab:
        return cached[1]
    texts = []
    for router in lab.topology.routers:
        path = Path(lab.records.directory) / router.name / STARTUP_CONFIG
        if router.template and path.is_file():
            texts.append(path.read_text(errors="replace"))
    answer = ipsec_story.has_protection(texts)
    _PROTECTED[id(lab)] = (lab, answer)
    return answer


def _keys_dir(lab: Any) -> Path:
    keys = getattr(lab, "keys_dir", None)
    return Path(keys) if keys is not None else Path(lab.captures.directory)


def _reports(lab: Any) -> dict[str, dict[str, Any]]:
    lab.flush_captures()
    return protection_reports(lab.captures.directory, _keys_dir(lab))


def _esp_sa_lines(lab: Any) -> list[str]:
    try:
        return (_keys_dir(lab) / ESP_SA_FILE).read_text(errors="replace").splitlines()
    except OSError:
        return []


def step_ike(lab: Any) -> list[Item]:
    """The hub completed Main Mode and Quick Mode with every spoke (before any NHRP)."""
    if not lab.agents:
        return [Output("Skipped", "no router agents run in this lab")]
    hub = lab.topology.hub.name
    text = nhrp_steps.cli(lab, hub, "show crypto isakmp sa")
    items: list[Item] = [Output(f"{hub}# show crypto isakmp sa", text.rstrip() or "(nothing)")]
    return items + ipsec_story.ike_story(lab.topology, hub, text, _reports(lab))


def step_first_sa(lab: Any) -> list[Item]:
    """Each spoke's first ESP SA pair with the hub carries its packets, and its keys are exported."""
    if not lab.agents:
        return [Output("Skipped", "no router agents run in this lab")]
    hub = lab.topology.hub.name
    text = nhrp_steps.cli(lab, hub, "show crypto ipsec sa")
    items: list[Item] = [Output(f"{hub}# show crypto ipsec sa", _excerpt(text))]
    return items + ipsec_story.first_sa_story(lab.topology, hub, text, ipsec_story.exported_spis(_esp_sa_lines(lab)))


def step_spoke_to_spoke_sa(lab: Any) -> list[Item]:
    """After the redirect the two spokes negotiated their own SAs; the direct path runs in them."""
    if isinstance(story.story_cast(lab.topology), str):
        return [Output("Skipped", str(story.story_cast(lab.topology)))]
    run = nhrp_steps.story_run(lab)
    isakmp = nhrp_steps.cli(lab, run.requester.name, "show crypto isakmp sa")
    ipsec = nhrp_steps.cli(lab, run.requester.name, "show crypto ipsec sa")
    items: list[Item] = [Output(f"{run.requester.name}# show crypto isakmp sa", isakmp.rstrip() or "(nothing)")]
    return items + ipsec_story.spoke_sa_story(lab.topology, run.requester, run.owner, isakmp, ipsec, run.icmp,
                                              story.last_resolution_reply(run.nhrp, run.since))


def step_wan_only_esp(lab: Any) -> list[Item]:
    """Every WAN capture holds only ISAKMP and ESP, and tshark decrypts every ESP packet."""
    items = ipsec_story.wan_story(lab.topology, _reports(lab))
    example = Path(lab.captures.directory) / f"{lab.topology.hub.name}-{lab.topology.hub.wan.peer}.pcapng"
    items.append(Output("Open them decrypted", decrypt_commands(_keys_dir(lab), example)))
    return items


def decrypt_commands(keys: Path, example: Path, cwd: Path | None = None) -> str:
    """The commands that open a capture decrypted: the key directory is a Wireshark config dir.
    Paths relative to the current directory when below it (what `make demo` users type)."""
    keys, example = _short(keys, cwd), _short(example, cwd)
    return (f"dmvpnlab pcap {example} --decrypt\n"
            f"WIRESHARK_CONFIG_DIR={keys} tshark -r {example}\n"
            f"WIRESHARK_CONFIG_DIR={keys} wireshark {example}")


def _short(path: Path, cwd: Path | None = None) -> Path:
    try:
        return path.relative_to(cwd or Path.cwd())
    except ValueError:
        return path


def _excerpt(text: str, limit: int = 60) -> str:
    """`show crypto ipsec sa` is long: its first peer blocks, cut at `limit` lines."""
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    if len(lines) <= limit:
        return "\n".join(lines) or "(nothing)"
    return "\n".join(lines[:limit] + [f"... ({len(lines) - limit} more lines)"])
