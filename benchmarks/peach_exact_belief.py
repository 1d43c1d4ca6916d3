"""Is the posterior the part of PEACH that fails? The best route's agents, meta-tested under three beliefs.

The quarter route (``peach_return_explore``'s ``return_explore_quarter``, peach_maze's PEACH before it took the
eliminating slots) ends at 0.47 while a context that holds a paid attempt brings the agent to the goal 94% of
the time: the meta-test's own search is the wall, and lesson 11 shows why (``peach_diagnostics.failure_blend_probe``:
PEARL's product of Gaussians averages two failures instead of eliminating both). This benchmark measures how much of
the gap the belief alone accounts for. Per seed (each a run through peach_lite.sweep):

1. train PEACH on the best route (``peach_config.RETURN_EXPLORE_ROUTE``, 600 rounds, as peach_return_explore's
   ``return_explore_quarter``: the same config, seeds and run, so the agents are the same bit for bit);
2. ``own``: its meta-test (Algorithm 2, ``peach_diagnostics.diagnose``: the held-out tasks, the prior first, then a
   fresh z from q(z | all context) each episode);
3. ``exact_belief``: ``peach_beliefs.exact_belief_meta_test`` on the same tasks: the same levels and z codes (the
   agent's belief given a paid attempt at each train goal), but the belief is exact Bayes over the train goals and
   eliminates every goal a failed path passed (posterior sampling with elimination). A diagnostic, not PEACH;
4. ``learned_belief``: ``peach_beliefs.learned_belief_meta_test``, the same posterior sampling over the same codes,
   but each hypothesis is weighed by a LEARNED likelihood p(paid | z, s') (``fit_paid_model``: an MLP fitted on the
   agent's real attempts on the train tasks, labelled by the train tasks' rewards) of the context rows q(z | c) reads
   (where each attempt ended and whether it paid): a belief that multiplies likelihoods instead of Gaussian factors;
5. ``failure_blend_probe``: where the two-failure beliefs land.

A second config, ``decoder_route`` (``DECODER_ROUTE``: the same route plus the reward decoder trained inside Algorithm 1,
``reward_decoder_weight`` 1.0, not in the poster), asks whether that likelihood can be learned in training: its
agents are meta-tested the same ways, plus ``decoder``: the learned belief with the agent's own decoder as its likelihood.
A third, ``detached_decoder_route`` (``reward_decoder_detach``), trains the decoder on a detached z, so that it learns
beside Algorithm 1 without reaching φ.

Headline (mean over seeds; IQM and 95% bootstrap CI for the successes): ``exact_belief_success``,
``learned_belief_success`` and ``own_success`` (final meta-test episode), ``exact_belief_gain`` and
``learned_belief_gain`` (each minus ``own_success``), ``*_first_episode_success``, ``paid_model_heldout_error`` (the
fitted likelihood's error on held-out attempts; its recall of the paid ones is in the runs),
``paid_context_success``, ``blend_lands_on_remaining`` (share of failed-site pairs whose belief is nearest the site
left), ``blend_std_over_gap``, ``blend_error`` (the product identity, largest over seeds), ``oracle_success``,
``ps_with_elimination_final`` (the maze oracles' reference), ``train_minutes_per_seed``; for the decoder route
``{route}_{own,exact_belief,learned_belief,decoder_belief}_success`` (with IQM and CI), ``{route}_paid_context_success``
and ``{route}_decoder_heldout_error`` for route in (``decoder_route``, ``detached_decoder_route``).

Run (about 14 CPU-minutes a seed and config; one seed per process shares runs/, e.g.
``--methods decoder_route --seeds 1``)::

    python benchmarks/peach_exact_belief.py --address serial

Writes data/results/peach_exact_belief.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing
unless --out is given.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from peach_lite.budget import Budget
from peach_lite.peach_config import HIDDEN_MAZE_ID, RETURN_EXPLORE_ROUTE
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ROUTE = dict(RETURN_EXPLORE_ROUTE)
"""PeachConfig overrides of the agents (peach_return_explore.py's ``return_explore_quarter`` arm)."""
DECODER_ROUTE = {**ROUTE, "reward_decoder_weight": 1.0}
"""The same route with the reward decoder trained inside Algorithm 1 (``reward_decoder_weight``, not in the poster): the
``decoder_route`` agents, whose own decoder is also tried as the learned belief's likelihood."""
DETACHED_DECODER_ROUTE = {**DECODER_ROUTE, "reward_decoder_detach": True}
"""The decoder route with the decoder on a detached z (``reward_decoder_detach``): a likelihood learned beside Algorithm 1
that leaves φ to the critic and the KL: the ``detached_decoder_route`` agents."""
METHODS = {"exact_belief": ROUTE, "decoder_route": DECODER_ROUTE, "detached_decoder_route": DETACHED_DECODER_ROUTE}
"""The sweep's configs: the benchmark's agents, the decoder route's and the detached decoder route's."""


def run_seed(seed: int, rounds: int, eval_every: int, overrides: dict) -> dict:
    """Train one agent, then its own meta-test, the exact- and learned-belief meta-tests and the failure-blend probe."""
    from peach_lite.device import set_threads
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach import EVAL_SEED, train_peach
    from peach_lite.peach_beliefs import exact_belief_meta_test, fit_paid_model, learned_belief_meta_test
    from peach_lite.peach_diagnostics import diagnose, failure_blend_probe
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    agent, meta = train_peach(seed=seed, progress=False, env_id=HIDDEN_MAZE_ID, rounds=rounds, eval_every=eval_every, **overrides)
    train_cpu = time.process_time() - cpu
    own = diagnose(agent, HIDDEN_MAZE_ID)
    envs = GymTaskEnvs(HIDDEN_MAZE_ID, seed=EVAL_SEED)
    try:
        tasks = envs.unwrapped.test_tasks()
        exact = exact_belief_meta_test(agent, envs, tasks)
        learned = learned_belief_meta_test(agent, envs, tasks)
        decoder = (learned_belief_meta_test(agent, envs, tasks, fitted=fit_paid_model(agent, envs, own_decoder=True))
                   if agent.config.reward_decoder_weight > 0 else None)
        blend = failure_blend_probe(agent, envs, tasks)
    finally:
        envs.close()
    return {"own_success_per_episode": own["success_per_episode"], "own_final_success": own["final_success"],
            "paid_context_success": own["paid_context_success"], "prior_sites_reached": own["prior_sites_reached"],
            "exact_success_per_episode": exact["success_per_episode"], "exact_final_success": exact["final_success"],
            "num_hypotheses": exact["num_hypotheses"],
            "learned_success_per_episode": learned["success_per_episode"], "learned_final_success": learned["final_success"],
            "paid_model_heldout_error": learned["heldout_error"], "paid_model_paid_recall": learned["heldout_paid_recall"],
            **({"decoder_success_per_episode": decoder["success_per_episode"], "decoder_final_success": decoder["final_success"],
                "decoder_heldout_error": decoder["heldout_error"], "decoder_paid_recall": decoder["heldout_paid_recall"]} if decoder else {}),
            "blend": {k: v for k, v in blend.items() if k != "means"}, "steps": meta["steps"], "train_cpu_s": train_cpu,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=600, fast=2), help="training rounds (4 tasks x 3 episodes)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="configs to run (default: all)")
    add_sweep_arguments(parser)
    args = parser.parse_args()

    small = {} if not budget.fast else {"top_updates_per_round": 2, "lower_updates_per_episode": 2, "meta_test_episodes": 2}
    configs = {name: {"rounds": args.rounds, "eval_every": args.eval_every, "overrides": {**METHODS[name], **small}} for name in args.methods}
    sweep = run_sweep(run_seed, configs, args.seeds, name="peach_exact_belief", **sweep_options(args)).check()
    if args.methods != list(METHODS):
        print(f"partial run (methods {args.methods}, seeds {args.seeds}): data/results/peach_exact_belief.json not written")
        return
    runs, decoder_runs, detached_runs = sweep.results("exact_belief"), sweep.results("decoder_route"), sweep.results("detached_decoder_route")

    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()
    headline: dict[str, float] = {}
    for name, key in (("exact_belief", "exact"), ("learned_belief", "learned"), ("own", "own")):
        finals = [r[f"{key}_final_success"] for r in runs]
        headline[f"{name}_success"] = float(np.mean(finals))
        headline.update(headline_stats(f"{name}_success", finals))
        headline[f"{name}_first_episode_success"] = float(np.mean([r[f"{key}_success_per_episode"][0] for r in runs]))
    headline["exact_belief_gain"] = headline["exact_belief_success"] - headline["own_success"]
    headline["learned_belief_gain"] = headline["learned_belief_success"] - headline["own_success"]
    headline["paid_model_heldout_error"] = float(np.mean([r["paid_model_heldout_error"] for r in runs]))
    for route, route_runs in (("decoder_route", decoder_runs), ("detached_decoder_route", detached_runs)):
        for name, key in (("own", "own"), ("exact_belief", "exact"), ("learned_belief", "learned"), ("decoder_belief", "decoder")):
            finals = [r[f"{key}_final_success"] for r in route_runs]
            headline[f"{route}_{name}_success"] = float(np.mean(finals))
            headline.update(headline_stats(f"{route}_{name}_success", finals))
        headline[f"{route}_paid_context_success"] = float(np.mean([r["paid_context_success"] for r in route_runs]))
        headline[f"{route}_decoder_heldout_error"] = float(np.mean([r["decoder_heldout_error"] for r in route_runs]))
    headline["paid_context_success"] = float(np.mean([r["paid_context_success"] for r in runs]))
    headline["blend_lands_on_remaining"] = float(np.mean([r["blend"]["lands_on_remaining"] for r in runs]))
    headline["blend_std_over_gap"] = float(np.mean([r["blend"]["std_over_gap"] for r in runs]))
    headline["blend_error"] = float(max(r["blend"]["blend_error"] for r in runs))
    headline["oracle_success"] = float(values.oracle_success)
    headline["ps_with_elimination_final"] = float(values.ps_with_elimination[-1])
    headline["train_minutes_per_seed"] = float(np.mean([r["train_cpu_s"] for r in runs]) / 60)

    if (budget.fast or len(args.seeds) < 3) and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {args.seeds}): data/results/peach_exact_belief.json not written "
              "(give --out DIR to write one)")
        return
    episodes = list(range(1, len(runs[0]["own_success_per_episode"]) + 1))
    figure = figure_spec("PEACH's levels under its own posterior, a learned eliminating belief and an exact one", [
        curves_panel("meta-test (held-out tasks)", "meta-test episode", "success",
                     [{"label": "own posterior (Algorithm 2)", "x": [episodes] * len(runs), "y": [r["own_success_per_episode"] for r in runs]},
                      {"label": "learned likelihood over the train tasks", "x": [episodes] * len(runs),
                       "y": [r["learned_success_per_episode"] for r in runs]},
                      {"label": "exact belief over the train goals", "x": [episodes] * len(runs),
                       "y": [r["exact_success_per_episode"] for r in runs]}],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
        *[curves_panel(title, "meta-test episode", "success",
                       [{"label": "own posterior (Algorithm 2)", "x": [episodes] * len(route_runs), "y": [r["own_success_per_episode"] for r in route_runs]},
                        {"label": "its own decoder as the likelihood", "x": [episodes] * len(route_runs),
                         "y": [r["decoder_success_per_episode"] for r in route_runs]},
                        {"label": "a likelihood fitted afterwards", "x": [episodes] * len(route_runs),
                         "y": [r["learned_success_per_episode"] for r in route_runs]}],
                       hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}])
          for title, route_runs in (("a reward decoder trained in Algorithm 1 (its loss reaches φ)", decoder_runs),
                                    ("the decoder on a detached z (it trains only itself)", detached_runs))],
    ])
    write_results("peach_exact_belief", headline, seeds=list(args.seeds),
                  details={"runs": {"exact_belief": runs, "decoder_route": decoder_runs, "detached_decoder_route": detached_runs}, "configs": configs, "oracles": values.to_dict()}, figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
