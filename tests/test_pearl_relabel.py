"""Tests for hindsight task relabelling (peach_lite.pearl_relabel, Packer et al. 2021) and the dense-to-sparse context
curriculum: relabelled rewards are the environment's own, a relabelled task is one the trajectory reached, test goals
are never used, and with probability 0 (curriculum off) an update is bit-for-bit PEARL's."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import peach_lite  # noqa: F401  (registers the envs)

from peach_lite.envs.point_robot import point_robot_rewards
from peach_lite.loop import GymTaskEnvs
from peach_lite.pearl import PEARL, PRESETS, PearlConfig, meta_train
from peach_lite.pearl_relabel import HindsightStore, dense_probability

ENV_ID = "peach_lite/PointRobotSparse-v0"
TINY = dict(hidden=(16, 16), encoder_hidden=(16,), latent_dim=3, meta_batch=8, batch_size=8, context_batch=16,
            num_initial_steps=100, num_tasks_sample=3, num_steps_prior=20, num_steps_posterior=40,
            num_train_steps_per_itr=3, replay_buffer_size=2000, num_eval_trajectories=4, num_exp_traj_eval=2)


@pytest.fixture(scope="module")
def envs():
    pool = GymTaskEnvs(ENV_ID, seed=0)
    yield pool
    pool.close()


def tiny_agent(envs, **overrides):
    return PEARL.for_env(envs, PearlConfig(**{**TINY, **overrides}))


@pytest.fixture(scope="module")
def relabelling(envs):
    """A tiny agent with relabel_prob = 1 after two meta-training iterations (its hindsight store filled)."""
    agent = tiny_agent(envs, relabel_prob=1.0, seed=3)
    meta_train(agent, envs, 2, progress=False)
    assert agent.hindsight is not None and len(agent.hindsight.buffer) > 0, "no trajectory reached a training goal"
    return agent


def test_the_store_holds_only_training_goals_never_test_goals(relabelling, envs):
    train = np.array([t.goal for t in envs.unwrapped.train_tasks()])
    test = np.array([t.goal for t in envs.unwrapped.test_tasks()])
    store = relabelling.hindsight
    assert np.array_equal(store.goals, train) and store.buffer.num_tasks == len(train) == relabelling.num_train_tasks
    distance_to_test = np.linalg.norm(store.goals[:, None] - test[None], axis=-1)
    assert distance_to_test.min() > 1e-9  # no test goal is a relabelling target
    batch = relabelling.sample_batch()
    assert batch["relabelled"].any()
    assert int(batch["tasks"].max()) < len(train)


def test_every_stored_trajectory_really_reached_the_goal_it_is_filed_under(relabelling):
    store = relabelling.hindsight
    for goal in range(len(store.goals)):
        size = store.buffer.size(goal)
        if size == 0:
            continue
        table = store.buffer._table[goal, :size]  # every stored row of this goal's pool
        fields = dict(zip(store.buffer.fields, store.buffer._slices))
        next_obs = table[:, fields["next_obs"]].double().numpy()
        episode = table[:, fields["episode"].start].numpy()
        for e in np.unique(episode):
            d = np.linalg.norm(next_obs[episode == e] - store.goals[goal], axis=-1)
            assert d.min() <= 0.2 + 1e-6, f"trajectory {e} filed under goal {goal} came no closer than {d.min():.3f}"


def test_relabelled_rewards_equal_the_environments_reward_functions(relabelling, envs):
    """Replay the relabelled transitions in the real env (task = the hindsight goal) and compare both rewards."""
    batch = relabelling.sample_batch()
    chosen = batch["relabelled"].nonzero().flatten().tolist()
    assert chosen
    env = gym.make(ENV_ID).unwrapped
    train = envs.unwrapped.train_tasks()
    for slot in chosen[:3]:
        task = train[int(batch["tasks"][slot])]
        dense, sparse = point_robot_rewards(batch["next_obs"][slot].double().numpy(), np.array(task.goal))
        assert np.allclose(batch["reward"][slot].numpy(), dense, atol=1e-6)
        assert np.allclose(batch["context_reward"][slot].numpy(), sparse, atol=1e-6)
        # ... and the env itself, stepped from each transition's obs with its action, pays the same
        env.reset(options={"task": task})
        for i in range(4):
            env._state = batch["obs"][slot, i].double().numpy().copy()
            action = relabelling.action_scale.to_env(batch["action"][slot, i]).numpy()
            _, _, _, _, info = env.step(action)
            assert info["dense_reward"] == pytest.approx(float(batch["reward"][slot, i]), abs=1e-5)
            assert info["sparse_reward"] == pytest.approx(float(batch["context_reward"][slot, i]), abs=1e-5)
    # the relabelled contexts carry sparse rewards of their hindsight task, and some of them are paid
    column = relabelling.obs_dim + relabelling.action_dim
    paid = batch["context"][chosen][..., column]
    assert (paid >= 0).all() and (paid <= 1).all() and (paid > 0).any()


def test_a_relabelled_slot_is_a_task_some_stored_trajectory_reached(relabelling):
    store = relabelling.hindsight
    for _ in range(5):
        batch = relabelling.sample_batch()
        for slot in batch["relabelled"].nonzero().flatten().tolist():
            task = int(batch["tasks"][slot])
            assert store.buffer.size(task) > 0
            d = torch.linalg.norm(batch["next_obs"][slot].double() - torch.as_tensor(store.goals[task]), dim=-1)
            assert (batch["context_reward"][slot] > 0).eq(d <= 0.2).all()  # paid exactly where within the radius


def test_reached_matches_the_sparse_reward_of_each_goal():
    goals = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    store = HindsightStore(goals, lambda s, g: point_robot_rewards(s, g), 2, 2, capacity=10)
    path = torch.tensor([[0.5, 0.0], [0.85, 0.05], [0.9, 0.3]])
    assert store.reached(path).tolist() == [0]
    assert store.add_trajectory(path, torch.zeros(3, 2), path, torch.zeros(3)).tolist() == [0]
    assert store.buffer.size(0) == 3 and store.buffer.size(1) == store.buffer.size(2) == 0


def test_probability_zero_leaves_the_update_bit_for_bit_unchanged(envs):
    """relabel_prob = 0 and no curriculum is PEARL: identical losses and parameters after training."""
    results = []
    for overrides in ({}, {"relabel_prob": 0.0, "dense_to_sparse_updates": 0}):
        agent = tiny_agent(envs, seed=7, **overrides)
        meta_train(agent, envs, 2, progress=False)
        losses = agent.update()
        results.append((losses, [p.detach().clone() for m in agent.modules().values() for p in m.state_dict().values()]))
    (l0, p0), (l1, p1) = results
    assert all(torch.equal(l0[k], l1[k]) for k in l0)
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))


def test_relabelling_changes_training_when_on(envs):
    plain, htr = tiny_agent(envs, seed=7), tiny_agent(envs, seed=7, relabel_prob=1.0)
    for agent in (plain, htr):
        meta_train(agent, envs, 2, progress=False)
    assert htr.hindsight is not None and plain.hindsight is None
    assert not torch.equal(plain.policy.state_dict()[next(iter(plain.policy.state_dict()))],
                           htr.policy.state_dict()[next(iter(htr.policy.state_dict()))])


def test_curriculum_anneals_dense_to_sparse_and_never_touches_the_meta_test_context(envs):
    assert dense_probability(0, 100) == 1.0 and dense_probability(50, 100) == 0.5 and dense_probability(200, 100) == 0.0
    assert dense_probability(10, 0) == 0.0
    agent = tiny_agent(envs, dense_to_sparse_updates=10_000, seed=1)
    meta_train(agent, envs, 1, progress=False)
    batch = agent.sample_batch()
    column = agent.obs_dim + agent.action_dim
    assert (batch["context"][..., column] < 0).any()  # dense rewards (negative distances) in the training context
    agent.num_updates = 10_000
    batch = agent.sample_batch()
    assert (batch["context"][..., column] >= 0).all()  # annealed away: sparse only
    agent.num_updates = 0
    episode = {"obs": torch.zeros(1, 2, 2), "action": torch.zeros(1, 2, 2), "reward": -torch.ones(1, 2),
               "context_reward": torch.zeros(1, 2), "next_obs": torch.zeros(1, 2, 2)}
    assert (agent.make_context(episode)[..., column] == 0).all()  # meta-test context: sparse


@pytest.mark.parametrize("field, value", [("relabel_prob", -0.1), ("relabel_prob", 1.5), ("relabel_buffer_size", 0),
                                          ("dense_to_sparse_updates", -1)])
def test_bad_relabel_fields_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PearlConfig(**{field: value})


def test_new_presets_keep_the_reference_kl_and_differ_only_where_documented():
    lite, htr, cur = (PearlConfig.preset(n) for n in ("sparse-point-robot-lite", "sparse-point-robot-htr", "sparse-point-robot-curriculum"))
    assert lite.kl_lambda == htr.kl_lambda == cur.kl_lambda == 1.0
    assert lite.relabel_prob == 0.0 and htr.relabel_prob == 0.5 and cur.dense_to_sparse_updates > 0
    assert {k for k in PRESETS["sparse-point-robot-htr"]} - set(PRESETS["sparse-point-robot-lite"]) == {"relabel_prob"}
    assert PearlConfig().relabel_prob == 0.0 and PearlConfig().dense_to_sparse_updates == 0


# ------------------------------------------------------------------------------ stored checkpoints and results

STORED = ["pearl_point_robot.pt", "pearl_point_robot_htr.pt", "pearl_point_robot_faithful.pt", "pearl_point_robot_deterministic_z.pt"]


@pytest.mark.parametrize("name", STORED)
def test_the_lessons_meta_test_figure_is_the_manifests_score(name):
    """Lesson 05 prints meta_test_curve(...)['final_return'] for a stored checkpoint: the same protocol and seeds as
    the manifest's score (EVAL_SEED + r, r < num_evals), so the two numbers agree."""
    from peach_lite.checkpoints import evaluate_checkpoint, load_agent, read_manifest
    from peach_lite.paths import data_dir
    from peach_lite.pearl import EVAL_SEED
    from peach_lite.pearl_diagnostics import meta_test_curve

    path = data_dir() / "checkpoints" / name
    entry = next((a for a in read_manifest()["artifacts"] if a["file"] == f"checkpoints/{name}"), None)
    if not path.exists() or entry is None:
        pytest.skip(f"{name} not trained yet")
    agent, payload = load_agent(path, algorithm="pearl")
    envs = GymTaskEnvs(ENV_ID, seed=EVAL_SEED)
    curve = meta_test_curve(agent, envs, envs.unwrapped.test_tasks(), num_evals=agent.config.num_evals)
    envs.close()
    assert payload["meta"]["seed"] != EVAL_SEED  # the meta-test seed is not the training seed
    assert curve["final_return"] == pytest.approx(evaluate_checkpoint(path), abs=1e-9)
    assert curve["final_return"] == pytest.approx(entry["score"]["value"], abs=entry["score"]["tolerance"])
    assert max(curve["per_trajectory"]) <= curve["oracle_return"] + 1e-6


def test_no_benchmarked_agent_exceeds_the_oracle():
    from peach_lite.paths import data_dir
    from peach_lite.results import read_results

    if not (data_dir() / "results" / "pearl_point_robot.json").exists():
        pytest.skip("no results yet")
    record = read_results("pearl_point_robot")
    oracle = record["details"]["oracle_return"]
    for run in record["details"]["runs"]:
        assert max(run["per_trajectory"]) <= oracle + 1e-6, run["variant"]
    for key, value in record["headline"].items():
        if key.endswith("fraction_of_oracle"):
            assert 0.0 <= value <= 1.0 + 1e-9, key


# ------------------------------------------------------------------------------ diagnostics


def test_diagnostics_run_on_an_agent_and_measure_what_they_say(relabelling, envs):
    from peach_lite.pearl_diagnostics import arc_distance, informative_context_probe, meta_test_curve, prior_rollout_spread

    assert np.allclose(arc_distance(np.array([[0.0, 1.0], [0.0, 0.5], [1.5, -0.5], [0.0, 0.0]])), [0.0, 0.5, np.hypot(0.5, 0.5), 1.0])
    tasks = envs.unwrapped.test_tasks()[:4]
    probe = informative_context_probe(relabelling, envs, tasks, num_context=10)
    assert set(probe) == {"final_distance", "return", "kl", "success"} and probe["final_distance"] >= 0 and probe["kl"] > 0
    prior = prior_rollout_spread(relabelling, envs, tasks[0], num_rollouts=12)
    ends = np.array(prior["endpoints"])
    assert ends.shape == (12, 2) and 0 <= prior["angular_coverage"] <= 1
    assert prior["share_near_arc"] == pytest.approx(float((arc_distance(ends) <= 0.2).mean()))
    curve = meta_test_curve(relabelling, envs, tasks, num_evals=1)
    assert len(curve["per_trajectory"]) == len(curve["sweep_per_trajectory"]) == relabelling.config.num_eval_trajectories
    assert curve["final_return"] <= curve["oracle_return"] + 1e-6
