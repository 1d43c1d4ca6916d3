"""Steps per second of every registered task family, and the overhead of the v5-based ones.

For each ``peach_lite/`` id we step random actions (drawn beforehand, the same for every env of a
family) through ``gymnasium.make(...)`` — wrappers included — and count steps per second of this
process's CPU time (``time.process_time``), which other jobs on a shared machine disturb less than
wall time. For the four locomotion families we also time the bare gymnasium v5 env they subclass
(same kwargs, same ``TimeLimit`` of 200), alternating single steps of the two envs with the same
actions and timing each step with the process CPU clock, and report
``overhead = bare steps/s / ours steps/s`` (median of 3 measurements of 3 CPU seconds; the goal is
<= 1.15; on a busy machine single measurements scatter by several percent). The numpy families are also
timed through ``make_vec(..., num_envs=8, vectorization_mode="sync")``, and the point robots
through their native numpy vector env (``make_vec(..., 1024)``).

Each (family, seed) is one task of a Ray sweep (``peach_lite.sweep``, one CPU each); a seed draws the random
actions, so seeds are repeated measurements. Rates are means over seeds.

Writes ``data/results/env_speed.json`` (and the bar chart ``env_speed.png``) with headline
``min_steps_per_s`` (the slowest family) and ``max_wrapper_overhead`` (the largest ratio), and for both the
interquartile mean over seeds with its 95% bootstrap interval (``min_steps_per_s_iqm``, ``_ci_low``,
``_ci_high``, ``_mean``; ``max_wrapper_overhead_iqm``, ...), taken over the family the headline names.
About a minute on 2 cores (a few seconds with PEACH_FAST=1).

    python benchmarks/env_speed.py                      # --seeds 0 1 2 for repeated measurements
    PEACH_FAST=1 python benchmarks/env_speed.py --out /tmp/smoke --runs-dir /tmp/smoke/runs   # a smoke test

Taught in notebooks/01_task_gallery.py (section "Throughput").
"""
from __future__ import annotations

import argparse
import time
import warnings

import gymnasium as gym
import numpy as np

import peach_lite.envs as envs
from peach_lite.budget import Budget
from peach_lite.results import write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

SEED = 0
"""The default seed of the random actions (``--seeds`` for more)."""
BARE = {
    "peach_lite/HalfCheetahVel-v0": ("HalfCheetah-v5", {"ctrl_cost_weight": 0.05}),
    "peach_lite/HalfCheetahDir-v0": ("HalfCheetah-v5", {"ctrl_cost_weight": 0.05}),
    "peach_lite/AntDir-v0": ("Ant-v5", {}),
    "peach_lite/AntGoal-v0": (
        "Ant-v5",
        {"ctrl_cost_weight": 0.1, "terminate_when_unhealthy": False, "healthy_reward": 0.0, "exclude_current_positions_from_observation": False},
    ),
}
"""The bare gymnasium env (and kwargs) each locomotion family subclasses."""


def steps_per_second(env: gym.Env, actions: list, seconds: float, seed: int = SEED) -> float:
    """Step ``env`` through ``actions`` (cycled; reset when an episode ends) for ``seconds`` of CPU time."""
    env.reset(seed=seed)
    steps, start = 0, time.process_time()
    while True:
        for _ in range(100):
            _, _, terminated, truncated, _ = env.step(actions[steps % len(actions)])
            steps += 1
            if terminated or truncated:
                env.reset()
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return steps / elapsed


def paired_steps_per_second(ours: gym.Env, bare: gym.Env, actions: list, seconds: float,
                            seed: int = SEED) -> tuple[float, float]:
    """Alternate single steps of two envs (same actions) for ``seconds`` of CPU time in total.

    Each step is timed with the process CPU clock, so a burst of load from other jobs, or a pause
    of this process, lands on both envs alike; the order flips every step because the env stepped
    first in a pair is measurably slower (cache). Returns (steps/s of ``ours``, steps/s of ``bare``).
    """
    clock = time.process_time_ns
    ours.reset(seed=seed)
    bare.reset(seed=seed)
    spent = [0, 0]
    steps, budget_ns = 0, int(seconds * 1e9)
    while spent[0] + spent[1] < budget_ns:
        action = actions[steps % len(actions)]
        order = ((0, ours), (1, bare)) if steps % 2 == 0 else ((1, bare), (0, ours))  # whoever goes first is ~3% slower
        for index, env in order:
            start = clock()
            _, _, terminated, truncated, _ = env.step(action)
            spent[index] += clock() - start
            if terminated or truncated:
                env.reset()
        steps += 1
    return steps / (spent[0] * 1e-9), steps / (spent[1] * 1e-9)


def vector_steps_per_second(env_id: str, num_envs: int, seconds: float, mode: str | None, seed: int = SEED) -> float:
    """Sub-env steps per second of ``make_vec(env_id, num_envs, mode)`` (autoreset), CPU time."""
    vec = envs.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    vec.action_space.seed(seed)
    actions = [vec.action_space.sample() for _ in range(256)]
    vec.reset(seed=seed)
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(20):
            vec.step(actions[steps % len(actions)])
            steps += 1
    rate = steps * num_envs / (time.process_time() - start)
    vec.close()
    return rate


def random_actions(env: gym.Env, count: int = 1000, seed: int = SEED) -> list:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(count)]


NATIVE_VECTOR_IDS = ("peach_lite/PointRobotSparse-v0", "peach_lite/PointRobotDense-v0")
"""Families with their own numpy vector env, also timed with 1024 sub-envs."""


def measure_family(seed: int, env_id: str, chunk: float, repeats: int, pair_chunk: float) -> dict[str, float]:
    """Every measurement of one family with the random actions of ``seed`` (one sweep run, a Ray task).

    Returns ``steps_per_s``, and where they apply ``bare_v5_steps_per_s`` / ``wrapper_overhead`` (median of
    ``repeats`` paired measurements), ``make_vec_8_sync_steps_per_s``, ``make_vec_1024_native_steps_per_s``.
    """
    warnings.filterwarnings("ignore", message=".*settotalmass.*")
    env = envs.make(env_id)
    actions = random_actions(env, seed=seed)
    out: dict[str, float] = {}
    if env_id not in BARE:
        out["steps_per_s"] = steps_per_second(env, actions, 2 * chunk, seed)
    else:
        bare_id, kwargs = BARE[env_id]
        bare = gym.make(bare_id, max_episode_steps=200, **kwargs)
        runs = [paired_steps_per_second(env, bare, actions, pair_chunk, seed) for _ in range(repeats)]
        out["steps_per_s"] = float(np.median([ours_rate for ours_rate, _ in runs]))
        out["bare_v5_steps_per_s"] = float(np.median([bare_rate for _, bare_rate in runs]))
        out["wrapper_overhead"] = float(np.median([bare_rate / ours_rate for ours_rate, bare_rate in runs]))
        bare.close()
    env.close()
    if env_id in envs.NUMPY_ENV_IDS:
        out["make_vec_8_sync_steps_per_s"] = vector_steps_per_second(env_id, 8, chunk, "sync", seed)
    if env_id in NATIVE_VECTOR_IDS:
        out["make_vec_1024_native_steps_per_s"] = vector_steps_per_second(env_id, 1024, chunk, None, seed)
    return out


def main() -> None:
    budget = Budget.from_env()
    print(budget)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[SEED], help="seeds of the random actions (repeats)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    chunk = budget.pick(full=0.5, fast=0.1)  # CPU seconds per measurement
    repeats = budget.pick(full=3, fast=1)  # paired measurements per locomotion family (median taken)
    pair_chunk = budget.pick(full=3.0, fast=0.2)  # CPU seconds of each paired measurement (both envs)

    configs = {env_id.split("/")[-1]: {"env_id": env_id, "chunk": chunk, "repeats": repeats, "pair_chunk": pair_chunk}
               for env_id in envs.ENV_IDS}
    sweep = run_sweep(measure_family, configs, args.seeds, name="env_speed", **sweep_options(args)).check()

    def per_seed(key: str) -> dict[str, list[float]]:
        return {config["env_id"]: sweep.values(name, key).tolist() for name, config in configs.items()
                if key in sweep.results(name)[0]}

    def mean(key: str) -> dict[str, float]:
        return {env_id: float(np.mean(values)) for env_id, values in per_seed(key).items()}

    rates, bare_rates, overheads = mean("steps_per_s"), mean("bare_v5_steps_per_s"), mean("wrapper_overhead")
    for env_id, rate in rates.items():
        extra = (f"   bare {BARE[env_id][0]}: {bare_rates[env_id]:>9,.0f}   overhead {overheads[env_id]:.3f}x"
                 if env_id in overheads else "")
        print(f"{env_id:36s} {rate:>10,.0f} steps/s{extra}")
    vector_rates, native_rates = mean("make_vec_8_sync_steps_per_s"), mean("make_vec_1024_native_steps_per_s")
    for env_id, rate in vector_rates.items():
        print(f"{env_id:36s} make_vec(8, sync): {rate:>10,.0f} sub-env steps/s")
    for env_id, rate in native_rates.items():
        print(f"{env_id:36s} make_vec(1024, native numpy): {rate:>12,.0f} sub-env steps/s")

    slowest = min(rates, key=rates.get)
    worst = max(overheads, key=overheads.get)
    headline = {"min_steps_per_s": rates[slowest], "max_wrapper_overhead": overheads[worst]}
    headline |= headline_stats("min_steps_per_s", per_seed("steps_per_s")[slowest])
    headline |= headline_stats("max_wrapper_overhead", per_seed("wrapper_overhead")[worst])
    details = {
        "steps_per_s": rates,
        "bare_v5_steps_per_s": bare_rates,
        "wrapper_overhead": overheads,
        "make_vec_8_sync_steps_per_s": vector_rates,
        "make_vec_1024_native_steps_per_s": native_rates,
        "per_seed_steps_per_s": per_seed("steps_per_s"),
        "per_seed_bare_v5_steps_per_s": per_seed("bare_v5_steps_per_s"),
        "per_seed_wrapper_overhead": per_seed("wrapper_overhead"),
        "slowest_family": slowest,
        "largest_overhead_family": worst,
        "clock": "time.process_time (CPU seconds of this process)",
        "chunk_cpu_seconds": chunk,
        "repeats": repeats,
        "pair_cpu_seconds": pair_chunk,
        "overhead_method": "alternating single steps of ours and bare, each timed with time.process_time_ns",
        "statistics": "rates are means over seeds; *_iqm/_ci_low/_ci_high: IQM over seeds, 95% stratified bootstrap",
        "mode": budget.mode,
        "sweep": {"runs_dir": str(sweep.runs_dir), "wall_s": sweep.wall_s,
                  "resumed_runs": sum(r.resumed for r in sweep.runs)},
    }
    write_results("env_speed", headline, seeds=list(args.seeds), details=details, out_dir=args.out)


if __name__ == "__main__":
    main()
