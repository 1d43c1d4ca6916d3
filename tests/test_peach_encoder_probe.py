"""encoder_capacity_probe: a fresh encoder of PEACH's architecture, taught the goal directly, reads it from a paid
context (far below the no-information baseline, a far higher signal-to-noise than the RL-trained posterior on the same
contexts), and cannot from a context without a paid row. One small run (about 8 CPU-seconds), shared by the tests.
"""
from __future__ import annotations

import pytest

from peach_lite.checkpoints import load_agent
from peach_lite.loop import GymTaskEnvs
from peach_lite.paths import REPO_ROOT
from peach_lite.peach_diagnostics import PROBE_SEED, encoder_capacity_probe
from peach_lite.seeding import seed_everything

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = (8, 32)


@pytest.fixture(scope="module")
def agent_and_envs(one_torch_thread):
    agent, _ = load_agent(REPO_ROOT / "data" / "checkpoints" / "peach_maze.pt")
    envs = GymTaskEnvs(agent.spec.env_id, seed=PROBE_SEED)
    yield agent, envs
    envs.close()


@pytest.fixture(scope="module")
def probe(agent_and_envs):
    seed_everything(0)
    agent, envs = agent_and_envs
    return encoder_capacity_probe(agent, envs, num_rows=SIZES, num_episodes=32, train_steps=3000, num_eval=64, kl_lambda=0.0)


@pytest.mark.parametrize("n", SIZES)
def test_paid_context_gives_the_goal(probe, n):
    assert probe[f"goal_error_paid_{n}"] < 0.3 * probe[f"baseline_goal_error_paid_{n}"], probe
    assert probe[f"snr_paid_{n}"] > 10.0, probe


@pytest.mark.parametrize("n", SIZES)
def test_supervised_posterior_separates_tasks_where_the_rl_one_collapses(probe, n):
    assert probe[f"rl_snr_paid_{n}"] < 0.1, probe
    assert probe[f"snr_paid_{n}"] > 100 * max(probe[f"rl_snr_paid_{n}"], 1e-3), probe
    assert probe[f"rl_goal_error_paid_{n}"] > 0.7 * probe[f"baseline_goal_error_paid_{n}"], probe


@pytest.mark.parametrize("n", SIZES)
def test_unpaid_context_cannot_give_the_goal(probe, n):
    assert probe[f"goal_error_unpaid_{n}"] > 0.8 * probe[f"baseline_goal_error_unpaid_{n}"], probe


@pytest.mark.parametrize("field, kwargs", [("num_rows", {"num_rows": ()}), ("num_rows", {"num_rows": (0,)}),
                                           ("kl_lambda", {"kl_lambda": -1.0}), ("lr", {"lr": 0.0}),
                                           ("train_steps", {"train_steps": 0}), ("num_rows", {"num_rows": (10_000,)})])
def test_bad_arguments_name_the_field(agent_and_envs, field, kwargs):
    agent, envs = agent_and_envs
    with pytest.raises(ValueError, match=field):
        encoder_capacity_probe(agent, envs, num_episodes=4, **kwargs)
