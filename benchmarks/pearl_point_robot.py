"""PEARL on the sparse point robot: meta-test return against the oracle, wall time, and ablations.

Protocol (oyster's meta-test, algorithms.md §1.1): on each of the 20 held-out goals, 20 trajectories;
the first 5 with z drawn from the prior, context accumulating, the posterior re-inferred after each
trajectory from all context so far; score = return of the **final** trajectory, averaged over the 20
goals (and ``--num-evals`` seeded runs). Target: >= 0.85 x oracle, over >= 3 seeds; meta-training
<= 30 min per seed on a 2-core CPU. Reported beside it: the per-trajectory return curve, the oracle
and the semicircle sweep heuristic (both computed by ``peach_lite.envs.oracles``), and the ablations
(deterministic z, PEARL Fig. 7; context sampling, Fig. 6).

Each run is one ``python -m peach_lite train pearl ...`` process (the command is printed and stored with its
checkpoint), ``--jobs`` of them at a time with one torch thread each. Seed 0 of PEARL and of the
deterministic-z ablation are saved to ``data/checkpoints/`` (recorded in data/MANIFEST.json, loaded by
lesson 05); the other runs go to ``runs/pearl/`` (git-ignored). ``--reuse`` evaluates checkpoints that
already exist instead of training them again, taking their training time from the checkpoint.

    python benchmarks/pearl_point_robot.py            # 3 seeds + 3 ablations, 80 iterations each, 2 at a time
    python benchmarks/pearl_point_robot.py --reuse    # evaluate the checkpoints that exist, train the missing ones
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from peach_lite.checkpoints import load_agent
from peach_lite.device import set_threads
from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.loop import GymTaskEnvs
from peach_lite.paths import data_dir
from peach_lite.pearl import EVAL_SEED
from peach_lite.posterior import meta_test
from peach_lite.results import write_results

ENV_ID = "peach_lite/PointRobotSparse-v0"
ABLATION_FLAGS = {
    "deterministic_z": ["--set", "probabilistic_z=False"],
    "off_policy_context": ["--set", "context_sampling='off_policy'"],
    "same_batch_context": ["--set", "context_sampling='same_batch'"],
    "dense_context": ["--set", "dense_context=True"],
}
"""The ablations (PEARL Fig. 7: deterministic z; Fig. 6: where the context is sampled from) and one diagnostic
(dense_context: the encoder reads the dense reward, so task inference no longer waits for exploration)."""


def checkpoint_path(seed: int, variant: str | None = None) -> Path:
    """Where a run's checkpoint lives. The two the lesson loads (seed 0 of PEARL and of the deterministic-z
    ablation) go to data/checkpoints/ and into data/MANIFEST.json; every other run goes to runs/pearl/
    (git-ignored scratch: its figures are kept in the results file, not its weights)."""
    name = "pearl_point_robot" + (f"_{variant}" if variant else "")
    if seed == 0 and variant in (None, "deterministic_z"):
        return data_dir() / "checkpoints" / f"{name}.pt"
    return data_dir().parent / "runs" / "pearl" / f"{name}_seed{seed}.pt"


def train_command(seed: int, variant: str | None, args: argparse.Namespace) -> list[str]:
    """The ``python -m peach_lite train pearl`` command that trains one run (recorded with its checkpoint)."""
    path = checkpoint_path(seed, variant)
    command = ["python", "-m", "peach_lite", "train", "pearl", "--preset", "point-robot", "--seed", str(seed),
               "--threads", str(args.threads), "--no-progress", "--set", f"eval_every={args.eval_every}",
               *ABLATION_FLAGS.get(variant or "", []), "--set", f"iterations={args.iterations}"]
    if not path.is_relative_to(data_dir()):
        command.append("--no-record")
    return command + ["--out", str(path.relative_to(data_dir().parent))]


def train_all(jobs: list[tuple[int, str | None]], args: argparse.Namespace) -> None:
    """Train the runs that need it, ``--jobs`` at a time, each in its own process (one torch thread each)."""
    todo = [(seed, variant) for seed, variant in jobs if not (args.reuse and checkpoint_path(seed, variant).exists())]
    running: list[tuple[subprocess.Popen, str]] = []
    for seed, variant in todo:
        while len(running) >= args.jobs:
            running = _reap(running)
        command = train_command(seed, variant, args)
        checkpoint_path(seed, variant).parent.mkdir(parents=True, exist_ok=True)
        log = data_dir().parent / "runs" / "pearl" / f"{checkpoint_path(seed, variant).stem}.log"  # logs never go to data/
        log.parent.mkdir(parents=True, exist_ok=True)
        print("training:", " ".join(command), f"(log: {log})", flush=True)
        command[0] = sys.executable
        running.append((subprocess.Popen(command, cwd=data_dir().parent, stdout=open(log, "w"), stderr=subprocess.STDOUT), str(log)))
    while running:
        running = _reap(running)


def _reap(running: list[tuple[subprocess.Popen, str]]) -> list[tuple[subprocess.Popen, str]]:
    time.sleep(2)
    still = []
    for process, log in running:
        code = process.poll()
        if code is None:
            still.append((process, log))
        elif code != 0:
            raise RuntimeError(f"a training run failed with exit code {code}; see {log}")
    return still


def run(seed: int, variant: str | None, args: argparse.Namespace) -> dict:
    """Meta-test one trained checkpoint with the full protocol."""
    path = checkpoint_path(seed, variant)
    agent, payload = load_agent(path, algorithm="pearl")
    envs = GymTaskEnvs(ENV_ID, seed=EVAL_SEED)
    start = time.perf_counter()
    results = [meta_test(agent, envs, envs.unwrapped.test_tasks(), seed=EVAL_SEED + r) for r in range(args.num_evals)]
    eval_seconds = time.perf_counter() - start
    envs.close()
    returns = np.concatenate([r.returns for r in results], axis=0)  # (num_evals * 20, 20)
    meta = payload["meta"]
    history = meta.get("history", {})
    iterations = max(int(meta.get("iterations", 0)), 1)
    return {
        "checkpoint": str(path.relative_to(data_dir().parent)),
        "command": meta.get("command"),
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
        "learning_curve": {"env_steps": history.get("eval_steps", []),  # "eval_returns": files saved before the shared History
                           "final_return": history.get("eval_values", history.get("eval_returns", []))},
        "meta_test_seconds": eval_seconds,
        "config": payload["arch"]["config"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=80,
                        help="meta-training iterations per run (80: about 20-25 min per run on the 2-core CPU)")
    parser.add_argument("--ablations", nargs="*", default=["deterministic_z", "off_policy_context", "dense_context"],
                        choices=list(ABLATION_FLAGS),
                        help="ablations to run (seed = the first of --seeds)")
    parser.add_argument("--num-evals", type=int, default=2, help="seeded meta-test runs per checkpoint (oyster num_evals=2)")
    parser.add_argument("--reuse", action="store_true", help="evaluate existing checkpoints instead of retraining")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training run (1 is fastest on a 2-core CPU)")
    parser.add_argument("--jobs", type=int, default=2, help="training runs at a time (one process each)")
    parser.add_argument("--eval-every", type=int, default=10, help="iterations between in-training meta-tests (learning curve)")
    args = parser.parse_args()
    for name in ("iterations", "jobs", "threads", "num_evals", "eval_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    set_threads(args.threads)

    tasks = GymTaskEnvs(ENV_ID).unwrapped.test_tasks()
    goals = np.array([t.goal for t in tasks])
    oracle = point_robot_oracle_return(goals)
    sweep = point_robot_sweep_returns(goals, num_episodes=20)

    jobs = [(seed, None) for seed in args.seeds] + [(args.seeds[0], name) for name in args.ablations]
    train_all(jobs, args)
    runs = [run(seed, None, args) for seed in args.seeds]
    ablations = {name: run(args.seeds[0], name, args) for name in args.ablations}
    # Ablations may be trained for fewer iterations than the main run: compare them with the main run's own
    # in-training meta-test at the same number of environment steps (same seed, same protocol).
    main_curve = runs[0]["learning_curve"]
    for result in ablations.values():
        steps = result["env_steps"]
        same = [r for s, r in zip(main_curve["env_steps"], main_curve["final_return"]) if s <= steps]
        own = result["learning_curve"]["final_return"]
        result["main_run_in_training_meta_test_at_same_env_steps"] = same[-1] if same else None
        result["own_in_training_meta_test_last"] = own[-1] if own else None
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
