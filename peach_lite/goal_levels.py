"""One level of a goal-conditioned hierarchy (HAC): a bounded actor-critic and the transitions it learns from.

A :class:`GoalLevel` is a DDPG-style goal-conditioned actor-critic built from the shared networks of
``peach_lite.nets``: the actor is a :class:`~peach_lite.nets.DeterministicActor` (tanh · scale + offset
over the level's action box) and the critic is :func:`bounded_critic`, an
:class:`~peach_lite.nets.EnsembleCritic` whose output is squashed into [-H, 0]. Both read the goal
through their ``cond`` input, ``[g, c]``, where ``c`` is an optional task variable (``cond_dim`` > 0: the
top level of PEACH reads a PEARL posterior sample z there).

The transitions a level stores (algorithms.md §1.3, reference ``layer.py``):

(a) **hindsight action** (:func:`hindsight_action_transition`): a subgoal level stores the subgoal it
    proposed if the level below reached it, else the state actually reached, proj(s'); reward 0 and
    terminal iff this level's own goal is reached, else -1.
(b) **hindsight goal**: every attempt sequence copied with achieved goals (``peach_lite.her``).
(c) **subgoal testing** (:func:`subgoal_test_transition`): a tested subgoal the level below missed
    gets reward -H and a terminal flag.

The update is split into named losses, :meth:`GoalLevel.critic_loss` and :meth:`GoalLevel.actor_loss`,
and :meth:`GoalLevel.update` runs them in the reference's order (critic step, then the actor against
the updated critic). A caller that learns ``c`` (PEACH) adds its KL term to the critic loss, lets the
critic's gradient flow into its encoder through ``cond`` and passes ``cond.detach()`` to the actor loss.

Taught in notebooks/07_hac.py (sections "Hindsight action transitions", "Subgoal testing", "Bounded critics").
"""
from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from peach_lite.her import Transitions, goal_reached
from peach_lite.nets import DeterministicActor, EnsembleCritic, TanhGaussianPolicy, frozen, polyak_update_
from peach_lite.validation import check_int, check_range

__all__ = [
    "GoalLevel",
    "SoftGoalLevel",
    "TOP_LEARNERS",
    "numpy_actor",
    "bounded_critic",
    "bounded_q",
    "q_offset_for",
    "critic_targets",
    "hindsight_action",
    "hindsight_action_transition",
    "subgoal_test_transition",
    "replay_saturation",
    "reset_if_saturated",
    "LEVEL_FIELDS",
]

LEVEL_FIELDS = ("obs", "action", "reward", "next_obs", "goal", "done")
"""The keys of a level's replay batch: obs (*B, obs_dim), action (*B, action_dim), reward (*B,),
next_obs (*B, obs_dim), goal (*B, goal_dim), done (*B,)."""
TOP_LEARNERS = ("hac", "sac")
"""How a hierarchy's top level learns (``HacConfig.top_learner``): HAC's :class:`GoalLevel` or :class:`SoftGoalLevel`."""


# ================================================================================== the transitions
def hindsight_action(proposed: Any, next_achieved: Any, lower_reached: bool) -> np.ndarray:
    """The action a subgoal level stores: its subgoal if the level below reached it, else proj(s').

    Args:
        proposed: (goal_dim,) subgoal the level proposed.
        next_achieved: (goal_dim,) proj(s'), the goal-space projection of the state reached after the
            lower level's attempts (the maze: the (x, y) position).
        lower_reached: whether the level below reached ``proposed``.
    Returns:
        (goal_dim,) float32 hindsight action.

    Taught in notebooks/07_hac.py (section "Hindsight action transitions").
    """
    return np.array(proposed if lower_reached else next_achieved, dtype=np.float32)


def hindsight_action_transition(
    obs: Any, proposed: Any, next_obs: Any, next_achieved: Any, goal: Any, *, lower_reached: bool,
    threshold: Any, norm: str = "box",
) -> Transitions:
    """Transition (a) of a subgoal level: (s, hindsight action, r, s', g, done) with the *original* goal g.

    Args:
        obs, next_obs: (obs_dim,) states before and after the lower level's attempts.
        proposed: (goal_dim,) the subgoal proposed.
        next_achieved: (goal_dim,) proj(s').
        goal: (goal_dim,) this level's own goal (kept unchanged).
        lower_reached: whether the level below reached ``proposed``.
        threshold, norm: this level's goal test (see ``peach_lite.her.goal_reached``).
    Returns:
        one :class:`~peach_lite.her.Transitions` (no leading dim): reward 0 and done 1 iff
        ``next_achieved`` reaches ``goal``, else reward -1 and done 0.

    Taught in notebooks/07_hac.py (section "Hindsight action transitions"); exercise 2 re-implements it.
    """
    reached = bool(goal_reached(next_achieved, goal, threshold, norm))
    return Transitions(
        np.array(obs, dtype=np.float32), hindsight_action(proposed, next_achieved, lower_reached),
        np.float32(0.0 if reached else -1.0), np.array(next_obs, dtype=np.float32), np.array(goal, dtype=np.float32),
        np.float32(1.0 if reached else 0.0),
    )


def subgoal_test_transition(
    obs: Any, proposed: Any, next_obs: Any, goal: Any, *, tested: bool, lower_missed: bool, subgoal_horizon: int
) -> Transitions | None:
    """Transition (c): the penalty for a tested subgoal the level below could not reach.

    Args:
        obs, next_obs: (obs_dim,) states before and after the lower level's attempts.
        proposed: (goal_dim,) the subgoal proposed (the *original*, not the hindsight action).
        goal: (goal_dim,) this level's own goal.
        tested: whether the subgoal was tested (lower levels acted greedily).
        lower_missed: whether the level below used all H attempts without reaching it ("maxed out").
        subgoal_horizon: H; the penalty is -H.
    Returns:
        ``Transitions(obs, proposed, -H, next_obs, goal, done=1)`` if ``tested and lower_missed``,
        else None. Being terminal, its critic target is exactly -H (γ = 0).

    Taught in notebooks/07_hac.py (section "Subgoal testing"); exercise 1 re-implements it.
    """
    if not (tested and lower_missed):
        return None
    return Transitions(
        np.array(obs, dtype=np.float32), np.array(proposed, dtype=np.float32), np.float32(-float(subgoal_horizon)),
        np.array(next_obs, dtype=np.float32), np.array(goal, dtype=np.float32), np.float32(1.0),
    )


# ================================================================================= the bounded critic
def q_offset_for(subgoal_horizon: float, q_init: float = -0.067) -> float:
    """The constant that makes ``bounded_q(0) == q_init``: -log(H / |q_init| - 1) (reference ``q_offset``).

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    check_range("subgoal_horizon", subgoal_horizon, 1e-9)
    if not -subgoal_horizon < q_init < 0:
        raise ValueError(f"q_init must be in (-{subgoal_horizon}, 0), got {q_init}")
    return -math.log(subgoal_horizon / -q_init - 1.0)


def bounded_q(raw: Tensor, subgoal_horizon: Tensor | float, q_offset: Tensor | float) -> Tensor:
    """HAC's critic head: Q = -H · sigmoid(raw + q_offset), always in [-H, 0].

    Args:
        raw: (*batch) output of the critic's last linear layer.
        subgoal_horizon: H (a number or a tensor broadcast against ``raw``).
        q_offset: :func:`q_offset_for` (same broadcasting).
    Returns:
        (*batch) Q-values.

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    return -subgoal_horizon * torch.sigmoid(raw + q_offset)


def critic_targets(reward: Tensor, done: Tensor, next_q: Tensor, gamma: float, subgoal_horizon: Tensor | float) -> Tensor:
    """Bellman targets r + γ (1 - done) Q(s', g, π(s', g)), clipped to [-H, 0] (reference ``critic.update``).

    Args:
        reward, done, next_q: (*batch) tensors; ``next_q`` comes from the *online* critic and actor.
        gamma: discount.
        subgoal_horizon: H, a number or a tensor broadcast against the batch.
    Returns:
        (*batch) targets; a penalty transition (reward -H, done 1) gets exactly -H.

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    target = reward + gamma * (1.0 - done) * next_q
    low = -torch.as_tensor(subgoal_horizon, dtype=target.dtype)
    return torch.minimum(torch.maximum(target, low), torch.zeros((), dtype=target.dtype))


def bounded_critic(obs_dim: int, goal_dim: int, action_dim: int, horizon: int, hidden: Sequence[int] = (64, 64, 64),
                   cond_dim: int = 0, q_init: float = -0.067, num_critics: int = 1) -> EnsembleCritic:
    """Q(s, a, [g, c]) = -H · sigmoid(f(s, a, g, c) + q_offset) in [-H, 0], as one ``EnsembleCritic``.

    Args:
        obs_dim, goal_dim, action_dim: sizes of s, g and a.
        horizon: H, the critic's bound.
        hidden: hidden layer sizes.
        cond_dim: size of an extra task variable c read next to the goal (0: none).
        q_init: the output at initialisation (the last layer starts at U(±3e-3), so f ≈ 0).
        num_critics: 1 (HAC); 2 for SAC's twin critics (:class:`SoftGoalLevel`).
    Forward:
        ``critic(obs (*B, obs_dim), action (*B, action_dim), cond (*B, goal_dim + cond_dim)) -> (num_critics, *B)``.

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """
    check_int("horizon", horizon, 1)
    offset = q_offset_for(float(horizon), q_init)
    critic = EnsembleCritic(obs_dim, action_dim, hidden, num_critics=num_critics, cond_dim=goal_dim + cond_dim,
                            output_fn=functools.partial(bounded_q, subgoal_horizon=float(horizon), q_offset=offset))
    _small_last_layer(critic.net.layers[-1])
    return critic


class GoalLevel(nn.Module):
    """One HAC level: actor π(s, [g, c]) and bounded critic Q(s, a, [g, c]) with their Adam optimisers.

    Args:
        obs_dim, goal_dim: sizes of the state s and of the goal space.
        action_low, action_high: (action_dim,) box of this level's actions (level 0: the env's actions;
            levels > 0: the subgoal space).
        horizon: H of this level (the bound of its critic is -H).
        hidden: hidden sizes of the actor and the critic (reference: 3 x 64).
        cond_dim: size of a task variable c read next to the goal (0 for HAC; PEACH's top level: latent_dim).
        gamma: discount of the critic targets.
        actor_lr, critic_lr: Adam learning rates.
        q_init: critic output at initialisation.
        action_l2: weight of HER's action penalty in the actor loss, ``action_l2 · mean(((a - offset) / scale)²)``
            (baselines' ``her/ddpg.py``; the HAC reference has none: 0). It keeps tanh(f) off its flat ends, where
            the actor's gradient vanishes and a saturated actor never recovers, but it also pulls every action in.
        pre_tanh_l2: weight of a penalty ``pre_tanh_l2 · mean(f²)`` on the actor's pre-tanh output f (the SAC
            reference code's regulariser of its pre-tanh mean, 1e-3; the HAC reference has none: 0). Its gradient does
            not pass through tanh, so it pulls a saturated f back, and it barely touches f inside ±2.
    Shapes:
        ``actions(obs (*B, obs_dim), goal (*B, goal_dim), cond (*B, cond_dim) | None) -> (*B, action_dim)``
        ``q_values(obs, goal, action (*B, action_dim), cond) -> (*B,)`` in [-H, 0].

    Taught in notebooks/07_hac.py (section "Bounded critics").
    """

    stochastic: ClassVar[bool] = False
    """The policy is a distribution that explores by sampling (:class:`SoftGoalLevel`); HAC's adds Gaussian noise."""

    def __init__(self, obs_dim: int, goal_dim: int, action_low: Any, action_high: Any, horizon: int, *,
                 hidden: Sequence[int] = (64, 64, 64), cond_dim: int = 0, gamma: float = 0.98, actor_lr: float = 1e-3,
                 critic_lr: float = 1e-3, q_init: float = -0.067, action_l2: float = 0.0, pre_tanh_l2: float = 0.0):
        super().__init__()
        low, high = np.asarray(action_low, np.float32).ravel(), np.asarray(action_high, np.float32).ravel()
        if low.shape != high.shape or not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)) or not np.all(high > low):
            raise ValueError(f"action_low and action_high must be finite, of one shape, with high > low; got {low} and {high}")
        check_range("gamma", gamma, 0.0, 1.0)
        check_int("cond_dim", cond_dim, 0)
        check_range("action_l2", action_l2, 0.0, 100.0)
        check_range("pre_tanh_l2", pre_tanh_l2, 0.0, 100.0)
        self.action_l2, self.pre_tanh_l2 = float(action_l2), float(pre_tanh_l2)
        self.obs_dim, self.goal_dim, self.cond_dim = int(obs_dim), int(goal_dim), int(cond_dim)
        self.action_dim, self.horizon, self.gamma = int(low.size), int(horizon), float(gamma)
        self._build_networks(low, high, tuple(hidden), q_init)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=actor_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=critic_lr, fused=True)

    def _build_networks(self, low: np.ndarray, high: np.ndarray, hidden: tuple[int, ...], q_init: float) -> None:
        scale, offset = (high - low) / 2, (high + low) / 2
        self.actor = DeterministicActor(self.obs_dim, self.action_dim, hidden, cond_dim=self.goal_dim + self.cond_dim,
                                        action_scale=scale.tolist(), action_offset=offset.tolist())
        _small_last_layer([m for m in self.actor.net if isinstance(m, nn.Linear)][-1])  # reference: U(±3e-3)
        self.critic = bounded_critic(self.obs_dim, self.goal_dim, self.action_dim, self.horizon, hidden, self.cond_dim, q_init)

    def actions(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None) -> Tensor:
        """π(s, [g, c]) = tanh(f(s, g, c)) · scale + offset: (*B, ...) -> (*B, action_dim)."""
        return self.actor(obs, self._goal_cond(goal, cond))

    def q_values(self, obs: Tensor, goal: Tensor, action: Tensor, cond: Tensor | None = None) -> Tensor:
        """Q(s, a, [g, c]) in [-H, 0]: (*B, ...) -> (*B,)."""
        return self.critic(obs, action, self._goal_cond(goal, cond)).squeeze(0)

    def critic_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Mean squared error to :func:`critic_targets` (online actor and critic at s', no target networks).

        Args:
            batch: the :data:`LEVEL_FIELDS`, each with leading dims (*B).
            cond: (*B, cond_dim) task variable or None; *not* detached here, so the loss's gradient
                reaches whatever produced it (PEACH's encoder). The target is computed without gradient.
        Returns:
            (loss (), q (*B,)) where q = Q(s, a, [g, c]) before the update.

        Taught in notebooks/07_hac.py (section "Bounded critics").
        """
        with torch.no_grad():
            next_goal = self._goal_cond(batch["goal"], cond)
            next_q = self.critic(batch["next_obs"], self.actor(batch["next_obs"], next_goal), next_goal).squeeze(0)
            target = critic_targets(batch["reward"], batch["done"], next_q, self.gamma, float(self.horizon))
        q = self.q_values(batch["obs"], batch["goal"], batch["action"], cond)
        return (q - target).pow(2).mean(), q

    def actor_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> Tensor:
        """-mean Q(s, π(s, [g, c]), [g, c]), flowing through the critic without training it, plus HER's action
        penalty ``action_l2 · mean(((π - offset) / scale)²)`` when ``action_l2`` > 0 and ``pre_tanh_l2 · mean(f²)`` on the
        pre-tanh output f when ``pre_tanh_l2`` > 0.

        Args:
            batch: as in :meth:`critic_loss` (only obs and goal are read).
            cond: (*B, cond_dim) or None; a caller that learns c passes ``cond.detach()`` here.
        Returns:
            () loss; its gradient reaches only the actor's parameters (and ``cond`` if not detached).

        Taught in notebooks/07_hac.py (section "Bounded critics").
        """
        if self.pre_tanh_l2 > 0:
            pre_tanh = self.pre_tanh(batch["obs"], batch["goal"], cond)
            actions = torch.tanh(pre_tanh) * self.actor.action_scale + self.actor.action_offset
        else:
            actions = self.actions(batch["obs"], batch["goal"], cond)
        with frozen(self.critic):
            loss = -self.q_values(batch["obs"], batch["goal"], actions, cond).mean()
        if self.action_l2 > 0:
            unit = (actions - self.actor.action_offset) / self.actor.action_scale
            loss = loss + self.action_l2 * unit.pow(2).mean()
        if self.pre_tanh_l2 > 0:
            loss = loss + self.pre_tanh_l2 * pre_tanh.pow(2).mean()
        return loss

    def pre_tanh(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None) -> Tensor:
        """The actor's output before its tanh, f(s, [g, c]): (*B, ...) -> (*B, action_dim); π = tanh(f) · scale + offset.

        Taught in notebooks/11_peach.py (section "The seed that never leaves the start room: a saturated bottom actor").
        """
        return self.actor.pre_tanh(obs, self._goal_cond(goal, cond))

    def saturation(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None, *, threshold: float = 3.0) -> float:
        """Share of the actor's pre-tanh outputs f(s, g, c) beyond ±``threshold`` (tanh'(3) ≈ 0.01): where the actor's
        gradient has all but vanished. A share near 1 is a saturated actor that acts at its box's corner and no longer
        learns (``pre_tanh_l2``).

        Args:
            obs (*B, obs_dim), goal (*B, goal_dim), cond (*B, cond_dim) or None: the states to read it on.
            threshold: |f| counted as saturated, > 0.
        Returns:
            the share, in [0, 1], over every state and action dimension.

        Taught in notebooks/11_peach.py (section "The seed that never leaves the start room: a saturated bottom actor").
        """
        check_range("threshold", threshold, 1e-6, 100.0)
        with torch.no_grad():
            f = self.pre_tanh(obs, goal, cond)
        return float((f.abs() > threshold).float().mean())

    def reinitialise_actor(self, seed: int) -> None:
        """Draw the actor's weights afresh as at construction (torch's default layers, the last at U(±3e-3)), from a
        generator seeded ``seed`` (the global RNG is left as it was), and clear its Adam state. The critic is kept.

        Taught in notebooks/11_peach.py (section "The seed that never leaves the start room: a saturated bottom actor").
        """
        check_int("seed", seed, 0, 2**32 - 1)
        layers = [m for m in self.actor.net if isinstance(m, nn.Linear)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for layer in layers:
                layer.reset_parameters()
            _small_last_layer(layers[-1])
        self.actor_optimizer.state.clear()

    def update(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> dict[str, Tensor]:
        """One gradient step of the reference's ``Layer.learn``: the critic first, then the actor against it.

        Returns:
            ``{"critic_loss", "actor_loss", "q_mean"}``, detached 0-d tensors.

        Taught in notebooks/07_hac.py (section "Bounded critics").
        """
        critic_loss, q = self.critic_loss(batch, cond)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        actor_loss = self.actor_loss(batch, None if cond is None else cond.detach())
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()
        self.end_update()
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "q_mean": q.detach().mean()}

    def end_update(self) -> None:
        """Call after a gradient step's critic and actor steps. HAC's level has no target networks: nothing to do."""

    def numpy_policy(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
        """The actor as float32 numpy arrays: ([(weight (in, out), bias (out,)), ...], scale, offset).

        Acting one state at a time is a few small matmuls; in numpy they cost no torch dispatch.
        """
        with torch.no_grad():
            layers = [(m.weight.T.numpy().copy(), m.bias.numpy().copy()) for m in self.actor.net if isinstance(m, nn.Linear)]
            return layers, self.actor.action_scale.numpy().copy(), self.actor.action_offset.numpy().copy()

    def _goal_cond(self, goal: Tensor, cond: Tensor | None) -> Tensor:
        if self.cond_dim == 0:
            if cond is not None:
                raise ValueError("cond was given but this level was built with cond_dim=0")
            return goal
        if cond is None or cond.shape[-1] != self.cond_dim:
            raise ValueError(f"cond must have shape (*batch, {self.cond_dim}), got {None if cond is None else tuple(cond.shape)}")
        return torch.cat([goal, cond], dim=-1)


class SoftGoalLevel(GoalLevel):
    """A goal-conditioned level learned by SAC (Haarnoja et al. 2018), as PEARL's policy is: a tanh-Gaussian actor over
    the level's box, twin critics bounded in [-H, 0] with Polyak-averaged targets, and an automatic temperature α.
    PEACH's alternative top learner (``PeachConfig.top_learner = "sac"``). Its inputs, hidden sizes, learning rates and
    initialisation (last layers at U(±3e-3)) are :class:`GoalLevel`'s, so the two differ in the learning rule only.

    The soft Bellman target r + γ (1 - done) (min_i Q'_i(s', a') - α log π(a' | s')), a' ~ π, is clipped to [-H, 0] as
    HAC's is (:func:`critic_targets`), so a -H subgoal-test penalty keeps its meaning. log π is the density of the action
    in the unit box (before scale and offset), where SAC's target entropy -action_dim is defined. The temperature's loss
    -log α (log π + target_entropy) is added to the actor's (it reaches log α only: log π is detached there), and log α
    steps with the actor's Adam as a second parameter group with its own learning rate, which is the same update as a
    separate Adam.

    Args:
        as :class:`GoalLevel` (``action_l2`` and ``pre_tanh_l2`` must be 0: the entropy term keeps tanh off its flat ends),
        tau: Polyak rate of the target critics (SB3 0.005).
        init_alpha: initial temperature α (SB3 1.0).
        alpha_lr: Adam learning rate of log α (SB3 3e-4).
        target_entropy: None = -action_dim (SB3 ``"auto"``).
        seed: seeds the generator the policy samples with (acting and the losses).
    Shapes: as :class:`GoalLevel`; ``actions`` is the greedy tanh(mean) · scale + offset, ``q_values`` the twins' minimum,
    ``pre_tanh`` the Gaussian's mean.

    Taught in notebooks/11_peach.py (section "Which learner at the top: HAC's or SAC").
    """

    stochastic: ClassVar[bool] = True

    def __init__(self, obs_dim: int, goal_dim: int, action_low: Any, action_high: Any, horizon: int, *,
                 hidden: Sequence[int] = (64, 64, 64), cond_dim: int = 0, gamma: float = 0.98, actor_lr: float = 1e-3,
                 critic_lr: float = 1e-3, q_init: float = -0.067, action_l2: float = 0.0, pre_tanh_l2: float = 0.0,
                 tau: float = 0.005, init_alpha: float = 1.0, alpha_lr: float = 3e-4, target_entropy: float | None = None,
                 seed: int = 0):
        if action_l2 != 0.0 or pre_tanh_l2 != 0.0:
            raise ValueError(f"action_l2 and pre_tanh_l2 must be 0 for a SAC level, got {action_l2} and {pre_tanh_l2}")
        check_range("tau", tau, 0.0, 1.0)
        check_range("init_alpha", init_alpha, 1e-8, 1e3)
        check_range("alpha_lr", alpha_lr, 0.0, 1.0)
        check_int("seed", seed, 0, 2**63 - 1)
        super().__init__(obs_dim, goal_dim, action_low, action_high, horizon, hidden=hidden, cond_dim=cond_dim, gamma=gamma,
                         actor_lr=actor_lr, critic_lr=critic_lr, q_init=q_init)
        self.tau = float(tau)
        self.target_entropy = float(-self.action_dim if target_entropy is None else target_entropy)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha)))
        self.actor_optimizer = torch.optim.Adam([{"params": list(self.actor.parameters())},
                                                 {"params": [self.log_alpha], "lr": alpha_lr}], lr=actor_lr, fused=True)
        self.generator = torch.Generator().manual_seed(int(seed))

    def _build_networks(self, low: np.ndarray, high: np.ndarray, hidden: tuple[int, ...], q_init: float) -> None:
        self.register_buffer("action_scale", torch.as_tensor((high - low) / 2))
        self.register_buffer("action_offset", torch.as_tensor((high + low) / 2))
        self.actor = TanhGaussianPolicy(self.obs_dim, self.action_dim, hidden, cond_dim=self.goal_dim + self.cond_dim)
        _small_last_layer([m for m in self.actor.net if isinstance(m, nn.Linear)][-1])
        self.critic = bounded_critic(self.obs_dim, self.goal_dim, self.action_dim, self.horizon, hidden, self.cond_dim, q_init,
                                     num_critics=2)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

    @property
    def alpha(self) -> float:
        """The temperature α = exp(log α) now."""
        return float(self.log_alpha.detach().exp())

    def sample_actions(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """a ~ π(· | s, [g, c]) (reparameterised, so differentiable) and its log-density in the unit box: (*B, ...) ->
        ((*B, action_dim) in the level's box, (*B,))."""
        pi = self.actor(obs, self._goal_cond(goal, cond), generator=self.generator)
        return pi.action * self.action_scale + self.action_offset, pi.log_prob

    def actions(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None) -> Tensor:
        """The greedy action tanh(mean(s, [g, c])) · scale + offset: (*B, ...) -> (*B, action_dim)."""
        pi = self.actor(obs, self._goal_cond(goal, cond), deterministic=True, with_log_prob=False)
        return pi.action * self.action_scale + self.action_offset

    def q_values(self, obs: Tensor, goal: Tensor, action: Tensor, cond: Tensor | None = None) -> Tensor:
        """min_i Q_i(s, a, [g, c]) in [-H, 0]: (*B, ...) -> (*B,)."""
        return self.critic(obs, action, self._goal_cond(goal, cond)).min(dim=0).values

    def pre_tanh(self, obs: Tensor, goal: Tensor, cond: Tensor | None = None) -> Tensor:
        """The Gaussian's mean before the tanh (the greedy action's f): (*B, ...) -> (*B, action_dim)."""
        return self.actor(obs, self._goal_cond(goal, cond), deterministic=True, with_log_prob=False).mean

    @torch.no_grad()
    def soft_targets(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> Tensor:
        """The soft Bellman targets y = r + γ (1 - done) (min_i Q'_i(s', a') - α log π(a' | s')), a' ~ π(· | s'), from
        the target critics, clipped to [-H, 0] (:func:`critic_targets`): (*B,), without gradient.

        Taught in notebooks/11_peach.py (section "Which learner at the top: HAC's or SAC").
        """
        next_action, next_log_prob = self.sample_actions(batch["next_obs"], batch["goal"], cond)
        next_q = self.critic_target(batch["next_obs"], next_action, self._goal_cond(batch["goal"], cond)).min(dim=0).values
        soft_value = next_q - self.log_alpha.exp() * next_log_prob
        return critic_targets(batch["reward"], batch["done"], soft_value, self.gamma, float(self.horizon))

    def critic_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Mean over both critics and the batch of (Q_i(s, a, [g, c]) - y)², y the soft Bellman target from the target
        critics at a fresh a' ~ π(· | s'), clipped to [-H, 0]. ``cond`` is not detached (as :meth:`GoalLevel.critic_loss`).

        Returns:
            (loss (), q (*B,)) where q = min_i Q_i(s, a, [g, c]) before the update.
        """
        target = self.soft_targets(batch, cond)
        q = self.critic(batch["obs"], batch["action"], self._goal_cond(batch["goal"], cond))  # (2, *B)
        return (q - target).pow(2).mean(), q.detach().min(dim=0).values

    def actor_loss(self, batch: dict[str, Tensor], cond: Tensor | None = None) -> Tensor:
        """mean(α log π(ã | s) - min_i Q_i(s, ã)), ã ~ π, through the frozen critics, plus the temperature's loss
        -mean(log α (log π + target_entropy)). The first reaches the actor only, the second log α only.
        """
        action, log_prob = self.sample_actions(batch["obs"], batch["goal"], cond)
        with frozen(self.critic):
            q = self.q_values(batch["obs"], batch["goal"], action, cond)
        temperature_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        return (self.log_alpha.detach().exp() * log_prob - q).mean() + temperature_loss

    def end_update(self) -> None:
        """SAC's last step: the target critics move towards the critics, θ' <- (1 - τ) θ' + τ θ."""
        polyak_update_(self.critic_target, self.critic, self.tau)

    def explore_action(self, inputs: np.ndarray) -> np.ndarray:
        """One exploring action, sampled from π, for one input [s, g, c] (in_dim,) -> (action_dim,) float32 (HAC's
        ``level_action``: a SAC level explores by its own sampling, with no Gaussian noise added)."""
        x = torch.as_tensor(np.asarray(inputs, np.float32))
        if x.shape != (self.obs_dim + self.goal_dim + self.cond_dim,):
            raise ValueError(f"inputs must be one [s, g, c] of shape ({self.obs_dim + self.goal_dim + self.cond_dim},), got {tuple(x.shape)}")
        with torch.no_grad():
            pi = self.actor(x[: self.obs_dim], x[self.obs_dim:], generator=self.generator, with_log_prob=False)
            return (pi.action * self.action_scale + self.action_offset).numpy().astype(np.float32)

    def numpy_policy(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
        """The greedy policy as float32 numpy arrays for :func:`numpy_actor`: the mean's rows of the last layer."""
        with torch.no_grad():
            layers = [(m.weight.T.numpy().copy(), m.bias.numpy().copy()) for m in self.actor.net if isinstance(m, nn.Linear)]
            weight, bias = layers[-1]
            layers[-1] = (weight[:, : self.action_dim].copy(), bias[: self.action_dim].copy())
            return layers, self.action_scale.numpy().copy(), self.action_offset.numpy().copy()


def numpy_actor(policy: tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Evaluate :meth:`GoalLevel.numpy_policy` on one input x = [s, g, c] (in_dim,) -> (action_dim,).

    The same arithmetic as the torch actor, ``tanh(relu(...) W + b) * scale + offset``, in float32 numpy.

    Taught in notebooks/07_hac.py (section "One training episode, level by level").
    """
    layers, scale, offset = policy
    h = x
    for weight, bias in layers[:-1]:
        h = np.maximum(h @ weight + bias, 0.0)
    weight, bias = layers[-1]
    return np.tanh(h @ weight + bias) * scale + offset


def replay_saturation(hierarchy: Any, level: int = 0, *, num_rows: int = 1024, threshold: float = 3.0, seed: int = 0) -> float:
    """:meth:`GoalLevel.saturation` of a HAC hierarchy's level ``level`` on ``num_rows`` rows of its own replay (the
    states and goals it trains on, drawn with a generator of its own seeded ``seed``, so reading it mid-training changes
    nothing). 0.0 while the replay is empty.

    Taught in notebooks/11_peach.py (section "The seed that never leaves the start room: a saturated bottom actor").
    """
    check_int("level", level, 0, hierarchy.num_levels - 1)
    check_int("num_rows", num_rows, 1, 1_000_000)
    if hierarchy.levels[level].cond_dim:
        raise ValueError(f"level {level} reads a task variable; its saturation needs one: use GoalLevel.saturation")
    buffer = hierarchy.buffer
    keys = [key for key in range(buffer.num_tasks) if key % hierarchy.num_levels == level and buffer.size(key) > 0]
    if not keys:
        return 0.0
    batch = buffer.sample(num_rows, keys[:1], generator=torch.Generator().manual_seed(seed))
    return hierarchy.levels[level].saturation(batch["obs"][0], batch["goal"][0], threshold=threshold)


def reset_if_saturated(hierarchy: Any, level: int, threshold: float, *, seed: int) -> bool:
    """Re-initialise a HAC hierarchy's level ``level`` actor (:meth:`GoalLevel.reinitialise_actor`, seeded ``seed``) if
    its :func:`replay_saturation` is at least ``threshold`` (in (0, 1]); returns whether it did. Below the threshold
    nothing changes, the RNGs included.

    Taught in notebooks/11_peach.py (section "The seed that never leaves the start room: a saturated bottom actor").
    """
    check_range("threshold", threshold, 1e-6, 1.0)
    if replay_saturation(hierarchy, level) < threshold:
        return False
    hierarchy.levels[level].reinitialise_actor(seed)
    hierarchy.actors_changed()
    return True


def _small_last_layer(layer: nn.Module) -> None:
    """Reference ``utils.layer``: output layers start at U(±3e-3)."""
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -3e-3, 3e-3)
        nn.init.uniform_(layer.bias, -3e-3, 3e-3)
