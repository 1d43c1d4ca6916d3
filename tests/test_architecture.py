"""The architecture shows itself: every algorithm is an Agent that trains through the one shared loop, and
no module carries a private loop, History, episode driver, CLI or validation helper.

Taught in README.md (section "Architecture").
"""
import ast
import re
from pathlib import Path

import gymnasium as gym
import pytest

from peach_lite import loop
from peach_lite.runner import Agent, GymTaskEnvs, Runner

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PACKAGE = Path(__file__).resolve().parents[1] / "peach_lite"


def _check_trained(agent, history):
    assert isinstance(agent, Agent)
    assert history.total_steps > 0 and history.num_updates > 0, "the shared loop collected and learned"


def test_sac_and_td3_train_through_the_shared_loop():
    from peach_lite.sac import SAC, SACConfig
    from peach_lite.td3 import TD3, TD3Config

    for cls, config in ((SAC, SACConfig(hidden=(8,), batch_size=8, buffer_size=100)),
                        (TD3, TD3Config(hidden=(8,), batch_size=8, buffer_size=100))):
        env = gym.make("Pendulum-v1")
        agent = cls.from_env(env, config, device="cpu")
        history = loop.train(agent, Runner(env), loop.TrainConfig(total_steps=40, warmup_steps=20, eval_episodes=0, progress=False))
        _check_trained(agent, history)


def test_pearl_trains_through_the_shared_loop():
    from peach_lite.pearl import PEARL, PearlConfig

    tiny = dict(hidden=(8,), encoder_hidden=(8,), latent_dim=2, meta_batch=2, batch_size=4, context_batch=8,
                num_initial_steps=20, num_tasks_sample=2, num_steps_prior=20, num_steps_posterior=20,
                num_train_steps_per_itr=2, replay_buffer_size=200)
    envs = GymTaskEnvs("peach_lite/PointRobotSparse-v0")
    agent = PEARL.for_env(envs, PearlConfig(**tiny))
    runner = Runner(envs, envs.unwrapped.train_tasks(), seed=0)
    history = loop.train(agent, runner, loop.TrainConfig(rounds=1, updates_per_round=2, warmup_steps=0, eval_episodes=0,
                                                         progress=False))
    _check_trained(agent, history)


def test_hac_trains_through_the_shared_loop():
    from peach_lite.envs import make
    from peach_lite.hac import HAC, HacConfig, run_training

    env_id = "peach_lite/PointMassGoal-v0"
    agent = HAC.from_env(make(env_id), HacConfig(num_levels=2, subgoal_horizon=4, max_actions=16, batch_size=8,
                                                 updates_per_episode=2))
    history = run_training(agent, env_id, total_steps=32, eval_every=100, progress=False)
    _check_trained(agent, history)


def test_belief_agents_train_through_the_shared_loop():
    from peach_lite.belief_agents import BeliefAgentConfig, train

    agent, history = train(BeliefAgentConfig(family="kgoal", agent="belief", num_updates=2, batch_size=4, hidden_dim=8,
                                             eval_every=2, eval_episodes=4), progress=False)
    _check_trained(agent, history)


def test_mql_trains_through_the_shared_loop():
    from peach_lite.mql import train_mql

    agent, meta = train_mql(seed=0, progress=False, total_steps=320, warmup_steps=160, updates_per_step=0.05,
                            hidden=(8,), history_length=2)
    _check_trained(agent, loop.History(**meta["history"]))



def test_hiro_and_fun_train_through_the_shared_loop():
    from peach_lite.fun import train_fun
    from peach_lite.hiro import train_hiro

    agent, meta = train_hiro(seed=0, progress=False, total_steps=48, envs_in_lockstep=2, eval_every_steps=10**6, hidden=(8,),
                             batch_size=8, buffer_size=200, random_goal_steps=16, horizon=4)
    _check_trained(agent, loop.History(**{**meta["history"], "eval_metric": "success"}))
    agent, meta = train_fun(seed=0, progress=False, total_steps=300, envs_in_lockstep=2, eval_every_steps=10**6, hidden=(8,))
    _check_trained(agent, loop.History(**meta["history"]))

def test_peach_trains_through_the_shared_loop():
    from peach_lite.peach import train_peach

    agent, meta = train_peach(seed=0, progress=False, rounds=2, eval_every=2, top_updates_per_round=2, lower_updates_per_episode=2,
                              batch_size=8, context_batch=4, lower_batch_size=8, meta_batch=2, num_tasks_sample=1,
                              episodes_per_task=1, num_initial_episodes=1, buffer_size=2_000, meta_test_episodes=2)
    _check_trained(agent, loop.History(**meta["history"]))


def _sources():
    return {path: path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_is_longer_than_about_600_lines():
    long = {p.relative_to(PACKAGE).as_posix(): len(s.splitlines()) for p, s in _sources().items() if len(s.splitlines()) > 660}
    assert not long, f"split these modules by concern: {long}"


@pytest.mark.parametrize("what, allowed", [
    (r"^class History\b", {"loop.py"}),
    (r"except KeyboardInterrupt", {"loop.py", "sweep.py"}),
    (r"\btqdm\(", {"loop.py", "sweep.py"}),
    (r"^import argparse", {"cli.py", "sweep.py", "results.py", "doctor.py"}),
    (r"def _check_int\b", set()),
])
def test_shared_pieces_live_in_one_place(what, allowed):
    """One History, one loop (progress bar and interrupt handling), one CLI, one validation helper."""
    found = {p.relative_to(PACKAGE).as_posix() for p, s in _sources().items() if re.search(what, s, re.M)}
    assert found <= allowed, f"{what!r} appears outside {sorted(allowed)}: {sorted(found - allowed)}"


def test_envs_are_defined_only_in_envs():
    offenders = []
    for path, source in _sources().items():
        if "envs" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and any("Env" in ast.unparse(b) for b in node.bases):
                offenders.append(f"{path.name}:{node.name}")
    assert not offenders, offenders
