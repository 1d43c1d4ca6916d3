"""PEACH (peach_lite/peach.py): gradient routing, buffers, the meta-test protocol, relabelling, determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from peach_lite.checkpoints import load_agent, save_agent
from peach_lite.envs import make
from peach_lite.loop import GymTaskEnvs, Runner, TaskBatch, run_episodes
from peach_lite.peach import PEACH, PeachConfig, meta_test_success, peach_losses, top_context_row, train_peach
from peach_lite.peach_context import eliminating_loss, probe_attempt_row, train_goal_codes, with_probe_failures
from peach_lite.posterior import kl_to_uniform

MAZE = "peach_lite/PointMazeHidden-v0"
SMALL = dict(top_updates_per_round=2, lower_updates_per_episode=2, batch_size=8, context_batch=4, lower_batch_size=8,
             meta_batch=4, num_tasks_sample=2, episodes_per_task=2, buffer_size=5_000)


def _agent(**overrides) -> tuple[PEACH, GymTaskEnvs, Runner]:
    envs = GymTaskEnvs(MAZE, seed=0)
    tasks = envs.unwrapped.train_tasks()
    agent = PEACH.from_env(envs, len(tasks), PeachConfig(**{**SMALL, **overrides}))
    return agent, envs, Runner(envs, tasks, seed=0)


@pytest.fixture(scope="module")
def collected() -> tuple[PEACH, GymTaskEnvs, Runner]:
    agent, envs, runner = _agent()
    agent.collect_round(runner, 0)
    return agent, envs, runner


@pytest.fixture(scope="module")
def collected_categorical() -> tuple[PEACH, GymTaskEnvs, Runner]:
    agent, envs, runner = _agent(posterior_form="categorical")
    agent.collect_round(runner, 0)
    return agent, envs, runner


def _grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]


def _batch(agent: PEACH, tasks=(0, 1, 2)):
    batch = agent.rl_buffer.sample(8, list(tasks), agent.generator)
    context = agent.sample_context(list(tasks))
    return batch, context


def _check_algorithm_1_routing(agent: PEACH, batch: dict, context: torch.Tensor) -> dict:
    """φ learns from the critic loss and the KL and gets exactly zero from the actor loss; no top loss reaches a
    lower level. Returns the last losses."""
    for name, expect_encoder in [("critic_loss", True), ("kl", True), ("actor_loss", False)]:
        agent.zero_grad(set_to_none=True)
        losses = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1, generator=torch.Generator().manual_seed(0))
        losses[name].backward()
        encoder = _grads(agent.posterior)
        assert any(g.abs().sum() > 0 for g in encoder) == expect_encoder, name
        if not expect_encoder:
            assert all(torch.equal(g, torch.zeros_like(g)) for g in encoder)  # exactly zero, not small
        for lower in agent.hierarchy.levels[:-1]:  # no top loss reaches a lower level
            assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(lower))
    return losses


def test_the_encoder_learns_from_the_critic_and_the_kl_and_never_from_the_actor(collected):
    agent, *_ = collected
    batch, context = _batch(agent)
    _check_algorithm_1_routing(agent, batch, context)
    agent.zero_grad(set_to_none=True)
    peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1)["actor_loss"].backward()
    assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(agent.top.critic))  # the actor loss trains no critic
    assert any(g.abs().sum() > 0 for g in _grads(agent.top.actor))


def test_the_categorical_posterior_keeps_algorithm_1s_routing(collected_categorical):
    agent, envs, runner = collected_categorical
    assert agent.posterior.categorical and agent.top.cond_dim == agent.config.latent_dim
    batch, context = _batch(agent)
    losses = _check_algorithm_1_routing(agent, batch, context)
    belief = agent.posterior.infer(context)
    torch.testing.assert_close(losses["kl"], 0.1 * kl_to_uniform(belief.mean).sum())
    agent.begin_episode(TaskBatch.from_list(runner.tasks, [0, 1]), explore=False)  # the prior: a uniform one-hot cluster
    assert set(np.unique(agent.hierarchy.top_cond).tolist()) == {0.0, 1.0} and (agent.hierarchy.top_cond.sum(-1) == 1).all()
    for field, value in [("posterior_form", "mixture"), ("deterministic_z", True)]:
        with pytest.raises(ValueError, match=field):
            PeachConfig(posterior_form=value if field == "posterior_form" else "categorical", **({} if field == "posterior_form" else {field: value}))


def test_prior_slots_read_the_prior_and_send_the_encoder_nothing(collected):
    agent, *_ = collected
    batch, context = _batch(agent)
    for prior_slots, expect_encoder in [(torch.tensor([True, True, True]), False), (torch.tensor([True, False, True]), True)]:
        agent.zero_grad(set_to_none=True)
        losses = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1, prior_slots=prior_slots)
        (losses["critic_loss"] + losses["kl"]).backward()
        encoder = _grads(agent.posterior)
        assert any(g.abs().sum() > 0 for g in encoder) == expect_encoder
        if not expect_encoder:
            assert all(torch.equal(g, torch.zeros_like(g)) for g in encoder)  # exactly zero: the prior has no φ
            assert losses["kl"].item() == 0.0  # KL(N(0, I) || N(0, I))
    with pytest.raises(ValueError, match="prior_slot_prob"):
        PeachConfig(prior_slot_prob=1.5)


def test_prior_slots_are_drawn_only_among_slots_that_keep_their_own_goal(monkeypatch):
    import peach_lite.peach as peach_module

    agent, _, runner = _agent(prior_slot_prob=1.0, hindsight_goal_prob=0.5, meta_batch=16)
    agent.collect_round(runner, 0)
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs["prior_slots"].clone())
        return peach_losses(*args, **kwargs)

    monkeypatch.setattr(peach_module, "peach_losses", spy)
    generator_state = agent.generator.get_state()
    agent.update()
    agent.generator.set_state(generator_state)  # the same draws again, to see which slots kept their goal
    tasks = torch.randint(0, agent.num_train_tasks, (16,), generator=agent.generator).tolist()
    _, _, goals = agent.sample_meta_batch(tasks)
    own = torch.tensor([np.array_equal(goals[i].numpy(), agent.train_goals[t]) for i, t in enumerate(tasks)])
    assert torch.equal(seen[0], own)  # prior_slot_prob = 1: every own-goal slot, and no hindsight slot
    assert 0 < int(own.sum()) < 16


def test_lower_level_updates_leave_the_encoder_and_the_top_level_alone(collected):
    agent, *_ = collected
    before = [p.clone() for p in [*agent.posterior.parameters(), *agent.top.parameters()]]
    lower_before = [p.clone() for p in agent.hierarchy.levels[0].parameters()]
    agent.zero_grad(set_to_none=True)
    assert agent.hierarchy.learn(1)  # the lower levels learned ...
    assert all(torch.equal(a, b) for a, b in zip(before, [*agent.posterior.parameters(), *agent.top.parameters()]))
    assert all(p.grad is None for p in agent.posterior.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(lower_before, agent.hierarchy.levels[0].parameters()))


def test_the_lower_levels_have_hacs_widths_and_never_see_z(collected):
    agent, envs, _ = collected
    assert agent.top.cond_dim == agent.config.latent_dim
    assert [level.cond_dim for level in agent.hierarchy.levels[:-1]] == [0]
    assert agent.hierarchy.levels[0].actor.net[0].in_features == 4 + 2  # s and its goal, nothing else


def test_rows_go_to_their_own_tasks_buffer_with_the_stated_rewards(collected):
    agent, envs, runner = collected
    horizon = agent.config.subgoal_horizon
    for task in range(agent.num_train_tasks):
        if agent.rl_buffer.size(task) == 0:
            continue
        rows = agent.rl_buffer.sample(4 * agent.rl_buffer.size(task), [task])
        reward, done = rows["reward"].flatten(), rows["done"].flatten()
        assert set(reward.unique().tolist()) <= {-1.0, 0.0, -float(horizon)}
        assert torch.equal(done == 1.0, reward != -1.0)  # terminal iff success (0) or penalty (-H)
        goal = np.asarray(runner.tasks[task].goal)
        ends = rows["next_achieved"].reshape(-1, 2).numpy()
        success = reward.numpy() == 0.0
        assert np.all(np.linalg.norm(ends[success] - goal, axis=1) <= 0.4 + 0.2)  # paid only near its own goal
    context = agent.context_buffer.sample(64, [t for t in range(agent.num_train_tasks) if agent.context_buffer.size(t)][:1])
    assert float(context["reward"].min()) >= -1.0  # no penalty rows in the context


def test_the_penalty_rows_ablation_puts_every_penalty_row_in_the_context_too():
    agent, _, runner = _agent(penalties_in_context=True)
    agent.collect_round(runner, 0)
    horizon, rewards = float(agent.config.subgoal_horizon), []
    for task in range(agent.num_train_tasks):
        if agent.context_buffer.size(task) == 0:
            continue
        rewards += agent.context_buffer.sample(8 * agent.context_buffer.size(task), [task])["reward"].flatten().tolist()
    assert set(rewards) <= {-1.0, 0.0, -horizon} and -horizon in rewards  # penalty rows reach the context
    counts = [(agent.context_buffer.size(t), agent.collection_buffer.size(t)) for t in range(agent.num_train_tasks)]
    assert all(c == r for c, r in counts)  # the context takes every row of its collection, penalties included
    assert any(agent.collection_buffer.size(t) for t in range(agent.num_train_tasks))


def test_each_collection_refreshes_the_tasks_context(collected):
    agent, envs, runner = collected
    agent.generator.manual_seed(123)
    drawn = torch.randint(0, agent.num_train_tasks, (agent.config.num_tasks_sample,), generator=agent.generator.manual_seed(5)).tolist()
    agent.generator.manual_seed(5)
    sizes_rl = [agent.rl_buffer.size(t) for t in drawn]
    agent.collect_round(runner, 1)
    for t in set(drawn):
        assert agent.rl_buffer.size(t) > sizes_rl[drawn.index(t)]  # RL rows accumulate ...
        assert agent.context_buffer.size(t) <= agent.config.episodes_per_task * agent.config.subgoal_horizon * drawn.count(t)  # ... context is this round's only


def test_critics_stay_within_their_bounds(collected):
    agent, *_ = collected
    batch, context = _batch(agent)
    q = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1)["q"]
    assert float(q.detach().max()) <= 0.0 and float(q.detach().min()) >= -agent.config.subgoal_horizon


def test_meta_test_starts_on_the_prior_holds_z_per_episode_and_uses_all_context(collected):
    agent, envs, _ = collected
    seen = []
    original = agent.hierarchy.act

    def spy(obs):
        seen.append(agent.hierarchy.top_cond.copy())
        return original(obs)

    agent.hierarchy.act = spy
    try:
        result = meta_test_success(agent, GymTaskEnvs(MAZE, seed=1), envs.unwrapped.test_tasks()[:2], seed=3)
    finally:
        del agent.hierarchy.act
    assert result.success.shape == (2, agent.config.meta_test_episodes)
    assert np.all(result.z_mean[:, 0] == 0.0) and np.all(result.z_var[:, 0] == 1.0)  # episode 1: the prior
    assert np.any(result.z_var[:, 1] < 1.0)  # later: the posterior
    # z is constant within an episode: consecutive act calls of one episode see the same top_cond
    assert len({tuple(np.round(c[0], 6)) for c in seen[:3]}) == 1
    # the belief after the meta-test is q(z | every attempt of every episode)
    rows = sum(len(r) for r in agent._context[:1])
    assert rows >= agent.config.meta_test_episodes  # at least one attempt per episode


def test_a_meta_test_records_the_paths_of_dict_observations(collected):
    agent, envs, _ = collected
    tasks = envs.unwrapped.test_tasks()[:2]
    result = meta_test_success(agent, GymTaskEnvs(MAZE, seed=1), tasks, seed=3, record_paths=True)
    horizon = 50
    assert result.paths.shape == (2, agent.config.meta_test_episodes, horizon + 1, agent.spec.obs_dim)
    ends = [~np.isnan(p[:, 0]) for p in result.paths[:, 0]]
    assert all(e[0] and (e.sum() - 1 <= horizon) for e in ends)  # a start, then one row per step taken
    episodes = run_episodes(agent, GymTaskEnvs(MAZE, seed=1), TaskBatch.from_list(tasks, split="test"), explore=False, record=True)
    with pytest.raises(ValueError, match="key"):
        episodes.positions()  # dict observations need a key
    assert episodes.positions("achieved_goal").shape[-1] == 2


def test_infer_belief_reads_all_context_rows_and_the_prior_for_none():
    agent, envs, _ = _agent()
    agent.reset_belief(2)
    row = np.ones(agent.context_dim, np.float32)
    agent._context = [[row, 2 * row], []]
    belief = agent.infer_belief()
    direct = agent.posterior.infer(torch.as_tensor(np.stack([row, 2 * row]))[None])
    assert torch.allclose(belief.mean[0], direct.mean[0]) and torch.allclose(belief.var[0], direct.var[0])
    assert torch.equal(belief.mean[1], torch.zeros(agent.config.latent_dim)) and torch.equal(belief.var[1], torch.ones(agent.config.latent_dim))


def test_top_context_row_layout():
    row = top_context_row(np.arange(4), np.array([5, 6]), -1.0, np.arange(7, 11))
    assert np.array_equal(row, np.array([0, 1, 2, 3, 5, 6, -1, 7, 8, 9, 10], np.float32))


def test_relabelled_rewards_come_from_the_envs_reward_function_and_train_goals_only(collected):
    agent, envs, runner = collected
    env = make(MAZE).unwrapped
    tasks = list(range(agent.num_train_tasks))
    agent.config.relabel_prob = 1.0
    try:
        agent.generator.manual_seed(11)
        expected_source = agent._relabel_sources(tasks, agent.rl_buffer)
        agent.generator.manual_seed(11)
        batch, context, goals = agent.sample_meta_batch(tasks)
    finally:
        agent.config.relabel_prob = 0.0
    moved = [i for i, (t, s) in enumerate(zip(tasks, expected_source)) if t != s]
    assert moved
    assert np.array_equal(goals.numpy(), np.stack([runner.tasks[t].goal for t in tasks]).astype(np.float32))
    for i in moved:
        goal = np.asarray(runner.tasks[tasks[i]].goal)  # the listed train task's goal: test goals are never used
        expected = env.compute_reward(batch["next_achieved"][i].numpy(), goal)
        penalty = batch["reward"][i].numpy() < -1
        assert np.array_equal(batch["reward"][i].numpy()[~penalty], expected[~penalty])
        assert np.array_equal(batch["done"][i].numpy()[~penalty], (expected[~penalty] == 0).astype(np.float32))
        ends = context[i, :, -4:-2].numpy()  # s' of each context row: (x, y, vx, vy) -> x, y
        assert np.array_equal(context[i, :, 6].numpy(), env.compute_reward(ends, goal))
    test_goals = {tuple(np.asarray(t.goal, np.float32)) for t in envs.unwrapped.test_tasks()}
    assert not test_goals & {tuple(g) for g in agent.train_goals}


def test_hindsight_goals_through_the_context_pay_an_attempt_the_context_holds(collected):
    agent, envs, runner = collected
    agent.config.hindsight_goal_prob = 1.0
    try:
        batch, context, goals = agent.sample_meta_batch(list(range(6)))
    finally:
        agent.config.hindsight_goal_prob = 0.0
    env = make(MAZE).unwrapped
    for i in range(6):
        assert (context[i, :, 6] == 0.0).any()  # the attempt whose end became the goal is paid
        ends = context[i, :, -4:-2].numpy()
        assert any(np.array_equal(end, goals[i].numpy()) for end in ends)  # the slot's goal is where an attempt ended
        assert np.array_equal(context[i, :, 6].numpy(), env.compute_reward(ends, goals[i].numpy()))
        penalty = batch["reward"][i].numpy() < -1
        expected = env.compute_reward(batch["next_achieved"][i].numpy(), goals[i].numpy())
        assert np.array_equal(batch["reward"][i].numpy()[~penalty], expected[~penalty])


def test_hindsight_rows_from_the_collection_come_from_the_goals_own_episodes():
    env = make(MAZE).unwrapped
    older_rows_seen = {}
    for mode in ("collection", "buffer"):
        agent, envs, runner = _agent(hindsight_goal_prob=1.0, hindsight_rows=mode)
        agent.collect_round(runner, 0)
        agent.collect_round(runner, 1)  # the replay now holds rows older than each task's latest collection
        tasks = [t for t in range(agent.num_train_tasks) if agent.collection_buffer.size(t) < agent.rl_buffer.size(t)]
        assert tasks
        latest = {t: {tuple(r) for r in agent.collection_buffer.sample(2000, [t], torch.Generator().manual_seed(0))["obs"][0].numpy()}
                  for t in tasks}
        older_rows_seen[mode] = False
        for _ in range(10):
            batch, context, goals = agent.sample_meta_batch(tasks)
            for i, task in enumerate(tasks):
                older_rows_seen[mode] |= any(tuple(r) not in latest[task] for r in batch["obs"][i].numpy())
                penalty = batch["reward"][i].numpy() < -1  # rewards recomputed for the hindsight goal, penalties kept
                expected = env.compute_reward(batch["next_achieved"][i].numpy(), goals[i].numpy())
                assert np.array_equal(batch["reward"][i].numpy()[~penalty], expected[~penalty])
    assert not older_rows_seen["collection"]  # every RL row of a hindsight slot comes from the goal's own collection
    assert older_rows_seen["buffer"]  # the whole replay: older rows too
    with pytest.raises(ValueError, match="hindsight_rows"):
        PeachConfig(hindsight_rows="episode")


def test_task_hindsight_goals_are_train_goals_that_the_slots_own_context_reached():
    env = make(MAZE).unwrapped
    agent, envs, runner = _agent(hindsight_goal_prob=1.0, hindsight_goals="task")
    agent.collect_round(runner, 0)
    n, generator = agent.num_train_tasks, torch.Generator().manual_seed(0)
    collected = [t for t in range(n) if agent.context_buffer.size(t)]
    for t in collected:  # one extra attempt per collected task that ends on the next task's goal
        row = {k: v[0, 0].numpy().copy() for k, v in agent.context_buffer.sample(1, [t], generator).items()}
        row["next_achieved"] = agent.train_goals[(t + 1) % n]
        row["next_obs"][:2] = row["next_achieved"]
        agent.context_buffer.add(t, **row)
    train_goals = {tuple(g) for g in agent.train_goals}
    reward_col = env.observation_space["observation"].shape[0] + 2  # context rows are [s, subgoal, r, s']
    relabelled = kept = 0
    for _ in range(20):
        batch, context, goals = agent.sample_meta_batch(collected)
        for i, task in enumerate(collected):
            goal = goals[i].numpy()
            assert tuple(goal) in train_goals  # only goals of the task distribution, never a bare endpoint
            if np.array_equal(goal, agent.train_goals[task]):
                kept += 1  # its context reached no train goal: it keeps its own
            else:
                relabelled += 1
                assert (context[i, :, reward_col] == 0.0).any()  # recomputed for the goal, its context holds a paid attempt
    assert relabelled > 0 and kept > 0
    with pytest.raises(ValueError, match="hindsight_goals"):
        PeachConfig(hindsight_goals="final")


def test_relabel_probability_zero_leaves_the_update_bit_for_bit_unchanged():
    results = []
    for prob in (None, 0.0):
        torch.manual_seed(0)
        agent, envs, runner = _agent(**({} if prob is None else {"relabel_prob": prob}))
        agent.collect_round(runner, 0)
        results.append(agent.update())
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_the_same_seed_gives_bit_identical_first_updates():
    runs = []
    for _ in range(2):
        agent, envs, runner = _agent(seed=7)
        agent.collect_round(runner, 0)
        runs.append((agent.update(), [p.clone() for p in agent.parameters()]))
    assert all(torch.equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_baselines_read_no_z_or_the_true_goal_and_random_subgoals_never_learn():
    agent, envs, runner = _agent(task_inference="oracle")
    tasks = TaskBatch.from_list(runner.tasks, [0, 1])
    agent.begin_episode(tasks, explore=False)
    assert np.allclose(agent.hierarchy.top_cond, np.stack([np.asarray(t.goal) / 4 for t in tasks.values]))
    agent, envs, runner = _agent(task_inference="none")
    agent.begin_episode(tasks, explore=True)
    assert np.all(agent.hierarchy.top_cond == 0)
    agent, envs, runner = _agent(random_subgoals=True)
    agent.collect_round(runner, 0)
    assert agent.update() == {}


def test_bad_config_values_name_the_field():
    for field, value in [("task_inference", "magic"), ("latent_dim", 0), ("relabel_prob", 1.5), ("num_levels", 1), ("meta_test_episodes", 0),
                         ("action_l2", -0.1), ("pre_tanh_l2", -1.0), ("reset_saturated_bottom", 1.5)]:
        with pytest.raises(ValueError, match=field):
            PeachConfig(**{field: value})


def test_a_saturated_bottom_actor_is_reinitialised_once_after_the_first_round_and_a_healthy_one_is_left_alone():
    from peach_lite.goal_levels import replay_saturation

    plain, _, runner = _agent()
    plain.collect_round(runner, 0)
    guarded, _, runner = _agent(reset_saturated_bottom=0.95)
    guarded.collect_round(runner, 0)
    assert guarded.bottom_resets == 0  # not saturated: the run is the plain one, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), guarded.parameters()))
    trapped, _, runner = _agent(reset_saturated_bottom=0.95)
    with torch.no_grad():  # as if it had saturated: the bottom actor pinned at its box's corner
        [m for m in trapped.hierarchy.levels[0].actor.net if isinstance(m, torch.nn.Linear)][-1].bias.fill_(50.0)
    trapped.collect_round(runner, 0)
    assert replay_saturation(trapped.hierarchy) < 0.95
    trapped.collect_round(runner, 1)
    assert trapped.bottom_resets == 1  # after the first round only
    bottom, plain_bottom = trapped.hierarchy.levels[0], plain.hierarchy.levels[0]
    assert not all(torch.equal(a, b) for a, b in zip(bottom.actor.parameters(), plain_bottom.actor.parameters()))


def test_the_action_penalty_reaches_the_bottom_actor_only():
    agent, _, _ = _agent(action_l2=0.03)
    assert [level.action_l2 for level in agent.hierarchy.levels] == [0.03, 0.0]
    assert _agent()[0].hierarchy.levels[0].action_l2 == 0.0  # HAC's reference: none


def _assert_same_meta_test(agent: PEACH, loaded: PEACH) -> None:
    """A saved agent and its loaded copy meta-test alike on two held-out tasks (same successes, same beliefs)."""
    envs = GymTaskEnvs(MAZE, seed=0)
    tasks = envs.unwrapped.test_tasks()[:2]
    first = meta_test_success(agent, envs, tasks, seed=1)
    second = meta_test_success(loaded, GymTaskEnvs(MAZE, seed=0), tasks, seed=1)
    assert np.array_equal(first.success, second.success) and np.allclose(first.z_mean, second.z_mean)


def test_training_through_the_loop_and_a_checkpoint_round_trip(tmp_path):
    agent, meta = train_peach(seed=0, progress=False, rounds=2, eval_every=2, meta_test_episodes=2, **SMALL)
    assert meta["history"]["eval_metric"] == "meta-test success" and len(meta["history"]["eval_values"]) == 1
    path = save_agent(agent, tmp_path / "peach.pt", meta={"note": "test"})
    loaded, _ = load_agent(path, algorithm="peach")
    for a, b in zip(agent.checkpoint_state()["posterior"].values(), loaded.checkpoint_state()["posterior"].values()):
        assert torch.equal(a, b)
    _assert_same_meta_test(agent, loaded)


def test_the_top_level_reward_is_the_envs_success_not_the_zero_goal():
    agent, envs, runner = _agent()
    agent.hierarchy.random_top = False
    tasks = TaskBatch.from_list(runner.tasks, [0])
    episodes = run_episodes(agent, envs, tasks, explore=True, record=True)
    attempts = agent._attempts[0]
    paid = [t for t, _, _ in attempts if float(t.reward) == 0.0]
    assert bool(episodes.success[0]) == bool(paid)  # an attempt is paid iff the env reported success in it
    assert all(np.array_equal(t.goal, np.zeros(2, np.float32)) for t, _, _ in attempts)  # the goal input is blank


def test_the_measured_detach_map_and_its_checkers(collected):
    from peach_lite.checks import check_detach_map, check_top_context_row
    from peach_lite.peach_diagnostics import gradient_routing

    agent, *_ = collected
    batch, context = _batch(agent)
    measured = gradient_routing(agent, batch, context)
    expected = {"critic_loss": {"encoder", "top_critic"}, "kl": {"encoder"}, "actor_loss": {"top_actor"}}
    assert measured == expected
    assert check_detach_map(expected, measured)
    assert not check_detach_map({**expected, "actor_loss": {"top_actor", "encoder"}}, measured)
    assert check_top_context_row(top_context_row)
    assert not check_top_context_row(lambda s, g, r, s2: top_context_row(s2, g, r, s))


def test_the_hindsight_goal_curriculum_falls_linearly_to_zero():
    agent, envs, _ = _agent(hindsight_goal_prob=0.8, hindsight_goal_updates=100)
    probs = []
    for steps in (0, 25, 50, 100, 400):
        agent.top_updates = steps
        probs.append(agent.hindsight_goal_prob())
    assert probs == pytest.approx([0.8, 0.6, 0.4, 0.0, 0.0])
    constant, envs2, _ = _agent(hindsight_goal_prob=0.8)
    constant.top_updates = 10_000
    assert constant.hindsight_goal_prob() == 0.8  # hindsight_goal_updates = 0: no curriculum
    envs.close()
    envs2.close()


def test_update_counts_top_level_steps_for_the_curriculum():
    agent, envs, runner = _agent(hindsight_goal_prob=0.5, hindsight_goal_updates=10)
    agent.collect_round(runner, 0)
    agent.learn(3)
    assert agent.top_updates == 3
    envs.close()


def test_the_oracle_reads_each_slots_relabelled_goal():
    agent, envs, runner = _agent(task_inference="oracle", hindsight_goal_prob=1.0)
    agent.collect_round(runner, 0)
    tasks = list(range(4))
    agent.generator.manual_seed(3)
    _, context, goals = agent.sample_meta_batch(tasks)
    true_goals = np.stack([runner.tasks[t].goal for t in tasks]).astype(np.float32)
    assert not np.allclose(goals.numpy(), true_goals)  # hindsight slots carry the end of an attempt, not the site
    for i in range(4):
        assert any(np.array_equal(end, goals[i].numpy()) for end in context[i, :, -4:-2].numpy())
    envs.close()


def test_the_paid_context_probe_and_prior_visits_have_their_ranges(collected):
    from peach_lite.peach_diagnostics import paid_context_probe, prior_site_visits

    agent, envs, _ = collected
    tasks = envs.unwrapped.test_tasks()[:3]
    probe = paid_context_probe(agent, envs, tasks, num_samples=2)
    assert 0.0 <= probe["success"] <= 1.0 and not probe["signal_to_noise"] < 0.0 and probe["var_ratio"] > 0.0
    counts = np.bincount([envs.unwrapped.site_of(t) for t in tasks], minlength=envs.unwrapped.num_sites)
    per_site = np.array(probe["success_per_site"])
    assert per_site.shape == (envs.unwrapped.num_sites,) and np.array_equal(np.isnan(per_site), counts == 0)
    assert np.isclose(np.nansum(per_site * counts) / counts.sum(), probe["success"])  # the per-site shares add up
    visits = prior_site_visits(agent, envs, tasks[0], num_samples=4)
    assert visits.shape == (envs.unwrapped.num_sites,) and ((visits >= 0) & (visits <= 1)).all()
    with pytest.raises(ValueError, match="task_inference"):
        oracle, envs3, _ = _agent(task_inference="oracle")
        paid_context_probe(oracle, envs3, tasks)


def test_unpaid_only_keeps_the_unpaid_rows_of_the_listed_slots():
    from peach_lite.posterior import unpaid_only

    rows = torch.arange(4 * 6 * 3, dtype=torch.float32).reshape(4, 6, 3)
    rows[:, :, 1] = torch.tensor([[0, -1, 0, -1, -1, 0], [0, -1, 0, -1, -1, 0], [0.0] * 6, [-1.0] * 6])  # reward column 1
    before = rows.clone()
    out = unpaid_only(rows, 1, [0, 2, 3], torch.Generator().manual_seed(0))
    assert torch.equal(rows, before) and out.shape == rows.shape  # a copy
    assert (out[0, :, 1] == -1).all() and all(any(torch.equal(r, u) for u in rows[0, [1, 3, 4]]) for r in out[0])
    assert torch.equal(out[1], rows[1])  # not listed
    assert torch.equal(out[2], rows[2]) and torch.equal(out[3], rows[3])  # all paid, all unpaid: nothing to change
    with pytest.raises(ValueError, match="context"):
        unpaid_only(rows[0], 1, [0])
    with pytest.raises(ValueError, match="reward_column"):
        unpaid_only(rows, 3, [0])
    with pytest.raises(ValueError, match="slots"):
        unpaid_only(rows, 1, [4])


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_unpaid_slots_read_only_the_unpaid_attempts_of_their_context(prob, monkeypatch):
    agent, envs, runner = _agent(unpaid_context_prob=prob, context_batch=16)
    agent.collect_round(runner, 0)
    tasks = [i for i in range(len(runner.tasks)) if agent.context_buffer.size(i) > 0][:4]
    sample = agent.context_buffer.sample

    def with_a_paid_attempt(*args, **kwargs):  # row 0 of every slot: a paid attempt (reward 0)
        rows = sample(*args, **kwargs)
        rows["reward"][:, 0] = 0.0
        return rows

    monkeypatch.setattr(agent.context_buffer, "sample", with_a_paid_attempt)
    _, context, _ = agent.sample_meta_batch(tasks)
    reward = context[..., agent.spec.obs_dim + agent.spec.goal_dim]
    if prob == 1.0:
        assert (reward < 0).all()  # every own-goal slot reads only unpaid attempts
    else:
        assert (reward[:, 0] == 0).all()  # Algorithm 1 as written: the paid attempt stays
    envs.close()


def test_unpaid_context_prob_is_checked():
    with pytest.raises(ValueError, match="unpaid_context_prob"):
        PeachConfig(unpaid_context_prob=1.5)
    with pytest.raises(ValueError, match="unpaid_context_prob"):
        PeachConfig(unpaid_context_prob=0.5, dense_context=True)


def test_eliminating_slots_pull_the_encoder_alone_towards_a_goal_their_failures_left(monkeypatch):
    import peach_lite.peach_context as peach_context

    agent, envs, runner = _agent(elimination_weight=1.0, context_batch=6)
    agent.collect_round(runner, 0)
    site = envs.unwrapped.site_centers[0]
    failed = torch.as_tensor(np.stack([probe_attempt_row(agent.spec.obs_dim, site, -1.0)] * 5 + [probe_attempt_row(agent.spec.obs_dim, site, 0.0)]))
    context = failed.expand(3, -1, -1).clone()  # slots: five failures at site 0, then one paid attempt there
    seen, original = {}, peach_context.elimination_loss

    def recorded(belief, codes, consistent):
        seen.update(belief=belief, codes=codes, consistent=consistent)
        return original(belief, codes, consistent)

    monkeypatch.setattr(peach_context, "elimination_loss", recorded)
    agent.zero_grad(set_to_none=True)
    loss = peach_context.eliminating_loss(agent, context, [0, 2])
    loss.backward()
    near = np.linalg.norm(agent.train_goals - site, axis=-1) <= envs.unwrapped.goal_threshold
    assert near.any() and (~near).any()
    assert seen["consistent"].shape == (2, len(agent.train_goals))
    assert seen["consistent"].tolist() == [list(~near)] * 2  # the paid row is never kept; the failures rule site 0's goals out
    assert not seen["codes"].mean.requires_grad  # codes are targets
    assert loss.item() > 0 and any(g.abs().sum() > 0 for g in _grads(agent.posterior))
    for module in [agent.top, *agent.hierarchy.levels[:-1], agent.reward_decoder]:  # φ only
        assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(module))
    assert peach_context.eliminating_loss(agent, context[:, 5:], [0, 1]).item() == 0.0  # no unpaid row: nothing to teach
    with pytest.raises(ValueError, match="slots"):
        peach_context.eliminating_loss(agent, context, [3])
    with pytest.raises(ValueError, match="context"):
        peach_context.eliminating_loss(agent, context[0], [0])
    with pytest.raises(ValueError, match="end"):
        probe_attempt_row(agent.spec.obs_dim, np.zeros((2, 2)), 0.0)
    assert agent.update()["elimination_loss"].item() >= 0
    envs.close()


def test_the_consistent_mass_form_of_the_eliminating_slots_reaches_the_encoder_alone():
    agent, envs, runner = _agent(elimination_weight=1.0, elimination_form="consistent_mass", context_batch=6)
    agent.collect_round(runner, 0)
    site = envs.unwrapped.site_centers[0]
    context = torch.as_tensor(np.stack([probe_attempt_row(agent.spec.obs_dim, site, -1.0)] * 6)).expand(2, -1, -1).clone()
    agent.zero_grad(set_to_none=True)
    loss = eliminating_loss(agent, context, [0, 1])
    loss.backward()
    assert loss.item() > 0 and any(g.abs().sum() > 0 for g in _grads(agent.posterior))
    for module in [agent.top, *agent.hierarchy.levels[:-1], agent.reward_decoder]:  # φ only
        assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(module))
    assert agent.update()["elimination_loss"].item() >= 0
    envs.close()


def test_probe_failures_add_only_attempts_the_slots_goal_does_not_pay(collected, monkeypatch):
    agent, envs, _ = collected
    monkeypatch.setattr(agent, "config", PeachConfig(**{**SMALL, "elimination_failures": 3}))
    batch, context, goals = agent.sample_meta_batch([0, 1, 2, 3])
    keep = torch.zeros(context.shape[:2], dtype=torch.bool)
    written, kept = with_probe_failures(agent, context, keep, goals)
    changed = (written != context).any(dim=-1)
    assert torch.equal(changed, kept) and all(1 <= n <= 3 for n in kept.sum(dim=1).tolist())
    reward_col, goal_dim = agent.spec.obs_dim + agent.spec.goal_dim, agent.spec.goal_dim
    ends = written[..., reward_col + 1 : reward_col + 1 + goal_dim]
    pays = agent.reward_fn(ends.numpy(), goals.numpy()[:, None]) == 0.0
    assert not pays[kept.numpy()].any() and (written[..., reward_col][kept] == -1.0).all()
    assert all(any(np.allclose(end[:goal_dim], g) for g in agent.train_goals) for end in ends[kept].numpy())
    with pytest.raises(ValueError, match="elimination_failures"):
        PeachConfig(elimination_failures=PeachConfig().context_batch + 1)


def test_the_eliminating_slots_with_probe_failures_reach_the_encoder_alone():
    agent, envs, runner = _agent(elimination_weight=1.0, elimination_form="consistent_mass", elimination_failures=2)
    agent.collect_round(runner, 0)
    batch, context, goals = agent.sample_meta_batch([0, 1])
    with pytest.raises(ValueError, match="goals must be"):
        eliminating_loss(agent, context, [0, 1])
    agent.zero_grad(set_to_none=True)
    loss = eliminating_loss(agent, context, [0, 1], goals)
    loss.backward()
    assert loss.item() > 0 and any(g.abs().sum() > 0 for g in _grads(agent.posterior))
    for module in [agent.top, *agent.hierarchy.levels[:-1], agent.reward_decoder]:  # φ only
        assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(module))
    assert agent.update()["elimination_loss"].item() > 0
    envs.close()


def test_own_context_elimination_reads_a_copy_of_the_agent(collected):
    from peach_lite.peach_diagnostics import own_context_elimination

    agent, envs, runner = collected
    before = {k: v.clone() for k, v in agent.posterior.state_dict().items()}
    size = agent.rl_buffer.size(0)
    out = own_context_elimination(agent, runner, rounds=1, num_batches=3)
    assert 0.0 <= out["ruling_out_share"] <= 1.0 and 0.0 <= out["max_ruled_out_share"] <= 1.0 and out["contexts"] > 0
    assert (out["ruling_out_share"] > 0) == (out["max_ruled_out_share"] > 0)
    assert agent.rl_buffer.size(0) == size and all(torch.equal(v, agent.posterior.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="rounds"):
        own_context_elimination(agent, runner, rounds=0)


def test_train_goal_codes_are_q_given_a_paid_attempt_at_each_goal(collected):
    agent, envs, _ = collected
    codes = train_goal_codes(agent)
    assert codes.mean.shape == (agent.num_train_tasks, agent.config.latent_dim) and not codes.mean.requires_grad
    row = torch.as_tensor(probe_attempt_row(agent.spec.obs_dim, agent.train_goals[3], 0.0))
    with torch.no_grad():
        one = agent.posterior.infer(row.expand(1, agent.config.context_batch, -1))
    assert torch.allclose(codes.mean[3], one.mean[0], atol=1e-6) and torch.allclose(codes.var[3], one.var[0], atol=1e-6)


def test_code_reading_shares_sum_to_one_over_sites_and_leave_the_agent_alone(collected):
    from peach_lite.envs.maze_hidden import site_of
    from peach_lite.peach_diagnostics import code_reading_shares

    agent, envs, runner = collected
    sites = [site_of(task, envs.unwrapped.sites) for task in envs.unwrapped.train_tasks()]
    before = {k: v.clone() for k, v in agent.posterior.state_dict().items()}
    size = agent.rl_buffer.size(0)
    shares = code_reading_shares(agent, runner, sites, rounds=1, num_batches=3)
    assert shares.shape == (max(sites) + 1,) and np.isclose(shares.sum(), 1.0) and (shares >= 0).all()
    assert agent.rl_buffer.size(0) == size and all(torch.equal(v, agent.posterior.state_dict()[k]) for k, v in before.items())
    same_site = [0] * len(sites)  # every goal at one site: every z is nearest that site's codes
    assert code_reading_shares(agent, runner, same_site, rounds=1, num_batches=2).tolist() == [1.0]
    with pytest.raises(ValueError, match="goal_sites"):
        code_reading_shares(agent, runner, sites[:-1], rounds=1, num_batches=1)


def test_elimination_weight_is_checked_and_off_by_default():
    assert PeachConfig().elimination_weight == 0.0
    agent, envs, runner = _agent()
    agent.collect_round(runner, 0)
    assert agent.update()["elimination_loss"].item() == 0.0
    for bad in [dict(elimination_weight=-1.0), dict(elimination_weight=1.0, dense_context=True),
                dict(elimination_weight=1.0, posterior_form="categorical"), dict(elimination_weight=1.0, deterministic_z=True)]:
        with pytest.raises(ValueError, match="elimination_weight"):
            PeachConfig(**bad)
    assert PeachConfig().elimination_form == "nearest_code"
    with pytest.raises(ValueError, match="elimination_form"):
        PeachConfig(elimination_form="nearest")
    envs.close()


def test_the_failed_context_probe_reads_unpaid_attempts_at_the_other_sites(collected, monkeypatch):
    from peach_lite.peach_diagnostics import failed_context_probe

    agent, envs, _ = collected
    tasks, unwrapped = envs.unwrapped.test_tasks()[:3], envs.unwrapped
    contexts, infer = [], agent.posterior.infer
    monkeypatch.setattr(agent.posterior, "infer", lambda context: contexts.append(context.clone()) or infer(context))
    probe = failed_context_probe(agent, envs, tasks, num_rows=4, num_samples=2)
    assert probe["failed_sites"] == [1, 2] and probe["elimination_reference"] == [0.5, 1.0]
    for key in ("revisit", "prior_visit", "success"):
        assert len(probe[key]) == 2 and all(0.0 <= v <= 1.0 for v in probe[key])
    assert probe["prior_visit"][1] >= probe["prior_visit"][0]  # passing one of two sites is at least as common as one
    assert len(contexts) == len(tasks) * 3  # per task: each other site alone, then both
    obs_dim, centers = agent.spec.obs_dim, np.asarray(unwrapped.site_centers, np.float32)
    for k, task in enumerate(tasks):
        goal_site = unwrapped.site_of(task)
        for context in contexts[3 * k: 3 * k + 3]:
            rows = context[0].numpy()
            assert rows.shape == (4, 2 * obs_dim + 3) and (rows[:, obs_dim + 2] == -1.0).all()  # every attempt unpaid
            ends = rows[:, obs_dim + 3: obs_dim + 5]
            sites = {int(np.argmin(np.linalg.norm(centers - end, axis=1))) for end in ends}
            assert goal_site not in sites and all(np.linalg.norm(centers - end, axis=1).min() < 1e-6 for end in ends)
        assert [len({tuple(r) for r in c[0, :, obs_dim + 3: obs_dim + 5].numpy()}) for c in contexts[3 * k: 3 * k + 3]] == [1, 1, 2]
    with pytest.raises(ValueError, match="task_inference"):
        oracle, envs3, _ = _agent(task_inference="oracle")
        failed_context_probe(oracle, envs3, tasks)


def test_the_failure_blend_probe_finds_the_two_failure_belief_between_the_one_failure_beliefs(collected, collected_categorical):
    from peach_lite.peach_diagnostics import failure_blend_probe

    agent, envs, _ = collected
    tasks = envs.unwrapped.test_tasks()
    probe = failure_blend_probe(agent, envs, tasks, num_rows=5)
    assert probe["pairs"] == [(0, 1), (0, 2), (1, 2)] and probe["remaining"] == [[2], [1], [0]]
    assert probe["blend_error"] < 1e-4  # the product of Gaussians: a precision-weighted average, per dimension
    means = probe["means"]
    assert means["paid"].shape == means["one_failure"].shape == (3, agent.config.latent_dim) and means["two_failures"].shape == (3, agent.config.latent_dim)
    for k, (a, b) in enumerate(probe["pairs"]):  # between the two one-failure means, dimension by dimension
        low, high = np.minimum(means["one_failure"][a], means["one_failure"][b]), np.maximum(means["one_failure"][a], means["one_failure"][b])
        assert ((means["two_failures"][k] >= low - 1e-5) & (means["two_failures"][k] <= high + 1e-5)).all()
        nearest = int(np.argmin(np.linalg.norm(means["paid"] - means["two_failures"][k], axis=1)))
        assert probe["nearest_paid"][k] == nearest
    assert probe["lands_on_remaining"] == np.mean([n in r for n, r in zip(probe["nearest_paid"], probe["remaining"])])
    assert len(probe["greedy_sites"]) == len(probe["greedy_reached"]) == 3 and probe["std_over_gap"] > 0
    assert probe["greedy_success"] == np.mean(probe["greedy_reached"])
    categorical, envs_c, _ = collected_categorical
    probe_c = failure_blend_probe(categorical, envs_c, tasks, num_rows=5)  # the logits add: a normalised geometric mean
    assert probe_c["blend_error"] < 1e-5 and np.allclose(probe_c["means"]["two_failures"].sum(-1), 1.0)
    with pytest.raises(ValueError, match="num_rows"):
        failure_blend_probe(agent, envs, tasks, num_rows=1)
    with pytest.raises(ValueError, match="tasks must have a goal at each"):
        failure_blend_probe(agent, envs, [t for t in tasks if envs.unwrapped.site_of(t) != 1])


def test_the_exact_belief_meta_test_samples_train_goals_and_restores_the_agent(collected, monkeypatch):
    from peach_lite.peach_beliefs import exact_belief_meta_test

    agent, envs, _ = collected
    tasks = envs.unwrapped.test_tasks()[:3]
    belief, generator = agent.belief, agent.generator
    beliefs = []
    begin = agent.begin_episode
    monkeypatch.setattr(agent, "begin_episode", lambda batch, explore: beliefs.append(agent.belief) or begin(batch, explore=explore))
    result = exact_belief_meta_test(agent, envs, tasks, num_episodes=2, num_rows=4)
    assert agent.belief is belief and agent.generator is generator  # restored
    assert result["success"].shape == (3, 2) and result["num_hypotheses"] == len(envs.unwrapped.train_tasks())
    assert result["success_per_episode"] == result["success"].mean(axis=0).tolist() and result["final_success"] == result["success"][:, -1].mean()
    rows = torch.as_tensor(np.stack([np.stack([probe_attempt_row(agent.spec.obs_dim, np.asarray(t.goal, np.float32), 0.0)] * 4)
                                     for t in envs.unwrapped.train_tasks()]))
    codes = agent.posterior.infer(rows).mean.detach()
    assert len(beliefs) == 2
    for used in beliefs:  # every task's belief is one train goal's code
        assert all(any(torch.allclose(row, code) for code in codes) for row in used.mean)
    again = exact_belief_meta_test(agent, envs, tasks, num_episodes=2, num_rows=4)
    assert np.array_equal(again["success"], result["success"])  # seeded
    for field, kwargs in [("num_episodes", {"num_episodes": 0}), ("unpaid_weight", {"unpaid_weight": 1.0})]:
        with pytest.raises(ValueError, match=field):
            exact_belief_meta_test(agent, envs, tasks, **kwargs)


class _PaidWithin(torch.nn.Module):
    """p(paid | z, s') of the true rule: logit +30 where s' lies within the threshold of the goal whose code is z, else -30."""

    def __init__(self, codes: torch.Tensor, goals: np.ndarray, threshold: float):
        super().__init__()
        self.codes, self.goals, self.threshold = codes, torch.as_tensor(goals), threshold

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        code, end = inputs[..., : self.codes.shape[-1]], inputs[..., self.codes.shape[-1] :]
        index = (code[..., None, :] - self.codes).abs().sum(-1).argmin(-1)
        return torch.where((end - self.goals[index]).norm(dim=-1) <= self.threshold, 30.0, -30.0).unsqueeze(-1)


def test_the_learned_belief_eliminates_where_attempts_failed_and_restores_the_agent(monkeypatch):
    """On the best route's checkpoint (its attempts reach the sites): the fit learns, and with the true rule as its
    likelihood each draw is among the hypotheses that contradict the fewest attempts so far (an unpaid attempt at a
    hypothesis's goal, or a paid one away from it)."""
    from peach_lite.peach import EVAL_SEED
    from peach_lite.peach_beliefs import _train_goal_codes, fit_paid_model, learned_belief_meta_test

    agent = load_agent("data/checkpoints/peach_maze_return_explore.pt", algorithm="peach")[0]
    envs = GymTaskEnvs("peach_lite/PointMazeHidden-v0", seed=EVAL_SEED)
    tasks = envs.unwrapped.test_tasks()[:6]
    fitted = fit_paid_model(agent, envs, num_episodes=24, train_steps=300)
    goals, codes = _train_goal_codes(agent, envs, agent.config.context_batch)
    assert np.array_equal(fitted["goals"], goals) and torch.equal(fitted["codes"].mean, codes.mean)
    paid_share = fitted["paid_share"]
    assert 0 < paid_share < 0.5  # the fit beats the best constant guess (its loss is the binary entropy of the paid share)
    assert fitted["final_loss"] < -(paid_share * np.log(paid_share) + (1 - paid_share) * np.log(1 - paid_share))
    threshold = float(envs.unwrapped.goal_threshold)
    exact = {**fitted, "model": _PaidWithin(codes.mean, goals, threshold)}
    belief, generator = agent.belief, agent.generator
    chosen, ends = [], []
    begin, end_episode = agent.begin_episode, agent.end_episode

    def recording_end():
        ends.append([(np.stack([np.ravel(t.next_obs)[:2] for t, _, _ in attempts]), np.array([float(t.reward) == 0.0 for t, _, _ in attempts]))
                     for attempts in agent.attempts])
        end_episode()

    monkeypatch.setattr(agent, "begin_episode", lambda batch, explore: chosen.append(
        [int((codes.mean - row).abs().sum(-1).argmin()) for row in agent.belief.mean]) or begin(batch, explore=explore))
    monkeypatch.setattr(agent, "end_episode", recording_end)
    envs.close()
    envs = GymTaskEnvs("peach_lite/PointMazeHidden-v0", seed=EVAL_SEED)  # fresh envs: the same starts for the rerun below
    result = learned_belief_meta_test(agent, envs, tasks, fitted=exact, num_episodes=4, floor=1e-12)
    assert agent.belief is belief and agent.generator is generator  # restored
    assert result["success"].shape == (6, 4) and result["num_hypotheses"] == len(goals)
    assert result["final_success"] == result["success"][:, -1].mean()
    assert len(chosen) == len(ends) == 4
    eliminations = 0
    for i in range(6):  # each draw is among the hypotheses that contradict the fewest attempts so far
        contradictions = np.zeros(len(goals), int)
        for k in range(3):
            end, paid = ends[k][i]
            near = np.linalg.norm(end[:, None] - goals[None], axis=-1) <= threshold  # (attempts, K)
            contradictions += (near != paid[:, None]).sum(axis=0)
            eliminations += int((near & ~paid[:, None]).any(axis=0).sum())
            assert contradictions[chosen[k + 1][i]] == contradictions.min()
    assert eliminations > 0
    monkeypatch.undo()
    envs.close()
    envs = GymTaskEnvs("peach_lite/PointMazeHidden-v0", seed=EVAL_SEED)
    again = learned_belief_meta_test(agent, envs, tasks, fitted=exact, num_episodes=4, floor=1e-12)
    assert np.array_equal(again["success"], result["success"])  # seeded
    envs.close()
    for field, kwargs in [("num_episodes", {"num_episodes": 0}), ("floor", {"floor": 0.5}), ("fitted", {"fitted": {"model": exact["model"]}})]:
        with pytest.raises(ValueError, match=field):
            learned_belief_meta_test(agent, envs, tasks, **({"fitted": exact} | kwargs))
    for field, kwargs in [("train_steps", {"train_steps": 0}), ("lr", {"lr": 0.0}), ("num_episodes", {"num_episodes": 1})]:
        with pytest.raises(ValueError, match=field):
            fit_paid_model(agent, envs, **kwargs)


@pytest.mark.parametrize("form", ["mlp", "distance"])
def test_the_reward_decoder_teaches_the_encoder_and_nothing_else(form):
    agent, envs, runner = _agent(reward_decoder_weight=1.0, reward_decoder_form=form)
    agent.collect_round(runner, 0)
    batch, context = _batch(agent)
    batch["reward"][:, 0] = 0.0  # at least one paid attempt per task
    agent.zero_grad(set_to_none=True)
    losses = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1, generator=torch.Generator().manual_seed(0),
                          reward_decoder=agent.reward_decoder)
    losses["decoder_loss"].backward()
    assert any(g.abs().sum() > 0 for g in _grads(agent.posterior))
    assert any(g.abs().sum() > 0 for g in _grads(agent.reward_decoder))
    for module in (agent.top, *agent.hierarchy.levels[:-1]):
        assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(module))
    envs.close()


def test_a_detached_decoder_teaches_only_itself():
    agent, envs, runner = _agent(reward_decoder_weight=1.0, reward_decoder_detach=True)
    agent.collect_round(runner, 0)
    batch, context = _batch(agent)
    batch["reward"][:, 0] = 0.0
    agent.zero_grad(set_to_none=True)
    losses = peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1, generator=torch.Generator().manual_seed(0),
                          reward_decoder=agent.reward_decoder, detach_decoder_z=agent.config.reward_decoder_detach)
    losses["decoder_loss"].backward()
    assert any(g.abs().sum() > 0 for g in _grads(agent.reward_decoder))
    for module in (agent.posterior, agent.top, *agent.hierarchy.levels[:-1]):  # exactly zero: φ is left to the critic and the KL
        assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(module))
    before = [p.clone() for p in agent.reward_decoder.parameters()]
    agent.learn(2)  # and the update trains the decoder
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.reward_decoder.parameters()))
    envs.close()


def test_without_the_decoder_its_loss_is_zero_and_its_weights_stay():
    agent, envs, runner = _agent()
    agent.collect_round(runner, 0)
    before = [p.clone() for p in agent.reward_decoder.parameters()]
    out = agent.learn(2)
    assert float(out["decoder_loss"]) == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, agent.reward_decoder.parameters()))
    with pytest.raises(ValueError, match="reward_decoder_weight"):
        PeachConfig(reward_decoder_weight=-1.0)
    with pytest.raises(ValueError, match="reward_decoder_form"):
        PeachConfig(reward_decoder_form="linear")
    envs.close()


def test_the_distance_decoder_is_its_closed_form():
    from peach_lite.nets import DistanceDecoder

    decoder = DistanceDecoder(latent_dim=3, goal_dim=2)
    with torch.no_grad():
        decoder.to_goal.weight.copy_(torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
        decoder.to_goal.bias.zero_()
        decoder.log_scale.fill_(float(np.log(4.0)))
        decoder.bias.fill_(1.0)
    z = torch.tensor([[0.5, -1.0, 7.0], [0.0, 0.0, 0.0]])
    achieved = torch.tensor([[1.0, -2.0], [0.5, 0.0]])  # W z = (1, -2), then (0, 0)
    logits = decoder(torch.cat([z, achieved], dim=-1))
    assert logits.shape == (2, 1)
    assert torch.allclose(logits[:, 0], torch.tensor([1.0, 1.0 - 4.0 * 0.25]))  # b - e^a ||W z - s'||^2
    with pytest.raises(ValueError, match="latent_dim"):
        DistanceDecoder(0, 2)


def test_the_decoder_reads_the_contexts_attempts_too(collected):
    agent, *_ = collected
    batch, context = _batch(agent)
    rows = agent.decoder_rows(batch, context)
    assert rows["reward"].shape == (3, batch["reward"].shape[1] + context.shape[1])
    assert torch.equal(rows["reward"][:, batch["reward"].shape[1]:], context[..., 6])  # [s(4), ã(2), r, s'(4)]
    assert torch.equal(rows["next_achieved"][:, batch["reward"].shape[1]:], context[..., 7:9])


def _training_attempts(agent, runner):
    """Collect one round and return the top-level transitions of its (exploring) training attempts."""
    attempts = []
    hook = agent.hierarchy.top_attempt_hook

    def spy(env_index, transition, penalty, proposed):
        if agent.hierarchy._explore:
            attempts.append((transition, proposed))
        hook(env_index, transition, penalty, proposed)

    agent.hierarchy.top_attempt_hook = spy
    agent.collect_round(runner, 0)
    return attempts


def test_attempt_counts_hold_every_training_attempts_end_cell():
    agent, envs, runner = _agent(novelty_bonus=0.5)
    ends = np.stack([transition.next_obs[:2] for transition, _ in _training_attempts(agent, runner)])
    expected = np.zeros((8, 8), np.int64)  # the maze's subgoal box is [-4, 4]^2: 1 x 1 cells
    np.add.at(expected, (np.clip(np.floor(ends[:, 0] + 4), 0, 7).astype(int), np.clip(np.floor(ends[:, 1] + 4), 0, 7).astype(int)), 1)
    assert np.array_equal(agent.attempt_counts.counts, expected) and expected.sum() == len(ends) > 0
    meta_test_success(agent, envs, envs.unwrapped.test_tasks()[:2])  # meta-testing counts nothing
    assert np.array_equal(agent.attempt_counts.counts, expected)


def test_the_count_bonus_is_its_closed_form_on_unpaid_attempts_only():
    agent, *_ = _agent(novelty_bonus=0.5)
    agent.attempt_counts.counts[:] = 0
    agent.attempt_counts.counts[6, 6] = 16  # the cell [2, 3) x [2, 3) (room 2)
    agent.attempt_counts.counts[1, 1] = 4
    batch = {"next_achieved": torch.tensor([[[2.5, 2.5], [-2.5, -2.5], [0.5, -3.5], [2.5, 2.5], [-2.5, -2.5]]]),
             "reward": torch.tensor([[-1.0, -1.0, -1.0, 0.0, -8.0]])}
    bonus = agent.novelty_bonus(batch)
    assert torch.allclose(bonus, torch.tensor([[0.5 / 4, 0.5 / 2, 0.5, 0.0, 0.0]]))  # N = 16, 4, 0 (as 1); paid; penalty
    assert float((batch["reward"] + bonus).max()) <= 0.0  # rewards stay in [-H, 0]: the bounded critic's range


def test_the_count_bonus_reaches_the_critics_reward_only(monkeypatch):
    seen = {}

    def spy(top, posterior, batch, context, **kwargs):
        seen["reward"], seen["context"] = batch["reward"].clone(), context.clone()
        return peach_losses(top, posterior, batch, context, **kwargs)

    monkeypatch.setattr("peach_lite.peach.peach_losses", spy)
    results = {}
    for bonus in (0.0, 0.5):
        agent, envs, runner = _agent(novelty_bonus=bonus)
        agent.collect_round(runner, 0)
        losses = agent.update()
        results[bonus] = (seen["reward"], seen["context"])
        assert losses
    reward_off, context_off = results[0.0]
    reward_on, context_on = results[0.5]
    unpaid = reward_off == -1.0
    assert torch.all(reward_on[unpaid] > -1.0) and torch.equal(reward_on[~unpaid], reward_off[~unpaid])
    assert torch.equal(context_on, context_off)  # the same draws; the context keeps the task's reward


def test_train_attempt_room_shares_map_cells_to_rooms():
    from peach_lite.peach_diagnostics import train_attempt_room_shares

    agent, *_ = _agent()
    assert all(np.array_equal(shares, np.zeros(4)) for shares in train_attempt_room_shares(agent).values())
    agent.attempt_counts.counts[1, 1], agent.attempt_counts.counts[6, 6], agent.attempt_counts.counts[6, 1], agent.attempt_counts.counts[1, 6] = 5, 3, 1, 1
    agent.subgoal_counts.counts[6, 6] = 2
    shares = train_attempt_room_shares(agent)
    assert np.allclose(shares["ends"], [0.5, 0.1, 0.3, 0.1])  # rooms: 0 south-west, 1 south-east, 2 north-east, 3 north-west
    assert np.allclose(shares["subgoals"], [0.0, 0.0, 1.0, 0.0])


def test_train_exploration_counts_cells_attempts_and_collection_success():
    from peach_lite.peach_diagnostics import train_exploration

    agent, *_ = _agent()
    assert train_exploration(agent) == {"subgoal_room_shares": [0.0] * 4, "attempt_room_shares": [0.0] * 4,
                                        "proposal_room_shares": [0.0] * 4, "proposal_missed_by_room": [0.0] * 4,
                                        "cells_reached": 0, "top_attempts": 0, "train_success_mean": 0.0}
    agent.attempt_counts.counts[1, 1], agent.attempt_counts.counts[6, 6] = 5, 3
    agent.train_success = [0.0, 0.5]
    centres = agent.subgoal_counts.centres()  # 4 proposals in cell (1, 1), 4 in cell (6, 6), one of those missed
    agent.proposal_log = [np.array([[0, 0, *centres[1, 1], 0]] * 4 + [[0, 0, *centres[6, 6], 0]] * 3 + [[0, 0, *centres[6, 6], 1]], np.float32)]
    explored = train_exploration(agent)
    assert explored["proposal_room_shares"] == [0.5, 0.0, 0.5, 0.0] and explored["proposal_missed_by_room"] == [0.0, 0.0, 0.25, 0.0]
    assert explored["cells_reached"] == 2 and explored["top_attempts"] == 8 and explored["train_success_mean"] == 0.25
    assert np.allclose(explored["attempt_room_shares"], [5 / 8, 0.0, 3 / 8, 0.0])


def test_subgoal_counts_hold_every_training_attempts_subgoal_cell():
    agent, envs, runner = _agent()
    subgoals = np.stack([transition.action[:2] for transition, _ in _training_attempts(agent, runner)])
    expected = np.zeros((8, 8), np.int64)
    np.add.at(expected, agent.subgoal_counts.cell_of(subgoals), 1)
    assert np.array_equal(agent.subgoal_counts.counts, expected) and expected.sum() == agent.attempt_counts.counts.sum() > 0


def test_proposal_counts_hold_every_proposal_and_missed_counts_those_the_level_below_missed():
    """The (a) row's subgoal is HAC's hindsight action (where the level below got, when it missed), so the top level's
    proposals are counted from the hook's ``proposed``, and a proposal is missed where its (a) row was relabelled."""
    from peach_lite.peach_diagnostics import proposal_grid

    agent, envs, runner = _agent()
    hook = agent.hierarchy.top_attempt_hook
    attempts = list(_training_attempts(agent, runner))  # an untrained bottom level misses its subgoals
    agent.hierarchy.top_attempt_hook, agent.hierarchy.thresholds[0] = hook, 10.0  # any subgoal counts as reached at once
    attempts += _training_attempts(agent, runner)
    proposals = np.stack([np.asarray(proposed)[:2] for _, proposed in attempts])
    missed = np.array([not np.array_equal(transition.action[:2], np.asarray(proposed, np.float32)[:2]) for transition, proposed in attempts])
    expected, expected_missed = np.zeros((8, 8), np.int64), np.zeros((8, 8), np.int64)
    proposal_counts, missed_counts = proposal_grid(agent), proposal_grid(agent, missed_only=True)
    np.add.at(expected, proposal_counts.cell_of(proposals), 1)
    np.add.at(expected_missed, proposal_counts.cell_of(proposals[missed]), 1)
    assert np.array_equal(proposal_counts.counts, expected) and expected.sum() == len(attempts) > 0
    assert np.array_equal(missed_counts.counts, expected_missed) and 0 < missed.sum() < len(attempts)  # both happen
    starts = np.stack([transition.obs[:2] for transition, _ in attempts])
    log, expected_log = np.concatenate(agent.proposal_log), np.column_stack([starts, proposals, missed]).astype(np.float32)
    assert np.array_equal(log[np.lexsort(log.T)], expected_log[np.lexsort(expected_log.T)])  # the same rows (env by env)


def test_bad_novelty_values_name_the_field():
    for field, value in [("novelty_bonus", 1.0), ("novelty_bonus", -0.1), ("novelty_cells", 0)]:
        with pytest.raises(ValueError, match=field):
            PeachConfig(**{field: value})


def test_cell_counts_grid_edges_bonus_and_centres():
    from peach_lite.exploration import CellCounts

    grid = CellCounts([-4.0, -4.0], [4.0, 4.0], 8)
    assert [tuple(map(int, ix)) for ix in zip(*grid.cell_of(np.array([[-4.0, -4.0], [3.99, 0.0], [4.0, 9.0], [-7.0, 0.5]])))] == \
        [(0, 0), (7, 4), (7, 7), (0, 4)]  # the box's far edge and points outside count to the edge cells
    grid.add(np.array([[0.5, 0.5], [0.7, 0.2], [0.5, 0.5], [-3.5, 3.5]]))
    assert grid.counts.sum() == 4 and grid.counts[4, 4] == 3 and grid.counts[0, 7] == 1
    assert np.allclose(grid.bonus(np.array([[0.5, 0.5], [2.5, 2.5]]), 0.6), [0.6 / np.sqrt(3), 0.6])
    assert np.allclose(grid.centres()[4, 4], [0.5, 0.5]) and np.allclose(grid.centres()[0, 7], [-3.5, 3.5])
    for kwargs, field in [({"cells": 0}, "cells"), ({"low": [1.0, 1.0], "high": [0.0, 2.0]}, "high")]:
        with pytest.raises(ValueError, match=field):
            CellCounts(**{"low": [0.0, 0.0], "high": [1.0, 1.0], "cells": 4, **kwargs})
    for call, field in [(lambda: grid.add(np.array([1.0])), "positions"), (lambda: grid.bonus(np.zeros((3, 2)), -0.1), "scale"),
                        (lambda: grid.frontier_goal([0.0, 0.0], -1.0, np.random.default_rng(0)), "radius")]:
        with pytest.raises(ValueError, match=field):
            call()


def test_frontier_goal_is_the_least_visited_reached_cell_nearby():
    from peach_lite.exploration import CellCounts

    grid = CellCounts([-4.0, -4.0], [4.0, 4.0], 8)
    rng = np.random.default_rng(0)
    assert np.all(np.abs(grid.frontier_goal([0.0, 0.0], 2.0, rng)) <= 4.0)  # nothing reached yet: uniform in the box
    grid.counts[4, 4], grid.counts[5, 4], grid.counts[7, 7] = 9, 2, 1  # cells [0,1)x[0,1), [1,2)x[0,1), [3,4)x[3,4)
    assert np.allclose(grid.frontier_goal([0.5, 0.5], 1.5, rng), [1.5, 0.5])  # the far corner (N = 1) is out of reach
    assert np.allclose(grid.frontier_goal([0.5, 0.5], 5.0, rng), [3.5, 3.5])  # within reach, it is the least visited
    grid.counts[3, 4] = 2  # a tie: both cells come up
    picks = {tuple(grid.frontier_goal([0.5, 0.5], 1.5, rng)) for _ in range(50)}
    assert picks == {(1.5, 0.5), (-0.5, 0.5)}


def test_frontier_subgoals_replace_the_top_levels_random_ones_only_when_asked():
    agent, *_ = _agent()
    assert agent.hierarchy.top_explore_subgoal is None  # default: HAC's uniform subgoals, as before
    agent, *_ = _agent(frontier_radius=1.5, top_random_action_rate=1.0)
    agent.attempt_counts.counts[1, 1] = 3  # reached: the cell [-3, -2)^2
    obs, z = np.array([-2.5, -2.5, 0.0, 0.0], np.float32), np.zeros(agent.config.latent_dim, np.float32)
    top = agent.hierarchy.num_levels - 1
    for _ in range(5):
        assert np.allclose(agent.hierarchy.level_action(top, obs, np.zeros(2), explore=True, cond=z), [-2.5, -2.5])
    calls = []
    frontier = agent.hierarchy.top_explore_subgoal
    agent.hierarchy.top_explore_subgoal = lambda o: calls.append(1) or frontier(o)
    agent.hierarchy.level_action(top, obs, np.zeros(2), explore=False, cond=z)
    assert not calls  # greedy proposals (meta-testing) are the actor's
    with pytest.raises(ValueError, match="frontier_radius"):
        PeachConfig(frontier_radius=-1.0)


def test_first_return_then_explore_follows_recorded_moves_to_a_rarely_visited_cell():
    from peach_lite.exploration import CellCounts, FirstReturnThenExplore

    grid = CellCounts([-4.0, -4.0], [4.0, 4.0], 8)
    explorer = FirstReturnThenExplore(grid, 1.0, np.random.default_rng(0))
    a, b, c, far = [0.5, 0.5], [1.5, 0.5], [2.5, 0.5], [2.5, 2.5]  # cells (4,4) -> (5,4) -> (6,4); (6,6) never reached
    explorer.add_moves(np.array([a, b, a]), np.array([b, c, a]))
    assert explorer.route(int(explorer.cell(a)), int(explorer.cell(c))) == [36, 44, 52]  # flat x * 8 + y
    assert explorer.route(int(explorer.cell(c)), int(explorer.cell(a))) is None  # moves are directed
    assert explorer.route(36, int(explorer.cell(far))) is None
    grid.add(np.array([a] * 9 + [b] * 4 + [c]))
    targets = [explorer._draw_target(36) for _ in range(2000)]
    share = np.bincount(targets, minlength=64)[[44, 52]] / len(targets)
    assert np.allclose(share, np.array([1 / 2, 1.0]) / 1.5, atol=0.03)  # ∝ 1/√N among reachable visited cells, not here
    explorer.begin(1, active=True)
    explorer.plans[0]["target"], explorer.plans[0]["tries"] = 52, 4  # return to c: waypoints are cell centres on the path
    assert np.allclose(explorer.subgoal(0, a), b) and np.allclose(explorer.subgoal(0, b), c)
    at_target = explorer.subgoal(0, c)  # arrived: explore with uniform subgoals from now on
    assert explorer.plans[0]["exploring"] and np.all(np.abs(at_target) <= 4.0)
    explorer.begin(1, active=True)
    explorer.plans[0]["target"], explorer.plans[0]["tries"] = 52, 1  # a waypoint missed too often: explore
    explorer.subgoal(0, a)
    explorer.subgoal(0, a)
    assert explorer.plans[0]["exploring"]


def test_first_return_then_explore_leaves_other_episodes_and_the_rng_alone():
    from peach_lite.exploration import CellCounts, FirstReturnThenExplore

    rng = np.random.default_rng(3)
    explorer = FirstReturnThenExplore(CellCounts([-4.0, -4.0], [4.0, 4.0], 8), 0.0, rng)
    state = rng.bit_generator.state
    explorer.begin(5, active=True)
    assert explorer.plans == [None] * 5 and explorer.subgoal(2, [0.0, 0.0]) is None and rng.bit_generator.state == state
    explorer = FirstReturnThenExplore(explorer.counts, 1.0, rng)
    explorer.begin(4, active=False)  # meta-test and test-task episodes are never planned
    assert explorer.plans == [None] * 4
    explorer.begin(400, active=True)
    assert all(plan is not None for plan in explorer.plans)
    with pytest.raises(ValueError, match="rate"):
        FirstReturnThenExplore(explorer.counts, 1.5, rng)
    for call, field in [(lambda: explorer.route(0, 64), "target"), (lambda: explorer.route(-1, 3), "start"),
                        (lambda: explorer.subgoal(400, [0.0, 0.0]), "env_index"),
                        (lambda: explorer.add_moves(np.zeros((2, 2)), np.zeros((3, 2))), "starts and ends")]:
        with pytest.raises(ValueError, match=field):
            call()
    with pytest.raises(ValueError, match="return_explore_rate"):
        PeachConfig(return_explore_rate=-0.1)


def test_return_then_explore_collections_replace_the_top_levels_subgoals_and_record_moves():
    agent, envs, runner = _agent(return_explore_rate=1.0)
    calls = []
    plan = agent.hierarchy.top_plan
    agent.hierarchy.top_plan = lambda e, obs: calls.append(e) or plan(e, obs)
    agent.collect_round(runner, 0)
    assert calls and agent.explorer.moves.any()  # every collection episode asked the plan; attempts left their moves
    starts = [t.obs[:2] for attempts in agent.attempts for t, _, _ in attempts]
    assert all(agent.explorer.moves[int(agent.explorer.cell(s))].any() for s in starts)  # the last episode's starts
    calls.clear()
    meta_test_success(agent, envs, envs.unwrapped.test_tasks()[:2])
    assert all(plan is None for plan in agent.explorer.plans)  # meta-test episodes follow the top level
    baseline, _, baseline_runner = _agent()  # Algorithm 1 as written: the plan is asked and always declines
    answers = []
    baseline_plan = baseline.hierarchy.top_plan
    baseline.hierarchy.top_plan = lambda e, obs: answers.append(baseline_plan(e, obs)) or answers[-1]
    baseline.collect_round(baseline_runner, 0)
    assert answers and all(answer is None for answer in answers)


def test_every_cli_preset_names_valid_peach_config_fields():
    """Each ``python -m peach_lite train peach --preset ...`` builds a valid PeachConfig (the route constants included);
    ``maze-eliminating`` is peach_maze's PEACH route."""
    from dataclasses import fields

    from peach_lite.peach import CLI
    from peach_lite.peach_config import ELIMINATING_ROUTE

    names = {f.name for f in fields(PeachConfig)}
    for preset in CLI.presets.values():
        overrides = {k: v for k, v in preset.items() if k not in ("env_id", "rounds", "eval_every")}
        assert set(overrides) <= names
        PeachConfig(**overrides)
    assert {k: CLI.presets["maze-eliminating"][k] for k in ELIMINATING_ROUTE} == ELIMINATING_ROUTE


def test_a_sac_top_level_keeps_algorithm_1s_routing_its_bounds_and_its_seed():
    from peach_lite.goal_levels import SoftGoalLevel

    runs = []
    for _ in range(2):
        agent, _, runner = _agent(top_learner="sac", seed=7)
        agent.collect_round(runner, 0)
        target = [p.clone() for p in agent.top.critic_target.parameters()]
        runs.append(agent.update())
        assert not all(torch.equal(a, b) for a, b in zip(target, agent.top.critic_target.parameters()))  # Polyak step
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])  # the same seed, bit for bit
    assert isinstance(agent.top, SoftGoalLevel) and agent.top.cond_dim == agent.config.latent_dim
    batch, context = _batch(agent)
    _check_algorithm_1_routing(agent, batch, context)
    with torch.no_grad():
        q = agent.top.critic(batch["obs"], batch["action"], torch.cat([batch["goal"], torch.randn(*batch["goal"].shape[:2], 5)], -1))
    assert q.shape[0] == 2 and float(q.max()) <= 0.0 and float(q.min()) >= -agent.config.subgoal_horizon  # twin bounded critics
    agent.zero_grad(set_to_none=True)
    peach_losses(agent.top, agent.posterior, batch, context, kl_lambda=0.1)["actor_loss"].backward()
    assert all(torch.equal(g, torch.zeros_like(g)) for g in _grads(agent.top.critic))
    assert agent.top.log_alpha.grad is not None  # the temperature learns from the actor's samples
    with pytest.raises(ValueError, match="top_learner"):
        PeachConfig(top_learner="ddpg")


def test_a_sac_top_level_survives_a_checkpoint_round_trip(tmp_path):
    agent, _ = train_peach(seed=0, progress=False, rounds=2, eval_every=2, meta_test_episodes=2, top_learner="sac", **SMALL)
    loaded, _ = load_agent(save_agent(agent, tmp_path / "peach_sac.pt"), algorithm="peach")
    assert loaded.config.top_learner == "sac"
    for a, b in zip(agent.top.state_dict().values(), loaded.top.state_dict().values()):
        assert torch.equal(a, b)  # actor, twin critics, target critics and log α
    _assert_same_meta_test(agent, loaded)


def test_a_sac_top_level_samples_in_meta_test_episodes_only_when_asked():
    obs, goal, z = np.zeros(4, np.float32), np.zeros(2, np.float32), np.zeros(5, np.float32)
    for flag in (False, True):
        agent, _, _ = _agent(top_learner="sac", top_samples_in_meta_test=flag)
        top = agent.num_levels - 1
        greedy = [agent.hierarchy.level_action(top, obs, goal, explore=False, cond=z) for _ in range(2)]
        assert np.array_equal(greedy[0], greedy[1]) != flag  # sampled: two draws differ
        bottom = [agent.hierarchy.level_action(0, obs, goal, explore=False) for _ in range(2)]
        assert np.array_equal(bottom[0], bottom[1])  # the lower levels stay greedy
    with pytest.raises(ValueError, match="top_samples_in_meta_test"):
        PeachConfig(top_samples_in_meta_test=True)


def test_a_sac_top_levels_target_entropy_is_set_by_the_config_and_checked():
    assert _agent(top_learner="sac")[0].top.target_entropy == -2.0  # SB3's "auto": -action_dim
    assert _agent(top_learner="sac", top_target_entropy=0.5)[0].top.target_entropy == 0.5
    for overrides in ({"top_target_entropy": 0.0}, {"top_learner": "sac", "top_target_entropy": 1e6}):
        with pytest.raises(ValueError, match="top_target_entropy"):
            PeachConfig(**overrides)
