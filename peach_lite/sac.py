"""Soft Actor-Critic (Haarnoja et al. 2018), written to be read: fused twin critics, a tanh-Gaussian
actor, and an automatic (or fixed) entropy temperature.

Usage::

    env = peach_lite.envs.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(seed=0))
    history = train(agent, Runner(env), TrainConfig(total_steps=10_000))

Produce the pretrained checkpoint used by the lesson::

    python -m peach_lite train sac --preset pendulum --seed 0 --out data/checkpoints/sac_pendulum.pt

Taught in notebooks/04_sac.py.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from peach_lite.cli import TrainSpec
from peach_lite.nets import (
    INIT_SCHEMES,
    EnsembleCritic,
    TanhGaussianPolicy,
    frozen,
    hard_update_,
    load_optimizer_state_flat,
    optimizer_state_flat,
    polyak_update_,
)
from peach_lite.off_policy import OffPolicyAgent
from peach_lite.validation import check_choice, check_int, check_int_sequence, check_range

__all__ = ["SACConfig", "SAC", "soft_q_target", "train_sac", "CLI"]


@dataclass
class SACConfig:
    """SAC hyperparameters. Defaults are stable-baselines3 2.x's ``SAC`` defaults (which follow the paper).

    Taught in notebooks/04_sac.py (section "The SAC objective").
    """

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layers of the actor and of each critic (SB3 ``net_arch=[256, 256]``; the paper uses 256x256)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor (SB3 ``learning_rate=3e-4``)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics (SB3: the same 3e-4)."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha) (SB3: the same 3e-4)."""
    batch_size: int = 256
    """Transitions per gradient step (SB3 ``batch_size=256``)."""
    buffer_size: int = 1_000_000
    """Replay capacity (SB3 ``buffer_size=1_000_000``)."""
    gamma: float = 0.99
    """Discount (SB3 ``gamma=0.99``)."""
    tau: float = 0.005
    """Polyak rate of the target critics (SB3 ``tau=0.005``)."""
    init_alpha: float = 1.0
    """Initial (or fixed) entropy temperature alpha (SB3 ``ent_coef="auto"`` starts at 1.0)."""
    learn_alpha: bool = True
    """Tune alpha automatically towards ``target_entropy`` (SB3 ``ent_coef="auto"``); False keeps it fixed."""
    target_entropy: float | None = None
    """Target policy entropy; None means -action_dim (SB3 ``target_entropy="auto"``, the paper's heuristic)."""
    num_critics: int = 2
    """Critics in the fused ensemble; the target uses their minimum (SB3 ``n_critics=2``)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this in the Bellman target (PEARL uses 5 or 100 instead of an alpha)."""
    log_std_bounds: tuple[float, float] = (-20.0, 2.0)
    """Clamp of the actor's log standard deviation (SB3 and rlkit: LOG_STD_MIN=-20, LOG_STD_MAX=2)."""
    init: str = "torch"
    """Weight initialisation, one of nets.INIT_SCHEMES ("torch" = nn.Linear default, as SB3)."""
    seed: int = 0
    """Seeds the network initialisation, the actor's noise and the replay sampling."""

    def __post_init__(self):
        self.hidden = check_int_sequence("hidden", self.hidden)
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            check_range(name, getattr(self, name), 1e-12, 1.0)
        check_int("batch_size", self.batch_size, 1)
        check_int("buffer_size", self.buffer_size, 1)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        check_range("init_alpha", self.init_alpha, 1e-12)
        if self.target_entropy is not None:
            check_range("target_entropy", self.target_entropy)
        check_int("num_critics", self.num_critics, 1)
        check_range("reward_scale", self.reward_scale, 0.0)
        self.log_std_bounds = tuple(float(b) for b in self.log_std_bounds)
        if len(self.log_std_bounds) != 2 or not self.log_std_bounds[0] < self.log_std_bounds[1]:
            raise ValueError(f"log_std_bounds must be (low, high) with low < high, got {self.log_std_bounds}")
        check_choice("init", self.init, INIT_SCHEMES)
        check_int("seed", self.seed, 0)


def soft_q_target(
    reward: Tensor, done: Tensor, next_q: Tensor, next_log_prob: Tensor, alpha: float | Tensor, gamma: float
) -> Tensor:
    """The soft Bellman target y = r + gamma (1 - done) (min_i Q'_i(s', a') - alpha log pi(a'|s')), a' ~ pi(.|s').

    Args:
        reward, done: (*batch,) reward and terminal flag (1.0 = terminated: no bootstrap).
        next_q: (num_critics, *batch) target-critic values at (s', a').
        next_log_prob: (*batch,) log pi(a'|s').
        alpha: entropy temperature; gamma: discount.
    Returns:
        (*batch,) targets.

    Taught in notebooks/04_sac.py (section "The SAC objective").
    """
    soft_value = next_q.min(dim=0).values - alpha * next_log_prob  # V(s') = E[min Q - alpha log pi]
    return reward + gamma * (1.0 - done) * soft_value


class SAC(OffPolicyAgent):
    """Soft Actor-Critic with fused twin critics and automatic temperature.

    Args:
        obs_dim, action_dim: sizes of the observation and action vectors.
        config: :class:`SACConfig`.
        action_low, action_high: the env's action box; the actor works in [-1, 1] and
            :meth:`act` maps to this box (default [-1, 1]).
        cond_dim: size of an extra input ``cond`` of the actor and critics (a task variable; 0: none).
        device: torch device (default :func:`peach_lite.device.get_device`).

    Attributes: ``actor`` (:class:`TanhGaussianPolicy`), ``critic`` and ``critic_target``
    (:class:`EnsembleCritic`), ``log_alpha``, ``buffer`` (:class:`ReplayBuffer` storing actions in [-1, 1]),
    ``critic_optimizer``, ``actor_optimizer`` and ``alpha_optimizer`` (Adam each; the last is None when
    alpha is fixed).

    Taught in notebooks/04_sac.py (section "One update, step by step").
    """

    algorithm: ClassVar[str] = "sac"

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: SACConfig | None = None,
        *,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
        cond_dim: int = 0,
        device: torch.device | str | None = None,
    ):
        self.config = config = config or SACConfig()
        if not isinstance(config, SACConfig):
            raise ValueError(f"config must be a SACConfig, got {type(config).__name__}")
        self._setup(obs_dim, action_dim, cond_dim, action_low, action_high, device)
        # Networks are initialised from config.seed without touching the global torch RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.actor = TanhGaussianPolicy(obs_dim, action_dim, config.hidden, cond_dim=cond_dim,
                                            log_std_bounds=config.log_std_bounds, init=config.init)
            self.critic = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics,
                                         cond_dim=cond_dim, init=config.init)
            self.critic_target = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics,
                                                cond_dim=cond_dim)
        hard_update_(self.critic_target, self.critic)
        self.critic_target.requires_grad_(False)
        for module in (self.actor, self.critic, self.critic_target):
            module.to(self.device)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=config.learn_alpha)
        self.target_entropy = float(-action_dim if config.target_entropy is None else config.target_entropy)
        # One Adam per part, as in the paper and SB3: the parts step one after the other (see update).
        # fused=True runs each Adam step as one kernel over all of its tensors.
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, fused=True)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, fused=True)
        self.alpha_optimizer = (torch.optim.Adam([self.log_alpha], lr=config.alpha_lr, fused=True)
                                if config.learn_alpha else None)

    @property
    def alpha(self) -> float:
        """Current entropy temperature."""
        return self.log_alpha.detach().exp().item()

    def policy(self, obs: Tensor, cond: Tensor | None, deterministic: bool) -> Tensor:
        """obs (*B, obs_dim) -> action (*B, action_dim) in [-1, 1]: the tanh-Gaussian's mean or a sample."""
        return self.actor(obs, cond, deterministic=deterministic, with_log_prob=False, generator=self.generator).action

    # --- the losses, as named units ---------------------------------------------------------------
    def critic_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> Tensor:
        """J_Q = 1/2 sum_i E[(Q_i(s, a) - y)^2] with the soft Bellman target y from the target critics.

        Args:
            batch: replay fields obs, action (in [-1, 1]), reward, next_obs, done, each (B, ...).
            cond: (B, cond_dim) task variable or None; gradient flows into it (PEARL routes it to its encoder).
        Returns:
            0-d loss.

        Taught in notebooks/04_sac.py (section "One update, step by step").
        """
        obs, action, reward, next_obs, done = (batch[k] for k in ("obs", "action", "reward", "next_obs", "done"))
        alpha = self.log_alpha.detach().exp()
        # Soft Bellman target, from the *target* critics, with a fresh action a' ~ pi(.|s'):
        #   y = r + gamma (1 - done) (min_i Q'_i(s', a') - alpha log pi(a'|s'))
        with torch.no_grad():
            next_cond = None if cond is None else cond.detach()
            next_pi = self.actor(next_obs, next_cond, generator=self.generator)
            next_q = self.critic_target(next_obs, next_pi.action, next_cond)  # (num_critics, B)
            target = soft_q_target(self.config.reward_scale * reward, done, next_q, next_pi.log_prob, alpha, self.config.gamma)
        q = self.critic(obs, action, cond)  # (num_critics, B): every critic in one batched call
        return 0.5 * (q - target).pow(2).mean(dim=1).sum()

    def actor_losses(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> dict[str, Tensor]:
        """J_pi = E[alpha log pi(a~|s) - min_i Q_i(s, a~)] through the frozen critics, and the temperature loss.

        ``cond`` is detached here: the actor never trains a task encoder (PEARL's routing).
        Returns ``{"actor_loss", "alpha_loss", "entropy"}`` (alpha_loss is 0 when alpha is fixed).

        Taught in notebooks/04_sac.py (section "One update, step by step").
        """
        obs = batch["obs"]
        cond = None if cond is None else cond.detach()
        alpha = self.log_alpha.detach().exp()
        pi = self.actor(obs, cond, generator=self.generator)
        with frozen(self.critic):
            q_pi = self.critic(obs, pi.action, cond).min(dim=0).values
        actor_loss = (alpha * pi.log_prob - q_pi).mean()
        # J(alpha) = E[-log(alpha) (log pi(a~|s) + target_entropy)], on log alpha as SB3 does
        alpha_loss = torch.zeros((), device=self.device)
        if self.alpha_optimizer is not None:
            alpha_loss = -(self.log_alpha * (pi.log_prob.detach() + self.target_entropy)).mean()
        return {"actor_loss": actor_loss, "alpha_loss": alpha_loss, "entropy": -pi.log_prob.detach().mean()}

    def losses(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> dict[str, Tensor]:
        """Every SAC loss at the current parameters (for inspection, or for a caller that adds terms).

        :meth:`update` does not call this: it steps the critics before computing the actor loss.
        """
        return {"critic_loss": self.critic_loss(batch, cond), **self.actor_losses(batch, cond)}

    def update(self, batch: dict[str, Tensor] | None = None, cond: Tensor | None = None) -> dict[str, Tensor]:
        """One SAC gradient step (Haarnoja et al. 2018, "SAC algorithms and applications", Alg. 1).

        The parts step one after the other, as in the paper and stable-baselines3: the critics first,
        then the actor against the *updated* critics, then the temperature, on one batch (a replay
        sample when ``batch`` is None). Every loss uses the temperature from before this update (as SB3).
        Three optimizers step in turn, so an exception between them would leave a partial update;
        :func:`peach_lite.loop.train` defers Ctrl-C until ``learn`` returns, so an interrupt never does.
        Returns detached 0-d tensors: critic_loss, actor_loss, alpha_loss, alpha, entropy.

        Taught in notebooks/04_sac.py (section "One update, step by step").
        """
        batch = self.sample_batch() if batch is None else batch
        alpha = self.log_alpha.detach().exp()
        # Alg. 1, "update the Q-function parameters"
        critic_loss = self.critic_loss(batch, cond)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        # Alg. 1, "update policy weights", through the critics just updated (frozen: no weight gradients)
        actor = self.actor_losses(batch, cond)
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor["actor_loss"].backward()
        self.actor_optimizer.step()
        # Alg. 1, "adjust temperature"
        if self.alpha_optimizer is not None:
            self.alpha_optimizer.zero_grad(set_to_none=True)
            actor["alpha_loss"].backward()
            self.alpha_optimizer.step()
        # Alg. 1, "update target network weights": theta' <- tau theta + (1 - tau) theta'
        polyak_update_(self.critic_target, self.critic, self.config.tau)
        self.num_updates += 1
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor["actor_loss"].detach(),
                "alpha_loss": actor["alpha_loss"].detach(), "alpha": alpha, "entropy": actor["entropy"]}

    # --- state -------------------------------------------------------------------------------------
    def state_dict(self, include_buffer: bool = False, include_optimizer: bool = True) -> dict[str, dict[str, Tensor]]:
        """Everything needed to resume bit-exactly, as ``{part: {name: tensor}}`` (``save_checkpoint``-ready)."""
        state = {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "temperature": {"log_alpha": self.log_alpha.detach().clone()},
            "counters": {"num_updates": torch.tensor(self.num_updates), "generator": self.generator.get_state()},
        }
        if include_optimizer:
            for name, optimizer in self._optimizers().items():
                state[name] = optimizer_state_flat(optimizer)
        if include_buffer:
            state["buffer"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, dict[str, Tensor]]) -> None:
        """Load a :meth:`state_dict`; the optimizer, counters and buffer parts are optional."""
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["temperature"]["log_alpha"])
        if "counters" in state:
            self.num_updates = int(state["counters"]["num_updates"])
            self.generator.set_state(state["counters"]["generator"])
        for name, optimizer in self._optimizers().items():
            if name in state:
                load_optimizer_state_flat(optimizer, state[name])
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = {"critic_optimizer": self.critic_optimizer, "actor_optimizer": self.actor_optimizer}
        if self.alpha_optimizer is not None:
            optimizers["alpha_optimizer"] = self.alpha_optimizer
        return optimizers

    @classmethod
    def config_from_arch(cls, arch: dict[str, Any]) -> SACConfig:
        """The stored config (files saved before 0.2 stored only the network sizes)."""
        stored = dict(arch.get("config") or {"hidden": arch["hidden"], "num_critics": arch["num_critics"],
                                             "log_std_bounds": arch["log_std_bounds"]})
        return SACConfig(**stored)


# ---------------------------------------------------------------------------------------------
# Training for the command line: python -m peach_lite train sac --preset pendulum --seed 0 --out ...


def train_sac(*, seed: int, progress: bool = True, env_id: str = "Pendulum-v1", total_steps: int = 15_000,
              hidden: Sequence[int] = (256, 256), eval_every: int = 1000) -> tuple[SAC, dict[str, Any]]:
    """Train SAC on ``env_id`` with the shared loop; returns the agent and its History as plain data.

    Taught in notebooks/04_sac.py (section "Pendulum").
    """
    from peach_lite.envs import make
    from peach_lite.loop import Runner, TrainConfig, train

    env = make(env_id)
    agent = SAC.from_env(env, SACConfig(hidden=tuple(hidden), seed=seed))
    history = train(agent, Runner(env, seed=seed), TrainConfig(total_steps=total_steps, eval_every=eval_every,
                                                               eval_episodes=5, seed=seed, progress=progress))
    env.close()
    return agent, {"steps": total_steps, "history": history.to_dict()}


CLI = TrainSpec(train=train_sac, presets={"pendulum": {"env_id": "Pendulum-v1", "total_steps": 15_000}},
                score_name="mean_return", tolerance=25.0)
"""``python -m peach_lite train sac --preset pendulum``."""
