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
* ``sac_sampling``: the ``sac`` arm whose top level also samples its subgoals from π in meta-test episodes
  (``PeachConfig.top_samples_in_meta_test``; the lower levels stay greedy), seeds 0-2: SAC's own way to search, added
  after the ``sac`` arm's first two seeds found no site on the prior (its greedy subgoals, tanh(mean), ignore the prior z);
* ``sac_wide``: the ``sac`` arm with SAC's target entropy raised to ``WIDE_ENTROPY`` (``PeachConfig.top_target_entropy``),
  seeds 0-2: its exploring subgoals stay wider. Added after the scans: z steers SAC's greedy subgoals as far as HAC's,
  but its attempts stay nearer home, and its sampling narrows below the default target (-2) within about 100 rounds;
* ``sac_oracle``: peach_maze.py's ``oracle_z`` (the top level reads the true goal: inference solved, so what is left is
  the learner and exploration) with a SAC top level, trained by peach_maze.py's ``hierarchy_run``, seeds 0-2;
* ``hac_oracle``: peach_maze.py's ``oracle_z`` runs, read from ``data/results/peach_maze.json``.

The ``sac`` and ``sac_oracle`` configs must differ from their baselines' in ``top_learner`` only (checked).

* ``scan``: why, on seeds 0-2, ``SCAN_ROUNDS`` rounds of the ``sac`` arm, read after each round: the temperature α, the
  policy's entropy and the share of unpaid attempts (reward -1) whose soft target sits at the bound 0, the value of a
  paid one (α log π's bonus lifts -1 + γ V(s') above 0, where HAC's bound clips it: the critic cannot tell a paid attempt
  from an unpaid one there). Read on 256 of the top level's rows per task at z = the prior's mean, with generators of
  their own, so reading changes nothing. Both it and ``scan_hac`` (the same rounds of the route, HAC's top level) also
  read how far the greedy subgoal moves with z ~ prior at the states the top level trains on (:func:`read_z_spread`):
  the search on the prior needs it to move.

Headline: ``sac_success`` and ``route_success`` (final meta-test episode on the 12 held-out tasks; mean, IQM and 95%
bootstrap CI over seeds), ``sac_gain``, ``sac_prob_improvement`` (rliable's P(sac > route), with its CI), per arm
``<arm>_min_success``, ``<arm>_probe_accuracy``, ``<arm>_variance_after_success``, ``<arm>_paid_context_success``,
``<arm>_first_episode_success``, ``<arm>_train_success`` (the collections' success over the last 100 rounds),
``<arm>_train_start_room_share`` (training attempts that ended in the start room) and, for the posterior arms, the
two halves apart: ``<arm>_paid_context_success`` (inference and control: the meta-test given one paid attempt) and
``<arm>_prior_site_visits`` / ``<arm>_prior_sites_reached`` (search: greedy episodes on z ~ prior, the share passing
each site and the sites any reached; ``peach_diagnostics.prior_site_visits``);
``sac_oracle_success`` and ``hac_oracle_success`` (the same on their seeds), ``sac_oracle_gain``; ``sac_sampling_*`` and
``sac_wide_*`` (the same keys, on seeds 0-2) and ``sac_sampling_gain``, ``sac_wide_gain`` (over the route on those seeds);
``<arm>_train_minutes_per_seed``; ``scan_alpha_<r>``, ``scan_entropy_<r>`` and ``scan_unpaid_at_bound_<r>`` after
round r in ``SCAN_READS`` (means over the scan's seeds), ``scan_z_spread_<r>`` and ``scan_hac_z_spread_<r>``, and ``scan_rounds_to_unpaid_below_half`` (the first round where
fewer than half of the unpaid targets sit at the bound, mean over seeds).

Run (about 10 CPU-minutes a run, 14 runs, and 6 scan runs of about 4 CPU-minutes; one run per process shares runs/)::

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
"""The ``sac_oracle``, ``sac_sampling`` and ``sac_wide`` arms' seeds: peach_maze.json's."""
WIDE_ENTROPY = 0.0
"""The ``sac_wide`` arm's target entropy in the unit box: for a Gaussian, a standard deviation of about 0.24 of the
half-range per dimension (the default -2: about 0.09; HAC's subgoal noise: 0.1). Chosen once, not tuned."""
VARIANTS = ("sac_sampling", "sac_wide")
"""The ``sac`` arm's variants, each on the variant seeds."""
TRAIN_TAIL = 100
"""Rounds at the end of training whose collection success ``<arm>_train_success`` averages."""
SCAN_ROUNDS = 150
"""Rounds of a scan run (9,000 top-level updates)."""
Z_SAMPLES = 16
"""Prior draws of z per state in :func:`read_z_spread`."""
SCAN_READS = (1, 25, 50, 100, 150)
"""Rounds after which the headline quotes the scan."""


def read_soft_top(agent, rows: int = 256, seed: int = 0) -> dict[str, float]:
    """A SAC top level's temperature, its policy's entropy on its own rows, and the share of those rows' unpaid attempts
    whose soft target sits at the bound 0, at z = the prior's mean; the agent's generators are left as they were."""
    import torch

    top, tasks = agent.top, [t for t in range(agent.num_train_tasks) if agent.rl_buffer.size(t) > 0]
    batch = agent.rl_buffer.sample(rows, tasks, generator=torch.Generator().manual_seed(seed))
    batch = {k: batch[k] for k in ("obs", "action", "reward", "next_obs", "goal", "done")}
    z = torch.zeros(*batch["reward"].shape, top.cond_dim)
    state = top.generator.get_state()
    with torch.no_grad():
        _, log_prob = top.sample_actions(batch["obs"], batch["goal"], z)
        target = top.soft_targets(batch, z)
    top.generator.set_state(state)
    unpaid = batch["reward"] == -1.0
    return {"alpha": top.alpha, "entropy": float(-log_prob.mean()), "unpaid_at_bound": float((target[unpaid] >= -1e-6).float().mean())}


def read_z_spread(agent, rows: int = 256, samples: int = Z_SAMPLES, seed: int = 0) -> float:
    """How far the top level's greedy subgoal moves with z: at each of the states of ``rows`` rows per task of its own
    replay, ``samples`` draws z ~ N(0, I) (the prior), the greedy subgoal of each (blank goal), and the mean distance of
    those subgoals from their centroid, averaged over the states (maze units). 0: the greedy top level ignores z."""
    import torch

    tasks = [t for t in range(agent.num_train_tasks) if agent.rl_buffer.size(t) > 0]
    obs = agent.rl_buffer.sample(rows, tasks, generator=torch.Generator().manual_seed(seed))["obs"].reshape(-1, agent.spec.obs_dim)
    z = torch.randn(len(obs), samples, agent.top.cond_dim, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        subgoals = agent.top.actions(obs[:, None].expand(-1, samples, -1), torch.zeros(len(obs), samples, agent.spec.goal_dim), z)
    return float((subgoals - subgoals.mean(dim=1, keepdim=True)).norm(dim=-1).mean())


def scan_run(seed: int, rounds: int, overrides: dict, z_samples: int = Z_SAMPLES) -> dict:
    """``rounds`` rounds of the route with ``overrides``' top learner, read after each round by :func:`read_z_spread`
    and, for a SAC top level, :func:`read_soft_top`."""
    from peach_lite.device import set_threads
    from peach_lite.peach import train_peach
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    reads = []

    def after_round(round_index: int, agent, history) -> bool:
        soft = read_soft_top(agent) if agent.config.top_learner == "sac" else {}
        reads.append({**soft, "z_spread": read_z_spread(agent, samples=z_samples)})
        return False

    train_peach(seed=seed, progress=False, rounds=rounds, eval_every=rounds, callbacks=[after_round], **overrides)
    return {key: [r[key] for r in reads] for key in reads[0]}


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
    out[f"{name}_train_start_room_share"] = float(np.mean([r["train_attempt_room_shares"][0] for r in runs]))
    if all("paid_context_success" in r for r in runs):  # a posterior agent: inference (paid context) and search (prior)
        out[f"{name}_paid_context_success"] = float(np.mean([r["paid_context_success"] for r in runs]))
        out[f"{name}_prior_site_visits"] = float(np.mean([np.mean(r["prior_site_visits"]) for r in runs]))
        out[f"{name}_prior_sites_reached"] = float(np.mean([r["prior_sites_reached"] for r in runs]))
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=list(SEEDS), fast=[0]))
    parser.add_argument("--oracle-seeds", type=int, nargs="+", default=budget.pick(full=list(ORACLE_SEEDS), fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=600, fast=2), help="rounds (the baselines' 600)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--scan-seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--variant-seeds", type=int, nargs="+", default=budget.pick(full=list(ORACLE_SEEDS), fast=[0]),
                        help="seeds of the sac_sampling and sac_wide arms")
    parser.add_argument("--only", choices=["sac", *VARIANTS, "sac_oracle", "scan"], help="run one part and write nothing")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    small = FAST_OVERRIDES if budget.fast else {}
    configs = {"sac": {"method": "sac", "rounds": args.rounds, "eval_every": args.eval_every,
                       "overrides": {**ELIMINATING_ROUTE, **small, **SAC}},
               "sac_sampling": {"method": "sac_sampling", "rounds": args.rounds, "eval_every": args.eval_every,
                                "overrides": {**ELIMINATING_ROUTE, **small, **SAC, "top_samples_in_meta_test": True}},
               "sac_wide": {"method": "sac_wide", "rounds": args.rounds, "eval_every": args.eval_every,
                            "overrides": {**ELIMINATING_ROUTE, **small, **SAC, "top_target_entropy": WIDE_ENTROPY}},
               "sac_oracle": {"method": "sac_oracle", "rounds": args.rounds, "eval_every": args.eval_every,
                              "overrides": {**MAZE_METHODS["oracle_z"], **small, **SAC}}}
    runs, scan_rounds = {}, budget.pick(full=SCAN_ROUNDS, fast=2)
    scan_config = {"scan": {"rounds": scan_rounds, "overrides": configs["sac"]["overrides"], "z_samples": Z_SAMPLES},
                   "scan_hac": {"rounds": scan_rounds, "overrides": {**ELIMINATING_ROUTE, **small}, "z_samples": Z_SAMPLES}}
    if args.only in (None, "scan"):
        sweep = run_sweep(scan_run, scan_config, args.scan_seeds, name="peach_top_learner", **sweep_options(args)).check()
        scan, scan_hac = sweep.results("scan"), sweep.results("scan_hac")
    if args.only in (None, "sac"):
        runs["sac"] = run_sweep(run_one, {"sac": configs["sac"]}, args.seeds, name="peach_top_learner",
                                **sweep_options(args)).check().results("sac")
    for arm in VARIANTS:
        if args.only in (None, arm):
            runs[arm] = run_sweep(run_one, {arm: configs[arm]}, args.variant_seeds, name="peach_top_learner",
                                  **sweep_options(args)).check().results(arm)
    if args.only in (None, "sac_oracle"):
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
    for arm in ("sac", *VARIANTS, "route", "sac_oracle", "hac_oracle"):
        headline.update(arm_headline(arm, runs[arm]))
    headline["sac_gain"] = headline["sac_success"] - headline["route_success"]
    route_by_seed = dict(zip(args.seeds, runs["route"]))
    if set(args.variant_seeds) <= set(route_by_seed):  # on their own seeds
        same_seeds = [route_by_seed[seed]["final_success"] for seed in args.variant_seeds]
        for arm in VARIANTS:
            headline[f"{arm}_gain"] = headline[f"{arm}_success"] - float(np.mean(same_seeds))
    headline["sac_oracle_gain"] = headline["sac_oracle_success"] - headline["hac_oracle_success"]
    for r in SCAN_READS:
        if r <= scan_rounds:
            for key in ("alpha", "entropy", "unpaid_at_bound"):
                headline[f"scan_{key}_{r}"] = float(np.mean([run[key][r - 1] for run in scan]))
    for r in SCAN_READS:
        if r <= scan_rounds:
            headline[f"scan_z_spread_{r}"] = float(np.mean([run["z_spread"][r - 1] for run in scan]))
            headline[f"scan_hac_z_spread_{r}"] = float(np.mean([run["z_spread"][r - 1] for run in scan_hac]))
    below = [next((i + 1 for i, v in enumerate(run["unpaid_at_bound"]) if v < 0.5), scan_rounds + 1) for run in scan]
    headline["scan_rounds_to_unpaid_below_half"] = float(np.mean(below))
    headline.update(improvement_stats("sac", [r["final_success"] for r in runs["sac"]], [r["final_success"] for r in runs["route"]]))

    from peach_lite.envs.oracles import maze_sites_values

    oracle_success = maze_sites_values().oracle_success
    labels = {"sac": "SAC top level (route)", "sac_sampling": "SAC top level, sampling in meta-test too",
              "sac_wide": f"SAC top level, target entropy {WIDE_ENTROPY:g}", "route": "HAC top level (route: peach_maze's PEACH)",
              "sac_oracle": "SAC top level reading the true goal", "hac_oracle": "HAC top level reading the true goal"}
    panels = meta_test_panels(runs, labels, oracle_success, title="meta-test on held-out tasks")
    if args.out is None and budget.fast:
        print(f"headline: {headline}\nfast run: data/results/peach_top_learner.json not written (give --out DIR to write one)")
        return
    write_results("peach_top_learner", headline, seeds=list(args.seeds),
                  details={"runs": runs, "configs": configs, "oracle_seeds": list(args.oracle_seeds), "scan": scan, "scan_hac": scan_hac,
                           "variant_seeds": list(args.variant_seeds),
                           "scan_seeds": list(args.scan_seeds), "scan_config": scan_config,
                           "baseline": "peach_elimination.json runs['eliminating_probes_light'] and more_seeds; "
                                       "peach_maze.json runs['oracle_z']"},
                  figure=figure_spec("Which learner at the top (hidden-goal maze)", panels), out_dir=args.out)


if __name__ == "__main__":
    main()
