"""PEARL's sparse point robot as a hidden-goal goal env: PEACH's head-to-head with PEARL (lesson 11).

``PointRobotHiddenEnv`` (``peach_lite/PointRobotHidden-v0``) is :class:`~peach_lite.envs.point_robot.SparsePointRobotEnv`
(same 80 train / 20 test semicircle goals, start (0, 0), the step rule s <- s + 0.1 clip(a, -1, 1), horizon 20,
``render``) seen through HAC's goal-conditioned interface, with the goal hidden, as the hidden-goal maze
(``maze_hidden.py``) is:

* **observation** Dict: ``observation`` = position (2,), ``achieved_goal`` = position (2,), ``desired_goal`` =
  zeros (2,), always: the agent is not told the goal.
* **reward** HAC's convention: -1 per step, 0 with ``terminated`` once within ``goal_radius`` (0.2) of the hidden
  goal. ``compute_reward(achieved_goal, desired_goal, info)`` is the same rule for *given* goals, vectorised
  (hindsight and task relabelling), so ``step``'s reward equals ``compute_reward(achieved_goal, task.goal)``, not
  ``compute_reward(achieved_goal, obs["desired_goal"])``.
* ``info``: ``is_success``, ``distance``, ``dense_reward`` (-distance, the dense-context diagnostic) and
  ``sparse_reward`` (PEARL's 1 - d inside the radius, else 0), all from ``point_robot_rewards``.
* **goal space** (HAC's subgoal box, read by ``HacSpec.from_env``): ``desired_goal`` lives in the box around the goal
  semicircle widened by the goal radius, x in [-1.2, 1.2], y in [-0.2, 1.2] (:data:`GOAL_LOW`, :data:`GOAL_HIGH`);
  ``achieved_goal`` in the reachable square [-2, 2]^2 (20 steps of at most 0.1 per axis from (0, 0)).

Differences from PEARL's env: the episode ends at success (HAC's episodes do), so compare agents on success, not on
the summed sparse reward.

Taught in notebooks/11_peach.py (section "PEARL's point robot, head to head").
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from peach_lite.envs.point_robot import GOAL_RADIUS, HORIZON, MAX_STEP, SparsePointRobotEnv

__all__ = ["PointRobotHiddenEnv", "GOAL_LOW", "GOAL_HIGH", "REACH"]

REACH = HORIZON * MAX_STEP
"""Largest |coordinate| the robot can reach from (0, 0) in one episode (2.0): the achieved-goal box."""
GOAL_LOW = (-1.2, -0.2)
"""Lower corner of the goal (and subgoal) box: the upper unit semicircle widened by the goal radius."""
GOAL_HIGH = (1.2, 1.2)
"""Upper corner of the goal (and subgoal) box."""


class PointRobotHiddenEnv(SparsePointRobotEnv):
    """PEARL's sparse point robot with a goal-conditioned observation whose goal is hidden (see the module doc).

    Args:
        goal_radius: success radius (oyster 0.2); also HAC's goal threshold (``HacSpec.from_env`` reads it).
        **kwargs: ``render_mode``, ``width``, ``height`` (as ``PointRobotEnv``).

    Spaces: observation Dict(observation Box(-10, 10, (2,)), achieved_goal Box(-2, 2, (2,)), desired_goal
    Box(GOAL_LOW, GOAL_HIGH)), float32; action Box(-1, 1, (2,), float32), scaled by 0.1.

    Taught in notebooks/11_peach.py (section "PEARL's point robot, head to head").
    """

    def __init__(self, goal_radius: float = GOAL_RADIUS, **kwargs: Any):
        super().__init__(reward_type="sparse", goal_radius=goal_radius, **kwargs)
        position = self.observation_space
        self.observation_space = gym.spaces.Dict({
            "observation": position,
            "achieved_goal": gym.spaces.Box(-REACH, REACH, shape=(2,), dtype=np.float32),
            "desired_goal": gym.spaces.Box(np.array(GOAL_LOW, np.float32), np.array(GOAL_HIGH, np.float32), dtype=np.float32),
        })

    # ------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        position, info = super().reset(seed=seed, options=options)
        return self._goal_obs(position), info

    def step(self, action: Any):
        position, _, _, truncated, info = super().step(action)  # PEARL's step rule; its reward is replaced by HAC's
        reward = float(self.compute_reward(self._state, self._goal, info)) + 0.0  # the same state as info's; no -0.0
        return self._goal_obs(position), reward, bool(info["is_success"]), truncated, info

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray:
        """HAC's reward of reaching ``achieved_goal`` (..., 2) when aiming for ``desired_goal`` (..., 2): -1 outside
        ``goal_radius``, 0 inside (vectorised; ``info`` is ignored, kept for gymnasium-robotics' signature).

        Returns:
            (...) float32 rewards.
        """
        distance = np.linalg.norm(np.asarray(achieved_goal, np.float64) - np.asarray(desired_goal, np.float64), axis=-1)
        return -(distance > self.goal_radius).astype(np.float32)

    def compute_terminated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray:
        """True where ``achieved_goal`` is within ``goal_radius`` of ``desired_goal`` (vectorised)."""
        distance = np.linalg.norm(np.asarray(achieved_goal, np.float64) - np.asarray(desired_goal, np.float64), axis=-1)
        return distance <= self.goal_radius

    # -------------------------------------------------------------------------------- helpers
    def _reached(self, position: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(position, np.float32), -REACH, REACH)

    def _goal_obs(self, position: np.ndarray) -> dict[str, np.ndarray]:
        return {"observation": np.asarray(position, np.float32), "achieved_goal": self._reached(position),
                "desired_goal": np.zeros(2, np.float32)}
