"""Exact Bayes filters over tasks, batched task simulators, and the classic bandit baselines.

Seed 004 (Humplik et al.) casts meta-RL as a POMDP whose hidden state is the task ``w``. The belief
``b_t(w) = p(w | tau_{0:t})`` is a sufficient statistic for acting, and by the theorem of the seed

    p(w | tau_{0:t})  ∝  p(w) p0(x_0 | w) prod_t P(r_t, x_{t+1} | x_t, a_t, w),

it does not depend on the policy that produced ``tau``: the policy's factors ``pi(a_t | tau_{0:t})``
are the same for every ``w`` and cancel. This module computes that posterior exactly, for whole
batches of episodes at once (torch), in every family of the course where it is tractable:

* :func:`beta_bernoulli_filter`: Beta posteriors of the 20-arm Bernoulli bandit (one per arm);
* :func:`elimination_update` / :func:`discrete_posterior`: a finite set of candidate tasks, likelihoods
  multiplied step by step (deterministic rewards: elimination; noisy rewards: a softmax of summed
  log-likelihoods); :func:`k_goal_filter`, :func:`point_robot_filter`, :func:`movement_bandits_filter`
  specialise it;
* :func:`enumerate_posterior`: the slow brute-force reference (python loops, any policy) the tests
  and the lesson compare the filters with.

The batched simulators (:class:`BatchedBernoulliBandit`, :class:`BatchedKGoal`,
:class:`BatchedMovementBandits`) replay the dynamics of the registered ``peach_lite.envs`` families
on tensors of shape (batch, ...); ``tests/test_belief.py`` checks them step for step against the
gymnasium envs. :func:`run_bandit_baseline` runs random, greedy, Thompson sampling, UCB1 and the
oracle on them; :func:`k_goal_rollout` and :func:`point_robot_posterior_sampling` run posterior
sampling on the K-goal bandit and the sparse point robot.

Taught in notebooks/02_pomdp_belief.py.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from peach_lite.validation import check_choice, check_range

__all__ = [
    # filters
    "bernoulli_update",
    "beta_bernoulli_filter",
    "elimination_update",
    "discrete_posterior",
    "k_goal_filter",
    "point_robot_filter",
    "movement_bandits_filter",
    "enumerate_posterior",
    "posterior_entropy",
    # simulators
    "BatchedBernoulliBandit",
    "BatchedKGoal",
    "BatchedMovementBandits",
    # baselines
    "BANDIT_BASELINES",
    "run_bandit_baseline",
    "K_GOAL_POLICIES",
    "k_goal_rollout",
    "point_robot_posterior_sampling",
]


# ============================================================================================ filters
def bernoulli_update(alpha: Tensor, beta: Tensor, action: Tensor, reward: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the Beta-Bernoulli filter: the pulled arm gains a success or a failure.

    With a Beta(alpha_k, beta_k) belief over arm k's probability, pulling arm ``a`` and seeing
    ``r`` in {0, 1} gives Beta(alpha_a + r, beta_a + 1 - r); the other arms are unchanged.

    Args:
        alpha, beta: (batch, num_arms) Beta parameters before the pull, > 0.
        action: (batch,) integer arm indices.
        reward: (batch,) rewards in {0, 1}.
    Returns:
        (alpha, beta) after the pull, new tensors of shape (batch, num_arms).

    Taught in notebooks/02_pomdp_belief.py (section "The Bernoulli bandit: Beta posteriors").
    """
    _check_batch_arms(alpha, beta, action, reward)
    pulled = torch.nn.functional.one_hot(action.long(), alpha.shape[-1]).to(alpha.dtype)
    reward = reward.to(alpha.dtype).unsqueeze(-1)
    return alpha + pulled * reward, beta + pulled * (1.0 - reward)


def beta_bernoulli_filter(
    actions: Tensor, rewards: Tensor, num_arms: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[Tensor, Tensor]:
    """Beta posteriors of every arm after 0, 1, ..., T pulls, for a batch of episodes at once.

    The posterior after t pulls is Beta(a0 + successes_t, b0 + failures_t) per arm, so the whole
    filter is two cumulative sums of one-hot pulls (no python loop over time).

    Args:
        actions: (batch, T) integer arms.
        rewards: (batch, T) rewards in {0, 1}.
        num_arms: number of arms K.
        prior: (a0, b0) of the Beta prior shared by all arms; (1, 1) is the uniform prior of
            ``peach_lite/BernoulliBandit-v0`` (arm probabilities ~ U[0, 1]).
    Returns:
        (alpha, beta), each (batch, T + 1, num_arms); index t is the belief *before* pull t.

    Taught in notebooks/02_pomdp_belief.py (section "The Bernoulli bandit: Beta posteriors").
    """
    check_range("num_arms", num_arms, 1, None)
    check_range("prior[0]", prior[0], 1e-9, None)
    check_range("prior[1]", prior[1], 1e-9, None)
    actions, rewards = _as_batch_time("actions", actions), _as_batch_time("rewards", rewards)
    if actions.shape != rewards.shape:
        raise ValueError(f"actions and rewards must have the same shape, got {tuple(actions.shape)} and {tuple(rewards.shape)}")
    if ((actions < 0) | (actions >= num_arms)).any():
        raise ValueError(f"actions must be in [0, {num_arms - 1}]")
    pulled = torch.nn.functional.one_hot(actions.long(), num_arms).double()  # (B, T, K)
    rewards = rewards.double().unsqueeze(-1)
    zero = torch.zeros(actions.shape[0], 1, num_arms, dtype=torch.float64)
    successes = torch.cat([zero, (pulled * rewards).cumsum(1)], dim=1)
    failures = torch.cat([zero, (pulled * (1.0 - rewards)).cumsum(1)], dim=1)
    return prior[0] + successes, prior[1] + failures


def elimination_update(belief: Tensor, consistent: Tensor) -> Tensor:
    """One step of Bayes' rule with deterministic observations: drop the tasks that disagree.

    ``b'(w) ∝ b(w) * 1[the observation is what task w predicts]``. At least one task (the true
    one) is always consistent, so the normaliser is positive.

    Args:
        belief: (batch, num_tasks) probabilities, rows sum to 1.
        consistent: (batch, num_tasks) bool, True where task w predicts the observed reward.
    Returns:
        (batch, num_tasks) the renormalised posterior.

    Taught in notebooks/02_pomdp_belief.py (section "Elimination").
    """
    if belief.shape != consistent.shape:
        raise ValueError(f"belief and consistent must have the same shape, got {tuple(belief.shape)} and {tuple(consistent.shape)}")
    kept = belief * consistent.to(belief.dtype)
    total = kept.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise ValueError("consistent rules out every task with non-zero belief (the true task must stay consistent)")
    return kept / total


def discrete_posterior(log_likelihoods: Tensor, log_prior: Tensor | None = None) -> Tensor:
    """Posterior over a finite task set after each step: a softmax of summed log-likelihoods.

    ``log b_t(w) = log p(w) + sum_{t' < t} log P(r_t', x_t'+1 | x_t', a_t', w) + const``. Deterministic
    rewards give log-likelihoods in {0, -inf} (elimination); Gaussian reward noise gives
    ``-(r - r_w)^2 / (2 sigma^2)``.

    Args:
        log_likelihoods: (batch, T, num_tasks) per-step log-likelihood of what was observed.
        log_prior: (num_tasks,) or (batch, num_tasks) log prior; uniform when None.
    Returns:
        (batch, T + 1, num_tasks) posteriors; index 0 is the prior.

    Taught in notebooks/02_pomdp_belief.py (section "Noisy rewards: a softmax of log-likelihoods").
    """
    if log_likelihoods.dim() != 3:
        raise ValueError(f"log_likelihoods must have shape (batch, T, num_tasks), got {tuple(log_likelihoods.shape)}")
    batch, _, num_tasks = log_likelihoods.shape
    log_likelihoods = log_likelihoods.double()
    if log_prior is None:
        log_prior = torch.zeros(num_tasks, dtype=torch.float64)
    log_prior = log_prior.double().expand(batch, num_tasks)
    summed = torch.cat([log_prior.unsqueeze(1), log_prior.unsqueeze(1) + log_likelihoods.cumsum(1)], dim=1)
    if torch.isneginf(summed).all(-1).any():
        raise ValueError("every task has zero likelihood at some step: the observations contradict all candidates")
    return torch.softmax(summed, dim=-1)


def k_goal_filter(actions: Tensor, rewards: Tensor, num_goals: int) -> Tensor:
    """Exact posterior over the rewarding goal of the K-goal bandit, after every pull.

    Goal w predicts reward ``1[a_t == w]``; a pull eliminates every goal that predicts otherwise.

    Args:
        actions: (batch, T) chosen goals (one pull per episode of a trial).
        rewards: (batch, T) rewards in {0, 1}.
        num_goals: K.
    Returns:
        (batch, T + 1, K) posteriors; index 0 is the uniform prior.

    Taught in notebooks/02_pomdp_belief.py (section "Elimination").
    """
    check_range("num_goals", num_goals, 1, None)
    actions, rewards = _as_batch_time("actions", actions), _as_batch_time("rewards", rewards)
    predicted = torch.nn.functional.one_hot(actions.long(), num_goals).double()  # (B, T, K)
    consistent = predicted == rewards.double().unsqueeze(-1)
    return discrete_posterior(_log_indicator(consistent))


def point_robot_filter(
    positions: Tensor,
    rewards: Tensor,
    candidate_goals: Tensor,
    *,
    reward_type: str = "sparse",
    noise_std: float = 0.0,
    goal_radius: float | None = None,
    atol: float = 1e-6,
) -> Tensor:
    """Exact posterior over a discrete set of candidate goals of the point robot.

    The reward after each move depends only on the new position and the goal
    (``peach_lite.envs.point_robot.point_robot_rewards``). Without noise a candidate survives
    while it predicts every observed reward (within ``atol``); with Gaussian reward noise of std
    ``noise_std`` the posterior is the softmax of summed Gaussian log-likelihoods.

    Args:
        positions: (batch, T, 2) positions after each move.
        rewards: (batch, T) observed rewards.
        candidate_goals: (num_tasks, 2) the candidate goals (uniform prior over them).
        reward_type: ``"sparse"`` or ``"dense"``: which reward was observed.
        noise_std: 0 for the env's deterministic reward, else the std of the added Gaussian noise.
        goal_radius: sparse-reward radius; the env's 0.2 when None.
        atol: tolerance when comparing a predicted reward with the observed one (noise_std = 0).
    Returns:
        (batch, T + 1, num_tasks) posteriors.

    Taught in notebooks/02_pomdp_belief.py (section "The sparse point robot").
    """
    from peach_lite.envs.point_robot import GOAL_RADIUS, point_robot_rewards

    check_choice("reward_type", reward_type, ["sparse", "dense"])
    check_range("noise_std", noise_std, 0.0, None)
    radius = GOAL_RADIUS if goal_radius is None else goal_radius
    check_range("goal_radius", radius, 1e-9, None)
    positions = torch.as_tensor(positions, dtype=torch.float64)
    rewards = _as_batch_time("rewards", rewards).double()
    goals = torch.as_tensor(candidate_goals, dtype=torch.float64)
    if positions.dim() != 3 or positions.shape[-1] != 2 or positions.shape[:2] != rewards.shape:
        raise ValueError(f"positions must have shape (batch, T, 2) matching rewards {tuple(rewards.shape)}, got {tuple(positions.shape)}")
    if goals.dim() != 2 or goals.shape[-1] != 2:
        raise ValueError(f"candidate_goals must have shape (num_tasks, 2), got {tuple(goals.shape)}")
    dense, sparse = point_robot_rewards(positions.numpy()[:, :, None, :], goals.numpy()[None, None], radius)
    predicted = torch.from_numpy(sparse if reward_type == "sparse" else dense)  # (B, T, N)
    error = predicted - rewards.unsqueeze(-1)
    if noise_std == 0.0:
        return discrete_posterior(_log_indicator(error.abs() <= atol))
    return discrete_posterior(-0.5 * (error / noise_std) ** 2)


def movement_bandits_filter(positions: Tensor, goals: Tensor, rewards: Tensor) -> Tensor:
    """Exact posterior over which of the two MovementBandits goals is real.

    Goal k predicts reward ``1[|x_t - g_k|^2 < 50^2]`` after each move; the prior is 50/50.

    Args:
        positions: (batch, T, 2) positions after each move (env units, not divided by 400).
        goals: (batch, 2, 2) the two goals of each episode.
        rewards: (batch, T) rewards in {0, 1}.
    Returns:
        (batch, T + 1, 2) posteriors.

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """
    from peach_lite.envs.movement_bandits import REWARD_RADIUS

    positions = torch.as_tensor(positions, dtype=torch.float64)
    goals = torch.as_tensor(goals, dtype=torch.float64)
    rewards = _as_batch_time("rewards", rewards).double()
    if goals.dim() != 3 or goals.shape[1:] != (2, 2) or goals.shape[0] != positions.shape[0]:
        raise ValueError(f"goals must have shape (batch, 2, 2), got {tuple(goals.shape)}")
    inside = ((positions[:, :, None, :] - goals[:, None]) ** 2).sum(-1) < REWARD_RADIUS**2  # (B, T, 2)
    return discrete_posterior(_log_indicator(inside.double() == rewards.unsqueeze(-1)))


def enumerate_posterior(
    prior: Sequence[float],
    step_likelihood: Callable[[int, int, Any], float],
    trajectory: Sequence[Any],
    policy_prob: Callable[[int, Sequence[Any]], float] | None = None,
) -> np.ndarray:
    """Brute-force Bayes: the joint probability of task and trajectory, one task at a time.

    For every task w, multiply ``p(w)``, the policy's probability of each action given the history
    (``policy_prob``, any policy at all) and the probability of each observed outcome under w
    (``step_likelihood``); then normalise over tasks. Plain python loops on purpose: this is the
    slow reference that the vectorised filters must match, and passing two different policies shows
    the theorem of seed 004 numerically (the posterior does not change).

    Args:
        prior: (num_tasks,) prior probabilities.
        step_likelihood: ``(task_index, t, step) -> P(outcome of step t | history, action, task)``.
        trajectory: sequence of steps (whatever ``step_likelihood`` and ``policy_prob`` understand,
            e.g. ``(action, reward)`` tuples).
        policy_prob: ``(t, trajectory[:t + 1]) -> pi(a_t | history)``; None for a policy-free joint.
    Returns:
        (num_tasks,) posterior ``p(w | trajectory)``.

    Taught in notebooks/02_pomdp_belief.py (section "The posterior does not depend on the policy").
    """
    prior = [float(p) for p in prior]
    if not prior or min(prior) < 0 or sum(prior) <= 0:
        raise ValueError("prior must be a non-empty sequence of non-negative numbers with a positive sum")
    joint = []
    for task, p_task in enumerate(prior):
        probability = p_task
        for t, step in enumerate(trajectory):
            if policy_prob is not None:
                probability *= policy_prob(t, trajectory[: t + 1])
            probability *= step_likelihood(task, t, step)
        joint.append(probability)
    total = sum(joint)
    if total <= 0:
        raise ValueError("the trajectory has probability 0 under every task (and policy)")
    return np.array(joint) / total


def posterior_entropy(belief: Tensor) -> Tensor:
    """Entropy in nats of categorical beliefs (..., num_tasks) -> (...); 0 log 0 = 0.

    The expected entropy of the exact posterior is the lowest cross-entropy a supervised belief
    head can reach (algorithms.md §5.4).

    Taught in notebooks/03_task_inference.py (section "How good is the learnt belief?").
    """
    logs = torch.where(belief > 0, belief.log(), torch.zeros_like(belief))
    return -(belief * logs).sum(-1)


# ========================================================================================= simulators
class BatchedBernoulliBandit:
    """``peach_lite/BernoulliBandit-v0`` for a batch of episodes at once, on tensors.

    Same dynamics as :class:`peach_lite.envs.bandits.BernoulliBanditEnv`: pulling arm ``a`` pays
    ``1[u < probs[a]]`` with one uniform ``u`` per step, and the observation is
    [one-hot previous arm, previous reward] (zeros after reset). ``tests/test_belief.py`` feeds the
    env's own uniforms through :meth:`step` and checks rewards and observations step for step.

    Args:
        num_arms: K (the env's default 20).

    Taught in notebooks/02_pomdp_belief.py (section "Baselines on the 20-arm bandit").
    """

    def __init__(self, num_arms: int = 20):
        check_range("num_arms", num_arms, 2, 1000)
        self.num_arms = int(num_arms)
        self.obs_dim = self.num_arms + 1
        self.num_actions = self.num_arms
        self.probs = torch.zeros(0, self.num_arms, dtype=torch.float64)

    def reset(self, probs: Tensor) -> Tensor:
        """Start a batch of episodes on tasks ``probs`` (batch, num_arms); returns obs (batch, num_arms + 1).

        ``probs`` is kept in float64, like the env's task, so reward draws compare exactly as the env's.
        """
        probs = torch.as_tensor(probs, dtype=torch.float64)
        if probs.dim() != 2 or probs.shape[1] != self.num_arms or ((probs < 0) | (probs > 1)).any():
            raise ValueError(f"probs must have shape (batch, {self.num_arms}) with entries in [0, 1], got {tuple(probs.shape)}")
        self.probs = probs
        return torch.zeros(len(probs), self.obs_dim)

    def step(self, action: Tensor, *, generator: torch.Generator | None = None, uniform: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Pull one arm per episode.

        Args:
            action: (batch,) integer arms.
            generator: torch generator for the reward draws (ignored when ``uniform`` is given).
            uniform: (batch,) explicit uniforms in [0, 1) (to replay an env's own draws).
        Returns:
            (obs (batch, num_arms + 1), reward (batch,) float in {0, 1}).
        """
        action = action.long()
        if action.shape != (len(self.probs),):
            raise ValueError(f"action must have shape ({len(self.probs)},), got {tuple(action.shape)}")
        if uniform is None:
            uniform = torch.rand(len(action), generator=generator, dtype=torch.float64)
        chosen = self.probs.gather(1, action[:, None]).squeeze(1)
        reward = (torch.as_tensor(uniform, dtype=torch.float64) < chosen).float()
        obs = torch.cat([torch.nn.functional.one_hot(action, self.num_arms).float(), reward[:, None]], dim=1)
        return obs, reward


class BatchedKGoal:
    """``peach_lite/KGoalBandit-v0`` for a batch of trials: one pull per episode, reward ``1[a == goal]``.

    Taught in notebooks/02_pomdp_belief.py (section "The K-goal bandit: Bayes-optimal in closed form").
    """

    def __init__(self, num_goals: int = 4):
        check_range("num_goals", num_goals, 2, 1000)
        self.num_goals = int(num_goals)
        self.goal = torch.zeros(0, dtype=torch.long)

    def reset(self, goal: Tensor) -> None:
        """Set the rewarding goal of each trial, (batch,) integers in [0, K-1]."""
        goal = torch.as_tensor(goal).long()
        if goal.dim() != 1 or ((goal < 0) | (goal >= self.num_goals)).any():
            raise ValueError(f"goal must be a (batch,) tensor of integers in [0, {self.num_goals - 1}]")
        self.goal = goal

    def step(self, action: Tensor) -> Tensor:
        """(batch,) chosen goals -> (batch,) rewards in {0, 1}."""
        action = torch.as_tensor(action).long()
        if action.shape != self.goal.shape:
            raise ValueError(f"action must have shape {tuple(self.goal.shape)}, got {tuple(action.shape)}")
        return (action == self.goal).float()


class BatchedMovementBandits:
    """``peach_lite/MovementBandits-v0`` for a batch of episodes at once, on tensors.

    Same dynamics as :class:`peach_lite.envs.movement_bandits.MovementBanditsEnv` (constants imported
    from it): start (200, 200), moves of 20 units, two goals ~ U[0, 400]^2 per episode, reward
    ``1[|x - g_real|^2 < 50^2]`` after the move, observation [x, g0, g1] / 400.

    Taught in notebooks/03_task_inference.py (section "Three task families").
    """

    def __init__(self) -> None:
        from peach_lite.envs import movement_bandits as mb

        self._mb = mb
        self.obs_dim = 6
        self.num_actions = len(mb.MOVES)
        self.moves = torch.as_tensor(mb.MOVES, dtype=torch.float64)
        self.position = torch.zeros(0, 2, dtype=torch.float64)
        self.goals = torch.zeros(0, 2, 2, dtype=torch.float64)
        self.real_goal = torch.zeros(0, dtype=torch.long)

    def reset(self, real_goal: Tensor, *, goals: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Start episodes; ``real_goal`` (batch,) in {0, 1}; goals (batch, 2, 2) drawn ~ U[0, 400]^2 unless given.

        Returns:
            obs (batch, 6) float32.
        """
        real_goal = torch.as_tensor(real_goal).long()
        if real_goal.dim() != 1 or ((real_goal < 0) | (real_goal > 1)).any():
            raise ValueError("real_goal must be a (batch,) tensor of 0s and 1s")
        batch = len(real_goal)
        if goals is None:
            goals = torch.rand(batch, 2, 2, generator=generator, dtype=torch.float64) * self._mb.ARENA
        goals = torch.as_tensor(goals, dtype=torch.float64)
        if goals.shape != (batch, 2, 2):
            raise ValueError(f"goals must have shape ({batch}, 2, 2), got {tuple(goals.shape)}")
        self.real_goal, self.goals = real_goal, goals
        self.position = torch.tensor(self._mb.START, dtype=torch.float64).repeat(batch, 1)
        return self._obs()

    def step(self, action: Tensor) -> tuple[Tensor, Tensor]:
        """(batch,) moves in 0..4 -> (obs (batch, 6), reward (batch,))."""
        action = torch.as_tensor(action).long()
        if action.shape != self.real_goal.shape:
            raise ValueError(f"action must have shape {tuple(self.real_goal.shape)}, got {tuple(action.shape)}")
        low, high = self._mb.POSITION_LIMITS
        self.position = (self.position + self.moves[action]).clamp(low, high)
        real = self.goals[torch.arange(len(action)), self.real_goal]
        reward = (((self.position - real) ** 2).sum(-1) < self._mb.REWARD_RADIUS**2).float()
        return self._obs(), reward

    def _obs(self) -> Tensor:
        return (torch.cat([self.position, self.goals.reshape(-1, 4)], dim=1) / self._mb.ARENA).float()


# ========================================================================================== baselines
BANDIT_BASELINES = ("random", "greedy", "thompson", "ucb", "oracle")
"""Policies of :func:`run_bandit_baseline`: uniform arms; the arm with the best posterior mean;
Thompson sampling (pull the best arm of one sample from the Beta posterior); UCB1 (Auer et al. 2002:
empirical mean + sqrt(2 ln t / n), every arm once first); the task-known oracle (best arm)."""


def run_bandit_baseline(
    policy: str,
    probs: Tensor | np.ndarray,
    *,
    horizon: int = 100,
    seed: int = 0,
    ucb_c: float = 2.0,
) -> dict[str, Tensor]:
    """Run a classic bandit policy on a batch of tasks of ``peach_lite/BernoulliBandit-v0``.

    Args:
        policy: one of :data:`BANDIT_BASELINES`.
        probs: (num_tasks, num_arms) arm probabilities, one episode per task.
        horizon: pulls per episode (the env's 100).
        seed: seeds the reward draws and the policy's own randomness.
        ucb_c: exploration constant c of UCB1's bonus sqrt(c ln t / n) (Auer et al.: c = 2).
    Returns:
        dict of (num_tasks, horizon) tensors: ``actions``, ``rewards``, ``regret`` (expected regret
        of each pull, max(probs) - probs[a]).

    Taught in notebooks/02_pomdp_belief.py (section "Baselines on the 20-arm bandit").
    """
    check_choice("policy", policy, BANDIT_BASELINES)
    check_range("horizon", horizon, 1, 100_000)
    check_range("ucb_c", ucb_c, 0.0, None)
    probs = torch.as_tensor(np.asarray(probs), dtype=torch.float64)
    if probs.dim() != 2:
        raise ValueError(f"probs must have shape (num_tasks, num_arms), got {tuple(probs.shape)}")
    num_tasks, num_arms = probs.shape
    sim = BatchedBernoulliBandit(num_arms)
    sim.reset(probs)
    generator = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed) + 1)
    alpha = torch.ones(num_tasks, num_arms, dtype=torch.float64)
    beta = torch.ones(num_tasks, num_arms, dtype=torch.float64)
    best = probs.max(1).values
    actions, rewards, regret = [], [], []
    for t in range(horizon):
        jitter = torch.from_numpy(rng.random((num_tasks, num_arms))) * 1e-9  # random tie-breaking
        if policy == "random":
            action = torch.from_numpy(rng.integers(0, num_arms, size=num_tasks))
        elif policy == "greedy":
            action = (alpha / (alpha + beta) + jitter).argmax(1)
        elif policy == "thompson":
            action = torch.from_numpy(rng.beta(alpha.numpy(), beta.numpy())).argmax(1)
        elif policy == "ucb":
            pulls = alpha + beta - 2.0
            mean = (alpha - 1.0) / pulls.clamp(min=1.0)
            bonus = torch.sqrt(ucb_c * math.log(max(t, 1)) / pulls.clamp(min=1.0))
            score = torch.where(pulls > 0, mean + bonus, torch.full_like(mean, math.inf))
            action = (score + jitter).argmax(1)
        else:  # oracle
            action = probs.argmax(1)
        _, reward = sim.step(action, generator=generator)
        alpha, beta = bernoulli_update(alpha, beta, action, reward)
        actions.append(action)
        rewards.append(reward)
        regret.append(best - probs.gather(1, action[:, None]).squeeze(1))
    return {"actions": torch.stack(actions, 1), "rewards": torch.stack(rewards, 1), "regret": torch.stack(regret, 1)}


K_GOAL_POLICIES = ("bayes_greedy", "posterior_sampling", "random", "oracle")
"""Policies of :func:`k_goal_rollout`: the most probable goal under the exact posterior (ties broken
at random); a goal sampled from the exact posterior; a uniformly random goal; the true goal."""


def k_goal_rollout(policy: str, num_goals: int, num_episodes: int, *, num_trials: int = 10_000, seed: int = 0) -> dict[str, Tensor]:
    """Run trials of the K-goal bandit (one pull per episode) with a policy on the exact posterior.

    Args:
        policy: one of :data:`K_GOAL_POLICIES`.
        num_goals: K.
        num_episodes: H, episodes (pulls) per trial.
        num_trials: trials run in parallel; the true goal of trial i is ``i % K`` (a uniform prior, balanced).
        seed: seeds the policy's randomness.
    Returns:
        dict with ``actions``, ``rewards`` (num_trials, H) and ``posterior`` (num_trials, H + 1, K).

    Taught in notebooks/02_pomdp_belief.py (section "The K-goal bandit: Bayes-optimal in closed form").
    """
    check_choice("policy", policy, K_GOAL_POLICIES)
    check_range("num_goals", num_goals, 2, 1000)
    check_range("num_episodes", num_episodes, 1, 10_000)
    check_range("num_trials", num_trials, 1, 10_000_000)
    generator = torch.Generator().manual_seed(int(seed))
    sim = BatchedKGoal(num_goals)
    goal = torch.arange(int(num_trials)) % num_goals
    sim.reset(goal)
    belief = torch.full((int(num_trials), num_goals), 1.0 / num_goals, dtype=torch.float64)
    actions, rewards, beliefs = [], [], [belief]
    for _ in range(int(num_episodes)):
        if policy == "bayes_greedy":
            noise = torch.rand(belief.shape, generator=generator, dtype=torch.float64) * 1e-9
            action = (belief + noise * (belief > 0)).argmax(1)
        elif policy == "posterior_sampling":
            action = torch.multinomial(belief, 1, generator=generator).squeeze(1)
        elif policy == "random":
            action = torch.randint(num_goals, (int(num_trials),), generator=generator)
        else:
            action = goal.clone()
        reward = sim.step(action)
        consistent = torch.nn.functional.one_hot(action, num_goals).double() == reward.double()[:, None]
        belief = elimination_update(belief, consistent)
        actions.append(action)
        rewards.append(reward)
        beliefs.append(belief)
    return {"actions": torch.stack(actions, 1), "rewards": torch.stack(rewards, 1), "posterior": torch.stack(beliefs, 1)}


def point_robot_posterior_sampling(
    true_goals: np.ndarray,
    candidate_goals: np.ndarray,
    *,
    num_episodes: int = 6,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """PEARL-style posterior sampling on the sparse point robot with a discrete set of candidate goals.

    At the start of every episode (20 steps from (0, 0)) each agent samples one goal from its exact
    elimination posterior and walks to it greedily (``oracles.point_robot_oracle_action``) for the
    whole episode; every sparse reward seen on the way updates the posterior
    (:func:`point_robot_filter` logic, one step at a time). This is what seed 004's Fig. 6 contrasts
    with the belief agent, which sweeps the semicircle instead.

    Args:
        true_goals: (N, 2) the goal of each of N independent trials.
        candidate_goals: (M, 2) the support of the uniform prior (must contain the true goals).
        num_episodes: episodes per trial.
        seed: seeds the posterior samples.
    Returns:
        dict: ``returns`` (num_episodes, N) sparse returns; ``posterior`` (num_episodes + 1, N, M)
        posterior at the start of each episode (and at the end); ``paths`` (num_episodes, N, 20, 2);
        ``targets`` (num_episodes, N, 2) the goal sampled for each episode.

    Taught in notebooks/02_pomdp_belief.py (section "The sparse point robot").
    """
    from peach_lite.envs.oracles import point_robot_oracle_action
    from peach_lite.envs.point_robot import HORIZON, MAX_STEP, point_robot_rewards

    check_range("num_episodes", num_episodes, 1, 1000)
    true_goals = np.asarray(true_goals, dtype=np.float64)
    candidates = np.asarray(candidate_goals, dtype=np.float64)
    if true_goals.ndim != 2 or true_goals.shape[1] != 2 or candidates.ndim != 2 or candidates.shape[1] != 2:
        raise ValueError("true_goals and candidate_goals must have shape (N, 2) and (M, 2)")
    in_support = np.abs(true_goals[:, None, :] - candidates[None]).max(-1).min(-1) < 1e-9
    if not in_support.all():
        raise ValueError("every true goal must be one of the candidate goals")
    rng = np.random.default_rng(int(seed))
    n, m = len(true_goals), len(candidates)
    belief = np.full((n, m), 1.0 / m)
    returns, beliefs, paths, targets = [], [belief.copy()], [], []
    for _ in range(int(num_episodes)):
        cumulative = belief.cumsum(1)
        target = candidates[np.minimum((cumulative < rng.random((n, 1))).sum(1), m - 1)]
        targets.append(target)
        state = np.zeros((n, 2))
        total, path = np.zeros(n), []
        for _ in range(HORIZON):
            # same update as PointRobotEnv.step (state + 0.1 * clip(action, -1, 1)); 20 steps stay far from the clip at 10
            state = state + MAX_STEP * np.clip(point_robot_oracle_action(state, target), -1.0, 1.0)
            _, reward = point_robot_rewards(state, true_goals)
            _, predicted = point_robot_rewards(state[:, None, :], candidates[None])  # (n, m)
            belief = belief * (np.abs(predicted - reward[:, None]) <= 1e-9)
            belief = belief / belief.sum(1, keepdims=True)
            total += reward
            path.append(state.copy())
        returns.append(total)
        beliefs.append(belief.copy())
        paths.append(np.stack(path, 1))
    return {"returns": np.array(returns), "posterior": np.array(beliefs), "paths": np.array(paths), "targets": np.array(targets)}


# ============================================================================================ helpers
def _as_batch_time(field: str, value: Any) -> Tensor:
    tensor = torch.as_tensor(value)
    if tensor.dim() != 2:
        raise ValueError(f"{field} must have shape (batch, T), got {tuple(tensor.shape)}")
    return tensor


def _log_indicator(mask: Tensor) -> Tensor:
    """log of a 0/1 likelihood: 0 where True, -inf where False (float64)."""
    return torch.where(mask, torch.zeros((), dtype=torch.float64), torch.full((), -math.inf, dtype=torch.float64))


def _check_batch_arms(alpha: Tensor, beta: Tensor, action: Tensor, reward: Tensor) -> None:
    if alpha.dim() != 2 or alpha.shape != beta.shape:
        raise ValueError(f"alpha and beta must both have shape (batch, num_arms), got {tuple(alpha.shape)} and {tuple(beta.shape)}")
    if action.shape != alpha.shape[:1] or reward.shape != alpha.shape[:1]:
        raise ValueError(f"action and reward must have shape ({alpha.shape[0]},), got {tuple(action.shape)} and {tuple(reward.shape)}")
