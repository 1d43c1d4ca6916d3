"""HIRO (Nachum, Gu, Lee & Levine, NeurIPS 2018): a two-level hierarchy trained off-policy with TD3 at both
levels, with the off-policy correction that relabels stale high-level goals.

Composition (no private loop, buffer or network):

* both levels are :class:`peach_lite.td3.TD3` learners with a conditioning input (``cond_dim``): the lower
  level reads (state, goal g), the upper level (state, end goal); their ``update(batch, cond, next_cond)``
  is called on rows of two :class:`~peach_lite.buffers.ReplayBuffer` tables kept here;
* the lower level is paid :func:`lower_reward` -‖s + g - s'‖ on the goal dimensions (x, y) and its goal
  moves with the state by :func:`goal_transition` h(s, g, s') = s + g - s' (goals are relative offsets);
* every c = 10 steps the upper level emits a new goal; its transition is (s_t, g~, sum of c env rewards,
  s_{t+c}), where g~ is the stored goal relabelled by :func:`relabel_goals` (the off-policy correction):
  among :func:`goal_candidates` (Gaussian draws around s_{t+c} - s_t, s_{t+c} - s_t itself and the original
  goal, all clipped) pick the one under which the *current* lower policy makes the stored low-level actions
  most likely (:func:`candidate_log_likelihood`);
* :class:`HIRO` is a :class:`peach_lite.runner.Agent`; :func:`train_hiro` trains it with
  :func:`peach_lite.loop.train` on ``peach_lite/PointMazeDense-v0`` (HIRO's dense -L2 reward on HAC's
  four-rooms maze); success rates use the maze's own goal test (``PointMaze-v0``, radius 0.4).

``python -m peach_lite train hiro --preset maze --seed 0 --out data/checkpoints/hiro_maze.pt`` (:data:`CLI`).

Taught in notebooks/09_hiro_fun.py.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import Tensor

from peach_lite.buffers import ReplayBuffer, transition_fields
from peach_lite.cli import TrainSpec
from peach_lite.runner import Step, TaskBatch
from peach_lite.td3 import TD3, TD3Config
from peach_lite.validation import check_int, check_int_sequence, check_range

__all__ = ["HiroConfig", "HIRO", "goal_transition", "lower_reward", "goal_candidates", "candidate_log_likelihood",
           "relabel_goals", "relabel_accuracy", "oracle_goals", "train_hiro", "CLI", "MAZE_DENSE_ID", "SUCCESS_ID", "EVAL_SEED"]

MAZE_DENSE_ID = "peach_lite/PointMazeDense-v0"
"""HIRO's training env: HAC's four-rooms maze with the dense reward -distance."""
SUCCESS_ID = "peach_lite/PointMaze-v0"
"""The env whose held-out goals and goal test (radius 0.4) give every success rate of lesson 09."""
EVAL_SEED = 12_345
"""Seed of the first held-out evaluation episode (env i resets with EVAL_SEED + i). The goals and the goal test are
HAC's; HAC's evaluations reset with 10_000 + i, so only the start jitter in room 0 (U[-0.5, 0.5]^2) differs."""
GOAL_DIMS = 2
"""Goals live in the first two state dimensions (x, y) of the maze's ``observation`` (x, y, vx, vy)."""

LowerPolicy = Callable[[Tensor, Tensor], Tensor]
"""``policy(obs (..., obs_dim), goal (..., goal_dim)) -> action (..., action_dim)`` in the actor's [-1, 1] units."""


@dataclass
class HiroConfig:
    """HIRO hyperparameters. Defaults follow the reference (tensorflow/models ``research/efficient-hrl``,
    algorithms.md §1.4) except where a note says otherwise.

    Deviations from the reference, each stated: 128x128 networks instead of 300x300 (a CPU lesson); batch 128
    instead of 100; squared TD error (the shared TD3) instead of Huber; goals are relative offsets in (x, y) only
    (hiro_orig uses 15-d full-state goals; here the state is 4-d and only position matters); exploration noise
    0.2 of the half-range at both levels (reference: 1.0 in the ant's units); an upper reward scale of 0.1; the
    first ``random_goal_steps`` steps draw uniform random goals (a warm-up, as TD3's random actions); the lower
    level never terminates (done = 0), the upper level's transition is done when the env terminated (success).

    Taught in notebooks/09_hiro_fun.py (section "HIRO").
    """

    hidden: tuple[int, ...] = (128, 128)
    """Hidden layers of every actor and critic (reference 300x300)."""
    horizon: int = 10
    """c, env steps per upper-level goal (reference and paper: 10)."""
    goal_range: float = 2.0
    """Goals are offsets in [-goal_range, goal_range]^2 (a full-speed c-step move is about 2 in the maze)."""
    correction: bool = True
    """Relabel upper transitions by the off-policy correction (False: the stale stored goal is used)."""
    num_candidates: int = 10
    """Candidate goals per transition, >= 2: num_candidates - 2 Gaussian draws, s_{t+c} - s_t, the original."""
    candidate_scale: float = 0.5
    """Std of the Gaussian candidates, as a fraction of goal_range (reference: 0.5 x half-range)."""
    batch_size: int = 128
    """Rows per gradient step at each level (reference 100)."""
    buffer_size: int = 200_000
    """Replay capacity of each level (reference 200k)."""
    gamma: float = 0.99
    """Discount of both levels (reference: gamma = meta-gamma = 0.99)."""
    actor_lr: float = 1e-4
    """Adam learning rate of both actors (reference 1e-4)."""
    critic_lr: float = 1e-3
    """Adam learning rate of both critics (reference 1e-3)."""
    tau: float = 0.005
    """Polyak rate of the target networks (reference 0.005)."""
    policy_delay: int = 2
    """Actor and target updates every this many critic updates (reference target_update_period 2)."""
    exploration_noise: float = 0.2
    """Gaussian action noise of both levels while exploring, in half-range units."""
    upper_reward_scale: float = 0.1
    """The upper level's summed reward is multiplied by this in its Bellman target (sums of c rewards -distance)."""
    upper_every: int = 10
    """One upper-level update per this many lower-level updates (reference num_collect_per_meta_update 10)."""
    random_goal_steps: int = 5_000
    """Env steps at the start of training whose goals are drawn uniformly (the upper level's warm-up)."""
    seed: int = 0
    """Seeds the networks, the exploration noise, the replay sampling and the candidate draws."""

    def __post_init__(self):
        self.hidden = check_int_sequence("hidden", self.hidden)
        for name, low in [("horizon", 1), ("num_candidates", 2), ("batch_size", 1), ("buffer_size", 1),
                          ("policy_delay", 1), ("upper_every", 1), ("random_goal_steps", 0), ("seed", 0)]:
            check_int(name, getattr(self, name), low)
        for name, low, high in [("goal_range", 1e-6, None), ("candidate_scale", 0.0, None), ("gamma", 0.0, 1.0),
                                ("actor_lr", 1e-12, 1.0), ("critic_lr", 1e-12, 1.0), ("tau", 0.0, 1.0),
                                ("exploration_noise", 0.0, None), ("upper_reward_scale", 0.0, None)]:
            check_range(name, getattr(self, name), low, high)
        if not isinstance(self.correction, bool):
            raise ValueError(f"correction must be True or False, got {self.correction!r}")

    def td3_config(self, reward_scale: float = 1.0) -> TD3Config:
        """One level's TD3 settings (the replay lives here, so TD3's own buffer holds 1 row)."""
        return TD3Config(hidden=self.hidden, actor_lr=self.actor_lr, critic_lr=self.critic_lr, batch_size=self.batch_size,
                         buffer_size=1, gamma=self.gamma, tau=self.tau, exploration_noise=self.exploration_noise,
                         policy_delay=self.policy_delay, reward_scale=reward_scale, seed=self.seed)


# ============================================================================================ pieces
def goal_transition(state: Tensor, goal: Tensor, next_state: Tensor) -> Tensor:
    """h(s, g, s') = s + g - s': the relative goal after a step, so that s + g (the absolute target) stays fixed.

    Args:
        state, next_state: (..., goal_dim) the goal dimensions of s and s'; goal: (..., goal_dim).
    Returns:
        (..., goal_dim).

    Taught in notebooks/09_hiro_fun.py (section "HIRO").
    """
    return state + goal - next_state


def lower_reward(state: Tensor, goal: Tensor, next_state: Tensor) -> Tensor:
    """The lower level's reward -‖s + g - s'‖ on the goal dimensions: (..., goal_dim) x 3 -> (...).

    Taught in notebooks/09_hiro_fun.py (section "HIRO").
    """
    return -(state + goal - next_state).norm(dim=-1)


def goal_candidates(start: Tensor, end: Tensor, goal: Tensor, num_candidates: int, goal_range: float, *,
                    scale: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """The off-policy correction's candidate goals (efficient-hrl ``InverseDynamics.sample``).

    Args:
        start, end: (B, goal_dim) s_t and s_{t+c} on the goal dimensions.
        goal: (B, goal_dim) the original (stored) goal.
        num_candidates: K >= 2.
        goal_range: candidates are clipped to [-goal_range, goal_range].
        scale: std of the Gaussian draws as a fraction of goal_range (reference 0.5).
    Returns:
        (B, goal_dim, K): K - 2 draws from N(s_{t+c} - s_t, (scale goal_range)^2), then s_{t+c} - s_t, then the
        original goal; all clipped.

    Taught in notebooks/09_hiro_fun.py (section "The off-policy correction").
    """
    check_int("num_candidates", num_candidates, 2)
    loc = end - start
    noise = torch.randn((*loc.shape, num_candidates - 2), generator=generator, device=loc.device, dtype=loc.dtype)
    draws = loc[..., None] + scale * goal_range * noise
    return torch.cat([draws, loc[..., None], goal[..., None]], dim=-1).clamp(-goal_range, goal_range)


def candidate_log_likelihood(low_obs: Tensor, low_actions: Tensor, low_mask: Tensor, candidates: Tensor,
                             policy: LowerPolicy) -> Tensor:
    """log p(a_t..a_{t+c-1} | g~) up to a constant: -1/2 sum_i ‖a_i - mu_lo(s_i, g~_i)‖^2 for every candidate,
    with g~_0 = g~ and g~_{i+1} = h(s_i, g~_i, s_{i+1}) (the goal each candidate would have been at step i).

    Args:
        low_obs: (B, c, obs_dim) the lower level's states s_t .. s_{t+c-1}; the goal dims come first.
        low_actions: (B, c, action_dim) the stored actions, in the actor's [-1, 1] units.
        low_mask: (B, c) bool/float, 1 on real steps (a segment cut short by the episode's end is padded).
        candidates: (B, goal_dim, K).
        policy: the current lower policy ``mu_lo(obs, goal)`` (deterministic).
    Returns:
        (B, K) log-likelihoods.

    Taught in notebooks/09_hiro_fun.py (section "The off-policy correction").
    """
    batch, horizon, _ = low_obs.shape
    goal_dim, num = candidates.shape[1], candidates.shape[2]
    positions = low_obs[..., :goal_dim]
    goals = [candidates.transpose(1, 2)]  # (B, K, goal_dim) at step 0
    for i in range(horizon - 1):  # same operations, in the same order, as during the rollout
        goals.append(goal_transition(positions[:, i, None], goals[-1], positions[:, i + 1, None]))
    goal_seq = torch.stack(goals, dim=2)  # (B, K, c, goal_dim)
    obs = low_obs[:, None].expand(batch, num, horizon, low_obs.shape[-1])
    with torch.no_grad():
        predicted = policy(obs, goal_seq)  # (B, K, c, action_dim)
    error = (low_actions[:, None] - predicted).pow(2).sum(-1)  # (B, K, c)
    return -0.5 * (error * low_mask[:, None].to(error.dtype)).sum(-1)


def relabel_goals(low_obs: Tensor, low_actions: Tensor, low_mask: Tensor, next_obs: Tensor, goal: Tensor,
                  policy: LowerPolicy, num_candidates: int, goal_range: float, *, scale: float = 0.5,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """HIRO's off-policy correction: g~ = argmax over :func:`goal_candidates` of :func:`candidate_log_likelihood`.

    Args:
        low_obs, low_actions, low_mask: the segment, as in :func:`candidate_log_likelihood`.
        next_obs: (B, obs_dim) s_{t+c} (the state after the segment's last real step).
        goal: (B, goal_dim) the stored goal.
        policy, num_candidates, goal_range, scale, generator: as in the two functions above.
    Returns:
        (relabelled goal (B, goal_dim), candidates (B, goal_dim, K), log-likelihoods (B, K)). Ties go to the
        first candidate.

    Taught in notebooks/09_hiro_fun.py (section "The off-policy correction").
    """
    goal_dim = goal.shape[-1]
    candidates = goal_candidates(low_obs[:, 0, :goal_dim], next_obs[:, :goal_dim], goal, num_candidates, goal_range,
                                 scale=scale, generator=generator)
    log_lik = candidate_log_likelihood(low_obs, low_actions, low_mask, candidates, policy)
    best = log_lik.argmax(dim=1)
    chosen = candidates.gather(2, best[:, None, None].expand(-1, goal_dim, 1)).squeeze(2)
    return chosen, candidates, log_lik


# ============================================================================================ the agent
class HIRO:
    """The two-level HIRO agent (an :class:`peach_lite.runner.Agent` over the maze's Dict observations).

    Args:
        obs_dim, action_dim: sizes of the env's ``observation`` vector (goal dims first) and of its action.
        config: :class:`HiroConfig`.
        action_low, action_high: the env's action box (default [-1, 1]).

    Attributes: ``lower`` and ``upper`` (:class:`~peach_lite.td3.TD3`), ``lower_buffer`` and ``upper_buffer``,
    ``relabel_stats`` (mean distance between stored and relabelled goals of the last upper batch).

    Taught in notebooks/09_hiro_fun.py (section "HIRO").
    """

    algorithm: ClassVar[str] = "hiro"

    def __init__(self, obs_dim: int, action_dim: int, config: HiroConfig | None = None, *, action_low: Any = None,
                 action_high: Any = None, device: torch.device | str | None = "cpu"):
        self.config = cfg = config or HiroConfig()
        if not isinstance(cfg, HiroConfig):
            raise ValueError(f"config must be a HiroConfig, got {type(cfg).__name__}")
        check_int("obs_dim", obs_dim, GOAL_DIMS)
        self.obs_dim, self.action_dim, self.goal_dim = int(obs_dim), int(action_dim), GOAL_DIMS
        self.lower = TD3(obs_dim, action_dim, cfg.td3_config(), action_low=action_low, action_high=action_high,
                         cond_dim=GOAL_DIMS, device=device)
        upper_config = TD3Config(**{**asdict(cfg.td3_config(cfg.upper_reward_scale)), "seed": cfg.seed + 1})
        self.upper = TD3(obs_dim, GOAL_DIMS, upper_config, action_low=[-cfg.goal_range] * GOAL_DIMS,
                         action_high=[cfg.goal_range] * GOAL_DIMS, cond_dim=GOAL_DIMS, device=device)
        self.device = self.lower.device
        c = cfg.horizon
        self.lower_buffer = ReplayBuffer(cfg.buffer_size, transition_fields(obs_dim, action_dim, goal=GOAL_DIMS,
                                                                            next_goal=GOAL_DIMS), device=self.device)
        self.upper_buffer = ReplayBuffer(max(1, cfg.buffer_size // c), transition_fields(
            obs_dim, GOAL_DIMS, end_goal=GOAL_DIMS, low_obs=(c, obs_dim), low_actions=(c, action_dim), low_mask=(c,)),
            device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 2)
        self.env_steps, self.lower_updates = 0, 0
        self.env_id: str | None = None
        self.relabel_stats: dict[str, float] = {}
        self.lower_snapshots: list[dict[str, Tensor]] = []
        """Copies of the lower actor taken during training (:func:`train_hiro`), oldest first: the widget's ages."""
        self.goal_override: Callable[[dict[str, Tensor]], Tensor] | None = None
        """A diagnostic: a scripted upper level ``obs -> (n, goal_dim) goals`` (e.g. toward the waypoint oracle's
        next doorway) used instead of the learned one, to tell a weak lower level from a weak upper level."""
        self.begin_episode(TaskBatch.single(), explore=False)

    @classmethod
    def from_env(cls, env: Any, config: HiroConfig | None = None) -> "HIRO":
        """An agent sized for a maze env (Dict observation with an ``observation`` Box); remembers its id."""
        space = env.observation_space["observation"]
        agent = cls(space.shape[0], env.action_space.shape[0], config, action_low=env.action_space.low,
                    action_high=env.action_space.high)
        agent.env_id = env.spec.id if env.spec is not None else None
        return agent

    # --- the Agent protocol ----------------------------------------------------------------------
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """Explore and store (True) or act greedily (False); every row starts a new goal at its first step."""
        n, c = len(tasks), self.config.horizon
        self.explore, self._t = bool(explore), 0
        self.goal = torch.zeros(n, GOAL_DIMS, device=self.device)
        """(n, goal_dim) each env's current relative goal."""
        self._seg = {"start": torch.zeros(n, self.obs_dim), "end_goal": torch.zeros(n, GOAL_DIMS),
                     "goal": torch.zeros(n, GOAL_DIMS), "reward": torch.zeros(n), "low_obs": torch.zeros(n, c, self.obs_dim),
                     "low_actions": torch.zeros(n, c, self.action_dim), "low_mask": torch.zeros(n, c)}
        self._open = torch.zeros(n, dtype=torch.bool)

    @torch.no_grad()
    def act(self, obs: dict[str, Tensor]) -> Tensor:
        """Every c steps the upper level picks each env's goal (uniform during warm-up); the lower level acts on
        (state, goal). (n, ...) Dict observation -> (n, action_dim) env actions."""
        state, end_goal = obs["observation"].to(self.device), obs["desired_goal"].to(self.device)
        if self._t % self.config.horizon == 0:
            if self.goal_override is not None:
                goal = self.goal_override(obs).to(self.device).clamp(-self.config.goal_range, self.config.goal_range)
            elif self.explore and self.env_steps < self.config.random_goal_steps:
                goal = (torch.rand(len(state), GOAL_DIMS, generator=self.generator, device=self.device) * 2 - 1) * self.config.goal_range
            else:
                goal = self.upper.action_scale.to_env(self.upper.policy(state, end_goal, deterministic=not self.explore))
            self.goal = goal
            seg = self._seg
            seg["start"], seg["end_goal"], seg["goal"] = state.clone(), end_goal.clone(), goal.clone()
            seg["reward"].zero_(), seg["low_mask"].zero_()
            self._open = torch.ones(len(state), dtype=torch.bool)
        action = self.lower.policy(state, self.goal, deterministic=not self.explore)
        return self.lower.action_scale.to_env(action).cpu()

    def observe(self, step: Step) -> None:
        """Store the lower transition (reward -‖s + g - s'‖, next goal h(s, g, s')); close the upper segment of rows
        whose c steps are done or whose episode ended, and store it."""
        cfg, mask = self.config, step.mask
        state, next_state = step.obs["observation"], step.next_obs["observation"]
        next_goal = goal_transition(state[:, :GOAL_DIMS], self.goal, next_state[:, :GOAL_DIMS])
        action = self.lower.action_scale.from_env(step.action.to(self.device))
        i = self._t % cfg.horizon
        seg = self._seg
        seg["low_obs"][:, i], seg["low_actions"][:, i] = state, action
        seg["low_mask"][:, i] = mask.float()
        seg["reward"] += torch.where(mask, step.reward, torch.zeros_like(step.reward))
        if self.explore:
            self.env_steps += int(mask.sum())
            self.lower_buffer.add_batch(obs=state[mask], action=action[mask], goal=self.goal[mask],
                                        reward=lower_reward(state[:, :GOAL_DIMS], self.goal, next_state[:, :GOAL_DIMS])[mask],
                                        next_obs=next_state[mask], next_goal=next_goal[mask], done=torch.zeros(int(mask.sum())))
        self.goal = next_goal
        self._t += 1
        close = mask & self._open & (step.terminated | step.truncated | torch.tensor(self._t % cfg.horizon == 0))
        if self.explore and close.any():
            self.upper_buffer.add_batch(obs=seg["start"][close], action=self.upper.action_scale.from_env(seg["goal"][close]),
                                        reward=seg["reward"][close], next_obs=next_state[close],
                                        done=step.terminated[close].float(), end_goal=seg["end_goal"][close],
                                        low_obs=seg["low_obs"][close], low_actions=seg["low_actions"][close],
                                        low_mask=seg["low_mask"][close])
        self._open &= ~close

    def end_episode(self) -> None:
        """Nothing left open: every segment closed at its row's last step."""

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` lower-level TD3 steps; one upper-level step (relabelled) per ``upper_every`` of them."""
        check_int("num_updates", num_updates, 0)
        losses: dict[str, Tensor] = {}
        if len(self.lower_buffer) < self.config.batch_size:
            return losses
        for _ in range(num_updates):
            batch = self.lower_buffer.sample(self.config.batch_size, self.generator)
            losses = {f"lower_{k}": v for k, v in self.lower.update(batch, batch["goal"], batch["next_goal"]).items()}
            self.lower_updates += 1
            if self.lower_updates % self.config.upper_every == 0 and len(self.upper_buffer) > 0:
                losses |= {f"upper_{k}": v for k, v in self.update_upper().items()}
        return losses

    def update_upper(self, batch: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """One upper-level TD3 step on (s_t, g~, sum R, s_{t+c}), g~ relabelled when ``correction`` is on.

        Taught in notebooks/09_hiro_fun.py (section "The off-policy correction").
        """
        cfg = self.config
        batch = self.upper_buffer.sample(cfg.batch_size, self.generator) if batch is None else batch
        if cfg.correction:
            stored = self.upper.action_scale.to_env(batch["action"])
            chosen, _, _ = relabel_goals(batch["low_obs"], batch["low_actions"], batch["low_mask"], batch["next_obs"], stored,
                                         self.lower.actor, cfg.num_candidates, cfg.goal_range, scale=cfg.candidate_scale,
                                         generator=self.generator)
            self.relabel_stats = {"relabel_shift": float((chosen - stored).norm(dim=1).mean())}
            batch = {**batch, "action": self.upper.action_scale.from_env(chosen)}
        return self.upper.update(batch, batch["end_goal"], batch["end_goal"])

    # --- checkpoints -------------------------------------------------------------------------------
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the agent."""
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()}
        return {"env_id": self.env_id, "obs_dim": self.obs_dim, "action_dim": self.action_dim,
                "action_low": self.lower.action_scale.low.tolist(), "action_high": self.lower.action_scale.high.tolist(),
                "num_snapshots": len(self.lower_snapshots), "config": config}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """Both levels' networks and the lower actor's snapshots (no replay, no optimizer)."""
        state = {f"{level}_{k}": v for level in ("lower", "upper")
                 for k, v in getattr(self, level).state_dict(include_optimizer=False).items() if k != "counters"}
        state |= {f"lower_snapshot{i}": snap for i, snap in enumerate(self.lower_snapshots)}
        return state

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "HIRO":
        """Rebuild from ``arch`` and load the networks (the saved config, replay capacity included)."""
        arch, state = payload["arch"], payload["state"]
        config = HiroConfig(**{**arch["config"], "hidden": tuple(arch["config"]["hidden"])})
        agent = cls(arch["obs_dim"], arch["action_dim"], config, action_low=arch["action_low"], action_high=arch["action_high"],
                    device=device or "cpu")
        agent.env_id = arch.get("env_id")
        for level in ("lower", "upper"):
            getattr(agent, level).load_state_dict({k.removeprefix(f"{level}_"): v for k, v in state.items()
                                                   if k.startswith(f"{level}_") and not k.startswith("lower_snapshot")})
        agent.lower_snapshots = [state[f"lower_snapshot{i}"] for i in range(arch.get("num_snapshots", 0))]
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Success rate on the maze's 20 held-out goals (greedy, env i reset with seed EVAL_SEED + i)."""
        from peach_lite.hac import evaluate_success

        return evaluate_success(self, SUCCESS_ID, seed=EVAL_SEED)

    def snapshot_actor(self, index: int) -> Any:
        """A copy of the lower actor with the weights of ``lower_snapshots[index]`` (for relabelling with an old policy).

        Taught in notebooks/09_hiro_fun.py (section "The relabel explorer").
        """
        import copy

        actor = copy.deepcopy(self.lower.actor)
        actor.load_state_dict(self.lower_snapshots[index])
        return actor.requires_grad_(False)


# ============================================================================================ measurements
def oracle_goals(obs: dict[str, Tensor], goal_range: float) -> Tensor:
    """A scripted upper level: goal_range times the waypoint oracle's action (toward the next doorway, then the end
    goal), so a lower level that follows goals well reaches the end goal. (n, ...) Dict obs -> (n, 2).

    Taught in notebooks/09_hiro_fun.py (section "Which level is the bottleneck?").
    """
    from peach_lite.envs.oracles import maze_waypoint_policy

    rows = [maze_waypoint_policy({k: v[i].numpy() for k, v in obs.items()}) for i in range(len(obs["observation"]))]
    return goal_range * torch.as_tensor(np.stack(rows), dtype=torch.float32)


def relabel_accuracy(actor: LowerPolicy, goal_range: float, *, horizon: int = 10, num_goals: int = 1000,
                     num_candidates: int = 10, scale: float = 0.5, envs_per_batch: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Does the correction recover the goal a lower policy was actually pursuing? ``num_goals`` random true goals
    g* ~ U[-goal_range, goal_range]^2, each run for c greedy steps of ``actor`` from a maze start (a random room),
    then relabelled from a stale goal drawn from the same distribution.

    Returns:
        ``{"relabel_error": (N,), "stale_error": (N,), "reached_error": (N,)}``: ‖g~ - g*‖, ‖g_stale - g*‖, and
        ‖(s_{t+c} - s_t) - g*‖ (how well the lower policy reached g*; separates a weak lower level from a weak
        likelihood ranking).

    Taught in notebooks/09_hiro_fun.py (section "How well does the correction recover the goal?").
    """
    from peach_lite.envs.point_mass import MazeTask
    from peach_lite.runner import GymTaskEnvs

    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    envs = GymTaskEnvs(SUCCESS_ID, envs_per_batch, seed=seed)
    out: dict[str, list[np.ndarray]] = {"relabel_error": [], "stale_error": [], "reached_error": []}
    done = 0
    while done < num_goals:
        n = min(envs_per_batch, num_goals - done)
        tasks = TaskBatch.from_list([MazeTask(goal=(2.0, 2.0), start_room=int(r)) for r in rng.integers(0, 4, n)], split="other")
        obs = envs.reset(tasks, seed=int(rng.integers(1 << 30)))
        true = torch.as_tensor(rng.uniform(-goal_range, goal_range, (n, GOAL_DIMS)), dtype=torch.float32)
        goal, low_obs, low_actions = true.clone(), [], []
        for _ in range(horizon):
            state = obs["observation"]
            with torch.no_grad():
                action = actor(state, goal)
            obs = envs.step(action.numpy(), np.ones(n, bool))[0]
            obs = {k: torch.as_tensor(np.stack([o[k] for o in obs])) for k in obs[0]} if isinstance(obs, list) else obs
            low_obs.append(state), low_actions.append(action)
            goal = goal_transition(state[:, :GOAL_DIMS], goal, obs["observation"][:, :GOAL_DIMS])
        low_obs_t, low_actions_t = torch.stack(low_obs, 1), torch.stack(low_actions, 1)
        stale = torch.as_tensor(rng.uniform(-goal_range, goal_range, (n, GOAL_DIMS)), dtype=torch.float32)
        chosen, _, _ = relabel_goals(low_obs_t, low_actions_t, torch.ones(n, horizon), obs["observation"], stale, actor,
                                     num_candidates, goal_range, scale=scale, generator=generator)
        reached = obs["observation"][:, :GOAL_DIMS] - low_obs_t[:, 0, :GOAL_DIMS]
        out["relabel_error"].append((chosen - true).norm(dim=1).numpy())
        out["stale_error"].append((stale - true).norm(dim=1).numpy())
        out["reached_error"].append((reached - true).norm(dim=1).numpy())
        done += n
    envs.close()
    return {k: np.concatenate(v) for k, v in out.items()}


# ============================================================================================ training
def train_hiro(*, seed: int, progress: bool = True, env_id: str = MAZE_DENSE_ID, total_steps: int = 60_000,
               envs_in_lockstep: int = 8, updates_per_step: float = 0.5, eval_every_steps: int = 10_000,
               num_snapshots: int = 4, **config: Any) -> tuple[HIRO, dict[str, Any]]:
    """Train HIRO with the shared loop: ``envs_in_lockstep`` maze envs stepped together, ``updates_per_step``
    lower-level updates per env step (reference: 1; 0.5 here for the CPU budget), success on the held-out goals
    every ``eval_every_steps``; ``num_snapshots`` copies of the lower actor spread over training.

    Args:
        config: :class:`HiroConfig` fields (``correction=False`` is the no-correction ablation).
    Returns:
        (agent, meta) with the evaluation curve, the History and the wall time.

    Taught in notebooks/09_hiro_fun.py (section "Training HIRO").
    """
    from peach_lite.envs import make
    from peach_lite.hac import success_evaluator
    from peach_lite.loop import GymTaskEnvs, Runner, TrainConfig, train

    check_int("total_steps", total_steps, 1)
    check_int("envs_in_lockstep", envs_in_lockstep, 1)
    check_range("updates_per_step", updates_per_step, 0.0, None)
    check_int("num_snapshots", num_snapshots, 0)
    env = make(env_id)
    agent = HIRO.from_env(env, HiroConfig(**{**config, "seed": seed}))
    train_tasks = env.unwrapped.train_tasks()
    env.close()
    envs = GymTaskEnvs(env_id, envs_in_lockstep, seed=seed)
    per_round = envs_in_lockstep
    rounds_per_eval = max(1, eval_every_steps // per_round)
    snap_every = max(1, total_steps // max(num_snapshots, 1))

    def snapshot(round_index: int, hiro: HIRO, history: Any) -> None:
        if num_snapshots and history.total_steps >= snap_every * (len(hiro.lower_snapshots) + 1):
            hiro.lower_snapshots.append({k: v.clone() for k, v in hiro.lower.actor.state_dict().items()})
        if hiro.relabel_stats:
            history.extra.setdefault("relabel_shift", []).append(hiro.relabel_stats["relabel_shift"])

    loop = TrainConfig(total_steps=total_steps, steps_per_round=1, updates_per_round=max(1, round(per_round * updates_per_step)),
                       warmup_steps=0, eval_every=rounds_per_eval, eval_episodes=1, log_every=500, seed=seed, progress=progress)
    start = time.perf_counter()
    history = train(agent, Runner(envs, train_tasks, seed=seed), loop, evaluator=success_evaluator(SUCCESS_ID, seed=EVAL_SEED),
                    eval_metric="success", callbacks=[snapshot])
    envs.close()
    saved = history.to_dict()
    saved["extra"] = {k: v[:: max(1, len(v) // 200)] for k, v in saved["extra"].items()}
    return agent, {"steps": history.total_steps, "wall_time_s": round(time.perf_counter() - start, 1),
                   "eval_steps": history.eval_steps, "eval_success": history.eval_values,
                   "final_success": history.eval_values[-1] if history.eval_values else float("nan"),
                   "history": {k: saved[k] for k in ("eval_steps", "eval_values", "loss_steps", "losses", "extra", "total_steps",
                                                     "episodes", "num_updates", "elapsed")}}


CLI = TrainSpec(train=train_hiro, presets={"maze": {"total_steps": 60_000}, "maze-no-correction": {"total_steps": 60_000, "correction": False}},
                score_name="test_success", tolerance=0.1)
"""``python -m peach_lite train hiro --preset maze --seed 0 --out data/checkpoints/hiro_maze.pt``."""
