"""Meta-RL as task inference (seed 004, Humplik et al. 2019): three recurrent agents and their trainer.

All three agents read the RL² input ``x_t = [o_t, one_hot(a_{t-1}), r_{t-1}, t / T]`` (a family may add
a fixed lossless re-coding of ``o_t``, see ``TaskFamily.agent_input``) and act with an actor-critic head
on ``[x_t, f_t]``, where ``f_t`` are features of the history. They differ only in how ``f_t`` is learnt
(seed 004, "A", "B", "C"):

* ``"lstm"`` (A, RL²-style): an LSTM over the history; ``f_t`` is trained by the RL loss alone.
* ``"belief"`` (B, the belief network): the LSTM is a *belief module* trained only by supervised
  learning to predict the privileged task description ``h = w`` (arm probabilities, or which goal
  is real); the actor and critic read its penultimate layer **detached**, so no RL gradient reaches
  it. By the theorem of seed 004 its target ``p(w | tau)`` does not depend on the policy, so it may
  also train off-policy from a replay of old episodes (``belief_data="replay"``).
* ``"aux"`` (C, auxiliary head): one shared LSTM trained by the RL loss *plus* the supervised loss
  of a belief head on the same features.

Optionally the features pass through a Gaussian *information bottleneck* (Alemi et al. 2017):
``f ~ N(mu(h), sigma(h)^2)`` with the penalty ``ib_weight * KL(N(mu, sigma^2) || N(0, I))``.

The learner is PPO's clipped surrogate over batches of whole episodes with GAE advantages (seed 004's
on-policy learner; one epoch is A2C). The task families are the 20-arm ``peach_lite/BernoulliBandit-v0``,
the 2-goal navigation task ``peach_lite/MovementBandits-v0`` and trials of ``peach_lite/KGoalBandit-v0``,
simulated in batches by :mod:`peach_lite.belief` (checked step for step against the gymnasium envs);
tasks come from the envs' own ``sample_tasks`` and held-out ``test_tasks``. The recurrent pieces
(episode rollouts in lock-step, the on-policy update) live here because ``peach_lite.loop`` is the
off-policy, one-transition-at-a-time loop; the MLPs come from ``peach_lite.nets.mlp`` and the belief
replay from ``peach_lite.buffers.ReplayBuffer``.

Command line (trains, saves and records the checkpoint in ``data/MANIFEST.json``)::

    python -m peach_lite.belief_agents --agent belief --family bandit --seed 0 --out data/checkpoints/belief_bandit.pt

Taught in notebooks/03_task_inference.py.
"""
from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from peach_lite.belief import (
    BatchedBernoulliBandit,
    BatchedKGoal,
    BatchedMovementBandits,
    beta_bernoulli_filter,
    k_goal_filter,
    movement_bandits_filter,
)
from peach_lite.buffers import ReplayBuffer
from peach_lite.nets import mlp
from peach_lite.validation import check_choice, check_range

__all__ = [
    "AGENTS",
    "FAMILIES",
    "BeliefAgentConfig",
    "MetaAgent",
    "AgentOutput",
    "Rollout",
    "History",
    "TaskFamily",
    "make_family",
    "gaussian_kl",
    "categorical_belief_loss",
    "bernoulli_belief_loss",
    "belief_loss",
    "gae_advantages",
    "rollout",
    "train",
    "evaluate",
    "belief_quality",
    "steps_to_threshold",
    "save_agent",
    "load_agent",
    "evaluate_checkpoint",
    "train_belief_offline",
    "collect",
    "behaviour_rollout",
    "main",
]

AGENTS = ("lstm", "belief", "aux")
"""The three agents of seed 004: A (plain LSTM, RL²), B (belief network), C (auxiliary head)."""
FAMILIES = ("bandit", "movement", "kgoal")
"""``"bandit"``: peach_lite/BernoulliBandit-v0 (20 arms, 100 pulls); ``"movement"``: peach_lite/MovementBandits-v0
(2-goal navigation, 50 steps); ``"kgoal"``: peach_lite/KGoalBandit-v0 with K = 10 goals, trials of 20 episodes."""


# ============================================================================================ config
@dataclass
class BeliefAgentConfig:
    """Everything that defines one training run of :func:`train`.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    agent: str = "belief"
    """Which agent: one of :data:`AGENTS`."""
    family: str = "kgoal"
    """Task family: one of :data:`FAMILIES` (the K-goal trial is the cheapest with a closed-form Bayes-optimal return)."""
    hidden_dim: int = 64
    """LSTM size (belief module or shared core); small enough to train on a laptop CPU."""
    feature_dim: int = 32
    """Size of the features f_t the actor and critic read (the belief net's penultimate layer)."""
    policy_hidden: tuple[int, ...] = (64,)
    """Hidden layers of the actor and of the critic MLPs on [x_t, f_t]."""
    belief_weight: float = 1.0
    """Weight of the supervised belief loss (aux agent: relative to the RL loss; belief agent: relative to ib_weight)."""
    ib_weight: float = 0.0
    """Information-bottleneck strength beta; 0 turns the stochastic layer off (deterministic tanh features)."""
    belief_data: str = "on_policy"
    """Data the belief module of the belief agent trains on: ``"on_policy"`` (this batch) or ``"replay"`` (old episodes)."""
    replay_episodes: int = 2048
    """Episodes kept in the belief replay buffer (``belief_data="replay"``): the last 32 updates' data at batch 64."""
    num_updates: int = 500
    """Updates (one batch of whole episodes each)."""
    batch_size: int = 64
    """Episodes (fresh tasks from the env's ``sample_tasks``) per update."""
    lr: float = 3e-3
    """Adam learning rate for all parameters; 3e-3 is stable for every agent here (1e-2 is faster for the belief agent
    but made the plain LSTM agent collapse on the K-goal trials in our runs)."""
    gamma: float = 0.95
    """Discount used for the advantages (the return reported is undiscounted); on MovementBandits 0.95 reached 34.1
    after 300 updates where 1.0 reached 29.8 in our runs (less variance in 50-step returns)."""
    gae_lambda: float = 0.9
    """GAE lambda (Schulman et al. 2016)."""
    ppo_epochs: int = 4
    """Gradient steps per batch. 1 is A2C; more turns the update into PPO's clipped surrogate (Schulman et al. 2017),
    seed 004's on-policy learner; on MovementBandits 4 epochs reached 29.8 after 300 updates where A2C reached 26.5."""
    clip_ratio: float = 0.2
    """PPO's clip range for the probability ratio (the PPO paper's 0.2); inactive with one epoch."""
    entropy_coef: float = 0.01
    """Entropy bonus at the first update, annealed linearly to 0 at the last (keeps early exploration)."""
    value_coef: float = 0.5
    """Weight of the critic's squared error (A2C default)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip, applied separately to the recurrent module and to the actor-critic."""
    eval_every: int = 25
    """Evaluate on held-out tasks every this many updates (0: only at the end)."""
    eval_episodes: int = 500
    """Held-out episodes per evaluation."""
    seed: int = 0
    """Seeds the networks, the task draws, the rewards and the actions."""

    def __post_init__(self) -> None:
        check_choice("agent", self.agent, AGENTS)
        check_choice("family", self.family, FAMILIES)
        check_choice("belief_data", self.belief_data, ["on_policy", "replay"])
        for name, low in [("hidden_dim", 1), ("feature_dim", 1), ("replay_episodes", 1), ("num_updates", 0), ("ppo_epochs", 1),
                          ("batch_size", 2), ("eval_every", 0), ("eval_episodes", 1), ("seed", 0)]:
            _check_int(name, getattr(self, name), low)
        self.policy_hidden = tuple(self.policy_hidden)
        for i, size in enumerate(self.policy_hidden):
            _check_int(f"policy_hidden[{i}]", size, 1)
        check_range("belief_weight", self.belief_weight, 0.0, None)
        check_range("ib_weight", self.ib_weight, 0.0, None)
        check_range("lr", self.lr, 1e-8, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("clip_ratio", self.clip_ratio, 0.0, 1.0)
        check_range("entropy_coef", self.entropy_coef, 0.0, None)
        check_range("value_coef", self.value_coef, 0.0, None)
        check_range("max_grad_norm", self.max_grad_norm, 1e-8, None)
        if self.agent == "lstm" and self.belief_data == "replay":
            raise ValueError("belief_data='replay' needs a belief module: use agent='belief', got agent='lstm'")


# ====================================================================================== task families
class TaskFamily:
    """A batched task family: tasks, batched dynamics, the supervised target and its exact posterior.

    Subclasses: the Bernoulli bandit (target = arm probabilities, Bernoulli cross-entropy), MovementBandits
    (target = index of the real goal) and the K-goal trials (target = the goal), both categorical cross-entropy.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    name: str
    env_id: str
    horizon: int
    obs_dim: int
    num_actions: int
    target_kind: str  # "bernoulli" or "categorical"
    target_dim: int

    @property
    def input_dim(self) -> int:
        """Size of x_t = [o_t, one_hot(a_{t-1}), r_{t-1}, t/T]."""
        return self.obs_dim + self.num_actions + 2

    def agent_input(self, obs: Tensor, prev_action: Tensor, prev_reward: Tensor, t: int) -> Tensor:
        """x_t (batch, input_dim) from o_t (batch, obs_dim), a_{t-1} (batch,) (-1 at t = 0), r_{t-1} (batch,)."""
        one_hot = nn.functional.one_hot(prev_action.clamp(min=0), self.num_actions).float() * (prev_action >= 0).float()[:, None]
        return torch.cat([obs, one_hot, prev_reward.float()[:, None], _time_feature(obs, t, self.horizon)], dim=1)

    def sample_tasks(self, n: int, seed: int) -> Tensor:
        """n training tasks drawn with the env's own ``sample_tasks``."""
        raise NotImplementedError

    def eval_tasks(self, n: int) -> Tensor:
        """n held-out tasks (the env's ``test_tasks`` where it has a split)."""
        raise NotImplementedError

    def reset(self, tasks: Tensor, generator: torch.Generator) -> Tensor:
        """Start one episode per task; returns obs (batch, obs_dim)."""
        raise NotImplementedError

    def step(self, action: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(batch,) actions -> (obs (batch, obs_dim), reward (batch,))."""
        raise NotImplementedError

    def targets(self, tasks: Tensor) -> Tensor:
        """The privileged task description h the belief head predicts."""
        raise NotImplementedError

    def exact_prediction(self, roll: "Rollout") -> Tensor:
        """The Bayes-optimal prediction of the target at every step, (batch, T, target_dim) probabilities."""
        raise NotImplementedError

    def oracle_return(self, roll: "Rollout") -> float:
        """Mean return of the task-known oracle on the rollout's tasks."""
        raise NotImplementedError


class BanditFamily(TaskFamily):
    """``peach_lite/BernoulliBandit-v0``: 20 arms, 100 pulls, task = arm probabilities ~ U[0, 1]."""

    name = "bandit"
    env_id = "peach_lite/BernoulliBandit-v0"
    target_kind = "bernoulli"

    def __init__(self) -> None:
        import peach_lite.envs as envs

        self.env = envs.make(self.env_id).unwrapped
        self.horizon = int(envs.make(self.env_id).spec.max_episode_steps)
        self.sim = BatchedBernoulliBandit(self.env.num_arms)
        self.obs_dim, self.num_actions, self.target_dim = self.sim.obs_dim, self.sim.num_actions, self.env.num_arms

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

    def reset(self, tasks: Tensor, generator: torch.Generator) -> Tensor:
        return self.sim.reset(tasks)

    def step(self, action: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self.sim.step(action, generator=generator)

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.float()

    def exact_prediction(self, roll: "Rollout") -> Tensor:
        alpha, beta = beta_bernoulli_filter(roll.actions, roll.rewards, self.num_actions)
        return (alpha / (alpha + beta))[:, :-1].float()  # posterior mean of every arm before each pull

    def oracle_return(self, roll: "Rollout") -> float:
        return float(self.horizon * roll.tasks.max(1).values.mean())


class MovementFamily(TaskFamily):
    """``peach_lite/MovementBandits-v0``: two visible goals, a hidden real one; 50 steps; task = real goal in {0, 1}."""

    name = "movement"
    env_id = "peach_lite/MovementBandits-v0"
    target_kind = "categorical"

    def __init__(self) -> None:
        import peach_lite.envs as envs

        self.env = envs.make(self.env_id).unwrapped
        self.horizon = int(envs.make(self.env_id).spec.max_episode_steps)
        self.sim = BatchedMovementBandits()
        self.obs_dim, self.num_actions, self.target_dim = self.sim.obs_dim, self.sim.num_actions, 2

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
        return torch.arange(n) % 2  # balanced real goals; goal positions come from the eval generator

    def reset(self, tasks: Tensor, generator: torch.Generator) -> Tensor:
        return self.sim.reset(tasks, generator=generator)

    def step(self, action: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self.sim.step(action)

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.long()

    def exact_prediction(self, roll: "Rollout") -> Tensor:
        from peach_lite.envs.movement_bandits import ARENA

        positions = roll.next_obs[..., :2].double() * ARENA
        return movement_bandits_filter(positions, roll.extras["goals"], roll.rewards)[:, :-1].float()

    def oracle_return(self, roll: "Rollout") -> float:
        oracle = self._values(roll.extras["goals"])["oracle"]  # (B, 2): return when goal k is real and known
        return float(oracle[np.arange(len(oracle)), roll.tasks.numpy()].mean())

    def bayes_optimal_return(self, goals: Tensor) -> float:
        """Exact Bayes-optimal expected return (50/50 prior) on these goal pairs, by DP (``oracles``)."""
        return float(self._values(goals)["bayes_optimal"].mean())

    def _values(self, goals: Tensor) -> dict[str, np.ndarray]:
        """``oracles.movement_bandits_values_for_goals`` (a few seconds for 1000 pairs), cached for the last goals."""
        from peach_lite.envs.oracles import movement_bandits_values_for_goals

        cached = getattr(self, "_cache", None)
        if cached is None or cached[0].shape != goals.shape or not torch.equal(cached[0], goals):
            self._cache = (goals.clone(), movement_bandits_values_for_goals(goals.numpy()))
        return self._cache[1]


class KGoalFamily(TaskFamily):
    """``peach_lite/KGoalBandit-v0`` with K goals; a trial is H one-pull episodes on the same task (memory kept).

    The Bayes-optimal return has a closed form, sum_{t=1..H} min(t, K)/K (``oracles.k_goal_bayes_optimal``):
    it needs the memory of *every* goal already tried, whereas "stay after a success, else pull at random"
    (one step of memory) only reaches sum_t 1 - (1 - 1/K)^t.
    """

    name = "kgoal"
    env_id = "peach_lite/KGoalBandit-v0"
    target_kind = "categorical"

    def __init__(self, num_goals: int = 10, trial_length: int = 20) -> None:
        import peach_lite.envs as envs

        check_range("num_goals", num_goals, 2, 1000)
        check_range("trial_length", trial_length, 1, 10_000)
        self.env = envs.make(self.env_id, num_goals=int(num_goals)).unwrapped
        self.horizon = int(trial_length)
        self.sim = BatchedKGoal(int(num_goals))
        self.obs_dim, self.num_actions, self.target_dim = 1, int(num_goals), int(num_goals)

    def sample_tasks(self, n: int, seed: int) -> Tensor:
        return torch.tensor([task.goal for task in self.env.sample_tasks(n, seed=seed)], dtype=torch.long)

    def eval_tasks(self, n: int) -> Tensor:
        goals = torch.tensor([task.goal for task in self.env.test_tasks()])  # the env's split: all K goals
        return goals[torch.arange(n) % len(goals)]

    def reset(self, tasks: Tensor, generator: torch.Generator) -> Tensor:
        self.sim.reset(tasks)
        return torch.ones(len(tasks), 1)  # the env's constant observation

    def step(self, action: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return torch.ones(len(action), 1), self.sim.step(action)

    def targets(self, tasks: Tensor) -> Tensor:
        return tasks.long()

    def exact_prediction(self, roll: "Rollout") -> Tensor:
        return k_goal_filter(roll.actions, roll.rewards, self.num_actions)[:, :-1].float()

    def oracle_return(self, roll: "Rollout") -> float:
        from peach_lite.envs.oracles import k_goal_oracle_return

        return k_goal_oracle_return(self.num_actions, self.horizon)

    def bayes_optimal_return(self) -> float:
        """The closed form sum_{t=1..H} min(t, K)/K."""
        from peach_lite.envs.oracles import k_goal_bayes_optimal

        return k_goal_bayes_optimal(self.num_actions, self.horizon)


def make_family(name: str) -> TaskFamily:
    """Build a task family by name (one of :data:`FAMILIES`).

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """
    check_choice("family", name, FAMILIES)
    return {"bandit": BanditFamily, "movement": MovementFamily, "kgoal": KGoalFamily}[name]()


# ============================================================================================= agent
class AgentOutput(NamedTuple):
    """What :class:`MetaAgent` returns; shapes for an input x of shape (batch, T, input_dim)."""

    logits: Tensor
    """(batch, T, num_actions) action logits."""
    value: Tensor
    """(batch, T) state values, in units of the effective horizon (return / sum_t gamma^t)."""
    belief_logits: Tensor | None
    """(batch, T, target_dim) logits of the belief head (None for the plain LSTM agent)."""
    kl: Tensor
    """(batch, T) information-bottleneck KL of the features (zeros without the bottleneck)."""
    features: Tensor
    """(batch, T, feature_dim) the features f_t (for the belief agent, the belief net's penultimate layer)."""
    state: tuple[Tensor, Tensor]
    """LSTM (h, c), each (1, batch, hidden_dim), to continue the sequence."""


class MetaAgent(nn.Module):
    """One of the three agents of seed 004 (see the module docstring).

    Args:
        agent: ``"lstm"``, ``"belief"`` or ``"aux"``.
        input_dim: size of x_t.
        num_actions: discrete actions.
        target_dim: size of the task description predicted by the belief head.
        hidden_dim, feature_dim, policy_hidden: sizes (see :class:`BeliefAgentConfig`).
        bottleneck: Gaussian information-bottleneck features instead of deterministic tanh features.
    Forward:
        x (batch, T, input_dim), optional LSTM state, optional ``noise`` (batch, T, feature_dim) for
        the bottleneck (None: use the mean) -> :class:`AgentOutput`.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    def __init__(self, agent: str, input_dim: int, num_actions: int, target_dim: int, hidden_dim: int = 64,
                 feature_dim: int = 32, policy_hidden: tuple[int, ...] = (64,), bottleneck: bool = False):
        super().__init__()
        check_choice("agent", agent, AGENTS)
        for name, value in [("input_dim", input_dim), ("num_actions", num_actions), ("target_dim", target_dim),
                            ("hidden_dim", hidden_dim), ("feature_dim", feature_dim)]:
            _check_int(name, value, 1)
        self.agent, self.bottleneck = agent, bool(bottleneck)
        self.input_dim, self.feature_dim = int(input_dim), int(feature_dim)
        # the recurrent module: the belief net (agent B) or the shared core (agents A and C)
        self.core = nn.LSTM(input_dim, hidden_dim, batch_first=True)
        self.to_features = nn.Linear(hidden_dim, 2 * feature_dim if bottleneck else feature_dim)
        self.belief_head = nn.Linear(feature_dim, target_dim) if agent != "lstm" else None
        # the actor-critic on [x_t, f_t]
        self.actor = mlp(input_dim + feature_dim, num_actions, policy_hidden, nn.Tanh)
        self.critic = mlp(input_dim + feature_dim, 1, policy_hidden, nn.Tanh)

    def belief_parameters(self) -> list[nn.Parameter]:
        """Parameters of the recurrent module: LSTM, feature layer and belief head (agents B, C). For agent B this is
        the belief network; the RL loss never reaches it."""
        modules = [self.core, self.to_features] + ([self.belief_head] if self.belief_head is not None else [])
        return [p for m in modules for p in m.parameters()]

    def policy_parameters(self) -> list[nn.Parameter]:
        """Parameters of the actor and the critic."""
        return list(self.actor.parameters()) + list(self.critic.parameters())

    def encode(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None,
               noise: Tensor | None = None) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """History -> (features (batch, T, feature_dim), kl (batch, T), LSTM state)."""
        h, state = self.core(x, state)
        raw = self.to_features(h)
        if not self.bottleneck:
            return torch.tanh(raw), torch.zeros(raw.shape[:-1]), state
        mean, log_var = raw.chunk(2, dim=-1)
        log_var = log_var.clamp(-10.0, 4.0)
        features = mean if noise is None else mean + torch.exp(0.5 * log_var) * noise
        return features, gaussian_kl(mean, log_var), state

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, noise: Tensor | None = None) -> AgentOutput:
        features, kl, state = self.encode(x, state, noise)
        belief_logits = self.belief_head(features) if self.belief_head is not None else None
        # Seed 004, agent B: "do not backpropagate gradients to the belief net" -- the policy reads detached features.
        policy_features = features.detach() if self.agent == "belief" else features
        policy_in = torch.cat([x, policy_features], dim=-1)
        return AgentOutput(self.actor(policy_in), self.critic(policy_in).squeeze(-1), belief_logits, kl, features, state)


def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) = 0.5 * sum(var + mean^2 - 1 - log_var) over the last dim.

    Args:
        mean, log_var: (..., feature_dim).
    Returns:
        (...,) the information-bottleneck penalty per step.

    Taught in notebooks/03_task_inference.py (section "An information bottleneck").
    """
    return 0.5 * (log_var.exp() + mean**2 - 1.0 - log_var).sum(-1)


# ============================================================================================ losses
def categorical_belief_loss(logits: Tensor, label: Tensor) -> Tensor:
    """Supervised belief loss for a discrete task label: mean cross-entropy -log b_theta(h = w | tau).

    Args:
        logits: (..., num_classes) belief-head logits.
        label: (...,) integer task labels.
    Returns:
        0-d mean cross-entropy in nats.

    Taught in notebooks/03_task_inference.py (section "The supervised belief loss").
    """
    if logits.shape[:-1] != label.shape:
        raise ValueError(f"label must have shape {tuple(logits.shape[:-1])}, got {tuple(label.shape)}")
    return -torch.log_softmax(logits, dim=-1).gather(-1, label.long().unsqueeze(-1)).mean()


def bernoulli_belief_loss(logits: Tensor, probs: Tensor) -> Tensor:
    """Supervised belief loss for a vector of probabilities: Bernoulli cross-entropy, summed over entries.

    For the bandit the task description is the arm probabilities w; the loss
    ``-sum_k [w_k log q_k + (1 - w_k) log(1 - q_k)]`` with q = sigmoid(logits) is minimised by the
    posterior mean q_k = E[w_k | tau], which the Beta filter computes exactly.

    Args:
        logits: (..., num_arms) belief-head logits.
        probs: (..., num_arms) true arm probabilities.
    Returns:
        0-d mean (over leading dims) of the per-step summed cross-entropy, in nats.

    Taught in notebooks/03_task_inference.py (section "The supervised belief loss").
    """
    if logits.shape != probs.shape:
        raise ValueError(f"probs must have shape {tuple(logits.shape)}, got {tuple(probs.shape)}")
    return nn.functional.binary_cross_entropy_with_logits(logits, probs.to(logits.dtype), reduction="none").sum(-1).mean()


def belief_loss(kind: str, logits: Tensor, target: Tensor) -> Tensor:
    """Dispatch to :func:`categorical_belief_loss` or :func:`bernoulli_belief_loss`; ``target`` is per episode.

    Args:
        kind: ``"categorical"`` or ``"bernoulli"``.
        logits: (batch, T, target_dim).
        target: (batch,) labels or (batch, target_dim) probabilities, broadcast over T.
    """
    check_choice("kind", kind, ["categorical", "bernoulli"])
    steps = logits.shape[1]
    if kind == "categorical":
        return categorical_belief_loss(logits, target[:, None].expand(-1, steps))
    return bernoulli_belief_loss(logits, target[:, None, :].expand(-1, steps, -1))


def gae_advantages(rewards: Tensor, values: Tensor, gamma: float, gae_lambda: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimates for whole episodes that end after the last step (no bootstrap).

    Args:
        rewards, values: (batch, T).
        gamma, gae_lambda: discount and GAE lambda in [0, 1].
    Returns:
        (advantages, returns), each (batch, T); returns = advantages + values are the critic's targets.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    check_range("gamma", gamma, 0.0, 1.0)
    check_range("gae_lambda", gae_lambda, 0.0, 1.0)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    next_value = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * gae_lambda * running
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages + values


# ============================================================================================ rollout
@dataclass
class Rollout:
    """A batch of whole episodes collected by :func:`rollout`.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    tasks: Tensor
    """(batch, ...) the task of each episode."""
    inputs: Tensor
    """(batch, T, input_dim) the agent's inputs x_t."""
    actions: Tensor
    """(batch, T) chosen actions."""
    rewards: Tensor
    """(batch, T) rewards."""
    next_obs: Tensor
    """(batch, T, obs_dim) observation after each action."""
    log_probs: Tensor
    """(batch, T) log pi(a_t | .) of the chosen actions while acting."""
    values: Tensor
    """(batch, T) the critic's values while acting (in units of the effective horizon)."""
    noise: Tensor | None
    """(batch, T, feature_dim) bottleneck noise used while acting (replayed in the update), or None."""
    extras: dict[str, Tensor] = field(default_factory=dict)
    """Family-specific data (MovementBandits: ``goals`` (batch, 2, 2))."""

    @property
    def returns(self) -> Tensor:
        """(batch,) undiscounted episode returns."""
        return self.rewards.sum(1)


@torch.no_grad()
def rollout(agent: MetaAgent, family: TaskFamily, tasks: Tensor, generator: torch.Generator, *,
            greedy: bool = False, sample_noise: bool = True) -> Rollout:
    """Run one episode per task with the agent, all episodes in lock-step.

    Args:
        agent: the agent (its LSTM state is carried step by step).
        family: the task family.
        tasks: (batch, ...) tasks.
        generator: seeds rewards, goal draws, actions and bottleneck noise.
        greedy: take the most likely action instead of sampling.
        sample_noise: draw bottleneck noise (training); False uses the feature mean (evaluation).
    Returns:
        a :class:`Rollout`.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    batch, horizon = len(tasks), family.horizon
    obs = family.reset(tasks, generator)
    prev_action = torch.full((batch,), -1, dtype=torch.long)
    prev_reward = torch.zeros(batch)
    noise = None
    if agent.bottleneck and sample_noise:
        noise = torch.randn(batch, horizon, agent.feature_dim, generator=generator)
    state = None
    inputs, actions, rewards, next_obs, log_probs, values = [], [], [], [], [], []
    for t in range(horizon):
        x = family.agent_input(obs, prev_action, prev_reward, t)[:, None]
        out = agent(x, state, None if noise is None else noise[:, t : t + 1])
        state = out.state
        logits = torch.log_softmax(out.logits[:, 0], -1)
        if greedy:
            action = logits.argmax(-1)
        else:
            action = torch.multinomial(logits.exp(), 1, generator=generator).squeeze(1)
        obs, reward = family.step(action, generator)
        log_probs.append(logits.gather(1, action[:, None]).squeeze(1))
        values.append(out.value[:, 0])
        inputs.append(x[:, 0])
        actions.append(action)
        rewards.append(reward.float())
        next_obs.append(obs)
        prev_action, prev_reward = action, reward
    extras = {"goals": family.sim.goals.clone()} if isinstance(family, MovementFamily) else {}
    return Rollout(tasks, torch.stack(inputs, 1), torch.stack(actions, 1), torch.stack(rewards, 1),
                   torch.stack(next_obs, 1), torch.stack(log_probs, 1), torch.stack(values, 1), noise, extras)


# ============================================================================================ training
@dataclass
class History:
    """Learning curves of one run, as plain lists (json-friendly).

    Taught in notebooks/03_task_inference.py (section "Learning curves: belief network vs RL²").
    """

    env_steps: list[int] = field(default_factory=list)
    """Environment steps after each update (batch_size * horizon per update)."""
    train_return: list[float] = field(default_factory=list)
    """Mean return of each training batch (fresh tasks, stochastic policy)."""
    belief_loss: list[float] = field(default_factory=list)
    """Supervised belief loss of each update (NaN for the plain LSTM agent)."""
    eval_steps: list[int] = field(default_factory=list)
    """Environment steps at each held-out evaluation."""
    eval_return: list[float] = field(default_factory=list)
    """Mean return on the held-out evaluation episodes."""
    elapsed: float = 0.0
    """Seconds spent training."""

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (NaN belief losses of the LSTM agent become None, so the dict is strict JSON)."""
        data = asdict(self)
        data["belief_loss"] = [None if math.isnan(v) else v for v in data["belief_loss"]]
        return data


def train(config: BeliefAgentConfig, *, progress: bool = True,
          callback: Callable[[int, History], None] | None = None) -> tuple[MetaAgent, History]:
    """Train one agent with A2C (or PPO) over batches of whole episodes, plus its belief loss.

    Each update (one batch of ``batch_size`` fresh tasks from the env's ``sample_tasks``):

    1. roll out one episode per task with the current policy (:func:`rollout`), keeping log pi and V;
    2. GAE advantages (normalised over the batch) and return targets;
    3. ``ppo_epochs`` times: recompute the agent on the whole batch of sequences (same bottleneck noise),
       policy loss ``-min(rho A, clip(rho) A)`` (with one epoch rho = 1: A2C's ``-log pi * A``), value error,
       entropy bonus;
    4. belief loss (agents B and C): cross-entropy of the belief head against the task description, plus
       ``ib_weight * KL`` with the bottleneck; agent B uses this batch or, with ``belief_data="replay"``,
       a batch of old episodes from a replay buffer (valid because p(w | tau) ignores the policy);
    5. one Adam step on the sum (agent B's detach keeps the two losses on separate parameters).

    Args:
        config: the run.
        progress: show a tqdm bar.
        callback: called as ``callback(update, history)`` after every update.
    Returns:
        (agent, history).

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    family = make_family(config.family)
    torch.manual_seed(config.seed)
    agent = _build_agent(config, family)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    replay = None
    if config.belief_data == "replay":
        target_shape = (family.target_dim,) if family.target_kind == "bernoulli" else ()
        replay = ReplayBuffer(config.replay_episodes, {"inputs": (family.horizon, family.input_dim),
                                                       **({"target": target_shape} if target_shape else {"label": 1})})
    history = History()
    eval_tasks = family.eval_tasks(config.eval_episodes)
    start = time.perf_counter()
    bar = tqdm(range(config.num_updates), desc=f"{config.agent} on {config.family}", disable=not progress)
    scale = _return_scale(config.gamma, family.horizon)
    for update in bar:
        # 1. one episode per fresh task with the current policy
        tasks = family.sample_tasks(config.batch_size, seed=config.seed * 1_000_003 + update)
        roll = rollout(agent, family, tasks, generator)
        # 2. GAE advantages from the values seen while acting; the critic predicts returns in units of the
        #    effective horizon (``scale``) so its loss stays O(1) on every family
        advantages, returns = gae_advantages(roll.rewards, roll.values * scale, config.gamma, config.gae_lambda)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        entropy_coef = config.entropy_coef * (1.0 - update / max(config.num_updates, 1))
        targets = family.targets(tasks)
        if replay is not None:
            replay.add_batch(inputs=roll.inputs, **_target_field(family, targets))
        for _ in range(config.ppo_epochs):
            # 3. policy loss on the whole batch of sequences (same inputs, same bottleneck noise); with one
            #    epoch the ratio is exactly 1 and this is A2C's -log pi(a|.) * A
            out = agent(roll.inputs, noise=roll.noise)
            log_probs = torch.log_softmax(out.logits, -1)
            ratio = torch.exp(log_probs.gather(-1, roll.actions[..., None]).squeeze(-1) - roll.log_probs)
            clipped = ratio.clamp(1.0 - config.clip_ratio, 1.0 + config.clip_ratio)
            policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
            entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
            loss = policy_loss + config.value_coef * (out.value - returns / scale).pow(2).mean() - entropy_coef * entropy
            # 4. belief loss: agents B and C predict the task description (B: from this batch or from the replay)
            supervised = torch.full((), math.nan)
            if config.agent == "lstm":
                loss = loss + config.ib_weight * out.kl.mean()
            else:
                logits, kl, batch_targets = out.belief_logits, out.kl, targets
                if replay is not None:
                    batch = replay.sample(config.batch_size, generator)
                    noise = torch.randn(config.batch_size, family.horizon, agent.feature_dim, generator=generator) if agent.bottleneck else None
                    replay_out = agent(batch["inputs"], noise=noise)
                    logits, kl, batch_targets = replay_out.belief_logits, replay_out.kl, _target_from_field(family, batch)
                supervised = belief_loss(family.target_kind, logits, batch_targets)
                loss = loss + config.belief_weight * supervised + config.ib_weight * kl.mean()
            # 5. one Adam step; the recurrent module and the actor-critic are clipped separately, because the
            #    belief loss (summed over 20 arms) has much larger gradients than the policy's
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.belief_parameters(), config.max_grad_norm)
            nn.utils.clip_grad_norm_(agent.policy_parameters(), config.max_grad_norm)
            optimizer.step()
        # bookkeeping
        history.env_steps.append((update + 1) * config.batch_size * family.horizon)
        history.train_return.append(float(roll.returns.mean()))
        history.belief_loss.append(float(supervised.detach()))
        last = update == config.num_updates - 1
        if (config.eval_every and (update + 1) % config.eval_every == 0) or last:
            history.eval_steps.append(history.env_steps[-1])
            history.eval_return.append(evaluate(agent, family, eval_tasks, seed=10_000 + config.seed))
            bar.set_postfix(eval_return=f"{history.eval_return[-1]:.2f}")
        if callback is not None:
            callback(update, history)
    history.elapsed = time.perf_counter() - start
    return agent, history


def evaluate(agent: MetaAgent, family: TaskFamily | str, tasks: Tensor | None = None, *, seed: int = 12345,
             num_episodes: int = 1000, return_rollout: bool = False) -> float | tuple[float, Rollout]:
    """Mean return of the (stochastic) agent on held-out tasks, bottleneck at its mean.

    Args:
        agent: a trained agent.
        family: a :class:`TaskFamily` or its name.
        tasks: tasks to run (default: ``family.eval_tasks(num_episodes)``).
        seed: seeds rewards, goal positions and actions (same seed, same number).
        num_episodes: used when ``tasks`` is None.
        return_rollout: also return the :class:`Rollout`.

    Taught in notebooks/03_task_inference.py (section "Learning curves: belief network vs RL²").
    """
    family = make_family(family) if isinstance(family, str) else family
    tasks = family.eval_tasks(num_episodes) if tasks is None else tasks
    was_training = agent.training
    agent.eval()
    roll = rollout(agent, family, tasks, torch.Generator().manual_seed(int(seed)), sample_noise=False)
    agent.train(was_training)
    mean = float(roll.returns.mean())
    return (mean, roll) if return_rollout else mean


def belief_quality(agent: MetaAgent, family: TaskFamily, roll: Rollout) -> dict[str, float]:
    """Cross-entropy of the belief head against the task, next to the exact posterior's, on a rollout.

    The exact posterior's cross-entropy is the lowest any predictor can reach on average
    (algorithms.md §5.4); ``excess`` is the learnt belief's gap to it.

    Returns:
        dict with ``learnt`` and ``exact`` cross-entropies (nats per step) and ``excess`` = learnt - exact.

    Taught in notebooks/03_task_inference.py (section "How good is the learnt belief?").
    """
    if agent.belief_head is None:
        raise ValueError("agent must have a belief head (agent='belief' or 'aux'), got agent='lstm'")
    with torch.no_grad():
        logits = agent(roll.inputs).belief_logits
    targets = family.targets(roll.tasks)
    exact = family.exact_prediction(roll).clamp(1e-6, 1 - 1e-6)
    learnt = float(belief_loss(family.target_kind, logits, targets))
    exact_ce = float(belief_loss(family.target_kind, exact.log() - (1 - exact).log() if family.target_kind == "bernoulli" else exact.log(), targets))
    return {"learnt": learnt, "exact": exact_ce, "excess": learnt - exact_ce}


def train_belief_offline(family: TaskFamily | str, behaviour: "MetaAgent | Callable[[Tensor, int], Tensor] | str", *,
                         num_updates: int = 200, batch_size: int = 128, hidden_dim: int = 64, feature_dim: int = 32,
                         lr: float = 3e-3, seed: int = 0, progress: bool = False,
                         callback: Callable[[int, MetaAgent], None] | None = None) -> MetaAgent:
    """Train only a belief module, by supervised learning on episodes of a fixed behaviour policy.

    This is the off-policy half of seed 004: because ``p(w | tau)`` does not depend on the policy,
    data from *any* behaviour policy (random, an old agent, Thompson sampling) provides unbiased
    samples of the same target. The returned agent's actor is untrained; use its belief head.

    Args:
        family: the task family (or its name).
        behaviour: a trained :class:`MetaAgent` (its own episodes), ``"random"``, ``"thompson"`` (bandit only)
            or a function (obs (batch, obs_dim), t) -> actions (batch,).
        num_updates, batch_size, hidden_dim, feature_dim, lr, seed: training settings.
        callback: called as ``callback(updates_done, agent)`` before the first update and after every update.
    Returns:
        a :class:`MetaAgent` (``agent="belief"``) whose belief module is trained.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """
    family = make_family(family) if isinstance(family, str) else family
    _check_int("num_updates", num_updates, 0)
    _check_int("batch_size", batch_size, 1)
    torch.manual_seed(seed)
    agent = MetaAgent("belief", family.input_dim, family.num_actions, family.target_dim, hidden_dim, feature_dim)
    optimizer = torch.optim.Adam(agent.belief_parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    if callback is not None:
        callback(0, agent)
    for update in tqdm(range(num_updates), desc="belief (offline)", disable=not progress):
        tasks = family.sample_tasks(batch_size, seed=seed * 1_000_003 + update)
        roll = collect(family, tasks, behaviour, generator)
        loss = belief_loss(family.target_kind, agent(roll.inputs).belief_logits, family.targets(tasks))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(update + 1, agent)
    return agent


def collect(family: TaskFamily, tasks: Tensor, behaviour: "MetaAgent | Callable[[Tensor, int], Tensor] | str",
            generator: torch.Generator) -> Rollout:
    """Episodes of ``behaviour``: a :class:`MetaAgent` (:func:`rollout`) or anything :func:`behaviour_rollout` takes.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """
    if isinstance(behaviour, MetaAgent):
        return rollout(behaviour, family, tasks, generator, sample_noise=False)
    return behaviour_rollout(family, tasks, behaviour, generator)


@torch.no_grad()
def behaviour_rollout(family: TaskFamily, tasks: Tensor, behaviour: Callable[[Tensor, int], Tensor] | str,
                      generator: torch.Generator) -> Rollout:
    """Episodes of a fixed behaviour policy, recorded with the same inputs x_t the agents read.

    Args:
        behaviour: ``"random"``, ``"thompson"`` (bandit: pull the best arm of a Beta posterior sample)
            or a function (obs, t) -> (batch,) actions.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """
    if isinstance(behaviour, str):
        check_choice("behaviour", behaviour, ["random", "thompson"])
        if behaviour == "thompson" and family.target_kind != "bernoulli":
            raise ValueError("behaviour='thompson' needs the bandit family")
    batch, horizon = len(tasks), family.horizon
    obs = family.reset(tasks, generator)
    prev_action, prev_reward = torch.full((batch,), -1, dtype=torch.long), torch.zeros(batch)
    alpha = torch.ones(batch, family.num_actions)
    beta = torch.ones(batch, family.num_actions)
    inputs, actions, rewards, next_obs = [], [], [], []
    for t in range(horizon):
        x = family.agent_input(obs, prev_action, prev_reward, t)
        if behaviour == "random":
            action = torch.randint(family.num_actions, (batch,), generator=generator)
        elif behaviour == "thompson":
            action = _beta_sample(alpha, beta, generator).argmax(1)
        else:
            action = torch.as_tensor(behaviour(obs, t)).long()
        obs, reward = family.step(action, generator)
        if behaviour == "thompson":
            pulled = nn.functional.one_hot(action, family.num_actions).float()
            alpha, beta = alpha + pulled * reward[:, None], beta + pulled * (1 - reward[:, None])
        inputs.append(x)
        actions.append(action)
        rewards.append(reward.float())
        next_obs.append(obs)
        prev_action, prev_reward = action, reward
    extras = {"goals": family.sim.goals.clone()} if isinstance(family, MovementFamily) else {}
    rewards_t = torch.stack(rewards, 1)
    empty = torch.full(rewards_t.shape, math.nan)
    return Rollout(tasks, torch.stack(inputs, 1), torch.stack(actions, 1), rewards_t, torch.stack(next_obs, 1),
                   empty, empty, None, extras)


def steps_to_threshold(steps: list[int], returns: list[float], threshold: float) -> float:
    """Environment steps at the first evaluation whose return reaches ``threshold`` (inf if never).

    Taught in notebooks/03_task_inference.py (section "Learning curves: belief network vs RL²").
    """
    for step, value in zip(steps, returns):
        if value >= threshold:
            return float(step)
    return math.inf


# ======================================================================================= checkpoints
def save_agent(path: str | Path, agent: MetaAgent, config: BeliefAgentConfig, *, meta: dict[str, Any] | None = None) -> Path:
    """Save an agent with ``peach_lite.checkpoints.save_checkpoint`` (arch = the config).

    Taught in notebooks/03_task_inference.py (section "Pretrained agents").
    """
    from peach_lite.checkpoints import save_checkpoint

    arch = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
    return save_checkpoint(path, {"agent": agent.state_dict()}, arch=arch, meta=meta or {})


def load_agent(path: str | Path) -> tuple[MetaAgent, BeliefAgentConfig, dict[str, Any]]:
    """Load ``(agent, config, meta)`` saved by :func:`save_agent` (safe ``weights_only`` load).

    Taught in notebooks/03_task_inference.py (section "Pretrained agents").
    """
    from peach_lite.checkpoints import load_checkpoint, load_module_state

    payload = load_checkpoint(path)
    arch = dict(payload["arch"])
    known = set(BeliefAgentConfig.__dataclass_fields__)
    config = BeliefAgentConfig(**{k: (tuple(v) if k == "policy_hidden" else v) for k, v in arch.items() if k in known})
    agent = _build_agent(config, make_family(config.family))
    load_module_state(agent, payload, "agent", path)
    agent.eval()
    return agent, config, payload["meta"]


def evaluate_checkpoint(path: str | Path) -> float:
    """Mean held-out return of a saved agent (1000 episodes, seed 12345): the manifest's score.

    Bandit: the first 1000 of the env's held-out ``test_tasks``; MovementBandits: 1000 episodes with
    balanced real goals and goal positions from the fixed seed. Runs in about a second on a CPU.

    Taught in notebooks/03_task_inference.py (section "Pretrained agents").
    """
    agent, config, _ = load_agent(path)
    return float(evaluate(agent, config.family, num_episodes=1000, seed=12345))


# ============================================================================================ helpers
def _build_agent(config: BeliefAgentConfig, family: TaskFamily) -> MetaAgent:
    return MetaAgent(config.agent, family.input_dim, family.num_actions, family.target_dim, config.hidden_dim,
                     config.feature_dim, config.policy_hidden, bottleneck=config.ib_weight > 0)


def _time_feature(obs: Tensor, t: int, horizon: int) -> Tensor:
    return torch.full((len(obs), 1), t / horizon)


def _return_scale(gamma: float, horizon: int) -> float:
    """Effective horizon sum_{t<T} gamma^t: the largest return of unit rewards (critic units)."""
    return float(horizon) if gamma == 1.0 else (1.0 - gamma**horizon) / (1.0 - gamma)


def _target_field(family: TaskFamily, targets: Tensor) -> dict[str, Tensor]:
    return {"target": targets} if family.target_kind == "bernoulli" else {"label": targets.float()[:, None]}


def _target_from_field(family: TaskFamily, batch: dict[str, Tensor]) -> Tensor:
    return batch["target"] if family.target_kind == "bernoulli" else batch["label"][:, 0].round().long()


def _beta_sample(alpha: Tensor, beta: Tensor, generator: torch.Generator) -> Tensor:
    """Beta(alpha, beta) samples for integer-valued parameters, as order statistics of uniforms-free gammas.

    For integer a, Gamma(a, 1) = -sum of a log-uniforms; Beta = G_a / (G_a + G_b).
    """
    max_count = int(max(alpha.max(), beta.max()))
    logs = -torch.rand(*alpha.shape, max_count, generator=generator).clamp_min(1e-12).log()
    index = torch.arange(max_count)
    gamma_a = (logs * (index < alpha[..., None])).sum(-1)
    gamma_b = (-torch.rand(*alpha.shape, max_count, generator=generator).clamp_min(1e-12).log() * (index < beta[..., None])).sum(-1)
    return gamma_a / (gamma_a + gamma_b)


def _check_int(field_name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{field_name} must be an integer in [{low}, inf], got {value!r}")
    check_range(field_name, value, low)


# ================================================================================================ CLI
def main(argv: list[str] | None = None) -> float:
    """Train an agent, save it, and record it in ``data/MANIFEST.json`` with its held-out score.

    Taught in notebooks/03_task_inference.py (section "Pretrained agents").
    """
    import shlex
    import sys

    from peach_lite.checkpoints import record_in_manifest

    parser = argparse.ArgumentParser(prog="python -m peach_lite.belief_agents", description=main.__doc__)
    parser.add_argument("--agent", default="belief", choices=AGENTS)
    parser.add_argument("--family", default="bandit", choices=FAMILIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-updates", type=int, default=None, help="default: FULL_BUDGETS[family]")
    parser.add_argument("--lr", type=float, default=None, help="default: FULL_BUDGETS[family]")
    parser.add_argument("--ib-weight", type=float, default=0.0)
    parser.add_argument("--belief-data", default="on_policy", choices=["on_policy", "replay"])
    parser.add_argument("--out", required=True, help="checkpoint path, e.g. data/checkpoints/belief_bandit.pt")
    parser.add_argument("--no-record", action="store_true", help="do not write data/MANIFEST.json")
    args = parser.parse_args(argv)
    full = FULL_BUDGETS[args.family]
    config = BeliefAgentConfig(agent=args.agent, family=args.family, seed=args.seed, ib_weight=args.ib_weight,
                               belief_data=args.belief_data,
                               num_updates=full["num_updates"] if args.num_updates is None else args.num_updates,
                               lr=full["lr"] if args.lr is None else args.lr)
    torch.set_num_threads(1)
    agent, history = train(config)
    meta = {"history": history.to_dict(), "elapsed_s": history.elapsed}
    path = save_agent(args.out, agent, config, meta=meta)
    score = evaluate_checkpoint(path)
    print(f"saved {path}; held-out mean return {score:.3f} (trained {history.elapsed:.0f} s)")
    if not args.no_record:
        command = "python -m peach_lite.belief_agents " + shlex.join(sys.argv[1:] if argv is None else argv)
        record_in_manifest(path, command=command, seed=args.seed, score_name="mean_return_heldout", score=score,
                           evaluate="peach_lite.belief_agents:evaluate_checkpoint", tolerance=0.05 * abs(score) + 0.5)
    return score


FULL_BUDGETS = {
    "bandit": {"num_updates": 300, "lr": 1e-2},
    "movement": {"num_updates": 800, "lr": 1e-2},
    "kgoal": {"num_updates": 500, "lr": 3e-3},
}
"""The command line's default budget per family: enough for the belief agent to level off in our runs
(bandit and MovementBandits learn faster at lr 1e-2; the K-goal trials use the benchmark's 3e-3)."""


if __name__ == "__main__":
    main()
