"""MLSH on MovementBandits and four rooms: fresh-task return after warm-up, sub-policy collapse, ablations, baselines.

Per run (each a Ray task through peach_lite.sweep):

* ``mlsh`` (3 seeds): meta-train on MovementBandits (K=2, N=10, W=9, U=1, 10 staggered groups of 120 episodes),
  then meta-test: 10 fresh tasks (balanced real goals), a fresh master each, W master-only iterations, then
  10 greedy episodes per task. Two collapse detectors (each sub-policy alone on 100 fixed goal pairs: its move in
  one macro step, and the goal nearest to where a whole episode ends) are traced during training; collapse = either
  S < 0.3 at the end. Each sub-policy's return alone when goal 0 pays and when goal 1 pays says what it learned.
* ablations (1 seed each, collapse counted): ``no_warmup`` (W = 0, U = 10), ``no_stagger``, ``code_lr`` (the
  reference code's sub-policy lr 3e-5 instead of the paper's 3e-4), and three routes out of the plateau:
  ``sub_entropy`` (entropy bonus 0.01 on the sub-policies), ``no_random_choice`` (no 10% random master choices),
  ``more_data`` (4 x the episodes per iteration, about what one reference task group collects).
* ``shared``: a single shared reactive policy (K = 1, trained every iteration) on the same number of steps.
* ``fourrooms`` (3 seeds): K=4, N=5, W=10, U=2, 40 episodes per group per iteration, on the 80 training goals;
  meta-test on held-out goals (success after W master-only iterations against the exact oracle), and a fresh flat
  PPO per held-out goal trained on the same W iterations of steps.
* ``movement_bound`` / ``fourrooms_bound`` (3 seeds): a fresh master over scripted ideal sub-policies (walk to goal
  k; always action k), on the same fresh tasks: what the master reaches in W iterations when the primitives are
  perfect, which separates the master's half of the gap from the sub-policies' half.

Headline: ``movement_fraction_of_bayes`` (adapted greedy return / Bayes-optimal 41.0), ``collapsed_seeds``,
``dead_sub_seeds``, ``uncovered_goal_seeds``, ``shared_policy_return``, ``movement_scripted_subs_return``, ``fourrooms_fraction_of_oracle``,
``fourrooms_scripted_subs_fraction_of_oracle``, ``flat_ppo_success``, ``cpu_minutes_per_seed``, with IQM and 95%
bootstrap intervals over seeds.

Run (about 4 CPU-minutes per MovementBandits run, 16 for ``more_data``, about 75 in all; one process, or several
with ``--seeds`` and ``--skip`` and then the default command, which resumes every finished run)::

    python benchmarks/mlsh.py --address serial

Writes data/results/mlsh.json and mlsh.png (read by notebooks/10_mlsh.py); a fast-mode smoke run or a partial run
(``--skip`` or fewer than 3 seeds) writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.results import bars_panel, curves_panel, figure_spec, write_results
from peach_lite.stats import headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

FOURROOMS = {"num_subs": 4, "macro_duration": 5, "warmup": 10, "joint": 2}
"""design-08-11 §2's four-rooms setting."""


def train_one(seed: int, tasks: str, iterations: int, eval_tasks: int, eval_episodes: int, overrides: dict,
              flat_tasks: int = 0, flat_lr: float = 3e-3) -> dict:
    """One seed of one configuration: meta-train, trace the detector, meta-test on fresh tasks (and, for four rooms,
    a fresh flat PPO per task)."""
    from peach_lite.device import set_threads
    from peach_lite.mlsh import MLSH, MLSHConfig, train_mlsh
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    agent, meta = train_mlsh(seed=seed, progress=False, tasks=tasks, iterations=iterations, detector_every=max(1, iterations // 20),
                             **overrides)
    history = meta["history"]
    per_round = agent.config.num_groups * agent.config.episodes_per_iteration
    returns = np.asarray(history["returns"]).reshape(iterations, per_round).mean(1)
    window = max(1, iterations // 50)
    curve_x = [int(agent.config.num_groups * agent.config.episodes_per_iteration * agent.tasks.horizon * (i + window))
               for i in range(0, iterations, window)]
    curve_y = [float(returns[i:i + window].mean()) for i in range(0, iterations, window)]
    fresh = agent.tasks.fresh_tasks(eval_tasks, 1000 + seed)
    result = agent.adapt(fresh, eval_episodes=eval_episodes, seed=1000 + seed)
    oracle = result.oracle_return
    if agent.tasks.goal_outcome is not None and agent.config.num_subs > 1:
        from peach_lite.mlsh_tasks import sub_policy_goal_returns

        goal_returns = sub_policy_goal_returns(agent.subs, agent.tasks, num_starts=200, seed=1).tolist()
    else:
        goal_returns = []
    out = {"train_cpu_s": meta["cpu_s"], "curve_steps": curve_x, "curve_returns": curve_y,
           "collapse_rounds": history["extra"].get("collapse_round", []), "collapse_S": history["extra"].get("collapse_S", []),
           "collapse_goal_S": history["extra"].get("goal_S", []),
           "final_S": meta["collapse_S"], "final_goal_S": meta["goal_S"], "collapsed": meta["collapsed"], "adapt_curve": result.iteration_returns,
           "adapted_return": result.final_return, "adapted_success": result.final_success,
           "master_accuracy": result.master_accuracy, "master_entropy": result.master_entropy, "oracle": oracle,
           "sub_goal_returns": goal_returns}
    if flat_tasks:
        successes = []
        for i, task in enumerate(fresh[:flat_tasks]):
            config = MLSHConfig(**{**agent.config.__dict__, "num_subs": 1, "warmup": 0, "joint": agent.config.warmup,
                                   "num_groups": 1, "stagger": False, "sub_lr": flat_lr, "seed": seed})
            flat = MLSH(agent.tasks, config)
            flat.group_tasks = [task]
            from peach_lite.loop import TrainConfig, evaluate, train
            from peach_lite.runner import Runner

            runner = Runner(agent.tasks.make_envs(config.episodes_per_iteration, seed + i), [task], seed=seed + i)
            train(flat, runner, TrainConfig(rounds=config.joint, episodes_per_round=1, warmup_steps=0, eval_episodes=0, progress=False))
            envs = agent.tasks.make_envs(eval_episodes, 2000 + i)
            successes.append(float(evaluate(flat, envs, flat.group_batch(eval_episodes, "test"), num_episodes=1, seed=2000 + i).success.mean()))
        out["flat_ppo_success"] = float(np.mean(successes))
        out["flat_oracle"] = agent.tasks.oracle_value(fresh[:flat_tasks])
        out["adapted_success_flat_tasks"] = float(np.mean(result.per_task_returns[:flat_tasks]))
    out["wall_s"] = time.perf_counter() - wall
    out["cpu_s"] = time.process_time() - cpu
    return out


ABLATIONS = ("no_warmup", "no_stagger", "code_lr", "sub_entropy", "no_random_choice", "more_data")
"""Single-seed MovementBandits variants, each one change from MLSHConfig's defaults."""
DEAD_RETURN = 10.0
"""A sub-policy whose return alone is below this whichever goal pays (goal primitives: about 43 on their goal)."""


def _dead_sub(row: dict) -> bool:
    """Whether one sub-policy of a MovementBandits run scores under DEAD_RETURN alone for both real goals."""
    return any(max(returns) < DEAD_RETURN for returns in row.get("sub_goal_returns", []))


def _uncovered_goal(row: dict, oracle: float) -> bool:
    """Whether some goal of a MovementBandits run has no sub-policy scoring half the oracle alone when it pays: then
    no master can do well on the tasks where that goal pays (a dead sub-policy, or both walking to the other goal)."""
    table = row.get("sub_goal_returns") or []
    return bool(table) and min(max(column) for column in zip(*table)) < oracle / 2


def primitives_bound(seed: int, tasks: str, eval_tasks: int, eval_episodes: int, overrides: dict) -> dict:
    """A fresh master over scripted ideal sub-policies (MovementBandits: walk to goal k; four rooms: always action k),
    W master-only iterations on the same fresh tasks as :func:`train_one`: how far the master alone can go."""
    from peach_lite.device import set_threads
    from peach_lite.mlsh import MLSH, MLSHConfig
    from peach_lite.mlsh_tasks import DirectionSubPolicies, OracleMovementSubPolicies, mlsh_tasks
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    cpu = time.process_time()
    family = mlsh_tasks(tasks)
    subs = OracleMovementSubPolicies() if tasks == "movement" else DirectionSubPolicies()
    agent = MLSH(family, MLSHConfig(**{**overrides, "num_subs": subs.num_subs, "seed": seed}), subs=subs, train_subs=False)
    result = agent.adapt(family.fresh_tasks(eval_tasks, 1000 + seed), eval_episodes=eval_episodes, seed=1000 + seed)
    return {"adapt_curve": result.iteration_returns, "adapted_return": result.final_return, "adapted_success": result.final_success,
            "oracle": result.oracle_return, "cpu_s": time.process_time() - cpu}


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--iterations", type=int, default=budget.pick(full=300, fast=3), help="MovementBandits meta-training iterations")
    parser.add_argument("--fourrooms-iterations", type=int, default=budget.pick(full=120, fast=2))
    parser.add_argument("--eval-tasks", type=int, default=budget.pick(full=10, fast=2))
    parser.add_argument("--eval-episodes", type=int, default=budget.pick(full=10, fast=2))
    parser.add_argument("--flat-tasks", type=int, default=budget.pick(full=5, fast=1), help="four-rooms goals for the flat PPO")
    parser.add_argument("--skip", nargs="*", default=[], help="configurations to leave out")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from peach_lite.mlsh import MLSHConfig

    default_episodes = MLSHConfig().episodes_per_iteration
    small = {} if not budget.fast else {"num_groups": 2, "episodes_per_iteration": 2}
    movement = {"tasks": "movement", "iterations": args.iterations, "eval_tasks": args.eval_tasks, "eval_episodes": args.eval_episodes}
    configs = {
        "mlsh": {**movement, "overrides": dict(small)},
        "fourrooms": {"tasks": "fourrooms", "iterations": args.fourrooms_iterations, "eval_tasks": args.eval_tasks,
                      "eval_episodes": args.eval_episodes, "overrides": {**FOURROOMS, "episodes_per_iteration": 40, **small},
                      "flat_tasks": args.flat_tasks},
        "shared": {**movement, "overrides": {**small, "num_subs": 1, "warmup": 0, "joint": 1, "stagger": False}},
        "no_warmup": {**movement, "overrides": {**small, "warmup": 0, "joint": 10}},
        "no_stagger": {**movement, "overrides": {**small, "stagger": False}},
        "code_lr": {**movement, "overrides": {**small, "sub_lr": 3e-5}},
        "sub_entropy": {**movement, "overrides": {**small, "sub_entropy_coef": 0.01}},
        "no_random_choice": {**movement, "overrides": {**small, "random_choice_prob": 0.0}},
        "more_data": {**movement, "overrides": {**small, "episodes_per_iteration": 4 * small.get("episodes_per_iteration", default_episodes)}},
    }
    configs = {k: v for k, v in configs.items() if k not in args.skip}
    multi = [k for k in ("mlsh", "fourrooms") if k in configs]
    sweep_main = run_sweep(train_one, {k: configs[k] for k in multi}, args.seeds, name="mlsh", **sweep_options(args)).check()
    single = {k: v for k, v in configs.items() if k not in multi}
    sweep_one = run_sweep(train_one, single, args.seeds[:1], name="mlsh", **sweep_options(args)).check() if single else None

    bounds = {f"{configs[k]['tasks']}_bound": {key: configs[k][key] for key in ("tasks", "eval_tasks", "eval_episodes", "overrides")}
              for k in multi}
    sweep_bound = run_sweep(primitives_bound, bounds, args.seeds, name="mlsh", **sweep_options(args)).check() if bounds else None

    from peach_lite.envs.oracles import movement_bandits_values

    values = movement_bandits_values()
    rows = sweep_main.results("mlsh")
    four = sweep_main.results("fourrooms") if "fourrooms" in configs else []
    ablations = {k: sweep_one.results(k)[0] for k in single} if sweep_one else {}

    def col(items, key):
        return np.array([r[key] for r in items], dtype=float)

    movement_fraction = col(rows, "adapted_return") / values["bayes_optimal"]
    headline = {
        "movement_fraction_of_bayes": float(movement_fraction.mean()),
        "movement_adapted_return": float(col(rows, "adapted_return").mean()),
        "movement_fraction_of_oracle": float(col(rows, "adapted_return").mean() / values["oracle"]),
        "bayes_optimal_return": values["bayes_optimal"],
        "oracle_return": values["oracle"],
        "collapsed_seeds": int(sum(bool(r["collapsed"]) for r in rows)),
        "collapse_S_min": float(col(rows, "final_S").min()),
        "collapse_goal_S_min": float(col(rows, "final_goal_S").min()),
        "dead_sub_seeds": int(sum(_dead_sub(r) for r in rows)),
        "uncovered_goal_seeds": int(sum(_uncovered_goal(r, values["oracle"]) for r in rows)),
        "master_accuracy": float(col(rows, "master_accuracy").mean()),
        "master_entropy": float(col(rows, "master_entropy").mean()),
        "wall_minutes_per_seed": float(col(rows, "wall_s").mean() / 60),
        "cpu_minutes_per_seed": float(col(rows, "cpu_s").mean() / 60),
    }
    if "shared" in ablations:
        headline["shared_policy_return"] = ablations["shared"]["adapted_return"]
        headline["ratio_over_shared"] = headline["movement_adapted_return"] / max(ablations["shared"]["adapted_return"], 1e-9)
    if sweep_bound and "movement_bound" in bounds:
        bound = sweep_bound.results("movement_bound")
        headline["movement_scripted_subs_return"] = float(col(bound, "adapted_return").mean())
        headline["movement_scripted_subs_episode_oracle"] = float(col(bound, "oracle").mean())
    if sweep_bound and "fourrooms_bound" in bounds:
        bound = sweep_bound.results("fourrooms_bound")
        headline["fourrooms_scripted_subs_fraction_of_oracle"] = float((col(bound, "adapted_success") / col(bound, "oracle")).mean())
    for name in ABLATIONS:
        if name in ablations:
            headline[f"{name}_return"] = ablations[name]["adapted_return"]
            headline[f"{name}_collapsed"] = int(bool(ablations[name]["collapsed"]))
            headline[f"{name}_S"] = ablations[name]["final_S"]
            headline[f"{name}_goal_S"] = ablations[name]["final_goal_S"]
            headline[f"{name}_dead_sub"] = int(_dead_sub(ablations[name]))
            headline[f"{name}_uncovered_goal"] = int(_uncovered_goal(ablations[name], values["oracle"]))
    if four:
        headline["fourrooms_fraction_of_oracle"] = float((col(four, "adapted_success") / col(four, "oracle")).mean())
        headline["fourrooms_success"] = float(col(four, "adapted_success").mean())
        headline["fourrooms_oracle_success"] = float(col(four, "oracle").mean())
        headline["flat_ppo_success"] = float(col(four, "flat_ppo_success").mean())
        headline["fourrooms_collapsed_seeds"] = int(sum(bool(r["collapsed"]) for r in four))
        headline["fourrooms_wall_minutes_per_seed"] = float(col(four, "wall_s").mean() / 60)
        headline |= headline_stats("fourrooms_fraction_of_oracle", col(four, "adapted_success") / col(four, "oracle"))
    headline |= headline_stats("movement_fraction_of_bayes", movement_fraction)
    for key, value in headline.items():
        print(f"{key:40s} {value:10.3f}")
    if (budget.fast or args.skip or len(args.seeds) < 3) and args.out is None:
        print("fast or partial run (fast mode, --skip or fewer than 3 seeds): data/results/mlsh.json not written "
              "(give --out to write one)")
        return
    series = [{"label": "MLSH (K=2)", "x": [r["curve_steps"] for r in rows], "y": [r["curve_returns"] for r in rows]}]
    for name, label in (("shared", "shared reactive policy"), ("no_warmup", "no warm-up"), ("no_stagger", "no stagger"),
                        ("code_lr", "sub lr 3e-5 (code)"), ("sub_entropy", "sub entropy 0.01"), ("no_random_choice", "no random master choice"),
                        ("more_data", "4x episodes per iteration")):
        if name in ablations:
            series.append({"label": label, "x": [ablations[name]["curve_steps"]], "y": [ablations[name]["curve_returns"]]})
    panels = [curves_panel("MovementBandits meta-training (exploring, 10% random master choices)", "environment steps",
                           "episode return", series, hlines=[{"label": "oracle 43.7", "y": values["oracle"]},
                                                            {"label": "Bayes-optimal 41.0", "y": values["bayes_optimal"]}]),
              bars_panel("after W master-only iterations on fresh tasks", "configuration", "greedy return",
                         ["MLSH", *ablations], [{"label": "return", "values": [list(col(rows, "adapted_return")),
                                                                                 *[[a["adapted_return"]] for a in ablations.values()]]}],
                         hlines=[{"label": "0.9 x Bayes-optimal", "y": 0.9 * values["bayes_optimal"]}])]
    if four:
        panels.append(bars_panel("four rooms, held-out goals", "agent", "success rate (fraction)", ["MLSH after W", "flat PPO, same steps"],
                                 [{"label": "success", "values": [list(col(four, "adapted_success")), list(col(four, "flat_ppo_success"))]}],
                                 hlines=[{"label": "oracle", "y": float(col(four, "oracle").mean())}]))
    details = {"per_seed": {"mlsh": rows, "fourrooms": four}, "ablations": ablations, "configs": configs,
               "scripted_subs": {k: sweep_bound.results(k) for k in bounds} if sweep_bound else {},
               "definitions": {"movement_fraction_of_bayes": "greedy return on fresh tasks after W master-only iterations / 41.0",
                               "collapsed": "either detector below 0.3 at the end of meta-training: S (move, one macro step) or S (goal, "
                                            "where a whole episode ends; >= |P(end near g0 | sub 0) - P(end near g0 | sub 1)|)",
                               "sub_goal_returns": "per seed, (K, 2): sub-policy k alone, its mean return when goal g pays",
                               "movement_scripted_subs_return": "a fresh master over the scripted walk-to-goal sub-policies, greedy "
                                                                "return after W on the same fresh tasks (the master's own ceiling)",
                               "movement_scripted_subs_episode_oracle": "the goal-known optimum on those same greedy episodes (its bound; "
                                                                        "oracle_return is the expectation over goal pairs)",
                               "fourrooms_scripted_subs_fraction_of_oracle": "the same over four scripted sub-policies 'always action k'",
                               "uncovered_goal_seeds": "seeds where some goal has no sub-policy scoring half the oracle alone when it pays",
                               "dead_sub_seeds": f"seeds with a sub-policy under {DEAD_RETURN} alone whichever goal pays",
                               "wall_minutes_per_seed": "wall time of one MovementBandits seed (train + meta-test) on the shared 2-core machine",
                               "flat_ppo_success": "a fresh flat PPO per held-out goal, W iterations of the same steps, greedy success"},
               "sweep": {"runs_dir": str(sweep_main.runs_dir), "wall_s": sweep_main.wall_s + (sweep_one.wall_s if sweep_one else 0)}}
    write_results("mlsh", headline, seeds=list(args.seeds), details=details,
                  figure=figure_spec("MLSH: MovementBandits and four rooms", panels), out_dir=args.out)


if __name__ == "__main__":
    main()
