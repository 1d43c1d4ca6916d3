"""Which learner at the top: HAC's DDPG-style level or SAC, as in PEARL? The same route with each.

PEACH's top level reads z and proposes subgoals. The issue leaves its learner open: "a bounded DDPG-style critic as in
HAC, or SAC as in PEARL". This course chose HAC's (``PeachConfig.top_learner = "hac"``): one bounded critic in [-H, 0],
no target networks, Gaussian noise and 20% random subgoals while exploring; z sampling explores over tasks. The
alternative is ``top_learner = "sac"`` (``goal_levels.SoftGoalLevel``): a tanh-Gaussian actor, twin critics bounded in
[-H, 0] with Polyak targets (τ 0.005), an automatic temperature (α from 1.0, target entropy -2, lr 3e-4: SB3's
defaults), and the soft target clipped to [-H, 0] as HAC's is. Everything else is the same: inputs, 3 x 64 networks,
learning rates, the route's random subgoals and plans, and z's routing (not detached in the critic loss, detached in
the actor's).

* ``sac``: the route (``peach_config.ELIMINATING_ROUTE``, peach_maze.py's ``peach``) with a SAC top level, 600 rounds,
  trained and diagnosed by peach_hindsight.py's ``run_one`` as the baseline was, seeds 0-4;
* ``route``: the route with HAC's top level, read from ``data/results/peach_elimination.json`` (its
  ``eliminating_probes_light`` runs on seeds 0-2 and ``more_seeds`` 3-4, as peach_saturation.py reads them);
* ``sac_oracle``: peach_maze.py's ``oracle_z`` (the top level reads the true goal: inference solved, so what is left is
  the learner and exploration) with a SAC top level, trained by peach_maze.py's ``hierarchy_run``, seeds 0-2;
* ``hac_oracle``: peach_maze.py's ``oracle_z`` runs, read from ``data/results/peach_maze.json``.

Each arm's config must differ from its baseline's in ``top_learner`` only (checked).

Headline: ``sac_success`` and ``route_success`` (final meta-test episode on the 12 held-out tasks; mean, IQM and 95%
bootstrap CI over seeds), ``sac_gain``, ``sac_prob_improvement`` (rliable's P(sac > route), with its CI), per arm
``<arm>_min_success``, ``<arm>_probe_accuracy``, ``<arm>_variance_after_success``, ``<arm>_paid_context_success``,
``<arm>_first_episode_success``, ``<arm>_train_success`` (the collections' success over the last 100 rounds);
``sac_oracle_success`` and ``hac_oracle_success`` (the same on their seeds), ``sac_oracle_gain``;
``<arm>_train_minutes_per_seed``.

Run (about 10 CPU-minutes a run, 8 runs; one run per process shares runs/)::

    nohup python benchmarks/peach_top_learner.py --address serial > runs/logs/peach_top_learner.log 2>&1 &

Writes data/results/peach_top_learner.json and .png; a fast-mode smoke run writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse

import numpy as np
from peach_hindsight import FAST_OVERRIDES, meta_test_panels, run_one  # sibling scripts: the baselines' run functions
from peach_maze import METHODS as MAZE_METHODS
from peach_maze import hierarchy_run
from peach_saturation import BASELINE, baseline_rows

from peach_lite.budget import Budget
from peach_lite.peach_config import ELIMINATING_ROUTE
from peach_lite.results import figure_spec, read_results, write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

SAC = {"top_learner": "sac"}
"""What every arm changes: PeachConfig's top learner."""
SEEDS = (0, 1, 2, 3, 4)
"""The ``sac`` arm's seeds: the route's seeds in peach_elimination.json (0-2 and ``more_seeds``)."""
ORACLE_SEEDS = (0, 1, 2)
"""The ``sac_oracle`` arm's seeds: peach_maze.json's."""
TRAIN_TAIL = 100
"""Rounds at the end of training whose collection success ``<arm>_train_success`` averages."""


def arm_headline(name: str, runs: list[dict]) -> dict[str, float]:
    """One arm's headline numbers from its run rows."""
    final = [r["final_success"] for r in runs]
    out = {f"{name}_success": float(np.mean(final)), **headline_stats(f"{name}_success", final),
           f"{name}_min_success": float(np.min(final)),
           f"{name}_probe_accuracy": float(np.mean([r["probe_accuracy"] for r in runs])),
           f"{name}_first_episode_success": float(np.mean([r["success_per_episode"][0] for r in runs])),
           f"{name}_train_success": float(np.mean([np.mean(r["train_success"][-TRAIN_TAIL:]) for r in runs])),
           f"{name}_train_minutes_per_seed": float(np.mean([r["train_cpu_s"] for r in runs])) / 60}
    variances = [r["variance_after_success"] for r in runs if np.isfinite(r["variance_after_success"])]
    if variances:
        out[f"{name}_variance_after_success"] = float(np.mean(variances))
    if all("paid_context_success" in r for r in runs):
        out[f"{name}_paid_context_success"] = float(np.mean([r["paid_context_success"] for r in runs]))
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=list(SEEDS), fast=[0]))
    parser.add_argument("--oracle-seeds", type=int, nargs="+", default=budget.pick(full=list(ORACLE_SEEDS), fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=600, fast=2), help="rounds (the baselines' 600)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--only", choices=["sac", "sac_oracle"], help="run one arm and write nothing")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    small = FAST_OVERRIDES if budget.fast else {}
    configs = {"sac": {"method": "sac", "rounds": args.rounds, "eval_every": args.eval_every,
                       "overrides": {**ELIMINATING_ROUTE, **small, **SAC}},
               "sac_oracle": {"method": "sac_oracle", "rounds": args.rounds, "eval_every": args.eval_every,
                              "overrides": {**MAZE_METHODS["oracle_z"], **small, **SAC}}}
    runs = {}
    if args.only != "sac_oracle":
        runs["sac"] = run_sweep(run_one, {"sac": configs["sac"]}, args.seeds, name="peach_top_learner",
                                **sweep_options(args)).check().results("sac")
    if args.only != "sac":
        runs["sac_oracle"] = run_sweep(hierarchy_run, {"sac_oracle": configs["sac_oracle"]}, args.oracle_seeds,
                                       name="peach_top_learner", **sweep_options(args)).check().results("sac_oracle")
    if args.only:
        print(f"--only {args.only}: data/results/peach_top_learner.json not written")
        return

    if budget.fast:
        runs["route"], runs["hac_oracle"] = runs["sac"], runs["sac_oracle"]
    else:
        study = read_results("peach_elimination")
        base = study["details"]["configs"][BASELINE]
        if {**base["overrides"], **SAC} != configs["sac"]["overrides"] or (base["rounds"], base["eval_every"]) != (args.rounds, args.eval_every):
            raise ValueError(f"the sac arm must be peach_elimination's eliminating_probes_light plus {SAC}, in its rounds and cadence")
        runs["route"] = baseline_rows(study, list(args.seeds))
        maze = read_results("peach_maze")
        oracle = maze["details"]["configs"]["oracle_z"]
        if {**oracle["overrides"], **SAC} != configs["sac_oracle"]["overrides"] or (oracle["rounds"], oracle["eval_every"]) != (args.rounds, args.eval_every):
            raise ValueError(f"the sac_oracle arm must be peach_maze's oracle_z plus {SAC}, in its rounds and cadence")
        by_seed = dict(zip(maze["seeds"], maze["details"]["runs"]["oracle_z"]))
        if not set(args.oracle_seeds) <= set(by_seed):
            raise ValueError(f"oracle seeds must be among peach_maze's {sorted(by_seed)}, got {args.oracle_seeds}")
        runs["hac_oracle"] = [by_seed[s] for s in args.oracle_seeds]
    headline = {}
    for arm in ("sac", "route", "sac_oracle", "hac_oracle"):
        headline.update(arm_headline(arm, runs[arm]))
    headline["sac_gain"] = headline["sac_success"] - headline["route_success"]
    headline["sac_oracle_gain"] = headline["sac_oracle_success"] - headline["hac_oracle_success"]
    headline.update(improvement_stats("sac", [r["final_success"] for r in runs["sac"]], [r["final_success"] for r in runs["route"]]))

    from peach_lite.envs.oracles import maze_sites_values

    oracle_success = maze_sites_values().oracle_success
    labels = {"sac": "SAC top level (route)", "route": "HAC top level (route: peach_maze's PEACH)",
              "sac_oracle": "SAC top level reading the true goal", "hac_oracle": "HAC top level reading the true goal"}
    panels = meta_test_panels(runs, labels, oracle_success, title="meta-test on held-out tasks")
    if args.out is None and budget.fast:
        print(f"headline: {headline}\nfast run: data/results/peach_top_learner.json not written (give --out DIR to write one)")
        return
    write_results("peach_top_learner", headline, seeds=list(args.seeds),
                  details={"runs": runs, "configs": configs, "oracle_seeds": list(args.oracle_seeds),
                           "baseline": "peach_elimination.json runs['eliminating_probes_light'] and more_seeds; "
                                       "peach_maze.json runs['oracle_z']"},
                  figure=figure_spec("Which learner at the top (hidden-goal maze)", panels), out_dir=args.out)


if __name__ == "__main__":
    main()
