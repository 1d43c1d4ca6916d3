"""Reference values of the discrete task families: bandits, the K-goal bandit, MovementBandits, four rooms.

Oracle, Bayes-optimal and random returns computed from the environment definitions (closed forms and exact
dynamic programming). Part of :mod:`peach_lite.envs.oracles`, which re-exports every name here.

Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from peach_lite.validation import check_choice, check_range

__all__ = [
    "bernoulli_bandit_oracle_return",
    "bernoulli_bandit_random_return",
    "k_goal_bayes_optimal",
    "k_goal_oracle_return",
    "k_goal_random_return",
    "movement_bandits_values",
    "movement_bandits_values_for_goals",
    "movement_bandits_random_return",
    "movement_bandits_oracle_action",
    "movement_bandits_oracle_actions",
    "four_rooms_values",
    "four_rooms_oracle_action",
]


# ========================================================================================= bandits
def bernoulli_bandit_oracle_return(probs: np.ndarray, horizon: int = 100) -> float:
    """Task-known oracle: always pull the best arm, ``horizon * max(probs)`` expected reward.

    Args:
        probs: (num_arms,) or (num_tasks, num_arms) arm probabilities; several tasks are averaged.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    return float(horizon * np.atleast_2d(np.asarray(probs, dtype=np.float64)).max(axis=1).mean())


def bernoulli_bandit_random_return(probs: np.ndarray, horizon: int = 100) -> float:
    """Uniformly random arms: ``horizon * mean(probs)`` expected reward (averaged over tasks)."""
    return float(horizon * np.atleast_2d(np.asarray(probs, dtype=np.float64)).mean())


def k_goal_bayes_optimal(num_goals: int, num_episodes: int) -> float:
    """Bayes-optimal expected successes in a trial of the K-goal bandit: sum_{t=1..H} min(t, K)/K.

    Never repeating a wrong goal, the learner has tried t distinct goals by episode t, which holds
    the rewarding one with probability min(t, K)/K; once found it is repeated.

    Args:
        num_goals: K >= 1.
        num_episodes: H >= 1 episodes (one pull each) per trial.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    check_range("num_goals", num_goals, 1, None)
    check_range("num_episodes", num_episodes, 1, None)
    t = np.arange(1, int(num_episodes) + 1)
    return float(np.minimum(t, num_goals).sum() / num_goals)


def k_goal_oracle_return(num_goals: int, num_episodes: int) -> float:
    """Task-known oracle: one success per episode, H."""
    check_range("num_goals", num_goals, 1, None)
    check_range("num_episodes", num_episodes, 1, None)
    return float(num_episodes)


def k_goal_random_return(num_goals: int, num_episodes: int) -> float:
    """Uniformly random goals: H/K expected successes."""
    check_range("num_goals", num_goals, 1, None)
    check_range("num_episodes", num_episodes, 1, None)
    return float(num_episodes) / float(num_goals)


# ================================================================================= MovementBandits
def movement_bandits_values(num_draws: int = 400, seed: int = 0) -> dict[str, float]:
    """Oracle, Bayes-optimal, commit-to-one and random returns of MovementBandits (50 steps).

    Goal pairs are drawn ~ U[0, 400]^2 (``num_draws`` pairs from ``default_rng(seed)``) and each is
    solved exactly by dynamic programming on the move lattice (``movement_bandits_values_for_goals``);
    the random policy is exact too (position distribution of the random walk times the chance that
    a uniform goal lies within 50 units). The real goal is 0 or 1 with probability 1/2.

    Returns:
        dict with ``oracle``, ``bayes_optimal``, ``commit_to_one``, ``random`` (mean returns) and
        ``oracle_sem`` (standard error of the oracle mean over draws). Cached (a fresh copy each call).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    check_range("num_draws", num_draws, 1, 100_000)
    return dict(_movement_bandits_values(int(num_draws), int(seed)))


@lru_cache(maxsize=8)
def _movement_bandits_values(num_draws: int, seed: int) -> dict[str, float]:
    from peach_lite.envs.movement_bandits import ARENA

    goals = np.random.default_rng(seed).uniform(0.0, ARENA, size=(int(num_draws), 2, 2))
    per_draw = movement_bandits_values_for_goals(goals)
    oracle = per_draw["oracle"].mean(axis=1)
    return {
        "oracle": float(oracle.mean()),
        "oracle_sem": float(oracle.std() / np.sqrt(len(oracle))),
        "bayes_optimal": float(per_draw["bayes_optimal"].mean()),
        "commit_to_one": float(per_draw["commit_to_one"].mean()),
        "random": movement_bandits_random_return(),
    }


def movement_bandits_values_for_goals(goals: np.ndarray) -> dict[str, np.ndarray]:
    """Exact values for given goal pairs, from the start (200, 200) with 50 steps.

    Args:
        goals: (D, 2, 2) goal pairs (draw, goal index, xy).
    Returns:
        dict of arrays: ``oracle`` (D, 2) return when goal k is real and known; ``bayes_optimal`` (D,)
        best expected return with the real goal hidden (50/50 prior), by backward induction over
        (lattice position, steps left) while the goal is unknown; ``commit_to_one`` (D,) expected
        return of walking to one goal chosen at random (shortest lattice path) and staying there.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs.movement_bandits import HORIZON

    goals = np.asarray(goals, dtype=np.float64)
    if goals.ndim != 3 or goals.shape[1:] != (2, 2):
        raise ValueError(f"goals must have shape (D, 2, 2), got {goals.shape}")
    inside, coords = _lattice_inside(goals)  # (D, 2, C, C) bool
    steps_to = _lattice_distance(inside)  # (D, 2, C, C) moves to enter each region
    center = coords.shape[0] // 2

    def known_value(steps_left: int) -> np.ndarray:  # (D, 2, C, C)
        return np.where(steps_to == 0, steps_left, np.maximum(0.0, steps_left - steps_to + 1))

    oracle = known_value(HORIZON)[:, :, center, center]

    # Bayes-optimal while the real goal is unknown: V_T(p) = max over moves p -> p' of the value of p'.
    in_a, in_b = inside[:, 0], inside[:, 1]
    both, only_a, only_b = in_a & in_b, in_a & ~in_b, in_b & ~in_a
    value = np.zeros(inside.shape[:1] + inside.shape[2:])  # V_0 = 0
    for steps_left in range(1, HORIZON + 1):
        after = known_value(steps_left - 1)  # values once the goal is known, at p'
        landing = np.where(
            both,
            1.0 + value,
            np.where(
                only_a,
                0.5 * (1.0 + after[:, 0]) + 0.5 * after[:, 1],
                np.where(only_b, 0.5 * (1.0 + after[:, 1]) + 0.5 * after[:, 0], value),
            ),
        )
        value = _max_over_moves(landing)
    bayes = value[:, center, center]

    commit = 0.5 * (oracle[:, 0] + oracle[:, 1]) / 2 + 0.5 * _commit_wrong_rewards(inside, steps_to, center)
    return {"oracle": oracle, "bayes_optimal": bayes, "commit_to_one": commit}


def movement_bandits_oracle_action(obs: np.ndarray, real_goal: int) -> int:
    """The task-known policy: walk the shortest lattice path into the real goal's disc, then stay.

    Args:
        obs: (6,) observation [position, goal 0, goal 1] / 400.
        real_goal: 0 or 1.
    Returns:
        action in 0..4 (no-op, +x, -x, +y, -y).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs.movement_bandits import ARENA, MOVE, REWARD_RADIUS

    check_choice("real_goal", real_goal, [0, 1])
    obs = np.asarray(obs, dtype=np.float64) * ARENA
    position, goal = obs[:2], obs[2 + 2 * real_goal : 4 + 2 * real_goal]
    if np.sum((position - goal) ** 2) < REWARD_RADIUS**2:
        return 0
    offsets = np.arange(-60, 61)
    cells = position + MOVE * np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
    ok = np.sum((cells - goal) ** 2, axis=1) < REWARD_RADIUS**2
    moves = np.abs(np.round((cells - position) / MOVE)).sum(axis=1)
    target = cells[ok][np.argmin(moves[ok])]
    return _step_towards(position, target, MOVE)


def movement_bandits_oracle_actions(obs: np.ndarray, real_goal: np.ndarray | int) -> np.ndarray:
    """:func:`movement_bandits_oracle_action` for a batch of observations at once (the same actions, row by row).

    Args:
        obs: (n, 6) observations [position, goal 0, goal 1] / 400.
        real_goal: (n,) goal indices in {0, 1}, or one index for every row.
    Returns:
        (n,) int64 actions in 0..4.

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """
    from peach_lite.envs.movement_bandits import ARENA, MOVE, REWARD_RADIUS

    obs = np.atleast_2d(np.asarray(obs, dtype=np.float64)) * ARENA
    if obs.shape[1] != 6:
        raise ValueError(f"obs must have shape (n, 6), got {obs.shape}")
    n = len(obs)
    real = np.broadcast_to(np.asarray(real_goal, dtype=np.int64), (n,))
    if ((real < 0) | (real > 1)).any():
        raise ValueError(f"real_goal must be 0 or 1, got {np.unique(real).tolist()}")
    position = obs[:, :2]
    goal = obs[np.arange(n)[:, None], 2 + 2 * real[:, None] + np.arange(2)[None, :]]
    # lattice cells position + MOVE * (i, j) near the disc, in the scalar version's order (i, then j, ascending)
    low = np.ceil((goal - REWARD_RADIUS - position) / MOVE) - 1  # (n, 2)
    steps = np.arange(int(2 * REWARD_RADIUS / MOVE) + 3)
    ij = np.stack(np.meshgrid(steps, steps, indexing="ij"), axis=-1).reshape(-1, 2)  # (C, 2)
    offsets = low[:, None, :] + ij[None]  # (n, C, 2)
    cells = position[:, None, :] + MOVE * offsets
    ok = np.sum((cells - goal[:, None, :]) ** 2, axis=-1) < REWARD_RADIUS**2
    moves = np.abs(offsets).sum(axis=-1)
    best = np.argmin(np.where(ok, moves, np.inf), axis=1)
    delta = offsets[np.arange(n), best]
    inside = np.sum((position - goal) ** 2, axis=-1) < REWARD_RADIUS**2
    horizontal = np.abs(delta[:, 0]) >= np.abs(delta[:, 1])
    step = np.where(horizontal, np.where(delta[:, 0] > 0, 1, 2), np.where(delta[:, 1] > 0, 3, 4))
    actions = np.where(inside | ~delta.any(axis=1), 0, step).astype(np.int64)
    return actions


def movement_bandits_random_return() -> float:
    """Exact expected return of uniformly random actions (goals ~ U[0, 400]^2, 50 steps).

    The random walk's position distribution does not depend on the goals, so the value is
    sum_t sum_cells P_t(cell) * P(goal within 50 of cell), the latter by numerical integration.
    """
    from peach_lite.envs.movement_bandits import ARENA, HORIZON, MOVE, MOVES, REWARD_RADIUS, START

    size = 2 * HORIZON + 1
    prob = np.zeros((size, size))
    prob[HORIZON, HORIZON] = 1.0
    offsets = (np.arange(size) - HORIZON) * MOVE
    coverage = _disc_square_overlap(START[0] + offsets, START[1] + offsets, REWARD_RADIUS, ARENA) / ARENA**2
    total = 0.0
    for _ in range(HORIZON):
        new = np.zeros_like(prob)
        for dx, dy in (MOVES / MOVE).astype(int):
            new += np.roll(np.roll(prob, dx, axis=0), dy, axis=1) / len(MOVES)
        prob = new
        total += float((prob * coverage).sum())
    return total


def _lattice_inside(goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which lattice cells START + 20 (i, j), |i|, |j| <= 13, are within 50 of each goal."""
    from peach_lite.envs.movement_bandits import MOVE, REWARD_RADIUS, START

    half = int(np.ceil((200 + REWARD_RADIUS) / MOVE)) + 1
    coords = START[0] + MOVE * np.arange(-half, half + 1)
    x = coords[None, None, :, None]
    y = coords[None, None, None, :]
    inside = (x - goals[..., 0, None, None]) ** 2 + (y - goals[..., 1, None, None]) ** 2 < REWARD_RADIUS**2
    return inside, coords


def _lattice_distance(inside: np.ndarray) -> np.ndarray:
    """Fewest moves from every cell into the region: the L1 distance transform, one axis at a time."""
    size = inside.shape[-1]
    gap = np.abs(np.arange(size)[:, None] - np.arange(size)[None, :]).astype(np.float64)  # (C, C)
    far = np.where(inside, 0.0, np.inf)
    along_x = (far[..., None, :, :] + gap[:, :, None]).min(axis=-2)  # min over x' of |x - x'| + far(x', y)
    return (along_x[..., :, None, :] + gap[None, :, :]).min(axis=-1)  # then over y'


def _max_over_moves(values: np.ndarray) -> np.ndarray:
    """max of values at p, p +- e_x, p +- e_y (a move off the grid counts as staying)."""
    best = values.copy()
    best[..., 1:, :] = np.maximum(best[..., 1:, :], values[..., :-1, :])
    best[..., :-1, :] = np.maximum(best[..., :-1, :], values[..., 1:, :])
    best[..., :, 1:] = np.maximum(best[..., :, 1:], values[..., :, :-1])
    best[..., :, :-1] = np.maximum(best[..., :, :-1], values[..., :, 1:])
    return best


def _commit_wrong_rewards(inside: np.ndarray, steps_to: np.ndarray, center: int) -> np.ndarray:
    """Reward collected in the *other* goal's disc while walking to (and waiting at) the committed one."""
    from peach_lite.envs.movement_bandits import HORIZON

    draws, size = inside.shape[0], inside.shape[-1]
    rows = np.arange(draws)
    moves_from_start = np.abs(np.arange(size) - center)[:, None] + np.abs(np.arange(size) - center)[None, :]
    totals = np.zeros(draws)
    for committed in (0, 1):
        other = inside[:, 1 - committed]
        # target: the region cell fewest moves from the start (first in index order on ties)
        cost = np.where(inside[:, committed], moves_from_start[None], 10**6).reshape(draws, -1)
        flat = np.argmin(cost, axis=1)
        target = np.stack([flat // size, flat % size], axis=1)
        position = np.full((draws, 2), center)
        for _ in range(HORIZON):
            delta = target - position
            axis = (np.abs(delta[:, 1]) > np.abs(delta[:, 0])).astype(int)
            position[rows, axis] += np.sign(delta[rows, axis])
            totals += other[rows, position[:, 0], position[:, 1]]
    return totals / 2


def _step_towards(position: np.ndarray, target: np.ndarray, move: float) -> int:
    delta = np.round((np.asarray(target) - np.asarray(position)) / move)
    if not delta.any():
        return 0
    if abs(delta[0]) >= abs(delta[1]):
        return 1 if delta[0] > 0 else 2
    return 3 if delta[1] > 0 else 4


def _disc_square_overlap(xs: np.ndarray, ys: np.ndarray, radius: float, side: float, num: int = 2000) -> np.ndarray:
    """Area of disc(center=(x, y), radius) inside [0, side]^2 for the grid xs x ys (midpoint rule in x)."""
    u = (np.arange(num) + 0.5) / num * 2 - 1  # in (-1, 1)
    dx = radius * u
    half = radius * np.sqrt(1 - u**2)
    x = xs[:, None] + dx[None, :]  # (nx, num)
    in_x = (x >= 0) & (x <= side)
    low = ys[:, None, None] - half[None, None, :]  # (ny, 1, num)
    high = ys[:, None, None] + half[None, None, :]
    length = np.clip(np.minimum(high, side) - np.maximum(low, 0), 0, None)  # (ny, 1, num)
    area = (length[None, :, 0, :] * in_x[:, None, :]).sum(axis=-1) * (2 * radius / num)  # (nx, ny)
    return area


# ====================================================================================== four rooms
def four_rooms_values(
    goal: int, *, horizon: int = 100, slip_prob: float = 1.0 / 3.0, start_cell: int | None = None, gamma: float = 1.0
) -> dict[str, float]:
    """Exact expected (discounted) return of the optimal and the random policy for one goal cell.

    Reward 1 on reaching the goal, which ends the episode, so with ``gamma = 1`` the return is the
    probability of reaching the goal within ``horizon`` steps. Backward induction over
    (cell, steps left) with the exact transition matrices.

    Returns:
        dict with ``oracle``, ``random`` (values at the start cell) and ``oracle_steps`` (expected
        number of steps of the policy that minimises it, without a step limit).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    from peach_lite.envs.four_rooms import NUM_CELLS, START_CELL

    check_range("goal", goal, 0, NUM_CELLS - 1)
    check_range("horizon", horizon, 1, 100_000)
    check_range("slip_prob", slip_prob, 0.0, 1.0)
    check_range("gamma", gamma, 0.0, 1.0)
    start = START_CELL if start_cell is None else int(start_cell)
    optimal, random = _four_rooms_dp(int(goal), int(horizon), float(slip_prob), float(gamma))
    return {
        "oracle": float(np.clip(optimal[start], 0.0, 1.0)),  # a probability: clip float round-off
        "random": float(np.clip(random[start], 0.0, 1.0)),
        "oracle_steps": float(_four_rooms_steps(int(goal), float(slip_prob))[0][start]),
    }


def four_rooms_oracle_action(cell: int, goal: int, slip_prob: float = 1.0 / 3.0) -> int:
    """The task-known policy: the action minimising the expected number of steps to the goal.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    return int(_four_rooms_steps(int(goal), float(slip_prob))[1][int(cell)])


def _four_rooms_dp(goal: int, horizon: int, slip_prob: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    from peach_lite.envs.four_rooms import transition_matrices

    matrices = transition_matrices(slip_prob)
    reward = matrices[:, :, goal]  # reaching the goal pays 1 and ends the episode
    keep = matrices.copy()
    keep[:, :, goal] = 0.0
    optimal = np.zeros(matrices.shape[1])
    random = np.zeros(matrices.shape[1])
    for _ in range(horizon):
        optimal = (reward + gamma * keep @ optimal).max(axis=0)
        random = (reward + gamma * keep @ random).mean(axis=0)
    return optimal, random


@lru_cache(maxsize=256)
def _four_rooms_steps(goal: int, slip_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic-shortest-path value iteration: expected steps to the goal and the greedy action."""
    from peach_lite.envs.four_rooms import transition_matrices

    matrices = transition_matrices(slip_prob)
    steps = np.zeros(matrices.shape[1])
    for _ in range(10_000):
        q = 1.0 + matrices @ steps  # (4, S)
        new = q.min(axis=0)
        new[goal] = 0.0
        if np.max(np.abs(new - steps)) < 1e-10:
            steps = new
            break
        steps = new
    q = 1.0 + matrices @ steps
    return steps, q.argmin(axis=0)
