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


# ----------------------------------------------------------------------------------------- oracles
@pytest.fixture(scope="module")
def values():
    from peach_lite.envs.oracles import maze_sites_values

    return maze_sites_values(envs.make(HIDDEN))


def test_the_oracle_reaches_every_site_well_within_the_horizon(values):
    assert values.horizon == 50 and values.num_sites == 3 and values.num_tasks == 36
    assert values.oracle_success == 1.0
    assert values.oracle_max_steps <= 0.8 * values.horizon, "the oracle needs slack"
    assert max(values.oracle_steps_per_site) <= 35 and min(values.oracle_steps_per_site) >= 15


def test_the_best_uninformed_tour_cannot_cover_all_sites(values):
    assert values.uninformed_sites_checked == values.num_sites - 1
    assert values.uninformed_success == pytest.approx(2 / 3) == values.uninformed_success_bound
    assert values.full_tour_min_steps > values.horizon, "no tour finds its last site in time"
    assert values.uninformed_tour[-1] == 0 or values.uninformed_tour[-1] == 2, "the far room (site 1) is never the last"
    assert values.oracle_success >= values.uninformed_success, "no uninformed episode beats the oracle"


def test_posterior_sampling_curves_closed_forms(values):
    from peach_lite.envs.oracles import posterior_sampling_curves

    t = np.arange(1, 7)
    assert np.allclose(values.ps_with_elimination, np.minimum(t, 3) / 3)
    assert np.allclose(values.ps_without_elimination, 1 - (2 / 3) ** t)
    assert np.allclose(values.ps_without_elimination_scaled, np.array(values.ps_without_elimination) * values.oracle_success)
    curves = posterior_sampling_curves(4, 3, oracle_success=0.5)
    assert np.allclose(curves["with_elimination"], [0.125, 0.25, 0.375])
    assert np.allclose(curves["without_elimination"], 0.5 * (1 - 0.75 ** np.arange(1, 4)))
    assert curves["without_elimination"][0] == curves["with_elimination"][0]  # the first episode: 1/K either way
    with pytest.raises(ValueError, match="oracle_success"):
        posterior_sampling_curves(3, 6, oracle_success=1.5)
    assert set(values.to_dict()) >= {"oracle_success", "uninformed_success", "ps_with_elimination"}


def test_a_longer_horizon_lets_the_tour_find_more_and_the_transfer_variant_works():
    from peach_lite.envs.oracles import maze_sites_values

    long = maze_sites_values(None, horizon=70)
    assert long.uninformed_sites_checked == 3 and long.uninformed_success == 1.0
    transfer = maze_sites_values({"start_room": 2, "sites": (0, 1, 3)})
    assert transfer.oracle_success == 1.0 and transfer.uninformed_success_bound == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="goal_mode"):
        maze_sites_values({"goal_mode": "region"})


def test_oracle_policy_via_make_oracle_policy_reaches_the_hidden_goal():
    from peach_lite.envs.oracles import make_oracle_policy, rollout_return

    env = envs.make(HIDDEN)
    policy = make_oracle_policy(env)
    for task in env.unwrapped.test_tasks()[:3]:
        total, steps, info = rollout_return(env, policy, seed=0, options={"task": task})
        assert info["is_success"] and steps < 50 and total == -(steps - 1)
    env.close()


def test_region_goals_lie_on_the_band_and_the_oracle_reaches_them_in_time():
    from peach_lite.envs.oracles import make_oracle_policy, rollout_return

    env = envs.make(REGION)
    base = env.unwrapped
    tasks = base.train_tasks() + base.test_tasks()
    for task in tasks:  # on the L-shaped band x = 2 (y <= 2) or y = 2 (x <= 2), up to the jitter
        x, y = task.goal
        assert min(abs(x - 2.0) if y <= 2.25 else 9, abs(y - 2.0) if x <= 2.25 else 9) <= base.site_jitter + 1e-9
    policy = make_oracle_policy(env)
    steps = [rollout_return(env, policy, seed=i, options={"task": t})[1] for i, t in enumerate(tasks)]
    assert max(steps) <= 40, steps
    env.close()
