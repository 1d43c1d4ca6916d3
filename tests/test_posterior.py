"""Tests for peach_lite.posterior: the posterior algebra (algorithms.md §5 items 1-3), the ContextPosterior
component, the PosteriorSchedule, and meta_test on an agent that is not PEARL (the PosteriorAgent protocol)."""
import math

import numpy as np
import pytest
import torch

from peach_lite.loop import Episodes, GymTaskEnvs, TaskBatch
from peach_lite.posterior import (
    Belief,
    ContextEncoder,
    ContextPosterior,
    PosteriorAgent,
    PosteriorSchedule,
    consistent_hypotheses,
    consistent_mass_loss,
    elimination_loss,
    kl_to_prior,
    kl_to_uniform,
    meta_test,
    product_of_categoricals,
    product_of_gaussians,
)

ENV_ID = "peach_lite/PointRobotSparse-v0"


# ------------------------------------------------------------------------------ algebra


def _sparse_reward(achieved, goal, threshold=0.5):
    return -(np.linalg.norm(np.asarray(achieved) - np.asarray(goal), axis=-1) > threshold).astype(np.float32)


def test_consistent_hypotheses_keep_the_goals_that_give_every_kept_row_its_reward():
    goals = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], np.float32)
    achieved = torch.tensor([[[0.1, 0.0], [3.0, 0.1]],    # failed at goals 0 and 1: only goal 2 is left
                             [[0.0, 3.1], [9.0, 9.0]],    # paid at goal 2 (row 0), a failure far away
                             [[0.0, 0.0], [0.0, 0.0]]])   # a failure at goal 0, but no row is kept
    reward = torch.tensor([[-1.0, -1.0], [0.0, -1.0], [-1.0, -1.0]])
    keep = torch.tensor([[True, True], [True, True], [False, False]])
    consistent = consistent_hypotheses(achieved, reward, keep, goals, _sparse_reward)
    assert consistent.tolist() == [[False, False, True], [False, False, True], [True, True, True]]
    keep[0, 1] = False  # only the failure at goal 0 counts: goals 1 and 2 are left
    assert consistent_hypotheses(achieved, reward, keep, goals, _sparse_reward)[0].tolist() == [False, True, True]
    with pytest.raises(ValueError, match="keep"):
        consistent_hypotheses(achieved, reward, keep[:, :1], goals, _sparse_reward)


def test_the_elimination_loss_is_the_kl_to_the_likeliest_consistent_code():
    codes = Belief(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]]), torch.full((3, 2), 0.1))
    mean = torch.tensor([[1.5, 0.0], [1.5, 0.0], [0.0, 0.0]], requires_grad=True)
    belief = Belief(mean, torch.full((3, 2), 0.5))
    consistent = torch.tensor([[True, True, True], [True, False, True], [False, False, False]])
    loss = elimination_loss(belief, codes, consistent)

    def kl(k, t):  # closed form, KL(N(code_k) || q_t) summed over dims
        m, v, mq, vq = codes.mean[k], codes.var[k], mean[t].detach(), belief.var[t]
        return (0.5 * (torch.log(vq / v) + (v + (m - mq) ** 2) / vq - 1)).sum()

    # slot 0: code 1 is nearest; slot 1: code 1 is ruled out, code 0 is the likeliest left; slot 2: nothing left (skipped)
    torch.testing.assert_close(loss.detach(), (kl(1, 0) + kl(0, 1)) / 2)
    loss.backward()
    assert mean.grad[0, 0] < 0 < mean.grad[1, 0]  # each mean is pulled towards its own target: up to 2, down to 0 in x
    assert torch.equal(mean.grad[2], torch.zeros(2))  # no hypothesis left: no gradient
    nothing = elimination_loss(belief, codes, torch.zeros(3, 3, dtype=torch.bool))
    assert nothing.item() == 0.0
    with pytest.raises(ValueError, match="consistent"):
        elimination_loss(belief, codes, consistent[:, :2])


def test_the_consistent_mass_loss_is_minus_the_log_probability_of_landing_on_a_hypothesis_left():
    codes = Belief(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]]), torch.full((3, 2), 0.1))
    mean = torch.tensor([[1.0, 0.0], [1.5, 0.0], [0.0, 0.0]], requires_grad=True)
    belief = Belief(mean, torch.full((3, 2), 0.5))
    consistent = torch.tensor([[False, True, True], [True, True, True], [False, False, False]])
    loss = consistent_mass_loss(belief, codes, consistent)

    def overlap(k, t):  # closed form: the integral of q_t(z) N(z; code_k), a Gaussian density in the code's mean
        var = belief.var[t] + codes.var[k]
        return torch.exp(-((codes.mean[k] - mean[t].detach()) ** 2) / (2 * var)).div(torch.sqrt(2 * math.pi * var)).prod()

    mass_left = (overlap(1, 0) + overlap(2, 0)) / sum(overlap(k, 0) for k in range(3))
    # slot 0: code 0 is ruled out; slot 1: every code is left (-log 1 = 0); slot 2: nothing left (skipped)
    torch.testing.assert_close(loss.detach(), -torch.log(mass_left) / 2)
    loss.backward()
    assert mean.grad[0, 0] < 0  # slot 0 is pushed away from the ruled-out code at 0, towards the code at 2
    torch.testing.assert_close(mean.grad[1:], torch.zeros(2, 2))  # all left or nothing left: nothing to teach
    same = Belief(torch.zeros(3, 2), torch.full((3, 2), 0.1))  # codes that coincide: q cannot tell them apart
    mean.grad = None
    collapsed = consistent_mass_loss(belief, same, consistent)
    torch.testing.assert_close(collapsed.detach(), torch.tensor(math.log(3 / 2) / 2))
    collapsed.backward()
    torch.testing.assert_close(mean.grad, torch.zeros(3, 2))  # ... and gain nothing from it, unlike elimination_loss
    assert consistent_mass_loss(belief, codes, torch.zeros(3, 3, dtype=torch.bool)).item() == 0.0
    with pytest.raises(ValueError, match="consistent"):
        consistent_mass_loss(belief, codes, consistent[:, :2])


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


def test_the_product_over_two_contexts_is_the_precision_weighted_average_of_their_products():
    g = torch.Generator().manual_seed(2)
    mu, var = torch.randn(1, 7, 3, generator=g, dtype=torch.float64), 0.2 + torch.rand(1, 7, 3, generator=g, dtype=torch.float64)
    mean_a, var_a = product_of_gaussians(mu[:, :3], var[:, :3])
    mean_b, var_b = product_of_gaussians(mu[:, 3:], var[:, 3:])
    mean_ab, var_ab = product_of_gaussians(mu, var)
    torch.testing.assert_close(var_ab, 1 / (1 / var_a + 1 / var_b))
    torch.testing.assert_close(mean_ab, (mean_a / var_a + mean_b / var_b) * var_ab)
    assert ((mean_ab >= torch.minimum(mean_a, mean_b)) & (mean_ab <= torch.maximum(mean_a, mean_b))).all()  # never outside
    assert (var_ab < torch.minimum(var_a, var_b)).all()  # and narrower than either


def test_product_of_categoricals_is_the_normalised_product_and_a_zero_factor_eliminates():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(2, 6, 4, generator=g, dtype=torch.float64), dim=-1)
    q = product_of_categoricals(probs.log())
    expected = probs.prod(dim=1) / probs.prod(dim=1).sum(-1, keepdim=True)
    torch.testing.assert_close(q, expected)
    uniform = torch.full((2, 1, 4), 0.25, dtype=torch.float64)
    torch.testing.assert_close(product_of_categoricals(torch.cat([probs, uniform], 1).log()), q)  # a uniform factor: no effect
    torch.testing.assert_close(product_of_categoricals(probs.log()[:, torch.randperm(6, generator=g)]), q)  # order-free
    ruled_out = torch.tensor([[0.0, 0.5, 0.5, 0.0]], dtype=torch.float64)[None].expand(2, 1, 4)
    torch.testing.assert_close(product_of_categoricals(torch.cat([probs, ruled_out], 1).log())[:, [0, 3]], torch.zeros(2, 2, dtype=torch.float64))
    mask = torch.zeros(2, 6, dtype=torch.bool)
    torch.testing.assert_close(product_of_categoricals(probs.log(), mask), torch.full((2, 4), 0.25, dtype=torch.float64))  # empty: uniform
    mask[:, :2] = True
    torch.testing.assert_close(product_of_categoricals(probs.log(), mask), product_of_categoricals(probs[:, :2].log()))
    with pytest.raises(ValueError, match="log_probs"):
        product_of_categoricals(torch.zeros(4))


def test_kl_to_uniform_matches_torch_distributions_and_has_a_finite_gradient_at_zero():
    probs = torch.tensor([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    kl = kl_to_uniform(probs)
    reference = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=probs.detach()),
                                                  torch.distributions.Categorical(probs=torch.full((3, 4), 0.25, dtype=torch.float64)))
    torch.testing.assert_close(kl.detach(), reference)
    assert abs(kl[1].item()) < 1e-12 and abs(kl[2].item() - math.log(4)) < 1e-12  # 0 at the prior, log K at a one-hot
    kl.sum().backward()
    assert torch.isfinite(probs.grad).all()
    with pytest.raises(ValueError, match="probs"):
        kl_to_uniform(torch.ones(3, 1))


def test_the_categorical_posterior_draws_one_hot_clusters_with_its_probabilities_and_passes_gradient():
    torch.manual_seed(0)
    posterior = ContextPosterior(ContextEncoder(context_dim=5, latent_dim=4, hidden=(16,), categorical=True))
    assert posterior.categorical and posterior.probabilistic
    prior = posterior.prior(3)
    torch.testing.assert_close(prior.mean, torch.full((3, 4), 0.25)) and torch.testing.assert_close(prior.var, torch.full((3, 4), 0.1875))
    assert torch.allclose(posterior.kl(prior), torch.zeros(3), atol=1e-6)
    context = torch.randn(2, 7, 5)
    belief = posterior.infer(context)
    torch.testing.assert_close(belief.var, belief.mean * (1 - belief.mean))
    torch.testing.assert_close(belief.mean.sum(-1), torch.ones(2))
    mu, _ = posterior.encoder.factors(context)
    torch.testing.assert_close(belief.mean, product_of_categoricals(mu.log()))
    fixed = Belief(torch.tensor([[0.1, 0.6, 0.3, 0.0]]).expand(20_000, 4), torch.zeros(20_000, 4))
    draws = posterior.sample(fixed, torch.Generator().manual_seed(1))
    assert torch.equal(draws.detach().sum(-1), torch.ones(20_000)) and set(draws.detach().unique().tolist()) == {0.0, 1.0}
    assert torch.allclose(draws.detach().mean(0), fixed.mean[0], atol=0.015) and draws[:, 3].sum() == 0  # k ~ q, never a ruled-out k
    again = posterior.sample(fixed, torch.Generator().manual_seed(1))
    assert torch.equal(draws, again)  # the generator decides
    z = posterior.sample(belief, torch.Generator().manual_seed(2))
    (z * torch.randn(2, 4)).sum().backward()  # straight-through: the encoder gets a gradient through the one-hot
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in posterior.parameters())
    with pytest.raises(ValueError, match="categorical"):
        ContextEncoder(5, 4, (16,), probabilistic=False, categorical=True)
    with pytest.raises(ValueError, match="latent_dim"):
        ContextEncoder(5, 1, (16,), categorical=True)


def test_factor_with_huge_variance_has_no_effect_and_the_clamp_is_1e_minus_7():
    g = torch.Generator().manual_seed(1)
    mu, var = torch.randn(2, 6, 4, generator=g), 0.1 + torch.rand(2, 6, 4, generator=g)
    base = product_of_gaussians(mu, var)
    for big in (1e30, math.inf):
        extra_mu = torch.cat([mu, 100 * torch.randn(2, 1, 4, generator=g)], dim=1)
        extra_var = torch.cat([var, torch.full((2, 1, 4), big)], dim=1)
        for a, b in zip(product_of_gaussians(extra_mu, extra_var), base):
            torch.testing.assert_close(a, b)
    mu0, var0 = product_of_gaussians(torch.tensor([[[1.0], [2.0], [3.0]]]), torch.zeros(1, 3, 1))
    assert abs(var0.item() - 1e-7 / 3) < 1e-12 and abs(mu0.item() - 2.0) < 1e-5
    mu1, _ = product_of_gaussians(torch.tensor([[[5.0], [-5.0]]]), torch.tensor([[[0.0], [1.0]]]))
    assert abs(mu1.item() - 5.0) < 1e-5
    with pytest.raises(ValueError, match="mu and var"):
        product_of_gaussians(torch.zeros(2, 3), torch.zeros(2, 4))


def test_encoder_posterior_is_permutation_invariant_and_masks_padding():
    torch.manual_seed(0)
    encoder = ContextEncoder(context_dim=5, latent_dim=5, hidden=(32, 32))
    context = torch.randn(3, 50, 5)
    mu, var = encoder(context)
    perm = torch.randperm(50)
    mu_p, var_p = encoder(context[:, perm])
    torch.testing.assert_close(mu_p, mu, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(var_p, var, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(encoder(context[:, :25])[0], mu)  # but *which* transitions matters
    m, v = encoder.factors(context)
    for t in range(3):  # exactly the product of the per-transition factors, task by task
        torch.testing.assert_close(product_of_gaussians(m[t : t + 1], v[t : t + 1])[0][0], mu[t])
    mask = torch.ones(3, 51, dtype=torch.bool)
    mask[:, -1] = False
    padded = torch.cat([context, 9 * torch.ones(3, 1, 5)], dim=1)
    torch.testing.assert_close(encoder(padded, mask)[0], mu, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="context must have shape"):
        encoder(torch.randn(3, 50, 4))


def test_kl_closed_form_matches_torch_distributions():
    g = torch.Generator().manual_seed(2)
    mu, var = torch.randn(16, 5, generator=g), 0.05 + 2 * torch.rand(16, 5, generator=g)
    per_task = torch.distributions.kl_divergence(torch.distributions.Normal(mu, var.sqrt()),
                                                 torch.distributions.Normal(torch.zeros(5), torch.ones(5))).sum(-1)
    torch.testing.assert_close(kl_to_prior(mu, var), per_task, atol=1e-5, rtol=1e-5)
    posterior = ContextPosterior(ContextEncoder(4, 5, (8,)))
    torch.testing.assert_close(posterior.kl(Belief(mu, var)), per_task, atol=1e-5, rtol=1e-5)
    assert torch.equal(posterior.kl(posterior.prior(3)), torch.zeros(3))


def test_context_posterior_prior_sample_and_deterministic_ablation():
    torch.manual_seed(0)
    posterior = ContextPosterior(ContextEncoder(4, 3, (16,)))
    prior = posterior.prior(5)
    assert torch.equal(prior.mean, torch.zeros(5, 3)) and torch.equal(prior.var, torch.ones(5, 3))
    belief = posterior.infer(torch.randn(5, 10, 4))
    assert belief.mean.shape == belief.var.shape == (5, 3) and len(belief) == 5 and len(belief[[0, 2]]) == 2
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    z = posterior.sample(belief, g1)
    eps = torch.randn(5, 3, generator=g2)
    torch.testing.assert_close(z, belief.mean + belief.var.sqrt() * eps)  # reparameterised: rsample
    assert z.requires_grad  # gradients reach the encoder through z
    point = ContextPosterior(ContextEncoder(4, 3, (16,), probabilistic=False))
    assert torch.equal(point.prior(2).var, torch.zeros(2, 3))
    b = point.infer(torch.randn(2, 7, 4))
    assert torch.equal(point.sample(b, g1), b.mean) and torch.equal(point.kl(b), torch.zeros(2))


def test_prior_where_gives_the_prior_in_empty_rows_only_and_checks_the_mask_length():
    torch.manual_seed(0)
    posterior = ContextPosterior(ContextEncoder(4, 3, (16,)))
    belief = posterior.infer(torch.randn(4, 6, 4))
    empty = torch.tensor([True, False, True, False])
    mixed = posterior.prior_where(belief, empty)
    assert torch.equal(mixed.mean[empty], torch.zeros(2, 3)) and torch.equal(mixed.var[empty], torch.ones(2, 3))
    assert torch.equal(mixed.mean[~empty], belief.mean[~empty]) and torch.equal(mixed.var[~empty], belief.var[~empty])
    mixed.mean.sum().backward()
    assert all(p.grad is not None for p in posterior.parameters())  # the context rows still reach the encoder
    with pytest.raises(ValueError, match="empty must have shape"):
        posterior.prior_where(belief, torch.tensor([True, False]))


def test_schedule_validates_and_says_when_to_refresh():
    schedule = PosteriorSchedule(num_steps_prior=100, num_steps_posterior=300, update_post_train=2, num_exploration=2, num_trajectories=4)
    assert [schedule.refresh_after(k) for k in range(1, 5)] == [False, True, False, True]
    assert [schedule.posterior_from(k) for k in range(1, 5)] == [False, True, True, True]
    for field, value in [("update_post_train", 0), ("num_steps_prior", -1), ("num_trajectories", 0), ("num_exploration", 5)]:
        with pytest.raises(ValueError, match=field):
            PosteriorSchedule(**{field: value, "num_trajectories": 4} if field != "num_trajectories" else {field: value, "num_exploration": 0})


# ------------------------------------------------------------------------------ meta_test on any PosteriorAgent


class WalkToZ:
    """A stand-in PosteriorAgent (not PEARL): it walks in the direction z[:2]; the context is (x, y, reward)."""

    def __init__(self):
        torch.manual_seed(0)
        self.posterior = ContextPosterior(ContextEncoder(3, 2, (8,)))
        self.schedule = PosteriorSchedule(num_exploration=2, num_trajectories=4)
        self.generator = torch.Generator().manual_seed(0)
        self.belief, self.z_per_step, self.beliefs_used, self._context = None, [], [], []

    def reset_belief(self, num_tasks):
        self.belief, self._context = self.posterior.prior(num_tasks), []
        return self.belief

    def add_context(self, episodes: Episodes):
        rows = [torch.cat([s.next_obs, s.sparse_reward[:, None]], -1) for s in episodes.steps]
        self._context.append(torch.stack(rows, dim=1))

    def infer_belief(self):
        self.belief = self.posterior.infer(torch.cat(self._context, dim=1))
        return self.belief

    def begin_episode(self, tasks, *, explore):
        self.beliefs_used.append(self.belief)
        self.z = self.posterior.sample(self.belief, self.generator)
        self.z_per_step.append([])

    def act(self, obs):
        self.z_per_step[-1].append(self.z.clone())
        return self.z.clamp(-1, 1)

    def observe(self, step):
        pass

    def end_episode(self):
        pass

    def learn(self, num_updates):
        return {}


def test_meta_test_uses_the_prior_first_then_all_context_and_holds_z_within_a_trajectory():
    agent, envs = WalkToZ(), GymTaskEnvs(ENV_ID, seed=0)
    assert isinstance(agent, PosteriorAgent)
    tasks = envs.unwrapped.test_tasks()[:3]
    keep = agent.generator
    result = meta_test(agent, envs, tasks, seed=4, record_paths=True)
    assert agent.generator is keep  # its own generator is restored
    assert result.returns.shape == (3, 4) and result.z_mean.shape == (3, 4, 2) and result.paths.shape == (3, 4, 21, 2)
    assert np.all(result.z_mean[:, :2] == 0.0) and np.all(result.z_var[:, :2] == 1.0)  # trajectories 1-2: the prior
    assert np.all(result.z_var[:, 2:] < 1.0)
    # trajectory 3 uses the posterior of trajectories 1-2, trajectory 4 that of 1-3: all context, re-inferred
    for k, num_context in ((2, 2), (3, 3)):
        expected = agent.posterior.infer(torch.cat(agent._context[:num_context], dim=1))
        torch.testing.assert_close(agent.beliefs_used[k].mean, expected.mean)
    for z_steps in agent.z_per_step:  # one z per trajectory, held for all 20 steps
        assert len(z_steps) == 20 and all(torch.equal(z, z_steps[0]) for z in z_steps)
    assert not torch.equal(agent.z_per_step[0][0], agent.z_per_step[1][0])  # a fresh sample every trajectory
    again = meta_test(WalkToZ(), GymTaskEnvs(ENV_ID, seed=0), TaskBatch.from_list(tasks, split="test"), seed=4)
    np.testing.assert_array_equal(again.returns, result.returns)  # seeded
    assert result.final_return == pytest.approx(result.returns[:, -1].mean())
    with pytest.raises(ValueError, match="seed"):
        meta_test(agent, envs, tasks, seed=-1)
