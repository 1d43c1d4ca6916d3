"""run_sweep on a real local Ray (2 CPUs): every result kept, crashes retried or reported, resume, bad input."""
import json
import os
import signal
import sys
import time

import pytest

ray = pytest.importorskip("ray", reason="needs the sweep extra: pip install -e .[sweep]")

from peach_lite.sweep import SweepError, run_sweep  # noqa: E402

# The train functions below live in this test module, which Ray's workers cannot import by name: ship them by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

CONFIGS = {"small": {"scale": 1.0}, "large": {"scale": 10.0}}


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray for the whole file (starting Ray costs seconds); always shut down."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def train_tiny(seed, scale, duration=0.3):
    """A stand-in for training: about ``duration`` seconds, a result that depends on config and seed."""
    time.sleep(duration)
    return {"score": scale * (seed + 1), "curve": [scale * seed, scale * (seed + 1)], "pid": os.getpid()}


def train_flaky(seed, mode, marker_dir):
    """seed 1 dies (``crash``: its worker process exits; ``raise``: it raises) on its first attempt only."""
    marker = os.path.join(marker_dir, f"{mode}-seed{seed}")
    if seed == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        if mode == "crash":
            os._exit(1)
        raise RuntimeError("first attempt fails")
    return {"score": float(seed)}


def train_broken(seed, message):
    """seed 0 fails on every attempt: ``message == "exit"`` kills its worker process, anything else raises."""
    if seed == 0 and message == "exit":
        os._exit(3)
    if seed == 0 and message != "unused":
        raise ValueError(message)
    return {"score": float(seed)}


# Bad input first: these need no Ray, and fail before one would start.

@pytest.mark.parametrize("configs, seeds, match", [
    ({"a": {"scale": 1.0, "learning_rat": 3e-4}}, [0], r"unknown field\(s\) \['learning_rat'\]"),
    ({"a": {"scale": 1.0}}, [0, 1, 0], r"duplicate seeds \[0\]"),
    ({"a": {"scale": 1.0, "seed": 3}}, [0], "sets 'seed'"),
    ({"a/b": {"scale": 1.0}}, [0], "config name 'a/b'"),
    ({}, [0], "non-empty"),
    ({"a": {"scale": 1.0}}, [], "at least one seed"),
])
def test_bad_input_is_a_clear_error(tmp_path, configs, seeds, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(train_tiny, configs, seeds, name="bad", runs_dir=tmp_path, progress=False)


def test_an_unreachable_cluster_is_a_clear_error(tmp_path, monkeypatch):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"cannot reach the Ray cluster at '127\.0\.0\.1:9'"):
        run_sweep(train_tiny, CONFIGS, [0], name="far", runs_dir=tmp_path, address="127.0.0.1:9", progress=False)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    with pytest.raises(ConnectionError, match="from RAY_ADDRESS"):
        run_sweep(train_tiny, CONFIGS, [0], name="far", runs_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="host:port"):
        run_sweep(train_tiny, CONFIGS, [0], name="far", runs_dir=tmp_path, address="head-node", progress=False)
    assert time.perf_counter() - start < 15


def test_tiny_sweep_keeps_every_result(local_ray, tmp_path):
    configs = {name: {**config, "duration": 1.0} for name, config in CONFIGS.items()}  # about a second each
    start = time.perf_counter()
    sweep = run_sweep(train_tiny, configs, [0, 1], name="tiny", runs_dir=tmp_path, progress=False)
    assert sweep.ok and len(sweep.runs) == 4 and not any(run.resumed for run in sweep.runs)
    assert sweep.values("small", "score").tolist() == [1.0, 2.0]
    assert sweep.values("large", "score").tolist() == [10.0, 20.0]
    assert sweep.results("large")[1]["curve"] == [10.0, 20.0]
    for run in sweep.runs:  # one file per run, with what is needed to trust and redo it
        stored = json.loads((tmp_path / "tiny" / run.config_name / f"seed{run.seed}.json").read_text())
        assert stored["config"] == configs[run.config_name] and stored["seed"] == run.seed
        assert stored["result"]["score"] == run.result["score"] and stored["attempts"] == 1
        assert {"versions", "command", "date", "elapsed_s"} <= set(stored) and "torch" in stored["versions"]
    assert os.getpid() not in {run.result["pid"] for run in sweep.runs}, "runs must run in Ray's worker processes"
    print(f"tiny sweep of 4 runs x 1 s on 2 CPUs: {time.perf_counter() - start:.2f} s on a running local Ray")


@pytest.mark.parametrize("mode", ["crash", "raise"])
def test_a_crashed_run_is_retried_and_the_others_kept(local_ray, tmp_path, mode):
    configs = {"flaky": {"mode": mode, "marker_dir": str(tmp_path)}}
    sweep = run_sweep(train_flaky, configs, [0, 1, 2], name="flaky", runs_dir=tmp_path, max_retries=1, progress=False)
    assert sweep.ok and sweep.values("flaky", "score").tolist() == [0.0, 1.0, 2.0]
    assert [run.attempts for run in sweep.runs] == [1, 2, 1]


def test_a_run_that_always_fails_is_reported_by_name(local_ray, tmp_path):
    configs = {"broken": {"message": "diverged at step 7"}, "dies": {"message": "exit"}, "fine": {"message": "unused"}}
    sweep = run_sweep(train_broken, configs, [0, 1], name="broken", runs_dir=tmp_path, max_retries=1, progress=False)
    broken, dies = sweep.failures
    assert broken.name == "broken/seed0" and broken.attempts == 2
    assert "ValueError" in broken.error and "diverged at step 7" in broken.error
    assert dies.name == "dies/seed0" and dies.attempts == 2 and "died" in dies.error.lower(), dies.error
    assert sorted((r.config_name, r.seed) for r in sweep.runs) == [("broken", 1), ("dies", 1), ("fine", 0), ("fine", 1)]
    assert (tmp_path / "broken" / "broken" / "seed0.error.json").exists()
    with pytest.raises(SweepError, match=r"broken/seed0 \(2 attempts\): ValueError: diverged at step 7"):
        sweep.check()


def train_gated(seed, scale, gate, log_dir):
    """seed 0 returns at once; seed 1 waits until the file ``gate`` exists (so it is in flight when we interrupt)."""
    with open(os.path.join(log_dir, "calls.log"), "a") as log:
        log.write(f"{scale}/{seed}\n")
    deadline = time.monotonic() + 30
    while seed == 1 and not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate} never appeared")
        time.sleep(0.05)
    return {"score": scale * (seed + 1)}


def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(local_ray, tmp_path):
    gate = tmp_path / "gate"
    configs = {name: {"scale": config["scale"], "gate": str(gate), "log_dir": str(tmp_path)} for name, config in CONFIGS.items()}
    finished = [tmp_path / "resume" / name / "seed0.json" for name in configs]

    def interrupt_when_seed0_is_done(signum, frame):  # Ctrl-C, once the two quick runs are on disk
        if all(path.exists() for path in finished):
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt_when_seed0_is_done)
    signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(train_gated, configs, [0, 1], name="resume", runs_dir=tmp_path, progress=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert all(path.exists() for path in finished)
    assert not list((tmp_path / "resume").glob("*/seed1.json")), "the gated runs cannot have finished"
    (tmp_path / "resume" / "large" / ".seed1.json.123.tmp").write_text('{"config": ')  # a half-written file, ignored

    (tmp_path / "calls.log").unlink()
    gate.touch()
    resumed = run_sweep(train_gated, configs, [0, 1], name="resume", runs_dir=tmp_path, progress=False)
    # a set: on a loaded machine a cancelled run of the first sweep may still start late and log a seed-1 call again
    assert set((tmp_path / "calls.log").read_text().split()) == {"1.0/1", "10.0/1"}, "only unfinished runs run again"
    assert [run.resumed for run in resumed.runs] == [True, False, True, False]
    assert resumed.values("small", "score").tolist() == [1.0, 2.0] and resumed.values("large", "score").tolist() == [10.0, 20.0]

    # a changed config is not "done": its runs are redone, the others are read back
    changed = {**configs, "small": {**configs["small"], "scale": 2.0}}
    again = run_sweep(train_gated, changed, [0, 1], name="resume", runs_dir=tmp_path, progress=False)
    assert [run.resumed for run in again.runs] == [False, False, True, True]
    assert again.values("small", "score").tolist() == [2.0, 4.0]
    kept = json.loads((tmp_path / "resume" / "small" / "seed0.replaced.json").read_text())  # the old run is kept
    assert kept["config"] == configs["small"] and kept["result"]["score"] == 1.0


def test_fast_mode_runs_go_to_their_own_folder(monkeypatch):
    from peach_lite.paths import REPO_ROOT
    from peach_lite.sweep import default_runs_dir

    monkeypatch.delenv("PEACH_RUNS_DIR", raising=False)
    monkeypatch.setenv("PEACH_FAST", "1")
    assert default_runs_dir() == REPO_ROOT / "runs" / "fast"  # a smoke run never replaces a full run's file
    monkeypatch.setenv("PEACH_FAST", "0")
    assert default_runs_dir() == REPO_ROOT / "runs"
    monkeypatch.setenv("PEACH_RUNS_DIR", "/somewhere")
    assert str(default_runs_dir()) == "/somewhere"


def test_serial_mode_runs_without_ray_and_keeps_the_same_files(tmp_path):
    """``address="serial"``: the same results, run files, retries and resume, in this process (no Ray started)."""
    result = run_sweep(train_tiny, {"small": {"scale": 1.0, "duration": 0.0}}, [0, 1], name="serial", runs_dir=tmp_path,
                       address="serial", progress=False).check()
    assert [r.result["score"] for r in result.runs] == [1.0, 2.0]
    assert {r.result["pid"] for r in result.runs} == {os.getpid()}  # in this process
    stored = json.loads((tmp_path / "serial" / "small" / "seed1.json").read_text())
    assert stored["result"]["score"] == 2.0 and stored["attempts"] == 1
    again = run_sweep(train_tiny, {"small": {"scale": 1.0, "duration": 0.0}}, [0, 1], name="serial", runs_dir=tmp_path,
                      address="serial", progress=False)
    assert all(r.resumed for r in again.runs)
    failing = run_sweep(train_flaky, {"raise": {"mode": "raise", "marker_dir": str(tmp_path)}}, [1], name="serial-retry",
                        runs_dir=tmp_path, address="serial", progress=False).check()
    assert failing.runs[0].attempts == 2


def test_a_reused_run_made_by_other_source_is_named(tmp_path, capsys):
    """A run file whose config matches is reused (resume), and a note names it when another package source made it:
    the sweep keys runs by config, so an edit to peach_lite that changes results would otherwise pass unseen."""
    from peach_lite.versions import source_fingerprint

    configs = {"small": {"scale": 1.0, "duration": 0.0}}
    run_sweep(train_tiny, configs, [0], name="source", runs_dir=tmp_path, address="serial", progress=False).check()
    path = tmp_path / "source" / "small" / "seed0.json"
    stored = json.loads(path.read_text())
    assert stored["versions"]["peach_lite_source"] == source_fingerprint()
    capsys.readouterr()
    again = run_sweep(train_tiny, configs, [0], name="source", runs_dir=tmp_path, address="serial", progress=False)
    assert again.runs[0].resumed and "other peach_lite source" not in capsys.readouterr().out
    path.write_text(json.dumps({**stored, "versions": {**stored["versions"], "peach_lite_source": "000000000000"}}))
    again = run_sweep(train_tiny, configs, [0], name="source", runs_dir=tmp_path, address="serial", progress=False)
    assert again.runs[0].resumed and "made by other peach_lite source (000000000000" in capsys.readouterr().out


def test_the_source_fingerprint_changes_with_any_module(tmp_path):
    from peach_lite.versions import source_fingerprint

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    before = source_fingerprint(tmp_path / "pkg")
    assert source_fingerprint(tmp_path / "pkg") == before and len(before) == 12
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert source_fingerprint(tmp_path / "pkg") != before
    with pytest.raises(ValueError, match="root"):
        source_fingerprint(tmp_path / "missing")


def test_a_benchmark_method_records_its_config_fields_in_the_sweep_config():
    """peach_hindsight puts each method's PeachConfig fields into its sweep config, so a run file records them and a
    changed ``METHODS`` entry no longer matches a stale run file (the sweep redoes that run)."""
    import importlib.util

    from peach_lite.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location("peach_hindsight_benchmark", REPO_ROOT / "benchmarks" / "peach_hindsight.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    configs = bench.method_configs(list(bench.METHODS), 150, 25, 600, 100, {"meta_test_episodes": 2})
    for method, config in configs.items():
        assert config["overrides"] == {**bench.METHODS[method], "meta_test_episodes": 2}
        assert config["rounds"] == (600 if method in bench.ROUTE_METHODS else 150)
