"""IQM, bootstrap intervals and P(X > Y) against closed forms (rliable, from the sweep extra)."""
import numpy as np
import pytest

pytest.importorskip("rliable", reason="needs the sweep extra: pip install -e .[sweep]")

from peach_lite.stats import finite_mean, headline_stats, improvement_stats, iqm_ci, probability_of_improvement  # noqa: E402

REPS = 300  # enough for the properties tested here, and fast on a shared 2-core machine


def test_iqm_of_a_known_array_is_the_mean_of_its_middle_half():
    stats = iqm_ci(np.arange(1.0, 9.0), reps=REPS)  # middle half of 1..8 is 3, 4, 5, 6
    assert stats["iqm"] == pytest.approx(4.5) and stats["mean"] == pytest.approx(4.5)
    assert stats["ci_low"] <= stats["iqm"] <= stats["ci_high"] and stats["ci_low"] < stats["ci_high"]
    outlier = iqm_ci([1.0, 2.0, 3.0, 1000.0], reps=REPS)  # the IQM ignores the outlier, the mean does not
    assert outlier["iqm"] == pytest.approx(2.5) and outlier["mean"] == pytest.approx(251.5)


def test_constant_input_gives_a_zero_width_interval():
    for scores in ([3.0, 3.0, 3.0, 3.0], [7.0], np.full((5, 3), -2.0)):
        stats = iqm_ci(scores, reps=REPS)
        value = float(np.ravel(scores)[0])
        assert stats["iqm"] == stats["ci_low"] == stats["ci_high"] == stats["mean"] == value


def test_interval_contains_the_iqm_and_is_reproducible():
    scores = np.random.default_rng(0).normal(size=(6, 2))
    first, second = iqm_ci(scores, reps=REPS, seed=1), iqm_ci(scores, reps=REPS, seed=1)
    assert first == second and first["ci_low"] <= first["iqm"] <= first["ci_high"]
    assert first["num_seeds"] == 6


def test_probability_of_improvement_closed_forms():
    assert probability_of_improvement([5.0, 6.0, 7.0], [1.0, 2.0, 3.0], reps=REPS) == {"prob": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    same = probability_of_improvement([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], reps=REPS)
    assert same["prob"] == pytest.approx(0.5) and same["ci_low"] <= 0.5 <= same["ci_high"]
    # P(X > Y) over the 3 x 3 pairs of [1, 2, 3] vs [2, 3, 4]: 1 win and 2 ties -> (1 + 2 / 2) / 9
    assert probability_of_improvement([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], reps=REPS)["prob"] == pytest.approx(2 / 9)


def test_flat_headline_keys():
    keys = headline_stats("success", [0.5, 1.0, 1.0, 0.75], reps=REPS)
    assert set(keys) == {"success_iqm", "success_ci_low", "success_ci_high", "success_mean"}
    assert all(isinstance(v, float) for v in keys.values())
    keys = improvement_stats("return", [2.0, 3.0], [1.0, 1.5], reps=REPS)
    assert keys["return_prob_improvement"] == 1.0
    assert set(keys) == {"return_prob_improvement", "return_prob_improvement_ci_low", "return_prob_improvement_ci_high"}


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], np.zeros((2, 2, 2))])
def test_bad_scores_are_a_clear_error(bad):
    with pytest.raises(ValueError, match="scores"):
        iqm_ci(bad, reps=REPS)


def test_finite_mean_leaves_out_seeds_with_nothing_to_measure():
    assert finite_mean([0.2, float("nan"), 0.4, float("inf")]) == pytest.approx(0.3)
    assert np.isnan(finite_mean([float("nan")])) and np.isnan(finite_mean([]))
