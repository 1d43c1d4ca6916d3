"""Multi-seed sweeps on Ray: the same code on one laptop or on a cluster, resumable, never losing a run.

Every benchmark trains each (configuration, seed) pair as one Ray task with one CPU::

    sweep = run_sweep(train_fn, {"ours": {...}, "sb3": {...}}, seeds=[0, 1, 2], name="sac_vs_sb3")
    returns = sweep.values("ours", "return")          # (num_seeds,) in the order of ``seeds``

* **Local by default.** ``ray.init()`` starts Ray on this machine with one worker per core. Give an address
  (``address="head-node:6379"``, ``--address`` on every benchmark, or ``RAY_ADDRESS``) and the same sweep
  runs on a Ray cluster. Every node needs the repository at the same commit, installed with
  ``pip install -c constraints.txt -e ".[sweep]"``.
* **Resumable.** Each finished run is written atomically to ``runs/<name>/<config>/seed<k>.json`` (config,
  seed, result, versions, command). A rerun skips every run whose file holds the same config, so an
  interrupted sweep (Ctrl-C, a lost node) resumes where it stopped; ``fresh=True`` redoes everything. A reused
  file made by other package source (``versions["peach_lite_source"]``) is named in a note.
* **Never silently drops a run.** A run that raises, or whose worker process dies, is retried up to
  ``max_retries`` times, then reported by name with its error (``SweepResult.failures``, and a
  ``seed<k>.error.json`` beside the results); the other runs are kept. ``SweepResult.check()`` raises.

Needs the ``sweep`` extra (``pip install -e .[sweep]``; ``make test`` and ``make bench`` install it).
Lessons never import this module. Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import argparse
import datetime as _dt
import inspect
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from peach_lite.paths import REPO_ROOT
from peach_lite.versions import source_fingerprint, stack_versions

__all__ = ["run_sweep", "SweepResult", "RunRecord", "RunFailure", "SweepError", "add_sweep_arguments",
           "sweep_options", "default_runs_dir"]

SERIAL = "serial"
"""``address=SERIAL`` (``--address serial``): no Ray; the runs go one after another in this process."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def default_runs_dir() -> Path:
    """``runs/`` at the repository root (git-ignored), ``runs/fast/`` in fast mode (``PEACH_FAST=1``: a smoke run
    never replaces a full run's file), or ``$PEACH_RUNS_DIR`` when set."""
    from peach_lite.budget import Budget

    return Path(os.environ.get("PEACH_RUNS_DIR", REPO_ROOT / "runs" / ("fast" if Budget.from_env().fast else "")))


def run_sweep(
    train_fn: Callable[..., Mapping[str, Any]],
    configs: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[int],
    *,
    name: str,
    runs_dir: str | Path | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_run: float = 1,
    max_retries: int = 1,
    fresh: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> "SweepResult":
    """Run ``train_fn(seed=seed, **configs[config_name])`` for every config and seed, one Ray task each.

    Args:
        train_fn: returns a JSON-ready dict of results (numbers, lists, strings; numpy values are converted).
            It must be importable or picklable: a function of a module, or of a benchmark script.
        configs: ``{config name: keyword arguments of train_fn}``; names become folder names.
        seeds: distinct integers; each config runs once per seed.
        name: the sweep's name, e.g. the benchmark's; runs go to ``<runs_dir>/<name>/<config>/seed<k>.json``.
        runs_dir: defaults to :func:`default_runs_dir` (``runs/``, ``runs/fast/`` in fast mode).
        address: a Ray cluster (``"host:6379"``, ``"ray://host:10001"``, ``"auto"``), or ``"serial"`` (no Ray: the
            runs one after another in this process, where Ray cannot start); None reads
            ``RAY_ADDRESS`` and, when that is unset too, starts Ray on this machine.
        num_cpus: CPUs a local Ray may use (default: all cores); ignored on a cluster.
        cpus_per_run: CPUs each run reserves (1: one run per core).
        max_retries: how many times a run that raised or whose worker died is tried again.
        fresh: redo runs that already have a file.
        progress: show a progress bar of finished runs.
        command: recorded in each run file; defaults to this process's command line.
    Returns:
        A :class:`SweepResult`: the finished runs (in config, then seed order) and the failures, by name.
    Raises:
        ValueError: an unknown config field, a duplicate seed, a bad name; ConnectionError: an unreachable address.
    """
    plan = _validate(train_fn, configs, seeds, name, max_retries)
    out = Path(runs_dir or default_runs_dir()) / name
    command = command or _this_command()
    start = time.perf_counter()

    finished: dict[tuple[str, int], RunRecord] = {}
    pending: list[tuple[str, int]] = []
    for config_name, seed in plan:
        record = None if fresh else _load_finished(out, config_name, seed, configs[config_name])
        if record is None:
            pending.append((config_name, seed))
        else:
            finished[config_name, seed] = record

    failures: dict[tuple[str, int], RunFailure] = {}
    if pending:
        _run_pending(train_fn, configs, pending, out, finished, failures, total=len(plan), name=name, address=address,
                     num_cpus=num_cpus, cpus_per_run=cpus_per_run, max_retries=max_retries, progress=progress,
                     command=command)
    result = SweepResult(
        name=name, runs_dir=out, seeds=[int(s) for s in seeds], config_names=list(configs),
        runs=[finished[key] for key in plan if key in finished],
        failures=[failures[key] for key in plan if key in failures],
        wall_s=time.perf_counter() - start)
    print(result.summary())
    return result


@dataclass(frozen=True)
class RunRecord:
    """One finished run, as stored in ``runs/<sweep>/<config>/seed<k>.json``."""

    config_name: str
    seed: int
    config: dict[str, Any]
    result: dict[str, Any]
    """What ``train_fn`` returned."""
    attempts: int
    """1 unless the run was retried."""
    elapsed_s: float
    """Wall time of the successful attempt, in the worker."""
    path: Path
    resumed: bool
    """True when this run was read from its file instead of being run again."""


@dataclass(frozen=True)
class RunFailure:
    """A run that failed every attempt."""

    config_name: str
    seed: int
    error: str
    """The error's type and message (the last attempt's)."""
    attempts: int

    @property
    def name(self) -> str:
        return f"{self.config_name}/seed{self.seed}"


class SweepError(RuntimeError):
    """Some runs of a sweep failed every attempt; the message names each with its error."""


@dataclass
class SweepResult:
    """The finished runs and the failures of one sweep."""

    name: str
    runs_dir: Path
    seeds: list[int]
    config_names: list[str]
    runs: list[RunRecord] = field(default_factory=list)
    failures: list[RunFailure] = field(default_factory=list)
    wall_s: float = 0.0

    def results(self, config_name: str) -> list[dict[str, Any]]:
        """What ``train_fn`` returned for ``config_name``, one dict per finished seed, in seed order."""
        if config_name not in self.config_names:
            raise KeyError(f"no config {config_name!r} in sweep {self.name!r}; configs: {self.config_names}")
        return [run.result for run in self.runs if run.config_name == config_name]

    def values(self, config_name: str, key: str) -> np.ndarray:
        """``result[key]`` of every finished seed of ``config_name``: (num_seeds,) float64."""
        rows = self.results(config_name)
        missing = [i for i, row in enumerate(rows) if key not in row]
        if missing:
            raise KeyError(f"{config_name}: result has no {key!r}; it has {sorted(rows[missing[0]])}")
        return np.array([float(row[key]) for row in rows])

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self) -> "SweepResult":
        """Raise :class:`SweepError` naming every failed run; return self when all finished."""
        if self.failures:
            lines = "\n".join(f"  {f.name} ({f.attempts} attempts): {f.error}" for f in self.failures)
            raise SweepError(f"sweep {self.name!r}: {len(self.failures)} of {len(self.runs) + len(self.failures)} runs "
                             f"failed; the {len(self.runs)} others are kept in {self.runs_dir} and a rerun "
                             f"does only the failed ones:\n{lines}")
        return self

    def summary(self) -> str:
        resumed = sum(run.resumed for run in self.runs)
        text = (f"sweep {self.name}: {len(self.runs)} runs finished ({resumed} resumed from {self.runs_dir}), "
                f"{len(self.failures)} failed, {self.wall_s:.1f} s")
        for failure in self.failures:
            text += f"\n  FAILED {failure.name} after {failure.attempts} attempts: {failure.error}"
        return text


def add_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The sweep flags every benchmark shares: --address, --num-cpus, --runs-dir, --max-retries, --fresh, --out."""
    group = parser.add_argument_group("sweep (Ray)")
    group.add_argument("--address", default=None,
                       help="Ray cluster to run on, e.g. head-node:6379 (default: $RAY_ADDRESS, else this machine); "
                            "'serial': no Ray, the runs one after another in this process")
    group.add_argument("--num-cpus", type=int, default=None, help="CPUs a local Ray may use (default: all cores)")
    group.add_argument("--runs-dir", type=Path, default=None, help="where run files go (default: runs/)")
    group.add_argument("--max-retries", type=int, default=1, help="retries of a run that crashed (default: 1)")
    group.add_argument("--fresh", action="store_true", help="redo runs that already have a file under runs/")
    group.add_argument("--out", type=Path, default=None, help="where the results JSON and PNG go (default: data/results)")
    return parser


def sweep_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`run_sweep` from the flags of :func:`add_sweep_arguments`."""
    return {"address": args.address, "num_cpus": args.num_cpus, "runs_dir": args.runs_dir,
            "max_retries": args.max_retries, "fresh": args.fresh}


# ---------------------------------------------------------------------------------------------
# Helpers


def _validate(train_fn, configs, seeds, name, max_retries) -> list[tuple[str, int]]:
    """Check the inputs before anything starts; returns the (config name, seed) pairs in order."""
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {train_fn!r}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a plain folder name like 'sac_vs_sb3', got {name!r}")
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError(f"configs must be a non-empty {{name: {{field: value}}}} dict, got {configs!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seeds must be integers, got {seed!r}")
    duplicates = sorted({int(s) for s in seeds if seeds.count(s) > 1})
    if duplicates:
        raise ValueError(f"duplicate seeds {duplicates} in {seeds}: each seed must appear once")

    parameters = inspect.signature(train_fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if "seed" not in parameters and not takes_any:
        raise ValueError(f"train_fn {getattr(train_fn, '__name__', train_fn)} must take a 'seed' keyword argument")
    accepted = sorted(p for p in parameters if p != "seed" and parameters[p].kind not in
                      (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
    for config_name, config in configs.items():
        if not isinstance(config_name, str) or not _NAME.match(config_name):
            raise ValueError(f"config name {config_name!r} must be a plain folder name (letters, digits, _ . = + -)")
        if not isinstance(config, Mapping):
            raise ValueError(f"config {config_name!r} must be a dict of train_fn's keyword arguments, got {config!r}")
        if "seed" in config:
            raise ValueError(f"config {config_name!r} sets 'seed'; seeds come from the seeds argument")
        unknown = [key for key in config if key not in parameters] if not takes_any else []
        if unknown:
            raise ValueError(f"config {config_name!r} has unknown field(s) {unknown} for "
                             f"{train_fn.__name__}; it accepts {accepted}")
        try:
            json.dumps(dict(config), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"config {config_name!r} must hold JSON values (numbers, strings, lists): {error}") from None
    return [(config_name, int(seed)) for config_name in configs for seed in seeds]


def _run_file(out: Path, config_name: str, seed: int) -> Path:
    return out / config_name / f"seed{seed}.json"


def _load_finished(out: Path, config_name: str, seed: int, config: Mapping[str, Any]) -> RunRecord | None:
    """The run's record when its file exists and was made with the same config; else None (run it)."""
    path = _run_file(out, config_name, seed)
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"note: {path} is unreadable ({error}); running it again")
        return None
    if stored.get("config") != json.loads(json.dumps(dict(config))) or stored.get("seed") != seed:
        kept = path.with_name(f"seed{seed}.replaced.json")  # nothing is lost: the old run stays readable
        os.replace(path, kept)
        print(f"note: {path} was made with another config; kept as {kept.name}, running it again")
        return None
    made_by = stored.get("versions", {}).get("peach_lite_source")
    if made_by is not None and made_by != (now := source_fingerprint()):
        print(f"note: {path} was made by other peach_lite source ({made_by}, now {now}); reused because its config is "
              "the same (fresh=True runs it again)")
    return RunRecord(config_name, seed, stored["config"], stored["result"], int(stored.get("attempts", 1)),
                     float(stored.get("elapsed_s", 0.0)), path, resumed=True)


def _run_pending(train_fn, configs, pending, out, finished, failures, *, total, name, address, num_cpus,
                 cpus_per_run, max_retries, progress, command) -> None:
    """Submit every pending run, collect them as they finish, retry failures, write each file at once."""
    from tqdm.auto import tqdm

    if (address or os.environ.get("RAY_ADDRESS")) == SERIAL:
        _run_serially(train_fn, configs, pending, out, finished, failures, total=total, name=name, max_retries=max_retries,
                      progress=progress, command=command)
        return
    import ray
    from ray.exceptions import RayError

    started_here = _connect(address, num_cpus)
    in_flight: dict[Any, tuple[str, int, int]] = {}  # ObjectRef -> (config name, seed, attempt)
    try:
        task = ray.remote(_run_one).options(num_cpus=cpus_per_run, max_retries=0)
        function_ref = ray.put(train_fn)

        def submit(config_name: str, seed: int, attempt: int) -> None:
            ref = task.remote(function_ref, dict(configs[config_name]), seed)
            in_flight[ref] = (config_name, seed, attempt)

        for config_name, seed in pending:
            submit(config_name, seed, 1)
        with tqdm(total=total, initial=total - len(pending), desc=f"sweep {name}", unit="run",
                  disable=not progress) as bar:
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)  # returns often, so Ctrl-C is heard
                if not ready:
                    continue
                ref = ready[0]
                config_name, seed, attempt = in_flight.pop(ref)
                try:
                    value = ray.get(ref)
                except (RayError, Exception) as error:  # a raise in train_fn, a dead worker, a lost node
                    message = _describe(error)
                    if attempt <= max_retries:
                        bar.write(f"retrying {config_name}/seed{seed} (attempt {attempt + 1} of "
                                  f"{max_retries + 1}) after: {message}")
                        submit(config_name, seed, attempt + 1)
                        continue
                    failures[config_name, seed] = _store_failure(out, name, config_name, seed, configs[config_name], message,
                                                                 attempt, command)
                    bar.write(f"FAILED {config_name}/seed{seed} after {attempt} attempts: {message}")
                    bar.update(1)
                    continue
                finished[config_name, seed] = _store_success(out, name, config_name, seed, configs[config_name], value,
                                                             attempt, command)
                bar.update(1)
    finally:
        if started_here:
            ray.shutdown()
        elif ray.is_initialized():  # interrupted on a Ray we did not start: stop our unfinished runs, keep it running
            for ref in in_flight:
                ray.cancel(ref)  # interrupts the task; the worker process lives on


def _run_serially(train_fn, configs, pending, out, finished, failures, *, total, name, max_retries, progress, command) -> None:
    """``address="serial"``: the runs one after another in this process, no Ray (where Ray cannot start, e.g.
    an overloaded machine); the same run files, retries and records as the Ray path."""
    from tqdm.auto import tqdm

    with tqdm(total=total, initial=total - len(pending), desc=f"sweep {name}", unit="run", disable=not progress) as bar:
        for config_name, seed in pending:
            for attempt in range(1, max_retries + 2):
                try:
                    value = _run_one(train_fn, dict(configs[config_name]), seed)
                except Exception as error:  # noqa: BLE001 - any raise in train_fn is recorded, as on Ray
                    if attempt <= max_retries:
                        bar.write(f"retrying {config_name}/seed{seed} after: {_describe(error)}")
                        continue
                    failures[config_name, seed] = _store_failure(out, name, config_name, seed, configs[config_name],
                                                                 _describe(error), attempt, command)
                    break
                finished[config_name, seed] = _store_success(out, name, config_name, seed, configs[config_name], value,
                                                             attempt, command)
                break
            bar.update(1)


def _store_success(out, name, config_name, seed, config, value, attempt, command) -> RunRecord:
    """Write a finished run's file (and drop an old error file): the same record for the Ray and serial paths."""
    path = _run_file(out, config_name, seed)
    _write_json(path, {
        "sweep": name, "config_name": config_name, "seed": seed, "config": dict(config),
        "result": value["result"], "attempts": attempt, "elapsed_s": value["elapsed_s"],
        "node": value["node"], "versions": value["versions"], "command": command, "date": _now()})
    path.with_name(f"seed{seed}.error.json").unlink(missing_ok=True)
    return RunRecord(config_name, seed, dict(config), value["result"], attempt, value["elapsed_s"], path, resumed=False)


def _store_failure(out, name, config_name, seed, config, message, attempt, command) -> RunFailure:
    """Write a failed run's error file: the same record for the Ray and serial paths."""
    _write_json(out / config_name / f"seed{seed}.error.json", {
        "sweep": name, "config_name": config_name, "seed": seed, "config": dict(config),
        "error": message, "attempts": attempt, "command": command, "date": _now()})
    return RunFailure(config_name, seed, message, attempt)


def _run_one(train_fn, config: dict[str, Any], seed: int) -> dict[str, Any]:
    """What each Ray task runs (in a worker process): one training run, its result made JSON-ready."""
    start = time.perf_counter()
    result = train_fn(seed=seed, **config)
    if not isinstance(result, Mapping):
        raise TypeError(f"train_fn must return a dict of results, got {type(result).__name__}")
    result = json.loads(json.dumps(dict(result), default=_json_default, allow_nan=True))
    return {"result": result, "elapsed_s": time.perf_counter() - start, "node": socket.gethostname(),
            "versions": stack_versions()}


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Start or join Ray; True when this call started it (so the sweep shuts it down after)."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():  # the caller started Ray (a notebook, a test): use it, leave it running
        return False
    if address is None:
        ray.init(num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True, log_to_driver=True)
        return True
    env_vars = {k: v for k, v in os.environ.items() if k.startswith("PEACH_") or k == "OMP_NUM_THREADS"}
    try:
        ray.init(address=address, runtime_env={"env_vars": env_vars} if env_vars else None, ignore_reinit_error=True)
    except Exception as error:  # noqa: BLE001 - Ray raises several kinds; the message says which address failed
        raise ConnectionError(f"could not join the Ray cluster at {address!r}: {error}") from error
    return True


def _check_reachable(address: str) -> None:
    """Fail fast, naming the address, instead of letting ray.init retry an unreachable cluster for minutes."""
    if address in ("auto", "local"):
        return
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"Ray address {address!r} must look like host:port (e.g. head-node:6379), "
                         "ray://host:10001, or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as error:
        source = "RAY_ADDRESS" if address == os.environ.get("RAY_ADDRESS") else "--address"
        raise ConnectionError(f"cannot reach the Ray cluster at {address!r} (from {source}): {error}. Start it on the "
                              f"head node with `ray start --head --port={port}`, or unset RAY_ADDRESS and leave out "
                              "--address to run on this machine") from None


def _describe(error: BaseException) -> str:
    """A one-line ``Type: message`` of a run's error (the user's exception, not Ray's wrapper)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    text = " ".join(line.strip() for line in str(error).strip().splitlines() if line.strip())
    return f"{type(error).__name__}: {text}"[:500]


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if hasattr(value, "tolist"):  # torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-ready: return numbers, lists, strings or dicts")


def _write_json(path: Path, record: dict[str, Any]) -> None:
    """Atomically: a reader (or a resumed sweep) sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _this_command() -> str:
    from peach_lite.results import this_command

    return this_command()
