"""PEARL on the sparse point robot: meta-test return against the oracle, wall time, and ablations.

Protocol (oyster's meta-test, algorithms.md §1.1): on each of the 20 held-out goals, 20 trajectories;
the first 5 with z drawn from the prior, context accumulating, the posterior re-inferred after each
trajectory from all context so far; score = return of the **final** trajectory, averaged over the 20
goals (and ``--num-evals`` seeded runs). Target: >= 0.85 x oracle, over >= 3 seeds; meta-training
<= 30 min per seed on a 2-core CPU. Reported beside it: the per-trajectory return curve, the oracle
and the semicircle sweep heuristic (both computed by ``peach_lite.envs.oracles``), and the ablations
(deterministic z, PEARL Fig. 7; context sampling, Fig. 6).

Headline: ``return_fraction_of_oracle`` (mean over seeds of the final-trajectory return / the oracle's), with
``return_fraction_of_oracle_iqm`` / ``_ci_low`` / ``_ci_high`` / ``_mean`` (interquartile mean over seeds and its 95%
stratified bootstrap interval, ``peach_lite.stats``; the same for ``train_minutes_per_seed``), and each
ablation's fraction of the oracle (seed = the first of ``--seeds``). ``pearl_over_<ablation>_prob_improvement``
(P(a seed of PEARL beats a seed of the ablation)) is reported only when the ablations ran with the same seeds as
PEARL, i.e. with a single ``--seeds``; by default they have one seed against PEARL's three, and it is left out.

Each (configuration, seed) is one task of a Ray sweep (``peach_lite.sweep``; ``--num-cpus`` limits a local Ray,
``--address`` or ``RAY_ADDRESS`` names a cluster). The task trains its checkpoint with one
``python -m peach_lite train pearl ...`` process (the command is printed and stored with the checkpoint, the
log goes to ``runs/pearl/``), then meta-tests it. Seed 0 of PEARL and of the deterministic-z ablation are saved to
``data/checkpoints/`` (recorded in data/MANIFEST.json, loaded by lesson 05); the other runs go to ``runs/pearl/``
(git-ignored). ``--reuse`` evaluates checkpoints that already exist instead of training them again, taking
their training time from the checkpoint. Each finished run's meta-test is kept in
``runs/pearl_point_robot/<config>/seed<k>.json``: a rerun with the same settings reads it instead of running
again (an interrupted benchmark resumes), ``--fresh`` redoes every run.

    python benchmarks/pearl_point_robot.py            # 3 seeds + 3 ablations, 80 iterations each, one per core
    python benchmarks/pearl_point_robot.py --reuse    # evaluate the checkpoints that exist, train the missing ones

Writes data/results/pearl_point_robot.json and its figure pearl_point_robot.png (shown by notebooks/05_pearl.py).
A fast (``PEACH_FAST=1``: 1 iteration, one ablation, checkpoints under ``runs/pearl/fast/``) or partial (fewer than
3 seeds) run prints its headline and writes nothing under ``data/results/`` unless ``--out DIR`` names a folder::

    PEACH_FAST=1 python benchmarks/pearl_point_robot.py --seeds 0 --out /tmp/smoke --runs-dir /tmp/smoke/runs
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from peach_lite.budget import Budget
from peach_lite.checkpoints import load_agent
from peach_lite.device import set_threads
from peach_lite.envs.oracles import point_robot_oracle_return, point_robot_sweep_returns
from peach_lite.loop import GymTaskEnvs
from peach_lite.paths import data_dir
from peach_lite.pearl import EVAL_SEED
from peach_lite.posterior import meta_test
from peach_lite.results import write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ENV_ID = "peach_lite/PointRobotSparse-v0"
ABLATION_FLAGS = {
    "deterministic_z": ["--set", "probabilistic_z=False"],
    "off_policy_context": ["--set", "context_sampling='off_policy'"],
    "same_batch_context": ["--set", "context_sampling='same_batch'"],
    "dense_context": ["--set", "dense_context=True"],
}
"""The ablations (PEARL Fig. 7: deterministic z; Fig. 6: where the context is sampled from) and one diagnostic
(dense_context: the encoder reads the dense reward, so task inference no longer waits for exploration)."""


def checkpoint_path(seed: int, variant: str | None = None, scratch: bool = False) -> Path:
    """Where a run's checkpoint lives. The two the lesson loads (seed 0 of PEARL and of the deterministic-z
    ablation) go to data/checkpoints/ and into data/MANIFEST.json; every other run goes to runs/pearl/
    (git-ignored scratch: its figures are kept in the results file, not its weights). ``scratch`` (fast mode)
    sends every run, seed 0 included, to runs/pearl/fast/, so a smoke test never replaces the lesson's files."""
    name = "pearl_point_robot" + (f"_{variant}" if variant else "")
    if scratch:
        return data_dir().parent / "runs" / "pearl" / "fast" / f"{name}_seed{seed}.pt"
    if seed == 0 and variant in (None, "deterministic_z"):
        return data_dir() / "checkpoints" / f"{name}.pt"
    return data_dir().parent / "runs" / "pearl" / f"{name}_seed{seed}.pt"


def train_command(seed: int, variant: str | None, args: argparse.Namespace) -> list[str]:
    """The ``python -m peach_lite train pearl`` command that trains one run (recorded with its checkpoint)."""
    path = checkpoint_path(seed, variant, getattr(args, "scratch", False))
    command = ["python", "-m", "peach_lite", "train", "pearl", "--preset", "point-robot", "--seed", str(seed),
               "--threads", str(args.threads), "--no-progress", "--set", f"eval_every={args.eval_every}",
               *ABLATION_FLAGS.get(variant or "", []), "--set", f"iterations={args.iterations}"]
    if not path.is_relative_to(data_dir()):
        command.append("--no-record")
    return command + ["--out", str(path.relative_to(data_dir().parent))]


def train_one(seed: int, variant: str | None, iterations: int, eval_every: int, threads: int, num_evals: int,
              reuse: bool, scratch: bool = False) -> dict:
    """One sweep run (a Ray task): train the checkpoint with ``python -m peach_lite train pearl`` in a child process
    (unless ``reuse`` and it exists already), then meta-test it with the full protocol (:func:`run`)."""
    set_threads(threads)
    settings = argparse.Namespace(iterations=iterations, eval_every=eval_every, threads=threads, num_evals=num_evals,
                                  scratch=scratch)
    path = checkpoint_path(seed, variant, scratch)
    if not (reuse and path.exists()):
        command = train_command(seed, variant, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        log = (path.parent if scratch else data_dir().parent / "runs" / "pearl") / f"{path.stem}.log"  # never in data/
        log.parent.mkdir(parents=True, exist_ok=True)
        print("training:", " ".join(command), f"(log: {log})", flush=True)
        with open(log, "w") as stream:
            code = subprocess.run([sys.executable, *command[1:]], cwd=data_dir().parent, stdout=stream,
                                  stderr=subprocess.STDOUT).returncode
        if code != 0:
            tail = " | ".join(log.read_text().strip().splitlines()[-3:])
            raise RuntimeError(f"training {path.name} failed with exit code {code}; see {log}: {tail}")
    return run(seed, variant, settings)


def run(seed: int, variant: str | None, args: argparse.Namespace) -> dict:
    """Meta-test one trained checkpoint with the full protocol."""
    path = checkpoint_path(seed, variant, getattr(args, "scratch", False))
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
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=budget.pick(full=80, fast=1),
                        help="meta-training iterations per run (80: about 20-25 min per run on the 2-core CPU)")
    parser.add_argument("--ablations", nargs="*", default=budget.pick(full=["deterministic_z", "off_policy_context", "dense_context"],
                                                                      fast=["deterministic_z"]),
                        choices=list(ABLATION_FLAGS),
                        help="ablations to run (seed = the first of --seeds)")
    parser.add_argument("--num-evals", type=int, default=budget.pick(full=2, fast=1),
                        help="seeded meta-test runs per checkpoint (oyster num_evals=2)")
    parser.add_argument("--reuse", action="store_true", help="evaluate existing checkpoints instead of retraining")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training run (1 is fastest on a 2-core CPU)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=10, fast=1),
                        help="iterations between in-training meta-tests (learning curve)")
    add_sweep_arguments(parser)
    parser.add_argument("--jobs", dest="num_cpus", type=int, help="old name of --num-cpus")
    args = parser.parse_args()
    for name in ("iterations", "threads", "num_evals", "eval_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be >= 1, got {args.num_cpus}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    set_threads(args.threads)

    tasks = GymTaskEnvs(ENV_ID).unwrapped.test_tasks()
    goals = np.array([t.goal for t in tasks])
    oracle = point_robot_oracle_return(goals)
    sweep = point_robot_sweep_returns(goals, num_episodes=20)

    # fast mode (PEACH_FAST=1) keeps its checkpoints (runs/pearl/fast/) and run files apart from the full runs'
    common = dict(iterations=args.iterations, eval_every=args.eval_every, threads=args.threads,
                  num_evals=args.num_evals, reuse=bool(args.reuse), scratch=budget.fast)
    name = "pearl_point_robot_fast" if budget.fast else "pearl_point_robot"
    main_sweep = run_sweep(train_one, {"pearl": dict(variant=None, **common)}, args.seeds, name=name,
                           **sweep_options(args)).check()
    runs = main_sweep.results("pearl")
    ablation_seeds = [args.seeds[0]]
    ablations = {}
    if args.ablations:
        abl_sweep = run_sweep(train_one, {variant: dict(variant=variant, **common) for variant in args.ablations},
                              ablation_seeds, name=name, **sweep_options(args)).check()
        ablations = {variant: abl_sweep.results(variant)[0] for variant in args.ablations}
    # Ablations may be trained for fewer iterations than the main run: compare them with the main run's own
    # in-training meta-test at the same number of environment steps (same seed, same protocol).
    main_curve = runs[0]["learning_curve"]
    for result in ablations.values():
        steps = result["env_steps"]
        same = [r for s, r in zip(main_curve["env_steps"], main_curve["final_return"]) if s <= steps]
        own = result["learning_curve"]["final_return"]
        result["main_run_in_training_meta_test_at_same_env_steps"] = same[-1] if same else None
        result["own_in_training_meta_test_last"] = own[-1] if own else None
    finals = main_sweep.values("pearl", "final_return")
    train_minutes = main_sweep.values("pearl", "train_minutes")
    headline = {
        "return_fraction_of_oracle": float(finals.mean() / oracle),
        "deterministic_z_fraction_of_oracle": float(ablations["deterministic_z"]["final_return"] / oracle)
        if "deterministic_z" in ablations else float("nan"),
        "train_minutes_per_seed": float(np.mean(train_minutes)),
        "final_return": float(finals.mean()),
        "oracle_return": float(oracle),
    }
    for variant, result in ablations.items():
        if variant != "deterministic_z":
            headline[f"{variant}_fraction_of_oracle"] = result["final_return"] / oracle
    # IQM over seeds with a 95% stratified bootstrap interval beside the mean (peach_lite.stats)
    headline |= headline_stats("return_fraction_of_oracle", finals / oracle)
    if np.all(np.isfinite(train_minutes)):
        headline |= headline_stats("train_minutes_per_seed", train_minutes)
    # P(PEARL beats an ablation) only where both were run with the same seeds (by default the ablations have one)
    compared = []
    if ablation_seeds == list(args.seeds):
        for variant in ablations:
            headline |= improvement_stats(f"pearl_over_{variant}", finals / oracle,
                                          abl_sweep.values(variant, "final_return") / oracle)
            compared.append(variant)
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
        "ablation_seeds": ablation_seeds,
        "reused_checkpoints": bool(args.reuse),
        "cpu_note": "2-core CPU shared with other jobs; wall times depend on the load (see torch_threads per run)",
        "definitions": {
            "*_iqm, *_ci_low, *_ci_high, *_mean": "interquartile mean over seeds and its 95% stratified bootstrap "
                                                  "interval, and the plain mean (peach_lite.stats, rliable)",
            "pearl_over_*_prob_improvement": "P(a seed of PEARL beats a seed of the ablation), with its 95% interval; "
                                             "only when the ablations ran with the same seeds as PEARL"
                                             + (f" (here: {', '.join(compared)})" if compared else " (not here)")},
        "sweep": {"runs_dir": str(main_sweep.runs_dir), "num_cpus": args.num_cpus,
                  "resumed_runs": sum(r.resumed for r in main_sweep.runs)
                  + (sum(r.resumed for r in abl_sweep.runs) if args.ablations else 0)},
    }
    for key, value in headline.items():
        print(f"  {key:48s} {value:10.4f}")
    partial = budget.fast or len(args.seeds) < details["target"]["seeds"]
    if partial and args.out is None:
        print(f"{'fast' if budget.fast else 'partial'} run ({len(args.seeds)} seed(s)): data/results/pearl_point_robot.json "
              "left unchanged (give --out DIR to write one there)")
        return
    write_results("pearl_point_robot", headline, seeds=list(args.seeds), details=details,
                  out_dir=args.out)  # draws pearl_point_robot.png too, and prints the headline last


if __name__ == "__main__":
    main()
