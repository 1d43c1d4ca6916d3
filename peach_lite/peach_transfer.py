"""Transfer, "same dynamics, a new reward" (the poster's open question): PEACH's trained lower levels, frozen, under a
top level and encoder trained for a new goal distribution (fresh, or fine-tuned from the source's); reward-free
practice for the lower levels from starts all over the maze; and what a transfer's levels can do (reach inside a
room, cross each doorway each way) and were asked to do while training.

Measured by benchmarks/peach_transfer.py. Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from peach_lite.envs.point_mass import maze_path_length, room_of
from peach_lite.her import goal_reached
from peach_lite.peach import PEACH
from peach_lite.peach_config import HIDDEN_MAZE_ID, PeachConfig
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["transfer_agent", "lower_level_reach", "bottom_level_reaches", "doorway_reach", "doorway_pairs", "proposal_reach", "proposal_summary", "REACH_EDGES",
           "practise_lower_levels", "reachable_subgoal"]


def transfer_agent(trained: PEACH, num_train_tasks: int, *, freeze: bool = True, top: str = "fresh", **overrides: Any) -> PEACH:
    """"Same dynamics, a new reward" (the poster's open question): a new PEACH whose lower levels are copies of
    ``trained``'s and stay frozen (``lower_updates_per_episode = 0``); its top level and encoder are trained on the new
    goal distribution, from scratch (``top="fresh"``) or from ``trained``'s (``top="copied"``: fine-tuned).

    Args:
        trained: a trained PEACH (its spec: the same maze).
        num_train_tasks: train tasks of the new goal distribution.
        freeze: False keeps training the copied lower levels (the ablation that separates "these levels" from "levels
            that no longer adapt").
        top: "fresh" (a new top level, posterior and reward decoder) or "copied" (``trained``'s, trained on: what the
            top level knows of searching the maze and reading z carries over; which sites pay does not).
        **overrides: :class:`PeachConfig` fields of the new agent (default: ``trained``'s, with a new seed if given).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    check_choice("top", top, ("fresh", "copied"))
    config = PeachConfig.from_dict({**trained.config.to_dict(), **({"lower_updates_per_episode": 0} if freeze else {}), **overrides})
    if freeze:
        check_int("lower_updates_per_episode", config.lower_updates_per_episode, 0, 0)  # frozen lower levels
    agent = PEACH(trained.spec, num_train_tasks, config)
    for new, old in zip(agent.hierarchy.levels[:-1], trained.hierarchy.levels[:-1]):
        new.load_state_dict(old.state_dict())
        new.requires_grad_(not freeze)
    if top == "copied":
        agent.top.load_state_dict(trained.top.state_dict())
        agent.posterior.load_state_dict(trained.posterior.state_dict())
        agent.reward_decoder.load_state_dict(trained.reward_decoder.state_dict())
    agent.hierarchy.actors_changed()
    return agent


def practise_lower_levels(agent: PEACH, episodes: int, *, max_path: float = 1.5, cross_rate: float = 1.0, num_envs: int = 4,
                          seed: int = 0, env_id: str = HIDDEN_MAZE_ID) -> dict[str, int]:
    """Reward-free practice for ``agent``'s lower levels (in place), before they are frozen for a transfer.

    A source's lower levels learn the moves its top level asked for, which come from the source's start room (its
    doorways crossed one way, :func:`doorway_reach`). Here every episode starts at rest anywhere in the maze
    (:class:`~peach_lite.envs.point_mass.RandomStart`). At each attempt, the top level's proposal is replaced by a
    uniform point within ``max_path`` along the maze (:func:`reachable_subgoal`), a ``cross_rate`` share of them in
    another room where one is within reach: the moves one attempt can make, crossings both ways included. The lower
    levels learn as in Algorithm 1, with HAC's hindsight losses: ``lower_updates_per_episode`` steps after each
    lockstep wave of ``num_envs`` episodes. The top level, the posterior and PEACH's buffers are left alone. The
    hidden goals pay nothing here, though reaching one still ends the episode.

    Args:
        agent: a PEACH (its ``hierarchy``'s lower levels learn).
        episodes: practice episodes, in [1, 10**6] (rounded up to whole waves).
        max_path: the longest way to a practice subgoal, in [0.5, 2.0] (one attempt's reach).
        cross_rate: the share of proposals drawn in another room (a doorway crossing), in [0, 1].
        num_envs: episodes per wave, in [1, 64].
    Returns:
        ``{"episodes": ..., "steps": ...}``: the env steps the practice took (not the target's).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    from peach_lite.envs import make
    from peach_lite.envs.point_mass import RandomStart
    from peach_lite.loop import GymTaskEnvs
    from peach_lite.runner import Runner

    check_int("episodes", episodes, 1, 10**6)
    check_range("max_path", max_path, 0.5, 2.0)
    check_range("cross_rate", cross_rate, 0.0, 1.0)
    check_int("num_envs", num_envs, 1, 64)
    hac, rng = agent.hierarchy, np.random.default_rng(seed)
    envs = GymTaskEnvs(lambda: RandomStart(make(env_id)), num_envs, seed=seed)
    runner = Runner(envs, envs.unwrapped.train_tasks(), seed=seed)
    saved = hac.top_plan, hac.top_attempt_hook, hac.top_cond
    hac.top_plan = lambda e, state: reachable_subgoal(state[: agent.spec.goal_dim], max_path, rng, other_room=rng.random() < cross_rate)
    hac.top_attempt_hook = None  # the attempts are not the task's: PEACH's buffers stay as they were
    done = steps = 0
    try:
        while done < episodes:
            hac.top_cond = np.zeros((num_envs, agent.cond_dim), np.float32)  # read by nobody: the plan overrides the top
            steps += runner.run_episodes(hac, runner.draw_tasks(num_envs), explore=True).num_steps
            hac.learn(agent.config.lower_updates_per_episode)
            done += num_envs
    finally:
        hac.top_plan, hac.top_attempt_hook, hac.top_cond = saved
        envs.close()
    return {"episodes": done, "steps": int(steps)}


def reachable_subgoal(start: np.ndarray, max_path: float, rng: np.random.Generator, *, other_room: bool = False) -> np.ndarray:
    """(2,) a uniform point of the maze's rooms (clear of the walls by the mass radius) at most ``max_path`` from
    ``start`` (2,) along the maze (rejection sampling with :func:`~peach_lite.envs.point_mass.maze_path_length`).
    ``max_path`` in [0.5, 2.0]; ``other_room``: in a room other than the start's, a doorway crossing, where one is
    that near (else anywhere).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    from peach_lite.envs.point_mass import MASS_RADIUS, room_box

    check_range("max_path", max_path, 0.5, 2.0)
    boxes, own, misses = [room_box(room, MASS_RADIUS) for room in range(4)], int(room_of(np.asarray(start))), 0
    while True:
        crossing = other_room and misses < 8  # 8 misses: no crossing within reach of this start (or a sliver)
        drawn = rng.choice([room for room in range(4) if room != own] if crossing else list(range(4)), size=256)
        points = np.stack([rng.uniform(*boxes[room]) for room in drawn])
        near = np.flatnonzero(maze_path_length(np.broadcast_to(start, points.shape), points) <= max_path)
        if near.size:
            return points[near[0]].astype(np.float32)
        misses += 1


def lower_level_reach(agent: PEACH, *, rooms: Sequence[int] = (0, 1, 2, 3), distance: float = 1.5, num_subgoals: int = 32,
                      seed: int = 0, env_id: str = HIDDEN_MAZE_ID) -> np.ndarray:
    """Can the bottom level move from each room? Starting near a room's centre (the maze's ``start_room``), it gets a
    subgoal ``distance`` away in a uniform random direction (inside the room for distance < 1.5) and acts greedily
    for its horizon; reached means the hierarchy's own subgoal test.

    Args:
        agent: a trained PEACH (its ``hierarchy.levels[0]`` is tested, whatever reads z above it).
        rooms: rooms 0..3 to start in.
        distance: subgoal distance from the start, in (0, 1.5].
        num_subgoals: subgoals per room, in [1, 1000].
    Returns:
        (len(rooms),) fraction of subgoals reached, per room.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    from peach_lite.envs import make

    check_range("distance", distance, 1e-6, 1.5)
    check_int("num_subgoals", num_subgoals, 1, 1000)
    for room in rooms:
        check_int("rooms", room, 0, 3)
    rng = np.random.default_rng(seed)
    reached = np.zeros(len(rooms))
    for r, room in enumerate(rooms):
        env = make(env_id, start_room=room, sites=tuple(k for k in range(4) if k != room))
        try:
            for i in range(num_subgoals):
                obs, _ = env.reset(seed=seed + i)
                angle = rng.uniform(0.0, 2 * np.pi)
                reached[r] += bottom_level_reaches(agent, env, obs, obs["achieved_goal"] + distance * np.array([np.cos(angle), np.sin(angle)]))
        finally:
            env.close()
    return reached / num_subgoals


def bottom_level_reaches(agent: PEACH, env: Any, obs: dict[str, np.ndarray], subgoal: np.ndarray) -> bool:
    """Does the bottom level, acting greedily from ``obs`` (a reset ``env``'s observation) for its horizon, reach
    ``subgoal`` (2,)? Reached means the hierarchy's own subgoal test; the episode's end stops it.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    hac, subgoal = agent.hierarchy, np.asarray(subgoal, np.float32)
    for _ in range(hac.horizons[0]):
        obs, _, terminated, truncated, _ = env.step(hac.level_action(0, obs["observation"], subgoal))
        if goal_reached(obs["achieved_goal"], subgoal, hac.thresholds[0], hac.norm):
            return True
        if terminated or truncated:
            return False
    return False


def doorway_reach(agent: PEACH, *, max_path: float = 1.5, num_pairs: int = 64, seed: int = 0,
                  env_id: str = HIDDEN_MAZE_ID) -> np.ndarray:
    """Can the bottom level cross each doorway, each way? For each pair of neighbouring rooms, ``num_pairs`` pairs of
    points, one in each room (uniform in the rooms, clear of their walls), drawn among those at most ``max_path``
    apart along the maze (:func:`~peach_lite.envs.point_mass.maze_path_length`); the mass starts at rest on one and the
    bottom level gets the other as its subgoal (:func:`bottom_level_reaches`). The same pairs run both ways, so a gap
    between ``[a, b]`` and ``[b, a]`` is the direction of the crossing (what the levels practised), not its length.

    Args:
        agent: a PEACH (its ``hierarchy.levels[0]`` is tested).
        max_path: the longest way between the points of a pair, in [0.5, 2.0] (one attempt's reach).
        num_pairs: pairs per doorway, in [1, 1000].
    Returns:
        (4, 4) fraction of crossings from room a (row) into room b (column) reached; nan where no doorway joins them.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    from peach_lite.envs import make
    from peach_lite.envs.point_mass import DOORS

    check_range("max_path", max_path, 0.5, 2.0)
    check_int("num_pairs", num_pairs, 1, 1000)
    rng, reached = np.random.default_rng(seed), np.full((4, 4), np.nan)
    env = make(env_id)
    try:
        for a, b in DOORS:
            pairs = doorway_pairs(a, b, max_path=max_path, num_pairs=num_pairs, rng=rng)
            for start_room, end_room, (start, end) in ((a, b, (0, 1)), (b, a, (1, 0))):
                hits = [bottom_level_reaches(agent, env, env.reset(seed=seed + i, options={"start": pair[start]})[0], pair[end])
                        for i, pair in enumerate(pairs)]
                reached[start_room, end_room] = float(np.mean(hits))
    finally:
        env.close()
    return reached


def doorway_pairs(a: int, b: int, *, max_path: float, num_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """(num_pairs, 2, 2) pairs of points, the first in room ``a`` and the second in its neighbour ``b`` (uniform in the
    rooms, clear of their walls by the mass radius), drawn among those at most ``max_path`` apart along the maze
    (rejection sampling with :func:`~peach_lite.envs.point_mass.maze_path_length`).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    from peach_lite.envs.point_mass import DOORS, MASS_RADIUS, room_box

    if (min(a, b), max(a, b)) not in DOORS:
        raise ValueError(f"rooms a, b must be neighbours joined by a doorway {sorted(DOORS)}, got ({a}, {b})")
    pairs = np.zeros((0, 2, 2))
    while len(pairs) < num_pairs:
        draws = np.stack([rng.uniform(*room_box(room, MASS_RADIUS), size=(4096, 2)) for room in (a, b)], axis=1)
        pairs = np.concatenate([pairs, draws[maze_path_length(draws[:, 0], draws[:, 1]) <= max_path]])
    return pairs[:num_pairs]


REACH_EDGES = (1.0, 1.5, 2.0)
"""Bin edges of a proposal's path length from its attempt's start (the shortest way through the maze's doorways,
:func:`~peach_lite.envs.point_mass.maze_path_length`). A full action moves the mass 0.2 per step, 1.6 in the bottom
level's 8 steps, so a subgoal more than 2.0 along the maze from the start (the 0.4 threshold added) cannot be reached
in one attempt; up to 1.5, :func:`lower_level_reach` finds the source's bottom level reaching every subgoal inside a
room."""


def proposal_reach(agent: PEACH, *, edges: Sequence[float] = REACH_EDGES, near: float = 1.5) -> dict[str, list]:
    """What the top level asked of the levels below while training, and what they did (``agent.proposal_log``):
    how far along the maze (:func:`~peach_lite.envs.point_mass.maze_path_length`), and from which room into which.

    Args:
        agent: a PEACH after training (its collections' log; empty before).
        edges: increasing path-length bin edges (> 0).
        near: proposals at most this far along the maze from their start are "near" (within reach of one attempt).
    Returns:
        ``"path_counts"`` and ``"path_missed"`` (len(edges) + 1,): proposals and missed proposals per path-length
        bin (``(edges[i - 1], edges[i]]``); ``"moves"``/``"moves_missed"`` and ``"near_moves"``/``"near_moves_missed"`` (4, 4): proposals (all, and
        the near ones) and missed ones by start room (row) and proposed room (column). Counts, so seeds add up.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    edges = [float(e) for e in edges]
    if not edges or edges[0] <= 0 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be increasing distances > 0, got {edges}")
    check_range("near", near, 1e-6, 8.0)
    log = np.concatenate(agent.proposal_log) if agent.proposal_log else np.zeros((0, 5), np.float32)
    starts, proposals, missed = log[:, :2], log[:, 2:4], log[:, 4] > 0
    path = maze_path_length(starts, proposals)
    bins = np.digitize(path, edges, right=True)  # (edge[i - 1], edge[i]]
    moves = np.zeros((2, 2, 4, 4), int)  # (all, near) x (proposed, missed) x start room x proposed room
    for k, keep in enumerate((np.ones(len(log), bool), path <= near)):
        for j, rows in enumerate((keep, keep & missed)):
            np.add.at(moves[k, j], (room_of(starts[rows]), room_of(proposals[rows])), 1)
    return {"path_edges": edges, "path_counts": np.bincount(bins, minlength=len(edges) + 1).tolist(),
            "path_missed": np.bincount(bins[missed], minlength=len(edges) + 1).tolist(),
            "moves": moves[0, 0].tolist(), "moves_missed": moves[0, 1].tolist(),
            "near_moves": moves[1, 0].tolist(), "near_moves_missed": moves[1, 1].tolist()}


def proposal_summary(reaches: Sequence[dict[str, list]], start_room: int, into_room: int = 0) -> dict[str, float]:
    """:func:`proposal_reach` counts of one or more runs, pooled, as shares (0 where there are none):

    * ``proposals_beyond_reach``: proposals more than the last edge (2.0) along the maze from the attempt's start,
      out of one attempt's reach;
    * ``missed_near``: near proposals (within 1.5) that the level below missed;
    * ``missed_near_leaving_start``: the same for those from ``start_room`` into another room;
    * ``room{into_room}_proposals``: proposals in ``into_room`` (the target's room 0: a third of its sites, the
      source's start room);
    * ``room{into_room}_proposals_near``: proposals into ``into_room`` from another room made within 1.5;
    * ``missed_near_into_room{into_room}``: the share of those missed.

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    check_int("start_room", start_room, 0, 3)
    check_int("into_room", into_room, 0, 3)
    if not reaches:
        raise ValueError("reaches must hold at least one proposal_reach result, got none")
    total = {key: np.sum([np.array(r[key]) for r in reaches], axis=0) for key in reaches[0] if key != "path_edges"}
    leaving, entering = [r for r in range(4) if r != start_room], [r for r in range(4) if r != into_room]

    def share(part: np.ndarray, whole: np.ndarray) -> float:
        return float(part.sum() / whole.sum()) if whole.sum() else 0.0

    return {"proposals_beyond_reach": share(total["path_counts"][-1:], total["path_counts"]),
            "missed_near": share(total["near_moves_missed"], total["near_moves"]),
            "missed_near_leaving_start": share(total["near_moves_missed"][start_room, leaving], total["near_moves"][start_room, leaving]),
            f"room{into_room}_proposals": share(total["moves"][:, into_room], total["moves"]),
            f"room{into_room}_proposals_near": share(total["near_moves"][entering, into_room], total["moves"][entering, into_room]),
            f"missed_near_into_room{into_room}": share(total["near_moves_missed"][entering, into_room], total["near_moves"][entering, into_room])}
