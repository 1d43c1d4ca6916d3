"""Hindsight relabelling (peach_lite.her): the invariants of algorithms.md §5 item 6."""
from __future__ import annotations

import numpy as np
import pytest

from peach_lite.her import (
    GoalObservation,
    Transitions,
    choose_hindsight_goals,
    goal_reached,
    goal_reward,
    hindsight_goal_transitions,
    relabel_with_goals,
)


def _sequence(n: int, seed: int = 0, goal_dim: int = 2):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    next_obs = rng.normal(size=(n, 4)).astype(np.float32)
    action = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    next_achieved = np.cumsum(rng.normal(scale=0.5, size=(n, goal_dim)), axis=0).astype(np.float32)
    return obs, action, next_obs, next_achieved


def test_goal_reward_is_zero_and_terminal_exactly_inside_the_threshold():
    achieved = np.array([[0.0, 0.0], [0.3, 0.3], [0.39, 0.0], [0.5, 0.0]])
    goal = np.zeros(2)
    box_reward, box_done = goal_reward(achieved, goal, 0.4)
    np.testing.assert_array_equal(box_reward, [0, 0, 0, -1])
    l2_reward, l2_done = goal_reward(achieved, goal, 0.4, norm="l2")
    np.testing.assert_array_equal(l2_reward, [0, -1, 0, -1])  # (0.3, 0.3) is 0.42 away: outside the ball
    for reward, done in ((box_reward, box_done), (l2_reward, l2_done)):
        assert set(np.unique(reward)) <= {-1.0, 0.0}
        np.testing.assert_array_equal(done == 1.0, reward == 0.0)
    # per-dimension thresholds (the pendulum's (9.5 deg, 0.6))
    assert goal_reached(np.array([0.1, 0.5]), np.zeros(2), np.array([0.166, 0.6]))
    assert not goal_reached(np.array([0.2, 0.5]), np.zeros(2), np.array([0.166, 0.6]))
    with pytest.raises(ValueError, match="norm"):
        goal_reached(achieved, goal, 0.4, norm="l1")


@pytest.mark.parametrize("n", [1, 2, 3, 7, 40])
def test_hindsight_goal_choice_always_includes_the_final_state(n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        indices = choose_hindsight_goals(n, 3, rng)
        assert len(indices) == min(3, n)
        assert indices[-1] == n - 1
        assert np.all(np.diff(indices) >= 0) and indices.min() >= 0


@pytest.mark.parametrize("n", [3, 5, 20])
def test_relabelling_gives_three_copies_and_never_changes_s_a_s_next(n):
    obs, action, next_obs, next_achieved = _sequence(n, seed=n)
    out = hindsight_goal_transitions(obs, action, next_obs, next_achieved, 0.4, num_goals=3, rng=np.random.default_rng(1))
    assert out.num_rows == 3 * n
    for j in range(3):
        block = slice(j * n, (j + 1) * n)
        np.testing.assert_array_equal(out.obs[block], obs)
        np.testing.assert_array_equal(out.action[block], action)
        np.testing.assert_array_equal(out.next_obs[block], next_obs)
        assert np.all(out.goal[block] == out.goal[j * n])  # one goal per copy ...
        assert any(np.array_equal(out.goal[j * n], g) for g in next_achieved)  # ... that was actually achieved
    assert set(np.unique(out.reward)) <= {-1.0, 0.0}
    np.testing.assert_array_equal(out.done == 1.0, out.reward == 0.0)
    # the copy relabelled with the final achieved state ends with reward 0 and a terminal
    final_copies = [j for j in range(3) if np.array_equal(out.goal[j * n], next_achieved[-1])]
    assert final_copies
    last_row = final_copies[-1] * n + n - 1
    assert out.reward[last_row] == 0.0 and out.done[last_row] == 1.0


def test_relabel_rewards_match_the_goal_test_row_by_row():
    obs, action, next_obs, next_achieved = _sequence(6, seed=3)
    out = relabel_with_goals(obs, action, next_obs, next_achieved, [1, 5], 0.7, norm="l2")
    expected_reward, _ = goal_reward(np.tile(next_achieved, (2, 1)), np.repeat(next_achieved[[1, 5]], 6, axis=0), 0.7, "l2")
    np.testing.assert_array_equal(out.reward, expected_reward)
    assert out.reward[1] == 0.0 and out.reward[6 + 5] == 0.0  # each goal's own row reaches it
    with pytest.raises(ValueError, match="goal_indices"):
        relabel_with_goals(obs, action, next_obs, next_achieved, [6], 0.7)


def test_short_sequences_use_fewer_goals_and_no_her_means_no_copies():
    obs, action, next_obs, next_achieved = _sequence(2)
    out = hindsight_goal_transitions(obs, action, next_obs, next_achieved, 0.4, rng=np.random.default_rng(0))
    assert out.num_rows == 2 * 2
    with pytest.raises(ValueError, match="num_goals"):
        choose_hindsight_goals(5, 0)


def test_transitions_concatenate_accepts_single_and_batched_rows():
    single = Transitions(np.zeros(4), np.zeros(2), np.float32(-1), np.ones(4), np.zeros(2), np.float32(0))
    batch = hindsight_goal_transitions(*_sequence(3), 0.4, rng=np.random.default_rng(0))
    both = Transitions.concatenate([single, batch])
    assert both.num_rows == 1 + 9 and both.obs.shape == (10, 4) and both.reward.shape == (10,)


def test_goal_observation_wraps_the_point_mass_into_a_goal_env():
    from peach_lite.envs import make

    env = GoalObservation(make("peach_lite/PointMassSparse-v0"))
    task = env.unwrapped.test_tasks()[0]
    obs, _ = env.reset(seed=0, options={"task": task})
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    np.testing.assert_allclose(obs["desired_goal"], task.goal, atol=1e-6)
    next_obs, *_ = env.step(np.array([1.0, 1.0], np.float32))
    np.testing.assert_allclose(next_obs["achieved_goal"], next_obs["observation"][:2])
    assert env.goal_threshold == pytest.approx(0.2)
    assert env.observation_space.contains(next_obs)


def test_goals_reached_by_and_hindsight_goal_pick_only_reached_candidates():
    from peach_lite.her import goals_reached_by, hindsight_goal

    def reward_fn(achieved, goal):  # paid within 0.5
        return -(np.linalg.norm(achieved - goal, axis=-1) > 0.5).astype(np.float32)

    achieved = np.array([[0.0, 0.0], [2.0, 2.1], [5.0, 5.0]])
    candidates = np.array([[2.0, 2.0], [-3.0, 0.0], [0.2, 0.0], [9.0, 9.0]])
    assert goals_reached_by(achieved, candidates, reward_fn).tolist() == [True, False, True, False]
    assert np.array_equal(hindsight_goal(achieved, 2), achieved[2].astype(np.float32))  # HER: where attempt 2 ended
    picks = {tuple(hindsight_goal(achieved, k, "task", candidates, reward_fn)) for k in range(3)}
    assert picks == {tuple(candidates[0].astype(np.float32)), tuple(candidates[2].astype(np.float32))}  # HTR: only the reached candidates, each of them for some pick
    assert hindsight_goal(achieved[2:], 0, "task", candidates, reward_fn) is None
    assert np.array_equal(hindsight_goal(achieved[2:], 0, "task_or_achieved", candidates, reward_fn), achieved[2].astype(np.float32))
    assert tuple(hindsight_goal(achieved, 0, "task_or_achieved", candidates, reward_fn)) in picks  # a reached candidate first
    with pytest.raises(ValueError, match="mode"):
        hindsight_goal(achieved, 0, "final")
    with pytest.raises(ValueError, match=r"pick must be in \[0, 2\]"):
        hindsight_goal(achieved, 3)
    with pytest.raises(ValueError, match="candidate_goals must have shape"):
        goals_reached_by(achieved, candidates[:, :1], reward_fn)
    with pytest.raises(ValueError, match="achieved must have shape"):
        goals_reached_by(achieved[0], candidates, reward_fn)
