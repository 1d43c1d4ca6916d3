"""PEACH's configuration: :class:`PeachConfig` and the presets of the command line.

Taught in notebooks/11_peach.py (section "The agent").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from peach_lite.goal_levels import TOP_LEARNERS
from peach_lite.her import HINDSIGHT_GOAL_MODES
from peach_lite.validation import check_choice, check_int, check_range

__all__ = ["PeachConfig", "TASK_INFERENCE", "HINDSIGHT_ROWS", "REWARD_DECODER_FORMS", "POSTERIOR_FORMS", "ELIMINATION_FORMS", "COLLECTION_ROUTE", "HTR_ROUTE", "RETURN_EXPLORE_ROUTE", "ELIMINATING_ROUTE", "HIDDEN_MAZE_ID"]

HIDDEN_MAZE_ID = "peach_lite/PointMazeHidden-v0"
"""The four-rooms maze whose goal is one of a few hidden sites (PEACH's main task family)."""

TASK_INFERENCE = ("posterior", "none", "oracle")
"""What the top level reads as its task variable: PEACH's z ~ q(z | c); nothing (z = 0, HAC without z);
the true goal (x, y) / 4 (HAC given the goal: the upper bound)."""
REWARD_DECODER_FORMS = ("mlp", "distance")
"""The auxiliary reward decoder's forms (``PeachConfig.reward_decoder_form``)."""
POSTERIOR_FORMS = ("gaussian", "categorical")
"""The context posterior's family: PEARL's product of Gaussian factors, or (not in PEARL) a product of categorical
factors over ``latent_dim`` clusters with a one-hot z (``PeachConfig.posterior_form``)."""
ELIMINATION_FORMS = ("nearest_code", "consistent_mass")
"""The eliminating slots' losses: :func:`~peach_lite.posterior.elimination_loss`, :func:`~peach_lite.posterior.consistent_mass_loss`."""
HINDSIGHT_ROWS = ("buffer", "collection")
"""Where a hindsight-goal slot's RL rows come from (``PeachConfig.hindsight_rows``)."""

COLLECTION_ROUTE = {"top_random_action_rate": 0.2, "hindsight_goal_prob": 0.5, "hindsight_rows": "collection", "kl_lambda": 0.001,
                    "encoder_lr": 1e-3}
"""PeachConfig overrides of the collection route (benchmarks/peach_hindsight.py, the CLI preset ``maze-collection``):
HAC's 20% random subgoals, hindsight goals with rows from the goal's own collection, KL weight 0.001, encoder lr 1e-3."""
HTR_ROUTE = {**COLLECTION_ROUTE, "hindsight_goals": "task_or_achieved"}
"""The collection route whose hindsight slots take a train goal their context reached when there is one (HTR), else where
an attempt ended (HER): the CLI preset ``maze-htr`` and ``peach_hindsight_collection_task_or_achieved``."""
RETURN_EXPLORE_ROUTE = {**HTR_ROUTE, "return_explore_rate": 0.25}
"""The HTR route with a quarter of the training collections planned by first return, then explore (Go-Explore over the
visited cells): the best route measured (benchmarks/peach_return_explore.py, ``return_explore_quarter``)."""
ELIMINATING_ROUTE = {**RETURN_EXPLORE_ROUTE, "elimination_weight": 0.3, "elimination_form": "consistent_mass",
                     "elimination_failures": 3}
"""The return-explore route plus eliminating slots (not in Algorithm 1): each own-goal slot's context cut to unpaid
attempts, plus 1 to 3 failed probe attempts, teaches q(z | c) to put its mass on the train goals those failures leave
(the consistent-mass loss, weight 0.3). The CLI preset ``maze-eliminating`` and peach_elimination's
``eliminating_probes_light`` arm, measured there against the route without it (benchmarks/peach_elimination.py)."""


@dataclass
class PeachConfig:
    """Hyperparameters of PEACH (poster Algorithm 1). The hierarchy follows HAC (``HacConfig``), the posterior
    and its schedule follow PEARL (oyster); the values are this course's CPU choices, each stated.

    Deviations from the poster and its parents, all stated here:

    * The top level is a HAC level (DDPG-style, bounded critic in [-H, 0], no target networks), not SAC:
      its -H subgoal-test penalty and -1/0 reward need the bounded critic, and z sampling already explores
      (``top_learner="sac"`` is the alternative, measured in benchmarks/peach_top_learner.py).
    * The top level's reward is the env's success signal over an attempt (the goal is hidden), and by default it
      gets no hindsight-goal transitions (it never sees its goal); its hindsight-action and subgoal-test
      transitions are HAC's. Options not in the poster, each off by default: hindsight goals through the
      context (``hindsight_goal_prob``, with a curriculum ``hindsight_goal_updates``, its rows drawn from the goal's own
      collection with ``hindsight_rows="collection"``, its goal a train goal the context reached with
      ``hindsight_goals``), hindsight task relabelling (``relabel_prob``), meta-batch slots that read the prior
      (``prior_slot_prob``), and an auxiliary reward decoder for the encoder (``reward_decoder_weight``, an MLP or a distance
      decoder: ``reward_decoder_form``, optionally on a detached z: ``reward_decoder_detach``), a count-based exploration bonus in the top level's RL reward
      (``novelty_bonus``), frontier subgoals in place of the top level's uniformly random ones (``frontier_radius``), and
      collection episodes that first return to a rarely visited cell, then explore (``return_explore_rate``), and
      meta-batch slots whose z reads only the unpaid attempts of their context (``unpaid_context_prob``), and a
      categorical context posterior with a one-hot z in place of PEARL's Gaussian (``posterior_form``), and a loss that
      teaches q(z | c) to eliminate the train goals its failed attempts rule out (``elimination_weight``, ``elimination_form``),
      and guards against a saturated bottom actor: HER's penalty on its actions (``action_l2``), one on its pre-tanh
      output (``pre_tanh_l2``) and a re-initialisation after the first round (``reset_saturated_bottom``; neither the
      poster nor HAC's reference has them).
    * Context rows describe attempts of the top level, (s, hindsight subgoal, reward, s'); subgoal-test
      penalties are left out by default (they describe the lower level, not the task).
    * Lower levels share one task-agnostic replay (HAC's), never see z, and learn after every collection
      episode (Algorithm 1's "update lower levels").

    Taught in notebooks/11_peach.py (section "The agent").
    """

    num_levels: int = 2
    """k, levels of the hierarchy (the top one reads z)."""
    subgoal_horizon: int = 8
    """H, attempts per level (8^2 = 64 >= the hidden maze's 60 steps)."""
    latent_dim: int = 5
    """Size of z (PEARL: 5)."""
    task_inference: str = "posterior"
    """One of :data:`TASK_INFERENCE`: ``"posterior"`` is PEACH; ``"none"`` and ``"oracle"`` are its baselines."""
    deterministic_z: bool = False
    """Point beliefs (no KL, z = the encoder's mean): PEARL's deterministic-z ablation."""
    posterior_form: str = "gaussian"
    """One of :data:`POSTERIOR_FORMS`. ``"gaussian"``: PEARL's (Algorithm 1). ``"categorical"`` (not in the poster or
    PEARL): each context row gives a categorical factor over K = ``latent_dim`` clusters, the factors multiply
    (:func:`~peach_lite.posterior.product_of_categoricals`), z is a one-hot cluster drawn from q (straight-through
    Gumbel-softmax gradient to φ, in place of the Gaussian's reparameterisation), and the KL is to the uniform prior.
    A failure's factor can then rule its cluster out, where a Gaussian product averages two failures. The routing of
    Algorithm 1 is unchanged (z detached for the actor)."""
    random_subgoals: bool = False
    """Baseline: the top level proposes uniformly random subgoals (it never learns); lower levels as usual."""
    kl_lambda: float = 0.1
    """β, weight of KL(q(z | c) || N(0, I)), summed over the meta-batch (design-08-11 §1: 0.1)."""
    encoder_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden layers of the context encoder (design: 3 x 64; PEARL's 3 x 200 is 10x slower here)."""
    encoder_lr: float = 3e-4
    """Adam learning rate of the encoder (oyster's context_lr)."""
    meta_batch: int = 8
    """Train tasks per top-level gradient step (drawn with replacement among tasks with data)."""
    batch_size: int = 128
    """Top-level RL rows per task and gradient step."""
    context_batch: int = 32
    """Context rows per task and gradient step (an episode has at most H top-level attempts)."""
    num_tasks_sample: int = 4
    """Train tasks collected per round (PEARL's num_tasks_sample)."""
    episodes_per_task: int = 3
    """Episodes per collected task and round: the first on the prior (empty context), then z ~ q(z | c)."""
    num_initial_episodes: int = 1
    """Prior episodes per train task before the first round (PEARL's num_initial_steps)."""
    top_updates_per_round: int = 60
    """Top-level and encoder gradient steps after each round (Algorithm 1's gradient steps)."""
    lower_updates_per_episode: int = 40
    """Lower-level gradient steps after each collection episode (HAC: 40 per episode)."""
    lower_batch_size: int = 256
    """Rows per lower level and gradient step (HacConfig.batch_size)."""
    buffer_size: int = 100_000
    """Rows kept per train task (top level) and per lower level."""
    penalties_in_context: bool = False
    """Ablation: put the -H subgoal-test penalty rows in the context too."""
    dense_context: bool = False
    """Diagnostic: the context's reward column is -distance of s' to the hidden goal (the RL reward stays sparse)."""
    relabel_prob: float = 0.0
    """Hindsight task relabelling (Packer et al. 2021, adapted): each meta-batch task's rows come, with this
    probability, from another train task's buffer, rewards and terminals recomputed for the drawn task's goal
    by the env's own reward function. Row-level, not trajectory-level as the paper (a deviation)."""
    hindsight_goal_prob: float = 0.0
    """Hindsight goals through the context (this course's extension of HER to a hidden goal): with this probability a
    meta-batch slot's goal becomes where one of its context attempts ended, and the slot's RL and context rewards are
    recomputed for it, so the encoder sees a paid attempt and the top level a success it can learn from. HTR
    (``relabel_prob``) relabels to training goals only; this relabels to achieved ones, as HER does."""
    hindsight_rows: str = "buffer"
    """Where a hindsight-goal slot draws its RL rows: ``"buffer"`` (the task's whole replay, as its other slots) or
    ``"collection"`` (the task's latest collection, the episodes its context and its hindsight goal come from: HER's
    "future" counterpart, so that the goal is reachable from the rows and the critic learns a graded value, not a
    -H plateau with a few paid rows)."""
    hindsight_goals: str = "achieved"
    """Which goal a hindsight slot takes (not in the poster): ``"achieved"`` (where one of its context attempts ended, as
    HER), ``"task"``
    (a training task's goal that one of its context attempts reached, chosen uniformly among those reached: hindsight
    task relabelling as in Packer et al. 2021, so that the task variable only ever encodes goals of the task
    distribution; a slot whose attempts reached no training goal keeps its own), or ``"task_or_achieved"`` (that
    training goal when there is one, else where one of its attempts ended)."""
    hindsight_goal_updates: int = 0
    """Hindsight-goal curriculum: if > 0, the probability of hindsight goals falls linearly from
    ``hindsight_goal_prob`` to 0 over this many top-level gradient steps, so that the top level first learns to
    reach where it has been and the task variable then settles on the true task distribution (0: constant)."""
    prior_slot_prob: float = 0.0
    """Prior slots (not in the poster or PEARL): with this probability a meta-batch slot that keeps its own task's goal
    reads z from the prior, as if its context were empty, instead of from q(z | c). The top level then learns what to
    do before any context, which is the meta-test's first episode (its value is the best uninformed attempt). No
    gradient reaches φ from such a slot. 0 = Algorithm 1 as written."""
    reward_decoder_weight: float = 0.0
    """Weight of an auxiliary reward decoder (VariBAD-style; not in the poster or PEARL): a small MLP predicts from
    (z, where an attempt ended) whether the attempt was paid, for the RL batch's and the context's attempts, and its
    cross-entropy trains the decoder and, through z, the encoder. It gives q(z | c) a direct reason to encode the goal when the critic's gradient alone lets the
    posterior collapse to the prior. 0 = Algorithm 1 as written."""
    reward_decoder_form: str = "mlp"
    """The reward decoder's form (when ``reward_decoder_weight`` > 0): ``"mlp"``, a small MLP of (z, s'); or
    ``"distance"`` (:class:`~peach_lite.nets.DistanceDecoder`), paid the closer s' lies to a linear image W z of z, which
    asks for a code linear in the goal's coordinates, like the oracle's. Not in the poster or VariBAD."""
    reward_decoder_detach: bool = False
    """The reward decoder reads z detached (not in the poster or VariBAD): its loss then trains the decoder alone, a
    likelihood p(paid | z, s') learned beside Algorithm 1 that leaves φ to the critic and the KL (a meta-test belief
    can weigh hypotheses with it, ``peach_beliefs.learned_belief_meta_test``). False: the loss also reaches φ."""
    novelty_bonus: float = 0.0
    """Directed exploration (count-based, as MBIE-EB / #Exploration; not in the poster, PEARL or HAC): each unpaid top-level
    attempt in the RL batch earns ``novelty_bonus / sqrt(N)``, where N counts the training collections' top-level attempts
    that ended in the same cell of a ``novelty_cells``-per-axis grid over the subgoal box (at least 1). The bonus is
    task-independent and fades as the cell is visited, so the top level under every z is drawn to where collection has
    rarely been (the far room) until the task's reward dominates. Only the critic's reward: the context rows keep the
    task's reward. At most 0.99, so rewards stay in [-1, 0) and the bounded critic in [-H, 0]. 0 = Algorithm 1 as written."""
    novelty_cells: int = 8
    """Cells per axis of the grid that counts where training attempts ended (``novelty_bonus``; 8: 1 x 1 cells in the maze)."""
    frontier_radius: float = 0.0
    """Frontier subgoals (directed exploration of the proposals; MEGA-style, Pitis et al. 2020; not in the poster, PEARL or
    HAC): if > 0, each uniformly random subgoal of the exploring top level (``top_random_action_rate``) is replaced by
    the centre of the least-visited cell, among the cells where training attempts have ended (``novelty_cells`` grid),
    within this distance of the agent (a uniform subgoal when there is none). Collections then push the edge of what
    has been reached, through doorways, instead of proposing places behind walls. 0 = HAC's uniform subgoals."""
    return_explore_rate: float = 0.0
    """First return, then explore (Go-Explore, Ecoffet et al. 2021; not in the poster, PEARL or HAC): the share of
    training collection episodes whose top-level subgoals are planned, not the top level's own: waypoints along the
    cell-to-cell moves earlier training attempts made (``novelty_cells`` grid) to a visited cell drawn ∝ 1/√N, then
    uniformly random subgoals from there (:class:`~peach_lite.exploration.FirstReturnThenExplore`). z is still drawn
    and stored with every row (the top level learns off-policy from them), and the attempts go to every buffer. The
    collections then reach the far room consistently instead of by chance. 0 = Algorithm 1 as written."""
    unpaid_context_prob: float = 0.0
    """Unpaid slots (not in the poster or PEARL): with this probability a meta-batch slot that keeps its own task's goal
    reads z from only the unpaid attempts of its context (:func:`~peach_lite.posterior.unpaid_only`), the context a
    meta-test has before its first paid attempt. The critic's gradient then teaches the encoder what failures rule out
    (elimination), and the actor what to do given them. Needs sparse context rows (``dense_context=False``). 0 =
    Algorithm 1 as written."""
    elimination_weight: float = 0.0
    """Eliminating slots (not in the poster, PEARL or Algorithm 1): weight of a loss that teaches q_φ(z | c) what
    posterior sampling with elimination does (:func:`~peach_lite.posterior.elimination_loss`). Each own-goal slot's
    context is cut to a random subset of its unpaid attempts (the context of a meta-test before its first paid
    attempt); the train goals whose reward gives every kept row its recorded reward are the hypotheses left (the
    exact likelihood hindsight relabelling already uses); each has a code, q(z | its paid-context probe's rows),
    detached. The loss, KL(N(code) || q(z | c)) to the likeliest code left, reaches φ only. 0 = Algorithm 1 as written."""
    elimination_form: str = "nearest_code"
    """One of :data:`ELIMINATION_FORMS`, the eliminating slots' loss (``elimination_weight`` > 0; not in Algorithm 1).
    ``"nearest_code"``: KL(N(code) || q(z | c)) to the likeliest code left (:func:`~peach_lite.posterior.elimination_loss`;
    its targets are q's own codes, so codes that coincide satisfy it). ``"consistent_mass"``: -log of the probability
    that z ~ q(z | c) lands on a code left (:func:`~peach_lite.posterior.consistent_mass_loss`), which coinciding codes
    do not satisfy."""
    elimination_failures: int = 0
    """The eliminating slots (``elimination_weight`` > 0; not in Algorithm 1) add 1 to this many failed probe attempts
    (:func:`~peach_lite.peach_context.with_probe_failures`: rows ending at rest at train goals the slot's goal does not
    pay) to the kept unpaid attempts. 0: the slot's own attempts only, which rule out little: on the quarter route's
    checkpoint a quarter of the own-goal contexts rule out any train goal, and none more than one site's goals
    (:func:`~peach_lite.peach_diagnostics.own_context_elimination`, benchmarks/peach_elimination.py)."""
    meta_test_episodes: int = 6
    """Meta-test episodes per task (the first on the prior, each later one on a fresh posterior sample)."""
    gamma: float = 0.98
    """Discount of every level (HAC)."""
    subgoal_test_rate: float = 0.3
    """λ, subgoal-testing rate of every level (HAC)."""
    random_action_rate: float = 0.2
    """Uniformly random actions and lower-level subgoals while exploring (HAC)."""
    top_random_action_rate: float = 0.2
    """Uniformly random subgoals of the top level while exploring (HAC: 0.2)."""
    action_l2: float = 0.0
    """Weight of HER's action penalty on the bottom level's actor (``HacConfig.action_l2``; 0: HAC's reference,
    none). Not in Algorithm 1 or HAC: without it, some seeds' bottom actor saturates in the first round (tanh(f)
    at the box's corner for almost every state, where its gradient vanishes) and the hierarchy never leaves its start
    room (benchmarks/peach_saturation.py)."""
    pre_tanh_l2: float = 0.0
    """Weight of a penalty on the bottom actor's pre-tanh output (``HacConfig.pre_tanh_l2``; 0: HAC's reference, none).
    Not in Algorithm 1 or HAC: it pulls a saturated actor back without pulling its actions in (benchmarks/peach_saturation.py)."""
    reset_saturated_bottom: float = 0.0
    """After the first collection round, re-initialise the bottom actor (``GoalLevel.reinitialise_actor``, seeded by
    ``seed``) if at least this share of its pre-tanh outputs on its replay lie beyond ±3 (``goal_levels.replay_saturation``); 0: never
    (HAC's reference). Not in Algorithm 1 or HAC: it frees an actor saturated in its first round, which never recovers,
    and changes nothing on a run below the threshold (benchmarks/peach_saturation.py)."""
    top_learner: str = "hac"
    """How the top level learns (``HacConfig.top_learner``): ``"hac"``, HAC's DDPG-style level with a bounded critic and
    no target networks (the default: the choice this course made, measured against the other in
    benchmarks/peach_top_learner.py), or ``"sac"``, as PEARL's policy: a tanh-Gaussian actor, twin bounded critics with
    Polyak targets and an automatic temperature (``goal_levels.SoftGoalLevel``; the same inputs, sizes and rates, and z
    routed the same way: not detached in the critic loss, detached in the actor's)."""
    top_target_entropy: float | None = None
    """With ``top_learner="sac"``: its target entropy in the unit box (``HacConfig.top_target_entropy``; None:
    -2, SB3's ``"auto"``). Higher keeps its exploring subgoals wider."""
    top_samples_in_meta_test: bool = False
    """With ``top_learner="sac"``: the top level samples its subgoals from π in meta-test episodes too, as it does
    while exploring (the lower levels stay greedy); False: tanh(mean), greedy as every level (Algorithm 2 as here)."""
    seed: int = 0
    """Seeds the networks, the hierarchy's exploration, task draws, batches and z samples."""

    def __post_init__(self):
        for name, low, high in [("num_levels", 2, 3), ("subgoal_horizon", 2, 1000), ("latent_dim", 1, 256), ("meta_batch", 1, 1024),
                                ("batch_size", 1, None), ("context_batch", 1, None), ("num_tasks_sample", 1, 1024),
                                ("episodes_per_task", 1, 100), ("num_initial_episodes", 0, 100), ("top_updates_per_round", 0, None),
                                ("lower_updates_per_episode", 0, None), ("hindsight_goal_updates", 0, None), ("lower_batch_size", 1, None), ("buffer_size", 1, None),
                                ("meta_test_episodes", 1, 100), ("novelty_cells", 1, 1024), ("seed", 0, 2**32 - 1)]:
            check_int(name, getattr(self, name), low, high)
        check_int("elimination_failures", self.elimination_failures, 0, self.context_batch)
        check_choice("task_inference", self.task_inference, TASK_INFERENCE)
        check_choice("hindsight_rows", self.hindsight_rows, HINDSIGHT_ROWS)
        check_choice("hindsight_goals", self.hindsight_goals, HINDSIGHT_GOAL_MODES)
        check_choice("reward_decoder_form", self.reward_decoder_form, REWARD_DECODER_FORMS)
        check_choice("posterior_form", self.posterior_form, POSTERIOR_FORMS)
        check_choice("elimination_form", self.elimination_form, ELIMINATION_FORMS)
        check_choice("top_learner", self.top_learner, TOP_LEARNERS)
        if self.top_target_entropy is not None:
            check_range("top_target_entropy", self.top_target_entropy, -100.0, 100.0)
        if (self.top_samples_in_meta_test or self.top_target_entropy is not None) and self.top_learner != "sac":
            raise ValueError("top_samples_in_meta_test and top_target_entropy need top_learner='sac' (HAC's top level is deterministic)")
        if self.posterior_form == "categorical" and (self.deterministic_z or self.latent_dim < 2):
            raise ValueError(f"posterior_form='categorical' needs deterministic_z=False and latent_dim >= 2 (clusters), "
                             f"got deterministic_z={self.deterministic_z}, latent_dim={self.latent_dim}")
        for name in ("deterministic_z", "random_subgoals", "penalties_in_context", "dense_context", "reward_decoder_detach",
                     "top_samples_in_meta_test"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_range("kl_lambda", self.kl_lambda, 0.0, 1e3)
        check_range("reward_decoder_weight", self.reward_decoder_weight, 0.0, 1e3)
        check_range("novelty_bonus", self.novelty_bonus, 0.0, 0.99)
        check_range("frontier_radius", self.frontier_radius, 0.0, 100.0)
        check_range("return_explore_rate", self.return_explore_rate, 0.0, 1.0)
        check_range("encoder_lr", self.encoder_lr, 0.0, 1.0)
        check_range("action_l2", self.action_l2, 0.0, 100.0)
        check_range("pre_tanh_l2", self.pre_tanh_l2, 0.0, 100.0)
        check_range("reset_saturated_bottom", self.reset_saturated_bottom, 0.0, 1.0)
        check_range("relabel_prob", self.relabel_prob, 0.0, 1.0)
        check_range("hindsight_goal_prob", self.hindsight_goal_prob, 0.0, 1.0)
        check_range("prior_slot_prob", self.prior_slot_prob, 0.0, 1.0)
        check_range("unpaid_context_prob", self.unpaid_context_prob, 0.0, 1.0)
        check_range("elimination_weight", self.elimination_weight, 0.0, 1e3)
        if self.elimination_weight > 0 and (self.dense_context or self.posterior_form != "gaussian" or self.deterministic_z):
            raise ValueError("elimination_weight > 0 needs sparse context rows (dense_context=False) and a Gaussian posterior "
                             "(posterior_form='gaussian', deterministic_z=False)")
        if self.unpaid_context_prob > 0 and self.dense_context:
            raise ValueError("unpaid_context_prob must be 0 with dense_context=True (dense rows have no paid/unpaid reward)")
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("subgoal_test_rate", self.subgoal_test_rate, 0.0, 1.0)
        check_range("random_action_rate", self.random_action_rate, 0.0, 1.0)
        check_range("top_random_action_rate", self.top_random_action_rate, 0.0, 1.0)
        self.encoder_hidden = tuple(int(h) for h in self.encoder_hidden)
        if not self.encoder_hidden or min(self.encoder_hidden) < 1:
            raise ValueError(f"encoder_hidden must be a non-empty sequence of positive integers, got {self.encoder_hidden}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), e.g. for a checkpoint's ``arch``."""
        data = asdict(self)
        data["encoder_hidden"] = list(self.encoder_hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PeachConfig":
        """Inverse of :meth:`to_dict`; an unknown key is a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PeachConfig field {unknown[0]!r}; known fields: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
