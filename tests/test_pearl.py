"""Tests for peach_lite.pearl: the posterior algebra (algorithms.md §5 items 1-3), gradient routing,
the data-collection and meta-test schedules, determinism, checkpoints and config validation."""
import math
import time

import numpy as np
import pytest
import torch

from peach_lite import checks
from peach_lite.envs.oracles import point_robot_oracle_return
from peach_lite.paths import REPO_ROOT
from peach_lite.pearl import (
    PEARL,
    PRESETS,
    ContextEncoder,
    PearlConfig,
    TaskRollouts,
    evaluate_checkpoint,
    kl_to_prior,
    load_agent,
    meta_test,
    pearl_kl_loss,
    pearl_q_target,
    product_of_gaussians,
    save_agent,
    train_pearl,
)

ENV_ID = "peach_lite/PointRobotSparse-v0"
TINY = dict(hidden=(16, 16), encoder_hidden=(16,), latent_dim=3, meta_batch=4, batch_size=8, context_batch=16,
            num_initial_steps=20, num_tasks_sample=3, num_steps_prior=20, num_steps_posterior=40,
            num_train_steps_per_itr=3, replay_buffer_size=500, num_eval_trajectories=4, num_exp_traj_eval=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small networks: one thread is as fast and never oversubscribes a shared CPU (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def rollouts():
    pool = TaskRollouts(ENV_ID, sparse_rewards=True, seed=0)
    yield pool
    pool.close()


def tiny_agent(rollouts, **overrides):
    config = PearlConfig(**{**TINY, **overrides})
    return PEARL(rollouts.obs_dim, rollouts.action_dim, len(rollouts.train_tasks), config,
                 action_low=rollouts.action_low, action_high=rollouts.action_high, device="cpu")


@pytest.fixture(scope="module")
def trained(rollouts):
    """A tiny agent after one meta-training iteration (buffers filled, a few updates)."""
    agent = tiny_agent(rollouts)
    history = train_pearl(agent, rollouts, 1, progress=False)
    return agent, history


# ------------------------------------------------------------------------------ posterior algebra


def test_product_of_gaussians_equals_the_conjugate_posterior():
    n, s2 = 8, 0.5
    x = torch.randn(1, n, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    mu, var = product_of_gaussians(x, torch.full_like(x, s2))
    torch.testing.assert_close(var, torch.full((1, 5), s2 / n, dtype=torch.float64))
    assert abs(var[0, 0].item() - 0.0625) < 1e-12
    torch.testing.assert_close(mu, x.mean(dim=1), atol=1e-6, rtol=0)
    # with the N(0, 1) prior as one more factor: variance 1 / (1 + n / s^2), mean shrunk towards 0
    with_prior = torch.cat([x, torch.zeros(1, 1, 5, dtype=torch.float64)], dim=1)
    mu_p, var_p = product_of_gaussians(with_prior, torch.cat([torch.full_like(x, s2), torch.ones(1, 1, 5, dtype=torch.float64)], 1))
    assert abs(var_p[0, 0].item() - 1 / (1 + n / s2)) < 1e-12 and abs(var_p[0, 0].item() - 0.058824) < 1e-6
    torch.testing.assert_close(mu_p, (x.sum(1) / s2) / (1 + n / s2), atol=1e-6, rtol=0)


def test_factor_with_huge_variance_has_no_effect_and_the_clamp_is_1e_minus_7():
    g = torch.Generator().manual_seed(1)
    mu, var = torch.randn(2, 6, 4, generator=g), 0.1 + torch.rand(2, 6, 4, generator=g)
    base = product_of_gaussians(mu, var)
    for big in (1e30, math.inf):
        extra_mu = torch.cat([mu, 100 * torch.randn(2, 1, 4, generator=g)], dim=1)
        extra_var = torch.cat([var, torch.full((2, 1, 4), big)], dim=1)
        for a, b in zip(product_of_gaussians(extra_mu, extra_var), base):
            torch.testing.assert_close(a, b)
    # a zero variance is clamped to 1e-7: three such factors give 1e-7 / 3, and the mean stays finite
    mu0, var0 = product_of_gaussians(torch.tensor([[[1.0], [2.0], [3.0]]]), torch.zeros(1, 3, 1))
    assert abs(var0.item() - 1e-7 / 3) < 1e-12 and abs(mu0.item() - 2.0) < 1e-5
    # one clamped factor dominates a unit-variance one
    mu1, _ = product_of_gaussians(torch.tensor([[[5.0], [-5.0]]]), torch.tensor([[[0.0], [1.0]]]))
    assert abs(mu1.item() - 5.0) < 1e-5


def test_encoder_posterior_is_permutation_invariant():
    torch.manual_seed(0)
    encoder = ContextEncoder(context_dim=5, latent_dim=5, hidden=(32, 32))
    context = torch.randn(3, 50, 5)
    mu, var = encoder(context)
    perm = torch.randperm(50)
    mu_p, var_p = encoder(context[:, perm])
    torch.testing.assert_close(mu_p, mu, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(var_p, var, atol=1e-6, rtol=1e-5)
    # but not invariant to *which* transitions are in the context
    assert not torch.allclose(encoder(context[:, :25])[0], mu)
    # the posterior is exactly the product of the per-transition factors, task by task
    m, v = encoder.factors(context)
    for t in range(3):
        torch.testing.assert_close(product_of_gaussians(m[t : t + 1], v[t : t + 1])[0][0], mu[t])
    # a masked-out row changes nothing
    mask = torch.ones(3, 51, dtype=torch.bool)
    mask[:, -1] = False
    padded = torch.cat([context, 9 * torch.ones(3, 1, 5)], dim=1)
    torch.testing.assert_close(encoder(padded, mask)[0], mu, atol=1e-6, rtol=1e-5)


def test_kl_closed_form_summed_over_tasks_matches_torch_distributions():
    g = torch.Generator().manual_seed(2)
    mu, var = torch.randn(16, 5, generator=g), 0.05 + 2 * torch.rand(16, 5, generator=g)
    posterior = torch.distributions.Normal(mu, var.sqrt())
    prior = torch.distributions.Normal(torch.zeros(5), torch.ones(5))
    per_task = torch.distributions.kl_divergence(posterior, prior).sum(-1)
    torch.testing.assert_close(kl_to_prior(mu, var), per_task, atol=1e-5, rtol=1e-5)
    for kl_lambda in (1.0, 0.1):
        torch.testing.assert_close(pearl_kl_loss(mu, var, kl_lambda), kl_lambda * per_task.sum(), atol=1e-4, rtol=1e-5)
    assert pearl_kl_loss(torch.zeros(4, 5), torch.ones(4, 5), 1.0).item() == 0.0


def test_q_target_uses_one_z_per_task_and_carries_no_gradient():
    net = torch.nn.Linear(2 + 3, 1)
    calls = []

    def target_value(obs, z):
        calls.append(z)
        return net(torch.cat([obs, z], -1)).squeeze(-1)

    z = torch.randn(4, 3, requires_grad=True)
    reward, done, next_obs = -torch.rand(4, 6), torch.zeros(4, 6), torch.randn(4, 6, 2)
    done[0, 0] = 1.0
    y = pearl_q_target(target_value, reward, done, next_obs, z, reward_scale=100.0, gamma=0.9)
    assert y.shape == (4, 6) and not y.requires_grad
    assert torch.equal(calls[0][2, 5], z[2].detach())  # task 2's z at every one of its transitions
    v = target_value(next_obs, z[:, None].expand(4, 6, 3)).detach()
    torch.testing.assert_close(y, 100.0 * reward + (1 - done) * 0.9 * v)
    assert y[0, 0].item() == pytest.approx(100.0 * reward[0, 0].item())  # terminal: no bootstrap


def test_checkers_accept_the_reference_and_reject_mistakes():
    assert checks.check_product_of_gaussians(product_of_gaussians)
    assert checks.check_kl_loss(pearl_kl_loss)
    assert checks.check_q_target(pearl_q_target)
    assert not checks.check_product_of_gaussians(lambda m, v: (m.mean(-2), v.mean(-2)))
    assert not checks.check_kl_loss(lambda m, v, lam: lam * kl_to_prior(m, v).mean())  # mean over tasks: wrong

    def no_detach(tv, r, d, no, z, *, reward_scale, gamma):
        return reward_scale * r + (1 - d) * gamma * tv(no, z[:, None].expand(*no.shape[:-1], z.shape[-1]))

    assert not checks.check_q_target(no_detach)


# ------------------------------------------------------------------------------ gradient routing


def test_encoder_gets_gradients_only_from_the_q_loss_and_the_kl(trained):
    agent, _ = trained
    losses = agent.compute_losses()
    params = list(agent.encoder.parameters())
    for name in ("q_loss", "kl_loss"):
        grads = torch.autograd.grad(losses[name], params, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name} must reach the encoder"
    for name in ("v_loss", "policy_loss"):
        grads = torch.autograd.grad(losses[name], params, retain_graph=True, allow_unused=True)
        assert all(g is None or torch.count_nonzero(g) == 0 for g in grads), f"{name} must not reach the encoder"
    # and each loss reaches its own network
    for name, module in (("q_loss", agent.critic), ("v_loss", agent.vf), ("policy_loss", agent.policy)):
        grads = torch.autograd.grad(losses[name], list(module.parameters()), retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_v_and_policy_inputs_hold_a_detached_z_while_q_sees_z(trained):
    agent, _ = trained
    seen = {}

    def record(name):
        def hook(module, args):
            seen.setdefault(name, []).append(args[0].requires_grad)
        return hook

    handles = [agent.vf.register_forward_pre_hook(record("vf")), agent.policy.net.register_forward_pre_hook(record("policy")),
               agent.critic.net.register_forward_pre_hook(record("critic"))]
    try:
        agent.update()
    finally:
        for handle in handles:
            handle.remove()
    assert seen["vf"] == [False] and seen["policy"] == [False]  # z.detach(): no path back to the encoder
    assert seen["critic"][0] is True  # the Q-loss forward: z carries the encoder's graph
    assert len(seen["critic"]) == 2  # then min Q(s, a~, z.detach()) for V and the policy (routing tested above)
    # the update moved the encoder
    before = [p.clone() for p in agent.encoder.parameters()]
    agent.update()
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.encoder.parameters()))


# ------------------------------------------------------------------------------ schedules


def test_collection_routes_dense_reward_to_sac_and_sparse_reward_to_the_context(trained, rollouts):
    agent, history = trained
    cfg = agent.config
    # initial collection + one iteration
    assert history.total_steps == cfg.num_initial_steps * 80 + cfg.num_tasks_sample * (cfg.num_steps_prior + cfg.num_steps_posterior)
    batch = agent.rl_buffer.sample(64, list(range(80)))
    dense, sparse = batch["reward"], batch["context_reward"]
    assert (dense <= 0).all() and (sparse >= 0).all()
    inside = -dense <= 0.2 + 1e-6
    torch.testing.assert_close(sparse, torch.where(inside, 1 + dense, torch.zeros_like(dense)), atol=1e-5, rtol=0)
    # the encoder buffer of a task sampled this iteration holds exactly this iteration's collection
    sizes = sorted({agent.enc_buffer.size(t) for t in range(80)})
    assert set(sizes) <= {cfg.num_initial_steps, cfg.num_steps_prior + cfg.num_steps_posterior}
    assert cfg.num_steps_prior + cfg.num_steps_posterior in sizes


def test_meta_test_uses_prior_samples_first_then_the_posterior(trained, rollouts):
    agent, _ = trained
    result = meta_test(agent, rollouts, rollouts.test_tasks[:5], num_trajectories=5, num_exploration=2, record_paths=True)
    assert result.returns.shape == (5, 5) and result.z_mean.shape == (5, 5, 3)
    assert result.paths.shape == (5, 5, 21, 2)
    assert np.all(result.z_var[:, :2] == 1.0) and np.all(result.z_mean[:, :2] == 0.0)  # trajectories 1-2: prior
    assert np.all(result.z_var[:, 2:] < 1.0)  # trajectory 3 on: posterior from all accumulated context
    # the posterior tightens as context accumulates (product of more factors)
    assert np.all(result.z_var[:, 4] <= result.z_var[:, 2] + 1e-7)
    oracle = point_robot_oracle_return(np.array([t.goal for t in rollouts.test_tasks[:5]]), per_goal=True)
    assert np.all(result.returns <= oracle[:, None] + 1e-6)  # no agent beats the oracle
    np.testing.assert_allclose(result.paths[:, :, 0], 0.0)  # every trajectory starts at (0, 0)


def test_deterministic_z_ablation_has_no_kl_and_a_point_prior(rollouts):
    agent = tiny_agent(rollouts, probabilistic_z=False)
    train_pearl(agent, rollouts, 1, progress=False)
    losses = agent.compute_losses()
    assert losses["kl_loss"].item() == 0.0
    result = meta_test(agent, rollouts, rollouts.test_tasks[:3], num_trajectories=3, num_exploration=1)
    assert np.all(result.z_var == 0.0) and np.all(result.z_mean[:, 0] == 0.0)
    assert not np.allclose(result.z_mean[:, 1], 0.0)


@pytest.mark.parametrize("mode", ["off_policy", "same_batch"])
def test_context_sampling_ablations_run(rollouts, mode):
    agent = tiny_agent(rollouts, context_sampling=mode, num_initial_steps=20)
    history = train_pearl(agent, rollouts, 1, progress=False)
    assert history.num_updates == agent.config.num_train_steps_per_itr
    batch = agent.rl_buffer.sample(8, [0, 1])
    context = agent.sample_context([0, 1], batch)
    assert context.shape == ((2, 8, agent.context_dim) if mode == "same_batch" else (2, agent.config.context_batch, agent.context_dim))


def test_dense_context_diagnostic_feeds_the_dense_reward_to_the_encoder_only(rollouts):
    agent = tiny_agent(rollouts, dense_context=True, num_initial_steps=20)
    train_pearl(agent, rollouts, 1, progress=False)
    batch = agent.rl_buffer.sample(16, [0, 1])
    assert (batch["reward"] != batch["context_reward"]).any()  # dense vs sparse really differ
    assert torch.equal(agent.make_context(batch)[..., -1], batch["reward"])  # the encoder reads the dense one
    result = meta_test(agent, rollouts, rollouts.test_tasks[:3], num_trajectories=2, num_exploration=1)
    assert (result.returns >= 0).all()  # scores stay sparse (dense rewards are negative)


def test_same_seed_gives_identical_training(rollouts):
    def run():
        agent = tiny_agent(rollouts, seed=3)
        pool = TaskRollouts(ENV_ID, sparse_rewards=True, seed=3)
        history = train_pearl(agent, pool, 1, progress=False)
        result = meta_test(agent, pool, pool.test_tasks[:4], seed=1)
        return agent, history, result

    (a, ha, ra), (b, hb, rb) = run(), run()
    for (name, pa), (_, pb) in zip(a.policy.named_parameters(), b.policy.named_parameters()):
        assert torch.equal(pa, pb), name
    for pa, pb in zip(a.encoder.parameters(), b.encoder.parameters()):
        assert torch.equal(pa, pb)
    assert ha.returns == hb.returns
    np.testing.assert_array_equal(ra.returns, rb.returns)
    c = tiny_agent(rollouts, seed=4)
    assert not torch.equal(next(c.policy.parameters()), next(a.policy.parameters()))


def test_checkpoint_round_trip(trained, rollouts, tmp_path):
    agent, _ = trained
    path = save_agent(agent, tmp_path / "pearl.pt", env_id=ENV_ID, meta={"note": "test"})
    loaded, payload = load_agent(path)
    assert payload["arch"]["config"]["latent_dim"] == 3
    context = torch.randn(2, 10, agent.context_dim)
    for a, b in zip(agent.infer_posterior(context), loaded.infer_posterior(context)):
        torch.testing.assert_close(a, b)
    r1 = meta_test(agent, rollouts, rollouts.test_tasks[:3], seed=5)
    r2 = meta_test(loaded, rollouts, rollouts.test_tasks[:3], seed=5)
    np.testing.assert_allclose(r1.returns, r2.returns)
    assert isinstance(evaluate_checkpoint(path, num_evals=1), float)


# ------------------------------------------------------------------------------ config


def test_config_defaults_are_the_sparse_point_robot_reference():
    cfg = PearlConfig()
    assert (cfg.latent_dim, cfg.hidden, cfg.encoder_hidden) == (5, (300, 300, 300), (200, 200, 200))
    assert (cfg.kl_lambda, cfg.reward_scale, cfg.gamma, cfg.context_batch, cfg.batch_size, cfg.meta_batch) == (1.0, 100.0, 0.9, 1024, 256, 16)
    assert (cfg.num_steps_prior, cfg.num_steps_posterior, cfg.num_exp_traj_eval, cfg.num_eval_trajectories) == (100, 900, 5, 20)
    vel = PearlConfig.preset("cheetah-vel")
    assert (vel.kl_lambda, vel.reward_scale, vel.context_batch, vel.gamma, vel.sparse_rewards) == (0.1, 5.0, 100, 0.99, False)
    for name in PRESETS:
        PearlConfig.preset(name)


@pytest.mark.parametrize("field, value", [
    ("latent_dim", 0), ("hidden", ()), ("encoder_hidden", (8, -1)), ("kl_lambda", -1.0), ("reward_scale", 0.0),
    ("gamma", 1.5), ("tau", -0.1), ("context_lr", 0.0), ("meta_batch", 0), ("batch_size", 2.5), ("context_batch", 0),
    ("context_sampling", "everything"), ("num_steps_prior", -1), ("update_post_train", 0), ("probabilistic_z", 1),
    ("num_exp_traj_eval", 30), ("seed", -1),
])
def test_bad_config_values_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PearlConfig(**{field: value})


def test_preset_errors_name_the_problem():
    with pytest.raises(ValueError, match="name"):
        PearlConfig.preset("no-such-run")
    with pytest.raises(ValueError, match="unknown PearlConfig field"):
        PearlConfig.preset("sparse-point-robot", lattent_dim=3)


# ------------------------------------------------------------------------------ the pretrained checkpoint

CHECKPOINT = REPO_ROOT / "data" / "checkpoints" / "pearl_point_robot.pt"


@pytest.fixture(scope="module")
def checkpoint_score(rollouts):
    """(score, oracle, seconds) of the stored checkpoint, evaluated once for the tests below."""
    if not CHECKPOINT.exists():
        pytest.skip("data/checkpoints/pearl_point_robot.pt not trained yet")
    goals = np.array([t.goal for t in rollouts.test_tasks])
    start = time.perf_counter()
    score = evaluate_checkpoint(CHECKPOINT)
    return score, point_robot_oracle_return(goals), time.perf_counter() - start


def test_pretrained_checkpoint_reevaluates_quickly_and_below_the_oracle(checkpoint_score):
    score, oracle, seconds = checkpoint_score
    assert seconds < 30.0
    assert 0.0 <= score <= oracle + 1e-6


@pytest.mark.xfail(reason="issue 5 is open: the CPU-budget checkpoint (80 iterations, see data/MANIFEST.json and "
                          "data/results/pearl_point_robot.json) is far below 0.85 x oracle", strict=False)
def test_pretrained_checkpoint_reaches_the_target(checkpoint_score):
    score, oracle, _ = checkpoint_score
    assert score >= 0.85 * oracle, f"final-trajectory return {score:.2f} < 0.85 x oracle {oracle:.2f}"
