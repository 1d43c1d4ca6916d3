"""SAC against stable-baselines3 (issue 11), read from data/results/sac_vs_sb3.json.

The speed goal not reached stays a documented xfail whose reason quotes the measured numbers.
"""
from __future__ import annotations

import pytest

from peach_lite.results import read_results


def _headline() -> dict[str, float]:
    try:
        return read_results("sac_vs_sb3")["headline"]
    except FileNotFoundError:
        pytest.skip("data/results/sac_vs_sb3.json not produced yet: python benchmarks/sac_vs_sb3.py")


def _quote(*keys: str) -> str:
    try:
        headline = read_results("sac_vs_sb3")["headline"]
    except FileNotFoundError:
        return "no results yet"
    return ", ".join(f"{key} {headline[key]:.2f}" for key in keys if key in headline)


def test_ten_seeds_per_library_with_intervals():
    h = _headline()
    assert h["seeds_per_library"] >= 10
    for name in ("return_ours", "return_sb3", "speedup"):
        assert h[f"{name}_ci_low"] <= h[f"{name}_iqm"] <= h[f"{name}_ci_high"]
    assert 0 <= h["swing_ups_ours"] <= h["seeds_per_library"] and 0 <= h["swing_ups_sb3"] <= h["seeds_per_library"]


def test_our_return_interval_overlaps_or_beats_sb3s():
    h = _headline()
    assert h["return_ours_ci_high"] >= h["return_sb3_ci_low"]


@pytest.mark.xfail(reason=f"issue 11: {_quote('speedup_vs_sb3', 'speedup_iqm', 'speedup_ci_low', 'speedup_ci_high', 'speedup_min', 'speedup_max', 'floor_fraction_ours')}; "
                          "both libraries do the same matrix products, which are about half of each run (the floor); the rest "
                          "is autograd, element-wise layers and Adam, where only the frozen critic weights in the actor loss "
                          "and a leaner loop save time", strict=False)
def test_we_are_one_and_a_half_times_faster():
    assert _headline()["speedup_vs_sb3"] >= 1.5
