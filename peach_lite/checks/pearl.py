"""Checkers for lesson 05 ("PEARL: context variables and posterior sampling").

Each compares the student's function with the package's own implementation (``peach_lite.posterior``
for the product of Gaussians, ``peach_lite.pearl`` for the KL loss and the critic target)
on fixed random cases, including edge cases (one context transition, tiny and huge variances).

Taught in notebooks/05_pearl.py (sections "Exercise 1/2/3").
"""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, _report, compare_function
from peach_lite.pearl import pearl_kl_loss, pearl_q_target
from peach_lite.posterior import product_of_gaussians

__all__ = ["check_product_of_gaussians", "check_kl_loss", "check_q_target"]


def check_product_of_gaussians(student_fn) -> CheckResult:
    """Check ``student_fn(mu, var) -> (mu_post, var_post)`` against :func:`peach_lite.posterior.product_of_gaussians`.

    Inputs are (num_tasks, num_context, latent_dim); the product runs over the context axis (-2),
    with every factor variance clamped to at least 1e-7 and no prior factor.

    Taught in notebooks/05_pearl.py (section "Exercise 1: the product of Gaussians").
    """
    g = torch.Generator().manual_seed(5)

    def case(*shape, low=0.05, high=2.0):
        mu = torch.randn(*shape, generator=g)
        var = low + (high - low) * torch.rand(*shape, generator=g)
        return ((mu, var), {})

    tiny = case(2, 4, 3)
    tiny[0][1][0, 0, 0] = 0.0  # the 1e-7 clamp must apply
    cases = [case(1, 1, 5), case(3, 8, 5), case(16, 64, 5, low=1e-3, high=50.0), tiny, case(2, 2, 7, 2)]
    return compare_function("product_of_gaussians", student_fn, product_of_gaussians, cases, atol=1e-5, rtol=1e-4)


def check_kl_loss(student_fn) -> CheckResult:
    """Check ``student_fn(mu, var, kl_lambda) -> scalar`` against :func:`peach_lite.pearl.pearl_kl_loss`:
    kl_lambda times the KL to N(0, I), summed over latent dimensions **and over tasks**.

    Taught in notebooks/05_pearl.py (section "Exercise 2: the KL term").
    """
    g = torch.Generator().manual_seed(6)
    cases = []
    for num_tasks, latent_dim, kl_lambda in [(1, 5, 1.0), (16, 5, 1.0), (4, 3, 0.1), (7, 2, 2.5)]:
        mu = torch.randn(num_tasks, latent_dim, generator=g)
        var = 0.01 + 2.0 * torch.rand(num_tasks, latent_dim, generator=g)
        cases.append(((mu, var, kl_lambda), {}))
    cases.append(((torch.zeros(3, 5), torch.ones(3, 5), 1.0), {}))  # the prior itself: KL = 0
    return compare_function("kl_loss", student_fn, pearl_kl_loss, cases, atol=1e-5, rtol=1e-5)


def check_q_target(student_fn) -> CheckResult:
    """Check ``student_fn(target_value, reward, done, next_obs, z, reward_scale=..., gamma=...)`` against
    :func:`peach_lite.pearl.pearl_q_target`: y = reward_scale * r + (1 - done) * gamma * V'(s', z), where z
    has one row per task and must be repeated over that task's batch; the target must carry no gradient.

    Taught in notebooks/05_pearl.py (section "Exercise 3: the context-conditioned critic target").
    """
    g = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    value_net = torch.nn.Sequential(torch.nn.Linear(2 + 5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def target_value(obs, z):
        return value_net(torch.cat([obs, z], dim=-1)).squeeze(-1)

    cases = []
    for num_tasks, batch, scale, gamma in [(1, 4, 100.0, 0.9), (3, 8, 5.0, 0.99), (16, 32, 100.0, 0.9)]:
        reward = -torch.rand(num_tasks, batch, generator=g)
        done = (torch.rand(num_tasks, batch, generator=g) < 0.2).float()
        next_obs = torch.randn(num_tasks, batch, 2, generator=g)
        z = torch.randn(num_tasks, 5, generator=g)
        cases.append(((target_value, reward, done, next_obs, z), {"reward_scale": scale, "gamma": gamma}))
    result = compare_function("q_target", student_fn, pearl_q_target, cases, atol=1e-4, rtol=1e-5)
    if not result:
        return result
    args, kwargs = cases[1]
    if student_fn(*args, **kwargs).requires_grad:
        return _report("q_target", False, "the target requires grad: compute it under torch.no_grad() (or detach it)")
    return result
