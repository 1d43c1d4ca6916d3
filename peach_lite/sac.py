"""Soft Actor-Critic (Haarnoja et al. 2018), written to be read: fused twin critics, a tanh-Gaussian
actor, and an automatic (or fixed) entropy temperature.

Usage::

    env = gymnasium.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(seed=0))
    history = train_off_policy(agent, env, LoopConfig(total_steps=10_000))

Produce the pretrained checkpoint used by the lesson::

    python -m peach_lite.sac --env Pendulum-v1 --steps 15000 --seed 0 --out data/checkpoints/sac_pendulum.pt

Taught in notebooks/04_sac.py.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from peach_lite.buffers import ReplayBuffer, transition_fields
from peach_lite.device import get_device
from peach_lite.loop import History, LoopConfig, evaluate, make_env, train_off_policy
from peach_lite.nets import (
    INIT_SCHEMES,
    ActionScale,
    EnsembleCritic,
    TanhGaussianPolicy,
    frozen,
    hard_update_,
    load_optimizer_state_flat,
    optimizer_state_flat,
    polyak_update_,
)
from peach_lite.validation import check_choice, check_range

__all__ = ["SACConfig", "SAC", "soft_q_target", "evaluate_checkpoint", "load_agent", "save_agent", "main"]


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
        self.hidden = tuple(self.hidden)
        if not self.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {self.hidden}")
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            check_range(name, getattr(self, name), 1e-12, 1.0)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("buffer_size", self.buffer_size, 1)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        check_range("init_alpha", self.init_alpha, 1e-12)
        if self.target_entropy is not None:
            check_range("target_entropy", self.target_entropy)
        _check_int("num_critics", self.num_critics, 1)
        check_range("reward_scale", self.reward_scale, 0.0)
        self.log_std_bounds = tuple(float(b) for b in self.log_std_bounds)
        if len(self.log_std_bounds) != 2 or not self.log_std_bounds[0] < self.log_std_bounds[1]:
            raise ValueError(f"log_std_bounds must be (low, high) with low < high, got {self.log_std_bounds}")
        check_choice("init", self.init, INIT_SCHEMES)
        _check_int("seed", self.seed, 0)


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


class SAC:
    """Soft Actor-Critic with fused twin critics and automatic temperature.

    Args:
        obs_dim, action_dim: sizes of the observation and action vectors.
        config: :class:`SACConfig`.
        action_low, action_high: the env's action box; the actor works in [-1, 1] and
            :meth:`act` maps to this box (default [-1, 1]).
        device: torch device (default :func:`peach_lite.device.get_device`).

    Attributes: ``actor`` (:class:`TanhGaussianPolicy`), ``critic`` and ``critic_target``
    (:class:`EnsembleCritic`), ``log_alpha``, ``buffer`` (:class:`ReplayBuffer` storing actions in [-1, 1]),
    ``critic_optimizer``, ``actor_optimizer`` and ``alpha_optimizer`` (Adam each; the last is None when
    alpha is fixed).

    Taught in notebooks/04_sac.py (section "One update, step by step").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: SACConfig | None = None,
        *,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
        device: torch.device | str | None = None,
    ):
        self.config = config = config or SACConfig()
        self.device = torch.device(device) if device is not None else get_device()
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        low = [-1.0] * action_dim if action_low is None else list(np.asarray(action_low, dtype=np.float64).ravel())
        high = [1.0] * action_dim if action_high is None else list(np.asarray(action_high, dtype=np.float64).ravel())
        if len(low) != action_dim or len(high) != action_dim:
            raise ValueError(f"action_low and action_high must have {action_dim} entries, got {len(low)} and {len(high)}")
        # Networks are initialised from config.seed without touching the global torch RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.actor = TanhGaussianPolicy(obs_dim, action_dim, config.hidden, log_std_bounds=config.log_std_bounds, init=config.init)
            self.critic = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics, init=config.init)
            self.critic_target = EnsembleCritic(obs_dim, action_dim, config.hidden, num_critics=config.num_critics)
        hard_update_(self.critic_target, self.critic)
        self.critic_target.requires_grad_(False)
        self.action_scale = ActionScale(low, high)
        for module in (self.actor, self.critic, self.critic_target, self.action_scale):
            module.to(self.device)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=config.learn_alpha)
        self.target_entropy = float(-action_dim if config.target_entropy is None else config.target_entropy)
        # One Adam per part, as in the paper and SB3: the parts step one after the other (see update).
        # fused=True runs each Adam step as one kernel over all of its tensors.
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, fused=True)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, fused=True)
        self.alpha_optimizer = (torch.optim.Adam([self.log_alpha], lr=config.alpha_lr, fused=True)
                                if config.learn_alpha else None)
        self.buffer = ReplayBuffer(config.buffer_size, transition_fields(obs_dim, action_dim), device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.num_updates = 0

    @classmethod
    def from_env(cls, env: gym.Env, config: SACConfig | None = None, device: torch.device | str | None = None) -> "SAC":
        """Build an agent sized for ``env`` (flat Box observation and action spaces)."""
        obs_space, action_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"env.observation_space must be a flat Box, got {obs_space}")
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"env.action_space must be a flat Box, got {action_space}")
        return cls(obs_space.shape[0], action_space.shape[0], config,
                   action_low=action_space.low, action_high=action_space.high, device=device)

    @property
    def alpha(self) -> float:
        """Current entropy temperature."""
        return self.log_alpha.detach().exp().item()

    # --- the OffPolicyAgent protocol ------------------------------------------------------------

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """obs (*batch, obs_dim) -> action (*batch, action_dim) in the env's units, on the CPU."""
        out = self.actor(obs.to(self.device), deterministic=deterministic, with_log_prob=False, generator=self.generator)
        return self.action_scale.to_env(out.action).cpu()

    def observe(self, obs: Tensor, action: Tensor, reward: float, next_obs: Tensor, terminated: bool) -> None:
        """Store a transition; the action is stored in the actor's [-1, 1] box."""
        self.buffer.add(obs=obs, action=self.action_scale.from_env(action.to(self.device)),
                        reward=reward, next_obs=next_obs, done=float(terminated))

    def update(self) -> dict[str, Tensor]:
        """One SAC gradient step (Haarnoja et al. 2018, "SAC algorithms and applications", Alg. 1).

        The parts step one after the other, as in the paper and stable-baselines3: the critics first,
        then the actor against the *updated* critics, then the temperature, on one batch. Every loss uses
        the temperature alpha from before this update (SB3 does the same). ``frozen`` and ``detach``
        keep each loss on its own parameters.
        Returns detached 0-d tensors: critic_loss, actor_loss, alpha_loss, alpha, entropy.
        """
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.generator)
        obs, action, reward, next_obs, done = (batch[k] for k in ("obs", "action", "reward", "next_obs", "done"))
        alpha = self.log_alpha.detach().exp()

        # Soft Bellman target, from the *target* critics, with a fresh action a' ~ pi(.|s'):
        #   y = r + gamma (1 - done) (min_i Q'_i(s', a') - alpha log pi(a'|s'))
        with torch.no_grad():
            next_pi = self.actor(next_obs, generator=self.generator)
            next_q = self.critic_target(next_obs, next_pi.action)  # (num_critics, B)
            target = soft_q_target(cfg.reward_scale * reward, done, next_q, next_pi.log_prob, alpha, cfg.gamma)

        # Alg. 1, "update the Q-function parameters": J_Q = 1/2 sum_i E[(Q_i(s, a) - y)^2]
        q = self.critic(obs, action)  # (num_critics, B): every critic in one batched call
        critic_loss = 0.5 * (q - target).pow(2).mean(dim=1).sum()
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        # Alg. 1, "update policy weights": J_pi = E[alpha log pi(a~|s) - min_i Q_i(s, a~)], a~ = tanh(mu + sigma eps),
        # through the critics just updated. They are frozen: the gradient flows through Q into a~ and the
        # actor, and the critics' weight gradients are never computed.
        pi = self.actor(obs, generator=self.generator)
        with frozen(self.critic):
            q_pi = self.critic(obs, pi.action).min(dim=0).values
        actor_loss = (alpha * pi.log_prob - q_pi).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        # Alg. 1, "adjust temperature": J(alpha) = E[-log(alpha) (log pi(a~|s) + target_entropy)]
        # (on log alpha, as SB3 does; it raises alpha when the entropy -log pi falls below the target).
        alpha_loss = torch.zeros((), device=self.device)
        if self.alpha_optimizer is not None:
            alpha_loss = -(self.log_alpha * (pi.log_prob.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optimizer.step()

        # Alg. 1, "update target network weights": theta' <- tau theta + (1 - tau) theta'
        polyak_update_(self.critic_target, self.critic, cfg.tau)
        self.num_updates += 1
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "alpha_loss": alpha_loss.detach(), "alpha": alpha, "entropy": -pi.log_prob.detach().mean()}

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
        """The Adams by their state_dict part name (no alpha_optimizer when alpha is fixed)."""
        optimizers = {"critic_optimizer": self.critic_optimizer, "actor_optimizer": self.actor_optimizer}
        if self.alpha_optimizer is not None:
            optimizers["alpha_optimizer"] = self.alpha_optimizer
        return optimizers

    def arch(self, env_id: str | None = None) -> dict[str, Any]:
        """Plain-data description to rebuild this agent (stored in checkpoints)."""
        return {
            "algo": "sac",
            "env_id": env_id,
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "hidden": list(self.config.hidden),
            "num_critics": self.config.num_critics,
            "log_std_bounds": list(self.config.log_std_bounds),
            "action_low": self.action_scale.low.tolist(),
            "action_high": self.action_scale.high.tolist(),
        }


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_agent(agent: SAC, path: str | Path, *, env_id: str, meta: dict[str, Any] | None = None) -> Path:
    """Save the networks and temperature (no buffer, no optimizer) with ``save_checkpoint``."""
    from peach_lite.checkpoints import save_checkpoint

    state = agent.state_dict(include_optimizer=False)
    state.pop("counters")
    return save_checkpoint(path, state, arch=agent.arch(env_id), meta=meta)


def load_agent(path: str | Path, device: torch.device | str | None = None) -> tuple[SAC, dict[str, Any]]:
    """Rebuild a SAC agent from a checkpoint written by :func:`save_agent`; returns (agent, payload)."""
    from peach_lite.checkpoints import CheckpointError, load_checkpoint

    payload = load_checkpoint(path)
    arch = payload["arch"]
    if arch.get("algo") != "sac":
        raise CheckpointError(f"{path}: not a SAC checkpoint (algo={arch.get('algo')!r})")
    config = SACConfig(hidden=tuple(arch["hidden"]), num_critics=arch["num_critics"], log_std_bounds=tuple(arch["log_std_bounds"]),
                       buffer_size=1)
    agent = SAC(arch["obs_dim"], arch["action_dim"], config, action_low=arch["action_low"], action_high=arch["action_high"],
                device=device)
    try:
        agent.load_state_dict(payload["state"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{path}: state does not fit a SAC agent: {str(error).splitlines()[0]}") from None
    return agent, payload


EVAL_SEED = 12_345
"""Seed of the first fixed evaluation episode of checkpoints."""


def evaluate_checkpoint(path: str | Path, num_episodes: int = 5) -> float:
    """Mean deterministic return of a saved SAC agent on its env, episodes seeded EVAL_SEED + i.

    Used by ``data/MANIFEST.json`` (``tests/test_manifest.py``) to re-check the recorded score.
    """
    agent, payload = load_agent(path, device="cpu")
    env = make_env(payload["arch"]["env_id"])
    try:
        return float(evaluate(agent, env, num_episodes, seed=EVAL_SEED).mean())
    finally:
        env.close()


# ---------------------------------------------------------------------------------------------
# Command line: python -m peach_lite.sac --env Pendulum-v1 --steps 15000 --seed 0 --out data/checkpoints/sac_pendulum.pt


def main(argv: Sequence[str] | None = None) -> float:
    """Train SAC on an env, save a checkpoint, and record it in data/MANIFEST.json; returns the score."""
    parser = argparse.ArgumentParser(prog="python -m peach_lite.sac", description=main.__doc__)
    parser.add_argument("--env", default="Pendulum-v1", help="gymnasium id (peach_lite/... ids are registered on demand)")
    parser.add_argument("--steps", type=int, default=15_000, help="environment steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--eval-every", type=int, default=1000, help="steps between evaluations (learning curve)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice); fixes the float summation order")
    parser.add_argument("--tolerance", type=float, default=25.0, help="manifest: allowed shortfall when re-evaluated")
    parser.add_argument("--no-record", action="store_true", help="do not write data/MANIFEST.json")
    args = parser.parse_args(argv)

    from peach_lite.seeding import seed_everything

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    env = make_env(args.env)
    agent = SAC.from_env(env, SACConfig(hidden=tuple(args.hidden), seed=args.seed))
    history: History = train_off_policy(agent, env, LoopConfig(total_steps=args.steps, eval_every=args.eval_every,
                                                               eval_episodes=5, seed=args.seed))
    meta = {"steps": args.steps, "seed": args.seed, "config": _plain(asdict(agent.config)), "history": history.to_dict()}
    path = save_agent(agent, args.out, env_id=args.env, meta=meta)
    score = evaluate_checkpoint(path)
    print(f"{path}: mean deterministic return {score:.2f} over 5 episodes (seeds {EVAL_SEED}..{EVAL_SEED + 4})")
    if not args.no_record:
        from peach_lite.checkpoints import record_in_manifest

        command = "python -m peach_lite.sac " + shlex.join(sys.argv[1:] if argv is None else list(argv))
        record_in_manifest(path, command=command, seed=args.seed, score_name="mean_return", score=score,
                           evaluate="peach_lite.sac:evaluate_checkpoint", tolerance=args.tolerance)
    return score


# ---------------------------------------------------------------------------------------------
# Private helpers


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, inf], got {value!r}")
    check_range(name, value, low)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Kept for modules written against the first version of this file; use the public names in peach_lite.nets.
_flatten_optimizer_state = optimizer_state_flat
_load_flat_optimizer_state = load_optimizer_state_flat


if __name__ == "__main__":
    main()
