"""The task-inference agents: gradient routing (the detach), the bottleneck's closed form, losses,
configs, determinism, lockstep episodes through loop.run_episodes, off-policy belief data, checkpoints,
and the batched task families (loop.TaskEnvs)."""
import json
import math

import numpy as np
import pytest
import torch

from peach_lite import belief_agents as ba
from peach_lite import belief_offline as bo
from peach_lite import loop
from peach_lite.belief_agents import (
    BeliefAgent,
    BeliefAgentConfig,
    MetaAgent,
    bernoulli_belief_loss,
    categorical_belief_loss,
    gaussian_kl,
    train,
)
from peach_lite.checkpoints import load_agent, save_agent
from peach_lite.envs.task_families import make_family
from peach_lite.ppo import gae_advantages

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(**kw):
    base = dict(family="movement", num_updates=3, batch_size=8, hidden_dim=16, feature_dim=8, policy_hidden=(16,),
                eval_every=2, eval_episodes=8)
    base.update(kw)
    return BeliefAgentConfig(**base)


def _agent(kind, family="movement", bottleneck=False, seed=0):
    torch.manual_seed(seed)
    agent = BeliefAgent(_tiny(agent=kind, family=family, ib_weight=0.1 if bottleneck else 0.0, seed=seed))
    return agent, agent.family


def _episodes(agent, tasks, explore=True):
    loop.run_episodes(agent, agent.family, agent.family.task_batch(tasks), explore=explore)
    return agent.rollout


def _rl_and_belief_losses(agent, fam, seed=0):
    tasks = fam.sample_tasks(6, seed=seed)
    roll = _episodes(agent, tasks)
    out = agent.net(roll.inputs, noise=roll.noise)
    advantages, returns = gae_advantages(roll.rewards + 0.1, out.value.detach(), 1.0, 0.95)
    log_probs = torch.log_softmax(out.logits, -1).gather(-1, roll.actions[..., None]).squeeze(-1)
    rl = -(log_probs * advantages).mean() + (out.value - returns).pow(2).mean()
    supervised = ba.belief_loss(fam.target_kind, out.belief_logits, fam.targets(tasks)) + out.kl.mean()
    return rl, supervised


def _grads(loss, params):
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


# ------------------------------------------------------------------------------------ gradient routing
@pytest.mark.parametrize("bottleneck", [False, True])
def test_belief_agent_rl_loss_sends_zero_gradient_into_the_belief_net(bottleneck):
    agent, fam = _agent("belief", bottleneck=bottleneck)
    rl, supervised = _rl_and_belief_losses(agent, fam)
    net = agent.net
    assert all((g == 0).all() for g in _grads(rl, net.belief_parameters()))
    assert any((g != 0).any() for g in _grads(rl, net.policy_parameters()))
    # and the supervised loss trains the belief net only
    assert any((g != 0).any() for g in _grads(supervised, net.belief_parameters()))
    assert all((g == 0).all() for g in _grads(supervised, net.policy_parameters()))


def test_aux_agent_rl_loss_does_shape_the_shared_lstm():
    agent, fam = _agent("aux")
    rl, supervised = _rl_and_belief_losses(agent, fam)
    core = list(agent.net.core.parameters())
    assert any((g != 0).any() for g in _grads(rl, core))
    assert any((g != 0).any() for g in _grads(supervised, core))


def test_lstm_agent_has_no_belief_head():
    agent, fam = _agent("lstm")
    roll = _episodes(agent, fam.sample_tasks(3, seed=0))
    assert agent.net(roll.inputs).belief_logits is None
    with pytest.raises(ValueError, match="belief head"):
        bo.belief_quality(agent, fam, roll)


# --------------------------------------------------------------------------------- bottleneck, losses
def test_gaussian_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(5, 7, 4, generator=generator)
    log_var = torch.randn(5, 7, 4, generator=generator)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    torch.testing.assert_close(gaussian_kl(mean, log_var), torch.distributions.kl_divergence(q, p).sum(-1))
    assert gaussian_kl(torch.zeros(3), torch.zeros(3)).item() == 0.0


def test_bottleneck_features_use_the_given_noise_and_the_mean_without_it():
    agent, fam = _agent("belief", bottleneck=True)
    net = agent.net
    x = torch.randn(2, 5, fam.input_dim)
    noise = torch.randn(2, 5, net.feature_dim)
    with_noise, kl, _ = net.encode(x, noise=noise)
    mean, _, _ = net.encode(x)
    assert not torch.allclose(with_noise, mean)
    assert (kl > 0).all()
    torch.testing.assert_close(net.encode(x, noise=torch.zeros_like(noise))[0], mean)


def test_belief_losses_are_cross_entropies():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 3, generator=generator)
    label = torch.randint(0, 3, (4, 6), generator=generator)
    torch.testing.assert_close(categorical_belief_loss(logits, label),
                               torch.nn.functional.cross_entropy(logits.reshape(-1, 3), label.reshape(-1)))
    probs = torch.rand(4, 6, 5, generator=generator)
    logits = torch.randn(4, 6, 5, generator=generator)
    q = torch.sigmoid(logits)
    manual = -(probs * q.log() + (1 - probs) * (1 - q).log()).sum(-1).mean()
    torch.testing.assert_close(bernoulli_belief_loss(logits, probs), manual)
    # its minimiser over q is the posterior mean: the gradient vanishes at q = E[w]
    target = torch.tensor([[0.2, 0.9]])
    at_mean = torch.logit(target).requires_grad_(True)
    bernoulli_belief_loss(at_mean, target).backward()
    assert at_mean.grad.abs().max() < 1e-6
    with pytest.raises(ValueError, match="label"):
        categorical_belief_loss(torch.zeros(2, 3), torch.zeros(3))


# ------------------------------------------------------------------------------------ episodes, config
@pytest.mark.parametrize("family", ["bandit", "movement"])
def test_lockstep_episodes_equal_the_whole_sequence_forward(family):
    agent, fam = _agent("aux", family=family, bottleneck=True)
    roll = _episodes(agent, fam.sample_tasks(4, seed=1))
    assert roll.inputs.shape == (4, fam.horizon, fam.input_dim) and roll.mask.all()
    out = agent.net(roll.inputs, noise=roll.noise)
    state, logits = None, []
    for t in range(fam.horizon):
        step = agent.net(roll.inputs[:, t : t + 1], state, roll.noise[:, t : t + 1])
        state = step.state
        logits.append(step.logits[:, 0])
    torch.testing.assert_close(torch.stack(logits, 1), out.logits, atol=1e-5, rtol=1e-5)
    # the recorded inputs are (o_t, a_{t-1}, r_{t-1}, t/T) of the episodes themselves
    torch.testing.assert_close(roll.inputs[:, 1:, -1], torch.arange(1, fam.horizon).float().expand(4, -1) / fam.horizon)
    torch.testing.assert_close(torch.log_softmax(out.logits, -1).gather(-1, roll.actions[..., None]).squeeze(-1), roll.log_probs,
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.value, roll.values, atol=1e-5, rtol=1e-5)
    if family == "movement":
        torch.testing.assert_close(roll.inputs[:, 1:, 10:15], torch.nn.functional.one_hot(roll.actions[:, :-1], 5).float())
        torch.testing.assert_close(roll.inputs[:, 1:, 15], roll.rewards[:, :-1])
        offsets = roll.inputs[:, :, 6:10]  # goal offsets in units of the reward radius: |offset| < 1 <=> inside
        inside = (offsets[:, 1:].reshape(4, -1, 2, 2) ** 2).sum(-1) < 1.0
        real = inside[torch.arange(4), :, roll.tasks]
        torch.testing.assert_close(real.float(), roll.rewards[:, :-1])
    else:  # bandit: one-hot over (arm, reward) pairs
        pairs = roll.inputs[:, 1:, :40].reshape(4, -1, 2, 20)
        torch.testing.assert_close(pairs[:, :, 0].argmax(-1)[roll.rewards[:, :-1] == 1], roll.actions[:, :-1][roll.rewards[:, :-1] == 1])
        torch.testing.assert_close(pairs.sum((-1, -2)), torch.ones(4, fam.horizon - 1))


def test_task_families_implement_the_task_envs_protocol():
    fam = make_family("kgoal", num_envs=5)
    assert isinstance(fam, loop.TaskEnvs) and fam.action_space.shape == (1,)
    tasks = fam.task_batch(fam.eval_tasks(5))
    obs = fam.reset(tasks, seed=3)
    assert obs.shape == (5, 1)
    for t in range(fam.horizon):
        next_obs, reward, dense, sparse, terminated, truncated, success = fam.step(np.arange(5.0)[:, None], np.ones(5, bool))
        assert np.array_equal(reward, (np.arange(5) == fam.eval_tasks(5).numpy()).astype(np.float32))
        assert truncated.all() == (t == fam.horizon - 1) and not terminated.any()
    with pytest.raises(ValueError, match="action"):
        fam.step(np.full((5, 1), 10.0), np.ones(5, bool))
    with pytest.raises(ValueError, match="family"):
        make_family("cheetah")


def test_exact_prediction_is_the_bayes_filter():
    agent, fam = _agent("belief", family="bandit")
    roll = _episodes(agent, fam.sample_tasks(3, seed=0))
    exact = fam.exact_prediction(roll)
    assert exact.shape == (3, 100, 20)
    torch.testing.assert_close(exact[:, 0], torch.full((3, 20), 0.5))
    arm, reward = roll.actions[0, 0].item(), roll.rewards[0, 0].item()
    assert exact[0, 1, arm].item() == pytest.approx((1 + reward) / 3)


@pytest.mark.parametrize("bad, match", [
    (dict(agent="rl2"), "agent"), (dict(family="cheetah"), "family"), (dict(hidden_dim=0), "hidden_dim"),
    (dict(ib_weight=-1.0), "ib_weight"), (dict(gamma=1.5), "gamma"), (dict(belief_data="offline"), "belief_data"),
    (dict(batch_size=1), "batch_size"), (dict(lr=0.0), "lr"), (dict(policy_hidden=(0,)), "policy_hidden"),
    (dict(agent="lstm", belief_data="replay"), "belief_data"), (dict(num_updates=2.5), "num_updates"),
    (dict(clip_ratio=2.0), "clip_ratio"), (dict(ppo_epochs=0), "epochs"),
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        BeliefAgentConfig(**bad)


# ------------------------------------------------------------------------------------ training
def test_training_runs_through_loop_train_and_is_deterministic():
    config = _tiny(agent="belief", ib_weight=0.1, belief_data="replay", replay_episodes=16)
    a, ha = train(config, progress=False)
    b, hb = train(config, progress=False)
    c, hc = train(_tiny(agent="belief", ib_weight=0.1, belief_data="replay", replay_episodes=16, seed=1), progress=False)
    assert isinstance(ha, loop.History) and isinstance(a, loop.Agent)
    for (name, p), q in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(p, q), name
    assert ha.extra["train_return"] == hb.extra["train_return"] and ha.eval_values == hb.eval_values
    assert ha.losses == hb.losses and all(math.isfinite(v) for v in ha.losses["belief"])
    assert any(not torch.equal(p, q) for p, q in zip(a.net.state_dict().values(), c.net.state_dict().values()))
    assert ha.rounds == 3 and ha.total_steps == 3 * 8 * 50 and ha.eval_steps == [16 * 50, 24 * 50]
    assert len(ha.returns) == 3 * 8 and len(ha.losses["policy"]) == 3


def test_loop_train_drives_the_agent_for_a_few_rounds():
    agent = BeliefAgent(_tiny(agent="aux", family="kgoal"))
    schedule = loop.TrainConfig(total_steps=0, rounds=2, episodes_per_round=1, warmup_steps=0, eval_every=1, eval_episodes=1,
                                log_every=1, progress=False)
    history = loop.train(agent, loop.Runner(agent.family, None), schedule,
                         evaluator=lambda a: (ba.evaluate(a, num_episodes=10, seed=0), 0.0))
    assert history.rounds == 2 and len(history.eval_values) == 2 and len(history.losses["belief"]) == 2
    assert all(0 <= v <= agent.family.horizon for v in history.eval_values)


@pytest.mark.parametrize("kind", ["lstm", "aux"])
def test_every_agent_trains_on_the_bandit(kind):
    _, history = train(_tiny(agent=kind, family="bandit", num_updates=2), progress=False)
    assert len(history.extra["train_return"]) == 2 and all(0 <= r <= 100 for r in history.extra["train_return"])
    assert ("belief" in history.losses) == (kind != "lstm")


def test_offline_belief_training_on_random_data_approaches_the_exact_posterior():
    fam = make_family("movement")
    seen = []
    net = bo.train_belief_offline(fam, "random", num_updates=40, batch_size=64, hidden_dim=32, feature_dim=16, seed=0,
                                  callback=lambda done, module: seen.append(done))
    assert seen == list(range(41))
    roll = bo.collect(fam, fam.sample_tasks(256, seed=99), "random", torch.Generator().manual_seed(5))
    quality = bo.belief_quality(net, fam, roll)
    untrained = bo.belief_quality(MetaAgent("belief", fam.input_dim, 5, 2, 32, 16), fam, roll)
    assert quality["excess"] < untrained["excess"]
    assert quality["learnt"] >= quality["exact"] - 0.02  # nothing beats the exact posterior (up to sampling noise)


def test_offline_collection_with_an_agent_and_thompson_sampling():
    agent, fam = _agent("belief", family="bandit")
    generator_state = agent.generator.get_state()
    roll = bo.collect(fam, fam.sample_tasks(4, seed=0), agent, torch.Generator().manual_seed(0))
    again = bo.collect(fam, fam.sample_tasks(4, seed=0), agent, torch.Generator().manual_seed(0))
    assert torch.equal(roll.actions, again.actions) and torch.equal(agent.generator.get_state(), generator_state)
    thompson = bo.collect(fam, fam.sample_tasks(64, seed=0), "thompson", torch.Generator().manual_seed(0))
    random = bo.collect(fam, fam.sample_tasks(64, seed=0), "random", torch.Generator().manual_seed(0))
    assert thompson.returns.mean() > random.returns.mean() + 10
    with pytest.raises(ValueError, match="thompson"):
        bo.collect(make_family("kgoal"), torch.zeros(2, dtype=torch.long), "thompson", torch.Generator())


def test_beta_sampler_has_the_beta_mean():
    generator = torch.Generator().manual_seed(0)
    alpha = torch.tensor([[1.0, 3.0, 10.0]]).expand(20_000, -1)
    beta = torch.tensor([[1.0, 1.0, 5.0]]).expand(20_000, -1)
    samples = bo._beta_sample(alpha, beta, generator)
    torch.testing.assert_close(samples.mean(0), torch.tensor([0.5, 0.75, 2 / 3]), atol=0.01, rtol=0)


def test_checkpoint_round_trip_and_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    config = _tiny(agent="belief")
    agent, _ = train(config, progress=False)
    path = save_agent(agent, tmp_path / "checkpoints" / "belief_tiny.pt", meta={"note": "test"})
    loaded, payload = load_agent(path, algorithm="belief")
    assert isinstance(loaded, BeliefAgent) and loaded.config == config and payload["meta"]["note"] == "test"
    for p, q in zip(agent.net.state_dict().values(), loaded.net.state_dict().values()):
        assert torch.equal(p, q)
    score = loaded.checkpoint_score(payload)
    assert score == ba.evaluate(agent, num_episodes=1000, seed=12345)  # deterministic, and the training RNG is untouched
    assert 0.0 <= score <= 50.0


def test_k_goal_family_matches_the_env_and_its_closed_form():
    fam = make_family("kgoal")
    assert fam.env.num_goals == fam.num_actions == 10 and fam.horizon == 20
    assert fam.bayes_optimal_return() == pytest.approx(15.5)
    tasks = fam.sample_tasks(200, seed=0)
    assert tasks.min() >= 0 and tasks.max() <= 9 and len(set(tasks.tolist())) == 10
    assert sorted(fam.eval_tasks(20).tolist()) == sorted(list(range(10)) * 2)  # balanced over the env's split
    agent, _ = _agent("belief", family="kgoal")
    _, roll = ba.evaluate(agent, fam.eval_tasks(30), seed=0, return_rollout=True)
    torch.testing.assert_close(roll.rewards, (roll.actions == roll.tasks[:, None]).float())
    exact = fam.exact_prediction(roll)
    torch.testing.assert_close(exact[:, 0], torch.full((30, 10), 0.1))
    assert (exact.gather(-1, roll.tasks[:, None, None].expand(-1, 20, 1)) > 0).all()  # the truth is never eliminated


def test_command_line_trains_saves_and_scores(tmp_path, monkeypatch):
    from peach_lite.cli import main

    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    out = tmp_path / "checkpoints" / "belief_cli.pt"
    score = main(["train", "belief", "--preset", "kgoal", "--set", "num_updates=2", "--set", "eval_episodes=20",
                  "--out", str(out), "--no-record", "--no-progress"])
    assert out.exists() and score == main(["evaluate", str(out)])
    agent, payload = load_agent(out)
    assert agent.config.family == "kgoal" and agent.config.num_updates == 2
    assert len(payload["meta"]["history"]["extra"]["train_return"]) == 2
    json.dumps(payload["meta"])  # plain data
    with pytest.raises(ValueError, match="setting"):
        main(["train", "belief", "--set", "num_update=2", "--out", str(out), "--no-record"])
