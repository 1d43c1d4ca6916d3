"""Show MuJoCo frames and short rollouts inline, headless on the CPU.

Rendering uses MuJoCo's EGL backend (Mesa's llvmpipe when there is no GPU); ``import peach_lite``
picks it before MuJoCo is imported. ``python -m peach_lite.doctor`` says what to install when it fails.
Animations are small GIFs written with Pillow (there is no ffmpeg here, and jshtml is too big to commit).

``render_frame(env)`` renders on peach_lite's one rendering thread (``peach_lite.gl.on_render_thread``),
so it works the same from a cell and from a widget callback (which ipykernel 7 runs in another
thread, where a GL context made in a cell cannot be used). It raises a clear ``RuntimeError`` instead
of returning a black frame when the env was closed.

Taught in notebooks/00_how_to_use.py (section "Seeing an environment").
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from peach_lite.validation import check_range

__all__ = ["render_frame", "rollout_frames", "show_frames", "gif"]

_CLOSED_HELP = "make a new env (re-run the cell that makes it) to render again"


def _render_on_this_thread(env: Any) -> np.ndarray:
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    viewer = None if renderer is None else getattr(renderer, "_viewers", {}).get(env.render_mode)
    if viewer is not None:  # a gymnasium MuJoCo env: its viewer never makes its own context current
        context = getattr(viewer, "opengl_context", None)
        if context is not None and getattr(context, "_context", True) is None:
            raise RuntimeError(f"{env.spec.id if env.spec else type(env.unwrapped).__name__} was closed "
                               f"(env.close() freed its GL context); {_CLOSED_HELP}")
        viewer.make_context_current()
    frame = env.render()
    if isinstance(frame, np.ndarray) and frame.size and not frame.any():
        raise RuntimeError(f"rendering gave an all-black frame: the env was probably closed; {_CLOSED_HELP}")
    return frame


def render_frame(env: Any) -> np.ndarray:
    """``env.render()`` made safe from any thread: one RGB frame (height, width, 3) uint8.

    Args:
        env: a gymnasium env made with ``render_mode="rgb_array"`` (gymnasium's MuJoCo envs, peach_lite's).
    Raises:
        RuntimeError: the env was closed (instead of returning a black frame).
    """
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError(f"env must be made with render_mode='rgb_array', got {getattr(env, 'render_mode', None)!r}")
    from peach_lite.gl import on_render_thread

    return on_render_thread(_render_on_this_thread, env)


def rollout_frames(
    env: Any,
    policy: Callable[[Any], Any] | None = None,
    *,
    num_steps: int = 60,
    seed: int = 0,
    every: int = 1,
) -> tuple[list[np.ndarray], float]:
    """Run one rollout and return its frames and the summed reward.

    Args:
        env: a gymnasium env made with ``render_mode="rgb_array"``.
        policy: ``obs -> action``; random actions from the (seeded) action space when ``None``.
        num_steps: at most this many steps (the episode may end earlier).
        seed: reset seed; also seeds the action space.
        every: keep one frame in ``every``.
    Frames are drawn with ``render_frame``, so this works from a widget callback's thread too.

    Returns:
        (frames, total_reward), frames each (height, width, 3) uint8.
    """
    check_range("num_steps", num_steps, 1, None)
    check_range("every", every, 1, None)
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError(f"env must be made with render_mode='rgb_array', got {getattr(env, 'render_mode', None)!r}")
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames, total = [render_frame(env)], 0.0
    for step in range(num_steps):
        action = env.action_space.sample() if policy is None else policy(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        if (step + 1) % every == 0:
            frames.append(render_frame(env))
        if terminated or truncated:
            break
    return frames, total


def show_frames(
    frames: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    size: float = 2.6,
    suptitle: str | None = None,
):
    """Draw frames in a grid with matplotlib and return the figure (shown by the notebook).

    Args:
        frames: images, each (height, width, 3) uint8 or float in [0, 1].
        titles: one title per frame.
        ncols: frames per row.
        size: inches per frame.
    """
    import matplotlib.pyplot as plt

    if len(frames) == 0:
        raise ValueError("frames must hold at least one image, got 0")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"titles must have one entry per frame ({len(frames)}), got {len(titles)}")
    check_range("ncols", ncols, 1, None)
    ncols = min(ncols, len(frames))
    nrows = -(-len(frames) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(frames):
            ax.imshow(frames[index])
            if titles is not None:
                ax.set_title(titles[index], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    plt.close(fig)
    return fig


def gif(frames: Sequence[np.ndarray], fps: int = 20, *, width: int | None = None):
    """Encode frames as an animated GIF and return an ``IPython.display.Image`` (~80 KB for 60 frames).

    Args:
        frames: images, each (height, width, 3) uint8.
        fps: frames per second.
        width: optional display width in pixels.
    """
    from IPython.display import Image
    from PIL import Image as PILImage

    if len(frames) == 0:
        raise ValueError("frames must hold at least one image, got 0")
    check_range("fps", fps, 1, 60)
    images = [PILImage.fromarray(np.asarray(frame, dtype=np.uint8)) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return Image(data=buffer.getvalue(), format="gif", width=width)
