"""MQL on HalfCheetahVel, report-only: context TD3 meta-trained for one seed, its greedy return on the env's 30
test velocities, a do-nothing policy's return on the same tasks, and MQL adaptation on a few test tasks.

Issue 14's "HalfCheetahVel as a report-only run": there is no target. The run records what context TD3 reaches
at about 15 CPU-minutes, next to the zero-action floor and the PEARL cheetah-vel checkpoint's score (read from
data/MANIFEST.json), so the lesson can say how far this compute gets on a locomotion task.

One run (seed 0, a run of peach_lite.sweep cached under runs/mql_cheetah/):

* meta-train context TD3 (``MQLConfig(task_input="context")``, lr 1e-3 as benchmarks/mql.py) on the 100 training
  velocities with the shared loop, evaluating the greedy return on the test tasks along the way (the curve);
* the final greedy return on the 30 test velocities (200-step episodes; reward -|v_x - v| - 0.05 ||a||^2, so 0 is
  the upper bound), and the same for the zero action (the do-nothing policy of lesson 01);
* ``MQL.adapt`` on ``--adapt-tasks`` test velocities: return after minus before, and the ESS of the replay's
  propensity weights (the agent is rolled back after every task).

Left out: the oracle-goal bound (``task_input="goal"``) of benchmarks/mql.py. It reads ``task.goal``, which a
CheetahVelTask does not have (its task is a target velocity), so it cannot run here without changing MQL.
Meta-training is ``train_mql`` with a raw-return evaluator (its default, the normalised score, needs ``task.goal``).

Headline: ``context_return`` (mean greedy test return), ``zero_action_return``, ``pearl_checkpoint_return``
(PEARL's meta-test score of data/checkpoints/pearl_cheetah_vel.pt, its last-trajectory return after exploration:
an adapted return, not a zero-shot one), ``adaptation_gain`` and ``adaptation_ess`` (means over the adapted
tasks), ``cpu_minutes`` (the whole run, 1 thread), ``total_steps``.

Sizing. Measured on the shared 2-core machine (1 thread). A tiny run (3.2k steps: one round of 1.6k steps with
learning after the warm-up round, 2 test evaluations) took 0.59 CPU-minutes of meta-training, 11 ms per step, and
about 11 s per adapted task; from it the default was set to 64k steps (40 rounds of 8 lockstep episodes) for about
15 CPU-minutes. That underestimated the cost: the tiny run's warm-up round has no gradient steps. The committed run
took 22.5 CPU-minutes of meta-training, 21 ms per environment step with one gradient step each, and 23.2
CPU-minutes in all (3 adapted tasks). To stay near 15 CPU-minutes give ``--steps 43200``.

Run::

    python benchmarks/mql_cheetah.py --address serial

Writes data/results/mql_cheetah.json and mql_cheetah.png (read by notebooks/08_mql.py); in fast mode a smoke run
that writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ENV_ID = "peach_lite/HalfCheetahVel-v0"
LR = 1e-3
"""Meta-training Adam learning rate: benchmarks/mql.py's (its ROUTE measured 1e-3 against 3e-4)."""
LOCKSTEP = 8
"""Training envs stepped in lockstep, one episode each per round (train_mql's default)."""
EVAL_SEED = 7_000
"""Seed of the greedy test episodes (the curve and the final returns)."""
PEARL_CHECKPOINT = "checkpoints/pearl_cheetah_vel.pt"
"""MANIFEST entry whose recorded score is quoted as ``pearl_checkpoint_return``."""


def train_one(seed: int, total_steps: int, adapt_tasks: int, eval_episodes: int, lr: float) -> dict:
    """Meta-train context TD3 on HalfCheetahVel, score it and the zero action on the test tasks, adapt.

    Returns the curve, the returns, the adaptation numbers and ``run_cpu_s`` / ``train_cpu_s``.
    """
    from peach_lite.device import set_threads
    from peach_lite.envs import make
    from peach_lite.loop import PolicyAgent, evaluate
    from peach_lite.mql import train_mql
    from peach_lite.runner import GymTaskEnvs, TaskBatch

    set_threads(1)
    start = time.process_time()
    env = make(ENV_ID)
    test_tasks = env.unwrapped.test_tasks()
    test_envs, test_batch = GymTaskEnvs(ENV_ID, len(test_tasks)), TaskBatch.from_list(test_tasks, split="test")

    def test_return(player) -> float:
        return float(evaluate(player, test_envs, test_batch, num_episodes=eval_episodes, seed=EVAL_SEED).returns.mean())

    agent, meta = train_mql(seed=seed, progress=False, env_id=ENV_ID, total_steps=total_steps, envs_in_lockstep=LOCKSTEP,
                            task_input="context", lr=lr, evaluator=lambda a: (test_return(a), 0.0), eval_metric="test return")
    history = meta["history"]
    train_s = time.process_time() - start

    out = {"train_cpu_s": train_s, "curve_steps": history["eval_steps"], "curve_returns": history["eval_values"],
           "context_return": test_return(agent),
           "zero_action_return": test_return(PolicyAgent(lambda obs: np.zeros((len(obs), *env.action_space.shape)),
                                                         batched=True))}
    one = GymTaskEnvs(ENV_ID, 1)
    before, after, ess = [], [], []
    adapt_start = time.process_time()
    for i, task in enumerate(test_tasks[:adapt_tasks]):
        result = agent.adapt(one, task, num_eval_episodes=eval_episodes, seed=50_000 + i)
        before.append(result.before)
        after.append(result.after)
        ess.append(result.ess)
    out |= {"adapt_velocities": [t.velocity for t in test_tasks[:adapt_tasks]], "adapt_before": before,
            "adapt_after": after, "adapt_ess": ess, "adapt_cpu_s": time.process_time() - adapt_start}
    return out | {"run_cpu_s": time.process_time() - start}


def pearl_checkpoint_return(manifest: Path = Path("data/MANIFEST.json")) -> float | None:
    """The score data/MANIFEST.json records for the PEARL cheetah-vel checkpoint, or None if it records none."""
    try:
        entries = json.loads(manifest.read_text())["artifacts"]
    except (FileNotFoundError, KeyError):
        return None
    score = next((e.get("score") for e in entries if e.get("file") == PEARL_CHECKPOINT), None)
    return None if score is None else float(score["value"])


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the one seed of this report-only run")
    parser.add_argument("--steps", type=int, default=budget.pick(full=64_000, fast=1_600), help="meta-training steps")
    parser.add_argument("--adapt-tasks", type=int, default=budget.pick(full=3, fast=1), help="test tasks adapted to")
    parser.add_argument("--eval-episodes", type=int, default=1, help="greedy episodes per test task")
    parser.add_argument("--lr", type=float, default=LR, help="Adam learning rate of meta-training")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    run = {"total_steps": args.steps, "adapt_tasks": args.adapt_tasks, "eval_episodes": args.eval_episodes, "lr": args.lr}
    sweep = run_sweep(train_one, {"context": run}, [args.seed], name="mql_cheetah", **sweep_options(args)).check()
    (ctx,) = sweep.results("context")

    headline = {
        "context_return": ctx["context_return"],
        "zero_action_return": ctx["zero_action_return"],
        "cpu_minutes": ctx["run_cpu_s"] / 60,
        "train_cpu_minutes": ctx["train_cpu_s"] / 60,
        "total_steps": float(args.steps),
    }
    if ctx["adapt_after"]:
        headline |= {"adaptation_gain": float(np.mean(ctx["adapt_after"]) - np.mean(ctx["adapt_before"])),
                     "adaptation_ess": float(np.mean(ctx["adapt_ess"]))}
    pearl = pearl_checkpoint_return()
    if pearl is not None:
        headline["pearl_checkpoint_return"] = pearl
    for key, value in headline.items():
        print(f"{key:30s} {value:10.3f}")
    if budget.fast and args.out is None:
        print("fast mode: smoke run only, data/results/mql_cheetah.json not written (give --out to write one)")
        return
    hlines = [{"label": "do nothing (zero action)", "y": ctx["zero_action_return"]}]
    if pearl is not None:
        hlines.append({"label": "PEARL checkpoint (after exploration)", "y": pearl})
    figure = figure_spec("MQL on HalfCheetahVel (report-only, 1 seed)", [
        curves_panel("meta-training", "environment steps", "greedy return on the 30 test velocities (200 steps)",
                     [{"label": "context TD3", "x": [ctx["curve_steps"]], "y": [ctx["curve_returns"]]}], hlines=hlines),
    ])
    details = {"per_seed": {"context": [ctx]}, "env": ENV_ID, **run, "seed": args.seed, "report_only": True,
               "definitions": {"*_return": "mean undiscounted return of greedy 200-step episodes on the env's 30 test "
                                           "velocities (reward <= 0)",
                               "pearl_checkpoint_return": f"data/MANIFEST.json score of {PEARL_CHECKPOINT}: PEARL's "
                                                          "last-trajectory return after exploration on the test tasks",
                               "adaptation_gain": "mean over adapted test tasks of the greedy return after minus "
                                                  "before MQL.adapt",
                               "adaptation_ess": "mean normalised effective sample size of the replay's propensity weights",
                               "cpu_minutes": "the whole run (training, test returns, adaptation) on 1 thread"},
               "left_out": "the oracle-goal bound (task_input='goal'): CheetahVelTask has no goal for MQL to read",
               "sweep": {"runs_dir": str(sweep.runs_dir), "wall_s": sweep.wall_s}}
    write_results("mql_cheetah", headline, seeds=[args.seed], details=details, figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
