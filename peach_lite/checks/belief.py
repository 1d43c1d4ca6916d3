"""Checkers for lessons 02 ("POMDPs and belief states") and 03 ("Meta-RL as task inference")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function

__all__ = ["check_bernoulli_update", "check_elimination_update", "check_categorical_belief_loss"]


def check_bernoulli_update(student_fn) -> CheckResult:
    """Check ``student_fn(alpha, beta, action, reward) -> (alpha, beta)`` against
    :func:`peach_lite.belief.bernoulli_update` (one Beta-Bernoulli posterior step per episode).

    Taught in notebooks/02_pomdp_belief.py (section "Exercise: the Bernoulli posterior update").
    """
    from peach_lite.belief import bernoulli_update

    generator = torch.Generator().manual_seed(0)
    cases = [
        ((torch.ones(1, 3), torch.ones(1, 3), torch.tensor([1]), torch.tensor([1.0])), {}),
        ((torch.ones(1, 3), torch.ones(1, 3), torch.tensor([2]), torch.tensor([0.0])), {}),
        ((torch.tensor([[2.0, 5.0], [1.0, 1.0]]), torch.tensor([[3.0, 1.0], [4.0, 2.0]]), torch.tensor([0, 1]), torch.tensor([0.0, 1.0])), {}),
        ((1 + torch.randint(0, 9, (16, 20), generator=generator).float(), 1 + torch.randint(0, 9, (16, 20), generator=generator).float(),
          torch.randint(0, 20, (16,), generator=generator), torch.randint(0, 2, (16,), generator=generator).float()), {}),
    ]
    return compare_function("bernoulli_update", student_fn, bernoulli_update, cases)


def check_elimination_update(student_fn) -> CheckResult:
    """Check ``student_fn(belief, consistent) -> belief`` against :func:`peach_lite.belief.elimination_update`.

    Taught in notebooks/02_pomdp_belief.py (section "Exercise: the elimination update").
    """
    from peach_lite.belief import elimination_update

    generator = torch.Generator().manual_seed(1)
    random_belief = torch.rand(8, 6, generator=generator, dtype=torch.float64)
    random_belief = random_belief / random_belief.sum(-1, keepdim=True)
    random_mask = torch.rand(8, 6, generator=generator) < 0.5
    random_mask[:, 0] = True  # the true task is always consistent
    cases = [
        ((torch.full((1, 4), 0.25), torch.tensor([[True, False, True, True]])), {}),
        ((torch.tensor([[0.1, 0.2, 0.7]]), torch.tensor([[False, False, True]])), {}),
        ((torch.tensor([[0.5, 0.5, 0.0]]), torch.tensor([[True, True, True]])), {}),
        ((random_belief, random_mask), {}),
    ]
    return compare_function("elimination_update", student_fn, elimination_update, cases)


def check_categorical_belief_loss(student_fn) -> CheckResult:
    """Check ``student_fn(logits, label) -> 0-d mean cross-entropy`` against
    :func:`peach_lite.belief_agents.categorical_belief_loss`.

    Taught in notebooks/03_task_inference.py (section "Exercise: the supervised belief loss").
    """
    from peach_lite.belief_agents import categorical_belief_loss

    generator = torch.Generator().manual_seed(2)
    cases = [
        ((torch.zeros(1, 2), torch.tensor([0])), {}),
        ((torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([2])), {}),
        ((torch.randn(4, 5, 2, generator=generator), torch.randint(0, 2, (4, 5), generator=generator)), {}),
        ((30 * torch.randn(3, 7, 4, generator=generator), torch.randint(0, 4, (3, 7), generator=generator)), {}),
    ]
    return compare_function("categorical_belief_loss", student_fn, categorical_belief_loss, cases, atol=1e-5)
