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

Writes ``data/results/env_speed.json`` with headline ``min_steps_per_s`` (the slowest family) and
``max_wrapper_overhead`` (the largest ratio). About a minute on 2 cores (a few seconds with PEACH_FAST=1).

    python benchmarks/env_speed.py

Taught in notebooks/01_task_gallery.py (section "Throughput").
"""
from __future__ import annotations

import time
import warnings

import gymnasium as gym
import numpy as np

import peach_lite.envs as envs
from peach_lite.budget import Budget
from peach_lite.results import write_results

SEED = 0
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


def steps_per_second(env: gym.Env, actions: list, seconds: float) -> float:
    """Step ``env`` through ``actions`` (cycled; reset when an episode ends) for ``seconds`` of CPU time."""
    env.reset(seed=SEED)
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


def paired_steps_per_second(ours: gym.Env, bare: gym.Env, actions: list, seconds: float) -> tuple[float, float]:
    """Alternate single steps of two envs (same actions) for ``seconds`` of CPU time in total.

    Each step is timed with the process CPU clock, so a burst of load from other jobs, or a pause
    of this process, lands on both envs alike; the order flips every step because the env stepped
    first in a pair is measurably slower (cache). Returns (steps/s of ``ours``, steps/s of ``bare``).
    """
    clock = time.process_time_ns
    ours.reset(seed=SEED)
    bare.reset(seed=SEED)
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


def vector_steps_per_second(env_id: str, num_envs: int, seconds: float, mode: str | None) -> float:
    """Sub-env steps per second of ``make_vec(env_id, num_envs, mode)`` (autoreset), CPU time."""
    vec = envs.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    vec.action_space.seed(SEED)
    actions = [vec.action_space.sample() for _ in range(256)]
    vec.reset(seed=SEED)
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(20):
            vec.step(actions[steps % len(actions)])
            steps += 1
    rate = steps * num_envs / (time.process_time() - start)
    vec.close()
    return rate


def random_actions(env: gym.Env, count: int = 1000) -> list:
    env.action_space.seed(SEED)
    return [env.action_space.sample() for _ in range(count)]


def main() -> None:
    budget = Budget.from_env()
    print(budget)
    chunk = budget.pick(full=0.5, fast=0.1)  # CPU seconds per measurement
    repeats = budget.pick(full=3, fast=1)  # paired measurements per locomotion family (median taken)
    pair_chunk = budget.pick(full=3.0, fast=0.2)  # CPU seconds of each paired measurement (both envs)
    warnings.filterwarnings("ignore", message=".*settotalmass.*")

    rates: dict[str, float] = {}
    bare_rates: dict[str, float] = {}
    overheads: dict[str, float] = {}
    for env_id in envs.ENV_IDS:
        env = envs.make(env_id)
        actions = random_actions(env)
        if env_id not in BARE:
            rates[env_id] = steps_per_second(env, actions, 2 * chunk)
            print(f"{env_id:36s} {rates[env_id]:>10,.0f} steps/s")
            env.close()
            continue
        bare_id, kwargs = BARE[env_id]
        bare = gym.make(bare_id, max_episode_steps=200, **kwargs)
        runs = [paired_steps_per_second(env, bare, actions, pair_chunk) for _ in range(repeats)]
        ratios = [bare_rate / ours_rate for ours_rate, bare_rate in runs]
        rates[env_id] = float(np.median([ours_rate for ours_rate, _ in runs]))
        bare_rates[env_id] = float(np.median([bare_rate for _, bare_rate in runs]))
        overheads[env_id] = float(np.median(ratios))
        print(f"{env_id:36s} {rates[env_id]:>10,.0f} steps/s   bare {bare_id}: {bare_rates[env_id]:>9,.0f}   overhead {overheads[env_id]:.3f}x")
        env.close()
        bare.close()

    vector_rates, native_rates = {}, {}
    for env_id in envs.NUMPY_ENV_IDS:
        vector_rates[env_id] = vector_steps_per_second(env_id, 8, chunk, "sync")
        print(f"{env_id:36s} make_vec(8, sync): {vector_rates[env_id]:>10,.0f} sub-env steps/s")
    for env_id in ("peach_lite/PointRobotSparse-v0", "peach_lite/PointRobotDense-v0"):
        native_rates[env_id] = vector_steps_per_second(env_id, 1024, chunk, None)
        print(f"{env_id:36s} make_vec(1024, native numpy): {native_rates[env_id]:>12,.0f} sub-env steps/s")

    slowest = min(rates, key=rates.get)
    headline = {"min_steps_per_s": rates[slowest], "max_wrapper_overhead": max(overheads.values())}
    details = {
        "steps_per_s": rates,
        "bare_v5_steps_per_s": bare_rates,
        "wrapper_overhead": overheads,
        "make_vec_8_sync_steps_per_s": vector_rates,
        "make_vec_1024_native_steps_per_s": native_rates,
        "slowest_family": slowest,
        "clock": "time.process_time (CPU seconds of this process)",
        "chunk_cpu_seconds": chunk,
        "repeats": repeats,
        "pair_cpu_seconds": pair_chunk,
        "overhead_method": "alternating single steps of ours and bare, each timed with time.process_time_ns",
        "mode": budget.mode,
    }
    write_results("env_speed", headline, seeds=[SEED], details=details)


if __name__ == "__main__":
    main()
