"""PEACH transfer, "same dynamics, a new reward" (the poster's open question): reuse frozen lower levels.

Per seed (each a run through peach_lite.sweep):

Every PEACH here trains on the benchmark's route (``peach_config.ELIMINATING_ROUTE``, PEACH's in
``benchmarks/peach_maze.py``: Algorithm 1 plus hindsight goals through the task variable, a quarter of the collections
planned by first return, then explore, and eliminating slots); Algorithm 1 literally never learns its top level on this
maze, so its lower levels were all a transfer could test. Its sources are peach_maze's PEACH runs: the same config
and seed, and the same env steps seed by seed (a test checks it).

1. train PEACH on the source distribution, ``peach_lite/PointMazeHidden-v0`` (start room 0, sites in rooms 1, 2, 3);
2. on the target distribution (start room 2, sites in rooms 0, 1, 3: the same maze and dynamics, other goals), each
   for the same rounds, with the final-episode meta-test success on the target's held-out tasks every ``eval_every``
   rounds (:data:`MAIN_ARMS`):
   * ``frozen``: :func:`peach_lite.peach_transfer.transfer_agent`: the source's lower levels, frozen; a fresh top level and
     encoder (the issue's transfer);
   * ``finetuned``: the same frozen lower levels under the source's top level and encoder, trained on (``top="copied"``);
   * ``scratch``: a fresh PEACH, every level trained;
   * diagnostic ``unfrozen`` (a run of its own per seed, config ``unfrozen``, its source trained again: the same agent):
     the copied lower levels still trained (``freeze=False``) under a fresh top level and encoder.
3. diagnostic ``fixed_source`` (``--fixed-source-seeds``, 8 by default: 10 did not fit the 2-core
   session that ran it, 21 CPU-min per seed): seed 0's source (``SOURCE_CHECKPOINT``) and
   :data:`FIXED_SOURCE_ARMS` (frozen, unfrozen, scratch) on 8 target seeds: is the frozen arm's gap over 3 seeds,
   each with its own source, more than the spread between runs, how widely did each arm search while training
   (``train_exploration``), and what did its top level propose, how far from the attempt's start, and which proposals
   did the level below miss (``proposal_reach``)? Seed k's scratch run is the main sweep's seed-k scratch run, and seed 0's frozen and unfrozen
   runs are its seed-0 runs (tested), so the 8 seeds extend the main comparison.

4. diagnostic ``practised`` (the same 8 target seeds): seed 0's source after reward-free practice for its lower
   levels (:data:`PRACTICE`, :func:`peach_lite.peach_transfer.practise_lower_levels`: starts all over the maze,
   subgoals within one attempt's reach, across a doorway wherever one is that near), then frozen under a fresh top level: does a
   source whose lower levels practised every crossing transfer faster? Its doorway crossings before and after the
   practice are recorded (:func:`~peach_lite.peach_transfer.doorway_reach`); the practice's env steps are the
   source's, not the target's.

The target gets the source's 600 rounds (the source needed them to pass 0.8; at 300 target rounds, 5 of 6 runs never
reached 0.8, so their steps were censored, commit 1961e0f).

Headline: ``transfer_steps_ratio`` (target env steps to reach 0.8 success, frozen over scratch; a run that never
reaches it counts its whole budget, and ``censored_runs`` says how many of the main arms' runs), ``finetune_steps_ratio``
and ``unfrozen_steps_ratio`` (finetuned, unfrozen over scratch), each arm's final success and mean success over the
meta-tests (``*_curve_mean_success``: the area under the learning curve, which still compares censored runs), and
the source's; ``fixed_source_*`` the same per arm of the fixed-source diagnostic, with P(frozen > scratch) on final
success and on the mean over meta-tests, and how widely each arm searched while training; ``practised_*`` the practised source's frozen arm against
the fixed-source arms on the same target seeds. Diagnostic (``ORACLE``, seed 0, its source loaded
from ``SOURCE_CHECKPOINT``, ``--oracle-rounds``): the transfer with every target top level handed the goal
(``oracle_frozen_*``, ``oracle_unfrozen_*``: copied lower levels still trained, ``oracle_scratch_*``): do the lower
levels carry over when task inference is solved, and do they need to keep learning?

Run (the frozen arms skip the lower levels' updates, so they cost about a third of a trained arm; measured CPU and
wall minutes are in the headline; needs the sweep extra)::

    python benchmarks/peach_transfer.py --address serial

Writes data/results/peach_transfer.json and .png; a fast-mode smoke run or fewer than 3 seeds writes nothing unless
--out is given. To use more cores, run slices as separate processes (``--seeds 1 --only transfer``, ``--only diagnostics``,
``--only fixed_source --fixed-source-seeds 1 3 5 7``, ``--only practised --fixed-source-seeds 0 2 4 6``):
they share their runs through runs/, and the full command then resumes them and writes the file.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.peach_config import ELIMINATING_ROUTE, PeachConfig
from peach_lite.peach_transfer import proposal_summary
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats, improvement_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

SOURCE_ID = "peach_lite/PointMazeHidden-v0"
TARGET = {"start_room": 2, "sites": (0, 1, 3)}
"""The target distribution's env kwargs: other start, other goals, the same maze."""
THRESHOLD = 0.8
ROUTE = dict(ELIMINATING_ROUTE)
"""PeachConfig overrides of every agent here (source, frozen and scratch alike)."""
ORACLE = {**{k: v for k, v in PeachConfig().to_dict().items() if k in ("kl_lambda", "encoder_lr", "hindsight_goals", "elimination_weight",
                                                                        "elimination_form", "elimination_failures")},
          "task_inference": "oracle"}
"""The diagnostic's target agents: a top level reading the true goal, as peach_maze's ``oracle_z`` (no posterior
settings, HER's achieved goals, no eliminating slots): task inference solved, so what is left is the lower levels and
the top level's exploration."""
PRACTICE = {"episodes": 3200, "cross_rate": 1.0}
"""The ``practised`` diagnostic's reward-free practice of the source's lower levels
(:func:`~peach_lite.peach_transfer.practise_lower_levels`' arguments): 3200 episodes, every subgoal across a doorway
where one is within reach (chosen over uniform subgoals and a half share of crossings, which raised the weak crossings
less in a probe on seed 0's source; the runs record the crossings before and after this practice)."""
PRACTICE_SEED = 0
"""The practice's seed, the same for every target seed: one practised source."""
SOURCE_CHECKPOINT = "data/checkpoints/peach_maze_eliminating.pt"
"""Seed 0's source (the CLI's ``maze-eliminating`` agent: the same env steps and score as the seed-0 source here)."""


def steps_to(curve_steps: list[int], curve_success: list[float], budget_steps: int, threshold: float = THRESHOLD) -> tuple[float, bool]:
    """(env steps at the first evaluation reaching ``threshold``, censored?) — the whole budget if never reached."""
    for steps, success in zip(curve_steps, curve_success):
        if success >= threshold:
            return float(steps), False
    return float(budget_steps), True


ARMS = {"frozen": {"top": "fresh"}, "finetuned": {"top": "copied"}, "unfrozen": {"freeze": False}, "scratch": None}
"""Target agents: :func:`~peach_lite.peach_transfer.transfer_agent`'s options (``scratch``: a fresh PEACH)."""
MAIN_ARMS = ("frozen", "finetuned", "scratch")
ORACLE_ARMS = ("frozen", "unfrozen", "scratch")
FIXED_SOURCE_ARMS = ("frozen", "unfrozen", "scratch")
"""The fixed-source diagnostic's arms: the issue's comparison and the unfrozen diagnostic, from one source over 8
target seeds."""
PRACTISED_LABEL = "practised lower levels, frozen, fresh top level"
ARM_LABELS = {"frozen": "frozen lower levels, fresh top level", "finetuned": "frozen lower levels, top level fine-tuned",
              "unfrozen": "copied lower levels, still trained", "scratch": "from scratch"}


def transfer_run(seed: int, source_rounds: int, target_rounds: int, eval_every: int, overrides: dict,
                 source_checkpoint: str | None = None, target_overrides: dict | None = None,
                 arms: tuple[str, ...] = MAIN_ARMS, practice: dict | None = None) -> dict:
    """One seed: source training (or the agent in ``source_checkpoint``), its lower levels' practice if ``practice``
    (:func:`~peach_lite.peach_transfer.practise_lower_levels`' arguments, seeded with :data:`PRACTICE_SEED`), then
    each of ``arms`` (keys of :data:`ARMS`) trained on the target (``target_overrides``: PeachConfig fields of every
    target agent, e.g. ``ORACLE``)."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.device import set_threads
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.peach import train_peach
    from peach_lite.peach_diagnostics import train_exploration
    from peach_lite.peach_transfer import doorway_reach, practise_lower_levels, proposal_reach, transfer_agent
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    if source_checkpoint:
        source, payload = load_agent(source_checkpoint, algorithm="peach")
        out = {"source_checkpoint": source_checkpoint, "source_steps": payload["meta"]["steps"]}
    else:
        source, source_meta = train_peach(seed=seed, progress=False, env_id=SOURCE_ID, rounds=source_rounds,
                                          eval_every=source_rounds, **overrides)
        out = {"source_success": source_meta["history"]["eval_values"][-1], "source_steps": source_meta["steps"]}
    if practice:  # one practised source for every target seed; then the target's seed as without practice
        seed_everything(PRACTICE_SEED)
        out["source_doorway_reach"] = doorway_reach(source, num_pairs=256).tolist()
        out["practice"] = practise_lower_levels(source, **practice, seed=PRACTICE_SEED)
        out["practised_doorway_reach"] = doorway_reach(source, num_pairs=256).tolist()
        seed_everything(seed)
    target_tasks = GymTaskEnvs(SOURCE_ID, seed=seed, **TARGET).unwrapped.train_tasks()
    target = {**overrides, **(target_overrides or {})}
    for name in arms:
        options = ARMS[name]
        agent = None if options is None else transfer_agent(source, len(target_tasks), seed=seed + 1000, **options, **(target_overrides or {}))
        trained, meta = train_peach(seed=seed + 1000, progress=False, env_id=SOURCE_ID, env_kwargs=TARGET, rounds=target_rounds,
                                    eval_every=eval_every, agent=agent, **target)
        history = meta["history"]
        reached, censored = steps_to(history["eval_steps"], history["eval_values"], meta["steps"])
        out[name] = {"curve_steps": history["eval_steps"], "curve_success": history["eval_values"], "steps_to_threshold": reached,
                     "censored": censored, "final_success": history["eval_values"][-1], "steps": meta["steps"],
                     "train_exploration": train_exploration(trained), "proposal_reach": proposal_reach(trained)}
    out["wall_s"], out["cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    return out


def fixed_source_headline(rows: list[dict]) -> dict[str, float]:
    """The fixed-source diagnostic's headline keys (``fixed_source_*``): per arm of :data:`FIXED_SOURCE_ARMS` the mean
    env steps to 0.8, the final success (IQM, 95% CI, mean) and the mean over meta-tests; the frozen-over-scratch steps
    ratio, censored runs, P(frozen > scratch) on final success and on the mean over meta-tests and P(frozen > unfrozen)
    on final success (rliable, 95% CI); per arm, how widely training searched: cells reached, the share of attempts
    ending in the start room, the collections' mean success, and what its top level proposed (:func:`~peach_lite.peach_transfer.proposal_summary`)."""
    steps = {arm: np.array([r[arm]["steps_to_threshold"] for r in rows]) for arm in FIXED_SOURCE_ARMS}
    final = {arm: [r[arm]["final_success"] for r in rows] for arm in FIXED_SOURCE_ARMS}
    area = {arm: [float(np.mean(r[arm]["curve_success"])) for r in rows] for arm in FIXED_SOURCE_ARMS}
    out = {"fixed_source_transfer_steps_ratio": float(steps["frozen"].mean() / steps["scratch"].mean()),
           "fixed_source_censored_runs": float(sum(r[arm]["censored"] for r in rows for arm in FIXED_SOURCE_ARMS)),
           "fixed_source_target_seeds": float(len(rows))}
    for arm in FIXED_SOURCE_ARMS:
        out[f"fixed_source_{arm}_steps_to_80"] = float(steps[arm].mean())
        out[f"fixed_source_{arm}_curve_mean_success"] = float(np.mean(area[arm]))
        out.update(headline_stats(f"fixed_source_{arm}_final_success", final[arm]))
        explored = [r[arm]["train_exploration"] for r in rows]  # how widely it searched while training
        out[f"fixed_source_{arm}_train_cells_reached"] = float(np.mean([e["cells_reached"] for e in explored]))
        out[f"fixed_source_{arm}_train_start_room_share"] = float(np.mean([e["attempt_room_shares"][TARGET["start_room"]] for e in explored]))
        out[f"fixed_source_{arm}_train_success_mean"] = float(np.mean([e["train_success_mean"] for e in explored]))
        reaches = [r[arm]["proposal_reach"] for r in rows]  # what its top level proposed, pooled over seeds
        out.update({f"fixed_source_{arm}_train_{key}": value for key, value in proposal_summary(reaches, TARGET["start_room"]).items()})
    out.update(improvement_stats("fixed_source_frozen_over_scratch_final", final["frozen"], final["scratch"]))
    out.update(improvement_stats("fixed_source_frozen_over_scratch_curve_mean", area["frozen"], area["scratch"]))
    out.update(improvement_stats("fixed_source_frozen_over_unfrozen_final", final["frozen"], final["unfrozen"]))
    out["fixed_source_cpu_minutes_per_seed"] = float(np.mean([r["cpu_s"] for r in rows]) / 60)
    return out


def practised_headline(rows: list[dict], fixed_rows: list[dict]) -> dict[str, float]:
    """The practised diagnostic's headline keys (``practised_*``), against the fixed-source arms (``fixed_rows``, the
    same target seeds in the same order): the practised source's frozen arm's mean env steps to 0.8, over scratch's (``practised_transfer_steps_ratio``)
    and over the unpractised frozen arm's; its final success (IQM, 95% CI, mean) and mean over meta-tests;
    P(practised > frozen), P(practised > unfrozen) and P(practised > scratch) on final success and on the mean over
    meta-tests (rliable);
    the practice's env steps; the source's doorway crossings before and after the practice (all eight, the lowest,
    and the two out of the target's start room); and its training proposals (as the fixed-source arms')."""
    practised = [r["frozen"] for r in rows]
    steps = np.array([arm["steps_to_threshold"] for arm in practised])
    final, area = [arm["final_success"] for arm in practised], [float(np.mean(arm["curve_success"])) for arm in practised]
    fixed_final = {arm: [r[arm]["final_success"] for r in fixed_rows] for arm in FIXED_SOURCE_ARMS}
    fixed_area = {arm: [float(np.mean(r[arm]["curve_success"])) for r in fixed_rows] for arm in FIXED_SOURCE_ARMS}
    fixed_steps = {arm: np.mean([r[arm]["steps_to_threshold"] for r in fixed_rows]) for arm in FIXED_SOURCE_ARMS}
    out = {"practised_transfer_steps_ratio": float(steps.mean() / fixed_steps["scratch"]),
           "practised_over_frozen_steps_ratio": float(steps.mean() / fixed_steps["frozen"]),
           "practised_over_unfrozen_steps_ratio": float(steps.mean() / fixed_steps["unfrozen"]),
           "practised_frozen_steps_to_80": float(steps.mean()), "practised_censored_runs": float(sum(arm["censored"] for arm in practised)),
           "practised_frozen_curve_mean_success": float(np.mean(area)), "practice_steps": float(rows[0]["practice"]["steps"]),
           "practice_episodes": float(rows[0]["practice"]["episodes"])}
    out.update(headline_stats("practised_frozen_final_success", final))
    for name, before_after in (("final", (final, fixed_final)), ("curve_mean", (area, fixed_area))):
        for arm in FIXED_SOURCE_ARMS:
            out.update(improvement_stats(f"practised_over_{arm}_{name}", before_after[0], before_after[1][arm]))
    leaving = [(TARGET["start_room"], room) for room in (1, 3)]
    for when, key in (("before", "source_doorway_reach"), ("after", "practised_doorway_reach")):
        reach = np.array(rows[0][key])
        out[f"practice_doorway_reach_{when}_mean"] = float(np.nanmean(reach))
        out[f"practice_doorway_reach_{when}_min"] = float(np.nanmin(reach))
        out[f"practice_doorway_reach_{when}_out_of_target_start"] = float(np.mean([reach[a, b] for a, b in leaving]))
    out.update({f"practised_frozen_train_{key}": value
                for key, value in proposal_summary([arm["proposal_reach"] for arm in practised], TARGET["start_room"]).items()})
    return out


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--source-rounds", type=int, default=budget.pick(full=600, fast=2))
    parser.add_argument("--target-rounds", type=int, default=budget.pick(full=600, fast=2))
    parser.add_argument("--oracle-rounds", type=int, default=budget.pick(full=300, fast=2))
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=50, fast=1))
    parser.add_argument("--fixed-source-seeds", type=int, nargs="+", default=budget.pick(full=list(range(8)), fast=[0]),
                        help="target seeds of the fixed-source diagnostic (seed 0's source, SOURCE_CHECKPOINT)")
    parser.add_argument("--only", choices=("transfer", "diagnostics", "fixed_source", "practised"), default=None,
                        help="run one of the four sweeps and write nothing (to spread the runs over processes; runs/ shares them)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    small = {} if not budget.fast else {"top_updates_per_round": 2, "lower_updates_per_episode": 2, "meta_test_episodes": 2}
    configs = {"transfer": {"source_rounds": args.source_rounds, "target_rounds": args.target_rounds, "eval_every": args.eval_every,
                            "overrides": {**ROUTE, **small}, "arms": list(MAIN_ARMS)}}
    # Diagnostic, every seed: the copied lower levels still trained under PEACH's own fresh top level (these levels, or
    # levels that no longer learn?); a run of its own (its source trained again, the same) so the main runs stand.
    configs["unfrozen"] = {**configs["transfer"], "arms": ["unfrozen"]}
    if args.only in (None, "transfer"):
        sweep = run_sweep(transfer_run, configs, args.seeds, name="peach_transfer", **sweep_options(args)).check()
        rows = sweep.results("transfer")
        for row, extra in zip(rows, sweep.results("unfrozen")):
            row["unfrozen"], row["unfrozen_source_steps"] = extra["unfrozen"], extra["source_steps"]
    # Diagnostic, seed 0's source: the same transfer with the top level handed the goal (task inference solved), which
    # separates lower levels that do not carry over from a top level that cannot find the new goals.
    oracle = {"oracle": {"source_checkpoint": SOURCE_CHECKPOINT, "source_rounds": args.source_rounds, "target_rounds": args.oracle_rounds,
                         "eval_every": args.eval_every, "overrides": {**ROUTE, **small}, "arms": list(ORACLE_ARMS),
                         "target_overrides": {**ORACLE, **{k: v for k, v in small.items() if k != "lower_updates_per_episode"}}}}
    if args.only in (None, "diagnostics"):
        oracle_row = run_sweep(transfer_run, oracle, [0], name="peach_transfer", **sweep_options(args)).check().results("oracle")[0]
    # Diagnostic: one source (seed 0's), 8 target seeds, frozen against scratch and unfrozen: is the frozen arm's deficit over
    # 3 seeds (each its own source) more than the spread between runs?
    fixed = {"fixed_source": {"source_checkpoint": SOURCE_CHECKPOINT, "source_rounds": args.source_rounds,
                              "target_rounds": args.target_rounds, "eval_every": args.eval_every, "overrides": {**ROUTE, **small},
                              "arms": list(FIXED_SOURCE_ARMS)}}
    if args.only in (None, "fixed_source"):
        fixed_rows = run_sweep(transfer_run, fixed, args.fixed_source_seeds, name="peach_transfer", **sweep_options(args)).check().results("fixed_source")
    # Diagnostic: the same source after reward-free practice of its lower levels, frozen, on the same target seeds.
    practised = {"practised": {**fixed["fixed_source"], "arms": ["frozen"], "practice": PRACTICE if not budget.fast else
                               {**PRACTICE, "episodes": 4}}}
    if args.only in (None, "practised"):
        practised_rows = run_sweep(transfer_run, practised, args.fixed_source_seeds, name="peach_transfer", **sweep_options(args)).check().results("practised")
    if args.only:
        print(f"--only {args.only}: nothing written")
        return
    arms = (*MAIN_ARMS, "unfrozen")
    steps = {arm: np.array([r[arm]["steps_to_threshold"] for r in rows]) for arm in arms}
    headline = {
        "transfer_steps_ratio": float(steps["frozen"].mean() / steps["scratch"].mean()),
        "finetune_steps_ratio": float(steps["finetuned"].mean() / steps["scratch"].mean()),
        "unfrozen_steps_ratio": float(steps["unfrozen"].mean() / steps["scratch"].mean()),
        "censored_runs": float(sum(r[arm]["censored"] for r in rows for arm in MAIN_ARMS)),
    }
    for arm in arms:
        headline[f"{arm}_steps_to_80"] = float(steps[arm].mean())
        headline[f"{arm}_final_success"] = float(np.mean([r[arm]["final_success"] for r in rows]))
        headline[f"{arm}_curve_mean_success"] = float(np.mean([np.mean(r[arm]["curve_success"]) for r in rows]))
    headline.update({"source_success": float(np.mean([r["source_success"] for r in rows])),
                     "wall_minutes_per_seed": float(np.mean([r["wall_s"] for r in rows]) / 60),
                     "cpu_minutes_per_seed": float(np.mean([r["cpu_s"] for r in rows]) / 60),
                     "source_rounds": args.source_rounds, "target_rounds": args.target_rounds, "oracle_rounds": args.oracle_rounds})
    for arm in ORACLE_ARMS:
        headline[f"oracle_{arm}_final_success"] = float(oracle_row[arm]["final_success"])
        headline[f"oracle_{arm}_steps_to_80"] = float(oracle_row[arm]["steps_to_threshold"])
    for arm in arms:
        headline.update(headline_stats(f"{arm}_final_success", [r[arm]["final_success"] for r in rows]))
    headline.update(fixed_source_headline(fixed_rows))
    headline.update(practised_headline(practised_rows, fixed_rows))
    if (budget.fast or len(args.seeds) < 3) and args.out is None:
        print(f"headline: {headline}\nfast or partial run (seeds {args.seeds}): data/results/peach_transfer.json not written "
              "(give --out DIR to write one)")
        return
    figure = figure_spec("PEACH transfer: same dynamics, a new reward", [
        curves_panel("target distribution (start room 2, sites in rooms 0, 1, 3)", "environment steps on the target",
                     "final-episode meta-test success",
                     [{"label": ARM_LABELS[arm], "x": [r[arm]["curve_steps"] for r in rows], "y": [r[arm]["curve_success"] for r in rows]}
                      for arm in arms],
                     hlines=[{"label": "0.8 (the target's threshold)", "y": THRESHOLD}]),
        curves_panel(f"diagnostic: seed 0's source, {len(fixed_rows)} target seeds", "environment steps on the target",
                     "final-episode meta-test success",
                     [{"label": ARM_LABELS[arm], "x": [r[arm]["curve_steps"] for r in fixed_rows], "y": [r[arm]["curve_success"] for r in fixed_rows]}
                      for arm in FIXED_SOURCE_ARMS]
                     + [{"label": PRACTISED_LABEL, "x": [r["frozen"]["curve_steps"] for r in practised_rows],
                         "y": [r["frozen"]["curve_success"] for r in practised_rows]}],
                     hlines=[{"label": "0.8 (the target's threshold)", "y": THRESHOLD}]),
        curves_panel("diagnostic, seed 0: the goal handed to the target's top level", "environment steps on the target",
                     "final-episode meta-test success",
                     [{"label": f"{ARM_LABELS[arm]}, goal given", "x": [oracle_row[arm]["curve_steps"]], "y": [oracle_row[arm]["curve_success"]]}
                      for arm in ORACLE_ARMS],
                     hlines=[{"label": "0.8 (the target's threshold)", "y": THRESHOLD}]),
    ])
    write_results("peach_transfer", headline, seeds=list(args.seeds),
                  details={"runs": rows, "oracle_seed0": oracle_row, "fixed_source_runs": fixed_rows, "practised_runs": practised_rows,
                           "fixed_source_seeds": list(args.fixed_source_seeds), "arm_labels": ARM_LABELS, "configs": {**configs, **oracle, **fixed, **practised}, "target_env_kwargs": {k: list(v) if isinstance(v, tuple) else v
                                                                                    for k, v in TARGET.items()}},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
