"""`key chain` / `key N` / `key-string` and interface `delay`: parsed, rendered, round-tripped."""

from dmvpnlab.config.parser import ConfigSession, parse_config
from dmvpnlab.config.render import render_running_config

DUMP = """hostname Hub
!
key chain EIGRP-KEYS
 key 1
  key-string cisco123
  accept-lifetime 00:00:00 Jan 1 2020 infinite
 key 2
  key-string 7 0822455D0A16
!
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip authentication mode eigrp 100 md5
 ip authentication key-chain eigrp 100 EIGRP-KEYS
 delay 1000
!
end
"""


def test_dump_parses_and_round_trips() -> None:
    result = parse_config(DUMP)
    assert result.ok
    chain = result.config.key_chain("EIGRP-KEYS")
    assert chain is not None
    assert [(k.key_id, k.key_string) for k in chain.keys] == [(1, "cisco123"), (2, "7 0822455D0A16")]
    assert [i.text.strip() for i in result.ignored] == ["accept-lifetime 00:00:00 Jan 1 2020 infinite"]
    tunnel = result.config.interface("Tunnel0")
    assert tunnel is not None and tunnel.delay == 1000
    assert tunnel.routing_lines == ["ip authentication mode eigrp 100 md5",
                                    "ip authentication key-chain eigrp 100 EIGRP-KEYS"]
    text = render_running_config(result.config)
    assert "key chain EIGRP-KEYS\n key 1\n  key-string cisco123\n" in text
    assert " delay 1000\n" in text
    again = parse_config(text)
    assert again.ok and again.config == result.config
    assert render_running_config(again.config) == text


def test_flat_lines_move_between_keys_and_chains() -> None:
    result = parse_config("key chain K\nkey 1\nkey-string abc\nkey 2\nkey-string def\n"
                          "key chain L\nkey 5\nkey-string x\ninterface Tunnel0\ndelay 500\n")
    assert result.ok
    assert [(c.name, [(k.key_id, k.key_string) for k in c.keys]) for c in result.config.key_chains] == [
        ("K", [(1, "abc"), (2, "def")]), ("L", [(5, "x")])]
    assert parse_config(render_running_config(result.config)).config == result.config


def test_no_forms_and_prompts() -> None:
    session = ConfigSession(strict_families=True, immediate_references=True)
    assert session.apply("key chain K") == []
    assert session.prompt_suffix == "(config-keychain)"
    session.apply("key 1")
    assert session.prompt_suffix == "(config-keychain-key)"
    session.apply("key-string secret")
    session.apply("no key-string")
    assert session.config.key_chains[0].keys[0].key_string is None
    session.apply("no key 1")
    assert session.prompt_suffix == "(config-keychain)" and session.config.key_chains[0].keys == []
    assert session.apply("key")[0].message == "% Incomplete command."
    session.apply("exit")
    session.apply("no key chain K")
    assert session.config.key_chains == []
    session.apply("interface Tunnel0")
    session.apply("delay 10")
    session.apply("no delay")
    assert session.config.interfaces[0].delay is None
