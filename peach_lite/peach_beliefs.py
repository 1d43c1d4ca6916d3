"""Meta-test beliefs that eliminate, in place of q(z | c): is the posterior the part of PEACH that fails?

* :func:`exact_belief_meta_test` drives the agent's own levels and z codes with exact Bayes over the train goals
  (posterior sampling that eliminates): what the meta-test would score if only the belief were fixed.
* :func:`fit_paid_model` learns a likelihood p(paid | z, s') over the train tasks' codes (or scores the agent's own
  reward decoder), and :func:`learned_belief_meta_test` weighs the same hypotheses with it, reading only the context
  rows q(z | c) reads: can the agent's own context eliminate, given a belief that multiplies?

Neither is Algorithm 2: both replace q_φ(z | c) with a weighted set of the train tasks' codes.

Taught in notebooks/11_peach.py (sections "The belief is the wall: the same agent under an exact belief" and "A learned
likelihood over the train tasks").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torch import Tensor, nn

from peach_lite.loop import TaskBatch, run_episodes
from peach_lite.nets import mlp
from peach_lite.peach_context import probe_attempt_row
from peach_lite.peach_diagnostics import PROBE_SEED, _attempt_pool, _checked_probe_rows
from peach_lite.posterior import Belief, act_on_belief
from peach_lite.validation import check_int

__all__ = ["exact_belief_meta_test", "fit_paid_model", "learned_belief_meta_test"]


def exact_belief_meta_test(agent: Any, envs: Any, tasks: Sequence[Any], *, num_episodes: int | None = None,
                           num_rows: int | None = None, unpaid_weight: float = 1e-3, seed: int = PROBE_SEED) -> dict[str, Any]:
    """PEACH's levels and z codes driven by an exact, eliminating belief: is the posterior the part that fails?

    Not PEACH's meta-test (Algorithm 2) but a diagnostic: q(z | c) is replaced by Bayes over hypotheses, the env's train
    goals. Each hypothesis has a code, the agent's own belief given a paid attempt at its goal (the paid-context probe's
    context). For each test task the weights start uniform; each episode draws a hypothesis ∝ weights and runs one greedy
    episode on z ~ its code. A failed episode multiplies by ``unpaid_weight`` the weight of every hypothesis whose goal
    its path passed within the goal threshold (the sparse reward said "not here"); a paid one keeps only the hypothesis
    that paid. This is posterior sampling with elimination (the maze oracles' reference) carried out by the agent's own
    top level and lower levels.

    Args:
        agent: a trained :class:`~peach_lite.peach.PEACH` (``task_inference="posterior"``).
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of its hidden-sites maze (its train tasks are the hypotheses).
        tasks: the tasks to meta-test (e.g. the held-out test tasks).
        num_episodes: episodes per task (default: ``meta_test_episodes``).
    Returns:
        ``success`` ((num_tasks, num_episodes) bool), ``success_per_episode`` (its mean over tasks, a list),
        ``final_success`` (the last episode's), ``num_hypotheses``.

    Taught in notebooks/11_peach.py (section "The belief is the wall: the same agent under an exact belief").
    """
    num_rows = _checked_probe_rows(agent, 1, num_rows)
    num_episodes = agent.config.meta_test_episodes if num_episodes is None else num_episodes
    check_int("num_episodes", num_episodes, 1)
    if not 0.0 <= unpaid_weight < 1.0:
        raise ValueError(f"unpaid_weight must be in [0, 1), got {unpaid_weight}")
    unwrapped = envs.unwrapped
    goals, codes = _train_goal_codes(agent, envs, num_rows)
    threshold = float(unwrapped.goal_threshold)
    weights = np.ones((len(tasks), len(goals)))

    def eliminate(chosen: list[int], episodes: Any) -> None:
        paths = episodes.positions("achieved_goal")  # (num_tasks, T + 1, 2), NaN after an end
        near = np.nan_to_num(np.linalg.norm(paths[:, :, None] - goals[None, None], axis=-1), nan=np.inf) <= threshold
        for i, hypothesis in enumerate(chosen):
            if episodes.success[i]:
                weights[i] = np.eye(len(goals))[hypothesis]
            else:
                weights[i] = np.where(near[i].any(axis=0), weights[i] * unpaid_weight, weights[i])
                weights[i] = weights[i] if weights[i].sum() > 0 else np.ones(len(goals))  # every hypothesis ruled out: start over

    success = _sample_hypotheses(agent, envs, tasks, codes, num_episodes, seed, lambda: weights, eliminate)
    return {"success": success, "success_per_episode": success.mean(axis=0).tolist(), "final_success": float(success[:, -1].mean()),
            "num_hypotheses": len(goals)}


def fit_paid_model(agent: Any, envs: Any, *, num_episodes: int = 96, train_steps: int = 1000, lr: float = 3e-3,
                   num_rows: int | None = None, own_decoder: bool = False, seed: int = PROBE_SEED) -> dict[str, Any]:
    """A learned likelihood for the meta-test's context: p(paid | z, s'), an attempt that ended at s' was paid under
    the task whose code is z.

    The hypotheses are the train tasks, each with its code (the agent's belief given a paid attempt at its goal, as
    in :func:`exact_belief_meta_test`). The data are real top-level attempts on the train tasks: of the agent's lower
    levels under uniformly random subgoals (``num_episodes`` greedy episodes, as :func:`encoder_capacity_probe`
    gathers them: coverage) and of the whole agent under each train task's code (two greedy episodes a task: where
    its attempts end in a meta-test), each labelled for every train task by the env's own reward (as hindsight task
    relabelling does in training). A fresh MLP of the reward decoder's form (``PeachConfig``'s
    ``reward_decoder_form="mlp"``: (z, s') -> logit) learns them by cross-entropy (Adam at ``lr``, full batch). It is
    scored on attempts of the held-out test tasks' episodes, still labelled for the train tasks.

    With ``own_decoder=True`` nothing is fitted: the model is the agent's own reward decoder, the likelihood learned
    inside Algorithm 1 (``reward_decoder_weight`` > 0: trained on z ~ q(z | c), not on the codes), scored the same way.

    Returns:
        ``model`` (the fitted MLP, in eval mode, or the agent's decoder), ``codes`` (a :class:`~peach_lite.posterior.Belief`, one row per train
        task), ``goals`` ((num_train_tasks, goal_dim)), ``final_loss``, ``num_attempts``, ``paid_share`` (share of the
        (attempt, task) pairs paid: the best constant guess's loss is its binary entropy), ``heldout_error`` (share of
        held-out (attempt, task) pairs misclassified at 0.5), ``heldout_paid_recall`` (share of the paid pairs called paid).

    Taught in notebooks/11_peach.py (section "A learned likelihood over the train tasks").
    """
    num_rows = _checked_probe_rows(agent, 1, num_rows)
    check_int("num_episodes", num_episodes, 2)
    check_int("train_steps", train_steps, 1)
    if not lr > 0.0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if own_decoder and not agent.config.reward_decoder_weight > 0:
        raise ValueError(f"own_decoder needs an agent trained with its reward decoder (reward_decoder_weight > 0), got {agent.config.reward_decoder_weight}")
    unwrapped = envs.unwrapped
    goals, codes = _train_goal_codes(agent, envs, num_rows)
    reward_fn = unwrapped.compute_reward

    def labelled(tasks: Sequence[Any], pool_seed: int) -> tuple[Tensor, Tensor]:
        ends = np.concatenate([_attempt_pool(agent, envs, tasks, num_episodes, pool_seed)["ends"],
                               _coded_attempt_ends(agent, envs, tasks, codes, pool_seed)])
        paid = np.stack([np.asarray(reward_fn(ends, goal), np.float32) == 0.0 for goal in goals])  # (K, M)
        inputs = torch.cat([codes.mean[:, None].expand(-1, len(ends), -1), torch.as_tensor(ends)[None].expand(len(goals), -1, -1)], -1)
        return inputs.reshape(-1, inputs.shape[-1]), torch.as_tensor(paid, dtype=torch.float32).reshape(-1)

    inputs, paid = labelled(unwrapped.train_tasks(), seed)
    if own_decoder:
        model = agent.reward_decoder
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = mlp(inputs.shape[-1], 1, agent.config.encoder_hidden[:2])
        optimizer = torch.optim.Adam(model.parameters(), lr=float(lr))
        for _ in range(train_steps):
            loss = nn.functional.binary_cross_entropy_with_logits(model(inputs).squeeze(-1), paid)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
    heldout, heldout_paid = labelled(unwrapped.test_tasks(), seed + 1)
    with torch.no_grad():
        loss = nn.functional.binary_cross_entropy_with_logits(model(inputs).squeeze(-1), paid)
        called = model(heldout).squeeze(-1) > 0.0
    truth = heldout_paid > 0.5
    return {"model": model, "codes": codes, "goals": goals, "final_loss": float(loss), "num_attempts": len(inputs) // len(goals),
            "paid_share": float(paid.mean()),
            "heldout_error": float((called != truth).float().mean()),
            "heldout_paid_recall": float(called[truth].float().mean()) if truth.any() else float("nan")}


def learned_belief_meta_test(agent: Any, envs: Any, tasks: Sequence[Any], *, fitted: dict[str, Any] | None = None,
                             num_episodes: int | None = None, floor: float = 1e-3, seed: int = PROBE_SEED) -> dict[str, Any]:
    """PEACH's levels and z codes driven by a belief that eliminates with a LEARNED likelihood, read from the same
    context rows q(z | c) reads: can the agent's own context rule places out once the belief multiplies likelihoods?

    Not PEACH's meta-test (Algorithm 2) but its belief swapped for posterior sampling over the train tasks' codes
    (:func:`fit_paid_model`; fitted here unless ``fitted`` is given). Per test task the log-weights start equal; each
    episode draws a hypothesis ∝ weights and runs one greedy episode on z ~ its code; then every top-level attempt of
    the episode, the row (s, ã, r, s') the context gains, adds log p(r | z_k, s') to hypothesis k's log-weight, with
    p(paid) clipped to [``floor``, 1 - ``floor``] (one failed attempt where z_k pays scales its weight by at most
    ``floor``, as :func:`exact_belief_meta_test`'s ``unpaid_weight``). Unlike the exact belief, it sees only where
    attempts ended (not the whole path) and knows no goal: the likelihood is the fitted model's.

    Returns:
        ``success`` ((num_tasks, num_episodes) bool), ``success_per_episode``, ``final_success``, ``num_hypotheses``,
        and the fit's ``heldout_error`` and ``heldout_paid_recall``.

    Taught in notebooks/11_peach.py (section "A learned likelihood over the train tasks").
    """
    fitted = fit_paid_model(agent, envs, seed=seed) if fitted is None else fitted
    missing = sorted({"model", "codes", "heldout_error", "heldout_paid_recall"} - set(fitted))
    if missing:
        raise ValueError(f"fitted must be fit_paid_model's result, a dict with model, codes, heldout_error and heldout_paid_recall; missing {missing}")
    num_episodes = agent.config.meta_test_episodes if num_episodes is None else num_episodes
    check_int("num_episodes", num_episodes, 1)
    if not 0.0 < floor < 0.5:
        raise ValueError(f"floor must be in (0, 0.5), got {floor}")
    model, codes = fitted["model"], fitted["codes"]
    goal_dim = agent.spec.goal_dim
    log_weights = np.zeros((len(tasks), len(codes)))

    def weigh(chosen: list[int], episodes: Any) -> None:
        for i, attempts in enumerate(agent.attempts):
            if not attempts:
                continue
            ends = torch.as_tensor(np.stack([np.ravel(t.next_obs)[:goal_dim] for t, _, _ in attempts]), dtype=torch.float32)
            paid = torch.as_tensor([float(t.reward) == 0.0 for t, _, _ in attempts])
            inputs = torch.cat([codes.mean[:, None].expand(-1, len(ends), -1), ends[None].expand(len(codes), -1, -1)], -1)
            with torch.no_grad():
                p_paid = torch.sigmoid(model(inputs).squeeze(-1)).double().clamp(floor, 1.0 - floor)  # (K, attempts)
            log_weights[i] += torch.where(paid, p_paid, 1.0 - p_paid).log().sum(dim=1).numpy()

    success = _sample_hypotheses(agent, envs, tasks, codes, num_episodes, seed,
                                 lambda: np.exp(log_weights - log_weights.max(axis=1, keepdims=True)), weigh)
    return {"success": success, "success_per_episode": success.mean(axis=0).tolist(), "final_success": float(success[:, -1].mean()),
            "num_hypotheses": len(codes), "heldout_error": fitted["heldout_error"], "heldout_paid_recall": fitted["heldout_paid_recall"]}


def _sample_hypotheses(agent: Any, envs: Any, tasks: Sequence[Any], codes: Belief, num_episodes: int, seed: int,
                       weights: Any, update: Any) -> np.ndarray:
    """Posterior sampling over hypothesis codes: each episode draws one hypothesis per task ∝ ``weights()`` ((num_tasks,
    K), unnormalised), runs one greedy episode on z ~ its code, then calls ``update(chosen, episodes)``. The agent's
    belief and generator are restored. Returns success, (num_tasks, num_episodes) bool."""
    rng = np.random.default_rng(seed)
    success = np.zeros((len(tasks), num_episodes), bool)
    saved_belief, saved_generator = agent.belief, agent.generator
    agent.generator = torch.Generator(device=saved_generator.device).manual_seed(int(seed))
    try:
        for k in range(num_episodes):
            chosen = [int(rng.choice(len(codes), p=w / w.sum())) for w in weights()]
            agent.belief = codes[chosen]
            with torch.no_grad():
                episodes = run_episodes(agent, envs, TaskBatch.from_list(list(tasks), split="test"), explore=False, record=True)
            success[:, k] = episodes.success
            update(chosen, episodes)
    finally:
        agent.belief, agent.generator = saved_belief, saved_generator
    return success


def _coded_attempt_ends(agent: Any, envs: Any, tasks: Sequence[Any], codes: Belief, seed: int, num_samples: int = 2) -> np.ndarray:
    """(M, goal_dim) where the agent's top-level attempts ended in greedy episodes on ``tasks``, task k under code
    k mod K: where the top level goes when z names a train task (the attempts a meta-test's context holds)."""
    ends = []
    for k, task in enumerate(tasks):
        code = k % len(codes)
        act_on_belief(agent, envs, task, Belief(codes.mean[code : code + 1], codes.var[code : code + 1]), num_samples=num_samples, seed=seed + k)
        ends += [np.ravel(t.next_obs)[: agent.spec.goal_dim] for attempts in agent.attempts for t, _, _ in attempts]
    return np.stack(ends).astype(np.float32)


def _train_goal_codes(agent: Any, envs: Any, num_rows: int) -> tuple[np.ndarray, Belief]:
    """The train tasks' goals (K, goal_dim) and their codes: the agent's belief given ``num_rows`` copies of a paid
    attempt at each goal (the paid-context probe's context), a K-row :class:`~peach_lite.posterior.Belief`."""
    goals = np.stack([np.asarray(task.goal, np.float32) for task in envs.unwrapped.train_tasks()])
    rows = torch.as_tensor(np.stack([np.stack([probe_attempt_row(agent.spec.obs_dim, goal, 0.0)] * num_rows) for goal in goals]))
    with torch.no_grad():
        codes = agent.posterior.infer(rows)
    return goals, Belief(codes.mean.float(), codes.var.float())
