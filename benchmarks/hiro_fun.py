"""HIRO (with and without the off-policy correction), FuN and a flat A2C on the four-rooms maze, beside HAC.

All four train on ``peach_lite/PointMazeDense-v0`` (HAC's maze with HIRO's dense reward -distance) and are tested,
greedy, on the maze's 20 held-out goals with its own goal test (``PointMaze-v0``, radius 0.4; HAC's numbers in
data/results/hac_maze.json use the same goals, starts and test). Per run (one Ray task each, ``peach_lite.sweep``):

* ``hiro`` / ``hiro_no_correction`` (3 seeds): :func:`peach_lite.hiro.train_hiro`, ``--hiro-steps`` env steps
  (default 60,000, HAC's budget; the design's 150,000 did not fit the shared machine), 0.5 lower-level updates per
  env step. Then the relabel accuracy (1,000 random true goals run by the trained lower policy, relabelled from a
  stale goal with 10 and with 100 candidates) and a diagnostic that separates the levels: the trained lower level
  driven by a scripted upper level (goals toward the waypoint oracle's next doorway).
* ``fun`` / ``a2c`` (3 seeds): :func:`peach_lite.fun.train_fun`, ``--fun-steps`` env steps (default 150,000), one
  A2C step per lockstep episode of 8 envs; FuN's worker-follows-manager cosine d_cos(s_{t+c} - s_t, g_t) and the
  manager-vs-oracle cosine d_cos(g_t, waypoint direction) on the greedy test episodes.

Headline: ``hiro_success``, ``hiro_no_correction_success``, ``correction_gain`` (their difference, same seeds),
``relabel_median_error_ratio`` (median relabel error / median stale error, 10 candidates; ``..._100`` with 100),
``hiro_oracle_upper_success`` (diagnostic), ``fun_cosine``, ``fun_oracle_cosine``, ``fun_success``, ``a2c_success``,
``hac_success`` (read from hac_maze.json), wall and CPU minutes per seed of each method, IQM and 95% bootstrap
intervals of the success rates.

Run (about 40 wall-minutes on the shared 2-core machine, two runs at a time; needs the sweep extra); ``--checkpoints`` also
saves seed 0 of HIRO and FuN as the lesson's pretrained agents (data/checkpoints/hiro_maze.pt, fun_maze.pt, recorded in
data/MANIFEST.json with this command)::

    python benchmarks/hiro_fun.py --num-cpus 2 --checkpoints

Writes data/results/hiro_fun.json and hiro_fun.png (read by notebooks/09_hiro_fun.py); in fast mode a smoke run
that writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.results import bars_panel, curves_panel, figure_spec, read_results, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

METHODS = ("hiro", "hiro_no_correction", "fun", "a2c")


def train_one(seed: int, method: str, total_steps: int, eval_every_steps: int, relabel_goals: int, settings: dict,
              save_seed0: str = "") -> dict:
    """One seed of one method: train, evaluate, and the method's diagnostics; seed 0's agent is saved to ``save_seed0``
    (a checkpoint with the training metadata) when that is given."""
    from peach_lite.device import set_threads
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    out: dict = {}
    if method.startswith("hiro"):
        from peach_lite.hac import evaluate_success
        from peach_lite.hiro import SUCCESS_ID, oracle_goals, relabel_accuracy, train_hiro

        agent, meta = train_hiro(seed=seed, progress=False, total_steps=total_steps, eval_every_steps=eval_every_steps,
                                 correction=(method == "hiro"), **settings)
        out["train_wall_s"] = time.perf_counter() - wall
        for k in (10, 100):
            errors = relabel_accuracy(agent.lower.actor, agent.config.goal_range, horizon=agent.config.horizon,
                                      num_goals=relabel_goals, num_candidates=k, seed=seed)
            out[f"relabel_median_{k}"] = float(np.median(errors["relabel_error"]))
            out["stale_median"] = float(np.median(errors["stale_error"]))
            out["reached_median"] = float(np.median(errors["reached_error"]))
        agent.goal_override = lambda obs: oracle_goals(obs, agent.config.goal_range)
        out["oracle_upper_success"] = evaluate_success(agent, SUCCESS_ID)  # starts seeded as HAC's tests (10_000 + i)
        out["relabel_shift"] = meta["history"]["extra"].get("relabel_shift", [])
    else:
        from peach_lite.fun import train_fun

        agent, meta = train_fun(seed=seed, progress=False, total_steps=total_steps, eval_every_steps=eval_every_steps,
                                flat=(method == "a2c"), **settings)
        out["train_wall_s"] = time.perf_counter() - wall
        out |= {"cosine": meta["direction_cosine"], "oracle_cosine": meta["oracle_cosine"], "eval_cosine": meta["eval_cosine"],
                "eval_oracle_cosine": meta["eval_oracle_cosine"]}
    if save_seed0 and seed == 0:
        from peach_lite.checkpoints import save_agent

        agent.goal_override = None
        save_agent(agent, save_seed0, meta={"seed": seed, "method": method, "settings": {"total_steps": total_steps, **settings},
                                            **{k: v for k, v in meta.items() if k != "history"}})
        out["checkpoint"] = save_seed0
    out |= {"steps": meta["steps"], "eval_steps": meta["eval_steps"], "eval_success": meta["eval_success"],
            "final_success": meta["final_success"], "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--hiro-steps", type=int, default=budget.pick(full=60_000, fast=400))
    parser.add_argument("--fun-steps", type=int, default=budget.pick(full=150_000, fast=1_200))
    parser.add_argument("--relabel-goals", type=int, default=budget.pick(full=1_000, fast=20))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--checkpoints", action="store_true",
                        help="save seed 0 of HIRO and FuN and record them as data/checkpoints/{hiro,fun}_maze.pt (full runs)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    small_hiro = {} if not budget.fast else {"hidden": (16,), "batch_size": 16, "random_goal_steps": 100}
    small_fun = {} if not budget.fast else {"hidden": (16,)}
    configs = {
        "hiro": {"method": "hiro", "total_steps": args.hiro_steps, "eval_every_steps": max(1, args.hiro_steps // 6),
                 "relabel_goals": args.relabel_goals, "settings": small_hiro},
        "hiro_no_correction": {"method": "hiro_no_correction", "total_steps": args.hiro_steps,
                               "eval_every_steps": max(1, args.hiro_steps // 6), "relabel_goals": args.relabel_goals,
                               "settings": small_hiro},
        "fun": {"method": "fun", "total_steps": args.fun_steps, "eval_every_steps": max(1, args.fun_steps // 10),
                "relabel_goals": 0, "settings": small_fun},
        "a2c": {"method": "a2c", "total_steps": args.fun_steps, "eval_every_steps": max(1, args.fun_steps // 10),
                "relabel_goals": 0, "settings": small_fun},
    }
    configs = {k: v for k, v in configs.items() if k in args.methods}
    if args.checkpoints and not budget.fast:
        from peach_lite.sweep import default_runs_dir

        folder = Path(args.runs_dir or default_runs_dir()) / "hiro_fun"
        for name in ("hiro", "fun"):
            if name in configs:
                configs[name]["save_seed0"] = str((folder / f"{name}_maze_seed0.pt").resolve())
    sweep = run_sweep(train_one, configs, args.seeds, name="hiro_fun" if not budget.fast else "hiro_fun_fast",
                      **sweep_options(args)).check()
    runs = {k: sweep.results(k) for k in configs}

    def col(name: str, key: str) -> np.ndarray:
        return np.array([r[key] for r in runs.get(name, [])], dtype=float)

    try:
        hac = read_results("hac_maze")["headline"]
    except FileNotFoundError:
        hac = {}
    from peach_lite.envs.oracles import maze_reference_return

    oracle = maze_reference_return()["success_rate"]
    headline: dict[str, float] = {"oracle_success": oracle}
    if hac:
        headline["hac_success"] = float(hac["success_2_levels"])
    labels = {"hiro": "hiro", "hiro_no_correction": "hiro_no_correction", "fun": "fun", "a2c": "a2c"}
    for name, key in labels.items():
        if name in runs:
            headline[f"{key}_success"] = float(col(name, "final_success").mean())
            headline[f"{key}_wall_minutes_per_seed"] = float(col(name, "wall_s").mean() / 60)
            headline[f"{key}_cpu_minutes_per_seed"] = float(col(name, "cpu_s").mean() / 60)
            headline |= headline_stats(f"{key}_success", col(name, "final_success"))
    if "hiro" in runs:
        headline["hiro_steps"] = float(args.hiro_steps)
        ratio10 = col("hiro", "relabel_median_10") / col("hiro", "stale_median")
        ratio100 = col("hiro", "relabel_median_100") / col("hiro", "stale_median")
        headline["relabel_median_error_ratio"] = float(ratio10.mean())
        headline["relabel_median_error_ratio_100"] = float(ratio100.mean())
        headline["lower_reached_median_error"] = float(col("hiro", "reached_median").mean())
        headline["stale_median_error"] = float(col("hiro", "stale_median").mean())
        headline["hiro_oracle_upper_success"] = float(col("hiro", "oracle_upper_success").mean())
        if "hiro_no_correction" in runs:
            headline["correction_gain"] = headline["hiro_success"] - headline["hiro_no_correction_success"]
            headline["hiro_no_correction_oracle_upper_success"] = float(col("hiro_no_correction", "oracle_upper_success").mean())
    if "fun" in runs:
        headline["fun_steps"] = float(args.fun_steps)
        headline["fun_cosine"] = float(col("fun", "cosine").mean())
        headline["fun_oracle_cosine"] = float(col("fun", "oracle_cosine").mean())
    for key, value in headline.items():
        print(f"{key:45s} {value:10.3f}")
    if budget.fast and args.out is None:
        print("fast mode: smoke run only, data/results/hiro_fun.json not written (give --out to write one)")
        return

    names = {"hiro": "HIRO", "hiro_no_correction": "HIRO, no correction", "fun": "FuN", "a2c": "flat A2C"}
    hlines = [{"label": f"waypoint oracle {oracle:.2f}", "y": oracle}]
    if hac:
        hlines.append({"label": f"HAC 2 levels, 60k steps: {hac['success_2_levels']:.2f}", "y": float(hac["success_2_levels"])})
    panels = [curves_panel("held-out success while training (greedy, 20 goals)", "environment steps", "success rate (fraction)",
                           [{"label": names[k], "x": [r["eval_steps"] for r in runs[k]], "y": [r["eval_success"] for r in runs[k]]}
                            for k in runs], hlines=hlines)]
    if "hiro" in runs:
        panels.append(bars_panel("HIRO's relabelled goal vs the stale one (1,000 true goals)", "goal", "median error (maze units)",
                                 ["stale goal", "relabelled, 10 candidates", "relabelled, 100", "s_{t+c} - s_t"],
                                 [{"label": "median error", "values": [list(col("hiro", "stale_median")), list(col("hiro", "relabel_median_10")),
                                                                       list(col("hiro", "relabel_median_100")), list(col("hiro", "reached_median"))]}]))
    if "fun" in runs:
        panels.append(bars_panel("FuN: worker follows manager, manager points the right way", "cosine", "mean cosine",
                                 ["d_cos(s_{t+c} - s_t, g_t)", "d_cos(g_t, oracle direction)"],
                                 [{"label": "cosine", "values": [list(col("fun", "cosine")), list(col("fun", "oracle_cosine"))]}],
                                 hlines=[{"label": "target 0.5", "y": 0.5}]))
    details = {"per_seed": runs, "configs": configs,
               "definitions": {
                   "hiro_success": "greedy success on PointMaze-v0's 20 held-out goals after --hiro-steps env steps (mean over seeds)",
                   "correction_gain": "hiro_success - hiro_no_correction_success (same seeds, same budget)",
                   "relabel_median_error_ratio": "median ||g~ - g*|| / median ||g_stale - g*|| over 1,000 true goals g* run by the "
                                                 "trained lower policy for c steps (10 candidates; mean over seeds)",
                   "lower_reached_median_error": "median ||(s_{t+c} - s_t) - g*||: how well the lower policy reaches its goals",
                   "hiro_oracle_upper_success": "the trained lower level driven by scripted goals toward the waypoint oracle's "
                                                "next doorway: high = the upper level is the bottleneck, low = the lower level",
                   "fun_cosine": "mean d_cos(s_{t+c} - s_t, g_t) on the greedy test episodes: the worker follows the manager",
                   "fun_oracle_cosine": "mean d_cos(g_t, waypoint oracle direction at s_t): the manager points the right way",
                   "hac_success": "2-level HAC after 60k steps, from data/results/hac_maze.json",
                   "wall_minutes_per_seed": "wall time of one run (training and its diagnostics) on the shared 2-core machine"},
               "sweep": {"runs_dir": str(sweep.runs_dir), "wall_s": sweep.wall_s}}
    if args.checkpoints and not budget.fast and args.out is None:
        record_checkpoints(configs)
    write_results("hiro_fun", headline, seeds=list(args.seeds), details=details,
                  figure=figure_spec("HIRO, FuN and flat A2C on the four-rooms maze", panels), out_dir=args.out)


def record_checkpoints(configs: dict) -> None:
    """Copy seed 0's saved agents to data/checkpoints/ and record them (with this command) in data/MANIFEST.json."""
    import shutil

    from peach_lite.checkpoints import evaluate_checkpoint, record_in_manifest
    from peach_lite.paths import checkpoints_dir
    from peach_lite.results import this_command

    for name in ("hiro", "fun"):
        source = configs.get(name, {}).get("save_seed0")
        if not source:
            continue
        target = checkpoints_dir() / f"{name}_maze.pt"
        shutil.copyfile(source, target)
        score = evaluate_checkpoint(target)
        record_in_manifest(target, command=this_command(), seed=0, score_name="test_success", score=score,
                           evaluate="peach_lite.checkpoints:evaluate_checkpoint", tolerance=0.1)
        print(f"{target}: test_success = {score:.3f} (recorded in data/MANIFEST.json)")


if __name__ == "__main__":
    main()
