"""Cheap RGB frames for the environments: a tiny numpy rasteriser and a MuJoCo offscreen renderer.

The numpy families (bandits, point robot, MovementBandits, four rooms) draw discs, rectangles and
segments straight into a ``(height, width, 3)`` uint8 array; each shape touches only the pixels of
its bounding box, so a frame costs well under a millisecond. The MuJoCo families use
``mujoco.Renderer`` (EGL, headless on CPU) with shadows and reflections off, which is several times
faster on llvmpipe, and draw the goal and any ``set_markers`` spheres as extra scene geoms (they
are not part of the physics).

Taught in notebooks/01_task_gallery.py (section "One frame per family").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Canvas", "MujocoFrames", "rgb", "PALETTE"]

PALETTE = {
    "background": (250, 250, 247),
    "grid": (225, 225, 220),
    "wall": (60, 60, 70),
    "agent": (40, 90, 200),
    "trail": (140, 170, 230),
    "goal": (40, 170, 70),
    "goal_zone": (190, 235, 195),
    "candidate": (170, 170, 170),
    "wrong": (220, 80, 60),
    "text": (30, 30, 30),
}
"""Colours shared by every numpy frame (RGB 0-255)."""


def rgb(rgba: Sequence[float]) -> tuple[int, int, int]:
    """Convert an rgba in [0, 1] to an RGB tuple in 0-255."""
    return tuple(int(round(255 * float(c))) for c in list(rgba)[:3])  # type: ignore[return-value]


class Canvas:
    """A (height, width, 3) uint8 image with world coordinates ``xlim`` x ``ylim`` (y points up)."""

    def __init__(
        self,
        width: int,
        height: int,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        background: tuple[int, int, int] = PALETTE["background"],
    ):
        self.width, self.height = int(width), int(height)
        self.xlim, self.ylim = (float(xlim[0]), float(xlim[1])), (float(ylim[0]), float(ylim[1]))
        self.image = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self.image[:] = background
        self._sx = (self.xlim[1] - self.xlim[0]) / self.width
        self._sy = (self.ylim[1] - self.ylim[0]) / self.height

    # --------------------------------------------------------------------------- shapes
    def disc(self, center: Sequence[float], radius: float, color: Sequence[int], alpha: float = 1.0) -> None:
        """Filled circle of world ``radius`` (at least one pixel)."""
        cx, cy = float(center[0]), float(center[1])
        radius = max(float(radius), 0.7 * max(self._sx, self._sy))
        box = self._box(cx - radius, cy - radius, cx + radius, cy + radius)
        if box is None:
            return
        x, y, rows, cols = box
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
        self._blend(rows, cols, mask, color, alpha)

    def ring(self, center: Sequence[float], radius: float, width: float, color: Sequence[int], alpha: float = 1.0) -> None:
        """Circle outline of world ``radius`` and line ``width``."""
        cx, cy = float(center[0]), float(center[1])
        half = max(width, max(self._sx, self._sy)) / 2
        box = self._box(cx - radius - half, cy - radius - half, cx + radius + half, cy + radius + half)
        if box is None:
            return
        x, y, rows, cols = box
        mask = np.abs(np.sqrt((x - cx) ** 2 + (y - cy) ** 2) - radius) <= half
        self._blend(rows, cols, mask, color, alpha)

    def rect(self, low: Sequence[float], high: Sequence[float], color: Sequence[int], alpha: float = 1.0) -> None:
        """Filled axis-aligned rectangle from ``low`` = (x0, y0) to ``high`` = (x1, y1)."""
        box = self._box(float(low[0]), float(low[1]), float(high[0]), float(high[1]))
        if box is None:
            return
        x, y, rows, cols = box
        mask = np.ones((y.shape[0], x.shape[1]), dtype=bool)
        self._blend(rows, cols, mask, color, alpha)

    def segment(self, start: Sequence[float], end: Sequence[float], width: float, color: Sequence[int], alpha: float = 1.0) -> None:
        """Straight line of world ``width`` between two points."""
        p, q = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
        half = max(width, max(self._sx, self._sy)) / 2
        low, high = np.minimum(p, q) - half, np.maximum(p, q) + half
        box = self._box(low[0], low[1], high[0], high[1])
        if box is None:
            return
        x, y, rows, cols = box
        d = q - p
        length2 = float(d @ d)
        t = np.zeros_like(x * y) if length2 == 0 else np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / length2, 0, 1)
        mask = (x - p[0] - t * d[0]) ** 2 + (y - p[1] - t * d[1]) ** 2 <= half**2
        self._blend(rows, cols, mask, color, alpha)

    def polyline(self, points: Sequence[Sequence[float]], width: float, color: Sequence[int], alpha: float = 1.0) -> None:
        """Connected segments through ``points``."""
        for start, end in zip(points[:-1], points[1:]):
            self.segment(start, end, width, color, alpha)

    def markers(self, markers: Sequence[tuple[np.ndarray, np.ndarray, float]]) -> None:
        """Draw ``set_markers`` spheres as discs (their z is ignored)."""
        for position, rgba, radius in markers:
            self.disc(position[:2], radius, rgb(rgba), alpha=float(rgba[3]))

    # -------------------------------------------------------------------------- helpers
    def _box(self, x0: float, y0: float, x1: float, y1: float) -> Any:
        c0 = max(int(np.floor((x0 - self.xlim[0]) / self._sx)), 0)
        c1 = min(int(np.ceil((x1 - self.xlim[0]) / self._sx)), self.width)
        r0 = max(int(np.floor((self.ylim[1] - y1) / self._sy)), 0)
        r1 = min(int(np.ceil((self.ylim[1] - y0) / self._sy)), self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        x = (self.xlim[0] + (np.arange(c0, c1) + 0.5) * self._sx)[None, :]
        y = (self.ylim[1] - (np.arange(r0, r1) + 0.5) * self._sy)[:, None]
        return x, y, slice(r0, r1), slice(c0, c1)

    def _blend(self, rows: slice, cols: slice, mask: np.ndarray, color: Sequence[int], alpha: float) -> None:
        patch = self.image[rows, cols]
        color_array = np.asarray(color, dtype=np.float32)
        if alpha >= 1.0:
            patch[mask] = color_array.astype(np.uint8)
        else:
            patch[mask] = ((1 - alpha) * patch[mask] + alpha * color_array).astype(np.uint8)


class MujocoFrames:
    """Offscreen RGB frames of a MuJoCo model with shadows/reflections off and extra marker spheres.

    Every GL call (making the renderer, drawing, freeing it) runs on peach_lite's one rendering
    thread (``peach_lite.gl.on_render_thread``), so a frame renders the same from a cell, a widget
    callback's thread or a worker thread. Rendering after ``close()`` raises a ``RuntimeError``.

    Args:
        model: the compiled ``mujoco.MjModel``.
        width, height: frame size in pixels (at most the model's offscreen buffer, 640x480 by default).
    """

    def __init__(self, model: Any, width: int, height: int):
        import mujoco

        from peach_lite.gl import on_render_thread

        self._mujoco = mujoco
        self._on_render_thread = on_render_thread
        self._renderer = None
        self._renderer = on_render_thread(self._make_renderer, model, int(width), int(height))

    def _make_renderer(self, model: Any, width: int, height: int) -> Any:
        mujoco = self._mujoco
        renderer = mujoco.Renderer(model, height=height, width=width)
        flags = renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        return renderer

    def render(self, data: Any, camera: Any, spheres: Sequence[tuple[np.ndarray, np.ndarray, float]] = ()) -> np.ndarray:
        """One frame (height, width, 3) uint8 with ``spheres`` = [(pos (3,), rgba (4,), radius)] drawn in."""
        if self._renderer is None:
            raise RuntimeError("this MuJoCo renderer was closed (env.close() frees it); make a new env to render again")
        return self._on_render_thread(self._render, data, camera, list(spheres))

    def _render(self, data: Any, camera: Any, spheres: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
        mujoco = self._mujoco
        renderer = self._renderer
        if renderer is None:
            raise RuntimeError("this MuJoCo renderer was closed (env.close() frees it); make a new env to render again")
        renderer.update_scene(data, camera=camera)
        scene = renderer.scene
        for position, rgba, radius in spheres:
            if scene.ngeom >= scene.maxgeom:
                break
            mujoco.mjv_initGeom(
                scene.geoms[scene.ngeom],
                mujoco.mjtGeom.mjGEOM_SPHERE,
                np.array([radius, radius, radius], dtype=np.float64),
                np.asarray(position, dtype=np.float64),
                np.eye(3).reshape(-1),
                np.asarray(rgba, dtype=np.float32),
            )
            scene.ngeom += 1
        return renderer.render()

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._renderer is None

    def close(self) -> None:
        """Free the GL context (on the rendering thread, which owns it)."""
        renderer, self._renderer = self._renderer, None
        if renderer is not None:
            self._on_render_thread(renderer.close)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the rendering thread may be gone already
            pass
