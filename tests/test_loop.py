"""Tests for peach_lite.loop: the runner, the agent protocol, the training loop, evaluation, History."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import peach_lite.envs as envs
from peach_lite.loop import (Agent, Episodes, GymTaskEnvs, History, Runner, Step, TaskBatch, TrainConfig, evaluate,
                             interrupts_deferred, run_episodes, train)
from peach_lite.sac import SAC, SACConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
    """A minimal Agent: constant action 0.5, records every hook call."""

    def __init__(self):
        self.steps, self.updates, self.calls = [], 0, []

    def begin_episode(self, tasks, *, explore):
        self.calls.append(("begin", len(tasks), explore))

    action_dim = 1

    def act(self, obs):
        return torch.full((obs.shape[0], self.action_dim), 0.5)

    def observe(self, step):
        self.steps.append(step)

    def end_episode(self):
        self.calls.append(("end",))

    def learn(self, num_updates):
        self.updates += num_updates
        return {"loss": torch.tensor(float(self.updates))}


def test_train_config_validation_names_the_field():
    for kwargs, field in [({"total_steps": -1}, "total_steps"), ({"updates_per_round": -1}, "updates_per_round"),
                          ({"seed": 1.5}, "seed"), ({"total_steps": 0}, "total_steps"),
                          ({"total_steps": 100, "warmup_steps": 500}, "warmup_steps")]:
        with pytest.raises(ValueError, match=field):
            TrainConfig(**kwargs)


def test_agents_satisfy_the_protocol():
    assert isinstance(CountingAgent(), Agent)
    assert isinstance(SAC(1, 1, SACConfig(hidden=(4,), buffer_size=10)), Agent)


def test_warmup_then_updates_accounting():
    agent = CountingAgent()
    config = TrainConfig(total_steps=30, warmup_steps=10, updates_per_round=2, eval_episodes=2, log_every=5, progress=False)
    history = train(agent, Runner(Bandit()), config)
    assert history.total_steps == 30 and len(agent.steps) == 30 + 2  # 30 training steps, 2 evaluation steps
    assert agent.updates == history.num_updates == (30 - 10) * 2
    assert len(history.returns) == 30 and history.steps == list(range(1, 31))  # one-step episodes
    warmup_actions = torch.cat([s.action for s in agent.steps[:10]])
    assert warmup_actions.abs().max() <= 2.0 and warmup_actions.std() > 0.1  # uniform in the box
    assert all(s.action.item() == 0.5 for s in agent.steps[10:])
    assert history.eval_steps == [30] and history.eval_values == [-0.25]  # -(0.5 - 1)^2
    # losses are recorded each time the update count passes a multiple of log_every (5): 2, 4, [6], 8, [10], ...
    assert history.losses["loss"] == [6.0, 10.0, 16.0, 20.0, 26.0, 30.0, 36.0, 40.0]
    assert all(bool(s.terminated.all()) for s in agent.steps)  # terminated flags reach the agent
    # evaluation episodes are greedy
    assert ("begin", 1, False) in agent.calls


def test_lockstep_episodes_mask_finished_envs_and_call_every_hook_once():
    """Three point robots with different time limits: each stops at its own end, then is masked."""
    make = lambda: envs.make("peach_lite/PointRobotDense-v0")  # noqa: E731
    lockstep = GymTaskEnvs(make, 3, seed=0)
    tasks = TaskBatch.from_list(lockstep.unwrapped.train_tasks(), [0, 1, 2])
    for env, limit in zip(lockstep.envs, (5, 8, 3)):
        env._max_episode_steps = limit
    agent = CountingAgent()
    agent.action_dim = 2
    result = run_episodes(agent, lockstep, tasks, explore=True, record=True)
    assert result.lengths.tolist() == [5, 8, 3]
    assert len(agent.steps) == 8 and agent.calls == [("begin", 3, True), ("end",)]
    masks = torch.stack([s.mask for s in agent.steps])  # (T, n)
    assert masks.sum(0).tolist() == [5, 8, 3]
    assert result.positions().shape == (3, 9, 2) and np.isnan(result.positions()[2, 4:]).all()
    # each env really ran its own task: the dense reward is -distance to that env's goal
    for i in range(3):
        goal = np.asarray(tasks.values[i].goal)
        expected = -np.linalg.norm(result.positions()[i, 1] - goal)
        assert agent.steps[0].reward[i].item() == pytest.approx(expected, abs=1e-5)


def test_evaluation_runs_the_task_that_was_trained():
    """Regression: the old loop re-made its eval env from env.spec, which dropped the task set by set_task."""
    env = envs.make("peach_lite/PointRobotDense-v0")
    task = env.unwrapped.train_tasks()[3]
    env.unwrapped.set_task(task)
    runner = Runner(env, seed=0)
    assert runner.tasks == [task]

    class GoTo(CountingAgent):
        def act(self, obs):
            return torch.as_tensor(np.asarray(task.goal, np.float32) - obs.numpy()).clamp(-0.1, 0.1)

    history = train(GoTo(), runner, TrainConfig(total_steps=40, warmup_steps=0, eval_episodes=2, progress=False))
    on_task = evaluate(GoTo(), env, [task], num_episodes=2, seed=10_000).returns.mean()
    assert history.eval_values[-1] == pytest.approx(on_task)


def test_keyboard_interrupt_returns_partial_history_and_leaves_agent_usable():
    env = Bandit()
    agent = SAC.from_env(env, SACConfig(hidden=(16,), batch_size=8, buffer_size=100, seed=0), device="cpu")

    def interrupt_at_round_25(round_index, agent, history):
        if round_index == 25:
            raise KeyboardInterrupt

    runner = Runner(env)
    history = train(agent, runner, TrainConfig(total_steps=60, warmup_steps=10, eval_episodes=0, progress=False),
                    callbacks=[interrupt_at_round_25])
    assert history.interrupted
    assert history.total_steps == 25 and len(agent.buffer) == 25
    assert history.num_updates == agent.num_updates == 15
    assert agent.act(torch.ones(1)).shape == (1,)
    agent.update()
    history = train(agent, runner, TrainConfig(total_steps=10, warmup_steps=0, eval_episodes=1, progress=False),
                    history=history)
    assert not history.interrupted and history.total_steps == 35 and len(agent.buffer) == 35
    assert history.eval_steps == [35]


def test_ctrl_c_inside_learn_waits_until_the_update_is_complete():
    import os
    import signal

    finished = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("the update completed")
    assert finished == ["the update completed"]


def test_callback_returning_true_stops_training():
    history = train(CountingAgent(), Runner(Bandit()), TrainConfig(total_steps=50, warmup_steps=0, eval_episodes=0, progress=False),
                    callbacks=[lambda r, agent, h: r >= 7])
    assert history.total_steps == 7 and history.interrupted


def test_episode_rounds_collect_whole_episodes_on_drawn_tasks():
    env = envs.make("peach_lite/PointRobotDense-v0")
    agent = CountingAgent()
    agent.action_dim = 2
    runner = Runner(GymTaskEnvs(lambda: envs.make("peach_lite/PointRobotDense-v0"), 2), env.unwrapped.train_tasks(), seed=1)
    history = train(agent, runner, TrainConfig(rounds=3, episodes_per_round=2, warmup_steps=0, updates_per_round=5,
                                               eval_episodes=0, progress=False))
    assert history.rounds == 3 and history.episodes == 12 and history.total_steps == 12 * 20
    assert agent.updates == 15


def test_evaluate_is_deterministic_and_seeded():
    result = evaluate(CountingAgent(), Bandit(), num_episodes=3, seed=4)
    assert isinstance(result, Episodes) and result.returns.shape == (3,)
    np.testing.assert_allclose(result.returns, -0.25)
    env = gym.make("Pendulum-v1")
    agent = SAC.from_env(env, SACConfig(hidden=(8,), buffer_size=10), device="cpu")
    first, second = evaluate(agent, env, num_episodes=2, seed=0), evaluate(agent, env, num_episodes=2, seed=0)
    np.testing.assert_array_equal(first.returns, second.returns)
    assert first.returns[0] != first.returns[1]  # different seeds give different start states
    with pytest.raises(ValueError, match="num_episodes"):
        evaluate(agent, env, num_episodes=0)


def test_wrong_action_shape_is_a_clear_error():
    class Wrong(CountingAgent):
        def act(self, obs):
            return torch.zeros(obs.shape[0], 3)

    with pytest.raises(ValueError, match=r"actions of shape \(1, 1\)"):
        run_episodes(Wrong(), GymTaskEnvs.wrap(Bandit()), TaskBatch.single(), explore=False)


def test_history_plot_has_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = History(steps=[1, 2], returns=[-1.0, -0.5], eval_steps=[2], eval_values=[-0.4])
    ax = history.plot(oracle=0.0)
    assert ax.get_xlabel() == "environment steps" and ax.get_ylabel() == "evaluation return"
    plt.close("all")


def test_distinct_waves_keep_order_and_run_a_repeated_task_again():
    from peach_lite.runner import distinct_waves

    assert distinct_waves([3, 1, 3, 3, 2]) == [[3, 1, 2], [3], [3]]
    assert distinct_waves([]) == []
