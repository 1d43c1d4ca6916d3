"""Checkpoints: atomic save, safe load, and clear errors for every way a file can be wrong."""
import io
import json
import pickle
import zipfile

import pytest
import torch

import peach_lite
from peach_lite import checkpoints
from peach_lite.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_module_state,
    record_in_manifest,
    save_checkpoint,
)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    return tmp_path


def _net(hidden=8):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))


def _save(path, hidden=8):
    net = _net(hidden)
    save_checkpoint(path, {"net": net.state_dict()}, arch={"hidden": hidden, "env_id": "Pendulum-v1"}, meta={"steps": 10})
    return net


def test_round_trip_restores_identical_weights(data_dir):
    path = data_dir / "checkpoints" / "net.pt"
    net = _save(path)
    payload = load_checkpoint(path, arch={"hidden": 8})
    fresh = _net()
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)
    load_module_state(fresh, payload, "net", path)
    x = torch.randn(5, 3)
    assert torch.equal(fresh(x), net(x))
    assert payload["meta"] == {"steps": 10}
    assert payload["peach_lite_version"] == peach_lite.__version__
    assert path.stat().st_mode & 0o777 == 0o644


def test_interrupted_save_keeps_the_old_file(data_dir, monkeypatch):
    path = data_dir / "net.pt"
    _save(path)
    before = path.read_bytes()

    def broken_save(obj, handle):
        handle.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        _save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in data_dir.iterdir()) == ["net.pt"], "no temp file may be left behind"


def test_truncated_file_names_the_file(data_dir):
    path = data_dir / "net.pt"
    _save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="net.pt.*truncated, corrupt"):
        load_checkpoint(path)


def test_garbage_file_is_rejected(data_dir):
    path = data_dir / "junk.pt"
    path.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['PEACH_DATA_DIR'], 'pwned').touch()",))


def test_pickled_code_is_never_executed(data_dir):
    path = data_dir / "evil.pt"
    torch.save({"format": "peach_lite.checkpoint", "state": _Exploit()}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)
    assert not (data_dir / "pwned").exists()


def test_plain_torch_file_is_not_a_checkpoint(data_dir):
    path = data_dir / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a peach_lite checkpoint"):
        load_checkpoint(path)


def test_other_package_version_is_refused(data_dir, monkeypatch):
    path = data_dir / "old.pt"
    monkeypatch.setattr(peach_lite, "__version__", "0.0.9")
    _save(path)
    monkeypatch.undo()
    monkeypatch.setenv("PEACH_DATA_DIR", str(data_dir))
    with pytest.raises(CheckpointError, match=r"old.pt: saved by peach_lite 0.0.9, but this is peach_lite"):
        load_checkpoint(path)


def test_architecture_mismatch_is_explained(data_dir):
    path = data_dir / "net.pt"
    _save(path, hidden=8)
    with pytest.raises(CheckpointError, match="architecture mismatch: hidden: file has 8, expected 16"):
        load_checkpoint(path, arch={"hidden": 16})
    payload = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="'net' does not fit this network"):
        load_module_state(_net(hidden=16), payload, "net", path)
    with pytest.raises(CheckpointError, match="no state named 'critic'"):
        load_module_state(_net(), payload, "critic", path)


def test_missing_file_is_a_file_not_found_error(data_dir):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(data_dir / "nope.pt")


def test_only_plain_data_next_to_the_tensors(data_dir):
    with pytest.raises(ValueError, match=r"arch\['env'\]"):
        save_checkpoint(data_dir / "x.pt", {}, arch={"env": object()})


def test_manifest_records_and_catches_a_changed_file(data_dir):
    path = data_dir / "checkpoints" / "net.pt"
    _save(path)
    entry = record_in_manifest(path, command="python -m peach_lite.example --seed 0", seed=0, score_name="mean_return",
                               score=-150.0, evaluate="peach_lite.example:evaluate", tolerance=20.0)
    manifest = json.loads((data_dir / "MANIFEST.json").read_text())
    assert manifest["artifacts"] == [entry]
    assert entry["file"] == "checkpoints/net.pt" and len(entry["sha256"]) == 64
    assert entry["versions"]["torch"] == torch.__version__
    load_checkpoint(path)  # sha matches
    other = data_dir / "other.pt"
    _save(other, hidden=4)
    path.write_bytes(other.read_bytes())  # same name, different bytes, changed behind the project's back
    with pytest.raises(CheckpointError, match="sha256 differs from data/MANIFEST.json.*python -m peach_lite.example"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="sha256"):
        checkpoints.verify_entry(entry)


def test_saving_over_a_recorded_file_drops_its_stale_entry(data_dir):
    path = data_dir / "checkpoints" / "net.pt"
    _save(path)
    record_in_manifest(path, command="python -m peach_lite.example", seed=0, score_name="mean_return", score=1.0,
                       evaluate="peach_lite.example:evaluate", tolerance=0.5)
    _save(path, hidden=4)  # a training command rewrites its checkpoint: the old entry no longer describes it
    assert json.loads((data_dir / "MANIFEST.json").read_text())["artifacts"] == []
    load_checkpoint(path)  # loadable (e.g. to evaluate it) before record_in_manifest writes the new entry


def test_manifest_rejects_bad_entries(data_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "x.pt"
    _save(outside)
    with pytest.raises(ValueError, match="path must be inside"):
        record_in_manifest(outside, command="c", seed=0, score_name="s", score=0, evaluate="peach_lite.a:b", tolerance=1)
    inside = data_dir / "x.pt"
    _save(inside)
    with pytest.raises(ValueError, match="evaluate"):
        record_in_manifest(inside, command="c", seed=0, score_name="s", score=0, evaluate="os:system", tolerance=1)
    with pytest.raises(ValueError, match="tolerance"):
        record_in_manifest(inside, command="c", seed=0, score_name="s", score=0, evaluate="peach_lite.a:b", tolerance=-1)


def test_one_save_load_path_for_every_registered_algorithm(data_dir):
    """save_agent/load_agent are the one path: arch["algorithm"] picks the class; a wrong one is refused by name."""
    from peach_lite.checkpoints import ALGORITHMS, CheckpointError, load_agent, save_agent
    from peach_lite.td3 import TD3, TD3Config

    agent = TD3(3, 1, TD3Config(hidden=(8,), buffer_size=10), action_low=[-2.0], action_high=[2.0], device="cpu")
    agent.env_id = "Pendulum-v1"
    path = save_agent(agent, data_dir / "td3.pt", meta={"note": "x"})
    loaded, payload = load_agent(path)
    assert type(loaded) is TD3 and payload["arch"]["algorithm"] == "td3"
    obs = torch.randn(4, 3)
    assert torch.equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    with pytest.raises(CheckpointError, match="is a 'td3' checkpoint, not 'hac'"):
        load_agent(path, algorithm="hac")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        load_agent(path, algorithm="ppo2")
    with pytest.raises(ValueError, match="registered algorithms"):
        save_agent(object(), data_dir / "x.pt")
    with pytest.raises(ValueError, match="directory"):
        save_agent(agent, data_dir)
    assert set(ALGORITHMS) >= {"sac", "td3", "pearl", "hac", "belief"}


def test_cli_lists_and_rejects_unknown_presets(capsys, tmp_path):
    from peach_lite.cli import main

    main(["list"])
    assert "pendulum" in capsys.readouterr().out
    with pytest.raises(ValueError, match="preset must be one of"):
        main(["train", "sac", "--preset", "nope", "--out", str(tmp_path / "a.pt"), "--no-record"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        main(["train", "sac", "--set", "total_steps", "--out", str(tmp_path / "a.pt"), "--no-record"])


def _buffers(agent):
    """The replay buffers an agent trains from (its own, and its hierarchy's for PEACH; not the unused ones inside
    HIRO's and MQL's TD3 learners)."""
    from peach_lite.buffers import MultiTaskReplayBuffer, ReplayBuffer

    owners = [agent] + ([agent.hierarchy] if hasattr(agent, "hierarchy") else [])
    return [value for owner in owners for value in vars(owner).values() if isinstance(value, (ReplayBuffer, MultiTaskReplayBuffer))]


@pytest.mark.parametrize("path", sorted((peach_lite.paths.REPO_ROOT / "data" / "checkpoints").glob("*.pt")), ids=lambda p: p.name)
def test_a_loaded_agent_keeps_its_saved_config_buffer_sizes_included(path):
    """No placeholder capacity on load (a transfer once inherited PEACH's buffer_size 1 and trained on one transition);
    torch.empty buffers cost memory only as they fill, so a loaded agent's buffers are the saved size."""
    import dataclasses

    from peach_lite.checkpoints import load_agent

    agent, payload = load_agent(path, check_manifest=False)
    saved = payload["arch"].get("config")
    if saved is None or not dataclasses.is_dataclass(getattr(agent, "config", None)):
        pytest.skip(f"{path.name}: no dataclass config")
    loaded = json.loads(json.dumps(dataclasses.asdict(agent.config)))
    shared = set(saved) & set(loaded)  # older files lack newer fields (and MQL's use_context became task_input)
    assert {key: loaded[key] for key in shared} == {key: json.loads(json.dumps(saved[key])) for key in shared}
    assert "buffer_size" not in saved or "buffer_size" in shared
    for buffer in _buffers(agent):
        assert buffer.capacity > 1, (path.name, buffer)
