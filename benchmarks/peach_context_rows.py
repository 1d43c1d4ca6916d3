"""Do the subgoal-test penalty rows belong in the context? PEACH's route with them, against the same route without them.

A top-level attempt whose subgoal was tested and missed gets a second row in the top level's RL buffer: the same
(s, subgoal, s'), reward -H and terminal (HAC's subgoal-test penalty). It describes the level below (it could not reach
that subgoal), not the task, so PEACH leaves it out of the context by default: q(z | c) reads attempts only
(``PeachConfig.penalties_in_context`` False; ``tests/test_peach.py`` checks that the context buffer holds no -H row).
This study tests the choice: the same route with the penalty rows in the context too.

* ``penalties_in_context``: ``peach_config.RETURN_EXPLORE_ROUTE`` plus ``penalties_in_context`` (600 rounds, trained and
  diagnosed by peach_hindsight.py's ``run_one``, run files ``runs/peach_context_rows/<arm>/seed<k>.json``);
* ``route``: the route without them, read from ``data/results/peach_return_explore.json`` (its
  ``return_explore_quarter`` runs: the same run function, seeds, rounds and cadence; the configs must differ in
  ``penalties_in_context`` only).

The route without the eliminating slots is the one compared: those slots' loss keeps a context's unpaid rows and asks
which train goals give each of them its recorded reward, which no goal does for a -H row, so with penalty rows in the
context the loss would mostly switch itself off, and the study would measure that instead.

Headline: ``penalties_in_context_success`` and ``route_success`` (final meta-test episode on the 12 held-out tasks;
mean, IQM and 95% bootstrap CI over seeds), ``penalties_in_context_gain``, ``penalties_in_context_prob_improvement``
(rliable's P(with > without), with its CI), and per arm ``<arm>_paid_context_success``, ``<arm>_signal_to_noise`` (the
paid-context probe's), ``<arm>_probe_accuracy``, ``<arm>_variance_after_success``, ``<arm>_first_episode_success``,
``<arm>_two_failures_success``; ``penalties_in_context_train_minutes_per_seed``.

Run (about 13 CPU-minutes a run, 3 runs; one run per process shares runs/)::

    nohup python benchmarks/peach_context_rows.py --address serial > runs/logs/peach_context_rows.log 2>&1 &

Writes data/results/peach_context_rows.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing
unless --out is given.
"""
from __future__ import annotations

import argparse

import numpy as np
from peach_hindsight import FAST_OVERRIDES, meta_test_panels, run_one  # a sibling script: the baseline's run function

from peach_lite.budget import Budget
from peach_lite.peach_config import RETURN_EXPLORE_ROUTE
from peach_lite.results import figure_spec, read_results, write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

BASELINE = "peach_hindsight_collection_task_or_achieved_return_explore_quarter"
"""peach_return_explore.json's method of the route's runs (``return_explore_quarter``)."""


def arm_headline(name: str, runs: list[dict]) -> dict[str, float]:
    """One arm's headline numbers from its run rows."""
    final = [r["final_success"] for r in runs]
    out = {f"{name}_success": float(np.mean(final)), **headline_stats(f"{name}_success", final)}
    for key, field in (("paid_context_success", "paid_context_success"), ("signal_to_noise", "paid_context_signal_to_noise"),
                       ("probe_accuracy", "probe_accuracy")):
        out[f"{name}_{key}"] = float(np.mean([r[field] for r in runs]))
    variances = [r["variance_after_success"] for r in runs if np.isfinite(r["variance_after_success"])]
    if variances:
        out[f"{name}_variance_after_success"] = float(np.mean(variances))
    out[f"{name}_first_episode_success"] = float(np.mean([r["success_per_episode"][0] for r in runs]))
    out[f"{name}_two_failures_success"] = float(np.mean([r["failed_context_success"][1] for r in runs]))
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=600, fast=2), help="rounds (the baseline's 600)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    add_sweep_arguments(parser)
    args = parser.parse_args()
    small = FAST_OVERRIDES if budget.fast else {}
    configs = {"penalties_in_context": {"method": "penalties_in_context", "rounds": args.rounds, "eval_every": args.eval_every,
                                        "overrides": {**RETURN_EXPLORE_ROUTE, **small, "penalties_in_context": True}}}
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_context_rows", **sweep_options(args)).check()
    runs = {"penalties_in_context": sweep.results("penalties_in_context")}
    if budget.fast:
        runs["route"] = runs["penalties_in_context"]
    else:
        study = read_results("peach_return_explore")
        base = study["details"]["configs"][BASELINE]
        if {**base["overrides"], "penalties_in_context": True} != configs["penalties_in_context"]["overrides"] or \
                (base["rounds"], base["eval_every"]) != (args.rounds, args.eval_every):
            raise ValueError("the penalties_in_context arm must be peach_return_explore's return_explore_quarter plus "
                             "penalties_in_context, in its rounds and cadence")
        by_seed = dict(zip(study["seeds"], study["details"]["runs"]["return_explore_quarter"]))
        if not set(args.seeds) <= set(by_seed):
            raise ValueError(f"seeds must be among peach_return_explore's {sorted(by_seed)}, got {args.seeds}")
        runs["route"] = [by_seed[s] for s in args.seeds]
    headline = {**arm_headline("penalties_in_context", runs["penalties_in_context"]), **arm_headline("route", runs["route"])}
    headline["penalties_in_context_gain"] = headline["penalties_in_context_success"] - headline["route_success"]
    headline.update(improvement_stats("penalties_in_context", [r["final_success"] for r in runs["penalties_in_context"]],
                                      [r["final_success"] for r in runs["route"]]))
    headline["penalties_in_context_train_minutes_per_seed"] = float(np.mean([r["train_cpu_s"] for r in runs["penalties_in_context"]])) / 60

    from peach_lite.envs.oracles import maze_sites_values

    oracle = maze_sites_values().oracle_success
    labels = {"penalties_in_context": "route + penalty rows in the context", "route": "route (attempt rows only)"}
    panels = meta_test_panels(runs, labels, oracle)
    if args.out is None and (budget.fast or len(args.seeds) < 3):
        print(f"headline: {headline}\nfast or partial run: data/results/peach_context_rows.json not written (give --out DIR to write one)")
        return
    write_results("peach_context_rows", headline, seeds=list(args.seeds),
                  details={"runs": runs, "configs": configs, "baseline": "peach_return_explore.json runs['return_explore_quarter']"},
                  figure=figure_spec("Penalty rows in the context (hidden-goal maze)", panels), out_dir=args.out)


if __name__ == "__main__":
    main()
