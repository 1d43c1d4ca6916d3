"""The runner: n task environments stepped in lockstep, and the one agent protocol that drives them.

* :class:`TaskEnvs` steps ``n`` environments in lockstep, one task each, and reports both reward
  channels (the env's ``reward``, plus ``dense_reward``/``sparse_reward`` where the env gives both).
  :class:`GymTaskEnvs` is the list-of-gymnasium-envs version; batched simulators (numpy or torch,
  ``peach_lite.envs.task_families``) implement the same members.
* :class:`Agent` is the protocol every algorithm implements: ``begin_episode(tasks, explore=...)``
  (draw z, reset goal stacks or recurrent state), ``act(obs)``, ``observe(step)``, ``end_episode()``
  (hindsight relabelling, posterior refresh) and ``learn(num_updates)``. :class:`PolicyAgent` wraps
  any fixed policy (an oracle, another library's model).
* :func:`run_episodes` runs one episode on every env (each env stops at its own end; finished envs are
  masked until all are done): the one episode driver. :class:`Runner` keeps a lockstep episode going
  across calls for agents that learn between single environment steps (SAC, TD3).

The training loop that uses them is :mod:`peach_lite.loop`.

Taught in notebooks/04_sac.py (section "The training loop"); the episode hooks in 05 (PEARL) and 07 (HAC).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from peach_lite.validation import check_choice, check_int

__all__ = ["Obs", "Step", "TaskBatch", "TaskEnvs", "GymTaskEnvs", "Agent", "PolicyAgent", "Episodes", "run_episodes", "Runner",
           "distinct_waves"]

Obs = Tensor | dict[str, Tensor]
"""An observation batch: ``(n, obs_dim)``, or a dict of ``(n, ...)`` tensors for goal-conditioned envs."""


def distinct_waves(tasks: Sequence[int]) -> list[list[int]]:
    """Split task ids drawn with replacement into waves of distinct ids (order kept): the lockstep batches in which
    PEARL and PEACH collect (a task drawn twice runs again in a later wave). ``[3, 1, 3] -> [[3, 1], [3]]``.

    Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
    """
    waves: list[list[int]] = []
    for task in tasks:
        for wave in waves:
            if task not in wave:
                wave.append(task)
                break
        else:
            waves.append([task])
    return waves


# ============================================================================================ data
@dataclass(frozen=True)
class TaskBatch:
    """Which task each of the ``n`` lockstep envs runs.

    Taught in notebooks/05_pearl.py (section "Meta-training").
    """

    ids: Tensor
    """(n,) int64 index of each task in its split's list (the key of per-task buffers when split == "train")."""
    values: tuple[Any, ...]
    """(n,) the task objects passed to ``env.reset(options={"task": ...})`` (None: the env's own task)."""
    split: str = "train"
    """"train", "test" or "other" (e.g. an out-of-distribution set); agents store data only for "train"."""

    def __post_init__(self):
        check_choice("split", self.split, ["train", "test", "other"])
        if self.ids.ndim != 1 or len(self.ids) != len(self.values):
            raise ValueError(f"ids must be (n,) with one entry per task value, got {tuple(self.ids.shape)} and {len(self.values)} values")

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def from_list(cls, tasks: Sequence[Any], indices: Sequence[int] | None = None, split: str = "train") -> "TaskBatch":
        """``tasks[i] for i in indices`` (default: all of them, in order)."""
        indices = list(range(len(tasks))) if indices is None else [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < len(tasks):
                raise ValueError(f"task index must be in [0, {len(tasks) - 1}], got {i}")
        return cls(torch.as_tensor(indices, dtype=torch.long), tuple(tasks[i] for i in indices), split)

    @classmethod
    def single(cls, task: Any = None, split: str = "train") -> "TaskBatch":
        """One env running ``task`` (None: the env's own task, e.g. Pendulum)."""
        return cls(torch.zeros(1, dtype=torch.long), (task,), split)


@dataclass(frozen=True)
class Step:
    """One lockstep transition of ``n`` envs; every field has leading dimension n.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    obs: Obs
    """(n, obs_dim) or a dict of (n, ...): the observation the action was chosen from."""
    action: Tensor
    """(n, action_dim) the action applied, in the env's units."""
    reward: Tensor
    """(n,) the env's reward."""
    dense_reward: Tensor
    """(n,) ``info["dense_reward"]`` where the env reports it, else the reward (what PEARL's SAC learns from)."""
    sparse_reward: Tensor
    """(n,) ``info["sparse_reward"]`` where the env reports it, else the reward (what PEARL's context sees)."""
    next_obs: Obs
    """(n, obs_dim) or a dict: the observation after the step (before any reset)."""
    terminated: Tensor
    """(n,) bool: a terminal state (bootstrapping stops); time-limit truncation is not terminal."""
    truncated: Tensor
    """(n,) bool: the time limit ended the episode."""
    mask: Tensor
    """(n,) bool: the env was still running; rows with False are padding and must be ignored."""
    success: Tensor
    """(n,) bool: ``info["is_success"]`` (False where the env does not report it)."""


# ============================================================================================ envs
@runtime_checkable
class TaskEnvs(Protocol):
    """``n`` environments stepped in lockstep, one task each. What :func:`run_episodes` needs."""

    num_envs: int
    observation_space: gym.Space
    """The space of one env's observation."""
    action_space: gym.spaces.Box
    """The space of one env's action."""

    def reset(self, tasks: TaskBatch, seed: int | None = None) -> Obs:
        """Set task i on env i and reset (env i with ``seed + i`` when given); returns the first observations (n, ...)."""

    def step(self, action: np.ndarray, active: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step the ``active`` envs; returns next_obs, reward, dense, sparse, terminated, truncated, success (n, ...)."""


class GymTaskEnvs:
    """A list of gymnasium envs of one id (or factory), each running the task it was reset with.

    Args:
        env: an env id (``peach_lite/...`` ids are registered on demand) or a zero-argument factory.
        num_envs: how many envs; grows on demand when :meth:`reset` gets more tasks.
        seed: env i's first reset uses ``seed + i``; later resets continue its own RNG.
        env_kwargs: forwarded to ``envs.make``.

    Taught in notebooks/05_pearl.py (section "Meta-training").
    """

    def __init__(self, env: str | Callable[[], gym.Env], num_envs: int = 1, *, seed: int = 0, **env_kwargs: Any):
        check_int("num_envs", num_envs, 1)
        check_int("seed", seed, 0)
        if isinstance(env, str):
            from peach_lite.envs import make

            env_id = env
            self._factory: Callable[[], gym.Env] = lambda: make(env_id, **env_kwargs)
            self.env_id: str | None = env
        else:
            self._factory, self.env_id = env, None
        self.seed = int(seed)
        self.envs: list[gym.Env] = []
        self._seeded: list[bool] = []
        self._grow(num_envs)
        first = self.envs[0]
        if not isinstance(first.action_space, gym.spaces.Box):
            raise ValueError(f"env.action_space must be a gymnasium.spaces.Box, got {first.action_space}")
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self._last_obs: list[Any] = [None] * num_envs

    @classmethod
    def wrap(cls, env: gym.Env, seed: int = 0) -> "GymTaskEnvs":
        """Use an env that already exists (e.g. one a student built) as a single lockstep env."""
        envs = cls.__new__(cls)
        envs._factory, envs.env_id, envs.seed = None, getattr(env.spec, "id", None), int(seed)
        envs.envs, envs._seeded = [env], [False]
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ValueError(f"env.action_space must be a gymnasium.spaces.Box, got {env.action_space}")
        envs.observation_space, envs.action_space, envs._last_obs = env.observation_space, env.action_space, [None]
        return envs

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    @property
    def unwrapped(self) -> Any:
        """The first env's unwrapped env (its task API: ``train_tasks()``, ``test_tasks()``)."""
        return self.envs[0].unwrapped

    def reset(self, tasks: TaskBatch, seed: int | None = None) -> Obs:
        if self._factory is None and len(tasks) > 1:
            raise ValueError(f"a wrapped env runs one task at a time, got {len(tasks)} tasks")
        self._grow(len(tasks))
        self._active_n = len(tasks)
        first = []
        for i, task in enumerate(tasks.values):
            reset_seed = seed + i if seed is not None else (None if self._seeded[i] else self.seed + i)
            self._seeded[i] = True
            options = None if task is None else {"task": task}
            first.append(self.envs[i].reset(seed=reset_seed, options=options)[0])
        self._last_obs = first
        return _stack_obs(first)

    def step(self, action: np.ndarray, active: np.ndarray):
        n = self._active_n
        next_obs = list(self._last_obs)
        reward, dense, sparse = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
        terminated, truncated, success = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        for i in np.flatnonzero(active):
            obs, r, term, trunc, info = self.envs[i].step(action[i])
            next_obs[i] = obs
            reward[i] = r
            dense[i] = info.get("dense_reward", r)
            sparse[i] = info.get("sparse_reward", r)
            terminated[i], truncated[i] = term, trunc
            success[i] = bool(info.get("is_success", False))
        self._last_obs = next_obs
        return _stack_obs(next_obs), reward, dense, sparse, terminated, truncated, success

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _grow(self, n: int) -> None:
        if self._factory is None:
            return
        while len(self.envs) < n:
            self.envs.append(self._factory())
            self._seeded.append(False)


# ============================================================================================ agent
@runtime_checkable
class Agent(Protocol):
    """What :func:`run_episodes`, :class:`Runner`, :func:`train` and :func:`evaluate` need from an algorithm.

    ``n`` = envs stepped in lockstep, one task each. Agents that collect on a schedule of their own
    (PEARL's prior/posterior phases) may also define ``collect_round(runner, round_index) -> Episodes``,
    which :func:`train` then calls instead of its default collection. Agents whose own logic ends an
    episode early (HAC's top level after its H attempts) may define ``episode_over() -> (n,) bool``:
    :func:`run_episodes` and :class:`Runner` stop those envs after the step just observed.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """A new episode on ``tasks``: draw z, reset goal stacks or recurrent state; ``explore`` False = greedy."""

    def act(self, obs: Obs) -> Tensor:
        """(n, obs_dim) -> (n, action_dim) actions in the env's units (exploring or greedy as begun)."""

    def observe(self, step: Step) -> None:
        """Store or use one lockstep transition (rows with ``step.mask`` False are padding)."""

    def end_episode(self) -> None:
        """The episode is over for every env: hindsight relabelling, posterior refresh."""

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` gradient steps; returns the last step's detached 0-d losses ({} if it could not learn yet)."""


class PolicyAgent:
    """Any fixed policy (an oracle, a random policy, another library's model) as a non-learning :class:`Agent`.

    Args:
        policy: ``policy(obs) -> action`` for ONE observation (numpy in, array-like out, env units), or,
            with ``batched=True``, for a whole ``(n, obs_dim)`` numpy batch at once.
        batched: see ``policy``.

    Taught in notebooks/04_sac.py (section "A point robot").
    """

    def __init__(self, policy: Callable[[Any], Any], *, batched: bool = False):
        if not callable(policy):
            raise ValueError(f"policy must be callable obs -> action, got {policy!r}")
        self.policy, self.batched = policy, bool(batched)

    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Nothing to reset."""

    def act(self, obs: Obs) -> Tensor:
        """Apply ``policy`` to the batch, or row by row: (n, obs_dim) -> (n, action_dim)."""
        if self.batched:
            return torch.as_tensor(np.asarray(self.policy(obs.numpy()), np.float32))
        rows = obs.numpy() if isinstance(obs, Tensor) else [{k: v[i].numpy() for k, v in obs.items()}
                                                             for i in range(len(next(iter(obs.values()))))]
        return torch.as_tensor(np.stack([np.asarray(self.policy(row), np.float32) for row in rows]))

    def observe(self, step: Step) -> None:
        """Nothing is stored."""

    def end_episode(self) -> None:
        """Nothing to do."""

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """A fixed policy does not learn."""
        return {}


@dataclass
class Episodes:
    """What :func:`run_episodes` (or a whole collection round) saw.

    Taught in notebooks/05_pearl.py (section "Meta-testing").
    """

    returns: np.ndarray
    """(n,) undiscounted return of the env's reward per episode."""
    sparse_returns: np.ndarray
    """(n,) return of the sparse channel (equal to ``returns`` for single-channel envs)."""
    lengths: np.ndarray
    """(n,) steps per episode."""
    success: np.ndarray
    """(n,) bool: the env reported success at some step."""
    steps: list[Step] | None = None
    """Every lockstep :class:`Step` (when recorded), e.g. for trajectory pictures."""

    @property
    def num_steps(self) -> int:
        """Environment steps taken (over all envs)."""
        return int(self.lengths.sum())

    @staticmethod
    def concatenate(parts: Sequence["Episodes"]) -> "Episodes":
        """Episodes of several calls side by side (steps are dropped)."""
        if not parts:
            return Episodes(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool))
        return Episodes(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("returns", "sparse_returns", "lengths", "success")))

    def positions(self, key: str | None = None) -> np.ndarray:
        """(n, T + 1, dim) visited observations (``key`` selects a dict entry), NaN after an env's end."""
        if not self.steps:
            raise ValueError("positions need recorded steps: call run_episodes(..., record=True)")
        if key is None and isinstance(self.steps[0].obs, dict):
            raise ValueError(f"key: observations are dicts, pass one of {sorted(self.steps[0].obs)}")
        pick = (lambda o: o[key]) if key is not None else (lambda o: o)
        first = pick(self.steps[0].obs).numpy()
        out = np.full((first.shape[0], len(self.steps) + 1, first.shape[1]), np.nan, np.float32)
        out[:, 0] = first
        for t, step in enumerate(self.steps):
            mask = step.mask.numpy()
            out[mask, t + 1] = pick(step.next_obs).numpy()[mask]
        return out


def run_episodes(agent: Agent, envs: TaskEnvs, tasks: TaskBatch, *, explore: bool, record: bool = False,
                 max_steps: int | None = None, seed: int | None = None) -> Episodes:
    """One episode on each of ``len(tasks)`` envs in lockstep: the episode driver every algorithm uses.

    ``agent.begin_episode(tasks)``; then, until every env has ended: ``agent.act(obs)`` for all n rows,
    step the envs still running, ``agent.observe(step)`` (finished envs are masked); ``agent.end_episode()``.

    Args:
        explore: passed to ``begin_episode``: exploration noise and storing (True) or greedy (False).
        record: keep every :class:`Step` in the result.
        max_steps: stop after this many lockstep steps (the env's own time limit otherwise).
        seed: reset env i with ``seed + i`` (fixed start states); None continues each env's RNG.

    Taught in notebooks/05_pearl.py (section "Meta-training").
    """
    n = len(tasks)
    agent.begin_episode(tasks, explore=explore)
    obs = envs.reset(tasks, seed=seed)
    active = np.ones(n, bool)
    returns, sparse_returns = np.zeros(n), np.zeros(n)
    lengths, success = np.zeros(n, np.int64), np.zeros(n, bool)
    recorded: list[Step] = []
    t = 0
    while active.any() and (max_steps is None or t < max_steps):
        action = _check_action(agent.act(obs), n, envs.action_space)
        step = _step(envs, obs, action, active)
        agent.observe(step)
        mask = step.mask.numpy()
        returns += np.where(mask, step.reward.numpy(), 0.0)
        sparse_returns += np.where(mask, step.sparse_reward.numpy(), 0.0)
        lengths += mask
        success |= step.success.numpy() & mask
        active &= ~(step.terminated.numpy() | step.truncated.numpy()) & ~_agent_done(agent, n)
        if record:
            recorded.append(step)
        obs = step.next_obs
        t += 1
    agent.end_episode()
    return Episodes(returns, sparse_returns, lengths, success, recorded if record else None)


class Runner:
    """Lockstep episodes that continue across calls, for agents that learn between single steps (SAC, TD3).

    :meth:`step` takes one lockstep step (uniformly random actions when ``random_actions``, as in SAC's
    warm-up); when every env has ended it calls ``end_episode``, draws the next tasks and begins a new
    episode. :meth:`run_episodes` runs whole episodes on given tasks with the same envs.

    Args:
        envs: the :class:`TaskEnvs` (or one gymnasium env, wrapped).
        tasks: the training tasks (a list; each episode draws ``envs.num_envs`` of them), or None: the
            env's current task where it has the task API (``set_task`` before building the runner
            trains and evaluates on that task), else the env's own (e.g. Pendulum).
        seed: seeds the task draws and the random warm-up actions.

    Taught in notebooks/04_sac.py (section "The training loop").
    """

    def __init__(self, envs: TaskEnvs | gym.Env, tasks: Sequence[Any] | None = None, *, seed: int = 0):
        check_int("seed", seed, 0)
        self.envs: TaskEnvs = GymTaskEnvs.wrap(envs, seed) if isinstance(envs, gym.Env) else envs
        if tasks is None and getattr(self.envs, "num_envs", 1) == 1:
            current = getattr(getattr(self.envs, "unwrapped", None), "_task", None)
            tasks = None if current is None else [current]
        self.tasks = None if tasks is None else list(tasks)
        if self.tasks is not None and not self.tasks:
            raise ValueError("tasks must be a non-empty list (or None for an env without tasks)")
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        space = self.envs.action_space
        self._low = torch.as_tensor(space.low, dtype=torch.float32)
        self._high = torch.as_tensor(space.high, dtype=torch.float32)
        self._obs: Obs | None = None
        self._active = np.zeros(0, bool)
        self._current: TaskBatch | None = None
        self._returns = np.zeros(0)
        self._sparse = np.zeros(0)
        self._lengths = np.zeros(0, np.int64)
        self._success = np.zeros(0, bool)
        self.finished: list[Episodes] = []
        """Episodes that ended since :meth:`pop_finished` was last called."""
        self.eval_envs: TaskEnvs | None = None
        """Separate envs for the default evaluation of :func:`peach_lite.loop.train` (made on first use)."""

    def draw_tasks(self, n: int | None = None) -> TaskBatch:
        """``n`` (default: one per env) training tasks drawn uniformly with replacement."""
        n = self.envs.num_envs if n is None else n
        if self.tasks is None:
            return TaskBatch(torch.zeros(n, dtype=torch.long), (None,) * n)
        return TaskBatch.from_list(self.tasks, self.rng.integers(len(self.tasks), size=n).tolist())

    def step(self, agent: Agent, *, random_actions: bool = False) -> Step:
        """One lockstep step of exploring ``agent`` (beginning an episode first if none is running)."""
        if not self._active.any():
            self._begin(agent)
        n = len(self._active)
        if random_actions:
            action = self._low + (self._high - self._low) * torch.rand((n, *self._low.shape), generator=self.generator)
        else:
            action = _check_action(agent.act(self._obs), n, self.envs.action_space)
        step = _step(self.envs, self._obs, action, self._active)
        agent.observe(step)
        mask = step.mask.numpy()
        self._returns += np.where(mask, step.reward.numpy(), 0.0)
        self._sparse += np.where(mask, step.sparse_reward.numpy(), 0.0)
        self._lengths += mask
        self._success |= step.success.numpy() & mask
        self._active &= ~(step.terminated.numpy() | step.truncated.numpy()) & ~_agent_done(agent, n)
        self._obs = step.next_obs
        if not self._active.any():
            agent.end_episode()
            self.finished.append(Episodes(self._returns.copy(), self._sparse.copy(), self._lengths.copy(), self._success.copy()))
        return step

    def run_episodes(self, agent: Agent, tasks: TaskBatch, *, explore: bool, record: bool = False) -> Episodes:
        """Whole episodes on ``tasks`` (any episode :meth:`step` had running is abandoned first)."""
        self._active = np.zeros(0, bool)
        return run_episodes(agent, self.envs, tasks, explore=explore, record=record)

    @property
    def in_episode(self) -> bool:
        """True while a :meth:`step` episode is running (some env has not ended yet)."""
        return bool(self._active.any())

    def pop_finished(self) -> Episodes:
        """Every episode finished since the last call, concatenated."""
        done, self.finished = Episodes.concatenate(self.finished), []
        return done

    def _begin(self, agent: Agent) -> None:
        self._current = self.draw_tasks()
        n = len(self._current)
        agent.begin_episode(self._current, explore=True)
        self._obs = self.envs.reset(self._current)
        self._active = np.ones(n, bool)
        self._returns, self._sparse = np.zeros(n), np.zeros(n)
        self._lengths, self._success = np.zeros(n, np.int64), np.zeros(n, bool)


# ============================================================================================ helpers
def _step(envs: TaskEnvs, obs: Obs, action: Tensor, active: np.ndarray) -> Step:
    next_obs, reward, dense, sparse, terminated, truncated, success = envs.step(action.detach().cpu().numpy(), active)
    mask = torch.as_tensor(active.copy())
    return Step(obs=obs, action=action, reward=_f(reward), dense_reward=_f(dense), sparse_reward=_f(sparse),
                next_obs=next_obs, terminated=torch.as_tensor(terminated, dtype=torch.bool) & mask,
                truncated=torch.as_tensor(truncated, dtype=torch.bool) & mask, mask=mask,
                success=torch.as_tensor(success, dtype=torch.bool) & mask)


def _f(x: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def _stack_obs(items: list[Any]) -> Obs:
    if isinstance(items[0], dict):
        return {k: torch.as_tensor(np.stack([np.asarray(o[k], np.float32) for o in items])) for k in items[0]}
    return torch.as_tensor(np.stack([np.asarray(o, np.float32) for o in items]))


def _agent_done(agent: Agent, n: int) -> np.ndarray:
    """(n,) bool: envs whose episode the agent itself ended (optional ``agent.episode_over()``, e.g. HAC's
    top level after its H attempts); all False for agents without it."""
    over = getattr(agent, "episode_over", None)
    return np.zeros(n, bool) if over is None else np.asarray(over(), bool)


def _check_action(action: Any, n: int, space: gym.spaces.Box) -> Tensor:
    shape = (n, *space.shape)
    if not isinstance(action, Tensor):
        action = torch.as_tensor(np.asarray(action, np.float32))
    if tuple(action.shape) != shape:
        raise ValueError(f"agent.act must return actions of shape {shape}, got {tuple(action.shape)}")
    return action.float()
