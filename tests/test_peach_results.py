"""PEACH's measured targets (issue 12), read from data/results/peach_maze.json, peach_transfer.json,
peach_hindsight.json (the study of what the top level needs) and peach_exploration.json (a count bonus for it), and
the studies after them (peach_saturation.json: a saturated bottom actor; peach_context_rows.json: the penalty rows;
peach_top_learner.json: HAC's top learner against SAC; peach_budget.json: more rounds, more updates, and how much one
meta-test says; peach_variance.json: where the variance after the first success sits).

Targets not reached stay documented xfails whose reasons quote the measured numbers (read from the same files).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from peach_lite.results import quote_headline


BUDGET = ("every hierarchical method on the best route measured (HTR else HER, plus first return, then explore on a quarter "
          "of the training collections), PEACH with eliminating slots on top (probe failures, the consistent-mass loss at weight 0.3), "
          "600 rounds, about 300k env steps and at most 25 CPU-minutes a run, 3 seeds (benchmarks/peach_maze.py). The oracle-z top level, the "
          "same learner handed the goal, solves every held-out task on every seed, so control and credit assignment are not the "
          "wall. Without the eliminating slots the route's PEACH reached "
          f"{quote_headline('peach_return_explore', 'return_explore_quarter_success', 'return_explore_quarter_paid_context_success')}: "
          "a paid context was enough, the meta-test's own search was the wall (PEARL's product of Gaussians averages two failures; "
          f"an exact, eliminating belief drives the same agents to {quote_headline('peach_exact_belief', 'exact_belief_success')}). "
          "The slots teach Algorithm 2's own q(z | c) that search in training; over seeds 0-4 "
          f"{quote_headline('peach_elimination', 'eliminating_probes_light_all_seeds_success', 'eliminating_probes_light_all_seeds_success_iqm', 'return_explore_quarter_all_seeds_success')} "
          "(seed 3's lower levels never leave the start room, with or without the slots: its bottom actor saturates in the first "
          "round, peach_saturation.json; lesson 11, 'Teaching q(z | c) to eliminate', "
          "'Against its parents'; closing notes of issue 12)")


def test_peach_reaches_eighty_percent_meta_test_success(headline):
    """The issue's target, on the benchmark's 3 seeds (mean and IQM) and its one meta-test per agent, with no seed above
    the oracle. Narrowly: over seeds 0-4 the same route's mean is below it (BUDGET; peach_elimination's ``more_seeds``),
    and 8 more meta-tests of the same three agents average below it (peach_budget.json,
    ``test_one_meta_test_flatters_the_600_round_agents_and_more_training_reaches_the_oracle_targets``)."""
    h = headline("peach_maze")
    assert h["peach_success"] >= 0.80 and h["peach_success_iqm"] >= 0.80
    assert h["peach_success"] <= h["oracle_success"]


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_maze', 'gain_over_hac_no_z', 'ratio_over_pearl', 'fraction_of_oracle_hac', 'hac_true_goal_success')}; "
                          "the gain over HAC without z and the ratio over flat PEARL are met; HAC given the goal solves every task on every "
                          f"seed, and PEACH's hardest seed (its prior episodes reach two sites) keeps it below 0.85 of that; {BUDGET}. "
                          "Met with more of the budget (peach_budget.json, the same seeds and route, not yet the benchmark's default because "
                          f"its baselines would need the same budget): {quote_headline('peach_budget', 'longer_fraction_of_oracle_hac', 'longer_fraction_of_oracle_hac_repeated', 'longer_train_minutes_per_seed', 'more_updates_fraction_of_oracle_hac', 'more_updates_fraction_of_oracle_hac_repeated')}",
                   strict=False)
def test_peach_beats_its_parents(headline):
    h = headline("peach_maze")
    assert h["gain_over_hac_no_z"] >= 0.2 and h["fraction_of_oracle_hac"] >= 0.85


def test_peach_beats_flat_pearl_threefold_and_every_uninformed_baseline(headline):
    """The issue's ratio over flat PEARL (PEARL's 0 counted as 1/12, one held-out task), and PEACH above HAC without z,
    random subgoals and deterministic z in the same budget, below the oracle-z top level."""
    h = headline("peach_maze")
    assert h["ratio_over_pearl"] >= 3.0
    assert h["peach_success"] > max(h["hac_no_z_success"], h["random_subgoals_success"], h["deterministic_z_success"])
    assert h["peach_success"] < h["oracle_z_success"]


def test_peach_gains_over_hac_without_z_on_every_seed(headline):
    """The first of the issue's 'beats its parents' targets: 0.2 over the same learner whose top level reads z = 0, and
    ahead of it on every seed (without the eliminating slots seed 1 lost to it)."""
    h = headline("peach_maze")
    assert h["gain_over_hac_no_z"] >= 0.2
    peach, no_z = _runs("peach_maze", "peach"), _runs("peach_maze", "hac_no_z")
    assert all(a["final_success"] > b["final_success"] for a, b in zip(peach, no_z))


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_maze', 'probe_accuracy', 'variance_after_success')} (targets 0.9 and "
                          f"0.2; without the eliminating slots {quote_headline('peach_elimination', 'return_explore_quarter_probe_accuracy', 'return_explore_quarter_variance_after_success')}): "
                          "the slots make the belief collapse after a paid attempt, to about the target on average; the probe follows "
                          "final success seed by seed, and the hardest seed's prior episodes reach two sites. With more of the budget "
                          f"(peach_budget.json) the probe rises and the belief stops collapsing: {quote_headline('peach_budget', 'more_updates_probe_accuracy', 'more_updates_variance_after_success', 'longer_probe_accuracy', 'longer_variance_after_success')}. "
                          "The variance is a mean over z's 5 dimensions, and three sites need 2 (peach_variance.json): in the dimensions "
                          f"that carry the site it is {quote_headline('peach_variance', 'r600_site_dims_variance', 'r1800_site_dims_variance')}, "
                          f"in the rest {quote_headline('peach_variance', 'r600_other_dims_variance', 'r1800_other_dims_variance')}; with "
                          f"latent_dim 2 the measure passes and success falls ({quote_headline('peach_variance', 'latent2_r600_variance_after_success', 'latent2_r600_final_success_repeated', 'r600_final_success_repeated', 'latent2_r1800_variance_after_success', 'latent2_r1800_final_success_repeated', 'r1800_final_success_repeated')})",
                   strict=False)
def test_the_posterior_mean_carries_the_site(headline):
    h = headline("peach_maze")
    assert h["probe_accuracy"] >= 0.9 and h.get("variance_after_success", math.inf) < 0.2


def test_eliminating_slots_make_the_belief_collapse_after_a_paid_attempt(headline):
    """peach_maze's PEACH (with the slots) against the same route without them (peach_return_explore's
    ``return_explore_quarter``, the same seeds, peach_elimination's baseline row): the posterior variance after the first success falls from above the
    prior's to a fraction of it, and the probe does not get worse."""
    h, before = headline("peach_maze"), headline("peach_elimination")
    assert before["return_explore_quarter_variance_after_success"] > 1.0
    assert h["variance_after_success"] < 0.3
    assert h["probe_accuracy"] >= before["return_explore_quarter_probe_accuracy"]


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_transfer', 'transfer_steps_ratio', 'finetune_steps_ratio', 'unfrozen_steps_ratio', 'censored_runs')}; "
                          "600 source and 600 target rounds on the eliminating route: neither frozen arm (fresh or fine-tuned top level) "
                          "reaches 0.8 on any seed, two scratch runs of three do. With the top level handed the goal (seed 0: env steps to 0.8 "
                          f"{quote_headline('peach_transfer', 'oracle_frozen_steps_to_80', 'oracle_unfrozen_steps_to_80', 'oracle_scratch_steps_to_80')}) "
                          "the frozen levels are the fastest, so the lower levels carry over; under PEACH's own searching top level the frozen "
                          f"arm ends lowest ({quote_headline('peach_transfer', 'frozen_final_success', 'unfrozen_final_success', 'scratch_final_success')}): "
                          "lower levels that no longer learn, not these levels, hold it back. With seed 0's source fixed over 8 target "
                          f"seeds ({quote_headline('peach_transfer', 'fixed_source_transfer_steps_ratio', 'fixed_source_frozen_final_success_mean', 'fixed_source_unfrozen_final_success_mean', 'fixed_source_scratch_final_success_mean', 'fixed_source_frozen_over_scratch_final_prob_improvement', 'fixed_source_frozen_over_unfrozen_final_prob_improvement')}) "
                          "frozen and scratch are not told apart, the copies left learning are ahead, and the frozen arm's collections stay "
                          "in the start room and hardly ever end in room 0. Why: the frozen levels miss the near moves out of the start room "
                          f"({quote_headline('peach_transfer', 'fixed_source_frozen_train_missed_near_leaving_start', 'fixed_source_unfrozen_train_missed_near_leaving_start', 'fixed_source_scratch_train_missed_near_leaving_start')}), "
                          "so their search seldom proposes room 0 from within reach "
                          f"({quote_headline('peach_transfer', 'fixed_source_frozen_train_room0_proposals_near', 'fixed_source_unfrozen_train_room0_proposals_near', 'fixed_source_scratch_train_room0_proposals_near')}); "
                          "the source's level crosses well only out of the source's own start room (doorway_reach). Route tried: reward-free "
                          "practice of every crossing before freezing (practise_lower_levels) raises the crossings out of room 2 "
                          f"({quote_headline('peach_transfer', 'practice_doorway_reach_before_out_of_target_start', 'practice_doorway_reach_after_out_of_target_start')}) "
                          "and frees the search (near moves out of room 2 missed "
                          f"{quote_headline('peach_transfer', 'practised_frozen_train_missed_near_leaving_start')}), yet steps to 0.8 only "
                          f"come level with scratch ({quote_headline('peach_transfer', 'practised_transfer_steps_ratio', 'practised_over_unfrozen_curve_mean_prob_improvement')}): "
                          "lower levels that keep learning on the target still lead (lesson 11, 'Transfer: same dynamics, a new reward')",
                   strict=False)
def test_frozen_lower_levels_halve_the_steps_to_eighty_percent(headline):
    assert headline("peach_transfer")["transfer_steps_ratio"] <= 0.5


def test_on_the_continuous_goal_band_the_search_fails_not_control_and_a_dense_context_is_no_shortcut(headline):
    """The issue's diagnostics on the continuous family (PointMazeHiddenRegion-v0, seed 0): the oracle-z top level
    reaches the band, sparse PEACH reads a paid context better than its own search finds one, and the dense-context
    variant does worse than the sparse one (lesson 11, 'A continuous hidden goal: which half fails')."""
    from peach_lite.results import read_results

    h, diagnostics = headline("peach_maze"), read_results("peach_maze")["details"]["diagnostics"]
    assert h["oracle_region_success"] >= 0.9
    sparse, dense = diagnostics["sparse_region"], diagnostics["dense_context"]
    assert sparse["success_per_episode"][0] < 0.5 < sparse["paid_context_success"]
    assert sparse["success_per_episode"][-1] > sparse["success_per_episode"][0]
    assert h["dense_context_success"] < h["sparse_region_success"] < h["oracle_region_success"]
    assert dense["paid_context_success"] < 0.1 and dense["probe_accuracy"] > 2 / 3


def test_the_transfer_sources_are_the_benchmarks_peach_runs(headline):
    """peach_transfer trains its sources with peach_maze's PEACH config and seeds: the same env steps, seed by seed, and
    the same route in both benchmarks' configs."""
    from peach_lite.results import read_results

    transfer, maze = read_results("peach_transfer"), read_results("peach_maze")
    assert transfer["details"]["configs"]["transfer"]["overrides"] == maze["details"]["configs"]["peach"]["overrides"]
    steps = dict(zip(maze["seeds"], (r["steps"] for r in maze["details"]["runs"]["peach"])))
    assert [r["source_steps"] for r in transfer["details"]["runs"]] == [steps[seed] for seed in transfer["seeds"]]
    assert transfer["details"]["oracle_seed0"]["source_steps"] == steps[0]  # the diagnostic's checkpoint: seed 0's source
    assert [r["unfrozen_source_steps"] for r in transfer["details"]["runs"]] == [r["source_steps"] for r in transfer["details"]["runs"]]


def test_the_transfer_diagnostics_separate_these_lower_levels_from_levels_that_no_longer_learn(headline):
    """With the goal given (seed 0), the frozen lower levels reach 0.8 first; under PEACH's own top level the frozen
    arm ends below every arm whose lower levels or top level carry more learning (lesson 11's transfer section)."""
    h = headline("peach_transfer")
    assert h["oracle_frozen_steps_to_80"] < h["oracle_unfrozen_steps_to_80"] <= h["oracle_scratch_steps_to_80"]
    others = ("finetuned", "unfrozen", "scratch")
    assert h["frozen_final_success"] < min(h[f"{arm}_final_success"] for arm in others)
    assert h["frozen_curve_mean_success"] < min(h[f"{arm}_curve_mean_success"] for arm in others)
    assert h["frozen_final_success_ci_high"] <= h["unfrozen_final_success_ci_low"]


def test_the_fixed_source_diagnostic_extends_the_main_runs():
    """The fixed-source diagnostic (seed 0's source, 8 target seeds) reruns the main sweep's runs exactly where they
    overlap: every seed's scratch run, and seed 0's frozen and unfrozen runs (its source is the checkpoint)."""
    from peach_lite.results import read_results

    transfer = read_results("peach_transfer")
    details = transfer["details"]
    fixed = dict(zip(details["fixed_source_seeds"], details["fixed_source_runs"]))
    main = dict(zip(transfer["seeds"], details["runs"]))
    assert len(fixed) >= 8 and set(main) <= set(fixed)
    same = ("curve_steps", "curve_success", "steps")
    for seed, run in main.items():
        assert all(fixed[seed]["scratch"][key] == run["scratch"][key] for key in same), seed
    for arm in ("frozen", "unfrozen"):
        assert all(fixed[0][arm][key] == main[0][arm][key] for key in same), arm


def test_with_one_source_frozen_and_scratch_are_not_told_apart_and_the_frozen_collections_stay_home(headline):
    """The fixed-source diagnostic (lesson 11's transfer section): P(frozen > scratch) on final success spans one half,
    P(frozen > unfrozen) lies below it, and on every target seed the frozen arm's training attempts end in the start
    room more often than the other arms' and in room 0 (a target site's room) under a quarter as often."""
    from peach_lite.results import read_results

    h, transfer = headline("peach_transfer"), read_results("peach_transfer")
    runs, start = transfer["details"]["fixed_source_runs"], transfer["details"]["target_env_kwargs"]["start_room"]
    assert h["fixed_source_frozen_over_scratch_final_prob_improvement_ci_low"] < 0.5 < h["fixed_source_frozen_over_scratch_final_prob_improvement_ci_high"]
    assert h["fixed_source_frozen_over_unfrozen_final_prob_improvement_ci_high"] < 0.5
    rooms = {arm: np.array([r[arm]["train_exploration"]["attempt_room_shares"] for r in runs]) for arm in ("frozen", "unfrozen", "scratch")}
    assert np.all(rooms["frozen"][:, start] > np.maximum(rooms["unfrozen"][:, start], rooms["scratch"][:, start]))
    assert rooms["frozen"][:, 0].mean() < 0.25 * min(rooms["unfrozen"][:, 0].mean(), rooms["scratch"][:, 0].mean())


def test_the_frozen_levels_miss_the_moves_out_of_the_start_room_so_their_search_seldom_comes_near_room_0(headline):
    """The fixed-source diagnostic's training proposals (lesson 11's transfer section): the frozen arm's top level
    proposes as far as the others'; its frozen levels miss near moves out of the start room more often on every seed
    (pooled: at least 1.4 times); it makes fewer proposals into room 0 from within reach (pooled; on at least half the
    seeds under 0.3 times either other arm's), though the near ones it makes are missed about as often as theirs."""
    from peach_lite.peach_transfer import proposal_summary
    from peach_lite.results import read_results

    h, transfer = headline("peach_transfer"), read_results("peach_transfer")
    runs, start = transfer["details"]["fixed_source_runs"], transfer["details"]["target_env_kwargs"]["start_room"]
    arms, others = ("frozen", "unfrozen", "scratch"), ("unfrozen", "scratch")
    pooled = {key: {arm: h[f"fixed_source_{arm}_train_{key}"] for arm in arms} for key in
              ("proposals_beyond_reach", "missed_near_leaving_start", "room0_proposals_near", "missed_near_into_room0")}
    per_seed = {arm: [proposal_summary([r[arm]["proposal_reach"]], start) for r in runs] for arm in arms}
    assert pooled == {key: {arm: proposal_summary([r[arm]["proposal_reach"] for r in runs], start)[key] for arm in arms} for key in pooled}
    assert max(pooled["proposals_beyond_reach"].values()) - min(pooled["proposals_beyond_reach"].values()) <= 0.05
    leaving, near_room0 = ({arm: [row[key] for row in per_seed[arm]] for arm in arms} for key in ("missed_near_leaving_start", "room0_proposals_near"))
    assert all(f > max(u, s) for f, u, s in zip(*leaving.values()))  # every seed
    assert pooled["missed_near_leaving_start"]["frozen"] >= 1.4 * max(pooled["missed_near_leaving_start"][arm] for arm in others)
    assert pooled["room0_proposals_near"]["frozen"] < min(pooled["room0_proposals_near"][arm] for arm in others)
    assert sum(f < 0.3 * min(u, s) for f, u, s in zip(*near_room0.values())) >= len(runs) / 2  # half the seeds: hardly any
    assert max(pooled["missed_near_into_room0"].values()) - min(pooled["missed_near_into_room0"].values()) <= 0.1


def test_practised_crossings_free_the_frozen_search_but_the_learning_levels_stay_ahead(headline):
    """The practised diagnostic (lesson 11's transfer section): one practised source for every target seed; the practice
    raises every weak crossing of seed 0's source, out of the target's start room by at least 0.2; under the target's
    top level the practised frozen levels then miss the near moves out of the start room about as rarely as levels that
    learn on the target, the search gets near room 0 as often, and the collections end where the unfrozen arm's do;
    the outcome: scratch's steps to 0.8, and the copies left learning still ahead on the area under the curve."""
    from peach_lite.results import read_results

    h, transfer = headline("peach_transfer"), read_results("peach_transfer")
    details = transfer["details"]
    practised, fixed = details["practised_runs"], details["fixed_source_runs"]
    assert len(practised) == len(fixed) >= 8 and details["configs"]["practised"]["source_checkpoint"] == details["configs"]["fixed_source"]["source_checkpoint"]
    assert all(r["practised_doorway_reach"] == practised[0]["practised_doorway_reach"] for r in practised)  # one source
    before, after = (np.array(practised[0][key], dtype=float) for key in ("source_doorway_reach", "practised_doorway_reach"))
    assert np.all(after[before < 0.7] > before[before < 0.7]) and np.nanmin(after) >= np.nanmin(before) + 0.2
    assert h["practice_doorway_reach_after_out_of_target_start"] >= h["practice_doorway_reach_before_out_of_target_start"] + 0.2
    missed = {arm: h[f"fixed_source_{arm}_train_missed_near_leaving_start"] for arm in ("frozen", "unfrozen", "scratch")}
    assert h["practised_frozen_train_missed_near_leaving_start"] <= 1.1 * min(missed["unfrozen"], missed["scratch"]) < 0.7 * missed["frozen"]
    assert h["practised_frozen_train_room0_proposals_near"] >= 1.5 * h["fixed_source_frozen_train_room0_proposals_near"]
    rooms = {name: np.mean([r[arm]["train_exploration"]["attempt_room_shares"] for r in runs], axis=0)
             for name, arm, runs in (("practised", "frozen", practised), ("unfrozen", "unfrozen", fixed))}
    assert np.abs(rooms["practised"] - rooms["unfrozen"]).max() <= 0.03
    assert 0.5 < h["practised_transfer_steps_ratio"] < h["fixed_source_transfer_steps_ratio"]
    assert h["practised_over_unfrozen_curve_mean_prob_improvement_ci_high"] < 0.5


def test_no_agent_exceeds_its_oracle(headline):
    h = headline("peach_maze")
    keys = [k for k in h if k.endswith("_success") and not k.startswith(("oracle_success", "uninformed", "variance_after"))]
    assert keys
    for key in keys:
        assert h[key] <= h["oracle_success"] + 1e-9, key


def test_the_benchmark_records_its_budget_and_references(headline):
    h = headline("peach_maze")
    assert h["rounds"] >= 1 and h["env_steps_per_seed"] > 0 and h["train_minutes_per_seed"] > 0
    assert h["oracle_success"] == 1.0 and 0.0 < h["uninformed_success"] < 1.0


def test_the_benchmark_reproduces_the_elimination_study_run_for_run(headline):
    """peach_maze's PEACH runs have the config of peach_elimination's ``eliminating_probes_light`` arm
    (``peach_config.ELIMINATING_ROUTE``; two scripts, separate processes): the same seed gives the same env steps and
    the same meta-test, bit for bit."""
    from peach_lite.peach_config import ELIMINATING_ROUTE
    from peach_lite.results import read_results

    headline("peach_maze")
    study = read_results("peach_elimination")
    maze_config = read_results("peach_maze")["details"]["configs"]["peach"]["overrides"]
    assert maze_config == study["details"]["configs"][
        "peach_hindsight_collection_task_or_achieved_return_explore_quarter_eliminating_probes_light"]["overrides"] == ELIMINATING_ROUTE
    maze_runs, study_runs = _runs("peach_maze", "peach"), _runs("peach_elimination", "eliminating_probes_light")
    assert len(maze_runs) == len(study_runs) == 3
    for maze_run, study_run in zip(maze_runs, study_runs):
        assert maze_run["steps"] == study_run["steps"]
        assert maze_run["success_per_episode"] == study_run["success_per_episode"]
        assert maze_run["curve_success"] == study_run["curve_success"]


def test_on_the_route_without_the_slots_a_paid_context_is_enough_and_the_search_is_the_wall(headline):
    """BUDGET's claims about the route before the eliminating slots (peach_return_explore's ``return_explore_quarter``,
    the agents peach_exact_belief drives): the oracle-z learner solves every task on every seed; PEACH, given a paid
    attempt in its context, goes to the goal on at least 85% of tasks on every seed; the seed below the others is the
    one whose prior episodes reach the fewest sites."""
    headline("peach_maze")
    assert all(run["final_success"] == 1.0 for run in _runs("peach_maze", "oracle_z"))
    peach = _runs("peach_return_explore", "return_explore_quarter")
    assert min(run["paid_context_success"] for run in peach) >= 0.85
    worst = min(range(len(peach)), key=lambda i: peach[i]["final_success"])
    assert peach[worst]["prior_sites_reached"] < min(run["prior_sites_reached"] for i, run in enumerate(peach) if i != worst)


def test_hindsight_goals_are_what_the_oracle_top_level_was_missing(headline):
    h = headline("peach_hindsight")
    assert h["hindsight_gain_oracle"] > 0.0
    assert h["oracle_z_hindsight_success"] > h["oracle_z_success"]


def test_no_study_agent_exceeds_the_oracle(headline):
    h = headline("peach_hindsight")
    keys = [k for k in h if k.endswith("_success") and not k.endswith("paid_context_success")]
    assert keys
    assert all(0.0 <= h[k] <= 1.0 for k in keys)
    route = [k for k in keys if k.startswith("peach_hindsight_collection")]  # each route below its oracle top level
    assert route and all(h[k] <= h["oracle_z_hindsight_collection_success"] + 1e-9 for k in route)


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_hindsight', 'peach_hindsight_success', 'oracle_z_hindsight_success', 'peach_hindsight_signal_to_noise', 'peach_hindsight_paid_context_success')}; "
                          "with hindsight goals the oracle top level learns (on 2 of 3 seeds), but PEACH's posterior barely separates "
                          "goals (signal-to-noise below 1 on every seed, even with a paid attempt in the context), so its top "
                          "level learns to ignore z: inference, not exploration, is where it stops",
                   strict=False)
def test_peach_with_hindsight_goals_reaches_eighty_percent(headline):
    assert headline("peach_hindsight")["peach_hindsight_success"] >= 0.80


def test_the_collection_route_solves_the_oracle_top_level(headline):
    h = headline("peach_hindsight")  # rows from the goal's own collection: the control half works, given the goal
    assert h["oracle_z_hindsight_collection_success"] >= 0.9 > h["oracle_z_hindsight_success"]


def test_the_collection_route_makes_the_posterior_read_the_goal(headline):
    h = headline("peach_hindsight")
    assert h["peach_hindsight_collection_signal_to_noise"] > max(1.0, 10 * h["peach_hindsight_signal_to_noise"])
    assert h["peach_hindsight_collection_paid_context_success"] > h["peach_hindsight_paid_context_success"]
    assert h["peach_hindsight_collection_success"] <= h["oracle_z_hindsight_collection_success"] + 1e-9  # below its oracle


ROUTE_KEYS = ("peach_hindsight_collection_success", "oracle_z_hindsight_collection_success", "peach_hindsight_collection_signal_to_noise",
              "peach_hindsight_collection_paid_context_success", "peach_hindsight_collection_prior_sites_reached")
HTR_KEYS = ("peach_hindsight_collection_task_or_achieved_success", "peach_hindsight_collection_task_or_achieved_first_episode_success",
            "peach_hindsight_collection_task_or_achieved_far_site_visits", "peach_hindsight_collection_task_or_achieved_probe_accuracy")
ROUTE_FINDINGS = {
    "peach_hindsight_collection": (ROUTE_KEYS, "with rows from the goal's own collection and KL 0.001 the posterior reads the goal and the "
                                   "top level often acts on a paid context, but episodes on prior samples of z rarely pass a site and never "
                                   "the far one: exploration, no longer inference, is where it stops"),
    "peach_hindsight_collection_task_or_achieved": (HTR_KEYS, "with HTR goals where the context reached a train goal and HER's otherwise, "
                                                    "prior samples of z pass two of the three sites and success rises over the meta-test on "
                                                    "seeds 0 and 2, but the far site is never visited, and on seed 1 no collection in 600 "
                                                    "rounds reaches any train goal, so HTR never fires and the run is the collection "
                                                    "route's, bit for bit; the seed-2 agent, handed a paid attempt at the far site, still "
                                                    "never goes there (paid-context probe per site, lesson 11): each agent knows two "
                                                    "sites, a 2/3 ceiling set while training"),
}


@pytest.mark.parametrize("method", [
    pytest.param(method, marks=pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_hindsight', *keys)}; {finding}", strict=False))
    for method, (keys, finding) in ROUTE_FINDINGS.items()])
def test_peach_on_a_hindsight_route_reaches_eighty_percent(headline, method):
    assert headline("peach_hindsight")[f"{method}_success"] >= 0.80


def _runs(name: str, method: str) -> list[dict]:
    from peach_lite.results import read_results

    return read_results(name)["details"]["runs"][method]


def test_htr_goals_with_her_as_fallback_keep_the_posterior_reading_and_raise_success(headline):
    h = headline("peach_hindsight")
    her, htr, both = ("peach_hindsight_collection", "peach_hindsight_collection_task_goals", "peach_hindsight_collection_task_or_achieved")
    assert h[f"{both}_success"] > h[f"{her}_success"]  # HTR's goals where the context reached one: more successes
    assert h[f"{both}_success"] > h[f"{both}_first_episode_success"]  # which rise over the meta-test: task inference
    for alone, mixed in zip(_runs("peach_hindsight", htr), _runs("peach_hindsight", both)):
        assert mixed["paid_context_signal_to_noise"] > alone["paid_context_signal_to_noise"]  # per seed: HTR alone collapses z
        assert max(alone["prior_site_visits"]) >= 0.8  # and commits to one site,
        assert alone["success_per_episode"][-1] == alone["success_per_episode"][0]  # the same in every meta-test episode


# Directed exploration while training (data/results/peach_exploration.json): a count bonus or frontier subgoals.
EXPLORATION_ARMS = ("htr", "novelty", "room_novelty", "frontier")
EXPLORATION_FINDING = ("the bonus pays where an attempt ended: without a bonus, or with one on 1 x 1 cells, under 1% of the "
                       "training attempts end in the far room and under 1% of the stored subgoals (reached proposals, or the ends of "
                       "missed ones: HAC's hindsight actions) are there, on every seed, so there is almost nothing for the bonus to "
                       "reward; whether the top level proposed the far room and missed it, these runs did not record (proposals are "
                       "counted since, train_exploration); counted per room the bonus raises that share several-fold on one seed of three, "
                       "whose agent goes to the far site when handed its goal and never to room 3's site instead: two of three sites again; "
                       "on the seed whose collections never leave the start room a few percent of the stored subgoals lie outside it "
                       "while under 1% of the attempts end there: the lower levels do not cross the doorway. Frontier subgoals (half "
                       "of the exploring subgoals aimed at the least-visited reached cell nearby) give one agent all three sites "
                       "given the goal, some of the time, but thin the task-directed data and lower success on every seed that "
                       "found a site (lesson 11, 'Directed exploration: a count bonus and frontier subgoals')")


def test_no_exploration_agent_exceeds_the_oracle(headline):
    h = headline("peach_exploration")
    for arm in (*EXPLORATION_ARMS, "oracle_top"):
        assert 0.0 <= h[f"{arm}_success"] <= h["oracle_success"] + 1e-9
        assert 0.0 <= h[f"{arm}_train_far_room_share"] <= 1.0 and 0.0 <= h[f"{arm}_train_far_subgoal_share"] <= 1.0


def test_the_far_room_is_hardly_reached_and_only_a_room_bonus_stores_more_subgoals_there(headline):
    """Per run, the far room's share of stored subgoals (HAC's hindsight actions: reached proposals, or where missed
    attempts ended; these runs did not record missed proposals) and of attempt ends: under 1% without the per-room
    bonus, and the run with the largest stored share is a per-room-bonus run."""
    headline("peach_exploration")
    far_stored, far_ends = {}, {}
    for arm in EXPLORATION_ARMS:
        far_stored[arm] = [run["train_subgoal_room_shares"][2] for run in _runs("peach_exploration", arm)]
        far_ends[arm] = [run["train_attempt_room_shares"][2] for run in _runs("peach_exploration", arm)]
    assert max(far_stored["htr"] + far_stored["novelty"] + far_ends["htr"] + far_ends["novelty"]) < 0.01
    assert max(far_stored["room_novelty"]) > max(far_stored["htr"] + far_stored["novelty"] + far_stored["frontier"])


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_exploration', *[f'{a}_train_far_room_share' for a in EXPLORATION_ARMS])}, "
                          f"{quote_headline('peach_exploration', 'novelty_gain', 'room_novelty_gain')}; {EXPLORATION_FINDING}", strict=False)
def test_a_count_bonus_sends_collection_to_the_far_room(headline):
    h = headline("peach_exploration")
    assert max(h[f"{arm}_train_far_room_share"] for arm in EXPLORATION_ARMS[1:]) >= 0.05


@pytest.mark.parametrize("arm", [
    pytest.param(arm, marks=pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_exploration', f'{arm}_success', 'htr_success', 'oracle_top_success')}; "
                                                     f"{EXPLORATION_FINDING}", strict=False))
    for arm in ("novelty", "room_novelty", "frontier")])
def test_directed_exploration_reaches_eighty_percent(headline, arm):
    assert headline("peach_exploration")[f"{arm}_success"] >= 0.80


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_exploration', *[f'{a}_far_site_paid_context_success' for a in EXPLORATION_ARMS])}; "
                          f"{EXPLORATION_FINDING}", strict=False)
def test_some_explorer_reaches_every_site_given_its_goal(headline):
    """The paid-context probe per site: one agent that goes to each of the three sites when its context holds the goal."""
    headline("peach_exploration")
    per_site = [run["paid_context_success_per_site"] for arm in EXPLORATION_ARMS for run in _runs("peach_exploration", arm)]
    assert max(min(sites) for sites in per_site) >= 0.5


# First return, then explore (data/results/peach_return_explore.json): Go-Explore collections on the HTR route.
RETURN_EXPLORE_FINDING = ("returning along recorded moves to rarely visited cells, then exploring, fixes the collections' coverage "
                          "(the far room's share of training attempt ends rises about seventy-fold, on every seed) and what the "
                          "agent knows given a paid context (the far site's paid-context success rises from 0; the hard seed learns "
                          "all three sites and its success rises from 0 to 0.67), but success on the other two seeds falls: their "
                          "learning curves peak early and decay, and the meta-test's prior episode no longer reaches any site "
                          "(first-episode success 0 on every seed), though it learns far sooner (0.50 at round 200, HTR 0.03). The wall moves from training exploration to the meta-test's "
                          "own exploration. With a quarter of the collections planned, success is 0.47 while a paid context brings the agent to "
                          "the goal 94% of the time (the far site 98%): inference is solved, and what remains is the meta-test's own search "
                          "for a first paid attempt (lesson 11, 'First return, then explore')")


def test_first_return_then_explore_compares_like_with_like(headline):
    """The baseline runs are peach_exploration's htr runs, whose method differs from each arm only in the added fields (return_explore_rate, prior_slot_prob, unpaid_context_prob, posterior_form)."""
    from peach_lite.results import read_results

    headline("peach_return_explore")
    record, study = read_results("peach_return_explore"), read_results("peach_exploration")
    base = study["details"]["configs"][study["details"]["methods"]["htr"]]
    assert len(record["details"]["configs"]) == 5
    for config in record["details"]["configs"].values():
        added = ("return_explore_rate", "prior_slot_prob", "unpaid_context_prob", "posterior_form")
        assert {k: v for k, v in config["overrides"].items() if k not in added} == base["overrides"]
        assert config["overrides"]["return_explore_rate"] > 0 and (config["rounds"], config["eval_every"]) == (base["rounds"], base["eval_every"])
    assert record["seeds"] == study["seeds"]


def test_first_return_then_explore_reaches_the_far_room_and_teaches_the_far_site(headline):
    h = headline("peach_return_explore")
    assert 0.0 <= h["return_explore_success"] <= h["oracle_success"] + 1e-9
    runs, baseline = _runs("peach_return_explore", "return_explore"), _runs("peach_return_explore", "htr")
    for run, base in zip(runs, baseline):  # per seed: the far room's share of attempt ends, at least 10x and 5%
        assert run["train_attempt_room_shares"][2] >= max(0.05, 10 * base["train_attempt_room_shares"][2])
    assert h["return_explore_far_site_paid_context_success"] > h["htr_far_site_paid_context_success"] == 0.0
    assert max(min(run["paid_context_success_per_site"]) for run in runs) >= 0.5  # one agent knows all three sites
    early = [np.mean([run["curve_success"][1] for run in arm]) for arm in (runs, baseline)]  # meta-test at round 200
    assert early[0] > 0.4 and early[0] > 5 * early[1]


def test_a_quarter_of_planned_collections_solves_inference_given_a_paid_context(headline):
    """The best route so far: given a context that holds a paid attempt, the agent goes to the goal, the far site too."""
    h = headline("peach_return_explore")
    assert h["return_explore_quarter_paid_context_success"] >= 0.9 and h["return_explore_quarter_far_site_paid_context_success"] >= 0.9
    assert h["return_explore_quarter_gain"] >= 0.1 and h["return_explore_quarter_success"] <= h["oracle_success"]


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_return_explore', 'return_explore_success', 'return_explore_quarter_success', 'return_explore_prior_slots_success', 'return_explore_quarter_unpaid_success', 'return_explore_quarter_categorical_success', 'htr_success', 'return_explore_quarter_paid_context_success', 'return_explore_first_episode_success')}; "
                          f"{RETURN_EXPLORE_FINDING}", strict=False)
def test_first_return_then_explore_reaches_eighty_percent(headline):
    h = headline("peach_return_explore")
    assert max(h[f"{arm}_success"] for arm in ("return_explore", "return_explore_quarter", "return_explore_prior_slots",
                                               "return_explore_quarter_unpaid", "return_explore_quarter_categorical")) >= 0.80


UNPAID = "return_explore_quarter_unpaid"


def test_unpaid_slots_do_not_teach_elimination(headline):
    """The finding of lesson 11's 'The wall now': training z on contexts of failures only leaves the final success where
    it was, and after failed sites the agents reach the goal less often than on the prior and far below Bayes (0.5, 1.0)."""
    h = headline("peach_return_explore")
    assert abs(h["unpaid_gain"]) < 0.05
    runs = _runs("peach_return_explore", UNPAID)
    prior = np.mean([run["failed_context_prior_success"] for run in runs])
    assert h[f"{UNPAID}_one_failure_success"] < min(prior, 0.5) and h[f"{UNPAID}_two_failures_success"] < min(prior, 1.0)
    assert h[f"{UNPAID}_paid_context_success"] < h["return_explore_quarter_paid_context_success"]
    for count in ("one_failure", "two_failures"):  # the quarter route's agents eliminate better without them
        assert h[f"{UNPAID}_{count}_success"] < h[f"return_explore_quarter_{count}_success"]


def test_an_exact_belief_lets_the_benchmarks_agents_find_the_goals(headline):
    """Lesson 11's 'The belief is the wall': the route's PEACH agents without the eliminating slots (peach_return_explore's
    ``return_explore_quarter``, the same bit for bit), driven by exact Bayes over the
    train goals instead of their posterior, reach the goal on every seed more often than under their own meta-test,
    and the product identity of the failure blend holds on each."""
    h = headline("peach_exact_belief")
    runs, maze = _runs("peach_exact_belief", "exact_belief"), _runs("peach_return_explore", "return_explore_quarter")
    assert [r["own_final_success"] for r in runs] == [r["final_success"] for r in maze]
    assert [r["own_success_per_episode"] for r in runs] == [r["success_per_episode"] for r in maze]
    assert all(r["exact_final_success"] > r["own_final_success"] for r in runs)
    assert h["exact_belief_success"] >= 0.8 and h["exact_belief_gain"] >= 0.3
    assert h["blend_error"] < 1e-4 and h["blend_lands_on_remaining"] < 1.0
    for r in runs:  # nothing beats the oracle, episode by episode
        assert max(r["exact_success_per_episode"]) <= h["oracle_success"] and max(r["own_success_per_episode"]) <= h["oracle_success"]


def test_a_learned_likelihood_over_the_train_tasks_finds_the_goals_from_peachs_own_context(headline):
    """Lesson 11's 'A learned likelihood over the train tasks': the same agents, their belief a product of a fitted
    p(paid | z, s') over the rows q(z | c) reads, pass the issue's 0.8 and never do worse than their own meta-test."""
    h = headline("peach_exact_belief")
    runs = _runs("peach_exact_belief", "exact_belief")
    assert all(r["learned_final_success"] >= r["own_final_success"] for r in runs)
    assert h["learned_belief_success"] >= 0.8 and h["learned_belief_gain"] >= 0.3
    assert h["paid_model_heldout_error"] < 0.01 and min(r["paid_model_paid_recall"] for r in runs) > 0.5
    for r in runs:  # nothing beats the oracle, episode by episode
        assert max(r["learned_success_per_episode"]) <= h["oracle_success"]


def test_a_reward_decoder_learned_on_a_detached_z_is_a_likelihood_that_finds_the_goals(headline):
    """Lesson 11: trained through z the decoder costs the agents their codes; on a detached z it leaves the agents as they
    were (their own meta-test unchanged, episode by episode) and, as the belief's likelihood, passes 0.8."""
    h = headline("peach_exact_belief")
    runs, detached = _runs("peach_exact_belief", "exact_belief"), _runs("peach_exact_belief", "detached_decoder_route")
    assert [r["own_success_per_episode"] for r in detached] == [r["own_success_per_episode"] for r in runs]
    assert h["decoder_route_paid_context_success"] < h["paid_context_success"] == h["detached_decoder_route_paid_context_success"]
    assert h["decoder_route_decoder_belief_success"] > h["decoder_route_own_success"]
    assert h["detached_decoder_route_decoder_belief_success"] >= 0.8
    assert all(r["decoder_final_success"] > r["own_final_success"] or r["decoder_final_success"] == 1.0 for r in detached)
    for r in detached:
        assert max(r["decoder_success_per_episode"]) <= h["oracle_success"]


CATEGORICAL = "return_explore_quarter_categorical"


def test_the_categorical_posterior_leaves_z_unread(headline):
    """The finding of lesson 11's 'An eliminating posterior': with categorical factors and a one-hot z, the top level goes
    to one site whatever z says on two seeds, never to the far site on any, though the posterior means carry some of the
    site; after two failed sites it does no better than the Gaussian."""
    h = headline("peach_return_explore")
    runs = _runs("peach_return_explore", CATEGORICAL)
    one_site = [run for run in runs if run["prior_sites_reached"] == 1]
    assert len(runs) == 3 and len(one_site) == 2
    assert all(sorted(run["paid_context_success_per_site"]) == [0.0, 0.0, 1.0] for run in one_site)
    assert all(run["paid_context_success_per_site"][1] == 0.0 for run in runs) and h[f"{CATEGORICAL}_far_site_paid_context_success"] == 0.0
    assert np.mean([run["probe_accuracy"] for run in runs]) > 1 / 3
    assert h["categorical_gain"] < 0 and h[f"{CATEGORICAL}_two_failures_success"] < h["return_explore_quarter_two_failures_success"]
    assert h[f"{CATEGORICAL}_success"] <= h["oracle_success"]


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_return_explore', 'return_explore_quarter_two_failures_success', f'{UNPAID}_two_failures_success', f'{UNPAID}_two_failures_revisit', f'{UNPAID}_two_failures_prior_visit', 'unpaid_gain', f'{CATEGORICAL}_two_failures_success', 'categorical_gain')}; "
                          "exact Bayes over three sites succeeds always after two failed sites; the quarter route's agents reach "
                          "about half of that: PEARL's product of Gaussians makes the two-failure belief the precision-weighted average "
                          "of the one-failure beliefs, which need not be the site left (lesson 11, 'Why the second failure is forgotten'). "
                          "Training half of the own-goal slots on unpaid contexts does not teach the encoder elimination but makes it "
                          "worse, and a categorical product, which eliminates by construction, gives a one-hot z the top level does not "
                          "read (lesson 11, 'The wall now: the meta-test's own search', 'An eliminating posterior: categorical factors')",
                   strict=False)
def test_after_two_failed_sites_the_posterior_finds_the_third(headline):
    h = headline("peach_return_explore")
    assert max(h[f"{arm}_two_failures_success"] for arm in ("return_explore_quarter", UNPAID, CATEGORICAL)) >= 0.8


ELIMINATING_FINDING = ("the eliminating slots (PeachConfig.elimination_weight 1.0: q(z | a random subset of a slot's failed attempts) "
                       "pulled by a KL towards the code of the train goal those failures left that q finds likeliest) do not teach "
                       "q(z | c) to search: on every seed the top level ends up going to one site whatever z says (the paid-context "
                       "probe succeeds at one site only, the prior's episodes reach one site), so success falls to one site's share. "
                       "The targets are q's own codes (detached per step), which the loss can also lower by bringing the codes "
                       "together; a fixed target encoder is the untried next step (lesson 11, 'Teaching q(z | c) to eliminate')")


def test_eliminating_slots_change_only_the_elimination_weight_and_stay_below_the_oracle(headline):
    """benchmarks/peach_elimination.py compares like with like: each arm is the quarter route's config plus
    ``elimination_weight`` (and ``elimination_form``, ``elimination_failures``), its baseline rows are peach_return_explore's quarter runs for the same seeds, and no
    success exceeds the oracle."""
    from peach_lite.results import read_results

    study, returns = read_results("peach_elimination"), read_results("peach_return_explore")
    base = next(c for m, c in returns["details"]["configs"].items() if m.endswith("_quarter"))
    for config in study["details"]["configs"].values():
        assert config["overrides"]["elimination_weight"] > 0
        assert {k: v for k, v in config["overrides"].items() if k not in ("elimination_weight", "elimination_form", "elimination_failures")} == base["overrides"]
        assert (config["rounds"], config["eval_every"]) == (base["rounds"], base["eval_every"])
    by_seed = dict(zip(returns["seeds"], returns["details"]["runs"]["return_explore_quarter"]))
    assert study["details"]["runs"]["return_explore_quarter"] == [by_seed[s] for s in study["seeds"]]
    h = headline("peach_elimination")
    for key in [k for k in h if k.endswith("_success") and not k.startswith("oracle") and "variance_after" not in k]:
        assert h[key] <= h["oracle_success"] + 1e-9, key
    assert all(h[f"{arm}_train_minutes_per_seed"] <= 30 for arm in study["details"]["runs"] if arm != "return_explore_quarter")  # the budget


def test_eliminating_slots_collapse_the_code_the_top_level_reads(headline):
    """The finding of lesson 11's 'Teaching q(z | c) to eliminate': with the loss, every seed's top level goes to one
    site whatever z says (paid context succeeds at exactly one site; the prior's episodes reach one), and the final
    success drops below the same route's without it."""
    h, runs = headline("peach_elimination"), _runs("peach_elimination", "eliminating")
    assert all(sorted(run["paid_context_success_per_site"]) == [0.0, 0.0, 1.0] for run in runs)
    assert all(run["prior_sites_reached"] == 1 for run in runs)
    assert h["eliminating_paid_context_success"] < h["return_explore_quarter_paid_context_success"]
    assert h["eliminating_gain"] < 0


def test_the_consistent_mass_loss_keeps_the_codes_apart_but_does_not_lift_success(headline):
    """benchmarks/peach_elimination.py's ``eliminating_mass`` arm (``elimination_form="consistent_mass"``): the codes
    stay apart (paid context succeeds at least at two sites on every seed, the posterior means spread), unlike the
    nearest-code loss, and the search revisits a failed site less; the final success stays below the route without it."""
    h, runs = headline("peach_elimination"), _runs("peach_elimination", "eliminating_mass")
    assert all(sorted(run["paid_context_success_per_site"])[1] > 0.5 and run["paid_context_signal_to_noise"] > 5 for run in runs)
    assert h["eliminating_mass_paid_context_success"] > h["eliminating_paid_context_success"]
    assert h["eliminating_mass_two_failures_revisit"] < h["return_explore_quarter_two_failures_revisit"]
    assert h["eliminating_mass_success"] < 0.80 and h["eliminating_mass_gain"] <= 0.0


FAR_SITE = 1
"""The maze's far site (benchmarks/peach_return_explore.py's FAR_SITE): the one the prior's episodes reach least."""


def test_probe_failures_cut_revisits_but_lose_the_far_site_once_paid(headline):
    """benchmarks/peach_elimination.py's ``eliminating_probes`` arm. Algorithm 1's own-goal contexts rule out little
    (on the quarter route's checkpoint, fewer than half rule out any train goal and none more than one site's 8 of 24),
    so 1 to 3 failed probe attempts are added to each slot. The search then revisits a failed site least of all arms,
    but on every seed a paid context at the far site no longer brings the top level back there, as it does without
    the loss (although the posterior is now sharp after a success on every seed), and the final success stays below
    the target."""
    h, runs = headline("peach_elimination"), _runs("peach_elimination", "eliminating_probes")
    assert h["own_context_ruling_out_share"] < 0.5 and h["own_context_max_ruled_out_share"] <= 1 / 3 + 1e-6
    assert (h["eliminating_probes_two_failures_revisit"] < h["eliminating_mass_two_failures_revisit"]
            < h["return_explore_quarter_two_failures_revisit"])
    assert all(run["paid_context_success_per_site"][FAR_SITE] < 0.5 for run in runs)
    assert all(run["paid_context_success_per_site"][FAR_SITE] > 0.9 for run in _runs("peach_elimination", "return_explore_quarter"))
    assert all(run["variance_after_success"] < 0.2 for run in runs)  # sharp after a success, as the issue asks
    assert h["eliminating_probes_success"] < 0.80


def test_probe_failures_at_a_third_of_the_weight_reach_eighty_percent_on_the_posterior_itself(headline):
    """benchmarks/peach_elimination.py's ``eliminating_probes_light`` arm (the probes arm at ``elimination_weight``
    0.3): Algorithm 2 as written, z ~ q(z | all context so far), reaches the issue's 0.8 (mean and IQM over the 3
    seeds; the interval is wide), no seed revisits a site after failing at two, the far site's paid context works
    again, and no seed beats the oracle."""
    h, runs = headline("peach_elimination"), _runs("peach_elimination", "eliminating_probes_light")
    assert h["eliminating_probes_light_success"] >= 0.80 and h["eliminating_probes_light_success_iqm"] >= 0.80
    assert h["eliminating_probes_light_gain"] >= 0.2
    assert all(run["failed_context_revisit"][1] == 0.0 for run in runs)
    assert h["eliminating_probes_light_far_site_paid_context_success"] > h["eliminating_probes_far_site_paid_context_success"] + 0.3
    assert all(run["final_success"] <= h["oracle_success"] for run in runs)


def test_on_two_more_seeds_the_eliminating_route_stays_ahead_and_one_seed_never_leaves_the_start_room(headline):
    """peach_elimination.json's ``more_seeds``: the light probes arm and the quarter route on seeds 3 and 4 as well.
    Over seeds 0-4 the arm's IQM is above the route's; the one seed where both score 0 is one whose lower levels
    never leave the start room in training (exploration, with or without the loss), and no seed beats the oracle."""
    from peach_lite.results import read_results

    h, more = headline("peach_elimination"), read_results("peach_elimination")["details"]["more_seeds"]
    arm, base = more["runs"]["eliminating_probes_light"], more["runs"]["return_explore_quarter"]
    assert len(arm) == len(base) == 3 + len(more["seeds"])
    assert h["eliminating_probes_light_all_seeds_success_iqm"] > h["return_explore_quarter_all_seeds_success_iqm"]
    for a, b in zip(arm, base):
        if a["final_success"] == 0.0:
            assert b["final_success"] == 0.0 and min(a["train_attempt_room_shares"][0], b["train_attempt_room_shares"][0]) > 0.99
    assert max(r["final_success"] for r in arm + base) <= h["oracle_success"]


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_elimination', 'eliminating_probes_success', 'eliminating_probes_success_ci_low', 'eliminating_probes_success_ci_high', 'return_explore_quarter_success', 'eliminating_probes_two_failures_revisit', 'eliminating_probes_far_site_paid_context_success')}; "
                          "probe failures teach q(z | c) to rule out failed sites (fewest revisits of any arm) but the far "
                          "site's paid context stops bringing the top level back (lesson 11, 'Teaching q(z | c) to eliminate')",
                   strict=False)
def test_probe_failures_reach_eighty_percent(headline):
    assert headline("peach_elimination")["eliminating_probes_success"] >= 0.80


@pytest.mark.xfail(reason=f"issue 12: {quote_headline('peach_elimination', 'eliminating_success', 'return_explore_quarter_success', 'eliminating_paid_context_success', 'eliminating_two_failures_success')}; "
                          f"{ELIMINATING_FINDING}", strict=False)
def test_eliminating_slots_reach_eighty_percent(headline):
    assert headline("peach_elimination")["eliminating_success"] >= 0.80


def test_a_saturated_bottom_actor_is_the_start_room_trap_and_either_penalty_removes_it(headline):
    """peach_saturation.json: on the route as it is, a seed whose bottom actor saturates in its first round never leaves
    the start room (the scan's trapped runs, and seed 3 of the full runs at 0 success); with HER's action penalty or the
    pre-tanh penalty no scan seed is trapped, and seed 3 finds goals. No arm beats the oracle."""
    from peach_lite.results import read_results

    h = headline("peach_saturation")
    details = read_results("peach_saturation")["details"]
    plain = dict(zip(details["scan_seeds"], details["scan"]["scan_0"]))
    trapped = [seed for seed, run in plain.items() if run["saturation"] >= 0.9]
    assert trapped and 3 in trapped and h["scan_0_trapped"] == len(trapped)
    assert all(plain[seed]["first_round_saturation"] > 0.9 and plain[seed]["left_start_room"] < 0.01 for seed in trapped)
    assert all(run["left_start_room"] > 0.1 for seed, run in plain.items() if seed not in trapped)
    for name in ("scan_0p03", "scan_pre_tanh"):
        assert h[f"{name}_trapped"] == 0 and max(run["first_round_saturation"] for run in details["scan"][name]) < 0.5
    assert h["route_seed3_success"] == 0.0 and h["route_train_start_room_share"] > 0.99 / len(details["runs"]["route"])
    for arm in ("action_l2", "pre_tanh_l2"):
        assert h[f"{arm}_seed3_success"] > 0.0
        assert max(r["final_success"] for r in details["runs"][arm]) <= 1.0
    configs = details["configs"]
    assert {k: v for k, v in configs["action_l2"]["overrides"].items() if k != "action_l2"} == \
        {k: v for k, v in configs["pre_tanh_l2"]["overrides"].items() if k != "pre_tanh_l2"}


def test_neither_penalty_is_a_better_route(headline):
    """peach_saturation.json over seeds 0-4: both penalties cost the healthy seeds more than they save on the trapped
    one (HER's most), so the benchmark's route keeps HAC's reference actor; the healthy runs' bottom actors are about
    half saturated after 40 rounds (close to bang-bang control)."""
    from peach_lite.results import read_results

    h = headline("peach_saturation")
    details = read_results("peach_saturation")["details"]
    assert h["action_l2_success"] < h["pre_tanh_l2_success"] < h["route_success"]
    assert h["action_l2_prob_improvement"] < 0.5 and h["pre_tanh_l2_prob_improvement"] < 0.5
    healthy = [r["saturation"] for seed, r in zip(details["scan_seeds"], details["scan"]["scan_0"]) if r["saturation"] < 0.9]
    assert 0.35 < float(np.median(healthy)) < 0.55


def test_re_initialising_a_saturated_bottom_actor_frees_the_trapped_seed_and_leaves_the_others_bit_for_bit(headline):
    """peach_saturation.json's ``reset_saturated`` arm: the guard fires on the trapped seed only (seed 3), whose runs then
    find goals; every other seed's run is the route's, bit for bit, so the five-seed mean can only move by seed 3."""
    from peach_lite.results import read_results

    h = headline("peach_saturation")
    details = read_results("peach_saturation")["details"]
    seeds = read_results("peach_saturation")["seeds"]
    for seed, guarded, plain in zip(seeds, details["runs"]["reset_saturated"], details["runs"]["route"]):
        same = guarded["curve_success"] == plain["curve_success"] and guarded["success_per_episode"] == plain["success_per_episode"]
        assert same == (seed != 3), f"seed {seed}"
    assert h["reset_saturated_runs_changed"] == 1.0
    assert h["reset_saturated_seed3_success"] > h["route_seed3_success"] == 0.0
    assert h["reset_saturated_success"] > h["route_success"]
    assert max(r["final_success"] for r in details["runs"]["reset_saturated"]) <= 1.0


def test_penalty_rows_in_the_context_sharpen_the_posterior_but_not_the_search(headline):
    """peach_context_rows.json: the route with the subgoal-test penalty rows in the context, against the same route
    without them (the default). The posterior narrows after a success, but the paid context, the first episode and
    the search after two failures all pay less, and the final success does not rise: the default stands."""
    from peach_lite.results import read_results

    h = headline("peach_context_rows")
    configs = read_results("peach_context_rows")["details"]["configs"]
    assert configs["penalties_in_context"]["overrides"]["penalties_in_context"] is True
    assert h["penalties_in_context_variance_after_success"] < h["route_variance_after_success"]
    for key in ("paid_context_success", "first_episode_success", "two_failures_success"):
        assert h[f"penalties_in_context_{key}"] < h[f"route_{key}"]
    assert h["penalties_in_context_success"] <= h["route_success"] <= 1.0



def test_hacs_top_learner_beats_sac_at_the_search_and_with_the_goal_given(headline):
    """peach_top_learner.json: the route with a SAC top level (seeds 0-4) against the route (HAC's top level). SAC's
    paid-context success holds up, so inference and control work; its greedy episodes on the prior pass almost no
    site, so the meta-test's search fails, and sampling its subgoals at meta-test does not bring it back. Given the true
    goal, SAC's top level still solves fewer held-out tasks than HAC's. The bound clips unpaid targets only at first,
    and z steers SAC's greedy subgoals as far as HAC's; keeping its sampling wider does not help: the search fails elsewhere."""
    from peach_lite.results import read_results

    h = headline("peach_top_learner")
    study = read_results("peach_top_learner")
    configs = study["details"]["configs"]
    assert configs["sac"]["overrides"]["top_learner"] == "sac" and configs["sac_oracle"]["overrides"]["task_inference"] == "oracle"
    assert configs["sac_sampling"]["overrides"]["top_samples_in_meta_test"] is True
    assert h["sac_success"] < h["route_success"] - 0.4 and h["sac_prob_improvement_ci_high"] < 0.5
    left_home = [r["paid_context_success"] for r in study["details"]["runs"]["route"] if r["train_attempt_room_shares"][0] < 0.99]
    assert len(left_home) == 4 and h["sac_paid_context_success"] > 0.85 * float(np.mean(left_home))  # seed 3 never leaves home
    assert h["sac_prior_sites_reached"] < 1.0 < 2.0 < h["route_prior_sites_reached"]
    assert h["sac_sampling_success"] < h["route_success"] - 0.4 and h["sac_sampling_gain"] < -0.4
    assert h["sac_oracle_success"] < h["hac_oracle_success"] == 1.0
    assert h["scan_unpaid_at_bound_1"] > 0.0 == h["scan_unpaid_at_bound_25"] == h["scan_unpaid_at_bound_150"]
    assert h["scan_alpha_1"] > h["scan_alpha_50"] > h["scan_alpha_150"]
    # wider sampling (target entropy 0) explores no farther and blurs the subgoals
    assert h["sac_wide_train_start_room_share"] > h["sac_train_start_room_share"] - 0.05
    assert h["sac_wide_paid_context_success"] < 0.5 * h["sac_paid_context_success"] and h["sac_wide_success"] <= h["sac_success"]
    # not because its greedy subgoals ignore z: they move with z ~ prior about as far as HAC's (the first 150 rounds)
    assert all(h[f"scan_z_spread_{r}"] > 0.75 * h[f"scan_hac_z_spread_{r}"] for r in (25, 50, 100, 150))
    assert max(r["final_success"] for runs in study["details"]["runs"].values() for r in runs) <= 1.0


def test_one_meta_test_flatters_the_600_round_agents_and_more_training_reaches_the_oracle_targets(headline):
    """peach_budget.json: the 600-round reading is peach_maze's PEACH, seed by seed. Eight more meta-tests of those agents
    average below the issue's 0.8, though their one meta-test passes it. Trained to 1,800 rounds (within the issue's
    30 CPU-minutes a seed), the same route passes 0.85 of HAC given the goal on both readings, and so does twice the
    updates on 600 rounds' data, whose probe passes 0.9; HAC without z, trained as long, stays at one site's share, so the
    gain over it holds. The posterior variance after a success grows with training,
    past the prior's at 1,800 rounds: a target of the issue that more training moves away from."""
    h = headline("peach_budget")
    assert h["route_runs_matching_peach_maze"] == h["hac_no_z_runs_matching_peach_maze"] == 3
    assert h["route_success"] == headline("peach_maze")["peach_success"] and h["hac_no_z_success"] == headline("peach_maze")["hac_no_z_success"]
    # the gain over HAC without z holds in the longer budget (the same learner, z = 0, also 1,800 rounds)
    assert min(h["route_gain_over_hac_no_z_repeated"], h["longer_gain_over_hac_no_z"], h["longer_gain_over_hac_no_z_repeated"]) >= 0.2
    assert h["route_success"] >= 0.8 > h["route_success_repeated"]
    assert h["longer_train_minutes_per_seed"] <= 30 and h["longer_rounds"] == 1800
    for name in ("longer_1200", "longer", "more_updates"):
        assert h[f"{name}_success_repeated"] > h["route_success_repeated"] + 0.1
    assert min(h["longer_fraction_of_oracle_hac"], h["longer_fraction_of_oracle_hac_repeated"]) >= 0.85
    assert min(h["more_updates_fraction_of_oracle_hac"], h["more_updates_fraction_of_oracle_hac_repeated"]) < 0.85 < h["more_updates_success"]
    assert h["more_updates_probe_accuracy"] >= 0.9 > h["route_probe_accuracy"]
    assert h["route_variance_after_success"] < h["longer_1200_variance_after_success"] < h["longer_variance_after_success"]
    assert h["longer_variance_after_success"] > 1.0
    assert h["repeat_sd"] > 0.04  # one meta-test of 12 tasks moves by a few tasks
    assert max(h[f"{n}_success_repeated"] for n in ("route", "longer_1200", "longer", "more_updates")) <= 1.0


def test_the_variance_after_success_grows_in_the_dimensions_that_carry_no_site(headline):
    """peach_variance.json: peach_budget's ``longer`` agents, seed by seed, taken apart dimension by dimension (lesson 11,
    "Why the variance grows"). The issue's measure (a mean over z's 5 dimensions) grows with training; in the dimensions
    that carry the site the variance stays under the issue's 0.2 at every reading, and the growth sits in the rest,
    past the prior's. The site moves into fewer dimensions, z's scale does not run away, and samples of z keep reading
    as their own site. With latent_dim 2 no dimension is free: the issue's measure passes at every reading, and the mean
    of 8 meta-tests falls below the 5-dimensional agent's at each."""
    h, budget = headline("peach_variance"), headline("peach_budget")
    readings = ("600", "1200", "1800")
    assert h["runs_matching_peach_budget"] == 3
    assert [h[f"r{r}_variance_after_success"] for r in readings] == [budget[k] for k in ("route_variance_after_success", "longer_1200_variance_after_success", "longer_variance_after_success")]
    assert h["r600_variance_after_success"] == headline("peach_maze")["variance_after_success"]
    assert all(h[f"r{r}_site_dims_variance"] < 0.2 < h[f"r{r}_variance_after_success"] < h[f"r{r}_other_dims_variance"] for r in readings)
    assert h["r600_other_dims_variance"] < h["r1200_other_dims_variance"] < h["r1800_other_dims_variance"] and h["r1800_other_dims_variance"] > 1.5
    assert h["r1800_site_dims"] < 3 < h["r600_site_dims"] and min(h[f"r{r}_site_dims"] for r in readings) >= 2
    assert max(h[f"r{r}_mean_rms"] for r in readings) < 1.5 and min(h[f"r{r}_samples_on_site"] for r in readings) > 0.9
    assert max(h[f"latent2_r{r}_variance_after_success"] for r in readings) < 0.2
    assert all(h[f"latent2_r{r}_final_success_repeated"] < h[f"r{r}_final_success_repeated"] for r in readings)
