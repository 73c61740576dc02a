"""The Universal Scalability Law fit and weak scaling on synthetic data of known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from made_runs import GRID_ROWS, write_grid_run

from bench.analyse import formulas, run_scaling
from bench.analyse import scalability as sc
from bench.analyse.summarize import summarize_run
from bench.store.records import Mode
from bench.store.rundir import RunDirectory

NODES = [1, 2, 4, 8, 16, 32]


def exact(sigma: float, kappa: float, nodes=NODES) -> list[tuple[int, float]]:
    return [(n, float(sc.usl_speedup(n, sigma, kappa))) for n in nodes]


def noisy(sigma: float, kappa: float, repeats: int = 3, noise: float = 0.02, seed: int = 7,
          nodes=NODES) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    return [(n, float(sc.usl_speedup(n, sigma, kappa)) * (1 + rng.normal(0, noise)))
            for n in nodes for _ in range(repeats)]


def test_the_law_and_its_peak():
    assert sc.usl_speedup(1, 0.3, 0.1) == 1.0  # one node is 1 whatever sigma and kappa
    assert sc.usl_speedup(13, 0.0, 0.0) == 13.0
    assert sc.usl_speedup(4, 0.1, 0.0) == pytest.approx(4 / 1.3)  # Amdahl
    assert sc.usl_speedup(np.array([1, 2]), 0.0, 0.0).tolist() == [1.0, 2.0]
    assert sc.usl_peak(0.05, 0.002) == pytest.approx(math.sqrt(0.95 / 0.002))
    assert sc.usl_peak(0.05, 0.0) is None


def test_fit_recovers_known_sigma_and_kappa_from_exact_points():
    fit = sc.fit_usl(exact(0.05, 0.002), mode=Mode.MEASURED)
    assert fit.sigma == pytest.approx(0.05, rel=1e-5)
    assert fit.kappa == pytest.approx(0.002, rel=1e-5)
    assert fit.r_squared == pytest.approx(1.0)
    assert max(map(abs, fit.residuals)) < 1e-6
    assert fit.peak_nodes == pytest.approx(math.sqrt(0.95 / 0.002), rel=1e-4)  # 21.8
    assert not fit.peak_beyond_data  # 32 nodes were fitted
    assert not fit.under_determined and fit.reason is None
    assert fit.predict(13) == pytest.approx(sc.usl_speedup(13, 0.05, 0.002), rel=1e-5)
    assert fit.source == "measured" and fit.label == "USL fit (measured)"
    assert fit.node_counts == tuple(NODES) and fit.points == tuple(exact(0.05, 0.002))
    # one sample per node count: the fit, but no interval, and a note saying so
    assert fit.sigma_interval is None and fit.kappa_interval is None
    assert fit.interval_note == ("no interval: one sample at 2, 4, 8, 16, 32 nodes (an interval "
                                 "needs repeats to resample)")
    with pytest.raises(ValueError, match="nodes must be >= 1"):
        fit.predict(0)


def test_fit_on_noisy_repeats_recovers_the_parameters_within_a_seeded_interval():
    points = noisy(0.05, 0.002)
    fit = sc.fit_usl(points, mode="replay", resamples=400)
    assert fit.sigma == pytest.approx(0.05, abs=0.01)
    assert fit.kappa == pytest.approx(0.002, rel=0.2)
    assert fit.source == "replay"
    low, high = fit.sigma_interval
    assert low <= fit.sigma <= high and low <= 0.05 <= high
    low, high = fit.kappa_interval
    assert low <= fit.kappa <= high and low <= 0.002 <= high
    assert fit.interval_note is None
    assert 0.99 < fit.r_squared < 1.0
    assert len(fit.residuals) == len(points)
    assert fit.residuals == pytest.approx(
        [s - sc.usl_speedup(n, fit.sigma, fit.kappa) for n, s in points])
    # seeded: one input, one answer; another seed, another resampling
    again = sc.fit_usl(points, mode="replay", resamples=400)
    assert (again.sigma_interval, again.kappa_interval) == (fit.sigma_interval,
                                                            fit.kappa_interval)
    other = sc.fit_usl(points, mode="replay", resamples=400, seed=1)
    assert other.sigma_interval != fit.sigma_interval
    assert other.sigma == fit.sigma  # the point estimate does not depend on the seed


def test_repeats_at_some_node_counts_only_give_no_interval():
    points = noisy(0.05, 0.002, repeats=2) + [(64, 9.0)]
    fit = sc.fit_usl(points, mode=Mode.MEASURED, resamples=50)
    assert fit.sigma_interval is None
    assert fit.interval_note.startswith("no interval: one sample at 64 nodes")
    # a single 1-node sample does not matter: the law is 1 there whatever it is fitted to
    points = [p for p in noisy(0.05, 0.002, repeats=2) if p[0] > 1] + [(1, 1.0)]
    assert sc.fit_usl(points, mode=Mode.MEASURED, resamples=50).sigma_interval is not None


def test_amdahl_data_fits_kappa_zero_and_no_peak():
    fit = sc.fit_usl(exact(0.1, 0.0), mode=Mode.MEASURED)
    assert fit.kappa == 0.0  # exactly: the bound, not 1e-19
    assert fit.sigma == pytest.approx(0.1, rel=1e-6)
    assert fit.peak_nodes is None and not fit.peak_beyond_data
    # Karp-Flatt of Amdahl speedups is flat and equals his serial fraction
    assert [formulas.karp_flatt(s, n) for n, s in exact(0.1, 0.0)[1:]] == \
        pytest.approx([0.1] * (len(NODES) - 1))
    noisy_fit = sc.fit_usl(noisy(0.1, 0.0), mode=Mode.MEASURED, resamples=200)
    assert noisy_fit.kappa == pytest.approx(0.0, abs=2e-4)
    assert noisy_fit.sigma == pytest.approx(0.1, abs=0.02)
    assert noisy_fit.kappa_interval[0] == 0.0  # the bound, inside the interval


def test_perfect_scaling_fits_zero_and_zero():
    fit = sc.fit_usl(exact(0.0, 0.0), mode=Mode.MODEL)
    assert (fit.sigma, fit.kappa) == (0.0, 0.0)
    assert fit.predict(64) == pytest.approx(64.0)


def test_a_slowdown_peaks_on_one_node_and_superlinear_is_beyond_the_law():
    slower = [(1, 1.0), (2, 0.5), (2, 0.52), (4, 0.3), (4, 0.31), (8, 0.2), (8, 0.21)]
    fit = sc.fit_usl(slower, mode=Mode.MEASURED, resamples=50)
    assert fit.sigma == 1.0 and fit.kappa > 0  # sigma on its bound
    assert fit.peak_nodes == 1.0 and sc.usl_peak(1.0, 0.5) == 1.0
    superlinear = sc.fit_usl([(1, 1.0), (2, 2.5), (4, 6.0), (8, 12.0)], mode=Mode.MEASURED)
    assert (superlinear.sigma, superlinear.kappa) == (0.0, 0.0)
    assert superlinear.r_squared < 0.8
    assert all(r > 0 for r in superlinear.residuals[1:])  # every point above S = N


def test_a_peak_beyond_the_data_is_flagged():
    fit = sc.fit_usl(exact(0.02, 0.0005, nodes=[1, 2, 4, 8]), mode=Mode.REPLAY)
    assert fit.peak_nodes == pytest.approx(math.sqrt(0.98 / 0.0005), rel=1e-3)  # 44
    assert fit.peak_beyond_data


@pytest.mark.parametrize(("nodes", "counted"), [
    ([1, 2, 13], "3 node counts (1, 2, 13,"),  # the 2016 post's clusters
    ([2, 13], "3 node counts (1, 2, 13,"),  # 1 node counted: S(1) = 1 by definition
    ([1, 2], "2 node counts (1, 2,"),
    ([4], "2 node counts (1, 4,"),
    ([1], "1 node counts (1,"),
])
def test_fewer_than_four_node_counts_is_under_determined_and_predicts_nothing(nodes, counted):
    fit = sc.fit_usl([(n, float(sc.usl_speedup(n, 0.05, 0.01))) for n in nodes for _ in (0, 1)],
                     mode=Mode.MEASURED)
    assert fit.under_determined
    assert fit.reason.startswith(counted) and "< 4" in fit.reason
    assert fit.sigma_interval is None
    assert fit.interval_note == "no interval: the fit is under-determined"
    with pytest.raises(sc.UnderDeterminedFit, match="USL fit \\(measured\\) predicts nothing"):
        fit.predict(4)
    with pytest.raises(ValueError):  # an UnderDeterminedFit is a ValueError
        fit.predict(4)
    # sigma, kappa and the residuals are still there for the record
    assert math.isfinite(fit.sigma) and len(fit.residuals) == 2 * len(nodes)


def test_three_node_counts_above_one_are_enough():
    fit = sc.fit_usl(exact(0.05, 0.002, nodes=[2, 4, 8]), mode=Mode.REPLAY)
    assert not fit.under_determined
    assert fit.sigma == pytest.approx(0.05, rel=1e-4)


@pytest.mark.parametrize(("points", "message"), [
    ([], "no \\(nodes, speedup\\) points"),
    ([(1, 1.0), (2, 0.0)], "point 1: speedup at 2 nodes must be a finite number > 0"),
    ([(2, -1.5)], "point 0: speedup at 2 nodes must be a finite number > 0 .*-1.5"),
    ([(2, math.nan)], "speedup at 2 nodes must be a finite number > 0"),
    ([(2, math.inf)], "speedup at 2 nodes must be a finite number > 0"),
    ([(2, "3")], "speedup at 2 nodes"),
    ([(0, 1.0)], "point 0: nodes must be a whole number >= 1, got 0"),
    ([(-2, 1.0)], "nodes must be a whole number >= 1, got -2"),
    ([(1.5, 1.0)], "nodes must be a whole number >= 1, got 1.5"),
    ([(True, 1.0)], "nodes must be a whole number >= 1, got True"),
    ([(2, 1.0, 3)], "point 0: \\(2, 1.0, 3\\) is not a \\(nodes, speedup\\) pair"),
    ([3.0], "point 0: 3.0 is not a \\(nodes, speedup\\) pair"),
])
def test_bad_points_are_refused_with_a_clear_message(points, message):
    with pytest.raises(ValueError, match=message):
        sc.fit_usl(points, mode=Mode.MEASURED)


def test_bad_mode_and_confidence_are_refused():
    with pytest.raises(ValueError, match="mode must be one of \\['measured', 'replay', 'model'\\]"):
        sc.fit_usl(exact(0.05, 0.002), mode="simulated")
    with pytest.raises(ValueError, match="confidence"):
        sc.fit_usl(exact(0.05, 0.002), mode=Mode.MEASURED, confidence=95)
    with pytest.raises(TypeError):
        sc.fit_usl(exact(0.05, 0.002))  # type: ignore[call-arg]  # the mode is not optional


def test_points_and_fit_of_a_run(tmp_path: Path):
    rows = {**GRID_ROWS, ("4-node", Mode.REPLAY, 4): [1.0, 1.05, 0.95],
            ("8-node", Mode.REPLAY, 8): [1.0, 1.1, 1.0]}
    run = RunDirectory.open(write_grid_run(tmp_path, rows=rows))
    summary = summarize_run(run.meta(), run.trials(), run.profile_runs())
    by_name = {(r.name, r.mode): r for r in summary.rows}
    t1 = float(np.mean(by_name[("local", Mode.MEASURED)].wall_samples_s))
    measured = run_scaling.usl_points(summary, Mode.MEASURED)
    assert np.array(measured) == pytest.approx(np.array(
        [(1, t1 / w) for w in by_name[("local", Mode.MEASURED)].wall_samples_s]
        + [(2, t1 / w) for w in by_name[("2-node", Mode.MEASURED)].wall_samples_s]))
    replay = run_scaling.usl_points(summary, Mode.REPLAY)
    assert [n for n, _ in replay] == [2] * 3 + [4] * 3 + [8] * 3 + [13] * 3
    # each repeat's speedup: their mean is not the row's speedup (mean T1 / mean TN), but close
    assert np.mean([s for n, s in replay if n == 13]) == \
        pytest.approx(by_name[("13-node", Mode.REPLAY)].speedup, rel=0.02)
    assert run_scaling.usl_points(summary, Mode.MODEL) == []
    assert run_scaling.fit_summary(summary, Mode.MODEL) is None
    fit = run_scaling.fit_summary(summary, Mode.REPLAY, resamples=100)
    assert fit.source == "replay" and not fit.under_determined
    assert fit.sigma_interval is not None
    measured_fit = run_scaling.fit_summary(summary, Mode.MEASURED)
    assert measured_fit.under_determined and measured_fit.source == "measured"


def test_oversubscribed_rows_are_left_out_of_the_points_unless_asked(tmp_path: Path):
    import dataclasses

    run = RunDirectory.open(write_grid_run(tmp_path))
    summary = summarize_run(run.meta(), run.trials(), run.profile_runs())
    rows = [dataclasses.replace(r, oversubscribed=r.name == "2-node") for r in summary.rows]
    summary = dataclasses.replace(summary, rows=rows)
    assert {n for n, _ in run_scaling.usl_points(summary, Mode.MEASURED)} == {1}
    assert {n for n, _ in run_scaling.usl_points(summary, Mode.MEASURED,
                                        include_oversubscribed=True)} == {1, 2}


# Weak scaling


def test_scaled_speedup_and_weak_efficiency():
    # 2 nodes ran 4 trials (k = 2) in 5 s; on 1 node those trials take 2 + 3 + 1 + 4 = 10 s
    assert sc.scaled_speedup([2.0, 3.0, 1.0, 4.0], 5.0) == 2.0
    assert sc.scaled_speedup(11.0, 5.0) == 2.2  # T(1, kN) measured
    assert sc.weak_efficiency(2.0, 2) == 1.0
    assert sc.weak_efficiency(7.0, 13) == pytest.approx(7 / 13)
    point = sc.weak_point(2, 4, [2.0, 3.0, 1.0, 4.0], 5.0, Mode.REPLAY)
    assert point == sc.WeakPoint(nodes=2, trials=4, serial_s=10.0,
                                 serial_from="sum of 1-node durations", wall_s=5.0,
                                 scaled_speedup=2.0, efficiency=1.0, mode="replay")
    measured = sc.weak_point(4, 8, 20.0, 8.0, "measured")
    assert (measured.serial_from, measured.scaled_speedup, measured.efficiency) == \
        ("measured T(1, kN)", 2.5, 0.625)


@pytest.mark.parametrize(("t1", "tn", "message"), [
    (10.0, 0.0, "T\\(N, kN\\) must be > 0"),
    (10.0, -1.0, "T\\(N, kN\\) must be > 0"),
    (0.0, 1.0, "1-node time of the sub-grid must be > 0"),
    ([], 1.0, "1-node time of the sub-grid must be > 0"),
    ([1.0, -1.0, 3.0], 1.0, "durations must be finite and >= 0"),
    ([1.0, math.nan], 1.0, "durations must be finite and >= 0"),
])
def test_scaled_speedup_refuses_times_that_are_not_times(t1, tn, message):
    with pytest.raises(ValueError, match=message):
        sc.scaled_speedup(t1, tn)


def test_weak_efficiency_refuses_no_nodes():
    with pytest.raises(ValueError, match="nodes must be >= 1"):
        sc.weak_efficiency(1.0, 0)


GRID = [(f"t{i}", float(i + 1)) for i in range(10)]  # t0 .. t9, 1 .. 10 s on one node


def test_weak_scaling_grids_take_the_first_k_n_trials_and_never_cycle():
    plan = sc.weak_scaling_grids(GRID, 2, [4, 1, 2, 8, 5])
    assert plan.per_node == 2
    assert [g.nodes for g in plan.grids] == [1, 2, 4, 5]  # ascending
    assert plan.grids[0].trial_ids == ["t0", "t1"]
    assert plan.grids[1].trials == (("t0", 1.0), ("t1", 2.0), ("t2", 3.0), ("t3", 4.0))
    assert plan.grids[2].trial_ids == [f"t{i}" for i in range(8)]
    assert plan.grids[3].trial_ids == [t for t, _ in GRID]  # exactly the whole grid
    assert plan.grids[1].serial_s == 10.0
    assert plan.skipped == (sc.SkippedNodes(8, "8 nodes x 2 trials per node = 16 trials, the "
                                               "grid has 10"),)
    # the sub-grid's durations are scaled_speedup's fallback numerator
    assert sc.scaled_speedup([s for _, s in plan.grids[1].trials], 5.0) == 2.0
    assert sc.weak_scaling_grids([], 1, [1]).grids == ()


@pytest.mark.parametrize(("grid", "k", "nodes", "message"), [
    (GRID, 0, [1], "trials per node must be a whole number >= 1, got 0"),
    (GRID, 1.5, [1], "trials per node must be a whole number >= 1"),
    (GRID, 1, [0], "node counts must be whole numbers >= 1, got 0"),
    (GRID, 1, [2.0], "node counts must be whole numbers >= 1, got 2.0"),
    (GRID, 1, [2, 2], "a node count is given twice"),
    ([("a", 1.0), ("a", 2.0)], 1, [1], "trial 'a' is given twice"),
    ([("a", -1.0)], 1, [1], "trial 'a': 1-node duration must be finite and >= 0"),
    ([("a", math.inf)], 1, [1], "trial 'a': 1-node duration must be finite and >= 0"),
])
def test_weak_scaling_grids_refuse_bad_input(grid, k, nodes, message):
    with pytest.raises(ValueError, match=message):
        sc.weak_scaling_grids(grid, k, nodes)
