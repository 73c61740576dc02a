"""The analysis on hand-made records: every figure checked with exact values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bench.analyse.summarize import summarize_run
from bench.analyse.summary_json import to_json
from bench.execute.attempts import lost_attempts
from bench.report.text import to_markdown, to_table
from bench.store.records import LostAttempt, Mode, ProfileRun, TrialResult, TrialStatus

META = {"run_id": "r1", "workload": {"name": "w", "grid": "g", "trials": 3, "hash": "h"},
        "environment": {"python": "3.11"}}


def trial(profile, mode, trial_id, *, repeat=0, index=0, status=TrialStatus.OK, val=0.1,
          test=0.1, loss=0.5, start=0.0, secs=1.0, baseline=False, cold=False):
    return TrialResult(
        profile=profile, mode=mode, repeat=repeat, trial_id=trial_id, index=index,
        params={"learning_rate": float(index + 1)}, is_baseline=baseline, status=status,
        val_error=val if status is TrialStatus.OK else None,
        test_error=test if status is TrialStatus.OK else None,
        final_loss=loss if status is TrialStatus.OK else None, dispatched_at=0.0,
        started_at=start, ended_at=start + secs, received_at=start + secs,
        phases={"train": secs}, cold=cold)


def grid(profile, mode, *, repeat=0, secs=(2.0, 1.0, 1.0), test_b=0.2):
    """baseline (index 0), a better one (index 1) and a diverged one (index 2)."""
    return [
        trial(profile, mode, "a", repeat=repeat, index=0, val=0.3, test=0.4, secs=secs[0],
              baseline=True),
        trial(profile, mode, "b", repeat=repeat, index=1, val=0.1, test=test_b, secs=secs[1]),
        trial(profile, mode, "c", repeat=repeat, index=2, status=TrialStatus.DIVERGED,
              secs=secs[2]),
    ]


def prun(profile, mode, nodes, wall, repeat=0, oversubscribed=False):
    return ProfileRun(profile, mode, repeat, nodes, 1, nodes, 3, wall, 10.0, 2.0,
                      oversubscribed, 0.0, wall)


def test_figures_of_a_run_with_measured_and_replayed_rows():
    trials = grid("local", Mode.MEASURED) + grid("2-node", Mode.MEASURED) + \
        grid("2-node", Mode.REPLAY)
    runs = [prun("local", Mode.MEASURED, 1, 5.0), prun("2-node", Mode.MEASURED, 2, 3.125),
            prun("2-node", Mode.REPLAY, 2, 2.5)]
    s = summarize_run(META, trials, runs)
    assert s.reference == "local"
    rows = {(r.name, r.mode): r for r in s.rows}
    local, measured, replay = (rows[("local", Mode.MEASURED)], rows[("2-node", Mode.MEASURED)],
                               rows[("2-node", Mode.REPLAY)])
    # durations 2, 1, 1: 1 slot -> bound 4 s; 2 slots -> max(2, 4/2, 2 x 1) = 2 s
    assert local.bound_makespan_s == 4.0 and local.efficiency_vs_bound == 0.8
    assert measured.bound_makespan_s == 2.0 and measured.bound_speedup == 2.0
    assert measured.speedup == 1.6 and measured.efficiency == 0.8
    assert measured.efficiency_vs_bound == 0.64
    assert measured.karp_flatt == pytest.approx((1 / 1.6 - 1 / 2) / (1 - 1 / 2))
    assert replay.speedup == 2.0 and replay.efficiency_vs_bound == 0.8
    assert replay.replay_error == pytest.approx((2.5 - 3.125) / 3.125)
    assert local.trials == {"ok": 2, "diverged": 1}
    assert local.phases_s == {"train": pytest.approx(4 / 3)}

    acc = s.accuracy
    assert acc.source == "local" and acc.best_trial_id == "b"  # lowest validation error
    assert acc.baseline_test_error == 0.4 and acc.best_test_error == 0.2
    assert acc.relative_error_reduction == 0.5
    assert acc.metrics_identical is True and acc.compared == 2  # replay is not compared
    assert any("replay" in n for n in s.notes)
    assert "replay error (replay vs measured wall time, same profile): 2-node -20.0 %" \
        in to_table(s)


def test_a_metric_that_differs_is_named():
    trials = grid("local", Mode.MEASURED) + grid("2-node", Mode.MEASURED, test_b=0.25)
    runs = [prun("local", Mode.MEASURED, 1, 4.0), prun("2-node", Mode.MEASURED, 2, 2.0)]
    acc = summarize_run(META, trials, runs).accuracy
    assert acc.metrics_identical is False
    assert [(m.trial_id, m.profile, m.field, m.expected, m.got) for m in acc.mismatches] == [
        ("b", "2-node", "test_error", 0.2, 0.25)]


def test_repeats_give_mean_sd_and_a_speedup_interval():
    trials = grid("local", Mode.MEASURED) + grid("local", Mode.MEASURED, repeat=1)
    trials += grid("2-node", Mode.REPLAY) + grid("2-node", Mode.REPLAY, repeat=1)
    runs = [prun("local", Mode.MEASURED, 1, 4.0), prun("local", Mode.MEASURED, 1, 6.0, 1),
            prun("2-node", Mode.REPLAY, 2, 2.0), prun("2-node", Mode.REPLAY, 2, 3.0, 1)]
    s = summarize_run(META, trials, runs)
    replay = next(r for r in s.rows if r.mode is Mode.REPLAY)
    assert (replay.wall.mean, replay.wall.min, replay.wall.max) == (2.5, 2.0, 3.0)
    assert replay.speedup == 2.0
    low, high = replay.speedup_interval
    assert low < 2.0 < high
    assert s.accuracy.metrics_identical is True  # repeat 1 of local is compared with repeat 0


def test_a_measured_row_keeps_its_probes_and_a_replayed_row_takes_its_references():
    trials = [t for r in range(2) for t in grid("local", Mode.MEASURED, repeat=r)
              + grid("2-node", Mode.MEASURED, repeat=r) + grid("2-node", Mode.REPLAY, repeat=r)]
    runs = [dataclasses.replace(prun(name, mode, nodes, 4.0, r), probe_s=probe)
            for name, mode, nodes, probes in (("local", Mode.MEASURED, 1, (0.5, 0.7)),
                                              ("2-node", Mode.MEASURED, 2, (0.6, 0.6)),
                                              ("2-node", Mode.REPLAY, 2, (None, None)))
            for r, probe in enumerate(probes)]
    summary = summarize_run(META, trials, runs)
    rows = {(r.name, r.mode): r for r in summary.rows}
    assert rows[("local", Mode.MEASURED)].probe_samples_s == [0.5, 0.7]
    line = "local 0.600 s (0.500 … 0.700), 2-node 0.600 s (0.600 … 0.600)"
    assert line in to_table(summary) and line in to_markdown(summary, META)
    assert to_json(summary, META)["profiles"][0]["probe_samples_s"] == [0.5, 0.7]
    assert rows[("2-node", Mode.MEASURED)].probe_samples_s == [0.6, 0.6]
    # replay sleeps for the local run's mean durations: its machine is that run's, on average
    assert rows[("2-node", Mode.REPLAY)].probe_samples_s == [pytest.approx(0.6)] * 2
    # a repeat without a probe (a failed probe, an older run): no probes for the row
    runs[1] = dataclasses.replace(runs[1], probe_s=None)
    rows = {(r.name, r.mode): r for r in summarize_run(META, trials, runs).rows}
    assert rows[("local", Mode.MEASURED)].probe_samples_s == []
    assert rows[("2-node", Mode.REPLAY)].probe_samples_s == []


def test_without_a_one_node_profile_there_is_no_speedup():
    trials = grid("2-node", Mode.MEASURED)
    s = summarize_run(META, trials, [prun("2-node", Mode.MEASURED, 2, 2.0)])
    assert s.reference is None and s.rows[0].speedup is None and s.rows[0].bound_speedup is None
    assert s.accuracy.metrics_identical is None
    assert any("1-node" in n for n in s.notes)


def test_missing_trials_and_oversubscription_are_noted():
    trials = grid("local", Mode.MEASURED)[:2]
    s = summarize_run(META, trials, [prun("local", Mode.MEASURED, 1, 2.0, oversubscribed=True)])
    assert any("2 of 3 trials" in n for n in s.notes)
    assert any("oversubscribed" in n for n in s.notes)


def test_an_attempt_lost_with_its_executor_is_found_named_and_costed():
    b = trial("2-node", Mode.MEASURED, "b", index=1, start=7.5)
    b.attempt, b.executor_id = 1, "0"
    starts = [
        {"trial_id": "a", "attempt": 0, "executor_id": "0", "host": "h", "started_at": 1.0},
        {"trial_id": "b", "attempt": 0, "executor_id": "1", "host": "h", "started_at": 2.0},
        {"trial_id": "b", "attempt": 1, "executor_id": "0", "host": "h", "started_at": 7.5},
    ]
    received = {"a": trial("2-node", Mode.MEASURED, "a", start=1.0), "b": b}
    lost = lost_attempts(starts, received)
    assert lost == [LostAttempt("b", 0, "1", "h", 2.0, 7.5)]
    assert lost[0].recovery_s == 5.5
    # An attempt Spark began after the trial's result was in lost nothing.
    again = {"trial_id": "a", "attempt": 1, "executor_id": "1", "host": "h", "started_at": 9.0}
    assert lost_attempts([*starts, again], received) == lost
    # A re-run whose lost attempt never announced itself is still listed, executor unknown.
    unheard = lost_attempts(starts[:1], received)
    assert unheard == [LostAttempt("b", 0, None, None, None, 7.5)]
    assert unheard[0].recovery_s is None

    run = prun("2-node", Mode.MEASURED, 2, 9.0)
    run.lost_attempts, run.lost_executors = lost, ["1"]
    run = ProfileRun.from_dict(json.loads(json.dumps(run.to_dict())))  # as profiles.jsonl holds it
    s = summarize_run(META, grid("2-node", Mode.MEASURED), [run])
    assert any("executor 1 on h was lost running b" in n and "5.5 s" in n for n in s.notes)
    profile = to_json(s, META)["profiles"][0]
    assert profile["recovery_s"] == 5.5
    assert profile["lost_attempts"][0]["executor_id"] == "1"
    assert any("executor 1 was lost during the grid" in n for n in s.notes)


def test_printers_read_the_same_summary():
    trials = grid("local", Mode.MEASURED) + grid("13-node", Mode.REPLAY)
    runs = [prun("local", Mode.MEASURED, 1, 4.0), prun("13-node", Mode.REPLAY, 13, 2.0)]
    s = summarize_run(META, trials, runs)
    table = to_table(s)
    assert "13-node" in table and "replay" in table and "50.0 %" in table
    assert "13-node (replay) ran 2.00 times faster than local (measured)" in table
    data = to_json(s, META)
    text = json.dumps(data, allow_nan=False)
    for key in ("name", "nodes", "slots", "mode", "wall_s", "speedup", "efficiency",
                "bound_speedup"):
        assert all(key in p for p in data["profiles"]), key
    for key in ("baseline_test_error", "best_test_error", "relative_error_reduction",
                "metrics_identical"):
        assert key in data["accuracy"]
    assert json.loads(text)["profiles"][1]["mode"] == "replay"
    md = to_markdown(s, META)
    assert "| 13-node" in md and "## Accuracy" in md and "## Environment" in md


def test_trials_that_ended_without_metrics_are_named_with_their_last_error_line():
    trials = grid("local", Mode.MEASURED)
    trials[1] = dataclasses.replace(trials[1], status=TrialStatus.OOM, val_error=None,
                                    test_error=None, error="Traceback ...\n  File x\n"
                                    "ResourceExhaustedError: OOM when allocating tensor\n")
    s = summarize_run(META, trials, [prun("local", Mode.MEASURED, 1, 5.0)])
    assert "local (measured): trial b oom: ResourceExhaustedError: OOM when allocating tensor" \
        in s.notes
    assert not any("trial c" in n for n in s.notes)  # diverging is a result, not a breakage
    many = [dataclasses.replace(trials[0], trial_id=f"x{i}", status=TrialStatus.CRASHED,
                                error="x" * 500) for i in range(7)]
    notes = summarize_run(META, many, [prun("local", Mode.MEASURED, 1, 5.0)]).notes
    crashed = [n for n in notes if "crashed" in n]
    assert len(crashed) == 5 and crashed[0].endswith("...") and len(crashed[0]) < 300
    assert "local (measured): 2 more trials ended without metrics: see trials.jsonl" in notes
