"""The figures of docs/method.md as pure functions: no I/O, exact, tested with exact values."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    sd: float  # sample standard deviation; 0 for one value
    min: float
    max: float


def describe(values: Sequence[float]) -> Stats:
    if not values:
        raise ValueError("no values to describe")
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return Stats(len(values), statistics.fmean(values), sd, min(values), max(values))


def speedup(t1: float, tn: float) -> float:
    """S(N) = T(1) / T(N)."""
    return t1 / tn


def speedup_sd(t1: Stats, tn: Stats) -> float | None:
    """The sd of S = mean T(1) / mean T(N) by first-order error propagation, as hyperfine's
    "ran 1.75 ± 0.04 times faster": S x sqrt((sd1 / T1)² + (sdN / TN)²). None with one repeat
    on both sides: no spread to propagate."""
    if t1.n < 2 and tn.n < 2:
        return None
    s = t1.mean / tn.mean
    return s * math.hypot(t1.sd / t1.mean, tn.sd / tn.mean)


def efficiency(speedup_n: float, nodes: int) -> float:
    """E(N) = S(N) / N."""
    return speedup_n / nodes


def bound_makespan(durations: Sequence[float], slots: int) -> float:
    """No schedule of these trials on ``slots`` finishes sooner.

    max(max d_i, sum d_i / slots) of docs/method.md, tightened by waves: a trial is never split, so
    of the j x slots + 1 longest trials some slot runs j + 1, and the makespan is at least
    (j + 1) times the shortest of them. For G equal trials this is the G / ceil(G / slots)
    speedup (24 trials on 13 slots: 2 waves, 12x), which the first formula alone misses (13x).
    """
    ordered = sorted(durations, reverse=True)
    waves = max((j + 1) * ordered[j * slots] for j in range((len(ordered) - 1) // slots + 1))
    return max(ordered[0], sum(ordered) / slots, waves)


def bound_speedup(durations: Sequence[float], slots: int) -> float:
    """The speedup this grid allows on ``slots``: sum d_i / bound makespan."""
    return sum(durations) / bound_makespan(durations, slots)


def equal_trials_bound(trials: int, slots: int) -> float:
    """For G equal trials: G / ceil(G / slots). 24 trials on 13 slots run in 2 waves: 12x."""
    return trials / math.ceil(trials / slots)


def efficiency_vs_bound(bound: float, wall: float) -> float:
    """Bound makespan / T(N): how close the runner gets to what the grid allows."""
    return bound / wall


def overhead_per_trial(wall: float, bound: float, trials: int, slots: int) -> float:
    """(T(N) - bound makespan) / (trials per slot): what each trial cost beyond its own work."""
    return (wall - bound) / (trials / slots)


def karp_flatt(speedup_n: float, nodes: int) -> float | None:
    """Serial fraction e = (1/S - 1/N) / (1 - 1/N); undefined on one node."""
    if nodes <= 1:
        return None
    return (1 / speedup_n - 1 / nodes) / (1 - 1 / nodes)


def karp_flatt_interval(speedup_interval: tuple[float, float] | None,
                        nodes: int) -> tuple[float, float] | None:
    """The serial fraction over a speedup interval: e falls as S rises, so the interval's high
    speedup gives the low e. None without an interval, on one node, or for a speedup <= 0."""
    if speedup_interval is None:
        return None
    low_s, high_s = speedup_interval
    a = karp_flatt(high_s, nodes) if high_s > 0 else None
    b = karp_flatt(low_s, nodes) if low_s > 0 else None
    return (a, b) if a is not None and b is not None else None


def relative_error_reduction(baseline_error: float, best_error: float) -> float | None:
    """(err_baseline - err_best) / err_baseline; None when the baseline makes no error."""
    if baseline_error == 0:
        return None
    return (baseline_error - best_error) / baseline_error


def bootstrap_ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float], confidence: float = 0.95,
    resamples: int = 10_000, seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of mean(numerators) / mean(denominators), each side
    resampled on its own; None with fewer than two values on a side."""
    if len(numerators) < 2 or len(denominators) < 2:
        return None
    rng = np.random.default_rng(seed)
    a, b = np.asarray(numerators, float), np.asarray(denominators, float)
    ratios = (rng.choice(a, (resamples, len(a))).mean(axis=1)
              / rng.choice(b, (resamples, len(b))).mean(axis=1))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)
