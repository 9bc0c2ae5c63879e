"""Reading charon's file log as values (no namespaces, no charon: runs everywhere).

The interop tests compare our keys with what charon printed; a parser that misread a
hex dump would make them compare garbage, so the parser is pinned here on lines in the
exact shape charon 5.9.8 writes them (time, thread, group, label "=> N bytes @ addr",
then 16-byte rows "   0: AA BB ...  ascii").
"""

from __future__ import annotations

import pytest

from tests.interop.strongswan import ESTABLISHED_IKE, SwanConn, established_child_spis, logged_chunk

LOG = """\
12:35:55 09[IKE] SKEYID_e => 20 bytes @ 0x7f875c005a40
12:35:55 09[IKE]    0: CC 9D 74 AE F9 4A 81 CC 9E 8C 23 3A 29 5E C8 10  ..t..J....#:)^..
12:35:55 09[IKE]   16: F8 73 66 1E                                      .sf.
12:35:55 09[IKE] encryption key Ka => 16 bytes @ 0x7f875c005a40
12:35:55 09[IKE]    0: CC 9D 74 AE F9 4A 81 CC 9E 8C 23 3A 29 5E C8 10  ..t..J....#:)^..
12:35:55 09[IKE] IKE_SA dmvpn[1] established between 192.0.2.1[192.0.2.1]...192.0.2.2[192.0.2.2]
12:35:55 08[CHD] encryption initiator key => 16 bytes @ 0x7f8768008810
12:35:55 08[CHD]    0: 6C 80 21 3B E0 35 30 DB 32 8F 22 D3 F4 B3 D2 87  l.!;.50.2.".....
12:35:55 08[IKE] CHILD_SA gre{1} established with SPIs d4f9bf34_i 851d8e5d_o and TS 192.0.2.1/32[gre] === 192.0.2.2/32[gre]
12:36:05 08[CHD] encryption initiator key => 16 bytes @ 0x7f8768008811
12:36:05 08[CHD]    0: 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF  .."3DUfw........
12:36:05 08[IKE] CHILD_SA gre{2} established with SPIs 00000101_i ffffffff_o and TS 192.0.2.1/32[gre] === 192.0.2.2/32[gre]
"""


def test_a_chunk_spanning_two_rows_is_read_whole_and_only_to_its_length() -> None:
    assert logged_chunk(LOG, "SKEYID_e") == bytes.fromhex("CC9D74AEF94A81CC9E8C233A295EC810F873661E")


def test_the_ascii_column_is_not_read_as_hex() -> None:
    assert logged_chunk(LOG, "encryption key Ka") == bytes.fromhex("CC9D74AEF94A81CC9E8C233A295EC810")


def test_repeated_labels_are_picked_by_occurrence_last_by_default() -> None:
    assert logged_chunk(LOG, "encryption initiator key", 0) == bytes.fromhex("6C80213BE03530DB328F22D3F4B3D287")
    assert logged_chunk(LOG, "encryption initiator key") == bytes(range(0, 256, 17))


def test_a_label_charon_never_printed_is_an_error_not_empty_bytes() -> None:
    with pytest.raises(AssertionError, match="no 'integrity initiator key'"):
        logged_chunk(LOG, "integrity initiator key")


def test_established_lines_give_addresses_and_spis() -> None:
    m = ESTABLISHED_IKE.search(LOG)
    assert m and (m.group(1), m.group(3), m.group(5)) == ("dmvpn", "192.0.2.1", "192.0.2.2")
    assert established_child_spis(LOG) == [(0xD4F9BF34, 0x851D8E5D), (0x101, 0xFFFFFFFF)]


def test_the_connection_is_ikev1_psk_with_gre_selectors_and_ios_lifetimes() -> None:
    from ipaddress import IPv4Address

    conf = SwanConn(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), "k", mode="transport").swanctl_conf()
    for line in ("version = 1", "auth = psk", "mode = transport", "local_ts = dynamic[gre]",
                 "remote_ts = dynamic[gre]", "reauth_time = 86400s", "life_time = 3600s", 'secret = "k"'):
        assert line in conf
