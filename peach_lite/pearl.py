"""PEARL (Rakelly, Zhou, Quillen, Finn & Levine, ICML 2019): probabilistic context variables for
off-policy meta-RL, written to be read next to algorithms.md §1.1 (oyster @44e20fd).

The pieces, in the order of the lesson:

* :class:`PearlConfig` and :data:`PRESETS` (in :mod:`peach_lite.pearl_config`, re-exported): every hyperparameter with its reference value.
* :func:`pearl_kl_loss` and :func:`pearl_q_target`: the information bottleneck and the z-conditioned critic target.
  The posterior itself (encoder, product of Gaussians, KL, prior/posterior schedule, meta-test) is the
  shared component in :mod:`peach_lite.posterior`.
* :class:`PEARL`: a :class:`~peach_lite.posterior.ContextPosterior` + SAC actor-critic conditioned on z (twin
  Q(s, a, z), V(s, z), pi(a | s, z)), per-task RL and encoder replay buffers. It is an
  :class:`~peach_lite.loop.Agent` (``collect_round`` = Algorithm 1's data collection, ``learn`` = its
  gradient steps) and a :class:`~peach_lite.posterior.PosteriorAgent` (so :func:`~peach_lite.posterior.meta_test`
  runs Algorithm 2 on it). ``losses`` computes the four losses; ``update`` steps the optimizers.
* :func:`meta_train`: :func:`peach_lite.loop.train` with PEARL's settings and a meta-test evaluator.

Which loss reaches which parameters (oyster ``sac.py::_take_step``)::

    encoder  <- Q loss + KL          (z enters Q(s, a, z) un-detached)
    Q1, Q2   <- Q loss
    V        <- V loss               (V(s, z.detach()))
    policy   <- policy loss          (pi(a | s, z.detach()), min Q(s, a~, z.detach()))

Every network works on (num_tasks, batch, dim) tensors: a meta-batch of 16 tasks is one batched call, and
data collection steps all sampled tasks in lockstep with one batched policy call per step.

Command line (train, save, record in data/MANIFEST.json)::

    python -m peach_lite train pearl --preset point-robot --seed 0 --out data/checkpoints/pearl_point_robot.pt

Taught in notebooks/05_pearl.py.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from peach_lite.buffers import MultiTaskReplayBuffer, transition_fields
from peach_lite.cli import TrainSpec
from peach_lite.device import get_device
from peach_lite.loop import Episodes, GymTaskEnvs, History, Runner, Step, TaskBatch, TrainConfig, train
from peach_lite.runner import distinct_waves
from peach_lite.nets import ActionScale, EnsembleCritic, PolicyOutput, TanhGaussianPolicy, frozen, hard_update_, init_pearl_, mlp, polyak_update_
from peach_lite.pearl_config import CONTEXT_SAMPLING, PRESETS, PearlConfig
from peach_lite.pearl_relabel import HindsightStore, curriculum_context, relabel_meta_batch
from peach_lite.posterior import Belief, ContextEncoder, ContextPosterior, kl_to_prior, meta_test
from peach_lite.validation import check_int

__all__ = [
    "PearlConfig",
    "PRESETS",
    "CONTEXT_SAMPLING",
    "pearl_kl_loss",
    "pearl_q_target",
    "PEARL",
    "CriticTerms",
    "meta_train",
    "EVAL_SEED",
    "train_for_cli",
    "CLI",
]

LITE_ITERATIONS = 24
"""Iterations of the issue-11 presets (x 500 updates): sized so benchmarks/pearl_point_robot.py fits a loaded 2-core CPU."""

EVAL_SEED = 12_345
"""Seed of the first meta-test run of a checkpoint's score (run r uses EVAL_SEED + r; the env pool too)."""


# =============================================================================================
# The losses


def pearl_kl_loss(mu: Tensor, var: Tensor, kl_lambda: float) -> Tensor:
    """The encoder's information bottleneck: kl_lambda * sum over tasks of KL(q(z | c_task) || N(0, I)).

    A **sum** over tasks (oyster ``compute_kl_div``), not a mean.

    Args:
        mu, var: (num_tasks, latent_dim) posterior parameters.
        kl_lambda: weight (1.0 for the sparse point robot, 0.1 by default).
    Returns:
        0-d tensor.

    Taught in notebooks/05_pearl.py (section "Step 4: the KL term").
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

    Taught in notebooks/05_pearl.py (section "The critic, conditioned on z").
    """
    with torch.no_grad():
        z_per_transition = z.unsqueeze(-2).expand(*next_obs.shape[:-1], z.shape[-1])
        return reward_scale * reward + (1.0 - done) * gamma * target_value(next_obs, z_per_transition)


@dataclass
class CriticTerms:
    """What :meth:`PEARL.critic_terms` computes from a meta-batch, kept for :meth:`PEARL.actor_losses`.

    Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
    """

    q_loss: Tensor
    """0-d: mean((Q1 - y)^2) + mean((Q2 - y)^2), summed over tasks of the meta-batch' per-task means."""
    kl_loss: Tensor
    """0-d: kl_lambda * sum_tasks KL(q(z | c_task) || N(0, I)) (0 for deterministic z or a given z)."""
    obs: Tensor
    """(num_tasks, batch, obs_dim) the RL batch's observations."""
    z: Tensor
    """(num_tasks, batch, latent_dim) each task's z repeated over its batch (carries the encoder's graph)."""
    pi: PolicyOutput
    """pi(a~ | s, z.detach()) on the batch (drawn before the critic step; the policy is not changed by it)."""
    v_pred: Tensor
    """(num_tasks, batch) V(s, z.detach())."""
    belief: Belief
    """The inferred posterior, (num_tasks, latent_dim) fields."""


# =============================================================================================
# The agent: posterior + z-conditioned SAC (policy, twin Q, V, target V) + per-task buffers


class PEARL:
    """The PEARL agent: context posterior, z-conditioned SAC networks, RL and encoder replay buffers.

    Args:
        obs_dim, action_dim: sizes of the observation and action vectors.
        num_train_tasks: number of training task ids (one RL and one encoder buffer each).
        config: :class:`PearlConfig`.
        action_low, action_high: the env's action box; networks work in [-1, 1].
        device: torch device (default :func:`peach_lite.device.get_device`).
        env_id: the env it is trained on (recorded in checkpoints).

    Attributes: ``posterior`` (:class:`~peach_lite.posterior.ContextPosterior`; ``encoder`` is its
    :class:`~peach_lite.posterior.ContextEncoder`), ``policy`` (:class:`~peach_lite.nets.TanhGaussianPolicy`
    on [s, z]), ``critic`` (:class:`~peach_lite.nets.EnsembleCritic`, Q1 and Q2 on [s, a, z], fused), ``vf`` and
    ``vf_target`` (V on [s, z]), ``rl_buffer`` and ``enc_buffer`` (:class:`~peach_lite.buffers.MultiTaskReplayBuffer`;
    field ``reward`` is what SAC learns from, ``context_reward`` what the encoder sees), ``generator`` (every
    random draw of training), ``belief`` (the current belief per env), ``schedule``
    (:class:`~peach_lite.posterior.PosteriorSchedule`), ``last_episode`` (the transitions of the last episode).

    Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
    """

    algorithm = "pearl"
    """Its key in :data:`peach_lite.checkpoints.ALGORITHMS`."""

    def __init__(self, obs_dim: int, action_dim: int, num_train_tasks: int, config: PearlConfig | None = None, *,
                 action_low: Sequence[float] | None = None, action_high: Sequence[float] | None = None,
                 device: torch.device | str | None = None, env_id: str | None = None):
        self.config = cfg = config or PearlConfig()
        check_int("obs_dim", obs_dim, 1)
        check_int("action_dim", action_dim, 1)
        check_int("num_train_tasks", num_train_tasks, 1)
        self.device = torch.device(device) if device is not None else get_device()
        self.obs_dim, self.action_dim, self.num_train_tasks, self.env_id = int(obs_dim), int(action_dim), int(num_train_tasks), env_id
        self.context_dim = obs_dim + action_dim + 1 + (obs_dim if cfg.use_next_obs_in_context else 0)
        low = [-1.0] * action_dim if action_low is None else [float(x) for x in np.asarray(action_low).ravel()]
        high = [1.0] * action_dim if action_high is None else [float(x) for x in np.asarray(action_high).ravel()]
        if len(low) != action_dim or len(high) != action_dim:
            raise ValueError(f"action_low and action_high must have {action_dim} entries, got {len(low)} and {len(high)}")
        L = cfg.latent_dim
        with torch.random.fork_rng(devices=[]):  # initialise from config.seed without touching the global RNG
            torch.manual_seed(cfg.seed)
            self.posterior = ContextPosterior(ContextEncoder(self.context_dim, L, cfg.encoder_hidden, probabilistic=cfg.probabilistic_z))
            self.policy = TanhGaussianPolicy(obs_dim, action_dim, cfg.hidden, cond_dim=L, init="pearl")
            init_pearl_(self.policy, last_bound=1e-3)  # rlkit's TanhGaussianPolicy uses init_w=1e-3 on its last layer
            self.critic = EnsembleCritic(obs_dim, action_dim, cfg.hidden, num_critics=2, cond_dim=L, init="pearl")
            self.vf = mlp(obs_dim + L, 1, cfg.hidden, init="pearl")
            self.vf_target = mlp(obs_dim + L, 1, cfg.hidden)
        self.encoder = self.posterior.encoder
        hard_update_(self.vf_target, self.vf)
        self.vf_target.requires_grad_(False)
        self.action_scale = ActionScale(low, high)
        for module in (*self.modules().values(), self.posterior, self.action_scale):
            module.to(self.device)
        # Two Adams: step 1 of an update moves (Q1, Q2, encoder), step 2 moves (V, policy). Adam is
        # per-parameter, so this is the same as oyster's five optimizers, in two fused calls.
        self.critic_optimizer = torch.optim.Adam([{"params": list(self.critic.parameters()), "lr": cfg.qf_lr},
                                                  {"params": list(self.encoder.parameters()), "lr": cfg.context_lr}], fused=True)
        self.actor_optimizer = torch.optim.Adam([{"params": list(self.vf.parameters()), "lr": cfg.vf_lr},
                                                 {"params": list(self.policy.parameters()), "lr": cfg.policy_lr}], fused=True)
        buffer_fields = transition_fields(obs_dim, action_dim, context_reward=())
        enc_capacity = max(cfg.num_initial_steps, cfg.num_steps_prior + cfg.num_steps_posterior, 1)
        self.rl_buffer = MultiTaskReplayBuffer(num_train_tasks, cfg.replay_buffer_size, buffer_fields, device=self.device)
        self.enc_buffer = MultiTaskReplayBuffer(num_train_tasks, enc_capacity, buffer_fields, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.schedule = cfg.schedule()
        self.num_updates = 0
        self.hindsight: HindsightStore | None = None
        """Hindsight task relabelling's store (:mod:`peach_lite.pearl_relabel`); :meth:`for_env` builds it when relabel_prob > 0."""
        self.belief: Belief | None = None
        self.store_to_encoder = True
        """Whether exploring episodes on train tasks also go to the encoder buffer (``collect`` sets it per phase)."""
        self.last_episode: dict[str, Tensor] = {}
        self._context: list[Tensor] = []
        self._context_mask: list[Tensor] = []
        self._tasks: TaskBatch | None = None
        self._z: Tensor | None = None
        self._explore = False
        self._episode: list[tuple[Tensor, ...]] = []
        self._action: Tensor | None = None

    @classmethod
    def for_env(cls, envs: GymTaskEnvs, config: PearlConfig | None = None, device: torch.device | str | None = "cpu") -> "PEARL":
        """An agent sized for ``envs`` (a :class:`~peach_lite.loop.GymTaskEnvs` of a ``peach_lite/`` task distribution)."""
        unwrapped = envs.unwrapped
        if not hasattr(unwrapped, "train_tasks"):
            raise ValueError(f"envs must run a task distribution with train_tasks()/test_tasks(), got {envs.env_id or unwrapped}")
        space = envs.action_space
        agent = cls(int(np.prod(envs.observation_space.shape)), int(np.prod(space.shape)), len(unwrapped.train_tasks()), config,
                    action_low=space.low, action_high=space.high, device=device, env_id=envs.env_id)
        if agent.config.relabel_prob > 0:
            agent.hindsight = HindsightStore.for_env(envs, agent.obs_dim, agent.action_dim, agent.config.relabel_buffer_size, agent.device)
        return agent

    # --- the belief over z (the PosteriorAgent protocol) -------------------------------------------

    def reset_belief(self, num_tasks: int) -> Belief:
        """Belief <- the prior for ``num_tasks`` envs; the meta-test context is emptied."""
        self.belief = self.posterior.prior(num_tasks)
        self._context, self._context_mask = [], []
        return self.belief

    def add_context(self, episodes: Episodes) -> None:
        """Append the episode just run (every env's row, padding masked) to the context.

        The rows come from :attr:`last_episode`, which holds the same transitions as ``episodes`` with the
        actions in the policy's box (as the buffers store them)."""
        if not self.last_episode or self.last_episode["mask"].shape[0] != len(episodes.lengths):
            raise ValueError(f"episodes must be the episode this agent just ran ({len(episodes.lengths)} envs)")
        self._context.append(self.make_context(self.last_episode))
        self._context_mask.append(self.last_episode["mask"])

    def infer_belief(self) -> Belief:
        """Belief <- q(z | all context since :meth:`reset_belief`), ((num_envs, latent_dim) fields)."""
        context, mask = self.accumulated_context()
        self.belief = self.posterior.infer(context, None if bool(mask.all()) else mask)
        return self.belief

    def accumulated_context(self) -> tuple[Tensor, Tensor]:
        """All context added since :meth:`reset_belief`: (num_envs, num_context, context_dim) rows and their
        (num_envs, num_context) validity mask, e.g. to replay a meta-test's posterior transition by transition."""
        if not self._context:
            raise ValueError("no context yet: run meta_test (or add_context) after reset_belief first")
        return torch.cat(self._context, dim=1), torch.cat(self._context_mask, dim=1)

    def make_context(self, batch: dict[str, Tensor]) -> Tensor:
        """Context rows (obs, action, context_reward[, next_obs]) from buffer fields: (*lead, context_dim).

        With ``config.dense_context`` the reward column is the dense ``batch["reward"]`` (a diagnostic)."""
        reward = batch["reward"] if self.config.dense_context else batch["context_reward"]
        parts = [batch["obs"], batch["action"], reward.unsqueeze(-1)]
        if self.config.use_next_obs_in_context:
            parts.append(batch["next_obs"])
        return torch.cat(parts, dim=-1)

    def sample_context(self, tasks: Sequence[int] | Tensor, rl_batch: dict[str, Tensor] | None = None) -> Tensor:
        """Context for each listed task per ``config.context_sampling``: (len(tasks), num_context, context_dim).

        ``"recent"``: ``context_batch`` rows uniform from the task's encoder buffer (data since it was last
        cleared); ``"off_policy"``: from its whole RL buffer; ``"same_batch"``: the given ``rl_batch`` itself.
        """
        mode = self.config.context_sampling
        if mode == "same_batch" and rl_batch is not None:
            return curriculum_context(self, rl_batch, self.make_context(rl_batch))
        buffer = self.enc_buffer if mode == "recent" else self.rl_buffer
        rows = buffer.sample(self.config.context_batch, tasks, self.generator)
        return curriculum_context(self, rows, self.make_context(rows))  # the curriculum's dense rows, if on

    # --- the Agent protocol ------------------------------------------------------------------------

    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Draw one z per env from :attr:`belief` (the prior if it has another size) and hold it for the episode."""
        if self.belief is None or len(self.belief) != len(tasks):
            self.reset_belief(len(tasks))
        with torch.no_grad():
            self._z = self.posterior.sample(self.belief, self.generator)  # resample_z_rate = 1: a fresh z every trajectory
        self._tasks, self._explore, self._episode = tasks, bool(explore), []

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi(a | s, z): (n, obs_dim) -> (n, action_dim) in the env's units; mean action unless exploring."""
        out = self.policy(obs.to(self.device), self._z, deterministic=not self._explore, with_log_prob=False, generator=self.generator)
        self._action = out.action
        return self.action_scale.to_env(out.action).cpu()

    def observe(self, step: Step) -> None:
        """Keep the transition (action in the policy's box; SAC's and the context's reward channels)."""
        sparse = self.config.sparse_rewards
        self._episode.append((step.obs, self._action.cpu(), step.dense_reward if sparse else step.reward,
                              step.sparse_reward if sparse else step.reward, step.next_obs, step.terminated.float(), step.mask))

    def end_episode(self) -> None:
        """Stack the episode into :attr:`last_episode`; exploring on train tasks, store it in the buffers."""
        names = ("obs", "action", "reward", "context_reward", "next_obs", "done", "mask")
        self.last_episode = {name: torch.stack(column, dim=1).to(self.device) for name, column in zip(names, zip(*self._episode))}
        if not (self._explore and self._tasks.split == "train"):
            return
        for i, task in enumerate(self._tasks.ids.tolist()):
            keep = self.last_episode["mask"][i]
            rows = {name: self.last_episode[name][i, keep] for name in names[:-1]}
            self.rl_buffer.add_batch(task, **rows)
            if self.store_to_encoder:
                self.enc_buffer.add_batch(task, **rows)
            if self.hindsight is not None:
                self.hindsight.add_trajectory(rows["obs"], rows["action"], rows["next_obs"], rows["done"])

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` calls of :meth:`update`; returns the last one's detached losses."""
        check_int("num_updates", num_updates, 0)
        steps = [self.update() for _ in range(num_updates)]
        return steps[-1] if steps else {}

    def collect_round(self, runner: Runner, round_index: int) -> Episodes:
        """One iteration of PEARL's data collection (Algorithm 1, lines 3-10; oyster ``rl_algorithm.py::train``).

        Before the first round (empty buffers): ``num_initial_steps`` per train task with z ~ prior. Then for
        ``num_tasks_sample`` train tasks drawn with replacement: **clear the task's encoder buffer**; collect
        ``num_steps_prior`` steps with z ~ prior into both buffers; ``num_steps_posterior`` steps with z ~ posterior
        into both; ``num_extra_rl_steps_posterior`` posterior steps into the RL buffer only. Distinct tasks run
        in lockstep (a task drawn twice runs in a second wave).

        Args:
            runner: a :class:`~peach_lite.loop.Runner` whose ``tasks`` are the train tasks (the buffers' ids).
            round_index: the round number (unused: the schedule is the same every round).
        Returns:
            Every collected episode (:class:`~peach_lite.loop.Episodes`).

        Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
        """
        cfg, schedule, parts = self.config, self.schedule, []
        if runner.tasks is None or len(runner.tasks) != self.num_train_tasks:
            raise ValueError(f"runner.tasks must be the {self.num_train_tasks} train tasks, got {None if runner.tasks is None else len(runner.tasks)}")
        if len(self.rl_buffer) == 0 and cfg.num_initial_steps > 0:
            parts.append(self.collect(runner, range(self.num_train_tasks), cfg.num_initial_steps, posterior=False, to_encoder=True))
        drawn = torch.randint(0, self.num_train_tasks, (cfg.num_tasks_sample,), generator=self.generator).tolist()
        for wave in distinct_waves(drawn):
            for task in wave:
                self.enc_buffer.clear(task)  # "recent" context: only data from this collection
            if schedule.num_steps_prior:
                parts.append(self.collect(runner, wave, schedule.num_steps_prior, posterior=False, to_encoder=True))
            if schedule.num_steps_posterior:
                parts.append(self.collect(runner, wave, schedule.num_steps_posterior, posterior=True, to_encoder=True))
            if schedule.num_extra_rl_steps_posterior:
                parts.append(self.collect(runner, wave, schedule.num_extra_rl_steps_posterior, posterior=True, to_encoder=False))
        return Episodes.concatenate(parts)

    def collect(self, runner: Runner, task_ids: Sequence[int], num_steps: int, *, posterior: bool, to_encoder: bool) -> Episodes:
        """oyster ``collect_data`` for several train tasks at once, one lockstep :meth:`Runner.run_episodes` per trajectory.

        Start from the prior, draw a fresh z every trajectory, and (``posterior``) re-infer q(z | c) from
        :meth:`sample_context` after every ``schedule.update_post_train`` trajectories, until each task has
        ``num_steps`` steps. Everything goes to the RL buffer, and to the encoder buffer if ``to_encoder``.

        Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
        """
        ids = [int(i) for i in task_ids]
        full = self.posterior.prior(len(ids))
        collected, parts = np.zeros(len(ids), dtype=np.int64), []
        self.store_to_encoder = to_encoder
        try:
            while (collected < num_steps).any():
                live = np.flatnonzero(collected < num_steps)
                self.belief = full if len(live) == len(ids) else full[torch.as_tensor(live)]
                episodes = runner.run_episodes(self, TaskBatch.from_list(runner.tasks, [ids[i] for i in live]), explore=True)
                collected[live] += episodes.lengths
                parts.append(episodes)
                if posterior and self.schedule.refresh_after(len(parts)):
                    with torch.no_grad():
                        full = self.posterior.infer(self.sample_context(ids))
        finally:
            self.store_to_encoder = True
        return Episodes.concatenate(parts)

    # --- learning ----------------------------------------------------------------------------------

    def value(self, obs: Tensor, z: Tensor) -> Tensor:
        """V(s, z): obs (*batch, obs_dim), z (*batch, latent_dim) -> (*batch,)."""
        return self.vf(torch.cat([obs, z], dim=-1)).squeeze(-1)

    def target_value(self, obs: Tensor, z: Tensor) -> Tensor:
        """V'(s, z), the Polyak-averaged copy of V used in the Q target: (*batch,)."""
        return self.vf_target(torch.cat([obs, z], dim=-1)).squeeze(-1)

    def sample_batch(self, tasks: Sequence[int] | Tensor | None = None) -> dict[str, Tensor]:
        """A meta-batch: ``meta_batch`` train tasks drawn with replacement (oyster ``np.random.choice``) unless given;
        per task ``batch_size`` RL transitions (fields (num_tasks, batch, ...)) and ``"context"``
        (num_tasks, num_context, context_dim); ``"tasks"`` (num_tasks,) their ids."""
        if tasks is None:
            tasks = torch.randint(0, self.num_train_tasks, (self.config.meta_batch,), generator=self.generator, device=self.device)
        tasks = torch.as_tensor(tasks, dtype=torch.long, device=self.device).flatten()
        batch = self.rl_buffer.sample(self.config.batch_size, tasks, self.generator)  # (T, B, ...), dense reward
        context = self.sample_context(tasks, batch)
        if self.hindsight is not None and self.config.relabel_prob > 0:  # HTR: some slots get relabelled trajectories
            batch, context = relabel_meta_batch(self, tasks, batch, context)
        return {**batch, "context": context, "tasks": tasks}

    def critic_terms(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> CriticTerms:
        """Infer q(z | c) per task, draw z, and compute the Q loss and the KL (and pi, V(s, z) for the actor losses).

        Args:
            batch: :meth:`sample_batch`'s meta-batch.
            cond: (num_tasks, latent_dim) a z to use instead of a posterior sample (then no KL, and no
                gradient reaches the encoder).
        Returns:
            :class:`CriticTerms` (losses with graphs; no optimizer step).

        Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
        """
        cfg = self.config
        belief = self.posterior.infer(batch["context"])  # (T, L) each
        z = self.posterior.sample(belief, self.generator) if cond is None else cond  # (T, L), differentiable
        obs, action = batch["obs"], batch["action"]
        z_b = z.unsqueeze(1).expand(-1, obs.shape[1], -1)  # (T, B, L): the task's z for each of its transitions
        # oyster agent.forward: the policy sees z.detach(); V sees z.detach(); only Q sees z itself
        pi = self.policy(obs, z_b.detach(), generator=self.generator)
        q = self.critic(obs, action, z_b)  # (2, T, B)
        v_pred = self.value(obs, z_b.detach())  # (T, B)
        target = pearl_q_target(self.target_value, batch["reward"], batch["done"], batch["next_obs"], z,
                                reward_scale=cfg.reward_scale, gamma=cfg.gamma)
        q_loss = (q - target).pow(2).mean(dim=(1, 2)).sum()  # mean((Q1 - y)^2) + mean((Q2 - y)^2)
        kl = cfg.kl_lambda * self.posterior.kl(belief).sum() if cond is None else torch.zeros((), device=self.device)
        return CriticTerms(q_loss=q_loss, kl_loss=kl, obs=obs, z=z_b, pi=pi, v_pred=v_pred, belief=belief)

    def actor_losses(self, terms: CriticTerms) -> dict[str, Tensor]:
        """V loss = MSE(V(s, z.detach()), min Q(s, a~, z) - log pi(a~ | s, z)) and the policy loss
        mean(log pi - min Q) + mean_reg * mean(mu^2) + std_reg * mean(log_std^2), both with z detached and Q frozen.

        Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
        """
        cfg = self.config
        pi, z = terms.pi, terms.z.detach()
        with frozen(self.critic):  # gradients flow through Q into a~ (and the policy), never into Q's weights
            min_q = self.critic(terms.obs, pi.action, z).min(dim=0).values  # (T, B)
        v_loss = F.mse_loss(terms.v_pred, (min_q - pi.log_prob).detach())
        policy_loss = (pi.log_prob - min_q).mean()
        policy_loss = policy_loss + cfg.policy_mean_reg * pi.mean.pow(2).mean() + cfg.policy_std_reg * pi.log_std.pow(2).mean()
        return {"v_loss": v_loss, "policy_loss": policy_loss}

    def losses(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> dict[str, Tensor]:
        """All four 0-d losses of a meta-batch from the current parameters (with graphs), no optimizer step:
        ``kl_loss``, ``q_loss``, ``v_loss``, ``policy_loss``. (:meth:`update` computes the actor losses with
        the Q networks *after* their step, as oyster does.)

        Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
        """
        terms = self.critic_terms(batch, cond)
        return {"kl_loss": terms.kl_loss, "q_loss": terms.q_loss, **self.actor_losses(terms)}

    def update(self, batch: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """One PEARL gradient step on a meta-batch (oyster ``sac.py::_take_step``).

        1. :meth:`sample_batch` (unless given): tasks, RL batch (dense reward), context batch (context reward).
        2. :meth:`critic_terms`: KL loss + Q loss -> step Q1, Q2 **and the encoder** (z enters Q un-detached).
        3. :meth:`actor_losses` with the updated Q (frozen, z detached) -> step V and pi.
        4. Polyak-update V' with tau.
        Returns detached 0-d tensors: kl_loss, q_loss, v_loss, policy_loss, z_var (mean posterior variance).

        Taught in notebooks/05_pearl.py (section "One gradient step: which loss trains what").
        """
        terms = self.critic_terms(self.sample_batch() if batch is None else batch)
        # Alg. 1, lines 17 and 19: phi and Q1, Q2 step on grad(L_critic + L_KL); the encoder gets nothing else
        self.critic_optimizer.zero_grad(set_to_none=True)
        (terms.kl_loss + terms.q_loss).backward()
        self.critic_optimizer.step()
        # Alg. 1, line 18 (and SAC's V): targets from the just-updated Q, z detached
        actor = self.actor_losses(terms)
        self.actor_optimizer.zero_grad(set_to_none=True)
        (actor["v_loss"] + actor["policy_loss"]).backward()
        self.actor_optimizer.step()
        polyak_update_(self.vf_target, self.vf, self.config.tau)
        self.num_updates += 1
        return {"kl_loss": terms.kl_loss.detach(), "q_loss": terms.q_loss.detach(), "v_loss": actor["v_loss"].detach(),
                "policy_loss": actor["policy_loss"].detach(), "z_var": terms.belief.var.detach().mean()}

    # --- checkpoints (peach_lite.checkpoints.save_agent / load_agent) --------------------------------

    def modules(self) -> dict[str, nn.Module]:
        """The trainable networks and the target V, by name (the checkpoint's state keys)."""
        return {"encoder": self.encoder, "policy": self.policy, "critic": self.critic, "vf": self.vf, "vf_target": self.vf_target}

    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the networks: sizes, env id, action box and the config."""
        return {"env_id": self.env_id, "obs_dim": self.obs_dim, "action_dim": self.action_dim, "num_train_tasks": self.num_train_tasks,
                "config": self.config.to_dict(), "action_low": self.action_scale.low.tolist(), "action_high": self.action_scale.high.tolist()}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The networks' state dicts (no buffers, no optimizers)."""
        return {name: module.state_dict() for name, module in self.modules().items()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "PEARL":
        """Rebuild from a file of :func:`peach_lite.checkpoints.save_agent` (or of the pre-0.2 ``pearl.save_agent``,
        whose arch says ``"algo"``: same arch and state keys), with the saved config's buffers."""
        arch = payload["arch"]
        agent = cls(arch["obs_dim"], arch["action_dim"], arch["num_train_tasks"], PearlConfig(**arch["config"]),
                    action_low=arch["action_low"], action_high=arch["action_high"], device=device or "cpu",
                    env_id=arch["env_id"])
        for name, module in agent.modules().items():
            module.load_state_dict(payload["state"][name])
        return agent

    def checkpoint_score(self, payload: dict[str, Any] | None = None, num_evals: int | None = None) -> float:
        """The reference meta-test score: mean over the held-out tasks (and ``num_evals`` seeded runs, default the
        config's: 2 for the point robot, 1 for cheetah-vel) of the **last** trajectory's return, after
        ``num_eval_trajectories`` trajectories of which the first ``num_exp_traj_eval`` use prior samples of z.
        Fixed seeds (:data:`EVAL_SEED`); seconds for the point robot, ~10-20 s for cheetah-vel on a CPU.

        Taught in notebooks/05_pearl.py (section "Meta-testing (Algorithm 2) on the 20 held-out goals").
        """
        num_evals = self.config.num_evals if num_evals is None else num_evals
        check_int("num_evals", num_evals, 1)
        envs = GymTaskEnvs(self.env_id, seed=EVAL_SEED)
        try:
            tasks = envs.unwrapped.test_tasks()
            return float(np.mean([meta_test(self, envs, tasks, seed=EVAL_SEED + r).final_return for r in range(num_evals)]))
        finally:
            envs.close()


# =============================================================================================
# Meta-training through the shared loop


def meta_train(agent: PEARL, envs: GymTaskEnvs, num_iterations: int | None = None, *, eval_every: int = 0,
               eval_tasks: Sequence[Any] | None = None, log_every: int | None = None, progress: bool = True,
               callbacks: Sequence[Callable[[int, Any, History], bool | None]] = (), history: History | None = None) -> History:
    """Meta-train ``agent`` with :func:`peach_lite.loop.train` (PEARL Algorithm 1 as oyster's ``rl_algorithm.py::train``).

    Each round is one iteration: :meth:`PEARL.collect_round`, then ``num_train_steps_per_itr`` calls of
    :meth:`PEARL.update`; every ``eval_every`` rounds (and at the end) :func:`~peach_lite.posterior.meta_test`
    on ``eval_tasks`` (default: the test split), scored by the final trajectory's mean return.

    Args:
        agent: the :class:`PEARL` agent (its buffers fill up; its ``generator`` drives every draw).
        envs: a :class:`~peach_lite.loop.GymTaskEnvs` of the training task distribution.
        num_iterations: iterations in this call (default ``agent.config.num_iterations``).
        log_every: record losses every this many gradient steps (default: once per iteration).
        callbacks, history: as :func:`peach_lite.loop.train`.
    Returns:
        The :class:`~peach_lite.loop.History` (``eval_values``: final-trajectory meta-test returns).

    Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
    """
    cfg = agent.config
    num_iterations = cfg.num_iterations if num_iterations is None else num_iterations
    check_int("num_iterations", num_iterations, 1)
    check_int("eval_every", eval_every, 0)
    eval_tasks = envs.unwrapped.test_tasks() if eval_tasks is None else list(eval_tasks)
    runner = Runner(envs, envs.unwrapped.train_tasks(), seed=cfg.seed)
    evaluations = []

    def evaluator(agent_: PEARL) -> tuple[float, float]:
        result = meta_test(agent_, envs, eval_tasks, seed=10_000 + len(evaluations))
        evaluations.append(result.final_return)
        return result.final_return, float(result.returns[:, -1].std())

    config = TrainConfig(rounds=num_iterations, updates_per_round=cfg.num_train_steps_per_itr, warmup_steps=0,
                         eval_every=eval_every, eval_episodes=1 if eval_every else 0,
                         log_every=log_every or max(cfg.num_train_steps_per_itr, 1), seed=cfg.seed, progress=progress)
    return train(agent, runner, config, evaluator=evaluator, eval_metric="final-trajectory return", callbacks=callbacks, history=history)


def train_for_cli(*, seed: int, progress: bool = True, env_id: str = "peach_lite/PointRobotSparse-v0",
                  preset: str | None = None, iterations: int | None = None, eval_every: int = 10, **overrides: Any) -> tuple[PEARL, dict[str, Any]]:
    """``python -m peach_lite train pearl``: meta-train on ``env_id`` with a :data:`PRESETS` config.

    Args:
        preset: a :data:`PRESETS` name (default ``"sparse-point-robot-cpu"``, or ``"cheetah-vel-cpu"`` for cheetah ids).
        iterations: meta-training iterations (default: the preset's).
        eval_every: iterations between meta-tests (the learning curve in ``meta["history"]``).
        **overrides: :class:`PearlConfig` fields, e.g. ``probabilistic_z=False``.
    Returns:
        (agent, meta) for :func:`peach_lite.checkpoints.save_agent`.

    Taught in notebooks/05_pearl.py (section "Meta-training (Algorithm 1)").
    """
    preset = preset or ("cheetah-vel-cpu" if "Cheetah" in env_id else "sparse-point-robot-cpu")
    config = PearlConfig.preset(preset, seed=seed, **overrides)
    envs = GymTaskEnvs(env_id, seed=seed)
    agent = PEARL.for_env(envs, config, device="cpu")
    cpu_start = time.process_time()
    history = meta_train(agent, envs, iterations, eval_every=eval_every, progress=progress)
    envs.close()
    return agent, {"env_id": env_id, "pearl_preset": preset, "iterations": history.rounds, "train_seconds": history.elapsed,
                   "train_cpu_seconds": time.process_time() - cpu_start,
                   "torch_threads": torch.get_num_threads(), "history": history.to_dict()}


CLI = TrainSpec(
    train=train_for_cli,
    presets={
        "point-robot": {"env_id": "peach_lite/PointRobotSparse-v0", "preset": "sparse-point-robot-cpu", "iterations": 80},
        "point-robot-deterministic-z": {"env_id": "peach_lite/PointRobotSparse-v0", "preset": "sparse-point-robot-cpu",
                                        "iterations": 80, "probabilistic_z": False},
        # 80 x 1000 gradient steps, ~22 CPU-min on one thread (pearl_config.py, "cheetah-vel-cpu"); meta-test every 5
        "cheetah-vel": {"env_id": "peach_lite/HalfCheetahVel-v0", "preset": "cheetah-vel-cpu", "iterations": 80, "eval_every": 5},
        # issue 11 (benchmarks/pearl_point_robot.py): cheaper updates + kl 1.0; faithful, HTR, curriculum
        **{f"point-robot-{name}": {"env_id": "peach_lite/PointRobotSparse-v0", "preset": f"sparse-point-robot-{name}",
                                   "iterations": LITE_ITERATIONS} for name in ("lite", "htr", "curriculum")},
        "point-robot-htr-deterministic-z": {"env_id": "peach_lite/PointRobotSparse-v0", "preset": "sparse-point-robot-htr",
                                            "iterations": LITE_ITERATIONS, "probabilistic_z": False},
        # the htr run with the old CPU preset's kl_lambda 0.1 (reference 1.0): the KL setting measured on its own
        "point-robot-htr-kl0.1": {"env_id": "peach_lite/PointRobotSparse-v0", "preset": "sparse-point-robot-htr",
                                  "iterations": LITE_ITERATIONS, "kl_lambda": 0.1},
    },
    score_name="final_trajectory_return",
    tolerance=1.0,
    preset_tolerances={"cheetah-vel": 15.0},
)
"""How ``python -m peach_lite train pearl --preset point-robot`` trains (see :mod:`peach_lite.cli`)."""
