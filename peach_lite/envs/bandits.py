"""Two bandit task families: the Bernoulli multi-armed bandit and the K-goal discrete bandit.

**Bernoulli bandit** (``peach_lite/BernoulliBandit-v0``, seed 004, Humplik et al. 2019): 20 arms,
100 pulls per episode (``TimeLimit``); a task is the vector of arm probabilities, each ~ U[0, 1].
Pulling arm ``a`` pays 1 with probability ``probs[a]``. The observation is what a recurrent
meta-learner needs to infer the task: a one-hot of the previous arm and the previous reward
(zeros at the first step). Split: 100 train / 1000 test tasks (seed 004's "train on 100 tasks,
evaluate on a holdout of 1000").

**K-goal bandit** (``peach_lite/KGoalBandit-v0``): the smallest task whose Bayes-optimal return has
a closed form. Structure, made explicit:

* a *trial* is H gymnasium episodes on the same task (the learner keeps its memory across them);
* one episode = **one pull**: the agent picks one of K goals (``Discrete(K)``), gets reward 1 if it
  is the task's goal and 0 otherwise, and the episode terminates;
* the task is the index of the rewarding goal, uniform over K;
* the observation carries no information (a constant ``[1.0]``); all information is in rewards.

The Bayes-optimal learner never repeats a wrong goal and repeats the right one forever, so in
episode t it succeeds with probability min(t, K)/K and expects ``sum_{t=1..H} min(t, K)/K``
successes in a trial (``oracles.k_goal_bayes_optimal``). The task-known oracle gets H, random
choice H/K. Train and test splits are both the full list of K goals (a finite task set).

Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple
from peach_lite.envs.rendering import PALETTE, Canvas
from peach_lite.validation import check_choice, check_range

__all__ = ["BernoulliBanditTask", "BernoulliBanditEnv", "KGoalTask", "KGoalBanditEnv"]


@dataclass(frozen=True)
class BernoulliBanditTask(Task):
    """One Bernoulli bandit: the success probability of every arm.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    probs: tuple[float, ...]
    """Probability that each arm pays 1, each in [0, 1]; length = number of arms (20 by default)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "probs", float_tuple("probs", self.probs, None, 0.0, 1.0))
        if len(self.probs) < 2:
            raise ValueError(f"probs must have at least 2 entries, got {len(self.probs)}")


class BernoulliBanditEnv(TaskEnvMixin, gym.Env):
    """Multi-armed Bernoulli bandit; one episode = ``horizon`` pulls (set by ``TimeLimit``, 100).

    Args:
        num_arms: number of arms (seed 004: 20).
        render_mode: ``None`` or ``"rgb_array"`` (bars = arm probabilities, last pull highlighted).
        width, height: frame size in pixels.

    Spaces: observation Box(0, 1, (num_arms + 1,), float32) = [one-hot previous arm, previous
    reward]; action Discrete(num_arms). ``info``: ``expected_reward`` (= probs[a]), ``regret``
    (= max(probs) - probs[a]).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    task_cls = BernoulliBanditTask
    num_train_tasks = 100
    num_test_tasks = 1000

    def __init__(self, num_arms: int = 20, render_mode: str | None = None, width: int = 240, height: int = 240):
        check_range("num_arms", num_arms, 2, 1000)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.num_arms = int(num_arms)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(self.num_arms + 1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.num_arms)
        self._probs = np.zeros(self.num_arms)
        self._last_action: int | None = None
        self._last_reward = 0.0
        self._init_task_api(self.test_tasks()[0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        self._last_action, self._last_reward = None, 0.0
        return self._obs(), {}

    def step(self, action: Any):
        arm = self._check_discrete_action(action)
        probability = float(self._probs[arm])
        reward = float(self.np_random.random() < probability)
        self._last_action, self._last_reward = arm, reward
        info = {"expected_reward": probability, "regret": float(self._probs.max()) - probability}
        return self._obs(), reward, False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        canvas = Canvas(self.width, self.height, (-0.5, self.num_arms + 0.5), (-0.15, 1.1))
        canvas.rect((-0.5, 1.0), (self.num_arms + 0.5, 1.005), PALETTE["grid"])
        best = int(np.argmax(self._probs))
        for arm, probability in enumerate(self._probs):
            color = PALETTE["goal"] if arm == best else PALETTE["candidate"]
            canvas.rect((arm + 0.1, 0.0), (arm + 0.9, max(probability, 0.01)), color)
        if self._last_action is not None:
            color = PALETTE["agent"] if self._last_reward > 0 else PALETTE["wrong"]
            canvas.rect((self._last_action + 0.1, -0.12), (self._last_action + 0.9, -0.04), color)
        return canvas.image

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.num_arms + 1, dtype=np.float32)
        if self._last_action is not None:
            obs[self._last_action] = 1.0
        obs[-1] = self._last_reward
        return obs

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[BernoulliBanditTask]:
        return [BernoulliBanditTask(probs=tuple(p)) for p in rng.uniform(0.0, 1.0, size=(n, self.num_arms))]

    def _check_task(self, task: BernoulliBanditTask) -> None:
        if len(task.probs) != self.num_arms:
            raise ValueError(f"probs must have num_arms = {self.num_arms} entries, got {len(task.probs)}")

    def _apply_task(self, task: BernoulliBanditTask) -> None:
        self._probs = np.asarray(task.probs, dtype=np.float64)


@dataclass(frozen=True)
class KGoalTask(Task):
    """One K-goal bandit task: which goal pays.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    goal: int
    """Index of the rewarding goal, in [0, K-1] (K is the env's ``num_goals``)."""

    def __post_init__(self) -> None:
        if isinstance(self.goal, bool) or not isinstance(self.goal, (int, np.integer)):
            raise ValueError(f"goal must be an integer, got {self.goal!r}")
        check_range("goal", self.goal, 0, None)
        object.__setattr__(self, "goal", int(self.goal))


class KGoalBanditEnv(TaskEnvMixin, gym.Env):
    """K goals, one pull per episode, reward 1 for the task's goal (see the module docstring).

    Args:
        num_goals: K (default 4).
        render_mode: ``None`` or ``"rgb_array"`` (K doors around the agent; the goal is green).
        width, height: frame size in pixels.

    Spaces: observation Box(0, 1, (1,), float32), always [1.0]; action Discrete(K). Every step
    terminates. ``info["is_success"]`` says whether the right goal was chosen.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    task_cls = KGoalTask

    def __init__(self, num_goals: int = 4, render_mode: str | None = None, width: int = 240, height: int = 240):
        check_range("num_goals", num_goals, 2, 1000)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.num_goals = int(num_goals)
        self.num_train_tasks = self.num_test_tasks = self.num_goals
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.num_goals)
        self._goal = 0
        self._last_action: int | None = None
        self._init_task_api(KGoalTask(goal=0))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        self._last_action = None
        return np.ones(1, dtype=np.float32), {}

    def step(self, action: Any):
        choice = self._check_discrete_action(action)
        self._last_action = choice
        success = choice == self._goal
        return np.ones(1, dtype=np.float32), float(success), True, False, {"is_success": success}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        canvas = Canvas(self.width, self.height, (-1.3, 1.3), (-1.3, 1.3))
        angles = 2 * np.pi * np.arange(self.num_goals) / self.num_goals + np.pi / 2
        doors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        if self._last_action is not None:
            canvas.segment((0, 0), doors[self._last_action], 0.03, PALETTE["trail"])
        for index, door in enumerate(doors):
            color = PALETTE["goal"] if index == self._goal else PALETTE["candidate"]
            canvas.disc(door, 0.16, color)
            if index == self._last_action and index != self._goal:
                canvas.ring(door, 0.2, 0.05, PALETTE["wrong"])
            elif index == self._last_action:
                canvas.ring(door, 0.2, 0.05, PALETTE["agent"])
        canvas.disc((0, 0), 0.1, PALETTE["agent"])
        return canvas.image

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[KGoalTask]:
        return [KGoalTask(goal=int(g)) for g in rng.integers(0, self.num_goals, size=n)]

    def _make_split(self) -> tuple[list[KGoalTask], list[KGoalTask]]:
        tasks = [KGoalTask(goal=g) for g in range(self.num_goals)]
        return tasks, list(tasks)

    def _check_task(self, task: KGoalTask) -> None:
        check_range("goal", task.goal, 0, self.num_goals - 1)

    def _apply_task(self, task: KGoalTask) -> None:
        self._goal = task.goal
