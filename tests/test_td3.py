"""Tests for peach_lite.td3: config validation, delayed actor, learning a bandit, determinism."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite.loop import Runner, TrainConfig, evaluate, train
from peach_lite.td3 import TD3, TD3Config, td3_target



@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks run fastest on one thread (and do not fight other processes for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

class Bandit(gym.Env):
    """One-step continuous bandit: reward -(a - 1)^2 for a in [-2, 2]; the best action is a = 1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, dtype=np.float32), {}

    def step(self, action):
        return np.ones(1, dtype=np.float32), -float((action[0] - 1.0) ** 2), True, False, {}


SMALL = dict(hidden=(32, 32), batch_size=32, buffer_size=1000)


@pytest.mark.parametrize("field, value", [("policy_delay", 0), ("policy_noise", -0.1), ("noise_clip", -1.0),
                                          ("exploration_noise", -0.2), ("gamma", 2.0), ("hidden", ())])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TD3Config(**{field: value})


def test_td3_target_is_clipped_double_q():
    target = td3_target(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([[5.0, 5.0], [3.0, 9.0]]), 0.5)
    torch.testing.assert_close(target, torch.tensor([1.0 + 0.5 * 3.0, 1.0]))


def test_actor_and_targets_move_only_every_policy_delay_updates():
    env = Bandit()
    agent = TD3.from_env(env, TD3Config(**SMALL, policy_delay=3), device="cpu")
    train(agent, Runner(env), TrainConfig(total_steps=40, warmup_steps=40, updates_per_round=0, eval_episodes=0, progress=False))
    snapshot = lambda module: [p.clone() for p in module.parameters()]  # noqa: E731
    actor, actor_target, critic = snapshot(agent.actor), snapshot(agent.actor_target), snapshot(agent.critic)
    changed = lambda module, before: any(not torch.equal(p, b) for p, b in zip(module.parameters(), before))  # noqa: E731
    losses = agent.update()  # update 1 of 3: critic only
    assert "actor_loss" not in losses
    assert changed(agent.critic, critic) and not changed(agent.actor, actor) and not changed(agent.actor_target, actor_target)
    agent.update()
    losses = agent.update()  # update 3: actor and targets too
    assert "actor_loss" in losses
    assert changed(agent.actor, actor) and changed(agent.actor_target, actor_target)


def test_td3_learns_a_continuous_bandit():
    env = Bandit()
    agent = TD3.from_env(env, TD3Config(**SMALL, actor_lr=3e-3, critic_lr=3e-3, seed=0), device="cpu")
    before = evaluate(agent, env, num_episodes=1).returns[0]
    train(agent, Runner(env), TrainConfig(total_steps=700, warmup_steps=50, eval_episodes=0, progress=False))
    best_action = agent.act(torch.ones(1), deterministic=True).item()
    assert abs(best_action - 1.0) < 0.2, best_action
    assert evaluate(agent, env, num_episodes=1).returns[0] > max(before, -0.04)


def test_td3_is_deterministic_and_resumable():
    def run():
        env = Bandit()
        agent = TD3.from_env(env, TD3Config(**SMALL, seed=2), device="cpu")
        train(agent, Runner(env, seed=2), TrainConfig(total_steps=80, warmup_steps=20, eval_episodes=0, seed=2, progress=False))
        return agent

    a, b = run(), run()
    for pa, pb in zip(a.actor.parameters(), b.actor.parameters()):
        assert torch.equal(pa, pb)
    clone = TD3(1, 1, TD3Config(**SMALL, seed=7), action_low=[-2.0], action_high=[2.0], device="cpu")
    clone.load_state_dict(a.state_dict(include_buffer=True))
    for _ in range(4):
        a.update()
        clone.update()
    for pa, pb in zip(a.actor.parameters(), clone.actor.parameters()):
        assert torch.equal(pa, pb)
