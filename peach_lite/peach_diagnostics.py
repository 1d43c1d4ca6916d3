"""Which half of PEACH fails, inference or exploration? Two probes on a trained agent.

* :func:`paid_context_probe` gives each task a context that already holds a paid attempt ending at its goal: the
  agent need not explore, only read the context and go there. High success here and low meta-test success means
  the exploration (the prior episode) fails; low success here means inference or control fails.
* :func:`prior_site_visits` runs the agent on prior samples of z and counts which sites the paths pass: the
  exploration a posterior sampler needs (every site reached by some prior sample).

Taught in notebooks/11_peach.py (section "Which half fails").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from peach_lite.posterior import Belief, act_on_belief
from peach_lite.validation import check_int

__all__ = ["paid_context_probe", "prior_site_visits", "PROBE_SEED"]

PROBE_SEED = 30_000
"""Seed of the probes' episodes and z draws (training and meta-tests use others)."""
ATTEMPT_OFFSET = 0.3
"""The probe's paid attempt starts this far (maze units) from the goal, towards the maze's centre."""


def paid_context_probe(agent: Any, envs: Any, tasks: Sequence[Any], *, num_rows: int | None = None, num_samples: int = 4,
                       seed: int = PROBE_SEED) -> dict[str, float]:
    """Inference and control without exploration: each task's context is ``num_rows`` copies (default: the training
    context's size, ``context_batch``) of one paid top-level attempt (s = ``ATTEMPT_OFFSET`` from the goal towards
    the centre, at rest; subgoal = the goal; reward 0; s' = the goal, at rest); then ``num_samples`` greedy episodes
    per task, each on its own z ~ q(z | c).

    Args:
        agent: a trained :class:`~peach_lite.peach.PEACH` (``task_inference="posterior"``).
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of its maze.
        tasks: the tasks to probe (e.g. the held-out test tasks).
    Returns:
        ``success`` (share of episodes that reach the goal); ``signal_to_noise`` (spread of the posterior means
        across tasks over the posterior's own standard deviation, mean over z's dimensions: about 0 when the
        posterior ignores the context, "posterior collapse"; NaN for point beliefs); ``var_ratio`` (posterior variance over the prior's).

    Taught in notebooks/11_peach.py (section "Which half fails").
    """
    check_int("num_samples", num_samples, 1)
    num_rows = agent.config.context_batch if num_rows is None else num_rows
    check_int("num_rows", num_rows, 1)
    if agent.config.task_inference != "posterior":
        raise ValueError(f"agent.config.task_inference must be 'posterior' for the probe, got {agent.config.task_inference!r}")
    from peach_lite.peach import top_context_row  # noqa: PLC0415 (peach imports nothing from here)

    successes, means, variances = [], [], []
    for k, task in enumerate(tasks):
        goal = np.asarray(task.goal, np.float32)
        start = goal - ATTEMPT_OFFSET * goal / max(float(np.linalg.norm(goal)), 1e-6)
        row = torch.as_tensor(top_context_row(np.r_[start, 0.0, 0.0], goal, 0.0, np.r_[goal, 0.0, 0.0]))
        with torch.no_grad():
            belief = agent.posterior.infer(row.expand(1, num_rows, -1))
        belief = Belief(belief.mean.float(), belief.var.float())
        episodes = act_on_belief(agent, envs, task, belief, num_samples=num_samples, seed=seed + k)
        successes.append(float(np.mean(episodes.success)))
        means.append(belief.mean[0].numpy())
        variances.append(belief.var[0].numpy())
    spread = np.std(np.stack(means), axis=0)
    noise = np.sqrt(np.mean(np.stack(variances), axis=0))
    ratio = float(np.mean(spread / noise)) if agent.posterior.probabilistic else float("nan")  # point beliefs: no noise
    return {"success": float(np.mean(successes)), "signal_to_noise": ratio,
            "var_ratio": float(np.mean(variances))}


def prior_site_visits(agent: Any, envs: Any, task: Any, *, num_samples: int = 32, seed: int = PROBE_SEED) -> np.ndarray:
    """Exploration on the prior: ``num_samples`` greedy episodes on ``task``, each on its own z ~ N(0, I), and for each
    site of the maze the share of paths that pass within the env's goal threshold of its centre.

    Returns:
        (num_sites,) float: visit shares, one per site (``envs.unwrapped.site_centers``). A posterior sampler
        needs every entry > 0; the best uninformed tour visits two sites in one episode.

    Taught in notebooks/11_peach.py (section "Which half fails").
    """
    check_int("num_samples", num_samples, 1)
    unwrapped = envs.unwrapped
    centers, threshold = np.asarray(unwrapped.site_centers, np.float32), float(unwrapped.goal_threshold)
    episodes = act_on_belief(agent, envs, task, agent.posterior.prior(1), num_samples=num_samples, seed=seed)
    paths = episodes.positions("achieved_goal")  # (num_samples, T + 1, 2), NaN after an end
    distance = np.linalg.norm(paths[:, :, None, :] - centers[None, None], axis=-1)  # (num_samples, T + 1, num_sites)
    return (np.nan_to_num(distance, nan=np.inf) <= threshold).any(axis=1).mean(axis=0)
