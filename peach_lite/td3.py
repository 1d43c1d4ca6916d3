"""TD3 (Fujimoto et al. 2018): deterministic actor, fused twin critics, target policy smoothing and
delayed actor updates. Shares the networks, the replay buffer and the training loop with SAC; MQL and
HIRO build on it.

Usage::

    agent = TD3.from_env(env, TD3Config(seed=0))
    history = train_off_policy(agent, env, LoopConfig(total_steps=10_000))

Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from peach_lite.buffers import ReplayBuffer, transition_fields
from peach_lite.device import get_device
from peach_lite.nets import (
    INIT_SCHEMES,
    ActionScale,
    DeterministicActor,
    EnsembleCritic,
    frozen,
    load_optimizer_state_flat,
    optimizer_state_flat,
    polyak_update_,
)
from peach_lite.validation import check_choice, check_range

__all__ = ["TD3Config", "TD3", "td3_target"]


@dataclass
class TD3Config:
    """TD3 hyperparameters; defaults are those of the TD3 authors' PyTorch code (sfujim/TD3 ``main.py`` and
    ``TD3.py``, read at commit 6a9f761); MQL's values (algorithms.md §1.2) are noted where they differ.
    Noise levels are in units of half the action range, as in the authors' code (our actor works in [-1, 1]).

    Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
    """

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layers of the actor and of each critic (authors' code: 256x256; MQL uses 300x300)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor (authors' code 3e-4; MQL 3e-4)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics (authors' code 3e-4)."""
    batch_size: int = 256
    """Transitions per gradient step (authors' code 256; MQL 256)."""
    buffer_size: int = 1_000_000
    """Replay capacity."""
    gamma: float = 0.99
    """Discount (0.99 everywhere)."""
    tau: float = 0.005
    """Polyak rate of the target actor and critics (authors' code 0.005; MQL 0.005)."""
    policy_noise: float = 0.2
    """Std of the target policy smoothing noise, in [-1, 1] action units (authors' 0.2; MQL 0.3)."""
    noise_clip: float = 0.5
    """The smoothing noise is clipped to [-noise_clip, noise_clip] (authors' 0.5; MQL 0.5)."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise added when acting, in [-1, 1] action units (authors' 0.1; MQL 0.2)."""
    policy_delay: int = 2
    """Update the actor and the targets once every this many critic updates (authors' policy_freq 2)."""
    num_critics: int = 2
    """Critics in the fused ensemble; targets take their minimum."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this in the Bellman target."""
    init: str = "torch"
    """Weight initialisation, one of nets.INIT_SCHEMES."""
    seed: int = 0
    """Seeds the network initialisation, the noise and the replay sampling."""

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        if not self.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {self.hidden}")
        check_range("actor_lr", self.actor_lr, 1e-12, 1.0)
        check_range("critic_lr", self.critic_lr, 1e-12, 1.0)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("buffer_size", self.buffer_size, 1)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        check_range("policy_noise", self.policy_noise, 0.0)
        check_range("noise_clip", self.noise_clip, 0.0)
        check_range("exploration_noise", self.exploration_noise, 0.0)
        _check_int("policy_delay", self.policy_delay, 1)
        _check_int("num_critics", self.num_critics, 1)
        check_range("reward_scale", self.reward_scale, 0.0)
        check_choice("init", self.init, INIT_SCHEMES)
        _check_int("seed", self.seed, 0)


def td3_target(reward: Tensor, done: Tensor, next_q: Tensor, gamma: float) -> Tensor:
    """Clipped double-Q target y = r + gamma (1 - done) min_i Q'_i(s', a'~), a'~ the smoothed target action.

    Args:
        reward, done: (*batch,); next_q: (num_critics, *batch).
    Returns:
        (*batch,) targets.
    """
    return reward + gamma * (1.0 - done) * next_q.min(dim=0).values


class TD3:
    """Twin Delayed DDPG with fused twin critics; implements the :class:`peach_lite.loop.OffPolicyAgent` protocol.

    Args: as :class:`peach_lite.sac.SAC`. The actor works in [-1, 1]; :meth:`act` maps to the env box.

    Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: TD3Config | None = None,
        *,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
        device: torch.device | str | None = None,
    ):
        self.config = config = config or TD3Config()
        self.device = torch.device(device) if device is not None else get_device()
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        low = [-1.0] * action_dim if action_low is None else list(np.asarray(action_low, dtype=np.float64).ravel())
        high = [1.0] * action_dim if action_high is None else list(np.asarray(action_high, dtype=np.float64).ravel())
        if len(low) != action_dim or len(high) != action_dim:
            raise ValueError(f"action_low and action_high must have {action_dim} entries, got {len(low)} and {len(high)}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.actor = DeterministicActor(obs_dim, action_dim, config.hidden, init=config.init)
            self.critic = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics, init=config.init)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.action_scale = ActionScale(low, high)
        for module in (self.actor, self.critic, self.actor_target, self.critic_target, self.action_scale):
            module.to(self.device)
        self.optimizer = torch.optim.Adam(
            [{"params": list(self.critic.parameters()), "lr": config.critic_lr},
             {"params": list(self.actor.parameters()), "lr": config.actor_lr}],
            fused=True,
        )
        self.buffer = ReplayBuffer(config.buffer_size, transition_fields(obs_dim, action_dim), device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.num_updates = 0

    @classmethod
    def from_env(cls, env: gym.Env, config: TD3Config | None = None, device: torch.device | str | None = None) -> "TD3":
        """Build an agent sized for ``env`` (flat Box observation and action spaces)."""
        obs_space, action_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"env.observation_space must be a flat Box, got {obs_space}")
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"env.action_space must be a flat Box, got {action_space}")
        return cls(obs_space.shape[0], action_space.shape[0], config,
                   action_low=action_space.low, action_high=action_space.high, device=device)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """obs (*batch, obs_dim) -> action (*batch, action_dim) in env units; Gaussian exploration noise unless deterministic."""
        action = self.actor(obs.to(self.device))
        if not deterministic:
            noise = torch.randn(action.shape, generator=self.generator, device=self.device)
            action = (action + self.config.exploration_noise * noise).clamp(-1.0, 1.0)
        return self.action_scale.to_env(action).cpu()

    def observe(self, obs: Tensor, action: Tensor, reward: float, next_obs: Tensor, terminated: bool) -> None:
        """Store a transition; the action is stored in the actor's [-1, 1] box."""
        self.buffer.add(obs=obs, action=self.action_scale.from_env(action.to(self.device)),
                        reward=reward, next_obs=next_obs, done=float(terminated))

    def update(self) -> dict[str, Tensor]:
        """One TD3 iteration (Fujimoto et al. 2018, Alg. 1): a critic step every call, and every
        ``policy_delay`` calls an actor step plus the target updates. Returns detached 0-d losses.

        As in :meth:`peach_lite.sac.SAC.update`, the critic and actor losses use the same parameters and are
        back-propagated once (the authors' code steps the critic before computing the actor loss).
        """
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.generator)
        obs, action, reward, next_obs, done = (batch[k] for k in ("obs", "action", "reward", "next_obs", "done"))

        # Alg. 1: target policy smoothing a'~ = clip(pi'(s') + clip(eps, -c, c), -1, 1), eps ~ N(0, sigma)
        with torch.no_grad():
            noise = torch.randn(action.shape, generator=self.generator, device=self.device) * cfg.policy_noise
            next_action = (self.actor_target(next_obs) + noise.clamp(-cfg.noise_clip, cfg.noise_clip)).clamp(-1.0, 1.0)
            # Alg. 1: clipped double-Q target y = r + gamma min_i Q'_i(s', a'~)
            target = td3_target(cfg.reward_scale * reward, done, self.critic_target(next_obs, next_action), cfg.gamma)

        # Alg. 1: critic loss sum_i E[(Q_i(s, a) - y)^2]
        q = self.critic(obs, action)
        critic_loss = (q - target).pow(2).mean(dim=1).sum()
        loss, actor_loss = critic_loss, None

        # Alg. 1: every d steps, deterministic policy gradient on Q_1 (critic frozen) ...
        update_actor = (self.num_updates + 1) % cfg.policy_delay == 0
        if update_actor:
            with frozen(self.critic):
                actor_loss = -self.critic(obs, self.actor(obs))[0].mean()
            loss = loss + actor_loss

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()  # the actor's parameters have no gradient on off-steps: Adam skips them

        # ... and the target networks follow slowly
        if update_actor:
            polyak_update_(self.critic_target, self.critic, cfg.tau)
            polyak_update_(self.actor_target, self.actor, cfg.tau)
        self.num_updates += 1
        out = {"critic_loss": critic_loss.detach()}
        if actor_loss is not None:
            out["actor_loss"] = actor_loss.detach()
        return out

    def state_dict(self, include_buffer: bool = False) -> dict[str, dict[str, Tensor]]:
        """Networks, optimizer, counters (and optionally the buffer) as ``{part: {name: tensor}}``."""
        state = {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "optimizer": optimizer_state_flat(self.optimizer),
            "counters": {"num_updates": torch.tensor(self.num_updates), "generator": self.generator.get_state()},
        }
        if include_buffer:
            state["buffer"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, dict[str, Tensor]]) -> None:
        """Load a :meth:`state_dict`; the optimizer, counters and buffer parts are optional."""
        for name in ("actor", "actor_target", "critic", "critic_target"):
            getattr(self, name).load_state_dict(state[name])
        if "counters" in state:
            self.num_updates = int(state["counters"]["num_updates"])
            self.generator.set_state(state["counters"]["generator"])
        if "optimizer" in state:
            load_optimizer_state_flat(self.optimizer, state["optimizer"])
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, inf], got {value!r}")
    check_range(name, value, low)
