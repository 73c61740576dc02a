"""Where a grid's wall time went, on hand-made trials whose parts are known exactly."""

from __future__ import annotations

import pytest

from bench.analyse.time_breakdown import PARTS, mean_slot_seconds, slot_seconds
from bench.store.records import Mode, TrialResult, TrialStatus


def trial(i: int, start: float, phases: dict[str, float], repeat: int = 0,
          other: float = 0.0) -> TrialResult:
    end = start + sum(phases.values()) + other
    return TrialResult(profile="p", mode=Mode.MEASURED, repeat=repeat, trial_id=f"t{i}",
                       index=i, params={}, is_baseline=False, status=TrialStatus.OK,
                       dispatched_at=100.0, started_at=start, ended_at=end,
                       received_at=end + 0.1, phases=phases)


def test_two_slots_three_trials_add_up_to_slots_times_wall():
    trials = [
        trial(0, 100.5, {"fetch": 0.5, "train": 2.0}),  # slot A: 100.5 - 103.0
        trial(1, 100.6, {"train": 3.0}, other=0.4),  # slot B: 100.6 - 104.0
        trial(2, 103.2, {"train": 1.0}),  # slot A again: 103.2 - 104.2
    ]
    parts = slot_seconds(trials, slots=2, wall_s=4.3)  # last result at 104.3
    assert set(parts) == set(PARTS)
    assert parts["dispatch"] == pytest.approx(0.5 + 0.6 + 0.2)
    assert parts["fetch"] == pytest.approx(0.5)
    assert parts["train"] == pytest.approx(6.0)
    assert parts["task other"] == pytest.approx(0.4)
    assert parts["idle"] == pytest.approx(0.1 + 0.3)  # A after 104.2, B after 104.0
    assert sum(parts.values()) == pytest.approx(2 * 4.3)


def test_repeats_are_averaged_and_a_resumed_repeat_left_out():
    one = [trial(0, 100.0, {"train": 1.0}, repeat=0)]
    two = [trial(0, 100.0, {"train": 3.0}, repeat=1)]
    mean = mean_slot_seconds(one + two, 1, {0: 1.0, 1: 3.0})
    assert mean["train"] == pytest.approx(2.0)
    assert mean_slot_seconds(one + two, 1, {0: 1.0})["train"] == pytest.approx(1.0)
    assert mean_slot_seconds([], 1, {}) == {}
