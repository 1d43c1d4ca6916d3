"""Recording and watching HAC episodes: the trace records the agent fills when ``agent.record`` is True,
and the pictures built from them (:func:`render_episode`, :func:`episode_viewer`).

Taught in notebooks/07_hac.py (section "Watching a trained hierarchy").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from peach_lite.her import Transitions

__all__ = ["AttemptRecord", "SequenceRecord", "EpisodeTrace", "render_episode", "episode_viewer", "LEVEL_COLORS"]

LEVEL_COLORS = ((0.1, 0.6, 0.2, 0.9), (0.85, 0.2, 0.85, 0.9), (1.0, 0.55, 0.05, 0.9), (0.1, 0.75, 0.9, 0.9))
"""rgba of the goal each level is pursuing: level 0's goal (proposed by level 1) is magenta, level 1's orange,
level 2's cyan; the end goal is green."""


# ======================================================================================= the trace
class AttemptRecord(NamedTuple):
    """One attempt of one level, recorded when ``agent.record`` is True."""

    level: int
    """Which level acted."""
    first_step: int
    """Atomic step at which the attempt started."""
    num_steps: int
    """Atomic steps it took (1 at level 0)."""
    obs: np.ndarray
    """(obs_dim,) state when the action was chosen."""
    goal: np.ndarray
    """(goal_dim,) the level's goal."""
    action: np.ndarray
    """The action chosen: env action (level 0) or proposed subgoal (level > 0)."""
    greedy: bool
    """True when chosen without noise or random actions (test episode, or a tested subgoal above)."""
    tested: bool
    """Level > 0: whether this subgoal was tested (lower levels greedy). Level 0: False."""
    lower_reached: bool
    """Level > 0: whether the level below reached the subgoal. Level 0: True."""
    lower_missed: bool
    """Level > 0: whether the level below used its H attempts without reaching it ("maxed out")."""
    hindsight_action: np.ndarray
    """The action stored in the transitions (the subgoal or proj(s'); level 0: the env action)."""
    next_achieved: np.ndarray
    """(goal_dim,) proj(s') after the attempt."""
    penalized: bool
    """Whether a subgoal-testing penalty transition was stored."""
    reached_goal: bool
    """Whether the level's own goal was reached after the attempt."""


class SequenceRecord(NamedTuple):
    """The transitions one level stored for one attempt sequence (exploring episodes only)."""

    level: int
    """Which level."""
    num_attempts: int
    """n, attempts in the sequence."""
    action_replay: Transitions
    """(a) n hindsight action transitions (level 0: the raw actions)."""
    goal_replay: Transitions | None
    """(b) min(3, n) * n hindsight goal transitions (None when HER is off)."""
    penalties: Transitions | None
    """(c) subgoal-testing penalties (None when there were none)."""
    final_achieved: np.ndarray
    """(goal_dim,) proj(s') after the last attempt: always one of the hindsight goals."""


@dataclass
class EpisodeTrace:
    """Everything that happened in one env's episode, for tests, pictures and the step-through widget.

    Taught in notebooks/07_hac.py (section "Watching a trained hierarchy").
    """

    obs: list[np.ndarray] = field(default_factory=list)
    """State before each atomic step (T entries), then the final state."""
    achieved: list[np.ndarray] = field(default_factory=list)
    """proj(s) before each atomic step, then the final one (T + 1 entries)."""
    actions: list[np.ndarray] = field(default_factory=list)
    """The env action of each atomic step (T entries)."""
    goals: list[np.ndarray] = field(default_factory=list)
    """(k, goal_dim) goal of every level at each atomic step: row k-1 is the end goal, row i < k-1 the
    subgoal proposed by level i+1."""
    deciders: list[int] = field(default_factory=list)
    """Highest level that chose a new action just before each atomic step (0: only level 0 acted)."""
    attempts: list[AttemptRecord] = field(default_factory=list)
    """Every attempt of every level, in the order they finished."""
    sequences: list[SequenceRecord] = field(default_factory=list)
    """Every attempt sequence's stored transitions (exploring episodes only)."""
    success: bool = False
    """Whether the end goal was reached (the top level's goal test)."""
    frames: list[np.ndarray] = field(default_factory=list)
    """Rendered frames (T + 1) when the episode was run by :func:`render_episode`."""

    def record_step(self, obs: np.ndarray, achieved: np.ndarray, action: np.ndarray, goals: np.ndarray, decider: int) -> None:
        """Append one atomic step (copies): the state, proj(s), the env action, the goal stack, the highest deciding level."""
        self.obs.append(obs.copy())
        self.achieved.append(achieved.copy())
        self.actions.append(action.copy())
        self.goals.append(goals.copy())
        self.deciders.append(decider)



# ===================================================================================== pictures
def render_episode(agent: Any, env: gym.Env, task: Any = None, *, seed: int = 10_000, explore: bool = False,
                   marker_radius: float | None = None, max_steps: int | None = None) -> EpisodeTrace:
    """Run one (greedy) episode of a ``HAC`` agent with ``loop.run_episodes`` and render every step, with
    each level's current goal drawn as a coloured sphere.

    The env must be made with ``render_mode="rgb_array"`` and offer ``set_markers`` (every
    ``peach_lite.envs`` env does). Colours: :data:`LEVEL_COLORS` (the goal of level 0, i.e. the subgoal
    proposed by level 1, is magenta; level 1's goal orange; the end goal green). Subgoals are placed
    with ``env.unwrapped.goal_marker_position(goal)`` when it exists, else at (x, y) = goal[:2].

    Args:
        agent: a ``peach_lite.hac.HAC``.
        env: one env (``render_mode="rgb_array"``), reset with ``seed``.
        task: the goal (None: the env's current task).
        explore: run an exploring (training-style) episode instead of a greedy one.
        max_steps: cap on the episode (rendering costs a few ms per frame).
    Returns:
        the agent's :class:`EpisodeTrace` with ``frames`` (T + 1 images).

    Taught in notebooks/07_hac.py (section "Watching a trained hierarchy").
    """
    from peach_lite.loop import GymTaskEnvs, TaskBatch, run_episodes

    base = env.unwrapped
    if getattr(env, "render_mode", None) != "rgb_array" or not hasattr(base, "set_markers"):
        raise ValueError("env must be made with render_mode='rgb_array' and support set_markers(...)")
    camera = _GoalCamera(env, agent, marker_radius)
    recording = agent.record
    agent.record = True
    try:
        with torch.no_grad():
            run_episodes(agent, GymTaskEnvs.wrap(camera), TaskBatch.single(task, split="test"), explore=explore,
                         max_steps=max_steps, seed=seed)
    finally:
        agent.record = recording
        base.set_markers([])
    trace = agent.traces[0]
    trace.frames = camera.frames
    return trace


def episode_viewer(trace: EpisodeTrace, num_levels: int | None = None, width: int = 320):
    """An ipywidgets slider that steps through a rendered episode, saying which levels act and their goals.

    Args:
        trace: from :func:`render_episode` (with frames). Numbers are shown with 2 decimals.
        num_levels: k (default: read from the trace's goal stacks).
        width: displayed image width in pixels.
    Returns:
        an ``ipywidgets.VBox`` (slider, frame, text).

    Taught in notebooks/07_hac.py (section "Watching a trained hierarchy").
    """
    import io

    import ipywidgets as widgets
    from PIL import Image

    if not trace.frames or len(trace.frames) != len(trace.actions) + 1:
        raise ValueError("trace must come from render_episode (one frame per step plus the first)")
    k = num_levels or (trace.goals[0].shape[0] if trace.goals else 1)

    def png(frame: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(frame).save(out, format="PNG")
        return out.getvalue()

    image = widgets.Image(value=png(trace.frames[0]), format="png", width=width)
    text = widgets.HTML()
    slider = widgets.IntSlider(value=0, min=0, max=len(trace.actions), description="step")

    def describe(t: int) -> str:
        if t >= len(trace.actions):
            return f"<b>step {t}</b>: episode over, final position {_fmt(trace.achieved[-1])}"
        names = ["level 0 (acts)"] + [f"level {i}" for i in range(1, k)]
        lines = [f"<b>step {t}</b>: level {trace.deciders[t]} and below chose new actions"]
        for level in range(k - 1, -1, -1):
            goal = _fmt(trace.goals[t][level])
            kind = "end goal" if level == k - 1 else f"subgoal from level {level + 1}"
            lines.append(f"{names[level]} pursues {kind} {goal}")
        lines.append(f"action {_fmt(trace.actions[t])} at position {_fmt(trace.achieved[t])}")
        return "<br>".join(lines)

    def update(change: dict) -> None:
        t = change["new"]
        image.value = png(trace.frames[t])
        text.value = describe(t)

    slider.observe(update, names="value")
    text.value = describe(0)
    return widgets.VBox([slider, image, text])


# ================================================================================ private helpers
class _GoalCamera(gym.Wrapper):
    """Renders a frame after the reset and after every step, with the agent's subgoals as markers."""

    def __init__(self, env: gym.Env, agent: Any, marker_radius: float | None):
        super().__init__(env)
        self.agent, self.marker_radius, self.frames = agent, marker_radius, []
        base = env.unwrapped
        self._to_position = getattr(base, "goal_marker_position", lambda g: np.asarray(g, np.float64)[:2])

    def reset(self, **kwargs: Any):
        out = self.env.reset(**kwargs)
        self._draw(started=False)
        return out

    def step(self, action: Any):
        out = self.env.step(action)
        self._draw(started=True)
        return out

    def _draw(self, started: bool) -> None:
        markers = []
        if started:  # the env draws the end goal itself; subgoals of levels 1.. are drawn here
            goals = self.agent.goal_stack(0)
            for level in range(self.agent.num_levels - 1):
                marker = (self._to_position(goals[level]), LEVEL_COLORS[level + 1])
                markers.append(marker if self.marker_radius is None else (*marker, self.marker_radius))
        self.env.unwrapped.set_markers(markers)
        self.frames.append(self.env.render())


def _fmt(values: Any) -> str:
    """``[0.85, -1.2]``: every number with 2 decimals."""
    return "[" + ", ".join(f"{float(v):.2f}" for v in np.ravel(values)) + "]"
