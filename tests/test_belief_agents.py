"""The three task-inference agents: gradient routing (the detach), the bottleneck's closed form,
losses, configs, determinism, rollouts, off-policy belief data and checkpoints."""
import math

import pytest
import torch

from peach_lite import belief_agents as ba
from peach_lite.belief_agents import (
    BeliefAgentConfig,
    MetaAgent,
    bernoulli_belief_loss,
    categorical_belief_loss,
    gae_advantages,
    gaussian_kl,
    make_family,
    rollout,
    train,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _agent(kind, family="movement", bottleneck=False, seed=0):
    torch.manual_seed(seed)
    fam = make_family(family)
    return MetaAgent(kind, fam.input_dim, fam.num_actions, fam.target_dim, 16, 8, (16,), bottleneck=bottleneck), fam


def _rl_and_belief_losses(agent, fam, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tasks = fam.sample_tasks(6, seed=seed)
    roll = rollout(agent, fam, tasks, generator)
    out = agent(roll.inputs, noise=roll.noise)
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
    assert all((g == 0).all() for g in _grads(rl, agent.belief_parameters()))
    assert any((g != 0).any() for g in _grads(rl, agent.policy_parameters()))
    # and the supervised loss trains the belief net only
    assert any((g != 0).any() for g in _grads(supervised, agent.belief_parameters()))
    assert all((g == 0).all() for g in _grads(supervised, agent.policy_parameters()))


def test_aux_agent_rl_loss_does_shape_the_shared_lstm():
    agent, fam = _agent("aux")
    rl, supervised = _rl_and_belief_losses(agent, fam)
    core = list(agent.core.parameters())
    assert any((g != 0).any() for g in _grads(rl, core))
    assert any((g != 0).any() for g in _grads(supervised, core))


def test_lstm_agent_has_no_belief_head():
    agent, fam = _agent("lstm")
    generator = torch.Generator().manual_seed(0)
    roll = rollout(agent, fam, fam.sample_tasks(3, seed=0), generator)
    assert agent(roll.inputs).belief_logits is None
    with pytest.raises(ValueError, match="belief head"):
        ba.belief_quality(agent, fam, roll)


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
    x = torch.randn(2, 5, fam.input_dim)
    noise = torch.randn(2, 5, agent.feature_dim)
    with_noise, kl, _ = agent.encode(x, noise=noise)
    mean, _, _ = agent.encode(x)
    assert not torch.allclose(with_noise, mean)
    assert (kl > 0).all()
    torch.testing.assert_close(agent.encode(x, noise=torch.zeros_like(noise))[0], mean)


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


def test_gae_with_lambda_one_is_reward_to_go_minus_value():
    rewards = torch.tensor([[1.0, 0.0, 2.0, 1.0]])
    values = torch.tensor([[0.5, 0.1, -0.3, 0.2]])
    advantages, returns = gae_advantages(rewards, values, 1.0, 1.0)
    torch.testing.assert_close(returns, torch.tensor([[4.0, 3.0, 3.0, 1.0]]))
    torch.testing.assert_close(advantages, returns - values)
    advantages0, _ = gae_advantages(rewards, values, 0.5, 0.0)  # one-step TD errors
    torch.testing.assert_close(advantages0, torch.tensor([[1 + 0.05 - 0.5, -0.15 - 0.1, 2 + 0.1 + 0.3, 1 - 0.2]]))


# ------------------------------------------------------------------------------------ rollouts, config
@pytest.mark.parametrize("family", ["bandit", "movement"])
def test_step_by_step_rollout_equals_the_whole_sequence_forward(family):
    agent, fam = _agent("aux", family=family, bottleneck=True)
    generator = torch.Generator().manual_seed(1)
    roll = rollout(agent, fam, fam.sample_tasks(4, seed=1), generator)
    assert roll.inputs.shape == (4, fam.horizon, fam.input_dim)
    out = agent(roll.inputs, noise=roll.noise)
    state, logits = None, []
    for t in range(fam.horizon):
        step = agent(roll.inputs[:, t : t + 1], state, roll.noise[:, t : t + 1])
        state = step.state
        logits.append(step.logits[:, 0])
    torch.testing.assert_close(torch.stack(logits, 1), out.logits, atol=1e-5, rtol=1e-5)
    # the recorded inputs are (o_t, a_{t-1}, r_{t-1}, t/T) of the rollout itself
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


def test_exact_prediction_is_the_bayes_filter():
    fam = make_family("bandit")
    agent, _ = _agent("belief", family="bandit")
    roll = rollout(agent, fam, fam.sample_tasks(3, seed=0), torch.Generator().manual_seed(0))
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
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        BeliefAgentConfig(**bad)


def _tiny(**kw):
    base = dict(family="movement", num_updates=3, batch_size=8, hidden_dim=16, feature_dim=8, policy_hidden=(16,),
                eval_every=2, eval_episodes=8)
    base.update(kw)
    return BeliefAgentConfig(**base)


def test_training_is_deterministic_given_the_seed():
    a, ha = train(_tiny(agent="belief", ib_weight=0.1, belief_data="replay", replay_episodes=16), progress=False)
    b, hb = train(_tiny(agent="belief", ib_weight=0.1, belief_data="replay", replay_episodes=16), progress=False)
    c, hc = train(_tiny(agent="belief", ib_weight=0.1, belief_data="replay", replay_episodes=16, seed=1), progress=False)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert ha.train_return == hb.train_return and ha.eval_return == hb.eval_return
    assert ha.belief_loss == hb.belief_loss and all(math.isfinite(v) for v in ha.belief_loss)
    assert any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))
    assert ha.env_steps == [8 * 50, 16 * 50, 24 * 50] and ha.eval_steps == [16 * 50, 24 * 50]


@pytest.mark.parametrize("kind", ["lstm", "aux"])
def test_every_agent_trains_on_the_bandit(kind):
    _, history = train(_tiny(agent=kind, family="bandit", num_updates=2), progress=False)
    assert len(history.train_return) == 2 and all(0 <= r <= 100 for r in history.train_return)
    assert math.isnan(history.belief_loss[0]) == (kind == "lstm")


def test_offline_belief_training_on_random_data_approaches_the_exact_posterior():
    fam = make_family("movement")
    agent = ba.train_belief_offline(fam, "random", num_updates=40, batch_size=64, hidden_dim=32, feature_dim=16, seed=0)
    generator = torch.Generator().manual_seed(5)
    roll = ba.behaviour_rollout(fam, fam.sample_tasks(256, seed=99), "random", generator)
    quality = ba.belief_quality(agent, fam, roll)
    untrained = ba.belief_quality(MetaAgent("belief", fam.input_dim, 5, 2, 32, 16), fam, roll)
    assert quality["excess"] < untrained["excess"]
    assert quality["learnt"] >= quality["exact"] - 0.02  # nothing beats the exact posterior (up to sampling noise)


def test_beta_sampler_has_the_beta_mean():
    generator = torch.Generator().manual_seed(0)
    alpha = torch.tensor([[1.0, 3.0, 10.0]]).expand(20_000, -1)
    beta = torch.tensor([[1.0, 1.0, 5.0]]).expand(20_000, -1)
    samples = ba._beta_sample(alpha, beta, generator)
    torch.testing.assert_close(samples.mean(0), torch.tensor([0.5, 0.75, 2 / 3]), atol=0.01, rtol=0)


def test_checkpoint_round_trip_and_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    config = _tiny(agent="belief")
    agent, _ = train(config, progress=False)
    path = ba.save_agent(tmp_path / "checkpoints" / "belief_tiny.pt", agent, config, meta={"note": "test"})
    loaded, loaded_config, meta = ba.load_agent(path)
    assert loaded_config == config and meta["note"] == "test"
    for p, q in zip(agent.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(p, q)
    score = ba.evaluate_checkpoint(path)
    assert score == ba.evaluate_checkpoint(path)  # deterministic
    assert 0.0 <= score <= 50.0


def test_k_goal_family_matches_the_env_and_its_closed_form():
    fam = make_family("kgoal")
    assert fam.env.num_goals == fam.num_actions == 10 and fam.horizon == 20
    assert fam.bayes_optimal_return() == pytest.approx(15.5)
    tasks = fam.sample_tasks(200, seed=0)
    assert tasks.min() >= 0 and tasks.max() <= 9 and len(set(tasks.tolist())) == 10
    assert sorted(fam.eval_tasks(20).tolist()) == sorted(list(range(10)) * 2)  # balanced over the env's split
    agent, _ = _agent("belief", family="kgoal")
    roll = rollout(agent, fam, fam.eval_tasks(30), torch.Generator().manual_seed(0))
    torch.testing.assert_close(roll.rewards, (roll.actions == roll.tasks[:, None]).float())
    exact = fam.exact_prediction(roll)
    torch.testing.assert_close(exact[:, 0], torch.full((30, 10), 0.1))
    assert (exact.gather(-1, roll.tasks[:, None, None].expand(-1, 20, 1)) > 0).all()  # the truth is never eliminated


def test_command_line_trains_saves_and_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("PEACH_DATA_DIR", str(tmp_path))
    out = tmp_path / "checkpoints" / "belief_cli.pt"
    score = ba.main(["--family", "kgoal", "--num-updates", "2", "--out", str(out), "--no-record"])
    assert out.exists() and score == ba.evaluate_checkpoint(out)
    _, config, meta = ba.load_agent(out)
    assert config.family == "kgoal" and config.num_updates == 2 and len(meta["history"]["train_return"]) == 2
