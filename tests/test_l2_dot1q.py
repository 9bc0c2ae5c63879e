"""802.1Q tag/untag and the subinterface demultiplexer: counted drops, fuzz."""

from __future__ import annotations

import random

import pytest

from dmvpnlab.l2.dot1q import Dot1qDemux, Dot1qError, check_vid, tag, tagged_vid, untag

FRAME = bytes.fromhex("ffffffffffff" "525400000001" "0806") + bytes(28)


def test_tag_then_untag_is_the_frame():
    tagged = tag(FRAME, 10, pcp=3)
    assert tagged[12:16] == bytes.fromhex("8100600a")
    assert tagged_vid(tagged) == 10
    assert untag(tagged) == (10, FRAME)


def test_vid_range_is_ios_range():
    assert check_vid(1) == 1 and check_vid(4094) == 4094
    for bad in (0, 4095, -1):
        with pytest.raises(Dot1qError):
            check_vid(bad)


def test_demux_sorts_by_vid_inline_or_from_auxdata():
    demux = Dot1qDemux({10: "Gi0/1.10", 20: "Gi0/1.20"})
    assert demux.classify(tag(FRAME, 20)) == ("Gi0/1.20", FRAME)
    assert demux.classify(FRAME, aux_vid=10) == ("Gi0/1.10", FRAME)
    assert demux.classify(tag(FRAME, 30)) is None
    assert demux.classify(FRAME) is None  # untagged, no native subinterface: the parent's
    assert demux.classify(b"\x00" * 5) is None
    assert demux.counters == {"tagged_in": 2, "unknown_vid": 1, "untagged": 1, "malformed": 1}


def test_native_vlan_takes_untagged_frames_and_sends_them_untagged():
    demux = Dot1qDemux({10: "Gi0/1.10", 1: "Gi0/1.1"}, native="Gi0/1.1")
    assert demux.classify(FRAME) == ("Gi0/1.1", FRAME)
    assert demux.outbound("Gi0/1.1", FRAME) == FRAME
    assert demux.outbound("Gi0/1.10", FRAME) == tag(FRAME, 10)
    assert demux.outbound("Gi0/1.99", FRAME) is None
    assert demux.outbound("Gi0/1.10", b"xx") is None


def test_fuzz_classify_never_raises():
    rng = random.Random(7)
    demux = Dot1qDemux({10: "a", 20: "b"}, native="c")
    seeds = [tag(FRAME, 10), tag(FRAME, 20), FRAME, bytes.fromhex("ffffffffffff525400000001") + b"\x88\xa8\x00\x0a"]
    for _ in range(5000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                del data[rng.randrange(len(data) + 1):]
        result = demux.classify(bytes(data), aux_vid=rng.choice([None, None, 10, 0, 4095]))
        assert result is None or result[0] in {"a", "b", "c"}
        demux.outbound(rng.choice("abcz"), bytes(data))


def test_the_first_apply_and_close_remove_the_native_vlan_table_a_killed_agent_left(monkeypatch):
    # A killed agent's `netdev dmvpnlab_l2` drop chain would keep eating the parent's
    # untagged frames; a new agent removes it before anything else, and at exit.
    import subprocess

    from dmvpnlab.agent import dot1q_node
    from dmvpnlab.config.model import RouterConfig

    calls: list[list[str]] = []

    def fake_run(argv, **kwargs):
        calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "table netdev dmvpnlab_l2 {}\n", "")

    monkeypatch.setattr(dot1q_node.shutil, "which", lambda name: "/usr/sbin/nft")
    monkeypatch.setattr(dot1q_node.subprocess, "run", fake_run)
    node = dot1q_node.Dot1qNode("R1")
    node.apply(RouterConfig())
    assert ["nft", "delete", "table", "netdev", "dmvpnlab_l2"] in calls
    calls.clear()
    node.apply(RouterConfig())  # later applies leave a live table alone
    assert calls == []
    node.close()
    assert ["nft", "delete", "table", "netdev", "dmvpnlab_l2"] in calls
