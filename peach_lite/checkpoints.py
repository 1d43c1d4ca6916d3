"""Checkpoints that are safe to load and say where they came from.

* ``save_checkpoint`` writes a temp file and renames it, so an interrupted save never leaves half a file.
* ``load_checkpoint`` uses ``torch.load(..., weights_only=True)``: no pickled code is ever executed.
  A truncated or corrupt file, a file from another ``peach_lite`` version, a different architecture or
  a file whose sha256 differs from ``data/MANIFEST.json`` raises :class:`CheckpointError` naming the file.
* ``save_agent`` / ``load_agent`` / ``evaluate_checkpoint`` are the one save/load path of every algorithm:
  the file's ``arch["algorithm"]`` picks the class from :data:`ALGORITHMS`, and a file of another
  algorithm is refused by name.
* ``record_in_manifest`` notes in ``data/MANIFEST.json`` the command, seed, versions, sha256 and the score
  a file reached, plus the function that re-evaluates it; ``tests/test_manifest.py`` re-checks every entry.

Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch

from peach_lite.paths import data_dir
from peach_lite.versions import stack_versions

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_module_state",
    "sha256_of",
    "record_in_manifest",
    "read_manifest",
    "manifest_path",
    "verify_entry",
    "evaluate_entry",
    "ALGORITHMS",
    "Checkpointable",
    "save_agent",
    "load_agent",
    "evaluate_checkpoint",
]

FORMAT = "peach_lite.checkpoint"
FORMAT_VERSION = 1
_PRIMITIVES = (str, int, float, bool, type(None))


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what is wrong."""


ALGORITHMS: dict[str, str] = {
    "sac": "peach_lite.sac:SAC",
    "td3": "peach_lite.td3:TD3",
    "mql": "peach_lite.mql:MQL",
    "pearl": "peach_lite.pearl:PEARL",
    "hac": "peach_lite.hac:HAC",
    "belief": "peach_lite.belief_agents:BeliefAgent",
    "mlsh": "peach_lite.mlsh:MLSH",
    "peach": "peach_lite.peach:PEACH",
    "hiro": "peach_lite.hiro:HIRO",
    "fun": "peach_lite.fun:FuN",
}
"""Algorithm name (``arch["algorithm"]`` in every file) -> the class that rebuilds it. New algorithms add a line."""


class Checkpointable(Protocol):
    """What :func:`save_agent` and :func:`load_agent` need from an agent class.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """

    algorithm: ClassVar[str]
    """Its key in :data:`ALGORITHMS`."""

    def arch(self) -> dict[str, Any]:
        """Plain data that rebuilds the networks (sizes, env id, config)."""

    def checkpoint_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """The named state dicts to save (networks; no replay buffers)."""

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], device: torch.device | str | None = None) -> "Checkpointable":
        """Rebuild from ``arch`` and load ``state`` (raise ``KeyError``/``RuntimeError`` on a misfit)."""

    def checkpoint_score(self, payload: dict[str, Any]) -> float:
        """The score ``data/MANIFEST.json`` records for this file, recomputed (fixed seeds)."""


def save_agent(agent: Checkpointable, path: str | os.PathLike, *, meta: dict[str, Any] | None = None) -> Path:
    """Save any registered agent atomically; ``arch["algorithm"]`` names its class.

    Args:
        agent: an instance of a class in :data:`ALGORITHMS`.
        path: the ``.pt`` file (not a directory); parent folders are created.
        meta: plain data (seed, steps, history, score).
    Returns:
        The path written.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """
    name = getattr(type(agent), "algorithm", None)
    if name not in ALGORITHMS:
        raise ValueError(f"agent must be one of the registered algorithms {sorted(ALGORITHMS)}, got {type(agent).__name__}")
    return save_checkpoint(path, agent.checkpoint_state(), arch={"algorithm": name, **agent.arch()}, meta=meta)


def load_agent(path: str | os.PathLike, *, algorithm: str | None = None, device: torch.device | str | None = None,
               check_manifest: bool = True) -> tuple[Any, dict[str, Any]]:
    """Rebuild the agent saved in ``path``; returns ``(agent, payload)``.

    Args:
        algorithm: when given, the file must hold this algorithm (a HAC file given to ``algorithm="sac"``
            raises ``CheckpointError`` saying it is a HAC checkpoint).
        device: where to put the networks (default CPU).
        check_manifest: compare the sha256 with ``data/MANIFEST.json`` when the file is listed there.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, got {algorithm!r}")
    payload = load_checkpoint(path, check_manifest=check_manifest)
    name = payload["arch"].get("algorithm", payload["arch"].get("algo"))  # "algo": files saved before 0.2
    name = name.lower() if isinstance(name, str) else name
    if name not in ALGORITHMS:
        raise CheckpointError(f"{path}: arch['algorithm'] is {name!r}, not one of {sorted(ALGORITHMS)}; "
                              "re-create it with the command in data/MANIFEST.json")
    if algorithm is not None and name != algorithm:
        raise CheckpointError(f"{path}: is a {name!r} checkpoint, not {algorithm!r}")
    cls = _resolve(ALGORITHMS[name])
    try:
        agent = cls.from_checkpoint(payload, device=device)
    except (KeyError, RuntimeError, TypeError) as error:
        raise CheckpointError(f"{path}: state does not fit a {name!r} agent: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return agent, payload


def evaluate_checkpoint(path: str | os.PathLike) -> float:
    """Load any registered checkpoint and recompute the score its manifest entry records.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """
    agent, payload = load_agent(path)
    return float(agent.checkpoint_score(payload))


def save_checkpoint(
    path: str | os.PathLike,
    state: dict[str, dict[str, torch.Tensor]],
    *,
    arch: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Save named state dicts atomically.

    Args:
        path: destination file (``.pt``); parent folders are created.
        state: ``{"actor": actor.state_dict(), "critic": ...}``; tensors only (buffers' state dicts too).
        arch: what is needed to rebuild the networks (sizes, env id); plain numbers, strings, lists, dicts.
            ``load_checkpoint(path, arch=...)`` refuses a file whose arch differs.
        meta: free-form plain data (training steps, score, seed).
    Returns:
        The path written.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path must be a file path (e.g. {path / 'agent.pt'}), got the directory {path}")
    _check_plain("arch", arch)
    _check_plain("meta", meta or {})
    for name, tensors in state.items():
        if not isinstance(tensors, dict):
            raise ValueError(f"state[{name!r}] must be a state dict (dict of tensors), got {type(tensors).__name__}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "peach_lite_version": _package_version(),
        "arch": arch,
        "meta": meta or {},
        "state": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary shared file
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _forget_manifest_entry(path)
    return path


def load_checkpoint(
    path: str | os.PathLike, *, arch: dict[str, Any] | None = None, check_manifest: bool = True
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` without unpickling arbitrary objects.

    Args:
        path: the ``.pt`` file.
        arch: when given, every key must match the file's ``arch``.
        check_manifest: when the file is listed in ``data/MANIFEST.json``, its sha256 must match.
    Returns:
        ``{"state": {...}, "arch": {...}, "meta": {...}, "peach_lite_version": str, ...}``.
    Raises:
        FileNotFoundError: no such file.
        CheckpointError: corrupt/truncated, not a peach_lite checkpoint, other version, arch or sha mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if check_manifest:
        entry = _manifest_entry_for(path)
        if entry is not None and sha256_of(path) != entry["sha256"]:
            raise CheckpointError(
                f"{path}: sha256 differs from data/MANIFEST.json (file changed or corrupt); "
                f"re-create it with: {entry['command']}"
            )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, bad magic, forbidden pickle global, ...
        raise CheckpointError(
            f"{path}: not a readable peach_lite checkpoint (truncated, corrupt or unsafe): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a peach_lite checkpoint (no '{FORMAT}' header)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload.get('format_version')} is not supported (expected {FORMAT_VERSION})"
        )
    saved, current = payload.get("peach_lite_version", "?"), _package_version()
    if _minor(saved) != _minor(current):
        raise CheckpointError(
            f"{path}: saved by peach_lite {saved}, but this is peach_lite {current}; "
            "re-create it with the command recorded in data/MANIFEST.json"
        )
    if arch is not None:
        differences = [
            f"{key}: file has {payload['arch'].get(key, '<missing>')!r}, expected {value!r}"
            for key, value in arch.items()
            if payload["arch"].get(key, "<missing>") != value
        ]
        if differences:
            raise CheckpointError(f"{path}: architecture mismatch: " + "; ".join(differences))
    return payload


def load_module_state(module: torch.nn.Module, payload: dict[str, Any], name: str, path: str | os.PathLike) -> None:
    """``module.load_state_dict(payload["state"][name])`` with errors that name the file and the part."""
    if name not in payload["state"]:
        raise CheckpointError(f"{path}: has no state named {name!r} (has {sorted(payload['state'])})")
    try:
        module.load_state_dict(payload["state"][name])
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"{path}: {name!r} does not fit this network: {first}") from None


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# The manifest: data/MANIFEST.json


def manifest_path() -> Path:
    """``data/MANIFEST.json``."""
    return data_dir() / "MANIFEST.json"


def read_manifest() -> dict[str, Any]:
    """The manifest as a dict ``{"format_version": 1, "artifacts": [...]}`` (empty when missing)."""
    path = manifest_path()
    if not path.exists():
        return {"format_version": 1, "artifacts": []}
    return json.loads(path.read_text())


def record_in_manifest(
    path: str | os.PathLike,
    *,
    command: str,
    seed: int,
    score_name: str,
    score: float,
    evaluate: str,
    tolerance: float,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """Add (or replace) the manifest entry for a file under ``data/``.

    Args:
        path: the file, inside ``data/``.
        command: the exact command that produced it, runnable from the repository root.
        seed: the seed it was trained with.
        score_name / score: the figure it reached, e.g. ``"mean_return"``, -150.2.
        evaluate: ``"peach_lite.module:function"``; ``function(path) -> float`` recomputes the score.
        tolerance: how far a re-evaluation may fall short of ``score`` and still pass.
        higher_is_better: direction of the score.
    """
    path = Path(path).resolve()
    root = data_dir().resolve()
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        raise ValueError(f"path must be inside {root}, got {path}") from None
    if not evaluate.startswith("peach_lite.") or ":" not in evaluate:
        raise ValueError(f"evaluate must look like 'peach_lite.module:function', got {evaluate!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be in [0, inf], got {tolerance}")
    entry = {
        "file": relative,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "command": command,
        "seed": int(seed),
        "peach_lite_version": _package_version(),
        "versions": stack_versions(),
        "score": {"name": score_name, "value": float(score), "tolerance": float(tolerance),
                  "higher_is_better": bool(higher_is_better)},
        "evaluate": evaluate,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    manifest = read_manifest()
    manifest["artifacts"] = [e for e in manifest["artifacts"] if e["file"] != relative] + [entry]
    manifest["artifacts"].sort(key=lambda e: e["file"])
    _write_manifest(manifest)
    return entry


def verify_entry(entry: dict[str, Any]) -> Path:
    """Check that a manifest entry's file exists and its sha256 matches; return its path."""
    path = data_dir() / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"{path}: listed in data/MANIFEST.json but missing; re-create it with: {entry['command']}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise CheckpointError(f"{path}: sha256 {actual[:12]}… differs from the manifest's {entry['sha256'][:12]}…")
    return path


def evaluate_entry(entry: dict[str, Any]) -> float:
    """Re-run the entry's ``evaluate`` function on its file and return the score."""
    path = verify_entry(entry)
    return float(_resolve(entry["evaluate"])(path))


def _resolve(spec: str) -> Any:
    module_name, _, function_name = spec.partition(":")
    if not module_name.startswith("peach_lite."):
        raise ValueError(f"evaluate must name a peach_lite function, got {spec!r}")
    return getattr(importlib.import_module(module_name), function_name)


def _write_manifest(manifest: dict[str, Any]) -> None:
    """Write data/MANIFEST.json atomically (a temporary file, then a rename)."""
    target = manifest_path()
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, target)


def _forget_manifest_entry(path: Path) -> None:
    """A file under data/ was just overwritten: its manifest entry no longer describes it, so drop it
    (``record_in_manifest`` writes the new one; a file left unrecorded fails ``tests/test_manifest.py``)."""
    entry = _manifest_entry_for(path)
    if entry is None:
        return
    manifest = read_manifest()
    manifest["artifacts"] = [e for e in manifest["artifacts"] if e["file"] != entry["file"]]
    _write_manifest(manifest)


def _manifest_entry_for(path: Path) -> dict[str, Any] | None:
    try:
        relative = path.resolve().relative_to(data_dir().resolve()).as_posix()
    except ValueError:
        return None
    return next((e for e in read_manifest()["artifacts"] if e["file"] == relative), None)


def _check_plain(field: str, value: Any) -> None:
    """Only plain data goes next to the tensors, so ``weights_only=True`` can load it."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{field} keys must be strings, got {key!r}")
            _check_plain(f"{field}[{key!r}]", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(f"{field}[{index}]", item)
    elif not isinstance(value, _PRIMITIVES):
        raise ValueError(f"{field} must hold only str/int/float/bool/None/list/dict, got {type(value).__name__}")


def _package_version() -> str:
    from peach_lite import __version__

    return __version__


def _minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])
