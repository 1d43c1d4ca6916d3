"""PEACH (McClinton, Levy & Konidaris): a PEARL context variable z that drives the top level of a HAC hierarchy.

A posterior q_φ(z | c) over the task, as in PEARL (``peach_lite.posterior``), feeds the **top level** of a
Hierarchical Actor-Critic (``peach_lite.hac``). The top level proposes subgoals for the task it infers; the
lower levels are goal-conditioned, task-agnostic, trained off-policy with hindsight, and never see z.

This module holds the composition and PEACH's own losses only:

* the hierarchy is a :class:`~peach_lite.hac.HAC` with ``top_cond_dim = latent_dim`` and a hidden end goal
  (``top_goal_hidden``: the top level's goal test is the env's success signal); it hands every top-level
  attempt to :meth:`PEACH.record_attempt`, which builds the top level's per-task replay and the context;
* the posterior is PEARL's :class:`~peach_lite.posterior.ContextPosterior` with its KL (``pearl_kl_loss``; the
  ``posterior_form="categorical"`` option, not in PEARL, swaps in categorical factors and the KL to a uniform prior);
* :meth:`PEACH.collect_round` is Algorithm 1's collection, :meth:`PEACH.update` its gradient step
  (:func:`peach_losses`), and :func:`~peach_lite.posterior.meta_test` (Algorithm 2) works unchanged, since
  PEACH is a ``PosteriorAgent``.

Training: :func:`train_peach` (the shared ``loop.train``), ``python -m peach_lite train peach --preset maze``.

Taught in notebooks/11_peach.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.buffers import MultiTaskReplayBuffer
from peach_lite.cli import TrainSpec
from peach_lite.device import torch_threads
from peach_lite.exploration import CellCounts, FirstReturnThenExplore
from peach_lite.goal_levels import GoalLevel, reset_if_saturated
from peach_lite.hac import HAC
from peach_lite.hac_config import HacSpec, maze_config
from peach_lite.her import Transitions, hindsight_goal
from peach_lite.nets import DistanceDecoder, mlp
from peach_lite.loop import Episodes, GymTaskEnvs, History, Obs, Runner, Step, TaskBatch, TrainConfig, train
from peach_lite.runner import distinct_waves
from peach_lite.peach_config import COLLECTION_ROUTE, ELIMINATING_ROUTE, HIDDEN_MAZE_ID, HTR_ROUTE, RETURN_EXPLORE_ROUTE, TASK_INFERENCE, PeachConfig
from peach_lite.pearl import pearl_kl_loss
from peach_lite.peach_context import eliminating_loss, probe_attempt_row, top_context_row
from peach_lite.posterior import Belief, ContextEncoder, ContextPosterior, MetaTestResult, PosteriorSchedule, meta_test, unpaid_only
from peach_lite.validation import check_int

__all__ = ["PeachConfig", "PEACH", "peach_losses", "top_context_row", "probe_attempt_row", "oracle_code", "meta_test_success",
           "train_peach", "CLI", "TASK_INFERENCE", "HIDDEN_MAZE_ID", "EVAL_SEED"]

EVAL_SEED = 20_000
"""Meta-tests during training and of checkpoints use this seed (training uses the config's seed)."""
ORACLE_SCALE = 4.0
"""The oracle's task code is the goal (x, y) divided by this (the maze's half-width)."""


def oracle_code(task: Any) -> np.ndarray:
    """The oracle baseline's task variable: the true goal (x, y) / 4, (2,) float32.

    Taught in notebooks/11_peach.py (section "Against its parents (the benchmark)").
    """
    return (np.asarray(task.goal, np.float32) / ORACLE_SCALE).astype(np.float32)


def peach_losses(top: GoalLevel, posterior: ContextPosterior, batch: dict[str, Tensor], context: Tensor, *, kl_lambda: float,
                 generator: torch.Generator | None = None, z: Tensor | None = None, reward_decoder: nn.Module | None = None,
                 decoder_rows: dict[str, Tensor] | None = None, prior_slots: Tensor | None = None,
                 detach_decoder_z: bool = False) -> dict[str, Tensor]:
    """Algorithm 1's losses for one meta-batch, with PEARL's routing of z.

    Args:
        top: the top :class:`~peach_lite.goal_levels.GoalLevel` (cond_dim = latent_dim).
        posterior: q_φ(z | c).
        batch: top-level rows, fields (T, B, ...) (:data:`~peach_lite.goal_levels.LEVEL_FIELDS`).
        context: (T, C, context_dim) context rows of the same T tasks.
        kl_lambda: β.
        z: (T, cond_dim) a fixed task variable instead of a posterior sample (baselines: no KL, no φ).
        reward_decoder: optional (z, next_achieved) -> logit that the attempt was paid (``reward_decoder_weight``).
        decoder_rows: the attempts it decodes, ``next_achieved`` (T, N, goal_dim) and ``reward`` (T, N) (default: ``batch``'s).
        prior_slots: (T,) bool, slots whose z comes from the prior (an empty context; ``prior_slot_prob``).
        detach_decoder_z: the decoder reads z detached, so its loss reaches the decoder only (``reward_decoder_detach``).
    Returns:
        ``critic_loss`` (its gradient reaches the top critic and, through z, φ), ``kl`` (reaches φ),
        ``actor_loss`` (z detached: reaches the top actor only), ``q`` (T, B), and ``decoder_loss`` (reaches the
        decoder, and φ unless ``detach_decoder_z``; zero without a decoder): the cross-entropy of "paid" over the batch's attempts (penalties left out).

    Taught in notebooks/11_peach.py (section "Algorithm 1, line by line").
    """
    num_tasks, batch_size = batch["reward"].shape
    if z is None:
        belief = posterior.infer(context)  # Alg. 1: z ~ q_φ(z | c^i), reparameterised
        if prior_slots is not None:  # not in Alg. 1: these slots read the prior (no gradient reaches φ through them)
            belief = posterior.prior_where(belief, prior_slots)
        z = posterior.sample(belief, generator)
        if posterior.categorical:  # not in PEARL: KL(q || uniform over the clusters)
            kl = kl_lambda * posterior.kl(belief).sum()
        else:
            kl = pearl_kl_loss(belief.mean, belief.var, kl_lambda) if posterior.probabilistic else z.new_zeros(())
    else:
        kl = z.new_zeros(())
    cond = z.unsqueeze(1).expand(num_tasks, batch_size, z.shape[-1])
    critic_loss, q = top.critic_loss(batch, cond)  # Alg. 1: top critic loss; z NOT detached, so it trains φ
    actor_loss = top.actor_loss(batch, cond.detach())  # Alg. 1: top actor loss; z detached
    decoder_loss = z.new_zeros(())
    if reward_decoder is not None:  # not in Algorithm 1: p(paid | z, s'), the encoder's second teacher
        rows = batch if decoder_rows is None else decoder_rows
        achieved = rows["next_achieved"]
        read = z.detach() if detach_decoder_z else z
        logits = reward_decoder(torch.cat([read.unsqueeze(1).expand(*achieved.shape[:2], z.shape[-1]), achieved], dim=-1)).squeeze(-1)
        attempts = rows["reward"] >= -1.0  # subgoal-test penalties (-H) describe the lower level
        paid = (rows["reward"] == 0.0).float()
        decoder_loss = nn.functional.binary_cross_entropy_with_logits(logits[attempts], paid[attempts])
    return {"critic_loss": critic_loss, "kl": kl, "actor_loss": actor_loss, "q": q, "decoder_loss": decoder_loss}


class PEACH(nn.Module):
    """PEACH as a ``loop.Agent`` and a ``posterior.PosteriorAgent``: a HAC hierarchy whose top level reads z.

    Args:
        spec: the hierarchy's :class:`~peach_lite.hac_config.HacSpec` (``HacSpec.from_env``).
        num_train_tasks: train tasks (the ids of the top level's replay and context buffers).
        config: :class:`PeachConfig`.

    Attributes: ``hierarchy`` (the :class:`HAC`; its top level is ``top``), ``posterior``, ``rl_buffer``
    (top-level rows per train task: hindsight actions and penalties), ``context_buffer`` (the context rows of
    the task's latest collection), ``collection_buffer`` (the top-level rows, penalties included, of the task's
    latest collection: where ``hindsight_rows="collection"`` draws a hindsight slot's RL rows), ``belief``
    ((n, latent_dim) per env), ``schedule`` (meta-test: 1 prior episode, then posterior), ``generator``.

    Taught in notebooks/11_peach.py (section "The agent").
    """

    algorithm: ClassVar[str] = "peach"
    """Its key in ``peach_lite.checkpoints.ALGORITHMS``."""

    def __init__(self, spec: HacSpec, num_train_tasks: int, config: PeachConfig | None = None):
        super().__init__()
        config = config or PeachConfig()
        check_int("num_train_tasks", num_train_tasks, 1)
        self.spec, self.config, self.num_train_tasks = spec, config, int(num_train_tasks)
        self.cond_dim = 2 if config.task_inference == "oracle" else config.latent_dim
        hac_config = maze_config(config.num_levels, subgoal_horizon=config.subgoal_horizon, top_goal_hidden=True,
                                 top_cond_dim=self.cond_dim, batch_size=config.lower_batch_size, buffer_size=config.buffer_size,
                                 gamma=config.gamma, subgoal_test_rate=config.subgoal_test_rate, max_actions=spec.max_actions,
                                 random_action_rate=config.random_action_rate, top_random_action_rate=config.top_random_action_rate,
                                 action_l2=config.action_l2, pre_tanh_l2=config.pre_tanh_l2, top_learner=config.top_learner,
                                 top_target_entropy=config.top_target_entropy, updates_per_episode=config.lower_updates_per_episode, seed=config.seed)
        self.hierarchy = HAC(spec, hac_config)
        self.hierarchy.top_attempt_hook = self.record_attempt
        self.hierarchy.random_top, self.hierarchy.sample_top = config.random_subgoals, config.top_samples_in_meta_test
        if config.frontier_radius > 0:  # exploring random subgoals go to the edge of where training attempts ended
            self.hierarchy.top_explore_subgoal = lambda obs: self.attempt_counts.frontier_goal(obs, config.frontier_radius, self.hierarchy.rng)
        self.top: GoalLevel = self.hierarchy.levels[-1]
        self.context_dim = 2 * spec.obs_dim + spec.goal_dim + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 1)
            encoder = ContextEncoder(self.context_dim, config.latent_dim, config.encoder_hidden, probabilistic=not config.deterministic_z,
                                     categorical=config.posterior_form == "categorical")
            self.reward_decoder = (DistanceDecoder(config.latent_dim, spec.goal_dim) if config.reward_decoder_form == "distance"
                                   else mlp(config.latent_dim + spec.goal_dim, 1, config.encoder_hidden[:2]))
        self.posterior = ContextPosterior(encoder)
        self.encoder_optimizer = torch.optim.Adam([*self.posterior.parameters(), *self.reward_decoder.parameters()], lr=config.encoder_lr)
        fields = {"obs": (spec.obs_dim,), "action": (spec.goal_dim,), "reward": (), "next_obs": (spec.obs_dim,), "goal": (spec.goal_dim,),
                  "done": (), "next_achieved": (spec.goal_dim,), "context_reward": ()}
        self.rl_buffer = MultiTaskReplayBuffer(self.num_train_tasks, config.buffer_size, fields)
        self.context_buffer = MultiTaskReplayBuffer(self.num_train_tasks, config.buffer_size, fields)
        self.collection_buffer = MultiTaskReplayBuffer(self.num_train_tasks, config.buffer_size, fields)
        self.schedule = PosteriorSchedule(num_exploration=1, num_trajectories=config.meta_test_episodes)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.belief: Belief | None = None
        self.train_goals: np.ndarray | None = None
        """(num_train_tasks, goal_dim) the train tasks' goals (from the runner's tasks, set at each collection)."""
        self.reward_fn: Any = None
        self.top_updates = 0
        """Top-level gradient steps taken (the hindsight-goal curriculum's clock)."""
        self.train_success: list[float] = []
        """Success rate of each round's collection episodes (exploring, z from prior then posterior)."""
        self.bottom_resets = 0  # times the bottom actor was re-initialised (``PeachConfig.reset_saturated_bottom``)
        subgoal_grid = (self.hierarchy.action_lows[-1], self.hierarchy.action_highs[-1], config.novelty_cells)
        self.attempt_counts = CellCounts(*subgoal_grid)
        """Where the training collections' top-level attempts ended, counted per cell of the subgoal box (``novelty_bonus``)."""
        self.explorer = FirstReturnThenExplore(self.attempt_counts, config.return_explore_rate, self.hierarchy.rng)
        self.hierarchy.top_plan = lambda e, obs: self.explorer.subgoal(e, obs[: spec.goal_dim])  # None unless returning
        self.subgoal_counts = CellCounts(*subgoal_grid)
        """Where those attempts' stored subgoals were (HAC's hindsight actions: a missed proposal counts where its attempt ended)."""
        self.proposal_log: list[np.ndarray] = []
        """Per collection episode and env, (attempts, 5): each top attempt's start (x, y), the top level's proposal (x, y)
        and missed (1.0: the level below did not reach it, cut short by the episode's end too; ``proposal_grid``)."""
        self._tasks: TaskBatch | None = None
        self._attempts: list[list[tuple[Transitions, Transitions | None, float]]] = []
        self._proposals: list[list[np.ndarray]] = []  # the subgoal each attempt proposed (the (a) row may be relabelled)
        self._context: list[list[np.ndarray]] = []
        self._explore, self._dense = False, np.zeros(0, np.float32)

    @classmethod
    def from_env(cls, envs: Any, num_train_tasks: int, config: PeachConfig | None = None) -> "PEACH":
        """``PEACH(HacSpec.from_env(envs, ...), num_train_tasks, config)`` (the env's time limit is max_actions).

        Taught in notebooks/11_peach.py (section "The agent")."""
        config = config or PeachConfig()
        return cls(HacSpec.from_env(envs, maze_config(config.num_levels, subgoal_horizon=config.subgoal_horizon)), num_train_tasks, config)

    # ------------------------------------------------------------------------- the Agent protocol
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Draw one z per env from :attr:`belief` (the prior if it has another size) and hold it for the episode.

        Taught in notebooks/11_peach.py (section "Algorithm 1, line by line")."""
        if self.belief is None or len(self.belief) != len(tasks):
            self.reset_belief(len(tasks))
        self.hierarchy.begin_episode(tasks, explore=explore)
        self.hierarchy.top_cond = self.task_variable(tasks).numpy()
        self.explorer.begin(len(tasks), active=explore and tasks.split == "train")
        self._tasks, self._explore = tasks, bool(explore)
        self._attempts, self._proposals = [[] for _ in range(len(tasks))], [[] for _ in range(len(tasks))]
        self._dense = np.zeros(len(tasks), np.float32)

    def task_variable(self, tasks: TaskBatch) -> Tensor:
        """(n, cond_dim) what the top level reads this episode: z ~ belief (PEACH), zeros (no z) or the oracle code."""
        if self.config.task_inference == "oracle":
            return torch.as_tensor(np.stack([oracle_code(task) for task in tasks.values]))
        if self.config.task_inference == "none":
            return torch.zeros(len(tasks), self.cond_dim)
        with torch.no_grad():
            return self.posterior.sample(self.belief, self.generator).float()  # fresh z every episode, held for it

    def act(self, obs: Obs) -> Tensor:
        """(n, ...) observations -> (n, action_dim) env actions (HAC's descent; the top level reads z)."""
        return self.hierarchy.act(obs)

    def observe(self, step: Step) -> None:
        """Hand the step to the hierarchy (which calls :meth:`record_attempt` when a top attempt ends)."""
        self._dense = step.dense_reward.numpy().astype(np.float32)
        self.hierarchy.observe(step)

    def record_attempt(self, env_index: int, transition: Transitions, penalty: Transitions | None, proposed: np.ndarray) -> None:
        """The hierarchy's hook: a top-level attempt of env ``env_index`` ended (its (a) row, its (c) penalty and the
        subgoal as proposed)."""
        self._attempts[env_index].append((transition, penalty, float(self._dense[env_index])))
        self._proposals[env_index].append(np.asarray(proposed, np.float32)[: self.spec.goal_dim])

    def end_episode(self) -> None:
        """Finish the hierarchy's episode; exploring on train tasks, store the top rows (Alg. 1: add to B^i).

        Every attempt goes to the task's RL buffer (with its penalty row, if any); the context buffer gets the
        same attempts without penalties (unless ``penalties_in_context``)."""
        self.hierarchy.end_episode()
        if not (self._explore and self._tasks is not None and self._tasks.split == "train"):
            return
        for e, task in enumerate(self._tasks.ids.tolist()):
            rows, context_rows = [], []
            for transition, penalty, dense in self._attempts[e]:
                rows.append((transition, dense))
                context_rows.append((transition, dense))
                if penalty is not None:
                    rows.append((penalty, dense))
                    if self.config.penalties_in_context:
                        context_rows.append((penalty, dense))
            if self._attempts[e]:  # where the attempts started, aimed and ended (the exploration counts and moves)
                starts, subgoals, ends = (np.stack([getattr(t, key)[: self.spec.goal_dim] for t, _, _ in self._attempts[e]])
                                          for key in ("obs", "action", "next_obs"))
                proposals = np.stack(self._proposals[e])
                missed = np.any(proposals != subgoals, axis=1)  # (a) row relabelled: missed
                self.attempt_counts.add(ends)
                self.subgoal_counts.add(subgoals)
                self.proposal_log.append(np.column_stack([starts, proposals, missed]).astype(np.float32))
                self.explorer.add_moves(starts, ends)
            if rows:
                self.rl_buffer.add_batch(task, **self._columns(rows))
                self.collection_buffer.add_batch(task, **self._columns(rows))
                self.context_buffer.add_batch(task, **self._columns(context_rows))

    @property
    def attempts(self) -> list[list[tuple[Transitions, Transitions | None, float]]]:
        """The current episode's top-level attempts per env: (transition, penalty row or None, dense reward)."""
        return self._attempts

    def episode_over(self) -> np.ndarray:
        """(n,) bool: the top level has finished."""
        return self.hierarchy.episode_over()

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` calls of :meth:`update` (the top level and the encoder); returns the last one's losses."""
        check_int("num_updates", num_updates, 0)
        steps = [self.update() for _ in range(num_updates)]
        return steps[-1] if steps else {}

    @property
    def record(self) -> bool:
        """Keep an ``EpisodeTrace`` per env (the hierarchy's; for ``hac_pictures.render_episode`` and the lesson)."""
        return self.hierarchy.record

    @record.setter
    def record(self, value: bool) -> None:
        self.hierarchy.record = bool(value)

    @property
    def traces(self) -> list[Any]:
        """The hierarchy's ``EpisodeTrace`` of each env's last episode (when :attr:`record`)."""
        return self.hierarchy.traces

    @property
    def num_levels(self) -> int:
        """k."""
        return self.hierarchy.num_levels

    def goal_stack(self, env_index: int = 0) -> np.ndarray:
        """(k, goal_dim) the goal each level pursues now (row k-1: the hidden end goal's blank)."""
        return self.hierarchy.goal_stack(env_index)

    def first_subgoals(self, obs: Any, belief: Belief, num_samples: int = 32, seed: int = 0) -> np.ndarray:
        """Where the top level would send the agent first from ``obs`` under ``num_samples`` draws z ~ ``belief``
        (one row): (num_samples, goal_dim). A belief that has found the task puts them all in one place.

        Taught in notebooks/11_peach.py (section "Meta-testing")."""
        generator = torch.Generator().manual_seed(seed)
        one = Belief(belief.mean[:1].expand(num_samples, -1), belief.var[:1].expand(num_samples, -1))
        with torch.no_grad():
            z = self.posterior.sample(one, generator).float()
            state = torch.as_tensor(np.asarray(obs, np.float32)).expand(num_samples, -1)
            return self.top.actions(state, torch.zeros(num_samples, self.spec.goal_dim), z).numpy()

    # ------------------------------------------------------------------------- Algorithm 1
    def collect_round(self, runner: Runner, round_index: int) -> Episodes:
        """Algorithm 1's collection for ``num_tasks_sample`` train tasks (drawn with replacement, distinct ones in lockstep).

        Before the first round: ``num_initial_episodes`` prior episodes per train task. Then per drawn task:
        clear its context buffer ("recent" context); ``episodes_per_task`` episodes, the first with z from the
        prior (empty context), each later one with z ~ q(z | c^i) refreshed from the context buffer; after each
        episode the lower levels learn (``lower_updates_per_episode`` HAC steps).

        Taught in notebooks/11_peach.py (section "Algorithm 1, line by line").
        """
        cfg = self.config
        if runner.tasks is None or len(runner.tasks) != self.num_train_tasks:
            raise ValueError(f"runner.tasks must be the {self.num_train_tasks} train tasks, got {None if runner.tasks is None else len(runner.tasks)}")
        self.train_goals = np.stack([np.asarray(t.goal, np.float32) for t in runner.tasks])
        if self.reward_fn is None and hasattr(runner.envs, "envs"):
            self.reward_fn = runner.envs.envs[0].unwrapped.compute_reward
        parts = []
        if len(self.rl_buffer) == 0:
            for _ in range(cfg.num_initial_episodes):
                self.belief = self.posterior.prior(self.num_train_tasks)
                parts.append(runner.run_episodes(self, TaskBatch.from_list(runner.tasks), explore=True))
                self.hierarchy.learn(cfg.lower_updates_per_episode)
        drawn = torch.randint(0, self.num_train_tasks, (cfg.num_tasks_sample,), generator=self.generator).tolist()
        for wave in distinct_waves(drawn):
            for task in wave:
                self.context_buffer.clear(task)  # "recent" context: only this collection's attempts
                self.collection_buffer.clear(task)
            self.belief = self.posterior.prior(len(wave))  # Alg. 1: an empty context gives the prior
            for _ in range(cfg.episodes_per_task):
                # Alg. 1: run TRAIN-LEVEL with z at the top; add every transition to B^i
                parts.append(runner.run_episodes(self, TaskBatch.from_list(runner.tasks, wave), explore=True))
                self.hierarchy.learn(cfg.lower_updates_per_episode)  # Alg. 1: update the lower levels (HER)
                with torch.no_grad():  # Alg. 1: refresh c^i from B^i; the next z ~ q(z | c^i)
                    self.belief = self.posterior.infer(self.sample_context(wave))
        if round_index == 0 and cfg.reset_saturated_bottom > 0:  # not in Alg. 1: a saturated bottom actor never recovers
            self.bottom_resets += reset_if_saturated(self.hierarchy, 0, cfg.reset_saturated_bottom, seed=cfg.seed)
        collected = Episodes.concatenate(parts)
        self.train_success.append(float(collected.success.mean()))
        return collected

    def sample_context(self, tasks: Sequence[int], rows: int | None = None) -> Tensor:
        """Context for each listed train task from its context buffer (its latest collection):
        (len(tasks), rows, context_dim)."""
        return self.make_context(self.context_buffer.sample(rows or self.config.context_batch, list(tasks), self.generator))

    def sample_meta_batch(self, tasks: Sequence[int]) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """b^i ~ B^i and c^i ~ S_c(B^i) for each listed task, with the relabellings (one goal per task slot) and unpaid slots:

        * hindsight task relabelling (``relabel_prob``): the slot's rows come from another train task's buffers,
          relabelled for the listed task's goal;
        * hindsight goals through the context (``hindsight_goal_prob``): the slot keeps its task's rows but its goal
          becomes where one of its context attempts ended (or, by ``hindsight_goals``, a train goal one reached), so its
          context holds a paid attempt; with ``hindsight_rows="collection"`` its RL rows come from that task's latest
          collection (HER's "future");
        * unpaid slots (``unpaid_context_prob``): an own-goal slot's context keeps only its unpaid attempts.

        Rewards and terminals of a relabelled slot (RL rows and context rows alike) come from the env's own reward
        function on where each attempt ended; subgoal-test penalties (-H) are kept.

        Returns:
            (batch with fields (T, B, ...), context (T, C, context_dim), goals (T, goal_dim): the goal each slot's rewards
            were computed for, which the oracle baseline reads as its task variable).
        """
        cfg = self.config
        source = self._relabel_sources(tasks, self.rl_buffer)
        batch = self.rl_buffer.sample(cfg.batch_size, source, self.generator)
        context = self.context_buffer.sample(cfg.context_batch, source, self.generator)
        goals: dict[int, np.ndarray] = {}
        for i, (task, src) in enumerate(zip(tasks, source)):
            if task != src:
                goals[i] = self.train_goals[task]
        hindsight_prob = self.hindsight_goal_prob()
        if hindsight_prob > 0:
            draws = torch.rand(len(tasks), generator=self.generator).tolist()
            rows = torch.randint(0, cfg.context_batch, (len(tasks),), generator=self.generator).tolist()
            hindsight = [i for i in range(len(tasks)) if i not in goals and draws[i] < hindsight_prob]
            for i in hindsight:  # HER: where attempt rows[i] ended; HTR ("task"): a train goal one of its attempts reached
                goal = hindsight_goal(context["next_achieved"][i].numpy(), rows[i], cfg.hindsight_goals, self.train_goals, self.reward_fn)
                if goal is not None:
                    goals[i] = goal
            hindsight = [i for i in hindsight if i in goals]
            if hindsight and cfg.hindsight_rows == "collection":  # HER's "future": rows of the goal's own collection
                recent = self.collection_buffer.sample(cfg.batch_size, [source[i] for i in hindsight], self.generator)
                for j, i in enumerate(hindsight):
                    for name in batch:
                        batch[name][i] = recent[name][j]
        if goals:
            batch, context = self._relabelled(batch, goals), self._relabelled(context, goals)
        context = self.make_context(context)
        if cfg.unpaid_context_prob > 0:  # not in Alg. 1: own-goal slots read only unpaid attempts (a meta-test before its first paid one)
            draws = torch.rand(len(tasks), generator=self.generator).tolist()
            unpaid = [i for i in range(len(tasks)) if i not in goals and draws[i] < cfg.unpaid_context_prob]
            context = unpaid_only(context, self.spec.obs_dim + self.spec.goal_dim, unpaid, self.generator)
        slot_goals = np.stack([goals.get(i, self.train_goals[task]) for i, task in enumerate(tasks)])
        return batch, context, torch.as_tensor(slot_goals, dtype=torch.float32)

    def decoder_rows(self, batch: dict[str, Tensor], context: Tensor) -> dict[str, Tensor]:
        """What the reward decoder reads: the RL batch's attempts and the context's (where a paid attempt is, when the
        task has one), ``next_achieved`` (T, B + C, goal_dim) and ``reward`` (T, B + C)."""
        obs_dim, goal_dim = self.spec.obs_dim, self.spec.goal_dim
        reward_col = obs_dim + goal_dim  # context rows are [s, ã, r, s'] (top_context_row)
        achieved = context[..., reward_col + 1 : reward_col + 1 + goal_dim]
        return {"next_achieved": torch.cat([batch["next_achieved"], achieved], dim=1),
                "reward": torch.cat([batch["reward"], context[..., reward_col]], dim=1)}

    def novelty_bonus(self, batch: dict[str, Tensor]) -> Tensor:
        """(T, B) count-based bonus of each row: ``novelty_bonus / sqrt(max(1, N(cell of next_achieved)))`` for unpaid
        attempts (reward -1), 0 for paid ones and subgoal-test penalties (-H).

        Taught in notebooks/11_peach.py (section "Directed exploration: a count bonus and frontier subgoals")."""
        reward = batch["reward"]
        bonus = self.attempt_counts.bonus(batch["next_achieved"].detach().cpu().numpy(), self.config.novelty_bonus)
        unpaid = (reward >= -1.0) & (reward < 0.0)
        return torch.where(unpaid, torch.as_tensor(bonus, dtype=reward.dtype, device=reward.device), torch.zeros((), device=reward.device))

    def hindsight_goal_prob(self) -> float:
        """This gradient step's probability of a hindsight goal: ``hindsight_goal_prob``, falling linearly to 0 over
        ``hindsight_goal_updates`` top-level steps when that is > 0 (the curriculum)."""
        cfg = self.config
        if cfg.hindsight_goal_updates == 0:
            return cfg.hindsight_goal_prob
        return cfg.hindsight_goal_prob * max(0.0, 1.0 - self.top_updates / cfg.hindsight_goal_updates)

    def make_context(self, batch: dict[str, Tensor]) -> Tensor:
        """Context rows [s, ã, r, s'] from buffer fields (*lead, ...) -> (*lead, context_dim) (see :func:`top_context_row`)."""
        reward = batch["context_reward"] if self.config.dense_context else batch["reward"]
        return torch.cat([batch["obs"], batch["action"], reward.unsqueeze(-1), batch["next_obs"]], dim=-1)

    def update(self) -> dict[str, Tensor]:
        """One gradient step of Algorithm 1 on a meta-batch of train tasks.

        Per task: c^i ~ S_c(B^i), b^i ~ B^i, z ~ q_φ(z | c^i); then φ <- ∇(L_critic + β KL), the top critic <-
        ∇L_critic, the top actor <- ∇L_actor (z detached). Skipped ({}) until every task has data.

        Taught in notebooks/11_peach.py (section "Algorithm 1, line by line").
        """
        cfg = self.config
        if cfg.random_subgoals or min(self.rl_buffer.size(t) for t in range(self.num_train_tasks)) == 0:
            return {}
        with torch_threads(1):
            tasks = torch.randint(0, self.num_train_tasks, (cfg.meta_batch,), generator=self.generator).tolist()
            batch, context, goals = self.sample_meta_batch(tasks)  # Alg. 1: b^i ~ B^i, c^i ~ S_c(B^i)
            if cfg.novelty_bonus > 0:  # not in Alg. 1: the count bonus reaches the critic's reward only (context made above)
                batch = {**batch, "reward": batch["reward"] + self.novelty_bonus(batch)}
            fixed = None
            if cfg.task_inference == "oracle":  # the true goal of each slot (relabelled slots: the goal they were relabelled for)
                fixed = goals / ORACLE_SCALE
            elif cfg.task_inference == "none":
                fixed = torch.zeros(len(tasks), self.cond_dim)
            decoder = self.reward_decoder if cfg.reward_decoder_weight > 0 and fixed is None else None
            own_goal = torch.as_tensor([np.array_equal(goals[i].numpy(), self.train_goals[t]) for i, t in enumerate(tasks)])
            prior_slots = (torch.rand(len(tasks), generator=self.generator) < cfg.prior_slot_prob) & own_goal if cfg.prior_slot_prob > 0 else None
            losses = peach_losses(self.top, self.posterior, batch, context, kl_lambda=cfg.kl_lambda, generator=self.generator, z=fixed,
                                  reward_decoder=decoder, decoder_rows=self.decoder_rows(batch, context) if decoder else None,
                                  prior_slots=prior_slots, detach_decoder_z=cfg.reward_decoder_detach)
            self.encoder_optimizer.zero_grad(set_to_none=True)
            self.top.critic_optimizer.zero_grad(set_to_none=True)
            # Alg. 1: φ <- critic + KL; θ_QH <- critic (+ the optional decoder's loss, which reaches φ and the decoder)
            elimination = (eliminating_loss(self, context, torch.nonzero(own_goal).flatten().tolist(), goals)  # not in Alg. 1: reaches φ only
                           if cfg.elimination_weight > 0 and fixed is None else torch.zeros(()))
            (losses["critic_loss"] + losses["kl"] + cfg.reward_decoder_weight * losses["decoder_loss"] + cfg.elimination_weight * elimination).backward()
            self.top.critic_optimizer.step()
            if fixed is None:
                self.encoder_optimizer.step()
            self.top.actor_optimizer.zero_grad(set_to_none=True)
            losses["actor_loss"].backward()  # Alg. 1: θ_πH <- actor loss (computed with the critic frozen)
            self.top.actor_optimizer.step()
            self.top.end_update()  # SAC's top level: its target critics move (HAC's has none)
        self.hierarchy.actors_changed()
        self.top_updates += 1
        return {"critic_loss": losses["critic_loss"].detach(), "kl": losses["kl"].detach(), "actor_loss": losses["actor_loss"].detach(),
                "decoder_loss": losses["decoder_loss"].detach(), "elimination_loss": elimination.detach(),
                "q_mean": losses["q"].detach().mean()}

    # ------------------------------------------------------------------------- Algorithm 2 (meta-test)
    def reset_belief(self, num_tasks: int) -> Belief:
        """Belief <- the prior for ``num_tasks`` envs; the meta-test context is emptied."""
        self.belief = self.posterior.prior(num_tasks)
        self._context = [[] for _ in range(num_tasks)]
        return self.belief

    def add_context(self, episodes: Episodes) -> None:
        """Append every top-level attempt of the episode just run (no penalties: none arise without exploring)."""
        if len(self._attempts) != len(episodes.lengths):
            raise ValueError(f"episodes must be the episode this agent just ran ({len(self._attempts)} envs)")
        if len(self._context) != len(self._attempts):
            self._context = [[] for _ in self._attempts]
        for e, attempts in enumerate(self._attempts):
            for transition, _, dense in attempts:
                reward = dense if self.config.dense_context else float(transition.reward)
                self._context[e].append(top_context_row(transition.obs, transition.action, reward, transition.next_obs))

    def infer_belief(self) -> Belief:
        """Belief <- q(z | all context since :meth:`reset_belief`) (rows padded per env and masked)."""
        longest = max(1, max(len(rows) for rows in self._context))
        context = torch.zeros(len(self._context), longest, self.context_dim)
        mask = torch.zeros(len(self._context), longest, dtype=torch.bool)
        for e, rows in enumerate(self._context):
            if rows:
                context[e, : len(rows)] = torch.as_tensor(np.stack(rows))
                mask[e, : len(rows)] = True
        with torch.no_grad():
            self.belief = self.posterior.prior_where(self.posterior.infer(context, mask), ~mask.any(dim=1))
        return self.belief

    # ------------------------------------------------------------------------- checkpoints
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the agent."""
        return {"env_id": self.spec.env_id, "spec": self.spec.to_dict(), "config": self.config.to_dict(), "num_train_tasks": self.num_train_tasks}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The hierarchy's levels and the posterior; no buffers, no optimisers."""
        return {**self.hierarchy.checkpoint_state(), "posterior": self.posterior.state_dict()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "PEACH":
        """Rebuild from ``payload["arch"]`` and load ``payload["state"]`` (CPU)."""
        arch = payload["arch"]
        agent = cls(HacSpec.from_dict(arch["spec"]), int(arch["num_train_tasks"]), PeachConfig.from_dict(arch["config"]))
        state = payload["state"]
        for i, level in enumerate(agent.hierarchy.levels):
            level.load_state_dict(state[f"level{i}"])
        agent.posterior.load_state_dict(state["posterior"])
        return agent

    def checkpoint_score(self, payload: dict[str, Any] | None = None) -> float:
        """Final-episode meta-test success on the env's held-out tasks (seed :data:`EVAL_SEED`)."""
        if not self.spec.env_id:
            raise ValueError("the checkpoint records no env_id")
        envs = GymTaskEnvs(self.spec.env_id, seed=EVAL_SEED)
        try:
            return float(meta_test_success(self, envs, envs.unwrapped.test_tasks()).success[:, -1].mean())
        finally:
            envs.close()

    # ------------------------------------------------------------------------- helpers
    def _columns(self, rows: list[tuple[Transitions, float]]) -> dict[str, np.ndarray]:
        stacked = Transitions.concatenate([row for row, _ in rows])
        return {"obs": stacked.obs, "action": stacked.action, "reward": stacked.reward, "next_obs": stacked.next_obs,
                "goal": stacked.goal, "done": stacked.done, "next_achieved": stacked.next_obs[:, : self.spec.goal_dim],
                "context_reward": np.array([dense for _, dense in rows], np.float32)}

    def _relabel_sources(self, tasks: Sequence[int], buffer: MultiTaskReplayBuffer) -> list[int]:
        """Hindsight task relabelling: each task's rows come from another train task with prob. ``relabel_prob``."""
        if (p := self.config.relabel_prob) == 0.0:
            return list(tasks)
        draws = torch.rand(len(tasks), generator=self.generator).tolist()
        others = torch.randint(0, self.num_train_tasks, (len(tasks),), generator=self.generator).tolist()
        usable = [buffer.size(int(o)) > 0 and self.context_buffer.size(int(o)) > 0 for o in others]
        return [int(o) if d < p and ok else int(t) for t, d, o, ok in zip(tasks, draws, others, usable)]

    def _relabelled(self, batch: dict[str, Tensor], goals: dict[int, np.ndarray]) -> dict[str, Tensor]:
        """Rows of slot i evaluated for ``goals[i]``: reward and terminal from the env's reward function on where each
        attempt ended; subgoal-test penalties (reward -H) describe the lower level and are kept."""
        if self.reward_fn is None:
            raise ValueError("relabelling needs the env's reward function: collect a round first")
        batch = {name: value.clone() for name, value in batch.items()}
        for i, goal in goals.items():
            reward = torch.as_tensor(self.reward_fn(batch["next_achieved"][i].numpy(), goal), dtype=torch.float32)
            keep = batch["reward"][i] < -1.0
            batch["reward"][i] = torch.where(keep, batch["reward"][i], reward)
            batch["done"][i] = torch.where(keep, batch["done"][i], (reward == 0.0).float())
        return batch


# ==================================================================================== meta-test and training
def meta_test_success(agent: PEACH, envs: Any, tasks: Sequence[Any], *, seed: int = EVAL_SEED, record_paths: bool = False,
                      on_trajectory: Any = None) -> MetaTestResult:
    """Algorithm 2 with a hierarchy: :func:`~peach_lite.posterior.meta_test` with the agent's schedule (episode 1 on
    the prior, each later one on a fresh z from the posterior over all context so far; lower levels greedy).

    Returns:
        the :class:`~peach_lite.posterior.MetaTestResult`; ``success`` (num_tasks, meta_test_episodes).

    Taught in notebooks/11_peach.py (section "Meta-testing").
    """
    return meta_test(agent, envs, TaskBatch.from_list(list(tasks), split="test"), agent.schedule, seed=seed, record_paths=record_paths,
                     on_trajectory=on_trajectory)


def train_peach(*, seed: int, progress: bool = True, env_id: str = HIDDEN_MAZE_ID, rounds: int = 150, eval_every: int = 25,
                env_kwargs: dict[str, Any] | None = None, agent: PEACH | None = None, history: History | None = None,
                callbacks: Sequence[Any] = (), **overrides: Any) -> tuple[PEACH, dict[str, Any]]:
    """Meta-train PEACH with the shared ``loop.train``: each round is :meth:`PEACH.collect_round` then
    ``top_updates_per_round`` calls of :meth:`PEACH.update`; every ``eval_every`` rounds (and at the end) the
    final-episode meta-test success on the held-out tasks.

    Args:
        rounds: training rounds in this call.
        env_kwargs: keyword arguments of the env (e.g. the transfer variant's ``start_room``, ``sites``).
        agent, history: continue an agent (e.g. one whose lower levels were loaded and frozen).
        callbacks: as :func:`peach_lite.loop.train`.
        **overrides: :class:`PeachConfig` fields.
    Returns:
        (agent, meta) with ``history`` (``eval_values``: meta-test success), steps, episodes and wall time.

    Taught in notebooks/11_peach.py (section "Training").
    """
    check_int("rounds", rounds, 1)
    envs = GymTaskEnvs(env_id, seed=seed, **(env_kwargs or {}))
    train_tasks, test_tasks = envs.unwrapped.train_tasks(), envs.unwrapped.test_tasks()
    agent = agent or PEACH.from_env(envs, len(train_tasks), PeachConfig(**{"seed": seed, **overrides}))
    eval_envs = GymTaskEnvs(env_id, seed=EVAL_SEED, **(env_kwargs or {}))
    curves: list[list[float]] = []

    def evaluator(agent_: PEACH) -> tuple[float, float]:
        result = meta_test_success(agent_, eval_envs, test_tasks, seed=EVAL_SEED + len(curves))
        curves.append(result.success.mean(axis=0).tolist())
        final = result.success[:, -1].astype(float)
        return float(final.mean()), float(final.std() / np.sqrt(len(final)))

    config = TrainConfig(rounds=rounds, updates_per_round=agent.config.top_updates_per_round, warmup_steps=0, eval_every=eval_every,
                         eval_episodes=1, log_every=max(agent.config.top_updates_per_round, 1), seed=seed, progress=progress)
    history = train(agent, Runner(envs, train_tasks, seed=seed), config, evaluator=evaluator, eval_metric="meta-test success",
                    callbacks=callbacks, history=history)
    history.extra["success_per_episode"] = curves
    history.extra["train_success"] = list(agent.train_success)
    for opened in (envs, eval_envs):
        opened.close()
    return agent, {"env_id": env_id, "env_kwargs": env_kwargs or {}, "steps": history.total_steps, "episodes": history.episodes,
                   "rounds": history.rounds, "wall_time_s": round(history.elapsed, 1), "history": history.to_dict()}


CLI = TrainSpec(
    train=train_peach,
    presets={
        "maze": {"env_id": HIDDEN_MAZE_ID, "rounds": 150},
        "maze-no-z": {"env_id": HIDDEN_MAZE_ID, "rounds": 150, "task_inference": "none"},
        "maze-oracle": {"env_id": HIDDEN_MAZE_ID, "rounds": 150, "task_inference": "oracle"},
        "maze-collection": {"env_id": HIDDEN_MAZE_ID, "rounds": 600, "eval_every": 100, **COLLECTION_ROUTE},
        "maze-htr": {"env_id": HIDDEN_MAZE_ID, "rounds": 600, "eval_every": 100, **HTR_ROUTE},
        "maze-return-explore": {"env_id": HIDDEN_MAZE_ID, "rounds": 600, "eval_every": 100, **RETURN_EXPLORE_ROUTE},
        "maze-eliminating": {"env_id": HIDDEN_MAZE_ID, "rounds": 600, "eval_every": 100, **ELIMINATING_ROUTE},
    },
    score_name="meta_test_success", tolerance=0.1,
)
"""E.g. ``python -m peach_lite train peach --preset maze-return-explore --seed 0 --threads 1 --out
data/checkpoints/peach_maze_return_explore.pt`` (each checkpoint's command is in data/MANIFEST.json)."""
