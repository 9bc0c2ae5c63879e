"""Link conditioning (CML's bandwidth, loss, delay, jitter) as shell commands per veth end.

Why these tools: this kernel has tc with tbf/htb but no netem (checked in a namespace:
`tc qdisc add ... netem` answers "Specified qdisc kind is unknown"), and nftables with
`numgen random` and the netdev ingress hook. So, on each end of a conditioned link, in the
namespace of the node that owns that end:

- bandwidth: a `tbf` root qdisc shaping what that end sends (so each direction is shaped);
- loss: an nftables rule in table `dmvpnlab_link` (netdev family, ingress hook of the
  interface) `numgen random mod 100 < N drop`: what arrives on that end is lost at N %,
  so each direction of the link loses N %. On ingress, not egress: a packet dropped on
  egress is an error its sender sees (sendmsg answers ENOBUFS: ping stops counting it as
  sent, an agent's GRE send fails), a packet lost on a wire is not. The price: the
  receiving end's capture taps run before the ingress hook, so a capture on that end
  still shows the packet the link then lost;
- delay and jitter: netem where the kernel has it (`netem=True`, then tbf hangs below it),
  else not applied, and `not_applied` says so in one line per link.

Pure: builds command strings and sentences; the wired builder runs them.
"""

from __future__ import annotations

import math
import shlex

from dmvpnlab.lab.wired.model import Conditioning, WiredLink

NFT_TABLE = "dmvpnlab_link"
# tbf needs a bucket of at least one full frame; 10 ms worth of the rate otherwise.
MIN_BURST_BYTES = 2048
TBF_LATENCY_MS = 100


def burst_bytes(kbps: int) -> int:
    return max(MIN_BURST_BYTES, kbps * 1000 // 8 // 100)


def loss_threshold(percent: float) -> int:
    """`numgen random mod 100 < N`: N whole percent (CML allows decimals; rounded, at least 1
    for a non-zero loss so a configured loss never silently becomes none)."""
    if percent <= 0:
        return 0
    return min(100, max(1, int(percent + 0.5)))


def _chain(ifname: str) -> str:
    """One ingress chain per interface (names may carry '-' and '.', so a mangled chain name)."""
    return "in_" + "".join(c if c.isalnum() else "_" for c in ifname)


def commands(ifname: str, cond: Conditioning | None, netem: bool = False) -> list[str]:
    """Shell commands (in the namespace owning `ifname`): shape what it sends, drop what it receives."""
    if cond is None:
        return []
    q = shlex.quote(ifname)
    out: list[str] = []
    delay = bool(netem and (cond.delay_ms or cond.jitter_ms))
    parent = "root"
    if delay:
        spec = f"delay {cond.delay_ms or 0:g}ms"
        if cond.jitter_ms:
            spec += f" {cond.jitter_ms:g}ms"
        out.append(f"tc qdisc replace dev {q} root handle 1: netem {spec}")
        parent = "parent 1:"
    if cond.bandwidth_kbps:
        kbps = cond.bandwidth_kbps
        out.append(f"tc qdisc replace dev {q} {parent} handle 2: tbf rate {kbps}kbit "
                   f"burst {burst_bytes(kbps)} latency {TBF_LATENCY_MS}ms")
    threshold = loss_threshold(cond.loss_percent or 0)
    if threshold:
        chain = _chain(ifname)
        out.append(f"nft add table netdev {NFT_TABLE}")
        out.append(f"nft 'add chain netdev {NFT_TABLE} {chain} "
                   f"{{ type filter hook ingress device \"{ifname}\" priority 0 ; policy accept ; }}'")
        out.append(f"nft add rule netdev {NFT_TABLE} {chain} numgen random mod 100 '<' {threshold} counter drop")
    return out


def describe(cond: Conditioning | None) -> str:
    """What the file asks for, in words (for the `up` output)."""
    if cond is None:
        return "none"
    parts = []
    if cond.bandwidth_kbps:
        parts.append(f"bandwidth {cond.bandwidth_kbps} kbps")
    if cond.loss_percent:
        parts.append(f"loss {cond.loss_percent:g} %")
    if cond.delay_ms:
        parts.append(f"delay {cond.delay_ms:g} ms")
    if cond.jitter_ms:
        parts.append(f"jitter {cond.jitter_ms:g} ms")
    return ", ".join(parts) or "none"


def not_applied(link: WiredLink, netem: bool = False) -> str | None:
    """One line saying what of the link's conditioning this kernel cannot apply, or None."""
    cond = link.conditioning
    if cond is None or netem:
        return None
    missing = []
    if cond.delay_ms:
        missing.append(f"delay {cond.delay_ms:g} ms")
    if cond.jitter_ms:
        missing.append(f"jitter {cond.jitter_ms:g} ms")
    if not missing:
        return None
    applied = [p for p in (f"bandwidth {cond.bandwidth_kbps} kbps" if cond.bandwidth_kbps else "",
                           f"loss {cond.loss_percent:g} %" if cond.loss_percent else "") if p]
    rest = f" ({' and '.join(applied)} applied)" if applied else ""
    return (f"link {link.id} ({link.a.node} {link.a.interface} - {link.b.node} {link.b.interface}): "
            f"{' and '.join(missing)} not applied, this kernel has no netem{rest}")


def rounded_loss_note(link: WiredLink) -> str | None:
    """A line when a fractional loss is rounded to whole percent."""
    cond = link.conditioning
    if cond is None or not cond.loss_percent:
        return None
    threshold = loss_threshold(cond.loss_percent)
    if math.isclose(threshold, cond.loss_percent):
        return None
    return f"link {link.id}: loss {cond.loss_percent:g} % applied as {threshold} %"
