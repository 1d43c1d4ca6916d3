"""PEARL on the sparse point robot: meta-test return against the oracle, wall time, and ablations.

Protocol (oyster's meta-test, algorithms.md §1.1): on each of the 20 held-out goals, 20 trajectories;
the first 5 with z drawn from the prior, context accumulating, the posterior re-inferred after each
trajectory from all context so far; score = return of the **final** trajectory, averaged over the 20
goals (and ``--num-evals`` seeded runs). Target: >= 0.85 x oracle, over >= 3 seeds; meta-training
<= 30 min per seed on a 2-core CPU. Reported beside it: the per-trajectory return curve, the oracle
and the semicircle sweep heuristic (both computed by ``peach_lite.envs.oracles``), and the ablations
(deterministic z, PEARL Fig. 7; context sampling, Fig. 6).

Each run trains with ``peach_lite.pearl.train_checkpoint`` (the same code as ``python -m peach_lite.pearl``)
and saves ``data/checkpoints/pearl_point_robot[_<variant>].pt``. ``--reuse`` evaluates checkpoints that
already exist instead of training them again, taking their training time from the checkpoint.

    python benchmarks/pearl_point_robot.py --seeds 0 1 2 --threads 1
    python benchmarks/pearl_point_robot.py --seeds 0 --reuse --ablations deterministic_z   # evaluate only
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.paths import data_dir
from peach_lite.pearl import EVAL_SEED, TaskRollouts, load_agent, meta_test, train_checkpoint
from peach_lite.results import write_results

ENV_ID = "peach_lite/PointRobotSparse-v0"
ABLATIONS = {
    "deterministic_z": {"probabilistic_z": False},
    "off_policy_context": {"context_sampling": "off_policy"},
    "same_batch_context": {"context_sampling": "same_batch"},
}


def checkpoint_path(seed: int, variant: str | None = None) -> Path:
    """data/checkpoints/pearl_point_robot.pt for seed 0, ..._seed<k>.pt otherwise; ablations add _<variant>."""
    name = "pearl_point_robot" + (f"_{variant}" if variant else "") + (f"_seed{seed}" if seed else "")
    return data_dir() / "checkpoints" / f"{name}.pt"


def run(seed: int, variant: str | None, args: argparse.Namespace) -> dict:
    """Train (or reuse) one checkpoint and meta-test it with the full protocol."""
    path = checkpoint_path(seed, variant)
    overrides = ABLATIONS[variant] if variant else {}
    if not (args.reuse and path.exists()):
        flags = {"deterministic_z": " --deterministic-z", "off_policy_context": " --context-sampling off_policy",
                 "same_batch_context": " --context-sampling same_batch"}.get(variant or "", "")
        iterations = f" --iterations {args.iterations}" if args.iterations else ""
        command = f"python -m peach_lite.pearl --env {ENV_ID} --seed {seed}{iterations}{flags} --threads {args.threads} --out {path.relative_to(data_dir().parent)}"
        train_checkpoint(ENV_ID, path, seed=seed, num_iterations=args.iterations, command=command, **overrides)
    agent, payload = load_agent(path)
    rollouts = TaskRollouts(ENV_ID, agent.config.sparse_rewards, seed=EVAL_SEED)
    start = time.perf_counter()
    results = [meta_test(agent, rollouts, seed=EVAL_SEED + r) for r in range(args.num_evals)]
    eval_seconds = time.perf_counter() - start
    rollouts.close()
    returns = np.concatenate([r.returns for r in results], axis=0)  # (num_evals * 20, 20)
    meta = payload["meta"]
    history = meta.get("history", {})
    iterations = max(int(meta.get("iterations", 0)), 1)
    return {
        "checkpoint": str(path.relative_to(data_dir().parent)),
        "seed": seed,
        "variant": variant or "pearl",
        "final_return": float(returns[:, -1].mean()),
        "per_trajectory": returns.mean(axis=0).tolist(),
        "train_minutes": float(meta.get("train_seconds", float("nan"))) / 60,
        "iterations": iterations,
        "updates": int(history.get("num_updates", 0)),
        "env_steps": int(history.get("total_steps", 0)),
        "seconds_per_iteration": float(meta.get("train_seconds", float("nan"))) / iterations,
        "torch_threads": meta.get("torch_threads"),
        "learning_curve": {"env_steps": history.get("eval_steps", []), "final_return": history.get("eval_returns", [])},
        "meta_test_seconds": eval_seconds,
        "config": payload["arch"]["config"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=None, help="default: the sparse-point-robot-cpu preset's")
    parser.add_argument("--ablations", nargs="*", default=["deterministic_z"], choices=list(ABLATIONS),
                        help="ablations to run (seed = the first of --seeds)")
    parser.add_argument("--num-evals", type=int, default=2, help="seeded meta-test runs per checkpoint (oyster num_evals=2)")
    parser.add_argument("--reuse", action="store_true", help="evaluate existing checkpoints instead of retraining")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tasks = TaskRollouts(ENV_ID, True).test_tasks
    goals = np.array([t.goal for t in tasks])
    oracle = point_robot_oracle_return(goals)
    sweep = point_robot_sweep_returns(goals, num_episodes=20)

    runs = [run(seed, None, args) for seed in args.seeds]
    ablations = {name: run(args.seeds[0], name, args) for name in args.ablations}
    finals = np.array([r["final_return"] for r in runs])
    headline = {
        "return_fraction_of_oracle": float(finals.mean() / oracle),
        "deterministic_z_fraction_of_oracle": float(ablations["deterministic_z"]["final_return"] / oracle)
        if "deterministic_z" in ablations else float("nan"),
        "train_minutes_per_seed": float(np.mean([r["train_minutes"] for r in runs])),
        "final_return": float(finals.mean()),
        "oracle_return": float(oracle),
    }
    for name, result in ablations.items():
        if name != "deterministic_z":
            headline[f"{name}_fraction_of_oracle"] = result["final_return"] / oracle
    headline = {k: v for k, v in headline.items() if np.isfinite(v)}
    details = {
        "protocol": "20 held-out goals x num_evals runs; 20 trajectories each, the first 5 with z ~ prior; "
                    "score = mean return of the final trajectory (sparse reward)",
        "target": {"fraction_of_oracle": 0.85, "train_minutes_per_seed": 30.0, "seeds": 3},
        "oracle_return": float(oracle),
        "sweep_heuristic_per_trajectory": sweep.tolist(),
        "final_return_per_seed": finals.tolist(),
        "fraction_of_oracle_per_seed": (finals / oracle).tolist(),
        "runs": runs,
        "ablations": ablations,
        "reused_checkpoints": bool(args.reuse),
        "cpu_note": "2-core CPU shared with other jobs; wall times depend on the load (see torch_threads per run)",
    }
    write_results("pearl_point_robot", headline, seeds=list(args.seeds), details=details)


if __name__ == "__main__":
    main()
