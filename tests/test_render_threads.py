"""MuJoCo frames render the same from any thread, and never silently black after ``env.close()``.

ipykernel 7 runs widget callbacks in a "subshell" thread. An EGL context made in a cell cannot be
made current there (EGL_BAD_ACCESS), and gymnasium's viewer then renders black. peach_lite runs every
GL call on one rendering thread (``peach_lite.gl.on_render_thread``); these tests call renders, and a
lesson-style widget callback, from a ``threading.Thread`` and compare with the main thread.
"""
from __future__ import annotations

import threading

import gymnasium as gym
import numpy as np
import pytest

import peach_lite.envs as envs
from peach_lite.gl import in_render_thread, on_render_thread
from peach_lite.render import render_frame, rollout_frames


def in_thread(fn, *args):
    """Run ``fn(*args)`` in a fresh non-main thread, as a widget callback runs; return or re-raise."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001  (re-raised in the caller)
            box["error"] = error

    thread = threading.Thread(target=target, name="subshell-test")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "render call hung in a non-main thread"
    if "error" in box:
        raise box["error"]
    return box["value"]


def not_blank(frame: np.ndarray) -> bool:
    return frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 1.0


def test_on_render_thread_is_one_thread_and_reentrant():
    idents = {on_render_thread(threading.get_ident), in_thread(on_render_thread, threading.get_ident)}
    assert len(idents) == 1 and threading.get_ident() not in idents
    assert on_render_thread(on_render_thread, in_render_thread) is True  # nested call does not deadlock
    assert not in_render_thread()
    with pytest.raises(ZeroDivisionError):
        on_render_thread(lambda: 1 / 0)


@pytest.mark.parametrize("env_id", ["peach_lite/PointMaze-v0", "peach_lite/HalfCheetahVel-v0"])
def test_peach_env_frames_equal_from_main_and_other_thread(env_id):
    env = envs.make(env_id, render_mode="rgb_array", width=96, height=96)
    env.reset(seed=0, options={"task": env.unwrapped.test_tasks()[0]})
    main = env.render()  # made in the main thread, as a lesson cell does
    other = in_thread(env.render)  # then used from a widget-callback thread
    again = env.render()
    assert not_blank(main) and np.array_equal(main, other) and np.array_equal(main, again)
    env.close()
    env.close()  # idempotent


def test_gymnasium_env_frames_equal_from_main_and_other_thread():
    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=96, height=96)
    env.reset(seed=0)
    main = render_frame(env)
    other = in_thread(render_frame, env)
    assert not_blank(main) and np.array_equal(main, other)
    env.close()


def test_lesson_00_widget_callback_from_a_subshell_like_thread():
    """Lesson 00's slider callback: a rollout made in a cell, moved from another thread."""
    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=64, height=64)
    first, _ = rollout_frames(env, num_steps=5, seed=0)  # the cell, main thread

    def callback(scale: float):
        rng = np.random.default_rng(0)
        return rollout_frames(env, lambda obs: scale * rng.uniform(-1, 1, size=6), num_steps=5, seed=0)

    frames_thread, return_thread = in_thread(callback, 0.5)
    frames_main, return_main = callback(0.5)
    assert all(not_blank(f) for f in first + frames_thread)
    assert return_thread == return_main and all(np.array_equal(a, b) for a, b in zip(frames_thread, frames_main))
    env.close()


def test_rendering_after_close_raises_instead_of_black_frames():
    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=64, height=64)
    env.reset(seed=0)
    assert not_blank(render_frame(env))
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        render_frame(env)
    with pytest.raises(RuntimeError, match="closed"):
        in_thread(rollout_frames, env)


def test_mujoco_frames_after_close_raise():
    from peach_lite.envs.rendering import MujocoFrames

    maze = envs.make("peach_lite/PointMaze-v0").unwrapped
    maze.reset(seed=0)
    frames = MujocoFrames(maze.model, 48, 48)
    assert not_blank(in_thread(frames.render, maze.data, "top"))
    frames.close()
    assert frames.closed
    with pytest.raises(RuntimeError, match="closed"):
        frames.render(maze.data, "top")
