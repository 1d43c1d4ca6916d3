"""MLSH: Meta-Learning Shared Hierarchies (Frans, Ho, Chen, Abbeel & Schulman, ICLR 2018).

K sub-policies are shared by every task. A *master* policy, re-initialised for every new task, picks one
of them every N steps. For each task, W warm-up iterations train the master only, then U joint
iterations train the master and the sub-policies (Alg. 1). Both levels learn with the package's PPO
(:mod:`peach_lite.ppo`): the master at the macro level (its reward is the sum of the N rewards of its
choice, GAE over macro steps), each sub-policy from the steps where it was the active one.

The reference (openai/mlsh) runs 120 MPI workers; here ``num_groups`` task groups run side by side in one
process, each with its own task and master, all in lockstep on one batched env
(:mod:`peach_lite.mlsh_tasks`). The easy-to-miss parts of the reference are kept: the sub-policy gradient is
the mean over groups with groups in warm-up contributing nothing, and the groups' task phases are staggered
so that some group is always in its joint phase. Training goes through :func:`peach_lite.loop.train`
(the agent's ``collect_round`` runs one iteration of every group); meta-testing is :meth:`MLSH.adapt`.

Taught in notebooks/10_mlsh.py.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.cli import TrainSpec
from peach_lite.mlsh_tasks import COLLAPSE_THRESHOLD, MLSHTasks, collapse_score, mlsh_tasks, sub_policy_outcomes
from peach_lite.nets import EnsembleMLP, mlp
from peach_lite.ppo import PPO, PPOBatch, PPOConfig, PolicyOutput, gae_advantages, normalize_advantages
from peach_lite.runner import Episodes, Runner, Step, TaskBatch, run_episodes
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["MLSHConfig", "macro_rewards", "macro_advantages", "ppo_minibatch_update", "SubPolicies", "Masters", "MLSH",
           "AdaptResult", "train_mlsh", "PRESETS", "CLI"]


# ============================================================================================ config
@dataclass
class MLSHConfig:
    """Settings of :class:`MLSH`; defaults are the reference's MovementBandits run (openai/mlsh, issue #9 command).

    Deviations from the reference, each deliberate: ``sub_lr`` is the paper's 3e-4 (the code's 3e-5 is an
    ablation); ``num_groups`` task groups in one process replace 120 MPI workers (one group = the 12 workers
    that share a task, ``episodes_per_iteration`` its data); the value loss is not clipped and observations
    are not normalised by a running mean (MovementBandits' are already in [0, 1], four rooms' are one-hot);
    no gradient-norm clipping (as the reference's Adam); a sub-policy with no active step in a batch takes
    no Adam step (the reference's ``MpiAdam`` would still move it by momentum); warm-up is exactly W
    iterations (the reference's ``mini_ep >= warmup_time`` after ``mini_ep += 1`` makes it W - 1); the
    stagger spreads the groups evenly (the reference's ``int(warmup_time+train_time / 10)`` is, by operator
    precedence, W + int(U / 10)); each master's advantages are normalised over its own group's macro steps (the
    reference normalises with one mean and std pooled over all workers). As in the reference, a re-initialised master
    keeps its Adam moments.

    Taught in notebooks/10_mlsh.py (section "The two phases").
    """

    num_subs: int = 2
    """K, shared sub-policies (reference MovementBandits ``--num_subs 2``)."""
    macro_duration: int = 10
    """N, steps between two master choices (reference ``--macro_duration 10``)."""
    warmup: int = 9
    """W, iterations per task that train the master only (reference ``--warmup_time 9``)."""
    joint: int = 1
    """U, iterations per task that train master and sub-policies (reference ``--train_time 1``)."""
    episodes_per_iteration: int = 120
    """Episodes per group per iteration (D / T): 6,000 MovementBandits steps, half of what one reference task group
    collects (12 workers share a task, each ``--num_rollouts 1000``); 20 (one worker) learns several times slower."""
    num_groups: int = 10
    """Task groups trained side by side, one task and one master each (the reference's ``rank % 10`` task groups)."""
    stagger: bool = True
    """Offset group g's first task by g (W + U) / num_groups iterations (reference ``mini_ep = -(rank % 10) ...``)."""
    random_choice_prob: float = 0.1
    """While exploring, the master's choice is replaced by a uniformly random sub-policy this often (reference 0.1)."""
    gamma: float = 0.99
    """Discount, at both levels (reference 0.99)."""
    gae_lambda: float = 0.98
    """GAE lambda, at both levels (reference 0.98)."""
    master_lr: float = 0.01
    """Master Adam step size (reference 0.01)."""
    master_minibatch: int = 64
    """Macro steps per master minibatch (reference 64)."""
    sub_lr: float = 3e-4
    """Sub-policy Adam step size: the paper's 3e-4 (the reference code has 3e-5, issue #9)."""
    sub_minibatches: int = 15
    """Minibatches per epoch of each sub-policy update (reference 15)."""
    epochs: int = 10
    """PPO epochs over each batch, both levels (reference 10)."""
    clip_ratio: float = 0.2
    """PPO clip range (reference 0.2)."""
    entropy_coef: float = 0.0
    """Entropy bonus of the master (reference ``entcoeff=0``)."""
    sub_entropy_coef: float = 0.0
    """Entropy bonus of the sub-policies (reference ``entcoeff=0``; > 0 is a benchmark ablation)."""
    hidden: tuple[int, ...] = (32, 32)
    """Hidden layers (tanh) of every actor and critic (reference 2 x 32 tanh)."""
    value_scale: float = 10.0
    """Critics predict returns / value_scale (keeps the squared error O(1)); not in the reference."""
    seed: int = 0
    """Seeds the agent's sampling (actions, random master choices, minibatches)."""

    def __post_init__(self) -> None:
        check_int("num_subs", self.num_subs, 1)
        check_int("macro_duration", self.macro_duration, 1)
        check_int("warmup", self.warmup, 0)
        check_int("joint", self.joint, 0)
        check_int("episodes_per_iteration", self.episodes_per_iteration, 1)
        check_int("num_groups", self.num_groups, 1)
        check_range("random_choice_prob", self.random_choice_prob, 0.0, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("master_lr", self.master_lr, 1e-8, 1.0)
        check_int("master_minibatch", self.master_minibatch, 1)
        check_range("sub_lr", self.sub_lr, 1e-8, 1.0)
        check_int("sub_minibatches", self.sub_minibatches, 1)
        check_int("epochs", self.epochs, 1)
        check_range("clip_ratio", self.clip_ratio, 0.0, 1.0)
        check_range("entropy_coef", self.entropy_coef, 0.0, None)
        check_range("sub_entropy_coef", self.sub_entropy_coef, 0.0, None)
        check_range("value_scale", self.value_scale, 1e-8, None)
        check_int("seed", self.seed, 0)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.warmup + self.joint < 1:
            raise ValueError(f"warmup + joint must be >= 1 iteration per task, got warmup={self.warmup}, joint={self.joint}")

    @property
    def task_iterations(self) -> int:
        """W + U, iterations spent on one task."""
        return self.warmup + self.joint


# ============================================================================================ pieces
def macro_rewards(rewards: Tensor, mask: Tensor, macro_duration: int) -> tuple[Tensor, Tensor]:
    """The master's rewards: the sum of the N rewards of each macro step.

    Args:
        rewards: (n, T) per-step rewards.
        mask: (n, T) bool, True on real steps (a prefix of each row).
        macro_duration: N.
    Returns:
        (macro_reward, macro_mask), each (n, ceil(T / N)); macro step j covers steps jN .. jN + N - 1 and is real
        when its first step is.

    Taught in notebooks/10_mlsh.py (section "The master's view").
    """
    check_int("macro_duration", macro_duration, 1)
    if rewards.ndim != 2 or mask.shape != rewards.shape:
        raise ValueError(f"rewards and mask must both be (n, T), got {tuple(rewards.shape)} and {tuple(mask.shape)}")
    n, horizon = rewards.shape
    num_macro = math.ceil(horizon / macro_duration)
    padded = torch.zeros(n, num_macro * macro_duration, dtype=rewards.dtype)
    padded[:, :horizon] = torch.where(mask, rewards, torch.zeros_like(rewards))
    return padded.view(n, num_macro, macro_duration).sum(-1), mask[:, ::macro_duration].clone()


def macro_advantages(rewards: Tensor, mask: Tensor, macro_values: Tensor, macro_duration: int, gamma: float,
                     gae_lambda: float) -> tuple[Tensor, Tensor]:
    """GAE at the macro level: the master sees an episode of ceil(T / N) steps with the summed rewards.

    Args:
        rewards, mask: (n, T) per-step rewards and real steps.
        macro_values: (n, ceil(T / N)) the master critic's values at each choice, in reward units.
        macro_duration, gamma, gae_lambda: N and GAE's settings (the reference: 0.99, 0.98 per macro step).
    Returns:
        (advantages, returns), each (n, ceil(T / N)), 0 on padded macro steps.

    Taught in notebooks/10_mlsh.py (section "The master's view").
    """
    reward, macro_mask = macro_rewards(rewards, mask, macro_duration)
    return gae_advantages(reward, macro_values, gamma, gae_lambda, macro_mask)


def ppo_minibatch_update(ppo: PPO, batch: PPOBatch, *, epochs: int, minibatch_size: int, generator: torch.Generator,
                         grouped: bool = False) -> dict[str, Tensor]:
    """PPO over shuffled minibatches: ``epochs`` passes, one :meth:`PPO.update` (one Adam step) per minibatch.

    The shared learner steps on a whole batch; the reference PPO (baselines' ``pposgd``) shuffles each epoch
    into minibatches. ``ppo.config.epochs`` must be 1.

    Args:
        batch: fields (n, T, ...) with mask (n, T) (only real steps are used); with ``grouped``, fields
            (G, S, ...) with mask (G, S) for an ensemble policy whose member g reads row g: every minibatch takes
            the same shuffled positions of every group (padded steps stay masked).
        minibatch_size: steps (per group) per minibatch; the last one of an epoch may be smaller.
    Returns:
        The last minibatch's losses, plus ``first_approx_kl``: the approximate KL of the very first minibatch,
        computed before any step (0 up to round-off: the PPO ratio is 1 in the first epoch).

    Taught in notebooks/10_mlsh.py (section "The two phases").
    """
    check_int("epochs", epochs, 1)
    check_int("minibatch_size", minibatch_size, 1)
    if ppo.config.epochs != 1:
        raise ValueError(f"ppo.config.epochs must be 1 (the epochs are taken here), got {ppo.config.epochs}")
    mask = batch.mask if batch.mask is not None else torch.ones(batch.actions.shape, dtype=torch.bool)
    if not mask.any():
        raise ValueError("batch has no real step (mask is all False)")
    fields = (("obs", batch.obs), ("actions", batch.actions), ("log_probs", batch.log_probs),
              ("advantages", batch.advantages), ("returns", batch.returns))
    if grouped:
        flat, count = dict(fields) | {"mask": mask}, mask.shape[1]
        take = lambda value, chunk: value[:, chunk]  # noqa: E731
    else:
        flat = {name: value[mask] for name, value in fields}
        count = len(flat["actions"])
        take = lambda value, chunk: value[chunk]  # noqa: E731
    losses: dict[str, Tensor] = {}
    first_kl = None
    for _ in range(epochs):
        order = torch.randperm(count, generator=generator)
        for chunk in order.split(minibatch_size):
            part = {name: take(value, chunk) for name, value in flat.items()}
            if grouped and not part["mask"].any():
                continue
            losses = ppo.update(PPOBatch(**part))
            if first_kl is None:
                first_kl = losses["approx_kl"]
    return {**losses, "first_approx_kl": first_kl}


# ============================================================================================ networks
class SubPolicies(nn.Module):
    """K separate actor-critics (each actor and critic an :func:`~peach_lite.nets.mlp`, tanh).

    Forward: obs (n, obs_dim) -> (logits (K, n, num_actions), values (K, n)), values in critic units
    (returns / value_scale). Each sub-policy has its own parameters, so one can learn while another is untouched.

    Taught in notebooks/10_mlsh.py (section "Sub-policies and the master").
    """

    def __init__(self, obs_dim: int, num_actions: int, num_subs: int, hidden: tuple[int, ...] = (32, 32)):
        super().__init__()
        check_int("num_subs", num_subs, 1)
        self.num_subs = int(num_subs)
        self.actors = nn.ModuleList(mlp(obs_dim, num_actions, hidden, nn.Tanh) for _ in range(num_subs))
        self.critics = nn.ModuleList(mlp(obs_dim, 1, hidden, nn.Tanh) for _ in range(num_subs))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return (torch.stack([actor(obs) for actor in self.actors]),
                torch.stack([critic(obs).squeeze(-1) for critic in self.critics]))

    def policy(self, index: int):
        """The PPO policy function of sub-policy ``index``: (PPOBatch, cond) -> PolicyOutput."""
        return lambda batch, cond=None: PolicyOutput(self.actors[index](batch.obs), self.critics[index](batch.obs).squeeze(-1))


class Masters(nn.Module):
    """The masters of G task groups, one ensemble member each: a categorical policy over K sub-policies and its
    critic, each an :class:`~peach_lite.nets.EnsembleMLP` (tanh), so all groups act and learn in one batched call.

    Forward: obs (G, b, obs_dim), member g reads obs[g] -> (logits (G, b, K), value (G, b)).

    Taught in notebooks/10_mlsh.py (section "Sub-policies and the master").
    """

    def __init__(self, obs_dim: int, num_subs: int, num_groups: int, hidden: tuple[int, ...] = (32, 32)):
        super().__init__()
        self.actor = EnsembleMLP(obs_dim, num_subs, num_groups, hidden, nn.Tanh)
        self.critic = EnsembleMLP(obs_dim, 1, num_groups, hidden, nn.Tanh)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.actor.forward_members(obs), self.critic.forward_members(obs).squeeze(-1)

    def policy(self, batch: PPOBatch, cond: Any = None) -> PolicyOutput:
        """The PPO policy function: (PPOBatch with obs (G, m, obs_dim), cond) -> PolicyOutput (G, m, ...)."""
        logits, value = self(batch.obs)
        return PolicyOutput(logits, value)

    @torch.no_grad()
    def reset_member_(self, group: int) -> None:
        """Re-draw member ``group``'s weights as a fresh ``nn.Linear`` would (U(+-1/sqrt(in_dim))); others untouched."""
        check_int("group", group, 0, self.actor.ensemble_size - 1)
        for net in (self.actor, self.critic):
            for layer in net.layers:
                bound = 1.0 / math.sqrt(layer.in_dim)
                layer.weight[group].uniform_(-bound, bound)
                layer.bias[group].uniform_(-bound, bound)


@dataclass
class AdaptResult:
    """What :meth:`MLSH.adapt` measured on fresh tasks.

    Taught in notebooks/10_mlsh.py (section "Meta-testing").
    """

    iteration_returns: list[float]
    """Mean exploring return of each warm-up iteration (over tasks and episodes)."""
    final_return: float
    """Mean greedy return after the warm-up (over tasks and episodes)."""
    final_success: float
    """Fraction of greedy episodes with ``success`` (four rooms: the goal reached)."""
    master_accuracy: float
    """Mean probability the master gives the sub-policy that ends most often at the real goal (MovementBandits; NaN otherwise)."""
    master_entropy: float
    """Mean entropy (nats) of the master's distribution at its choices in the greedy episodes."""
    per_task_returns: list[float]
    """Greedy return per task."""
    oracle_return: float
    """The task-known optimum on the same greedy episodes (MovementBandits: same goal pairs), mean."""
    agent: "MLSH"
    """The adapted agent (its masters; sub-policies shared with the meta-trained one)."""


# ============================================================================================ agent
class MLSH:
    """MLSH as an :class:`~peach_lite.runner.Agent`: one iteration of every task group per ``collect_round``.

    Env row i belongs to group ``i // B`` (B = ``episodes_per_iteration``); group g runs ``group_tasks[g]``.

    Args:
        tasks: the task distribution (:func:`peach_lite.mlsh_tasks.mlsh_tasks`).
        config: :class:`MLSHConfig`.
        subs: sub-policies to share (default: new :class:`SubPolicies`); e.g. scripted ones.
        train_subs: False freezes the sub-policies (meta-testing).

    Taught in notebooks/10_mlsh.py (section "The two phases").
    """

    algorithm = "mlsh"

    def __init__(self, tasks: MLSHTasks, config: MLSHConfig | None = None, *, subs: nn.Module | None = None,
                 train_subs: bool = True):
        self.tasks, self.config = tasks, config or MLSHConfig()
        cfg = self.config
        self.subs = subs if subs is not None else SubPolicies(tasks.obs_dim, tasks.num_actions, cfg.num_subs, cfg.hidden)
        self.train_subs = bool(train_subs)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.sub_learners = ([PPO(self.subs.policy(k), [list(self.subs.actors[k].parameters()), list(self.subs.critics[k].parameters())],
                                  self._ppo_config(cfg.sub_lr, cfg.sub_entropy_coef)) for k in range(cfg.num_subs)]
                             if isinstance(self.subs, SubPolicies) else [])
        total = cfg.task_iterations
        self.phase = torch.tensor([-(g * total) // cfg.num_groups if cfg.stagger else 0 for g in range(cfg.num_groups)])
        """(G,) iteration index of each group within its current task (negative: the staggered first task's extra warm-up)."""
        self.group_tasks: list[Any] = [None] * cfg.num_groups
        """The task each group runs (None: draw one at the next collection)."""
        self.masters = Masters(tasks.obs_dim, cfg.num_subs, cfg.num_groups, cfg.hidden)
        """Every group's master, one ensemble member each."""
        self.master_learner = PPO(self.masters.policy, [list(self.masters.actor.parameters()), list(self.masters.critic.parameters())],
                                  self._ppo_config(cfg.master_lr, cfg.entropy_coef))
        self.master_resets = [1] * cfg.num_groups
        """How many times each group's master was initialised."""
        self.sub_updates = [0] * cfg.num_subs
        """Sub-policy updates taken, per sub-policy."""
        self._explore, self._record = True, False
        self._rollout: dict[str, Tensor] | None = None
        self._buf: dict[str, list[Tensor]] = {}

    # --------------------------------------------------------------------------- Alg. 1 schedule
    def reset_master(self, group: int) -> None:
        """Alg. 1 "Initialize theta": fresh weights for ``group``'s master (its Adam moments carry over, as in the
        reference, whose ``MpiAdam`` is built once)."""
        self.masters.reset_member_(group)
        self.master_resets[group] += 1

    def joint_groups(self) -> Tensor:
        """(G,) bool: the groups in their joint phase this iteration (W <= phase < W + U)."""
        return (self.phase >= self.config.warmup) & (self.phase < self.config.task_iterations)

    def collect_round(self, runner: Runner, round_index: int) -> Episodes:
        """One iteration of every group: a new task and master where a group's task is over (Alg. 1 "Sample task
        M"), then ``episodes_per_iteration`` exploring episodes per group, all in lockstep."""
        for g in range(self.config.num_groups):
            if self.phase[g] >= self.config.task_iterations:  # this group's task is over
                self.group_tasks[g], self.phase[g] = None, 0
                self.reset_master(g)
            if self.group_tasks[g] is None:
                self.group_tasks[g] = runner.draw_tasks(1).values[0]
        return run_episodes(self, runner.envs, self.group_batch(self.config.episodes_per_iteration), explore=True)

    def group_batch(self, episodes_per_group: int, split: str = "train") -> TaskBatch:
        """The TaskBatch of ``episodes_per_group`` rows per group (group-major), each running its group's task."""
        values = tuple(task for task in self.group_tasks for _ in range(episodes_per_group))
        ids = torch.arange(self.config.num_groups).repeat_interleave(episodes_per_group)
        return TaskBatch(ids, values, split)

    def learn(self, num_updates: int = 1) -> dict[str, Tensor]:
        """Alg. 1 update step for the last iteration: every master on its macro steps; then, in the joint phase,
        the sub-policies on the joint groups' steps (gradients averaged over groups; warm-up groups send none).
        ``num_updates`` is ignored: one PPO update (``epochs`` passes) per iteration, as in the reference."""
        roll, self._rollout = self._rollout, None
        if roll is None:
            return {}
        losses = self.update_masters(roll)
        if self.train_subs:
            losses |= self.update_subs(roll, self.joint_groups())
        self.phase += 1
        return losses

    def update_masters(self, roll: dict[str, Tensor]) -> dict[str, Tensor]:
        """Alg. 1 "Update theta ... from 1/N timescale viewpoint": PPO on the macro steps, each group's master on its
        own (advantages normalised per group; one Adam step updates every member on its own minibatch)."""
        cfg, G = self.config, self.config.num_groups
        rewards, macro_mask = macro_rewards(roll["reward"], roll["mask"], cfg.macro_duration)
        values = roll["m_value"] * cfg.value_scale
        advantages, returns = gae_advantages(rewards, values, cfg.gamma, cfg.gae_lambda, macro_mask)
        group = lambda x: x.reshape(G, -1, *x.shape[2:])  # noqa: E731  (n, M, ...) -> (G, b M, ...)
        mask = group(macro_mask)
        advantages = torch.stack([normalize_advantages(a, m) for a, m in zip(group(advantages), mask)])
        batch = PPOBatch(group(roll["m_obs"]), group(roll["m_action"]), group(roll["m_log_prob"]), advantages,
                         group(returns) / cfg.value_scale, mask)
        losses = ppo_minibatch_update(self.master_learner, batch, epochs=cfg.epochs, minibatch_size=cfg.master_minibatch,
                                      generator=self.generator, grouped=True)
        return {f"master_{name}": losses[name] for name in ("policy", "value", "entropy", "first_approx_kl")}

    def update_subs(self, roll: dict[str, Tensor], joint: Tensor) -> dict[str, Tensor]:
        """Alg. 1 "Update phi ... from full timescale viewpoint": sub-policy k by PPO on the steps of joint groups
        where it was active (a sub-policy active nowhere is left untouched). Returns {} when no group is joint.

        All groups' steps enter one mean; warm-up groups' steps are left out, which is the reference's "zero
        gradient" from warm-up workers up to the factor (joint groups / G) that Adam's step does not see."""
        cfg = self.config
        size = len(roll["reward"]) // cfg.num_groups
        rows = joint.repeat_interleave(size)
        if not rows.any():
            return {}
        mask, active = roll["mask"][rows], roll["active"][rows]
        advantages, returns = gae_advantages(roll["reward"][rows], roll["value"][rows] * cfg.value_scale, cfg.gamma,
                                             cfg.gae_lambda, mask)
        out: dict[str, Tensor] = {}
        for k, learner in enumerate(self.sub_learners):
            mine = mask & (active == k)
            count = int(mine.sum())
            if count == 0:
                continue
            batch = PPOBatch(roll["obs"][rows], roll["action"][rows], roll["log_prob"][rows],
                             normalize_advantages(advantages, mine), returns / cfg.value_scale, mine)
            losses = ppo_minibatch_update(learner, batch, epochs=cfg.epochs,
                                          minibatch_size=max(1, math.ceil(count / cfg.sub_minibatches)), generator=self.generator)
            self.sub_updates[k] += 1
            out |= {f"sub{k}_{name}": losses[name] for name in ("policy", "value", "first_approx_kl")}
        return out

    # --------------------------------------------------------------------------- Agent protocol
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """A new lockstep episode; ``len(tasks)`` must be a multiple of ``num_groups`` (group-major rows)."""
        if len(tasks) % self.config.num_groups:
            raise ValueError(f"tasks must have a multiple of num_groups={self.config.num_groups} rows, got {len(tasks)}")
        self._explore = bool(explore)
        self._record = explore and tasks.split == "train"
        self._t = 0
        self._buf = {name: [] for name in ("obs", "action", "log_prob", "value", "active", "reward", "mask",
                                           "m_obs", "m_action", "m_log_prob", "m_value", "m_probs")}

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Every N steps each group's master picks a sub-policy per row (10% random while exploring); the
        active sub-policy picks the action. (n, obs_dim) -> (n, 1) action indices."""
        cfg, n = self.config, len(obs)
        if self._t % cfg.macro_duration == 0:
            logits, values = self.masters(obs.reshape(cfg.num_groups, n // cfg.num_groups, -1))
            logits, values = logits.reshape(n, -1), values.reshape(n)
            log_probs = torch.log_softmax(logits, -1)
            if self._explore:
                choice = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(1)
                override = torch.rand(n, generator=self.generator) < cfg.random_choice_prob
                random = torch.randint(cfg.num_subs, (n,), generator=self.generator)
                choice = torch.where(override, random, choice)
            else:
                choice = log_probs.argmax(-1)
            self._active = choice
            for name, value in (("m_obs", obs), ("m_action", choice), ("m_log_prob", log_probs.gather(1, choice[:, None]).squeeze(1)),
                                ("m_value", values), ("m_probs", log_probs.exp())):
                self._buf[name].append(value)
        logits, values = self.subs(obs)
        rows = torch.arange(n)
        logits, value = logits[self._active, rows], values[self._active, rows]
        log_probs = torch.log_softmax(logits, -1)
        if self._explore:
            action = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(1)
        else:
            action = log_probs.argmax(-1)
        for name, item in (("obs", obs), ("action", action), ("log_prob", log_probs.gather(1, action[:, None]).squeeze(1)),
                           ("value", value), ("active", self._active)):
            self._buf[name].append(item)
        self._t += 1
        return action[:, None].float()

    def observe(self, step: Step) -> None:
        """Keep the reward and the mask of the step."""
        self._buf["reward"].append(step.reward)
        self._buf["mask"].append(step.mask)

    def end_episode(self) -> None:
        """Stack the episode into ``(n, T, ...)`` tensors for :meth:`learn` (exploring train episodes only)."""
        stacked = {name: torch.stack(items, 1) for name, items in self._buf.items() if items}
        self.last_episode = stacked
        """The last episode's tensors (n, T, ...): obs, action, active, reward, mask, m_probs, ... (for pictures)."""
        if self._record:
            self._rollout = stacked

    # --------------------------------------------------------------------------- meta-testing
    def adapt(self, tasks: list, *, iterations: int | None = None, eval_episodes: int = 10, seed: int = 0,
              progress: bool = False) -> AdaptResult:
        """Meta-test: a fresh master per task, ``iterations`` (default W) master-only iterations with the
        sub-policies frozen, then ``eval_episodes`` greedy episodes per task.

        Args:
            tasks: one task per group (e.g. ``self.tasks.fresh_tasks(20, seed)``).
        Returns:
            :class:`AdaptResult`.

        Taught in notebooks/10_mlsh.py (section "Meta-testing").
        """
        from peach_lite.loop import TrainConfig, evaluate, train

        iterations = self.config.warmup if iterations is None else iterations
        check_int("iterations", iterations, 0)
        check_int("eval_episodes", eval_episodes, 1)
        check_int("seed", seed, 0)
        if not tasks:
            raise ValueError("tasks must be a non-empty list")
        config = MLSHConfig(**{**asdict(self.config), "num_groups": len(tasks), "warmup": max(iterations, 1), "joint": 0,
                               "stagger": False, "seed": seed})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            agent = MLSH(self.tasks, config, subs=self.subs, train_subs=False)
        agent.group_tasks = list(tasks)
        curve: list[float] = []
        if iterations:
            envs = self.tasks.make_envs(len(tasks) * config.episodes_per_iteration, seed)
            runner = Runner(envs, list(tasks), seed=seed)
            history = train(agent, runner, TrainConfig(rounds=iterations, episodes_per_round=1, warmup_steps=0, eval_episodes=0,
                                                       seed=seed, progress=progress))
            per_round = len(tasks) * config.episodes_per_iteration
            curve = [float(np.mean(history.returns[i * per_round:(i + 1) * per_round])) for i in range(iterations)]
        eval_envs = self.tasks.make_envs(len(tasks) * eval_episodes, seed + 1)
        episodes = evaluate(agent, eval_envs, agent.group_batch(eval_episodes, split="test"), num_episodes=1, seed=seed + 1)
        probs = agent.last_episode["m_probs"]  # (n, M, K)
        entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())
        accuracy = float("nan")
        if self.tasks.name == "movement":
            ends = sub_policy_outcomes(self.subs, self.tasks, num_starts=100, seed=seed, kind="goal")  # (K, starts)
            share = torch.stack([(ends == goal).float().mean(1) for goal in (0, 1)])  # (2, K) P(end at goal | sub)
            best = share.argmax(1)  # the sub-policy that ends most often at each goal
            real = torch.as_tensor([int(t) for t in tasks]).repeat_interleave(eval_episodes)
            accuracy = float(probs[torch.arange(len(real)), :, best[real]].mean())
        per_task = episodes.returns.reshape(len(tasks), eval_episodes).mean(1)
        oracle = float(np.mean(self.tasks.episode_oracle(eval_envs, list(agent.group_batch(eval_episodes).values))))
        return AdaptResult(curve, float(episodes.returns.mean()), float(episodes.success.mean()), accuracy, entropy,
                           per_task.tolist(), oracle, agent)

    def collapse(self, num_starts: int = 200, seed: int = 0, kind: str = "move") -> float:
        """The detector's S for the current sub-policies (:func:`~peach_lite.mlsh_tasks.collapse_score`); ``kind``
        "move" (what they do in one macro step) or "goal" (where they end an episode, MovementBandits)."""
        return collapse_score(sub_policy_outcomes(self.subs, self.tasks, num_starts=num_starts, seed=seed, kind=kind))

    # --------------------------------------------------------------------------- checkpoints
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the agent: the task distribution and the config."""
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()}
        return {"tasks": self.tasks.name, "config": config}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The shared sub-policies (masters are per task and are not kept)."""
        return {"subs": self.subs.state_dict()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "MLSH":
        """Rebuild from ``arch`` and load the sub-policies."""
        arch = payload["arch"]
        config = MLSHConfig(**{**arch["config"], "hidden": tuple(arch["config"]["hidden"])})
        agent = cls(mlsh_tasks(arch["tasks"]), config)
        agent.subs.load_state_dict(payload["state"]["subs"])
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Greedy return after W warm-up iterations of fresh masters on 8 fresh tasks (fixed seeds)."""
        return self.adapt(self.tasks.fresh_tasks(8, 0), eval_episodes=5, seed=EVAL_SEED).final_return

    # --------------------------------------------------------------------------- helpers
    def _ppo_config(self, lr: float, entropy_coef: float) -> PPOConfig:
        cfg = self.config
        return PPOConfig(lr=lr, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, epochs=1, clip_ratio=cfg.clip_ratio, value_coef=1.0,
                         entropy_coef=entropy_coef, max_grad_norm=1e6, normalize_advantages=True)


EVAL_SEED = 4_242
"""Seed of the fixed meta-test of a checkpoint."""


# ============================================================================================ training
PRESETS: dict[str, dict[str, Any]] = {
    "movement": {"tasks": "movement", "iterations": 200, "history_detail": "rounds"},
    "fourrooms": {"tasks": "fourrooms", "iterations": 100, "history_detail": "rounds", "num_subs": 4, "macro_duration": 5, "warmup": 10, "joint": 2,
                  "episodes_per_iteration": 40},
}
"""Named settings of :func:`train_mlsh` (design-08-11 §2: MovementBandits K=2, N=10, W=9, U=1; four rooms K=4, N=5,
W=10, U=2)."""


def train_mlsh(*, seed: int, progress: bool = True, tasks: str = "movement", iterations: int = 1000,
               detector_every: int = 50, history_detail: str = "episodes", **config: Any) -> tuple[MLSH, dict[str, Any]]:
    """Meta-train MLSH with the shared loop: ``iterations`` rounds, each one iteration of every task group.

    A callback runs the collapse detector every ``detector_every`` rounds (``history.extra["collapse_S"]``, and the
    goal detector ``history.extra["goal_S"]`` on MovementBandits).

    Args:
        history_detail: "episodes" keeps every episode's return in ``meta["history"]``; "rounds" keeps one entry
            per round (the mean return of its episodes), small enough for a checkpoint.
    Returns:
        (agent, meta) with the History, the detector's trace and the CPU seconds; ``meta["collapsed"]`` is True when
        either detector ends below :data:`~peach_lite.mlsh_tasks.COLLAPSE_THRESHOLD` (the goal detector is the
        issue's |P(end at g0 | sub 0) - P(end at g0 | sub 1)| measure; the move detector alone misses a pair where
        one sub-policy walks to a goal and the other stands still).

    Taught in notebooks/10_mlsh.py (section "Meta-training").
    """
    from peach_lite.loop import TrainConfig, train

    check_int("iterations", iterations, 1)
    check_int("detector_every", detector_every, 1)
    family = mlsh_tasks(tasks)
    cfg = MLSHConfig(**{**config, "seed": seed})
    agent = MLSH(family, cfg)
    runner = Runner(family.make_envs(cfg.num_groups * cfg.episodes_per_iteration, seed), family.train_tasks, seed=seed)

    def detector(round_index: int, agent: MLSH, history) -> None:
        if agent.config.num_subs > 1 and (round_index % detector_every == 0 or round_index == iterations):
            history.extra.setdefault("collapse_round", []).append(float(round_index))
            history.extra.setdefault("collapse_S", []).append(agent.collapse(num_starts=100, seed=1))
            if agent.tasks.goal_outcome is not None:
                history.extra.setdefault("goal_S", []).append(agent.collapse(num_starts=100, seed=1, kind="goal"))

    check_choice("history_detail", history_detail, ["episodes", "rounds"])
    start = time.process_time()
    history = train(agent, runner, TrainConfig(rounds=iterations, episodes_per_round=1, warmup_steps=0, eval_episodes=0,
                                               log_every=1, seed=seed, progress=progress), callbacks=[detector])
    saved = history.to_dict()
    if history_detail == "rounds":
        per_round = cfg.num_groups * cfg.episodes_per_iteration
        for name in ("steps", "returns", "wall_time"):
            values = saved[name][: iterations * per_round]
            saved[name] = [values[(i + 1) * per_round - 1] if name != "returns" else float(np.mean(values[i * per_round:(i + 1) * per_round]))
                           for i in range(len(values) // per_round)]
    return agent, {"iterations": iterations, "history": saved, "history_detail": history_detail, "cpu_s": time.process_time() - start,
                   "collapse_S": (history.extra.get("collapse_S") or [float("nan")])[-1],
                   "goal_S": (history.extra.get("goal_S") or [float("nan")])[-1],
                   "collapsed": _collapsed(history.extra) if agent.config.num_subs > 1 else None}


def _collapsed(extra: dict[str, list[float]]) -> bool:
    """Collapse at the end of meta-training: either detector (move, and goal on MovementBandits) below the threshold."""
    return bool(min(trace[-1] for trace in (extra["collapse_S"], extra.get("goal_S") or [1.0])) < COLLAPSE_THRESHOLD)


CLI = TrainSpec(train=train_mlsh, presets=PRESETS, score_name="adapted_return", tolerance=3.0)
"""``python -m peach_lite train mlsh --preset movement``."""
