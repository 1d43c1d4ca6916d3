"""What SAC and TD3 (and MQL and HIRO, which build on TD3) share: the agent protocol on a replay buffer.

:class:`OffPolicyAgent` implements :class:`peach_lite.loop.Agent` once: ``begin_episode`` sets greedy or
exploring, ``act`` maps observations to env actions, ``observe`` stores the active rows of a lockstep
:class:`~peach_lite.loop.Step` (the action in the actor's [-1, 1] box, ``done`` = terminated, not
truncated), ``learn`` samples batches and calls the subclass's ``update``. It also holds the checkpoint
plumbing (``arch``, ``from_checkpoint``, ``checkpoint_score``). A subclass builds its networks and defines
``policy`` (acting), ``losses`` (pure loss computation) and ``update`` (the optimizer steps).

Taught in notebooks/04_sac.py (section "The training loop").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from peach_lite.buffers import ReplayBuffer, transition_fields
from peach_lite.device import get_device
from peach_lite.loop import Step, TaskBatch
from peach_lite.nets import ActionScale
from peach_lite.validation import as_obs_tensor, check_int

__all__ = ["OffPolicyAgent", "EVAL_SEED"]

EVAL_SEED = 12_345
"""Seed of the first fixed evaluation episode of SAC/TD3 checkpoints (episode i: ``EVAL_SEED + i``)."""


class OffPolicyAgent:
    """Base class of the off-policy actor-critics: the Agent protocol, the buffer, checkpoints.

    Subclasses call :meth:`_setup` from ``__init__`` and implement ``policy(obs, cond, deterministic)``
    (actions in [-1, 1]), ``losses(batch, cond=None)`` and ``update(batch=None, cond=None)``.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    algorithm: ClassVar[str] = ""
    config: Any

    def _setup(self, obs_dim: int, action_dim: int, cond_dim: int, action_low: Sequence[float] | None,
               action_high: Sequence[float] | None, device: torch.device | str | None) -> None:
        check_int("obs_dim", obs_dim, 1)
        check_int("action_dim", action_dim, 1)
        check_int("cond_dim", cond_dim, 0)
        self.device = torch.device(device) if device is not None else get_device()
        self.obs_dim, self.action_dim, self.cond_dim = int(obs_dim), int(action_dim), int(cond_dim)
        low = [-1.0] * action_dim if action_low is None else list(np.asarray(action_low, dtype=np.float64).ravel())
        high = [1.0] * action_dim if action_high is None else list(np.asarray(action_high, dtype=np.float64).ravel())
        if len(low) != action_dim or len(high) != action_dim:
            raise ValueError(f"action_low and action_high must have {action_dim} entries, got {len(low)} and {len(high)}")
        self.action_scale = ActionScale(low, high).to(self.device)
        # Rows hold no cond: an agent that conditions on a task variable (MQL, PEARL) computes it per batch.
        self.buffer = ReplayBuffer(self.config.buffer_size, transition_fields(obs_dim, action_dim), device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        self.num_updates = 0
        self.env_id: str | None = None
        self.explore = True

    @classmethod
    def from_env(cls, env: gym.Env, config: Any = None, device: torch.device | str | None = None, *, cond_dim: int = 0):
        """Build an agent sized for ``env`` (flat Box observation and action spaces); remembers its id."""
        obs_space, action_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"env.observation_space must be a flat Box, got {obs_space}")
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"env.action_space must be a flat Box, got {action_space}")
        agent = cls(obs_space.shape[0], action_space.shape[0], config, action_low=action_space.low,
                    action_high=action_space.high, cond_dim=cond_dim, device=device)
        agent.env_id = env.spec.id if env.spec is not None else None
        return agent

    # --- the Agent protocol ----------------------------------------------------------------------
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Explore (sampled actions, transitions stored) or act greedily (nothing stored)."""
        self.explore = bool(explore)

    @torch.no_grad()
    def act(self, obs: Any, cond: Tensor | None = None, deterministic: bool | None = None) -> Tensor:
        """obs (obs_dim,) or (n, obs_dim) (tensor or array, any float dtype) -> action in env units, on the CPU.

        ``deterministic`` defaults to the episode's mode (greedy when ``begin_episode(explore=False)``).
        """
        obs = as_obs_tensor("obs", obs, self.obs_dim, self.device)
        if cond is not None:
            cond = as_obs_tensor("cond", cond, self.cond_dim, self.device)
        elif self.cond_dim:
            raise ValueError(f"cond must be given: this agent was built with cond_dim={self.cond_dim}")
        greedy = (not self.explore) if deterministic is None else bool(deterministic)
        return self.action_scale.to_env(self.policy(obs, cond, greedy)).cpu()

    def observe(self, step: Step) -> None:
        """Store the active rows of an exploring step; the action is stored in the actor's [-1, 1] box."""
        if not self.explore:
            return
        keep = step.mask
        self.buffer.add_batch(obs=step.obs[keep], action=self.action_scale.from_env(step.action[keep].to(self.device)),
                              reward=step.reward[keep], next_obs=step.next_obs[keep], done=step.terminated[keep].float())

    def end_episode(self) -> None:
        """Nothing to do at an episode's end."""

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` calls of ``update()`` on fresh replay batches; returns the last losses."""
        check_int("num_updates", num_updates, 0)
        losses: dict[str, Tensor] = {}
        for _ in range(num_updates):
            losses = self.update()
        return losses

    def sample_batch(self) -> dict[str, Tensor]:
        """A replay batch of ``config.batch_size`` rows (fields (B, ...)), drawn with the agent's generator."""
        if len(self.buffer) == 0:
            raise ValueError("the replay buffer is empty: collect transitions (observe) before learning")
        return self.buffer.sample(self.config.batch_size, self.generator)

    # --- checkpoints -----------------------------------------------------------------------------
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds this agent (stored in checkpoints)."""
        from dataclasses import asdict

        config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()}
        return {"env_id": self.env_id, "obs_dim": self.obs_dim, "action_dim": self.action_dim, "cond_dim": self.cond_dim,
                "action_low": self.action_scale.low.tolist(), "action_high": self.action_scale.high.tolist(), "config": config}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The networks (no buffer, no optimizer, no counters)."""
        state = self.state_dict(include_optimizer=False)
        state.pop("counters", None)
        return state

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None):
        """Rebuild from ``payload["arch"]`` and load ``payload["state"]``."""
        arch = payload["arch"]
        config = cls.config_from_arch(arch)
        agent = cls(arch["obs_dim"], arch["action_dim"], config, action_low=arch["action_low"], action_high=arch["action_high"],
                    cond_dim=arch.get("cond_dim", 0), device=device or "cpu")
        agent.env_id = arch.get("env_id")
        agent.load_state_dict(payload["state"])
        return agent

    @classmethod
    def config_from_arch(cls, arch: dict[str, Any]) -> Any:
        """The config stored in ``arch`` (replay capacity included: a loaded agent can act or train on)."""
        raise NotImplementedError

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Mean greedy return over 5 episodes of its env, reset with seeds ``EVAL_SEED + i``."""
        from peach_lite.envs import make
        from peach_lite.loop import evaluate

        if not self.env_id:
            raise ValueError("the checkpoint records no env_id: build the agent with from_env(env) before saving")
        env = make(self.env_id)
        try:
            return float(evaluate(self, env, num_episodes=5, seed=EVAL_SEED).returns.mean())
        finally:
            env.close()
