"""The on-policy learner: GAE advantages and PPO's clipped surrogate, for discrete (categorical) policies.

The pieces are separate functions so that a lesson can show (and a test can check) each one:

* :func:`gae_advantages`: generalised advantage estimates (Schulman et al. 2016) for a batch of episodes
  laid out as ``(n, T)``, with a mask for padded steps of episodes that ended early;
* :func:`clipped_surrogate_loss`, :func:`value_loss`, :func:`categorical_entropy`: PPO's three terms
  (Schulman et al. 2017);
* :class:`PPO`: the learner object. :meth:`PPO.losses` evaluates the policy on a :class:`PPOBatch` and returns
  every loss term (a policy may add its own, e.g. a supervised belief loss); :meth:`PPO.update` takes
  ``epochs`` optimizer steps on them. The policy is any function ``(obs, cond) -> PolicyOutput``, so the same
  learner trains lesson 03's recurrent agents over whole sequences, and a categorical master policy over
  macro steps (MLSH) or FuN's manager.

With one epoch the probability ratio is exactly 1 and the update is A2C's ``-log pi(a|.) * A``.

Taught in notebooks/03_task_inference.py (section "The RL learner").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from peach_lite.validation import check_int, check_range

__all__ = [
    "gae_advantages", "normalize_advantages", "clipped_surrogate_loss", "value_loss", "categorical_entropy",
    "PPOConfig", "PPOBatch", "PolicyOutput", "PPO",
]


# ============================================================================================ pieces
def gae_advantages(rewards: Tensor, values: Tensor, gamma: float, gae_lambda: float, mask: Tensor | None = None,
                   bootstrap: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimates for a batch of episodes, one per row.

    ``A_t = sum_k (gamma lambda)^k delta_{t+k}`` with ``delta_t = r_t + gamma V_{t+1} - V_t``, summed up to
    each row's last real step; after it, ``V`` is ``bootstrap`` (0 by default: the episode terminated).

    Args:
        rewards, values: (n, T).
        gamma, gae_lambda: discount and GAE lambda in [0, 1] (lambda = 1: discounted return minus value;
            lambda = 0: one-step TD errors).
        mask: (n, T) bool, True on real steps (a prefix of each row); padded steps get advantage 0.
            None: every step is real.
        bootstrap: (n,) value of the state after each row's last real step (an episode cut by a time
            limit), or None for 0.
    Returns:
        (advantages, returns), each (n, T); returns = advantages + values are the critic's targets.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    check_range("gamma", gamma, 0.0, 1.0)
    check_range("gae_lambda", gae_lambda, 0.0, 1.0)
    if rewards.ndim != 2 or values.shape != rewards.shape:
        raise ValueError(f"rewards and values must both be (n, T), got {tuple(rewards.shape)} and {tuple(values.shape)}")
    if mask is not None and mask.shape != rewards.shape:
        raise ValueError(f"mask must have shape {tuple(rewards.shape)}, got {tuple(mask.shape)}")
    if bootstrap is not None and bootstrap.shape != rewards.shape[:1]:
        raise ValueError(f"bootstrap must have shape ({rewards.shape[0]},), got {tuple(bootstrap.shape)}")
    after_end = torch.zeros_like(rewards[:, 0]) if bootstrap is None else bootstrap.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    next_value = after_end
    for t in range(rewards.shape[1] - 1, -1, -1):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * gae_lambda * running
        if mask is not None:
            running = torch.where(mask[:, t], running, torch.zeros_like(running))
            next_value = torch.where(mask[:, t], values[:, t], after_end)
        else:
            next_value = values[:, t]
        advantages[:, t] = running
    return advantages, advantages + values


def normalize_advantages(advantages: Tensor, mask: Tensor | None = None) -> Tensor:
    """(A - mean) / (std + 1e-8) over the real steps (padded steps stay 0); same shape as ``advantages``.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    if mask is None:
        return (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    real = advantages[mask]
    return torch.where(mask, (advantages - real.mean()) / (real.std() + 1e-8), torch.zeros_like(advantages))


def clipped_surrogate_loss(log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor, clip_ratio: float,
                           mask: Tensor | None = None) -> Tensor:
    """PPO's clipped surrogate ``-mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A))``, rho = pi / pi_old.

    Outside the clip range on the side the advantage pushes towards (rho > 1 + eps with A > 0, rho < 1 - eps
    with A < 0) the term is constant, so its gradient is zero: the update cannot move the policy further.

    Args:
        log_probs: (...) log pi(a|.) of the taken actions under the current policy (differentiable).
        old_log_probs: (...) the same while acting (constants).
        advantages: (...).
        clip_ratio: eps in [0, 1].
        mask: (...) bool, True on real steps (the mean runs over those), or None.
    Returns:
        0-d loss.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    check_range("clip_ratio", clip_ratio, 0.0, 1.0)
    ratio = torch.exp(log_probs - old_log_probs)
    clipped = ratio.clamp(1.0 - clip_ratio, 1.0 + clip_ratio)
    return -_mean(torch.min(ratio * advantages, clipped * advantages), mask)


def value_loss(values: Tensor, returns: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error of the critic, ``mean((V - R)^2)`` over the real steps; (...) inputs, 0-d output.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    return _mean((values - returns).pow(2), mask)


def categorical_entropy(log_probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean entropy ``-sum_a pi(a) log pi(a)`` of categorical policies given normalised log-probabilities
    (..., num_actions); 0-d output.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    return _mean(-(log_probs.exp() * log_probs).sum(-1), mask)


# ============================================================================================ learner
@dataclass
class PPOConfig:
    """Settings of :class:`PPO` (defaults: lesson 03's recurrent agents).

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    lr: float = 3e-3
    """Adam learning rate, in [1e-8, 1]."""
    gamma: float = 0.95
    """Discount of the advantages, in [0, 1]."""
    gae_lambda: float = 0.9
    """GAE lambda, in [0, 1]."""
    epochs: int = 4
    """Optimizer steps per batch, >= 1 (1 is A2C; more is PPO's clipped surrogate)."""
    clip_ratio: float = 0.2
    """PPO's clip range eps for the probability ratio, in [0, 1] (the PPO paper's 0.2); inactive with one epoch."""
    value_coef: float = 0.5
    """Weight of the critic's squared error, >= 0."""
    entropy_coef: float = 0.01
    """Entropy bonus weight, >= 0 (at the first batch, when annealed)."""
    entropy_decay_batches: int = 0
    """Anneal the entropy bonus linearly to 0 over this many batches (0: constant)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip, > 0, applied to each parameter group separately."""
    normalize_advantages: bool = True
    """Normalise the advantages of each batch to mean 0 and std 1 (over its real steps)."""

    def __post_init__(self) -> None:
        check_range("lr", self.lr, 1e-8, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_int("epochs", self.epochs, 1)
        check_range("clip_ratio", self.clip_ratio, 0.0, 1.0)
        check_range("value_coef", self.value_coef, 0.0, None)
        check_range("entropy_coef", self.entropy_coef, 0.0, None)
        check_int("entropy_decay_batches", self.entropy_decay_batches, 0)
        check_range("max_grad_norm", self.max_grad_norm, 1e-8, None)


@dataclass
class PPOBatch:
    """One batch of on-policy data; ``(n, T)`` below may be any shape ``S`` shared by the fields.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    obs: Any
    """What the policy function reads (e.g. (n, T, input_dim) sequences for a recurrent policy)."""
    actions: Tensor
    """(n, T) int64 actions taken."""
    log_probs: Tensor
    """(n, T) log pi_old(a|.) while acting."""
    advantages: Tensor
    """(n, T) advantages (normalised by :meth:`PPO.make_batch` when the config says so)."""
    returns: Tensor
    """(n, T) the critic's targets, in the critic's units."""
    mask: Tensor | None = None
    """(n, T) bool, True on real steps; None: all real."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the policy function needs (targets of an auxiliary loss, replayed noise)."""


class PolicyOutput(NamedTuple):
    """What a policy function returns to :class:`PPO`.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    logits: Tensor
    """(n, T, num_actions) action logits."""
    value: Tensor
    """(n, T) state values, in the units of :attr:`PPOBatch.returns`."""
    extra_losses: dict[str, Tensor] = {}
    """Weighted 0-d losses the policy adds to the total, in order (e.g. a supervised belief loss)."""


PolicyFn = Callable[[PPOBatch, Any], PolicyOutput]
"""``policy(batch, cond) -> PolicyOutput``: evaluates the current policy on a batch (``cond``: optional context)."""


class PPO:
    """PPO (one epoch: A2C) for categorical policies: the losses, and the optimizer step on them.

    Args:
        policy: ``policy(batch, cond) -> PolicyOutput`` (see :data:`PolicyFn`).
        param_groups: the parameters to train, in groups whose gradient norms are clipped separately
            (e.g. a recurrent module and an actor-critic); one Adam optimizer over all of them.
        config: :class:`PPOConfig`.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    def __init__(self, policy: PolicyFn, param_groups: Sequence[Sequence[nn.Parameter]], config: PPOConfig | None = None):
        self.policy, self.config = policy, config or PPOConfig()
        self.param_groups = [list(group) for group in param_groups]
        if not any(self.param_groups):
            raise ValueError("param_groups must hold at least one parameter, got none")
        self.optimizer = torch.optim.Adam([p for group in self.param_groups for p in group], lr=self.config.lr)
        self.batches = 0
        """Batches :meth:`update` has trained on (drives the entropy annealing)."""

    @property
    def entropy_coef(self) -> float:
        """The entropy weight of the next batch (linearly annealed when ``entropy_decay_batches`` > 0)."""
        decay = self.config.entropy_decay_batches
        return self.config.entropy_coef if not decay else self.config.entropy_coef * max(0.0, 1.0 - self.batches / decay)

    def make_batch(self, obs: Any, actions: Tensor, log_probs: Tensor, rewards: Tensor, values: Tensor, *,
                   mask: Tensor | None = None, bootstrap: Tensor | None = None, value_scale: float = 1.0,
                   extra: dict[str, Any] | None = None) -> PPOBatch:
        """A :class:`PPOBatch` from collected episodes: GAE (:func:`gae_advantages`), normalised advantages.

        Args:
            rewards, values: (n, T) rewards and the critic's values while acting.
            value_scale: the critic predicts returns / value_scale (keeps its loss O(1)); advantages are in
                reward units, returns in the critic's.
            mask, bootstrap: see :func:`gae_advantages`.
        """
        check_range("value_scale", value_scale, 1e-8, None)
        advantages, returns = gae_advantages(rewards, values * value_scale, self.config.gamma, self.config.gae_lambda,
                                             mask, bootstrap)
        if self.config.normalize_advantages:
            advantages = normalize_advantages(advantages, mask)
        return PPOBatch(obs, actions, log_probs, advantages, returns / value_scale, mask, dict(extra or {}))

    def losses(self, batch: PPOBatch, cond: Any = None) -> dict[str, Tensor]:
        """Evaluate the policy on ``batch`` and return every term (differentiable, 0-d).

        Returns:
            ``{"loss": total, "policy": ..., "value": ..., "entropy": ..., "approx_kl": ..., "clip_fraction": ...,
            **extra_losses}``; total = policy + value_coef * value - entropy_coef * entropy + the extras.
        """
        out = self.policy(batch, cond)
        log_probs = torch.log_softmax(out.logits, -1)
        taken = log_probs.gather(-1, batch.actions[..., None]).squeeze(-1)
        policy = clipped_surrogate_loss(taken, batch.log_probs, batch.advantages, self.config.clip_ratio, batch.mask)
        entropy = categorical_entropy(log_probs, batch.mask)
        critic = value_loss(out.value, batch.returns, batch.mask)
        total = policy + self.config.value_coef * critic - self.entropy_coef * entropy
        for term in out.extra_losses.values():
            total = total + term
        with torch.no_grad():
            log_ratio = taken - batch.log_probs
            approx_kl = _mean(torch.exp(log_ratio) - 1.0 - log_ratio, batch.mask)
            clip_fraction = _mean(((log_ratio.exp() - 1.0).abs() > self.config.clip_ratio).float(), batch.mask)
        return {"loss": total, "policy": policy, "value": critic, "entropy": entropy, "approx_kl": approx_kl,
                "clip_fraction": clip_fraction, **out.extra_losses}

    def update(self, batch: PPOBatch, cond: Any = None) -> dict[str, Tensor]:
        """``epochs`` Adam steps on :meth:`losses` (gradients clipped per group); returns the last epoch's
        detached losses. The step is taken only after every loss of the epoch is computed."""
        for _ in range(self.config.epochs):
            losses = self.losses(batch, cond)
            self.optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            for group in self.param_groups:
                nn.utils.clip_grad_norm_(group, self.config.max_grad_norm)
            self.optimizer.step()
        self.batches += 1
        return {name: value.detach() for name, value in losses.items()}


def _mean(x: Tensor, mask: Tensor | None) -> Tensor:
    return x.mean() if mask is None else x[mask].mean()
