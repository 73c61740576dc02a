"""The gate's statistics: means and percentile bootstrap intervals of a ratio (or a difference)
of two results' figures, seeded so that the same two results always get the same interval
(docs/method.md, "Repeats and intervals")."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _resampled_means(samples: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    values = np.asarray(samples, float)
    return rng.choice(values, (RESAMPLES, len(values))).mean(axis=1)


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def interval(
    a_samples: list[Sequence[float]], b_samples: list[Sequence[float]],
    statistic: Callable[[list[np.ndarray]], np.ndarray], *, difference: bool = False,
    scale: tuple[float, float] = (1.0, 1.0), offset: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of B / A (or B - A) for a figure that is
    ``scale * (statistic(means of its sample lists) - offset)``, each list resampled on its own.
    None when some list has fewer than two values: one repeat has no spread to resample."""
    if any(len(s) < 2 for s in (*a_samples, *b_samples)):
        return None
    rng = np.random.default_rng(0)
    fig_a = scale[0] * (statistic([_resampled_means(s, rng) for s in a_samples]) - offset[0])
    fig_b = scale[1] * (statistic([_resampled_means(s, rng) for s in b_samples]) - offset[1])
    return _percentiles(fig_b - fig_a if difference else fig_b / fig_a)


def paired_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """Bootstrap over trials of sum(B) / sum(A), each trial paired with itself."""
    if len(a) < 2:
        return None
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(a), (RESAMPLES, len(a)))
    return _percentiles(b[picks].sum(axis=1) / a[picks].sum(axis=1))
