# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11 · PEACH: a task posterior that drives the top of a hierarchy
#
# The poster (McClinton, Levy & Konidaris; seed 000) asks for one agent with both halves of this course:
#
# * **meta-RL as task inference** (lessons 03 and 05): a posterior $q_\phi(z \mid c)$ over the task, inferred
#   from a context $c$ of experience, exactly as PEARL does;
# * **hierarchies of goal-conditioned levels** (lessons 06 and 07): HAC, whose lower levels learn, with
#   hindsight, to reach any subgoal they are handed.
#
# PEACH puts z on the **top level only**. The top level proposes subgoals *for the task it infers*; the lower
# levels stay goal-conditioned and task-agnostic and never see z. The author's own attempt (summer 2019)
# stalled at "getting the task inferencing at the top level working"; no other implementation exists. This
# lesson builds it from the package's parts, measures it against its parents, and shows which half works and
# which does not, with the diagnostics that separate them.

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
# ## The hidden-goal maze
#
# The four-rooms point-mass maze of lesson 07, with one change: the goal is one of three **sites** (the centres
# of rooms 1, 2 and 3, jittered per task), and it is **hidden**: `desired_goal` is always zeros. The reward is
# sparse (−1 per step, 0 and the end of the episode at the goal) and an episode lasts 50 steps. The horizon is
# chosen so that knowing the goal is enough (the scripted oracle needs at most 35 steps) while not knowing it
# is costly: touring the sites finds the second one by step ~44 and the third only after 56 steps, so the best
# *uninformed* episode succeeds on 2 of 3 tasks. A meta-learner that infers the site from its first episode
# can do better on the episodes after it.

# %%
from peach_lite.envs import make
from peach_lite.envs.oracles import maze_sites_values
from peach_lite.render import show_frames

ENV_ID = "peach_lite/PointMazeHidden-v0"
env = make(ENV_ID, render_mode="rgb_array")
train_tasks, test_tasks = env.unwrapped.train_tasks(), env.unwrapped.test_tasks()
frames = []
for site in range(3):
    env.reset(seed=0, options={"task": test_tasks[site]})
    frames.append(env.render())
show_frames(frames, titles=[f"site {k} (room {room})" for k, room in enumerate(env.unwrapped.sites)])

values = maze_sites_values(num_episodes=budget.pick(full=6, fast=6))
print(f"oracle (goal known): success {values.oracle_success:.2f}, mean steps {values.oracle_mean_steps:.1f}, "
      f"max {values.oracle_max_steps}")
print(f"best uninformed episode: success {values.uninformed_success:.2f} (checks {values.uninformed_sites_checked} sites)")
obs, _ = env.reset(seed=0, options={"task": test_tasks[0]})
assert np.all(obs["desired_goal"] == 0)  # the goal is hidden
assert values.oracle_success == 1.0 and values.uninformed_success < 1.0

# %% [markdown]
# Two reference curves say what a perfect task-inferring agent could do, episode by episode: **posterior
# sampling** picks a site from its belief each episode. With *elimination* (a failed site is never tried again)
# it succeeds with probability $\min(t, K)/K$ by episode $t$; *without* elimination, $1 - (1 - 1/K)^t$. A
# product of Gaussians over z cannot express "not site 1", so the second curve is the realistic one.

# %%
episodes = np.arange(1, 7)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(episodes, values.ps_with_elimination, "o-", label="posterior sampling, with elimination")
ax.plot(episodes, values.ps_without_elimination, "s-", label="posterior sampling, without elimination")
ax.axhline(values.oracle_success, color="k", linestyle="--", label="oracle (goal known)")
ax.axhline(values.uninformed_success, color="gray", linestyle=":", label="best uninformed episode")
ax.set_xlabel("meta-test episode t"), ax.set_ylabel("success probability"), ax.set_ylim(0, 1.05)
ax.legend(fontsize=7), ax.set_title("what inferring the site is worth")
plt.show()

# %% [markdown]
# ## The agent
#
# `PEACH` is a composition, not a new learner:
#
# * the hierarchy is lesson 07's `HAC`, built with `top_cond_dim = latent_dim` (the top level reads z next to its
#   blank goal) and `top_goal_hidden=True` (its goal test is the env's success signal; no hindsight *goals* at the
#   top, since it never sees its goal);
# * the posterior is lesson 05's `ContextPosterior` with PEARL's KL;
# * every top-level attempt is handed to PEACH by a hook, which builds the top level's replay **per training task**
#   and the context.
#
# The lower levels keep HAC's own replay and update, and never see z.

# %%
from peach_lite.loop import GymTaskEnvs, Runner
from peach_lite.peach import PEACH, PeachConfig

show_source(PeachConfig)

# %% [markdown]
# ## Algorithm 1, line by line
#
# **Collection** (per train task): draw z from $q_\phi(z \mid c^i)$ (the prior when $c^i$ is empty); run the
# hierarchy with z at the top and add every top-level row to $B^i$; update the lower levels with their own
# hindsight losses; refresh $c^i$ from $B^i$.

# %%
show_source(PEACH.collect_round)

# %% [markdown]
# **Gradient step** (per task): sample $c^i \sim S_c(B^i)$ and $b^i \sim B^i$, draw $z \sim q_\phi(z \mid c^i)$,
# compute the top critic loss, the top actor loss and $\beta\,\mathrm{KL}(q(z \mid c^i)\,\|\,\mathcal N(0, I))$.
# Then $\phi \leftarrow \nabla(L_\text{critic} + \beta\,\mathrm{KL})$, the top actor $\leftarrow \nabla L_\text{actor}$,
# the top critic $\leftarrow \nabla L_\text{critic}$. z is **not** detached in the critic (so the critic's error
# teaches the encoder what to infer) and **is** detached for the actor (PEARL's routing).

# %%
from peach_lite.peach import peach_losses

show_source(peach_losses)

# %%
show_source(PEACH.update)

# %% [markdown]
# ### Exercise 1: the detach map
#
# For each loss, which parts receive a gradient? The parts are `"encoder"` (φ), `"top_actor"`, `"top_critic"`
# and `"lower_levels"`. Fill in the sets; the checker compares them with the map **measured** on a real agent by
# back-propagating each loss alone (`gradient_routing`).

# %%
from peach_lite.checks import check_detach_map
from peach_lite.peach_diagnostics import gradient_routing

small = dict(top_updates_per_round=2, lower_updates_per_episode=2, batch_size=16, context_batch=8, lower_batch_size=16,
             meta_batch=4, num_tasks_sample=2, episodes_per_task=2, buffer_size=5_000)
demo_envs = GymTaskEnvs(ENV_ID, seed=0)
demo = PEACH.from_env(demo_envs, len(train_tasks), PeachConfig(**small))
demo.collect_round(Runner(demo_envs, train_tasks, seed=0), 0)
batch = demo.rl_buffer.sample(16, [0, 1, 2], demo.generator)
context = demo.sample_context([0, 1, 2])
measured = gradient_routing(demo, batch, context)

my_map = {
    "critic_loss": {"encoder", "top_critic"},  # your answer
    "kl": {"encoder"},
    "actor_loss": {"top_actor"},
}
check_detach_map(my_map, measured)

# %%
assert "encoder" not in measured["actor_loss"] and "encoder" in measured["critic_loss"]
assert all("lower_levels" not in parts for parts in measured.values())
print(measured)

# %% [markdown]
# ## What the encoder reads
#
# A context row describes one **attempt** of the top level: $[s, \tilde a, r, s']$ — where the attempt began, the
# subgoal (replaced, as in HAC's hindsight actions, by where the lower level actually got if it missed), the
# reward (0 if the env reported success during the attempt, else −1) and where it ended. Subgoal-testing
# penalties (−H) describe the *lower* level, not the task, so they go to the RL buffer but not to the context.

# %%
from peach_lite.peach import top_context_row

show_source(top_context_row)

# %% [markdown]
# ### Exercise 2: the top level's context row
#
# Write `my_row(obs, subgoal, reward, next_obs)` returning the (11,) float32 row.

# %%
from peach_lite.checks import check_top_context_row


def my_row(obs, subgoal, reward, next_obs):
    return np.concatenate([np.ravel(obs), np.ravel(subgoal), [reward], np.ravel(next_obs)]).astype(np.float32)


assert check_top_context_row(my_row)
rows = demo.context_buffer.sample(64, [0])
assert float(rows["reward"].min()) >= -1.0  # no -H penalty rows in the context

# %% [markdown]
# ## Training
#
# The pretrained agent (`data/checkpoints/peach_maze.pt`; its command, seed and score are in `data/MANIFEST.json`)
# is the poster's Algorithm 1 as written (`PeachConfig()`, 50 rounds). "Train now (small)" runs the same code for a
# few rounds: enough to watch Algorithm 1 turn, not to learn the maze. The rest of the lesson measures why this agent
# fails, builds the route that works, and ends on the benchmark of that route against PEACH's parents.

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
from peach_lite.paths import checkpoints_dir
from peach_lite.peach import train_peach

PRETRAINED = checkpoints_dir() / "peach_maze.pt"
if choice.value == "train now (small)":
    agent, meta = train_peach(seed=0, progress=False, rounds=budget.pick(full=20, fast=2), eval_every=budget.pick(full=10, fast=2),
                              **{**small, "meta_test_episodes": 2})
else:
    agent, payload = load_agent(PRETRAINED, algorithm="peach")
    meta = payload["meta"]
curve = History(**meta["history"])
fig, ax = plt.subplots(figsize=(6, 3.2))
curve.plot(ax, oracle=values.oracle_success)
ax.set_title("PEACH meta-training: final-episode meta-test success on held-out tasks")
plt.show()

# %% [markdown]
# ## Meta-testing (Algorithm 2 with a hierarchy)
#
# On a held-out task: the first episode runs on a **prior** z; after each episode the belief becomes the
# posterior over *all* context so far, and the next episode draws a fresh z from it. Lower levels act greedily.
# Below, one task's six episodes: the path (blue), the subgoals the top level proposed (orange), the hidden goal
# (green), and, in grey, where the top level would send the agent first under 32 samples of the belief of that
# episode: a belief that has found the site puts them together. Algorithm 1 as written misses in every episode;
# the same pictures of the route that works come later ("Hindsight goals from the task distribution").

# %%
from peach_lite.peach import meta_test_success

pretrained, _ = load_agent(PRETRAINED, algorithm="peach")
eval_envs = GymTaskEnvs(ENV_ID, seed=1)


def recorded_meta_test(agent, seed=7):
    """Meta-test ``agent`` on the held-out tasks (with its paths); also return each episode's traces, {episode k: [trace per task]}."""
    traces = {}

    def keep_traces(k, episodes):
        traces[k] = list(agent.traces)

    agent.record = True
    try:
        return meta_test_success(agent, eval_envs, test_tasks, seed=seed, record_paths=True, on_trajectory=keep_traces), traces
    finally:
        agent.record = False


result, traces = recorded_meta_test(pretrained)
print("success per meta-test episode (12 held-out tasks):", np.round(result.success.mean(axis=0), 2))
assert np.all(result.z_var[:, 0] == 1.0) and np.all(result.z_mean[:, 0] == 0.0)  # episode 1: the prior
assert result.success.sum() == 0  # the text above: Algorithm 1 as written misses in every episode
assert result.success.mean() <= values.oracle_success + 1e-9  # no agent beats the oracle

# %%
from peach_lite.posterior import Belief


VIEW = 4.2  # the top-down frame covers [-4.2, 4.2]^2


def draw_episode(ax, task_index, k, agent=pretrained, result=result, traces=traces):
    trace = traces[k][task_index]
    path = np.array(trace.achieved)
    env.reset(seed=0, options={"task": test_tasks[task_index]})
    ax.imshow(env.render(), extent=(-VIEW, VIEW, -VIEW, VIEW), alpha=0.6)  # the maze, the hidden goal (green), the sites
    belief = Belief(torch.as_tensor(result.z_mean[task_index, k - 1])[None], torch.as_tensor(result.z_var[task_index, k - 1])[None])
    guesses = agent.first_subgoals(trace.obs[0], belief, num_samples=32, seed=k)
    ax.scatter(guesses[:, 0], guesses[:, 1], s=8, color="gray", alpha=0.6, label="first subgoal under belief samples")
    subgoals = np.array([a.action for a in trace.attempts if a.level == agent.num_levels - 1])
    if len(subgoals):
        ax.scatter(subgoals[:, 0], subgoals[:, 1], s=30, color="C1", marker="x", label="top-level subgoals")
    ax.plot(path[:, 0], path[:, 1], color="C0", linewidth=1.5, label="path")
    ax.set_xlim(-VIEW, VIEW), ax.set_ylim(-VIEW, VIEW), ax.set_xticks([]), ax.set_yticks([])
    tag = "prior z" if k == 1 else "posterior z"
    ax.set_title(f"episode {k} ({tag}): {'success' if result.success[task_index, k - 1] else 'miss'}", fontsize=8)


def draw_meta_test(task_index, **agent_result_traces):
    """The six meta-test episodes of one held-out task, side by side (keywords as in ``draw_episode``)."""
    fig, axes = plt.subplots(1, 6, figsize=(15, 2.8))
    for k, ax in enumerate(axes, start=1):
        draw_episode(ax, task_index, k, **agent_result_traces)
    axes[0].legend(fontsize=6, loc="lower right")
    plt.show()


draw_meta_test(0)

# %% [markdown]
# ## What the top level needs: hindsight, then inference
#
# The agent above finds nothing. Is the wall task inference, or the top level itself? The first row of the study
# below answers it: a top level that *reads the true goal*, learning as Algorithm 1 does, learns nothing either. HAC's top
# level learns from **hindsight goal transitions** (lesson 07): whatever state an episode reached becomes, after
# the fact, a goal it did reach. With the goal hidden there is nothing to relabel, and the task's own sparse
# reward arrives too rarely for the top critic to learn from.
#
# PEACH's counterpart relabels through the **task variable**. With probability `hindsight_goal_prob` a meta-batch
# slot takes, as its goal, the place where one of its context attempts ended; the env's own reward function then
# recomputes the slot's RL rewards *and* its context rewards. The top level sees successes to learn from, and the
# encoder sees a context with a paid attempt whose goal it must read out. (HTR, `relabel_prob`, relabels only to
# other *training* goals, which the agent rarely reaches here.)

# %%
from peach_lite.peach import PEACH

show_source(PEACH.sample_meta_batch)

# %% [markdown]
# `benchmarks/peach_hindsight.py` changes one thing at a time, same rounds and seeds: the oracle top level without
# and with hindsight goals, then PEACH (z from the posterior) with them. For PEACH it also runs the two probes of
# `peach_lite.peach_diagnostics`:
#
# * the **paid-context probe**: a context that already holds a paid attempt ending at the goal, so no exploration
#   is needed; its *signal-to-noise* (how far the posterior means of different goals lie apart, in units of the
#   posterior's own spread) is about 0 when the posterior ignores its context, **posterior collapse**;
# * the **prior's site visits**: how many of the three sites some of 32 prior-z episodes pass (exploration).

# %%
from peach_lite.results import read_results, show_figure

study = read_results("peach_hindsight")
found = study["headline"]
methods = [("oracle z, no hindsight", "oracle_z"), ("oracle z + hindsight goals", "oracle_z_hindsight"),
           ("PEACH + hindsight goals", "peach_hindsight"), ("PEACH + hindsight + reward decoder", "peach_hindsight_decoder")]
print(f"{'method':36s} final-episode success (seeds {study['seeds']}, {found['rounds']:.0f} rounds)")
for label, key in methods:
    if f"{key}_success" in found:
        ci = f"[{found[key + '_success_ci_low']:.2f}, {found[key + '_success_ci_high']:.2f}]"
        print(f"{label:36s} {found[key + '_success']:.2f}  (IQM {found[key + '_success_iqm']:.2f}, 95% CI {ci})")
for label, key in methods[2:]:
    if f"{key}_signal_to_noise" in found:
        print(f"{label}: paid-context success {found[key + '_paid_context_success']:.2f}, signal-to-noise "
              f"{found[key + '_signal_to_noise']:.3f}, sites reached on the prior {found[key + '_prior_sites_reached']:.1f} of 3")
per_seed = {key: [round(run["final_success"], 2) for run in study["details"]["runs"][key]] for _, key in methods if key in study["details"]["runs"]}
print("per seed:", per_seed)
snr = [run["paid_context_signal_to_noise"] for run in study["details"]["runs"]["peach_hindsight"]]
assert found["hindsight_gain_oracle"] > 0  # hindsight goals are what the top level was missing
assert max(snr) < 1.0 and found["peach_hindsight_paid_context_success"] < 0.5  # the text below: z says little about the goal
assert min(per_seed["oracle_z_hindsight"]) < max(per_seed["oracle_z_hindsight"])  # the text below: not on every seed
assert all(found[f"{key}_success"] <= 1.0 for _, key in methods if f"{key}_success" in found)
display(show_figure("peach_hindsight"))

# %% [markdown]
# Read the table from the top. Hindsight goals turn the oracle top level from nothing into a learner, though not on
# every seed (per seed above): credit assignment was the first wall, and it is seed-fragile even with the goal handed
# over. With z from the
# posterior instead, the paid-context probe shows the second wall: even when the context already holds a paid attempt
# at the goal, the agent rarely goes there, and the posterior means of different goals lie within the posterior's own
# spread (signal-to-noise below 1 on every seed). z says little about the goal, so the top level learns a policy that
# ignores it. This is where the poster's author stalled, now measured. Below, the
# same probe on the pretrained agent (the poster's Algorithm 1 as written), live.

# %%
from peach_lite.peach_diagnostics import paid_context_probe

probe = paid_context_probe(pretrained, eval_envs, test_tasks[: budget.pick(full=12, fast=3)], num_samples=budget.pick(full=4, fast=1))
print(f"pretrained PEACH, paid context: success {probe['success']:.2f}, signal-to-noise {probe['signal_to_noise']:.3f}, "
      f"posterior variance {probe['var_ratio']:.2f} x prior")
assert 0.0 <= probe["success"] <= 1.0 and probe["var_ratio"] > 0

# %% [markdown]
# ### Can the encoder carry the goal at all?
#
# Posterior collapse has two possible causes: the encoder *cannot* represent the goal from such contexts (its
# architecture, the product of Gaussians over mostly unpaid rows, the raw inputs), or it is never *pushed* to.
# `encoder_capacity_probe` separates them. It teaches a fresh encoder of the agent's exact architecture the goal
# directly, by supervised regression, on real top-level attempts relabelled by the env's reward function, and scores
# it on held-out goals. `benchmarks/peach_encoder_probe.py` runs it on 3 seeds, with and without the agent's KL term.

# %%
from peach_lite.peach_diagnostics import encoder_capacity_probe

show_source(encoder_capacity_probe)

# %%
capacity = read_results("peach_encoder_probe")
c = capacity["headline"]
print(f"goal error, maze units (no information: {c['baseline_goal_error']:.2f}); seeds {capacity['seeds']}")
for label, key in (("taught directly, paid context", "supervised_goal_error_paid"), ("taught directly, no paid row", "supervised_goal_error_unpaid"),
                   ("taught directly + the agent's KL, paid", "supervised_kl_goal_error_paid"), ("the RL-trained posterior, paid", "rl_goal_error_paid")):
    print(f"  {label:40s} {c[key]:.2f}")
print(f"signal-to-noise on paid contexts: taught {c['supervised_snr_paid']:.0f}, taught + KL {c['supervised_kl_snr_paid']:.3f}, "
      f"RL-trained {c['rl_snr_paid']:.4f}")
assert c["supervised_goal_error_paid"] < 0.3 * c["baseline_goal_error"]  # the architecture can read the goal from one paid row
assert c["supervised_goal_error_unpaid"] > 0.8 * c["baseline_goal_error"]  # and nothing from unpaid rows, as it should
assert c["supervised_kl_goal_error_paid"] > 0.8 * c["baseline_goal_error"]  # the agent's KL weight alone collapses it
assert c["rl_snr_paid"] < 0.01 * c["supervised_snr_paid"]

# %% [markdown]
# So the encoder *can* read the goal: one paid row among 8, 32 or 80 is enough. Add the agent's own KL weight
# (0.1, summed over the meta-batch as in PEARL) and even this direct teaching signal cannot pull the posterior off
# the prior. PEARL balances that KL against critic losses made large by its reward scale (5 to 100); PEACH's top
# critic is bounded to [-H, 0] and learns from rewards of -1 and 0, with no reward scale to strengthen its pull.
# The wall is the training signal and its balance with the KL, not the encoder.

# %% [markdown]
# ### Relabel as HER does, and let the posterior speak
#
# Two changes follow from these measurements; `benchmarks/peach_hindsight.py` runs them as its *collection route*
# (600 rounds, about 15 CPU-minutes a run, inside the issue's 30):
#
# * **where a hindsight slot's rows come from** (`hindsight_rows="collection"`). HER relabels a transition with a
#   goal its *own* episode reached later, so the goal is reachable from the rows and the critic learns a graded value.
#   Drawn from the whole replay, most rows of a hindsight slot lie rooms away from its goal: the critic sees a -H
#   plateau with a few paid spikes. The collection route draws them from the goal's own collection (the episodes its
#   context came from). It also keeps HAC's 20% random subgoals.
# * **the KL weight**: 0.001 instead of 0.1 (and encoder lr 1e-3), so that the critic's pull can move the posterior.
#
# The oracle top level gets the same two changes (minus the KL), so that it stays PEACH's upper bound.

# %%
route = [("oracle z, collection route", "oracle_z_hindsight_collection"), ("PEACH, collection route", "peach_hindsight_collection")]
runs = study["details"]["runs"]
print(f"{'method':30s} final success  per seed  ({found['route_rounds']:.0f} rounds, seeds {study['seeds']})")
for label, key in route:
    print(f"{label:30s} {found[key + '_success']:.2f}          {[round(r['final_success'], 2) for r in runs[key]]}")
collection = runs["peach_hindsight_collection"]
for label, key in (("signal-to-noise, paid context", "paid_context_signal_to_noise"), ("success, paid context", "paid_context_success"),
                   ("sites reached on the prior (of 3)", "prior_sites_reached")):
    print(f"PEACH {label:34s} per seed {[round(r[key], 2) for r in collection]}   (PEACH + hindsight: "
          f"{[round(r[key], 3) for r in runs['peach_hindsight']]})")
per_episode = np.mean([r["success_per_episode"] for r in collection], axis=0)
print("PEACH success per meta-test episode (mean over seeds):", np.round(per_episode, 2))
assert found["peach_hindsight_collection_signal_to_noise"] > 10 * found["peach_hindsight_signal_to_noise"]  # z now moves with the context
assert found["peach_hindsight_collection_paid_context_success"] > found["peach_hindsight_paid_context_success"]  # and the top level acts on it
assert found["peach_hindsight_collection_success"] > found["peach_hindsight_success"]
assert found["peach_hindsight_collection_success"] <= found["oracle_z_hindsight_collection_success"] + 1e-9  # below its oracle
assert per_episode[-1] > per_episode[0]  # the text below: success rises over the meta-test episodes
assert max(max(r["prior_site_visits"]) for r in collection) < 0.5  # the text below: the prior rarely finds a site
assert all(r["prior_site_visits"][1] == 0 for r in collection)  # and never the far one (room 2)

# %% [markdown]
# For the first time PEACH's posterior carries the goal: the posterior means of different goals lie many times their
# own spread apart, and handed a context with a paid attempt the top level often goes there. Success rises over the
# meta-test episodes, the signature of task inference. What it cannot yet do is **explore**: episodes on prior
# samples of z rarely pass any site, and never the far one, so at meta-test time there is seldom a paid attempt to
# infer from. The half that fails has moved from inference to exploration.
#
# The route's agent is in `data/checkpoints/peach_maze_collection.pt` (seed 2 of the route, the best of the three
# seeds in the table; its command is in `data/MANIFEST.json`). Below, its meta-test on the held-out tasks, and the
# six episodes of the first task on which it succeeds. Misses leave the belief wide; the paid attempt narrows it,
# and the next episode's subgoals (orange) head back to where that attempt ended.

# %%
route_agent, _ = load_agent(checkpoints_dir() / "peach_maze_collection.pt", algorithm="peach")
route_result, route_traces = recorded_meta_test(route_agent)
print("route agent, success per meta-test episode (12 held-out tasks):", np.round(route_result.success.mean(axis=0), 2))
solved = np.flatnonzero(route_result.success.any(axis=1))
print("tasks it solves in some episode:", solved.tolist())
assert route_result.success.mean() <= values.oracle_success + 1e-9
assert route_result.success[:, -1].mean() > result.success[:, -1].mean()  # it beats the Algorithm-1-as-written agent

# %%
task_index = int(solved[0])
first = int(np.argmax(route_result.success[task_index]))  # episode index of its first success
draw_meta_test(task_index, agent=route_agent, result=route_result, traces=route_traces)
before = route_result.z_var[task_index, : first + 1].mean()  # beliefs up to the success (the prior first)
after = route_result.z_var[task_index, first + 1 :].mean() if first + 1 < route_result.z_var.shape[1] else float("nan")
print(f"task {task_index}: first success in episode {first + 1}; belief variance {before:.3f} before, {after:.3f} after")
assert after < before  # the paid attempt narrows the belief


# %% [markdown]
# ### Hindsight goals from the task distribution
#
# Why do prior samples of z lead nowhere? HER-style hindsight goals teach the encoder to read *any* place where an
# attempt ended, so a sample of z from the prior stands for such a place, and most attempts end near the start.
# **Hindsight task relabelling** (HTR, Packer et al. 2021; the PEARL issue's `relabel_prob` draws its tasks blindly)
# gives a hindsight slot a *training task's* goal that its own context reached, so z only ever stands for goals
# of the task distribution. `PeachConfig.hindsight_goals` chooses, through the shared `her.hindsight_goal`:
#
# * `"achieved"`: where one of the context's attempts ended (HER; the collection route above);
# * `"task"`: a training goal one of them reached; a slot whose attempts reached none keeps its own goal;
# * `"task_or_achieved"`: that training goal when there is one, else where an attempt ended.

# %%
from peach_lite.her import hindsight_goal

show_source(hindsight_goal)

# %%
routes = [("HER goals", "peach_hindsight_collection"), ("HTR goals", "peach_hindsight_collection_task_goals"),
          ("HTR, else HER", "peach_hindsight_collection_task_or_achieved")]
print(f"{'hindsight goals':16s} {'final':>5s} {'prior ep':>8s} {'SNR':>5s} {'paid':>5s}   prior visits, rooms 1/2/3   final per seed")
for label, key in routes:
    visits = np.mean([r["prior_site_visits"] for r in runs[key]], axis=0)
    print(f"{label:16s} {found[key + '_success']:5.2f} {found[key + '_first_episode_success']:8.2f} {found[key + '_signal_to_noise']:5.1f} "
          f"{found[key + '_paid_context_success']:5.2f}   {np.round(visits, 2)}        {[round(r['final_success'], 2) for r in runs[key]]}")
htr_runs, both_runs = runs[routes[1][1]], runs[routes[2][1]]
assert all(r["success_per_episode"][-1] == r["success_per_episode"][0] for r in htr_runs)  # HTR alone: flat over episodes
assert all(max(r["prior_site_visits"]) >= 0.8 for r in htr_runs)  # every prior sample goes to one site
assert all(a["paid_context_signal_to_noise"] < min(b["paid_context_signal_to_noise"], c["paid_context_signal_to_noise"])
           for a, b, c in zip(htr_runs, both_runs, runs[routes[0][1]]))  # HTR alone: z collapses, on every seed
assert found[routes[2][1] + "_success"] >= 2.5 * found[routes[0][1] + "_success"]  # HTR, else HER: about 3x the HER route
assert found[routes[2][1] + "_success"] > found[routes[2][1] + "_first_episode_success"]  # rising over the meta-test
assert found[routes[2][1] + "_far_site_visits"] == 0.0  # the text below: the far site, never on the prior
assert any(a["curve_success"] == b["curve_success"] and a["paid_context_signal_to_noise"] == b["paid_context_signal_to_noise"]
           for a, b in zip(both_runs, runs[routes[0][1]]))  # and one seed where HTR never fired: the HER route's run

# %% [markdown]
# Read it per row, and per seed:
#
# * **HTR goals alone** make z stand for sites, but paid contexts come only once a collection has reached a training
#   goal, which is rare early. The critic's pull on the posterior stays weak, z collapses (signal-to-noise below
#   that of every other route, on every seed), and the top level learns the best it can without z: *commit to one
#   site*. Every prior sample goes there, and success is the same in every meta-test episode. That is HAC without z,
#   reached through PEACH.
# * **HTR, else HER** keeps both teachers. HER's goals keep the encoder reading from the first round; HTR's goals,
#   once sites are reached, tie z to the sites. Prior samples now pass *two* of the three sites, and success rises
#   over the meta-test episodes: PEACH's best result so far, about three times the HER-only route.
# * It is still far from 0.8. The far site (room 2) is never visited on the prior. On one seed no collection in 600
#   rounds ever reached a training goal, so HTR never fired and the run is the HER-only route's, bit for bit. Both
#   are exploration failures: the first at meta-test time, the second already while training.

# %% [markdown]
# The route's agent is in `data/checkpoints/peach_maze_htr.pt` (seed 2, `python -m peach_lite train peach --preset
# maze-htr --seed 2`; its meta-test success, 0.58, is the benchmark's seed-2 run). Below, its meta-test: the
# success per episode, where the first prior samples of z go, and the six episodes of a task it first misses and then solves.

# %%
htr_agent, _ = load_agent(checkpoints_dir() / "peach_maze_htr.pt", algorithm="peach")
htr_result, htr_traces = recorded_meta_test(htr_agent)
per_episode_htr = htr_result.success.mean(axis=0)
print("HTR-else-HER agent, success per meta-test episode (12 held-out tasks):", np.round(per_episode_htr, 2))
late = [i for i in range(len(test_tasks)) if not htr_result.success[i, 0] and htr_result.success[i].any()]
print("tasks missed on the prior and solved later:", late)
assert per_episode_htr.max() <= values.oracle_success + 1e-9
assert per_episode_htr[-1] > per_episode_htr[0]  # inference: later episodes do better than the prior one

# %%
task_index = late[0] if late else int(np.flatnonzero(htr_result.success.any(axis=1))[0])
draw_meta_test(task_index, agent=htr_agent, result=htr_result, traces=htr_traces)
first_htr = int(np.argmax(htr_result.success[task_index]))
print(f"task {task_index}: missed on the prior, first success in episode {first_htr + 1}, "
      f"success in episodes {np.flatnonzero(htr_result.success[task_index]) + 1}")
assert late and not htr_result.success[task_index, 0] and htr_result.success[task_index, first_htr:].all()  # then it stays

# %% [markdown]
# This is the meta-test the poster drew. On the prior the top level tries one site and misses; the attempt goes into
# the context, the posterior moves, and its samples send the agent to another site, where the goal is; every later
# episode returns there. Across the held-out tasks success climbs from the prior episode to the later ones, and it
# stops short of the oracle where no prior sample ever goes: the far room. Training one seed twice as long (1,200
# rounds) did not raise its success (the command and numbers are in issue 12's notes).

# %% [markdown]
# ### Explore it yourself
#
# Pick a held-out task and scrub through the HTR-else-HER agent's meta-test episodes: the path, the subgoals, and
# where samples of that episode's belief point. Find a task it misses on the prior and watch the belief move.

# %% tags=["nbval-ignore-output"]
task_pick = widgets.Dropdown(options=[(f"task {i} (site {env.unwrapped.site_of(t)})", i) for i, t in enumerate(test_tasks)], value=0,
                             description="task")
episode_pick = widgets.IntSlider(value=1, min=1, max=htr_result.success.shape[1], description="episode")


def show_meta_test(task_index, k):
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    draw_episode(ax, task_index, k, agent=htr_agent, result=htr_result, traces=htr_traces)
    var = float(htr_result.z_var[task_index, k - 1].mean())
    ax.set_xlabel(f"belief variance {var:.3f} (prior 1)")
    plt.show()


display(widgets.HBox([task_pick, episode_pick]), widgets.interactive_output(show_meta_test, {"task_index": task_pick, "k": episode_pick}))

# %% [markdown]
# ### Where 0.58 stops: the paid-context probe, site by site
#
# Is the far room missed because the *meta-test* never explores it, or because the agent cannot go there at all?
# The paid-context probe answers it per site: hand the agent a context that already holds a paid attempt at the
# task's goal and count its successes separately for the tasks of each site.

# %%
per_site = paid_context_probe(htr_agent, eval_envs, test_tasks, num_samples=1)
print("HTR-else-HER agent, paid context: success", round(per_site["success"], 2), "per site (rooms",
      eval_envs.unwrapped.sites, "):", np.round(per_site["success_per_site"], 2))
print(f"its meta-test, final episode: {htr_result.success[:, -1].mean():.2f}")
assert per_site["success_per_site"][1] == 0.0  # the far room (2): not even with its goal in the context
assert htr_result.success[:, -1].mean() <= per_site["success"] + 1e-9  # the meta-test reaches this ceiling, no higher
assert min(r["final_success"] for r in runs["oracle_z_hindsight_collection"]) == 1.0  # the text below: the oracle, every room

# %% [markdown]
# Given the goal in its context, the agent reaches the sites of rooms 1 and 3 and never room 2. Its final meta-test
# episode does as well as this probe and no better: on this seed the meta-test's exploration is not what is missing.
# The top level never learned to send the agent to the far room, because no training collection got there, so no
# context ever held a paid attempt there and z has no value that means "room 2". The oracle top level, whose z is
# the goal's own coordinates, reaches all three rooms with the same lower levels: its code extends to places it has
# not been paid for, a learned z does not. That is the next wall, and it is exploration while training.

# %% [markdown]
# ### More collection episodes: the hard seed reaches the same wall
#
# Seed 1 of the HTR-else-HER route never reached a training goal while collecting, and scored 0. With **six**
# collection episodes per task instead of three (as many as the meta-test has; `episodes_per_task=6`, twice the env
# steps, about 15 CPU-minutes), the posterior has more attempts to move on within a collection, and later episodes
# try other places. Its agent is in `data/checkpoints/peach_maze_six.pt` (`python -m peach_lite train peach --preset
# maze-htr --set episodes_per_task=6 --seed 1`). The same meta-test and the same probe, site by site:

# %%
six_agent, _ = load_agent(checkpoints_dir() / "peach_maze_six.pt", algorithm="peach")
six_result, _ = recorded_meta_test(six_agent)
six_sites = paid_context_probe(six_agent, eval_envs, test_tasks, num_samples=1)
three_episodes_seed1 = runs["peach_hindsight_collection_task_or_achieved"][1]["final_success"]
print("six-episode agent (seed 1), success per meta-test episode:", np.round(six_result.success.mean(axis=0), 2),
      f"(three episodes, same seed: {three_episodes_seed1:.2f} in the final one)")
print("paid context, success per site (rooms", eval_envs.unwrapped.sites, "):", np.round(six_sites["success_per_site"], 2))
assert six_result.success[:, -1].mean() > three_episodes_seed1  # the seed that never found a site now does
assert six_result.success.mean(axis=0).max() <= values.oracle_success + 1e-9
assert sorted(np.round(six_sites["success_per_site"], 2))[0] == 0.0  # but one site stays out of reach
assert six_result.success[:, -1].mean() <= six_sites["success"] + 1e-9  # and the meta-test stops at that ceiling

# %% [markdown]
# Six episodes lift the seed that found nothing to the same ceiling as the agent above: rooms 1 and 3 known, the far
# room never. (On seed 0 its prior samples pass rooms 1 and 2 and never room 3.) It does not rescue every seed (a
# fourth seed's collections never reached a site, with six episodes either), and no agent so far knows more than two
# of the three sites. Two more routes, each run on its own (commands and numbers in issue 12's notes), did not move
# this wall: half of the collection's subgoals random (undirected noise dilutes the top level's data), and a reward
# decoder that reads z as a place (`peach_lite.nets.DistanceDecoder`, `PeachConfig.reward_decoder_form="distance"`),
# which sharpens inference, the half that already works. What is left is *directed* exploration while training:
# something that sends collections to the site no attempt has been paid at yet.

# %% [markdown]
# ### Directed exploration: a count bonus and frontier subgoals
#
# The classic remedy for "no collection ever got there" is a **count bonus** (MBIE-EB, Strehl & Littman 2008;
# #Exploration, Tang et al. 2017): pay the learner a little for reaching places it has rarely reached, $\beta/\sqrt{N}$,
# so unvisited places look better than they are until they are visited. PEACH counts where each training attempt of
# its top level ended, on a grid over the subgoal box (`peach_lite.exploration.CellCounts`, a shared part), and in each
# gradient step adds $\beta/\sqrt{N(\text{cell of } s')}$ to the reward of every unpaid row of the critic's batch
# (`PeachConfig.novelty_bonus` is $\beta$). Not in Algorithm 1; three choices keep it honest:
#
# * the **context keeps the task's own reward**: the bonus is the same for every task, and the encoder must infer
#   the task, not the novelty;
# * $\beta < 1$ keeps every unpaid reward below 0, inside the bounded critic's range $[-H, 0]$; paid rows and
#   subgoal-test penalties get nothing;
# * meta-testing counts nothing: only training collections explore.
#
# The same counts serve a second form, **frontier subgoals** (`PeachConfig.frontier_radius`): the exploring top
# level's random subgoals, which HAC draws anywhere in the box (mostly behind walls), aim instead at the least-visited
# cell that attempts have already reached near the agent (`CellCounts.frontier_goal`), so collections push the edge of
# the known map outward.

# %%
from peach_lite.exploration import CellCounts

show_source(PEACH.novelty_bonus)

# %%
show_source(CellCounts)

# %% [markdown]
# A few collection rounds of a small agent with $\beta = 0.5$, live: where its attempts ended (left) and the bonus
# an attempt ending in each cell would earn now (right). The agent also logs where its top level **proposed**
# subgoals and which of those the lower levels missed (`PEACH.proposal_log`, counted per cell by `proposal_grid`),
# which separates the two levels: a room the top level proposes but no attempt reaches is a wall of the lower levels'
# control; a room it never proposes is the top level's exploration. (The replay's stored subgoals, `subgoal_counts`, cannot tell: HAC stores a
# missed proposal as where its attempt ended, the hindsight action.)

# %%
from peach_lite.peach_diagnostics import proposal_grid, train_attempt_room_shares

def small_agent_after_a_few_rounds(**overrides) -> PEACH:
    """A small PEACH (``small`` plus ``overrides``) after a few collection rounds on the train tasks."""
    agent = PEACH.from_env(demo_envs, len(train_tasks), PeachConfig(**{**small, **overrides}))
    runner = Runner(demo_envs, train_tasks, seed=0)
    for round_index in range(budget.pick(full=8, fast=2)):
        agent.collect_round(runner, round_index)
    return agent


explorer = small_agent_after_a_few_rounds(novelty_bonus=0.5)
grid = explorer.attempt_counts
bonus_now = grid.bonus(grid.centres(), explorer.config.novelty_bonus)
env.reset(seed=0, options={"task": test_tasks[0]})
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, cell_values, title in [(axes[0], grid.counts, "training attempts ended here (N)"), (axes[1], bonus_now, "bonus β/√N now")]:
    ax.imshow(env.render(), extent=(-VIEW, VIEW, -VIEW, VIEW), alpha=0.5)
    shown = ax.imshow(cell_values.T, origin="lower", extent=(grid.low[0], grid.high[0], grid.low[1], grid.high[1]),
                      alpha=0.6, cmap="viridis")
    fig.colorbar(shown, ax=ax, fraction=0.046)
    ax.set_xticks([]), ax.set_yticks([]), ax.set_title(title, fontsize=9)
plt.show()
shares = train_attempt_room_shares(explorer)
print("rooms 0-3, share of proposals:", np.round(shares["proposals"], 2), " share of attempt ends:", np.round(shares["ends"], 2),
      f" proposals missed: {proposal_grid(explorer, missed_only=True).counts.sum() / proposal_grid(explorer).counts.sum():.2f}")
assert grid.counts.sum() == explorer.subgoal_counts.counts.sum() == proposal_grid(explorer).counts.sum() > 0  # one each per attempt
assert np.all(proposal_grid(explorer, missed_only=True).counts <= proposal_grid(explorer).counts)
assert np.allclose(bonus_now[grid.counts == 0], 0.5) and np.all(bonus_now[grid.counts > 0] < 0.5)  # fading with N
assert np.isclose(shares["ends"].sum(), 1.0) and shares["ends"][0] == shares["ends"].max()  # mostly still the start room

# %% [markdown]
# `benchmarks/peach_exploration.py` trains the HTR-else-HER route four ways on the same seeds and rounds: as it is,
# with the bonus on 1 x 1 cells ($\beta = 0.5$), with the bonus counted per room ($\beta = 0.9$, `novelty_cells=2`:
# a room no attempt has ended in pays 0.9 until one does), and with **frontier subgoals** instead of a bonus: half of
# the exploring top level's subgoals go to the least-visited cell that training attempts have reached within 2 of the
# agent (`PeachConfig.frontier_radius`, `CellCounts.frontier_goal`; MEGA-style, Pitis et al. 2020), where HAC would
# draw them anywhere in the box. Beside them, the top level handed the goal (oracle z) on the collection route. For each run it reads, room by room, where the training collections' stored subgoals were and where
# their attempts ended. A stored subgoal is HAC's hindsight action: the proposal where the lower levels reached it,
# else where the attempt ended, so a proposal they missed counts where its attempt ended (these runs did not record
# the missed proposals; `PEACH.proposal_log` holds them now, for the benchmark's next run).
# Every number is from `data/results/peach_exploration.json`.

# %%
def success_with_ci(h: dict, key: str) -> str:
    """``key``'s final success in headline ``h``: the mean, then the IQM and its 95% bootstrap CI."""
    return f"{h[key + '_success']:5.2f}  {h[key + '_success_iqm']:.2f} [{h[key + '_success_ci_low']:.2f}, {h[key + '_success_ci_high']:.2f}]"


explore_study = read_results("peach_exploration")
got = explore_study["headline"]
explore_runs = explore_study["details"]["runs"]
arms = [("HTR, else HER", "htr"), ("+ bonus, 1 x 1 cells", "novelty"), ("+ bonus, per room", "room_novelty"),
        ("+ frontier subgoals", "frontier"), ("oracle z (goal given)", "oracle_top")]
print(f"{'route':22s} {'final':>5s}  {'IQM [95% CI]':17s} {'far subgoals':>12s} {'far ends':>8s} {'far, paid ctx':>13s}   per seed "
      f"(seeds {explore_study['seeds']}, {got['route_rounds']:.0f} rounds)")


for label, key in arms:
    paid = got.get(f"{key}_far_site_paid_context_success", float("nan"))
    print(f"{label:22s} {success_with_ci(got, key)}  {got[key + '_train_far_subgoal_share']:12.4f} {got[key + '_train_far_room_share']:8.4f} "
          f"{paid:13.2f}   {[round(r['final_success'], 2) for r in explore_runs[key]]}")
display(show_figure("peach_exploration"))

# %%
print("rooms 0-3 per run: share of the stored training subgoals -> share of the attempt ends")
for label, key in arms:
    for seed, run in zip(explore_study["seeds"], explore_runs[key]):
        print(f"{label:22s} seed {seed}: {np.round(run['train_subgoal_room_shares'], 3)} -> {np.round(run['train_attempt_room_shares'], 3)}")
posterior_arms = [key for _, key in arms[:4]]
far_stored = {key: [run["train_subgoal_room_shares"][2] for run in explore_runs[key]] for key in posterior_arms}
far_ends = {key: [run["train_attempt_room_shares"][2] for run in explore_runs[key]] for key in posterior_arms}
assert all(got[key + "_success"] <= got["oracle_success"] + 1e-9 for _, key in arms)  # nobody beats the oracle
assert max(far_stored["htr"] + far_stored["novelty"] + far_ends["htr"] + far_ends["novelty"]) < 0.01  # the far room: hardly reached
assert max(far_stored["room_novelty"]) > max(far_stored["htr"] + far_stored["novelty"])  # the room bonus: more, on one seed
assert got["oracle_top_train_far_subgoal_share"] > 5 * max(got[key + "_train_far_subgoal_share"] for key in posterior_arms)
seed_one = explore_study["seeds"].index(1)
stuck = [explore_runs[key][seed_one] for key in posterior_arms[:3]]  # seed 1: aiming out of the start room, never getting out
assert all(run["train_attempt_room_shares"][0] > 0.99 and max(run["train_subgoal_room_shares"][1:]) > 0.01 for run in stuck)
assert explore_runs["frontier"][seed_one]["train_subgoal_room_shares"][0] > 0.99  # frontier: stored subgoals in the start room
assert explore_runs["oracle_top"][seed_one]["train_attempt_room_shares"][0] < 0.9  # the same seed, goal known: it gets out
knows_all = [(key, seed) for key in posterior_arms for seed, run in zip(explore_study["seeds"], explore_runs[key])
             if min(run["paid_context_success_per_site"]) > 0]
assert knows_all == [("frontier", 2)]  # the text below
assert all(f["final_success"] < h["final_success"] for f, h in zip(explore_runs["frontier"], explore_runs["htr"]) if h["final_success"] > 0)

# %% [markdown]
# Read it from where the attempts went:
#
# * **The far room is hardly ever reached.** Without a bonus, and with the bonus on 1 x 1 cells, under 1% of the
#   training attempts end in the far room on every seed, and under 1% of the stored subgoals are there, so almost no
#   row ever earns the bonus there: a count bonus rewards places *reached*. Whether the top level aimed at the far room
#   and the lower levels missed, these runs cannot say (a missed proposal is stored where its attempt ended). Success
#   does not rise; the 1 x 1 bonus lowers it on seed 0 by pulling the collections into room 1.
# * **Counted per room**, an unreached room pays 0.9 until an attempt ends there. On one seed of three this multiplies
#   the far room's share of stored subgoals, and that agent goes to the far site when handed its goal (the paid-context probe
#   by site in the results file). It never learns room 3's site instead, and its meta-test success is the HTR route's
#   on that seed: still two of the three sites.
# * **Frontier subgoals** aim the proposals themselves. They raise the far room's share of stored subgoals a little on seeds
#   0 and 2, and seed 2's agent is the only one of the study that goes to all three sites when handed the goal
#   (though not every time). Yet success falls on every seed that found a site: half of the exploring subgoals now go
#   to the edge of the map instead of following z, and the top level's task-directed data thins, as with random
#   subgoals before. On seed 1 they keep over 99% of the stored subgoals in the start room: the frontier never passes a
#   doorway that no attempt has crossed.
# * **Seed 1 is a different wall.** A few percent of its stored subgoals lie outside the start room while over 99% of
#   its attempts end inside it, so those are proposals (a missed one would be stored inside): its top level aims out
#   of the start room, and the lower levels never get out; they never learned to cross a doorway. No reward of the top level can
#   move that, and frontier subgoals only aim where attempts have already been. On the same seed the oracle top level, which sends its subgoals to the goal's room task after task,
#   gets out, and so do its lower levels.
# * The **oracle top level** has several times more of its stored subgoals in the far room than any PEACH route, and
#   reaches every site. Knowing the task makes its proposals consistent; a top level reading a z that does not yet
#   mean "room 2" proposes where it has been paid.
#
# So neither form of directed exploration raises PEACH's success here. What they measure is where the collections stop:
# short of the far room on seeds 0 and 2 (whether for want of proposals or of control there, these runs did not
# record), and at a doorway the lower levels cannot cross on seed 1. The oracle shows what is missing: proposals that go to every room *consistently*, task after task. A top
# level gets that from a z that already means "room 2", and z only comes to mean it once collections have been paid
# there. Breaking that circle needs exploration that is itself consistent, e.g. whole collection episodes spent on
# one unvisited room, rather than noise added to the task's own episodes. The next section builds exactly that.

# %% [markdown]
# ### First return, then explore
#
# Go-Explore (Ecoffet et al. 2021, "First return, then explore") breaks such circles by making exploration itself
# consistent: remember the places reached, **return** to a rarely visited one along the way you got there, and
# only then **explore**. `peach_lite.exploration.FirstReturnThenExplore` does this over the cells of the same
# `CellCounts` grid. Every training attempt of the top level adds a directed move, from the cell where it started to
# the cell where it ended. In a share of the training collection episodes (`PeachConfig.return_explore_rate`, drawn
# per env), the top level's subgoals are not its own: it draws a target among the visited cells reachable from the
# start, with probability ∝ $1/\sqrt{N}$ (the frontier), walks the shortest path of recorded moves to it one
# waypoint (a cell centre) per attempt, and from there proposes uniformly random subgoals. What stays Algorithm 1:
# z is drawn and fed to the top level as always, every attempt goes to the task's RL, collection and context
# buffers with the task's own reward, and the top level learns from these rows off-policy (its critic is DDPG's).
# Meta-testing never plans.

# %%
from peach_lite.exploration import FirstReturnThenExplore

show_source(FirstReturnThenExplore)

# %% [markdown]
# A small agent whose every collection returns then explores, live: the moves its attempts recorded (grey arrows,
# from cell to cell), and the route it would walk now from the start to the farthest cell it has reached (orange;
# a real target is drawn ∝ $1/\sqrt{N}$ among all of them).

# %%
returner = small_agent_after_a_few_rounds(return_explore_rate=1.0)
planner = returner.explorer
centres = returner.attempt_counts.centres().reshape(-1, 2)
start_obs, _ = env.reset(seed=0, options={"task": test_tasks[0]})
start_cell = int(planner.cell(start_obs["achieved_goal"]))
reachable = [cell for cell in range(len(centres)) if returner.attempt_counts.counts.reshape(-1)[cell] > 0
             and cell != start_cell and planner.route(start_cell, cell) is not None]
assert reachable  # a few rounds already lead out of the start cell
target = max(reachable, key=lambda cell: len(planner.route(start_cell, cell)))  # the farthest reachable cell, to show
route = planner.route(start_cell, target)
fig, ax = plt.subplots(figsize=(4.2, 4.2))
ax.imshow(env.render(), extent=(-VIEW, VIEW, -VIEW, VIEW))
for a, b in np.argwhere(planner.moves):
    if a != b:
        ax.annotate("", centres[b], centres[a], arrowprops=dict(arrowstyle="->", color="0.4", alpha=0.5, lw=0.8))
ax.plot(*centres[route].T, "o-", color="tab:orange", lw=2.5, label=f"route to a visited cell ({len(route) - 1} attempts)")
ax.legend(fontsize=8, loc="lower left"), ax.set_xticks([]), ax.set_yticks([])
plt.show()
print(f"{int(planner.moves.sum())} recorded moves over {int((returner.attempt_counts.counts > 0).sum())} visited cells")
assert all(planner.moves[a, b] for a, b in zip(route[:-1], route[1:]))  # the route walks recorded moves only
assert route[0] == start_cell and route[-1] == target

# %% [markdown]
# `benchmarks/peach_return_explore.py` trains the HTR-else-HER route with half of its training collections returning
# then exploring (`return_explore_rate` 0.5), with a quarter of them (0.25), and with half plus prior slots
# (`prior_slot_prob` 0.5), on the same seeds and rounds as the study above, and compares them with that study's `htr`
# runs (the same config but these fields). Every number is from `data/results/peach_return_explore.json` (its fourth
# arm, unpaid slots, comes in the next section).

# %%
returns = read_results("peach_return_explore")
r = returns["headline"]
return_runs = returns["details"]["runs"]
print(f"{'route':30s} {'final':>5s}  {'IQM [95% CI]':17s} {'far ends':>8s} {'far, paid ctx':>13s} {'1st episode':>11s}   per seed "
      f"(seeds {returns['seeds']}, {r['route_rounds']:.0f} rounds)")
return_arms = [("HTR, else HER", "htr"), ("+ return, then explore", "return_explore"), ("+ the same, 1/4 of episodes", "return_explore_quarter"),
               ("+ the same, 1/2, prior slots", "return_explore_prior_slots")]
for label, key in return_arms:
    print(f"{label:30s} {success_with_ci(r, key)}  {r[key + '_train_far_room_share']:8.4f} {r[key + '_far_site_paid_context_success']:13.2f} "
          f"{r[key + '_first_episode_success']:11.2f}   {[round(run['final_success'], 2) for run in return_runs[key]]}")
display(show_figure("peach_return_explore"))

# %%
print("per seed: paid-context success per site | success per meta-test episode | meta-test success over training")
for _, key in return_arms:
    for seed, run in zip(returns["seeds"], return_runs[key]):
        print(f"{key:26s} seed {seed}: {np.round(run['paid_context_success_per_site'], 2)} | "
              f"{np.round(run['success_per_episode'], 2)} | {np.round(run['curve_success'], 2)}")
explored, base = return_runs["return_explore"], return_runs["htr"]
assert all(e["train_attempt_room_shares"][2] >= 10 * max(b["train_attempt_room_shares"][2], 0.005) for e, b in zip(explored, base))
assert r["return_explore_far_site_paid_context_success"] > r["htr_far_site_paid_context_success"] == 0.0  # the far site, learned
hard = returns["seeds"].index(1)
assert base[hard]["final_success"] == 0.0 < explored[hard]["final_success"] and min(explored[hard]["paid_context_success_per_site"]) >= 0.5
others = [i for i in range(len(returns["seeds"])) if i != hard]
assert all(explored[i]["final_success"] < base[i]["final_success"] for i in others)  # the seeds that found sites before: lower
assert all(max(explored[i]["curve_success"]) > explored[i]["curve_success"][-1] for i in others)  # they peaked, then decayed
assert r["return_explore_first_episode_success"] == 0.0 < r["htr_first_episode_success"]  # the prior episode finds nothing
assert abs(r["return_explore_gain"]) < 0.05  # the text below: on average, no gain at the end
early = {key: np.mean([run["curve_success"][1] for run in return_runs[key]]) for key in ("htr", "return_explore")}
print(f"mean meta-test success at round 200: HTR {early['htr']:.2f}, first return then explore {early['return_explore']:.2f}")
assert early["return_explore"] > 0.4 and early["return_explore"] > 5 * early["htr"]  # but it learns far sooner
quarter = "return_explore_quarter"
assert r[quarter + "_success"] == max(r[key + "_success"] for _, key in return_arms) and r[quarter + "_gain"] >= 0.1
assert r[quarter + "_paid_context_success"] > 0.9 and r[quarter + "_far_site_paid_context_success"] > 0.9  # inference: solved
assert r[quarter + "_success"] < 0.6 and r[quarter + "_first_episode_success"] > r["htr_first_episode_success"]
assert r["return_explore_prior_slots_gain"] < 0.05  # prior slots on top of rate 0.5: no gain

# %% [markdown]
# Consistent exploration changes what the agent *knows* more than what it *does*. With half of the collections planned:
#
# * **Coverage is fixed.** The far room's share of training attempt ends rises about seventy-fold, on every seed, to
#   more than the oracle top level's on average (the study above). The far site's paid-context success rises from 0: the agents
#   now go there when their context says so. On the hard seed (1), whose collections never left the start room, the
#   agent learns all three sites and its success goes from 0 to 0.67.
# * **It learns far sooner, then decays.** At round 200 its mean meta-test success is 0.50 where the HTR route's is
#   0.03 (the figure's left panel), and its collections are paid from the first rounds (right panel). But on the two
#   seeds that found two sites without it, success then falls, and at round 600 it is lower than theirs: half of the
#   collections follow plans, not z, so the top level's own task-directed data thins, as with frontier subgoals.
#   On average the final success is the HTR route's.
# * **The first meta-test episode suffers most.** On prior z it reaches no site on any seed, where the HTR route's
#   reached one in six.
# * **A quarter of the collections is the better dose.** Planning only a quarter of them keeps most of the coverage
#   (the far room's share is still about forty times the HTR route's) and most of the task-directed data. It is the
#   best route of the course so far: final success 0.47 (0.75 on seed 2), and given a context that holds a paid
#   attempt it goes to the goal 94% of the time, the far site included: **task inference is solved** on this route.
#   Adding prior slots to the half-planned route (so the top level learns the first episode from the complete data)
#   raises the first episode and not the final one.
#
# So the wall has moved. Training now explores consistently, and the posterior reads the goal once an attempt has
# been paid. What is left is the meta-test's *own* exploration: finding a paid attempt at all. Posterior sampling
# from the prior sends each episode to one place a sample of z points at; the best uninformed episode, touring two
# sites, would score 0.67 by itself. PEACH needs a prior episode that explores as systematically as its collections
# now do, and posterior sampling alone does not give one. The rest of this part measures why, and ends on a q(z | c)
# trained to search.

# %% [markdown]
# ### The wall now: the meta-test's own search
#
# Before its first paid attempt, a meta-test's context holds only failures, and failures carry information too: a
# site the agent reached without being paid is not the goal. Posterior sampling that *eliminates* (exact Bayes over
# the three sites) never returns to a site it has tried, so after one failed site it succeeds half the time and
# after two it always does. `failed_context_probe` asks the agent directly: hand it a context of unpaid attempts that
# ended at one other site, or at both, and watch where the episodes on z ~ q(z | c) go.

# %%
from peach_lite.peach_diagnostics import failed_context_probe

show_source(failed_context_probe)

# %%
search = failed_context_probe(htr_agent, eval_envs, test_tasks, num_samples=budget.pick(full=8, fast=4))
print(f"{'context':22s} {'revisits a failed site':>22s} {'on the prior':>12s} {'success':>7s} {'Bayes, eliminating':>18s}")
print(f"{'(none: the prior)':22s} {'':>22s} {'':>12s} {search['prior_success']:7.2f} {1 / 3:18.2f}")
for n, revisit, prior, success, bayes in zip(search["failed_sites"], search["revisit"], search["prior_visit"], search["success"],
                                             search["elimination_reference"]):
    print(f"{f'failed at {n} site(s)':22s} {revisit:22.2f} {prior:12.2f} {success:7.2f} {bayes:18.2f}")
assert search["revisit"][0] < 0.2 * search["prior_visit"][0]  # one failed site: eliminated
assert search["revisit"][1] > 0.5 * search["prior_visit"][1] and search["success"][1] < 0.5 * search["elimination_reference"][1]  # two: not
assert max(search["success"]) <= values.oracle_success

# %% [markdown]
# One failed site is eliminated: the agent almost never goes back to it. Two are not: after failing at both other
# sites it returns to one of them about as often as on the prior, where exact elimination would leave only the goal.
# The real meta-test shows the same thing. Below, the sites each of the agent's six episodes passes, task by task
# (`-`: no site centre, e.g. a paid attempt at a jittered goal; `*`: paid):

# %%
searched = htr_result  # the HTR agent's meta-test above, whose paths were recorded
centres, reach = np.asarray(eval_envs.unwrapped.site_centers), eval_envs.unwrapped.goal_threshold


def sites_passed(path):
    """The sites a recorded path (T + 1, obs_dim) passes, as a string ('-' for none)."""
    near = np.linalg.norm(path[:, None, :2] - centres[None], axis=-1) <= reach
    return "".join(str(k) for k in np.flatnonzero(np.nan_to_num(near, nan=False).any(axis=0))) or "-"


visited = [[sites_passed(path) for path in searched.paths[i]] for i in range(len(test_tasks))]
for i, task in enumerate(test_tasks):
    print(f"task {i:2d}, goal at site {eval_envs.unwrapped.site_of(task)}: "
          + "  ".join(f"{v}{'*' if paid else ' '}" for v, paid in zip(visited[i], searched.success[i])))
far_tasks = [i for i, task in enumerate(test_tasks) if eval_envs.unwrapped.site_of(task) == 1]
assert not searched.success[far_tasks].any() and all("1" not in "".join(visited[i]) for i in far_tasks)
assert all({"0", "2"} <= set(visited[i]) for i in far_tasks)  # it tried both other sites, and kept going back

# %% [markdown]
# Every task whose goal is the far site (site 1) swings between sites 0 and 2 for all six episodes: after failing at
# 2 the posterior eliminates 2 and sends the agent to 0; after failing at 0 as well it forgets 2 and goes back. (This
# agent also never learned the far site itself; the first-return route's agents know it given a paid context, table
# above, and the question for them is whether their search ever gets there.)
# A natural suspicion: the encoder is rarely asked what failures rule out. In training, a task's context holds its
# latest collection, and once the agent is any good most collections contain a paid attempt, which says everything;
# a context of nothing but failures, the meta-test's situation before its first success, may be too rare for the
# critic's gradient to shape.
#
# **Unpaid slots** (`PeachConfig.unpaid_context_prob`, not in the poster or PEARL) test that suspicion by training the
# situation on purpose:
# with this probability a meta-batch slot that keeps its own task's goal reads z from only the *unpaid* attempts of
# its context (`posterior.unpaid_only`). The critic must then predict the task's values from failures alone, so its
# gradient teaches the encoder elimination, and the actor (z detached, as always) learns what to do given it.

# %%
from peach_lite.posterior import unpaid_only

show_source(unpaid_only)

# %% [markdown]
# `benchmarks/peach_return_explore.py` trains the quarter route with unpaid slots (`unpaid_context_prob` 0.5) on the
# same seeds and rounds, and runs the failed-context probe on each of its agents:

# %%
returns = read_results("peach_return_explore")
r, return_runs, unpaid = returns["headline"], returns["details"]["runs"], "return_explore_quarter_unpaid"
print(f"{'route':28s} {'final':>5s}  {'IQM [95% CI]':17s} {'paid ctx':>8s} {'1st episode':>11s}   per seed (seeds {returns['seeds']})")
for label, key in [("first return, 1/4 (above)", quarter), ("+ unpaid slots", unpaid)]:
    print(f"{label:28s} {success_with_ci(r, key)}  {r[key + '_paid_context_success']:8.2f} {r[key + '_first_episode_success']:11.2f}   "
          f"{[round(run['final_success'], 2) for run in return_runs[key]]}")
print("failed-context probe, success after 1 / 2 failed sites (Bayes, eliminating: 0.50 / 1.00), and after 2 the share of "
      "episodes that pass a failed site again (on the prior):")
for label, key in [("first return, 1/4", quarter), ("+ unpaid slots", unpaid)]:
    prior = np.mean([run["failed_context_prior_success"] for run in return_runs[key]])
    print(f"  {label:18s} {r[key + '_one_failure_success']:.2f} / {r[key + '_two_failures_success']:.2f} (prior episode {prior:.2f}); "
          f"revisits {r[key + '_two_failures_revisit']:.2f} ({r[key + '_two_failures_prior_visit']:.2f})   per seed "
          f"{[np.round(run['failed_context_success'], 2).tolist() for run in return_runs[key]]}")
assert abs(r["unpaid_gain"]) < 0.05  # no gain on average
prior_success = np.mean([run["failed_context_prior_success"] for run in return_runs[unpaid]])
assert max(r[unpaid + "_one_failure_success"], r[unpaid + "_two_failures_success"]) < min(prior_success, *search["success"])  # below the prior, below the HTR agent
assert r[quarter + "_one_failure_success"] > 0.75 * 0.5 and 0.4 < r[quarter + "_two_failures_success"] < 0.6  # near Bayes after one, half of it after two
assert r[quarter + "_two_failures_revisit"] < 0.75 * r[quarter + "_two_failures_prior_visit"]
assert all(r[unpaid + f"_{n}_success"] < 0.5 * r[quarter + f"_{n}_success"] for n in ("one_failure", "two_failures"))  # unpaid slots: worse
avoiders = [run for run in return_runs[unpaid] if max(run["failed_context_revisit"]) < 0.1]
assert len(avoiders) == 1 and max(avoiders[0]["failed_context_success"]) < 0.25  # one seed avoids the failed sites, and still misses
assert all(run["failed_context_revisit"][k] >= 0.75 * run["failed_context_prior_visit"][k] for run in return_runs[unpaid] if run not in avoiders for k in (0, 1))
assert r[unpaid + "_paid_context_success"] < r[quarter + "_paid_context_success"] - 0.1  # and the paid context is read less well
assert r[unpaid + "_success"] <= values.oracle_success

# %% [markdown]
# The quarter route's own agents eliminate partly: after one failed site they reach the goal nearly as often as exact
# elimination would, after two about half as often (and they return to a failed site less than on the prior). Unpaid
# slots do not teach the rest; they undo it. The final success is the quarter route's within noise (one seed up, one
# down), and the probe is *worse*, worse even than the HTR agent's above: after failures at one or both other sites
# these agents reach the goal less often than on the prior. On one seed they do avoid the failed sites, and still rarely reach the
# goal; on the others they return to them about as often as on the prior, or more. And a context that holds a paid
# attempt is read less well. One reading, not yet measured: the critic's targets under a context of failures average
# over the tasks those failures leave open, so its gradient asks z to say "not here" but never rewards it for
# pointing at the site that is left.

# %% [markdown]
# ### Why the second failure is forgotten: a product of Gaussians averages
#
# PEARL's posterior multiplies one Gaussian factor per context row, with no prior factor. So the belief after failures
# at two sites *is* the product of the two one-failure beliefs: per dimension of z, the precision-weighted average of
# their means, and narrower than either (`tests/test_posterior.py` checks the identity). One Gaussian cannot say
# "site b or site c", so a one-failure belief points at one other site, and that is enough after one failure. After two,
# the belief lands between two such points, wherever the encoder happened to put them, and nothing in its training asks
# that "between" be the site that is left. `failure_blend_probe` lays the beliefs out on the best route's agent (seed 0
# of `peach_return_explore`'s quarter route, `data/checkpoints/peach_maze_return_explore.pt`): the beliefs of a paid attempt at each site,
# of failures at each site, and of failures at each pair, with the sites the greedy episode on each two-failure mean
# passes (`-`: no site centre, e.g. a jittered goal reached on the way).

# %%
from peach_lite.peach_diagnostics import failure_blend_probe

show_source(failure_blend_probe)

# %%
best_agent, _ = load_agent(checkpoints_dir() / "peach_maze_return_explore.pt", algorithm="peach")
blend = failure_blend_probe(best_agent, eval_envs, test_tasks)
print(f"{'failed at':10s} {'site left':>9s} {'nearest paid belief':>20s} {'greedy episode passes':>22s} {'reaches the goal':>16s}")
for pair, left, nearest, passed, reached in zip(blend["pairs"], blend["remaining"], blend["nearest_paid"], blend["greedy_sites"],
                                                blend["greedy_reached"]):
    print(f"{str(pair):10s} {left[0]:9d} {nearest:20d} {str(passed or '-'):>22s} {str(reached):>16s}")
print(f"one failure: its belief is nearest another site's for {blend['one_failure_lands_elsewhere']:.0%} of the sites; "
      f"product identity error {blend['blend_error']:.1e}; posterior std / gap between paid beliefs {blend['std_over_gap']:.2f}")

means = blend["means"]
points = np.concatenate([means["paid"], means["one_failure"], means["two_failures"]])
centre = points.mean(axis=0)
axes_2d = np.linalg.svd(points - centre, full_matrices=False)[2][:2]  # the plane of the beliefs' two main directions
flat = lambda z: (z - centre) @ axes_2d.T
fig, ax = plt.subplots(figsize=(5.5, 4))
for site in range(len(means["paid"])):
    ax.scatter(*flat(means["paid"][site]), s=200, marker="*", color=f"C{site}", label=f"paid at site {site}")
    ax.scatter(*flat(means["one_failure"][site]), s=70, marker="x", color=f"C{site}", label=f"failed at site {site}")
for k, (a, b) in enumerate(blend["pairs"]):
    ends = np.stack([flat(means["one_failure"][a]), flat(means["one_failure"][b])])
    ax.plot(ends[:, 0], ends[:, 1], ":", color="gray")
    ax.scatter(*flat(means["two_failures"][k]), s=35, color="k")
    ax.annotate(f"failed at {a} and {b}", flat(means["two_failures"][k]), fontsize=7, xytext=(4, -10), textcoords="offset points")
ax.set(title="posterior means in z (the beliefs' main plane)", xticks=[], yticks=[])
ax.legend(fontsize=7, loc="best")
plt.show()

assert blend["blend_error"] < 1e-4  # the two-failure belief is the product of the one-failure beliefs
assert blend["one_failure_lands_elsewhere"] == 1.0  # one failure: the belief points at another site
assert blend["lands_on_remaining"] < 1.0 and blend["greedy_success"] < 1.0  # two: not always at the site left
assert blend["std_over_gap"] < 0.5  # and narrow: every sample of z reads as the same site, so sampling no longer searches

# %% [markdown]
# Paid beliefs (stars) sit far apart, one per site; the failure beliefs (crosses) point at other sites, and each
# two-failure belief (dot) sits between its two, in the plane of the figure as in every dimension. The far site's paid
# belief lies off that band altogether: after failing at the other two, the averaged belief cannot reach it, and the
# greedy episode goes back to a failed site. The belief is also narrow (the context has dozens of rows, and the
# product's variance shrinks with each), so a fresh sample of z each episode does not help: the meta-test repeats
# itself.

# %% [markdown]
# ### The belief is the wall: the same agent under an exact belief
#
# If the averaging is what stops the search, the agent's own levels and z codes should find every goal once something
# else keeps the belief. `exact_belief_meta_test` replaces q(z | c) with exact Bayes over the train goals: each
# hypothesis's code is the agent's own belief given a paid attempt at that goal, each episode draws a hypothesis, and a
# failed path rules out every goal it passed. It is a diagnostic, not PEACH (it is handed the train goals, which
# Algorithm 2 never reads), and it asks one question: with the belief fixed, is anything else missing?

# %%
from peach_lite.peach_beliefs import exact_belief_meta_test

show_source(exact_belief_meta_test)

# %%
exact = exact_belief_meta_test(best_agent, eval_envs, test_tasks)
own = meta_test_success(best_agent, eval_envs, test_tasks, seed=7)
print(f"{'meta-test episode':34s} " + " ".join(f"{k:5d}" for k in range(1, len(exact['success_per_episode']) + 1)))
for label, curve in [("own posterior (Algorithm 2)", own.success.mean(axis=0)), ("exact belief over the train goals", exact["success_per_episode"]),
                     ("posterior sampling, eliminating", values.ps_with_elimination)]:
    print(f"{label:34s} " + " ".join(f"{v:5.2f}" for v in curve))
assert exact["final_success"] == values.oracle_success > own.success[:, -1].mean()  # every task found, by the same levels
assert max(exact["success_per_episode"]) <= values.oracle_success

# %% [markdown]
# The same agent, levels and z codes unchanged, finds every held-out goal within four episodes once the belief
# eliminates; under its own posterior it stalls at two thirds. (Its episodes score above the reference's in the early
# episodes because a path to one site can pass the goal on the way.) On this agent at least, the top level, the lower
# levels and what z means are all good enough: the belief is the part that fails. `benchmarks/peach_exact_belief.py`
# measures the same on the three seeds of the quarter route (`peach_return_explore`'s `return_explore_quarter`), the
# same agents bit for bit:

# %%
exact_bench = read_results("peach_exact_belief")
e, exact_runs = exact_bench["headline"], exact_bench["details"]["runs"]["exact_belief"]
print(f"{'final meta-test success':34s} {'mean':>5s}  {'IQM [95% CI]':17s}  per seed (seeds {exact_bench['seeds']})")
for label, key, field in [("own posterior (Algorithm 2)", "own", "own_final_success"), ("exact belief over the train goals", "exact_belief", "exact_final_success")]:
    print(f"{label:34s} {success_with_ci(e, key)}  {[round(run[field], 2) for run in exact_runs]}")
print(f"two-failure beliefs nearest the site left: {e['blend_lands_on_remaining']:.2f} of the pairs; posterior std / gap {e['blend_std_over_gap']:.2f}")
display(show_figure("peach_exact_belief"))
quarter_runs = read_results("peach_return_explore")["details"]["runs"]["return_explore_quarter"]
assert [run["own_final_success"] for run in exact_runs] == [run["final_success"] for run in quarter_runs]  # the route's agents
assert all(run["exact_final_success"] > run["own_final_success"] for run in exact_runs)  # on every seed
assert e["exact_belief_success"] >= 0.8 > e["own_success"] and e["exact_belief_success"] <= e["oracle_success"]

# %% [markdown]
# On every seed the exact belief lifts the same agents, from 0.47 to 0.94 on average, past the issue's 0.8 target,
# including the hard seed whose own meta-test ends at 0.17. So what separates PEACH from that target is one part:
# a belief over the task that rules places out. The rest of this lesson's machinery (first return, then explore for
# training's coverage; hindsight goals through the task variable for the top level; the lower levels; z as a code
# the top level reads) already does its job.

# %% [markdown]
# ### An eliminating posterior: categorical factors
#
# A product *can* eliminate, with another family. If each context row gave a categorical factor over K clusters,
# the logits would add: a factor near zero for cluster k rules k out whatever the other rows say, and failures at two
# sites rule out two clusters. Algorithm 1's gradient could even teach it: a failure at site a only ever appears in
# the contexts of tasks whose goal is elsewhere, so the critic's gradient would push its factor towards their
# clusters and away from a's. `PeachConfig.posterior_form="categorical"` (not in the poster or PEARL) builds it:
# K = `latent_dim` = 5 clusters, z a one-hot cluster drawn from q (a straight-through Gumbel-softmax gradient in place
# of the Gaussian's reparameterisation), the KL to the uniform prior, Algorithm 1's routing unchanged.

# %%
from peach_lite.posterior import product_of_categoricals

show_source(product_of_categoricals)
factors = torch.tensor([[0.30, 0.30, 0.40],   # an uninformative row
                        [1e-6, 0.50, 0.50],   # a failure that rules cluster 0 out
                        [0.50, 1e-6, 0.50]])  # and one that rules cluster 1 out
q = product_of_categoricals(factors.log()[None])[0]
print("q(k | three rows) =", q.numpy().round(4))
assert q[2] > 0.999  # two eliminations leave the third cluster, whatever the first row says

# %% [markdown]
# `benchmarks/peach_return_explore.py` trains the quarter route with it (`return_explore_quarter_categorical`, the
# same seeds and rounds; only `posterior_form` differs):

# %%
categorical = "return_explore_quarter_categorical"
cat_runs = return_runs[categorical]
print(f"{'route':28s} {'final':>5s}  {'IQM [95% CI]':17s} {'paid ctx':>8s} {'sites the prior reaches':>23s} {'linear probe':>12s}")
for label, key in [("first return, 1/4 (above)", quarter), ("+ categorical posterior", categorical)]:
    rows = return_runs[key]
    print(f"{label:28s} {success_with_ci(r, key)}  {r[key + '_paid_context_success']:8.2f} "
          f"{str([int(run['prior_sites_reached']) for run in rows]):>23s} {np.mean([run['probe_accuracy'] for run in rows]):12.2f}")
print("paid-context success per site, per seed:", [np.round(run["paid_context_success_per_site"], 2).tolist() for run in cat_runs])
one_site = [run for run in cat_runs if run["prior_sites_reached"] == 1]
assert len(one_site) == 2 and all(sorted(run["paid_context_success_per_site"]) == [0.0, 0.0, 1.0] for run in one_site)  # one site, whatever z
assert all(run["paid_context_success_per_site"][1] == 0.0 for run in cat_runs)  # the far site: never, on any seed
assert np.mean([run["probe_accuracy"] for run in cat_runs]) > 1 / 3  # yet the posterior means carry some of the site
assert r[categorical + "_success"] < r[quarter + "_success"] and r[categorical + "_two_failures_success"] < r[quarter + "_two_failures_success"]

# %% [markdown]
# It never gets to eliminate. On two seeds the top level goes to one site whatever z says: a paid context at that
# site succeeds, at the others never, and the prior's clusters all lead to the same place. The third seed tells two
# sites apart; no seed ever reaches the far one. The posterior means do carry some of the site (the linear probe is
# above chance), but a one-hot z *drawn* from a soft q says little in any one draw, so the top level learns to ignore
# it, and once it does the critic's gradient gives the encoder nothing to sharpen q with. (One-seed checks with a stronger pull to the uniform prior, `kl_lambda` 0.01 and 0.1, the
# `..._categorical_mid_kl` and `..._categorical_kl` methods of `benchmarks/peach_hindsight.py`, end the same way.)
# The Gaussian's z is useful before it is sharp: its mean moves smoothly with the context, and the top level can
# read a little of it at a time.

# %% [markdown]
# ### A learned likelihood over the train tasks
#
# The exact belief was handed the train goals and whole paths. Keep what made it work, a belief that *multiplies
# likelihoods* over a set of hypotheses, and take the rest away. The hypotheses are the train tasks, each with its
# code (as above); the likelihood is learned: `fit_paid_model` fits p(paid | z, s'), "an attempt that ended at s'
# was paid under the task whose code is z", an MLP of the reward decoder's form, on the agent's own attempts on the
# train tasks labelled by the train tasks' rewards (as hindsight task relabelling labels rows in training). At meta-test
# it reads only the rows q(z | c) reads, where each attempt ended and whether it paid, and no goal:
#
# $$\log w_k \mathrel{+}= \sum_{\text{attempts } (s', r)} \log p(r \mid z_k, s'), \qquad k \sim w \text{ each episode.}$$
#
# An unpaid attempt where $z_k$ would have paid multiplies $w_k$ by about $10^{-3}$ (the clip), and it stays
# multiplied: a product of Bernoulli likelihoods eliminates where a product of Gaussian factors averages.

# %%
from peach_lite.peach_beliefs import fit_paid_model, learned_belief_meta_test

show_source(learned_belief_meta_test)

# %%
paid_model = fit_paid_model(best_agent, eval_envs, train_steps=budget.pick(full=1000, fast=500))
learned = learned_belief_meta_test(best_agent, eval_envs, test_tasks, fitted=paid_model)
print(f"fitted on {paid_model['num_attempts']} attempts x {learned['num_hypotheses']} train tasks: held-out error "
      f"{paid_model['heldout_error']:.4f} (share paid {paid_model['paid_share']:.4f})")
print(f"{'meta-test episode':34s} " + " ".join(f"{k:5d}" for k in range(1, len(learned['success_per_episode']) + 1)))
for label, curve in [("own posterior (Algorithm 2)", own.success.mean(axis=0)), ("learned likelihood, train tasks", learned["success_per_episode"]),
                     ("exact belief over the train goals", exact["success_per_episode"])]:
    print(f"{label:34s} " + " ".join(f"{v:5.2f}" for v in curve))
assert paid_model["heldout_error"] < paid_model["paid_share"]  # better than calling every attempt unpaid
assert own.success[:, -1].mean() < learned["final_success"] <= values.oracle_success

# %% [markdown]
# On this agent the learned likelihood does what the exact belief did, from the same context PEACH's posterior reads.
# The benchmark measures it on the three seeds of the quarter route (the same agents as above):

# %%
learned_runs = [run["learned_final_success"] for run in exact_runs]
print(f"{'final meta-test success':34s} {'mean':>5s}  {'IQM [95% CI]':17s}  per seed (seeds {exact_bench['seeds']})")
for label, key, field in [("own posterior (Algorithm 2)", "own", "own_final_success"),
                          ("learned likelihood, train tasks", "learned_belief", "learned_final_success"),
                          ("exact belief over the train goals", "exact_belief", "exact_final_success")]:
    print(f"{label:34s} {success_with_ci(e, key)}  {[round(run[field], 2) for run in exact_runs]}")
print(f"the fitted likelihood's held-out error: {e['paid_model_heldout_error']:.4f}")
assert e["own_success"] < 0.8 <= e["learned_belief_success"] <= e["oracle_success"]  # past the issue's target
assert all(run["learned_final_success"] >= run["own_final_success"] for run in exact_runs)  # on every seed

# %% [markdown]
# The learned likelihood does on every seed what the exact belief does, 0.94 against the agents' own 0.47, from the
# attempts PEACH's context already holds: where each ended and whether it paid. So the context carries everything the
# search needs, and the trained levels and codes can use it; what loses it is the form of the belief. A product of
# Gaussian factors turns "not here, and not there" into "somewhere between"; a product of likelihoods over
# hypotheses keeps both "not"s. (What made the fitted likelihood good enough was its data: attempts the agent itself
# makes under each train task's code, so that many attempts end at the goals. Fitted on attempts under random
# subgoals alone, it called almost no paid attempt paid on one seed, and the three seeds reached 0.72.)
#
# Can the likelihood be learned inside Algorithm 1 instead of afterwards? PEACH's optional reward decoder
# (`reward_decoder_weight`, VariBAD-style, not in the poster) is that model: p(paid | z, s') trained on z ~ q(z | c),
# its loss reaching φ. The benchmark's second config trains the same route with it (`decoder_route`) and uses each
# agent's own decoder as the likelihood:

# %%
decoder_runs, detached_runs = (exact_bench["details"]["runs"][route] for route in ("decoder_route", "detached_decoder_route"))
print(f"{'final meta-test success':34s} {'benchmark agents':>16s} {'decoder route':>14s} {'detached decoder':>16s}")
for label, plain, key in [("own posterior (Algorithm 2)", "own_success", "own_success"),
                          ("its own decoder as the likelihood", None, "decoder_belief_success"),
                          ("a likelihood fitted afterwards", "learned_belief_success", "learned_belief_success"),
                          ("exact belief over the train goals", "exact_belief_success", "exact_belief_success"),
                          ("a paid context (the codes)", "paid_context_success", "paid_context_success")]:
    print(f"{label:34s} {'-' if plain is None else f'{e[plain]:.2f}':>16s} {e['decoder_route_' + key]:14.2f} {e['detached_decoder_route_' + key]:16.2f}")
for label, route_runs in [("decoder route", decoder_runs), ("detached decoder", detached_runs)]:
    print(f"{label}: own decoder as the likelihood, per seed", [round(run["decoder_final_success"], 2) for run in route_runs])
assert e["decoder_route_decoder_belief_success"] > e["decoder_route_own_success"]  # the decoder eliminates too
assert e["decoder_route_paid_context_success"] < e["paid_context_success"]  # but training it through z costs the codes
assert [run["own_success_per_episode"] for run in detached_runs] == [run["own_success_per_episode"] for run in exact_runs]  # detached: φ untouched
assert e["detached_decoder_route_own_success"] < 0.8 <= e["detached_decoder_route_decoder_belief_success"] <= e["oracle_success"]

# %% [markdown]
# It can, and it must not touch φ. On the decoder route's agents their own decoder searches about as well as the
# exact belief does (0.64 against 0.67), far above their own posterior, but its gradient through z costs them their
# codes: given a paid attempt they reach the goal 68% of the time instead of 94%, so every belief does worse on them.
# Detach z where the decoder reads it (`reward_decoder_detach`) and the decoder learns beside Algorithm 1 without
# changing it: the agents are the benchmark's own, bit for bit (their own meta-test is the same, episode by episode),
# and their decoder, learned in training from the rows Algorithm 1 already samples, is a likelihood good enough to
# take them past the 0.8 target. Nothing here is fitted after training; what is not Algorithm 2 is the belief, a
# weighted set of the train tasks' codes instead of q(z | c).
#
# So this is where the course leaves PEACH: training exploration, solved by first return, then explore; inference
# given a paid attempt, solved; the meta-test's search before its first paid attempt, solved when the belief
# multiplies likelihoods. PEARL's Gaussian product averages failures instead of eliminating them; a categorical
# product eliminates by construction, but its one-hot z is one the top level never learns to read. A belief over the
# train tasks' codes weighed by a "paid here" likelihood, fitted afterwards or learned in training by a decoder on a
# detached z, lets the same agents search as exact Bayes does, from the same context. What it is not is Algorithm 2's
# q(z | c). What Algorithm 2 needs is a posterior trained end to end that both eliminates and stays a z the top level
# reads; the next section trains one.

# %% [markdown]
# ### Teaching q(z | c) to eliminate
#
# One way to close that gap inside Algorithm 2 is to keep z ~ q(z | c) at meta-test and teach q the search in
# training. Meta-training knows the train tasks' rewards (hindsight task relabelling already uses them), so for any
# context of failed attempts it knows exactly which train goals are left: those whose reward gives every attempt its
# recorded reward. `PeachConfig.elimination_weight` (not in the poster or PEARL) adds a loss on φ alone: each own-goal
# slot keeps a random subset of its unpaid attempts, and q(z | that subset) is pulled, by KL(N(code) ‖ q), towards the
# code of the goal left that q already finds likeliest (each code: q given a paid attempt at that goal, detached).
# A Gaussian cannot hold two sites, but it can hold the next one to try; when that one fails, it is ruled out too.

# %%
from peach_lite.envs.maze_hidden import site_of
from peach_lite.peach_context import probe_attempt_row
from peach_lite.posterior import consistent_hypotheses, elimination_loss

show_source(elimination_loss)

# %%
unwrapped = eval_envs.unwrapped
centers = np.asarray(unwrapped.site_centers, np.float32)
train_goals = np.stack([np.asarray(task.goal, np.float32) for task in unwrapped.train_tasks()])
train_sites = np.array([site_of(task, unwrapped.sites) for task in unwrapped.train_tasks()])
task = test_tasks[0]
others = [k for k in range(len(centers)) if k != site_of(task, unwrapped.sites)]
obs_dim, rows_per_context = best_agent.spec.obs_dim, best_agent.config.context_batch
contexts = [[probe_attempt_row(obs_dim, centers[f[r % len(f)]], -1.0) for r in range(rows_per_context)] for f in ([others[0]], others)]
context = torch.as_tensor(np.stack(contexts))
goal_dim = best_agent.spec.goal_dim
achieved = context[..., obs_dim + goal_dim + 1 : obs_dim + 2 * goal_dim + 1]  # where each attempt ended: s' of [s, ã, r, s']
consistent = consistent_hypotheses(achieved, -torch.ones(achieved.shape[:2]), torch.ones(achieved.shape[:2], dtype=torch.bool),
                                   train_goals, unwrapped.compute_reward)
paid_rows = torch.as_tensor(np.stack([probe_attempt_row(obs_dim, goal, 0.0) for goal in train_goals]))[:, None]
with torch.no_grad():
    codes = best_agent.posterior.infer(paid_rows.expand(-1, rows_per_context, -1))  # each train goal's code
    loss = elimination_loss(best_agent.posterior.infer(context), codes, consistent)
for label, left in zip([f"failed at site {others[0]}", f"failed at sites {others}"], consistent):
    print(f"{label:24s} train goals left at sites {sorted(set(train_sites[left.numpy()].tolist()))}")
print(f"the loss on this agent, which was not trained with it: {loss.item():.1f}")
assert set(train_sites[consistent[1].numpy()]) == {site_of(task, unwrapped.sites)}  # two failures leave the goal's site only
assert others[0] not in set(train_sites[consistent[0].numpy()])

# %% [markdown]
# `benchmarks/peach_elimination.py` trains the quarter route with the loss at weight 1.0 (the same seeds and rounds;
# only `elimination_weight` differs) against the same route's runs without it:

# %%
elim_bench = read_results("peach_elimination")
el, elim_runs = elim_bench["headline"], elim_bench["details"]["runs"]["eliminating"]
print(f"{'':32s} {'final':>5s}  {'IQM [95% CI]':17s} {'paid ctx':>8s} {'far paid':>8s} {'1 / 2 failures':>14s} "
      f"{'revisit':>7s} {'linear probe':>12s}")
for label, key in [("quarter route", "return_explore_quarter"), ("+ eliminating slots", "eliminating"),
                   ("+ eliminating slots (mass)", "eliminating_mass"), ("+ mass, probe failures", "eliminating_probes"),
                   ("+ the same at weight 0.3", "eliminating_probes_light")]:
    print(f"{label:32s} {success_with_ci(el, key)}  {el[key + '_paid_context_success']:8.2f} "
          f"{el[key + '_far_site_paid_context_success']:8.2f} {el[key + '_one_failure_success']:6.2f} / "
          f"{el[key + '_two_failures_success']:.2f} {el[key + '_two_failures_revisit']:10.2f} {el[key + '_probe_accuracy']:12.2f}")
print("eliminating slots, paid-context success per site, per seed:", [run["paid_context_success_per_site"] for run in elim_runs])
print(f"posterior variance after the first success (fraction of the prior's): {el['eliminating_variance_after_success']:.3f}")
display(show_figure("peach_elimination"))
assert all(sorted(run["paid_context_success_per_site"]) == [0.0, 0.0, 1.0] for run in elim_runs)  # one site, whatever z
assert el["eliminating_success"] < el["return_explore_quarter_success"] <= el["oracle_success"]

# %% [markdown]
# It makes things worse. On every seed the top level ends up going to one site whatever z says: a paid context
# succeeds at one site only, the prior's episodes reach one site, and final success falls to that site's share (0.33).
# The posterior is sharp now (its variance after a success is a few thousandths of the prior's, far inside the
# issue's 0.2), but a sharp z the top level does not read is no inference. The targets are q's own codes, detached at
# each step but moving with φ; bringing the codes together lowers the loss as well as moving q(z | failures) does, and
# nothing but the critic's weaker gradient keeps them apart. A target encoder that moves slowly (as in BYOL or a
# target critic), or codes fixed by another teacher, is one way out; a loss that coinciding codes do not satisfy is
# another. `elimination_form="consistent_mass"` (the "mass" row) asks only that z ~ q(z | failures) land on a code left:
# -log of the probability mass q's samples put on the goals left (`consistent_mass_loss`). With identical codes that
# probability is the same whatever q is, so collapse earns nothing. The codes do stay apart (a paid context succeeds
# at two or three sites on every seed) and the search revisits a failed site less, but the first episode gets weaker
# and the final success does not rise.

# %%
from peach_lite.posterior import consistent_mass_loss

show_source(consistent_mass_loss)
assert el["eliminating_mass_paid_context_success"] > el["eliminating_paid_context_success"]  # no collapse
assert el["eliminating_mass_two_failures_revisit"] < el["return_explore_quarter_two_failures_revisit"]

# %% [markdown]
# Why does the mass loss teach so little? It can teach only what a slot's failures rule out, and Algorithm 1's own-goal
# contexts rule out little. A failed attempt rules out a train goal only if it ended there, and most attempts end in
# corridors and rooms, short of any goal. `own_context_elimination` lets a copy of the quarter route's agent collect
# six rounds and reads its meta-batches as the update draws them. The meta-test's search is different: its failures
# are attempts at a site. `elimination_failures` (not in the poster or PEARL either) writes 1 to F such failures into
# each slot's kept rows before the loss: probe attempts that end at train goals the slot's own goal does not pay. The
# "probe failures" row trains with F = 3.

# %%
from peach_lite.peach_context import with_probe_failures
from peach_lite.peach_diagnostics import own_context_elimination

display(show_source(own_context_elimination))
display(show_source(with_probe_failures))
print(f"own-goal contexts that rule out any train goal: {el['own_context_ruling_out_share']:.0%}; "
      f"the most one rules out: {el['own_context_max_ruled_out_share']:.0%} of the train goals (a site holds a third)")
far_site = 1  # the site the collections reach least (benchmarks/peach_return_explore.py, FAR_SITE)
for key in ["return_explore_quarter", "eliminating_probes"]:
    arm_runs = elim_bench["details"]["runs"][key]
    print(f"{key:24s} per seed: far site paid {[round(r['paid_context_success_per_site'][far_site], 2) for r in arm_runs]}, "
          f"revisit after two failures {[round(r['failed_context_revisit'][1], 2) for r in arm_runs]}, "
          f"variance after the first success {[round(r['variance_after_success'], 2) for r in arm_runs]}, "
          f"final {[round(r['final_success'], 2) for r in arm_runs]}")
assert el["own_context_max_ruled_out_share"] <= 1 / 3 + 1e-6  # own contexts never rule out more than one site
assert el["eliminating_probes_two_failures_revisit"] < el["eliminating_mass_two_failures_revisit"]
assert el["eliminating_probes_far_site_paid_context_success"] < el["return_explore_quarter_far_site_paid_context_success"]
assert el["eliminating_probes_variance_after_success"] < 0.2 < el["return_explore_quarter_variance_after_success"]

# %% [markdown]
# Now the loss has something to teach, and q(z | c) learns it: after two failed sites the search revisits one less
# often than in any other arm. But the far site pays for it. Given a context that holds a paid attempt there, the top
# level no longer goes back, on every seed, where the route without the loss almost always does, and after two
# failures at the near sites it rarely finds the far one. The paid-context probe hands q copies of one paid attempt,
# the very input that defines a goal's code, so it is the far site's code the top level no longer follows, although
# q is now sharp after a success (its variance within the issue's 0.2 of the prior's on every seed, where the route
# without the loss stays as wide as the prior). It is not that the top level never meets that code in training
# (`code_reading_shares`, in the closing notes of issue 12: the update's z lie near the far code more often with the
# loss than without it); what the loss at full weight does to the top level's reading of it is left open here. The
# final success swings from seed to seed and its mean stays within noise of the route's: the search is better, the
# exploitation worse.
#
# If the loss at full weight outweighs the critic's hold on what the codes mean, a lighter one should keep both. The
# last row of the table trains the same loss, with the same probe failures, at a third of the weight
# (`elimination_weight` 0.3); nothing else changes.

# %%
light_runs = elim_bench["details"]["runs"]["eliminating_probes_light"]
print(f"weight 0.3 per seed: final {[round(r['final_success'], 2) for r in light_runs]}, "
      f"far site paid {[round(r['paid_context_success_per_site'][far_site], 2) for r in light_runs]}, "
      f"revisit after two failures {[round(r['failed_context_revisit'][1], 2) for r in light_runs]}, "
      f"success per meta-test episode {np.round(np.mean([r['success_per_episode'] for r in light_runs], axis=0), 2).tolist()}")
print(f"final success {success_with_ci(el, 'eliminating_probes_light')} (mean, IQM [95% CI]); "
      f"the quarter route without the loss: {el['return_explore_quarter_success']:.2f}; the oracle: {el['oracle_success']:.2f}")
assert el["eliminating_probes_light_success"] >= 0.80 and el["eliminating_probes_light_success_iqm"] >= 0.80  # the issue's target
assert all(r["failed_context_revisit"][1] == 0.0 for r in light_runs)  # two failed sites are never revisited
assert el["eliminating_probes_light_far_site_paid_context_success"] > el["eliminating_probes_far_site_paid_context_success"]
assert el["eliminating_probes_light_success"] <= el["oracle_success"]
assert el["eliminating_probes_light_first_episode_success"] < el["return_explore_quarter_first_episode_success"]  # the text below
more = elim_bench["details"]["more_seeds"]
print(f"\nseeds 0-4 (two more: {more['seeds']}), final success (mean, IQM [95% CI]): weight 0.3 "
      f"{success_with_ci(el, 'eliminating_probes_light_all_seeds')}, without the loss {success_with_ci(el, 'return_explore_quarter_all_seeds')}")
for key in ["eliminating_probes_light", "return_explore_quarter"]:
    print(f"{key:24s} per seed: final {[round(r['final_success'], 2) for r in more['runs'][key]]}, "
          f"share of training attempts in the start room {[round(r['train_attempt_room_shares'][0], 2) for r in more['runs'][key]]}")
stuck = [i for i, r in enumerate(more["runs"]["return_explore_quarter"]) if r["train_attempt_room_shares"][0] > 0.99]
assert stuck and all(more["runs"][key][i]["final_success"] == 0.0 for key in more["runs"] for i in stuck)  # the text below
assert el["eliminating_probes_light_all_seeds_success_iqm"] > el["return_explore_quarter_all_seeds_success_iqm"]

# %% [markdown]
# It keeps both. At weight 0.3 no seed revisits a failed site after two failures, a paid context brings the top
# level back to the far site most of the time again, and the final success reaches the issue's 0.8 with q(z | c)
# itself: Algorithm 2 as written, z ~ q(z | all context so far), nothing fitted after training. What changed is
# training alone: meta-training knows the train tasks' rewards, and a small loss on φ uses them to teach the posterior
# what a failed site rules out. Three seeds are few and the interval is wide, and the first episode, on the prior,
# pays less often than without the loss. Two more seeds (run for this arm and the route without it alone) bring the
# mean below 0.8, and show why: on one of them the lower levels never leave the start room, with the loss or
# without it, so neither finds anything. That is the bottom level failing (the next section), not inference. Over the five seeds the loss roughly doubles the route's success. The benchmark
# below trains PEACH on this route.

# %% [markdown]
# ### The seed that never leaves the start room: a saturated bottom actor
#
# On that seed nothing in the top level or the posterior gets a chance: the training attempts end in the start room
# 99.98% of the time from the first round to the last. The bottom level is to blame. Its actor is HAC's,
# π(s, g) = tanh(f(s, g)) · scale + offset, trained with Adam up its critic. If the critic's slope in the action points
# the same way for a few dozen steps, Adam pushes f past ±3 for almost every state (Adam's step does not shrink with the
# gradient). There tanh is flat, so the actor's gradient vanishes and it stays there. Every subgoal then gets the same
# full push into one corner of the room. `GoalLevel.saturation` counts the share of f's outputs beyond ±3 on the states
# and subgoals the level trains on.
#
# Two standard penalties in the actor's loss guard against it; HAC's reference has neither. HER's DDPG (baselines)
# adds `action_l2 · mean((a / max_u)²)`, which pulls the actions in, and its gradient passes through the same flat
# tanh. The SAC reference code adds `1e-3 · mean(f²)` on its pre-tanh output, whose gradient does not pass through tanh
# (`pre_tanh_l2`). A third guard leaves training alone: after the first round, a bottom actor found saturated is drawn
# afresh, once (`reset_saturated_bottom`, `GoalLevel.reinitialise_actor`). Below, the route's first round on seed 3,
# as the benchmark trained it, then with each guard.

# %%
from peach_lite.goal_levels import GoalLevel, replay_saturation
from peach_lite.peach_config import ELIMINATING_ROUTE

show_source(GoalLevel.actor_loss)
show_source(GoalLevel.saturation)
show_source(GoalLevel.reinitialise_actor)
saturation_bench = read_results("peach_saturation")
sat = saturation_bench["headline"]
penalties = {"none": {}, f"HER's action_l2 {sat['action_l2_weight']:g}": {"action_l2": sat["action_l2_weight"]},
             f"pre_tanh_l2 {sat['pre_tanh_l2_weight']:g}": {"pre_tanh_l2": sat["pre_tanh_l2_weight"]},
             "re-initialised after round 1": {"reset_saturated_bottom": sat["reset_threshold"]}}


def after_the_first_round(seed: int, **penalty) -> PEACH:
    """The route's first training round (the 24 prior episodes, one collection of 4 tasks x 3 episodes, their updates)."""
    seed_everything(seed)
    agent, _ = train_peach(seed=seed, progress=False, rounds=1, eval_every=1, **{**ELIMINATING_ROUTE, **penalty})
    return agent


first_round = {name: after_the_first_round(3, **penalty) for name, penalty in penalties.items()}
grid = np.stack(np.meshgrid(np.linspace(-3.5, -0.5, 7), np.linspace(-3.5, -0.5, 7)), -1).reshape(-1, 2)  # room 0, the start
subgoal = np.array([-2.0, -1.0], np.float32)
at_rest = torch.as_tensor(np.concatenate([grid, np.zeros_like(grid)], 1), dtype=torch.float32)
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
env.unwrapped.set_markers([])
arrows, saturation = {}, {}
for ax, (name, agent) in zip(axes, first_round.items()):
    with torch.no_grad():
        arrows[name] = agent.hierarchy.levels[0].actions(at_rest, torch.as_tensor(subgoal).expand(len(grid), 2)).numpy()
    saturation[name] = replay_saturation(agent.hierarchy)
    ax.imshow(env.render(), extent=(-VIEW, VIEW, -VIEW, VIEW), alpha=0.6)
    ax.quiver(grid[:, 0], grid[:, 1], arrows[name][:, 0], arrows[name][:, 1], color="C0", angles="xy", scale=12)
    ax.scatter(*subgoal, s=90, color="C1", marker="x", label="subgoal")
    ax.set(xlim=(-4.2, 0.2), ylim=(-4.2, 0.2), xticks=[], yticks=[], title=f"penalty: {name}\nsaturation {saturation[name]:.2f}")
    ax.legend(fontsize=7, loc="upper right")
fig.suptitle("seed 3: the bottom level's action towards one subgoal, from rest, after the first round", fontsize=9)
plt.show()
print({name: round(value, 3) for name, value in saturation.items()})
plain, *penalised = saturation.values()
assert plain > 0.9 > 0.1 > max(penalised)  # the text above
assert np.abs(arrows["none"]).min() > 0.99  # every state, the same full push into one corner
assert all(np.ptp(arrows[name], axis=0).max() > 0.25 for name in list(penalties)[1:3])  # the action depends on where the mass is
assert np.abs(arrows["re-initialised after round 1"]).max() < 0.05  # a fresh actor: near-zero actions, free to learn

# %% [markdown]
# A scan repeats this on ten seeds and trains 40 rounds, so that a trap that forms later counts too. Then the
# benchmark trains the route with each penalty on seeds 0-4 for the full 600 rounds, beside the route's own runs
# (`benchmarks/peach_saturation.py`).

# %%
print(f"{'scan':>16}  trapped (of {len(saturation_bench['details']['scan_seeds'])})  saturation after round 1 / 40  "
      f"in-room reach  attempts outside the start room")
for key, label in [("scan_0", "none"), ("scan_0p03", "action_l2 0.03"), ("scan_0p1", "action_l2 0.1"),
                   ("scan_pre_tanh", f"pre_tanh_l2 {sat['pre_tanh_l2_weight']:g}")]:
    print(f"{label:>16}  {sat[key + '_trapped']:>8.0f}            {sat[key + '_first_round_saturation']:.2f} / {sat[key + '_saturation']:.2f}"
          f"                  {sat[key + '_reach']:.2f}          {sat[key + '_left_start_room']:.2f}")
sat_runs = saturation_bench["details"]["runs"]
for arm, label in (("route", "route (peach_maze's PEACH)"), ("action_l2", "+ HER's action penalty"), ("pre_tanh_l2", "+ pre-tanh penalty"),
                   ("reset_saturated", "+ re-initialised if saturated")):
    print(f"{label:28s} final {success_with_ci(sat, arm)}, per seed {[round(r['final_success'], 2) for r in sat_runs[arm]]}, "
          f"start-room share of training attempts {[round(r['train_attempt_room_shares'][0], 2) for r in sat_runs[arm]]}")
for arm in ("action_l2", "pre_tanh_l2", "reset_saturated"):
    print(f"P({arm} > route), final: {sat[arm + '_prob_improvement']:.2f} "
          f"[{sat[arm + '_prob_improvement_ci_low']:.2f}, {sat[arm + '_prob_improvement_ci_high']:.2f}]")
display(show_figure("peach_saturation"))
scan_rows = dict(zip(saturation_bench["details"]["scan_seeds"], saturation_bench["details"]["scan"]["scan_0"]))
assert sat["scan_0_trapped"] >= 1 and scan_rows[3]["saturation"] > 0.9  # the route as it is: seed 3 trapped
assert sat["scan_0p03_trapped"] == sat["scan_pre_tanh_trapped"] == 0  # either penalty: none
assert sat["route_seed3_success"] == 0.0 < min(sat["action_l2_seed3_success"], sat["pre_tanh_l2_seed3_success"])
assert sat["action_l2_success"] < sat["pre_tanh_l2_success"] < sat["route_success"]  # neither is a better route
assert 0.35 < np.median([r["saturation"] for seed, r in scan_rows.items() if seed != 3]) < 0.55  # healthy runs: about 45%
assert sum(r["final_success"] >= 0.8 for r in sat_runs["route"]) == 3
assert 0.3 < min(r["final_success"] for r in sat_runs["pre_tanh_l2"]) <= max(r["final_success"] for r in sat_runs["pre_tanh_l2"]) < 0.6
guarded_same = [a["curve_success"] == b["curve_success"] for a, b in zip(sat_runs["reset_saturated"], sat_runs["route"])]
assert guarded_same == [seed != 3 for seed in saturation_bench["seeds"]]  # the guard fired on seed 3 only
assert 0.2 < sat["reset_saturated_seed3_success"] < 0.3 and sat["reset_saturated_success"] > sat["route_success"]
assert all(saturation_bench["details"]["scan"]["scan_0"][seed]["first_round_saturation"] < sat["reset_threshold"] for seed in (0, 1, 2))

# %% [markdown]
# Both penalties free seed 3. With either one no scan seed is trapped, and seed 3's training attempts leave the start
# room and its meta-tests find goals. Neither is a better route, though. Over seeds 0-4, HER's penalty loses most of
# the success of three seeds, and the pre-tanh penalty settles every seed between a third and 0.6, where the route
# without it reaches 0.8 or more on three seeds of five. Read the scan's middle column again. On the healthy seeds,
# after 40 rounds, about 45% of the bottom actor's pre-tanh outputs already lie beyond ±3, so this bottom level works
# close to bang-bang: full force towards the subgoal. That is how a mass that moves at most 0.2 a step crosses 1.6 in
# its 8 steps. One reading, not measured here: a penalty that keeps f small slows learning that kind of control, and
# so it costs the healthy seeds more than it saves on the one trapped seed in ten.
#
# The re-initialisation is the guard that leaves the healthy seeds alone. It fires on seed 3 only; every other seed's
# run is the route's, bit for bit, because below the threshold it changes nothing. Seed 3, freed after its first
# round, learns like the others, from behind, and its final meta-test pays on a quarter of the tasks instead of none. So
# the five-seed mean moves by seed 3 alone. The benchmark's route (above and below) was trained without the guard; on
# its three seeds it would not have fired.

# %% [markdown]
# ## Against its parents (the benchmark)
#
# `benchmarks/peach_maze.py` trains every hierarchical method on the best route built above
# (`peach_config.RETURN_EXPLORE_ROUTE`: Algorithm 1 plus hindsight goals through the task variable, HTR else HER, and
# a quarter of the training collections planned by first return, then explore), 600 rounds each (about 300k env
# steps, at most 25 CPU-minutes a run), on the same 3 seeds. PEACH trains with the eliminating slots on top
# (`peach_config.ELIMINATING_ROUTE`); its runs are the elimination study's `eliminating_probes_light` runs bit for bit
# (a test checks it). The others change one thing and keep the route: the same learner whose top level reads **no**
# task variable (HAC without z); the same learner reading the **true goal** (oracle z, its upper bound); a
# **random-subgoal** top level; PEACH with **deterministic** z. None of them has a posterior whose mass the slots
# could move. Beside them, plain **HAC given the goal** (lesson 07's agent, capped at 120k env steps to stay inside
# 30 CPU-minutes) and **flat PEARL** with the hierarchy's env steps. Every number below is read from
# `data/results/peach_maze.json`.

# %%
record = read_results("peach_maze")
headline = record["headline"]
maze_runs = record["details"]["runs"]
rows = [("PEACH", "peach"), ("HAC without z", "hac_no_z"), ("oracle z (same learner)", "oracle_z"), ("HAC given the goal", "hac_true_goal"),
        ("random subgoals", "random_subgoals"), ("deterministic z", "deterministic_z"), ("flat PEARL", "pearl")]
print(f"{'method':24s} final-episode success   per seed (seeds {record['seeds']})")
for label, key in rows:
    print(f"{label:24s} {headline[key + '_success']:.2f}                    {[round(r['final_success'], 2) for r in maze_runs[key]]}")
print(f"PEACH: mean, IQM [95% CI] {success_with_ci(headline, 'peach')}")
print(f"\ntargets: PEACH >= 0.80 (got {headline['peach_success']:.2f}); gain over HAC without z >= 0.2 "
      f"(got {headline['gain_over_hac_no_z']:.2f}); >= 3x flat PEARL (got {headline['ratio_over_pearl']:.1f}x, PEARL's 0 counted as "
      f"1/12); >= 0.85 x HAC given the goal (got {headline['fraction_of_oracle_hac']:.2f})")
assert all(headline[key + "_success"] <= headline["oracle_success"] + 1e-9 for _, key in rows)  # nobody beats the oracle
assert headline["peach_success"] > max(headline[k + "_success"] for k in ("hac_no_z", "random_subgoals", "deterministic_z", "pearl"))
assert headline["oracle_z_success"] == 1.0 and headline["pearl_success"] == 0.0  # the text below
assert headline["peach_success"] >= 0.8 and headline["gain_over_hac_no_z"] >= 0.2 > 0.85 - headline["fraction_of_oracle_hac"]
assert headline["fraction_of_oracle_hac"] < 0.85  # the text below: short of HAC given the goal
assert all(a["final_success"] > b["final_success"] for a, b in zip(maze_runs["peach"], maze_runs["hac_no_z"]))  # on every seed
assert all(max(r["success_per_episode"]) - min(r["success_per_episode"]) < 0.1 for r in maze_runs["hac_no_z"])  # without z: flat
worst_seed = min(range(len(maze_runs["peach"])), key=lambda i: maze_runs["peach"][i]["final_success"])
assert maze_runs["peach"][worst_seed]["prior_sites_reached"] == min(r["prior_sites_reached"] for r in maze_runs["peach"]) < 3
assert headline["deterministic_z_success"] <= headline["hac_no_z_success"] + 0.05 and headline["peach_success"] - headline["deterministic_z_success"] > 0.3
peach_per_episode = np.mean([r["success_per_episode"] for r in maze_runs["peach"]], axis=0)
assert peach_per_episode[-1] > peach_per_episode[0]  # with z: rising
display(show_figure("peach_maze"))

# %% [markdown]
# PEACH is the best of the learners that must find the goal, reaches the issue's 0.8 on these three seeds (with a
# wide interval: over the five seeds of the section above the same route averages less), and is still short of the
# agent that is told the goal. Read down the table:
#
# * **Oracle z** solves every held-out task on every seed with the same lower levels, the same route and the same
#   budget. Control and credit assignment are not what stops PEACH; finding the goal is.
# * **HAC without z** learns what a top level that cannot tell tasks apart can: commit to one site and be right a
#   third of the time, on every seed, nearly the same in every meta-test episode. PEACH's success instead rises over the
#   episodes, the mark of task inference, and beats it on every seed. (Without the eliminating slots it lost one
#   seed to it.) PEACH's worst seed is the one whose prior episodes reach the fewest sites: what the search never
#   tries, it cannot rule in.
# * **Deterministic z** (PEARL's ablation: point beliefs, no sampling) does no better than HAC without z on average:
#   sampling z from a belief is how PEACH tries different sites on different episodes. A point belief can still move
#   after a paid attempt, and on one seed it does, but with nothing to sample the search stalls where it starts.
# * **Random subgoals** and **flat PEARL** find almost nothing in this budget: the maze needs a top level that
#   learns, and a flat agent with a 50-step sparse reward never sees one.
# * **HAC given the goal** solves every task too, so PEACH is at about four fifths of it, below the issue's 0.85:
#   the meta-test's first episodes, on the prior and after one failure, are a search the oracle does not need.
#   "More data or more compute" below shows that these numbers rest on one meta-test per agent, and that more of the
#   budget closes this gap.
# %% [markdown]
# ### Task inference, measured
#
# The issue's two targets for task inference, on the benchmark's PEACH:
#
# * a **linear probe** from the posterior mean (after a meta-test) to the task's site: if the posterior carries
#   the task, a linear read-out finds it;
# * the **posterior variance after the first success**, as a fraction of the prior's: a paid attempt should
#   collapse the belief.

# %%
from peach_lite.peach_diagnostics import site_probe_accuracy, variance_after_first_success

show_source(site_probe_accuracy)
show_source(variance_after_first_success)

# %%
probe_per_seed = [round(r["probe_accuracy"], 2) for r in maze_runs["peach"]]
variance_per_seed = [round(r["variance_after_success"], 2) for r in maze_runs["peach"]]
quarter = read_results("peach_elimination")["headline"]  # its baseline row: the route without the slots
print(f"probe accuracy {headline['probe_accuracy']:.2f} (target 0.9; chance 0.33), per seed {probe_per_seed}")
print(f"posterior variance after the first success, x prior: {headline['variance_after_success']:.2f} (target < 0.2), "
      f"per seed {variance_per_seed} (nan: no task succeeded before its last episode)")
print(f"the route without the eliminating slots: probe {quarter['return_explore_quarter_probe_accuracy']:.2f}, "
      f"variance after the first success {quarter['return_explore_quarter_variance_after_success']:.2f}")
print(f"oracle z (the same learner, inference solved): {headline['oracle_z_success']:.2f}; PEACH: {headline['peach_success']:.2f}")
assert max(probe_per_seed) >= 0.9 > headline["probe_accuracy"] and min(probe_per_seed) < 2 / 3  # the text below
assert headline["variance_after_success"] < 0.3 < 1.0 < quarter["return_explore_quarter_variance_after_success"]  # collapses now
assert probe_per_seed.index(min(probe_per_seed)) == worst_seed  # the probe is worst where the search is

# %% [markdown]
# On the best seed the posterior mean names the site of at least 9 tasks in 10; on the worst, whose prior episodes reach the
# fewest sites, it names fewer than two in three, so the probe misses 0.9 on average. The variance target is now
# about met: after a paid attempt the belief narrows to about a fifth of the prior's. Without the eliminating slots it
# *widened* (the route's KL weight, 0.001, leaves the variance nearly free and the critic only cares where the mean
# goes). The slots' loss asks that z ~ q(z | c) land on the code of a goal the context leaves, and a belief that stays
# wide after a paid attempt spreads its samples over codes that are ruled out. The number is a mean over z's five
# dimensions; "Why the variance grows", below, takes it apart dimension by dimension.

# %% [markdown]
# ### The penalty rows, tested
#
# "What the encoder reads" left the subgoal-test penalty rows out of the context: a −H row says the level below missed
# a tested subgoal, not where the goal is. `benchmarks/peach_context_rows.py` tests that choice. It trains the route
# without the eliminating slots (`RETURN_EXPLORE_ROUTE`) with the penalty rows in the context too
# (`penalties_in_context`), on the same seeds, beside the same route's runs without them. It uses that route because
# the slots' loss would switch itself off on a −H row: no train goal gives a row that reward.

# %%
rows_bench = read_results("peach_context_rows")
cr = rows_bench["headline"]
for arm, label in (("route", "attempt rows only (the default)"), ("penalties_in_context", "with the penalty rows")):
    print(f"{label:32s} final {success_with_ci(cr, arm)}, per seed {[round(r['final_success'], 2) for r in rows_bench['details']['runs'][arm]]}; "
          f"paid context {cr[arm + '_paid_context_success']:.2f}, probe {cr[arm + '_probe_accuracy']:.2f}, "
          f"variance after the first success {cr[arm + '_variance_after_success']:.2f} x prior, "
          f"after two failed sites {cr[arm + '_two_failures_success']:.2f}")
print(f"P(with > without), final: {cr['penalties_in_context_prob_improvement']:.2f} "
      f"[{cr['penalties_in_context_prob_improvement_ci_low']:.2f}, {cr['penalties_in_context_prob_improvement_ci_high']:.2f}]")
display(show_figure("peach_context_rows"))
assert cr["penalties_in_context_variance_after_success"] < cr["route_variance_after_success"]  # the text below
assert cr["penalties_in_context_paid_context_success"] < cr["route_paid_context_success"]
assert cr["penalties_in_context_first_episode_success"] < cr["route_first_episode_success"]
assert cr["penalties_in_context_two_failures_success"] < cr["route_two_failures_success"]
assert cr["penalties_in_context_success"] <= cr["route_success"]
assert sum(a["final_success"] < b["final_success"] for a, b in zip(*(rows_bench["details"]["runs"][k] for k in ("penalties_in_context", "route")))) == 2

# %% [markdown]
# The default stands. With the penalty rows the posterior does narrow after a success: each tested subgoal that the
# level below missed adds a second factor to the product, with the same s and s′ as its attempt. But what the top
# level does with z gets worse: it returns to a paid goal less often, its first episode on the prior pays less, and
# after two failed sites it finds the third less often. The final success is lower on two seeds of three, a
# difference well inside the spread of three seeds (the interval of P(with > without) spans most of [0, 1]). A −H
# row tells q(z | c) about the level below, and the top level's reading of z pays for it.

# %% [markdown]
# ### Which learner at the top: HAC's or SAC
#
# The issue leaves one choice open: the top level's learner, "a bounded DDPG-style critic as in HAC, or SAC as in
# PEARL". This course's top level is HAC's (`PeachConfig.top_learner = "hac"`). It has one critic bounded in
# [−H, 0], no target networks, and it explores with Gaussian noise and 20% random subgoals. The reasoning was that the
# −H penalty and the −1/0 rewards need the bound, and that sampling z already explores. `top_learner = "sac"` builds the
# alternative, `SoftGoalLevel`. It has PEARL's tanh-Gaussian actor, twin critics bounded in [−H, 0] with Polyak
# targets, and an automatic temperature α (SB3's defaults: α from 1, target entropy −2). It explores by sampling its
# own policy. Everything else is the same: inputs, network sizes, learning rates, the route's random subgoals and
# plans, and z's routing (not detached in the critic loss, detached in the actor's). Its soft target is clipped to
# HAC's bound, so a −H row keeps its meaning:

# %%
import math

from peach_lite.goal_levels import SoftGoalLevel

show_source(SoftGoalLevel.soft_targets)
show_source(SoftGoalLevel.actor_loss)

# %% [markdown]
# The bound and the entropy bonus meet at once. An unpaid attempt's target is −1 + γ(min Q′ − α log π). While the
# policy is wide, −α log π is large enough to lift the target to the bound 0, where the critic also puts a *paid*
# attempt. Below, a SAC top level after two small rounds, read on its own replay at z = the prior's mean:

# %%
sac_agent, _ = train_peach(seed=0, progress=False, rounds=2, eval_every=2, top_learner="sac", **{**small, "meta_test_episodes": 2})
sac_top = sac_agent.top
rows = sac_agent.rl_buffer.sample(256, [t for t in range(len(train_tasks)) if sac_agent.rl_buffer.size(t)], generator=torch.Generator().manual_seed(0))
rows = {key: rows[key] for key in ("obs", "action", "reward", "next_obs", "goal", "done")}
z_prior_mean = torch.zeros(*rows["reward"].shape, sac_top.cond_dim)
unpaid = rows["reward"] == -1.0
learned_log_alpha = sac_top.log_alpha.detach().clone()
at_bound = {}
for alpha in (1.0, 0.3, 0.1, 0.01):
    with torch.no_grad():
        sac_top.log_alpha.fill_(math.log(alpha))
    at_bound[alpha] = float((sac_top.soft_targets(rows, z_prior_mean)[unpaid] >= 0.0).float().mean())
with torch.no_grad():
    sac_top.log_alpha.copy_(learned_log_alpha)
print(f"{int(unpaid.sum())} unpaid attempts; the share whose soft target sits at the bound 0, by α:",
      {alpha: round(share, 2) for alpha, share in at_bound.items()})
assert at_bound[1.0] > 0.5 and at_bound[0.01] == 0.0  # at α = 1 most unpaid targets equal a paid one's
assert all(a >= b for a, b in zip(list(at_bound.values()), list(at_bound.values())[1:]))  # fewer as α falls

# %% [markdown]
# Past the first rounds the bound no longer clips the targets: the policy narrows quickly, and the benchmark's scan
# (below) finds no unpaid target at the bound after round 25. `benchmarks/peach_top_learner.py` trains the route with a
# SAC top level on the route's seeds 0–4, beside the route's own runs (peach_elimination.json). It also trains the same
# agent sampling its subgoals in meta-test episodes too (`top_samples_in_meta_test`: SAC's own way to search), and
# the oracle-z top level with SAC beside HAC's (peach_maze.json). Two diagnostics separate the halves. The paid-context
# probe covers inference and control: given one paid attempt, does the agent return to the goal? The prior's site
# visits cover search: do greedy episodes on z ~ prior pass the sites?

# %%
top_bench = read_results("peach_top_learner")
tl = top_bench["headline"]
print(f"{'top level':42s} {'final':>5s}  {'IQM [95% CI]':17s} {'paid ctx':>8s} {'prior sites':>11s} {'start room':>10s}   per seed")
for arm, label in (("route", "HAC's (the route, seeds 0-4)"), ("sac", "SAC (seeds 0-4)"), ("sac_sampling", "SAC, sampling in meta-test (seeds 0-2)"),
                   ("sac_wide", "SAC, target entropy 0 (seeds 0-2)"),
                   ("hac_oracle", "HAC's, reading the goal (seeds 0-2)"), ("sac_oracle", "SAC, reading the goal (seeds 0-2)")):
    paid, sites = tl.get(f"{arm}_paid_context_success", math.nan), tl.get(f"{arm}_prior_sites_reached", math.nan)
    print(f"{label:42s} {success_with_ci(tl, arm)}  {paid:8.2f} {sites:11.1f} {tl[arm + '_train_start_room_share']:10.2f}   "
          f"{[round(r['final_success'], 2) for r in top_bench['details']['runs'][arm]]}")
print("SAC's scan (seeds 0-2), after rounds 1, 25, 50, 100, 150: α", [round(tl[f"scan_alpha_{r}"], 2) for r in (1, 25, 50, 100, 150)],
      "; unpaid targets at the bound", [round(tl[f"scan_unpaid_at_bound_{r}"], 2) for r in (1, 25, 50, 100, 150)])
print("how far the greedy subgoal moves with z ~ prior (maze units), SAC:", [round(tl[f"scan_z_spread_{r}"], 2) for r in (1, 25, 50, 100, 150)],
      "HAC's:", [round(tl[f"scan_hac_z_spread_{r}"], 2) for r in (1, 25, 50, 100, 150)])
display(show_figure("peach_top_learner"))
assert tl["sac_success"] < tl["route_success"] - 0.4 and tl["sac_prob_improvement"] < 0.5  # the text below
paid_per_seed = {arm: [round(r["paid_context_success"], 2) for r in top_bench["details"]["runs"][arm]] for arm in ("route", "sac")}
print("paid-context success per seed (0-4):", paid_per_seed)
route_left_home = [r["paid_context_success"] for r in top_bench["details"]["runs"]["route"] if r["train_attempt_room_shares"][0] < 0.99]
assert len(route_left_home) == 4  # seed 3's lower levels never leave the start room
assert tl["sac_paid_context_success"] > 0.85 * np.mean(route_left_home)  # inference and control mostly hold up
assert tl["sac_prior_sites_reached"] < 0.5 * tl["route_prior_sites_reached"]  # the search on the prior does not
assert tl["sac_train_start_room_share"] > tl["route_train_start_room_share"]
assert tl["sac_sampling_success"] < tl["route_success"] - 0.4 and tl["sac_sampling_prior_sites_reached"] < tl["route_prior_sites_reached"]
assert tl["sac_oracle_success"] < tl["hac_oracle_success"] == 1.0
assert tl["sac_wide_train_start_room_share"] > tl["sac_train_start_room_share"] - 0.05  # wider sampling: no farther
assert tl["sac_wide_paid_context_success"] < 0.5 * tl["sac_paid_context_success"] and tl["sac_wide_success"] <= tl["sac_success"]
assert tl["scan_unpaid_at_bound_1"] > 0 and tl["scan_unpaid_at_bound_25"] == 0.0 and tl["scan_alpha_150"] < 0.2
assert all(tl[f"scan_z_spread_{r}"] > 0.75 * tl[f"scan_hac_z_spread_{r}"] for r in (25, 50, 100, 150))  # z steers both
assert max(r["final_success"] for runs in top_bench["details"]["runs"].values() for r in runs) <= values.oracle_success

# %% [markdown]
# HAC's learner stays, and the diagnostics say why. Given one paid attempt, the SAC top level returns to its goal
# nearly as often as HAC's does on the four seeds whose lower levels leave the start room, so inference and control
# mostly work. What fails is the search. Greedy episodes on z ~ prior pass fewer than one of the three sites on
# average (HAC's: two), so the meta-test's first episodes almost never pay, and the posterior has nothing to narrow.
# In training, two thirds of its attempts end in the start room (HAC's: about half, counting seed 3, which never
# leaves it). Sampling the subgoals at meta-test, SAC's own way to search, does not bring the search back. Given the
# true goal, the SAC top level solves 8 of the 12 held-out tasks on every seed, where HAC's solves all 12. So part of
# the gap is the learner, even with inference taken away. The bound is not the cause: it clips the unpaid targets
# only in the first rounds, while α falls from 1 to about 0.1 over 150 rounds.
#
# A first explanation was that a SAC top level gets its variety from its own noise. Its greedy mean would then learn
# to ignore z, and every draw from the prior would send it to the same place. The scan rules that out for the first
# 150 rounds. At the states it trains on, its greedy subgoal moves with z ~ prior as far as HAC's does (the last line
# above: the mean distance of 16 draws' subgoals from their centroid). So z does steer the SAC top level, but its
# training attempts stay nearer home and its greedy episodes on the prior pass almost no site.
#
# A second explanation: its only subgoal noise is its own policy, which narrows below SAC's target entropy within about
# 100 rounds, while HAC adds fixed Gaussian noise throughout. The `sac_wide` row tests it, with the target entropy
# raised from −2 to 0, about 2.7 times the standard deviation. Its attempts end in the start room as often as before,
# and its paid-context success collapses: wider sampling blurs the subgoals the top level must hit, and does not
# explore farther. So why a SAC top level explores less far is still open. These are SB3's temperature settings and
# one wider target, on 5 and 3 seeds, not a tuned SAC. What the table does settle is the course's choice: HAC's
# learner at the top.

# %% [markdown]
# ### The benchmark's PEACH at work
#
# The benchmark's PEACH, seed 0, is in `data/checkpoints/peach_maze_eliminating.pt` (`python -m peach_lite train
# peach --preset maze-eliminating --seed 0`, the route above; its command and score are in `data/MANIFEST.json`).
# Below, its meta-test with Algorithm 2 as written: the success per episode, the belief's variance per episode, and
# the six episodes of a task it misses on the prior and then solves, with the same pictures as the first agent's. (The
# CLI's agent and the benchmark's seed-0 agent are the same, parameter for parameter.)

# %%
final_agent, _ = load_agent(checkpoints_dir() / "peach_maze_eliminating.pt", algorithm="peach")
final_result, final_traces = recorded_meta_test(final_agent)
per_episode_final = final_result.success.mean(axis=0)
print("PEACH (eliminating route), success per meta-test episode (12 held-out tasks):", np.round(per_episode_final, 2))
variance_per_episode = final_result.z_var.mean(axis=(0, 2))
print("belief variance per episode, mean over tasks (prior 1):", np.round(variance_per_episode, 3))
print("the HTR-else-HER agent's, for comparison:              ", np.round(htr_result.z_var.mean(axis=(0, 2)), 3))
print(f"variance in the episode after the first success: {variance_after_first_success(final_result):.2f} of the prior's")
late_final = [i for i in range(len(test_tasks)) if not final_result.success[i, 0] and final_result.success[i].any()]
assert per_episode_final.max() <= values.oracle_success + 1e-9
assert per_episode_final[-1] > per_episode_final[0] and per_episode_final[-1] > per_episode_htr[-1]
assert per_episode_final[0] < 0.5 < 0.8 < per_episode_final[2]  # the text below: a third on the prior, 0.8 by episode 3
assert variance_after_first_success(final_result) < 0.5  # a paid attempt narrows the belief
assert np.all(np.diff(variance_per_episode) < 0) and htr_result.z_var[:, 1].mean() > 1.0  # narrows each episode; HTR's widens first

# %%
task_index = late_final[0]
draw_meta_test(task_index, agent=final_agent, result=final_result, traces=final_traces)
first_final = int(np.argmax(final_result.success[task_index]))
print(f"task {task_index}: missed on the prior, first success in episode {first_final + 1}, "
      f"success in episodes {np.flatnonzero(final_result.success[task_index]) + 1}")
assert not final_result.success[task_index, 0] and final_result.success[task_index, first_final:].all()  # then it stays

# %% [markdown]
# Success climbs from a third on the prior (one site in three) to more than four tasks in five within three
# episodes, and the belief narrows with every episode of context, to a few hundredths of the prior's variance. The
# HTR-else-HER agent's belief first *widened* after an episode; this one's slots taught it that a context of failures
# leaves a few codes, and a context with a paid attempt leaves one. In the pictures the grey belief samples gather on
# one site once the goal has been found.

# %% [markdown]
# ### More data or more compute
#
# After 600 rounds PEACH stops at about four fifths of HAC given the goal. Those rounds took about 9 CPU-minutes a seed
# on this machine, a third of the issue's 30. Before looking for a better algorithm, two cheaper questions. How much can
# one meta-test of 12 tasks say? And would more of the same budget close the gap, and if so, is it the data or the
# compute? Start with the first, on the agent above. `repeated_meta_test` runs Algorithm 2 again on the same tasks,
# with fresh seeds for z, the actions and the starts:

# %%
from peach_lite.peach import EVAL_SEED
from peach_lite.posterior import repeated_meta_test

show_source(repeated_meta_test)
benchmark_reading = meta_test_success(final_agent, GymTaskEnvs(ENV_ID, seed=EVAL_SEED), test_tasks, seed=EVAL_SEED + 1)
more_readings = repeated_meta_test(final_agent, lambda seed: GymTaskEnvs(ENV_ID, seed=seed), test_tasks, repeats=8, seed=40_000)
more_finals = more_readings[:, :, -1].mean(axis=1)
print(f"peach_maze's meta-test of this agent: final-episode success {benchmark_reading.success[:, -1].mean():.2f}")
print(f"8 more meta-tests of the same agent: {np.round(more_finals, 2)}, mean {more_finals.mean():.2f}")
print("per held-out task, over the 8:", np.round(more_readings[:, :, -1].mean(axis=0), 2))
assert benchmark_reading.success[:, -1].mean() == maze_runs["peach"][0]["final_success"]  # the benchmark's seed-0 reading
assert more_finals.max() - more_finals.min() >= 0.2 and more_finals.min() < 0.6 and abs(more_finals.mean() - 2 / 3) < 0.05  # the text below

# %% [markdown]
# `benchmarks/peach_budget.py` asks the second question on the benchmark's three seeds. The `longer` arm trains the
# route for 1,800 rounds and reads the agent at 600, 1,200 and 1,800 (the global RNGs are put back after each
# reading, so the run goes on as if nothing had been read, and the 600-round reading *is* peach_maze's PEACH: the
# script checks it seed by seed). The `more_updates` arm spends the compute of 1,200 rounds on the data of 600: twice
# the top level's gradient steps per round and the lower levels' per episode. HAC without z trains 1,800 rounds too,
# so the issue's gain over it is also measured in the longer budget. Each agent is read as peach_maze reads it (one
# meta-test) and by 8 more meta-tests.

# %%
budget_bench = read_results("peach_budget")
bb = budget_bench["headline"]
readings = [("route", "PEACH, 600 rounds (peach_maze's)"), ("longer_1200", "PEACH, 1,200 rounds"), ("longer", "PEACH, 1,800 rounds"),
            ("more_updates", "PEACH, 600 rounds, 2x updates"), ("hac_no_z", "HAC without z, 600 rounds (peach_maze's)"),
            ("hac_no_z_longer", "HAC without z, 1,800 rounds")]
print(f"{'agent':34s} {'CPU-min':>7s} {'one meta-test':>13s} {'mean of 8':>9s}  {'IQM [95% CI] of the 8':21s} {'probe':>5s} {'var. after':>10s}")
for key, label in readings:
    print(f"{label:34s} {bb[key + '_train_minutes_per_seed']:7.1f} {bb[key + '_success']:13.2f} {bb[key + '_success_repeated']:9.2f}  "
          f"{bb[key + '_success_repeated_iqm']:.2f} [{bb[key + '_success_repeated_ci_low']:.2f}, {bb[key + '_success_repeated_ci_high']:.2f}]"
          f"{' ' * 6}{bb[key + '_probe_accuracy']:5.2f} {bb.get(key + '_variance_after_success', math.nan):10.2f}")
print(f"gain over HAC without z (the issue's target 0.2), one meta-test / mean of 8: {bb['route_gain_over_hac_no_z']:.2f} / "
      f"{bb['route_gain_over_hac_no_z_repeated']:.2f} at 600 rounds, {bb['longer_gain_over_hac_no_z']:.2f} / {bb['longer_gain_over_hac_no_z_repeated']:.2f} at 1,800")
print(f"one meta-test's spread over the 8 (standard deviation, mean over agents): {bb['repeat_sd']:.2f}")
for arm in ("longer_1200", "longer", "more_updates"):
    print(f"P({arm} > 600 rounds), mean of 8: {bb[arm + '_prob_improvement']:.2f} "
          f"[{bb[arm + '_prob_improvement_ci_low']:.2f}, {bb[arm + '_prob_improvement_ci_high']:.2f}]")
display(show_figure("peach_budget"))
assert bb["route_runs_matching_peach_maze"] == bb["hac_no_z_runs_matching_peach_maze"] == len(budget_bench["seeds"])  # the same agents
assert bb["route_success"] == headline["peach_success"] and bb["hac_no_z_success"] == headline["hac_no_z_success"]
assert max(bb[key + "_success_repeated"] for key, _ in readings) <= values.oracle_success
assert min(bb["route_gain_over_hac_no_z_repeated"], bb["longer_gain_over_hac_no_z"], bb["longer_gain_over_hac_no_z_repeated"]) >= 0.2  # the gain holds
assert abs(bb["hac_no_z_longer_success_repeated"] - 1 / 3) < 0.05  # one site of three
assert bb["route_success"] >= 0.8 > bb["route_success_repeated"]  # the text below: one meta-test flatters these agents
assert min(bb["longer_success_repeated"], bb["longer_1200_success_repeated"], bb["longer_success"]) >= 0.85 and bb["longer_train_minutes_per_seed"] <= 30
assert bb["more_updates_success_repeated"] > bb["route_success_repeated"] + 0.1 and bb["more_updates_probe_accuracy"] >= 0.9
assert bb["route_variance_after_success"] < bb["longer_1200_variance_after_success"] < bb["longer_variance_after_success"] and bb["longer_variance_after_success"] > 1.0
assert bb["longer_paid_context_success"] > bb["route_paid_context_success"] and bb["route_prior_sites_reached"] < bb["longer_prior_sites_reached"] == 3
assert bb["more_updates_success_repeated"] < 0.85 <= bb["more_updates_success"] and bb["more_updates_prior_sites_reached"] == 3
assert bb["more_updates_success_repeated"] - bb["route_success_repeated"] >= 0.5 * (bb["longer_1200_success_repeated"] - bb["route_success_repeated"])
assert min(bb["longer_probe_accuracy"], bb["longer_1200_probe_accuracy"]) > 0.85 and min(bb[k + "_paid_context_success"] for k in ("longer_1200", "longer", "more_updates")) > 0.9

# %% [markdown]
# Three findings, each on three seeds only.
#
# * **One meta-test says little.** The seed-0 agent scores 0.83 on the benchmark's meta-test, and from under 0.6 to 0.83
#   on eight more, two thirds on average. On the three benchmark agents the mean of eight meta-tests is below the issue's 0.8, while the
#   benchmark's one meta-test each passes it. So the "0.8 reached" row above is the luck of one draw. The repeated mean
#   is the number to trust, and the figure's first panel shows it.
# * **More of the same budget closes the gap to the oracle.** Still within the issue's 30 CPU-minutes a seed, the same
#   route trained for 1,200 or 1,800 rounds passes 0.85 of HAC given the goal on the mean of eight, and at 1,800 rounds
#   on the one meta-test too. Twice the gradient steps on the data of 600 rounds pass it on the one meta-test and
#   come just short on the mean of eight. The paid-context probe rises to about 1, and the prior's episodes reach all
#   three sites on every seed. Twice the updates on the same data bring about half of what 1,200 rounds (twice the
#   data *and* the updates) bring, so at 600 rounds the agent was under-trained as much as it was short of data. The
#   intervals of P(better than 600 rounds) span [0, 1] with three seeds, so these are measurements, not proofs. HAC
#   without z, trained as long, still commits to one site and succeeds a third of the time, so the issue's gain over
#   it holds at 1,800 rounds.
# * **The issue's variance measure moves away.** The variance after the first success grows with training, past the
#   prior's at 1,800 rounds, while the probe of the posterior mean stays near 0.9. So the issue's variance target moves
#   away as its success target comes within reach. The next section finds where that variance sits.
#
# peach_maze's default stays at 600 rounds. Its baselines would need the same longer budget before the comparison
# above could use it, which is a rerun of every method.

# %% [markdown]
# ### Why the variance grows
#
# The issue's variance target is a mean over z's five dimensions, and three sites need only two of them (any three
# points lie in a plane). Nothing in Algorithm 1 asks the posterior to use the other three, and the route's KL weight,
# 0.001, barely holds them at the prior. So the number can grow for two different reasons. Either the belief about the
# site widens, or the site stays pinned in a few dimensions while the dimensions that carry nothing drift.
# `variance_decomposition` tells the two apart. For each dimension of z it puts the variance after the first success
# beside the *separation*: how far apart the sites' mean beliefs lie there, over the posterior's own standard deviation.
# The sites' mean beliefs come from the train tasks' final posterior means, as the linear probe reads them. A dimension
# with separation of at least 1 carries the site. It also draws samples z ~ q(z | c) after the first success and counts
# those nearest their own site's mean belief, a reading that does not depend on z's scale. `diagnose` returns the
# decomposition with every reading (`variance_parts`). Here it is on the benchmark's seed-0 agent:

# %%
from peach_lite.peach_diagnostics import diagnose
from peach_lite.posterior_variance import variance_decomposition

show_source(variance_decomposition)
parts = diagnose(final_agent, ENV_ID)["variance_parts"]
carries = np.array(parts["per_dim_separation"]) >= 1
print(f"{'dimension of z':>14s} {'variance after 1st success':>27s} {'spread of site means':>21s} {'separation':>10s}  carries the site")
for d, (var, spread, sep) in enumerate(zip(parts["per_dim_variance"], parts["per_dim_spread"], parts["per_dim_separation"])):
    print(f"{d:14d} {var:27.3f} {spread:21.3f} {sep:10.2f}  {'yes' if sep >= 1 else 'no'}")
print(f"the issue's measure (mean over dimensions) {parts['variance_after_success']:.3f}; in the {parts['site_dims']:.0f} dimensions "
      f"that carry the site {parts['site_dims_variance']:.3f}, in the rest {parts['other_dims_variance']:.3f}; "
      f"samples on their own site {parts['samples_on_site']:.2f}")
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
colors = ["tab:green" if c else "tab:gray" for c in carries]
axes[0].bar(range(len(carries)), parts["per_dim_variance"], color=colors)
axes[0].axhline(0.2, ls="--", color="k", label="the issue's target (0.2)")
axes[0].axhline(1.0, ls=":", color="k", label="the prior (1)")
axes[0].set(xlabel="dimension of z (green: carries the site)", ylabel="posterior variance", title="variance after the first success")
axes[0].legend(fontsize=8)
axes[1].bar(range(len(carries)), parts["per_dim_separation"], color=colors)
axes[1].axhline(1.0, ls="--", color="k", label="separation 1")
axes[1].set(xlabel="dimension of z", ylabel="site spread / posterior std", title="how far apart the sites lie")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
assert parts["variance_after_success"] == maze_runs["peach"][0]["variance_after_success"]  # the benchmark's number, taken apart
assert parts["site_dims"] >= 2 and parts["site_dims_variance"] < 0.2 and parts["site_dims_variance"] < parts["other_dims_variance"]
assert int(np.argmax(parts["per_dim_variance"])) not in np.flatnonzero(carries)  # the widest dimension carries nothing

# %% [markdown]
# On this agent the widest dimension after a success is one that carries no site. `benchmarks/peach_variance.py`
# retrains peach_budget's `longer` runs, the same runs bit for bit (it checks the readings seed by seed), saves each
# agent at 600, 1,200 and 1,800 rounds, and takes every reading apart this way.

# %%
variance_bench = read_results("peach_variance")
vb = variance_bench["headline"]
print(f"{'PEACH, rounds':14s} {'issue: mean over dims':>21s} {'site dims':>9s} {'their variance':>14s} {'the others':>10s} "
      f"{'separation':>10s} {'samples on site':>15s} {'success (mean of 8)':>19s}")
for prefix, latent_dim in (("", 5), ("latent2_", 2)):
    for r in ("600", "1200", "1800"):
        key = f"{prefix}r{r}"
        print(f"{r + ', latent_dim ' + str(latent_dim):14s} {vb[key + '_variance_after_success']:21.2f} {vb[key + '_site_dims']:9.1f} "
              f"{vb[key + '_site_dims_variance']:14.3f} {vb.get(key + '_other_dims_variance', math.nan):10.2f} "
              f"{vb[key + '_site_dims_separation']:10.1f} {vb[key + '_samples_on_site']:15.2f} {vb[key + '_final_success_repeated']:19.2f}")
display(show_figure("peach_variance"))
assert vb["runs_matching_peach_budget"] == len(variance_bench["seeds"])  # peach_budget's agents
assert vb["r600_variance_after_success"] == headline["variance_after_success"]  # and peach_maze's at 600 rounds
assert max(vb[f"r{r}_site_dims_variance"] for r in ("600", "1200", "1800")) < 0.1  # the site stays pinned
assert max(row["site_dims_variance"] for r in ("600", "1200", "1800") for row in variance_bench["details"]["readings"][f"r{r}"]) < 1 / 6
assert vb["r600_other_dims_variance"] < vb["r1200_other_dims_variance"] < vb["r1800_other_dims_variance"] and vb["r1800_other_dims_variance"] > 1.5
assert vb["r1800_site_dims"] < 3 < vb["r600_site_dims"]  # the site moves into fewer dimensions
assert min(vb[f"r{r}_samples_on_site"] for r in ("600", "1200", "1800")) > 0.9 and max(vb[f"r{r}_mean_rms"] for r in ("600", "1200", "1800")) < 1.5
assert max(vb[f"latent2_r{r}_variance_after_success"] for r in ("600", "1200", "1800")) < 0.2  # two dimensions: the measure passes
assert all(vb[f"latent2_r{r}_final_success_repeated"] < vb[f"r{r}_final_success_repeated"] for r in ("600", "1200", "1800"))  # and success falls

# %% [markdown]
# Two findings, on three seeds.
#
# * **The belief about the site stays sharp; the dimensions that carry nothing drift.** In the dimensions that carry
#   the site, the variance after the first success stays under a tenth of the prior's on average at every reading,
#   and under a sixth on every seed. That is inside the issue's 0.2. As training goes on, the encoder packs the site into fewer dimensions (about two, the
#   fewest three sites need). It leaves the other dimensions to grow past the prior, and they are what lifts the mean
#   over five dimensions from 0.21 to above 1. The drifting dimensions separate nothing, and only the route's small KL
#   weight holds them. z's scale does not run away (the means' root mean square stays near 1), and most samples of z
#   still land nearest their own site's mean belief.
# * **Take the spare dimensions away, and the measure passes but success falls.** With `latent_dim` 2 (the `latent_2`
#   arm, the same route otherwise) no dimension is free. The issue's measure passes at every reading, yet the mean of 8
#   meta-tests stays below the five-dimensional agent's at 600, 1,200 and 1,800 rounds. At 600 rounds the
#   five-dimensional encoder spreads the site over three or four dimensions, and only later packs it into two. The
#   spare dimensions are room it uses while it learns. Why that helps is not measured here.
#
# So the variance target, as the issue states it, is met in the dimensions that carry the task and missed in the mean
# over all of z. A z sized to the task meets it literally, at a cost in success that this budget does not win back.
# The xfail in tests/test_peach_results.py quotes both readings.

# %% [markdown]
# ### A continuous hidden goal: which half fails
#
# The issue's second family, `peach_lite/PointMazeHiddenRegion-v0`: the goal lies anywhere along an L-shaped band
# through rooms 1, 2 and 3, so no short list of sites covers it. The benchmark trains three diagnostics on it (seed 0,
# 600 rounds, the route above without the slots: a dense row's failure rules out nothing exactly): PEACH with the
# sparse context; PEACH whose context rows carry the **dense** reward, -distance to the goal (PEARL's diagnostic
# variant; the RL reward stays sparse); and the **oracle-z** top level, handed the goal. The probe's label is the goal's
# room.

# %%
diagnostics = record["details"]["diagnostics"]
for name, label in [("oracle_region", "oracle z (goal given)"), ("sparse_region", "PEACH, sparse context"),
                    ("dense_context", "PEACH, dense context")]:
    d = diagnostics[name]
    print(f"{label:22s} success per episode {np.round(d['success_per_episode'], 2)}; paid context "
          f"{d.get('paid_context_success', float('nan')):.2f}; probe {d['probe_accuracy']:.2f}; "
          f"best meta-test while training {max(d['curve_success']):.2f}")
sparse_band, dense_band = diagnostics["sparse_region"], diagnostics["dense_context"]
assert diagnostics["oracle_region"]["final_success"] >= 0.9  # the text below: control reaches the band
assert sparse_band["success_per_episode"][-1] > sparse_band["success_per_episode"][0]  # inference at work
assert sparse_band["success_per_episode"][0] < 0.5 < sparse_band["paid_context_success"]  # reading beats searching
assert dense_band["final_success"] < sparse_band["final_success"] and dense_band["paid_context_success"] < 0.1
assert dense_band["probe_accuracy"] > 2 / 3 and max(dense_band["curve_success"]) < 1 / 3  # z knows the room; the top level never learned

# %% [markdown]
# Read it half by half, as on the sites:
#
# * **Control and credit assignment** are not the wall: handed the goal, the same learner reaches every held-out point
#   of the band.
# * **Reading a paid context** mostly works: with the sparse context, a context that holds one paid attempt brings
#   PEACH back to the goal in most tasks, and its success rises over the meta-test episodes. What fails is the
#   **search**: the prior episode pays in a quarter of the tasks, and a band has no short list of sites to rule out.
# * The **dense context** should make inference easy (every row says how far the goal is), and it does the opposite.
#   Its posterior mean still names the goal's room, but its top level never learned to act on z: a paid context
#   brings it to the goal in no task, and no meta-test while training passed a quarter. A richer context is no
#   shortcut here, because the top level must still learn to read what z carries. One likely reason is that z moves
#   with every row's distance, which is a noisier signal to learn from than paid and unpaid attempts. That reason is
#   a hypothesis; this diagnostic runs one seed and does not test it.

# %% [markdown]
# ### PEARL's point robot, head to head
#
# `benchmarks/peach_point_robot.py` puts PEACH (a 2-level hierarchy on `peach_lite/PointRobotHidden-v0`) against
# PEARL with hindsight task relabelling (lesson 05) on PEARL's own sparse point robot, in the same train CPU time and
# under the same meta-test protocol (20 trajectories per goal, the first 5 on prior z). The score is the final
# trajectory's success as a fraction of the oracle's.

# %%
robot = read_results("peach_point_robot")
r = robot["headline"]
print(f"seeds {robot['seeds']}; {robot['details']['protocol']}")
for label, key in (("PEACH", "point_robot_fraction_of_oracle"), ("PEARL (HTR)", "pearl_point_robot_fraction_of_oracle")):
    print(f"{label:12s} fraction of the oracle {r[key]:.3f}  (IQM {r[key + '_iqm']:.3f}, 95% CI [{r[key + '_ci_low']:.3f}, {r[key + '_ci_high']:.3f}])")
print(f"PEACH: success on prior z {r['peach_prior_success']:.3f}, goals explored {r['peach_explored_share']:.2f}, "
      f"paid-context success {r['peach_paid_context_success']:.2f}")
assert 0.0 <= r["point_robot_fraction_of_oracle"] <= 1.0 and 0.0 <= r["pearl_point_robot_fraction_of_oracle"] <= 1.0
assert r["peach_paid_context_success"] < 0.5  # the text below: even a paid context rarely brings it back
display(show_figure("peach_point_robot"))

# %% [markdown]
# Neither agent gets far on the sparse semicircle in this budget, and PEACH (Algorithm 1 with hindsight goals) trails
# PEARL: it explores a similar share of goals on prior z, but even a context holding a paid attempt rarely brings it
# back, the maze's inference wall in another task family.
#
# ### Transfer: same dynamics, a new reward
#
# The poster's open question: do a trained hierarchy's lower levels transfer to new goals in the same maze?
# `benchmarks/peach_transfer.py` trains PEACH on the source sites, then on a target distribution (start in room 2,
# sites in rooms 0, 1 and 3) trains, for the same 600 rounds the source had:
#
# * **frozen**: the source's lower levels, frozen, under a fresh top level and encoder (`transfer_agent`, the issue's
#   transfer);
# * **fine-tuned**: the same frozen lower levels under the source's own top level and encoder, trained on
#   (`top="copied"`);
# * **unfrozen**, a diagnostic: the copied lower levels keep learning under a fresh top level (`freeze=False`);
# * **scratch**: a whole new PEACH.

# %%
from peach_lite.peach_transfer import lower_level_reach, transfer_agent

show_source(transfer_agent)
show_source(lower_level_reach)

# %%
transfer = read_results("peach_transfer")
t, transfer_labels = transfer["headline"], transfer["details"]["arm_labels"]
transfer_arms = ("frozen", "finetuned", "unfrozen", "scratch")
print(f"seeds {transfer['seeds']}, {t['target_rounds']:.0f} target rounds; source success {t['source_success']:.2f}")
for arm in transfer_arms:
    print(f"  {transfer_labels[arm]:<40} final {t[f'{arm}_final_success']:.2f}, mean over the meta-tests "
          f"{t[f'{arm}_curve_mean_success']:.2f}, env steps to 0.8 {t[f'{arm}_steps_to_80']:>9,.0f}")
print(f"steps to 0.8 over scratch's: frozen {t['transfer_steps_ratio']:.2f} (target <= 0.5), fine-tuned "
      f"{t['finetune_steps_ratio']:.2f}, unfrozen {t['unfrozen_steps_ratio']:.2f}; main-arm runs that never reached 0.8: "
      f"{t['censored_runs']:.0f} of {3 * len(transfer['seeds'])}")
runs_by_seed = dict(zip(transfer["seeds"], transfer["details"]["runs"]))
for seed, run in runs_by_seed.items():
    print(f"seed {seed} (source {run['source_success']:.2f}):")
    for arm in transfer_arms:
        print(f"  {arm:<10}{np.round(run[arm]['curve_success'], 2)}")
oracle_transfer = transfer["details"]["oracle_seed0"]
print(f"seed 0, every target top level handed the goal ({t['oracle_rounds']:.0f} rounds), env steps to 0.8: "
      + ", ".join(f"{arm} {t[f'oracle_{arm}_steps_to_80']:,.0f}" for arm in ("frozen", "unfrozen", "scratch")))
source_room_shares = np.mean([r["train_attempt_room_shares"] for r in maze_runs["peach"]], axis=0)
print(f"where the sources' training attempts ended, rooms 0-3 (mean over seeds): {np.round(source_room_shares, 2)}")
reach_per_room = lower_level_reach(final_agent)  # seed 0's source: the checkpoint of "at work" above
print(f"its bottom level, subgoals 1.5 away inside each room 0-3, reached: {np.round(reach_per_room, 2)}")
display(show_figure("peach_transfer"))
assert t["transfer_steps_ratio"] > 1 and t["finetune_steps_ratio"] > 1  # the text below: no frozen arm is faster
assert all(run[arm]["censored"] for run in runs_by_seed.values() for arm in ("frozen", "finetuned"))  # never 0.8
assert sum(not run["scratch"]["censored"] for run in runs_by_seed.values()) == 2  # two scratch runs reach it
assert t["frozen_final_success"] < min(t[f"{arm}_final_success"] for arm in ("finetuned", "unfrozen", "scratch"))
assert t["frozen_curve_mean_success"] < min(t[f"{arm}_curve_mean_success"] for arm in ("finetuned", "unfrozen", "scratch"))
assert abs(t["unfrozen_final_success"] - t["scratch_final_success"]) <= 0.1  # copies left learning: level with scratch
assert t["finetuned_curve_mean_success"] >= t["scratch_curve_mean_success"]  # the source's top level: scratch's area
assert t["oracle_frozen_steps_to_80"] < t["oracle_unfrozen_steps_to_80"] <= t["oracle_scratch_steps_to_80"]  # the goal given
assert t["oracle_frozen_final_success"] == t["oracle_unfrozen_final_success"] == t["oracle_scratch_final_success"] == 1.0
assert source_room_shares[2] < 0.1 < 0.3 < source_room_shares[0]  # the target's start room: rarely reached by the sources
assert reach_per_room.min() >= 0.9  # ... and yet the bottom level moves there as well as anywhere

# %% [markdown]
# Every agent here trains on the benchmark's route (`ELIMINATING_ROUTE`; the sources are the benchmark's PEACH runs).
# No transfer halves the steps to 0.8: neither frozen arm reaches 0.8 on any seed within 600 rounds, while two of
# three scratch runs do, so `transfer_steps_ratio` is above 1. The target is not met.
#
# The diagnostics separate the halves:
#
# * **With the goal handed to the top level** (task inference solved, seed 0), the frozen lower levels solve every
#   target task at the first meta-test, about 27k env steps; copies that keep learning and a fresh hierarchy need about
#   twice that. So the lower levels carry over, and for a top level that knows where to go, freezing them is best:
#   seed 0's bottom level reaches every subgoal 1.5 away in every room, room 2 included, though under one in ten of
#   the sources' attempts ended there.
# * **Under PEACH's own top level**, which must search, the frozen arm ends lowest (final success and area under the
#   curve), while the same copies left learning (unfrozen) end level with scratch. So what holds the frozen arm back
#   is that its lower levels no longer learn. The fixed-source check below tests this on 8 target seeds, shows where
#   the frozen arm's collections stop, and which moves the frozen levels would have had to learn.
# * **The source's top level and encoder** (fine-tuned) raise the frozen arm's curve to scratch's area: what the top
#   level knows of searching the maze carries over, but the new goals still have to be inferred and found.
#
# Three seeds and twelve held-out tasks per meta-test make each curve noisy (it swings by a third between
# evaluations), so the gaps between the arms that learn are within the noise; only the frozen arm's deficit holds on
# every measure here. The transfer that does work is the lower levels' control, once the top level knows the goal.
#
# **One source, eight target seeds.** Each main seed has its own source, so its arms' gaps mix sources with target
# seeds. The fixed-source diagnostic keeps seed 0's source and varies only the target seed, with the frozen, unfrozen
# and scratch arms (where its runs overlap the main sweep's they are the same runs, bit for bit: tested). For every
# run it also reads where the training collections' attempts ended (`train_exploration`).

# %%
fixed_runs = transfer["details"]["fixed_source_runs"]
fixed_arms = ("frozen", "unfrozen", "scratch")
start_room = transfer["details"]["target_env_kwargs"]["start_room"]
print(f"seed 0's source, {len(fixed_runs)} target seeds, {t['target_rounds']:.0f} rounds each:")
fixed_rooms = {}
for arm in fixed_arms:
    key = f"fixed_source_{arm}"
    fixed_rooms[arm] = np.mean([r[arm]["train_exploration"]["attempt_room_shares"] for r in fixed_runs], axis=0)
    print(f"  {transfer_labels[arm]:<36} final {t[key + '_final_success_mean']:.2f} (IQM {t[key + '_final_success_iqm']:.2f} "
          f"[{t[key + '_final_success_ci_low']:.2f}, {t[key + '_final_success_ci_high']:.2f}]), mean over the meta-tests "
          f"{t[key + '_curve_mean_success']:.2f}, runs reaching 0.8: {sum(not r[arm]['censored'] for r in fixed_runs)} of {len(fixed_runs)}")
    print(f"  {'':<36} while training: attempts ending in rooms 0-3 {np.round(fixed_rooms[arm], 2)}, collections' success "
          f"{t[key + '_train_success_mean']:.2f}")
for name, label in (("frozen_over_scratch_final", "P(frozen > scratch), final"),
                    ("frozen_over_scratch_curve_mean", "P(frozen > scratch), mean over the meta-tests"),
                    ("frozen_over_unfrozen_final", "P(frozen > unfrozen), final")):
    print(f"{label:<48} {t[f'fixed_source_{name}_prob_improvement']:.2f} "
          f"[{t[f'fixed_source_{name}_prob_improvement_ci_low']:.2f}, {t[f'fixed_source_{name}_prob_improvement_ci_high']:.2f}]")
print(f"env steps to 0.8, frozen over scratch: {t['fixed_source_transfer_steps_ratio']:.2f} "
      f"({t['fixed_source_censored_runs']:.0f} of {3 * len(fixed_runs)} runs never reach 0.8)")
others = ("unfrozen", "scratch")
start_share = {arm: [r[arm]["train_exploration"]["attempt_room_shares"][start_room] for r in fixed_runs] for arm in fixed_arms}
assert len(fixed_runs) >= 8
assert t["fixed_source_frozen_over_scratch_final_prob_improvement_ci_low"] < 0.5 < t["fixed_source_frozen_over_scratch_final_prob_improvement_ci_high"]
assert t["fixed_source_frozen_over_scratch_curve_mean_prob_improvement_ci_low"] < 0.5 < t["fixed_source_frozen_over_scratch_curve_mean_prob_improvement_ci_high"]
assert t["fixed_source_frozen_over_unfrozen_final_prob_improvement_ci_high"] < 0.5  # the copies left learning: ahead
assert sum(not r["unfrozen"]["censored"] for r in fixed_runs) > max(sum(not r[arm]["censored"] for r in fixed_runs) for arm in ("frozen", "scratch"))
assert all(f > max(u, s) for f, u, s in zip(*(start_share[arm] for arm in fixed_arms)))  # every seed: frozen stays home
assert fixed_rooms["frozen"][0] < 0.25 * min(fixed_rooms[arm][0] for arm in others)  # and hardly ever ends in room 0

# %% [markdown]
# Read it arm against arm:
#
# * **Frozen against scratch: not told apart.** On final success P(frozen > scratch) is about a third with a
#   confidence interval that spans one half, and on the mean over the meta-tests it is one half. With the source
#   held fixed, the main sweep's "frozen ends below scratch" is within the spread between runs.
# * **Frozen against the copies left learning: behind.** The unfrozen arm ends highest, P(frozen > unfrozen) has its
#   whole interval below one half, and it reaches 0.8 on most seeds where the frozen arm reaches it on one. The same
#   lower levels do better when they keep learning on the new goals.
# * **Where the collections stop.** On every seed the frozen arm's training attempts end in the start room (2) more
#   often than either other arm's, and they almost never end in room 0, which holds a third of the target's sites
#   and is the source's start room. Room 0 is where the copies left learning go and the frozen ones do not.
#
# **Which crossings do the frozen levels make?** A controlled check on seed 0's source first. `doorway_reach` draws
# pairs of points in neighbouring rooms, at most 1.5 apart along the maze (`maze_path_length`: one attempt's reach),
# starts the mass at rest on one and gives the bottom level the other as its subgoal, then runs the same pairs the
# other way. A gap between the two directions is what the level practised, not how far it had to go.

# %%
from peach_lite.peach_transfer import bottom_level_reaches, doorway_reach

show_source(bottom_level_reaches)
show_source(doorway_reach)
crossings = doorway_reach(final_agent, num_pairs=256)  # seed 0's source, the frozen arm's lower levels
doorways = [(0, 1), (0, 3), (1, 2), (2, 3)]
for a, b in doorways:
    print(f"  room {a} -> room {b}: {crossings[a, b]:.2f}    room {b} -> room {a}: {crossings[b, a]:.2f}")
out_of_source_start = [crossings[0, 1], crossings[0, 3]]
other_crossings = [crossings[a, b] for a, b in doorways + [(b, a) for a, b in doorways] if a != 0]
assert min(out_of_source_start) >= 0.7 and min(out_of_source_start) > max(other_crossings) + 0.1  # the practised way: out of room 0
assert crossings[0, 1] - crossings[1, 0] >= 0.2 and crossings[0, 3] - crossings[3, 0] >= 0.2  # the same pairs, reversed
assert max(crossings[2, 1], crossings[2, 3]) <= 0.55  # out of the target's start room: about half

# %% [markdown]
# Out of room 0, where every source attempt began, the frozen bottom level makes about four crossings in five; the same
# pairs the other way about half, and every other doorway between two in five and two in three. The frozen levels are
# best at the moves the source practised. The target's search needs the others: out of room 2, its start (about half),
# and into room 0, where a third of its sites are.
#
# **What the top level asked while training, and what the levels below did.** Each PEACH logs every training
# attempt's start, its top level's proposal, and whether the level below missed it (`PEACH.proposal_log`).
# `proposal_reach` counts them per run by path length along the maze and by start and proposed room, and
# `proposal_summary` pools the counts into shares. The benchmark recorded them for every run of the fixed-source
# diagnostic.

# %%
from peach_lite.peach_transfer import proposal_reach, proposal_summary

show_source(proposal_reach)
show_source(proposal_summary)
summary_labels = {"proposals_beyond_reach": "proposed over 2.0 along the maze from the start (out of reach)",
                  "missed_near": "proposed within 1.5: missed by the level below",
                  "missed_near_leaving_start": "  ... of those out of the start room (2): missed",
                  "room0_proposals": "proposed in room 0",
                  "room0_proposals_near": "proposed into room 0 from another room: within 1.5",
                  "missed_near_into_room0": "  ... of those: missed"}
print(f"{'training proposals, pooled over the target seeds':<66}" + "".join(f"{arm:>10}" for arm in fixed_arms))
for key, label in summary_labels.items():
    print(f"{label:<66}" + "".join(f"{t[f'fixed_source_{arm}_train_{key}']:>10.2f}" for arm in fixed_arms))
per_seed = {arm: [proposal_summary([r[arm]["proposal_reach"]], start_room) for r in fixed_runs] for arm in fixed_arms}
seed_rows = {key: {arm: [row[key] for row in per_seed[arm]] for arm in fixed_arms} for key in ("missed_near_leaving_start", "room0_proposals_near")}
for key, rows in seed_rows.items():
    print(f"{key}, seed by seed:")
    for arm in fixed_arms:
        print(f"  {arm:<10}{np.round(rows[arm], 2)}")
print(f"the frozen arm's final success, seed by seed: {np.round([r['frozen']['final_success'] for r in fixed_runs], 2)}")
pooled = {key: {arm: t[f"fixed_source_{arm}_train_{key}"] for arm in fixed_arms} for key in summary_labels}
assert max(pooled["proposals_beyond_reach"].values()) - min(pooled["proposals_beyond_reach"].values()) <= 0.05  # as far
assert all(f > max(u, s) for f, u, s in zip(*seed_rows["missed_near_leaving_start"].values()))  # every seed
assert pooled["missed_near_leaving_start"]["frozen"] >= 1.4 * max(pooled["missed_near_leaving_start"][arm] for arm in others)
assert pooled["room0_proposals_near"]["frozen"] < min(pooled["room0_proposals_near"][arm] for arm in others)
assert sum(f < 0.3 * min(u, s) for f, u, s in zip(*seed_rows["room0_proposals_near"].values())) >= len(fixed_runs) / 2
assert max(pooled["missed_near_into_room0"].values()) - min(pooled["missed_near_into_room0"].values()) <= 0.1  # once near
frozen_final = [r["frozen"]["final_success"] for r in fixed_runs]
assert np.argmax(frozen_final) == np.argmax(seed_rows["room0_proposals_near"]["frozen"])  # its best run: nearest room 0

# %% [markdown]
# Read it as a chain:
#
# * **The frozen arm's top level asks no more of its levels than the others do.** In every arm about two proposals in
#   five lie beyond one attempt's reach.
# * **Its frozen levels miss the moves out of the start room**: about three in five of the near proposals from room 2
#   into another room, on every seed, against about one in three for levels that learn on the target. That is the
#   crossing the controlled check found the source's level makes about half the time.
# * **So its search seldom gets near room 0.** Pooled, a smaller share of its proposals into room 0 are made from
#   within reach (a little over half the others'), and on most seeds hardly any. The near ones it does make are missed about as often as the other
#   arms' (about half): room 0 is not beyond the frozen levels once the search gets close. The frozen run that ended
#   highest (seed 2, 0.92) is the one whose search got near room 0 most often.
#
# The source's lower levels keep the source's habits: they learned the crossings its search made, out of room 0. A top
# level handed the goal gets by with them (the oracle diagnostic above), but a top level that searches from room 2
# needs levels that leave room 2, and frozen levels cannot learn to. Copies that keep learning miss a third of those
# moves instead of three in five, which is why that arm leads. So the next route: a source whose levels practise every
# crossing before they are frozen.

# %% [markdown]
# **A source whose lower levels practised every crossing.** `practise_lower_levels` gives the source's lower levels
# reward-free practice before they are frozen. Each episode starts at rest anywhere in the maze (`RandomStart`); at
# every attempt the top level's proposal is replaced by a point within one attempt's reach (1.5 along the maze) and
# across a doorway wherever one is that near (`reachable_subgoal`), so the levels practise every crossing, both ways.
# They learn with HAC's own hindsight updates; the top level, the posterior and PEACH's buffers are left alone. The
# benchmark's `practised` diagnostic practises seed 0's source for 3200 episodes, freezes it under a fresh top level,
# and trains that on the fixed-source diagnostic's 8 target seeds. Below, the drills practice sets from three starts
# in room 2, the target's start room.

# %%
from peach_lite.envs.point_mass import RandomStart, maze_path_length, room_of
from peach_lite.peach_transfer import practise_lower_levels, reachable_subgoal

show_source(RandomStart)
show_source(practise_lower_levels)
show_source(reachable_subgoal)
drill_starts = np.array([[1.9, 0.7], [0.6, 1.7], [2.5, 2.5]])  # room 2: beside each doorway, and far from both
drill_rng = np.random.default_rng(0)
drills = [np.stack([reachable_subgoal(start, 1.5, drill_rng, other_room=True) for _ in range(40)]) for start in drill_starts]
env.unwrapped.set_markers([])
fig, ax = plt.subplots(figsize=(4.2, 4.2))
ax.imshow(env.render(), extent=(-VIEW, VIEW, -VIEW, VIEW), alpha=0.6)
for k, (start, points) in enumerate(zip(drill_starts, drills)):
    ax.scatter(points[:, 0], points[:, 1], s=10, color=f"C{k}", alpha=0.7)
    ax.scatter(*start, s=60, color=f"C{k}", marker="*", edgecolor="k", label=f"start ({start[0]:.1f}, {start[1]:.1f})")
ax.set(title="practice subgoals (crossings where one is within reach)", xticks=[], yticks=[])
ax.legend(fontsize=7, loc="lower left")
plt.show()
for start, points in zip(drill_starts, drills):  # within one attempt's reach, and in another room where one is near
    assert np.all(maze_path_length(np.broadcast_to(start, points.shape), points) <= 1.5)
assert np.all(room_of(drills[0]) == 1) and np.all(room_of(drills[1]) == 3) and np.all(room_of(drills[2]) == 2)

# %%
practised_runs = transfer["details"]["practised_runs"]
before, after = (np.array(practised_runs[0][key]) for key in ("source_doorway_reach", "practised_doorway_reach"))
print(f"practice: {t['practice_episodes']:.0f} episodes, {t['practice_steps']:,.0f} env steps "
      f"(the source's training: {practised_runs[0]['source_steps']:,})")
print("doorway crossings of seed 0's source (256 pairs each), before -> after the practice:")
for a, b in doorways:
    print(f"  room {a} -> room {b}: {before[a, b]:.2f} -> {after[a, b]:.2f}    room {b} -> room {a}: {before[b, a]:.2f} -> {after[b, a]:.2f}")
compared = {"practised": ("practised_frozen", [r["frozen"] for r in practised_runs]),
            "frozen": ("fixed_source_frozen", [r["frozen"] for r in fixed_runs]),
            "scratch": ("fixed_source_scratch", [r["scratch"] for r in fixed_runs])}
print(f"\n{len(practised_runs)} target seeds, {t['target_rounds']:.0f} rounds each:")
for arm, (key, runs) in compared.items():
    print(f"  {arm:<10} final {t[key + '_final_success_mean']:.2f} (IQM {t[key + '_final_success_iqm']:.2f} "
          f"[{t[key + '_final_success_ci_low']:.2f}, {t[key + '_final_success_ci_high']:.2f}]), mean over the meta-tests "
          f"{t[key + '_curve_mean_success']:.2f}, runs reaching 0.8: {sum(not r['censored'] for r in runs)} of {len(runs)}, "
          f"near moves out of room 2 missed {t[key + '_train_missed_near_leaving_start']:.2f}, "
          f"proposals into room 0 made within reach {t[key + '_train_room0_proposals_near']:.2f}")
for name, label in (("practised_over_frozen_final", "P(practised > frozen), final"),
                    ("practised_over_scratch_final", "P(practised > scratch), final"),
                    ("practised_over_frozen_curve_mean", "P(practised > frozen), mean over the meta-tests"),
                    ("practised_over_scratch_curve_mean", "P(practised > scratch), mean over the meta-tests")):
    print(f"{label:<50} {t[f'{name}_prob_improvement']:.2f} "
          f"[{t[f'{name}_prob_improvement_ci_low']:.2f}, {t[f'{name}_prob_improvement_ci_high']:.2f}]")
print(f"env steps to 0.8 over scratch's: practised {t['practised_transfer_steps_ratio']:.2f}, "
      f"unpractised frozen {t['fixed_source_transfer_steps_ratio']:.2f} (target <= 0.5)")
for arm, (key, runs) in compared.items():
    print(f"  {arm:<10}final, seed by seed {np.round([r['final_success'] for r in runs], 2)}")
maze_rooms = {arm: np.mean([r["train_exploration"]["attempt_room_shares"] for r in runs], axis=0) for arm, (_, runs) in compared.items()}
maze_rooms["unfrozen"] = fixed_rooms["unfrozen"]
print(f"while training, attempts ending in rooms 0-3: " + ", ".join(f"{arm} {np.round(shares, 2)}" for arm, shares in maze_rooms.items()))
assert after[2, 1] >= before[2, 1] + 0.2 and after[2, 3] >= before[2, 3] + 0.2  # out of the target's start room
assert np.nanmin(after) >= np.nanmin(before) + 0.2  # and the weakest crossing
assert all(r["practised_doorway_reach"] == practised_runs[0]["practised_doorway_reach"] for r in practised_runs)  # one source
missed_leaving = {arm: t[f"{key}_train_missed_near_leaving_start"] for arm, (key, _) in compared.items()}
missed_leaving["unfrozen"] = t["fixed_source_unfrozen_train_missed_near_leaving_start"]
assert missed_leaving["practised"] <= 1.1 * min(missed_leaving["unfrozen"], missed_leaving["scratch"])  # as learning levels
assert missed_leaving["practised"] < 0.7 * missed_leaving["frozen"]
near_room0 = {arm: t[f"{key}_train_room0_proposals_near"] for arm, (key, _) in compared.items()}
assert near_room0["practised"] >= 1.5 * near_room0["frozen"] and near_room0["practised"] >= 0.9 * near_room0["scratch"]
assert np.abs(maze_rooms["practised"] - maze_rooms["unfrozen"]).max() <= 0.03  # its collections: where the unfrozen arm's go
assert t["practised_frozen_curve_mean_success"] > max(t["fixed_source_frozen_curve_mean_success"], t["fixed_source_scratch_curve_mean_success"])
assert t["practised_over_frozen_final_prob_improvement_ci_low"] < 0.5 < t["practised_over_frozen_final_prob_improvement_ci_high"]
assert t["practised_over_scratch_curve_mean_prob_improvement_ci_low"] < 0.5 < t["practised_over_scratch_curve_mean_prob_improvement_ci_high"]
assert t["practised_over_unfrozen_curve_mean_prob_improvement_ci_high"] < 0.5  # the copies left learning: still ahead
assert t["practised_transfer_steps_ratio"] > 0.5  # the target is not met

# %% [markdown]
# Read it as the chain above, link by link:
#
# * **The practice does what it is for.** The source's crossings out of room 2 rise from about half to about three in
#   four, and its weakest crossing from 0.42 to about two in three, for 137k reward-free env steps (the source trained
#   on about 317k; the lesson prints both).
# * **The search it was holding back is freed.** Under the target's own top level, the practised frozen levels miss
#   the near moves out of the start room about as rarely as levels that learn on the target (about a third, against
#   three in five before the practice). The search gets near room 0 as often as theirs, and the collections end in
#   the same rooms as the unfrozen arm's.
# * **The outcome moves less.** The area under the curve rises above the unpractised frozen arm's and scratch's, but
#   every interval spans one half. The env steps to 0.8 only come level with scratch (5 of 8 runs never get there),
#   and the copies left learning stay ahead (P(practised > unfrozen) on the area has its interval below one half).
#
# So the crossings explained the frozen arm's search, not all of its deficit. With the same collection statistics,
# lower levels that keep learning on the target still make a better meta-test. A frozen transfer that halves the
# steps to 0.8 needs more than practised crossings. Which moves the learning levels gain on the target is the next
# question; the benchmark would have to keep the arms' final lower levels to answer it.
