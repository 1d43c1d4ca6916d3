"""PEARL's 2-D point robot in numpy: the sparse semicircle navigation task and its dense cousin.

Definitions follow oyster's ``point_robot.py`` (algorithms.md §1.1):

* **state** s in R^2 (kept in [-10, 10]^2, out of reach in 20 steps); one step is ``s <- s + clip(a)`` with the raw action box
  [-0.1, 0.1]^2. The gymnasium action space is **[-1, 1]^2, rescaled by 0.1** (what oyster's
  ``NormalizedBoxEnv`` does to the policy's output; actions outside [-1, 1] are clipped), so
  policies with tanh outputs need no extra scaling.
* **reward** is computed after the move: dense ``-||s - g||``; sparse ``1 - ||s - g||`` inside the
  goal radius 0.2, else 0. ``info`` carries both (``dense_reward``, ``sparse_reward``) plus
  ``distance`` and ``is_success``.
* **horizon** 20 (``TimeLimit``); the episode never terminates early.

Two task distributions:

* ``peach_lite/PointRobotSparse-v0`` (:class:`SparsePointRobotEnv`): start (0, 0); 100 goals at
  ``linspace(0, pi, 100)`` on the unit upper half-circle, shuffled with ``RandomState(1337)`` as
  oyster does (so the 80 train / 20 test goals are the very ones PEARL used). Returns the **sparse**
  reward. Note: oyster's ``step`` returns the dense reward and puts the sparse one in ``info``
  (PEARL trains SAC on the dense reward, the encoder on the sparse one); here pass
  ``reward_type="dense"`` for that, or read ``info["dense_reward"]``.
* ``peach_lite/PointRobotDense-v0`` (:class:`DensePointRobotEnv`): 100 goals ~ U[-1, 1]^2 drawn with
  ``RandomState(1337)``; start ~ U[-1, 1]^2 at every reset; dense reward.

``make_vec`` of either id returns :class:`PointRobotVectorEnv`, all robots stepped at once in numpy.

``sample_tasks`` draws fresh goals from the same distribution (angle ~ U[0, pi] on the semicircle,
or U[-1, 1]^2). The MuJoCo version of the same tasks is ``peach_lite/PointMassSparse-v0`` /
``PointMassDense-v0`` (see ``point_mass.py``).

Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple
from peach_lite.envs.rendering import PALETTE, Canvas
from peach_lite.validation import check_choice, check_range

__all__ = [
    "PointRobotTask",
    "PointRobotEnv",
    "SparsePointRobotEnv",
    "DensePointRobotEnv",
    "semicircle_goals",
    "square_goals",
    "point_robot_rewards",
    "PointRobotVectorEnv",
    "SparsePointRobotVectorEnv",
    "DensePointRobotVectorEnv",
    "MAX_STEP",
    "GOAL_RADIUS",
    "HORIZON",
]

MAX_STEP = 0.1
"""Half-width of oyster's raw action box [-0.1, 0.1]^2: the largest move per axis and step."""
GOAL_RADIUS = 0.2
"""Sparse reward is non-zero within this distance of the goal (oyster ``goal_radius``)."""
HORIZON = 20
"""Steps per episode (oyster ``max_path_length`` for both point robots)."""
STATE_LIMIT = 10.0
"""The state is kept in [-10, 10]^2 so the observation Box is finite; 20 steps move at most 2."""
NUM_GOALS = 100
"""Size of oyster's fixed goal list (80 train + 20 test)."""


OOD_LIMIT = 2.0
"""Largest |coordinate| of any goal (train/test goals stay in [-1, 1]; out-of-distribution ones reach 1.5)."""


@dataclass(frozen=True)
class PointRobotTask(Task):
    """One point-robot task: where the goal is.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    goal: tuple[float, float]
    """Goal (x, y); each coordinate in [-2, 2]. Train and test goals lie in [-1, 1]^2 (the square that
    holds both goal distributions); ``ood_tasks()`` draws out-of-distribution goals beyond it (MQL)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "goal", float_tuple("goal", self.goal, 2, -OOD_LIMIT, OOD_LIMIT))


def semicircle_goals(num_goals: int = NUM_GOALS, seed: int = 1337) -> np.ndarray:
    """Oyster's sparse-point goals: ``linspace(0, pi, num_goals)`` on the unit upper half-circle, shuffled.

    Uses the legacy ``np.random.RandomState(seed).shuffle`` so the order (and thus the 80/20 split)
    matches PEARL's.

    Returns:
        (num_goals, 2) goals.
    """
    angles = np.linspace(0.0, np.pi, num=num_goals)
    goals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    np.random.RandomState(seed).shuffle(goals)
    return goals


def square_goals(num_goals: int = NUM_GOALS, seed: int = 1337) -> np.ndarray:
    """Oyster's dense-point goals: ``num_goals`` draws of U[-1, 1]^2 with ``RandomState(seed)``.

    Returns:
        (num_goals, 2) goals.
    """
    return np.random.RandomState(seed).uniform(-1.0, 1.0, size=(num_goals, 2))


def point_robot_rewards(state: np.ndarray, goal: np.ndarray, goal_radius: float = GOAL_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """Dense and sparse rewards of positions ``state`` (..., 2) for goals ``goal`` (..., 2).

    Returns:
        (dense, sparse), each of shape (...): dense = -d, sparse = 1 - d if d <= goal_radius else 0.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """
    distance = np.linalg.norm(np.asarray(state) - np.asarray(goal), axis=-1)
    dense = -distance
    sparse = np.where(distance <= goal_radius, 1.0 - distance, 0.0)
    return dense, sparse


class PointRobotEnv(TaskEnvMixin, gym.Env):
    """The 2-D point robot with a task = goal position.

    Args:
        goal_distribution: ``"semicircle"`` (sparse task) or ``"square"`` (dense task).
        reward_type: ``"sparse"`` or ``"dense"``: which reward ``step`` returns (``info`` has both).
        random_start: start ~ U[-1, 1]^2 at reset (dense task) instead of (0, 0).
        goal_radius: radius of the sparse-reward zone (oyster 0.2).
        render_mode: ``None`` or ``"rgb_array"``.
        width, height: frame size in pixels.

    Spaces: observation Box(-10, 10, (2,), float32) = position; action Box(-1, 1, (2,), float32).
    (Oyster's state is unbounded; we clip it to [-10, 10]^2, which 20 steps from [-1, 1]^2 cannot
    reach, so the observation space is finite.)

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    task_cls = PointRobotTask
    num_train_tasks = 80
    num_test_tasks = 20

    def __init__(
        self,
        goal_distribution: str = "semicircle",
        reward_type: str = "sparse",
        random_start: bool = False,
        goal_radius: float = GOAL_RADIUS,
        render_mode: str | None = None,
        width: int = 240,
        height: int = 240,
    ):
        check_choice("goal_distribution", goal_distribution, ["semicircle", "square"])
        check_choice("reward_type", reward_type, ["sparse", "dense"])
        check_range("goal_radius", goal_radius, 1e-6, None)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        check_range("width", width, 16, 2048)
        check_range("height", height, 16, 2048)
        self.goal_distribution = goal_distribution
        self.reward_type = reward_type
        self.random_start = bool(random_start)
        self.goal_radius = float(goal_radius)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.observation_space = gym.spaces.Box(-STATE_LIMIT, STATE_LIMIT, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._state = np.zeros(2)
        self._goal = np.zeros(2)
        self._trail: list[np.ndarray] = []
        self._init_task_api(self.test_tasks()[0])

    # --------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        if self.random_start:
            self._state = self.np_random.uniform(-1.0, 1.0, size=2)
        else:
            self._state = np.zeros(2)
        self._trail = [self._state.copy()]
        return self._state.astype(np.float32), self._info(self._state)

    def step(self, action: Any):
        action = self._check_box_action(action)
        self._state = np.clip(self._state + MAX_STEP * np.clip(action, -1.0, 1.0), -STATE_LIMIT, STATE_LIMIT)
        self._trail.append(self._state.copy())
        info = self._info(self._state)
        reward = info["sparse_reward"] if self.reward_type == "sparse" else info["dense_reward"]
        return self._state.astype(np.float32), float(reward), False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        canvas = Canvas(self.width, self.height, (-1.5, 1.5), (-1.5, 1.5))
        for tick in (-1.0, 0.0, 1.0):
            canvas.segment((tick, -1.5), (tick, 1.5), 0.005, PALETTE["grid"])
            canvas.segment((-1.5, tick), (1.5, tick), 0.005, PALETTE["grid"])
        if self.goal_distribution == "semicircle":
            for goal in semicircle_goals():
                canvas.disc(goal, 0.012, PALETTE["candidate"])
        canvas.disc(self._goal, self.goal_radius, PALETTE["goal_zone"], alpha=0.7)
        canvas.disc(self._goal, 0.04, PALETTE["goal"])
        canvas.polyline(self._trail, 0.012, PALETTE["trail"])
        canvas.markers(self.get_markers())
        canvas.disc(self._state, 0.05, PALETTE["agent"])
        return canvas.image

    # ------------------------------------------------------------------------- task API
    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[PointRobotTask]:
        if self.goal_distribution == "semicircle":
            angles = rng.uniform(0.0, np.pi, size=n)
            goals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        else:
            goals = rng.uniform(-1.0, 1.0, size=(n, 2))
        return [PointRobotTask(goal=tuple(g)) for g in goals]

    def _make_split(self) -> tuple[list[PointRobotTask], list[PointRobotTask]]:
        goals = semicircle_goals() if self.goal_distribution == "semicircle" else square_goals()
        tasks = [PointRobotTask(goal=tuple(g)) for g in goals]
        return tasks[: self.num_train_tasks], tasks[self.num_train_tasks :]

    def ood_tasks(self, num_tasks: int = 20, seed: int = 2020) -> list[PointRobotTask]:
        """Out-of-distribution goals for the dense (square) family: uniform on 1 < ||g||_inf <= 1.5.

        Outside the [-1, 1]^2 square every train and test goal comes from, so an agent must adapt to
        reach them (MQL's test of adaptation out of distribution). Seeded: the same list every call.

        Taught in notebooks/08_mql.py (section "A history context").
        """
        from peach_lite.validation import check_int

        check_int("num_tasks", num_tasks, 1, 10_000)
        check_int("seed", seed, 0)
        if self.goal_distribution != "square":
            raise ValueError(f"ood_tasks needs the square goal distribution (PointRobotDense-v0), got {self.goal_distribution!r}")
        rng, goals = np.random.default_rng(seed), []
        while len(goals) < num_tasks:
            g = rng.uniform(-1.5, 1.5, size=2)
            if np.abs(g).max() > 1.0:
                goals.append(PointRobotTask(goal=tuple(g)))
        return goals

    def _apply_task(self, task: PointRobotTask) -> None:
        self._goal = np.asarray(task.goal, dtype=np.float64)

    # -------------------------------------------------------------------------- helpers
    def _info(self, state: np.ndarray) -> dict[str, Any]:
        dense, sparse = point_robot_rewards(state, self._goal, self.goal_radius)
        distance = -float(dense)
        return {
            "dense_reward": float(dense),
            "sparse_reward": float(sparse),
            "distance": distance,
            "is_success": bool(distance <= self.goal_radius),
        }


class SparsePointRobotEnv(PointRobotEnv):
    """``peach_lite/PointRobotSparse-v0``: semicircle goals, start (0, 0), sparse reward (see module doc).

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    def __init__(self, reward_type: str = "sparse", goal_radius: float = GOAL_RADIUS, random_start: bool = False, **kwargs: Any):
        super().__init__(goal_distribution="semicircle", reward_type=reward_type, random_start=random_start, goal_radius=goal_radius, **kwargs)


class DensePointRobotEnv(PointRobotEnv):
    """``peach_lite/PointRobotDense-v0``: goals ~ U[-1, 1]^2, start ~ U[-1, 1]^2, dense reward.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    def __init__(self, reward_type: str = "dense", goal_radius: float = GOAL_RADIUS, random_start: bool = True, **kwargs: Any):
        super().__init__(goal_distribution="square", reward_type=reward_type, random_start=random_start, goal_radius=goal_radius, **kwargs)


class PointRobotVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` point robots stepped together in numpy: the native ``make_vec`` of both point-robot ids.

    ``peach_lite.envs.make_vec("peach_lite/PointRobotSparse-v0", 256)`` returns this (gymnasium picks a
    registered ``vector_entry_point`` first); the dynamics, rewards, ``info`` keys, horizon and
    next-step autoreset are those of ``SyncVectorEnv`` over ``PointRobotEnv``, about 50x faster.
    Each sub-env has its own task: ``set_tasks(tasks)`` or ``reset(options={"tasks": tasks})``.

    Args:
        num_envs: number of robots.
        goal_distribution, reward_type, random_start, goal_radius: as ``PointRobotEnv``.
        max_episode_steps: horizon (20); the step after the last one resets that robot.
        render_mode: must be ``None`` (render a single env instead).

    Taught in notebooks/01_task_gallery.py (section "Throughput").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        goal_distribution: str = "semicircle",
        reward_type: str = "sparse",
        random_start: bool = False,
        goal_radius: float = GOAL_RADIUS,
        max_episode_steps: int = HORIZON,
        render_mode: str | None = None,
    ):
        check_range("num_envs", num_envs, 1, 10_000_000)
        check_range("max_episode_steps", max_episode_steps, 1, None)
        check_choice("render_mode", render_mode, [None])
        self.single = PointRobotEnv(goal_distribution, reward_type, random_start, goal_radius)
        """A single env of the same family: its task API (``sample_tasks``, splits) serves this one."""
        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = None
        self.single_observation_space = self.single.observation_space
        self.single_action_space = self.single.action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._goals = np.tile(np.asarray(self.single.get_task().goal), (self.num_envs, 1))
        self._states = np.zeros((self.num_envs, 2))
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    def set_tasks(self, tasks: Any) -> None:
        """One task (dataclass or dict) per robot, each validated; applies from the next reset."""
        if len(tasks) != self.num_envs:
            raise ValueError(f"tasks must have one entry per sub-env ({self.num_envs}), got {len(tasks)}")
        goals = []
        for task in tasks:
            self.single.set_task(task)
            goals.append(self.single.get_task().goal)
        self._goals = np.array(goals, dtype=np.float64)

    def get_tasks(self) -> list[PointRobotTask]:
        """The current task of every robot."""
        return [PointRobotTask(goal=tuple(g)) for g in self._goals]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            unknown = [key for key in options if key != "tasks"]
            if unknown:
                raise ValueError(f"unknown reset option {unknown[0]!r}; known options: ['tasks']")
            self.set_tasks(options["tasks"])
        self._states = self._starts(self.num_envs)
        self._steps[:] = 0
        self._needs_reset[:] = False
        return self._states.astype(np.float32), {}

    def step(self, actions: Any):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        if not np.isfinite(actions).all():
            raise ValueError("actions must be finite")
        restart = self._needs_reset
        self._states = np.clip(self._states + MAX_STEP * np.clip(actions, -1.0, 1.0), -STATE_LIMIT, STATE_LIMIT)
        self._steps += 1
        if restart.any():  # next-step autoreset: these robots start a new episode instead of moving
            self._states[restart] = self._starts(int(restart.sum()))
            self._steps[restart] = 0
        dense, sparse = point_robot_rewards(self._states, self._goals, self.single.goal_radius)
        reward = np.where(restart, 0.0, sparse if self.single.reward_type == "sparse" else dense)
        truncated = (self._steps >= self.max_episode_steps) & ~restart
        terminated = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = truncated.copy()
        everywhere = np.ones(self.num_envs, dtype=bool)  # a restarted robot reports its reset info, as SyncVectorEnv does
        info = {
            "dense_reward": dense,
            "_dense_reward": everywhere,
            "sparse_reward": sparse,
            "_sparse_reward": everywhere,
            "distance": -dense,
            "_distance": everywhere,
            "is_success": -dense <= self.single.goal_radius,
            "_is_success": everywhere,
        }
        return self._states.astype(np.float32), reward, terminated, truncated, info

    def _starts(self, count: int) -> np.ndarray:
        if self.single.random_start:
            return self.np_random.uniform(-1.0, 1.0, size=(count, 2))
        return np.zeros((count, 2))


class SparsePointRobotVectorEnv(PointRobotVectorEnv):
    """Native vector env of ``peach_lite/PointRobotSparse-v0``."""

    def __init__(self, num_envs: int, reward_type: str = "sparse", goal_radius: float = GOAL_RADIUS, **kwargs: Any):
        super().__init__(num_envs, goal_distribution="semicircle", reward_type=reward_type, random_start=False, goal_radius=goal_radius, **kwargs)


class DensePointRobotVectorEnv(PointRobotVectorEnv):
    """Native vector env of ``peach_lite/PointRobotDense-v0``."""

    def __init__(self, num_envs: int, reward_type: str = "dense", goal_radius: float = GOAL_RADIUS, **kwargs: Any):
        super().__init__(num_envs, goal_distribution="square", reward_type=reward_type, random_start=True, goal_radius=goal_radius, **kwargs)
