"""Tests for peach_lite.sac: config validation, the soft target, learning, determinism, checkpoints."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite.loop import Runner, TrainConfig, evaluate, train
from peach_lite.checkpoints import CheckpointError, evaluate_checkpoint, load_agent, save_agent
from peach_lite.cli import main
from peach_lite.sac import SAC, SACConfig, soft_q_target
from peach_lite.seeding import seed_everything



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


@pytest.mark.parametrize(
    "field, value",
    [("hidden", ()), ("hidden", (0,)), ("actor_lr", 0.0), ("batch_size", 0), ("gamma", 1.5), ("tau", -0.1),
     ("init_alpha", 0.0), ("num_critics", 0), ("reward_scale", -1.0), ("log_std_bounds", (2.0, -20.0)),
     ("init", "xavier"), ("seed", -1)],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SACConfig(**{field: value})


def test_soft_q_target_matches_hand_formula():
    reward = torch.tensor([1.0, -2.0, 0.5])
    done = torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[10.0, 3.0, -1.0], [8.0, 4.0, -2.0]])  # (2 critics, batch)
    next_log_prob = torch.tensor([-1.0, 0.3, 2.0])
    alpha, gamma = 0.2, 0.9
    expected = torch.tensor([
        1.0 + 0.9 * (8.0 - 0.2 * -1.0),  # min(10, 8) = 8
        -2.0,  # terminal: no bootstrap
        0.5 + 0.9 * (-2.0 - 0.2 * 2.0),
    ])
    torch.testing.assert_close(soft_q_target(reward, done, next_q, next_log_prob, alpha, gamma), expected)


def test_sac_learns_a_continuous_bandit_quickly():
    seed_everything(0)
    env = Bandit()
    fast = dict(actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3)  # rewards span [-9, 0]: Adam needs a larger step
    agent = SAC.from_env(env, SACConfig(**SMALL, **fast, seed=0), device="cpu")
    before = evaluate(agent, env, num_episodes=1).returns[0]
    train(agent, Runner(env), TrainConfig(total_steps=500, warmup_steps=50, eval_episodes=0, progress=False))
    best_action = agent.act(torch.ones(1), deterministic=True).item()
    assert abs(best_action - 1.0) < 0.15, best_action
    assert evaluate(agent, env, num_episodes=1).returns[0] > max(before, -0.03)
    # the temperature adapted: the policy's entropy is pulled towards the target of -action_dim
    assert agent.alpha < 1.0


def test_fixed_temperature_stays_fixed():
    env = Bandit()
    agent = SAC.from_env(env, SACConfig(**SMALL, learn_alpha=False, init_alpha=0.05), device="cpu")
    train(agent, Runner(env), TrainConfig(total_steps=60, warmup_steps=20, eval_episodes=0, progress=False))
    assert agent.alpha == pytest.approx(0.05)
    assert agent.alpha_optimizer is None and "alpha_optimizer" not in agent.state_dict()


def test_update_routes_each_loss_to_its_own_parameters_in_sb3_order():
    """The critic gets exactly the gradient of the critic loss (the actor loss may not leak into it: the
    critic is frozen there), and the actor's gradient is taken through the critic *after* its step."""
    env = Bandit()
    agent = SAC.from_env(env, SACConfig(**SMALL), device="cpu")
    train(agent, Runner(env), TrainConfig(total_steps=40, warmup_steps=40, updates_per_round=0, eval_episodes=0, progress=False))
    agent.update()
    # a twin in the same state redoes the update by hand, on the same batch and noise
    state = agent.state_dict()
    twin = SAC.from_env(env, SACConfig(**SMALL), device="cpu")
    twin.load_state_dict(state)
    twin.buffer = agent.buffer
    batch = twin.buffer.sample(twin.config.batch_size, twin.generator)
    with torch.no_grad():
        next_pi = twin.actor(batch["next_obs"], generator=twin.generator)
        target = soft_q_target(batch["reward"], batch["done"], twin.critic_target(batch["next_obs"], next_pi.action),
                               next_pi.log_prob, twin.alpha, twin.config.gamma)
    critic_loss = 0.5 * (twin.critic(batch["obs"], batch["action"]) - target).pow(2).mean(1).sum()
    critic_loss.backward()
    stale_critic = [p.detach().clone() for p in twin.critic.parameters()]
    twin.critic_optimizer.step()
    pi = twin.actor(batch["obs"], generator=twin.generator)
    actor_loss = (twin.alpha * pi.log_prob - twin.critic(batch["obs"], pi.action).min(0).values).mean()
    actor_grads = torch.autograd.grad(actor_loss, list(twin.actor.parameters()), retain_graph=True)
    agent.update()
    for p_agent, p_twin in zip(agent.critic.parameters(), twin.critic.parameters()):
        torch.testing.assert_close(p_agent.grad, p_twin.grad)
    for p_agent, grad in zip(agent.actor.parameters(), actor_grads):
        torch.testing.assert_close(p_agent.grad, grad)
    # the critic's step changed the actor's gradient: through the stale critic it would differ
    with torch.no_grad():
        for p, old in zip(twin.critic.parameters(), stale_critic):
            p.copy_(old)
    stale_loss = (twin.alpha * pi.log_prob - twin.critic(batch["obs"], pi.action).min(0).values).mean()
    stale_grads = torch.autograd.grad(stale_loss, list(twin.actor.parameters()))
    assert not all(torch.allclose(g, s) for g, s in zip(actor_grads, stale_grads))


def _train_briefly(seed):
    env = Bandit()
    agent = SAC.from_env(env, SACConfig(**SMALL, seed=seed), device="cpu")
    history = train(agent, Runner(env, seed=seed), TrainConfig(total_steps=120, warmup_steps=30, eval_episodes=0, seed=seed,
                                                      progress=False))
    return agent, history


def test_same_seed_gives_bit_identical_training():
    a, history_a = _train_briefly(seed=3)
    b, history_b = _train_briefly(seed=3)
    for pa, pb in zip(a.actor.parameters(), b.actor.parameters()):
        assert torch.equal(pa, pb)
    for pa, pb in zip(a.critic.parameters(), b.critic.parameters()):
        assert torch.equal(pa, pb)
    assert history_a.returns == history_b.returns
    c, _ = _train_briefly(seed=4)
    assert not torch.equal(next(a.actor.parameters()), next(c.actor.parameters()))


def test_state_dict_resumes_bit_exactly():
    agent, _ = _train_briefly(seed=0)
    clone = SAC(1, 1, SACConfig(**SMALL, seed=99), action_low=[-2.0], action_high=[2.0], device="cpu")
    clone.load_state_dict(agent.state_dict(include_buffer=True))
    for _ in range(5):
        agent.update()
        clone.update()
    for pa, pb in zip(agent.critic.parameters(), clone.critic.parameters()):
        assert torch.equal(pa, pb)
    assert agent.log_alpha.item() == clone.log_alpha.item()


def test_checkpoint_round_trip_and_evaluate_checkpoint(tmp_path):
    env = gym.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(hidden=(16, 16), buffer_size=10, seed=1), device="cpu")
    path = save_agent(agent, tmp_path / "sac_test.pt", meta={"note": "untrained"})
    loaded, payload = load_agent(path, algorithm="sac")
    assert payload["meta"]["note"] == "untrained" and payload["arch"]["config"]["hidden"] == [16, 16]
    assert payload["arch"]["algorithm"] == "sac" and payload["arch"]["env_id"] == "Pendulum-v1"
    obs = torch.randn(5, 3)
    assert torch.equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    score = evaluate_checkpoint(path)
    assert score == evaluate_checkpoint(path)  # fixed seeds: repeatable
    assert -2000 < score < 0
    with pytest.raises(CheckpointError, match="is a 'sac' checkpoint, not 'td3'"):
        load_agent(path, algorithm="td3")
    with pytest.raises(ValueError, match="directory"):
        save_agent(agent, tmp_path)


def test_cli_trains_and_saves(tmp_path, capsys):
    out = tmp_path / "sac_cli.pt"
    score = main(["train", "sac", "--set", "total_steps=250", "--set", "hidden=[16]", "--set", "eval_every=0",
                  "--no-progress", "--out", str(out), "--no-record"])
    assert out.exists() and np.isfinite(score)
    _, payload = load_agent(out)
    assert payload["meta"]["history"]["total_steps"] == 250 and payload["meta"]["preset"] == "pendulum"
    assert "mean_return" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown setting"):
        main(["train", "sac", "--set", "steps=250", "--out", str(out), "--no-record"])


def test_bad_inputs_from_the_new_user_report_get_clear_errors():
    env = gym.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(hidden=(8,), buffer_size=10), device="cpu")
    # numpy and float64 observations work; a wrong size says which size is expected
    assert agent.act(np.zeros(3)).shape == (1,)
    assert agent.act(torch.zeros(4, 3, dtype=torch.float64)).shape == (4, 1)
    with pytest.raises(ValueError, match=r"obs must have shape \(\.\.\., 3\)"):
        agent.act(np.zeros(2))
    with pytest.raises(ValueError, match="hidden"):
        SACConfig(hidden=256)
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainConfig(total_steps=100, warmup_steps=500)


def test_losses_are_separate_from_the_optimizer_step_and_cond_gets_critic_gradient_only():
    """losses(batch, cond) changes no parameter; the critic loss sends gradient into cond, the actor loss none."""
    agent = SAC(2, 1, SACConfig(**SMALL), cond_dim=3, device="cpu")
    batch = {"obs": torch.randn(16, 2), "action": torch.rand(16, 1) * 2 - 1, "reward": torch.randn(16),
             "next_obs": torch.randn(16, 2), "done": torch.zeros(16)}
    before = [p.clone() for p in agent.critic.parameters()]
    cond = torch.randn(16, 3, requires_grad=True)
    losses = agent.losses(batch, cond)
    assert set(losses) >= {"critic_loss", "actor_loss", "alpha_loss"}
    assert all(torch.equal(p, b) for p, b in zip(agent.critic.parameters(), before))
    (grad_critic,) = torch.autograd.grad(losses["critic_loss"], cond, retain_graph=True)
    assert grad_critic.abs().sum() > 0
    assert not losses["actor_loss"].requires_grad or cond not in [
        leaf for leaf in [cond] if torch.autograd.grad(losses["actor_loss"], cond, allow_unused=True)[0] is not None]
