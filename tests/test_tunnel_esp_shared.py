"""`tunnel protection ... shared`: a second tunnel's GRE rides the first tunnel's SAs.

Two ends with one SA pair; at each end Tunnel0 owns the ESP transport (key 12345, the
seed's) and Tunnel1 is a `SharedEspView` with key 200. What either tunnel sends goes out
on the one SA; what is opened lands at the tunnel whose key it carries, opened once.
"""

from __future__ import annotations

from test_tunnel_esp_transport import A, B, KEY, carry, ends

from dmvpnlab.tunnel.esp_shared import SharedEspView
from dmvpnlab.tunnel.gre import GRE_PROTO_IPV4, GRE_PROTO_NHRP


def test_both_tunnels_share_one_sa_and_the_gre_key_says_whose_packet_it_is():
    a, b = ends()
    a1, b1 = SharedEspView(a.transport, 200), SharedEspView(b.transport, 200)
    assert a.transport.siblings == {200: a1}
    assert a1.send(GRE_PROTO_NHRP, b"tunnel1 registration", B)
    assert a.transport.send(GRE_PROTO_NHRP, b"tunnel0 registration", B)
    spis = {int.from_bytes(esp[:4], "big") for esp, _address in a.esp.sent}
    assert spis == {a.transport.sadb.outbound[B].spi}  # one SA for both tunnels
    assert carry(a, b) == [(str(A), GRE_PROTO_NHRP, b"tunnel0 registration")]
    assert list(b1.receive()) == [(str(A), GRE_PROTO_NHRP, b"tunnel1 registration")]
    assert b.transport.counters.drops == {} and (b1.counters.gre_in, a1.counters.gre_out) == (1, 1)


def test_the_fast_path_of_the_shared_tunnel_uses_the_owners_handles():
    a, b = ends()
    a1, b1 = SharedEspView(a.transport, 200), SharedEspView(b.transport, 200)
    a1.send_gre(a1.header(GRE_PROTO_IPV4) + b"data", a1.peer(B))
    assert carry(a, b) == [] and list(b1.receive()) == [(str(A), GRE_PROTO_IPV4, b"data")]


def test_a_key_no_tunnel_has_is_the_owners_key_mismatch_and_closing_a_view_forgets_it():
    a, b = ends()
    a1 = SharedEspView(a.transport, 200)
    b1 = SharedEspView(b.transport, 200)
    b1.close()
    assert b.transport.siblings == {}
    a1.send(GRE_PROTO_IPV4, b"x", B)
    assert carry(a, b) == []
    assert b.transport.counters.drops == {"tunnel key mismatch": 1}
    assert KEY != 200
