"""FeUdal Networks (FuN; Vezhnevets et al., ICML 2017): a manager that emits directions every c steps, trained by
the transition policy gradient, and a worker paid an intrinsic cosine reward for moving in those directions.

Composition (no private loop, buffer or network):

* the learner is the shared :class:`peach_lite.ppo.PPO` with one epoch (A2C): the worker's categorical policy
  and value are its policy output; the manager's two terms (the transition policy gradient and its value loss)
  are the policy's ``extra_losses``, so one Adam step trains both, with their gradients clipped separately;
* the manager's advantages come from :func:`peach_lite.mlsh.macro_advantages` (GAE over macro steps of c env
  steps, as MLSH's master), the worker's from :meth:`PPO.make_batch` on r + alpha r^I;
* the networks are :func:`peach_lite.nets.mlp`; :class:`FuN` is a :class:`peach_lite.runner.Agent`, trained
  by :func:`peach_lite.loop.train` (whole lockstep episodes per round) in :func:`train_fun`.

The two rules, as in the paper:

* manager: ∇ = A^M_t ∇_θ d_cos(s_{t+c} - s_t, g_t(θ)) (:func:`transition_policy_loss`), A^M = R - V^M;
* worker: advantage r + alpha r^I - V^W, r^I_t = (1/c) sum_{i=1..c} d_cos(s_t - s_{t-i}, g_{t-i})
  (:func:`intrinsic_reward`), and logits U w with w = phi(sum of the last c goals).
* No gradient between them: the worker reads the goals detached, and the manager's loss depends on the manager only.

Simplifications (a CPU lesson on a 2-d maze), each stated:

* MLPs instead of the manager's dilated LSTM and the worker's LSTM (the maze state is Markov);
* the manager's state space is the raw position (x, y) (no learned latent f_Mspace), so goals are directions in
  the plane and s_{t+c} - s_t is the displacement;
* the manager emits a goal every c steps and holds it (the paper emits one every step, pooled over c);
* the manager explores with Gaussian noise on its unit goal (the paper: occasional random goals);
* the worker's actions are discrete: 8 unit directions and no-op (9 logits U w);
* env rewards are scaled by ``reward_scale``; terms of r^I with t - i < 0 count as 0.

``flat=True`` drops the manager: a flat A2C on (state, end goal) with the same learner, the baseline.

Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.cli import TrainSpec
from peach_lite.mlsh import macro_advantages
from peach_lite.nets import mlp
from peach_lite.ppo import PPO, PPOBatch, PPOConfig, PolicyOutput, normalize_advantages, value_loss
from peach_lite.runner import Step, TaskBatch
from peach_lite.validation import check_int, check_int_sequence, check_range

__all__ = ["FuNConfig", "FuN", "d_cos", "intrinsic_reward", "transition_policy_loss", "DIRECTIONS", "train_fun", "CLI",
           "EVAL_SEED"]

EVAL_SEED = 12_345
"""Seed of the first held-out evaluation episode (HIRO's; see :data:`peach_lite.hiro.EVAL_SEED`)."""
DIRECTIONS = torch.tensor([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)] + [[0.0, 0.0]])
"""(9, 2) the worker's actions in env units: 8 unit directions (counter-clockwise from +x) and no-op."""


@dataclass
class FuNConfig:
    """FuN hyperparameters (algorithms.md §1.6 for c; the rest chosen for the maze, see the module's simplifications).

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layers of every network (MLPs replace the paper's LSTMs)."""
    horizon: int = 10
    """c, env steps per manager goal, and the window of the intrinsic reward and of the goal pooling (paper: 10)."""
    embed_dim: int = 16
    """k, size of the worker's action embeddings U and of w = phi(goals) (paper: 16)."""
    alpha: float = 1.0
    """Weight of the intrinsic reward in the worker's reward r + alpha r^I (paper: tuned in [0, 1])."""
    reward_scale: float = 0.1
    """Env rewards (-distance) are multiplied by this for both levels."""
    worker_gamma: float = 0.95
    """Worker discount (paper 0.95)."""
    manager_gamma: float = 0.99
    """Manager discount per macro step of c env steps (paper 0.99 per env step)."""
    gae_lambda: float = 0.95
    """GAE lambda of both levels."""
    lr: float = 1e-3
    """Adam learning rate of the one optimizer over both levels."""
    entropy_coef: float = 0.01
    """Entropy bonus of the worker's policy."""
    value_coef: float = 0.5
    """Weight of each level's critic loss."""
    goal_noise: float = 0.3
    """Std of the Gaussian noise added to the manager's unit goal while exploring (then renormalised)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of each level's parameters, separately."""
    flat: bool = False
    """True: no manager, a flat A2C on (state, end goal) with the same learner (the baseline)."""
    seed: int = 0
    """Seeds the networks and the action and goal sampling."""

    def __post_init__(self):
        self.hidden = check_int_sequence("hidden", self.hidden)
        for name, low in [("horizon", 1), ("embed_dim", 1), ("seed", 0)]:
            check_int(name, getattr(self, name), low)
        for name, low, high in [("alpha", 0.0, None), ("reward_scale", 1e-8, None), ("worker_gamma", 0.0, 1.0),
                                ("manager_gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0), ("lr", 1e-8, 1.0),
                                ("entropy_coef", 0.0, None), ("value_coef", 0.0, None), ("goal_noise", 0.0, None),
                                ("max_grad_norm", 1e-8, None)]:
            check_range(name, getattr(self, name), low, high)
        if not isinstance(self.flat, bool):
            raise ValueError(f"flat must be True or False, got {self.flat!r}")


# ============================================================================================ pieces
def d_cos(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity a.b / (‖a‖ ‖b‖) over the last dim: (..., d) x (..., d) -> (...); 0 when either is ~0.

    Scale-invariant in both arguments, so g . ∇_g d_cos = 0: the manager's gradient only turns its goal.

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """
    return (a * b).sum(-1) / (a.norm(dim=-1).clamp_min(eps) * b.norm(dim=-1).clamp_min(eps))


def intrinsic_reward(positions: Tensor, goals: Tensor, horizon: int) -> Tensor:
    """The worker's intrinsic reward for each action, r^I = (1/c) sum_{i=1..c} d_cos(s - s_{-i}, g_{-i}) at the state the
    action leads to: entry t is (1/c) sum_{i=1..c, t+1-i >= 0} d_cos(s_{t+1} - s_{t+1-i}, g_{t+1-i}).

    Args:
        positions: (n, T + 1, d) s_0 .. s_T in the manager's space (here the position).
        goals: (n, T, d) g_0 .. g_{T-1}, the goal in force at each step.
        horizon: c.
    Returns:
        (n, T).

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """
    check_int("horizon", horizon, 1)
    n, steps = goals.shape[:2]
    if positions.shape[:2] != (n, steps + 1):
        raise ValueError(f"positions must be (n, T + 1, d) = ({n}, {steps + 1}, d), got {tuple(positions.shape)}")
    out = torch.zeros(n, steps, dtype=goals.dtype)
    for i in range(1, min(horizon, steps) + 1):
        # j = t + 1 - i runs over 0 .. T - i, i.e. t over i - 1 .. T - 1
        out[:, i - 1:] += d_cos(positions[:, i:] - positions[:, : steps + 1 - i], goals[:, : steps + 1 - i])
    return out / horizon


def transition_policy_loss(advantages: Tensor, displacement: Tensor, goals: Tensor, mask: Tensor | None = None) -> Tensor:
    """The manager's transition policy gradient as a loss: -mean(A^M d_cos(s_{t+c} - s_t, g_t(θ))).

    Args:
        advantages: (n, M) A^M (constants); displacement: (n, M, d) s_{t+c} - s_t (constants);
        goals: (n, M, d) the manager's goals, differentiable; mask: (n, M) real macro steps.
    Returns:
        0-d loss; its gradient is -A^M ∇_θ d_cos.

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """
    term = advantages.detach() * d_cos(displacement.detach(), goals)
    return -(term.mean() if mask is None else term[mask].mean())


# ============================================================================================ the agent
class FuN(nn.Module):
    """Manager and worker (or, with ``flat``, one A2C policy) as an :class:`peach_lite.runner.Agent` on the maze.

    Args:
        obs_dim: size of the maze's ``observation`` (position first); the end goal is 2-d.
        config: :class:`FuNConfig`.

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """

    algorithm: ClassVar[str] = "fun"

    def __init__(self, obs_dim: int, config: FuNConfig | None = None):
        super().__init__()
        self.config = cfg = config or FuNConfig()
        if not isinstance(cfg, FuNConfig):
            raise ValueError(f"config must be a FuNConfig, got {type(cfg).__name__}")
        check_int("obs_dim", obs_dim, 2)
        self.obs_dim, self.goal_dim, self.num_actions = int(obs_dim), 2, len(DIRECTIONS)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            if cfg.flat:
                self.policy_net = mlp(obs_dim + 2, self.num_actions, cfg.hidden, nn.Tanh)
                self.value_net = mlp(obs_dim + 2, 1, cfg.hidden, nn.Tanh)
            else:
                self.worker_u = mlp(obs_dim, self.num_actions * cfg.embed_dim, cfg.hidden, nn.Tanh)
                self.worker_phi = nn.Linear(2, cfg.embed_dim, bias=False)
                self.worker_value = mlp(obs_dim + 2, 1, cfg.hidden, nn.Tanh)
                self.manager = mlp(obs_dim + 2, 2, cfg.hidden, nn.Tanh)
                self.manager_value = mlp(obs_dim + 2, 1, cfg.hidden, nn.Tanh)
        groups = [list(self.parameters())] if cfg.flat else [self.worker_params(), self.manager_params()]
        self.learner = PPO(self.evaluate_batch, groups, PPOConfig(lr=cfg.lr, gamma=cfg.worker_gamma, gae_lambda=cfg.gae_lambda, epochs=1,
                                                                  value_coef=cfg.value_coef, entropy_coef=cfg.entropy_coef,
                                                                  max_grad_norm=cfg.max_grad_norm))
        self.generator = torch.Generator().manual_seed(cfg.seed + 1)
        self.env_id: str | None = None
        self.value_scale = 10.0
        """The critics predict returns / value_scale (keeps their losses O(1))."""
        self._rollout: dict[str, Tensor] | None = None
        self.begin_episode(TaskBatch.single(), explore=False)

    def worker_params(self) -> list[nn.Parameter]:
        """The worker's parameters (U, phi, V^W)."""
        return [*self.worker_u.parameters(), *self.worker_phi.parameters(), *self.worker_value.parameters()]

    def manager_params(self) -> list[nn.Parameter]:
        """The manager's parameters (goal network, V^M)."""
        return [*self.manager.parameters(), *self.manager_value.parameters()]

    # --- the networks ------------------------------------------------------------------------------
    def manager_goal(self, state: Tensor, end_goal: Tensor) -> Tensor:
        """g_t: (*B, obs_dim), (*B, 2) -> (*B, 2) the manager's unit direction (differentiable).

        Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
        """
        raw = self.manager(torch.cat([state, end_goal], -1))
        return raw / raw.norm(dim=-1, keepdim=True).clamp_min(1e-6)

    def worker_logits(self, state: Tensor, pooled_goal: Tensor) -> Tensor:
        """Logits U w: U (*B, 9, k) from the state, w = phi(sum of the last c goals) (*B, k), goals detached.

        Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
        """
        u = self.worker_u(state).unflatten(-1, (self.num_actions, self.config.embed_dim))
        w = self.worker_phi(pooled_goal.detach())
        return (u @ w[..., None]).squeeze(-1)

    def evaluate_batch(self, batch: PPOBatch, cond: Any = None) -> PolicyOutput:
        """The policy function of the shared PPO learner: the worker's (or flat policy's) logits and value on
        ``batch.obs``; the manager's transition policy loss and value loss as extra losses.

        Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
        """
        obs, cfg = batch.obs, self.config
        if cfg.flat:
            x = torch.cat([obs["state"], obs["end_goal"]], -1)
            return PolicyOutput(self.policy_net(x), self.value_net(x).squeeze(-1))
        logits = self.worker_logits(obs["state"], obs["pooled"])
        value = self.worker_value(torch.cat([obs["state"], obs["pooled"].detach()], -1)).squeeze(-1)
        m = batch.extra
        goals = self.manager_goal(m["m_state"], m["m_end_goal"])
        m_value = self.manager_value(torch.cat([m["m_state"], m["m_end_goal"]], -1)).squeeze(-1)
        extra = {"manager_policy": transition_policy_loss(m["m_advantages"], m["m_displacement"], goals, m["m_mask"]),
                 "manager_value": cfg.value_coef * value_loss(m_value, m["m_returns"], m["m_mask"])}
        return PolicyOutput(logits, value, extra)

    # --- the Agent protocol ----------------------------------------------------------------------
    def begin_episode(self, tasks: TaskBatch, *, explore: bool) -> None:
        """A new lockstep episode: empty goal history; exploring train episodes are kept for :meth:`learn`."""
        n = len(tasks)
        self.explore, self._record, self._t = bool(explore), bool(explore) and tasks.split == "train", 0
        self._goal_history = torch.zeros(n, self.config.horizon, 2)
        self.goal = torch.zeros(n, 2)
        """(n, 2) each env's current goal (the manager's direction)."""
        self._buf: dict[str, list[Tensor]] = {}

    @torch.no_grad()
    def act(self, obs: dict[str, Tensor]) -> Tensor:
        """Every c steps the manager sets each env's goal; the worker samples (or, greedy, picks) one of 9 moves.
        (n, ...) Dict observation -> (n, 2) env actions."""
        cfg = self.config
        state, end_goal = obs["observation"], obs["desired_goal"]
        if cfg.flat:
            x = torch.cat([state, end_goal], -1)
            logits, value = self.policy_net(x), self.value_net(x).squeeze(-1)
            pooled = torch.zeros(len(state), 2)
        else:
            if self._t % cfg.horizon == 0:
                goal = self.manager_goal(state, end_goal)
                m_value = self.manager_value(torch.cat([state, end_goal], -1)).squeeze(-1)
                if self.explore and cfg.goal_noise > 0:
                    goal = goal + cfg.goal_noise * torch.randn(goal.shape, generator=self.generator)
                    goal = goal / goal.norm(dim=-1, keepdim=True).clamp_min(1e-6)
                self.goal = goal
                self._append(m_state=state, m_end_goal=end_goal, m_value=m_value)
            self._goal_history = torch.cat([self._goal_history[:, 1:], self.goal[:, None]], 1)
            pooled = self._goal_history.sum(1)
            logits = self.worker_logits(state, pooled)
            value = self.worker_value(torch.cat([state, pooled], -1)).squeeze(-1)
        log_probs = torch.log_softmax(logits, -1)
        if self.explore:
            action = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(1)
        else:
            action = log_probs.argmax(-1)
        self._append(state=state, end_goal=end_goal, pooled=pooled, goal=self.goal.clone(), action=action,
                     log_prob=log_probs.gather(1, action[:, None]).squeeze(1), value=value)
        self._t += 1
        return DIRECTIONS[action]

    def observe(self, step: Step) -> None:
        """Keep the reward, the mask and the next position of the step."""
        self._append(reward=step.reward, mask=step.mask, next_position=step.next_obs["observation"][:, :2])

    def end_episode(self) -> None:
        """Stack the episode into (n, T, ...) tensors (``last_episode``); exploring train episodes go to :meth:`learn`."""
        self.last_episode = {name: torch.stack(items, 1) for name, items in self._buf.items()}
        """The last episode's tensors (n, T, ...) (manager fields (n, M, ...)), e.g. for :meth:`direction_cosine`."""
        if self._record:
            self._rollout = self.last_episode

    def learn(self, num_updates: int = 1) -> dict[str, Tensor]:
        """One A2C step of both levels on the last exploring episode (``num_updates`` is ignored, as MLSH's)."""
        roll, self._rollout = self._rollout, None
        if roll is None:
            return {}
        return self.learner.update(self.make_batch(roll))

    def make_batch(self, roll: dict[str, Tensor]) -> PPOBatch:
        """The learner's batch from an episode: the worker's rewards r + alpha r^I and GAE; the manager's macro
        advantages, returns and displacements s_{t+c} - s_t in ``extra``.

        Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
        """
        cfg = self.config
        mask, reward = roll["mask"], cfg.reward_scale * roll["reward"]
        obs = {"state": roll["state"], "end_goal": roll["end_goal"], "pooled": roll["pooled"]}
        if cfg.flat:
            return self.learner.make_batch(obs, roll["action"], roll["log_prob"], reward, roll["value"], mask=mask,
                                           value_scale=self.value_scale)
        positions = torch.cat([roll["state"][:, :1, :2], roll["next_position"]], 1)  # (n, T + 1, 2)
        worker_reward = reward + cfg.alpha * intrinsic_reward(positions, roll["goal"], cfg.horizon)
        c, steps = cfg.horizon, mask.shape[1]
        m_adv, m_ret = macro_advantages(reward, mask, roll["m_value"] * self.value_scale, c, cfg.manager_gamma, cfg.gae_lambda)
        m_mask = mask[:, ::c]
        starts = torch.arange(0, steps, c)
        ends = (starts + c).clamp(max=steps)
        displacement = positions[:, ends] - positions[:, starts]
        extra = {"m_state": roll["m_state"], "m_end_goal": roll["m_end_goal"], "m_advantages": normalize_advantages(m_adv, m_mask),
                 "m_returns": m_ret / self.value_scale, "m_mask": m_mask, "m_displacement": displacement}
        return self.learner.make_batch(obs, roll["action"], roll["log_prob"], worker_reward, roll["value"], mask=mask,
                                       value_scale=self.value_scale, extra=extra)

    # --- measurements ----------------------------------------------------------------------------
    def direction_cosine(self, episode: dict[str, Tensor] | None = None) -> float:
        """Does the worker follow the manager? Mean d_cos(s_{t+c} - s_t, g_t) over the real full macro steps of an
        episode (default: the last one).

        Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
        """
        roll = self.last_episode if episode is None else episode
        c, steps = self.config.horizon, roll["mask"].shape[1]
        positions = torch.cat([roll["state"][:, :1, :2], roll["next_position"]], 1)
        starts = torch.arange(0, steps - c + 1, c)
        full = roll["mask"][:, starts + c - 1]
        cos = d_cos(positions[:, starts + c] - positions[:, starts], roll["goal"][:, starts])
        return float(cos[full].mean()) if full.any() else float("nan")

    def oracle_cosine(self, episode: dict[str, Tensor] | None = None) -> float:
        """Does the manager point the right way? Mean d_cos(g_t, the waypoint oracle's direction at s_t) over the
        real macro steps of an episode (default: the last one).

        Taught in notebooks/09_hiro_fun.py (section "Which level is the bottleneck?").
        """
        from peach_lite.envs.oracles import maze_waypoint_policy

        roll = self.last_episode if episode is None else episode
        c = self.config.horizon
        real = roll["mask"][:, ::c]
        state, end_goal, goal = roll["m_state"][real], roll["m_end_goal"][real], roll["goal"][:, ::c][real]
        oracle = torch.as_tensor(np.stack([maze_waypoint_policy({"achieved_goal": s[:2].numpy(), "desired_goal": g.numpy()})
                                           for s, g in zip(state, end_goal)]), dtype=torch.float32)
        return float(d_cos(goal, oracle).mean()) if len(goal) else float("nan")

    # --- checkpoints -------------------------------------------------------------------------------
    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the agent."""
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()}
        return {"env_id": self.env_id, "obs_dim": self.obs_dim, "config": config}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The networks (no optimizer)."""
        return {"nets": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "FuN":
        """Rebuild from ``arch`` and load the networks (CPU)."""
        arch = payload["arch"]
        agent = cls(arch["obs_dim"], FuNConfig(**{**arch["config"], "hidden": tuple(arch["config"]["hidden"])}))
        agent.env_id = arch.get("env_id")
        agent.load_state_dict(payload["state"]["nets"])
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Success rate on the maze's 20 held-out goals (greedy, env i reset with seed EVAL_SEED + i)."""
        from peach_lite.hac import evaluate_success
        from peach_lite.hiro import SUCCESS_ID

        return evaluate_success(self, SUCCESS_ID, seed=EVAL_SEED)

    # --- helpers -------------------------------------------------------------------------------------
    def _append(self, **items: Tensor) -> None:
        for name, value in items.items():
            self._buf.setdefault(name, []).append(value)


# ============================================================================================ training
def train_fun(*, seed: int, progress: bool = True, env_id: str = "peach_lite/PointMazeDense-v0", total_steps: int = 150_000,
              envs_in_lockstep: int = 8, eval_every_steps: int = 15_000, **config: Any) -> tuple[FuN, dict[str, Any]]:
    """Train FuN (or, with ``flat=True``, the flat A2C baseline) with the shared loop: one round = one lockstep
    episode on ``envs_in_lockstep`` training goals, then one A2C step; held-out success every ``eval_every_steps``.

    Returns:
        (agent, meta): evaluation curve, History, wall time, and the worker's direction cosine of the last
        greedy evaluation episodes (``direction_cosine``; NaN for the flat baseline).

    Taught in notebooks/09_hiro_fun.py (section "Training FuN").
    """
    from peach_lite.envs import make
    from peach_lite.hac import evaluate_success
    from peach_lite.hiro import SUCCESS_ID
    from peach_lite.loop import GymTaskEnvs, Runner, TrainConfig, train

    check_int("total_steps", total_steps, 1)
    check_int("envs_in_lockstep", envs_in_lockstep, 1)
    env = make(env_id)
    agent = FuN(env.observation_space["observation"].shape[0], FuNConfig(**{**config, "seed": seed}))
    agent.env_id = env_id
    train_tasks = env.unwrapped.train_tasks()
    env.close()
    eval_envs = GymTaskEnvs(SUCCESS_ID, 20, seed=EVAL_SEED)
    cosines: list[float] = []
    oracle_cosines: list[float] = []

    def evaluator(fun: FuN) -> tuple[float, float]:
        success = evaluate_success(fun, eval_envs, seed=EVAL_SEED)
        cosines.append(float("nan") if fun.config.flat else fun.direction_cosine())
        oracle_cosines.append(float("nan") if fun.config.flat else fun.oracle_cosine())
        return success, float(np.sqrt(success * (1 - success) / 20))

    rounds_per_eval = max(1, eval_every_steps // (envs_in_lockstep * 150))
    loop = TrainConfig(total_steps=total_steps, episodes_per_round=1, updates_per_round=1, warmup_steps=0,
                       eval_every=rounds_per_eval, eval_episodes=1, log_every=1, seed=seed, progress=progress)
    start = time.perf_counter()
    runner = Runner(GymTaskEnvs(env_id, envs_in_lockstep, seed=seed), train_tasks, seed=seed)
    history = train(agent, runner, loop, evaluator=evaluator, eval_metric="success")
    eval_envs.close()
    saved = history.to_dict()
    keep = max(1, len(saved["steps"]) // 300)
    for name in ("steps", "returns", "wall_time"):
        saved[name] = saved[name][::keep]
    return agent, {"steps": history.total_steps, "wall_time_s": round(time.perf_counter() - start, 1),
                   "eval_steps": history.eval_steps, "eval_success": history.eval_values, "eval_cosine": cosines,
                   "final_success": history.eval_values[-1] if history.eval_values else float("nan"),
                   "direction_cosine": cosines[-1] if cosines else float("nan"), "eval_oracle_cosine": oracle_cosines,
                   "oracle_cosine": oracle_cosines[-1] if oracle_cosines else float("nan"),
                   "history": {k: saved[k] for k in ("steps", "returns", "eval_steps", "eval_values", "total_steps", "episodes",
                                                     "num_updates", "elapsed")}}


CLI = TrainSpec(train=train_fun, presets={"maze": {"total_steps": 150_000}, "maze-flat-a2c": {"total_steps": 150_000, "flat": True}},
                score_name="test_success", tolerance=0.1)
"""``python -m peach_lite train fun --preset maze --seed 0 --out data/checkpoints/fun_maze.pt``."""
