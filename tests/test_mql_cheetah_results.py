"""MQL on HalfCheetahVel (issue 14, report-only), read from data/results/mql_cheetah.json.

No performance target: these check properties the report must have whatever the numbers are.
"""
from __future__ import annotations

from peach_lite.results import read_results


def test_returns_are_at_most_zero_the_rewards_upper_bound(headline):
    h = headline("mql_cheetah")
    # reward = -|v_x - v| - 0.05 ||a||^2 <= 0 at every step
    for key in ("context_return", "zero_action_return", "pearl_checkpoint_return"):
        if key in h:
            assert h[key] <= 0.0, key


def test_the_report_records_its_seed_steps_and_cost(headline):
    h = headline("mql_cheetah")
    record = read_results("mql_cheetah")
    assert record["seeds"] == [record["details"]["seed"]] and len(record["seeds"]) == 1
    assert h["total_steps"] == record["details"]["total_steps"] > 0
    assert 0 < h["train_cpu_minutes"] <= h["cpu_minutes"]
    context = record["details"]["per_seed"]["context"][0]
    assert context["curve_steps"] and len(context["curve_steps"]) == len(context["curve_returns"])
    assert max(context["curve_steps"]) <= h["total_steps"]


def test_adaptation_figures_are_consistent(headline):
    h = headline("mql_cheetah")
    if "adaptation_gain" not in h:
        return
    context = read_results("mql_cheetah")["details"]["per_seed"]["context"][0]
    assert len(context["adapt_before"]) == len(context["adapt_after"]) == read_results("mql_cheetah")["details"]["adapt_tasks"]
    assert 0.0 < h["adaptation_ess"] <= 1.0
    assert all(b <= 0.0 and a <= 0.0 for b, a in zip(context["adapt_before"], context["adapt_after"]))
