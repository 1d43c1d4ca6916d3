"""Meta-RL as task inference (seed 004, Humplik et al. 2019): three recurrent agents on the shared loop.

All three agents read the RL² input ``x_t = [o_t, one_hot(a_{t-1}), r_{t-1}, t / T]`` (a family may add
a fixed lossless re-coding of ``o_t``, see ``TaskFamily.agent_input``) and act with an actor-critic head
on ``[x_t, f_t]``, where ``f_t`` are features of the history. They differ only in how ``f_t`` is learnt
(seed 004, "A", "B", "C"):

* ``"lstm"`` (A, RL²-style): an LSTM over the history; ``f_t`` is trained by the RL loss alone.
* ``"belief"`` (B, the belief network): the LSTM is a *belief module* trained only by supervised
  learning to predict the privileged task description ``h = w`` (arm probabilities, or which goal
  is real); the actor and critic read its penultimate layer **detached**, so no RL gradient reaches
  it. By the theorem of seed 004 its target ``p(w | tau)`` does not depend on the policy, so it may
  also train off-policy from a replay of old episodes (``belief_data="replay"``).
* ``"aux"`` (C, auxiliary head): one shared LSTM trained by the RL loss *plus* the supervised loss
  of a belief head on the same features.

Optionally the features pass through a Gaussian *information bottleneck* (Alemi et al. 2017):
``f ~ N(mu(h), sigma(h)^2)`` with the penalty ``ib_weight * KL(N(mu, sigma^2) || N(0, I))``.

:class:`BeliefAgent` is a :class:`peach_lite.loop.Agent`: :func:`train` runs it through
:func:`peach_lite.loop.train` on the batched task families of :mod:`peach_lite.envs.task_families`
(one batch of whole episodes per round, all in one forward per step), and it learns with
:class:`peach_lite.ppo.PPO`. Off-policy belief training lives in :mod:`peach_lite.belief_offline`.

Command line (trains, saves and records the checkpoint in ``data/MANIFEST.json``)::

    python -m peach_lite train belief --preset kgoal --seed 0 --out data/checkpoints/belief_kgoal.pt

Taught in notebooks/03_task_inference.py.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite import loop
from peach_lite.buffers import ReplayBuffer
from peach_lite.cli import TrainSpec
from peach_lite.envs.task_families import FAMILIES, EpisodeRecorder, Rollout, TaskFamily, make_family
from peach_lite.nets import mlp
from peach_lite.ppo import PPO, PolicyOutput, PPOBatch, PPOConfig
from peach_lite.validation import check_choice, check_int, check_range

__all__ = [
    "AGENTS", "BeliefAgentConfig", "MetaAgent", "AgentOutput", "gaussian_kl", "categorical_belief_loss",
    "bernoulli_belief_loss", "belief_loss", "BeliefAgent", "train", "evaluate", "CLI",
]

AGENTS = ("lstm", "belief", "aux")
"""The three agents of seed 004: A (plain LSTM, RL²), B (belief network), C (auxiliary head)."""


# ============================================================================================ config
@dataclass
class BeliefAgentConfig:
    """Everything that defines one training run of :func:`train`.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    agent: str = "belief"
    """Which agent: one of :data:`AGENTS`."""
    family: str = "kgoal"
    """Task family: one of ``envs.task_families.FAMILIES`` (the K-goal trial is the cheapest with a closed-form Bayes-optimal return)."""
    hidden_dim: int = 64
    """LSTM size (belief module or shared core), >= 1; small enough to train on a laptop CPU."""
    feature_dim: int = 32
    """Size of the features f_t the actor and critic read (the belief net's penultimate layer), >= 1."""
    policy_hidden: tuple[int, ...] = (64,)
    """Hidden layers of the actor and of the critic MLPs on [x_t, f_t], each >= 1."""
    belief_weight: float = 1.0
    """Weight of the supervised belief loss, >= 0 (aux agent: relative to the RL loss; belief agent: relative to ib_weight)."""
    ib_weight: float = 0.0
    """Information-bottleneck strength beta, >= 0; 0 turns the stochastic layer off (deterministic tanh features)."""
    belief_data: str = "on_policy"
    """Data the belief module of the belief agent trains on: ``"on_policy"`` (this batch) or ``"replay"`` (old episodes)."""
    replay_episodes: int = 2048
    """Episodes kept in the belief replay buffer (``belief_data="replay"``), >= 1: the last 32 updates' data at batch 64."""
    num_updates: int = 500
    """Updates (one batch of whole episodes each), >= 0."""
    batch_size: int = 64
    """Episodes (fresh tasks from the env's ``sample_tasks``) per update, >= 2."""
    lr: float = 3e-3
    """Adam learning rate in [1e-8, 1] for all parameters; 3e-3 is stable for every agent here (1e-2 is faster for the
    belief agent but made the plain LSTM agent collapse on the K-goal trials in our runs)."""
    gamma: float = 0.95
    """Discount in [0, 1] used for the advantages (the return reported is undiscounted); on MovementBandits 0.95 reached
    34.1 after 300 updates where 1.0 reached 29.8 in our runs (less variance in 50-step returns)."""
    gae_lambda: float = 0.9
    """GAE lambda in [0, 1] (Schulman et al. 2016)."""
    ppo_epochs: int = 4
    """Gradient steps per batch, >= 1. 1 is A2C; more turns the update into PPO's clipped surrogate (Schulman et al. 2017),
    seed 004's on-policy learner; on MovementBandits 4 epochs reached 29.8 after 300 updates where A2C reached 26.5."""
    clip_ratio: float = 0.2
    """PPO's clip range in [0, 1] for the probability ratio (the PPO paper's 0.2); inactive with one epoch."""
    entropy_coef: float = 0.01
    """Entropy bonus (>= 0) at the first update, annealed linearly to 0 at the last (keeps early exploration)."""
    value_coef: float = 0.5
    """Weight of the critic's squared error, >= 0 (A2C default)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (> 0), applied separately to the recurrent module and to the actor-critic."""
    eval_every: int = 25
    """Evaluate on held-out tasks every this many updates, >= 0 (0: only at the end)."""
    eval_episodes: int = 500
    """Held-out episodes per evaluation, >= 1."""
    seed: int = 0
    """Seeds the networks, the task draws, the rewards and the actions, >= 0."""

    def __post_init__(self) -> None:
        check_choice("agent", self.agent, AGENTS)
        check_choice("family", self.family, FAMILIES)
        check_choice("belief_data", self.belief_data, ["on_policy", "replay"])
        for name, low in [("hidden_dim", 1), ("feature_dim", 1), ("replay_episodes", 1), ("num_updates", 0), ("ppo_epochs", 1),
                          ("batch_size", 2), ("eval_every", 0), ("eval_episodes", 1), ("seed", 0)]:
            check_int(name, getattr(self, name), low)
        self.policy_hidden = tuple(self.policy_hidden)
        for i, size in enumerate(self.policy_hidden):
            check_int(f"policy_hidden[{i}]", size, 1)
        check_range("belief_weight", self.belief_weight, 0.0, None)
        check_range("ib_weight", self.ib_weight, 0.0, None)
        if self.agent == "lstm" and self.belief_data == "replay":
            raise ValueError("belief_data='replay' needs a belief module: use agent='belief', got agent='lstm'")
        self.ppo_config()  # checks lr, gamma, gae_lambda, clip_ratio, entropy_coef, value_coef, max_grad_norm

    def ppo_config(self) -> PPOConfig:
        """The learner's settings (:class:`peach_lite.ppo.PPOConfig`); the entropy bonus anneals over ``num_updates``."""
        return PPOConfig(lr=self.lr, gamma=self.gamma, gae_lambda=self.gae_lambda, epochs=self.ppo_epochs,
                         clip_ratio=self.clip_ratio, value_coef=self.value_coef, entropy_coef=self.entropy_coef,
                         entropy_decay_batches=max(self.num_updates, 1), max_grad_norm=self.max_grad_norm)


# ============================================================================================= network
class AgentOutput(NamedTuple):
    """What :class:`MetaAgent` returns; shapes for an input x of shape (n, T, input_dim)."""

    logits: Tensor
    """(n, T, num_actions) action logits."""
    value: Tensor
    """(n, T) state values, in units of the effective horizon (return / sum_t gamma^t)."""
    belief_logits: Tensor | None
    """(n, T, target_dim) logits of the belief head (None for the plain LSTM agent)."""
    kl: Tensor
    """(n, T) information-bottleneck KL of the features (zeros without the bottleneck)."""
    features: Tensor
    """(n, T, feature_dim) the features f_t (for the belief agent, the belief net's penultimate layer)."""
    state: tuple[Tensor, Tensor]
    """LSTM (h, c), each (1, n, hidden_dim), to continue the sequence."""


class MetaAgent(nn.Module):
    """The network of one of the three agents of seed 004 (see the module docstring).

    Args:
        agent: ``"lstm"``, ``"belief"`` or ``"aux"``.
        input_dim: size of x_t, >= 1.
        num_actions: discrete actions, >= 1.
        target_dim: size of the task description predicted by the belief head, >= 1.
        hidden_dim, feature_dim, policy_hidden: sizes (see :class:`BeliefAgentConfig`).
        bottleneck: Gaussian information-bottleneck features instead of deterministic tanh features.
    Forward:
        x (n, T, input_dim), optional LSTM state, optional ``noise`` (n, T, feature_dim) for
        the bottleneck (None: use the mean) -> :class:`AgentOutput`.

    Taught in notebooks/03_task_inference.py (section "Three agents").
    """

    def __init__(self, agent: str, input_dim: int, num_actions: int, target_dim: int, hidden_dim: int = 64,
                 feature_dim: int = 32, policy_hidden: tuple[int, ...] = (64,), bottleneck: bool = False):
        super().__init__()
        check_choice("agent", agent, AGENTS)
        for name, value in [("input_dim", input_dim), ("num_actions", num_actions), ("target_dim", target_dim),
                            ("hidden_dim", hidden_dim), ("feature_dim", feature_dim)]:
            check_int(name, value, 1)
        self.agent, self.bottleneck = agent, bool(bottleneck)
        self.input_dim, self.feature_dim = int(input_dim), int(feature_dim)
        # the recurrent module: the belief net (agent B) or the shared core (agents A and C)
        self.core = nn.LSTM(input_dim, hidden_dim, batch_first=True)
        self.to_features = nn.Linear(hidden_dim, 2 * feature_dim if bottleneck else feature_dim)
        self.belief_head = nn.Linear(feature_dim, target_dim) if agent != "lstm" else None
        # the actor-critic on [x_t, f_t]
        self.actor = mlp(input_dim + feature_dim, num_actions, policy_hidden, nn.Tanh)
        self.critic = mlp(input_dim + feature_dim, 1, policy_hidden, nn.Tanh)

    def belief_parameters(self) -> list[nn.Parameter]:
        """Parameters of the recurrent module: LSTM, feature layer and belief head (agents B, C). For agent B this is
        the belief network; the RL loss never reaches it."""
        modules = [self.core, self.to_features] + ([self.belief_head] if self.belief_head is not None else [])
        return [p for m in modules for p in m.parameters()]

    def policy_parameters(self) -> list[nn.Parameter]:
        """Parameters of the actor and the critic."""
        return list(self.actor.parameters()) + list(self.critic.parameters())

    def encode(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None,
               noise: Tensor | None = None) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """History x (n, T, input_dim) -> (features (n, T, feature_dim), kl (n, T), LSTM state)."""
        h, state = self.core(x, state)
        raw = self.to_features(h)
        if not self.bottleneck:
            return torch.tanh(raw), torch.zeros(raw.shape[:-1]), state
        mean, log_var = raw.chunk(2, dim=-1)
        log_var = log_var.clamp(-10.0, 4.0)
        features = mean if noise is None else mean + torch.exp(0.5 * log_var) * noise
        return features, gaussian_kl(mean, log_var), state

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, noise: Tensor | None = None) -> AgentOutput:
        features, kl, state = self.encode(x, state, noise)
        belief_logits = self.belief_head(features) if self.belief_head is not None else None
        # Seed 004, agent B: "do not backpropagate gradients to the belief net" -- the policy reads detached features.
        policy_features = features.detach() if self.agent == "belief" else features
        policy_in = torch.cat([x, policy_features], dim=-1)
        return AgentOutput(self.actor(policy_in), self.critic(policy_in).squeeze(-1), belief_logits, kl, features, state)


def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) = 0.5 * sum(var + mean^2 - 1 - log_var) over the last dim.

    Args:
        mean, log_var: (..., feature_dim).
    Returns:
        (...,) the information-bottleneck penalty per step.

    Taught in notebooks/03_task_inference.py (section "An information bottleneck").
    """
    return 0.5 * (log_var.exp() + mean**2 - 1.0 - log_var).sum(-1)


# ============================================================================================ losses
def categorical_belief_loss(logits: Tensor, label: Tensor) -> Tensor:
    """Supervised belief loss for a discrete task label: mean cross-entropy -log b_theta(h = w | tau).

    Args:
        logits: (..., num_classes) belief-head logits.
        label: (...,) integer task labels.
    Returns:
        0-d mean cross-entropy in nats.

    Taught in notebooks/03_task_inference.py (section "The supervised belief loss").
    """
    if logits.shape[:-1] != label.shape:
        raise ValueError(f"label must have shape {tuple(logits.shape[:-1])}, got {tuple(label.shape)}")
    return -torch.log_softmax(logits, dim=-1).gather(-1, label.long().unsqueeze(-1)).mean()


def bernoulli_belief_loss(logits: Tensor, probs: Tensor) -> Tensor:
    """Supervised belief loss for a vector of probabilities: Bernoulli cross-entropy, summed over entries.

    For the bandit the task description is the arm probabilities w; the loss
    ``-sum_k [w_k log q_k + (1 - w_k) log(1 - q_k)]`` with q = sigmoid(logits) is minimised by the
    posterior mean q_k = E[w_k | tau], which the Beta filter computes exactly.

    Args:
        logits: (..., num_arms) belief-head logits.
        probs: (..., num_arms) true arm probabilities.
    Returns:
        0-d mean (over leading dims) of the per-step summed cross-entropy, in nats.

    Taught in notebooks/03_task_inference.py (section "The supervised belief loss").
    """
    if logits.shape != probs.shape:
        raise ValueError(f"probs must have shape {tuple(logits.shape)}, got {tuple(probs.shape)}")
    return nn.functional.binary_cross_entropy_with_logits(logits, probs.to(logits.dtype), reduction="none").sum(-1).mean()


def belief_loss(kind: str, logits: Tensor, target: Tensor) -> Tensor:
    """Dispatch to :func:`categorical_belief_loss` or :func:`bernoulli_belief_loss`; ``target`` is per episode.

    Args:
        kind: ``"categorical"`` or ``"bernoulli"``.
        logits: (n, T, target_dim).
        target: (n,) labels or (n, target_dim) probabilities, broadcast over T.
    Returns:
        0-d mean cross-entropy in nats.

    Taught in notebooks/03_task_inference.py (section "The supervised belief loss").
    """
    check_choice("kind", kind, ["categorical", "bernoulli"])
    steps = logits.shape[1]
    if kind == "categorical":
        return categorical_belief_loss(logits, target[:, None].expand(-1, steps))
    return bernoulli_belief_loss(logits, target[:, None, :].expand(-1, steps, -1))


# =============================================================================================== agent
class BeliefAgent:
    """One of the three agents as a :class:`peach_lite.loop.Agent`: it acts on a batch of episodes in one
    forward per step, and learns with :class:`peach_lite.ppo.PPO` plus its supervised belief loss.

    Each training round (:meth:`collect_round`) runs one episode on each of ``batch_size`` fresh tasks from
    the env's ``sample_tasks``; :meth:`learn` then takes one PPO update (``ppo_epochs`` Adam steps) on it:

    1. GAE advantages (normalised over the batch) from the values seen while acting; the critic predicts
       returns in units of the effective horizon so its loss stays O(1) on every family;
    2. each epoch: recompute the agent on the whole batch of sequences (same bottleneck noise); PPO's
       clipped surrogate (one epoch: A2C), value error, annealed entropy bonus;
    3. plus the belief loss (agents B and C): cross-entropy of the belief head against the task description,
       plus ``ib_weight * KL`` with the bottleneck; agent B uses this batch or, with ``belief_data="replay"``,
       a batch of old episodes (valid because p(w | tau) ignores the policy);
    4. one Adam step on the sum; the recurrent module and the actor-critic are clipped separately (the belief
       loss, summed over 20 arms, has much larger gradients than the policy's).

    Args:
        config: :class:`BeliefAgentConfig`.
        generator: drives the actions, the bottleneck noise and the dynamics of :attr:`family` (default: seeded
            with ``config.seed``), so one seed fixes a whole training run.

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """

    algorithm: ClassVar[str] = "belief"

    def __init__(self, config: BeliefAgentConfig, generator: torch.Generator | None = None):
        self.config = config
        self.generator = generator if generator is not None else torch.Generator().manual_seed(config.seed)
        self.family = make_family(config.family, config.batch_size, self.generator)
        """The training envs; their dynamics draw from :attr:`generator` too (one seed fixes a whole run)."""
        self.net = MetaAgent(config.agent, self.family.input_dim, self.family.num_actions, self.family.target_dim,
                             config.hidden_dim, config.feature_dim, config.policy_hidden, bottleneck=config.ib_weight > 0)
        self.ppo = PPO(self._policy, [self.net.belief_parameters(), self.net.policy_parameters()], config.ppo_config())
        self.replay: ReplayBuffer | None = None
        if config.belief_data == "replay":
            target = {"target": (self.family.target_dim,)} if self.family.target_kind == "bernoulli" else {"label": 1}
            self.replay = ReplayBuffer(config.replay_episodes, {"inputs": (self.family.horizon, self.family.input_dim), **target})
        self.value_scale = _return_scale(config.gamma, self.family.horizon)
        self.rollout: Rollout | None = None
        """The episodes of the last finished :func:`~peach_lite.loop.run_episodes` call."""
        self._pending: Rollout | None = None

    # ------------------------------------------------------------------------------ loop.Agent
    def begin_episode(self, tasks: loop.TaskBatch, *, explore: bool) -> None:
        """New episodes: LSTM state reset; ``explore`` draws bottleneck noise (False: features at their mean).
        Actions are sampled from the policy either way (lesson 03 scores the stochastic agent)."""
        self._explore, self._state, self._noise = explore, None, None
        self._recorder = EpisodeRecorder(self.family, torch.stack([torch.as_tensor(v) for v in tasks.values]))
        self._log_probs: list[Tensor] = []
        self._values: list[Tensor] = []

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """o_t (n, obs_dim) -> (n, 1) sampled action indices (as floats)."""
        recorder = self._recorder
        x = recorder.input(obs)[:, None]
        if recorder.t == 0 and self._explore and self.net.bottleneck:  # drawn after the env's reset, as the trials begin
            self._noise = torch.randn(len(obs), self.family.horizon, self.net.feature_dim, generator=self.generator)
        out = self.net(x, self._state, None if self._noise is None else self._noise[:, recorder.t : recorder.t + 1])
        self._state = out.state
        log_probs = torch.log_softmax(out.logits[:, 0], -1)
        action = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(1)
        self._log_probs.append(log_probs.gather(1, action[:, None]).squeeze(1))
        self._values.append(out.value[:, 0])
        return action[:, None].float()

    def observe(self, step: loop.Step) -> None:
        """Record the transition (the next x_t needs a_t and r_t)."""
        self._recorder.add(step)

    def end_episode(self) -> None:
        """The batch of episodes is complete: keep it as :attr:`rollout` (and for :meth:`learn` when exploring)."""
        self.rollout = self._recorder.rollout(self._log_probs, self._values, self._noise)
        if self._explore:
            self._pending = self.rollout

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` PPO updates on the last collected batch; returns the last epoch's losses ({} without data).

        Losses: ``loss``, ``policy``, ``value``, ``entropy``, ``approx_kl``, ``clip_fraction``, ``kl``
        (ib_weight x bottleneck KL) and, for agents B and C, ``belief`` (belief_weight x cross-entropy).
        """
        check_int("num_updates", num_updates, 1)
        roll, self._pending = self._pending, None
        if roll is None:
            return {}
        targets = self.family.targets(roll.tasks)
        if self.replay is not None:
            self.replay.add_batch(inputs=roll.inputs, **_target_field(self.family, targets))
        batch = self.ppo.make_batch(roll.inputs, roll.actions, roll.log_probs, roll.rewards, roll.values, mask=roll.mask,
                                    value_scale=self.value_scale, extra={"noise": roll.noise, "targets": targets})
        for _ in range(num_updates):
            losses = self.ppo.update(batch)
        return losses

    def collect_round(self, runner: loop.Runner, round_index: int) -> loop.Episodes:
        """One round of :func:`peach_lite.loop.train`: one episode on each of ``batch_size`` fresh tasks."""
        tasks = self.family.sample_tasks(self.config.batch_size, seed=self.config.seed * 1_000_003 + round_index)
        return runner.run_episodes(self, self.family.task_batch(tasks), explore=True)

    @contextlib.contextmanager
    def using_generator(self, generator: torch.Generator) -> Iterator[None]:
        """Draw actions and noise from ``generator`` inside the block (evaluation leaves training's RNG alone)."""
        before, self.generator = self.generator, generator
        try:
            yield
        finally:
            self.generator = before

    # ------------------------------------------------------------------------------ checkpoints
    def arch(self) -> dict[str, Any]:
        """The config as plain data (rebuilds the network)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self.config).items()}

    def checkpoint_state(self) -> dict[str, dict[str, Tensor]]:
        """The network's weights."""
        return {"agent": self.net.state_dict()}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "BeliefAgent":
        """Rebuild from a checkpoint's ``arch`` and load its weights (CPU only: the networks are tiny)."""
        known = {f.name for f in dataclasses.fields(BeliefAgentConfig)}
        config = BeliefAgentConfig(**{k: (tuple(v) if k == "policy_hidden" else v) for k, v in payload["arch"].items() if k in known})
        agent = cls(config)
        agent.net.load_state_dict(payload["state"]["agent"])
        return agent

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """Mean held-out return over 1000 episodes, seed 12345 (the manifest's score; about a second on a CPU)."""
        return evaluate(self, num_episodes=1000, seed=12345)

    # ------------------------------------------------------------------------------ learner internals
    def _policy(self, batch: PPOBatch, cond: Any) -> PolicyOutput:
        """The PPO policy function: the whole batch of sequences at once, plus the belief and bottleneck losses."""
        config = self.config
        out = self.net(batch.obs, noise=batch.extra["noise"])
        if config.agent == "lstm":
            return PolicyOutput(out.logits, out.value, {"kl": config.ib_weight * out.kl.mean()})
        logits, kl, targets = out.belief_logits, out.kl, batch.extra["targets"]
        if self.replay is not None:  # agent B from old episodes: p(w | tau) does not depend on the policy
            sample = self.replay.sample(config.batch_size, self.generator)
            noise = (torch.randn(config.batch_size, self.family.horizon, self.net.feature_dim, generator=self.generator)
                     if self.net.bottleneck else None)
            replayed = self.net(sample["inputs"], noise=noise)
            logits, kl, targets = replayed.belief_logits, replayed.kl, _target_from_field(self.family, sample)
        supervised = belief_loss(self.family.target_kind, logits, targets)
        return PolicyOutput(out.logits, out.value, {"belief": config.belief_weight * supervised, "kl": config.ib_weight * kl.mean()})


# ============================================================================================ training
def train(config: BeliefAgentConfig, *, progress: bool = True, callbacks: Sequence[loop.Callback] = (),
          history: loop.History | None = None) -> tuple[BeliefAgent, loop.History]:
    """Train one agent through :func:`peach_lite.loop.train`: ``num_updates`` rounds of one batch each.

    Held-out evaluation every ``eval_every`` rounds and at the end (:func:`evaluate` on ``eval_episodes``
    tasks, seed 10000 + seed). ``history.extra["train_return"]`` holds each round's mean training return;
    ``history.losses`` every round's losses (see :meth:`BeliefAgent.learn`).

    Args:
        config: the run.
        progress: show a tqdm bar.
        callbacks: :data:`peach_lite.loop.Callback` s, after every round.
        history: continue an interrupted run's History.
    Returns:
        (agent, history).

    Taught in notebooks/03_task_inference.py (section "The RL learner").
    """
    torch.manual_seed(config.seed)
    agent = BeliefAgent(config)
    eval_tasks = agent.family.eval_tasks(config.eval_episodes)
    history = history if history is not None else loop.History(eval_metric="held-out return")
    if config.num_updates == 0:
        return agent, history

    def evaluator(a: BeliefAgent) -> tuple[float, float]:
        score = evaluate(a, eval_tasks, seed=10_000 + config.seed)
        return score, float(a.rollout.returns.std())

    def record_train_return(_: int, a: BeliefAgent, h: loop.History) -> None:
        h.extra.setdefault("train_return", []).append(float(np.mean(h.returns[-config.batch_size:])))

    schedule = loop.TrainConfig(total_steps=0, rounds=config.num_updates, episodes_per_round=1, updates_per_round=1,
                                warmup_steps=0, eval_every=config.eval_every, eval_episodes=1, log_every=1,
                                seed=config.seed, progress=progress)
    runner = loop.Runner(agent.family, None, seed=config.seed)
    history = loop.train(agent, runner, schedule, evaluator=evaluator, eval_metric="held-out return",
                         callbacks=[record_train_return, *callbacks], history=history)
    return agent, history


@torch.no_grad()
def evaluate(agent: BeliefAgent, tasks: Tensor | None = None, *, seed: int = 12345, num_episodes: int = 1000,
             return_rollout: bool = False) -> float | tuple[float, Rollout]:
    """Mean return of the (stochastic) agent on held-out tasks, bottleneck at its mean.

    Args:
        agent: a :class:`BeliefAgent`.
        tasks: (n, ...) tasks to run (default: ``family.eval_tasks(num_episodes)``).
        seed: seeds rewards, goal positions and actions (same seed, same number); >= 0.
        num_episodes: used when ``tasks`` is None, >= 1.
        return_rollout: also return the :class:`Rollout` (with the family's ``extras``).

    Taught in notebooks/03_task_inference.py (section "Learning curves: belief network vs RL²").
    """
    check_int("seed", seed, 0)
    family = make_family(agent.config.family, generator=torch.Generator().manual_seed(int(seed)))
    tasks = family.eval_tasks(num_episodes) if tasks is None else tasks
    with agent.using_generator(family.generator):
        loop.run_episodes(agent, family, family.task_batch(tasks, "test"), explore=False)
    roll = agent.rollout
    roll.extras = family.extras()
    mean = float(roll.returns.mean())
    return (mean, roll) if return_rollout else mean


# ============================================================================================ helpers
def _return_scale(gamma: float, horizon: int) -> float:
    """Effective horizon sum_{t<T} gamma^t: the largest return of unit rewards (critic units)."""
    return float(horizon) if gamma == 1.0 else (1.0 - gamma**horizon) / (1.0 - gamma)


def _target_field(family: TaskFamily, targets: Tensor) -> dict[str, Tensor]:
    return {"target": targets} if family.target_kind == "bernoulli" else {"label": targets.float()[:, None]}


def _target_from_field(family: TaskFamily, batch: dict[str, Tensor]) -> Tensor:
    return batch["target"] if family.target_kind == "bernoulli" else batch["label"][:, 0].round().long()


# ================================================================================================ CLI
def train_for_cli(*, seed: int = 0, progress: bool = True, **settings: Any) -> tuple[BeliefAgent, dict[str, Any]]:
    """``python -m peach_lite train belief``: settings are :class:`BeliefAgentConfig` fields; returns (agent, meta).

    Taught in notebooks/03_task_inference.py (section "Pretrained agents").
    """
    known = [f.name for f in dataclasses.fields(BeliefAgentConfig) if f.name != "seed"]
    for name in settings:
        check_choice("setting", name, known)
    agent, history = train(BeliefAgentConfig(seed=seed, **settings), progress=progress)
    compact = {key: history.to_dict()[key] for key in ("eval_steps", "eval_values", "eval_std", "eval_metric", "loss_steps",
                                                       "losses", "extra", "total_steps", "elapsed")}
    return agent, {"history": compact, "elapsed_s": history.elapsed}


CLI = TrainSpec(
    train=train_for_cli,
    presets={"bandit": {"agent": "belief", "family": "bandit", "num_updates": 300, "lr": 1e-2},
             "kgoal": {"agent": "belief", "family": "kgoal", "num_updates": 500, "lr": 3e-3},
             "movement": {"agent": "belief", "family": "movement", "num_updates": 800, "lr": 1e-2}},
    score_name="mean_return_heldout",
    tolerance=1.0,
    extra={"note": "bandit and MovementBandits learn faster at lr 1e-2; the K-goal trials use the benchmark's 3e-3"},
)
"""The command line's presets: enough for the belief agent to level off in our runs."""
