"""Propensity scores: how much a meta-training replay row looks like the new task (MQL's adaptation).

A logistic classifier tells new-task rows from meta-training rows (:func:`fit_logistic`); its logit f turns into
importance weights beta = exp(-f), clipped as the reference does (:func:`propensity_weights`); the effective sample
size of those weights says how much of the replay is still useful (:func:`effective_sample_size`). No scikit-learn:
the solver is a small Newton's method in torch.

Taught in notebooks/08_mql.py (section "Propensity scores").
"""
from __future__ import annotations

import torch
from torch import Tensor

from peach_lite.validation import check_range

__all__ = ["fit_logistic", "propensity_weights", "effective_sample_size"]


def fit_logistic(x: Tensor, y: Tensor, c: float = 1.0, *, tol: float = 1e-8, max_iter: int = 100) -> tuple[Tensor, Tensor]:
    """L2-regularised logistic regression by Newton's method, on scikit-learn's objective
    0.5 ||w||^2 + C sum_i log(1 + exp(-y_i (w . x_i + b)))  (the bias is not penalised).

    Args:
        x: (N, d) features; y: (N,) labels in {-1, +1}; c: C > 0.
    Returns:
        (w (d,), b ()) as float32; f(x) = x @ w + b is the logit of P(y = +1 | x).

    Taught in notebooks/08_mql.py (section "Propensity scores").
    """
    check_range("c", c, 1e-12, None)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (N, d) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if not torch.all((y == 1) | (y == -1)):
        raise ValueError("y must hold labels -1 and +1 only")
    xb = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    yd = y.double()
    theta = torch.zeros(xb.shape[1], dtype=torch.float64)
    penalty = torch.ones_like(theta)
    penalty[-1] = 0.0
    for _ in range(max_iter):
        margin = yd * (xb @ theta)
        p = torch.sigmoid(-margin)  # d/dm log(1 + e^-m) = -sigmoid(-m)
        grad = penalty * theta - c * xb.T @ (yd * p)
        if grad.norm() < tol:
            break
        hess = torch.diag(penalty) + c * (xb.T * (p * (1 - p))) @ xb
        theta = theta - torch.linalg.solve(hess + 1e-12 * torch.eye(len(theta), dtype=torch.float64), grad)
    return theta[:-1].float(), theta[-1].float()


def propensity_weights(logit: Tensor, beta_clip: float = 1.0, beta_min: float = 0.1) -> Tensor:
    """beta = exp(-max(f, -beta_clip)), then beta < beta_min set to 0 (the reference's clipping).

    With f the logit of "meta-training data", exp(-f) is the odds that a row came from the new task:
    a density ratio that up-weights replay rows that look like the new task.

    Taught in notebooks/08_mql.py (section "Propensity scores").
    """
    beta = torch.exp(-logit.clamp(min=-beta_clip))
    return torch.where(beta < beta_min, torch.zeros_like(beta), beta)


def effective_sample_size(beta: Tensor) -> float:
    """Normalised ESS = (sum beta)^2 / (n sum beta^2), in [1/n, 1]: 1 for constant weights, 1/n for one-hot.

    Taught in notebooks/08_mql.py (section "Propensity scores").
    """
    beta = beta.double().flatten()
    if beta.numel() == 0 or float(beta.pow(2).sum()) == 0.0:
        return 0.0
    return float(beta.sum() ** 2 / (beta.numel() * beta.pow(2).sum()))
