"""Off-policy belief training and grading (seed 004): a belief module learns from *any* policy's episodes.

Because the target ``p(w | tau)`` does not depend on the policy, episodes of a fixed behaviour policy
(random, Thompson sampling, an old agent) are unbiased samples of the same supervised problem; only their
coverage differs. :func:`train_belief_offline` runs :class:`OfflineBeliefLearner` through
:func:`peach_lite.loop.train`: each round collects one batch of the behaviour's episodes on fresh tasks
(:meth:`OfflineBeliefLearner.collect_round`), and ``learn`` takes one supervised step on it.
:func:`belief_quality` grades any belief head against the exact posterior.

Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from peach_lite import loop
from peach_lite.belief_agents import BeliefAgent, MetaAgent, belief_loss
from peach_lite.envs.task_families import EpisodeRecorder, Rollout, TaskFamily, make_family
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["Behaviour", "BehaviourPolicy", "collect", "OfflineBeliefLearner", "train_belief_offline", "belief_quality"]

Behaviour = BeliefAgent | Callable[[Tensor, int], Tensor] | str
"""A behaviour policy: a trained :class:`~peach_lite.belief_agents.BeliefAgent` (its own stochastic episodes),
``"random"``, ``"thompson"`` (bandit: the best arm of a Beta posterior sample) or a function
``(obs (n, obs_dim), t) -> (n,) actions``."""


class BehaviourPolicy:
    """A fixed behaviour policy as a :class:`peach_lite.loop.Agent` that records the agents' inputs x_t.

    Args:
        family: the task family (its ``agent_input``).
        behaviour: ``"random"``, ``"thompson"`` (bandit only) or a function ``(obs, t) -> (n,) actions``.
        generator: draws the random and Thompson actions.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """

    def __init__(self, family: TaskFamily, behaviour: Callable[[Tensor, int], Tensor] | str, generator: torch.Generator):
        if isinstance(behaviour, str):
            check_choice("behaviour", behaviour, ["random", "thompson"])
            if behaviour == "thompson" and family.target_kind != "bernoulli":
                raise ValueError("behaviour='thompson' needs the bandit family")
        self.family, self.behaviour, self.generator = family, behaviour, generator
        self.rollout: Rollout | None = None

    def begin_episode(self, tasks: loop.TaskBatch, *, explore: bool) -> None:
        """New episodes (``explore`` is ignored: the behaviour is fixed); Thompson sampling restarts from Beta(1, 1)."""
        self._recorder = EpisodeRecorder(self.family, torch.stack([torch.as_tensor(v) for v in tasks.values]))
        n = len(tasks)
        self._alpha, self._beta = torch.ones(n, self.family.num_actions), torch.ones(n, self.family.num_actions)

    def act(self, obs: Tensor) -> Tensor:
        """o_t (n, obs_dim) -> (n, 1) action indices (as floats)."""
        n, t = len(obs), self._recorder.t
        self._recorder.input(obs)
        if self.behaviour == "random":
            action = torch.randint(self.family.num_actions, (n,), generator=self.generator)
        elif self.behaviour == "thompson":
            action = _beta_sample(self._alpha, self._beta, self.generator).argmax(1)
        else:
            action = torch.as_tensor(self.behaviour(obs, t)).long()
        return action[:, None].float()

    def observe(self, step: loop.Step) -> None:
        """Record the transition (and update the Beta posterior of Thompson sampling)."""
        self._recorder.add(step)
        if self.behaviour == "thompson":
            pulled = nn.functional.one_hot(self._recorder.actions[-1], self.family.num_actions).float()
            reward = step.reward[:, None]
            self._alpha, self._beta = self._alpha + pulled * reward, self._beta + pulled * (1 - reward)

    def end_episode(self) -> None:
        """Keep the finished episodes as :attr:`rollout`."""
        self.rollout = self._recorder.rollout()

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """A fixed behaviour does not learn: ``{}``."""
        return {}


@torch.no_grad()
def collect(family: TaskFamily, tasks: Tensor, behaviour: Behaviour, generator: torch.Generator) -> Rollout:
    """One episode of ``behaviour`` per task, all in lockstep (through :func:`peach_lite.loop.run_episodes`).

    Args:
        family: the task family; its dynamics draw from ``generator`` during the call.
        tasks: (n, ...) tasks.
        behaviour: see :data:`Behaviour` (a trained agent runs stochastically, bottleneck at its mean).
        generator: seeds the dynamics, the actions and the noise.
    Returns:
        the :class:`~peach_lite.envs.task_families.Rollout` (with the family's ``extras``).

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """
    own, family.generator = family.generator, generator
    try:
        batch = family.task_batch(tasks, "other")
        if isinstance(behaviour, BeliefAgent):
            with behaviour.using_generator(generator):
                loop.run_episodes(behaviour, family, batch, explore=False)
            roll = behaviour.rollout
        else:
            agent = BehaviourPolicy(family, behaviour, generator)
            loop.run_episodes(agent, family, batch, explore=False)
            roll = agent.rollout
    finally:
        family.generator = own
    roll.extras = family.extras()
    return roll


class OfflineBeliefLearner:
    """A belief module alone, trained by supervised learning on a fixed behaviour's episodes.

    It is the learning half of a :class:`peach_lite.loop.Agent` (``collect_round`` + ``learn``), which is all
    :func:`peach_lite.loop.train` calls: the behaviour acts (:func:`collect`), the learner never does.

    Args:
        family: the task family (its generator drives the dynamics and the behaviour).
        behaviour: see :data:`Behaviour`.
        batch_size: episodes (fresh tasks) per round, >= 1.
        hidden_dim, feature_dim: sizes of the belief network, >= 1.
        lr: Adam learning rate, in [1e-8, 1].
        seed: seeds the task draws, >= 0.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """

    def __init__(self, family: TaskFamily, behaviour: Behaviour, *, batch_size: int = 128, hidden_dim: int = 64,
                 feature_dim: int = 32, lr: float = 3e-3, seed: int = 0):
        check_int("batch_size", batch_size, 1)
        check_range("lr", lr, 1e-8, 1.0)
        check_int("seed", seed, 0)
        self.family, self.behaviour, self.batch_size, self.seed = family, behaviour, int(batch_size), int(seed)
        self.net = MetaAgent("belief", family.input_dim, family.num_actions, family.target_dim, hidden_dim, feature_dim)
        self.optimizer = torch.optim.Adam(self.net.belief_parameters(), lr=lr)
        self.batch: Rollout | None = None

    def collect_round(self, runner: loop.Runner, round_index: int) -> loop.Episodes:
        """One batch of the behaviour's episodes on fresh tasks from the env's ``sample_tasks``."""
        tasks = self.family.sample_tasks(self.batch_size, seed=self.seed * 1_000_003 + round_index)
        self.batch = collect(self.family, tasks, self.behaviour, self.family.generator)
        returns = self.batch.returns.double().numpy()
        n = len(returns)
        return loop.Episodes(returns, returns, self.batch.mask.sum(1).numpy(), torch.zeros(n, dtype=torch.bool).numpy())

    def learn(self, num_updates: int) -> dict[str, Tensor]:
        """``num_updates`` Adam steps of the belief loss on the last batch; returns ``{"belief": loss}``."""
        check_int("num_updates", num_updates, 1)
        if self.batch is None:
            return {}
        targets = self.family.targets(self.batch.tasks)
        for _ in range(num_updates):
            loss = belief_loss(self.family.target_kind, self.net(self.batch.inputs).belief_logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return {"belief": loss.detach()}


def train_belief_offline(family: TaskFamily | str, behaviour: Behaviour, *, num_updates: int = 200, batch_size: int = 128,
                         hidden_dim: int = 64, feature_dim: int = 32, lr: float = 3e-3, seed: int = 0,
                         progress: bool = False, callback: Callable[[int, MetaAgent], None] | None = None) -> MetaAgent:
    """Train only a belief module, by supervised learning on episodes of a fixed behaviour policy.

    This is the off-policy half of seed 004: because ``p(w | tau)`` does not depend on the policy,
    data from *any* behaviour policy (random, an old agent, Thompson sampling) provides unbiased
    samples of the same target. Runs :class:`OfflineBeliefLearner` through :func:`peach_lite.loop.train`
    (one round = one batch of fresh episodes + one supervised step). The returned network's actor is
    untrained; use its belief head.

    Args:
        family: the task family (or its name).
        behaviour: see :data:`Behaviour`.
        num_updates: supervised steps (rounds), >= 0.
        batch_size, hidden_dim, feature_dim, lr, seed: see :class:`OfflineBeliefLearner`.
        callback: called as ``callback(updates_done, network)`` before the first update and after every update.
    Returns:
        a :class:`~peach_lite.belief_agents.MetaAgent` (``agent="belief"``) whose belief module is trained.

    Taught in notebooks/03_task_inference.py (section "Off-policy belief training").
    """
    check_int("num_updates", num_updates, 0)
    family = make_family(family) if isinstance(family, str) else family
    torch.manual_seed(seed)
    learner = OfflineBeliefLearner(family, behaviour, batch_size=batch_size, hidden_dim=hidden_dim, feature_dim=feature_dim,
                                   lr=lr, seed=seed)
    own, family.generator = family.generator, torch.Generator().manual_seed(seed)  # restored at the end
    try:
        if callback is not None:
            callback(0, learner.net)
        if num_updates:
            schedule = loop.TrainConfig(total_steps=0, rounds=num_updates, updates_per_round=1, warmup_steps=0,
                                        eval_episodes=0, seed=seed, progress=progress)
            callbacks = [] if callback is None else [lambda done, agent, history: callback(done, agent.net)]
            loop.train(learner, loop.Runner(family, None, seed=seed), schedule, callbacks=callbacks)
    finally:
        family.generator = own
    return learner.net


def belief_quality(net: MetaAgent | BeliefAgent, family: TaskFamily, roll: Rollout) -> dict[str, float]:
    """Cross-entropy of the belief head against the task, next to the exact posterior's, on a rollout.

    The exact posterior's cross-entropy is the lowest any predictor can reach on average
    (algorithms.md §5.4); ``excess`` is the learnt belief's gap to it.

    Args:
        net: a network with a belief head, or a :class:`~peach_lite.belief_agents.BeliefAgent` (agent "belief" or "aux").
        family: the rollout's task family.
        roll: (n, T) episodes (:func:`collect`, :func:`~peach_lite.belief_agents.evaluate`).
    Returns:
        dict with ``learnt`` and ``exact`` cross-entropies (nats per step) and ``excess`` = learnt - exact.

    Taught in notebooks/03_task_inference.py (section "How good is the learnt belief?").
    """
    net = net.net if isinstance(net, BeliefAgent) else net
    if net.belief_head is None:
        raise ValueError("agent must have a belief head (agent='belief' or 'aux'), got agent='lstm'")
    with torch.no_grad():
        logits = net(roll.inputs).belief_logits
    targets = family.targets(roll.tasks)
    exact = family.exact_prediction(roll).clamp(1e-6, 1 - 1e-6)
    learnt = float(belief_loss(family.target_kind, logits, targets))
    exact_logits = exact.log() - (1 - exact).log() if family.target_kind == "bernoulli" else exact.log()
    exact_ce = float(belief_loss(family.target_kind, exact_logits, targets))
    return {"learnt": learnt, "exact": exact_ce, "excess": learnt - exact_ce}


def _beta_sample(alpha: Tensor, beta: Tensor, generator: torch.Generator) -> Tensor:
    """Beta(alpha, beta) samples for integer-valued parameters (n, K): G_a / (G_a + G_b) with
    Gamma(a, 1) = -sum of a log-uniforms."""
    max_count = int(max(alpha.max(), beta.max()))
    logs = -torch.rand(*alpha.shape, max_count, generator=generator).clamp_min(1e-12).log()
    index = torch.arange(max_count)
    gamma_a = (logs * (index < alpha[..., None])).sum(-1)
    gamma_b = (-torch.rand(*alpha.shape, max_count, generator=generator).clamp_min(1e-12).log() * (index < beta[..., None])).sum(-1)
    return gamma_a / (gamma_a + gamma_b)
