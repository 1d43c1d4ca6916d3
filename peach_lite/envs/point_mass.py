"""MuJoCo point masses: PEARL's point robot re-simulated, and the four-rooms maze of HAC and PEACH.

Both are one sphere on two slide joints (x, y) in a flat world without gravity, built from an XML
string by ``point_mass_xml`` (compiled when an env is made, never at import).

**PointMass** (``peach_lite/PointMassSparse-v0``, ``PointMassDense-v0``): the same tasks, rewards,
splits, spaces and horizon as the numpy point robot (``point_robot.py``), with the motion done by
MuJoCo. A stiff, critically damped position servo (kp = 1e4, kv = 200, 10 steps of 0.01 s per env
step) drives the mass to ``position + 0.1 * clip(action)``; after each env step the mass sits on
that target within ~1e-5 and is at rest, so trajectories match the numpy version to about 1e-5
per step. Differences: that tiny servo residual; the state is the simulated qpos (float64 physics,
float32 observation); it is about 10x slower than numpy.

**PointMaze** (``peach_lite/PointMaze-v0``, ``PointMazeDense-v0``): a walled four-rooms arena.

* Arena [-4, 4]^2 with walls along x = 0 and y = 0; each of the four wall halves has a 1.0-wide
  doorway centred 2 from the middle. Rooms: 0 = south-west, 1 = south-east, 2 = north-east,
  3 = north-west (neighbours differ by 1 mod 4; room 2 is the far room from room 0).
* The mass (radius 0.15, 1 kg) is pushed by velocity servos: force = 10 (u - v) with
  u = ``max_speed`` * clip(action) per axis (``max_speed`` 2 units/s). One env step = 10 MuJoCo steps
  of 0.01 s = 0.1 s, so a full action moves up to 0.2 per step per axis, and velocity decays with a
  0.1 s time constant (the momentum is in the observation). Walls are solid.
* A task is a goal (x, y) in a goal room and a start room (``MazeTask``); each reset puts the mass at
  the start room's centre plus U[-0.5, 0.5]^2 (or at rest at ``reset(options={"start": (x, y)})``).
  ``sample_tasks`` draws the goal room from ``goal_rooms`` (default: rooms 1, 2, 3) and the goal
  uniformly in that room, at least 0.5 from walls.
* Goal-conditioned layout as in gymnasium-robotics: Dict observation with ``observation`` = (x, y,
  vx, vy), ``achieved_goal`` = (x, y), ``desired_goal`` = goal, and a vectorised
  ``compute_reward(achieved_goal, desired_goal, info)``.
* Reward (HAC convention, ``reward_type="sparse"``): -1 per step, 0 on the step that ends within
  ``goal_threshold`` (0.4, Euclidean in xy) of the goal, which also terminates the episode.
  ``reward_type="dense"``: -distance, same termination. Horizon 200 (``TimeLimit``). A goal in the
  far room 2 needs about 30 well-aimed steps through two doorways (``oracles.maze_reference_return``
  measures the scripted controller), while uniformly random actions almost never leave the start
  room, so flat agents without hindsight or a hierarchy struggle.
* ``set_markers([(xy_or_xyz, rgba), ...])`` draws extra spheres (e.g. HAC subgoals) in rendered
  frames; they are not part of the physics. The goal is drawn as a green disc of radius
  ``goal_threshold``.

Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from peach_lite.envs.base import Task, TaskEnvMixin, float_tuple
from peach_lite.envs.point_robot import GOAL_RADIUS, MAX_STEP, STATE_LIMIT, PointRobotEnv, semicircle_goals
from peach_lite.envs.rendering import MujocoFrames
from peach_lite.validation import check_choice, check_range

__all__ = [
    "point_mass_xml",
    "PointMassEnv",
    "SparsePointMassEnv",
    "DensePointMassEnv",
    "MazeTask",
    "PointMazeEnv",
    "ARENA_HALF",
    "ROOM_CENTERS",
    "DOORS",
    "free_position",
    "RandomStart",
    "maze_path_length",
    "room_box",
    "room_of",
]

# ---------------------------------------------------------------------------------------- geometry
ARENA_HALF = 4.0
"""The maze's free space is [-ARENA_HALF, ARENA_HALF]^2."""
WALL_HALF_THICKNESS = 0.05
"""Half thickness of every wall."""
DOOR_HALF_WIDTH = 0.5
"""Half width of each doorway."""
DOOR_OFFSET = 2.0
"""Distance of each doorway's centre from the arena's centre."""
MASS_RADIUS = 0.15
"""Radius of the maze's sphere."""
ROOM_CENTERS = np.array([[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]])
"""Centres of rooms 0 (south-west), 1 (south-east), 2 (north-east), 3 (north-west)."""
DOORS = {
    (0, 1): np.array([0.0, -DOOR_OFFSET]),
    (1, 2): np.array([DOOR_OFFSET, 0.0]),
    (2, 3): np.array([0.0, DOOR_OFFSET]),
    (0, 3): np.array([-DOOR_OFFSET, 0.0]),
}
"""Doorway centre between each pair of neighbouring rooms (keys sorted)."""
ROOM_MARGIN = 0.5
"""Sampled goals keep at least this distance from every wall."""


def free_position(field: str, xy: Any) -> np.ndarray:
    """``xy`` as a (2,) array if the maze's mass fits there (inside the arena, clear of every wall by its radius);
    a ValueError naming ``field`` otherwise."""
    limit = ARENA_HALF - MASS_RADIUS
    point = np.array(float_tuple(field, xy, 2, -limit, limit))
    clear, door = WALL_HALF_THICKNESS + MASS_RADIUS, (DOOR_OFFSET - DOOR_HALF_WIDTH + MASS_RADIUS, DOOR_OFFSET + DOOR_HALF_WIDTH - MASS_RADIUS)
    for axis in (0, 1):  # the walls along x = 0 (axis 0) and y = 0 (axis 1), open only in their doorways
        if abs(point[axis]) < clear and not door[0] <= abs(point[1 - axis]) <= door[1]:
            raise ValueError(f"{field} must be a free position in the maze (|x|, |y| <= {limit}, at least {clear} from the walls "
                             f"x = 0 and y = 0 outside their doorways, |other| in [{door[0]}, {door[1]}]), got {tuple(point)}")
    return point


class RandomStart(gym.Wrapper):
    """Each reset puts the mass at rest at a uniform point of a uniform room, clear of its walls by the mass radius
    (``reset(options={"start": ...})`` of the wrapped maze), drawn with the env's seeded ``np_random``: starts
    everywhere in the maze, for practice that is not tied to one start room. A ``start`` passed to reset wins.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if (options or {}).get("start") is not None:  # a start asked for wins
            return self.env.reset(seed=seed, options=options)
        self.env.reset(seed=seed, options=options)  # seeds np_random and applies the task
        rng = self.env.unwrapped.np_random
        start = rng.uniform(*room_box(int(rng.integers(4)), MASS_RADIUS))
        return self.env.reset(options={**(options or {}), "start": tuple(start)})


def maze_path_length(start: Any, end: Any, *, samples: int = 21) -> np.ndarray:
    """(...) length of the shortest way between ``start`` and ``end`` (..., 2) for the mass's centre: straight inside
    a room (rooms are convex), else through each doorway's opening (its width less the mass radius at both jambs,
    tried at ``samples`` points), round the shorter way between opposite rooms. The walls' thickness and the way round
    a jamb's corner are left out (under a tenth).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    start, end = np.broadcast_arrays(np.asarray(start, np.float64), np.asarray(end, np.float64))
    offsets = np.linspace(-1.0, 1.0, samples) * (DOOR_HALF_WIDTH - MASS_RADIUS)
    openings = {key: door + np.outer(offsets, door != 0) for key, door in DOORS.items()}  # (samples, 2) per doorway

    def opening(a: int, b: int) -> np.ndarray:
        return openings[(min(a, b), max(a, b))]

    def via(points: np.ndarray, first: np.ndarray, second: np.ndarray | None) -> np.ndarray:
        lengths = np.linalg.norm(points[:, None, :2] - first[None], axis=-1)  # (n, samples) to the first doorway
        if second is not None:  # then through a second doorway: (n, samples, samples)
            lengths = lengths[:, :, None] + np.linalg.norm(first[:, None] - second[None], axis=-1)[None]
            return (lengths + np.linalg.norm(points[:, None, None, 2:] - second[None, None], axis=-1)).min(axis=(1, 2))
        return (lengths + np.linalg.norm(points[:, None, 2:] - first[None], axis=-1)).min(axis=1)

    flat = np.concatenate([start.reshape(-1, 2), end.reshape(-1, 2)], axis=1)
    out = np.linalg.norm(flat[:, 2:] - flat[:, :2], axis=1)
    rooms = np.stack([room_of(flat[:, :2]), room_of(flat[:, 2:])], axis=1)
    for a in range(4):
        for b in range(4):
            rows = (rooms[:, 0] == a) & (rooms[:, 1] == b)
            if a == b or not rows.any():
                continue
            if (a - b) % 2:  # neighbours
                out[rows] = via(flat[rows], opening(a, b), None)
            else:
                out[rows] = np.minimum(*(via(flat[rows], opening(a, m), opening(m, b)) for m in ((a + 1) % 4, (a + 3) % 4)))
    return out.reshape(start.shape[:-1])


def room_of(xy: np.ndarray) -> np.ndarray:
    """Room index (0..3) of positions (..., 2) (the walls themselves count to the room on their + side)."""
    xy = np.asarray(xy)
    east, north = xy[..., 0] >= 0, xy[..., 1] >= 0
    return np.where(north, np.where(east, 2, 3), np.where(east, 1, 0))


def room_box(room: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of the part of ``room`` at least ``margin`` from its walls."""
    inner = WALL_HALF_THICKNESS + margin
    outer = ARENA_HALF - margin
    east, north = room in (1, 2), room in (2, 3)
    x = (inner, outer) if east else (-outer, -inner)
    y = (inner, outer) if north else (-outer, -inner)
    return np.array([x[0], y[0]]), np.array([x[1], y[1]])


def _maze_walls() -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Wall boxes as (centre xy, half sizes xy)."""
    t, a = WALL_HALF_THICKNESS, ARENA_HALF
    walls = [((0.0, a + t), (a + 2 * t, t)), ((0.0, -a - t), (a + 2 * t, t)), ((a + t, 0.0), (t, a)), ((-a - t, 0.0), (t, a))]
    low_door, high_door = DOOR_OFFSET - DOOR_HALF_WIDTH, DOOR_OFFSET + DOOR_HALF_WIDTH
    for lo, hi in [(-a, -high_door), (-low_door, low_door), (high_door, a)]:
        center, half = (lo + hi) / 2, (hi - lo) / 2
        walls.append(((0.0, center), (t, half)))  # along x = 0
        walls.append(((center, 0.0), (half, t)))  # along y = 0
    return walls


def point_mass_xml(
    *,
    walls: list[tuple[tuple[float, float], tuple[float, float]]] = (),
    actuator: str = "position",
    gain: float = 1e4,
    radius: float = 0.05,
    timestep: float = 0.01,
    view_center: tuple[float, float] = (0.0, 0.0),
    view_size: float = 3.0,
    goal_radius: float = 0.2,
) -> str:
    """MJCF of a sphere on x/y slide joints, with optional box walls and a goal site.

    Args:
        walls: boxes as ((x, y) centre, (hx, hy) half sizes), 0.3 high.
        actuator: ``"position"`` (servo to ctrl, kp = gain, critically damped) or ``"velocity"``
            (force = gain * (ctrl - velocity)).
        gain: kp of the position servo or kv of the velocity servo.
        radius: sphere radius (mass 1 kg).
        timestep: MuJoCo step in seconds.
        view_center, view_size: the orthographic top camera "top" shows a square of side
            ``view_size`` around ``view_center``.
        goal_radius: radius of the translucent goal disc (site "goal").

    Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
    """
    check_choice("actuator", actuator, ["position", "velocity"])
    if actuator == "position":
        servo = f'kp="{gain}" kv="{2 * np.sqrt(gain):.6g}"'
        actuators = f'<position joint="x" {servo}/><position joint="y" {servo}/>'
    else:
        actuators = f'<velocity joint="x" kv="{gain}"/><velocity joint="y" kv="{gain}"/>'
    wall_geoms = "\n".join(
        f'<geom name="wall{i}" type="box" pos="{c[0]} {c[1]} 0.15" size="{h[0]} {h[1]} 0.15" material="wall"/>'
        for i, (c, h) in enumerate(walls)
    )
    cx, cy = view_center
    return f"""
<mujoco model="peach_lite_point_mass">
  <compiler angle="radian"/>
  <option timestep="{timestep}" integrator="implicitfast" gravity="0 0 0"/>
  <visual>
    <global offwidth="640" offheight="640"/>
    <quality shadowsize="0"/>
    <headlight ambient="0.6 0.6 0.6" diffuse="0.4 0.4 0.4"/>
  </visual>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1=".93 .93 .9" rgb2=".87 .87 .84" width="64" height="64"/>
    <material name="grid" texture="grid" texrepeat="{view_size:.3g} {view_size:.3g}" reflectance="0"/>
    <material name="wall" rgba=".25 .25 .3 1"/>
  </asset>
  <worldbody>
    <geom name="floor" type="plane" pos="{cx} {cy} 0" size="{view_size} {view_size} 0.1" material="grid" contype="0" conaffinity="0"/>
    <camera name="top" pos="{cx} {cy} 10" xyaxes="1 0 0 0 1 0" projection="orthographic" fovy="{view_size}"/>
    {wall_geoms}
    <site name="goal" type="cylinder" pos="0 0 0.002" size="{goal_radius} 0.002" rgba=".2 .75 .3 .45"/>
    <site name="goal_center" type="sphere" pos="0 0 0.01" size="{min(goal_radius, radius)}" rgba=".1 .6 .2 1"/>
    <body name="mass" pos="0 0 {radius}">
      <joint name="x" type="slide" axis="1 0 0"/>
      <joint name="y" type="slide" axis="0 1 0"/>
      <geom name="mass" type="sphere" size="{radius}" mass="1" rgba=".16 .35 .8 1"/>
    </body>
  </worldbody>
  <actuator>{actuators}</actuator>
</mujoco>
"""


class _MujocoFramesMixin:
    """Lazy ``MujocoFrames`` for an env with ``model``/``data``; frames from the "top" camera."""

    model: Any
    data: Any
    _frames: MujocoFrames | None = None

    def _mujoco_frame(self, extra: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
        if self._frames is None:
            self._frames = MujocoFrames(self.model, self.width, self.height)  # type: ignore[attr-defined]
        return self._frames.render(self.data, "top", extra + self.get_markers())  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        super().close()  # type: ignore[misc]


# ======================================================================================= PointMass
class PointMassEnv(_MujocoFramesMixin, PointRobotEnv):
    """The point robot simulated by MuJoCo (same tasks, spaces and rewards; see the module doc).

    Args: as ``PointRobotEnv``.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    FRAME_SKIP = 10
    """MuJoCo steps of 0.01 s per env step."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        xml = point_mass_xml(actuator="position", gain=1e4, view_center=(0.0, 0.25), view_size=3.2, goal_radius=self.goal_radius)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self._goal_sites = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, n) for n in ("goal", "goal_center")]
        self._apply_task(self.get_task())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self._state
        self.data.ctrl[:] = self._state
        mujoco.mj_forward(self.model, self.data)
        return obs, info

    def step(self, action: Any):
        action = self._check_box_action(action)
        target = np.clip(self.data.qpos + MAX_STEP * np.clip(action, -1.0, 1.0), -STATE_LIMIT, STATE_LIMIT)
        self.data.ctrl[:] = target
        mujoco.mj_step(self.model, self.data, nstep=self.FRAME_SKIP)
        self._state = np.clip(self.data.qpos.copy(), -STATE_LIMIT, STATE_LIMIT)
        self._trail.append(self._state.copy())
        info = self._info(self._state)
        reward = info["sparse_reward"] if self.reward_type == "sparse" else info["dense_reward"]
        return self._state.astype(np.float32), float(reward), False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        extra = []
        if self.goal_distribution == "semicircle":
            extra = [(np.array([g[0], g[1], 0.01]), np.array([0.6, 0.6, 0.6, 1.0], np.float32), 0.015) for g in semicircle_goals()]
        return self._mujoco_frame(extra)

    def _apply_task(self, task: Any) -> None:
        super()._apply_task(task)
        if getattr(self, "model", None) is not None:
            for site in self._goal_sites:
                self.model.site_pos[site, :2] = self._goal


class SparsePointMassEnv(PointMassEnv):
    """``peach_lite/PointMassSparse-v0``: MuJoCo version of ``PointRobotSparse-v0``.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    def __init__(self, reward_type: str = "sparse", goal_radius: float = GOAL_RADIUS, **kwargs: Any):
        super().__init__(goal_distribution="semicircle", reward_type=reward_type, random_start=False, goal_radius=goal_radius, **kwargs)


class DensePointMassEnv(PointMassEnv):
    """``peach_lite/PointMassDense-v0``: MuJoCo version of ``PointRobotDense-v0``.

    Taught in notebooks/01_task_gallery.py (section "Grids of sampled tasks").
    """

    def __init__(self, reward_type: str = "dense", goal_radius: float = GOAL_RADIUS, **kwargs: Any):
        super().__init__(goal_distribution="square", reward_type=reward_type, random_start=True, goal_radius=goal_radius, **kwargs)


# ============================================================================================ maze
@dataclass(frozen=True)
class MazeTask(Task):
    """One maze task: the goal, its room and the start room.

    Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
    """

    goal: tuple[float, float]
    """Goal (x, y), inside the goal room and at least the mass radius from its walls."""
    goal_room: int | None = None
    """Room of the goal, 0..3 (0 SW, 1 SE, 2 NE, 3 NW); derived from ``goal`` when None."""
    start_room: int = 0
    """Room whose centre the mass starts near, 0..3."""

    def __post_init__(self) -> None:
        limit = ARENA_HALF - MASS_RADIUS
        goal = float_tuple("goal", self.goal, 2, -limit, limit)
        object.__setattr__(self, "goal", goal)
        room = int(room_of(np.array(goal)))
        for name in ("goal_room", "start_room"):
            value = getattr(self, name)
            if value is None and name == "goal_room":
                object.__setattr__(self, name, room)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer in [0, 3], got {value!r}")
            check_range(name, value, 0, 3)
            object.__setattr__(self, name, int(value))
        low, high = room_box(self.goal_room, MASS_RADIUS)
        if not (np.all(np.array(goal) >= low) and np.all(np.array(goal) <= high)):
            raise ValueError(
                f"goal must lie inside goal_room {self.goal_room} (x in [{low[0]:.2f}, {high[0]:.2f}], "
                f"y in [{low[1]:.2f}, {high[1]:.2f}]), got {goal}"
            )


class PointMazeEnv(_MujocoFramesMixin, TaskEnvMixin, gym.Env):
    """Four-rooms point-mass maze, goal-conditioned (see the module docstring).

    Args:
        reward_type: ``"sparse"`` (-1 per step, 0 at the goal; HAC) or ``"dense"`` (-distance).
        goal_threshold: success radius in xy (0.4, HAC ant four-rooms' xy threshold).
        goal_rooms: rooms that ``sample_tasks`` draws goals from (default 1, 2, 3).
        start_room: start room of sampled tasks (default 0).
        max_speed: speed (units/s) of a full action; one env step lasts 0.1 s.
        start_noise: the start is the start room's centre + U[-start_noise, start_noise]^2.
        sample_goal_on_reset: draw a new task from the distribution at every reset (with the env's
            seeded ``np_random``), as HER-style training wants; ``reset(options={"task": ...})`` wins.
        render_mode: ``None`` or ``"rgb_array"``.
        width, height: frame size in pixels.

    Spaces: observation Dict(observation Box(4,), achieved_goal Box(2,), desired_goal Box(2,)),
    float32, positions in [-4, 4], velocities in [-10, 10]; action Box(-1, 1, (2,), float32).
    ``info``: ``distance``, ``is_success``, ``room`` (current room), ``sparse_reward``, ``dense_reward``.

    Taught in notebooks/01_task_gallery.py (section "The point-mass maze and its markers").
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    reset_options: ClassVar[tuple[str, ...]] = ("task", "start")
    """``reset(options={"start": (x, y)})`` puts the mass there at rest (a free position: see :func:`free_position`)."""
    task_cls = MazeTask
    num_train_tasks = 80
    num_test_tasks = 20
    FRAME_SKIP = 10
    """MuJoCo steps of 0.01 s per env step."""
    VELOCITY_LIMIT = 10.0
    """Observation bound on |velocity| (the servo keeps it below max_speed, bar contact transients)."""

    def __init__(
        self,
        reward_type: str = "sparse",
        goal_threshold: float = 0.4,
        goal_rooms: tuple[int, ...] = (1, 2, 3),
        start_room: int = 0,
        max_speed: float = 2.0,
        start_noise: float = 0.5,
        sample_goal_on_reset: bool = False,
        render_mode: str | None = None,
        width: int = 240,
        height: int = 240,
    ):
        check_choice("reward_type", reward_type, ["sparse", "dense"])
        check_range("goal_threshold", goal_threshold, 1e-3, 4.0)
        goal_rooms = tuple(int(r) for r in goal_rooms)
        if not goal_rooms:
            raise ValueError("goal_rooms must name at least one room in [0, 3], got ()")
        for room in goal_rooms:
            check_range("goal_rooms[i]", room, 0, 3)
        check_range("start_room", start_room, 0, 3)
        check_range("max_speed", max_speed, 0.01, self.VELOCITY_LIMIT / 2)
        check_range("start_noise", start_noise, 0.0, 1.0)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.reward_type = reward_type
        self.goal_threshold = float(goal_threshold)
        self.goal_rooms = goal_rooms
        self.start_room = int(start_room)
        self.max_speed = float(max_speed)
        self.start_noise = float(start_noise)
        self.sample_goal_on_reset = bool(sample_goal_on_reset)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.dt = 0.01 * self.FRAME_SKIP

        xml = point_mass_xml(
            walls=_maze_walls(), actuator="velocity", gain=10.0, radius=MASS_RADIUS, view_size=2 * ARENA_HALF + 0.4, goal_radius=goal_threshold
        )
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self._goal_sites = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, n) for n in ("goal", "goal_center")]

        position = gym.spaces.Box(-ARENA_HALF, ARENA_HALF, shape=(2,), dtype=np.float32)
        low = np.array([-ARENA_HALF] * 2 + [-self.VELOCITY_LIMIT] * 2, dtype=np.float32)
        self.observation_space = gym.spaces.Dict(
            {"observation": gym.spaces.Box(low, -low, dtype=np.float32), "achieved_goal": position, "desired_goal": position}
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._goal = np.zeros(2)
        self._start_room = self.start_room
        self._init_task_api(self.test_tasks()[0])

    # ------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            self._task_from_options(options)
        if self.sample_goal_on_reset and "task" not in (options or {}):
            self.set_task(self._sample_tasks(self.np_random, 1)[0])
        mujoco.mj_resetData(self.model, self.data)
        start = ROOM_CENTERS[self._start_room] + self.np_random.uniform(-self.start_noise, self.start_noise, size=2)
        self.data.qpos[:] = start if (options or {}).get("start") is None else free_position("start", options["start"])
        mujoco.mj_forward(self.model, self.data)
        obs = self._obs()
        return obs, self._info(obs["achieved_goal"])

    def step(self, action: Any):
        action = self._check_box_action(action)
        self.data.ctrl[:] = self.max_speed * np.clip(action, -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=self.FRAME_SKIP)
        obs = self._obs()
        info = self._info(obs["achieved_goal"])
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)) + 0.0  # no -0.0
        return obs, reward, bool(info["is_success"]), False, info

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray:
        """Reward of reaching ``achieved_goal`` (..., 2) when aiming for ``desired_goal`` (..., 2).

        Vectorised for hindsight relabelling: sparse gives -1 outside ``goal_threshold`` and 0 inside;
        dense gives -distance. ``info`` is ignored (kept for the gymnasium-robotics signature).

        Returns:
            (...) float32 rewards.
        """
        distance = np.linalg.norm(np.asarray(achieved_goal, dtype=np.float64) - np.asarray(desired_goal, dtype=np.float64), axis=-1)
        if self.reward_type == "sparse":
            return -(distance > self.goal_threshold).astype(np.float32)
        return (-distance).astype(np.float32)

    def compute_terminated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray:
        """True where ``achieved_goal`` is within ``goal_threshold`` of ``desired_goal`` (vectorised)."""
        distance = np.linalg.norm(np.asarray(achieved_goal, dtype=np.float64) - np.asarray(desired_goal, dtype=np.float64), axis=-1)
        return distance <= self.goal_threshold

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._mujoco_frame([])

    # ------------------------------------------------------------------------------- task API
    def _sample_tasks(self, rng: np.random.Generator, n: int) -> list[MazeTask]:
        rooms = rng.choice(np.array(self.goal_rooms), size=n)
        tasks = []
        for room in rooms:
            low, high = room_box(int(room), ROOM_MARGIN)
            tasks.append(MazeTask(goal=tuple(rng.uniform(low, high)), goal_room=int(room), start_room=self.start_room))
        return tasks

    def _apply_task(self, task: MazeTask) -> None:
        self._goal = np.asarray(task.goal, dtype=np.float64)
        self._start_room = task.start_room
        for site in self._goal_sites:
            self.model.site_pos[site, :2] = self._goal

    def _default_marker_radius(self) -> float:
        return 0.15

    def _default_marker_z(self) -> float:
        return MASS_RADIUS

    # -------------------------------------------------------------------------------- helpers
    def _obs(self) -> dict[str, np.ndarray]:
        position = np.clip(self.data.qpos, -ARENA_HALF, ARENA_HALF)
        velocity = np.clip(self.data.qvel, -self.VELOCITY_LIMIT, self.VELOCITY_LIMIT)
        return {
            "observation": np.concatenate([position, velocity]).astype(np.float32),
            "achieved_goal": position.astype(np.float32),
            "desired_goal": self._goal.astype(np.float32),
        }

    def _info(self, achieved_goal: np.ndarray) -> dict[str, Any]:
        distance = float(np.linalg.norm(np.asarray(achieved_goal, dtype=np.float64) - self._goal))
        success = distance <= self.goal_threshold
        return {
            "distance": distance,
            "is_success": success,
            "room": int(room_of(achieved_goal)),
            "sparse_reward": 0.0 if success else -1.0,
            "dense_reward": -distance,
        }
