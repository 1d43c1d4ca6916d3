# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Meta-Q-Learning: a history context, and reusing old data to adapt
#
# PEARL (lesson 05) infers a *posterior* over the task from a context of transitions and samples z from it.
# Meta-Q-Learning (Fakoor, Chaudhari, Soatto & Smola, ICLR 2020) asks how far a much plainer idea goes:
#
# 1. **A deterministic context.** Give TD3 a recurrent summary of the last few (action, reward, state)
#    tuples of the current episode. Trained on many tasks at once, that TD3 is already a meta-learner: the
#    summary tells it which task it is in.
# 2. **Reuse the meta-training data to adapt.** On a new task, collect a small snapshot, then keep training
#    on the *old* replay, but weight each old transition by how much it looks like the new task. The weights
#    come from a classifier (the *propensity score*), and how many old rows really count (the *effective
#    sample size*, ESS) sets how strongly a proximal term keeps the weights near the meta-trained ones.
#
# The slides (seed 001) put it as "TD3 + context is a strong baseline; propensity-weighted reuse adapts it
# out of distribution". This lesson builds both halves on the package's TD3 and measures them on the dense
# point robot, in distribution and on goals outside the training square.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from peach_lite import show_source
from peach_lite.seeding import seed_everything

torch.set_num_threads(1)
seed_everything(0)

# %% [markdown]
# ## A history context
#
# At step t the context is a GRU's final state over the last h tuples $(a_k, r_k, s_k)$, $k < t$, of the
# *current* episode; before the episode's first step the tuples are zeros. The actor and the critic each
# have their own GRU (and target copy). A stored transition keeps the history before *and* after its step,
# because the critic's target $r + \gamma\,Q'(s', \pi'(s', c'), c')$ needs the next context $c'$.

# %%
from peach_lite.mql import MQL, HistoryEncoder, MQLConfig

show_source(HistoryEncoder)

# %%
from peach_lite.envs import make
from peach_lite.runner import GymTaskEnvs, TaskBatch, run_episodes

ENV_ID = "peach_lite/PointRobotDense-v0"
env = make(ENV_ID)
train_tasks, test_tasks = env.unwrapped.train_tasks(), env.unwrapped.test_tasks()
ood_tasks = env.unwrapped.ood_tasks()

demo = MQL(2, 2, len(train_tasks), MQLConfig(hidden=(16,), history_length=4, buffer_size=50, seed=0),
           action_low=env.action_space.low, action_high=env.action_space.high)
run_episodes(demo, GymTaskEnvs(ENV_ID, 2), TaskBatch.from_list(train_tasks, [0, 1]), explore=True)
rows = demo.buffer.sample(5, [0], torch.Generator().manual_seed(0))
width = demo.tuple_dim
# The next history is the history shifted by one tuple, ending with this row's (action, reward, state):
assert torch.allclose(rows["next_history"][0][:, :-width], rows["history"][0][:, width:])
demo.begin_episode(TaskBatch.from_list(train_tasks, [0, 1]), explore=True)
assert demo.history.abs().sum() == 0  # a new episode starts with an empty history
print("history before/after check passed; a new episode resets the context to zeros")

# %% [markdown]
# ## The agent
#
# MQL composes the package's TD3 (lesson 04) with the two GRUs. One update is TD3's, in the authors' order:
# the critic and its GRU step on the clipped double-Q loss; every second update the actor and its GRU step
# on $-Q_1(s, \pi(s, c))$ through the updated critic; then every target network, GRUs included, follows.
# During adaptation the same update takes per-row weights $\beta$ and a proximal term.

# %%
show_source(MQL.update)

# %% [markdown]
# ## Scores between blind and oracle
#
# On the dense point robot the reward is minus the distance to a hidden goal. Two anchors make returns
# comparable across goal sets: the **oracle** knows the goal and steps straight to it; the **blind** agent
# ignores the task and heads for the centroid of the training goals. A score of 0 is blind, 1 is oracle.
# The out-of-distribution (OOD) goals lie in $1 < \lVert g\rVert_\infty \le 1.5$, outside the training square.

# %%
from peach_lite.envs.oracles import dense_point_robot_blind_return, dense_point_robot_oracle_return

centroid = np.mean([t.goal for t in train_tasks], axis=0)
anchors = {}
for name, tasks in [("in distribution", test_tasks), ("out of distribution", ood_tasks)]:
    goals = np.array([t.goal for t in tasks])
    anchors[name] = (dense_point_robot_oracle_return(goals, num_starts=budget.pick(full=200_000, fast=20_000)),
                     dense_point_robot_blind_return(goals, centroid, num_starts=budget.pick(full=200_000, fast=20_000)))
    print(f"{name:20s} oracle {anchors[name][0]:7.2f}   blind {anchors[name][1]:7.2f}")
assert all(oracle > blind + 5 for oracle, blind in anchors.values())

fig, ax = plt.subplots(figsize=(4, 4))
for name, tasks, color in [("train", train_tasks, "C0"), ("test", test_tasks, "C2"), ("OOD", ood_tasks, "C3")]:
    goals = np.array([t.goal for t in tasks])
    ax.scatter(goals[:, 0], goals[:, 1], s=12, color=color, label=name)
ax.plot(*centroid, "k*", markersize=12, label="blind target")
ax.add_patch(plt.Rectangle((-1, -1), 2, 2, fill=False, linestyle="--", color="gray"))
ax.set_xlabel("x"), ax.set_ylabel("y"), ax.set_aspect("equal"), ax.legend(fontsize=8)
ax.set_title("goal sets of the dense point robot")
plt.show()

# %% [markdown]
# ## Meta-training
#
# Multi-task TD3: every round runs one episode on 8 training tasks in lockstep, stores each row in its task's
# buffer, then takes as many gradient steps as it collected steps, each on a meta-batch of 8 tasks. The
# pretrained agent (`data/checkpoints/mql_point_robot.pt`, command in `data/MANIFEST.json`) trained for 40k
# steps at learning rate 1e-3 (with the reference's 3e-4, seed 0 needed about three times the steps for the same
# score; the measurement is in `data/results/mql.json`, `route`). "Train now (small)" runs the same code for a few hundred steps: enough to
# see the loop, not to learn.

# %% tags=["nbval-ignore-output", "rerun-next-cell"]
import ipywidgets as widgets
from IPython.display import display

choice = widgets.ToggleButtons(options=["load pretrained", "train now (small)"], value="load pretrained")
display(choice)

# %% [markdown]
# The next cell reads the toggle: after changing it, re-run the next cell.

# %%
from peach_lite.checkpoints import load_agent
from peach_lite.loop import History
from peach_lite.mql import normalised_score, train_mql
from peach_lite.paths import checkpoints_dir

PRETRAINED = checkpoints_dir() / "mql_point_robot.pt"
if choice.value == "train now (small)":
    agent, meta = train_mql(seed=0, total_steps=budget.pick(full=4_000, fast=480), warmup_steps=160, hidden=(64, 64))
else:
    agent, payload = load_agent(PRETRAINED, algorithm="mql")
    meta = payload["meta"]
curve = History(**meta["history"])
fig, ax = plt.subplots(figsize=(6, 3.2))
curve.plot(ax, oracle=1.0)
ax.set_title("MQL meta-training: normalised score on the 20 test goals (blind 0, oracle 1)")
plt.show()

# %% [markdown]
# The pretrained agent, greedy, on the held-out goals and on the OOD goals. No agent may beat the oracle on the
# same episodes, and context TD3 must beat the blind agent in distribution:

# %%
pretrained, _ = load_agent(PRETRAINED, algorithm="mql")
score_envs = GymTaskEnvs(ENV_ID, 20)
in_score = normalised_score(pretrained, score_envs, test_tasks, centroid, num_episodes=2)
ood_score = normalised_score(pretrained, score_envs, ood_tasks, centroid, num_episodes=2)
print(f"normalised score: in distribution {in_score:.2f}, out of distribution {ood_score:.2f}")
assert in_score <= 1.0 + 1e-6 and ood_score <= 1.0 + 1e-6, "an agent beat the oracle: the oracle or the env is wrong"
assert in_score > 0.0

# %% [markdown]
# ## Does the context carry the task?
#
# The pretrained agent is far from the oracle (the course's target is 0.85). Which half is missing: does the
# GRU fail to *identify* the goal, or does the policy fail to *use* it? A linear probe from the context to the
# goal answers the first question: if the goal can be read off the context after a few steps, inference
# works and the shortfall is reinforcement learning (more gradient steps), not task identification.

# %%
from peach_lite.mql import context_probe

show_source(context_probe)

# %%
probe = context_probe(pretrained, score_envs, test_tasks)
print({k: round(v, 3) for k, v in probe.items()})
assert probe["r2_t>=10"] > probe["r2_t>=0"]  # the context learns the goal as the episode goes on

# %% [markdown]
# ## Propensity scores
#
# Label the new task's snapshot $-1$ and a sample of meta-training rows $+1$, and fit a logistic classifier
# on the actor-GRU contexts: $f(x)$ is the logit of "this came from meta-training". Then
#
# $$\beta(x) = e^{-f(x)} = \frac{P(\text{new task}\mid x)}{P(\text{meta-training}\mid x)},$$
#
# a density ratio: old rows that look like the new task count more. The reference clamps $f \ge -1$ and zeroes
# $\beta < 0.1$. With $n$ weights, the normalised effective sample size $\mathrm{ESS} = (\sum\beta)^2/(n\sum\beta^2)$
# is 1 when all rows count equally and $1/n$ when one row takes all the weight; the proximal coefficient is
# $\lambda = 1 - \mathrm{ESS}$: the fewer old rows look relevant, the more strongly adaptation stays near the
# meta-trained weights. The classifier is solved by Newton's method (no scikit-learn):

# %%
from peach_lite.propensity import effective_sample_size, fit_logistic, propensity_weights

show_source(fit_logistic)

# %% [markdown]
# **Exercise.** Write the propensity weights and the ESS; the checkers compare them with the package's.

# %%
from peach_lite.checks import check_effective_sample_size, check_propensity_weights


def my_propensity_weights(logit, beta_clip, beta_min):
    beta = torch.exp(-logit.clamp(min=-beta_clip))  # your code here
    return torch.where(beta < beta_min, torch.zeros_like(beta), beta)


def my_effective_sample_size(beta):
    beta = beta.double()  # your code here
    return float(beta.sum() ** 2 / (len(beta) * beta.pow(2).sum()))


assert check_propensity_weights(my_propensity_weights)
assert check_effective_sample_size(my_effective_sample_size)

# %% [markdown]
# ## The propensity picture
#
# Pick a test goal: the agent explores it for a snapshot, the classifier is fit, and every training goal is
# coloured by the mean $\beta$ of its replay rows. Goals near the chosen one light up; ESS and $\lambda$ follow.

# %%
def propensity_by_task(agent, goal, seed=0, snapshot_episodes=2, rows_per_task=40):
    """Mean beta of each training task's replay rows for a new goal (the picture below)."""
    from peach_lite.envs.point_robot import PointRobotTask

    snapshot = agent.record_snapshot(GymTaskEnvs(ENV_ID, 1), PointRobotTask(goal=tuple(goal)), snapshot_episodes, seed=seed)
    w, b, beta = agent.propensity(snapshot)
    filled = [t for t in range(agent.num_train_tasks) if agent.buffer.size(t) > 0]
    per_task = []
    for t in filled:
        rows = agent.buffer.sample(rows_per_task, [t], torch.Generator().manual_seed(seed))
        f = agent.context_features(rows["history"][0]) @ w + b
        per_task.append(float(propensity_weights(f, agent.config.beta_clip, agent.config.beta_min).mean()))
    return np.array(filled), np.array(per_task), effective_sample_size(beta)


# the checkpoint holds no replay: refill one from a short collection with the pretrained policy
picture = pretrained
picture.resize_replay(200)
run_episodes(picture, GymTaskEnvs(ENV_ID, len(train_tasks)), TaskBatch.from_list(train_tasks), explore=True)


def show_propensity(x=0.6, y=-0.4):
    tasks, mean_beta, ess = propensity_by_task(picture, (x, y))
    goals = np.array([train_tasks[t].goal for t in tasks])
    fig, ax = plt.subplots(figsize=(4.4, 4))
    points = ax.scatter(goals[:, 0], goals[:, 1], c=mean_beta, cmap="viridis", s=30)
    ax.plot(x, y, "r*", markersize=14, label="new goal")
    fig.colorbar(points, ax=ax, label="mean propensity weight β")
    lam = 1 - ess if picture.config.prox == "ess" else picture.config.prox_coef
    ax.set_title(f"ESS = {ess:.2f}, λ = {lam:.2f}")
    ax.set_xlabel("x"), ax.set_ylabel("y"), ax.set_aspect("equal"), ax.legend(fontsize=8)
    plt.show()
    return mean_beta, ess


mean_beta, ess = show_propensity()
assert 0.0 < ess <= 1.0 and np.all(mean_beta >= 0)

# %% tags=["nbval-ignore-output"]
sliders = {"x": widgets.FloatSlider(value=0.6, min=-1.5, max=1.5, step=0.1, description="goal x"),
           "y": widgets.FloatSlider(value=-0.4, min=-1.5, max=1.5, step=0.1, description="goal y")}
display(widgets.VBox(list(sliders.values())), widgets.interactive_output(show_propensity, sliders))

# %% [markdown]
# ## Adaptation
#
# `adapt` runs the whole procedure on one task and rolls the agent back afterwards, so every task starts
# from the same meta-trained weights:

# %%
show_source(MQL.adapt)

# %%
result = picture.adapt(GymTaskEnvs(ENV_ID, 1), ood_tasks[0], num_eval_episodes=budget.pick(full=5, fast=2))
print(f"OOD goal {tuple(round(g, 2) for g in ood_tasks[0].goal)}: return {result.before:.1f} before, "
      f"{result.after:.1f} after adaptation (ESS {result.ess:.2f}, λ {result.prox_weight:.2f})")
assert abs(result.prox_weight - (1 - result.ess)) < 1e-9

# %% [markdown]
# ## Measured: context TD3, state-only TD3, the goal bound and MQL adaptation
#
# `benchmarks/mql.py` trains 3 seeds of context TD3, of TD3 on the state alone, and of the same TD3 given each
# task's true goal instead of the context (`MQLConfig(task_input="goal")`: the oracle-goal bound, a diagnostic,
# not part of MQL), then adapts context TD3 on held-out and OOD goals, with the two ablations
# ($\beta \equiv 1$; $\lambda = 0$). The bound separates the two causes of a low score: if the same TD3 with
# perfect task knowledge is not much better, inference is not what is missing; compute is. Every figure below is read from
# `data/results/mql.json`, never typed in, and set against the course's targets (issue 14).
#
# Read them with the budget in mind. The benchmark is sized for a shared 2-core machine: meta-training is a
# few CPU-minutes per seed, at the learning rate that bought the most score per CPU-minute in a one-seed
# measurement (recorded in the results file as `route`). The goal bound says which half is missing: given the
# true goal, the same TD3 gets close to the oracle in the same steps, so TD3's control is not the limit; the
# shortfall is task inference, learning the history context and acting on it (the probe above finds the goal
# readable from the context only as the episode goes on). Adaptation starts from that under-trained context
# agent, so its gains measure MQL's adaptation step on a weak meta-policy.
# One more thing to keep in mind when comparing the ablations: with $\lambda = 1 - \mathrm{ESS}$, setting
# $\beta \equiv 1$ makes the ESS 1 and so $\lambda = 0$ as well; that ablation drops both ingredients.

# %%
from peach_lite.results import read_results

try:
    record = read_results("mql")
except (FileNotFoundError, ValueError) as error:
    record = None
    print(f"no benchmark results yet: {error}")
if record is not None:
    h = record["headline"]
    details = record["details"]
    print(f"seeds {record['seeds']} ({record['date'][:10]}): {record['command']}")
    print(f"{details['total_steps']} meta-training steps per seed at lr {details['lr']}, {details['adapt_tasks']} goals "
          f"adapted per split; {h['cpu_minutes_per_seed']:.1f} CPU-minutes and {h['wall_minutes_per_seed']:.1f} "
          f"wall-minutes per seed\n")
    targets = [("context TD3, in distribution", h["context_td3_score"], ">= 0.85", h["context_td3_score"] >= 0.85),
               ("TD3 on the state alone", h["state_td3_score"], "<= 0.10", h["state_td3_score"] <= 0.10),
               ("TD3 given the goal (bound)", h["oracle_goal_td3_score"], ">= context", h["oracle_goal_td3_score"] >= h["context_td3_score"]),
               ("bound out of distribution", h["oracle_goal_ood_score"], "", None),
               ("context TD3 / bound", h["context_fraction_of_goal_bound"], "", None),
               ("MQL gain in distribution", h["in_dist_adaptation_gain"], ">= -0.02", h["in_dist_adaptation_gain"] >= -0.02),
               ("MQL gain out of distribution", h["ood_adaptation_gain"], ">= +0.10", h["ood_adaptation_gain"] >= 0.10),
               ("gain with beta = 1 (OOD)", h["beta_one_ood_gain"], "< MQL's", h["beta_one_ood_gain"] < h["ood_adaptation_gain"]),
               ("gain with lambda = 0 (OOD)", h["no_prox_ood_gain"], "< MQL's", h["no_prox_ood_gain"] < h["ood_adaptation_gain"]),
               ("gain, fixed lambda 0.1 (OOD)", h["fixed_prox_ood_gain"], "(released)", None),
               ("ESS in distribution", h["ess_in_dist"], "> ESS OOD", h["ess_in_dist"] > h["ess_ood"]),
               ("ESS out of distribution", h["ess_ood"], "", None),
               ("CPU-minutes per seed", h["cpu_minutes_per_seed"], "<= 15", h["cpu_minutes_per_seed"] <= 15)]
    print(f"{'figure':32s} {'measured':>9s}  {'target':10s} met")
    for name, value, target, met in targets:
        print(f"{name:32s} {value:9.3f}  {target:10s} {'' if met is None else ('yes' if met else 'NO')}")
    assert h["context_td3_score"] <= 1.0 + 1e-6 and h["mql_ood_adapted_score"] <= 1.0 + 1e-6 and h["fixed_prox_ood_adapted_score"] <= 1.0 + 1e-6
    assert h["oracle_goal_td3_score"] <= 1.0 + 1e-6  # the bound knows the goal, not the oracle's straight-line policy
    print(f"\nwith the true goal instead of the context, the same TD3 (same steps, lr, seeds) scores {h['oracle_goal_td3_score']:.2f} "
          f"in distribution and {h['oracle_goal_ood_score']:.2f} out of it; context TD3 reaches "
          f"{h['context_fraction_of_goal_bound']:.0%} of the bound")
    limit = "task inference (the context), not TD3's compute" if h["oracle_goal_td3_score"] >= 0.85 else "TD3's compute too"
    print(f"so at this budget context TD3 is limited by {limit}")
    print(f"\nout of distribution MQL adapts with lambda = 1 - ESS = {1 - h['ess_ood']:.2f}; the ablations with lambda = 0: "
          f"{h['beta_one_ood_adapted_score']:.2f} (beta = 1) and {h['no_prox_ood_adapted_score']:.2f} (lambda = 0) after "
          f"adaptation, MQL {h['mql_ood_adapted_score']:.2f}, from {h['ood_score_before_adaptation']:.2f} before; the released "
          f"code's fixed lambda = 0.1: {h['fixed_prox_ood_adapted_score']:.2f}")
    if max(h["beta_one_ood_gain"], h["no_prox_ood_gain"]) > h["ood_adaptation_gain"]:
        print("here, adapting without the proximal term gains more; a likely reason: staying near a weak meta-policy costs more than "
              "the drift the proximal term prevents")
    route = details.get("route")
    if route:
        print(f"\nroute measured before sizing (seed {route['seed']}): {route['tried']}: score {route['lr_1e-3']['score_40k']:.2f} "
              f"after 40k steps, against {route['lr_3e-4']['score_40k']:.2f} at lr 3e-4 ({route['lr_3e-4']['score_120k']:.2f} after 120k)")

# %% [markdown]
# The same context TD3 on a locomotion task, as a report with no target: `benchmarks/mql_cheetah.py` meta-trains it
# for one seed on HalfCheetahVel (reward $-|v_x - v| - 0.05\|a\|^2 \le 0$) and sets its greedy return on the 30 test
# velocities beside doing nothing and beside PEARL's checkpoint (whose score is after exploring the task).

# %%
try:
    cheetah = read_results("mql_cheetah")
except FileNotFoundError as error:
    cheetah = None
    print(f"no HalfCheetahVel run yet: {error}")
if cheetah is not None:
    c = cheetah["headline"]
    print(f"HalfCheetahVel, seed {cheetah['seeds']}, {c['total_steps']:.0f} steps, {c['cpu_minutes']:.1f} CPU-minutes: "
          f"context TD3 {c['context_return']:.0f}, zero action {c['zero_action_return']:.0f}"
          + (f", PEARL checkpoint {c['pearl_checkpoint_return']:.0f}" if "pearl_checkpoint_return" in c else "")
          + (f"; MQL adaptation gain {c['adaptation_gain']:+.1f} (ESS {c['adaptation_ess']:.2f})" if "adaptation_gain" in c else ""))
    assert c["context_return"] <= 0.0 and c["zero_action_return"] <= 0.0  # the reward is never positive

# %%
from peach_lite.results import show_figure

try:
    display(show_figure("mql"))  # the benchmark's figure, data/results/mql.png
except FileNotFoundError as error:
    print(error)
