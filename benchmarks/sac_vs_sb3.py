"""Our SAC against stable-baselines3's SAC on Pendulum-v1: the same work, timed in the same run.

Both libraries use SB3's SAC defaults (net 256x256, batch 256, lr 3e-4 everywhere, buffer 1e6,
learning_starts 100, train_freq 1, gradient_steps 1, ent_coef "auto" starting at 1, target entropy
-action_dim, tau 0.005, gamma 0.99) and the same update order (critic step, then the actor against the
updated critic, then the temperature), the same env, the same number of environment steps and gradient
updates, and the same torch thread count. Per seed we record each library's wall time and process CPU
time for ``learn``, and the mean deterministic return over 10 fixed evaluation episodes (reset with seeds
EVAL_SEED + i, the same for both).

Headline, over all seeds:

* ``speedup_vs_sb3`` = total SB3 CPU time / total our CPU time (sums over seeds). With one torch thread
  (the default) a run's CPU time is the time it computed, which equals its wall time on an idle machine and,
  unlike wall time, does not grow while the process waits for a core that other jobs hold.
* ``speedup_wall`` = total SB3 wall time / total our wall time, the same ratio in wall-clock time; it
  agrees with ``speedup_vs_sb3`` when the machine was quiet (``load_avg_*`` in the details tell).
* ``return_ours`` / ``return_sb3`` = mean over seeds of the evaluation return; per-seed values, the
  per-seed ratios and every time are in ``details``.

The compute floor is the bare matmuls of the update with nothing around them (no autograd, no
optimiser, no env), timed on preallocated tensors: once for the textbook update that SB3 performs
("standard": two separate critics, critic weight-gradients computed in the actor loss too) and once
for ours ("fused": both critics in one batched matmul, critic frozen in the actor loss). It is
re-measured right before each library's run, and "floor fraction" = floor time / wall time of that run.

Run (about 5 minutes of one core per seed; needs the ``bench`` extra, ``pip install -e .[bench]``)::

    python benchmarks/sac_vs_sb3.py --seeds 0 1 2 3 4 --threads 1

Writes data/results/sac_vs_sb3.json (read by notebooks/04_sac.py) and prints the headline last. In fast
mode (PEACH_FAST=1) it runs a smoke-sized version and writes nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.loop import PolicyAgent, Runner, TrainConfig, evaluate, train
from peach_lite.results import write_results
from peach_lite.sac import SAC, SACConfig
from peach_lite.seeding import seed_everything

ENV_ID = "Pendulum-v1"
EVAL_SEED = 1_000
"""Evaluation episodes are reset with seeds EVAL_SEED + i, identical for both libraries."""
SB3_DEFAULTS = dict(learning_rate=3e-4, buffer_size=1_000_000, learning_starts=100, batch_size=256, tau=0.005,
                    gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto", target_entropy="auto",
                    policy_kwargs=dict(net_arch=[256, 256]))
OUR_CONFIG = dict(hidden=(256, 256), actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, buffer_size=1_000_000, batch_size=256,
                  tau=0.005, gamma=0.99, init_alpha=1.0, learn_alpha=True, target_entropy=None)


def run_ours(seed: int, steps: int, eval_episodes: int) -> dict[str, float]:
    seed_everything(seed)
    env, eval_env = gym.make(ENV_ID), gym.make(ENV_ID)
    agent = SAC.from_env(env, SACConfig(**OUR_CONFIG, seed=seed), device="cpu")
    start, cpu_start = time.perf_counter(), time.process_time()
    history = train(agent, Runner(env, seed=seed), TrainConfig(total_steps=steps, warmup_steps=100, updates_per_round=1,
                                                              eval_episodes=0, seed=seed, progress=False))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    returns = evaluate(agent, eval_env, num_episodes=eval_episodes, seed=EVAL_SEED).returns
    return {"wall_s": wall, "cpu_s": cpu, "updates": history.num_updates, "return": float(returns.mean())}


def run_sb3(seed: int, steps: int, eval_episodes: int) -> dict[str, float]:
    from stable_baselines3 import SAC as SB3SAC

    seed_everything(seed)
    model = SB3SAC("MlpPolicy", gym.make(ENV_ID), seed=seed, device="cpu", verbose=0, **SB3_DEFAULTS)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    greedy = PolicyAgent(lambda obs: model.predict(obs, deterministic=True)[0])
    returns = evaluate(greedy, gym.make(ENV_ID), num_episodes=eval_episodes, seed=EVAL_SEED).returns
    return {"wall_s": wall, "cpu_s": cpu, "updates": int(model._n_updates), "return": float(returns.mean())}


# ---------------------------------------------------------------------------------------------
# The compute floor: the update's matmuls and nothing else


def matmul_floor(kind: str, obs_dim: int, action_dim: int, hidden: int = 256, batch: int = 256, reps: int = 200) -> float:
    """Seconds per update for the bare matmuls of one SAC update (two hidden layers of ``hidden`` units).

    kind "standard": what SB3 does: 2 separate critics (torch.mm each), the actor loss back-propagates
    into critic weights too. kind "fused": ours: critics as one batched matmul (torch.bmm over 2), no
    critic weight-gradients in the actor loss.
    """
    B, H, o, a = batch, hidden, obs_dim, action_dim
    # (m, k, n) products; "c" marks critic products, done per critic (standard) or batched over 2 (fused)
    actor_fwd = [(B, o, H), (B, H, H), (B, H, 2 * a)]
    actor_bwd = [(B, 2 * a, H), (H, B, 2 * a), (B, H, H), (H, B, H), (o, B, H)]  # grad_in + grad_w, no grad to obs
    critic_fwd = [(B, o + a, H), (B, H, H), (B, H, 1)]
    critic_bwd_weights = [(B, 1, H), (H, B, 1), (B, H, H), (H, B, H), (o + a, B, H)]  # critic loss
    critic_bwd_inputs = [(B, 1, H), (B, H, H), (B, H, o + a)]  # actor loss: gradient to a~ only
    critic_bwd_both = critic_bwd_weights + [(B, H, o + a)]  # actor loss in SB3: weights too, and a~
    actor_ops = actor_fwd * 2 + actor_bwd  # pi(s) with backward, pi(s') without
    critic_ops = critic_fwd * 3 + critic_bwd_weights  # target(s', a'), Q(s, a), Q(s, a~)
    critic_ops += critic_bwd_both if kind == "standard" else critic_bwd_inputs
    if kind not in ("standard", "fused"):
        raise ValueError(f"kind must be one of ['standard', 'fused'], got {kind!r}")

    def operands(m, k, n, ensemble=None):
        shape = (lambda *s: s) if ensemble is None else (lambda *s: (ensemble, *s))
        return torch.randn(*shape(m, k)), torch.randn(*shape(k, n)), torch.empty(*shape(m, n))

    calls = [(torch.mm, operands(*p)) for p in actor_ops]
    if kind == "standard":
        calls += [(torch.mm, operands(*p)) for p in critic_ops for _ in range(2)]
    else:
        calls += [(torch.bmm, operands(*p, ensemble=2)) for p in critic_ops]

    def once():
        for fn, (x, w, out) in calls:
            fn(x, w, out=out)

    for _ in range(20):
        once()
    start = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - start) / reps


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2, 3, 4], fast=[0]))
    parser.add_argument("--steps", type=int, default=budget.pick(full=10_000, fast=300))
    parser.add_argument("--eval-episodes", type=int, default=budget.pick(full=10, fast=2))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both libraries (1: CPU time = compute time)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import stable_baselines3

    env = gym.make(ENV_ID)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    updates = args.steps - 100
    # The floor is re-measured right before every library run, so a machine whose speed drifts (other
    # jobs) is compared with itself; per update it is scaled to the run's number of updates.
    floor_kind = {"ours": "fused", "sb3": "standard"}
    runners = {"ours": run_ours, "sb3": run_sb3}
    load_avg_start = os.getloadavg()

    per_seed = []
    for index, seed in enumerate(args.seeds):
        row = {"seed": seed}
        # alternate the order so slow drifts of the machine hit both libraries alike
        for name in (["ours", "sb3"] if index % 2 == 0 else ["sb3", "ours"]):
            row[f"floor_s_{name}"] = matmul_floor(floor_kind[name], obs_dim, action_dim) * updates
            row.update({f"{k}_{name}": v for k, v in runners[name](seed, args.steps, args.eval_episodes).items()})
        row["speedup_cpu"] = row["cpu_s_sb3"] / row["cpu_s_ours"]
        row["speedup_wall"] = row["wall_s_sb3"] / row["wall_s_ours"]
        row["load_avg_1min"] = os.getloadavg()[0]
        per_seed.append(row)
        print(f"seed {seed}: ours {row['cpu_s_ours']:.1f} s CPU / {row['wall_s_ours']:.1f} s wall, return {row['return_ours']:.1f} | "
              f"sb3 {row['cpu_s_sb3']:.1f} s CPU / {row['wall_s_sb3']:.1f} s wall, return {row['return_sb3']:.1f} | "
              f"speedup {row['speedup_cpu']:.2f}x CPU, {row['speedup_wall']:.2f}x wall (load {row['load_avg_1min']:.1f})", flush=True)
        assert row["updates_ours"] == row["updates_sb3"] == updates, "both must take the same number of gradient steps"

    def total(key: str) -> float:
        return sum(r[key] for r in per_seed)

    headline = {
        "speedup_vs_sb3": total("cpu_s_sb3") / total("cpu_s_ours"),
        "speedup_wall": total("wall_s_sb3") / total("wall_s_ours"),
        "return_ours": float(np.mean([r["return_ours"] for r in per_seed])),
        "return_sb3": float(np.mean([r["return_sb3"] for r in per_seed])),
        "cpu_s_ours": total("cpu_s_ours"),
        "cpu_s_sb3": total("cpu_s_sb3"),
        "wall_s_ours": total("wall_s_ours"),
        "wall_s_sb3": total("wall_s_sb3"),
        "floor_s_fused": total("floor_s_ours"),
        "floor_s_standard": total("floor_s_sb3"),
        "floor_fraction_ours": total("floor_s_ours") / total("wall_s_ours"),
        "floor_fraction_sb3": total("floor_s_sb3") / total("wall_s_sb3"),
        "speedup_min": min(r["speedup_cpu"] for r in per_seed),
        "speedup_max": max(r["speedup_cpu"] for r in per_seed),
        "updates": float(updates),
    }
    seeds = len(per_seed)
    print(f"\ntotals over {seeds} seeds of {updates} updates each")
    print(f"{'':8}{'CPU time':>12}{'wall time':>12}{'updates/s':>12}{'return':>10}{'floor':>10}{'floor/wall':>12}")
    for name, floor_key in (("ours", "fused"), ("sb3", "standard")):
        cpu, wall = headline[f"cpu_s_{name}"], headline[f"wall_s_{name}"]
        print(f"{name:8}{cpu:>11.1f}s{wall:>11.1f}s{seeds * updates / cpu:>12.0f}{headline[f'return_{name}']:>10.1f}"
              f"{headline[f'floor_s_{floor_key}']:>9.1f}s{headline[f'floor_fraction_{name}']:>12.0%}")
    if budget.fast:
        print(f"speedup (total SB3 CPU time / total ours): {headline['speedup_vs_sb3']:.2f}x")
        print("fast mode: smoke run only, data/results/sac_vs_sb3.json not written")
        return
    details = {"per_seed": per_seed, "env": ENV_ID, "steps": args.steps, "threads": args.threads,
               "eval_episodes": args.eval_episodes, "eval_seed": EVAL_SEED, "sb3_version": stable_baselines3.__version__,
               "load_avg_start": list(load_avg_start), "load_avg_end": list(os.getloadavg()), "cpu_count": os.cpu_count(),
               "definitions": {"speedup_vs_sb3": "sum over seeds of SB3 CPU time / sum of ours (process CPU time of learn)",
                               "speedup_wall": "sum over seeds of SB3 wall time / sum of ours",
                               "return_*": "mean over seeds of the mean deterministic return of eval_episodes episodes",
                               "speedup_min/max": "smallest/largest per-seed CPU-time ratio"},
               "sb3_kwargs": {k: v for k, v in SB3_DEFAULTS.items() if k != "policy_kwargs"} | {"net_arch": [256, 256]},
               "our_config": {k: list(v) if isinstance(v, tuple) else v for k, v in OUR_CONFIG.items()}}
    write_results("sac_vs_sb3", headline, seeds=list(args.seeds), details=details)  # prints the headline last


if __name__ == "__main__":
    main()
