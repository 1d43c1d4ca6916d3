# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · A gallery of task distributions
#
# Meta-RL does not learn to solve *a* task: it learns to solve a *family* of tasks that share their
# dynamics but differ in something hidden, a goal, a target velocity, which bandit arm pays. Humplik et
# al. frame it as a POMDP whose hidden state is the task: "a point mass has to find a target on a
# semicircle", "20 arms and 100 horizon, task description: a vector of arm probabilities". PEARL
# benchmarks on the same kind of families (sparse 2-D navigation, cheetah velocity, ant direction),
# MLSH on movement bandits and four rooms, HAC and PEACH on four-rooms mazes.
#
# This lesson tours every family in `peach_lite.envs`, shows how a task is described, sampled and set,
# and computes the **best return each family allows**: the ceiling that no agent in later lessons may
# beat, and the yardstick for how close they get.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %% [markdown]
# ## Making an env
#
# Every family is a gymnasium environment registered under the `peach_lite/` namespace when you
# `import peach_lite.envs` (which is cheap: nothing is compiled until you make an env).
# `peach_lite.envs.make` is `gymnasium.make` plus a clear error for a misspelt id.

# %%
import json
import warnings

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np

import peach_lite.envs as envs
from peach_lite import show_source
from peach_lite.envs import oracles

warnings.filterwarnings("ignore", message=".*settotalmass.*")
for env_id in envs.ENV_IDS:
    spec = gym.spec(env_id)
    print(f"{env_id:34s} horizon {spec.max_episode_steps:4d}   {spec.entry_point}")

# %%
try:
    envs.make("peach_lite/PointRobot-v0")
except ValueError as error:
    print("ValueError:", str(error).splitlines()[0], "...")
    assert "peach_lite/PointRobotSparse-v0" in str(error)

# %% [markdown]
# ## One task API
#
# A **task** is a small frozen dataclass that round-trips through a plain dict (so it can be saved to
# JSON). The unwrapped env samples tasks, holds the current one, and has fixed, seeded train/test
# splits with the sizes the reference code uses (PEARL: 80/20 goals for the point robot, 100/30
# velocities for the cheetah; seed 004: 100/1000 bandits).

# %%
env = envs.make("peach_lite/PointRobotSparse-v0", render_mode="rgb_array")
base = env.unwrapped
task = base.test_tasks()[0]
print("task:", task, " as dict:", json.dumps(task.to_dict()))
print("train/test sizes:", len(base.train_tasks()), len(base.test_tasks()))
print("three fresh tasks:", base.sample_tasks(3, seed=0))
obs, info = env.reset(seed=0, options={"task": task})  # or base.set_task(task) before reset
assert base.get_task() == task == type(task).from_dict(json.loads(json.dumps(task.to_dict())))

# %%
from peach_lite.envs.base import TaskEnvMixin

show_source(TaskEnvMixin.set_task)

# %% [markdown]
# Bad input fails where you made it, naming the field and the allowed range:

# %%
for bad in ({"goal": (3.0, 0.0)}, {"goal": (0.0, 1.0), "radius": 0.2}):
    try:
        base.set_task(bad)
    except ValueError as error:
        print("ValueError:", error)
try:
    env.step(np.zeros(3))
except ValueError as error:
    print("ValueError:", error)
    assert "shape (2,)" in str(error)

# %% [markdown]
# ## One frame per family
#
# Every env renders an RGB frame headless on the CPU: MuJoCo families through EGL with shadows and
# reflections off, numpy families with a tiny rasteriser. Goals are green; the task-known *oracle*
# policy (where there is one) walks a few steps so you can see where it heads.

# %%
from peach_lite.render import show_frames

num_gallery_steps = budget.pick(full=30, fast=8)
frames, titles = [], []
for env_id in envs.ENV_IDS:
    gallery_env = envs.make(env_id, render_mode="rgb_array", width=200, height=200)
    obs, _ = gallery_env.reset(seed=0, options={"task": gallery_env.unwrapped.test_tasks()[-1]})
    try:
        policy = oracles.make_oracle_policy(gallery_env)
    except ValueError:  # locomotion: no computable oracle, act randomly
        gallery_env.action_space.seed(0)
        policy = lambda obs, space=gallery_env.action_space: space.sample()  # noqa: E731
    for _ in range(num_gallery_steps):
        obs, _, terminated, truncated, _ = gallery_env.step(policy(obs))
        if terminated or truncated:
            break
    frames.append(gallery_env.render())
    titles.append(env_id.split("/")[1])
    gallery_env.close()
show_frames(frames, titles, ncols=5, size=2.2)

# %%
assert len(frames) == len(envs.ENV_IDS) and all(f.shape == (200, 200, 3) and f.std() > 1.0 for f in frames)

# %% [markdown]
# ## Grids of sampled tasks
#
# **Point robot (PEARL).** The sparse task's 100 goals sit at `linspace(0, pi, 100)` on the unit
# upper half-circle, shuffled with seed 1337 as oyster does, so the 20 test goals are exactly
# PEARL's. The reward is $1 - \lVert s - g\rVert$ inside radius 0.2, else 0: the agent must search.
# **Maze (HAC, PEACH).** Goals are drawn per room; room 2 is the far one from the start room 0.
# **Cheetah velocity.** Target speeds ~ U[0, 3] (oyster's code; garage uses U[0, 2]).

# %%
sparse = envs.make("peach_lite/PointRobotSparse-v0").unwrapped
maze = envs.make("peach_lite/PointMaze-v0", render_mode="rgb_array", width=240, height=240)
cheetah = envs.make("peach_lite/HalfCheetahVel-v0").unwrapped

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
train = np.array([t.goal for t in sparse.train_tasks()])
test = np.array([t.goal for t in sparse.test_tasks()])
axes[0].scatter(*train.T, s=12, c="tab:gray", label="train goals (80)")
axes[0].scatter(*test.T, s=30, c="tab:green", label="test goals (20)")
axes[0].add_patch(plt.Circle(test[0], 0.2, color="tab:green", alpha=0.2, label="reward zone r = 0.2"))
axes[0].plot(0, 0, "bo", label="start")
axes[0].set(xlabel="x (m)", ylabel="y (m)", title="sparse point robot", aspect="equal")
axes[0].legend(fontsize=7, loc="lower center")

maze_tasks = maze.unwrapped.sample_tasks(budget.pick(full=300, fast=60), seed=0)
maze.reset(seed=0)
axes[1].imshow(maze.render(), extent=(-4.2, 4.2, -4.2, 4.2))
goals = np.array([t.goal for t in maze_tasks])
rooms = np.array([t.goal_room for t in maze_tasks])
for room, color in zip((1, 2, 3), ("tab:orange", "tab:red", "tab:purple")):
    axes[1].scatter(*goals[rooms == room].T, s=6, c=color, label=f"goals in room {room}")
axes[1].set(xlabel="x (m)", ylabel="y (m)", title="maze: start room 0, goal rooms 1-3")
axes[1].legend(fontsize=7, loc="upper left")

velocities_train = [t.velocity for t in cheetah.train_tasks()]
velocities_test = [t.velocity for t in cheetah.test_tasks()]
axes[2].hist([velocities_train, velocities_test], bins=12, stacked=True, label=["train (100)", "test (30)"])
axes[2].axvline(2.0, ls="--", c="k", label="garage's upper bound")
axes[2].set(xlabel="target velocity (m/s)", ylabel="number of tasks", title="cheetah-vel tasks")
axes[2].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %%
assert np.allclose(np.linalg.norm(np.vstack([train, test]), axis=1), 1.0)
assert set(rooms) == {1, 2, 3} and np.isclose(np.mean(velocities_test), 1.418, atol=1e-3)  # oyster's draw

# %% [markdown]
# ## Known optimal returns
#
# The **oracle** knows the task. On the sparse point robot it takes the largest step the action box
# allows straight at the goal: 10 steps to cover the unit radius, then it collects $1 - d$ per step.
# A learner that does not know the goal cannot do that in its first episode: it has to *search*. The
# **sweep** heuristic knows that goals lie on the semicircle, sweeps the arc it has not ruled out yet,
# and heads straight to the goal once a reward reveals it. Its return per episode climbs to the
# oracle's within three or four episodes; no meta-learner can beat it by much, and none can beat the
# oracle.

# %%
show_source(oracles.point_robot_oracle_action)

# %%
test_goals = np.array([t.goal for t in sparse.test_tasks()])
oracle = oracles.point_robot_oracle_return(test_goals)
sweep = oracles.point_robot_sweep_rollout(test_goals, num_episodes=6)
curve = sweep["returns"].mean(axis=1)
random_return = oracles.point_robot_random_return(test_goals)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
episodes = np.arange(1, len(curve) + 1)
left.plot(episodes, curve, "o-", label="sweep heuristic")
left.axhline(oracle, ls="--", c="k", label=f"oracle {oracle:.2f}")
left.axhline(random_return, ls=":", c="tab:red", label=f"random {random_return:.3f}")
left.set(xlabel="episode of the trial", ylabel="sparse return (20 steps)", title="20 PEARL test goals")
left.legend()
for path in sweep["paths"][:3]:
    right.plot(*np.vstack([[0, 0], path]).T, ".-", ms=4)
right.scatter(*test_goals.T, c="tab:green", s=15, label="test goals")
right.set(xlabel="x (m)", ylabel="y (m)", title="sweep paths of episodes 1-3", aspect="equal")
right.legend(fontsize=7)
plt.tight_layout()
plt.show()
print("sweep returns per episode:", np.round(curve, 2), " found:", sweep["found"].mean(axis=1))

# %%
assert np.all(curve <= oracle + 1e-9) and np.isclose(curve[-1], oracle), "the sweep reaches, never beats, the oracle"
assert random_return < curve[0] < curve[1] < curve[2]
assert abs(oracle - 13.38) < 0.01  # cross-check with algorithms.md §2 (computed there independently)

# %% [markdown]
# Every family with a computable ceiling, on its test split. For the **K-goal bandit** (one pull per
# episode, reward 1 for the right goal) a learner that never repeats a wrong goal expects
# $\sum_{t=1}^{H} \min(t, K)/K$ successes in $H$ episodes, and nothing does better. For
# **MovementBandits** the Bayes-optimal value comes from exact dynamic programming over the move
# lattice; committing to one goal at random earns about half the oracle.

# %%
values = oracles.all_reference_values(movement_bandits_draws=budget.pick(full=400, fast=100))
for family, numbers in values.items():
    print(family)
    for name, value in numbers.items():
        print(f"    {name:32s} {np.round(value, 3)}")

# %%
mb = next(numbers for family, numbers in values.items() if family.startswith("MovementBandits"))
assert mb["oracle"] > mb["bayes_optimal"] > mb["commit_to_one"] > mb["random"]
assert oracles.k_goal_bayes_optimal(2, 5) == 4.5 and oracles.k_goal_bayes_optimal(4, 10) < oracles.k_goal_oracle_return(4, 10)
for family, numbers in values.items():
    if "oracle" in numbers and "random" in numbers:
        assert numbers["oracle"] > numbers["random"], family

# %% [markdown]
# ## The point-mass maze and its markers
#
# The maze is the home of HAC and PEACH: sparse reward (-1 per step until within 0.4 of the goal, then
# 0 and the episode ends), a Dict observation with `achieved_goal` and `desired_goal` for hindsight
# relabelling, and `set_markers` to draw subgoals as coloured spheres. Here a scripted controller
# that knows the goal drives from room 0 to the far room 2. We first record its path, then replay it
# with every 8th position drawn as a "subgoal", the way a HAC lesson shows what its top level proposed.

# %%
far_task = next(t for t in maze.unwrapped.test_tasks() if t.goal_room == 2)
subgoal_horizon = 8
obs, _ = maze.reset(seed=0, options={"task": far_task})
path = [obs["achieved_goal"]]
for _ in range(200):
    obs, _, terminated, truncated, _ = maze.step(oracles.maze_waypoint_policy(obs))
    path.append(obs["achieved_goal"])
    if terminated or truncated:
        break
colors = [(1.0, 0.6, 0.1, 1.0), (0.9, 0.2, 0.2, 1.0), (0.6, 0.2, 0.8, 1.0), (0.1, 0.7, 0.8, 1.0)]
subgoals = [(path[i], colors[k % len(colors)]) for k, i in enumerate(range(subgoal_horizon, len(path) - 1, subgoal_horizon))]
maze.unwrapped.set_markers(subgoals)

obs, _ = maze.reset(seed=0, options={"task": far_task})  # same seed: the same episode again
maze_frames, total = [maze.render()], 0.0
for step in range(200):
    obs, reward, terminated, truncated, info = maze.step(oracles.maze_waypoint_policy(obs))
    total += reward
    if step % 6 == 5 or terminated:
        maze_frames.append(maze.render())
    if terminated or truncated:
        break
print(f"reached the goal: {info['is_success']} after {step + 1} steps, return {total:.0f}; {len(subgoals)} subgoals drawn")
show_frames(maze_frames[:: max(1, len(maze_frames) // 6)][:6], ncols=6, size=2.0)

# %%
assert info["is_success"] and total == -step  # -1 per step, 0 on the last
assert np.allclose(obs["achieved_goal"], path[-1])  # the replay is the recorded episode
assert np.array_equal(maze.unwrapped.compute_reward(np.zeros((5, 2)), np.zeros(2), None), np.zeros(5))
assert oracles.random_policy_return("peach_lite/PointMaze-v0", num_episodes=2, tasks=[far_task]) == -200.0

# %% [markdown]
# ## Locomotion: the do-nothing baseline
#
# HalfCheetahVel pays $-|v_x - v| - 0.05\lVert a\rVert^2$ per step, so its best return is at most 0
# and standing still earns about $-200\,v$ over 200 steps. These families subclass gymnasium's v5
# envs and only swap the reward, computed from `info["x_velocity"]`:

# %%
from peach_lite.envs.locomotion import HalfCheetahVelEnv

show_source(HalfCheetahVelEnv.step)

# %%
targets = np.linspace(0.5, 3.0, budget.pick(full=6, fast=3))
still = [oracles.cheetah_vel_zero_action_return(v) for v in targets]
plt.figure(figsize=(4.5, 3))
plt.plot(targets, still, "o-", label="zero action")
plt.plot(targets, -200 * targets, "--", c="k", label="-200 v")
plt.axhline(0, ls=":", c="tab:green", label="upper bound 0")
plt.xlabel("target velocity v (m/s)")
plt.ylabel("return over 200 steps")
plt.legend()
plt.show()
assert np.allclose(still, -200 * targets, atol=0.5)

# %% [markdown]
# ## Throughput
#
# Numpy families step at tens of thousands of steps per second, MuJoCo point masses at around ten
# thousand, Ant at a few thousand. `benchmarks/env_speed.py` measures every family and the overhead of
# our locomotion subclasses over the bare gymnasium env (goal: at most 1.15x). For many envs at once,
# `envs.make_vec(env_id, num_envs)` gives each sub-env its own task with `envs.set_tasks`; the point
# robots have a native numpy vector env that steps all robots in one array operation.

# %%
import time

from peach_lite.results import read_results

try:
    speed = read_results("env_speed")
    print(json.dumps(speed["headline"], indent=1))
    print("slowest family:", speed["details"]["slowest_family"])
except FileNotFoundError as missing:
    print(missing)

# %%
from peach_lite.results import show_figure

show_figure("env_speed")  # the benchmark's figure, data/results/env_speed.png

# %%
num_robots = budget.pick(full=4096, fast=256)
vec = envs.make_vec("peach_lite/PointRobotSparse-v0", num_envs=num_robots)
envs.set_tasks(vec, [sparse.test_tasks()[i % 20] for i in range(num_robots)])
vec_obs, _ = vec.reset(seed=0)
start, steps = time.perf_counter(), 0
while time.perf_counter() - start < 0.2:
    vec_obs, vec_reward, *_ = vec.step(vec.action_space.sample())
    steps += 1
print(f"{type(vec.unwrapped).__name__}: observation batch {vec_obs.shape}, "
      f"{steps * num_robots / (time.perf_counter() - start):,.0f} robot-steps/s")
assert envs.get_tasks(vec)[:20] == sparse.test_tasks()
vec.close()

# %% [markdown]
# ## Exercise: the sparse reward
#
# Write the sparse point-robot reward for a batch of positions: $1 - \lVert s - g\rVert$ where the
# distance is at most the goal radius 0.2, and 0 elsewhere. Input shapes `(..., 2)`, output `(...)`.
# The check compares it with the env's own `point_robot_rewards` on random inputs.

# %%
from peach_lite.checks import check_sparse_reward
from peach_lite.envs.point_robot import point_robot_rewards


def my_sparse_reward(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    # YOUR CODE HERE: replace the next line (hint: np.linalg.norm(..., axis=-1) and np.where)
    raise NotImplementedError


check_sparse_reward(my_sparse_reward)

# %%
assert check_sparse_reward(lambda s, g: point_robot_rewards(s, g)[1])
assert not check_sparse_reward(lambda s, g: -np.linalg.norm(s - g, axis=-1))

# %% [markdown]
# ## Pick a task
#
# Choose a family and a test task; the frame shows where the oracle (or a random policy, for
# locomotion) gets in a few steps. (In tests the cell runs once with the default values.)

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
from IPython.display import display

family = widgets.Dropdown(options=list(envs.ENV_IDS), value="peach_lite/PointMaze-v0", description="family")
task_index = widgets.IntSlider(value=0, min=0, max=19, description="test task")
_picker_envs: dict = {}


def rounded(task) -> str:
    """``Task(field=value, ...)`` with floats to 2 decimals, for a readable title."""
    def short(value):
        if isinstance(value, (bool, int, str)) or value is None:
            return value
        try:
            return np.round(np.asarray(value, dtype=float), 2).tolist()
        except (TypeError, ValueError):
            return value

    return f"{type(task).__name__}(" + ", ".join(f"{k}={short(v)}" for k, v in task.to_dict().items()) + ")"


def show_task(env_id: str, index: int) -> None:
    if env_id not in _picker_envs:
        _picker_envs[env_id] = envs.make(env_id, render_mode="rgb_array", width=240, height=240)
    picked = _picker_envs[env_id]
    tasks = picked.unwrapped.test_tasks()
    chosen = tasks[index % len(tasks)]
    obs, _ = picked.reset(seed=0, options={"task": chosen})
    try:
        policy = oracles.make_oracle_policy(picked)
    except ValueError:
        policy = lambda obs: picked.action_space.sample()  # noqa: E731
    total = 0.0
    for _ in range(num_gallery_steps):
        obs, reward, terminated, truncated, _ = picked.step(policy(obs))
        total += reward
        if terminated or truncated:
            break
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    ax.imshow(picked.render())
    ax.set_title(rounded(chosen)[:60] + f"\nreturn after {num_gallery_steps} steps: {total:.2f}", fontsize=7)
    ax.axis("off")
    plt.show()


display(widgets.HBox([family, task_index]), widgets.interactive_output(show_task, {"env_id": family, "index": task_index}))

# %% [markdown]
# ## Every family passes gymnasium's checker
#
# `gymnasium.utils.env_checker.check_env` resets with seeds, checks determinism, spaces and
# rendering. The tests run it on every id; here on the numpy families (fast).

# %%
from gymnasium.utils.env_checker import check_env

for env_id in envs.NUMPY_ENV_IDS:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our numpy families raise no checker warning at all
        check_env(envs.make(env_id, render_mode="rgb_array", width=64, height=64).unwrapped)
print("check_env passed for", len(envs.NUMPY_ENV_IDS), "families")

# %% [markdown]
# ## What's next
#
# Lesson 02 treats the hidden task as the hidden state of a POMDP and keeps a belief over it; from
# then on, every agent's return is compared with the ceilings computed here, and none may exceed them.
