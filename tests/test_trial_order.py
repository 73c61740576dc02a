"""The dispatch order of a grid's trials, with hand-made specs and 1-node results."""

from __future__ import annotations

import pytest

from bench.analyse.scaling_model import Overheads, simulate_makespan
from bench.definitions.workload import TrialSpec
from bench.execute.trial_order import cost_estimate, measured_seconds, ordered
from bench.store.records import Mode, TrialResult, TrialStatus


def spec(i: int, neurons: int = 32, lr: float = 0.1) -> TrialSpec:
    return TrialSpec(f"t{i}", i, {"learning_rate": lr, "neurons": neurons, "layers": 1})


def result(trial_id: str, train: float, repeat: int = 0,
           status: TrialStatus = TrialStatus.OK) -> TrialResult:
    return TrialResult(profile="local", mode=Mode.MEASURED, repeat=repeat, trial_id=trial_id,
                       index=0, params={}, is_baseline=False, status=status,
                       phases={"build": 0.1, "train": train, "evaluate": 0.2, "probe": 9.0})


def test_grid_order_is_the_workloads_own():
    specs = [spec(0), spec(1, 128), spec(2, 64)]
    assert ordered(specs, "grid") == specs


def test_longest_first_uses_the_1_node_durations_when_every_trial_has_one():
    specs = [spec(0), spec(1), spec(2)]
    expected = measured_seconds([result("t0", 1.0), result("t1", 3.0), result("t2", 2.0),
                                 result("t1", 1.0, repeat=1)])
    # compute phases only (the probe is no trial's work), mean over repeats
    assert expected == pytest.approx({"t0": 1.3, "t1": 2.3, "t2": 2.3})
    # ties keep the grid order
    assert [s.trial_id for s in ordered(specs, "longest_first", expected)] == ["t1", "t2", "t0"]


def test_without_durations_the_widest_and_deepest_network_goes_first():
    specs = [spec(0, 32), spec(1, 128), spec(2, 64), spec(3, 128)]
    assert [s.trial_id for s in ordered(specs, "longest_first")] == ["t1", "t3", "t2", "t0"]
    # a trial the durations do not know: the estimate decides for all, not a mix of the two
    assert [s.trial_id for s in ordered(specs, "longest_first", {"t0": 9.0})] == \
        ["t1", "t3", "t2", "t0"]
    assert cost_estimate({"neurons": 64, "layers": 2}) == 128.0
    assert cost_estimate({"learning_rate": 0.1}) == cost_estimate({"kernel": "rbf"}) == 1.0


def test_a_crashed_trial_tells_nothing_about_its_duration():
    assert measured_seconds([result("t0", 0.0, status=TrialStatus.CRASHED)]) == {}


def test_an_unknown_order_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="longest_first, grid"):
        ordered([spec(0)], "shortest_first")  # type: ignore[arg-type]


def test_the_driver_launches_a_wide_first_wave_as_a_staircase():
    o = Overheads(launch_s=0.2, dispatch_s=0.05)
    # 4 slots, 4 trials of 1 s: launches at 0.2, 0.25, 0.30, 0.35; the last ends at 1.35
    assert simulate_makespan([1.0] * 4, 4, o) == pytest.approx(1.35)
    # on one slot the staircase never binds: 0.2 + 1, then 0.05 + 1 per trial
    assert simulate_makespan([1.0] * 3, 1, o) == pytest.approx(3.3)
