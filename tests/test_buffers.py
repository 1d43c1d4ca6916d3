"""Tests for peach_lite.buffers: ring wrap-around, sampling validity, state_dict, shape errors, multi-task."""
import numpy as np
import pytest
import torch

from peach_lite.buffers import MultiTaskReplayBuffer, ReplayBuffer, transition_fields


def _add(buffer, i):
    buffer.add(obs=torch.full((3,), float(i)), action=np.full(2, -i, dtype=np.float64), reward=float(i),
               next_obs=torch.full((3,), i + 0.5), done=i % 2 == 0)


def test_add_and_read_back_in_order():
    buffer = ReplayBuffer(10, transition_fields(3, 2))
    for i in range(4):
        _add(buffer, i)
    assert len(buffer) == 4
    data = buffer.all()
    assert data["obs"].shape == (4, 3) and data["reward"].shape == (4,) and data["done"].shape == (4,)
    assert data["reward"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert data["action"][:, 0].tolist() == [0.0, -1.0, -2.0, -3.0]
    assert data["done"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert data["obs"].dtype == torch.float32


def test_ring_buffer_wraps_around_keeping_the_newest():
    buffer = ReplayBuffer(5, transition_fields(3, 2))
    for i in range(12):
        _add(buffer, i)
    assert len(buffer) == 5
    assert buffer.all()["reward"].tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]


def test_add_batch_wraps_around():
    buffer = ReplayBuffer(5, {"x": (2,), "y": ()})
    buffer.add_batch(x=torch.zeros(3, 2), y=torch.arange(3.0))
    buffer.add_batch(x=torch.ones(4, 2), y=torch.arange(3.0, 7.0))
    assert buffer.all()["y"].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    buffer.add_batch(x=torch.ones(8, 2), y=torch.arange(8.0))  # more than capacity: keep the last 5
    assert buffer.all()["y"].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_samples_are_stored_transitions_and_consistent_across_fields():
    buffer = ReplayBuffer(100, transition_fields(3, 2))
    for i in range(30):
        _add(buffer, i)
    batch = buffer.sample(500, generator=torch.Generator().manual_seed(0))
    assert batch["obs"].shape == (500, 3) and batch["action"].shape == (500, 2) and batch["reward"].shape == (500,)
    index = batch["reward"]
    assert set(index.long().tolist()) <= set(range(30))
    assert len(set(index.long().tolist())) > 20  # uniform with replacement covers most rows
    torch.testing.assert_close(batch["obs"], index[:, None].expand(-1, 3))  # same row for every field
    torch.testing.assert_close(batch["next_obs"], index[:, None].expand(-1, 3) + 0.5)
    torch.testing.assert_close(batch["action"], -index[:, None].expand(-1, 2))


def test_sampling_is_reproducible_with_a_generator():
    buffer = ReplayBuffer(50, {"x": ()})
    buffer.add_batch(x=torch.arange(50.0))
    a = buffer.sample(20, torch.Generator().manual_seed(5))["x"]
    b = buffer.sample(20, torch.Generator().manual_seed(5))["x"]
    assert torch.equal(a, b)


def test_state_dict_round_trip_continues_the_ring():
    buffer = ReplayBuffer(5, transition_fields(3, 2))
    for i in range(7):
        _add(buffer, i)
    restored = ReplayBuffer(5, transition_fields(3, 2))
    restored.load_state_dict(buffer.state_dict())
    assert len(restored) == 5
    for key, value in buffer.all().items():
        assert torch.equal(restored.all()[key], value)
    _add(buffer, 7)
    _add(restored, 7)
    assert torch.equal(restored.all()["reward"], buffer.all()["reward"])
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(6, transition_fields(3, 2)).load_state_dict(buffer.state_dict())


def test_wrong_shapes_raise_value_error_naming_the_field():
    buffer = ReplayBuffer(5, transition_fields(3, 2))
    good = dict(obs=torch.zeros(3), action=torch.zeros(2), reward=0.0, next_obs=torch.zeros(3), done=False)
    with pytest.raises(ValueError, match="obs must have shape"):
        buffer.add(**{**good, "obs": torch.zeros(4)})
    with pytest.raises(ValueError, match="action must have shape"):
        buffer.add(**{**good, "action": torch.zeros(1, 2)})
    with pytest.raises(ValueError, match="missing \\['done'\\]"):
        buffer.add(**{k: v for k, v in good.items() if k != "done"})
    with pytest.raises(ValueError, match="reward must have shape"):
        buffer.add_batch(**{k: torch.zeros(2, *torch.as_tensor(v).shape) for k, v in good.items()} | {"reward": torch.zeros(2, 1)})
    assert len(buffer) == 0  # failed adds store nothing
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(4)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, {"x": ()})
    with pytest.raises(ValueError, match="batch_size"):
        buffer.add(**good)
        buffer.sample(0)


def test_multi_task_buffer_samples_each_task_from_its_own_data():
    buffer = MultiTaskReplayBuffer(num_tasks=4, capacity=6, fields={"obs": (2,), "task": ()})
    for task in range(4):
        for i in range(task + 2):
            buffer.add(task, obs=torch.tensor([task, i], dtype=torch.float32), task=task)
    assert [buffer.size(t) for t in range(4)] == [2, 3, 4, 5]
    batch = buffer.sample(64, tasks=[3, 0, 3], generator=torch.Generator().manual_seed(0))
    assert batch["obs"].shape == (3, 64, 2) and batch["task"].shape == (3, 64)
    assert batch["task"][0].eq(3).all() and batch["task"][1].eq(0).all() and batch["task"][2].eq(3).all()
    assert batch["obs"][0, :, 1].max() == 4 and batch["obs"][1, :, 1].max() == 1  # within each task's size
    assert batch["obs"][0, :, 1].min() == 0


def test_multi_task_wrap_clear_and_state_dict():
    buffer = MultiTaskReplayBuffer(num_tasks=2, capacity=3, fields={"x": ()})
    buffer.add_batch(0, x=torch.arange(5.0))
    buffer.add_batch(1, x=torch.tensor([9.0]))
    assert buffer.size(0) == 3
    assert set(buffer.sample(50, tasks=[0])["x"].flatten().tolist()) == {2.0, 3.0, 4.0}
    restored = MultiTaskReplayBuffer(num_tasks=2, capacity=3, fields={"x": ()})
    restored.load_state_dict(buffer.state_dict())
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(restored.sample(10, generator=g1)["x"], buffer.sample(10, generator=g2)["x"])
    buffer.clear(0)
    assert buffer.size(0) == 0 and buffer.size(1) == 1
    with pytest.raises(ValueError, match="task 0 has no transitions"):
        buffer.sample(4, tasks=[0, 1])
    with pytest.raises(ValueError, match="task must be in"):
        buffer.add(2, x=1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        buffer.add(1, x=torch.zeros(2))
