"""TD3 (Fujimoto et al. 2018): deterministic actor, fused twin critics, target policy smoothing and
delayed actor updates. Shares the networks, the replay buffer and the training loop with SAC; MQL and
HIRO build on it.

Usage::

    agent = TD3.from_env(env, TD3Config(seed=0))
    history = train(agent, Runner(env), TrainConfig(total_steps=10_000))

Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from peach_lite.nets import (
    INIT_SCHEMES,
    DeterministicActor,
    EnsembleCritic,
    frozen,
    load_optimizer_state_flat,
    optimizer_state_flat,
    polyak_update_,
)
from peach_lite.off_policy import OffPolicyAgent
from peach_lite.validation import check_choice, check_int, check_int_sequence, check_range

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
        self.hidden = check_int_sequence("hidden", self.hidden)
        check_range("actor_lr", self.actor_lr, 1e-12, 1.0)
        check_range("critic_lr", self.critic_lr, 1e-12, 1.0)
        check_int("batch_size", self.batch_size, 1)
        check_int("buffer_size", self.buffer_size, 1)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        check_range("policy_noise", self.policy_noise, 0.0)
        check_range("noise_clip", self.noise_clip, 0.0)
        check_range("exploration_noise", self.exploration_noise, 0.0)
        check_int("policy_delay", self.policy_delay, 1)
        check_int("num_critics", self.num_critics, 1)
        check_range("reward_scale", self.reward_scale, 0.0)
        check_choice("init", self.init, INIT_SCHEMES)
        check_int("seed", self.seed, 0)


def td3_target(reward: Tensor, done: Tensor, next_q: Tensor, gamma: float) -> Tensor:
    """Clipped double-Q target y = r + gamma (1 - done) min_i Q'_i(s', a'~), a'~ the smoothed target action.

    Args:
        reward, done: (*batch,); next_q: (num_critics, *batch).
    Returns:
        (*batch,) targets.

    Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
    """
    return reward + gamma * (1.0 - done) * next_q.min(dim=0).values


class TD3(OffPolicyAgent):
    """Twin Delayed DDPG with fused twin critics; the :class:`peach_lite.loop.Agent` protocol comes from
    :class:`~peach_lite.off_policy.OffPolicyAgent`.

    Args: as :class:`peach_lite.sac.SAC` (including ``cond_dim``, the task-variable input MQL uses).
    The actor works in [-1, 1]; :meth:`act` maps to the env box.

    Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
    """

    algorithm: ClassVar[str] = "td3"

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: TD3Config | None = None,
        *,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
        cond_dim: int = 0,
        device: torch.device | str | None = None,
    ):
        self.config = config = config or TD3Config()
        if not isinstance(config, TD3Config):
            raise ValueError(f"config must be a TD3Config, got {type(config).__name__}")
        self._setup(obs_dim, action_dim, cond_dim, action_low, action_high, device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.actor = DeterministicActor(obs_dim, action_dim, config.hidden, cond_dim=cond_dim, init=config.init)
            self.critic = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics,
                                         cond_dim=cond_dim, init=config.init)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        for module in (self.actor, self.critic, self.actor_target, self.critic_target):
            module.to(self.device)
        # One Adam each, stepped one after the other as in the authors' code (critic, then actor).
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, fused=True)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, fused=True)

    def policy(self, obs: Tensor, cond: Tensor | None, deterministic: bool) -> Tensor:
        """obs (*B, obs_dim) -> action (*B, action_dim) in [-1, 1]; Gaussian exploration noise unless deterministic."""
        action = self.actor(obs, cond)
        if not deterministic:
            noise = torch.randn(action.shape, generator=self.generator, device=self.device)
            action = (action + self.config.exploration_noise * noise).clamp(-1.0, 1.0)
        return action

    # --- the losses, as named units ---------------------------------------------------------------
    def critic_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None, next_cond: Tensor | None = None, *,
                    next_actor_cond: Tensor | None = None, weights: Tensor | None = None) -> Tensor:
        """sum_i E[w (Q_i(s, a) - y)^2], y the clipped double-Q target with target policy smoothing.

        Args:
            batch: replay fields obs, action (in [-1, 1]), reward, next_obs, done, each (B, ...).
            cond, next_cond: (B, cond_dim) the critic's task variable at s and at s' (MQL: its GRU's
                summary of the history before and after the step); next_cond defaults to cond.
                Gradient flows into ``cond`` only.
            next_actor_cond: (B, cond_dim) the target actor's input at s' (default: next_cond).
            weights: (B,) per-row weights w (MQL's propensity scores); None means 1.
        Returns:
            0-d loss.

        Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
        """
        cfg = self.config
        obs, action, reward, next_obs, done = (batch[k] for k in ("obs", "action", "reward", "next_obs", "done"))
        with torch.no_grad():
            next_cond = cond if next_cond is None else next_cond
            next_cond = None if next_cond is None else next_cond.detach()
            next_actor_cond = next_cond if next_actor_cond is None else next_actor_cond.detach()
            # Alg. 1: target policy smoothing a'~ = clip(pi'(s') + clip(eps, -c, c), -1, 1), eps ~ N(0, sigma)
            noise = torch.randn(action.shape, generator=self.generator, device=self.device) * cfg.policy_noise
            next_action = (self.actor_target(next_obs, next_actor_cond) + noise.clamp(-cfg.noise_clip, cfg.noise_clip)).clamp(-1.0, 1.0)
            # Alg. 1: clipped double-Q target y = r + gamma min_i Q'_i(s', a'~)
            target = td3_target(cfg.reward_scale * reward, done, self.critic_target(next_obs, next_action, next_cond), cfg.gamma)
        squared = (self.critic(obs, action, cond) - target).pow(2)  # (num_critics, B)
        if weights is not None:
            squared = squared * weights
        return squared.mean(dim=1).sum()

    def actor_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None, *, actor_cond: Tensor | None = None,
                   weights: Tensor | None = None) -> Tensor:
        """-E[w Q_1(s, pi(s))] through the frozen first critic (deterministic policy gradient).

        ``cond`` (the critic's task variable) is detached. The actor reads ``actor_cond`` when given,
        with its gradient (MQL trains the actor's own GRU with this loss), else ``cond`` detached
        (PEARL-style routing: the actor never trains a task encoder). ``weights``: (B,) or None.

        Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
        """
        obs = batch["obs"]
        cond = None if cond is None else cond.detach()
        actor_cond = cond if actor_cond is None else actor_cond
        with frozen(self.critic):
            q = self.critic(obs, self.actor(obs, actor_cond), cond)[0]
        return -(q if weights is None else q * weights).mean()

    def losses(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> dict[str, Tensor]:
        """Both TD3 losses at the current parameters (inspection, or a caller that adds terms)."""
        return {"critic_loss": self.critic_loss(batch, cond), "actor_loss": self.actor_loss(batch, cond)}

    def update(self, batch: dict[str, Tensor] | None = None, cond: Tensor | None = None,
               next_cond: Tensor | None = None) -> dict[str, Tensor]:
        """One TD3 iteration (Fujimoto et al. 2018, Alg. 1), in the authors' order: a critic step every
        call; every ``policy_delay`` calls an actor step through the *updated* critic, then the targets.

        ``batch`` defaults to a replay sample. Returns detached 0-d losses (actor_loss on actor steps only).

        Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
        """
        batch = self.sample_batch() if batch is None else batch
        critic_loss = self.critic_loss(batch, cond, next_cond)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        out = {"critic_loss": critic_loss.detach()}
        self.num_updates += 1
        # Alg. 1: every d steps, deterministic policy gradient on Q_1 (critic frozen) ...
        if self.num_updates % self.config.policy_delay == 0:
            actor_loss = self.actor_loss(batch, cond)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_optimizer.step()
            # ... and the target networks follow slowly
            polyak_update_(self.critic_target, self.critic, self.config.tau)
            polyak_update_(self.actor_target, self.actor, self.config.tau)
            out["actor_loss"] = actor_loss.detach()
        return out

    # --- state -------------------------------------------------------------------------------------
    def state_dict(self, include_buffer: bool = False, include_optimizer: bool = True) -> dict[str, dict[str, Tensor]]:
        """Networks, optimizers, counters (and optionally the buffer) as ``{part: {name: tensor}}``."""
        state = {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "counters": {"num_updates": torch.tensor(self.num_updates), "generator": self.generator.get_state()},
        }
        if include_optimizer:
            state["critic_optimizer"] = optimizer_state_flat(self.critic_optimizer)
            state["actor_optimizer"] = optimizer_state_flat(self.actor_optimizer)
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
        for name in ("critic_optimizer", "actor_optimizer"):
            if name in state:
                load_optimizer_state_flat(getattr(self, name), state[name])
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])

    @classmethod
    def config_from_arch(cls, arch: dict[str, Any]) -> TD3Config:
        """The stored config."""
        return TD3Config(**arch["config"])
