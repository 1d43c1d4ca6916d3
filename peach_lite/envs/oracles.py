"""Reference policies and the best returns they can reach: the ceilings no learned agent may beat.

Every number here is *computed* from the environment definitions (nothing is pasted in):

* **oracle**: the task is known (goal, real bandit, arm probabilities) and the policy is optimal or
  a tight scripted one (greedy box-clipped steps for the point robot);
* **Bayes-optimal**: the best a learner can do when the task is hidden and only the prior is known
  (closed form for the K-goal bandit, exact dynamic programming for MovementBandits);
* **heuristics**: the semicircle *sweep* of the sparse point robot, commit-to-one-goal in
  MovementBandits, the do-nothing cheetah;
* **random**: uniformly random actions (exact where a small DP allows, else averaged rollouts).

The discrete families (bandits, K-goal, MovementBandits, four rooms) live in
:mod:`peach_lite.envs.oracles_discrete`, the hidden-goal maze of PEACH in
:mod:`peach_lite.envs.oracles_maze`; both are re-exported here. Later lessons call these to check that no
learned agent exceeds its oracle. The command
``python -m peach_lite.envs.oracles`` prints every value.

Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from peach_lite.envs.oracles_discrete import (  # the discrete families' values, re-exported here
    bernoulli_bandit_oracle_return,
    bernoulli_bandit_random_return,
    four_rooms_oracle_action,
    four_rooms_values,
    k_goal_bayes_optimal,
    k_goal_oracle_return,
    k_goal_random_return,
    movement_bandits_oracle_action,
    movement_bandits_oracle_actions,
    movement_bandits_random_return,
    movement_bandits_values,
    movement_bandits_values_for_goals,
)
from peach_lite.envs.oracles_maze import (  # the hidden-goal maze's values (PEACH), re-exported here
    MazeSitesValues,
    MazeTourPolicy,
    maze_hidden_oracle_policy,
    maze_sites_values,
    posterior_sampling_curves,
)
from peach_lite.envs.point_robot import GOAL_RADIUS, HORIZON, MAX_STEP, point_robot_rewards
from peach_lite.validation import check_choice, check_range

__all__ = [
    # point robot
    "point_robot_oracle_action",
    "point_robot_oracle_return",
    "dense_point_robot_oracle_return",
    "point_robot_sweep_rollout",
    "point_robot_sweep_returns",
    "point_robot_random_return",
    # bandits
    "bernoulli_bandit_oracle_return",
    "bernoulli_bandit_random_return",
    "k_goal_bayes_optimal",
    "k_goal_oracle_return",
    "k_goal_random_return",
    # MovementBandits
    "movement_bandits_values",
    "movement_bandits_values_for_goals",
    "movement_bandits_random_return",
    "movement_bandits_oracle_action",
    "movement_bandits_oracle_actions",
    # four rooms
    "four_rooms_values",
    "four_rooms_oracle_action",
    # maze
    "maze_waypoint_policy",
    "maze_reference_return",
    # hidden-goal maze (oracles_maze)
    "MazeSitesValues",
    "MazeTourPolicy",
    "maze_hidden_oracle_policy",
    "maze_sites_values",
    "posterior_sampling_curves",
    # locomotion
    "cheetah_vel_zero_action_return",
    # generic
    "rollout_return",
    "random_policy_return",
    "make_oracle_policy",
    "all_reference_values",
    "dense_point_robot_blind_return",
]


# ====================================================================================== point robot
def point_robot_oracle_action(position: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The task-known policy: the largest box-clipped step towards the goal, as a [-1, 1] action.

    Args:
        position: (..., 2) current positions.
        goal: (..., 2) goals.
    Returns:
        (..., 2) normalised actions (multiply by 0.1 for the raw move).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    return np.clip((np.asarray(goal) - np.asarray(position)) / MAX_STEP, -1.0, 1.0)


def point_robot_oracle_return(
    goals: np.ndarray,
    *,
    reward_type: str = "sparse",
    starts: np.ndarray | None = None,
    horizon: int = HORIZON,
    goal_radius: float = GOAL_RADIUS,
    per_goal: bool = False,
) -> float | np.ndarray:
    """Return of the greedy box-clipped oracle, averaged over goals (or one value per goal).

    Args:
        goals: (N, 2) goals, e.g. the 20 sparse test goals.
        reward_type: ``"sparse"`` or ``"dense"``.
        starts: (N, 2) start positions; (0, 0) when ``None``.
        horizon: steps per episode (20).
        goal_radius: sparse-reward radius (0.2).
        per_goal: return the (N,) array instead of its mean.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    check_choice("reward_type", reward_type, ["sparse", "dense"])
    goals = _goals_array(goals)
    state = np.zeros_like(goals) if starts is None else np.array(starts, dtype=np.float64)
    if state.shape != goals.shape:
        raise ValueError(f"starts must have shape {goals.shape}, got {state.shape}")
    returns = _greedy_returns(state, goals, horizon, goal_radius, reward_type)
    return returns if per_goal else float(returns.mean())


def dense_point_robot_oracle_return(goals: np.ndarray, *, num_starts: int = 200_000, seed: int = 0) -> float:
    """Expected oracle return on the dense point robot: random start ~ U[-1, 1]^2, goal uniform over ``goals``.

    Monte Carlo over ``num_starts`` (start, goal) pairs; the standard error is about 0.01 at 200k.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    goals = _goals_array(goals)
    check_range("num_starts", num_starts, 1, 10_000_000)
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-1.0, 1.0, size=(int(num_starts), 2))
    paired = goals[rng.integers(0, len(goals), size=int(num_starts))]
    return float(_greedy_returns(starts, paired, HORIZON, GOAL_RADIUS, "dense").mean())


def dense_point_robot_blind_return(goals: np.ndarray, target: np.ndarray, *, num_starts: int = 200_000, seed: int = 0) -> float:
    """Expected return of a *blind* agent on the dense point robot: it ignores the task and heads for
    ``target`` (e.g. the training goals' centroid) while the reward is -distance to the real goal.

    Same random starts and goal pairing as :func:`dense_point_robot_oracle_return` (same ``seed``), so the
    two are directly comparable: scores normalised as (return - blind) / (oracle - blind) put the blind
    agent at 0 and the oracle at 1 (MQL's scale).

    Taught in notebooks/08_mql.py (section "Scores between blind and oracle").
    """
    goals = _goals_array(goals)
    target = np.asarray(target, dtype=np.float64).reshape(2)
    check_range("num_starts", num_starts, 1, 10_000_000)
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-1.0, 1.0, size=(int(num_starts), 2))
    paired = goals[rng.integers(0, len(goals), size=int(num_starts))]
    return float(_greedy_returns(starts, paired, HORIZON, GOAL_RADIUS, "dense", heading=np.broadcast_to(target, paired.shape)).mean())


def point_robot_sweep_rollout(
    goals: np.ndarray, num_episodes: int = 6, *, goal_radius: float = GOAL_RADIUS, horizon: int = HORIZON
) -> dict[str, np.ndarray]:
    """Simulate the semicircle *sweep* heuristic, a hand-made near-Bayes explorer, on each goal.

    The heuristic knows that goals lie on the unit upper half-circle and keeps track of the arc it
    has already ruled out (every arc point within ``goal_radius`` of a visited position that paid 0):

    1. An episode starts at (0, 0) and heads (greedy box-clipped steps) for the first arc angle not
       yet ruled out, but not below delta = 2 arcsin(r/2) (from there the goal at angle 0 is in reach).
    2. On the arc it sweeps counter-clockwise with the largest steps that fit the action box.
    3. At the first non-zero reward it assumes perfect localisation and goes straight to the goal;
       every later episode is the oracle.

    Args:
        goals: (N, 2) goals on the semicircle.
        num_episodes: episodes per trial.
    Returns:
        dict with ``returns`` (num_episodes, N) sparse returns, ``found`` (num_episodes, N) whether the
        goal has been found by the end of each episode, ``paths`` list of (horizon, 2) sweep paths.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    goals = _goals_array(goals)
    check_range("num_episodes", num_episodes, 1, 1000)
    delta = 2.0 * np.arcsin(goal_radius / 2.0)
    oracle = _greedy_returns(np.zeros_like(goals), goals, horizon, goal_radius, "sparse")
    known = np.zeros(len(goals), dtype=bool)
    covered: list[tuple[float, float]] = []
    returns, found, paths = [], [], []
    for _ in range(int(num_episodes)):
        frontier = _first_uncovered(covered)
        episode = np.where(known, oracle, 0.0)
        if frontier is not None:
            path = _sweep_path(max(frontier, delta), horizon)
            paths.append(path)
            covered += [_arc_interval(point, goal_radius) for point in path]
            _, sparse = point_robot_rewards(path[None, :, :], goals[:, None, :], goal_radius)  # (N, horizon)
            hit = sparse > 0
            newly = ~known & hit.any(axis=1)
            first = np.argmax(hit, axis=1)
            for i in np.nonzero(newly)[0]:
                k = first[i]
                rest = _greedy_returns(path[k][None], goals[i][None], horizon - 1 - k, goal_radius, "sparse")[0]
                episode[i] = sparse[i, k] + rest
            known |= newly
        returns.append(episode)
        found.append(known.copy())
    return {"returns": np.array(returns), "found": np.array(found), "paths": paths}


def point_robot_sweep_returns(goals: np.ndarray, num_episodes: int = 6) -> np.ndarray:
    """Mean return per episode of the sweep heuristic (see ``point_robot_sweep_rollout``).

    Returns:
        (num_episodes,) mean sparse return of episodes 1, 2, ... of a trial.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    return point_robot_sweep_rollout(goals, num_episodes)["returns"].mean(axis=1)


def point_robot_random_return(
    goals: np.ndarray, *, reward_type: str = "sparse", random_start: bool = False, num_episodes: int = 2000, seed: int = 0
) -> float:
    """Mean return of uniformly random actions in [-1, 1]^2 (Monte Carlo, vectorised).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    check_choice("reward_type", reward_type, ["sparse", "dense"])
    goals = _goals_array(goals)
    rng = np.random.default_rng(seed)
    paired = goals[rng.integers(0, len(goals), size=int(num_episodes))]
    state = rng.uniform(-1, 1, size=paired.shape) if random_start else np.zeros_like(paired)
    total = np.zeros(len(paired))
    for _ in range(HORIZON):
        state = state + MAX_STEP * rng.uniform(-1.0, 1.0, size=state.shape)
        dense, sparse = point_robot_rewards(state, paired)
        total += sparse if reward_type == "sparse" else dense
    return float(total.mean())


def _goals_array(goals: Any) -> np.ndarray:
    array = np.asarray(goals, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"goals must have shape (N, 2) with N >= 1, got {array.shape}")
    return array


def _greedy_returns(state: np.ndarray, goals: np.ndarray, steps: int, goal_radius: float, reward_type: str,
                    heading: np.ndarray | None = None) -> np.ndarray:
    """Greedy box-clipped steps towards ``heading`` (default: the goals), rewarded against ``goals``."""
    state = np.array(state, dtype=np.float64)
    heading = goals if heading is None else heading
    total = np.zeros(len(goals))
    for _ in range(int(steps)):
        state = state + np.clip(heading - state, -MAX_STEP, MAX_STEP)
        dense, sparse = point_robot_rewards(state, goals, goal_radius)
        total += sparse if reward_type == "sparse" else dense
    return total


def _sweep_path(theta0: float, horizon: int) -> np.ndarray:
    """Approach the arc point at ``theta0`` greedily, then follow the arc counter-clockwise."""
    target = np.array([np.cos(theta0), np.sin(theta0)])
    state, phi, path = np.zeros(2), None, []
    for _ in range(horizon):
        if phi is None:
            state = state + np.clip(target - state, -MAX_STEP, MAX_STEP)
            if np.allclose(state, target, atol=1e-12):
                phi = theta0
        else:
            phi = min(phi + _largest_arc_step(phi), np.pi)
            state = np.array([np.cos(phi), np.sin(phi)])
        path.append(state.copy())
    return np.array(path)


def _largest_arc_step(phi: float) -> float:
    """Largest d with both |cos(phi+d) - cos(phi)| and |sin(phi+d) - sin(phi)| <= MAX_STEP (bisection)."""
    low, high = 0.0, 4 * MAX_STEP
    for _ in range(50):
        mid = 0.5 * (low + high)
        move = max(abs(np.cos(phi + mid) - np.cos(phi)), abs(np.sin(phi + mid) - np.sin(phi)))
        low, high = (mid, high) if move <= MAX_STEP + 1e-12 else (low, mid)
    return low


def _arc_interval(point: np.ndarray, radius: float) -> tuple[float, float]:
    """Angles phi in [0, pi] whose arc point (cos phi, sin phi) lies within ``radius`` of ``point``."""
    rho = float(np.hypot(*point))
    if rho < 1e-12:
        return (1.0, 0.0) if radius < 1 else (0.0, np.pi)
    cos_limit = (1.0 + rho**2 - radius**2) / (2 * rho)
    if cos_limit > 1:
        return (1.0, 0.0)  # empty
    alpha = float(np.arctan2(point[1], point[0]))
    half = float(np.arccos(max(cos_limit, -1.0)))
    return (alpha - half, alpha + half)


def _first_uncovered(intervals: Sequence[tuple[float, float]]) -> float | None:
    """Smallest angle in [0, pi] not inside any interval, or None when the whole arc is covered."""
    frontier = 0.0
    for low, high in sorted((lo, hi) for lo, hi in intervals if hi >= lo):
        if low > frontier + 1e-12:
            break
        frontier = max(frontier, high)
    return None if frontier >= np.pi else frontier


# ============================================================================================ maze
def maze_waypoint_policy(obs: dict[str, np.ndarray]) -> np.ndarray:
    """A scripted goal-known controller for ``PointMaze``: head for the next doorway, then the goal.

    In the goal's room it steers straight at the goal. Otherwise it picks the next room on the
    shorter way round (rooms form a ring of four) and steers to a point 0.6 in front of that
    doorway; once lined up with the doorway it steers to a point 0.6 beyond it. Full speed until
    within 0.2 of the target (a P-controller below that).

    Args:
        obs: the maze's Dict observation (``achieved_goal``, ``desired_goal``).
    Returns:
        (2,) action in [-1, 1].

    Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
    """
    from peach_lite.envs.point_mass import DOORS, room_of

    position = np.asarray(obs["achieved_goal"], dtype=np.float64)
    goal = np.asarray(obs["desired_goal"], dtype=np.float64)
    room, goal_room = int(room_of(position)), int(room_of(goal))
    if room == goal_room:
        target = goal
    else:
        candidates = [(room + 1) % 4, (room - 1) % 4]
        if goal_room in candidates:
            next_room = goal_room
        else:  # opposite room: go round the shorter way

            def via(neighbour: int) -> float:
                first = DOORS[tuple(sorted((room, neighbour)))]
                second = DOORS[tuple(sorted((neighbour, goal_room)))]
                return float(np.linalg.norm(first - position) + np.linalg.norm(second - first) + np.linalg.norm(goal - second))

            next_room = min(candidates, key=via)
        door = DOORS[tuple(sorted((room, next_room)))]
        across = 0 if door[0] == 0.0 else 1  # the coordinate that changes when crossing this wall
        along = 1 - across
        side = np.sign(position[across]) or 1.0
        approach, beyond = door.copy(), door.copy()
        approach[across], beyond[across] = 0.6 * side, -0.6 * side
        target = beyond if abs(position[along] - door[along]) < 0.3 else approach
    return np.clip((target - position) / 0.2, -1.0, 1.0).astype(np.float32)


def maze_reference_return(tasks: Sequence[Any] | None = None, *, seed: int = 0, **env_kwargs: Any) -> dict[str, float]:
    """Mean return, success rate and episode length of ``maze_waypoint_policy`` on maze tasks.

    Args:
        tasks: maze tasks (default: the env's 20 test tasks).
        seed: reset seed of the first episode (episode i uses seed + i).
        **env_kwargs: forwarded to ``peach_lite/PointMaze-v0`` (e.g. ``reward_type``).

    Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
    """
    from peach_lite.envs import make

    env = make("peach_lite/PointMaze-v0", **env_kwargs)
    tasks = list(env.unwrapped.test_tasks() if tasks is None else tasks)
    returns, successes, lengths = [], [], []
    for i, task in enumerate(tasks):
        total, steps, info = rollout_return(env, maze_waypoint_policy, seed=seed + i, options={"task": task})
        returns.append(total)
        successes.append(bool(info.get("is_success", False)))
        lengths.append(steps)
    env.close()
    return {"mean_return": float(np.mean(returns)), "success_rate": float(np.mean(successes)), "mean_length": float(np.mean(lengths))}


# ====================================================================================== locomotion
def cheetah_vel_zero_action_return(target_velocity: float, *, horizon: int = 200, seed: int = 0) -> float:
    """Return of the do-nothing policy on HalfCheetahVel: about -horizon * target_velocity.

    The cheetah barely moves with zero torques, so each step pays about -|0 - v|; the reward's upper
    bound is 0 (matching v exactly with no control cost).

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """
    from peach_lite.envs import make

    check_range("target_velocity", target_velocity, 0.0, 10.0)
    env = make("peach_lite/HalfCheetahVel-v0", max_episode_steps=horizon)
    env.unwrapped.set_task({"velocity": float(target_velocity)})
    total, _, _ = rollout_return(env, lambda obs: np.zeros(env.action_space.shape), seed=seed)
    env.close()
    return total


# ========================================================================================= generic
def rollout_return(
    env: Any, policy: Callable[[Any], Any], *, seed: int | None = None, options: dict[str, Any] | None = None
) -> tuple[float, int, dict[str, Any]]:
    """Run one episode of ``policy`` (obs -> action) and return (total reward, steps, last info).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    obs, info = env.reset(seed=seed, options=options)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total += float(reward)
        steps += 1
        done = terminated or truncated
    return total, steps, info


def random_policy_return(env_id: str, *, num_episodes: int = 10, seed: int = 0, tasks: Sequence[Any] | None = None, **kwargs: Any) -> float:
    """Mean return of uniformly random actions over ``num_episodes`` episodes (tasks cycled).

    Args:
        env_id: a ``peach_lite/`` id.
        tasks: tasks to cycle through (default: the env's test split).
        **kwargs: forwarded to ``make``.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs import make

    check_range("num_episodes", num_episodes, 1, 1_000_000)
    env = make(env_id, **kwargs)
    tasks = list(env.unwrapped.test_tasks() if tasks is None else tasks)
    env.action_space.seed(seed)
    returns = []
    for episode in range(int(num_episodes)):
        task = tasks[episode % len(tasks)]
        total, _, _ = rollout_return(env, lambda obs: env.action_space.sample(), seed=seed + episode, options={"task": task})
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def make_oracle_policy(env: Any) -> Callable[[Any], Any]:
    """The task-known policy of ``env``'s family for its current task, as ``obs -> action``.

    The policy reads the task from ``env.unwrapped.get_task()`` at every call, so it follows
    ``set_task``. Families without a computable oracle (locomotion) raise ValueError.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs.bandits import BernoulliBanditEnv, KGoalBanditEnv
    from peach_lite.envs.four_rooms import FourRoomsEnv
    from peach_lite.envs.movement_bandits import MovementBanditsEnv
    from peach_lite.envs.point_robot import PointRobotEnv

    base = env.unwrapped
    if isinstance(base, PointRobotEnv):  # also the point mass; goal-conditioned variants observe a dict
        return lambda obs: point_robot_oracle_action(obs["achieved_goal"] if isinstance(obs, dict) else obs,
                                                     np.asarray(base.get_task().goal)).astype(np.float32)
    if isinstance(base, BernoulliBanditEnv):
        return lambda obs: int(np.argmax(base.get_task().probs))
    if isinstance(base, KGoalBanditEnv):
        return lambda obs: base.get_task().goal
    if isinstance(base, MovementBanditsEnv):
        return lambda obs: movement_bandits_oracle_action(obs, base.get_task().real_goal)
    if isinstance(base, FourRoomsEnv):
        return lambda obs: four_rooms_oracle_action(base._cell, base.get_task().goal, base.slip_prob)
    if type(base).__name__ == "PointMazeEnv":
        return maze_waypoint_policy
    if type(base).__name__ == "PointMazeHiddenEnv":
        return maze_hidden_oracle_policy(base)
    raise ValueError(f"no oracle policy for {type(base).__name__}; known for point robot/mass, bandits, MovementBandits, four rooms, maze")


def all_reference_values(movement_bandits_draws: int = 400) -> dict[str, dict[str, Any]]:
    """Compute every reference value of this module on the fixed splits (a few seconds).

    Args:
        movement_bandits_draws: goal pairs averaged for MovementBandits (400 in algorithms.md §2).
    Returns:
        ``{family: {name: value}}``; ``python -m peach_lite.envs.oracles`` prints it.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs import make
    from peach_lite.envs.point_robot import semicircle_goals, square_goals

    semicircle, square = semicircle_goals(), square_goals()
    sweep = point_robot_sweep_rollout(semicircle[80:], 6)
    bandit = make("peach_lite/BernoulliBandit-v0").unwrapped
    bandit_probs = np.array([t.probs for t in bandit.test_tasks()])
    rooms = make("peach_lite/FourRooms-v0").unwrapped
    room_values = [four_rooms_values(t.goal) for t in rooms.test_tasks()]
    cheetah = make("peach_lite/HalfCheetahVel-v0").unwrapped
    velocities = np.array([t.velocity for t in cheetah.test_tasks()])
    return {
        "PointRobotSparse (20 test goals)": {
            "oracle": point_robot_oracle_return(semicircle[80:]),
            "oracle_all_100_goals": point_robot_oracle_return(semicircle),
            "sweep_returns_episodes_1_to_6": sweep["returns"].mean(axis=1).round(4).tolist(),
            "sweep_found_fraction": sweep["found"].mean(axis=1).round(4).tolist(),
            "random": point_robot_random_return(semicircle[80:]),
        },
        "PointRobotDense (20 test goals, random starts)": {
            "oracle": dense_point_robot_oracle_return(square[80:]),
            "random": point_robot_random_return(square[80:], reward_type="dense", random_start=True),
        },
        "KGoalBandit": {
            "bayes_optimal_K2_H5": k_goal_bayes_optimal(2, 5),
            "bayes_optimal_K4_H10": k_goal_bayes_optimal(4, 10),
            "oracle_K4_H10": k_goal_oracle_return(4, 10),
            "random_K4_H10": k_goal_random_return(4, 10),
        },
        "BernoulliBandit (1000 test tasks, 100 pulls)": {
            "oracle": bernoulli_bandit_oracle_return(bandit_probs),
            "random": bernoulli_bandit_random_return(bandit_probs),
        },
        f"MovementBandits ({movement_bandits_draws} goal draws)": movement_bandits_values(movement_bandits_draws, 0),
        "FourRooms (23 test goals, 100 steps)": {
            "oracle": float(np.mean([v["oracle"] for v in room_values])),
            "random": float(np.mean([v["random"] for v in room_values])),
            "oracle_steps": float(np.mean([v["oracle_steps"] for v in room_values])),
        },
        "PointMaze (20 test tasks, waypoint controller)": maze_reference_return(),
        "HalfCheetahVel (zero action)": {
            "v=1.0": cheetah_vel_zero_action_return(1.0),
            "v=1.5": cheetah_vel_zero_action_return(1.5),
            "test_mean_velocity": float(velocities.mean()),
            "test_mean_return_approx_-200v": float(-200 * velocities.mean()),
            "upper_bound": 0.0,
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(all_reference_values(), indent=2))
