"""Transfer (peach_lite/peach_transfer.py): frozen copies of the lower levels under a fresh top level, and the
bottom level's reach test per room."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from peach_lite.loop import GymTaskEnvs
from peach_lite.peach import PEACH, PeachConfig
from peach_lite.peach_transfer import (doorway_pairs, doorway_reach, lower_level_reach, practise_lower_levels, proposal_reach,
                                       proposal_summary, reachable_subgoal, transfer_agent)

MAZE = "peach_lite/PointMazeHidden-v0"


@pytest.fixture(scope="module")
def source() -> PEACH:
    envs = GymTaskEnvs(MAZE, seed=0)
    agent = PEACH.from_env(envs, len(envs.unwrapped.train_tasks()), PeachConfig(seed=0, batch_size=8, buffer_size=2_000))
    envs.close()
    return agent


def test_transfer_copies_and_freezes_the_lower_levels_and_starts_a_fresh_top_level(source):
    fresh = transfer_agent(source, 24, seed=7)
    assert fresh.config.lower_updates_per_episode == 0 and fresh.config.seed == 7
    for new, old in zip(fresh.hierarchy.levels[:-1], source.hierarchy.levels[:-1]):
        assert all(torch.equal(a, b) for a, b in zip(new.state_dict().values(), old.state_dict().values()))
        assert not any(p.requires_grad for p in new.parameters())
        assert all(a.data_ptr() != b.data_ptr() for a, b in zip(new.parameters(), old.parameters()))  # copies
    top_new, top_old = fresh.hierarchy.levels[-1], source.hierarchy.levels[-1]
    assert not all(torch.equal(a, b) for a, b in zip(top_new.state_dict().values(), top_old.state_dict().values()))
    assert all(p.requires_grad for p in top_new.parameters())


def test_transfer_refuses_lower_level_updates(source):
    with pytest.raises(ValueError, match="lower_updates_per_episode"):
        transfer_agent(source, 24, lower_updates_per_episode=1)


def test_lower_level_reach_is_a_fraction_per_room(source):
    reach = lower_level_reach(source, rooms=(0, 2), num_subgoals=2, distance=0.5)
    assert reach.shape == (2,) and np.all((reach >= 0) & (reach <= 1))
    assert np.array_equal(reach, lower_level_reach(source, rooms=(0, 2), num_subgoals=2, distance=0.5))  # seeded


@pytest.mark.parametrize("bad, field", [(dict(distance=2.0), "distance"), (dict(distance=0.0), "distance"),
                                        (dict(num_subgoals=0), "num_subgoals"), (dict(rooms=(4,)), "rooms")])
def test_lower_level_reach_rejects_bad_arguments(source, bad, field):
    with pytest.raises(ValueError, match=field):
        lower_level_reach(source, **bad)


def test_unfrozen_copies_keep_training(source):
    copied = transfer_agent(source, 24, freeze=False, seed=7)
    assert copied.config.lower_updates_per_episode == source.config.lower_updates_per_episode > 0
    for new, old in zip(copied.hierarchy.levels[:-1], source.hierarchy.levels[:-1]):
        assert all(torch.equal(a, b) for a, b in zip(new.state_dict().values(), old.state_dict().values()))
        assert all(p.requires_grad for p in new.parameters())


def test_a_transfer_from_a_loaded_checkpoint_gets_real_buffers(source, tmp_path):
    """A checkpoint saves no buffers; the loaded agent keeps the saved buffer_size (once a placeholder 1, which a
    transfer inherited: its top level learned from one transition), and so does the agent transferred from it."""
    from peach_lite.checkpoints import load_agent, save_agent

    save_agent(source, tmp_path / "source.pt")
    loaded, _ = load_agent(tmp_path / "source.pt", algorithm="peach", check_manifest=False)
    assert loaded.config.buffer_size == source.config.buffer_size == loaded.rl_buffer.capacity != 1
    assert transfer_agent(loaded, 24).config.buffer_size == source.config.buffer_size
    assert transfer_agent(loaded, 24, buffer_size=500).config.buffer_size == 500


def test_a_copied_top_level_and_encoder_start_from_the_source_and_keep_training(source):
    tuned = transfer_agent(source, 24, seed=7, top="copied")
    for new, old in [(tuned.top, source.top), (tuned.posterior, source.posterior), (tuned.reward_decoder, source.reward_decoder)]:
        assert all(torch.equal(a, b) for a, b in zip(new.state_dict().values(), old.state_dict().values()))
        assert all(a.data_ptr() != b.data_ptr() for a, b in zip(new.parameters(), old.parameters()))  # copies
        assert all(p.requires_grad for p in new.parameters())
    assert tuned.config.lower_updates_per_episode == 0 and tuned.num_train_tasks == 24
    with pytest.raises(ValueError, match="top"):
        transfer_agent(source, 24, top="warm")


def test_proposal_reach_counts_by_distance_and_by_move():
    agent = PEACH.__new__(PEACH)  # only the log is read
    agent.proposal_log = []
    assert proposal_reach(agent)["path_counts"] == [0, 0, 0, 0] and np.sum(proposal_reach(agent)["moves"]) == 0
    agent.proposal_log = [np.array([[-2, -2, -1.5, -2, 0],   # room 0 -> room 0, 0.5 away, reached
                                    [1, -2, -0.5, -2, 1]], np.float32),  # room 1 -> room 0, 1.5 through the doorway, missed
                          np.array([[2, 2, -2, 2, 1],  # room 2 -> room 3, 4.0 through the doorway, missed
                                    [-1, -1, 1, -1, 1]], np.float32)]  # room 0 -> room 1, 2.0 apart, round the wall: missed
    reach = proposal_reach(agent)
    assert reach["path_edges"] == [1.0, 1.5, 2.0]
    assert reach["path_counts"] == [1, 1, 0, 2] and reach["path_missed"] == [0, 1, 0, 2]  # the last: 2 * hypot(1, 0.65)
    moves, missed = np.array(reach["moves"]), np.array(reach["moves_missed"])
    assert moves.sum() == 4 and moves[0, 0] == moves[1, 0] == moves[2, 3] == moves[0, 1] == 1 and missed.sum() == 3 and missed[0, 0] == 0
    near, near_missed = np.array(reach["near_moves"]), np.array(reach["near_moves_missed"])
    assert near.sum() == 2 and near[2, 3] == near[0, 1] == 0 and near_missed[1, 0] == 1 and near_missed.sum() == 1
    summary = proposal_summary([reach, reach], start_room=1)  # pooled: the same shares
    assert summary == {"proposals_beyond_reach": 0.5, "missed_near": 0.5, "missed_near_leaving_start": 1.0,
                       "room0_proposals": 0.5, "room0_proposals_near": 1.0, "missed_near_into_room0": 1.0}
    assert proposal_summary([reach], start_room=2, into_room=3)["room3_proposals_near"] == 0.0  # 4.0 along the maze
    with pytest.raises(ValueError, match="into_room"):
        proposal_summary([reach], start_room=2, into_room=4)


@pytest.mark.parametrize("bad, field", [(dict(edges=()), "edges"), (dict(edges=(1.5, 1.0)), "edges"),
                                        (dict(edges=(0.0, 1.0)), "edges"), (dict(near=0.0), "near")])
def test_proposal_reach_rejects_bad_arguments(source, bad, field):
    with pytest.raises(ValueError, match=field):
        proposal_reach(source, **bad)


def test_doorway_reach_runs_each_doorway_both_ways(source):
    reach = doorway_reach(source, num_pairs=3)
    doors = np.zeros((4, 4), bool)
    for a, b in ((0, 1), (1, 2), (2, 3), (0, 3)):
        doors[a, b] = doors[b, a] = True
    assert np.array_equal(np.isnan(reach), ~doors) and np.all((reach[doors] >= 0) & (reach[doors] <= 1))
    assert np.array_equal(reach, doorway_reach(source, num_pairs=3), equal_nan=True)  # seeded
    source.hierarchy.thresholds[0], threshold = 10.0, source.hierarchy.thresholds[0]
    try:  # every subgoal counts as reached: every crossing is
        assert np.all(doorway_reach(source, num_pairs=2)[doors] == 1.0)
    finally:
        source.hierarchy.thresholds[0] = threshold


def test_doorway_pairs_straddle_a_doorway_within_the_path_length():
    from peach_lite.envs.point_mass import free_position, maze_path_length, room_of

    pairs = doorway_pairs(2, 1, max_path=1.2, num_pairs=50, rng=np.random.default_rng(0))
    assert pairs.shape == (50, 2, 2) and np.all(room_of(pairs[:, 0]) == 2) and np.all(room_of(pairs[:, 1]) == 1)
    assert np.all(maze_path_length(pairs[:, 0], pairs[:, 1]) <= 1.2)
    for point in pairs.reshape(-1, 2):
        free_position("point", point)  # no ValueError: the mass fits there
    with pytest.raises(ValueError, match="neighbours"):
        doorway_pairs(0, 2, max_path=1.2, num_pairs=5, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad, field", [(dict(max_path=0.4), "max_path"), (dict(max_path=2.5), "max_path"),
                                        (dict(num_pairs=0), "num_pairs")])
def test_doorway_reach_rejects_bad_arguments(source, bad, field):
    with pytest.raises(ValueError, match=field):
        doorway_reach(source, **bad)


def test_the_sources_bottom_level_crosses_best_out_of_the_sources_start_room():
    """Lesson 11's transfer section: seed 0's source (the committed checkpoint, the frozen arm's lower levels) crosses
    out of room 0, where every source attempt began, far more often than the same pairs the other way, or any other
    doorway; out of the target's start room (2) it makes about half."""
    from peach_lite.checkpoints import load_agent
    from peach_lite.paths import checkpoints_dir

    agent, _ = load_agent(checkpoints_dir() / "peach_maze_eliminating.pt", algorithm="peach")
    crossings = doorway_reach(agent, num_pairs=256)
    others = [crossings[a, b] for a, b in ((1, 0), (3, 0), (1, 2), (2, 1), (2, 3), (3, 2))]
    assert min(crossings[0, 1], crossings[0, 3]) >= 0.7 and min(crossings[0, 1], crossings[0, 3]) > max(others) + 0.1
    assert crossings[0, 1] - crossings[1, 0] >= 0.2 and crossings[0, 3] - crossings[3, 0] >= 0.2
    assert max(crossings[2, 1], crossings[2, 3]) <= 0.55


def test_random_start_puts_the_mass_at_rest_all_over_the_maze_and_is_seeded():
    from peach_lite.envs import make
    from peach_lite.envs.point_mass import RandomStart, free_position, room_of

    env = RandomStart(make(MAZE))
    try:
        starts = []
        for seed in range(40):
            obs, _ = env.reset(seed=seed)
            assert np.all(obs["observation"][2:] == 0.0)  # at rest
            free_position("start", obs["achieved_goal"])  # no ValueError: the mass fits there
            starts.append(obs["achieved_goal"])
        assert set(room_of(np.array(starts)).tolist()) == {0, 1, 2, 3}
        assert np.array_equal(env.reset(seed=3)[0]["achieved_goal"], starts[3])
        assert np.allclose(env.reset(seed=3, options={"start": (1.0, -2.0)})[0]["achieved_goal"], (1.0, -2.0))  # asked for
    finally:
        env.close()


def test_reachable_subgoals_stay_within_the_path_length_and_cross_where_asked():
    from peach_lite.envs.point_mass import free_position, maze_path_length, room_of

    rng, near_door = np.random.default_rng(0), np.array([1.8, 0.6])  # room 2, next to the doorway into room 1
    anywhere = np.stack([reachable_subgoal(near_door, 1.2, rng) for _ in range(200)])
    crossing = np.stack([reachable_subgoal(near_door, 1.2, rng, other_room=True) for _ in range(50)])
    for points in (anywhere, crossing):
        assert np.all(maze_path_length(np.broadcast_to(near_door, points.shape), points) <= 1.2)
        for point in points:
            free_position("point", point)
    assert 0.0 < np.mean(room_of(anywhere) == 1) < 0.5 and np.all(room_of(crossing) == 1)
    far = np.array([3.5, 3.5])  # no doorway within reach: the crossing falls back to the same room
    assert room_of(reachable_subgoal(far, 1.0, rng, other_room=True)) == 2
    with pytest.raises(ValueError, match="max_path"):
        reachable_subgoal(far, 0.0, rng)


def test_practice_trains_only_the_lower_levels_and_restores_the_hierarchy(source):
    agent = transfer_agent(source, 24, freeze=False, seed=3)
    agent.config.lower_updates_per_episode = 2
    agent.hierarchy.config.batch_size = 8
    hac = agent.hierarchy
    hooks = hac.top_plan, hac.top_attempt_hook
    before = {name: [p.detach().clone() for p in module.parameters()]
              for name, module in (("bottom", hac.levels[0]), ("top", agent.top), ("posterior", agent.posterior))}
    out = practise_lower_levels(agent, 6, num_envs=3, seed=0)
    assert out["episodes"] == 6 and out["steps"] > 0
    changed = {name: any(not torch.equal(a, b) for a, b in zip(params, module.parameters()))
               for (name, params), module in zip(before.items(), (hac.levels[0], agent.top, agent.posterior))}
    assert changed == {"bottom": True, "top": False, "posterior": False}
    assert len(agent.rl_buffer) == 0 and agent.proposal_log == []  # PEACH's own records untouched
    assert (hac.top_plan, hac.top_attempt_hook) == hooks
    again = transfer_agent(source, 24, freeze=False, seed=3)
    again.config.lower_updates_per_episode, again.hierarchy.config.batch_size = 2, 8
    assert practise_lower_levels(again, 6, num_envs=3, seed=0) == out  # seeded: the same practice
    assert all(torch.equal(a, b) for a, b in zip(again.hierarchy.levels[0].parameters(), hac.levels[0].parameters()))


@pytest.mark.parametrize("bad, field", [(dict(episodes=0), "episodes"), (dict(max_path=0.2), "max_path"),
                                        (dict(cross_rate=1.5), "cross_rate"), (dict(num_envs=0), "num_envs")])
def test_practice_rejects_bad_arguments(source, bad, field):
    with pytest.raises(ValueError, match=field):
        practise_lower_levels(source, **{"episodes": 1, **bad})
