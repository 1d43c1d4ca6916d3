"""PEARL's hyperparameters: :class:`PearlConfig` (every field with its reference value) and :data:`PRESETS`
(the reference runs of oyster and the CPU-sized variants this course trains). Re-exported by :mod:`peach_lite.pearl`.

Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from peach_lite.pearl_relabel import check_relabel_fields
from peach_lite.posterior import PosteriorSchedule
from peach_lite.validation import check_choice, check_int, check_int_sequence, check_range

__all__ = ["PearlConfig", "PRESETS", "CONTEXT_SAMPLING"]

CONTEXT_SAMPLING = ("recent", "off_policy", "same_batch")
"""How the encoder's context is sampled (PEARL Figure 6):
``"recent"`` (PEARL): uniform over the task's encoder buffer, which is cleared before each collection;
``"off_policy"``: uniform over the task's whole RL replay buffer (all history);
``"same_batch"``: the actor-critic's own RL batch is the context (data collection then samples like ``"off_policy"``)."""


@dataclass
class PearlConfig:
    """PEARL hyperparameters. Defaults are oyster's ``configs/default.py`` overridden by
    ``configs/sparse-point-robot.json`` (algorithms.md §0 and §1.1), i.e. the reference run of lesson 05.
    ``PearlConfig.preset(name)`` gives the other runs (cheetah-vel, and the CPU-sized variants).

    Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
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
    # --- not in the reference: hindsight task relabelling and a context curriculum --------------
    relabel_prob: float = 0.0
    """Hindsight task relabelling (Packer, Abbeel & Gonzalez, NeurIPS 2021; :mod:`peach_lite.pearl_relabel`):
    probability that a task slot of the meta-batch gets, as its context *and* RL batch, stored trajectories of any
    training task that passed within the goal radius of this task's goal, with both rewards recomputed for it.
    0 = PEARL as published (the default; oyster has no relabelling); the ``*-htr`` presets use 0.5, our choice
    (HTR treats it as a hyperparameter), kept after one pilot run, not tuned."""
    relabel_buffer_size: int = 20_000
    """Transitions kept per training goal in the hindsight store (a ring buffer each; only read when relabelling)."""
    dense_to_sparse_updates: int = 0
    """Dense-to-sparse context curriculum (not in the reference): for this many gradient steps a training context
    carries the dense reward with a probability falling linearly from 1 to 0, then only sparse. 0 = off. Meta-test
    contexts are always sparse (unlike the ``dense_context`` diagnostic)."""
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
    """Meta-training iterations (oyster ``num_iterations=500``); ``meta_train`` may be given fewer."""
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
            setattr(self, name, check_int_sequence(name, getattr(self, name)))
        check_int("latent_dim", self.latent_dim, 1, 1024)
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
            check_int(name, getattr(self, name), 1)
        for name in ("num_initial_steps", "num_steps_prior", "num_steps_posterior", "num_extra_rl_steps_posterior",
                     "num_train_steps_per_itr", "num_exp_traj_eval", "seed"):
            check_int(name, getattr(self, name), 0)
        check_choice("context_sampling", self.context_sampling, CONTEXT_SAMPLING)
        check_relabel_fields(self.relabel_prob, self.relabel_buffer_size, self.dense_to_sparse_updates)
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

    def schedule(self) -> PosteriorSchedule:
        """The collection and meta-test :class:`~peach_lite.posterior.PosteriorSchedule` of this config."""
        return PosteriorSchedule.from_config(self)

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
    # Issue 11: cheaper updates (the audit's table: 2x128 nets, context 128, RL batch 64, ~21 ms per update on one
    # CPU thread, against 28-34 ms for the preset above) and the reference kl_lambda = 1.0. PEARL as published
    # otherwise (no relabelling): the "faithful" baseline of benchmarks/pearl_point_robot.py.
    "sparse-point-robot-lite": {
        "hidden": (128, 128),            # reference 300x300x300
        "encoder_hidden": (128, 128),    # reference 200x200x200
        "context_batch": 128,            # reference 1024 (the encoder buffer holds 1000 transitions per task)
        "batch_size": 64,                # reference 256 per task
        "num_train_steps_per_itr": 500,  # reference 1000: fresh data twice as often per gradient step
        "policy_lr": 1e-3, "qf_lr": 1e-3, "vf_lr": 1e-3, "context_lr": 1e-3,  # reference 3e-4 (rlkit's class default is 1e-3)
        "replay_buffer_size": 100_000,   # reference 1e6 per task; a CPU run stores < 25k per task
    },
    # ... plus hindsight task relabelling (Packer et al. 2021) with probability 0.5 (pearl_relabel.py).
    "sparse-point-robot-htr": {"relabel_prob": 0.5},
    # ... plus the dense-to-sparse context curriculum over the first 5000 gradient steps (about half the
    # benchmark's budget); the meta-test context stays sparse.
    "sparse-point-robot-curriculum": {"dense_to_sparse_updates": 5_000},
    # oyster configs/default.py + configs/cheetah-vel.json (HalfCheetahVel).
    "cheetah-vel": {
        "kl_lambda": 0.1, "reward_scale": 5.0, "gamma": 0.99, "context_batch": 100, "sparse_rewards": False,
        "num_initial_steps": 2000, "num_tasks_sample": 5, "num_steps_prior": 400, "num_steps_posterior": 0,
        "num_extra_rl_steps_posterior": 600, "num_train_steps_per_itr": 2000, "num_exp_traj_eval": 2,
        "num_eval_trajectories": 3, "num_evals": 1,
    },
    # HalfCheetahVel on one CPU thread (issue 11: beat standing still, target >= -150 within 60 CPU-minutes). Sized by
    # measurement (2026-12-01, one torch thread, process time): an update of the 3x128 nets costs 23.1 ms with
    # 8 tasks x 128 rows, 16.3 ms with 8 x 64, 13.9 ms with 4 x 128, 78.3 ms with 16 x 256 (the reference's batch);
    # collecting one iteration's 5 x 1000 steps costs 0.6 s and a meta-test on the 30 test velocities 1.3 s, so the
    # gradient steps are the whole budget. 80 iterations x 1000 steps x 16.3 ms = 22 CPU-min, sized to what the
    # project's loaded 2-core machine could run in one session (the issue allows 60 CPU-min). Deviations:
    "cheetah-vel-cpu": {
        "kl_lambda": 0.1, "reward_scale": 5.0, "gamma": 0.99, "context_batch": 100, "sparse_rewards": False,  # as the reference
        "num_tasks_sample": 5, "num_steps_posterior": 0, "num_exp_traj_eval": 2, "num_eval_trajectories": 3,
        "num_evals": 1,                  # as the reference
        "num_initial_steps": 400,        # reference 2000 per train task: 40k prior-z steps instead of 200k, so the
                                         # untrained policy's data is a smaller share of a much shorter run
        "num_steps_prior": 200,          # reference 400: one prior-z trajectory per sampled task (the encoder's context)
        "num_extra_rl_steps_posterior": 400,  # reference 600: two posterior trajectories into the RL buffer
        "num_train_steps_per_itr": 1000,  # reference 2000; 1000 updates per 5 x 600 collected steps = 0.33 updates per
                                         # step (reference 2000 / 5 x 1000 = 0.4; the earlier CPU preset 200 / 2000 = 0.1)
        "hidden": (128, 128, 128),       # reference 300x300x300 (78 -> 16 ms per update with the batch below)
        "encoder_hidden": (128, 128, 128),  # reference 200x200x200
        "meta_batch": 8,                 # reference 16 tasks per gradient step
        "batch_size": 64,                # reference 256 rows per task: 512 rows per step instead of 4096
        "replay_buffer_size": 100_000,   # reference 1e6 per task; a run stores about 2k per task
        "num_iterations": 80,            # reference 500 (and its 1M-step curves); 80k gradient steps, 8% of the reference's 1M
    },
}
"""Named configurations for :meth:`PearlConfig.preset`: the reference runs and their CPU-sized variants."""
for _name in ("sparse-point-robot-htr", "sparse-point-robot-curriculum"):
    PRESETS[_name] = {**PRESETS["sparse-point-robot-lite"], **PRESETS[_name]}  # the lite sizes under both

