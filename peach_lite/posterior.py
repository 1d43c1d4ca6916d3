"""The context posterior q(z | c) as a component: PEARL uses it now, PEACH (a HAC hierarchy with z on its
top level) next, MQL-style agents after that.

The pieces, in the order of lesson 05:

* :func:`product_of_gaussians` and :func:`kl_to_prior`: the closed-form algebra (Gaussian factors multiply;
  KL to N(0, I)).
* :class:`ContextEncoder`: an MLP that maps each context transition c_n to a Gaussian factor; the posterior
  is the product of the factors (no prior factor, as oyster), so it is permutation invariant. Not in PEARL: its
  ``categorical`` form maps each transition to a categorical factor over K clusters and multiplies those
  (:func:`product_of_categoricals`, :func:`kl_to_uniform`): one factor can then rule a cluster out.
* :class:`Belief` and :class:`ContextPosterior`: ``prior``, ``infer``, ``sample`` (reparameterised) and
  ``kl``, all batched over tasks.
* :class:`PosteriorSchedule`: when z comes from the prior and when from the posterior, while collecting
  (prior steps, posterior steps, refresh cadence) and while meta-testing (exploration trajectories).
* :class:`PosteriorAgent` and :func:`meta_test`: PEARL's Algorithm 2 for *any* agent with a posterior, built
  only on :func:`peach_lite.loop.run_episodes`; :func:`act_on_belief` shows what a belief *means* (one
  episode per sampled hypothesis z).

Taught in notebooks/05_pearl.py (sections "The encoder, step 1: one transition, one Gaussian factor" to "Meta-testing (Algorithm 2) on the 20 held-out goals").
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from peach_lite.loop import Agent, Episodes, TaskBatch, TaskEnvs, run_episodes
from peach_lite.nets import mlp
from peach_lite.validation import check_int, check_shape

__all__ = [
    "MIN_FACTOR_VAR",
    "product_of_gaussians",
    "kl_to_prior",
    "product_of_categoricals",
    "kl_to_uniform",
    "unpaid_only",
    "consistent_hypotheses",
    "elimination_loss",
    "consistent_mass_loss",
    "ContextEncoder",
    "Belief",
    "ContextPosterior",
    "PosteriorSchedule",
    "PosteriorAgent",
    "MetaTestResult",
    "meta_test",
    "repeated_meta_test",
    "act_on_belief",
]

MIN_FACTOR_VAR = 1e-7
"""oyster clamps every factor variance to at least this before the product of Gaussians."""


def product_of_gaussians(mu: Tensor, var: Tensor, min_var: float = MIN_FACTOR_VAR) -> tuple[Tensor, Tensor]:
    """Combine per-transition Gaussian factors N(mu_n, var_n) into one Gaussian over z.

    var = 1 / sum_n (1 / var_n) and mu = var * sum_n mu_n / var_n, with every var_n clamped to at least
    ``min_var`` (oyster ``_product_of_gaussians``). There is no prior factor: with N identical factors
    N(x, s^2) the result is N(x, s^2 / N). A factor with var_n -> inf has no effect.

    Args:
        mu:  (*lead, num_context, latent_dim) factor means, e.g. (num_tasks, num_context, latent_dim).
        var: (*lead, num_context, latent_dim) factor variances (> 0; clamped).
    Returns:
        (mu_post, var_post), each (*lead, latent_dim).

    Taught in notebooks/05_pearl.py (section "Step 2: the product of Gaussians").
    """
    if mu.shape != var.shape or mu.dim() < 2:
        raise ValueError(f"mu and var must have the same shape (*lead, num_context, latent_dim), got {tuple(mu.shape)} and {tuple(var.shape)}")
    precision = var.clamp(min=min_var).reciprocal()
    var_post = precision.sum(dim=-2).reciprocal()
    mu_post = var_post * (mu * precision).sum(dim=-2)
    return mu_post, var_post


def kl_to_prior(mu: Tensor, var: Tensor) -> Tensor:
    """KL(N(mu, diag(var)) || N(0, I)) = 1/2 sum_j (var_j + mu_j^2 - 1 - log var_j), summed over latent dims.

    Args:
        mu, var: (*lead, latent_dim).
    Returns:
        (*lead,) KL per posterior (e.g. per task).

    Taught in notebooks/05_pearl.py (section "Step 4: the KL term").
    """
    return 0.5 * (var + mu.pow(2) - 1.0 - var.log()).sum(dim=-1)


def product_of_categoricals(log_probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Combine per-transition categorical factors p_n(k) over K clusters into one: q(k) ∝ prod_n p_n(k).

    The logits add: log q(k) = sum_n log p_n(k) - log Z. A uniform factor has no effect, and the empty product is
    the uniform prior; a factor with p_n(k) -> 0 rules cluster k out whatever the others say, so failures at two
    places eliminate both (a product of Gaussians averages them instead: two-failure beliefs land between the
    one-failure ones).

    Args:
        log_probs: (*lead, num_context, K) log p_n(k), each row normalised (e.g. a log_softmax).
        mask: optional (*lead, num_context) bool, the valid rows (a masked row counts as uniform).
    Returns:
        (*lead, K) probabilities q(k).

    Taught in notebooks/11_peach.py (section "An eliminating posterior: categorical factors").
    """
    if log_probs.dim() < 2:
        raise ValueError(f"log_probs must have shape (*lead, num_context, K), got {tuple(log_probs.shape)}")
    if mask is not None:
        log_probs = torch.where(mask.unsqueeze(-1), log_probs, torch.zeros_like(log_probs))
    return torch.softmax(log_probs.sum(dim=-2), dim=-1)


def kl_to_uniform(probs: Tensor) -> Tensor:
    """KL(Cat(probs) || Uniform(K)) = sum_k q_k log q_k + log K, (*lead,) from probs (*lead, K); 0 <= KL <= log K.

    Taught in notebooks/11_peach.py (section "An eliminating posterior: categorical factors").
    """
    if probs.dim() < 1 or probs.shape[-1] < 2:
        raise ValueError(f"probs must have shape (*lead, K) with K >= 2, got {tuple(probs.shape)}")
    return (probs * probs.clamp_min(torch.finfo(probs.dtype).tiny).log()).sum(dim=-1) + math.log(probs.shape[-1])  # finite gradient at 0


def unpaid_only(context: Tensor, reward_column: int, slots: Sequence[int], generator: torch.Generator | None = None) -> Tensor:
    """The context a meta-test has before its first paid attempt: a copy of ``context`` whose listed slots keep only
    their unpaid rows (sparse reward < 0), drawn with replacement back to the same number of rows.

    A slot with no paid row is left as it is, and so is one with no unpaid row (nothing to keep).

    Args:
        context: (num_slots, num_context, context_dim) rows, the reward in column ``reward_column``.
        slots: indices of the slots to restrict.
        generator: draws the kept rows.
    Returns:
        (num_slots, num_context, context_dim), a new tensor.

    Taught in notebooks/11_peach.py (section "The wall now: the meta-test's own search").
    """
    if context.dim() != 3:
        raise ValueError(f"context must be (num_slots, num_context, context_dim), got {tuple(context.shape)}")
    if not 0 <= reward_column < context.shape[-1]:
        raise ValueError(f"reward_column must be in [0, {context.shape[-1] - 1}], got {reward_column}")
    if any(not 0 <= i < context.shape[0] for i in slots):
        raise ValueError(f"slots must be in [0, {context.shape[0] - 1}], got {list(slots)}")
    out = context.clone()
    for i in slots:
        unpaid = torch.nonzero(context[i, :, reward_column] < 0).flatten()
        if 0 < len(unpaid) < context.shape[1]:
            draw = torch.randint(0, len(unpaid), (context.shape[1],), generator=generator, device=generator.device if generator else "cpu")
            out[i] = context[i, unpaid[draw.to(unpaid.device)]]
    return out


def consistent_hypotheses(achieved: Tensor, reward: Tensor, keep: Tensor, goals: np.ndarray, reward_fn: Callable[..., Any]) -> Tensor:
    """Which hypotheses a context has not ruled out: goal k is consistent with a slot when ``reward_fn`` gives each of
    the slot's kept rows its recorded reward (the exact likelihood, 1 or 0, of a sparse reward).

    Args:
        achieved: (T, C, goal_dim) where each attempt ended.
        reward: (T, C) its recorded reward.
        keep: (T, C) bool, the rows that count.
        goals: (K, goal_dim) the hypotheses' goals.
        reward_fn: ``compute_reward(achieved (..., goal_dim), goal (..., goal_dim)) -> (...)``, vectorised.
    Returns:
        (T, K) bool.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate").
    """
    check_shape("reward", tuple(reward.shape), tuple(achieved.shape[:2]))
    check_shape("keep", tuple(keep.shape), tuple(achieved.shape[:2]))
    predicted = torch.as_tensor(reward_fn(achieved.detach().cpu().numpy()[:, :, None, :], np.asarray(goals)[None, None]),
                                dtype=reward.dtype, device=reward.device)  # (T, C, K)
    agrees = (predicted == reward.unsqueeze(-1)) | ~keep.unsqueeze(-1)
    return agrees.all(dim=1)


def elimination_loss(belief: Belief, codes: Belief, consistent: Tensor) -> Tensor:
    """Mode-seeking distillation of posterior sampling with elimination into a Gaussian q(z | c) (not in PEARL).

    Per slot, the target is the consistent hypothesis whose code q already finds likeliest (the smallest
    KL(N(code) || q), chosen without gradient); the loss is that KL, summed over latent dims, averaged over the slots
    with at least one consistent hypothesis (0 when none has). A Gaussian cannot hold two sites at once, so q picks
    one of those left; once an attempt there fails, it is ruled out and the target moves on.

    Args:
        belief: q(z | c) of T slots, (T, latent_dim).
        codes: the K hypotheses' codes, (K, latent_dim) (detach them: they are targets).
        consistent: (T, K) bool (:func:`consistent_hypotheses`).
    Returns:
        () the loss; its gradient reaches ``belief`` only.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate").
    """
    check_shape("consistent", tuple(consistent.shape), (len(belief), len(codes)))
    q = torch.distributions.Normal(belief.mean.unsqueeze(1), belief.var.sqrt().unsqueeze(1))
    target = torch.distributions.Normal(codes.mean.unsqueeze(0), codes.var.sqrt().unsqueeze(0))
    kl = torch.distributions.kl_divergence(target, q).sum(dim=-1)  # (T, K)
    choice = kl.detach().masked_fill(~consistent, math.inf).argmin(dim=-1)
    rows = torch.nonzero(consistent.any(dim=-1)).flatten()
    return kl[rows, choice[rows]].mean() if len(rows) else kl.sum() * 0.0


def consistent_mass_loss(belief: Belief, codes: Belief, consistent: Tensor) -> Tensor:
    """Elimination as the mass q(z | c) puts on the hypotheses left (not in PEARL).

    A sample z ~ q lands on hypothesis k with probability P(k | q) ∝ ∫ q(z) N(z; code_k) dz
    = N(μ_k; μ_q, σ²_q + σ²_k) (per latent dim, multiplied). The loss is -log Σ_{k consistent} P(k | q), averaged over
    the slots with at least one consistent hypothesis (0 when none has). Unlike :func:`elimination_loss` it never
    rewards codes that coincide (then P(k | q) is uniform whatever q is, and the gradient is zero), and it does not ask
    q to be as sharp as a code: it stops pulling once q's samples fall on hypotheses left. ``belief`` (T, latent_dim),
    ``codes`` (K, latent_dim, detached targets) and ``consistent`` (T, K) as in :func:`elimination_loss`; returns the ()
    loss, whose gradient reaches ``belief`` only.

    Taught in notebooks/11_peach.py (section "Teaching q(z | c) to eliminate").
    """
    check_shape("consistent", tuple(consistent.shape), (len(belief), len(codes)))
    spread = (belief.var.unsqueeze(1) + codes.var.unsqueeze(0)).clamp_min(MIN_FACTOR_VAR).sqrt()
    log_overlap = torch.distributions.Normal(belief.mean.unsqueeze(1), spread).log_prob(codes.mean.unsqueeze(0)).sum(dim=-1)  # (T, K)
    rows = torch.nonzero(consistent.any(dim=-1)).flatten()
    if not len(rows):
        return log_overlap.sum() * 0.0
    log_left = log_overlap[rows].masked_fill(~consistent[rows], -math.inf).logsumexp(dim=-1)
    return (log_overlap[rows].logsumexp(dim=-1) - log_left).mean()


class ContextEncoder(nn.Module):
    """q_phi(z | c): an MLP maps each context transition c_n to a Gaussian factor, and the factors multiply.

    Args:
        context_dim: features of one transition (obs + action + 1 reward [+ next_obs]).
        latent_dim: size of z.
        hidden: hidden layers (oyster 200x200x200).
        probabilistic: True: the MLP outputs (mu_n, softplus -> var_n) and the posterior is their product;
            False (deterministic-z ablation): it outputs an embedding and z = the mean embedding.
        categorical: not in PEARL: the MLP outputs K = ``latent_dim`` logits, a categorical factor per transition,
            and the posterior is their product (:func:`product_of_categoricals`); z is a one-hot cluster.
    Forward:
        context (*lead, num_context, context_dim), optional mask (*lead, num_context) of valid rows
        -> (mu_post, var_post), each (*lead, latent_dim); var_post is 0 when deterministic. Categorical: the
        moments of the one-hot z, (q, q (1 - q)).

    Taught in notebooks/05_pearl.py (section "The encoder, step 1: one transition, one Gaussian factor").
    """

    def __init__(self, context_dim: int, latent_dim: int, hidden: Sequence[int] = (200, 200, 200), probabilistic: bool = True,
                 categorical: bool = False):
        super().__init__()
        check_int("context_dim", context_dim, 1)
        check_int("latent_dim", latent_dim, 2 if categorical else 1)
        if categorical and not probabilistic:
            raise ValueError("categorical must be False when probabilistic is False (a point belief has no factors)")
        self.context_dim, self.latent_dim = int(context_dim), int(latent_dim)
        self.probabilistic, self.categorical = bool(probabilistic), bool(categorical)
        outputs = latent_dim if categorical or not probabilistic else 2 * latent_dim
        self.net = mlp(context_dim, outputs, hidden, init="pearl")

    def factors(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Per-transition factors: context (*lead, N, context_dim) -> (mu_n, var_n), each (*lead, N, latent_dim)."""
        params = self._outputs(context)
        if not self.probabilistic:
            return params, torch.zeros_like(params)
        if self.categorical:  # (p_n, p_n (1 - p_n)): each factor's probabilities and one-hot variances
            probs = torch.softmax(params, dim=-1)
            return probs, probs * (1 - probs)
        mu, pre_var = params.split(self.latent_dim, dim=-1)
        return mu, F.softplus(pre_var)

    def _outputs(self, context: Tensor) -> Tensor:
        """The MLP on each checked context row, (*lead, N, outputs)."""
        if context.dim() < 2 or context.shape[-1] != self.context_dim:
            raise ValueError(f"context must have shape (*lead, num_context, {self.context_dim}), got {tuple(context.shape)}")
        return self.net(context)

    def forward(self, context: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.categorical:  # log-probabilities straight from the logits (no underflow through softmax then log)
            probs = product_of_categoricals(torch.log_softmax(self._outputs(context), dim=-1), mask)
            return probs, probs * (1 - probs)
        mu, var = self.factors(context)
        if not self.probabilistic:
            if mask is None:
                return mu.mean(dim=-2), var.mean(dim=-2)
            weights = mask.to(mu.dtype).unsqueeze(-1)
            return (mu * weights).sum(-2) / weights.sum(-2).clamp(min=1.0), var.mean(dim=-2)
        if mask is not None:  # a masked-out row is a factor of infinite variance: no effect
            var = torch.where(mask.unsqueeze(-1), var, torch.full_like(var, math.inf))
        return product_of_gaussians(mu, var)


@dataclass(frozen=True)
class Belief:
    """A diagonal Gaussian belief over z, one row per task (or env).

    Taught in notebooks/05_pearl.py (section "Meta-testing (Algorithm 2) on the 20 held-out goals").
    """

    mean: Tensor
    """(num_tasks, latent_dim) posterior (or prior) mean."""
    var: Tensor
    """(num_tasks, latent_dim) its variance (prior: 1; deterministic z: 0)."""

    def __len__(self) -> int:
        return self.mean.shape[0]

    def __getitem__(self, index: Any) -> "Belief":
        """The beliefs of some rows, e.g. ``belief[live]`` for the envs still collecting."""
        return Belief(self.mean[index], self.var[index])


class ContextPosterior(nn.Module):
    """q(z | c) around a :class:`ContextEncoder`: the prior, inference, reparameterised samples and the KL.

    Args:
        encoder: the :class:`ContextEncoder` (its ``probabilistic`` flag picks Gaussian or point beliefs).
    Shapes: context (num_tasks, num_context, context_dim) -> :class:`Belief` with (num_tasks, latent_dim) fields;
    ``sample`` -> (num_tasks, latent_dim); ``kl`` -> (num_tasks,).

    Taught in notebooks/05_pearl.py (section "The encoder, step 1: one transition, one Gaussian factor").
    """

    def __init__(self, encoder: ContextEncoder):
        super().__init__()
        self.encoder = encoder

    @property
    def latent_dim(self) -> int:
        """Size of z."""
        return self.encoder.latent_dim

    @property
    def probabilistic(self) -> bool:
        """False for the deterministic-z ablation (point beliefs, prior z = 0, no KL)."""
        return self.encoder.probabilistic

    @property
    def categorical(self) -> bool:
        """True when z is a one-hot cluster with a categorical posterior (not in PEARL)."""
        return getattr(self.encoder, "categorical", False)

    def prior(self, num_tasks: int) -> Belief:
        """N(0, I) for each task (deterministic: the point z = 0; categorical: uniform over the K clusters, as the
        moments (1/K, 1/K (1 - 1/K))): fields (num_tasks, latent_dim)."""
        check_int("num_tasks", num_tasks, 1)
        mean = torch.zeros(num_tasks, self.latent_dim, device=self._device())
        if self.categorical:
            mean = mean + 1.0 / self.latent_dim
            return Belief(mean, mean * (1 - mean))
        return Belief(mean, torch.ones_like(mean) if self.probabilistic else torch.zeros_like(mean))

    def prior_where(self, belief: Belief, empty: Tensor) -> Belief:
        """``belief`` with the prior in the rows where ``empty`` (num_tasks,) is True: what an empty context gives.
        No gradient reaches the encoder through those rows."""
        check_shape("empty", tuple(empty.shape), (len(belief),))
        prior, empty = self.prior(len(empty)), empty[:, None]
        return Belief(torch.where(empty, prior.mean, belief.mean), torch.where(empty, prior.var, belief.var))

    def infer(self, context: Tensor, mask: Tensor | None = None) -> Belief:
        """q(z | c): context (num_tasks, num_context, context_dim), mask (num_tasks, num_context) of valid rows."""
        return Belief(*self.encoder(context, mask))

    def sample(self, belief: Belief, generator: torch.Generator | None = None) -> Tensor:
        """z = mean + sqrt(var) * eps, (num_tasks, latent_dim); differentiable in the belief (rsample).

        Deterministic z: the mean itself (no random draw). Categorical: a one-hot cluster k ~ q, drawn by
        Gumbel-max; its gradient is the straight-through Gumbel-softmax's (temperature 1)."""
        if not self.probabilistic:
            return belief.mean
        if self.categorical:
            uniform = torch.rand(belief.mean.shape, generator=generator, device=belief.mean.device, dtype=belief.mean.dtype)
            scores = belief.mean.clamp_min(1e-30).log() - torch.log(-torch.log(uniform.clamp_min(1e-20)))
            soft = torch.softmax(scores, dim=-1)
            hard = F.one_hot(scores.argmax(dim=-1), self.latent_dim).to(soft.dtype)
            return hard + (soft - soft.detach())  # exactly one-hot in value, the soft sample's gradient
        eps = torch.randn(belief.mean.shape, generator=generator, device=belief.mean.device, dtype=belief.mean.dtype)
        return belief.mean + belief.var.sqrt() * eps

    def kl(self, belief: Belief) -> Tensor:
        """KL(belief || N(0, I)) per task, (num_tasks,); zeros for deterministic z (no bottleneck); categorical:
        KL(q || uniform) (:func:`kl_to_uniform`)."""
        if not self.probabilistic:
            return torch.zeros(len(belief), device=belief.mean.device)
        if self.categorical:
            return kl_to_uniform(belief.mean)
        return kl_to_prior(belief.mean, belief.var)

    def _device(self) -> torch.device:
        return next(self.encoder.parameters()).device


@dataclass(frozen=True)
class PosteriorSchedule:
    """When z comes from the prior and when from the posterior (oyster's names in brackets).

    Collection (PEARL Algorithm 1, per sampled task): ``num_steps_prior`` steps with z ~ prior, then
    ``num_steps_posterior`` with z ~ q(z | c) re-inferred every ``update_post_train`` trajectories, then
    ``num_extra_rl_steps_posterior`` posterior steps that go to the RL buffer only. Meta-testing
    (Algorithm 2): ``num_trajectories`` per task, the first ``num_exploration`` on prior samples.

    Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
    """

    num_steps_prior: int = 100
    """Steps per task with z ~ prior into both buffers (``num_steps_prior``)."""
    num_steps_posterior: int = 900
    """Steps per task with z ~ posterior into both buffers (``num_steps_posterior``)."""
    num_extra_rl_steps_posterior: int = 0
    """Steps per task with z ~ posterior into the RL buffer only (``num_extra_rl_steps_posterior``)."""
    update_post_train: int = 1
    """Trajectories between posterior refreshes while collecting (``update_post_train``)."""
    num_exploration: int = 5
    """Meta-test trajectories on prior samples before the posterior is used (``num_exp_traj_eval``)."""
    num_trajectories: int = 20
    """Meta-test trajectories per task (``num_steps_per_eval / max_path_length``)."""

    def __post_init__(self):
        for name in ("num_steps_prior", "num_steps_posterior", "num_extra_rl_steps_posterior", "num_exploration"):
            check_int(name, getattr(self, name), 0)
        check_int("update_post_train", self.update_post_train, 1)
        check_int("num_trajectories", self.num_trajectories, 1)
        check_int("num_exploration", self.num_exploration, 0, self.num_trajectories)

    @classmethod
    def from_config(cls, config: Any) -> "PosteriorSchedule":
        """From any config with oyster's field names (``PearlConfig``, later ``PeachConfig``)."""
        return cls(config.num_steps_prior, config.num_steps_posterior, config.num_extra_rl_steps_posterior,
                   config.update_post_train, config.num_exp_traj_eval, config.num_eval_trajectories)

    def refresh_after(self, trajectory: int) -> bool:
        """Re-infer the posterior after the ``trajectory``-th (1-based) trajectory of a posterior phase?"""
        return trajectory % self.update_post_train == 0

    def posterior_from(self, trajectory: int) -> bool:
        """At meta-test, is the belief re-inferred from all context after trajectory k (1-based)?"""
        return trajectory >= self.num_exploration


@runtime_checkable
class PosteriorAgent(Agent, Protocol):
    """An :class:`~peach_lite.loop.Agent` that acts on a latent z drawn from a belief it keeps per env.

    What :func:`meta_test` needs, on top of the Agent protocol:

    * ``begin_episode(tasks, explore=...)`` draws z ~ ``belief`` (one sample per env, held for the whole
      episode), using ``generator``; ``act`` then conditions on that z.
    * ``reset_belief(n)``: the prior for n envs, and an empty context.
    * ``add_context(episodes)``: append the transitions of the episode just run (every env's row; ``episodes.steps``
      is recorded) to the context.
    * ``infer_belief()``: the belief becomes q(z | all context since ``reset_belief``).

    PEARL implements it on a flat SAC; PEACH will implement it on a HAC hierarchy with z on its top level.

    Taught in notebooks/05_pearl.py (section "Meta-testing (Algorithm 2) on the 20 held-out goals").
    """

    posterior: ContextPosterior
    belief: Belief | None
    generator: torch.Generator
    schedule: PosteriorSchedule

    def reset_belief(self, num_tasks: int) -> Belief:
        """Belief <- prior for ``num_tasks`` envs; the context is emptied."""

    def add_context(self, episodes: Episodes) -> None:
        """Add the episode just run (as :func:`~peach_lite.loop.run_episodes` returned it) to the context."""

    def infer_belief(self) -> Belief:
        """Belief <- q(z | all context added since :meth:`reset_belief`); returns it."""


@dataclass
class MetaTestResult:
    """What :func:`meta_test` saw on each task, trajectory by trajectory.

    Taught in notebooks/05_pearl.py (section "Meta-testing (Algorithm 2) on the 20 held-out goals").
    """

    returns: np.ndarray
    """(num_tasks, num_trajectories) return of each trajectory (the env's reward: sparse on the sparse point robot)."""
    z_mean: np.ndarray
    """(num_tasks, num_trajectories, latent_dim) mean of the belief z was drawn from."""
    z_var: np.ndarray
    """(num_tasks, num_trajectories, latent_dim) its variance (prior: 1; deterministic z: 0)."""
    paths: np.ndarray | None = None
    """(num_tasks, num_trajectories, T + 1, obs_dim) visited observations (a dict observation's ``"observation"``),
    when ``record_paths=True``."""
    num_exploration: int = 0
    """How many leading trajectories used prior samples of z."""
    success: np.ndarray | None = None
    """(num_tasks, num_trajectories) bool: the env reported success during the trajectory (PEACH's maze)."""

    @property
    def per_trajectory(self) -> np.ndarray:
        """(num_trajectories,) mean return over tasks of the k-th trajectory."""
        return self.returns.mean(axis=0)

    @property
    def final_return(self) -> float:
        """oyster's ``AverageReturn_all_test_tasks``: mean over tasks of the last trajectory's return."""
        return float(self.returns[:, -1].mean())


def meta_test(agent: PosteriorAgent, envs: TaskEnvs, tasks: TaskBatch | Sequence[Any], schedule: PosteriorSchedule | None = None,
              *, seed: int = 0, record_paths: bool = False,
              on_trajectory: Callable[[int, Episodes], None] | None = None) -> MetaTestResult:
    """PEARL Algorithm 2 on every task at once, for any :class:`PosteriorAgent` (oyster ``collect_paths``).

    Start from the prior with an empty context. For k = 1..num_trajectories: ``run_episodes`` greedy
    (``explore=False``: mean actions, but z is still a fresh sample of the belief, held for the trajectory);
    add the trajectory to the context; once k >= ``num_exploration``, re-infer the belief from **all**
    context so far. So the first ``num_exploration`` trajectories use prior samples, every later one a
    posterior sample.

    Args:
        agent: a trained :class:`PosteriorAgent`.
        envs: the :class:`~peach_lite.loop.TaskEnvs` to run (one env per task, grown on demand).
        tasks: the tasks to adapt to (a TaskBatch, or a list of task objects: split "test").
        schedule: ``num_trajectories`` and ``num_exploration`` (default: the agent's own schedule).
        seed: seeds z and action sampling; the agent's own generator is restored afterwards.
        record_paths: keep every visited observation (for trajectory plots).
        on_trajectory: called as ``on_trajectory(k, episodes)`` after trajectory k (1-based), before the belief
            is updated (e.g. to keep a hierarchy's traces for pictures).
    Returns:
        :class:`MetaTestResult` with (num_tasks, num_trajectories, ...) arrays.

    Taught in notebooks/05_pearl.py (section "Meta-testing (Algorithm 2) on the 20 held-out goals").
    """
    schedule = schedule or agent.schedule
    check_int("seed", seed, 0)
    if not isinstance(tasks, TaskBatch):
        tasks = TaskBatch.from_list(list(tasks), split="test")
    if len(tasks) == 0:
        raise ValueError("tasks must list at least one task")
    saved_generator = agent.generator
    agent.generator = torch.Generator(device=saved_generator.device).manual_seed(int(seed))
    returns, means, variances, paths, successes = [], [], [], [], []
    try:
        with torch.no_grad():
            agent.reset_belief(len(tasks))
            for k in range(1, schedule.num_trajectories + 1):
                means.append(agent.belief.mean.cpu().numpy())
                variances.append(agent.belief.var.cpu().numpy())
                episodes = run_episodes(agent, envs, tasks, explore=False, record=True)  # add_context may read the steps
                returns.append(episodes.returns)
                successes.append(episodes.success)
                if record_paths:
                    paths.append(episodes.positions("observation" if isinstance(episodes.steps[0].obs, dict) else None))
                if on_trajectory is not None:
                    on_trajectory(k, episodes)
                agent.add_context(episodes)
                if schedule.posterior_from(k):
                    agent.infer_belief()
    finally:
        agent.generator = saved_generator
    return MetaTestResult(returns=np.stack(returns, axis=1), z_mean=np.stack(means, axis=1), z_var=np.stack(variances, axis=1),
                          paths=np.stack(paths, axis=1) if record_paths else None, num_exploration=schedule.num_exploration,
                          success=np.stack(successes, axis=1))


def repeated_meta_test(agent: PosteriorAgent, make_envs: Callable[[int], TaskEnvs], tasks: TaskBatch | Sequence[Any], *,
                       repeats: int = 8, seed: int = 0, schedule: PosteriorSchedule | None = None) -> np.ndarray:
    """:func:`meta_test` ``repeats`` times on the same tasks: repeat k runs on fresh envs ``make_envs(seed + 2k)`` with
    z and actions seeded ``seed + 2k + 1``. One meta-test of a few tasks scores success in coarse steps (1/12 on 12
    tasks) and two of the same agent can differ; the mean over repeats estimates the agent's expected success more
    tightly, and their spread shows how much one meta-test can say.

    Returns:
        success, float (repeats, num_tasks, num_trajectories).

    Taught in notebooks/11_peach.py (section "More data or more compute").
    """
    check_int("repeats", repeats, 1)
    check_int("seed", seed, 0)
    results = []
    for k in range(repeats):
        envs = make_envs(seed + 2 * k)
        try:
            results.append(meta_test(agent, envs, tasks, schedule, seed=seed + 2 * k + 1).success.astype(float))
        finally:
            envs.close()
    return np.stack(results)


def act_on_belief(agent: PosteriorAgent, envs: TaskEnvs, task: Any, belief: Belief, *, num_samples: int = 40, seed: int = 0) -> Episodes:
    """Where the agent goes under each hypothesis of a one-task belief: ``num_samples`` draws of z ~ ``belief``,
    each run for one greedy episode on ``task``, all in lockstep (``envs`` grows to ``num_samples`` envs).

    Args:
        agent: a :class:`PosteriorAgent`; its belief and generator are restored afterwards.
        belief: a :class:`Belief` with one row (e.g. a prior, or q(z | c) after some context).
    Returns:
        :class:`~peach_lite.loop.Episodes` with recorded steps (``.positions()`` gives the paths).

    Taught in notebooks/05_pearl.py (section "The posterior, one transition at a time").
    """
    check_int("num_samples", num_samples, 1)
    check_int("seed", seed, 0)
    if len(belief) != 1:
        raise ValueError(f"belief must have one row (one task), got {len(belief)}")
    saved_belief, saved_generator = agent.belief, agent.generator
    agent.belief = Belief(belief.mean.expand(num_samples, -1), belief.var.expand(num_samples, -1))
    agent.generator = torch.Generator(device=saved_generator.device).manual_seed(int(seed))
    try:
        with torch.no_grad():
            return run_episodes(agent, envs, TaskBatch.from_list([task] * num_samples, split="test"), explore=False, record=True)
    finally:
        agent.belief, agent.generator = saved_belief, saved_generator
