"""The soak's verdict rules (bench/soak_verdict.py): stuck entries, RSS growth, settling, leaks."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from soak_verdict import verdict  # noqa: E402


def sample(t: float, rss: dict[str, int], caches: dict | None = None) -> dict:
    return {"t": t, "rss_kib": rss, "caches": caches or {}}


def test_a_quiet_soak_passes_with_its_numbers():
    samples = [sample(t, {"hub:1": 40000, "spoke1:2": 39000 + t}) for t in range(0, 1800, 30)]
    result = verdict(samples, {"leaked": []}, warmup_s=120, min_window_s=600)
    assert result.ok, result.reasons
    assert result.numbers["agents judged for RSS"] == 2
    assert result.lines()[0] == "SOAK PASSED"


def test_rss_growth_beyond_ten_percent_fails():
    samples = [sample(t, {"hub:1": 40000 + t * 5}) for t in range(0, 1800, 30)]
    result = verdict(samples, {}, warmup_s=120, min_window_s=600)
    assert not result.ok and "RSS grew" in result.reasons[0]


def test_an_agent_restarted_midway_is_judged_only_over_its_own_life_after_its_own_warmup():
    def rss(t: int) -> int:  # the new process warms up from 20 MB to 30 MB in its first 2 minutes
        return 30000 + t if t >= 1020 else 20000 + (t - 900) * 80
    samples = [sample(t, {"spoke1:2": 39000} if t < 900 else {"spoke1:7": rss(t)}) for t in range(0, 1800, 30)]
    result = verdict(samples, {}, warmup_s=120, min_window_s=600)
    assert result.ok, result.reasons  # 31020 -> 31770 is 2.4 %; its warm-up and the old process are not counted


def test_an_entry_seen_past_its_expiry_is_stuck():
    caches = {"spoke3": [{"prefix": "10.0.0.5/32", "expires_in": -30.0}]}
    samples = [sample(0, {"hub:1": 1}), sample(700, {"hub:1": 1}, caches)]
    result = verdict(samples, {}, warmup_s=0, min_window_s=600)
    assert not result.ok and "past their expiry" in result.reasons[0]


def test_leaks_and_unsettled_nhs_fail():
    samples = [sample(t, {"hub:1": 1}) for t in range(0, 700, 30)]
    result = verdict(samples, {"leaked": ["namespace x"], "nhs_not_responding": ["spoke2"]}, 0, 600)
    assert not result.ok and len(result.reasons) == 2
