"""Where a meta-test posterior's variance sits: in the dimensions of z that carry the task, or in the rest?

"The posterior variance after the first success" (PEACH's issue: below 0.2 of the prior's) is a mean over z's
dimensions, and it is not scale-free: a posterior can separate the tasks by moving its means apart as well as by
narrowing. :func:`variance_decomposition` takes the number apart on a :class:`~peach_lite.posterior.MetaTestResult`
whose tasks carry discrete labels (the maze's sites):

* per dimension, the variance after each task's first success and how far apart the sites' mean beliefs lie there,
  over the posterior's own standard deviation (``separation``); the dimensions with separation >= 1 carry the site;
* z's scale: the root mean square of the posterior means;
* a scale-free reading: the share of samples z ~ q(z | c) after the first success that lie nearest their own site's
  mean belief (``samples_on_site``).

Taught in notebooks/11_peach.py (section "Why the variance grows").
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from peach_lite.posterior import MetaTestResult
from peach_lite.validation import check_int

__all__ = ["first_success_episodes", "variance_decomposition"]


def first_success_episodes(result: MetaTestResult) -> tuple[np.ndarray, np.ndarray]:
    """The episode after each task's first success.

    Args:
        result: a meta-test with ``success`` (num_tasks, num_trajectories).
    Returns:
        ``(tasks, episodes)``, each (n,) int: the tasks whose first success came before their last trajectory, and the
        index of the trajectory after it (its z was drawn from a posterior whose context holds the success).

    Taught in notebooks/11_peach.py (section "Task inference, measured").
    """
    if result.success is None:
        raise ValueError("result.success must be recorded (a meta-test of an env that reports success), got None")
    tasks, episodes = [], []
    for task in range(result.success.shape[0]):
        hits = np.flatnonzero(result.success[task, :-1])
        if hits.size:
            tasks.append(task)
            episodes.append(int(hits[0]) + 1)
    return np.array(tasks, dtype=int), np.array(episodes, dtype=int)


def variance_decomposition(result: MetaTestResult, labels: np.ndarray, *, reference_means: np.ndarray | None = None,
                           reference_labels: np.ndarray | None = None, num_samples: int = 64, seed: int = 0) -> dict[str, Any]:
    """Take the variance after the first success apart: per dimension of z, against how far apart the tasks lie.

    Args:
        result: a meta-test with ``success``, ``z_mean`` and ``z_var`` (num_tasks, num_trajectories, latent_dim).
        labels: (num_tasks,) int label of each task (the maze's site).
        reference_means, reference_labels: (M, latent_dim) beliefs and (M,) their labels that define each label's mean
            belief (e.g. the train tasks' final posterior means, as the linear probe reads them); default: the beliefs
            after the first success themselves.
        num_samples: samples of z per task for ``samples_on_site``.
        seed: seed of those samples.
    Returns:
        ``variance_after_success`` (mean over tasks and dimensions, as ``variance_after_first_success``),
        ``per_dim_variance`` (latent_dim,) list, ``per_dim_spread`` (std over labels of each label's mean belief),
        ``per_dim_separation`` (spread over the root of the variance), ``site_dims`` (how many have separation >= 1),
        ``site_dims_separation`` (their mean separation),
        ``site_dims_variance`` / ``other_dims_variance`` (mean variance over those dimensions and over the rest; NaN
        when there are none), ``mean_rms`` (root mean square of the means after the first success: z's scale),
        ``samples_on_site`` (share of samples nearest their own label's mean belief, Euclidean), ``num_tasks`` (tasks
        with a success before their last trajectory). Every value is NaN when there are none.

    Taught in notebooks/11_peach.py (section "Why the variance grows").
    """
    check_int("num_samples", num_samples, 1, None)
    labels = np.asarray(labels, dtype=int)
    if labels.shape != (result.z_mean.shape[0],):
        raise ValueError(f"labels must have shape ({result.z_mean.shape[0]},) (one per task), got {labels.shape}")
    if (reference_means is None) != (reference_labels is None):
        raise ValueError("reference_means and reference_labels must be given together")
    tasks, episodes = first_success_episodes(result)
    latent_dim = result.z_mean.shape[-1]
    if tasks.size == 0:
        nan = float("nan")
        return {"variance_after_success": nan, "per_dim_variance": [nan] * latent_dim, "per_dim_spread": [nan] * latent_dim,
                "per_dim_separation": [nan] * latent_dim, "site_dims": nan, "site_dims_separation": nan, "site_dims_variance": nan,
                "other_dims_variance": nan, "mean_rms": nan, "samples_on_site": nan, "num_tasks": 0}
    means, variances, own = result.z_mean[tasks, episodes], result.z_var[tasks, episodes], labels[tasks]
    ref_means, ref_labels = (means, own) if reference_means is None else (np.asarray(reference_means), np.asarray(reference_labels, dtype=int))
    classes = np.unique(ref_labels)
    centres = np.stack([ref_means[ref_labels == c].mean(axis=0) for c in classes])  # (num_labels, latent_dim)
    per_dim_variance = variances.mean(axis=0)
    spread = centres.std(axis=0)
    separation = spread / np.sqrt(per_dim_variance)
    carries = separation >= 1.0
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(tasks), num_samples, latent_dim, generator=generator, dtype=torch.float64).numpy()
    samples = means[:, None, :] + np.sqrt(variances)[:, None, :] * noise  # (n, num_samples, latent_dim)
    nearest = classes[np.argmin(((samples[:, :, None, :] - centres[None, None]) ** 2).sum(-1), axis=-1)]

    def mean_over(mask: np.ndarray, values: np.ndarray = per_dim_variance) -> float:
        return float(values[mask].mean()) if mask.any() else float("nan")

    return {"variance_after_success": float(np.mean([float(v.mean()) for v in variances])), "per_dim_variance": per_dim_variance.tolist(),
            "per_dim_spread": spread.tolist(), "per_dim_separation": separation.tolist(), "site_dims": float(carries.sum()),
            "site_dims_separation": mean_over(carries, separation), "site_dims_variance": mean_over(carries), "other_dims_variance": mean_over(~carries),
            "mean_rms": float(np.sqrt((means ** 2).mean())), "samples_on_site": float((nearest == own[:, None]).mean()),
            "num_tasks": int(tasks.size)}
