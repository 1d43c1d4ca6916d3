"""What PEACH's top level needs, and which half fails: hindsight goals, the oracle task variable and the posterior.

``benchmarks/peach_maze.py`` found every PEACH variant, the oracle-z one included, at 0 success: without hindsight the
top level of a hidden-goal hierarchy never learns, whatever it reads. This study changes one thing at a time, on
``peach_lite/PointMazeHidden-v0`` with the same rounds and seeds (each run: ``train_peach`` then
``peach_diagnostics.diagnose``):

* ``oracle_z``: the top level reads the true goal (x, y) / 4; no hindsight goals (30% random top-level subgoals);
* ``oracle_z_hindsight``: the same with hindsight goals through the task variable (``hindsight_goal_prob`` 0.5: half
  of the meta-batch slots take where one of their attempts ended as the goal, rewards recomputed by the env);
* ``peach_hindsight``: PEACH (z ~ q(z | c)) with the same hindsight goals;
* ``peach_hindsight_decoder`` (not in the default run, see ``DEFAULT_METHODS``): the same plus an auxiliary reward
  decoder (``reward_decoder_weight`` 1.0, VariBAD-style, not in the poster) that gives the encoder a direct reason to
  encode the goal;
* ``peach_hindsight_low_kl`` / ``peach_hindsight_mid_kl`` (not in the default run): PEACH with hindsight goals, KL
  weight 0.001 / 0.01 (instead of 0.1) and encoder lr 1e-3.

The two probes of :mod:`peach_lite.peach_diagnostics` say which half fails for the posterior agents: the paid-context
probe (a context that already holds a paid attempt: inference and control without exploration; its signal-to-noise is
about 0 when the posterior ignores its context) and the prior's site visits (exploration).

The collection route (``oracle_z_hindsight_collection``, ``peach_hindsight_collection``; 600 rounds by default) draws
each hindsight slot's RL rows from the goal's own collection (``PeachConfig.hindsight_rows="collection"``, HER's
"future" counterpart), uses HAC's 20% random subgoals, and for PEACH KL weight 0.001 with encoder lr 1e-3. On it, the
hindsight goal of ``peach_hindsight_collection`` is where an attempt ended (HER); ``..._task_goals`` takes a train goal
its context reached (hindsight task relabelling, HTR) or keeps its own; ``..._task_or_achieved`` takes HTR's goal when
there is one and HER's otherwise (``PeachConfig.hindsight_goals``).

Headline: ``<method>_success`` (final meta-test episode on the 12 held-out tasks, mean over seeds), with IQM and 95%
bootstrap intervals; ``hindsight_gain_oracle`` (oracle_z_hindsight - oracle_z); ``<method>_paid_context_success``,
``<method>_signal_to_noise``, ``<method>_prior_sites_reached`` and ``<method>_probe_accuracy`` for the posterior methods;
``<method>_first_episode_success`` (the prior episode), ``<method>_far_site_visits`` (share of prior samples of z
whose episode passes the far site, room 2) and ``<method>_train_far_room_share`` (share of the training collections'
top-level attempts that ended in room 2) for the posterior methods; ``collection_fraction_of_oracle``;
``train_minutes_per_seed`` (150-round methods) and ``route_train_minutes_per_seed``.

Run (about 3 CPU-minutes per 150-round run and 9-16 per route run, 21 runs by default; one process: ``--address serial``)::

    python benchmarks/peach_hindsight.py --address serial

Writes data/results/peach_hindsight.json and peach_hindsight.png (read by notebooks/11_peach.py); a fast-mode smoke run
or a partial run (other methods than ``DEFAULT_METHODS`` or fewer than 3 seeds) writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from peach_lite.budget import Budget
from peach_lite.hac_config import HacConfig
from peach_lite.peach_config import COLLECTION_ROUTE, ELIMINATING_ROUTE, HTR_ROUTE, RETURN_EXPLORE_ROUTE, PeachConfig
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ENV_ID = "peach_lite/PointMazeHidden-v0"
EXPLORE = {"top_random_action_rate": 0.3}
"""Every method: 30% uniformly random top-level subgoals while exploring (HAC's 0.2 found nothing in 400 rounds)."""
HINDSIGHT = {**EXPLORE, "hindsight_goal_prob": 0.5}
COLLECTION = {k: v for k, v in COLLECTION_ROUTE.items() if k not in ("kl_lambda", "encoder_lr")}
"""The collection route without its posterior settings (for the oracle): HAC's 20% random subgoals, and each hindsight
slot's RL rows from the goal's own collection (``PeachConfig.hindsight_rows``: HER's "future" counterpart)."""
HAC_TOP_UPDATES = HacConfig().updates_per_episode * PeachConfig().num_tasks_sample * PeachConfig().episodes_per_task
"""Top-level gradient steps per round at HAC's rate (``HacConfig.updates_per_episode``, 40, times the 12 episodes of a
round: 480), 8x PeachConfig's 60: the update-to-data diagnostic (is the top level short of gradient steps or of data?)."""
MANY_SLOTS = {"meta_batch": 64, "batch_size": 16}
"""The same 1,024 top-level rows per gradient step, spread over 64 meta-batch slots instead of 8: each hindsight slot
carries one relabelled goal, so about 32 distinct hindsight goals per step instead of 4 (HAC's top level sees nearly
one goal per row)."""
METHODS = {
    "oracle_z": {**EXPLORE, "task_inference": "oracle"},
    "oracle_z_hindsight": {**HINDSIGHT, "task_inference": "oracle"},
    "peach_hindsight": HINDSIGHT,
    "peach_hindsight_decoder": {**HINDSIGHT, "reward_decoder_weight": 1.0},
    "peach_hindsight_low_kl": {**HINDSIGHT, "kl_lambda": 0.001, "encoder_lr": 1e-3},
    "peach_hindsight_mid_kl": {**HINDSIGHT, "kl_lambda": 0.01, "encoder_lr": 1e-3},
    "oracle_z_hindsight_collection": {**COLLECTION, "task_inference": "oracle"},
    "peach_hindsight_collection": dict(COLLECTION_ROUTE),
    "peach_hindsight_collection_mid_kl": {**COLLECTION_ROUTE, "kl_lambda": 0.01},
    "peach_hindsight_collection_curriculum": {**COLLECTION_ROUTE, "hindsight_goal_updates": 24_000},
    "peach_hindsight_collection_latent2": {**COLLECTION_ROUTE, "latent_dim": 2},
    "peach_hindsight_collection_prior_slots": {**COLLECTION_ROUTE, "prior_slot_prob": 0.5},
    "peach_hindsight_collection_latent2_prior_slots": {**COLLECTION_ROUTE, "latent_dim": 2, "prior_slot_prob": 0.5},
    "peach_hindsight_collection_task_goals": {**COLLECTION_ROUTE, "hindsight_goals": "task"},
    "peach_hindsight_collection_task_or_achieved": dict(HTR_ROUTE),
    "peach_hindsight_collection_task_or_achieved_latent2": {**HTR_ROUTE, "latent_dim": 2},
    "oracle_z_hindsight_collection_hac_updates": {**COLLECTION, "task_inference": "oracle", "top_updates_per_round": HAC_TOP_UPDATES},
    "peach_hindsight_collection_task_or_achieved_hac_updates": {**HTR_ROUTE, "top_updates_per_round": HAC_TOP_UPDATES},
    "oracle_z_hindsight_collection_many_slots": {**COLLECTION, "task_inference": "oracle", **MANY_SLOTS},
    "peach_hindsight_collection_task_or_achieved_many_slots": {**HTR_ROUTE, **MANY_SLOTS},
    "peach_hindsight_collection_task_or_achieved_six_episodes": {**HTR_ROUTE, "episodes_per_task": 6},
    "peach_hindsight_collection_task_or_achieved_novelty": {**HTR_ROUTE, "novelty_bonus": 0.5},
    "peach_hindsight_collection_task_or_achieved_six_episodes_novelty": {**HTR_ROUTE, "episodes_per_task": 6, "novelty_bonus": 0.5},
    "peach_hindsight_collection_task_or_achieved_room_novelty": {**HTR_ROUTE, "novelty_bonus": 0.9, "novelty_cells": 2},
    "peach_hindsight_collection_task_or_achieved_frontier": {**HTR_ROUTE, "frontier_radius": 2.0, "top_random_action_rate": 0.5},
    "peach_hindsight_collection_task_or_achieved_six_episodes_explore": {**HTR_ROUTE, "episodes_per_task": 6, "top_random_action_rate": 0.5},
    "peach_hindsight_collection_task_or_achieved_return_explore": {**HTR_ROUTE, "return_explore_rate": 0.5},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter": RETURN_EXPLORE_ROUTE,
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_unpaid": {**RETURN_EXPLORE_ROUTE, "unpaid_context_prob": 0.5},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_categorical": {**RETURN_EXPLORE_ROUTE, "posterior_form": "categorical"},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating": {**RETURN_EXPLORE_ROUTE, "elimination_weight": 1.0},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_light": {**RETURN_EXPLORE_ROUTE, "elimination_weight": 0.1},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_mass": {**RETURN_EXPLORE_ROUTE, "elimination_weight": 1.0,
                                                                                     "elimination_form": "consistent_mass"},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_probes": {
        **RETURN_EXPLORE_ROUTE, "elimination_weight": 1.0, "elimination_form": "consistent_mass", "elimination_failures": 3},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_probes_light": ELIMINATING_ROUTE,
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_categorical_kl": {**RETURN_EXPLORE_ROUTE, "posterior_form": "categorical", "kl_lambda": 0.1},
    "peach_hindsight_collection_task_or_achieved_return_explore_quarter_categorical_mid_kl": {**RETURN_EXPLORE_ROUTE, "posterior_form": "categorical", "kl_lambda": 0.01},
    "peach_hindsight_collection_task_or_achieved_return_explore_prior_slots": {**HTR_ROUTE, "return_explore_rate": 0.5, "prior_slot_prob": 0.5},
    "peach_hindsight_collection_decoder": {**COLLECTION_ROUTE, "reward_decoder_weight": 1.0},
    "peach_hindsight_collection_task_or_achieved_decoder": {**HTR_ROUTE, "reward_decoder_weight": 1.0},
    "peach_hindsight_collection_distance_decoder": {**COLLECTION_ROUTE, "reward_decoder_weight": 1.0, "reward_decoder_form": "distance"},
    "peach_hindsight_collection_task_or_achieved_distance_decoder": {**HTR_ROUTE, "reward_decoder_weight": 1.0, "reward_decoder_form": "distance"},
}
"""PeachConfig overrides of each method (the rest is PeachConfig's defaults, as in peach_maze.py)."""
DEFAULT_METHODS = ["oracle_z", "oracle_z_hindsight", "peach_hindsight", "oracle_z_hindsight_collection", "peach_hindsight_collection",
                   "peach_hindsight_collection_task_goals", "peach_hindsight_collection_task_or_achieved"]
"""What the committed results hold. The decoder variant, the low- and mid-KL variants (KL weight 0.001 / 0.01 instead of
0.1 and encoder lr 1e-3 instead of 3e-4, after ``benchmarks/peach_encoder_probe.py`` found the agent's KL weight alone
collapses even a directly taught encoder), the collection route at KL 0.01, and the collection route whose hindsight
goals fade out over its first 400 rounds (``hindsight_goal_updates``, so that prior samples of z settle on the task
distribution), and the exploration routes on top of the collection route (``latent2``: a 2-d task variable, the goal's own
dimension; ``prior_slots``: half of the own-goal slots read the prior, ``PeachConfig.prior_slot_prob``; both together;
``task_goals``: hindsight task relabelling, a hindsight slot takes a train goal its context reached,
``PeachConfig.hindsight_goals="task"``; ``task_or_achieved_latent2``: HTR else HER with a 2-d task variable; ``..._hac_updates``: 8x the top-level gradient steps,
HAC's rate, for the oracle and for HTR else HER; ``..._many_slots``: 64 meta-batch slots of 16 rows, so 8x the distinct
hindsight goals per step; ``..._six_episodes``: six collection episodes per task, as many as the meta-test has, run at the
default 600 route rounds (twice the env steps, about 15 CPU-minutes) and at 300 (the same env steps); ``..._six_episodes_explore``: the same with 50% random top-level subgoals while
collecting; ``..._novelty``: HTR else HER plus the count-based exploration bonus of the top level
(``PeachConfig.novelty_bonus`` 0.5), with three or six collection episodes; ``..._room_novelty``: the bonus at 0.9
counted per room (``novelty_cells`` 2: each cell is one room of the maze); ``..._frontier``: half of the exploring top
level's subgoals aimed at the least-visited cell reached within 2 of the agent (``frontier_radius``); ``..._return_explore``:
half of the collection episodes first return to a rarely visited cell along moves earlier attempts made, then explore
(Go-Explore, ``return_explore_rate`` 0.5; ``..._quarter``: a quarter of them; ``..._prior_slots``: plus half of the own-goal
meta-batch slots reading the prior, so the top level learns the meta-test's first episode from the now complete data;
``..._quarter_unpaid``: the quarter route plus half of the own-goal slots reading only the unpaid attempts of their
context, ``PeachConfig.unpaid_context_prob``, the context a meta-test has before its first paid attempt; ``..._quarter_eliminating``:
plus the eliminating slots' loss on φ, ``PeachConfig.elimination_weight`` 1.0, benchmarks/peach_elimination.py;
``..._eliminating_light``: the same at weight 0.1; ``..._eliminating_mass``: weight 1.0 with
``elimination_form="consistent_mass"``, the loss that coinciding codes do not satisfy; ``..._eliminating_probes``: the
same plus 1 to 3 failed probe attempts at train goals the slot's goal does not pay, ``elimination_failures`` 3;
``..._eliminating_probes_light``: the same at weight 0.3); ``..._decoder``: the collection route, HER or HTR-else-HER, plus the reward decoder; ``..._distance_decoder``: the
same with the distance decoder, ``PeachConfig.reward_decoder_form="distance"``)
are further routes and diagnostics, each run alone with ``--methods <name> --seeds S --out DIR``
(their results, one or two seeds, are reported in the issue-12 notes)."""
ROUTE_METHODS = tuple(m for m, overrides in METHODS.items() if overrides.get("hindsight_rows") == "collection")
"""The collection route trains for ``--route-rounds`` (default 600, about 14 CPU-minutes a run, inside the issue's 30)
and meta-tests every ``--route-eval-every`` rounds; the other methods for ``--rounds``."""


FAST_OVERRIDES = {"top_updates_per_round": 2, "lower_updates_per_episode": 2, "meta_test_episodes": 2}
"""PeachConfig fields of a fast-mode smoke run (PEACH_FAST=1)."""


def route_study_arguments(description: str, budget: Budget) -> argparse.Namespace:
    """The command line of a study of route methods (peach_exploration.py, peach_return_explore.py): ``--seeds``,
    ``--route-rounds``, ``--route-eval-every`` and the sweep's arguments."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--route-rounds", type=int, default=budget.pick(full=600, fast=2), help="training rounds (4 tasks x 3 episodes)")
    parser.add_argument("--route-eval-every", type=int, default=budget.pick(full=100, fast=2))
    add_sweep_arguments(parser)
    return parser.parse_args()


def method_configs(methods: list[str], rounds: int, eval_every: int, route_rounds: int, route_eval_every: int, small: dict) -> dict[str, dict]:
    """The sweep's config of each method. ``overrides`` holds the method's PeachConfig fields resolved (``METHODS``, then
    ``small``), so each run file records them and a changed ``METHODS`` entry reruns its runs instead of reusing them."""
    return {m: {"method": m, "rounds": route_rounds if m in ROUTE_METHODS else rounds,
                "eval_every": route_eval_every if m in ROUTE_METHODS else eval_every, "overrides": {**METHODS[m], **small}}
            for m in methods}


def baseline_runs(study: dict, study_name: str, baseline: str, baseline_method: str, arms: list[str], added_fields: tuple[str, ...],
                  args: argparse.Namespace, fast: bool) -> list[dict]:
    """The run rows of another study's ``baseline`` arm for ``args.seeds``, after checking like with like: each arm's
    ``METHODS`` entry is the baseline's config plus some of ``added_fields``, and (full mode) the route rounds and
    meta-test cadence are the baseline's. ``study`` is ``read_results(study_name)``."""
    base_config = study["details"]["configs"][baseline_method]
    for method in arms:
        if {k: v for k, v in METHODS[method].items() if k not in added_fields} != base_config["overrides"]:
            raise ValueError(f"{method} must be {baseline_method} plus some of {added_fields}")
    if not fast and (base_config["rounds"], base_config["eval_every"]) != (args.route_rounds, args.route_eval_every):
        raise ValueError(f"--route-rounds and --route-eval-every must be {study_name}'s {base_config['rounds']} and "
                         f"{base_config['eval_every']} (its {baseline} runs are the baseline), got {args.route_rounds} and {args.route_eval_every}")
    by_seed = dict(zip(study["seeds"], study["details"]["runs"][baseline]))
    if not set(args.seeds) <= set(by_seed):
        raise ValueError(f"seeds must be among {study_name}'s {sorted(by_seed)}, got {args.seeds}")
    return [by_seed[s] for s in args.seeds]


def meta_test_panels(runs: dict[str, list[dict]], labels: dict[str, str], oracle: float,
                     title: str = "meta-test on held-out tasks") -> list[dict]:
    """Two figure panels for run rows of ``run_one``: success per meta-test episode, and the final episode's success
    over meta-training, one series per ``labels`` key (its label) with every seed's row, the oracle dashed."""
    episodes = list(range(1, len(next(iter(runs.values()))[0]["success_per_episode"]) + 1))
    hlines = [{"label": "oracle (goal known)", "y": oracle}]
    return [curves_panel(title, "meta-test episode", "success rate (fraction)",
                         [{"label": label, "x": episodes, "y": [r["success_per_episode"] for r in runs[arm]]} for arm, label in labels.items()],
                         hlines=hlines),
            curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                         [{"label": label, "x": [r["curve_steps"] for r in runs[arm]], "y": [r["curve_success"] for r in runs[arm]]}
                          for arm, label in labels.items()], hlines=hlines)]


def elimination(agent) -> dict:
    """The failed-context probe (``peach_diagnostics.failed_context_probe``) on the held-out tasks, for a posterior agent:
    ``failed_context_success`` / ``failed_context_revisit`` / ``failed_context_prior_visit`` (lists over 1 and 2 failed
    sites) and ``failed_context_prior_success``; {} for the oracle and no-z agents. (Runs made before the probe existed lack it.)"""
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach import EVAL_SEED
    from peach_lite.peach_diagnostics import failed_context_probe

    if agent.config.task_inference != "posterior":
        return {}
    envs = GymTaskEnvs(ENV_ID, seed=EVAL_SEED)
    try:
        probe = failed_context_probe(agent, envs, envs.unwrapped.test_tasks())
    finally:
        envs.close()
    return {"failed_context_success": probe["success"], "failed_context_revisit": probe["revisit"],
            "failed_context_prior_visit": probe["prior_visit"], "failed_context_prior_success": probe["prior_success"]}


def run_one(seed: int, method: str, rounds: int, eval_every: int, overrides: dict) -> dict:
    """Train one method with ``train_peach`` (``overrides``: its PeachConfig fields, see :func:`method_configs`) and
    diagnose it."""
    from peach_lite.device import set_threads
    from peach_lite.peach import train_peach
    from peach_lite.peach_diagnostics import diagnose
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    agent, meta = train_peach(seed=seed, progress=False, env_id=ENV_ID, rounds=rounds, eval_every=eval_every, **overrides)
    train_cpu = time.process_time() - cpu
    history = meta["history"]
    return {**diagnose(agent, ENV_ID), **elimination(agent), "curve_steps": history["eval_steps"], "curve_success": history["eval_values"],
            "train_success": history["extra"]["train_success"], "steps": meta["steps"], "train_cpu_s": train_cpu,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=150, fast=2), help="rounds (4 tasks x 3 episodes each)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=25, fast=2))
    parser.add_argument("--route-rounds", type=int, default=budget.pick(full=600, fast=2), help="rounds of the collection route")
    parser.add_argument("--route-eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=list(METHODS))
    add_sweep_arguments(parser)
    args = parser.parse_args()

    small = FAST_OVERRIDES if budget.fast else {}
    configs = method_configs(args.methods, args.rounds, args.eval_every, args.route_rounds, args.route_eval_every, small)
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_hindsight", **sweep_options(args)).check()
    rows = {m: sweep.results(m) for m in configs}

    def mean_of(method: str, key: str) -> float:
        values = [r[key] for r in rows.get(method, []) if key in r and np.isfinite(r[key])]
        return float(np.mean(values)) if values else float("nan")

    def mean_of_list(method: str, key: str, index: int) -> float:
        return float(np.mean([r[key][index] for r in rows.get(method, [])]))

    headline: dict[str, float] = {}
    for m in rows:
        scores = np.array([r["final_success"] for r in rows[m]], dtype=float)
        headline[f"{m}_success"] = float(scores.mean())
        headline.update(headline_stats(f"{m}_success", scores))
    if {"oracle_z", "oracle_z_hindsight"} <= set(rows):
        headline["hindsight_gain_oracle"] = headline["oracle_z_hindsight_success"] - headline["oracle_z_success"]
    if {"oracle_z_hindsight_collection", "peach_hindsight_collection"} <= set(rows):
        oracle = headline["oracle_z_hindsight_collection_success"]
        headline["collection_fraction_of_oracle"] = headline["peach_hindsight_collection_success"] / oracle if oracle > 0 else float("nan")
    for m in rows:
        if METHODS[m].get("task_inference", "posterior") == "posterior":
            headline[f"{m}_first_episode_success"] = mean_of_list(m, "success_per_episode", 0)
            headline[f"{m}_far_site_visits"] = mean_of_list(m, "prior_site_visits", 1)
            headline[f"{m}_paid_context_success"] = mean_of(m, "paid_context_success")
            headline[f"{m}_signal_to_noise"] = mean_of(m, "paid_context_signal_to_noise")
            headline[f"{m}_prior_sites_reached"] = mean_of(m, "prior_sites_reached")
            headline[f"{m}_probe_accuracy"] = mean_of(m, "probe_accuracy")
            headline[f"{m}_train_far_room_share"] = mean_of_list(m, "train_attempt_room_shares", 2)
    for key, group in [("train_minutes_per_seed", [m for m in rows if m not in ROUTE_METHODS]),
                       ("route_train_minutes_per_seed", [m for m in rows if m in ROUTE_METHODS])]:
        headline[key] = float(np.mean([r["train_cpu_s"] for m in group for r in rows[m]]) / 60) if group else float("nan")
    headline["rounds"] = float(args.rounds)
    headline["route_rounds"] = float(args.route_rounds)
    undefined = sorted(k for k, v in headline.items() if not np.isfinite(v))
    headline = {k: v for k, v in headline.items() if k not in undefined}

    partial = budget.fast or sorted(args.methods) != sorted(DEFAULT_METHODS) or len(args.seeds) < 3
    if partial and args.out is None:
        print(f"headline: {headline}\nfast or partial run (methods {args.methods}, seeds {args.seeds}): "
              "data/results/peach_hindsight.json not written (give --out DIR to write one)")
        return
    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()
    figure = figure_spec("What PEACH's top level needs (hidden-goal maze)", [
        curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                     [{"label": m, "x": [r["curve_steps"] for r in rows[m]], "y": [r["curve_success"] for r in rows[m]]} for m in rows],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
        curves_panel("collection (exploring)", "round", "success of the round's episodes",
                     [{"label": m, "x": [list(range(1, len(r["train_success"]) + 1)) for r in rows[m]],
                       "y": [r["train_success"] for r in rows[m]]} for m in rows]),
    ])
    write_results("peach_hindsight", headline, seeds=list(args.seeds),
                  details={"runs": rows, "configs": configs, "methods": METHODS, "oracles": values.to_dict(), "undefined_headline_keys": undefined},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
