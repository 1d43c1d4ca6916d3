"""Oracle, Bayes-optimal, heuristic and random returns: recomputed here, checked against the envs
(rollouts of the reference policies must earn exactly what the formulas say) and cross-checked
against the reference numbers of algorithms.md §2 with a tolerance."""
from __future__ import annotations

import numpy as np
import pytest

import peach_lite.envs as envs
from peach_lite.envs import oracles
from peach_lite.envs.point_robot import semicircle_goals, square_goals


# -------------------------------------------------------------------------------- point robot
def test_sparse_point_robot_oracle_matches_reference_and_rollouts():
    goals = semicircle_goals()
    per_goal = oracles.point_robot_oracle_return(goals[80:], per_goal=True)
    assert per_goal.mean() == pytest.approx(13.38, abs=0.01)
    assert per_goal.min() == pytest.approx(11.90, abs=0.01) and per_goal.max() == pytest.approx(14.82, abs=0.01)
    assert oracles.point_robot_oracle_return(goals) == pytest.approx(13.36, abs=0.01)
    env = envs.make("peach_lite/PointRobotSparse-v0")
    policy = oracles.make_oracle_policy(env)
    for i in (0, 7, 19):
        total, steps, _ = oracles.rollout_return(env, policy, seed=0, options={"task": env.unwrapped.test_tasks()[i]})
        assert steps == 20 and total == pytest.approx(per_goal[i], abs=1e-5)


def test_sweep_heuristic_reaches_the_oracle():
    goals = semicircle_goals()[80:]
    rollout = oracles.point_robot_sweep_rollout(goals, 6)
    curve = rollout["returns"].mean(axis=1)
    oracle = oracles.point_robot_oracle_return(goals)
    assert np.all(np.diff(curve) >= -1e-9) and np.all(curve <= oracle + 1e-9)
    assert curve[3:] == pytest.approx([oracle] * 3)
    assert rollout["found"][-1].all() and rollout["found"].mean(axis=1)[0] == pytest.approx(0.40)
    # cross-check with algorithms.md §2 (3.32, 7.44, 13.23, 13.38); details of the sweep differ slightly
    assert curve[:4] == pytest.approx([3.32, 7.44, 13.23, 13.38], abs=0.1)
    assert np.allclose(curve, oracles.point_robot_sweep_returns(goals, 6))


def test_dense_point_robot_oracle():
    test_goals = square_goals()[80:]
    oracle = oracles.dense_point_robot_oracle_return(test_goals)
    assert oracle == pytest.approx(-4.60, abs=0.1)  # algorithms.md §2
    assert oracle > oracles.point_robot_random_return(test_goals, reward_type="dense", random_start=True) + 10


def test_random_policy_is_far_below_the_oracle():
    goals = semicircle_goals()[80:]
    assert oracles.point_robot_random_return(goals) < 0.1 * oracles.point_robot_oracle_return(goals)
    via_env = oracles.random_policy_return("peach_lite/PointRobotSparse-v0", num_episodes=20)
    assert 0.0 <= via_env < 1.0


# ------------------------------------------------------------------------------------ bandits
def test_k_goal_bayes_optimal_closed_form_matches_an_eliminating_learner():
    assert oracles.k_goal_bayes_optimal(2, 5) == pytest.approx(4.5)  # algorithms.md §2
    num_goals, num_episodes, trials = 4, 6, 400
    env = envs.make("peach_lite/KGoalBandit-v0", num_goals=num_goals)
    rng = np.random.default_rng(0)
    successes = []
    for trial in range(trials):
        goal = int(rng.integers(num_goals))
        untried, known, total = list(rng.permutation(num_goals)), None, 0.0
        for episode in range(num_episodes):
            env.reset(seed=trial * 100 + episode, options={"task": {"goal": goal}})
            choice = known if known is not None else untried.pop()
            _, reward, terminated, _, _ = env.step(choice)
            assert terminated
            total += reward
            known = choice if reward > 0 else known
        successes.append(total)
    bayes = oracles.k_goal_bayes_optimal(num_goals, num_episodes)
    assert np.mean(successes) == pytest.approx(bayes, abs=3 * np.std(successes) / np.sqrt(trials))
    assert oracles.k_goal_random_return(num_goals, num_episodes) < bayes < oracles.k_goal_oracle_return(num_goals, num_episodes)


def test_bernoulli_bandit_oracle_and_random():
    base = envs.make("peach_lite/BernoulliBandit-v0").unwrapped
    probs = np.array([t.probs for t in base.test_tasks()])
    oracle, random = oracles.bernoulli_bandit_oracle_return(probs), oracles.bernoulli_bandit_random_return(probs)
    assert oracle == pytest.approx(100 * 20 / 21, abs=1.0)  # E[max of 20 uniforms] = 20/21
    assert random == pytest.approx(50, abs=1.5) and oracle > random
    env = envs.make("peach_lite/BernoulliBandit-v0")
    policy = oracles.make_oracle_policy(env)
    returns = [oracles.rollout_return(env, policy, seed=s, options={"task": base.test_tasks()[s]})[0] for s in range(30)]
    assert np.mean(returns) == pytest.approx(oracles.bernoulli_bandit_oracle_return(probs[:30]), abs=3.0)


# ---------------------------------------------------------------------------- MovementBandits
def test_movement_bandits_values():
    values = oracles.movement_bandits_values(400, 0)
    assert values["oracle"] == pytest.approx(43.7, abs=0.3)  # algorithms.md §2
    assert values["bayes_optimal"] == pytest.approx(41.0, abs=0.3)
    assert values["oracle"] > values["bayes_optimal"] > values["commit_to_one"] > values["random"] > 0
    # committing to a random goal earns half the oracle plus what it picks up when the discs overlap
    # (the reference's 21.9 is about half the oracle)
    assert 0.5 * values["oracle"] <= values["commit_to_one"] <= 0.5 * values["oracle"] + 1.5


def test_movement_bandits_dp_matches_rollouts_of_the_oracle_policy():
    env = envs.make("peach_lite/MovementBandits-v0")
    policy = oracles.make_oracle_policy(env)
    for seed in range(6):
        real_goal = seed % 2
        obs, info = env.reset(seed=seed, options={"task": {"real_goal": real_goal}})
        expected = oracles.movement_bandits_values_for_goals(info["goals"][None])["oracle"][0, real_goal]
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total, done = total + reward, terminated or truncated
        assert total == expected


def test_movement_bandits_bayes_beats_a_visit_nearer_first_heuristic():
    """A hand-made hidden-goal policy (nearer goal first, switch if it does not pay) can't beat the DP."""
    rng = np.random.default_rng(1)
    goals = rng.uniform(0, 400, size=(40, 2, 2))
    bayes = oracles.movement_bandits_values_for_goals(goals)["bayes_optimal"]
    env = envs.make("peach_lite/MovementBandits-v0").unwrapped
    heuristic = np.zeros(len(goals))
    for d, pair in enumerate(goals):
        for real_goal in (0, 1):
            env.reset(seed=0, options={"task": {"real_goal": real_goal}})
            env._goals = pair.copy()
            obs = env._obs()
            first = int(np.argmin(np.abs(pair - 200).sum(axis=1)))
            target, total = first, 0.0
            for _ in range(50):
                obs, reward, *_ = env.step(oracles.movement_bandits_oracle_action(obs, target))
                total += reward
                inside = np.sum((obs[:2] * 400 - pair[target]) ** 2) < 2500
                if inside and reward == 0:
                    target = 1 - target  # the visited goal is the decoy
            heuristic[d] += total / 2
    assert np.all(bayes >= heuristic - 1e-9)
    assert heuristic.mean() > bayes.mean() - 3


# ------------------------------------------------------------------------------- four rooms
def test_four_rooms_values():
    from peach_lite.envs.four_rooms import FREE_CELLS, START_CELL

    values = oracles.four_rooms_values(0)
    assert 0.99 <= values["oracle"] <= 1.0 and values["random"] < values["oracle"]
    # without slip, the expected steps are the shortest path length (BFS on the grid)
    deterministic = oracles.four_rooms_values(0, slip_prob=0.0)
    free = {tuple(c) for c in FREE_CELLS}
    frontier, seen, depth = [tuple(FREE_CELLS[START_CELL])], {tuple(FREE_CELLS[START_CELL])}, 0
    while tuple(FREE_CELLS[0]) not in seen:
        depth += 1
        frontier = [(r + dr, c + dc) for r, c in frontier for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)) if (r + dr, c + dc) in free]
        frontier = [cell for cell in dict.fromkeys(frontier) if cell not in seen]
        seen.update(frontier)
    assert deterministic["oracle_steps"] == pytest.approx(depth)
    env = envs.make("peach_lite/FourRooms-v0")
    policy = oracles.make_oracle_policy(env)
    lengths = [oracles.rollout_return(env, policy, seed=s, options={"task": {"goal": 0}})[1] for s in range(200)]
    assert np.mean(lengths) == pytest.approx(values["oracle_steps"], abs=4 * np.std(lengths) / np.sqrt(200))


# --------------------------------------------------------------------------------------- maze
def test_maze_reference_controller_solves_every_test_task():
    result = oracles.maze_reference_return()
    assert result["success_rate"] == 1.0 and -200 < result["mean_return"] < 0
    far = [t for t in envs.make("peach_lite/PointMaze-v0").unwrapped.sample_tasks(12, seed=0) if t.goal_room == 2]
    assert oracles.maze_reference_return(far)["success_rate"] == 1.0
    assert oracles.random_policy_return("peach_lite/PointMaze-v0", num_episodes=3, tasks=far) == -200.0


# --------------------------------------------------------------------------------- locomotion
def test_cheetah_vel_do_nothing_return():
    for velocity in (1.0, 1.5):
        value = oracles.cheetah_vel_zero_action_return(velocity)
        assert value == pytest.approx(-200 * velocity, abs=0.5)  # algorithms.md §2: -199.8, -299.8
        assert value < 0.0  # the upper bound


def test_make_oracle_policy_refuses_families_without_one():
    with pytest.raises(ValueError, match="no oracle policy"):
        oracles.make_oracle_policy(envs.make("peach_lite/HalfCheetahDir-v0"))


def test_movement_bandits_commit_value_matches_rollouts():
    """Commit to goal k, real goal j: the DP's commit value is the average of the four rollouts, exactly."""
    rng = np.random.default_rng(3)
    goals = rng.uniform(0, 400, size=(30, 2, 2))
    expected = oracles.movement_bandits_values_for_goals(goals)["commit_to_one"]
    env = envs.make("peach_lite/MovementBandits-v0").unwrapped
    for d, pair in enumerate(goals):
        total = 0.0
        for committed in (0, 1):
            for real_goal in (0, 1):
                env.reset(seed=0, options={"task": {"real_goal": real_goal}})
                env._goals = pair.copy()
                obs = env._obs()
                for _ in range(50):
                    obs, reward, *_ = env.step(oracles.movement_bandits_oracle_action(obs, committed))
                    total += reward / 4
        assert total == pytest.approx(expected[d])
