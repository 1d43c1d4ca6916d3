# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Goal-conditioned RL and hindsight experience replay
#
# The hierarchical-RL lecture this course follows opens with everyday plans: *exit the building → cross the
# street → eat at the mensa*, each made of smaller steps (*open door, walk to the lift, press the button*).
# Its next question is the one this lesson answers: **how do we represent these different goals?** HIRO's
# answer, on the same slides, is "absolute goals in observation space": a goal is simply a state we want to
# reach, and one policy $\pi(a \mid s, g)$ serves every goal.
#
# Such a goal-conditioned policy is the building block of every level of the Hierarchical Actor-Critic
# (lesson 07). The catch is the reward. "Reach $g$" is naturally *sparse*: $-1$ per step until the goal is
# reached, $0$ (and the end) when it is. A random policy almost never reaches a given goal, so every reward
# it sees is $-1$ and there is nothing to learn from. **Hindsight experience replay** (HER; Andrychowicz et
# al. 2017) turns every failure into a success for a different goal: *"I did not reach $g$, but I did reach
# $s_T$; had I been asked for $s_T$, this was a perfect episode."*
#
# Plan: the goal-conditioned point mass → why sparse rewards starve a learner → relabelling, on real data →
# the agent (DDPG-style, as in HAC) → with vs. without HER → a pretrained agent → exercise.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %%
import matplotlib.pyplot as plt
import numpy as np

from peach_lite import show_source
from peach_lite.envs import make
from peach_lite.goal_levels import GoalLevel
from peach_lite.hac import HAC, POINT_MASS_ID, HacConfig, episodes_at, run_training
from peach_lite.her import GoalObservation, goal_reward, hindsight_goal_transitions, relabel_with_goals

# %% [markdown]
# ## A goal-conditioned point mass
#
# The task is PEARL's sparse point robot, simulated by MuJoCo (`peach_lite/PointMassSparse-v0`, lesson 01):
# a mass starts at the origin, each step moves it by at most 0.1 per axis, the goal lies on the unit
# half-circle, success means ending a step within **0.2** of it, and an episode lasts **20** steps. For
# PEARL the goal is hidden; here we *give* it to the agent. `GoalObservation` rewrites the observation in
# the gymnasium-robotics layout that HER (and HAC) expect; `peach_lite/PointMassGoal-v0` is the point mass
# wrapped this way:

# %%
show_source(GoalObservation.observation)

# %%
env = make(POINT_MASS_ID)  # "peach_lite/PointMassGoal-v0" = GoalObservation(the sparse point mass)
train_goals, test_goals = env.unwrapped.train_tasks(), env.unwrapped.test_tasks()
goal_radius = env.get_wrapper_attr("goal_threshold")  # GoalObservation's success radius, under the TimeLimit wrapper
obs, _ = env.reset(seed=0, options={"task": test_goals[0]})
print({key: value.round(3) for key, value in obs.items()})
print(f"{len(train_goals)} training goals, {len(test_goals)} held-out test goals, success radius {goal_radius}")

# %% [markdown]
# The sparse goal reward is $r(s', g) = 0$ if $\lVert \mathrm{ag}(s') - g \rVert \le 0.2$ and $-1$
# otherwise, where $\mathrm{ag}(s')$ is the *achieved goal* (here the position). Reward $0$ ends the
# episode: the transition is **terminal**, so its value target is just $r = 0$.

# %%
show_source(goal_reward)

# %% [markdown]
# ## Why sparse rewards starve a learner
#
# Before any learning, a policy is no better than random. How often does a random policy reach the goal it
# was given?

# %%
num_random = budget.pick(full=200, fast=40)
rng = np.random.default_rng(0)
random_hits = 0
for episode in range(num_random):
    obs, _ = env.reset(seed=episode, options={"task": train_goals[episode % len(train_goals)]})
    for _ in range(20):
        obs, *_ = env.step(rng.uniform(-1, 1, size=2).astype(np.float32))
        if goal_reward(obs["achieved_goal"], obs["desired_goal"], goal_radius, norm="l2")[0] == 0:
            random_hits += 1
            break
print(f"random policy: {random_hits} successes in {num_random} episodes")
assert random_hits / num_random < 0.1, "random exploration almost never finds a goal 1 unit away"

# %% [markdown]
# Almost every episode yields twenty transitions with reward $-1$. A critic fitted to them learns that
# *everything* is worth about $-\sum_t \gamma^t$, which has no gradient towards the goal.
#
# ## Relabelling
#
# HAC's version of HER (algorithms.md §1.3 (b)): after each sequence of $n$ transitions, pick **3 hindsight
# goals**: 2 achieved states drawn at random from the sequence and **always the final one**. Store every
# transition of the sequence once more per hindsight goal $g'$, with the reward recomputed for $g'$. States,
# actions and next states never change; only the goal, the reward and the terminal flag do.

# %%
show_source(relabel_with_goals)

# %% [markdown]
# Let us relabel one real (random) episode and look at what goes into the buffer.

# %%
obs, _ = env.reset(seed=1, options={"task": train_goals[3]})
episode = {"obs": [], "action": [], "next_obs": [], "next_achieved": []}
for _ in range(20):
    action = rng.uniform(-1, 1, size=2).astype(np.float32)
    next_obs, *_ = env.step(action)
    for key, value in (("obs", obs["observation"]), ("action", action), ("next_obs", next_obs["observation"]),
                       ("next_achieved", next_obs["achieved_goal"])):
        episode[key].append(value)
    obs = next_obs
episode = {key: np.stack(value) for key, value in episode.items()}
original_goal = obs["desired_goal"]
original_rewards, _ = goal_reward(episode["next_achieved"], original_goal, goal_radius, norm="l2")
relabelled = hindsight_goal_transitions(episode["obs"], episode["action"], episode["next_obs"], episode["next_achieved"],
                                        goal_radius, num_goals=3, rng=np.random.default_rng(2), norm="l2")
n = len(episode["obs"])
print(f"original goal {original_goal.round(2)}: rewards {sorted(set(original_rewards.tolist()))}")
print(f"relabelled: {relabelled.num_rows} rows = 3 copies x {n} transitions")
print(" copy | hindsight goal  | rows with reward 0 | terminal rows")
for j in range(3):
    rows = slice(j * n, (j + 1) * n)
    print(f"  {j}   | {np.array2string(relabelled.goal[j * n], precision=2):15s} | "
          f"{np.flatnonzero(relabelled.reward[rows] == 0).tolist()!s:18s} | {np.flatnonzero(relabelled.done[rows]).tolist()}")

# %%
assert relabelled.num_rows == 3 * n
assert np.array_equal(relabelled.goal[2 * n], episode["next_achieved"][-1]), "the last copy uses the final state"
assert relabelled.reward[3 * n - 1] == 0 and relabelled.done[3 * n - 1] == 1
assert np.array_equal(relabelled.done == 1, relabelled.reward == 0)
assert (relabelled.reward == 0).sum() >= 3 > (original_rewards == 0).sum(), "hindsight creates successes"

# %%
fig, ax = plt.subplots(figsize=(4.5, 3.6))
ax.plot(episode["next_achieved"][:, 0], episode["next_achieved"][:, 1], ".-", color="tab:blue", label="positions reached")
ax.plot(*original_goal, "*", color="tab:red", markersize=14, label="original goal (never reached)")
for j, color in enumerate(["tab:orange", "tab:purple", "tab:green"]):
    goal = relabelled.goal[j * n]
    ax.add_patch(plt.Circle(goal, goal_radius, color=color, alpha=0.25))
    ax.plot(*goal, "o", color=color, label=f"hindsight goal {j}")
ax.set_xlabel("x (m)")
ax.set_ylabel("y (m)")
ax.set_aspect("equal")
ax.set_title("one random episode, relabelled three times")
ax.legend(fontsize=7, loc="best")
plt.show()

# %% [markdown]
# **Try it.** How much reward signal does hindsight create? Move the sliders: the number of hindsight goals per
# sequence and the goal tolerance. The cell relabels the same episode with `hindsight_goal_transitions` and
# counts the rewarded rows (reward 0 instead of -1) against the original goal's.

# %%
def show_relabelling(num_goals=3, radius=0.2):
    """Relabel the episode above and plot the share of rewarded rows per hindsight copy."""
    rows = hindsight_goal_transitions(episode["obs"], episode["action"], episode["next_obs"], episode["next_achieved"],
                                      radius, num_goals=num_goals, rng=np.random.default_rng(2), norm="l2")
    original, _ = goal_reward(episode["next_achieved"], original_goal, radius, norm="l2")
    copies = rows.num_rows // n
    shares = [float((rows.reward[j * n:(j + 1) * n] == 0).mean()) for j in range(copies)]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.bar(["original"] + [f"copy {j}" for j in range(copies)], [float((original == 0).mean())] + shares,
           color=["tab:red"] + ["tab:green"] * copies)
    ax.set_ylabel("rewarded rows (fraction)")
    ax.set_ylim(0, 1)
    ax.set_title(f"{rows.num_rows} relabelled rows, {int((rows.reward == 0).sum())} rewarded (radius {radius:.2f})")
    plt.show()
    return rows


widget_rows = show_relabelling()
assert widget_rows.num_rows == 3 * n and (widget_rows.reward == 0).sum() >= 3

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
from IPython.display import display

relabel_controls = {"num_goals": widgets.IntSlider(value=3, min=1, max=8, description="hindsight goals"),
                    "radius": widgets.FloatSlider(value=0.2, min=0.05, max=0.6, step=0.05, description="radius (m)")}
display(widgets.VBox(list(relabel_controls.values())), widgets.interactive_output(show_relabelling, relabel_controls))

# %% [markdown]
# ## The agent: DDPG-style, as in HAC
#
# The goal-conditioned learner is exactly **one level of HAC** (`HAC` with `num_levels=1`): a DDPG-style
# actor-critic, with the details of the HAC reference code (algorithms.md §1.3):
#
# * deterministic actor $\pi(s, g) = \tanh(f(s, g)) \cdot \text{scale} + \text{offset}$, 3 × 64 hidden units;
# * exploration: 20% uniformly random actions, otherwise the policy plus Gaussian noise (10% of the range);
# * critic **bounded** to $[-H, 0]$ with $Q = -H\,\sigma(f(s, g, a) + q_\text{offset})$, where $H$ is the
#   episode length (20) and the offset makes $Q \approx -0.067$ at initialisation;
# * targets $r + \gamma (1 - \text{done})\, Q(s', g, \pi(s', g))$ with $\gamma = 0.98$, computed with the
#   *online* networks (**no target networks**) and clipped to $[-H, 0]$;
# * 40 gradient steps (batch 256) after each episode; Adam, learning rate $10^{-3}$.
#
# It is not TD3: one critic, no target policy smoothing, no delayed actor updates. The learner is a
# `GoalLevel`, shared with lesson 07 (every level of a hierarchy is one): its critic loss fits the clipped
# targets, and one update steps the critic, then the actor against the updated critic:

# %%
show_source(GoalLevel.critic_loss)

# %%
show_source(GoalLevel.update)

# %% [markdown]
# ## With and without HER
#
# Same agent, same seed, same number of episodes; the only difference is `num_hindsight_goals` (3 vs 0).
# `run_training` drives it with the course's one training loop (`loop.train`, lesson 04): one episode per
# round, then 40 gradient steps; every 20 episodes the greedy policy is tested on the 20 **held-out** goals.

# %%
num_episodes = budget.pick(full=120, fast=16)
small = budget.pick(full={}, fast={"batch_size": 64, "updates_per_episode": 20})
histories, agents = {}, {}
for label, goals in (("with HER", 3), ("without HER", 0)):
    agent = HAC.from_env(env, HacConfig(num_levels=1, num_hindsight_goals=goals, goal_norm="l2", seed=0, **small))
    histories[label] = run_training(agent, POINT_MASS_ID, 20 * num_episodes, eval_every=budget.pick(full=20, fast=8),
                                    progress=False)
    agents[label] = agent
    print(f"{label:12s}: test success {histories[label].eval_values[-1]:.2f} after {histories[label].episodes} episodes "
          f"({histories[label].elapsed:.0f} s)")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.4))
for label, history in histories.items():
    ax.plot([episodes_at(history, s) for s in history.eval_steps], history.eval_values, "o-", label=label)
ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="optimum (every goal reached)")
ax.set_xlabel("training episodes")
ax.set_ylabel("test success rate")
ax.set_ylim(-0.03, 1.03)
ax.set_title("point mass, 20 held-out goals")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Where does the difference come from? Look inside the two replay buffers: the fraction of stored
# transitions with reward 0, i.e. the only ones that say anything about reaching goals.

# %%
zero_fraction = {}
for label, agent in agents.items():
    stored = agent.buffer.sample(4096)
    zero_fraction[label] = float((stored["reward"] == 0).float().mean())
    print(f"{label:12s}: {len(agent.buffer)} transitions stored, {zero_fraction[label]:.1%} with reward 0")
assert zero_fraction["with HER"] > 0.05
assert zero_fraction["with HER"] > 3 * zero_fraction["without HER"]
assert histories["with HER"].eval_values[-1] >= histories["without HER"].eval_values[-1]

# %% [markdown]
# With HER a large share of the stored transitions are successes from the very first episode (every
# final-state copy ends with one, and early on the mass hovers near where it started, so many rows succeed);
# without HER, successes appear only once the policy already works, which it never starts to.
#
# ## A pretrained agent
#
# `data/checkpoints/her_point_mass.pt` was trained with HER by
# `python -m peach_lite train hac --preset point-mass-her --seed 0 ...` (the exact command is in
# `data/MANIFEST.json`). It reaches every held-out goal:

# %%
from peach_lite.checkpoints import evaluate_checkpoint, read_manifest
from peach_lite.paths import data_dir

entry = next(e for e in read_manifest()["artifacts"] if e["file"] == "checkpoints/her_point_mass.pt")
pretrained_success = evaluate_checkpoint(data_dir() / entry["file"])
print(f"pretrained HER agent: {pretrained_success:.0%} of the {len(test_goals)} held-out goals (manifest: {entry['score']['value']:.0%})")
print("trained with:", entry["command"])
assert pretrained_success >= 0.9

# %% [markdown]
# ## Exercise: the relabelling function
#
# Write `my_relabel(obs, action, next_obs, next_achieved, goal_indices, threshold)`: for each index $j$ in
# `goal_indices` (in order), copy the whole sequence with goal $g_j$ = `next_achieved[j]`, reward
# $0$ if $\lVert$`next_achieved[t]`$ - g_j\rVert \le$ `threshold` else $-1$, and done = 1 exactly when the reward
# is 0. Return the tuple `(obs, action, reward, next_obs, goal, done)` with `len(goal_indices) * n` rows
# (copy $j$ in rows $jn \dots jn + n - 1$).

# %%
from peach_lite import checks


def my_relabel(obs, action, next_obs, next_achieved, goal_indices, threshold):
    raise NotImplementedError  # your code here


checks.check_her_relabel(my_relabel)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_relabel(obs, action, next_obs, next_achieved, goal_indices, threshold):
#     n, m = len(obs), len(goal_indices)
#     goal = np.repeat(next_achieved[goal_indices], n, axis=0)
#     distance = np.linalg.norm(np.tile(next_achieved, (m, 1)) - goal, axis=-1)
#     reward = np.where(distance <= threshold, 0.0, -1.0)
#     return (np.tile(obs, (m, 1)), np.tile(action, (m, 1)), reward, np.tile(next_obs, (m, 1)), goal, (reward == 0) * 1.0)
# ```
# </details>

# %%
def solution_relabel(obs, action, next_obs, next_achieved, goal_indices, threshold):
    n, m = len(obs), len(goal_indices)
    goal = np.repeat(next_achieved[goal_indices], n, axis=0)
    distance = np.linalg.norm(np.tile(next_achieved, (m, 1)) - goal, axis=-1)
    reward = np.where(distance <= threshold, 0.0, -1.0)
    return (np.tile(obs, (m, 1)), np.tile(action, (m, 1)), reward, np.tile(next_obs, (m, 1)), goal, (reward == 0) * 1.0)


assert checks.check_her_relabel(solution_relabel)

# %% [markdown]
# ## Takeaways
#
# * A goal-conditioned policy $\pi(a \mid s, g)$ serves every goal; with a sparse $\{-1, 0\}$ reward it gets no
#   signal until it succeeds.
# * HER stores each sequence again with goals that *were* achieved (always including the final state), so
#   reward-0, terminal transitions exist from the first episode on.
# * The learner is one level of HAC. Lesson 07 stacks such levels: each proposes goals for the one below.
