# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # 03 · Meta-RL as task inference
#
# Lesson 02 computed the belief over tasks exactly. In most meta-RL problems that is impossible, but during
# *meta-training* we know something the agent will not know at test time: **the task itself** (the goal, the
# arm probabilities). Humplik et al. (seed 004) use that privileged information to *train* a belief:
#
# * **(A) LSTM agent** (RL², Duan et al. 2016): a recurrent policy reads the history $(o, a, r)$ and learns
#   everything from reward.
# * **(B) Belief-network agent**: a recurrent *belief module* learns by supervised learning to predict the task
#   description $h = w$; the actor and critic read its penultimate layer, **and no RL gradient flows back into
#   it**.
# * **(C) Auxiliary-head agent**: one shared LSTM trained by the RL loss *and* an auxiliary supervised head.
#
# An optional **information bottleneck** regularises the belief features, and because the posterior does not
# depend on the policy (lesson 02), the belief module can learn **off-policy**, from old data.
#
# We train all three on the same task families, with the same learner and the same sizes, and check the claims:
# the belief agent is near Bayes-optimal on held-out tasks, and it learns faster than RL².

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %% [markdown]
# ## Two task families
#
# * **MovementBandits** (`peach_lite/MovementBandits-v0`, 50 steps): two goals are visible, one of them secretly
#   pays 1 per step while the agent is within 50 units of it. The task is *which* goal, $w \in \{0, 1\}$. Its
#   **Bayes-optimal return is known exactly** by dynamic programming (`oracles.movement_bandits_values_for_goals`):
#   walk to a goal, and if it does not pay, walk to the other.
# * **The 20-arm Bernoulli bandit** of seed 004 (`peach_lite/BernoulliBandit-v0`, 100 pulls), task = the arm
#   probabilities. Its Bayes-optimal return has no closed form; we compare with the baselines of lesson 02.
#
# Training simulates thousands of episodes in lock-step on tensors. The batched simulators in
# `peach_lite.belief` replay the registered envs' dynamics (`tests/test_belief.py` checks them step for step
# against `gymnasium`), and tasks come from the envs' own `sample_tasks` / `test_tasks`. Each family also
# knows its **exact posterior**, so we can grade every learnt belief.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from peach_lite import show_source
from peach_lite.belief_agents import make_family

movement = make_family("movement")
bandit = make_family("bandit")
show_source(type(movement).agent_input)

# %% [markdown]
# The agent's input is RL²'s $x_t = [o_t, a_{t-1}, r_{t-1}, t/T]$. Each family adds a fixed, lossless re-coding of
# the observation that makes the sufficient statistics easy to compute for *every* agent: MovementBandits adds
# each goal's offset in units of the reward radius, the bandit writes (arm, reward) as one one-hot over 40 pairs
# so that counting successes per arm is a sum.
#
# ## Three agents
#
# One class builds all three. The only differences are where the supervised loss goes and the `detach`:

# %%
from peach_lite.belief_agents import MetaAgent

show_source(MetaAgent.forward)

# %% [markdown]
# **The detach, checked.** For agent B the RL loss sends *exactly zero* gradient into the belief module, and the
# supervised loss sends none into the actor-critic; for agent C the shared LSTM receives both.

# %%
from peach_lite.belief_agents import belief_loss, gae_advantages, rollout


def gradients(kind: str) -> dict[str, float]:
    torch.manual_seed(0)
    agent = MetaAgent(kind, movement.input_dim, movement.num_actions, movement.target_dim, 16, 8, (16,))
    tasks = movement.sample_tasks(8, seed=0)
    roll = rollout(agent, movement, tasks, torch.Generator().manual_seed(0))
    out = agent(roll.inputs)
    advantages, _ = gae_advantages(roll.rewards + 0.1, out.value.detach(), 1.0, 0.95)
    rl_loss = -(torch.log_softmax(out.logits, -1).gather(-1, roll.actions[..., None]).squeeze(-1) * advantages).mean()
    supervised = belief_loss(movement.target_kind, out.belief_logits, movement.targets(tasks))
    norm = lambda loss, params: sum(float(g.abs().sum()) for g in torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True) if g is not None)  # noqa: E731
    return {"RL -> recurrent module": norm(rl_loss, list(agent.core.parameters())),
            "belief loss -> actor-critic": norm(supervised, agent.policy_parameters()),
            "belief loss -> recurrent module": norm(supervised, list(agent.core.parameters()))}


routing = {kind: gradients(kind) for kind in ("belief", "aux")}
for kind, values in routing.items():
    print(kind, {k: f"{v:.3g}" for k, v in values.items()})
assert routing["belief"]["RL -> recurrent module"] == 0.0 and routing["belief"]["belief loss -> actor-critic"] == 0.0
assert routing["belief"]["belief loss -> recurrent module"] > 0 and routing["aux"]["RL -> recurrent module"] > 0

# %% [markdown]
# ## The supervised belief loss
#
# The belief module $b_\theta(h \mid \tau_{0:t})$ minimises $\mathbb E_{(w, \tau)}[-\log b_\theta(h = w \mid \tau_{0:t})]$
# over episodes $(w, \tau) \sim p(w)\, p_\pi(\tau \mid w)$. Its minimiser is the true posterior $p(h \mid \tau_{0:t})$,
# because the expected loss is $\mathrm{KL}(p \,\|\, b_\theta)$ plus the posterior's entropy. For a discrete task
# label it is a cross-entropy (MovementBandits: which goal is real); for the bandit's vector of arm
# probabilities it is a Bernoulli cross-entropy per arm, minimised by the posterior means $\mathbb E[w_k \mid \tau]$
# that the Beta filter of lesson 02 computes.

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
reference = torch.distributions.kl_divergence(torch.distributions.Normal(mean, (0.5 * log_var).exp()), torch.distributions.Normal(0.0, 1.0)).sum(-1)
assert torch.allclose(gaussian_kl(mean, log_var), reference, atol=1e-6)

# %% [markdown]
# ## The RL learner: A2C (or PPO)
#
# All agents learn with the same on-policy actor-critic: one batch of whole episodes per update (fresh tasks),
# GAE advantages, and either one A2C step or a few PPO epochs of the clipped surrogate (seed 004 uses PPO for its
# on-policy agents). One update, in the order of the pseudo-code:

# %%
from peach_lite.belief_agents import BeliefAgentConfig, train

show_source(train, lines=(1, 40))

# %% [markdown]
# Train all three agents briefly here (a few updates in fast mode, a real budget in full mode). The full-budget
# runs of the benchmark are re-plotted below.

# %%
num_updates = budget.pick(full=300, fast=6)
small = dict(family="movement", num_updates=num_updates, batch_size=budget.pick(full=64, fast=16), lr=1e-2,
             ppo_epochs=4, gamma=0.95, gae_lambda=0.9, eval_every=max(num_updates // 10, 1), eval_episodes=budget.pick(full=256, fast=32))
trained = {kind: train(BeliefAgentConfig(agent=kind, **small), progress=False) for kind in ("lstm", "belief", "aux")}
fig, ax = plt.subplots(figsize=(5.5, 3))
for kind, (_, history) in trained.items():
    ax.plot(np.array(history.eval_steps) / 1e3, history.eval_return, "o-", ms=3, label=kind)
ax.set_xlabel("environment steps (thousands)")
ax.set_ylabel("held-out return")
ax.set_title(f"{num_updates} updates of each agent (this run)")
ax.legend()
plt.show()
assert all(len(h.eval_return) >= 1 and all(0 <= r <= 50 for r in h.eval_return) for _, h in trained.values())

# %% [markdown]
# ## Learning curves: belief network vs RL²
#
# `benchmarks/belief_vs_lstm.py` trains B and A on MovementBandits with three seeds each (same inputs, sizes,
# learner and budget) and stores every curve in `data/results/belief_vs_lstm.json`. Held-out return against
# environment steps, mean ± std over seeds, with the exact Bayes-optimal return (dashed):

# %%
from peach_lite.results import read_results

record = read_results("belief_vs_lstm")
headline, details = record["headline"], record["details"]
runs = details["runs"]


def curves(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    histories = [run["history"] for name, run in runs.items() if name.startswith(prefix + "/")]
    return np.array(histories[0]["eval_steps"]), np.array([h["eval_return"] for h in histories])


fig, ax = plt.subplots(figsize=(6.5, 3.5))
for prefix, label in [("belief", "B: belief network"), ("lstm", "A: LSTM (RL²)")]:
    steps, values = curves(prefix)
    ax.plot(steps / 1e6, values.mean(0), label=f"{label} ({len(values)} seeds)")
    ax.fill_between(steps / 1e6, values.mean(0) - values.std(0), values.mean(0) + values.std(0), alpha=0.3)
ax.axhline(headline["bayes_optimal_return"], color="k", ls="--", label="Bayes-optimal (exact DP)")
ax.axhline(headline["oracle_return"], color="gray", ls=":", label="oracle (task known)")
ax.axhline(headline["threshold_return"], color="C3", lw=0.8, label="threshold for the steps ratio")
ax.set_xlabel("environment steps (millions)")
ax.set_ylabel("held-out return per episode")
ax.legend(fontsize=7, loc="lower right")
plt.show()
print(f"steps to the threshold, LSTM / belief: {headline['steps_ratio_lstm_over_belief']:.2f} "
      f"(per seed {np.round(details['per_seed']['steps_ratio'], 2).tolist()}, "
      f"LSTM never reached it in {headline['lstm_censored_seeds']:.0f} seed(s): then the ratio is a lower bound)")
print(f"belief agent: {headline['belief_fraction_of_bayes']:.3f} of the Bayes-optimal return (worst seed {headline['belief_fraction_of_bayes_min']:.3f}); "
      f"LSTM agent: {headline['lstm_fraction_of_bayes']:.3f}; benchmark wall time {headline['wall_time_s'] / 60:.1f} min")
assert headline["belief_return"] <= headline["oracle_return"] and headline["lstm_return"] <= headline["oracle_return"]
assert headline["steps_ratio_lstm_over_belief"] > 1.0

# %% [markdown]
# ## Pretrained agents
#
# The lesson's checkpoints were trained by the package's command line, which records the command, seed and
# held-out score in `data/MANIFEST.json`:
#
# ```
# python -m peach_lite.belief_agents --agent belief --family movement --seed 0 --out data/checkpoints/belief_movement.pt
# ```
#
# Loading one takes a fraction of a second (`weights_only` load, no pickled code). On fresh held-out episodes we
# compute the exact Bayes-optimal return for *the same goal positions* and compare.

# %%
from peach_lite.belief_agents import evaluate, load_agent
from peach_lite.checkpoints import read_manifest
from peach_lite.paths import checkpoints_dir

show_source(load_agent)

# %%
TARGET_FRACTION = 0.9  # of the Bayes-optimal return, on held-out episodes
belief_agent, belief_config, _ = load_agent(checkpoints_dir() / "belief_movement.pt")
held_out = movement.eval_tasks(budget.pick(full=4000, fast=1000))
belief_return, belief_roll = evaluate(belief_agent, movement, held_out, seed=2024, return_rollout=True)
bayes_return = movement.bayes_optimal_return(belief_roll.extras["goals"])
oracle_return = movement.oracle_return(belief_roll)
entry = next(e for e in read_manifest()["artifacts"] if e["file"].endswith("belief_movement.pt"))
print(f"recorded by: {entry['command']}")
print(f"belief agent {belief_return:.2f} | Bayes-optimal {bayes_return:.2f} | oracle {oracle_return:.2f} "
      f"-> {belief_return / bayes_return:.3f} of Bayes-optimal")
assert belief_return >= TARGET_FRACTION * bayes_return
assert belief_return <= oracle_return  # no agent beats its oracle

# %% [markdown]
# What does it do? Four held-out episodes: the path, the two goals (the real one filled), and the belief module's
# probability that goal 0 is real, next to the exact posterior. The agent walks to one goal; if it does not pay,
# its belief flips and it walks to the other.

# %%
from peach_lite.envs.movement_bandits import ARENA, REWARD_RADIUS

with torch.no_grad():
    learnt = torch.softmax(belief_agent(belief_roll.inputs).belief_logits, -1)
exact = movement.exact_prediction(belief_roll)
fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), gridspec_kw={"height_ratios": [1.6, 1]})
for column, episode in enumerate([0, 1, 2, 3]):
    ax = axes[0, column]
    goals = belief_roll.extras["goals"][episode].numpy()
    real = int(belief_roll.tasks[episode])
    for index, goal in enumerate(goals):
        ax.add_patch(plt.Circle(goal, REWARD_RADIUS, color="C2" if index == real else "C1", alpha=0.6 if index == real else 0.25))
        ax.annotate(f"goal {index}", goal, ha="center", fontsize=8)
    path = np.vstack([[200, 200], belief_roll.next_obs[episode, :, :2].numpy() * ARENA])
    ax.plot(path[:, 0], path[:, 1], "C0.-", ms=3)
    ax.set_xlim(-20, 420)
    ax.set_ylim(-20, 420)
    ax.set_aspect("equal")
    ax.set_title(f"return {belief_roll.rewards[episode].sum():.0f}")
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
# No predictor can beat the exact posterior's cross-entropy on average (algorithms.md §5.4): it is the floor.
# The gap above it measures how much the belief module still has to learn.

# %%
from peach_lite.belief_agents import belief_quality

quality = belief_quality(belief_agent, movement, belief_roll)
print({k: round(v, 4) for k, v in quality.items()})
assert quality["learnt"] >= quality["exact"] - 0.01  # the floor holds (up to sampling noise)
assert quality["excess"] < 0.1  # nats per step: close to the exact posterior

# %% [markdown]
# ## Off-policy belief training
#
# The theorem of lesson 02 says the target $p(w \mid \tau)$ is the same whichever policy produced $\tau$. So a
# belief module may learn from *any* episodes: a replay buffer of old policies' data, or even a random policy's.
# What changes with the policy is only *which* trajectories are seen (coverage).
#
# Two belief modules trained offline, one on a random policy's episodes, one on the trained agent's own
# episodes; both graded on both kinds of data against the exact posterior:

# %%
from peach_lite.belief_agents import behaviour_rollout, train_belief_offline

offline_updates = budget.pick(full=300, fast=15)


def agent_policy(obs, t, _state={}):  # noqa: B006 - the trained agent as a fixed behaviour policy
    raise NotImplementedError  # replaced below by rollouts of the agent itself


on_policy_data = lambda tasks, generator: rollout(belief_agent, movement, tasks, generator)  # noqa: E731
random_data = lambda tasks, generator: behaviour_rollout(movement, tasks, "random", generator)  # noqa: E731
show_source(train_belief_offline)

# %% [markdown]
# ## Widget: information bottleneck and supervision weight
#
# The benchmark also trained the belief agent with several bottleneck strengths $\beta$ and the auxiliary-head
# agent with several supervision weights (weight 0 is the plain LSTM agent again). Pick one to compare its
# learning curve with the baselines. (In tests the cell runs once with its defaults.)

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
from IPython.display import display

variant = widgets.Dropdown(options=[("belief, no bottleneck", "belief/seed0")]
                           + [(f"belief, IB beta={w:g}", f"belief_ib{w:g}/seed0") for w in details["ib_weights"]]
                           + [(f"aux head, weight {w:g}", f"aux_w{w:g}/seed0") for w in details["aux_weights"]]
                           + [("belief, off-policy replay", "belief_replay/seed0")], description="run")


def show_variant(name: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for prefix, color in [("belief", "C0"), ("lstm", "C1")]:
        steps, values = curves(prefix)
        ax.plot(steps / 1e6, values.mean(0), color=color, alpha=0.5, label=f"{prefix} (mean of seeds)")
    history = runs[name]["history"]
    ax.plot(np.array(history["eval_steps"]) / 1e6, history["eval_return"], "C3", lw=2, label=name)
    ax.axhline(headline["bayes_optimal_return"], color="k", ls="--", label="Bayes-optimal")
    ax.set_xlabel("environment steps (millions)")
    ax.set_ylabel("held-out return")
    ax.legend(fontsize=7, loc="lower right")
    plt.show()


display(variant, widgets.interactive_output(show_variant, {"name": variant}))

# %% [markdown]
# ## The 20-arm bandit
#
# The same belief agent on seed 004's bandit, loaded from `data/checkpoints/belief_bandit.pt`, on the env's
# held-out test tasks, next to lesson 02's baselines on the same tasks. The Bayes-optimal return is unknown here,
# so the reference is the best baseline (greedy on the posterior mean), a lower bound on it.

# %%
from peach_lite.belief import run_bandit_baseline
from peach_lite.envs.oracles import bernoulli_bandit_oracle_return

bandit_agent, _, _ = load_agent(checkpoints_dir() / "belief_bandit.pt")
bandit_tasks = bandit.eval_tasks(budget.pick(full=1000, fast=500))
bandit_return = evaluate(bandit_agent, bandit, bandit_tasks, seed=7)
baselines = {name: run_bandit_baseline(name, bandit_tasks.numpy(), seed=7)["rewards"].sum(1).mean().item()
             for name in ("random", "thompson", "greedy")}
bandit_oracle = bernoulli_bandit_oracle_return(bandit_tasks.numpy())
print({**{k: round(v, 2) for k, v in baselines.items()}, "belief agent": round(bandit_return, 2), "oracle": round(bandit_oracle, 2)})
print(f"belief agent / greedy reference: {bandit_return / baselines['greedy']:.3f}")
assert bandit_return <= bandit_oracle
assert bandit_return > baselines["random"]

# %% [markdown]
# ## Exercise: the supervised belief loss
#
# Write the cross-entropy of a belief head against the task label: `logits` has shape `(..., num_classes)`,
# `label` holds integer task labels of shape `(...)`; return the mean of $-\log \mathrm{softmax}(\text{logits})[\text{label}]$.

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
# * Supervising a belief module with the task description gives an agent that acts near Bayes-optimally on
#   held-out tasks, and it gets there in fewer environment steps than an RL² agent with the same inputs and sizes.
# * The belief module's targets do not depend on the policy, so it can learn from replayed old data.
# * The exact posterior, when we have it, grades any learnt belief: the gap in cross-entropy above it.
#
# Lesson 05 (PEARL) replaces the supervised belief by a latent context $z$ learnt without task labels.
