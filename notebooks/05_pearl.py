# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · PEARL: context variables and posterior sampling
#
# Most meta-RL methods of 2018 learned **on-policy**, and paid for it in samples. PEARL
# (Rakelly, Zhou, Quillen, Finn & Levine, ICML 2019, *"Efficient Off-Policy Meta-Reinforcement Learning
# via Probabilistic Context Variables"*) makes meta-RL **off-policy** by splitting it in two:
#
# * **meta-training**: learn a probabilistic encoder $q_\phi(z \mid c)$ that turns a few transitions
#   $c_n = (s_n, a_n, r_n)$ of a task into a belief over a latent task variable $z$, together with a SAC
#   actor-critic conditioned on $z$ (lesson 04);
# * **meta-testing**: sample $z$ from the belief and **hold it for a whole episode**. Each sample is a
#   hypothesis about the task, acted on coherently; as context accumulates the belief narrows. This is
#   posterior (Thompson) sampling, and it gives *temporally extended* exploration.
#
# PEACH (lesson 11) keeps exactly this encoder and hands $z$ to the top level of a HAC hierarchy.
# This lesson builds the encoder step by step and trains PEARL on the sparse point robot. Then it tells what
# happened when we did, honestly: the faithful PEARL, on a CPU budget, **does not learn the task**, and three
# diagnostics show why (the encoder never sees a paid context, so exploration and inference cannot bootstrap each
# other). *Hindsight task relabelling* (Packer, Abbeel & Gonzalez, NeurIPS 2021) breaks that loop, and we measure
# what it reaches.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from peach_lite import checks, show_source
from peach_lite.checkpoints import load_agent
from peach_lite.device import set_threads
from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.loop import GymTaskEnvs
from peach_lite.paths import data_dir
from peach_lite.pearl import EVAL_SEED, PEARL, PearlConfig, meta_train, pearl_kl_loss, pearl_q_target
from peach_lite.pearl_diagnostics import informative_context_probe, meta_test_curve, prior_rollout_spread
from peach_lite.pearl_relabel import HindsightStore, relabel_meta_batch
from peach_lite.posterior import ContextEncoder, ContextPosterior, act_on_belief, kl_to_prior, meta_test, product_of_gaussians

set_threads(1)  # small networks: one thread is about as fast, and never fights other processes for the cores
ENV_ID = "peach_lite/PointRobotSparse-v0"
envs = GymTaskEnvs(ENV_ID, seed=0)  # one point robot per task, stepped in lockstep (grows on demand)
test_tasks, train_tasks = envs.unwrapped.test_tasks(), envs.unwrapped.train_tasks()
test_goals = np.array([task.goal for task in test_tasks])
train_goals = np.array([task.goal for task in train_tasks])
oracle = point_robot_oracle_return(test_goals)
sweep = point_robot_sweep_returns(test_goals, num_episodes=20)
print(f"{len(train_goals)} train goals, {len(test_goals)} held-out test goals")
print(f"oracle (goal known) return per 20-step episode on the test goals: {oracle:.2f}")
print("sweep heuristic, episodes 1-6:", np.round(sweep[:6], 2))

# %% [markdown]
# ## The task: sparse navigation on a semicircle
#
# The point robot starts at $(0,0)$ and moves at most $0.1$ per axis and step, for 20 steps. Its goal is one
# of 100 points on the upper unit half-circle (80 for training, 20 held out, oyster's split). The reward is
# **sparse**: $1 - \lVert s - g\rVert$ inside radius $0.2$ of the goal, else $0$. An agent that does not know
# the goal sees nothing but zeros until it stumbles into the right disc, so it must explore, and remember.
# Two reference numbers are computed, not pasted: the **oracle** that knows the goal, and a hand-made
# **sweep** that walks along the arc and commits once it is paid (a near-Bayes-optimal explorer).
#
# *A detail that is easy to get wrong* (algorithms.md §0): PEARL trains SAC on the **dense** reward
# $-\lVert s-g \rVert$, while the encoder's context and the evaluation use the **sparse** one. Our env reports
# both in `info`.

# %%
fig, ax = plt.subplots(figsize=(4.2, 2.6))
ax.scatter(*train_goals.T, s=10, c="tab:gray", label="train goals (80)")
ax.scatter(*test_goals.T, s=18, c="tab:blue", label="test goals (20)")
ax.add_patch(plt.Circle(test_goals[0], 0.2, color="tab:blue", alpha=0.2, label="reward radius 0.2"))
ax.plot(0, 0, "k^", label="start")
ax.set(xlabel="x", ylabel="y", aspect="equal", xlim=(-1.3, 1.3), ylim=(-0.2, 1.3), title="sparse point robot")
ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0))
plt.show()

# %% [markdown]
# ## The encoder, step 1: one transition, one Gaussian factor
#
# An MLP $f_\phi$ reads one context transition $c_n = (s_n, a_n, r_n)$ and outputs a Gaussian **factor**
# $\Psi_\phi(z \mid c_n) = \mathcal N\big(f^\mu_\phi(c_n),\ \mathrm{softplus}(f^\sigma_\phi(c_n))\big)$ over
# the latent $z \in \mathbb R^5$: what this single transition says about the task.

# %%
show_source(ContextEncoder.factors)

# %%
torch.manual_seed(0)
encoder = ContextEncoder(context_dim=5, latent_dim=5, hidden=(200, 200, 200))
one_transition = torch.tensor([[[0.3, 0.9, 1.0, 0.5, 0.85]]])  # (tasks=1, N=1, s_x, s_y, a_x, a_y, r)
mu_n, var_n = encoder.factors(one_transition)
print("factor mean    ", mu_n.detach().numpy().round(4))
print("factor variance", var_n.detach().numpy().round(4))
assert mu_n.shape == var_n.shape == (1, 1, 5) and (var_n > 0).all()

# %% [markdown]
# ## Step 2: the product of Gaussians
#
# The posterior multiplies the factors: $q_\phi(z \mid c_{1:N}) \propto \prod_{n=1}^N \Psi_\phi(z \mid c_n)$.
# A product of Gaussians is Gaussian, with precisions adding up:
#
# $$\sigma^2 = \Big(\sum_n \sigma_n^{-2}\Big)^{-1}, \qquad \mu = \sigma^2 \sum_n \frac{\mu_n}{\sigma_n^{2}},$$
#
# each $\sigma_n^2$ clamped to at least $10^{-7}$ (oyster). Note what is **not** there: oyster multiplies
# no prior factor $\mathcal N(0, I)$ into the product; the prior enters only through the KL term below.

# %%
show_source(product_of_gaussians)

# %% [markdown]
# This is Bayes' rule in disguise. If every factor is $\mathcal N(x_n, s^2)$, the product must be the
# conjugate posterior of a Gaussian mean under a flat prior, $\mathcal N(\bar x, s^2/N)$; with the
# $\mathcal N(0, 1)$ prior as one more factor it must be $\mathcal N\big(\tfrac{\sum x_n/s^2}{1 + N/s^2},\ \tfrac{1}{1 + N/s^2}\big)$.
# For $N = 8$, $s^2 = 0.5$: variance $0.0625$, and $0.058824$ with the prior.

# %%
n, s2 = 8, 0.5
x = torch.randn(1, n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
mu_flat, var_flat = product_of_gaussians(x, torch.full_like(x, s2))
mu_prior, var_prior = product_of_gaussians(torch.cat([x, torch.zeros(1, 1, 1, dtype=torch.float64)], 1),
                                           torch.cat([torch.full_like(x, s2), torch.ones(1, 1, 1, dtype=torch.float64)], 1))
print(f"flat prior: mean {mu_flat.item():+.6f} (sample mean {x.mean().item():+.6f}), variance {var_flat.item():.6f}")
print(f"N(0,1) prior: mean {mu_prior.item():+.6f}, variance {var_prior.item():.6f}")
assert abs(var_flat.item() - 0.0625) < 1e-12 and abs(mu_flat.item() - x.mean().item()) < 1e-6
assert abs(var_prior.item() - 0.058824) < 1e-6 and abs(mu_prior.item() - (x.sum().item() / s2) / (1 + n / s2)) < 1e-6

# %%
grid = np.linspace(-3, 3, 400)
fig, ax = plt.subplots(figsize=(5.5, 2.6))
gauss = lambda m, v: np.exp(-0.5 * (grid - m) ** 2 / v) / np.sqrt(2 * np.pi * v)
for k in range(3):
    ax.plot(grid, gauss(x[0, k, 0].item(), s2), color="tab:gray", lw=1, label="factors $\\Psi(z|c_n)$" if k == 0 else None)
for k, color in [(1, "tab:orange"), (3, "tab:red"), (8, "tab:purple")]:
    m, v = product_of_gaussians(x[:, :k], torch.full_like(x[:, :k], s2))
    ax.plot(grid, gauss(m.item(), v.item()), color=color, lw=2, label=f"product of {k}")
ax.set(xlabel="z (one latent dimension)", ylabel="density", title="more context, narrower posterior")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Step 3: permutation invariance
#
# A sum of precisions does not care about order, so $q_\phi(z\mid c)$ is a function of the **set** of
# transitions: shuffling the context changes nothing. This is what lets PEARL sample context as unordered
# transitions, decorrelated from the RL batch (the paper's Figure 5 compares it with an RNN encoder that
# reads ordered trajectories).

# %%
context = torch.randn(3, 50, 5)  # (num_tasks, num_context, context_dim)
mu, var = encoder(context)
shuffled = context[:, torch.randperm(50)]
mu_s, var_s = encoder(shuffled)
print("max |change| after shuffling:", (mu - mu_s).abs().max().item(), (var - var_s).abs().max().item())
assert torch.allclose(mu, mu_s, atol=1e-6) and torch.allclose(var, var_s, atol=1e-6)

# %% [markdown]
# ## Step 4: the KL term
#
# In the package the encoder sits inside a `ContextPosterior`, the component PEARL and PEACH share: `prior`,
# `infer` (the product above), `sample` (reparameterised, so gradients reach the encoder) and `kl`.

# %%
show_source(ContextPosterior)

# %% [markdown]
# The encoder is regularised towards the prior $r(z) = \mathcal N(0, I)$ (an information bottleneck):
#
# $$\mathcal L_{KL} = \lambda_{KL} \sum_{\text{tasks}} D_{KL}\big(q_\phi(z \mid c_\text{task}) \,\Vert\, \mathcal N(0, I)\big),\qquad
# D_{KL} = \tfrac12 \sum_j \big(\sigma_j^2 + \mu_j^2 - 1 - \ln \sigma_j^2\big),$$
#
# a **sum** over the tasks of the meta-batch (not a mean), with $\lambda_{KL} = 1$ on the sparse point robot
# (0.1 by default).

# %%
show_source(kl_to_prior)

# %%
mu_t, var_t = torch.randn(16, 5), 0.05 + 2 * torch.rand(16, 5)
closed_form = pearl_kl_loss(mu_t, var_t, kl_lambda=1.0)
library = torch.distributions.kl_divergence(torch.distributions.Normal(mu_t, var_t.sqrt()),
                                            torch.distributions.Normal(0.0, 1.0)).sum()
print(f"closed form {closed_form.item():.5f}  torch.distributions {library.item():.5f}")
assert torch.allclose(closed_form, library, rtol=1e-5)

# %% [markdown]
# ### Exercise 1: the product of Gaussians
# Write `my_product_of_gaussians(mu, var)` for inputs of shape `(num_tasks, num_context, latent_dim)`,
# returning `(mu_post, var_post)` of shape `(num_tasks, latent_dim)`. Remember the clamp.

# %%
def my_product_of_gaussians(mu: torch.Tensor, var: torch.Tensor):
    # YOUR CODE HERE: replace the next line (hint: precisions add up along dim=-2)
    raise NotImplementedError


checks.check_product_of_gaussians(my_product_of_gaussians)

# %% [markdown]
# ### Exercise 2: the KL term
# Write `my_kl_loss(mu, var, kl_lambda)` for `(num_tasks, latent_dim)` posteriors: $\lambda$ times the KL to
# $\mathcal N(0, I)$, summed over latent dimensions and tasks.

# %%
def my_kl_loss(mu: torch.Tensor, var: torch.Tensor, kl_lambda: float) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


checks.check_kl_loss(my_kl_loss)

# %% [markdown]
# The checkers are honest both ways:

# %%
assert checks.check_product_of_gaussians(product_of_gaussians) and checks.check_kl_loss(pearl_kl_loss)
assert not checks.check_kl_loss(lambda m, v, lam: lam * kl_to_prior(m, v).mean())  # a mean over tasks is wrong

# %% [markdown]
# ## The critic, conditioned on z
#
# The actor-critic is lesson 04's SAC with $z$ appended to its inputs: $\pi_\theta(a\mid s,z)$,
# $Q_{1,2}(s,a,z)$ and, as in the original SAC paper and oyster, a state-value network $V(s,z)$ whose
# Polyak copy $\bar V$ gives the critic target. For a task with sampled $z$ (one sample per task, shared by its
# whole RL batch):
#
# $$y = \text{reward\_scale}\cdot r + (1 - d)\,\gamma\,\bar V(s', z), \qquad
# \mathcal L_Q = \mathbb E\big[(Q_1(s,a,z) - y)^2\big] + \mathbb E\big[(Q_2(s,a,z) - y)^2\big].$$
#
# There is no temperature $\alpha$: `reward_scale` (100 on the point robots, 5 by default) sets the
# trade-off between reward and entropy.

# %%
show_source(pearl_q_target)

# %% [markdown]
# ### Exercise 3: the context-conditioned critic target
# `target_value(obs, z)` takes `obs` of shape `(num_tasks, batch, obs_dim)` and `z` of shape
# `(num_tasks, batch, latent_dim)`; you get one `z` row per task. Return `y` of shape `(num_tasks, batch)`,
# with no gradient.

# %%
def my_q_target(target_value, reward, done, next_obs, z, *, reward_scale: float, gamma: float) -> torch.Tensor:
    # YOUR CODE HERE (hint: z.unsqueeze(1).expand(...), and torch.no_grad())
    raise NotImplementedError


checks.check_q_target(my_q_target)

# %%
assert checks.check_q_target(pearl_q_target)

# %% [markdown]
# ## One gradient step: which loss trains what
#
# Here is the whole update (oyster `sac.py::_take_step`), batched over tasks: every network reads
# `(num_tasks, batch, dim)` tensors, so a meta-batch of 16 tasks is one call, not a Python loop.
# The encoder is trained **only by the Q loss and the KL**; $V$ and the policy see `z.detach()`. The policy
# and $V$ targets use the Q networks *after* their step, as in oyster. The losses are computed by
# `critic_terms` and `actor_losses` (together: `PEARL.losses`); `update` only adds the optimizer steps.

# %%
show_source(PEARL.update)

# %%
show_source(PEARL.critic_terms)

# %%
show_source(PEARL.actor_losses)

# %% [markdown]
# Claim: the encoder's gradient is non-zero from the Q loss and the KL, and **exactly zero** from the V
# and policy losses. We check it on a small agent with real data.

# %%
small = PearlConfig(hidden=(32, 32), encoder_hidden=(32,), meta_batch=4, batch_size=32, context_batch=64,
                    num_initial_steps=20, num_tasks_sample=2, num_steps_prior=20, num_steps_posterior=20,
                    num_train_steps_per_itr=2, replay_buffer_size=1000)
demo = PEARL.for_env(envs, small)
meta_train(demo, envs, num_iterations=1, progress=False)
losses = demo.losses(demo.sample_batch())
for name, loss in losses.items():
    grads = torch.autograd.grad(loss, list(demo.encoder.parameters()), retain_graph=True, allow_unused=True)
    norm = sum(float(g.norm()) for g in grads if g is not None)
    print(f"{name:12s} -> encoder gradient norm {norm:.3g}")
    assert (norm > 0) == (name in ("q_loss", "kl_loss"))

# %% [markdown]
# ## Meta-training (Algorithm 1)
#
# Each iteration, for `num_tasks_sample` training tasks: **clear the task's encoder buffer**, collect
# trajectories with $z$ from the prior (into both buffers), then with $z$ from the posterior re-inferred after
# every trajectory from that encoder buffer (into both buffers). Then take gradient steps on meta-batches of
# tasks: the RL batch is uniform over the task's whole replay buffer, the context batch uniform over its
# encoder buffer, i.e. "recent" data collected by the current policy.
#
# PEARL trains through the same loop as every algorithm of the course (`peach_lite.loop.train`, lesson 04).
# What is PEARL's own is its collection schedule, `collect_round`: the loop calls it once per iteration, then
# `learn(num_train_steps_per_itr)`. Each trajectory is one `run_episodes` call that steps all sampled tasks in
# lockstep, one batched policy call per step; `collect` holds one z per trajectory and refreshes the posterior.

# %%
show_source(PEARL.collect_round)

# %%
show_source(PEARL.collect)

# %%
show_source(meta_train)

# %% [markdown]
# The configuration documents every reference value. The reference run of the sparse point robot
# (300-unit networks, 1000 gradient steps of 16 tasks x (256 RL + 1024 context) transitions per iteration,
# 500 iterations: half a million gradient steps) is far beyond a 2-core CPU: at those sizes one gradient step takes
# about 450 ms on one CPU thread. The course trains the `sparse-point-robot-lite` preset instead, whose sizes were
# chosen by measuring the cost of an update (2x128 networks, context 128, RL batch 64: about 14-21 ms per update),
# with the **reference** $\lambda_{KL} = 1$. (An older CPU preset used 0.1; measured, that left the posteriors 24-53
# nats away from $\mathcal N(0, I)$, so prior samples of $z$ fell where the policy had never been trained; the
# benchmark below measures the KL weight on its own, relabelling at 1.0 against relabelling at 0.1.)
# The learning rates are 1e-3 (rlkit's class default) instead of the config's 3e-4, to make the most of few steps.
# Two fields are not in the reference at all, and are off by default: `relabel_prob` and `dense_to_sparse_updates`
# (both below).

# %%
reference, lite = PearlConfig(), PearlConfig.preset("sparse-point-robot-lite")
print(f"{'field':28s} {'reference':>18s} {'this course (CPU)':>18s}")
for name, value in vars(reference).items():
    flag = "  <- deviation" if getattr(lite, name) != value else ""
    print(f"{name:28s} {str(value):>18s} {str(getattr(lite, name)):>18s}{flag}")
assert lite.kl_lambda == reference.kl_lambda == 1.0 and lite.relabel_prob == 0.0

# %% [markdown]
# A short run here (a few hundred updates in fast mode) shows the losses moving. The real runs were trained
# from the command line by the benchmark, which trains 5 variants x 3 seeds with the same budget,
# and stores seed 0 of three of them in `data/checkpoints/` (each exact command is recorded in `data/MANIFEST.json`):
#
# ```
# python benchmarks/pearl_point_robot.py --num-cpus 2     # faithful, relabelling, curriculum, deterministic z, kl 0.1
# ```

# %%
short = PearlConfig.preset("sparse-point-robot-htr", num_train_steps_per_itr=budget.pick(full=250, fast=50),
                           num_initial_steps=budget.pick(full=200, fast=40), num_steps_posterior=budget.pick(full=300, fast=100))
agent = PEARL.for_env(envs, short)
history = meta_train(agent, envs, num_iterations=budget.pick(full=10, fast=4))  # losses logged once per iteration
fig, axes = plt.subplots(1, 4, figsize=(12, 2.4))
for ax, name in zip(axes, ("q_loss", "kl_loss", "v_loss", "policy_loss")):
    ax.plot(np.arange(1, len(history.losses[name]) + 1) * short.num_train_steps_per_itr, history.losses[name], "o-")
    ax.set(xlabel="gradient steps", ylabel=name, title=name)
fig.tight_layout()
plt.show()
assert history.num_updates == budget.pick(full=2500, fast=200)

# %% [markdown]
# ## Meta-testing (Algorithm 2) on the 20 held-out goals
#
# On a new goal: start from the prior and an empty context; for each trajectory, **sample $z$ once and hold
# it** for all 20 steps; add the transitions to the context; after the first 5 (exploration) trajectories,
# re-infer the posterior from all the context after every trajectory. The reference protocol runs 20
# trajectories and scores the last one. `meta_test` is written once, for any agent with a posterior
# (the `PosteriorAgent` protocol: `reset_belief`, `add_context`, `infer_belief`, and a `begin_episode` that draws
# z from the current belief), so PEACH (lesson 11) is meta-tested by the very same function.

# %%
show_source(meta_test)

# %% [markdown]
# ### The faithful PEARL, measured
#
# The stored checkpoint `pearl_point_robot_faithful.pt` is PEARL as published, at the course's sizes and budget
# (no relabelling). We score it with **exactly** the protocol that `data/MANIFEST.json` records for the file: the 20
# held-out goals, two meta-test runs seeded `EVAL_SEED` and `EVAL_SEED + 1` (not the training seed), the mean of the
# last trajectory. `meta_test_curve` also returns the whole curve, beside the oracle and the sweep heuristic.

# %%
show_source(meta_test_curve)

# %%
from peach_lite.checkpoints import read_manifest


def manifest_score(file_name: str) -> float:
    """The score data/MANIFEST.json records for data/checkpoints/<file_name>."""
    entry = next(a for a in read_manifest()["artifacts"] if a["file"] == f"checkpoints/{file_name}")
    return entry["score"]["value"]


faithful, faithful_payload = load_agent(data_dir() / "checkpoints" / "pearl_point_robot_faithful.pt")
print("trained with:", faithful_payload["meta"].get("command") or f"--preset {faithful_payload['meta']['preset']}")
faithful_curve = meta_test_curve(faithful, envs, test_tasks, num_evals=2)
print(f"faithful PEARL: final-trajectory return {faithful_curve['final_return']:.2f} = {faithful_curve['fraction_of_oracle']:.0%} "
      f"of the oracle {oracle:.2f} (meta-test seeds {faithful_curve['seeds']}); manifest: {manifest_score('pearl_point_robot_faithful.pt'):.2f}")
assert faithful_curve["seeds"] == [EVAL_SEED, EVAL_SEED + 1]
assert abs(faithful_curve["final_return"] - manifest_score("pearl_point_robot_faithful.pt")) < 1e-6  # same protocol, same number

# %%
def plot_curves(curves: dict, title: str):
    k = np.arange(1, 21)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for label, curve in curves.items():
        ax.plot(k, curve["per_trajectory"], "o-", ms=3, label=label)
    ax.plot(k, sweep, "s-", color="tab:green", ms=3, label="sweep heuristic (knows the arc)")
    ax.axhline(oracle, color="k", ls="--", label=f"oracle {oracle:.2f}")
    ax.axhline(0.85 * oracle, color="k", ls=":", lw=1, label="target 0.85 × oracle")
    ax.axvspan(0.5, 5.5, color="tab:orange", alpha=0.12, label="z ~ prior")
    ax.set(xlabel="adaptation trajectory k", ylabel="return (sparse, 20 steps)", title=title)
    ax.legend(fontsize=7, loc="center right")
    plt.show()


plot_curves({"faithful PEARL": faithful_curve}, "faithful PEARL: return per adaptation trajectory")

# %% [markdown]
# ## Why it fails: the bootstrap
#
# A goal is inferred from **paid** transitions. But on the sparse point robot only a trajectory that enters the
# goal's disc is paid, and early in training few do. So most contexts the encoder is trained on hold nothing but
# zeros, the product of Gaussians averages over uninformative rows, and the encoder learns no goal code; without a
# goal code the policy cannot learn to go where z says, so it hedges (stops near the centroid of the goals, where the
# dense reward is best on average) and trajectories stay unpaid. Exploration and inference wait for each other.
#
# Three diagnostics (`peach_lite.pearl_diagnostics`, run on every stored checkpoint by
# `python -m peach_lite.pearl_diagnostics`) separate the two halves:
#
# * **the informative-context probe**: give the encoder 100 paid transitions inside a held-out goal's disc, and run
#   the policy on the resulting $z$. If it still ends far from the goal, z does not carry the task, however good the
#   exploration is;
# * **the spread of prior-z rollouts**: where the policy ends on 100 prior samples of $z$. Posterior sampling can only
#   find goals that prior rollouts reach: we count the share of 10° sectors of the goal arc that hold an endpoint
#   within 0.2 of it (angular coverage) and the share of endpoints that end that close;
# * **the per-trajectory meta-test curve** above, beside the oracle and the sweep.

# %%
show_source(informative_context_probe)


# %%
def diagnostics(agent) -> dict:
    probe_envs = GymTaskEnvs(ENV_ID, seed=EVAL_SEED)
    report = {"probe": informative_context_probe(agent, probe_envs, test_tasks),
              "prior": prior_rollout_spread(agent, probe_envs, test_tasks[0], num_rollouts=budget.pick(full=100, fast=40))}
    probe_envs.close()
    return report


def show_prior_endpoints(reports: dict):
    fig, axes = plt.subplots(1, len(reports), figsize=(4.2 * len(reports), 2.8), squeeze=False)
    for ax, (label, report) in zip(axes[0], reports.items()):
        ends = np.array(report["prior"]["endpoints"])
        ax.scatter(*train_goals.T, s=6, c="lightgray", label="train goals")
        ax.scatter(*ends.T, s=10, c="tab:blue", alpha=0.6, label="end of a prior-z rollout")
        ax.plot(0, 0, "k^")
        ax.set(xlabel="x", ylabel="y", aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.4, 1.4),
               title=f"{label}: coverage {report['prior']['angular_coverage']:.0%}, near arc {report['prior']['share_near_arc']:.0%}")
        ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    plt.show()


faithful_report = diagnostics(faithful)
print(f"faithful PEARL, probe: after 100 paid transitions the policy ends {faithful_report['probe']['final_distance']:.2f} from the goal "
      f"(return {faithful_report['probe']['return']:.2f}, {faithful_report['probe']['success']:.0%} inside the disc; "
      f"KL of the posterior {faithful_report['probe']['kl']:.1f} nats)")
show_prior_endpoints({"faithful PEARL": faithful_report})

# %% [markdown]
# ## Hindsight task relabelling
#
# Hindsight experience replay (lesson 06) turns a goal-conditioned failure into a success for the goal that was
# reached. **Hindsight task relabelling** (HTR; Packer, Abbeel & Gonzalez, NeurIPS 2021) does the same for meta-RL:
# a trajectory collected for task $i$ that passed through the goal disc of another *training* task $j$ is, in
# hindsight, a paid trajectory **of task $j$**. It may stand for task $j$ in *both* of PEARL's batches, the context
# (so the encoder learns what a paid transition means) and the RL batch (so the critic learns to go there), with both
# rewards recomputed by the environment's own reward function for goal $j$.
#
# Our implementation (`peach_lite.pearl_relabel`) follows HTR's lazy scheme, relabelling when a meta-batch is
# sampled: every trajectory stored for training is also filed under each training goal it reached
# (`HindsightStore.add_trajectory`); each task slot of a meta-batch then, with probability `relabel_prob`, takes its
# context and its RL batch from the trajectories filed under its goal (HTR's "episode clustering"), rewards
# recomputed. Test goals are never used. With `relabel_prob = 0` not a single random number changes, and training is
# PEARL bit for bit (`tests/test_pearl_relabel.py` checks all four of these claims).

# %%
show_source(HindsightStore.add_trajectory)

# %%
show_source(relabel_meta_batch)

# %% [markdown]
# The short run above used relabelling. How paid are its contexts? Relabelled slots against the others:

# %%
batch = agent.sample_batch()
paid = (batch["context"][..., agent.obs_dim + agent.action_dim] > 0).float().mean(dim=1)  # share of paid context rows per slot
relabelled = batch["relabelled"]
print(f"{int(relabelled.sum())} of {len(relabelled)} slots relabelled; paid context rows: "
      f"{paid[relabelled].mean():.0%} in relabelled slots, {paid[~relabelled].mean() if (~relabelled).any() else float('nan'):.0%} in the others")
assert paid[relabelled].min() > 0  # every relabelled context holds paid transitions
store = agent.hindsight
print(f"trajectories filed under at least one training goal: {len(store.buffer)} transitions, "
      f"{sum(store.buffer.size(g) > 0 for g in range(len(train_goals)))} of {len(train_goals)} goals reached so far")

# %% [markdown]
# Now the checkpoint trained with relabelling, `pearl_point_robot_htr.pt` (same sizes, budget and seed as the faithful
# one), with the same protocol and the same diagnostics:

# %%
pretrained, payload = load_agent(data_dir() / "checkpoints" / "pearl_point_robot_htr.pt")
print("trained with:", payload["meta"].get("command") or f"--preset {payload['meta']['preset']}")
print(f"meta-training: {payload['meta']['iterations']} iterations, {payload['meta']['train_seconds'] / 60:.1f} wall-min")
htr_curve = meta_test_curve(pretrained, envs, test_tasks, num_evals=2)
print(f"PEARL + relabelling: final-trajectory return {htr_curve['final_return']:.2f} = {htr_curve['fraction_of_oracle']:.0%} of the oracle; "
      f"manifest: {manifest_score('pearl_point_robot_htr.pt'):.2f}")
assert abs(htr_curve["final_return"] - manifest_score("pearl_point_robot_htr.pt")) < 1e-6  # the lesson's figure is the manifest's
assert max(htr_curve["per_trajectory"]) <= oracle + 1e-6  # nobody beats the oracle
htr_report = diagnostics(pretrained)
print(f"probe: ends {htr_report['probe']['final_distance']:.2f} from the goal (faithful: {faithful_report['probe']['final_distance']:.2f})")
plot_curves({"faithful PEARL": faithful_curve, "PEARL + relabelling": htr_curve}, "return per adaptation trajectory")
show_prior_endpoints({"faithful PEARL": faithful_report, "PEARL + relabelling": htr_report})

# %% [markdown]
# ### What exploration looks like (the paper's Figure 4)
#
# Two held-out goals for the relabelling agent, trajectory by trajectory: one it finds, one it does not (when every
# goal is found, the one found latest). The first five trajectories run on prior samples of $z$ (dashed): each is a
# guess at where the goal might be, held for a whole trajectory. Once a trajectory is paid, the posterior moves onto
# that part of the arc.

# %%
result = meta_test(pretrained, envs, test_tasks, seed=EVAL_SEED, record_paths=True)
all_context, _ = pretrained.accumulated_context()  # (20, 400, 5): each goal's 20 trajectories, kept for the widget below
found = np.cumsum(result.returns > 0, axis=1) > 0  # goal found at least once by trajectory k
first_paid = np.where(found.any(axis=1), found.argmax(axis=1), result.returns.shape[1])
found_goal = int(np.argmax(np.where(found[:, -1], result.returns[:, -1], -1.0)))
unfound_goal = int(np.argmax(first_paid - 1e-3 * result.returns[:, -1]))
print("fraction of goals found by trajectory k:", found.mean(axis=0).round(2))
fig, axes = plt.subplots(2, 2, figsize=(10, 6.2))
cmap = plt.get_cmap("viridis")
for row, goal_index in enumerate((found_goal, unfound_goal)):
    for j in range(result.paths.shape[1]):
        axes[row, 0].plot(*result.paths[goal_index, j].T, color=cmap(j / 19), lw=1.2, ls="--" if j < result.num_exploration else "-")
    axes[row, 0].scatter(*test_goals.T, s=8, c="lightgray")
    axes[row, 0].add_patch(plt.Circle(test_goals[goal_index], 0.2, color="tab:red", alpha=0.25))
    status = f"found at trajectory {first_paid[goal_index] + 1}" if found[goal_index, -1] else "never found"
    axes[row, 0].set(xlabel="x", ylabel="y", aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.3, 1.4), title=f"goal {goal_index}: {status}")
    axes[row, 1].bar(np.arange(1, 21), result.returns[goal_index], color=[cmap(j / 19) for j in range(20)])
    axes[row, 1].set(xlabel="trajectory k", ylabel="return (sparse)", ylim=(0, 1.05 * oracle), title="its returns")
fig.tight_layout()
plt.show()
assert found[found_goal, -1] and result.returns[found_goal].max() > 0  # the first row shows a goal the agent finds

# %% [markdown]
# ### The posterior, one transition at a time
#
# Take the context the relabelling agent gathered on the goal it found (in the meta-test above), and feed it to the encoder one transition at
# a time. The left panel shows the mean posterior variance as the context grows, with the paid transitions marked;
# the right panel shows what the belief *means*: `act_on_belief` draws 40 samples of $z$ from it and runs each for
# one episode, ending where the agent would go under that hypothesis. The cell below measures what the widget then
# shows: how much the variance falls over the unpaid transitions before the first paid one, and how far the
# endpoints move from the goal once paid transitions are in the context.

# %%
show_source(act_on_belief)

# %%
full_context = all_context[found_goal : found_goal + 1]  # (1, 400, 5): the found goal's 20 trajectories, in order
paid_rows = np.flatnonzero(full_context[0, :, -1].numpy() > 0)
first = int(paid_rows[0])  # the goal was found, so some transition is paid
with torch.no_grad():
    var_at = lambda n: pretrained.posterior.infer(full_context[:, :n]).var.mean().item() if n else 1.0  # noqa: E731
    ends_at = lambda n: act_on_belief(pretrained, envs, test_tasks[found_goal],  # noqa: E731
                                      pretrained.posterior.infer(full_context[:, :n]) if n else pretrained.posterior.prior(1),
                                      num_samples=40, seed=1).positions()[:, -1]
    dist = lambda ends: float(np.linalg.norm(ends - test_goals[found_goal], axis=-1).mean())  # noqa: E731
    before, after = max(first, 1), min(first + 20, full_context.shape[1])
    print(f"first paid transition: #{first + 1} of {full_context.shape[1]}")
    print(f"mean variance: prior 1.0 -> {var_at(before):.3g} after the {before} unpaid transitions before it -> "
          f"{var_at(after):.3g} 20 transitions after it")
    print(f"40 posterior samples end on average {dist(ends_at(0)):.2f} (prior), {dist(ends_at(before)):.2f} (before the first paid "
          f"transition) and {dist(ends_at(after)):.2f} (after it) from the goal")
assert var_at(before) < 0.5  # the variance falls a lot before any transition is paid

# %% [markdown]
# So with this encoder most of the narrowing happens **before any reward arrives**: unpaid transitions alone shrink
# the variance by one to two orders of magnitude (numbers above). The encoder becomes confident long before it knows
# where the goal is, so later posterior samples stop spreading out, and posterior sampling explores little: one reason
# why exploration, not inference, limits this agent (see the probe above). The last line says how far the sampled
# hypotheses end from the goal before and after the paid transitions. Move the slider across the first paid transition
# (green marks) and watch the variance and the endpoints.

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets


def show_posterior(num_transitions: int):
    with torch.no_grad():
        belief = pretrained.posterior.prior(1) if num_transitions == 0 else pretrained.posterior.infer(full_context[:, :num_transitions])
        counts = np.arange(1, full_context.shape[1] + 1)
        variances = [pretrained.posterior.infer(full_context[:, :c]).var.mean().item() for c in counts[::10]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    axes[0].semilogy(counts[::10], variances, color="tab:gray")
    axes[0].axvline(max(num_transitions, 1), color="tab:red")
    axes[0].plot(paid_rows + 1, np.full(len(paid_rows), min(variances)), "|", color="tab:green", ms=12, label="paid transitions")
    axes[0].set(xlabel="context transitions", ylabel="mean posterior variance of z", title="the posterior narrows")
    axes[0].legend(fontsize=7)
    ends = act_on_belief(pretrained, envs, test_tasks[found_goal], belief, num_samples=40, seed=1).positions()[:, -1]
    axes[1].scatter(*test_goals.T, s=8, c="lightgray")
    axes[1].add_patch(plt.Circle(test_goals[found_goal], 0.2, color="tab:red", alpha=0.25))
    axes[1].scatter(*ends.T, s=12, c="tab:blue", label="end points of z ~ q(z|c)")
    seen = full_context[0, :num_transitions, :2].numpy()
    axes[1].plot(*seen.T, ".", color="tab:orange", ms=2, label="context states")
    axes[1].set(xlabel="x", ylabel="y", aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.3, 1.4),
                title=f"belief after {num_transitions} transitions ({int((paid_rows < num_transitions).sum())} paid)")
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plt.show()


slider = widgets.IntSlider(value=min(first + 20, full_context.shape[1]), min=0, max=full_context.shape[1], step=5, description="context")
display(slider, widgets.interactive_output(show_posterior, {"num_transitions": slider}))

# %% [markdown]
# ## Relabelling against the alternatives, same budget and seeds
#
# `benchmarks/pearl_point_robot.py` trains five variants, 3 seeds each, with the same sizes and budget, and scores
# every checkpoint with the reference protocol and the diagnostics (the numbers below are read from
# `data/results/pearl_point_robot.json`, written by that script):
#
# * **faithful**: PEARL as published;
# * **relabelling** (HTR, `relabel_prob = 0.5`): the headline;
# * **dense-to-sparse curriculum** (`dense_to_sparse_updates`): another way to bootstrap. For the first updates a
#   training context carries the *dense* reward $-\lVert s-g\rVert$ with a probability that falls linearly to 0, so the
#   encoder first learns goal codes from contexts that name the goal, then must read them from sparse ones. The
#   meta-test context is always sparse;
# * **deterministic z + relabelling** (the paper's Figure 7 ablation): the encoder outputs a point
#   $z = \frac1N\sum_n f_\phi(c_n)$, the prior is the single point $z = 0$ and there is no KL, so every exploration
#   trajectory follows the *same* path;
# * **relabelling with $\lambda_{KL} = 0.1$**: the relabelling run with the old CPU preset's KL weight instead of the
#   reference 1.0, everything else equal. It measures the KL setting on its own: `kl_lambda_gain` is the relabelling
#   row minus this one, in fractions of the oracle (positive: the reference 1.0 is the better weight here).

# %%
from peach_lite.results import read_results

record = read_results("pearl_point_robot")
headline = record["headline"]
print("benchmark command:", record["command"])
print(f"budget per run: {record['details']['budget']['iterations']} iterations = {record['details']['budget']['updates']} gradient steps; "
      f"{headline['train_cpu_minutes_per_seed']:.1f} CPU-min and {headline['train_minutes_per_seed']:.1f} wall-min of meta-training per seed")
print(f"{'variant':34s} {'fraction of oracle':>18s} {'probe distance':>15s} {'arc coverage':>13s}")
for name, variant in record["details"]["variants"].items():
    fraction = headline["return_fraction_of_oracle"] if name == "htr" else headline[f"{name}_fraction_of_oracle"]
    print(f"{variant['label']:34s} {fraction:18.3f} {headline[f'{name}_probe_distance']:15.2f} {headline[f'{name}_arc_coverage']:13.2f}")
kl_gain = headline["kl_lambda_gain"]  # relabelling at kl_lambda 1.0 minus relabelling at 0.1, mean over the same seeds
kl_one, kl_tenth = (np.array(record["details"]["variants"][v]["fraction_of_oracle_per_seed"]) for v in ("htr", "htr_kl0.1"))
print(f"the KL weight on its own: kl_lambda 1.0 minus 0.1 = {kl_gain:+.3f} x oracle "
      f"(1.0 ahead on {int((kl_one > kl_tenth).sum())} of {len(kl_one)} seeds: {kl_one.round(3)} vs {kl_tenth.round(3)}); "
      f"prior-z rollouts cover {headline['htr_arc_coverage']:.0%} of the arc at 1.0, {headline['htr_kl0.1_arc_coverage']:.0%} at 0.1")
deterministic, _ = load_agent(data_dir() / "checkpoints" / "pearl_point_robot_deterministic_z.pt")
det_result = meta_test(deterministic, envs, test_tasks, seed=EVAL_SEED, record_paths=True)
print(f"deterministic z + relabelling, live: final-trajectory return {det_result.final_return:.2f} ({det_result.final_return / oracle:.0%} of the oracle)")

# %%
det_ends = det_result.paths[:, : det_result.num_exploration, -1]
pearl_ends = result.paths[:, : result.num_exploration, -1]
fig, ax = plt.subplots(figsize=(5, 3))
ax.scatter(*pearl_ends.reshape(-1, 2).T, s=8, c="tab:blue", alpha=0.5, label="probabilistic z (relabelling)")
ax.scatter(*det_ends.reshape(-1, 2).T, s=30, c="tab:orange", marker="x", label="deterministic z (relabelling)")
ax.scatter(*test_goals.T, s=10, c="k", marker=".", label="test goals")
ax.set(xlabel="x", ylabel="y", aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.4, 1.4), title="where the 5 exploration trajectories end")
ax.legend(fontsize=7, loc="lower left")
plt.show()
print(f"spread of exploration end points: deterministic z {det_ends.std(axis=(0, 1)).round(3)}, probabilistic {pearl_ends.std(axis=(0, 1)).round(3)}")
assert np.allclose(det_ends, det_ends[0, 0], atol=1e-5)  # z = 0 for every exploration trajectory: one single path
assert pearl_ends.std(axis=(0, 1)).sum() > det_ends.std(axis=(0, 1)).sum()  # prior samples of z send PEARL to different places

# %% [markdown]
# The benchmark's figure (`data/results/pearl_point_robot.png`, the README's): left, the in-training meta-test of
# every variant (mean over 3 seeds, band min-max); right, the final checkpoints trajectory by trajectory against the
# sweep heuristic, with the oracle dashed:

# %%
from peach_lite.results import show_figure

show_figure("pearl_point_robot")

# %% [markdown]
# ## HalfCheetahVel: PEARL on MuJoCo
#
# The same code runs the paper's locomotion benchmark (target velocity $v \sim U[0, 3]$, 100 training and
# 30 test tasks, reward $-\lvert v_x - v\rvert - 0.05\lVert a\rVert^2$). The reference run (`preset("cheetah-vel")`:
# 2000 gradient steps per iteration, 300-unit networks, dense reward everywhere, $\lambda_{KL}=0.1$,
# 2 exploration trajectories at meta-test) takes GPU-days; what a CPU session can afford is a short run of the
# `cheetah-vel-cpu` preset. Its sizes come from measuring one update on one CPU thread: the gradient steps are the
# whole cost (collecting an iteration's data and a meta-test take about a second each), so the preset keeps the
# reference's ratio of updates to collected steps (0.33 against 0.4) and makes each update cheap (3x128 networks,
# 8 tasks x 64 rows, about 16 ms) instead; `PRESETS["cheetah-vel-cpu"]` lists every deviation:
#
# ```
# python -m peach_lite train pearl --preset cheetah-vel --seed 0 --out data/checkpoints/pearl_cheetah_vel.pt
# ```
#
# Its stored learning curve (the final-trajectory meta-test return on the 30 test velocities), against the
# do-nothing cheetah (which earns about $-200 v$), issue 11's target $-150$ and the upper bound $0$.

# %%
from peach_lite.envs import make
from peach_lite.envs.oracles import cheetah_vel_zero_action_return
from peach_lite.render import rollout_frames, show_frames

cheetah, cheetah_payload = load_agent(data_dir() / "checkpoints" / "pearl_cheetah_vel.pt")
cheetah_envs = GymTaskEnvs("peach_lite/HalfCheetahVel-v0", seed=0)
curve = cheetah_payload["meta"]["history"]
curve_values = curve["eval_values"]  # the final-trajectory meta-test return at each evaluation
velocities = np.array([task.velocity for task in cheetah_envs.unwrapped.test_tasks()])
do_nothing = np.mean([cheetah_vel_zero_action_return(v) for v in velocities[: budget.pick(full=30, fast=3)]])
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(curve["eval_steps"], curve_values, "o-", label="PEARL, final meta-test trajectory")
ax.axhline(do_nothing, color="tab:gray", ls=":", label=f"do-nothing cheetah ({do_nothing:.0f})")
ax.axhline(-150.0, color="tab:green", ls="-.", label="target -150")
ax.axhline(0.0, color="k", ls="--", label="upper bound 0")
cpu_minutes = cheetah_payload["meta"].get("train_cpu_seconds", float("nan")) / 60
ax.set(xlabel="environment steps of meta-training", ylabel="return (200 steps)",
       title=f"HalfCheetahVel: {curve['num_updates']} gradient steps, {cpu_minutes:.0f} CPU-min (one thread)")
ax.legend(fontsize=7)
plt.show()
stored = manifest_score("pearl_cheetah_vel.pt")  # the checkpoint's meta-test with the fixed evaluation seed
print(f"last in-training meta-test return {curve_values[-1]:.1f}, stored checkpoint (data/MANIFEST.json) {stored:.1f}; "
      f"do-nothing {do_nothing:.1f}:", "better than standing still" if stored > do_nothing else "not yet better than standing still",
      "and at the target -150" if stored >= -150 else "but short of the target -150")
assert all(r <= 0.0 for r in curve_values)  # the reward is never positive: 0 is a hard upper bound

# %% [markdown]
# And the trained agent at two target velocities. For each, it first runs the meta-test protocol on that task
# (2 exploration trajectories with prior samples of $z$, then the posterior), and we render a rollout with a
# sample of the posterior after those trajectories (its `begin_episode` draws z from the belief meta-testing left).
#
# **Is the cheetah upright?** The cell prints the root's pitch angle `qpos[2]` (0 = upright, $\pm\pi$ = on its back)
# beside each rollout, so the picture can be checked against the simulator: the renderer draws the body as MuJoCo has
# it (a cheetah at pitch 0 is drawn upright). A policy that rolls over and "runs" on its back is a policy problem,
# a well-known local optimum of HalfCheetah (its reward never penalises the body's angle); the earlier 6k-update
# checkpoint of this lesson did exactly that. The assert below checks the stored agent stays on its feet.

# %%
from peach_lite.envs.locomotion import CheetahVelTask
from peach_lite.loop import TaskBatch

render_env = make("peach_lite/HalfCheetahVel-v0", render_mode="rgb_array")
frames, titles = [], []
for velocity in (0.5, 2.5):
    task = CheetahVelTask(velocity=velocity)
    adapted = meta_test(cheetah, cheetah_envs, [task], seed=0)
    render_env.unwrapped.set_task(task)
    cheetah.begin_episode(TaskBatch.single(task, split="test"), explore=False)  # z ~ the adapted posterior, held
    pitch = []

    def policy(obs):
        pitch.append(float(render_env.unwrapped.data.qpos[2]))
        return cheetah.act(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()

    steps = budget.pick(full=200, fast=40)
    rollout, total = rollout_frames(render_env, policy, num_steps=steps, every=steps // 4)
    speed = render_env.unwrapped.data.qpos[0] / (steps * render_env.unwrapped.dt)
    flipped = np.abs(np.array(pitch)) > np.pi / 2
    print(f"target {velocity} m/s: meta-test returns {np.round(adapted.returns[0], 1)}, rendered rollout mean speed {speed:.2f} m/s; "
          f"root pitch at the end {pitch[-1]:+.2f} rad, on its back (|pitch| > pi/2) for {flipped.mean():.0%} of the steps")
    assert flipped.mean() < 0.5  # the stored policy runs on its feet, not on its back
    frames += rollout[1:5]
    titles += [f"v* = {velocity}, step {i * steps // 4}" for i in range(1, 5)]
render_env.close()
show_frames(frames, titles, ncols=4)

# %% [markdown]
# ## What we found
#
# * The posterior algebra is exactly Bayes' rule for Gaussian factors, and it is permutation invariant
#   (asserted above and in `tests/test_pearl.py`).
# * The encoder learns only from the critic and the KL; $V$ and the policy read `z.detach()` (asserted).
# * **Faithful PEARL does not learn the sparse point robot on this budget**, and the diagnostics say why: with paid
#   context the policy still does not go to the goal (the probe), so z carries no goal; inference never bootstrapped.
# * **Relabelling** gives the encoder paid contexts from the first iterations. The numbers it reaches, on the same
#   budget and seeds as the others, are printed below from the benchmark, with the target.
# * The deterministic-z agent follows one single exploration path (asserted), as the paper's Figure 7 argues.
# * The KL weight is measured on its own (relabelling at the reference $\lambda_{KL} = 1$ against the old 0.1, same
#   budget and seeds): `kl_lambda_gain` and the prior-z arc coverage of each, printed in the table's cell above.

# %%
runs = record["details"]["runs"]
reference_updates = PearlConfig().num_iterations * PearlConfig().num_train_steps_per_itr
print(f"oracle {oracle:.2f}; target 0.85 x oracle = {0.85 * oracle:.2f}")
for run in runs:
    print(f"{run['variant']:16s} seed {run['seed']}: final-trajectory return {run['final_return']:.2f} ({run['final_return'] / oracle:.0%} of the oracle) "
          f"after {run['train_cpu_minutes']:.1f} CPU-min, {run['updates']} gradient steps ({run['updates'] / reference_updates:.1%} of the reference's {reference_updates})")
reached = headline["return_fraction_of_oracle"] >= 0.85
print("target", "REACHED" if reached else "NOT reached", f"(relabelling, mean over seeds: {headline['return_fraction_of_oracle']:.0%} of the oracle)")
assert 0.0 <= headline["return_fraction_of_oracle"] <= 1.0 + 1e-9  # no agent beats the oracle
assert all(run["final_return"] <= oracle + 1e-6 for run in runs)
for name, variant in record["details"]["variants"].items():  # what the diagnostics say, variant by variant
    probe, coverage = headline[f"{name}_probe_distance"], headline[f"{name}_arc_coverage"]
    inference = ("z carries the goal (the probe ends inside the 0.2 radius)" if probe <= 0.2 else
                 f"z nearly carries the goal (the probe ends {probe:.2f} away, just outside the radius)" if probe <= 0.4 else
                 f"z does not carry the goal (the probe ends {probe:.2f} away)")
    print(f"{variant['label']:34s}: {inference}; prior-z rollouts cover {coverage:.0%} of the arc")

# %% [markdown]
# **Reading these numbers honestly.** Each run here had about 4 CPU-minutes: 2.4% of the reference's half a million
# gradient steps, on smaller networks and batches, because the benchmark had to fit twelve runs (the KL run's three came later) into about an hour on a shared 2-core machine
# (it took 81 wall-minutes at a load of ~13; the issue allows 30 CPU-minutes per seed). The diagnostics tell you what is missing where the target is not reached:
# a probe distance near the goal radius means z carries the task (inference works); low arc coverage of the prior-z
# rollouts means exploration is what fails, since posterior sampling can only find goals that prior rollouts reach.
#
# Next: lesson 06 (goals and hindsight) and lesson 07 (HAC) build the hierarchy that PEACH (lesson 11) will
# steer with this $z$.
