"""HIRO (peach_lite/hiro.py): the off-policy correction recovers the goal the lower level pursued, the goal
transition and the lower reward, config validation, the shared loop, checkpoints and determinism; the
benchmark's targets where it has run."""
from __future__ import annotations

import pytest
import torch

from peach_lite.hiro import (HiroConfig, candidate_log_likelihood, goal_candidates, goal_transition, lower_reward,
                             relabel_goals, train_hiro)
from peach_lite.runner import TaskBatch

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(hidden=(8,), batch_size=8, buffer_size=500, random_goal_steps=16, horizon=4)


def _exact_rollout(start: torch.Tensor, true_goal: torch.Tensor, horizon: int):
    """A lower controller that reaches its goal exactly: mu(s, g) = g, dynamics s' = s + a (values are dyadic,
    so every sum is exact). Returns the states s_0..s_{c-1}, the actions, and s_c."""
    policy = lambda obs, goal: goal  # noqa: E731
    state, goal, states, actions = start.clone(), true_goal.clone(), [], []
    for _ in range(horizon):
        action = policy(state, goal)
        next_state = state + action
        states.append(state), actions.append(action)
        goal = goal_transition(state, goal, next_state)
        state = next_state
    return torch.stack(states, 1), torch.stack(actions, 1), state, policy


def test_exact_controller_relabels_a_stale_goal_to_the_true_one_bit_for_bit():
    generator = torch.Generator().manual_seed(0)
    start = torch.randint(-16, 16, (64, 2), generator=generator).float() / 8
    true_goal = torch.randint(-12, 12, (64, 2), generator=generator).float() / 8  # inside [-2, 2]
    stale = torch.randint(-16, 16, (64, 2), generator=generator).float() / 8
    low_obs, low_actions, end, policy = _exact_rollout(start, true_goal, horizon=10)
    assert torch.equal(end - start, true_goal)
    chosen, candidates, log_lik = relabel_goals(low_obs, low_actions, torch.ones(64, 10), end, stale, policy, 10, 2.0,
                                                generator=generator)
    assert torch.equal(chosen, true_goal)
    assert torch.all(log_lik.max(1).values == 0)


def test_chosen_candidate_is_at_least_as_likely_as_the_original_goal():
    torch.manual_seed(0)
    actor = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2), torch.nn.Tanh())
    policy = lambda obs, goal: actor(torch.cat([obs, goal], -1))  # noqa: E731
    low_obs, low_actions = torch.randn(32, 10, 4), torch.rand(32, 10, 2) * 2 - 1
    mask = torch.ones(32, 10)
    mask[:5, 6:] = 0  # segments cut short by the episode's end
    stale = torch.rand(32, 2) * 4 - 2
    for k in (2, 10, 100):
        chosen, candidates, log_lik = relabel_goals(low_obs, low_actions, mask, torch.randn(32, 4), stale, policy, k, 2.0)
        chosen_lik = candidate_log_likelihood(low_obs, low_actions, mask, chosen[..., None], policy)[:, 0]
        assert torch.all(chosen_lik >= log_lik[:, -1])
        assert torch.equal(chosen_lik, log_lik.max(1).values)


def test_candidates_have_the_stated_shape_and_last_two_entries():
    start, end, goal = torch.zeros(5, 2), torch.tensor([[0.5, -0.25]] * 5), torch.tensor([[1.0, 1.5]] * 5)
    candidates = goal_candidates(start, end, goal, 10, 2.0, generator=torch.Generator().manual_seed(1))
    assert candidates.shape == (5, 2, 10)
    assert torch.equal(candidates[..., -2], end - start) and torch.equal(candidates[..., -1], goal)
    assert candidates.abs().max() <= 2.0
    far = goal_candidates(start, torch.full((5, 2), 9.0), goal * 3, 10, 2.0)
    assert far.abs().max() <= 2.0 and torch.equal(far[..., -2], torch.full((5, 2), 2.0))  # clipped too


def test_goal_transition_keeps_the_absolute_target_fixed_and_the_lower_reward_measures_the_miss():
    s, g, s_next = torch.randn(100, 2), torch.randn(100, 2), torch.randn(100, 2)
    h = goal_transition(s, g, s_next)
    torch.testing.assert_close(s_next + h, s + g)
    torch.testing.assert_close(lower_reward(s, g, s_next), -(s + g - s_next).norm(dim=1))
    assert torch.all(lower_reward(s, g, s + g) == 0)


@pytest.mark.parametrize("field, value", [("horizon", 0), ("num_candidates", 1), ("goal_range", 0.0), ("gamma", 1.5),
                                          ("batch_size", 0), ("correction", "yes"), ("upper_every", 0), ("hidden", (0,))])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        HiroConfig(**{field: value})


def test_trains_through_the_shared_loop_stores_both_levels_and_relabels():
    agent, meta = train_hiro(seed=0, progress=False, total_steps=96, envs_in_lockstep=2, eval_every_steps=10_000, num_snapshots=2,
                             **TINY)
    assert meta["steps"] >= 96 and agent.lower_updates > 0
    assert len(agent.lower_buffer) == meta["steps"] and len(agent.upper_buffer) >= meta["steps"] // 4
    rows = agent.upper_buffer.all()
    assert torch.all(rows["low_mask"].sum(1) >= 1) and rows["low_obs"].shape[1:] == (4, 4)
    assert "relabel_shift" in agent.relabel_stats and len(agent.lower_snapshots) == 2
    assert 0.0 <= meta["final_success"] <= 1.0


def test_correction_off_trains_on_the_stored_goal():
    agent, _ = train_hiro(seed=0, progress=False, total_steps=48, envs_in_lockstep=2, eval_every_steps=10_000,
                          correction=False, **TINY)
    assert agent.relabel_stats == {}


def test_same_seed_same_weights_and_checkpoint_round_trip(tmp_path):
    from peach_lite.checkpoints import load_agent, save_agent

    runs = [train_hiro(seed=3, progress=False, total_steps=64, envs_in_lockstep=2, eval_every_steps=10_000, num_snapshots=1,
                       **TINY)[0] for _ in range(2)]
    for level in ("lower", "upper"):
        for part in ("actor", "critic"):
            for a, b in zip(getattr(getattr(runs[0], level), part).parameters(), getattr(getattr(runs[1], level), part).parameters()):
                assert torch.equal(a, b)
    agent = runs[0]
    path = save_agent(agent, tmp_path / "hiro.pt")
    loaded, _ = load_agent(path, algorithm="hiro")
    obs = {"observation": torch.randn(3, 4), "desired_goal": torch.randn(3, 2), "achieved_goal": torch.randn(3, 2)}
    for a in (agent, loaded):
        a.begin_episode(TaskBatch.from_list([None] * 3, split="test"), explore=False)
    assert torch.equal(agent.act(obs), loaded.act(obs)) and torch.equal(agent.goal, loaded.goal)
    assert len(loaded.lower_snapshots) == 1
    assert torch.equal(loaded.snapshot_actor(0)(obs["observation"], loaded.goal), agent.snapshot_actor(0)(obs["observation"], agent.goal))


def test_relabel_accuracy_reports_each_error():
    from peach_lite.hiro import relabel_accuracy

    exact = lambda obs, goal: (goal / 0.2).clamp(-1, 1)  # noqa: E731  (a crude P-controller)
    out = relabel_accuracy(exact, 2.0, num_goals=6, envs_per_batch=3, horizon=3)
    assert set(out) == {"relabel_error", "stale_error", "reached_error"} and all(v.shape == (6,) for v in out.values())


# ------------------------------------------------------------------------------------------------ benchmark targets
def _headline():
    from peach_lite.results import read_results

    try:
        return read_results("hiro_fun")["headline"]
    except FileNotFoundError:
        pytest.skip("data/results/hiro_fun.json not written yet (python benchmarks/hiro_fun.py)")


def test_benchmark_reports_every_headline_figure():
    h = _headline()
    for key in ("hiro_success", "hiro_no_correction_success", "correction_gain", "relabel_median_error_ratio",
                "hiro_wall_minutes_per_seed"):
        assert key in h
    assert 0 <= h["hiro_success"] <= 1 and h["correction_gain"] == pytest.approx(h["hiro_success"] - h["hiro_no_correction_success"])


def test_hiro_reaches_seventy_percent_held_out_success():
    assert _headline()["hiro_success"] >= 0.7


def test_the_correction_is_at_least_as_good_as_no_correction_on_the_same_seeds():
    assert _headline()["correction_gain"] >= 0


def test_relabelled_goal_error_is_at_most_a_fifth_of_the_stale_goals_and_smaller_with_more_candidates():
    h = _headline()
    assert h["relabel_median_error_ratio"] <= 0.2
    assert h["relabel_median_error_ratio_100"] < h["relabel_median_error_ratio"]


def test_a_hiro_seed_takes_at_most_fifteen_cpu_minutes():
    h = _headline()
    assert h["hiro_cpu_minutes_per_seed"] <= 15 and h["hiro_no_correction_cpu_minutes_per_seed"] <= 15
