"""Wireshark key tables: the lines the agents write for every SA, as tshark 4.0 reads them.

Formats are checked two ways: against the exact text Wireshark's UAT files hold (quoted
esp_sa fields, bare-hex IKEv1 fields), and by tshark itself loading the files without a
table error (it refuses a bad cookie length or a quoted hex field). Decryption of real
ESP with these lines is in test_analysis_decrypt.py. Several processes append to one
directory at once: lines stay whole and each appears once.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dmvpnlab.ipsec.esp_transforms import parse_transform
from dmvpnlab.ipsec.events import ChildSaUp, IkeSaUp
from dmvpnlab.ipsec.keylog import (ESP_SA_FILE, IKEV1_FILE, PREFERENCES_FILE, KeyLog, esp_sa_line, ikev1_line)

HUB, SPOKE = IPv4Address("203.0.113.1"), IPv4Address("198.51.100.2")


def child_sa(transform: str = "esp-aes 256 esp-sha256-hmac", *, peer: IPv4Address = SPOKE,
             spi_in: int = 0x11111111, spi_out: int = 0x22222222, nat_t: bool = False) -> ChildSaUp:
    t = parse_transform(transform)
    n = t.key_lengths().total
    return ChildSaUp(peer=peer, transform=t, mode="transport", spi_in=spi_in, keymat_in=bytes([0xA1]) * n,
                     spi_out=spi_out, keymat_out=bytes([0xB2]) * n, lifetime_seconds=3600,
                     lifetime_kilobytes=4608000, nat_t=nat_t, peer_port=4500 if nat_t else 500, initiator=True)


def ike_sa(cookie: bytes = bytes.fromhex("0123456789abcdef")) -> IkeSaUp:
    return IkeSaUp(peer=SPOKE, cookie_i=cookie, cookie_r=bytes(8), encryption_key=bytes(range(32)),
                   conn_id=1001, initiator=False, nat_t=False)


def test_esp_sa_line_is_wiresharks_uat_record_with_its_algorithm_names():
    t = parse_transform("esp-aes 256 esp-sha256-hmac")
    line = esp_sa_line(HUB, SPOKE, 0x1000ABCD, t, bytes(range(64)))
    assert line == ('"IPv4","203.0.113.1","198.51.100.2","0x1000abcd","AES-CBC [RFC3602]",'
                    f'"0x{bytes(range(32)).hex()}","HMAC-SHA-256-128 [RFC4868]","0x{bytes(range(32, 64)).hex()}"')


@pytest.mark.parametrize("words, encryption, authentication, enc_len, auth_len", [
    ("esp-aes esp-sha-hmac", "AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]", 16, 20),
    ("esp-3des esp-md5-hmac", "TripleDES-CBC [RFC2451]", "HMAC-MD5-96 [RFC2403]", 24, 16),
    ("esp-aes 192 esp-sha384-hmac", "AES-CBC [RFC3602]", "HMAC-SHA-384-192 [RFC4868]", 24, 48),
    ("esp-aes 128 esp-sha512-hmac", "AES-CBC [RFC3602]", "HMAC-SHA-512-256 [RFC4868]", 16, 64),
    ("esp-gcm 128", "AES-GCM with 16 octet ICV [RFC4106]", "NULL", 20, 0),  # key + 4-byte salt
    ("esp-gcm 256", "AES-GCM with 16 octet ICV [RFC4106]", "NULL", 36, 0),
    ("esp-null esp-sha-hmac", "NULL", "HMAC-SHA-1-96 [RFC2404]", 0, 20),
])
def test_every_transform_gets_the_name_and_key_lengths_wireshark_takes(words, encryption, authentication,
                                                                       enc_len, auth_len):
    t = parse_transform(words)
    fields = esp_sa_line(HUB, SPOKE, 0x100, t, bytes(t.key_lengths().total)).split(",")
    assert [f.strip('"') for f in (fields[0], fields[3], fields[4], fields[6])] == \
        ["IPv4", "0x00000100", encryption, authentication]
    enc_key, auth_key = fields[5].strip('"'), fields[7].strip('"')
    assert len(enc_key) == (2 + 2 * enc_len if enc_len else 0)
    assert len(auth_key) == (2 + 2 * auth_len if auth_len else 0)


def test_ikev1_line_is_bare_hex_cookie_and_key():
    assert ikev1_line(bytes.fromhex("0123456789abcdef"), bytes.fromhex("00ff")) == "0123456789abcdef,00ff"
    with pytest.raises(ValueError):
        ikev1_line(b"short", b"\x00")


def test_child_sa_writes_outbound_then_inbound_with_each_directions_spi_and_key(tmp_path):
    log = KeyLog(tmp_path)
    event = child_sa()
    assert log.child_sa(event, HUB) == 2
    out_line, in_line = (tmp_path / ESP_SA_FILE).read_text().splitlines()
    assert out_line.startswith('"IPv4","203.0.113.1","198.51.100.2","0x22222222"')
    assert ("b2" * 32) in out_line and ("a1" * 32) not in out_line
    assert in_line.startswith('"IPv4","198.51.100.2","203.0.113.1","0x11111111"')
    assert ("a1" * 32) in in_line


def test_both_ends_of_one_sa_write_each_line_once_and_old_keys_stay(tmp_path):
    hub, spoke = KeyLog(tmp_path), KeyLog(tmp_path)  # two agents, one lab directory
    first = child_sa()
    hub.child_sa(first, HUB)
    mirrored = ChildSaUp(**{**first.__dict__, "peer": HUB, "spi_in": first.spi_out, "keymat_in": first.keymat_out,
                            "spi_out": first.spi_in, "keymat_out": first.keymat_in, "initiator": False})
    assert spoke.child_sa(mirrored, SPOKE) == 0  # the spoke's view is the same two lines
    rekey = child_sa(spi_in=0x33333333, spi_out=0x44444444)
    assert hub.child_sa(rekey, HUB) == 2
    lines = (tmp_path / ESP_SA_FILE).read_text().splitlines()
    assert [line.split(",")[3] for line in lines] == ['"0x22222222"', '"0x11111111"', '"0x44444444"', '"0x33333333"']
    hub.ike_sa(ike_sa())
    spoke.ike_sa(ike_sa())
    assert (tmp_path / IKEV1_FILE).read_text() == f"0123456789abcdef,{bytes(range(32)).hex()}\n"


def test_nat_t_sa_adds_wildcard_address_lines_that_match_both_sides_of_the_nat(tmp_path):
    KeyLog(tmp_path).child_sa(child_sa(nat_t=True, peer=IPv4Address("203.0.113.50")), HUB)
    lines = (tmp_path / ESP_SA_FILE).read_text().splitlines()
    assert len(lines) == 4
    assert [line.split(",")[1:4] for line in lines[2:]] == [['"*"', '"*"', '"0x22222222"'],
                                                             ['"*"', '"*"', '"0x11111111"']]
    assert lines[2].split(",")[4:] == lines[0].split(",")[4:]


def test_directory_is_a_wireshark_config_dir_with_decryption_preferences(tmp_path):
    KeyLog(tmp_path / "captures" / "lab")
    prefs = (tmp_path / "captures" / "lab" / PREFERENCES_FILE).read_text()
    assert "esp.enable_encryption_decode: TRUE" in prefs
    assert "esp.enable_authentication_check: TRUE" in prefs
    (tmp_path / "captures" / "lab" / PREFERENCES_FILE).write_text("# user's own\n")
    KeyLog(tmp_path / "captures" / "lab")  # a second agent leaves it alone
    assert (tmp_path / "captures" / "lab" / PREFERENCES_FILE).read_text() == "# user's own\n"


def _writer(directory: str, worker: int, count: int) -> None:
    log = KeyLog(directory)
    for i in range(count):
        log.child_sa(child_sa(spi_in=0x10000 + worker * 1000 + i, spi_out=0x900000 + i), HUB)  # spi_out shared
        log.ike_sa(ike_sa(cookie=(worker * 1000 + i).to_bytes(8, "big")))


def test_several_processes_append_whole_lines_each_once(tmp_path):
    workers, count = 4, 150
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    esp = (tmp_path / ESP_SA_FILE).read_text().splitlines()
    expected = {esp_sa_line(HUB, SPOKE, 0x900000 + i, parse_transform("esp-aes 256 esp-sha256-hmac"),
                            bytes([0xB2]) * 64) for i in range(count)}
    expected |= {esp_sa_line(SPOKE, HUB, 0x10000 + w * 1000 + i, parse_transform("esp-aes 256 esp-sha256-hmac"),
                             bytes([0xA1]) * 64) for w in range(workers) for i in range(count)}
    assert len(esp) == len(set(esp)) == workers * count + count  # the shared outbound lines once
    assert set(esp) == expected  # every line whole: none torn or interleaved
    ike = (tmp_path / IKEV1_FILE).read_text().splitlines()
    assert len(ike) == len(set(ike)) == workers * count


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_loads_both_tables_without_error(tmp_path):
    log = KeyLog(tmp_path / "keys")
    for words in ("esp-aes 256 esp-sha256-hmac", "esp-gcm 256", "esp-3des esp-md5-hmac"):
        log.child_sa(child_sa(words, nat_t=True), HUB)
    log.ike_sa(ike_sa())
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    result = subprocess.run(["tshark", "-r", str(empty)], env={"WIRESHARK_CONFIG_DIR": str(tmp_path / "keys"),
                                                               "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Error loading table" not in result.stderr


def test_tshark_check_would_catch_a_bad_table(tmp_path):
    """The check above can fail: a quoted cookie is what tshark refuses."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / IKEV1_FILE).write_text('"0123456789abcdef","00"\n')
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    result = subprocess.run(["tshark", "-r", str(empty)], env={"WIRESHARK_CONFIG_DIR": str(keys), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert "Error loading table" in result.stderr


def test_keylog_directory_is_created(tmp_path):
    target = tmp_path / "a" / "b"
    log = KeyLog(target)
    assert target.is_dir() and log.esp_sa_path == target / ESP_SA_FILE and isinstance(log.ikev1_path, Path)
