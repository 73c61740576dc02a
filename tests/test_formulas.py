"""The figures' maths with exact values (docs/method.md)."""

from __future__ import annotations

import pytest

from bench.analyse import formulas as f


def test_describe():
    s = f.describe([2.0, 4.0, 6.0])
    assert (s.n, s.mean, s.sd, s.min, s.max) == (3, 4.0, 2.0, 2.0, 6.0)
    assert f.describe([5.0]).sd == 0.0
    with pytest.raises(ValueError):
        f.describe([])


def test_speedup_efficiency_and_the_2016_headline():
    s = f.speedup(11_000, 1_500)
    assert s == pytest.approx(7.3333333333)
    assert f.efficiency(7.0, 13) == pytest.approx(0.5384615384615384)


def test_bound_for_equal_trials_is_waves():
    assert f.equal_trials_bound(24, 13) == 12.0
    assert f.equal_trials_bound(26, 13) == 13.0
    assert f.equal_trials_bound(19, 13) == 9.5
    durations = [2.0] * 24
    # indivisible trials: 2 waves, not sum / slots = 48 / 13 s
    assert f.bound_makespan(durations, 13) == 4.0
    assert f.bound_speedup(durations, 13) == 12.0
    assert f.bound_speedup([2.0] * 19, 13) == f.equal_trials_bound(19, 13) == 9.5
    assert f.bound_speedup([2.0] * 26, 13) == 13.0


def test_waves_of_unequal_trials():
    # 4 trials on 3 slots: the longest trial (3.0) beats sum / 3 = 2.67 and 2 x 1.0
    assert f.bound_makespan([3.0, 2.5, 1.5, 1.0], 3) == 3.0
    assert f.bound_makespan([2.0, 2.0, 2.0, 1.9], 3) == 3.8  # two waves, the 2nd of 1.9 s


def test_one_long_trial_dominates_the_bound():
    durations = [10.0, 1.0, 1.0, 1.0]
    assert f.bound_makespan(durations, 4) == 10.0
    assert f.bound_speedup(durations, 4) == 1.3
    assert f.bound_makespan(durations, 1) == 13.0
    assert f.efficiency_vs_bound(10.0, 12.5) == 0.8


def test_karp_flatt():
    assert f.karp_flatt(2.0, 1) is None
    assert f.karp_flatt(2.0, 2) == 0.0  # perfect scaling: no serial work
    # 7x on 13 nodes: (1/7 - 1/13) / (12/13) = 0.0714...
    assert f.karp_flatt(7.0, 13) == pytest.approx((1 / 7 - 1 / 13) / (12 / 13))
    assert f.karp_flatt(1.0, 4) == 1.0  # no speedup at all: everything serial


def test_relative_error_reduction_of_2016():
    assert f.relative_error_reduction(0.80, 0.53) == pytest.approx(0.3375)
    assert f.relative_error_reduction(0.0, 0.0) is None
    assert f.relative_error_reduction(0.1, 0.2) == pytest.approx(-1.0)


def test_bootstrap_interval_is_seeded_and_holds_the_ratio():
    a, b = [10.0, 11.0, 9.5, 10.5], [5.0, 5.5, 4.8, 5.2]
    low, high = f.bootstrap_ratio_interval(a, b)
    assert low < (sum(a) / 4) / (sum(b) / 4) < high
    assert f.bootstrap_ratio_interval(a, b) == (low, high)
    assert f.bootstrap_ratio_interval([1.0], b) is None
    tight = f.bootstrap_ratio_interval([2.0, 2.0], [1.0, 1.0])
    assert tight == (2.0, 2.0)
