"""Tests for peach_lite.nets: shapes, fused == separate critics, tanh-Gaussian density, helpers."""
import math

import pytest
import torch
from torch import nn

from peach_lite.nets import (
    ActionScale,
    DeterministicActor,
    EnsembleCritic,
    EnsembleLinear,
    EnsembleMLP,
    TanhGaussianPolicy,
    frozen,
    mlp,
    polyak_update_,
    tanh_gaussian_log_prob,
)


def test_mlp_accepts_any_leading_batch_dims():
    net = mlp(5, 3, hidden=(16, 16))
    assert net(torch.randn(5)).shape == (3,)
    assert net(torch.randn(7, 5)).shape == (7, 3)
    assert net(torch.randn(4, 7, 5)).shape == (4, 7, 3)


def test_pearl_init_matches_reference_scheme():
    net = mlp(6, 2, hidden=(300, 300), init="pearl")
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for layer in linears[:-1]:
        assert torch.all(layer.bias == 0.1)
        assert layer.weight.abs().max() <= 1 / math.sqrt(layer.out_features) + 1e-7
    assert linears[-1].weight.abs().max() <= 3e-3 and linears[-1].bias.abs().max() <= 3e-3
    assert linears[0].weight.abs().max() > 3e-3  # hidden layers are not the tiny last-layer init


def test_bad_sizes_raise_value_error_naming_the_field():
    with pytest.raises(ValueError, match="in_dim"):
        mlp(0, 3)
    with pytest.raises(ValueError, match="hidden"):
        mlp(3, 3, hidden=(16, -1))
    with pytest.raises(ValueError, match="init"):
        mlp(3, 3, init="xavier")
    with pytest.raises(ValueError, match="ensemble_size"):
        EnsembleLinear(3, 3, 0)


def test_ensemble_linear_is_one_linear_layer_per_member():
    layer = EnsembleLinear(4, 6, ensemble_size=3)
    x = torch.randn(3, 2, 5, 4)  # (E, T, B, in)
    out = layer(x)
    assert out.shape == (3, 2, 5, 6)
    for i in range(3):
        expected = x[i] @ layer.weight[i] + layer.bias[i, 0]
        torch.testing.assert_close(out[i], expected)
    with pytest.raises(ValueError, match="shape"):
        layer(torch.randn(2, 5, 4))  # wrong ensemble size


def test_ensemble_linear_init_matches_nn_linear_bounds():
    torch.manual_seed(0)
    layer = EnsembleLinear(64, 32, ensemble_size=2)
    bound = 1 / math.sqrt(64)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert not torch.equal(layer.weight[0], layer.weight[1])  # members are independent


def test_fused_twin_critic_equals_two_separate_critics_values_and_gradients():
    torch.manual_seed(0)
    separate = [mlp(7, 1, hidden=(32, 32)) for _ in range(2)]
    fused = EnsembleMLP.from_mlps(separate)
    x = torch.randn(3, 10, 7)  # (num_tasks, batch, in): PEARL-style leading dims
    q_fused = fused(x)  # (2, 3, 10, 1)
    q_separate = torch.stack([net(x) for net in separate])
    torch.testing.assert_close(q_fused, q_separate)

    # the same gradients, too
    q_fused.pow(2).sum().backward()
    q_separate.pow(2).sum().backward()
    for i, net in enumerate(separate):
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for layer, linear in zip(fused.layers, linears):
            torch.testing.assert_close(layer.weight.grad[i], linear.weight.grad.T)
            torch.testing.assert_close(layer.bias.grad[i, 0], linear.bias.grad)


def test_ensemble_critic_concatenates_conditioning_and_keeps_leading_dims():
    critic = EnsembleCritic(obs_dim=3, action_dim=2, hidden=(16,), num_critics=4, cond_dim=5)
    q = critic(torch.randn(6, 8, 3), torch.randn(6, 8, 2), torch.randn(6, 8, 5))
    assert q.shape == (4, 6, 8)
    with pytest.raises(ValueError, match="cond is required"):
        critic(torch.randn(8, 3), torch.randn(8, 2))
    with pytest.raises(ValueError, match="action"):
        critic(torch.randn(8, 3), torch.randn(8, 3), torch.randn(8, 5))
    with pytest.raises(ValueError, match="batch shape"):
        critic(torch.randn(8, 3), torch.randn(7, 2), torch.randn(8, 5))


def test_bounded_critic_output_fn_like_hac():
    horizon = 10.0
    critic = EnsembleCritic(2, 2, hidden=(8,), output_fn=lambda q: -horizon * torch.sigmoid(q))
    q = critic(torch.randn(50, 2) * 100, torch.randn(50, 2) * 100)
    assert (q <= 0).all() and (q >= -horizon).all()


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    policy = TanhGaussianPolicy(obs_dim=3, action_dim=2, hidden=(16,))
    obs = torch.randn(5, 4, 3)
    out = policy(obs, generator=torch.Generator().manual_seed(1))
    assert out.action.shape == (5, 4, 2) and out.log_prob.shape == (5, 4)
    assert out.action.abs().max() < 1
    reference = policy.distribution(obs).log_prob(out.action)
    torch.testing.assert_close(out.log_prob, reference, atol=1e-4, rtol=1e-4)


def test_tanh_log_prob_is_a_density_on_the_action_interval():
    """Change of variables checked numerically: the density integrates to 1 over (-1, 1), and equals the
    Gaussian density of atanh(a) times a finite-difference derivative of atanh."""
    mean, log_std = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.3]], dtype=torch.float64)
    a = torch.linspace(-1 + 1e-9, 1 - 1e-9, 200_001, dtype=torch.float64)[:, None]
    u = torch.atanh(a)
    density = tanh_gaussian_log_prob(u, mean, log_std).exp()
    assert abs(torch.trapezoid(density, a[:, 0]).item() - 1.0) < 1e-4
    # pointwise: p_a(a) = p_u(atanh a) * d atanh(a) / da, the derivative by central differences
    points = torch.tensor([[-0.9], [-0.2], [0.3], [0.95]], dtype=torch.float64)
    h = 1e-6
    jacobian = (torch.atanh(points + h) - torch.atanh(points - h)) / (2 * h)
    gaussian = torch.distributions.Normal(mean, log_std.exp()).log_prob(torch.atanh(points)).exp()
    expected = (gaussian * jacobian)[:, 0]
    got = tanh_gaussian_log_prob(torch.atanh(points), mean, log_std).exp()
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=0)


def test_policy_deterministic_and_reproducible():
    policy = TanhGaussianPolicy(3, 2, hidden=(8,))
    obs = torch.randn(4, 3)
    det = policy(obs, deterministic=True)
    torch.testing.assert_close(det.action, torch.tanh(det.mean))
    torch.testing.assert_close(det.mean_action, det.action)
    a1 = policy(obs, generator=torch.Generator().manual_seed(3)).action
    a2 = policy(obs, generator=torch.Generator().manual_seed(3)).action
    assert torch.equal(a1, a2)
    assert policy(obs, with_log_prob=False).log_prob is None


def test_policy_log_std_is_clamped():
    policy = TanhGaussianPolicy(1, 1, hidden=(4,), log_std_bounds=(-5.0, 0.5))
    with torch.no_grad():
        policy.net[-1].bias.fill_(100.0)
    assert policy(torch.zeros(1)).log_std.item() == 0.5


def test_deterministic_actor_respects_bounds():
    actor = DeterministicActor(3, 2, hidden=(8,), action_scale=[1.0, 0.5], action_offset=[2.0, -1.0])
    with torch.no_grad():
        actor.net[-2].weight.mul_(1000)  # saturate tanh
    a = actor(torch.randn(1000, 3))
    assert (a[:, 0] >= 1.0).all() and (a[:, 0] <= 3.0).all()
    assert (a[:, 1] >= -1.5).all() and (a[:, 1] <= -0.5).all()
    assert a[:, 0].max() > 2.99  # reaches the edge of the box
    with pytest.raises(ValueError, match="action_scale"):
        DeterministicActor(3, 2, action_scale=0.0)


def test_action_scale_round_trip():
    scale = ActionScale([-2.0, 0.0], [2.0, 10.0])
    a = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.5]])
    torch.testing.assert_close(scale.to_env(a), torch.tensor([[-2.0, 0.0], [2.0, 10.0], [0.0, 7.5]]))
    torch.testing.assert_close(scale.from_env(scale.to_env(a)), a)
    with pytest.raises(ValueError, match="high must be > low"):
        ActionScale([1.0], [1.0])


def test_frozen_skips_parameter_gradients_but_not_input_gradients():
    net = mlp(3, 1, hidden=(8,))
    x = torch.randn(5, 3, requires_grad=True)
    with frozen(net):
        net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())  # restored


def test_polyak_update_matches_formula():
    source, target = mlp(3, 2, hidden=(4,)), mlp(3, 2, hidden=(4,))
    before = [p.clone() for p in target.parameters()]
    polyak_update_(target, source, tau=0.1)
    for new, old, src in zip(target.parameters(), before, source.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * src)
    with pytest.raises(ValueError, match="tau"):
        polyak_update_(target, source, tau=1.5)


def test_ensemble_mlp_forward_members_gives_each_member_its_own_batch():
    torch.manual_seed(0)
    separate = [mlp(4, 2, hidden=(8,)) for _ in range(3)]
    fused = EnsembleMLP.from_mlps(separate)
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(fused.forward_members(x), torch.stack([net(x[i]) for i, net in enumerate(separate)]))


def test_optimizer_state_round_trip_does_not_share_buffers():
    from peach_lite.nets import load_optimizer_state_flat, optimizer_state_flat

    net_a, net_b = mlp(3, 1, hidden=(4,)), mlp(3, 1, hidden=(4,))
    net_b.load_state_dict(net_a.state_dict())
    opt_a, opt_b = (torch.optim.Adam(n.parameters(), lr=0.1) for n in (net_a, net_b))
    x = torch.randn(8, 3)
    for _ in range(3):
        opt_a.zero_grad()
        net_a(x).pow(2).mean().backward()
        opt_a.step()
    net_b.load_state_dict(net_a.state_dict())
    flat = optimizer_state_flat(opt_a)
    assert all(isinstance(v, torch.Tensor) for v in flat.values())
    load_optimizer_state_flat(opt_b, flat)
    for opt, net in ((opt_a, net_a), (opt_b, net_b)):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    for pa, pb in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(pa, pb)
