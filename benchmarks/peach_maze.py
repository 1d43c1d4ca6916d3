"""PEACH on the hidden-goal maze against its parents and baselines, in the same budget and seeds.

Per run (each a Ray task through peach_lite.sweep), on ``peach_lite/PointMazeHidden-v0`` (the goal is one of 3 sites,
hidden; 50 steps; 24 train / 12 held-out tasks), every hierarchical method on the best route measured (``ROUTE``: HTR
else HER, plus first return, then explore on a quarter of the training collections) for 600 rounds (4 tasks x 3
episodes each, about 300k env steps and at most 25 CPU-minutes a run on this machine, three runs sharing its 2 cores):

* ``peach``: PEACH (z ~ q(z | c) on the top level of a 2-level HAC), with eliminating slots on top of the route
  (``PEACH_ROUTE``, ``peach_config.ELIMINATING_ROUTE``: probe failures and the consistent-mass loss at weight 0.3;
  its runs are peach_elimination's ``eliminating_probes_light`` runs bit for bit);
* ``hac_no_z``: the same learner whose top level reads nothing (z = 0): HAC without task information;
* ``hac_true_goal``: plain HAC (lesson 07, hindsight goals at every level) on ``PointMazeSites-v0``, the same tasks with
  the goal shown: the upper bound. HAC costs about 5.5 CPU-ms an env step (40 updates per level per episode), so the
  hierarchy's 360k steps would take it past the issue's 30 CPU-minutes a run: it gets ``--hac-steps`` (120k, 11 to
  19 CPU-minutes), and reached 0.78 at 31k steps in the 50-round benchmark;
* ``oracle_z``: PEACH's learner whose top level reads the true goal (x, y) / 4 instead of z: task inference solved,
  the top level's exploration not (the diagnostic that separates the two);
* ``random_subgoals``: a top level proposing uniformly random subgoals; lower levels learn as usual;
* ``deterministic_z``: PEACH with point beliefs (PEARL's ablation);
* ``pearl``: flat PEARL (SAC + the same posterior) on the same maze, observation (x, y, vx, vy), same env steps.

Each trained agent is meta-tested on the 12 held-out tasks (6 episodes: the first on the prior, each later one on
a fresh z from the posterior over all context so far; lower levels greedy) and, for the linear probe, on the 24
train tasks. Diagnostics: the probe accuracy from the final posterior mean to the site, and the posterior variance
in the episode after the first success (fraction of the prior's). On the continuous family (``REGION_ID``, seed 0
only): ``sparse_region`` (PEACH on ``ROUTE``), ``dense_context`` (its encoder reads -distance, the RL reward stays
sparse) and ``oracle_region`` (the oracle-z top level): which half fails there, exploration or inference.

Headline: ``peach_success``, ``gain_over_hac_no_z``, ``ratio_over_pearl``, ``fraction_of_oracle_hac``, the baselines'
success, ``probe_accuracy``, ``variance_after_success``, ``train_minutes_per_seed``, the three diagnostics'
``*_success``; IQM and 95% bootstrap intervals over seeds beside the means. The oracle and posterior-sampling
references come from ``oracles.maze_sites_values``.

Run (needs the sweep extra; about 380 CPU-minutes in all with three or four runs sharing 2 cores, less on an idle
machine; 21 runs and 3 diagnostics)::

    python benchmarks/peach_maze.py --num-cpus 2 --checkpoints

Writes data/results/peach_maze.json and peach_maze.png (read by notebooks/11_peach.py); a fast-mode smoke run or a
partial run (``--skip`` or fewer than 3 seeds, e.g. ``--seeds 3 4 --skip peach ...`` for more seeds of one baseline)
writes nothing unless --out is given.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from peach_lite.budget import Budget
from peach_lite.peach_config import ELIMINATING_ROUTE, RETURN_EXPLORE_ROUTE
from peach_lite.results import curves_panel, figure_spec, write_results
from peach_lite.stats import finite_mean, headline_stats
from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

ENV_ID = "peach_lite/PointMazeHidden-v0"
ROUTE = dict(RETURN_EXPLORE_ROUTE)
"""Every hierarchical method trains on the best route measured (``peach_config.RETURN_EXPLORE_ROUTE``): Algorithm 1
plus hindsight goals through the task variable (HTR: half of the meta-batch slots take a train goal their context
reached, else where an attempt ended; the slot's RL rows from that goal's own collection), HAC's 20% random subgoals,
KL weight 0.001 and encoder lr 1e-3, and a quarter of the training collections planned by first return, then explore
(Go-Explore over the visited cells; meta-testing never plans). Algorithm 1 literally (``PeachConfig()``) stays at 0
success on this maze (peach_hindsight.json, ``oracle_z`` and ``peach_hindsight``): without hindsight its top level never
learns, whatever it reads; the HTR route without the plans is peach_exploration.json's ``htr``."""
ORACLE_ROUTE = {k: v for k, v in ROUTE.items() if k not in ("kl_lambda", "encoder_lr", "hindsight_goals")}
"""The oracle's route has no posterior settings and takes HER's achieved goals (it reads the true goal, so a train goal
its context reached adds nothing): peach_exploration's ``oracle_top`` plus the route's planned collections."""
PEACH_ROUTE = dict(ELIMINATING_ROUTE)
"""PEACH itself trains on ``ROUTE`` plus eliminating slots (``peach_config.ELIMINATING_ROUTE``, not in Algorithm 1):
q(z | c) learns what failed attempts rule out. The baselines keep ``ROUTE``: a top level reading z = 0, the true goal or
nothing has no posterior to teach, and point beliefs (``deterministic_z``) give no mass to move. The route without the
slots is peach_elimination.json's ``quarter_route`` (the same runs as the earlier ``peach`` row here)."""
METHODS = {
    "peach": PEACH_ROUTE,
    "hac_no_z": {**ROUTE, "task_inference": "none"},
    "oracle_z": {**ORACLE_ROUTE, "task_inference": "oracle"},
    "random_subgoals": {**ROUTE, "random_subgoals": True},
    "deterministic_z": {**ROUTE, "deterministic_z": True},
}
"""PeachConfig overrides of each method trained by train_peach: the same route, one thing changed (``hac_no_z``: the top
level reads z = 0, so the same learner with no task information; ``oracle_z``: the top level reads the true goal
instead of z: inference solved, exploration not; ``random_subgoals``: uniformly random subgoals at the top;
``deterministic_z``: point beliefs, PEARL's ablation)."""
REGION_ID = "peach_lite/PointMazeHiddenRegion-v0"
"""Continuous hidden goals along a band through rooms 1-3 (the dense-context diagnostic's family)."""
SITES_ID = "peach_lite/PointMazeSites-v0"
"""The same tasks with the goal shown: plain HAC (hindsight goals at every level) is the upper bound."""


def hierarchy_run(seed: int, method: str, rounds: int, eval_every: int, overrides: dict, env_id: str = ENV_ID,
                  save_seed0: str | None = None) -> dict:
    """Train one hierarchical method (``overrides``: its PeachConfig fields, the ``METHODS`` entry resolved into the sweep
    config so that each run file records it), then meta-test and diagnose it (``peach_diagnostics.diagnose``; and save
    seed 0's agent to ``save_seed0``, a checkpoint with its training metadata, when that is given)."""
    from peach_lite.device import set_threads
    from peach_lite.peach import train_peach
    from peach_lite.peach_diagnostics import diagnose
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    agent, meta = train_peach(seed=seed, progress=False, env_id=env_id, rounds=rounds, eval_every=eval_every, **overrides)
    train_cpu = time.process_time() - cpu
    history = meta["history"]
    if save_seed0 and seed == 0:
        from peach_lite.checkpoints import save_agent

        save_agent(agent, save_seed0, meta={"seed": seed, "method": method, **meta})
    return {**diagnose(agent, env_id), "curve_steps": history["eval_steps"], "curve_success": history["eval_values"],
            "train_success": history["extra"]["train_success"], "steps": meta["steps"], "train_cpu_s": train_cpu,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def pearl_run(seed: int, method: str, steps: int, overrides: dict, episodes: int = 6, env_id: str = ENV_ID) -> dict:
    """Flat PEARL on the same maze (observation: position and velocity), about ``steps`` env steps."""
    import gymnasium as gym

    from peach_lite.device import set_threads
    from peach_lite.envs import make
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.pearl import PEARL, PearlConfig, meta_train
    from peach_lite.posterior import PosteriorSchedule, meta_test
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()

    def flat() -> gym.Env:
        return gym.wrappers.FlattenObservation(gym.wrappers.FilterObservation(make(env_id), ["observation"]))

    envs = GymTaskEnvs(flat, seed=seed)
    horizon = 50
    config = PearlConfig.preset("sparse-point-robot-cpu", seed=seed, num_steps_prior=2 * horizon, num_steps_posterior=0,
                                num_extra_rl_steps_posterior=2 * horizon, num_initial_steps=2 * horizon, **overrides)
    per_round = config.num_tasks_sample * 4 * horizon
    iterations = max(1, steps // per_round)
    agent = PEARL.for_env(envs, config, device="cpu")
    meta_train(agent, envs, iterations, progress=False)
    train_cpu = time.process_time() - cpu
    eval_envs = GymTaskEnvs(flat, seed=20_000)
    result = meta_test(agent, eval_envs, eval_envs.unwrapped.test_tasks(), PosteriorSchedule(num_exploration=1, num_trajectories=episodes), seed=20_001)
    return {"success_per_episode": result.success.mean(axis=0).tolist(), "final_success": float(result.success[:, -1].mean()),
            "iterations": iterations, "steps": iterations * per_round + 24 * 2 * horizon, "train_cpu_s": train_cpu,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def hac_run(seed: int, method: str, steps: int, episodes: int, overrides: dict) -> dict:
    """Plain HAC given the goal (PointMazeSites-v0), about ``steps`` env steps; its success is the same every episode."""
    from peach_lite.device import set_threads
    from peach_lite.envs import make
    from peach_lite.hac import HAC, evaluate_success, run_training
    from peach_lite.hac_config import maze_config
    from peach_lite.seeding import seed_everything

    set_threads(1)
    seed_everything(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    env = make(SITES_ID)
    agent = HAC.from_env(env, maze_config(2, subgoal_horizon=8, seed=seed, **overrides))
    history = run_training(agent, SITES_ID, steps, eval_every=50, seed=seed, progress=False)
    train_cpu = time.process_time() - cpu
    success = evaluate_success(agent, SITES_ID, seed=20_001)
    return {"success_per_episode": [success] * episodes, "final_success": success, "curve_steps": history.eval_steps,
            "curve_success": history.eval_values, "steps": history.total_steps, "train_cpu_s": train_cpu,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def run_one(seed: int, method: str, **kwargs) -> dict:
    """Dispatch one (method, seed) run."""
    if method == "hac_true_goal":
        return hac_run(seed, method, kwargs["steps"], kwargs.get("episodes", 6), kwargs.get("overrides", {}))
    if method == "pearl":
        return pearl_run(seed, method, kwargs["steps"], kwargs.get("overrides", {}), kwargs.get("episodes", 6))
    return hierarchy_run(seed, method, kwargs["rounds"], kwargs["eval_every"], kwargs.get("overrides", {}),
                         env_id=kwargs.get("env_id", ENV_ID), save_seed0=kwargs.get("save_seed0"))



def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--rounds", type=int, default=budget.pick(full=600, fast=2), help="PEACH rounds (4 tasks x 3 episodes each)")
    parser.add_argument("--eval-every", type=int, default=budget.pick(full=100, fast=2))
    parser.add_argument("--hac-steps", type=int, default=budget.pick(full=120_000, fast=2_400),
                        help="env steps of HAC given the goal (at most the hierarchy's; HAC costs about 5.5 CPU-ms a step)")
    parser.add_argument("--skip", nargs="*", default=[], help="methods to leave out")
    parser.add_argument("--checkpoints", action="store_true",
                        help="also save seed 0's PEACH next to its run file (runs/peach_maze/peach_seed0.pt). The lesson's agent of "
                             "this configuration, the same parameters, is data/checkpoints/peach_maze_eliminating.pt (the CLI preset "
                             "maze-eliminating, seed 0)")
    add_sweep_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    small = {} if not budget.fast else {"top_updates_per_round": 2, "lower_updates_per_episode": 2, "meta_test_episodes": 2}
    steps = args.rounds * 12 * 50 + 24 * 50  # about the hierarchy's env steps (episodes end early on success)
    configs = {m: {"method": m, "rounds": args.rounds, "eval_every": args.eval_every, "overrides": {**METHODS[m], **small}} for m in METHODS}
    configs["hac_true_goal"] = {"method": "hac_true_goal", "steps": min(steps, args.hac_steps), "episodes": small.get("meta_test_episodes", 6),
                                "overrides": {"updates_per_episode": 2, "batch_size": 16} if budget.fast else {}}
    configs["pearl"] = {"method": "pearl", "steps": steps, "episodes": small.get("meta_test_episodes", 6), "overrides": {"num_train_steps_per_itr": 2} if budget.fast else {}}
    configs = {k: v for k, v in configs.items() if k not in args.skip}
    if args.checkpoints and not budget.fast and "peach" in configs:
        from peach_lite.sweep import default_runs_dir

        configs["peach"]["save_seed0"] = str(Path(args.runs_dir or default_runs_dir()) / "peach_maze" / "peach_seed0.pt")
    sweep = run_sweep(run_one, configs, args.seeds, name="peach_maze", **sweep_options(args)).check()
    rows = {m: sweep.results(m) for m in configs}
    # Diagnostics, one seed, on the continuous family (goals along a band): PEACH with sparse context rows, PEACH whose
    # encoder reads -distance (the RL reward stays sparse), and the oracle-z top level (inference solved). On ROUTE:
    # dense rows cannot take the eliminating slots (a failure there rules out nothing exactly).
    diagnostics = {"dense_context": {"method": "peach", "rounds": args.rounds, "eval_every": args.eval_every, "env_id": REGION_ID,
                                     "overrides": {**ROUTE, **small, "dense_context": True}},
                   "sparse_region": {"method": "peach", "rounds": args.rounds, "eval_every": args.eval_every, "env_id": REGION_ID,
                                     "overrides": {**ROUTE, **small}},
                   "oracle_region": {"method": "oracle_z", "rounds": args.rounds, "eval_every": args.eval_every, "env_id": REGION_ID,
                                     "overrides": {**METHODS["oracle_z"], **small}}}
    diagnostics = {k: v for k, v in diagnostics.items() if k not in args.skip}
    single = run_sweep(run_one, diagnostics, args.seeds[:1], name="peach_maze", **sweep_options(args)).check() if diagnostics else None
    diagnostic_rows = {k: single.results(k)[0] for k in diagnostics} if single else {}

    from peach_lite.envs.oracles import maze_sites_values

    values = maze_sites_values()

    def final(method: str) -> np.ndarray:
        return np.array([r["final_success"] for r in rows.get(method, [])], dtype=float)

    peach, no_z, oracle, pearl = final("peach"), final("hac_no_z"), final("hac_true_goal"), final("pearl")
    peach_rows = rows.get("peach", [])  # empty when --skip peach (e.g. more seeds of one baseline)

    def over_peach(key: str) -> float:
        return float(np.mean([r[key] for r in peach_rows])) if peach_rows else float("nan")

    headline = {
        "peach_success": float(peach.mean()) if peach.size else float("nan"),
        "gain_over_hac_no_z": float(peach.mean() - no_z.mean()) if no_z.size else float("nan"),
        "ratio_over_pearl": float(peach.mean() / max(pearl.mean(), 1.0 / 12)) if pearl.size else float("nan"),
        "fraction_of_oracle_hac": float(peach.mean() / max(oracle.mean(), 1e-9)) if oracle.size else float("nan"),
        "hac_no_z_success": float(no_z.mean()) if no_z.size else float("nan"),
        "hac_true_goal_success": float(oracle.mean()) if oracle.size else float("nan"),
        "oracle_z_success": float(final("oracle_z").mean()) if "oracle_z" in rows else float("nan"),
        "pearl_success": float(pearl.mean()) if pearl.size else float("nan"),
        "random_subgoals_success": float(final("random_subgoals").mean()) if "random_subgoals" in rows else float("nan"),
        "deterministic_z_success": float(final("deterministic_z").mean()) if "deterministic_z" in rows else float("nan"),
        "probe_accuracy": over_peach("probe_accuracy"),
        "variance_after_success": finite_mean([r["variance_after_success"] for r in peach_rows]),
        "uninformed_success": values.uninformed_success,
        "oracle_success": values.oracle_success,
        "train_minutes_per_seed": over_peach("train_cpu_s") / 60,
        "env_steps_per_seed": over_peach("steps"),
        "hac_true_goal_env_steps": float(np.mean([r["steps"] for r in rows["hac_true_goal"]])) if rows.get("hac_true_goal") else float("nan"),
        "pearl_env_steps": float(np.mean([r["steps"] for r in rows["pearl"]])) if rows.get("pearl") else float("nan"),
        "rounds": args.rounds,
    }
    for name, row in diagnostic_rows.items():
        headline[f"{name}_success"] = row["final_success"]
    undefined = sorted(k for k, v in headline.items() if not np.isfinite(v))  # e.g. no success to measure a variance after
    headline = {k: v for k, v in headline.items() if k not in undefined}
    for name, scores in [("peach_success", peach), ("hac_no_z_success", no_z), ("hac_true_goal_success", oracle), ("pearl_success", pearl)]:
        if scores.size:
            headline.update(headline_stats(name, scores))
    episodes = list(range(1, len(next(iter(rows.values()))[0]["success_per_episode"]) + 1))
    figure = figure_spec("PEACH on the hidden-goal maze", [
        curves_panel("meta-test on held-out tasks", "meta-test episode", "success rate (fraction)",
                     [{"label": m, "x": episodes, "y": [r["success_per_episode"] for r in rows[m]]} for m in configs],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success},
                             {"label": "best uninformed episode", "y": values.uninformed_success}]),
        curves_panel("meta-training", "environment steps", "final-episode meta-test success",
                     [{"label": m, "x": [r["curve_steps"] for r in rows[m]], "y": [r["curve_success"] for r in rows[m]]}
                      for m in configs if m != "pearl"],
                     hlines=[{"label": "oracle (goal known)", "y": values.oracle_success}]),
    ])
    partial = budget.fast or bool(args.skip) or len(args.seeds) < 3
    if partial and args.out is None:
        print(f"headline: {headline}\nfast or partial run (skipped {args.skip}, seeds {args.seeds}): "
              "data/results/peach_maze.json not written (give --out DIR to write one)")
        return
    write_results("peach_maze", headline, seeds=list(args.seeds),
                  details={"runs": rows, "diagnostics": diagnostic_rows, "oracles": values.to_dict(), "configs": configs,
                           "undefined_headline_keys": undefined}, figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
