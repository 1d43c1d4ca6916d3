"""FeUdal Networks (peach_lite/fun.py): d_cos, the intrinsic reward against its definition, the transition policy
gradient, no gradient between worker and manager, config validation, the shared loop, checkpoints and
determinism; the benchmark's targets where it has run."""
from __future__ import annotations

import pytest
import torch

from peach_lite.fun import DIRECTIONS, FuNConfig, d_cos, intrinsic_reward, train_fun, transition_policy_loss
from peach_lite.runner import TaskBatch

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(hidden=(8,), embed_dim=4, horizon=3)


def test_d_cos_is_scale_invariant_and_its_gradient_is_orthogonal_to_the_goal():
    a, g = torch.randn(50, 2), torch.randn(50, 2, requires_grad=True)
    for scale in (1e-3, 0.5, 7.0, 1e4):
        torch.testing.assert_close(d_cos(scale * a, g), d_cos(a, g))
        torch.testing.assert_close(d_cos(a, scale * g), d_cos(a, g))
    d_cos(a, g).sum().backward()
    torch.testing.assert_close((g.grad * g).sum(1), torch.zeros(50), atol=1e-6, rtol=0)
    assert torch.all(d_cos(torch.zeros(3, 2), torch.randn(3, 2)) == 0)
    torch.testing.assert_close(d_cos(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])), torch.tensor(0.0))


def test_intrinsic_reward_equals_its_definition_reindexed():
    """r^I for the action at t is the paper's r^I_{t'} at t' = t + 1: (1/c) sum_i d_cos(s_{t'} - s_{t'-i}, g_{t'-i})."""
    torch.manual_seed(0)
    n, steps, c = 3, 17, 5
    positions, goals = torch.randn(n, steps + 1, 2), torch.randn(n, steps, 2)
    expected = torch.zeros(n, steps)
    for t in range(steps):
        tp = t + 1
        for i in range(1, c + 1):
            if tp - i >= 0:
                expected[:, t] += d_cos(positions[:, tp] - positions[:, tp - i], goals[:, tp - i]) / c
    torch.testing.assert_close(intrinsic_reward(positions, goals, c), expected)
    # moving exactly along a held goal earns 1 once a full window has passed
    straight = torch.arange(steps + 1.0)[None, :, None] * torch.tensor([0.6, 0.8])
    reward = intrinsic_reward(straight, torch.tensor([3.0, 4.0]).expand(1, steps, 2), c)
    torch.testing.assert_close(reward[0, c - 1:], torch.ones(steps - c + 1))


def test_transition_policy_gradient_is_advantage_times_the_cosine_gradient():
    adv, disp = torch.randn(4, 6), torch.randn(4, 6, 2)
    goals = torch.randn(4, 6, 2, requires_grad=True)
    transition_policy_loss(adv, disp, goals).backward()
    reference = goals.detach().clone().requires_grad_(True)
    (-(adv * d_cos(disp, reference)).mean()).backward()
    torch.testing.assert_close(goals.grad, reference.grad)


def _rolled_agent(flat: bool = False, seed: int = 0):
    agent, meta = train_fun(seed=seed, progress=False, total_steps=600, envs_in_lockstep=3, eval_every_steps=10**6, flat=flat, **TINY)
    return agent, meta


def test_worker_loss_sends_zero_gradient_to_the_manager_and_back():
    agent, _ = _rolled_agent()
    roll = agent.last_episode
    batch = agent.make_batch({**roll, "mask": roll["mask"]})
    losses = agent.learner.losses(batch)
    agent.zero_grad(set_to_none=True)
    (losses["policy"] + losses["value"] - losses["entropy"]).backward(retain_graph=True)
    assert all(p.grad is None or torch.all(p.grad == 0) for p in agent.manager_params())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.worker_params())
    agent.zero_grad(set_to_none=True)
    (losses["manager_policy"] + losses["manager_value"]).backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in agent.worker_params())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.manager_params())


@pytest.mark.parametrize("field, value", [("horizon", 0), ("embed_dim", 0), ("alpha", -1.0), ("worker_gamma", 2.0),
                                          ("lr", 0.0), ("flat", "no"), ("hidden", ())])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        FuNConfig(**{field: value})


def test_trains_through_the_shared_loop_and_acts_with_the_nine_moves():
    for flat in (False, True):
        agent, meta = _rolled_agent(flat)
        assert meta["history"]["num_updates"] >= 1 and meta["steps"] >= 600
        roll = agent.last_episode
        assert roll["action"].max() < len(DIRECTIONS)
        if not flat:
            assert roll["m_state"].shape[1] == -(-roll["action"].shape[1] // agent.config.horizon)
            assert -1 <= agent.direction_cosine() <= 1


def test_same_seed_same_weights_and_checkpoint_round_trip(tmp_path):
    from peach_lite.checkpoints import load_agent, save_agent

    a, _ = _rolled_agent(seed=2)
    b, _ = _rolled_agent(seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    path = save_agent(a, tmp_path / "fun.pt")
    loaded, _ = load_agent(path, algorithm="fun")
    obs = {"observation": torch.randn(4, 4), "desired_goal": torch.randn(4, 2), "achieved_goal": torch.randn(4, 2)}
    for agent in (a, loaded):
        agent.begin_episode(TaskBatch.from_list([None] * 4, split="test"), explore=False)
    assert torch.equal(a.act(obs), loaded.act(obs)) and torch.equal(a.goal, loaded.goal)


# ------------------------------------------------------------------------------------------------ benchmark targets
def _headline():
    from peach_lite.results import read_results

    try:
        return read_results("hiro_fun")["headline"]
    except FileNotFoundError:
        pytest.skip("data/results/hiro_fun.json not written yet (python benchmarks/hiro_fun.py)")


def test_benchmark_reports_fun_beside_flat_a2c():
    h = _headline()
    for key in ("fun_cosine", "fun_success", "a2c_success", "fun_wall_minutes_per_seed", "a2c_wall_minutes_per_seed"):
        assert key in h
    assert -1 <= h["fun_cosine"] <= 1 and 0 <= h["fun_success"] <= 1 and 0 <= h["a2c_success"] <= 1


@pytest.mark.xfail(reason="issue 15: after 150k env steps per seed (data/results/hiro_fun.json, about 0.5 CPU-minutes a seed) the "
                          "worker's mean d_cos(s_{t+c} - s_t, g_t) on the greedy test episodes is 0.41 (0.47, 0.34, 0.42), short "
                          "of 0.5; the manager is the weaker level: its goals point against the waypoint oracle's action "
                          "(mean cosine -0.57), so failed episodes end pressed against a wall with the worker unable to follow",
                   strict=False)
def test_the_worker_follows_the_managers_directions():
    assert _headline()["fun_cosine"] >= 0.5


def test_fun_and_a2c_seeds_take_at_most_fifteen_cpu_minutes():
    h = _headline()
    assert h["fun_cpu_minutes_per_seed"] <= 15 and h["a2c_cpu_minutes_per_seed"] <= 15
