"""PEACH's measured targets (issue 12), read from data/results/peach_maze.json and peach_transfer.json.

Targets not reached stay documented xfails whose reasons quote the measured numbers (read from the same files).
"""
from __future__ import annotations

import math

import pytest

from peach_lite.results import read_results


def _headline(name: str) -> dict[str, float]:
    try:
        return read_results(name)["headline"]
    except FileNotFoundError:
        pytest.skip(f"data/results/{name}.json not produced yet: python benchmarks/{name}.py")


def _quote(name: str, *keys: str) -> str:
    try:
        headline = read_results(name)["headline"]
    except FileNotFoundError:
        return "no results yet"
    return ", ".join(f"{key} {headline[key]:.2f}" for key in keys if key in headline)


BUDGET = ("at the committed budget (50 rounds, about 30k env steps, under 1 CPU-minute of training per seed, 3 seeds) "
          "the top level never learns to find the sites. The oracle-z top level, handed the goal but learning as PEACH "
          "does (no hindsight goals at the top), fails too, while plain HAC given the goal reaches hac_true_goal_success "
          "on the same tasks: the missing half is the top level's exploration and credit without hindsight goals, not "
          "task inference (closing note of issue 12)")


@pytest.mark.xfail(reason=f"issue 12: {_quote('peach_maze', 'peach_success', 'oracle_z_success', 'hac_true_goal_success')}; {BUDGET}",
                   strict=False)
def test_peach_reaches_eighty_percent_meta_test_success():
    assert _headline("peach_maze")["peach_success"] >= 0.80


@pytest.mark.xfail(reason=f"issue 12: {_quote('peach_maze', 'gain_over_hac_no_z', 'ratio_over_pearl', 'fraction_of_oracle_hac')}; {BUDGET}",
                   strict=False)
def test_peach_beats_its_parents():
    h = _headline("peach_maze")
    assert h["gain_over_hac_no_z"] >= 0.2 and h["ratio_over_pearl"] >= 3.0 and h["fraction_of_oracle_hac"] >= 0.85


@pytest.mark.xfail(reason=f"issue 12: {_quote('peach_maze', 'probe_accuracy')}; with no success in the context the posterior "
                          "has nothing to carry", strict=False)
def test_the_posterior_mean_carries_the_site():
    h = _headline("peach_maze")
    assert h["probe_accuracy"] >= 0.9 and h.get("variance_after_success", math.inf) < 0.2


@pytest.mark.xfail(reason=f"issue 12: {_quote('peach_transfer', 'transfer_steps_ratio', 'frozen_final_success', 'scratch_final_success', 'censored_runs')}; "
                          "neither run reaches 0.8 within the budget, so both are censored at it", strict=False)
def test_frozen_lower_levels_halve_the_steps_to_eighty_percent():
    assert _headline("peach_transfer")["transfer_steps_ratio"] <= 0.5


def test_no_agent_exceeds_its_oracle():
    h = _headline("peach_maze")
    keys = [k for k in h if k.endswith("_success") and not k.startswith(("oracle_success", "uninformed"))]
    assert keys
    for key in keys:
        assert h[key] <= h["oracle_success"] + 1e-9, key


def test_the_benchmark_records_its_budget_and_references():
    h = _headline("peach_maze")
    assert h["rounds"] >= 1 and h["env_steps_per_seed"] > 0 and h["train_minutes_per_seed"] > 0
    assert h["oracle_success"] == 1.0 and 0.0 < h["uninformed_success"] < 1.0
