"""Hindsight task relabelling for PEARL (Packer, Abbeel & Gonzalez, NeurIPS 2021, "Hindsight Task Relabelling:
Experience Replay for Sparse Reward Meta-RL", HTR) and the dense-to-sparse context curriculum.

Why: on the sparse point robot only about one training trajectory in ten is paid, so most contexts hold no
reward and the encoder never learns what a paid transition means (the bootstrap problem; lesson 05). HTR
lets a trajectory that passed within the goal radius of some *training* goal stand, in the context and in the
RL batch, for that goal's task, with both rewards recomputed by the environment's own reward function
(:func:`peach_lite.envs.point_robot.point_robot_rewards`). Meta-training then sees paid contexts from the start.

The sampling scheme follows HTR's lazy relabelling (relabel when a meta-batch is sampled, not when data is
stored): each task slot of the meta-batch is, with probability ``relabel_prob``, filled with hindsight data for
its task instead of the task's own data: both its context and its RL batch come from the pool of stored
trajectories (of *any* training task) that reached that task's goal (HTR's "episode clustering": several
episodes relabelled for one hindsight task), relabelled with that task's reward. Deviations from HTR:
hindsight tasks are restricted to the training goals (HTR samples any reached goal); the relabelled context is
drawn from the whole history rather than the most recent collection. With ``relabel_prob = 0`` nothing here
draws a random number, so training is bit-for-bit PEARL.

* :class:`HindsightStore`: per training goal, the transitions of every stored trajectory that reached it.
* :func:`relabel_meta_batch`: HTR's per-slot replacement inside :meth:`peach_lite.pearl.PEARL.sample_batch`.
* :func:`curriculum_context`: with ``dense_to_sparse_updates``, a training context carries the dense reward
  with a probability that falls linearly from 1 to 0 (meta-test contexts are always sparse).

Taught in notebooks/05_pearl.py (section "Hindsight task relabelling").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from peach_lite.buffers import MultiTaskReplayBuffer
from peach_lite.envs.point_robot import point_robot_rewards
from peach_lite.validation import check_int, check_range

__all__ = ["HindsightStore", "relabel_meta_batch", "curriculum_context", "dense_probability"]

RewardFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``reward_fn(next_obs (..., obs_dim), goal (..., goal_dim)) -> (dense, sparse)``, each (...)."""


class HindsightStore:
    """Per training goal k, the transitions of every stored training trajectory that passed within the goal
    radius of goal k (whatever task it was collected for). Rewards are not stored: :meth:`sample` recomputes
    them for goal k with the environment's reward function.

    Args:
        goals: (num_train_tasks, goal_dim) the **training** goals, indexed like the PEARL buffers.
        reward_fn: the environment's reward function (see :data:`RewardFn`); a trajectory reached goal k
            when its sparse reward for k is positive at some step.
        obs_dim, action_dim: transition sizes.
        capacity: transitions kept per goal (a ring buffer each).
        device: where the rows live.

    Taught in notebooks/05_pearl.py (section "Hindsight task relabelling").
    """

    def __init__(self, goals: np.ndarray, reward_fn: RewardFn, obs_dim: int, action_dim: int, capacity: int,
                 device: torch.device | str | None = None):
        self.goals = np.asarray(goals, dtype=np.float64)
        if self.goals.ndim != 2 or len(self.goals) < 1:
            raise ValueError(f"goals must be (num_train_tasks, goal_dim), got shape {self.goals.shape}")
        check_int("capacity", capacity, 1)
        self.reward_fn = reward_fn
        self.goal_dim = self.goals.shape[1]
        fields = {"obs": (obs_dim,), "action": (action_dim,), "next_obs": (obs_dim,), "done": (), "episode": ()}
        self.buffer = MultiTaskReplayBuffer(len(self.goals), capacity, fields, device=device)
        self.num_episodes = 0
        """Trajectories offered to :meth:`add_trajectory` so far (each row stores its trajectory's number)."""

    @classmethod
    def for_env(cls, envs: Any, obs_dim: int, action_dim: int, capacity: int,
                device: torch.device | str | None = None) -> "HindsightStore":
        """A store for a goal-reaching task distribution: its ``train_tasks()`` goals (never the test goals), its
        goal radius and :func:`~peach_lite.envs.point_robot.point_robot_rewards` on the position part of the obs."""
        unwrapped = envs.unwrapped
        tasks = unwrapped.train_tasks()
        if not hasattr(unwrapped, "goal_radius") or not all(hasattr(t, "goal") for t in tasks):
            raise ValueError(f"relabel_prob > 0 needs a goal-reaching env with goal_radius and tasks with .goal, got {envs.env_id}")
        radius = float(unwrapped.goal_radius)
        goals = np.array([t.goal for t in tasks], dtype=np.float64)
        dim = goals.shape[1]

        def reward_fn(next_obs: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return point_robot_rewards(np.asarray(next_obs, dtype=np.float64)[..., :dim], goal, radius)

        return cls(goals, reward_fn, obs_dim, action_dim, capacity, device)

    def reached(self, next_obs: Tensor) -> np.ndarray:
        """Indices of the goals one trajectory reached: next_obs (length, obs_dim) -> (num_reached,) ints."""
        states = next_obs.detach().cpu().double().numpy()[:, None, :]  # (L, 1, obs_dim)
        _, sparse = self.reward_fn(states, self.goals[None])  # (L, K)
        return np.flatnonzero((sparse > 0).any(axis=0))

    def add_trajectory(self, obs: Tensor, action: Tensor, next_obs: Tensor, done: Tensor) -> np.ndarray:
        """Store one training trajectory (fields (length, ...)) under every goal it reached; returns those goals."""
        goals = self.reached(next_obs)
        episode = torch.full((len(obs),), float(self.num_episodes), device=obs.device)
        self.num_episodes += 1
        for goal in goals.tolist():
            self.buffer.add_batch(goal, obs=obs, action=action, next_obs=next_obs, done=done, episode=episode)
        return goals

    def available(self, tasks: Tensor) -> Tensor:
        """(len(tasks),) bool: whether some stored trajectory reached each task's goal."""
        sizes = torch.tensor([self.buffer.size(k) for k in range(len(self.goals))], device=tasks.device)
        return sizes[tasks] > 0

    def sample(self, batch_size: int, tasks: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``batch_size`` transitions per listed task, uniform over its hindsight pool, with ``reward`` (dense) and
        ``context_reward`` (sparse) recomputed for that task's goal: fields (len(tasks), batch_size, ...)."""
        rows = self.buffer.sample(batch_size, tasks, generator)
        goals = self.goals[tasks.cpu().numpy()][:, None, :]  # (T, 1, goal_dim)
        dense, sparse = self.reward_fn(rows["next_obs"].cpu().double().numpy(), goals)
        rows["reward"] = torch.as_tensor(dense, dtype=torch.float32, device=rows["obs"].device)
        rows["context_reward"] = torch.as_tensor(sparse, dtype=torch.float32, device=rows["obs"].device)
        return rows


def relabel_meta_batch(agent: Any, tasks: Tensor, batch: dict[str, Tensor], context: Tensor) -> tuple[dict[str, Tensor], Tensor]:
    """HTR at sampling time: each slot of the meta-batch is, with probability ``agent.config.relabel_prob`` (and if
    some trajectory reached its goal), given hindsight data for its task from ``agent.hindsight``: an RL batch and
    a context of relabelled transitions. Adds ``batch["relabelled"]`` ((num_tasks,) bool).

    Args:
        agent: a :class:`~peach_lite.pearl.PEARL` with a :class:`HindsightStore` in ``agent.hindsight``.
        tasks: (num_tasks,) the meta-batch's training task ids.
        batch: its RL batch, fields (num_tasks, batch_size, ...); context: (num_tasks, num_context, context_dim).
    Returns:
        (batch, context) with the chosen slots replaced.

    Taught in notebooks/05_pearl.py (section "Hindsight task relabelling").
    """
    cfg, store = agent.config, agent.hindsight
    # HTR: relabel with probability K, per task of the meta-batch
    coin = torch.rand(len(tasks), generator=agent.generator, device=agent.device) < cfg.relabel_prob
    chosen = coin & store.available(tasks)
    batch = {**batch, "relabelled": chosen}
    if not bool(chosen.any()):
        return batch, context
    ids = tasks[chosen]
    rl = store.sample(batch.get("obs").shape[1], ids, agent.generator)  # RL batch of the hindsight task
    for name in ("obs", "action", "reward", "context_reward", "next_obs", "done"):
        batch[name] = batch[name].clone()
        batch[name][chosen] = rl[name].to(batch[name].dtype)
    if cfg.context_sampling == "same_batch":
        rows = {name: batch[name][chosen] for name in ("obs", "action", "reward", "context_reward", "next_obs")}
    else:
        rows = store.sample(context.shape[1], ids, agent.generator)  # its context: other relabelled transitions
    context = context.clone()
    context[chosen] = agent.make_context(rows)
    return batch, context


def dense_probability(num_updates: int, dense_to_sparse_updates: int) -> float:
    """P(a training context carries the dense reward) after ``num_updates`` gradient steps: 1 - t / T, floored at 0
    (0 when the curriculum is off, T = 0)."""
    check_int("num_updates", num_updates, 0)
    check_int("dense_to_sparse_updates", dense_to_sparse_updates, 0)
    if dense_to_sparse_updates == 0:
        return 0.0
    return max(0.0, 1.0 - num_updates / dense_to_sparse_updates)


def curriculum_context(agent: Any, rows: dict[str, Tensor], context: Tensor) -> Tensor:
    """The dense-to-sparse curriculum: each task's training context (num_tasks, num_context, context_dim) carries
    the dense reward ``rows["reward"]`` instead of the sparse one with probability :func:`dense_probability`.
    Only training contexts pass here; the meta-test context (``PEARL.add_context``) is always sparse.

    Taught in notebooks/05_pearl.py (section "Relabelling against the alternatives, same budget and seeds").
    """
    p = dense_probability(agent.num_updates, agent.config.dense_to_sparse_updates)
    if p <= 0.0:
        return context
    dense = torch.rand(context.shape[0], generator=agent.generator, device=agent.device) < p  # (T,)
    column = agent.obs_dim + agent.action_dim
    context = context.clone()
    context[..., column] = torch.where(dense[:, None], rows["reward"], context[..., column])
    return context


def check_relabel_fields(relabel_prob: float, relabel_buffer_size: int, dense_to_sparse_updates: int) -> None:
    """Validation of the three :class:`~peach_lite.pearl_config.PearlConfig` fields this module reads."""
    check_range("relabel_prob", relabel_prob, 0.0, 1.0)
    check_int("relabel_buffer_size", relabel_buffer_size, 1)
    check_int("dense_to_sparse_updates", dense_to_sparse_updates, 0)


def goals_of(tasks: Sequence[Any]) -> np.ndarray:
    """(len(tasks), goal_dim) the goals of a task list."""
    return np.array([t.goal for t in tasks], dtype=np.float64)
