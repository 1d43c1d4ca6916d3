"""PointMazeHidden: the hidden-goal maze of PEACH (lesson 11) and its oracle values.

Taught in notebooks/11_peach.py (section "The hidden-goal maze").
"""
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import peach_lite.envs as envs
from peach_lite.envs.maze_hidden import PointMazeHiddenEnv, site_of

HIDDEN = "peach_lite/PointMazeHidden-v0"
REGION = "peach_lite/PointMazeHiddenRegion-v0"


@pytest.mark.parametrize("env_id", [HIDDEN, REGION])
def test_env_checker_passes_and_the_goal_is_hidden(env_id):
    env = envs.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 50
    base = env.unwrapped
    for task in base.train_tasks()[:6] + base.test_tasks()[:6]:
        obs, _ = env.reset(seed=1, options={"task": task})
        assert np.array_equal(obs["desired_goal"], np.zeros(2, np.float32))
        obs, *_ = env.step(np.ones(2, np.float32))
        assert np.array_equal(obs["desired_goal"], np.zeros(2, np.float32))
    env.close()


def test_info_site_success_and_sparse_reward_at_the_hidden_goal():
    env = envs.make(HIDDEN)
    base = env.unwrapped
    for task in base.test_tasks()[:3]:
        obs, info = env.reset(seed=0, options={"task": task})
        assert info["site"] == site_of(task) == base.site_of() == base.sites.index(task.goal_room)
        assert info["sparse_reward"] == -1.0 and not info["is_success"]
        # teleport next to the hidden goal: one zero-action step succeeds, reward 0, terminated
        base.data.qpos[:] = np.array(task.goal) + 0.1
        base.data.qvel[:] = 0.0
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert reward == 0.0 and terminated and not truncated and info["is_success"]
        assert info["dense_reward"] == pytest.approx(-np.linalg.norm(obs["achieved_goal"] - np.array(task.goal)), abs=1e-5)
        # away from it: -1, not terminated, whatever desired_goal (zeros) says
        obs, _ = env.reset(seed=0, options={"task": task})
        base.data.qpos[:] = 0.1  # at the zeros of desired_goal, far from every site
        obs, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
        assert reward == -1.0 and not terminated and info["dense_reward"] < -1.0
    env.close()


@pytest.mark.parametrize("kwargs", [{}, {"start_room": 2, "sites": (0, 1, 3)}, {"goal_mode": "region"}])
def test_splits_sizes_disjoint_and_every_site_in_both(kwargs):
    base = PointMazeHiddenEnv(**kwargs)
    train, test = base.train_tasks(), base.test_tasks()
    assert len(train) == 24 and len(test) == 12
    assert not {t.goal for t in train} & {t.goal for t in test}
    assert all(t.start_room == base.start_room for t in train + test)
    for split in (train, test):
        assert {base.site_of(t) for t in split} == set(range(base.num_sites))
    if base.goal_mode == "sites":
        for t in train + test:
            offset = np.abs(np.array(t.goal) - base.site_centers[base.site_of(t)])
            assert np.all(offset <= base.site_jitter + 1e-9)
    base.close()


@pytest.mark.parametrize(
    "kwargs, field",
    [({"sites": (1, 1)}, "sites"), ({"sites": (5,)}, r"sites\[0\]"), ({"sites": ()}, "sites"), ({"sites": (0, 1)}, "sites"),
     ({"site_jitter": -0.1}, "site_jitter"), ({"goal_mode": "ring"}, "goal_mode"), ({"start_room": 4}, "start_room"),
     ({"goal_mode": "region", "sites": (1, 3)}, "sites"), ({"goal_rooms": (1,)}, "goal_rooms")],
)
def test_bad_kwargs_are_value_errors_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PointMazeHiddenEnv(**kwargs)


def test_a_task_outside_the_sites_is_rejected():
    base = PointMazeHiddenEnv(sites=(1, 2))
    with pytest.raises(ValueError, match="goal_room"):
        base.set_task({"goal": (-2.0, 2.0), "start_room": 0})
