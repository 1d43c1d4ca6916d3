"""The four-rooms gridworld as a real task distribution: one goal cell per task.

The layout is Sutton, Precup & Singh's 13x13 four rooms (104 free cells) as used by MLSH
(algorithms.md §1.5). We fix the two reasons the MLSH version is not a working distribution:
the goal is a task parameter (MLSH hard-codes cell 103), and the observation is a Box that a
network can take (a one-hot of the cell, or its normalised (row, col)).

* Start: free cell 62 (free cells numbered row by row), as in MLSH.
* Actions: 0 up, 1 down, 2 left, 3 right. A move into a wall does nothing. After a successful
  move, with probability ``slip_prob`` (MLSH: 1/3) the agent is pushed once more to a random
  adjacent free cell (the "unreliable primitive actions"; set 0 for a deterministic grid).
* Reward 1 on reaching the goal cell, which ends the episode; 100 steps (``TimeLimit``).
* Tasks: the goal is any free cell except the start (103 choices). Fixed split: the 103 goals
  shuffled with seed 1337, 80 train / 23 test.

Known values (``oracles.four_rooms_values``): the optimal and the random policy's probability of
reaching the goal within the horizon (= expected return), by exact finite-horizon DP.

Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin
from peach_lite.envs.rendering import PALETTE, Canvas
from peach_lite.validation import check_choice, check_range

__all__ = ["FourRoomsTask", "FourRoomsEnv", "LAYOUT", "FREE_CELLS", "NUM_CELLS", "START_CELL", "transition_matrices"]

LAYOUT = """\
wwwwwwwwwwwww
w     w     w
w     w     w
w           w
w     w     w
w     w     w
ww wwww     w
w     www www
w     w     w
w     w     w
w           w
w     w     w
wwwwwwwwwwwww"""
"""The 13x13 map: ``w`` is a wall, a space a free cell."""

_GRID = np.array([[char == "w" for char in row] for row in LAYOUT.splitlines()])
FREE_CELLS: np.ndarray = np.argwhere(~_GRID)
"""(104, 2) (row, col) of every free cell, numbered row by row."""
NUM_CELLS = len(FREE_CELLS)
"""104."""
START_CELL = 62
"""MLSH's start cell (index into FREE_CELLS)."""
DIRECTIONS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])
"""Row/col change of actions 0 up, 1 down, 2 left, 3 right."""
_INDEX = {tuple(cell): i for i, cell in enumerate(FREE_CELLS)}


@dataclass(frozen=True)
class FourRoomsTask(Task):
    """One four-rooms task: the goal cell.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    goal: int
    """Index of the goal cell into FREE_CELLS, in [0, 103], not the start cell."""

    def __post_init__(self) -> None:
        if isinstance(self.goal, bool) or not isinstance(self.goal, (int, np.integer)):
            raise ValueError(f"goal must be an integer cell index, got {self.goal!r}")
        check_range("goal", self.goal, 0, NUM_CELLS - 1)
        object.__setattr__(self, "goal", int(self.goal))


class FourRoomsEnv(TaskEnvMixin, gym.Env):
    """Four rooms with a goal cell per task (see the module docstring).

    Args:
        slip_prob: probability of the extra random move after a successful move (MLSH 1/3).
        obs_type: ``"onehot"`` (104,) or ``"coords"`` (2,) = (row, col) / 12.
        start_cell: index of the start cell (MLSH 62).
        render_mode: ``None`` or ``"rgb_array"``.
        width, height: frame size in pixels.

    Spaces: observation Box(0, 1, (104,) or (2,), float32); action Discrete(4).
    ``info``: ``cell`` (index of the current cell), ``is_success``.

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    task_cls = FourRoomsTask
    num_train_tasks = 80
    num_test_tasks = 23

    def __init__(
        self,
        slip_prob: float = 1.0 / 3.0,
        obs_type: str = "onehot",
        start_cell: int = START_CELL,
        render_mode: str | None = None,
        width: int = 240,
        height: int = 240,
    ):
        check_range("slip_prob", slip_prob, 0.0, 1.0)
        check_choice("obs_type", obs_type, ["onehot", "coords"])
        check_range("start_cell", start_cell, 0, NUM_CELLS - 1)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.slip_prob = float(slip_prob)
        self.obs_type = obs_type
        self.start_cell = int(start_cell)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        size = NUM_CELLS if obs_type == "onehot" else 2
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self._cell = self.start_cell
        self._goal = 0
        self._trail: list[int] = []
        self._init_task_api(self.test_tasks()[0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_from_options(options)
        self._cell = self.start_cell
        self._trail = [self._cell]
        return self._obs(), {"cell": self._cell, "is_success": False}

    def step(self, action: Any):
        direction = self._check_discrete_action(action)
        target = tuple(FREE_CELLS[self._cell] + DIRECTIONS[direction])
        if target in _INDEX:
            self._cell = _INDEX[target]
            if self.slip_prob > 0 and self.np_random.random() < self.slip_prob:
                neighbours = _neighbours(self._cell)
                self._cell = neighbours[int(self.np_random.integers(len(neighbours)))]
        self._trail.append(self._cell)
        success = self._cell == self._goal
        return self._obs(), float(success), success, False, {"cell": self._cell, "is_success": success}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        rows, cols = _GRID.shape
        canvas = Canvas(self.width, self.height, (0, cols), (0, rows))
        for row, col in np.argwhere(_GRID):
            canvas.rect((col, rows - row - 1), (col + 1, rows - row), PALETTE["wall"])

        def center(index: int) -> tuple[float, float]:
            row, col = FREE_CELLS[index]
            return col + 0.5, rows - row - 0.5

        goal = center(self._goal)
        canvas.rect((goal[0] - 0.45, goal[1] - 0.45), (goal[0] + 0.45, goal[1] + 0.45), PALETTE["goal"])
        canvas.polyline([center(i) for i in self._trail], 0.12, PALETTE["trail"])
        canvas.markers(self.get_markers())
        canvas.disc(center(self._cell), 0.33, PALETTE["agent"])
        return canvas.image

    def _obs(self) -> np.ndarray:
        if self.obs_type == "onehot":
            obs = np.zeros(NUM_CELLS, dtype=np.float32)
            obs[self._cell] = 1.0
            return obs
        return (FREE_CELLS[self._cell] / (np.array(_GRID.shape) - 1)).astype(np.float32)

    def _candidate_goals(self) -> np.ndarray:
        return np.array([i for i in range(NUM_CELLS) if i != self.start_cell])

    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[FourRoomsTask]:
        return [FourRoomsTask(goal=int(g)) for g in rng.choice(self._candidate_goals(), size=n)]

    def _make_split(self) -> tuple[list[FourRoomsTask], list[FourRoomsTask]]:
        goals = np.random.default_rng(self.split_seed).permutation(self._candidate_goals())
        tasks = [FourRoomsTask(goal=int(g)) for g in goals]
        return tasks[: self.num_train_tasks], tasks[self.num_train_tasks :]

    def _check_task(self, task: FourRoomsTask) -> None:
        if task.goal == self.start_cell:
            raise ValueError(f"goal must be in [0, {NUM_CELLS - 1}] and differ from start_cell {self.start_cell}, got {task.goal}")

    def _apply_task(self, task: FourRoomsTask) -> None:
        self._goal = task.goal

    def _default_marker_radius(self) -> float:
        return 0.3


@lru_cache(maxsize=None)
def _neighbours(cell: int) -> list[int]:
    row_col = FREE_CELLS[cell]
    return [_INDEX[tuple(row_col + d)] for d in DIRECTIONS if tuple(row_col + d) in _INDEX]


@lru_cache(maxsize=8)
def transition_matrices(slip_prob: float) -> np.ndarray:
    """Exact dynamics P[a, s, s'] of the gridworld (before the goal is made absorbing).

    Returns:
        (4, 104, 104) row-stochastic matrices. Do not mutate (cached).

    Taught in notebooks/01_task_gallery.py (section "Known optimal returns").
    """
    matrices = np.zeros((4, NUM_CELLS, NUM_CELLS))
    for cell in range(NUM_CELLS):
        for action, direction in enumerate(DIRECTIONS):
            target = tuple(FREE_CELLS[cell] + direction)
            if target not in _INDEX:
                matrices[action, cell, cell] = 1.0
                continue
            moved = _INDEX[target]
            matrices[action, cell, moved] += 1.0 - slip_prob
            neighbours = _neighbours(moved)
            for extra in neighbours:
                matrices[action, cell, extra] += slip_prob / len(neighbours)
    return matrices
