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
  ``peach_lite/MovementBandits-v0``, as a fraction of its exact (DP) Bayes-optimal return.

Also trained once (seed 0), for notebooks/03_task_inference.py's widget: B with information-bottleneck
strengths ``IB_WEIGHTS``, C with supervision weights ``AUX_WEIGHTS``, and B with its belief module trained
off-policy from a replay of old episodes. Every learning curve is stored in ``details["runs"]``.

Usage: ``python benchmarks/belief_vs_lstm.py`` (two worker processes, one per core; about 10 minutes
on 2 idle cores); ``--quick`` runs a tiny version to test the script. A partial run prints its runs'
scores and writes nothing under ``data/``, e.g. the K-goal belief agent alone, seed 0::

    python benchmarks/belief_vs_lstm.py --only belief --seeds 0 --workers 1

Each run's ``history`` in the results file is the learning curve as plain lists (``env_steps``,
``train_return`` and ``belief_loss`` per update, ``eval_steps``/``eval_return`` per evaluation), taken
from the :class:`peach_lite.loop.History` that :func:`peach_lite.belief_agents.train` returns.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
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
OFFLINE_UPDATES = 800
"""Supervised updates (batch 64) of each offline belief module."""
OFFLINE_LR = 1e-2
"""Adam learning rate of the offline belief modules (supervised only, so the RL-stability reason for 3e-3 is moot)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, to test the script (results not meaningful)")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes (one thread each)")
    parser.add_argument("--only", nargs="+", default=None, metavar="RUN",
                        help="partial run: only these runs (names without '/seedN', e.g. belief lstm movement_belief); "
                             "prints their scores, writes no results file")
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS, help="seeds of the multi-seed runs (partial run if not all)")
    args = parser.parse_args()
    from peach_lite.validation import check_int

    check_int("workers", args.workers, 1, 64)
    for seed in args.seeds:
        check_int("seeds", seed, 0)
    seeds = list(args.seeds)
    partial = args.only is not None or seeds != SEEDS
    kgoal, movement, final_episodes = dict(KGOAL), dict(MOVEMENT), FINAL_EPISODES
    if args.quick:
        kgoal.update(num_updates=4, eval_every=2, eval_episodes=20, batch_size=8)
        movement.update(num_updates=2, eval_every=1, eval_episodes=8, batch_size=8)
        final_episodes = 40
    start = time.perf_counter()
    jobs = []
    for seed in seeds:
        jobs += [(f"belief/seed{seed}", dict(kgoal, agent="belief", seed=seed)),
                 (f"lstm/seed{seed}", dict(kgoal, agent="lstm", seed=seed)),
                 (f"aux_w1/seed{seed}", dict(kgoal, agent="aux", belief_weight=1.0, seed=seed))]
    jobs += [(f"belief_ib{w:g}/seed0", dict(kgoal, agent="belief", ib_weight=w, seed=0)) for w in IB_WEIGHTS]
    jobs += [(f"aux_w{w:g}/seed0", dict(kgoal, agent="aux", belief_weight=w, seed=0)) for w in AUX_WEIGHTS if w != 1.0]
    jobs += [("belief_replay/seed0", dict(kgoal, agent="belief", belief_data="replay", seed=0)),
             ("movement_belief/seed0", dict(movement, agent="belief", seed=0)),
             ("movement_lstm/seed0", dict(movement, agent="lstm", seed=0))]
    jobs.sort(key=lambda job: job[1]["family"] != "movement")  # the long runs first, for load balance
    offline_updates = 4 if args.quick else OFFLINE_UPDATES
    behaviours = OFFLINE_BEHAVIOURS
    if args.only is not None:
        offline_names = {"offline_random": "random", "offline_agent": "trained agent"}
        known = sorted({name.split("/")[0] for name, _ in jobs} | set(offline_names))
        for name in args.only:
            if name not in known:
                raise ValueError(f"--only must name runs among {known}, got {name!r}")
        jobs = [job for job in jobs if job[0].split("/")[0] in args.only]
        behaviours = [b for key, b in offline_names.items() if key in args.only]
    tasks = [(_run, (name, overrides, final_episodes)) for name, overrides in jobs]
    tasks += [(_run_offline, (behaviour, offline_updates)) for behaviour in behaviours]
    runs, offline = {}, {}
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for kind, name, record in pool.imap_unordered(_dispatch, tasks):
            (runs if kind == "run" else offline)[name] = record
            print(f"done: {name} [{record['elapsed']:.0f} s]", flush=True)
    for name in sorted(runs):
        run = runs[name]
        print(f"{name:24s} final {run['final_return']:7.3f} ({run['fraction_of_bayes']:.4f} of Bayes-optimal) "
              f"[{run['history']['elapsed']:.0f} s]")
    if args.only is not None:
        print(f"partial run (--only {' '.join(args.only)} --seeds {' '.join(map(str, seeds))}): wall time "
              f"{time.perf_counter() - start:.0f} s; data/results/belief_vs_lstm.json left unchanged")
        return

    from peach_lite.envs.task_families import make_family
    from peach_lite.loop import History
    from peach_lite.results import write_results

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

    final = {kind: np.array([runs[f"{kind}/seed{s}"]["final_return"] for s in seeds]) for kind in ("belief", "lstm", "aux_w1")}
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
        "workers": args.workers,
        "quick": bool(args.quick),
        "runs": runs,
    }
    print(f"per seed: belief {np.round(final['belief'], 2).tolist()}, lstm {np.round(final['lstm'], 2).tolist()}, "
          f"aux {np.round(final['aux_w1'], 2).tolist()}; steps ratio lstm/belief {np.round(lstm_ratio, 2).tolist()}, "
          f"aux/belief {np.round(aux_ratio, 2).tolist()}; wall time {wall:.0f} s")
    if partial or args.quick:
        print(f"{'quick' if args.quick else 'partial'} run: headline {headline}; data/results/belief_vs_lstm.json left unchanged")
        return
    write_results("belief_vs_lstm", headline, seeds=SEEDS, details=details)


def _dispatch(task):
    function, arguments = task
    return function(arguments)


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
