"""The lesson harness: fast-mode switch, device helper, seeding helper, input validation."""
import random

import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite.budget import FAST_ENV_VAR, Budget
from peach_lite.device import describe_device, get_device
from peach_lite.seeding import preserved_rng, seed_everything
from peach_lite.validation import check_choice, check_range, check_shape


@pytest.mark.parametrize("raw, fast", [("1", True), ("true", True), ("0", False), ("", False), ("off", False)])
def test_budget_reads_the_switch(monkeypatch, raw, fast):
    monkeypatch.setenv(FAST_ENV_VAR, raw)
    budget = Budget.from_env()
    assert budget.fast is fast
    assert budget.pick(full=500, fast=3) == (3 if fast else 500)
    assert budget.mode in str(budget)


def test_budget_unset_means_full(monkeypatch):
    monkeypatch.delenv(FAST_ENV_VAR, raising=False)
    assert Budget.from_env().pick(full="big", fast="small") == "big"


def test_budget_rejects_a_typo(monkeypatch):
    monkeypatch.setenv(FAST_ENV_VAR, "yes please")
    with pytest.raises(ValueError, match=FAST_ENV_VAR):
        Budget.from_env()


def test_tests_run_in_fast_mode():
    assert Budget.from_env().fast, "make test / conftest must switch fast mode on"


def test_device_is_cpu_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert get_device() == torch.device("cpu")
    assert get_device("cpu") == torch.device("cpu")
    assert "CPU" in describe_device()
    with pytest.raises(ValueError, match="cuda"):
        get_device("cuda")
    with pytest.raises(ValueError, match="prefer"):
        get_device("tpu")


def _draw_everything(seed):
    seed_everything(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
    env = gym.make("Pendulum-v1")
    rng = seed_everything(seed, env=env)
    obs, _ = env.reset(seed=seed)
    actions = np.stack([env.action_space.sample() for _ in range(5)])
    out = net(torch.randn(8, 4))
    return {
        "python": [random.random() for _ in range(3)],
        "numpy_global": np.random.rand(3),
        "generator": rng.normal(size=3),
        "torch_net": out.detach().numpy(),
        "obs": obs,
        "actions": actions,
    }


def test_same_seed_gives_bit_identical_numbers():
    first, second = _draw_everything(123), _draw_everything(123)
    for key in first:
        assert np.array_equal(np.asarray(first[key]), np.asarray(second[key])), key
    other = _draw_everything(124)
    assert not np.array_equal(first["torch_net"], other["torch_net"])


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_seed_must_be_a_valid_integer(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_validation_messages_name_the_field():
    check_range("lr", 1e-3, 0, 1)
    with pytest.raises(ValueError, match=r"lr must be in \[0, 1\], got 2"):
        check_range("lr", 2, 0, 1)
    with pytest.raises(ValueError, match="gamma"):
        check_range("gamma", float("nan"), 0, 1)
    with pytest.raises(ValueError, match="not a number"):
        check_range("batch_size", "big", 1)
    with pytest.raises(ValueError, match="activation must be one of"):
        check_choice("activation", "gelu", ["relu", "tanh"])
    with pytest.raises(ValueError, match=r"action must have shape \(2\), got \(3,\)"):
        check_shape("action", (3,), (2,))
    check_shape("obs", (7, 3), (None, 3))


def test_preserved_rng_leaves_every_global_generator_where_it_was():
    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(5)
    expected = draws()
    seed_everything(5)
    with preserved_rng():
        inside = draws()
        seed_everything(99)
        draws()
    assert draws() == expected and inside == expected
    seed_everything(5)
    with pytest.raises(RuntimeError), preserved_rng():  # restored when the block raises, too
        draws()
        raise RuntimeError("interrupted")
    assert draws() == expected
