"""Hierarchical Actor-Critic (HAC; Levy, Konidaris, Platt, Saenko, ICLR 2019) with k = 1, 2 or 3 levels.

Level k-1 receives the end goal; every level i > 0 proposes a *subgoal* (a point of the goal space)
for level i-1, which gets H attempts to reach it; level 0 applies the env's actions. Every level is a
:class:`~peach_lite.goal_levels.GoalLevel` (a DDPG-style goal-conditioned actor-critic with a bounded
critic, trained on hindsight action, hindsight goal and subgoal-testing transitions; algorithms.md §1.3).

:class:`HAC` is the hierarchy as an ``Agent`` of ``peach_lite.loop``: the shared runner drives it one
environment step at a time, and HAC's nested attempts (Algorithm 2) become a per-env state machine:

* :meth:`HAC.act` descends from the lowest level that needs a new action: each level picks its action
  (a subgoal above level 0), decides whether to *test* it (λ = 0.3; levels below then act greedily),
  and hands it down as the next level's goal; level 0's action goes to the env.
* :meth:`HAC.observe` closes the finished attempts bottom-up: it builds each level's hindsight action
  and subgoal-test transitions, and ends a level's attempt sequence when its goal (or a higher one) is
  reached, when it used its H attempts, or when the episode's time is up. An ended sequence is stored
  with its hindsight-goal copies (``peach_lite.her``) in the replay, keyed by (task, level).
* :meth:`HAC.end_episode` stores any sequence the env's own end left open; :meth:`HAC.episode_over`
  tells the runner when the top level has finished (its H attempts, or the end goal) so the episode stops.
* :meth:`HAC.learn` samples every level's batch and runs :meth:`GoalLevel.update` (critic, then actor).

Training: :func:`run_training` (the shared ``loop.train``: one episode per round, ``updates_per_episode``
gradient steps, evaluation = success rate on held-out goals); the command line
``python -m peach_lite train hac --preset maze-2 --seed 0 --out data/checkpoints/hac_maze.pt`` (:data:`CLI`).
Pictures of an episode: ``peach_lite.hac_pictures``.

Taught in notebooks/07_hac.py; the k = 1 agent in notebooks/06_her.py.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.buffers import MultiTaskReplayBuffer
from peach_lite.cli import TrainSpec
from peach_lite.device import torch_threads
from peach_lite.goal_levels import GoalLevel, SoftGoalLevel, hindsight_action, hindsight_action_transition, numpy_actor, subgoal_test_transition
from peach_lite.hac_pictures import AttemptRecord, EpisodeTrace, SequenceRecord
from peach_lite.her import Transitions, hindsight_goal_transitions
from peach_lite.loop import GymTaskEnvs, History, Obs, Runner, Step, TaskBatch, TaskEnvs, TrainConfig, evaluate, train
from peach_lite.validation import check_int

__all__ = [
    "HacConfig",
    "HacSpec",
    "HAC",
    "AttemptRecord",
    "SequenceRecord",
    "EpisodeTrace",
    "maze_config",
    "default_config",
    "evaluate_success",
    "success_evaluator",
    "run_training",
    "episodes_at",
    "train_hac",
    "CLI",
    "MAZE_ID",
    "PENDULUM_ID",
    "POINT_MASS_ID",
    "EVAL_SEED",
]

from peach_lite.hac_config import (  # noqa: E402  (re-exported: the config is part of HAC's API)
    EVAL_SEED,
    MAZE_ID,
    PENDULUM_ID,
    POINT_MASS_ID,
    HacConfig,
    HacSpec,
    default_config,
    maze_config,
)


# ========================================================================================= the agent
class HAC(nn.Module):
    """The HAC hierarchy as a ``loop.Agent``: k :class:`GoalLevel` s, one replay keyed by (task, level).

    Envs must have a Dict observation ``{"observation": s, "achieved_goal": proj(s), "desired_goal": g}``
    (gymnasium-robotics layout) and Box actions; subgoals live in the ``achieved_goal`` space. Any number
    n of lockstep envs works (each has its own goal stack; they share the agent's random generator).

    Args:
        spec: :class:`HacSpec` (``HacSpec.from_env(env, config)``; :meth:`from_env` does both).
        config: :class:`HacConfig`.

    Attributes: ``levels`` (level i = ``levels[i]``), ``buffer`` (``MultiTaskReplayBuffer``, key
    ``task * k + level``), ``horizons`` (attempts per level), ``thresholds`` ((k, goal_dim) tolerances),
    ``record`` (keep an :class:`EpisodeTrace` per env in ``traces``), ``last_success`` ((n,) bool,
    the end-goal test after the last episode; ``last_train_success``: after the last exploring one), ``top_cond`` ((n, top_cond_dim) task variable or None),
    ``top_attempt_hook`` (None, or ``hook(env_index, transition, penalty, proposed)`` called whenever a top-level attempt
    ends, in training and test episodes: its hindsight-action transition (a), its penalty (c) or None, and the subgoal
    as proposed (the (a) row holds where the level below got instead, when it missed);
    PEACH builds its context and its per-task top replay from these), ``random_top`` (the top level proposes
    uniformly random subgoals, exploring or not: the random-subgoal baseline), ``sample_top`` (a stochastic top level,
    SAC's, samples its subgoals in greedy episodes too), ``top_explore_subgoal`` (None, or
    ``propose(obs) -> subgoal``, which replaces the top level's uniformly random exploring subgoals: PEACH's frontier),
    ``top_plan`` (None, or ``plan(env_index, obs) -> subgoal or None``, asked at every top-level decision of an
    exploring episode; a subgoal it returns replaces the top level's own: PEACH's first-return-then-explore).

    Taught in notebooks/07_hac.py (section "The hierarchy").
    """

    algorithm: ClassVar[str] = "hac"
    """Its key in ``peach_lite.checkpoints.ALGORITHMS``."""

    def __init__(self, spec: HacSpec, config: HacConfig | None = None):
        super().__init__()
        config = config or HacConfig()
        self.spec, self.config = spec, config
        k = config.num_levels
        self.action_dim = len(spec.action_low)
        self.max_actions = spec.max_actions
        self.horizons = [self.max_actions] if k == 1 else [config.subgoal_horizon] * k
        self.thresholds = np.stack([np.asarray(spec.subgoal_threshold, np.float32)] * (k - 1) + [np.asarray(spec.goal_threshold, np.float32)])
        self.norm = config.goal_norm
        lows = [np.asarray(spec.action_low, np.float32)] + [np.asarray(spec.subgoal_low, np.float32)] * (k - 1)
        highs = [np.asarray(spec.action_high, np.float32)] + [np.asarray(spec.subgoal_high, np.float32)] * (k - 1)
        self.action_lows, self.action_highs = lows, highs
        noise = [config.action_noise] + [config.subgoal_noise] * (k - 1)
        self._noise_std = [n * (h - l) / 2 for n, l, h in zip(noise, lows, highs)]
        soft = [config.top_learner == "sac" and i == k - 1 for i in range(k)]  # a SAC top level, with its own arguments
        soft_args = {"seed": config.seed, "target_entropy": config.top_target_entropy}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.levels = nn.ModuleList(
                (SoftGoalLevel if soft[i] else GoalLevel)(
                    spec.obs_dim, spec.goal_dim, lows[i], highs[i], self.horizons[i], hidden=config.hidden,
                    cond_dim=config.top_cond_dim if i == k - 1 else 0, gamma=config.gamma, actor_lr=config.actor_lr,
                    critic_lr=config.critic_lr, q_init=config.q_init, action_l2=config.action_l2 if i == 0 else 0.0,
                    pre_tanh_l2=config.pre_tanh_l2 if i == 0 else 0.0, **(soft_args if soft[i] else {}))
                for i in range(k))
        self.max_action_dim = max(len(low) for low in lows)
        fields_spec = {"obs": (spec.obs_dim,), "action": (self.max_action_dim,), "reward": (), "next_obs": (spec.obs_dim,),
                       "goal": (spec.goal_dim,), "done": ()}
        self.buffer = MultiTaskReplayBuffer(config.replay_tasks * k, config.buffer_size, fields_spec)
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.record = False
        self.traces: list[EpisodeTrace] = []
        self.last_success = np.zeros(0, bool)
        self.last_train_success = np.zeros(0, bool)
        self.top_cond: np.ndarray | None = None
        self.top_attempt_hook: Callable[[int, Transitions, Transitions | None], None] | None = None
        self.random_top = self.sample_top = False
        self.top_explore_subgoal: Callable[[np.ndarray], np.ndarray] | None = None
        self.top_plan: Callable[[int, np.ndarray], np.ndarray | None] | None = None
        self._policy: list[Any] | None = None
        self._envs: list[_EnvState] = []
        self._explore = self._store = False

    @classmethod
    def from_env(cls, env: gym.Env | TaskEnvs, config: HacConfig | None = None) -> "HAC":
        """``HAC(HacSpec.from_env(env, config), config)``.

        Taught in notebooks/07_hac.py (section "The hierarchy").
        """
        config = config or HacConfig()
        return cls(HacSpec.from_env(env, config), config)

    @property
    def num_levels(self) -> int:
        """k."""
        return self.config.num_levels

    # ------------------------------------------------------------------------- the Agent protocol
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """A new episode on ``len(tasks)`` envs: empty goal stacks; ``explore`` = noise, subgoal tests and
        storing (on "train" tasks); greedy otherwise, with the top level proposing subgoals until the end
        goal or ``max_actions`` (reference test mode).

        Taught in notebooks/07_hac.py (section "One training episode, level by level").
        """
        self._explore, self._store = bool(explore), bool(explore) and tasks.split == "train"
        task_ids = tasks.ids.tolist() if self.config.replay_tasks > 1 and self._store else [0] * len(tasks)
        for task_id in task_ids:
            check_int("task id", task_id, 0, self.config.replay_tasks - 1)
        self._envs = [_EnvState(self.num_levels, self.spec.goal_dim, task_id) for task_id in task_ids]
        self.traces = [EpisodeTrace() for _ in task_ids] if self.record else []

    def act(self, obs: Obs) -> Tensor:
        """(n, ...) goal-conditioned observations -> (n, action_dim) env actions (HAC Algorithm 2, going down).

        For each env, starting at the lowest level whose attempt ended (the top level at the start): the
        level picks its action (greedy when testing or not exploring), a level > 0 decides whether to test
        its subgoal and hands it down, and the level below starts a fresh sequence of H attempts on it.

        Taught in notebooks/07_hac.py (section "One training episode, level by level").
        """
        states, achieved, desired = (_rows(obs, key, len(self._envs)) for key in ("observation", "achieved_goal", "desired_goal"))
        out = np.zeros((len(self._envs), self.action_dim), np.float32)
        if self.config.top_cond_dim and np.shape(self.top_cond) != (len(self._envs), self.config.top_cond_dim):
            raise ValueError(f"top_cond must have shape ({len(self._envs)}, {self.config.top_cond_dim}) (set it after "
                             f"begin_episode), got {None if self.top_cond is None else np.shape(self.top_cond)}")
        for e, env in enumerate(self._envs):
            if env.over or env.stopped:
                continue
            if env.state is None:  # first step: the top level starts on the end goal
                env.state, env.achieved, env.goals[-1] = states[e], achieved[e], desired[e]
                env.begin_run(self.num_levels - 1, tested=False)
            level = env.need_from
            while True:
                run = env.runs[level]
                run.obs, run.first_step = env.state, env.steps
                # Alg. 2: a_i <- π_i(s, g_i) + exploration noise (greedy when a level above is testing)
                cond = self.top_cond[e] if self.levels[level].cond_dim else None
                run.action = self.level_action(level, env.state, run.goal, explore=self._explore and not run.tested, cond=cond)
                planned = self.top_plan(e, env.state) if level == self.num_levels - 1 and self._explore and self.top_plan else None
                if planned is not None:  # an exploration plan overrides the top level's own subgoal
                    run.action = np.clip(planned, self.action_lows[level], self.action_highs[level]).astype(np.float32)
                env.deciders_pending = max(env.deciders_pending, level)
                if level == 0:
                    break
                # Alg. 2: decide whether to test subgoal a_i, then level i-1 pursues it for H attempts
                run.test_next = run.tested or (self._explore and self.rng.random() < self.config.subgoal_test_rate)
                env.goals[level - 1] = run.action
                env.begin_run(level - 1, tested=run.test_next)
                level -= 1
            if self.traces:
                self.traces[e].record_step(env.state, env.achieved, run.action, env.goals, env.deciders_pending)
            env.deciders_pending = 0
            out[e] = run.action[: self.action_dim]
        return torch.as_tensor(out)

    def observe(self, step: Step) -> None:
        """Close the attempts an env step ended, bottom-up (HAC Algorithm 2, the returns).

        Level 0's attempt is one step. When level i's attempt ends, it stores (a) a hindsight action
        transition (level 0: the plain transition) and, for a tested subgoal the level below missed, (c)
        a penalty. Level i's *sequence* ends when its goal or a higher one is reached, after H attempts,
        or when time is up: it goes to the replay with its (b) hindsight-goal copies, and level i+1's
        attempt ends in turn. The lowest level still going picks its next action in :meth:`act`.

        Taught in notebooks/07_hac.py (section "One training episode, level by level").
        """
        states, achieved = (_rows(step.next_obs, key, len(self._envs)) for key in ("observation", "achieved_goal"))
        top = self.num_levels - 1
        ended = (step.terminated | step.truncated).numpy()
        env_success = step.success.numpy()
        for e in np.flatnonzero(step.mask.numpy()):
            env = self._envs[e]
            if env.over or env.state is None:
                continue
            env.stopped = bool(ended[e])  # the env's own end: no more actions (end_episode stores open sequences)
            env.steps += 1
            env.state, env.achieved = states[e], achieved[e]
            gap = np.abs(env.goals - env.achieved)  # every level's goal test at once (as peach_lite.her.goal_reached)
            reached = env.reached = (np.all(gap <= self.thresholds, axis=1) if self.norm == "box"
                                     else np.sum(np.square(gap / self.thresholds), axis=1) <= 1.0)
            if self.config.top_goal_hidden:  # the hidden end goal: only the env knows whether it was reached
                reached[top] = bool(env_success[e])
            hits = np.flatnonzero(reached)
            highest = int(hits[-1]) if hits.size else -1
            level = 0
            while True:
                run = env.runs[level]
                run.attempts += 1
                lower_reached = bool(reached[level - 1]) if level > 0 else True
                lower_missed = level > 0 and env.maxed_out[level - 1]
                stored = penalty = None
                hooked = level == top and self.top_attempt_hook is not None
                if self._explore or hooked:
                    if level > 0:  # (a) hindsight action transition, with the original goal
                        stored = hindsight_action_transition(run.obs, run.action, env.state, env.achieved, run.goal,
                                                             lower_reached=lower_reached, threshold=self.thresholds[level],
                                                             norm=self.norm)
                        if level == top and self.config.top_goal_hidden:  # reward and terminal from the env's success
                            stored = stored._replace(reward=np.float32(0.0 if reached[top] else -1.0),
                                                     done=np.float32(1.0 if reached[top] else 0.0))
                        penalty = subgoal_test_transition(run.obs, run.action, env.state, run.goal, tested=run.test_next,
                                                          lower_missed=lower_missed, subgoal_horizon=self.horizons[level])
                    else:
                        stored = Transitions(run.obs, run.action, np.float32(0.0 if reached[0] else -1.0), env.state, run.goal,
                                             np.float32(1.0 if reached[0] else 0.0))
                    if hooked:
                        self.top_attempt_hook(int(e), stored, penalty, run.action)
                    if self._explore:
                        run.add(stored, env.achieved, penalty)  # (c) the penalty, if any, is kept with the sequence
                if self.traces:
                    self.traces[e].attempts.append(AttemptRecord(
                        level, run.first_step, env.steps - run.first_step, run.obs, run.goal, run.action,
                        run.tested or not self._explore, bool(run.test_next), lower_reached, bool(lower_missed),
                        stored.action if stored is not None else hindsight_action(run.action, env.achieved, lower_reached or level == 0),
                        env.achieved, penalty is not None, bool(reached[level])))
                # Alg. 2: the sequence ends after H attempts, when this or a higher goal is reached, or out of time
                out_of_time = env.steps >= self.max_actions
                if not (highest >= level or out_of_time or run.attempts >= self.horizons[level]):
                    env.need_from = level
                    break
                env.maxed_out[level] = run.attempts >= self.horizons[level] and not reached[level]
                if self._explore:
                    self._store_sequence(e, env, level, run)  # (b) hindsight goals, then the replay
                if not self._explore and level == top and highest < level and not out_of_time:
                    env.need_from = top  # a test episode's top level keeps going until the end goal or max_actions
                    break
                if level == top:
                    env.over = True
                    break
                level += 1

    def end_episode(self) -> None:
        """Store the attempt sequences the env's own end left open (bottom-up), finish the traces.

        Taught in notebooks/07_hac.py (section "One training episode, level by level").
        """
        for e, env in enumerate(self._envs):
            if self._explore and not env.over:
                for level, run in enumerate(env.runs):
                    if run is not None and run.transitions:
                        self._store_sequence(e, env, level, run)
            if self.traces and env.state is not None:
                self.traces[e].obs.append(env.state.copy())
                self.traces[e].achieved.append(env.achieved.copy())
                self.traces[e].success = bool(env.reached[-1])
        self.last_success = np.array([bool(env.reached[-1]) for env in self._envs], bool)
        if self._explore:
            self.last_train_success = self.last_success

    def episode_over(self) -> np.ndarray:
        """(n,) bool: the top level has finished (end goal reached, its H attempts used, or out of time)."""
        return np.array([env.over for env in self._envs], bool)

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` gradient steps of every level (reference ``Layer.learn``, 40 per episode).

        Each step samples ``batch_size`` transitions per replay key and runs :meth:`GoalLevel.update` on
        every level (its critic towards the clipped targets, then its actor up the updated critic).
        Skipped ({}) until every key holds ``batch_size`` transitions.

        Returns:
            ``{"critic_loss/level{i}", "actor_loss/level{i}", "q_mean/level{i}"}`` of the last step.

        Taught in notebooks/07_hac.py (section "Bounded critics").
        """
        check_int("num_updates", num_updates, 0)
        k = self.num_levels
        learned = k - 1 if self.config.top_cond_dim else k  # a task-conditioned top level learns through its owner (PEACH)
        keys = [key for key in range(self.buffer.num_tasks) if key % k < learned]
        if num_updates == 0 or not keys or min(self.buffer.size(key) for key in keys) < self.config.batch_size:
            return {}
        out: dict[str, Tensor] = {}
        self._policy = None  # the numpy copy of the actors goes stale with the first step
        with torch_threads(self.config.torch_threads):
            for _ in range(num_updates):
                batch = self.buffer.sample(self.config.batch_size, keys, generator=self.generator)  # (len(keys), B, ...)
                for i, level in enumerate(self.levels[:learned]):
                    rows = [j for j, key in enumerate(keys) if key % k == i]
                    losses = level.update(self.level_batch(batch, i, rows if self.config.replay_tasks > 1 else rows[0]))
                    out.update({f"{name}/level{i}": value for name, value in losses.items()})
        return out

    def actors_changed(self) -> None:
        """Call after training any level's actor outside :meth:`learn` (PEACH's top level): drops the numpy copy."""
        self._policy = None

    def level_batch(self, batch: dict[str, Tensor], level: int, rows: Any = None) -> dict[str, Tensor]:
        """Level ``level``'s rows of a replay sample, with the action cut to the level's width.

        ``rows`` index the sample's leading (key) dim; default: HAC's layout of every key, (tasks * k, B, ...)
        -> (B, ...) (or (tasks, B, ...) with ``replay_tasks > 1``)."""
        if rows is None:
            rows = slice(level, None, self.num_levels) if self.config.replay_tasks > 1 else level
        out = {name: value[rows] for name, value in batch.items()}
        out["action"] = out["action"][..., : len(self.action_lows[level])]
        return out

    def level_action(self, level: int, obs: Any, goal: Any, *, explore: bool = False, cond: Any = None) -> np.ndarray:
        """Level ``level``'s action for state ``obs`` and goal ``goal`` (greedy unless ``explore``).

        Exploring: with probability ``random_action_rate`` a uniform action from the level's box, else
        the policy plus Gaussian noise, clipped to the box (reference ``choose_action``).

        Returns:
            (action_dim_level,) float32: an env action at level 0, a subgoal above.

        Taught in notebooks/07_hac.py (section "One training episode, level by level").
        """
        check_int("level", level, 0, self.num_levels - 1)
        low, high = self.action_lows[level], self.action_highs[level]
        if self.random_top and level == self.num_levels - 1:
            return self.rng.uniform(low, high).astype(np.float32)
        rate = self.config.random_action_rate
        if level == self.num_levels - 1 and self.config.top_random_action_rate is not None:
            rate = self.config.top_random_action_rate
        if explore and self.rng.random() < rate:
            if level == self.num_levels - 1 and self.top_explore_subgoal is not None:
                return np.clip(self.top_explore_subgoal(np.asarray(obs)), low, high).astype(np.float32)
            return self.rng.uniform(low, high).astype(np.float32)
        if self._policy is None:
            self._policy = [level_net.numpy_policy() for level_net in self.levels]
        parts = [np.asarray(obs, np.float32).ravel(), np.asarray(goal, np.float32).ravel()]
        if self.levels[level].cond_dim:
            parts.append(np.asarray(cond, np.float32).ravel())
        sample = explore or (self.sample_top and level == self.num_levels - 1)
        if sample and self.levels[level].stochastic:  # a SAC level explores by sampling its policy (no Gaussian noise)
            return self.levels[level].explore_action(np.concatenate(parts))
        action = numpy_actor(self._policy[level], np.concatenate(parts))
        if explore:
            action = np.clip(action + self._noise_std[level] * self.rng.standard_normal(action.shape), low, high)
        return action.astype(np.float32)

    def goal_stack(self, env_index: int = 0) -> np.ndarray:
        """(k, goal_dim) the goal each level of env ``env_index`` pursues now (row k-1: the end goal)."""
        return self._envs[env_index].goals.copy()

    # --------------------------------------------------------------------------------- checkpoints
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the hierarchy: the env spec and the config."""
        return {"env_id": self.spec.env_id, "spec": self.spec.to_dict(), "config": self.config.to_dict()}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """Every level's networks (``level{i}``); no replay, no optimiser."""
        return {f"level{i}": level.state_dict() for i, level in enumerate(self.levels)}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "HAC":
        """Rebuild from ``payload["arch"]`` and load ``payload["state"]`` (CPU; acting is numpy)."""
        arch = payload["arch"]
        agent = cls(HacSpec.from_dict(arch["spec"]), HacConfig.from_dict(arch["config"]))
        for i, level in enumerate(agent.levels):
            level.load_state_dict(payload["state"][f"level{i}"])
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Success rate on its env's held-out goals (greedy, episode i reset with seed EVAL_SEED + i)."""
        if not self.spec.env_id:
            raise ValueError("the checkpoint records no env_id: build the agent from an env made by id")
        return evaluate_success(self, self.spec.env_id)

    # ------------------------------------------------------------------- Algorithm 2, step by step
    def _store_sequence(self, e: int, env: "_EnvState", level: int, run: "_Run") -> None:
        """End of an attempt sequence: (a), (b) hindsight goal copies and (c) into the (task, level) replay."""
        if not run.transitions:
            return
        action_replay = Transitions.concatenate(run.transitions)
        parts, goal_replay = [action_replay], None
        top = level == self.num_levels - 1
        if self.config.num_hindsight_goals > 0 and not (top and self.config.top_goal_hidden):
            goal_replay = hindsight_goal_transitions(
                action_replay.obs, action_replay.action, action_replay.next_obs, np.stack(run.next_achieved),
                self.thresholds[level], self.config.num_hindsight_goals, self.rng, self.norm)
            parts.append(goal_replay)
        penalties = Transitions.concatenate(run.penalties) if run.penalties else None
        if penalties is not None:
            parts.append(penalties)
        if self._store and not (top and self.config.top_cond_dim):  # a task-conditioned top level: the hook's owner stores
            rows = Transitions.concatenate(parts)
            pad = self.max_action_dim - rows.action.shape[1]
            action = np.pad(rows.action, ((0, 0), (0, pad))) if pad else rows.action
            self.buffer.add_batch(env.task_id * self.num_levels + level, obs=rows.obs, action=action, reward=rows.reward,
                                  next_obs=rows.next_obs, goal=rows.goal, done=rows.done)
        if self.traces:
            self.traces[e].sequences.append(SequenceRecord(level, len(run.transitions), action_replay, goal_replay, penalties,
                                                           run.next_achieved[-1].copy()))
        run.transitions, run.next_achieved, run.penalties = [], [], []


# ==================================================================================== training
def evaluate_success(agent: HAC, envs: str | TaskEnvs | gym.Env, tasks: Sequence[Any] | None = None, *, seed: int = EVAL_SEED) -> float:
    """Success rate of greedy episodes, one per task, every task in lockstep (env i reset with ``seed + i``).

    Success is the env's ``info["is_success"]`` at some step (the maze, the pendulum and the point mass
    report it with the same goal test as the agent's top level).

    Args:
        envs: an env id (one env per task is made), lockstep envs, or one gymnasium env.
        tasks: the goals (default: ``test_tasks()`` of the env, the held-out goals).
    Returns:
        the fraction of tasks whose episode succeeded.

    Taught in notebooks/07_hac.py (section "Training").
    """
    if isinstance(envs, str):
        made = GymTaskEnvs(envs, 1, seed=seed)
        tasks = list(tasks) if tasks is not None else _tasks(made, "test_tasks")
        made = GymTaskEnvs(envs, len(tasks), seed=seed)
        try:
            return evaluate_success(agent, made, tasks, seed=seed)
        finally:
            made.close()
    tasks = list(tasks) if tasks is not None else _tasks(envs, "test_tasks")
    if not tasks:
        raise ValueError("tasks must list at least one task (the env has no test_tasks())")
    if isinstance(envs, gym.Env):  # one env: the goals one after another, episode i reset with seed + i
        return float(np.mean([evaluate(agent, envs, [task], num_episodes=1, seed=seed + i).success[0] for i, task in enumerate(tasks)]))
    return float(evaluate(agent, envs, tasks, num_episodes=1, seed=seed).success.mean())


def success_evaluator(env_id: str, tasks: Sequence[Any] | None = None, *, seed: int = EVAL_SEED):
    """``evaluator(agent) -> (success rate, binomial std error)`` for ``loop.train``: one greedy episode per
    held-out goal (default ``test_tasks()``), all goals in lockstep on envs made once and reused.

    Taught in notebooks/07_hac.py (section "Training").
    """
    probe = GymTaskEnvs(env_id, 1, seed=seed)
    goals = list(tasks) if tasks is not None else _tasks(probe, "test_tasks")
    probe.close()
    if not goals:
        raise ValueError("tasks must list at least one task (the env has no test_tasks())")
    envs = GymTaskEnvs(env_id, len(goals), seed=seed)

    def evaluator(agent: HAC) -> tuple[float, float]:
        success = evaluate_success(agent, envs, goals, seed=seed)
        return success, float(np.sqrt(success * (1 - success) / len(goals)))

    return evaluator


def run_training(agent: HAC, env_id: str, total_steps: int, *, eval_every: int = 25, seed: int = 0, progress: bool = True,
                 train_tasks: Sequence[Any] | None = None, eval_tasks: Sequence[Any] | None = None,
                 history: History | None = None) -> History:
    """Train a hierarchy with the shared ``loop.train``: one episode per round on a uniformly drawn
    training goal, then ``updates_per_episode`` gradient steps; every ``eval_every`` episodes (and at the
    end) the greedy success rate on the held-out goals.

    Args:
        agent: a :class:`HAC`.
        env_id: the env (its first reset uses ``seed``; the runner's draws of goals use ``seed`` too).
        total_steps: environment steps in this call (the last episode may overrun it).
        eval_every: episodes between evaluations.
        train_tasks, eval_tasks: default ``train_tasks()`` / ``test_tasks()`` of the env.
        history: a History from an earlier (e.g. interrupted) call, to continue it.
    Returns:
        the ``loop.History`` (``eval_metric="success"``); ``extra["train_success"]`` holds 1.0/0.0 per
        training episode.

    Taught in notebooks/07_hac.py (section "Training").
    """
    check_int("total_steps", total_steps, 1)
    check_int("eval_every", eval_every, 1)
    envs = GymTaskEnvs(env_id, 1, seed=seed)
    train_tasks = list(train_tasks) if train_tasks is not None else _tasks(envs, "train_tasks")
    config = TrainConfig(total_steps=total_steps, episodes_per_round=1, updates_per_round=agent.config.updates_per_episode,
                         warmup_steps=0, eval_every=eval_every, eval_episodes=1, log_every=agent.config.updates_per_episode or 1,
                         seed=seed, progress=progress)

    def note_train_success(round_index: int, hac: HAC, record: History) -> None:
        record.extra.setdefault("train_success", []).extend(float(s) for s in hac.last_train_success)

    history = train(agent, Runner(envs, train_tasks or None, seed=seed), config, evaluator=success_evaluator(env_id, eval_tasks),
                    eval_metric="success", callbacks=[note_train_success], history=history)
    envs.close()
    return history


def episodes_at(history: History, steps: int) -> int:
    """Training episodes finished when ``history.total_steps`` was ``steps`` (e.g. at an evaluation).

    Taught in notebooks/06_her.py (section "With and without HER").
    """
    return bisect.bisect_right(history.steps, steps)


def train_hac(*, seed: int, progress: bool = True, env_id: str = MAZE_ID, num_levels: int = 2, total_steps: int = 60_000,
              eval_every: int = 25, **overrides: Any) -> tuple[HAC, dict[str, Any]]:
    """Train HAC on ``env_id`` with :func:`default_config` (``overrides`` are HacConfig fields); returns
    the agent and plain metadata (steps, episodes, wall time, evaluation curve).

    Taught in notebooks/07_hac.py (section "Watching a trained hierarchy").
    """
    from peach_lite.envs import make

    env = make(env_id)
    agent = HAC.from_env(env, default_config(env_id, num_levels, seed=seed, **overrides))
    env.close()
    history = run_training(agent, env_id, total_steps, eval_every=eval_every, seed=seed, progress=progress)
    meta = {"steps": history.total_steps, "episodes": history.episodes, "wall_time_s": round(history.elapsed, 1),
            "eval_steps": history.eval_steps, "eval_success": history.eval_values,
            "eval_episodes": [episodes_at(history, s) for s in history.eval_steps]}
    return agent, meta


CLI = TrainSpec(
    train=train_hac,
    presets={
        "maze-2": {"env_id": MAZE_ID, "num_levels": 2, "total_steps": 60_000, "eval_every": 25},
        "maze-3": {"env_id": MAZE_ID, "num_levels": 3, "total_steps": 60_000, "eval_every": 25},
        "maze-flat": {"env_id": MAZE_ID, "num_levels": 1, "total_steps": 60_000, "eval_every": 25},
        "point-mass-her": {"env_id": POINT_MASS_ID, "num_levels": 1, "total_steps": 2_400, "eval_every": 20},
    },
    score_name="test_success",
    tolerance=0.05,
)
"""``python -m peach_lite train hac --preset maze-2 --seed 0 --out data/checkpoints/hac_maze.pt``."""


# ================================================================================ private helpers
class _Run:
    """One level's current attempt sequence (one call of Algorithm 2's level loop) and its pending attempt."""

    __slots__ = ("goal", "tested", "attempts", "obs", "action", "test_next", "first_step", "transitions", "next_achieved",
                 "penalties")

    def __init__(self, goal: np.ndarray, tested: bool):
        self.goal, self.tested, self.attempts = goal, tested, 0
        self.obs = self.action = None
        self.test_next, self.first_step = False, 0
        self.transitions: list[Transitions] = []
        self.next_achieved: list[np.ndarray] = []
        self.penalties: list[Transitions] = []

    def add(self, transition: Transitions, next_achieved: np.ndarray, penalty: Transitions | None) -> None:
        self.transitions.append(transition)
        self.next_achieved.append(next_achieved)
        if penalty is not None:
            self.penalties.append(penalty)


class _EnvState:
    """The hierarchy's state in one lockstep env: goal stack, each level's run, step counter."""

    __slots__ = ("goals", "runs", "maxed_out", "reached", "state", "achieved", "steps", "need_from", "over", "stopped",
                 "deciders_pending", "task_id")

    def __init__(self, num_levels: int, goal_dim: int, task_id: int):
        self.goals = np.zeros((num_levels, goal_dim), np.float32)
        self.runs: list[_Run | None] = [None] * num_levels
        self.maxed_out = [False] * num_levels
        self.reached = np.zeros(num_levels, bool)
        self.state: np.ndarray | None = None
        self.achieved: np.ndarray | None = None
        self.steps, self.need_from, self.over, self.stopped, self.deciders_pending = 0, num_levels - 1, False, False, 0
        self.task_id = task_id

    def begin_run(self, level: int, tested: bool) -> None:
        """Level ``level`` starts pursuing ``goals[level]`` (H fresh attempts, not maxed out)."""
        self.runs[level] = _Run(self.goals[level].copy(), tested)
        self.maxed_out[level] = False


def _rows(obs: Obs, key: str, n: int) -> np.ndarray:
    if not isinstance(obs, dict) or key not in obs:
        raise ValueError(f"obs must be a dict with observation, achieved_goal and desired_goal (a goal-conditioned env), got {type(obs).__name__}")
    rows = obs[key].detach().cpu().numpy().astype(np.float32, copy=False).reshape(obs[key].shape[0], -1)
    if rows.shape[0] != n:
        raise ValueError(f"obs[{key!r}] must have {n} rows (one per env begun with begin_episode), got {rows.shape[0]}")
    return rows


def _tasks(envs: Any, name: str) -> list[Any]:
    method = getattr(envs.unwrapped, name, None)
    return list(method()) if callable(method) else []
