"""Batched task families for lesson 03: all ``n`` episodes of a batch simulated at once on tensors.

Each family implements :class:`peach_lite.loop.TaskEnvs` (``reset(tasks, seed)`` / ``step(action, active)``),
so :func:`peach_lite.loop.run_episodes` drives it like any list of gymnasium envs, but one step of all
``n`` episodes is a handful of tensor operations. The dynamics are the batched simulators of
:mod:`peach_lite.belief` (``tests/test_belief.py`` checks them step for step against the registered
gymnasium envs); tasks come from the envs' own ``sample_tasks`` and held-out ``test_tasks``.

Besides the dynamics a family knows what lesson 03 grades an agent with: the privileged task description
``h`` a belief head predicts (:meth:`TaskFamily.targets`), the exact Bayes posterior of that target
(:meth:`TaskFamily.exact_prediction`), and the task-known oracle's return.

Actions are discrete; since :class:`~peach_lite.loop.TaskEnvs` speaks ``Box`` actions, an action is the
index in ``{0, ..., num_actions - 1}`` as one float, shape ``(n, 1)``.

Taught in notebooks/03_task_inference.py (section "Three task families").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.belief import (
    BatchedBernoulliBandit,
    BatchedKGoal,
    BatchedMovementBandits,
    beta_bernoulli_filter,
    k_goal_filter,
    movement_bandits_filter,
)
from peach_lite.loop import Step, TaskBatch
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["FAMILIES", "TaskFamily", "BanditFamily", "MovementFamily", "KGoalFamily", "Rollout", "EpisodeRecorder", "make_family"]

FAMILIES = ("bandit", "movement", "kgoal")
"""``"bandit"``: peach_lite/BernoulliBandit-v0 (20 arms, 100 pulls); ``"movement"``: peach_lite/MovementBandits-v0
(2-goal navigation, 50 steps); ``"kgoal"``: peach_lite/KGoalBandit-v0 with K = 10 goals, trials of 20 episodes."""


class TaskFamily:
    """A batched task family (a :class:`peach_lite.loop.TaskEnvs`): tasks, dynamics, the supervised target, its posterior.

    Subclasses: the Bernoulli bandit (target = arm probabilities, Bernoulli cross-entropy), MovementBandits
    (target = index of the real goal) and the K-goal trials (target = the goal), both categorical cross-entropy.

    Args:
        num_envs: the batch size a :class:`peach_lite.loop.Runner` draws tasks for; :meth:`reset` takes any number.
        generator: the torch generator of the dynamics' randomness (reward draws, goal positions); pass the
            agent's own to drive a whole run from one seed, as lesson 03's trainer does.

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """

    name: str
    env_id: str
    horizon: int
    """Steps per episode (K-goal: episodes per trial)."""
    obs_dim: int
    num_actions: int
    target_kind: str
    """``"bernoulli"`` (a vector of probabilities) or ``"categorical"`` (a label)."""
    target_dim: int

    def __init__(self, num_envs: int = 1, generator: torch.Generator | None = None) -> None:
        check_int("num_envs", num_envs, 1)
        self.num_envs = int(num_envs)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Box(0.0, float(self.num_actions - 1), shape=(1,), dtype=np.float32)
        self.tasks = torch.zeros(0)
        """(n, ...) the tasks of the current episodes (set by :meth:`reset`)."""
        self._t = 0

    def _load_env(self, **env_kwargs) -> None:
        """The registered env (its task API: ``sample_tasks``, ``test_tasks``) and its time limit as the horizon."""
        import peach_lite.envs as envs

        env = envs.make(self.env_id, **env_kwargs)
        self.env, self.horizon = env.unwrapped, int(env.spec.max_episode_steps or 1)

    # ------------------------------------------------------------------------------ the agent's input
    @property
    def input_dim(self) -> int:
        """Size of x_t = [o_t, one_hot(a_{t-1}), r_{t-1}, t/T]."""
        return self.obs_dim + self.num_actions + 2

    def agent_input(self, obs: Tensor, prev_action: Tensor, prev_reward: Tensor, t: int) -> Tensor:
        """x_t (n, input_dim) from o_t (n, obs_dim), a_{t-1} (n,) (-1 at t = 0), r_{t-1} (n,)."""
        one_hot = nn.functional.one_hot(prev_action.clamp(min=0), self.num_actions).float() * (prev_action >= 0).float()[:, None]
        return torch.cat([obs, one_hot, prev_reward.float()[:, None], _time_feature(obs, t, self.horizon)], dim=1)

    # ------------------------------------------------------------------------------------------ tasks
    def sample_tasks(self, n: int, seed: int) -> Tensor:
        """n training tasks drawn with the env's own ``sample_tasks``; (n, ...) tensor."""
        raise NotImplementedError

    def eval_tasks(self, n: int) -> Tensor:
        """n held-out tasks (the env's ``test_tasks`` where it has a split); (n, ...) tensor."""
        raise NotImplementedError

    def task_batch(self, tasks: Tensor, split: str = "train") -> TaskBatch:
        """A (n, ...) task tensor as the :class:`peach_lite.loop.TaskBatch` that :meth:`reset` takes."""
        return TaskBatch(torch.arange(len(tasks)), tuple(tasks), split)

    def targets(self, tasks: Tensor) -> Tensor:
        """The privileged task description h the belief head predicts: (n,) labels or (n, target_dim) probabilities."""
        raise NotImplementedError

    # -------------------------------------------------------------------------------- loop.TaskEnvs
    def reset(self, tasks: TaskBatch | Tensor, seed: int | None = None) -> Tensor:
        """Start one episode per task (``seed`` reseeds :attr:`generator`); returns o_0 (n, obs_dim)."""
        if seed is not None:
            check_int("seed", seed, 0)
            self.generator.manual_seed(int(seed))
        if isinstance(tasks, TaskBatch):
            tasks = torch.stack([torch.as_tensor(v) for v in tasks.values])
        self.tasks, self._t = tasks, 0
        return self._reset(tasks)

    def step(self, action: np.ndarray, active: np.ndarray) -> tuple[Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All n episodes step together (every episode lasts ``horizon`` steps, so ``active`` is all True).

        Args:
            action: (n, 1) action indices (floats).
        Returns:
            next_obs (n, obs_dim), reward, dense (= reward), sparse (= reward), terminated (False),
            truncated (True at the horizon), success (False); the last six (n,) numpy arrays.
        """
        index = torch.as_tensor(np.asarray(action)).reshape(-1).round().long()
        if len(index) != len(self.tasks) or ((index < 0) | (index >= self.num_actions)).any():
            raise ValueError(f"action must be ({len(self.tasks)}, 1) indices in [0, {self.num_actions - 1}], got {np.asarray(action).tolist()}")
        obs, reward = self._step(index)
        self._t += 1
        reward = reward.float().numpy()
        n = len(index)
        return obs, reward, reward, reward, np.zeros(n, bool), np.full(n, self._t >= self.horizon), np.zeros(n, bool)

    def extras(self) -> dict[str, Tensor]:
        """Family-specific data of the current episodes (MovementBandits: ``goals`` (n, 2, 2))."""
        return {}

    # ------------------------------------------------------------------------------ grading
    def exact_prediction(self, roll: Rollout) -> Tensor:
        """The Bayes-optimal prediction of the target before every step, (n, T, target_dim) probabilities."""
        raise NotImplementedError

    def oracle_return(self, roll: Rollout) -> float:
        """Mean return of the task-known oracle on the rollout's tasks."""
        raise NotImplementedError

    def _reset(self, tasks: Tensor) -> Tensor:
        raise NotImplementedError

    def _step(self, action: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class BanditFamily(TaskFamily):
    """``peach_lite/BernoulliBandit-v0``: 20 arms, 100 pulls, task = arm probabilities ~ U[0, 1].

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """

    name = "bandit"
    env_id = "peach_lite/BernoulliBandit-v0"
    target_kind = "bernoulli"

    def __init__(self, num_envs: int = 1, generator: torch.Generator | None = None) -> None:
        self._load_env()
        self.sim = BatchedBernoulliBandit(self.env.num_arms)
        self.obs_dim, self.num_actions, self.target_dim = self.sim.obs_dim, self.sim.num_actions, self.env.num_arms
        super().__init__(num_envs, generator)

    @property
    def input_dim(self) -> int:
        """x_t = [one_hot(a_{t-1}) * r_{t-1}, one_hot(a_{t-1}) * (1 - r_{t-1}), t/T]: 2K + 1."""
        return 2 * self.num_actions + 1

    def agent_input(self, obs: Tensor, prev_action: Tensor, prev_reward: Tensor, t: int) -> Tensor:
        """The env's observation [one_hot(a_{t-1}), r_{t-1}] re-coded without loss as one one-hot over the 2K
        (arm, reward) pairs, so that counting successes and failures per arm is a sum of inputs."""
        pulled, reward = obs[:, : self.num_actions], obs[:, -1:]
        return torch.cat([pulled * reward, pulled * (1.0 - reward), _time_feature(obs, t, self.horizon)], dim=1)

    def sample_tasks(self, n: int, seed: int) -> Tensor:
        return torch.tensor([task.probs for task in self.env.sample_tasks(n, seed=seed)], dtype=torch.float64)

    def eval_tasks(self, n: int) -> Tensor:
        tests = self.env.test_tasks()
        check_range("n", n, 1, len(tests))
        return torch.tensor([task.probs for task in tests[:n]], dtype=torch.float64)

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.float()

    def exact_prediction(self, roll: Rollout) -> Tensor:
        alpha, beta = beta_bernoulli_filter(roll.actions, roll.rewards, self.num_actions)
        return (alpha / (alpha + beta))[:, :-1].float()  # posterior mean of every arm before each pull

    def oracle_return(self, roll: Rollout) -> float:
        return float(self.horizon * roll.tasks.max(1).values.mean())

    def _reset(self, tasks: Tensor) -> Tensor:
        return self.sim.reset(tasks)

    def _step(self, action: Tensor) -> tuple[Tensor, Tensor]:
        return self.sim.step(action, generator=self.generator)


class MovementFamily(TaskFamily):
    """``peach_lite/MovementBandits-v0``: two visible goals, a hidden real one; 50 steps; task = real goal in {0, 1}.

    Goal positions are drawn at :meth:`reset` from :attr:`generator`.

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """

    name = "movement"
    env_id = "peach_lite/MovementBandits-v0"
    target_kind = "categorical"

    def __init__(self, num_envs: int = 1, generator: torch.Generator | None = None) -> None:
        self._load_env()
        self.sim = BatchedMovementBandits()
        self.obs_dim, self.num_actions, self.target_dim = self.sim.obs_dim, self.sim.num_actions, 2
        super().__init__(num_envs, generator)

    @property
    def input_dim(self) -> int:
        """x_t = [o_t, (g_0 - x_t) / 50, (g_1 - x_t) / 50, one_hot(a_{t-1}), r_{t-1}, t/T]: 6 + 4 + 5 + 2 = 17."""
        return self.obs_dim + 4 + self.num_actions + 2

    def agent_input(self, obs: Tensor, prev_action: Tensor, prev_reward: Tensor, t: int) -> Tensor:
        """The RL² input plus a fixed re-coding of o_t: each goal's offset from the agent in units of the
        reward radius (50), so that "inside the disc" is simply |offset| < 1."""
        from peach_lite.envs.movement_bandits import ARENA, REWARD_RADIUS

        offsets = (obs[:, 2:6] - obs[:, :2].repeat(1, 2)) * (ARENA / REWARD_RADIUS)
        return torch.cat([obs, offsets, super().agent_input(obs, prev_action, prev_reward, t)[:, self.obs_dim :]], dim=1)

    def sample_tasks(self, n: int, seed: int) -> Tensor:
        return torch.tensor([task.real_goal for task in self.env.sample_tasks(n, seed=seed)], dtype=torch.long)

    def eval_tasks(self, n: int) -> Tensor:
        check_int("n", n, 1)
        return torch.arange(n) % 2  # balanced real goals; goal positions come from the generator at reset

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.long()

    def extras(self) -> dict[str, Tensor]:
        return {"goals": self.sim.goals.clone()}

    def exact_prediction(self, roll: Rollout) -> Tensor:
        from peach_lite.envs.movement_bandits import ARENA

        positions = roll.next_obs[..., :2].double() * ARENA
        return movement_bandits_filter(positions, roll.extras["goals"], roll.rewards)[:, :-1].float()

    def oracle_return(self, roll: Rollout) -> float:
        oracle = self._values(roll.extras["goals"])["oracle"]  # (n, 2): return when goal k is real and known
        return float(oracle[np.arange(len(oracle)), roll.tasks.numpy()].mean())

    def bayes_optimal_return(self, goals: Tensor) -> float:
        """Exact Bayes-optimal expected return (50/50 prior) on these goal pairs (n, 2, 2), by DP (``oracles``)."""
        return float(self._values(goals)["bayes_optimal"].mean())

    def _values(self, goals: Tensor) -> dict[str, np.ndarray]:
        """``oracles.movement_bandits_values_for_goals`` (a few seconds for 1000 pairs), cached for the last goals."""
        from peach_lite.envs.oracles import movement_bandits_values_for_goals

        cached = getattr(self, "_cache", None)
        if cached is None or cached[0].shape != goals.shape or not torch.equal(cached[0], goals):
            self._cache = (goals.clone(), movement_bandits_values_for_goals(goals.numpy()))
        return self._cache[1]

    def _reset(self, tasks: Tensor) -> Tensor:
        return self.sim.reset(tasks, generator=self.generator)

    def _step(self, action: Tensor) -> tuple[Tensor, Tensor]:
        return self.sim.step(action)


class KGoalFamily(TaskFamily):
    """``peach_lite/KGoalBandit-v0`` with K goals; a trial is H one-pull episodes on the same task (memory kept).

    The Bayes-optimal return has a closed form, sum_{t=1..H} min(t, K)/K (``oracles.k_goal_bayes_optimal``):
    it needs the memory of *every* goal already tried, whereas "stay after a success, else pull at random"
    (one step of memory) only reaches sum_t 1 - (1 - 1/K)^t.

    Args:
        num_goals: K in [2, 1000].
        trial_length: H, episodes per trial, in [1, 10000].

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """

    name = "kgoal"
    env_id = "peach_lite/KGoalBandit-v0"
    target_kind = "categorical"

    def __init__(self, num_envs: int = 1, generator: torch.Generator | None = None, *, num_goals: int = 10,
                 trial_length: int = 20) -> None:
        check_int("num_goals", num_goals, 2, 1000)
        check_int("trial_length", trial_length, 1, 10_000)
        self._load_env(num_goals=int(num_goals))
        self.horizon = int(trial_length)
        self.sim = BatchedKGoal(int(num_goals))
        self.obs_dim, self.num_actions, self.target_dim = 1, int(num_goals), int(num_goals)
        super().__init__(num_envs, generator)

    def sample_tasks(self, n: int, seed: int) -> Tensor:
        return torch.tensor([task.goal for task in self.env.sample_tasks(n, seed=seed)], dtype=torch.long)

    def eval_tasks(self, n: int) -> Tensor:
        check_int("n", n, 1)
        goals = torch.tensor([task.goal for task in self.env.test_tasks()])  # the env's split: all K goals
        return goals[torch.arange(n) % len(goals)]

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.long()

    def exact_prediction(self, roll: Rollout) -> Tensor:
        return k_goal_filter(roll.actions, roll.rewards, self.num_actions)[:, :-1].float()

    def oracle_return(self, roll: Rollout) -> float:
        from peach_lite.envs.oracles import k_goal_oracle_return

        return k_goal_oracle_return(self.num_actions, self.horizon)

    def bayes_optimal_return(self) -> float:
        """The closed form sum_{t=1..H} min(t, K)/K."""
        from peach_lite.envs.oracles import k_goal_bayes_optimal

        return k_goal_bayes_optimal(self.num_actions, self.horizon)

    def _reset(self, tasks: Tensor) -> Tensor:
        self.sim.reset(tasks)
        return torch.ones(len(tasks), 1)  # the env's constant observation

    def _step(self, action: Tensor) -> tuple[Tensor, Tensor]:
        return torch.ones(len(action), 1), self.sim.step(action)


# ============================================================================================ episodes
@dataclass
class Rollout:
    """A batch of whole episodes on a task family, as the agents saw them (one row per episode).

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    tasks: Tensor
    """(n, ...) the task of each episode."""
    inputs: Tensor
    """(n, T, input_dim) the agent's inputs x_t."""
    actions: Tensor
    """(n, T) int64 chosen actions."""
    rewards: Tensor
    """(n, T) rewards."""
    next_obs: Tensor
    """(n, T, obs_dim) observation after each action."""
    mask: Tensor
    """(n, T) bool, True on real steps (every step: the families' episodes all last ``horizon`` steps)."""
    log_probs: Tensor
    """(n, T) log pi(a_t | .) of the chosen actions while acting (NaN for a fixed behaviour policy)."""
    values: Tensor
    """(n, T) the critic's values while acting, in units of the effective horizon (NaN for a behaviour policy)."""
    noise: Tensor | None = None
    """(n, T, feature_dim) an agent's bottleneck noise while acting (replayed in its update), or None."""
    extras: dict[str, Tensor] = field(default_factory=dict)
    """Family-specific data (MovementBandits: ``goals`` (n, 2, 2)), from :meth:`TaskFamily.extras`."""

    @property
    def returns(self) -> Tensor:
        """(n,) undiscounted episode returns."""
        return self.rewards.sum(1)


class EpisodeRecorder:
    """Builds the agents' inputs x_t from lockstep steps and records them as a :class:`Rollout`.

    Args:
        family: the task family (its ``agent_input``).
        tasks: (n, ...) the tasks of the episodes.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    def __init__(self, family: TaskFamily, tasks: Tensor):
        self.family, self.tasks = family, tasks
        n = len(tasks)
        self.prev_action, self.prev_reward, self.t = torch.full((n,), -1, dtype=torch.long), torch.zeros(n), 0
        self.inputs: list[Tensor] = []
        self.actions: list[Tensor] = []
        self.rewards: list[Tensor] = []
        self.next_obs: list[Tensor] = []
        self.masks: list[Tensor] = []

    def input(self, obs: Tensor) -> Tensor:
        """x_t (n, input_dim) for observation o_t (n, obs_dim); recorded."""
        x = self.family.agent_input(obs, self.prev_action, self.prev_reward, self.t)
        self.inputs.append(x)
        return x

    def add(self, step: Step) -> None:
        """Record one lockstep transition (action as an index, reward, next observation, mask)."""
        action = step.action.reshape(len(self.tasks), -1)[:, 0].round().long()
        self.actions.append(action)
        self.rewards.append(step.reward.float())
        self.next_obs.append(step.next_obs)
        self.masks.append(step.mask)
        self.prev_action, self.prev_reward, self.t = action, step.reward, self.t + 1

    def rollout(self, log_probs: Sequence[Tensor] = (), values: Sequence[Tensor] = (), noise: Tensor | None = None) -> Rollout:
        """The recorded episodes; log_probs and values (T lists of (n,)) default to NaN."""
        rewards = torch.stack(self.rewards, 1)
        nan = torch.full(rewards.shape, float("nan"))
        return Rollout(self.tasks, torch.stack(self.inputs, 1), torch.stack(self.actions, 1), rewards, torch.stack(self.next_obs, 1),
                       torch.stack(self.masks, 1), torch.stack(list(log_probs), 1) if log_probs else nan,
                       torch.stack(list(values), 1) if values else nan, noise)


def make_family(name: str, num_envs: int = 1, generator: torch.Generator | None = None) -> TaskFamily:
    """Build a task family by name (one of :data:`FAMILIES`); see :class:`TaskFamily` for the arguments.

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """
    check_choice("family", name, FAMILIES)
    return {"bandit": BanditFamily, "movement": MovementFamily, "kgoal": KGoalFamily}[name](num_envs, generator)


def _time_feature(obs: Tensor, t: int, horizon: int) -> Tensor:
    return torch.full((len(obs), 1), t / horizon)
