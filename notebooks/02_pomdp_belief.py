# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · POMDPs and belief states
#
# A meta-RL agent is dropped into a task it does not know: which arm of a bandit pays, where the goal of a
# navigation task is. Humplik et al. (*Meta reinforcement learning as task inference*, seed 004) make this
# precise: **meta-RL is a partially observed MDP whose hidden state is the task**. The best an agent can do
# is to act on its *belief*, the posterior over tasks given what it has seen.
#
# This lesson computes that belief *exactly* wherever it is tractable, checks it against brute-force
# enumeration, proves numerically that it does not depend on the policy that gathered the data (the theorem
# that makes off-policy meta-RL possible), and compares classic strategies built on it. Lesson 03 then
# *learns* beliefs with neural networks.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %% [markdown]
# ## MDP vs POMDP
#
# An MDP $(\mathcal X, \mathcal A, P, p_0, R, \gamma)$ shows the agent its state. A POMDP adds an observation
# space $\Omega$ and an observation model $O(o' \mid x', a)$: the agent sees only $o$.
#
# | Markov model | no control | control |
# |---|---|---|
# | state observed | Markov chain | **MDP** |
# | state hidden | HMM | **POMDP** |
#
# **The meta-RL POMDP (seed 004).** Tasks $w \in \mathcal W$ are drawn from $p(w)$; task $w$ is an MDP with
# dynamics $P^w$ and rewards $R^w$. Build one POMDP whose state is the pair $(x, w)$:
#
# * transitions $P(x', w' \mid x, w, a) = \delta(w' - w)\, P^w(x' \mid x, a)$ (the task never changes),
# * initial distribution $p_0(x, w) = p(w)\, p_0(x \mid w)$,
# * rewards $R(r \mid x, w, a, x', w') = R^w(r \mid x, a, x')$,
# * observations $O(o' \mid x', w, a) = \delta(o' - x')$: the agent sees $x$, never $w$.
#
# The environments of `peach_lite.envs` are built exactly like this: the observation of the 20-arm bandit
# is the previous arm and reward, and the arm probabilities (the task) are nowhere in it.

# %%
import numpy as np
import torch

import peach_lite.envs as envs
from peach_lite import show_source

torch.set_num_threads(1)  # batched filters on small tensors: one thread is fastest (and kind to a shared machine)
bandit = envs.make("peach_lite/BernoulliBandit-v0")
task = bandit.unwrapped.test_tasks()[0]
obs, _ = bandit.reset(seed=0, options={"task": task})
obs, reward, *_ = bandit.step(3)
print("hidden task w: arm probabilities", np.round(task.probs[:5], 2), "...")
print("what the agent sees after pulling arm 3:", obs, "reward", reward)
assert obs.shape == (21,) and obs[3] == 1 and obs[-1] == reward  # previous arm and reward only

# %% [markdown]
# ## The belief state, and the theorem
#
# With the trajectory $\tau_{0:t} = (o_{0:t}, a_{0:t-1}, r_{0:t-1})$, the belief is
# $b_t(x, w) = p(x, w \mid \tau_{0:t}) = \delta(x - x_t)\, p(w \mid \tau_{0:t})$, and it is a *sufficient
# statistic*: the optimal policy satisfies $\pi^*(a_t \mid \tau_{0:t}) = \pi^*(a_t \mid x_t, b_t)$.
#
# **Theorem (seed 004, appendix A).** The posterior over tasks is
#
# $$p(w \mid \tau_{0:t}) \;\propto\; p(w)\, p_0(x_0 \mid w) \prod_{t'=0}^{t-1} P(r_{t'}, x_{t'+1} \mid x_{t'}, a_{t'}, w).$$
#
# The policy's factors $\pi(a_{t'} \mid \tau_{0:t'})$ appear in the joint $p(w, \tau)$ too, but they are the
# same for every $w$ and cancel when we normalise. **Given a trajectory, the posterior does not depend on
# the policy that produced it.** Everything below computes the right-hand side, in batches.

# %% [markdown]
# ## The Bernoulli bandit: Beta posteriors
#
# For the 20-arm bandit (seed 004's first experiment: 20 arms, 100 pulls, $w_k \sim U[0, 1]$) the prior of
# every arm is Beta(1, 1) and the likelihood of a pull is Bernoulli, so the posterior stays Beta:
# pulling arm $a$ and seeing $r$ adds $r$ to $\alpha_a$ and $1 - r$ to $\beta_a$. One step:

# %%
from peach_lite.belief import bernoulli_update, beta_bernoulli_filter, enumerate_posterior

show_source(bernoulli_update)

# %% [markdown]
# Over a whole batch of episodes the filter is two cumulative sums, no loop over time
# (`beta_bernoulli_filter`). Here are the posteriors of three arms while Thompson sampling plays one task.

# %%
import matplotlib.pyplot as plt

from peach_lite.belief import run_bandit_baseline

probs = np.array([t.probs for t in bandit.unwrapped.test_tasks()[:1]])
played = run_bandit_baseline("thompson", probs, seed=0)
alpha, beta = beta_bernoulli_filter(played["actions"], played["rewards"], num_arms=20)
grid = np.linspace(0.001, 0.999, 400)
arms = [int(probs[0].argmax()), int(np.argsort(probs[0])[-2]), int(probs[0].argmin())]
fig, axes = plt.subplots(1, 4, figsize=(13, 2.6), sharey=True)
for ax, t in zip(axes, [0, 5, 25, 100]):
    for arm, color in zip(arms, ["C2", "C0", "C3"]):
        a, b = alpha[0, t, arm].item(), beta[0, t, arm].item()
        density = grid ** (a - 1) * (1 - grid) ** (b - 1)
        ax.plot(grid, density / np.trapezoid(density, grid), color=color, label=f"arm {arm} (w={probs[0, arm]:.2f})")
        ax.axvline(probs[0, arm], color=color, ls="--", lw=0.8)
    ax.set_title(f"after {t} pulls")
    ax.set_xlabel("arm probability w_k")
axes[0].set_ylabel("posterior density")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check against brute force.** Put two arms' probabilities on a 40 × 40 grid, run Bayes' rule by plain
# enumeration (`enumerate_posterior`: python loops over tasks and steps), and compare with the Beta
# density on the same grid.

# %%
show_source(enumerate_posterior)

# %%
import itertools

rng = np.random.default_rng(0)
grid2 = np.linspace(0.005, 0.995, 40)
grid_tasks = list(itertools.product(grid2, grid2))
arms2 = rng.integers(0, 2, size=15)
rewards2 = (rng.random(15) < np.where(arms2 == 0, 0.3, 0.8)).astype(float)


def bandit_likelihood(task_index, t, step):
    arm, reward = step
    p = grid_tasks[task_index][arm]
    return p if reward == 1 else 1 - p


brute = enumerate_posterior(np.full(len(grid_tasks), 1 / len(grid_tasks)), bandit_likelihood, list(zip(arms2, rewards2)))
a2, b2 = beta_bernoulli_filter(torch.tensor(arms2)[None], torch.tensor(rewards2)[None], num_arms=2)
a2, b2 = a2[0, -1].numpy(), b2[0, -1].numpy()
beta_on_grid = np.array([p0 ** (a2[0] - 1) * (1 - p0) ** (b2[0] - 1) * p1 ** (a2[1] - 1) * (1 - p1) ** (b2[1] - 1) for p0, p1 in grid_tasks])
beta_on_grid /= beta_on_grid.sum()
print(f"max |brute force - Beta filter| over {len(grid_tasks)} grid tasks: {np.abs(brute - beta_on_grid).max():.2e}")
assert np.allclose(brute, beta_on_grid, rtol=1e-9, atol=1e-15)

# %% [markdown]
# ## Elimination
#
# When rewards are deterministic functions of the task, Bayes' rule is *elimination*: a task survives while it
# predicts every observed reward, and the survivors share the probability mass in proportion to the prior.

# %%
from peach_lite.belief import elimination_update, k_goal_filter

show_source(elimination_update)

# %% [markdown]
# The **K-goal bandit** (`peach_lite/KGoalBandit-v0`) is the smallest example: K goals, one pull per episode,
# reward 1 only at the hidden goal. After pulls of goals 3 and 1 without reward, only the other goals remain:

# %%
actions = torch.tensor([[3, 1, 4, 4]])
rewards = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
posterior = k_goal_filter(actions, rewards, num_goals=5)
for t in range(5):
    print(f"after {t} pulls: {np.round(posterior[0, t].numpy(), 3)}")
brute = enumerate_posterior([0.2] * 5, lambda w, t, s: float(s[1] == float(s[0] == w)), list(zip([3, 1, 4, 4], [0.0, 0.0, 1.0, 1.0])))
assert np.allclose(posterior[0, -1].numpy(), brute) and posterior[0, -1, 4] == 1.0

# %% [markdown]
# ## The sparse point robot
#
# PEARL's sparse navigation task (`peach_lite/PointRobotSparse-v0`): 100 candidate goals on the upper unit
# half-circle, reward $1 - d$ only within 0.2 of the goal. Every position with reward 0 eliminates the
# candidate goals within 0.2 of it; a positive reward pins the goal down. `point_robot_filter` does this for
# a batch of trajectories at once.
#
# **Posterior sampling** (the idea behind PEARL's exploration) samples one goal from the posterior at the
# start of each episode and walks to it. Seed 004's Fig. 6 contrasts it with the belief agent, which sweeps
# the arc. Both are computed here, each on the 20 test goals, next to the task-known oracle.

# %%
from peach_lite.belief import point_robot_filter, point_robot_posterior_sampling
from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.envs.point_robot import semicircle_goals

candidates = semicircle_goals()
test_goals = candidates[80:]
num_episodes = 6
sampling = point_robot_posterior_sampling(test_goals, candidates, num_episodes=num_episodes, seed=0)
sweep = point_robot_sweep_returns(test_goals, num_episodes)
oracle = point_robot_oracle_return(test_goals)
episodes = np.arange(1, num_episodes + 1)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(episodes, sampling["returns"].mean(1), "o-", label="posterior sampling (exact posterior)")
ax.plot(episodes, sweep, "s-", label="sweep the arc (belief-style)")
ax.axhline(oracle, color="k", ls="--", label="oracle (goal known)")
ax.set_xlabel("episode of the trial")
ax.set_ylabel("sparse return per episode")
ax.legend(fontsize=8)
plt.show()
assert (sampling["returns"] <= point_robot_oracle_return(test_goals, per_goal=True)[None] + 1e-9).all()  # nobody beats the oracle
assert sweep[:3].sum() > sampling["returns"][:3].mean(1).sum()  # sweeping finds the goal sooner

# %% [markdown]
# The posterior is exact here, so we can check it against brute force along a trajectory, in both the
# deterministic case (elimination) and with **Gaussian reward noise**.
#
# ## Noisy rewards: a softmax of log-likelihoods
#
# With $r_t = r_w(x_{t+1}) + \varepsilon$, $\varepsilon \sim N(0, \sigma^2)$, every step multiplies the belief
# by a Gaussian likelihood, so $\log b_t(w) = \log p(w) - \sum_{t'} (r_{t'} - r_w(x_{t'+1}))^2 / 2\sigma^2 + c$:
# the posterior is a **softmax of summed log-likelihoods** (`discrete_posterior`). Here with the dense reward
# $-\lVert x - g \rVert$ and $\sigma = 0.3$.

# %%
from peach_lite.belief import discrete_posterior
from peach_lite.envs.point_robot import point_robot_rewards

show_source(discrete_posterior)

# %%
true_index = 85
path = sampling["paths"][0, true_index - 80]  # the first episode's path towards its sampled goal
dense, sparse = point_robot_rewards(path, candidates[true_index])
noisy = dense + 0.3 * np.random.default_rng(1).normal(size=len(path))
noisy_posterior = point_robot_filter(torch.tensor(path)[None], torch.tensor(noisy)[None], torch.tensor(candidates),
                                     reward_type="dense", noise_std=0.3)[0]
sparse_posterior = point_robot_filter(torch.tensor(path)[None], torch.tensor(sparse)[None], torch.tensor(candidates))[0]


def gaussian_likelihood(w, t, step):
    position, reward = step
    predicted = point_robot_rewards(position, candidates[w])[0]
    return float(np.exp(-0.5 * ((predicted - reward) / 0.3) ** 2))


brute_noisy = enumerate_posterior(np.full(100, 0.01), gaussian_likelihood, list(zip(path, noisy)))
assert np.allclose(noisy_posterior[-1].numpy(), brute_noisy, atol=1e-10)
angles = np.degrees(np.arctan2(candidates[:, 1], candidates[:, 0]))
order = np.argsort(angles)
fig, axes = plt.subplots(1, 2, figsize=(11, 2.8), sharey=True)
for ax, post, title in [(axes[0], sparse_posterior, "sparse reward (elimination)"), (axes[1], noisy_posterior, "dense reward + noise (softmax)")]:
    for t, shade in zip([0, 10, 20], [0.3, 0.6, 1.0]):
        ax.plot(angles[order], post[t].numpy()[order], color=plt.cm.viridis(shade), label=f"after {t} steps")
    ax.axvline(angles[true_index], color="k", ls="--", lw=0.8, label="true goal")
    ax.set_title(title)
    ax.set_xlabel("candidate goal angle (degrees)")
axes[0].set_ylabel("posterior probability")
axes[1].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## The posterior does not depend on the policy
#
# Take a small world: a 3-arm bandit with four candidate tasks. First exactly: the joint $p(w, \tau)$ under two
# very different policies (uniform, and a history-dependent "stick with what paid" policy) gives the same
# posterior, and it equals the filter, which never looks at the policy.

# %%
world = np.array([[0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [0.5, 0.5, 0.9], [0.2, 0.2, 0.2]])
prior = [0.1, 0.2, 0.3, 0.4]
trajectory = [(0, 1), (2, 0), (0, 1), (1, 0)]


def world_likelihood(w, t, step):
    return world[w][step[0]] if step[1] == 1 else 1 - world[w][step[0]]


def uniform_policy(t, history):
    return 1 / 3


def sticky_policy(t, history):
    if t == 0:
        return [0.7, 0.2, 0.1][history[0][0]]
    (previous_arm, previous_reward), arm = history[-2], history[-1][0]
    if previous_reward == 1:
        return 0.8 if arm == previous_arm else 0.1
    return 0.1 if arm == previous_arm else 0.45


posterior_uniform = enumerate_posterior(prior, world_likelihood, trajectory, uniform_policy)
posterior_sticky = enumerate_posterior(prior, world_likelihood, trajectory, sticky_policy)
log_lik = torch.log(torch.tensor([[[world_likelihood(w, t, s) for w in range(4)] for t, s in enumerate(trajectory)]], dtype=torch.float64))
posterior_filter = discrete_posterior(log_lik, torch.log(torch.tensor(prior, dtype=torch.float64)))[0, -1].numpy()
print("uniform policy:", np.round(posterior_uniform, 4))
print("sticky policy: ", np.round(posterior_sticky, 4))
print("filter:        ", np.round(posterior_filter, 4))
assert np.allclose(posterior_uniform, posterior_sticky, rtol=1e-12) and np.allclose(posterior_uniform, posterior_filter, rtol=1e-9)

# %% [markdown]
# Now by **sampling**, which is how a learning agent meets the theorem: draw (task, trajectory) pairs under each
# policy, group them by trajectory, and count how often each task produced it. The empirical $p(w \mid \tau)$
# agrees with the filter under both policies (up to Monte-Carlo error), even though the two policies visit
# trajectories with very different frequencies.

# %%
num_samples = budget.pick(full=200_000, fast=40_000)
rng = np.random.default_rng(4)
for policy in ("uniform", "sticky"):
    w = rng.integers(0, 4, size=num_samples)
    arms = np.zeros((num_samples, 2), int)
    outcomes = np.zeros((num_samples, 2), int)
    for t in range(2):
        if policy == "uniform":
            arm = rng.integers(0, 3, size=num_samples)
        else:
            arm = np.zeros(num_samples, int) if t == 0 else np.where(outcomes[:, 0] == 1, arms[:, 0], 1 + rng.integers(0, 2, size=num_samples))
        arms[:, t], outcomes[:, t] = arm, rng.random(num_samples) < world[w, arm]
    keys = (arms * 2 + outcomes) @ np.array([6, 1])
    worst, compared = 0.0, 0
    for key in np.unique(keys):
        rows = keys == key
        if rows.sum() < 500:
            continue
        empirical = np.bincount(w[rows], minlength=4) / rows.sum()
        steps = list(zip(arms[rows][0], outcomes[rows][0]))
        exact = enumerate_posterior([0.25] * 4, world_likelihood, steps)
        tolerance = 5 * np.sqrt(exact * (1 - exact) / rows.sum()) + 1e-3
        assert np.all(np.abs(empirical - exact) < tolerance), (policy, steps, empirical, exact)
        worst, compared = max(worst, np.abs(empirical - exact).max()), compared + 1
    print(f"{policy:8s}: {compared} trajectories compared, largest |empirical - filter| = {worst:.4f}")

# %% [markdown]
# This is what lets seed 004 train its belief network **off-policy**: episodes from old policies are samples
# of the very same target $p(w \mid \tau)$ (lesson 03).
#
# ## Baselines on the 20-arm bandit
#
# Strategies that act on the Beta posterior, on the env's held-out test tasks, over 5 seeds:
#
# * **random**; **greedy** (pull the arm with the best posterior mean);
# * **Thompson sampling** (draw one $w$ from the posterior and act optimally for it: *posterior sampling*,
#   the idea PEARL builds on);
# * **UCB1** (empirical mean + $\sqrt{2 \ln t / n}$);
# * the **oracle**, which knows $w$ and always pulls the best arm.

# %%
from peach_lite.belief import BANDIT_BASELINES
from peach_lite.envs.oracles import bernoulli_bandit_oracle_return

num_tasks = budget.pick(full=1000, fast=200)
seeds = [0, 1, 2, 3, 4]
test_probs = np.array([t.probs for t in bandit.unwrapped.test_tasks()[:num_tasks]])
curves, returns = {}, {}
for name in BANDIT_BASELINES:
    runs = [run_bandit_baseline(name, test_probs, seed=seed) for seed in seeds]
    curves[name] = np.stack([r["regret"].cumsum(1).mean(0).numpy() for r in runs])  # (seeds, 100)
    returns[name] = np.array([r["rewards"].sum(1).mean().item() for r in runs])
fig, ax = plt.subplots(figsize=(6, 3.5))
pulls = np.arange(1, 101)
for name in BANDIT_BASELINES:
    if name == "oracle":
        continue
    mean, std = curves[name].mean(0), curves[name].std(0)
    ax.plot(pulls, mean, label=f"{name} (return {returns[name].mean():.1f})")
    ax.fill_between(pulls, mean - std, mean + std, alpha=0.3)
ax.plot(pulls, curves["oracle"].mean(0), "k--", label=f"oracle (return {returns['oracle'].mean():.1f})")
ax.set_xlabel("pull t")
ax.set_ylabel("cumulative expected regret")
ax.set_title(f"20-arm bandit, {num_tasks} held-out tasks, mean ± std over {len(seeds)} seeds")
ax.legend(fontsize=8)
plt.show()
oracle_return = bernoulli_bandit_oracle_return(test_probs)
print(f"expected oracle return {oracle_return:.2f}")
assert all(returns[name].mean() <= oracle_return + 1.0 for name in BANDIT_BASELINES)  # sampled rewards: 1.0 slack
assert returns["random"].mean() < returns["ucb"].mean() < returns["thompson"].mean() < returns["oracle"].mean()
assert (curves["oracle"] == 0).all()
assert returns["greedy"].mean() > returns["thompson"].mean()  # the surprise discussed below, measured here

# %% [markdown]
# At this short horizon (100 pulls for 20 arms) plain **greedy** on the posterior mean beats Thompson sampling:
# the uniform prior makes every unpulled arm look like 0.5, which is optimistic enough to explore. Neither is
# Bayes-optimal; the Bayes-optimal strategy of this bandit has no closed form. Lesson 03 uses the best of
# these baselines as its reference.
#
# ## The K-goal bandit: Bayes-optimal in closed form
#
# In the K-goal bandit the Bayes-optimal learner never repeats a wrong goal and repeats the right one forever,
# so in episode $t$ it succeeds with probability $\min(t, K)/K$ and expects $\sum_{t=1}^{H} \min(t, K)/K$
# successes in a trial (`oracles.k_goal_bayes_optimal`). Acting greedily on the exact posterior does exactly
# that, and so does **posterior sampling**: the posterior is uniform over the goals not yet ruled out, and
# one-hot once the goal is found.

# %%
from peach_lite.belief import k_goal_rollout
from peach_lite.envs.oracles import k_goal_bayes_optimal, k_goal_random_return

num_goals, horizon = 5, 10
num_trials = budget.pick(full=100_000, fast=20_000)
results = {name: k_goal_rollout(name, num_goals, horizon, num_trials=num_trials, seed=0)["rewards"]
           for name in ("bayes_greedy", "posterior_sampling", "random", "oracle")}
closed_form = k_goal_bayes_optimal(num_goals, horizon)
fig, ax = plt.subplots(figsize=(5.5, 3))
episodes = np.arange(1, horizon + 1)
for name, rewards_k in results.items():
    ax.plot(episodes, rewards_k.mean(0).numpy(), "o-", ms=3, label=f"{name}: {rewards_k.sum(1).mean():.3f} successes")
ax.plot(episodes, np.minimum(episodes, num_goals) / num_goals, "k--", label=f"min(t, K)/K: total {closed_form:.3f}")
ax.set_xlabel("episode t of the trial")
ax.set_ylabel("success probability")
ax.set_title(f"K-goal bandit, K={num_goals}, H={horizon}")
ax.legend(fontsize=7)
plt.show()
for name in ("bayes_greedy", "posterior_sampling"):
    total = results[name].sum(1)
    standard_error = total.std().item() / np.sqrt(len(total))
    assert abs(total.mean().item() - closed_form) < 5 * standard_error, name
assert abs(results["random"].sum(1).mean().item() - k_goal_random_return(num_goals, horizon)) < 0.05
assert (results["oracle"].sum(1) == horizon).all()
print(f"Bayes-optimal closed form {closed_form:.3f}; both posterior strategies match it within 5 standard errors")

# %% [markdown]
# ## Watch the belief move
#
# Choose the true goal of the sparse point robot, then step through a trial of posterior sampling. Left: the
# path of the current episode, the goal sampled for it (the *action* of the meta-level), and every candidate
# goal coloured by its posterior probability. Right: the posterior as bars over the goal angle. (In tests
# the cell runs once with its default values.)

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
from IPython.display import display

widget_episodes = 3
goal_slider = widgets.IntSlider(value=85, min=0, max=99, description="true goal")
step_slider = widgets.IntSlider(value=12, min=0, max=20 * widget_episodes, description="step")


def show_belief(goal_index: int, step: int) -> None:
    run = point_robot_posterior_sampling(candidates[goal_index : goal_index + 1], candidates, num_episodes=widget_episodes, seed=1)
    positions = run["paths"][:, 0].reshape(-1, 2)  # (episodes * 20, 2)
    _, observed = point_robot_rewards(positions, candidates[goal_index])
    belief_path = point_robot_filter(torch.tensor(positions)[None], torch.tensor(observed)[None], torch.tensor(candidates))[0]
    episode = min(step // 20, widget_episodes - 1) if step < 20 * widget_episodes else widget_episodes - 1
    within = step - 20 * episode
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
    left.scatter(candidates[:, 0], candidates[:, 1], c=belief_path[step].numpy(), cmap="viridis", s=25, vmin=0)
    left.plot(*np.vstack([[0, 0], run["paths"][episode, 0, :within]]).T, "C1.-", ms=4, label=f"episode {episode + 1}")
    left.scatter(*run["targets"][episode, 0], marker="x", s=80, color="C3", label="sampled goal (action)")
    left.scatter(*candidates[goal_index], marker="*", s=120, facecolor="none", edgecolor="k", label="true goal")
    left.set_aspect("equal")
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.legend(fontsize=7, loc="lower left")
    right.bar(angles[order], belief_path[step].numpy()[order], width=1.6)
    right.axvline(angles[goal_index], color="k", ls="--", lw=0.8)
    right.set_xlabel("candidate goal angle (degrees)")
    right.set_ylabel("posterior probability")
    right.set_title(f"after {step} steps: {int((belief_path[step] > 0).sum())} goals left")
    plt.tight_layout()
    plt.show()


display(widgets.VBox([goal_slider, step_slider]), widgets.interactive_output(show_belief, {"goal_index": goal_slider, "step": step_slider}))

# %% [markdown]
# ## Exercise: the Bernoulli posterior update
#
# Write one step of the Beta-Bernoulli filter for a batch of episodes: `alpha`, `beta` have shape
# `(batch, num_arms)`, `action` is `(batch,)` arm indices and `reward` is `(batch,)` in {0, 1}. Return the new
# `(alpha, beta)` without changing the inputs in place.

# %%
from peach_lite.checks import check_bernoulli_update, check_elimination_update


def my_bernoulli_update(alpha, beta, action, reward):
    # YOUR CODE HERE (hint: torch.nn.functional.one_hot(action, num_arms))
    raise NotImplementedError


check_bernoulli_update(my_bernoulli_update)

# %% [markdown]
# ## Exercise: the elimination update
#
# `belief` is `(batch, num_tasks)`, `consistent` a boolean tensor of the same shape that is True where a task
# predicts the observed reward. Return the posterior.

# %%
def my_elimination_update(belief, consistent):
    # YOUR CODE HERE
    raise NotImplementedError


check_elimination_update(my_elimination_update)

# %% [markdown]
# The checkers accept the package's own functions and reject plausible mistakes:

# %%
assert check_bernoulli_update(bernoulli_update)
assert not check_bernoulli_update(lambda a, b, action, r: (a + r[:, None], b + (1 - r[:, None])))  # updates every arm
assert check_elimination_update(elimination_update)
assert not check_elimination_update(lambda belief, consistent: belief * consistent)  # forgot to renormalise

# %% [markdown]
# ## What we have
#
# * The belief over tasks is computable exactly in these families, in batches, and matches brute force.
# * It is a function of the trajectory only: the policy that collected the data does not matter.
# * Acting well on it is a separate problem: posterior sampling is Bayes-optimal on the K-goal bandit but
#   slower than sweeping on the point robot, and greedy beats Thompson on the short 20-arm bandit.
#
# Next, lesson 03 learns belief networks from privileged task labels and compares them with an RL² agent.
