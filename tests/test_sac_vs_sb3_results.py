"""SAC against stable-baselines3 (issue 11), read from data/results/sac_vs_sb3.json.

The speed goal not reached stays a documented xfail whose reason quotes the measured numbers.
"""
from __future__ import annotations

import pytest

from peach_lite.results import quote_headline


def test_ten_seeds_per_library_with_intervals(headline):
    h = headline("sac_vs_sb3")
    assert h["seeds_per_library"] >= 10
    for name in ("return_ours", "return_sb3", "speedup"):
        assert h[f"{name}_ci_low"] <= h[f"{name}_iqm"] <= h[f"{name}_ci_high"]
    assert 0 <= h["swing_ups_ours"] <= h["seeds_per_library"] and 0 <= h["swing_ups_sb3"] <= h["seeds_per_library"]


def test_our_return_interval_overlaps_or_beats_sb3s(headline):
    h = headline("sac_vs_sb3")
    assert h["return_ours_ci_high"] >= h["return_sb3_ci_low"]


@pytest.mark.xfail(reason=f"issue 11: {quote_headline('sac_vs_sb3', 'speedup_vs_sb3', 'speedup_iqm', 'speedup_ci_low', 'speedup_ci_high', 'speedup_min', 'speedup_max', 'floor_fraction_ours')}; "
                          "both libraries do the same matrix products, which are about half of each run (the floor); the rest "
                          "is autograd, element-wise layers and Adam, where only the frozen critic weights in the actor loss "
                          "and a leaner loop save time", strict=False)
def test_we_are_one_and_a_half_times_faster(headline):
    assert headline("sac_vs_sb3")["speedup_vs_sb3"] >= 1.5
