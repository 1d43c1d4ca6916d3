"""Belief network (B) vs plain LSTM (A, RL²) vs auxiliary head (C): seed 004's claims, measured on a CPU.

**Main comparison: K-goal trials** (``peach_lite/KGoalBandit-v0``, K = 10 goals, trials of 20 one-pull
episodes). Its Bayes-optimal return has a closed form, sum_t min(t, K)/K = 15.5
(``oracles.k_goal_bayes_optimal``), and reaching it needs the memory of every goal already tried, the
kind of task inference seed 004 is about. For each seed, B, A and C are trained with the same PPO
learner, inputs, sizes and budget; every 10 updates each is evaluated on 500 held-out trials
(balanced goals, the env's test split).

Headline (``data/results/belief_vs_lstm.json``):

* ``belief_fraction_of_bayes``: final held-out return of B / the closed-form Bayes-optimal return
  (mean over seeds; ``_min``: worst seed);
* ``steps_ratio_lstm_over_belief``: environment steps A needs to first reach the threshold
  (``THRESHOLD_FRACTION`` of Bayes-optimal) divided by the steps B needs, mean over seeds; a seed where A
  never gets there counts with A's whole budget (a lower bound), ``lstm_censored_seeds`` says how often;
* ``aux_...`` the same for C; ``movement_...``: B and A once each (seed 0) on the 2-goal navigation task
  ``peach_lite/MovementBandits-v0``, as a fraction of its exact (DP) Bayes-optimal return;
* ``<metric>_iqm`` / ``_ci_low`` / ``_ci_high`` / ``_mean`` for ``belief_``, ``lstm_`` and ``aux_fraction_of_bayes``
  and the two steps ratios: the interquartile mean over seeds with its 95% stratified bootstrap interval
  (``peach_lite.stats``); ``belief_over_lstm_prob_improvement`` (with its interval): P(a seed of B ends with a
  higher held-out return than a seed of A).

Also trained once (seed 0), for notebooks/03_task_inference.py's widget: B with information-bottleneck
strengths ``IB_WEIGHTS``, C with supervision weights ``AUX_WEIGHTS``, and B with its belief module trained
off-policy from a replay of old episodes. Every learning curve is stored in ``details["runs"]``, and the figure
``data/results/belief_vs_lstm.png`` (shown by the lesson) is drawn from them.

Each (configuration, seed) is one task of a Ray sweep (``peach_lite.sweep``, one CPU and one torch thread each;
``--num-cpus`` limits a local Ray, ``--address`` or ``RAY_ADDRESS`` names a cluster). Finished runs are kept under
``runs/belief_vs_lstm/`` (``runs/belief_vs_lstm_quick/`` for ``--quick``), so an interrupted run resumes where it
stopped; ``--fresh`` redoes them.

Usage: ``python benchmarks/belief_vs_lstm.py`` (about 40 minutes on 2 idle cores); ``--quick`` (or
``PEACH_FAST=1``) runs a tiny version to test the script. A quick or partial run prints its runs' scores and
writes nothing under ``data/`` unless ``--out DIR`` names a folder for the results file and figure, e.g. the
K-goal belief agent alone, seed 0, or a smoke test::

    python benchmarks/belief_vs_lstm.py --only belief --seeds 0 --num-cpus 1
    PEACH_FAST=1 python benchmarks/belief_vs_lstm.py --seeds 0 --out /tmp/smoke --runs-dir /tmp/smoke/runs

Each run's ``history`` in the results file is the learning curve as plain lists (``env_steps``,
``train_return`` and ``belief_loss`` per update, ``eval_steps``/``eval_return`` per evaluation), taken
from the :class:`peach_lite.loop.History` that :func:`peach_lite.belief_agents.train` returns.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEEDS = [0, 1, 2]
KGOAL = dict(family="kgoal", num_updates=500, eval_every=10, eval_episodes=500)
"""K-goal runs: the config defaults (PPO, lr 3e-3, batch 64) and 500 updates (640k environment steps)."""
MOVEMENT = dict(family="movement", num_updates=400, lr=1e-2, eval_every=25, eval_episodes=500)
"""MovementBandits runs: lr 1e-2 (stable for both agents there, and faster), 400 updates (1.28M steps)."""
THRESHOLD_FRACTION = 0.8
"""Return threshold for the steps ratio, as a fraction of the Bayes-optimal return: 12.4 on the K-goal
trials, above the 12.09 of "stay after a success, else pick at random", so it needs multi-goal memory."""
IB_WEIGHTS = [0.01, 0.1, 1.0]
"""Bottleneck strengths beta for the belief agent (1 seed each)."""
AUX_WEIGHTS = [0.1, 1.0, 10.0]
"""Supervision weights of the auxiliary head (1.0 with every seed, the others with seed 0)."""
FINAL_EPISODES = 2000
"""Held-out episodes for the final score of every run."""
OFFLINE_BEHAVIOURS = ["random", "trained agent"]
"""Behaviour policies whose K-goal episodes train a belief module offline: uniform random goals, and the pretrained
belief agent ``data/checkpoints/belief_kgoal.pt`` (which tries every goal once, then stays)."""
OFFLINE_NAMES = {"offline_random": "random", "offline_agent": "trained agent"}
"""The sweep's names of the offline runs (``--only`` takes them), and the behaviour each is trained on."""
OFFLINE_UPDATES = 800
"""Supervised updates (batch 64) of each offline belief module."""
OFFLINE_LR = 1e-2
"""Adam learning rate of the offline belief modules (supervised only, so the RL-stability reason for 3e-3 is moot)."""


def train_one(seed: int, kind: str, overrides: dict, final_episodes: int = 0, num_updates: int = 0,
              behaviour: str = "") -> dict:
    """One sweep run (a Ray task, one torch thread): ``kind`` "run" trains and scores one agent configuration
    (``overrides`` of :class:`~peach_lite.belief_agents.BeliefAgentConfig`, with this seed); ``kind`` "offline"
    trains a belief module offline on episodes of ``behaviour`` (``num_updates`` supervised updates)."""
    if kind == "offline":
        return _run_offline((behaviour, num_updates))[2]
    if kind != "run":
        raise ValueError(f"kind must be 'run' or 'offline', got {kind!r}")
    return _run(("", dict(overrides, seed=seed), final_episodes))[2]


def configs(kgoal: dict, movement: dict, final_episodes: int, offline_updates: int) -> tuple[dict, dict]:
    """The sweep's configurations: those trained with every seed, and those trained once (seed 0)."""
    multi = {"belief": dict(kind="run", overrides=dict(kgoal, agent="belief"), final_episodes=final_episodes),
             "lstm": dict(kind="run", overrides=dict(kgoal, agent="lstm"), final_episodes=final_episodes),
             "aux_w1": dict(kind="run", overrides=dict(kgoal, agent="aux", belief_weight=1.0), final_episodes=final_episodes)}
    single = {  # the long MovementBandits runs first, for load balance
        "movement_belief": dict(kind="run", overrides=dict(movement, agent="belief"), final_episodes=final_episodes),
        "movement_lstm": dict(kind="run", overrides=dict(movement, agent="lstm"), final_episodes=final_episodes)}
    single |= {f"belief_ib{w:g}": dict(kind="run", overrides=dict(kgoal, agent="belief", ib_weight=w),
                                       final_episodes=final_episodes) for w in IB_WEIGHTS}
    single |= {f"aux_w{w:g}": dict(kind="run", overrides=dict(kgoal, agent="aux", belief_weight=w),
                                   final_episodes=final_episodes) for w in AUX_WEIGHTS if w != 1.0}
    single["belief_replay"] = dict(kind="run", overrides=dict(kgoal, agent="belief", belief_data="replay"),
                                   final_episodes=final_episodes)
    single |= {name: dict(kind="offline", overrides={}, num_updates=offline_updates, behaviour=behaviour)
               for name, behaviour in OFFLINE_NAMES.items()}
    return multi, single


def main() -> None:
    from peach_lite.budget import Budget
    from peach_lite.sweep import add_sweep_arguments, run_sweep, sweep_options

    fast = Budget.from_env().fast
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny budgets, to test the script (results not meaningful; also on with PEACH_FAST=1)")
    parser.add_argument("--only", nargs="+", default=None, metavar="RUN",
                        help="partial run: only these runs (names without '/seedN', e.g. belief lstm movement_belief); "
                             "prints their scores, writes no results file")
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS, help="seeds of the multi-seed runs (partial run if not all)")
    add_sweep_arguments(parser)
    parser.add_argument("--workers", dest="num_cpus", type=int, help="old name of --num-cpus")
    args = parser.parse_args()
    from peach_lite.validation import check_int

    if args.num_cpus is not None:
        check_int("num_cpus", args.num_cpus, 1, 64)
    for seed in args.seeds:
        check_int("seeds", seed, 0)
    seeds = list(args.seeds)
    quick = bool(args.quick or fast)
    partial = args.only is not None or seeds != SEEDS
    kgoal, movement, final_episodes = dict(KGOAL), dict(MOVEMENT), FINAL_EPISODES
    if quick:
        kgoal.update(num_updates=4, eval_every=2, eval_episodes=20, batch_size=8)
        movement.update(num_updates=2, eval_every=1, eval_episodes=8, batch_size=8)
        final_episodes = 40
    offline_updates = 4 if quick else OFFLINE_UPDATES
    start = time.perf_counter()
    multi, single = configs(kgoal, movement, final_episodes, offline_updates)
    if args.only is not None:
        known = sorted(multi) + sorted(single)
        for name in args.only:
            if name not in known:
                raise ValueError(f"--only must name runs among {known}, got {name!r}")
        multi = {name: config for name, config in multi.items() if name in args.only}
        single = {name: config for name, config in single.items() if name in args.only}
    # quick runs keep their files apart, so that they never replace a full run's under runs/belief_vs_lstm/
    name = "belief_vs_lstm_quick" if quick else "belief_vs_lstm"
    sweeps = []
    if single:
        sweeps.append(run_sweep(train_one, single, [0], name=name, **sweep_options(args)).check())
    if multi:
        sweeps.append(run_sweep(train_one, multi, seeds, name=name, **sweep_options(args)).check())
    every = [record for sweep in sweeps for record in sweep.runs]
    runs = {f"{r.config_name}/seed{r.seed}": r.result for r in every if r.config_name not in OFFLINE_NAMES}
    offline = {r.result["behaviour"]: r.result for r in every if r.config_name in OFFLINE_NAMES}
    for key in sorted(runs):
        run = runs[key]
        print(f"{key:24s} final {run['final_return']:7.3f} ({run['fraction_of_bayes']:.4f} of Bayes-optimal) "
              f"[{run['history']['elapsed']:.0f} s]")
    for behaviour, record in offline.items():
        print(f"offline belief on {behaviour} episodes: excess cross-entropy "
              f"{ {k: round(v[-1], 4) for k, v in record['excess'].items()} } [{record['elapsed']:.0f} s]")
    if args.only is not None:
        print(f"partial run (--only {' '.join(args.only)} --seeds {' '.join(map(str, seeds))}): wall time "
              f"{time.perf_counter() - start:.0f} s; data/results/belief_vs_lstm.json left unchanged")
        return
    sweep_multi = sweeps[-1]

    from peach_lite.envs.task_families import make_family
    from peach_lite.loop import History
    from peach_lite.results import write_results
    from peach_lite.stats import headline_stats, improvement_stats

    bayes = make_family("kgoal").bayes_optimal_return()
    threshold = THRESHOLD_FRACTION * bayes

    def steps(name: str) -> float:
        history = runs[name]["history"]
        return History(eval_steps=history["eval_steps"], eval_values=history["eval_return"]).first_reaching(threshold)

    def ratios(prefix: str) -> tuple[np.ndarray, int]:
        values, censored = [], 0
        for seed in seeds:
            other, belief = steps(f"{prefix}/seed{seed}"), steps(f"belief/seed{seed}")
            if math.isinf(other):
                censored += 1
                other = runs[f"{prefix}/seed{seed}"]["history"]["env_steps"][-1]
            values.append(other / belief if math.isfinite(belief) else math.nan)
        return np.array(values), censored

    final = {kind: sweep_multi.values(kind, "final_return") for kind in ("belief", "lstm", "aux_w1")}
    lstm_ratio, lstm_censored = ratios("lstm")
    aux_ratio, aux_censored = ratios("aux_w1")
    wall = time.perf_counter() - start
    headline = {
        "belief_fraction_of_bayes": float(final["belief"].mean() / bayes),
        "belief_fraction_of_bayes_min": float(final["belief"].min() / bayes),
        "lstm_fraction_of_bayes": float(final["lstm"].mean() / bayes),
        "aux_fraction_of_bayes": float(final["aux_w1"].mean() / bayes),
        "steps_ratio_lstm_over_belief": _finite_mean(lstm_ratio),
        "steps_ratio_lstm_over_belief_min": _finite_min(lstm_ratio),
        "lstm_censored_seeds": float(lstm_censored),
        "steps_ratio_aux_over_belief": _finite_mean(aux_ratio),
        "aux_censored_seeds": float(aux_censored),
        "belief_return": float(final["belief"].mean()),
        "lstm_return": float(final["lstm"].mean()),
        "aux_return": float(final["aux_w1"].mean()),
        "bayes_optimal_return": bayes,
        "oracle_return": float(make_family("kgoal").horizon),
        "threshold_return": threshold,
        "movement_belief_fraction_of_bayes": runs["movement_belief/seed0"]["fraction_of_bayes"],
        "movement_lstm_fraction_of_bayes": runs["movement_lstm/seed0"]["fraction_of_bayes"],
        "offline_random_excess_ce_on_agent_data": offline["random"]["excess"]["trained agent"][-1],
        "offline_agent_excess_ce_on_agent_data": offline["trained agent"]["excess"]["trained agent"][-1],
        "offline_random_excess_ce_on_random_data": offline["random"]["excess"]["random"][-1],
        "offline_agent_excess_ce_on_random_data": offline["trained agent"]["excess"]["random"][-1],
        "wall_time_s": wall,
    }
    # IQM over seeds with a 95% stratified bootstrap interval beside each mean, and P(B beats A) (peach_lite.stats)
    for kind, key in (("belief", "belief"), ("lstm", "lstm"), ("aux_w1", "aux")):
        headline |= headline_stats(f"{key}_fraction_of_bayes", final[kind] / bayes)
    for key, values in (("steps_ratio_lstm_over_belief", lstm_ratio), ("steps_ratio_aux_over_belief", aux_ratio)):
        if np.isfinite(values).any():  # seeds where the belief agent never reached the threshold have no ratio
            headline |= headline_stats(key, values[np.isfinite(values)])
    headline |= improvement_stats("belief_over_lstm", final["belief"] / bayes, final["lstm"] / bayes)
    details = {
        "family": "kgoal",
        "num_goals": make_family("kgoal").num_actions,
        "trial_length": make_family("kgoal").horizon,
        "threshold_fraction_of_bayes": THRESHOLD_FRACTION,
        "final_episodes": final_episodes,
        "per_seed": {"belief_final": final["belief"].tolist(), "lstm_final": final["lstm"].tolist(),
                     "aux_final": final["aux_w1"].tolist(), "steps_ratio_lstm_over_belief": _list(lstm_ratio),
                     "steps_ratio_aux_over_belief": _list(aux_ratio),
                     "belief_steps": [_none_if_inf(steps(f"belief/seed{s}")) for s in seeds],
                     "lstm_steps": [_none_if_inf(steps(f"lstm/seed{s}")) for s in seeds]},
        "ib_weights": IB_WEIGHTS,
        "aux_weights": AUX_WEIGHTS,
        "offline": offline,
        "num_cpus": args.num_cpus,
        "quick": quick,
        "runs": runs,
        "definitions": {
            "*_iqm, *_ci_low, *_ci_high, *_mean": "interquartile mean over seeds and its 95% stratified bootstrap "
                                                  "interval, and the plain mean (peach_lite.stats, rliable)",
            "steps_ratio_*_iqm": "over the seeds where the belief agent reached the threshold",
            "belief_over_lstm_prob_improvement": "P(a seed of B ends with a higher held-out return than a seed of A), "
                                                 "with its 95% interval"},
        "sweep": {"runs_dir": str(sweeps[0].runs_dir), "wall_s": sum(s.wall_s for s in sweeps),
                  "resumed_runs": sum(r.resumed for r in every)},
    }
    print(f"per seed: belief {np.round(final['belief'], 2).tolist()}, lstm {np.round(final['lstm'], 2).tolist()}, "
          f"aux {np.round(final['aux_w1'], 2).tolist()}; steps ratio lstm/belief {np.round(lstm_ratio, 2).tolist()}, "
          f"aux/belief {np.round(aux_ratio, 2).tolist()}; wall time {wall:.0f} s")
    if (partial or quick) and args.out is None:
        print(f"{'quick' if quick else 'partial'} run: headline {headline}; data/results/belief_vs_lstm.json left "
              "unchanged (give --out DIR to write one there)")
        return
    write_results("belief_vs_lstm", headline, seeds=seeds, details=details,
                  out_dir=args.out)  # draws belief_vs_lstm.png too, and prints the headline last


def _run_offline(job: tuple[str, int]) -> tuple[str, str, dict]:
    """Train a belief module alone, offline, on episodes of one behaviour policy (K-goal trials), and track its
    excess cross-entropy over the exact posterior on held-out episodes of *both* behaviours."""
    import torch

    from peach_lite.belief_offline import belief_quality, collect, train_belief_offline
    from peach_lite.checkpoints import load_agent
    from peach_lite.device import set_threads
    from peach_lite.envs.task_families import make_family
    from peach_lite.paths import checkpoints_dir

    set_threads(1)
    name, num_updates = job
    started = time.perf_counter()
    family = make_family("kgoal")
    agent, _ = load_agent(checkpoints_dir() / "belief_kgoal.pt", algorithm="belief")
    behaviours = {"random": "random", "trained agent": agent}
    test = {key: collect(family, family.eval_tasks(1000), value, torch.Generator().manual_seed(9)) for key, value in behaviours.items()}
    record = {"behaviour": name, "updates": [], "excess": {key: [] for key in behaviours}, "lr": OFFLINE_LR,
              "agent_checkpoint": "data/checkpoints/belief_kgoal.pt"}
    every = max(num_updates // 16, 1)

    def measure(done: int, module) -> None:
        if done % every == 0 or done == num_updates:
            record["updates"].append(done)
            for key in behaviours:
                record["excess"][key].append(belief_quality(module, family, test[key])["excess"])

    train_belief_offline(family, behaviours[name], num_updates=num_updates, batch_size=64, lr=OFFLINE_LR, seed=0, callback=measure)
    record["elapsed"] = time.perf_counter() - started
    return "offline", name, record


def _run(job: tuple[str, dict, int]) -> tuple[str, str, dict]:
    """Train one configuration in a worker process (one torch thread) and score it on held-out episodes."""
    from peach_lite.belief_agents import BeliefAgentConfig, evaluate, train
    from peach_lite.device import set_threads

    set_threads(1)
    name, overrides, final_episodes = job
    config = BeliefAgentConfig(**overrides)
    agent, history = train(config, progress=False)
    family = agent.family
    final, roll = evaluate(agent, family.eval_tasks(final_episodes), seed=777, return_rollout=True)
    bayes = family.bayes_optimal_return(roll.extras["goals"]) if config.family == "movement" else family.bayes_optimal_return()
    curves = {"env_steps": [(i + 1) * config.batch_size * family.horizon for i in range(history.rounds)],
              "train_return": history.extra["train_return"],
              "belief_loss": history.losses.get("belief", [None] * history.rounds),
              "eval_steps": history.eval_steps, "eval_return": history.eval_values, "elapsed": history.elapsed}
    record = {"config": _plain(dataclasses.asdict(config)), "history": curves, "final_return": final,
              "bayes_optimal_return": bayes, "oracle_return": family.oracle_return(roll), "fraction_of_bayes": final / bayes,
              "elapsed": history.elapsed}
    return "run", name, record


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else 0.0


def _finite_min(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.min()) if len(finite) else 0.0


def _list(values: np.ndarray) -> list:
    return [float(v) if math.isfinite(v) else None for v in values]


def _none_if_inf(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    main()
