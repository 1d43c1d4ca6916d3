"""PEACH's budget: does its final success on the hidden-goal maze grow with more data, or with more compute, and how
much can one meta-test tell?

peach_maze.py trains every method for 600 rounds. On this machine PEACH's route (peach_maze's ``peach``,
``peach_config.ELIMINATING_ROUTE``) used about 9 CPU-minutes a seed for them (peach_saturation's ``reset_saturated``
runs, the route bit for bit on seeds 0-2), a third of the issue's 30 CPU-minutes a seed per method. Three arms spend more:

* ``longer``: the route for ``LONGER_ROUNDS`` rounds (three times the data and the compute). Snapshots at
  ``SNAPSHOTS`` are diagnosed mid-run with the global RNGs preserved (``seeding.preserved_rng``), so the 600-round
  snapshot is peach_maze's PEACH agent, bit for bit (``route_runs_matching_peach_maze`` counts the seeds whose
  meta-test, curve and env steps equal peach_maze.json's), and the run goes on as if nothing had been read.
* ``more_updates``: the route for 600 rounds with ``MORE_UPDATES`` times the top level's gradient steps per round and
  the lower levels' per episode (the compute of 1,200 rounds on the data of 600).
* ``hac_no_z_longer``: peach_maze's HAC without z (the same learner, its top level reading z = 0) for ``LONGER_ROUNDS``
  rounds, read at 600 (peach_maze's agent, checked like the route's) and at the end, so that the issue's gain over it
  is measured in the longer budget too.

Every agent is read twice: peach_maze's ``diagnose`` (one meta-test of the 12 held-out tasks, the linear probe, the
variance after the first success, the paid-context and prior-visit probes), and ``posterior.repeated_meta_test``
(``REPEATS`` more meta-tests with their own seeds), whose mean is the tighter estimate of the agent's expected
final-episode success and whose spread shows how far one meta-test can move.

Headline, per reading ``<name>`` (PEACH's ``route`` = the 600-round snapshot, ``longer_1200``, ``longer`` = 1,800
rounds, ``more_updates``; HAC without z's ``hac_no_z`` = 600 rounds and ``hac_no_z_longer`` = 1,800):
``<name>_success`` (one meta-test, peach_maze's protocol; mean, IQM and 95% bootstrap CI over seeds),
``<name>_success_repeated`` (the mean over the repeats; with IQM and CI), ``<name>_fraction_of_oracle_hac`` (both over
peach_maze's HAC given the goal), ``<name>_probe_accuracy``, ``<name>_variance_after_success``,
``<name>_paid_context_success``, ``<name>_prior_sites_reached`` (PEACH's readings only),
``<name>_train_minutes_per_seed`` (CPU, training up to that reading), ``<name>_env_steps``;
``route_gain_over_hac_no_z`` and ``longer_gain_over_hac_no_z`` (each also ``_repeated``: the issue's gain at 600 and
at 1,800 rounds); ``repeat_sd`` (the standard deviation of one meta-test's score over the repeats, mean over readings
and seeds); ``<arm>_prob_improvement`` over the route on the repeated means; ``route_runs_matching_peach_maze`` and
``hac_no_z_runs_matching_peach_maze``.

Run (3 seeds of each arm; a ``longer`` run is about three times a peach_maze PEACH run; one run per process shares runs/)::

    nohup python benchmarks/peach_budget.py --address serial > runs/logs/peach_budget.log 2>&1 &

Writes data/results/peach_budget.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing unless
--out is given.
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
from peach_hindsight import FAST_OVERRIDES  # a sibling script
from peach_maze import ENV_ID, METHODS, PEACH_ROUTE

from peach_lite.budget import Budget
from peach_lite.peach_config import PeachConfig
from peach_lite.results import curves_panel, figure_spec, read_results, write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

SNAPSHOTS = (600, 1200)
"""Rounds at which the ``longer`` run is read before its end (600: peach_maze's budget)."""
LONGER_ROUNDS = 1800
"""Rounds of the ``longer`` arm: three times peach_maze's, within the issue's 30 CPU-minutes a seed on this machine."""
MORE_UPDATES = 2
"""Factor on ``top_updates_per_round`` and ``lower_updates_per_episode`` in the ``more_updates`` arm."""
REPEATS = 8
"""Extra meta-tests of each agent (``posterior.repeated_meta_test``)."""
REPEAT_SEED = 40_000
"""Seed of the first extra meta-test (training uses the run's seed, peach_maze's meta-test ``peach.EVAL_SEED``)."""


def read_agent(agent, steps: int, train_cpu: float) -> dict:
    """peach_maze's ``diagnose`` and ``REPEATS`` extra meta-tests of one agent, with its env steps and training CPU time."""
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach_diagnostics import diagnose
    from peach_lite.posterior import repeated_meta_test

    envs = GymTaskEnvs(ENV_ID, seed=0)
    tasks = envs.unwrapped.test_tasks()
    envs.close()
    success = repeated_meta_test(agent, lambda seed: GymTaskEnvs(ENV_ID, seed=seed), tasks, repeats=REPEATS, seed=REPEAT_SEED)
    finals = success[:, :, -1].mean(axis=1)
    return {**diagnose(agent, ENV_ID), "repeated_final_success": finals.tolist(), "final_success_repeated": float(finals.mean()),
            "success_per_episode_repeated": success.mean(axis=(0, 1)).tolist(), "steps": steps, "train_cpu_s": train_cpu}


def budget_run(seed: int, method: str, rounds: int, eval_every: int, snapshots: list[int], overrides: dict) -> dict:
    """Train PEACH for ``rounds`` rounds with ``overrides`` and read it (:func:`read_agent`) at each of ``snapshots``
    (global RNGs preserved) and at the end."""
    from peach_lite.device import set_threads
    from peach_lite.peach import train_peach
    from peach_lite.seeding import preserved_rng, seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    readings: dict[str, dict] = {}

    def read_snapshot(round_index: int, agent, history) -> bool:
        if round_index in snapshots and round_index < rounds:
            train_cpu = time.process_time() - cpu - sum(r["read_cpu_s"] for r in readings.values())
            started = time.process_time()
            with preserved_rng():
                readings[str(round_index)] = read_agent(copy.deepcopy(agent), history.total_steps, train_cpu)
            readings[str(round_index)]["read_cpu_s"] = time.process_time() - started
        return False

    agent, meta = train_peach(seed=seed, progress=False, env_id=ENV_ID, rounds=rounds, eval_every=eval_every,
                              callbacks=[read_snapshot], **overrides)
    train_cpu = time.process_time() - cpu - sum(r["read_cpu_s"] for r in readings.values())
    readings[str(rounds)] = read_agent(agent, meta["steps"], train_cpu)
    history = meta["history"]
    return {"readings": readings, "curve_steps": history["eval_steps"], "curve_success": history["eval_values"],
            "train_success": history["extra"]["train_success"], "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def reading_headline(name: str, rows: list[dict], oracle_hac: float) -> dict[str, float]:
    """One reading's headline numbers from its rows (one per seed)."""
    single = [r["final_success"] for r in rows]
    repeated = [r["final_success_repeated"] for r in rows]
    out = {f"{name}_success": float(np.mean(single)), **headline_stats(f"{name}_success", single),
           f"{name}_success_repeated": float(np.mean(repeated)), **headline_stats(f"{name}_success_repeated", repeated),
           f"{name}_fraction_of_oracle_hac": float(np.mean(single)) / oracle_hac,
           f"{name}_fraction_of_oracle_hac_repeated": float(np.mean(repeated)) / oracle_hac,
           f"{name}_train_minutes_per_seed": float(np.mean([r["train_cpu_s"] for r in rows])) / 60,
           f"{name}_env_steps": float(np.mean([r["steps"] for r in rows]))}
    for key in ("probe_accuracy", "paid_context_success", "prior_sites_reached"):
        if key in rows[0]:  # the probes of a posterior agent
            out[f"{name}_{key}"] = float(np.mean([r[key] for r in rows]))
    variances = [r["variance_after_success"] for r in rows if np.isfinite(r["variance_after_success"])]
    if variances:  # undefined when no task succeeded before its last episode (a fast smoke run)
        out[f"{name}_variance_after_success"] = float(np.mean(variances))
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--only", choices=["longer", "more_updates", "hac_no_z_longer"], help="run one arm and write nothing")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    small = FAST_OVERRIDES if budget.fast else {}
    route = {**PEACH_ROUTE, **small}
    snapshots = [budget.pick(full=s, fast=2 * (i + 1)) for i, s in enumerate(SNAPSHOTS)]
    base_rounds = snapshots[0]
    base = PeachConfig(**route)
    updates = {"top_updates_per_round": MORE_UPDATES * base.top_updates_per_round,
               "lower_updates_per_episode": MORE_UPDATES * base.lower_updates_per_episode}
    configs = {"longer": {"method": "longer", "rounds": budget.pick(full=LONGER_ROUNDS, fast=6), "eval_every": args.eval_every,
                          "snapshots": snapshots, "overrides": route},
               "more_updates": {"method": "more_updates", "rounds": base_rounds, "eval_every": args.eval_every, "snapshots": [],
                                "overrides": {**route, **updates}},
               "hac_no_z_longer": {"method": "hac_no_z_longer", "rounds": budget.pick(full=LONGER_ROUNDS, fast=6), "eval_every": args.eval_every,
                                   "snapshots": snapshots[:1], "overrides": {**METHODS["hac_no_z"], **small}}}
    if args.only:
        configs = {args.only: configs[args.only]}
    sweep = run_sweep(budget_run, configs, args.seeds, name="peach_budget", **sweep_options(args)).check()
    runs = {arm: sweep.results(arm) for arm in configs}
    if args.only:
        print(f"--only {args.only}: data/results/peach_budget.json not written")
        return

    maze = read_results("peach_maze")
    oracle_hac = maze["headline"]["hac_true_goal_success"]
    seeds = list(args.seeds)
    readings = {"route": [r["readings"][str(base_rounds)] for r in runs["longer"]],
                "longer_1200": [r["readings"][str(snapshots[1])] for r in runs["longer"]],
                "longer": [r["readings"][str(configs["longer"]["rounds"])] for r in runs["longer"]],
                "more_updates": [r["readings"][str(base_rounds)] for r in runs["more_updates"]],
                "hac_no_z": [r["readings"][str(base_rounds)] for r in runs["hac_no_z_longer"]],
                "hac_no_z_longer": [r["readings"][str(configs["hac_no_z_longer"]["rounds"])] for r in runs["hac_no_z_longer"]]}
    headline: dict[str, float] = {}
    for name, rows in readings.items():
        headline.update(reading_headline(name, rows, oracle_hac))
    for name in ("longer_1200", "longer", "more_updates"):
        headline.update(improvement_stats(name, [r["final_success_repeated"] for r in readings[name]],
                                          [r["final_success_repeated"] for r in readings["route"]]))
    headline["repeat_sd"] = float(np.mean([np.std(r["repeated_final_success"]) for rows in readings.values() for r in rows]))
    for peach, no_z in (("route", "hac_no_z"), ("longer", "hac_no_z_longer")):  # the gain, at 600 and at 1,800 rounds
        for suffix in ("", "_repeated"):
            headline[f"{peach}_gain_over_hac_no_z{suffix}"] = headline[f"{peach}_success{suffix}"] - headline[f"{no_z}_success{suffix}"]
    matches = {}
    for method, arm, reading in (("peach", "longer", "route"), ("hac_no_z", "hac_no_z_longer", "hac_no_z")):
        by_seed = dict(zip(maze["seeds"], maze["details"]["runs"][method]))
        matches[method] = [s in by_seed and row["final_success"] == by_seed[s]["final_success"] and row["steps"] == by_seed[s]["steps"]
                           and run["curve_success"][:len(by_seed[s]["curve_success"])] == by_seed[s]["curve_success"]
                           for s, row, run in zip(seeds, readings[reading], runs[arm])]
        headline[f"{reading}_runs_matching_peach_maze"] = float(sum(matches[method]))
    headline["longer_rounds"], headline["more_updates_factor"], headline["repeats"] = float(configs["longer"]["rounds"]), float(MORE_UPDATES), float(REPEATS)

    from peach_lite.envs.oracles import maze_sites_values

    oracle = maze_sites_values().oracle_success
    labels = {"route": f"{base_rounds} rounds (peach_maze's PEACH)", "longer_1200": f"{snapshots[1]} rounds",
              "longer": f"{configs['longer']['rounds']} rounds", "more_updates": f"{base_rounds} rounds, {MORE_UPDATES}x updates",
              "hac_no_z": f"HAC without z, {base_rounds} rounds", "hac_no_z_longer": f"HAC without z, {configs['hac_no_z_longer']['rounds']} rounds"}
    episodes = list(range(1, len(readings["route"][0]["success_per_episode_repeated"]) + 1))
    hlines = [{"label": "oracle (goal known)", "y": oracle}]
    panels = [curves_panel(f"meta-test on held-out tasks (mean of {REPEATS} meta-tests per agent)", "meta-test episode", "success rate (fraction)",
                           [{"label": labels[n], "x": episodes, "y": [r["success_per_episode_repeated"] for r in rows]} for n, rows in readings.items()],
                           hlines=hlines),
              curves_panel("meta-training (one meta-test per point)", "environment steps", "final-episode meta-test success",
                           [{"label": labels[arm], "x": [r["curve_steps"] for r in runs[arm]],
                             "y": [r["curve_success"] for r in runs[arm]]} for arm in runs], hlines=hlines, smooth=3)]
    if args.out is None and (budget.fast or len(seeds) < 3):
        print(f"headline: {headline}\nfast or partial run: data/results/peach_budget.json not written (give --out DIR to write one)")
        return
    write_results("peach_budget", headline, seeds=seeds,
                  details={"runs": runs, "configs": configs, "labels": labels, "oracle_hac": oracle_hac,
                           "matches_peach_maze_by_seed": matches},
                  figure=figure_spec("PEACH's budget: more data or more compute (hidden-goal maze)", panels), out_dir=args.out)


if __name__ == "__main__":
    main()
