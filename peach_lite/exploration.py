"""Count-based exploration: visit counts over a grid of a 2-D box and the bonus β/√N they give.

A shared part, like the buffers: an agent counts where its exploratory behaviour went (:meth:`CellCounts.add`) and
adds :meth:`CellCounts.bonus` to the rewards it learns from, so rarely visited places look better than they are
until they are visited, or aims its exploration at :meth:`CellCounts.frontier_goal`, the least-visited place it has
reached nearby (the count bonus of MBIE-EB, Strehl & Littman 2008; on a grid the counts are exact, with no
density model as in Bellemare et al. 2016's pseudo-counts).

Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from peach_lite.validation import check_int, check_range

__all__ = ["CellCounts"]


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
