"""Tests for peach_lite.mql: propensity scores, ESS, the classifier's solver, the history context, the update,
rollback, and training through the shared loop."""
import numpy as np
import pytest
import torch

from peach_lite.envs import make
from peach_lite.loop import TrainConfig, train
from peach_lite.mql import MQL, MQLConfig
from peach_lite.propensity import effective_sample_size, fit_logistic, propensity_weights
from peach_lite.runner import GymTaskEnvs, Runner, TaskBatch, run_episodes

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ENV_ID = "peach_lite/PointRobotDense-v0"
SMALL = dict(hidden=(16,), gru_hidden=4, history_length=3, batch_size=16, tasks_per_batch=2, buffer_size=200,
             snapshot_episodes=1, snapshot_iters=2, replay_iters=2, sample_mult=1)


def _agent(**overrides):
    env = make(ENV_ID)
    agent = MQL(2, 2, 4, MQLConfig(**{**SMALL, **overrides}), action_low=env.action_space.low, action_high=env.action_space.high,
                goal_dim=2)
    agent.env_id = ENV_ID
    return agent, env


def _filled_agent(**overrides):
    agent, env = _agent(**overrides)
    tasks = env.unwrapped.train_tasks()[:4]
    run_episodes(agent, GymTaskEnvs(ENV_ID, 4), TaskBatch.from_list(tasks), explore=True)
    return agent, env


def test_config_rejects_bad_values_naming_the_field():
    for kwargs, field in [({"history_length": 0}, "history_length"), ({"prox": "ema"}, "prox"),
                          ({"batch_size": 10, "tasks_per_batch": 3}, "batch_size"), ({"hidden": 64}, "hidden"),
                          ({"task_input": "oracle"}, "task_input"), ({"task_input": True}, "task_input")]:
        with pytest.raises(ValueError, match=field):
            MQLConfig(**kwargs)


def test_effective_sample_size_closed_forms():
    assert effective_sample_size(torch.full((50,), 0.7)) == pytest.approx(1.0)
    one_hot = torch.zeros(50)
    one_hot[3] = 2.0
    assert effective_sample_size(one_hot) == pytest.approx(1 / 50)


def test_propensity_is_the_odds_then_clipped_and_zeroed():
    f = torch.linspace(-0.9, 2.0, 30)
    odds = (1 - torch.sigmoid(f)) / torch.sigmoid(f)  # P(new task | x) / P(train | x)
    torch.testing.assert_close(propensity_weights(f, beta_clip=10.0, beta_min=0.0), odds)
    beta = propensity_weights(torch.tensor([-5.0, 0.0, 3.0]), beta_clip=1.0, beta_min=0.1)
    torch.testing.assert_close(beta, torch.tensor([np.e, 1.0, 0.0]))  # clamped at e^1; exp(-3) < 0.1 -> 0


def test_logistic_solver_reaches_the_optimum_of_sklearns_objective():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g)
    y = torch.where(x[:, 0] + 0.5 * torch.randn(200, generator=g) > 0, 1.0, -1.0)
    w, b = fit_logistic(x, y, c=0.5)
    theta = torch.cat([w.double(), b.double().view(1)]).requires_grad_(True)
    xb = torch.cat([x.double(), torch.ones(200, 1, dtype=torch.float64)], 1)
    objective = 0.5 * theta[:-1].pow(2).sum() + 0.5 * torch.nn.functional.softplus(-y.double() * (xb @ theta)).sum()
    (grad,) = torch.autograd.grad(objective, theta)
    assert grad.norm() < 1e-4  # float32 round trip of the float64 optimum (the solver itself stops at 1e-8)
    assert w[0] > 1.0  # the informative feature
    with pytest.raises(ValueError, match="labels"):
        fit_logistic(x, torch.zeros(200))


def test_history_resets_at_episode_start_and_rows_carry_before_and_after():
    agent, env = _agent()
    envs = GymTaskEnvs(ENV_ID, 2)
    run_episodes(agent, envs, TaskBatch.from_list(env.unwrapped.train_tasks(), [0, 1]), explore=True)
    assert agent._history.abs().sum() > 0
    agent.begin_episode(TaskBatch.from_list(env.unwrapped.train_tasks(), [0, 1]), explore=True)
    assert agent._history.abs().sum() == 0
    rows = agent.buffer.sample(20, [0], torch.Generator().manual_seed(0))
    history, next_history = rows["history"][0], rows["next_history"][0]
    width = agent.tuple_dim
    # the next history is the history shifted by one tuple, ending with (action, reward, obs) of this row
    torch.testing.assert_close(next_history[:, :-width], history[:, width:])
    torch.testing.assert_close(next_history[:, -width:], torch.cat([rows["action"][0], rows["reward"][0][:, None], rows["obs"][0]], 1))
    assert agent.buffer.size(0) == 20 and agent.buffer.size(2) == 0  # each row in its own task's buffer


def test_state_only_baseline_sees_no_history():
    agent, env = _filled_agent(task_input="state")
    rows = agent.buffer.sample(20, [0], torch.Generator().manual_seed(0))
    assert rows["history"].abs().sum() == 0 and rows["next_history"].abs().sum() == 0


def test_goal_bound_conditions_actor_and_critic_on_the_task_goal_not_the_history():
    agent, env = _filled_agent(task_input="goal")
    tasks = env.unwrapped.train_tasks()
    assert agent.td3.actor.net[0].in_features == 2 + 2  # obs + goal, no GRU context
    rows = agent._replay_sample(16)
    stored = {tuple(np.round(g, 5)) for g in rows["goal"].tolist()}
    assert stored <= {tuple(np.round(t.goal, 5)) for t in tasks[:4]}  # each row carries its own task's goal
    obs = torch.randn(2, 2)
    agent.begin_episode(TaskBatch.from_list(tasks, [0, 1], split="test"), explore=False)
    torch.testing.assert_close(agent._goal, torch.tensor([tasks[0].goal, tasks[1].goal], dtype=torch.float32))
    first = agent.act(obs)
    agent._history = torch.randn_like(agent._history)  # another context: no effect
    assert torch.equal(agent.act(obs), first)
    agent.begin_episode(TaskBatch.from_list(tasks, [2, 3], split="test"), explore=False)  # another task: another action
    assert not torch.equal(agent.act(obs), first)
    # the critic (and the update) read the batch's goal: a new history leaves Q unchanged, a new goal changes it
    def q(b):
        return agent.td3.critic(b["obs"], b["action"], agent.task_variable(agent.critic_context, b["history"], b.get("goal")))

    base = q(rows)
    assert torch.equal(q({**rows, "history": torch.randn_like(rows["history"])}), base)
    assert not torch.equal(q({**rows, "goal": rows["goal"] + 0.5}), base)
    with pytest.raises(ValueError, match="goal"):
        agent.context_features(rows["history"])  # no context to classify: the bound is not adapted


def test_goal_bound_needs_a_goal_size_and_tasks_with_goals():
    with pytest.raises(ValueError, match="goal_dim"):
        MQL(2, 2, 4, MQLConfig(**SMALL, task_input="goal"))
    agent, _ = _agent(task_input="goal")
    with pytest.raises(ValueError, match="goal"):
        agent.begin_episode(TaskBatch.single(None), explore=True)


def test_checkpoint_written_before_task_input_still_loads(tmp_path):
    from peach_lite.checkpoints import load_agent, save_agent

    for use_context, task_input in ((True, "context"), (False, "state")):
        agent, _ = _agent(task_input=task_input)
        payload = {"arch": agent.arch(), "state": agent.checkpoint_state()}
        legacy = {k: v for k, v in payload["arch"]["config"].items() if k != "task_input"} | {"use_context": use_context}
        payload["arch"] = {k: v for k, v in payload["arch"].items() if k != "goal_dim"} | {"config": legacy}
        loaded = MQL.from_checkpoint(payload)
        assert loaded.config.task_input == task_input and loaded.goal_dim == 0
    goal_agent, env = _agent(task_input="goal")
    goal_agent.env_id = ENV_ID
    loaded, _ = load_agent(save_agent(goal_agent, tmp_path / "goal.pt"), algorithm="mql")
    assert loaded.config.task_input == "goal" and loaded.goal_dim == 2


def test_unit_weights_and_no_prox_are_bit_identical_to_the_plain_update():
    a, _ = _filled_agent()
    b, _ = _filled_agent()
    batch = a._replay_sample(16)
    b.generator.set_state(a.generator.get_state())  # the same target-smoothing noise
    for _ in range(2):  # the second step includes the delayed actor update
        a.update(batch)
        b.update(batch, weights=torch.ones(16), prox_weight=0.0)
    for (name, pa), pb in zip(a._modules().items(), b._modules().values()):
        for x, y in zip(pa.parameters(), pb.parameters()):
            assert torch.equal(x, y), name


def test_actor_updates_are_delayed_and_gradients_route_to_their_own_gru():
    agent, _ = _filled_agent(policy_delay=2)
    batch = agent._replay_sample(16)
    actor_before = [p.clone() for p in agent.actor_context.parameters()]
    critic_before = [p.clone() for p in agent.critic_context.parameters()]
    first = agent.update(batch)
    assert "actor_loss" not in first
    assert all(torch.equal(p, q) for p, q in zip(agent.actor_context.parameters(), actor_before))  # actor GRU untouched
    assert any(not torch.equal(p, q) for p, q in zip(agent.critic_context.parameters(), critic_before))
    assert "actor_loss" in agent.update(batch)
    assert any(not torch.equal(p, q) for p, q in zip(agent.actor_context.parameters(), actor_before))


def test_adaptation_rolls_back_every_parameter_exactly():
    agent, env = _filled_agent()
    before = {name: [p.clone() for p in m.parameters()] for name, m in agent._modules().items()}
    result = agent.adapt(GymTaskEnvs(ENV_ID, 1), env.unwrapped.ood_tasks()[0], num_eval_episodes=1)
    assert 0.0 < result.ess <= 1.0 and result.prox_weight == pytest.approx(1 - result.ess)
    for name, module in agent._modules().items():
        for p, q in zip(module.parameters(), before[name]):
            assert torch.equal(p, q), name
    fixed, _ = _filled_agent(prox="fixed", prox_coef=0.1)
    assert fixed.adapt(GymTaskEnvs(ENV_ID, 1), env.unwrapped.ood_tasks()[0], num_eval_episodes=1).prox_weight == 0.1


def test_mql_trains_through_the_shared_loop_and_round_trips_a_checkpoint(tmp_path):
    from peach_lite.checkpoints import load_agent, save_agent

    agent, env = _agent()
    runner = Runner(GymTaskEnvs(ENV_ID, 2), env.unwrapped.train_tasks()[:4], seed=0)
    history = train(agent, runner, TrainConfig(rounds=3, episodes_per_round=1, updates_per_round=5, warmup_steps=0,
                                               eval_episodes=0, progress=False))
    assert history.total_steps == 3 * 2 * 20 and agent.num_updates == 15
    path = save_agent(agent, tmp_path / "mql.pt")
    loaded, payload = load_agent(path, algorithm="mql")
    obs = torch.randn(3, 2)
    for a in (agent, loaded):
        a.begin_episode(TaskBatch.from_list(env.unwrapped.test_tasks()[:3], split="test"), explore=False)
    assert torch.equal(agent.act(obs), loaded.act(obs))


def test_context_probe_reports_r2_per_step_window():
    from peach_lite.mql import context_probe

    agent, env = _filled_agent()
    probe = context_probe(agent, GymTaskEnvs(ENV_ID, 4), env.unwrapped.test_tasks()[:4], min_steps=(0, 5))
    assert set(probe) == {"r2_t>=0", "r2_t>=5", "final_distance"}
    assert all(v <= 1.0 + 1e-9 for k, v in probe.items() if k.startswith("r2")) and probe["final_distance"] >= 0


def test_train_mql_needs_an_evaluator_where_tasks_have_no_goal():
    from peach_lite.mql import train_mql

    with pytest.raises(ValueError, match="evaluator"):
        train_mql(seed=0, progress=False, env_id="peach_lite/HalfCheetahVel-v0", total_steps=10)
