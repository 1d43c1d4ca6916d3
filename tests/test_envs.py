"""Every registered task family: gymnasium compliance, rendering, the task API and clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import peach_lite.envs as envs
from peach_lite.envs.base import Task

SMALL = {"width": 64, "height": 64}


def _make(env_id: str, **kwargs):
    return envs.make(env_id, **kwargs)


# ------------------------------------------------------------------------------------ registration
def test_import_is_cheap_and_registers_every_id():
    code = (
        "import sys, gymnasium; import peach_lite.envs as e; "
        "assert 'mujoco' not in sys.modules, 'mujoco imported at import time'; "
        "assert all(i in gymnasium.registry for i in e.ENV_IDS); print(len(e.ENV_IDS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == len(envs.ENV_IDS) >= 14


def test_unknown_id_is_a_value_error_listing_the_known_ids():
    with pytest.raises(ValueError, match="unknown env id") as error:
        envs.make("peach_lite/NoSuchEnv-v0")
    assert "peach_lite/PointRobotSparse-v0" in str(error.value)
    with pytest.raises(ValueError, match="unknown env id"):
        envs.make_vec("peach_lite/NoSuchEnv-v0", 2)


def test_gymnasium_make_works_with_the_namespace():
    env = gym.make("peach_lite/PointRobotSparse-v0")
    assert env.spec.max_episode_steps == 20
    env.close()


# -------------------------------------------------------------------------------- per-id contracts
@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_check_env_render_and_task_roundtrip(env_id):
    env = _make(env_id, render_mode="rgb_array", **SMALL)
    base = env.unwrapped
    with warnings.catch_warnings():
        # gymnasium's own v5 envs declare unbounded Box observations; that warning is theirs.
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*settotalmass.*")
        check_env(base)  # includes seeding determinism and the render check

    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    frame = env.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert frame.std() > 1.0, "the frame is blank"

    task = base.get_task()
    assert isinstance(task, Task)
    base.set_task(base.get_task())
    assert base.get_task() == task
    as_json = json.loads(json.dumps(task.to_dict()))
    base.set_task(as_json)
    assert base.get_task() == task
    assert type(task).from_dict(as_json) == task

    train, test = base.train_tasks(), base.test_tasks()
    assert len(train) == base.num_train_tasks and len(test) == base.num_test_tasks
    again = _make(env_id).unwrapped
    assert again.train_tasks() == train and again.test_tasks() == test  # fixed, seeded split
    assert base.sample_tasks(5, seed=1) == base.sample_tasks(5, seed=1)
    for sampled in base.sample_tasks(5, seed=2):
        base.set_task(sampled)  # sampled tasks are valid

    obs, _ = env.reset(seed=0, options={"task": test[-1]})
    assert base.get_task() == test[-1]
    env.close()


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_bad_tasks_and_actions_are_clear_value_errors(env_id):
    env = _make(env_id)
    base = env.unwrapped
    env.reset(seed=0)
    fields = list(base.get_task().to_dict())
    with pytest.raises(ValueError, match="unknown task field 'bogus'"):
        base.set_task({**base.get_task().to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match=fields[0]):
        base.set_task({**base.get_task().to_dict(), fields[0]: 1e6})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"bogus": 1})
    space = env.action_space
    wrong = np.zeros(space.shape[0] + 1) if isinstance(space, gym.spaces.Box) else np.array([0, 1])
    with pytest.raises(ValueError, match="action"):
        env.step(wrong)
    if isinstance(space, gym.spaces.Discrete):
        with pytest.raises(ValueError, match="action"):
            env.step(int(space.n))
    env.close()


def test_sample_tasks_validates_its_arguments():
    base = _make("peach_lite/PointRobotSparse-v0").unwrapped
    with pytest.raises(ValueError, match="n must be"):
        base.sample_tasks(0)
    with pytest.raises(ValueError, match="n must be an integer"):
        base.sample_tasks(2.5)


def test_markers_are_drawn_and_validated():
    for env_id in ("peach_lite/PointMaze-v0", "peach_lite/PointRobotSparse-v0"):
        env = _make(env_id, render_mode="rgb_array", **SMALL)
        env.reset(seed=0)
        plain = env.render().astype(int)
        env.unwrapped.set_markers([((0.5, 0.5), (1, 0, 0, 1), 0.3), ((-0.5, 0.5, 0.1), (0, 0, 1, 1))])
        marked = env.render().astype(int)
        assert np.abs(marked - plain).sum() > 0, env_id
        with pytest.raises(ValueError, match="markers"):
            env.unwrapped.set_markers([((0, 0), (2, 0, 0, 1))])
        env.unwrapped.set_markers([])
        assert np.array_equal(env.render().astype(int), plain)
        env.close()


# ---------------------------------------------------------------------------------- vector API
@pytest.mark.parametrize(
    "env_id, mode",
    [("peach_lite/PointRobotSparse-v0", None), ("peach_lite/PointRobotDense-v0", "sync"), ("peach_lite/MovementBandits-v0", None)],
)
def test_make_vec_and_set_tasks(env_id, mode):
    vec = envs.make_vec(env_id, num_envs=3, vectorization_mode=mode)
    tasks = _make(env_id).unwrapped.sample_tasks(3, seed=0)
    envs.set_tasks(vec, tasks)
    assert envs.get_tasks(vec) == tasks
    obs, _ = vec.reset(seed=0)
    assert obs.shape[0] == 3
    obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
    assert reward.shape == (3,)
    with pytest.raises(ValueError, match="one entry per sub-env"):
        envs.set_tasks(vec, tasks[:2])
    vec.close()


def test_native_point_robot_vector_env_matches_sync_vector_env():
    from peach_lite.envs.point_robot import PointRobotVectorEnv

    tasks = _make("peach_lite/PointRobotSparse-v0").unwrapped.test_tasks()[:4]
    native = envs.make_vec("peach_lite/PointRobotSparse-v0", 4)
    sync = envs.make_vec("peach_lite/PointRobotSparse-v0", 4, vectorization_mode="sync")
    assert isinstance(native.unwrapped, PointRobotVectorEnv) and not isinstance(sync.unwrapped, PointRobotVectorEnv)
    a, _ = native.reset(seed=0, options={"tasks": tasks})
    envs.set_tasks(sync, tasks)
    b, _ = sync.reset(seed=0)
    assert np.array_equal(a, b)
    rng = np.random.default_rng(0)
    for _ in range(45):  # crosses two episode ends: next-step autoreset behaves the same
        actions = rng.uniform(-1.2, 1.2, size=(4, 2)).astype(np.float32)
        ours, theirs = native.step(actions), sync.step(actions)
        for x, y in zip(ours[:4], theirs[:4]):
            assert np.allclose(x, y, atol=1e-6)
        for key in ("dense_reward", "sparse_reward", "is_success"):
            assert np.allclose(ours[4][key], theirs[4][key], atol=1e-6)
    with pytest.raises(ValueError, match="actions must have shape"):
        native.step(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="vector_entry_point"):
        envs.make_vec("peach_lite/FourRooms-v0", 2, vectorization_mode="vector_entry_point")


# -------------------------------------------------------------------------------- point robots
def test_point_robot_semicircle_split_and_rewards():
    env = _make("peach_lite/PointRobotSparse-v0")
    base = env.unwrapped
    goals = np.array([t.goal for t in base.train_tasks() + base.test_tasks()])
    assert np.allclose(np.linalg.norm(goals, axis=1), 1.0) and (goals[:, 1] >= -1e-12).all()
    angles = np.sort(np.arctan2(goals[:, 1], goals[:, 0]) % (2 * np.pi))
    assert np.allclose(angles, np.linspace(0, np.pi, 100), atol=1e-9)  # the 100 linspace goals, shuffled
    assert not np.allclose(goals[:, 0], np.cos(np.linspace(0, np.pi, 100)))  # ... really shuffled

    base.set_task({"goal": (0.0, 1.0)})
    obs, _ = env.reset(seed=0)
    assert np.array_equal(obs, [0, 0])
    obs, reward, *_, info = env.step(np.array([5.0, 5.0]))  # clipped to [-1, 1], scaled by 0.1
    assert np.allclose(obs, [0.1, 0.1])
    assert set(info) >= {"dense_reward", "sparse_reward"} and reward == info["sparse_reward"] == 0.0
    assert info["dense_reward"] == pytest.approx(-np.hypot(0.1, 0.9))
    for _ in range(8):
        obs, reward, *_, info = env.step(np.array([-1.0, 1.0]) * (obs[0] > 0) + np.array([0.0, 1.0]))
    distance = np.hypot(*(obs - [0, 1]))
    assert distance <= 0.2 and reward == pytest.approx(1 - distance, abs=1e-6)


def test_dense_point_robot_starts_at_random():
    env = _make("peach_lite/PointRobotDense-v0")
    starts = np.array([env.reset(seed=s)[0] for s in range(20)])
    assert np.all(np.abs(starts) <= 1) and starts.std() > 0.3
    _, reward, *_, info = env.step(np.zeros(2))
    assert reward == info["dense_reward"] < 0


@pytest.mark.parametrize("kind", ["Sparse", "Dense"])
def test_mujoco_point_mass_moves_like_the_numpy_point_robot(kind):
    fast, physical = _make(f"peach_lite/PointRobot{kind}-v0"), _make(f"peach_lite/PointMass{kind}-v0")
    rng = np.random.default_rng(0)
    a, _ = fast.reset(seed=4)
    b, _ = physical.reset(seed=4)
    assert np.allclose(a, b)
    for _ in range(20):
        action = rng.uniform(-1.3, 1.3, size=2)
        a, ra, *_ = fast.step(action)
        b, rb, *_ = physical.step(action)
        assert np.allclose(a, b, atol=1e-4) and ra == pytest.approx(rb, abs=1e-4)


# ----------------------------------------------------------------------------------------- maze
def test_maze_goal_conditioned_api_and_termination():
    env = _make("peach_lite/PointMaze-v0")
    base = env.unwrapped
    obs, info = env.reset(seed=0, options={"task": {"goal": (-1.5, -1.5), "start_room": 0}})
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"} and info["room"] == 0
    achieved = np.random.default_rng(0).uniform(-4, 4, size=(7, 5, 2))
    rewards = base.compute_reward(achieved, np.zeros(2), None)
    assert rewards.shape == (7, 5) and set(np.unique(rewards)) <= {-1.0, 0.0}
    assert np.array_equal(rewards == 0, base.compute_terminated(achieved, np.zeros(2), None))
    # drive straight at the goal: -1 per step, then 0 and terminated
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(np.clip(obs["desired_goal"] - obs["achieved_goal"], -1, 1))
        total, steps = total + reward, steps + 1
        if terminated:
            break
        assert reward == -1.0 and steps < 50
    assert reward == 0.0 == info["sparse_reward"] and info["is_success"] and total == -(steps - 1)
    assert info["dense_reward"] == pytest.approx(-info["distance"])


def test_maze_step_size_walls_and_rooms():
    env = _make("peach_lite/PointMaze-v0")
    obs, _ = env.reset(seed=0)
    start = obs["achieved_goal"].copy()
    for _ in range(3):
        obs, *_ = env.step(np.array([0.0, 1.0]))
    moved = obs["achieved_goal"][1] - start[1]
    assert 0.4 < moved <= 0.6 + 1e-6  # up to 0.2 per step once at speed
    for _ in range(60):  # push north-east into the corner of room 0: the walls hold
        obs, *_, info = env.step(np.array([1.0, 1.0]) if obs["achieved_goal"][1] < -1.0 else np.array([1.0, 0.0]))
    x, y = obs["achieved_goal"]
    assert info["room"] in (0, 1) and y < 0  # never crossed the y = 0 wall (doors are at x = +-2)
    with pytest.raises(ValueError, match="goal must lie inside goal_room 2"):
        env.unwrapped.set_task({"goal": (-2.0, -2.0), "goal_room": 2})
    with pytest.raises(ValueError, match="start_room must be in"):
        env.unwrapped.set_task({"goal": (2.0, 2.0), "start_room": 7})
    task = env.unwrapped.sample_tasks(1, seed=0)[0]
    assert task.goal_room in (1, 2, 3) and task.start_room == 0


def test_maze_starts_at_rest_where_reset_is_told_and_refuses_walls():
    env = _make("peach_lite/PointMaze-v0", sample_goal_on_reset=True)
    goal = tuple(env.reset(seed=3)[0]["desired_goal"])
    obs, info = env.reset(seed=3, options={"start": (2.0, -0.3)})  # inside the doorway between rooms 1 and 2
    assert np.allclose(obs["observation"], [2.0, -0.3, 0.0, 0.0]) and info["room"] == 1
    assert tuple(obs["desired_goal"]) == goal  # the start option leaves the goal (and its draw) alone
    task = {"goal": (-1.5, -1.5), "start_room": 0}
    obs, _ = env.reset(seed=0, options={"task": task, "start": (-3.0, 3.0)})
    assert np.allclose(obs["achieved_goal"], [-3.0, 3.0]) and np.allclose(obs["desired_goal"], [-1.5, -1.5])
    for bad in [(0.0, -1.0), (0.1, 3.0), (-1.0, -0.1), (4.0, 0.0), (1.0,), "near"]:  # walls, outside, wrong shape
        with pytest.raises(ValueError, match="start"):
            env.reset(options={"start": bad})
    with pytest.raises(ValueError, match=r"known options: \['task', 'start'\]"):
        env.reset(options={"begin": (1.0, 1.0)})


def test_maze_path_length_is_straight_in_a_room_and_through_the_doorways_between_rooms():
    from peach_lite.envs.point_mass import maze_path_length

    opening = 0.5 - 0.15  # the doorway's half width less the mass radius
    assert maze_path_length((-2, -2), (-1, -1)) == pytest.approx(np.sqrt(2))  # one room: straight
    assert maze_path_length((1, -2), (-1, -2)) == pytest.approx(2.0)  # straight through the doorway at (0, -2)
    assert maze_path_length((1, -3), (-1, -3)) == pytest.approx(2 * np.hypot(1, 1 - opening), abs=1e-9)  # via its jamb
    corner = 2 * np.hypot(2, opening) + np.hypot(2 - opening, 2 - opening)  # opposite rooms: two doorways
    starts, ends = np.array([[-2.0, -2.0], [2.0, 2.0], [1.0, 3.0]]), np.array([[2.0, 2.0], [-2.0, -2.0], [-1.0, -3.0]])
    lengths = maze_path_length(starts, ends)
    assert lengths.shape == (3,) and lengths[:2] == pytest.approx([corner, corner], abs=1e-9)
    assert np.all(lengths >= np.linalg.norm(ends - starts, axis=1))
    assert np.array_equal(maze_path_length(ends, starts), lengths)  # symmetric


def test_maze_resamples_goals_on_reset_when_asked():
    env = _make("peach_lite/PointMaze-v0", sample_goal_on_reset=True)
    goals = {tuple(env.reset(seed=s)[0]["desired_goal"]) for s in range(5)}
    assert len(goals) == 5
    assert np.array_equal(env.reset(seed=1)[0]["desired_goal"], env.reset(seed=1)[0]["desired_goal"])


# ----------------------------------------------------------------------------------- locomotion
def test_locomotion_rewards_follow_the_reference_definitions():
    rng = np.random.default_rng(0)
    env = _make("peach_lite/HalfCheetahVel-v0")
    env.reset(seed=0, options={"task": {"velocity": 1.5}})
    action = rng.uniform(-1, 1, size=6)
    _, reward, _, _, info = env.step(action)
    assert reward == pytest.approx(-abs(info["x_velocity"] - 1.5) - 0.05 * np.sum(action**2))
    with pytest.raises(ValueError, match="velocity must be in \\[0.0, 3.0\\]"):
        env.unwrapped.set_task({"velocity": 3.5})
    garage = _make("peach_lite/HalfCheetahVel-v0", velocity_range=(0.0, 2.0)).unwrapped
    assert max(t.velocity for t in garage.train_tasks()) <= 2.0

    env = _make("peach_lite/HalfCheetahDir-v0")
    env.reset(seed=0, options={"task": {"direction": -1}})
    _, reward, _, _, info = env.step(action)
    assert reward == pytest.approx(-info["x_velocity"] - 0.05 * np.sum(action**2))
    assert [t.direction for t in env.unwrapped.test_tasks()] == [-1, 1]

    env = _make("peach_lite/AntDir-v0")
    assert sorted(t.angle for t in env.unwrapped.train_tasks()) == [0.0, pytest.approx(np.pi)]
    env.reset(seed=0, options={"task": {"angle": np.pi / 2}})
    action = rng.uniform(-1, 1, size=8)
    _, reward, _, _, info = env.step(action)
    expected = info["y_velocity"] + 1.0 - 0.5 * np.sum(action**2) + info["reward_contact"]
    assert reward == pytest.approx(expected, abs=1e-9)

    env = _make("peach_lite/AntGoal-v0")
    env.reset(seed=0, options={"task": {"goal": (1.0, -2.0)}})
    obs, reward, terminated, _, info = env.step(action)
    expected = -abs(info["x_position"] - 1) - abs(info["y_position"] + 2) - 0.1 * np.sum(action**2) + info["reward_contact"]
    assert reward == pytest.approx(expected, abs=1e-9) and not terminated and obs.shape == (107,)
    with pytest.raises(ValueError, match="norm of goal"):
        env.unwrapped.set_task({"goal": (2.9, 2.9)})


def test_cheetah_vel_split_is_oysters_draw():
    velocities = np.array([t.velocity for t in _make("peach_lite/HalfCheetahVel-v0").unwrapped.test_tasks()])
    assert len(velocities) == 30 and np.all((0 <= velocities) & (velocities <= 3))
    assert velocities.mean() == pytest.approx(1.418, abs=1e-3)  # cross-check with algorithms.md §2


# ------------------------------------------------------------------------- bandits, grid worlds
def test_bernoulli_bandit_pays_its_probabilities():
    env = _make("peach_lite/BernoulliBandit-v0")
    probs = np.linspace(0.05, 0.95, 20)
    env.reset(seed=0, options={"task": {"probs": probs}})
    pulls = [env.step(3) for _ in range(100)]
    obs = pulls[-1][0]
    assert obs[3] == 1 and obs[:20].sum() == 1 and obs[-1] == pulls[-1][1]
    assert pulls[-1][3] is True  # TimeLimit of 100 pulls
    rewards = [env.unwrapped.step(3)[1] for _ in range(4000)]
    assert np.mean(rewards) == pytest.approx(probs[3], abs=0.03)
    with pytest.raises(ValueError, match="probs must have num_arms = 20"):
        env.unwrapped.set_task({"probs": [0.5] * 3})
    with pytest.raises(ValueError, match="probs\\[1\\] must be in \\[0.0, 1.0\\]"):
        env.unwrapped.set_task({"probs": [0.5, 1.5] + [0.5] * 18})


def test_k_goal_bandit_is_one_pull_per_episode():
    env = _make("peach_lite/KGoalBandit-v0", num_goals=3)
    assert [t.goal for t in env.unwrapped.train_tasks()] == [0, 1, 2]
    env.reset(seed=0, options={"task": {"goal": 2}})
    assert env.step(1)[1:3] == (0.0, True)
    env.reset()
    assert env.step(2)[1:3] == (1.0, True)
    with pytest.raises(ValueError, match="goal must be in \\[0, 2\\]"):
        env.unwrapped.set_task({"goal": 3})


def test_movement_bandits_rewards_only_the_real_goal():
    env = _make("peach_lite/MovementBandits-v0")
    obs, info = env.reset(seed=0, options={"task": {"real_goal": 1}})
    assert np.allclose(obs[:2], 0.5) and np.allclose(obs[2:], info["goals"].reshape(-1) / 400, atol=1e-6)
    base = env.unwrapped
    base._goals = np.array([[220.0, 200.0], [400.0, 400.0]])  # decoy right next to the start
    _, reward, *_ = env.step(1)
    assert reward == 0.0
    base._goals = np.array([[400.0, 400.0], [260.0, 200.0]])
    _, reward, *_ = env.step(1)  # now at (240, 200): 20 from the real goal
    assert reward == 1.0


def test_four_rooms_layout_walls_and_slip():
    from peach_lite.envs.four_rooms import FREE_CELLS, NUM_CELLS, START_CELL

    assert NUM_CELLS == 104 and START_CELL == 62
    env = _make("peach_lite/FourRooms-v0", slip_prob=0.0, obs_type="coords")
    obs, info = env.reset(seed=0, options={"task": {"goal": 0}})
    assert info["cell"] == 62 and obs.shape == (2,)
    row, col = FREE_CELLS[62]
    _, _, _, _, info = env.step(2)  # left of the start is a wall
    assert info["cell"] == 62
    _, _, _, _, info = env.step(0)  # up is free
    assert tuple(FREE_CELLS[info["cell"]]) == (row - 1, col)
    slippery = _make("peach_lite/FourRooms-v0", obs_type="onehot")
    cells = []
    for seed in range(60):
        slippery.reset(seed=seed, options={"task": {"goal": 0}})
        cells.append(slippery.step(0)[4]["cell"])
    assert len(set(cells)) > 1  # the extra random move happens
    with pytest.raises(ValueError, match="differ from start_cell"):
        env.unwrapped.set_task({"goal": 62})
    with pytest.raises(ValueError, match="goal must be in \\[0, 103\\]"):
        env.unwrapped.set_task({"goal": 104})
