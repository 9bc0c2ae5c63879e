"""`tunnel protection ipsec profile X shared`: several tunnels over one source, one set of SAs.

Why: dual-cloud DMVPN over one WAN interface has Tunnel0 and Tunnel1 with the same
`tunnel source` and different `tunnel key`s. IOS then protects both with one crypto
socket (`shared`): the SAs are per NBMA peer (ESP transport mode between the two
NBMA addresses), not per tunnel, and the GRE key inside the ESP tells whose packet it is.
So the first such tunnel's `EspTransport` is the owner of the sockets, the SA database
and IKE's route to each peer; every further tunnel gets a `SharedEspView`, a transport
of its own key over the owner's SAs:

- send: the view frames GRE with its key and hands it to the owner's peer handles (the
  same SA, the same queue while IKE runs);
- receive: the owner opens every ESP packet once (one replay window per SA); GRE whose
  key is a view's is handed to that view (`deliver`), which yields it when its tunnel
  drains; the agent drains the views after the owner (`EspTransport.siblings`).

Imports the GRE framing and the ESP transport of `tunnel` only.
"""

from __future__ import annotations

from collections import deque
from ipaddress import IPv4Address
from typing import Any, Callable, Iterator

from dmvpnlab.tunnel.esp_transport import EspTransport
from dmvpnlab.tunnel.transport import GreFraming, Received, TunnelCounters

INBOX_LIMIT = 4096


class SharedEspView(GreFraming):
    """The Transport of a tunnel whose ESP is another tunnel's (`owner`), see module doc."""

    def __init__(self, owner: EspTransport, key: int | None) -> None:
        self.owner = owner
        self.counters = TunnelCounters()
        self._inbox: deque[Received] = deque()
        self.send_gre: Callable[[bytes, Any], None] = owner.send_gre
        self.set_key(key)

    def set_key(self, key: int | None) -> None:
        old = getattr(self, "key", None)
        super().set_key(key)
        siblings = self.owner.siblings
        if siblings.get(old) is self:
            del siblings[old]
        siblings[key] = self

    # --- the Transport protocol -----------------------------------------------------

    def peer(self, nbma: IPv4Address) -> Any:
        return self.owner.peer(nbma)

    def send(self, proto: int, payload: bytes, nbma: IPv4Address) -> bool:
        gre = self.header(proto) + payload
        try:
            self.owner.send_gre(gre, self.owner.peer(nbma))
        except OSError:
            self.counters.drops["send failed"] += 1
            return False
        self._count_sent(gre)
        return True

    def deliver(self, src: str, proto: int, payload: bytes, size: int) -> None:
        """GRE with our key that the owner opened: ours to yield on the next `receive`."""
        if len(self._inbox) >= INBOX_LIMIT:
            self.counters.drops["shared inbox overflow"] += 1
            return
        self.counters.gre_in += 1
        self.counters.bytes_in += size
        self._inbox.append((src, proto, payload))

    def receive(self) -> Iterator[Received]:
        inbox = self._inbox
        while inbox:
            yield inbox.popleft()

    def fileno(self) -> int:
        return -1

    def filenos(self) -> list[int]:
        """None: the owner's sockets are read by the owner's tunnel, which drains us after."""
        return []

    def close(self) -> None:
        siblings = self.owner.siblings
        if siblings.get(self.key) is self:
            del siblings[self.key]
        self._inbox.clear()
