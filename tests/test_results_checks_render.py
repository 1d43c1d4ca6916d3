"""Results files, exercise checkers, and headless rendering."""
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite import show_source
from peach_lite.checks import check_discounted_return, compare_function
from peach_lite.doctor import render_works
from peach_lite.render import gif, rollout_frames, show_frames
from peach_lite.results import read_headline, read_results, write_results
from peach_lite.returns import discounted_return, reward_to_go


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    return tmp_path


def test_results_round_trip_and_headline_printed_last(data_dir, capsys):
    path = write_results("demo", {"steps_per_s": 1234.5, "ratio": 2}, seeds=[0, 1], details={"per_seed": [1, 2]})
    assert path == data_dir / "results" / "demo.json"
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last_line.removeprefix("headline: ")) == {"steps_per_s": 1234.5, "ratio": 2.0}
    record = read_results("demo")
    assert record["seeds"] == [0, 1] and record["details"] == {"per_seed": [1, 2]}
    assert record["versions"]["torch"] == torch.__version__ and record["command"] and record["date"]
    assert read_headline("demo")["ratio"] == 2.0


def test_results_reject_non_numbers(data_dir):
    with pytest.raises(ValueError, match=r"headline\['x'\]"):
        write_results("demo", {"x": {"nested": 1}}, seeds=[0])
    with pytest.raises(ValueError, match=r"headline\['y'\]"):
        write_results("demo", {"y": float("nan")}, seeds=[0])
    with pytest.raises(FileNotFoundError, match="benchmarks/missing.py"):
        read_results("missing")


def test_discounted_return_matches_hand_computation():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.allclose(discounted_return(rewards, 0.5), torch.tensor([1 + 1 + 0.75]))
    assert torch.allclose(reward_to_go(rewards, 0.5), torch.tensor([[2.75, 3.5, 3.0]]))
    assert torch.allclose(reward_to_go(rewards, 0.5)[..., 0], discounted_return(rewards, 0.5))
    with pytest.raises(ValueError, match="gamma"):
        discounted_return(rewards, 1.5)


def test_checker_passes_the_reference_and_explains_a_wrong_answer(capsys):
    assert check_discounted_return(discounted_return)
    assert "PASS" in capsys.readouterr().out

    def forgot_discount(rewards, gamma):
        return rewards.sum(-1)

    result = check_discounted_return(forgot_discount)
    assert not result and "differs" in result.message and "inputs" in result.message

    def wrong_shape(rewards, gamma):
        return rewards

    assert "shape" in check_discounted_return(wrong_shape).message

    def todo(rewards, gamma):
        raise NotImplementedError

    assert "not implemented" in check_discounted_return(todo).message


def test_compare_function_handles_tuples_and_crashes():
    ref = lambda x: (x + 1, x * 2)  # noqa: E731
    cases = [((torch.ones(3),), {})]
    assert compare_function("pair", ref, ref, cases)
    assert "output[1]" in compare_function("pair", lambda x: (x + 1, x * 3), ref, cases).message
    assert "raised ZeroDivisionError" in compare_function("pair", lambda x: 1 / 0, ref, cases).message


def test_egl_renders_a_mujoco_frame_headless():
    ok, message = render_works("egl")
    assert ok, message
    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=96, height=64)
    frames, total = rollout_frames(env, num_steps=4, seed=0, every=2)
    env.close()
    assert len(frames) == 3 and frames[0].shape == (64, 96, 3) and frames[0].dtype == np.uint8
    assert frames[0].std() > 1.0, "a blank frame means rendering silently failed"
    assert np.isfinite(total)
    figure = show_frames(frames, titles=["a", "b", "c"], ncols=2)
    assert len(figure.axes) == 4
    image = gif(frames, fps=10)
    assert image.data[:6] in (b"GIF87a", b"GIF89a")


def test_render_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="render_mode"):
        rollout_frames(gym.make("Pendulum-v1"), num_steps=2)
    with pytest.raises(ValueError, match="frames"):
        show_frames([])
    with pytest.raises(ValueError, match="titles"):
        show_frames([np.zeros((4, 4, 3))], titles=["a", "b"])
    with pytest.raises(ValueError, match="fps"):
        gif([np.zeros((4, 4, 3), np.uint8)], fps=0)


def test_show_source_shows_real_code():
    assert "def discounted_return" in show_source(discounted_return).data
    with pytest.raises(TypeError):
        show_source(discounted_return, lines=(1, 1))  # no line slices: they drift silently
    with pytest.raises(ValueError, match="private"):
        show_source(_private_helper)
    with pytest.raises(ValueError, match="obj"):
        show_source(3)


def _private_helper():
    return None


def test_lessons_show_whole_public_functions_only():
    """Every show_source call in a lesson names a public object and passes no lines= slice."""
    import ast
    from pathlib import Path

    lessons = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.py"))
    assert lessons
    offenders = []
    for lesson in lessons:
        for node in ast.walk(ast.parse(lesson.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
                where = f"{lesson.name}:{node.lineno}"
                if node.keywords:
                    offenders.append(f"{where} passes {[k.arg for k in node.keywords]}")
                names = [n.attr for n in ast.walk(node.args[0]) if isinstance(n, ast.Attribute)]
                names += [n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)]
                if any(name.startswith("_") for name in names):
                    offenders.append(f"{where} shows a private name: {ast.unparse(node.args[0])}")
    assert not offenders, "\n".join(offenders)
