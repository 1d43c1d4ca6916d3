"""Reference values of the hidden-goal maze (``PointMazeHidden-v0``), measured on the real MuJoCo dynamics.

Three ceilings for PEACH and its baselines, all computed by simulation with scripted controllers
through the doorways (nothing is pasted in):

* **oracle** (goal known): ``maze_waypoint_policy`` aimed at the hidden goal; its success rate and
  steps to the goal per site. HAC given the true goal can at best match it.
* **best uninformed episode** (goal unknown, no information yet): the best fixed *tour* of the
  site centres, over every order of the sites. A tour passing through a site centre finds any goal
  of that site (jitter 0.25 * sqrt(2) = 0.35 < threshold 0.4); the horizon lets it check only the
  sites it reaches in time, so its success is (sites checked) / K. HAC without z is capped by it.
* **posterior sampling** over meta-test episodes t = 1..T (one site tried per episode, each
  attempt succeeding with the oracle's success): with elimination (never retry a failed site)
  min(t, K) / K; without elimination (a Gaussian posterior cannot say "not site 1")
  1 - (1 - 1/K)^t. Both are also given multiplied by the oracle success.

``python -m peach_lite.envs.oracles_maze`` prints the values of the registered env.

Taught in notebooks/11_peach.py (section "The hidden-goal maze").
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from peach_lite.validation import check_int, check_range

__all__ = [
    "MazeSitesValues",
    "MazeTourPolicy",
    "maze_hidden_oracle_policy",
    "maze_sites_values",
    "posterior_sampling_curves",
]


@dataclass(frozen=True)
class MazeSitesValues:
    """What ``maze_sites_values`` measured; tuples are per site (index into ``sites``) or per episode t.

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """

    horizon: int
    """Episode length limit the values are for."""
    num_sites: int
    """K."""
    num_tasks: int
    """Tasks simulated (each with one reset seed)."""
    oracle_success: float
    """Success rate of the goal-known waypoint controller within ``horizon``."""
    oracle_mean_steps: float
    """Its mean steps to the goal (over successes)."""
    oracle_max_steps: int
    """Its slowest success, in steps (the horizon's slack is ``horizon - oracle_max_steps``)."""
    oracle_steps_per_site: tuple[float, ...]
    """(K,) its mean steps to the goal per site."""
    uninformed_tour: tuple[int, ...]
    """The best tour: site indices in visiting order (the last ones may be beyond the horizon)."""
    uninformed_success: float
    """Measured success rate of the best tour within ``horizon`` (fraction of the tasks)."""
    uninformed_sites_checked: int
    """Sites whose every task the best tour finds within ``horizon``."""
    uninformed_success_bound: float
    """``uninformed_sites_checked / K``: the best uninformed episode's success probability."""
    uninformed_mean_steps: float
    """Mean episode length of the best tour (``horizon`` for a failed episode)."""
    tour_steps_per_site: tuple[float, ...]
    """(K,) mean steps at which the best tour, unlimited by the horizon, finds each site's goal."""
    full_tour_min_steps: int
    """Fewest steps any tour (any order, any task) needed to find a goal at its LAST site."""
    ps_with_elimination: tuple[float, ...]
    """(T,) min(t, K) / K for t = 1..T."""
    ps_without_elimination: tuple[float, ...]
    """(T,) 1 - (1 - 1/K)^t."""
    ps_with_elimination_scaled: tuple[float, ...]
    """(T,) ``ps_with_elimination`` * ``oracle_success``."""
    ps_without_elimination_scaled: tuple[float, ...]
    """(T,) ``ps_without_elimination`` * ``oracle_success``."""

    def to_dict(self) -> dict[str, Any]:
        """A json-friendly dict of every field."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def posterior_sampling_curves(num_sites: int, num_episodes: int = 6, oracle_success: float = 1.0) -> dict[str, np.ndarray]:
    """Success per meta-test episode t = 1..T of posterior sampling over K equally likely sites.

    Args:
        num_sites: K >= 1.
        num_episodes: T >= 1.
        oracle_success: success of one attempt at the right site, in [0, 1] (multiplies both curves).
    Returns:
        ``with_elimination`` (T,) = min(t, K) / K * oracle_success: the cumulative chance of having
        found the goal by episode t when failed sites are never retried, and
        ``without_elimination`` (T,) = (1 - (1 - 1/K)^t) * oracle_success: sites drawn afresh each episode.

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """
    check_int("num_sites", num_sites, 1)
    check_int("num_episodes", num_episodes, 1)
    check_range("oracle_success", oracle_success, 0.0, 1.0)
    t = np.arange(1, num_episodes + 1)
    return {
        "with_elimination": np.minimum(t, num_sites) / num_sites * oracle_success,
        "without_elimination": (1.0 - (1.0 - 1.0 / num_sites) ** t) * oracle_success,
    }


def maze_hidden_oracle_policy(env: Any) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """The goal-known controller of a hidden-goal maze: ``maze_waypoint_policy`` aimed at the hidden goal.

    The policy reads the goal from ``env.unwrapped.get_task()`` at every call (the observation's
    ``desired_goal`` is zeros), so it follows ``set_task`` and ``reset(options={"task": ...})``.

    Args:
        env: a ``PointMazeHidden`` env (wrapped or not).
    Returns:
        ``obs -> (2,) action``, usable as ``runner.PolicyAgent(policy)`` on that single env.

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """
    from peach_lite.envs.oracles import maze_waypoint_policy

    base = env.unwrapped

    def policy(obs: Mapping[str, np.ndarray]) -> np.ndarray:
        goal = np.asarray(base.get_task().goal, dtype=np.float32)
        return maze_waypoint_policy({"achieved_goal": np.asarray(obs["achieved_goal"]), "desired_goal": goal})

    return policy


class MazeTourPolicy:
    """A goal-unaware tour: steer through the doorways to each target in turn (stateful; ``reset`` per episode).

    It aims ``maze_waypoint_policy`` at the current target and moves on to the next one once within
    ``switch_radius`` of it; after the last target it stays there.

    Args:
        targets: (n, 2) points to visit in order (e.g. site centres).
        switch_radius: distance at which a target counts as visited (0.3: passes within 0.3 + the
            servo lag of the centre, which with jitter 0.25 and threshold 0.4 finds every goal).

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """

    def __init__(self, targets: Sequence[Sequence[float]], switch_radius: float = 0.3):
        self.targets = np.asarray(targets, dtype=np.float64).reshape(-1, 2)
        if len(self.targets) == 0:
            raise ValueError("targets must hold at least one (x, y) point, got none")
        check_range("switch_radius", switch_radius, 0.0, 2.0)
        self.switch_radius = float(switch_radius)
        self.index = 0

    def reset(self) -> None:
        """Start again from the first target."""
        self.index = 0

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        from peach_lite.envs.oracles import maze_waypoint_policy

        position = np.asarray(obs["achieved_goal"], dtype=np.float64)
        while self.index < len(self.targets) - 1 and np.linalg.norm(position - self.targets[self.index]) < self.switch_radius:
            self.index += 1
        target = self.targets[self.index].astype(np.float32)
        return maze_waypoint_policy({"achieved_goal": position.astype(np.float32), "desired_goal": target})


def _steps_to_goal(env: Any, policy: Callable[[Any], np.ndarray], task: Any, seed: int, max_steps: int) -> int | None:
    """Steps ``policy`` takes to end an episode of the unwrapped ``env`` at ``task``'s goal (None: not in max_steps)."""
    obs, _ = env.reset(seed=seed, options={"task": task})
    for step in range(1, max_steps + 1):
        obs, _, terminated, _, _ = env.step(policy(obs))
        if terminated:
            return step
    return None


def maze_sites_values(
    env_or_kwargs: Any = None,
    *,
    tasks: Sequence[Any] | None = None,
    horizon: int | None = None,
    num_episodes: int = 6,
    switch_radius: float = 0.3,
    seed: int = 0,
) -> MazeSitesValues:
    """Oracle, best uninformed tour and posterior-sampling references of a hidden-goal maze (see the module doc).

    Args:
        env_or_kwargs: a ``PointMazeHidden`` env (wrapped or not), or a dict of its kwargs
            (e.g. ``{"start_room": 2, "sites": (0, 1, 3)}``), or None for the defaults. Sites mode only.
        tasks: tasks to simulate (default: the env's 24 train + 12 test tasks).
        horizon: episode limit (default: the env's ``max_episode_steps``, else ``HIDDEN_HORIZON``).
        num_episodes: T, meta-test episodes of the posterior-sampling curves.
        switch_radius: ``MazeTourPolicy``'s radius.
        seed: reset seed of task i is ``seed + i`` (same start for the oracle and every tour).
    Returns:
        ``MazeSitesValues``. Cost: (1 + K!) * len(tasks) episodes, about 3 s for K = 3.

    Taught in notebooks/11_peach.py (section "The hidden-goal maze").
    """
    from peach_lite.envs.maze_hidden import HIDDEN_HORIZON, PointMazeHiddenEnv

    if env_or_kwargs is None or isinstance(env_or_kwargs, Mapping):
        base, spec_horizon = PointMazeHiddenEnv(**dict(env_or_kwargs or {})), None
    else:
        base = env_or_kwargs.unwrapped
        spec = getattr(env_or_kwargs, "spec", None)
        spec_horizon = getattr(spec, "max_episode_steps", None)
        if not isinstance(base, PointMazeHiddenEnv):
            raise ValueError(f"env_or_kwargs must be a PointMazeHidden env or its kwargs, got {type(base).__name__}")
    if base.goal_mode != "sites":
        raise ValueError(f"maze_sites_values needs goal_mode 'sites', got {base.goal_mode!r}")
    horizon = int(horizon or spec_horizon or HIDDEN_HORIZON)
    check_int("horizon", horizon, 1)
    check_int("num_episodes", num_episodes, 1)
    tasks = list(base.train_tasks() + base.test_tasks() if tasks is None else tasks)
    if not tasks:
        raise ValueError("tasks must hold at least one task, got none")
    num_sites, cap = base.num_sites, 4 * horizon
    site = np.array([base.site_of(t) for t in tasks])
    saved_task = base.get_task()

    # (a) the oracle: goal known
    oracle_policy = maze_hidden_oracle_policy(base)
    oracle = np.array([_steps_to_goal(base, oracle_policy, t, seed + i, cap) or cap + 1 for i, t in enumerate(tasks)])
    oracle_ok = oracle <= horizon

    # (b) every tour of the site centres; the best by success within the horizon, then by steps
    best: tuple[tuple[float, float], tuple[int, ...], np.ndarray] | None = None
    full_tour_min = cap + 1
    for order in itertools.permutations(range(num_sites)):
        tour = MazeTourPolicy(base.site_centers[list(order)], switch_radius)
        found = []
        for i, t in enumerate(tasks):
            tour.reset()
            found.append(_steps_to_goal(base, tour, t, seed + i, cap) or cap + 1)
        found = np.array(found)
        last = site == order[-1]
        if last.any():
            full_tour_min = min(full_tour_min, int(found[last].min()))
        score = (float(np.mean(found <= horizon)), -float(np.mean(np.minimum(found, horizon))))
        if best is None or score > best[0]:
            best = (score, order, found)
    assert best is not None
    _, order, found = best
    base.set_task(saved_task)
    checked = sum(bool(np.all(found[site == k] <= horizon)) for k in range(num_sites) if np.any(site == k))
    curves = posterior_sampling_curves(num_sites, num_episodes, 1.0)
    oracle_success = float(np.mean(oracle_ok))
    per_site = lambda steps: tuple(float(np.mean(steps[site == k])) if np.any(site == k) else float("nan")  # noqa: E731
                                   for k in range(num_sites))
    return MazeSitesValues(
        horizon=horizon,
        num_sites=num_sites,
        num_tasks=len(tasks),
        oracle_success=oracle_success,
        oracle_mean_steps=float(np.mean(oracle[oracle_ok])) if oracle_ok.any() else float("nan"),
        oracle_max_steps=int(oracle[oracle_ok].max()) if oracle_ok.any() else 0,
        oracle_steps_per_site=per_site(oracle.astype(float)),
        uninformed_tour=tuple(int(k) for k in order),
        uninformed_success=float(np.mean(found <= horizon)),
        uninformed_sites_checked=int(checked),
        uninformed_success_bound=checked / num_sites,
        uninformed_mean_steps=float(np.mean(np.minimum(found, horizon))),
        tour_steps_per_site=per_site(found.astype(float)),
        full_tour_min_steps=int(full_tour_min),
        ps_with_elimination=tuple(float(v) for v in curves["with_elimination"]),
        ps_without_elimination=tuple(float(v) for v in curves["without_elimination"]),
        ps_with_elimination_scaled=tuple(float(v) * oracle_success for v in curves["with_elimination"]),
        ps_without_elimination_scaled=tuple(float(v) * oracle_success for v in curves["without_elimination"]),
    )


if __name__ == "__main__":
    import json

    print(json.dumps(maze_sites_values().to_dict(), indent=2))
