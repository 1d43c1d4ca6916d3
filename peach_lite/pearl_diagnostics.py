"""Does z carry the task? Three diagnostics for a PEARL agent on the sparse point robot (issue 11, lesson 05).

* :func:`informative_context_probe`: hand the encoder a *paid* context (transitions inside a held-out goal's
  radius) and let the policy act on the resulting z. If it then ends far from the goal, inference or z-conditioning
  is broken, whatever exploration does.
* :func:`prior_rollout_spread`: where the policy ends on prior samples of z. Posterior sampling can only find a
  goal the prior rollouts cover: a good agent spreads its endpoints along the semicircle of goals (angular coverage,
  share within 0.2 of the arc); a hedging agent stops at the goals' centroid, a collapsed one always at one spot.
* :func:`meta_test_curve`: the return of trajectory k = 1..20 of the reference meta-test beside the oracle and the
  semicircle-sweep heuristic (both from :mod:`peach_lite.envs.oracles`).

:func:`diagnose` runs all three on an agent, :func:`diagnose_checkpoints` on every stored PEARL checkpoint::

    python -m peach_lite.pearl_diagnostics            # every data/checkpoints/pearl_point_robot*.pt

Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.envs.point_robot import GOAL_RADIUS, point_robot_rewards
from peach_lite.loop import GymTaskEnvs, TaskBatch, run_episodes
from peach_lite.posterior import Belief, kl_to_prior, meta_test
from peach_lite.validation import check_int

__all__ = ["informative_context_probe", "prior_rollout_spread", "arc_distance", "meta_test_curve", "diagnose",
           "diagnose_checkpoints", "PROBE_SEED"]

PROBE_SEED = 2_024
"""Seed of the probe's contexts, z samples and rollouts (apart from the meta-test's EVAL_SEED)."""

ENV_ID = "peach_lite/PointRobotSparse-v0"


def informative_context_probe(agent: Any, envs: Any, tasks: Sequence[Any], *, num_context: int = 100,
                              seed: int = PROBE_SEED) -> dict[str, float]:
    """Fill each goal's context with ``num_context`` paid transitions (the next state uniform in the goal's disc,
    an action uniform in the policy's box, the sparse reward from the env's reward function), infer q(z | c), and run
    one greedy episode per goal on a sample of it.

    Args:
        agent: a trained :class:`~peach_lite.pearl.PEARL` on the point robot.
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of the sparse point robot.
        tasks: the goals to probe (e.g. the 20 held-out test tasks).
    Returns:
        ``final_distance`` (mean distance of the last position to the goal), ``return`` (mean sparse return),
        ``kl`` (mean KL(q(z | c) || prior) in nats), ``success`` (share of episodes ending within the radius).

    Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
    """
    check_int("num_context", num_context, 1)
    rng = np.random.default_rng(seed)
    goals = np.array([t.goal for t in tasks], dtype=np.float64)  # (N, 2)
    angle = rng.uniform(0, 2 * np.pi, (len(goals), num_context))
    radius = GOAL_RADIUS * np.sqrt(rng.uniform(0, 1, (len(goals), num_context)))
    next_obs = goals[:, None] + np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)  # inside the disc
    action = rng.uniform(-1, 1, (len(goals), num_context, 2))
    obs = next_obs - 0.1 * action  # the point robot moves 0.1 x action
    dense, sparse = point_robot_rewards(next_obs, goals[:, None])
    as_t = lambda x: torch.as_tensor(x, dtype=torch.float32, device=agent.device)  # noqa: E731
    rows = {"obs": as_t(obs), "action": as_t(action), "reward": as_t(dense), "context_reward": as_t(sparse), "next_obs": as_t(next_obs)}
    with torch.no_grad():
        belief = agent.posterior.infer(agent.make_context(rows))
    episodes = _run_on_belief(agent, envs, TaskBatch.from_list(list(tasks), split="test"), belief, seed)
    final = _final_positions(episodes)
    distance = np.linalg.norm(final - goals, axis=-1)
    return {"final_distance": float(distance.mean()), "return": float(episodes.returns.mean()),
            "kl": float(kl_to_prior(belief.mean, belief.var).mean()) if belief.var.min() > 0 else float("nan"),
            "success": float((distance <= GOAL_RADIUS).mean())}


def arc_distance(points: np.ndarray) -> np.ndarray:
    """Distance of points (..., 2) to the goals' arc, the upper unit semicircle: | |p| - 1 | above the x-axis,
    else the distance to the nearer end (1, 0) or (-1, 0)."""
    points = np.asarray(points, dtype=np.float64)
    on_arc = np.abs(np.linalg.norm(points, axis=-1) - 1.0)
    ends = np.minimum(np.linalg.norm(points - [1.0, 0.0], axis=-1), np.linalg.norm(points - [-1.0, 0.0], axis=-1))
    return np.where(points[..., 1] >= 0, on_arc, ends)


def prior_rollout_spread(agent: Any, envs: Any, task: Any, *, num_rollouts: int = 100, num_bins: int = 18,
                         seed: int = PROBE_SEED) -> dict[str, Any]:
    """Where greedy rollouts on ``num_rollouts`` prior samples of z end (the endpoint does not depend on the goal:
    the observation is the position). Coverage counts the ``num_bins`` equal angular sectors of [0, 180] degrees
    that hold an endpoint within 0.2 of the arc (18 bins: 10 degrees each; a goal disc spans ~23 degrees).

    Returns:
        ``angular_coverage`` (share of sectors hit), ``share_near_arc`` (share of endpoints within 0.2 of the arc),
        ``median_radius``, ``endpoints`` ((num_rollouts, 2) list, for plots).

    Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
    """
    check_int("num_rollouts", num_rollouts, 1)
    check_int("num_bins", num_bins, 1)
    prior = agent.posterior.prior(num_rollouts)
    episodes = _run_on_belief(agent, envs, TaskBatch.from_list([task] * num_rollouts, split="test"), prior, seed)
    end = _final_positions(episodes)
    near = arc_distance(end) <= 0.2
    angle = np.degrees(np.arctan2(end[:, 1], end[:, 0]))
    bins = np.clip((angle / 180.0 * num_bins).astype(int), 0, num_bins - 1)
    hit = np.unique(bins[near & (angle >= -5) & (angle <= 185)])
    return {"angular_coverage": float(len(hit) / num_bins), "share_near_arc": float(near.mean()),
            "median_radius": float(np.median(np.linalg.norm(end, axis=-1))), "endpoints": end.tolist()}


def meta_test_curve(agent: Any, envs: Any, tasks: Sequence[Any], *, num_evals: int = 2, seed: int | None = None) -> dict[str, Any]:
    """The reference meta-test (20 trajectories, the first 5 on prior z; score = the last) per trajectory, beside the
    oracle's return and the sweep heuristic's per-episode return on the same goals.

    Args:
        seed: the first meta-test seed (run r uses seed + r); default :data:`peach_lite.pearl.EVAL_SEED`, the
            seed of the manifest's score, so the two agree.
    Returns:
        ``per_trajectory`` (mean return of trajectory k), ``final_return``, ``oracle_return``, ``fraction_of_oracle``,
        ``sweep_per_trajectory``, ``seeds``.

    Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
    """
    from peach_lite.pearl import EVAL_SEED

    seed = EVAL_SEED if seed is None else seed
    results = [meta_test(agent, envs, tasks, seed=seed + r) for r in range(num_evals)]
    returns = np.concatenate([r.returns for r in results], axis=0)
    goals = np.array([t.goal for t in tasks])
    oracle = float(point_robot_oracle_return(goals))
    return {"per_trajectory": returns.mean(axis=0).tolist(), "final_return": float(returns[:, -1].mean()),
            "oracle_return": oracle, "fraction_of_oracle": float(returns[:, -1].mean() / oracle),
            "sweep_per_trajectory": point_robot_sweep_returns(goals, num_episodes=returns.shape[1]).tolist(),
            "seeds": [seed + r for r in range(num_evals)]}


def diagnose(agent: Any, *, num_evals: int = 2, seed: int | None = None) -> dict[str, Any]:
    """All three diagnostics on the 20 held-out goals of the sparse point robot (about 5-10 s on a CPU):
    ``probe`` (:func:`informative_context_probe`), ``prior`` (:func:`prior_rollout_spread`), ``meta_test``
    (:func:`meta_test_curve` with the manifest's seeds unless ``seed``).

    Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
    """
    from peach_lite.pearl import EVAL_SEED

    envs = GymTaskEnvs(ENV_ID, seed=EVAL_SEED)
    try:
        tasks = envs.unwrapped.test_tasks()
        return {"probe": informative_context_probe(agent, envs, tasks), "prior": prior_rollout_spread(agent, envs, tasks[0]),
                "meta_test": meta_test_curve(agent, envs, tasks, num_evals=num_evals, seed=seed)}
    finally:
        envs.close()


def diagnose_checkpoints(paths: Sequence[str | os.PathLike] | None = None, *, num_evals: int = 2) -> dict[str, dict[str, Any]]:
    """:func:`diagnose` on every listed checkpoint (default: every ``data/checkpoints/pearl_point_robot*.pt``),
    by file name; each entry also holds the checkpoint's ``config`` and training ``iterations``.

    Taught in notebooks/05_pearl.py (section "Why it fails: the bootstrap").
    """
    from peach_lite.checkpoints import load_agent
    from peach_lite.paths import data_dir

    if paths is None:
        paths = sorted((data_dir() / "checkpoints").glob("pearl_point_robot*.pt"))
    out = {}
    for path in paths:
        agent, payload = load_agent(path, algorithm="pearl")
        report = diagnose(agent, num_evals=num_evals)
        report["iterations"] = payload["meta"].get("iterations")
        report["config"] = payload["arch"]["config"]
        out[Path(path).name] = report
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m peach_lite.pearl_diagnostics [CHECKPOINT ...]``: print the diagnostics table (default: every
    data/checkpoints/pearl_point_robot*.pt)."""
    paths = list(sys.argv[1:] if argv is None else argv)
    reports = diagnose_checkpoints(paths or None)
    print(f"{'checkpoint':42s} {'meta-test/oracle':>16s} {'probe dist':>10s} {'probe ret':>9s} {'arc cover':>9s} {'near arc':>8s}")
    for name, r in reports.items():
        print(f"{name:42s} {r['meta_test']['fraction_of_oracle']:16.3f} {r['probe']['final_distance']:10.3f} "
              f"{r['probe']['return']:9.2f} {r['prior']['angular_coverage']:9.2f} {r['prior']['share_near_arc']:8.2f}")


# =============================================================================================
# Private helpers


def _run_on_belief(agent: Any, envs: Any, tasks: TaskBatch, belief: Belief, seed: int):
    """One greedy episode per row of ``belief`` (z drawn from it), the agent's belief and generator restored after."""
    saved_belief, saved_generator = agent.belief, agent.generator
    agent.belief = belief
    agent.generator = torch.Generator(device=saved_generator.device).manual_seed(int(seed))
    try:
        with torch.no_grad():
            return run_episodes(agent, envs, tasks, explore=False, record=True)
    finally:
        agent.belief, agent.generator = saved_belief, saved_generator


def _final_positions(episodes: Any) -> np.ndarray:
    """(n, 2) the last valid position of each episode."""
    paths = episodes.positions()  # (n, T + 1, 2), NaN after an env's end
    last = (~np.isnan(paths[..., 0])).sum(axis=1) - 1
    return paths[np.arange(len(paths)), last].astype(np.float64)


if __name__ == "__main__":
    main()
