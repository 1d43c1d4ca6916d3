"""Our SAC against stable-baselines3's SAC on Pendulum-v1: the same work, timed in the same run.

Both libraries use SB3's SAC defaults (net 256x256, batch 256, lr 3e-4 everywhere, buffer 1e6,
learning_starts 100, train_freq 1, gradient_steps 1, ent_coef "auto" starting at 1, target entropy
-action_dim, tau 0.005, gamma 0.99) and the same update order (critic step, then the actor against the
updated critic, then the temperature), the same env, the same number of environment steps and gradient
updates, and the same torch thread count. Per seed we record each library's wall time and process CPU
time for ``learn``, its training episodes (the learning curve in the figure), and the mean deterministic
return over 10 fixed evaluation episodes (reset with seeds EVAL_SEED + i, the same for both).

Each (library, seed) is one task of a Ray sweep (``peach_lite.sweep``, one CPU each; ``--address`` or
``RAY_ADDRESS`` for a cluster; finished runs are kept under ``runs/sac_vs_sb3/`` and a rerun resumes). Runs
of the two libraries may share the machine at the same time, which is why the headline compares CPU time;
``--num-cpus 1`` runs them one after another, as on a quiet machine.

Headline, over all seeds:

* ``speedup_vs_sb3`` = total SB3 CPU time / total our CPU time (sums over seeds). With one torch thread
  (the default) a run's CPU time is the time it computed, which equals its wall time on an idle machine and,
  unlike wall time, does not grow while the process waits for a core that other jobs hold.
* ``speedup_wall`` = total SB3 wall time / total our wall time, the same ratio in wall-clock time; it
  agrees with ``speedup_vs_sb3`` when the machine was quiet (``load_avg_*`` in the details tell).
* ``return_ours`` / ``return_sb3`` = mean over seeds of the evaluation return; per-seed values, the
  per-seed ratios and every time are in ``details``.
* ``swing_ups_ours`` / ``swing_ups_sb3``: seeds whose evaluation return exceeds -200, out of ``seeds_per_library``.
* ``return_ours_iqm`` / ``_ci_low`` / ``_ci_high`` (and ``return_sb3_*``, ``speedup_*`` over the per-seed CPU
  ratios): interquartile mean over seeds with a 95% stratified bootstrap interval (``peach_lite.stats``);
  ``return_ours_over_sb3_prob_improvement``: P(a seed of ours returns more than a seed of SB3), and
  ``speed_ours_over_sb3_prob_improvement``: P(a seed of ours takes less CPU time than a seed of SB3).

The compute floor is the bare matmuls of the update with nothing around them (no autograd, no
optimiser, no env), timed on preallocated tensors: once for the textbook update that SB3 performs
("standard": two separate critics, critic weight-gradients computed in the actor loss too) and once
for ours ("fused": both critics in one batched matmul, critic frozen in the actor loss). It is
re-measured right before each library's run, and "floor fraction" = floor time / wall time of that run.

Run (about 5 minutes of one core per seed; needs the ``bench`` extra, ``pip install -e .[bench]``)::

    python benchmarks/sac_vs_sb3.py --address serial   # 10 seeds per library, one after another

Writes data/results/sac_vs_sb3.json (read by notebooks/04_sac.py) and its figure sac_vs_sb3.png, and prints
the headline last. In fast mode (PEACH_FAST=1) it runs a smoke-sized version and writes nothing unless
``--out`` names a folder::

    PEACH_FAST=1 python benchmarks/sac_vs_sb3.py --steps 300 --seeds 0 1 --out /tmp/smoke --runs-dir /tmp/smoke/runs
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
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ENV_ID = "Pendulum-v1"
EVAL_SEED = 1_000
"""Evaluation episodes are reset with seeds EVAL_SEED + i, identical for both libraries."""
SWING_UP_RETURN = -200.0
"""A seed "swings up" when its mean evaluation return exceeds this (a policy that fails to swing up and hold loses hundreds more per episode)."""
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
    return {"wall_s": wall, "cpu_s": cpu, "updates": history.num_updates, "return": float(returns.mean()),
            "curve_steps": list(history.steps), "curve_returns": [float(r) for r in history.returns]}


def run_sb3(seed: int, steps: int, eval_episodes: int) -> dict[str, float]:
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.monitor import Monitor

    seed_everything(seed)
    env = Monitor(gym.make(ENV_ID))  # SB3 wraps the env in a Monitor anyway; ours keeps its episode returns
    model = SB3SAC("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **SB3_DEFAULTS)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    greedy = PolicyAgent(lambda obs: model.predict(obs, deterministic=True)[0])
    returns = evaluate(greedy, gym.make(ENV_ID), num_episodes=eval_episodes, seed=EVAL_SEED).returns
    return {"wall_s": wall, "cpu_s": cpu, "updates": int(model._n_updates), "return": float(returns.mean()),
            "curve_steps": np.cumsum(env.get_episode_lengths()).tolist(),
            "curve_returns": [float(r) for r in env.get_episode_rewards()]}


RUNNERS = {"ours": run_ours, "sb3": run_sb3}
FLOOR_KIND = {"ours": "fused", "sb3": "standard"}
"""Each library's update is compared with the bare matmuls of its own kind of update (see matmul_floor)."""


def train_one(seed: int, library: str, steps: int, eval_episodes: int, threads: int) -> dict[str, float]:
    """One sweep run: the compute floor, then one library's training and evaluation (a Ray task).

    The floor is measured right before the run, in the same process, so a machine whose speed drifts
    (other jobs) is compared with itself; per update it is scaled to the run's number of updates.
    """
    if library not in RUNNERS:
        raise ValueError(f"library must be one of {sorted(RUNNERS)}, got {library!r}")
    torch.set_num_threads(threads)
    env = gym.make(ENV_ID)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    floor_s = matmul_floor(FLOOR_KIND[library], obs_dim, action_dim) * (steps - 100)
    run = RUNNERS[library](seed, steps, eval_episodes)
    return {**run, "floor_s": floor_s, "load_avg_1min": os.getloadavg()[0]}


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
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=list(range(10)), fast=[0]))
    parser.add_argument("--steps", type=int, default=budget.pick(full=10_000, fast=300))
    parser.add_argument("--eval-episodes", type=int, default=budget.pick(full=10, fast=2))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both libraries (1: CPU time = compute time)")
    add_sweep_arguments(parser)
    args = parser.parse_args()

    import stable_baselines3

    updates = args.steps - 100
    load_avg_start = os.getloadavg()
    run = dict(steps=args.steps, eval_episodes=args.eval_episodes, threads=args.threads)
    sweep = run_sweep(train_one, {"ours": {"library": "ours", **run}, "sb3": {"library": "sb3", **run}}, args.seeds,
                      name="sac_vs_sb3", **sweep_options(args)).check()
    ours, sb3 = sweep.results("ours"), sweep.results("sb3")

    per_seed = []
    for seed, row_ours, row_sb3 in zip(args.seeds, ours, sb3):
        row = {"seed": seed}
        for name, result in (("ours", row_ours), ("sb3", row_sb3)):
            row.update({f"{k}_{name}": result[k] for k in ("floor_s", "wall_s", "cpu_s", "updates", "return")})
        row["speedup_cpu"] = row["cpu_s_sb3"] / row["cpu_s_ours"]
        row["speedup_wall"] = row["wall_s_sb3"] / row["wall_s_ours"]
        row["load_avg_1min"] = max(row_ours["load_avg_1min"], row_sb3["load_avg_1min"])
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
        "swing_ups_ours": float(sum(r["return_ours"] > SWING_UP_RETURN for r in per_seed)),
        "swing_ups_sb3": float(sum(r["return_sb3"] > SWING_UP_RETURN for r in per_seed)),
        "seeds_per_library": float(len(per_seed)),
    }
    returns_ours, returns_sb3 = sweep.values("ours", "return"), sweep.values("sb3", "return")
    cpu_ours, cpu_sb3 = sweep.values("ours", "cpu_s"), sweep.values("sb3", "cpu_s")
    headline |= headline_stats("return_ours", returns_ours) | headline_stats("return_sb3", returns_sb3)
    headline |= headline_stats("speedup", [r["speedup_cpu"] for r in per_seed])
    headline |= improvement_stats("return_ours_over_sb3", returns_ours, returns_sb3)
    headline |= improvement_stats("speed_ours_over_sb3", -cpu_ours, -cpu_sb3)
    seeds = len(per_seed)
    print(f"\ntotals over {seeds} seeds of {updates} updates each")
    print(f"{'':8}{'CPU time':>12}{'wall time':>12}{'updates/s':>12}{'return':>10}{'floor':>10}{'floor/wall':>12}")
    for name, floor_key in (("ours", "fused"), ("sb3", "standard")):
        cpu, wall = headline[f"cpu_s_{name}"], headline[f"wall_s_{name}"]
        print(f"{name:8}{cpu:>11.1f}s{wall:>11.1f}s{seeds * updates / cpu:>12.0f}{headline[f'return_{name}']:>10.1f}"
              f"{headline[f'floor_s_{floor_key}']:>9.1f}s{headline[f'floor_fraction_{name}']:>12.0%}")
    if budget.fast and args.out is None:
        print(f"speedup (total SB3 CPU time / total ours): {headline['speedup_vs_sb3']:.2f}x")
        print("fast mode: smoke run only, data/results/sac_vs_sb3.json not written (give --out to write one)")
        return
    details = {"per_seed": per_seed, "env": ENV_ID, "steps": args.steps, "threads": args.threads,
               "eval_episodes": args.eval_episodes, "eval_seed": EVAL_SEED, "sb3_version": stable_baselines3.__version__,
               "load_avg_start": list(load_avg_start), "load_avg_end": list(os.getloadavg()), "cpu_count": os.cpu_count(),
               "definitions": {"speedup_vs_sb3": "sum over seeds of SB3 CPU time / sum of ours (process CPU time of learn)",
                               "speedup_wall": "sum over seeds of SB3 wall time / sum of ours",
                               "return_*": "mean over seeds of the mean deterministic return of eval_episodes episodes",
                               "speedup_min/max": "smallest/largest per-seed CPU-time ratio",
                               "swing_ups_*": f"seeds whose evaluation return exceeds {SWING_UP_RETURN} (the pendulum swung up and held)"},
               "sb3_kwargs": {k: v for k, v in SB3_DEFAULTS.items() if k != "policy_kwargs"} | {"net_arch": [256, 256]},
               "our_config": {k: list(v) if isinstance(v, tuple) else v for k, v in OUR_CONFIG.items()},
               "curves": {label: {"x": [r["curve_steps"] for r in rows], "y": [r["curve_returns"] for r in rows]}
                          for label, rows in (("ours", ours), ("stable-baselines3", sb3))},
               "sweep": {"runs_dir": str(sweep.runs_dir), "wall_s": sweep.wall_s,
                         "resumed_runs": sum(r.resumed for r in sweep.runs)}}
    details["definitions"]["*_iqm, *_ci_low, *_ci_high"] = ("interquartile mean over seeds and its 95% stratified "
                                                           "bootstrap interval (peach_lite.stats, rliable)")
    details["definitions"]["*_prob_improvement"] = "P(a seed of ours beats a seed of SB3), with its 95% interval"
    write_results("sac_vs_sb3", headline, seeds=list(args.seeds), details=details,
                  out_dir=args.out)  # draws sac_vs_sb3.png too, and prints the headline last


if __name__ == "__main__":
    main()
