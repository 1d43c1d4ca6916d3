"""Tests for peach_lite.loop: configs, step/update accounting, interrupts, evaluation."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite.loop import History, LoopConfig, OffPolicyAgent, evaluate, train_off_policy
from peach_lite.sac import SAC, SACConfig



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


class CountingAgent:
    """A minimal OffPolicyAgent: constant action, counts calls."""

    def __init__(self):
        self.stored, self.updates = [], 0

    def act(self, obs, deterministic=False):
        return torch.tensor([0.5])

    def observe(self, obs, action, reward, next_obs, terminated):
        self.stored.append((obs, action, reward, next_obs, terminated))

    def update(self):
        self.updates += 1
        return {"loss": torch.tensor(float(self.updates))}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_loop_config_validation_names_the_field():
    with pytest.raises(ValueError, match="total_steps"):
        LoopConfig(total_steps=-1)
    with pytest.raises(ValueError, match="updates_per_step"):
        LoopConfig(updates_per_step=0)
    with pytest.raises(ValueError, match="seed"):
        LoopConfig(seed=1.5)


def test_agents_satisfy_the_protocol():
    assert isinstance(CountingAgent(), OffPolicyAgent)
    assert isinstance(SAC(1, 1, SACConfig(hidden=(4,), buffer_size=10)), OffPolicyAgent)


def test_warmup_then_updates_per_step_accounting():
    agent = CountingAgent()
    config = LoopConfig(total_steps=30, warmup_steps=10, updates_per_step=2, eval_episodes=2, log_every=5, progress=False)
    history = train_off_policy(agent, Bandit(), config, eval_env=Bandit())
    assert history.total_steps == 30 and len(agent.stored) == 30
    assert agent.updates == history.num_updates == (30 - 10) * 2
    assert len(history.returns) == 30 and history.steps == list(range(1, 31))  # one-step episodes
    # warm-up actions are uniform in the env box, then the agent's constant 0.5
    warmup_actions = torch.stack([t[1] for t in agent.stored[:10]])
    assert warmup_actions.abs().max() <= 2.0 and warmup_actions.std() > 0.1
    assert all(t[1].item() == 0.5 for t in agent.stored[10:])
    assert history.eval_steps == [30] and history.eval_returns == [-0.25]  # -(0.5 - 1)^2
    assert history.losses["loss"] == [float(i) for i in range(5, 41, 5)]
    assert all(t[4] is True for t in agent.stored)  # terminated flags reach the agent


def test_keyboard_interrupt_returns_partial_history_and_leaves_agent_usable():
    env = Bandit()
    agent = SAC.from_env(env, SACConfig(hidden=(16,), batch_size=8, buffer_size=100, seed=0), device="cpu")

    def interrupt_at_step_25(step, agent, history):
        if step == 25:
            raise KeyboardInterrupt

    config = LoopConfig(total_steps=60, warmup_steps=10, eval_episodes=0, progress=False)
    history = train_off_policy(agent, env, config, callbacks=[interrupt_at_step_25])
    assert history.interrupted
    assert history.total_steps == 25 and len(agent.buffer) == 25
    assert history.num_updates == agent.num_updates == 15
    # the agent still acts and learns, and training continues from the partial history
    assert agent.act(torch.ones(1)).shape == (1,)
    agent.update()
    history = train_off_policy(agent, env, LoopConfig(total_steps=10, warmup_steps=10, eval_episodes=1, progress=False),
                               eval_env=Bandit(), history=history)
    assert not history.interrupted and history.total_steps == 35 and len(agent.buffer) == 35
    assert history.eval_steps == [35]


def test_callback_returning_true_stops_training():
    history = train_off_policy(CountingAgent(), Bandit(), LoopConfig(total_steps=50, eval_episodes=0, progress=False),
                               callbacks=[lambda step, agent, h: step >= 7])
    assert history.total_steps == 7 and history.interrupted


def test_evaluate_is_deterministic_and_seeded():
    returns = evaluate(CountingAgent(), Bandit(), num_episodes=3, seed=4)
    assert isinstance(returns, np.ndarray) and returns.shape == (3,)
    np.testing.assert_allclose(returns, -0.25)
    env = gym.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(hidden=(8,), buffer_size=10), device="cpu")
    first, second = evaluate(agent, env, 2, seed=0), evaluate(agent, env, 2, seed=0)
    np.testing.assert_array_equal(first, second)
    assert first[0] != first[1]  # different seeds give different start states
    with pytest.raises(ValueError, match="num_episodes"):
        evaluate(agent, env, 0)


def test_history_plot_has_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = History(steps=[1, 2], returns=[-1.0, -0.5], eval_steps=[2], eval_returns=[-0.4])
    ax = history.plot(oracle=0.0)
    assert ax.get_xlabel() == "environment steps" and ax.get_ylabel() == "episode return"
    plt.close("all")
