"""What PEACH's encoder reads, and what eliminating slots teach it.

* :func:`top_context_row`: one context row per top-level attempt, [s, ã, r, s'].
* :func:`probe_attempt_row`: the row of an attempt that ended at a chosen place (the probes' contexts, the train goals'
  codes).
* :func:`eliminating_loss`: not in Algorithm 1 (``PeachConfig.elimination_weight``): q(z | a context of failed
  attempts) is pulled towards the code of a train goal those failures have not ruled out, the belief posterior
  sampling with elimination would hold (:func:`~peach_lite.posterior.elimination_loss`).
* :func:`with_probe_failures`: adds failed attempts at other train goals to those contexts
  (``PeachConfig.elimination_failures``).
* :func:`train_goal_codes`: q(z | a paid attempt at each train goal), the targets of those slots.

Taught in notebooks/11_peach.py (sections "What the encoder reads" and "Teaching q(z | c) to eliminate").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from peach_lite.posterior import Belief, consistent_hypotheses, consistent_mass_loss, elimination_loss

__all__ = ["ATTEMPT_OFFSET", "top_context_row", "probe_attempt_row", "eliminating_loss", "with_probe_failures", "train_goal_codes"]

ATTEMPT_OFFSET = 0.3
"""A probe's attempt starts this far (maze units) from where it ends, towards the maze's centre."""


def top_context_row(obs: Any, subgoal: Any, reward: float, next_obs: Any) -> np.ndarray:
    """One context row from a top-level attempt: [s, ã, r, s'] (obs_dim + goal_dim + 1 + obs_dim,).

    From the attempt's hindsight-action transition (a): ``obs`` s where the attempt began, ``subgoal`` ã (the
    subgoal, or where the lower level actually got), ``next_obs`` s' where the attempt ended; ``reward`` r is the
    attempt's sparse reward 0/-1 (or the dense diagnostic).

    Taught in notebooks/11_peach.py (section "What the encoder reads"); an exercise re-implements it.
    """
    return np.concatenate([np.ravel(obs), np.ravel(subgoal), [reward], np.ravel(next_obs)]).astype(np.float32)


def probe_attempt_row(obs_dim: int, end: np.ndarray, reward: float) -> np.ndarray:
    """The context row of a probe's top-level attempt with subgoal ``end`` (goal_dim,) that ended there at rest, from
    ``ATTEMPT_OFFSET`` towards the centre, with ``reward`` (0: paid, -1: not): the rows of the paid- and failed-context
    probes (peach_diagnostics) and of the train goals' codes (``elimination_weight``)."""
    end = np.asarray(end, np.float32)
    if end.ndim != 1 or not 0 < end.size <= obs_dim:
        raise ValueError(f"end must be a (goal_dim,) position with 0 < goal_dim <= obs_dim = {obs_dim}, got shape {end.shape}")
    start = end - ATTEMPT_OFFSET * end / max(float(np.linalg.norm(end)), 1e-6)
    at_rest = np.zeros((2, obs_dim), np.float32)  # positions first, velocities (if any) zero
    at_rest[0, : end.size], at_rest[1, : end.size] = start, end
    return top_context_row(at_rest[0], end, reward, at_rest[1])


def train_goal_codes(agent: Any) -> Belief:
    """Each train goal's code: q(z | ``context_batch`` copies of a paid :func:`probe_attempt_row` at that goal), with no
    gradient; fields (K, latent_dim) for a PEACH ``agent``'s K train goals. The eliminating slots' targets, and the
    belief the paid-context probe hands the top level.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate")."""
    rows = np.stack([probe_attempt_row(agent.spec.obs_dim, goal, 0.0) for goal in agent.train_goals])
    rows = torch.as_tensor(rows, device=next(agent.posterior.parameters()).device)
    with torch.no_grad():
        return agent.posterior.infer(rows.unsqueeze(1).expand(-1, agent.config.context_batch, -1))


def with_probe_failures(agent: Any, context: Tensor, keep: Tensor, goals: Tensor) -> tuple[Tensor, Tensor]:
    """``PeachConfig.elimination_failures``: writes 1 to ``elimination_failures`` failed probe attempts into each slot
    of ``context`` (T, C, context_dim), each a :func:`probe_attempt_row` ending at a train goal, chosen at random among
    those whose attempt the slot's goal in ``goals`` (T, goal_dim) does not pay, over random rows, and marks them kept.

    Returns:
        (context, keep): copies, (T, C, context_dim) and (T, C) bool; the rows not written are unchanged.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate")."""
    if context.dim() != 3 or keep.shape != context.shape[:2] or goals.shape != (len(context), agent.spec.goal_dim):
        raise ValueError(f"context must be (T, C, context_dim), keep (T, C) and goals (T, {agent.spec.goal_dim}); got "
                         f"{tuple(context.shape)}, {tuple(keep.shape)}, {tuple(goals.shape)}")
    train_goals = np.asarray(agent.train_goals, np.float32)
    rows = torch.as_tensor(np.stack([probe_attempt_row(agent.spec.obs_dim, goal, -1.0) for goal in train_goals]), device=context.device)
    unpaid = torch.as_tensor(agent.reward_fn(train_goals[None], goals.detach().cpu().numpy()[:, None]) == -1.0)  # (T, K)
    context, keep = context.clone(), keep.clone()
    for i in range(len(context)):
        candidates = torch.nonzero(unpaid[i]).flatten()
        count = min(int(torch.randint(1, agent.config.elimination_failures + 1, (1,), generator=agent.generator)), len(candidates))
        picked = candidates[torch.randperm(len(candidates), generator=agent.generator)[:count]]
        where = torch.randperm(context.shape[1], generator=agent.generator)[:count]
        context[i, where], keep[i, where] = rows[picked], True
    return context, keep


def eliminating_loss(agent: Any, context: Tensor, slots: Sequence[int], goals: Tensor | None = None) -> Tensor:
    """``PeachConfig.elimination_weight``'s loss (not in Alg. 1) for a PEACH ``agent``, on the listed own-goal slots of
    ``context`` (T, C, context_dim), rows as :func:`top_context_row`. Each slot keeps a random subset of its unpaid
    attempts (1 to all of them); the train goals that give every kept row its reward are the hypotheses left, each
    with its code, q(z | ``context_batch`` copies of a paid probe row at its goal) (detached); q(z | the subset) is
    pulled towards the likeliest code left (:func:`~peach_lite.posterior.elimination_loss`) or, with
    ``elimination_form="consistent_mass"``, towards the codes left and away from the rest
    (:func:`~peach_lite.posterior.consistent_mass_loss`). With ``elimination_failures`` > 0, ``goals`` (T, goal_dim)
    holds every slot's own goal, and :func:`with_probe_failures` adds failed probe attempts to the kept rows. Its
    gradient reaches φ only; () zero when no slot keeps an unpaid attempt.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate")."""
    if context.dim() != 3 or context.shape[-1] != agent.context_dim:
        raise ValueError(f"context must be (T, C, {agent.context_dim}), got {tuple(context.shape)}")
    if any(not 0 <= i < context.shape[0] for i in slots):
        raise ValueError(f"slots must be in [0, {context.shape[0] - 1}], got {list(slots)}")
    if agent.config.elimination_failures > 0 and (goals is None or tuple(goals.shape) != (context.shape[0], agent.spec.goal_dim)):
        raise ValueError(f"goals must be ({context.shape[0]}, {agent.spec.goal_dim}), every slot's own goal, when "
                         f"elimination_failures > 0; got {None if goals is None else tuple(goals.shape)}")
    reward_col, goal_dim = agent.spec.obs_dim + agent.spec.goal_dim, agent.spec.goal_dim
    context = context[list(slots)]
    reward, achieved = context[..., reward_col], context[..., reward_col + 1 : reward_col + 1 + goal_dim]
    unpaid = reward == -1.0
    order = torch.rand(unpaid.shape, generator=agent.generator).to(context.device).masked_fill(~unpaid, 2.0)
    count = (torch.rand(len(context), generator=agent.generator).to(context.device) * unpaid.sum(dim=1)).long() + 1
    keep = unpaid & (order.argsort(dim=1).argsort(dim=1) < count.unsqueeze(1))  # the first `count` unpaid rows in a random order
    if agent.config.elimination_failures > 0:
        context, keep = with_probe_failures(agent, context, keep, goals[list(slots)])
        achieved = context[..., reward_col + 1 : reward_col + 1 + goal_dim]
        reward = context[..., reward_col]
    live = keep.any(dim=1)
    if not live.any():
        return torch.zeros((), device=context.device)
    consistent = consistent_hypotheses(achieved[live], reward[live], keep[live], agent.train_goals, agent.reward_fn)
    codes = train_goal_codes(agent)
    loss = consistent_mass_loss if agent.config.elimination_form == "consistent_mass" else elimination_loss
    return loss(agent.posterior.infer(context[live], keep[live]), codes, consistent)
