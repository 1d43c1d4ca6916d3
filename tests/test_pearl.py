"""Tests for peach_lite.pearl: the losses and their gradient routing, the collection schedule through
loop.train, meta-testing through the shared posterior.meta_test, determinism, checkpoints and config validation.
(The posterior algebra itself is tested in tests/test_posterior.py.)"""
import dataclasses
import time

import numpy as np
import pytest
import torch

from peach_lite import checks
from peach_lite.checkpoints import evaluate_checkpoint, load_agent, save_agent
from peach_lite.cli import main as cli_main
from peach_lite.envs.oracles import point_robot_oracle_return
from peach_lite.loop import Agent, GymTaskEnvs, Runner, TaskBatch, run_episodes
from peach_lite.paths import REPO_ROOT
from peach_lite.pearl import CLI, PEARL, PRESETS, PearlConfig, meta_train, pearl_kl_loss, pearl_q_target
from peach_lite.posterior import PosteriorAgent, kl_to_prior, meta_test, product_of_gaussians, repeated_meta_test

ENV_ID = "peach_lite/PointRobotSparse-v0"
TINY = dict(hidden=(16, 16), encoder_hidden=(16,), latent_dim=3, meta_batch=4, batch_size=8, context_batch=16,
            num_initial_steps=20, num_tasks_sample=3, num_steps_prior=20, num_steps_posterior=40,
            num_train_steps_per_itr=3, replay_buffer_size=500, num_eval_trajectories=4, num_exp_traj_eval=2)


@pytest.fixture(scope="module")
def envs():
    pool = GymTaskEnvs(ENV_ID, seed=0)
    yield pool
    pool.close()


def tiny_agent(envs, **overrides):
    return PEARL.for_env(envs, PearlConfig(**{**TINY, **overrides}))


@pytest.fixture(scope="module")
def trained(envs):
    """A tiny agent after one meta-training iteration through loop.train (buffers filled, a few updates)."""
    agent = tiny_agent(envs)
    history = meta_train(agent, envs, 1, progress=False)
    return agent, history


def test_pearl_is_an_agent_and_a_posterior_agent(trained):
    agent, _ = trained
    assert isinstance(agent, Agent) and isinstance(agent, PosteriorAgent)


# ------------------------------------------------------------------------------ losses


def test_kl_loss_is_summed_over_tasks():
    g = torch.Generator().manual_seed(2)
    mu, var = torch.randn(16, 5, generator=g), 0.05 + 2 * torch.rand(16, 5, generator=g)
    for kl_lambda in (1.0, 0.1):
        torch.testing.assert_close(pearl_kl_loss(mu, var, kl_lambda), kl_lambda * kl_to_prior(mu, var).sum())
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


def _grads(loss, module):
    return torch.autograd.grad(loss, list(module.parameters()), retain_graph=True, allow_unused=True)


def test_gradient_routing_is_exactly_zero_where_none_should_flow(trained):
    agent, _ = trained
    losses = agent.losses(agent.sample_batch())
    assert set(losses) == {"kl_loss", "q_loss", "v_loss", "policy_loss"}
    reaches = {  # (loss, network) -> must a gradient flow? (oyster sac.py::_take_step)
        ("q_loss", "encoder"): True, ("kl_loss", "encoder"): True, ("v_loss", "encoder"): False, ("policy_loss", "encoder"): False,
        ("q_loss", "critic"): True, ("v_loss", "critic"): False, ("policy_loss", "critic"): False, ("kl_loss", "critic"): False,
        ("v_loss", "vf"): True, ("q_loss", "vf"): False, ("policy_loss", "vf"): False,
        ("policy_loss", "policy"): True, ("q_loss", "policy"): False, ("kl_loss", "policy"): False,
    }
    modules = agent.modules()
    for (name, module), flows in reaches.items():
        grads = _grads(losses[name], modules[module])
        if flows:
            assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name} must reach {module}"
        else:
            assert all(g is None or torch.count_nonzero(g) == 0 for g in grads), f"{name} must not reach {module}"
    assert not any(p.requires_grad for p in agent.vf_target.parameters())  # V' moves only by Polyak averaging


def test_a_given_z_bypasses_the_encoder(trained):
    agent, _ = trained
    batch = agent.sample_batch([0, 1, 2])
    losses = agent.losses(batch, cond=torch.zeros(3, agent.config.latent_dim))
    assert losses["kl_loss"].item() == 0.0
    assert all(g is None for g in _grads(losses["q_loss"], agent.encoder))


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
    assert seen["critic"][0] is True and len(seen["critic"]) == 2  # the Q loss sees z; then min Q(s, a~, z.detach())
    before = [p.clone() for p in agent.encoder.parameters()]
    agent.update()
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.encoder.parameters()))


# ------------------------------------------------------------------------------ collection (Algorithm 1)


def test_collection_routes_dense_reward_to_sac_and_sparse_reward_to_the_context(trained):
    agent, history = trained
    cfg = agent.config
    assert history.rounds == 1 and history.num_updates == cfg.num_train_steps_per_itr
    assert history.total_steps == cfg.num_initial_steps * 80 + cfg.num_tasks_sample * (cfg.num_steps_prior + cfg.num_steps_posterior)
    batch = agent.rl_buffer.sample(64, list(range(80)))
    dense, sparse = batch["reward"], batch["context_reward"]
    assert (dense <= 0).all() and (sparse >= 0).all()
    inside = -dense <= 0.2 + 1e-6
    torch.testing.assert_close(sparse, torch.where(inside, 1 + dense, torch.zeros_like(dense)), atol=1e-5, rtol=0)
    # the encoder buffer of a task sampled this iteration holds exactly this iteration's collection (cleared first)
    sizes = sorted({agent.enc_buffer.size(t) for t in range(80)})
    assert set(sizes) <= {cfg.num_initial_steps, cfg.num_steps_prior + cfg.num_steps_posterior}
    assert cfg.num_steps_prior + cfg.num_steps_posterior in sizes
    assert len(history.eval_values) == 0  # eval_every=0: no meta-test


def test_extra_rl_steps_skip_the_encoder_buffer_and_the_posterior_is_refreshed_per_trajectory(envs):
    agent = tiny_agent(envs, num_initial_steps=20, num_tasks_sample=2, num_steps_prior=0, num_steps_posterior=0,
                       num_extra_rl_steps_posterior=40, update_post_train=1)
    for task in range(3):  # seed both buffers so that the posterior can be inferred
        rows = {"obs": torch.zeros(20, 2), "action": torch.zeros(20, 2), "reward": torch.zeros(20), "next_obs": torch.zeros(20, 2),
                "done": torch.zeros(20), "context_reward": torch.zeros(20)}
        agent.rl_buffer.add_batch(task, **rows)
        agent.enc_buffer.add_batch(task, **rows)
    runner = Runner(envs, envs.unwrapped.train_tasks(), seed=0)
    inferred = []
    original = agent.posterior.infer
    agent.posterior.infer = lambda *a, **k: inferred.append(1) or original(*a, **k)
    try:
        episodes = agent.collect(runner, [0, 1], 40, posterior=True, to_encoder=False)
    finally:
        agent.posterior.infer = original
    assert episodes.num_steps == 80 and len(inferred) == 2  # 2 trajectories per task, re-inferred after each
    assert agent.rl_buffer.size(0) == 60 and agent.enc_buffer.size(0) == 20  # RL buffer only
    assert agent.store_to_encoder


def test_meta_test_episodes_are_not_stored(trained, envs):
    agent, _ = trained
    before = len(agent.rl_buffer)
    run_episodes(agent, envs, TaskBatch.from_list(envs.unwrapped.train_tasks(), [0, 1]), explore=False)
    meta_test(agent, envs, envs.unwrapped.test_tasks()[:2])
    assert len(agent.rl_buffer) == before


# ------------------------------------------------------------------------------ meta-testing (Algorithm 2)


def test_meta_test_uses_prior_samples_first_then_the_posterior_and_holds_z(trained, envs):
    agent, _ = trained
    tasks = envs.unwrapped.test_tasks()[:5]
    zs, latent = [], agent.config.latent_dim  # the policy's input is [obs, z]: record z at every step
    handle = agent.policy.net.register_forward_pre_hook(lambda module, args: zs.append(args[0][:, -latent:].clone()))
    try:
        schedule = dataclasses.replace(agent.schedule, num_trajectories=5, num_exploration=2)
        result = meta_test(agent, envs, tasks, schedule, record_paths=True)
    finally:
        handle.remove()
    assert result.returns.shape == (5, 5) and result.z_mean.shape == (5, 5, 3) and result.paths.shape == (5, 5, 21, 2)
    assert np.all(result.z_var[:, :2] == 1.0) and np.all(result.z_mean[:, :2] == 0.0)  # trajectories 1-2: prior
    assert np.all(result.z_var[:, 2:] < 1.0)  # trajectory 3 on: posterior from all accumulated context
    assert np.all(result.z_var[:, 4] <= result.z_var[:, 2] + 1e-7)  # more factors, tighter posterior
    assert len(zs) == 5 * 20
    for k in range(5):  # z is constant within each trajectory and fresh for the next one
        assert all(torch.equal(z, zs[20 * k]) for z in zs[20 * k: 20 * (k + 1)])
    assert not torch.equal(zs[0], zs[20])
    oracle = point_robot_oracle_return(np.array([t.goal for t in tasks]), per_goal=True)
    assert np.all(result.returns <= oracle[:, None] + 1e-6)
    np.testing.assert_allclose(result.paths[:, :, 0], 0.0)  # every trajectory starts at (0, 0)


def test_a_repeated_meta_test_is_one_meta_test_per_seed_pair_and_leaves_the_agent_as_it_was(trained, envs):
    agent, _ = trained
    tasks = envs.unwrapped.test_tasks()[:3]
    schedule = dataclasses.replace(agent.schedule, num_trajectories=3, num_exploration=1)
    made = []

    def make_envs(seed):
        made.append(seed)
        return GymTaskEnvs(ENV_ID, seed=seed)

    state = agent.generator.get_state()
    success = repeated_meta_test(agent, make_envs, tasks, repeats=3, seed=7, schedule=schedule)
    assert success.shape == (3, 3, 3) and success.dtype == np.float64 and made == [7, 9, 11]
    assert torch.equal(agent.generator.get_state(), state)
    for k in range(3):  # repeat k is meta_test on envs seeded 7 + 2k, z and actions seeded 7 + 2k + 1
        one = meta_test(agent, GymTaskEnvs(ENV_ID, seed=7 + 2 * k), tasks, schedule, seed=8 + 2 * k)
        np.testing.assert_array_equal(success[k], one.success.astype(float))
    np.testing.assert_array_equal(repeated_meta_test(agent, make_envs, tasks, repeats=3, seed=7, schedule=schedule), success)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="repeats"):
            repeated_meta_test(agent, make_envs, tasks, repeats=bad)


def test_deterministic_z_ablation_has_no_kl_and_a_point_prior(envs):
    agent = tiny_agent(envs, probabilistic_z=False)
    meta_train(agent, envs, 1, progress=False)
    assert agent.losses(agent.sample_batch())["kl_loss"].item() == 0.0
    schedule = dataclasses.replace(agent.schedule, num_trajectories=3, num_exploration=1)
    result = meta_test(agent, envs, envs.unwrapped.test_tasks()[:3], schedule)
    assert np.all(result.z_var == 0.0) and np.all(result.z_mean[:, 0] == 0.0)
    assert not np.allclose(result.z_mean[:, 1], 0.0)


@pytest.mark.parametrize("mode", ["off_policy", "same_batch"])
def test_context_sampling_ablations_run(envs, mode):
    agent = tiny_agent(envs, context_sampling=mode)
    history = meta_train(agent, envs, 1, progress=False)
    assert history.num_updates == agent.config.num_train_steps_per_itr
    batch = agent.rl_buffer.sample(8, [0, 1])
    context = agent.sample_context([0, 1], batch)
    assert context.shape == ((2, 8, agent.context_dim) if mode == "same_batch" else (2, agent.config.context_batch, agent.context_dim))


def test_dense_context_diagnostic_feeds_the_dense_reward_to_the_encoder_only(envs):
    agent = tiny_agent(envs, dense_context=True)
    meta_train(agent, envs, 1, progress=False)
    batch = agent.rl_buffer.sample(16, [0, 1])
    assert (batch["reward"] != batch["context_reward"]).any()
    assert torch.equal(agent.make_context(batch)[..., -1], batch["reward"])
    schedule = dataclasses.replace(agent.schedule, num_trajectories=2, num_exploration=1)
    result = meta_test(agent, envs, envs.unwrapped.test_tasks()[:3], schedule)
    assert (result.returns >= 0).all()  # scores stay sparse (dense rewards are negative)


def test_same_seed_gives_identical_training_and_evaluation():
    def run(seed):
        pool = GymTaskEnvs(ENV_ID, seed=seed)
        agent = tiny_agent(pool, seed=seed)
        history = meta_train(agent, pool, 1, eval_every=1, progress=False)
        return agent, history, meta_test(agent, pool, pool.unwrapped.test_tasks()[:4], seed=1)

    (a, ha, ra), (b, hb, rb) = run(3), run(3)
    for (name, pa), (_, pb) in zip(a.policy.named_parameters(), b.policy.named_parameters()):
        assert torch.equal(pa, pb), name
    for pa, pb in zip(a.encoder.parameters(), b.encoder.parameters()):
        assert torch.equal(pa, pb)
    assert ha.returns == hb.returns and ha.eval_values == hb.eval_values and len(ha.eval_values) == 1
    np.testing.assert_array_equal(ra.returns, rb.returns)
    c = tiny_agent(GymTaskEnvs(ENV_ID), seed=4)
    assert not torch.equal(next(c.policy.parameters()), next(a.policy.parameters()))


# ------------------------------------------------------------------------------ checkpoints and the CLI


def test_checkpoint_round_trip_through_the_shared_save_and_load(trained, envs, tmp_path):
    agent, _ = trained
    path = save_agent(agent, tmp_path / "pearl.pt", meta={"note": "test"})
    loaded, payload = load_agent(path, algorithm="pearl")
    assert payload["arch"]["algorithm"] == "pearl" and payload["arch"]["config"]["latent_dim"] == 3
    context = torch.randn(2, 10, agent.context_dim)
    for a, b in zip(agent.posterior.infer(context).mean, loaded.posterior.infer(context).mean):
        torch.testing.assert_close(a, b)
    tasks = envs.unwrapped.test_tasks()[:3]
    np.testing.assert_allclose(meta_test(agent, envs, tasks, seed=5).returns, meta_test(loaded, envs, tasks, seed=5).returns)
    assert isinstance(loaded.checkpoint_score(payload, num_evals=1), float)


def test_cli_trains_saves_and_reevaluates(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    settings = ["iterations=1", "eval_every=0", "hidden=[16, 16]", "encoder_hidden=[16]", "num_initial_steps=20",
                "num_tasks_sample=2", "num_steps_posterior=20", "num_train_steps_per_itr=2", "num_evals=1",
                "num_eval_trajectories=2", "num_exp_traj_eval=1", "meta_batch=2", "batch_size=8", "context_batch=8"]
    score = cli_main(["train", "pearl", "--preset", "point-robot", "--seed", "1", "--out", str(out), "--no-record",
                      "--no-progress", *[a for s in settings for a in ("--set", s)]])
    assert out.exists() and isinstance(score, float)
    agent, payload = load_agent(out)
    assert payload["meta"]["iterations"] == 1 and payload["arch"]["env_id"] == ENV_ID
    assert list(CLI.presets)[0] == "point-robot"


# ------------------------------------------------------------------------------ config


def test_config_defaults_are_the_sparse_point_robot_reference():
    cfg = PearlConfig()
    assert (cfg.latent_dim, cfg.hidden, cfg.encoder_hidden) == (5, (300, 300, 300), (200, 200, 200))
    assert (cfg.kl_lambda, cfg.reward_scale, cfg.gamma, cfg.context_batch, cfg.batch_size, cfg.meta_batch) == (1.0, 100.0, 0.9, 1024, 256, 16)
    assert (cfg.num_steps_prior, cfg.num_steps_posterior, cfg.num_exp_traj_eval, cfg.num_eval_trajectories) == (100, 900, 5, 20)
    schedule = cfg.schedule()
    assert (schedule.num_steps_prior, schedule.num_steps_posterior, schedule.num_exploration, schedule.num_trajectories) == (100, 900, 5, 20)
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


def test_preset_and_argument_errors_name_the_problem(trained, envs):
    with pytest.raises(ValueError, match="name"):
        PearlConfig.preset("no-such-run")
    with pytest.raises(ValueError, match="unknown PearlConfig field"):
        PearlConfig.preset("sparse-point-robot", lattent_dim=3)
    agent, _ = trained
    with pytest.raises(ValueError, match="num_iterations"):
        meta_train(agent, envs, 0)
    with pytest.raises(ValueError, match="runner.tasks"):
        agent.collect_round(Runner(envs, envs.unwrapped.test_tasks()), 0)
    with pytest.raises(ValueError, match="num_updates"):
        agent.learn(-1)


# ------------------------------------------------------------------------------ the pretrained checkpoints

CHECKPOINT = REPO_ROOT / "data" / "checkpoints" / "pearl_point_robot.pt"


@pytest.fixture(scope="module")
def checkpoint_score():
    """(score, oracle, seconds) of the stored checkpoint, evaluated once through checkpoints.evaluate_checkpoint."""
    if not CHECKPOINT.exists():
        pytest.skip("data/checkpoints/pearl_point_robot.pt not trained yet")
    goals = np.array([t.goal for t in GymTaskEnvs(ENV_ID).unwrapped.test_tasks()])
    start = time.perf_counter()
    score = evaluate_checkpoint(CHECKPOINT)
    return score, point_robot_oracle_return(goals), time.perf_counter() - start


def test_pretrained_checkpoint_reevaluates_quickly_and_below_the_oracle(checkpoint_score):
    score, oracle, seconds = checkpoint_score
    assert seconds < 30.0
    assert 0.0 <= score <= oracle + 1e-6


@pytest.mark.xfail(reason="issue 11: not reached on a CPU budget. This file (80 iterations, faithful PEARL) scores 0.06 x oracle; "
                          "with hindsight task relabelling, 24 iterations (12k updates, ~4 CPU-min per seed) reach 0.087 x oracle "
                          "over 3 seeds (data/results/pearl_point_robot.json). The diagnostics show why: given a paid context the "
                          "relabelled agents end 0.24 from the goal (faithful 0.93), but exploration finds few goals", strict=False)
@pytest.mark.parametrize("name", ["pearl_point_robot.pt", "pearl_point_robot_htr.pt"])
def test_pretrained_checkpoint_reaches_the_target(name):
    path = REPO_ROOT / "data" / "checkpoints" / name
    if not path.exists():
        pytest.skip(f"{name} not trained yet")
    goals = np.array([t.goal for t in GymTaskEnvs(ENV_ID).unwrapped.test_tasks()])
    score, oracle = evaluate_checkpoint(path), point_robot_oracle_return(goals)
    assert score >= 0.85 * oracle, f"final-trajectory return {score:.2f} < 0.85 x oracle {oracle:.2f}"
