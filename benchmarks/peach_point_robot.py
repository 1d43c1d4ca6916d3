"""PEACH against PEARL on PEARL's own sparse point robot: same goals, same meta-test protocol, same training CPU time.

Issue 12's head-to-head ("PEARL's own sparse point robot ... in the same budget, under the same meta-test protocol").

* **PEACH** trains with ``peach_lite.peach.train_peach`` on ``peach_lite/PointRobotHidden-v0``: the sparse point robot
  (the same 80 train / 20 held-out semicircle goals, start (0, 0), 20 steps) seen through HAC's goal interface with the
  goal hidden; a 2-level hierarchy with H = 5 (5 x 5 >= 20 steps). Its configuration is :data:`PEACH_OVERRIDES`.
* **PEARL** is the relabelling run of ``benchmarks/pearl_point_robot.py`` (``python -m peach_lite train pearl --preset
  point-robot-htr --seed k``: 24 iterations x 500 updates, about 3.9 CPU-minutes per seed). Its checkpoints are reused
  where that benchmark left them (``pearl_point_robot.checkpoint_path``) and their preset, iterations and config match;
  otherwise this script trains them with the same command into ``runs/peach_point_robot/``.
* **Same budget**: PEACH gets the training CPU time of PEARL's htr run per seed (``train_cpu_minutes_per_seed`` of
  data/results/pearl_point_robot.json, 3.9): :data:`ROUNDS` rounds, sized by measurement: a full 220-round run of seed 0
  took 3.07 train CPU-minutes (0.84 CPU-s per round: 4 tasks x 3 episodes, 40 lower updates per episode, 60 top
  updates, plus the in-training meta-tests; one torch thread), so 280 rounds ~ 3.9. Both CPU times are recorded.
* **Same protocol** (oyster's meta-test): on each of the 20 held-out goals, 20 trajectories, the first 5 on prior z,
  the posterior re-inferred after each from all context so far; ``--num-evals`` seeded runs (seeds
  :data:`META_TEST_SEED` + r, the same for both agents). PEACH's episodes end at success (HAC), so both are scored on
  **success**: the share of goals reached in the final trajectory. The oracle (straight to the goal) is computed, not
  assumed: it reaches all 20 goals, so the fraction of the oracle is the final-trajectory success rate.

Diagnostics (which half fails, exploration or inference), for both agents from the same meta-test: the success on prior
z (trajectories 1-5), the share of goals reached at least once on prior z (whose context then holds a paid attempt),
and the final success on those goals. For PEACH also the paid-context probe (each goal's context is one paid top-level
attempt ending at it; then greedy episodes on z ~ q(z | c)) and its collection success per training round.

Headline: ``point_robot_fraction_of_oracle`` (PEACH, mean over seeds; ``_iqm``/``_ci_low``/``_ci_high``/``_mean``),
``pearl_point_robot_fraction_of_oracle``, ``peach_over_pearl`` (difference), ``peach_train_cpu_minutes_per_seed``,
``pearl_train_cpu_minutes_per_seed``, and the diagnostics above.

    nohup python benchmarks/peach_point_robot.py --address serial > runs/logs/peach_point_robot.log 2>&1 &

Writes data/results/peach_point_robot.json and .png. A fast (``PEACH_FAST=1``) or partial (fewer than 3 seeds) run
prints its headline and writes nothing under data/results/ unless ``--out DIR`` is given::

    PEACH_FAST=1 python benchmarks/peach_point_robot.py --address serial --seeds 0 --out /tmp/smoke --runs-dir /tmp/smoke/runs
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

PEACH_OVERRIDES = {"subgoal_horizon": 5, "hindsight_goal_prob": 0.5, "top_random_action_rate": 0.3}
"""PeachConfig fields of the PEACH run (the rest: PeachConfig's defaults)."""
ROUNDS = 280
"""PEACH training rounds per seed: 0.84 CPU-s per round measured (seed 0, 220 rounds: 3.07 CPU-minutes), so about
PEARL htr's 3.9 CPU-minutes."""
ENV_ID = "peach_lite/PointRobotHidden-v0"
PEARL_ENV_ID = "peach_lite/PointRobotSparse-v0"
PEARL_PRESET = "point-robot-htr"
"""``python -m peach_lite train pearl --preset``: PEARL with hindsight task relabelling (pearl_point_robot's headline)."""
META_TEST_SEED = 40_000
"""Meta-test run r of both agents uses seed META_TEST_SEED + r (training seeds are 0, 1, 2)."""
NUM_EXPLORATION, NUM_TRAJECTORIES = 5, 20
"""Oyster's protocol: 20 trajectories per goal, the first 5 on prior z."""
PROBE_SEED = 30_000
PAID_OFFSET = 0.3
"""The paid-context probe's attempt starts this far from the goal, towards (0, 0)."""
BENCHMARKS = Path(__file__).resolve().parent


# ====================================================================================== one run per seed
def peach_run(seed: int, rounds: int, eval_every: int, overrides: dict, num_evals: int) -> dict:
    """Train PEACH for ``rounds`` rounds, meta-test it with the protocol and diagnose it."""
    from peach_lite.device import set_threads
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach import meta_test_success, train_peach
    from peach_lite.posterior import PosteriorSchedule
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    agent, meta = train_peach(seed=seed, progress=False, env_id=ENV_ID, rounds=rounds, eval_every=eval_every, **overrides)
    train_cpu, train_wall = time.process_time() - cpu, time.perf_counter() - wall
    envs = GymTaskEnvs(ENV_ID, seed=META_TEST_SEED)
    tasks = envs.unwrapped.test_tasks()
    agent.schedule = PosteriorSchedule(num_exploration=NUM_EXPLORATION, num_trajectories=NUM_TRAJECTORIES)
    success = [meta_test_success(agent, envs, tasks, seed=META_TEST_SEED + r).success for r in range(num_evals)]
    probe = paid_context_success(agent, envs, tasks)
    envs.close()
    history = meta["history"]
    return {**protocol_summary(success), "paid_context_success": probe, "train_success_per_round": list(agent.train_success),
            "curve_steps": history["eval_steps"], "curve_success": history["eval_values"], "env_steps": meta["steps"],
            "rounds": rounds, "train_cpu_minutes": train_cpu / 60, "train_wall_minutes": train_wall / 60,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def pearl_run(seed: int, iterations: int, num_evals: int, scratch: bool) -> dict:
    """PEARL's htr checkpoint (reused when it matches, else trained), meta-tested with the same protocol."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.device import set_threads
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.paths import data_dir
    from peach_lite.posterior import PosteriorSchedule, meta_test

    set_threads(1)
    wall, cpu = time.perf_counter(), time.process_time()
    path, reused = pearl_checkpoint(seed, iterations, scratch)
    agent, payload = load_agent(path, algorithm="pearl")
    envs = GymTaskEnvs(PEARL_ENV_ID, seed=META_TEST_SEED)
    tasks = envs.unwrapped.test_tasks()
    schedule = PosteriorSchedule(num_exploration=NUM_EXPLORATION, num_trajectories=NUM_TRAJECTORIES)
    success = [meta_test(agent, envs, tasks, schedule, seed=META_TEST_SEED + r).success for r in range(num_evals)]
    envs.close()
    meta = payload["meta"]
    return {**protocol_summary(success), "checkpoint": str(path.relative_to(data_dir().parent)), "reused_checkpoint": reused,
            "iterations": int(meta["iterations"]), "train_cpu_minutes": float(meta["train_cpu_seconds"]) / 60,
            "train_wall_minutes": float(meta["train_seconds"]) / 60, "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu}


def run_one(seed: int, method: str, **kwargs) -> dict:
    """Dispatch one (method, seed) run of the sweep."""
    if method == "pearl":
        return pearl_run(seed, kwargs["iterations"], kwargs["num_evals"], kwargs["scratch"])
    return peach_run(seed, kwargs["rounds"], kwargs["eval_every"], kwargs["overrides"], kwargs["num_evals"])


# ========================================================================================== measurements
def protocol_summary(success: list[np.ndarray]) -> dict:
    """Scores of one agent from its meta-test runs, each (20 goals, 20 trajectories) bool.

    Returns ``final_success`` (final trajectory, mean over goals and runs), ``success_per_trajectory`` (20,),
    ``prior_success`` (trajectories 1-5), ``explored_share`` (goals reached at least once on prior z: their context
    holds a paid attempt), ``final_success_explored`` (final success on those goals; NaN if none).
    """
    runs = np.stack(success).astype(float)  # (num_evals, goals, trajectories)
    explored = runs[:, :, :NUM_EXPLORATION].max(axis=2) > 0
    return {"final_success": float(runs[:, :, -1].mean()), "success_per_trajectory": runs.mean(axis=(0, 1)).tolist(),
            "prior_success": float(runs[:, :, :NUM_EXPLORATION].mean()), "explored_share": float(explored.mean()),
            "final_success_explored": float(runs[:, :, -1][explored].mean()) if explored.any() else float("nan"),
            "final_success_per_eval": runs[:, :, -1].mean(axis=1).tolist()}


def paid_context_success(agent, envs, tasks, num_samples: int = 4) -> float:
    """The point robot's paid-context probe (``peach_diagnostics.paid_context_probe`` reads the maze's site centres and
    4-D state): each goal's context is one top-level attempt from ``PAID_OFFSET`` short of the goal to the goal, reward 0;
    then ``num_samples`` greedy episodes, each on its own z ~ q(z | c). Returns the share that reach the goal."""
    from peach_lite.peach import top_context_row
    from peach_lite.posterior import Belief, act_on_belief

    successes = []
    for k, task in enumerate(tasks):
        goal = np.asarray(task.goal, np.float32)
        start = goal - PAID_OFFSET * goal / max(float(np.linalg.norm(goal)), 1e-6)
        row = torch.as_tensor(top_context_row(start, goal, 0.0, goal))[None, None]
        with torch.no_grad():
            belief = agent.posterior.infer(row)
        episodes = act_on_belief(agent, envs, task, Belief(belief.mean.float(), belief.var.float()), num_samples=num_samples,
                                 seed=PROBE_SEED + k)
        successes.append(float(np.mean(episodes.success)))
    return float(np.mean(successes))


def oracle_success() -> tuple[float, list[int]]:
    """The goal-known policy (straight to the goal) on the 20 held-out goals: success rate and steps per goal."""
    from peach_lite.envs import make
    from peach_lite.envs.oracles import make_oracle_policy, rollout_return

    env = make(ENV_ID)
    policy = make_oracle_policy(env)
    runs = [rollout_return(env, policy, seed=0, options={"task": task}) for task in env.unwrapped.test_tasks()]
    env.close()
    return float(np.mean([info["is_success"] for _, _, info in runs])), [steps for _, steps, _ in runs]


def pearl_checkpoint(seed: int, iterations: int, scratch: bool) -> tuple[Path, bool]:
    """benchmarks/pearl_point_robot.py's htr checkpoint of ``seed`` if it was trained with ``--preset point-robot-htr``,
    ``iterations`` iterations and today's config; else one trained here with the same command. Returns (path, reused)."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.paths import data_dir

    sys.path.insert(0, str(BENCHMARKS))
    from pearl_point_robot import checkpoint_path  # noqa: PLC0415 (a sibling script)

    from peach_lite.pearl_config import PearlConfig

    expected = PearlConfig.preset("sparse-point-robot-htr", seed=seed).to_dict()
    root = data_dir().parent
    own = root / "runs" / ("peach_point_robot_fast" if scratch else "peach_point_robot") / f"pearl_htr_seed{seed}.pt"
    for path in (checkpoint_path(seed, "htr", scratch), own):
        if path.exists():
            _, payload = load_agent(path, algorithm="pearl", check_manifest=False)
            meta = payload["meta"]
            if meta.get("preset") == PEARL_PRESET and int(meta.get("iterations", -1)) == iterations and payload["arch"]["config"] == expected:
                return path, True
    command = [sys.executable, "-m", "peach_lite", "train", "pearl", "--preset", PEARL_PRESET, "--seed", str(seed), "--threads", "1",
               "--no-progress", "--set", "eval_every=5", "--set", f"iterations={iterations}", "--no-record",
               "--out", str(own.relative_to(root))]
    own.parent.mkdir(parents=True, exist_ok=True)
    log = own.with_suffix(".log")
    print("training:", " ".join(command[1:]), f"(log: {log})", flush=True)
    with open(log, "w") as stream:
        code = subprocess.run(command, cwd=root, stdout=stream, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise RuntimeError(f"training {own.name} failed with exit code {code}; see {log}")
    return own, False


# ================================================================================================ main
def main() -> None:
    from peach_lite.pearl import LITE_ITERATIONS

    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=budget.pick(full=ROUNDS, fast=2), help=f"PEACH rounds (default {ROUNDS})")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=50, fast=2), help="rounds between in-training meta-tests")
    parser.add_argument("--iterations", type=int, default=budget.pick(full=LITE_ITERATIONS, fast=1),
                        help=f"PEARL iterations (its benchmark's {LITE_ITERATIONS}; reused checkpoints must match)")
    parser.add_argument("--num-evals", type=int, default=budget.pick(full=2, fast=1), help="seeded meta-test runs per agent")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    small = {} if not budget.fast else {"top_updates_per_round": 2, "lower_updates_per_episode": 2}
    configs = {"peach": {"method": "peach", "rounds": args.rounds, "eval_every": args.eval_every, "num_evals": args.num_evals,
                         "overrides": {**PEACH_OVERRIDES, **small}},
               "pearl": {"method": "pearl", "iterations": args.iterations, "num_evals": args.num_evals, "scratch": budget.fast}}
    name = "peach_point_robot_fast" if budget.fast else "peach_point_robot"
    sweep = run_sweep(run_one, configs, args.seeds, name=name, **sweep_options(args)).check()
    rows = {m: sweep.results(m) for m in configs}
    oracle, oracle_steps = oracle_success()

    def per_seed(method: str, key: str) -> np.ndarray:
        return np.array([r[key] for r in rows[method]], dtype=float)

    peach, pearl = per_seed("peach", "final_success") / oracle, per_seed("pearl", "final_success") / oracle
    headline = {
        "point_robot_fraction_of_oracle": float(peach.mean()),
        "pearl_point_robot_fraction_of_oracle": float(pearl.mean()),
        "peach_over_pearl": float(peach.mean() - pearl.mean()),
        "peach_train_cpu_minutes_per_seed": float(per_seed("peach", "train_cpu_minutes").mean()),
        "pearl_train_cpu_minutes_per_seed": float(per_seed("pearl", "train_cpu_minutes").mean()),
        "oracle_success": oracle,
        "peach_prior_success": float(per_seed("peach", "prior_success").mean()),
        "peach_explored_share": float(per_seed("peach", "explored_share").mean()),
        "peach_paid_context_success": float(per_seed("peach", "paid_context_success").mean()),
        "peach_train_success_last_20_rounds": float(np.mean([np.mean(r["train_success_per_round"][-20:]) for r in rows["peach"]])),
        "pearl_prior_success": float(per_seed("pearl", "prior_success").mean()),
        "pearl_explored_share": float(per_seed("pearl", "explored_share").mean()),
        "rounds": args.rounds,
    }
    headline |= headline_stats("point_robot_fraction_of_oracle", peach)
    headline |= headline_stats("pearl_point_robot_fraction_of_oracle", pearl)
    undefined = sorted(k for k, v in headline.items() if not np.isfinite(v))
    headline = {k: v for k, v in headline.items() if k not in undefined}
    details = {
        "protocol": f"20 held-out goals x {args.num_evals} meta-test runs (seeds {META_TEST_SEED} + r, both agents); {NUM_TRAJECTORIES} "
                    f"trajectories per goal, the first {NUM_EXPLORATION} on prior z, the posterior re-inferred after each from all "
                    "context so far; score = success of the final trajectory (PEACH's episodes end at success)",
        "peach_overrides": PEACH_OVERRIDES,
        "fast_overrides": small,
        "budget": {"peach_rounds": args.rounds, "pearl_iterations": args.iterations,
                   "note": "PEACH's rounds sized to PEARL htr's train CPU time (0.84 CPU-s per round measured on a 220-round run of seed 0)"},
        "oracle": {"success": oracle, "steps_per_goal": oracle_steps},
        "per_seed": {m: {k: per_seed(m, k).tolist() for k in ("final_success", "prior_success", "explored_share", "final_success_explored",
                                                             "train_cpu_minutes", "train_wall_minutes")} for m in configs},
        "runs": rows,
        "undefined_headline_keys": undefined,
        "definitions": {
            "*_prior_success": "success over trajectories 1-5 (prior z): exploration",
            "*_explored_share": "share of goals reached at least once on prior z, whose context then holds a paid attempt",
            "final_success_explored": "final-trajectory success on the explored goals: inference given a paid context",
            "peach_paid_context_success": "greedy episodes on z ~ q(z | one paid attempt ending at the goal): inference and "
                                          "control without exploration",
            "peach_train_success_last_20_rounds": "PEACH's collection success (exploring) over its last 20 training rounds"},
        "cpu_note": "one torch thread per run on a 2-core machine shared with other jobs; CPU minutes do not depend on the load",
        "sweep": {"runs_dir": str(sweep.runs_dir), "address": args.address},
    }
    trajectories = list(range(1, NUM_TRAJECTORIES + 1))
    figure = figure_spec("PEACH vs PEARL on the sparse point robot (same goals, protocol and CPU time)", [
        curves_panel("Meta-test on the 20 held-out goals, trajectory by trajectory", "trajectory k (first 5 on prior z)",
                     "success rate (fraction of goals)",
                     [{"label": "PEACH", "x": trajectories, "y": [r["success_per_trajectory"] for r in rows["peach"]]},
                      {"label": "PEARL + relabelling", "x": trajectories, "y": [r["success_per_trajectory"] for r in rows["pearl"]]}],
                     hlines=[{"label": "oracle (goal known)", "y": oracle}]),
        curves_panel("PEACH's meta-training", "training round", "collection success rate (fraction of episodes)",
                     [{"label": "PEACH (exploring)", "x": list(range(1, args.rounds + 1)),
                       "y": [r["train_success_per_round"] for r in rows["peach"]]}],
                     hlines=[{"label": "oracle (goal known)", "y": oracle}], smooth=min(10, args.rounds)),
    ])
    for key, value in headline.items():
        print(f"  {key:48s} {value:10.4f}")
    partial = budget.fast or len(args.seeds) < 3
    if partial and args.out is None:
        print(f"{'fast' if budget.fast else 'partial'} run ({len(args.seeds)} seed(s)): data/results/peach_point_robot.json left "
              "unchanged (give --out DIR to write one there)")
        return
    write_results("peach_point_robot", headline, seeds=list(args.seeds), details=details, figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
