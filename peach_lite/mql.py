"""Meta-Q-Learning (Fakoor, Chaudhari, Soatto & Smola, ICLR 2020): multi-task TD3 with a history context,
and propensity-weighted adaptation that reuses the meta-training replay.

Composition (no private loop, buffer or network):

* the learner is :class:`peach_lite.td3.TD3` with ``cond_dim = gru_hidden``; its ``critic_loss`` and
  ``actor_loss`` are called with the contexts and with per-row ``weights``;
* the context is a :class:`HistoryEncoder` (a GRU over the last ``history_length`` tuples
  (a, r, s) of the current episode), one for the actor and one for the critic, each with a target copy;
* the replay is a :class:`~peach_lite.buffers.MultiTaskReplayBuffer` keyed by training task, each row
  holding the history before and after its step (the critic's target uses the next history);
* collection and training go through :func:`peach_lite.loop.train` (:class:`MQL` is a
  :class:`peach_lite.runner.Agent`).

Adaptation to a new task (:meth:`MQL.adapt`, the reference's ``adapt``): collect a snapshot of the new
task, fit a logistic classifier telling new-task contexts from meta-training contexts
(:func:`~peach_lite.propensity.fit_logistic`, Newton's method on scikit-learn's objective), turn its logit f into
propensity weights beta = exp(-f) (clipped, zeroed below ``beta_min``), compute the normalised effective
sample size ESS, then run TD3 steps on the snapshot and propensity-weighted TD3 steps on the
meta-training replay with a proximal term lambda * ||theta - theta_meta||^2, lambda = 1 - ESS (paper) or
fixed (released code). :meth:`MQL.rollback` restores the meta-trained weights exactly.

Two diagnostics share the learner (``MQLConfig.task_input``): "state" keeps the history at zeros (TD3 that cannot
know the goal, the baseline) and "goal" conditions TD3 on the task's true goal instead of the context (the
oracle-goal bound: what the same TD3 reaches with perfect inference; not part of MQL, and not adapted).

Deviations from the reference (amazon-research/meta-q-learning), each a CPU budget choice:
networks 2x128 instead of 2x300; history of 10 tuples instead of 30 (episodes here are 20 steps);
episodes of 8 tasks in lockstep instead of one task at a time. They are config fields.

Taught in notebooks/08_mql.py.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.buffers import MultiTaskReplayBuffer, ReplayBuffer
from peach_lite.cli import TrainSpec
from peach_lite.nets import polyak_update_
from peach_lite.propensity import effective_sample_size, fit_logistic, propensity_weights
from peach_lite.runner import Step, TaskBatch
from peach_lite.td3 import TD3, TD3Config
from peach_lite.validation import as_obs_tensor, check_choice, check_int, check_int_sequence, check_range

__all__ = ["MQLConfig", "TASK_INPUTS", "HistoryEncoder", "MQL",
           "AdaptResult", "normalised_score", "context_probe", "task_goals", "train_mql", "CLI"]


@dataclass
class MQLConfig:
    """MQL hyperparameters; defaults follow the reference code (algorithms.md §1.2) unless a CPU budget
    note says otherwise.

    Taught in notebooks/08_mql.py (section "The agent").
    """

    hidden: tuple[int, ...] = (128, 128)
    """Hidden layers of the actor and critics (reference 300x300; smaller for a CPU lesson)."""
    history_length: int = 10
    """h, tuples (a, r, s) of the current episode the GRU reads (reference 30; episodes here have 20 steps)."""
    gru_hidden: int = 30
    """Size of the GRU context fed to the actor and the critic (reference ``hiddens_conext`` 30)."""
    lr: float = 3e-4
    """Adam learning rate of actor and critic (with their GRUs) in meta-training (reference 3e-4)."""
    batch_size: int = 256
    """Rows per gradient step, split evenly over ``tasks_per_batch`` training tasks (reference 256)."""
    tasks_per_batch: int = 8
    """Training tasks per gradient step (reference ``meta_batch_size`` 10)."""
    buffer_size: int = 2_000
    """Replay capacity per training task."""
    gamma: float = 0.99
    """Discount (reference 0.99)."""
    tau: float = 0.005
    """Polyak rate of every target network, GRUs included (reference 0.005)."""
    policy_noise: float = 0.3
    """Target policy smoothing noise (reference 0.3)."""
    noise_clip: float = 0.5
    """Clip of the smoothing noise (reference 0.5)."""
    exploration_noise: float = 0.2
    """Gaussian exploration noise when acting (reference ``expl_noise`` 0.2)."""
    policy_delay: int = 2
    """Actor and target updates every this many critic updates (reference ``policy_freq`` 2)."""
    snapshot_episodes: int = 10
    """Episodes collected on a new task before adapting (reference ``snapshot_size`` 2000 steps)."""
    snapshot_iters: int = 10
    """TD3 steps on the new task's snapshot alone (reference ``snap_iter_nums`` 10)."""
    replay_iters: int = 100
    """Propensity-weighted TD3 steps on the meta-training replay (reference ``main_snap_iter_nums`` 100)."""
    sample_mult: int = 5
    """Replay batches in adaptation are ``sample_mult * batch_size`` rows (reference 5)."""
    classifier_c: float = 0.5
    """Inverse L2 strength C of the logistic classifier, scikit-learn's convention (reference ``lam_csc`` 0.5)."""
    beta_clip: float = 1.0
    """The logit is clamped to >= -beta_clip, so beta = exp(-f) <= e^beta_clip (reference 1)."""
    beta_min: float = 0.1
    """Weights below this are set to 0 (reference)."""
    prox: str = "ess"
    """Proximal weight lambda: "ess" = 1 - ESS (the paper) or "fixed" = ``prox_coef`` (the released runs)."""
    prox_coef: float = 0.1
    """lambda when prox = "fixed" (reference 0.1)."""
    adapt_lr: float = 1e-3
    """Learning rate of the fresh Adams made for adaptation (reference: torch's default, 1e-3)."""
    use_propensity: bool = True
    """False sets beta = 1 for every replay row (an ablation)."""
    task_input: str = "context"
    """What TD3 is conditioned on besides the state: "context" = the GRU's summary of the history (MQL);
    "state" = nothing (the history is kept at zeros: the same TD3 on the state alone, which cannot know the goal,
    a baseline); "goal" = the true goal of the task (``task.goal``), a diagnostic bound, not part of MQL: it shows
    what the same TD3 reaches when inference is perfect (it has no context, so it cannot adapt)."""
    seed: int = 0
    """Seeds networks, exploration noise and replay sampling."""

    def __post_init__(self):
        self.hidden = check_int_sequence("hidden", self.hidden)
        for name, low in [("history_length", 1), ("gru_hidden", 1), ("batch_size", 1), ("tasks_per_batch", 1),
                          ("buffer_size", 1), ("policy_delay", 1), ("snapshot_episodes", 1), ("snapshot_iters", 0),
                          ("replay_iters", 0), ("sample_mult", 1), ("seed", 0)]:
            check_int(name, getattr(self, name), low)
        for name, low, high in [("lr", 1e-8, 1.0), ("gamma", 0.0, 1.0), ("tau", 0.0, 1.0), ("policy_noise", 0.0, None),
                                ("noise_clip", 0.0, None), ("exploration_noise", 0.0, None), ("classifier_c", 1e-8, None),
                                ("beta_clip", 0.0, None), ("beta_min", 0.0, None), ("prox_coef", 0.0, None),
                                ("adapt_lr", 1e-8, 1.0)]:
            check_range(name, getattr(self, name), low, high)
        check_choice("prox", self.prox, ["ess", "fixed"])
        check_choice("task_input", self.task_input, TASK_INPUTS)
        if self.batch_size % self.tasks_per_batch:
            raise ValueError(f"batch_size must be a multiple of tasks_per_batch ({self.tasks_per_batch}), got {self.batch_size}")

    def td3_config(self) -> TD3Config:
        """The TD3 learner's config (replay lives in MQL's multi-task buffer, so TD3's own holds 1 row)."""
        return TD3Config(hidden=self.hidden, actor_lr=self.lr, critic_lr=self.lr, batch_size=self.batch_size,
                         buffer_size=1, gamma=self.gamma, tau=self.tau, policy_noise=self.policy_noise,
                         noise_clip=self.noise_clip, exploration_noise=self.exploration_noise,
                         policy_delay=self.policy_delay, seed=self.seed)


TASK_INPUTS = ("context", "state", "goal")
"""The choices of :attr:`MQLConfig.task_input`."""


class HistoryEncoder(nn.Module):
    """A GRU over the last h tuples (a, r, s) of the episode: its final hidden state is the context.

    Forward: history (*B, h * tuple_dim), oldest tuple first, zeros before the episode's start ->
    context (*B, hidden).

    Taught in notebooks/08_mql.py (section "A history context").
    """

    def __init__(self, tuple_dim: int, history_length: int, hidden: int):
        super().__init__()
        check_int("tuple_dim", tuple_dim, 1)
        self.tuple_dim, self.history_length, self.hidden = int(tuple_dim), int(history_length), int(hidden)
        self.gru = nn.GRU(self.tuple_dim, self.hidden, batch_first=True)

    def forward(self, history: Tensor) -> Tensor:
        lead = history.shape[:-1]
        steps = history.reshape(-1, self.history_length, self.tuple_dim)
        _, last = self.gru(steps)  # last: (1, B, hidden)
        return last[0].reshape(*lead, self.hidden)


@dataclass
class AdaptResult:
    """What :meth:`MQL.adapt` measured on one new task.

    Taught in notebooks/08_mql.py (section "Adaptation").
    """

    before: float
    """Mean greedy return of the meta-trained agent on the task (no adaptation)."""
    after: float
    """Mean greedy return after adaptation (the agent is rolled back afterwards)."""
    ess: float
    """Normalised effective sample size of the replay's propensity weights, in [1/n, 1]."""
    prox_weight: float
    """lambda of the proximal term used."""
    mean_beta: float
    """Mean propensity weight over the replay sample."""


class MQL:
    """Meta-Q-Learning agent: context TD3 over a multi-task replay, plus propensity-weighted adaptation.

    Args:
        obs_dim, action_dim: sizes of the env's vectors; ``action_low``/``action_high`` its box.
        num_train_tasks: training tasks (replay buffers are keyed by their index).
        config: :class:`MQLConfig`.
        goal_dim: size of ``task.goal``; needed (>= 1) only when ``config.task_input == "goal"``.

    Taught in notebooks/08_mql.py (section "The agent").
    """

    algorithm: ClassVar[str] = "mql"

    def __init__(self, obs_dim: int, action_dim: int, num_train_tasks: int, config: MQLConfig | None = None, *,
                 action_low: Any = None, action_high: Any = None, device: torch.device | str | None = "cpu",
                 goal_dim: int = 0):
        self.config = cfg = config or MQLConfig()
        check_int("num_train_tasks", num_train_tasks, 1)
        self.num_train_tasks = int(num_train_tasks)
        check_int("goal_dim", goal_dim, 1 if cfg.task_input == "goal" else 0)
        self.goal_dim = int(goal_dim)
        cond_dim = self.goal_dim if cfg.task_input == "goal" else cfg.gru_hidden
        self.td3 = TD3(obs_dim, action_dim, cfg.td3_config(), action_low=action_low, action_high=action_high,
                       cond_dim=cond_dim, device=device)
        self.device, self.obs_dim, self.action_dim = self.td3.device, self.td3.obs_dim, self.td3.action_dim
        self.tuple_dim = self.action_dim + 1 + self.obs_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 1)
            self.actor_context = HistoryEncoder(self.tuple_dim, cfg.history_length, cfg.gru_hidden).to(self.device)
            self.critic_context = HistoryEncoder(self.tuple_dim, cfg.history_length, cfg.gru_hidden).to(self.device)
        self.actor_context_target = copy.deepcopy(self.actor_context).requires_grad_(False)
        self.critic_context_target = copy.deepcopy(self.critic_context).requires_grad_(False)
        self.critic_optimizer, self.actor_optimizer = self._make_optimizers(cfg.lr)
        width = cfg.history_length * self.tuple_dim
        self.fields = {"obs": (self.obs_dim,), "action": (self.action_dim,), "reward": (), "next_obs": (self.obs_dim,),
                       "done": (), "history": (width,), "next_history": (width,)}
        if cfg.task_input == "goal":
            self.fields["goal"] = (self.goal_dim,)
        self.buffer = MultiTaskReplayBuffer(self.num_train_tasks, cfg.buffer_size, self.fields, device=self.device)
        self.generator = self.td3.generator
        self.num_updates = 0
        self.env_id: str | None = None
        self.explore, self._tasks = True, TaskBatch.single()
        self._history = torch.zeros(1, width, device=self.device)
        self._goal: Tensor | None = None
        self._recording: ReplayBuffer | None = None

    @property
    def history(self) -> Tensor:
        """(n, h * tuple_dim) the current episode's history of every env (zeros right after ``begin_episode``)."""
        return self._history

    def resize_replay(self, capacity: int) -> None:
        """Give the agent an empty replay of ``capacity`` rows per training task (a loaded agent holds none)."""
        check_int("capacity", capacity, 1)
        self.buffer = MultiTaskReplayBuffer(self.num_train_tasks, capacity, self.fields, device=self.device)

    # --- the Agent protocol ------------------------------------------------------------------------
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Reset every env's history to zeros (the context starts empty each episode); with
        ``task_input = "goal"``, read each env's true goal from its task."""
        self.explore, self._tasks = bool(explore), tasks
        self._history = torch.zeros(len(tasks), self.config.history_length * self.tuple_dim, device=self.device)
        if self.config.task_input == "goal":
            self._goal = task_goals(tasks, self.goal_dim).to(self.device)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """(n, obs_dim) -> (n, action_dim) env actions from the actor given its history context (or the goal)."""
        obs = as_obs_tensor("obs", obs, self.obs_dim, self.device)
        cond = self.task_variable(self.actor_context, self._history, self._goal)
        return self.td3.action_scale.to_env(self.td3.policy(obs, cond, deterministic=not self.explore)).cpu()

    def observe(self, step: Step) -> None:
        """Store exploring training-task steps with the history before and after them; advance the history."""
        action = self.td3.action_scale.from_env(step.action.to(self.device))
        new_tuple = torch.cat([action, step.reward[:, None].to(self.device), step.obs.to(self.device)], dim=1)
        next_history = torch.cat([self._history[:, self.tuple_dim:], new_tuple], dim=1)
        if self.config.task_input == "state":
            next_history = torch.zeros_like(next_history)
        rows = {"obs": step.obs, "action": action, "reward": step.reward, "next_obs": step.next_obs,
                "done": step.terminated.float(), "history": self._history, "next_history": next_history}
        if self._goal is not None:
            rows["goal"] = self._goal
        if self._recording is not None:
            self._recording.add_batch(**{k: v[step.mask] for k, v in rows.items()})
        elif self.explore and self._tasks.split == "train":
            for i in torch.nonzero(step.mask).flatten().tolist():
                self.buffer.add_batch(int(self._tasks.ids[i]), **{k: v[i : i + 1] for k, v in rows.items()})
        self._history = torch.where(step.mask[:, None].to(self.device), next_history, self._history)

    def end_episode(self) -> None:
        """Nothing: the next episode starts a fresh history."""

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` multi-task TD3 steps on meta-batches of training tasks; returns the last losses."""
        check_int("num_updates", num_updates, 0)
        filled = [t for t in range(self.num_train_tasks) if self.buffer.size(t) > 0]
        losses: dict[str, Tensor] = {}
        if not filled:
            return losses
        per_task = self.config.batch_size // self.config.tasks_per_batch
        for _ in range(num_updates):
            pick = torch.randint(len(filled), (self.config.tasks_per_batch,), generator=self.generator)
            batch = self.buffer.sample(per_task, [filled[i] for i in pick.tolist()], self.generator)
            losses = self.update({k: v.flatten(0, 1) for k, v in batch.items()})
        return losses

    # --- one update ----------------------------------------------------------------------------
    def update(self, batch: dict[str, Tensor], weights: Tensor | None = None, prox_weight: float = 0.0,
               anchor: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """One context-TD3 step: critic (+ its GRU), and every ``policy_delay`` steps the actor (+ its GRU)
        through the updated critic, then every target. Uses :meth:`TD3.critic_loss`/:meth:`TD3.actor_loss`.
        With ``task_input = "goal"`` every task variable is the row's goal instead of a GRU's context.

        Args:
            batch: rows with obs, action, reward, next_obs, done, history, next_history (and goal), each (B, ...).
            weights: (B,) propensity weights beta (adaptation), None = 1.
            prox_weight, anchor: add prox_weight * ||theta - anchor||^2 over each optimizer's parameters
                (adaptation's proximal term; ``anchor`` maps ``id(parameter)`` to its meta-trained value).
        Returns:
            Detached 0-d losses.

        Taught in notebooks/08_mql.py (section "The agent").
        """
        td3, goal = self.td3, batch.get("goal")
        critic_cond = self.task_variable(self.critic_context, batch["history"], goal)
        with torch.no_grad():
            next_cond = self.task_variable(self.critic_context_target, batch["next_history"], goal)
            next_actor_cond = self.task_variable(self.actor_context_target, batch["next_history"], goal)
        critic_loss = td3.critic_loss(batch, critic_cond, next_cond, next_actor_cond=next_actor_cond, weights=weights)
        total = critic_loss + self._proximal(self._critic_params(), prox_weight, anchor)
        self.critic_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.critic_optimizer.step()
        self.num_updates += 1
        out = {"critic_loss": critic_loss.detach()}
        if self.num_updates % self.config.policy_delay == 0:
            with torch.no_grad():
                critic_cond = self.task_variable(self.critic_context, batch["history"], goal)
            actor_cond = self.task_variable(self.actor_context, batch["history"], goal)
            actor_loss = td3.actor_loss(batch, critic_cond, actor_cond=actor_cond, weights=weights)
            total = actor_loss + self._proximal(self._actor_params(), prox_weight, anchor)
            self.actor_optimizer.zero_grad(set_to_none=True)
            total.backward()
            self.actor_optimizer.step()
            for target, source in [(td3.critic_target, td3.critic), (td3.actor_target, td3.actor),
                                   (self.critic_context_target, self.critic_context),
                                   (self.actor_context_target, self.actor_context)]:
                polyak_update_(target, source, self.config.tau)
            out["actor_loss"] = actor_loss.detach()
        return out

    def task_variable(self, encoder: HistoryEncoder, history: Tensor, goal: Tensor | None) -> Tensor:
        """What TD3 is conditioned on: ``encoder(history)`` (B, gru_hidden), or with ``task_input = "goal"``
        the true goal (B, goal_dim) unchanged (the history is then ignored)."""
        if self.config.task_input == "goal":
            if goal is None:
                raise ValueError("task_input is 'goal' but no goal was given: call begin_episode with tasks that carry a goal")
            return goal
        return encoder(history)

    # --- adaptation ------------------------------------------------------------------------------
    def context_features(self, history: Tensor) -> Tensor:
        """(B, h * tuple_dim) -> (B, gru_hidden) actor-GRU contexts, the classifier's features (no gradient)."""
        if self.config.task_input == "goal":
            raise ValueError("task_input is 'goal': the agent reads the true goal and has no context to classify or "
                             "probe (the goal bound is not adapted)")
        with torch.no_grad():
            return self.actor_context(history)

    def record_snapshot(self, envs: Any, task: Any, num_episodes: int | None = None, seed: int = 0) -> ReplayBuffer:
        """Explore ``task`` for ``snapshot_episodes`` episodes with the meta-trained agent; rows in a new buffer.

        Taught in notebooks/08_mql.py (section "Adaptation").
        """
        from peach_lite.runner import run_episodes

        num_episodes = self.config.snapshot_episodes if num_episodes is None else num_episodes
        check_int("num_episodes", num_episodes, 1)
        snapshot = ReplayBuffer(num_episodes * 1000, self.fields, device=self.device)
        self._recording = snapshot
        try:
            for e in range(num_episodes):
                run_episodes(self, envs, TaskBatch.single(task, "other"), explore=True, seed=seed + e)
        finally:
            self._recording = None
        return snapshot

    def propensity(self, snapshot: ReplayBuffer, num_replay: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Fit the classifier new-task (label -1) vs meta-training replay (label +1) on context features.

        Returns:
            (w, b, replay_beta): classifier weights (gru_hidden,), bias (), and the propensity weights of a
            replay sample of ``num_replay`` rows (default: as many as the snapshot holds).

        Taught in notebooks/08_mql.py (section "Propensity scores").
        """
        test = snapshot.all()
        n = len(snapshot) if num_replay is None else num_replay
        replay = self._replay_sample(n)
        x = torch.cat([self.context_features(test["history"]), self.context_features(replay["history"])])
        y = torch.cat([-torch.ones(len(snapshot)), torch.ones(n)])
        w, b = fit_logistic(x, y, self.config.classifier_c)
        beta = propensity_weights(self.context_features(replay["history"]) @ w + b, self.config.beta_clip, self.config.beta_min)
        return w, b, beta

    def adapt(self, envs: Any, task: Any, *, num_eval_episodes: int = 5, seed: int = 0,
              snapshot: ReplayBuffer | None = None, keep: bool = False) -> AdaptResult:
        """MQL adaptation on one new task (the reference's ``adapt``), evaluated, then rolled back.

        1. Evaluate the meta-trained agent (greedy). 2. Record a snapshot of the task (or use ``snapshot``).
        3. Fit the propensity classifier; ESS of the replay's weights; lambda = 1 - ESS or fixed.
        4. Fresh Adams (``adapt_lr``); ``snapshot_iters`` TD3 steps on the snapshot; ``replay_iters``
           beta-weighted steps on ``sample_mult * batch_size`` replay rows with the proximal term.
        5. Evaluate again; :meth:`rollback` unless ``keep``.

        Taught in notebooks/08_mql.py (section "Adaptation").
        """
        from peach_lite.loop import evaluate

        cfg = self.config
        tasks = TaskBatch.single(task, "other")
        before = float(evaluate(self, envs, tasks, num_episodes=num_eval_episodes, seed=seed).returns.mean())
        saved = self.snapshot_state()
        snapshot = snapshot if snapshot is not None else self.record_snapshot(envs, task, seed=seed + 1000)
        w, b, beta = self.propensity(snapshot)
        ess = effective_sample_size(beta) if cfg.use_propensity else 1.0
        prox_weight = (1.0 - ess) if cfg.prox == "ess" else cfg.prox_coef
        anchor = {id(p): p.detach().clone() for p in self._critic_params() + self._actor_params()}
        self.critic_optimizer, self.actor_optimizer = self._make_optimizers(cfg.adapt_lr)
        for _ in range(cfg.snapshot_iters):
            self.update(snapshot.sample(cfg.batch_size, self.generator))
        for _ in range(cfg.replay_iters):
            batch = self._replay_sample(cfg.sample_mult * cfg.batch_size)
            weights = None
            if cfg.use_propensity:
                weights = propensity_weights(self.context_features(batch["history"]) @ w + b, cfg.beta_clip, cfg.beta_min)
            self.update(batch, weights, prox_weight, anchor)
        after = float(evaluate(self, envs, tasks, num_episodes=num_eval_episodes, seed=seed).returns.mean())
        if not keep:
            self.rollback(saved)
        return AdaptResult(before, after, float(ess), float(prox_weight), float(beta.mean()))

    def snapshot_state(self) -> dict[str, Any]:
        """Every parameter, optimizer state and counter, copied: what :meth:`rollback` restores."""
        return copy.deepcopy({"modules": {name: m.state_dict() for name, m in self._modules().items()},
                              "critic_optimizer": self.critic_optimizer, "actor_optimizer": self.actor_optimizer,
                              "num_updates": self.num_updates, "generator": self.generator.get_state()})

    def rollback(self, saved: dict[str, Any]) -> None:
        """Restore exactly the state :meth:`snapshot_state` copied (after adaptation).

        Taught in notebooks/08_mql.py (section "Adaptation").
        """
        for name, module in self._modules().items():
            module.load_state_dict(saved["modules"][name])
        self.critic_optimizer, self.actor_optimizer = self._make_optimizers(self.config.lr)
        self.critic_optimizer.load_state_dict(saved["critic_optimizer"].state_dict())
        self.actor_optimizer.load_state_dict(saved["actor_optimizer"].state_dict())
        self.num_updates = saved["num_updates"]
        self.generator.set_state(saved["generator"])

    # --- checkpoints ---------------------------------------------------------------------------
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the agent."""
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()}
        return {"env_id": self.env_id, "obs_dim": self.obs_dim, "action_dim": self.action_dim, "goal_dim": self.goal_dim,
                "num_train_tasks": self.num_train_tasks, "action_low": self.td3.action_scale.low.tolist(),
                "action_high": self.td3.action_scale.high.tolist(), "config": config}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """Every network (no replay)."""
        return {name: module.state_dict() for name, module in self._modules().items()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "MQL":
        """Rebuild from ``arch`` and load the networks (checkpoints written before ``task_input`` carry
        ``use_context``: True means "context", False "state")."""
        arch = payload["arch"]
        config = dict(arch["config"])
        if "use_context" in config:
            config["task_input"] = "context" if config.pop("use_context") else "state"
        agent = cls(arch["obs_dim"], arch["action_dim"], arch["num_train_tasks"], MQLConfig(**config),
                    action_low=arch["action_low"], action_high=arch["action_high"], device=device or "cpu",
                    goal_dim=arch.get("goal_dim", 0))
        agent.env_id = arch["env_id"]
        for name, module in agent._modules().items():
            module.load_state_dict(payload["state"][name])
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Normalised score (blind 0, oracle 1) of greedy episodes on the env's 20 test tasks, fixed seeds."""
        from peach_lite.envs import make

        envs = _lockstep(self.env_id, 20)
        tasks = make(self.env_id).unwrapped.test_tasks()
        return normalised_score(self, envs, tasks, self._train_goals_centroid(), seed=EVAL_SEED)

    # --- helpers ---------------------------------------------------------------------------------
    def _train_goals_centroid(self) -> np.ndarray:
        from peach_lite.envs import make

        return np.mean([t.goal for t in make(self.env_id).unwrapped.train_tasks()], axis=0)

    def _replay_sample(self, n: int) -> dict[str, Tensor]:
        filled = [t for t in range(self.num_train_tasks) if self.buffer.size(t) > 0]
        if not filled:
            raise ValueError("the meta-training replay is empty: meta-train before adapting")
        tasks = torch.randint(len(filled), (n,), generator=self.generator)
        counts = torch.bincount(tasks, minlength=len(filled))
        parts = [self.buffer.sample(int(c), [filled[i]], self.generator) for i, c in enumerate(counts.tolist()) if c]
        return {k: torch.cat([p[k][0] for p in parts]) for k in self.fields}

    def _modules(self) -> dict[str, nn.Module]:
        td3 = self.td3
        return {"actor": td3.actor, "actor_target": td3.actor_target, "critic": td3.critic, "critic_target": td3.critic_target,
                "actor_context": self.actor_context, "actor_context_target": self.actor_context_target,
                "critic_context": self.critic_context, "critic_context_target": self.critic_context_target}

    def _critic_params(self) -> list[nn.Parameter]:
        return [*self.td3.critic.parameters(), *self.critic_context.parameters()]

    def _actor_params(self) -> list[nn.Parameter]:
        return [*self.td3.actor.parameters(), *self.actor_context.parameters()]

    def _proximal(self, params: list[nn.Parameter], weight: float, anchor: dict[int, Tensor] | None) -> Tensor | float:
        if not weight or anchor is None:
            return 0.0
        return weight * sum((p - anchor[id(p)]).pow(2).sum() for p in params)

    def _make_optimizers(self, lr: float) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        return (torch.optim.Adam(self._critic_params(), lr=lr), torch.optim.Adam(self._actor_params(), lr=lr))


EVAL_SEED = 12_345
"""Seed of the first fixed evaluation episode (episode j, env i: EVAL_SEED + j * n + i)."""


def normalised_score(agent: Any, envs: Any, tasks: list[Any], blind_target: np.ndarray, *, seed: int = EVAL_SEED,
                     num_episodes: int = 5) -> float:
    """(return - blind) / (oracle - blind) of greedy episodes on ``tasks`` (dense point robot): 0 = an agent
    that heads for ``blind_target`` ignoring the task, 1 = the task-known oracle, on the same starts.

    Taught in notebooks/08_mql.py (section "Scores between blind and oracle").
    """
    from peach_lite.loop import evaluate
    from peach_lite.runner import PolicyAgent

    from peach_lite.envs.oracles import point_robot_oracle_action

    goals = np.array([t.goal for t in tasks])
    blind = np.broadcast_to(np.asarray(blind_target, np.float64), goals.shape)
    batch = TaskBatch.from_list(tasks, split="other")
    scores = {}
    for name, player in [("agent", agent), ("oracle", PolicyAgent(lambda obs: point_robot_oracle_action(obs, goals), batched=True)),
                         ("blind", PolicyAgent(lambda obs: point_robot_oracle_action(obs, blind), batched=True))]:
        scores[name] = evaluate(player, envs, batch, num_episodes=num_episodes, seed=seed).returns.mean()
    return float((scores["agent"] - scores["blind"]) / (scores["oracle"] - scores["blind"]))


def context_probe(agent: MQL, envs: Any, tasks: list[Any], *, min_steps: tuple[int, ...] = (0, 3, 10), seed: int = EVAL_SEED) -> dict[str, float]:
    """Does the history context carry the task? A least-squares linear probe from the actor's GRU context to
    the goal, fit on one greedy episode per task, reported as R^2 over the steps t >= each of ``min_steps``.

    High R^2 with a poor return means inference works and the policy does not exploit it yet (RL is the
    bottleneck); low R^2 means the context has not learned to identify the task (inference is).

    Returns:
        ``{"r2_t>=k": value, ..., "final_distance": mean distance to the goal at the episode's end}``.

    Taught in notebooks/08_mql.py (section "Does the context carry the task?").
    """
    from peach_lite.runner import run_episodes

    goals = np.array([t.goal for t in tasks])
    result = run_episodes(agent, envs, TaskBatch.from_list(tasks, split="other"), explore=False, record=True, seed=seed)
    history = torch.zeros(len(tasks), agent.config.history_length * agent.tuple_dim, device=agent.device)
    features, steps = [], []
    for t, step in enumerate(result.steps):
        features.append(agent.context_features(history).cpu().numpy())
        steps.append(np.full(len(tasks), t))
        new = torch.cat([agent.td3.action_scale.from_env(step.action), step.reward[:, None], step.obs], 1).to(agent.device)
        history = torch.cat([history[:, agent.tuple_dim:], new], 1)
    x, t_index = np.concatenate(features), np.concatenate(steps)
    y = np.tile(goals, (len(result.steps), 1))
    out = {}
    for k in min_steps:
        keep = t_index >= k
        design = np.c_[x[keep], np.ones(keep.sum())]
        weights, *_ = np.linalg.lstsq(design, y[keep], rcond=None)
        residual = ((design @ weights - y[keep]) ** 2).sum()
        out[f"r2_t>={k}"] = float(1 - residual / ((y[keep] - y[keep].mean(0)) ** 2).sum())
    out["final_distance"] = float(np.linalg.norm(result.positions()[:, -1] - goals, axis=1).mean())
    return out


def task_goals(tasks: TaskBatch, goal_dim: int) -> Tensor:
    """(n, goal_dim) float32 goals of the tasks in ``tasks`` (each must carry ``goal``): what the oracle-goal bound reads.

    Taught in notebooks/08_mql.py (section "Measured: context TD3, state-only TD3, the goal bound and MQL adaptation")."""
    goals = []
    for task in tasks.values:
        if getattr(task, "goal", None) is None:
            raise ValueError(f"task_input is 'goal' but the task {task!r} carries no goal")
        goals.append(torch.as_tensor(task.goal, dtype=torch.float32).reshape(-1))
    goals = torch.stack(goals)
    if goals.shape[1] != goal_dim:
        raise ValueError(f"goal_dim is {goal_dim} but the tasks' goals have {goals.shape[1]} entries")
    return goals


def _lockstep(env_id: str, n: int):
    from peach_lite.runner import GymTaskEnvs

    return GymTaskEnvs(env_id, n)


# ---------------------------------------------------------------------------------------------
# Training for the command line and the benchmark


def train_mql(*, seed: int, progress: bool = True, env_id: str = "peach_lite/PointRobotDense-v0", total_steps: int = 40_000,
              envs_in_lockstep: int = 8, updates_per_step: float = 1.0, warmup_steps: int | None = None,
              history_length: int = 10, hidden: tuple[int, ...] = (128, 128), task_input: str = "context",
              lr: float = 3e-4, evaluator: Callable[[MQL], tuple[float, float]] | None = None,
              eval_metric: str = "normalised score") -> tuple[MQL, dict[str, Any]]:
    """Meta-train MQL (multi-task context TD3) with the shared loop; returns the agent and its History.

    ``task_input="state"`` trains the same TD3 on the state alone (the history stays zeros, so the
    context carries nothing): the baseline that cannot know the goal. ``task_input="goal"`` gives it each
    task's true goal instead of the context: the oracle-goal bound (see :class:`MQLConfig`). Warm-up
    collects with the initial policy and its exploration noise (the reference's burn-in uses uniform random
    actions); its default is min(2000, total_steps / 5) steps. ``evaluator`` (agent -> (value, spread), named
    ``eval_metric``) replaces the default one, :func:`normalised_score` on the test tasks, which needs tasks with a
    ``goal`` (e.g. HalfCheetahVel's tasks have a velocity: ``benchmarks/mql_cheetah.py`` passes a test-return evaluator).

    Taught in notebooks/08_mql.py (section "Meta-training").
    """
    from peach_lite.envs import make
    from peach_lite.loop import TrainConfig, train
    from peach_lite.runner import Runner

    env = make(env_id)
    train_tasks = env.unwrapped.train_tasks()
    config = MQLConfig(hidden=tuple(hidden), history_length=history_length, task_input=task_input, lr=lr, seed=seed)
    agent = MQL(env.observation_space.shape[0], env.action_space.shape[0], len(train_tasks), config,
                action_low=env.action_space.low, action_high=env.action_space.high,
                goal_dim=len(train_tasks[0].goal) if task_input == "goal" else 0)
    agent.env_id = env_id
    episode_steps = env.spec.max_episode_steps * envs_in_lockstep
    warmup_steps = min(2_000, total_steps // 5) if warmup_steps is None else warmup_steps
    runner = Runner(_lockstep(env_id, envs_in_lockstep), train_tasks, seed=seed)
    loop = TrainConfig(total_steps=total_steps, episodes_per_round=1, updates_per_round=int(episode_steps * updates_per_step),
                       warmup_steps=warmup_steps, eval_every=max(1, total_steps // episode_steps // 10), eval_episodes=1,
                       seed=seed, progress=progress)
    if evaluator is None:
        if not hasattr(train_tasks[0], "goal"):
            raise ValueError(f"evaluator is needed for {env_id!r}: its tasks have no goal for the normalised score")
        centroid = np.mean([t.goal for t in train_tasks], axis=0)
        test_envs = _lockstep(env_id, 20)
        evaluator = lambda a: (normalised_score(a, test_envs, env.unwrapped.test_tasks(), centroid, num_episodes=1), 0.0)  # noqa: E731
    history = train(agent, runner, loop, evaluator=evaluator, eval_metric=eval_metric)
    return agent, {"steps": total_steps, "history": history.to_dict()}


CLI = TrainSpec(train=train_mql, presets={"point-robot": {"total_steps": 40_000, "lr": 1e-3}}, score_name="normalised_score",
                tolerance=0.05)
"""``python -m peach_lite train mql --preset point-robot``: 40k steps at lr 1e-3 (MQLConfig's reference default is
3e-4; 1e-3 scored 0.33 against 0.19 after 40k steps on seed 0, see ``ROUTE`` in benchmarks/mql.py)."""
