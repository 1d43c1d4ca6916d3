# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Meta-RL as task inference
#
# Lesson 02 computed the belief over tasks exactly. In most meta-RL problems that is impossible, but during
# *meta-training* we know something the agent will not know at test time: **the task itself** (the goal, the arm
# probabilities). Humplik et al. (seed 004) use that privileged information to *train* a belief:
#
# * **(A) LSTM agent** (RL², Duan et al. 2016): a recurrent policy reads the history $(o, a, r)$ and learns
#   everything from reward.
# * **(B) Belief-network agent**: a recurrent *belief module* learns by supervised learning to predict the task
#   description $h = w$; the actor and critic read its penultimate layer, **and no RL gradient flows back into it**.
# * **(C) Auxiliary-head agent**: one shared LSTM trained by the RL loss *and* an auxiliary supervised head.
#
# An optional **information bottleneck** regularises the belief features, and because the posterior does not
# depend on the policy (lesson 02), the belief module can learn **off-policy**, from old data.
#
# We train the three agents on the same task families with the same learner, inputs and sizes, and check the
# claims: the belief agent is near Bayes-optimal on held-out tasks, and it learns faster than RL².

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %% [markdown]
# ## Three task families
#
# * **K-goal trials** (`peach_lite/KGoalBandit-v0`, K = 10 goals): a trial is 20 one-pull episodes on the same
#   hidden goal. The **Bayes-optimal return has a closed form**, $\sum_{t=1}^{20} \min(t, K)/K = 15.5$ (lesson 02):
#   try every goal once, in any order, then repeat the one that paid. It needs the memory of *every* goal already
#   tried: "stay after a success, else pick at random" only gets $\sum_t 1 - (1 - 1/K)^t \approx 12.1$.
# * **MovementBandits** (`peach_lite/MovementBandits-v0`, 50 steps), a small navigation task: two goals are
#   visible, one secretly pays 1 per step while the agent is within 50 units of it. Its Bayes-optimal return is
#   known exactly by dynamic programming (`oracles.movement_bandits_values_for_goals`): walk to a goal, and if it
#   does not pay, walk to the other. Here the belief is a single bit.
# * **The 20-arm Bernoulli bandit** of seed 004 (`peach_lite/BernoulliBandit-v0`, 100 pulls). Its Bayes-optimal
#   return has no closed form; we compare with the baselines of lesson 02.
#
# Training simulates thousands of episodes in lock-step on tensors. The task families in
# `peach_lite.envs.task_families` step a whole batch of episodes at once and plug into the same episode driver as
# every other lesson (`loop.run_episodes`); their dynamics replay the registered envs' (`tests/test_belief.py`
# checks them step for step against `gymnasium`), and tasks come from the envs' own `sample_tasks` / `test_tasks`.
# Each family also knows its **exact posterior**, so every learnt belief can be graded.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from peach_lite import show_source
from peach_lite.envs.task_families import make_family

torch.set_num_threads(1)  # these networks are tiny: one thread is fastest (and kind to a shared machine)
kgoal = make_family("kgoal")
movement = make_family("movement")
bandit = make_family("bandit")
print(f"K-goal: {kgoal.num_actions} goals, trials of {kgoal.horizon} episodes, Bayes-optimal {kgoal.bayes_optimal_return():.2f}")
show_source(type(movement).agent_input)

# %% [markdown]
# The agent's input is RL²'s $x_t = [o_t, a_{t-1}, r_{t-1}, t/T]$. A family may add a fixed, lossless re-coding of
# the observation that *every* agent gets: MovementBandits adds each goal's offset in units of the reward radius;
# the bandit writes (arm, reward) as one one-hot over the 40 pairs, so that counting successes per arm is a sum.
#
# ## Three agents
#
# One network class builds all three. The only differences are where the supervised loss goes, and one `detach`:

# %%
from peach_lite.belief_agents import MetaAgent

show_source(MetaAgent.forward)

# %% [markdown]
# **The detach, checked.** For agent B the RL loss sends *exactly zero* gradient into the belief module and the
# supervised loss none into the actor-critic; for agent C the shared LSTM receives both.

# %% [markdown]
# The agent that acts is a `BeliefAgent`: the network plus the `loop.Agent` hooks (`begin_episode`, `act`, `observe`,
# `end_episode`, `learn`), so `loop.run_episodes` runs one episode on each of a batch of tasks, one forward for all of
# them per step, and leaves the episodes in `agent.rollout`.

# %%
from peach_lite.belief_agents import BeliefAgent, BeliefAgentConfig, belief_loss
from peach_lite.loop import run_episodes
from peach_lite.ppo import gae_advantages


def gradient_sizes(kind: str) -> dict[str, float]:
    torch.manual_seed(0)
    agent = BeliefAgent(BeliefAgentConfig(agent=kind, family="movement", hidden_dim=16, feature_dim=8, policy_hidden=(16,)))
    tasks = movement.sample_tasks(8, seed=0)
    run_episodes(agent, agent.family, agent.family.task_batch(tasks), explore=True)
    roll, net = agent.rollout, agent.net
    out = net(roll.inputs)
    advantages, _ = gae_advantages(roll.rewards + 0.1, out.value.detach(), 1.0, 0.95)
    rl_loss = -(torch.log_softmax(out.logits, -1).gather(-1, roll.actions[..., None]).squeeze(-1) * advantages).mean()
    supervised = belief_loss(movement.target_kind, out.belief_logits, movement.targets(tasks))

    def size(loss, params):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return sum(float(g.abs().sum()) for g in grads if g is not None)

    return {"RL loss -> recurrent module": size(rl_loss, list(net.core.parameters())),
            "belief loss -> actor-critic": size(supervised, net.policy_parameters()),
            "belief loss -> recurrent module": size(supervised, list(net.core.parameters()))}


routing = {kind: gradient_sizes(kind) for kind in ("belief", "aux")}
for kind, values in routing.items():
    print(f"{kind:6s}", {k: f"{v:.3g}" for k, v in values.items()})
assert routing["belief"]["RL loss -> recurrent module"] == 0.0 and routing["belief"]["belief loss -> actor-critic"] == 0.0
assert routing["belief"]["belief loss -> recurrent module"] > 0 and routing["aux"]["RL loss -> recurrent module"] > 0

# %% [markdown]
# ## The supervised belief loss
#
# The belief module $b_\theta(h \mid \tau_{0:t})$ minimises $\mathbb E_{(w, \tau)}[-\log b_\theta(h = w \mid \tau_{0:t})]$
# over episodes $(w, \tau) \sim p(w)\, p_\pi(\tau \mid w)$. Its minimiser is the true posterior $p(h \mid \tau_{0:t})$:
# the expected loss is $\mathbb E_\tau[\mathrm{KL}(p(\cdot \mid \tau) \,\|\, b_\theta(\cdot \mid \tau))]$ plus the
# posterior's expected entropy, which no predictor can go below. For a discrete task label it is a cross-entropy
# (which goal); for the bandit's arm probabilities a Bernoulli cross-entropy per arm, minimised by the posterior
# means $\mathbb E[w_k \mid \tau]$ of lesson 02's Beta filter. You write the first one in the exercise at the end.

# %%
from peach_lite.belief_agents import bernoulli_belief_loss, categorical_belief_loss

show_source(bernoulli_belief_loss)

# %% [markdown]
# ## An information bottleneck
#
# Seed 004 regularises the belief features with a stochastic layer (Alemi et al.'s deep variational information
# bottleneck): $f \sim \mathcal N(\mu(h), \sigma^2(h))$ and a penalty $\beta\, \mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I))$,
# in closed form:

# %%
from peach_lite.belief_agents import gaussian_kl

show_source(gaussian_kl)

# %%
mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
reference = torch.distributions.kl_divergence(torch.distributions.Normal(mean, (0.5 * log_var).exp()),
                                              torch.distributions.Normal(0.0, 1.0)).sum(-1)
assert torch.allclose(gaussian_kl(mean, log_var), reference, atol=1e-5)

# %% [markdown]
# ## The RL learner
#
# All agents learn with the same on-policy actor-critic, `peach_lite.ppo.PPO`: one batch of whole episodes per update
# (fresh tasks), GAE advantages, and a few PPO epochs of the clipped surrogate (seed 004 uses PPO for its on-policy
# agents; with one epoch the probability ratio is exactly 1 and it is A2C). `train` runs the agent through the same
# `loop.train` as every other lesson: each round the agent collects one batch, then `learn` takes one PPO update on it.
# The learner's loss terms:

# %%
from peach_lite.belief_agents import train
from peach_lite.ppo import PPO, clipped_surrogate_loss

show_source(PPO.losses)

# %% [markdown]
# and PPO's clipped surrogate: outside $[1 - \epsilon, 1 + \epsilon]$, on the side the advantage pushes towards, the
# term is constant, so the gradient stops pushing the policy further from the one that collected the data.

# %%
show_source(clipped_surrogate_loss)

# %% [markdown]
# The agent's `learn`: GAE on the batch it just collected, then the PPO update; its policy function adds the
# supervised belief loss (agents B and C) to PPO's terms.

# %%
show_source(BeliefAgent.learn)

# %% [markdown]
# ## Train, or load
#
# In fast mode the three agents train for a few updates on the K-goal trials, to see the loop run. In full mode the
# lesson loads the pretrained belief agent (its training curve is stored in the checkpoint); the benchmark's
# multi-seed curves come next.

# %%
from peach_lite.checkpoints import load_agent
from peach_lite.paths import checkpoints_dir

source = budget.pick(full="load", fast="train")
if source == "train":
    small = dict(family="kgoal", num_updates=8, batch_size=16, eval_every=2, eval_episodes=50)
    curves_here = {kind: train(BeliefAgentConfig(agent=kind, **small), progress=False)[1].to_dict() for kind in ("lstm", "belief", "aux")}
else:
    _, payload = load_agent(checkpoints_dir() / "belief_kgoal.pt")
    curves_here = {"belief (checkpoint)": payload["meta"]["history"]}
fig, ax = plt.subplots(figsize=(5.5, 3))
for kind, history in curves_here.items():
    ax.plot(np.array(history["eval_steps"]) / 1e3, history["eval_values"], "o-", ms=3, label=kind)
ax.axhline(kgoal.bayes_optimal_return(), color="k", ls="--", label="Bayes-optimal")
ax.set_xlabel("environment steps (thousands)")
ax.set_ylabel("held-out return per trial")
ax.legend(fontsize=8)
plt.show()
assert all(0 <= r <= kgoal.horizon for history in curves_here.values() for r in history["eval_values"])

# %% [markdown]
# ## Learning curves: belief network vs RL²
#
# `benchmarks/belief_vs_lstm.py` trains B, A and C on the K-goal trials with three seeds each (same inputs, sizes,
# learner and budget) and stores every curve in `data/results/belief_vs_lstm.json`. Held-out return against
# environment steps, mean ± std over seeds, with the closed-form Bayes-optimal return (dashed) and the threshold
# used for the steps ratio:

# %%
from peach_lite.results import read_results

record = read_results("belief_vs_lstm")
headline, details = record["headline"], record["details"]
runs = details["runs"]


def seed_curves(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    histories = [run["history"] for name, run in runs.items() if name.startswith(prefix + "/")]
    return np.array(histories[0]["eval_steps"]), np.array([h["eval_return"] for h in histories])


fig, ax = plt.subplots(figsize=(6.5, 3.6))
for prefix, label in [("belief", "B: belief network"), ("lstm", "A: LSTM (RL²)"), ("aux_w1", "C: auxiliary head")]:
    steps, values = seed_curves(prefix)
    ax.plot(steps / 1e3, values.mean(0), label=f"{label} ({len(values)} seeds)")
    ax.fill_between(steps / 1e3, values.mean(0) - values.std(0), values.mean(0) + values.std(0), alpha=0.25)
ax.axhline(headline["bayes_optimal_return"], color="k", ls="--", label="Bayes-optimal (closed form)")
ax.axhline(headline["threshold_return"], color="C3", lw=0.8, label="threshold for the steps ratio")
ax.set_xlabel("environment steps (thousands)")
ax.set_ylabel("held-out return per trial")
ax.set_title(f"K-goal trials, K={details['num_goals']}, {details['trial_length']} episodes")
ax.legend(fontsize=7, loc="lower right")
plt.show()
print(f"steps to reach {headline['threshold_return']:.1f}, LSTM / belief: {headline['steps_ratio_lstm_over_belief']:.2f} "
      f"(per seed {details['per_seed']['steps_ratio_lstm_over_belief']}; seeds where the LSTM never got there: "
      f"{headline['lstm_censored_seeds']:.0f}, which would make the ratio a lower bound)")
print(f"final fraction of Bayes-optimal: belief {headline['belief_fraction_of_bayes']:.3f} (worst seed "
      f"{headline['belief_fraction_of_bayes_min']:.3f}), LSTM {headline['lstm_fraction_of_bayes']:.3f}, aux {headline['aux_fraction_of_bayes']:.3f}")
print(f"MovementBandits (1 seed): belief {headline['movement_belief_fraction_of_bayes']:.3f}, "
      f"LSTM {headline['movement_lstm_fraction_of_bayes']:.3f} of Bayes-optimal; benchmark wall time {headline['wall_time_s'] / 60:.1f} min")
for name, run in runs.items():
    assert run["final_return"] <= run["oracle_return"] + 1e-6, name  # no agent beats its oracle
assert headline["steps_ratio_lstm_over_belief"] > 1.0

# %% [markdown]
# The same runs as the benchmark drew them (`data/results/belief_vs_lstm.png`, the README's figure; mean and
# min-max band over seeds, MovementBandits beside the K-goal trials):

# %%
from peach_lite.results import show_figure

show_figure("belief_vs_lstm")

# %% [markdown]
# On the K-goal trials the belief module is told, at every step, which goals are still possible; the RL² agent has
# to discover from reward alone that remembering the goals it tried is worth it, and within the same budget it does
# not always get there. The auxiliary head (C) learns as fast as the belief network here: what matters is that the
# recurrent state is *supervised* with the task, whether or not RL gradients also reach it. On MovementBandits, where
# the belief is a single bit that one reward-less visit reveals, the gap after the same budget is smaller (the last
# printed line above, one seed each).
#
# ## Pretrained agents
#
# The lesson's checkpoints were trained by the package's command line, which records the command, seed and held-out
# score in `data/MANIFEST.json`. Loading takes a fraction of a second (`weights_only` load, no pickled code).

# %%
from peach_lite.belief_agents import evaluate
from peach_lite.checkpoints import read_manifest

TARGET_FRACTION = 0.9  # of the Bayes-optimal return, on held-out tasks
manifest = {entry["file"]: entry for entry in read_manifest()["artifacts"]}
kgoal_agent, _ = load_agent(checkpoints_dir() / "belief_kgoal.pt", algorithm="belief")
kgoal_return, kgoal_roll = evaluate(kgoal_agent, kgoal.eval_tasks(1000), seed=2024, return_rollout=True)
print(manifest["checkpoints/belief_kgoal.pt"]["command"])
print(f"K-goal: belief agent {kgoal_return:.3f} | Bayes-optimal {kgoal.bayes_optimal_return():.3f} | oracle {kgoal.horizon}")
standard_error = kgoal_roll.returns.std().item() / np.sqrt(len(kgoal_roll.returns))
assert kgoal_return >= TARGET_FRACTION * kgoal.bayes_optimal_return()
assert kgoal_return <= kgoal.bayes_optimal_return() + 3 * standard_error  # no agent beats the Bayes-optimal (up to noise)

# %% [markdown]
# What it does, on the first ten held-out trials (one per goal): the goal pulled in each episode (rows), the true goal
# ringed. It tries each goal once and then stays on the one that paid, exactly the Bayes-optimal strategy.

# %%
fig, ax = plt.subplots(figsize=(7, 2.6))
trials = kgoal_roll.actions[:10].numpy()
ax.imshow(trials, cmap="tab10", aspect="auto")
for row in range(10):
    for episode in range(kgoal.horizon):
        if trials[row, episode] == kgoal_roll.tasks[row].item():
            ax.scatter(episode, row, s=40, facecolor="none", edgecolor="k")
ax.set_xlabel("episode of the trial")
ax.set_ylabel("trial (true goal = row)")
ax.set_title("goal chosen in each episode (colour); ring = the rewarding goal")
plt.show()

# %% [markdown]
# **Navigation.** The belief agent on MovementBandits, trained by
# `python -m peach_lite train belief --preset movement --seed 0 --out data/checkpoints/belief_movement.pt`.
# On fresh held-out episodes we compute the exact Bayes-optimal return *for the same goal positions*:

# %%
movement_agent, _ = load_agent(checkpoints_dir() / "belief_movement.pt", algorithm="belief")
movement_return, movement_roll = evaluate(movement_agent, movement.eval_tasks(budget.pick(full=4000, fast=400)),
                                          seed=2024, return_rollout=True)
movement_bayes = movement.bayes_optimal_return(movement_roll.extras["goals"])
movement_oracle = movement.oracle_return(movement_roll)
print(f"MovementBandits: belief agent {movement_return:.2f} | Bayes-optimal {movement_bayes:.2f} | oracle {movement_oracle:.2f} "
      f"-> {movement_return / movement_bayes:.3f} of Bayes-optimal")
assert movement_return >= TARGET_FRACTION * movement_bayes
assert movement_return <= movement_oracle  # no agent beats its oracle

# %% [markdown]
# Four held-out episodes: the path, the two goals (the real one green), and the belief module's probability that
# goal 0 is real next to the exact posterior. The agent walks to one goal; when it does not pay, the belief flips and
# the agent heads for the other.

# %%
from peach_lite.envs.movement_bandits import ARENA, REWARD_RADIUS

with torch.no_grad():
    learnt = torch.softmax(movement_agent.net(movement_roll.inputs).belief_logits, -1)
exact = movement.exact_prediction(movement_roll)
fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), gridspec_kw={"height_ratios": [1.6, 1]})
for column, episode in enumerate([0, 1, 2, 3]):
    ax = axes[0, column]
    goals = movement_roll.extras["goals"][episode].numpy()
    real = int(movement_roll.tasks[episode])
    for index, goal in enumerate(goals):
        ax.add_patch(plt.Circle(goal, REWARD_RADIUS, color="C2" if index == real else "C1", alpha=0.5 if index == real else 0.25))
        ax.annotate(f"goal {index}", goal, ha="center", fontsize=8)
    path = np.vstack([[200, 200], movement_roll.next_obs[episode, :, :2].numpy() * ARENA])
    ax.plot(path[:, 0], path[:, 1], "C0.-", ms=3)
    ax.set_xlim(-20, 420)
    ax.set_ylim(-20, 420)
    ax.set_aspect("equal")
    ax.set_xlabel("x (env units)")
    ax.set_title(f"return {movement_roll.rewards[episode].sum():.0f}")
    bottom = axes[1, column]
    bottom.plot(learnt[episode, :, 0].numpy(), label="belief module")
    bottom.plot(exact[episode, :, 0].numpy(), "k--", label="exact posterior")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("step")
axes[0, 0].set_ylabel("y (env units)")
axes[1, 0].set_ylabel("P(goal 0 is real)")
axes[1, 0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## How good is the learnt belief?
#
# No predictor beats the exact posterior's cross-entropy on average (algorithms.md §5.4): it is the floor. The gap
# above it measures what the belief module still has to learn.

# %%
from peach_lite.belief_offline import belief_quality

qualities = {"K-goal": belief_quality(kgoal_agent, kgoal, kgoal_roll), "MovementBandits": belief_quality(movement_agent, movement, movement_roll)}
for name, quality in qualities.items():
    print(f"{name:16s} cross-entropy per step (nats): learnt {quality['learnt']:.4f}, exact posterior {quality['exact']:.4f}")
    assert quality["learnt"] >= quality["exact"] - 0.01  # the floor holds (up to sampling noise)
    assert quality["excess"] < 0.1  # and the learnt belief is close to it

# %% [markdown]
# ## Off-policy belief training
#
# The theorem of lesson 02 says the target $p(w \mid \tau)$ is the same whichever policy produced $\tau$. So a belief
# module may learn from *any* episodes: a replay buffer of old policies' data, or a random policy's. What the policy
# changes is only *which* trajectories are seen (coverage).
#
# The benchmark trained two belief modules offline on K-goal trials, one on a **random** policy's episodes, one on the
# pretrained agent's **own** episodes (it tries every goal once, then stays), and graded both, during training, on
# held-out episodes of both policies against the exact posterior. Offline training is the same `loop.train` once more:
# each round the behaviour policy collects a batch of episodes on fresh tasks, and the learner takes one supervised
# step on it:

# %%
from peach_lite.belief_offline import OfflineBeliefLearner

show_source(OfflineBeliefLearner.learn)

# %%
offline = details["offline"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
for ax, tested_on in zip(axes, ["random", "trained agent"]):
    for trained_on, color in [("random", "C0"), ("trained agent", "C1")]:
        ax.plot(offline[trained_on]["updates"], offline[trained_on]["excess"][tested_on], color=color, label=f"trained on {trained_on} data")
    ax.axhline(0.0, color="k", ls="--", label="exact posterior (the floor)")
    ax.set_yscale("symlog", linthresh=0.05)
    ax.set_xlabel("supervised updates (batch 64)")
    ax.set_title(f"tested on {tested_on} episodes")
axes[0].set_ylabel("excess cross-entropy (nats/step)")
axes[0].legend(fontsize=7)
plt.show()
final = {(a, b): offline[a]["excess"][b][-1] for a in offline for b in offline[a]["excess"]}
for (trained_on, tested_on), value in final.items():
    print(f"trained on {trained_on:14s} tested on {tested_on:14s}: excess {value:.4f} nats/step")
assert all(value >= -0.01 for value in final.values())  # nobody beats the exact posterior (up to sampling noise)
start = offline["random"]["excess"]["trained agent"][0]
assert final[("random", "trained agent")] < 0.1 * start  # random data taught the agent's posterior too
replay = runs["belief_replay/seed0"]
print(f"belief agent with its belief module trained from a replay of old episodes: {replay['fraction_of_bayes']:.3f} of Bayes-optimal")
assert replay["fraction_of_bayes"] >= TARGET_FRACTION

# %% [markdown]
# Random episodes cover every situation the agent meets (and many more), so a belief learnt from them grades well on
# the agent's own episodes. The reverse is not true: the agent never repeats a failed goal, so a belief learnt only
# from its episodes has never seen a repeat and can be badly wrong on random play. Same target, different coverage.
#
# Inside the full agent, the benchmark's `belief_replay` run trains the belief module from a replay buffer of the last
# episodes of older policies instead of the current batch. Its curve (widget below) tracks the on-policy one.
#
# ## Widget: information bottleneck and supervision weight
#
# The benchmark also trained the belief agent with several bottleneck strengths $\beta$, and the auxiliary-head agent
# with several supervision weights. First the numbers, then pick a run to compare with the seed-averaged belief and
# LSTM curves. (In tests the widget cell runs once with its default.)
#
# In these runs (on-policy PPO, a fresh task for every episode, so there is no generalisation gap to close) the
# bottleneck does not help: a small $\beta$ is harmless and larger ones slow or stop learning, because they squeeze
# out the very information the policy needs. Seed 004 reports the bottleneck's benefit for *off-policy* training and
# for generalising from a fixed set of training tasks; its PPO agents do not use it. On the auxiliary head, a
# supervision weight of 1 or more learns about as fast as the belief network, and 0.1 is slower.

# %%
for name in ["belief/seed0", *[f"belief_ib{w:g}/seed0" for w in details["ib_weights"]], "lstm/seed0",
             *[f"aux_w{w:g}/seed0" for w in details["aux_weights"]], "belief_replay/seed0"]:
    run, history = runs[name], runs[name]["history"]
    area = np.mean(history["eval_return"]) / run["bayes_optimal_return"]  # mean of the curve: rewards learning speed
    print(f"{name:22s} final {run['final_return']:6.2f}   mean of the learning curve {area:.3f} of Bayes-optimal")

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
from IPython.display import display

options = ([("belief, no bottleneck", "belief/seed0")]
           + [(f"belief, IB beta={w:g}", f"belief_ib{w:g}/seed0") for w in details["ib_weights"]]
           + [(f"aux head, weight {w:g}", f"aux_w{w:g}/seed0") for w in details["aux_weights"]]
           + [("belief, off-policy replay", "belief_replay/seed0")])
variant = widgets.Dropdown(options=options, description="run")


def show_variant(name: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for prefix, color in [("belief", "C0"), ("lstm", "C1")]:
        steps, values = seed_curves(prefix)
        ax.plot(steps / 1e3, values.mean(0), color=color, alpha=0.5, label=f"{prefix} (mean of seeds)")
    history = runs[name]["history"]
    ax.plot(np.array(history["eval_steps"]) / 1e3, history["eval_return"], "C3", lw=2, label=name)
    ax.axhline(headline["bayes_optimal_return"], color="k", ls="--", label="Bayes-optimal")
    ax.set_xlabel("environment steps (thousands)")
    ax.set_ylabel("held-out return per trial")
    ax.legend(fontsize=7, loc="lower right")
    plt.show()


display(variant, widgets.interactive_output(show_variant, {"name": variant}))

# %% [markdown]
# ## The 20-arm bandit
#
# The belief agent on seed 004's bandit, loaded from the checkpoint made by
# `python -m peach_lite train belief --preset bandit --seed 0 --out data/checkpoints/belief_bandit.pt`, on the env's
# held-out test tasks, next to lesson 02's baselines on the same tasks. The Bayes-optimal return is unknown here, so
# the reference is the best baseline (greedy on the posterior mean), a lower bound on it.

# %%
from peach_lite.belief import run_bandit_baseline
from peach_lite.envs.oracles import bernoulli_bandit_oracle_return

bandit_agent, _ = load_agent(checkpoints_dir() / "belief_bandit.pt", algorithm="belief")
bandit_tasks = bandit.eval_tasks(budget.pick(full=1000, fast=500))
bandit_return = evaluate(bandit_agent, bandit_tasks, seed=7)
baselines = {name: run_bandit_baseline(name, bandit_tasks.numpy(), seed=7)["rewards"].sum(1).mean().item()
             for name in ("random", "thompson", "greedy")}
bandit_oracle = bernoulli_bandit_oracle_return(bandit_tasks.numpy())
print({**{k: round(v, 2) for k, v in baselines.items()}, "belief agent": round(bandit_return, 2), "oracle": round(bandit_oracle, 2)})
print(f"belief agent / greedy reference: {bandit_return / baselines['greedy']:.3f}")
assert bandit_return <= bandit_oracle
assert bandit_return >= TARGET_FRACTION * baselines["greedy"]

# %% [markdown]
# ## Exercise: the supervised belief loss
#
# Write the cross-entropy of a belief head against the task label: `logits` has shape `(..., num_classes)`, `label`
# holds integer task labels of shape `(...)`; return the mean over all positions of $-\log \mathrm{softmax}(\text{logits})[\text{label}]$.

# %%
from peach_lite.checks import check_categorical_belief_loss


def my_belief_loss(logits, label):
    # YOUR CODE HERE (hint: torch.log_softmax and .gather)
    raise NotImplementedError


check_categorical_belief_loss(my_belief_loss)

# %%
assert check_categorical_belief_loss(categorical_belief_loss)
assert not check_categorical_belief_loss(lambda logits, label: -torch.softmax(logits, -1).gather(-1, label[..., None]).log().sum())

# %% [markdown]
# ## What we have
#
# * Supervising a belief module with the task description gives an agent that acts (near) Bayes-optimally on held-out
#   tasks, and on a task where inference is the hard part it gets there in fewer environment steps than RL² with the
#   same inputs, sizes and learner.
# * The belief module's targets do not depend on the policy, so it can learn from replayed or random data; only
#   coverage matters.
# * Where the exact posterior is known, it grades any learnt belief: the excess cross-entropy above it.
#
# Lesson 05 (PEARL) learns a latent context $z$ without task labels, and explores by posterior sampling.
