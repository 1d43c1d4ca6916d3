"""First return, then explore: PEACH's HTR route with Go-Explore collections, against the same route without them.

``benchmarks/peach_exploration.py`` ended on a circle: the top level proposes the far room only under a z that means
"room 2", and z comes to mean it only once collections were paid there; noise added to the task's own episodes (a count
bonus, frontier subgoals) does not break it. This study makes the exploration itself consistent. In half of the
training collection episodes (``PeachConfig.return_explore_rate`` 0.5, drawn per env) the top level's subgoals are
planned by :class:`peach_lite.exploration.FirstReturnThenExplore`: waypoints along the cell-to-cell moves that earlier
training attempts made, to a visited cell drawn ∝ 1/√N (Go-Explore's "return"), then uniformly random subgoals from
there ("explore"). z is still drawn and stored with every row; the attempts go to the RL, collection and context
buffers like any other, and the top level learns from them off-policy.

* ``return_explore``: ``peach_hindsight_collection_task_or_achieved_return_explore`` of peach_hindsight.py (600 rounds,
  trained and diagnosed by its ``run_one``, run files ``runs/peach_hindsight/<method>/seed<k>.json``);
* ``return_explore_quarter``: the same with a quarter of the collections planned (``return_explore_rate`` 0.25);
* ``return_explore_prior_slots``: rate 0.5 plus half of the own-goal meta-batch slots reading the prior
  (``prior_slot_prob`` 0.5), so that the top level learns the meta-test's first episode from the complete data;
* ``return_explore_quarter_unpaid``: rate 0.25 plus half of the own-goal meta-batch slots reading z from only the
  unpaid attempts of their context (``unpaid_context_prob`` 0.5), the context a meta-test has before its first paid
  attempt: the encoder is taught what failures rule out (the failed-context probe, ``failed_context_*``, measures it);
* ``return_explore_quarter_categorical``: rate 0.25 with the categorical context posterior (``posterior_form``
  "categorical": per-row categorical factors over 5 clusters whose product can rule a failed site's cluster out,
  where PEARL's product of Gaussians averages two failures; ``peach_diagnostics.failure_blend_probe``);
* ``htr``: the route without the plans, read from ``data/results/peach_exploration.json`` (its ``htr`` runs: the same
  method config but the fields above, the same seeds and run function; tests/test_peach_results.py checks that the
  configs differ in those fields only, and that peach_maze's ``peach`` runs reproduce these bit for bit).

Headline: ``return_explore_success`` (final meta-test episode on the 12 held-out tasks; mean, IQM and 95% bootstrap CI
over seeds), the same for each other arm and ``htr_success``, ``<arm>_gain`` (minus htr's), and for every arm: ``<m>_train_far_room_share``
(share of the training collections' attempt ends in room 2, the far site's), ``<m>_train_start_room_share``,
``<m>_far_site_paid_context_success`` (the paid-context probe on the far site's tasks),
``<m>_paid_context_success``, ``<m>_first_episode_success``; for the arms whose runs have it, the failed-context probe
(``peach_diagnostics.failed_context_probe``): ``<m>_one_failure_success`` / ``<m>_two_failures_success`` (success after a
context of failed attempts at one / both other sites; posterior sampling with elimination: 0.5 / 1.0) and
``<m>_two_failures_revisit`` (share of those episodes that pass a failed site again) beside ``<m>_two_failures_prior_visit``;
``unpaid_gain`` and ``categorical_gain`` (the unpaid and categorical arms minus the quarter arm); ``oracle_success`` and ``return_explore_train_minutes_per_seed``.

Run (about 13.5 CPU-minutes a run, 15 runs; one run per process shares runs/)::

    nohup python benchmarks/peach_return_explore.py --address serial > runs/logs/peach_return_explore.log 2>&1 &

Writes data/results/peach_return_explore.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing
unless --out is given.
"""
from __future__ import annotations

import numpy as np
from peach_hindsight import FAST_OVERRIDES, baseline_runs, method_configs, route_study_arguments, run_one  # a sibling script: the same methods and runs

from peach_lite.budget import Budget
from peach_lite.results import curves_panel, figure_spec, read_results, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import run_sweep, sweep_options

ARMS = {"return_explore": "peach_hindsight_collection_task_or_achieved_return_explore",
        "return_explore_quarter": "peach_hindsight_collection_task_or_achieved_return_explore_quarter",
        "return_explore_prior_slots": "peach_hindsight_collection_task_or_achieved_return_explore_prior_slots",
        "return_explore_quarter_unpaid": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_unpaid",
        "return_explore_quarter_categorical": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_categorical"}
"""Short name -> the peach_hindsight.py method it runs (rate 0.5; rate 0.25; rate 0.5 plus ``prior_slot_prob`` 0.5; rate 0.25
plus ``unpaid_context_prob`` 0.5; rate 0.25 with the categorical posterior)."""
ADDED_FIELDS = ("return_explore_rate", "prior_slot_prob", "unpaid_context_prob", "posterior_form")
"""The only PeachConfig fields in which an arm may differ from the baseline."""
BASELINE = "htr"
"""The baseline's key in peach_exploration.json's runs."""
FAR_SITE, FAR_ROOM = 1, 2


def arm_headline(name: str, runs: list[dict]) -> dict[str, float]:
    """The per-arm numbers of the headline, from its run rows."""
    out = {f"{name}_success": float(np.mean([r["final_success"] for r in runs]))}
    out.update(headline_stats(f"{name}_success", [r["final_success"] for r in runs]))
    out[f"{name}_train_far_room_share"] = float(np.mean([r["train_attempt_room_shares"][FAR_ROOM] for r in runs]))
    out[f"{name}_train_start_room_share"] = float(np.mean([r["train_attempt_room_shares"][0] for r in runs]))
    out[f"{name}_far_site_paid_context_success"] = float(np.mean([r["paid_context_success_per_site"][FAR_SITE] for r in runs]))
    out[f"{name}_paid_context_success"] = float(np.mean([r["paid_context_success"] for r in runs]))
    out[f"{name}_first_episode_success"] = float(np.mean([r["success_per_episode"][0] for r in runs]))
    if all("failed_context_success" in r for r in runs):  # runs made before the probe existed lack it
        for i, count in enumerate(("one_failure", "two_failures")):
            out[f"{name}_{count}_success"] = float(np.mean([r["failed_context_success"][i] for r in runs]))
        out[f"{name}_two_failures_revisit"] = float(np.mean([r["failed_context_revisit"][1] for r in runs]))
        out[f"{name}_two_failures_prior_visit"] = float(np.mean([r["failed_context_prior_visit"][1] for r in runs]))
    return out


def main() -> None:
    budget = Budget.from_env()
    args = route_study_arguments(__doc__.split("\n\n")[0], budget)
    small = FAST_OVERRIDES if budget.fast else {}
    configs = method_configs(list(ARMS.values()), args.route_rounds, args.route_eval_every, args.route_rounds, args.route_eval_every, small)
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_hindsight", **sweep_options(args)).check()
    runs = {arm: sweep.results(method) for arm, method in ARMS.items()}
    study = read_results("peach_exploration")
    runs[BASELINE] = baseline_runs(study, "peach_exploration", BASELINE, study["details"]["methods"][BASELINE], list(ARMS.values()),
                                   ADDED_FIELDS, args, budget.fast)

    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()
    headline: dict[str, float] = {}
    for name, rows in runs.items():
        headline.update(arm_headline(name, rows))
    for arm in ARMS:
        headline[f"{arm}_gain"] = headline[f"{arm}_success"] - headline["htr_success"]
    headline["unpaid_gain"] = headline["return_explore_quarter_unpaid_success"] - headline["return_explore_quarter_success"]
    headline["categorical_gain"] = headline["return_explore_quarter_categorical_success"] - headline["return_explore_quarter_success"]
    headline["oracle_success"] = float(values.oracle_success)
    headline["return_explore_train_minutes_per_seed"] = float(np.mean([r["train_cpu_s"] for arm in ARMS for r in runs[arm]]) / 60)
    headline["route_rounds"] = float(args.route_rounds)

    if (budget.fast or len(args.seeds) < 3) and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {args.seeds}): data/results/peach_return_explore.json not written "
              "(give --out DIR to write one)")
        return
    labels = {"return_explore": "first return, then explore (half the collections)", "return_explore_quarter": "... a quarter of them",
              "return_explore_prior_slots": "... half, plus prior slots", "return_explore_quarter_unpaid": "... a quarter, plus unpaid slots",
              "return_explore_quarter_categorical": "... a quarter, categorical posterior",
              "htr": "HTR, else HER (peach_exploration)"}
    figure = figure_spec("First return, then explore (hidden-goal maze)", [
        curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                     [{"label": labels[m], "x": [r["curve_steps"] for r in rows], "y": [r["curve_success"] for r in rows]}
                      for m, rows in runs.items()],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
        curves_panel("collection (exploring)", "round", "success of the round's episodes",
                     [{"label": labels[m], "x": [list(range(1, len(r["train_success"]) + 1)) for r in rows],
                       "y": [r["train_success"] for r in rows]} for m, rows in runs.items()], smooth=25),
    ])
    write_results("peach_return_explore", headline, seeds=list(args.seeds),
                  details={"runs": runs, "configs": configs, "baseline": f"peach_exploration.json runs[{BASELINE!r}]",
                           "oracles": values.to_dict()},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
