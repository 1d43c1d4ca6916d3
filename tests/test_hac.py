"""HAC (peach_lite.hac, goal_levels): the transition-building invariants of algorithms.md §5 items 6-7 on a
tiny numpy goal env, the bounded critic, the gradient routes PEACH relies on, and HAC on the shared loop."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from peach_lite.goal_levels import (GoalLevel, bounded_critic, bounded_q, critic_targets, hindsight_action_transition, numpy_actor, q_offset_for,
                                    replay_saturation, reset_if_saturated, subgoal_test_transition)
from peach_lite.hac import HAC, MAZE_ID, PENDULUM_ID, HacConfig, HacSpec, evaluate_success, maze_config, run_training
from peach_lite.her import goal_reward
from peach_lite.loop import GymTaskEnvs, TaskBatch, run_episodes


class ToyGoalEnv(gym.Env):
    """A 2-D point, s' = clip(s + 0.25 a, -2, 2), with the gymnasium-robotics goal observation."""

    goal_threshold = 0.3

    def __init__(self):
        box = gym.spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._goal = np.array([1.5, 1.5], np.float32)
        self._pos = np.zeros(2, np.float32)

    def train_tasks(self):
        return [np.array(g, np.float32) for g in [(1.5, 1.5), (-1.5, 1.0), (1.0, -1.5), (0.5, 0.0)]]

    def test_tasks(self):
        return [np.array(g, np.float32) for g in [(1.2, -1.2), (-1.0, -1.0)]]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options and "task" in options:
            self._goal = np.asarray(options["task"], np.float32)
        self._pos = self.np_random.uniform(-0.2, 0.2, size=2).astype(np.float32)
        return self._obs(), {}

    def step(self, action):
        self._pos = np.clip(self._pos + 0.25 * np.clip(action, -1, 1), -2, 2).astype(np.float32)
        success = bool(np.linalg.norm(self._pos - self._goal) <= self.goal_threshold)
        return self._obs(), 0.0 if success else -1.0, success, False, {"is_success": success}

    def _obs(self):
        return {"observation": self._pos.copy(), "achieved_goal": self._pos.copy(), "desired_goal": self._goal.copy()}


def _policy_actions(agent, attempts):
    """The deterministic policy's action for every recorded attempt, computed with the torch networks."""
    out = []
    with torch.no_grad():
        for a in attempts:
            out.append(agent.levels[a.level].actions(torch.as_tensor(a.obs)[None], torch.as_tensor(a.goal)[None])[0].numpy())
    return out


def _agent(num_levels: int, seed: int = 0, **overrides) -> tuple[HAC, ToyGoalEnv]:
    env = ToyGoalEnv()
    options = dict(num_levels=num_levels, subgoal_horizon={1: 5, 2: 5, 3: 3}[num_levels], max_actions=25,
                   batch_size=32, updates_per_episode=5, seed=seed, subgoal_noise=0.2)
    options.update(overrides)
    return HAC.from_env(env, HacConfig(**options)), env


def _trained_traces(num_levels: int, episodes: int = 12, seed: int = 0, **overrides):
    """Run a few recorded exploring episodes through loop.run_episodes (learning after each); return (agent, traces).

    Each trace gets ``policy``: the deterministic action of each attempt, computed before the update
    that followed the episode (so with the weights the episode was played with).
    """
    agent, env = _agent(num_levels, seed, **overrides)
    envs = GymTaskEnvs.wrap(env)
    agent.record = True
    traces = []
    for episode in range(episodes):
        run_episodes(agent, envs, TaskBatch.from_list(env.train_tasks(), [episode % 4]), explore=True, seed=episode)
        trace = agent.traces[0]
        trace.policy = _policy_actions(agent, trace.attempts)
        traces.append(trace)
        agent.learn(agent.config.updates_per_episode)
    return agent, traces


@pytest.fixture(scope="module", params=[2, 3])
def run(request):
    return _trained_traces(request.param, seed=1)


# ------------------------------------------------------------------------------ (b) hindsight goals
def test_each_attempt_sequence_gets_min3n_relabelled_copies_including_the_final_state(run):
    agent, traces = run
    sequences = [s for trace in traces for s in trace.sequences]
    assert {s.level for s in sequences} == set(range(agent.num_levels))
    assert any(s.num_attempts >= 3 for s in sequences)
    for s in sequences:
        n = s.num_attempts
        assert s.action_replay.num_rows == n
        assert s.goal_replay.num_rows == min(3, n) * n
        copies = [s.goal_replay.goal[j * n] for j in range(min(3, n))]
        finals = [j for j, g in enumerate(copies) if np.array_equal(g, s.final_achieved)]
        assert finals, "the final achieved state must be one of the hindsight goals"
        last = finals[-1] * n + n - 1
        assert s.goal_replay.reward[last] == 0.0 and s.goal_replay.done[last] == 1.0


def test_rewards_are_minus_one_or_zero_and_terminal_iff_zero(run):
    agent, traces = run
    for s in (s for trace in traces for s in trace.sequences):
        for part in (s.action_replay, s.goal_replay):
            assert set(np.unique(part.reward)) <= {-1.0, 0.0}
            np.testing.assert_array_equal(part.done == 1.0, part.reward == 0.0)
        # (a) keeps the original goal, and its reward is the goal test of that goal
        expected, _ = goal_reward(s.action_replay.next_obs, s.action_replay.goal, agent.thresholds[s.level], agent.norm)
        np.testing.assert_array_equal(s.action_replay.reward, expected)


def test_the_replay_holds_exactly_the_recorded_transitions_keyed_by_level():
    agent, traces = _trained_traces(2, episodes=4)
    for level in range(2):
        rows = sum(s.action_replay.num_rows + s.goal_replay.num_rows + (s.penalties.num_rows if s.penalties is not None else 0)
                   for trace in traces for s in trace.sequences if s.level == level)
        assert agent.buffer.size(level) == rows


# ----------------------------------------------------------------------------- (a) hindsight actions
def test_hindsight_action_is_the_achieved_state_exactly_when_the_lower_level_missed(run):
    agent, traces = run
    attempts = [a for trace in traces for a in trace.attempts if a.level > 0]
    missed = [a for a in attempts if not a.lower_reached]
    hit = [a for a in attempts if a.lower_reached]
    assert missed and hit, "the run must contain both outcomes for this test to mean something"
    for a in missed:
        np.testing.assert_array_equal(a.hindsight_action, a.next_achieved)
        assert not np.array_equal(a.action, a.next_achieved)
    for a in hit:
        np.testing.assert_array_equal(a.hindsight_action, a.action)
    # level 0 stores its raw action
    assert all(np.array_equal(a.hindsight_action, a.action) for trace in traces for a in trace.attempts if a.level == 0)


# ------------------------------------------------------------------------------ (c) subgoal testing
def test_a_penalty_appears_iff_the_subgoal_was_tested_and_missed(run):
    agent, traces = run
    attempts = [a for trace in traces for a in trace.attempts if a.level > 0]
    assert any(a.penalized for a in attempts) and any(a.tested and not a.penalized for a in attempts)
    for a in attempts:
        assert a.penalized == (a.tested and a.lower_missed)
        if a.lower_missed:
            assert not a.lower_reached
    for s in (s for trace in traces for s in trace.sequences if s.penalties is not None):
        np.testing.assert_array_equal(s.penalties.reward, -float(agent.horizons[s.level]))
        np.testing.assert_array_equal(s.penalties.done, 1.0)
    # the penalty stores the *proposed* subgoal, not the hindsight action (compared level by level, in order)
    for level in range(1, agent.num_levels):
        penalized = [a.action for a in attempts if a.penalized and a.level == level]
        stored = [s.penalties.action for trace in traces for s in trace.sequences if s.level == level and s.penalties is not None]
        if penalized:
            np.testing.assert_array_equal(np.concatenate(stored), np.stack(penalized))


def test_levels_below_a_tested_subgoal_act_greedily_without_noise(run):
    agent, traces = run
    checked = 0
    for trace in traces:
        for tester in (a for a in trace.attempts if a.level > 0 and a.tested):
            window = range(tester.first_step, tester.first_step + tester.num_steps)
            below = [j for j, a in enumerate(trace.attempts) if a.level < tester.level and a.first_step in window]
            assert below and all(trace.attempts[j].greedy for j in below)
            for j in below:  # greedy means the deterministic policy, exactly (no noise, no random action)
                np.testing.assert_allclose(trace.attempts[j].action, trace.policy[j], atol=1e-5)
                checked += 1
    assert checked > 0
    # while exploring, actions differ from the policy (noise or a random action)
    explored = [(a, trace.policy[j]) for trace in traces for j, a in enumerate(trace.attempts) if not a.greedy]
    assert explored and all(not np.allclose(a.action, policy, atol=1e-5) for a, policy in explored)


def test_the_top_level_ends_the_episode_after_its_h_attempts():
    agent, env = _agent(2, subgoal_horizon=3)  # 3 x 3 = 9 steps at most, the env itself never stops
    episodes = run_episodes(agent, GymTaskEnvs.wrap(env), TaskBatch.from_list(env.train_tasks(), [0]), explore=True, seed=0)
    assert 1 <= episodes.lengths[0] <= 9 and agent.episode_over().all()


def test_greedy_episodes_store_nothing_and_the_top_level_keeps_going():
    agent, _ = _trained_traces(2, episodes=3)
    before = [agent.buffer.size(i) for i in range(2)]
    env = ToyGoalEnv()
    agent.record = True
    episodes = run_episodes(agent, GymTaskEnvs.wrap(env), TaskBatch.from_list(env.test_tasks(), [0], split="test"), explore=False, seed=1)
    trace = agent.traces[0]
    assert [agent.buffer.size(i) for i in range(2)] == before
    assert all(a.greedy for a in trace.attempts) and not trace.sequences
    assert episodes.lengths[0] == 25 or trace.success  # the top level keeps proposing until max_actions


def test_lockstep_envs_run_independent_hierarchies():
    agent, _ = _trained_traces(2, episodes=3)
    goals = ToyGoalEnv().train_tasks()
    one = [evaluate_success(agent, GymTaskEnvs(ToyGoalEnv, 1), [g], seed=5 + i) for i, g in enumerate(goals)]
    agent.record = True
    envs = GymTaskEnvs(ToyGoalEnv, len(goals))
    episodes = run_episodes(agent, envs, TaskBatch.from_list(goals, split="test"), explore=False, seed=5)
    assert episodes.success.tolist() == [bool(s) for s in one]  # greedy: the same as one env at a time
    assert [t.success for t in agent.traces] == episodes.success.tolist()
    assert [len(t.actions) for t in agent.traces] == episodes.lengths.tolist()
    agent.record = False
    assert evaluate_success(agent, ToyGoalEnv(), goals, seed=5) == np.mean(one)  # one gym env: goal after goal


def test_transition_helpers():
    t = hindsight_action_transition(np.zeros(2), [1.0, 1.0], np.ones(2), [0.5, 0.5], [0.6, 0.5], lower_reached=False,
                                    threshold=0.2)
    np.testing.assert_array_equal(t.action, [0.5, 0.5])
    assert t.reward == 0.0 and t.done == 1.0
    t = hindsight_action_transition(np.zeros(2), [1.0, 1.0], np.ones(2), [0.9, 1.0], [3.0, 3.0], lower_reached=True,
                                    threshold=0.2)
    np.testing.assert_array_equal(t.action, [1.0, 1.0])
    assert t.reward == -1.0 and t.done == 0.0
    for tested in (False, True):
        for missed in (False, True):
            p = subgoal_test_transition(np.zeros(2), [1.0, 2.0], np.ones(2), [3.0, 3.0], tested=tested, lower_missed=missed,
                                        subgoal_horizon=6)
            assert (p is not None) == (tested and missed)
    assert p.reward == -6.0 and p.done == 1.0 and np.array_equal(p.action, [1.0, 2.0])


# ----------------------------------------------------------------------------------- bounded critic
def test_critic_is_bounded_and_starts_near_minus_0067():
    for horizon in (10, 200):
        level = GoalLevel(4, 2, [-1, -1], [1, 1], horizon)
        obs, goal, action = torch.randn(500, 4), torch.randn(500, 2), torch.randn(500, 2)
        q = level.q_values(obs, goal, action)
        assert q.shape == (500,)
        assert torch.allclose(q, torch.full_like(q, -0.067), atol=0.004)
        huge = level.q_values(obs * 1e4, goal * 1e4, action * 1e4)
        assert (huge <= 0).all() and (huge >= -horizon).all()
    critic = bounded_critic(4, 2, 2, horizon=15, cond_dim=3)
    assert critic(torch.randn(7, 4), torch.randn(7, 2), torch.randn(7, 5)).shape == (1, 7)
    assert bounded_q(torch.tensor(0.0), 10.0, q_offset_for(10.0)).item() == pytest.approx(-0.067, abs=1e-6)
    assert bounded_q(torch.tensor(1e6), 10.0, 0.0).item() == pytest.approx(-10.0)
    assert bounded_q(torch.tensor(-1e6), 10.0, 0.0).item() == pytest.approx(0.0)


def test_critic_targets_are_clipped_and_a_penalty_target_is_exactly_minus_h():
    reward = torch.tensor([-1.0, 0.0, -10.0, -1.0])
    done = torch.tensor([0.0, 1.0, 1.0, 0.0])
    next_q = torch.tensor([-9.9, -3.0, -5.0, 5.0])  # the last one is out of range on purpose
    target = critic_targets(reward, done, next_q, 0.98, 10.0)
    assert target.tolist() == pytest.approx([-10.0, 0.0, -10.0, 0.0])
    per_level = critic_targets(torch.full((2, 3), -1.0), torch.zeros(2, 3), torch.full((2, 3), -50.0), 0.98,
                               torch.tensor([[10.0], [200.0]]))
    assert (per_level[0] == -10).all() and torch.allclose(per_level[1], torch.tensor(-50.0))


def test_learning_keeps_q_values_inside_their_bounds():
    agent, _ = _trained_traces(3, episodes=10, updates_per_episode=10)
    batch = agent.buffer.sample(64)
    with torch.no_grad():
        for level in range(3):
            rows = agent.level_batch(batch, level)
            q = agent.levels[level].q_values(rows["obs"], rows["goal"], rows["action"])
            assert (q <= 0).all() and (q >= -agent.horizons[level]).all()
    assert agent.horizons == [3, 3, 3]


def test_critic_loss_sends_gradient_into_cond_and_an_encoder_and_nowhere_else():
    torch.manual_seed(0)
    level = GoalLevel(4, 2, [-1, -1], [1, 1], 10, hidden=(16, 16), cond_dim=3)
    encoder = torch.nn.Linear(5, 3)  # a caller's encoder producing the task variable z
    batch = {"obs": torch.randn(8, 4), "action": torch.rand(8, 2) * 2 - 1, "reward": -torch.ones(8),
             "next_obs": torch.randn(8, 4), "goal": torch.randn(8, 2), "done": torch.zeros(8)}
    z = encoder(torch.randn(8, 5))
    critic_loss, _ = level.critic_loss(batch, z)
    critic_loss.backward()
    assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in level.critic.parameters())
    assert all(p.grad is None for p in level.actor.parameters()), "the critic loss must not train the actor"
    encoder.zero_grad(set_to_none=True)
    level.zero_grad(set_to_none=True)
    actor_loss = level.actor_loss(batch, z.detach())
    actor_loss.backward()
    assert encoder.weight.grad is None, "the actor's loss must not reach the encoder through a detached z"
    assert all(p.grad is None for p in level.critic.parameters()), "the actor loss must not train the critic"
    assert all(p.grad is not None for p in level.actor.parameters())
    with pytest.raises(ValueError, match="cond"):
        level.critic_loss(batch)


def _level_batch(n: int = 64) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {"obs": torch.randn(n, 4), "action": torch.rand(n, 2) * 2 - 1, "reward": -torch.ones(n),
            "next_obs": torch.randn(n, 4), "goal": torch.randn(n, 2), "done": torch.zeros(n)}


def test_the_action_penalty_is_hers_closed_form_and_trains_only_the_actor():
    torch.manual_seed(0)
    plain = GoalLevel(4, 2, [-2, 0], [2, 1], 10, hidden=(16, 16))
    penalised = GoalLevel(4, 2, [-2, 0], [2, 1], 10, hidden=(16, 16), action_l2=0.5)
    penalised.load_state_dict(plain.state_dict())
    batch = _level_batch()
    with torch.no_grad():
        a = plain.actions(batch["obs"], batch["goal"])
        q = plain.q_values(batch["obs"], batch["goal"], a)
        unit = (a - torch.tensor([0.0, 0.5])) / torch.tensor([2.0, 0.5])  # the box [-2, 2] x [0, 1] mapped to [-1, 1]
    assert torch.equal(plain.actor_loss(batch), -q.mean())
    torch.testing.assert_close(penalised.actor_loss(batch), -q.mean() + 0.5 * unit.pow(2).mean())
    penalised.actor_loss(batch).backward()
    assert all(p.grad is None for p in penalised.critic.parameters()), "the penalty must not reach the critic"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in penalised.actor.parameters())
    with pytest.raises(ValueError, match="action_l2"):
        GoalLevel(4, 2, [-1, -1], [1, 1], 10, action_l2=-0.1)
    pre = GoalLevel(4, 2, [-2, 0], [2, 1], 10, hidden=(16, 16), pre_tanh_l2=1e-3)
    pre.load_state_dict(plain.state_dict())
    with torch.no_grad():
        f = plain.pre_tanh(batch["obs"], batch["goal"])
    torch.testing.assert_close(torch.tanh(f) * torch.tensor([2.0, 0.5]) + torch.tensor([0.0, 0.5]), a)
    torch.testing.assert_close(pre.actor_loss(batch), -q.mean() + 1e-3 * f.pow(2).mean())
    pre.actor_loss(batch).backward()
    assert all(p.grad is None for p in pre.critic.parameters())
    with pytest.raises(ValueError, match="pre_tanh_l2"):
        GoalLevel(4, 2, [-1, -1], [1, 1], 10, pre_tanh_l2=-1.0)


def test_saturation_counts_the_pre_tanh_outputs_beyond_the_threshold():
    torch.manual_seed(0)
    level = GoalLevel(4, 2, [-1, -1], [1, 1], 10, hidden=(16, 16))
    batch = _level_batch(256)
    assert level.saturation(batch["obs"], batch["goal"]) == 0.0  # the last layer starts at U(±3e-3)
    last = [m for m in level.actor.net if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.copy_(torch.tensor([5.0, 0.0]))  # the first dimension pinned at its box's edge
    assert level.saturation(batch["obs"], batch["goal"]) == pytest.approx(0.5, abs=0.01)
    assert level.saturation(batch["obs"], batch["goal"], threshold=6.0) < 0.5
    with pytest.raises(ValueError, match="threshold"):
        level.saturation(batch["obs"], batch["goal"], threshold=0.0)


def test_reinitialising_an_actor_unsaturates_it_reproducibly_and_touches_nothing_else():
    torch.manual_seed(0)
    level = GoalLevel(4, 2, [-1, -1], [1, 1], 10, hidden=(16, 16))
    batch = _level_batch(256)
    level.update(batch)
    with torch.no_grad():
        [m for m in level.actor.net if isinstance(m, torch.nn.Linear)][-1].bias.fill_(6.0)
    assert level.saturation(batch["obs"], batch["goal"]) == 1.0 and level.actor_optimizer.state
    critic = {k: v.clone() for k, v in level.critic.state_dict().items()}
    rng = torch.get_rng_state()
    level.reinitialise_actor(seed=7)
    assert level.saturation(batch["obs"], batch["goal"]) == 0.0 and not level.actor_optimizer.state
    assert all(torch.equal(v, level.critic.state_dict()[k]) for k, v in critic.items())
    assert torch.equal(torch.get_rng_state(), rng), "the global RNG is left as it was"
    first = [p.clone() for p in level.actor.parameters()]
    level.reinitialise_actor(seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first, level.actor.parameters()))
    with pytest.raises(ValueError, match="seed"):
        level.reinitialise_actor(seed=-1)


def test_the_hierarchy_penalises_only_its_bottom_actor_and_reads_its_saturation_without_side_effects():
    agent, _ = _trained_traces(2, episodes=4, action_l2=0.2)
    assert [level.action_l2 for level in agent.levels] == [0.2, 0.0], "subgoals are not pulled to the box's centre"
    state = agent.generator.get_state()
    first = replay_saturation(agent, 0, num_rows=128)
    assert 0.0 <= first <= 1.0 and replay_saturation(agent, 0, num_rows=128) == first
    assert torch.equal(agent.generator.get_state(), state), "reading the saturation must not move training's generator"
    assert replay_saturation(_agent(2)[0], 0) == 0.0  # an empty replay
    assert not reset_if_saturated(agent, 0, 0.95, seed=0) or first >= 0.95
    assert torch.equal(agent.generator.get_state(), state)
    with pytest.raises(ValueError, match="level"):
        replay_saturation(agent, 2)
    with pytest.raises(ValueError, match="threshold"):
        reset_if_saturated(agent, 0, 0.0, seed=0)
    with pytest.raises(ValueError, match="action_l2"):
        HacConfig(action_l2=-1.0)


def test_flat_agent_uses_max_actions_as_its_horizon_and_her_can_be_switched_off():
    agent, traces = _trained_traces(1, episodes=3, num_hindsight_goals=0)
    assert agent.horizons == [25]
    assert all(s.goal_replay is None for trace in traces for s in trace.sequences)
    assert not any(a.tested for trace in traces for a in trace.attempts)


def test_same_seed_same_run():
    a, ta = _trained_traces(2, episodes=4, seed=3)
    b, tb = _trained_traces(2, episodes=4, seed=3)
    np.testing.assert_array_equal(np.stack(ta[-1].actions), np.stack(tb[-1].actions))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


# -------------------------------------------------------------------------------- config, maze, I/O
def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="num_levels"):
        HacConfig(num_levels=4)
    with pytest.raises(ValueError, match="subgoal_test_rate"):
        HacConfig(subgoal_test_rate=1.5)
    with pytest.raises(ValueError, match="goal_norm"):
        HacConfig(goal_norm="l1")
    with pytest.raises(ValueError, match="subgoal_bounds"):
        HacConfig(subgoal_bounds=((0.0, 0.0), (1.0, -1.0)))
    with pytest.raises(ValueError, match="batch_size"):
        HacConfig(batch_size=True)
    config = maze_config(3, seed=4)
    assert config.subgoal_horizon ** 3 >= 200 and HacConfig.from_dict(config.to_dict()) == config
    assert math.isclose(q_offset_for(10.0), -math.log(10 / 0.067 - 1))


def test_maze_trains_on_the_shared_loop_and_checkpoints_roundtrip(tmp_path):
    from peach_lite.checkpoints import CheckpointError, evaluate_checkpoint, load_agent, save_agent
    from peach_lite.envs import make

    env = make(MAZE_ID)
    agent = HAC.from_env(env, maze_config(2, batch_size=8, updates_per_episode=2, max_actions=40))
    goals = env.unwrapped.test_tasks()[:2]
    history = run_training(agent, MAZE_ID, 80, eval_every=1, progress=False, eval_tasks=goals)
    assert history.eval_metric == "success" and history.episodes >= 2 and history.num_updates > 0
    assert len(history.extra["train_success"]) == history.episodes and all(0 <= v <= 1 for v in history.eval_values)
    assert isinstance(HacSpec.from_dict(agent.spec.to_dict()), HacSpec)
    path = save_agent(agent, tmp_path / "hac.pt")
    loaded, payload = load_agent(path, check_manifest=False)
    for a, b in zip(agent.parameters(), loaded.parameters()):
        assert torch.equal(a, b)
    score = evaluate_checkpoint(path)
    assert 0.0 <= score <= 1.0 and score == evaluate_success(agent, MAZE_ID)
    with pytest.raises(CheckpointError, match="'hac'"):
        load_agent(path, algorithm="sac", check_manifest=False)


def test_exercise_checkers_accept_the_reference_and_reject_common_mistakes(capsys):
    from peach_lite import checks
    from peach_lite.her import relabel_with_goals

    assert checks.check_her_relabel(lambda *a: relabel_with_goals(*a, norm="l2"))
    assert checks.check_subgoal_test_transition(subgoal_test_transition)
    assert checks.check_hindsight_action_transition(lambda *a, **k: hindsight_action_transition(*a, **k, norm="l2"))

    def relabel_only_final(obs, action, next_obs, next_achieved, goal_indices, threshold):  # ignores goal_indices
        return relabel_with_goals(obs, action, next_obs, next_achieved, [len(obs) - 1] * len(goal_indices), threshold, norm="l2")

    def penalty_when_tested(obs, proposed, next_obs, goal, *, tested, lower_missed, subgoal_horizon):  # forgets "missed"
        return subgoal_test_transition(obs, proposed, next_obs, goal, tested=tested, lower_missed=True, subgoal_horizon=subgoal_horizon)

    def always_proposed(obs, proposed, next_obs, next_achieved, goal, *, lower_reached, threshold):  # no hindsight
        return hindsight_action_transition(obs, proposed, next_obs, next_achieved, goal, lower_reached=True, threshold=threshold, norm="l2")

    assert not checks.check_her_relabel(relabel_only_final)
    assert not checks.check_subgoal_test_transition(penalty_when_tested)
    assert not checks.check_hindsight_action_transition(always_proposed)
    assert "FAIL" in capsys.readouterr().out


def test_pendulum_goal_env_follows_the_reference_design():
    from peach_lite.envs import make
    from peach_lite.envs.pendulum_goal import PendulumTask

    env = make(PENDULUM_ID)
    assert env.spec.max_episode_steps == 1000 and env.unwrapped.test_tasks() == [PendulumTask(goal=(0.0, 0.0))]
    obs, _ = env.reset(seed=0)
    angle = np.arctan2(obs["observation"][1], obs["observation"][0])
    assert abs(angle) >= np.pi / 4 - 1e-5, "starts in the lower region, [pi/4, 7pi/4]"
    np.testing.assert_allclose(obs["achieved_goal"][0], angle, atol=1e-5)
    for _ in range(200):  # full torque one way cannot lift the pole: gravity torque 4.9 > motor 2
        obs, reward, terminated, *_ = env.step(np.array([2.0], np.float32))
        assert env.observation_space.contains(obs) and reward == (0.0 if terminated else -1.0)
    assert abs(obs["achieved_goal"][0]) > np.pi / 2
    with pytest.raises(ValueError, match="goal"):
        PendulumTask(goal=(4.0, 0.0))
    goals = np.array([t.goal for t in env.unwrapped.train_tasks()])
    assert np.all(np.abs(goals[:, 0]) <= np.radians(16)) and np.all(np.abs(goals[:, 1]) <= 0.6)


def test_the_top_level_can_read_a_task_variable():
    agent, env = _agent(2, top_cond_dim=3)
    assert agent.levels[1].cond_dim == 3 and agent.levels[0].cond_dim == 0
    envs = GymTaskEnvs.wrap(env)
    tasks = TaskBatch.from_list(env.train_tasks(), [0])
    with pytest.raises(ValueError, match="top_cond"):
        run_episodes(agent, envs, tasks, explore=True, seed=0)
    agent.begin_episode(tasks, explore=True)
    agent.top_cond = np.zeros((1, 3), np.float32)
    obs = envs.reset(tasks, seed=0)
    assert agent.act(obs).shape == (1, 2)
    assert agent.learn(1) == {}  # nothing stored yet; the top level learns through its owner (PEACH), never here


def test_the_replay_can_be_keyed_by_task_and_level():
    agent, env = _agent(2, replay_tasks=2, batch_size=4)
    envs = GymTaskEnvs.wrap(env)
    run_episodes(agent, envs, TaskBatch.from_list(env.train_tasks(), [1]), explore=True, seed=0)
    assert [agent.buffer.size(key) > 0 for key in range(4)] == [False, False, True, True]  # key = task * k + level
    assert agent.learn(1) == {}  # task 0 has no data yet
    run_episodes(agent, envs, TaskBatch.from_list(env.train_tasks(), [0]), explore=True, seed=1)
    batch = agent.buffer.sample(4, generator=agent.generator)
    assert agent.level_batch(batch, 1)["obs"].shape == (2, 4, 2)  # (tasks, B, obs_dim)
    assert set(agent.learn(2)) == {f"{name}/level{i}" for name in ("critic_loss", "actor_loss", "q_mean") for i in (0, 1)}


def _soft_level(**kwargs):
    from peach_lite.goal_levels import SoftGoalLevel

    torch.manual_seed(0)
    return SoftGoalLevel(4, 2, [-2, 0], [2, 1], 10, hidden=(16, 16), init_alpha=0.5, **kwargs)


def test_the_sac_levels_critic_target_is_the_clipped_soft_bellman_target():
    level, batch = _soft_level(seed=3), _level_batch()
    batch["reward"][:8], batch["done"][:8] = -10.0, 1.0  # subgoal-test penalty rows: their target is exactly -H
    state = level.generator.get_state()
    with torch.no_grad():
        pi = level.actor(batch["next_obs"], batch["goal"], generator=torch.Generator().set_state(state))
        next_action = pi.action * torch.tensor([2.0, 0.5]) + torch.tensor([0.0, 0.5])
        next_q = level.critic_target(batch["next_obs"], next_action, batch["goal"]).min(dim=0).values
        y = batch["reward"] + 0.98 * (1 - batch["done"]) * (next_q - 0.5 * pi.log_prob)
        y = y.clamp(-10.0, 0.0)
        q = level.critic(batch["obs"], batch["action"], batch["goal"])
    loss, q_min = level.critic_loss(batch)
    torch.testing.assert_close(loss, (q - y).pow(2).mean())  # both twins, one target
    assert torch.equal(q_min, q.min(dim=0).values) and q.shape == (2, 64)
    assert float(q.max()) <= 0.0 and float(q.min()) >= -10.0
    assert torch.all(y[:8] == -10.0)
    loss.backward()
    assert all(p.grad is not None for p in level.critic.parameters())
    assert all(p.grad is None for p in [*level.actor.parameters(), *level.critic_target.parameters(), level.log_alpha])


def test_the_sac_levels_actor_loss_trains_the_actor_and_the_temperature_only():
    level, batch = _soft_level(seed=3), _level_batch()
    state = level.generator.get_state()
    with torch.no_grad():
        pi = level.actor(batch["obs"], batch["goal"], generator=torch.Generator().set_state(state))
        action = pi.action * torch.tensor([2.0, 0.5]) + torch.tensor([0.0, 0.5])
        q = level.critic(batch["obs"], action, batch["goal"]).min(dim=0).values
        expected = (0.5 * pi.log_prob - q).mean() - math.log(0.5) * (pi.log_prob + level.target_entropy).mean()
    loss = level.actor_loss(batch)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(p.grad is None for p in level.critic.parameters()), "the actor loss must not train the critics"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in level.actor.parameters())
    torch.testing.assert_close(level.log_alpha.grad, -(pi.log_prob + level.target_entropy).mean())  # SAC's J(α)
    assert level.target_entropy == -2.0
    assert level.actor_optimizer.param_groups[1]["params"] == [level.log_alpha]  # log α steps at its own rate
    assert level.actor_optimizer.param_groups[1]["lr"] == 3e-4


def test_the_sac_levels_target_critics_follow_by_polyak_averaging_and_its_greedy_policy_is_the_mean():
    level = _soft_level(tau=0.1)
    old = [p.clone() for p in level.critic_target.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(old, level.critic.parameters()))  # a copy at construction
    with torch.no_grad():
        for p in level.critic.parameters():
            p.add_(1.0)
    level.end_update()
    for target, before, online in zip(level.critic_target.parameters(), old, level.critic.parameters()):
        torch.testing.assert_close(target, 0.9 * before + 0.1 * online)
    x = np.random.default_rng(0).normal(size=6).astype(np.float32)
    greedy = level.actions(torch.as_tensor(x[:4]), torch.as_tensor(x[4:]))
    np.testing.assert_allclose(numpy_actor(level.numpy_policy(), x), greedy.detach().numpy(), atol=1e-6)
    samples = np.stack([level.explore_action(x) for _ in range(200)])
    assert np.all(samples >= [-2, 0]) and np.all(samples <= [2, 1]) and samples.std(axis=0).min() > 0.05
    again = _soft_level(tau=0.1)
    assert np.array_equal(again.explore_action(x), _soft_level(tau=0.1).explore_action(x))  # seeded sampling
    with pytest.raises(ValueError, match="action_l2"):
        _soft_level(action_l2=0.1)
    with pytest.raises(ValueError, match="tau"):
        _soft_level(tau=1.5)


def test_a_hierarchy_with_a_sac_top_level_explores_by_sampling_and_moves_its_target_critics():
    from peach_lite.goal_levels import SoftGoalLevel

    agent, env = _agent(2, top_learner="sac", random_action_rate=0.0)
    assert isinstance(agent.levels[1], SoftGoalLevel) and type(agent.levels[0]) is GoalLevel
    plain, _ = _agent(2)
    assert all(torch.equal(a, b) for a, b in zip(agent.levels[0].parameters(), plain.levels[0].parameters()))  # same bottom
    obs, goal = np.zeros(2, np.float32), np.ones(2, np.float32)
    state = agent.levels[1].generator.get_state()
    explored = agent.level_action(1, obs, goal, explore=True)
    agent.levels[1].generator.set_state(state)
    assert np.array_equal(explored, agent.levels[1].explore_action(np.concatenate([obs, goal])))  # no Gaussian noise added
    target = [p.clone() for p in agent.levels[1].critic_target.parameters()]
    for episode in range(3):
        run_episodes(agent, GymTaskEnvs.wrap(env), TaskBatch.from_list(env.train_tasks(), [episode]), explore=True, seed=episode)
        agent.learn(agent.config.updates_per_episode)
    assert not all(torch.equal(a, b) for a, b in zip(target, agent.levels[1].critic_target.parameters()))
    with pytest.raises(ValueError, match="top_learner"):
        HacConfig(top_learner="ppo")


def test_a_sac_levels_exploring_action_rejects_an_input_of_the_wrong_size():
    with pytest.raises(ValueError, match="inputs"):
        _soft_level().explore_action(np.zeros(5, np.float32))  # [s, g] is 4 + 2
