"""Hand-made IKE results for data-plane tests: the two `ChildSaUp`s one Quick Mode gives.

Until the IKE engine runs in a test, the SA pair is built here from real random keys:
what one side seals with (`spi_out`, `keymat_out`), the other opens with (`spi_in`,
`keymat_in`), exactly as Quick Mode hands the same KEYMAT to both ends.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address

from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp


def child_sa_pair(a: IPv4Address, b: IPv4Address, words: str = "esp-aes 256 esp-sha256-hmac", *,
                  spi_ab: int = 0x1000A0B0, spi_ba: int = 0x2000B0A0, seconds: int = 3600,
                  kilobytes: int = 4_608_000, nat_t: bool = False, port_a: int = 500, port_b: int = 500,
                  mode: str = "transport", replaces: tuple[int, int] | None = None) -> tuple[ChildSaUp, ChildSaUp]:
    """(what `a` installs, what `b` installs) for one SA pair between `a` and `b`.

    `spi_ab` protects a -> b (a's outbound, b's inbound), `spi_ba` the other way.
    `replaces` is (a's old spi_in, b's old spi_in) for a rekey."""
    transform = parse_transform(words)
    size = transform.key_lengths().total
    key_ab, key_ba = os.urandom(size), os.urandom(size)
    common = dict(transform=transform, mode=mode, lifetime_seconds=seconds, lifetime_kilobytes=kilobytes,
                  nat_t=nat_t)
    at_a = ChildSaUp(peer=b, spi_in=spi_ba, keymat_in=key_ba, spi_out=spi_ab, keymat_out=key_ab,
                     peer_port=port_b, initiator=True, replaces=replaces[0] if replaces else None, **common)
    at_b = ChildSaUp(peer=a, spi_in=spi_ab, keymat_in=key_ab, spi_out=spi_ba, keymat_out=key_ba,
                     peer_port=port_a, initiator=False, replaces=replaces[1] if replaces else None, **common)
    return at_a, at_b
