"""Belief network vs plain LSTM (RL²) on MovementBandits: seed 004's main claim, measured on a laptop CPU.

Trains, for each seed, the belief-network agent (B) and the plain LSTM agent (A) with the same A2C/PPO
learner, inputs, sizes and budget, on ``peach_lite/MovementBandits-v0`` (two visible goals, the hidden
task is which one pays). Its exact Bayes-optimal return is known (dynamic programming,
``peach_lite.envs.oracles.movement_bandits_values_for_goals``), so the belief agent is scored as a
fraction of it on held-out episodes (fresh goal positions, balanced real goals).

Headline (``data/results/belief_vs_lstm.json``):

* ``belief_fraction_of_bayes``: final held-out return of B / Bayes-optimal return on the same goals
  (mean over seeds; ``..._min`` is the worst seed);
* ``steps_ratio_lstm_over_belief``: environment steps A needs to reach the return threshold, divided by
  the steps B needs (mean over seeds; a seed where A never reaches it counts with A's whole budget,
  so the ratio is then a lower bound, and ``lstm_censored_seeds`` says how often);
* the final returns of both agents, the Bayes-optimal, oracle and commit-to-one references.

Also trained once each (seed 0), for the lesson's widget: the belief agent with information-bottleneck
strengths ``IB_WEIGHTS``, the auxiliary-head agent (C) with supervision weights ``AUX_WEIGHTS``, and the
belief agent trained off-policy from a replay of old episodes. Every learning curve is stored in
``details`` so that notebooks/03_task_inference.py can re-plot them without training.

Usage: ``python benchmarks/belief_vs_lstm.py`` (about 15 minutes on 2 CPU cores);
``--quick`` runs a tiny version to test the script.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peach_lite.belief_agents import BeliefAgentConfig, evaluate, make_family, steps_to_threshold, train  # noqa: E402
from peach_lite.results import write_results  # noqa: E402

SEEDS = [0, 1, 2]
BASE = dict(family="movement", num_updates=400, batch_size=64, lr=1e-2, ppo_epochs=4, eval_every=20, eval_episodes=256)
"""Shared settings of every run (see BeliefAgentConfig for their meaning)."""
THRESHOLD_FRACTION = 0.7
"""Return threshold for the steps ratio, as a fraction of the Bayes-optimal return: above the 0.53 that
walking to one goal and staying there reaches, so it needs the memory of which goal was tried."""
IB_WEIGHTS = [0.01, 0.1, 1.0]
AUX_WEIGHTS = [0.0, 0.1, 1.0]
FINAL_EPISODES = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget, to test the script (results not meaningful)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    base = dict(BASE)
    seeds = SEEDS
    final_episodes = FINAL_EPISODES
    if args.quick:
        base.update(num_updates=4, eval_every=2, eval_episodes=16, batch_size=16)
        final_episodes = 64
    start = time.perf_counter()
    family = make_family("movement")
    # held-out episodes: balanced real goals, goal positions from a seed never used in training
    eval_tasks = family.eval_tasks(final_episodes)
    _, probe = evaluate(_untrained("belief", base), family, eval_tasks, seed=777, return_rollout=True)
    goals = probe.extras["goals"]
    bayes = family.bayes_optimal_return(goals)
    oracle = family.oracle_return(probe)
    from peach_lite.envs.oracles import movement_bandits_values_for_goals

    commit = float(movement_bandits_values_for_goals(goals.numpy())["commit_to_one"].mean())
    threshold = THRESHOLD_FRACTION * bayes
    print(f"held-out references on {final_episodes} episodes: Bayes-optimal {bayes:.2f}, oracle {oracle:.2f}, "
          f"commit-to-one {commit:.2f}; threshold {threshold:.2f}")

    runs: dict[str, dict] = {}

    def run(name: str, **overrides) -> dict:
        config = BeliefAgentConfig(**{**base, **overrides})
        agent, history = train(config, progress=False)
        final, roll = evaluate(agent, family, eval_tasks, seed=777, return_rollout=True)
        assert torch.equal(roll.extras["goals"], goals), "held-out goals must be the same for every agent"
        steps = steps_to_threshold(history.eval_steps, history.eval_return, threshold)
        record = {"config": _plain(dataclasses.asdict(config)), "history": history.to_dict(), "final_return": final,
                  "steps_to_threshold": steps if math.isfinite(steps) else None}  # None: never reached
        runs[name] = record
        print(f"{name:24s} final {final:6.2f} ({final / bayes:.3f} of Bayes)  steps to {threshold:.1f}: "
              f"{steps:.3g}  [{history.elapsed:.0f} s]", flush=True)
        return record

    for seed in seeds:
        run(f"belief/seed{seed}", agent="belief", seed=seed)
        run(f"lstm/seed{seed}", agent="lstm", seed=seed)
    for weight in IB_WEIGHTS:
        run(f"belief_ib{weight:g}/seed0", agent="belief", ib_weight=weight, seed=0)
    for weight in AUX_WEIGHTS:
        run(f"aux_w{weight:g}/seed0", agent="aux", belief_weight=weight, seed=0)
    run("belief_replay/seed0", agent="belief", belief_data="replay", seed=0)

    belief_final = np.array([runs[f"belief/seed{s}"]["final_return"] for s in seeds])
    lstm_final = np.array([runs[f"lstm/seed{s}"]["final_return"] for s in seeds])
    budget_steps = runs[f"lstm/seed{seeds[0]}"]["history"]["env_steps"][-1]
    ratios, censored = [], 0
    for s in seeds:
        belief_steps = runs[f"belief/seed{s}"]["steps_to_threshold"]
        lstm_steps = runs[f"lstm/seed{s}"]["steps_to_threshold"]
        if lstm_steps is None:
            censored += 1
            lstm_steps = budget_steps
        ratios.append(lstm_steps / belief_steps if belief_steps is not None else math.nan)
    ratios = np.array(ratios)
    wall = time.perf_counter() - start
    headline = {
        "belief_fraction_of_bayes": float(belief_final.mean() / bayes),
        "belief_fraction_of_bayes_min": float(belief_final.min() / bayes),
        "lstm_fraction_of_bayes": float(lstm_final.mean() / bayes),
        "steps_ratio_lstm_over_belief": float(np.nanmean(ratios)) if np.isfinite(ratios).any() else 0.0,
        "steps_ratio_min": float(np.nanmin(ratios)) if np.isfinite(ratios).any() else 0.0,
        "lstm_censored_seeds": float(censored),
        "belief_return": float(belief_final.mean()),
        "lstm_return": float(lstm_final.mean()),
        "bayes_optimal_return": bayes,
        "oracle_return": oracle,
        "commit_to_one_return": commit,
        "threshold_return": threshold,
        "wall_time_s": wall,
    }
    details = {
        "family": "movement",
        "env_id": family.env_id,
        "threshold_fraction_of_bayes": THRESHOLD_FRACTION,
        "final_episodes": final_episodes,
        "per_seed": {"belief_final": belief_final.tolist(), "lstm_final": lstm_final.tolist(), "steps_ratio": ratios.tolist()},
        "ib_weights": IB_WEIGHTS,
        "aux_weights": AUX_WEIGHTS,
        "quick": bool(args.quick),
        "runs": runs,
        "torch_threads": torch.get_num_threads(),
    }
    print(f"per seed: belief {np.round(belief_final, 2).tolist()}, lstm {np.round(lstm_final, 2).tolist()}, "
          f"steps ratio {np.round(ratios, 2).tolist()}; wall time {wall:.0f} s")
    write_results("belief_vs_lstm", headline, seeds=seeds, details=details)


def _untrained(agent: str, base: dict):
    from peach_lite.belief_agents import _build_agent

    config = BeliefAgentConfig(**{**base, "agent": agent})
    return _build_agent(config, make_family(config.family))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    main()
