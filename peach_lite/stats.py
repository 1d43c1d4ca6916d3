"""Honest statistics over seeds with rliable: interquartile mean, stratified bootstrap CIs, P(X > Y).

Few seeds and heavy tails make a plain mean misleading (Agarwal et al., 2021, "Deep RL at the edge of the
statistical precipice"). Every benchmark headline therefore reports, beside the mean, the interquartile
mean (IQM: the mean of the middle 50% of runs) with a 95% stratified bootstrap confidence interval, and,
where a claim compares two methods, the probability of improvement P(X > Y) with its interval.

    from peach_lite.stats import headline_stats, improvement_stats
    headline |= headline_stats("return_ours", returns_ours)        # return_ours_iqm, _ci_low, _ci_high, _mean
    headline |= improvement_stats("return", returns_ours, returns_sb3)  # return_prob_improvement, _ci_low, _ci_high

Needs the ``sweep`` extra (``pip install -e .[sweep]``); lessons never import this module.
Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

__all__ = ["iqm_ci", "probability_of_improvement", "headline_stats", "improvement_stats", "finite_mean", "DEFAULT_REPS"]

DEFAULT_REPS = 5_000
"""Bootstrap resamples (rliable's default is 50,000); 5,000 keeps a headline to seconds on a 2-core CPU."""


def iqm_ci(scores, *, confidence: float = 0.95, reps: int = DEFAULT_REPS, seed: int = 0) -> dict[str, float]:
    """IQM of ``scores`` with a stratified bootstrap confidence interval (rliable ``get_interval_estimates``).

    Args:
        scores: (num_seeds,) or (num_seeds, num_tasks) finite numbers, one row per seed (run). With several
            tasks, the bootstrap resamples seeds within each task (stratified) and the IQM pools all cells.
        confidence: size of the interval, e.g. 0.95.
        reps: bootstrap resamples.
        seed: seeds the bootstrap, so the same scores always give the same interval.
    Returns:
        ``{"iqm", "ci_low", "ci_high", "mean", "num_seeds"}`` as plain floats. A constant input gives a
        zero-width interval; one seed gives the value itself.
    """
    array = _as_runs_by_tasks(scores, "scores")
    from rliable import library as rly
    from rliable import metrics

    with _bootstrap_rng(seed):
        point, interval = rly.get_interval_estimates(
            {"x": array}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps,
            confidence_interval_size=confidence, random_state=np.random.RandomState(seed))
    low, high = (float(v) for v in np.asarray(interval["x"]).reshape(2))
    iqm = float(np.asarray(point["x"]).reshape(-1)[0])
    return {"iqm": iqm, "ci_low": min(low, iqm), "ci_high": max(high, iqm), "mean": float(array.mean()),
            "num_seeds": float(array.shape[0])}


def probability_of_improvement(scores_x, scores_y, *, confidence: float = 0.95, reps: int = DEFAULT_REPS,
                               seed: int = 0) -> dict[str, float]:
    """P(X > Y): the chance that a run of X beats a run of Y (ties count half), averaged over tasks.

    Args:
        scores_x, scores_y: (num_seeds_x,) / (num_seeds_y,) or with a trailing num_tasks axis (the same for both).
    Returns:
        ``{"prob", "ci_low", "ci_high"}``; 1.0 when every run of X beats every run of Y, 0.5 for identical scores.
    """
    x, y = _as_runs_by_tasks(scores_x, "scores_x"), _as_runs_by_tasks(scores_y, "scores_y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"scores_x and scores_y must cover the same tasks, got {x.shape[1]} and {y.shape[1]} columns")
    from rliable import library as rly
    from rliable import metrics

    with _bootstrap_rng(seed):
        point, interval = rly.get_interval_estimates(
            {"pair": [x, y]}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=reps,
            confidence_interval_size=confidence, random_state=np.random.RandomState(seed))
    prob = float(np.asarray(point["pair"]).reshape(-1)[0])
    low, high = (float(v) for v in np.asarray(interval["pair"]).reshape(2))
    return {"prob": prob, "ci_low": min(low, prob), "ci_high": max(high, prob)}


def headline_stats(name: str, scores, **kwargs) -> dict[str, float]:
    """Flat headline keys ``<name>_iqm``, ``<name>_ci_low``, ``<name>_ci_high``, ``<name>_mean`` for ``scores``."""
    stats = iqm_ci(scores, **kwargs)
    return {f"{name}_{key}": stats[key] for key in ("iqm", "ci_low", "ci_high", "mean")}


def improvement_stats(name: str, scores_x, scores_y, **kwargs) -> dict[str, float]:
    """Flat keys ``<name>_prob_improvement`` (P(X > Y)) with ``_ci_low`` / ``_ci_high``."""
    stats = probability_of_improvement(scores_x, scores_y, **kwargs)
    return {f"{name}_prob_improvement": stats["prob"], f"{name}_prob_improvement_ci_low": stats["ci_low"],
            f"{name}_prob_improvement_ci_high": stats["ci_high"]}


def finite_mean(values) -> float:
    """Mean of the finite values (a seed with nothing to measure reports NaN and is left out); NaN when none is finite."""
    finite = [float(v) for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _as_runs_by_tasks(scores, what: str) -> np.ndarray:
    """(num_seeds,) or (num_seeds, num_tasks) finite numbers -> float64 (num_seeds, num_tasks)."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{what} must have shape (num_seeds,) or (num_seeds, num_tasks) with at least one seed, "
                         f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite, got {array.ravel().tolist()}")
    return array


@contextmanager
def _bootstrap_rng(seed: int):
    """Seed the bootstrap, leaving numpy's global generator as it was.

    rliable 1.2's stratified bootstrap draws indices from ``np.random`` (not from its ``random_state``), and
    passes ``random_state`` to arch, which warns that the keyword is deprecated.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            yield
    finally:
        np.random.set_state(state)
