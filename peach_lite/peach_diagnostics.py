"""Which half of PEACH fails, inference or exploration? Probes on a trained agent.

* :func:`gradient_routing` backpropagates each of Algorithm 1's losses alone and lists the parts it reaches.

* :func:`paid_context_probe` gives each task a context that already holds a paid attempt ending at its goal: the
  agent need not explore, only read the context and go there. High success here and low meta-test success means
  the exploration (the prior episode) fails; low success here means inference or control fails.
* :func:`failed_context_probe` gives each task a context of failed attempts at another site: does the posterior
  eliminate that site (the search a meta-test needs before its first paid attempt)?
* :func:`failure_blend_probe` says why elimination stops after one failure: the two-failure belief is the
  precision-weighted average of the two one-failure beliefs (a product of Gaussians), and where it lands in z.
* :mod:`peach_lite.peach_beliefs` swaps q(z | c) for beliefs that eliminate (exact Bayes, a learned likelihood): what
  the meta-test would score if only the belief were fixed.
* :func:`prior_site_visits` runs the agent on prior samples of z and counts which sites the paths pass: the
  exploration a posterior sampler needs (every site reached by some prior sample).
* :func:`site_probe_accuracy` (a linear probe from posterior means to sites) and
  :func:`variance_after_first_success` read a meta-test's beliefs: does z carry the task, does a success collapse it?
* :func:`train_attempt_room_shares` reads where the training collections' top-level subgoals were and where their
  attempts ended, room by room: did collection ever propose, or reach, the far room (exploration while training)?
  :func:`train_exploration` adds how many cells those attempts reached and the collections' success.
* :func:`own_context_elimination` reads the contexts the eliminating slots see in training: how much do a train
  task's own failed attempts rule out?
* :func:`encoder_capacity_probe` trains a fresh encoder of the agent's architecture to regress the goal from real
  contexts: can this encoder and this context format carry the goal at all, given a direct supervised signal?

Taught in notebooks/11_peach.py (section "What the top level needs: hindsight, then inference").
"""
from __future__ import annotations

import copy
import itertools

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torch import Tensor, nn

from peach_lite.envs.maze_hidden import site_of
from peach_lite.envs.point_mass import room_of
from peach_lite.exploration import CellCounts
from peach_lite.loop import GymTaskEnvs, TaskBatch, run_episodes
from peach_lite.peach import EVAL_SEED, meta_test_success, peach_losses, top_context_row
from peach_lite.peach_context import ATTEMPT_OFFSET, probe_attempt_row, train_goal_codes
from peach_lite.pearl import pearl_kl_loss
from peach_lite.posterior import Belief, ContextEncoder, ContextPosterior, MetaTestResult, act_on_belief, consistent_hypotheses
from peach_lite.posterior_variance import first_success_episodes, variance_decomposition
from peach_lite.seeding import seed_everything
from peach_lite.validation import check_int

__all__ = ["gradient_routing", "code_reading_shares", "room_shares", "room_counts", "paid_context_probe", "failed_context_probe", "failure_blend_probe", "prior_site_visits", "site_probe_accuracy", "variance_after_first_success", "diagnose",
           "train_attempt_room_shares", "proposal_grid", "train_exploration", "encoder_capacity_probe", "PROBE_SEED"]

PROBE_SEED = 30_000
"""Seed of the probes' episodes and z draws (training and meta-tests use others)."""


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
        ``success`` (share of episodes that reach the goal); ``success_per_site`` (the same for the tasks of each
        site, ``envs.unwrapped.sites`` order; NaN for a site with no task: is one site out of reach even when its
        goal is in the context?); ``signal_to_noise`` (spread of the posterior means across tasks over the posterior's
        own standard deviation, mean over z's dimensions: about 0 when the posterior ignores the context, "posterior
        collapse"; NaN for point beliefs); ``var_ratio`` (posterior variance over the prior's).

    Taught in notebooks/11_peach.py (section "Where 0.58 stops: the paid-context probe, site by site").
    """
    num_rows = _checked_probe_rows(agent, num_samples, num_rows)
    successes, means, variances = [], [], []
    for k, task in enumerate(tasks):
        row = torch.as_tensor(probe_attempt_row(agent.spec.obs_dim, np.asarray(task.goal, np.float32), 0.0))
        with torch.no_grad():
            belief = agent.posterior.infer(row.expand(1, num_rows, -1))
        belief = Belief(belief.mean.float(), belief.var.float())
        episodes = act_on_belief(agent, envs, task, belief, num_samples=num_samples, seed=seed + k)
        successes.append(float(np.mean(episodes.success)))
        means.append(belief.mean[0].numpy())
        variances.append(belief.var[0].numpy())
    stacked = Belief(torch.as_tensor(np.stack(means)), torch.as_tensor(np.stack(variances)))
    ratio = _signal_to_noise(stacked) if agent.posterior.probabilistic else float("nan")  # point beliefs: no noise
    task_sites, hits = np.array([site_of(task, envs.unwrapped.sites) for task in tasks]), np.array(successes)
    per_site = [float(hits[task_sites == s].mean()) if (task_sites == s).any() else float("nan") for s in range(len(envs.unwrapped.sites))]
    return {"success": float(np.mean(successes)), "success_per_site": per_site, "signal_to_noise": ratio,
            "var_ratio": float(np.mean(variances))}


def prior_site_visits(agent: Any, envs: Any, task: Any, *, num_samples: int = 32, seed: int = PROBE_SEED) -> np.ndarray:
    """Exploration on the prior: ``num_samples`` greedy episodes on ``task``, each on its own z ~ N(0, I), and for each
    site of the maze the share of paths that pass within the env's goal threshold of its centre.

    Returns:
        (num_sites,) float: visit shares, one per site (``envs.unwrapped.site_centers``). A posterior sampler
        needs every entry > 0; the best uninformed tour visits two sites in one episode.

    Taught in notebooks/11_peach.py (section "What the top level needs: hindsight, then inference").
    """
    check_int("num_samples", num_samples, 1)
    unwrapped = envs.unwrapped
    centers, threshold = np.asarray(unwrapped.site_centers, np.float32), float(unwrapped.goal_threshold)
    episodes = act_on_belief(agent, envs, task, agent.posterior.prior(1), num_samples=num_samples, seed=seed)
    return _sites_passed(episodes, centers, threshold).mean(axis=0)


def failed_context_probe(agent: Any, envs: Any, tasks: Sequence[Any], *, num_rows: int | None = None, num_samples: int = 8,
                         seed: int = PROBE_SEED) -> dict[str, Any]:
    """Elimination: does a context of failed attempts steer the next episode away from the sites they tried?

    For each task and each non-empty set F of its *other* sites, the context is ``num_rows`` (default:
    ``context_batch``) unpaid top-level attempts, in turn one per site of F, each ending at its site (s =
    ``ATTEMPT_OFFSET`` from the site towards the centre, at rest; subgoal = the site; reward -1; s' = the site, at
    rest); then ``num_samples`` greedy episodes, each on its own z ~ q(z | c), and as many on prior z. A posterior
    sampler that eliminates never returns to F and samples among the K - |F| sites left (success 1 / (K - |F|));
    one that ignores failures behaves as on the prior.

    Args:
        agent: a trained :class:`~peach_lite.peach.PEACH` (``task_inference="posterior"``).
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of its hidden-sites maze.
        tasks: the tasks to probe (e.g. the held-out test tasks).
    Returns:
        lists indexed like ``failed_sites`` ([1, ..., K - 1], how many sites the context failed at): ``revisit`` and
        ``prior_visit`` (share of episodes whose path passes a site of F, after the context and on the prior),
        ``success`` (share reaching the goal after the context) and ``elimination_reference`` (1 / (K - |F|));
        ``prior_success`` (share reaching the goal on the prior).

    Taught in notebooks/11_peach.py (section "The wall now: the meta-test's own search").
    """
    num_rows = _checked_probe_rows(agent, num_samples, num_rows)
    unwrapped = envs.unwrapped
    centers, threshold = np.asarray(unwrapped.site_centers, np.float32), float(unwrapped.goal_threshold)
    num_sites = len(centers)
    counts = list(range(1, num_sites))
    revisit, prior_visit, success = ({n: [] for n in counts} for _ in range(3))
    prior_success = []
    for k, task in enumerate(tasks):
        others = [j for j in range(num_sites) if j != site_of(task, unwrapped.sites)]
        prior = act_on_belief(agent, envs, task, agent.posterior.prior(1), num_samples=num_samples, seed=seed + 1000 + k)
        prior_passed = _sites_passed(prior, centers, threshold)
        prior_success.append(float(np.mean(prior.success)))
        for n in counts:
            for failed in itertools.combinations(others, n):
                rows = [probe_attempt_row(agent.spec.obs_dim, centers[failed[r % n]], -1.0) for r in range(num_rows)]
                with torch.no_grad():
                    belief = agent.posterior.infer(torch.as_tensor(np.stack(rows))[None])
                belief = Belief(belief.mean.float(), belief.var.float())
                episodes = act_on_belief(agent, envs, task, belief, num_samples=num_samples, seed=seed + 100 * k + sum(failed) + 10 * n)
                revisit[n].append(float(_sites_passed(episodes, centers, threshold)[:, list(failed)].any(axis=1).mean()))
                prior_visit[n].append(float(prior_passed[:, list(failed)].any(axis=1).mean()))
                success[n].append(float(np.mean(episodes.success)))
    return {"failed_sites": counts, "revisit": [float(np.mean(revisit[n])) for n in counts],
            "prior_visit": [float(np.mean(prior_visit[n])) for n in counts], "success": [float(np.mean(success[n])) for n in counts],
            "elimination_reference": [1.0 / (num_sites - n) for n in counts], "prior_success": float(np.mean(prior_success))}


def failure_blend_probe(agent: Any, envs: Any, tasks: Sequence[Any], *, num_rows: int | None = None,
                        seed: int = PROBE_SEED) -> dict[str, Any]:
    """Why two failures are not eliminated: the belief after failing at two sites, read as a point in z.

    PEARL's posterior is a product of Gaussian factors with no prior factor (:func:`~peach_lite.posterior.product_of_gaussians`),
    so the belief from the failures at sites a and b together is the product of their one-failure beliefs: per
    dimension of z, a precision-weighted average of the two means, and narrower than either. One Gaussian cannot say
    "site b or site c", so the one-failure beliefs point at single sites, and their average lands wherever the encoder
    put it, not necessarily on the site left. With ``posterior_form="categorical"`` the beliefs are cluster
    probabilities, the logits add, and the two-failure belief is the normalised geometric mean of the one-failure
    ones: a cluster that either failure ruled out stays out.

    Contexts as in :func:`paid_context_probe` and :func:`failed_context_probe`: ``num_rows`` (default: ``context_batch``)
    copies of a paid attempt at each site (reward 0), of an unpaid attempt at each site (reward -1), and, for each
    pair of sites, unpaid attempts alternating between the two. Then, per pair, one greedy episode on z = the
    two-failure mean, on a task of ``tasks`` whose goal is a remaining site.

    Args:
        agent: a trained :class:`~peach_lite.peach.PEACH` (``task_inference="posterior"``).
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of its hidden-sites maze.
        tasks: tasks with a goal at every site (e.g. the held-out test tasks).
    Returns:
        ``pairs`` (the pairs of failed sites) and, per pair, ``nearest_paid`` (the site whose paid belief's mean is
        nearest the two-failure mean, Euclidean in z: the site the top level takes it for) and ``remaining`` (the sites
        not in the pair); ``one_failure_nearest`` (per site, the site nearest its one-failure mean);
        ``lands_on_remaining`` (share of pairs whose nearest site is a remaining one: 1 for exact elimination) and
        ``one_failure_lands_elsewhere`` (share of sites whose one-failure mean is nearest another site);
        ``blend_error`` (largest gap between a two-failure mean and the precision-weighted average of its one-failure
        means, or for a categorical posterior the normalised geometric mean of its one-failure probabilities: 0 up to
        rounding, the product's identity); ``std_over_gap`` (the two-failure beliefs' standard deviation,
        mean over pairs and dimensions, over the smallest distance between two paid means: far below 1 means every
        sample of z reads as the same site, so sampling no longer searches); ``means`` (``paid`` (K, latent_dim),
        ``one_failure`` (K, latent_dim), ``two_failures`` (pairs, latent_dim) arrays, for plots); ``greedy_sites``
        (per pair, the sites the episode on the two-failure mean passes), ``greedy_reached`` (per pair, whether it
        reached the goal, a remaining site) and ``greedy_success`` (their share).

    Taught in notebooks/11_peach.py (section "The wall now: the meta-test's own search").
    """
    num_rows = _checked_probe_rows(agent, 1, num_rows)
    if num_rows < 2:
        raise ValueError(f"num_rows must be >= 2 (two failed sites share the context), got {num_rows}")
    unwrapped = envs.unwrapped
    centers, threshold = np.asarray(unwrapped.site_centers, np.float32), float(unwrapped.goal_threshold)
    num_sites = len(centers)
    task_of_site = {}
    for task in tasks:
        task_of_site.setdefault(site_of(task, unwrapped.sites), task)
    if len(task_of_site) < num_sites:
        raise ValueError(f"tasks must have a goal at each of the {num_sites} sites, got sites {sorted(task_of_site)}")

    def belief(ends: Sequence[int], reward: float) -> Belief:
        rows = np.stack([probe_attempt_row(agent.spec.obs_dim, centers[ends[r % len(ends)]], reward) for r in range(num_rows)])
        with torch.no_grad():
            inferred = agent.posterior.infer(torch.as_tensor(rows)[None])
        return Belief(inferred.mean[0].double(), inferred.var[0].double())

    paid = [belief([s], 0.0) for s in range(num_sites)]
    failed = [belief([s], -1.0) for s in range(num_sites)]
    paid_means = torch.stack([b.mean for b in paid])

    def nearest(mean: Tensor) -> int:
        return int(torch.argmin(torch.linalg.norm(paid_means - mean, dim=1)))

    pairs = list(itertools.combinations(range(num_sites), 2))
    two = [belief(pair, -1.0) for pair in pairs]
    errors, stds = [], []
    for (a, b), both in zip(pairs, two):
        rows_a, rows_b = (num_rows + 1) // 2, num_rows // 2  # rows at a come first
        if agent.posterior.categorical:  # the logits add: q_ab ∝ q_a^(rows_a / n) q_b^(rows_b / n)
            blend = torch.softmax((rows_a * failed[a].mean.clamp_min(1e-300).log() + rows_b * failed[b].mean.clamp_min(1e-300).log()) / num_rows, -1)
        else:  # precisions add: the precision-weighted average of the means
            weight_a, weight_b = rows_a / failed[a].var, rows_b / failed[b].var
            blend = (weight_a * failed[a].mean + weight_b * failed[b].mean) / (weight_a + weight_b)
        errors.append(float((both.mean - blend).abs().max()))
        stds.append(float(both.var.sqrt().mean()))
    gap = min(float(torch.linalg.norm(paid_means[i] - paid_means[j])) for i, j in pairs)
    nearest_paid = [nearest(b.mean) for b in two]
    remaining = [[s for s in range(num_sites) if s not in pair] for pair in pairs]
    one_nearest = [nearest(b.mean) for b in failed]
    greedy_sites, greedy_success = [], []
    for k, (both, left) in enumerate(zip(two, remaining)):
        at_mean = Belief(both.mean[None].float(), torch.zeros_like(both.var[None]).float())
        episode = act_on_belief(agent, envs, task_of_site[left[0]], at_mean, num_samples=1, seed=seed + k)
        greedy_sites.append([int(j) for j in np.flatnonzero(_sites_passed(episode, centers, threshold)[0])])
        greedy_success.append(float(episode.success[0]))
    return {"pairs": pairs, "greedy_sites": greedy_sites, "greedy_reached": [bool(v) for v in greedy_success],
            "greedy_success": float(np.mean(greedy_success)), "nearest_paid": nearest_paid, "remaining": remaining, "one_failure_nearest": one_nearest,
            "lands_on_remaining": float(np.mean([n in r for n, r in zip(nearest_paid, remaining)])),
            "one_failure_lands_elsewhere": float(np.mean([n != s for s, n in enumerate(one_nearest)])),
            "blend_error": max(errors), "std_over_gap": float(np.mean(stds)) / max(gap, 1e-12),
            "means": {"paid": paid_means.numpy(), "one_failure": torch.stack([b.mean for b in failed]).numpy(),
                      "two_failures": torch.stack([b.mean for b in two]).numpy()}}


def _checked_probe_rows(agent: Any, num_samples: int, num_rows: int | None) -> int:
    """The probes' checks; returns the context size (default: ``context_batch``)."""
    check_int("num_samples", num_samples, 1)
    num_rows = agent.config.context_batch if num_rows is None else num_rows
    check_int("num_rows", num_rows, 1)
    if agent.config.task_inference != "posterior":
        raise ValueError(f"agent.config.task_inference must be 'posterior' for the probe, got {agent.config.task_inference!r}")
    return num_rows


def _sites_passed(episodes: Any, centers: np.ndarray, threshold: float) -> np.ndarray:
    """(num_episodes, num_sites) bool: which sites each recorded path passes within ``threshold``."""
    paths = episodes.positions("achieved_goal")  # (num_episodes, T + 1, 2), NaN after an end
    distance = np.linalg.norm(paths[:, :, None, :] - centers[None, None], axis=-1)
    return (np.nan_to_num(distance, nan=np.inf) <= threshold).any(axis=1)


def site_probe_accuracy(train_means: np.ndarray, train_sites: np.ndarray, test_means: np.ndarray, test_sites: np.ndarray,
                        *, steps: int = 300, seed: int = 0) -> float:
    """Does the posterior mean carry the task? A linear probe (multinomial logistic regression, L-BFGS, a small
    L2 penalty) fitted on train tasks' posterior means, scored on held-out tasks.

    Args:
        train_means, test_means: (N, latent_dim) posterior means (e.g. after a meta-test's last episode).
        train_sites, test_sites: (N,) int site of each task.
    Returns:
        the fraction of held-out tasks whose site the probe predicts.

    Taught in notebooks/11_peach.py (section "Task inference, measured").
    """
    x, y = torch.as_tensor(train_means, dtype=torch.float64), torch.as_tensor(train_sites, dtype=torch.long)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    num_classes = int(max(int(y.max()), int(np.max(test_sites))) + 1)
    generator = torch.Generator().manual_seed(seed)
    weight = (0.01 * torch.randn(x.shape[1], num_classes, generator=generator, dtype=torch.float64)).requires_grad_()
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy((x - mean) / std @ weight + bias, y) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        logits = (torch.as_tensor(test_means, dtype=torch.float64) - mean) / std @ weight + bias
    return float((logits.argmax(1).numpy() == np.asarray(test_sites)).mean())


def variance_after_first_success(result: MetaTestResult) -> float:
    """Posterior variance (mean over z's dimensions) in the episode after each task's first success, as a
    fraction of the prior's (1): NaN if no task succeeded before its last episode.

    Taught in notebooks/11_peach.py (section "Task inference, measured").
    """
    tasks, episodes = first_success_episodes(result)
    return float(np.mean([float(v.mean()) for v in result.z_var[tasks, episodes]])) if tasks.size else float("nan")


def _update_draws(agent: Any, runner: Any, rounds: int, num_batches: int):
    """A copy of ``agent`` collects ``rounds`` rounds with ``runner``, then yields ``num_batches`` meta-batches drawn
    as its update draws them: (copy, tasks, context (T, C, context_dim), goals (T, goal_dim))."""
    check_int("rounds", rounds, 1, None)
    check_int("num_batches", num_batches, 1, None)
    agent = copy.deepcopy(agent)
    for index in range(rounds):
        agent.collect_round(runner, index)
    for _ in range(num_batches):
        tasks = torch.randint(0, agent.num_train_tasks, (agent.config.meta_batch,), generator=agent.generator).tolist()
        _, context, goals = agent.sample_meta_batch(tasks)
        yield agent, tasks, context, goals


def own_context_elimination(agent: Any, runner: Any, *, rounds: int = 6, num_batches: int = 100) -> dict[str, float]:
    """How much do the own-goal contexts of Algorithm 1 rule out? A copy of ``agent`` collects ``rounds`` rounds with
    ``runner`` (over the train tasks), then ``num_batches`` meta-batches are drawn as its update draws them; per
    own-goal slot, the train goals whose reward disagrees with some unpaid attempt's recorded reward are ruled out
    (:func:`~peach_lite.posterior.consistent_hypotheses`, every unpaid row kept).

    Returns:
        ``ruling_out_share`` (the share of own-goal contexts that rule out any train goal), ``max_ruled_out_share``
        (the largest share of the train goals one context rules out) and ``contexts`` (how many were read).

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate")."""
    ruled_out = []
    for copied, tasks, context, goals in _update_draws(agent, runner, rounds, num_batches):
        reward_col, goal_dim = copied.spec.obs_dim + copied.spec.goal_dim, copied.spec.goal_dim
        own = [i for i, t in enumerate(tasks) if np.array_equal(goals[i].numpy(), copied.train_goals[t])]
        reward = context[own][..., reward_col]
        achieved = context[own][..., reward_col + 1 : reward_col + 1 + goal_dim]
        left = consistent_hypotheses(achieved, reward, reward == -1.0, copied.train_goals, copied.reward_fn)
        ruled_out += (1.0 - left.float().mean(dim=1)).tolist()
    shares = np.asarray(ruled_out)
    return {"ruling_out_share": float((shares > 0).mean()), "max_ruled_out_share": float(shares.max()), "contexts": float(shares.size)}


def code_reading_shares(agent: Any, runner: Any, goal_sites: Sequence[int], *, rounds: int = 6, num_batches: int = 100) -> np.ndarray:
    """Near which site's codes is the top level trained to read z? Over meta-batches drawn as the update draws them
    (a copy of ``agent`` first collects ``rounds`` rounds with ``runner``), each slot's z ~ q(z | c) is assigned the
    site (``goal_sites``: one per train goal) of the train goal whose code mean (:func:`train_goal_codes`) is nearest.

    Returns:
        (num_sites,) the share of the update's z samples nearest each site's codes (a site whose codes the top level
        seldom reads near is one whose code it may not follow).

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate")."""
    goal_sites = np.asarray(goal_sites)
    if goal_sites.shape != (agent.num_train_tasks,) or goal_sites.min() < 0:
        raise ValueError(f"goal_sites must hold a site index >= 0 for each of the {agent.num_train_tasks} train goals, got {goal_sites.tolist()}")
    counts = np.zeros(int(goal_sites.max()) + 1)
    for copied, _, context, _ in _update_draws(agent, runner, rounds, num_batches):
        codes = train_goal_codes(copied).mean
        with torch.no_grad():
            z = copied.posterior.sample(copied.posterior.infer(context), generator=copied.generator)
        nearest = torch.cdist(z, codes).argmin(dim=1).cpu().numpy()
        counts += np.bincount(goal_sites[nearest], minlength=counts.size)
    return counts / counts.sum()


def room_shares(grid: CellCounts) -> np.ndarray:
    """(4,) share of a grid's counts in each room of the maze (0: the start room, 2: the far site's), each cell counted
    to the room of its centre; all zeros when nothing was counted.

    Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
    """
    counts = room_counts(grid)
    return counts / counts.sum() if counts.sum() > 0 else counts


def room_counts(grid: CellCounts) -> np.ndarray:
    """(4,) a grid's counts summed per room of the maze, each cell counted to the room of its centre."""
    rooms = room_of(grid.centres())
    return np.array([grid.counts[rooms == room].sum() for room in range(4)], dtype=float)


def proposal_grid(agent: Any, *, missed_only: bool = False) -> CellCounts:
    """The training collections' top-level proposals (``agent.proposal_log``) counted per cell of the subgoal box, the
    grid of ``agent.subgoal_counts``: all of them, or only those the level below missed (``missed_only``).

    Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
    """
    grid = CellCounts(agent.subgoal_counts.low, agent.subgoal_counts.high, agent.subgoal_counts.cells)
    if agent.proposal_log:
        log = np.concatenate(agent.proposal_log)
        grid.add(log[log[:, 4] > 0, 2:4] if missed_only else log[:, 2:4])
    return grid


def train_attempt_room_shares(agent: Any) -> dict[str, np.ndarray]:
    """Where the training collections' top-level attempts went, room by room: ``{"subgoals": (4,), "ends": (4,),
    "proposals": (4,)}``, the :func:`room_shares` of ``agent.subgoal_counts`` (the stored subgoals, HAC's hindsight
    actions: a proposal the level below missed counts where its attempt ended), of ``agent.attempt_counts`` (where the
    lower levels got) and of :func:`proposal_grid` (what the top level proposed, reached or not). A room proposed
    but never reached is a control wall; a room never proposed is the top level's exploration.

    Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals").
    """
    return {"subgoals": room_shares(agent.subgoal_counts), "ends": room_shares(agent.attempt_counts),
            "proposals": room_shares(proposal_grid(agent))}


def train_exploration(agent: Any) -> dict[str, Any]:
    """How widely the training collections searched: ``{"subgoal_room_shares", "attempt_room_shares",
    "proposal_room_shares"}`` (each (4,), :func:`train_attempt_room_shares`), ``"proposal_missed_by_room"`` ((4,), the
    fraction of each room's proposals the level below missed, 0 where none), ``"cells_reached"`` (cells of the count
    grid where some top-level attempt ended), ``"top_attempts"`` (top-level attempts collected) and
    ``"train_success_mean"`` (the mean over rounds of the collections' success). A top level that stops searching
    early reaches fewer cells and stays near its start; one whose proposals in a room are missed meets a control wall.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    shares = train_attempt_room_shares(agent)
    proposed, missed = room_counts(proposal_grid(agent)), room_counts(proposal_grid(agent, missed_only=True))
    return {"subgoal_room_shares": shares["subgoals"].tolist(), "attempt_room_shares": shares["ends"].tolist(),
            "proposal_room_shares": shares["proposals"].tolist(),
            "proposal_missed_by_room": np.divide(missed, proposed, out=np.zeros(4), where=proposed > 0).tolist(),
            "cells_reached": int((agent.attempt_counts.counts > 0).sum()), "top_attempts": int(agent.attempt_counts.counts.sum()),
            "train_success_mean": float(np.mean(agent.train_success)) if agent.train_success else 0.0}


def gradient_routing(agent: Any, batch: dict[str, Tensor], context: Tensor) -> dict[str, set[str]]:
    """Which parameters each of Algorithm 1's losses reaches, measured by backpropagating it alone.

    Returns:
        ``{loss: {part, ...}}`` for the losses ``critic_loss``, ``kl``, ``actor_loss`` and the parts
        ``encoder`` (φ), ``top_actor``, ``top_critic``, ``lower_levels``: a part is listed iff some parameter got
        a nonzero gradient. Gradients are cleared before and after.

    Taught in notebooks/11_peach.py (section "Algorithm 1, line by line"); exercise 1 asks for this map.
    """
    parts = {"encoder": agent.posterior, "top_actor": agent.top.actor, "top_critic": agent.top.critic,
             "lower_levels": nn.ModuleList(agent.hierarchy.levels[:-1])}
    out: dict[str, set[str]] = {}
    for name in ("critic_loss", "kl", "actor_loss"):
        agent.zero_grad(set_to_none=True)
        losses = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=max(agent.config.kl_lambda, 1e-3),
                              generator=torch.Generator().manual_seed(0))
        losses[name].backward()
        out[name] = {part for part, module in parts.items()
                     if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())}
    agent.zero_grad(set_to_none=True)
    return out


def diagnose(agent: Any, env_id: str, *, seed: int | None = None, env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the PEACH benchmarks report about one trained agent, on the maze family ``env_id``.

    A meta-test on the held-out tasks (``success_per_episode``, ``final_success``, ``returns_per_episode``) and on
    the train tasks (for the linear probe ``probe_accuracy``), ``variance_after_success`` and where it sits
    (``variance_parts``: :func:`~peach_lite.posterior_variance.variance_decomposition`, the sites' mean beliefs from the
    train tasks' final posterior means); for a posterior agent
    also the paid-context probe (``paid_context_success``, ``paid_context_success_per_site``, ``paid_context_signal_to_noise``) and the prior's site
    visits (``prior_site_visits``, ``prior_sites_reached``); for every agent, room by room, where its training attempts
    ended (``train_attempt_room_shares``) and where their stored subgoals were (``train_subgoal_room_shares``: HAC's
    hindsight actions, a missed proposal counted where its attempt ended), all zeros for a loaded checkpoint.

    Args:
        agent: a trained :class:`~peach_lite.peach.PEACH`.
        env_id: its maze (``PointMazeHidden-v0`` or a variant), made with ``env_kwargs``.
        seed: meta-test seed (default ``peach.EVAL_SEED``; the train-task meta-test uses seed + 1).

    Taught in notebooks/11_peach.py (section "Task inference, measured").
    """
    seed = EVAL_SEED + 1 if seed is None else seed
    envs = GymTaskEnvs(env_id, seed=EVAL_SEED, **(env_kwargs or {}))
    try:
        test_tasks, train_tasks = envs.unwrapped.test_tasks(), envs.unwrapped.train_tasks()
        test = meta_test_success(agent, envs, test_tasks, seed=seed)
        train = meta_test_success(agent, envs, train_tasks, seed=seed + 1)
        sites, shares = envs.unwrapped.sites, train_attempt_room_shares(agent)
        train_sites, test_sites = np.array([site_of(t, sites) for t in train_tasks]), np.array([site_of(t, sites) for t in test_tasks])
        out: dict[str, Any] = {
            "success_per_episode": test.success.mean(axis=0).tolist(), "final_success": float(test.success[:, -1].mean()),
            "returns_per_episode": test.returns.mean(axis=0).tolist(),
            "probe_accuracy": site_probe_accuracy(train.z_mean[:, -1], train_sites, test.z_mean[:, -1], test_sites),
            "variance_after_success": variance_after_first_success(test),
            "variance_parts": variance_decomposition(test, test_sites, reference_means=train.z_mean[:, -1], reference_labels=train_sites),
            "train_attempt_room_shares": shares["ends"].tolist(), "train_subgoal_room_shares": shares["subgoals"].tolist()}
        if agent.config.task_inference == "posterior":
            probe = paid_context_probe(agent, envs, test_tasks)
            visits = prior_site_visits(agent, envs, test_tasks[0])
            out |= {"paid_context_success": probe["success"], "paid_context_success_per_site": probe["success_per_site"],
                    "paid_context_signal_to_noise": probe["signal_to_noise"],
                    "prior_site_visits": visits.tolist(), "prior_sites_reached": float((visits > 0).sum())}
        return out
    finally:
        envs.close()


def encoder_capacity_probe(agent: Any, envs: Any, *, num_rows: Sequence[int] = (8, 32, 80), num_episodes: int = 96,
                           train_steps: int = 1500, num_eval: int = 256, kl_lambda: float | None = None,
                           lr: float = 1e-3, seed: int = PROBE_SEED) -> dict[str, float]:
    """Can the agent's encoder architecture and context format carry the goal when taught directly?

    Real top-level attempts: ``num_episodes`` greedy episodes of ``agent``'s lower levels under uniformly random
    top-level subgoals (``random_top``), on the env's train tasks (the training pool) and, with another seed, on its
    test tasks (the held-out pool). A context of n rows [s, ã, r, s'] (:func:`~peach_lite.peach.top_context_row`) holds
    n attempts of one pool, its rewards recomputed for a goal by the env's own ``compute_reward``: a *paid* context's
    goal is where one of its attempts ended (as ``hindsight_goal_prob`` in ``PEACH.sample_meta_batch``); an *unpaid*
    context's goal is where another attempt of the pool ended and its rows are drawn among the attempts unpaid for it.

    A FRESH :class:`~peach_lite.posterior.ContextEncoder` (the agent's ``context_dim``, ``latent_dim``,
    ``encoder_hidden``; probabilistic, product of Gaussians, raw inputs as in PEACH) and a linear read-out
    z -> (x, y) learn by supervised regression: per step ``meta_batch`` contexts (half paid, half unpaid, n cycling
    through ``num_rows``), loss = mean squared goal error of the read-out of a reparameterised z ~ q(z | c) plus
    :func:`~peach_lite.pearl.pearl_kl_loss` (a sum over the contexts, as in training, with this loss in place of the
    critic's) weighted by ``kl_lambda`` (default: the agent's; 0: no bottleneck, capacity alone); Adam at ``lr`` (the
    agent's ``encoder_lr``, 3e-4, had not left the prior after 3000 steps even without the KL). Scored on ``num_eval``
    held-out contexts per n and kind, from the posterior mean.

    Args:
        agent: a :class:`~peach_lite.peach.PEACH` (e.g. ``data/checkpoints/peach_maze.pt``); its lower levels move,
            its posterior is compared, nothing of it is trained.
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of its maze.
        num_rows: context sizes n (meta-test contexts grow to about 80 rows).
    Returns:
        flat floats, for kind in (``paid``, ``unpaid``) and each n: ``goal_error_{kind}_{n}`` (mean distance of the
        read-out from the goal, maze units), ``baseline_goal_error_{kind}_{n}`` (predicting the training pool's mean
        goal: no information), ``snr_{kind}_{n}`` (the signal-to-noise of :func:`paid_context_probe`: spread of the
        posterior means across contexts over the posterior's std, mean over z's dimensions), ``rl_snr_{kind}_{n}`` and
        ``rl_goal_error_{kind}_{n}`` (the agent's own posterior on the same contexts; its read-out is a least-squares
        linear map from its posterior means, fitted on training-pool contexts); ``final_loss``, ``num_attempts``.

    Taught in notebooks/11_peach.py (section "Can the encoder carry the goal at all?").
    """
    sizes = [int(n) for n in num_rows]
    if not sizes:
        raise ValueError("num_rows must name at least one context size")
    for n in sizes:
        check_int("num_rows", n, 1)
    check_int("num_episodes", num_episodes, 2)
    check_int("train_steps", train_steps, 1)
    check_int("num_eval", num_eval, 2)
    check_int("seed", seed, 0)
    kl_lambda = float(agent.config.kl_lambda if kl_lambda is None else kl_lambda)
    if not kl_lambda >= 0.0:
        raise ValueError(f"kl_lambda must be >= 0, got {kl_lambda}")
    if not lr > 0.0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if agent.config.task_inference != "posterior" or not agent.posterior.probabilistic:
        raise ValueError(f"agent.config.task_inference must be 'posterior' with a probabilistic z, got {agent.config.task_inference!r}")
    seed_everything(seed)
    unwrapped = envs.unwrapped
    pools = {"train": _attempt_pool(agent, envs, unwrapped.train_tasks(), num_episodes, seed),
             "test": _attempt_pool(agent, envs, unwrapped.test_tasks(), num_episodes, seed + 1)}
    if max(sizes) > min(len(pool["ends"]) for pool in pools.values()) // 2:
        raise ValueError(f"num_rows must be at most half the attempts gathered ({min(len(p['ends']) for p in pools.values())}); raise num_episodes")
    rng = np.random.default_rng(seed)
    reward_fn = unwrapped.compute_reward
    cfg = agent.config
    posterior = ContextPosterior(ContextEncoder(agent.context_dim, cfg.latent_dim, cfg.encoder_hidden, probabilistic=True))
    readout = nn.Linear(cfg.latent_dim, agent.spec.goal_dim)
    optimizer = torch.optim.Adam([*posterior.parameters(), *readout.parameters()], lr=float(lr))
    generator = torch.Generator().manual_seed(seed)
    half = max(1, cfg.meta_batch // 2)
    loss = torch.zeros(())
    for step in range(train_steps):
        n = sizes[step % len(sizes)]
        parts = [_probe_contexts(pools["train"], n, half, paid, rng, reward_fn) for paid in (True, False)]
        context, goals = torch.cat([c for c, _ in parts]), torch.cat([g for _, g in parts])
        belief = posterior.infer(context)
        z = posterior.sample(belief, generator)
        loss = (readout(z) - goals).pow(2).sum(-1).mean() + pearl_kl_loss(belief.mean, belief.var, kl_lambda)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    out: dict[str, float] = {"final_loss": float(loss.detach()), "num_attempts": float(len(pools["train"]["ends"]))}
    mean_goal = pools["train"]["ends"].mean(axis=0)
    for n in sizes:
        for kind, paid in (("paid", True), ("unpaid", False)):
            fit_context, fit_goals = _probe_contexts(pools["train"], n, num_eval, paid, rng, reward_fn)
            context, goals = _probe_contexts(pools["test"], n, num_eval, paid, rng, reward_fn)
            with torch.no_grad():
                mine, rl, rl_fit = posterior.infer(context), agent.posterior.infer(context), agent.posterior.infer(fit_context)
                guess = readout(mine.mean).numpy()
            goals_np = goals.numpy()
            design = np.c_[rl_fit.mean.double().numpy(), np.ones(num_eval)]
            weights = np.linalg.lstsq(design, fit_goals.double().numpy(), rcond=None)[0]
            rl_guess = np.c_[rl.mean.double().numpy(), np.ones(num_eval)] @ weights
            out[f"goal_error_{kind}_{n}"] = float(np.linalg.norm(guess - goals_np, axis=1).mean())
            out[f"rl_goal_error_{kind}_{n}"] = float(np.linalg.norm(rl_guess - goals_np, axis=1).mean())
            out[f"baseline_goal_error_{kind}_{n}"] = float(np.linalg.norm(mean_goal - goals_np, axis=1).mean())
            out[f"snr_{kind}_{n}"] = _signal_to_noise(mine)
            out[f"rl_snr_{kind}_{n}"] = _signal_to_noise(rl)
    return out


def _attempt_pool(agent: Any, envs: Any, tasks: Sequence[Any], num_episodes: int, seed: int) -> dict[str, np.ndarray]:
    """Top-level attempts of greedy episodes under uniformly random subgoals (the agent's lower levels), spread over
    ``tasks``: ``obs`` (M, obs_dim), ``action`` (M, goal_dim), ``next_obs`` (M, obs_dim), ``ends`` (M, goal_dim)."""
    per_task = -(-num_episodes // len(tasks))
    saved = agent.hierarchy.random_top
    agent.hierarchy.random_top = True
    rows: list[Any] = []
    try:
        for k, task in enumerate(tasks[: -(-num_episodes // per_task)]):
            act_on_belief(agent, envs, task, agent.posterior.prior(1), num_samples=per_task, seed=seed + k)
            rows += [transition for attempts in agent.attempts for transition, _, _ in attempts]
    finally:
        agent.hierarchy.random_top = saved
    pool = {name: np.stack([np.ravel(getattr(t, name)) for t in rows]).astype(np.float32) for name in ("obs", "action", "next_obs")}
    pool["ends"] = pool["next_obs"][:, : agent.spec.goal_dim]
    return pool


def _probe_contexts(pool: dict[str, np.ndarray], n: int, count: int, paid: bool, rng: np.random.Generator,
                    reward_fn: Any) -> tuple[Tensor, Tensor]:
    """``count`` contexts of ``n`` attempts of ``pool`` with their goals: (count, n, context_dim), (count, goal_dim).
    Paid: the goal is where one of the context's attempts ended; unpaid: where another attempt ended, no row paid."""
    ends = pool["ends"]
    contexts, goals = [], []
    for _ in range(count):
        if paid:
            rows = rng.choice(len(ends), size=n, replace=False)
            goal = ends[rows[rng.integers(n)]]
        else:
            goal = ends[rng.integers(len(ends))]
            unpaid = np.flatnonzero(reward_fn(ends, goal) != 0.0)
            rows = rng.choice(unpaid, size=n, replace=len(unpaid) < n)
        reward = np.asarray(reward_fn(ends[rows], goal), np.float32)
        contexts.append(np.concatenate([pool["obs"][rows], pool["action"][rows], reward[:, None], pool["next_obs"][rows]], axis=1))
        goals.append(goal)
    return torch.as_tensor(np.stack(contexts)), torch.as_tensor(np.stack(goals))


def _signal_to_noise(belief: Belief) -> float:
    """Spread of the posterior means across contexts over the posterior's std, mean over z's dimensions (as in
    :func:`paid_context_probe`)."""
    spread = belief.mean.double().std(dim=0, unbiased=False)
    noise = belief.var.double().mean(dim=0).sqrt()
    return float((spread / noise).mean())
