"""Hindsight experience replay (HER) for goal-conditioned RL with sparse {-1, 0} rewards.

A goal-conditioned policy pi(a | s, g) gets reward -1 at every step until the achieved goal ag(s')
is within ``threshold`` of g (reward 0, terminal). Failed episodes carry no signal, so HER stores every
sequence of transitions a second time *as if* a goal it actually reached had been asked for:

* :func:`goal_reached` / :func:`goal_reward`: the sparse reward, HAC's per-dimension box test
  |ag - g|_j <= threshold_j for every j (algorithms.md §1.3 "Hindsight goal").
* :func:`choose_hindsight_goals`: HAC's choice of ``num_goals`` = 3 goals per sequence, 2 drawn
  uniformly from the states reached plus **always the final one**.
* :func:`relabel_with_goals`: rewrite *every* transition of the sequence with each chosen goal
  (s, a and s' never change; only goal, reward and done do).
* :func:`hindsight_goal_transitions`: the two together, what HAC stores after each attempt sequence.

Every function works on numpy arrays (torch tensors are accepted and converted) and returns
:class:`Transitions`, a named tuple of arrays ready for ``ReplayBuffer.add_batch``.

Taught in notebooks/06_her.py (sections "Relabelling" and "Exercise").
"""
from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from peach_lite.validation import check_choice, check_int, check_range, check_shape

__all__ = [
    "Transitions",
    "goal_reached",
    "goal_reward",
    "choose_hindsight_goals",
    "relabel_with_goals",
    "hindsight_goal_transitions",
    "goals_reached_by",
    "hindsight_goal",
    "GoalObservation",
    "goal_point_mass",
    "NORMS",
    "HINDSIGHT_GOAL_MODES",
]

HINDSIGHT_GOAL_MODES = ("achieved", "task", "task_or_achieved")
"""Where :func:`hindsight_goal` takes a goal from: an attempt's end (HER), a reached candidate (HTR), or either."""
NORMS = ("box", "l2")
"""How a goal counts as reached: HAC's per-dimension box, or the Euclidean ball of gymnasium-robotics."""


class Transitions(NamedTuple):
    """A batch of goal-conditioned transitions (n rows), or one transition (no leading dim).

    Field order is fixed so that ``Transitions(*student_tuple)`` and checkers compare field by field.
    """

    obs: np.ndarray
    """(n, obs_dim) state s the action was taken in."""
    action: np.ndarray
    """(n, action_dim) action a (for a subgoal level: the subgoal, possibly replaced in hindsight)."""
    reward: np.ndarray
    """(n,) reward in {-1, 0} (or -H for a subgoal-testing penalty)."""
    next_obs: np.ndarray
    """(n, obs_dim) state s' after the action (after the whole attempt, for a subgoal level)."""
    goal: np.ndarray
    """(n, goal_dim) goal g the transition is evaluated against."""
    done: np.ndarray
    """(n,) 1.0 where the transition is terminal (no bootstrapping from s'), else 0.0."""

    @property
    def num_rows(self) -> int:
        """Number of rows (1 for a single unbatched transition)."""
        return 1 if np.ndim(self.reward) == 0 else int(np.shape(self.reward)[0])

    @staticmethod
    def concatenate(parts: "list[Transitions]") -> "Transitions":
        """Stack batches and single transitions row-wise into one float32 batch."""
        if not parts:
            raise ValueError("parts must hold at least one Transitions")
        columns = []
        for index, name in enumerate(Transitions._fields):
            row_ndim = 0 if name in ("reward", "done") else 1
            pieces = [np.asarray(part[index], dtype=np.float32) for part in parts]
            columns.append(np.concatenate([p[None] if p.ndim == row_ndim else p for p in pieces], axis=0))
        return Transitions(*columns)


def goal_reached(achieved: Any, goal: Any, threshold: Any, norm: str = "box") -> np.ndarray:
    """True where ``achieved`` is within ``threshold`` of ``goal``.

    ``norm="box"`` (HAC): every dimension j satisfies |ag_j - g_j| <= threshold_j.
    ``norm="l2"`` (gymnasium-robotics, the maze's success test): ||(ag - g) / threshold||_2 <= 1,
    i.e. the Euclidean distance is at most ``threshold`` when it is a scalar.

    Args:
        achieved: (..., goal_dim) achieved goals ag(s').
        goal: (..., goal_dim) desired goals g (broadcast against ``achieved``).
        threshold: scalar or (goal_dim,) tolerance per dimension (HAC's goal thresholds).
        norm: ``"box"`` or ``"l2"``.
    Returns:
        (...,) bool array.

    Taught in notebooks/06_her.py (section "Why sparse rewards starve a learner").
    """
    check_choice("norm", norm, NORMS)
    achieved, goal = _array(achieved), _array(goal)
    if achieved.shape[-1:] != goal.shape[-1:]:
        raise ValueError(f"achieved and goal must have the same last dimension, got {achieved.shape} and {goal.shape}")
    gap = np.abs(achieved - goal)
    if norm == "box":
        return np.all(gap <= _array(threshold), axis=-1)
    return np.sum(np.square(gap / _array(threshold)), axis=-1) <= 1.0


def goal_reward(achieved: Any, goal: Any, threshold: Any, norm: str = "box") -> tuple[np.ndarray, np.ndarray]:
    """HAC's sparse reward: 0 and terminal when the goal is reached, else -1 and not terminal.

    Args:
        achieved, goal, threshold, norm: as in :func:`goal_reached`.
    Returns:
        (reward, done), each (...,) float32; reward in {-1, 0} and ``done == (reward == 0)``.

    Taught in notebooks/06_her.py (section "Why sparse rewards starve a learner").
    """
    reached = goal_reached(achieved, goal, threshold, norm)
    return np.where(reached, 0.0, -1.0).astype(np.float32), reached.astype(np.float32)


def choose_hindsight_goals(num_transitions: int, num_goals: int = 3, rng: np.random.Generator | None = None) -> np.ndarray:
    """Which achieved states of a sequence become hindsight goals (HAC ``finalize_goal_replay``).

    ``min(num_goals, num_transitions)`` indices: all but one drawn uniformly (with replacement) from
    ``0..num_transitions-1``, and the last one is **always** ``num_transitions - 1`` (the final state).

    Args:
        num_transitions: length n >= 1 of the attempt sequence.
        num_goals: goals per sequence (HAC: 3).
        rng: numpy Generator for the random picks (a fresh unseeded one when None).
    Returns:
        (min(num_goals, n),) int64 indices, sorted, the last equal to n - 1.

    Taught in notebooks/06_her.py (section "Relabelling").
    """
    check_int("num_transitions", num_transitions, 1)
    check_int("num_goals", num_goals, 1)
    rng = rng if rng is not None else np.random.default_rng()
    m = min(num_goals, num_transitions)
    picks = rng.integers(0, num_transitions, size=m - 1)
    return np.sort(np.append(picks, num_transitions - 1)).astype(np.int64)


def relabel_with_goals(
    obs: Any, action: Any, next_obs: Any, next_achieved: Any, goal_indices: Any, threshold: Any, norm: str = "box"
) -> Transitions:
    """Copy a whole sequence once per chosen goal, with that goal's rewards (HER relabelling).

    For each index j in ``goal_indices`` (in order), the hindsight goal is g_j = ``next_achieved[j]``
    and every transition t of the sequence becomes (s_t, a_t, r, s'_t, g_j, done) with
    (r, done) = :func:`goal_reward` (``next_achieved[t]``, g_j, threshold).

    Args:
        obs: (n, obs_dim) states s_t.
        action: (n, action_dim) actions a_t (hindsight actions for a subgoal level).
        next_obs: (n, obs_dim) next states s'_t.
        next_achieved: (n, goal_dim) achieved goals ag(s'_t).
        goal_indices: (m,) integer indices into the sequence.
        threshold: scalar or (goal_dim,) goal tolerance.
        norm: ``"box"`` or ``"l2"`` (see :func:`goal_reached`).
    Returns:
        :class:`Transitions` with m * n rows, block j (rows j*n .. j*n+n-1) relabelled with g_j.

    Taught in notebooks/06_her.py (section "Relabelling"); the exercise re-implements it.
    """
    obs, action, next_obs, next_achieved = _array(obs), _array(action), _array(next_obs), _array(next_achieved)
    n = obs.shape[0]
    for name, value in (("action", action), ("next_obs", next_obs), ("next_achieved", next_achieved)):
        if value.ndim != 2 or value.shape[0] != n:
            raise ValueError(f"{name} must have shape ({n}, dim) like obs, got {value.shape}")
    indices = np.asarray(goal_indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"goal_indices must be in [0, {n - 1}], got {indices.tolist()}")
    m = indices.size
    goals = np.repeat(next_achieved[indices], n, axis=0)  # (m*n, goal_dim): block j holds g_j
    reward, done = goal_reward(np.tile(next_achieved, (m, 1)), goals, threshold, norm)
    return Transitions(np.tile(obs, (m, 1)), np.tile(action, (m, 1)), reward, np.tile(next_obs, (m, 1)), goals, done)


def hindsight_goal_transitions(
    obs: Any,
    action: Any,
    next_obs: Any,
    next_achieved: Any,
    threshold: Any,
    num_goals: int = 3,
    rng: np.random.Generator | None = None,
    norm: str = "box",
) -> Transitions:
    """HAC's hindsight goal transitions for one attempt sequence (algorithms.md §1.3 (b)).

    :func:`choose_hindsight_goals` then :func:`relabel_with_goals`: a sequence of n >= num_goals
    transitions gives exactly ``num_goals * n`` rows, and the copy relabelled with the final
    achieved state ends with reward 0 and done 1.

    Args:
        obs, action, next_obs, next_achieved: the sequence, as in :func:`relabel_with_goals`.
        threshold: goal tolerance of this level.
        num_goals: hindsight goals per sequence (HAC: 3).
        rng: numpy Generator for the random goal picks.
        norm: ``"box"`` or ``"l2"`` (see :func:`goal_reached`).
    Returns:
        :class:`Transitions` with ``min(num_goals, n) * n`` rows.

    Taught in notebooks/06_her.py (section "Relabelling").
    """
    n = int(np.shape(obs)[0])
    indices = choose_hindsight_goals(n, num_goals, rng)
    return relabel_with_goals(obs, action, next_obs, next_achieved, indices, threshold, norm)


def goals_reached_by(achieved: Any, candidate_goals: Any, reward_fn: Any) -> np.ndarray:
    """Hindsight task relabelling's test (Packer et al., 2021): which candidate goals (e.g. the training tasks') would
    have paid at least one of these achieved points.

    Args:
        achieved: (N, goal_dim) where attempts ended.
        candidate_goals: (K, goal_dim).
        reward_fn: the env's vectorised ``compute_reward(achieved, goal)``, 0 where paid.
    Returns:
        (K,) bool.

    Taught in notebooks/11_peach.py (section "Relabel as HER does, and let the posterior speak").
    """
    achieved, candidates = _array(achieved), _array(candidate_goals)
    check_shape("achieved", achieved.shape, (None, None))
    check_shape("candidate_goals", candidates.shape, (None, achieved.shape[1]))
    return np.any(np.asarray(reward_fn(achieved[:, None, :], candidates[None, :, :])) == 0.0, axis=0)


def hindsight_goal(achieved: Any, pick: int, mode: str = "achieved", candidate_goals: Any = None, reward_fn: Any = None) -> np.ndarray | None:
    """A hindsight goal for a set of attempts: where attempt ``pick`` ended (``mode="achieved"``, HER), or one of the
    candidate goals that the attempts reached (``"task"``, hindsight task relabelling: the ``pick``-th of them,
    cyclically; None when they reached none), or that candidate when there is one and else where attempt ``pick``
    ended (``"task_or_achieved"``).

    Args:
        achieved: (N, goal_dim) where the attempts ended.
        pick: an index in [0, N) (drawn by the caller).
        mode: one of :data:`HINDSIGHT_GOAL_MODES`; ``candidate_goals`` and ``reward_fn`` as in :func:`goals_reached_by`.
    Returns:
        (goal_dim,) float32 or None.

    Taught in notebooks/11_peach.py (section "Relabel as HER does, and let the posterior speak").
    """
    check_choice("mode", mode, HINDSIGHT_GOAL_MODES)
    achieved = _array(achieved)
    check_int("pick", pick, 0, len(achieved) - 1)
    reached = np.flatnonzero(goals_reached_by(achieved, candidate_goals, reward_fn)) if mode != "achieved" else []
    if len(reached):
        return _array(candidate_goals)[reached[pick % len(reached)]].astype(np.float32).copy()
    return None if mode == "task" else achieved[pick].astype(np.float32).copy()


class GoalObservation(gym.ObservationWrapper):
    """Give a task env (whose task has a ``goal``) gymnasium-robotics' goal-conditioned observation.

    The wrapped observation is ``{"observation": obs, "achieved_goal": obs[:goal_dim],
    "desired_goal": task.goal}``: e.g. PEARL's point robot, whose observation is its (x, y) position
    and whose task is a goal (x, y). The env's own reward is passed through unchanged (HER/HAC
    compute their {-1, 0} reward from achieved and desired goals).

    Args:
        env: a ``peach_lite.envs`` env with a Box observation and a task with a ``goal`` field.
        goal_low, goal_high: bounds of the goal space (default: the observation bounds of the
            first ``goal_dim`` entries).
        goal_threshold: success radius recorded as ``self.goal_threshold`` (default: the env's
            ``goal_radius`` or ``goal_threshold`` attribute).

    Taught in notebooks/06_her.py (section "A goal-conditioned point mass").
    """

    def __init__(self, env: gym.Env, goal_low: Any = None, goal_high: Any = None, goal_threshold: float | None = None):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"env must have a flat Box observation space, got {space}")
        goal = np.asarray(env.unwrapped.get_task().goal, dtype=np.float32)
        self.goal_dim = int(goal.shape[0])
        if self.goal_dim > space.shape[0]:
            raise ValueError(f"the task goal has {self.goal_dim} entries but the observation only {space.shape[0]}")
        low = np.asarray(space.low[: self.goal_dim] if goal_low is None else goal_low, dtype=np.float32)
        high = np.asarray(space.high[: self.goal_dim] if goal_high is None else goal_high, dtype=np.float32)
        goal_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.observation_space = gym.spaces.Dict(
            {"observation": space, "achieved_goal": goal_space, "desired_goal": goal_space}
        )
        if goal_threshold is None:
            goal_threshold = getattr(env.unwrapped, "goal_radius", getattr(env.unwrapped, "goal_threshold", None))
        if goal_threshold is None:
            raise ValueError("goal_threshold must be given: the env has no goal_radius/goal_threshold attribute")
        check_range("goal_threshold", goal_threshold, 1e-9)
        self.goal_threshold = float(goal_threshold)

    def observation(self, observation: Any) -> dict[str, np.ndarray]:
        """(obs_dim,) observation -> ``{"observation", "achieved_goal": obs[:goal_dim], "desired_goal": task.goal}``."""
        observation = np.asarray(observation, dtype=np.float32)
        goal = np.asarray(self.env.unwrapped.get_task().goal, dtype=np.float32)
        return {"observation": observation, "achieved_goal": observation[: self.goal_dim].copy(), "desired_goal": goal}


def goal_point_mass(**kwargs: Any) -> GoalObservation:
    """PEARL's sparse point mass with the goal-conditioned observation: ``peach_lite/PointMassGoal-v0``.

    The env that lesson 06's goal-conditioned agent learns on; make it with
    ``peach_lite.envs.make("peach_lite/PointMassGoal-v0")`` (20 steps, goal radius 0.2).

    Args:
        **kwargs: forwarded to ``SparsePointMassEnv`` (e.g. ``render_mode``).

    Taught in notebooks/06_her.py (section "A goal-conditioned point mass").
    """
    from peach_lite.envs.point_mass import SparsePointMassEnv

    return GoalObservation(SparsePointMassEnv(**kwargs))


# ---------------------------------------------------------------------------------------------
# Private helpers


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)

