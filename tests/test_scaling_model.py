"""The model of the grid on N slots and the speedup waterfall, with hand-computed values."""

from __future__ import annotations

import json

import pytest
from made_runs import write_run

from bench.analyse import formulas
from bench.analyse.run_scaling import model_errors, waterfall
from bench.analyse.scaling_model import (
    Overheads,
    estimate_overheads,
    predict,
    simulate_makespan,
    stragglers,
)
from bench.analyse.summarize import summarize_run
from bench.analyse.summary_json import to_json
from bench.report.text import to_markdown, to_table
from bench.store.records import Mode, ProfileRun, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory

META = {"run_id": "r1", "workload": {"name": "w", "grid": "g", "trials": 3, "hash": "h"},
        "environment": {"python": "3.11"}}


def test_five_trials_on_two_slots_in_grid_order_and_longest_first():
    # grid: slot 0 runs 1, 3, 5 (0-1, 1-4, 4-9); slot 1 runs 2, 4 (0-2, 2-6): 9 s
    assert simulate_makespan([1.0, 2.0, 3.0, 4.0, 5.0], 2) == 9.0
    # longest first: 5 (0-5) | 4 (0-4), 3 (4-7) | 2 (5-7) | 1 (7-8): 8 s, the bound is 7.5 s
    assert simulate_makespan([1.0, 2.0, 3.0, 4.0, 5.0], 2, order="longest_first") == 8.0
    assert formulas.bound_makespan([1.0, 2.0, 3.0, 4.0, 5.0], 2) == 7.5


def test_longest_first_beats_grid_order_when_the_longest_trial_comes_last():
    # grid: 1 | 1, then the 4 s trial starts at 1: 5 s; longest first: 4 | 1, 1: 4 s
    assert simulate_makespan([1.0, 1.0, 4.0], 2) == 5.0
    assert simulate_makespan([1.0, 1.0, 4.0], 2, order="longest_first") == 4.0


def test_equal_trials_run_in_waves():
    assert simulate_makespan([2.0] * 24, 13) == 4.0  # 2 waves: at most 12x, as the bound says
    assert sum([2.0] * 24) / simulate_makespan([2.0] * 24, 13) == formulas.equal_trials_bound(24, 13)
    assert simulate_makespan([2.0] * 26, 13) == 4.0
    assert simulate_makespan([2.0] * 27, 13) == 6.0
    assert simulate_makespan([2.0] * 3, 13) == 2.0  # idle slots cost nothing
    assert simulate_makespan([], 4) == 0.0
    with pytest.raises(ValueError):
        simulate_makespan([1.0], 0)


def test_overheads_are_paid_per_task_and_the_first_trial_of_a_slot_pays_its_own():
    four = [1.0] * 4
    assert simulate_makespan(four, 1, Overheads(dispatch_s=0.5)) == 5.5  # not on the first
    assert simulate_makespan(four, 1, Overheads(launch_s=0.5, dispatch_s=0.5)) == 6.0
    assert simulate_makespan(four, 1, Overheads(in_task_s=0.25, fetch_s=0.25)) == 6.0
    assert simulate_makespan(four, 1, Overheads(collect_s=0.25)) == 4.25  # once, at the end
    # 2 slots: each slot's first trial copies the broadcast: 1.3 + 1 s
    assert simulate_makespan(four, 2, Overheads(first_fetch_s=0.3)) == 2.3
    # warm-up and start-up are before the clock: never in the wall time
    assert simulate_makespan(four, 2, Overheads(warmup_s=7.0, startup_s=9.0)) == 2.0


def run_trial(profile, mode, index, *, start, secs, dispatched=0.0, fetch=0.0, compute=None,
              collect=0.0, repeat=0):
    """A trial as the runner records it: ``secs`` in its task, ``compute`` of them computing."""
    compute = secs - fetch if compute is None else compute
    return TrialResult(
        profile=profile, mode=mode, repeat=repeat, trial_id="abcde"[index], index=index,
        params={"learning_rate": float(index + 1)}, is_baseline=index == 0,
        status=TrialStatus.OK, val_error=0.1 * (index + 1), test_error=0.1 * (index + 1),
        final_loss=0.5, dispatched_at=dispatched, started_at=start, ended_at=start + secs,
        received_at=start + secs + collect,
        phases={"fetch": fetch, "build": 0.5, "train": compute - 0.5})


def test_overheads_are_estimated_from_the_trials_timestamps():
    # 1 slot, job submitted at 100: launched after 0.2 s, 0.05 s idle between trials,
    # 0.05 s of each task neither fetch nor compute, the first fetch 0.05 s, collect 0.01-0.02 s
    trials = [
        run_trial("local", Mode.MEASURED, 0, dispatched=100.0, start=100.2, secs=3.0, fetch=0.05,
                  compute=2.9, collect=0.01),
        run_trial("local", Mode.MEASURED, 1, dispatched=100.0, start=103.25, secs=2.0,
                  compute=1.95, collect=0.01),
        run_trial("local", Mode.MEASURED, 2, dispatched=100.0, start=105.3, secs=1.0,
                  compute=0.95, collect=0.02),
    ]
    o = estimate_overheads(trials, 1, warmup_s=7.8, startup_s=9.0)
    assert o.launch_s == pytest.approx(0.2)
    assert o.dispatch_s == pytest.approx(0.05)
    assert o.in_task_s == pytest.approx(0.05)
    assert o.fetch_s == 0.0 and o.first_fetch_s == pytest.approx(0.05)
    assert o.collect_s == pytest.approx(0.04 / 3)
    assert (o.warmup_s, o.startup_s) == (7.8, 9.0)
    assert o.per_task_s == pytest.approx(0.1) and o.first_task_s == pytest.approx(0.3)
    # The model of the run it came from: 6.3 s of trials + the mean collect; the run took 6.32 s
    assert simulate_makespan([2.9, 1.95, 0.95], 1, o) == pytest.approx(6.3 + 0.04 / 3)


def test_on_two_slots_a_trial_takes_the_slot_free_the_longest_and_skew_counts_zero():
    trials = [
        run_trial("2-node", Mode.REPLAY, 0, start=0.1, secs=2.0),
        run_trial("2-node", Mode.REPLAY, 1, start=0.1, secs=1.0),
        run_trial("2-node", Mode.REPLAY, 2, start=1.2, secs=1.0),  # slot free at 1.1
    ]
    o = estimate_overheads(trials, 2)
    assert o.launch_s == pytest.approx(0.1) and o.dispatch_s == pytest.approx(0.1)
    skewed = [run_trial("local", Mode.MEASURED, 0, dispatched=5.0, start=4.9, secs=1.0)]
    assert estimate_overheads(skewed, 1).launch_s == 0.0


def test_prediction_divides_the_measured_one_node_time_when_there_is_one():
    points = predict([1.0] * 4, Overheads(), [1, 2, 3, 4], t1=5.0)
    assert [p.wall_s for p in points] == [4.0, 2.0, 2.0, 1.0]  # 3 nodes: still 2 waves
    assert [p.speedup for p in points] == [1.25, 2.5, 2.5, 5.0]
    assert all(p.mode is Mode.MODEL for p in points)
    own = predict([1.0] * 4, Overheads(), [1, 2, 3, 4])
    assert [p.speedup for p in own] == [1.0, 2.0, 2.0, 4.0]
    lpt = predict([1.0, 1.0, 4.0], Overheads(), [2])[0]
    assert (lpt.wall_s, lpt.longest_first_wall_s) == (5.0, 4.0)
    assert (lpt.speedup, lpt.longest_first_speedup) == (1.2, 1.5)
    two_per_node = predict([1.0] * 4, Overheads(), [1], slots_per_node=2)[0]
    assert (two_per_node.slots, two_per_node.wall_s) == (2, 2.0)


def test_stragglers_are_the_trials_still_running_when_the_last_one_started():
    # 2 slots: a 0-4, b 0-3, c 3-5, d 4-6, e 5-6.5; e starts last at 5; c ended then
    trials = [run_trial("2-node", Mode.REPLAY, i, start=s, secs=d)
              for i, (s, d) in enumerate([(0, 4), (0, 3), (3, 2), (4, 2), (5, 1.5)])]
    assert [t.trial_id for t in stragglers(trials, 2)] == ["d", "e"]
    assert [t.trial_id for t in stragglers(trials, 1)] == ["d"]
    assert stragglers([], 2) == []


def local_run(walls):
    """local measured: trials of 2, 1 and 1 s one after another, no overhead, T(1) = 4 s;
    ``walls``: (profile, mode, nodes) -> wall time of the other rows, trials 2 | 1, 1."""
    trials = [run_trial("local", Mode.MEASURED, i, start=s, secs=d)
              for i, (s, d) in enumerate([(0, 2), (2, 1), (3, 1)])]
    runs = [ProfileRun("local", Mode.MEASURED, 0, 1, 1, 1, 3, 4.0, 10.0, 2.0, False, 0.0, 4.0)]
    for (profile, mode, nodes), wall in walls.items():
        trials += [run_trial(profile, mode, i, start=s, secs=d)
                   for i, (s, d) in enumerate([(0, 2), (0, 1), (1, 1)])]
        runs.append(ProfileRun(profile, mode, 0, nodes, 1, nodes, 3, wall, 10.0, 2.0, False,
                               0.0, wall))
    return summarize_run(META, trials, runs)


def test_model_error_is_positive_when_the_model_is_pessimistic():
    s = local_run({("2-node", Mode.MEASURED, 2): 2.5, ("2-node", Mode.REPLAY, 2): 1.6})
    errors = {(e.name, e.mode): e for e in model_errors(s)}
    assert s.model_errors == model_errors(s)
    local = errors[("local", Mode.MEASURED)]
    assert (local.predicted_wall_s, local.error, local.in_sample) == (4.0, 0.0, True)
    measured, replay = errors[("2-node", Mode.MEASURED)], errors[("2-node", Mode.REPLAY)]
    assert measured.predicted_wall_s == 2.0 and not measured.in_sample
    assert measured.error == pytest.approx(-0.2) and not measured.within_target  # optimistic
    assert replay.error == pytest.approx(0.25)  # pessimistic
    assert [(p.nodes, p.wall_s, p.speedup) for p in s.model[:3]] == [
        (1, 4.0, 1.0), (2, 2.0, 2.0), (3, 2.0, 2.0)]
    assert len(s.model) == 64


def test_waterfall_stages_and_the_ones_this_run_skipped():
    s = local_run({("2-node", Mode.MEASURED, 2): 3.2, ("2-node", Mode.REPLAY, 2): 2.5,
                   ("4-node", Mode.MEASURED, 4): 3.2, ("13-node", Mode.REPLAY, 13): 2.5})
    both = waterfall(s, "2-node")
    # durations 2, 1, 1: bound 2 s on 2 slots (speedup 4 / 2), and on 13 (the longest trial)
    assert [(st.stage, st.speedup, st.lost_to) for st in both.steps] == [
        ("ideal", 2.0, ""), ("bound", 2.0, "waves and longest trials"),
        ("replay", 1.6, "runner and Spark overhead"), ("measured", 1.25, "contention on the host")]
    assert both.skipped == [] and both.stragglers == ["a", "c"]  # c started last, a ran on
    measured_only = waterfall(s, "4-node")
    assert [(st.stage, st.speedup) for st in measured_only.steps] == [
        ("ideal", 4.0), ("bound", 2.0), ("measured", 1.25)]
    assert measured_only.steps[-1].lost_to == "runner and Spark overhead and contention on the host"
    assert measured_only.skipped == ["no replay row"]
    replay_only = waterfall(s, "13-node")
    assert [(st.stage, st.speedup) for st in replay_only.steps] == [
        ("ideal", 13.0), ("bound", 2.0), ("replay", 1.6)]
    assert replay_only.skipped == ["no measured row"]
    assert [w.name for w in s.waterfalls] == ["2-node", "4-node", "13-node"]  # not local
    assert "13-node: ideal 13.00 -> bound 2.00 (waves and longest trials) -> replay 1.60 " \
        "(runner and Spark overhead); no measured row; last wave held by a, c" in to_table(s)


def test_without_a_one_node_run_there_is_no_model_and_no_waterfall():
    trials = [run_trial("2-node", Mode.MEASURED, i, start=s, secs=d)
              for i, (s, d) in enumerate([(0, 2), (0, 1), (1, 1)])]
    s = summarize_run(META, trials, [ProfileRun("2-node", Mode.MEASURED, 0, 2, 1, 2, 3, 2.0,
                                                10.0, 2.0, False, 0.0, 2.0)])
    assert s.model == [] and s.model_errors == [] and s.waterfalls == []
    assert waterfall(s, "2-node") is None
    assert "Model" not in to_table(s)
    data = to_json(s, META)
    assert (data["model"], data["model_overheads"], data["waterfalls"]) == ([], None, [])


def test_a_made_run_reports_the_model_in_markdown_and_json(tmp_path):
    run = RunDirectory.open(write_run(tmp_path))
    meta = run.meta()
    s = summarize_run(meta, run.trials(), run.profile_runs())
    md = to_markdown(s, meta)
    assert "## Model" in md and "| nodes (model)" in md
    assert "- speedup lost, 2-node: ideal 2.00 -> bound 2.00 (waves and longest trials) -> " \
        "replay 1.95 (runner and Spark overhead) -> measured 1.83 (contention on the host)" in md
    # T(1) = 4.2 s; the made trials (2, 1, 1 s, no overhead) take 2 s on 2 slots
    assert "2-node (replay) -7.0 %" in md and "2-node (measured) -13.0 % (beyond 10 %)" in md
    data = json.loads(json.dumps(to_json(s, meta), allow_nan=False))
    for key in ("model", "model_overheads", "model_errors", "waterfalls"):
        assert key in data, key
    for key in ("name", "mode", "wall_s", "speedup", "bound_speedup", "overhead_per_trial_s"):
        assert all(key in p for p in data["profiles"]), key  # the old keys stay
    assert data["model"][1] == {"nodes": 2, "slots": 2, "wall_s": 2.0, "speedup": 2.1,
                                "longest_first_wall_s": 2.0, "longest_first_speedup": 2.1,
                                "mode": "model"}
    replay = next(e for e in data["model_errors"] if e["mode"] == "replay")
    assert replay["error"] == pytest.approx((2.0 - 2.15) / 2.15)
    assert data["model_overheads"]["warmup_s"] == 2.0
    assert data["waterfalls"][0]["steps"][2]["stage"] == "replay"
    assert all("stragglers" in p for p in data["profiles"])


def test_order_checks_and_weak_runs_stand_beside_their_rows(tmp_path):
    trials = [run_trial("local", Mode.MEASURED, i, start=s, secs=d)
              for i, (s, d) in enumerate([(0, 2), (2, 1), (3, 1)])]
    trials += [run_trial("2-node", Mode.REPLAY, i, start=s, secs=d)
               for i, (s, d) in enumerate([(0, 2), (0, 1), (1, 1)])]
    runs = [ProfileRun("local", Mode.MEASURED, 0, 1, 1, 1, 3, 4.0, 10.0, 2.0, False, 0.0, 4.0),
            ProfileRun("2-node", Mode.REPLAY, 0, 2, 1, 2, 3, 2.0, 10.0, 2.0, False, 0.0, 2.0,
                       order="longest_first"),
            # the same grid in the other order, and the first 1 x 2 trials for weak scaling:
            # neither may change the row's wall time
            ProfileRun("2-node", Mode.REPLAY, 1, 2, 1, 2, 3, 3.0, 10.0, 2.0, False, 5.0, 8.0,
                       order="grid", order_check=True),
            ProfileRun("2-node", Mode.REPLAY, 2, 2, 1, 2, 2, 2.5, 10.0, 2.0, False, 9.0, 9.0,
                       order="longest_first", weak_trial_ids=["a", "b"])]
    meta = {**META, "options": {"order": "longest_first"}}
    s = summarize_run(meta, trials, runs)
    row = next(r for r in s.rows if r.mode is Mode.REPLAY)
    assert row.wall_samples_s == [2.0] and row.speedup == 2.0
    check = s.order_checks[0]
    assert (check.order, check.wall_s, check.other_order, check.other_wall_s) == (
        "longest_first", 2.0, "grid", 3.0)
    # the model in both orders on 2 slots: 2 | 1, 1 either way here
    assert check.model_wall_s == check.model_other_wall_s == 2.0
    weak = s.weak_runs[0]
    # trials a and b took 2 s and 1 s on 1 node: 3 s of work in 2.5 s on 2 nodes
    assert (weak.nodes, weak.trials, weak.wall_s, weak.serial_s) == (2, 2, 2.5, [2.0, 1.0])
    text = to_table(s)
    assert "longest first 2.00 s vs in grid order 3.00 s" in text
    assert "Weak scaling" in text and "1.20" in text  # scaled speedup 3 / 2.5
    data = to_json(s, meta)
    assert data["order"] == "longest_first"
    assert data["weak_scaling"][0]["scaled_speedup"] == pytest.approx(1.2)
    assert data["weak_scaling"][0]["weak_efficiency"] == pytest.approx(0.6)
