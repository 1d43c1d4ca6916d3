"""Tests for peach_lite.posterior_variance: where the variance after the first success sits, on meta-tests whose
beliefs are known, so every reading has a closed form."""
import math

import numpy as np
import pytest

from peach_lite.peach_diagnostics import variance_after_first_success
from peach_lite.posterior import MetaTestResult
from peach_lite.posterior_variance import first_success_episodes, variance_decomposition


def _result(success: np.ndarray, z_mean: np.ndarray, z_var: np.ndarray) -> MetaTestResult:
    num_tasks, num_trajectories = success.shape
    return MetaTestResult(returns=np.zeros((num_tasks, num_trajectories)), z_mean=z_mean, z_var=z_var, success=success)


def _two_sites(var_site: float, var_other: float, offset: float = 2.0, num_tasks: int = 6) -> tuple[MetaTestResult, np.ndarray]:
    """Tasks alternate between sites 0 and 1; every task succeeds in episode 0 (task 5: never), so episode 1 is read.
    After the success the belief's mean is -offset (site 0) or +offset (site 1) on dimension 0 and 0 elsewhere."""
    labels = np.arange(num_tasks) % 2
    success = np.zeros((num_tasks, 3), dtype=bool)
    success[:, 0] = True
    success[num_tasks - 1] = False
    z_mean = np.zeros((num_tasks, 3, 3))
    z_mean[:, 1, 0] = np.where(labels == 0, -offset, offset)
    z_var = np.ones((num_tasks, 3, 3))
    z_var[:, 1, 0], z_var[:, 1, 1:] = var_site, var_other
    return _result(success, z_mean, z_var), labels


def test_first_success_episodes_reads_the_episode_after_each_first_success():
    success = np.array([[False, True, True], [False, False, True], [True, False, False], [False, False, False]])
    result = _result(success, np.zeros((4, 3, 2)), np.ones((4, 3, 2)))
    tasks, episodes = first_success_episodes(result)
    assert tasks.tolist() == [0, 2] and episodes.tolist() == [2, 1]  # task 1 succeeds only in its last episode
    with pytest.raises(ValueError, match="success"):
        first_success_episodes(MetaTestResult(returns=np.zeros((1, 2)), z_mean=np.zeros((1, 2, 1)), z_var=np.ones((1, 2, 1))))


def test_variance_decomposition_separates_the_site_dimensions_from_the_rest():
    result, labels = _two_sites(var_site=0.25, var_other=1.5)
    out = variance_decomposition(result, labels, num_samples=20_000, seed=3)
    assert out["num_tasks"] == 5
    assert out["variance_after_success"] == pytest.approx((0.25 + 1.5 + 1.5) / 3)
    assert out["variance_after_success"] == variance_after_first_success(result)  # the issue's measure, bit for bit
    assert out["per_dim_variance"] == pytest.approx([0.25, 1.5, 1.5])
    assert out["per_dim_spread"] == pytest.approx([2.0, 0.0, 0.0])  # site means -2 and +2
    assert out["per_dim_separation"] == pytest.approx([4.0, 0.0, 0.0])
    assert out["site_dims"] == 1 and out["site_dims_separation"] == pytest.approx(4.0) and out["site_dims_variance"] == pytest.approx(0.25) and out["other_dims_variance"] == pytest.approx(1.5)
    assert out["mean_rms"] == pytest.approx(2.0 / math.sqrt(3))
    # Only dimension 0 tells the site means apart: a sample is on its site when its noise there stays under 2 / 0.5 = 4 std.
    assert out["samples_on_site"] == pytest.approx(0.5 * (1 + math.erf(4 / math.sqrt(2))), abs=2e-3)


def test_the_issue_s_variance_is_not_scale_free_but_samples_on_site_is():
    """Doubling z's scale (means x2, variances x4) quadruples the variance after success and leaves samples on site."""
    small, labels = _two_sites(var_site=1.0, var_other=0.2, offset=1.0)
    large, _ = _two_sites(var_site=4.0, var_other=0.8, offset=2.0)
    a, b = (variance_decomposition(r, labels, num_samples=4000, seed=0) for r in (small, large))
    assert b["variance_after_success"] == pytest.approx(4 * a["variance_after_success"])
    assert b["samples_on_site"] == a["samples_on_site"] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), abs=0.02)
    assert b["per_dim_separation"] == pytest.approx(a["per_dim_separation"])


def test_variance_decomposition_reads_reference_beliefs_and_rejects_bad_input():
    result, labels = _two_sites(var_site=0.25, var_other=1.0)
    reference = np.array([[-4.0, 0, 0], [4.0, 0, 0]])
    out = variance_decomposition(result, labels, reference_means=reference, reference_labels=np.array([0, 1]))
    assert out["per_dim_spread"] == pytest.approx([4.0, 0.0, 0.0]) and out["samples_on_site"] == 1.0
    none = variance_decomposition(_result(np.zeros((2, 3), bool), np.zeros((2, 3, 3)), np.ones((2, 3, 3))), np.array([0, 1]))
    assert none["num_tasks"] == 0 and math.isnan(none["variance_after_success"]) and math.isnan(none["samples_on_site"])
    with pytest.raises(ValueError, match="labels"):
        variance_decomposition(result, labels[:-1])
    with pytest.raises(ValueError, match="reference_means"):
        variance_decomposition(result, labels, reference_means=reference)
    with pytest.raises(ValueError, match="num_samples"):
        variance_decomposition(result, labels, num_samples=0)


def test_diagnose_takes_the_benchmark_agents_variance_apart():
    """peach_maze's seed-0 PEACH (the committed checkpoint): ``diagnose`` reads its variance after the first success as
    the benchmark recorded it, and ``variance_parts`` takes that same number apart."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.paths import checkpoints_dir
    from peach_lite.peach_diagnostics import diagnose
    from peach_lite.results import read_results

    agent, _ = load_agent(checkpoints_dir() / "peach_maze_eliminating.pt", algorithm="peach")
    reading = diagnose(agent, "peach_lite/PointMazeHidden-v0")
    recorded = read_results("peach_maze")["details"]["runs"]["peach"][0]
    parts = reading["variance_parts"]
    assert reading["final_success"] == recorded["final_success"]
    assert parts["variance_after_success"] == reading["variance_after_success"] == recorded["variance_after_success"]
    assert parts["num_tasks"] > 0 and 1 <= parts["site_dims"] <= len(parts["per_dim_variance"])
    assert min(parts["site_dims_variance"], parts["other_dims_variance"]) <= parts["variance_after_success"] <= max(parts["site_dims_variance"], parts["other_dims_variance"])
    assert 0.0 <= parts["samples_on_site"] <= 1.0
