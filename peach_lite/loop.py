"""The one training loop of the package: every algorithm in the course trains through :func:`train`.

Each round: collect data through the runner (:mod:`peach_lite.runner`: steps, whole episodes, or the
agent's own ``collect_round`` schedule), ``learn``, evaluate every ``eval_every`` rounds; callbacks,
a progress bar and a safe interrupt. It records the package's one :class:`History`. :func:`evaluate`
runs greedy episodes on given tasks. The runner's names are re-exported here for convenience.

Taught in notebooks/04_sac.py (section "The training loop").
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from peach_lite.runner import (Agent, Episodes, GymTaskEnvs, Obs, PolicyAgent, Runner, Step, TaskBatch, TaskEnvs,
                               run_episodes)
from peach_lite.validation import check_int

__all__ = [
    "TrainConfig", "History", "Callback", "train", "evaluate", "interrupts_deferred",
    # from peach_lite.runner
    "Obs", "Step", "TaskBatch", "TaskEnvs", "GymTaskEnvs", "Agent", "PolicyAgent", "Episodes", "run_episodes", "Runner",
]


# ============================================================================================ training
@dataclass
class TrainConfig:
    """How long to train, how data is collected between learning phases, and how often to evaluate.

    Defaults follow stable-baselines3's off-policy defaults (one step, one update). HAC uses
    ``episodes_per_round=1, updates_per_round=...``; PEARL's ``collect_round`` ignores the collection fields.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    total_steps: int = 10_000
    """Stop once this many environment steps (over all envs) were taken in this call; 0 with ``rounds``."""
    rounds: int = 0
    """Or stop after this many rounds (0: no limit; then total_steps decides)."""
    steps_per_round: int = 1
    """Lockstep steps collected per round through :meth:`Runner.step` (ignored when episodes_per_round > 0)."""
    episodes_per_round: int = 0
    """Whole episodes collected per round (0: collect steps instead)."""
    updates_per_round: int = 1
    """``agent.learn(updates_per_round)`` after each round once warm-up is over (SB3 ``gradient_steps``)."""
    warmup_steps: int = 100
    """First environment steps use uniformly random actions and no learning (SB3 ``learning_starts``)."""
    eval_every: int = 0
    """Evaluate every this many rounds (0: only at the end)."""
    eval_episodes: int = 5
    """Episodes per task per evaluation (0: never evaluate)."""
    log_every: int = 250
    """Record losses every this many gradient steps (converting tensors to floats costs time)."""
    seed: int = 0
    """Seeds the evaluation episodes (the runner's own seed drives tasks and warm-up actions)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self):
        for name, low in [("total_steps", 0), ("rounds", 0), ("steps_per_round", 1), ("episodes_per_round", 0),
                          ("updates_per_round", 0), ("warmup_steps", 0), ("eval_every", 0), ("eval_episodes", 0),
                          ("log_every", 1), ("seed", 0)]:
            check_int(name, getattr(self, name), low)
        if self.total_steps == 0 and self.rounds == 0:
            raise ValueError("total_steps or rounds must be > 0 (both are 0: nothing to train)")
        if self.rounds == 0 and self.updates_per_round > 0 and self.total_steps <= self.warmup_steps:
            raise ValueError(f"warmup_steps must be < total_steps, got warmup_steps={self.warmup_steps} >= "
                             f"total_steps={self.total_steps}: training would take no gradient step")


@dataclass
class History:
    """What happened during training, as plain lists ready for plotting. The one History of the package.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    steps: list[int] = field(default_factory=list)
    """Environment steps so far at the end of each collected episode (or round)."""
    returns: list[float] = field(default_factory=list)
    """Undiscounted return of each collected episode (exploration included)."""
    wall_time: list[float] = field(default_factory=list)
    """Seconds since training started, at each entry of ``steps``."""
    eval_steps: list[int] = field(default_factory=list)
    """Environment steps at each evaluation."""
    eval_values: list[float] = field(default_factory=list)
    """The evaluation's score (its name is ``eval_metric``)."""
    eval_std: list[float] = field(default_factory=list)
    """Spread of the evaluation score over episodes or tasks."""
    eval_metric: str = "return"
    """What ``eval_values`` measures: "return", "success" or "final-trajectory return"."""
    loss_steps: list[int] = field(default_factory=list)
    """Environment steps at each loss record."""
    losses: dict[str, list[float]] = field(default_factory=dict)
    """``{name: values}`` from ``agent.learn``, one value per record."""
    extra: dict[str, list[float]] = field(default_factory=dict)
    """Per-round series an algorithm adds through a callback (e.g. HAC's training success)."""
    total_steps: int = 0
    """Environment steps taken so far (over every call that shared this History)."""
    episodes: int = 0
    """Episodes finished so far."""
    rounds: int = 0
    """Collection rounds so far."""
    num_updates: int = 0
    """Gradient steps taken so far."""
    elapsed: float = 0.0
    """Seconds spent inside :func:`train`."""
    interrupted: bool = False
    """True when the last call stopped on KeyboardInterrupt (or a callback asked to stop)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers), e.g. for a checkpoint's ``meta``."""
        return asdict(self)

    def first_reaching(self, level: float) -> float:
        """Environment steps at the first evaluation whose value is >= ``level`` (inf if none)."""
        return next((float(s) for s, v in zip(self.eval_steps, self.eval_values) if v >= level), float("inf"))

    def plot(self, ax=None, label: str | None = None, oracle: float | None = None):
        """Training returns (dots) and evaluation values (line) against environment steps; oracle dashed."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        if self.steps and self.eval_metric == "return":
            ax.plot(self.steps, self.returns, ".", alpha=0.35, label=f"{label or 'train'} (episodes)")
        if self.eval_steps:
            ax.plot(self.eval_steps, self.eval_values, "o-", label=f"{label or 'eval'} (greedy)")
        if oracle is not None:
            ax.axhline(oracle, color="k", linestyle="--", label="oracle")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"evaluation {self.eval_metric}")
        ax.legend()
        return ax


Callback = Callable[[int, Any, History], "bool | None"]
"""``callback(round, agent, history)`` after every round; returning True stops training."""

Evaluator = Callable[[Any], tuple[float, float]]
"""``evaluator(agent) -> (score, spread)``; the default runs :func:`evaluate` on the training tasks."""


def train(agent: Agent, runner: Runner, config: TrainConfig | None = None, *, evaluator: Evaluator | None = None,
          eval_metric: str = "return", callbacks: Sequence[Callback] = (), history: History | None = None) -> History:
    """The training loop of every algorithm: collect a round, learn, evaluate now and then.

    Each round: ``agent.collect_round(runner, round)`` if the agent has one (PEARL), else
    ``episodes_per_round`` whole episodes on drawn tasks (HAC, on-policy learners) or
    ``steps_per_round`` :meth:`Runner.step` calls (random actions during warm-up; SAC, TD3); then
    ``agent.learn(updates_per_round)`` once ``warmup_steps`` have been taken. Every ``eval_every`` rounds
    (at the next episode boundary when collecting single steps), and at the end, ``evaluator(agent)`` (default: ``config.eval_episodes`` greedy episodes on each
    training task, with the runner's own envs, so evaluation always runs the task that was trained).

    Args:
        agent: an :class:`Agent`.
        runner: a :class:`Runner` over the training envs and tasks.
        config: :class:`TrainConfig`.
        evaluator: a custom evaluation (e.g. PEARL's meta-test); returns (score, spread).
        eval_metric: the name of the evaluation score in the History.
        callbacks: see :data:`Callback`; a callback may raise KeyboardInterrupt to simulate Ctrl-C.
        history: a History from an earlier (e.g. interrupted) call, to continue it.
    Returns:
        The History (``interrupted=True`` if stopped early). After an interrupt the agent and its
        buffers hold every completed step, and no update is half-applied: Ctrl-C during ``learn`` is
        held back until ``learn`` returns (:func:`interrupts_deferred`).

    Taught in notebooks/04_sac.py (section "The training loop").
    """
    config = config or TrainConfig()
    history = history if history is not None else History(eval_metric=eval_metric)
    history.interrupted = False
    evaluator = evaluator or (lambda a: _default_evaluation(a, runner, config))
    start_steps, start_round = history.total_steps, history.rounds
    started, elapsed_before = time.perf_counter(), history.elapsed
    total = config.rounds if config.rounds else config.total_steps
    bar = tqdm(total=total, desc=type(agent).__name__, disable=not config.progress, leave=False)
    evaluated_at, eval_due = -1, False
    try:
        while True:
            done_steps = history.total_steps - start_steps
            done_rounds = history.rounds - start_round
            if (config.rounds and done_rounds >= config.rounds) or (not config.rounds and done_steps >= config.total_steps):
                break
            # 1. collect one round of data
            warm = history.total_steps < config.warmup_steps
            if hasattr(agent, "collect_round"):
                episodes = agent.collect_round(runner, history.rounds)
                new_steps = episodes.num_steps
            elif config.episodes_per_round:
                parts = [runner.run_episodes(agent, runner.draw_tasks(), explore=True) for _ in range(config.episodes_per_round)]
                episodes = Episodes.concatenate(parts)
                new_steps = episodes.num_steps
            else:
                new_steps = 0
                for _ in range(config.steps_per_round):
                    step = runner.step(agent, random_actions=history.total_steps + new_steps < config.warmup_steps)
                    new_steps += int(step.mask.sum())
                episodes = runner.pop_finished()
            history.total_steps += new_steps
            history.rounds += 1
            for ret in episodes.returns:
                history.episodes += 1
                history.steps.append(history.total_steps)
                history.returns.append(float(ret))
                history.wall_time.append(elapsed_before + time.perf_counter() - started)
            if len(episodes.returns):
                bar.set_postfix(episode_return=f"{float(np.mean(episodes.returns)):.2f}", refresh=False)
            # 2. learn once warm-up is over
            if not warm and config.updates_per_round:
                with interrupts_deferred():
                    losses = agent.learn(config.updates_per_round)
                before = history.num_updates
                if losses:
                    history.num_updates += config.updates_per_round
                    if history.num_updates // config.log_every > before // config.log_every:
                        history.loss_steps.append(history.total_steps)
                        for name, value in losses.items():
                            history.losses.setdefault(name, []).append(float(value))
            # 3. evaluate now and then, between episodes (an evaluation must not cut into a running
            #    training episode: it would reset the agent's episode state, e.g. greedy vs exploring)
            if config.eval_every and config.eval_episodes and history.rounds % config.eval_every == 0:
                eval_due = True
            if eval_due and not runner.in_episode:
                _record_eval(agent, evaluator, history)
                evaluated_at, eval_due = history.rounds, False
            bar.update(1 if config.rounds else min(new_steps, max(0, total - (history.total_steps - new_steps - start_steps))))
            if any(callback(history.rounds, agent, history) for callback in callbacks):
                history.interrupted = True
                break
        if not history.interrupted and config.eval_episodes and evaluated_at != history.rounds:
            _record_eval(agent, evaluator, history)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted after {history.total_steps} steps: the agent and its buffers are usable; "
              "pass history=... to train to continue.")
    finally:
        bar.close()
        history.elapsed = elapsed_before + time.perf_counter() - started
    return history


def evaluate(agent: Agent, envs: TaskEnvs | gym.Env, tasks: TaskBatch | Sequence[Any] | None = None, *,
             num_episodes: int = 5, seed: int | None = None) -> Episodes:
    """Greedy episodes (``explore=False``) on every task, ``num_episodes`` times, all tasks in lockstep.

    Args:
        envs: the envs (a single gymnasium env is wrapped).
        tasks: a TaskBatch, a list of task objects (split "test"), or None (the env's own task).
        num_episodes: episodes per task.
        seed: episode j resets env i with ``seed + j * n + i`` (fixed start states); None continues each env's RNG.
    Returns:
        :class:`Episodes` with ``num_episodes * len(tasks)`` entries (episode-major).

    Taught in notebooks/04_sac.py (section "The training loop").
    """
    check_int("num_episodes", num_episodes, 1)
    if seed is not None:
        check_int("seed", seed, 0)
    if isinstance(envs, gym.Env):
        envs = GymTaskEnvs.wrap(envs)
        envs._seeded = [True]
    if tasks is None:
        tasks = TaskBatch.single(None)
    elif not isinstance(tasks, TaskBatch):
        tasks = TaskBatch.from_list(list(tasks), split="test")
    with torch.no_grad():
        n = len(tasks)
        return Episodes.concatenate([run_episodes(agent, envs, tasks, explore=False, seed=None if seed is None else seed + j * n)
                                     for j in range(num_episodes)])


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back until the block ends, then raise KeyboardInterrupt.

    A learner that steps several optimizers in turn (SAC: critics, actor, temperature) is then never
    stopped between two of them. Outside the main thread (where signals cannot be caught) it does nothing.

    Taught in notebooks/04_sac.py (section "The training loop").
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


# ============================================================================================ helpers
def _default_evaluation(agent: Agent, runner: Runner, config: TrainConfig) -> tuple[float, float]:
    tasks = runner.draw_tasks(1) if runner.tasks is None else TaskBatch.from_list(runner.tasks)
    if runner.eval_envs is None:
        runner.eval_envs = _eval_copy(runner.envs, config.seed)
    result = evaluate(agent, runner.eval_envs, tasks, num_episodes=config.eval_episodes, seed=config.seed + 10_000)
    return float(result.returns.mean()), float(result.returns.std())


def _eval_copy(envs: TaskEnvs, seed: int) -> TaskEnvs:
    """Separate envs for evaluation, so evaluation resets never change the training envs' random starts."""
    if isinstance(envs, GymTaskEnvs) and envs._factory is None:
        env = envs.envs[0]
        if env.spec is None:  # no way to copy it: evaluate on the training env itself, between episodes
            return envs
        return GymTaskEnvs(lambda: gym.make(env.spec), 1, seed=seed)
    if isinstance(envs, GymTaskEnvs):
        return GymTaskEnvs(envs._factory, envs.num_envs, seed=seed)
    return envs


def _record_eval(agent: Agent, evaluator: Evaluator, history: History) -> None:
    score, spread = evaluator(agent)
    history.eval_steps.append(history.total_steps)
    history.eval_values.append(float(score))
    history.eval_std.append(float(spread))

