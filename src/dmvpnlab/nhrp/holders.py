"""Who holds a registration on the NHS, and who may therefore change or remove it.

Why apart: these are the two security rules of the hub's registration table (issue 12),
pure functions of a cache entry and a received packet, so each rule is read, argued and
tested alone; `registrar.Registrar` only applies them. Imports only `nhrp`.

The holder of a registration is identified by the NBMA address it registered from, with
one twist for NAT. Behind NAT the hub sees the NAT's public address (`entry.nbma`),
which the NAT may change at any time (a new port or address after a mapping timeout)
and which several spokes behind one NAT share; what stays with one spoke is the address
it claims inside the packet (`packet.src_nbma`, kept as `entry.claimed_nbma`). So:

- holder behind NAT (the entry has a claimed NBMA): the same holder is the one that
  claims the same NBMA, from whatever public address it now arrives;
- holder not behind NAT: the same holder is the one at the same NBMA.

Known limit: two spokes behind *different* NATs that use the same private address look
like one holder (the hub cannot tell them apart by what the packet says); a spoke
behind a NAT claims whatever it likes, so keying by the claim trusts the shared
authentication string, as the rest of NHRP does.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from dmvpnlab.nhrp.cache import CacheEntry
from dmvpnlab.nhrp.codec import Cie, NhrpPacket


def same_holder(entry: CacheEntry, packet: NhrpPacket, outer_src: IPv4Address) -> bool:
    """True when `packet` (a Registration Request from NBMA `outer_src`) comes from the
    router that holds `entry`, by the rule in the module docstring."""
    if entry.claimed_nbma is not None:
        return packet.src_nbma == entry.claimed_nbma
    return outer_src == entry.nbma


def from_registrant(entry: CacheEntry, packet: NhrpPacket, outer_src: IPv4Address) -> bool:
    """True when a Purge Request for registered `entry` comes from the router that registered it.

    It must arrive from the registered NBMA. Behind NAT that public address may be shared
    by several spokes, so the packet must also be the holder's: it claims the holder's
    NBMA, or it is the holder's own address purging itself.
    """
    if outer_src != entry.nbma:
        return False
    if entry.claimed_nbma is None:
        return True
    return packet.src_nbma == entry.claimed_nbma or packet.src_proto == entry.next_hop


def moved_holder(entry: CacheEntry, packet: NhrpPacket, cie: Cie, outer_src: IPv4Address,
                 known_registrant: bool) -> bool:
    """True when a Purge Request is the holder of `entry` taking back its own stale
    binding after its NBMA address changed (`NhrpEngine.nbma_changed`, a new DHCP lease).

    Why an exception at all: without it the hub keeps the old unique registration and
    refuses the new one with code 14 until the old one expires (IOS behaves so, hence its
    advice of `ip nhrp registration no-unique` for spokes with dynamic addresses). The
    project's spokes purge their old binding first, and the hub takes that when:

    - the packet is the address itself (`src_proto` is the entry's next hop),
    - its CIE names exactly that address and the NBMA it was registered with (the old
      binding: the registered NBMA, or the claimed one behind NAT), and
    - it comes from an NBMA that holds no registration here and held none lately
      (`known_registrant` False). Every spoke sends from the NBMA it registered from, so
      no registered spoke can use this to remove another one, not even by purging its
      own registration first (it stays a known registrant for its holding time).

    What stays possible: a host that never registered here, knows the authentication
    string and learnt the victim's tunnel and NBMA addresses can still purge it, as it
    could register it without the unique flag. Closing that needs per-spoke keys (IPsec).
    """
    return (not known_registrant and packet.src_proto == entry.next_hop
            and (cie.proto or packet.src_proto) == entry.next_hop
            and cie.prefix_len in (0, 32) and cie.nbma is not None
            and cie.nbma in (entry.nbma, entry.claimed_nbma))
