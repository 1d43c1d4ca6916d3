"""PointRobotHidden: PEARL's sparse point robot as a hidden-goal goal env, and PEACH built on it (issue 12).

Taught in notebooks/11_peach.py (section "PEARL's point robot, head to head").
"""
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import peach_lite.envs as envs
from peach_lite.envs.oracles import make_oracle_policy, rollout_return
from peach_lite.envs.point_robot_goal import GOAL_HIGH, GOAL_LOW, PointRobotHiddenEnv

HIDDEN = "peach_lite/PointRobotHidden-v0"
SPARSE = "peach_lite/PointRobotSparse-v0"


def test_env_checker_passes_and_the_goal_is_hidden():
    env = envs.make(HIDDEN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 20 and HIDDEN in envs.ENV_IDS and HIDDEN in envs.NUMPY_ENV_IDS
    base = env.unwrapped
    for task in base.train_tasks()[:5] + base.test_tasks()[:5]:
        obs, _ = env.reset(seed=1, options={"task": task})
        assert np.array_equal(obs["desired_goal"], np.zeros(2, np.float32))
        assert np.array_equal(obs["observation"], obs["achieved_goal"]) and np.array_equal(obs["observation"], np.zeros(2, np.float32))
        obs, *_ = env.step(np.ones(2, np.float32))
        assert np.array_equal(obs["desired_goal"], np.zeros(2, np.float32))
        assert np.allclose(obs["achieved_goal"], [0.1, 0.1])
    env.close()


def test_same_goal_split_and_dynamics_as_the_sparse_point_robot():
    hidden, sparse = envs.make(HIDDEN), envs.make(SPARSE)
    assert hidden.unwrapped.train_tasks() == sparse.unwrapped.train_tasks()
    assert hidden.unwrapped.test_tasks() == sparse.unwrapped.test_tasks()
    assert len(hidden.unwrapped.train_tasks()) == 80 and len(hidden.unwrapped.test_tasks()) == 20
    rng = np.random.default_rng(0)
    task = hidden.unwrapped.test_tasks()[3]
    obs, _ = hidden.reset(seed=0, options={"task": task})
    position, _ = sparse.reset(seed=0, options={"task": task})
    for _ in range(20):
        action = rng.uniform(-1.5, 1.5, size=2).astype(np.float32)  # out of the box: both clip
        obs, _, terminated, _, info = hidden.step(action)
        position, _, _, _, sparse_info = sparse.step(action)
        assert np.array_equal(obs["observation"], position)
        assert {k: info[k] for k in sparse_info} == sparse_info  # PEARL's rewards (sparse_reward = 1 - d inside) in info
        if terminated:
            break


def test_reward_equals_compute_reward_and_success_terminates():
    env = envs.make(HIDDEN)
    base = env.unwrapped
    policy = make_oracle_policy(env)  # the point robot's oracle reads achieved_goal
    for task in base.test_tasks():
        obs, _ = env.reset(seed=0, options={"task": task})
        goal = np.asarray(task.goal)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            assert reward == float(base.compute_reward(obs["achieved_goal"], goal, info))
            assert reward == (0.0 if info["is_success"] else -1.0) and terminated == info["is_success"]
            assert info["distance"] == pytest.approx(np.linalg.norm(obs["achieved_goal"] - goal), abs=1e-6)
            assert info["dense_reward"] == pytest.approx(-info["distance"])
            assert info["sparse_reward"] == pytest.approx(1.0 - info["distance"] if info["is_success"] else 0.0)
            done = terminated or truncated
        assert info["is_success"]  # the oracle reaches every held-out goal
    achieved = np.array([[0.0, 0.0], [0.15, 0.0], [0.3, 0.0]])
    assert np.array_equal(base.compute_reward(achieved, np.zeros(2)), np.array([0.0, 0.0, -1.0], np.float32))  # vectorised
    assert np.array_equal(base.compute_terminated(achieved, np.zeros((3, 2))), [True, True, False])
    env.close()


def test_the_oracle_succeeds_on_every_held_out_goal_in_under_the_horizon():
    env = envs.make(HIDDEN)
    policy = make_oracle_policy(env)
    runs = [rollout_return(env, policy, seed=0, options={"task": t}) for t in env.unwrapped.test_tasks()]
    assert all(info["is_success"] for _, _, info in runs)
    assert max(steps for _, steps, _ in runs) <= 10  # 1 / 0.1 diagonal steps at most, minus the radius
    env.close()


def test_goal_box_holds_every_goal_and_render_draws():
    base = PointRobotHiddenEnv(render_mode="rgb_array", width=64, height=64)
    goals = np.array([t.goal for t in base.train_tasks() + base.test_tasks()])
    assert np.all(goals - base.goal_radius >= np.array(GOAL_LOW) - 1e-9) and np.all(goals + base.goal_radius <= np.array(GOAL_HIGH) + 1e-9)
    base.reset(seed=0)
    frame = base.render()
    assert frame.shape == (64, 64, 3) and frame.std() > 1.0
    with pytest.raises(ValueError, match="goal_radius"):
        PointRobotHiddenEnv(goal_radius=0.0)


def test_peach_builds_a_two_level_hierarchy_from_the_env():
    """The HAC spec comes from the env: subgoal box = the goal box, thresholds = the goal radius, 20 actions; H = 5."""
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach import PEACH, PeachConfig

    envs_ = GymTaskEnvs(HIDDEN, seed=0)
    agent = PEACH.from_env(envs_, 80, PeachConfig(subgoal_horizon=5, hindsight_goal_prob=0.5, top_random_action_rate=0.3))
    spec = agent.spec
    assert (spec.obs_dim, spec.goal_dim, spec.max_actions) == (2, 2, 20)
    assert np.allclose(spec.subgoal_low, GOAL_LOW) and np.allclose(spec.subgoal_high, GOAL_HIGH)
    assert np.allclose(spec.goal_threshold, 0.2) and np.allclose(spec.subgoal_threshold, 0.2)
    assert agent.num_levels == 2 and agent.config.subgoal_horizon ** 2 >= spec.max_actions
    envs_.close()
