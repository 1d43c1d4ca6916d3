"""MLSH (peach_lite/mlsh.py, mlsh_tasks.py): the schedule, the routing of sub-policy updates, the macro view,
the scripted oracle, the collapse detector and PPO's first ratio; the benchmark's targets where it has run."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from peach_lite.envs.oracles import (four_rooms_values, movement_bandits_oracle_action, movement_bandits_oracle_actions,
                                     movement_bandits_values, movement_bandits_values_for_goals)
from peach_lite.mlsh import (MLSH, MLSHConfig, SubPolicies, macro_advantages, macro_rewards, ppo_minibatch_update,
                             train_mlsh)
from peach_lite.mlsh_tasks import (COLLAPSE_THRESHOLD, BatchedFourRooms, DirectionSubPolicies, OracleMovementSubPolicies,
                                   collapse_score, mlsh_tasks, sub_policy_goal_returns, sub_policy_outcomes)
from peach_lite.ppo import PPO, PPOBatch, PPOConfig, gae_advantages
from peach_lite.results import quote_headline
from peach_lite.runner import Runner, TaskBatch, run_episodes

SMALL = dict(num_groups=2, episodes_per_iteration=3, epochs=2, sub_minibatches=2)


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _runner(agent: MLSH, seed: int = 0) -> Runner:
    cfg = agent.config
    return Runner(agent.tasks.make_envs(cfg.num_groups * cfg.episodes_per_iteration, seed), agent.tasks.train_tasks, seed=seed)


def _iterate(agent: MLSH, runner: Runner, rounds: int, start: int = 0) -> None:
    for r in range(start, start + rounds):
        agent.collect_round(runner, r)
        agent.learn(1)


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("field,value", [("num_subs", 0), ("macro_duration", 0), ("random_choice_prob", 1.5),
                                         ("sub_lr", 0.0), ("num_groups", 0), ("epochs", 0)])
def test_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=field):
        MLSHConfig(**{field: value})


def test_config_needs_an_iteration_per_task():
    with pytest.raises(ValueError, match="warmup"):
        MLSHConfig(warmup=0, joint=0)


# ------------------------------------------------------------------------------------------------ schedule
def test_sub_policies_do_not_change_during_warmup_and_master_is_reinitialised_per_task():
    torch.manual_seed(0)
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(warmup=3, joint=1, stagger=False, **SMALL))
    runner = _runner(agent)
    before = _params(agent.subs)
    masters_before = _params(agent.masters)
    for r in range(3):  # W warm-up iterations: master only
        _iterate(agent, runner, 1, r)
        assert _same(_params(agent.subs), before), f"sub-policies changed in warm-up iteration {r}"
    assert not _same(_params(agent.masters), masters_before), "the master must learn during warm-up"
    _iterate(agent, runner, 1, 3)  # the joint iteration
    assert not _same(_params(agent.subs), before), "sub-policies must learn in the joint phase"
    assert agent.master_resets == [1, 1]
    trained = _params(agent.masters)
    agent.collect_round(runner, 4)  # task over: a new task and a new master for every group
    assert agent.master_resets == [2, 2]
    assert all(not torch.equal(a, b) for a, b in zip(_params(agent.masters), trained))
    assert (agent.phase == 0).all()


def test_reset_master_touches_only_its_group():
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(num_groups=3))
    before = [p.detach().clone() for p in agent.masters.parameters()]
    agent.reset_master(1)
    for old, new in zip(before, agent.masters.parameters()):
        assert torch.equal(old[0], new[0]) and torch.equal(old[2], new[2]) and not torch.equal(old[1], new[1])


def test_stagger_spreads_the_groups_over_the_task_phases():
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(num_groups=10, warmup=9, joint=1))
    assert agent.phase.tolist() == [-g for g in range(10)]
    runner = _runner(agent)
    agent.phase += 9  # skip to the first joint iteration of group 0
    joint_counts = []
    for _ in range(10):
        joint_counts.append(int(agent.joint_groups().sum()))
        agent.phase += 1
        agent.phase[agent.phase >= 10] = 0
    assert joint_counts == [1] * 10  # exactly one group is joint at every iteration
    assert not MLSH(mlsh_tasks("movement"), MLSHConfig(stagger=False)).phase.any()
    del runner


def test_a_sub_policy_never_active_is_left_unchanged():
    torch.manual_seed(1)
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(warmup=0, joint=2, stagger=False, random_choice_prob=0.0, **SMALL))
    with torch.no_grad():  # every master always picks sub-policy 0
        last = agent.masters.actor.layers[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([50.0, -50.0]))
    runner = _runner(agent)
    sub1 = _params(agent.subs.actors[1]) + _params(agent.subs.critics[1])
    sub0 = _params(agent.subs.actors[0])
    agent.collect_round(runner, 0)
    losses = agent.learn(1)
    assert (agent.last_episode["active"] == 0).all()
    assert _same(_params(agent.subs.actors[1]) + _params(agent.subs.critics[1]), sub1)
    assert not _same(_params(agent.subs.actors[0]), sub0)
    assert agent.sub_updates == [1, 0] and "sub1_policy" not in losses


def test_random_master_choices_happen_about_ten_percent_of_the_time():
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(num_groups=2, episodes_per_iteration=200, random_choice_prob=0.1))
    with torch.no_grad():
        agent.masters.actor.layers[-1].weight.zero_()
        agent.masters.actor.layers[-1].bias.copy_(torch.tensor([50.0, -50.0]))
    agent.collect_round(_runner(agent), 0)
    rate = float((agent.last_episode["m_action"] == 1).float().mean()) * 2  # half the overrides land on sub 0
    assert abs(rate - 0.1) < 0.03


# ------------------------------------------------------------------------------------------------ macro view
def test_macro_reward_is_the_sum_of_n_rewards_with_ceil_t_over_n_steps():
    g = torch.Generator().manual_seed(0)
    rewards = torch.rand(4, 23, generator=g)
    lengths = torch.tensor([23, 20, 11, 1])
    mask = torch.arange(23)[None] < lengths[:, None]
    for n_macro in (1, 5, 10, 23, 30):
        macro, macro_mask = macro_rewards(rewards, mask, n_macro)
        assert macro.shape == (4, math.ceil(23 / n_macro)) == macro_mask.shape
        for i in range(4):
            for j in range(macro.shape[1]):
                steps = range(j * n_macro, min((j + 1) * n_macro, int(lengths[i])))
                assert macro[i, j].item() == pytest.approx(sum(rewards[i, t].item() for t in steps), abs=1e-5)
                assert bool(macro_mask[i, j]) == (j * n_macro < lengths[i])


def test_macro_advantages_are_gae_on_the_macro_rewards():
    rewards = torch.rand(3, 50)
    mask = torch.ones(3, 50, dtype=torch.bool)
    values = torch.rand(3, 5)
    adv, ret = macro_advantages(rewards, mask, values, 10, 0.99, 0.98)
    expected = gae_advantages(rewards.view(3, 5, 10).sum(-1), values, 0.99, 0.98, torch.ones(3, 5, dtype=torch.bool))
    assert torch.allclose(adv, expected[0]) and torch.allclose(ret, expected[1])


def test_the_agent_records_ceil_t_over_n_master_choices_per_episode():
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(macro_duration=7, **SMALL))
    agent.collect_round(_runner(agent), 0)
    assert agent.last_episode["m_action"].shape == (6, math.ceil(50 / 7))
    active = agent.last_episode["active"]
    assert (active == agent.last_episode["m_action"].repeat_interleave(7, dim=1)[:, :50]).all()


# ------------------------------------------------------------------------------------------------ oracle
def test_vectorised_oracle_actions_match_the_scalar_oracle():
    rng = np.random.default_rng(0)
    obs = np.concatenate([200 + 20 * rng.integers(-8, 9, size=(300, 2)), rng.uniform(0, 400, size=(300, 4))], axis=1) / 400
    real = rng.integers(0, 2, size=300)
    expected = [movement_bandits_oracle_action(o, int(k)) for o, k in zip(obs, real)]
    assert movement_bandits_oracle_actions(obs, real).tolist() == expected


def _scripted_oracle_master(agent: MLSH, real_goals: list[int]) -> None:
    with torch.no_grad():
        last = agent.masters.actor.layers[-1]
        last.weight.zero_()
        for g, real in enumerate(real_goals):
            last.bias[g, 0] = torch.tensor([30.0, -30.0]) if real == 0 else torch.tensor([-30.0, 30.0])


def test_scripted_oracle_master_over_ideal_sub_policies_scores_the_oracle_value():
    tasks = mlsh_tasks("movement")
    agent = MLSH(tasks, MLSHConfig(num_groups=2, episodes_per_iteration=60), subs=OracleMovementSubPolicies(), train_subs=False)
    agent.group_tasks = [0, 1]
    _scripted_oracle_master(agent, [0, 1])
    envs = tasks.make_envs(120, 0)
    greedy = run_episodes(agent, envs, agent.group_batch(60, "test"), explore=False, seed=3)
    oracle = movement_bandits_values_for_goals(envs.sim.goals.numpy())["oracle"]
    per_episode = oracle[np.arange(120), np.repeat([0, 1], 60)]
    assert greedy.returns.mean() == pytest.approx(per_episode.mean(), abs=0.3)
    assert greedy.returns.mean() <= per_episode.mean() + 1e-6  # no policy beats the oracle
    assert abs(per_episode.mean() - movement_bandits_values()["oracle"]) < 2.0
    # exploring: 10% of the master's choices are random, as in the reference (design-08-11: about 40.7)
    explore = run_episodes(agent, envs, agent.group_batch(60, "test"), explore=True, seed=3)
    assert 38.5 < explore.returns.mean() < per_episode.mean()


# ------------------------------------------------------------------------------------------------ detector
def test_detector_fires_on_identical_sub_policies_and_not_on_the_oracle_pair():
    tasks = mlsh_tasks("movement")
    torch.manual_seed(0)
    subs = SubPolicies(6, 5, 2)
    subs.actors[1].load_state_dict(subs.actors[0].state_dict())
    subs.critics[1].load_state_dict(subs.critics[0].state_dict())
    for kind in ("move", "goal"):
        identical = collapse_score(sub_policy_outcomes(subs, tasks, num_starts=100, kind=kind))
        assert identical == 0.0 < COLLAPSE_THRESHOLD, kind
    oracle = OracleMovementSubPolicies()
    assert collapse_score(sub_policy_outcomes(oracle, tasks, num_starts=100, kind="goal")) > 0.9
    assert collapse_score(sub_policy_outcomes(oracle, tasks, num_starts=100, kind="move")) > COLLAPSE_THRESHOLD
    with pytest.raises(ValueError, match="outcomes"):
        collapse_score(torch.ones(1, 2, dtype=torch.long))


def test_detector_on_four_rooms_separates_directions():
    tasks = mlsh_tasks("fourrooms")
    torch.manual_seed(0)
    subs = SubPolicies(104, 4, 4)
    with torch.no_grad():
        for k, actor in enumerate(subs.actors):  # sub k always takes action k
            actor[-1].weight.zero_()
            actor[-1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(k), 4).float() * 50)
    assert collapse_score(sub_policy_outcomes(subs, tasks, num_starts=200)) > 0.5
    subs.actors[1].load_state_dict(subs.actors[0].state_dict())
    assert collapse_score(sub_policy_outcomes(subs, tasks, num_starts=200)) == 0.0


def test_goal_returns_table_shows_primitives_collapse_and_a_dead_sub_policy():
    tasks = mlsh_tasks("movement")
    oracle = sub_policy_goal_returns(OracleMovementSubPolicies(), tasks, num_starts=100)
    assert oracle.shape == (2, 2)
    assert oracle[0, 0] > 40 and oracle[1, 1] > 40 and oracle[0, 1] < 10 and oracle[1, 0] < 10
    torch.manual_seed(0)
    subs = SubPolicies(6, 5, 2)
    subs.actors[1].load_state_dict(subs.actors[0].state_dict())
    collapsed = sub_policy_goal_returns(subs, tasks, num_starts=100)
    assert torch.equal(collapsed[0], collapsed[1])  # same starts, same random numbers
    with torch.no_grad():  # sub-policy 1 stands still (action 0, no-op): paid only when a goal lies at the start
        subs.actors[1][-1].weight.zero_()
        subs.actors[1][-1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(0), 5).float() * 50)
    still = sub_policy_goal_returns(subs, tasks, num_starts=100)
    assert still[1].max() < 10
    with pytest.raises(ValueError, match="movement"):
        sub_policy_goal_returns(DirectionSubPolicies(), mlsh_tasks("fourrooms"))


def test_direction_sub_policies_always_take_their_action():
    obs = torch.eye(104)[:7]
    logits, values = DirectionSubPolicies()(obs)
    assert logits.shape == (4, 7, 4) and values.shape == (4, 7)
    assert torch.equal(logits.argmax(-1), torch.arange(4)[:, None].expand(4, 7))
    outcomes = sub_policy_outcomes(DirectionSubPolicies(), mlsh_tasks("fourrooms"), num_starts=200, greedy=True)
    assert collapse_score(outcomes) > 0.5


def test_collapse_flag_uses_both_detectors():
    agent, meta = train_mlsh(seed=0, progress=False, iterations=1, detector_every=1, **SMALL)
    traces = meta["history"]["extra"]
    assert meta["collapsed"] == (min(traces["collapse_S"][-1], traces["goal_S"][-1]) < COLLAPSE_THRESHOLD)


def test_sub_entropy_bonus_reaches_only_the_sub_policies():
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(sub_entropy_coef=0.05, **SMALL))
    assert all(learner.config.entropy_coef == 0.05 for learner in agent.sub_learners)
    assert agent.master_learner.config.entropy_coef == 0.0
    with pytest.raises(ValueError, match="sub_entropy_coef"):
        MLSHConfig(sub_entropy_coef=-1.0)


# ------------------------------------------------------------------------------------------------ PPO
def test_ppo_ratio_is_exactly_one_in_the_first_epoch():
    torch.manual_seed(0)
    agent = MLSH(mlsh_tasks("movement"), MLSHConfig(warmup=0, joint=1, stagger=False, **SMALL))
    agent.collect_round(_runner(agent), 0)
    roll = agent.last_episode
    with torch.no_grad():  # the sub-policy log-probs recomputed before any step equal those stored while acting
        logits = agent.subs(roll["obs"].reshape(-1, 6))[0].reshape(2, *roll["obs"].shape[:2], 5)
        taken = torch.log_softmax(logits, -1).gather(-1, roll["action"][None, ..., None].expand(2, -1, -1, 1)).squeeze(-1)
        mine = taken.gather(0, roll["active"][None]).squeeze(0)
    assert torch.allclose(torch.exp(mine - roll["log_prob"]), torch.ones(()), atol=1e-6, rtol=0)
    losses = agent.learn(1)
    for name in ("master_first_approx_kl", "sub0_first_approx_kl"):
        assert abs(float(losses[name])) < 1e-7, name


def test_ppo_minibatch_update_checks_its_learner():
    net = torch.nn.Linear(3, 2)
    ppo = PPO(lambda b, c=None: __import__("peach_lite.ppo", fromlist=["PolicyOutput"]).PolicyOutput(net(b.obs), net(b.obs)[..., 0]),
              [list(net.parameters())], PPOConfig(epochs=4))
    batch = PPOBatch(torch.zeros(5, 3), torch.zeros(5, dtype=torch.long), torch.zeros(5), torch.zeros(5), torch.zeros(5))
    with pytest.raises(ValueError, match="epochs"):
        ppo_minibatch_update(ppo, batch, epochs=1, minibatch_size=2, generator=torch.Generator())


# ------------------------------------------------------------------------------------------------ four rooms
def test_batched_four_rooms_random_policy_matches_the_exact_value():
    goal = 20
    envs = BatchedFourRooms(4000, torch.Generator().manual_seed(0))
    envs.reset(torch.full((4000,), goal))
    active = np.ones(4000, bool)
    reached = np.zeros(4000, bool)
    g = torch.Generator().manual_seed(1)
    for _ in range(100):
        action = torch.randint(0, 4, (4000, 1), generator=g).float().numpy()
        _, reward, _, _, terminated, truncated, _ = envs.step(action, active)
        reached |= reward > 0
        active &= ~(terminated | truncated)
    exact = four_rooms_values(goal)["random"]
    assert abs(reached.mean() - exact) < 3 * math.sqrt(exact * (1 - exact) / 4000) + 1e-3


# ------------------------------------------------------------------------------------------------ end to end
def test_training_and_adaptation_run_end_to_end_and_checkpoint_round_trip(tmp_path):
    from peach_lite.checkpoints import load_agent, save_agent

    agent, meta = train_mlsh(seed=0, progress=False, iterations=3, detector_every=2, warmup=1, joint=1, **SMALL)
    assert len(meta["history"]["extra"]["collapse_S"]) == 2
    result = agent.adapt(agent.tasks.fresh_tasks(2, 0), iterations=2, eval_episodes=2, seed=0)
    assert len(result.iteration_returns) == 2
    assert 0 <= result.final_return <= movement_bandits_values()["oracle"] + 7  # per-episode oracle is at most 50
    assert 0 <= result.master_accuracy <= 1 and 0 <= result.master_entropy <= math.log(2) + 1e-6
    path = save_agent(agent, tmp_path / "mlsh.pt")
    again, _ = load_agent(path, algorithm="mlsh")
    assert _same(_params(again.subs), _params(agent.subs))


def test_four_rooms_trains_end_to_end():
    agent, meta = train_mlsh(seed=0, progress=False, tasks="fourrooms", iterations=2, num_subs=4, macro_duration=5,
                             warmup=1, joint=1, **SMALL)
    result = agent.adapt(agent.tasks.fresh_tasks(2, 0), iterations=1, eval_episodes=2, seed=0)
    assert 0 <= result.final_success <= 1 and math.isnan(result.master_accuracy)


# ------------------------------------------------------------------------------------------------ benchmark targets
def test_benchmark_figures_respect_the_oracles(headline):
    h = headline("mlsh")
    assert 0 <= h["movement_adapted_return"] <= h["oracle_return"] + 1e-6
    assert h["bayes_optimal_return"] == pytest.approx(41.0, abs=0.2) and h["oracle_return"] == pytest.approx(43.7, abs=0.2)
    assert 0 <= h["fourrooms_success"] <= h["fourrooms_oracle_success"] + 1e-6
    assert h["movement_scripted_subs_return"] <= h["movement_scripted_subs_episode_oracle"] + 1e-6  # same episodes


def test_the_master_reaches_the_oracle_over_scripted_primitives(headline):
    """The master's half of MLSH works: over walk-to-goal primitives, W master-only iterations reach 0.9 x oracle."""
    h = headline("mlsh")
    assert h["movement_scripted_subs_return"] >= 0.9 * h["oracle_return"]


MOVEMENT = quote_headline("mlsh", "movement_adapted_return", "movement_fraction_of_bayes", "shared_policy_return", "uncovered_goal_seeds", "dead_sub_seeds",
                          "collapsed_seeds", "collapse_goal_S_min", "movement_scripted_subs_return", "cpu_minutes_per_seed")
TARGETS_UNMET = (f"issue 13: {MOVEMENT} (data/results/mlsh.json): the master reaches the oracle over scripted primitives, so the gap is "
                 "the sub-policies: in every seed meta-training leaves one goal without a sub-policy that walks to it (one "
                 "sub-policy stands still, or both walk to the same goal), so no master does well when that goal pays; the route ablations "
                 "(sub-policy entropy, no random master choices, 4x data) are in the same file")


@pytest.mark.xfail(reason=TARGETS_UNMET, strict=False)
def test_movement_bandits_reaches_ninety_percent_of_bayes_optimal(headline):
    assert headline("mlsh")["movement_fraction_of_bayes"] >= 0.9


@pytest.mark.xfail(reason=TARGETS_UNMET, strict=False)
def test_movement_bandits_beats_a_shared_reactive_policy_by_half(headline):
    h = headline("mlsh")
    assert h["movement_adapted_return"] >= 1.5 * h["shared_policy_return"]


@pytest.mark.xfail(reason=TARGETS_UNMET, strict=False)
def test_no_seed_collapses_or_leaves_a_goal_uncovered(headline):
    h = headline("mlsh")
    assert h["collapsed_seeds"] == 0 and h["uncovered_goal_seeds"] == 0


@pytest.mark.xfail(reason=f"issue 13: {quote_headline('mlsh', 'fourrooms_fraction_of_oracle', 'flat_ppo_success', 'fourrooms_scripted_subs_fraction_of_oracle')} "
                          "(data/results/mlsh.json): even over four scripted direction primitives a fresh master reaches only "
                          "the scripted fraction of the oracle in W = 10 iterations, while a fresh flat PPO solves each goal",
                   strict=False)
def test_four_rooms_reaches_ninety_percent_of_the_oracle_and_beats_flat_ppo(headline):
    h = headline("mlsh")
    assert h["fourrooms_fraction_of_oracle"] >= 0.9 and h["fourrooms_success"] > h["flat_ppo_success"]


def test_a_seed_takes_at_most_twenty_cpu_minutes(headline):
    assert headline("mlsh")["cpu_minutes_per_seed"] <= 20
