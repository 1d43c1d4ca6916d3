"""Hierarchical Actor-Critic (HAC; Levy, Konidaris, Platt, Saenko, ICLR 2019) with k = 1, 2 or 3 levels.

Level k-1 receives the end goal; every level i > 0 proposes a *subgoal* (a point of the goal space)
for level i-1, which gets H attempts to reach it; level 0 applies the env's actions. Every level is a
DDPG-style goal-conditioned actor-critic, trained off-policy on three kinds of transition
(algorithms.md §1.3, reference ``layer.py``):

(a) **hindsight action**: level i > 0 stores the subgoal it proposed if level i-1 reached it, else
    the state level i-1 actually reached, ``proj(s')``: so the stored action always "worked" and the
    level learns as if its lower levels were already optimal. Reward 0 and terminal iff this level's
    own goal is reached, else -1 (:func:`hindsight_action_transition`).
(b) **hindsight goal**: after each attempt sequence, every transition is copied 3 times with the
    goal replaced by an achieved state (2 random, always the final one): ``peach_lite.her``.
(c) **subgoal testing**: with probability λ = 0.3 a proposed subgoal is *tested*: every level below
    acts greedily (no noise, no random actions, nested). If the level below then uses its H attempts
    without reaching it, the proposing level stores (s, subgoal, -H, s', g, terminal): a penalty for
    unreachable subgoals (:func:`subgoal_test_transition`).

Critics are bounded, Q = -H·sigmoid(f(s, g, a) + q_offset) in [-H, 0] with Q ≈ -0.067 at
initialisation; targets r + γ Q(s', g, π(s', g)) use the *online* networks (no target networks)
and are clipped to [-H, 0]. Actors are tanh·scale + offset. With k = 1 this is DDPG + HER with a
bounded critic, the goal-conditioned agent of lesson 06.

CPU design: the k levels' networks are fused ensembles (``nets.EnsembleMLP``, member i = level i)
and the k levels' replay buffers are one ``buffers.MultiTaskReplayBuffer`` (task id = level), so a
gradient step updates every level with one batched matmul per layer; acting uses a numpy copy of the
actor weights refreshed after each learning phase (no torch call per environment step).

Public API: :class:`HacConfig`, :class:`HAC` (``train``, ``run_episode``, ``evaluate``, ``learn``,
``save``/``load``), :func:`maze_config`, :func:`default_config`, :func:`make_goal_env`, :func:`hindsight_action`, :func:`hindsight_action_transition`,
:func:`subgoal_test_transition`, :func:`bounded_q`, :func:`q_offset_for`, :func:`critic_targets`,
:func:`render_episode`, :func:`episode_viewer`, :func:`evaluate_checkpoint`, the HAC-style pendulum
:class:`PendulumGoalEnv` (``peach_lite/HacPendulum-v0``) and the CLI
``python -m peach_lite.hac --levels 2 --seed 0 --out data/checkpoints/hac_maze.pt``.

Taught in notebooks/07_hac.py; the k = 1 agent in notebooks/06_her.py.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from peach_lite.buffers import MultiTaskReplayBuffer
from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple
from peach_lite.her import NORMS, Transitions, goal_reached, hindsight_goal_transitions
from peach_lite.loop import History
from peach_lite.nets import EnsembleMLP, frozen
from peach_lite.validation import check_choice, check_range

__all__ = [
    "HacConfig",
    "HAC",
    "HacHistory",
    "EpisodeResult",
    "EpisodeTrace",
    "AttemptRecord",
    "SequenceRecord",
    "HacNetworks",
    "maze_config",
    "default_config",
    "make_goal_env",
    "hindsight_action",
    "hindsight_action_transition",
    "subgoal_test_transition",
    "bounded_q",
    "q_offset_for",
    "critic_targets",
    "render_episode",
    "episode_viewer",
    "LEVEL_COLORS",
    "evaluate_checkpoint",
    "PendulumTask",
    "PendulumGoalEnv",
    "MAZE_ID",
    "PENDULUM_ID",
    "EVAL_SEED",
]

MAZE_ID = "peach_lite/PointMaze-v0"
"""The primary HAC environment: the four-rooms point-mass maze of ``peach_lite.envs.point_mass``."""
PENDULUM_ID = "peach_lite/HacPendulum-v0"
"""HAC's inverted-pendulum swing-up task, defined at the end of this module."""
EVAL_SEED = 10_000
"""Test episode i of an evaluation is reset with seed ``EVAL_SEED + i`` (fixed start states)."""
LEVEL_COLORS = ((0.1, 0.6, 0.2, 0.9), (0.85, 0.2, 0.85, 0.9), (1.0, 0.55, 0.05, 0.9), (0.1, 0.75, 0.9, 0.9))
"""rgba of the goal each level is pursuing: level 0's goal (proposed by level 1) is magenta, level 1's orange,
level 2's cyan; the end goal is green."""


# ============================================================================================ config
@dataclass
class HacConfig:
    """Hyperparameters of HAC; defaults follow the reference code (algorithms.md §1.3) unless noted.

    Taught in notebooks/07_hac.py (section "The agent").
    """

    num_levels: int = 2
    """k, levels in the hierarchy (1 = flat DDPG + HER; the reference ships 2- and 3-level agents)."""
    subgoal_horizon: int = 10
    """H, attempts each level gets to reach its goal (reference ``time_scale`` 10; the flat agent gets
    ``max_actions`` instead, as in the reference's 1-level designs)."""
    max_actions: int | None = None
    """Atomic actions per episode; None reads the env's time limit (maze: 200)."""
    subgoal_test_rate: float = 0.3
    """λ, probability that a level tests the subgoal it proposes (reference ``subgoal_test_perc``)."""
    num_hindsight_goals: int = 3
    """Hindsight goals per attempt sequence, the final state always among them (reference 3); 0 turns HER off."""
    gamma: float = 0.98
    """Discount factor of every level (reference critic ``gamma``)."""
    actor_lr: float = 1e-3
    """Adam learning rate of the actors (reference 1e-3)."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critics (reference 1e-3)."""
    hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden layers of every actor and critic (reference: 3 x 64)."""
    batch_size: int = 256
    """Transitions per level and gradient step (reference 1024; 256 keeps a CPU update ~4x cheaper)."""
    updates_per_episode: int = 40
    """Gradient steps per level after each training episode (reference ``num_updates`` 40)."""
    buffer_size: int = 500_000
    """Transitions kept per level (the reference keeps 200-500 episodes' worth)."""
    random_action_rate: float = 0.2
    """Probability of a uniformly random action or subgoal while exploring (reference 0.2; issue #7: essential)."""
    action_noise: float = 0.1
    """Std of the Gaussian added to level 0's action, as a fraction of the action half-range (pendulum 0.1, ant 0.2)."""
    subgoal_noise: float = 0.1
    """Std of the Gaussian added to a proposed subgoal, as a fraction of the subgoal half-range (pendulum 0.1)."""
    goal_threshold: float | tuple[float, ...] | None = None
    """End-goal tolerance (scalar or per dimension); None reads the env's ``goal_threshold``/``goal_radius``."""
    subgoal_threshold: float | tuple[float, ...] | None = None
    """Subgoal tolerance; None uses ``goal_threshold`` (the reference shares thresholds across levels, §4)."""
    goal_norm: str = "box"
    """``"box"``: every dimension within its threshold (HAC); ``"l2"``: Euclidean ball (the maze's success test)."""
    subgoal_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(low, high) of the subgoal space; None reads the env's ``desired_goal`` space (must be finite)."""
    q_init: float = -0.067
    """Critic output at initialisation (reference ``q_init``): q_offset = -log(H / 0.067 - 1)."""
    torch_threads: int = 1
    """torch intra-op threads during updates; 64-unit networks gain nothing from more, and on a shared
    2-core machine 2 threads made an update ~10x slower (measured). Restored after each update phase."""
    seed: int = 0
    """Seeds the networks' initialisation, exploration, subgoal tests, hindsight picks and batches."""

    def __post_init__(self):
        for name, low, high in [("num_levels", 1, 3), ("subgoal_horizon", 2, 10_000), ("num_hindsight_goals", 0, 100),
                                ("batch_size", 1, None), ("updates_per_episode", 0, None), ("buffer_size", 1, None),
                                ("torch_threads", 1, 256), ("seed", 0, 2**32 - 1)]:
            _check_int(name, getattr(self, name), low, high)
        if self.max_actions is not None:
            _check_int("max_actions", self.max_actions, 1, None)
        check_range("subgoal_test_rate", self.subgoal_test_rate, 0.0, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("actor_lr", self.actor_lr, 0.0, 1.0)
        check_range("critic_lr", self.critic_lr, 0.0, 1.0)
        check_range("random_action_rate", self.random_action_rate, 0.0, 1.0)
        check_range("action_noise", self.action_noise, 0.0, 10.0)
        check_range("subgoal_noise", self.subgoal_noise, 0.0, 10.0)
        check_range("q_init", self.q_init, -1e3, -1e-6)
        check_choice("goal_norm", self.goal_norm, NORMS)
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {self.hidden}")
        for name in ("goal_threshold", "subgoal_threshold"):
            value = getattr(self, name)
            if value is not None:
                items = float_tuple(name, np.atleast_1d(np.asarray(value, dtype=np.float64)), None, 1e-9, None)
                setattr(self, name, items[0] if np.ndim(value) == 0 else items)
        if self.subgoal_bounds is not None:
            low, high = (np.asarray(b, dtype=np.float64).reshape(-1) for b in self.subgoal_bounds)
            if low.shape != high.shape or not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)) or not np.all(high > low):
                raise ValueError(f"subgoal_bounds must be finite (low, high) with high > low, got {self.subgoal_bounds}")
            self.subgoal_bounds = (tuple(low.tolist()), tuple(high.tolist()))
        if abs(self.q_init) >= self.subgoal_horizon:
            raise ValueError(f"q_init must be in (-subgoal_horizon, 0), got {self.q_init}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), e.g. for a checkpoint's ``arch``."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HacConfig":
        """Inverse of :meth:`to_dict`; an unknown key is a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown HacConfig field {unknown[0]!r}; known fields: {sorted(known)}")
        values = dict(data)
        if values.get("subgoal_bounds") is not None:
            values["subgoal_bounds"] = tuple(tuple(b) for b in values["subgoal_bounds"])
        for name in ("goal_threshold", "subgoal_threshold", "hidden"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)


def maze_config(num_levels: int, **overrides: Any) -> HacConfig:
    """HacConfig for the four-rooms maze (200 steps): flat, or H = 15 (2 levels) / H = 6 (3 levels).

    H^k just covers the 200-step episode (15^2 = 225, 6^3 = 216), as the reference picks H = 10 for
    10^3 = 1000 pendulum actions. Goals count as reached inside the env's Euclidean success radius
    (0.4), for subgoals too (thresholds shared across levels, as in the reference).

    Taught in notebooks/07_hac.py (section "The maze").
    """
    _check_int("num_levels", num_levels, 1, 3)
    horizon = {1: 10, 2: 15, 3: 6}[num_levels]  # the flat agent's horizon is max_actions (200)
    base = dict(num_levels=num_levels, subgoal_horizon=horizon, goal_norm="l2", action_noise=0.1, subgoal_noise=0.1)
    base.update(overrides)
    return HacConfig(**base)


def default_config(env_id: str, num_levels: int, **overrides: Any) -> HacConfig:
    """The config this course uses for each env: :func:`maze_config` for the maze, Euclidean goals for
    ``GoalObservation:`` point masses, HAC's pendulum design (H = 10, box thresholds) for the pendulum.

    Taught in notebooks/07_hac.py (section "The maze").
    """
    if env_id == MAZE_ID:
        return maze_config(num_levels, **overrides)
    if env_id.startswith("GoalObservation:"):
        return HacConfig(**{"num_levels": num_levels, "goal_norm": "l2", **overrides})
    return HacConfig(**{"num_levels": num_levels, **overrides})


# ================================================================================== the transitions
def hindsight_action(proposed: Any, next_achieved: Any, lower_reached: bool) -> np.ndarray:
    """The action a subgoal level stores: its subgoal if the level below reached it, else proj(s').

    Args:
        proposed: (goal_dim,) subgoal the level proposed.
        next_achieved: (goal_dim,) proj(s'), the goal-space projection of the state reached after the
            lower level's attempts (the maze: the (x, y) position).
        lower_reached: whether the level below reached ``proposed``.
    Returns:
        (goal_dim,) float32 hindsight action.

    Taught in notebooks/07_hac.py (section "Hindsight action transitions").
    """
    return np.array(proposed if lower_reached else next_achieved, dtype=np.float32)


def hindsight_action_transition(
    obs: Any, proposed: Any, next_obs: Any, next_achieved: Any, goal: Any, *, lower_reached: bool,
    threshold: Any, norm: str = "box",
) -> Transitions:
    """Transition (a) of a subgoal level: (s, hindsight action, r, s', g, done) with the *original* goal g.

    Args:
        obs, next_obs: (obs_dim,) states before and after the lower level's attempts.
        proposed: (goal_dim,) the subgoal proposed.
        next_achieved: (goal_dim,) proj(s').
        goal: (goal_dim,) this level's own goal (kept unchanged).
        lower_reached: whether the level below reached ``proposed``.
        threshold, norm: this level's goal test (see ``peach_lite.her.goal_reached``).
    Returns:
        one :class:`~peach_lite.her.Transitions` (no leading dim): reward 0 and done 1 iff
        ``next_achieved`` reaches ``goal``, else reward -1 and done 0.

    Taught in notebooks/07_hac.py (section "Hindsight action transitions"); exercise 2 re-implements it.
    """
    reached = bool(goal_reached(next_achieved, goal, threshold, norm))
    return Transitions(
        np.array(obs, dtype=np.float32), hindsight_action(proposed, next_achieved, lower_reached),
        np.float32(0.0 if reached else -1.0), np.array(next_obs, dtype=np.float32), np.array(goal, dtype=np.float32),
        np.float32(1.0 if reached else 0.0),
    )


def subgoal_test_transition(
    obs: Any, proposed: Any, next_obs: Any, goal: Any, *, tested: bool, lower_missed: bool, subgoal_horizon: int
) -> Transitions | None:
    """Transition (c): the penalty for a tested subgoal the level below could not reach.

    Args:
        obs, next_obs: (obs_dim,) states before and after the lower level's attempts.
        proposed: (goal_dim,) the subgoal proposed (the *original*, not the hindsight action).
        goal: (goal_dim,) this level's own goal.
        tested: whether the subgoal was tested (lower levels acted greedily).
        lower_missed: whether the level below used all H attempts without reaching it ("maxed out").
        subgoal_horizon: H; the penalty is -H.
    Returns:
        ``Transitions(obs, proposed, -H, next_obs, goal, done=1)`` if ``tested and lower_missed``,
        else None. Being terminal, its critic target is exactly -H (γ = 0).

    Taught in notebooks/07_hac.py (section "Subgoal testing"); exercise 1 re-implements it.
    """
    if not (tested and lower_missed):
        return None
    return Transitions(
        np.array(obs, dtype=np.float32), np.array(proposed, dtype=np.float32), np.float32(-float(subgoal_horizon)),
        np.array(next_obs, dtype=np.float32), np.array(goal, dtype=np.float32), np.float32(1.0),
    )


# ================================================================================= the bounded critic
def q_offset_for(subgoal_horizon: float, q_init: float = -0.067) -> float:
    """The constant that makes ``bounded_q(0) == q_init``: -log(H / |q_init| - 1) (reference ``q_offset``).

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    check_range("subgoal_horizon", subgoal_horizon, 1e-9)
    if not -subgoal_horizon < q_init < 0:
        raise ValueError(f"q_init must be in (-{subgoal_horizon}, 0), got {q_init}")
    return -math.log(subgoal_horizon / -q_init - 1.0)


def bounded_q(raw: Tensor, subgoal_horizon: Tensor | float, q_offset: Tensor | float) -> Tensor:
    """HAC's critic head: Q = -H · sigmoid(raw + q_offset), always in [-H, 0].

    Args:
        raw: (*batch) output of the critic's last linear layer.
        subgoal_horizon: H (a number or a tensor broadcast against ``raw``, one per level).
        q_offset: :func:`q_offset_for` (same broadcasting).
    Returns:
        (*batch) Q-values.

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    return -subgoal_horizon * torch.sigmoid(raw + q_offset)


def critic_targets(reward: Tensor, done: Tensor, next_q: Tensor, gamma: float, subgoal_horizon: Tensor | float) -> Tensor:
    """Bellman targets r + γ (1 - done) Q(s', g, π(s', g)), clipped to [-H, 0] (reference ``critic.update``).

    Args:
        reward, done, next_q: (*batch) tensors; ``next_q`` comes from the *online* critic and actor.
        gamma: discount.
        subgoal_horizon: H, a number or a tensor broadcast against the batch (one per level).
    Returns:
        (*batch) targets; a penalty transition (reward -H, done 1) gets exactly -H.

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    target = reward + gamma * (1.0 - done) * next_q
    low = -torch.as_tensor(subgoal_horizon, dtype=target.dtype)
    return torch.minimum(torch.maximum(target, low), torch.zeros((), dtype=target.dtype))


class HacNetworks(nn.Module):
    """The actors and bounded critics of all k levels as two fused ensembles (member i = level i).

    Every level reads the same state and goal sizes; action sizes differ (level 0: the env's action,
    levels > 0: a subgoal), so actions are zero-padded to ``max_action_dim`` and padded outputs have
    scale 0. Inputs carry the level as their leading dim.

    Args:
        obs_dim, goal_dim: sizes of the state s and of the goal space.
        action_lows, action_highs: one (action_dim_i,) box per level.
        horizons: H_i per level (the bound of level i's critic is -H_i).
        hidden: hidden sizes shared by every network.
        q_init: critic output at initialisation.
    Forward helpers:
        ``actions(obs (k, B, obs_dim), goal (k, B, goal_dim)) -> (k, B, max_action_dim)``
        ``q_values(obs, goal, action (k, B, max_action_dim)) -> (k, B)`` in [-H_i, 0].

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """

    def __init__(self, obs_dim: int, goal_dim: int, action_lows: Sequence[Any], action_highs: Sequence[Any],
                 horizons: Sequence[int], hidden: Sequence[int] = (64, 64, 64), q_init: float = -0.067):
        super().__init__()
        k = len(horizons)
        if not (len(action_lows) == len(action_highs) == k):
            raise ValueError(f"action_lows, action_highs and horizons must have one entry per level, got "
                             f"{len(action_lows)}, {len(action_highs)}, {k}")
        self.num_levels, self.obs_dim, self.goal_dim = k, int(obs_dim), int(goal_dim)
        self.action_dims = [int(np.size(low)) for low in action_lows]
        self.max_action_dim = max(self.action_dims)
        self.actor = EnsembleMLP(obs_dim + goal_dim, self.max_action_dim, k, hidden)
        self.critic = EnsembleMLP(obs_dim + goal_dim + self.max_action_dim, 1, k, hidden)
        for net in (self.actor, self.critic):  # reference utils.layer: output layers U(±3e-3)
            nn.init.uniform_(net.layers[-1].weight, -3e-3, 3e-3)
            nn.init.uniform_(net.layers[-1].bias, -3e-3, 3e-3)
        scale = torch.zeros(k, 1, self.max_action_dim)
        offset = torch.zeros(k, 1, self.max_action_dim)
        for i, (low, high) in enumerate(zip(action_lows, action_highs)):
            low_t, high_t = torch.as_tensor(np.ravel(low), dtype=torch.float32), torch.as_tensor(np.ravel(high), dtype=torch.float32)
            scale[i, 0, : low_t.numel()] = (high_t - low_t) / 2
            offset[i, 0, : low_t.numel()] = (high_t + low_t) / 2
        self.register_buffer("action_scale", scale)
        self.register_buffer("action_offset", offset)
        self.register_buffer("horizon", torch.tensor([float(h) for h in horizons]).view(k, 1))
        self.register_buffer("q_offset", torch.tensor([q_offset_for(h, q_init) for h in horizons]).view(k, 1))

    def actions(self, obs: Tensor, goal: Tensor) -> Tensor:
        """π_i(s, g) = tanh(f_i(s, g)) · scale_i + offset_i for every level i at once."""
        return torch.tanh(_members_forward(self.actor, torch.cat([obs, goal], dim=-1))) * self.action_scale + self.action_offset

    def q_values(self, obs: Tensor, goal: Tensor, action: Tensor) -> Tensor:
        """Q_i(s, g, a) = -H_i · sigmoid(f_i(s, g, a) + q_offset_i) for every level i at once."""
        raw = _members_forward(self.critic, torch.cat([obs, goal, action], dim=-1)).squeeze(-1)
        return bounded_q(raw, self.horizon, self.q_offset)


# ======================================================================================= the trace
class AttemptRecord(NamedTuple):
    """One attempt of one level, recorded when ``run_episode(record=True)``."""

    level: int
    """Which level acted."""
    first_step: int
    """Atomic step at which the attempt started."""
    num_steps: int
    """Atomic steps it took (1 at level 0)."""
    obs: np.ndarray
    """(obs_dim,) state when the action was chosen."""
    goal: np.ndarray
    """(goal_dim,) the level's goal."""
    action: np.ndarray
    """The action chosen: env action (level 0) or proposed subgoal (level > 0)."""
    greedy: bool
    """True when chosen without noise or random actions (test episode, or a tested subgoal above)."""
    tested: bool
    """Level > 0: whether this subgoal was tested (lower levels greedy). Level 0: False."""
    lower_reached: bool
    """Level > 0: whether the level below reached the subgoal. Level 0: True."""
    lower_missed: bool
    """Level > 0: whether the level below used its H attempts without reaching it ("maxed out")."""
    hindsight_action: np.ndarray
    """The action stored in the transitions (the subgoal or proj(s'); level 0: the env action)."""
    next_achieved: np.ndarray
    """(goal_dim,) proj(s') after the attempt."""
    penalized: bool
    """Whether a subgoal-testing penalty transition was stored."""
    reached_goal: bool
    """Whether the level's own goal was reached after the attempt."""


class SequenceRecord(NamedTuple):
    """The transitions one level stored for one attempt sequence (training episodes only)."""

    level: int
    """Which level."""
    num_attempts: int
    """n, attempts in the sequence."""
    action_replay: Transitions
    """(a) n hindsight action transitions (level 0: the raw actions)."""
    goal_replay: Transitions | None
    """(b) min(3, n) * n hindsight goal transitions (None when HER is off)."""
    penalties: Transitions | None
    """(c) subgoal-testing penalties (None when there were none)."""
    final_achieved: np.ndarray
    """(goal_dim,) proj(s') after the last attempt: always one of the hindsight goals."""


@dataclass
class EpisodeTrace:
    """Everything that happened in one episode, for tests, pictures and the step-through widget.

    Taught in notebooks/07_hac.py (section "Watching the hierarchy").
    """

    obs: list[np.ndarray] = field(default_factory=list)
    """State before each atomic step (T entries), then the final state."""
    achieved: list[np.ndarray] = field(default_factory=list)
    """proj(s) before each atomic step, then the final one (T + 1 entries)."""
    actions: list[np.ndarray] = field(default_factory=list)
    """The env action of each atomic step (T entries)."""
    goals: list[np.ndarray] = field(default_factory=list)
    """(k, goal_dim) goal of every level at each atomic step: row k-1 is the end goal, row i < k-1 the
    subgoal proposed by level i+1."""
    deciders: list[int] = field(default_factory=list)
    """Highest level that chose a new action just before each atomic step (0: only level 0 acted)."""
    attempts: list[AttemptRecord] = field(default_factory=list)
    """Every attempt of every level, in the order they finished."""
    sequences: list[SequenceRecord] = field(default_factory=list)
    """Every attempt sequence's stored transitions (training episodes only)."""
    frames: list[np.ndarray] = field(default_factory=list)
    """Rendered frames (T + 1) when the episode was run by :func:`render_episode`."""


class EpisodeResult(NamedTuple):
    """What :meth:`HAC.run_episode` returns."""

    success: bool
    """Whether the end goal was reached."""
    steps: int
    """Atomic actions taken."""
    env_return: float
    """Sum of the env's own rewards."""
    trace: EpisodeTrace | None
    """The trace when ``record=True``."""


@dataclass
class HacHistory(History):
    """``loop.History`` plus the success rates HAC is judged by.

    Taught in notebooks/07_hac.py (section "Training").
    """

    episodes: int = 0
    """Training episodes run so far."""
    train_success: list[float] = field(default_factory=list)
    """1.0/0.0 per training episode (with exploration noise)."""
    eval_episodes: list[int] = field(default_factory=list)
    """Training episodes completed at each evaluation."""
    eval_success: list[float] = field(default_factory=list)
    """Success rate of the greedy hierarchy on the evaluation goals."""

    def first_reaching(self, level: float = 0.8, by: str = "steps") -> float:
        """Environment steps (``by="steps"``) or episodes (``by="episodes"``) at the first evaluation
        with success >= ``level``; ``inf`` if never reached."""
        check_choice("by", by, ["steps", "episodes"])
        xs = self.eval_steps if by == "steps" else self.eval_episodes
        return next((float(x) for x, s in zip(xs, self.eval_success) if s >= level), math.inf)

    def plot_success(self, ax=None, label: str | None = None, by: str = "episodes", target: float | None = 0.8):
        """Test success against training episodes (or env steps), with the target as a dashed line."""
        import matplotlib.pyplot as plt

        check_choice("by", by, ["steps", "episodes"])
        ax = ax or plt.gca()
        xs = self.eval_episodes if by == "episodes" else self.eval_steps
        ax.plot(xs, self.eval_success, "o-", label=label or "test success")
        if target is not None:
            ax.axhline(target, color="k", linestyle="--", linewidth=1, label=f"{target:.0%} target")
        ax.set_xlabel("training episodes" if by == "episodes" else "environment steps")
        ax.set_ylabel("test success rate")
        ax.set_ylim(-0.03, 1.03)
        ax.legend()
        return ax


# ========================================================================================= the agent
class HAC:
    """Hierarchical Actor-Critic agent for goal-conditioned gymnasium envs.

    The env must have a Dict observation ``{"observation": s, "achieved_goal": proj(s),
    "desired_goal": g}`` (gymnasium-robotics layout) and a Box action space; subgoals live in the
    ``achieved_goal`` space. Tasks (goals) are set with ``env.reset(options={"task": task})``.

    Args:
        env: the training env (only its spaces, time limit and thresholds are read here).
        config: :class:`HacConfig`.

    Attributes: ``nets`` (:class:`HacNetworks`), ``buffer`` (one ``MultiTaskReplayBuffer`` task per
    level), ``horizons`` (attempts per level), ``thresholds`` ((k, goal_dim) goal tolerances).

    Taught in notebooks/07_hac.py (section "The agent").
    """

    def __init__(self, env: gym.Env, config: HacConfig | None = None):
        self.config = config = config or HacConfig()
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or not {"observation", "achieved_goal", "desired_goal"} <= set(space.spaces):
            raise ValueError("env must have a Dict observation space with observation, achieved_goal and desired_goal, "
                             f"got {space}")
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ValueError(f"env.action_space must be a gymnasium.spaces.Box, got {env.action_space}")
        k = config.num_levels
        self.obs_dim = int(np.prod(space["observation"].shape))
        self.goal_dim = int(np.prod(space["achieved_goal"].shape))
        self.action_dim = int(np.prod(env.action_space.shape))
        self.max_actions = int(config.max_actions or _time_limit(env))
        self.horizons = [self.max_actions] if k == 1 else [config.subgoal_horizon] * k
        goal_threshold = config.goal_threshold if config.goal_threshold is not None else _env_threshold(env)
        subgoal_threshold = config.subgoal_threshold if config.subgoal_threshold is not None else goal_threshold
        self.thresholds = np.stack([np.broadcast_to(np.asarray(subgoal_threshold, np.float32), (self.goal_dim,))] * (k - 1)
                                   + [np.broadcast_to(np.asarray(goal_threshold, np.float32), (self.goal_dim,))])
        self.norm = config.goal_norm
        if config.subgoal_bounds is not None:
            sub_low, sub_high = (np.asarray(b, np.float32) for b in config.subgoal_bounds)
        else:
            sub_low, sub_high = space["desired_goal"].low.astype(np.float32), space["desired_goal"].high.astype(np.float32)
        if k > 1 and not (np.all(np.isfinite(sub_low)) and np.all(np.isfinite(sub_high))):
            raise ValueError("the env's desired_goal space is unbounded: pass HacConfig(subgoal_bounds=(low, high))")
        if k > 1 and sub_low.shape != (self.goal_dim,):
            raise ValueError(f"subgoal_bounds must have {self.goal_dim} entries per side, got {sub_low.shape}")
        self.action_lows = [env.action_space.low.astype(np.float32).ravel()] + [sub_low.ravel()] * (k - 1)
        self.action_highs = [env.action_space.high.astype(np.float32).ravel()] + [sub_high.ravel()] * (k - 1)
        noise = [config.action_noise] + [config.subgoal_noise] * (k - 1)
        self._noise_std = [n * (h - l) / 2 for n, l, h in zip(noise, self.action_lows, self.action_highs)]

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.nets = HacNetworks(self.obs_dim, self.goal_dim, self.action_lows, self.action_highs, self.horizons,
                                    config.hidden, config.q_init)
        self.actor_optimizer = torch.optim.Adam(self.nets.actor.parameters(), lr=config.actor_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.nets.critic.parameters(), lr=config.critic_lr, fused=True)
        fields_spec = {"obs": (self.obs_dim,), "action": (self.nets.max_action_dim,), "reward": (),
                       "next_obs": (self.obs_dim,), "goal": (self.goal_dim,), "done": ()}
        self.buffer = MultiTaskReplayBuffer(k, config.buffer_size, fields_spec)
        self.rng = np.random.default_rng(config.seed)
        self._generator = torch.Generator().manual_seed(config.seed)
        self._policy: list[Any] | None = None
        self._maxed_out = [False] * k

    # ----------------------------------------------------------------------------- public API
    @property
    def num_levels(self) -> int:
        """k."""
        return self.config.num_levels

    def train(
        self,
        env: gym.Env,
        total_steps: int,
        *,
        eval_env: gym.Env | None = None,
        eval_tasks: Sequence[Any] | None = None,
        eval_every: int = 25,
        train_tasks: Sequence[Any] | None = None,
        history: HacHistory | None = None,
        progress: bool = True,
        callback: Callable[["HAC", HacHistory], bool | None] | None = None,
    ) -> HacHistory:
        """Alternate training episodes (each followed by :meth:`learn`) and greedy evaluations.

        Args:
            env: training env; each episode's goal is a uniformly drawn ``train_tasks`` entry.
            total_steps: environment steps to take in this call (the last episode may overrun it).
            eval_env: env for evaluations (default ``env``; evaluations reset it with fixed seeds).
            eval_tasks: held-out goals (default ``env.unwrapped.test_tasks()``).
            eval_every: evaluate after every this many training episodes (and at the end).
            train_tasks: training goals (default ``env.unwrapped.train_tasks()``; None if the env has
                none, then ``env.reset()`` picks the goal).
            history: a :class:`HacHistory` to continue (e.g. after an interrupt).
            progress: show a tqdm bar over environment steps.
            callback: ``callback(agent, history)`` after every episode; returning True stops.
        Returns:
            The :class:`HacHistory`; ``interrupted=True`` when stopped by Ctrl-C or the callback.

        Taught in notebooks/07_hac.py (section "Training").
        """
        _check_int("total_steps", total_steps, 0, None)
        _check_int("eval_every", eval_every, 1, None)
        history = history if history is not None else HacHistory()
        history.interrupted = False
        eval_env = eval_env if eval_env is not None else env
        if eval_tasks is None:
            eval_tasks = _tasks(env, "test_tasks")
        if train_tasks is None:
            train_tasks = _tasks(env, "train_tasks")
        end = history.total_steps + total_steps
        started, elapsed_before = time.perf_counter(), history.elapsed
        bar = tqdm(total=total_steps, desc=f"HAC k={self.num_levels}", disable=not progress, leave=False)
        try:
            while history.total_steps < end:
                task = None if not train_tasks else train_tasks[int(self.rng.integers(len(train_tasks)))]
                seed = self.config.seed if history.episodes == 0 else None
                result = self.run_episode(env, task, seed=seed, training=True)
                losses = self.learn()
                history.episodes += 1
                history.total_steps += result.steps
                history.num_updates += self.config.updates_per_episode if losses else 0
                history.steps.append(history.total_steps)
                history.returns.append(result.env_return)
                history.train_success.append(float(result.success))
                history.wall_time.append(elapsed_before + time.perf_counter() - started)
                if losses:
                    history.loss_steps.append(history.total_steps)
                    for name, value in losses.items():
                        history.losses.setdefault(name, []).append(value)
                if history.episodes % eval_every == 0 and eval_tasks:
                    self._record_eval(eval_env, eval_tasks, history)
                    bar.set_postfix(test_success=f"{history.eval_success[-1]:.2f}", refresh=False)
                bar.update(min(result.steps, end - (history.total_steps - result.steps)))
                if callback is not None and callback(self, history):
                    history.interrupted = True
                    break
            if eval_tasks and (not history.eval_episodes or history.eval_episodes[-1] != history.episodes):
                self._record_eval(eval_env, eval_tasks, history)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"Interrupted after {history.episodes} episodes: the agent is usable; pass history=... to continue.")
        finally:
            bar.close()
            history.elapsed = elapsed_before + time.perf_counter() - started
        return history

    def run_episode(
        self, env: gym.Env, task: Any = None, *, seed: int | None = None, training: bool = True, record: bool = False,
        on_step: Callable[[EpisodeTrace | None, np.ndarray], None] | None = None, max_steps: int | None = None,
    ) -> EpisodeResult:
        """Run one episode of the whole hierarchy (HAC Algorithm 2, from the top level down).

        Args:
            env: a goal-conditioned env (see the class docstring).
            task: passed as ``env.reset(options={"task": task})`` (None: the env's current task).
            seed: reset seed.
            training: explore (noise, random actions, subgoal tests) and store transitions; when
                False every level acts greedily, nothing is stored, and the top level keeps
                proposing subgoals until the end goal or ``max_actions`` (reference test mode).
            record: return an :class:`EpisodeTrace`.
            on_step: ``on_step(trace, goals)`` after the reset and after every atomic step, with the
                (k, goal_dim) goal stack (used by :func:`render_episode`).
            max_steps: stop after this many atomic actions (default and maximum: ``max_actions``).
        Returns:
            :class:`EpisodeResult`.

        Taught in notebooks/07_hac.py (section "One episode, level by level").
        """
        obs, _ = env.reset(seed=seed, options=None if task is None else {"task": task})
        episode = _Episode(
            env=_stepping_env(env), state=np.asarray(obs["observation"], np.float32).ravel(),
            achieved=np.asarray(obs["achieved_goal"], np.float32).ravel(),
            goals=np.zeros((self.num_levels, self.goal_dim), np.float32), training=training,
            trace=EpisodeTrace() if record else None, on_step=on_step,
            max_steps=self.max_actions if max_steps is None else min(int(max_steps), self.max_actions),
        )
        episode.goals[-1] = np.asarray(obs["desired_goal"], np.float32).ravel()
        if on_step is not None:
            on_step(episode.trace, episode.goals.copy())
        reached, _ = self._run_level(self.num_levels - 1, episode, tested=False)
        if episode.trace is not None:
            episode.trace.obs.append(episode.state.copy())
            episode.trace.achieved.append(episode.achieved.copy())
        return EpisodeResult(bool(reached[-1]), episode.steps, episode.env_return, episode.trace)

    def evaluate(self, env: gym.Env, tasks: Sequence[Any] | None = None, seed: int = EVAL_SEED) -> float:
        """Success rate of greedy test episodes, one per task (episode i reset with ``seed + i``).

        Taught in notebooks/07_hac.py (section "Training").
        """
        tasks = list(tasks) if tasks is not None else _tasks(env, "test_tasks")
        if not tasks:
            raise ValueError("tasks must list at least one task (the env has no test_tasks())")
        with torch.no_grad():
            results = [self.run_episode(env, task, seed=seed + i, training=False) for i, task in enumerate(tasks)]
        return float(np.mean([r.success for r in results]))

    def act(self, level: int, obs: Any, goal: Any, *, explore: bool = False) -> np.ndarray:
        """Level ``level``'s action for state ``obs`` and goal ``goal`` (greedy unless ``explore``).

        Exploring: with probability ``random_action_rate`` a uniform action from the level's box, else
        the policy plus Gaussian noise, clipped to the box (reference ``choose_action``).

        Returns:
            (action_dim_level,) float32: an env action at level 0, a subgoal above.

        Taught in notebooks/07_hac.py (section "One episode, level by level").
        """
        check_range("level", level, 0, self.num_levels - 1)
        low, high = self.action_lows[level], self.action_highs[level]
        if explore and self.rng.random() < self.config.random_action_rate:
            return self.rng.uniform(low, high).astype(np.float32)
        action = self._greedy(level, np.asarray(obs, np.float32).ravel(), np.asarray(goal, np.float32).ravel())
        if explore:
            action = np.clip(action + self._noise_std[level] * self.rng.standard_normal(action.shape), low, high)
        return action.astype(np.float32)

    def learn(self) -> dict[str, float]:
        """``updates_per_episode`` gradient steps of every level at once (reference ``Layer.learn``).

        Each step samples ``batch_size`` transitions per level, fits every critic to
        :func:`critic_targets` (online actor and critic at s', no target networks), then moves every
        actor up its critic's gradient. Skipped until every level holds ``batch_size`` transitions.

        Returns:
            ``{"critic_loss/level{i}", "actor_loss/level{i}", "q_mean/level{i}"}`` of the last step, or {}.

        Taught in notebooks/07_hac.py (section "Bounded critics").
        """
        config = self.config
        if config.updates_per_episode == 0 or min(self.buffer.size(i) for i in range(self.num_levels)) < config.batch_size:
            return {}
        with _torch_threads(config.torch_threads):
            return self._learn()

    def _learn(self) -> dict[str, float]:
        config = self.config
        self._policy = None  # the numpy copy of the actors goes stale with the first step (even if interrupted)
        for _ in range(config.updates_per_episode):
            batch = self.buffer.sample(config.batch_size, generator=self._generator)  # each (k, B, ...)
            with torch.no_grad():
                next_q = self.nets.q_values(batch["next_obs"], batch["goal"], self.nets.actions(batch["next_obs"], batch["goal"]))
                target = critic_targets(batch["reward"], batch["done"], next_q, config.gamma, self.nets.horizon)
            q = self.nets.q_values(batch["obs"], batch["goal"], batch["action"])
            critic_losses = (q - target).pow(2).mean(dim=1)  # (k,): each level's own mean squared error
            self.critic_optimizer.zero_grad(set_to_none=True)
            critic_losses.sum().backward()
            self.critic_optimizer.step()
            with frozen(self.nets.critic):  # the actor loss flows through the critic without training it
                actor_q = self.nets.q_values(batch["obs"], batch["goal"], self.nets.actions(batch["obs"], batch["goal"]))
                actor_losses = -actor_q.mean(dim=1)
                self.actor_optimizer.zero_grad(set_to_none=True)
                actor_losses.sum().backward()
                self.actor_optimizer.step()
        out: dict[str, float] = {}
        for i in range(self.num_levels):
            out[f"critic_loss/level{i}"] = float(critic_losses[i].detach())
            out[f"actor_loss/level{i}"] = float(actor_losses[i].detach())
            out[f"q_mean/level{i}"] = float(q[i].detach().mean())
        return out

    def state_dict(self) -> dict[str, dict[str, Tensor]]:
        """The networks (``save_checkpoint``-compatible; optimisers and buffer are left out)."""
        return {"nets": self.nets.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.nets.load_state_dict(state["nets"])
        self._policy = None

    def save(self, path: str | Path, *, env_id: str, env_kwargs: dict[str, Any] | None = None,
             meta: dict[str, Any] | None = None) -> Path:
        """Save the networks with everything :func:`evaluate_checkpoint` needs to rebuild the agent.

        Taught in notebooks/07_hac.py (section "A pretrained hierarchy").
        """
        from peach_lite.checkpoints import save_checkpoint

        arch = {"algorithm": "HAC", "env_id": env_id, "env_kwargs": _plain(env_kwargs or {}), "config": self.config.to_dict(),
                "obs_dim": self.obs_dim, "goal_dim": self.goal_dim, "action_dim": self.action_dim}
        return save_checkpoint(path, {"nets": self.nets.state_dict()}, arch=arch, meta=_plain(meta or {}))

    @classmethod
    def load(cls, path: str | Path) -> tuple["HAC", gym.Env, dict[str, Any]]:
        """Rebuild a saved agent and its env: returns (agent, env, payload)."""
        from peach_lite.checkpoints import CheckpointError, load_checkpoint, load_module_state

        payload = load_checkpoint(path)
        arch = payload["arch"]
        if arch.get("algorithm") != "HAC":
            raise CheckpointError(f"{path}: not a HAC checkpoint (algorithm={arch.get('algorithm')!r})")
        env = make_goal_env(arch["env_id"], **arch.get("env_kwargs", {}))
        agent = cls(env, HacConfig.from_dict(arch["config"]))
        load_module_state(agent.nets, payload, "nets", path)
        agent._policy = None
        return agent, env, payload

    # ------------------------------------------------------------------- Algorithm 2, one level
    def _run_level(self, level: int, ep: "_Episode", tested: bool) -> tuple[np.ndarray, int]:
        """Level ``level`` pursues ``ep.goals[level]`` for up to H attempts (HAC Algorithm 2).

        ``tested``: a level above is testing its subgoal, so this level and all below act greedily.
        Returns (reached (k,) bool, highest level whose goal is reached or -1).
        """
        horizon, top = self.horizons[level], self.num_levels - 1
        goal = ep.goals[level].copy()
        greedy = tested or not ep.training
        sequence = _Sequence() if ep.training else None
        attempts = 0
        self._maxed_out[level] = False
        while True:
            obs, first_step = ep.state, ep.steps
            # Alg. 2: a_i <- π_i(s, g_i) + exploration noise (greedy when testing)
            action = self.act(level, obs, goal, explore=not greedy)
            ep.deciders_pending = max(ep.deciders_pending, level)
            if level > 0:
                # Alg. 2: decide whether to test subgoal a_i; then run level i-1 towards it
                test_next = tested or (ep.training and self.rng.random() < self.config.subgoal_test_rate)
                ep.goals[level - 1] = action
                reached, highest = self._run_level(level - 1, ep, test_next)
            else:
                test_next = False
                reached, highest = self._step_env(ep, action)
            attempts += 1
            next_obs, next_achieved = ep.state, ep.achieved
            lower_reached = bool(reached[level - 1]) if level > 0 else True
            lower_missed = level > 0 and self._maxed_out[level - 1]
            stored = hindsight = penalty = None
            if ep.training:
                # (a) hindsight action transition, with the original goal
                if level > 0:
                    stored = hindsight_action_transition(obs, action, next_obs, next_achieved, goal, lower_reached=lower_reached,
                                                         threshold=self.thresholds[level], norm=self.norm)
                else:
                    stored = Transitions(obs, action, np.float32(0.0 if reached[0] else -1.0), next_obs, goal,
                                         np.float32(1.0 if reached[0] else 0.0))
                hindsight = stored.action
                sequence.add(stored, next_achieved)
                # (c) subgoal testing penalty
                if level > 0:
                    penalty = subgoal_test_transition(obs, action, next_obs, goal, tested=test_next, lower_missed=lower_missed,
                                                      subgoal_horizon=horizon)
                    if penalty is not None:
                        sequence.penalties.append(penalty)
            if ep.trace is not None:
                if hindsight is None:
                    hindsight = hindsight_action(action, next_achieved, lower_reached) if level > 0 else action
                ep.trace.attempts.append(AttemptRecord(
                    level, first_step, ep.steps - first_step, obs, goal, action, greedy, bool(test_next), lower_reached,
                    bool(lower_missed), hindsight, next_achieved, penalty is not None, bool(reached[level])))
            # Alg. 2: stop after H attempts, when this or a higher goal is reached, or out of time
            out_of_time = ep.steps >= ep.max_steps
            if highest >= level or out_of_time or attempts >= horizon:
                self._maxed_out[level] = attempts >= horizon and not reached[level]
                if ep.training:
                    self._store_sequence(level, goal, sequence, ep)  # (b) hindsight goals, then the buffer
                    sequence = _Sequence()
                keep_going = not ep.training and level == top and highest < level and not out_of_time
                if not keep_going:  # a test episode's top level keeps going until the end goal or max_actions
                    return reached, highest

    def _step_env(self, ep: "_Episode", action: np.ndarray) -> tuple[np.ndarray, int]:
        """Level 0's attempt: one env step; then check every level's goal against proj(s')."""
        if ep.trace is not None:
            ep.trace.obs.append(ep.state.copy())
            ep.trace.achieved.append(ep.achieved.copy())
            ep.trace.actions.append(action.copy())
            ep.trace.goals.append(ep.goals.copy())
            ep.trace.deciders.append(ep.deciders_pending)
        ep.deciders_pending = 0
        obs, reward, *_ = ep.env.step(action[: self.action_dim])
        ep.steps += 1
        ep.env_return += float(reward)
        ep.state = np.asarray(obs["observation"], np.float32).ravel()
        ep.achieved = np.asarray(obs["achieved_goal"], np.float32).ravel()
        reached = _reached(ep.achieved, ep.goals, self.thresholds, self.norm)
        hits = np.flatnonzero(reached)
        if ep.on_step is not None:
            ep.on_step(ep.trace, ep.goals.copy())
        return reached, int(hits[-1]) if hits.size else -1

    def _store_sequence(self, level: int, goal: np.ndarray, sequence: "_Sequence", ep: "_Episode") -> None:
        """End of an attempt sequence: add (a), (b) hindsight goal copies and (c) to level's buffer."""
        if not sequence.transitions:
            return
        action_replay = Transitions.concatenate(sequence.transitions)
        parts = [action_replay]
        goal_replay = None
        if self.config.num_hindsight_goals > 0:
            goal_replay = hindsight_goal_transitions(
                action_replay.obs, action_replay.action, action_replay.next_obs, np.stack(sequence.next_achieved),
                self.thresholds[level], self.config.num_hindsight_goals, self.rng, self.norm)
            parts.append(goal_replay)
        penalties = Transitions.concatenate(sequence.penalties) if sequence.penalties else None
        if penalties is not None:
            parts.append(penalties)
        rows = Transitions.concatenate(parts)
        pad = self.nets.max_action_dim - rows.action.shape[1]
        action = np.pad(rows.action, ((0, 0), (0, pad))) if pad else rows.action
        self.buffer.add_batch(level, obs=rows.obs, action=action, reward=rows.reward, next_obs=rows.next_obs,
                              goal=rows.goal, done=rows.done)
        if ep.trace is not None:
            ep.trace.sequences.append(SequenceRecord(level, len(sequence.transitions), action_replay, goal_replay, penalties,
                                                     sequence.next_achieved[-1].copy()))

    def _greedy(self, level: int, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """π_level(s, g) from a numpy copy of the actor weights (one matmul per layer, no torch call)."""
        if self._policy is None:
            self._policy = _numpy_policy(self.nets)
        layers, scale, offset = self._policy[level]
        h = np.concatenate([obs, goal])
        for weight, bias in layers[:-1]:
            h = np.maximum(h @ weight + bias, 0.0)
        weight, bias = layers[-1]
        return np.tanh(h @ weight + bias) * scale + offset

    def _record_eval(self, env: gym.Env, tasks: Sequence[Any], history: HacHistory) -> None:
        success = self.evaluate(env, tasks)
        history.eval_steps.append(history.total_steps)
        history.eval_episodes.append(history.episodes)
        history.eval_success.append(success)
        history.eval_returns.append(success)
        history.eval_std.append(float(np.sqrt(success * (1 - success) / len(tasks))))


# ===================================================================================== pictures
def render_episode(agent: HAC, env: gym.Env, task: Any = None, *, seed: int = EVAL_SEED, training: bool = False,
                   marker_radius: float | None = None, max_steps: int | None = None) -> EpisodeResult:
    """Run one (greedy) episode and render every step with each level's current goal as a coloured sphere.

    The env must be made with ``render_mode="rgb_array"`` and offer ``set_markers`` (every
    ``peach_lite.envs`` env does). Colours: :data:`LEVEL_COLORS` (the goal of level 0, i.e. the subgoal
    proposed by level 1, is magenta; level 1's goal orange; the end goal green). Subgoals are
    placed with ``env.unwrapped.goal_marker_position(goal)`` when it exists, else at (x, y) = goal[:2].

    ``max_steps`` caps the episode (rendering costs a few ms per frame).

    Returns:
        :class:`EpisodeResult` whose trace holds ``frames`` (T + 1 images).

    Taught in notebooks/07_hac.py (section "Watching the hierarchy").
    """
    base = env.unwrapped
    if getattr(env, "render_mode", None) != "rgb_array" or not hasattr(base, "set_markers"):
        raise ValueError("env must be made with render_mode='rgb_array' and support set_markers(...)")
    to_position = getattr(base, "goal_marker_position", lambda g: np.asarray(g, np.float64)[:2])

    def on_step(trace: EpisodeTrace | None, goals: np.ndarray) -> None:
        markers = []
        for level in range(agent.num_levels - 1):  # subgoals; the env draws the end goal itself
            marker = (to_position(goals[level]), LEVEL_COLORS[level + 1])
            markers.append(marker if marker_radius is None else (*marker, marker_radius))
        base.set_markers(markers)
        trace.frames.append(env.render())

    with torch.no_grad():
        result = agent.run_episode(env, task, seed=seed, training=training, record=True, on_step=on_step, max_steps=max_steps)
    base.set_markers([])
    return result


def episode_viewer(trace: EpisodeTrace, num_levels: int | None = None, width: int = 320):
    """An ipywidgets slider that steps through a rendered episode, saying which levels act and their goals.

    Args:
        trace: from :func:`render_episode` (with frames).
        num_levels: k (default: read from the trace's goal stacks).
        width: displayed image width in pixels.
    Returns:
        an ``ipywidgets.VBox`` (slider, frame, text).

    Taught in notebooks/07_hac.py (section "Watching the hierarchy").
    """
    import io

    import ipywidgets as widgets
    from PIL import Image

    if not trace.frames or len(trace.frames) != len(trace.actions) + 1:
        raise ValueError("trace must come from render_episode (one frame per step plus the first)")
    k = num_levels or (trace.goals[0].shape[0] if trace.goals else 1)

    def png(frame: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(frame).save(out, format="PNG")
        return out.getvalue()

    image = widgets.Image(value=png(trace.frames[0]), format="png", width=width)
    text = widgets.HTML()
    slider = widgets.IntSlider(value=0, min=0, max=len(trace.actions), description="step")

    def describe(t: int) -> str:
        if t >= len(trace.actions):
            return f"<b>step {t}</b>: episode over, final position {np.round(trace.achieved[-1], 2).tolist()}"
        names = ["level 0 (acts)"] + [f"level {i}" for i in range(1, k)]
        lines = [f"<b>step {t}</b>: level {trace.deciders[t]} and below chose new actions"]
        for level in range(k - 1, -1, -1):
            goal = np.round(trace.goals[t][level], 2).tolist()
            kind = "end goal" if level == k - 1 else f"subgoal from level {level + 1}"
            lines.append(f"{names[level]} pursues {kind} {goal}")
        lines.append(f"action {np.round(trace.actions[t], 2).tolist()} at position {np.round(trace.achieved[t], 2).tolist()}")
        return "<br>".join(lines)

    def update(change: dict) -> None:
        t = change["new"]
        image.value = png(trace.frames[t])
        text.value = describe(t)

    slider.observe(update, names="value")
    text.value = describe(0)
    return widgets.VBox([slider, image, text])


# ================================================================================ HAC's pendulum
@dataclass(frozen=True)
class PendulumTask(Task):
    """A pendulum goal: angle (rad, 0 = upright, in [-π, π]) and angular velocity (rad/s, |·| <= 15).

    Taught in notebooks/07_hac.py (section "A second task: pendulum swing-up").
    """

    goal: tuple[float, float] = (0.0, 0.0)
    """(angle, angular velocity) to reach; the reference tests on (0, 0), upright and still."""

    def __post_init__(self):
        angle, velocity = float_tuple("goal", self.goal, 2, None, None)
        check_range("goal[0]", angle, -math.pi, math.pi)
        check_range("goal[1]", velocity, -15.0, 15.0)
        object.__setattr__(self, "goal", (angle, velocity))


class PendulumGoalEnv(TaskEnvMixin, gym.Env):
    """HAC's inverted-pendulum swing-up as a goal-conditioned MuJoCo env (``peach_lite/HacPendulum-v0``).

    Facts from the reference (``PENDULUM_LAY_*`` designs, ``pendulum.xml``): a 0.5 m pole with a 1 kg
    tip on a damped hinge (0.1), torque in [-2, 2] N·m (too weak to lift it directly: it has to swing),
    10 MuJoCo steps of 2 ms per action; state (cos θ, sin θ, θ̇); goal space (θ in [-π, π], θ̇ clipped
    to ±15); thresholds (9.5°, 0.6) per dimension; start θ ~ U[π/4, 7π/4] (hanging region), θ̇ ~ U[±0.05];
    training goals θ ~ U[±16°], θ̇ ~ U[±0.6]; test goal (0, 0); 1000 actions for 3 levels with H = 10.
    A small XML model of our own, kept in this module (``peach_lite.envs`` has no pendulum).

    Taught in notebooks/07_hac.py (section "A second task: pendulum swing-up").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    task_cls = PendulumTask
    num_train_tasks = 100
    num_test_tasks = 1
    FRAME_SKIP = 10
    """MuJoCo steps of 2 ms per action (reference ``timesteps_per_action``)."""
    goal_threshold = (math.radians(9.5), 0.6)
    """Per-dimension end-goal and subgoal thresholds (reference)."""
    XML = """
<mujoco model="peach_lite_hac_pendulum">
  <option timestep="0.002"><flag contact="disable"/></option>
  <visual><global offwidth="320" offheight="320"/><headlight ambient=".45 .45 .45"/></visual>
  <asset><texture name="sky" type="skybox" builtin="gradient" rgb1=".92 .93 .96" rgb2=".62 .66 .75" width="32" height="32"/></asset>
  <worldbody>
    <light pos="0 -1 2" dir="0 0.5 -1"/>
    <camera name="front" pos="0 -2.2 0.6" xyaxes="1 0 0 0 0 1"/>
    <geom type="plane" pos="0 0 -0.1" size="2 2 .1" rgba=".9 .9 .88 1"/>
    <body name="pole" pos="0 0 0.6">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.02" mass="0" rgba=".3 .3 .35 1"/>
      <geom type="sphere" pos="0 0 0.5" size="0.05" mass="1" rgba=".16 .35 .8 1"/>
    </body>
  </worldbody>
  <actuator><motor joint="hinge" gear="1" ctrlrange="-2 2" ctrllimited="true"/></actuator>
</mujoco>
"""

    def __init__(self, render_mode: str | None = None, width: int = 240, height: int = 240):
        import mujoco

        check_choice("render_mode", render_mode, [None, "rgb_array"])
        self._mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_string(self.XML)
        self.data = mujoco.MjData(self.model)
        self.render_mode, self.width, self.height = render_mode, int(width), int(height)
        self._frames = None
        goal_box = gym.spaces.Box(np.array([-math.pi, -15.0], np.float32), np.array([math.pi, 15.0], np.float32))
        self.observation_space = gym.spaces.Dict({
            "observation": gym.spaces.Box(np.array([-1, -1, -np.inf], np.float32), np.array([1, 1, np.inf], np.float32)),
            "achieved_goal": goal_box, "desired_goal": goal_box})
        self.action_space = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        self._init_task_api(PendulumTask())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        self._mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[0] = self.np_random.uniform(math.pi / 4, 7 * math.pi / 4)
        self.data.qvel[0] = self.np_random.uniform(-0.05, 0.05)
        self._mujoco.mj_forward(self.model, self.data)
        return self._obs(), {}

    def step(self, action: Any):
        action = self._check_box_action(action)
        self.data.ctrl[0] = float(np.clip(action[0], -2.0, 2.0))
        self._mujoco.mj_step(self.model, self.data, nstep=self.FRAME_SKIP)
        obs = self._obs()
        success = bool(goal_reached(obs["achieved_goal"], obs["desired_goal"], self.goal_threshold))
        return obs, 0.0 if success else -1.0, success, False, {"is_success": success}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._frames is None:
            from peach_lite.envs.rendering import MujocoFrames

            self._frames = MujocoFrames(self.model, self.width, self.height)
        goal = (self.goal_marker_position(np.array(self.get_task().goal)), np.array(LEVEL_COLORS[0], np.float32), 0.06)
        return self._frames.render(self.data, "front", [goal] + self.get_markers())

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def goal_marker_position(self, goal: Any) -> np.ndarray:
        """Where a goal (angle, velocity) is drawn: the pole tip at that angle."""
        angle = float(np.asarray(goal).ravel()[0])
        return np.array([0.5 * math.sin(angle), -0.06, 0.6 + 0.5 * math.cos(angle)])

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[PendulumTask]:
        limit = math.radians(16)
        return [PendulumTask(goal=(float(rng.uniform(-limit, limit)), float(rng.uniform(-0.6, 0.6)))) for _ in range(n)]

    def _make_split(self) -> tuple[list[PendulumTask], list[PendulumTask]]:
        return self.sample_tasks(self.num_train_tasks, seed=self.split_seed), [PendulumTask(goal=(0.0, 0.0))]

    def _default_marker_radius(self) -> float:
        return 0.05

    def _obs(self) -> dict[str, np.ndarray]:
        angle = float(self.data.qpos[0])
        velocity = float(self.data.qvel[0])
        wrapped = (angle + math.pi) % (2 * math.pi) - math.pi
        achieved = np.array([wrapped, np.clip(velocity, -15.0, 15.0)], np.float32)
        return {"observation": np.array([math.cos(angle), math.sin(angle), velocity], np.float32),
                "achieved_goal": achieved, "desired_goal": np.asarray(self.get_task().goal, np.float32)}


if PENDULUM_ID not in gym.registry:
    gym.register(id=PENDULUM_ID, entry_point="peach_lite.hac:PendulumGoalEnv", max_episode_steps=1000)


# =========================================================================== checkpoints and CLI
def make_goal_env(env_id: str, **kwargs: Any) -> gym.Env:
    """Make a HAC env by id: the maze, the pendulum, or ``"GoalObservation:<id>"`` (a task env wrapped
    by ``peach_lite.her.GoalObservation``, e.g. the PEARL point mass of lesson 06).

    Taught in notebooks/07_hac.py (section "The maze").
    """
    from peach_lite.loop import make_env

    if env_id.startswith("GoalObservation:"):
        from peach_lite.her import GoalObservation

        return GoalObservation(make_env(env_id.split(":", 1)[1], **kwargs))
    return make_env(env_id, **kwargs)


def evaluate_checkpoint(path: str | Path) -> float:
    """Success rate of a saved agent on its env's held-out test goals (greedy, seeds EVAL_SEED + i).

    Used by the manifest test: the recorded score must be reproduced.

    Taught in notebooks/07_hac.py (section "A pretrained hierarchy").
    """
    agent, env, _ = HAC.load(path)
    try:
        return agent.evaluate(env)
    finally:
        env.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m peach_lite.hac --levels 2 --seed 0 --out data/checkpoints/hac_maze.pt``: train, save, record."""
    parser = argparse.ArgumentParser(prog="python -m peach_lite.hac", description=main.__doc__)
    parser.add_argument("--levels", type=int, default=2, help="k, number of levels (1 = flat DDPG + HER)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default=MAZE_ID, help="env id (default: the four-rooms maze)")
    parser.add_argument("--steps", type=int, default=150_000, help="environment steps of training")
    parser.add_argument("--out", required=True, help="checkpoint path, inside data/ to be recorded in the manifest")
    parser.add_argument("--eval-every", type=int, default=25, help="evaluate every this many training episodes")
    parser.add_argument("--tolerance", type=float, default=0.05, help="manifest tolerance on the success rate")
    args = parser.parse_args(argv)
    from peach_lite.checkpoints import record_in_manifest

    env = make_goal_env(args.env)
    agent = HAC(env, default_config(args.env, args.levels, seed=args.seed))
    history = agent.train(env, args.steps, eval_every=args.eval_every)
    success = agent.evaluate(env)
    meta = {"steps": history.total_steps, "episodes": history.episodes, "wall_time_s": round(history.elapsed, 1),
            "eval_episodes": history.eval_episodes, "eval_success": history.eval_success, "test_success": success}
    path = agent.save(args.out, env_id=args.env, meta=meta)
    print(f"saved {path}: test success {success:.2f} after {history.episodes} episodes, {history.total_steps} steps, "
          f"{history.elapsed:.0f} s")
    try:
        Path(path).resolve().relative_to(Path("data").resolve())
    except ValueError:
        return 0
    command = "python -m peach_lite.hac " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    record_in_manifest(path, command=command, seed=args.seed, score_name="test_success", score=success,
                       evaluate="peach_lite.hac:evaluate_checkpoint", tolerance=args.tolerance)
    return 0


# ================================================================================ private helpers
@dataclass
class _Episode:
    """Mutable state shared by the levels during one episode."""

    env: gym.Env
    state: np.ndarray
    achieved: np.ndarray
    goals: np.ndarray
    training: bool
    trace: EpisodeTrace | None
    on_step: Callable[[EpisodeTrace | None, np.ndarray], None] | None
    max_steps: int
    steps: int = 0
    env_return: float = 0.0
    deciders_pending: int = 0


class _Sequence:
    """The transitions of one attempt sequence of one level, until it is stored."""

    __slots__ = ("transitions", "next_achieved", "penalties")

    def __init__(self):
        self.transitions: list[Transitions] = []
        self.next_achieved: list[np.ndarray] = []
        self.penalties: list[Transitions] = []

    def add(self, transition: Transitions, next_achieved: np.ndarray) -> None:
        self.transitions.append(transition)
        self.next_achieved.append(next_achieved)


@contextlib.contextmanager
def _torch_threads(num_threads: int) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (a global setting), restoring it afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _members_forward(net: EnsembleMLP, x: Tensor) -> Tensor:
    """Run member i of an ``EnsembleMLP`` on ``x[i]``: x (E, *batch, in) -> (E, *batch, out).

    (``EnsembleMLP.forward`` feeds every member the same input; HAC's levels each have their own batch.)
    """
    for layer in net.layers[:-1]:
        x = net.activation(layer(x))
    return net.layers[-1](x)


def _numpy_policy(nets: HacNetworks) -> list[tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]]:
    """Per level: the actor's (weight (in, out), bias (out,)) pairs and its output scale and offset,
    as float32 numpy arrays cut to the level's action size."""
    policy = []
    with torch.no_grad():
        for i, dim in enumerate(nets.action_dims):
            layers = [(layer.weight[i].numpy().copy(), layer.bias[i, 0].numpy().copy()) for layer in nets.actor.layers]
            layers[-1] = (layers[-1][0][:, :dim].copy(), layers[-1][1][:dim].copy())
            policy.append((layers, nets.action_scale[i, 0, :dim].numpy().copy(), nets.action_offset[i, 0, :dim].numpy().copy()))
    return policy


def _reached(achieved: np.ndarray, goals: np.ndarray, thresholds: np.ndarray, norm: str) -> np.ndarray:
    """(k,) whether each level's goal (row of ``goals``) is reached by ``achieved`` (fast path of goal_reached)."""
    gap = np.abs(goals - achieved)  # the same arithmetic as peach_lite.her.goal_reached
    if norm == "box":
        return np.all(gap <= thresholds, axis=1)
    return np.sum(np.square(gap / thresholds), axis=1) <= 1.0


def _stepping_env(env: gym.Env) -> gym.Env:
    """Skip gymnasium's bookkeeping wrappers (HAC counts its own steps), keep real ones."""
    from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

    while isinstance(env, (TimeLimit, OrderEnforcing, PassiveEnvChecker)):
        env = env.env
    return env


def _time_limit(env: gym.Env) -> int:
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps:
        return int(spec.max_episode_steps)
    raise ValueError("the env has no time limit: pass HacConfig(max_actions=...)")


def _env_threshold(env: gym.Env) -> Any:
    for holder in (env, env.unwrapped):
        for name in ("goal_threshold", "goal_radius", "distance_threshold"):
            value = getattr(holder, name, None)
            if value is not None:
                return value
    raise ValueError("the env has no goal_threshold/goal_radius attribute: pass HacConfig(goal_threshold=...)")


def _tasks(env: gym.Env, name: str) -> list[Any] | None:
    method = getattr(env.unwrapped, name, None)
    return list(method()) if callable(method) else None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_int(name: str, value: Any, low: int | None, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, {'inf' if high is None else high}], got {value!r}")
    check_range(name, value, low, high)


if __name__ == "__main__":
    raise SystemExit(main())
