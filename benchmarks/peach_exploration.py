"""Directed exploration while training: PEACH's best route with and without a count bonus or frontier subgoals for its top level.

``benchmarks/peach_hindsight.py`` found where PEACH stops on ``peach_lite/PointMazeHidden-v0``: its best route
(hindsight goals from the task distribution where the context reached one, else where an attempt ended: HTR else HER)
knows at most two of the three sites, even handed a paid attempt at the third, because no training collection reached
it. This study adds directed exploration while training, in two forms. A count bonus: each unpaid top-level attempt
in the critic's batch earns ``PeachConfig.novelty_bonus / sqrt(N)``, N counting the training attempts that ended in the same 1 x 1 cell
(MBIE-EB style, task-independent, fading as a cell is visited; the context keeps the task's reward). Frontier
subgoals: the top level's exploring random subgoals aim at the edge of what training attempts have reached.

* ``htr``: ``peach_hindsight_collection_task_or_achieved`` of peach_hindsight.py (600 rounds);
* ``novelty``: the same plus ``novelty_bonus`` 0.5 on 1 x 1 cells (``peach_hindsight_collection_task_or_achieved_novelty``);
* ``room_novelty``: the same with ``novelty_bonus`` 0.9 counted per room (``novelty_cells`` 2; a room no attempt has
  ended in pays 0.9 until one does: ``peach_hindsight_collection_task_or_achieved_room_novelty``);
* ``frontier``: no bonus; instead the exploring top level's random subgoals (half of them, ``top_random_action_rate``
  0.5 instead of 0.2) go to the least-visited cell that training attempts have reached within 2 of the agent
  (``frontier_radius``; MEGA-style) instead of anywhere in the box: directed exploration of the *proposals*
  (``peach_hindsight_collection_task_or_achieved_frontier``);
* ``oracle_top``: the collection route's top level handed the goal (``oracle_z_hindsight_collection``, z = the goal's
  coordinates): where a top level that knows the task sends its collections, with the same kind of lower levels.

All five are peach_hindsight.py's methods, trained and diagnosed by its ``run_one`` with its run files
(``runs/peach_hindsight/<method>/seed<k>.json``), so a run either script made is reused by the other.

Headline, for each of them: ``<m>_success`` (final meta-test episode on the 12 held-out tasks, mean over
seeds, with IQM and 95% bootstrap CI), ``<m>_train_far_room_share`` (share of the training collections' top-level
attempts that ended in room 2, the far site's: did collection reach it?), ``<m>_train_far_subgoal_share`` (share of
their stored subgoals in room 2: HAC's hindsight actions, i.e. the proposals the lower levels reached there plus the
ends of missed attempts there; a proposal to room 2 that was missed counts where its attempt ended, so this is not the
share of proposals, which ``peach_diagnostics.train_exploration`` counts since 2026-12-05, after this run), ``<m>_train_start_room_share`` (attempts that ended in the
start room, 0), ``<m>_far_site_paid_context_success``
(the paid-context probe on the far site's tasks: can the agent go there when its context says so?),
``<m>_prior_sites_reached`` (sites that prior samples of z pass, of 3; these two not for oracle_top),
``<m>_first_episode_success``;
``novelty_gain``, ``room_novelty_gain`` and ``frontier_gain`` (minus htr's success), ``oracle_success`` (the goal-known reference) and
``route_train_minutes_per_seed``.

Run (about 10 CPU-minutes a run, 15 runs)::

    nohup python benchmarks/peach_exploration.py --address serial > runs/logs/peach_exploration.log 2>&1 &

Writes data/results/peach_exploration.json and .png (read by notebooks/11_peach.py); a fast-mode smoke run or fewer
than 3 seeds writes nothing unless --out is given.
"""
from __future__ import annotations

import numpy as np
from peach_hindsight import FAST_OVERRIDES, ROUTE_METHODS, method_configs, route_study_arguments, run_one  # a sibling script: the same methods and runs

from peach_lite.budget import Budget
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import run_sweep, sweep_options

METHODS = {"htr": "peach_hindsight_collection_task_or_achieved", "novelty": "peach_hindsight_collection_task_or_achieved_novelty",
           "room_novelty": "peach_hindsight_collection_task_or_achieved_room_novelty",
           "frontier": "peach_hindsight_collection_task_or_achieved_frontier", "oracle_top": "oracle_z_hindsight_collection"}
"""Short name -> the peach_hindsight.py method it runs."""
FAR_SITE = 1
"""Index into the env's ``sites`` (1, 2, 3) of the far site: room 2."""
FAR_ROOM = 2


def main() -> None:
    budget = Budget.from_env()
    args = route_study_arguments(__doc__.split("\n\n")[0], budget)
    assert set(METHODS.values()) <= set(ROUTE_METHODS)
    small = FAST_OVERRIDES if budget.fast else {}
    configs = method_configs(list(METHODS.values()), args.route_rounds, args.route_eval_every, args.route_rounds,
                             args.route_eval_every, small)
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_hindsight", **sweep_options(args)).check()
    rows = {short: sweep.results(method) for short, method in METHODS.items()}

    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()
    headline: dict[str, float] = {}
    for m, runs in rows.items():
        scores = np.array([r["final_success"] for r in runs], dtype=float)
        headline[f"{m}_success"] = float(scores.mean())
        headline.update(headline_stats(f"{m}_success", scores))
        headline[f"{m}_train_far_room_share"] = float(np.mean([r["train_attempt_room_shares"][FAR_ROOM] for r in runs]))
        headline[f"{m}_train_far_subgoal_share"] = float(np.mean([r["train_subgoal_room_shares"][FAR_ROOM] for r in runs]))
        headline[f"{m}_train_start_room_share"] = float(np.mean([r["train_attempt_room_shares"][0] for r in runs]))
        headline[f"{m}_first_episode_success"] = float(np.mean([r["success_per_episode"][0] for r in runs]))
        if m != "oracle_top":  # the probes of a posterior
            headline[f"{m}_far_site_paid_context_success"] = float(np.mean([r["paid_context_success_per_site"][FAR_SITE] for r in runs]))
            headline[f"{m}_paid_context_success"] = float(np.mean([r["paid_context_success"] for r in runs]))
            headline[f"{m}_prior_sites_reached"] = float(np.mean([r["prior_sites_reached"] for r in runs]))
    headline["novelty_gain"] = headline["novelty_success"] - headline["htr_success"]
    headline["room_novelty_gain"] = headline["room_novelty_success"] - headline["htr_success"]
    headline["frontier_gain"] = headline["frontier_success"] - headline["htr_success"]
    headline["oracle_success"] = float(values.oracle_success)
    headline["route_train_minutes_per_seed"] = float(np.mean([r["train_cpu_s"] for runs in rows.values() for r in runs]) / 60)
    headline["route_rounds"] = float(args.route_rounds)

    if (budget.fast or len(args.seeds) < 3) and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {args.seeds}): data/results/peach_exploration.json not written "
              "(give --out DIR to write one)")
        return
    figure = figure_spec("Directed exploration while training (hidden-goal maze)", [
        curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                     [{"label": m, "x": [r["curve_steps"] for r in rows[m]], "y": [r["curve_success"] for r in rows[m]]} for m in rows],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
        curves_panel("collection (exploring)", "round", "success of the round's episodes",
                     [{"label": m, "x": [list(range(1, len(r["train_success"]) + 1)) for r in rows[m]],
                       "y": [r["train_success"] for r in rows[m]]} for m in rows], smooth=25),
    ])
    write_results("peach_exploration", headline, seeds=list(args.seeds),
                  details={"runs": rows, "configs": configs, "methods": METHODS, "oracles": values.to_dict()},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
