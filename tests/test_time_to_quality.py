"""The best-so-far curve and time to quality on hand-made trial records."""

from __future__ import annotations

from pathlib import Path

import pytest
from made_runs import GRID_COLLECT_S, GRID_T0, write_grid_run

from bench.analyse.summarize import summarize_run
from bench.analyse.time_to_quality import QualityPoint, best_so_far, curves, time_to_best
from bench.store.records import Mode, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory

T0 = 100.0  # when the grid's first trial was dispatched


def trial(trial_id: str, index: int, received: float, val: float | None, test: float | None,
          *, status: TrialStatus = TrialStatus.OK, dispatched: float | None = T0,
          profile: str = "p", mode: Mode = Mode.MEASURED, repeat: int = 0) -> TrialResult:
    return TrialResult(profile, mode, repeat, trial_id, index, {"learning_rate": index},
                       index == 0, status, val_error=val, test_error=test,
                       dispatched_at=dispatched, started_at=T0, ended_at=T0 + received - 0.1,
                       received_at=T0 + received)


def run() -> list[TrialResult]:
    """In grid order; results arrive in another: (index, arrival s, val, test)."""
    return [
        trial("base", 0, 9.0, 0.30, 0.35),
        trial("a", 1, 2.0, 0.20, 0.25),
        trial("b", 2, 1.0, None, None, status=TrialStatus.DIVERGED),  # first, and no metrics
        trial("c", 3, 4.0, 0.25, 0.05),  # best on test, not on validation: never the best
        trial("d", 4, 6.0, 0.10, 0.12),  # the final best
        trial("e", 5, 7.0, None, None, status=TrialStatus.FAILED),
        trial("f", 6, 8.0, 0.15, 0.11),
    ]


def test_best_so_far_steps_as_results_arrive_chosen_on_validation_reported_on_test():
    assert best_so_far(run()) == [
        QualityPoint(2.0, "a", 1, 0.20, 0.25),
        QualityPoint(6.0, "d", 4, 0.10, 0.12),
    ]


def test_time_to_best_is_when_the_final_best_arrived():
    assert time_to_best(run()) == 6.0
    assert time_to_best(run(), target_trial_id="a") == 2.0
    assert time_to_best(run(), target_trial_id="c") is None  # arrived, never the best
    assert time_to_best(run(), target_trial_id="zzz") is None
    assert time_to_best(run(), target_test_error=0.25) == 2.0
    assert time_to_best(run(), target_test_error=0.2) == 6.0
    # c's 5 % was reached by no best so far: chosen on validation, its test error is no target
    assert time_to_best(run(), target_test_error=0.05) is None
    with pytest.raises(ValueError, match="not both"):
        time_to_best(run(), target_trial_id="a", target_test_error=0.1)


def test_ties_on_validation_go_to_the_lower_grid_index():
    trials = [
        trial("x", 3, 1.0, 0.1, 0.3),
        trial("y", 1, 2.0, 0.1, 0.2),  # same validation error, lower index: takes over
        trial("z", 2, 3.0, 0.1, 0.1),  # same again, index 2 > 1: does not
        trial("w", 0, 3.0, 0.5, 0.5),
    ]
    assert [(p.seconds, p.trial_id) for p in best_so_far(trials)] == [(1.0, "x"), (2.0, "y")]
    assert time_to_best(trials) == 2.0


def test_results_arriving_together_are_taken_in_grid_order():
    trials = [trial("late", 5, 1.0, 0.1, 0.1), trial("early", 2, 1.0, 0.1, 0.2)]
    assert [p.trial_id for p in best_so_far(trials)] == ["early"]
    trials = [trial("worse", 5, 1.0, 0.2, 0.1), trial("better", 2, 1.0, 0.1, 0.2)]
    assert [p.trial_id for p in best_so_far(trials)] == ["better"]


def test_time_zero_is_the_first_dispatch_of_the_grid():
    trials = [trial("a", 0, 3.0, 0.2, 0.2, dispatched=T0 + 1.0),
              trial("b", 1, 5.0, 0.1, 0.1, dispatched=T0 - 1.0),  # dispatched first
              trial("c", 2, 6.0, None, None, status=TrialStatus.TIMEOUT, dispatched=None)]
    assert [p.seconds for p in best_so_far(trials)] == [4.0, 6.0]


def test_no_metrics_no_curve():
    trials = [trial("a", 0, 1.0, None, None, status=TrialStatus.DIVERGED),
              trial("b", 1, 2.0, None, None, status=TrialStatus.OOM)]
    assert best_so_far(trials) == [] and time_to_best(trials) is None
    assert best_so_far([]) == [] and time_to_best([]) is None
    # an ok trial whose validation error is missing or NaN improves nothing either
    trials = [trial("a", 0, 1.0, None, 0.1), trial("b", 1, 2.0, float("nan"), 0.1),
              trial("c", 2, 3.0, 0.4, None)]
    assert best_so_far(trials) == [QualityPoint(3.0, "c", 2, 0.4, None)]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="more than one grid run"):
        best_so_far([trial("a", 0, 1.0, 0.1, 0.1),
                     trial("a", 0, 1.0, 0.1, 0.1, mode=Mode.REPLAY)])
    with pytest.raises(ValueError, match="more than one grid run"):
        best_so_far([trial("a", 0, 1.0, 0.1, 0.1), trial("b", 1, 1.0, 0.1, 0.1, repeat=1)])
    with pytest.raises(ValueError, match="trial a appears twice"):
        best_so_far([trial("a", 0, 1.0, 0.1, 0.1), trial("a", 0, 2.0, 0.1, 0.1)])
    with pytest.raises(ValueError, match="no trial says when it was dispatched"):
        best_so_far([trial("a", 0, 1.0, 0.1, 0.1, dispatched=None)])
    no_arrival = trial("a", 0, 1.0, 0.1, 0.1)
    no_arrival.received_at = None
    with pytest.raises(ValueError, match="trial a has metrics but no received_at"):
        best_so_far([no_arrival])
    with pytest.raises(ValueError, match="more than one grid run"):
        time_to_best([trial("a", 0, 1.0, 0.1, 0.1), trial("b", 1, 1.0, 0.1, 0.1, profile="q")])


def test_curves_of_a_run_end_on_the_best_the_accuracy_block_chose(tmp_path: Path):
    directory = RunDirectory.open(write_grid_run(tmp_path))
    trials = directory.trials()
    summary = summarize_run(directory.meta(), trials, directory.profile_runs())
    got = curves(trials, repeat=0)
    assert list(got) == ["local (measured)", "2-node (measured)", "2-node (replay)",
                         "13-node (replay)"]
    for label, curve in got.items():
        assert curve[-1].trial_id == summary.accuracy.best_trial_id, label
        assert curve[-1].test_error == summary.accuracy.best_test_error
        # the error of the best so far never rises
        tests = [p.test_error for p in curve]
        assert tests == sorted(tests, reverse=True)
    # on one node the trials run one after another: the best (index 4) is the fifth result
    local = [t for t in trials if (t.profile, t.mode, t.repeat) == ("local", Mode.MEASURED, 0)]
    best = next(t for t in local if t.trial_id == summary.accuracy.best_trial_id)
    assert time_to_best(local) == pytest.approx(best.received_at - GRID_T0)
    assert best.received_at == pytest.approx(best.ended_at + GRID_COLLECT_S)
    # 13 replayed slots start every trial at once: the best arrives sooner
    assert got["13-node (replay)"][-1].seconds < got["local (measured)"][-1].seconds
    assert curves(trials, repeat=7) == {}
