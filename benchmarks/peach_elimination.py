"""Eliminating slots: teach PEACH's own q(z | c) the search that posterior sampling with elimination does.

``benchmarks/peach_exact_belief.py`` found the wall: the same agents reach 0.94 when an eliminating belief over the train
tasks' codes drives them, 0.47 on their own q_φ(z | c), whose product of Gaussian factors averages two failures instead
of ruling both out. This study keeps Algorithm 2 exactly as written (z ~ q_φ(z | all context so far)) and changes
training only: ``PeachConfig.elimination_weight`` adds a loss on φ (:func:`peach_lite.peach_context.eliminating_loss`).
Each own-goal meta-batch slot's context is cut to a random subset of its unpaid attempts, the train goals whose reward
gives every kept row its recorded reward are the hypotheses left, and q(z | the subset) is pulled (KL) towards the
code of the one it already finds likeliest. A Gaussian cannot hold two sites, but it can hold the next one to try.
That loss's targets are q's own codes, and codes that coincide satisfy it: the ``eliminating`` arm collapsed them. The
``eliminating_mass`` arm asks instead that z ~ q(z | c) land on a code left (``elimination_form="consistent_mass"``,
:func:`peach_lite.posterior.consistent_mass_loss`), which coinciding codes cannot satisfy.

* ``eliminating``: ``peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating`` of
  peach_hindsight.py (the best route, ``RETURN_EXPLORE_ROUTE``, plus ``elimination_weight`` 1.0; 600 rounds; trained
  and diagnosed by its ``run_one``, run files ``runs/peach_hindsight/<method>/seed<k>.json``);
* ``eliminating_mass``: ``..._quarter_eliminating_mass``, the same with ``elimination_form="consistent_mass"``;
* ``eliminating_probes``: ``..._quarter_eliminating_probes``, the mass form with 1 to 3 failed probe attempts (rows
  ending at train goals the slot's goal does not pay, ``elimination_failures`` 3) added to each slot's kept attempts:
  the slots' own unpaid attempts rule out little (``own_context_ruling_out_share``: the share of own-goal contexts
  that rule out any train goal, and ``own_context_max_ruled_out_share``, the most one rules out, read on the quarter
  route's checkpoint data/checkpoints/peach_maze_return_explore.pt by
  :func:`peach_lite.peach_diagnostics.own_context_elimination`), so the first two arms' loss had little to teach;
* ``eliminating_probes_light``: ``..._quarter_eliminating_probes_light``, the probes arm at ``elimination_weight`` 0.3:
  the probes arm searches without revisits but loses the far site once it is paid (``<arm>_far_site_paid_context_success``),
  and this arm asks whether a lighter loss keeps both;
* ``eliminating_probes_light`` and the quarter route are run on two more seeds (``MORE_SEEDS``, 3 and 4; headline
  ``<arm>_all_seeds_success`` over seeds 0-4, with IQM and CI);
* ``return_explore_quarter``: the same route without the loss, read from ``data/results/peach_return_explore.json``
  (the same seeds, rounds and run function; the configs must differ in ``elimination_weight``, ``elimination_form`` and
  ``elimination_failures`` only).

Headline: ``eliminating_success`` (final meta-test episode on the 12 held-out tasks; mean, IQM and 95% bootstrap CI over
seeds), ``eliminating_mass_success``, ``return_explore_quarter_success``, ``<arm>_gain`` (the difference to the
baseline), and for every arm
``<arm>_first_episode_success``, ``<arm>_paid_context_success``, ``<arm>_one_failure_success`` /
``<arm>_two_failures_success`` (the failed-context probe: posterior sampling with elimination gives 0.5 / 1.0),
``<arm>_two_failures_revisit``, ``<arm>_probe_accuracy`` and ``<arm>_variance_after_success`` (the issue's task-inference
targets: >= 0.9 and < 0.2); ``ps_with_elimination_final`` (the reference's last episode), ``oracle_success`` and
``<arm>_train_minutes_per_seed``.

Run (about 19 to 26 CPU-minutes a run, 12 runs; one run per process shares runs/)::

    nohup python benchmarks/peach_elimination.py --address serial > runs/logs/peach_elimination.log 2>&1 &

Writes data/results/peach_elimination.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing unless
--out is given.
"""
from __future__ import annotations

import numpy as np
from peach_hindsight import FAST_OVERRIDES, baseline_runs, method_configs, route_study_arguments, run_one  # sibling scripts: the same runs
from peach_return_explore import arm_headline

from peach_lite.budget import Budget
from peach_lite.results import curves_panel, figure_spec, read_results, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import run_sweep, sweep_options

ARMS = {"eliminating": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating",
        "eliminating_mass": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_mass",
        "eliminating_probes": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_probes",
        "eliminating_probes_light": "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_probes_light"}
"""Short name -> the peach_hindsight.py method it runs."""
ARM = "eliminating"
"""The arm the headline's gain is measured for."""
BASELINE = "return_explore_quarter"
"""The baseline's key in peach_return_explore.json's runs."""
MORE_SEEDS_ARM = "eliminating_probes_light"
"""The arm run on ``MORE_SEEDS`` too, beside its baseline's own runs there."""
MORE_SEEDS = (3, 4)
"""Seeds beyond the study's, for ``MORE_SEEDS_ARM`` and the quarter route alone (peach_return_explore.json, which holds
the baseline's rows, has seeds 0-2 only)."""
ADDED_FIELDS = ("elimination_weight", "elimination_form", "elimination_failures")
"""The only PeachConfig fields in which the arm may differ from the baseline."""


def inference_headline(name: str, runs: list[dict]) -> dict[str, float]:
    """The issue's task-inference numbers of one arm: the linear probe's accuracy and the posterior variance after the
    first success (fraction of the prior's; left out when no run had a success to measure it after)."""
    out = {f"{name}_probe_accuracy": float(np.mean([r["probe_accuracy"] for r in runs]))}
    variances = [r["variance_after_success"] for r in runs if np.isfinite(r["variance_after_success"])]
    if variances:
        out[f"{name}_variance_after_success"] = float(np.mean(variances))
    return out


def own_context_elimination_on_checkpoint() -> dict[str, float]:
    """:func:`~peach_lite.peach_diagnostics.own_context_elimination` on the quarter route's checkpoint (seed 0), over
    the maze's train tasks."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.loop import GymTaskEnvs, Runner
    from peach_lite.paths import checkpoints_dir
    from peach_lite.peach_diagnostics import own_context_elimination

    agent, payload = load_agent(checkpoints_dir() / "peach_maze_return_explore.pt", algorithm="peach")
    envs = GymTaskEnvs(payload["arch"]["env_id"], seed=0)
    try:
        return own_context_elimination(agent, Runner(envs, envs.unwrapped.train_tasks(), seed=0))
    finally:
        envs.close()


def more_seeds_runs(runs: dict[str, list[dict]], baseline_method: str, args) -> dict[str, list[dict]]:
    """``MORE_SEEDS_ARM``'s and the baseline's rows over ``args.seeds`` plus ``MORE_SEEDS``: the study's rows, then
    both methods run on ``MORE_SEEDS`` (the baseline with its study's config, checked by ``baseline_runs``)."""
    configs = method_configs([ARMS[MORE_SEEDS_ARM], baseline_method], args.route_rounds, args.route_eval_every,
                             args.route_rounds, args.route_eval_every, {})
    seeds = [s for s in MORE_SEEDS if s not in args.seeds]
    if not seeds:
        return {}
    extra = run_sweep(run_one, configs, seeds, name="peach_hindsight", **sweep_options(args)).check()
    return {MORE_SEEDS_ARM: runs[MORE_SEEDS_ARM] + extra.results(ARMS[MORE_SEEDS_ARM]),
            BASELINE: runs[BASELINE] + extra.results(baseline_method)}


def main() -> None:
    budget = Budget.from_env()
    args = route_study_arguments(__doc__.split("\n\n")[0], budget)
    small = FAST_OVERRIDES if budget.fast else {}
    configs = method_configs(list(ARMS.values()), args.route_rounds, args.route_eval_every, args.route_rounds, args.route_eval_every, small)
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_hindsight", **sweep_options(args)).check()
    runs = {arm: sweep.results(method) for arm, method in ARMS.items()}

    study = read_results("peach_return_explore")
    baseline_method = next(m for m in study["details"]["configs"] if m.endswith("_quarter"))
    runs[BASELINE] = baseline_runs(study, "peach_return_explore", BASELINE, baseline_method, list(ARMS.values()), ADDED_FIELDS, args, budget.fast)

    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()
    headline: dict[str, float] = {}
    for name, rows in runs.items():
        headline.update(arm_headline(name, rows))
        headline.update(inference_headline(name, rows))
    for arm in ARMS:
        headline[f"{arm}_gain"] = headline[f"{arm}_success"] - headline[f"{BASELINE}_success"]
    more_seeds = {} if budget.fast else more_seeds_runs(runs, baseline_method, args)
    for name, rows in more_seeds.items():
        scores = [r["final_success"] for r in rows]
        headline[f"{name}_all_seeds_success"] = float(np.mean(scores))
        headline.update(headline_stats(f"{name}_all_seeds_success", scores))
    headline.update({f"own_context_{k}": v for k, v in own_context_elimination_on_checkpoint().items() if k != "contexts"})
    headline["ps_with_elimination_final"] = float(values.ps_with_elimination[-1])
    headline["oracle_success"] = float(values.oracle_success)
    for arm in ARMS:
        headline[f"{arm}_train_minutes_per_seed"] = float(np.mean([r["train_cpu_s"] for r in runs[arm]]) / 60)
    headline["route_rounds"] = float(args.route_rounds)

    if (budget.fast or len(args.seeds) < 3) and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {args.seeds}): data/results/peach_elimination.json not written "
              "(give --out DIR to write one)")
        return
    labels = {ARM: "quarter route + eliminating slots (nearest code)", "eliminating_mass": "quarter route + eliminating slots (consistent mass)",
              "eliminating_probes": "quarter route + consistent mass with probe failures",
              "eliminating_probes_light": "the same at weight 0.3",
              BASELINE: "quarter route (without them)"}

    def episodes(rows: list) -> list[list[int]]:
        return [list(range(1, len(r) + 1)) for r in rows]

    figure = figure_spec("Eliminating slots (hidden-goal maze)", [
        curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                     [{"label": labels[m], "x": [r["curve_steps"] for r in rows], "y": [r["curve_success"] for r in rows]}
                      for m, rows in runs.items()],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
        curves_panel("meta-test (after training)", "meta-test episode", "success",
                     [*({"label": labels[m], "x": episodes([r["success_per_episode"] for r in rows]),
                         "y": [r["success_per_episode"] for r in rows]} for m, rows in runs.items()),
                      {"label": "posterior sampling with elimination", "x": episodes([values.ps_with_elimination]),
                       "y": [list(values.ps_with_elimination)]}],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
    ])
    write_results("peach_elimination", headline, seeds=list(args.seeds),
                  details={"runs": runs, "more_seeds": {"seeds": list(MORE_SEEDS), "runs": more_seeds}, "configs": configs, "baseline": f"peach_return_explore.json runs[{BASELINE!r}]",
                           "oracles": values.to_dict()},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
