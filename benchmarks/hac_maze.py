"""Flat (1 level + HER) vs 2-level vs 3-level HAC on the four-rooms point-mass maze, same step budget.

Every configuration trains for the same number of environment steps (default 60,000) on each seed, from
``peach_lite.hac.maze_config(k)`` (flat: one level, horizon = the episode's 200 steps; 2 levels: H = 15;
3 levels: H = 6). Every 25 training episodes the greedy hierarchy is tested on the maze's 20 held-out
goals (``env.unwrapped.test_tasks()``; start in room 0, goals in rooms 1-3). Reported per level count:
final test success (mean over seeds), environment steps and episodes until the first test with >= 80%
success (median over seeds; a run that never gets there counts as the budget, i.e. censored), and wall
time per seed on this machine (2 shared CPU cores, one torch thread).

Headline: ``best_success`` (the better hierarchy's final success), ``flat_success``,
``steps_ratio_flat_over_hier`` (steps-to-80% of flat over the best hierarchy's; a lower bound when the
flat agent never reached 80%, flagged by ``flat_censored`` = 1), per-k figures and wall times.

    python benchmarks/hac_maze.py                       # full: 3 seeds x 3 level counts
    python benchmarks/hac_maze.py --levels 2 --seeds 0 --out /tmp/hac_maze_k2_s0.json  # one run, written elsewhere

In fast mode (PEACH_FAST=1) it runs a tiny smoke run and does not write data/results/hac_maze.json.
Taught in notebooks/07_hac.py (section "Flat vs 2 vs 3 levels").
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from peach_lite.budget import Budget
from peach_lite.device import set_threads
from peach_lite.envs import make
from peach_lite.hac import HAC, MAZE_ID, episodes_at, maze_config, run_training
from peach_lite.results import write_results

TARGET = 0.8
"""The success level whose first crossing is reported (steps/episodes to 80%)."""


def run(num_levels: int, seed: int, total_steps: int, eval_every: int) -> dict:
    """Train one configuration on one seed; return its learning curve and timings."""
    env = make(MAZE_ID)
    agent = HAC.from_env(env, maze_config(num_levels, seed=seed))
    env.close()
    started = time.perf_counter()
    history = run_training(agent, MAZE_ID, total_steps, eval_every=eval_every, seed=seed, progress=False)
    wall = time.perf_counter() - started
    eval_episodes = [episodes_at(history, s) for s in history.eval_steps]
    steps_to_80 = history.first_reaching(TARGET)
    reached = [e for e, v in zip(eval_episodes, history.eval_values) if v >= TARGET]
    return {
        "num_levels": num_levels, "seed": seed, "wall_time_s": round(wall, 1), "episodes": history.episodes,
        "total_steps": history.total_steps, "eval_episodes": eval_episodes, "eval_steps": history.eval_steps,
        "eval_success": history.eval_values, "final_success": history.eval_values[-1],
        "steps_to_80": _finite_or_none(steps_to_80), "episodes_to_80": reached[0] if reached else None,
        "train_success_last_100": float(np.mean(history.extra["train_success"][-100:])),
    }


def summarise(runs: list[dict], levels: list[int], total_steps: int) -> tuple[dict[str, float], dict]:
    """Headline figures per level count (median over seeds for steps/episodes to 80%, censored at the budget)."""
    headline: dict[str, float] = {}
    per_k: dict[int, dict] = {}
    for k in levels:
        mine = [r for r in runs if r["num_levels"] == k]
        steps = [r["steps_to_80"] if r["steps_to_80"] is not None else math.inf for r in mine]
        episodes = [r["episodes_to_80"] if r["episodes_to_80"] is not None else math.inf for r in mine]
        per_k[k] = {
            "final_success": float(np.mean([r["final_success"] for r in mine])),
            "steps_to_80": float(np.median(steps)), "episodes_to_80": float(np.median(episodes)),
            "reached_80": sum(math.isfinite(s) for s in steps), "wall_time_s": float(np.mean([r["wall_time_s"] for r in mine])),
        }
        name = f"{k}_level" + ("s" if k > 1 else "")
        headline[f"success_{name}"] = per_k[k]["final_success"]
        headline[f"steps_to_80_{name}"] = min(per_k[k]["steps_to_80"], float(total_steps))
        headline[f"episodes_to_80_{name}"] = per_k[k]["episodes_to_80"] if math.isfinite(per_k[k]["episodes_to_80"]) else -1.0
        headline[f"seeds_reaching_80_{name}"] = float(per_k[k]["reached_80"])
        headline[f"wall_time_per_seed_s_{name}"] = per_k[k]["wall_time_s"]
    hierarchies = [k for k in levels if k > 1]
    if hierarchies:
        best = max(hierarchies, key=lambda k: (per_k[k]["final_success"], -per_k[k]["steps_to_80"]))
        headline["best_levels"] = float(best)
        headline["best_success"] = per_k[best]["final_success"]
        if 1 in per_k:
            headline["flat_success"] = per_k[1]["final_success"]
            flat_steps = per_k[1]["steps_to_80"]
            headline["flat_censored"] = float(not math.isfinite(flat_steps))
            hier_steps = per_k[best]["steps_to_80"]
            if math.isfinite(hier_steps):
                headline["steps_ratio_flat_over_hier"] = min(flat_steps, float(total_steps)) / hier_steps
    readable = {str(k): {name: _finite_or_none(value) if isinstance(value, float) else value for name, value in v.items()}
                for k, v in per_k.items()}  # JSON has no Infinity: "never reached 80%" is stored as null
    return headline, readable


def main() -> None:
    budget = Budget.from_env()
    print(budget)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--steps", type=int, default=budget.pick(full=60_000, fast=400))
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=25, fast=2))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the measured configuration)")
    parser.add_argument("--out", default=None, help="write the results JSON here instead of data/results/hac_maze.json "
                        "(for partial runs, e.g. one seed)")
    args = parser.parse_args()
    set_threads(args.threads)
    load_before = os.getloadavg()
    runs = []
    started = time.perf_counter()
    for k in args.levels:
        for seed in args.seeds:
            result = run(k, seed, args.steps, args.eval_every)
            runs.append(result)
            print(f"k={k} seed={seed}: final success {result['final_success']:.2f}, steps to 80% {result['steps_to_80']}, "
                  f"episodes to 80% {result['episodes_to_80']}, {result['episodes']} episodes, {result['wall_time_s']:.0f} s",
                  flush=True)
    headline, per_k = summarise(runs, args.levels, args.steps)
    headline["total_wall_time_s"] = time.perf_counter() - started
    details = {
        "env": MAZE_ID, "steps_per_run": args.steps, "eval_every_episodes": args.eval_every, "eval_goals": 20,
        "target": TARGET, "per_level_count": per_k, "runs": runs,
        "configs": {str(k): maze_config(k).to_dict() for k in args.levels},
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "note": "steps/episodes to 80% are medians over seeds; a run that never reached 80% counts as the budget (censored).",
    }
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"headline": headline, "details": details, "seeds": args.seeds}, handle, indent=1)
        print(f"wrote {args.out}; headline: {headline}")
        return
    if budget.fast:
        print("fast mode: smoke run only, data/results/hac_maze.json not written")
        print("headline:", headline)
        return
    write_results("hac_maze", headline, seeds=args.seeds, details=details)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


if __name__ == "__main__":
    main()
