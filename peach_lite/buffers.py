"""Replay buffers that live in torch tensors: preallocated, validated, checkpointable.

* :class:`ReplayBuffer`: one ring buffer of transitions, sampled uniformly (SAC, TD3, HAC levels).
* :class:`MultiTaskReplayBuffer`: one ring buffer per task id, sampled as a (num_tasks, batch) stack
  (PEARL's RL and encoder buffers, MQL).

Both store every field as float32 columns of *one* table, so a sample is a single gather followed by
free column views; no numpy round trips. Fields are declared once with their shapes, e.g.
``{"obs": (3,), "action": (1,), "reward": (), "next_obs": (3,), "done": ()}``, and every ``add`` checks
shapes, raising ``ValueError`` that names the wrong field.

Taught in notebooks/04_sac.py (section "The replay buffer").
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from peach_lite.validation import check_int

__all__ = ["ReplayBuffer", "MultiTaskReplayBuffer", "transition_fields"]

FieldSpec = Mapping[str, "tuple[int, ...] | int"]


def transition_fields(obs_dim: int, action_dim: int, **extra: tuple[int, ...] | int) -> dict[str, tuple[int, ...]]:
    """The standard fields ``obs, action, reward, next_obs, done`` plus any ``extra`` ones (e.g. ``goal=(2,)``).

    ``done`` means *terminated* (no bootstrapping); a time-limit truncation is stored as done=0.
    """
    fields: dict[str, Any] = {"obs": (obs_dim,), "action": (action_dim,), "reward": (), "next_obs": (obs_dim,), "done": ()}
    fields.update(extra)
    return _normalise_fields(fields)


class ReplayBuffer:
    """A ring buffer of transitions stored in preallocated torch tensors.

    Args:
        capacity: maximum number of transitions; the oldest is overwritten first.
        fields: ``{name: shape}``; see :func:`transition_fields`.
        device: where the table lives (CPU by default); samples come back on this device.

    ``add(obs=..., action=..., ...)`` stores one transition (every field, each with its exact shape);
    ``add_batch`` stores n at once (each field (n, *shape)); ``sample(batch_size, generator)`` returns
    ``{name: (batch_size, *shape)}`` drawn uniformly with replacement from the stored transitions.

    Taught in notebooks/04_sac.py (section "The replay buffer").
    """

    def __init__(self, capacity: int, fields: FieldSpec, device: torch.device | str | None = None):
        check_int("capacity", capacity, 1)
        self.capacity = int(capacity)
        self.fields = _normalise_fields(fields)
        self._slices = _column_slices(self.fields)
        self.width = sum(math.prod(shape) for shape in self.fields.values())
        self.device = torch.device(device or "cpu")
        # torch.empty reserves memory without touching it: a 1e6-transition buffer costs RAM only as it fills.
        self._table = torch.empty(self.capacity, self.width, dtype=torch.float32, device=self.device)
        self._ptr = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, **values: Any) -> None:
        """Store one transition; every declared field must be given with exactly its shape."""
        row = _pack_row(self.fields, values, self.device)
        self._table[self._ptr] = row
        # Counters move last, so an interrupt during the copy never exposes a half-written row.
        self._ptr = (self._ptr + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def add_batch(self, **values: Any) -> None:
        """Store n transitions at once; every field has shape (n, *field_shape)."""
        rows = _pack_rows(self.fields, values, self.device)
        n = rows.shape[0]
        if n > self.capacity:
            rows, n = rows[-self.capacity :], self.capacity
        first = min(n, self.capacity - self._ptr)
        self._table[self._ptr : self._ptr + first] = rows[:first]
        if first < n:  # wrap around
            self._table[: n - first] = rows[first:]
        self._ptr = (self._ptr + n) % self.capacity
        self._size = min(self._size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Draw ``batch_size`` stored transitions uniformly with replacement.

        Returns:
            ``{name: (batch_size, *shape)}``; the tensors are column views of one freshly gathered table.
        """
        check_int("batch_size", batch_size, 1)
        if self._size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer: add transitions first")
        index = torch.randint(0, self._size, (batch_size,), generator=generator, device=self.device)
        return self._split(self._table.index_select(0, index))

    def all(self) -> dict[str, Tensor]:
        """Every stored transition, oldest first: ``{name: (len(self), *shape)}``."""
        if self._size < self.capacity:
            rows = self._table[: self._size]
        else:
            rows = torch.cat([self._table[self._ptr :], self._table[: self._ptr]])
        return self._split(rows.clone())

    def clear(self) -> None:
        """Forget every transition (the memory is kept)."""
        self._ptr = self._size = 0

    def state_dict(self) -> dict[str, Tensor]:
        """Stored rows and counters as tensors (``save_checkpoint``-compatible)."""
        return {
            "table": self._table[: self._size].clone(),
            "ptr": torch.tensor(self._ptr),
            "capacity": torch.tensor(self.capacity),
            "width": torch.tensor(self.width),
        }

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore rows and counters saved by :meth:`state_dict` into a buffer with the same fields and capacity."""
        if int(state["capacity"]) != self.capacity or int(state["width"]) != self.width:
            raise ValueError(
                f"state is for capacity={int(state['capacity'])}, width={int(state['width'])}; "
                f"this buffer has capacity={self.capacity}, width={self.width}"
            )
        table = state["table"]
        self._size = int(table.shape[0])
        self._ptr = int(state["ptr"])
        self._table[: self._size] = table.to(self.device)

    def _split(self, rows: Tensor) -> dict[str, Tensor]:
        lead = rows.shape[:-1]
        return {name: rows[..., sl].view(*lead, *shape) if shape else rows[..., sl.start]
                for (name, shape), sl in zip(self.fields.items(), self._slices)}

    def __repr__(self) -> str:
        return f"ReplayBuffer(size={self._size}/{self.capacity}, fields={self.fields})"


class MultiTaskReplayBuffer:
    """One ring buffer per task id, sampled as a stacked (num_tasks, batch) batch.

    Args:
        num_tasks: number of task ids, 0..num_tasks-1.
        capacity: transitions kept *per task*.
        fields: ``{name: shape}`` as in :class:`ReplayBuffer`.
        device: where the table (num_tasks, capacity, width) lives.

    ``sample(batch_size, tasks, generator)`` draws ``batch_size`` transitions uniformly from each listed
    task's own buffer (tasks may repeat) and returns ``{name: (len(tasks), batch_size, *shape)}``.
    ``clear(task)`` empties one task's buffer (PEARL clears the encoder buffer before each collection).

    Taught in notebooks/04_sac.py (section "The replay buffer"); used by PEARL and MQL.
    """

    def __init__(self, num_tasks: int, capacity: int, fields: FieldSpec, device: torch.device | str | None = None):
        check_int("num_tasks", num_tasks, 1)
        check_int("capacity", capacity, 1)
        self.num_tasks, self.capacity = int(num_tasks), int(capacity)
        self.fields = _normalise_fields(fields)
        self._slices = _column_slices(self.fields)
        self.width = sum(math.prod(shape) for shape in self.fields.values())
        self.device = torch.device(device or "cpu")
        self._table = torch.empty(self.num_tasks, self.capacity, self.width, dtype=torch.float32, device=self.device)
        self._ptr = [0] * self.num_tasks
        self._size = [0] * self.num_tasks

    def size(self, task: int) -> int:
        """Transitions stored for ``task``."""
        self._check_task(task)
        return self._size[task]

    def __len__(self) -> int:
        return sum(self._size)

    def add(self, task: int, /, **values: Any) -> None:
        """Store one transition for ``task``."""
        self._check_task(task)
        self._table[task, self._ptr[task]] = _pack_row(self.fields, values, self.device)
        self._ptr[task] = (self._ptr[task] + 1) % self.capacity
        self._size[task] = min(self._size[task] + 1, self.capacity)

    def add_batch(self, task: int, /, **values: Any) -> None:
        """Store n transitions for ``task`` (each field (n, *shape))."""
        self._check_task(task)
        rows = _pack_rows(self.fields, values, self.device)
        n = rows.shape[0]
        if n > self.capacity:
            rows, n = rows[-self.capacity :], self.capacity
        ptr = self._ptr[task]
        first = min(n, self.capacity - ptr)
        self._table[task, ptr : ptr + first] = rows[:first]
        if first < n:
            self._table[task, : n - first] = rows[first:]
        self._ptr[task] = (ptr + n) % self.capacity
        self._size[task] = min(self._size[task] + n, self.capacity)

    def sample(
        self,
        batch_size: int,
        tasks: Sequence[int] | Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Draw ``batch_size`` transitions per listed task (all tasks when ``tasks`` is None).

        Returns:
            ``{name: (len(tasks), batch_size, *shape)}``.
        """
        check_int("batch_size", batch_size, 1)
        task_ids = torch.arange(self.num_tasks) if tasks is None else torch.as_tensor(tasks, dtype=torch.long).flatten()
        if task_ids.numel() == 0:
            raise ValueError("tasks must list at least one task id")
        for task in task_ids.unique().tolist():
            self._check_task(task)
            if self._size[task] == 0:
                raise ValueError(f"task {task} has no transitions: add some before sampling it")
        task_ids = task_ids.to(self.device)
        sizes = torch.tensor(self._size, dtype=torch.float64, device=self.device)[task_ids]
        # Uniform integer in [0, size) per (task, sample): floor(u * size) with u in [0, 1) in float64.
        u = torch.rand(task_ids.numel(), batch_size, generator=generator, dtype=torch.float64, device=self.device)
        index = (u * sizes[:, None]).long()
        rows = self._table[task_ids[:, None], index]  # (T, B, width): one gather
        lead = rows.shape[:-1]
        return {name: rows[..., sl].view(*lead, *shape) if shape else rows[..., sl.start]
                for (name, shape), sl in zip(self.fields.items(), self._slices)}

    def clear(self, task: int | None = None) -> None:
        """Empty one task's buffer (or every task's when ``task`` is None)."""
        tasks = range(self.num_tasks) if task is None else [task]
        for t in tasks:
            self._check_task(t)
            self._ptr[t] = self._size[t] = 0

    def state_dict(self) -> dict[str, Tensor]:
        """Each task's stored rows (``task{i}``) and the counters as tensors."""
        state = {f"task{t}": self._table[t, : self._size[t]].clone() for t in range(self.num_tasks)}
        state.update(ptr=torch.tensor(self._ptr), capacity=torch.tensor(self.capacity), width=torch.tensor(self.width))
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore a state saved by :meth:`state_dict` (same num_tasks, capacity and fields)."""
        if int(state["capacity"]) != self.capacity or int(state["width"]) != self.width or len(state["ptr"]) != self.num_tasks:
            raise ValueError(
                f"state is for num_tasks={len(state['ptr'])}, capacity={int(state['capacity'])}, width={int(state['width'])}; "
                f"this buffer has num_tasks={self.num_tasks}, capacity={self.capacity}, width={self.width}"
            )
        for t in range(self.num_tasks):
            rows = state[f"task{t}"]
            self._size[t] = int(rows.shape[0])
            self._table[t, : self._size[t]] = rows.to(self.device)
        self._ptr = [int(p) for p in state["ptr"]]

    def _check_task(self, task: int) -> None:
        if isinstance(task, bool) or not isinstance(task, numbers.Integral) or not 0 <= task < self.num_tasks:
            raise ValueError(f"task must be in [0, {self.num_tasks - 1}], got {task!r}")

    def __repr__(self) -> str:
        return f"MultiTaskReplayBuffer(num_tasks={self.num_tasks}, capacity={self.capacity}, stored={len(self)}, fields={self.fields})"


# ---------------------------------------------------------------------------------------------
# Private helpers


def _normalise_fields(fields: FieldSpec) -> dict[str, tuple[int, ...]]:
    if not fields:
        raise ValueError("fields must declare at least one field, e.g. {'obs': (3,)}")
    out = {}
    for name, shape in fields.items():
        shape_t = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in shape_t):
            raise ValueError(f"fields[{name!r}] must be a shape of positive integers, got {shape!r}")
        out[str(name)] = tuple(int(s) for s in shape_t)
    return out


def _column_slices(fields: dict[str, tuple[int, ...]]) -> list[slice]:
    slices, start = [], 0
    for shape in fields.values():
        width = math.prod(shape)
        slices.append(slice(start, start + width))
        start += width
    return slices


def _as_tensor(name: str, value: Any, device: torch.device) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().to(device=device, dtype=torch.float32)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, array or tensor, got {type(value).__name__}") from None


def _check_names(fields: dict[str, tuple[int, ...]], values: Mapping[str, Any]) -> None:
    if values.keys() != fields.keys():
        missing = [k for k in fields if k not in values]
        unknown = [k for k in values if k not in fields]
        raise ValueError(f"transition fields must be exactly {list(fields)}; missing {missing}, unknown {unknown}")


def _pack_row(fields: dict[str, tuple[int, ...]], values: Mapping[str, Any], device: torch.device) -> Tensor:
    _check_names(fields, values)
    parts = []
    for name, shape in fields.items():
        tensor = _as_tensor(name, values[name], device)
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")
        parts.append(tensor.reshape(-1))
    return torch.cat(parts)


def _pack_rows(fields: dict[str, tuple[int, ...]], values: Mapping[str, Any], device: torch.device) -> Tensor:
    _check_names(fields, values)
    parts, n = [], None
    for name, shape in fields.items():
        tensor = _as_tensor(name, values[name], device)
        if tensor.dim() != len(shape) + 1 or tuple(tensor.shape[1:]) != shape:
            raise ValueError(f"{name} must have shape (n, {', '.join(map(str, shape))}), got {tuple(tensor.shape)}".replace(", )", ")"))
        if n is None:
            n = tensor.shape[0]
        elif tensor.shape[0] != n:
            raise ValueError(f"{name} has {tensor.shape[0]} rows, expected {n} like the first field")
        parts.append(tensor.reshape(n, -1))
    return torch.cat(parts, dim=1)
