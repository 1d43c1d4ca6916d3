"""Which half of PEACH fails: can its encoder and its context format carry the goal at all, taught directly?

``benchmarks/peach_hindsight.py`` found PEACH's posterior collapsed (the paid-context probe's signal-to-noise about 0).
Here ``peach_diagnostics.encoder_capacity_probe`` trains a FRESH encoder of the pretrained agent's architecture
(``data/checkpoints/peach_maze.pt``: latent_dim 5, encoder 64x64x64, product of Gaussians, rows [s, ã, r, s']) and a
linear read-out to regress the goal (x, y) from contexts of real top-level attempts in the hidden-goal maze (the agent's
lower levels under random subgoals), rewards recomputed for each goal by the env; paid contexts hold an attempt that
ended at the goal, unpaid ones none. Two teachers, everything else equal:

* ``supervised``: squared goal error of the read-out of z ~ q(z | c) alone (kl_lambda 0): the encoder's capacity;
* ``supervised_kl``: the same plus the agent's KL term (kl_lambda 0.1, summed over the 8 contexts of a step, as in
  training): the bottleneck's balance with a direct signal.

The RL-trained posterior of the checkpoint is scored on the same held-out contexts (``rl``: its signal-to-noise and a
least-squares linear read-out of the goal from its means), and by ``paid_context_probe`` itself (``rl_paid_probe_*``).

Headline (mean over seeds; n = 32 rows, the training context size; ``supervised_*`` also suffixed ``_8``/``_80``):
``supervised_goal_error_paid``, ``supervised_snr_paid``, ``supervised_goal_error_unpaid``, ``supervised_kl_*``,
``baseline_goal_error`` (predicting the mean goal), ``rl_snr_paid``, ``rl_goal_error_paid``, ``rl_paid_probe_snr``,
``cpu_minutes`` (the whole run).

Run (about 3 CPU-minutes, one process)::

    python benchmarks/peach_encoder_probe.py

Writes data/results/peach_encoder_probe.json and .png; in fast mode (PEACH_FAST=1) a smoke run that writes nothing
unless --out is given.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from peach_lite.budget import Budget
from peach_lite.results import bars_panel, figure_spec, write_results
from peach_lite.stats import headline_stats

CHECKPOINT = "data/checkpoints/peach_maze.pt"
VARIANTS = {"supervised": 0.0, "supervised_kl": None}
"""kl_lambda of each teacher (None: the agent's own, 0.1)."""
HEADLINE_ROWS = 32
"""The context size of the unsuffixed headline keys (the agent's ``context_batch``)."""
SNR_FLOOR = 1e-4
"""The figure's log axis draws signal-to-noise below this at this value."""


def run_seed(seed: int, sizes: list[int], settings: dict) -> dict:
    """Both teachers' probes for one seed, and the checkpoint's paid-context probe."""
    import torch

    from peach_lite.checkpoints import load_agent
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.paths import REPO_ROOT
    from peach_lite.peach_diagnostics import PROBE_SEED, encoder_capacity_probe, paid_context_probe
    from peach_lite.seeding import seed_everything

    torch.set_num_threads(1)
    seed_everything(seed)
    agent, _ = load_agent(REPO_ROOT / CHECKPOINT)
    envs = GymTaskEnvs(agent.spec.env_id, seed=PROBE_SEED + seed)
    try:
        out: dict = {}
        for name, kl_lambda in VARIANTS.items():
            cpu = time.process_time()
            out[name] = encoder_capacity_probe(agent, envs, num_rows=sizes, kl_lambda=kl_lambda, seed=PROBE_SEED + 10 * seed, **settings)
            out[name]["cpu_s"] = time.process_time() - cpu
        out["paid_probe"] = paid_context_probe(agent, envs, envs.unwrapped.test_tasks(), num_samples=1, seed=PROBE_SEED + seed)
        return out
    finally:
        envs.close()


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=budget.pick(full=[0, 1, 2], fast=[0]))
    parser.add_argument("--num-rows", type=int, nargs="+", default=budget.pick(full=[8, 32, 80], fast=[8, 32]))
    parser.add_argument("--train-steps", type=int, default=budget.pick(full=6000, fast=30))
    parser.add_argument("--num-episodes", type=int, default=budget.pick(full=96, fast=24))
    parser.add_argument("--num-eval", type=int, default=budget.pick(full=256, fast=16))
    parser.add_argument("--out", type=Path, default=None, help="where the results JSON and PNG go (default: data/results)")
    args = parser.parse_args()
    if HEADLINE_ROWS not in args.num_rows:
        raise ValueError(f"--num-rows must include {HEADLINE_ROWS} (the headline's context size), got {args.num_rows}")

    cpu = time.process_time()
    settings = {"train_steps": args.train_steps, "num_episodes": args.num_episodes, "num_eval": args.num_eval}
    runs = [run_seed(seed, args.num_rows, settings) for seed in args.seeds]
    cpu_minutes = (time.process_time() - cpu) / 60

    def mean(variant: str, key: str) -> float:
        return float(np.mean([run[variant][key] for run in runs]))

    headline: dict[str, float] = {}
    for variant in VARIANTS:
        for kind in ("paid", "unpaid"):
            for n in args.num_rows if variant == "supervised" else [HEADLINE_ROWS]:
                suffix = "" if n == HEADLINE_ROWS else f"_{n}"
                headline[f"{variant}_goal_error_{kind}{suffix}"] = mean(variant, f"goal_error_{kind}_{n}")
                headline[f"{variant}_snr_{kind}{suffix}"] = mean(variant, f"snr_{kind}_{n}")
    for kind in ("paid", "unpaid"):
        headline[f"rl_snr_{kind}"] = mean("supervised", f"rl_snr_{kind}_{HEADLINE_ROWS}")
        headline[f"rl_goal_error_{kind}"] = mean("supervised", f"rl_goal_error_{kind}_{HEADLINE_ROWS}")
    headline["baseline_goal_error"] = mean("supervised", f"baseline_goal_error_paid_{HEADLINE_ROWS}")
    headline["baseline_goal_error_unpaid"] = mean("supervised", f"baseline_goal_error_unpaid_{HEADLINE_ROWS}")
    headline["rl_paid_probe_snr"] = float(np.mean([run["paid_probe"]["signal_to_noise"] for run in runs]))
    headline["rl_paid_probe_success"] = float(np.mean([run["paid_probe"]["success"] for run in runs]))
    headline["cpu_minutes"] = cpu_minutes
    for key in ("goal_error_paid", "goal_error_unpaid"):  # IQM and 95% bootstrap interval over seeds
        headline |= headline_stats(f"supervised_{key}", [run["supervised"][f"{key}_{HEADLINE_ROWS}"] for run in runs])

    if budget.fast and args.out is None:
        print(f"fast run ({len(args.seeds)} seed(s), {args.train_steps} steps): writes nothing; headline: {headline}")
        return

    categories = [f"{kind}, n={n}" for kind in ("paid", "unpaid") for n in args.num_rows]

    def per_seed(variant: str, key: str, floor: float | None = None) -> list[list[float]]:
        values = [[run[variant][key.format(kind=c.split(",")[0], n=c.split("=")[1])] for run in runs] for c in categories]
        return [[max(v, floor) for v in row] for row in values] if floor is not None else values

    figure = figure_spec("Can PEACH's encoder carry the goal when taught it directly? (hidden-goal maze, held-out goals)", [
        bars_panel("goal error of a read-out from z", "context (paid: holds an attempt that ended at the goal; n rows)",
                   "mean distance to the goal (maze units)", categories,
                   [{"label": "supervised encoder", "values": per_seed("supervised", "goal_error_{kind}_{n}")},
                    {"label": "supervised + KL 0.1", "values": per_seed("supervised_kl", "goal_error_{kind}_{n}")},
                    {"label": "RL-trained posterior (linear read-out)", "values": per_seed("supervised", "rl_goal_error_{kind}_{n}")}],
                   hlines=[{"label": "no information (mean goal)", "y": headline["baseline_goal_error"]}]),
        bars_panel(f"posterior signal-to-noise (drawn at >= {SNR_FLOOR:g})", "context (n rows)",
                   "spread of means / posterior std", categories,
                   [{"label": "supervised encoder", "values": per_seed("supervised", "snr_{kind}_{n}", SNR_FLOOR)},
                    {"label": "supervised + KL 0.1", "values": per_seed("supervised_kl", "snr_{kind}_{n}", SNR_FLOOR)},
                    {"label": "RL-trained posterior", "values": per_seed("supervised", "rl_snr_{kind}_{n}", SNR_FLOOR)}],
                   hlines=[{"label": "signal = noise", "y": 1.0}], log=True),
    ])
    write_results("peach_encoder_probe", headline, seeds=list(args.seeds),
                  details={"runs": runs, "checkpoint": CHECKPOINT, "variants": VARIANTS, "settings": settings,
                           "num_rows": list(args.num_rows)},
                  figure=figure, out_dir=args.out)


if __name__ == "__main__":
    main()
