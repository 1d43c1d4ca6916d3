"""One task API for every environment family: sample, set, get, split, serialise, validate.

The conventions follow Meta-World: a *task* is a small frozen dataclass (a goal, a target velocity,
a vector of arm probabilities) that round-trips through plain dicts, and the unwrapped env holds
the current task::

    env = peach_lite.envs.make("peach_lite/PointRobotSparse-v0")
    task = env.unwrapped.test_tasks()[0]          # fixed, seeded split
    env.unwrapped.set_task(task)                  # or env.reset(options={"task": task})
    assert env.unwrapped.get_task() == task
    same = type(task).from_dict(task.to_dict())   # serialisable (json-friendly dict)

Bad input fails loudly: an unknown task field, a value out of range, or an action of the wrong
shape raises ``ValueError`` naming the field and what is allowed.

Taught in notebooks/01_task_gallery.py (section "One task API").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from peach_lite.validation import check_int, check_range

__all__ = ["Task", "TaskEnvMixin", "Marker", "float_tuple", "float_value"]


@dataclass(frozen=True)
class Task:
    """Base class of every task description: a frozen dataclass that serialises to a dict.

    Subclasses declare their fields and validate them in ``__post_init__`` (ranges that do not
    depend on the env's constructor arguments); the env checks the rest in ``_check_task``.
    """

    def to_dict(self) -> dict[str, Any]:
        """A json-friendly dict (tuples become lists, numpy scalars become python numbers)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | "Task") -> "Task":
        """Build a task from a dict; an unknown or missing field is a ``ValueError`` that lists the fields."""
        if isinstance(data, cls):
            return data
        if isinstance(data, Task):
            raise ValueError(f"task must be a {cls.__name__} (or a dict of its fields), got a {type(data).__name__}")
        if not isinstance(data, Mapping):
            raise ValueError(f"task must be a {cls.__name__} or a dict, got {type(data).__name__}: {data!r}")
        known = [f.name for f in fields(cls)]
        unknown = [key for key in data if key not in known]
        if unknown:
            raise ValueError(f"unknown task field {unknown[0]!r} for {cls.__name__}; known fields: {known}")
        missing = [name for name in known if name not in data and _has_no_default(cls, name)]
        if missing:
            raise ValueError(f"task field {missing[0]!r} is missing for {cls.__name__}; fields: {known}")
        return cls(**data)


Marker = tuple[np.ndarray, np.ndarray, float]
"""A marker drawn in rendered frames: (position (3,), rgba (4,) in [0, 1], radius)."""


class TaskEnvMixin:
    """The task API, mixed into every ``gymnasium.Env`` of ``peach_lite.envs``.

    A family sets the class variables and implements ``_sample_tasks`` (and, where the reference
    fixes its split, ``_make_split``), ``_check_task`` and ``_apply_task``.

    Taught in notebooks/01_task_gallery.py (section "One task API").
    """

    task_cls: ClassVar[type[Task]]
    """The dataclass describing one task of this family."""
    num_train_tasks: ClassVar[int] = 80
    """Size of the fixed training split (reference split size of the family)."""
    num_test_tasks: ClassVar[int] = 20
    """Size of the fixed test split."""
    split_seed: ClassVar[int] = 1337
    """Seed of the fixed split; 1337 is the seed oyster (PEARL) uses for its task lists."""

    _task: Task | None = None
    _markers: list[Marker]
    _split_cache: tuple[list[Task], list[Task]] | None = None

    # ----------------------------------------------------------------------------- public API
    def sample_tasks(self, n: int, seed: int | None = None) -> list[Task]:
        """Draw ``n`` tasks from the family's task distribution (same seed -> same tasks)."""
        check_int("n", n, 1)
        if seed is not None:
            check_int("seed", seed, 0)
        return list(self._sample_tasks(np.random.default_rng(seed), int(n)))

    def set_task(self, task: Task | Mapping[str, Any]) -> None:
        """Make ``task`` (a task dataclass or its dict) current; it applies from the next ``reset``.

        Raises ``ValueError`` for an unknown field or a value out of range.
        """
        task = self.task_cls.from_dict(task)
        self._check_task(task)
        self._task = task
        self._apply_task(task)

    def get_task(self) -> Task:
        """The current task."""
        if self._task is None:
            raise ValueError("no task set yet: call set_task(...) first")
        return self._task

    @property
    def task(self) -> Task:
        """The current task; assigning calls ``set_task`` (so ``vec_env.set_attr("task", tasks)`` works)."""
        return self.get_task()

    @task.setter
    def task(self, value: Task | Mapping[str, Any]) -> None:
        self.set_task(value)

    def train_tasks(self) -> list[Task]:
        """The fixed training split (``num_train_tasks`` tasks, seeded with ``split_seed``)."""
        return list(self._split()[0])

    def test_tasks(self) -> list[Task]:
        """The fixed test split (``num_test_tasks`` tasks, disjoint from training where the family allows)."""
        return list(self._split()[1])

    def set_markers(self, markers: Sequence[Sequence[Any]]) -> None:
        """Draw extra spheres in rendered frames, e.g. HAC's subgoals.

        Args:
            markers: a list of ``(position, rgba)`` or ``(position, rgba, radius)``; position is
                (x, y) or (x, y, z), rgba four numbers in [0, 1]. An empty list clears them.
        """
        self._markers = [
            _parse_marker(i, m, self._default_marker_radius(), self._default_marker_z()) for i, m in enumerate(markers)
        ]

    def get_markers(self) -> list[Marker]:
        """The markers set by ``set_markers`` (position (3,), rgba (4,), radius)."""
        return list(getattr(self, "_markers", []))

    # ------------------------------------------------------------------------ for subclasses
    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        raise NotImplementedError

    def _make_split(self) -> tuple[list[Task], list[Task]]:
        tasks = self.sample_tasks(self.num_train_tasks + self.num_test_tasks, seed=self.split_seed)
        return tasks[: self.num_train_tasks], tasks[self.num_train_tasks :]

    def _check_task(self, task: Task) -> None:
        """Checks that depend on the env's constructor arguments (e.g. the number of arms)."""

    def _apply_task(self, task: Task) -> None:
        """Push the task into the simulator (e.g. move the goal site)."""

    def _default_marker_radius(self) -> float:
        return 0.05

    def _default_marker_z(self) -> float:
        """Height given to a marker set as (x, y)."""
        return 0.0

    def _init_task_api(self, initial_task: Task) -> None:
        self._markers = []
        self.set_task(initial_task)

    reset_options: ClassVar[tuple[str, ...]] = ("task",)
    """The keys ``reset(options=...)`` accepts."""

    def _task_from_options(self, options: Mapping[str, Any] | None) -> None:
        """Handle ``reset(options={"task": ...})``; a key not in :attr:`reset_options` is a ValueError."""
        if not options:
            return
        unknown = [key for key in options if key not in self.reset_options]
        if unknown:
            raise ValueError(f"unknown reset option {unknown[0]!r}; known options: {list(self.reset_options)}")
        if "task" in options:
            self.set_task(options["task"])

    def _split(self) -> tuple[list[Task], list[Task]]:
        if self._split_cache is None:
            self._split_cache = self._make_split()
        return self._split_cache

    def _check_box_action(self, action: Any) -> np.ndarray:
        """Return the action as a float array; wrong shape or non-finite values are a ValueError.

        Kept cheap (about 1.5 us): it runs on every step of every family.
        """
        space = self.action_space  # type: ignore[attr-defined]
        if type(action) is np.ndarray and action.dtype.kind == "f":
            array = action
        else:
            try:
                array = np.asarray(action, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"action must be an array of shape {space.shape}, got {action!r}") from None
        if array.shape != space.shape:
            raise ValueError(f"action must have shape {space.shape}, got {array.shape}")
        if not math.isfinite(array.sum()):  # one reduction instead of the slower isfinite().all()
            raise ValueError(f"action must be finite, got {array}")
        return array

    def _check_discrete_action(self, action: Any) -> int:
        """Return the action as an int in ``[0, n-1]``; anything else is a ValueError."""
        n = int(self.action_space.n)  # type: ignore[attr-defined]
        array = np.asarray(action)
        if array.shape not in ((), (1,)) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"action must be one integer in [0, {n - 1}], got {action!r} (shape {array.shape})")
        value = int(array.reshape(()))
        if not 0 <= value < n:
            raise ValueError(f"action must be in [0, {n - 1}], got {value}")
        return value


def float_tuple(field: str, value: Any, length: int | None, low: float | None, high: float | None) -> tuple[float, ...]:
    """Coerce ``value`` to a tuple of floats with every entry in ``[low, high]``; ValueError otherwise."""
    try:
        items = [float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1)]
        if np.ndim(value) != 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a sequence of numbers, got {value!r}") from None
    if length is not None and len(items) != length:
        raise ValueError(f"{field} must have {length} entries, got {len(items)}")
    for i, item in enumerate(items):
        if not math.isfinite(item):
            raise ValueError(f"{field}[{i}] must be finite, got {item}")
        check_range(f"{field}[{i}]", item, low, high)
    return tuple(items)


def float_value(field: str, value: Any, low: float | None, high: float | None) -> float:
    """Coerce one number to float, finite and in ``[low, high]``; ValueError otherwise."""
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {number}")
    check_range(field, number, low, high)
    return number


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _has_no_default(cls: type, name: str) -> bool:
    from dataclasses import MISSING

    for f in fields(cls):
        if f.name == name:
            return f.default is MISSING and f.default_factory is MISSING
    return True


def _parse_marker(index: int, marker: Sequence[Any], default_radius: float, default_z: float) -> Marker:
    if not isinstance(marker, (tuple, list)) or len(marker) not in (2, 3):
        raise ValueError(f"markers[{index}] must be (position, rgba) or (position, rgba, radius), got {marker!r}")
    position = np.asarray(marker[0], dtype=np.float64).reshape(-1)
    if position.shape not in ((2,), (3,)) or not np.all(np.isfinite(position)):
        raise ValueError(f"markers[{index}] position must be (x, y) or (x, y, z), got {marker[0]!r}")
    if position.shape == (2,):
        position = np.append(position, default_z)
    rgba = np.asarray(float_tuple(f"markers[{index}] rgba", marker[1], 4, 0.0, 1.0), dtype=np.float32)
    radius = default_radius
    if len(marker) == 3:
        check_range(f"markers[{index}] radius", marker[2], 1e-6, None)
        radius = float(marker[2])
    return position, rgba, radius
