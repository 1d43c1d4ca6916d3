"""MLSH's 2-D MovementBandits (algorithms.md §1.5): two visible goals, one of them secretly pays.

* The agent starts at (200, 200) and has 5 discrete actions: 0 no-op, 1 +x, 2 -x, 3 +y, 4 -y,
  each moving 20 units (so positions stay on the lattice 200 + 20 Z^2).
* At every reset two goals are drawn ~ U[0, 400]^2 (from the env's seeded ``np_random``).
* The **task** is which goal is real (``real_goal`` in {0, 1}), fixed across episodes of a task,
  hidden from the observation: the agent must find out by visiting one.
* Reward 1 at every step (after the move) that ends within 50 units of the real goal (squared
  distance < 2500), else 0; 50 steps per episode (``TimeLimit``), no termination.
* Observation (6,) = [position, goal 0, goal 1] / 400. Positions are kept in [-800, 1200], which
  50 moves from (200, 200) cannot leave, so the Box is finite.

Known values (``oracles.movement_bandits_values``, exact DP on the move lattice): oracle ~43.7,
Bayes-optimal single episode with a 50/50 prior ~41.0, commit to one random goal ~21.9.

Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin
from peach_lite.envs.rendering import PALETTE, Canvas
from peach_lite.validation import check_choice, check_range

__all__ = ["MovementBanditsTask", "MovementBanditsEnv", "START", "MOVE", "ARENA", "REWARD_RADIUS", "HORIZON", "MOVES"]

START = (200.0, 200.0)
"""Start position of every episode."""
MOVE = 20.0
"""Length of one move."""
ARENA = 400.0
"""Goals are drawn uniformly in [0, ARENA]^2; observations are divided by ARENA."""
REWARD_RADIUS = 50.0
"""Reward 1 when the squared distance to the real goal is below REWARD_RADIUS**2 = 2500."""
HORIZON = 50
"""Steps per episode."""
MOVES = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float64) * MOVE
"""Displacement of actions 0..4: no-op, +x, -x, +y, -y."""
POSITION_LIMITS = (START[0] - HORIZON * MOVE, START[0] + HORIZON * MOVE)


@dataclass(frozen=True)
class MovementBanditsTask(Task):
    """Which of the two goals pays.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    real_goal: int
    """Index of the rewarding goal, 0 or 1 (MLSH ``realgoal``)."""

    def __post_init__(self) -> None:
        if isinstance(self.real_goal, bool) or not isinstance(self.real_goal, (int, np.integer)):
            raise ValueError(f"real_goal must be an integer, got {self.real_goal!r}")
        check_range("real_goal", self.real_goal, 0, 1)
        object.__setattr__(self, "real_goal", int(self.real_goal))


class MovementBanditsEnv(TaskEnvMixin, gym.Env):
    """MovementBandits with the task = which goal is real (see the module docstring).

    Args:
        render_mode: ``None`` or ``"rgb_array"`` (real goal green, decoy orange, agent blue).
        width, height: frame size in pixels.

    Spaces: observation Box((6,), float32) = [x, y, g0x, g0y, g1x, g1y] / 400; action Discrete(5).
    ``info``: ``goals`` (2, 2) goal positions, ``in_goal`` (the reward as a bool).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    task_cls = MovementBanditsTask
    num_train_tasks = 2
    num_test_tasks = 2

    def __init__(self, render_mode: str | None = None, width: int = 240, height: int = 240):
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        low = np.array([POSITION_LIMITS[0]] * 2 + [0.0] * 4) / ARENA
        high = np.array([POSITION_LIMITS[1]] * 2 + [ARENA] * 4) / ARENA
        self.observation_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self._position = np.array(START)
        self._goals = np.full((2, 2), ARENA / 2)
        self._real_goal = 0
        self._trail: list[np.ndarray] = []
        self._init_task_api(MovementBanditsTask(real_goal=0))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        self._position = np.array(START)
        self._goals = self.np_random.uniform(0.0, ARENA, size=(2, 2))
        self._trail = [self._position.copy()]
        return self._obs(), {"goals": self._goals.copy(), "in_goal": False}

    def step(self, action: Any):
        move = self._check_discrete_action(action)
        self._position = np.clip(self._position + MOVES[move], *POSITION_LIMITS)
        self._trail.append(self._position.copy())
        in_goal = bool(np.sum((self._position - self._goals[self._real_goal]) ** 2) < REWARD_RADIUS**2)
        return self._obs(), float(in_goal), False, False, {"goals": self._goals.copy(), "in_goal": in_goal}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        canvas = Canvas(self.width, self.height, (-40.0, ARENA + 40.0), (-40.0, ARENA + 40.0))
        canvas.rect((0, 0), (ARENA, ARENA), (240, 240, 235))
        for index, goal in enumerate(self._goals):
            real = index == self._real_goal
            canvas.disc(goal, REWARD_RADIUS, PALETTE["goal_zone"] if real else (250, 215, 170), alpha=0.8)
            canvas.disc(goal, 8.0, PALETTE["goal"] if real else (230, 140, 30))
        canvas.polyline(self._trail, 3.0, PALETTE["trail"])
        canvas.markers(self.get_markers())
        canvas.disc(self._position, 9.0, PALETTE["agent"])
        return canvas.image

    def _obs(self) -> np.ndarray:
        return (np.concatenate([self._position, self._goals.reshape(-1)]) / ARENA).astype(np.float32)

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[MovementBanditsTask]:
        return [MovementBanditsTask(real_goal=int(g)) for g in rng.integers(0, 2, size=n)]

    def _make_split(self) -> tuple[list[MovementBanditsTask], list[MovementBanditsTask]]:
        tasks = [MovementBanditsTask(real_goal=0), MovementBanditsTask(real_goal=1)]
        return tasks, list(tasks)

    def _apply_task(self, task: MovementBanditsTask) -> None:
        self._real_goal = task.real_goal

    def _default_marker_radius(self) -> float:
        return 10.0
