"""The on-policy learner: GAE against a brute-force sum, PPO's ratio and clipping, the learner object."""
import pytest
import torch

from peach_lite.ppo import (
    PPO,
    PolicyOutput,
    PPOConfig,
    categorical_entropy,
    clipped_surrogate_loss,
    gae_advantages,
    normalize_advantages,
    value_loss,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _brute_force_gae(rewards, values, gamma, lam, mask, bootstrap):
    n, T = rewards.shape
    advantages = torch.zeros(n, T, dtype=torch.float64)
    for i in range(n):
        length = int(mask[i].sum())
        for t in range(length):
            total = 0.0
            for k in range(t, length):
                next_value = values[i, k + 1] if k + 1 < length else bootstrap[i]
                delta = rewards[i, k] + gamma * next_value - values[i, k]
                total += (gamma * lam) ** (k - t) * delta
            advantages[i, t] = total
    return advantages


def test_gae_matches_a_brute_force_sum_with_padding_and_bootstrap():
    generator = torch.Generator().manual_seed(0)
    rewards = torch.randn(5, 7, generator=generator, dtype=torch.float64)
    values = torch.randn(5, 7, generator=generator, dtype=torch.float64)
    lengths = torch.tensor([7, 3, 1, 5, 6])
    mask = torch.arange(7)[None] < lengths[:, None]
    bootstrap = torch.randn(5, generator=generator, dtype=torch.float64)
    for gamma, lam in [(0.9, 0.8), (1.0, 1.0), (0.5, 0.0), (0.99, 0.95)]:
        advantages, returns = gae_advantages(rewards, values, gamma, lam, mask, bootstrap)
        expected = _brute_force_gae(rewards, values, gamma, lam, mask, bootstrap)
        torch.testing.assert_close(advantages, expected)
        torch.testing.assert_close(returns, advantages + values)
        assert (advantages[~mask] == 0).all()
    # no mask, no bootstrap: every step real, 0 after the end
    advantages, _ = gae_advantages(rewards, values, 0.9, 0.8)
    full = torch.ones(5, 7, dtype=torch.bool)
    torch.testing.assert_close(advantages, _brute_force_gae(rewards, values, 0.9, 0.8, full, torch.zeros(5, dtype=torch.float64)))


def test_gae_with_lambda_one_is_discounted_return_minus_value():
    rewards = torch.tensor([[1.0, 0.0, 2.0, 1.0]])
    values = torch.tensor([[0.5, 0.1, -0.3, 0.2]])
    advantages, returns = gae_advantages(rewards, values, 1.0, 1.0)
    torch.testing.assert_close(returns, torch.tensor([[4.0, 3.0, 3.0, 1.0]]))
    torch.testing.assert_close(advantages, returns - values)
    gamma = 0.9
    advantages, _ = gae_advantages(rewards, values, gamma, 1.0)
    discounted = torch.tensor([[sum(gamma**k * rewards[0, t + k] for k in range(4 - t)) for t in range(4)]])
    torch.testing.assert_close(advantages, discounted - values)
    advantages0, _ = gae_advantages(rewards, values, 0.5, 0.0)  # one-step TD errors
    torch.testing.assert_close(advantages0, torch.tensor([[1 + 0.05 - 0.5, -0.15 - 0.1, 2 + 0.1 + 0.3, 1 - 0.2]]))


@pytest.mark.parametrize("bad, match", [(dict(gamma=1.5), "gamma"), (dict(gae_lambda=-0.1), "gae_lambda"),
                                        (dict(mask=torch.ones(2, 2, dtype=torch.bool)), "mask"),
                                        (dict(bootstrap=torch.zeros(3)), "bootstrap")])
def test_gae_rejects_bad_input(bad, match):
    kwargs = dict(gamma=0.9, gae_lambda=0.9)
    kwargs.update(bad)
    with pytest.raises(ValueError, match=match):
        gae_advantages(torch.zeros(2, 4), torch.zeros(2, 4), **kwargs)


def test_clipping_zeroes_the_gradient_outside_the_range_for_the_right_sign():
    eps = 0.2
    old = torch.zeros(4)
    # ratios 1.5 and 0.5 with advantages +1 and -1: outside the range in the direction the advantage pushes
    log_probs = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5])).requires_grad_(True)
    advantages = torch.tensor([1.0, -1.0, -1.0, 1.0])
    clipped_surrogate_loss(log_probs, old, advantages, eps).backward()
    grad = log_probs.grad
    assert grad[0] == 0 and grad[1] == 0  # rho > 1 + eps with A > 0, rho < 1 - eps with A < 0: no further push
    assert grad[2] != 0 and grad[3] != 0  # the other side is not clipped: the loss still pulls the ratio back
    inside = torch.log(torch.tensor([1.1, 0.9])).requires_grad_(True)
    clipped_surrogate_loss(inside, torch.zeros(2), torch.tensor([1.0, -1.0]), eps).backward()
    assert (inside.grad != 0).all()


def test_first_epoch_ratio_is_one_and_the_loss_is_a2c():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 4, generator=generator, requires_grad=True)
    actions = torch.randint(0, 4, (3, 5), generator=generator)
    advantages = torch.randn(3, 5, generator=generator)
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions[..., None]).squeeze(-1)
    loss = clipped_surrogate_loss(log_probs, log_probs.detach(), advantages, 0.2)
    a2c = -(log_probs * advantages).mean()
    torch.testing.assert_close(loss, -advantages.mean())
    g_ppo = torch.autograd.grad(loss, logits, retain_graph=True)[0]
    g_a2c = torch.autograd.grad(a2c, logits)[0]
    torch.testing.assert_close(g_ppo, g_a2c)


def test_masked_losses_ignore_padding():
    mask = torch.tensor([[True, True, False]])
    values, returns = torch.tensor([[1.0, 2.0, 100.0]]), torch.tensor([[0.0, 0.0, 0.0]])
    assert value_loss(values, returns, mask).item() == pytest.approx(2.5)
    log_probs = torch.log_softmax(torch.tensor([[[0.0, 0.0], [0.0, 0.0], [50.0, 0.0]]]), -1)
    assert categorical_entropy(log_probs, mask).item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    normalized = normalize_advantages(torch.tensor([[1.0, 3.0, 7.0]]), mask)
    assert normalized[0, 2] == 0 and normalized[mask].mean().abs() < 1e-6


class _Tabular(torch.nn.Module):
    """A categorical policy over macro steps with no recurrence (what MLSH's master is)."""

    def __init__(self):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(3))
        self.value = torch.nn.Parameter(torch.zeros(1))

    def __call__(self, batch, cond):
        n = batch.actions.shape
        return PolicyOutput(self.logits.expand(*n, 3), self.value.expand(*n), {"l2": 0.0 * self.logits.pow(2).sum()})


def test_the_learner_object_prefers_the_rewarded_action_and_reports_its_losses():
    torch.manual_seed(0)
    policy = _Tabular()
    ppo = PPO(policy, [[policy.logits], [policy.value]], PPOConfig(lr=0.1, epochs=4, entropy_coef=0.0, gamma=1.0, gae_lambda=1.0))
    for _ in range(30):
        with torch.no_grad():
            actions = torch.distributions.Categorical(logits=policy.logits).sample((16, 1))
            log_probs = torch.log_softmax(policy.logits, -1)[actions]
        rewards = (actions == 2).float()
        values = policy.value.detach().expand(16, 1)
        batch = ppo.make_batch(None, actions, log_probs, rewards, values, mask=torch.ones(16, 1, dtype=torch.bool))
        first = ppo.losses(batch)
        assert first["approx_kl"].abs() < 1e-6 and first["clip_fraction"] == 0  # ratio 1 before the first step
        losses = ppo.update(batch)
    assert set(losses) == {"loss", "policy", "value", "entropy", "approx_kl", "clip_fraction", "l2"}
    assert torch.softmax(policy.logits, -1)[2] > 0.9 and ppo.batches == 30


def test_entropy_anneals_and_config_rejects_bad_values():
    ppo = PPO(lambda batch, cond: None, [[torch.nn.Parameter(torch.zeros(1))]], PPOConfig(entropy_coef=0.1, entropy_decay_batches=4))
    ppo.batches = 2
    assert ppo.entropy_coef == pytest.approx(0.05)
    ppo.batches = 10
    assert ppo.entropy_coef == 0.0
    for bad, match in [(dict(epochs=0), "epochs"), (dict(clip_ratio=1.5), "clip_ratio"), (dict(lr=0.0), "lr"),
                       (dict(max_grad_norm=0.0), "max_grad_norm"), (dict(entropy_decay_batches=-1), "entropy_decay_batches")]:
        with pytest.raises(ValueError, match=match):
            PPOConfig(**bad)
    with pytest.raises(ValueError, match="param_groups"):
        PPO(lambda batch, cond: None, [[]])
