"""Network building blocks shared by every actor-critic in the course (SAC, TD3, PEARL, HAC, MQL, PEACH).

* :func:`mlp`: a plain multi-layer perceptron.
* :class:`EnsembleLinear` / :class:`EnsembleMLP`: ``E`` independent networks evaluated as *one* batched
  matmul (``torch.baddbmm``), so twin critics cost one call instead of two.
* :class:`EnsembleCritic`: fused Q-functions ``Q_i(obs, action[, cond])`` (``TwinQ`` = two of them).
* :class:`TanhGaussianPolicy`: SAC's squashed Gaussian actor with the exact tanh log-prob correction.
* :class:`DeterministicActor`: ``tanh(mlp(x)) * scale + offset`` for TD3, MQL, HIRO and HAC.
* :class:`ActionScale`: maps the policy's ``[-1, 1]`` box to the environment's action box and back.
* helpers: :func:`frozen` (no parameter gradients inside a block), :func:`polyak_update_`,
  :func:`hard_update_`, :func:`tanh_gaussian_log_prob`, and the PEARL/rlkit initialisation.

Every module accepts leading batch dimensions of any rank: ``(B, d)``, ``(num_tasks, B, d)``, ...

Taught in notebooks/04_sac.py (sections "Twin critics, fused" and "The tanh-Gaussian policy").
"""
from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from peach_lite.validation import check_choice, check_int, check_range

__all__ = [
    "mlp",
    "EnsembleLinear",
    "EnsembleMLP",
    "EnsembleCritic",
    "TwinQ",
    "PolicyOutput",
    "TanhGaussianPolicy",
    "DeterministicActor",
    "ActionScale",
    "DistanceDecoder",
    "tanh_gaussian_log_prob",
    "frozen",
    "polyak_update_",
    "hard_update_",
    "init_pearl_",
    "optimizer_state_flat",
    "load_optimizer_state_flat",
    "INIT_SCHEMES",
]

INIT_SCHEMES = ("torch", "pearl")
"""``"torch"``: PyTorch's ``nn.Linear`` default, U(±1/sqrt(in_dim)) for weights and biases (what SB3 uses).
``"pearl"``: rlkit/oyster's scheme (hidden weights U(±1/sqrt(size[0])), hidden biases 0.1, last layer U(±3e-3))."""

Activation = Callable[[], nn.Module]


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (256, 256),
    activation: Activation = nn.ReLU,
    output_activation: Activation | None = None,
    init: str = "torch",
) -> nn.Sequential:
    """A multi-layer perceptron ``Linear -> act -> ... -> Linear [-> output_activation]``.

    Args:
        in_dim: input features.
        out_dim: output features.
        hidden: sizes of the hidden layers; ``()`` gives a single linear layer.
        activation: constructor of the hidden non-linearity (``nn.ReLU``, ``nn.Tanh``, ...).
        output_activation: optional constructor applied to the output.
        init: one of :data:`INIT_SCHEMES`.
    Returns:
        ``nn.Sequential`` mapping (*batch, in_dim) -> (*batch, out_dim).

    Taught in notebooks/04_sac.py (section "Twin critics, fused").
    """
    _check_dims(in_dim=in_dim, out_dim=out_dim, hidden=hidden)
    check_choice("init", init, INIT_SCHEMES)
    sizes = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if output_activation is not None:
        layers.append(output_activation())
    net = nn.Sequential(*layers)
    if init == "pearl":
        init_pearl_(net)
    return net


class EnsembleLinear(nn.Module):
    """``E`` independent linear layers evaluated as one batched matmul.

    Parameters:
        weight: (E, in_dim, out_dim)  (note: *in* first, so ``x @ weight[i]`` is member i's layer)
        bias:   (E, 1, out_dim)
    Forward:
        x: (E, *batch, in_dim), member i reads ``x[i]``. To give every member the same input, pass
        ``x.expand(E, *x.shape)`` (free: no copy). Returns (E, *batch, out_dim).

    Initialised like ``nn.Linear`` (U(±1/sqrt(in_dim))), member by member, so an ensemble of E
    layers is distributed exactly like E separate ``nn.Linear`` layers.

    Taught in notebooks/04_sac.py (section "Twin critics, fused").
    """

    def __init__(self, in_dim: int, out_dim: int, ensemble_size: int):
        super().__init__()
        _check_dims(in_dim=in_dim, out_dim=out_dim)
        check_range("ensemble_size", ensemble_size, 1)
        self.in_dim, self.out_dim, self.ensemble_size = int(in_dim), int(out_dim), int(ensemble_size)
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[0] != self.ensemble_size or x.shape[-1] != self.in_dim:
            raise ValueError(
                f"x must have shape ({self.ensemble_size}, *batch, {self.in_dim}), got {tuple(x.shape)}"
            )
        flat = x.reshape(self.ensemble_size, -1, self.in_dim)
        out = torch.baddbmm(self.bias, flat, self.weight)  # (E, N, out): bias + x @ W, one kernel
        return out.view(*x.shape[:-1], self.out_dim)

    def load_member_(self, index: int, linear: nn.Linear) -> None:
        """Copy an ``nn.Linear`` (weight (out, in)) into member ``index``."""
        check_range("index", index, 0, self.ensemble_size - 1)
        if linear.in_features != self.in_dim or linear.out_features != self.out_dim:
            raise ValueError(
                f"linear must be {self.in_dim}->{self.out_dim}, got {linear.in_features}->{linear.out_features}"
            )
        with torch.no_grad():
            self.weight[index].copy_(linear.weight.T)
            self.bias[index, 0].copy_(linear.bias)

    def extra_repr(self) -> str:
        return f"ensemble_size={self.ensemble_size}, in_dim={self.in_dim}, out_dim={self.out_dim}"


class EnsembleMLP(nn.Module):
    """``E`` independent MLPs evaluated as batched matmuls.

    Forward:
        ``forward(x)``: x (*batch, in_dim), shared by all members -> (E, *batch, out_dim).
        ``forward_members(x)``: x (E, *batch, in_dim), member i reads x[i] -> (E, *batch, out_dim)
        (e.g. HAC's levels, each with its own batch).

    Taught in notebooks/04_sac.py (section "Twin critics, fused").
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ensemble_size: int,
        hidden: Sequence[int] = (256, 256),
        activation: Activation = nn.ReLU,
        init: str = "torch",
    ):
        super().__init__()
        _check_dims(in_dim=in_dim, out_dim=out_dim, hidden=hidden)
        check_choice("init", init, INIT_SCHEMES)
        sizes = [in_dim, *hidden, out_dim]
        self.ensemble_size = int(ensemble_size)
        self.layers = nn.ModuleList(EnsembleLinear(a, b, ensemble_size) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation()
        if init == "pearl":
            init_pearl_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_members(x.expand(self.ensemble_size, *x.shape))  # a view: every member sees x

    def forward_members(self, x: Tensor) -> Tensor:
        """x (E, *batch, in_dim), member i reads x[i] -> (E, *batch, out_dim)."""
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)

    @classmethod
    def from_mlps(cls, nets: Sequence[nn.Sequential], activation: Activation = nn.ReLU) -> "EnsembleMLP":
        """Fuse separate :func:`mlp` networks (same sizes) into one ensemble holding the same weights."""
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        sizes = [linears[0][0].in_features] + [lin.out_features for lin in linears[0]]
        for net_linears in linears[1:]:
            if [linears[0][0].in_features] + [lin.out_features for lin in net_linears] != sizes:
                raise ValueError(f"nets must all have layer sizes {sizes}")
        fused = cls(sizes[0], sizes[-1], len(nets), hidden=sizes[1:-1], activation=activation)
        for index, net_linears in enumerate(linears):
            for layer, linear in zip(fused.layers, net_linears):
                layer.load_member_(index, linear)
        return fused


class EnsembleCritic(nn.Module):
    """Fused Q-functions ``Q_i(obs, action[, cond])`` for i = 1..num_critics, one batched network.

    Args:
        obs_dim, action_dim: input sizes.
        hidden: hidden layer sizes of every critic.
        num_critics: 2 for SAC/TD3 twin critics (``TwinQ``); more for REDQ-style ensembles.
        cond_dim: size of an extra conditioning input concatenated to (obs, action), e.g. PEARL's z,
            a goal (HAC), a belief or a context embedding (MQL); 0 for none.
        output_fn: optional map applied to the raw outputs, e.g. HAC's bounded critic
            ``lambda q: -H * torch.sigmoid(q + q_offset)``.
        init: one of :data:`INIT_SCHEMES`.
    Forward:
        obs (*batch, obs_dim), action (*batch, action_dim), cond (*batch, cond_dim) or None
        -> (num_critics, *batch) Q-values. ``q.min(0).values`` is the clipped double-Q estimate.

    Taught in notebooks/04_sac.py (section "Twin critics, fused").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (256, 256),
        num_critics: int = 2,
        cond_dim: int = 0,
        activation: Activation = nn.ReLU,
        output_fn: Callable[[Tensor], Tensor] | None = None,
        init: str = "torch",
    ):
        super().__init__()
        _check_dims(obs_dim=obs_dim, action_dim=action_dim, hidden=hidden)
        check_range("num_critics", num_critics, 1)
        check_range("cond_dim", cond_dim, 0)
        self.obs_dim, self.action_dim, self.cond_dim = int(obs_dim), int(action_dim), int(cond_dim)
        self.num_critics = int(num_critics)
        self.net = EnsembleMLP(obs_dim + action_dim + cond_dim, 1, num_critics, hidden, activation, init)
        self.output_fn = output_fn

    def forward(self, obs: Tensor, action: Tensor, cond: Tensor | None = None) -> Tensor:
        x = _concat_inputs(obs=(obs, self.obs_dim), action=(action, self.action_dim), cond=(cond, self.cond_dim))
        q = self.net(x).squeeze(-1)  # (num_critics, *batch)
        return q if self.output_fn is None else self.output_fn(q)


TwinQ = EnsembleCritic
"""Alias: SAC's and TD3's two critics are an :class:`EnsembleCritic` with ``num_critics=2`` (the default)."""


class PolicyOutput(NamedTuple):
    """What :class:`TanhGaussianPolicy` returns; every field has shape (*batch, action_dim) except log_prob."""

    action: Tensor
    """tanh(u), u ~ N(mean, std): a sample in [-1, 1] (``mean_action`` when deterministic)."""
    log_prob: Tensor | None
    """(*batch,) log density of ``action`` including the tanh correction; None if not requested."""
    mean_action: Tensor
    """tanh(mean): the deterministic action used for evaluation."""
    mean: Tensor
    """Pre-tanh Gaussian mean (PEARL regularises mean**2)."""
    log_std: Tensor
    """Pre-tanh Gaussian log standard deviation, clamped to ``log_std_bounds``."""


class TanhGaussianPolicy(nn.Module):
    """SAC's actor: a ~ tanh(N(mean(x), std(x)^2)), a in [-1, 1]^action_dim.

    One trunk MLP outputs ``2 * action_dim`` numbers: the mean and the log standard deviation
    (clamped to ``log_std_bounds``, SB3/rlkit use (-20, 2)). Sampling uses the reparameterisation
    u = mean + std * eps so gradients flow through the sample; the log-density follows the change of
    variables a = tanh(u) (see :func:`tanh_gaussian_log_prob`).

    Forward:
        obs (*batch, obs_dim), cond (*batch, cond_dim) or None -> :class:`PolicyOutput`.
        ``deterministic=True`` returns ``action = tanh(mean)``; ``generator`` makes sampling reproducible.

    Taught in notebooks/04_sac.py (section "The tanh-Gaussian policy").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (256, 256),
        cond_dim: int = 0,
        log_std_bounds: tuple[float, float] = (-20.0, 2.0),
        activation: Activation = nn.ReLU,
        init: str = "torch",
    ):
        super().__init__()
        _check_dims(obs_dim=obs_dim, action_dim=action_dim, hidden=hidden)
        check_range("cond_dim", cond_dim, 0)
        low, high = log_std_bounds
        if not low < high:
            raise ValueError(f"log_std_bounds must satisfy low < high, got {log_std_bounds}")
        self.obs_dim, self.action_dim, self.cond_dim = int(obs_dim), int(action_dim), int(cond_dim)
        self.log_std_bounds = (float(low), float(high))
        self.net = mlp(obs_dim + cond_dim, 2 * action_dim, hidden, activation, init=init)

    def forward(
        self,
        obs: Tensor,
        cond: Tensor | None = None,
        *,
        deterministic: bool = False,
        with_log_prob: bool = True,
        generator: torch.Generator | None = None,
    ) -> PolicyOutput:
        x = _concat_inputs(obs=(obs, self.obs_dim), cond=(cond, self.cond_dim))
        mean, log_std = self.net(x).chunk(2, dim=-1)
        log_std = log_std.clamp(*self.log_std_bounds)
        if deterministic:
            u = mean
        else:
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            u = mean + log_std.exp() * eps  # reparameterised sample: differentiable in mean, std
        log_prob = tanh_gaussian_log_prob(u, mean, log_std) if with_log_prob else None
        return PolicyOutput(torch.tanh(u), log_prob, torch.tanh(mean), mean, log_std)

    def distribution(self, obs: Tensor, cond: Tensor | None = None) -> torch.distributions.Distribution:
        """The same policy as a ``torch.distributions`` object (slower; for teaching and tests).

        Returns a ``TransformedDistribution(Independent(Normal), TanhTransform)`` over (*batch, action_dim).
        """
        x = _concat_inputs(obs=(obs, self.obs_dim), cond=(cond, self.cond_dim))
        mean, log_std = self.net(x).chunk(2, dim=-1)
        base = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.clamp(*self.log_std_bounds).exp()), 1)
        return torch.distributions.TransformedDistribution(base, [torch.distributions.TanhTransform(cache_size=1)])


def tanh_gaussian_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """log density of a = tanh(u) where u ~ N(mean, exp(log_std)^2), summed over the last dim.

    Change of variables: log pi(a) = log N(u; mean, std) - sum_j log(1 - tanh(u_j)^2), and
    log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)) is the numerically stable form (no 1e-6 fudge).

    Args:
        u: (*batch, action_dim) pre-tanh sample.
        mean, log_std: (*batch, action_dim) Gaussian parameters.
    Returns:
        (*batch,) log-probabilities.

    Taught in notebooks/04_sac.py (section "The tanh-Gaussian policy").
    """
    z = (u - mean) * torch.exp(-log_std)
    gaussian = (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    correction = (2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(-1)
    return gaussian - correction


class DeterministicActor(nn.Module):
    """a = tanh(mlp(obs[, cond])) * scale + offset: TD3/MQL/HIRO's actor, and HAC's (bounds and offset).

    Args:
        obs_dim, action_dim, hidden, cond_dim, activation, init: as in :class:`TanhGaussianPolicy`.
        action_scale, action_offset: scalar or (action_dim,) sequence; the output box is
            [offset - scale, offset + scale]. The defaults give [-1, 1].
    Forward:
        obs (*batch, obs_dim), cond (*batch, cond_dim) or None -> (*batch, action_dim).

    Taught in notebooks/04_sac.py (section "TD3 in one paragraph").
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (256, 256),
        cond_dim: int = 0,
        action_scale: float | Sequence[float] = 1.0,
        action_offset: float | Sequence[float] = 0.0,
        activation: Activation = nn.ReLU,
        init: str = "torch",
    ):
        super().__init__()
        _check_dims(obs_dim=obs_dim, action_dim=action_dim, hidden=hidden)
        check_range("cond_dim", cond_dim, 0)
        self.obs_dim, self.action_dim, self.cond_dim = int(obs_dim), int(action_dim), int(cond_dim)
        self.net = mlp(obs_dim + cond_dim, action_dim, hidden, activation, output_activation=nn.Tanh, init=init)
        scale = torch.as_tensor(action_scale, dtype=torch.float32).expand(action_dim).clone()
        if (scale <= 0).any():
            raise ValueError(f"action_scale must be > 0, got {action_scale}")
        self.register_buffer("action_scale", scale)
        self.register_buffer("action_offset", torch.as_tensor(action_offset, dtype=torch.float32).expand(action_dim).clone())

    def forward(self, obs: Tensor, cond: Tensor | None = None) -> Tensor:
        x = _concat_inputs(obs=(obs, self.obs_dim), cond=(cond, self.cond_dim))
        return self.net(x) * self.action_scale + self.action_offset

    def pre_tanh(self, obs: Tensor, cond: Tensor | None = None) -> Tensor:
        """mlp(obs[, cond]) before its tanh: (*batch, ...) -> (*batch, action_dim); forward = tanh(this) · scale + offset."""
        x = _concat_inputs(obs=(obs, self.obs_dim), cond=(cond, self.cond_dim))
        return self.net[:-1](x)


class ActionScale(nn.Module):
    """Affine map between the policy's box [-1, 1]^d and the environment's box [low, high].

    ``to_env(a) = low + (a + 1) / 2 * (high - low)`` and ``from_env`` is its inverse; both take
    (*batch, action_dim). Kept as buffers so it follows the agent's device and ``state_dict``.

    Taught in notebooks/04_sac.py (section "Pendulum").
    """

    def __init__(self, low: Sequence[float] | Tensor, high: Sequence[float] | Tensor):
        super().__init__()
        low_t = torch.as_tensor(low, dtype=torch.float32).flatten()
        high_t = torch.as_tensor(high, dtype=torch.float32).flatten()
        if low_t.shape != high_t.shape or not torch.isfinite(low_t).all() or not torch.isfinite(high_t).all():
            raise ValueError(f"low and high must be finite and the same shape, got {low_t.tolist()} and {high_t.tolist()}")
        if not (high_t > low_t).all():
            raise ValueError(f"high must be > low in every dimension, got low={low_t.tolist()} high={high_t.tolist()}")
        self.register_buffer("low", low_t)
        self.register_buffer("high", high_t)

    def to_env(self, action: Tensor) -> Tensor:
        return self.low + (action + 1.0) * 0.5 * (self.high - self.low)

    def from_env(self, action: Tensor) -> Tensor:
        return 2.0 * (action - self.low) / (self.high - self.low) - 1.0


class DistanceDecoder(nn.Module):
    """A reward decoder that reads z as a place: ``logit p(paid | z, s') = b - e^a ||W z - s'||^2``.

    One linear map ``W`` sends z to a point in goal space; an attempt that ended at ``s'`` is predicted paid the
    closer ``s'`` lies to that point. Trained on paid / unpaid attempts, it pushes the encoder towards a code that is
    linear in the goal's coordinates, as the oracle's ``goal / 4`` is, so the prior N(0, I) spreads over places.
    Input (*batch, latent_dim + goal_dim): z then s' (the layout of the MLP decoder's input); output (*batch, 1).

    Taught in notebooks/11_peach.py (section "More collection episodes: the hard seed reaches the same wall").
    """

    def __init__(self, latent_dim: int, goal_dim: int):
        super().__init__()
        check_int("latent_dim", latent_dim, 1)
        check_int("goal_dim", goal_dim, 1)
        self.latent_dim = latent_dim
        self.to_goal = nn.Linear(latent_dim, goal_dim)
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, inputs: Tensor) -> Tensor:
        z, achieved = inputs[..., : self.latent_dim], inputs[..., self.latent_dim :]
        squared = (self.to_goal(z) - achieved).pow(2).sum(dim=-1, keepdim=True)
        return self.bias - self.log_scale.exp() * squared


# ---------------------------------------------------------------------------------------------
# Parameter helpers


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Inside the block, the modules' parameters do not require gradients (restored afterwards).

    Use it to let a loss flow *through* a network into its inputs without computing gradients for
    that network's weights, e.g. SAC's actor loss through the critic: the critic's weight-gradient
    matmuls are skipped, not computed and thrown away.

    Taught in notebooks/04_sac.py (section "One update, step by step").
    """
    params = [p for module in modules for p in module.parameters()]
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


@torch.no_grad()
def polyak_update_(target: nn.Module, source: nn.Module, tau: float) -> None:
    """In place: target <- (1 - tau) * target + tau * source, for every parameter (one fused call).

    Taught in notebooks/04_sac.py (section "One update, step by step").
    """
    check_range("tau", tau, 0.0, 1.0)
    target_params, source_params = list(target.parameters()), list(source.parameters())
    if len(target_params) != len(source_params):
        raise ValueError(f"target and source must have the same parameters, got {len(target_params)} and {len(source_params)}")
    torch._foreach_lerp_(target_params, source_params, tau)


@torch.no_grad()
def hard_update_(target: nn.Module, source: nn.Module) -> None:
    """In place: copy every parameter and buffer of ``source`` into ``target``."""
    target.load_state_dict(source.state_dict())


def init_pearl_(module: nn.Module, hidden_bias: float = 0.1, last_bound: float = 3e-3) -> nn.Module:
    """PEARL/rlkit initialisation, in place, of every linear layer found in ``module`` (in order).

    Hidden layers: weights U(±1/sqrt(n)) with n = size[0] of rlkit's (out, in) weight, i.e. the layer's
    *output* size (rlkit's ``fanin_init`` reads ``size[0]``; for square layers this is the fan-in),
    biases ``hidden_bias``. The last layer: weights and biases U(±last_bound). Algorithms.md §1.1.
    """
    linears = [m for m in module.modules() if isinstance(m, (nn.Linear, EnsembleLinear))]
    with torch.no_grad():
        for i, layer in enumerate(linears):
            if i < len(linears) - 1:
                n = layer.out_features if isinstance(layer, nn.Linear) else layer.out_dim
                nn.init.uniform_(layer.weight, -1.0 / math.sqrt(n), 1.0 / math.sqrt(n))
                nn.init.constant_(layer.bias, hidden_bias)
            else:
                nn.init.uniform_(layer.weight, -last_bound, last_bound)
                nn.init.uniform_(layer.bias, -last_bound, last_bound)
    return module


def optimizer_state_flat(optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """An optimizer's per-parameter state (Adam's moments and step) as ``{"<index>.<key>": tensor}``.

    Flat and tensors-only, so it fits ``save_checkpoint``. The tensors are copies: torch's
    ``Optimizer.load_state_dict`` keeps tensors it need not cast, so two agents loaded from one state
    would otherwise share (and both update) the same moment buffers.
    """
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{index}.{key}"] = value.detach().clone() if isinstance(value, Tensor) else torch.tensor(value)
    return flat


def load_optimizer_state_flat(optimizer: torch.optim.Optimizer, flat: dict[str, Tensor]) -> None:
    """Inverse of :func:`optimizer_state_flat`; the optimizer keeps its own hyperparameters (param groups)."""
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in flat.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value.clone()  # never share moment buffers with the caller
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


# ---------------------------------------------------------------------------------------------
# Private helpers


def _check_dims(hidden: Sequence[int] = (), **dims: int) -> None:
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_range(name, value, 1)
    for size in hidden:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"hidden must be a sequence of positive integers, got {tuple(hidden)}")


def _concat_inputs(**parts: tuple[Tensor | None, int]) -> Tensor:
    """Check each input's last dimension and leading dims, then concatenate along the last dim."""
    tensors, lead = [], None
    for name, (tensor, dim) in parts.items():
        if dim == 0:
            if tensor is not None:
                raise ValueError(f"{name} was given but this network was built with {name}_dim=0")
            continue
        if tensor is None:
            raise ValueError(f"{name} is required: this network was built with {name}_dim={dim}")
        if tensor.dim() < 1 or tensor.shape[-1] != dim:
            raise ValueError(f"{name} must have shape (*batch, {dim}), got {tuple(tensor.shape)}")
        if lead is None:
            lead = tensor.shape[:-1]
        elif tensor.shape[:-1] != lead:
            raise ValueError(f"{name} has batch shape {tuple(tensor.shape[:-1])}, expected {tuple(lead)} like the first input")
        tensors.append(tensor)
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=-1)
