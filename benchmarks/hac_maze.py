"""Flat (1 level + HER) vs 2-level vs 3-level HAC on the four-rooms point-mass maze, same step budget.

Every configuration trains for the same number of environment steps (default 60,000) on each seed, from
``peach_lite.hac.maze_config(k)`` (flat: one level, horizon = the episode's 200 steps; 2 levels: H = 15;
3 levels: H = 6). Every 25 training episodes the greedy hierarchy is tested on the maze's 20 held-out
goals (``env.unwrapped.test_tasks()``; start in room 0, goals in rooms 1-3). Reported per level count:
final test success (mean over seeds), environment steps and episodes until the first test with >= 80%
success (median over seeds; a run that never gets there counts as the budget, i.e. censored), and wall
time per seed on this machine (2 shared CPU cores, one torch thread per run).

Headline: ``best_success`` (the better hierarchy's final success), ``flat_success``,
``steps_ratio_flat_over_hier`` (steps-to-80% of flat over the best hierarchy's; a lower bound when the
flat agent never reached 80%, flagged by ``flat_censored`` = 1), per-k figures and wall times. Beside each
level count's mean final success, ``success_<k>_level(s)_iqm`` / ``_ci_low`` / ``_ci_high`` / ``_mean``: the
interquartile mean over seeds and its 95% stratified bootstrap interval (``peach_lite.stats``); and, when the flat
agent ran, ``success_hier_over_flat_prob_improvement`` (with ``_ci_low`` / ``_ci_high``): P(a seed of the best
hierarchy ends with a higher test success than a seed of the flat agent).

Each (level count, seed) is one task of a Ray sweep (``peach_lite.sweep``; ``--num-cpus`` limits a local Ray,
``--address`` or ``RAY_ADDRESS`` names a cluster). Each finished run is kept in
``runs/hac_maze/levels<k>/seed<s>.json``: a rerun with the same settings reads it instead of training again (an
interrupted benchmark resumes), ``--fresh`` redoes every run.

    python benchmarks/hac_maze.py                                   # full: 3 seeds x 3 level counts, one run per core
    python benchmarks/hac_maze.py --levels 2 --seeds 0 --out /tmp/hac_k2_s0   # one run, written to /tmp/hac_k2_s0/

Writes data/results/hac_maze.json and its figure hac_maze.png (shown by notebooks/07_hac.py, section
"Flat vs 2 vs 3 levels"). A fast (``PEACH_FAST=1``: a tiny smoke run, run files under ``runs/hac_maze_fast/``) or
partial (fewer than 3 seeds, or not all of levels 1 2 3) run prints its headline and writes nothing under
``data/results/`` unless ``--out DIR`` names a folder::

    PEACH_FAST=1 python benchmarks/hac_maze.py --levels 1 2 --seeds 0 --out /tmp/hac_smoke --runs-dir /tmp/hac_smoke/runs
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from peach_lite.budget import Budget
from peach_lite.device import set_threads
from peach_lite.envs import make
from peach_lite.hac import HAC, MAZE_ID, episodes_at, maze_config, run_training
from peach_lite.results import write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

TARGET = 0.8
"""The success level whose first crossing is reported (steps/episodes to 80%)."""
FULL_LEVELS = [1, 2, 3]
FULL_SEEDS = 3
"""A run with fewer seeds or other level counts is partial: it writes data/results/ only with --out."""


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


def train_one(seed: int, num_levels: int, total_steps: int, eval_every: int, threads: int) -> dict:
    """One sweep run (a Ray task, one CPU): ``threads`` torch threads, then :func:`run`."""
    set_threads(threads)
    return run(num_levels, seed, total_steps, eval_every)


def level_name(k: int) -> str:
    """``1_level``, ``2_levels``, ...: the suffix of the per-k headline keys."""
    return f"{k}_level" + ("s" if k > 1 else "")


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
        name = level_name(k)
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="--out DIR: where hac_maze.json and hac_maze.png go (default data/results; "
                                            "a fast or partial run writes them only when --out is given)")
    parser.add_argument("--levels", type=int, nargs="+", default=FULL_LEVELS, help="level counts to compare (default 1 2 3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--steps", type=int, default=budget.pick(full=60_000, fast=400),
                        help="environment steps per run (the same for every level count)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=25, fast=2),
                        help="training episodes between tests on the held-out goals")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (1: the measured configuration)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    for name in ("steps", "eval_every", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(k < 1 for k in args.levels) or len(set(args.levels)) != len(args.levels):
        parser.error(f"--levels must be distinct level counts >= 1, got {args.levels}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be >= 1, got {args.num_cpus}")

    load_before = os.getloadavg()
    configs = {f"levels{k}": dict(num_levels=k, total_steps=args.steps, eval_every=args.eval_every, threads=args.threads)
               for k in args.levels}
    # fast mode (PEACH_FAST=1) keeps its run files apart from the full runs' (runs/hac_maze_fast/)
    sweep = run_sweep(train_one, configs, args.seeds, name="hac_maze_fast" if budget.fast else "hac_maze",
                      **sweep_options(args)).check()
    runs = [r for k in args.levels for r in sweep.results(f"levels{k}")]
    for result in runs:
        print(f"k={result['num_levels']} seed={result['seed']}: final success {result['final_success']:.2f}, "
              f"steps to 80% {result['steps_to_80']}, episodes to 80% {result['episodes_to_80']}, "
              f"{result['episodes']} episodes, {result['wall_time_s']:.0f} s", flush=True)

    headline, per_k = summarise(runs, args.levels, args.steps)
    headline["total_wall_time_s"] = sweep.wall_s
    # IQM over seeds with a 95% stratified bootstrap interval beside the mean (peach_lite.stats)
    for k in args.levels:
        headline |= headline_stats(f"success_{level_name(k)}", sweep.values(f"levels{k}", "final_success"))
    compared = None
    if 1 in args.levels and "best_levels" in headline:
        compared = int(headline["best_levels"])
        headline |= improvement_stats("success_hier_over_flat", sweep.values(f"levels{compared}", "final_success"),
                                      sweep.values("levels1", "final_success"))
    details = {
        "env": MAZE_ID, "steps_per_run": args.steps, "eval_every_episodes": args.eval_every, "eval_goals": 20,
        "target": TARGET, "per_level_count": per_k, "runs": runs,
        "configs": {str(k): maze_config(k).to_dict() for k in args.levels},
        "threads_per_run": args.threads,
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "note": "steps/episodes to 80% are medians over seeds; a run that never reached 80% counts as the budget (censored).",
        "definitions": {
            "success_*_iqm, _ci_low, _ci_high, _mean": "final test success: interquartile mean over seeds and its 95% "
                                                       "stratified bootstrap interval, and the plain mean "
                                                       "(peach_lite.stats, rliable)",
            "success_hier_over_flat_prob_improvement": "P(a seed of the best hierarchy ends with a higher test success "
                                                       "than a seed of the flat agent; ties count half), with its 95% "
                                                       "interval" + (f" (here: {compared} levels over flat)" if compared
                                                                     else " (not here: the flat agent did not run)"),
            "total_wall_time_s": "wall time of the sweep (all runs in parallel, one per core; resumed runs cost nothing)",
        },
        "sweep": {"runs_dir": str(sweep.runs_dir), "wall_s": sweep.wall_s, "num_cpus": args.num_cpus,
                  "resumed_runs": sum(r.resumed for r in sweep.runs)},
    }
    partial = budget.fast or len(args.seeds) < FULL_SEEDS or sorted(args.levels) != FULL_LEVELS
    if partial and args.out is None:
        for key, value in headline.items():
            print(f"  {key:48s} {value:10.4f}")
        print(f"{'fast' if budget.fast else 'partial'} run (levels {args.levels}, {len(args.seeds)} seed(s)): "
              "data/results/hac_maze.json left unchanged (give --out DIR to write one there)")
        return
    write_results("hac_maze", headline, seeds=list(args.seeds), details=details,
                  out_dir=args.out)  # draws hac_maze.png too, and prints the headline last


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


if __name__ == "__main__":
    main()
