"""Exact Bayes filters vs brute-force enumeration, the policy-independence theorem, the batched
simulators vs the registered envs (step for step), and the bandit / K-goal baselines."""
import copy
import itertools

import numpy as np
import pytest
import torch

import peach_lite.envs as envs
from peach_lite import belief
from peach_lite.belief import (
    BatchedBernoulliBandit,
    BatchedKGoal,
    BatchedMovementBandits,
    bernoulli_update,
    beta_bernoulli_filter,
    discrete_posterior,
    elimination_update,
    enumerate_posterior,
    k_goal_filter,
    k_goal_rollout,
    movement_bandits_filter,
    point_robot_filter,
    point_robot_posterior_sampling,
    posterior_entropy,
    run_bandit_baseline,
)
from peach_lite.envs.oracles import bernoulli_bandit_oracle_return, k_goal_bayes_optimal, point_robot_oracle_return
from peach_lite.envs.point_robot import point_robot_rewards, semicircle_goals

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------- filters vs brute force
def test_beta_bernoulli_filter_matches_brute_force_on_a_grid():
    """Discretise two arms' probabilities on a grid; brute-force Bayes over the grid = Beta density on it."""
    rng = np.random.default_rng(0)
    grid = np.linspace(0.005, 0.995, 40)
    tasks = list(itertools.product(grid, grid))  # 1600 candidate tasks (p0, p1), uniform prior
    actions = rng.integers(0, 2, size=12)
    rewards = (rng.random(12) < np.where(actions == 0, 0.3, 0.8)).astype(float)
    trajectory = list(zip(actions, rewards))

    def likelihood(task, t, step):
        arm, reward = step
        p = tasks[task][arm]
        return p if reward == 1 else 1 - p

    brute = enumerate_posterior(np.full(len(tasks), 1 / len(tasks)), likelihood, trajectory)
    alpha, beta = beta_bernoulli_filter(torch.tensor(actions)[None], torch.tensor(rewards)[None], num_arms=2)
    a, b = alpha[0, -1].numpy(), beta[0, -1].numpy()
    density = np.array([p0 ** (a[0] - 1) * (1 - p0) ** (b[0] - 1) * p1 ** (a[1] - 1) * (1 - p1) ** (b[1] - 1) for p0, p1 in tasks])
    np.testing.assert_allclose(brute, density / density.sum(), rtol=1e-9, atol=1e-15)
    # and the counts themselves: prior 1 plus successes / failures of each arm
    for arm in range(2):
        assert a[arm] == 1 + rewards[actions == arm].sum()
        assert b[arm] == 1 + (1 - rewards[actions == arm]).sum()


def test_bernoulli_update_steps_reproduce_the_vectorised_filter():
    generator = torch.Generator().manual_seed(1)
    actions = torch.randint(0, 5, (7, 30), generator=generator)
    rewards = (torch.rand(7, 30, generator=generator) < 0.4).float()
    alpha, beta = beta_bernoulli_filter(actions, rewards, 5, prior=(2.0, 3.0))
    a, b = torch.full((7, 5), 2.0, dtype=torch.float64), torch.full((7, 5), 3.0, dtype=torch.float64)
    for t in range(30):
        torch.testing.assert_close(a, alpha[:, t])
        torch.testing.assert_close(b, beta[:, t])
        a, b = bernoulli_update(a, b, actions[:, t], rewards[:, t])
    torch.testing.assert_close(a, alpha[:, -1])


def test_k_goal_filter_matches_brute_force():
    k = 5
    trajectory = [(3, 0.0), (1, 0.0), (1, 0.0), (4, 1.0), (4, 1.0)]
    brute = enumerate_posterior([1 / k] * k, lambda w, t, s: float(s[1] == float(s[0] == w)), trajectory)
    actions = torch.tensor([[a for a, _ in trajectory]])
    rewards = torch.tensor([[r for _, r in trajectory]])
    posterior = k_goal_filter(actions, rewards, k)
    np.testing.assert_allclose(posterior[0, -1].numpy(), brute, atol=1e-12)
    np.testing.assert_allclose(posterior[0, 1].numpy(), [0.25, 0.25, 0.25, 0, 0.25])
    np.testing.assert_allclose(posterior[0, 0].numpy(), np.full(k, 0.2))


@pytest.mark.parametrize("noise_std", [0.0, 0.3])
def test_point_robot_filter_matches_brute_force(noise_std):
    rng = np.random.default_rng(2)
    candidates = semicircle_goals(25)
    true_goal = candidates[7]
    steps = 20
    # a path that walks towards the true goal, then wanders: some rewards are non-zero
    positions = np.cumsum(np.clip(rng.normal(0.03, 0.08, size=(steps, 2)) + 0.05 * true_goal, -0.1, 0.1), axis=0)
    reward_type = "sparse" if noise_std == 0 else "dense"
    dense, sparse = point_robot_rewards(positions, true_goal)
    observed = (sparse if reward_type == "sparse" else dense) + noise_std * rng.normal(size=steps)

    def likelihood(task, t, step):
        position, reward = step
        d, s = point_robot_rewards(position, candidates[task])
        predicted = s if reward_type == "sparse" else d
        if noise_std == 0:
            return float(abs(predicted - reward) <= 1e-6)
        return float(np.exp(-0.5 * ((predicted - reward) / noise_std) ** 2))

    trajectory = list(zip(positions, observed))
    posterior = point_robot_filter(torch.tensor(positions)[None], torch.tensor(observed)[None], torch.tensor(candidates),
                                   reward_type=reward_type, noise_std=noise_std)
    for t in (1, 5, steps):
        brute = enumerate_posterior(np.full(len(candidates), 1 / len(candidates)), likelihood, trajectory[:t])
        np.testing.assert_allclose(posterior[0, t].numpy(), brute, atol=1e-9)
    assert posterior[0, -1, 7] > 0  # the true goal is never eliminated


def test_movement_bandits_filter_matches_brute_force():
    goals = np.array([[120.0, 200.0], [300.0, 330.0]])
    path = np.array([[200.0 - 20 * i, 200.0] for i in range(1, 6)])  # walks into goal 0's disc
    for real in (0, 1):
        rewards = (((path - goals[real]) ** 2).sum(1) < 2500).astype(float)
        trajectory = list(zip(path, rewards))
        brute = enumerate_posterior([0.5, 0.5], lambda w, t, s: float(float(((s[0] - goals[w]) ** 2).sum() < 2500) == s[1]), trajectory)
        posterior = movement_bandits_filter(torch.tensor(path)[None], torch.tensor(goals)[None], torch.tensor(rewards)[None])
        np.testing.assert_allclose(posterior[0, -1].numpy(), brute)
        assert posterior[0, -1, real] == 1.0  # entering goal 0's disc reveals the answer


def test_discrete_posterior_is_a_softmax_of_summed_log_likelihoods():
    generator = torch.Generator().manual_seed(3)
    log_lik = torch.randn(4, 6, 3, generator=generator, dtype=torch.float64)
    log_prior = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
    posterior = discrete_posterior(log_lik, log_prior)
    manual = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64) * log_lik[:, :4].sum(1).exp()
    torch.testing.assert_close(posterior[:, 4], manual / manual.sum(-1, keepdim=True))
    torch.testing.assert_close(posterior.sum(-1), torch.ones(4, 7, dtype=torch.float64))


def test_elimination_update_and_entropy():
    b = torch.tensor([[0.25, 0.25, 0.5]])
    out = elimination_update(b, torch.tensor([[True, False, True]]))
    torch.testing.assert_close(out, torch.tensor([[1 / 3, 0.0, 2 / 3]]))
    torch.testing.assert_close(posterior_entropy(torch.tensor([0.5, 0.5, 0.0])), torch.tensor(np.log(2), dtype=torch.float32))
    with pytest.raises(ValueError, match="consistent"):
        elimination_update(b, torch.tensor([[False, False, False]]))


# ------------------------------------------------------------------- the policy-independence theorem
def _discrete_bandit():
    """Three arms, four candidate tasks: a small world where trajectories repeat often."""
    return np.array([[0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [0.5, 0.5, 0.9], [0.2, 0.2, 0.2]])


def _lik(tasks):
    return lambda w, t, step: tasks[w][step[0]] if step[1] == 1 else 1 - tasks[w][step[0]]


def test_posterior_does_not_depend_on_the_policy_exact():
    tasks = _discrete_bandit()
    trajectory = [(0, 1), (2, 0), (0, 1), (1, 0)]

    def uniform(t, history):
        return 1 / 3

    def sticky(t, history):  # prefers repeating a rewarded arm: depends on the history
        if t == 0:
            return [0.7, 0.2, 0.1][history[0][0]]
        previous_arm, previous_reward = history[-2]
        same = history[-1][0] == previous_arm
        return (0.8 if same else 0.1) if previous_reward == 1 else (0.1 if same else 0.45)

    prior = [0.1, 0.2, 0.3, 0.4]
    a = enumerate_posterior(prior, _lik(tasks), trajectory, uniform)
    b = enumerate_posterior(prior, _lik(tasks), trajectory, sticky)
    c = enumerate_posterior(prior, _lik(tasks), trajectory, None)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, c, rtol=1e-12)
    filt = discrete_posterior(torch.log(torch.tensor([[[tasks[w][arm] if r else 1 - tasks[w][arm] for w in range(4)]
                                                       for arm, r in trajectory]], dtype=torch.float64)),
                              torch.log(torch.tensor(prior, dtype=torch.float64)))
    np.testing.assert_allclose(filt[0, -1].numpy(), a, rtol=1e-9)


def test_posterior_does_not_depend_on_the_policy_monte_carlo():
    """Sample (w, tau) under two very different policies: the empirical p(w | tau) agrees with the filter for both."""
    tasks = _discrete_bandit()
    rng = np.random.default_rng(4)
    n, steps = 60_000, 2
    for policy in ("uniform", "greedy_on_arm0"):
        w = rng.integers(0, 4, size=n)
        arms, rewards = np.zeros((n, steps), int), np.zeros((n, steps), int)
        for t in range(steps):
            if policy == "uniform":
                arm = rng.integers(0, 3, size=n)
            else:  # start on arm 0, stay after a reward, else move to arm 1 or 2
                arm = np.zeros(n, int) if t == 0 else np.where(rewards[:, t - 1] == 1, arms[:, t - 1], 1 + rng.integers(0, 2, size=n))
            arms[:, t] = arm
            rewards[:, t] = rng.random(n) < tasks[w, arm]
        keys = arms * 2 + rewards
        key = keys[:, 0] * 6 + keys[:, 1]
        checked = 0
        for value in np.unique(key):
            rows = key == value
            if rows.sum() < 2000:
                continue
            empirical = np.bincount(w[rows], minlength=4) / rows.sum()
            log_lik = torch.log(torch.tensor([[[tasks[v][a] if r else 1 - tasks[v][a] for v in range(4)]
                                               for a, r in zip(arms[rows][0], rewards[rows][0])]]))
            exact = discrete_posterior(log_lik)[0, -1].numpy()
            tolerance = 5 * np.sqrt(exact * (1 - exact) / rows.sum()) + 1e-3
            assert np.all(np.abs(empirical - exact) < tolerance), (policy, value, empirical, exact)
            checked += 1
        assert checked >= 3


# --------------------------------------------------------------------- batched simulators vs the envs
def test_batched_bernoulli_bandit_matches_the_env_step_for_step():
    env = envs.make("peach_lite/BernoulliBandit-v0")
    task = env.unwrapped.test_tasks()[3]
    sim = BatchedBernoulliBandit(20)
    obs0 = sim.reset(torch.tensor([task.probs]))
    obs, _ = env.reset(seed=5, options={"task": task})
    np.testing.assert_array_equal(obs0[0].numpy(), obs)
    rng = copy.deepcopy(env.unwrapped.np_random)  # the env draws one uniform per step from this generator
    actions = np.random.default_rng(0).integers(0, 20, size=100)
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(int(action))
        sim_obs, sim_reward = sim.step(torch.tensor([action]), uniform=torch.tensor([rng.random()]))
        assert sim_reward.item() == reward
        np.testing.assert_array_equal(sim_obs[0].numpy(), obs)
        assert not terminated
    assert truncated  # TimeLimit: 100 pulls


def test_batched_k_goal_matches_the_env():
    env = envs.make("peach_lite/KGoalBandit-v0")
    sim = BatchedKGoal(4)
    for goal in range(4):
        sim.reset(torch.tensor([goal]))
        for action in range(4):
            env.reset(seed=0, options={"task": {"goal": goal}})
            _, reward, terminated, _, _ = env.step(action)
            assert sim.step(torch.tensor([action])).item() == reward and terminated


def test_batched_movement_bandits_matches_the_env_step_for_step():
    env = envs.make("peach_lite/MovementBandits-v0")
    sim = BatchedMovementBandits()
    rng = np.random.default_rng(1)
    for seed, real in [(0, 0), (1, 1), (2, 1)]:
        obs, info = env.reset(seed=seed, options={"task": {"real_goal": real}})
        sim_obs = sim.reset(torch.tensor([real]), goals=torch.tensor(info["goals"])[None])
        np.testing.assert_allclose(sim_obs[0].numpy(), obs, rtol=0, atol=1e-6)
        total = 0.0
        for t in range(50):
            # mostly towards goal 0, so rewards do happen
            action = int(rng.integers(0, 5)) if rng.random() < 0.4 else 1 + int(rng.integers(0, 4))
            obs, reward, *_ = env.step(action)
            sim_obs, sim_reward = sim.step(torch.tensor([action]))
            assert sim_reward.item() == reward
            np.testing.assert_allclose(sim_obs[0].numpy(), obs, rtol=0, atol=1e-6)
            total += reward
    policy_hits = 0
    for seed in range(20):  # oracle walks hit the goal: the reward branch is exercised
        obs, info = env.reset(seed=seed, options={"task": {"real_goal": 0}})
        sim.reset(torch.tensor([0]), goals=torch.tensor(info["goals"])[None])
        from peach_lite.envs.oracles import movement_bandits_oracle_action

        for _ in range(50):
            action = movement_bandits_oracle_action(obs, 0)
            obs, reward, *_ = env.step(action)
            assert sim.step(torch.tensor([action]))[1].item() == reward
            policy_hits += reward
    assert policy_hits > 100


# ------------------------------------------------------------------------------------------- baselines
def test_k_goal_bayes_strategies_reach_the_closed_form():
    for k, h in [(2, 5), (4, 10), (6, 4)]:
        closed = k_goal_bayes_optimal(k, h)
        for policy in ("bayes_greedy", "posterior_sampling"):
            successes = k_goal_rollout(policy, k, h, num_trials=12_000, seed=1)["rewards"].sum(1)
            standard_error = successes.std().item() / np.sqrt(len(successes)) + 1e-9
            assert abs(successes.mean().item() - closed) < 5 * standard_error + 1e-9, (k, h, policy)
        assert k_goal_rollout("oracle", k, h, num_trials=100)["rewards"].sum(1).mean().item() == h
    # exact for a balanced batch: bayes_greedy never repeats a wrong goal
    out = k_goal_rollout("bayes_greedy", 3, 3, num_trials=3 * 4000, seed=2)
    assert out["rewards"][:, :3].sum(1).max() <= 3 and (out["posterior"][:, -1].max(1).values == 1).all()


def test_bandit_baselines_are_ordered_and_below_the_oracle():
    env = envs.make("peach_lite/BernoulliBandit-v0")
    probs = np.array([t.probs for t in env.unwrapped.test_tasks()[:300]])
    means = {p: run_bandit_baseline(p, probs, seed=0)["rewards"].sum(1).mean().item() for p in belief.BANDIT_BASELINES}
    oracle = bernoulli_bandit_oracle_return(probs)
    assert means["random"] < means["ucb"] < means["thompson"] < oracle
    assert means["random"] < means["greedy"] < oracle
    assert abs(means["oracle"] - oracle) < 1.5  # sampled rewards vs the expectation
    regret = run_bandit_baseline("oracle", probs, seed=0)["regret"]
    assert (regret == 0).all()


def test_baselines_are_deterministic_given_the_seed():
    probs = np.random.default_rng(0).random((50, 20))
    a = run_bandit_baseline("thompson", probs, seed=3)
    b = run_bandit_baseline("thompson", probs, seed=3)
    c = run_bandit_baseline("thompson", probs, seed=4)
    assert torch.equal(a["rewards"], b["rewards"]) and torch.equal(a["actions"], b["actions"])
    assert not torch.equal(a["actions"], c["actions"])


def test_point_robot_posterior_sampling_never_beats_the_oracle():
    goals = semicircle_goals(100)
    out = point_robot_posterior_sampling(goals[80:], goals, num_episodes=4, seed=0)
    oracle = point_robot_oracle_return(goals[80:], per_goal=True)
    assert (out["returns"] <= oracle[None] + 1e-9).all()
    assert out["returns"][-1].mean() > out["returns"][0].mean()  # the posterior concentrates
    true_index = [int(np.argmin(np.abs(goals - g).sum(1))) for g in goals[80:]]
    assert (out["posterior"][:, np.arange(20), true_index] > 0).all()  # the truth is never eliminated


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="policy"):
        run_bandit_baseline("epsilon", np.ones((2, 3)) * 0.5)
    with pytest.raises(ValueError, match="horizon"):
        run_bandit_baseline("random", np.ones((2, 3)) * 0.5, horizon=0)
    with pytest.raises(ValueError, match="num_goals"):
        k_goal_rollout("random", 1, 3)
    with pytest.raises(ValueError, match="actions"):
        beta_bernoulli_filter(torch.tensor([[0, 3]]), torch.tensor([[1.0, 0.0]]), num_arms=3)
    with pytest.raises(ValueError, match="reward_type"):
        point_robot_filter(torch.zeros(1, 2, 2), torch.zeros(1, 2), torch.zeros(3, 2), reward_type="medium")
    with pytest.raises(ValueError, match="probs"):
        BatchedBernoulliBandit(3).reset(torch.full((2, 3), 1.5))
    with pytest.raises(ValueError, match="true goal"):
        point_robot_posterior_sampling(np.array([[0.3, 0.3]]), semicircle_goals(10))
