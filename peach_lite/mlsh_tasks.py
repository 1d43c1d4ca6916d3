"""MLSH's two task distributions as batched lockstep envs, their scripted sub-policies, and the collapse detector.

* :class:`MLSHTasks` is what :class:`peach_lite.mlsh.MLSH` needs from a task distribution: batched
  :class:`~peach_lite.runner.TaskEnvs`, the training tasks, fresh tasks, and what the collapse detector runs.
  :func:`mlsh_tasks` builds one for ``"movement"`` (MovementBandits, on
  :class:`peach_lite.envs.task_families.MovementFamily`) or ``"fourrooms"`` (:class:`BatchedFourRooms`).
* :class:`BatchedFourRooms`: ``peach_lite/FourRooms-v0`` for ``n`` episodes at once, sampling the env's exact
  transition matrices (``tests/test_mlsh.py`` checks it against ``oracles.four_rooms_values``).
* :func:`sub_policy_outcomes` and :func:`collapse_score`: run each sub-policy *alone* from fixed starts and
  measure how differently they behave (the collapse detector).

Taught in notebooks/10_mlsh.py (section "Two task distributions").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.runner import TaskBatch
from peach_lite.validation import check_choice, check_int

__all__ = ["MLSHTasks", "mlsh_tasks", "BatchedFourRooms", "OracleMovementSubPolicies", "DirectionSubPolicies", "sub_policy_outcomes",
           "collapse_score", "sub_policy_goal_returns", "COLLAPSE_THRESHOLD", "TASK_FAMILIES"]

TASK_FAMILIES = ("movement", "fourrooms")
"""``"movement"``: MovementBandits (2 goals, 50 steps); ``"fourrooms"``: the four-rooms goal distribution (100 steps)."""

COLLAPSE_THRESHOLD = 0.3
"""Sub-policies count as collapsed when the detector's score S is below this (design-08-11 §2)."""


@dataclass
class MLSHTasks:
    """A task distribution as MLSH uses it (see :func:`mlsh_tasks`).

    Taught in notebooks/10_mlsh.py (section "Two task distributions").
    """

    name: str
    """"movement" or "fourrooms"."""
    horizon: int
    """Steps per episode T."""
    obs_dim: int
    """Size of one observation."""
    num_actions: int
    """Primitive actions (MovementBandits 5, four rooms 4)."""
    train_tasks: list
    """The training tasks (MovementBandits: real goal 0/1; four rooms: the 80 training goal cells)."""
    make_envs: Callable[[int, int], object]
    """``make_envs(n, seed)`` -> a batched :class:`~peach_lite.runner.TaskEnvs` of n envs."""
    fresh_tasks: Callable[[int, int], list]
    """``fresh_tasks(n, seed)`` -> n tasks for meta-testing (MovementBandits: balanced real goals with new goal
    positions every episode; four rooms: the held-out test goals)."""
    oracle_value: Callable[[Sequence], float]
    """``oracle_value(tasks)`` -> the task-known optimum, averaged over tasks (MovementBandits 43.7 in expectation;
    four rooms: the probability of reaching the goal within 100 steps)."""
    detector_starts: Callable[[int, int], tuple[Tensor, object]]
    """``detector_starts(n, seed)`` -> (first observations (n, obs_dim), the envs positioned there) for the detector."""
    detector_steps: int
    """How many steps each sub-policy runs alone in the behaviour detector (one macro step N)."""
    outcome: Callable[[object, Tensor, Tensor], Tensor]
    """``outcome(envs, first_obs, last_obs)`` -> (n,) int64: the direction of the net move (stay, then one class
    per primitive direction), the behaviour the detector compares."""
    num_outcomes: int
    """Number of outcome classes."""
    episode_oracle: Callable[[object, list], np.ndarray] | None = None
    """``episode_oracle(envs, row_tasks)`` -> (n,) the task-known optimum of each episode the envs just ran (MovementBandits:
    exact DP on that episode's goal pair; four rooms: the goal's success probability)."""
    goal_steps: int = 0
    """Steps of the goal detector (MovementBandits: a whole episode, 50); 0: no goal detector."""
    goal_outcome: Callable[[object, Tensor, Tensor], Tensor] | None = None
    """``goal_outcome(envs, first_obs, last_obs)`` -> (n,) index of the goal nearest to the end (MovementBandits)."""


def mlsh_tasks(name: str) -> MLSHTasks:
    """The task distribution ``name`` in :data:`TASK_FAMILIES`.

    Taught in notebooks/10_mlsh.py (section "Two task distributions").
    """
    check_choice("name", name, TASK_FAMILIES)
    return _movement() if name == "movement" else _fourrooms()


class BatchedFourRooms:
    """``peach_lite/FourRooms-v0`` (13x13, start cell 62, slip 1/3, 100 steps, reward 1 at the goal, which ends
    the episode) for ``n`` episodes at once; a :class:`~peach_lite.runner.TaskEnvs` with one-hot observations.

    Next cells are drawn from the env's exact transition matrices P[a, s, :], so the dynamics are the env's.
    Actions are indices 0..3 as one float, shape (n, 1), like :mod:`peach_lite.envs.task_families`.

    Args:
        num_envs: the batch size a Runner draws tasks for (:meth:`reset` takes any number).
        generator: torch generator of the slips.

    Taught in notebooks/10_mlsh.py (section "Two task distributions").
    """

    horizon = 100
    num_actions = 4

    def __init__(self, num_envs: int = 1, generator: torch.Generator | None = None):
        from peach_lite.envs.four_rooms import NUM_CELLS, START_CELL, transition_matrices

        check_int("num_envs", num_envs, 1)
        self.num_envs = int(num_envs)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.num_cells, self.start_cell = NUM_CELLS, START_CELL
        self.cumulative = torch.as_tensor(np.cumsum(transition_matrices(1.0 / 3.0), axis=-1), dtype=torch.float64)
        self.cumulative[..., -1] = 1.0 + 1e-9
        self.obs_dim = NUM_CELLS
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(NUM_CELLS,), dtype=np.float32)
        self.action_space = gym.spaces.Box(0.0, 3.0, shape=(1,), dtype=np.float32)
        self.cells = torch.zeros(0, dtype=torch.long)
        self.goals = torch.zeros(0, dtype=torch.long)
        self._t = 0

    def reset(self, tasks: TaskBatch | Tensor, seed: int | None = None, cells: Tensor | None = None) -> Tensor:
        """Start n episodes at the start cell (or ``cells``); tasks are goal cells (ints or FourRoomsTask)."""
        if seed is not None:
            check_int("seed", seed, 0)
            self.generator.manual_seed(int(seed))
        values = tasks.values if isinstance(tasks, TaskBatch) else tasks
        self.goals = torch.as_tensor([int(getattr(v, "goal", v)) for v in values], dtype=torch.long)
        n = len(self.goals)
        self.cells = torch.full((n,), self.start_cell, dtype=torch.long) if cells is None else torch.as_tensor(cells).long().clone()
        self._t = 0
        return self.observe()

    def observe(self) -> Tensor:
        """(n, 104) one-hot of the current cells."""
        return nn.functional.one_hot(self.cells, self.num_cells).float()

    def step(self, action: np.ndarray, active: np.ndarray):
        """Step the active envs; returns next_obs (n, 104) and six (n,) numpy arrays (TaskEnvs)."""
        index = torch.as_tensor(np.asarray(action)).reshape(-1).round().long()
        if len(index) != len(self.cells) or ((index < 0) | (index >= 4)).any():
            raise ValueError(f"action must be ({len(self.cells)}, 1) indices in [0, 3], got {np.asarray(action).tolist()}")
        active_t = torch.as_tensor(np.asarray(active, bool))
        u = torch.rand(len(index), 1, generator=self.generator, dtype=torch.float64)
        moved = torch.searchsorted(self.cumulative[index, self.cells], u).squeeze(1).clamp(max=self.num_cells - 1)
        self.cells = torch.where(active_t, moved, self.cells)
        self._t += 1
        success = (self.cells == self.goals) & active_t
        reward = success.float().numpy()
        n = len(index)
        return (self.observe(), reward, reward, reward, success.numpy(), np.full(n, self._t >= self.horizon) & ~success.numpy(),
                success.numpy())


class OracleMovementSubPolicies(nn.Module):
    """Two scripted MovementBandits sub-policies, "walk to goal k and stay" (``oracles.movement_bandits_oracle_action``),
    with the interface of :class:`peach_lite.mlsh.SubPolicies`: obs (n, 6) -> logits (2, n, 5), values (2, n).

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """

    num_subs = 2

    def __init__(self, sharpness: float = 30.0):
        super().__init__()
        self.sharpness = float(sharpness)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        from peach_lite.envs.oracles import movement_bandits_oracle_actions

        rows = obs.detach().numpy()
        actions = torch.as_tensor(np.stack([movement_bandits_oracle_actions(rows, k) for k in range(2)]))
        logits = nn.functional.one_hot(actions, 5).float() * self.sharpness
        return logits, torch.zeros(2, len(rows))


class DirectionSubPolicies(nn.Module):
    """Four scripted four-rooms sub-policies: sub-policy k always takes action k (0 up, 1 down, 2 left, 3 right).

    With N = 5 each is "walk five cells that way", the primitive set MLSH's four-rooms sub-policies would ideally
    learn; a fresh master over them measures how far the master's W iterations can go with perfect primitives.
    Interface of :class:`peach_lite.mlsh.SubPolicies`: obs (n, 104) -> logits (4, n, 4), values (4, n).

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """

    num_subs = 4

    def __init__(self, sharpness: float = 30.0):
        super().__init__()
        self.sharpness = float(sharpness)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        logits = torch.eye(4).mul(self.sharpness)[:, None, :].expand(4, len(obs), 4)
        return logits, torch.zeros(4, len(obs))


@torch.no_grad()
def sub_policy_outcomes(subs: nn.Module, tasks: MLSHTasks, *, num_starts: int = 200, seed: int = 0,
                        greedy: bool = False, kind: str = "move") -> Tensor:
    """Run each sub-policy alone from the same ``num_starts`` fixed starts; the distribution of what it did.

    ``kind="move"``: N steps (one macro step), outcome = the direction of the net move (stay, +x, -x, +y, -y in
    MovementBandits; up, down, left, right in four rooms). ``kind="goal"`` (MovementBandits): a whole episode
    from the start, outcome = the goal nearest to where it ended (design-08-11's P(end at g0 | sub k)).
    Every sub-policy sees the same starts and the same random numbers (one generator per sub, same seed), so
    two identical sub-policies give identical distributions.

    Args:
        subs: obs (n, obs_dim) -> (logits (K, n, A), values (K, n)).
        tasks: the task distribution (its ``detector_starts`` and the outcome of ``kind``).
        greedy: argmax actions instead of samples.
    Returns:
        (K, num_starts) int64 outcome classes: entry (k, i) is what sub-policy k did alone from start i.

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """
    check_int("num_starts", num_starts, 1)
    check_choice("kind", kind, ["move", "goal"] if tasks.goal_outcome is not None else ["move"])
    steps, outcome, classes = ((tasks.detector_steps, tasks.outcome, tasks.num_outcomes) if kind == "move"
                               else (tasks.goal_steps, tasks.goal_outcome, 2))
    rows = []
    probe = subs(tasks.detector_starts(1, seed)[0])[0]
    for k in range(probe.shape[0]):
        first, envs = tasks.detector_starts(num_starts, seed)
        generator = torch.Generator().manual_seed(seed + 1)
        obs, active = first, np.ones(num_starts, bool)
        for _ in range(steps):
            logits = subs(obs)[0][k]
            action = logits.argmax(-1) if greedy else torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)
            obs = envs.step(action[:, None].float().numpy(), active)[0]
        rows.append(outcome(envs, first, obs))
    return torch.stack(rows)


def collapse_score(outcomes: Tensor) -> float:
    """S = over pairs of sub-policies, the smallest fraction of starts from which the two did different things.

    0 when two sub-policies behave alike (collapse), 1 when they never do the same thing from the same start.
    Comparing start by start (not the two marginal distributions) keeps "go right" and "go up" apart even where
    both end near goal 0 equally often. For the goal outcome and two sub-policies S is at least
    ``|P(end at g0 | sub 0) - P(end at g0 | sub 1)|`` (design-08-11's measure). Collapse: S < :data:`COLLAPSE_THRESHOLD`.

    Args:
        outcomes: (K, num_starts) outcome classes (:func:`sub_policy_outcomes`), K >= 2.
    Returns:
        S in [0, 1].

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """
    if outcomes.ndim != 2 or outcomes.shape[0] < 2:
        raise ValueError(f"outcomes must be (K >= 2, num_starts), got {tuple(outcomes.shape)}")
    k = outcomes.shape[0]
    return min(float((outcomes[i] != outcomes[j]).float().mean()) for i in range(k) for j in range(i + 1, k))


def sub_policy_goal_returns(subs: nn.Module, tasks: MLSHTasks, *, num_starts: int = 200, seed: int = 0) -> Tensor:
    """MovementBandits: each sub-policy alone for a whole episode (sampled actions), its mean return when goal 0 is
    the real one and when goal 1 is, from the same ``num_starts`` goal pairs and random numbers.

    The collapse story in numbers: goal primitives give about (43, 3) and (3, 43); a collapsed pair two equal rows;
    a sub-policy that mostly stands still a row near (3, 3), which no master can use (a "dead" sub-policy: the move
    detector sees two different behaviours, the goal detector and this table see that one of them is useless).

    Returns:
        (K, 2): entry (k, g) is sub-policy k's mean return when goal g pays.

    Taught in notebooks/10_mlsh.py (section "Collapse").
    """
    check_int("num_starts", num_starts, 1)
    if tasks.goal_outcome is None:
        raise ValueError(f"sub_policy_goal_returns needs MovementBandits (tasks.name 'movement'), got {tasks.name!r}")
    num_subs = subs(tasks.detector_starts(1, seed)[0])[0].shape[0]
    table = torch.zeros(num_subs, 2)
    for k in range(num_subs):
        for goal in (0, 1):
            envs = tasks.make_envs(num_starts, seed)
            obs = envs.reset(torch.full((num_starts,), goal, dtype=torch.long), seed=seed)
            generator, active, total = torch.Generator().manual_seed(seed + 1), np.ones(num_starts, bool), 0.0
            for _ in range(tasks.horizon):
                logits = subs(obs)[0][k]
                action = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
                obs, reward = envs.step(action.float().numpy(), active)[:2]
                total += float(reward.sum())
            table[k, goal] = total / num_starts
    return table


# ============================================================================================ helpers
def _movement() -> MLSHTasks:
    from peach_lite.envs.movement_bandits import ARENA
    from peach_lite.envs.task_families import MovementFamily

    def make_envs(n: int, seed: int):
        return MovementFamily(n, torch.Generator().manual_seed(seed))

    def fresh_tasks(n: int, seed: int) -> list:
        return [int(v) for v in (torch.arange(n) + seed) % 2]

    def oracle_value(tasks) -> float:
        from peach_lite.envs.oracles import movement_bandits_values

        return movement_bandits_values()["oracle"]

    def detector_starts(n: int, seed: int):
        envs = MovementFamily(n, torch.Generator().manual_seed(seed))
        first = envs.reset(torch.zeros(n, dtype=torch.long), seed=seed)
        return first, envs

    def outcome(envs, first: Tensor, last: Tensor) -> Tensor:
        return _direction((last[:, :2] - first[:, :2]) * ARENA)

    def goal_outcome(envs, first: Tensor, last: Tensor) -> Tensor:
        position, goals = last[:, :2] * ARENA, envs.sim.goals.float()
        distance = ((position[:, None, :] - goals) ** 2).sum(-1)  # (n, 2)
        return distance.argmin(1)

    def episode_oracle(envs, row_tasks: list) -> np.ndarray:
        from peach_lite.envs.oracles import movement_bandits_values_for_goals

        oracle = movement_bandits_values_for_goals(envs.sim.goals.numpy())["oracle"]
        return oracle[np.arange(len(oracle)), np.asarray([int(t) for t in row_tasks])]

    return MLSHTasks("movement", 50, 6, 5, [0, 1], make_envs, fresh_tasks, oracle_value, detector_starts, 10, outcome, 5,
                     episode_oracle, 50, goal_outcome)


def _fourrooms() -> MLSHTasks:
    from peach_lite.envs import make
    from peach_lite.envs.four_rooms import FREE_CELLS

    env = make("peach_lite/FourRooms-v0").unwrapped
    train = [t.goal for t in env.train_tasks()]
    test = [t.goal for t in env.test_tasks()]

    def make_envs(n: int, seed: int):
        return BatchedFourRooms(n, torch.Generator().manual_seed(seed))

    def fresh_tasks(n: int, seed: int) -> list:
        order = np.random.default_rng(seed).permutation(len(test))
        return [test[i % len(test)] for i in order[:n]] if n <= len(test) else [test[i % len(test)] for i in range(n)]

    def oracle_value(tasks) -> float:
        from peach_lite.envs.oracles import four_rooms_values

        return float(np.mean([four_rooms_values(int(g))["oracle"] for g in tasks]))

    def detector_starts(n: int, seed: int):
        envs = BatchedFourRooms(n, torch.Generator().manual_seed(seed))
        cells = torch.randint(0, envs.num_cells, (n,), generator=torch.Generator().manual_seed(seed))
        first = envs.reset(torch.full((n,), -1), seed=seed, cells=cells)
        return first, envs

    def outcome(envs, first: Tensor, last: Tensor) -> Tensor:
        cells = torch.as_tensor(FREE_CELLS, dtype=torch.float32)
        row_col = last @ cells - first @ cells  # (n, 2) (row, col) displacement
        return _direction(torch.stack([row_col[:, 1], -row_col[:, 0]], 1))  # as (x, y): stay, right, left, up, down

    def episode_oracle(envs, row_tasks: list) -> np.ndarray:
        from peach_lite.envs.oracles import four_rooms_values

        return np.array([four_rooms_values(int(g))["oracle"] for g in row_tasks])

    return MLSHTasks("fourrooms", 100, 104, 4, train, make_envs, fresh_tasks, oracle_value, detector_starts, 5, outcome, 5,
                     episode_oracle)


def _direction(delta: Tensor) -> Tensor:
    """(n, 2) net (x, y) moves -> (n,) class: 0 stay, 1 +x, 2 -x, 3 +y, 4 -y (the dominant axis; ties go to x)."""
    horizontal = delta[:, 0].abs() >= delta[:, 1].abs()
    cls = torch.where(horizontal, torch.where(delta[:, 0] > 0, 1, 2), torch.where(delta[:, 1] > 0, 3, 4))
    return torch.where(delta.abs().sum(1) == 0, 0, cls).long()
