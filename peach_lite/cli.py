"""The one command line of the package: train any registered algorithm, or re-evaluate a checkpoint.

::

    python -m peach_lite train sac --preset pendulum --seed 0 --out data/checkpoints/sac_pendulum.pt
    python -m peach_lite train hac --preset maze-2 --set total_steps=60000 --out runs/hac.pt --no-record
    python -m peach_lite evaluate data/checkpoints/hac_maze.pt
    python -m peach_lite list

Each algorithm module exposes ``CLI = TrainSpec(...)``: named presets of keyword settings and a
``train(seed=..., progress=..., **settings) -> (agent, meta)`` function. This module does the rest in
one place: parsing, the thread policy, seeding, the atomic save, the re-evaluation and the manifest.

Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peach_lite.validation import check_choice, check_int

__all__ = ["TrainSpec", "main", "train_spec"]


@dataclass(frozen=True)
class TrainSpec:
    """How ``python -m peach_lite train <algorithm>`` trains one algorithm.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """

    train: Callable[..., tuple[Any, dict[str, Any]]]
    """``train(seed=..., progress=..., **settings) -> (agent, meta)``; settings come from a preset and ``--set``."""
    presets: dict[str, dict[str, Any]]
    """Named settings, e.g. ``{"pendulum": {"env_id": "Pendulum-v1", "total_steps": 15000}}``; the first is the default."""
    score_name: str
    """What ``agent.checkpoint_score`` measures (recorded in the manifest), e.g. ``"mean_return"``."""
    tolerance: float
    """How far a re-evaluation may fall short of the recorded score (manifest)."""
    higher_is_better: bool = True
    """Direction of the score."""
    preset_tolerances: dict[str, float] = field(default_factory=dict)
    """Per-preset tolerance where a preset's score is noisier (e.g. HalfCheetahVel's returns); else ``tolerance``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a module wants to note (unused by the CLI)."""


def train_spec(algorithm: str) -> TrainSpec:
    """The :class:`TrainSpec` of a registered algorithm (``ValueError`` listing the known ones)."""
    from peach_lite.checkpoints import ALGORITHMS

    check_choice("algorithm", algorithm, sorted(ALGORITHMS))
    module = importlib.import_module(ALGORITHMS[algorithm].partition(":")[0])
    spec = getattr(module, "CLI", None)
    if not isinstance(spec, TrainSpec):
        raise ValueError(f"algorithm {algorithm!r} has no command-line trainer (its module defines no CLI = TrainSpec(...))")
    return spec


def main(argv: Sequence[str] | None = None) -> float | None:
    """``python -m peach_lite {train,evaluate,list} ...``; returns the score of a trained or evaluated file."""
    from peach_lite.checkpoints import ALGORITHMS

    parser = argparse.ArgumentParser(prog="python -m peach_lite", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an algorithm and save a checkpoint")
    train.add_argument("algorithm", choices=sorted(ALGORITHMS))
    train.add_argument("--preset", default=None, help="named settings (see: python -m peach_lite list)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                       help="override one setting (a Python literal: 3, 0.1, [64, 64], 'x'); repeatable")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice); 1 gives bit-identical runs")
    train.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    train.add_argument("--no-record", action="store_true", help="do not write data/MANIFEST.json")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    evaluate = commands.add_parser("evaluate", help="re-evaluate a checkpoint (the manifest's score)")
    evaluate.add_argument("path", type=Path)
    commands.add_parser("list", help="list algorithms and their presets")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name in sorted(ALGORITHMS):
            try:
                spec = train_spec(name)
            except ValueError:
                continue
            for preset, settings in spec.presets.items():
                print(f"{name:8s} {preset:20s} {settings}")
        return None
    if args.command == "evaluate":
        from peach_lite.checkpoints import evaluate_checkpoint

        score = evaluate_checkpoint(args.path)
        print(f"{args.path}: {score:.4g}")
        return score
    return _train(args, argv)


def _train(args: argparse.Namespace, argv: Sequence[str] | None) -> float:
    from peach_lite.checkpoints import evaluate_checkpoint, record_in_manifest, save_agent
    from peach_lite.device import set_threads
    from peach_lite.seeding import seed_everything

    check_int("seed", args.seed, 0)
    spec = train_spec(args.algorithm)
    preset = args.preset or next(iter(spec.presets))
    check_choice("preset", preset, list(spec.presets))
    settings = dict(spec.presets[preset])
    settings.update(_parse_overrides(args.overrides, spec.train))
    set_threads(args.threads)
    seed_everything(args.seed)
    agent, meta = spec.train(seed=args.seed, progress=not args.no_progress, **settings)
    meta = {"seed": args.seed, "preset": preset, "settings": _plain(settings), **meta}
    path = save_agent(agent, args.out, meta=meta)
    score = evaluate_checkpoint(path)
    print(f"{path}: {spec.score_name} = {score:.4g}")
    if not args.no_record:
        command = "python -m peach_lite " + shlex.join(sys.argv[1:] if argv is None else list(argv))
        record_in_manifest(path, command=command, seed=args.seed, score_name=spec.score_name, score=score,
                           evaluate="peach_lite.checkpoints:evaluate_checkpoint",
                           tolerance=spec.preset_tolerances.get(preset, spec.tolerance),
                           higher_is_better=spec.higher_is_better)
    return score


def _parse_overrides(items: Sequence[str], train: Callable[..., Any]) -> dict[str, Any]:
    accepted = [p for p in inspect.signature(train).parameters if p not in ("seed", "progress")]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(train).parameters.values())
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--set must look like NAME=VALUE, got {item!r}")
        if name not in accepted and not takes_any:
            raise ValueError(f"--set {name}: unknown setting; accepted: {accepted}")
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[name] = text
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
