"""Task distributions for meta-RL and HRL, registered with gymnasium under ``peach_lite/``.

Importing this package only registers ids (entry points are strings), so it is cheap: no MuJoCo
model is compiled and ``mujoco`` itself is not imported until an env is made::

    import peach_lite.envs as envs
    env = envs.make("peach_lite/PointRobotSparse-v0")          # or gymnasium.make(...)
    vec = envs.make_vec("peach_lite/PointRobotSparse-v0", num_envs=8)   # native numpy vector env
    envs.set_tasks(vec, env.unwrapped.train_tasks()[:8])        # one task per sub-env

=====================================  ==========================================  =========
id                                     family (module)                             horizon
=====================================  ==========================================  =========
peach_lite/BernoulliBandit-v0          20-armed Bernoulli bandit (bandits)         100
peach_lite/KGoalBandit-v0              K-goal bandit, one pull/episode (bandits)   1
peach_lite/PointRobotSparse-v0         PEARL sparse semicircle, numpy              20
peach_lite/PointRobotDense-v0          PEARL dense point robot, numpy              20
peach_lite/PointMassSparse-v0          same task, MuJoCo point mass (point_mass)   20
peach_lite/PointMassDense-v0           same task, MuJoCo point mass (point_mass)   20
peach_lite/PointMaze-v0                four-rooms point-mass maze, sparse (HAC)    200
peach_lite/PointMazeDense-v0           same maze, reward -distance                 200
peach_lite/PointMazeHidden-v0          same maze, goal hidden: one of 3 sites      50
                                       (maze_hidden; PEACH)
peach_lite/PointMazeHiddenRegion-v0    hidden goal along a band through rooms      50
                                       1-3 (maze_hidden)
peach_lite/PointMazeSites-v0           the same sites, goal shown (the oracle's)   50
peach_lite/HalfCheetahVel-v0           target velocity (locomotion)                200
peach_lite/HalfCheetahDir-v0           forward / backward (locomotion)             200
peach_lite/AntDir-v0                   direction, forward/backward (locomotion)    200
peach_lite/AntGoal-v0                  goal in a disc of radius 3 (locomotion)     200
peach_lite/MovementBandits-v0          MLSH 2-goal movement bandits                50
peach_lite/FourRooms-v0                13x13 four-rooms gridworld, goal per task   100
peach_lite/HacPendulum-v0              HAC's pendulum swing-up to a goal           1000
                                       (pendulum_goal)
peach_lite/PointMassGoal-v0            PointMassSparse with the goal-conditioned   20
                                       observation (her.GoalObservation)
peach_lite/PointRobotHidden-v0         PointRobotSparse as a goal env, goal        20
                                       hidden (point_robot_goal; PEACH vs PEARL)
=====================================  ==========================================  =========

Taught in notebooks/01_task_gallery.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

__all__ = ["ENV_IDS", "NUMPY_ENV_IDS", "MUJOCO_ENV_IDS", "make", "make_vec", "set_tasks", "get_tasks", "register_envs"]

_VECTOR_ENTRY_POINTS = {
    "peach_lite/PointRobotSparse-v0": "peach_lite.envs.point_robot:SparsePointRobotVectorEnv",
    "peach_lite/PointRobotDense-v0": "peach_lite.envs.point_robot:DensePointRobotVectorEnv",
}
"""Families with a native numpy vector env (all robots stepped at once)."""

_REGISTRY: dict[str, tuple[str, int, dict[str, Any], bool]] = {
    # id: (entry point, max_episode_steps, default kwargs, uses MuJoCo)
    "peach_lite/BernoulliBandit-v0": ("peach_lite.envs.bandits:BernoulliBanditEnv", 100, {}, False),
    "peach_lite/KGoalBandit-v0": ("peach_lite.envs.bandits:KGoalBanditEnv", 1, {}, False),
    "peach_lite/PointRobotSparse-v0": ("peach_lite.envs.point_robot:SparsePointRobotEnv", 20, {}, False),
    "peach_lite/PointRobotDense-v0": ("peach_lite.envs.point_robot:DensePointRobotEnv", 20, {}, False),
    "peach_lite/PointMassSparse-v0": ("peach_lite.envs.point_mass:SparsePointMassEnv", 20, {}, True),
    "peach_lite/PointMassDense-v0": ("peach_lite.envs.point_mass:DensePointMassEnv", 20, {}, True),
    "peach_lite/PointMaze-v0": ("peach_lite.envs.point_mass:PointMazeEnv", 200, {}, True),
    "peach_lite/PointMazeDense-v0": ("peach_lite.envs.point_mass:PointMazeEnv", 200, {"reward_type": "dense"}, True),
    "peach_lite/PointMazeHidden-v0": ("peach_lite.envs.maze_hidden:PointMazeHiddenEnv", 50, {}, True),
    "peach_lite/PointMazeHiddenRegion-v0": ("peach_lite.envs.maze_hidden:PointMazeHiddenEnv", 50, {"goal_mode": "region"}, True),
    "peach_lite/PointMazeSites-v0": ("peach_lite.envs.maze_hidden:PointMazeHiddenEnv", 50, {"hide_goal": False}, True),
    "peach_lite/HalfCheetahVel-v0": ("peach_lite.envs.locomotion:HalfCheetahVelEnv", 200, {}, True),
    "peach_lite/HalfCheetahDir-v0": ("peach_lite.envs.locomotion:HalfCheetahDirEnv", 200, {}, True),
    "peach_lite/AntDir-v0": ("peach_lite.envs.locomotion:AntDirEnv", 200, {}, True),
    "peach_lite/AntGoal-v0": ("peach_lite.envs.locomotion:AntGoalEnv", 200, {}, True),
    "peach_lite/MovementBandits-v0": ("peach_lite.envs.movement_bandits:MovementBanditsEnv", 50, {}, False),
    "peach_lite/FourRooms-v0": ("peach_lite.envs.four_rooms:FourRoomsEnv", 100, {}, False),
    "peach_lite/HacPendulum-v0": ("peach_lite.envs.pendulum_goal:PendulumGoalEnv", 1000, {}, True),
    "peach_lite/PointMassGoal-v0": ("peach_lite.her:goal_point_mass", 20, {}, True),
    "peach_lite/PointRobotHidden-v0": ("peach_lite.envs.point_robot_goal:PointRobotHiddenEnv", 20, {}, False),
}

ENV_IDS: tuple[str, ...] = tuple(_REGISTRY)
"""Every registered id, in the order of the table above."""
NUMPY_ENV_IDS: tuple[str, ...] = tuple(k for k, v in _REGISTRY.items() if not v[3])
"""Ids of the pure-numpy families (cheap, no MuJoCo)."""
MUJOCO_ENV_IDS: tuple[str, ...] = tuple(k for k, v in _REGISTRY.items() if v[3])
"""Ids simulated with MuJoCo."""


def register_envs() -> None:
    """Register every id with gymnasium (idempotent; runs on ``import peach_lite.envs``)."""
    for env_id, (entry_point, max_steps, kwargs, _) in _REGISTRY.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=_VECTOR_ENTRY_POINTS.get(env_id),
                max_episode_steps=max_steps,
                kwargs=dict(kwargs),
            )


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """The package's one env maker: ``gymnasium.make`` for a ``peach_lite/`` id or any other registered id.

    An unknown id is a ValueError listing the peach_lite ids; a keyword the env does not take (or one
    its registration already fixes) is a ValueError naming it.

    Args:
        env_id: one of ``ENV_IDS``, or a gymnasium id such as ``"Pendulum-v1"``.
        **kwargs: forwarded to ``gymnasium.make`` (``render_mode=``, ``max_episode_steps=``, env kwargs).

    Taught in notebooks/01_task_gallery.py (section "Making an env").
    """
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a string id, got {env_id!r}")
    if env_id.startswith("peach_lite/") or env_id not in gym.registry:
        _check_id(env_id)
    try:
        return gym.make(env_id, **kwargs)
    except TypeError as error:
        raise ValueError(f"{env_id}: bad keyword argument(s) {sorted(kwargs)}: {error}") from None


def make_vec(env_id: str, num_envs: int, vectorization_mode: str | None = None, **kwargs: Any) -> gym.vector.VectorEnv:
    """``gymnasium.make_vec`` for a ``peach_lite/`` id.

    Args:
        env_id: one of ``ENV_IDS``.
        num_envs: number of sub-environments, >= 1.
        vectorization_mode: ``None`` (default: the native numpy vector env where a family has one,
            the point robots, else ``"sync"``), ``"sync"``, ``"async"`` (a process per env; worth it
            for Ant only) or ``"vector_entry_point"``.
        **kwargs: env kwargs, forwarded to every sub-env.

    Taught in notebooks/01_task_gallery.py (section "Throughput").
    """
    from peach_lite.validation import check_choice, check_range

    _check_id(env_id)
    check_range("num_envs", num_envs, 1, 10_000_000)
    check_choice("vectorization_mode", vectorization_mode, [None, "sync", "async", "vector_entry_point"])
    if vectorization_mode == "vector_entry_point" and env_id not in _VECTOR_ENTRY_POINTS:
        raise ValueError(f"vectorization_mode 'vector_entry_point' needs one of {sorted(_VECTOR_ENTRY_POINTS)}, got {env_id!r}")
    return gym.make_vec(env_id, num_envs=int(num_envs), vectorization_mode=vectorization_mode, **kwargs)


def set_tasks(vec_env: gym.vector.VectorEnv, tasks: Sequence[Any]) -> None:
    """Give each sub-env of a vector env its own task (applies from the next reset).

    Args:
        vec_env: made by ``make_vec`` (native, sync or async).
        tasks: one task (dataclass or dict) per sub-env.

    Taught in notebooks/01_task_gallery.py (section "Throughput").
    """
    if len(tasks) != vec_env.num_envs:
        raise ValueError(f"tasks must have one entry per sub-env ({vec_env.num_envs}), got {len(tasks)}")
    native = getattr(vec_env.unwrapped, "set_tasks", None)
    if native is not None:
        native(list(tasks))
    else:
        vec_env.set_attr("task", list(tasks))


def get_tasks(vec_env: gym.vector.VectorEnv) -> list[Any]:
    """The current task of every sub-env of a vector env."""
    native = getattr(vec_env.unwrapped, "get_tasks", None)
    return list(native() if native is not None else vec_env.get_attr("task"))


def _check_id(env_id: str) -> None:
    if env_id not in _REGISTRY:
        known = "\n  ".join(ENV_IDS)
        raise ValueError(f"unknown env id {env_id!r}; known ids:\n  {known}")


register_envs()
