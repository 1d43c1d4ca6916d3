"""Why does PEACH's posterior variance after the first success grow as it trains longer?

peach_budget.json found that the issue's variance target moves away with training: the posterior variance (mean over
z's dimensions) in the meta-test episode after each task's first success is 0.21 of the prior's at 600 rounds, 0.59 at
1,200 and 1.12 at 1,800, while success and the linear probe rise. Three sites need two of z's five dimensions, and the
route's KL weight (0.001) barely holds the rest at the prior. This benchmark trains two arms on seeds 0-2 for
``LONGER_ROUNDS`` rounds, saves each agent at ``SNAPSHOTS`` and at the end (runs/peach_variance/checkpoints/<arm>/), and
reads every checkpoint as peach_budget reads its agents (``read_agent``: peach_maze's ``diagnose``, whose
``variance_parts`` is ``posterior_variance.variance_decomposition``, and ``REPEATS`` more meta-tests):

* ``longer``: peach_budget's ``longer`` arm (PEACH's route, ``peach_config.ELIMINATING_ROUTE``), bit for bit (saving
  draws no random numbers): ``runs_matching_peach_budget`` counts the seeds whose curve and readings (variance after
  success, final success one and repeated, probe, paid-context success, env steps) equal peach_budget.json's;
* ``latent_2``: the same route with ``latent_dim`` 2, so that no dimension is free to carry nothing: does the issue's
  measure then pass, and what does it cost?

Per dimension of z the decomposition puts the variance after the first success beside the separation of the sites'
mean beliefs (their spread over the posterior's std; >= 1: the dimension carries the site), and reads z's scale (the
means' root mean square) and a scale-free share: samples of z after the first success nearest their own site's mean
belief.

Headline, per reading ``r<rounds>`` (``longer``) and ``latent2_r<rounds>`` (``latent_2``), means over seeds:
``_variance_after_success`` (the issue's measure), ``_site_dims`` (how many carry the site), ``_site_dims_variance`` /
``_other_dims_variance`` (mean variance after success over those dimensions and over the rest; the latter undefined
when every dimension carries the site), ``_site_dims_separation``, ``_mean_rms``, ``_samples_on_site``,
``_final_success`` (one meta-test), ``_final_success_repeated`` (mean of the repeats), ``_probe_accuracy``,
``_paid_context_success``; ``runs_matching_peach_budget``; ``rounds``.

Run (3 seeds of 2 arms; a run is about three times a peach_maze PEACH run, about 36 minutes with three on 2 cores; one
run per process shares runs/)::

    for s in 0 1 2; do nohup python benchmarks/peach_variance.py --address serial --only longer --train-only --seeds $s & done
    python benchmarks/peach_variance.py --address serial   # trains what is missing, reads every checkpoint, writes

Writes data/results/peach_variance.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing unless
--out is given.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from peach_budget import LONGER_ROUNDS, REPEATS, SNAPSHOTS, read_agent  # a sibling script
from peach_hindsight import FAST_OVERRIDES
from peach_maze import ENV_ID, PEACH_ROUTE

from peach_lite.budget import Budget
from peach_lite.results import bars_panel, figure_spec, read_results, write_results
from peach_lite.stats import finite_mean
from peach_lite.sweep import add_sweep_arguments, default_runs_dir, run_sweep, sweep_options


ARMS = {"longer": {}, "latent_2": {"latent_dim": 2}}
"""PeachConfig changes on top of PEACH's route: ``longer`` is peach_budget's arm; ``latent_2`` gives z two dimensions
(three sites need two), so that no dimension is left free to carry nothing: a test of what the decomposition finds."""
PREFIXES = {"longer": "", "latent_2": "latent2_"}
LABELS = {"longer": "latent_dim 5", "latent_2": "latent_dim 2"}


def checkpoint_path(runs_dir: str, method: str, seed: int, rounds: int) -> Path:
    """Where a run of ``method`` saves its agent after ``rounds`` rounds."""
    return Path(runs_dir) / "peach_variance" / "checkpoints" / method / f"seed{seed}_rounds{rounds}.pt"


def snapshot_run(seed: int, method: str, rounds: int, eval_every: int, snapshots: list[int], overrides: dict, runs_dir: str) -> dict:
    """Train PEACH for ``rounds`` rounds with ``overrides`` and save it at each of ``snapshots`` and at the end (saving
    draws no random numbers, so the run is peach_budget's ``longer`` run, bit for bit)."""
    from peach_lite.checkpoints import save_agent
    from peach_lite.device import set_threads
    from peach_lite.peach import train_peach
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    steps: dict[str, int] = {}

    def save_snapshot(round_index: int, agent, history) -> bool:
        if round_index in snapshots and round_index < rounds:
            save_agent(agent, checkpoint_path(runs_dir, method, seed, round_index), meta={"seed": seed, "rounds": round_index})
            steps[str(round_index)] = int(history.total_steps)
        return False

    agent, meta = train_peach(seed=seed, progress=False, env_id=ENV_ID, rounds=rounds, eval_every=eval_every,
                              callbacks=[save_snapshot], **overrides)
    save_agent(agent, checkpoint_path(runs_dir, method, seed, rounds), meta={"seed": seed, "rounds": rounds})
    steps[str(rounds)] = int(meta["steps"])
    history = meta["history"]
    return {"steps": steps, "curve_steps": history["eval_steps"], "curve_success": history["eval_values"],
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--train-only", action="store_true", help="train and save the snapshots, write nothing")
    parser.add_argument("--only", choices=list(ARMS), help="train one arm (with --train-only)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    runs_dir = str(args.runs_dir or default_runs_dir())
    small = FAST_OVERRIDES if budget.fast else {}
    snapshots = [budget.pick(full=s, fast=2 * (i + 1)) for i, s in enumerate(SNAPSHOTS)]
    rounds = budget.pick(full=LONGER_ROUNDS, fast=6)
    configs = {method: {"method": method, "rounds": rounds, "eval_every": args.eval_every, "snapshots": snapshots,
                        "overrides": {**PEACH_ROUTE, **small, **changes}, "runs_dir": runs_dir} for method, changes in ARMS.items() if args.only in (None, method)}
    sweep = run_sweep(snapshot_run, configs, args.seeds, name="peach_variance", **sweep_options(args)).check()
    runs = {method: sweep.results(method) for method in configs}
    if args.train_only or args.only:
        print(f"--train-only: checkpoints under {Path(runs_dir) / 'peach_variance'}; nothing written")
        return

    seeds = list(args.seeds)
    read_at = [str(r) for r in [*snapshots, rounds]]
    names = {(method, r): f"{PREFIXES[method]}r{r}" for method in configs for r in read_at}
    readings = {name: [read_checkpoint(checkpoint_path(runs_dir, method, seed, int(r)), run["steps"][r]) for seed, run in zip(seeds, runs[method])]
                for (method, r), name in names.items()}
    headline: dict[str, float] = {}
    for name, rows in readings.items():
        for key in ("variance_after_success", "site_dims_variance", "other_dims_variance", "site_dims", "site_dims_separation",
                    "mean_rms", "samples_on_site", "final_success", "final_success_repeated", "probe_accuracy", "paid_context_success"):
            headline[f"{name}_{key}"] = finite_mean([row[key] for row in rows])
    budget_runs = {}
    try:
        budget_record = read_results("peach_budget")
        budget_runs = dict(zip(budget_record["seeds"], budget_record["details"]["runs"]["longer"]))
    except FileNotFoundError:
        pass
    matching = 0
    for index, (seed, run) in enumerate(zip(seeds, runs["longer"])):
        theirs = budget_runs.get(seed)
        matching += bool(theirs) and run["curve_success"] == theirs["curve_success"] and all(
            readings[names["longer", r]][index][key] == theirs["readings"][r][key] for r in read_at
            for key in ("variance_after_success", "final_success", "final_success_repeated", "probe_accuracy", "paid_context_success", "steps"))
    headline["runs_matching_peach_budget"] = float(matching)
    headline["rounds"] = float(rounds)
    undefined = sorted(k for k, v in headline.items() if not np.isfinite(v))  # e.g. no success before a last episode
    headline = {k: v for k, v in headline.items() if k not in undefined}

    labels = [f"{LABELS[method]}, {r} rounds" for method, r in names]
    hlines = [{"label": "the issue's target (0.2 of the prior's)", "y": 0.2}]
    figure = figure_spec("Where PEACH's posterior variance after the first success sits", [
        bars_panel("variance after the first success", "training", "posterior variance (fraction of the prior's)", labels,
                   [{"label": label, "values": [[row[key] for row in rows] for rows in readings.values()]}
                    for label, key in (("mean over z's dimensions (the issue's)", "variance_after_success"),
                                       ("dimensions that carry the site", "site_dims_variance"),
                                       ("the other dimensions", "other_dims_variance"))], hlines=hlines),
        bars_panel("z's scale and the sites' separation", "training", "ratio (z units over z units)", labels,
                   [{"label": label, "values": [[row[key] for row in rows] for rows in readings.values()]}
                    for label, key in (("RMS of the posterior means", "mean_rms"),
                                       ("site spread / posterior std (site dimensions)", "site_dims_separation"))]),
        bars_panel("does a sample of z read as its own site?", "training", "share of samples (fraction)", labels,
                   [{"label": label, "values": [[row[key] for row in rows] for rows in readings.values()]}
                    for label, key in (("samples on their own site", "samples_on_site"),
                                       (f"final success (mean of {REPEATS} meta-tests)", "final_success_repeated"))]),
    ])
    partial = budget.fast or len(seeds) < 3
    if partial and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {seeds}): data/results/peach_variance.json not written (give --out DIR)")
        return
    write_results("peach_variance", headline, seeds=seeds, details={"readings": readings, "runs": runs, "configs": configs,
                                                                      "undefined_headline_keys": undefined},
                  figure=figure, out_dir=args.out)


def read_checkpoint(path: Path, steps: int) -> dict:
    """One saved agent read as peach_budget reads its agents (``read_agent``: peach_maze's ``diagnose`` and
    ``REPEATS`` more meta-tests): its scalar readings and where its variance after the first success sits
    (``variance_parts``, flattened into the row)."""
    from peach_lite.checkpoints import load_agent

    agent, _ = load_agent(path, check_manifest=False)
    reading = read_agent(agent, steps, float("nan"))
    scalars = {k: v for k, v in reading.items() if isinstance(v, float)}
    return {**reading["variance_parts"], **scalars, "steps": steps}



if __name__ == "__main__":
    main()
