"""Issue 14's measured targets, read from data/results/mql.json (python benchmarks/mql.py; 3 seeds).

Targets the committed run does not meet are documented xfails: the reason gives the measured number and the
diagnostic, so a later run that meets them shows up as XPASS.
"""
from __future__ import annotations

import pytest

from peach_lite.results import quote_headline


def _record():
    from peach_lite.results import read_results

    try:
        return read_results("mql")
    except FileNotFoundError:
        pytest.skip("data/results/mql.json not written yet (python benchmarks/mql.py)")


def _headline():
    return _record()["headline"]


def test_the_benchmark_ran_three_seeds_with_its_committed_defaults():
    record = _record()
    assert record["seeds"] == [0, 1, 2]
    assert record["command"].startswith("python benchmarks/mql.py")
    assert [len(record["details"]["per_seed"][kind]) for kind in ("context", "state", "goal")] == [3, 3, 3]


def test_no_score_beats_the_oracle():
    h = _headline()
    for key in ("context_td3_score", "state_td3_score", "ood_score", "oracle_goal_td3_score", "oracle_goal_ood_score",
                "ood_score_before_adaptation", "mql_ood_adapted_score", "beta_one_ood_adapted_score",
                "no_prox_ood_adapted_score", "fixed_prox_ood_adapted_score"):
        assert h[key] <= 1.0 + 1e-6, key


def test_ess_is_normalised():
    h = _headline()
    for key in ("ess_in_dist", "ess_ood"):
        assert 0.0 < h[key] <= 1.0 + 1e-9, key


# ------------------------------------------------------------------------------------------------ issue 14's targets
SCORE_UNMET = ("issue 14: with the benchmark's budget (20k meta-training steps per seed at lr 1e-3, seeds 0 1 2): "
               + quote_headline("mql", "context_td3_score", "state_td3_score", "train_minutes_per_seed", "oracle_goal_td3_score",
                                "oracle_goal_ood_score", "context_fraction_of_goal_bound", "oracle_goal_cpu_minutes_per_seed")
               + ". Diagnostic (the oracle-goal bound: the same TD3, steps, lr and seeds given the true goal instead of the "
               "context): TD3 itself is near the oracle at this compute, so the shortfall is task inference, i.e. learning "
               "the history context and acting on it, not TD3's control; that part still improves with steps (lr 1e-3: 0.33 "
               "after 40k; lr 3e-4: 0.19 after 40k, 0.35 after 120k; data/results/mql.json details.route)")


@pytest.mark.xfail(reason=SCORE_UNMET, strict=False)
def test_context_td3_reaches_085_in_distribution():
    assert _headline()["context_td3_score"] >= 0.85


def test_the_goal_bound_scores_at_least_the_context_and_the_state():
    """TD3 given the true goal knows the task from the first step: a context agent that beats it (in or out of
    distribution) has a bug, and so does a bound that the state-only baseline beats."""
    h = _headline()
    assert h["oracle_goal_td3_score"] >= max(h["context_td3_score"], h["state_td3_score"])
    assert h["oracle_goal_ood_score"] >= h["ood_score"]
    assert 0.0 <= h["context_fraction_of_goal_bound"] <= 1.0


def test_td3_on_the_state_alone_stays_near_blind():
    assert _headline()["state_td3_score"] <= 0.10


def test_adaptation_does_not_hurt_in_distribution():
    assert _headline()["in_dist_adaptation_gain"] >= -0.02


def _prox_diagnostic() -> str:
    try:
        from peach_lite.results import read_results

        h = read_results("mql")["headline"]
    except FileNotFoundError:
        return "no results yet"
    return (f"the proximal weight lambda = 1 - ESS is {1 - h['ess_ood']:.2f} out of distribution (ESS {h['ess_ood']:.2f}); the "
            "likely cause: it holds the adapted weights near an under-trained meta-policy, and both ablations drop it "
            f"(beta = 1 makes ESS = 1, so lambda = 0 too) and gain more: beta = 1 {h['beta_one_ood_gain']:+.3f}, lambda = 0 "
            f"{h['no_prox_ood_gain']:+.3f}, against MQL's {h['ood_adaptation_gain']:+.3f}; the released code's fixed "
            f"lambda = 0.1 gains {h['fixed_prox_ood_gain']:+.3f} (seeds 0 1 2)")


PROX_DIAGNOSTIC = _prox_diagnostic()


@pytest.mark.xfail(reason="issue 14: MQL's out-of-distribution gain is below the +0.10 target; "
                          + PROX_DIAGNOSTIC, strict=False)
def test_adaptation_gains_a_tenth_out_of_distribution():
    assert _headline()["ood_adaptation_gain"] >= 0.10


@pytest.mark.xfail(reason="issue 14: the beta = 1 ablation gains more out of distribution than MQL; "
                          + PROX_DIAGNOSTIC, strict=False)
def test_beta_one_ablation_scores_below_mql_out_of_distribution():
    h = _headline()
    assert h["beta_one_ood_gain"] < h["ood_adaptation_gain"]


@pytest.mark.xfail(reason="issue 14: the lambda = 0 ablation gains more out of distribution than MQL; "
                          + PROX_DIAGNOSTIC, strict=False)
def test_no_proximal_term_ablation_scores_below_mql_out_of_distribution():
    h = _headline()
    assert h["no_prox_ood_gain"] < h["ood_adaptation_gain"]


def test_ess_is_higher_in_distribution_than_out_of_it():
    h = _headline()
    assert h["ess_in_dist"] > h["ess_ood"]


def test_a_seed_takes_at_most_fifteen_cpu_minutes():
    assert _headline()["cpu_minutes_per_seed"] <= 15
