"""The four-rooms point-mass maze with a HIDDEN goal: PEACH's task family (lesson 11).

``PointMazeHiddenEnv`` is ``PointMazeEnv`` (same MuJoCo arena, dynamics, spaces, rendering and
sparse -1/0 reward with termination within ``goal_threshold`` = 0.4 of the goal), except that the
agent is not told the goal:

* **Sites** (``goal_mode="sites"``, ``peach_lite/PointMazeHidden-v0``): the goal is one of K sites,
  the centres of the rooms named by ``sites`` (default rooms 1, 2, 3, so K = 3), each task jittered
  by U[-site_jitter, site_jitter]^2 (default 0.25). The mass starts near the centre of
  ``start_room`` (default room 0).
* **Region** (``goal_mode="region"``, ``peach_lite/PointMazeHiddenRegion-v0``): the goal lies
  uniformly along the polyline joining the site centres in the given order (default the L-shaped
  band (2, -2) -> (2, 2) -> (-2, 2) through rooms 1, 2, 3 and their doorways), plus the same
  perpendicular jitter; the 0.3 next to each wall is left out. Consecutive sites must be
  neighbouring rooms.
* **Hidden**: the observation keeps the goal-conditioned Dict layout (``observation`` (4,),
  ``achieved_goal`` (2,), ``desired_goal`` (2,)) so HAC code runs unchanged, but ``desired_goal``
  is always zeros. The task reward comes from ``step`` (and ``info``); ``compute_reward(achieved,
  desired)`` stays the goal-conditioned reward for *given* goals (subgoals, hindsight), so calling it
  with the observed ``desired_goal`` does NOT give the task reward.
* ``info``: ``is_success``, ``sparse_reward`` (-1/0), ``dense_reward`` (-distance to the hidden
  goal: the dense-context diagnostic), ``distance``, ``room`` and ``site`` (index into ``sites`` of
  the goal's room).
* Splits: 24 train and 12 test tasks, sites taken in turn (every site in both splits, and in every
  prefix of K tasks), jitters drawn independently, so the splits are disjoint when ``site_jitter`` > 0.
* Horizon 50 (registered ``max_episode_steps``), measured with ``oracles.maze_sites_values`` on the
  real dynamics rather than assumed: the goal-known waypoint controller reaches site 1 or 3 in about
  20 steps and the far site 2 in about 30 (at most 35 over the splits), while touring the sites
  finds the second one by step ~44 and the third only after 56-65 steps. So 50 leaves the oracle
  slack and lets the best uninformed episode check at most K - 1 = 2 of the 3 sites (success 2/3).
  (The design's 60 would let a tour find all three sites in about half of the tasks.)
* Transfer ("same dynamics, a new reward") is just kwargs: ``start_room=2, sites=(0, 1, 3)``.

Taught in notebooks/11_peach.py (section "The hidden-goal maze").
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from peach_lite.envs.base import Task
from peach_lite.envs.point_mass import MASS_RADIUS, ROOM_CENTERS, MazeTask, PointMazeEnv
from peach_lite.validation import check_choice, check_range

__all__ = ["PointMazeHiddenEnv", "site_of", "HIDDEN_HORIZON", "REGION_WALL_GAP"]

HIDDEN_HORIZON = 50
"""Registered ``max_episode_steps`` of both hidden-goal ids (see the module doc for why)."""
REGION_WALL_GAP = 0.3
"""In region mode, goals keep at least this distance from the wall a segment crosses."""


def site_of(task: MazeTask | dict[str, Any], sites: tuple[int, ...] = (1, 2, 3)) -> int:
    """Index into ``sites`` of the room holding ``task``'s goal (-1 if that room is not a site).

    Args:
        task: a ``MazeTask`` (or its dict).
        sites: the env's ``sites`` (rooms 0..3), default (1, 2, 3).

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """
    task = MazeTask.from_dict(task)
    return sites.index(task.goal_room) if task.goal_room in sites else -1


class PointMazeHiddenEnv(PointMazeEnv):
    """Four-rooms maze whose goal (one of K sites, or a point of a region) is hidden from the agent.

    Args:
        sites: rooms (0..3, distinct, not ``start_room``) whose centres are the K goal sites.
        site_jitter: each task's goal is its site centre + U[-site_jitter, site_jitter]^2 (sites
            mode) or + a perpendicular U[-site_jitter, site_jitter] (region mode); in [0, 1].
        goal_mode: ``"sites"`` (K discrete sites) or ``"region"`` (uniform along the polyline
            joining the site centres in order; consecutive sites must be neighbouring rooms).
        start_room: room whose centre (+ U[-start_noise, start_noise]^2) the mass starts at.
        hide_goal: False shows the goal in ``desired_goal`` (the "HAC given the true goal" baseline).
        **kwargs: the rest of ``PointMazeEnv`` (``reward_type``, ``goal_threshold``, ``max_speed``,
            ``start_noise``, ``sample_goal_on_reset``, ``render_mode``, ``width``, ``height``).

    Spaces as ``PointMazeEnv``; ``desired_goal`` is always (0, 0). ``info`` adds ``site``.

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """

    num_train_tasks: ClassVar[int] = 24
    num_test_tasks: ClassVar[int] = 12

    def __init__(
        self,
        sites: tuple[int, ...] = (1, 2, 3),
        site_jitter: float = 0.25,
        goal_mode: str = "sites",
        start_room: int = 0,
        hide_goal: bool = True,
        **kwargs: Any,
    ):
        if "goal_rooms" in kwargs:
            raise ValueError("goal_rooms is fixed by sites in PointMazeHiddenEnv; pass sites=(...) instead")
        check_choice("goal_mode", goal_mode, ["sites", "region"])
        check_range("site_jitter", site_jitter, 0.0, 1.0)
        check_range("start_room", start_room, 0, 3)
        if isinstance(sites, (str, bytes)) or not hasattr(sites, "__len__") or len(sites) == 0:
            raise ValueError(f"sites must be a non-empty sequence of distinct rooms in [0, 3], got {sites!r}")
        for i, room in enumerate(sites):
            if isinstance(room, bool) or not isinstance(room, (int, np.integer)):
                raise ValueError(f"sites[{i}] must be an integer room in [0, 3], got {room!r}")
            check_range(f"sites[{i}]", room, 0, 3)
        sites = tuple(int(r) for r in sites)
        if len(set(sites)) != len(sites):
            raise ValueError(f"sites must be distinct rooms, got {sites}")
        if int(start_room) in sites:
            raise ValueError(f"sites must not contain start_room {start_room} (the goal would be at the start), got {sites}")
        if goal_mode == "region":
            if len(sites) < 2:
                raise ValueError(f"sites must name at least 2 rooms in goal_mode 'region', got {sites}")
            for a, b in zip(sites[:-1], sites[1:]):
                if (a - b) % 4 not in (1, 3):
                    raise ValueError(f"sites must be neighbouring rooms in order in goal_mode 'region' ({a} and {b} are not), got {sites}")
        if not isinstance(hide_goal, bool):
            raise ValueError(f"hide_goal must be True or False, got {hide_goal!r}")
        self.hide_goal = hide_goal
        self.sites = sites
        self.site_jitter = float(site_jitter)
        self.goal_mode = goal_mode
        self.site_centers = ROOM_CENTERS[list(sites)].copy()
        """(K, 2) centres of the sites."""
        super().__init__(goal_rooms=sites, start_room=int(start_room), **kwargs)

    @property
    def num_sites(self) -> int:
        """K, the number of sites."""
        return len(self.sites)

    # ------------------------------------------------------------------------------- gym API
    def step(self, action: Any):
        obs, _, terminated, truncated, info = super().step(action)  # its reward compares with the zeros; replaced
        reward = info["sparse_reward"] if self.reward_type == "sparse" else info["dense_reward"]
        return obs, float(reward) + 0.0, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The maze frame with the hidden goal (green disc) and every site centre (grey dots)."""
        if self.render_mode != "rgb_array":
            return None
        grey = np.array([0.45, 0.45, 0.45, 1.0], np.float32)
        return self._mujoco_frame([(np.array([c[0], c[1], 0.01]), grey, 0.08) for c in self.site_centers])

    def site_of(self, task: Task | dict[str, Any] | None = None) -> int:
        """Index into ``sites`` of ``task``'s goal room (default: the current task); -1 if none."""
        return site_of(self.get_task() if task is None else task, self.sites)

    # ------------------------------------------------------------------------------- task API
    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[MazeTask]:
        return [self._draw(rng, int(k)) for k in rng.integers(0, self.num_sites, size=n)]

    def _make_split(self) -> tuple[list[MazeTask], list[MazeTask]]:
        """Sites in turn (k = i mod K), jitters from one seeded stream: train first, then test."""
        rng = np.random.default_rng(self.split_seed)
        train = [self._draw(rng, i % self.num_sites) for i in range(self.num_train_tasks)]
        test = [self._draw(rng, i % self.num_sites) for i in range(self.num_test_tasks)]
        return train, test

    def _draw(self, rng: np.random.Generator, k: int) -> MazeTask:
        """One task whose goal is at site k (sites mode) or on the region (region mode)."""
        if self.goal_mode == "sites":
            goal = self.site_centers[k] + rng.uniform(-self.site_jitter, self.site_jitter, size=2)
        else:
            goal = self._region_point(rng)
        limit = 4.0 - MASS_RADIUS
        return MazeTask(goal=tuple(np.clip(goal, -limit, limit)), start_room=self.start_room)

    def _region_point(self, rng: np.random.Generator) -> np.ndarray:
        """A point uniform along the site polyline (minus the wall gaps), jittered perpendicularly."""
        segments = len(self.sites) - 1
        length = 4.0 - 2 * REGION_WALL_GAP  # each segment: 2 on each side of its wall, minus the gaps
        s = rng.uniform(0.0, segments * length)
        j = min(int(s // length), segments - 1)
        u = s - j * length  # in [0, length)
        u = u if u < length / 2 else u + 2 * REGION_WALL_GAP  # skip the gap around the wall at u = 2
        a, b = self.site_centers[j], self.site_centers[j + 1]
        direction = (b - a) / 4.0
        normal = np.array([-direction[1], direction[0]])
        return a + u * direction + rng.uniform(-self.site_jitter, self.site_jitter) * normal

    def _check_task(self, task: Task) -> None:
        if task.goal_room not in self.sites:  # type: ignore[attr-defined]
            raise ValueError(f"goal_room must be one of sites {self.sites}, got {task.goal_room}")  # type: ignore[attr-defined]

    # -------------------------------------------------------------------------------- helpers
    def _obs(self) -> dict[str, np.ndarray]:
        obs = super()._obs()
        if self.hide_goal:
            obs["desired_goal"] = np.zeros(2, dtype=np.float32)
        return obs

    def _info(self, achieved_goal: np.ndarray) -> dict[str, Any]:
        info = super()._info(achieved_goal)
        info["site"] = self.site_of() if self._task is not None else -1
        return info
