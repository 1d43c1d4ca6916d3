"""PEARL (Rakelly, Zhou, Quillen, Finn & Levine, ICML 2019): probabilistic context variables for
off-policy meta-RL, written to be read next to algorithms.md §1.1 (oyster @44e20fd).

The pieces, in the order of the lesson:

* :func:`product_of_gaussians` and :class:`ContextEncoder`: q_phi(z | c) = prod_n N(f_mu(c_n), f_var(c_n)),
  a permutation-invariant posterior over the latent task variable z (no prior factor, as oyster).
* :func:`kl_to_prior` / :func:`pearl_kl_loss`: the information bottleneck kl_lambda * sum_tasks KL(q || N(0, I)).
* :func:`pearl_q_target`: the context-conditioned critic target y = reward_scale * r + (1 - d) gamma V'(s', z).
* :class:`PEARL`: encoder + SAC actor-critic conditioned on z (twin Q(s, a, z), V(s, z), pi(a | s, z)),
  per-task RL and encoder replay buffers, and :meth:`PEARL.update` (one gradient step on a meta-batch).
* :func:`train_pearl`: meta-training, Algorithm 1 (prior and posterior data collection, then gradient steps).
* :func:`meta_test`: Algorithm 2 on held-out tasks (prior-sampled exploration, then posterior sampling).

Which loss reaches which parameters (oyster ``sac.py::_take_step``)::

    encoder  <- Q loss + KL          (z enters Q(s, a, z) un-detached)
    Q1, Q2   <- Q loss
    V        <- V loss               (V(s, z.detach()))
    policy   <- policy loss          (pi(a | s, z.detach()), min Q(s, a~, z.detach()))

Every network works on (num_tasks, batch, dim) tensors: a meta-batch of 16 tasks is one batched call,
never a Python loop over tasks.

Command line (train, save, record in data/MANIFEST.json)::

    python -m peach_lite.pearl --env peach_lite/PointRobotSparse-v0 --seed 0 --threads 1 \\
        --out data/checkpoints/pearl_point_robot.pt

Taught in notebooks/05_pearl.py.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from peach_lite.buffers import MultiTaskReplayBuffer, transition_fields
from peach_lite.device import get_device
from peach_lite.loop import History, make_env
from peach_lite.nets import ActionScale, EnsembleCritic, TanhGaussianPolicy, frozen, hard_update_, init_pearl_, mlp, polyak_update_
from peach_lite.sac import _flatten_optimizer_state, _load_flat_optimizer_state  # SAC's checkpoint helpers, reused
from peach_lite.validation import check_choice, check_range

__all__ = [
    "PearlConfig",
    "PRESETS",
    "CONTEXT_SAMPLING",
    "product_of_gaussians",
    "kl_to_prior",
    "pearl_kl_loss",
    "pearl_q_target",
    "ContextEncoder",
    "PEARL",
    "TaskRollouts",
    "Trajectories",
    "MetaTestResult",
    "meta_test",
    "train_pearl",
    "save_agent",
    "load_agent",
    "evaluate_checkpoint",
    "train_checkpoint",
    "main",
]

CONTEXT_SAMPLING = ("recent", "off_policy", "same_batch")
"""How the encoder's context is sampled (PEARL Figure 6):
``"recent"`` (PEARL): uniform over the task's encoder buffer, which is cleared before each collection;
``"off_policy"``: uniform over the task's whole RL replay buffer (all history);
``"same_batch"``: the actor-critic's own RL batch is the context (data collection then samples like ``"off_policy"``)."""

MIN_FACTOR_VAR = 1e-7
"""oyster clamps every factor variance to at least this before the product of Gaussians."""


# =============================================================================================
# Configuration


@dataclass
class PearlConfig:
    """PEARL hyperparameters. Defaults are oyster's ``configs/default.py`` overridden by
    ``configs/sparse-point-robot.json`` (algorithms.md §0 and §1.1), i.e. the reference run of lesson 05.
    ``PearlConfig.preset(name)`` gives the other runs (cheetah-vel, and the CPU-sized variants).

    Taught in notebooks/05_pearl.py (section "Meta-training").
    """

    # --- networks ----------------------------------------------------------------------------
    latent_dim: int = 5
    """Size of the context variable z (oyster ``latent_size=5``)."""
    hidden: tuple[int, ...] = (300, 300, 300)
    """Hidden layers of the policy, of Q1/Q2 and of V (oyster ``net_size=300``, three layers)."""
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden layers of the context encoder (oyster ``MlpEncoder(hidden_sizes=[200, 200, 200])``)."""
    probabilistic_z: bool = True
    """Gaussian posterior + KL (oyster ``use_information_bottleneck=True``); False gives the deterministic-z
    ablation of PEARL Figure 7: z = mean of per-transition embeddings, prior z = 0, no KL."""
    use_next_obs_in_context: bool = False
    """Context transitions are (s, a, r) or (s, a, r, s') (oyster: True only for walker/hopper params)."""
    # --- losses ------------------------------------------------------------------------------
    kl_lambda: float = 1.0
    """Weight of sum_tasks KL(q(z|c) || N(0, I)) (oyster default 0.1; sparse-point-robot 1.0)."""
    reward_scale: float = 100.0
    """Rewards are multiplied by this in the Q target; it sets the entropy trade-off, there is no alpha
    (oyster default 5; both point robots 100)."""
    gamma: float = 0.9
    """Discount (oyster default 0.99; sparse-point-robot 0.90)."""
    tau: float = 0.005
    """Polyak rate of the target V network (oyster ``soft_target_tau=0.005``, overriding the class's 1e-2)."""
    policy_lr: float = 3e-4
    """Adam learning rate of the policy (oyster ``policy_lr=3e-4``)."""
    qf_lr: float = 3e-4
    """Adam learning rate of Q1 and Q2 (oyster ``qf_lr=3e-4``)."""
    vf_lr: float = 3e-4
    """Adam learning rate of V (oyster ``vf_lr=3e-4``)."""
    context_lr: float = 3e-4
    """Adam learning rate of the encoder (oyster ``context_lr=3e-4``)."""
    policy_mean_reg: float = 1e-3
    """Weight of mean(mu_pi^2) in the policy loss (oyster ``policy_mean_reg_weight=1e-3``)."""
    policy_std_reg: float = 1e-3
    """Weight of mean(log_std_pi^2) in the policy loss (oyster ``policy_std_reg_weight=1e-3``)."""
    # --- batches -----------------------------------------------------------------------------
    meta_batch: int = 16
    """Tasks per gradient step, drawn with replacement (oyster default ``meta_batch=16``)."""
    batch_size: int = 256
    """RL transitions per task and gradient step (oyster ``batch_size=256``)."""
    context_batch: int = 1024
    """Context transitions per task and gradient step (oyster ``embedding_batch_size``: default 64,
    cheetah-vel 100, sparse-point-robot 1024)."""
    context_sampling: str = "recent"
    """One of :data:`CONTEXT_SAMPLING`; PEARL uses ``"recent"`` (the encoder buffer)."""
    dense_context: bool = False
    """Diagnostic, not in the reference: with ``sparse_rewards``, the encoder's context carries the *dense*
    reward instead of the sparse one (meta-test returns stay sparse). It separates the two halves of the
    problem: task inference from informative context vs exploration that must find the reward first."""
    # --- data collection (Algorithm 1) -------------------------------------------------------
    num_initial_steps: int = 200
    """Steps per train task collected with z ~ prior before the first iteration (oyster default 2000;
    sparse-point-robot 200)."""
    num_tasks_sample: int = 10
    """Train tasks (drawn with replacement) that collect data each iteration (oyster default 5; sparse-point 10)."""
    num_steps_prior: int = 100
    """Steps per sampled task with z ~ prior, into both buffers (oyster default 400; sparse-point 100)."""
    num_steps_posterior: int = 900
    """Steps per sampled task with z ~ posterior, re-inferred every ``update_post_train`` trajectories,
    into both buffers (oyster default 0; sparse-point 900)."""
    num_extra_rl_steps_posterior: int = 0
    """Steps per sampled task with z ~ posterior into the RL buffer only (oyster default 400; sparse-point 0)."""
    update_post_train: int = 1
    """Trajectories between posterior updates while collecting (oyster ``update_post_train=1``)."""
    num_train_steps_per_itr: int = 1000
    """Gradient steps per iteration (oyster default 2000; sparse-point 1000)."""
    num_iterations: int = 500
    """Meta-training iterations (oyster ``num_iterations=500``); ``train_pearl`` may be given fewer."""
    replay_buffer_size: int = 1_000_000
    """RL transitions kept per task (oyster ``replay_buffer_size=1000000``). The encoder buffer only ever
    holds one collection (it is cleared before each), so it is sized to that."""
    # --- rewards and meta-test (Algorithm 2) --------------------------------------------------
    sparse_rewards: bool = True
    """SAC learns from ``info["dense_reward"]``; the context and the evaluation use ``info["sparse_reward"]``
    (oyster ``sparse_rewards=1`` for sparse-point-robot: "rewards are always dense" for SAC)."""
    num_exp_traj_eval: int = 5
    """Meta-test trajectories run on prior samples of z before the posterior is used (oyster default 1;
    sparse-point 5; cheetah-vel 2)."""
    num_eval_trajectories: int = 20
    """Trajectories per meta-test task (oyster ``num_steps_per_eval``/``max_path_length``: 400/20 = 20 for
    sparse-point, 600/200 = 3 for MuJoCo)."""
    num_evals: int = 2
    """Independent meta-test runs averaged per task (oyster default ``num_evals=2``; cheetah-vel 1)."""
    seed: int = 0
    """Seeds network initialisation, z samples, policy noise, task choice and replay sampling."""

    def __post_init__(self):
        for name in ("hidden", "encoder_hidden"):
            value = tuple(getattr(self, name))
            if not value or not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1 for h in value):
                raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {getattr(self, name)!r}")
            setattr(self, name, tuple(int(h) for h in value))
        _check_int("latent_dim", self.latent_dim, 1, 1024)
        check_range("kl_lambda", self.kl_lambda, 0.0)
        check_range("reward_scale", self.reward_scale, 1e-12)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        for name in ("policy_lr", "qf_lr", "vf_lr", "context_lr"):
            check_range(name, getattr(self, name), 1e-12, 1.0)
        check_range("policy_mean_reg", self.policy_mean_reg, 0.0)
        check_range("policy_std_reg", self.policy_std_reg, 0.0)
        for name in ("meta_batch", "batch_size", "context_batch", "num_tasks_sample", "update_post_train",
                     "num_iterations", "replay_buffer_size", "num_eval_trajectories", "num_evals"):
            _check_int(name, getattr(self, name), 1)
        for name in ("num_initial_steps", "num_steps_prior", "num_steps_posterior", "num_extra_rl_steps_posterior",
                     "num_train_steps_per_itr", "num_exp_traj_eval", "seed"):
            _check_int(name, getattr(self, name), 0)
        check_choice("context_sampling", self.context_sampling, CONTEXT_SAMPLING)
        for name in ("probabilistic_z", "use_next_obs_in_context", "sparse_rewards", "dense_context"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.num_exp_traj_eval > self.num_eval_trajectories:
            raise ValueError(
                f"num_exp_traj_eval must be in [0, num_eval_trajectories={self.num_eval_trajectories}], got {self.num_exp_traj_eval}"
            )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "PearlConfig":
        """A named run from :data:`PRESETS`, with optional field overrides.

        Example: ``PearlConfig.preset("sparse-point-robot-cpu", seed=1)``.
        """
        check_choice("name", name, list(PRESETS))
        known = {f.name for f in fields(cls)}
        unknown = [key for key in overrides if key not in known]
        if unknown:
            raise ValueError(f"unknown PearlConfig field {unknown[0]!r}; fields: {sorted(known)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists instead of tuples), for checkpoints and results files."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


PRESETS: dict[str, dict[str, Any]] = {
    # oyster configs/default.py + configs/sparse-point-robot.json (= the dataclass defaults).
    "sparse-point-robot": {},
    # What this course trains on a 2-core CPU. Every deviation from the reference is listed here and in
    # the lesson; the benchmark (benchmarks/pearl_point_robot.py) shows what it reaches.
    "sparse-point-robot-cpu": {
        "hidden": (64, 64, 64),          # reference 300x300x300: a 2-D task needs far less; ~20x fewer FLOPs
        "encoder_hidden": (64, 64, 64),  # reference 200x200x200
        "context_batch": 256,            # reference 1024; the encoder buffer then holds 400 transitions
        "batch_size": 128,               # reference 256 per task
        "num_steps_posterior": 300,      # reference 900 (prior 100 kept): 20 trajectories per task and iteration
        "num_train_steps_per_itr": 250,  # reference 1000: refresh data four times as often per gradient step
        "policy_lr": 1e-3, "qf_lr": 1e-3, "vf_lr": 1e-3, "context_lr": 1e-3,  # reference 3e-4 (rlkit's class default is 1e-3)
        "kl_lambda": 0.1,                # reference 1.0 for sparse-point (0.1 in default.py); with 1.0 our CPU runs stalled
        "num_iterations": 500,           # as the reference; a CPU session stops much earlier (see the manifest command)
        "replay_buffer_size": 100_000,   # reference 1e6 per task; 500 iterations fill ~25k per task
    },
    # oyster configs/default.py + configs/cheetah-vel.json (HalfCheetahVel).
    "cheetah-vel": {
        "kl_lambda": 0.1, "reward_scale": 5.0, "gamma": 0.99, "context_batch": 100, "sparse_rewards": False,
        "num_initial_steps": 2000, "num_tasks_sample": 5, "num_steps_prior": 400, "num_steps_posterior": 0,
        "num_extra_rl_steps_posterior": 600, "num_train_steps_per_itr": 2000, "num_exp_traj_eval": 2,
        "num_eval_trajectories": 3, "num_evals": 1,
    },
    # A short HalfCheetahVel run that fits a CPU session (smaller nets, fewer steps per iteration).
    "cheetah-vel-cpu": {
        "kl_lambda": 0.1, "reward_scale": 5.0, "gamma": 0.99, "context_batch": 100, "sparse_rewards": False,
        "num_initial_steps": 400, "num_tasks_sample": 5, "num_steps_prior": 200, "num_steps_posterior": 0,
        "num_extra_rl_steps_posterior": 200, "num_train_steps_per_itr": 200, "num_exp_traj_eval": 2,
        "num_eval_trajectories": 3, "num_evals": 1,
        "hidden": (128, 128, 128), "encoder_hidden": (128, 128, 128), "batch_size": 128, "meta_batch": 8,
        "replay_buffer_size": 100_000, "num_iterations": 50,
    },
}
"""Named configurations for :meth:`PearlConfig.preset`: the reference runs and their CPU-sized variants."""


# =============================================================================================
# The encoder: q_phi(z | c) as a product of Gaussian factors


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

    Taught in notebooks/05_pearl.py (section "The product of Gaussians").
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

    Taught in notebooks/05_pearl.py (section "The KL term").
    """
    return 0.5 * (var + mu.pow(2) - 1.0 - var.log()).sum(dim=-1)


def pearl_kl_loss(mu: Tensor, var: Tensor, kl_lambda: float) -> Tensor:
    """The encoder's information bottleneck: kl_lambda * sum over tasks of KL(q(z | c_task) || N(0, I)).

    A **sum** over tasks (oyster ``compute_kl_div``), not a mean.

    Args:
        mu, var: (num_tasks, latent_dim) posterior parameters.
        kl_lambda: weight (1.0 for the sparse point robot, 0.1 by default).
    Returns:
        0-d tensor.

    Taught in notebooks/05_pearl.py (section "The KL term").
    """
    return kl_lambda * kl_to_prior(mu, var).sum()


def pearl_q_target(
    target_value: Callable[[Tensor, Tensor], Tensor],
    reward: Tensor,
    done: Tensor,
    next_obs: Tensor,
    z: Tensor,
    *,
    reward_scale: float,
    gamma: float,
) -> Tensor:
    """The context-conditioned critic target y = reward_scale * r + (1 - done) * gamma * V'(s', z), no gradient.

    Args:
        target_value: ``V'(obs, z) -> values`` for obs (*lead, obs_dim) and z (*lead, latent_dim).
        reward, done: (num_tasks, batch) (dense) reward and terminal flag.
        next_obs: (num_tasks, batch, obs_dim).
        z: (num_tasks, latent_dim): one sample per task, shared by that task's whole batch.
        reward_scale, gamma: see :class:`PearlConfig`.
    Returns:
        (num_tasks, batch) targets that do not require gradients.

    Taught in notebooks/05_pearl.py (section "The critic target").
    """
    with torch.no_grad():
        z_per_transition = z.unsqueeze(-2).expand(*next_obs.shape[:-1], z.shape[-1])
        return reward_scale * reward + (1.0 - done) * gamma * target_value(next_obs, z_per_transition)


class ContextEncoder(nn.Module):
    """q_phi(z | c): an MLP maps each context transition c_n to a Gaussian factor, and the factors multiply.

    Args:
        context_dim: features of one transition (obs + action + 1 reward [+ next_obs]).
        latent_dim: size of z.
        hidden: hidden layers (oyster 200x200x200).
        probabilistic: True: the MLP outputs (mu_n, softplus -> var_n) and the posterior is their product;
            False (deterministic-z ablation): it outputs an embedding and z = the mean embedding.
    Forward:
        context (*lead, num_context, context_dim), optional mask (*lead, num_context) of valid rows
        -> (mu_post, var_post), each (*lead, latent_dim); var_post is 0 when deterministic.

    Taught in notebooks/05_pearl.py (section "The encoder").
    """

    def __init__(self, context_dim: int, latent_dim: int, hidden: Sequence[int] = (200, 200, 200), probabilistic: bool = True):
        super().__init__()
        _check_int("context_dim", context_dim, 1)
        _check_int("latent_dim", latent_dim, 1)
        self.context_dim, self.latent_dim, self.probabilistic = int(context_dim), int(latent_dim), bool(probabilistic)
        self.net = mlp(context_dim, 2 * latent_dim if probabilistic else latent_dim, hidden, init="pearl")

    def factors(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Per-transition factors: context (*lead, N, context_dim) -> (mu_n, var_n), each (*lead, N, latent_dim)."""
        if context.dim() < 2 or context.shape[-1] != self.context_dim:
            raise ValueError(f"context must have shape (*lead, num_context, {self.context_dim}), got {tuple(context.shape)}")
        params = self.net(context)
        if not self.probabilistic:
            return params, torch.zeros_like(params)
        mu, pre_var = params.split(self.latent_dim, dim=-1)
        return mu, F.softplus(pre_var)

    def forward(self, context: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, var = self.factors(context)
        if not self.probabilistic:
            if mask is None:
                return mu.mean(dim=-2), var.mean(dim=-2)
            weights = mask.to(mu.dtype).unsqueeze(-1)
            return (mu * weights).sum(-2) / weights.sum(-2).clamp(min=1.0), var.mean(dim=-2)
        if mask is not None:  # a masked-out row is a factor of infinite variance: no effect
            var = torch.where(mask.unsqueeze(-1), var, torch.full_like(var, math.inf))
        return product_of_gaussians(mu, var)

    def prior(self, num_tasks: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        """The prior N(0, I) (deterministic: the point z = 0), as (mu, var) each (num_tasks, latent_dim)."""
        mu = torch.zeros(num_tasks, self.latent_dim, device=device)
        return mu, (torch.ones_like(mu) if self.probabilistic else torch.zeros_like(mu))


# =============================================================================================
# The agent: encoder + z-conditioned SAC (policy, twin Q, V, target V) + per-task buffers


class PEARL:
    """The PEARL agent: context encoder, z-conditioned SAC networks, RL and encoder replay buffers.

    Args:
        obs_dim, action_dim: sizes of the observation and action vectors.
        num_train_tasks: number of training task ids (one RL and one encoder buffer each).
        config: :class:`PearlConfig`.
        action_low, action_high: the env's action box; networks work in [-1, 1].
        device: torch device (default :func:`peach_lite.device.get_device`).

    Attributes: ``encoder`` (:class:`ContextEncoder`), ``policy`` (:class:`~peach_lite.nets.TanhGaussianPolicy`
    on [s, z]), ``critic`` (:class:`~peach_lite.nets.EnsembleCritic`, Q1 and Q2 on [s, a, z], fused),
    ``vf`` and ``vf_target`` (V on [s, z]), ``rl_buffer`` and ``enc_buffer``
    (:class:`~peach_lite.buffers.MultiTaskReplayBuffer`; field ``reward`` is what SAC learns from,
    ``context_reward`` what the encoder sees), ``generator`` (every random draw of training).

    Taught in notebooks/05_pearl.py (section "One gradient step").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        num_train_tasks: int,
        config: PearlConfig | None = None,
        *,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
        device: torch.device | str | None = None,
    ):
        self.config = cfg = config or PearlConfig()
        _check_int("obs_dim", obs_dim, 1)
        _check_int("action_dim", action_dim, 1)
        _check_int("num_train_tasks", num_train_tasks, 1)
        self.device = torch.device(device) if device is not None else get_device()
        self.obs_dim, self.action_dim, self.num_train_tasks = int(obs_dim), int(action_dim), int(num_train_tasks)
        self.context_dim = obs_dim + action_dim + 1 + (obs_dim if cfg.use_next_obs_in_context else 0)
        low = [-1.0] * action_dim if action_low is None else [float(x) for x in np.asarray(action_low).ravel()]
        high = [1.0] * action_dim if action_high is None else [float(x) for x in np.asarray(action_high).ravel()]
        if len(low) != action_dim or len(high) != action_dim:
            raise ValueError(f"action_low and action_high must have {action_dim} entries, got {len(low)} and {len(high)}")
        L = cfg.latent_dim
        with torch.random.fork_rng(devices=[]):  # initialise from config.seed without touching the global RNG
            torch.manual_seed(cfg.seed)
            self.encoder = ContextEncoder(self.context_dim, L, cfg.encoder_hidden, probabilistic=cfg.probabilistic_z)
            self.policy = TanhGaussianPolicy(obs_dim, action_dim, cfg.hidden, cond_dim=L, init="pearl")
            init_pearl_(self.policy, last_bound=1e-3)  # rlkit's TanhGaussianPolicy uses init_w=1e-3 on its last layer
            self.critic = EnsembleCritic(obs_dim, action_dim, cfg.hidden, num_critics=2, cond_dim=L, init="pearl")
            self.vf = mlp(obs_dim + L, 1, cfg.hidden, init="pearl")
            self.vf_target = mlp(obs_dim + L, 1, cfg.hidden)
        hard_update_(self.vf_target, self.vf)
        self.vf_target.requires_grad_(False)
        self.action_scale = ActionScale(low, high)
        for module in self.modules().values():
            module.to(self.device)
        self.action_scale.to(self.device)
        # Two Adams: step 1 of an update moves (Q1, Q2, encoder), step 2 moves (V, policy). Adam is
        # per-parameter, so this is the same as oyster's five optimizers, in two fused calls.
        self.critic_optimizer = torch.optim.Adam([
            {"params": list(self.critic.parameters()), "lr": cfg.qf_lr},
            {"params": list(self.encoder.parameters()), "lr": cfg.context_lr},
        ], fused=True)
        self.actor_optimizer = torch.optim.Adam([
            {"params": list(self.vf.parameters()), "lr": cfg.vf_lr},
            {"params": list(self.policy.parameters()), "lr": cfg.policy_lr},
        ], fused=True)
        buffer_fields = transition_fields(obs_dim, action_dim, context_reward=())
        enc_capacity = max(cfg.num_initial_steps, cfg.num_steps_prior + cfg.num_steps_posterior, 1)
        self.rl_buffer = MultiTaskReplayBuffer(num_train_tasks, cfg.replay_buffer_size, buffer_fields, device=self.device)
        self.enc_buffer = MultiTaskReplayBuffer(num_train_tasks, enc_capacity, buffer_fields, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.num_updates = 0

    # --- posterior over z ------------------------------------------------------------------------

    def prior(self, num_tasks: int) -> tuple[Tensor, Tensor]:
        """(mu, var) of the prior, each (num_tasks, latent_dim)."""
        return self.encoder.prior(num_tasks, self.device)

    def infer_posterior(self, context: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """q(z | c): context (num_tasks, num_context, context_dim) -> (mu, var), each (num_tasks, latent_dim)."""
        return self.encoder(context, mask)

    def sample_z(self, mu: Tensor, var: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """z = mu + sqrt(var) * eps (reparameterised, so gradients reach the encoder); deterministic: z = mu."""
        if not self.config.probabilistic_z:
            return mu
        eps = torch.randn(mu.shape, generator=generator or self.generator, device=mu.device, dtype=mu.dtype)
        return mu + var.sqrt() * eps

    def make_context(self, batch: dict[str, Tensor]) -> Tensor:
        """Context rows (obs, action, context_reward[, next_obs]) from a buffer sample: (*lead, context_dim).

        With ``config.dense_context`` the reward column is the dense ``batch["reward"]`` (a diagnostic)."""
        reward = batch["reward"] if self.config.dense_context else batch["context_reward"]
        parts = [batch["obs"], batch["action"], reward.unsqueeze(-1)]
        if self.config.use_next_obs_in_context:
            parts.append(batch["next_obs"])
        return torch.cat(parts, dim=-1)

    def sample_context(self, tasks: Sequence[int] | Tensor, rl_batch: dict[str, Tensor] | None = None,
                       generator: torch.Generator | None = None) -> Tensor:
        """Context for each listed task, sampled per ``config.context_sampling``: (len(tasks), num_context, context_dim).

        ``"recent"``: ``context_batch`` rows uniform from the task's encoder buffer (data since it was last
        cleared); ``"off_policy"``: from its whole RL buffer; ``"same_batch"``: the given ``rl_batch`` itself.
        """
        mode = self.config.context_sampling
        generator = generator or self.generator
        if mode == "same_batch" and rl_batch is not None:
            return self.make_context(rl_batch)
        buffer = self.enc_buffer if mode == "recent" else self.rl_buffer
        return self.make_context(buffer.sample(self.config.context_batch, tasks, generator))

    # --- acting ----------------------------------------------------------------------------------

    @torch.no_grad()
    def act_normalized(self, obs: Tensor, z: Tensor, deterministic: bool = False,
                       generator: torch.Generator | None = None) -> Tensor:
        """pi(a | s, z) in the policy's box [-1, 1]: obs (*batch, obs_dim), z (*batch, latent_dim) -> (*batch, action_dim)."""
        out = self.policy(obs.to(self.device), z, deterministic=deterministic, with_log_prob=False,
                          generator=generator or self.generator)
        return out.action

    # --- learning --------------------------------------------------------------------------------

    def value(self, obs: Tensor, z: Tensor) -> Tensor:
        """V(s, z): obs (*batch, obs_dim), z (*batch, latent_dim) -> (*batch,)."""
        return self.vf(torch.cat([obs, z], dim=-1)).squeeze(-1)

    def target_value(self, obs: Tensor, z: Tensor) -> Tensor:
        """V'(s, z), the Polyak-averaged copy of V used in the Q target: (*batch,)."""
        return self.vf_target(torch.cat([obs, z], dim=-1)).squeeze(-1)

    def compute_losses(self, tasks: Sequence[int] | Tensor | None = None) -> dict[str, Tensor]:
        """All four losses of one meta-batch from the current parameters, without any optimizer step.

        For inspection and tests (gradient routing); :meth:`update` computes the same losses but, as
        oyster does, evaluates V's and the policy's targets with the Q networks *after* their step.
        Returns 0-d tensors ``kl_loss``, ``q_loss``, ``v_loss``, ``policy_loss`` (with graphs).
        """
        step = self._forward(self._draw_tasks(tasks))
        return {"kl_loss": step.kl_loss, "q_loss": step.q_loss, **self._actor_losses(step)}

    def update(self, tasks: Sequence[int] | Tensor | None = None) -> dict[str, Tensor]:
        """One PEARL gradient step on a meta-batch (oyster ``sac.py::_take_step``).

        1. Draw ``meta_batch`` train tasks with replacement, an RL batch (dense reward) and a context batch
           (context reward) per task; infer q(z | c_task) and draw one z per task with ``rsample``.
        2. KL loss + Q loss -> step Q1, Q2 **and the encoder** (z enters Q un-detached).
        3. With the updated Q (frozen, z detached): V loss = MSE(V(s, z.detach()), min Q(s, a~, z) - log pi(a~|s, z)),
           policy loss = mean(log pi - min Q) + 1e-3 mean(mu_pi^2) + 1e-3 mean(log_std_pi^2) -> step V and pi.
        4. Polyak-update V' with tau.
        Returns detached 0-d tensors: kl_loss, q_loss, v_loss, policy_loss, z_var (mean posterior variance).
        """
        step = self._forward(self._draw_tasks(tasks))
        # Alg. 1, lines 17 and 19: phi and Q1, Q2 step on grad(L_critic + L_KL); the encoder gets nothing else
        self.critic_optimizer.zero_grad(set_to_none=True)
        (step.kl_loss + step.q_loss).backward()
        self.critic_optimizer.step()
        # Alg. 1, line 18 (and SAC's V): targets from the just-updated Q, z detached
        actor = self._actor_losses(step)
        self.actor_optimizer.zero_grad(set_to_none=True)
        (actor["v_loss"] + actor["policy_loss"]).backward()
        self.actor_optimizer.step()
        polyak_update_(self.vf_target, self.vf, self.config.tau)
        self.num_updates += 1
        return {"kl_loss": step.kl_loss.detach(), "q_loss": step.q_loss.detach(), "v_loss": actor["v_loss"].detach(),
                "policy_loss": actor["policy_loss"].detach(), "z_var": step.var.detach().mean()}

    # --- bookkeeping -----------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        """The trainable networks and the target V, by name."""
        return {"encoder": self.encoder, "policy": self.policy, "critic": self.critic, "vf": self.vf, "vf_target": self.vf_target}

    def state_dict(self, include_buffers: bool = False, include_optimizers: bool = True) -> dict[str, dict[str, Tensor]]:
        """``{part: {name: tensor}}`` (``save_checkpoint``-ready): networks, optionally optimizers and buffers."""
        state = {name: module.state_dict() for name, module in self.modules().items()}
        state["counters"] = {"num_updates": torch.tensor(self.num_updates), "generator": self.generator.get_state()}
        if include_optimizers:
            state["critic_optimizer"] = _flatten_optimizer_state(self.critic_optimizer)
            state["actor_optimizer"] = _flatten_optimizer_state(self.actor_optimizer)
        if include_buffers:
            state["rl_buffer"] = self.rl_buffer.state_dict()
            state["enc_buffer"] = self.enc_buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, dict[str, Tensor]]) -> None:
        """Load a :meth:`state_dict`; counters, optimizers and buffers are optional parts."""
        for name, module in self.modules().items():
            module.load_state_dict(state[name])
        if "counters" in state:
            self.num_updates = int(state["counters"]["num_updates"])
            self.generator.set_state(state["counters"]["generator"])
        for name, optimizer in (("critic_optimizer", self.critic_optimizer), ("actor_optimizer", self.actor_optimizer)):
            if name in state:
                _load_flat_optimizer_state(optimizer, state[name])
        if "rl_buffer" in state:
            self.rl_buffer.load_state_dict(state["rl_buffer"])
        if "enc_buffer" in state:
            self.enc_buffer.load_state_dict(state["enc_buffer"])

    # --- private -----------------------------------------------------------------------------------

    def _draw_tasks(self, tasks: Sequence[int] | Tensor | None) -> Tensor:
        if tasks is None:  # oyster: np.random.choice(train_tasks, meta_batch), i.e. with replacement
            return torch.randint(0, self.num_train_tasks, (self.config.meta_batch,), generator=self.generator, device=self.device)
        return torch.as_tensor(tasks, dtype=torch.long, device=self.device).flatten()

    def _forward(self, tasks: Tensor) -> "_Step":
        cfg = self.config
        batch = self.rl_buffer.sample(cfg.batch_size, tasks, self.generator)  # (T, B, ...), dense reward
        context = self.sample_context(tasks, batch)  # (T, C, context_dim), context (sparse) reward
        mu, var = self.infer_posterior(context)  # (T, L) each
        z = self.sample_z(mu, var)  # (T, L), one sample per task, differentiable
        obs, action = batch["obs"], batch["action"]
        z_b = z.unsqueeze(1).expand(-1, obs.shape[1], -1)  # (T, B, L): the task's z for each of its transitions
        # oyster agent.forward: the policy sees z.detach(); V sees z.detach(); only Q sees z itself
        pi = self.policy(obs, z_b.detach(), generator=self.generator)
        q = self.critic(obs, action, z_b)  # (2, T, B)
        v_pred = self.value(obs, z_b.detach())  # (T, B)
        target = pearl_q_target(self.target_value, batch["reward"], batch["done"], batch["next_obs"], z,
                                reward_scale=cfg.reward_scale, gamma=cfg.gamma)
        q_loss = (q - target).pow(2).mean(dim=(1, 2)).sum()  # mean((Q1 - y)^2) + mean((Q2 - y)^2)
        kl_loss = pearl_kl_loss(mu, var, cfg.kl_lambda) if cfg.probabilistic_z else torch.zeros((), device=self.device)
        return _Step(obs=obs, z=z_b, pi=pi, v_pred=v_pred, q_loss=q_loss, kl_loss=kl_loss, var=var)

    def _actor_losses(self, step: "_Step") -> dict[str, Tensor]:
        cfg = self.config
        pi, z = step.pi, step.z.detach()
        with frozen(self.critic):  # gradients flow through Q into a~ (and the policy), never into Q's weights
            min_q = self.critic(step.obs, pi.action, z).min(dim=0).values  # (T, B)
        v_loss = F.mse_loss(step.v_pred, (min_q - pi.log_prob).detach())
        policy_loss = (pi.log_prob - min_q).mean()
        policy_loss = policy_loss + cfg.policy_mean_reg * pi.mean.pow(2).mean() + cfg.policy_std_reg * pi.log_std.pow(2).mean()
        return {"v_loss": v_loss, "policy_loss": policy_loss}


@dataclass
class _Step:
    """What one forward pass of :meth:`PEARL.update` keeps between its two optimizer steps."""

    obs: Tensor
    z: Tensor
    pi: Any
    v_pred: Tensor
    q_loss: Tensor
    kl_loss: Tensor
    var: Tensor


# =============================================================================================
# Rollouts: one trajectory per task, all tasks in lockstep (one batched policy call per step)


@dataclass
class Trajectories:
    """One trajectory per env, padded to the longest; all tensors have leading dims (num_envs, T).

    Taught in notebooks/05_pearl.py (section "Meta-testing").
    """

    obs: Tensor
    """(n, T, obs_dim) observations s_t."""
    action: Tensor
    """(n, T, action_dim) actions in the policy's box [-1, 1]."""
    reward: Tensor
    """(n, T) the reward SAC learns from (dense on the sparse point robot)."""
    context_reward: Tensor
    """(n, T) the reward the encoder sees and the evaluation scores (sparse on the sparse point robot)."""
    next_obs: Tensor
    """(n, T, obs_dim) observations s_{t+1}."""
    done: Tensor
    """(n, T) 1.0 where the env terminated (not truncated)."""
    mask: Tensor
    """(n, T) bool, True for real steps (False for padding after an early termination)."""

    @property
    def returns(self) -> np.ndarray:
        """(n,) undiscounted return of ``context_reward`` (the evaluation reward)."""
        return (self.context_reward * self.mask).sum(dim=1).cpu().numpy().astype(np.float64)

    @property
    def positions(self) -> np.ndarray:
        """(n, T + 1, obs_dim) s_0, s_1, ..., for plotting paths (padding repeats the last state)."""
        return torch.cat([self.obs[:, :1], self.next_obs], dim=1).cpu().numpy()

    def rows(self, i: int) -> dict[str, Tensor]:
        """Env i's real transitions as buffer fields (each (len_i, ...))."""
        keep = self.mask[i]
        return {"obs": self.obs[i, keep], "action": self.action[i, keep], "reward": self.reward[i, keep],
                "next_obs": self.next_obs[i, keep], "done": self.done[i, keep], "context_reward": self.context_reward[i, keep]}


class TaskRollouts:
    """A pool of envs of one id that run one trajectory per task in lockstep.

    Args:
        env_id: a gymnasium id (``peach_lite/...`` ids are registered on demand).
        sparse_rewards: read SAC's reward from ``info["dense_reward"]`` and the context/evaluation reward
            from ``info["sparse_reward"]`` (else both are the env's reward).
        seed: env i is first reset with ``seed + i``.
        env_kwargs: forwarded to ``gymnasium.make``.

    ``run(tasks, act_fn, action_scale)`` sets task i on env i, resets, and steps every env until it
    terminates or truncates; ``act_fn(obs (n_active, obs_dim), index (n_active,)) -> action in [-1, 1]``
    is called once per time step for all active envs.

    Taught in notebooks/05_pearl.py (section "Meta-testing").
    """

    def __init__(self, env_id: str, sparse_rewards: bool, seed: int = 0, **env_kwargs: Any):
        self.env_id, self.sparse_rewards, self.seed, self.env_kwargs = env_id, bool(sparse_rewards), int(seed), env_kwargs
        self.envs: list[gym.Env] = []
        self._grow(1)
        probe = self.envs[0]
        if not isinstance(probe.action_space, gym.spaces.Box) or not isinstance(probe.observation_space, gym.spaces.Box):
            raise ValueError(f"{env_id} must have Box observation and action spaces")
        unwrapped = probe.unwrapped
        if not hasattr(unwrapped, "train_tasks"):
            raise ValueError(f"{env_id} has no task API (train_tasks/test_tasks/set_task): use a peach_lite/ env")
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.action_dim = int(np.prod(probe.action_space.shape))
        self.action_low, self.action_high = probe.action_space.low, probe.action_space.high
        self.train_tasks, self.test_tasks = unwrapped.train_tasks(), unwrapped.test_tasks()

    def run(self, tasks: Sequence[Any], act_fn: Callable[[Tensor, Tensor], Tensor], action_scale: ActionScale) -> Trajectories:
        n = len(tasks)
        self._grow(n)
        obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        for i, task in enumerate(tasks):
            obs[i] = self.envs[i].reset(options={"task": task})[0]
        active = np.ones(n, dtype=bool)
        steps: list[tuple] = []
        while active.any():
            index = np.flatnonzero(active)
            obs_t = torch.as_tensor(obs[index])
            action = act_fn(obs_t, torch.as_tensor(index)).cpu()
            env_action = action_scale.to_env(action.to(action_scale.low.device)).cpu().numpy()
            full_action = np.zeros((n, self.action_dim), dtype=np.float32)
            full_action[index] = action.numpy()
            next_obs = obs.copy()
            reward, context_reward, done = np.zeros(n), np.zeros(n), np.zeros(n)
            mask = active.copy()
            for j, i in enumerate(index):
                o, r, terminated, truncated, info = self.envs[i].step(env_action[j])
                if self.sparse_rewards:
                    try:
                        reward[i], context_reward[i] = info["dense_reward"], info["sparse_reward"]
                    except KeyError:
                        raise ValueError(f"sparse_rewards=True needs info['dense_reward'] and info['sparse_reward'] from {self.env_id}") from None
                else:
                    reward[i] = context_reward[i] = r
                next_obs[i] = o
                done[i] = float(terminated)
                if terminated or truncated:
                    active[i] = False
            steps.append((obs.copy(), full_action, reward, context_reward, next_obs.copy(), done, mask))
            obs = next_obs
        stack = [np.stack(column, axis=1) for column in zip(*steps)]
        as_t = [torch.as_tensor(s, dtype=torch.float32) for s in stack]
        return Trajectories(obs=as_t[0], action=as_t[1], reward=as_t[2], context_reward=as_t[3], next_obs=as_t[4],
                            done=as_t[5], mask=torch.as_tensor(stack[6], dtype=torch.bool))

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _grow(self, n: int) -> None:
        while len(self.envs) < n:
            env = make_env(self.env_id, **self.env_kwargs)
            env.reset(seed=self.seed + len(self.envs))
            self.envs.append(env)


# =============================================================================================
# Meta-training (Algorithm 1)


def train_pearl(
    agent: PEARL,
    rollouts: TaskRollouts,
    num_iterations: int | None = None,
    *,
    eval_every: int = 0,
    eval_tasks: Sequence[Any] | None = None,
    log_every: int = 100,
    history: History | None = None,
    progress: bool = True,
    callback: Callable[[int, PEARL, History], bool | None] | None = None,
) -> History:
    """Meta-train ``agent`` (PEARL Algorithm 1 as oyster's ``rl_algorithm.py::train``).

    Before the first iteration, every train task collects ``num_initial_steps`` with z ~ prior. Then each iteration:

    1. For ``num_tasks_sample`` train tasks drawn with replacement: **clear that task's encoder buffer**;
       collect ``num_steps_prior`` steps with z ~ prior (a fresh z per trajectory) into both buffers;
       ``num_steps_posterior`` steps with z ~ posterior, re-inferred every ``update_post_train`` trajectories
       from context sampled out of the encoder buffer, into both buffers; ``num_extra_rl_steps_posterior``
       such steps into the RL buffer only. Tasks run in lockstep; a task drawn twice runs in a second wave.
    2. ``num_train_steps_per_itr`` calls of :meth:`PEARL.update`.
    3. Every ``eval_every`` iterations: :func:`meta_test` on ``eval_tasks`` (default: the test split).

    Args:
        agent: the :class:`PEARL` agent (its buffers fill up; its ``generator`` drives every draw).
        rollouts: a :class:`TaskRollouts` of the training env (its ``train_tasks`` index the buffers).
        num_iterations: iterations to run in this call (default ``agent.config.num_iterations``).
        history: a History from an earlier call to continue (initial collection is then skipped).
        callback: ``callback(iteration, agent, history)`` after each iteration; returning True stops.
    Returns:
        A :class:`~peach_lite.loop.History`: ``steps``/``returns`` hold, per iteration, the environment steps
        so far and the mean return of that iteration's collected trajectories; ``eval_steps``/``eval_returns``
        the final-trajectory meta-test return; ``losses`` every ``log_every`` updates; ``wall_time`` per iteration.

    Taught in notebooks/05_pearl.py (section "Meta-training").
    """
    cfg = agent.config
    num_iterations = cfg.num_iterations if num_iterations is None else num_iterations
    _check_int("num_iterations", num_iterations, 0)
    _check_int("eval_every", eval_every, 0)
    _check_int("log_every", log_every, 1)
    if len(rollouts.train_tasks) != agent.num_train_tasks:
        raise ValueError(f"rollouts has {len(rollouts.train_tasks)} train tasks but the agent was built for {agent.num_train_tasks}")
    history = history if history is not None else History()
    history.interrupted = False
    eval_tasks = rollouts.test_tasks if eval_tasks is None else list(eval_tasks)
    started, elapsed_before = time.perf_counter(), history.elapsed
    bar = tqdm(total=num_iterations, desc="PEARL iterations", disable=not progress, leave=False)
    try:
        if history.total_steps == 0 and cfg.num_initial_steps > 0:
            # Iteration 0: num_initial_steps per train task with z ~ prior, into both buffers
            all_tasks = list(range(agent.num_train_tasks))
            _collect(agent, rollouts, all_tasks, cfg.num_initial_steps, posterior=False, to_enc=True)
            history.total_steps += cfg.num_initial_steps * len(all_tasks)
        for iteration in range(num_iterations):
            # Alg. 1, lines 3-10: collect data for a few train tasks (z ~ prior, then z ~ posterior)
            drawn = torch.randint(0, agent.num_train_tasks, (cfg.num_tasks_sample,), generator=agent.generator).tolist()
            returns, steps = [], 0
            for wave in _waves(drawn):
                for task in wave:
                    agent.enc_buffer.clear(task)  # "recent" context: only data from this collection
                if cfg.num_steps_prior:
                    _collect(agent, rollouts, wave, cfg.num_steps_prior, posterior=False, to_enc=True)
                if cfg.num_steps_posterior:
                    returns += _collect(agent, rollouts, wave, cfg.num_steps_posterior, posterior=True, to_enc=True)
                if cfg.num_extra_rl_steps_posterior:
                    returns += _collect(agent, rollouts, wave, cfg.num_extra_rl_steps_posterior, posterior=True, to_enc=False)
                steps += len(wave) * (cfg.num_steps_prior + cfg.num_steps_posterior + cfg.num_extra_rl_steps_posterior)
            history.total_steps += steps
            history.steps.append(history.total_steps)
            history.returns.append(float(np.mean(returns)) if returns else float("nan"))
            # Alg. 1, lines 11-20: gradient steps on meta-batches of tasks
            for _ in range(cfg.num_train_steps_per_itr):
                losses = agent.update()
                history.num_updates += 1
                if history.num_updates % log_every == 0:
                    history.loss_steps.append(history.total_steps)
                    for name, value in losses.items():
                        history.losses.setdefault(name, []).append(float(value))
            history.wall_time.append(elapsed_before + time.perf_counter() - started)
            if eval_every and (iteration + 1) % eval_every == 0:
                result = meta_test(agent, rollouts, eval_tasks, seed=10_000 + len(history.eval_steps))
                history.eval_steps.append(history.total_steps)
                history.eval_returns.append(result.final_return)
                history.eval_std.append(float(result.returns[:, -1].std()))
                bar.set_postfix(final_return=f"{result.final_return:.2f}", refresh=False)
            bar.update(1)
            if callback is not None and callback(iteration + 1, agent, history):
                history.interrupted = True
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted after {len(history.steps)} iterations: the agent is usable; pass history=... to continue.")
    finally:
        bar.close()
        history.elapsed = elapsed_before + time.perf_counter() - started
    return history


def _collect(agent: PEARL, rollouts: TaskRollouts, task_ids: Sequence[int], num_steps: int, *, posterior: bool, to_enc: bool) -> list[float]:
    """oyster ``collect_data`` for several tasks at once: start from the prior, one fresh z per trajectory,
    and (``posterior``) re-infer q(z|c) from the encoder buffer every ``update_post_train`` trajectories.
    Returns the (context-reward) return of every trajectory."""
    cfg = agent.config
    ids = torch.as_tensor(list(task_ids), dtype=torch.long)
    tasks = [rollouts.train_tasks[i] for i in task_ids]
    mu, var = agent.prior(len(tasks))
    collected = np.zeros(len(tasks), dtype=np.int64)
    returns: list[float] = []
    num_trajectories = 0
    while (collected < num_steps).any():
        live = np.flatnonzero(collected < num_steps)
        with torch.no_grad():
            z = agent.sample_z(mu, var)  # resample_z_rate = 1: a fresh z every trajectory
        z_live = z[live]
        traj = rollouts.run([tasks[i] for i in live], lambda o, idx: agent.act_normalized(o, z_live[idx]), agent.action_scale)
        for j, i in enumerate(live):
            rows = traj.rows(j)
            agent.rl_buffer.add_batch(int(ids[i]), **rows)
            if to_enc:
                agent.enc_buffer.add_batch(int(ids[i]), **rows)
            collected[i] += int(traj.mask[j].sum())
        returns += traj.returns.tolist()
        num_trajectories += 1
        if posterior and num_trajectories % cfg.update_post_train == 0:
            with torch.no_grad():
                mu, var = agent.infer_posterior(agent.sample_context(ids))
    return returns


def _waves(tasks: Sequence[int]) -> list[list[int]]:
    """Split a task list drawn with replacement into waves of distinct tasks (order kept)."""
    waves: list[list[int]] = []
    for task in tasks:
        for wave in waves:
            if task not in wave:
                wave.append(task)
                break
        else:
            waves.append([task])
    return waves


# =============================================================================================
# Meta-testing (Algorithm 2)


@dataclass
class MetaTestResult:
    """What :func:`meta_test` saw on each task, trajectory by trajectory.

    Taught in notebooks/05_pearl.py (section "Meta-testing").
    """

    returns: np.ndarray
    """(num_tasks, num_trajectories) return of each trajectory (sparse reward on the sparse point robot)."""
    z_mean: np.ndarray
    """(num_tasks, num_trajectories, latent_dim) mean of the distribution z was drawn from."""
    z_var: np.ndarray
    """(num_tasks, num_trajectories, latent_dim) its variance (prior: 1; deterministic z: 0)."""
    paths: np.ndarray | None = None
    """(num_tasks, num_trajectories, T + 1, obs_dim) visited observations, when ``record_paths=True``."""
    num_exploration: int = 0
    """How many leading trajectories used prior samples of z."""

    @property
    def per_trajectory(self) -> np.ndarray:
        """(num_trajectories,) mean return over tasks of the k-th trajectory."""
        return self.returns.mean(axis=0)

    @property
    def final_return(self) -> float:
        """oyster's ``AverageReturn_all_test_tasks``: mean over tasks of the last trajectory's return."""
        return float(self.returns[:, -1].mean())


def meta_test(
    agent: PEARL,
    rollouts: TaskRollouts,
    tasks: Sequence[Any] | None = None,
    *,
    num_trajectories: int | None = None,
    num_exploration: int | None = None,
    deterministic: bool = True,
    seed: int = 0,
    record_paths: bool = False,
) -> MetaTestResult:
    """PEARL Algorithm 2 on each task, all tasks in lockstep (oyster ``collect_paths``).

    Start from the prior with an empty context. For k = 1..num_trajectories: draw z from the current
    q (a fresh sample every trajectory) and hold it for the whole trajectory; run it with the mean action
    (``deterministic``); add its transitions to the context; once k >= ``num_exploration``, re-infer the
    posterior from **all** accumulated context. So the first ``num_exploration`` trajectories use prior
    samples, every later one a posterior sample.

    Args:
        agent: a trained :class:`PEARL`.
        rollouts: a :class:`TaskRollouts` of the env.
        tasks: the tasks to adapt to (default: the held-out test split).
        num_trajectories, num_exploration: default ``config.num_eval_trajectories`` / ``num_exp_traj_eval``.
        deterministic: mean actions (oyster ``eval_deterministic=True``); z stays stochastic.
        seed: seeds z and action sampling (the agent's training generator is not touched).
        record_paths: keep every visited observation (for trajectory plots).

    Taught in notebooks/05_pearl.py (section "Meta-testing").
    """
    cfg = agent.config
    tasks = rollouts.test_tasks if tasks is None else list(tasks)
    num_trajectories = cfg.num_eval_trajectories if num_trajectories is None else num_trajectories
    num_exploration = cfg.num_exp_traj_eval if num_exploration is None else num_exploration
    _check_int("num_trajectories", num_trajectories, 1)
    _check_int("num_exploration", num_exploration, 0, num_trajectories)
    if not tasks:
        raise ValueError("tasks must list at least one task")
    generator = torch.Generator(device=agent.device).manual_seed(int(seed))
    mu, var = agent.prior(len(tasks))
    contexts, masks, returns, z_means, z_vars, paths = [], [], [], [], [], []
    with torch.no_grad():
        for k in range(1, num_trajectories + 1):
            z = agent.sample_z(mu, var, generator)
            z_means.append(mu.cpu().numpy())
            z_vars.append(var.cpu().numpy())
            traj = rollouts.run(tasks, lambda o, idx: agent.act_normalized(o, z[idx], deterministic, generator), agent.action_scale)
            contexts.append(agent.make_context({"obs": traj.obs, "action": traj.action, "reward": traj.reward,
                                                "context_reward": traj.context_reward, "next_obs": traj.next_obs}).to(agent.device))
            masks.append(traj.mask.to(agent.device))
            returns.append(traj.returns)
            if record_paths:
                paths.append(traj.positions)
            if k >= num_exploration:
                mask = torch.cat(masks, dim=1)
                mu, var = agent.infer_posterior(torch.cat(contexts, dim=1), None if bool(mask.all()) else mask)
    return MetaTestResult(
        returns=np.stack(returns, axis=1),
        z_mean=np.stack(z_means, axis=1),
        z_var=np.stack(z_vars, axis=1),
        paths=_stack_paths(paths) if record_paths else None,
        num_exploration=int(num_exploration),
    )


def _stack_paths(paths: list[np.ndarray]) -> np.ndarray:
    longest = max(p.shape[1] for p in paths)
    padded = [np.concatenate([p, np.repeat(p[:, -1:], longest - p.shape[1], axis=1)], axis=1) for p in paths]
    return np.stack(padded, axis=1)


# =============================================================================================
# Checkpoints


def save_agent(agent: PEARL, path: str | Path, *, env_id: str, meta: dict[str, Any] | None = None) -> Path:
    """Save the networks (no buffers, no optimizers) with ``save_checkpoint``; the config goes into ``arch``."""
    from peach_lite.checkpoints import save_checkpoint

    state = agent.state_dict(include_optimizers=False)
    state.pop("counters")
    arch = {"algo": "pearl", "env_id": env_id, "obs_dim": agent.obs_dim, "action_dim": agent.action_dim,
            "num_train_tasks": agent.num_train_tasks, "config": agent.config.to_dict(),
            "action_low": agent.action_scale.low.tolist(), "action_high": agent.action_scale.high.tolist()}
    return save_checkpoint(path, state, arch=arch, meta=meta)


def load_agent(path: str | Path, device: torch.device | str | None = "cpu", *, check_manifest: bool = True) -> tuple[PEARL, dict[str, Any]]:
    """Rebuild a :class:`PEARL` agent from :func:`save_agent`'s file; returns (agent, payload). Buffers are tiny.

    ``check_manifest``: a file listed in data/MANIFEST.json must match its recorded sha256 (False only for a
    file just trained, before it is recorded)."""
    from peach_lite.checkpoints import CheckpointError, load_checkpoint

    payload = load_checkpoint(path, check_manifest=check_manifest)
    arch = payload["arch"]
    if arch.get("algo") != "pearl":
        raise CheckpointError(f"{path}: not a PEARL checkpoint (algo={arch.get('algo')!r})")
    config = PearlConfig(**{**arch["config"], "replay_buffer_size": 1, "num_initial_steps": 1, "num_steps_prior": 0,
                            "num_steps_posterior": 0})
    agent = PEARL(arch["obs_dim"], arch["action_dim"], arch["num_train_tasks"], config,
                  action_low=arch["action_low"], action_high=arch["action_high"], device=device)
    try:
        agent.load_state_dict(payload["state"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{path}: state does not fit a PEARL agent: {str(error).splitlines()[0]}") from None
    return agent, payload


EVAL_SEED = 12_345
"""Seed of the first meta-test run of :func:`evaluate_checkpoint` (run r uses EVAL_SEED + r)."""


def evaluate_checkpoint(path: str | Path, num_evals: int | None = None, *, check_manifest: bool = True) -> float:
    """Reference meta-test score of a saved agent: mean over the held-out tasks (and ``num_evals`` seeded
    runs, default the config's: 2 for the point robot, 1 for cheetah-vel) of the **last** trajectory's
    return, after ``num_eval_trajectories`` trajectories of which the first ``num_exp_traj_eval`` use prior
    samples of z. Vectorised over tasks: seconds for the point robot, ~10-20 s for cheetah-vel on a CPU.

    Used by ``data/MANIFEST.json`` (``tests/test_manifest.py``) to re-check the recorded score.
    """
    agent, payload = load_agent(path, device="cpu", check_manifest=check_manifest)
    num_evals = agent.config.num_evals if num_evals is None else num_evals
    _check_int("num_evals", num_evals, 1)
    rollouts = TaskRollouts(payload["arch"]["env_id"], agent.config.sparse_rewards, seed=EVAL_SEED)
    try:
        scores = [meta_test(agent, rollouts, seed=EVAL_SEED + r).final_return for r in range(num_evals)]
    finally:
        rollouts.close()
    return float(np.mean(scores))


# =============================================================================================
# Command line


def train_checkpoint(
    env_id: str,
    out: str | Path,
    *,
    preset: str | None = None,
    seed: int = 0,
    num_iterations: int | None = None,
    eval_every: int = 10,
    save_every: int = 0,
    record: bool = True,
    tolerance: float = 1.0,
    command: str | None = None,
    **overrides: Any,
) -> tuple[Path, float, History]:
    """Meta-train PEARL on ``env_id``, save it to ``out`` and (``record``) note it in data/MANIFEST.json.

    Args:
        preset: a :data:`PRESETS` name (default ``"sparse-point-robot-cpu"``, or ``"cheetah-vel-cpu"`` for cheetah ids).
        num_iterations: default the preset's.
        eval_every: iterations between meta-tests on the test tasks (the learning curve in ``meta["history"]``).
        save_every: also save every this many iterations (a long run killed midway still leaves a checkpoint).
        command: the command line recorded in the manifest.
        **overrides: :class:`PearlConfig` fields, e.g. ``probabilistic_z=False``.
    Returns:
        (path, score of :func:`evaluate_checkpoint`, History). Progress lines go to stdout.
    """
    from peach_lite.seeding import seed_everything

    preset = preset or ("cheetah-vel-cpu" if "Cheetah" in env_id else "sparse-point-robot-cpu")
    if num_iterations is not None:
        overrides["num_iterations"] = num_iterations
    config = PearlConfig.preset(preset, seed=seed, **overrides)
    seed_everything(seed)
    rollouts = TaskRollouts(env_id, config.sparse_rewards, seed=seed)
    agent = PEARL(rollouts.obs_dim, rollouts.action_dim, len(rollouts.train_tasks), config,
                  action_low=rollouts.action_low, action_high=rollouts.action_high, device="cpu")
    command = command or f"python -m peach_lite.pearl --env {env_id} --seed {seed} --out {out}"
    started = time.perf_counter()

    def meta(history: History) -> dict[str, Any]:
        return {"seed": seed, "preset": preset, "iterations": len(history.steps), "command": command,
                "train_seconds": history.elapsed, "torch_threads": torch.get_num_threads(), "history": history.to_dict()}

    def progress(iteration: int, agent_: PEARL, history: History) -> None:
        last = history.eval_returns[-1] if history.eval_returns else float("nan")
        print(f"iteration {iteration}: {history.total_steps} env steps, {history.num_updates} updates, "
              f"{time.perf_counter() - started:.0f} s, train return {history.returns[-1]:.2f}, "
              f"last meta-test {last:.2f}", flush=True)
        if save_every and iteration % save_every == 0:
            history.elapsed = time.perf_counter() - started
            save_agent(agent_, out, env_id=env_id, meta=meta(history))

    history = train_pearl(agent, rollouts, config.num_iterations, eval_every=eval_every, callback=progress, progress=False)
    path = save_agent(agent, out, env_id=env_id, meta=meta(history))
    rollouts.close()
    score = evaluate_checkpoint(path, check_manifest=False)  # a new file: its manifest entry is written below
    print(f"{path}: meta-test final-trajectory return {score:.3f} after {history.elapsed / 60:.1f} min of meta-training", flush=True)
    if record:
        from peach_lite.checkpoints import record_in_manifest

        record_in_manifest(path, command=command, seed=seed, score_name="final_trajectory_return", score=score,
                           evaluate="peach_lite.pearl:evaluate_checkpoint", tolerance=tolerance)
    return path, score, history


def main(argv: Sequence[str] | None = None) -> float:
    """Meta-train PEARL, save a checkpoint, and record it in data/MANIFEST.json; returns the score."""
    parser = argparse.ArgumentParser(prog="python -m peach_lite.pearl", description=main.__doc__)
    parser.add_argument("--env", default="peach_lite/PointRobotSparse-v0", help="a peach_lite/ task-distribution id")
    parser.add_argument("--preset", default=None, choices=list(PRESETS), help="default: the env's *-cpu preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=None, help="meta-training iterations (default: the preset's)")
    parser.add_argument("--deterministic-z", action="store_true", help="ablation: deterministic context (PEARL Fig. 7)")
    parser.add_argument("--context-sampling", default="recent", choices=CONTEXT_SAMPLING, help="ablation (PEARL Fig. 6)")
    parser.add_argument("--eval-every", type=int, default=10, help="iterations between meta-tests (learning curve)")
    parser.add_argument("--save-every", type=int, default=0, help="also save the checkpoint every N iterations")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="manifest: allowed shortfall when re-evaluated")
    parser.add_argument("--no-record", action="store_true", help="do not write data/MANIFEST.json")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override PearlConfig fields, e.g. --set policy_lr=1e-3 hidden=128,128")
    args = parser.parse_args(argv)
    overrides = dict(_parse_override(item) for item in args.set)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m peach_lite.pearl " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    _, score, _ = train_checkpoint(args.env, args.out, preset=args.preset, seed=args.seed, num_iterations=args.iterations,
                                   eval_every=args.eval_every, save_every=args.save_every, record=not args.no_record,
                                   tolerance=args.tolerance, command=command,
                                   **{"probabilistic_z": not args.deterministic_z, "context_sampling": args.context_sampling, **overrides})
    return score


# =============================================================================================
# Private helpers


def _parse_override(item: str) -> tuple[str, Any]:
    """``"hidden=64,64"`` -> ("hidden", (64, 64)); numbers and booleans are converted by the field's type."""
    name, sep, raw = item.partition("=")
    known = {f.name: f for f in fields(PearlConfig)}
    if not sep or name not in known:
        raise ValueError(f"--set needs FIELD=VALUE with FIELD one of {sorted(known)}, got {item!r}")
    default = getattr(PearlConfig(), name)
    if isinstance(default, tuple):
        return name, tuple(int(v) for v in raw.split(","))
    if isinstance(default, bool):
        return name, raw.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return name, int(raw)
    if isinstance(default, float):
        return name, float(raw)
    return name, raw


def _check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, {high if high is not None else 'inf'}], got {value!r}")
    check_range(name, value, low, high)


if __name__ == "__main__":
    main()
