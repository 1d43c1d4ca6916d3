"""HAC's inverted-pendulum swing-up as a goal-conditioned MuJoCo env: ``peach_lite/HacPendulum-v0``.

The first benchmark of the HAC paper (Levy et al., ICLR 2019): a pole whose motor is too weak to lift
it directly, so the agent must swing it up to a goal (angle, angular velocity). Goal-conditioned
layout as in gymnasium-robotics (``observation``, ``achieved_goal``, ``desired_goal``); reward -1 per
step, 0 (and terminal) inside the per-dimension goal thresholds; ``info["is_success"]``.

Taught in notebooks/07_hac.py (section "A second task: pendulum swing-up").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple
from peach_lite.her import goal_reached
from peach_lite.validation import check_choice, check_range

__all__ = ["PendulumTask", "PendulumGoalEnv", "GOAL_COLOR"]

GOAL_COLOR = (0.1, 0.6, 0.2, 0.9)
"""rgba of the end-goal marker (green, as in lesson 07's pictures)."""


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
    A small XML model of our own.

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
        goal = (self.goal_marker_position(np.array(self.get_task().goal)), np.array(GOAL_COLOR, np.float32), 0.06)
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

