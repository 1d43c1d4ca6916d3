"""PEARL's MuJoCo locomotion task families, as thin subclasses of gymnasium's v5 envs.

Each family keeps the v5 physics, observation and action spaces, and only swaps the reward,
computed from what v5 already reports in ``info`` (``x_velocity``, ``y_velocity``, ``x_position``,
``reward_ctrl``, ``reward_contact``, ``reward_survive``), so the overhead over the bare env is a few
arithmetic operations per step (``benchmarks/env_speed.py`` measures it). Horizon 200 (``TimeLimit``).
Reward definitions follow oyster (algorithms.md §3):

=================  ==================================================  ===========================
family             reward per step                                     task distribution, split
=================  ==================================================  ===========================
HalfCheetahVel     -|v_x - v| - 0.05 ||a||^2                           v ~ U[0, 3], 100 / 30
HalfCheetahDir     d * v_x - 0.05 ||a||^2                              d in {-1, +1}, 2 / 2 (same)
AntDir             (v_x, v_y).(cos t, sin t) - 0.5||a||^2 - contact +1  t in {0, pi}, 2 / 2 (same)
AntGoal            -||xy - g||_1 - 0.1 ||a||^2 - contact                g uniform in disc r=3, 150/30
=================  ==================================================  ===========================

Documented deviations and choices:

* **cheetah-vel range.** oyster's docstring says U[0, 2] but its code samples U[0, 3] (seed 1337);
  garage uses U[0, 2]. We follow oyster's code, ``velocity_range=(0.0, 3.0)``, because PEARL is the
  reference whose numbers our lessons compare with; pass ``velocity_range=(0.0, 2.0)`` for garage.
  The split is oyster's: ``RandomState(1337).uniform(low, high, 130)``, first 100 train, last 30 test.
* **ant-dir directions.** oyster's config leaves ``forward_backward`` off (2 random, unseeded
  directions); the PEARL paper ("Fwd-Back") and MQL use forward/backward. Default
  ``forward_backward=True``: tasks t = 0 and t = pi; with False, directions ~ U[0, 2 pi) (seeded).
  As in oyster, the 2-task families evaluate on their training tasks.
* **Observations** are v5's, not oyster's: HalfCheetah 17-D (oyster 20-D), Ant 105-D with
  clipped contact forces (oyster ant-dir 27-D). AntGoal adds the torso's x, y (107-D) because
  oyster's ant-goal observes the full qpos and the goal is a position.
* **Physics** are v5's (MuJoCo 3+), so numbers are not bit-comparable with mujoco-py 1.31 runs.
* AntGoal never terminates (``terminate_when_unhealthy=False``); AntDir terminates when the torso
  leaves z in [0.2, 1.0], as v5 does.
* oyster's ant-goal goals are unseeded; ours are seeded (``split_seed`` 1337).

Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import mujoco
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple, float_value
from peach_lite.envs.rendering import MujocoFrames
from peach_lite.validation import check_choice, check_range

__all__ = [
    "CheetahVelTask",
    "CheetahDirTask",
    "AntDirTask",
    "AntGoalTask",
    "HalfCheetahVelEnv",
    "HalfCheetahDirEnv",
    "AntDirEnv",
    "AntGoalEnv",
]

_RENDER_MODES = ["rgb_array"]


@dataclass(frozen=True)
class CheetahVelTask(Task):
    """Target forward velocity of HalfCheetahVel.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    velocity: float
    """Target x-velocity in m/s, inside the env's ``velocity_range`` (oyster: [0, 3])."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "velocity", float_value("velocity", self.velocity, -10.0, 10.0))


@dataclass(frozen=True)
class CheetahDirTask(Task):
    """Running direction of HalfCheetahDir.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    direction: int
    """+1 (forward) or -1 (backward)."""

    def __post_init__(self) -> None:
        check_choice("direction", self.direction, [-1, 1])
        if isinstance(self.direction, bool):
            raise ValueError(f"direction must be one of [-1, 1], got {self.direction!r}")
        object.__setattr__(self, "direction", int(self.direction))


@dataclass(frozen=True)
class AntDirTask(Task):
    """Running direction of AntDir, as an angle.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    angle: float
    """Direction in radians, in [0, 2 pi] (0 = +x; pi = -x)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "angle", float_value("angle", self.angle, 0.0, 2 * np.pi))


@dataclass(frozen=True)
class AntGoalTask(Task):
    """Goal position of AntGoal.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    goal: tuple[float, float]
    """Goal (x, y) in metres, within the disc of radius 3 around the origin."""

    def __post_init__(self) -> None:
        goal = float_tuple("goal", self.goal, 2, -3.0, 3.0)
        check_range("norm of goal", float(np.hypot(*goal)), 0.0, 3.0 + 1e-9)
        object.__setattr__(self, "goal", goal)


@contextlib.contextmanager
def _quiet_settotalmass() -> Iterator[None]:
    """Drop MuJoCo's "settotalmass is deprecated" warning (gymnasium's own XML triggers it) while compiling.

    Any other MuJoCo warning is re-raised as a Python warning.
    """
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "settotalmass" not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


class _LocomotionMixin(TaskEnvMixin):
    """Rendering (tracking camera, shadows off, markers) and task plumbing shared by the families."""

    _frames: MujocoFrames | None = None
    _camera_distance: ClassVar[float] = 4.0

    def _setup(self, width: int, height: int) -> None:
        check_range("width", width, 16, 640)
        check_range("height", height, 16, 480)
        self._frame_size = (int(width), int(height))
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self._camera.trackbodyid = 1
        self._camera.distance = self._camera_distance
        self._camera.elevation = -25.0
        self._camera.azimuth = 90.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        self._task_from_options(options)
        return super().reset(seed=seed)  # type: ignore[misc]

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode != "rgb_array":  # type: ignore[attr-defined]
            return None
        if self._frames is None:
            self._frames = MujocoFrames(self.model, *self._frame_size)  # type: ignore[attr-defined]
        return self._frames.render(self.data, self._camera, self._task_spheres() + self.get_markers())  # type: ignore[attr-defined]

    def close(self) -> None:  # type: ignore[override]
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        super().close()  # type: ignore[misc]

    def _task_spheres(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        return []

    def _default_marker_radius(self) -> float:
        return 0.1


class HalfCheetahVelEnv(_LocomotionMixin, HalfCheetahEnv):
    """HalfCheetah-v5 rewarded for running at a target velocity.

    Args:
        velocity_range: (low, high) of the task distribution; oyster (0, 3), garage (0, 2).
        ctrl_cost_weight: 0.05 (oyster's 0.5 * 1e-1).
        render_mode: ``None`` or ``"rgb_array"``.
        width, height: frame size in pixels.
        **kwargs: forwarded to ``HalfCheetahEnv`` (v5).

    Spaces: v5's, observation Box(17,), action Box(-1, 1, (6,)). ``info`` adds ``reward_velocity``.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": _RENDER_MODES, "render_fps": 20}
    task_cls = CheetahVelTask
    num_train_tasks = 100
    num_test_tasks = 30

    def __init__(
        self,
        velocity_range: tuple[float, float] = (0.0, 3.0),
        ctrl_cost_weight: float = 0.05,
        render_mode: str | None = None,
        width: int = 240,
        height: int = 240,
        **kwargs: Any,
    ):
        low, high = float_tuple("velocity_range", velocity_range, 2, -10.0, 10.0)
        if low >= high:
            raise ValueError(f"velocity_range must have low < high, got {velocity_range}")
        check_range("ctrl_cost_weight", ctrl_cost_weight, 0.0, None)
        check_choice("render_mode", render_mode, [None, *_RENDER_MODES])
        with _quiet_settotalmass():
            HalfCheetahEnv.__init__(self, ctrl_cost_weight=ctrl_cost_weight, render_mode=render_mode, width=width, height=height, **kwargs)
        self.metadata = {"render_modes": _RENDER_MODES, "render_fps": int(np.round(1.0 / self.dt))}
        self.velocity_range = (low, high)
        self._setup(width, height)
        self._target = 0.0
        self._init_task_api(self.test_tasks()[0])

    def step(self, action: Any):
        obs, _, terminated, truncated, info = super().step(self._check_box_action(action))
        info["reward_velocity"] = -abs(info["x_velocity"] - self._target)
        return obs, info["reward_velocity"] + info["reward_ctrl"], terminated, truncated, info

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[CheetahVelTask]:
        return [CheetahVelTask(velocity=float(v)) for v in rng.uniform(*self.velocity_range, size=n)]

    def _make_split(self) -> tuple[list[CheetahVelTask], list[CheetahVelTask]]:
        total = self.num_train_tasks + self.num_test_tasks
        velocities = np.random.RandomState(self.split_seed).uniform(*self.velocity_range, size=total)  # oyster's draw
        tasks = [CheetahVelTask(velocity=float(v)) for v in velocities]
        return tasks[: self.num_train_tasks], tasks[self.num_train_tasks :]

    def _check_task(self, task: CheetahVelTask) -> None:
        check_range("velocity", task.velocity, *self.velocity_range)

    def _apply_task(self, task: CheetahVelTask) -> None:
        self._target = task.velocity


class HalfCheetahDirEnv(_LocomotionMixin, HalfCheetahEnv):
    """HalfCheetah-v5 rewarded for running forward (+1) or backward (-1).

    Args:
        ctrl_cost_weight: 0.05 (oyster).
        render_mode, width, height, **kwargs: as ``HalfCheetahVelEnv``.

    Spaces: v5's, observation Box(17,), action Box(-1, 1, (6,)).

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": _RENDER_MODES, "render_fps": 20}
    task_cls = CheetahDirTask
    num_train_tasks = 2
    num_test_tasks = 2

    def __init__(self, ctrl_cost_weight: float = 0.05, render_mode: str | None = None, width: int = 240, height: int = 240, **kwargs: Any):
        check_range("ctrl_cost_weight", ctrl_cost_weight, 0.0, None)
        check_choice("render_mode", render_mode, [None, *_RENDER_MODES])
        with _quiet_settotalmass():
            HalfCheetahEnv.__init__(self, ctrl_cost_weight=ctrl_cost_weight, render_mode=render_mode, width=width, height=height, **kwargs)
        self.metadata = {"render_modes": _RENDER_MODES, "render_fps": int(np.round(1.0 / self.dt))}
        self._setup(width, height)
        self._direction = 1
        self._init_task_api(CheetahDirTask(direction=1))

    def step(self, action: Any):
        obs, _, terminated, truncated, info = super().step(self._check_box_action(action))
        return obs, self._direction * info["x_velocity"] + info["reward_ctrl"], terminated, truncated, info

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[CheetahDirTask]:
        return [CheetahDirTask(direction=int(d)) for d in rng.choice([-1, 1], size=n)]

    def _make_split(self) -> tuple[list[CheetahDirTask], list[CheetahDirTask]]:
        tasks = [CheetahDirTask(direction=-1), CheetahDirTask(direction=1)]  # oyster's fixed list
        return tasks, list(tasks)

    def _apply_task(self, task: CheetahDirTask) -> None:
        self._direction = task.direction


class AntDirEnv(_LocomotionMixin, AntEnv):
    """Ant-v5 rewarded for running in a direction (v5 defaults match oyster's ant-dir weights).

    Args:
        forward_backward: tasks are t = 0 and pi (paper, MQL; default) instead of t ~ U[0, 2 pi).
        render_mode, width, height: as ``HalfCheetahVelEnv``.
        **kwargs: forwarded to ``AntEnv`` (v5).

    Spaces: v5's, observation Box(105,), action Box(-1, 1, (8,)). ``info`` adds ``reward_direction``.

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": _RENDER_MODES, "render_fps": 20}
    task_cls = AntDirTask
    num_train_tasks = 2
    num_test_tasks = 2
    _camera_distance = 6.0

    def __init__(self, forward_backward: bool = True, render_mode: str | None = None, width: int = 240, height: int = 240, **kwargs: Any):
        check_choice("render_mode", render_mode, [None, *_RENDER_MODES])
        with _quiet_settotalmass():
            AntEnv.__init__(self, render_mode=render_mode, width=width, height=height, **kwargs)
        self.metadata = {"render_modes": _RENDER_MODES, "render_fps": int(np.round(1.0 / self.dt))}
        self.forward_backward = bool(forward_backward)
        self._setup(width, height)
        self._unit = np.array([1.0, 0.0])
        self._init_task_api(self.train_tasks()[0])

    def step(self, action: Any):
        obs, _, terminated, truncated, info = super().step(self._check_box_action(action))
        info["reward_direction"] = self._unit[0] * info["x_velocity"] + self._unit[1] * info["y_velocity"]
        reward = info["reward_direction"] + info["reward_survive"] + info["reward_ctrl"] + info["reward_contact"]
        return obs, reward, terminated, truncated, info

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[AntDirTask]:
        if self.forward_backward:
            return [AntDirTask(angle=float(a)) for a in rng.choice([0.0, np.pi], size=n)]
        return [AntDirTask(angle=float(a)) for a in rng.uniform(0.0, 2 * np.pi, size=n)]

    def _make_split(self) -> tuple[list[AntDirTask], list[AntDirTask]]:
        if self.forward_backward:
            tasks = [AntDirTask(angle=0.0), AntDirTask(angle=float(np.pi))]
        else:
            tasks = self.sample_tasks(2, seed=self.split_seed)
        return tasks, list(tasks)  # oyster: eval tasks are the train tasks

    def _apply_task(self, task: AntDirTask) -> None:
        self._unit = np.array([np.cos(task.angle), np.sin(task.angle)])

    def _task_spheres(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        torso = self.data.qpos[:2]
        return [(np.array([*(torso + 1.5 * self._unit), 0.1]), np.array([0.2, 0.75, 0.3, 1.0], np.float32), 0.12)]


class AntGoalEnv(_LocomotionMixin, AntEnv):
    """Ant-v5 rewarded for reaching a goal position (never terminates, no survive bonus).

    Args:
        radius: goals are uniform in the disc of this radius (oyster: 3).
        ctrl_cost_weight: 0.1 (oyster ant-goal).
        render_mode, width, height: as ``HalfCheetahVelEnv``.
        **kwargs: forwarded to ``AntEnv`` (v5).

    Spaces: observation Box(107,) (v5's 105 plus torso x, y first), action Box(-1, 1, (8,)).
    ``info`` adds ``reward_goal`` (= -||xy - g||_1).

    Taught in notebooks/01_task_gallery.py (section "Locomotion: the do-nothing baseline").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": _RENDER_MODES, "render_fps": 20}
    task_cls = AntGoalTask
    num_train_tasks = 150
    num_test_tasks = 30
    _camera_distance = 9.0

    def __init__(
        self, radius: float = 3.0, ctrl_cost_weight: float = 0.1, render_mode: str | None = None, width: int = 240, height: int = 240, **kwargs: Any
    ):
        check_range("radius", radius, 0.1, 3.0)
        check_range("ctrl_cost_weight", ctrl_cost_weight, 0.0, None)
        check_choice("render_mode", render_mode, [None, *_RENDER_MODES])
        kwargs = {"terminate_when_unhealthy": False, "healthy_reward": 0.0, "exclude_current_positions_from_observation": False, **kwargs}
        with _quiet_settotalmass():
            AntEnv.__init__(self, ctrl_cost_weight=ctrl_cost_weight, render_mode=render_mode, width=width, height=height, **kwargs)
        self.metadata = {"render_modes": _RENDER_MODES, "render_fps": int(np.round(1.0 / self.dt))}
        self.radius = float(radius)
        self._setup(width, height)
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._camera.lookat[:] = (0.0, 0.0, 0.0)
        self._camera.elevation = -60.0
        self._goal = np.zeros(2)
        self._init_task_api(self.test_tasks()[0])

    def step(self, action: Any):
        obs, _, terminated, truncated, info = super().step(self._check_box_action(action))
        info["reward_goal"] = -(abs(info["x_position"] - self._goal[0]) + abs(info["y_position"] - self._goal[1]))
        return obs, info["reward_goal"] + info["reward_ctrl"] + info["reward_contact"], terminated, truncated, info

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[AntGoalTask]:
        angles = rng.uniform(0.0, 2 * np.pi, size=n)
        radii = self.radius * np.sqrt(rng.uniform(0.0, 1.0, size=n))
        return [AntGoalTask(goal=(float(r * np.cos(a)), float(r * np.sin(a)))) for a, r in zip(angles, radii)]

    def _check_task(self, task: AntGoalTask) -> None:
        check_range("norm of goal", float(np.hypot(*task.goal)), 0.0, self.radius + 1e-9)

    def _apply_task(self, task: AntGoalTask) -> None:
        self._goal = np.asarray(task.goal, dtype=np.float64)

    def _task_spheres(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        return [(np.array([*self._goal, 0.1]), np.array([0.2, 0.75, 0.3, 1.0], np.float32), 0.25)]
