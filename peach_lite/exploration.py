"""Count-based exploration: visit counts over a grid of a 2-D box and the bonus β/√N they give.

A shared part, like the buffers: an agent counts where its exploratory behaviour went (:meth:`CellCounts.add`) and
adds :meth:`CellCounts.bonus` to the rewards it learns from, so rarely visited places look better than they are
until they are visited, or aims its exploration at :meth:`CellCounts.frontier_goal`, the least-visited place it has
reached nearby (the count bonus of MBIE-EB, Strehl & Littman 2008; on a grid the counts are exact, with no
density model as in Bellemare et al. 2016's pseudo-counts). :class:`FirstReturnThenExplore` goes further: it
*returns* to a rarely visited cell along moves already made, then explores from there (Go-Explore).

Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from peach_lite.validation import check_int, check_range

__all__ = ["CellCounts", "FirstReturnThenExplore"]


class CellCounts:
    """Visit counts over ``cells`` x ``cells`` equal cells of the box ``[low, high]`` (first two coordinates).

    Args:
        low, high: (2,) corners of the box; positions outside count to the nearest edge cell.
        cells: cells per axis.

    Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
    """

    def __init__(self, low: Any, high: Any, cells: int):
        check_int("cells", cells, 1, 1024)
        self.low = np.asarray(low, dtype=float)[:2]
        self.high = np.asarray(high, dtype=float)[:2]
        if self.low.shape != (2,) or not np.all(self.high > self.low):
            raise ValueError(f"low and high must be 2-D corners with high > low, got {low} and {high}")
        self.cells = cells
        self.counts = np.zeros((cells, cells), np.int64)
        """(cells, cells) visits per cell (row: x index, column: y index)."""
        axis = (np.arange(cells)[:, None] + 0.5) / cells * (self.high - self.low) + self.low  # (cells, 2)
        self._centres = np.stack(np.meshgrid(axis[:, 0], axis[:, 1], indexing="ij"), axis=-1)

    def cell_of(self, positions: Any) -> tuple[np.ndarray, np.ndarray]:
        """(x index, y index) of the cell of each position (..., >= 2), each of shape (...)."""
        positions = np.asarray(positions, dtype=float)
        if positions.ndim == 0 or positions.shape[-1] < 2:
            raise ValueError(f"positions must have shape (..., >= 2), got {positions.shape}")
        scaled = (positions[..., :2] - self.low) / (self.high - self.low) * self.cells
        index = np.clip(np.floor(scaled), 0, self.cells - 1).astype(np.int64)
        return index[..., 0], index[..., 1]

    def add(self, positions: Any) -> None:
        """Count one visit at each position (n, >= 2) (repeated cells count each time)."""
        np.add.at(self.counts, self.cell_of(positions), 1)

    def bonus(self, positions: Any, scale: float) -> np.ndarray:
        """(...) the bonus ``scale / sqrt(max(1, N))`` of each position's cell (an unvisited cell pays ``scale``)."""
        check_range("scale", scale, 0.0)
        return scale / np.sqrt(np.maximum(self.counts[self.cell_of(positions)], 1))

    def frontier_goal(self, position: Any, radius: float, rng: np.random.Generator) -> np.ndarray:
        """(2,) an exploration goal at the edge of what has been reached near ``position`` (>= 2): the centre of the
        least-visited cell among the *visited* ones whose centre lies within ``radius`` of it (ties broken by ``rng``),
        or a uniform point of the box when there is none (MEGA's minimum-density achieved goal, Pitis et al. 2020, on a
        grid and kept local, so that it lies on this side of the walls).

        Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
        """
        check_range("radius", radius, 0.0)
        centres = self._centres
        near = (self.counts > 0) & (np.linalg.norm(centres - np.asarray(position, dtype=float)[:2], axis=-1) <= radius)
        if not near.any():
            return rng.uniform(self.low, self.high)
        candidates = np.argwhere(near & (self.counts == self.counts[near].min()))
        x, y = candidates[rng.integers(len(candidates))]
        return centres[x, y]

    def centres(self) -> np.ndarray:
        """(cells, cells, 2) the centre (x, y) of each cell (a copy)."""
        return self._centres.copy()


class FirstReturnThenExplore:
    """Go-Explore's exploration phase (Ecoffet et al. 2021, "First return, then explore") over the cells of a grid.

    A share ``rate`` of the episodes (drawn per env at :meth:`begin`) do not follow the agent's own subgoals: they
    first *return* to a target cell, drawn among the visited cells reachable from the start with probability
    ∝ 1/√N (the rarely visited ones: the frontier), through waypoints (cell centres) along the shortest path on the
    graph of cell-to-cell moves that earlier attempts made (:meth:`add_moves`); from the target, or once a waypoint
    was missed more often than the path allows, they *explore* with uniformly random subgoals. The other episodes are
    left alone (:meth:`subgoal` returns None). Nothing is drawn from ``rng`` while ``rate`` is 0.

    Args:
        counts: the :class:`CellCounts` whose cells are the graph's nodes and whose visits weight the targets.
        rate: share of the episodes that return then explore, in [0, 1].
        rng: numpy Generator for the episode draws, the targets and the exploring subgoals.

    Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
    """

    def __init__(self, counts: CellCounts, rate: float, rng: np.random.Generator):
        check_range("rate", rate, 0.0, 1.0)
        self.counts, self.rate, self.rng = counts, float(rate), rng
        size = counts.cells ** 2
        self.moves = np.zeros((size, size), bool)
        """(cells², cells²) ``moves[a, b]``: an attempt went from cell a to cell b (flat index x * cells + y)."""
        self.plans: list[dict[str, Any] | None] = []
        """Per env this episode: None (left alone) or {"target": flat cell or None (not drawn yet), "tries": waypoints
        left, "exploring": bool}."""

    def cell(self, positions: Any) -> np.ndarray:
        """(...) flat cell index of each position (..., >= 2)."""
        x, y = self.counts.cell_of(positions)
        return x * self.counts.cells + y

    def add_moves(self, starts: Any, ends: Any) -> None:
        """Record that attempts went from each of ``starts`` (n, >= 2) to the matching ``ends`` (n, >= 2)."""
        if np.shape(starts) != np.shape(ends):
            raise ValueError(f"starts and ends must have the same shape (n, >= 2), got {np.shape(starts)} and {np.shape(ends)}")
        self.moves[self.cell(starts), self.cell(ends)] = True

    def route(self, start: int, target: int) -> list[int] | None:
        """The shortest path of flat cells from ``start`` to ``target`` along recorded moves (both ends included),
        or None if no recorded moves lead there (breadth-first search)."""
        for field, cell in (("start", start), ("target", target)):
            check_int(field, cell, 0, self.counts.cells ** 2 - 1)
        parent = {start: start}
        frontier = [start]
        while frontier and target not in parent:
            nxt = []
            for a in frontier:
                for b in np.flatnonzero(self.moves[a]).tolist():
                    if b not in parent:
                        parent[b] = a
                        nxt.append(b)
            frontier = nxt
        if target not in parent:
            return None
        path = [target]
        while path[-1] != start:
            path.append(parent[path[-1]])
        return path[::-1]

    def begin(self, num_envs: int, *, active: bool) -> None:
        """A new episode on ``num_envs`` envs: each (if ``active``) returns then explores with probability ``rate``."""
        chosen = self.rng.random(num_envs) < self.rate if active and self.rate > 0 else np.zeros(num_envs, bool)
        self.plans = [{"target": None, "tries": 0, "exploring": False} if pick else None for pick in chosen]

    def subgoal(self, env_index: int, position: Any) -> np.ndarray | None:
        """(2,) the next subgoal of env ``env_index`` standing at ``position`` (>= 2), or None when it is left alone."""
        if not self.plans:  # no episode begun
            return None
        check_int("env_index", env_index, 0, len(self.plans) - 1)
        plan = self.plans[env_index]
        if plan is None:
            return None
        here = int(self.cell(position))
        if not plan["exploring"]:
            first = plan["target"] is None
            if first:
                plan["target"] = self._draw_target(here)
            path = None if plan["target"] is None else self.route(here, plan["target"])
            if first and path is not None:
                plan["tries"] = 2 * (len(path) - 1)  # at most twice the path's attempts
            plan["tries"] -= 1
            plan["exploring"] = path is None or len(path) < 2 or plan["tries"] < 0
            if not plan["exploring"]:
                x, y = divmod(path[1], self.counts.cells)
                return self.counts.centres()[x, y]
        return self.rng.uniform(self.counts.low, self.counts.high)

    def _draw_target(self, here: int) -> int | None:
        reachable = np.zeros(self.counts.cells ** 2, bool)
        frontier = [here]
        reachable[here] = True
        while frontier:
            nxt = np.flatnonzero(self.moves[frontier].any(axis=0) & ~reachable)
            reachable[nxt] = True
            frontier = nxt.tolist()
        visits = self.counts.counts.reshape(-1)
        candidates = np.flatnonzero(reachable & (visits > 0))
        candidates = candidates[candidates != here]
        if len(candidates) == 0:
            return None
        weights = 1.0 / np.sqrt(visits[candidates])
        return int(self.rng.choice(candidates, p=weights / weights.sum()))
