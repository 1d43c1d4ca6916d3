"""The one off-policy training and evaluation loop shared by every agent (SAC, TD3, and their descendants).

An agent only has to implement the small :class:`OffPolicyAgent` protocol::

    act(obs, deterministic=False) -> action           # (obs_dim,) tensor -> (action_dim,) tensor, env units
    observe(obs, action, reward, next_obs, terminated)  # store one transition
    update() -> dict[str, Tensor]                     # one gradient step; detached 0-d loss tensors
    state_dict() / load_state_dict(state)

and :func:`train_off_policy` does the rest: uniform-random warm-up steps, environment stepping, storing,
``updates_per_step`` gradient steps per environment step, periodic deterministic evaluation, a
progress bar, and a :class:`History` for plotting. Pressing *interrupt* in a notebook stops the
loop cleanly: the agent and its buffer stay usable and the partial History is returned (pass it
back as ``history=`` to continue where you stopped).

Taught in notebooks/04_sac.py (section "The training loop").
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from peach_lite.validation import check_range

__all__ = ["OffPolicyAgent", "LoopConfig", "History", "train_off_policy", "evaluate", "run_episode", "make_env", "Callback"]


@runtime_checkable
class OffPolicyAgent(Protocol):
    """What :func:`train_off_policy` and :func:`evaluate` need from an agent.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """obs (obs_dim,) float32 CPU tensor -> action (action_dim,) CPU tensor in the env's units."""

    def observe(self, obs: Tensor, action: Tensor, reward: float, next_obs: Tensor, terminated: bool) -> None:
        """Store one transition (``terminated`` excludes time-limit truncation)."""

    def update(self) -> dict[str, Tensor]:
        """One gradient step; returns detached 0-d tensors (converted to floats only when logged)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class LoopConfig:
    """How long to train and how often to evaluate; defaults follow stable-baselines3's off-policy defaults.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    total_steps: int = 10_000
    """Environment steps to take in this call (SB3 ``total_timesteps``)."""
    warmup_steps: int = 100
    """First steps use uniformly random actions and no updates (SB3 ``learning_starts`` = 100)."""
    updates_per_step: int = 1
    """Gradient steps after every environment step once warm-up is over (SB3 ``gradient_steps`` = 1)."""
    eval_every: int = 0
    """Evaluate the deterministic policy every this many steps (0: only at the end, if eval_episodes > 0)."""
    eval_episodes: int = 5
    """Episodes per evaluation (0: never evaluate)."""
    seed: int = 0
    """Seeds the first ``env.reset``, the warm-up actions and the evaluation episodes."""
    log_every: int = 250
    """Record the update's losses every this many gradient steps (converting tensors to floats costs time)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self):
        for name, low in [("total_steps", 0), ("warmup_steps", 0), ("updates_per_step", 1), ("eval_every", 0),
                          ("eval_episodes", 0), ("log_every", 1)]:
            _check_int(name, getattr(self, name), low)
        _check_int("seed", self.seed, 0)


@dataclass
class History:
    """What happened during training, as plain lists ready for plotting.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    steps: list[int] = field(default_factory=list)
    """Environment step at which each training episode ended."""
    returns: list[float] = field(default_factory=list)
    """Undiscounted return of each training episode (exploration noise included)."""
    wall_time: list[float] = field(default_factory=list)
    """Seconds since training started, at the end of each training episode."""
    eval_steps: list[int] = field(default_factory=list)
    """Environment step of each evaluation."""
    eval_returns: list[float] = field(default_factory=list)
    """Mean deterministic return of each evaluation."""
    eval_std: list[float] = field(default_factory=list)
    """Standard deviation of the evaluation returns."""
    loss_steps: list[int] = field(default_factory=list)
    """Environment step of each loss record."""
    losses: dict[str, list[float]] = field(default_factory=dict)
    """``{name: values}`` from ``agent.update()``, one value per record."""
    total_steps: int = 0
    """Environment steps taken so far (over every call that shared this History)."""
    num_updates: int = 0
    """Gradient steps taken so far."""
    elapsed: float = 0.0
    """Seconds spent inside :func:`train_off_policy`."""
    interrupted: bool = False
    """True when the last call stopped on KeyboardInterrupt (or a callback asked to stop)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers), e.g. for a checkpoint's ``meta``."""
        return asdict(self)

    def plot(self, ax=None, label: str | None = None, oracle: float | None = None):
        """Training returns (dots) and evaluation returns (line) against environment steps."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        if self.steps:
            ax.plot(self.steps, self.returns, ".", alpha=0.35, label=f"{label or 'train'} (episodes)")
        if self.eval_steps:
            ax.plot(self.eval_steps, self.eval_returns, "o-", label=f"{label or 'eval'} (deterministic)")
        if oracle is not None:
            ax.axhline(oracle, color="k", linestyle="--", label="oracle")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episode return")
        ax.legend()
        return ax


Callback = Callable[[int, "OffPolicyAgent", History], "bool | None"]
"""``callback(step, agent, history)`` runs after every environment step; returning True stops training."""


def train_off_policy(
    agent: OffPolicyAgent,
    env: gym.Env,
    config: LoopConfig | None = None,
    *,
    eval_env: gym.Env | None = None,
    callbacks: Sequence[Callback] = (),
    history: History | None = None,
) -> History:
    """Train ``agent`` on ``env`` for ``config.total_steps`` environment steps.

    Each step: act (uniformly at random during warm-up), step the env, ``agent.observe`` the
    transition (terminated, not truncated, marks a terminal state), then ``updates_per_step`` calls to
    ``agent.update()`` once the warm-up is over. Evaluations run the deterministic policy on
    ``eval_env`` (default: ``env``'s spec re-made) with episodes seeded ``seed + 10_000 + i``.

    Args:
        agent: anything implementing :class:`OffPolicyAgent`.
        env: a gymnasium env with a Box action space.
        config: :class:`LoopConfig` (defaults: SB3's).
        eval_env: separate env for evaluation, so evaluation never disturbs the training episode.
        callbacks: see :data:`Callback`; a callback may raise KeyboardInterrupt (tests do) to simulate Ctrl-C.
        history: a History from an earlier (e.g. interrupted) call, to continue it.
    Returns:
        The History (``interrupted=True`` if stopped early). After an interrupt the agent and its
        buffer are consistent: the buffer holds every completed step, no update is half-applied.

    Taught in notebooks/04_sac.py (section "The training loop").
    """
    config = config or LoopConfig()
    if not isinstance(env.action_space, gym.spaces.Box):
        raise ValueError(f"env.action_space must be a gymnasium.spaces.Box, got {env.action_space}")
    history = history if history is not None else History()
    continuing = history.total_steps > 0
    history.interrupted = False
    low = torch.as_tensor(env.action_space.low, dtype=torch.float32)
    high = torch.as_tensor(env.action_space.high, dtype=torch.float32)
    warmup_rng = torch.Generator().manual_seed(config.seed + history.total_steps)
    if config.eval_episodes and eval_env is None:
        eval_env = _remake(env)

    start_step, end_step = history.total_steps, history.total_steps + config.total_steps
    obs_np, _ = env.reset(seed=None if continuing else config.seed)
    obs = torch.as_tensor(obs_np, dtype=torch.float32)
    episode_return, started = 0.0, time.perf_counter()
    elapsed_before = history.elapsed
    bar = tqdm(total=config.total_steps, desc=type(agent).__name__, disable=not config.progress, leave=False)
    try:
        for step in range(start_step, end_step):
            # 1. act: uniform random during warm-up (explores the whole box), the agent's policy after
            if step < config.warmup_steps:
                action = low + (high - low) * torch.rand(low.shape, generator=warmup_rng)
            else:
                action = agent.act(obs)
            # 2. step the environment and store the transition
            next_obs_np, reward, terminated, truncated, _ = env.step(action.numpy())
            next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32)
            agent.observe(obs, action, float(reward), next_obs, bool(terminated))
            history.total_steps = step + 1
            episode_return += float(reward)
            obs = next_obs
            if terminated or truncated:
                history.steps.append(step + 1)
                history.returns.append(episode_return)
                history.wall_time.append(elapsed_before + time.perf_counter() - started)
                bar.set_postfix(episode_return=f"{episode_return:.1f}", refresh=False)
                episode_return = 0.0
                obs = torch.as_tensor(env.reset()[0], dtype=torch.float32)
            # 3. learn: updates_per_step gradient steps once warm-up is over (SB3: after step learning_starts)
            if step + 1 > config.warmup_steps:
                for _ in range(config.updates_per_step):
                    losses = agent.update()
                    history.num_updates += 1
                    if history.num_updates % config.log_every == 0:
                        history.loss_steps.append(step + 1)
                        for name, value in losses.items():
                            history.losses.setdefault(name, []).append(float(value))
            # 4. evaluate now and then
            if config.eval_every and config.eval_episodes and (step + 1) % config.eval_every == 0:
                _record_eval(agent, eval_env, config, history, step + 1)
            bar.update(1)
            if any(callback(step + 1, agent, history) for callback in callbacks):
                history.interrupted = True
                break
        else:
            if config.eval_episodes and (not history.eval_steps or history.eval_steps[-1] != end_step):
                _record_eval(agent, eval_env, config, history, end_step)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted at step {history.total_steps}: the agent and its buffer are usable; "
              "pass history=... to train_off_policy to continue.")
    finally:
        bar.close()
        history.elapsed = elapsed_before + time.perf_counter() - started
    return history


def evaluate(agent: OffPolicyAgent, env: gym.Env, num_episodes: int = 5, seed: int = 0) -> np.ndarray:
    """Returns of ``num_episodes`` deterministic episodes; episode i is reset with seed ``seed + i``.

    Returns:
        (num_episodes,) float array of undiscounted returns.

    Taught in notebooks/04_sac.py (section "The training loop").
    """
    _check_int("num_episodes", num_episodes, 1)
    _check_int("seed", seed, 0)
    return np.array([run_episode(agent, env, seed=seed + i)[0] for i in range(num_episodes)])


def run_episode(
    agent: OffPolicyAgent, env: gym.Env, *, seed: int | None = None, deterministic: bool = True, max_steps: int | None = None
) -> tuple[float, int]:
    """Run one episode without storing anything; returns (undiscounted return, length)."""
    obs, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    with torch.no_grad():
        while not done and (max_steps is None or length < max_steps):
            action = agent.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action.numpy())
            total += float(reward)
            length += 1
            done = terminated or truncated
    return total, length


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id)``, first registering peach_lite's own envs when ``env_id`` starts with ``peach_lite/``."""
    if env_id.startswith("peach_lite/"):
        import peach_lite.envs  # noqa: F401  (registers the envs)
    return gym.make(env_id, **kwargs)


# ---------------------------------------------------------------------------------------------
# Private helpers


def _record_eval(agent: OffPolicyAgent, env: gym.Env, config: LoopConfig, history: History, step: int) -> None:
    returns = evaluate(agent, env, config.eval_episodes, seed=config.seed + 10_000)
    history.eval_steps.append(step)
    history.eval_returns.append(float(returns.mean()))
    history.eval_std.append(float(returns.std()))


def _remake(env: gym.Env) -> gym.Env:
    if env.spec is None:
        raise ValueError("env has no spec to re-make an evaluation env from: pass eval_env=... explicitly")
    return gym.make(env.spec)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, inf], got {value!r}")
    check_range(name, value, low)
