# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · How to use this course
#
# **peach-lite** teaches meta-reinforcement learning and hierarchical RL by building them, one lesson at a
# time, up to **PEACH** (McClinton, Levy & Konidaris): a PEARL context variable $z$, inferred from a few
# transitions of a new task, that steers a Hierarchical Actor-Critic.
#
# Every lesson is a story: motivation, the equation, the *real* code from the `peach_lite` package, an
# experiment, a picture, an exercise, and an `assert` that proves the claim. This first lesson shows the
# tools you will use everywhere: fast mode, the device check, MuJoCo frames, widgets, exercises and
# where every number comes from.

# %%
from peach_lite.budget import Budget

budget = Budget.from_env()
print(budget)

# %% [markdown]
# ## The map
#
# | part | lessons | the idea |
# |---|---|---|
# | Task inference | 01 task gallery · 02 POMDPs and belief states · 03 meta-RL as task inference | A meta-RL task is a POMDP whose hidden state is the task; the Bayes posterior over tasks is all an agent needs (Humplik et al.). |
# | Off-policy meta-RL | 04 SAC · 05 PEARL · 08 MQL | Infer a probabilistic context $z \sim q_\phi(z\mid c)$ from transitions and condition a SAC actor-critic on it; sample $z$ to explore (Rakelly et al.). |
# | Hierarchies | 06 goals and hindsight · 07 HAC · 09 FuN and HIRO | Levels that set subgoals for the level below, trained with hindsight so every attempt teaches something (Levy et al.). |
# | Shared hierarchies | 10 MLSH | Sub-policies shared across tasks, a master re-learned per task (Frans et al.). |
# | Everything together | 11 PEACH | $z$ from PEARL drives the top level of a HAC hierarchy. |
#
# The README lists which lessons are available today and how long each takes.

# %% [markdown]
# ## Fast mode
#
# Training an agent properly takes minutes to hours. When the lessons are *tested* (`make test`), the
# environment variable `PEACH_FAST=1` switches every budget to a tiny size, so all lessons run in about a
# minute each. Lessons never test the variable themselves: they ask the budget.

# %%
import peach_lite
from peach_lite import show_source

show_source(Budget.pick)

# %%
num_rollout_steps = budget.pick(full=120, fast=40)
print(f"rollouts in this lesson use {num_rollout_steps} steps")

# %% [markdown]
# ## Which device?
#
# Everything in this course runs on a laptop CPU. When a CUDA GPU is present, the one device helper picks it;
# nothing *requires* it.

# %%
from peach_lite.device import describe_device, get_device

device = get_device()
print(describe_device(device))

# %% [markdown]
# ## Seeing an environment
#
# The course uses MuJoCo through the official `mujoco` bindings and Gymnasium's v5 environments. Frames are
# rendered headless on the CPU (EGL through Mesa); `import peach_lite` picks that backend for you, and
# `python -m peach_lite.doctor` says what to install if it fails. Here is HalfCheetah-v5 with random actions.

# %%
import gymnasium as gym
import numpy as np

from peach_lite.render import gif, rollout_frames, show_frames

env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=240, height=240)
frames, total_reward = rollout_frames(env, num_steps=num_rollout_steps, seed=0)
print(f"{len(frames)} frames, return of the random policy: {total_reward:.1f}")
picked = np.linspace(0, len(frames) - 1, 4).astype(int)
show_frames([frames[i] for i in picked], titles=[f"step {i}" for i in picked])

# %%
assert frames[0].shape == (240, 240, 3) and frames[0].std() > 1.0, "a blank frame means rendering failed"
gif(frames, fps=20, width=240)

# %% [markdown]
# ## A widget: change something live
#
# Drag the slider to scale the random actions. Bigger torques make the cheetah flail further; the picture
# and the return update. (In tests the cell runs once with the default value.) The slider has its own env,
# so it keeps working after the last cell closes `env`; `rollout_frames` renders through the course's one
# rendering thread, because JupyterLab runs widget callbacks in another thread than the cells.

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

magnitude = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.1, description="|action|")
slider_env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=240, height=240)


def show_scaled_rollout(scale: float) -> None:
    rng = np.random.default_rng(0)
    policy = lambda obs: scale * rng.uniform(-1, 1, size=slider_env.action_space.shape)  # noqa: E731
    # every=num_rollout_steps: render only the first and the last frame (the one shown)
    scaled_frames, scaled_return = rollout_frames(slider_env, policy, num_steps=num_rollout_steps, seed=0,
                                                  every=num_rollout_steps)
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(scaled_frames[-1])
    ax.set_title(f"scale {scale:.1f}: return {scaled_return:.1f}")
    ax.axis("off")
    plt.show()


display(magnitude, widgets.interactive_output(show_scaled_rollout, {"scale": magnitude}))

# %% [markdown]
# ## Same seed, same numbers
#
# One helper seeds python, numpy, torch and the environment. On the CPU the same seed gives bit-identical
# results, which is what makes every figure in this course reproducible.

# %%
import torch

from peach_lite.seeding import seed_everything

show_source(seed_everything)


# %%
def a_small_experiment(seed: int) -> np.ndarray:
    seed_everything(seed)
    net = torch.nn.Linear(17, 6)
    obs, _ = env.reset(seed=seed)
    return net(torch.as_tensor(obs, dtype=torch.float32)).detach().numpy()


assert np.array_equal(a_small_experiment(7), a_small_experiment(7))
assert not np.array_equal(a_small_experiment(7), a_small_experiment(8))
print("same seed -> bit-identical output; different seed -> different output")

# %% [markdown]
# ## Your first exercise
#
# The discounted return of an episode is $G = \sum_{t=0}^{T-1} \gamma^t r_t$. Write it for a tensor of
# rewards of shape `(..., T)`, returning shape `(...)`. Then run the checker: it compares your function
# with the package's own `peach_lite.returns.discounted_return` on several inputs and tells you which case
# differs. (Until you fill it in, the checker says "not implemented yet".)

# %%
from peach_lite.checks import check_discounted_return


def my_discounted_return(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    # YOUR CODE HERE: replace the next line (hint: torch.arange and broadcasting)
    raise NotImplementedError


check_discounted_return(my_discounted_return)

# %% [markdown]
# The checker is honest in both directions: it passes the reference and explains a wrong answer.

# %%
from peach_lite.returns import discounted_return

assert check_discounted_return(discounted_return)
assert not check_discounted_return(lambda rewards, gamma: rewards.sum(-1))

# %% [markdown]
# ## Reading the real code
#
# Lessons show the package's code instead of copying it, so what you read is what runs:

# %%
show_source(discounted_return)

# %% [markdown]
# ## Bad input fails loudly
#
# A wrong value raises a `ValueError` that names the field and what is allowed, where you made the mistake.

# %%
try:
    discounted_return(torch.ones(3), gamma=1.5)
except ValueError as error:
    print("ValueError:", error)
    assert "gamma" in str(error)

# %% [markdown]
# ## Where the numbers come from
#
# * **Benchmarks.** Every script in `benchmarks/` writes `data/results/<name>.json` with a `"headline"` of
#   key figures plus the command, seeds, versions and date. Lessons read figures from there; nothing is pasted.
# * **Pretrained checkpoints.** Long training runs are done once by a command of the project; the result lives
#   in `data/checkpoints/` and is recorded in `data/MANIFEST.json` (command, seed, versions, sha256, the score
#   it reached). Lessons offer *train now (small)* or *load the pretrained checkpoint*. Checkpoints load with
#   `torch.load(..., weights_only=True)`: no pickled code ever runs, and a corrupt or mismatched file gives a
#   clear error naming it.

# %%
from peach_lite.checkpoints import read_manifest
from peach_lite.paths import results_dir

print("results:", sorted(p.stem for p in results_dir().glob("*.json")) or "none yet")
for entry in read_manifest()["artifacts"]:
    score = entry["score"]
    print(f"{entry['file']}: {score['name']} = {score['value']:.3g}  <- {entry['command']}")

# %%
env.close()
