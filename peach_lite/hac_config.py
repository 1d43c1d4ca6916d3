"""HAC's configuration: the hyperparameters (:class:`HacConfig`), the per-env presets
(:func:`maze_config`, :func:`default_config`) and what a hierarchy reads from its env (:class:`HacSpec`).

Taught in notebooks/07_hac.py (sections "The agent" and "The maze").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import float_tuple
from peach_lite.goal_levels import TOP_LEARNERS
from peach_lite.her import NORMS
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["HacConfig", "HacSpec", "maze_config", "default_config", "MAZE_ID", "PENDULUM_ID", "POINT_MASS_ID", "EVAL_SEED"]

MAZE_ID = "peach_lite/PointMaze-v0"
"""The primary HAC environment: the four-rooms point-mass maze of ``peach_lite.envs.point_mass``."""
PENDULUM_ID = "peach_lite/HacPendulum-v0"
"""HAC's inverted-pendulum swing-up task (``peach_lite.envs.pendulum_goal``)."""
POINT_MASS_ID = "peach_lite/PointMassGoal-v0"
"""PEARL's sparse point mass with the goal-conditioned observation (lesson 06's env)."""
EVAL_SEED = 10_000
"""Test episode i of an evaluation is reset with seed ``EVAL_SEED + i`` (fixed start states)."""


# ============================================================================================ config
@dataclass
class HacConfig:
    """Hyperparameters of HAC; defaults follow the reference code (algorithms.md §1.3) unless noted.

    Taught in notebooks/07_hac.py (section "The hierarchy").
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
    top_random_action_rate: float | None = None
    """The top level's rate of uniformly random subgoals while exploring; None: ``random_action_rate``. PEACH's
    top level, which never sees its goal, explores with a higher rate (its deviation from HAC)."""
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
    action_l2: float = 0.0
    """Weight of HER's action penalty on level 0's actor (``GoalLevel.actor_loss``; baselines' ``action_l2`` 1.0).
    The reference HAC has none (0). Levels above keep none: their actions are subgoals, and a pull to the box's
    centre would bias where they propose."""
    pre_tanh_l2: float = 0.0
    """Weight of a penalty on level 0's pre-tanh actor output (``GoalLevel.actor_loss``; the SAC reference code uses
    1e-3 on its pre-tanh mean). The reference HAC has none (0); levels above keep none."""
    replay_tasks: int = 1
    """Replay keys per level: 1 = HAC's one goal-conditioned replay per level; T = one per (training task,
    level), key ``task * k + level`` (PEACH's task-conditioned top level)."""
    top_cond_dim: int = 0
    """Size of a task variable c the top level reads next to its goal (0 for HAC; PEACH: the posterior's
    latent_dim). Set ``agent.top_cond`` (n, top_cond_dim) after ``begin_episode``."""
    top_learner: str = "hac"
    """How the top level learns, one of ``goal_levels.TOP_LEARNERS``: ``"hac"`` (the reference: a DDPG-style
    :class:`~peach_lite.goal_levels.GoalLevel`) or ``"sac"`` (not in HAC: a :class:`~peach_lite.goal_levels.SoftGoalLevel`,
    SAC with twin bounded critics, target critics and an automatic temperature; it explores by sampling, so the
    top level's Gaussian ``subgoal_noise`` is not added; its random subgoals, ``top_random_action_rate``, still are)."""
    top_target_entropy: float | None = None
    """SAC's target entropy of a ``top_learner="sac"`` level, in the unit box (None: -action_dim, SB3's ``"auto"``).
    Higher keeps its subgoal sampling wider while it explores."""
    top_goal_hidden: bool = False
    """The end goal is hidden from the agent (PEACH's maze: ``desired_goal`` carries no information). The top
    level's goal test is then the env's own success signal (``Step.success``): its attempts get reward 0 and a
    terminal flag iff the env reported success during them, else -1, and it gets no hindsight-goal copies
    (a goal it never sees cannot be relabelled). Deviation from HAC, which always sees its end goal."""
    torch_threads: int = 1
    """torch intra-op threads during updates (``device.torch_threads``); 64-unit networks gain nothing from
    more, and on a shared 2-core machine 2 threads made an update ~10x slower (measured)."""
    seed: int = 0
    """Seeds the networks' initialisation, exploration, subgoal tests, hindsight picks and batches."""

    def __post_init__(self):
        for name, low, high in [("num_levels", 1, 3), ("subgoal_horizon", 2, 10_000), ("num_hindsight_goals", 0, 100),
                                ("batch_size", 1, None), ("updates_per_episode", 0, None), ("buffer_size", 1, None),
                                ("torch_threads", 1, 256), ("top_cond_dim", 0, 4096), ("replay_tasks", 1, 100_000), ("seed", 0, 2**32 - 1)]:
            check_int(name, getattr(self, name), low, high)
        if not isinstance(self.top_goal_hidden, bool):
            raise ValueError(f"top_goal_hidden must be True or False, got {self.top_goal_hidden!r}")
        if self.max_actions is not None:
            check_int("max_actions", self.max_actions, 1, None)
        check_range("subgoal_test_rate", self.subgoal_test_rate, 0.0, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("actor_lr", self.actor_lr, 0.0, 1.0)
        check_range("critic_lr", self.critic_lr, 0.0, 1.0)
        check_range("random_action_rate", self.random_action_rate, 0.0, 1.0)
        if self.top_random_action_rate is not None:
            check_range("top_random_action_rate", self.top_random_action_rate, 0.0, 1.0)
        check_range("action_noise", self.action_noise, 0.0, 10.0)
        check_range("subgoal_noise", self.subgoal_noise, 0.0, 10.0)
        check_range("q_init", self.q_init, -1e3, -1e-6)
        check_range("action_l2", self.action_l2, 0.0, 100.0)
        check_range("pre_tanh_l2", self.pre_tanh_l2, 0.0, 100.0)
        check_choice("goal_norm", self.goal_norm, NORMS)
        check_choice("top_learner", self.top_learner, TOP_LEARNERS)
        if self.top_target_entropy is not None:
            check_range("top_target_entropy", self.top_target_entropy, -100.0, 100.0)
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
    check_int("num_levels", num_levels, 1, 3)
    horizon = {1: 10, 2: 15, 3: 6}[num_levels]  # the flat agent's horizon is max_actions (200)
    base = dict(num_levels=num_levels, subgoal_horizon=horizon, goal_norm="l2", action_noise=0.1, subgoal_noise=0.1)
    base.update(overrides)
    return HacConfig(**base)


def default_config(env_id: str, num_levels: int, **overrides: Any) -> HacConfig:
    """The config this course uses for each env: :func:`maze_config` for the maze, Euclidean goals for
    the goal-conditioned point mass (lesson 06), HAC's pendulum design (H = 10, box thresholds) otherwise.

    Taught in notebooks/07_hac.py (section "The maze").
    """
    if env_id == MAZE_ID:
        return maze_config(num_levels, **overrides)
    if env_id == POINT_MASS_ID:
        return HacConfig(**{"num_levels": num_levels, "goal_norm": "l2", **overrides})
    return HacConfig(**{"num_levels": num_levels, **overrides})


@dataclass
class HacSpec:
    """What a hierarchy needs to know about its env: sizes, action and subgoal boxes, goal tests, time limit.

    Taught in notebooks/07_hac.py (section "The hierarchy").
    """

    obs_dim: int
    """Size of the state s (the ``observation`` entry)."""
    goal_dim: int
    """Size of the goal space (``achieved_goal``/``desired_goal``); subgoals live there too."""
    action_low: tuple[float, ...]
    """(action_dim,) lower bound of the env's actions."""
    action_high: tuple[float, ...]
    """(action_dim,) upper bound of the env's actions."""
    subgoal_low: tuple[float, ...]
    """(goal_dim,) lower bound of proposed subgoals."""
    subgoal_high: tuple[float, ...]
    """(goal_dim,) upper bound of proposed subgoals."""
    goal_threshold: tuple[float, ...]
    """(goal_dim,) end-goal tolerance per dimension (a scalar radius repeated for ``goal_norm="l2"``)."""
    subgoal_threshold: tuple[float, ...]
    """(goal_dim,) subgoal tolerance per dimension."""
    max_actions: int
    """Atomic actions per episode (the env's time limit unless the config sets it)."""
    env_id: str | None = None
    """The env's registered id (None for an env built by hand); checkpoints re-make it from here."""

    @classmethod
    def from_env(cls, env: Any, config: "HacConfig") -> "HacSpec":
        """Read a goal-conditioned env (a gymnasium env or ``loop.GymTaskEnvs``) (Dict observation with observation / achieved_goal / desired_goal,
        Box actions); the config's ``goal_threshold``, ``subgoal_bounds`` and ``max_actions`` override the env's."""
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or not {"observation", "achieved_goal", "desired_goal"} <= set(space.spaces):
            raise ValueError("env must have a Dict observation space with observation, achieved_goal and desired_goal, "
                             f"got {space}")
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ValueError(f"env.action_space must be a gymnasium.spaces.Box, got {env.action_space}")
        goal_dim = int(np.prod(space["achieved_goal"].shape))
        goal_threshold = config.goal_threshold if config.goal_threshold is not None else _env_attribute(env, "threshold")
        subgoal_threshold = config.subgoal_threshold if config.subgoal_threshold is not None else goal_threshold
        if config.subgoal_bounds is not None:
            low, high = (np.asarray(b, np.float32) for b in config.subgoal_bounds)
        else:
            low, high = space["desired_goal"].low.astype(np.float32).ravel(), space["desired_goal"].high.astype(np.float32).ravel()
        if config.num_levels > 1 and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("the env's desired_goal space is unbounded: pass HacConfig(subgoal_bounds=(low, high))")
        if low.shape != (goal_dim,):
            raise ValueError(f"subgoal_bounds must have {goal_dim} entries per side, got {low.shape}")
        spec = getattr(env, "spec", None) or getattr(getattr(env, "envs", [None])[0], "spec", None)
        env_id = getattr(env, "env_id", None) or (spec.id if spec is not None else None)
        return cls(int(np.prod(space["observation"].shape)), goal_dim,
                   *(tuple(np.asarray(b, np.float32).ravel().tolist()) for b in (env.action_space.low, env.action_space.high, low, high)),
                   goal_threshold=tuple(np.broadcast_to(np.asarray(goal_threshold, np.float32), (goal_dim,)).tolist()),
                   subgoal_threshold=tuple(np.broadcast_to(np.asarray(subgoal_threshold, np.float32), (goal_dim,)).tolist()),
                   max_actions=int(config.max_actions or _env_attribute(env, "time_limit")), env_id=env_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), e.g. for a checkpoint's ``arch``."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HacSpec":
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# ================================================================================ private helpers
def _env_attribute(env: Any, what: str) -> Any:
    first = env.envs[0] if hasattr(env, "envs") else env
    if what == "time_limit":
        spec = getattr(first, "spec", None)
        if spec is not None and spec.max_episode_steps:
            return int(spec.max_episode_steps)
        raise ValueError("the env has no time limit: pass HacConfig(max_actions=...)")
    for holder in (first, first.unwrapped):
        for name in ("goal_threshold", "goal_radius", "distance_threshold"):
            value = getattr(holder, name, None)
            if value is not None:
                return value
    raise ValueError("the env has no goal_threshold/goal_radius attribute: pass HacConfig(goal_threshold=...)")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
